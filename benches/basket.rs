//! Frequent itemsets and rules on 100,000 baskets.
//!
//! `cargo bench --bench basket`. Without an environment variable the
//! baskets are generated here (seeded, in the shape of `gen_retail.py` in
//! BENCHMARKS.md: 2,000 items with Zipf popularity, sizes 1 + Poisson(9),
//! 40 planted groups); `CUSTINSIGHT_BENCH_BASKETS` points the bench at a
//! FIMI file instead (the one the peers read). Mining is timed at minimum
//! supports of 0.5 % and 0.1 %, and the rules of the 0.1 % itemsets.

use criterion::{Criterion, criterion_group, criterion_main};
use custinsight::basket::{
    Baskets, MinSupport, MiningParams, RuleParams, association_rules, frequent_itemsets,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn baskets() -> Baskets {
    if let Ok(path) = std::env::var("CUSTINSIGHT_BENCH_BASKETS") {
        let text = std::fs::read_to_string(&path).expect("readable FIMI file");
        return Baskets::parse_fimi(&text).expect("baskets");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let items = 2_000usize;
    // Zipf(1.1) popularity as a cumulative table.
    let weights: Vec<f64> = (1..=items).map(|k| (k as f64).powf(-1.1)).collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(items);
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cumulative.push(acc);
    }
    let groups: Vec<Vec<usize>> = (0..40)
        .map(|_| {
            (0..rng.gen_range(2..5))
                .map(|_| rng.gen_range(0..items))
                .collect()
        })
        .collect();
    let lists = (0..100_000).map(|_| {
        // 1 + Poisson(9) by counting exponential gaps.
        let mut size = 1;
        let mut t: f64 = -rng.r#gen::<f64>().ln();
        while t < 9.0 {
            size += 1;
            t -= rng.r#gen::<f64>().ln();
        }
        let mut b: Vec<String> = (0..size)
            .map(|_| {
                let u: f64 = rng.r#gen();
                cumulative
                    .partition_point(|&c| c < u)
                    .min(items - 1)
                    .to_string()
            })
            .collect();
        for g in &groups {
            if rng.gen_bool(0.02) {
                b.extend(g.iter().map(usize::to_string));
            }
        }
        b
    });
    Baskets::from_baskets(lists.collect::<Vec<_>>()).expect("baskets")
}

fn bench(c: &mut Criterion) {
    let baskets = baskets();
    let mut group = c.benchmark_group("basket");
    group.sample_size(20);
    for (name, share) in [("itemsets_0.5pct", 0.005), ("itemsets_0.1pct", 0.001)] {
        let params = MiningParams {
            min_support: MinSupport::Share(share),
            ..MiningParams::default()
        };
        group.bench_function(name, |b| {
            b.iter(|| frequent_itemsets(&baskets, &params).unwrap())
        });
    }
    let itemsets = frequent_itemsets(
        &baskets,
        &MiningParams {
            min_support: MinSupport::Share(0.001),
            ..MiningParams::default()
        },
    )
    .unwrap();
    group.bench_function("rules_0.1pct", |b| {
        b.iter(|| association_rules(&itemsets, &RuleParams::default()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
