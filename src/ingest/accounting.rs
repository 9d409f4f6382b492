//! Accounting for every row of one input: a sink's errors as row rejections, the mode applied, the report kept.

use std::io::Read;

use super::options::{Format, IngestOptions, Mode};
use super::report::IngestReport;
use super::rows::{Fields, RowProblem};
use super::schema::Schema;
use super::{csv, jsonl};
use crate::error::{Error, Location, Result};

pub(crate) type RowHandler<'a> =
    dyn FnMut(u64, std::result::Result<&dyn Fields, RowProblem>) -> Result<()> + 'a;

/// Turns a sink's error into a row rejection, or passes fatal errors through.
pub(super) fn sink_problem(e: Error) -> Result<RowProblem> {
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

/// A sink's answer for one row: accepted, rejected (its problem), or a fatal error.
pub(super) fn sink_outcome(r: Result<()>) -> Result<std::result::Result<(), RowProblem>> {
    r.map(Ok).or_else(|e| sink_problem(e).map(Err))
}

/// Keeps the account of one input and applies the mode.
pub(super) struct Accounting<'o> {
    pub(super) report: IngestReport,
    opts: &'o IngestOptions,
}

impl<'o> Accounting<'o> {
    pub(super) fn new(opts: &'o IngestOptions) -> Self {
        Accounting {
            report: IngestReport::default(),
            opts,
        }
    }

    /// Records one row: its problem, or what `accept` makes of the valid row.
    pub(super) fn record_row<T>(
        &mut self,
        line: u64,
        row: std::result::Result<T, RowProblem>,
        accept: impl FnOnce(T) -> Result<std::result::Result<(), RowProblem>>,
    ) -> Result<()> {
        let outcome = match row {
            Ok(t) => accept(t)?,
            Err(problem) => Err(problem),
        };
        self.record(line, outcome)
    }

    /// Records `n` accepted rows.
    #[cfg(feature = "parallel")]
    pub(super) fn accept_rows(&mut self, n: u64) {
        self.report.accept_rows(n);
    }

    /// Records one row's outcome; in strict mode a rejection becomes [`Error::Rejected`].
    pub(super) fn record(
        &mut self,
        line: u64,
        outcome: std::result::Result<(), RowProblem>,
    ) -> Result<()> {
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
pub(super) fn run<R: Read>(
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
                account.record_row(line, row, |fields| accept(line, fields))
            };
        match format {
            Format::Csv => csv::for_each_row(input, opts, schema, &mut handler)?,
            Format::JsonLines => jsonl::for_each_row(input, opts, schema, &mut handler)?,
        }
    }
    Ok(account.report)
}
