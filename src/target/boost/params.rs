//! Settings of the boosted trees: what they fit, their size and their limits.

use serde::{Deserialize, Serialize};

use super::grow::STRIDE;
use crate::error::{Error, Result};

/// The direction a feature may move the score in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Monotone {
    /// Any shape.
    #[default]
    Free,
    /// A larger value never lowers the score.
    Increasing,
    /// A larger value never raises the score.
    Decreasing,
}

/// What the trees are fitted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// A 0/1 outcome: log-loss on the log-odds (gradient p − y, Hessian p(1 − p)).
    #[default]
    LogLoss,
    /// A number (revenue, an effect): squared error (gradient F − y, Hessian 1).
    SquaredError,
}

/// Early stopping on validation rows held out from the training rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Stop after this many rounds without a lower validation log-loss.
    pub rounds: usize,
    /// Share of the rows held out for validation (drawn with [`BoostParams::seed`]).
    pub validation_share: f64,
}

/// Settings of [`BoostedTrees::fit`](super::BoostedTrees::fit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BoostParams {
    /// Trees (boosting rounds) at most.
    pub trees: usize,
    /// Depth of each tree (a tree has at most 2^depth leaves).
    pub max_depth: usize,
    /// Shrinkage of each tree's output.
    pub learning_rate: f64,
    /// Value bins per feature, 2 to 255.
    pub max_bins: usize,
    /// Rows in a leaf at least.
    pub min_rows_in_leaf: usize,
    /// Sum of Hessians in a leaf at least.
    pub min_hessian_in_leaf: f64,
    /// λ, the L2 penalty on leaf outputs.
    pub l2: f64,
    /// Gain a split needs at least.
    pub min_gain: f64,
    /// Per feature (in column order), or empty for none.
    pub monotone: Vec<Monotone>,
    /// Early stopping, or none (all `trees` are grown).
    pub early_stopping: Option<EarlyStopping>,
    /// Seed of the validation split.
    pub seed: u64,
}

impl Default for BoostParams {
    /// 100 trees of depth 6, learning rate 0.1, 255 bins, 20 rows and 10⁻³
    /// Hessian per leaf, λ = 0, no constraints, no early stopping, seed 0.
    fn default() -> Self {
        BoostParams {
            trees: 100,
            max_depth: 6,
            learning_rate: 0.1,
            max_bins: 255,
            min_rows_in_leaf: 20,
            min_hessian_in_leaf: 1e-3,
            l2: 0.0,
            min_gain: 0.0,
            monotone: Vec::new(),
            early_stopping: None,
            seed: 0,
        }
    }
}

impl BoostParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first setting out of range.
    pub fn check(&self) -> Result<()> {
        if self.trees == 0 {
            return Err(Error::param("trees", 0, "must be at least 1"));
        }
        if !(1..=16).contains(&self.max_depth) {
            return Err(Error::param("max_depth", self.max_depth, "must be 1 to 16"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::param(
                "learning_rate",
                self.learning_rate,
                "must be finite and > 0",
            ));
        }
        if !(2..STRIDE).contains(&self.max_bins) {
            return Err(Error::param("max_bins", self.max_bins, "must be 2 to 255"));
        }
        if self.min_rows_in_leaf == 0 {
            return Err(Error::param("min_rows_in_leaf", 0, "must be at least 1"));
        }
        for (name, v) in [
            ("min_hessian_in_leaf", self.min_hessian_in_leaf),
            ("l2", self.l2),
            ("min_gain", self.min_gain),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(name, v, "must be finite and >= 0"));
            }
        }
        if let Some(e) = self.early_stopping {
            if e.rounds == 0 {
                return Err(Error::param(
                    "early_stopping.rounds",
                    0,
                    "must be at least 1",
                ));
            }
            if !(e.validation_share > 0.0 && e.validation_share < 1.0) {
                return Err(Error::param(
                    "early_stopping.validation_share",
                    e.validation_share,
                    "must lie strictly between 0 and 1",
                ));
            }
        }
        Ok(())
    }
}
