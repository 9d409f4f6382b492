//! What every example program shares: how it ends, and how it reports the
//! rows it read.

pub mod features;

use std::process::ExitCode;

/// Exit status 0 on success; on error, the message on stderr (never a
/// backtrace) and exit status 1. Bad arguments exit with 2 through clap.
pub fn finish(result: custinsight::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An input's account for `--json`: rows read, accepted and rejected, and
/// the first rejections with line, field and reason.
#[allow(dead_code)] // not every example reads a table
pub fn rows_json(report: &custinsight::ingest::IngestReport) -> serde_json::Value {
    serde_json::json!({
        "read": report.rows,
        "accepted": report.accepted,
        "rejected": report.rejected,
        "rejections": report.rejections.iter().take(20).collect::<Vec<_>>(),
    })
}

/// Tells stderr about rejected rows (a count and the first few, each with
/// line, field and reason), so the text output stays the result.
#[allow(dead_code)]
pub fn warn_rejections(path: &std::path::Path, report: &custinsight::ingest::IngestReport) {
    if report.rejected == 0 {
        return;
    }
    eprintln!(
        "{}: {} of {} rows rejected",
        path.display(),
        report.rejected,
        report.rows
    );
    for r in report.rejections.iter().take(5) {
        eprintln!("  line {} [{}] {}", r.line, r.field, r.reason);
    }
}

/// `error` with the input column it is about named, when it is a
/// [`custinsight::Error::TooFew`] counting something in that column (its
/// description contains one of `about`): the library counts rows of a class
/// or an arm, the program knows which column holds them.
#[allow(dead_code)]
pub fn naming_column(
    error: custinsight::Error,
    column: &str,
    about: &[&str],
) -> custinsight::Error {
    match error {
        custinsight::Error::TooFew {
            what,
            minimum,
            found,
        } if about.iter().any(|a| what.contains(a)) => custinsight::Error::TooFew {
            what: format!("column `{column}`: {what}"),
            minimum,
            found,
        },
        other => other,
    }
}
