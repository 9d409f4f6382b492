//! One type for a fitted propensity model of either kind, so a service can
//! persist whichever model won and score with it later.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::boost::{BoostParams, BoostedTrees};
use super::calibrate::{CalibrationMethod, Calibrator};
use super::logistic::LogisticModel;
use super::training::TrainingSet;
use crate::error::{Error, Result};

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

    /// Boosted trees on a training set's earlier cutoffs, calibrated by
    /// `method` on its last cutoff (out of time, as the model will be
    /// used): the usual way to a propensity whose scores read as
    /// probabilities next month. Columns constant over the set are left out
    /// (the model's feature names say which it scores).
    ///
    /// # Errors
    /// [`Error::TooFew`] for a set with a single cutoff; the fit's and the
    /// calibration's errors.
    pub fn fit_out_of_time(
        set: &TrainingSet,
        params: &BoostParams,
        method: CalibrationMethod,
    ) -> Result<Propensity> {
        if set.cutoffs.len() < 2 {
            return Err(Error::too_few(
                "cutoffs (earlier ones to train on, the last to calibrate on)",
                2,
                set.cutoffs.len(),
            ));
        }
        let mut set = set.clone();
        set.drop_constant_columns();
        let (train, calibrate) = set.out_of_time_split();
        let (xt, yt) = set.rows(&train);
        let (xc, yc) = set.rows(&calibrate);
        let labels = |y: &[f64]| y.iter().map(|&v| v > 0.0).collect::<Vec<bool>>();
        let model = BoostedTrees::fit(params, xt.view(), &labels(&yt), &set.feature_names)?;
        let calibrator = Calibrator::fit(method, &model.predict_proba(xc.view())?, &labels(&yc))?;
        Ok(Propensity {
            model: PropensityModel::BoostedTrees(model),
            calibrator: Some(calibrator),
        })
    }
}
