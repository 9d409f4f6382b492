//! Multiple-comparison correction over a family: Holm and
//! Benjamini–Hochberg p-values with consistent (Bonferroni, false-coverage-rate) intervals.

use super::comparison::{Adjusted, Comparison};
use super::frequentist::interval;
use crate::experiment::Alternative;
use crate::stats::{benjamini_hochberg, holm};

/// Holm and Benjamini–Hochberg adjustment of the comparisons' absolute
/// p-values as one family (the caller chooses it: variants, variants ×
/// segments, or across several metrics' evaluations), with consistent
/// absolute intervals: Bonferroni intervals at `α/m` beside Holm (they cover
/// all `m` effects together with probability ≥ 1 − α), and
/// false-coverage-rate intervals at `α R/m` beside BH, where `R` is the
/// number of BH rejections (Benjamini & Yekutieli 2005; `R` at least 1).
///
/// Comparisons without an absolute test (or whose p-value is NaN) do not
/// count towards `m` and get [`Comparison::adjusted`] `None`; every other
/// comparison gets its [`Adjusted`] figures, replacing any earlier ones.
pub fn adjust_family(family: &mut [&mut Comparison], alpha: f64, alternative: Alternative) {
    // The tested comparisons, in family order.
    let tested: Vec<usize> = (0..family.len())
        .filter(|&i| family[i].absolute.is_some_and(|t| !t.p_value.is_nan()))
        .collect();
    let p: Vec<f64> = tested
        .iter()
        .filter_map(|&i| family[i].absolute.map(|t| t.p_value))
        .collect();
    let m = p.len();
    let holm_p = holm(&p);
    let bh_q = benjamini_hochberg(&p);
    let rejected = bh_q.iter().filter(|&&q| q <= alpha).count().max(1);
    for c in family.iter_mut() {
        c.adjusted = None;
    }
    for (j, &i) in tested.iter().enumerate() {
        let c = &mut *family[i];
        let Some(t) = c.absolute else { continue };
        let level_holm = alpha / m as f64;
        let level_bh = alpha * rejected as f64 / m as f64;
        c.adjusted = Some(Adjusted {
            p_value_holm: holm_p[j],
            q_value_bh: bh_q[j],
            abs_ci_holm: interval(t.estimate, t.se, t.df, alternative, level_holm),
            abs_ci_bh: interval(t.estimate, t.se, t.df, alternative, level_bh),
        });
    }
}
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `evaluate::fixtures`.
    use super::*;
    use crate::experiment::evaluate::fixtures::{assert_close, mean_arms};
    use crate::experiment::evaluate::frequentist::quantile;
    use crate::experiment::evaluate::{EvalParams, compare};
    use crate::experiment::stats::{ArmStats, Metric, MetricKind, SecondValue};

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
        let t1 = c1.absolute.unwrap();
        let p = t1.p_value;
        let (a1, a2, a3) = (
            c1.adjusted.unwrap(),
            c2.adjusted.unwrap(),
            c3.adjusted.unwrap(),
        );
        assert_close!(a1.p_value_holm, 3.0 * p);
        assert_close!(a2.p_value_holm, 3.0 * p);
        assert_close!(a3.p_value_holm, 1.0);
        assert_close!(a1.q_value_bh, 1.5 * p);
        // Bonferroni interval at α/3 is wider than the plain one; BH with R = 2 at 2α/3.
        assert!(a1.abs_ci_holm[0] < a1.abs_ci_bh[0] && a1.abs_ci_bh[0] < t1.ci[0]);
        let w = quantile(1.0 - 0.05 / 6.0, t1.df) * t1.se;
        assert_close!(a1.abs_ci_holm[1], c1.abs_effect + w);
        let w_bh = quantile(1.0 - 0.05 * 2.0 / 6.0, t1.df) * t1.se;
        assert_close!(a1.abs_ci_bh[1], c1.abs_effect + w_bh);

        // A comparison without an absolute test does not count: the other
        // two form a family of two.
        let flat = ArmStats::from_sums(10, 0.0, 0.0);
        let mut untested = compare(&metric, &flat, &flat, SecondValue::None, &params);
        assert!(untested.absolute.is_none());
        adjust_family(
            &mut [&mut c1, &mut untested, &mut c2],
            0.05,
            Alternative::TwoSided,
        );
        assert_eq!(untested.adjusted, None);
        assert_close!(c1.adjusted.unwrap().p_value_holm, 2.0 * p);
    }
}
