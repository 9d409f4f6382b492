//! Ingestion that loses nothing: customers, transactions, touchpoints and
//! consent from CSV or JSON Lines, every row validated and accounted for.
//!
//! Each reader streams its input (bounded memory: a few batches of records in
//! flight, plus whatever the sink keeps) and returns an [`IngestReport`]: rows
//! read, accepted, rejected, and for every rejection its 1-based line, field
//! and reason. `accepted + rejected == rows`, always.
//!
//! Transactions CSV, the largest input, is read by a pipeline when the
//! `parallel` feature is on: one thread splits records, the rayon pool
//! validates batches, and the sink receives rows in input order, so reports
//! are identical to the sequential reader's. [`Loader`] loads transactions in
//! bulk: ids are resolved and order ids checked for repeats once per input by
//! radix-partitioned hashing (see [`CustomerBaseBuilder::add_transactions`]).
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
//! ([`Mode::Strict`]) stops at the first with [`Error::Rejected`] carrying the
//! same line, field and reason. A missing required column or an unreadable
//! header is an error for the whole input ([`Error::InvalidInput`]).
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

mod csv;
mod jsonl;
mod parse;
#[cfg(feature = "parallel")]
mod pipeline;
mod report;
mod rows;
mod sources;
pub mod table;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use report::{IngestReport, Rejection};

/// Reads a timestamp as ingestion does (RFC 3339, or a civil date and time
/// or date read as UTC; impossible dates are errors), for programs that
/// read times from tables of their own.
///
/// # Errors
/// The reason the text is not a valid timestamp.
pub fn parse_timestamp(raw: &str) -> std::result::Result<Timestamp, String> {
    parse::parse_timestamp(raw)
}
use rows::{Fields, RowProblem};
pub use sources::{read_source_records, source_records};

use crate::error::{Error, Location, Result};
use crate::records::{ConsentEvent, Currency, Customer, CustomerId, Touchpoint, Transaction};
use crate::store::{CustomerBase, CustomerBaseBuilder, Interner, TransactionRef};

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

/// The fields of one record kind.
pub(crate) struct Schema {
    fields: &'static [rows::Field],
    required: &'static [rows::Field],
}

impl Schema {
    fn required<'a>(&'a self, opts: &'a IngestOptions) -> impl Iterator<Item = rows::Field> + 'a {
        self.required.iter().copied().filter(|&f| {
            !(opts.default_currency.is_some() && matches!(f, rows::CURRENCY | rows::COST_CURRENCY))
        })
    }
}

const TRANSACTIONS: Schema = Schema {
    fields: rows::TRANSACTION_FIELDS,
    required: &[
        rows::CUSTOMER_ID,
        rows::ORDER_ID,
        rows::TIMESTAMP,
        rows::AMOUNT,
        rows::CURRENCY,
        rows::CHANNEL,
    ],
};
const CUSTOMERS: Schema = Schema {
    fields: rows::CUSTOMER_FIELDS,
    required: &[rows::CUSTOMER_ID],
};
const TOUCHPOINTS: Schema = Schema {
    fields: rows::TOUCHPOINT_FIELDS,
    required: &[
        rows::CUSTOMER_ID,
        rows::TIMESTAMP,
        rows::CHANNEL,
        rows::KIND,
    ],
};
const CONSENTS: Schema = Schema {
    fields: rows::CONSENT_FIELDS,
    required: &[
        rows::CUSTOMER_ID,
        rows::PURPOSE,
        rows::STATUS,
        rows::TIMESTAMP,
    ],
};

/// Other common names for canonical fields, matched after the canonical name itself.
fn aliases(field: &str) -> &'static [&'static str] {
    match field {
        "customer_id" => &["customer", "customerid", "client_id", "user_id"],
        "order_id" => &["order", "orderid", "transaction_id", "invoice_id"],
        "timestamp" => &[
            "datetime",
            "date",
            "time",
            "order_date",
            "event_time",
            "created",
        ],
        "amount" => &["value", "revenue", "total", "order_value"],
        "is_refund" => &["refund"],
        "store" => &["store_id", "location", "location_id"],
        "given_name" => &["first_name", "firstname", "forename"],
        "family_name" => &["last_name", "lastname", "surname"],
        "email" => &["email_address", "e_mail"],
        "phone" => &["phone_number", "mobile", "telephone"],
        "birth_date" => &["date_of_birth", "dob", "birthdate"],
        "address_line1" => &["address", "street"],
        "postcode" => &["zip", "zip_code", "postal_code"],
        "kind" => &["type", "event_type", "touchpoint_kind"],
        "session_id" => &["session"],
        "cost_currency" => &["currency"],
        "purpose" => &["consent_purpose"],
        "status" => &["consent_status", "consent"],
        _ => &[],
    }
}

fn header_key(name: &str) -> String {
    crate::records::labels::normalize_label(name)
}

/// The CSV column for a canonical field: explicit mapping, then the canonical name, then aliases.
fn resolve_column(field: &str, names: &[String], opts: &IngestOptions) -> Option<usize> {
    let keys: Vec<String> = names.iter().map(|n| header_key(n)).collect();
    let find = |wanted: &str| keys.iter().position(|k| *k == header_key(wanted));
    if let Some(mapped) = opts.columns.get(field) {
        return find(mapped);
    }
    find(field).or_else(|| aliases(field).iter().find_map(|a| find(a)))
}

/// The JSON key for a canonical field in one object.
fn json_key<'a>(
    field: &str,
    object: &'a serde_json::Map<String, serde_json::Value>,
    opts: &IngestOptions,
) -> Option<&'a str> {
    let find = |wanted: &str| {
        object
            .keys()
            .find(|k| header_key(k) == header_key(wanted))
            .map(String::as_str)
    };
    if let Some(mapped) = opts.columns.get(field) {
        return find(mapped);
    }
    find(field).or_else(|| aliases(field).iter().find_map(|a| find(a)))
}

pub(crate) type RowHandler<'a> =
    dyn FnMut(u64, std::result::Result<&dyn Fields, RowProblem>) -> Result<()> + 'a;

/// Turns a sink's error into a row rejection, or passes fatal errors through.
fn sink_problem(e: Error) -> Result<RowProblem> {
    match e {
        Error::DuplicateOrderId(id) => Ok(RowProblem::new(
            "order_id",
            format!("duplicate order id `{id}`"),
        )),
        Error::DuplicateCustomerId(id) => Ok(RowProblem::new(
            "customer_id",
            format!("duplicate customer id `{id}`"),
        )),
        Error::InvalidValue {
            what,
            value,
            reason,
        } => {
            let field = match what {
                "customer id" => "customer_id",
                "order id" => "order_id",
                "amount" => "amount",
                "currency" => "currency",
                _ => "row",
            };
            Ok(RowProblem::new(field, format!("{reason}: `{value}`")))
        }
        Error::Rejected { location, reason } => Ok(RowProblem::new(&location.field, reason)),
        fatal => Err(fatal),
    }
}

/// Keeps the account of one input and applies the mode.
struct Accounting<'o> {
    report: IngestReport,
    opts: &'o IngestOptions,
}

impl<'o> Accounting<'o> {
    fn new(opts: &'o IngestOptions) -> Self {
        Accounting {
            report: IngestReport::default(),
            opts,
        }
    }

    /// Records one row's outcome; in strict mode a rejection becomes [`Error::Rejected`].
    fn record(&mut self, line: u64, outcome: std::result::Result<(), RowProblem>) -> Result<()> {
        match outcome {
            Ok(()) => self.report.accept(),
            Err(p) if self.opts.mode == Mode::Strict => {
                return Err(Error::Rejected {
                    location: Location {
                        line,
                        field: p.field,
                    },
                    reason: p.reason,
                });
            }
            Err(p) => self.report.reject(line, p.field, p.reason),
        }
        Ok(())
    }
}

/// Drives one input: reads rows, validates and sinks them, keeps the account.
fn run<R: Read>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    mut accept: impl FnMut(u64, &dyn Fields) -> Result<std::result::Result<(), RowProblem>>,
) -> Result<IngestReport> {
    opts.check()?;
    let mut account = Accounting::new(opts);
    {
        let mut handler =
            |line: u64, row: std::result::Result<&dyn Fields, RowProblem>| -> Result<()> {
                let outcome = match row {
                    Ok(fields) => accept(line, fields)?,
                    Err(problem) => Err(problem),
                };
                account.record(line, outcome)
            };
        match format {
            Format::Csv => csv::for_each_row(input, opts, schema, &mut handler)?,
            Format::JsonLines => jsonl::for_each_row(input, opts, schema, &mut handler)?,
        }
    }
    Ok(account.report)
}

/// Where validated transactions go.
pub trait TransactionSink {
    /// Takes one validated transaction. An `Err` rejects the row (for
    /// duplicates and invalid values) or aborts the input (for capacity and I/O errors).
    fn accept(&mut self, transaction: TransactionRef<'_>) -> Result<()>;

    /// Whether the sink rejects duplicate order ids itself (so the reader need not track them).
    fn checks_order_ids(&self) -> bool {
        false
    }
}

impl TransactionSink for CustomerBaseBuilder {
    fn accept(&mut self, transaction: TransactionRef<'_>) -> Result<()> {
        self.add_transaction_ref(transaction)
    }

    fn checks_order_ids(&self) -> bool {
        true
    }
}

impl TransactionSink for Vec<Transaction> {
    fn accept(&mut self, t: TransactionRef<'_>) -> Result<()> {
        self.push(Transaction {
            order_id: t.order_id.to_owned(),
            customer_id: CustomerId::new(t.customer_id)?,
            timestamp: t.timestamp,
            amount: t.amount,
            is_refund: t.is_refund,
            channel: t.channel.clone(),
            line_items: t.line_items.to_vec(),
            store: t.store.map(str::to_owned),
        });
        Ok(())
    }
}

/// Reads transactions into a sink.
///
/// # Errors
/// [`Error::InvalidInput`] for an unreadable header or missing required
/// columns, [`Error::Io`] for read failures, [`Error::Rejected`] in strict mode.
pub fn transactions<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    sink: &mut impl TransactionSink,
) -> Result<IngestReport> {
    let mut seen = (!sink.checks_order_ids()).then(Interner::default);
    read_transactions_with(format, input, opts, |_, t| {
        if let Some(seen) = seen.as_mut() {
            let order_id = t.order_id.trim();
            if !seen.intern(order_id)?.1 {
                return Ok(Err(RowProblem::new(
                    "order_id",
                    format!("duplicate order id `{order_id}`"),
                )));
            }
        }
        match sink.accept(t) {
            Ok(()) => Ok(Ok(())),
            Err(e) => sink_problem(e).map(Err),
        }
    })
}

/// Reads and validates transactions, handing each valid one with its line to
/// `accept` in input order: the parallel pipeline for CSV, row by row otherwise.
fn read_transactions_with<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    mut accept: impl FnMut(u64, TransactionRef<'_>) -> Result<std::result::Result<(), RowProblem>>,
) -> Result<IngestReport> {
    // Inside a rayon worker the pipeline could wait on the very pool it feeds
    // (e.g. a one-thread pool), so nested calls read row by row.
    #[cfg(feature = "parallel")]
    if format == Format::Csv && rayon::current_thread_index().is_none() {
        opts.check()?;
        let mut account = Accounting::new(opts);
        pipeline::transactions_csv(input, opts, &TRANSACTIONS, |line, row| {
            let outcome = match row {
                Ok(t) => accept(line, t)?,
                Err(problem) => Err(problem),
            };
            account.record(line, outcome)
        })?;
        return Ok(account.report);
    }
    run(
        format,
        input,
        opts,
        &TRANSACTIONS,
        |line, row| match rows::transaction(row, opts) {
            Ok(t) => accept(line, t.as_ref()),
            Err(p) => Ok(Err(p)),
        },
    )
}

/// Loads transactions into a builder as one bulk load: rows are appended as
/// they are validated and their ids resolved together at the end (see
/// [`crate::store`]); repeated order ids are then rejected with their lines.
/// The report is the same as [`transactions`] gives row by row.
fn bulk_transactions<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    builder: &mut CustomerBaseBuilder,
) -> Result<IngestReport> {
    opts.check()?;
    builder.begin_bulk();
    let read = read_transactions_with(format, input, opts, |line, t| {
        match builder.push_bulk(t, line) {
            Ok(()) => Ok(Ok(())),
            Err(e) => sink_problem(e).map(Err),
        }
    });
    let mut report = match read {
        Ok(report) => report,
        Err(e) => {
            builder.abort_bulk();
            return Err(e);
        }
    };
    let duplicates = builder.finish_bulk()?;
    if !duplicates.is_empty() {
        for (line, order_id) in duplicates {
            report.accepted -= 1;
            report.rejected += 1;
            report.rejections.push(Rejection {
                line,
                field: "order_id".into(),
                reason: format!("duplicate order id `{order_id}`"),
            });
        }
        report.rejections.sort_by_key(|r| r.line);
    }
    Ok(report)
}

/// Reads customer records into a sink; a repeated customer id is rejected.
///
/// # Errors
/// As [`transactions`].
pub fn customers<R: Read>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    sink: &mut impl FnMut(Customer) -> Result<()>,
) -> Result<IngestReport> {
    let mut seen = Interner::default();
    run(format, input, opts, &CUSTOMERS, |_, row| {
        let c = match rows::customer(row, opts) {
            Ok(c) => c,
            Err(p) => return Ok(Err(p)),
        };
        if !seen.intern(c.id.as_str())?.1 {
            return Ok(Err(RowProblem::new(
                "customer_id",
                format!("duplicate customer id `{}`", c.id),
            )));
        }
        sink(c).map(Ok).or_else(|e| sink_problem(e).map(Err))
    })
}

/// Reads touchpoints into a sink.
///
/// # Errors
/// As [`transactions`].
pub fn touchpoints<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    sink: &mut impl FnMut(Touchpoint) -> Result<()>,
) -> Result<IngestReport> {
    run_rows(format, input, opts, &TOUCHPOINTS, rows::touchpoint, |t| {
        sink(t).map(Ok).or_else(|e| sink_problem(e).map(Err))
    })
}

/// Drives one input of a record kind validated by `validate` (in parallel
/// for CSV when the `parallel` feature is on: rows are validated on the pool
/// and handed to `accept` in input order, with the same report as row by row).
fn run_rows<R: Read + Send, T: Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    validate: fn(&dyn Fields, &IngestOptions) -> std::result::Result<T, RowProblem>,
    mut accept: impl FnMut(T) -> Result<std::result::Result<(), RowProblem>>,
) -> Result<IngestReport> {
    // Inside a rayon worker the pipeline could wait on the very pool it feeds.
    #[cfg(feature = "parallel")]
    if format == Format::Csv && rayon::current_thread_index().is_none() {
        opts.check()?;
        let mut account = Accounting::new(opts);
        pipeline::rows_csv(
            input,
            opts,
            schema,
            |row| validate(row, opts),
            |line, row| {
                let outcome = match row {
                    Ok(t) => accept(t)?,
                    Err(problem) => Err(problem),
                };
                account.record(line, outcome)
            },
        )?;
        return Ok(account.report);
    }
    run(format, input, opts, schema, |_, row| {
        match validate(row, opts) {
            Ok(t) => accept(t),
            Err(p) => Ok(Err(p)),
        }
    })
}

/// Reads consent events into a sink.
///
/// # Errors
/// As [`transactions`].
pub fn consents<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    sink: &mut impl FnMut(CustomerId, ConsentEvent) -> Result<()>,
) -> Result<IngestReport> {
    run_rows(format, input, opts, &CONSENTS, rows::consent, |(id, e)| {
        sink(id, e).map(Ok).or_else(|e| sink_problem(e).map(Err))
    })
}

/// A file's format (from its extension), the opened file and its name for reports.
fn file_input(path: &Path) -> Result<(Format, File, String)> {
    Ok((
        Format::from_path(path),
        open(path)?,
        path.display().to_string(),
    ))
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(path.display().to_string(), e))
}

/// Reads a transactions file (format from its extension) into memory.
///
/// # Errors
/// As [`transactions`], plus [`Error::Io`] when the file cannot be opened.
pub fn read_transactions(
    path: impl AsRef<Path>,
    opts: &IngestOptions,
) -> Result<(Vec<Transaction>, IngestReport)> {
    let path = path.as_ref();
    let mut out = Vec::new();
    let report = transactions(Format::from_path(path), open(path)?, opts, &mut out)?;
    Ok((out, report))
}

/// What was loaded from which input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputReport {
    /// The record kind: `customers`, `transactions`, `touchpoints` or `consents`.
    pub kind: String,
    /// The file path or stream name.
    pub source: String,
    /// The account of its rows.
    pub report: IngestReport,
}

/// Loads several inputs into one [`CustomerBase`].
///
/// ```no_run
/// use custinsight::ingest::{IngestOptions, Loader};
///
/// let mut loader = Loader::new(IngestOptions::default());
/// loader.customers_file("customers.csv")?;
/// let report = loader.transactions_file("transactions.csv")?;
/// println!("{} of {} transaction rows accepted", report.accepted, report.rows);
/// let (base, inputs) = loader.finish()?;
/// # Ok::<(), custinsight::Error>(())
/// ```
#[derive(Debug)]
pub struct Loader {
    opts: IngestOptions,
    builder: CustomerBaseBuilder,
    inputs: Vec<InputReport>,
}

impl Loader {
    /// A loader with the given options.
    pub fn new(opts: IngestOptions) -> Self {
        Loader {
            opts,
            builder: CustomerBaseBuilder::new(),
            inputs: Vec::new(),
        }
    }

    /// A loader that adds to an existing builder.
    pub fn with_builder(opts: IngestOptions, builder: CustomerBaseBuilder) -> Self {
        Loader {
            opts,
            builder,
            inputs: Vec::new(),
        }
    }

    fn record(&mut self, kind: &str, source: &str, report: &IngestReport) {
        self.inputs.push(InputReport {
            kind: kind.into(),
            source: source.into(),
            report: report.clone(),
        });
    }

    /// Loads transactions from a reader.
    ///
    /// # Errors
    /// As [`transactions`].
    pub fn transactions<R: Read + Send>(
        &mut self,
        format: Format,
        input: R,
        source: &str,
    ) -> Result<IngestReport> {
        // Strict mode must stop at the first problem by line, so it checks order ids row by row.
        let report = match self.opts.mode {
            Mode::Strict => transactions(format, input, &self.opts, &mut self.builder)?,
            Mode::Lenient => bulk_transactions(format, input, &self.opts, &mut self.builder)?,
        };
        self.record("transactions", source, &report);
        Ok(report)
    }

    /// Loads customers from a reader.
    ///
    /// # Errors
    /// As [`customers`].
    pub fn customers<R: Read>(
        &mut self,
        format: Format,
        input: R,
        source: &str,
    ) -> Result<IngestReport> {
        let builder = &mut self.builder;
        let report = customers(format, input, &self.opts, &mut |c| {
            builder.add_customer(c).map(|_| ())
        })?;
        self.record("customers", source, &report);
        Ok(report)
    }

    /// Loads touchpoints from a reader.
    ///
    /// # Errors
    /// As [`touchpoints`].
    pub fn touchpoints<R: Read + Send>(
        &mut self,
        format: Format,
        input: R,
        source: &str,
    ) -> Result<IngestReport> {
        let builder = &mut self.builder;
        let report = touchpoints(format, input, &self.opts, &mut |t| {
            builder.add_touchpoint(&t)
        })?;
        self.record("touchpoints", source, &report);
        Ok(report)
    }

    /// Loads consent events from a reader.
    ///
    /// # Errors
    /// As [`consents`].
    pub fn consents<R: Read + Send>(
        &mut self,
        format: Format,
        input: R,
        source: &str,
    ) -> Result<IngestReport> {
        let builder = &mut self.builder;
        let report = consents(format, input, &self.opts, &mut |id, e| {
            builder.add_consent_event(id.as_str(), e)
        })?;
        self.record("consents", source, &report);
        Ok(report)
    }

    /// Loads a transactions file (format from its extension).
    ///
    /// # Errors
    /// As [`transactions`], plus [`Error::Io`] when the file cannot be opened.
    pub fn transactions_file(&mut self, path: impl AsRef<Path>) -> Result<IngestReport> {
        let path = path.as_ref();
        if let Ok(meta) = std::fs::metadata(path) {
            // About 50 bytes per CSV row; sizing up front saves repeated table growth.
            let estimate = usize::try_from(meta.len() / 50).unwrap_or(0).min(1 << 30);
            self.builder.reserve_bulk_transactions(estimate);
        }
        let (format, file, name) = file_input(path)?;
        self.transactions(format, file, &name)
    }

    /// Loads a customers file.
    ///
    /// # Errors
    /// As [`customers`], plus [`Error::Io`].
    pub fn customers_file(&mut self, path: impl AsRef<Path>) -> Result<IngestReport> {
        let path = path.as_ref();
        let (format, file, name) = file_input(path)?;
        self.customers(format, file, &name)
    }

    /// Loads a touchpoints file.
    ///
    /// # Errors
    /// As [`touchpoints`], plus [`Error::Io`].
    pub fn touchpoints_file(&mut self, path: impl AsRef<Path>) -> Result<IngestReport> {
        let path = path.as_ref();
        let (format, file, name) = file_input(path)?;
        self.touchpoints(format, file, &name)
    }

    /// Loads a consent file.
    ///
    /// # Errors
    /// As [`consents`], plus [`Error::Io`].
    pub fn consents_file(&mut self, path: impl AsRef<Path>) -> Result<IngestReport> {
        let path = path.as_ref();
        let (format, file, name) = file_input(path)?;
        self.consents(format, file, &name)
    }

    /// Builds the base and returns it with the report of every input.
    ///
    /// # Errors
    /// As [`CustomerBaseBuilder::build`].
    pub fn finish(self) -> Result<(CustomerBase, Vec<InputReport>)> {
        Ok((self.builder.build()?, self.inputs))
    }
}
