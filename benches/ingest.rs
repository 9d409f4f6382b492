//! CSV and JSON Lines ingestion throughput.
//!
//! `cargo bench --bench ingest`. Compare with polars' `read_csv` on the same
//! shape of file (see BENCHMARKS.md).

mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use custinsight::ingest::{self, Format, IngestOptions, Loader, TransactionSink};
use custinsight::store::TransactionRef;

/// Counts rows: measures parsing and validation alone.
struct Count(u64);

impl TransactionSink for Count {
    fn accept(&mut self, _t: TransactionRef<'_>) -> custinsight::Result<()> {
        self.0 += 1;
        Ok(())
    }

    fn checks_order_ids(&self) -> bool {
        // Skip the reader's duplicate tracking so this case is parse + validate only.
        true
    }
}

/// The input: `CUSTINSIGHT_BENCH_CSV=path` benchmarks that file (e.g. the one a
/// peer reads, for a side-by-side figure); otherwise 1M generated rows.
fn input() -> (Vec<u8>, u64) {
    if let Ok(path) = std::env::var("CUSTINSIGHT_BENCH_CSV") {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let rows = bytes
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            .saturating_sub(1) as u64;
        return (bytes, rows);
    }
    let rows = 1_000_000;
    (common::transactions_csv(rows, 7), rows as u64)
}

fn bench(c: &mut Criterion) {
    let (csv, rows) = input();
    let opts = IngestOptions::default();
    let mut g = c.benchmark_group("ingest_csv");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(csv.len() as u64));
    g.bench_function("parse_validate", |b| {
        b.iter(|| {
            let mut sink = Count(0);
            let report = ingest::transactions(Format::Csv, csv.as_slice(), &opts, &mut sink)
                .expect("valid input");
            assert_eq!(report.accepted, rows);
        })
    });
    g.bench_function("parse_validate_dedupe_vec", |b| {
        b.iter_batched(
            Vec::new,
            |mut v: Vec<custinsight::records::Transaction>| {
                ingest::transactions(Format::Csv, csv.as_slice(), &opts, &mut v)
                    .expect("valid input");
                v
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("load_customer_base", |b| {
        b.iter(|| {
            let mut loader = Loader::new(opts.clone());
            loader
                .transactions(Format::Csv, csv.as_slice(), "bench")
                .expect("valid input");
            loader.finish().expect("builds")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
