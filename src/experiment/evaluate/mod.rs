//! Evaluating an experiment: how big is each variant's effect, is it real,
//! in which segment does it win, and was the experiment healthy?
//!
//! Every figure follows a trusted engine formula for formula, so results can
//! be checked against it number for number (the tests pin them):
//!
//! - **Absolute effect** `mean_B − mean_A`: Welch's t-test with
//!   Welch–Satterthwaite degrees of freedom for mean, count, ratio and
//!   quantile metrics (`scipy.stats.ttest_ind(equal_var=False)`); for
//!   binomial metrics the pooled two-proportion z-test (statsmodels'
//!   `proportions_ztest`) with the unpooled Wald interval
//!   (`confint_proportions_2indep(method="wald")`).
//! - **Relative effect** `(mean_B − mean_A) / mean_A` with the delta-method
//!   variance `σ²_B/(μ²_A n_B) + σ²_A μ²_B/(μ⁴_A n_A)` and a t reference
//!   distribution with Welch's degrees of freedom, as GrowthBook's gbstats
//!   `TwoSidedTTest(difference_type="relative")`.
//! - **CUPED** (Deng, Xu, Kohavi & Walker 2013): with a pre-period covariate
//!   `z`, each arm's mean becomes `x̄ − θ z̄` with one `θ = cov(x, z)/var(z)`
//!   pooled over the two arms compared, as gbstats'
//!   `RegressionAdjustedStatistic`. Variance shrinks by about `ρ²`, the
//!   squared correlation of metric and covariate; the reduction is reported.
//! - **Sequential testing**: the mixture sequential probability ratio test
//!   of Waudby-Smith et al. (2023, eqs. 9, 155, 161) gives always-valid
//!   p-values and intervals, so results may be read every day without
//!   inflating false positives, as gbstats' `SequentialTwoSidedTTest` with its
//!   tuning parameter (default 5000, the sample size at which the intervals
//!   are tightest).
//! - **Bayesian**: a Gaussian model of the relative effect with a flat or a
//!   Gaussian prior (gbstats' `EffectBayesianABTest`): chance to win
//!   `P(effect > 0)`, the risk (expected loss) of shipping the treatment and
//!   of keeping the control, and a credible interval. For binomial metrics
//!   also the exact probability that B's rate beats A's under Beta posteriors
//!   (Evan Miller's closed form; no Monte Carlo noise) and each arm's credible interval.
//! - **Guardrails**: the sample-ratio-mismatch chi-square test against the
//!   planned weights (a broken split invalidates everything else), warnings
//!   for arms below a minimum size, and Holm–Bonferroni and
//!   Benjamini–Hochberg adjustment over a family of comparisons with
//!   intervals adjusted consistently (Bonferroni intervals at `α/m` for Holm;
//!   false-coverage-rate intervals at `α R/m` for BH, Benjamini & Yekutieli 2005).
//! - **Per segment**: the full evaluation in every segment, adjusted
//!   p-values over all segment × variant comparisons, Cochran's Q test of
//!   whether the effect really differs between segments (with I²), and per
//!   segment a verdict: the winner, or "no clear winner" with the reason.
//!
//! A [`Comparison`] holds one part per method, each `None` when the method
//! does not apply or its figures are undefined (an arm without units or
//! variance, a control mean of 0, no covariate, a non-binomial metric, no
//! family adjustment yet), never a NaN placeholder; [`Heterogeneity::test`]
//! is `None` with fewer than two segments to compare.

mod bayesian;
mod comparison;
mod correction;
mod cuped;
mod frequentist;
mod params;
mod segments;
mod sequential;
mod srm;

pub use comparison::{
    AbsoluteTest, Adjusted, Bayesian, BetaBinomial, Comparison, Cuped, EffectTest, Sequential,
    Warning, compare, compare_quantiles,
};
pub use correction::adjust_family;
pub use params::{EffectPrior, EvalParams};
pub use segments::{CochranQ, Heterogeneity, SegmentResult, VariantResult, Verdict, cochran_q};
pub use srm::{SampleRatio, sample_ratio_test};

use serde::{Deserialize, Serialize};

use super::stats::{ArmStats, ExperimentStats, Metric};
use crate::error::{Error, Result};
use segments::{analyse_segment, verdict};

/// The full evaluation of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The metric.
    pub metric: Metric,
    /// Variant names.
    pub variants: Vec<String>,
    /// Index of the control.
    pub control: usize,
    /// All units together; Holm/BH over the treatments.
    pub overall: SegmentResult,
    /// Each segment; Holm/BH over all segment × treatment comparisons.
    pub segments: Vec<SegmentResult>,
    /// Per treatment, whether its effect differs between segments (with two or more segments).
    pub heterogeneity: Vec<Heterogeneity>,
}

impl Evaluation {
    /// Every comparison, overall first, then segment by segment.
    pub fn comparisons_mut(&mut self) -> Vec<&mut Comparison> {
        let mut all = self.overall.comparisons_mut();
        for s in &mut self.segments {
            all.extend(s.comparisons_mut());
        }
        all
    }

    /// Recomputes every verdict from the current Holm-adjusted p-values, e.g.
    /// after [`adjust_family`] over the segment comparisons of several metrics.
    pub fn decide(&mut self, params: &EvalParams) {
        self.overall.verdict = verdict(&self.overall, &self.metric, params);
        for s in &mut self.segments {
            s.verdict = verdict(s, &self.metric, params);
        }
    }
}

/// Evaluates every treatment against the control, overall and in every segment.
///
/// Holm and BH adjust over the treatments overall, and over all segment ×
/// treatment comparisons in the segments. To widen the family to several
/// metrics, collect their segments' comparisons, call [`adjust_family`] on
/// them, then [`Evaluation::decide`] on each evaluation.
pub fn evaluate(stats: &ExperimentStats, params: &EvalParams) -> Result<Evaluation> {
    let variants = stats.variants().to_vec();
    params.check_for(variants.len())?;
    let weights = params
        .planned_weights
        .clone()
        .unwrap_or_else(|| vec![1.0; variants.len()]);
    let n_variants = variants.len();
    let by_segment = match &params.segment_weights {
        None => None,
        Some(rows) => {
            let valid = rows.len() == stats.segments().len()
                && rows.iter().all(|w| {
                    w.len() == n_variants
                        && w.iter().all(|x| x.is_finite() && *x >= 0.0)
                        && w.iter().sum::<f64>() > 0.0
                });
            if !valid {
                return Err(Error::param(
                    "segment_weights",
                    format!("{rows:?}"),
                    format!(
                        "one row of {n_variants} non-negative weights per segment ({})",
                        stats.segments().len()
                    ),
                ));
            }
            Some(rows)
        }
    };
    // Overall, the planned split is the segments' splits mixed by their units.
    let overall_weights = match by_segment {
        None => weights.clone(),
        Some(rows) => {
            let mut mix = vec![0.0; n_variants];
            for (s, w) in rows.iter().enumerate() {
                let units: u64 = (0..n_variants).map(|v| stats.arm(s, v).n).sum();
                let total: f64 = w.iter().sum();
                for (m, x) in mix.iter_mut().zip(w) {
                    *m += units as f64 * x / total;
                }
            }
            if mix.iter().sum::<f64>() > 0.0 {
                mix
            } else {
                weights.clone()
            }
        }
    };
    let second = stats.second();
    let metric = stats.metric();

    let mut overall = analyse_segment(
        "all",
        &stats.overall(),
        metric,
        &variants,
        &overall_weights,
        second,
        params,
    );
    adjust_family(
        &mut overall.comparisons_mut(),
        params.alpha,
        params.alternative,
    );
    overall.verdict = verdict(&overall, metric, params);

    let mut segments: Vec<SegmentResult> = stats
        .segments()
        .iter()
        .enumerate()
        .map(|(s, name)| {
            let arms: Vec<ArmStats> = (0..n_variants).map(|v| *stats.arm(s, v)).collect();
            let planned = by_segment.and_then(|rows| rows.get(s)).unwrap_or(&weights);
            analyse_segment(name, &arms, metric, &variants, planned, second, params)
        })
        .collect();
    {
        let mut family: Vec<&mut Comparison> = segments
            .iter_mut()
            .flat_map(|s| s.comparisons_mut())
            .collect();
        adjust_family(&mut family, params.alpha, params.alternative);
    }
    for s in &mut segments {
        s.verdict = verdict(s, metric, params);
    }

    let mut heterogeneity = Vec::new();
    if segments.len() >= 2 {
        for (v, name) in variants.iter().enumerate() {
            if v == params.control {
                continue;
            }
            let effects: Vec<(f64, f64)> = segments
                .iter()
                .filter_map(|s| s.variants[v].comparison.as_ref()?.absolute)
                .map(|t| (t.estimate, t.se))
                .collect();
            heterogeneity.push(Heterogeneity {
                variant: name.clone(),
                test: cochran_q(&effects, params.alpha),
            });
        }
    }
    Ok(Evaluation {
        metric: metric.clone(),
        variants,
        control: params.control,
        overall,
        segments,
        heterogeneity,
    })
}

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::stats::{MetricKind, SecondValue};

    #[test]
    fn a_family_across_metrics_changes_the_verdicts() {
        // One segment, a clear conversion win (p ≈ 0.03): significant alone,
        // not after Holm over this and nine null metrics.
        let metric = Metric::new("converted", MetricKind::Binomial);
        let mut stats = ExperimentStats::new(
            metric,
            vec!["a".into(), "b".into()],
            vec!["s".into()],
            SecondValue::None,
        )
        .unwrap();
        stats
            .set_arm(0, 0, ArmStats::from_sums(5000, 410.0, 410.0))
            .unwrap();
        stats
            .set_arm(0, 1, ArmStats::from_sums(5100, 480.0, 480.0))
            .unwrap();
        let params = EvalParams::default();
        let mut e = evaluate(&stats, &params).unwrap();
        assert_eq!(
            e.segments[0].verdict.winner,
            Some(1),
            "{}",
            e.segments[0].verdict.reason
        );
        let (a, b) = (
            ArmStats::from_sums(5000, 410.0, 410.0),
            ArmStats::from_sums(5000, 410.0, 410.0),
        );
        let mut nulls: Vec<Comparison> = (0..9)
            .map(|_| {
                compare(
                    &Metric::new("m", MetricKind::Binomial),
                    &a,
                    &b,
                    SecondValue::None,
                    &params,
                )
            })
            .collect();
        let mut family: Vec<&mut Comparison> = e.segments[0].comparisons_mut();
        family.extend(nulls.iter_mut());
        adjust_family(&mut family, params.alpha, params.alternative);
        e.decide(&params);
        assert_eq!(
            e.segments[0].verdict.winner, None,
            "{}",
            e.segments[0].verdict.reason
        );
        assert_eq!(e.comparisons_mut().len(), 2);
    }
}
