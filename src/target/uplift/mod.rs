//! Whom an action changes: uplift models on experiment data.
//!
//! A customer who buys anyway and one who never will are both wasted
//! contacts; only the persuadable pay. An experiment per segment says what
//! wins on average in a group; an uplift model says it per customer, from
//! the same experiment rows (features, the arm each unit was randomised to,
//! the outcome): τ(x) = E[Y | x, treated] − E[Y | x, control], for each
//! treatment against the control. Three meta-learners (Künzel et al., PNAS
//! 2019; Kennedy 2023), each built on the boosted trees of
//! [`boost`](super::boost):
//!
//! - **T-learner**: one outcome model per arm, μ₁ and μ₀; τ = μ₁ − μ₀. Simple
//!   and strong when both arms are large.
//! - **X-learner**: the T-learner's models impute each unit's effect
//!   (treated: Y − μ₀(x); control: μ₁(x) − Y), a model of the imputed
//!   effects is fitted in each arm, and the two are blended with the
//!   treatment share e: τ = e·τ₀ + (1 − e)·τ₁. Good when one arm is small.
//! - **DR-learner**: the doubly robust pseudo-outcome
//!   φ = μ₁ − μ₀ + T(Y − μ₁)/e − (1 − T)(Y − μ₀)/(1 − e), with μ₀ and μ₁
//!   cross-fitted on the other fold (two seeded folds), regressed on x.
//!
//! In a randomised experiment the propensity e is the arm's share of the
//! units, known by design, so it is not estimated. Outcomes are 0/1
//! (conversion: the outcome models are classifiers) or numbers (revenue:
//! regressions); effect models are regressions. Several treatments each
//! get their own learner against the control.
//!
//! [`metrics`] scores a ranking by uplift as scikit-uplift does (Qini and
//! uplift curves, AUUC, Qini coefficient, uplift at k); [`policy`] turns
//! uplift into whom to treat and what that earns.

pub mod metrics;
pub mod policy;

use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::boost::{BoostParams, BoostedTrees, ConstantColumns};
use super::checks::{Missing, check_features, name_of};
use crate::error::{Error, Result};

/// Which meta-learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaLearner {
    /// One outcome model per arm.
    T,
    /// Imputed effects per arm, blended by the treatment share.
    X,
    /// Doubly robust pseudo-outcomes, cross-fitted.
    Dr,
}

/// What the outcome is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// 0 or 1 (converted); uplift is a difference in probability.
    Binary,
    /// Any number (revenue); uplift is a difference in mean.
    Continuous,
}

/// Settings of [`UpliftModel::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpliftParams {
    /// The meta-learner.
    pub learner: MetaLearner,
    /// The outcome's kind.
    pub outcome: OutcomeKind,
    /// The base learner of every outcome and effect model.
    pub base: BoostParams,
    /// Seed of the DR-learner's folds.
    pub seed: u64,
}

impl Default for UpliftParams {
    /// T-learner, binary outcome, seed 0, and boosted trees kept small: 50
    /// trees of depth 3 with at least 200 rows per leaf. Uplift is a small
    /// difference between two noisy rates, and outcome models that fit
    /// noise swamp it: on a 35,000-unit experiment these settings raised the
    /// X-learner's Qini coefficient from 0.154 (100 trees of depth 6) to
    /// 0.166, and a second experiment confirmed it (BENCHMARKS.md).
    fn default() -> Self {
        UpliftParams {
            learner: MetaLearner::T,
            outcome: OutcomeKind::Binary,
            base: BoostParams {
                trees: 50,
                max_depth: 3,
                min_rows_in_leaf: 200,
                ..BoostParams::default()
            },
            seed: 0,
        }
    }
}

/// Experiment rows: features, the arm of each unit (0 = control, k =
/// treatment k), the outcome, and the features' names.
#[derive(Debug, Clone, Copy)]
pub struct Experiment<'a> {
    /// Features, one row per unit.
    pub x: ArrayView2<'a, f64>,
    /// The arm each unit was randomised to: 0 for control, 1.. for the treatments.
    pub arm: &'a [usize],
    /// The outcome of each unit.
    pub outcome: &'a [f64],
    /// The features' names, in column order.
    pub feature_names: &'a [String],
}

/// The fitted models of one treatment against the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ArmModels {
    T {
        control: BoostedTrees,
        treated: BoostedTrees,
    },
    X {
        effect_control: BoostedTrees,
        effect_treated: BoostedTrees,
        treated_share: f64,
    },
    Dr {
        effect: BoostedTrees,
    },
}

/// A fitted uplift model: one learner per treatment; serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpliftModel {
    learner: MetaLearner,
    outcome: OutcomeKind,
    feature_names: Vec<String>,
    arms: Vec<ArmModels>,
}

/// An outcome model of one arm's rows.
fn outcome_model(
    params: &UpliftParams,
    x: ArrayView2<'_, f64>,
    y: &[f64],
    names: &[String],
) -> Result<BoostedTrees> {
    match params.outcome {
        OutcomeKind::Binary => {
            let labels: Vec<bool> = y.iter().map(|&v| v > 0.5).collect();
            BoostedTrees::fit_classifier(&params.base, x, &labels, names, ConstantColumns::Tolerate)
        }
        OutcomeKind::Continuous => effect_model(params, x, y, names),
    }
}

/// A regression of one arm's (or fold's) rows; a feature may be constant
/// among them (the whole experiment was checked).
fn effect_model(
    params: &UpliftParams,
    x: ArrayView2<'_, f64>,
    y: &[f64],
    names: &[String],
) -> Result<BoostedTrees> {
    BoostedTrees::fit_regressor(&params.base, x, y, names, ConstantColumns::Tolerate)
}

/// The rows of `rows` as a matrix and their outcomes.
fn pick(x: ArrayView2<'_, f64>, y: &[f64], rows: &[usize]) -> (Array2<f64>, Vec<f64>) {
    (
        x.select(Axis(0), rows),
        rows.iter().map(|&i| y[i]).collect(),
    )
}

impl UpliftModel {
    /// Fits one learner per treatment arm against the control.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when arms, outcomes, rows or names do not
    /// line up; [`Error::NonFinite`] for a NaN or infinite outcome;
    /// [`Error::InvalidRow`] for a binary outcome other than 0 or 1;
    /// [`Error::TooFew`] when the control or a treatment has too few units
    /// (or, for a binary outcome, no converter or no non-converter in an
    /// arm); [`Error::NotIdentifiable`] naming a feature that holds one value
    /// in every unit (one constant within an arm is simply not split on);
    /// the base learner's errors (an infinite feature).
    pub fn fit(params: &UpliftParams, data: &Experiment<'_>) -> Result<UpliftModel> {
        params.base.check()?;
        let n = data.x.nrows();
        if data.arm.len() != n {
            return Err(Error::lengths("arms per row", n, data.arm.len()));
        }
        if data.outcome.len() != n {
            return Err(Error::lengths("outcomes per row", n, data.outcome.len()));
        }
        if let Some(row) = data.outcome.iter().position(|v| !v.is_finite()) {
            return Err(Error::non_finite(
                "outcomes",
                row,
                "outcome",
                data.outcome[row],
            ));
        }
        if params.outcome == OutcomeKind::Binary {
            if let Some(row) = data.outcome.iter().position(|&v| v != 0.0 && v != 1.0) {
                return Err(Error::invalid_row(
                    "outcomes",
                    row,
                    "outcome",
                    data.outcome[row].to_string(),
                    "a binary outcome is 0 or 1",
                ));
            }
        }
        check_features(
            &data.x,
            data.feature_names,
            "experiment features",
            Missing::Allowed,
        )?;
        if let Some(j) = (0..data.x.ncols()).find(|&j| {
            let column = data.x.column(j);
            let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
            column
                .first()
                .is_none_or(|&v0| column.iter().all(|&v| same(v, v0)))
        }) {
            return Err(Error::NotIdentifiable {
                model: "uplift",
                reason: format!(
                    "feature `{}` holds a single value in every unit, so it carries no information",
                    name_of(data.feature_names, j)
                ),
            });
        }
        let arms = data.arm.iter().copied().max().unwrap_or(0);
        let control: Vec<usize> = (0..n).filter(|&i| data.arm[i] == 0).collect();
        if control.len() < 2 {
            return Err(Error::too_few("control units", 2, control.len()));
        }
        if arms == 0 {
            return Err(Error::too_few("treated units", 1, 0));
        }
        let mut fitted = Vec::with_capacity(arms);
        for arm in 1..=arms {
            let treated: Vec<usize> = (0..n).filter(|&i| data.arm[i] == arm).collect();
            if treated.len() < 2 {
                return Err(Error::too_few(
                    format!("units in treatment {arm}"),
                    2,
                    treated.len(),
                ));
            }
            fitted.push(Self::fit_arm(params, data, &control, &treated)?);
        }
        Ok(UpliftModel {
            learner: params.learner,
            outcome: params.outcome,
            feature_names: data.feature_names.to_vec(),
            arms: fitted,
        })
    }

    fn fit_arm(
        params: &UpliftParams,
        data: &Experiment<'_>,
        control: &[usize],
        treated: &[usize],
    ) -> Result<ArmModels> {
        let names = data.feature_names;
        let (x, y) = (data.x, data.outcome);
        let (x0, y0) = pick(x, y, control);
        let (x1, y1) = pick(x, y, treated);
        let share = treated.len() as f64 / (treated.len() + control.len()) as f64;
        Ok(match params.learner {
            MetaLearner::T => ArmModels::T {
                control: outcome_model(params, x0.view(), &y0, names)?,
                treated: outcome_model(params, x1.view(), &y1, names)?,
            },
            MetaLearner::X => {
                let mu0 = outcome_model(params, x0.view(), &y0, names)?;
                let mu1 = outcome_model(params, x1.view(), &y1, names)?;
                let d1: Vec<f64> = mu0
                    .predict_outcome(x1.view())?
                    .iter()
                    .zip(&y1)
                    .map(|(m, y)| y - m)
                    .collect();
                let d0: Vec<f64> = mu1
                    .predict_outcome(x0.view())?
                    .iter()
                    .zip(&y0)
                    .map(|(m, y)| m - y)
                    .collect();
                ArmModels::X {
                    effect_control: effect_model(params, x0.view(), &d0, names)?,
                    effect_treated: effect_model(params, x1.view(), &d1, names)?,
                    treated_share: share,
                }
            }
            MetaLearner::Dr => {
                // Two seeded folds over the pair's rows; each fold's pseudo-outcomes
                // come from outcome models fitted on the other fold.
                let mut rows: Vec<usize> = control.iter().chain(treated).copied().collect();
                rows.sort_unstable();
                rows.shuffle(&mut ChaCha8Rng::seed_from_u64(params.seed));
                let half = rows.len() / 2;
                let folds = [&rows[..half], &rows[half..]];
                let mut pseudo_rows = Vec::with_capacity(rows.len());
                let mut pseudo = Vec::with_capacity(rows.len());
                for k in 0..2 {
                    let (fit_rows, eval_rows) = (folds[1 - k], folds[k]);
                    let is_treated = |i: &usize| data.arm[*i] != 0;
                    let c: Vec<usize> = fit_rows
                        .iter()
                        .copied()
                        .filter(|i| !is_treated(i))
                        .collect();
                    let t: Vec<usize> = fit_rows.iter().copied().filter(is_treated).collect();
                    let (xc, yc) = pick(x, y, &c);
                    let (xt, yt) = pick(x, y, &t);
                    let mu0 = outcome_model(params, xc.view(), &yc, names)?;
                    let mu1 = outcome_model(params, xt.view(), &yt, names)?;
                    let (xe, ye) = pick(x, y, eval_rows);
                    let (m0, m1) = (
                        mu0.predict_outcome(xe.view())?,
                        mu1.predict_outcome(xe.view())?,
                    );
                    for (j, &i) in eval_rows.iter().enumerate() {
                        let phi = if is_treated(&i) {
                            m1[j] - m0[j] + (ye[j] - m1[j]) / share
                        } else {
                            m1[j] - m0[j] - (ye[j] - m0[j]) / (1.0 - share)
                        };
                        pseudo_rows.push(i);
                        pseudo.push(phi);
                    }
                }
                let xp = x.select(Axis(0), &pseudo_rows);
                ArmModels::Dr {
                    effect: effect_model(params, xp.view(), &pseudo, names)?,
                }
            }
        })
    }

    /// Treatments (arms besides the control).
    pub fn n_treatments(&self) -> usize {
        self.arms.len()
    }

    /// The features' names, in column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The learner used.
    pub fn learner(&self) -> MetaLearner {
        self.learner
    }

    /// Predicted uplift of each treatment for each row of `x`: rows ×
    /// treatments (column k − 1 is treatment k against the control).
    ///
    /// # Errors
    /// As the base learner's prediction: a wrong width or an infinite value.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let mut out = Array2::zeros((x.nrows(), self.arms.len()));
        for (k, arm) in self.arms.iter().enumerate() {
            let tau: Vec<f64> = match arm {
                ArmModels::T { control, treated } => treated
                    .predict_outcome(x)?
                    .iter()
                    .zip(control.predict_outcome(x)?)
                    .map(|(a, b)| a - b)
                    .collect(),
                ArmModels::X {
                    effect_control,
                    effect_treated,
                    treated_share,
                } => effect_control
                    .predict_outcome(x)?
                    .iter()
                    .zip(effect_treated.predict_outcome(x)?)
                    .map(|(t0, t1)| treated_share * t0 + (1.0 - treated_share) * t1)
                    .collect(),
                ArmModels::Dr { effect } => effect.predict_outcome(x)?,
            };
            out.column_mut(k).assign(&ndarray::Array1::from(tau));
        }
        Ok(out)
    }
}
