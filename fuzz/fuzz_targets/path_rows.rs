//! Fuzz target: ChannelAttribution-style path tables
//! (`path,total_conversions,total_null[,total_conversion_value]`, paths as
//! `a > b > c`), read and turned into a path table. Bad rows are rejected
//! with their line, never a panic, and every row is accounted for.
#![no_main]

use custinsight::touchpoints::paths::PathTable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = PathTable::read_rows(data) else {
        return;
    };
    if let Ok((table, report)) = PathTable::from_rows(&rows) {
        assert_eq!(report.accepted + report.rejected, report.rows, "{report:?}");
        assert_eq!(report.rows, rows.len() as u64);
        for p in 0..table.len() {
            let _ = table.path_string(p);
        }
        assert!(table.total_conversions() >= 0.0 || table.total_conversions().is_nan());
    }
});
