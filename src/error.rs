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
    /// Inputs that must line up do not: one has `found` entries where
    /// `expected` are needed (labels per row, values per column, …).
    #[error("{what}: {found} entries where {expected} are needed")]
    LengthMismatch {
        /// What does not line up, e.g. `segment labels per customer`.
        what: String,
        /// How many entries are needed.
        expected: usize,
        /// How many there are.
        found: usize,
    },
    /// An input has nothing in it where the analysis needs something.
    #[error("{what}: empty input")]
    EmptyInput {
        /// What is empty, e.g. `records to resolve`.
        what: String,
    },
    /// A number that must be finite is NaN or infinite.
    #[error("{what}: non-finite value {value} at row {row}, {field}")]
    NonFinite {
        /// The input, e.g. `feature matrix`.
        what: String,
        /// 0-based row (or unit, customer) index.
        row: usize,
        /// The column's name, or `column j` when it has none.
        field: String,
        /// The offending value.
        value: f64,
    },
    /// A row of an in-memory input (an observation, a unit) holds a value
    /// the analysis does not take, e.g. 0.5 for a binomial metric, a variant
    /// index past the variants, or a second value where none is expected. A
    /// NaN or infinite number is [`Error::NonFinite`] instead.
    #[error("{what}: row {row}, {field} `{value}`: {reason}")]
    InvalidRow {
        /// The input, e.g. `observations of revenue`.
        what: String,
        /// 0-based row (observation, unit) index.
        row: usize,
        /// The field, e.g. `value`, `second` or `variant`.
        field: String,
        /// The offending value, formatted (`none` for a missing one).
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// Fewer rows (records, units, clusters, …) than the analysis needs.
    #[error("{what}: {found}, at least {minimum} needed")]
    TooFew {
        /// What is counted, e.g. `rows for k = 8 clusters`.
        what: String,
        /// The minimum.
        minimum: usize,
        /// How many there are.
        found: usize,
    },
    /// An index points outside its range.
    #[error("{what}: index {index} outside 0..{len}")]
    OutOfRange {
        /// What the index is into, e.g. `segment label`.
        what: String,
        /// The index.
        index: usize,
        /// The length of the range.
        len: usize,
    },
    /// A key that must be unique appears twice.
    #[error("{what}: `{key}` appears more than once")]
    Duplicate {
        /// What is keyed, e.g. `segment names`.
        what: String,
        /// The repeated key.
        key: String,
    },
    /// Required columns are missing from a table's header.
    #[error("{table}: missing column(s) {}", columns.join(", "))]
    MissingColumns {
        /// The table or file.
        table: String,
        /// The columns that are missing.
        columns: Vec<String>,
    },
    /// Amounts in several currencies where the analysis adds them up.
    #[error("transactions in more than one currency ({}); analyse one currency at a time", currencies.join(", "))]
    MixedCurrencies {
        /// The currencies found (at least two).
        currencies: Vec<String>,
    },
    /// A linfa algorithm failed; its error is kept as the source.
    #[error("{context}: {source}")]
    Linfa {
        /// Which step called linfa.
        context: &'static str,
        /// linfa's error.
        #[source]
        source: linfa::Error,
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
    /// A computation would exceed a budget the caller set (itemsets, memory).
    #[error("{what} would exceed the budget of {limit}: {hint}")]
    Budget {
        /// What is limited, e.g. `frequent itemsets`.
        what: &'static str,
        /// The budget.
        limit: u64,
        /// How to stay within it.
        hint: String,
    },
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

    /// [`Error::LengthMismatch`].
    pub(crate) fn lengths(what: impl Into<String>, expected: usize, found: usize) -> Self {
        Error::LengthMismatch {
            what: what.into(),
            expected,
            found,
        }
    }

    /// [`Error::EmptyInput`].
    pub(crate) fn empty(what: impl Into<String>) -> Self {
        Error::EmptyInput { what: what.into() }
    }

    /// [`Error::NonFinite`].
    pub(crate) fn non_finite(
        what: impl Into<String>,
        row: usize,
        field: impl Into<String>,
        value: f64,
    ) -> Self {
        Error::NonFinite {
            what: what.into(),
            row,
            field: field.into(),
            value,
        }
    }

    /// [`Error::InvalidRow`].
    pub(crate) fn invalid_row(
        what: impl Into<String>,
        row: usize,
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidRow {
            what: what.into(),
            row,
            field: field.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// [`Error::TooFew`].
    pub(crate) fn too_few(what: impl Into<String>, minimum: usize, found: usize) -> Self {
        Error::TooFew {
            what: what.into(),
            minimum,
            found,
        }
    }

    /// [`Error::OutOfRange`].
    pub(crate) fn out_of_range(what: impl Into<String>, index: usize, len: usize) -> Self {
        Error::OutOfRange {
            what: what.into(),
            index,
            len,
        }
    }

    /// [`Error::Duplicate`].
    pub(crate) fn duplicate(what: impl Into<String>, key: impl Into<String>) -> Self {
        Error::Duplicate {
            what: what.into(),
            key: key.into(),
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

/// Checks the settings every iterative fit shares: at least one iteration,
/// a finite positive tolerance.
pub(crate) fn check_iterations(max_iter: usize, tolerance: f64) -> Result<()> {
    if max_iter == 0 {
        return Err(Error::param("max_iter", max_iter, "must be at least 1"));
    }
    if !(tolerance.is_finite() && tolerance > 0.0) {
        return Err(Error::param(
            "tolerance",
            tolerance,
            "must be finite and > 0",
        ));
    }
    Ok(())
}

impl From<linfa::Error> for Error {
    fn from(source: linfa::Error) -> Self {
        Error::Linfa {
            context: "linfa",
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
