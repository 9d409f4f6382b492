//! Source customer records, as the systems that hold them export them.
//!
//! Each row is one record of one source system: the system (`source`), the
//! record's key there (`source_key`; also read from `key`, `record_id`,
//! `customer_id` or `id`) and any identity columns, kept as raw text for
//! identity resolution to cleanse and compare. The records land in
//! [`SourceRecords`], one table per source system. A row without a source
//! takes [`IngestOptions::default_source`](super::IngestOptions::default_source).
//!
//! | rule | field | reason |
//! |---|---|---|
//! | no key | `source_key` | `missing value` |
//! | no source and no default source | `source` | `missing value` |
//! | a source name with `:` or a control character | `source` | `a source name cannot contain …` |
//! | a key with a control character | `source_key` | `contains a control character` |
//! | the same source and key twice | `source_key` | ``duplicate source record `webshop:42` `` |
//! | wrong number of fields, invalid UTF-8 | `row` or the column | as for every input |

use std::io::Read;
use std::path::Path;

use super::rows::RowProblem;
use super::table::{ColumnKind, ColumnSpec, TableSpec, for_each_row};
use super::{Format, IngestOptions, IngestReport};
use crate::error::{Error, Result};
use crate::identity::table::SourceRecords;

/// The source system column.
const SOURCE: &str = "source";
/// The record key column.
const SOURCE_KEY: &str = "source_key";

fn spec() -> TableSpec {
    TableSpec::new(vec![
        ColumnSpec::text(SOURCE).aliases(&["system", "source_system"]),
        ColumnSpec::text(SOURCE_KEY).filled().aliases(&[
            "key",
            "record_id",
            "record_key",
            "customer_id",
            "id",
        ]),
    ])
    .keep_others(ColumnKind::Text)
}

/// Reads source records into `records` (new sources get a table, new
/// identity columns are added to every table).
///
/// # Errors
/// [`Error::MissingColumns`] for no key column, [`Error::EmptyInput`] or
/// [`Error::InvalidValue`] for a missing or unreadable header;
/// [`Error::Io`] for read failures; [`Error::Rejected`] in strict mode.
///
/// ```
/// use custinsight::identity::table::SourceRecords;
/// use custinsight::ingest::{self, Format, IngestOptions};
///
/// let csv = "source,source_key,name,email\n\
///            webshop,W1,Ann Lee,ann@example.org\n\
///            loyalty,L7,ANN LEE,\n\
///            loyalty,L7,Ann,ann@example.org\n";
/// let mut records = SourceRecords::new();
/// let report = ingest::source_records(Format::Csv, csv.as_bytes(), &IngestOptions::default(), &mut records)?;
/// assert_eq!((report.accepted, report.rejected), (2, 1));
/// assert_eq!(report.rejections[0].reason, "duplicate source record `loyalty:L7`");
/// assert_eq!(records.sources(), ["webshop", "loyalty"]);
/// assert_eq!(records.table("loyalty").unwrap().ids(), ["loyalty:L7"]);
/// # Ok::<(), custinsight::Error>(())
/// ```
pub fn source_records<R: Read>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    records: &mut SourceRecords,
) -> Result<IngestReport> {
    let mut identity_columns: Option<Vec<String>> = None;
    let (_, _, report) = for_each_row(format, input, opts, &spec(), |_, row, _| {
        let columns = identity_columns.get_or_insert_with(|| row.names[2..].to_vec());
        let source = match row.values[0].as_deref().or(opts.default_source.as_deref()) {
            Some(s) => s,
            None => return Ok(Err(RowProblem::new(SOURCE, "missing value"))),
        };
        if let Err(reason) = crate::records::check_source_name(source) {
            return Ok(Err(RowProblem::new(SOURCE, reason)));
        }
        let key = row.values[1].as_deref().unwrap_or("");
        if key.chars().any(char::is_control) {
            return Ok(Err(RowProblem::new(
                SOURCE_KEY,
                "contains a control character",
            )));
        }
        let values = row.values[2..]
            .iter()
            .map(|v| v.as_deref().map(str::to_owned))
            .collect();
        match records.push(source, key, columns, values) {
            Ok(()) => Ok(Ok(())),
            Err(Error::DuplicateCustomerId(reference)) => Ok(Err(RowProblem::new(
                SOURCE_KEY,
                format!("duplicate source record `{reference}`"),
            ))),
            Err(Error::InvalidValue { reason, .. }) => Ok(Err(RowProblem::new(SOURCE_KEY, reason))),
            Err(e) => Err(e),
        }
    })?;
    // A file without rows still brings its columns.
    if let Some(columns) = identity_columns {
        records.ensure_columns(&columns)?;
    }
    Ok(report)
}

/// Reads a source records file (format from its extension).
///
/// # Errors
/// As [`source_records`], plus [`Error::Io`] when the file cannot be opened.
pub fn read_source_records(
    path: impl AsRef<Path>,
    opts: &IngestOptions,
) -> Result<(SourceRecords, IngestReport)> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let mut records = SourceRecords::new();
    let report = source_records(Format::from_path(path), file, opts, &mut records)?;
    Ok((records, report))
}
