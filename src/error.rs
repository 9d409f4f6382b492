//! The crate's error type.
//!
//! Every fallible public function returns [`Result`]. Variants carry the
//! context a caller needs to act: the row and field of a rejected input, the
//! parameter and value that failed a check, the capacity that was exceeded.

use std::fmt;

/// Where in an input a problem was found: a 1-based line number and a field name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// 1-based physical line number of the row in its file (the header is line 1 in CSV).
    pub line: u64,
    /// Name of the offending field (canonical name, e.g. `timestamp`), or `row` for whole-row problems.
    pub field: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, field `{}`", self.line, self.field)
    }
}

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input row was rejected and the caller asked for strict mode (first error aborts).
    #[error("rejected row at {location}: {reason}")]
    Rejected {
        /// Where the row is.
        location: Location,
        /// Why it was rejected.
        reason: String,
    },
    /// The input as a whole cannot be read (e.g. a missing required column in the header).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A parameter failed its check.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name as it appears in the `…Params` struct.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What would be valid.
        reason: String,
    },
    /// A value could not be parsed into a domain type (id, currency, timestamp, …).
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidValue {
        /// What kind of value was expected.
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// An order id was seen twice.
    #[error("duplicate order id `{0}`")]
    DuplicateOrderId(String),
    /// A customer id was seen twice where ids must be unique.
    #[error("duplicate customer id `{0}`")]
    DuplicateCustomerId(String),
    /// An id or index was not found.
    #[error("unknown {what} `{id}`")]
    NotFound {
        /// What was looked up.
        what: &'static str,
        /// The id that was not found.
        id: String,
    },
    /// A model fit did not converge from any starting point.
    #[error(
        "{model} did not converge after {iterations} iterations (gradient norm {gradient_norm:.3e})"
    )]
    NoConvergence {
        /// The model.
        model: &'static str,
        /// Iterations of the best attempt.
        iterations: usize,
        /// Gradient norm at the best point found.
        gradient_norm: f64,
    },
    /// The data cannot identify the model's parameters.
    #[error("{model} cannot be fitted to these data: {reason}")]
    NotIdentifiable {
        /// The model.
        model: &'static str,
        /// Why, in terms of the data.
        reason: String,
    },
    /// A fixed-width internal index ran out of room.
    #[error("capacity exceeded: {0}")]
    Capacity(String),
    /// An I/O error, with the path or stream it concerns.
    #[error("i/o error on {context}: {source}")]
    Io {
        /// The file or stream.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON serialisation error.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// Wraps an I/O error with the file or stream it concerns.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn param(
        name: &'static str,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn value(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidValue {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
