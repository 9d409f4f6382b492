//! The Bayesian figures: the Gaussian effect model's risks and the exact
//! Beta–Binomial chance that one rate beats another (Evan Miller's closed form).

use statrs::distribution::{Beta, ContinuousCDF};
use statrs::function::gamma::ln_gamma;

use super::EvalParams;
use super::comparison::BetaBinomial;
use crate::experiment::stats::ArmStats;
use crate::stats::{normal_cdf, normal_pdf};

/// `[E max(X, 0), E max(−X, 0)]` for X ~ N(mu, sigma²): gbstats' `[risk_ctrl, risk_trt]`.
pub(super) fn gaussian_risk(mu: f64, sigma: f64) -> [f64; 2] {
    let z = mu / sigma;
    let dens = sigma * normal_pdf(z);
    // Both are expectations of non-negative variables: clamp rounding, keep NaN.
    let clamp = |x: f64| if x < 0.0 { 0.0 } else { x };
    [
        clamp(mu * normal_cdf(z) + dens),
        clamp(dens - mu * normal_cdf(-z)),
    ]
}

/// `P(X₂ > X₁)` for `X₁ ~ Beta(a1, b1)`, `X₂ ~ Beta(a2, b2)`, whole-number `a2`:
/// `Σ_{i<a2} t_i` with `t_i = B(a1+i, b1+b2) / ((b2+i) B(1+i, b2) B(a1, b1))`
/// (Evan Miller 2015).
///
/// The terms form a unimodal sequence with ratio
/// `t_{i+1}/t_i = (a1+i)(b2+i) / ((a1+b1+b2+i)(1+i))`; the sum starts at the
/// largest term (where the ratio crosses 1) and walks outwards until the terms
/// no longer change the sum, so large counts cost about the width of the
/// peak, not `a2` terms.
pub(super) fn beta_beats(a1: f64, b1: f64, a2: u64, b2: f64) -> f64 {
    let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
    let log_term =
        |i: f64| ln_beta(a1 + i, b1 + b2) - (b2 + i).ln() - ln_beta(1.0 + i, b2) - ln_beta(a1, b1);
    let ratio = |j: f64| (a1 + j) * (b2 + j) / ((a1 + b1 + b2 + j) * (1.0 + j));
    let last = a2.saturating_sub(1) as f64;
    let peak = ((a1 * b2 - a1 - b1 - b2) / (1.0 + b1))
        .round()
        .clamp(0.0, last);
    // Terms relative to the peak term.
    let mut sum = 1.0;
    let (mut term, mut i) = (1.0f64, peak);
    while i < last {
        let next = term * ratio(i);
        i += 1.0;
        sum += next;
        if next < term && next < 1e-17 * sum {
            break;
        }
        term = next;
    }
    let (mut term, mut i) = (1.0f64, peak);
    while i > 0.0 {
        let next = term / ratio(i - 1.0);
        i -= 1.0;
        sum += next;
        if next < term && next < 1e-17 * sum {
            break;
        }
        term = next;
    }
    (log_term(peak) + sum.ln()).exp().clamp(0.0, 1.0)
}

/// Exact `P(p_B > p_A)` for Beta posteriors `(aA, bA)`, `(aB, bB)` (whole
/// numbers), through whichever of four equivalent sums has the fewest terms.
pub(super) fn chance_beta_beats(a_a: u64, b_a: u64, a_b: u64, b_b: u64) -> f64 {
    let f = |x: u64| x as f64;
    let smallest = a_a.min(a_b).min(b_a).min(b_b);
    if smallest == a_b {
        beta_beats(f(a_a), f(b_a), a_b, f(b_b))
    } else if smallest == a_a {
        1.0 - beta_beats(f(a_b), f(b_b), a_a, f(b_a))
    } else if smallest == b_a {
        // p_B > p_A ⇔ 1 − p_A > 1 − p_B, with 1 − p ~ Beta(b, a).
        beta_beats(f(b_b), f(a_b), b_a, f(a_a))
    } else {
        1.0 - beta_beats(f(b_a), f(a_a), b_b, f(a_b))
    }
}

/// The exact Beta–Binomial comparison of two binomial arms under the Beta
/// prior `params.beta_prior`; `None` when a prior parameter is 0.
pub(super) fn beta_binomial(
    control: &ArmStats,
    variant: &ArmStats,
    lower_is_better: bool,
    params: &EvalParams,
) -> Option<BetaBinomial> {
    let (pa, pb) = (
        u64::from(params.beta_prior.0),
        u64::from(params.beta_prior.1),
    );
    let successes = |arm: &ArmStats| arm.sum.round().clamp(0.0, arm.n as f64) as u64;
    let (xa, xb) = (successes(control), successes(variant));
    let (a_a, b_a) = (pa + xa, pb + control.n - xa);
    let (a_b, b_b) = (pa + xb, pb + variant.n - xb);
    let control_interval = beta_interval(a_a, b_a, params.alpha)?;
    let variant_interval = beta_interval(a_b, b_b, params.alpha)?;
    let beats = chance_beta_beats(a_a, b_a, a_b, b_b);
    Some(BetaBinomial {
        chance_to_beat_control: if lower_is_better { 1.0 - beats } else { beats },
        control_interval,
        variant_interval,
    })
}

/// The equal-tailed `1 − α` credible interval of Beta(a, b); `None` when a
/// parameter is 0 (only with a Beta prior that [`EvalParams::check`] refuses).
///
/// [`EvalParams::check`]: super::EvalParams::check
pub(super) fn beta_interval(a: u64, b: u64, alpha: f64) -> Option<[f64; 2]> {
    let d = Beta::new(a as f64, b as f64).ok()?;
    Some([d.inverse_cdf(alpha / 2.0), d.inverse_cdf(1.0 - alpha / 2.0)])
}
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `evaluate::fixtures`.
    use super::*;
    use crate::experiment::evaluate::fixtures::{assert_close, mean_arms};
    use crate::experiment::evaluate::{EffectPrior, EvalParams, compare};
    use crate::experiment::stats::{Metric, MetricKind, SecondValue};

    #[test]
    fn bayesian_priors_and_direction_match_gbstats() {
        let (a, b) = mean_arms();
        let proper = EvalParams {
            prior: EffectPrior {
                mean: 0.0,
                variance: 0.0004,
                proper: true,
            },
            ..EvalParams::default()
        };
        let metric = Metric::new("revenue", MetricKind::Mean);
        let c = compare(&metric, &a, &b, SecondValue::None, &proper);
        // EffectBayesianABTest(..., prior_effect=GaussianPrior(mean=0, variance=0.0004, proper=True)):
        // ctw 0.9993184889245198, risk [0.027801591675554814, 1.5940666737863513e-06],
        // ci [0.01078540878189889, 0.044814586435863155], expected 0.027799997608881025
        assert_close!(c.bayesian.unwrap().chance_to_win, 0.9993184889245198);
        assert_close!(c.bayesian.unwrap().risk_control, 0.027801591675554814);
        assert_close!(c.bayesian.unwrap().risk, 1.5940666737863513e-06);
        assert_close!(
            c.bayesian.unwrap().credible_interval[0],
            0.01078540878189889
        );
        assert_close!(
            c.bayesian.unwrap().credible_interval[1],
            0.044814586435863155
        );
        assert_close!(c.bayesian.unwrap().posterior_mean, 0.027799997608881025);
        // ... EffectBayesianConfig(inverse=True): ctw 0.0001892165074395269,
        // risk [4.5275262071645795e-07, 0.03425388358464987] (treatment second)
        let lower = metric.clone().lower_is_better();
        let inv = compare(&lower, &a, &b, SecondValue::None, &EvalParams::default());
        assert_close!(inv.bayesian.unwrap().chance_to_win, 0.0001892165074395269);
        assert_close!(inv.bayesian.unwrap().risk_control, 4.5275262071645795e-07);
        assert_close!(inv.bayesian.unwrap().risk, 0.03425388358464987);
    }

    #[test]
    fn exact_beta_comparison_every_route() {
        // quad(lambda x: beta.pdf(x, a2, b2) * beta.cdf(x, a1, b1), 0, 1) for (a1, b1, a2, b2):
        let cases = [
            ((3, 9, 5, 7), 0.8192724458204332),
            ((40, 2, 30, 3), 0.21987633563940712),
            ((1, 1, 1, 1), 0.5),
            ((2001, 18001, 2101, 17901), 0.950361700042015),
            // Large counts: quad over the mean ± 60 sd of X₁ plus beta.sf above it.
            ((100001, 900001, 101001, 899001), 0.9906586836367014),
            ((34001, 300001, 35001, 290001), 0.9999999999999983),
        ];
        for ((a1, b1, a2, b2), want) in cases {
            assert_close!(chance_beta_beats(a1, b1, a2, b2), want);
            // Swapping the arms gives the complement.
            assert_close!(1.0 - chance_beta_beats(a2, b2, a1, b1), want);
        }
        // The walk from the peak equals the plain sum of every term.
        let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
        for (a1, b1, a2, b2) in [
            (7.0, 40.0, 9, 35.0),
            (120.0, 900.0, 150, 880.0),
            (60.0, 3.0, 55, 9.0),
        ] {
            let full: f64 = (0..a2)
                .map(|i| {
                    let i = i as f64;
                    (ln_beta(a1 + i, b1 + b2)
                        - (b2 + i).ln()
                        - ln_beta(1.0 + i, b2)
                        - ln_beta(a1, b1))
                    .exp()
                })
                .sum();
            assert_close!(beta_beats(a1, b1, a2, b2), full);
        }
        // Every one of the four sums agrees.
        let want = 0.8192724458204332;
        assert_close!(beta_beats(3.0, 9.0, 5, 7.0), want);
        assert_close!(1.0 - beta_beats(5.0, 7.0, 3, 9.0), want);
        assert_close!(beta_beats(7.0, 5.0, 9, 3.0), want);
        assert_close!(1.0 - beta_beats(9.0, 3.0, 7, 5.0), want);
    }
}
