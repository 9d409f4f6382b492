//! Tables of named columns (text or numbers) that are not one of the fixed
//! record kinds: source records for identity resolution, feature tables,
//! experiment results, BTYD summaries, reviewed record pairs.
//!
//! A [`TableSpec`] names the columns a program needs, their kinds and
//! whether each must be present and filled; the other header columns are
//! kept (as text or numbers) or ignored. Every row is accounted for exactly
//! as for the fixed kinds: accepted, or rejected with its line, the column at
//! fault and the reason, and `accepted + rejected == rows`.
//!
//! Columns are matched by header name case-insensitively (spaces, dashes and
//! case do not matter), then by the spec's aliases; an explicit mapping in
//! [`IngestOptions::columns`] (output name → header) takes precedence and
//! also renames a header kept among the other columns.
//!
//! ```
//! use custinsight::ingest::{Format, IngestOptions};
//! use custinsight::ingest::table::{read_table, ColumnSpec, TableSpec};
//!
//! let csv = "customer_id,score\nc1,0.5\nc2,high\n,0.1\n";
//! let spec = TableSpec::new(vec![ColumnSpec::text("customer_id").filled(), ColumnSpec::number("score")]);
//! let (table, report) = read_table(Format::Csv, csv.as_bytes(), &IngestOptions::default(), &spec)?;
//! assert_eq!((report.rows, report.accepted, report.rejected), (3, 1, 2));
//! assert_eq!(report.rejections[0].field, "score");
//! assert_eq!(table.numbers("score"), Some(&[0.5][..]));
//! # Ok::<(), custinsight::Error>(())
//! ```

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use csv::ByteRecord;
use hashbrown::HashSet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::csv::{csv_error, reader_with_header};
use super::jsonl::for_each_object;
use super::rows::{RowProblem, scalar_text};
use super::{Accounting, Format, IngestOptions, IngestReport, header_key};
use crate::error::{Error, Result};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Text, kept as it arrived (surrounding whitespace trimmed).
    Text,
    /// A finite number; a blank is missing (`NaN`).
    Number,
}

/// One column a program needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// The column's name in the table (and its header name unless mapped).
    pub name: String,
    /// Other header names it may have.
    pub aliases: Vec<String>,
    /// Text or number.
    pub kind: ColumnKind,
    /// The header must have it (otherwise the whole input is refused).
    pub required: bool,
    /// Every row must have a value (otherwise the row is rejected).
    pub filled: bool,
}

impl ColumnSpec {
    /// An optional text column.
    pub fn text(name: impl Into<String>) -> ColumnSpec {
        ColumnSpec {
            name: name.into(),
            aliases: Vec::new(),
            kind: ColumnKind::Text,
            required: false,
            filled: false,
        }
    }

    /// An optional number column.
    pub fn number(name: impl Into<String>) -> ColumnSpec {
        ColumnSpec {
            kind: ColumnKind::Number,
            ..ColumnSpec::text(name)
        }
    }

    /// The header must have the column and every row a value in it.
    pub fn filled(mut self) -> ColumnSpec {
        self.required = true;
        self.filled = true;
        self
    }

    /// The header must have the column (values may be blank).
    pub fn required(mut self) -> ColumnSpec {
        self.required = true;
        self
    }

    /// Other header names the column may have.
    pub fn aliases(mut self, aliases: &[&str]) -> ColumnSpec {
        self.aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
        self
    }
}

/// The columns of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    /// The named columns, in output order.
    pub columns: Vec<ColumnSpec>,
    /// Header columns not named in `columns`: kept after them with this
    /// kind, in header order, or ignored (`None`).
    pub others: Option<ColumnKind>,
    /// Positions in `columns` whose values together must be unique: a row
    /// repeating an earlier row's values there is rejected.
    pub unique: Vec<usize>,
}

impl TableSpec {
    /// These columns, others ignored, no uniqueness.
    pub fn new(columns: Vec<ColumnSpec>) -> TableSpec {
        TableSpec {
            columns,
            others: None,
            unique: Vec::new(),
        }
    }

    /// Keep the other header columns with this kind.
    pub fn keep_others(mut self, kind: ColumnKind) -> TableSpec {
        self.others = Some(kind);
        self
    }

    /// The values of these columns (by name) must be unique together.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a name not among the columns.
    pub fn unique(mut self, names: &[&str]) -> Result<TableSpec> {
        self.unique = names
            .iter()
            .map(|n| {
                self.columns
                    .iter()
                    .position(|c| c.name == *n)
                    .ok_or_else(|| Error::param("unique", n, "not a column of the spec"))
            })
            .collect::<Result<_>>()?;
        Ok(self)
    }

    /// Checks the columns: each named, no name twice, unique positions in range.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first problem.
    pub fn check(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for c in &self.columns {
            if c.name.trim().is_empty() {
                return Err(Error::param("columns", "", "a column needs a name"));
            }
            if !seen.insert(header_key(&c.name)) {
                return Err(Error::param("columns", &c.name, "named twice"));
            }
        }
        if let Some(&u) = self.unique.iter().find(|&&u| u >= self.columns.len()) {
            return Err(Error::param("unique", u, "not a column position"));
        }
        Ok(())
    }
}

/// One column's values, one per accepted row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "values")]
pub enum TableColumn {
    /// Text values (`None` for a blank).
    Text(Vec<Option<String>>),
    /// Numbers (`NaN` for a blank).
    Number(Vec<f64>),
}

impl TableColumn {
    fn new(kind: ColumnKind) -> TableColumn {
        match kind {
            ColumnKind::Text => TableColumn::Text(Vec::new()),
            ColumnKind::Number => TableColumn::Number(Vec::new()),
        }
    }

    /// An empty column of the same kind.
    fn emptied(&self) -> TableColumn {
        match self {
            TableColumn::Text(_) => TableColumn::Text(Vec::new()),
            TableColumn::Number(_) => TableColumn::Number(Vec::new()),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            TableColumn::Text(v) => v.len(),
            TableColumn::Number(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The accepted rows of a table, columnar, with the line each came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    names: Vec<String>,
    columns: Vec<TableColumn>,
    lines: Vec<u64>,
}

impl Table {
    /// Column names, in order: the spec's columns, then the others kept.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The 1-based input line of every row.
    pub fn lines(&self) -> &[u64] {
        &self.lines
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&TableColumn> {
        let i = self.names.iter().position(|n| n == name)?;
        self.columns.get(i)
    }

    /// Every column, in the order of [`names`](Self::names).
    pub fn columns(&self) -> &[TableColumn] {
        &self.columns
    }

    /// A text column's values by name (`None` when absent or numeric).
    pub fn texts(&self, name: &str) -> Option<&[Option<String>]> {
        match self.column(name)? {
            TableColumn::Text(v) => Some(v),
            TableColumn::Number(_) => None,
        }
    }

    /// A number column's values by name (`None` when absent or text).
    pub fn numbers(&self, name: &str) -> Option<&[f64]> {
        match self.column(name)? {
            TableColumn::Number(v) => Some(v),
            TableColumn::Text(_) => None,
        }
    }

    /// The table's parts: names, columns and lines.
    pub fn into_parts(self) -> (Vec<String>, Vec<TableColumn>, Vec<u64>) {
        (self.names, self.columns, self.lines)
    }
}

/// One row's values, by output column, as the reader hands them to a validator.
pub(crate) struct RowValues<'a> {
    pub(crate) names: &'a [String],
    pub(crate) kinds: &'a [ColumnKind],
    pub(crate) values: &'a [Option<Cow<'a, str>>],
}

/// Where each output column comes from in the input.
struct Layout {
    /// Output column names.
    names: Vec<String>,
    kinds: Vec<ColumnKind>,
    filled: Vec<bool>,
}

/// Output column → header position, for a CSV header (or the key names of a JSON object).
fn layout_columns(
    headers: &[String],
    spec: &TableSpec,
    opts: &IngestOptions,
) -> Result<(Layout, Vec<Option<usize>>)> {
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let find = |wanted: &str| keys.iter().position(|k| *k == header_key(wanted));
    // Explicit mappings first: output name → header.
    let mut renamed: Vec<Option<String>> = vec![None; headers.len()];
    for (name, header) in &opts.columns {
        let at = find(header).ok_or_else(|| Error::MissingColumns {
            table: format!("table header (column mapped to `{name}`)"),
            columns: vec![header.clone()],
        })?;
        renamed[at] = Some(name.clone());
    }
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    let mut filled = Vec::new();
    let mut positions = Vec::new();
    let mut used = vec![false; headers.len()];
    let mut missing = Vec::new();
    for c in &spec.columns {
        let mapped = renamed
            .iter()
            .position(|r| r.as_deref() == Some(c.name.as_str()));
        let position = mapped.or_else(|| {
            let by_name = |n: &str| {
                keys.iter()
                    .enumerate()
                    .position(|(i, k)| *k == header_key(n) && renamed[i].is_none() && !used[i])
            };
            by_name(&c.name).or_else(|| c.aliases.iter().find_map(|a| by_name(a)))
        });
        if let Some(p) = position {
            used[p] = true;
        } else if c.required {
            missing.push(c.name.clone());
        }
        names.push(c.name.clone());
        kinds.push(c.kind);
        filled.push(c.filled);
        positions.push(position);
    }
    if !missing.is_empty() {
        return Err(Error::MissingColumns {
            table: "table header".to_owned(),
            columns: missing,
        });
    }
    if let Some(kind) = spec.others {
        for (i, h) in headers.iter().enumerate() {
            if used[i] || h.trim().is_empty() {
                continue;
            }
            let name = renamed[i].clone().unwrap_or_else(|| h.trim().to_owned());
            if names.iter().any(|n| header_key(n) == header_key(&name)) {
                return Err(Error::duplicate(
                    format!("header column names ({})", headers.join(",")),
                    name,
                ));
            }
            names.push(name);
            kinds.push(kind);
            filled.push(false);
            positions.push(Some(i));
        }
    }
    Ok((
        Layout {
            names,
            kinds,
            filled,
        },
        positions,
    ))
}

/// Checks one row's values against the layout: filled columns have a
/// value, numbers parse, the unique key is new. Returns the numbers parsed.
fn validate(
    layout: &Layout,
    values: &[Option<Cow<'_, str>>],
    unique: &[usize],
    seen: &mut HashSet<Box<str>>,
) -> std::result::Result<Vec<f64>, RowProblem> {
    let mut numbers = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let name = &layout.names[i];
        if layout.filled[i] && v.is_none() {
            return Err(RowProblem::new(name, "missing value"));
        }
        if layout.kinds[i] == ColumnKind::Number {
            numbers.push(match v {
                None => f64::NAN,
                Some(text) => parse_number(text).map_err(|r| RowProblem::new(name, r))?,
            });
        }
    }
    if !unique.is_empty() {
        let key: String = unique
            .iter()
            .map(|&u| values.get(u).and_then(|v| v.as_deref()).unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\u{1f}");
        if seen.contains(key.as_str()) {
            let field = unique
                .last()
                .and_then(|&u| layout.names.get(u))
                .map_or("row", String::as_str);
            let shown: Vec<&str> = unique
                .iter()
                .map(|&u| values.get(u).and_then(|v| v.as_deref()).unwrap_or(""))
                .collect();
            return Err(RowProblem::new(
                field,
                format!("duplicate `{}`", shown.join(":")),
            ));
        }
        seen.insert(key.into());
    }
    Ok(numbers)
}

/// A finite number, as Rust parses `f64` (no thousands separators).
fn parse_number(text: &str) -> std::result::Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!("not a finite number: `{}`", text.trim())),
        Err(_) => Err(format!("not a number: `{}`", text.trim())),
    }
}

/// Reads a table, handing each row that passes the spec to `accept` (which
/// may still reject it) and keeping the account.
pub(crate) fn for_each_row<R: Read>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    spec: &TableSpec,
    mut accept: impl FnMut(u64, &RowValues<'_>, &[f64]) -> Result<std::result::Result<(), RowProblem>>,
) -> Result<(Vec<String>, Vec<ColumnKind>, IngestReport)> {
    opts.check_basic()?;
    spec.check()?;
    let mut account = Accounting::new(opts);
    let mut seen: HashSet<Box<str>> = HashSet::new();
    let mut handle = |layout: &Layout,
                      line: u64,
                      values: std::result::Result<Vec<Option<Cow<'_, str>>>, RowProblem>,
                      account: &mut Accounting<'_>|
     -> Result<()> {
        let outcome = match values {
            Err(p) => Err(p),
            Ok(values) => match validate(layout, &values, &spec.unique, &mut seen) {
                Err(p) => Err(p),
                Ok(numbers) => accept(
                    line,
                    &RowValues {
                        names: &layout.names,
                        kinds: &layout.kinds,
                        values: &values,
                    },
                    &numbers,
                )?,
            },
        };
        account.record(line, outcome)
    };
    let layout = match format {
        Format::Csv => {
            let (mut reader, headers) = reader_with_header(input, opts)?;
            let (layout, positions) = layout_columns(&headers, spec, opts)?;
            let mut record = ByteRecord::new();
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => return Err(csv_error(e, "row")),
                }
                let start = record.position().map_or(0, |p| p.byte());
                let line = reader.get_mut().record_line(start);
                let values = if record.len() != headers.len() {
                    Err(RowProblem::new(
                        "row",
                        format!("expected {} fields, found {}", headers.len(), record.len()),
                    ))
                } else {
                    csv_values(&record, &positions, &layout.names)
                };
                handle(&layout, line, values, &mut account)?;
            }
            layout
        }
        Format::JsonLines => {
            // JSON objects have no header: the layout comes from the first object's keys
            // (later objects are read by the same names, their other keys ignored).
            let mut layout: Option<(Layout, Vec<String>)> = None;
            for_each_object(input, |line, object| {
                let object = match object {
                    Ok(object) => object,
                    Err(problem) => return account.record(line, Err(problem)),
                };
                if layout.is_none() {
                    let keys: Vec<String> = object.keys().cloned().collect();
                    let (l, positions) = layout_columns(&keys, spec, opts)?;
                    let sources = positions
                        .iter()
                        .map(|p| p.and_then(|p| keys.get(p).cloned()).unwrap_or_default())
                        .collect();
                    layout = Some((l, sources));
                }
                let Some((l, sources)) = layout.as_ref() else {
                    return Ok(());
                };
                let values = json_values(&object, sources, &l.names);
                handle(l, line, values, &mut account)
            })?;
            match layout {
                Some((l, _)) => l,
                None => layout_columns(&[], spec, opts)?.0,
            }
        }
    };
    Ok((layout.names, layout.kinds, account.report))
}

fn csv_values<'a>(
    record: &'a ByteRecord,
    positions: &[Option<usize>],
    names: &[String],
) -> std::result::Result<Vec<Option<Cow<'a, str>>>, RowProblem> {
    positions
        .iter()
        .zip(names)
        .map(|(p, name)| {
            let Some(bytes) = p.and_then(|p| record.get(p)) else {
                return Ok(None);
            };
            let text = std::str::from_utf8(bytes).map_err(|e| {
                RowProblem::new(name, format!("invalid UTF-8 at byte {}", e.valid_up_to()))
            })?;
            let trimmed = super::parse::trim(text);
            Ok((!trimmed.is_empty()).then_some(Cow::Borrowed(trimmed)))
        })
        .collect()
}

fn json_values<'a>(
    object: &'a serde_json::Map<String, Value>,
    keys: &[String],
    names: &[String],
) -> std::result::Result<Vec<Option<Cow<'a, str>>>, RowProblem> {
    keys.iter()
        .zip(names)
        .map(|(key, name)| match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let t = super::parse::trim(s);
                Ok((!t.is_empty()).then_some(Cow::Borrowed(t)))
            }
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(scalar_text(v).map(Cow::Owned)),
            Some(_) => Err(RowProblem::new(
                name,
                "expected a string or number, found a nested value",
            )),
        })
        .collect()
}

/// Reads a table: every row that passes the spec is kept, every other is
/// rejected with its line, column and reason.
///
/// # Errors
/// [`Error::EmptyInput`] for a CSV input without a header row,
/// [`Error::InvalidValue`] for an unreadable header, [`Error::MissingColumns`]
/// for a missing required column or a mapping to a header that is not there;
/// [`Error::Io`] for read failures; [`Error::Rejected`] in strict mode; [`Error::InvalidParameter`]
/// for a spec that names a column twice.
pub fn read_table<R: Read>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    spec: &TableSpec,
) -> Result<(Table, IngestReport)> {
    let mut whole = None;
    let report = read_table_chunks(format, input, opts, spec, usize::MAX, |table| {
        whole = Some(table);
        Ok(())
    })?;
    Ok((whole.unwrap_or_default(), report))
}

/// Reads a table in chunks of at most `chunk_rows` accepted rows, handing
/// each to `on_chunk` as it fills (and the last, partial one at the end; at
/// least one chunk, empty for an input without accepted rows), so a file of
/// any length is read in bounded memory. The account covers the whole input.
///
/// # Errors
/// As [`read_table`], with [`Error::InvalidParameter`] for `chunk_rows` = 0;
/// `on_chunk`'s error stops the reading and is returned.
pub fn read_table_chunks<R: Read>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    spec: &TableSpec,
    chunk_rows: usize,
    mut on_chunk: impl FnMut(Table) -> Result<()>,
) -> Result<IngestReport> {
    if chunk_rows == 0 {
        return Err(Error::param("chunk_rows", 0, "must be at least 1"));
    }
    let mut columns: Vec<TableColumn> = Vec::new();
    let mut lines = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let (all_names, kinds, report) =
        for_each_row(format, input, opts, spec, |line, row, numbers| {
            if columns.is_empty() {
                // The layout is known once the first row arrives (JSON Lines has no header).
                columns = row.kinds.iter().map(|&k| TableColumn::new(k)).collect();
                names = row.names.to_vec();
            }
            let mut number = numbers.iter();
            for (column, value) in columns.iter_mut().zip(row.values) {
                match column {
                    TableColumn::Text(v) => v.push(value.as_deref().map(str::to_owned)),
                    TableColumn::Number(v) => v.push(number.next().copied().unwrap_or(f64::NAN)),
                }
            }
            lines.push(line);
            if lines.len() >= chunk_rows {
                let fresh = columns.iter().map(TableColumn::emptied).collect();
                on_chunk(Table {
                    names: names.clone(),
                    columns: std::mem::replace(&mut columns, fresh),
                    lines: std::mem::take(&mut lines),
                })?;
            }
            Ok(Ok(()))
        })?;
    if !lines.is_empty() || report.accepted == 0 {
        if columns.len() != all_names.len() {
            // No row was accepted: the columns come from the layout.
            columns = kinds.iter().map(|&k| TableColumn::new(k)).collect();
        }
        on_chunk(Table {
            names: all_names,
            columns,
            lines,
        })?;
    }
    Ok(report)
}

/// [`read_table_chunks`] on a file (format from its extension).
///
/// # Errors
/// As [`read_table_chunks`], plus [`Error::Io`] when the file cannot be opened.
pub fn read_table_file_chunks(
    path: impl AsRef<Path>,
    opts: &IngestOptions,
    spec: &TableSpec,
    chunk_rows: usize,
    on_chunk: impl FnMut(Table) -> Result<()>,
) -> Result<IngestReport> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    read_table_chunks(
        Format::from_path(path),
        file,
        opts,
        spec,
        chunk_rows,
        on_chunk,
    )
}

/// Reads a table file (format from its extension).
///
/// # Errors
/// As [`read_table`], plus [`Error::Io`] when the file cannot be opened.
pub fn read_table_file(
    path: impl AsRef<Path>,
    opts: &IngestOptions,
    spec: &TableSpec,
) -> Result<(Table, IngestReport)> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    read_table(Format::from_path(path), file, opts, spec)
}
