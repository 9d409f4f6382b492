//! Fuzz target: one input of every record kind the readers take (transactions,
//! customers, touchpoints, consents, source records, a generic table), as CSV
//! or JSON Lines, in lenient or strict mode. Whatever the bytes, a reader
//! returns a report or a typed error, never panics, and every row it read is
//! either accepted or rejected.
#![no_main]

use custinsight::identity::table::SourceRecords;
use custinsight::ingest::table::{ColumnKind, ColumnSpec, TableSpec, read_table};
use custinsight::ingest::{
    self, Format, IngestOptions, IngestReport, LabelPolicy, consents, customers, touchpoints,
    transactions,
};
use libfuzzer_sys::fuzz_target;

fn accounted(report: &IngestReport, kept: Option<usize>) {
    assert_eq!(report.accepted + report.rejected, report.rows, "{report:?}");
    if let Some(kept) = kept {
        assert_eq!(kept as u64, report.accepted, "{report:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let format = if selector & 1 == 0 {
        Format::Csv
    } else {
        Format::JsonLines
    };
    let mut opts = if selector & 2 == 0 {
        IngestOptions::default()
    } else {
        IngestOptions::strict()
    };
    if selector & 4 != 0 {
        opts.unknown_labels = LabelPolicy::Reject;
    }
    match (selector >> 3) % 6 {
        0 => {
            let mut out = Vec::new();
            if let Ok(report) = transactions(format, input, &opts, &mut out) {
                accounted(&report, Some(out.len()));
            }
        }
        1 => {
            let mut n = 0usize;
            let result = customers(format, input, &opts, &mut |_| {
                n += 1;
                Ok(())
            });
            if let Ok(report) = result {
                accounted(&report, Some(n));
            }
        }
        2 => {
            let mut n = 0usize;
            let result = touchpoints(format, input, &opts, &mut |_| {
                n += 1;
                Ok(())
            });
            if let Ok(report) = result {
                accounted(&report, Some(n));
            }
        }
        3 => {
            let mut n = 0usize;
            let result = consents(format, input, &opts, &mut |_, _| {
                n += 1;
                Ok(())
            });
            if let Ok(report) = result {
                accounted(&report, Some(n));
            }
        }
        4 => {
            let mut records = SourceRecords::new();
            if let Ok(report) = ingest::source_records(format, input, &opts, &mut records) {
                accounted(&report, None);
            }
        }
        _ => {
            let spec = TableSpec::new(vec![
                ColumnSpec::text("id").required(),
                ColumnSpec::number("value").filled(),
                ColumnSpec::text("segment").aliases(&["group"]),
            ])
            .keep_others(ColumnKind::Number);
            if let Ok((table, report)) = read_table(format, input, &opts, &spec) {
                accounted(&report, Some(table.len()));
            }
        }
    }
});
