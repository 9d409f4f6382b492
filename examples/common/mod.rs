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

/// A CSV reader over `path` with its header, names trimmed.
#[allow(dead_code)] // not every example reads CSV through this
pub fn open_csv(
    path: &std::path::Path,
) -> custinsight::Result<(csv::Reader<std::fs::File>, Vec<String>)> {
    let file = std::fs::File::open(path)
        .map_err(|e| custinsight::Error::io(path.display().to_string(), e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let header = reader
        .headers()
        .map_err(|e| custinsight::Error::InvalidInput(format!("{}: header: {e}", path.display())))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    Ok((reader, header))
}
