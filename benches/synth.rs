//! Synthetic population generation.
//!
//! `cargo bench --bench synth`. Goal: 1M customers / ~10M transactions in ≤ 10 s on 2 cores.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use custinsight::synth::{Population, SynthParams};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("synth_generate");
    g.sample_size(10);
    for n in [20_000usize, 1_000_000] {
        let params = SynthParams::with_customers(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{n}_customers"), |b| {
            b.iter_with_large_drop(|| {
                Population::generate(&params.clone().with_seed(42)).expect("valid params")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
