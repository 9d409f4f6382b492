//! The fitted Gamma–Gamma spend model and customer lifetime value.
//!
//! Gamma–Gamma (Fader & Hardie 2013) explains each customer's average spend
//! per repeat transaction; combined with a transaction model's expected
//! purchases it gives the customer lifetime value (CLV): discounted expected
//! margin over a horizon, computed as lifetimes' `customer_lifetime_value`.

use serde::{Deserialize, Serialize};

use crate::lifecycle::fit::{PerCustomer, check_fit_params, fit};
pub mod formulas;

use crate::error::{Error, Result};
use crate::lifecycle::optim::{FitReport, Settings};
use crate::lifecycle::summary::{Summary, Triples};

/// Fitting settings for the Gamma–Gamma spend model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GammaGammaParams {
    /// L2 penalty on the parameters, as lifetimes' `penalizer_coef`.
    pub penalizer: f64,
    /// Maximum optimiser iterations per starting point.
    pub max_iter: usize,
    /// Convergence tolerance on the gradient norm.
    pub tolerance: f64,
}

impl Default for GammaGammaParams {
    fn default() -> Self {
        GammaGammaParams {
            penalizer: 0.0,
            max_iter: 500,
            tolerance: 1e-9,
        }
    }
}

/// A fitted Gamma–Gamma model (lifetimes' names: `p`, `q`, `v`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaModel {
    /// Shape of each transaction's value.
    pub p: f64,
    /// Shape of the customers' spend-rate distribution.
    pub q: f64,
    /// Rate (scale in currency units) of the customers' spend-rate distribution (the paper's γ).
    pub v: f64,
    /// How the fit went.
    pub report: FitReport,
    /// Pearson correlation of frequency and average spend among repeat customers:
    /// the model assumes independence, so values far from 0 (|r| > 0.3, say) are a warning.
    pub spend_frequency_correlation: f64,
}

/// How customer lifetime value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClvParams {
    /// Horizon in periods of the summary.
    pub horizon: f64,
    /// Length of one discounting step in periods (e.g. 30 days, or 4.345 weeks for monthly steps).
    pub step: f64,
    /// Discount rate per step (e.g. 0.01 per month).
    pub discount_rate: f64,
    /// Share of spend that is margin (1 = value is revenue).
    pub margin: f64,
}

impl Default for ClvParams {
    /// Twelve monthly steps of 30 days at 1% per month, revenue as value (lifetimes' defaults, in days).
    fn default() -> Self {
        ClvParams {
            horizon: 360.0,
            step: 30.0,
            discount_rate: 0.01,
            margin: 1.0,
        }
    }
}

impl ClvParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a non-positive step or horizon, a discount rate ≤ −1 or a non-finite margin.
    pub fn check(&self) -> Result<()> {
        if !(self.step.is_finite() && self.step > 0.0) {
            return Err(Error::param("step", self.step, "must be finite and > 0"));
        }
        if !(self.horizon.is_finite() && self.horizon >= 0.0) {
            return Err(Error::param(
                "horizon",
                self.horizon,
                "must be finite and >= 0",
            ));
        }
        if !(self.discount_rate.is_finite() && self.discount_rate > -1.0) {
            return Err(Error::param(
                "discount_rate",
                self.discount_rate,
                "must be finite and > -1",
            ));
        }
        if !self.margin.is_finite() {
            return Err(Error::param("margin", self.margin, "must be finite"));
        }
        Ok(())
    }
}

fn ll_adapter(params: &[f64; 3], x: f64, m: f64, _unused: f64) -> (f64, [f64; 3]) {
    formulas::log_likelihood_gradient(params, x, m)
}

impl GammaGammaParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative penalizer, zero iterations or a non-positive tolerance.
    pub fn check(&self) -> Result<()> {
        check_fit_params(self.penalizer, self.max_iter, self.tolerance)?;
        Ok(())
    }

    /// Fits on the repeat customers (frequency ≥ 1, positive monetary value) of a summary.
    ///
    /// # Errors
    /// As [`GammaGammaParams::fit_values`].
    pub fn fit(&self, summary: &Summary) -> Result<GammaGammaModel> {
        self.fit_values(&summary.x, &summary.monetary_value)
    }

    /// Fits on parallel slices of frequency and average repeat spend; customers
    /// without repeats or with non-positive spend are skipped, as in lifetimes' usage.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`check`](Self::check); [`Error::LengthMismatch`]
    /// for slices of different lengths; [`Error::NonFinite`] for non-finite values; [`Error::NotIdentifiable`]
    /// with fewer than two distinct repeat customers; [`Error::NoConvergence`].
    pub fn fit_values(&self, frequency: &[f64], monetary_value: &[f64]) -> Result<GammaGammaModel> {
        self.check()?;
        if frequency.len() != monetary_value.len() {
            return Err(Error::lengths(
                "Gamma–Gamma: monetary values per frequency",
                frequency.len(),
                monetary_value.len(),
            ));
        }
        let mut points = Triples::default();
        let (mut xs, mut ms) = (Vec::new(), Vec::new());
        for (row, (&x, &m)) in frequency.iter().zip(monetary_value).enumerate() {
            if !x.is_finite() {
                return Err(Error::non_finite("Gamma–Gamma input", row, "frequency", x));
            }
            if !m.is_finite() {
                return Err(Error::non_finite(
                    "Gamma–Gamma input",
                    row,
                    "monetary_value",
                    m,
                ));
            }
            if x >= 1.0 && m > 0.0 {
                points.add(x, m, 0.0, 1.0);
                xs.push(x);
                ms.push(m);
            }
        }
        if points.len() < 2 {
            return Err(Error::NotIdentifiable {
                model: "Gamma-Gamma",
                reason: "needs at least two distinct repeat customers with positive spend".into(),
            });
        }
        let mean_m = ms.iter().sum::<f64>() / ms.len() as f64;
        let starts = [[1.0, 1.0, 1.0], [2.0, 3.0, mean_m.max(1e-3)]];
        let settings = Settings {
            max_iter: self.max_iter,
            gtol: self.tolerance,
            ..Settings::default()
        };
        let (theta, report) = fit(
            "Gamma-Gamma",
            &PerCustomer(ll_adapter),
            &points,
            self.penalizer,
            &starts,
            settings,
        )?;
        Ok(GammaGammaModel {
            p: theta[0],
            q: theta[1],
            v: theta[2],
            report,
            spend_frequency_correlation: formulas::spend_frequency_correlation(&xs, &ms),
        })
    }
}

impl GammaGammaModel {
    /// The parameters in lifetimes' order `[p, q, v]`.
    pub fn params(&self) -> [f64; 3] {
        [self.p, self.q, self.v]
    }

    /// Expected average spend per transaction of a customer with `x` repeat
    /// purchases of mean value `m` (the population mean for `x = 0`).
    pub fn expected_average_spend(&self, x: f64, m: f64) -> f64 {
        formulas::conditional_expected_average_profit(&self.params(), x, m)
    }

    /// Customer lifetime value: discounted expected margin over the horizon, from a
    /// transaction model's expected cumulative purchases `E[N(t)]` of this customer
    /// (as lifetimes' `customer_lifetime_value`:
    /// `margin · Σ_k spend · (E[N(k·step)] − E[N((k−1)·step)]) / (1 + d)^k`).
    pub fn clv(
        &self,
        expected_cumulative_purchases: impl Fn(f64) -> f64,
        x: f64,
        m: f64,
        clv: &ClvParams,
    ) -> f64 {
        let spend = self.expected_average_spend(x, m);
        clv.margin
            * formulas::customer_lifetime_value(
                expected_cumulative_purchases,
                spend,
                clv.horizon,
                clv.step,
                clv.discount_rate,
            )
    }
}
