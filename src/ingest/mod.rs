//! Ingestion that loses nothing: customers, transactions, touchpoints and
//! consent from CSV or JSON Lines, every row validated and accounted for.
//!
//! Each reader streams its input (bounded memory: a few batches of records in
//! flight, plus whatever the sink keeps) and returns an [`IngestReport`]: rows
//! read, accepted, rejected, and for every rejection its 1-based line, field
//! and reason. `accepted + rejected == rows`, always.
//!
//! CSV inputs are read by a pipeline when the `parallel` feature is on: one
//! thread splits records, the rayon pool validates batches, and the sink
//! receives rows in input order, so reports are identical to the sequential
//! reader's. [`Loader`] loads transactions, touchpoints and consent events in
//! bulk: customer ids are resolved (and order ids checked for repeats) once
//! per input by radix-partitioned hashing (see [`CustomerBaseBuilder::add_transactions`](crate::store::CustomerBaseBuilder::add_transactions)),
//! and touchpoint channels and kinds are parsed once per distinct text in
//! each batch. Reports and the base are the same as row by row.
//!
//! | rule | field | example reason |
//! |---|---|---|
//! | missing id | `customer_id`, `order_id` | `missing value` |
//! | unparseable or impossible time | `timestamp` | `impossible calendar date: 2024-02-30` |
//! | time outside [`IngestOptions::earliest`]..=[`latest`](IngestOptions::latest) | `timestamp` | `… is outside the accepted range …` |
//! | NaN, infinite, malformed or overflowing amount | `amount` | `NaN or infinite amount: NaN` |
//! | negative amount without the refund flag | `amount` | `negative amount -5.00 EUR not flagged as a refund` |
//! | unknown ISO 4217 currency | `currency` | ``unknown currency code `EUX` `` |
//! | duplicate order id / customer id | `order_id` / `customer_id` | ``duplicate order id `o-1` `` |
//! | wrong number of fields | `row` | `expected 6 fields, found 5` |
//! | invalid UTF-8 | the field (CSV) or `row` (JSON Lines) | `invalid UTF-8 at byte 3` |
//! | unknown channel, kind, purpose, gender | the field | kept as `Other` ([`LabelPolicy::KeepAsOther`]) or rejected ([`LabelPolicy::Reject`]) |
//!
//! Lenient mode (the default) records rejections and goes on; strict mode
//! ([`Mode::Strict`]) stops at the first with [`Error::Rejected`](crate::Error::Rejected) carrying the
//! same line, field and reason. A missing required column is an error for the
//! whole input ([`Error::MissingColumns`](crate::Error::MissingColumns)), and
//! so is a missing or unreadable header ([`Error::EmptyInput`](crate::Error::EmptyInput),
//! [`Error::InvalidValue`](crate::Error::InvalidValue)).
//!
//! CSV columns are matched by header name (case-insensitive, common aliases
//! such as `first_name` for `given_name`), or mapped explicitly with
//! [`IngestOptions::columns`]. Transactions CSV: `customer_id, order_id,
//! timestamp, amount, currency, channel`, optional `is_refund`, `store`.
//! Customers: `customer_id`, optional `given_name, family_name, email, phone,
//! birth_date, gender, address_line1, address_line2, city, postcode, country,
//! language, created_at, source, source_key`; every other column becomes a
//! free attribute (with `source` but no `source_key`, the row is the source
//! record `source:customer_id`). Touchpoints: `customer_id, timestamp, channel, kind`,
//! optional `campaign, topic, cost, cost_currency, session_id, content_stage`. Consent:
//! `customer_id, purpose, status, timestamp`, optional `channel` (blank or
//! `all` for every channel). JSON Lines objects use the same names; a
//! transaction may carry `line_items: [{product_id, category, quantity,
//! unit_price}]`.

mod accounting;
mod csv;
mod jsonl;
mod labels;
mod loader;
mod options;
mod parse;
#[cfg(feature = "parallel")]
mod pipeline;
#[cfg(feature = "parallel")]
mod plain;
mod readers;
mod report;
mod rows;
mod schema;
mod sources;
pub mod table;
#[cfg(feature = "parallel")]
mod touchpoint_columns;

use jiff::Timestamp;

use accounting::{Accounting, RowHandler};
pub use loader::{InputReport, Loader};
pub use options::{Format, IngestOptions, LabelPolicy, Mode};
pub use readers::{
    TransactionSink, consents, customers, read_transactions, touchpoints, transactions,
};
pub use report::{IngestReport, Rejection};
use schema::{Schema, header_key, json_key, resolve_column};
pub use sources::{read_source_records, source_records};

/// Reads a timestamp as ingestion does (RFC 3339, or a civil date and time
/// or date read as UTC; impossible dates are errors), for programs that
/// read times from tables of their own.
///
/// # Errors
/// The reason the text is not a valid timestamp.
pub fn parse_timestamp(raw: &str) -> std::result::Result<Timestamp, String> {
    parse::parse_timestamp(raw)
}
