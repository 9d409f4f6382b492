//! One round of the loop, and its steps, on the synthetic population's
//! dirty files.
//!
//! `cargo bench --bench round` (20,000 customers; set
//! `CUSTINSIGHT_BENCH_ROUND_CUSTOMERS` for another size). The files are
//! written once; every iteration reads them (`read`), or runs a first round
//! on inputs read beforehand (`first_round`), or a second round from the
//! first's state with its simulated outcomes (`second_round`), or scores
//! the busiest customer alone from a scoring bundle (`score_one_customer`).
//! Per-step times
//! and peak memory at a million customers come from the `round` example; see
//! BENCHMARKS.md.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use custinsight::ingest::IngestOptions;
use custinsight::round::{Inputs, Round, RoundParams};
use custinsight::store::OwnedHistory;
use custinsight::synth::{Population, SimulatedExperiment, SynthParams};

fn round(c: &mut Criterion) {
    let customers: usize = std::env::var("CUSTINSIGHT_BENCH_ROUND_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let pop = Population::generate(&SynthParams::with_customers(customers).with_seed(42))
        .expect("population");
    let dir = std::env::temp_dir().join(format!("custinsight-bench-round-{customers}"));
    pop.write_sources(&dir, &pop.full_view()).expect("files");
    let params = RoundParams::default();
    let month_ago = pop.observation_end - jiff::SignedDuration::from_hours(28 * 24);
    let read = || Inputs::read_dir(&dir, &IngestOptions::default()).expect("inputs");
    let first = Round::run(read(), month_ago, &params, None).expect("round");
    let truth = pop.true_customers(&first.base);
    let outcomes = pop
        .simulate_outcomes(
            &first.base,
            &truth,
            &SimulatedExperiment {
                variant: &first.assignment.variant,
                variants: &params.experiment.design.variants,
                covariate: None,
                segments: None,
                draw: 1,
            },
        )
        .expect("outcomes");
    let mut group = c.benchmark_group(format!("round/{customers}"));
    group.sample_size(10);
    group.bench_function("read", |b| b.iter(read));
    group.bench_function("first_round", |b| {
        b.iter_batched(
            read,
            |inputs| Round::run(inputs, month_ago, &params, None).expect("round"),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("second_round", |b| {
        b.iter_batched(
            || {
                let mut inputs = read();
                inputs.outcomes = Some(outcomes.clone());
                (inputs, first.state.clone())
            },
            |(inputs, state)| {
                Round::run(inputs, pop.observation_end, &params, Some(state)).expect("round")
            },
            BatchSize::LargeInput,
        )
    });
    // One customer scored from a persisted bundle, from their records: the
    // history built (sorted, encoded), lifecycle, features, segment, variant.
    let bundle = first.state.scoring_bundle();
    let base = &first.base;
    let c = base
        .customer_indices()
        .max_by_key(|&c| base.transaction_range(c).len() + base.touchpoint_range(c).len())
        .expect("a customer");
    let transactions: Vec<_> = base
        .transaction_range(c)
        .filter_map(|i| base.transaction(i))
        .collect();
    let touchpoints: Vec<_> = base
        .touchpoint_range(c)
        .filter_map(|i| base.touchpoint(i))
        .collect();
    let record = base.customer(c);
    let consent = record.as_ref().map(|x| &x.consent);
    let id = base.customer_id(c).to_owned();
    group.sample_size(100);
    group.bench_function(
        format!(
            "score_one_customer/{}tx_{}tp",
            transactions.len(),
            touchpoints.len()
        ),
        |b| {
            b.iter(|| {
                let history = OwnedHistory::new(&transactions, &touchpoints).expect("history");
                bundle
                    .score(&id, &history.view(), consent, month_ago)
                    .expect("score")
            })
        },
    );
    group.finish();
}

criterion_group!(benches, round);
criterion_main!(benches);
