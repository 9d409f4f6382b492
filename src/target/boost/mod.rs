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
//! features cut into at most 255 bins ([`bins`]), histograms with the
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
mod tree;

use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use self::bins::{BIN_SAMPLE, BinnedColumns, FeatureBins};
use self::grow::{Grower, STRIDE, TreeSettings};
use self::tree::Tree;
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

/// Early stopping on validation rows held out from the training rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Stop after this many rounds without a lower validation log-loss.
    pub rounds: usize,
    /// Share of the rows held out for validation (drawn with [`BoostParams::seed`]).
    pub validation_share: f64,
}

/// Settings of [`BoostedTrees::fit`].
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

/// A fitted boosted model; serde, so a service can fit once and score later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostedTrees {
    feature_names: Vec<String>,
    /// The starting log-odds.
    base_score: f64,
    trees: Vec<Tree>,
    /// Total split gain per feature.
    importance: Vec<f64>,
    /// Validation log-loss after each round (empty without validation rows).
    validation_log_loss: Vec<f64>,
}

/// The name of feature `j` for messages.
fn name_of(names: &[String], j: usize) -> String {
    names
        .get(j)
        .cloned()
        .unwrap_or_else(|| format!("column {j}"))
}

/// Checks features for boosting: width, no infinities (NaN is a missing value).
fn check_features(x: &ArrayView2<'_, f64>, names: &[String], what: &str) -> Result<()> {
    if x.ncols() != names.len() {
        return Err(Error::lengths(
            format!("{what}: feature columns"),
            names.len(),
            x.ncols(),
        ));
    }
    for (row, values) in x.rows().into_iter().enumerate() {
        if let Some(j) = values.iter().position(|v| v.is_infinite()) {
            return Err(Error::non_finite(what, row, name_of(names, j), values[j]));
        }
    }
    Ok(())
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

/// σ(t) without overflow.
fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// Mean log-loss of scores (log-odds) against labels.
fn mean_log_loss(scores: &[f64], labels: &[bool]) -> f64 {
    let total: f64 = scores
        .iter()
        .zip(labels)
        .map(|(&f, &y)| {
            // −log σ(±f) = softplus(∓f).
            let z = if y { -f } else { f };
            if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            }
        })
        .sum();
    total / scores.len() as f64
}

/// The log-loss gradient p − y and Hessian p(1 − p) of every row, p = σ(score).
fn log_loss_gradients(scores: &[f64], labels: &[bool], g: &mut [f64], h: &mut [f64]) {
    let one = |((gi, hi), (&f, &y)): ((&mut f64, &mut f64), (&f64, &bool))| {
        let p = sigmoid(f);
        *gi = p - f64::from(u8::from(y));
        *hi = p * (1.0 - p);
    };
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        g.par_iter_mut()
            .zip(h.par_iter_mut())
            .zip(scores.par_iter().zip(labels.par_iter()))
            .with_min_len(1 << 14)
            .for_each(one);
    }
    #[cfg(not(feature = "parallel"))]
    g.iter_mut()
        .zip(h.iter_mut())
        .zip(scores.iter().zip(labels))
        .for_each(one);
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
    /// Fits the model to features `x` (rows × features, NaN for missing) and
    /// outcomes `labels`; with early stopping, a seeded share of the rows is
    /// held out to watch.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`BoostParams::check`] or a monotone
    /// list of the wrong length; [`Error::LengthMismatch`] when labels, rows
    /// or names do not line up; [`Error::NonFinite`] naming the row and
    /// feature of an infinity; [`Error::TooFew`] when a class is missing
    /// (also among the training or validation rows of a split);
    /// [`Error::NotIdentifiable`] naming a constant feature.
    pub fn fit(
        params: &BoostParams,
        x: ArrayView2<'_, f64>,
        labels: &[bool],
        feature_names: &[String],
    ) -> Result<BoostedTrees> {
        params.check()?;
        check_features(&x, feature_names, "feature matrix")?;
        check_labels(x.nrows(), labels)?;
        let Some(stopping) = params.early_stopping else {
            return Self::fit_checked(params, x, labels, None, feature_names);
        };
        let mut rows: Vec<usize> = (0..x.nrows()).collect();
        rows.shuffle(&mut ChaCha8Rng::seed_from_u64(params.seed));
        let held = ((x.nrows() as f64 * stopping.validation_share).round() as usize)
            .clamp(1, x.nrows() - 1);
        let (valid_rows, train_rows) = rows.split_at(held);
        let (mut train_rows, mut valid_rows) = (train_rows.to_vec(), valid_rows.to_vec());
        train_rows.sort_unstable();
        valid_rows.sort_unstable();
        let pick = |rows: &[usize]| -> (Array2<f64>, Vec<bool>) {
            (
                x.select(Axis(0), rows),
                rows.iter().map(|&i| labels[i]).collect(),
            )
        };
        let (xt, yt) = pick(&train_rows);
        let (xv, yv) = pick(&valid_rows);
        check_labels(xt.nrows(), &yt)?;
        Self::fit_checked(
            params,
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
        check_features(&x, feature_names, "feature matrix")?;
        check_features(&validation.0, feature_names, "validation features")?;
        check_labels(x.nrows(), labels)?;
        if validation.1.len() != validation.0.nrows() {
            return Err(Error::lengths(
                "validation labels per row",
                validation.0.nrows(),
                validation.1.len(),
            ));
        }
        Self::fit_checked(params, x, labels, Some(validation), feature_names)
    }

    fn fit_checked(
        params: &BoostParams,
        x: ArrayView2<'_, f64>,
        labels: &[bool],
        validation: Option<(ArrayView2<'_, f64>, &[bool])>,
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
            if b.thresholds.is_empty() {
                return Err(Error::NotIdentifiable {
                    model: "gradient boosting",
                    reason: format!(
                        "feature `{}` has a single value (or none) in the sampled rows, so it carries no information",
                        name_of(feature_names, j)
                    ),
                });
            }
        }
        let binned = BinnedColumns::new(n, &bins, |i, j| x[[i, j]]);
        let valid_binned = validation
            .map(|(xv, yv)| (BinnedColumns::new(xv.nrows(), &bins, |i, j| xv[[i, j]]), yv));

        let positives = labels.iter().filter(|&&y| y).count() as f64;
        let rate = positives / n as f64;
        let base_score = (rate / (1.0 - rate)).ln();
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
        let mut validation_log_loss = Vec::new();
        let (mut best_loss, mut best_round) = (f64::INFINITY, 0usize);
        let missing: Vec<u8> = bins.iter().map(FeatureBins::missing_bin).collect();
        let (mut g, mut h) = (vec![0.0; n], vec![0.0; n]);
        for round in 0..params.trees {
            log_loss_gradients(&scores, labels, &mut g, &mut h);
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
                let loss = mean_log_loss(vs, yv);
                validation_log_loss.push(loss);
                if loss < best_loss {
                    (best_loss, best_round) = (loss, round);
                }
            }
            trees.push(grown.tree);
            if let Some(e) = params.early_stopping {
                if !validation_log_loss.is_empty() && round - best_round >= e.rounds {
                    trees.truncate(best_round + 1);
                    break;
                }
            }
        }
        Ok(BoostedTrees {
            feature_names: feature_names.to_vec(),
            base_score,
            trees,
            importance,
            validation_log_loss,
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

    /// Validation log-loss after each round grown (empty without validation rows).
    pub fn validation_log_loss(&self) -> &[f64] {
        &self.validation_log_loss
    }

    /// The log-odds of each row of `x`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `x` has another number of features;
    /// [`Error::NonFinite`] naming the row and feature of an infinity.
    pub fn predict_log_odds(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        check_features(&x, &self.feature_names, "features to score")?;
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

    /// The probability of a positive outcome for each row of `x`.
    ///
    /// # Errors
    /// As [`predict_log_odds`](Self::predict_log_odds).
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        Ok(self.predict_log_odds(x)?.into_iter().map(sigmoid).collect())
    }
}
