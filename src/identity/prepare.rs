//! Prepared columns: each raw column cleansed into one comparable form and
//! dictionary-encoded.
//!
//! Matching never looks at raw text. Each column used by blocking or
//! comparisons is first normalised by its [`FieldKind`] (a name loses its
//! accents and case, a phone becomes E.164, a date becomes ISO), and the
//! distinct prepared values are stored once in a dictionary with a code per
//! record. Equal codes are exact agreement, a value's count is its term
//! frequency (how common a surname is), and blocking keys are derived once
//! per distinct value rather than once per record.
//!
//! A raw value the normaliser cannot read (an e-mail without `@`, the 30th
//! of February) becomes missing in the prepared column, and is counted per
//! column in [`PreparedColumn::unreadable`]; the raw value itself stays in
//! the [`RecordTable`].

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use super::normalize::{
    DayMonthOrder, MailboxRules, fold, name_key, normalize_date, normalize_email, normalize_phone,
    normalize_postcode,
};
use super::table::RecordTable;
use crate::error::{Error, Result};

/// How a column is cleansed before matching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text: NFKC, case and punctuation folded ([`fold`]).
    Text,
    /// A name or word-like value: [`name_key`], i.e. folded without
    /// diacritics, titles dropped and "Family, Given" put in "Given Family"
    /// order, so one person's name matches however it was written (CJK
    /// names kept whole).
    Name,
    /// An identifier: letters and digits only, upper case (`ab-12 3` → `AB123`).
    Identifier,
    /// An e-mail address; the mailbox after provider rules when `provider_rules`.
    Email {
        /// Drop `+tags` and Gmail dots where the provider ignores them.
        #[serde(default)]
        provider_rules: bool,
    },
    /// A phone number in E.164.
    Phone {
        /// ISO 3166 alpha-2 country for numbers written nationally.
        default_country: String,
        /// A column holding each record's country, used before the default.
        #[serde(default)]
        country_column: Option<String>,
    },
    /// A date in ISO form.
    Date {
        /// How to read `03/05/2024`.
        #[serde(default)]
        order: DayMonthOrder,
    },
    /// A postcode in its national layout.
    Postcode {
        /// ISO country for the layout.
        default_country: String,
        /// A column holding each record's country, used before the default.
        #[serde(default)]
        country_column: Option<String>,
    },
    /// A number, written in its shortest round-trip form (`007.50` → `7.5`).
    Number,
}

/// One column's preparation, as settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnPrep {
    /// The raw column.
    pub column: String,
    /// How it is cleansed.
    #[serde(flatten)]
    pub kind: FieldKind,
}

impl ColumnPrep {
    /// Prepares `column` as `kind`.
    pub fn new(column: impl Into<String>, kind: FieldKind) -> ColumnPrep {
        ColumnPrep {
            column: column.into(),
            kind,
        }
    }
}

/// The code of a missing value.
pub const MISSING: u32 = u32::MAX;

/// One prepared column: a dictionary of distinct prepared values and a code
/// per record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedColumn {
    /// The raw column's name.
    pub name: String,
    /// The preparation.
    pub kind: FieldKind,
    /// Distinct prepared values.
    values: Vec<Box<str>>,
    /// How many records hold each value.
    counts: Vec<u32>,
    /// Each record's value code ([`MISSING`] when absent or unreadable).
    codes: Vec<u32>,
    /// Raw values present but unreadable by the normaliser.
    pub unreadable: usize,
    #[serde(skip)]
    index: HashMap<Box<str>, u32>,
}

impl PreparedColumn {
    fn new(name: String, kind: FieldKind) -> PreparedColumn {
        PreparedColumn {
            name,
            kind,
            values: Vec::new(),
            counts: Vec::new(),
            codes: Vec::new(),
            unreadable: 0,
            index: HashMap::new(),
        }
    }

    fn rebuild_index(&mut self) {
        if self.index.len() != self.values.len() {
            self.index = self
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), i as u32))
                .collect();
        }
    }

    fn push(&mut self, prepared: Option<String>) -> Result<()> {
        let code = match prepared {
            None => MISSING,
            Some(v) => match self.index.get(v.as_str()) {
                Some(&c) => {
                    let len = self.counts.len();
                    let count = self.counts.get_mut(c as usize).ok_or_else(|| {
                        Error::out_of_range(
                            format!("prepared column `{}`: value counts", self.name),
                            c as usize,
                            len,
                        )
                    })?;
                    *count += 1;
                    c
                }
                None => {
                    let c = u32::try_from(self.values.len())
                        .ok()
                        .filter(|c| *c != MISSING)
                        .ok_or_else(|| {
                            Error::Capacity(format!("column {}: too many values", self.name))
                        })?;
                    let v: Box<str> = v.into();
                    self.index.insert(v.clone(), c);
                    self.values.push(v);
                    self.counts.push(1);
                    c
                }
            },
        };
        self.codes.push(code);
        Ok(())
    }

    /// Record `r`'s value code.
    #[inline]
    pub fn code(&self, r: usize) -> u32 {
        self.codes.get(r).copied().unwrap_or(MISSING)
    }

    /// Record `r`'s prepared value.
    #[inline]
    pub fn value(&self, r: usize) -> Option<&str> {
        self.text(self.code(r))
    }

    /// The prepared value of a code.
    #[inline]
    pub fn text(&self, code: u32) -> Option<&str> {
        self.values.get(code as usize).map(|v| &**v)
    }

    /// Distinct prepared values, by code.
    pub fn values(&self) -> &[Box<str>] {
        &self.values
    }

    /// How many records hold each code's value.
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }

    /// Every record's code.
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// Records with a value.
    pub fn present(&self) -> usize {
        self.codes.iter().filter(|c| **c != MISSING).count()
    }

    /// Checks the column against `records`: one code per record, one count
    /// per value, every code a value's or [`MISSING`]. A column built here
    /// always passes; a deserialised one may not.
    fn check(&self, records: usize) -> Result<()> {
        let what = |what: &str| format!("prepared column `{}`: {what}", self.name);
        if self.counts.len() != self.values.len() {
            return Err(Error::lengths(
                what("value counts per value"),
                self.values.len(),
                self.counts.len(),
            ));
        }
        if self.codes.len() != records {
            return Err(Error::lengths(
                what("value codes per record"),
                records,
                self.codes.len(),
            ));
        }
        if let Some(c) = self
            .codes
            .iter()
            .find(|c| **c != MISSING && **c as usize >= self.values.len())
        {
            return Err(Error::out_of_range(
                what("value code"),
                *c as usize,
                self.values.len(),
            ));
        }
        Ok(())
    }

    /// The value's share among records with a value (its term frequency).
    pub fn frequency(&self, code: u32) -> f64 {
        let present: u64 = self.counts.iter().map(|c| u64::from(*c)).sum();
        match self.counts.get(code as usize) {
            Some(&c) if present > 0 => f64::from(c) / present as f64,
            _ => 0.0,
        }
    }
}

/// Prepared columns over the records of one or more tables, concatenated in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    columns: Vec<PreparedColumn>,
    /// Table index of every record.
    sides: Vec<u8>,
    /// Each table's record count.
    table_sizes: Vec<usize>,
}

/// The country code a record's country column gives, if it is a known two-letter code.
fn country_of(table: &RecordTable, r: usize, column: Option<usize>) -> Option<&str> {
    let v = table.value(r, column?)?.trim();
    (v.len() == 2 && v.is_ascii()).then_some(v)
}

/// The prepared form of one raw value (`None`: unreadable).
fn prepare_value(
    raw: &str,
    kind: &FieldKind,
    table: &RecordTable,
    r: usize,
    country_column: Option<usize>,
) -> Option<String> {
    let v = match kind {
        FieldKind::Text => fold(raw),
        FieldKind::Name => name_key(raw),
        FieldKind::Identifier => fold(raw)
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_uppercase)
            .collect(),
        FieldKind::Email { provider_rules } => {
            normalize_email(
                raw,
                if *provider_rules {
                    MailboxRules::Provider
                } else {
                    MailboxRules::AsWritten
                },
            )
            .ok()?
            .mailbox
        }
        FieldKind::Phone {
            default_country, ..
        } => {
            let country = country_of(table, r, country_column);
            country
                .and_then(|c| normalize_phone(raw, c).ok())
                .or_else(|| normalize_phone(raw, default_country).ok())?
        }
        FieldKind::Date { order } => normalize_date(raw, *order).ok()?.to_string(),
        FieldKind::Postcode {
            default_country, ..
        } => {
            let country = country_of(table, r, country_column).unwrap_or(default_country);
            normalize_postcode(raw, country)
                .or_else(|_| normalize_postcode(raw, default_country))
                .ok()?
        }
        FieldKind::Number => {
            let x: f64 = fold(raw).replace(' ', "").parse().ok()?;
            if !x.is_finite() {
                return None;
            }
            format!("{x}")
        }
    };
    (!v.is_empty()).then_some(v)
}

impl Prepared {
    /// Prepares `preps` over the records of `tables` (concatenated in order:
    /// record `r` of table 1 is `tables[0].len() + r`). Every table must have
    /// every prepared column and any country column.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a column missing from a table;
    /// [`Error::InvalidInput`] for no tables or more than 255 tables;
    /// [`Error::Capacity`] for more than `u32::MAX − 1` records; [`Error::InvalidParameter`] for an
    /// unknown default country.
    pub fn new(tables: &[&RecordTable], preps: &[ColumnPrep]) -> Result<Prepared> {
        let mut prepared = Prepared::empty(preps)?;
        for table in tables {
            prepared.append(table)?;
        }
        Ok(prepared)
    }

    /// Prepared columns without records.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown default country or a column prepared twice.
    pub fn empty(preps: &[ColumnPrep]) -> Result<Prepared> {
        let mut columns = Vec::with_capacity(preps.len());
        for p in preps {
            if columns.iter().any(|c: &PreparedColumn| c.name == p.column) {
                return Err(Error::param(
                    "columns",
                    &p.column,
                    "each column is prepared once",
                ));
            }
            if let FieldKind::Phone {
                default_country, ..
            } = &p.kind
            {
                if normalize_phone("+1 202 555 0100", default_country).is_err() {
                    return Err(Error::param(
                        "default_country",
                        default_country,
                        "a country with a known phone plan (ISO 3166 alpha-2)",
                    ));
                }
            }
            columns.push(PreparedColumn::new(p.column.clone(), p.kind.clone()));
        }
        Ok(Prepared {
            columns,
            sides: Vec::new(),
            table_sizes: Vec::new(),
        })
    }

    /// Appends one more table's records as the next side; returns the range
    /// of their record indices.
    ///
    /// # Errors
    /// As [`Prepared::new`]; on error nothing is appended.
    pub fn append(&mut self, table: &RecordTable) -> Result<std::ops::Range<usize>> {
        let side = self.table_sizes.len();
        self.extend(table, side)
    }

    /// Appends `table`'s records to an existing side (incremental resolution
    /// of new records from a source already present).
    ///
    /// # Errors
    /// As [`Prepared::new`]; [`Error::InvalidParameter`] for a side beyond
    /// the next new one; [`Error::InvalidValue`], [`Error::LengthMismatch`]
    /// or [`Error::OutOfRange`] for prepared records that are inconsistent ([`Prepared::check`], e.g. deserialised after an edit).
    pub fn extend(&mut self, table: &RecordTable, side: usize) -> Result<std::ops::Range<usize>> {
        self.check()?;
        if side > self.table_sizes.len() || side > usize::from(u8::MAX) {
            return Err(Error::param(
                "side",
                side,
                format!(
                    "an existing side or the next one ({})",
                    self.table_sizes.len()
                ),
            ));
        }
        let start = self.sides.len();
        if start + table.len() >= MISSING as usize {
            return Err(Error::Capacity("more than 4,294,967,294 records".into()));
        }
        // Resolve columns before touching anything, so an error leaves self unchanged.
        let mut positions = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            let find = |name: &str| {
                table.column(name).ok_or_else(|| Error::NotFound {
                    what: "column",
                    id: name.to_owned(),
                })
            };
            let country = match &c.kind {
                FieldKind::Phone { country_column, .. }
                | FieldKind::Postcode { country_column, .. } => {
                    country_column.as_deref().map(find).transpose()?
                }
                _ => None,
            };
            positions.push((find(&c.name)?, country));
        }
        let n = table.len();
        for (c, &(position, country)) in self.columns.iter_mut().zip(&positions) {
            c.rebuild_index();
            // Normalising is the costly part: in parallel, then encoded in order.
            let kind = &c.kind;
            let chunks: Vec<std::ops::Range<usize>> =
                (0..n).step_by(2048).map(|a| a..(a + 2048).min(n)).collect();
            let prepared: Vec<(Option<String>, bool)> =
                crate::parallel::map_slice(&chunks, |chunk| {
                    chunk
                        .clone()
                        .map(|r| match table.value(r, position) {
                            None => (None, false),
                            Some(raw) => {
                                let v = prepare_value(raw, kind, table, r, country);
                                let unreadable = v.is_none();
                                (v, unreadable)
                            }
                        })
                        .collect::<Vec<_>>()
                })
                .into_iter()
                .flatten()
                .collect();
            for (v, unreadable) in prepared {
                c.unreadable += usize::from(unreadable);
                c.push(v)?;
            }
            // The value index is only needed while encoding: a near-unique
            // column's index is as large as its values, so it is rebuilt when
            // records are added later rather than kept.
            c.index = HashMap::new();
        }
        if side == self.table_sizes.len() {
            self.table_sizes.push(0);
        }
        self.table_sizes[side] += table.len();
        self.sides
            .extend(std::iter::repeat_n(side as u8, table.len()));
        Ok(start..self.sides.len())
    }

    /// Checks that the prepared records are consistent: every column has
    /// one code per record and one count per value, every code names a
    /// value (or is [`MISSING`]), and the sides agree with the table sizes.
    /// Records prepared here always pass; deserialised ones are checked
    /// before they are extended.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when the sides do not match the table sizes;
    /// [`Error::LengthMismatch`] or [`Error::OutOfRange`] naming the column
    /// and what is inconsistent.
    pub fn check(&self) -> Result<()> {
        let n = self.sides.len();
        if self.table_sizes.iter().sum::<usize>() != n
            || self
                .sides
                .iter()
                .any(|s| usize::from(*s) >= self.table_sizes.len())
        {
            return Err(Error::value(
                "prepared records",
                format!("{n} sides for table sizes {:?}", self.table_sizes),
                "every record needs the side of a table, and the table sizes must add up to the records",
            ));
        }
        self.columns.iter().try_for_each(|c| c.check(n))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.sides.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.sides.is_empty()
    }

    /// The prepared columns.
    pub fn columns(&self) -> &[PreparedColumn] {
        &self.columns
    }

    /// A prepared column by its raw column's name.
    pub fn column(&self, name: &str) -> Option<&PreparedColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Position of a prepared column.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The side (table) of record `r`.
    pub fn side(&self, r: usize) -> u8 {
        self.sides.get(r).copied().unwrap_or(0)
    }

    /// Every record's side.
    pub fn sides(&self) -> &[u8] {
        &self.sides
    }

    /// Records per side.
    pub fn table_sizes(&self) -> &[usize] {
        &self.table_sizes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RecordTable {
        let mut t = RecordTable::new(["name", "email", "phone", "country", "born"]).unwrap();
        t.push(
            "1",
            [
                Some("Müller"),
                Some("Hans.Muller+shop@Gmail.com "),
                Some("030 1234567"),
                Some("DE"),
                Some("05.03.1980"),
            ],
        )
        .unwrap();
        t.push(
            "2",
            [
                Some("MULLER"),
                Some("not an email"),
                Some("+49 30 1234567"),
                None,
                Some("1980-03-05"),
            ],
        )
        .unwrap();
        t.push(
            "3",
            [
                Some("Ｍüller"),
                None,
                Some("(030) 1234567"),
                Some("fr"),
                Some("30.02.1980"),
            ],
        )
        .unwrap();
        t
    }

    fn preps() -> Vec<ColumnPrep> {
        vec![
            ColumnPrep::new("name", FieldKind::Name),
            ColumnPrep::new(
                "email",
                FieldKind::Email {
                    provider_rules: true,
                },
            ),
            ColumnPrep::new(
                "phone",
                FieldKind::Phone {
                    default_country: "DE".into(),
                    country_column: Some("country".into()),
                },
            ),
            ColumnPrep::new(
                "born",
                FieldKind::Date {
                    order: DayMonthOrder::DayFirst,
                },
            ),
        ]
    }

    #[test]
    fn prepares_and_encodes_with_counts() {
        let t = table();
        let p = Prepared::new(&[&t], &preps()).unwrap();
        let name = p.column("name").unwrap();
        assert_eq!(name.values().len(), 1);
        assert_eq!(name.counts(), &[3]);
        assert_eq!(name.value(2), Some("muller"));
        let email = p.column("email").unwrap();
        assert_eq!(email.value(0), Some("hansmuller@gmail.com"));
        assert_eq!(email.code(1), MISSING);
        assert_eq!(email.unreadable, 1);
        assert_eq!(email.code(2), MISSING);
        let phone = p.column("phone").unwrap();
        assert_eq!(phone.value(0), Some("+49301234567"));
        assert_eq!(phone.code(0), phone.code(1));
        // The record's own country comes before the default.
        assert_eq!(phone.value(2), Some("+33301234567"));
        let born = p.column("born").unwrap();
        assert_eq!(born.value(0), Some("1980-03-05"));
        assert_eq!(born.code(0), born.code(1));
        assert_eq!(born.code(2), MISSING);
        assert!((name.frequency(0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sides_and_errors() {
        let t = table();
        let mut p = Prepared::new(&[&t, &t], &preps()).unwrap();
        assert_eq!(p.len(), 6);
        assert_eq!(p.table_sizes(), &[3, 3]);
        assert_eq!(p.side(4), 1);
        let mut other = RecordTable::new(["name"]).unwrap();
        other.push("x", [Some("a")]).unwrap();
        assert!(
            matches!(p.append(&other), Err(Error::NotFound { what: "column", id }) if id == "email")
        );
        assert_eq!(p.len(), 6);
        assert!(matches!(
            p.extend(&t, 5),
            Err(Error::InvalidParameter { name: "side", .. })
        ));
        assert_eq!(p.extend(&t, 0).unwrap(), 6..9);
        assert_eq!(p.table_sizes(), &[6, 3]);
        let bad = vec![ColumnPrep::new(
            "phone",
            FieldKind::Phone {
                default_country: "XX".into(),
                country_column: None,
            },
        )];
        assert!(matches!(
            Prepared::empty(&bad),
            Err(Error::InvalidParameter {
                name: "default_country",
                ..
            })
        ));
        let twice = vec![
            ColumnPrep::new("name", FieldKind::Name),
            ColumnPrep::new("name", FieldKind::Text),
        ];
        assert!(matches!(
            Prepared::empty(&twice),
            Err(Error::InvalidParameter {
                name: "columns",
                ..
            })
        ));
    }

    #[test]
    fn serde_round_trip_keeps_encoding_working() {
        let t = table();
        let p = Prepared::new(&[&t], &preps()).unwrap();
        let mut back: Prepared = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        back.extend(&t, 0).unwrap();
        let name = back.column("name").unwrap();
        assert_eq!(name.values().len(), 1);
        assert_eq!(name.counts(), &[6]);
    }

    /// Deserialised records edited out of shape: extending them is an
    /// error naming the column, never a panic, and changes nothing.
    #[test]
    fn inconsistent_deserialised_columns_are_errors() {
        let t = table();
        let p = Prepared::new(&[&t], &preps()).unwrap();
        p.check().unwrap();
        let mut json: serde_json::Value = serde_json::to_value(&p).unwrap();
        type Edit = fn(&mut serde_json::Value);
        let edits: [(&str, Edit); 4] = [
            ("counts", |c| c["counts"] = serde_json::json!([])),
            ("codes", |c| c["codes"] = serde_json::json!([0, 0])),
            ("code 7", |c| c["codes"] = serde_json::json!([0, 7, 0])),
            ("values", |c| c["values"] = serde_json::json!([])),
        ];
        for (what, edit) in edits {
            let mut broken = json.clone();
            edit(&mut broken["columns"][0]);
            let mut back: Prepared = serde_json::from_value(broken).unwrap();
            let before = back.clone();
            match (what, back.extend(&t, 0)) {
                ("counts", Err(Error::LengthMismatch { found: 0, .. }))
                | ("codes", Err(Error::LengthMismatch { found: 2, .. }))
                | ("code 7", Err(Error::OutOfRange { index: 7, .. }))
                | ("values", Err(Error::LengthMismatch { expected: 0, .. })) => {}
                (_, other) => panic!("{what}: {other:?}"),
            }
            assert_eq!(back, before, "{what}: unchanged");
        }
        json["table_sizes"] = serde_json::json!([2]);
        let mut back: Prepared = serde_json::from_value(json).unwrap();
        assert!(matches!(
            back.extend(&t, 0),
            Err(Error::InvalidValue {
                what: "prepared records",
                ..
            })
        ));
    }
}
