//! CSV row source: header-named columns, configurable mapping and delimiter.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, Read};

use csv::ByteRecord;

use super::rows::{FIELD_NAMES, Field, Fields, RowProblem, name};
use super::{IngestOptions, RowHandler, Schema, resolve_column};
use crate::error::{Error, Result};

/// One CSV record: parsed by the csv crate, or a line without quotes split at its delimiters.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "parallel"), allow(dead_code))]
pub(crate) enum Record<'a> {
    Parsed(&'a ByteRecord),
    /// The line (without its terminator) and each field's (start, end) in it.
    Line {
        bytes: &'a [u8],
        spans: &'a [(u32, u32)],
    },
}

impl<'a> Record<'a> {
    fn len(self) -> usize {
        match self {
            Record::Parsed(r) => r.len(),
            Record::Line { spans, .. } => spans.len(),
        }
    }

    /// The record's bytes, in which [`range`](Self::range) locates each field.
    fn as_slice(self) -> &'a [u8] {
        match self {
            Record::Parsed(r) => r.as_slice(),
            Record::Line { bytes, .. } => bytes,
        }
    }

    fn range(self, i: usize) -> Option<std::ops::Range<usize>> {
        match self {
            Record::Parsed(r) => r.range(i),
            Record::Line { spans, .. } => spans.get(i).map(|&(a, b)| a as usize..b as usize),
        }
    }

    fn get(self, i: usize) -> Option<&'a [u8]> {
        self.range(i).and_then(|r| self.as_slice().get(r))
    }
}

pub(crate) struct CsvRow<'a> {
    record: Record<'a>,
    /// The whole record as text when it is valid UTF-8 (the common case: one
    /// validation per record instead of one per field).
    /// Worked out on first use: rows read by a short path never need it.
    text: std::cell::OnceCell<Option<&'a str>>,
    /// Column index per canonical field (indexed by [`Field`]).
    columns: &'a [Option<usize>],
    /// (header name, column index) of columns outside the schema.
    extras: &'a [(String, usize)],
}

fn field_text(bytes: Option<&[u8]>) -> Result<Option<Cow<'_, str>>, String> {
    let Some(bytes) = bytes else { return Ok(None) };
    let inner = bytes.trim_ascii();
    let offset = inner.as_ptr() as usize - bytes.as_ptr() as usize;
    let text = std::str::from_utf8(inner)
        .map_err(|e| format!("invalid UTF-8 at byte {}", offset + e.valid_up_to()))?;
    let trimmed = super::parse::trim(text);
    Ok(if trimmed.is_empty() {
        None
    } else {
        Some(Cow::Borrowed(trimmed))
    })
}

impl CsvRow<'_> {
    /// The bytes of field `column` as read (untrimmed, not checked for UTF-8).
    #[cfg(feature = "parallel")]
    pub(crate) fn raw(&self, column: usize) -> Option<&[u8]> {
        self.record.get(column)
    }
}

impl Fields for CsvRow<'_> {
    fn text(&self, field: Field) -> Result<Option<Cow<'_, str>>, String> {
        let Some(column) = self.columns.get(field).copied().flatten() else {
            return Ok(None);
        };
        let text = *self
            .text
            .get_or_init(|| std::str::from_utf8(self.record.as_slice()).ok());
        if let Some(text) = text {
            let value = self
                .record
                .range(column)
                .and_then(|r| text.get(r))
                .unwrap_or("");
            let trimmed = super::parse::trim(value);
            return Ok(if trimmed.is_empty() {
                None
            } else {
                Some(Cow::Borrowed(trimmed))
            });
        }
        field_text(self.record.get(column))
    }

    fn extras(&self) -> Vec<(String, Result<String, String>)> {
        self.extras
            .iter()
            .map(|(name, c)| {
                let text = field_text(self.record.get(*c))
                    .map(|t| t.map(Cow::into_owned).unwrap_or_default());
                (name.clone(), text)
            })
            .collect()
    }
}

/// The input, with a note of where its line breaks are.
///
/// The csv crate's `Position::line` counts only the `\n` bytes its parser has
/// consumed, and a record's position is taken before the parser skips the `\n`
/// of the previous record's `\r\n` and any blank lines (BurntSushi/rust-csv#395),
/// so its line numbers drift on CRLF input and after blank lines. This wrapper
/// keeps the offsets of `\r` and `\n` bytes not yet passed (bounded by the
/// reader's buffer plus one record), so each record's first line is exact.
pub(crate) struct LineBreaks<R> {
    inner: R,
    /// Bytes read from `inner` so far.
    read: u64,
    /// Offsets of the `\r` and `\n` bytes at or after the last record start, with whether each is `\n`.
    pending: VecDeque<(u64, bool)>,
    /// Line breaks (`\n`, `\r\n` or a lone `\r`) before the last record start.
    passed: u64,
}

impl<R> LineBreaks<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineBreaks {
            inner,
            read: 0,
            pending: VecDeque::new(),
            passed: 0,
        }
    }

    /// Whether pending byte `i` ends a line (a `\r` followed by `\n` does not; its `\n` does).
    fn is_break(&self, i: usize) -> bool {
        let (offset, newline) = self.pending[i];
        newline || self.pending.get(i + 1) != Some(&(offset + 1, true))
    }

    /// The 1-based line of the record whose parse began at byte `start` (which
    /// must not precede the previous call's): the line breaks before `start`,
    /// plus those in the run of `\r`/`\n` the parser skipped there.
    pub(crate) fn record_line(&mut self, start: u64) -> u64 {
        while self
            .pending
            .front()
            .is_some_and(|&(offset, _)| offset < start)
        {
            self.passed += u64::from(self.is_break(0));
            self.pending.pop_front();
        }
        let mut skipped = 0;
        let mut i = 0;
        while self
            .pending
            .get(i)
            .is_some_and(|&(offset, _)| offset == start + i as u64)
        {
            skipped += u64::from(self.is_break(i));
            i += 1;
        }
        1 + self.passed + skipped
    }
}

impl<R: Read> Read for LineBreaks<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = self.read;
        let bytes = buf.get(..n).unwrap_or(&[]);
        self.pending.extend(
            memchr::memchr2_iter(b'\r', b'\n', bytes).map(|i| (read + i as u64, bytes[i] == b'\n')),
        );
        self.read += n as u64;
        Ok(n)
    }
}

/// A CSV input positioned after its header, with the header's column mapping.
pub(crate) struct Opened<R> {
    pub(crate) records: Records<R>,
    pub(crate) header: Header,
}

/// The records after the header, each with its 1-based line.
pub(crate) struct Records<R> {
    reader: csv::Reader<LineBreaks<R>>,
    /// Lines of the whole input before the reader's first byte.
    lines_before: u64,
}

/// Where each canonical field is, and how wide a row must be.
pub(crate) struct Header {
    /// Column index per canonical field (indexed by [`Field`]).
    pub(crate) columns: Vec<Option<usize>>,
    /// (header name, column index) of columns outside the schema.
    pub(crate) extras: Vec<(String, usize)>,
    pub(crate) width: usize,
}

/// The csv crate's reader of records, line numbers kept.
fn csv_reader<R: Read>(input: R, opts: &IngestOptions) -> csv::Reader<LineBreaks<R>> {
    csv::ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(LineBreaks::new(input))
}

/// A CSV reader over `input` (line numbers kept) and its header's names
/// (byte-order mark dropped, trimmed).
///
/// # Errors
/// [`Error::EmptyInput`] for an input without a header row;
/// [`Error::InvalidValue`] for a header that is not UTF-8; [`Error::Io`]
/// when it cannot be read.
pub(crate) fn reader_with_header<R: Read>(
    input: R,
    opts: &IngestOptions,
) -> Result<(csv::Reader<LineBreaks<R>>, Vec<String>)> {
    let mut reader = csv_reader(input, opts);
    let mut header = ByteRecord::new();
    let has_header = reader
        .read_byte_record(&mut header)
        .map_err(|e| csv_error(e, "header"))?;
    if !has_header {
        return Err(Error::empty("csv input: no header row"));
    }
    let names = header
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let raw = if i == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
            } else {
                raw
            };
            std::str::from_utf8(raw)
                .map(|s| s.trim().to_owned())
                .map_err(|_| {
                    Error::value(
                        "header column",
                        String::from_utf8_lossy(raw),
                        format!("column {} is not valid UTF-8", i + 1),
                    )
                })
        })
        .collect::<Result<_>>()?;
    Ok((reader, names))
}

/// Opens a CSV input: reads and checks the header.
pub(crate) fn open<R: Read>(input: R, opts: &IngestOptions, schema: &Schema) -> Result<Opened<R>> {
    let (reader, names) = reader_with_header(input, opts)?;
    Ok(Opened {
        records: Records {
            reader,
            lines_before: 0,
        },
        header: Header::new(&names, opts, schema)?,
    })
}

impl Header {
    /// The mapping of a header's `names` to `schema`'s fields.
    ///
    /// # Errors
    /// [`Error::MissingColumns`] when a required column is absent.
    pub(crate) fn new(names: &[String], opts: &IngestOptions, schema: &Schema) -> Result<Header> {
        let mut columns: Vec<Option<usize>> = vec![None; FIELD_NAMES.len()];
        for &f in schema.fields {
            columns[f] = resolve_column(name(f), names, opts);
        }
        let missing: Vec<String> = schema
            .required(opts)
            .filter(|&f| columns[f].is_none())
            .map(|f| name(f).to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingColumns {
                table: schema.name.to_owned(),
                columns: missing,
            });
        }
        let extras: Vec<(String, usize)> = names
            .iter()
            .enumerate()
            .filter(|(i, n)| !columns.contains(&Some(*i)) && !n.is_empty())
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Ok(Header {
            columns,
            extras,
            width: names.len(),
        })
    }
}

/// The header's names read from `line`, a whole first line without quotes
/// (as [`reader_with_header`] reads them).
#[cfg(feature = "parallel")]
pub(crate) fn header_names(line: &[u8], opts: &IngestOptions) -> Result<Vec<String>> {
    reader_with_header(line, opts).map(|(_, names)| names)
}

#[cfg(feature = "parallel")]
impl<R: Read> Records<R> {
    /// Records of `input`, which starts at a record boundary on line `line` of the whole input
    /// (the header already read).
    pub(crate) fn resume(input: R, opts: &IngestOptions, line: u64) -> Self {
        Records {
            reader: csv_reader(input, opts),
            lines_before: line.saturating_sub(1),
        }
    }
}

impl<R: Read> Records<R> {
    /// Reads the next record and its 1-based line; `None` at the end.
    pub(crate) fn next_record(&mut self, record: &mut ByteRecord) -> Result<Option<u64>> {
        match self.reader.read_byte_record(record) {
            Ok(true) => {
                let start = record.position().map_or(0, |p| p.byte());
                Ok(Some(
                    self.lines_before + self.reader.get_mut().record_line(start),
                ))
            }
            Ok(false) => Ok(None),
            Err(e) => Err(csv_error(e, "row")),
        }
    }
}

impl Header {
    /// The row view of a record, or the whole-row problem of a wrong width.
    pub(crate) fn row<'a>(
        &'a self,
        record: Record<'a>,
    ) -> std::result::Result<CsvRow<'a>, RowProblem> {
        if record.len() != self.width {
            return Err(RowProblem::new(
                "row",
                format!("expected {} fields, found {}", self.width, record.len()),
            ));
        }
        let text = std::cell::OnceCell::new();
        Ok(CsvRow {
            record,
            text,
            columns: &self.columns,
            extras: &self.extras,
        })
    }
}

/// Reads every CSV record, handing each to `handle` with its 1-based line.
pub(crate) fn for_each_row<R: Read>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    handle: &mut RowHandler<'_>,
) -> Result<()> {
    let Opened {
        mut records,
        header,
    } = open(input, opts, schema)?;
    let mut record = ByteRecord::new();
    while let Some(line) = records.next_record(&mut record)? {
        match header.row(Record::Parsed(&record)) {
            Ok(row) => handle(line, Ok(&row))?,
            Err(problem) => handle(line, Err(problem))?,
        }
    }
    Ok(())
}

pub(crate) fn csv_error(e: csv::Error, what: &str) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(format!("csv {what}"), io),
        other => Error::value(
            "csv input",
            format!("{other:?}"),
            format!("cannot be read as the csv {what}"),
        ),
    }
}
