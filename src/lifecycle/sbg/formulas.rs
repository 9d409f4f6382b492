//! Shifted-beta-geometric (sBG): retention of contractual customers (subscriptions, memberships, policies)
//! who renew or cancel at discrete, known times.
//!
//! # The model
//!
//! Fader & Hardie (2007), "How to project customer retention", *Journal of Interactive Marketing* 21 (1),
//! 76–90, and for valuation Fader & Hardie (2010), "Customer-base valuation in a contractual setting: the
//! perils of ignoring heterogeneity", *Marketing Science* 29 (1), 85–93.
//!
//! - At the end of each period an active customer cancels with probability `θ`, so their lifetime `T`
//!   (the period in which they cancel) is shifted-geometric: `P(T = t | θ) = θ(1 − θ)^(t−1)`, `t = 1, 2, …`
//! - Across customers `θ ~ beta(α, β)`.
//!
//! Averaging over θ (FH 2007, "the shifted-beta-geometric model"):
//!
//! ```text
//! P(T = t) = B(α+1, β+t−1) / B(α, β)          churn in period t
//! S(t)     = B(α, β+t) / B(α, β)              still active after t periods, S(0) = 1
//! r(t)     = S(t) / S(t−1) = (β+t−1)/(α+β+t−1)   retention rate, rising with t (sorting, not loyalty)
//! ```
//!
//! A cohort of `N` customers observed for `T` periods, `n_t` of whom cancelled in period `t`, has
//! log-likelihood (FH 2007; the function their spreadsheet maximises)
//!
//! ```text
//! LL(α, β) = Σ_{t=1}^{T} n_t ln P(T = t) + (N − Σ_t n_t) ln S(T)
//! ```
//!
//! Parameters are `[alpha, beta]`. Functions return `NaN` when a parameter is not a finite positive number
//! (and on the other domain errors documented on each function); the fitted-model wrapper validates first.

use crate::lifecycle::special::{hyp2f1, ln_beta};

/// Whether both parameters are finite, strictly positive numbers.
fn params_ok(params: &[f64; 2]) -> bool {
    params.iter().all(|&p| p.is_finite() && p > 0.0)
}

/// Probability that a new customer cancels in period `t`, `P(T = t) = B(α+1, β+t−1)/B(α, β)`
/// (FH 2007). 0 for `t = 0` (nobody cancels before their first period).
pub fn churn_probability(params: &[f64; 2], t: u32) -> f64 {
    if !params_ok(params) {
        return f64::NAN;
    }
    if t == 0 {
        return 0.0;
    }
    let [alpha, beta] = *params;
    // B(α+1, β+t−1)/B(α, β) = S(t−1) · α/(α+β+t−1), which keeps P(T = t) = S(t−1) − S(t) to rounding.
    let elapsed = f64::from(t) - 1.0;
    survival(params, t - 1) * alpha / (alpha + beta + elapsed)
}

/// Probability that a new customer is still active after `t` periods, `S(t) = B(α, β+t)/B(α, β)`
/// (FH 2007); `S(0) = 1`, non-increasing in `t`.
///
/// Computed in `O(1)` from log-gamma differences, whose rounding grows with the arguments: the relative
/// error is about `1e-16 · t ln t` (1e-12 at `t` = 1,000 periods).
pub fn survival(params: &[f64; 2], t: u32) -> f64 {
    if !params_ok(params) {
        return f64::NAN;
    }
    if t == 0 {
        return 1.0;
    }
    let [alpha, beta] = *params;
    (ln_beta(alpha, beta + f64::from(t)) - ln_beta(alpha, beta))
        .exp()
        .min(1.0)
}

/// Retention rate in period `t`, the share of customers active after period `t − 1` who are still active after
/// period `t`: `r(t) = (β + t − 1)/(α + β + t − 1)` (FH 2007).
///
/// It rises with `t` although no customer's own θ changes: those likely to cancel leave first. Defined for
/// `t ≥ 1`; `NaN` for `t = 0`.
pub fn retention_rate(params: &[f64; 2], t: u32) -> f64 {
    if !params_ok(params) || t == 0 {
        return f64::NAN;
    }
    let [alpha, beta] = *params;
    let elapsed = f64::from(t) - 1.0;
    (beta + elapsed) / (alpha + beta + elapsed)
}

/// The cohort log-likelihood and, when `GRADIENT`, its gradient; assumes valid parameters.
///
/// `ln P(T = t)` and `ln S(t)` advance with the retention ratios, whose derivatives are rational, so the
/// gradient needs no digamma:
///
/// ```text
/// ln P(T = 1) = ln α − ln(α+β),       ln P(T = t) = ln P(T = t−1) + ln(β+t−2) − ln(α+β+t−1)
/// ln S(t)     = ln S(t−1) + ln(β+t−1) − ln(α+β+t−1)
/// ```
fn log_likelihood_core<const GRADIENT: bool>(
    params: &[f64; 2],
    churned_by_period: &[u64],
    still_active: u64,
) -> (f64, [f64; 2]) {
    let [alpha, beta] = *params;
    // Running ln P(T = t) and ln S(t − 1), with their derivatives in (α, β).
    let mut ln_churn = (alpha / (alpha + beta)).ln();
    let mut d_churn = [1.0 / alpha - 1.0 / (alpha + beta), -1.0 / (alpha + beta)];
    let mut ln_survival = 0.0;
    let mut d_survival = [0.0, 0.0];
    let mut ll = 0.0;
    let mut gradient = [0.0, 0.0];
    let mut elapsed = 0.0; // t − 1
    for (index, &count) in churned_by_period.iter().enumerate() {
        if index > 0 {
            // P(T = t) = P(T = t−1) · (β+t−2)/(α+β+t−1), with t − 1 = elapsed.
            let stay = beta + elapsed - 1.0;
            ln_churn -= ((alpha + 1.0) / stay).ln_1p();
            if GRADIENT {
                let total = alpha + beta + elapsed;
                d_churn[0] -= 1.0 / total;
                d_churn[1] += 1.0 / stay - 1.0 / total;
            }
        }
        if count > 0 {
            let weight = count as f64;
            ll += weight * ln_churn;
            if GRADIENT {
                gradient[0] += weight * d_churn[0];
                gradient[1] += weight * d_churn[1];
            }
        }
        // S(t) = S(t−1) · (β+t−1)/(α+β+t−1).
        let stay = beta + elapsed;
        ln_survival -= (alpha / stay).ln_1p();
        if GRADIENT {
            let total = alpha + beta + elapsed;
            d_survival[0] -= 1.0 / total;
            d_survival[1] += 1.0 / stay - 1.0 / total;
        }
        elapsed += 1.0;
    }
    if still_active > 0 {
        let weight = still_active as f64;
        ll += weight * ln_survival;
        if GRADIENT {
            gradient[0] += weight * d_survival[0];
            gradient[1] += weight * d_survival[1];
        }
    }
    (ll, gradient)
}

/// Log-likelihood of a cohort (FH 2007): `churned_by_period[t − 1]` customers cancelled in period `t`,
/// for `t = 1 … T` with `T = churned_by_period.len()`, and `still_active` were still active after period `T`.
///
/// A cohort with survivor counts `N = s_0, s_1, …, s_T` has `churned_by_period[t−1] = s_{t−1} − s_t` and
/// `still_active = s_T`. Several cohorts of different ages contribute the sum of their log-likelihoods.
/// Costs `O(T)`; `NaN` on invalid parameters.
pub fn log_likelihood(params: &[f64; 2], churned_by_period: &[u64], still_active: u64) -> f64 {
    if !params_ok(params) {
        return f64::NAN;
    }
    log_likelihood_core::<false>(params, churned_by_period, still_active).0
}

/// [`log_likelihood`] and its gradient with respect to `[alpha, beta]` (not their logarithms).
pub(crate) fn log_likelihood_gradient(
    params: &[f64; 2],
    churned_by_period: &[u64],
    still_active: u64,
) -> (f64, [f64; 2]) {
    if !params_ok(params) {
        return (f64::NAN, [f64::NAN; 2]);
    }
    log_likelihood_core::<true>(params, churned_by_period, still_active)
}

/// Smallest discount rate the series behind [`discounted_expected_residual_lifetime`] sums accurately: the
/// ₂F₁ series at `z = 1/(1+d)` needs about `37/d` terms to reach double precision, and it stops at a million.
const MIN_DISCOUNT_RATE: f64 = 1e-4;

/// Discounted expected residual lifetime of an active customer who has renewed `n_renewals` times (so is in
/// period `n = n_renewals + 1`), at a per-period discount rate `discount_rate` (Fader & Hardie 2010, eq. 6):
///
/// ```text
/// DERL(d | α, β, n−1 renewals) = Σ_{t=n}^{∞} S(t | T > n−1) / (1+d)^(t−n)
///                             = (β+n−1)/(α+β+n−1) · ₂F₁(1, β+n; α+β+n; 1/(1+d))
/// ```
///
/// It counts the payments still to come, from the next renewal on, in units of one period's payment: the
/// first future payment (the renewal at the end of period `n`, paid at the start of period `n + 1`) is
/// undiscounted and each later one is discounted by one more period. Multiplied by the margin per period it is
/// the customer's expected residual value. For a customer about to pay for their first period, the expected
/// discounted lifetime including that payment is `1 + DERL(0 renewals)/(1+d)`.
///
/// Needs `discount_rate ≥ 1e-4` for the series (smaller positive rates return `NaN` rather than a truncated
/// sum). `discount_rate = 0` is the undiscounted expected residual lifetime, `(β + n − 1)/(α − 1)` for
/// `α > 1` and `+∞` otherwise (the mean lifetime of a beta-geometric mixture is infinite when `α ≤ 1`).
/// `NaN` for negative or non-finite rates and invalid parameters.
pub fn discounted_expected_residual_lifetime(
    params: &[f64; 2],
    n_renewals: u32,
    discount_rate: f64,
) -> f64 {
    if !params_ok(params) || !discount_rate.is_finite() || discount_rate < 0.0 {
        return f64::NAN;
    }
    let [alpha, beta] = *params;
    let renewed = f64::from(n_renewals);
    if discount_rate == 0.0 {
        return if alpha > 1.0 {
            (beta + renewed) / (alpha - 1.0)
        } else {
            f64::INFINITY
        };
    }
    if discount_rate < MIN_DISCOUNT_RATE {
        return f64::NAN;
    }
    let retention = (beta + renewed) / (alpha + beta + renewed);
    retention
        * hyp2f1(
            1.0,
            beta + renewed + 1.0,
            alpha + beta + renewed + 1.0,
            1.0 / (1.0 + discount_rate),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(1e-300)
    }

    // FH 2007 Table 1: customers still active out of 1,000 at years 0–7 (the calibration period), and the
    // paper's estimates (regular: α = 0.704, β = 1.182, LL = −1680.3; high end: α = 0.668, β = 3.806,
    // LL = −1611.2). Survivors 1000, 631, 468, 382, 326, 289, 262, 241 (regular) and
    // 1000, 869, 743, 653, 593, 551, 517, 491 (high end).
    const REGULAR: [f64; 2] = [0.704, 1.182];
    const REGULAR_CHURN: [u64; 7] = [369, 163, 86, 56, 37, 27, 21];
    const REGULAR_ACTIVE: u64 = 241;
    const HIGH_END: [f64; 2] = [0.668, 3.806];
    const HIGH_END_CHURN: [u64; 7] = [131, 126, 90, 60, 42, 34, 26];
    const HIGH_END_ACTIVE: u64 = 491;

    #[test]
    fn matches_paper_cohorts() {
        // scipy 1.17:
        //   def ll(a, b, surv):
        //       churn = [surv[t-1] - surv[t] for t in range(1, len(surv))]
        //       return sum(n * (betaln(a+1, b+t-1) - betaln(a, b)) for t, n in enumerate(churn, 1)) \
        //              + surv[-1] * (betaln(a, b+len(churn)) - betaln(a, b))
        let regular = log_likelihood(&REGULAR, &REGULAR_CHURN, REGULAR_ACTIVE);
        assert!(
            close(regular, -1680.2651905533528, 1e-12),
            "regular {regular}"
        );
        let high_end = log_likelihood(&HIGH_END, &HIGH_END_CHURN, HIGH_END_ACTIVE);
        assert!(
            close(high_end, -1611.158150354921, 1e-12),
            "high end {high_end}"
        );
        // The paper's rounded figures.
        assert!((regular - -1680.3).abs() < 0.05 && (high_end - -1611.2).abs() < 0.05);
        // The estimates are (to their printed precision) the maximum: the gradient in log-parameters is small
        // next to the counts (scipy Nelder–Mead on log-parameters: regular α = 0.70408, β = 1.18204,
        // LL = −1680.26519; high end α = 0.66809, β = 3.80610, LL = −1611.15815).
        for (params, churn, active) in [
            (REGULAR, &REGULAR_CHURN, REGULAR_ACTIVE),
            (HIGH_END, &HIGH_END_CHURN, HIGH_END_ACTIVE),
        ] {
            let (_, gradient) = log_likelihood_gradient(&params, churn, active);
            assert!(
                (gradient[0] * params[0]).abs() < 0.5 && (gradient[1] * params[1]).abs() < 0.5,
                "{gradient:?}"
            );
        }
    }

    #[test]
    fn survival_churn_and_retention_values() {
        // exp(betaln(a, b+t) - betaln(a, b)), t = 0..=12, and exp(betaln(a+1, b+t-1) - betaln(a, b)), t = 1..=3.
        let regular_survival = [
            1.0,
            0.6267232237539765,
            0.47384271456381727,
            0.3879998758986278,
            0.3320948589865046,
            0.29237437296433344,
            0.26248306326829945,
            0.23905064169324422,
            0.22011167570719378,
            0.2044371238461918,
            0.1912161303510862,
            0.17989052411121037,
            0.17006257680605033,
        ];
        let high_end_survival = [
            1.0,
            0.8506928922664282,
            0.7468816295638389,
            0.6698169201803598,
            0.6099510247186952,
            0.5618689755669274,
            0.5222522903570154,
            0.4889446208937267,
            0.46047895880927414,
            0.4358196719338055,
            0.41421305616626924,
            0.3950964110426637,
            0.37804042018209144,
        ];
        for (params, table, churn) in [
            (
                REGULAR,
                regular_survival,
                [0.3732767762460233, 0.15288050919015922, 0.08584283866518978],
            ),
            (
                HIGH_END,
                high_end_survival,
                [0.14930710773357173, 0.10381126270258938, 0.0770647093834792],
            ),
        ] {
            for (t, &expected) in table.iter().enumerate() {
                let t = t as u32;
                let got = survival(&params, t);
                assert!(
                    close(got, expected, 1e-12),
                    "S({t}) = {got}, expected {expected}"
                );
                if t > 0 {
                    let ratio = survival(&params, t) / survival(&params, t - 1);
                    assert!(close(retention_rate(&params, t), ratio, 1e-11));
                    let drop = survival(&params, t - 1) - survival(&params, t);
                    assert!(close(churn_probability(&params, t), drop, 1e-11));
                }
            }
            for (t, &expected) in churn.iter().enumerate() {
                let t = t as u32 + 1;
                assert!(
                    close(churn_probability(&params, t), expected, 1e-12),
                    "P(T = {t})"
                );
            }
        }
        assert_eq!(churn_probability(&REGULAR, 0), 0.0);
        assert!(retention_rate(&REGULAR, 0).is_nan());
        // The projection beyond the calibration period reproduces FH 2007 Table 1's years 8–12 to within a
        // few customers per thousand (regular: 223, 207, 194, 183, 173).
        for (t, actual) in [
            (8u32, 223.0),
            (9, 207.0),
            (10, 194.0),
            (11, 183.0),
            (12, 173.0),
        ] {
            assert!((1000.0 * survival(&REGULAR, t) - actual).abs() < 5.0);
        }
    }

    /// DERL by its definition: Σ_{k≥1} S(n_r + k)/S(n_r) / (1+d)^(k−1), summed until the terms vanish.
    fn derl_brute_force(params: &[f64; 2], n_renewals: u32, d: f64) -> f64 {
        let [alpha, beta] = *params;
        let mut conditional_survival = 1.0;
        let mut discount = 1.0;
        let mut total = 0.0;
        let mut t = f64::from(n_renewals);
        loop {
            // S(t+1)/S(t) = (β + t)/(α + β + t)
            conditional_survival *= (beta + t) / (alpha + beta + t);
            let term = conditional_survival / discount;
            total += term;
            if term < total * 1e-17 {
                return total;
            }
            discount *= 1.0 + d;
            t += 1.0;
        }
    }

    #[test]
    fn derl_matches_definition_and_scipy() {
        // scipy: (b+nr)/(a+b+nr) * hyp2f1(1, b+nr+1, a+b+nr+1, 1/(1+d))
        let pinned = [
            (REGULAR, 0, 0.1, 2.964662146132029),
            (REGULAR, 4, 0.1, 5.894422859844158),
            (REGULAR, 0, 0.01, 8.502947172011199),
            (REGULAR, 10, 0.25, 3.9822140641989243),
            (HIGH_END, 0, 0.1, 5.414856048374033),
            (HIGH_END, 4, 0.1, 6.897057397746089),
            (HIGH_END, 0, 0.01, 19.009625981018562),
            (HIGH_END, 10, 0.25, 4.161196185309618),
        ];
        for (params, n_renewals, d, expected) in pinned {
            let got = discounted_expected_residual_lifetime(&params, n_renewals, d);
            assert!(
                close(got, expected, 1e-12),
                "DERL({params:?}, {n_renewals}, {d}) = {got}, scipy {expected}"
            );
            let brute = derl_brute_force(&params, n_renewals, d);
            assert!(
                close(got, brute, 1e-11),
                "DERL({params:?}, {n_renewals}, {d}) = {got}, sum {brute}"
            );
        }
        // Expected discounted lifetime of a customer about to make their first payment, 1 + DERL(0)/(1+d), is
        // FH 2010's ₂F₁(1, β; α+β; 1/(1+d)): scipy hyp2f1(1, 1.182, 1.886, 1/1.1) = 3.6951474055745748.
        let lifetime = 1.0 + discounted_expected_residual_lifetime(&REGULAR, 0, 0.1) / 1.1;
        assert!(close(lifetime, 3.6951474055745748, 1e-12), "{lifetime}");
        // d = 0: (β + n_r)/(α − 1) for α > 1, infinite otherwise; tiny positive d is refused.
        assert!(close(
            discounted_expected_residual_lifetime(&[3.0, 2.0], 2, 0.0),
            2.0,
            1e-15
        ));
        assert!(close(derl_brute_force(&[3.0, 2.0], 2, 0.0), 2.0, 1e-6));
        assert_eq!(
            discounted_expected_residual_lifetime(&REGULAR, 0, 0.0),
            f64::INFINITY
        );
        assert!(discounted_expected_residual_lifetime(&REGULAR, 0, 1e-6).is_nan());
        assert!(discounted_expected_residual_lifetime(&REGULAR, 0, -0.1).is_nan());
        // Homogeneous limit (α, β → ∞ with θ = α/(α+β) fixed): (1 − θ)(1 + d)/(d + θ).
        let theta = 0.2;
        let limit =
            discounted_expected_residual_lifetime(&[theta * 1e7, (1.0 - theta) * 1e7], 3, 0.1);
        assert!(close(limit, 0.8 * 1.1 / 0.3, 1e-6), "{limit}");
    }

    #[test]
    fn gradient_matches_central_differences() {
        let cases: [([f64; 2], &[u64], u64); 5] = [
            (REGULAR, &REGULAR_CHURN, REGULAR_ACTIVE),
            (HIGH_END, &HIGH_END_CHURN, HIGH_END_ACTIVE),
            ([0.05, 20.0], &[0, 3, 0, 1], 40),
            ([30.0, 0.2], &[500, 2, 0, 0, 0, 0, 0, 0, 0, 1], 0),
            ([1.0, 1.0], &[], 10),
        ];
        for (params, churn, active) in cases {
            let (ll, gradient) = log_likelihood_gradient(&params, churn, active);
            assert!(close(ll, log_likelihood(&params, churn, active), 1e-15) || ll == 0.0);
            for j in 0..2 {
                let h = 1e-6 * params[j];
                let (mut up, mut down) = (params, params);
                up[j] += h;
                down[j] -= h;
                let numeric = (log_likelihood(&up, churn, active)
                    - log_likelihood(&down, churn, active))
                    / (2.0 * h);
                let scale = gradient[j].abs().max(1e-3);
                assert!(
                    (gradient[j] - numeric).abs() <= 1e-5 * scale,
                    "∂{j} at {params:?}: analytic {}, numeric {numeric}",
                    gradient[j]
                );
            }
        }
    }

    #[test]
    fn extremes_are_finite_and_domain_is_nan() {
        for params in [[1e-4, 1e-4], [1e4, 1e4], [1e-4, 1e4], [1e4, 1e-4]] {
            for t in [0, 1, 2, 1000, u32::MAX] {
                let s = survival(&params, t);
                let p = churn_probability(&params, t);
                assert!(
                    (0.0..=1.0).contains(&s) && (0.0..=1.0).contains(&p),
                    "{params:?} t={t}: {s} {p}"
                );
            }
            assert!((0.0..=1.0).contains(&retention_rate(&params, u32::MAX)));
            let churn = [1_000_000u64, 0, 5, 1_000_000];
            let (ll, gradient) = log_likelihood_gradient(&params, &churn, 1_000_000);
            assert!(
                ll.is_finite() && ll <= 0.0 && gradient.iter().all(|g| g.is_finite()),
                "{params:?}"
            );
            for d in [1e-4, 0.1, 10.0] {
                let derl = discounted_expected_residual_lifetime(&params, 1000, d);
                assert!(derl.is_finite() && derl >= 0.0, "{params:?} d={d}: {derl}");
            }
        }
        assert_eq!(log_likelihood(&REGULAR, &[], 0), 0.0);
        assert!(log_likelihood(&[0.0, 1.0], &REGULAR_CHURN, 1).is_nan());
        assert!(survival(&[1.0, f64::INFINITY], 3).is_nan());
    }

    fn parameter() -> impl Strategy<Value = f64> {
        (-3.0f64..3.0).prop_map(|e| 10f64.powf(e))
    }

    proptest! {
        #[test]
        fn probabilities_are_consistent(alpha in parameter(), beta in parameter(), t in 0u32..2000) {
            let params = [alpha, beta];
            let (now, next) = (survival(&params, t), survival(&params, t + 1));
            prop_assert!((0.0..=1.0).contains(&now) && next <= now);
            let p = churn_probability(&params, t + 1);
            prop_assert!((0.0..=1.0).contains(&p));
            // Log-gamma rounding at large t (see `survival`) and subnormal S bound how well S(t−1) − S(t) matches P(T = t).
            prop_assert!((now - next - p).abs() <= 1e-10 * now + 1e-300);
            let r = retention_rate(&params, t + 1);
            prop_assert!((0.0..=1.0).contains(&r) && r <= retention_rate(&params, t + 2));
        }

        #[test]
        fn cohort_log_likelihood_and_derl_are_sane(
            alpha in parameter(), beta in parameter(),
            churn in proptest::collection::vec(0u64..10_000, 0..24), active in 0u64..10_000,
            n_renewals in 0u32..500, d in 1e-3f64..2.0,
        ) {
            let params = [alpha, beta];
            let ll = log_likelihood(&params, &churn, active);
            prop_assert!(ll.is_finite() && ll <= 0.0);
            let derl = discounted_expected_residual_lifetime(&params, n_renewals, d);
            prop_assert!(derl.is_finite() && derl >= 0.0 && derl <= (1.0 + d) / d * (1.0 + 1e-12));
        }
    }
}
