//! CSV row source: header-named columns, configurable mapping and delimiter.

use std::borrow::Cow;
use std::io::Read;

use csv::ByteRecord;

use super::rows::{Fields, RowProblem};
use super::{IngestOptions, RowHandler, Schema, resolve_column};
use crate::error::{Error, Result};

struct CsvRow<'a> {
    record: &'a ByteRecord,
    /// Column index per schema field, in schema order.
    columns: &'a [Option<usize>],
    schema: &'a Schema,
    /// (header name, column index) of columns outside the schema.
    extras: &'a [(String, usize)],
}

fn field_text(bytes: Option<&[u8]>) -> Result<Option<Cow<'_, str>>, String> {
    let Some(bytes) = bytes else { return Ok(None) };
    let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    let trimmed = text.trim();
    Ok(if trimmed.is_empty() { None } else { Some(Cow::Borrowed(trimmed)) })
}

impl Fields for CsvRow<'_> {
    fn text(&self, field: &'static str) -> Result<Option<Cow<'_, str>>, String> {
        let column = self.schema.position(field).and_then(|i| self.columns.get(i).copied().flatten());
        field_text(column.and_then(|c| self.record.get(c)))
    }

    fn extras(&self) -> Vec<(String, Result<String, String>)> {
        self.extras
            .iter()
            .map(|(name, c)| {
                let text = field_text(self.record.get(*c)).map(|t| t.map(Cow::into_owned).unwrap_or_default());
                (name.clone(), text)
            })
            .collect()
    }
}

/// Reads every CSV record, handing each to `handle` with its 1-based line.
pub(crate) fn for_each_row<R: Read>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    handle: &mut RowHandler<'_>,
) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(input);
    let mut header = ByteRecord::new();
    let has_header = reader.read_byte_record(&mut header).map_err(|e| csv_error(e, "header"))?;
    if !has_header {
        return Err(Error::InvalidInput("empty input: no header row".into()));
    }
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let raw = if i == 0 { raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw) } else { raw };
            std::str::from_utf8(raw)
                .map(|s| s.trim().to_owned())
                .map_err(|_| Error::InvalidInput(format!("header column {} is not valid UTF-8", i + 1)))
        })
        .collect::<Result<_>>()?;
    let columns: Vec<Option<usize>> =
        schema.fields.iter().map(|f| resolve_column(f, &names, opts)).collect();
    let missing: Vec<&str> = schema
        .required(opts)
        .filter(|f| schema.position(f).and_then(|i| columns[i]).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidInput(format!(
            "missing required column(s) {} (header: {})",
            missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
            names.join(","),
        )));
    }
    let extras: Vec<(String, usize)> = names
        .iter()
        .enumerate()
        .filter(|(i, n)| !columns.contains(&Some(*i)) && !n.is_empty())
        .map(|(i, n)| (n.clone(), i))
        .collect();
    let width = names.len();
    let mut record = ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(e, "row")),
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != width {
            let problem = RowProblem::new("row", format!("expected {width} fields, found {}", record.len()));
            handle(line, Err(problem))?;
            continue;
        }
        let row = CsvRow { record: &record, columns: &columns, schema, extras: &extras };
        handle(line, Ok(&row))?;
    }
    Ok(())
}

fn csv_error(e: csv::Error, what: &str) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(format!("csv {what}"), io),
        other => Error::InvalidInput(format!("csv {what}: {other:?}")),
    }
}
