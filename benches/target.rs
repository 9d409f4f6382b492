//! Propensity models on a million customers: boosted trees (against
//! LightGBM 4.7 in BENCHMARKS.md), logistic regression, and the evaluation.
//!
//! `cargo bench --bench target`. The data follow the model of BENCHMARKS.md's
//! side-by-side run: 20 features (10 normal, 5 uniform, 5 integers 0–7) and a
//! label from a nonlinear log-odds with interactions and thresholds.

use criterion::{Criterion, criterion_group, criterion_main};
use custinsight::target::boost::{BoostParams, BoostedTrees};
use custinsight::target::logistic::{LogisticModel, LogisticParams};
use custinsight::target::metrics::evaluate_probabilities;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn customers(n: usize) -> (Array2<f64>, Vec<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(20261207);
    let mut x = Array2::zeros((n, 20));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        for j in 0..10 {
            x[[i, j]] = StandardNormal.sample(&mut rng);
        }
        for j in 10..15 {
            x[[i, j]] = rng.gen_range(0.0..1.0);
        }
        for j in 15..20 {
            x[[i, j]] = f64::from(rng.gen_range(0u8..8));
        }
        let r = x.row(i);
        let eta = -1.0 + 0.8 * r[0] - 0.6 * r[1]
            + 0.5 * r[2] * r[3]
            + (2.0 * r[4]).sin()
            + if r[10] > 0.7 { 1.2 } else { 0.0 }
            - 0.9 * r[11] * r[11]
            + 0.15 * r[15]
            - if r[16] == 3.0 { 0.3 } else { 0.0 }
            + 0.4 * r[5].abs()
            - if r[6] > 1.0 { 0.5 * r[12] } else { 0.0 };
        y.push(rng.gen_range(0.0..1.0) < 1.0 / (1.0 + (-eta).exp()));
    }
    (x, y)
}

fn bench(c: &mut Criterion) {
    let (x, y) = customers(1_000_000);
    let names: Vec<String> = (0..20).map(|j| format!("f{j}")).collect();
    let mut g = c.benchmark_group("propensity_1m_x20");
    g.sample_size(10);
    g.bench_function("boosted_trees_100_depth6_fit", |b| {
        b.iter(|| BoostedTrees::fit(&BoostParams::default(), x.view(), &y, &names).unwrap())
    });
    let model = BoostedTrees::fit(&BoostParams::default(), x.view(), &y, &names).unwrap();
    g.bench_function("boosted_trees_100_depth6_score", |b| {
        b.iter(|| model.predict_proba(x.view()).unwrap())
    });
    g.bench_function("logistic_fit", |b| {
        b.iter(|| LogisticModel::fit(&LogisticParams::default(), x.view(), &y, &names).unwrap())
    });
    let p = model.predict_proba(x.view()).unwrap();
    g.bench_function("evaluate_probabilities", |b| {
        b.iter(|| evaluate_probabilities(&p, &y).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
