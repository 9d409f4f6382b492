//! Experiment evaluation end to end: interval coverage and false-positive
//! rates by seeded simulation, sequential testing under continuous peeking,
//! properties of the statistics and comparisons, and a per-segment
//! evaluation with a known truth.
//!
//! Simulated figures quoted in comments were observed with the seeds in this
//! file (`cargo test --test experiment_evaluation -- --nocapture` prints them).

use custinsight::error::Error;
use custinsight::experiment::Alternative;
use custinsight::experiment::evaluate::{
    Comparison, EffectPrior, EvalParams, Warning, adjust_family, compare, evaluate,
};
use custinsight::experiment::stats::{
    ArmStats, ExperimentStats, Metric, MetricKind, Observation, SecondValue,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Normal};

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn covers(ci: [f64; 2], truth: f64) -> bool {
    ci[0] <= truth && truth <= ci[1]
}

// ---------------------------------------------------------------------------
// 1. Coverage of the 95 % intervals over 2,000 seeded A/A and A/B runs.
// ---------------------------------------------------------------------------

/// Runs per scenario. With 2,000 runs the Monte Carlo standard error of a
/// coverage near 0.95 is √(0.95 · 0.05 / 2000) ≈ 0.0049, so the accepted band
/// [0.93, 0.97] is about ±4 standard errors around the nominal 0.95: a correct
/// interval fails it with probability 4.5e-5, an interval whose true coverage
/// is 0.92 passes it with probability 0.052, one of 0.98 with 0.0017 (exact
/// binomial tails, computed with Python's `math.lgamma`).
const RUNS: u32 = 2_000;
const COVERAGE_BAND: std::ops::RangeInclusive<f64> = 0.93..=0.97;

/// Counts over the runs of one scenario.
#[derive(Debug, Default)]
struct Tally {
    runs: u32,
    abs_cover: u32,
    rel_cover: u32,
    sequential_cover: u32,
    unadjusted_rel_cover: u32,
    abs_reject: u32,
    rel_reject: u32,
    variance_reduction: f64,
}

impl Tally {
    fn record(&mut self, c: &Comparison, true_abs: f64, true_rel: f64, alpha: f64) {
        self.runs += 1;
        // An undefined figure neither covers nor rejects.
        self.abs_cover += u32::from(c.absolute.is_some_and(|t| covers(t.ci, true_abs)));
        self.rel_cover += u32::from(c.relative.is_some_and(|r| covers(r.ci, true_rel)));
        self.sequential_cover += u32::from(c.sequential.is_some_and(|s| covers(s.ci, true_rel)));
        self.abs_reject += u32::from(c.absolute.is_some_and(|t| t.p_value < alpha));
        self.rel_reject += u32::from(c.relative.is_some_and(|r| r.p_value < alpha));
        if let Some(cuped) = &c.cuped {
            self.unadjusted_rel_cover += u32::from(covers(cuped.unadjusted_rel_ci, true_rel));
            self.variance_reduction += cuped
                .variance_reduction
                .expect("the simulated arms always vary");
        }
    }

    fn rate(&self, count: u32) -> f64 {
        f64::from(count) / f64::from(self.runs)
    }

    fn check_coverage(&self, scenario: &str) {
        let (abs, rel, seq) = (
            self.rate(self.abs_cover),
            self.rate(self.rel_cover),
            self.rate(self.sequential_cover),
        );
        eprintln!(
            "{scenario}: abs_ci {abs:.4}, rel_ci {rel:.4}, sequential_ci {seq:.4}, \
             p < 0.05 {:.4}, rel p < 0.05 {:.4}",
            self.rate(self.abs_reject),
            self.rate(self.rel_reject)
        );
        assert_eq!(self.runs, RUNS);
        assert!(
            COVERAGE_BAND.contains(&abs),
            "{scenario}: abs_ci covers {abs}"
        );
        assert!(
            COVERAGE_BAND.contains(&rel),
            "{scenario}: rel_ci covers {rel}"
        );
        // The always-valid interval is wider than the fixed-horizon one: it
        // covers at least as often at a single look (observed 0.995–0.999).
        assert!(seq >= 0.95, "{scenario}: sequential_ci covers {seq}");
    }
}

/// Simulates `RUNS` experiments of `n[0]` control and `n[1]` treatment units;
/// `unit(rng, variant)` draws one unit's `(metric, covariate)`.
fn simulate(
    seed: u64,
    metric: &Metric,
    n: [usize; 2],
    second: SecondValue,
    truth: (f64, f64),
    mut unit: impl FnMut(&mut ChaCha8Rng, usize) -> (f64, f64),
) -> Tally {
    let params = EvalParams::default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    for _ in 0..RUNS {
        let mut arms = [ArmStats::default(); 2];
        for (variant, arm) in arms.iter_mut().enumerate() {
            for _ in 0..n[variant] {
                let (x, z) = unit(&mut rng, variant);
                arm.push(x, z);
            }
        }
        let c = compare(metric, &arms[0], &arms[1], second, &params);
        tally.record(&c, truth.0, truth.1, params.alpha);
    }
    tally
}

/// Revenue per customer: 30 % buy, and a buyer spends LogNormal(μ, 1).
/// Mean `0.3 · exp(μ + 1/2)`; a unit's coefficient of variation is 2.84 and
/// its skewness 8.65 (from the log-normal moments `E Lᵏ = exp(kμ + k²/2)`).
fn revenue(rng: &mut ChaCha8Rng, spend: &LogNormal<f64>) -> f64 {
    if rng.gen_bool(0.3) {
        spend.sample(rng)
    } else {
        0.0
    }
}

#[test]
fn aa_skewed_revenue_intervals_cover_and_false_positives_are_nominal() {
    // A/A: both arms draw the same zero-inflated log-normal revenue, with
    // unequal arm sizes (2,000 / 1,500) so Welch's correction matters.
    let spend = LogNormal::new(3.0, 1.0).unwrap();
    let metric = Metric::new("revenue", MetricKind::Mean);
    let tally = simulate(
        101,
        &metric,
        [2_000, 1_500],
        SecondValue::None,
        (0.0, 0.0),
        |rng, _| (revenue(rng, &spend), 0.0),
    );
    // Observed with seed 101: abs_ci 0.9460, rel_ci 0.9395, Welch p < 0.05
    // in 0.0540 and relative p < 0.05 in 0.0605 of the runs. With 20,000 runs
    // (seed 10,100): 0.9493, 0.9454, 0.0507, 0.0546 — the delta-method
    // relative interval under-covers slightly (≈ 0.945) for revenue this
    // skewed, inside the band.
    tally.check_coverage("A/A log-normal revenue");
    let fp = tally.rate(tally.abs_reject);
    let fp_rel = tally.rate(tally.rel_reject);
    // Nominal 0.05; Monte Carlo standard error √(0.05 · 0.95 / 2000) ≈ 0.0049,
    // so [0.03, 0.07] is about ±4 standard errors.
    assert!(
        (0.03..=0.07).contains(&fp),
        "Welch false-positive rate {fp}"
    );
    assert!(
        (0.03..=0.07).contains(&fp_rel),
        "relative false-positive rate {fp_rel}"
    );
}

#[test]
fn ab_mean_intervals_cover_the_true_difference() {
    // Basket value Gamma(shape 2, scale 25) in the control (mean 50, sd 35.4)
    // and Gamma(2, 26) in the treatment (mean 52, sd 36.8): the true absolute
    // difference is 2 and the true relative lift 2/50 = 0.04.
    let control = Gamma::new(2.0, 25.0).unwrap();
    let treatment = Gamma::new(2.0, 26.0).unwrap();
    let metric = Metric::new("basket", MetricKind::Mean);
    let tally = simulate(
        202,
        &metric,
        [1_500, 1_500],
        SecondValue::None,
        (2.0, 0.04),
        |rng, variant| {
            let x = if variant == 0 {
                control.sample(rng)
            } else {
                treatment.sample(rng)
            };
            (x, 0.0)
        },
    );
    // Observed with seed 202: abs_ci 0.9490, rel_ci 0.9490 (20,000 runs,
    // seed 10,201: 0.9503, 0.9497).
    tally.check_coverage("A/B gamma basket");
}

#[test]
fn ab_binomial_intervals_cover_the_true_difference() {
    // Conversion 12 % in the control and 13.5 % in the treatment: true
    // absolute difference 0.015, true relative lift 0.015 / 0.12 = 0.125.
    let rates = [0.12, 0.135];
    let metric = Metric::new("converted", MetricKind::Binomial);
    let tally = simulate(
        303,
        &metric,
        [2_000, 2_000],
        SecondValue::None,
        (0.015, 0.015 / 0.12),
        |rng, variant| (f64::from(u8::from(rng.gen_bool(rates[variant]))), 0.0),
    );
    // Observed with seed 303: abs_ci (Wald) 0.9565, rel_ci 0.9540 (20,000
    // runs, seed 10,302: 0.9507, 0.9515).
    tally.check_coverage("A/B binomial");
}

#[test]
fn ab_cuped_intervals_cover_the_true_lift_and_shrink() {
    // Pre-period spend z ~ Gamma(2, 20) (mean 40, variance 800); post-period
    // x = 10 + 0.6 z + N(0, 15²) + 1.5 in the treatment. The covariate has
    // the same distribution in both arms (it predates the assignment), so
    // the CUPED-adjusted difference estimates 1.5 and the relative lift is
    // 1.5 / E[x_control] = 1.5 / (10 + 0.6 · 40) = 1.5 / 34.
    // corr(x, z)² = 0.36 · 800 / (0.36 · 800 + 225) = 288 / 513 ≈ 0.561,
    // the share of variance CUPED should remove.
    let pre = Gamma::new(2.0, 20.0).unwrap();
    let noise = Normal::new(0.0, 15.0).unwrap();
    let metric = Metric::new("spend", MetricKind::Mean);
    let true_rel = 1.5 / 34.0;
    let tally = simulate(
        404,
        &metric,
        [1_500, 1_500],
        SecondValue::Covariate,
        (1.5, true_rel),
        |rng, variant| {
            let z = pre.sample(rng);
            let lift = if variant == 1 { 1.5 } else { 0.0 };
            (10.0 + 0.6 * z + noise.sample(rng) + lift, z)
        },
    );
    // Observed with seed 404: abs_ci 0.9585, CUPED rel_ci 0.9535, unadjusted
    // rel_ci 0.9560, mean variance reduction 0.5613 (20,000 runs, seed
    // 10,403: 0.9485, 0.9468, 0.9483, 0.5612).
    tally.check_coverage("A/B CUPED");
    let unadjusted = tally.rate(tally.unadjusted_rel_cover);
    let reduction = tally.variance_reduction / f64::from(tally.runs);
    eprintln!(
        "A/B CUPED: unadjusted rel_ci {unadjusted:.4}, mean variance reduction {reduction:.4}"
    );
    assert!(
        COVERAGE_BAND.contains(&unadjusted),
        "unadjusted rel_ci covers {unadjusted}"
    );
    // The reduction is ≈ ρ² = 0.561 (estimated per run; its mean over 2,000
    // runs is far more precise than ±0.03).
    assert!(
        (0.53..=0.59).contains(&reduction),
        "mean variance reduction {reduction}"
    );
}

// ---------------------------------------------------------------------------
// 2. Sequential testing under continuous peeking.
// ---------------------------------------------------------------------------

const BATCH: usize = 200;
const LOOKS: usize = 50;

/// Peeks after every batch of 200 units per arm up to 10,000 per arm: per
/// run, the first look (1-based) at which the sequential and at which the
/// fixed-horizon relative p-value fall below α, and the sign of the
/// sequential interval at its first rejection.
fn peek(
    rng: &mut ChaCha8Rng,
    means: [f64; 2],
    stop_at_sequential: bool,
) -> [Option<(usize, f64)>; 2] {
    let metric = Metric::new("revenue", MetricKind::Mean);
    let params = EvalParams::default();
    let units = [
        Normal::new(means[0], 10.0).unwrap(),
        Normal::new(means[1], 10.0).unwrap(),
    ];
    let mut arms = [ArmStats::default(); 2];
    let mut first: [Option<(usize, f64)>; 2] = [None, None];
    for look in 1..=LOOKS {
        for _ in 0..BATCH {
            for (arm, unit) in arms.iter_mut().zip(&units) {
                arm.push(unit.sample(rng), 0.0);
            }
        }
        let c = compare(&metric, &arms[0], &arms[1], SecondValue::None, &params);
        let sequential = c.sequential.expect("the arms vary");
        if first[0].is_none() && sequential.p_value < params.alpha {
            first[0] = Some((look, sequential.ci[0].signum()));
            if stop_at_sequential {
                break;
            }
        }
        let relative = c.relative.expect("the arms vary");
        if first[1].is_none() && relative.p_value < params.alpha {
            first[1] = Some((look, relative.ci[0].signum()));
        }
    }
    first
}

#[test]
fn sequential_p_value_stays_valid_under_continuous_peeking() {
    // 1,000 A/A runs of N(20, 10²) per unit, 50 looks each.
    const PEEK_RUNS: u32 = 1_000;
    let mut rng = ChaCha8Rng::seed_from_u64(505);
    let (mut sequential, mut fixed) = (0u32, 0u32);
    for _ in 0..PEEK_RUNS {
        let [s, f] = peek(&mut rng, [20.0, 20.0], false);
        sequential += u32::from(s.is_some());
        fixed += u32::from(f.is_some());
    }
    let sequential = f64::from(sequential) / f64::from(PEEK_RUNS);
    let fixed = f64::from(fixed) / f64::from(PEEK_RUNS);
    eprintln!(
        "peeking A/A: sequential ever < 0.05 {sequential:.4}, fixed-horizon ever < 0.05 {fixed:.4}"
    );
    // The mixture SPRT bounds P(ever p < α) by α = 0.05. Allowance for Monte
    // Carlo noise: a true rate of exactly 0.05 has standard error
    // √(0.05 · 0.95 / 1000) ≈ 0.0069, so 0.06 is ≈ 1.5 standard errors above
    // the bound (the mixture test is conservative over a finite horizon and
    // sits well below 0.05 in practice). Observed with seed 505: 0.022.
    assert!(
        sequential <= 0.06,
        "sequential false-positive rate under peeking {sequential}"
    );
    // Contrast: the fixed-horizon test read 50 times rejects far more often
    // than 5 % (about 25–30 % for 50 equally spaced looks; observed with seed
    // 505: 0.324), so this test can tell a valid sequential p-value from an
    // ordinary one.
    assert!(
        fixed > 0.10,
        "fixed-horizon false-positive rate under peeking {fixed}"
    );
}

#[test]
fn sequential_test_eventually_rejects_a_real_lift() {
    // 200 A/B runs with a 4 % lift (means 20 and 20.8, sd 10): at 10,000 per
    // arm the fixed-horizon z is 0.8 / (10 √(2/10⁴)) ≈ 5.7 and the sequential
    // interval's half-width ≈ 0.022 (relative), so it must reject in almost
    // every run, and always in the right direction. Observed with seed 606:
    // all 200 runs reject, median first rejection at look 13 (2,600 per arm).
    const AB_RUNS: u32 = 200;
    let mut rng = ChaCha8Rng::seed_from_u64(606);
    let mut rejected = 0u32;
    let mut looks = Vec::new();
    for _ in 0..AB_RUNS {
        if let Some((look, sign)) = peek(&mut rng, [20.0, 20.8], true)[0] {
            rejected += 1;
            looks.push(look);
            assert_eq!(
                sign, 1.0,
                "rejected with the interval below 0 at look {look}"
            );
        }
    }
    looks.sort_unstable();
    let power = f64::from(rejected) / f64::from(AB_RUNS);
    let median_look = looks.get(looks.len() / 2).copied().unwrap_or(0);
    eprintln!("peeking A/B: sequential rejects in {power:.3} of runs, median look {median_look}");
    assert!(power >= 0.95, "sequential power {power}");
}

// ---------------------------------------------------------------------------
// 3. Properties.
// ---------------------------------------------------------------------------

fn kind_strategy() -> impl Strategy<Value = MetricKind> {
    prop_oneof![
        Just(MetricKind::Binomial),
        Just(MetricKind::Mean),
        Just(MetricKind::Count),
        Just(MetricKind::Ratio),
    ]
}

/// A value the metric kind accepts (a ratio's numerator).
fn valid_value(kind: MetricKind) -> BoxedStrategy<f64> {
    match kind {
        MetricKind::Binomial => prop_oneof![Just(0.0), Just(1.0)].boxed(),
        MetricKind::Count => (0u32..30).prop_map(f64::from).boxed(),
        MetricKind::Mean => {
            prop_oneof![Just(0.0), Just(1.0), Just(-1.0), -1e3..1e3f64, -1e9..1e9f64].boxed()
        }
        MetricKind::Ratio => prop_oneof![Just(0.0), 0.0..1e3f64].boxed(),
    }
}

/// A valid second value: a covariate, or a ratio's denominator.
fn second_value(kind: MetricKind) -> BoxedStrategy<f64> {
    match kind {
        MetricKind::Ratio => prop_oneof![
            Just(0.0),
            Just(1.0),
            0.0..20.0f64,
            (1u32..5).prop_map(f64::from)
        ]
        .boxed(),
        _ => prop_oneof![Just(0.0), Just(3.0), -1e3..1e3f64].boxed(),
    }
}

/// Random valid arm statistics: mostly small arms built unit by unit (n from
/// 0, often constant or with a zero mean), sometimes large arms from moments.
fn arm_strategy(kind: MetricKind, with_second: bool) -> BoxedStrategy<ArmStats> {
    let listed = prop::collection::vec((valid_value(kind), second_value(kind)), 0..40).prop_map(
        move |units| {
            let mut arm = ArmStats::default();
            for (x, y) in units {
                arm.push(x, if with_second { y } else { 0.0 });
            }
            arm
        },
    );
    let constant = (0u64..20, valid_value(kind)).prop_map(move |(n, x)| {
        let mut arm = ArmStats::default();
        for _ in 0..n {
            arm.push(x, if with_second { 1.0 } else { 0.0 });
        }
        arm
    });
    // Large arms from means, standard deviations and a correlation: the sums
    // of some real data set (the covariance matrix is positive semi-definite).
    let large = (
        2u64..2_000_000,
        0.0..1.0f64,
        -1e3..1e3f64,
        0.0..1e3f64,
        0.0..10.0f64,
        0.0..5.0f64,
        -1.0..=1.0f64,
    )
        .prop_map(move |(n, rate, mean, sd, mz, sz, r)| {
            let nf = n as f64;
            let (sum, sum_sq, sx) = if kind == MetricKind::Binomial {
                let k = (rate * nf).round();
                (k, k, ((k - k * k / nf) / (nf - 1.0)).max(0.0).sqrt())
            } else {
                let mean = if kind == MetricKind::Mean {
                    mean
                } else {
                    mean.abs()
                };
                (nf * mean, (nf - 1.0) * sd * sd + nf * mean * mean, sd)
            };
            let arm = ArmStats::from_sums(n, sum, sum_sq);
            if with_second {
                arm.with_second(
                    nf * mz,
                    (nf - 1.0) * sz * sz + nf * mz * mz,
                    (nf - 1.0) * r * sx * sz + sum * mz,
                )
            } else {
                arm
            }
        });
    prop_oneof![4 => listed, 1 => constant, 2 => large].boxed()
}

fn params_strategy() -> impl Strategy<Value = EvalParams> {
    (
        0.001..0.5f64,
        prop_oneof![
            Just(Alternative::TwoSided),
            Just(Alternative::Greater),
            Just(Alternative::Less)
        ],
        10.0..1e5f64,
        any::<bool>(),
        -1.0..1.0f64,
        1e-4..10.0f64,
        (1u32..5, 1u32..5),
    )
        .prop_map(
            |(alpha, alternative, tuning, proper, mean, variance, beta_prior)| EvalParams {
                alpha,
                alternative,
                sequential_tuning: tuning,
                prior: EffectPrior {
                    mean,
                    variance,
                    proper,
                },
                beta_prior,
                ..EvalParams::default()
            },
        )
}

fn is_probability(x: f64) -> bool {
    x.is_nan() || (0.0..=1.0).contains(&x)
}

fn ordered(ci: [f64; 2]) -> bool {
    ci[0].is_nan() || ci[1].is_nan() || ci[0] <= ci[1]
}

/// Whether `outer` contains `inner` (when both are defined), up to rounding.
fn contains(outer: [f64; 2], inner: [f64; 2]) -> bool {
    // Levels such as α·m/m are rounded, so equal-level intervals may differ
    // in the last digits.
    let slack = 1e-9
        * inner
            .iter()
            .filter(|x| x.is_finite())
            .fold(0.0f64, |m, x| m.max(x.abs()));
    outer.iter().chain(&inner).any(|x| x.is_nan())
        || (outer[0] <= inner[0] + slack && inner[1] <= outer[1] + slack)
}

/// An experiment's arms for the comparison properties.
#[derive(Debug, Clone)]
struct CompareCase {
    metric: Metric,
    second: SecondValue,
    control: ArmStats,
    variants: Vec<ArmStats>,
    params: EvalParams,
}

fn compare_case() -> impl Strategy<Value = CompareCase> {
    (kind_strategy(), any::<bool>(), any::<bool>()).prop_flat_map(|(kind, second, lower)| {
        let with_second = second || kind == MetricKind::Ratio;
        let mut metric = Metric::new("m", kind);
        metric.lower_is_better = lower;
        (
            Just(metric),
            Just(role_for(kind, with_second)),
            arm_strategy(kind, with_second),
            prop::collection::vec(arm_strategy(kind, with_second), 1..4),
            params_strategy(),
        )
            .prop_map(|(metric, second, control, variants, params)| CompareCase {
                metric,
                second,
                control,
                variants,
                params,
            })
    })
}

/// Observations for 3 variants × 2 segments; `invalid` mixes in values the
/// statistics must refuse.
fn observations(
    kind: MetricKind,
    role: SecondValue,
    invalid: bool,
) -> BoxedStrategy<Vec<Observation>> {
    let bad_value = prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.5),
        Just(-1.0),
        Just(2.5),
    ];
    let value = if invalid {
        prop_oneof![4 => valid_value(kind), 1 => bad_value].boxed()
    } else {
        valid_value(kind)
    };
    let second = if invalid {
        prop_oneof![
            4 => second_value(kind).prop_map(Some),
            1 => Just(None),
            1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY)].prop_map(Some),
        ]
        .boxed()
    } else if role.is_some() {
        second_value(kind).prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    };
    let (variants, segments) = if invalid {
        (0..4usize, 0..3usize)
    } else {
        (0..3, 0..2)
    };
    prop::collection::vec(
        (variants, segments, value, second).prop_map(|(variant, segment, value, second)| {
            Observation {
                variant,
                segment,
                value,
                second,
            }
        }),
        0..80,
    )
    .boxed()
}

/// The second value's role for a metric of `kind`, with or without one.
fn role_for(kind: MetricKind, with_second: bool) -> SecondValue {
    match (with_second, kind) {
        (false, _) => SecondValue::None,
        (true, MetricKind::Ratio) => SecondValue::Denominator,
        (true, _) => SecondValue::Covariate,
    }
}

/// A metric of `kind` with a cap now and then (never for binomial metrics).
fn metric_strategy(kind: MetricKind) -> impl Strategy<Value = Metric> {
    prop::option::of(0.0..500.0f64).prop_map(move |cap| {
        let metric = Metric::new("m", kind);
        match cap {
            Some(c) if kind != MetricKind::Binomial => metric.with_cap(c),
            _ => metric,
        }
    })
}

fn stats_from(metric: &Metric, role: SecondValue, obs: &[Observation]) -> ExperimentStats {
    ExperimentStats::from_observations(
        metric.clone(),
        names(&["a", "b", "c"]),
        names(&["s", "t"]),
        role,
        obs.iter().copied(),
    )
    .expect("valid observations")
}

/// The test's own rule for which observations 3 variants × 2 segments accept.
fn acceptable(kind: MetricKind, role: SecondValue, o: &Observation) -> bool {
    let value_ok = o.value.is_finite()
        && match kind {
            MetricKind::Binomial => o.value == 0.0 || o.value == 1.0,
            MetricKind::Count => o.value >= 0.0 && o.value.fract() == 0.0,
            MetricKind::Mean | MetricKind::Ratio => true,
        };
    let second_ok = match (role.is_some(), o.second) {
        (true, Some(y)) => y.is_finite(),
        (false, None) => true,
        _ => false,
    };
    o.variant < 3 && o.segment < 2 && value_ok && second_ok
}

/// Every arm's sums agree up to floating-point reassociation.
fn assert_same_stats(got: &ExperimentStats, want: &ExperimentStats, scale: &ExperimentStats) {
    for s in 0..want.segments().len() {
        for v in 0..want.variants().len() {
            let (g, w, a) = (got.arm(s, v), want.arm(s, v), scale.arm(s, v));
            assert_eq!(g.n, w.n, "n of arm ({s}, {v})");
            for (name, x, y, size) in [
                ("sum", g.sum, w.sum, a.sum),
                ("sum_sq", g.sum_sq, w.sum_sq, a.sum_sq),
                ("second_sum", g.second_sum, w.second_sum, a.second_sum),
                (
                    "second_sum_sq",
                    g.second_sum_sq,
                    w.second_sum_sq,
                    a.second_sum_sq,
                ),
                ("cross_sum", g.cross_sum, w.cross_sum, a.cross_sum),
            ] {
                assert!(
                    (x - y).abs() <= 1e-12 * size.abs() * (w.n as f64 + 1.0),
                    "{name} of arm ({s}, {v}): {x} vs {y}"
                );
            }
        }
    }
}

/// Statistics of |values|, |second|, |value · second| and squares: the
/// scale against which reassociation error is measured.
fn abs_stats(metric: &Metric, role: SecondValue, obs: &[Observation]) -> ExperimentStats {
    // Uncapped, so that the scale bounds every capped value's magnitude.
    let abs = Metric::new(metric.name.clone(), MetricKind::Mean);
    let mut stats = stats_from(&abs, role_for(MetricKind::Mean, role.is_some()), &[]);
    for o in obs {
        stats
            .add(Observation {
                value: o.value.abs(),
                second: o.second.map(f64::abs),
                ..*o
            })
            .unwrap();
    }
    stats
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn merge_equals_the_union(
        (role, metric, obs, split) in (kind_strategy(), any::<bool>())
            .prop_flat_map(|(kind, second)| {
                let role = role_for(kind, second || kind == MetricKind::Ratio);
                (Just(role), metric_strategy(kind), observations(kind, role, false))
            })
            .prop_flat_map(|(role, metric, obs)| {
                let len = obs.len();
                (Just(role), Just(metric), Just(obs), 0..=len)
            })
    ) {
        let whole = stats_from(&metric, role, &obs);
        let mut first = stats_from(&metric, role, &obs[..split]);
        let second = stats_from(&metric, role, &obs[split..]);
        let mut other_order = second.clone();
        first.merge(&second).unwrap();
        other_order.merge(&stats_from(&metric, role, &obs[..split])).unwrap();
        let scale = abs_stats(&metric, role, &obs);
        assert_same_stats(&first, &whole, &scale);
        assert_same_stats(&other_order, &whole, &scale);
        prop_assert_eq!(first.units(), obs.len() as u64);
        // Per-variant totals are the sums over segments.
        let overall = whole.overall();
        for (v, total) in overall.iter().enumerate() {
            prop_assert_eq!(total.n, whole.arm(0, v).n + whole.arm(1, v).n);
        }
        // Statistics of another metric do not merge.
        let mut renamed = metric.clone();
        renamed.name = "other".into();
        let refused = matches!(
            first.merge(&stats_from(&renamed, role, &[])),
            Err(Error::InvalidValue { what: "statistics to merge", .. })
        );
        prop_assert!(refused);
    }

    #[test]
    fn columns_equal_observations(
        (metric, role, obs) in (kind_strategy(), any::<bool>())
            .prop_flat_map(|(kind, second)| {
                let role = role_for(kind, second || kind == MetricKind::Ratio);
                (metric_strategy(kind), Just(role), observations(kind, role, false))
            })
    ) {
        let variant: Vec<u32> = obs.iter().map(|o| o.variant as u32).collect();
        let segment: Vec<u32> = obs.iter().map(|o| o.segment as u32).collect();
        let value: Vec<f64> = obs.iter().map(|o| o.value).collect();
        let second: Option<Vec<f64>> =
            role.is_some().then(|| obs.iter().map(|o| o.second.unwrap()).collect());
        let cols = ExperimentStats::from_columns(
            metric.clone(),
            names(&["a", "b", "c"]),
            names(&["s", "t"]),
            &variant,
            Some(&segment),
            &value,
            second.as_deref(),
        )
        .unwrap();
        let rows = stats_from(&metric, role, &obs);
        assert_same_stats(&cols, &rows, &abs_stats(&metric, role, &obs));
        prop_assert_eq!(cols.second(), rows.second());
    }

    #[test]
    fn accepted_plus_rejected_equals_offered(
        (metric, role, obs) in (kind_strategy(), any::<bool>())
            .prop_flat_map(|(kind, second)| {
                let role = role_for(kind, second || kind == MetricKind::Ratio);
                (metric_strategy(kind), Just(role), observations(kind, role, true))
            })
    ) {
        let kind = metric.kind;
        let mut stats = stats_from(&metric, role, &[]);
        let (mut accepted, mut rejected) = (0u64, 0u64);
        for o in &obs {
            let before = stats.clone();
            match stats.add(*o) {
                Ok(()) => {
                    accepted += 1;
                    prop_assert!(acceptable(kind, role, o), "accepted {:?}", o);
                }
                Err(e) => {
                    // Named by its position among the units added so far.
                    let at = accepted as usize;
                    prop_assert!(
                        matches!(&e, Error::InvalidRow { row, .. } | Error::NonFinite { row, .. } if *row == at),
                        "{:?} for {:?}", e, o
                    );
                    rejected += 1;
                    prop_assert!(!acceptable(kind, role, o), "refused {:?}", o);
                    prop_assert_eq!(&stats, &before, "a refused observation changed the sums");
                }
            }
        }
        prop_assert_eq!(accepted + rejected, obs.len() as u64);
        prop_assert_eq!(stats.units(), accepted);
        let valid: Vec<Observation> = obs
            .iter()
            .copied()
            .filter(|o| acceptable(kind, role, o))
            .collect();
        prop_assert_eq!(valid.len() as u64, accepted);
        prop_assert_eq!(&stats, &stats_from(&metric, role, &valid));
        // One pass over everything stops at the first bad observation and says where.
        let all = ExperimentStats::from_observations(
            metric.clone(),
            names(&["a", "b", "c"]),
            names(&["s", "t"]),
            role,
            obs.iter().copied(),
        );
        match obs.iter().position(|o| !acceptable(kind, role, o)) {
            None => prop_assert!(all.is_ok()),
            Some(i) => {
                let err = all.unwrap_err();
                let named = matches!(
                    &err,
                    Error::InvalidRow { row, .. } | Error::NonFinite { row, .. } if *row == i
                );
                prop_assert!(named, "first bad observation #{} not named in {:?}", i, err);
            }
        }
    }

    #[test]
    fn comparison_outputs_are_probabilities_and_intervals_are_ordered(case in compare_case()) {
        let CompareCase { metric, second, control, variants, params } = case;
        let mut comparisons: Vec<Comparison> = variants
            .iter()
            .map(|v| compare(&metric, &control, v, second, &params))
            .collect();
        for c in &comparisons {
            // The relative effect and the figures built on it are there together.
            prop_assert_eq!(c.relative.is_some(), c.sequential.is_some(), "{:?}", c);
            prop_assert_eq!(c.relative.is_some(), c.bayesian.is_some(), "{:?}", c);
            prop_assert!(c.adjusted.is_none(), "adjusted before adjust_family: {:?}", c);
            for (name, p) in [
                ("p_value", c.absolute.map(|t| t.p_value)),
                ("rel_p_value", c.relative.map(|r| r.p_value)),
                ("sequential_p_value", c.sequential.map(|s| s.p_value)),
                ("chance_to_win", c.bayesian.map(|b| b.chance_to_win)),
            ] {
                if let Some(p) = p {
                    prop_assert!(is_probability(p), "{} = {} in {:?}", name, p, c);
                }
            }
            for (name, ci) in [
                ("abs_ci", c.absolute.map(|t| t.ci)),
                ("rel_ci", c.relative.map(|r| r.ci)),
                ("sequential_ci", c.sequential.map(|s| s.ci)),
                ("credible_interval", c.bayesian.map(|b| b.credible_interval)),
            ] {
                if let Some(ci) = ci {
                    prop_assert!(ordered(ci), "{} = {:?} in {:?}", name, ci, c);
                }
            }
            // Expected losses are non-negative (`φ(z)σ − μΦ(−z)` cancels for
            // large z; it once came out at −4e-323 before the clamp).
            if let Some(b) = c.bayesian {
                for (name, risk) in [("risk", b.risk), ("risk_control", b.risk_control)] {
                    prop_assert!(risk.is_nan() || risk >= 0.0, "{} {} in {:?}", name, risk, c);
                }
            }
            if let Some(cuped) = &c.cuped {
                prop_assert!(ordered(cuped.unadjusted_rel_ci), "{:?}", cuped);
                prop_assert_eq!(cuped.variance_reduction.is_some(), c.relative.is_some(), "{:?}", c);
            }
            match (&c.beta_binomial, metric.kind) {
                (Some(bb), MetricKind::Binomial) => {
                    prop_assert!(is_probability(bb.chance_to_beat_control), "{:?}", bb);
                    prop_assert!(!bb.chance_to_beat_control.is_nan(), "{:?}", bb);
                    for ci in [bb.control_interval, bb.variant_interval] {
                        prop_assert!(ordered(ci) && ci[0] >= 0.0 && ci[1] <= 1.0, "{:?}", bb);
                    }
                }
                (None, MetricKind::Binomial) => prop_assert!(false, "no Beta–Binomial figures"),
                (Some(_), _) => prop_assert!(false, "Beta–Binomial figures for a {:?} metric", metric.kind),
                (None, _) => {}
            }
            // Duality away from the boundary: a two-sided test rejects
            // exactly when its interval excludes 0.
            if params.alternative == Alternative::TwoSided {
                let mut pairs = vec![
                    c.relative.map(|r| (r.p_value, r.ci)),
                    c.sequential.map(|s| (s.p_value, s.ci)),
                ];
                if metric.kind != MetricKind::Binomial {
                    pairs.push(c.absolute.map(|t| (t.p_value, t.ci)));
                }
                for (p, ci) in pairs.into_iter().flatten() {
                    if p.is_finite() && (p - params.alpha).abs() > 1e-6 && ci.iter().all(|x| x.is_finite()) {
                        prop_assert_eq!(p < params.alpha, !covers(ci, 0.0), "p {} ci {:?} in {:?}", p, ci, c);
                    }
                }
            }
        }
        let mut family: Vec<&mut Comparison> = comparisons.iter_mut().collect();
        adjust_family(&mut family, params.alpha, params.alternative);
        for c in &comparisons {
            // Adjusted exactly when there is an absolute p-value to adjust.
            let tested = c.absolute.filter(|t| !t.p_value.is_nan());
            prop_assert_eq!(c.adjusted.is_some(), tested.is_some(), "{:?}", c);
            let (Some(t), Some(a)) = (tested, c.adjusted) else {
                continue;
            };
            prop_assert!(is_probability(a.p_value_holm) && is_probability(a.q_value_bh), "{:?}", c);
            prop_assert!(!a.p_value_holm.is_nan() && !a.q_value_bh.is_nan(), "{:?}", c);
            prop_assert!(a.p_value_holm >= t.p_value, "{:?}", c);
            // BH never lowers a p-value (see `bh_q_value_is_never_below_the_raw_p_value`).
            prop_assert!(a.q_value_bh >= t.p_value, "{:?}", c);
            // Holm's step-down factor (m − i + 1) is never below BH's
            // m / i, so Holm ≥ BH up to the same rounding.
            prop_assert!(a.p_value_holm >= a.q_value_bh * (1.0 - 4.0 * f64::EPSILON), "{:?}", c);
            for ci in [a.abs_ci_holm, a.abs_ci_bh] {
                prop_assert!(ordered(ci), "{:?}", c);
            }
            // Bonferroni at α/m ⊇ FCR at αR/m ⊇ the plain interval at α.
            prop_assert!(contains(a.abs_ci_holm, a.abs_ci_bh), "{:?}", c);
            prop_assert!(contains(a.abs_ci_bh, t.ci), "{:?}", c);
        }
    }
}

/// Regression: BH adjustment can only raise a p-value, but `p · m / rank`
/// for the largest p-value (rank = m) rounds `(p · m) / m` one ulp below `p`
/// for some `p` whenever m is not a power of two (about 8 % of p-values for
/// m = 3); the q-value is clamped at p.
#[test]
fn bh_q_value_is_never_below_the_raw_p_value() {
    // Python: p = 1.0426002442089616e-05; p * 3 / 3 -> 1.0426002442089614e-05.
    let p = 1.0426002442089616e-5;
    let metric = Metric::new("m", MetricKind::Mean);
    let arm = ArmStats::from_sums(10, 10.0, 20.0);
    let params = EvalParams::default();
    let mut family: Vec<Comparison> = [1e-7, 2e-6, p]
        .iter()
        .map(|&raw| {
            let mut c = compare(&metric, &arm, &arm, SecondValue::None, &params);
            c.absolute.as_mut().expect("the arm varies").p_value = raw;
            c
        })
        .collect();
    adjust_family(
        &mut family.iter_mut().collect::<Vec<_>>(),
        0.05,
        Alternative::TwoSided,
    );
    for c in &family {
        let (p, q) = (c.absolute.unwrap().p_value, c.adjusted.unwrap().q_value_bh);
        assert!(q >= p, "q {q:e} < p {p:e}");
    }
}

/// Regression: a ratio arm's delta-method variance `Var(x − R·y) / ȳ²` is a
/// variance and never negative, but it is a sum of separately rounded moments
/// (`var_x/ȳ² − 2 cov·x̄/ȳ³ + x̄² var_y/ȳ⁴`) and used to be used unclamped. Here the control's
/// denominators are all 1 and its numerators constant up to rounding:
/// var_x = 1.16e-10 and cov = 1.14e-13 (both rounding noise) give a
/// variance of −5.7e-11, which then went into Welch's test: df = 0.118 instead of
/// n_B − 1 = 16, and at α = 0.0389 the p-value 0.096 does not reject while
/// the interval [21.9, 191.4] excluded 0.
#[test]
fn ratio_variance_rounding_below_zero_breaks_welch() {
    // Found by `comparison_outputs_are_probabilities_and_intervals_are_ordered`.
    let control = ArmStats::from_sums(5, 3814.1365689654576, 2909527.553343919).with_second(
        5.0,
        5.0,
        3814.1365689654576,
    );
    let variant = ArmStats::from_sums(17, 14781.22365940785, 12852033.698202262).with_second(
        17.0,
        17.0,
        14781.22365940785,
    );
    let params = EvalParams {
        alpha: 0.03894053780703539,
        ..EvalParams::default()
    };
    let c = compare(
        &Metric::new("m", MetricKind::Ratio),
        &control,
        &variant,
        SecondValue::Denominator,
        &params,
    );
    // Welch–Satterthwaite df ≥ min(n_A, n_B) − 1 for non-negative variances;
    // with the control's variance 0 it is n_B − 1 = 16.
    let t = c.absolute.expect("the variant varies");
    assert!(t.df >= 4.0, "Welch df {}", t.df);
    assert_eq!(
        t.p_value < params.alpha,
        !covers(t.ci, 0.0),
        "p {} vs interval {:?}",
        t.p_value,
        t.ci
    );
}

// ---------------------------------------------------------------------------
// 4. Per-segment evaluation with a known truth.
// ---------------------------------------------------------------------------

/// Conversion rate of the control in each segment.
const BASE_RATE: [f64; 4] = [0.08, 0.12, 0.05, 0.10];
/// Treatment B's true absolute effect per segment: wins in 0, loses in 1,
/// nothing in 2 and 3. Treatment C does nothing anywhere.
const LIFT_B: [f64; 4] = [0.03, -0.03, 0.0, 0.0];
const SEGMENT_SHARE: [f64; 4] = [0.3, 0.3, 0.2, 0.2];

/// 360,000 units, each assigned uniformly to control / B / C and to a
/// segment by `SEGMENT_SHARE`; a unit of C is lost with probability `drop_c`
/// (a logging bug). The random stream does not depend on `drop_c`, so the
/// broken data set is the correct one minus ≈ `drop_c` of C's units.
fn segmented_conversions(drop_c: f64) -> ExperimentStats {
    let mut rng = ChaCha8Rng::seed_from_u64(707);
    let (mut variant, mut segment, mut value) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..360_000 {
        let u: f64 = rng.r#gen();
        let s = SEGMENT_SHARE
            .iter()
            .scan(0.0, |acc, w| {
                *acc += w;
                Some(*acc)
            })
            .position(|edge| u < edge)
            .unwrap_or(3);
        let v = rng.gen_range(0..3usize);
        let rate = BASE_RATE[s] + if v == 1 { LIFT_B[s] } else { 0.0 };
        let converted = rng.gen_bool(rate);
        let lost = rng.r#gen::<f64>() < drop_c;
        if v == 2 && lost {
            continue;
        }
        variant.push(v as u32);
        segment.push(s as u32);
        value.push(f64::from(u8::from(converted)));
    }
    ExperimentStats::from_columns(
        Metric::new("converted", MetricKind::Binomial),
        names(&["control", "B", "C"]),
        names(&["new", "returning", "lapsed", "vip"]),
        &variant,
        Some(&segment),
        &value,
        None,
    )
    .unwrap()
}

#[test]
fn per_segment_verdicts_heterogeneity_and_sample_ratio() {
    let params = EvalParams::default();
    let stats = segmented_conversions(0.0);
    let eval = evaluate(&stats, &params).unwrap();
    assert_eq!(eval.segments.len(), 4);

    // Per arm and segment ≈ 24,000–36,000 units; B's ±0.03 has a standard
    // error ≈ 0.0025–0.003, so z ≈ 10: significant even after Holm over the 8
    // segment × treatment comparisons. The nulls are not significant with
    // this seed (each would be with probability ≤ 5 % family-wise).
    let winners: Vec<Option<usize>> = eval.segments.iter().map(|s| s.verdict.winner).collect();
    for s in &eval.segments {
        eprintln!("{}: {}", s.segment, s.verdict.reason);
    }
    assert_eq!(winners, vec![Some(1), None, None, None]);
    let b = |s: usize| eval.segments[s].variants[1].comparison.as_ref().unwrap();
    let holm = |s: usize| b(s).adjusted.unwrap().p_value_holm;
    assert!(
        b(0).abs_effect > 0.0 && holm(0) < params.alpha,
        "{:?}",
        b(0)
    );
    assert!(
        b(1).abs_effect < 0.0 && holm(1) < params.alpha,
        "{:?}",
        b(1)
    );
    assert!(
        eval.segments[1]
            .verdict
            .reason
            .starts_with("no clear winner")
    );
    for s in 2..4 {
        assert!(holm(s) >= params.alpha, "segment {s}: {:?}", b(s));
    }

    // B's effect differs between segments (+0.03, −0.03, 0, 0: Cochran's Q
    // is in the hundreds; observed Q 343.5, p 3.8e-74); C's does not
    // (observed with seed 707: Q 1.69, p 0.64).
    assert_eq!(eval.heterogeneity.len(), 2);
    let names: Vec<&str> = eval
        .heterogeneity
        .iter()
        .map(|h| h.variant.as_str())
        .collect();
    assert_eq!(names, ["B", "C"]);
    let het_b = eval.heterogeneity[0]
        .test
        .expect("four segments with effects");
    let het_c = eval.heterogeneity[1]
        .test
        .expect("four segments with effects");
    eprintln!(
        "heterogeneity B: Q {:.1} p {:.3e}; C: Q {:.2} p {:.3}",
        het_b.q, het_b.p_value, het_c.q, het_c.p_value
    );
    assert_eq!(het_b.segments, 4);
    assert!(
        het_b.differs && het_b.p_value < 1e-6 && het_b.i_squared > 0.9,
        "{het_b:?}"
    );
    assert!(!het_c.differs, "{het_c:?}");

    // Adjusted p-values never fall below the raw ones.
    for s in eval.segments.iter().chain([&eval.overall]) {
        for c in s.variants.iter().filter_map(|v| v.comparison.as_ref()) {
            let (t, a) = (c.absolute.unwrap(), c.adjusted.unwrap());
            assert!(a.p_value_holm >= t.p_value, "{}: {c:?}", s.segment);
            assert!(a.q_value_bh >= t.p_value, "{}: {c:?}", s.segment);
        }
    }

    // A correct uniform split passes the sample-ratio test overall and in
    // every segment (observed overall p = 0.884).
    eprintln!(
        "correct split: overall SRM p = {:.4}",
        eval.overall.sample_ratio.p_value
    );
    for s in eval.segments.iter().chain([&eval.overall]) {
        assert!(
            !s.sample_ratio.mismatch,
            "{}: {:?}",
            s.segment, s.sample_ratio
        );
        assert!(
            !s.warnings
                .iter()
                .any(|w| matches!(w, Warning::SampleRatioMismatch { .. }))
        );
    }

    // Losing 5 % of C's units: overall C has ≈ 114,000 instead of 120,000;
    // expected per arm 118,000, chi-square ≈ (2000² + 2000² + 4000²) / 118,000
    // ≈ 200 on 2 degrees of freedom (observed 204.4, p = 4.1e-45).
    let broken = evaluate(&segmented_conversions(0.05), &params).unwrap();
    let srm = broken.overall.sample_ratio;
    eprintln!(
        "broken split: overall SRM chi2 = {:.1}, p = {:.3e}",
        srm.chi2, srm.p_value
    );
    assert!(srm.mismatch && srm.p_value < 1e-10, "{srm:?}");
    assert!(
        broken
            .overall
            .warnings
            .iter()
            .any(|w| matches!(w, Warning::SampleRatioMismatch { .. }))
    );
    assert_eq!(broken.overall.verdict.winner, None);
    assert!(
        broken
            .overall
            .verdict
            .reason
            .contains("sample ratio mismatch"),
        "{}",
        broken.overall.verdict.reason
    );
    // Each segment lost 5 % of its C units too: ≥ 24,000 per arm, a deficit of
    // ≈ 1,200 and a chi-square ≈ 1200² · (2/3) / 23,600 ≈ 40 (p ≈ 2e-9), while
    // the assignment noise moves √chi-square by about ±1 around 6.4; the
    // threshold 0.001 needs √chi-square > 3.7.
    for s in &broken.segments {
        assert!(
            s.sample_ratio.mismatch,
            "{}: {:?}",
            s.segment, s.sample_ratio
        );
        assert_eq!(s.verdict.winner, None, "{}", s.segment);
    }
}

/// Thompson sampling on the synthetic population's true per-persona rates
/// (control baseline, baseline + the persona's lift) loses fewer conversions
/// than a fixed equal split: the treatment wins for two personas, loses for
/// one and does nothing for one.
#[test]
fn thompson_sampling_beats_an_equal_split_on_the_synthetic_population() {
    use custinsight::experiment::allocate::{
        AllocationParams, SimulationParams, simulate_binomial,
    };
    use custinsight::synth::{Population, SynthParams};
    let pop = Population::generate(&SynthParams::with_customers(2_000).with_seed(7)).unwrap();
    let rates: Vec<Vec<f64>> = pop
        .truth
        .experiment_baseline
        .iter()
        .zip(&pop.truth.experiment_lift)
        .map(|(&b, &l)| vec![b, b + l])
        .collect();
    for seed in 0..3 {
        let result = simulate_binomial(
            &rates,
            &SimulationParams {
                units_per_segment: 10_000,
                batch: 500,
                allocation: AllocationParams {
                    seed,
                    draws: 1_000,
                    ..AllocationParams::default()
                },
            },
        )
        .unwrap();
        assert!(
            result.regret_thompson < 0.5 * result.regret_equal,
            "seed {seed}: Thompson {} vs equal {}",
            result.regret_thompson,
            result.regret_equal
        );
        // Each persona with a real difference ends with most traffic on its better arm.
        for (w, r) in result.final_weights.iter().zip(&rates) {
            if (r[1] - r[0]).abs() >= 0.02 {
                let better = usize::from(r[1] > r[0]);
                assert!(
                    w[better] > 0.8,
                    "seed {seed}: weights {w:?} for rates {r:?}"
                );
            }
        }
    }
}
