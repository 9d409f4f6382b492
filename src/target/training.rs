//! Training sets for propensity models: features as of a cutoff, labels from
//! the window after it.
//!
//! "Who buys in the next 30 days?" is learned from the past by standing at
//! an earlier date (the cutoff): each customer's features use only events at
//! or before it ([`FeatureMatrix::from_base_rows`] reads the history up to
//! the cutoff), the label only events in the `horizon_days` after it, and a
//! customer enters only if the base knew them at the cutoff (an event at or
//! before it). Several cutoffs stack into one set, one row per customer and
//! cutoff, which gives the model more seasons to learn from.
//!
//! **Why not a random split of one snapshot.** Features and labels computed
//! at the same date share that date's season, campaigns and stock-outs; a
//! random half of the customers for validation sees the same window as the
//! training half, so its AUC says how well the model explains *this* window,
//! not how it will do on the next one. And features computed over the whole
//! history (total spend including the label window) leak the label outright.
//! Validate on a later cutoff than any used for training:
//! [`TrainingSet::out_of_time_split`].

use jiff::Timestamp;
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::AMOUNT_SCALE;
use crate::segment::features::{FeatureMatrix, FeatureSpec};
use crate::store::{CustomerBase, from_micros, to_micros};
use crate::target::context::FeatureContext;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What a row's label is, over the window after its cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// 1 when the customer made a purchase (a transaction that is not a refund), else 0.
    Purchase,
    /// Net revenue: purchases minus refunds, in currency units.
    Revenue,
}

/// Settings of [`training_set`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingParams {
    /// The features, computed as of each cutoff.
    pub features: FeatureSpec,
    /// The label.
    pub label: Label,
    /// Days after the cutoff the label looks at: (cutoff, cutoff + horizon].
    pub horizon_days: u32,
    /// Cutoffs, ascending; each label window must end by the base's last event.
    pub cutoffs: Vec<Timestamp>,
    /// What the other analyses know at each cutoff, joined as columns
    /// (lifecycle scores and stage, engagement, journey stage, channel
    /// preference, segment; see [`FeatureContext`]). In JSON its fields sit
    /// beside the others: `{"lifecycle": {...}, "engagement": {...}}`.
    #[serde(flatten)]
    pub context: FeatureContext,
}

/// Rows of features and labels, one per customer known at each cutoff.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    /// Feature names, in column order.
    pub feature_names: Vec<String>,
    /// Features, one row per (customer, cutoff).
    pub x: Array2<f64>,
    /// Labels, one per row.
    pub y: Vec<f64>,
    /// The base's customer index of each row.
    pub customer: Vec<u32>,
    /// The cutoff (an index into `cutoffs`) of each row.
    pub cutoff: Vec<usize>,
    /// The cutoffs.
    pub cutoffs: Vec<Timestamp>,
}

impl TrainingSet {
    /// Labels as outcomes (a positive label is true).
    pub fn labels(&self) -> Vec<bool> {
        self.y.iter().map(|&v| v > 0.0).collect()
    }

    /// Rows of the earlier cutoffs (to train on) and of the last one (to
    /// validate on, out of time).
    pub fn out_of_time_split(&self) -> (Vec<usize>, Vec<usize>) {
        let last = self.cutoffs.len().saturating_sub(1);
        (0..self.y.len()).partition(|&r| self.cutoff[r] != last)
    }

    /// Removes the columns that hold one value in every row (NaN counting as
    /// a value), which no model can learn from; their names, in column order.
    pub fn drop_constant_columns(&mut self) -> Vec<String> {
        let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        let keep: Vec<usize> = (0..self.x.ncols())
            .filter(|&j| {
                let column = self.x.column(j);
                column
                    .first()
                    .is_some_and(|&v0| column.iter().any(|&v| !same(v, v0)))
            })
            .collect();
        let dropped = (0..self.x.ncols())
            .filter(|j| !keep.contains(j))
            .map(|j| self.feature_names[j].clone())
            .collect();
        self.x = self.x.select(Axis(1), &keep);
        self.feature_names = keep
            .iter()
            .map(|&j| self.feature_names[j].clone())
            .collect();
        dropped
    }

    /// The rows `rows` as features and labels.
    pub fn rows(&self, rows: &[usize]) -> (Array2<f64>, Vec<f64>) {
        (
            self.x.select(Axis(0), rows),
            rows.iter().map(|&r| self.y[r]).collect(),
        )
    }
}

/// The time of the base's last event (µs), if it has any.
fn last_event(base: &CustomerBase) -> Option<i64> {
    let tx = base.tx_time_micros().iter().copied().max();
    let tp = base.tp_time_micros().iter().copied().max();
    tx.max(tp)
}

/// The customers `base` knew at `as_of`: an event at or before it.
pub fn known_at(base: &CustomerBase, as_of: Timestamp) -> Vec<u32> {
    let as_of = to_micros(as_of);
    base.customer_indices()
        .filter(|&c| {
            let h = base.history(c);
            h.tx_time.first().is_some_and(|&t| t <= as_of)
                || h.tp_time.first().is_some_and(|&t| t <= as_of)
        })
        .collect()
}

/// Features to score with: one row per customer known at `as_of`, computed
/// as a [`training_set`]'s rows are at a cutoff, so a model trained on
/// earlier cutoffs scores today's customers on the same footing.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringSet {
    /// Feature names, in column order.
    pub feature_names: Vec<String>,
    /// Features, one row per customer.
    pub x: Array2<f64>,
    /// The base's customer index of each row.
    pub customer: Vec<u32>,
}

impl ScoringSet {
    /// The columns `names`, in that order: the features a model was fitted
    /// on (a fit drops columns that were constant in training, e.g. a
    /// channel nobody prefers, so the model's columns are a subset).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a name that is not a column.
    pub fn select(&self, names: &[String]) -> Result<Array2<f64>> {
        let index = names
            .iter()
            .map(|w| {
                self.feature_names
                    .iter()
                    .position(|n| n == w)
                    .ok_or_else(|| Error::NotFound {
                        what: "feature column",
                        id: w.clone(),
                    })
            })
            .collect::<Result<Vec<usize>>>()?;
        Ok(self.x.select(Axis(1), &index))
    }
}

/// The features of every customer known at `as_of` (see [`ScoringSet`]),
/// with the columns of `context` (as the training set had them:
/// [`TrainingParams::context`]).
///
/// # Errors
/// The feature computation's and the context analyses' errors.
pub fn scoring_set(
    base: &CustomerBase,
    features: &FeatureSpec,
    context: &FeatureContext,
    as_of: Timestamp,
) -> Result<ScoringSet> {
    let customer = known_at(base, as_of);
    let m = features_at(base, features, context, as_of, customer.clone())?;
    let (_, feature_names, x) = m.into_parts();
    Ok(ScoringSet {
        feature_names,
        x,
        customer,
    })
}

/// The features of `rows` as of `as_of`, with the columns of `context`.
fn features_at(
    base: &CustomerBase,
    features: &FeatureSpec,
    context: &FeatureContext,
    as_of: Timestamp,
    rows: Vec<u32>,
) -> Result<FeatureMatrix> {
    let mut m = FeatureMatrix::from_base_rows(base, features, as_of, rows.clone())?;
    context.join(base, &mut m, &rows, as_of)?;
    Ok(m)
}

/// Builds the training set of `params` from `base`.
///
/// # Errors
/// [`Error::InvalidParameter`] for no cutoffs, cutoffs out of order, a zero
/// horizon, or a label window that ends after the base's last event (its
/// labels would be cut short); [`Error::EmptyInput`] for a base without
/// events; the feature computation's errors.
pub fn training_set(base: &CustomerBase, params: &TrainingParams) -> Result<TrainingSet> {
    if params.cutoffs.is_empty() {
        return Err(Error::param("cutoffs", "[]", "give at least one cutoff"));
    }
    if params.cutoffs.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::param(
            "cutoffs",
            format!("{:?}", params.cutoffs),
            "must be strictly ascending",
        ));
    }
    if params.horizon_days == 0 {
        return Err(Error::param("horizon_days", 0, "must be at least 1"));
    }
    let end = last_event(base).ok_or_else(|| Error::empty("events in the customer base"))?;
    let horizon = i64::from(params.horizon_days) * MICROS_PER_DAY;
    if let Some(late) = params
        .cutoffs
        .iter()
        .find(|&&c| to_micros(c).saturating_add(horizon) > end)
    {
        return Err(Error::param(
            "cutoffs",
            late.to_string(),
            format!(
                "its {}-day label window ends after the last event ({}), so its labels would be cut short",
                params.horizon_days,
                from_micros(end)
            ),
        ));
    }
    let mut names: Option<Vec<String>> = None;
    let (mut blocks, mut y, mut customer, mut cutoff) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (k, &at) in params.cutoffs.iter().enumerate() {
        let as_of = to_micros(at);
        let known = known_at(base, at);
        for &c in &known {
            let h = base.history(c);
            let from = h.tx_time.partition_point(|&t| t <= as_of);
            let to = h.tx_time.partition_point(|&t| t <= as_of + horizon);
            let window = from..to;
            let label = match params.label {
                Label::Purchase => f64::from(u8::from(window.clone().any(|i| !h.tx_refund[i]))),
                Label::Revenue => {
                    window.map(|i| h.tx_amount[i]).sum::<i64>() as f64 / AMOUNT_SCALE as f64
                }
            };
            y.push(label);
            customer.push(c);
            cutoff.push(k);
        }
        let m = features_at(base, &params.features, &params.context, at, known)?;
        match &names {
            Some(n) if n.as_slice() != m.names() => {
                return Err(Error::InvalidInput(format!(
                    "the features at cutoff {at} have other columns than at the first cutoff"
                )));
            }
            Some(_) => {}
            None => names = Some(m.names().to_vec()),
        }
        blocks.push(m.into_parts().2);
    }
    let views: Vec<_> = blocks.iter().map(Array2::view).collect();
    let x = ndarray::concatenate(Axis(0), &views)
        .map_err(|e| Error::InvalidInput(format!("stacking the cutoffs' features: {e}")))?;
    Ok(TrainingSet {
        feature_names: names.unwrap_or_default(),
        x,
        y,
        customer,
        cutoff,
        cutoffs: params.cutoffs.clone(),
    })
}
