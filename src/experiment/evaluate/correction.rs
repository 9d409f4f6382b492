//! Multiple-comparison correction over a family: Holm and
//! Benjamini–Hochberg p-values with consistent (Bonferroni, false-coverage-rate) intervals.

use super::comparison::{Comparison, NAN2};
use super::frequentist::interval;
use crate::experiment::Alternative;
use crate::stats::{benjamini_hochberg, holm};

/// Holm and Benjamini–Hochberg adjustment of the comparisons' `p_value`s as
/// one family (the caller chooses it: variants, variants × segments, or
/// across several metrics' evaluations), with consistent absolute intervals:
/// Bonferroni intervals at `α/m` beside Holm (they cover all `m` effects
/// together with probability ≥ 1 − α), and false-coverage-rate intervals at
/// `α R/m` beside BH, where `R` is the number of BH rejections (Benjamini &
/// Yekutieli 2005; `R` at least 1). Comparisons without a p-value do not count.
pub fn adjust_family(family: &mut [&mut Comparison], alpha: f64, alternative: Alternative) {
    let p: Vec<f64> = family.iter().map(|c| c.p_value).collect();
    let m = p.iter().filter(|x| !x.is_nan()).count();
    let holm_p = holm(&p);
    let bh_q = benjamini_hochberg(&p);
    let rejected = bh_q.iter().filter(|&&q| q <= alpha).count().max(1);
    for (i, c) in family.iter_mut().enumerate() {
        c.p_value_holm = holm_p[i];
        c.q_value_bh = bh_q[i];
        if c.p_value.is_nan() || m == 0 {
            c.abs_ci_holm = NAN2;
            c.abs_ci_bh = NAN2;
            continue;
        }
        let level_holm = alpha / m as f64;
        let level_bh = alpha * rejected as f64 / m as f64;
        c.abs_ci_holm = interval(c.abs_effect, c.abs_se, c.abs_df, alternative, level_holm);
        c.abs_ci_bh = interval(c.abs_effect, c.abs_se, c.abs_df, alternative, level_bh);
    }
}
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `evaluate::fixtures`.
    use super::*;
    use crate::experiment::evaluate::fixtures::{assert_close, mean_arms};
    use crate::experiment::evaluate::frequentist::quantile;
    use crate::experiment::evaluate::{EvalParams, compare};
    use crate::experiment::stats::{Metric, MetricKind, SecondValue};

    #[test]
    fn family_adjustment_and_intervals() {
        let (a, b) = mean_arms();
        let metric = Metric::new("revenue", MetricKind::Mean);
        let params = EvalParams::default();
        let mut c1 = compare(&metric, &a, &b, SecondValue::None, &params);
        let mut c2 = compare(&metric, &b, &a, SecondValue::None, &params);
        let mut c3 = compare(&metric, &a, &a, SecondValue::None, &params);
        adjust_family(
            &mut [&mut c1, &mut c2, &mut c3],
            0.05,
            Alternative::TwoSided,
        );
        // Holm over [p, p, 1]: 3p and then max(3p, 2p), as statsmodels multipletests(method="holm").
        let p = c1.p_value;
        assert_close!(c1.p_value_holm, 3.0 * p);
        assert_close!(c2.p_value_holm, 3.0 * p);
        assert_close!(c3.p_value_holm, 1.0);
        assert_close!(c1.q_value_bh, 1.5 * p);
        // Bonferroni interval at α/3 is wider than the plain one; BH with R = 2 at 2α/3.
        assert!(c1.abs_ci_holm[0] < c1.abs_ci_bh[0] && c1.abs_ci_bh[0] < c1.abs_ci[0]);
        let w = quantile(1.0 - 0.05 / 6.0, c1.abs_df) * c1.abs_se;
        assert_close!(c1.abs_ci_holm[1], c1.abs_effect + w);
        let w_bh = quantile(1.0 - 0.05 * 2.0 / 6.0, c1.abs_df) * c1.abs_se;
        assert_close!(c1.abs_ci_bh[1], c1.abs_effect + w_bh);
    }
}
