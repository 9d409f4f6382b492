//! Contractual (subscription) customers: the shifted-beta-geometric model fitted
//! to a cohort, with retention curves and discounted expected residual lifetime.
//!
//! Each subscriber cancels at the end of any period with their own probability
//! θ ~ Beta(α, β) (Fader & Hardie 2007, "How to project customer retention").
//! Because the churn-prone leave first, the cohort's retention rate rises over
//! time even though no individual's does.
//!
//! ```
//! use custinsight::lifecycle::sbg::SbgParams;
//!
//! // Fader & Hardie's "regular" cohort: 1000 subscribers, survivors after years 1–7.
//! let survivors = [631u64, 468, 382, 326, 289, 262, 241];
//! let mut churned = Vec::new();
//! let mut before = 1000;
//! for s in survivors {
//!     churned.push(before - s);
//!     before = s;
//! }
//! let model = SbgParams::default().fit(&churned, 241)?;
//! assert!((model.alpha - 0.704).abs() < 0.01 && (model.beta - 1.182).abs() < 0.01);
//! assert!(model.retention_rate(2) > model.retention_rate(1));
//! # Ok::<(), custinsight::Error>(())
//! ```

use serde::{Deserialize, Serialize};

pub mod formulas;

use crate::error::{Error, Result};
use crate::lifecycle::optim::{FitReport, Settings, minimize, standard_errors};

/// Fitting settings for the shifted-beta-geometric model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SbgParams {
    /// Maximum optimiser iterations per starting point.
    pub max_iter: usize,
    /// Convergence tolerance on the gradient norm (log-parameters, mean log-likelihood).
    pub tolerance: f64,
}

impl Default for SbgParams {
    fn default() -> Self {
        SbgParams {
            max_iter: 500,
            tolerance: 1e-9,
        }
    }
}

/// A fitted shifted-beta-geometric model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SbgModel {
    /// First shape of the churn-probability beta.
    pub alpha: f64,
    /// Second shape of the churn-probability beta.
    pub beta: f64,
    /// How the fit went.
    pub report: FitReport,
}

impl SbgParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for zero iterations or a non-positive tolerance.
    pub fn check(&self) -> Result<()> {
        crate::error::check_iterations(self.max_iter, self.tolerance)
    }

    /// Fits a cohort: `churned_by_period[t − 1]` cancelled in period `t`, `still_active` remain.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for zero iterations or a non-positive tolerance;
    /// [`Error::NotIdentifiable`] for an empty cohort or one where nobody (or everybody)
    /// cancelled in the first period only; [`Error::NoConvergence`].
    pub fn fit(&self, churned_by_period: &[u64], still_active: u64) -> Result<SbgModel> {
        self.check()?;
        let churned: u64 = churned_by_period.iter().sum();
        let total = (churned + still_active) as f64;
        if churned_by_period.is_empty() || total == 0.0 {
            return Err(Error::NotIdentifiable {
                model: "sBG",
                reason: "empty cohort".into(),
            });
        }
        if churned == 0 {
            return Err(Error::NotIdentifiable {
                model: "sBG",
                reason: "nobody cancelled".into(),
            });
        }
        if churned_by_period.len() < 2 {
            return Err(Error::NotIdentifiable {
                model: "sBG",
                reason: "one period cannot separate alpha from beta; need at least two".into(),
            });
        }
        let mut objective = |phi: &[f64]| -> (f64, Vec<f64>) {
            let theta = [phi[0].exp(), phi[1].exp()];
            let (ll, g) =
                formulas::log_likelihood_gradient(&theta, churned_by_period, still_active);
            (
                -ll / total,
                vec![-g[0] * theta[0] / total, -g[1] * theta[1] / total],
            )
        };
        let settings = Settings {
            max_iter: self.max_iter,
            gtol: self.tolerance,
            ..Settings::default()
        };
        let mut best = None;
        for (start, x0) in [[0.0, 0.0], [1.0f64.ln(), 3.0f64.ln()]].iter().enumerate() {
            let m = minimize(&mut objective, x0, settings);
            if m.converged && m.f.is_finite() {
                best = Some((m, start));
                break;
            }
            if best
                .as_ref()
                .is_none_or(|(b, _): &(crate::lifecycle::optim::Minimum, usize)| m.f < b.f)
            {
                best = Some((m, start));
            }
        }
        let Some((m, start)) = best else {
            return Err(Error::NoConvergence {
                model: "sBG",
                iterations: self.max_iter,
                gradient_norm: f64::INFINITY,
            });
        };
        if !m.converged {
            return Err(Error::NoConvergence {
                model: "sBG",
                iterations: m.iterations,
                gradient_norm: m.gradient_norm,
            });
        }
        let theta = [m.x[0].exp(), m.x[1].exp()];
        let log_likelihood = formulas::log_likelihood(&theta, churned_by_period, still_active);
        let standard_errors = standard_errors(&theta, &mut |t: &[f64]| {
            formulas::log_likelihood_gradient(&[t[0], t[1]], churned_by_period, still_active)
                .1
                .to_vec()
        });
        Ok(SbgModel {
            alpha: theta[0],
            beta: theta[1],
            report: FitReport {
                log_likelihood,
                iterations: m.iterations,
                gradient_norm: m.gradient_norm,
                converged: true,
                start,
                standard_errors,
                n_customers: total,
            },
        })
    }
}

impl SbgModel {
    /// The parameters `[alpha, beta]`.
    pub fn params(&self) -> [f64; 2] {
        [self.alpha, self.beta]
    }

    /// Share of the cohort still subscribed after `t` periods, S(t).
    pub fn survival(&self, t: u32) -> f64 {
        formulas::survival(&self.params(), t)
    }

    /// Probability of cancelling in period `t`, P(T = t).
    pub fn churn_probability(&self, t: u32) -> f64 {
        formulas::churn_probability(&self.params(), t)
    }

    /// Retention rate in period `t` (share of period `t − 1` survivors who renew), r(t) for `t ≥ 1`.
    pub fn retention_rate(&self, t: u32) -> f64 {
        formulas::retention_rate(&self.params(), t)
    }

    /// Survival curve `S(0..=periods)`.
    pub fn retention_curve(&self, periods: u32) -> Vec<f64> {
        (0..=periods).map(|t| self.survival(t)).collect()
    }

    /// Discounted expected residual lifetime (in periods' payments) of an active
    /// subscriber who has renewed `n_renewals` times (Fader & Hardie 2010).
    pub fn discounted_expected_residual_lifetime(
        &self,
        n_renewals: u32,
        discount_rate: f64,
    ) -> f64 {
        formulas::discounted_expected_residual_lifetime(&self.params(), n_renewals, discount_rate)
    }
}
