//! The account of an ingestion run: every row accepted or rejected with a reason.

use serde::{Deserialize, Serialize};

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// 1-based line number where the row starts (CSV: the header is line 1).
    pub line: u64,
    /// The canonical field at fault, or `row` for whole-row problems.
    pub field: String,
    /// Why the row was rejected.
    pub reason: String,
}

/// What happened to every row of one input.
///
/// Invariant: `accepted + rejected == rows`, and `rejections.len() == rejected`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Data rows read (CSV records after the header; non-blank JSON Lines lines).
    pub rows: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Every rejection, in input order.
    pub rejections: Vec<Rejection>,
}

impl IngestReport {
    /// Whether every row was accepted.
    pub fn is_clean(&self) -> bool {
        self.rejected == 0
    }

    /// Adds another report's counts and rejections to this one.
    pub fn merge(&mut self, other: IngestReport) {
        self.rows += other.rows;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.rejections.extend(other.rejections);
    }

    /// Moves a row counted as accepted to the rejected, with its line, field
    /// and reason, when a check after reading fails (e.g. a value a program
    /// cannot use); rejections stay in line order.
    pub fn reject_accepted(
        &mut self,
        line: u64,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.accepted = self.accepted.saturating_sub(1);
        self.rejected += 1;
        let at = self.rejections.partition_point(|r| r.line <= line);
        self.rejections.insert(
            at,
            Rejection {
                line,
                field: field.into(),
                reason: reason.into(),
            },
        );
    }

    pub(crate) fn accept(&mut self) {
        self.accept_rows(1);
    }

    pub(crate) fn accept_rows(&mut self, n: u64) {
        self.rows += n;
        self.accepted += n;
    }

    pub(crate) fn reject(
        &mut self,
        line: u64,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.rows += 1;
        self.rejected += 1;
        self.rejections.push(Rejection {
            line,
            field: field.into(),
            reason: reason.into(),
        });
    }
}
