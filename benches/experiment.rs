//! Experiment evaluation from raw observations: 10M units × 3 variants × 20
//! segments, statistics for a revenue metric (with a CUPED covariate) and a
//! conversion metric in one pass, then the full evaluation (Welch,
//! pooled z, relative lift, CUPED, sequential, Bayesian, SRM, Holm/BH,
//! Cochran's Q) overall and in every segment.
//!
//! `cargo bench --bench experiment`. Without environment variables the data
//! are generated here (seeded). For the side-by-side figures in
//! BENCHMARKS.md, set `CUSTINSIGHT_BENCH_EXPERIMENT` to the directory with
//! the raw columns the pandas + scipy peer reads (`variant.u8`,
//! `segment.u8`, `value.f64`, `covariate.f64`, `converted.u8`).

use criterion::{Criterion, criterion_group, criterion_main};
use custinsight::experiment::evaluate::{EvalParams, evaluate};
use custinsight::experiment::stats::{ExperimentStats, Metric, MetricColumn, MetricKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Columns {
    variant: Vec<u8>,
    segment: Vec<u8>,
    value: Vec<f64>,
    covariate: Vec<f64>,
    converted: Vec<f64>,
}

fn read_u8(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!("{dir}/{name}")).expect("readable column file")
}

fn read_f64(dir: &str, name: &str) -> Vec<f64> {
    read_u8(dir, name)
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect()
}

fn columns() -> Columns {
    if let Ok(dir) = std::env::var("CUSTINSIGHT_BENCH_EXPERIMENT") {
        return Columns {
            variant: read_u8(&dir, "variant.u8"),
            segment: read_u8(&dir, "segment.u8"),
            value: read_f64(&dir, "value.f64"),
            covariate: read_f64(&dir, "covariate.f64"),
            converted: read_u8(&dir, "converted.u8")
                .into_iter()
                .map(f64::from)
                .collect(),
        };
    }
    let n = 10_000_000;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut c = Columns {
        variant: Vec::with_capacity(n),
        segment: Vec::with_capacity(n),
        value: Vec::with_capacity(n),
        covariate: Vec::with_capacity(n),
        converted: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let v = rng.gen_range(0..3u8);
        let s = rng.gen_range(0..20u8);
        let propensity: f64 = rng.r#gen();
        let pre = if rng.r#gen::<f64>() < 0.1 + 0.2 * propensity {
            20.0 + 80.0 * propensity * rng.r#gen::<f64>()
        } else {
            0.0
        };
        let p = 0.08 + 0.01 * f64::from(v) + 0.002 * f64::from(s) + 0.1 * propensity;
        let converted = rng.r#gen::<f64>() < p;
        c.variant.push(v);
        c.segment.push(s);
        c.covariate.push(pre);
        c.converted.push(f64::from(u8::from(converted)));
        c.value.push(if converted {
            25.0 + 75.0 * propensity * rng.r#gen::<f64>()
        } else {
            0.0
        });
    }
    c
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:02}")).collect()
}

fn bench(c: &mut Criterion) {
    let cols = columns();
    let variants = vec![
        "control".to_owned(),
        "treat_a".to_owned(),
        "treat_b".to_owned(),
    ];
    let segments = names("seg", 20);
    let params = EvalParams {
        planned_weights: Some(vec![0.34, 0.33, 0.33]),
        ..EvalParams::default()
    };
    let run = || {
        let stats = ExperimentStats::from_columns_many(
            variants.clone(),
            segments.clone(),
            &cols.variant,
            Some(&cols.segment),
            &[
                MetricColumn {
                    metric: Metric::new("revenue", MetricKind::Mean),
                    value: &cols.value,
                    second: Some(&cols.covariate),
                },
                MetricColumn {
                    metric: Metric::new("converted", MetricKind::Binomial),
                    value: &cols.converted,
                    second: None,
                },
            ],
        )
        .expect("statistics");
        (
            evaluate(&stats[0], &params).expect("revenue evaluation"),
            evaluate(&stats[1], &params).expect("conversion evaluation"),
        )
    };
    // The figures the peer prints, for the side-by-side check.
    let (revenue, conversion) = run();
    let a = revenue.overall.variants[1]
        .comparison
        .as_ref()
        .expect("treatment");
    let z = conversion.overall.variants[1]
        .comparison
        .as_ref()
        .expect("treatment");
    let (abs, rel) = (
        a.absolute.expect("absolute test"),
        a.relative.expect("relative effect"),
    );
    eprintln!(
        "overall treat_a: abs {:.6} [{:.6}, {:.6}] p {:.4e}; rel (CUPED) {:.6} theta {:.4} p {:.3e}; \
         conversion p {:.3e}; srm p {:.4}",
        a.abs_effect,
        abs.ci[0],
        abs.ci[1],
        abs.p_value,
        rel.estimate,
        a.cuped.map_or(f64::NAN, |c| c.theta),
        rel.p_value,
        z.absolute.expect("absolute test").p_value,
        revenue.overall.sample_ratio.p_value
    );

    let mut group = c.benchmark_group("experiment");
    group.sample_size(10);
    group.bench_function(
        format!(
            "statistics + evaluation, {} rows × 3 × 20",
            cols.value.len()
        ),
        |b| b.iter(run),
    );
    let stats = ExperimentStats::from_columns(
        Metric::new("revenue", MetricKind::Mean),
        variants.clone(),
        segments.clone(),
        &cols.variant,
        Some(&cols.segment),
        &cols.value,
        Some(&cols.covariate),
    )
    .expect("revenue statistics");
    group.bench_function("evaluation only (revenue, CUPED)", |b| {
        b.iter(|| evaluate(&stats, &params).expect("evaluation"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
