//! Attribution on ~200k unique paths and journey building from raw events.
//!
//! `cargo bench --bench touchpoints`. Without environment variables the data
//! are generated here (seeded): a path table of about 200,000 unique paths
//! from 1M journeys over 12 channels, and 1M touchpoint events. For the
//! side-by-side figures in BENCHMARKS.md, point the bench at the files the
//! peers read:
//!
//! - `CUSTINSIGHT_BENCH_PATHS`: a `path,total_conversions,total_null,total_conversion_value` CSV;
//! - `CUSTINSIGHT_BENCH_TOUCHPOINTS`: a `customer_id,timestamp,channel,kind` CSV;
//!   with it, `load/touchpoints_file_into_base` also times loading that file
//!   into a `CustomerBase` (`Loader::touchpoints_file`, then `finish`).
//!
//! `causal/1m_journeys_12_channels` fits causal attribution (200 bootstrap
//! replicates, a four-level covariate) on 1,000,000 generated journeys.

use std::fmt::Write as _;

use criterion::{Criterion, criterion_group, criterion_main};
use custinsight::ingest::{IngestOptions, Loader};
use custinsight::prelude::*;
use custinsight::touchpoints::attribution::{
    CausalParams, Covariate, Covariates, HeuristicParams, MarkovParams, ShapleyParams, causal,
    heuristics, markov, shapley,
};
use custinsight::touchpoints::journey::{ConversionSource, JourneyParams, Journeys};
use custinsight::touchpoints::paths::{OpenJourneys, PathTable, RawPathRow};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CHANNELS: [&str; 12] = [
    "paid_search",
    "organic_search",
    "email",
    "display",
    "social_paid",
    "social_organic",
    "affiliate",
    "direct",
    "referral",
    "video",
    "sms",
    "push",
];

/// Path rows as text, as the `attribution` example holds them before timing starts.
fn path_rows() -> Vec<RawPathRow> {
    if let Ok(path) = std::env::var("CUSTINSIGHT_BENCH_PATHS") {
        let file = std::fs::File::open(&path).expect("readable paths file");
        return PathTable::read_rows(std::io::BufReader::new(file)).expect("path rows");
    }
    // 1M journeys, lengths 1..=15 (geometric-like), skewed channel popularity.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let weights: Vec<f64> = (0..12).map(|i| 1.0 / (1.0 + i as f64)).collect();
    let total: f64 = weights.iter().sum();
    let mut counts: hashbrown::HashMap<String, (u32, u32)> = hashbrown::HashMap::new();
    let mut path = String::new();
    for _ in 0..1_000_000 {
        path.clear();
        let mut len = 1;
        while len < 15 && rng.r#gen::<f64>() < 0.62 {
            len += 1;
        }
        let mut p_convert = 0.02;
        for step in 0..len {
            let mut u = rng.r#gen::<f64>() * total;
            let mut c = 0;
            while c < 11 && u > weights[c] {
                u -= weights[c];
                c += 1;
            }
            if step > 0 {
                path.push_str(" > ");
            }
            path.push_str(CHANNELS[c]);
            p_convert += 0.004 * (12 - c) as f64;
        }
        let entry = counts.entry(path.clone()).or_insert((0, 0));
        if rng.r#gen::<f64>() < p_convert {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    let mut rows: Vec<(String, (u32, u32))> = counts.into_iter().collect();
    rows.sort();
    rows.into_iter()
        .enumerate()
        .map(|(i, (path, (conv, null)))| RawPathRow {
            line: i as u64 + 2,
            path,
            conversions: conv.to_string(),
            nulls: null.to_string(),
            value: Some(format!("{:.2}", f64::from(conv) * 43.0)),
        })
        .collect()
}

fn touchpoint_base() -> CustomerBase {
    let mut loader = Loader::new(IngestOptions::default());
    if let Ok(path) = std::env::var("CUSTINSIGHT_BENCH_TOUCHPOINTS") {
        loader
            .touchpoints_file(&path)
            .expect("readable touchpoints file");
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut csv = String::from("customer_id,timestamp,channel,kind\n");
        let start = 1_700_000_000i64;
        let kinds = [
            "impression",
            "visit",
            "click",
            "product_view",
            "add_to_cart",
        ];
        for _ in 0..1_000_000 {
            let customer = rng.gen_range(0..100_000u32);
            let t = jiff::Timestamp::from_second(start + rng.gen_range(0..90 * 86_400))
                .expect("in range");
            let kind = if rng.r#gen::<f64>() < 0.03 {
                "purchase"
            } else {
                kinds[rng.gen_range(0..kinds.len())]
            };
            let _ = writeln!(
                csv,
                "{customer},{t},{},{kind}",
                CHANNELS[rng.gen_range(0..12)]
            );
        }
        loader
            .touchpoints(
                custinsight::ingest::Format::Csv,
                csv.as_bytes(),
                "generated",
            )
            .expect("generated touchpoints");
    }
    loader.finish().expect("base").0
}

/// 250,000 customers of four kinds with four journeys each, 40 days apart
/// (beyond the 30-day lookback): one to four touches of 12 channels within
/// an hour, converting by a logistic truth in the channels and the kind.
fn journey_base() -> (CustomerBase, Covariates) {
    const EFFECTS: [f64; 12] = [0.9, 0.2, 0.6, -0.4, 0.1, 0.0, 0.4, 0.3, 0.5, -0.2, 0.2, 0.1];
    let channels: Vec<Channel> = CHANNELS
        .iter()
        .map(|c| c.parse().expect("channel"))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut b = CustomerBase::builder();
    let start = jiff::Timestamp::from_second(1_700_000_000).expect("in range");
    let customers = 250_000usize;
    let mut kinds = Vec::with_capacity(customers);
    for i in 0..customers {
        let id = CustomerId::new(format!("c{i}")).expect("id");
        let kind = rng.gen_range(0..4u32);
        kinds.push(Some(kind));
        for journey in 0..4 {
            let at = start + jiff::SignedDuration::from_hours(24 * 40 * journey + (i % 500) as i64);
            let mut logit = -1.5 + 0.4 * f64::from(kind);
            let mut seen = [false; 12];
            for k in 0..rng.gen_range(1..=4) {
                let c = (rng.gen_range(0..12) + kind as usize * 2) % 12;
                if !seen[c] {
                    seen[c] = true;
                    logit += EFFECTS[c];
                }
                let t = at + jiff::SignedDuration::from_mins(10 * k);
                b.add_touchpoint(&Touchpoint::new(
                    id.clone(),
                    t,
                    channels[c].clone(),
                    TouchpointKind::Click,
                ))
                .expect("touchpoint");
            }
            if rng.r#gen::<f64>() < 1.0 / (1.0 + (-logit).exp()) {
                let t = at + jiff::SignedDuration::from_hours(1);
                b.add_touchpoint(&Touchpoint::new(
                    id.clone(),
                    t,
                    Channel::Web,
                    TouchpointKind::Purchase,
                ))
                .expect("purchase");
            }
        }
    }
    let base = b.build().expect("base");
    let covariates = Covariates::for_customers(base.n_customers())
        .with(Covariate::Categorical {
            name: "kind".into(),
            levels: (0..4).map(|k| format!("kind {k}")).collect(),
            codes: kinds,
        })
        .expect("covariates");
    (base, covariates)
}

fn bench(c: &mut Criterion) {
    let rows = path_rows();
    let (table, _) = PathTable::from_rows(&rows).expect("table");
    let mut g = c.benchmark_group("attribution");
    g.sample_size(10);
    // The comparison: rows in memory as text → order-1 Markov plus the heuristics.
    g.bench_function("parse_heuristics_markov_order1", |b| {
        b.iter(|| {
            let (t, _) = PathTable::from_rows(&rows).expect("table");
            let h = heuristics(&t, &HeuristicParams::default()).expect("heuristics");
            let m = markov(&t, &MarkovParams::default()).expect("markov");
            (h, m)
        })
    });
    g.bench_function("parse_paths", |b| {
        b.iter(|| PathTable::from_rows(&rows).expect("table"))
    });
    g.bench_function("heuristics", |b| {
        b.iter(|| heuristics(&table, &HeuristicParams::default()).expect("heuristics"))
    });
    for order in 1..=3 {
        g.bench_function(format!("markov_order{order}"), |b| {
            b.iter(|| markov(&table, &MarkovParams { order }).expect("markov"))
        });
    }
    g.bench_function("shapley_exact_order1", |b| {
        b.iter(|| shapley(&table, &ShapleyParams::default()).expect("shapley"))
    });
    g.finish();

    let base = touchpoint_base();
    let mut g = c.benchmark_group("journeys");
    g.sample_size(10);
    let params = JourneyParams {
        conversions: ConversionSource::PurchaseTouchpoints,
        ..JourneyParams::default()
    };
    g.bench_function(format!("build_{}_events", base.n_touchpoints()), |b| {
        b.iter(|| Journeys::build(&base, &params).expect("journeys"))
    });
    g.bench_function("build_and_path_table", |b| {
        b.iter(|| {
            let j = Journeys::build(&base, &params).expect("journeys");
            PathTable::from_journeys(&j, &base, OpenJourneys::NotConverting).expect("paths")
        })
    });
    g.finish();

    // Loading the raw events themselves, only for a file the peers read too.
    if let Ok(path) = std::env::var("CUSTINSIGHT_BENCH_TOUCHPOINTS") {
        let mut g = c.benchmark_group("load");
        g.sample_size(10);
        if let Ok(meta) = std::fs::metadata(&path) {
            g.throughput(criterion::Throughput::Bytes(meta.len()));
        }
        g.bench_function("touchpoints_file_into_base", |b| {
            b.iter(|| {
                let mut loader = Loader::new(IngestOptions::default());
                loader
                    .touchpoints_file(&path)
                    .expect("readable touchpoints file");
                loader.finish().expect("base").0
            })
        });
        g.finish();
    }

    let (base, covariates) = journey_base();
    let journeys = Journeys::build(
        &base,
        &JourneyParams {
            conversions: ConversionSource::PurchaseTouchpoints,
            ..JourneyParams::default()
        },
    )
    .expect("journeys");
    let mut g = c.benchmark_group("causal");
    g.sample_size(10);
    let params = CausalParams::default();
    g.bench_function(format!("{}_journeys_12_channels", journeys.len()), |b| {
        b.iter(|| causal(&journeys, &base, Some(&covariates), &params).expect("causal"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
