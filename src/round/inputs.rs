//! A round's data: the files a nightly job finds, read through the
//! library's readers with every row accounted for.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::experiment::outcomes::Outcomes;
use crate::identity::SourceRecords;
use crate::ingest::{self, IngestOptions, IngestReport, Loader};
use crate::store::CustomerBase;

/// The account of one file read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// What the file holds: `source_records`, `customers`, `transactions`,
    /// `touchpoints`, `consents` or `experiment`.
    pub kind: String,
    /// Its path.
    pub path: String,
    /// Its rows: read, accepted, rejected (with line, field and reason).
    pub report: IngestReport,
}

/// What a round reads: source records, events keyed by them, and the
/// outcomes of the previous round's experiment, if any.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Source customer records, one table per system.
    pub records: SourceRecords,
    /// Customers, transactions, touchpoints and consent, each belonging to
    /// a source record (`source:key`) or a customer id.
    pub events: CustomerBase,
    /// What the units of the last assignment did, when known.
    pub outcomes: Option<Outcomes>,
    /// Every file read, with its account.
    pub files: Vec<FileReport>,
}

/// The files a data folder may hold, by kind, in the order they are read.
pub const INPUT_FILES: [&str; 6] = [
    "source_records",
    "customers",
    "transactions",
    "touchpoints",
    "consents",
    "experiment",
];

/// The file of a kind in `dir`: `kind.csv`, else `kind.jsonl`.
fn find(dir: &Path, kind: &str) -> Option<PathBuf> {
    ["csv", "jsonl", "ndjson"]
        .iter()
        .map(|ext| dir.join(format!("{kind}.{ext}")))
        .find(|p| p.is_file())
}

impl Inputs {
    /// Reads a data folder: `source_records`, `customers`, `transactions`,
    /// `touchpoints`, `consents` and `experiment` (each `.csv` or `.jsonl`;
    /// every one optional, but there must be records or events).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a folder without any input file; errors of
    /// the readers (an unreadable header, a missing required column, strict
    /// mode).
    pub fn read_dir(dir: impl AsRef<Path>, opts: &IngestOptions) -> Result<Inputs> {
        let dir = dir.as_ref();
        let mut files = Vec::new();
        let mut records = SourceRecords::new();
        let mut loader = Loader::new(opts.clone());
        let mut outcomes = None;
        let mut any = false;
        for kind in INPUT_FILES {
            let Some(path) = find(dir, kind) else {
                continue;
            };
            any = true;
            let report = match kind {
                "source_records" => {
                    let (read, report) = ingest::read_source_records(&path, opts)?;
                    records = read;
                    report
                }
                "customers" => loader.customers_file(&path)?,
                "transactions" => loader.transactions_file(&path)?,
                "touchpoints" => loader.touchpoints_file(&path)?,
                "consents" => loader.consents_file(&path)?,
                _ => {
                    let (read, report) = Outcomes::read_file(&path, opts)?;
                    outcomes = Some(read);
                    report
                }
            };
            files.push(FileReport {
                kind: kind.to_owned(),
                path: path.display().to_string(),
                report,
            });
        }
        if !any {
            return Err(Error::NotFound {
                what: "input file (source_records, customers, transactions, touchpoints, consents)",
                id: dir.display().to_string(),
            });
        }
        let (events, _) = loader.finish()?;
        Ok(Inputs {
            records,
            events,
            outcomes,
            files,
        })
    }

    /// Rows read, accepted and rejected over every file.
    pub fn rows(&self) -> (u64, u64, u64) {
        self.files.iter().fold((0, 0, 0), |(r, a, j), f| {
            (
                r + f.report.rows,
                a + f.report.accepted,
                j + f.report.rejected,
            )
        })
    }
}
