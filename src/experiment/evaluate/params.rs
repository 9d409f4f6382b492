//! The evaluation's settings: significance, alternative, CUPED, sequential
//! tuning, priors, planned weights, and their checks.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::experiment::Alternative;

/// A Gaussian prior on the relative effect (gbstats' `GaussianPrior`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EffectPrior {
    /// Prior mean of the relative effect.
    pub mean: f64,
    /// Prior variance of the relative effect.
    pub variance: f64,
    /// `false`: a flat prior (the posterior is the likelihood); `true`: use mean and variance.
    pub proper: bool,
}

impl Default for EffectPrior {
    fn default() -> Self {
        EffectPrior {
            mean: 0.0,
            variance: 1.0,
            proper: false,
        }
    }
}

/// How to evaluate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalParams {
    /// Index of the control variant.
    pub control: usize,
    /// Significance level (and 1 − the interval's confidence).
    pub alpha: f64,
    /// Alternative of the frequentist tests (sequential figures are two-sided).
    pub alternative: Alternative,
    /// Adjust relative, sequential and Bayesian figures with the covariate when the statistics have one.
    pub cuped: bool,
    /// The sequential test's tuning parameter (gbstats' default 5000).
    pub sequential_tuning: f64,
    /// Prior of the Bayesian effect model.
    pub prior: EffectPrior,
    /// Beta prior `(a, b)` of the exact Beta–Binomial comparison (whole numbers ≥ 1).
    pub beta_prior: (u32, u32),
    /// Planned traffic weights per variant for the sample-ratio test; `None`: equal.
    pub planned_weights: Option<Vec<f64>>,
    /// Planned weights per segment (one row per segment, one weight per
    /// variant), when segments were split differently (e.g. by Thompson
    /// sampling); a segment's own row then replaces `planned_weights` in its
    /// sample-ratio test, and the overall test expects the mix of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_weights: Option<Vec<Vec<f64>>>,
    /// A sample-ratio p-value below this flags a mismatch (GrowthBook's default 0.001).
    pub srm_threshold: f64,
    /// Arms with fewer units get a warning and no verdict.
    pub min_units: u64,
}

impl Default for EvalParams {
    fn default() -> Self {
        EvalParams {
            control: 0,
            alpha: 0.05,
            alternative: Alternative::TwoSided,
            cuped: true,
            sequential_tuning: 5000.0,
            prior: EffectPrior::default(),
            beta_prior: (1, 1),
            planned_weights: None,
            segment_weights: None,
            srm_threshold: 0.001,
            min_units: 100,
        }
    }
}

impl EvalParams {
    /// Checks the settings that do not depend on the experiment: the
    /// significance level, the sequential tuning, the priors, the SRM
    /// threshold and the planned weights' values.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting.
    pub fn check(&self) -> Result<()> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::param("alpha", self.alpha, "must lie in (0, 1)"));
        }
        if !(self.sequential_tuning > 0.0 && self.sequential_tuning.is_finite()) {
            return Err(Error::param(
                "sequential_tuning",
                self.sequential_tuning,
                "must be a positive number",
            ));
        }
        if self.prior.proper
            && !(self.prior.variance > 0.0
                && self.prior.variance.is_finite()
                && self.prior.mean.is_finite())
        {
            return Err(Error::param(
                "prior.variance",
                self.prior.variance,
                "a proper prior needs a finite mean and a positive, finite variance",
            ));
        }
        if self.beta_prior.0 == 0 || self.beta_prior.1 == 0 {
            return Err(Error::param(
                "beta_prior",
                format!("{:?}", self.beta_prior),
                "both parameters must be whole numbers ≥ 1",
            ));
        }
        if !(self.srm_threshold > 0.0 && self.srm_threshold < 1.0) {
            return Err(Error::param(
                "srm_threshold",
                self.srm_threshold,
                "must lie in (0, 1)",
            ));
        }
        if let Some(w) = &self.planned_weights {
            if w.iter().any(|x| !(x.is_finite() && *x >= 0.0)) || w.iter().sum::<f64>() <= 0.0 {
                return Err(Error::param(
                    "planned_weights",
                    format!("{w:?}"),
                    "weights must be finite, non-negative and not all zero",
                ));
            }
        }
        Ok(())
    }

    /// [`check`](Self::check), then what depends on an experiment with
    /// `variants` variants: the control index and one planned weight per variant.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting.
    pub fn check_for(&self, variants: usize) -> Result<()> {
        self.check()?;
        if self.control >= variants {
            return Err(Error::param(
                "control",
                self.control,
                format!("there are {variants} variants"),
            ));
        }
        if let Some(w) = &self.planned_weights {
            if w.len() != variants {
                return Err(Error::param(
                    "planned_weights",
                    format!("{w:?}"),
                    format!("give one weight per variant ({variants})"),
                ));
            }
        }
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `evaluate::fixtures`.
    use super::*;

    #[test]
    fn parameters_are_checked() {
        let bad = [
            EvalParams {
                control: 3,
                ..EvalParams::default()
            },
            EvalParams {
                alpha: 0.0,
                ..EvalParams::default()
            },
            EvalParams {
                alpha: f64::NAN,
                ..EvalParams::default()
            },
            EvalParams {
                sequential_tuning: -1.0,
                ..EvalParams::default()
            },
            EvalParams {
                prior: EffectPrior {
                    mean: 0.0,
                    variance: 0.0,
                    proper: true,
                },
                ..EvalParams::default()
            },
            EvalParams {
                beta_prior: (0, 1),
                ..EvalParams::default()
            },
            EvalParams {
                planned_weights: Some(vec![1.0]),
                ..EvalParams::default()
            },
            EvalParams {
                planned_weights: Some(vec![0.0, 0.0]),
                ..EvalParams::default()
            },
            EvalParams {
                srm_threshold: 1.0,
                ..EvalParams::default()
            },
        ];
        for p in bad {
            assert!(
                matches!(p.check_for(2), Err(Error::InvalidParameter { .. })),
                "{p:?}"
            );
        }
        assert!(EvalParams::default().check().is_ok());
    }
}
