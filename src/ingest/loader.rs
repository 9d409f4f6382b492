//! The loader: several inputs into one customer base, with a report per input.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::options::{Format, IngestOptions, Mode};
use super::readers::{
    bulk_consents, bulk_customers, bulk_touchpoints, bulk_transactions, file_input, transactions,
};
use super::report::IngestReport;
use crate::error::Result;
use crate::store::{CustomerBase, CustomerBaseBuilder};

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
    /// As [`customers`](super::customers).
    pub fn customers<R: Read + Send>(
        &mut self,
        format: Format,
        input: R,
        source: &str,
    ) -> Result<IngestReport> {
        // Rows are validated and encoded on the pool; the report is the one row by row gives.
        let report = bulk_customers(format, input, &self.opts, &mut self.builder)?;
        self.record("customers", source, &report);
        Ok(report)
    }

    /// Loads touchpoints from a reader.
    ///
    /// # Errors
    /// As [`touchpoints`](super::touchpoints).
    pub fn touchpoints<R: Read + Send>(
        &mut self,
        format: Format,
        input: R,
        source: &str,
    ) -> Result<IngestReport> {
        // Customer ids are resolved together at the end; the report is the one row by row gives.
        let report = bulk_touchpoints(format, input, &self.opts, &mut self.builder)?;
        self.record("touchpoints", source, &report);
        Ok(report)
    }

    /// Loads consent events from a reader.
    ///
    /// # Errors
    /// As [`consents`](super::consents).
    pub fn consents<R: Read + Send>(
        &mut self,
        format: Format,
        input: R,
        source: &str,
    ) -> Result<IngestReport> {
        let report = bulk_consents(format, input, &self.opts, &mut self.builder)?;
        self.record("consents", source, &report);
        Ok(report)
    }

    /// Loads a transactions file (format from its extension).
    ///
    /// # Errors
    /// As [`transactions`], plus [`Error::Io`](crate::Error::Io) when the file cannot be opened.
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
    /// As [`customers`](Self::customers), plus [`Error::Io`](crate::Error::Io).
    pub fn customers_file(&mut self, path: impl AsRef<Path>) -> Result<IngestReport> {
        let path = path.as_ref();
        let (format, file, name) = file_input(path)?;
        self.customers(format, file, &name)
    }

    /// Loads a touchpoints file.
    ///
    /// # Errors
    /// As [`touchpoints`](super::touchpoints), plus [`Error::Io`](crate::Error::Io).
    pub fn touchpoints_file(&mut self, path: impl AsRef<Path>) -> Result<IngestReport> {
        let path = path.as_ref();
        if let Ok(meta) = std::fs::metadata(path) {
            // Rows are about 48 bytes; room for rows of 36 costs only address
            // space (pages are touched as rows arrive), while growing a full
            // column means copying it, so the estimate errs on the high side.
            let estimate = usize::try_from(meta.len() / 36).unwrap_or(0).min(1 << 30);
            self.builder.reserve(0, 0, estimate);
        }
        let (format, file, name) = file_input(path)?;
        self.touchpoints(format, file, &name)
    }

    /// Loads a consent file.
    ///
    /// # Errors
    /// As [`consents`](super::consents), plus [`Error::Io`](crate::Error::Io).
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
