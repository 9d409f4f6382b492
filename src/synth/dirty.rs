//! Source records as they arrive from real systems: typos, case, full-width
//! characters, swapped names, missing fields, different phone and date formats.

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::identity::RecordTable;
use crate::records::SourceRecord;

/// One customer record as a source system holds it: raw text, possibly dirty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCustomerRecord {
    /// Source system and key.
    pub source: SourceRecord,
    /// Given name as typed.
    pub given_name: Option<String>,
    /// Family name as typed.
    pub family_name: Option<String>,
    /// E-mail as typed.
    pub email: Option<String>,
    /// Phone as typed.
    pub phone: Option<String>,
    /// Birth date in the source's format.
    pub birth_date: Option<String>,
    /// Street address.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// Country code.
    pub country: Option<String>,
}

impl SourceCustomerRecord {
    /// Names of the identity fields, in the order of [`SourceCustomerRecord::fields`].
    pub const FIELD_NAMES: [&'static str; 9] = [
        "given_name",
        "family_name",
        "email",
        "phone",
        "birth_date",
        "street",
        "city",
        "postcode",
        "country",
    ];

    /// The identity fields as typed, in the order of [`SourceCustomerRecord::FIELD_NAMES`].
    pub fn fields(&self) -> [&Option<String>; 9] {
        [
            &self.given_name,
            &self.family_name,
            &self.email,
            &self.phone,
            &self.birth_date,
            &self.street,
            &self.city,
            &self.postcode,
            &self.country,
        ]
    }
}

/// Columns of [`record_table`]: the source, then
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

/// Synthetic source records as one identity table: id `source:key` (a
/// repeated id gets `#2`, `#3`, …), columns [`SOURCE_RECORD_COLUMNS`]
/// without the source system (the form a linkage compares).
///
/// # Errors
/// [`Error::InvalidValue`](crate::Error::InvalidValue) for a record with an
/// empty key (never for generated records).
pub fn record_table(records: &[SourceCustomerRecord]) -> Result<RecordTable> {
    records_to_table(records, false)
}

/// [`record_table`] with the source system as the first column (the form a
/// dedupe across systems reads).
///
/// # Errors
/// As [`record_table`].
pub fn record_table_with_source(records: &[SourceCustomerRecord]) -> Result<RecordTable> {
    records_to_table(records, true)
}

fn records_to_table(records: &[SourceCustomerRecord], with_source: bool) -> Result<RecordTable> {
    let columns: Vec<&str> = SOURCE_RECORD_COLUMNS
        .iter()
        .skip(usize::from(!with_source))
        .copied()
        .collect();
    let mut table = RecordTable::new(columns)?;
    for r in records {
        let base = r.source.reference();
        let mut id = base.clone();
        let mut k = 1;
        while table.contains(&id) {
            k += 1;
            id = format!("{base}#{k}");
        }
        let mut row: Vec<Option<&str>> = Vec::with_capacity(10);
        if with_source {
            row.push(Some(r.source.source.as_str()));
        }
        row.extend(r.fields().into_iter().map(|v| v.as_deref()));
        table.push(id, row)?;
    }
    Ok(table)
}

/// The clean facts a record is derived from.
pub(crate) struct CleanIdentity<'a> {
    pub(crate) given: &'a str,
    pub(crate) family: &'a str,
    pub(crate) email: &'a str,
    pub(crate) phone_prefix: &'a str,
    pub(crate) phone_national: &'a str,
    pub(crate) birth: jiff::civil::Date,
    pub(crate) street: &'a str,
    pub(crate) city: &'a str,
    pub(crate) postcode: &'a str,
    pub(crate) country: &'a str,
}

impl CleanIdentity<'_> {
    /// The record exactly as the primary source holds it.
    pub(crate) fn clean_record(&self, source: SourceRecord) -> SourceCustomerRecord {
        SourceCustomerRecord {
            source,
            given_name: Some(self.given.to_owned()),
            family_name: Some(self.family.to_owned()),
            email: Some(self.email.to_owned()),
            phone: Some(format!("{} {}", self.phone_prefix, self.phone_national)),
            birth_date: Some(self.birth.to_string()),
            street: Some(self.street.to_owned()),
            city: Some(self.city.to_owned()),
            postcode: Some(self.postcode.to_owned()),
            country: Some(self.country.to_owned()),
        }
    }

    /// A dirty copy, as a second system would hold it.
    pub(crate) fn dirty_record<R: Rng>(
        &self,
        source: SourceRecord,
        rng: &mut R,
    ) -> SourceCustomerRecord {
        let (mut given, mut family) = (self.given.to_owned(), self.family.to_owned());
        if rng.gen_bool(0.08) {
            std::mem::swap(&mut given, &mut family);
        }
        let name = |s: String, rng: &mut R| -> Option<String> {
            if rng.gen_bool(0.05) {
                return None;
            }
            let mut s = s;
            if rng.gen_bool(0.15) {
                s = typo(&s, rng);
            }
            if rng.gen_bool(0.2) {
                s = if rng.gen_bool(0.5) {
                    s.to_uppercase()
                } else {
                    s.to_lowercase()
                };
            }
            if rng.gen_bool(0.05) {
                s = full_width(&s);
            }
            if rng.gen_bool(0.05) {
                s = format!(" {s}  ");
            }
            Some(s)
        };
        let given_name = name(given, rng);
        let family_name = name(family, rng);
        let email = (!rng.gen_bool(0.3)).then(|| {
            let mut e = self.email.to_owned();
            if rng.gen_bool(0.2) {
                e = e.to_uppercase();
            }
            if rng.gen_bool(0.05) {
                e = typo(&e, rng);
            }
            if rng.gen_bool(0.1) {
                e = format!("{e} ");
            }
            e
        });
        let phone = (!rng.gen_bool(0.3))
            .then(|| phone_variant(self.phone_prefix, self.phone_national, rng));
        let birth_date = (!rng.gen_bool(0.25)).then(|| date_variant(self.birth, rng));
        let street = (!rng.gen_bool(0.15)).then(|| {
            let s = self
                .street
                .replace("straße", "str.")
                .replace(" Street", " St")
                .replace("Calle ", "C/ ");
            if rng.gen_bool(0.1) { typo(&s, rng) } else { s }
        });
        let city = (!rng.gen_bool(0.1)).then(|| {
            if rng.gen_bool(0.2) {
                self.city.to_uppercase()
            } else {
                self.city.to_owned()
            }
        });
        let postcode = (!rng.gen_bool(0.2)).then(|| {
            if rng.gen_bool(0.1) {
                full_width(self.postcode)
            } else {
                self.postcode.to_owned()
            }
        });
        let country = (!rng.gen_bool(0.3)).then(|| self.country.to_lowercase());
        SourceCustomerRecord {
            source,
            given_name,
            family_name,
            email,
            phone,
            birth_date,
            street,
            city,
            postcode,
            country,
        }
    }
}

/// One keyboard-style error: substitute, delete, transpose or duplicate a character.
pub(crate) fn typo<R: Rng>(s: &str, rng: &mut R) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 2 {
        return s.to_owned();
    }
    let i = rng.gen_range(0..chars.len() - 1);
    match rng.gen_range(0..4) {
        0 => {
            let replacement = *b"aeioulnrst".choose(rng).unwrap_or(&b'e') as char;
            chars[i] = replacement;
        }
        1 => {
            chars.remove(i);
        }
        2 => chars.swap(i, i + 1),
        _ => {
            let c = chars[i];
            chars.insert(i, c);
        }
    }
    chars.into_iter().collect()
}

/// ASCII printable characters to their full-width forms (U+FF01…U+FF5E).
pub(crate) fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            ' ' => '\u{3000}',
            c => c,
        })
        .collect()
}

fn phone_variant<R: Rng>(prefix: &str, national: &str, rng: &mut R) -> String {
    let digits: String = national.chars().filter(char::is_ascii_digit).collect();
    let intl = prefix.trim_start_matches('+');
    match rng.gen_range(0..5) {
        0 => format!("{prefix} {national}"),
        1 => format!("0{digits}"),
        2 => format!("00{intl}{digits}"),
        3 => format!("{prefix}{digits}"),
        _ => {
            let (a, b) = digits.split_at(digits.len().min(3));
            format!("(0{a}) {b}")
        }
    }
}

fn date_variant<R: Rng>(d: jiff::civil::Date, rng: &mut R) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    match rng.gen_range(0..5) {
        0 => format!("{y:04}-{m:02}-{day:02}"),
        1 => format!("{day:02}.{m:02}.{y:04}"),
        2 => format!("{m:02}/{day:02}/{y:04}"),
        3 => format!("{day:02}/{m:02}/{y:04}"),
        _ => format!("{y:04}{m:02}{day:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_maps_ascii() {
        assert_eq!(full_width("Ab1"), "Ａｂ１");
    }
}
