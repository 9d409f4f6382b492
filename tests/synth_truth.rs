//! The synthetic population recovers its own truth, and is deterministic.
//!
//! Every statistical check compares an empirical quantity with its known
//! expectation within `k` standard errors, where the standard error is derived
//! from the generating process (or from the sample). [`assert_within`] also
//! asserts that the band `k·se` is narrow relative to the expected value, so no
//! check passes vacuously: a real discrepancy of that size would fail it.
//! Seeds are fixed, so every run draws the same samples.

use std::collections::HashMap;
use std::sync::OnceLock;

use custinsight::Error;
use custinsight::records::{Channel, Purpose, TouchpointKind};
use custinsight::store::{CustomerBase, from_micros};
use custinsight::synth::{BgNbdTruth, MARKETING_CHANNELS, Population, SynthParams};

const WEEK_US: f64 = 7.0 * 86_400.0 * 1e6;
const SEED: u64 = 20_240_917;
/// Customers in the shared default-parameter population.
const N_DEFAULT: usize = 50_000;
/// Customers in the BG/NBD population.
const N_BGNBD: usize = 50_000;

/// Default parameters, 50k customers: shared by all tests that do not need other parameters.
fn default_population() -> &'static Population {
    static POP: OnceLock<Population> = OnceLock::new();
    POP.get_or_init(|| {
        Population::generate(&SynthParams::with_customers(N_DEFAULT).with_seed(SEED)).unwrap()
    })
}

/// BG/NBD parameters with `a > 1`, so E[X(t)] has its closed form (the default `a = 1` makes `a − 1` zero).
const BGNBD: BgNbdTruth = BgNbdTruth {
    r: 0.9,
    alpha: 5.0,
    a: 1.6,
    b: 10.0,
};

fn bgnbd_params() -> SynthParams {
    // No touchpoints: only the purchase process matters here, and generation is faster.
    SynthParams {
        purchases: BGNBD,
        touchpoints: false,
        // Every customer buys in the acquisition window: the plain BG/NBD setting.
        prospect_share: 0.0,
        recent_share: 0.0,
        ..SynthParams::with_customers(N_BGNBD)
    }
}

fn bgnbd_population() -> &'static Population {
    static POP: OnceLock<Population> = OnceLock::new();
    POP.get_or_init(|| Population::generate(&bgnbd_params().with_seed(SEED + 1)).unwrap())
}

/// Asserts `|observed − expected| <= k·se`, and that the band is informative:
/// `k·se <= max_rel·|expected|`, so a relative error larger than `max_rel` fails.
fn assert_within(what: &str, observed: f64, expected: f64, se: f64, k: f64, max_rel: f64) {
    assert!(
        se.is_finite() && se > 0.0,
        "{what}: bad standard error {se}"
    );
    let band = k * se;
    assert!(
        band <= max_rel * expected.abs(),
        "{what}: tolerance {band:.6} is wider than {max_rel} of the expected {expected:.6}; the check would be vacuous"
    );
    let z = (observed - expected) / se;
    assert!(
        z.abs() <= k,
        "{what}: observed {observed:.6}, expected {expected:.6}, se {se:.6}, z = {z:.2} (allowed ±{k})"
    );
}

/// Binomial share check: `count` successes out of `n` against probability `p`.
fn assert_share(what: &str, count: usize, n: usize, p: f64, k: f64, max_rel: f64) {
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert_within(what, count as f64 / n as f64, p, se, k, max_rel);
}

fn mean(xs: impl IntoIterator<Item = f64>) -> (f64, usize) {
    let (s, n) = xs
        .into_iter()
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (s / n as f64, n)
}

/// Mean and sample standard deviation.
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

fn channel_code(base: &CustomerBase, channel: &Channel) -> Option<u16> {
    base.channels()
        .iter()
        .position(|c| c == channel)
        .map(|i| i as u16)
}

fn kind_code(base: &CustomerBase, kind: &TouchpointKind) -> Option<u16> {
    base.kinds()
        .iter()
        .position(|k| k == kind)
        .map(|i| i as u16)
}

// ---------------------------------------------------------------------------
// 1. Determinism
// ---------------------------------------------------------------------------

/// Asserts two populations are identical in every column, record and truth.
fn assert_identical(a: &Population, b: &Population, context: &str) {
    let (x, y) = (&a.base, &b.base);
    assert_eq!(x.n_customers(), y.n_customers(), "{context}: customers");
    assert_eq!(
        x.n_transactions(),
        y.n_transactions(),
        "{context}: transactions"
    );
    assert_eq!(
        x.n_touchpoints(),
        y.n_touchpoints(),
        "{context}: touchpoints"
    );
    assert!(
        x.tx_customer() == y.tx_customer(),
        "{context}: transaction customers differ"
    );
    assert!(
        x.tx_time_micros() == y.tx_time_micros(),
        "{context}: transaction times differ"
    );
    assert!(
        x.tx_amount_units() == y.tx_amount_units(),
        "{context}: transaction amounts differ"
    );
    assert!(
        x.tx_channel_codes() == y.tx_channel_codes(),
        "{context}: transaction channels differ"
    );
    assert!(
        x.channels() == y.channels() && x.kinds() == y.kinds(),
        "{context}: dictionaries differ"
    );
    assert!(
        (0..x.n_transactions()).all(|i| x.order_id(i) == y.order_id(i)),
        "{context}: order ids differ"
    );
    assert!(
        x.tp_customer() == y.tp_customer(),
        "{context}: touchpoint customers differ"
    );
    assert!(
        x.tp_time_micros() == y.tp_time_micros(),
        "{context}: touchpoint times differ"
    );
    assert!(
        x.tp_channel_codes() == y.tp_channel_codes(),
        "{context}: touchpoint channels differ"
    );
    assert!(
        x.tp_kind_codes() == y.tp_kind_codes(),
        "{context}: touchpoint kinds differ"
    );
    assert!(
        x.customer_indices()
            .all(|c| x.customer_id(c) == y.customer_id(c) && x.customer(c) == y.customer(c)),
        "{context}: customers (profile, consent) differ"
    );
    assert!(
        a.source_records == b.source_records,
        "{context}: source records differ"
    );
    assert!(
        a.experiment == b.experiment,
        "{context}: experiment differs"
    );
    assert!(a.truth == b.truth, "{context}: truth differs");
    assert_eq!(
        (a.observation_start, a.observation_end),
        (b.observation_start, b.observation_end),
        "{context}"
    );
}

#[test]
fn same_seed_same_population_different_seed_different() {
    let shared = default_population();
    let params = SynthParams::with_customers(N_DEFAULT);
    // 50k customers span four generation chunks of 16,384, so chunked, pipelined assembly is covered.
    let again = Population::generate(&params.clone().with_seed(SEED)).unwrap();
    assert_identical(shared, &again, "same seed");

    let other = Population::generate(&params.clone().with_seed(SEED + 7)).unwrap();
    assert_eq!(other.base.n_customers(), N_DEFAULT);
    assert!(
        shared.base.tx_time_micros() != other.base.tx_time_micros(),
        "different seed, same transaction times"
    );
    assert!(
        shared.base.tx_amount_units() != other.base.tx_amount_units(),
        "different seed, same amounts"
    );
    assert!(
        shared.truth.purchase_rate != other.truth.purchase_rate,
        "different seed, same purchase rates"
    );
    assert!(
        shared.source_records != other.source_records,
        "different seed, same source records"
    );
}

/// The crate's `parallel` feature makes rayon a normal dependency, so the test can reach it.
#[cfg(feature = "parallel")]
#[test]
fn identical_on_one_thread_and_on_the_default_pool() {
    let params = SynthParams::with_customers(N_DEFAULT);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let single = pool
        .install(|| Population::generate(&params.clone().with_seed(SEED)))
        .unwrap();
    assert_identical(default_population(), &single, "1 thread vs default pool");
}

// ---------------------------------------------------------------------------
// 2. Personas
// ---------------------------------------------------------------------------

#[test]
fn persona_shares_match_the_specs() {
    let pop = default_population();
    let specs = &pop.params.personas;
    let total: f64 = specs.iter().map(|p| p.share).sum();
    assert_eq!(pop.truth.persona.len(), N_DEFAULT);
    assert_eq!(
        pop.truth.persona_names,
        specs.iter().map(|p| p.name.clone()).collect::<Vec<_>>()
    );
    let mut counts = vec![0usize; specs.len()];
    for &p in &pop.truth.persona {
        counts[p as usize] += 1;
    }
    for (spec, &count) in specs.iter().zip(&counts) {
        // Binomial: se = √(p(1−p)/n) ≈ 0.0016–0.0021 at n = 50k; 5 se is 3–5.3% of the shares (0.15–0.35).
        assert_share(
            &format!("share of {}", spec.name),
            count,
            N_DEFAULT,
            spec.share / total,
            5.0,
            0.06,
        );
    }
}

// ---------------------------------------------------------------------------
// 3. Purchases (BG/NBD)
// ---------------------------------------------------------------------------

/// Gauss hypergeometric 2F1(a, b; c; z) by its power series, for 0 <= z < 1.
fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    assert!((0.0..1.0).contains(&z));
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 0..100_000 {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() < 1e-17 * sum.abs() {
            return sum;
        }
    }
    panic!("2F1({a}, {b}; {c}; {z}) did not converge");
}

/// BG/NBD expected repeat purchases in (0, t] (Fader, Hardie & Lee 2005, eq. 7):
/// E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r · 2F1(r, b; a+b−1; t/(α+t))], for a > 1.
fn expected_repeats(p: &BgNbdTruth, t: f64) -> f64 {
    let BgNbdTruth { r, alpha, a, b } = *p;
    assert!(a > 1.0);
    (a + b - 1.0) / (a - 1.0)
        * (1.0 - (alpha / (alpha + t)).powf(r) * hyp2f1(r, b, a + b - 1.0, t / (alpha + t)))
}

#[test]
fn closed_form_matches_lifetimes_reference() {
    // Reference values from lifetimes 0.11.3 (scipy 1.17.1, pandas 3.1.1), produced with:
    //
    //     import pandas as pd
    //     from lifetimes import BetaGeoFitter
    //     f = BetaGeoFitter()
    //     f.params_ = pd.Series({"r": 0.9, "alpha": 5.0, "a": 1.6, "b": 10.0})
    //     for t in [1.0, 10.0, 52.0, 78.0, 104.0]:
    //         print(t, repr(float(f.expected_number_of_purchases_up_to_time(t))))
    //
    // which printed 0.17546179572715492, 1.4551609799536462, 4.61875264727807,
    // 5.7239835609029175 and 6.553643509213954.
    let reference = [
        (1.0, 0.17546179572715492),
        (10.0, 1.4551609799536462),
        (52.0, 4.61875264727807),
        (78.0, 5.7239835609029175),
        (104.0, 6.553643509213954),
    ];
    for (t, expected) in reference {
        let got = expected_repeats(&BGNBD, t);
        assert!(
            (got - expected).abs() < 1e-9,
            "E[X({t})] = {got}, lifetimes says {expected}"
        );
    }
    // Sanity of the series itself: 2F1(1, 1; 2; z) = −ln(1 − z)/z.
    let z = 0.9;
    assert!((hyp2f1(1.0, 1.0, 2.0, z) - (-(1.0f64 - z).ln() / z)).abs() < 1e-12);
}

#[test]
fn purchase_process_recovers_bgnbd_truth() {
    let pop = bgnbd_population();
    let (base, truth, params) = (&pop.base, &pop.truth, &pop.params);
    let n = N_BGNBD;
    assert_eq!(base.n_customers(), n);
    assert_eq!(base.n_touchpoints(), 0, "touchpoints were switched off");
    assert_eq!(truth.purchases, BGNBD);
    let BgNbdTruth { r, alpha, a, b } = BGNBD;

    // (a) λ ~ Gamma(r, rate α): mean r/α = 0.18, sd √r/α ≈ 0.19; se ≈ 8.5e-4 at n = 50k, 5 se ≈ 2.4% of the mean.
    let (mean_rate, _) = mean(truth.purchase_rate.iter().copied());
    assert_within(
        "mean purchase rate",
        mean_rate,
        r / alpha,
        r.sqrt() / alpha / (n as f64).sqrt(),
        5.0,
        0.03,
    );
    // p ~ Beta(a, b): mean a/(a+b) ≈ 0.138, sd √(ab/((a+b)²(a+b+1))) ≈ 0.097; 5 se ≈ 1.6% of the mean.
    let dropout_sd = (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt();
    let (mean_dropout, _) = mean(truth.dropout_probability.iter().copied());
    assert_within(
        "mean dropout",
        mean_dropout,
        a / (a + b),
        dropout_sd / (n as f64).sqrt(),
        5.0,
        0.03,
    );

    // (b) Repeat transactions per customer against E[X(t)] at each customer's own t.
    let repeats: Vec<f64> = base
        .customer_indices()
        .map(|c| {
            let count = base.transaction_range(c).len();
            assert!(count >= 1, "customer {c} has no first purchase");
            (count - 1) as f64
        })
        .collect();
    let (expected, _) = mean(
        truth
            .first_purchase_week
            .iter()
            .map(|w| expected_repeats(&BGNBD, params.observation_weeks - w)),
    );
    let (observed, sd) = mean_sd(&repeats);
    // The sample sd of repeat counts (≈ 7.0) gives se ≈ 0.031; 4.5 se ≈ 2.5% of the ≈ 5.68 expected repeats.
    assert_within(
        "mean repeat transactions",
        observed,
        expected,
        sd / (n as f64).sqrt(),
        4.5,
        0.03,
    );

    // Dropout happens only after a repeat purchase.
    for c in base.customer_indices() {
        if !truth.alive_at_end[c as usize] {
            assert!(
                base.transaction_range(c).len() >= 2,
                "customer {c} dropped out without a repeat purchase"
            );
        }
    }

    // (c) Timestamps inside the observation window; the first at first_purchase_week, to the second.
    let (start, end) = (
        pop.observation_start.as_microsecond(),
        pop.observation_end.as_microsecond(),
    );
    assert_eq!(end - start, (params.observation_weeks * WEEK_US) as i64);
    let times = base.tx_time_micros();
    assert!(
        times.iter().all(|t| (start..=end).contains(t)),
        "a transaction lies outside the observation window"
    );
    for c in base.customer_indices() {
        let w = truth.first_purchase_week[c as usize];
        assert!(
            (0.0..params.acquisition_weeks).contains(&w),
            "first purchase week {w} outside acquisition"
        );
        let exact = start as f64 + w * WEEK_US;
        let first = times[base.transaction_range(c).start];
        assert!(
            first as f64 <= exact && exact - (first as f64) < 1e6,
            "customer {c}: first transaction at {first} µs, first purchase week {w} is {exact} µs"
        );
        assert_eq!(
            base.customer(c)
                .unwrap()
                .created_at
                .unwrap()
                .as_microsecond(),
            first,
            "customer {c}: joined"
        );
    }
}

// ---------------------------------------------------------------------------
// 4. Spend (Gamma–Gamma)
// ---------------------------------------------------------------------------

#[test]
fn spend_recovers_gamma_gamma_truth() {
    let pop = default_population();
    let (base, truth) = (&pop.base, &pop.truth);
    let p = pop.params.spend.p;

    // Pooled mean amount against Σ n_i·m_i / Σ n_i, where m_i = p/ν_i is customer i's mean spend.
    // Given ν_i each amount is Gamma(p, ν_i) with variance p/ν_i² = m_i²/p, so the pooled mean has
    // se = √(Σ n_i m_i² / p) / Σ n_i (≈ 0.024 here; 5 se is 0.34% of the ≈ 35 EUR mean).
    let (mut weighted, mut var, mut count) = (0.0, 0.0, 0usize);
    for c in base.customer_indices() {
        let n_i = base.transaction_range(c).len();
        let m_i = truth.mean_spend[c as usize];
        weighted += n_i as f64 * m_i;
        var += n_i as f64 * m_i * m_i / p;
        count += n_i;
    }
    assert_eq!(count, base.n_transactions());
    assert!(
        base.tx_amount_units().iter().all(|&u| u > 0),
        "every amount is positive"
    );
    assert!(base.tx_is_refund().iter().all(|&r| !r), "no refunds");
    let pooled = base
        .tx_amount_units()
        .iter()
        .map(|&u| u as f64 / 1e4)
        .sum::<f64>()
        / count as f64;
    assert_within(
        "pooled mean amount",
        pooled,
        weighted / count as f64,
        var.sqrt() / count as f64,
        5.0,
        0.01,
    );

    // Population mean of m_i = p/ν, ν ~ Gamma(q, rate γ): E = pγ/(q−1), sd = pγ/((q−1)√(q−2)) for q > 2.
    let s = truth.spend;
    assert!(s.q > 2.0);
    let expected = s.p * s.gamma / (s.q - 1.0);
    let sd = expected / (s.q - 2.0).sqrt();
    let (m, n) = mean(truth.mean_spend.iter().copied());
    // se ≈ 0.12 at n = 50k; 5 se ≈ 1.7% of the ≈ 35.2 expected.
    assert_within(
        "mean of mean_spend",
        m,
        expected,
        sd / (n as f64).sqrt(),
        5.0,
        0.03,
    );
}

// ---------------------------------------------------------------------------
// 5. Journeys
// ---------------------------------------------------------------------------

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Exact P(journey converts) for channel weights `w` (already masked by consent):
/// the journey has 1 + Poisson(m) touchpoints on channels drawn i.i.d. from `w`,
/// and converts with probability logistic(β₀ + Σ β_c) over its distinct channels.
/// Sums over the distribution of the set of distinct channels (2¹⁰ subsets) by dynamic programming.
fn journey_conversion_probability(
    w: &[f64; 10],
    intercept: f64,
    effects: &[f64; 10],
    m: f64,
) -> f64 {
    let total: f64 = w.iter().sum();
    let w: Vec<f64> = w.iter().map(|x| x / total).collect();
    let set_value: Vec<f64> = (0..1024usize)
        .map(|s| {
            logistic(
                intercept
                    + (0..10)
                        .filter(|c| s >> c & 1 == 1)
                        .map(|c| effects[c])
                        .sum::<f64>(),
            )
        })
        .collect();
    let mut dist = vec![0.0; 1024];
    dist[0] = 1.0;
    let (mut result, mut covered) = (0.0, 0.0);
    let mut poisson = (-m).exp(); // P(extra = 0)
    for extra in 0..200 {
        let mut next = vec![0.0; 1024];
        for (s, &ps) in dist.iter().enumerate().filter(|(_, p)| **p > 0.0) {
            for (c, &wc) in w.iter().enumerate() {
                next[s | 1 << c] += ps * wc;
            }
        }
        dist = next;
        result += poisson * dist.iter().zip(&set_value).map(|(p, v)| p * v).sum::<f64>();
        covered += poisson;
        if 1.0 - covered < 1e-15 {
            break;
        }
        poisson *= m / f64::from(extra + 1);
    }
    result
}

#[test]
fn journeys_and_purchases_agree_with_the_journey_model() {
    let pop = default_population();
    let (base, truth, params) = (&pop.base, &pop.truth, &pop.params);
    let counts = truth.journey_counts;
    let (total, converted) = (counts.drawn, counts.converted);
    assert!(
        total + counts.prospect_drawn > counts.placed
            && counts.placed > converted
            && converted > 0
            && counts.prospect_drawn > 0,
        "{counts:?}"
    );

    let web = channel_code(base, &Channel::Web).unwrap();
    let app = channel_code(base, &Channel::App).unwrap();
    let purchase = kind_code(base, &TouchpointKind::Purchase).unwrap();
    let journey_kinds: Vec<u16> = [
        TouchpointKind::Impression,
        TouchpointKind::Click,
        TouchpointKind::Visit,
        TouchpointKind::ProductView,
        TouchpointKind::Compare,
        TouchpointKind::ReviewRead,
        TouchpointKind::Configurator,
        TouchpointKind::AddToCart,
        TouchpointKind::Inquiry,
    ]
    .iter()
    .filter_map(|k| kind_code(base, k))
    .collect();
    let (tx_time, tx_channel) = (base.tx_time_micros(), base.tx_channel_codes());
    let (tp_time, tp_channel, tp_kind) = (
        base.tp_time_micros(),
        base.tp_channel_codes(),
        base.tp_kind_codes(),
    );

    // Every transaction has a Purchase touchpoint for the same customer at the same time on the same
    // channel, and vice versa (the per-customer multisets of (time, channel) are equal).
    let mut web_app_purchases = 0u64;
    for c in base.customer_indices() {
        let mut txs: Vec<(i64, u16)> = base
            .transaction_range(c)
            .map(|i| (tx_time[i], tx_channel[i]))
            .collect();
        let mut tps: Vec<(i64, u16)> = base
            .touchpoint_range(c)
            .filter(|&i| tp_kind[i] == purchase)
            .map(|i| (tp_time[i], tp_channel[i]))
            .collect();
        txs.sort_unstable();
        tps.sort_unstable();
        assert_eq!(
            txs, tps,
            "customer {c}: transactions and purchase touchpoints differ"
        );
        web_app_purchases += txs
            .iter()
            .filter(|(_, ch)| *ch == web || *ch == app)
            .count() as u64;
    }
    // Web is never consent-gated and has positive weight in every default persona, so every web or
    // app purchase ends exactly one converting journey.
    assert!(params.personas.iter().all(|p| p.channel_weights[0] > 0.0));
    assert_eq!(
        converted, web_app_purchases,
        "converted journeys vs web/app purchases"
    );

    // Journeys per conversion: each journey converts independently with probability p̄ (which depends on
    // the persona and on the consent at the purchase), so the journeys before a conversion are geometric
    // with mean 1/p̄ and variance (1−p̄)/p̄². Σ 1/p̄ over web/app purchases is the expected total.
    let j = &params.journeys;
    let mut cache: HashMap<(u8, [bool; 3]), f64> = HashMap::new();
    let (mut expected_total, mut var_total) = (0.0, 0.0);
    for c in base.customer_indices() {
        let persona = truth.persona[c as usize];
        let spec = &params.personas[persona as usize];
        for i in base
            .transaction_range(c)
            .filter(|&i| tx_channel[i] == web || tx_channel[i] == app)
        {
            // The consent in force just before the purchase: none before sign-up (the first purchase),
            // then as granted at sign-up until an unsubscribe.
            let at = from_micros(tx_time[i] - 1);
            let allowed = [Channel::Email, Channel::Sms, Channel::DirectMail]
                .map(|ch| base.allows(c, &ch, &Purpose::Marketing, at));
            let p = *cache.entry((persona, allowed)).or_insert_with(|| {
                let mut w = spec.channel_weights;
                for (k, ch) in MARKETING_CHANNELS.iter().enumerate() {
                    let ok = match ch {
                        Channel::Email => allowed[0],
                        Channel::Sms | Channel::Push => allowed[1],
                        Channel::DirectMail => allowed[2],
                        _ => true,
                    };
                    if !ok {
                        w[k] = 0.0;
                    }
                }
                journey_conversion_probability(
                    &w,
                    j.intercept + spec.journey_log_odds,
                    &j.channel_effects,
                    j.mean_extra_touchpoints,
                )
            });
            expected_total += 1.0 / p;
            var_total += (1.0 - p) / (p * p);
        }
    }
    // Here ≈ 903k journeys drawn for ≈ 388k web/app purchases (conversion rate ≈ 0.43; 472k of them
    // placed in the data); se = √(Σ(1−p̄)/p̄²) ≈ 1,140, so 5 se ≈ 0.6% of the total. Equivalently, converted/total matches the model's rate.
    assert_within(
        "journeys",
        total as f64,
        expected_total,
        var_total.sqrt(),
        5.0,
        0.01,
    );

    // The data hold the touchpoints of the journeys placed, and nothing else of those kinds.
    let journey_touchpoints = tp_kind.iter().filter(|k| journey_kinds.contains(k)).count() as u64;
    let placed_touchpoints: u64 = truth
        .placed_journeys
        .iter()
        .map(|j| u64::from(j.touchpoints))
        .sum();
    assert_eq!(journey_touchpoints, placed_touchpoints);
    assert_eq!(truth.placed_journeys.len() as u64, counts.placed);

    // Wald's identities: journey touchpoints (1 + Poisson(m) per journey) total (1+m)·journeys with
    // variance m·journeys, even though the stopping rule depends on the touchpoints drawn.
    let m = j.mean_extra_touchpoints;
    assert_within(
        "journey touchpoints drawn",
        counts.drawn_touchpoints as f64,
        (1.0 + m) * total as f64,
        (m * total as f64).sqrt(),
        5.0,
        // ≈ 1.6M touchpoints, se ≈ 845; 5 se ≈ 0.26%.
        0.005,
    );
    // The same for the prospects' runs of journeys, drawn alike.
    let prospects = counts.prospect_drawn as f64;
    assert_within(
        "prospects' journey touchpoints drawn",
        counts.prospect_drawn_touchpoints as f64,
        (1.0 + m) * prospects,
        (m * prospects).sqrt(),
        5.0,
        0.02,
    );
}

#[test]
fn outbound_marketing_respects_consent() {
    let pop = default_population();
    let base = &pop.base;
    let outbound: Vec<u16> = [TouchpointKind::Impression, TouchpointKind::Click]
        .iter()
        .filter_map(|k| kind_code(base, k))
        .collect();
    let gated: Vec<(u16, Channel)> = [
        Channel::Email,
        Channel::Sms,
        Channel::Push,
        Channel::DirectMail,
    ]
    .into_iter()
    .filter_map(|ch| channel_code(base, &ch).map(|code| (code, ch)))
    .collect();
    let (tp_customer, tp_time, tp_channel, tp_kind) = (
        base.tp_customer(),
        base.tp_time_micros(),
        base.tp_channel_codes(),
        base.tp_kind_codes(),
    );
    let (mut checked, mut violations, mut first) = (0usize, 0usize, None);
    for i in 0..base.n_touchpoints() {
        if !outbound.contains(&tp_kind[i]) {
            continue;
        }
        let Some((_, ch)) = gated.iter().find(|(code, _)| *code == tp_channel[i]) else {
            continue;
        };
        checked += 1;
        if !base.allows(
            tp_customer[i],
            ch,
            &Purpose::Marketing,
            from_micros(tp_time[i]),
        ) {
            violations += 1;
            first.get_or_insert_with(|| base.touchpoint(i));
        }
    }
    assert!(
        checked > 1_000,
        "too few consent-gated touchpoints ({checked}) to check"
    );
    assert_eq!(
        violations, 0,
        "{violations} of {checked} consent-gated touchpoints without consent, e.g. {first:?}"
    );
}

// ---------------------------------------------------------------------------
// 6. Experiment
// ---------------------------------------------------------------------------

#[test]
fn experiment_recovers_lift_per_persona() {
    let pop = default_population();
    let (units, truth) = (&pop.experiment.units, &pop.truth);
    assert_eq!(units.len(), N_DEFAULT);
    assert!(
        units
            .iter()
            .enumerate()
            .all(|(i, u)| u.customer as usize == i),
        "units in customer order"
    );
    assert!(
        units.iter().all(|u| u.converted == (u.revenue > 0.0)),
        "revenue > 0 exactly when converted"
    );

    let treated = units.iter().filter(|u| u.treatment).count();
    // Binomial: se ≈ 0.0022 at n = 50k; 5 se ≈ 2.2% of 0.5.
    assert_share(
        "treatment share",
        treated,
        units.len(),
        pop.params.treatment_share,
        5.0,
        0.03,
    );

    for (k, name) in truth.persona_names.iter().enumerate() {
        let arm = |treatment: bool| {
            let (n, conv) = units
                .iter()
                .filter(|u| {
                    u.treatment == treatment && truth.persona[u.customer as usize] as usize == k
                })
                .fold((0usize, 0usize), |(n, c), u| {
                    (n + 1, c + usize::from(u.converted))
                });
            (n as f64, conv as f64 / n as f64)
        };
        let ((n1, p1), (n0, p0)) = (arm(true), arm(false));
        // The persona's effect is the mean of its members' individual effects
        // (the persona's lift shifted by each one's purchase history).
        let members: Vec<f64> = units
            .iter()
            .filter(|u| truth.persona[u.customer as usize] as usize == k)
            .map(|u| truth.treatment_effect[u.customer as usize])
            .collect();
        let lift = members.iter().sum::<f64>() / members.len() as f64;
        let base_p = truth.experiment_baseline[k];
        // Control conversion: binomial, se ≈ 0.0032–0.0044; 5 se is 16–33% of baselines 0.06–0.14
        // (≤ 0.022 absolute, below the lifts 0.03 and 0.05: treated effects leaking into control would fail).
        let se0 = (base_p * (1.0 - base_p) / n0).sqrt();
        assert_within(
            &format!("{name}: control conversion"),
            p0,
            base_p,
            se0,
            5.0,
            0.35,
        );
        // Difference in proportions, se from the true arm probabilities (≈ 0.0048–0.0062). The lift is
        // absolute and can be 0, so the band is bounded absolutely: 4 se ≈ 0.019–0.025 < 0.03, below the
        // nonzero lifts 0.03 and 0.05 (and ≈ the −0.02), so a missing lift would fail.
        let pt = base_p + lift;
        let se = (pt * (1.0 - pt) / n1 + base_p * (1.0 - base_p) / n0).sqrt();
        assert!(4.0 * se < 0.03, "{name}: se {se} too wide");
        let z = (p1 - p0 - lift) / se;
        assert!(
            z.abs() <= 4.0,
            "{name}: lift {:.4} observed vs {lift} true (se {se:.4}, z {z:.2})",
            p1 - p0
        );
    }
}

// ---------------------------------------------------------------------------
// 7. Identity
// ---------------------------------------------------------------------------

fn has_full_width(s: &str) -> bool {
    s.chars()
        .any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c) || c == '\u{3000}')
}

#[test]
fn source_records_carry_clean_primaries_and_dirty_duplicates() {
    let pop = default_population();
    let (base, truth, records) = (&pop.base, &pop.truth, &pop.source_records);
    assert_eq!(truth.source_record_customer.len(), records.len());
    assert!(
        truth
            .source_record_customer
            .windows(2)
            .all(|w| w[0] <= w[1]),
        "records grouped by customer"
    );

    let mut per_customer: Vec<Vec<usize>> = vec![Vec::new(); N_DEFAULT];
    for (r, &c) in truth.source_record_customer.iter().enumerate() {
        per_customer[c as usize].push(r);
    }
    let (mut duplicated, mut full_width, mut missing_email, mut differing) =
        (0usize, 0usize, 0usize, 0usize);
    for c in base.customer_indices() {
        let rs = &per_customer[c as usize];
        assert!(!rs.is_empty(), "customer {c} has no source record");
        let clean = &records[rs[0]];
        assert_eq!(clean.source.source, "webshop", "customer {c}: first record");
        assert_eq!(
            clean.source.key,
            base.customer_id(c),
            "customer {c}: first record key"
        );
        let customer = base.customer(c).unwrap();
        assert_eq!(
            clean.email.as_deref(),
            Some(customer.profile.emails[0].expose().as_str())
        );
        assert_eq!(
            clean.given_name.as_deref(),
            customer
                .profile
                .given_name
                .as_ref()
                .map(|g| g.expose().as_str())
        );
        assert_eq!(
            customer.sources,
            rs.iter()
                .map(|&r| records[r].source.clone())
                .collect::<Vec<_>>(),
            "customer {c}: provenance"
        );
        duplicated += usize::from(rs.len() > 1);
        for &r in &rs[1..] {
            let d = &records[r];
            assert!(
                ["loyalty", "store_pos", "call_center", "webshop"]
                    .contains(&d.source.source.as_str())
            );
            missing_email += usize::from(d.email.is_none());
            let fields = [
                &d.given_name,
                &d.family_name,
                &d.email,
                &d.phone,
                &d.birth_date,
                &d.street,
                &d.postcode,
            ];
            full_width += usize::from(
                fields
                    .iter()
                    .any(|f| f.as_deref().is_some_and(has_full_width)),
            );
            differing += usize::from(
                d.given_name != clean.given_name
                    || d.family_name != clean.family_name
                    || d.email != clean.email
                    || d.phone != clean.phone,
            );
        }
    }
    // Binomial: se ≈ 0.0016 at n = 50k; 5 se ≈ 5.3% of 0.15.
    assert_share(
        "customers with duplicates",
        duplicated,
        N_DEFAULT,
        pop.params.duplicate_share,
        5.0,
        0.07,
    );
    let dirty = records.len() - N_DEFAULT;
    assert!(full_width > 0, "no dirty record has a full-width character");
    assert!(missing_email > 0, "no dirty record is missing its e-mail");
    // E-mail is dropped with probability 0.3 per dirty record: se ≈ 0.0047 over ≈ 9.6k records, 5 se ≈ 7.8%.
    assert_share(
        "dirty records without e-mail",
        missing_email,
        dirty,
        0.3,
        5.0,
        0.1,
    );
    assert!(
        differing > dirty / 2,
        "only {differing} of {dirty} dirty records differ from the clean one"
    );
    assert!(records.iter().all(|r| !r.source.key.is_empty()));
}

// ---------------------------------------------------------------------------
// 8. Parameter checks
// ---------------------------------------------------------------------------

#[test]
fn invalid_parameters_are_errors_not_panics() {
    type Mutate = fn(&mut SynthParams);
    let cases: [(&str, Mutate); 14] = [
        ("n_customers", |p| p.n_customers = 0),
        ("purchases.alpha", |p| p.purchases.alpha = -1.0),
        ("purchases.r", |p| p.purchases.r = f64::NAN),
        ("duplicate_share", |p| p.duplicate_share = 1.5),
        ("treatment_share", |p| p.treatment_share = -0.1),
        ("personas", |p| p.personas.clear()),
        ("personas.email_opt_in", |p| {
            p.personas[1].email_opt_in = 2.0
        }),
        ("acquisition_weeks", |p| {
            p.acquisition_weeks = p.observation_weeks
        }),
        ("prospect_share", |p| p.prospect_share = 1.2),
        ("prospect_mean_weeks", |p| p.prospect_mean_weeks = 0.0),
        ("recent_weeks", |p| {
            p.recent_weeks = p.observation_weeks + 1.0
        }),
        ("stages.lapse_days", |p| p.stages.lapse_days = f64::INFINITY),
        ("stages.targeting_accuracy", |p| {
            p.stages.targeting_accuracy = -0.5
        }),
        ("personas.episode_depth_weights", |p| {
            p.personas[0].episode_depth_weights = [0.0; 3]
        }),
    ];
    for (expected, mutate) in cases {
        let mut params = SynthParams::with_customers(10);
        mutate(&mut params);
        match params.check() {
            Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, expected),
            Err(e) => panic!("{expected}: check gave the wrong error {e:?}"),
            Ok(()) => panic!("{expected}: check accepted"),
        }
        match Population::generate(&params.clone().with_seed(1)) {
            Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, expected),
            Err(e) => panic!("{expected}: wrong error {e:?}"),
            Ok(_) => panic!("{expected}: invalid parameters accepted"),
        }
    }
    // The unmodified parameters are fine.
    assert!(Population::generate(&SynthParams::with_customers(10).with_seed(1)).is_ok());
}

/// The individual effect is the persona's lift shifted by the purchase
/// history at the end: lapsed buyers gain κ, regulars lose κ, and the
/// experiment's outcomes follow it.
#[test]
fn individual_effects_follow_the_purchase_history() {
    use custinsight::synth::{ACTIVE_WEEKS, LAPSED_WEEKS, REGULAR_PURCHASES};
    let pop = Population::generate(&SynthParams::with_customers(4_000).with_seed(5)).unwrap();
    let t = &pop.truth;
    let kappa = pop.params.experiment_lift_by_activity;
    let end = pop.params.observation_weeks;
    let (mut lapsed, mut regular, mut other) = (0, 0, 0);
    for c in 0..pop.base.n_customers() {
        let lift = t.experiment_lift[usize::from(t.persona[c])];
        let n = t.purchases_in_observation[c] as usize;
        let since = t.last_purchase_week[c].map(|w| end - w);
        let shift = match since {
            Some(s) if s > LAPSED_WEEKS => {
                lapsed += 1;
                kappa
            }
            Some(s) if n >= REGULAR_PURCHASES && s <= ACTIVE_WEEKS => {
                regular += 1;
                -kappa
            }
            _ => {
                other += 1;
                0.0
            }
        };
        assert!(
            (t.treatment_effect[c] - (lift + shift)).abs() < 1e-15,
            "customer {c}"
        );
        let (p0, p1) = (
            pop.conversion_probability(c as u32, false),
            pop.conversion_probability(c as u32, true),
        );
        assert!((p1 - p0 - t.treatment_effect[c]).abs() < 1e-12);
        // The history in the truth is the base's.
        assert_eq!(n, pop.base.history(c as u32).tx_time.len(), "customer {c}");
    }
    // Every group is populated, so the shift is there to learn.
    assert!(
        lapsed > 400 && regular > 200 && other > 400,
        "{lapsed} {regular} {other}"
    );
}
