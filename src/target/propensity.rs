//! One type for a fitted propensity model of either kind, so a service can
//! persist whichever model won and score with it later.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::boost::BoostedTrees;
use super::calibrate::Calibrator;
use super::logistic::LogisticModel;
use crate::error::Result;

/// A fitted propensity model; serde as `{"logistic": …}` or `{"boosted_trees": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropensityModel {
    /// Penalised logistic regression.
    Logistic(LogisticModel),
    /// Gradient-boosted trees.
    BoostedTrees(BoostedTrees),
}

impl PropensityModel {
    /// The names of the features the model scores, in column order.
    pub fn feature_names(&self) -> &[String] {
        match self {
            PropensityModel::Logistic(m) => m.feature_names(),
            PropensityModel::BoostedTrees(m) => m.feature_names(),
        }
    }

    /// The probability of a positive outcome for each row of `x` (columns in
    /// [`feature_names`](Self::feature_names) order).
    ///
    /// # Errors
    /// As the model's own `predict_proba`: a wrong width, or a value the
    /// model cannot take (any non-finite value for logistic regression, an
    /// infinity for trees, which read NaN as missing).
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        match self {
            PropensityModel::Logistic(m) => m.predict_proba(x),
            PropensityModel::BoostedTrees(m) => m.predict_proba(x),
        }
    }
}

/// A propensity model with the calibration fitted on held-out rows, if any:
/// what a service persists to score with later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Propensity {
    /// The fitted model.
    pub model: PropensityModel,
    /// The map from its scores to calibrated probabilities.
    pub calibrator: Option<Calibrator>,
}

impl Propensity {
    /// The names of the features the model scores, in column order.
    pub fn feature_names(&self) -> &[String] {
        self.model.feature_names()
    }

    /// The (calibrated, when a calibrator is present) probability of a
    /// positive outcome for each row of `x`.
    ///
    /// # Errors
    /// As [`PropensityModel::predict_proba`].
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let p = self.model.predict_proba(x)?;
        Ok(match &self.calibrator {
            Some(c) => c.calibrate_all(&p),
            None => p,
        })
    }
}
