//! Per segment: each variant's row, the sample-ratio and size warnings, the
//! verdict (winner or no clear winner, and why), and Cochran's Q test of
//! whether an effect differs between segments.

use serde::{Deserialize, Serialize};

use super::comparison::{Comparison, Warning, compare};
use super::frequentist::ratio_moments;
use super::params::EvalParams;
use super::srm::{SampleRatio, sample_ratio_test};
use crate::experiment::stats::{ArmStats, Metric, MetricKind, SecondValue};
use crate::stats::chi2_sf;

/// One variant's row in a segment: its figures and, for treatments, the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    /// Variant name.
    pub variant: String,
    /// Units.
    pub n: u64,
    /// The metric's mean (a ratio metric's ratio; unadjusted).
    pub mean: f64,
    /// Against the control (`None` for the control itself).
    pub comparison: Option<Comparison>,
}

/// The decision for a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Index of the winning variant (the control when every treatment is
    /// significantly worse); `None`: no clear winner.
    pub winner: Option<usize>,
    /// Why, with the numbers.
    pub reason: String,
}

/// The evaluation of one segment (or of all units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentResult {
    /// Segment name (`"all"` for the overall result).
    pub segment: String,
    /// One row per variant, in variant order.
    pub variants: Vec<VariantResult>,
    /// Sample-ratio test against the planned weights.
    pub sample_ratio: SampleRatio,
    /// Warnings about the segment as a whole (sample ratio, small arms).
    pub warnings: Vec<Warning>,
    /// Winner or no clear winner, and why.
    pub verdict: Verdict,
}

impl SegmentResult {
    /// The treatments' comparisons, for a family of [`adjust_family`](super::adjust_family).
    pub fn comparisons_mut(&mut self) -> Vec<&mut Comparison> {
        self.variants
            .iter_mut()
            .filter_map(|v| v.comparison.as_mut())
            .collect()
    }
}

/// Whether a treatment's absolute effect differs between segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heterogeneity {
    /// The treatment.
    pub variant: String,
    /// Cochran's Q test over the segments with a defined effect; `None`
    /// when fewer than two segments have one.
    pub test: Option<CochranQ>,
}

/// Cochran's Q test of whether an effect differs between groups
/// (inverse-variance weights, `segments − 1` degrees of freedom), with
/// Higgins' I² (the share of the variation due to real differences) and the
/// fixed-effect pooled estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CochranQ {
    /// Segments (effects) in the test, at least two.
    pub segments: usize,
    /// Cochran's Q.
    pub q: f64,
    /// Its p-value (chi-square with `segments − 1` degrees of freedom).
    pub p_value: f64,
    /// Higgins' I² = max(0, (Q − df)/Q).
    pub i_squared: f64,
    /// The inverse-variance weighted mean effect.
    pub pooled_effect: f64,
    /// Its standard error.
    pub pooled_se: f64,
    /// Whether `p_value` < α: the effect really differs between segments.
    pub differs: bool,
}

/// Cochran's Q over `(effect, standard error)` pairs; pairs with a
/// non-finite effect or a non-positive standard error are skipped. `None`
/// when fewer than two pairs remain.
pub fn cochran_q(effects: &[(f64, f64)], alpha: f64) -> Option<CochranQ> {
    let used: Vec<(f64, f64)> = effects
        .iter()
        .copied()
        .filter(|(e, se)| e.is_finite() && se.is_finite() && *se > 0.0)
        .collect();
    let k = used.len();
    if k < 2 {
        return None;
    }
    let w_sum: f64 = used.iter().map(|(_, se)| 1.0 / (se * se)).sum();
    let pooled = used.iter().map(|(e, se)| e / (se * se)).sum::<f64>() / w_sum;
    let q: f64 = used
        .iter()
        .map(|(e, se)| (e - pooled).powi(2) / (se * se))
        .sum();
    let df = (k - 1) as f64;
    let p = chi2_sf(q, df);
    let i2 = if q > 0.0 {
        ((q - df) / q).max(0.0)
    } else {
        0.0
    };
    Some(CochranQ {
        segments: k,
        q,
        p_value: p,
        i_squared: i2,
        pooled_effect: pooled,
        pooled_se: (1.0 / w_sum).sqrt(),
        differs: p < alpha,
    })
}

pub(super) fn analyse_segment(
    name: &str,
    arms: &[ArmStats],
    metric: &Metric,
    variants: &[String],
    weights: &[f64],
    second: SecondValue,
    params: &EvalParams,
) -> SegmentResult {
    let control = &arms[params.control];
    let units: Vec<u64> = arms.iter().map(|a| a.n).collect();
    let sample_ratio = sample_ratio_test(&units, weights, params.srm_threshold);
    let mut warnings = Vec::new();
    if sample_ratio.mismatch {
        warnings.push(Warning::SampleRatioMismatch {
            p_value: sample_ratio.p_value,
        });
    }
    for (arm, v) in arms.iter().zip(variants) {
        if arm.n < params.min_units {
            warnings.push(Warning::FewUnits {
                variant: v.clone(),
                n: arm.n,
                minimum: params.min_units,
            });
        }
    }
    let rows = arms
        .iter()
        .zip(variants)
        .enumerate()
        .map(|(v, (arm, variant))| {
            let mean = if metric.kind == MetricKind::Ratio {
                ratio_moments(arm).0
            } else {
                arm.mean()
            };
            let comparison = (v != params.control).then(|| {
                let mut c = compare(metric, control, arm, second, params);
                for w in &mut c.warnings {
                    if let Warning::ZeroVariance { variant: who } = w {
                        *who = if who == "control" {
                            variants[params.control].clone()
                        } else {
                            variant.clone()
                        };
                    }
                }
                c
            });
            VariantResult {
                variant: variant.clone(),
                n: arm.n,
                mean,
                comparison,
            }
        })
        .collect();
    SegmentResult {
        segment: name.to_string(),
        variants: rows,
        sample_ratio,
        warnings,
        verdict: Verdict {
            winner: None,
            reason: String::new(),
        },
    }
}

/// The winner of a segment from its family-adjusted (Holm) p-values.
pub(super) fn verdict(segment: &SegmentResult, metric: &Metric, params: &EvalParams) -> Verdict {
    let none = |reason: String| Verdict {
        winner: None,
        reason,
    };
    if segment.sample_ratio.mismatch {
        return none(format!(
            "no verdict: sample ratio mismatch (p = {:.2e}); fix the assignment before reading effects",
            segment.sample_ratio.p_value
        ));
    }
    if let Some(small) = segment.variants.iter().find(|v| v.n < params.min_units) {
        return none(format!(
            "no verdict: {} has {} units, below the minimum of {}",
            small.variant, small.n, params.min_units
        ));
    }
    let better = |effect: f64| {
        if metric.lower_is_better {
            effect < 0.0
        } else {
            effect > 0.0
        }
    };
    let treatments: Vec<(usize, &Comparison)> = segment
        .variants
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.comparison.as_ref().map(|c| (i, c)))
        .collect();
    let significant = |c: &Comparison| c.adjusted.is_some_and(|a| a.p_value_holm < params.alpha);
    let describe = |i: usize, c: &Comparison| {
        let effect = match c.relative {
            Some(r) => format!("{:+.1}%", 100.0 * r.estimate),
            None => format!("{:+.4}", c.abs_effect),
        };
        let holm = match c.adjusted {
            Some(a) => format!("Holm-adjusted p = {:.3}", a.p_value_holm),
            None => "not adjusted for the family".to_owned(),
        };
        format!(
            "{} {effect} vs {} ({holm})",
            segment.variants[i].variant, segment.variants[params.control].variant
        )
    };
    let winners: Vec<&(usize, &Comparison)> = treatments
        .iter()
        .filter(|(_, c)| significant(c) && better(c.abs_effect))
        .collect();
    if let Some((i, c)) = winners.iter().copied().max_by(|x, y| {
        let key = |c: &Comparison| {
            if metric.lower_is_better {
                -c.abs_effect
            } else {
                c.abs_effect
            }
        };
        key(x.1).total_cmp(&key(y.1))
    }) {
        return Verdict {
            winner: Some(*i),
            reason: format!("{} wins: {}", segment.variants[*i].variant, describe(*i, c)),
        };
    }
    if !treatments.is_empty()
        && treatments
            .iter()
            .all(|(_, c)| significant(c) && !better(c.abs_effect) && c.abs_effect != 0.0)
    {
        return Verdict {
            winner: Some(params.control),
            reason: format!(
                "{} wins: every treatment is significantly worse",
                segment.variants[params.control].variant
            ),
        };
    }
    let best = treatments
        .iter()
        .filter(|(_, c)| c.absolute.is_some_and(|t| t.p_value.is_finite()))
        .max_by(|x, y| {
            let key = |c: &Comparison| {
                if metric.lower_is_better {
                    -c.abs_effect
                } else {
                    c.abs_effect
                }
            };
            key(x.1).total_cmp(&key(y.1))
        });
    match best {
        Some((i, c)) => none(format!(
            "no clear winner: best is {}, not significant at α = {}",
            describe(*i, c),
            params.alpha
        )),
        None => none("no clear winner: the effects are undefined (no variance or no units)".into()),
    }
}
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `evaluate::fixtures`.
    use super::*;
    use crate::experiment::evaluate::fixtures::assert_close;

    #[test]
    fn cochran_q_matches_statsmodels() {
        // statsmodels.stats.meta_analysis.combine_effects(
        //   [0.021, 0.035, -0.004, 0.018], [0.010², 0.012², 0.009², 0.015²], method_re="chi2"):
        // q 7.619766188878727, i2 0.6062871319623182, mean_effect_fe 0.014337602927721864,
        // sd_eff_w_fe 0.0054445554361701315; scipy.stats.chi2.sf(q, 3) 0.054559699174207506
        let test = cochran_q(
            &[
                (0.021, 0.010),
                (0.035, 0.012),
                (-0.004, 0.009),
                (0.018, 0.015),
                (f64::NAN, 1.0),
            ],
            0.05,
        )
        .unwrap();
        assert_eq!(test.segments, 4);
        assert_close!(test.q, 7.619766188878727);
        assert_close!(test.p_value, 0.054559699174207506);
        assert_close!(test.i_squared, 0.6062871319623182);
        assert_close!(test.pooled_effect, 0.014337602927721864);
        assert_close!(test.pooled_se, 0.0054445554361701315);
        assert!(!test.differs);
        // One usable pair (the others have no standard error): no test.
        assert_eq!(
            cochran_q(&[(0.02, 0.01), (0.03, 0.0), (0.01, f64::NAN)], 0.05),
            None
        );
    }
}
