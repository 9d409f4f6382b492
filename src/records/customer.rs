//! Customers and their profiles.
//!
//! Personal data (names, e-mails, phones, addresses, postcodes) is wrapped in
//! [`Pii`], whose `Debug` output is redacted so that logging a profile never
//! leaks it. Serialisation is unchanged: persisting data is deliberate.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::consent::Consent;
use super::ids::{CustomerId, SourceRecord};
use super::labels::open_enum;

/// Personally identifiable information: the value is hidden from `Debug`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pii<T>(T);

impl<T> Pii<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Pii(value)
    }

    /// The value, for code that must use it (matching, contacting).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for Pii<String> {
    fn from(s: &str) -> Self {
        Pii(s.to_owned())
    }
}

impl From<String> for Pii<String> {
    fn from(s: String) -> Self {
        Pii(s)
    }
}

open_enum! {
    /// Gender as recorded by the source.
    Gender {
        /// Female.
        Female = "female" | "f" | "w" | "woman",
        /// Male.
        Male = "male" | "m" | "man",
        /// Non-binary / diverse.
        NonBinary = "non_binary" | "nonbinary" | "diverse" | "d" | "x",
    }
}

/// A free attribute value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
}

/// What a source knows about a person. All fields are optional; raw values are
/// kept as given (cleansing derives normalised values elsewhere).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Given (first) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<Pii<String>>,
    /// Family (last) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<Pii<String>>,
    /// E-mail addresses, primary first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Pii<String>>,
    /// Phone numbers, primary first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Pii<String>>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Pii<Date>>,
    /// Gender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    /// Street address lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address_lines: Vec<Pii<String>>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Postcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<Pii<String>>,
    /// Country (ISO 3166-1 alpha-2 where known, e.g. `DE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Preferred language (BCP 47 tag where known, e.g. `de`, `ja`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Free attributes from the source (loyalty tier, segment codes, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// A customer: id, profile, consent and provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// External id.
    pub id: CustomerId,
    /// What is known about the person.
    #[serde(default)]
    pub profile: Profile,
    /// Consent ledger.
    #[serde(default)]
    pub consent: Consent,
    /// When the customer record was created in its source, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// The source records behind this customer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRecord>,
}

impl Customer {
    /// A customer with an empty profile, no consent and no provenance.
    pub fn new(id: CustomerId) -> Self {
        Customer {
            id,
            profile: Profile::default(),
            consent: Consent::default(),
            created_at: None,
            sources: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pii_is_redacted_in_debug_but_serialised() {
        let profile = Profile {
            given_name: Some("Ada".into()),
            emails: vec!["ada@example.org".into()],
            city: Some("London".into()),
            ..Profile::default()
        };
        let debug = format!("{profile:?}");
        assert!(!debug.contains("Ada"), "{debug}");
        assert!(!debug.contains("ada@example.org"), "{debug}");
        assert!(debug.contains("London"));
        let json = serde_json::to_string(&profile).unwrap();
        assert!(json.contains("ada@example.org"));
        let back: Profile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, profile);
    }

    #[test]
    fn gender_aliases() {
        assert_eq!(Gender::parse_known("W"), Some(Gender::Female));
        assert_eq!(
            Gender::parse_lenient("prefer not to say"),
            Gender::Other("prefer not to say".into())
        );
    }
}
