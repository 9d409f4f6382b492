//! What a power calculation is asked about: the planned metric (baseline,
//! variance reduction), the effect, the test's settings, and their checks.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::experiment::Alternative;

/// Largest unit count handled (2⁵³, the largest integer below which every
/// integer is exactly representable as `f64`).
pub const MAX_UNITS: f64 = 9_007_199_254_740_992.0;

/// Smallest and largest accepted [`PowerParams::allocation_ratio`].
pub const ALLOCATION_RATIO_RANGE: (f64, f64) = (1e-9, 1e9);

/// The metric's value in the control arm (the baseline) and its per-unit
/// variability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// A conversion metric: the share of units that convert.
    Binomial {
        /// Baseline conversion rate of the control arm, in (0, 1).
        rate: f64,
    },
    /// A per-unit continuous metric (revenue per customer, orders per customer, …).
    Continuous {
        /// Baseline mean of the control arm (any finite value).
        mean: f64,
        /// Per-unit standard deviation, assumed equal in both arms (> 0).
        sd: f64,
    },
    /// A ratio of two per-unit sums (revenue per session, clicks per view)
    /// with the customer as the unit of randomisation.
    Ratio {
        /// Baseline ratio of the control arm (any finite value).
        ratio: f64,
        /// Per-unit variance of the ratio from the delta method, so that the
        /// ratio estimated from `n` units has variance `variance / n` (> 0).
        variance: f64,
    },
}

/// Variance reduction from a pre-experiment covariate (CUPED; Deng et al. 2013).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarianceReduction {
    /// The correlation `ρ` between the pre-period covariate and the metric,
    /// in (−1, 1): variances are multiplied by `1 − ρ²`.
    Correlation(f64),
    /// The share `s` of the variance removed, in [0, 1): variances are
    /// multiplied by `1 − s`.
    Share(f64),
}

impl VarianceReduction {
    /// The factor applied to the variances: `1 − ρ²` or `1 − s`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] (`variance_reduction`) when `ρ` is not in
    /// (−1, 1) or `s` not in [0, 1).
    pub fn factor(&self) -> Result<f64> {
        match *self {
            VarianceReduction::Correlation(rho) => {
                if !(rho > -1.0 && rho < 1.0) {
                    return Err(Error::param(
                        "variance_reduction",
                        rho,
                        "the CUPED correlation must be in (-1, 1)",
                    ));
                }
                Ok(1.0 - rho * rho)
            }
            VarianceReduction::Share(share) => {
                if !(0.0..1.0).contains(&share) {
                    return Err(Error::param(
                        "variance_reduction",
                        share,
                        "the variance-reduction share must be in [0, 1)",
                    ));
                }
                Ok(1.0 - share)
            }
        }
    }
}

/// A metric to power a test for: its baseline and optional variance reduction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlannedMetric {
    /// Baseline value and per-unit variability.
    pub baseline: Baseline,
    /// Optional CUPED variance reduction (`None`: the raw metric).
    #[serde(default)]
    pub variance_reduction: Option<VarianceReduction>,
}

impl PlannedMetric {
    /// A conversion metric with baseline rate `rate`.
    pub fn binomial(rate: f64) -> PlannedMetric {
        PlannedMetric {
            baseline: Baseline::Binomial { rate },
            variance_reduction: None,
        }
    }

    /// A continuous metric with baseline `mean` and per-unit standard deviation `sd`.
    pub fn continuous(mean: f64, sd: f64) -> PlannedMetric {
        PlannedMetric {
            baseline: Baseline::Continuous { mean, sd },
            variance_reduction: None,
        }
    }

    /// A ratio metric with baseline `ratio` and delta-method per-unit `variance`.
    pub fn ratio(ratio: f64, variance: f64) -> PlannedMetric {
        PlannedMetric {
            baseline: Baseline::Ratio { ratio, variance },
            variance_reduction: None,
        }
    }

    /// The same metric analysed with CUPED, given the correlation `rho`
    /// between the pre-period covariate and the metric.
    pub fn with_cuped_correlation(mut self, rho: f64) -> PlannedMetric {
        self.variance_reduction = Some(VarianceReduction::Correlation(rho));
        self
    }

    /// The same metric with a share `share` of its variance removed (e.g. as
    /// measured by CUPED on past experiments).
    pub fn with_variance_reduction(mut self, share: f64) -> PlannedMetric {
        self.variance_reduction = Some(VarianceReduction::Share(share));
        self
    }

    /// The baseline mean of the control arm: the rate, mean or ratio.
    pub fn baseline_mean(&self) -> f64 {
        match self.baseline {
            Baseline::Binomial { rate } => rate,
            Baseline::Continuous { mean, .. } => mean,
            Baseline::Ratio { ratio, .. } => ratio,
        }
    }
}

/// An effect of treatment against control, `δ = μ_t − μ_c`.
///
/// The sign gives the direction: positive for an increase. A one-sided
/// [`Alternative::Greater`] test needs a positive effect in
/// [`sample_size`](fn@super::sample_size), [`Alternative::Less`] a negative one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// In the metric's units (for a conversion rate: percentage points as a
    /// fraction, `0.01` for one point).
    Absolute(f64),
    /// As a share of the baseline mean (`0.05` for +5 %): `δ = x · μ_c`.
    /// With a negative baseline mean a positive share is a negative `δ`.
    Relative(f64),
}

impl Effect {
    /// The absolute effect `δ` for `metric`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] (`effect`) when the effect is zero or not
    /// finite, or relative to a zero baseline mean.
    pub fn delta(&self, metric: &PlannedMetric) -> Result<f64> {
        let delta = match *self {
            Effect::Absolute(x) => x,
            Effect::Relative(x) => {
                if !x.is_finite() {
                    return Err(Error::param("effect", x, "must be finite"));
                }
                let mean = metric.baseline_mean();
                if mean == 0.0 || !mean.is_finite() {
                    return Err(Error::param(
                        "effect",
                        x,
                        "a relative effect needs a finite, non-zero baseline mean",
                    ));
                }
                x * mean
            }
        };
        if !delta.is_finite() {
            return Err(Error::param("effect", delta, "must be finite"));
        }
        if delta == 0.0 {
            return Err(Error::param("effect", delta, "must be non-zero"));
        }
        Ok(delta)
    }
}

/// Parameters of the test: significance, power, sidedness and the split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PowerParams {
    /// Significance level `α`, the false-positive rate of each test (or of
    /// the family with [`bonferroni`](Self::bonferroni)), in (0, 1); default 0.05.
    pub alpha: f64,
    /// Target power `1 − β`, in (0, 1) and above the per-comparison `α`;
    /// default 0.8. Used by [`sample_size`](fn@super::sample_size) and [`mde`](fn@super::mde).
    pub power: f64,
    /// The alternative hypothesis; default two-sided.
    pub alternative: Alternative,
    /// Units in each treatment arm per control unit (`n_t = r · n_c`), in
    /// [1e-9, 1e9]; default 1.
    pub allocation_ratio: f64,
    /// Number of treatment arms, each compared with the one control (≥ 1); default 1.
    pub treatment_arms: u32,
    /// Divide `α` by the number of treatment arms (Bonferroni) so that `α`
    /// bounds the family-wise false-positive rate of the `k` comparisons;
    /// default false.
    pub bonferroni: bool,
}

impl Default for PowerParams {
    fn default() -> Self {
        PowerParams {
            alpha: 0.05,
            power: 0.8,
            alternative: Alternative::TwoSided,
            allocation_ratio: 1.0,
            treatment_arms: 1,
            bonferroni: false,
        }
    }
}

impl PowerParams {
    /// The significance level of each treatment-versus-control comparison:
    /// `α / k` with Bonferroni and `k` treatment arms, otherwise `α`.
    pub fn alpha_per_comparison(&self) -> f64 {
        if self.bonferroni && self.treatment_arms > 1 {
            self.alpha / f64::from(self.treatment_arms)
        } else {
            self.alpha
        }
    }

    /// Checks the settings (whether the target power beats `α` is checked
    /// where a power target is used).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting.
    pub fn check(&self) -> Result<()> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::param("alpha", self.alpha, "must be in (0, 1)"));
        }
        if !(self.power > 0.0 && self.power < 1.0) {
            return Err(Error::param("power", self.power, "must be in (0, 1)"));
        }
        check_ratio(self.allocation_ratio)?;
        if self.treatment_arms == 0 {
            return Err(Error::param("treatment_arms", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// The target power must beat the false-positive rate: a test with power
    /// `≤ α` needs no data at all.
    pub(super) fn check_target(&self) -> Result<()> {
        let alpha = self.alpha_per_comparison();
        if self.power <= alpha {
            return Err(Error::param(
                "power",
                self.power,
                format!("must exceed the per-comparison significance level {alpha}"),
            ));
        }
        Ok(())
    }
}

pub(super) fn check_ratio(ratio: f64) -> Result<()> {
    let (lo, hi) = ALLOCATION_RATIO_RANGE;
    if !(ratio >= lo && ratio <= hi) {
        return Err(Error::param(
            "allocation_ratio",
            ratio,
            "must be finite and in [1e-9, 1e9]",
        ));
    }
    Ok(())
}
