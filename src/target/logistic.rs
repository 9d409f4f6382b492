//! Purchase propensity by penalised logistic regression, on linfa-logistic.
//!
//! The model is P(buy | x) = σ(β₀ + βᵀz), with z the features standardised
//! to mean 0 and variance 1 (population variance, as scikit-learn's
//! `StandardScaler`) so that one penalty treats every feature alike. The
//! coefficients minimise
//!
//! ```text
//! Σᵢ −log σ(±(β₀ + βᵀzᵢ)) + (α / 2)·‖β‖²     (intercept not penalised)
//! ```
//!
//! which is scikit-learn's `LogisticRegression(C = 1/α)` after a
//! `StandardScaler`, solved by L-BFGS (linfa-logistic on argmin) to a tight
//! gradient tolerance. Its virtue is a readable model: each coefficient says
//! how much one standard deviation of a feature moves the log-odds.

use linfa::dataset::AsSingleTargets;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix2};
use serde::{Deserialize, Serialize};

use super::checks::{Missing, check_features, name_of, sigmoid};
use crate::error::{Error, Result};

/// Whether features are standardised before fitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureScaling {
    /// To mean 0, variance 1 (the penalty then weighs every feature alike).
    Standardise,
    /// As given.
    None,
}

/// Settings of [`LogisticModel::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogisticParams {
    /// α, the weight of the L2 penalty (scikit-learn's `C` is 1/α); 0 for none.
    pub l2_penalty: f64,
    /// Feature scaling before the fit.
    pub scaling: FeatureScaling,
    /// L-BFGS iterations at most.
    pub max_iterations: u64,
    /// Convergence: the gradient norm of the mean loss at most this.
    pub tolerance: f64,
}

impl Default for LogisticParams {
    /// α = 1 (scikit-learn's default C = 1), standardised, 1,000 iterations, tolerance 1e-9.
    fn default() -> Self {
        LogisticParams {
            l2_penalty: 1.0,
            scaling: FeatureScaling::Standardise,
            max_iterations: 1000,
            tolerance: 1e-9,
        }
    }
}

impl LogisticParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or non-finite penalty, no
    /// iterations, or a tolerance that is not positive and finite.
    pub fn check(&self) -> Result<()> {
        if !(self.l2_penalty.is_finite() && self.l2_penalty >= 0.0) {
            return Err(Error::param(
                "l2_penalty",
                self.l2_penalty,
                "must be finite and >= 0",
            ));
        }
        if self.max_iterations == 0 {
            return Err(Error::param("max_iterations", 0, "must be at least 1"));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(Error::param(
                "tolerance",
                self.tolerance,
                "must be finite and > 0",
            ));
        }
        Ok(())
    }
}

/// A fitted logistic propensity model; serde, so a service can fit once and score later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    feature_names: Vec<String>,
    /// Per feature: the mean subtracted and the scale divided by (0 and 1 when not standardised).
    means: Vec<f64>,
    scales: Vec<f64>,
    /// Coefficients of the scaled features.
    coefficients: Vec<f64>,
    intercept: f64,
}

impl LogisticModel {
    /// Fits the model to features `x` (one row per customer, columns named by
    /// `feature_names`) and outcomes `labels`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`LogisticParams::check`];
    /// [`Error::LengthMismatch`] when labels, rows or names do not line up;
    /// [`Error::NonFinite`] naming the row and feature of a NaN or infinity;
    /// [`Error::TooFew`] when a class is missing; [`Error::NotIdentifiable`]
    /// naming a constant feature; [`Error::NoConvergence`] when L-BFGS stops
    /// short of the tolerance.
    pub fn fit(
        params: &LogisticParams,
        x: ArrayView2<'_, f64>,
        labels: &[bool],
        feature_names: &[String],
    ) -> Result<LogisticModel> {
        params.check()?;
        check_features(&x, feature_names, "feature matrix", Missing::Refused)?;
        if labels.len() != x.nrows() {
            return Err(Error::lengths("labels per row", x.nrows(), labels.len()));
        }
        let positives = labels.iter().filter(|&&y| y).count();
        if positives == 0 {
            return Err(Error::too_few("rows with a positive label", 1, 0));
        }
        if positives == labels.len() {
            return Err(Error::too_few("rows with a negative label", 1, 0));
        }
        let n = x.nrows() as f64;
        let mut means = vec![0.0; x.ncols()];
        let mut scales = vec![1.0; x.ncols()];
        for (j, column) in x.columns().into_iter().enumerate() {
            let mean = column.sum() / n;
            let variance = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            if column.iter().all(|&v| v == column[0]) {
                return Err(Error::NotIdentifiable {
                    model: "logistic regression",
                    reason: format!(
                        "feature `{}` is constant ({}), so it carries no information",
                        name_of(feature_names, j),
                        column[0]
                    ),
                });
            }
            if params.scaling == FeatureScaling::Standardise {
                means[j] = mean;
                scales[j] = variance.sqrt();
            }
        }
        let z = scale(&x, &means, &scales);
        let targets = Array1::from_iter(labels.iter().copied());
        let data = Dataset::new(z, targets);
        // linfa's loss is a sum over rows; the tolerance is for the mean.
        let fitted = LogisticRegression::default()
            .alpha(params.l2_penalty)
            .max_iterations(params.max_iterations)
            .gradient_tolerance(params.tolerance * n)
            .fit(&data)
            .map_err(|e| Error::NotIdentifiable {
                model: "logistic regression",
                reason: e.to_string(),
            })?;
        // linfa's positive class is whichever label comes first in the data.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let model = LogisticModel {
            feature_names: feature_names.to_vec(),
            means,
            scales,
            coefficients: fitted.params().iter().map(|b| sign * b).collect(),
            intercept: sign * fitted.intercept(),
        };
        let gradient_norm = model.mean_gradient_norm(data.records(), labels, params.l2_penalty);
        // L-BFGS also stops when the loss stops falling; accept rounding-level gradients then.
        if gradient_norm.is_nan() || gradient_norm > params.tolerance.max(1e-7) {
            return Err(Error::NoConvergence {
                model: "logistic regression",
                iterations: params.max_iterations as usize,
                gradient_norm,
            });
        }
        Ok(model)
    }

    /// Norm of the gradient of the mean penalised loss at the fitted coefficients.
    fn mean_gradient_norm(&self, z: &Array2<f64>, labels: &[bool], alpha: f64) -> f64 {
        let n = z.nrows() as f64;
        let mut grad = vec![0.0; self.coefficients.len() + 1];
        for (row, &y) in z.rows().into_iter().zip(labels) {
            let eta = self.intercept
                + row
                    .iter()
                    .zip(&self.coefficients)
                    .map(|(v, b)| v * b)
                    .sum::<f64>();
            let residual = sigmoid(eta) - f64::from(u8::from(y));
            for (g, v) in grad.iter_mut().zip(row.iter()) {
                *g += residual * v;
            }
            if let Some(g) = grad.last_mut() {
                *g += residual;
            }
        }
        for (g, b) in grad.iter_mut().zip(&self.coefficients) {
            *g += alpha * b;
        }
        grad.iter().map(|g| (g / n).powi(2)).sum::<f64>().sqrt()
    }

    /// The names of the features, in column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Coefficients on the scaled features (per standard deviation when standardised).
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }

    /// Intercept on the scaled features.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// Coefficients per unit of each feature as given, and the matching intercept.
    pub fn coefficients_per_unit(&self) -> (Vec<f64>, f64) {
        let per_unit: Vec<f64> = self
            .coefficients
            .iter()
            .zip(&self.scales)
            .map(|(b, s)| b / s)
            .collect();
        let shift: f64 = per_unit.iter().zip(&self.means).map(|(b, m)| b * m).sum();
        (per_unit, self.intercept - shift)
    }

    /// The probability of a positive outcome for each row of `x`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `x` has another number of features;
    /// [`Error::NonFinite`] naming the row and feature of a NaN or infinity.
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        check_features(
            &x,
            &self.feature_names,
            "features to score",
            Missing::Refused,
        )?;
        Ok(x.rows()
            .into_iter()
            .map(|row| {
                let eta = row
                    .iter()
                    .zip(&self.means)
                    .zip(&self.scales)
                    .zip(&self.coefficients)
                    .map(|(((v, m), s), b)| (v - m) / s * b)
                    .sum::<f64>();
                sigmoid(self.intercept + eta)
            })
            .collect())
    }
}

/// `(x − mean) / scale`, column by column.
fn scale(x: &ArrayView2<'_, f64>, means: &[f64], scales: &[f64]) -> Array2<f64> {
    let mut z = x.to_owned();
    for (j, mut column) in z.columns_mut().into_iter().enumerate() {
        let (m, s) = (means[j], scales[j]);
        column.mapv_inplace(|v| (v - m) / s);
    }
    z
}

/// linfa's `Fit`: the records are the features (named `column j`), the targets the outcomes.
impl<D: Data<Elem = f64>, T: AsSingleTargets<Elem = bool>> Fit<ArrayBase<D, Ix2>, T, Error>
    for LogisticParams
{
    type Object = LogisticModel;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<LogisticModel> {
        let x = dataset.records().view();
        let labels: Vec<bool> = dataset.targets().as_single_targets().to_vec();
        let names: Vec<String> = (0..x.ncols()).map(|j| format!("column {j}")).collect();
        LogisticModel::fit(self, x, &labels, &names)
    }
}

/// linfa's `Predict`: the probability of a positive outcome. A matrix that
/// cannot be scored (wrong width, non-finite) gives NaN; use
/// [`LogisticModel::predict_proba`] for a typed error instead.
impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for LogisticModel {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        match self.predict_proba(x.view()) {
            Ok(p) if p.len() == y.len() => y.assign(&Array1::from(p)),
            _ => y.fill(f64::NAN),
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}
