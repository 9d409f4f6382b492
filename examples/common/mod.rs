//! What every example program shares: how it ends.

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
