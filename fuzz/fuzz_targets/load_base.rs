//! Fuzz target: a customer base loaded from four fuzzed CSV inputs
//! (transactions, customers, touchpoints, consents, separated by the byte
//! 0x1E) and built. Every row is accounted for, and building the base either
//! succeeds or returns a typed error.
#![no_main]

use custinsight::ingest::{Format, IngestOptions, IngestReport, Loader};
use libfuzzer_sys::fuzz_target;

fn accounted(report: &IngestReport) {
    assert_eq!(report.accepted + report.rejected, report.rows, "{report:?}");
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0x1E);
    let mut loader = Loader::new(IngestOptions::default());
    if let Some(part) = parts.next() {
        match loader.transactions(Format::Csv, part, "transactions") {
            Ok(report) => accounted(&report),
            Err(_) => return,
        }
    }
    if let Some(part) = parts.next() {
        match loader.customers(Format::Csv, part, "customers") {
            Ok(report) => accounted(&report),
            Err(_) => return,
        }
    }
    if let Some(part) = parts.next() {
        match loader.touchpoints(Format::Csv, part, "touchpoints") {
            Ok(report) => accounted(&report),
            Err(_) => return,
        }
    }
    if let Some(part) = parts.next() {
        match loader.consents(Format::Csv, part, "consents") {
            Ok(report) => accounted(&report),
            Err(_) => return,
        }
    }
    if let Ok((base, _)) = loader.finish() {
        assert!(base.n_transactions() <= data.len());
    }
});
