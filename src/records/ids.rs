//! Identifiers: opaque customer ids and source-record provenance.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A customer's external identifier.
///
/// Ids are opaque strings: they are never parsed as numbers, so `"00001"` stays
/// `"00001"` and is a different id from `"1"`. Leading and trailing whitespace is
/// not part of an id; empty ids are invalid.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerId(Box<str>);

impl CustomerId {
    /// Creates an id, trimming surrounding whitespace.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when the id is empty after trimming or contains a control character.
    pub fn new(id: impl AsRef<str>) -> Result<Self> {
        let raw = id.as_ref();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Error::value("customer id", raw, "empty"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Error::value(
                "customer id",
                raw,
                "contains a control character",
            ));
        }
        Ok(CustomerId(trimmed.into()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CustomerId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        CustomerId::new(value)
    }
}

impl From<CustomerId> for String {
    fn from(id: CustomerId) -> String {
        id.0.into()
    }
}

impl std::str::FromStr for CustomerId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CustomerId::new(s)
    }
}

impl AsRef<str> for CustomerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomerId({:?})", &*self.0)
    }
}

/// Where a record came from: the source system and the record's key in it.
///
/// Identity resolution keeps one `SourceRecord` per input record behind a
/// customer, so every golden-record value can be traced back to its origin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceRecord {
    /// The source system, e.g. `"webshop"`, `"loyalty"`, `"store_pos"`.
    pub source: String,
    /// The record's key within that source.
    pub key: String,
}

impl SourceRecord {
    /// Creates a provenance entry.
    pub fn new(source: impl Into<String>, key: impl Into<String>) -> Self {
        SourceRecord {
            source: source.into(),
            key: key.into(),
        }
    }
}

impl fmt::Display for SourceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.key)
    }
}
