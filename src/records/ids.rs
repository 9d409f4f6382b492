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

/// Checks the name of a source system: not empty, no `:` (it separates
/// the source from the key in a reference `source:key`), no control
/// characters.
pub(crate) fn check_source_name(name: &str) -> std::result::Result<(), &'static str> {
    let name = name.trim();
    if name.is_empty() {
        Err("empty source name")
    } else if name.contains(':') {
        Err("a source name cannot contain `:` (it separates source and key)")
    } else if name.chars().any(char::is_control) {
        Err("contains a control character")
    } else {
        Ok(())
    }
}

impl SourceRecord {
    /// The reference `source:key` that names the record wherever a customer
    /// id is expected (e.g. the `customer_id` of an event loaded with a
    /// `source`); the same text as `Display`.
    pub fn reference(&self) -> String {
        self.to_string()
    }

    /// Reads a reference `source:key` (split at the first `:`, since source
    /// names cannot hold one); `None` without a `:` or with an empty side.
    pub fn parse(reference: &str) -> Option<SourceRecord> {
        let (source, key) = reference.split_once(':')?;
        let (source, key) = (source.trim(), key.trim());
        (!source.is_empty() && !key.is_empty()).then(|| SourceRecord::new(source, key))
    }
}

impl fmt::Display for SourceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.key)
    }
}
