//! MBG/NBD: the modified beta-geometric / negative binomial "buy till you die" model, one customer at a time.
//!
//! Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models for customer base
//! analysis", *International Journal of Research in Marketing* 24(3), 201–209, with the corrections of Wagner
//! & Hoppe (2008), "Erratum on the MBG/NBD model", *IJRM* 25(3), 225–226. The formulas are those of lifetimes'
//! `ModifiedBetaGeoFitter`, which these functions reproduce (see the tests).
//!
//! # The model
//!
//! As BG/NBD ([`crate::lifecycle::bgnbd`]): purchases at Poisson rate λ ~ Gamma(r, α) while alive, a drop-out chance
//! p ~ Beta(a, b) after every purchase. The one change: the customer may also drop out at time 0, right
//! after the first purchase, so a customer without repeat purchases is not certainly alive.
//!
//! Surviving that extra chance multiplies every likelihood by 1−p, which turns each Beta(a, b+x) of BG/NBD
//! into Beta(a, b+x+1); this is how the two models share their code (`MODIFIED = true` in the helpers of
//! [`crate::lifecycle::bgnbd`]):
//!
//! - [`log_likelihood`]: ln of B(a, b+x+1)/B(a, b)·Γ(r+x)α^r/Γ(r)·[(α+T)^−(r+x) + a/(b+x)·(α+t_x)^−(r+x)]
//!   (lifetimes: `-_negative_log_likelihood`);
//! - [`p_alive`]: 1/(1 + a/(b+x)·((α+T)/(α+t_x))^(r+x)) (Batislam et al., appendix A, eq. 5; lifetimes:
//!   `conditional_probability_alive`);
//! - [`expected_purchases`]: P(alive) times the BG/NBD expectation with posterior (r+x, α+T, a, b+x+1)
//!   (lifetimes: `conditional_expected_number_of_purchases_up_to_time`);
//! - [`expected_purchases_new_customer`]: b/(a−1)·[1 − (α/(α+t))^r ₂F₁(r, b+1; a+b; t/(α+t))] (lifetimes:
//!   `expected_number_of_purchases_up_to_time`);
//! - [`prob_n_purchases`]: B(a, b+n+1)/B(a, b)·NB(n) + B(a+1, b+n)/B(a, b)·P(NB ≥ n) (lifetimes:
//!   `probability_of_n_purchases_up_to_time`).
//!
//! Unlike BG/NBD, the drop-out term of the likelihood is present for x = 0 too (the customer may have left at
//! time 0), and P(alive) < 1 for x = 0.
//!
//! # Numerics
//!
//! As in [`crate::lifecycle::bgnbd`]: log-sum-exp likelihood, P(alive) as a logistic function of the log-odds,
//! expectations through Euler's transformation of ₂F₁ with the 1/(a−1) cancelled analytically (a = 1, where
//! lifetimes returns `NaN`, gives the limit), and a negative binomial tail that never subtracts numbers close
//! to 1. Everything is allocation-free and finite for heavy buyers and long histories.

use crate::lifecycle::bgnbd::formulas::{
    expected_while_alive, ll_value, ll_value_gradient, p_alive_core, prob_n_core,
};

/// Log-likelihood of one customer:
///
/// ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x+1) − ln B(a, b)
///        + ln[(α+T)^−(r+x) + a/(b+x)·(α+t_x)^−(r+x)],
///
/// the negative of lifetimes' `ModifiedBetaGeoFitter._negative_log_likelihood` for a one-row data set with
/// weight 1 and no penaliser (lifetimes writes the bracket as A₃ + ln(1 + e^A₄), the same number). The
/// bracket is a log-sum-exp. `NaN` if a parameter is not positive.
pub fn log_likelihood(p: &[f64; 4], x: f64, t_x: f64, t_cal: f64) -> f64 {
    ll_value::<true>(p, x, t_x, t_cal)
}

/// [`log_likelihood`] and its exact gradient with respect to (r, α, a, b), in that order: digamma terms
/// for the gamma and beta factors, and the derivative of the log-sum-exp weighted by the share of each of
/// its two terms.
pub fn log_likelihood_gradient(p: &[f64; 4], x: f64, t_x: f64, t_cal: f64) -> (f64, [f64; 4]) {
    ll_value_gradient::<true>(p, x, t_x, t_cal)
}

/// Probability that a customer with history (x, t_x, T) is still alive at T:
///
/// P(alive) = 1 / (1 + a/(b+x)·((α+T)/(α+t_x))^(r+x)),
///
/// below 1 also for x = 0 (the customer may have dropped out at time 0). Evaluated as a logistic function
/// of the log-odds, so it stays in [0, 1] for any x. `NaN` for invalid parameters.
pub fn p_alive(p: &[f64; 4], x: f64, t_x: f64, t_cal: f64) -> f64 {
    p_alive_core::<true>(p, x, t_x, t_cal)
}

/// Expected number of purchases in (T, T+t] for a customer with history (x, t_x, T):
///
/// E[Y(t) | x, t_x, T] = (a+b+x)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x+1; a+b+x; t/(α+T+t))]
///                       / (1 + a/(b+x)·((α+T)/(α+t_x))^(r+x)).
///
/// The numerator is the BG/NBD expectation of a customer alive at T with the posterior parameters
/// (r+x, α+T, a, b+x+1), the denominator 1/P(alive). Finite for any valid input, including a = 1. 0 for
/// t = 0; `NaN` for t < 0 or invalid parameters.
pub fn expected_purchases(p: &[f64; 4], t: f64, x: f64, t_x: f64, t_cal: f64) -> f64 {
    let [r, alpha, a, b] = *p;
    let alive = p_alive(p, x, t_x, t_cal);
    alive * expected_while_alive(r + x, alpha + t_cal, a, b + x + 1.0, t)
}

/// Expected number of repeat purchases in (0, t] for a new customer:
///
/// E[X(t)] = b/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b+1; a+b; t/(α+t))].
///
/// Why: given (λ, p) the customer survives time 0 with probability 1−p and then behaves as a BG/NBD
/// customer, so E[X(t)] = E[(1−p)/p·(1 − e^(−λpt))] and (1−p)·Beta(a, b) = b/(a+b)·Beta(a, b+1): this is
/// b/(a+b) times the BG/NBD expectation with b+1. Valid for every a ≠ 1 as written; at a = 1 lifetimes
/// returns `NaN`, this function the limit (continuous in a). 0 for t = 0; `NaN` for t < 0.
pub fn expected_purchases_new_customer(p: &[f64; 4], t: f64) -> f64 {
    let [r, alpha, a, b] = *p;
    b / (a + b) * expected_while_alive(r, alpha, a, b + 1.0, t)
}

/// Probability that a new customer makes exactly `n` repeat purchases in (0, t]:
///
/// P(X(t) = n) = B(a, b+n+1)/B(a, b)·NB(n) + B(a+1, b+n)/B(a, b)·P(NB ≥ n),
///
/// with NB(j) = Γ(r+j)/(Γ(r) j!) (α/(α+t))^r (t/(α+t))^j, as lifetimes'
/// `ModifiedBetaGeoFitter.probability_of_n_purchases_up_to_time`. For n = 0 the second term is a/(a+b),
/// the share of customers gone at time 0. Computed in logs with a stable tail; O(n) at worst.
pub fn prob_n_purchases(p: &[f64; 4], n: u32, t: f64) -> f64 {
    prob_n_core::<true>(p, n, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Arbitrary MBG/NBD parameters for the reference values.
    const P: [f64; 4] = [0.525, 6.183, 0.891, 1.614];

    #[track_caller]
    fn assert_close(actual: f64, expected: f64, rel: f64, what: &str) {
        let tol = if expected.abs() < 1e-6 {
            rel
        } else {
            rel * expected.abs()
        };
        assert!(
            (actual - expected).abs() <= tol,
            "{what}: got {actual:e}, expected {expected:e}"
        );
    }

    // Reference values from lifetimes 0.11.3 (scipy 1.17.1, pandas 3.1.1, numpy 2.4.6), computed with:
    //
    //   import numpy as np, pandas as pd
    //   from lifetimes import ModifiedBetaGeoFitter as F
    //   p = dict(r=0.525, alpha=6.183, a=0.891, b=1.614)
    //   f = F(); f.params_ = pd.Series(p)
    //   lp = np.log([p["r"], p["alpha"], p["a"], p["b"]])
    //   customers = [(0, 0.0, 38.0), (1, 5.0, 20.0), (2, 30.43, 38.86), (7, 29.43, 35.14), (50, 70.0, 78.0),
    //                (500, 99.0, 100.0)]
    //   for x, tx, T in customers:
    //       ll = -F._negative_log_likelihood(lp, np.array([float(x)]), np.array([tx]), np.array([T]),
    //                                        np.array([1.0]), 0.0)
    //       pa = f.conditional_probability_alive(x, tx, T)[0]
    //       ce = f.conditional_expected_number_of_purchases_up_to_time(10.0, x, tx, T)
    //   [f.expected_number_of_purchases_up_to_time(t) for t in (1.0, 10.0, 52.0)]
    //   [f.probability_of_n_purchases_up_to_time(10.0, n) for n in range(4)]
    //
    // The same formulas evaluated with mpmath at 50 digits agree with every number below to 1e-12 relative,
    // the heavy buyer (x = 500) included, so lifetimes' values are pinned as they are.
    /// (x, t_x, T, log-likelihood, P(alive), E[purchases in (T, T+10]]).
    const CUSTOMERS: [(f64, f64, f64, f64, f64, f64); 6] = [
        (
            0.0,
            0.0,
            38.0,
            -0.5358808888828598,
            0.3921448692289254,
            0.044700193044312574,
        ),
        (
            1.0,
            5.0,
            20.0,
            -4.590318476904962,
            0.44496172985129084,
            0.23765555392856547,
        ),
        (
            2.0,
            30.43,
            38.86,
            -9.48555131453393,
            0.7062022651184873,
            0.3729936344301375,
        ),
        (
            7.0,
            29.43,
            35.14,
            -21.326395539233825,
            0.7594685625677986,
            1.2753493229799386,
        ),
        (
            50.0,
            70.0,
            78.0,
            -78.75637535166794,
            0.27171219873403213,
            1.5531974650892197,
        ),
        (
            500.0,
            99.0,
            100.0,
            268.82028848610736,
            0.8316139175175252,
            37.65310272602074,
        ),
    ];
    const EXPECTED_NEW: [(f64, f64); 3] = [
        (1.0, 0.053084795263698685),
        (10.0, 0.4334674151565691),
        (52.0, 1.4197237577127344),
    ];
    const PROB_N_T10: [f64; 4] = [
        0.7444824952287221,
        0.15902165262670054,
        0.054640851307339415,
        0.022273676071881972,
    ];

    /// Tighter than the 1e-6 asked for; 1e-9 leaves room for other libms.
    const REL: f64 = 1e-9;

    #[test]
    fn matches_lifetimes_per_customer() {
        for &(x, t_x, t_cal, ll, alive, expected) in &CUSTOMERS {
            let what = format!("x={x} t_x={t_x} T={t_cal}");
            assert_close(
                log_likelihood(&P, x, t_x, t_cal),
                ll,
                REL,
                &format!("ll {what}"),
            );
            assert_close(
                log_likelihood_gradient(&P, x, t_x, t_cal).0,
                ll,
                REL,
                &format!("ll(grad) {what}"),
            );
            assert_close(
                p_alive(&P, x, t_x, t_cal),
                alive,
                REL,
                &format!("p_alive {what}"),
            );
            assert_close(
                expected_purchases(&P, 10.0, x, t_x, t_cal),
                expected,
                REL,
                &format!("E {what}"),
            );
        }
    }

    #[test]
    fn matches_lifetimes_population() {
        for &(t, expected) in &EXPECTED_NEW {
            assert_close(
                expected_purchases_new_customer(&P, t),
                expected,
                REL,
                &format!("E[X({t})]"),
            );
        }
        for (n, &expected) in (0u32..).zip(&PROB_N_T10) {
            assert_close(
                prob_n_purchases(&P, n, 10.0),
                expected,
                REL,
                &format!("P(X(10)={n})"),
            );
        }
    }

    // Where lifetimes has no usable value, mpmath at 50 digits (the formula as written; the limit at a = 1
    // taken as a = 1 + 1e-20):
    //
    //   import mpmath as mp; mp.mp.dps = 50
    //   def enew(r, al, a, b, t):
    //       return b/(a-1)*(1-mp.hyp2f1(r, b+1, a+b, t/(al+t))*(al/(al+t))**r)
    //   enew(0.525, 6.183, 1 + mp.mpf('1e-20'), 1.614, 10)   # a = 1: lifetimes gives nan
    //   enew(0.5, 2.0, 0.3, 0.4, 25)                          # a + b < 1 (lifetimes agrees)
    //   enew(2.5, 1.0, 3.5, 0.8, 400)                         # z = 400/401; lifetimes: 0.32001892051320036
    const MPMATH_NEW: [([f64; 4], f64, f64); 3] = [
        ([0.525, 6.183, 1.0, 1.614], 10.0, 0.4072217362584067),
        ([0.5, 2.0, 0.3, 0.4], 25.0, 2.1965233121548824),
        ([2.5, 1.0, 3.5, 0.8], 400.0, 0.319997223242571),
    ];

    #[test]
    fn matches_mpmath_where_lifetimes_cannot() {
        for &(p, t, expected) in &MPMATH_NEW {
            assert_close(
                expected_purchases_new_customer(&p, t),
                expected,
                1e-12,
                &format!("E[X({t})] {p:?}"),
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let points = [
            P,
            [1.7, 0.6, 2.5, 0.7],
            [0.05, 30.0, 0.2, 9.0],
            [5.0, 2.0, 1.0, 1.5],
        ];
        let customers = [
            (0.0, 0.0, 38.0),
            (0.0, 0.0, 0.5),
            (1.0, 0.5, 0.5),
            (2.0, 30.43, 38.86),
            (500.0, 99.0, 100.0),
            (10_000.0, 9_000.0, 10_000.0),
        ];
        for p in &points {
            for &(x, t_x, t_cal) in &customers {
                let (value, grad) = log_likelihood_gradient(p, x, t_x, t_cal);
                assert_close(value, log_likelihood(p, x, t_x, t_cal), 1e-14, "value");
                for i in 0..4 {
                    let h = 1e-5 * p[i];
                    let (mut up, mut down) = (*p, *p);
                    up[i] += h;
                    down[i] -= h;
                    let fd = (log_likelihood(&up, x, t_x, t_cal)
                        - log_likelihood(&down, x, t_x, t_cal))
                        / (2.0 * h);
                    // Relative 1e-5, with a floor of 1e-5 for components that are close to 0.
                    let ok = (grad[i] - fd).abs() <= 1e-5 * grad[i].abs().max(1.0);
                    assert!(
                        ok,
                        "d/dp{i} at {p:?}, x={x} t_x={t_x} T={t_cal}: analytic {} vs numeric {fd}",
                        grad[i]
                    );
                }
            }
        }
    }

    #[test]
    fn extremes_stay_finite() {
        let points = [
            P,
            [1.7, 0.6, 2.5, 0.7],
            [0.05, 30.0, 0.2, 9.0],
            [20.0, 0.01, 1.0, 50.0],
        ];
        let customers = [
            (0.0, 0.0, 10_000.0),
            (10_000.0, 10_000.0, 10_000.0),
            (10_000.0, 1.0, 10_000.0),
            (1.0, 0.0, 10_000.0),
            (3_000.0, 5.0, 6.0),
        ];
        for p in &points {
            for &(x, t_x, t_cal) in &customers {
                let what = format!("{p:?} x={x} t_x={t_x} T={t_cal}");
                let (ll, grad) = log_likelihood_gradient(p, x, t_x, t_cal);
                assert!(
                    ll.is_finite() && grad.iter().all(|g| g.is_finite()),
                    "ll {what}: {ll} {grad:?}"
                );
                let alive = p_alive(p, x, t_x, t_cal);
                assert!((0.0..=1.0).contains(&alive), "p_alive {what}: {alive}");
                for t in [0.0, 1.0, 52.0, 10_000.0] {
                    let e = expected_purchases(p, t, x, t_x, t_cal);
                    assert!(e.is_finite() && e >= 0.0, "E({t}) {what}: {e}");
                }
            }
            for t in [0.0, 1e-9, 1.0, 10_000.0] {
                let e = expected_purchases_new_customer(p, t);
                assert!(e.is_finite() && e >= 0.0, "E[X({t})] {p:?}: {e}");
                for n in [0, 1, 10, 10_000] {
                    let q = prob_n_purchases(p, n, t);
                    assert!((0.0..=1.0).contains(&q), "P(X({t})={n}) {p:?}: {q}");
                }
            }
        }
    }

    fn params() -> impl Strategy<Value = [f64; 4]> {
        (0.05f64..5.0, 0.1f64..50.0, 0.1f64..5.0, 0.1f64..10.0)
            .prop_map(|(r, alpha, a, b)| [r, alpha, a, b])
    }

    fn history() -> impl Strategy<Value = (f64, f64, f64)> {
        (0u32..300, 0.0f64..1.0, 0.5f64..500.0).prop_map(|(x, frac, t_cal)| {
            let x = f64::from(x);
            (x, if x == 0.0 { 0.0 } else { frac * t_cal }, t_cal)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn p_alive_is_a_probability(p in params(), (x, t_x, t_cal) in history()) {
            let alive = p_alive(&p, x, t_x, t_cal);
            prop_assert!((0.0..=1.0).contains(&alive));
            if x == 0.0 {
                // Dropping out at time 0 is possible: P(alive | x = 0) = 1/(1 + a/b·((α+T)/α)^r) < 1.
                prop_assert!(alive < 1.0);
            }
        }

        #[test]
        fn expectations_grow_with_the_horizon(
            p in params(),
            (x, t_x, t_cal) in history(),
            t1 in 0.0f64..200.0,
            dt in 0.0f64..200.0,
        ) {
            let t2 = t1 + dt;
            let (e1, e2) = (expected_purchases(&p, t1, x, t_x, t_cal), expected_purchases(&p, t2, x, t_x, t_cal));
            prop_assert!(e1 >= 0.0 && e1 <= e2 * (1.0 + 1e-12) + 1e-15, "{} {}", e1, e2);
            let (n1, n2) = (expected_purchases_new_customer(&p, t1), expected_purchases_new_customer(&p, t2));
            prop_assert!(n1 >= 0.0 && n1 <= n2 * (1.0 + 1e-12) + 1e-15, "{} {}", n1, n2);
        }

        #[test]
        fn prob_n_is_a_distribution(
            r in 0.05f64..3.0,
            alpha in 0.5f64..20.0,
            a in 0.1f64..5.0,
            b in 0.1f64..10.0,
            u in 0.0f64..20.0,
        ) {
            // t/α ≤ 20 and r ≤ 3 keep the mean (≤ 60) and the geometric tail (rate ≤ 20/21) far below N.
            let p = [r, alpha, a, b];
            let t = u * alpha;
            let mut total = 0.0;
            for n in 0..2_000 {
                let q = prob_n_purchases(&p, n, t);
                prop_assert!((0.0..=1.0).contains(&q));
                total += q;
            }
            prop_assert!((total - 1.0).abs() < 1e-9, "sum {}", total);
        }
    }
}
