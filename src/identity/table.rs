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
///
/// Values are kept in one text buffer with an end offset per cell (row by
/// row), so a million records of ten fields cost their text and 4 bytes a
/// cell, not a heap string each.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RecordTableRepr")]
pub struct RecordTable {
    columns: Vec<String>,
    ids: Vec<String>,
    /// Every value, row after row; a missing value is empty.
    text: String,
    /// End of each cell in `text` (row-major); a cell starts where the previous ends.
    ends: Vec<u32>,
    #[serde(skip)]
    seen: HashSet<String>,
}

/// The serialised form of [`RecordTable`], checked before use.
#[derive(Deserialize)]
struct RecordTableRepr {
    columns: Vec<String>,
    ids: Vec<String>,
    text: String,
    ends: Vec<u32>,
}

impl TryFrom<RecordTableRepr> for RecordTable {
    type Error = Error;

    fn try_from(r: RecordTableRepr) -> Result<RecordTable> {
        let mut t = RecordTable::new(r.columns)?;
        let cells = r.ids.len().checked_mul(t.columns.len());
        let ordered = r.ends.windows(2).all(|w| w[0] <= w[1]);
        let fits = r.ends.last().map_or(0, |&e| e as usize) <= r.text.len();
        let on_chars = r.ends.iter().all(|&e| r.text.is_char_boundary(e as usize));
        if cells != Some(r.ends.len()) || !ordered || !fits || !on_chars {
            return Err(Error::value(
                "record table",
                format!(
                    "{} cell ends for {} records of {} columns",
                    r.ends.len(),
                    r.ids.len(),
                    t.columns.len()
                ),
                "cell ends must be one per cell, ascending, within the text and on character boundaries",
            ));
        }
        t.ids = r.ids;
        t.text = r.text;
        t.ends = r.ends;
        Ok(t)
    }
}

impl PartialEq for RecordTable {
    fn eq(&self, other: &Self) -> bool {
        self.columns == other.columns
            && self.ids == other.ids
            && (0..self.len()).all(|i| self.row(i) == other.row(i))
    }
}

impl Eq for RecordTable {}

impl RecordTable {
    /// An empty table with these columns (the id is not a column).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty column name; [`Error::Duplicate`]
    /// for a repeated one.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Result<RecordTable> {
        let columns: Vec<String> = columns.into_iter().map(Into::into).collect();
        let mut names: HashSet<&str> = HashSet::new();
        for c in &columns {
            if c.trim().is_empty() {
                return Err(Error::InvalidInput("empty column name".into()));
            }
            if !names.insert(c.as_str()) {
                return Err(Error::duplicate("record table columns", c.as_str()));
            }
        }
        drop(names);
        Ok(RecordTable {
            columns,
            ids: Vec::new(),
            text: String::new(),
            ends: Vec::new(),
            seen: HashSet::new(),
        })
    }

    /// Adds one record; empty values become `None`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for a row of the wrong length;
    /// [`Error::InvalidInput`] for an empty id;
    /// [`Error::DuplicateCustomerId`] for an id already in the table;
    /// [`Error::Capacity`] beyond 4 GiB of text. The table is unchanged on error.
    pub fn push<S: AsRef<str>>(
        &mut self,
        id: impl Into<String>,
        values: impl IntoIterator<Item = Option<S>>,
    ) -> Result<()> {
        let id = id.into();
        let text_before = self.text.len();
        let cells_before = self.ends.len();
        let mut n = 0usize;
        for v in values {
            n += 1;
            if let Some(v) = v {
                let v = v.as_ref();
                if !v.trim().is_empty() {
                    self.text.push_str(v);
                }
            }
            let Ok(end) = u32::try_from(self.text.len()) else {
                self.text.truncate(text_before);
                self.ends.truncate(cells_before);
                return Err(Error::Capacity("record table text beyond 4 GiB".into()));
            };
            self.ends.push(end);
        }
        let undo = |t: &mut RecordTable| {
            t.text.truncate(text_before);
            t.ends.truncate(cells_before);
        };
        if n != self.columns.len() {
            undo(self);
            return Err(Error::lengths(
                format!("values of record {id:?} per column"),
                self.columns.len(),
                n,
            ));
        }
        if id.trim().is_empty() {
            undo(self);
            return Err(Error::InvalidInput("empty record id".into()));
        }
        if self.seen.len() != self.ids.len() {
            // Rebuilt after deserialising, where the index is skipped.
            self.seen = self.ids.iter().cloned().collect();
        }
        if self.seen.contains(&id) {
            undo(self);
            return Err(Error::DuplicateCustomerId(id));
        }
        self.seen.insert(id.clone());
        self.ids.push(id);
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

    /// Record `i`'s values, in column order (empty for `i >= len()`).
    pub fn row(&self, i: usize) -> Vec<Option<&str>> {
        (0..self.columns.len()).map(|c| self.value(i, c)).collect()
    }

    /// Record `i`'s value in column `column`, if present.
    pub fn value(&self, i: usize, column: usize) -> Option<&str> {
        let k = self.columns.len();
        if column >= k || i >= self.ids.len() {
            return None;
        }
        let cell = i * k + column;
        let start = if cell == 0 {
            0
        } else {
            *self.ends.get(cell - 1)? as usize
        };
        let end = *self.ends.get(cell)? as usize;
        self.text.get(start..end).filter(|v| !v.is_empty())
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
        if self.column(name).is_some() {
            return Ok(());
        }
        // Each row gets one more cell, ending where its last cell ends.
        let k = self.columns.len();
        let mut ends = Vec::with_capacity(self.ends.len() + self.ids.len());
        for r in 0..self.ids.len() {
            let row = self.ends.get(r * k..(r + 1) * k).unwrap_or(&[]);
            ends.extend_from_slice(row);
            let last = match row.last() {
                Some(&e) => e,
                None => ends.last().copied().unwrap_or(0),
            };
            ends.push(last);
        }
        self.ends = ends;
        self.columns.push(name.to_owned());
        Ok(())
    }

    /// Appends the records of `other` (same columns, by name; columns it
    /// lacks are empty, columns this table lacks are ignored).
    ///
    /// # Errors
    /// As [`push`](Self::push) for each record; on error the records before
    /// the failing one stay appended.
    pub fn append(&mut self, other: &RecordTable) -> Result<()> {
        let map: Vec<Option<usize>> = self.columns.iter().map(|c| other.column(c)).collect();
        for (r, id) in other.ids.iter().enumerate() {
            self.push(
                id.clone(),
                map.iter().map(|c| c.and_then(|c| other.value(r, c))),
            )?;
        }
        Ok(())
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
    /// [`Error::InvalidInput`] for an invalid source name or key;
    /// [`Error::LengthMismatch`] for values not one per column; [`Error::DuplicateCustomerId`] for a record
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
            return Err(Error::lengths(
                "values per column",
                columns.len(),
                values.len(),
            ));
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
        let mut out = self.combined_table()?;
        for (source, table) in self.sources.iter().zip(&self.tables) {
            push_with_source(&mut out, source, table)?;
        }
        Ok(out)
    }

    /// [`combined`](Self::combined), taking the records: each source's
    /// table is released as soon as it is copied, so the records are held once.
    ///
    /// # Errors
    /// As [`combined`](Self::combined).
    pub fn into_combined(self) -> Result<RecordTable> {
        let mut out = self.combined_table()?;
        for (source, table) in self.sources.iter().zip(self.tables) {
            push_with_source(&mut out, source, &table)?;
        }
        Ok(out)
    }

    /// An empty table with `source` and the identity columns.
    fn combined_table(&self) -> Result<RecordTable> {
        let mut columns = vec![SOURCE_COLUMN.to_owned()];
        columns.extend(self.columns.iter().cloned());
        RecordTable::new(columns)
    }
}

/// Appends `table`'s records to `out` with `source` as their first value.
fn push_with_source(out: &mut RecordTable, source: &str, table: &RecordTable) -> Result<()> {
    for (r, id) in table.ids().iter().enumerate() {
        out.push(
            id.clone(),
            std::iter::once(Some(source)).chain(table.row(r)),
        )?;
    }
    Ok(())
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
        assert_eq!(t.row(0), [Some("Ann"), None]);
        assert!(matches!(
            t.push("a", [Some("x"), None]),
            Err(Error::DuplicateCustomerId(_))
        ));
        assert!(matches!(
            t.push("b", [Some("x")]),
            Err(Error::LengthMismatch {
                expected: 2,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            t.push(" ", [Some("x"), None]),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(t.len(), 1);
        assert_eq!(t.column("email"), Some(1));
        assert!(
            matches!(RecordTable::new(["a", "a"]), Err(Error::Duplicate { key, .. }) if key == "a")
        );
        assert!(matches!(
            RecordTable::new([""]),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn duplicate_ids_are_caught_after_a_serde_round_trip() {
        let mut t = RecordTable::new(["name"]).unwrap();
        t.push("a", [Some("Ann")]).unwrap();
        let mut back: RecordTable =
            serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert!(
            matches!(back.push("a", [Some("Bo")]), Err(Error::DuplicateCustomerId(id)) if id == "a")
        );
        back.push("b", [Some("Bo")]).unwrap();
        assert_eq!(back.len(), 2);
    }
}
