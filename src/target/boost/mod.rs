//! Purchase propensity by gradient-boosted trees on binned features.
//!
//! Boosting adds small regression trees one after another, each fitted to the
//! gradient of the log-loss of the trees before it (Friedman 2001): with
//! score F and p = σ(F), a row's gradient is p − y and its Hessian p(1 − p);
//! a leaf's output is −ΣG / (ΣH + λ) times the learning rate, and a split's
//! gain is G_L²/(H_L + λ) + G_R²/(H_R + λ) − G²/(H + λ). The first score is
//! the log-odds of the base rate. Trees find interactions and thresholds a
//! linear model cannot (recency matters only for customers with few orders,
//! say), which is why they lead on tabular marketing data.
//!
//! This is LightGBM's method (Ke et al., NeurIPS 2017) with its defaults:
//! features cut into at most 255 bins, histograms with the
//! subtraction trick, trees grown level by level to `max_depth` (LightGBM
//! with `num_leaves = 2^max_depth` grows the same trees), at least 20 rows
//! and 10⁻³ Hessian per leaf, λ = 0. Missing values (NaN) are a bin of their
//! own and each split learns which side they go to; a split on a feature
//! without missing training rows sends them to the side with more weight.
//! Optional monotone constraints per feature bound the children's outputs
//! at the midpoint of a constrained split (LightGBM's `basic` method).
//! Early stopping watches the log-loss on validation rows and keeps the
//! trees up to the best round. Feature importance is the total gain of each
//! feature's splits (LightGBM's `importance_type = "gain"`).
//!
//! No pure-Rust boosting crate is both maintained and controllable by trees,
//! depth and learning rate, so the trees are grown here; the README says
//! which crates were measured and why.

mod bins;
mod grow;
mod params;
mod tree;

use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use self::bins::{BIN_SAMPLE, BinnedColumns, FeatureBins};
use self::grow::{Grower, TreeSettings};
pub use self::params::{BoostParams, EarlyStopping, Monotone, Objective};
use self::tree::Tree;
use super::checks::{Missing, check_features, name_of, sigmoid};
use crate::error::{Error, Result};

/// What a fit does about a column that holds one value in every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConstantColumns {
    /// Refuse it, naming it: the caller gave a feature that cannot help.
    Refuse,
    /// Never split on it: a subset of rows (one arm of an experiment) may
    /// hold one value of a feature that varies across the whole.
    Tolerate,
}

/// A fitted boosted model; serde, so a service can fit once and score later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostedTrees {
    objective: Objective,
    feature_names: Vec<String>,
    /// The starting score: the log-odds of the base rate, or the mean outcome.
    base_score: f64,
    trees: Vec<Tree>,
    /// Total split gain per feature.
    importance: Vec<f64>,
    /// Validation loss after each round (empty without validation rows).
    validation_loss: Vec<f64>,
}

/// Checks training labels: as many as rows, both classes.
fn check_labels(rows: usize, labels: &[bool]) -> Result<()> {
    if labels.len() != rows {
        return Err(Error::lengths("labels per row", rows, labels.len()));
    }
    let positives = labels.iter().filter(|&&y| y).count();
    if positives == 0 {
        return Err(Error::too_few("rows with a positive label", 1, 0));
    }
    if positives == labels.len() {
        return Err(Error::too_few("rows with a negative label", 1, 0));
    }
    Ok(())
}

/// Mean loss of scores against targets: log-loss of log-odds against 0/1, or squared error.
fn mean_loss(objective: Objective, scores: &[f64], targets: &[f64]) -> f64 {
    let total: f64 = scores
        .iter()
        .zip(targets)
        .map(|(&f, &y)| match objective {
            // −log σ(±f) = softplus(∓f).
            Objective::LogLoss => {
                let z = if y > 0.5 { -f } else { f };
                if z > 0.0 {
                    z + (-z).exp().ln_1p()
                } else {
                    z.exp().ln_1p()
                }
            }
            Objective::SquaredError => (f - y) * (f - y),
        })
        .sum();
    total / scores.len() as f64
}

/// The gradient and Hessian of every row's loss at its score.
fn gradients(objective: Objective, scores: &[f64], targets: &[f64], g: &mut [f64], h: &mut [f64]) {
    let one = |((gi, hi), (&f, &y)): ((&mut f64, &mut f64), (&f64, &f64))| match objective {
        Objective::LogLoss => {
            let p = sigmoid(f);
            *gi = p - y;
            *hi = p * (1.0 - p);
        }
        Objective::SquaredError => {
            *gi = f - y;
            *hi = 1.0;
        }
    };
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        g.par_iter_mut()
            .zip(h.par_iter_mut())
            .zip(scores.par_iter().zip(targets.par_iter()))
            .with_min_len(1 << 14)
            .for_each(one);
    }
    #[cfg(not(feature = "parallel"))]
    g.iter_mut()
        .zip(h.iter_mut())
        .zip(scores.iter().zip(targets))
        .for_each(one);
}

/// 0/1 targets of labels.
fn targets_of(labels: &[bool]) -> Vec<f64> {
    labels.iter().map(|&y| f64::from(u8::from(y))).collect()
}

/// Some rows' features and targets.
type Rows = (Array2<f64>, Vec<f64>);

/// Rows split into training and validation rows (a seeded `share` held out), each in row order.
fn split_rows(x: ArrayView2<'_, f64>, targets: &[f64], share: f64, seed: u64) -> (Rows, Rows) {
    let mut rows: Vec<usize> = (0..x.nrows()).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let held = ((x.nrows() as f64 * share).round() as usize).clamp(1, x.nrows().max(2) - 1);
    let (valid_rows, train_rows) = rows.split_at(held.min(rows.len()));
    let pick = |rows: &[usize]| {
        let mut rows = rows.to_vec();
        rows.sort_unstable();
        (
            x.select(Axis(0), &rows),
            rows.iter().map(|&i| targets[i]).collect::<Vec<f64>>(),
        )
    };
    (pick(train_rows), pick(valid_rows))
}

/// `work(i)` for every row, on the pool with the `parallel` feature.
fn per_row<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        (0..n)
            .into_par_iter()
            .with_min_len(4096)
            .map(work)
            .collect()
    }
    #[cfg(not(feature = "parallel"))]
    (0..n).map(work).collect()
}

impl BoostedTrees {
    /// Fits a propensity model to features `x` (rows × features, NaN for
    /// missing) and outcomes `labels`; with early stopping, a seeded share
    /// of the rows is held out to watch.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`BoostParams::check`] or a monotone
    /// list of the wrong length; [`Error::LengthMismatch`] when labels, rows
    /// or names do not line up; [`Error::NonFinite`] naming the row and
    /// feature of an infinity; [`Error::TooFew`] when a class is missing
    /// (also among the training rows of a split); [`Error::NotIdentifiable`]
    /// naming a constant feature.
    pub fn fit(
        params: &BoostParams,
        x: ArrayView2<'_, f64>,
        labels: &[bool],
        feature_names: &[String],
    ) -> Result<BoostedTrees> {
        Self::fit_classifier(params, x, labels, feature_names, ConstantColumns::Refuse)
    }

    /// [`fit`](Self::fit), with what to do about a constant column.
    pub(crate) fn fit_classifier(
        params: &BoostParams,
        x: ArrayView2<'_, f64>,
        labels: &[bool],
        feature_names: &[String],
        constant: ConstantColumns,
    ) -> Result<BoostedTrees> {
        params.check()?;
        check_features(&x, feature_names, "feature matrix", Missing::Allowed)?;
        check_labels(x.nrows(), labels)?;
        let targets = targets_of(labels);
        let objective = (Objective::LogLoss, constant);
        let Some(stopping) = params.early_stopping else {
            return Self::fit_checked(params, objective, x, &targets, None, feature_names);
        };
        let ((xt, yt), (xv, yv)) = split_rows(x, &targets, stopping.validation_share, params.seed);
        let train_labels: Vec<bool> = yt.iter().map(|&y| y > 0.5).collect();
        check_labels(xt.nrows(), &train_labels)?;
        Self::fit_checked(
            params,
            objective,
            xt.view(),
            &yt,
            Some((xv.view(), &yv)),
            feature_names,
        )
    }

    /// Fits a model of a numeric outcome `y` (squared error), e.g. revenue or
    /// an imputed treatment effect; early stopping as in [`fit`](Self::fit).
    ///
    /// # Errors
    /// As [`fit`](Self::fit), with [`Error::NonFinite`] for a NaN or
    /// infinite outcome and [`Error::TooFew`] for fewer than two rows.
    pub fn fit_regression(
        params: &BoostParams,
        x: ArrayView2<'_, f64>,
        y: &[f64],
        feature_names: &[String],
    ) -> Result<BoostedTrees> {
        Self::fit_regressor(params, x, y, feature_names, ConstantColumns::Refuse)
    }

    /// [`fit_regression`](Self::fit_regression), with what to do about a constant column.
    pub(crate) fn fit_regressor(
        params: &BoostParams,
        x: ArrayView2<'_, f64>,
        y: &[f64],
        feature_names: &[String],
        constant: ConstantColumns,
    ) -> Result<BoostedTrees> {
        params.check()?;
        check_features(&x, feature_names, "feature matrix", Missing::Allowed)?;
        if y.len() != x.nrows() {
            return Err(Error::lengths("outcomes per row", x.nrows(), y.len()));
        }
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(Error::non_finite("outcomes", row, "outcome", y[row]));
        }
        if y.len() < 2 {
            return Err(Error::too_few("rows to fit", 2, y.len()));
        }
        let objective = (Objective::SquaredError, constant);
        let Some(stopping) = params.early_stopping else {
            return Self::fit_checked(params, objective, x, y, None, feature_names);
        };
        let ((xt, yt), (xv, yv)) = split_rows(x, y, stopping.validation_share, params.seed);
        Self::fit_checked(
            params,
            objective,
            xt.view(),
            &yt,
            Some((xv.view(), &yv)),
            feature_names,
        )
    }

    /// Fits to `x`, `labels` with early stopping watched on the given
    /// validation rows (when [`BoostParams::early_stopping`] is set; its
    /// share is then unused).
    ///
    /// # Errors
    /// As [`fit`](Self::fit), for both sets of rows.
    pub fn fit_with_validation(
        params: &BoostParams,
        x: ArrayView2<'_, f64>,
        labels: &[bool],
        validation: (ArrayView2<'_, f64>, &[bool]),
        feature_names: &[String],
    ) -> Result<BoostedTrees> {
        params.check()?;
        check_features(&x, feature_names, "feature matrix", Missing::Allowed)?;
        check_features(
            &validation.0,
            feature_names,
            "validation features",
            Missing::Allowed,
        )?;
        check_labels(x.nrows(), labels)?;
        if validation.1.len() != validation.0.nrows() {
            return Err(Error::lengths(
                "validation labels per row",
                validation.0.nrows(),
                validation.1.len(),
            ));
        }
        let valid_targets = targets_of(validation.1);
        Self::fit_checked(
            params,
            (Objective::LogLoss, ConstantColumns::Refuse),
            x,
            &targets_of(labels),
            Some((validation.0, &valid_targets)),
            feature_names,
        )
    }

    fn fit_checked(
        params: &BoostParams,
        (objective, constant): (Objective, ConstantColumns),
        x: ArrayView2<'_, f64>,
        targets: &[f64],
        validation: Option<(ArrayView2<'_, f64>, &[f64])>,
        feature_names: &[String],
    ) -> Result<BoostedTrees> {
        let (n, features) = x.dim();
        let monotone: Vec<i8> = match params.monotone.len() {
            0 => vec![0; features],
            m if m == features => params
                .monotone
                .iter()
                .map(|c| match c {
                    Monotone::Free => 0,
                    Monotone::Increasing => 1,
                    Monotone::Decreasing => -1,
                })
                .collect(),
            m => {
                return Err(Error::param(
                    "monotone",
                    m,
                    format!("must be empty or one per feature ({features})"),
                ));
            }
        };
        // Bin edges from a strided sample of the rows.
        let stride = n.div_ceil(BIN_SAMPLE).max(1);
        let fit_bins = |j: usize| {
            let column = x.column(j);
            FeatureBins::fit(column.iter().step_by(stride).copied(), params.max_bins)
        };
        #[cfg(feature = "parallel")]
        let bins: Vec<FeatureBins> = {
            use rayon::prelude::*;
            (0..features).into_par_iter().map(fit_bins).collect()
        };
        #[cfg(not(feature = "parallel"))]
        let bins: Vec<FeatureBins> = (0..features).map(fit_bins).collect();
        for (j, b) in bins.iter().enumerate() {
            // One value and no missing one (or only missing ones): nothing to split on.
            let column = x.column(j);
            let missing = column.iter().filter(|v| v.is_nan()).count();
            let single = b.thresholds.is_empty() && (missing == 0 || missing == n);
            if single && constant == ConstantColumns::Refuse {
                return Err(Error::NotIdentifiable {
                    model: "gradient boosting",
                    reason: format!(
                        "feature `{}` holds a single value in every row, so it carries no information",
                        name_of(feature_names, j)
                    ),
                });
            }
        }
        let binned = BinnedColumns::new(n, &bins, |i, j| x[[i, j]]);
        let valid_binned = validation
            .map(|(xv, yv)| (BinnedColumns::new(xv.nrows(), &bins, |i, j| xv[[i, j]]), yv));

        let mean = targets.iter().sum::<f64>() / n as f64;
        let base_score = match objective {
            Objective::LogLoss => (mean / (1.0 - mean)).ln(),
            Objective::SquaredError => mean,
        };
        let settings = TreeSettings {
            max_depth: params.max_depth,
            min_rows_in_leaf: params.min_rows_in_leaf,
            min_hessian_in_leaf: params.min_hessian_in_leaf,
            l2: params.l2,
            min_gain: params.min_gain,
            learning_rate: params.learning_rate,
            monotone,
        };
        let mut grower = Grower::new(&binned, &bins, &settings);
        let mut scores = vec![base_score; n];
        let mut valid_scores = valid_binned
            .as_ref()
            .map(|(vb, _)| vec![base_score; vb.rows()]);
        let mut trees = Vec::with_capacity(params.trees);
        let mut importance = vec![0.0; features];
        let mut validation_loss = Vec::new();
        let (mut best_loss, mut best_round) = (f64::INFINITY, 0usize);
        let missing: Vec<u8> = bins.iter().map(FeatureBins::missing_bin).collect();
        let (mut g, mut h) = (vec![0.0; n], vec![0.0; n]);
        for round in 0..params.trees {
            gradients(objective, &scores, targets, &mut g, &mut h);
            let grown = grower.grow(&g, &h);
            let rows = grower.rows();
            for &(start, end, value) in &grown.leaves {
                for &i in &rows[start..end] {
                    scores[i as usize] += value;
                }
            }
            for &(j, gain) in &grown.gains {
                importance[j] += gain;
            }
            if let (Some((vb, yv)), Some(vs)) = (&valid_binned, valid_scores.as_mut()) {
                let tree = &grown.tree;
                let add = per_row(vs.len(), |i| {
                    tree.predict_binned(|j| vb.columns[j][i], |j| missing[j])
                });
                for (s, a) in vs.iter_mut().zip(add) {
                    *s += a;
                }
                let loss = mean_loss(objective, vs, yv);
                validation_loss.push(loss);
                if loss < best_loss {
                    (best_loss, best_round) = (loss, round);
                }
            }
            trees.push(grown.tree);
            if let Some(e) = params.early_stopping {
                if !validation_loss.is_empty() && round - best_round >= e.rounds {
                    trees.truncate(best_round + 1);
                    break;
                }
            }
        }
        Ok(BoostedTrees {
            objective,
            feature_names: feature_names.to_vec(),
            base_score,
            trees,
            importance,
            validation_loss,
        })
    }

    /// The names of the features, in column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Trees kept (the best round's count after early stopping).
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Leaves per tree.
    pub fn leaves_per_tree(&self) -> Vec<usize> {
        self.trees.iter().map(Tree::leaves).collect()
    }

    /// Total split gain of each feature, in column order (LightGBM's gain importance).
    pub fn importance_gain(&self) -> &[f64] {
        &self.importance
    }

    /// Validation loss (log-loss or mean squared error) after each round
    /// grown (empty without validation rows).
    pub fn validation_loss(&self) -> &[f64] {
        &self.validation_loss
    }

    /// What the model was fitted to.
    pub fn objective(&self) -> Objective {
        self.objective
    }

    /// The raw score of each row of `x`: the log-odds for a 0/1 outcome, the
    /// predicted value for a numeric one.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `x` has another number of features;
    /// [`Error::NonFinite`] naming the row and feature of an infinity.
    pub fn predict_log_odds(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        check_features(
            &x,
            &self.feature_names,
            "features to score",
            Missing::Allowed,
        )?;
        Ok(per_row(x.nrows(), |i| {
            let row = x.row(i);
            self.base_score
                + self
                    .trees
                    .iter()
                    .map(|t| t.predict(|j| row[j]))
                    .sum::<f64>()
        }))
    }

    /// The predicted outcome of each row of `x`: the probability of a
    /// positive outcome, or the value of a numeric one.
    ///
    /// # Errors
    /// As [`predict_log_odds`](Self::predict_log_odds).
    pub fn predict_outcome(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        match self.objective {
            Objective::LogLoss => self.predict_proba(x),
            Objective::SquaredError => self.predict_log_odds(x),
        }
    }

    /// The probability of a positive outcome for each row of `x` (σ of the
    /// raw score; meaningful for a model of a 0/1 outcome).
    ///
    /// # Errors
    /// As [`predict_log_odds`](Self::predict_log_odds).
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        Ok(self.predict_log_odds(x)?.into_iter().map(sigmoid).collect())
    }
}
