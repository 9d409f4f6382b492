//! Ingestion settings: strict or lenient mode, unknown labels, input format, column mapping, accepted times.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::rows;
use crate::error::{Error, Result};
use crate::records::Currency;

/// What to do with a rejected row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Record the rejection and continue.
    #[default]
    Lenient,
    /// Stop at the first rejection with [`Error::Rejected`].
    Strict,
}

/// What to do with a label outside the known list (channel, kind, purpose, gender).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelPolicy {
    /// Keep it as the enum's `Other(text)`.
    #[default]
    KeepAsOther,
    /// Reject the row.
    Reject,
}

/// The format of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Comma- (or [`IngestOptions::delimiter`]-) separated values with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    /// JSON Lines for `.jsonl`, `.ndjson` and `.json` files, CSV otherwise.
    pub fn from_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson" | "json") => Format::JsonLines,
            _ => Format::Csv,
        }
    }
}

/// Ingestion settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestOptions {
    /// Lenient (default) or strict.
    pub mode: Mode,
    /// Unknown labels: keep as `Other` (default) or reject.
    pub unknown_labels: LabelPolicy,
    /// CSV field delimiter (default `b','`).
    pub delimiter: u8,
    /// Explicit column mapping: canonical field name → header (or JSON key) in the input.
    pub columns: BTreeMap<String, String>,
    /// Currency for rows without a currency column or value.
    pub default_currency: Option<Currency>,
    /// Earliest accepted timestamp or birth date (default 1900-01-01).
    pub earliest: Timestamp,
    /// Latest accepted timestamp or birth date (default 2200-01-01).
    pub latest: Timestamp,
    /// The source system of rows without a `source` column or value. An
    /// event row with a source belongs to the source record
    /// `source:customer_id` (see [`SourceRecord`](crate::records::SourceRecord));
    /// identity resolution maps such records to resolved customers.
    pub default_source: Option<String>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            mode: Mode::Lenient,
            unknown_labels: LabelPolicy::KeepAsOther,
            delimiter: b',',
            columns: BTreeMap::new(),
            default_currency: None,
            earliest: Timestamp::from_second(-2_208_988_800).unwrap_or(Timestamp::MIN),
            latest: Timestamp::from_second(7_258_118_400).unwrap_or(Timestamp::MAX),
            default_source: None,
        }
    }
}

impl IngestOptions {
    /// Strict mode with unknown labels rejected.
    pub fn strict() -> Self {
        IngestOptions {
            mode: Mode::Strict,
            unknown_labels: LabelPolicy::Reject,
            ..Self::default()
        }
    }

    /// Maps a canonical field to a column name in the input.
    pub fn map_column(mut self, field: impl Into<String>, column: impl Into<String>) -> Self {
        self.columns.insert(field.into(), column.into());
        self
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a non-ASCII or quote delimiter, an empty
    /// accepted time range, or a mapping for an unknown field.
    pub fn check(&self) -> Result<()> {
        self.check_basic()?;
        for field in self.columns.keys() {
            if !rows::FIELD_NAMES.contains(&field.as_str()) {
                return Err(Error::param("columns", field, "not a canonical field name"));
            }
        }
        Ok(())
    }

    /// The checks that hold for every input, whatever its columns: the
    /// delimiter, the accepted time range and the default source.
    pub(crate) fn check_basic(&self) -> Result<()> {
        if !self.delimiter.is_ascii() || matches!(self.delimiter, b'"' | b'\n' | b'\r') {
            return Err(Error::param(
                "delimiter",
                self.delimiter,
                "must be an ASCII character other than a quote or newline",
            ));
        }
        if self.earliest > self.latest {
            return Err(Error::param(
                "earliest",
                self.earliest,
                "must not be after `latest`",
            ));
        }
        if let Some(source) = &self.default_source {
            if let Err(reason) = crate::records::check_source_name(source) {
                return Err(Error::param("default_source", source, reason));
            }
        }
        Ok(())
    }
}
