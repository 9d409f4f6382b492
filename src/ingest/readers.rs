//! The readers: transactions, customers, touchpoints and consent from a stream or a file into a sink.

use std::fs::File;
use std::io::Read;
use std::path::Path;

#[cfg(feature = "parallel")]
use super::accounting::Accounting;
use super::accounting::{run, sink_outcome};
use super::labels::TouchpointLabels;
use super::options::{Format, IngestOptions};
#[cfg(feature = "parallel")]
use super::pipeline;
use super::report::{IngestReport, Rejection};
use super::rows::{self, Fields, RowProblem, TouchpointFields};
use super::schema::{CONSENTS, CUSTOMERS, Schema, TOUCHPOINTS, TRANSACTIONS};
use crate::error::{Error, Result};
use crate::records::{ConsentEvent, Customer, CustomerId, Touchpoint, Transaction};
use crate::store::{CustomerBaseBuilder, Interner, TouchpointRef, TransactionRef, to_micros};

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
/// [`Error::MissingColumns`] for missing required columns,
/// [`Error::EmptyInput`] for a CSV input without a header row,
/// [`Error::InvalidValue`] for an unreadable header, [`Error::InvalidParameter`]
/// for bad options, [`Error::Io`] for read failures, [`Error::Rejected`] in
/// strict mode.
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
        sink_outcome(sink.accept(t))
    })
}

/// Reads and validates transactions, handing each valid one with its line to
/// `accept` in input order: the parallel pipeline for CSV, row by row otherwise.
pub(super) fn read_transactions_with<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    mut accept: impl FnMut(u64, TransactionRef<'_>) -> Result<std::result::Result<(), RowProblem>>,
) -> Result<IngestReport> {
    #[cfg(feature = "parallel")]
    if pipelined(format) {
        return account_pipeline(opts, |account| {
            pipeline::transactions_csv(input, opts, &TRANSACTIONS, |line, row| {
                account.record_row(line, row, |t| accept(line, t))
            })
        });
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
pub(super) fn bulk_transactions<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    builder: &mut CustomerBaseBuilder,
) -> Result<IngestReport> {
    opts.check()?;
    builder.begin_bulk();
    let read = read_transactions_with(format, input, opts, |line, t| {
        sink_outcome(builder.push_bulk(t, line))
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
        sink_outcome(sink(c))
    })
}

/// A customer row validated and encoded on the pool: its id and its record as
/// [`encode_customer`](crate::store::encode_customer) writes it.
fn encoded_customer(
    row: &dyn Fields,
    opts: &IngestOptions,
) -> std::result::Result<(CustomerId, Vec<u8>), RowProblem> {
    let customer = rows::customer(row, opts)?;
    let mut record = Vec::with_capacity(64);
    crate::store::encode_customer(&mut record, &customer);
    Ok((customer.id, record))
}

/// Loads customers into a builder, each row validated and encoded on the
/// pool (for CSV): the same report and builder as [`customers`] into
/// [`CustomerBaseBuilder::add_customer`].
pub(super) fn bulk_customers<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    builder: &mut CustomerBaseBuilder,
) -> Result<IngestReport> {
    let mut seen = Interner::default();
    run_rows(
        format,
        input,
        opts,
        &CUSTOMERS,
        encoded_customer,
        |(id, record)| {
            if !seen.intern(id.as_str())?.1 {
                return Ok(Err(RowProblem::new(
                    "customer_id",
                    format!("duplicate customer id `{id}`"),
                )));
            }
            sink_outcome(
                builder
                    .add_encoded_customer(id.as_str(), &record)
                    .map(|_| ()),
            )
        },
    )
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
        sink_outcome(sink(t))
    })
}

/// Reads and validates touchpoints, handing each valid one (labels as
/// indices into the [`TouchpointLabels`] handed with it) to `accept` in
/// input order: the parallel pipeline for CSV, row by row otherwise.
fn read_touchpoints_with<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    mut accept: impl FnMut(
        TouchpointFields<'_, u32, u32>,
        &mut TouchpointLabels,
    ) -> Result<std::result::Result<(), RowProblem>>,
) -> Result<IngestReport> {
    #[cfg(feature = "parallel")]
    if pipelined(format) {
        return account_pipeline(opts, |account| {
            pipeline::touchpoints_csv(input, opts, &TOUCHPOINTS, |line, row, labels| {
                account.record_row(line, row, |t| accept(t, labels))
            })
        });
    }
    let mut labels = TouchpointLabels::default();
    run(
        format,
        input,
        opts,
        &TOUCHPOINTS,
        |_, row| match rows::touchpoint_fields(row, opts, &mut labels) {
            Ok(t) => accept(t, &mut labels),
            Err(p) => Ok(Err(p)),
        },
    )
}

/// Loads touchpoints into a builder with their customer ids resolved together
/// at the end (see [`crate::store`]) and each distinct label parsed and coded
/// once per batch. The report and the builder are the same as
/// [`touchpoints`] into [`CustomerBaseBuilder::add_touchpoint`] gives row by
/// row, also when reading stops at an error (strict mode, I/O).
pub(super) fn bulk_touchpoints<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    builder: &mut CustomerBaseBuilder,
) -> Result<IngestReport> {
    opts.check()?;
    builder.begin_deferred_touchpoints()?;
    #[cfg(feature = "parallel")]
    if pipelined(format) {
        let read = touchpoint_columns(input, opts, builder);
        return finish_deferred(builder, read);
    }
    let read = read_touchpoints_with(format, input, opts, |t, labels| {
        let row = TouchpointRef {
            customer_id: &t.customer_id,
            time_us: to_micros(t.timestamp),
            channel: labels
                .channels
                .code(t.channel, |c| builder.channel_code(c))?,
            kind: labels.kinds.code(t.kind, |k| builder.kind_code(k))?,
            campaign: t.campaign.as_deref(),
            topic: t.topic.as_deref(),
            session_id: t.session_id.as_deref(),
            cost: t.cost,
            content_stage: t.content_stage,
        };
        sink_outcome(builder.push_deferred_touchpoint(&row))
    });
    finish_deferred(builder, read)
}

/// Reads a touchpoints CSV in columns, piece by piece on the pool, and
/// appends each piece's accepted rows to the builder's deferred load (its
/// labels coded in row order, as row by row): the same report and builder as
/// [`touchpoints`] into [`CustomerBaseBuilder::add_touchpoint`].
#[cfg(feature = "parallel")]
fn touchpoint_columns<R: Read + Send>(
    input: R,
    opts: &IngestOptions,
    builder: &mut CustomerBaseBuilder,
) -> Result<IngestReport> {
    let hasher = builder
        .deferred_hasher()
        .cloned()
        .ok_or_else(|| Error::InvalidInput("no bulk load of touchpoints in progress".into()))?;
    account_pipeline(opts, |account| {
        pipeline::touchpoint_columns_csv(input, opts, &TOUCHPOINTS, &hasher, |mut piece| {
            // In strict mode nothing after the first rejection is kept.
            let keep = match (opts.mode, piece.rejected.first()) {
                (super::Mode::Strict, Some(&(before, _, _))) => before,
                _ => piece.columns.len(),
            };
            let labels = &mut piece.labels;
            let cols = &mut piece.columns;
            for c in cols.channel.iter_mut().take(keep) {
                *c = u32::from(labels.channels.code(*c, |v| builder.channel_code(v))?);
            }
            for k in cols.kind.iter_mut().take(keep) {
                *k = u32::from(labels.kinds.code(*k, |v| builder.kind_code(v))?);
            }
            builder.append_deferred_touchpoints(cols, keep)?;
            account.accept_rows(keep as u64);
            for (_, line, problem) in piece.rejected {
                account.record(line, Err(problem))?;
            }
            Ok(())
        })
    })
}

/// Loads consent events into a builder with their customer ids resolved
/// together at the end; the same report and builder as [`consents`] into
/// [`CustomerBaseBuilder::add_consent_event`] row by row.
pub(super) fn bulk_consents<R: Read + Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    builder: &mut CustomerBaseBuilder,
) -> Result<IngestReport> {
    opts.check()?;
    builder.begin_deferred_consents()?;
    let read = run_rows(format, input, opts, &CONSENTS, rows::consent, |(id, e)| {
        sink_outcome(builder.push_deferred_consent(id.as_str(), &e))
    });
    finish_deferred(builder, read)
}

/// Ends a deferred load: as row by row, the rows read before an error stay in the builder.
fn finish_deferred(
    builder: &mut CustomerBaseBuilder,
    read: Result<IngestReport>,
) -> Result<IngestReport> {
    builder.finish_deferred()?;
    read
}

/// Whether an input is read by the parallel pipeline: CSV, outside the rayon
/// pool (inside a worker the pipeline could wait on the very pool it feeds,
/// e.g. a one-thread pool, so nested calls read row by row).
#[cfg(feature = "parallel")]
fn pipelined(format: Format) -> bool {
    format == Format::Csv && rayon::current_thread_index().is_none()
}

/// Runs a pipeline read with the options checked and every row accounted for.
#[cfg(feature = "parallel")]
fn account_pipeline(
    opts: &IngestOptions,
    read: impl FnOnce(&mut Accounting<'_>) -> Result<()>,
) -> Result<IngestReport> {
    opts.check()?;
    let mut account = Accounting::new(opts);
    read(&mut account)?;
    Ok(account.report)
}

/// Drives one input of a record kind validated by `validate` (in parallel
/// for CSV when the `parallel` feature is on: rows are validated on the pool
/// and handed to `accept` in input order, with the same report as row by row).
pub(super) fn run_rows<R: Read + Send, T: Send>(
    format: Format,
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    validate: fn(&dyn Fields, &IngestOptions) -> std::result::Result<T, RowProblem>,
    mut accept: impl FnMut(T) -> Result<std::result::Result<(), RowProblem>>,
) -> Result<IngestReport> {
    #[cfg(feature = "parallel")]
    if pipelined(format) {
        return account_pipeline(opts, |account| {
            pipeline::rows_csv(
                input,
                opts,
                schema,
                |row| validate(row, opts),
                |line, row| account.record_row(line, row, &mut accept),
            )
        });
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
        sink_outcome(sink(id, e))
    })
}

/// A file's format (from its extension), the opened file and its name for reports.
pub(super) fn file_input(path: &Path) -> Result<(Format, File, String)> {
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
