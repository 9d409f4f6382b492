//! Source records as identity resolution sees them: an id and a row of
//! optional text values per record, one table per source.
//!
//! Raw values are kept as they arrived; every later step (normalising,
//! blocking, comparing) derives its own values from them, so a golden record
//! can always name the raw value and the record it came from.

use hashbrown::HashSet;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::{SourceRecord, check_source_name};

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

    /// Whether a record with this id is in the table.
    pub fn contains(&self, id: &str) -> bool {
        if self.seen.len() == self.ids.len() {
            self.seen.contains(id)
        } else {
            // Deserialised: the index is rebuilt on the next push.
            self.ids.iter().any(|i| i == id)
        }
    }

    /// Adds an empty column (every record `None` in it); nothing happens
    /// when the table has the column already.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty name.
    pub fn add_column(&mut self, name: &str) -> Result<()> {
        if name.trim().is_empty() {
            return Err(Error::InvalidInput("empty column name".into()));
        }
        if self.column(name).is_none() {
            self.columns.push(name.to_owned());
            for row in &mut self.rows {
                row.push(None);
            }
        }
        Ok(())
    }

    /// The table's parts: columns, ids and rows.
    pub fn into_parts(self) -> (Vec<String>, Vec<String>, Vec<Vec<Option<String>>>) {
        (self.columns, self.ids, self.rows)
    }
}

/// Source customer records, one [`RecordTable`] per source system, all
/// with the same columns.
///
/// A record's id in its table is its reference `source:key`
/// ([`SourceRecord::reference`]), which is also how events loaded with a
/// `source` name the record they belong to, so resolved customers can take
/// over every record's transactions, touchpoints and consent. Read them with
/// [`ingest::source_records`](crate::ingest::source_records).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceRecords {
    columns: Vec<String>,
    sources: Vec<String>,
    tables: Vec<RecordTable>,
}

impl SourceRecords {
    /// No records yet.
    pub fn new() -> SourceRecords {
        SourceRecords::default()
    }

    /// The identity columns every table has, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The source systems, in order of first appearance.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// One table per source, in the order of [`sources`](Self::sources).
    pub fn tables(&self) -> &[RecordTable] {
        &self.tables
    }

    /// The table of one source.
    pub fn table(&self, source: &str) -> Option<&RecordTable> {
        let i = self.sources.iter().position(|s| s == source)?;
        self.tables.get(i)
    }

    /// Records in all tables.
    pub fn len(&self) -> usize {
        self.tables.iter().map(RecordTable::len).sum()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a record with this reference (`source:key`) is held.
    pub fn contains(&self, reference: &str) -> bool {
        SourceRecord::parse(reference)
            .and_then(|r| self.table(&r.source))
            .is_some_and(|t| t.contains(reference))
    }

    /// Makes sure every table has these columns (new ones are empty in the
    /// records already held).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty column name.
    pub fn ensure_columns<S: AsRef<str>>(&mut self, columns: &[S]) -> Result<()> {
        for c in columns {
            let c = c.as_ref();
            if !self.columns.iter().any(|x| x == c) {
                if c.trim().is_empty() {
                    return Err(Error::InvalidInput("empty column name".into()));
                }
                self.columns.push(c.to_owned());
                for t in &mut self.tables {
                    t.add_column(c)?;
                }
            }
        }
        Ok(())
    }

    /// Adds one record of `source` with values for `columns` (names of
    /// identity columns, added where new); columns it does not give are
    /// empty.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid source name or key, or values
    /// not one per column; [`Error::DuplicateCustomerId`] for a record
    /// (source and key) already held. Nothing is added on error.
    pub fn push<S: AsRef<str>>(
        &mut self,
        source: &str,
        key: &str,
        columns: &[S],
        values: Vec<Option<String>>,
    ) -> Result<()> {
        let source = source.trim();
        let key = key.trim();
        if let Err(reason) = check_source_name(source) {
            return Err(Error::value("source", source, reason));
        }
        if key.is_empty() || key.chars().any(char::is_control) {
            return Err(Error::value(
                "source key",
                key,
                "empty or with a control character",
            ));
        }
        if values.len() != columns.len() {
            return Err(Error::InvalidInput(format!(
                "{} values for {} columns",
                values.len(),
                columns.len()
            )));
        }
        let reference = SourceRecord::new(source, key).reference();
        if self.table(source).is_some_and(|t| t.contains(&reference)) {
            return Err(Error::DuplicateCustomerId(reference));
        }
        self.ensure_columns(columns)?;
        let mut row: Vec<Option<String>> = vec![None; self.columns.len()];
        for (c, v) in columns.iter().zip(values) {
            if let Some(i) = self.columns.iter().position(|x| x == c.as_ref()) {
                row[i] = v;
            }
        }
        let t = match self.sources.iter().position(|s| s == source) {
            Some(t) => t,
            None => {
                self.tables.push(RecordTable::new(self.columns.clone())?);
                self.sources.push(source.to_owned());
                self.tables.len() - 1
            }
        };
        self.tables[t].push(reference, row)
    }

    /// All records in one table, sources after one another in the order of
    /// [`sources`](Self::sources), with the source system as a first column
    /// named `source` (the form identity resolution and golden records read;
    /// leave `source` out of matching and use it for source priority).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when an identity column is itself named `source`.
    pub fn combined(&self) -> Result<RecordTable> {
        let mut columns = vec![SOURCE_COLUMN.to_owned()];
        columns.extend(self.columns.iter().cloned());
        let mut out = RecordTable::new(columns)?;
        for (source, table) in self.sources.iter().zip(&self.tables) {
            for (id, row) in table.ids().iter().zip(table.rows()) {
                let mut values = Vec::with_capacity(row.len() + 1);
                values.push(Some(source.clone()));
                values.extend(row.iter().cloned());
                out.push(id.clone(), values)?;
            }
        }
        Ok(out)
    }
}

/// The column naming each record's source system in [`SourceRecords::combined`].
pub const SOURCE_COLUMN: &str = "source";

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
