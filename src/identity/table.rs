//! Source records as identity resolution sees them: an id and a row of
//! optional text values per record, one table per source.
//!
//! Raw values are kept as they arrived; every later step (normalising,
//! blocking, comparing) derives its own values from them, so a golden record
//! can always name the raw value and the record it came from.

use hashbrown::HashSet;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::synth::SourceCustomerRecord;

/// Records of one source: named columns, one id and one row per record.
///
/// Record `i` is addressed by its position (`0..len()`); ids are unique
/// within a table. An empty or all-whitespace value is stored as `None`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordTable {
    columns: Vec<String>,
    ids: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
    #[serde(skip)]
    seen: HashSet<String>,
}

impl PartialEq for RecordTable {
    fn eq(&self, other: &Self) -> bool {
        self.columns == other.columns && self.ids == other.ids && self.rows == other.rows
    }
}

impl Eq for RecordTable {}

impl RecordTable {
    /// An empty table with these columns (the id is not a column).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty or repeated column name.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Result<RecordTable> {
        let columns: Vec<String> = columns.into_iter().map(Into::into).collect();
        let mut names: HashSet<&str> = HashSet::new();
        for c in &columns {
            if c.trim().is_empty() {
                return Err(Error::InvalidInput("empty column name".into()));
            }
            if !names.insert(c.as_str()) {
                return Err(Error::InvalidInput(format!("column {c:?} appears twice")));
            }
        }
        drop(names);
        Ok(RecordTable {
            columns,
            ids: Vec::new(),
            rows: Vec::new(),
            seen: HashSet::new(),
        })
    }

    /// Adds one record; empty values become `None`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a row of the wrong length or an empty id;
    /// [`Error::DuplicateCustomerId`] for an id already in the table. The
    /// table is unchanged on error.
    pub fn push<S: AsRef<str>>(
        &mut self,
        id: impl Into<String>,
        values: impl IntoIterator<Item = Option<S>>,
    ) -> Result<()> {
        let id = id.into();
        let row: Vec<Option<String>> = values
            .into_iter()
            .map(|v| {
                v.and_then(|s| {
                    let s = s.as_ref();
                    (!s.trim().is_empty()).then(|| s.to_owned())
                })
            })
            .collect();
        if row.len() != self.columns.len() {
            return Err(Error::InvalidInput(format!(
                "record {id:?} has {} values for {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        if id.trim().is_empty() {
            return Err(Error::InvalidInput("empty record id".into()));
        }
        if self.seen.contains(&id) {
            return Err(Error::DuplicateCustomerId(id));
        }
        if self.seen.len() != self.ids.len() {
            // Rebuilt after deserialising, where the index is skipped.
            self.seen = self.ids.iter().cloned().collect();
            if self.seen.contains(&id) {
                return Err(Error::DuplicateCustomerId(id));
            }
        }
        self.seen.insert(id.clone());
        self.ids.push(id);
        self.rows.push(row);
        Ok(())
    }

    /// Column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Position of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the table has no records.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Record ids, in order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Record `i`'s values, in column order.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn row(&self, i: usize) -> &[Option<String>] {
        &self.rows[i]
    }

    /// Record `i`'s value in column `column`, if present.
    pub fn value(&self, i: usize, column: usize) -> Option<&str> {
        self.rows.get(i)?.get(column)?.as_deref()
    }

    /// All rows, in order.
    pub fn rows(&self) -> &[Vec<Option<String>>] {
        &self.rows
    }

    /// The synthetic population's source records as a table: id
    /// `source:key` (a repeated id gets `#2`, `#3`, …), columns
    /// [`SOURCE_RECORD_COLUMNS`] (the source system first when `with_source`).
    pub fn from_source_records(records: &[SourceCustomerRecord], with_source: bool) -> RecordTable {
        let columns = SOURCE_RECORD_COLUMNS
            .iter()
            .skip(usize::from(!with_source))
            .map(|c| (*c).to_owned())
            .collect();
        let mut table = RecordTable {
            columns,
            ids: Vec::with_capacity(records.len()),
            rows: Vec::with_capacity(records.len()),
            seen: HashSet::with_capacity(records.len()),
        };
        for r in records {
            let base = format!("{}:{}", r.source.source, r.source.key);
            let mut id = base.clone();
            let mut k = 1;
            while table.seen.contains(&id) {
                k += 1;
                id = format!("{base}#{k}");
            }
            let mut row = Vec::with_capacity(table.columns.len());
            if with_source {
                row.push(Some(r.source.source.clone()));
            }
            row.extend(
                r.fields()
                    .into_iter()
                    .map(|v| v.clone().filter(|s| !s.trim().is_empty())),
            );
            table.seen.insert(id.clone());
            table.ids.push(id);
            table.rows.push(row);
        }
        table
    }
}

/// Columns of [`RecordTable::from_source_records`]: the source, then
/// [`SourceCustomerRecord::FIELD_NAMES`].
pub const SOURCE_RECORD_COLUMNS: [&str; 10] = {
    let mut columns = ["source"; 10];
    let mut i = 0;
    while i < 9 {
        columns[i + 1] = SourceCustomerRecord::FIELD_NAMES[i];
        i += 1;
    }
    columns
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_rows_and_rejects_bad_ones_unchanged() {
        let mut t = RecordTable::new(["name", "email"]).unwrap();
        t.push("a", [Some("Ann"), Some("  ")]).unwrap();
        assert_eq!(t.row(0), &[Some("Ann".to_owned()), None]);
        assert!(matches!(
            t.push("a", [Some("x"), None]),
            Err(Error::DuplicateCustomerId(_))
        ));
        assert!(t.push("b", [Some("x")]).is_err());
        assert!(t.push(" ", [Some("x"), None]).is_err());
        assert_eq!(t.len(), 1);
        assert_eq!(t.column("email"), Some(1));
        assert!(RecordTable::new(["a", "a"]).is_err());
        assert!(RecordTable::new([""]).is_err());
    }

    #[test]
    fn duplicate_ids_are_caught_after_a_serde_round_trip() {
        let mut t = RecordTable::new(["name"]).unwrap();
        t.push("a", [Some("Ann")]).unwrap();
        let mut back: RecordTable =
            serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert!(back.push("a", [Some("Bo")]).is_err());
        back.push("b", [Some("Bo")]).unwrap();
        assert_eq!(back.len(), 2);
    }
}
