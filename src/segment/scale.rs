//! Feature transforms fitted once and re-applied to new customers.
//!
//! Clustering needs features on comparable scales and without gaps. A
//! [`TransformSpec`] says, per column, which [`Step`]s to take and how to
//! treat missing values; [`FittedTransform::fit`] learns every parameter from
//! one [`FeatureMatrix`] and [`FittedTransform::apply`] re-applies exactly
//! those parameters to any matrix with the same columns (new customers, a
//! later snapshot), never refitting. A fitted transform is plain serde data,
//! so it can be stored with a segmentation and reloaded to score tomorrow's
//! customers.
//!
//! ## Steps
//!
//! Steps run in the order given, each fitted on the output of the previous one.
//!
//! | [`Step`] | fitted | applied to `x` | inverse |
//! |---|---|---|---|
//! | `Log1p` | nothing | `ln(1 + x)`; missing for `x ≤ −1` | `exp(y) − 1` |
//! | `Standardize` | mean `m`, population std `s` (ddof = 0) | `(x − m) / s` | `y·s + m` |
//! | `Robust` | median `c`, interquartile range `s` = q(0.75) − q(0.25) | `(x − c) / s` | `y·s + c` |
//! | `Winsorize { lower, upper }` | quantiles `q(lower)`, `q(upper)` | `x` clipped to them | none needed (values stay in original units) |
//!
//! `Standardize` is scikit-learn's `StandardScaler` and `Robust` its
//! `RobustScaler(quantile_range=(25, 75))`, including their treatment of
//! constant columns: a column whose variance is indistinguishable from 0 (by
//! scikit-learn's bound `var ≤ n·ε·var + (n·mean·ε)²`) gets `s = 1`, and an
//! IQR below `10·ε` gets `s = 1`, so a constant column maps to 0, never to
//! `NaN`. An exactly constant column maps to exactly 0.
//!
//! **Quantiles** are numpy's default, `np.quantile(x, q, method="linear")`
//! (Hyndman & Fan type 7): over the `n` sorted values `x₀ ≤ … ≤ xₙ₋₁`,
//! `h = (n − 1)·q`, `i = ⌊h⌋`, `γ = h − i`, and `q(x) = xᵢ + γ·(xᵢ₊₁ − xᵢ)`
//! (computed as `xᵢ₊₁ − (1 − γ)·(xᵢ₊₁ − xᵢ)` when `γ ≥ 0.5`, as numpy's
//! `_lerp` does, so results agree to the bit). The **median** is numpy's
//! `np.median`: the middle value, or the mean of the two middle values. See
//! [`quantile`] and [`median`].
//!
//! ## Missing values
//!
//! A value is *missing* when it is `NaN` or infinite in the input, or when a
//! step makes it so (`Log1p` of a value `≤ −1`, an overflow). Steps are
//! fitted on the values that are not missing. The [`Missing`] policy then
//! decides:
//!
//! - [`Missing::ImputeMedian`] (default, `indicator: true`): missing values
//!   are replaced by the median of the column's fitted output values (the
//!   median of the non-missing values after all steps; 0 when there are
//!   none), and when the column had missing values at fit time a
//!   `<name>:missing` column follows it, 1 where the value was missing and 0
//!   elsewhere;
//! - [`Missing::Reject`]: a missing value is an error, at fit and at apply.
//!
//! Either way, no output value is ever `NaN` or infinite.
//!
//! ## Columns
//!
//! Every column of the matrix given to `fit` is transformed (with its own
//! steps from [`TransformSpec::columns`], or the spec's
//! [`default`](TransformSpec::default) steps; an empty list passes the column
//! through with only the missing policy). To leave columns out, select the
//! others first with [`FeatureMatrix::select`]. The output has, in fit order,
//! each column followed by its indicator if it has one, then the one-hot
//! columns. `apply` looks columns up by name: a column seen at fit time and
//! absent is an error; columns not seen at fit time are ignored (not in the
//! output).
//!
//! **Categorical** columns (strings) are one-hot encoded separately:
//! [`FittedTransform::fit_one_hot`] learns the levels, and
//! [`FittedTransform::apply_with`] writes one `name=level` 0/1 column per
//! level; a value not seen at fit time gets all zeros and is counted in the
//! [`ApplyReport`], never an error.
//!
//! ```
//! use custinsight::segment::features::FeatureMatrix;
//! use custinsight::segment::scale::{FittedTransform, Step, TransformSpec};
//!
//! let ids: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
//! let m = FeatureMatrix::from_columns(ids, vec![
//!     ("spend".into(), vec![10.0, 100.0, f64::NAN, 1000.0]),
//!     ("visits".into(), vec![1.0, 2.0, 3.0, 4.0]),
//! ])?;
//! let spec = TransformSpec::default().with_column("spend", vec![Step::Log1p, Step::Standardize]);
//! let fitted = FittedTransform::fit(&m, &spec)?;
//! assert_eq!(fitted.output_names(), ["spend", "spend:missing", "visits"]);
//! let out = fitted.apply(&m)?;
//! assert!(out.values().iter().all(|v| v.is_finite()));
//! // Back to original units (e.g. for a cluster centroid).
//! let spend = out.column("spend").unwrap()[1];
//! assert!((fitted.inverse_column("spend", spend).unwrap() - 100.0).abs() < 1e-9);
//! # Ok::<(), custinsight::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::stats::{median, median_sorted, quantile_sorted, sorted_finite};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::features::FeatureMatrix;
use crate::error::{Error, Result};

/// One transform step of a column; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `ln(1 + x)`; values `≤ −1` become missing.
    Log1p,
    /// `(x − mean) / std`, population std (scikit-learn's `StandardScaler`).
    Standardize,
    /// `(x − median) / IQR` (scikit-learn's `RobustScaler`, quantile range 25–75).
    Robust,
    /// Clip at the fitted `lower` and `upper` quantiles (levels in `[0, 1]`).
    Winsorize {
        /// Quantile level of the lower bound, in `[0, 1]`.
        lower: f64,
        /// Quantile level of the upper bound, in `[lower, 1]`.
        upper: f64,
    },
}

/// What to do with missing values; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Replace missing values by the fitted median; with `indicator`, add a
    /// `<name>:missing` 0/1 column after each column that had missing values at fit time.
    ImputeMedian {
        /// Whether to add the indicator columns.
        indicator: bool,
    },
    /// Fail on any missing value.
    Reject,
}

impl Default for Missing {
    fn default() -> Self {
        Missing::ImputeMedian { indicator: true }
    }
}

/// Which steps each column gets, and the missing policy.
///
/// Serialised, with the defaults spelled out:
///
/// ```
/// use custinsight::segment::scale::{Step, TransformSpec};
///
/// let spec: TransformSpec = serde_json::from_str(r#"{
///     "default": ["standardize"],
///     "columns": {"monetary": ["log1p", "standardize"],
///                 "tenure": [{"winsorize": {"lower": 0.01, "upper": 0.99}}, "robust"]},
///     "missing": {"impute_median": {"indicator": true}}
/// }"#)?;
/// assert_eq!(spec.columns["monetary"], [Step::Log1p, Step::Standardize]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformSpec {
    /// Steps of every column not listed in `columns` (default: `[Standardize]`).
    pub default: Vec<Step>,
    /// Steps of particular columns, by name (each must be a column of the fit matrix).
    pub columns: BTreeMap<String, Vec<Step>>,
    /// The missing policy (default: median imputation with indicators).
    pub missing: Missing,
}

impl Default for TransformSpec {
    fn default() -> Self {
        TransformSpec {
            default: vec![Step::Standardize],
            columns: BTreeMap::new(),
            missing: Missing::default(),
        }
    }
}

impl TransformSpec {
    /// A spec giving every column `default`, with the default missing policy.
    pub fn new(default: Vec<Step>) -> Self {
        TransformSpec {
            default,
            ..TransformSpec::default()
        }
    }

    /// Standardised columns, with counts and amounts (`frequency`,
    /// `total_spend`, `monetary`, `days_active`, `touchpoints:<kind>`,
    /// `btyd:frequency`, `btyd:monetary_value`, `expected_purchases`, `clv`)
    /// log-scaled first (`Log1p`, then `Standardize`): their long right tails
    /// would otherwise dominate distances.
    pub fn log_counts<S: AsRef<str>>(names: &[S]) -> TransformSpec {
        let mut spec = TransformSpec::default();
        for name in names {
            let name = name.as_ref();
            let count_like = matches!(
                name,
                "frequency"
                    | "total_spend"
                    | "monetary"
                    | "days_active"
                    | "btyd:frequency"
                    | "btyd:monetary_value"
                    | "expected_purchases"
                    | "clv"
            ) || name.starts_with("touchpoints:");
            if count_like {
                spec = spec.with_column(name, vec![Step::Log1p, Step::Standardize]);
            }
        }
        spec
    }

    /// This spec with `steps` for column `name` (replacing any earlier entry).
    pub fn with_column(mut self, name: impl Into<String>, steps: Vec<Step>) -> Self {
        self.columns.insert(name.into(), steps);
        self
    }

    /// This spec with another missing policy.
    pub fn with_missing(mut self, missing: Missing) -> Self {
        self.missing = missing;
        self
    }

    /// Checks the step settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for winsorising levels that are not
    /// `0 ≤ lower ≤ upper ≤ 1`.
    pub fn check(&self) -> Result<()> {
        for step in self.default.iter().chain(self.columns.values().flatten()) {
            if let Step::Winsorize { lower, upper } = *step {
                let valid =
                    (0.0..=1.0).contains(&lower) && (0.0..=1.0).contains(&upper) && lower <= upper;
                if !valid {
                    return Err(Error::param(
                        "winsorize",
                        format!("lower {lower}, upper {upper}"),
                        "need quantile levels 0 ≤ lower ≤ upper ≤ 1",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Fitted parameters serialise as decimal strings in Rust's shortest
/// round-trip form (`"2.875"`, `"1.5e-7"`), so a JSON round trip is exact:
/// serde_json's default float parser may be off by one unit in the last
/// place. Plain numbers are accepted when reading.
mod exact_f64 {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        let plain = *v == 0.0 || (1e-5..1e16).contains(&v.abs());
        if plain {
            s.collect_str(v)
        } else {
            s.collect_str(&format_args!("{v:e}"))
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Number(f64),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Number(v) => Ok(v),
            Repr::Text(t) => t
                .trim()
                .parse()
                .map_err(|e| D::Error::custom(format!("`{t}` is not a number: {e}"))),
        }
    }
}

/// A fitted step: the parameters learnt at fit time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FittedStep {
    /// `ln(1 + x)`.
    Log1p,
    /// `(x − mean) / scale`.
    Standardize {
        /// Mean of the fitted values.
        #[serde(with = "exact_f64")]
        mean: f64,
        /// Population standard deviation, or 1 for a constant column.
        #[serde(with = "exact_f64")]
        scale: f64,
    },
    /// `(x − center) / scale`.
    Robust {
        /// Median of the fitted values.
        #[serde(with = "exact_f64")]
        center: f64,
        /// Interquartile range, or 1 when it is (nearly) 0.
        #[serde(with = "exact_f64")]
        scale: f64,
    },
    /// `x` clipped to `[lower, upper]`.
    Winsorize {
        /// The fitted lower quantile (`f64::MIN` when fitted on no values).
        #[serde(with = "exact_f64")]
        lower: f64,
        /// The fitted upper quantile (`f64::MAX` when fitted on no values).
        #[serde(with = "exact_f64")]
        upper: f64,
    },
}

impl FittedStep {
    /// Applies the step to one value (non-finite results mean missing).
    pub fn apply(&self, x: f64) -> f64 {
        match *self {
            FittedStep::Log1p => x.ln_1p(),
            FittedStep::Standardize { mean, scale } => (x - mean) / scale,
            FittedStep::Robust { center, scale } => (x - center) / scale,
            // Not `f64::clamp`, which panics on bad bounds.
            FittedStep::Winsorize { lower, upper } => {
                if x < lower {
                    lower
                } else if x > upper {
                    upper
                } else {
                    x
                }
            }
        }
    }

    /// Maps an output value back to the step's input units (identity for `Winsorize`).
    pub fn invert(&self, y: f64) -> f64 {
        match *self {
            FittedStep::Log1p => y.exp_m1(),
            FittedStep::Standardize { mean, scale } => y * scale + mean,
            FittedStep::Robust { center, scale } => y * scale + center,
            FittedStep::Winsorize { .. } => y,
        }
    }

    /// Whether the parameters are usable: finite, positive scales, ordered bounds.
    fn is_valid(&self) -> bool {
        match *self {
            FittedStep::Log1p => true,
            FittedStep::Standardize { mean: a, scale }
            | FittedStep::Robust { center: a, scale } => {
                a.is_finite() && scale.is_finite() && scale > 0.0
            }
            FittedStep::Winsorize { lower, upper } => {
                lower.is_finite() && upper.is_finite() && lower <= upper
            }
        }
    }
}

/// One fitted numeric column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedColumn {
    /// The column's name (input and output).
    pub name: String,
    /// Its fitted steps, in order.
    pub steps: Vec<FittedStep>,
    /// The value imputed for missing values: the median of the fitted output values (0 if none).
    #[serde(with = "exact_f64")]
    pub median: f64,
    /// How many values were missing at fit time.
    pub missing_at_fit: usize,
    /// Whether a `<name>:missing` indicator column follows it.
    pub indicator: bool,
}

impl FittedColumn {
    /// The indicator column's name.
    fn indicator_name(&self) -> String {
        format!("{}:missing", self.name)
    }

    /// Transforms one value; `None` when it is (or becomes) missing.
    fn transform(&self, x: f64) -> Option<f64> {
        let mut v = x;
        if !v.is_finite() {
            return None;
        }
        for step in &self.steps {
            v = step.apply(v);
            if !v.is_finite() {
                return None;
            }
        }
        Some(v)
    }

    /// The inverse of every step, last to first.
    fn invert(&self, y: f64) -> f64 {
        self.steps.iter().rev().fold(y, |v, s| s.invert(v))
    }
}

/// A one-hot encoding of a categorical (string) column: one `name=level` 0/1
/// column per level seen at fit time, levels sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawOneHotEncoder")]
pub struct OneHotEncoder {
    name: String,
    levels: Vec<String>,
}

#[derive(Deserialize)]
struct RawOneHotEncoder {
    name: String,
    levels: Vec<String>,
}

impl TryFrom<RawOneHotEncoder> for OneHotEncoder {
    type Error = Error;
    fn try_from(raw: RawOneHotEncoder) -> Result<Self> {
        let e = OneHotEncoder {
            name: raw.name,
            levels: raw.levels,
        };
        if e.is_valid() {
            Ok(e)
        } else {
            Err(Error::value(
                "one-hot encoder",
                e.name,
                "empty name, or levels not sorted and distinct",
            ))
        }
    }
}

impl OneHotEncoder {
    /// Learns the distinct values (levels) of a categorical column.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty name.
    pub fn fit(name: &str, values: &[&str]) -> Result<OneHotEncoder> {
        if name.is_empty() {
            return Err(Error::value(
                "one-hot column name",
                name,
                "must be non-empty",
            ));
        }
        let levels: BTreeSet<&str> = values.iter().copied().collect();
        Ok(OneHotEncoder {
            name: name.to_owned(),
            levels: levels.into_iter().map(str::to_owned).collect(),
        })
    }

    /// The categorical column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The levels, sorted.
    pub fn levels(&self) -> &[String] {
        &self.levels
    }

    /// The output column names, `name=level`.
    pub fn output_names(&self) -> Vec<String> {
        self.levels
            .iter()
            .map(|l| format!("{}={l}", self.name))
            .collect()
    }

    /// One 0/1 column per level, and how many values were unknown (all zeros).
    pub fn encode(&self, values: &[&str]) -> (Vec<Vec<f64>>, usize) {
        let mut columns = vec![vec![0.0; values.len()]; self.levels.len()];
        let mut unknown = 0;
        for (r, v) in values.iter().enumerate() {
            match self.levels.binary_search_by(|l| l.as_str().cmp(v)) {
                Ok(j) => {
                    if let Some(cell) = columns.get_mut(j).and_then(|c| c.get_mut(r)) {
                        *cell = 1.0;
                    }
                }
                Err(_) => unknown += 1,
            }
        }
        (columns, unknown)
    }

    /// [`encode`](Self::encode) written into the rows of a row-major
    /// `width`-wide matrix `out` (already zero), from column `first` on;
    /// returns the count of unknown values.
    fn encode_into(&self, values: &[&str], out: &mut [f64], width: usize, first: usize) -> usize {
        let mut unknown = 0;
        for (r, v) in values.iter().enumerate() {
            match self.levels.binary_search_by(|l| l.as_str().cmp(v)) {
                Ok(j) => {
                    if let Some(cell) = out.get_mut(r * width + first + j) {
                        *cell = 1.0;
                    }
                }
                Err(_) => unknown += 1,
            }
        }
        unknown
    }

    fn is_valid(&self) -> bool {
        !self.name.is_empty() && self.levels.windows(2).all(|w| w[0] < w[1])
    }
}

/// What an application did besides transforming: values imputed and unknown categories.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApplyReport {
    /// For every numeric column, in fit order: how many values were missing and imputed.
    pub imputed: Vec<(String, usize)>,
    /// For every one-hot column: how many values were not seen at fit time (encoded as all zeros).
    pub unknown_categories: Vec<(String, usize)>,
}

/// Transforms fitted on one matrix, to apply to any matrix with the same columns.
///
/// Deterministic: the same matrix and spec give the same transform, and its
/// JSON form reloads to a transform with identical output. Deserialisation
/// checks the parameters (finite, positive scales, ordered bounds, distinct
/// names), so a reloaded transform cannot produce `NaN` either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawFittedTransform")]
pub struct FittedTransform {
    columns: Vec<FittedColumn>,
    one_hot: Vec<OneHotEncoder>,
    missing: Missing,
}

#[derive(Deserialize)]
struct RawFittedTransform {
    columns: Vec<FittedColumn>,
    one_hot: Vec<OneHotEncoder>,
    missing: Missing,
}

impl TryFrom<RawFittedTransform> for FittedTransform {
    type Error = Error;
    fn try_from(raw: RawFittedTransform) -> Result<Self> {
        for c in &raw.columns {
            let valid = !c.name.is_empty()
                && c.median.is_finite()
                && c.steps.iter().all(FittedStep::is_valid);
            if !valid {
                return Err(Error::value(
                    "fitted transform column",
                    c.name.as_str(),
                    "invalid parameters",
                ));
            }
        }
        let t = FittedTransform {
            columns: raw.columns,
            one_hot: raw.one_hot,
            missing: raw.missing,
        };
        t.check_names()?;
        Ok(t)
    }
}

impl FittedTransform {
    /// Fits `spec` to every column of `m` (see the module docs).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`TransformSpec::check`];
    /// [`Error::NotFound`] for a column named in the spec but not in `m`;
    /// [`Error::InvalidValue`] for a missing value under [`Missing::Reject`] or
    /// values so large that a fitted parameter overflows `f64`;
    /// [`Error::Duplicate`] for output names that clash (e.g. an input column
    /// already called `x:missing`).
    pub fn fit(m: &FeatureMatrix, spec: &TransformSpec) -> Result<FittedTransform> {
        spec.check()?;
        if let Some(name) = spec.columns.keys().find(|n| m.column_index(n).is_none()) {
            return Err(Error::NotFound {
                what: "feature",
                id: name.clone(),
            });
        }
        let values = m.values();
        let jobs: Vec<(usize, &String, &[Step])> = m
            .names()
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let steps = spec.columns.get(name).unwrap_or(&spec.default);
                (j, name, steps.as_slice())
            })
            .collect();
        let columns = crate::parallel::map_slice(&jobs, |&(j, name, steps)| {
            let column = values.column(j).to_vec();
            fit_column(name, column, steps, spec.missing)
        })
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        let t = FittedTransform {
            columns,
            one_hot: Vec::new(),
            missing: spec.missing,
        };
        t.check_names()?;
        Ok(t)
    }

    /// Learns a categorical column's levels; [`apply_with`](Self::apply_with)
    /// then writes its `name=level` columns after the numeric ones.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty name; [`Error::Duplicate`] for a
    /// categorical column fitted before under that name, or output names that
    /// clash with existing ones.
    pub fn fit_one_hot(&mut self, name: &str, values: &[&str]) -> Result<()> {
        if self.one_hot.iter().any(|e| e.name == name) {
            return Err(Error::duplicate("one-hot columns", name));
        }
        self.one_hot.push(OneHotEncoder::fit(name, values)?);
        if let Err(e) = self.check_names() {
            self.one_hot.pop();
            return Err(e);
        }
        Ok(())
    }

    /// The numeric columns, in fit order.
    pub fn columns(&self) -> &[FittedColumn] {
        &self.columns
    }

    /// The one-hot encoders, in fit order.
    pub fn one_hot(&self) -> &[OneHotEncoder] {
        &self.one_hot
    }

    /// The missing policy.
    pub fn missing(&self) -> Missing {
        self.missing
    }

    /// The numeric input columns `apply` needs.
    pub fn input_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The output column names, in order.
    pub fn output_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for c in &self.columns {
            names.push(c.name.clone());
            if c.indicator {
                names.push(c.indicator_name());
            }
        }
        for e in &self.one_hot {
            names.extend(e.output_names());
        }
        names
    }

    fn check_names(&self) -> Result<()> {
        let names = self.output_names();
        let mut seen = HashSet::new();
        for n in &names {
            if !seen.insert(n.as_str()) {
                return Err(Error::duplicate("transform output columns", n.as_str()));
            }
        }
        Ok(())
    }

    /// Applies the fitted transform to `m` (numeric columns only).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a fitted column absent from `m`;
    /// [`Error::MissingColumns`] when one-hot columns were fitted (use
    /// [`apply_with`](Self::apply_with)); [`Error::InvalidValue`] for a
    /// missing value under [`Missing::Reject`].
    pub fn apply(&self, m: &FeatureMatrix) -> Result<FeatureMatrix> {
        if !self.one_hot.is_empty() {
            return Err(Error::MissingColumns {
                table: "categorical values of the transform's one-hot columns (give them with apply_with)".into(),
                columns: self.one_hot.iter().map(|e| e.name.clone()).collect(),
            });
        }
        self.apply_with(m, &[]).map(|(out, _)| out)
    }

    /// [`apply`](Self::apply) taking the matrix: when the transform keeps
    /// its columns as they are (the same names in the same order, no
    /// missing-value indicators, no one-hot columns) the values are
    /// transformed in place, so a million rows are never held twice.
    ///
    /// # Errors
    /// As [`apply`](Self::apply).
    pub fn apply_owned(&self, mut m: FeatureMatrix) -> Result<FeatureMatrix> {
        let same_columns = self.one_hot.is_empty()
            && self.columns.len() == m.n_features()
            && self
                .columns
                .iter()
                .zip(m.names())
                .all(|(c, name)| !c.indicator && &c.name == name);
        let width = m.n_features();
        let values = m.values_mut();
        let in_place = same_columns && values.is_standard_layout();
        let Some(data) = values.as_slice_mut().filter(|_| in_place) else {
            return self.apply(&m);
        };
        const BLOCK_ROWS: usize = 4096;
        let missing_per_block =
            crate::parallel::map_chunks_mut(data, BLOCK_ROWS * width.max(1), |_, block| {
                let mut missing = vec![0usize; width];
                for row in block.chunks_mut(width.max(1)) {
                    for ((cell, c), missing) in row.iter_mut().zip(&self.columns).zip(&mut missing)
                    {
                        *cell = c.transform(*cell).unwrap_or_else(|| {
                            *missing += 1;
                            c.median
                        });
                    }
                }
                missing
            });
        for (j, c) in self.columns.iter().enumerate() {
            let missing: usize = missing_per_block.iter().map(|m| m[j]).sum();
            if self.missing == Missing::Reject && missing > 0 {
                return Err(Error::value(
                    "feature column",
                    format!("`{}` with {missing} missing values", c.name),
                    "the missing policy is `reject`",
                ));
            }
        }
        Ok(m)
    }

    /// Applies the fitted transform to `m` and the categorical columns given
    /// as `(name, values)` (one value per row of `m`; names not fitted are
    /// ignored), with a report of imputed values and unknown categories.
    ///
    /// # Errors
    /// As [`apply`](Self::apply), and [`Error::NotFound`] for a fitted
    /// categorical column not given; [`Error::Duplicate`] for one given
    /// twice; [`Error::LengthMismatch`] for one with a length other than `m.n_rows()`.
    pub fn apply_with(
        &self,
        m: &FeatureMatrix,
        categorical: &[(&str, &[&str])],
    ) -> Result<(FeatureMatrix, ApplyReport)> {
        let n = m.n_rows();
        let mut given: HashMap<&str, &[&str]> = HashMap::new();
        for &(name, values) in categorical {
            if given.insert(name, values).is_some() {
                return Err(Error::duplicate("categorical columns given", name));
            }
            if values.len() != n {
                return Err(Error::lengths(
                    format!("categorical column `{name}`: values (one per row)"),
                    n,
                    values.len(),
                ));
            }
        }
        let jobs = self
            .columns
            .iter()
            .map(|c| {
                m.column_index(&c.name)
                    .map(|j| (c, j))
                    .ok_or_else(|| Error::NotFound {
                        what: "feature",
                        id: c.name.clone(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let values = m.values();
        let reject = self.missing == Missing::Reject;
        // Every output cell is written once, straight into the result's rows
        // (no column copies): a block of rows at a time, in parallel.
        let names = self.output_names();
        let width = names.len();
        let numeric_width: usize = jobs.iter().map(|(c, _)| 1 + usize::from(c.indicator)).sum();
        let mut out = vec![0.0f64; n * width];
        const BLOCK_ROWS: usize = 4096;
        let missing_per_block =
            crate::parallel::map_chunks_mut(&mut out, BLOCK_ROWS * width.max(1), |k, block| {
                let first = k * BLOCK_ROWS;
                let mut missing = vec![0usize; jobs.len()];
                for (r, row) in block.chunks_mut(width.max(1)).enumerate() {
                    let mut j_out = 0;
                    for (job, &(c, j)) in jobs.iter().enumerate() {
                        let (v, flag) = match c.transform(values[[first + r, j]]) {
                            Some(v) => (v, 0.0),
                            None => {
                                missing[job] += 1;
                                (c.median, 1.0)
                            }
                        };
                        row[j_out] = v;
                        j_out += 1;
                        if c.indicator {
                            row[j_out] = flag;
                            j_out += 1;
                        }
                    }
                }
                missing
            });
        let mut report = ApplyReport::default();
        for (job, (c, _)) in jobs.iter().enumerate() {
            let missing: usize = missing_per_block.iter().map(|m| m[job]).sum();
            if reject && missing > 0 {
                return Err(Error::value(
                    "feature column",
                    format!("`{}` with {missing} missing values", c.name),
                    "the missing policy is `reject`",
                ));
            }
            report.imputed.push((c.name.clone(), missing));
        }
        let mut j_out = numeric_width;
        for e in &self.one_hot {
            let values = given.get(e.name.as_str()).ok_or_else(|| Error::NotFound {
                what: "categorical column",
                id: e.name.clone(),
            })?;
            let unknown = e.encode_into(values, &mut out, width, j_out);
            report.unknown_categories.push((e.name.clone(), unknown));
            j_out += e.levels.len();
        }
        let found = out.len();
        let values = Array2::from_shape_vec((n, width), out).map_err(|_| {
            Error::lengths(
                "transformed matrix: values (rows × columns)",
                n * width,
                found,
            )
        })?;
        let out = FeatureMatrix::new(m.customer_ids().to_vec(), names, values)?;
        Ok((out, report))
    }

    /// Maps a value of output column `name` back to original units by
    /// inverting the column's steps (`Log1p`, `Standardize` and `Robust`
    /// invert exactly; winsorised values are already in original units).
    /// Indicator and one-hot values are returned as they are (as a cluster
    /// centroid, they are the share of missing values or of a level).
    /// `None` for a name that is not an output column.
    pub fn inverse_column(&self, name: &str, value: f64) -> Option<f64> {
        if let Some(c) = self.columns.iter().find(|c| c.name == name) {
            return Some(c.invert(value));
        }
        let passthrough = self
            .columns
            .iter()
            .any(|c| c.indicator && c.indicator_name() == name)
            || self
                .one_hot
                .iter()
                .any(|e| e.output_names().iter().any(|n| n == name));
        passthrough.then_some(value)
    }

    /// [`inverse_column`](Self::inverse_column) for a whole output row (e.g. a centroid).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `row` does not have one value per output column.
    pub fn inverse_row(&self, row: &[f64]) -> Result<Vec<f64>> {
        let names = self.output_names();
        if row.len() != names.len() {
            return Err(Error::lengths(
                "inverse row: values (one per output column)",
                names.len(),
                row.len(),
            ));
        }
        Ok(names
            .iter()
            .zip(row)
            .map(|(n, &v)| self.inverse_column(n, v).unwrap_or(v))
            .collect())
    }
}

/// Fits one column's steps and missing-value median.
fn fit_column(
    name: &str,
    mut values: Vec<f64>,
    steps: &[Step],
    missing: Missing,
) -> Result<FittedColumn> {
    for v in &mut values {
        if !v.is_finite() {
            *v = f64::NAN;
        }
    }
    let mut fitted = Vec::with_capacity(steps.len());
    for &step in steps {
        let f = fit_step(step, &values);
        if !f.is_valid() {
            return Err(Error::value(
                "feature column",
                format!("`{name}` under {step:?}"),
                "values too large: the fitted parameters overflow f64",
            ));
        }
        for v in &mut values {
            if v.is_finite() {
                let y = f.apply(*v);
                *v = if y.is_finite() { y } else { f64::NAN };
            }
        }
        fitted.push(f);
    }
    let missing_at_fit = values.iter().filter(|v| v.is_nan()).count();
    if missing_at_fit > 0 && missing == Missing::Reject {
        return Err(Error::value(
            "feature column",
            format!("`{name}` with {missing_at_fit} missing values"),
            "the missing policy is `reject`",
        ));
    }
    Ok(FittedColumn {
        name: name.to_owned(),
        steps: fitted,
        median: median(&values).unwrap_or(0.0),
        missing_at_fit,
        indicator: missing == (Missing::ImputeMedian { indicator: true }) && missing_at_fit > 0,
    })
}

/// Fits one step on the finite values of `values`.
fn fit_step(step: Step, values: &[f64]) -> FittedStep {
    match step {
        Step::Log1p => FittedStep::Log1p,
        Step::Standardize => {
            let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            let (mean, scale) = mean_and_scale(&finite);
            FittedStep::Standardize { mean, scale }
        }
        Step::Robust => {
            let sorted = sorted_finite(values);
            if sorted.is_empty() {
                return FittedStep::Robust {
                    center: 0.0,
                    scale: 1.0,
                };
            }
            let iqr = quantile_sorted(&sorted, 0.75) - quantile_sorted(&sorted, 0.25);
            FittedStep::Robust {
                center: median_sorted(&sorted),
                // scikit-learn's `_handle_zeros_in_scale`.
                scale: if iqr < 10.0 * f64::EPSILON { 1.0 } else { iqr },
            }
        }
        Step::Winsorize { lower, upper } => {
            let sorted = sorted_finite(values);
            if sorted.is_empty() {
                return FittedStep::Winsorize {
                    lower: f64::MIN,
                    upper: f64::MAX,
                };
            }
            FittedStep::Winsorize {
                lower: quantile_sorted(&sorted, lower),
                upper: quantile_sorted(&sorted, upper),
            }
        }
    }
}

/// Mean and population standard deviation as scikit-learn's `StandardScaler`
/// computes them (corrected two-pass variance; constant columns get scale 1).
fn mean_and_scale(x: &[f64]) -> (f64, f64) {
    let Some(&first) = x.first() else {
        return (0.0, 1.0);
    };
    if x.iter().all(|&v| v == first) {
        return (first, 1.0);
    }
    let n = x.len() as f64;
    let mut mean = sum(x.iter().copied()) / n;
    if !mean.is_finite() {
        // The sum overflowed; the mean of values scaled down does not.
        mean = sum(x.iter().map(|v| v / n));
    }
    let correction = sum(x.iter().map(|v| v - mean));
    let squares = sum(x.iter().map(|v| (v - mean) * (v - mean)));
    let var = (squares - correction * correction / n) / n;
    if !var.is_finite() {
        // The squares overflowed: report an unusable (infinite) scale.
        return (mean, f64::INFINITY);
    }
    // scikit-learn's `_is_constant_feature`.
    let eps = f64::EPSILON;
    let bound = n * eps * var + (n * mean * eps) * (n * mean * eps);
    (mean, if var <= bound { 1.0 } else { var.sqrt() })
}

/// Neumaier's compensated sum.
fn sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for v in values {
        let t = s + v;
        if s.abs() >= v.abs() {
            c += (s - t) + v;
        } else {
            c += (v - t) + s;
        }
        s = t;
    }
    let total = s + c;
    // Compensation of an overflowed sum is NaN; report the overflow as such.
    if total.is_nan() && s.is_infinite() {
        s
    } else {
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Reference values: Python 3.11, numpy 2.4.6, scikit-learn 1.9.1, produced by
    //
    //   import numpy as np
    //   from sklearn.preprocessing import StandardScaler, RobustScaler
    //   from sklearn.impute import SimpleImputer
    //   from sklearn.pipeline import make_pipeline
    //   a = [1.5, -2.0, 3.25, 0.0, 10.0, 7.5, -1.25, 4.0]
    //   b = [100.0, 250.0, 50.0, 1000.0, 75.0, 300.0, 125.0, 90.0]
    //   c = [3.0] * 8
    //   X = np.array([a, b, c]).T
    //   s = StandardScaler().fit(X); s.mean_, s.scale_, s.transform(X)       # STD_*
    //   r = RobustScaler().fit(X); r.center_, r.scale_, r.transform(X)       # ROB_*
    //   lb = np.log1p(np.array(b)).reshape(-1, 1)
    //   StandardScaler().fit(lb).transform(lb)                                # LOG_STD_B
    //   np.quantile(b, [0.1, 0.9]); np.quantile(a, [0.05, 0.95]); np.quantile(a, [0, 1, 0.33])
    //   np.clip(b, *np.quantile(b, [0.1, 0.9]))                               # WINS_B
    //   d = np.array([1, np.nan, 3, 4, np.nan, 10, 2, 5.0]).reshape(-1, 1)
    //   make_pipeline(StandardScaler(), SimpleImputer(strategy="median", add_indicator=True)).fit(d).transform(d)
    //   new = np.array([[0.0, 20.0, 3.0], [100.0, -5.0, 4.0]]); s.transform(new); r.transform(new)
    //
    // each value printed with repr(float(v)).
    const A: [f64; 8] = [1.5, -2.0, 3.25, 0.0, 10.0, 7.5, -1.25, 4.0];
    const B: [f64; 8] = [100.0, 250.0, 50.0, 1000.0, 75.0, 300.0, 125.0, 90.0];
    const STD_MEAN: [f64; 3] = [2.875, 248.75, 3.0];
    const STD_SCALE: [f64; 3] = [3.944933459514875, 295.6639773459053, 1.0];
    const STD_A: [f64; 8] = [
        -0.3485483377884629,
        -1.235762288522732,
        0.0950586375786717,
        -0.7287828881031496,
        1.806114113994762,
        1.1723898634702843,
        -1.0456450133653885,
        0.28517591273601506,
    ];
    const STD_B: [f64; 8] = [
        -0.5031049143534091,
        0.004227772389524447,
        -0.672215809934387,
        2.5408912061041926,
        -0.587660362143898,
        0.17333866797050232,
        -0.4185494665629202,
        -0.5369270934696048,
    ];
    const ROB_CENTER: [f64; 3] = [2.375, 112.5, 3.0];
    const ROB_SCALE: [f64; 3] = [5.1875, 176.25, 1.0];
    const ROB_A: [f64; 8] = [
        -0.1686746987951807,
        -0.8433734939759037,
        0.1686746987951807,
        -0.4578313253012048,
        1.4698795180722892,
        0.9879518072289156,
        -0.6987951807228916,
        0.3132530120481928,
    ];
    const ROB_B: [f64; 8] = [
        -0.07092198581560284,
        0.7801418439716312,
        -0.3546099290780142,
        5.035460992907802,
        -0.2127659574468085,
        1.0638297872340425,
        0.07092198581560284,
        -0.1276595744680851,
    ];
    const LOG_STD_B: [f64; 8] = [
        -0.4812597155650024,
        0.5360618525650647,
        -1.2448605782652957,
        2.081939778907347,
        -0.7990702222818671,
        0.7390689199109707,
        -0.234105767526284,
        -0.5977742677449351,
    ];
    const LOG_STD_PARAMS: [f64; 2] = [5.045767360814516, 0.8948325198332329];
    const Q_B_10_90: [f64; 2] = [67.5, 509.9999999999999];
    const Q_A_05_95: [f64; 2] = [-1.7375, 9.124999999999998];
    const Q_A_0_1_033: [f64; 3] = [-2.0, 10.0, 0.4650000000000001];
    const WINS_B: [f64; 8] = [
        100.0,
        250.0,
        67.5,
        509.9999999999999,
        75.0,
        300.0,
        125.0,
        90.0,
    ];
    /// Rows of `[d standardised and imputed, d missing indicator]`.
    const NAN_STD_IMPUTE: [[f64; 2]; 8] = [
        [-1.0879368351963499, 0.0],
        [-0.22903933372554738, 1.0],
        [-0.40081883401970786, 0.0],
        [-0.05725983343138693, 0.0],
        [-0.22903933372554738, 1.0],
        [2.0040941700985386, 0.0],
        [-0.7443778346080289, 0.0],
        [0.28629916715693404, 0.0],
    ];
    const STD_NEW: [[f64; 3]; 2] = [
        [-0.7287828881031496, -0.7736823472829737, 0.0],
        [24.62018713287597, -0.8582377950734627, 1.0],
    ];
    const ROB_NEW: [[f64; 3]; 2] = [
        [-0.4578313253012048, -0.524822695035461, 0.0],
        [18.819277108433734, -0.6666666666666666, 1.0],
    ];

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn fixture() -> FeatureMatrix {
        FeatureMatrix::from_columns(
            ids(8),
            vec![
                ("a".into(), A.to_vec()),
                ("b".into(), B.to_vec()),
                ("c".into(), vec![3.0; 8]),
            ],
        )
        .unwrap()
    }

    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= 1e-12 * want.abs().max(1.0)
    }

    fn assert_column(m: &FeatureMatrix, name: &str, want: &[f64]) {
        let got = m.column(name).unwrap().to_vec();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, *w), "{name}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn standardize_matches_sklearn_standard_scaler() {
        let m = fixture();
        let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
        for (k, c) in t.columns().iter().enumerate() {
            let FittedStep::Standardize { mean, scale } = c.steps[0] else {
                panic!("{c:?}")
            };
            assert!(
                close(mean, STD_MEAN[k]) && close(scale, STD_SCALE[k]),
                "{c:?}"
            );
        }
        let out = t.apply(&m).unwrap();
        assert_eq!(out.names(), ["a", "b", "c"]);
        assert_column(&out, "a", &STD_A);
        assert_column(&out, "b", &STD_B);
        // The constant column maps to exactly 0.
        assert!(out.column("c").unwrap().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn robust_matches_sklearn_robust_scaler() {
        let m = fixture();
        let t = FittedTransform::fit(&m, &TransformSpec::new(vec![Step::Robust])).unwrap();
        for (k, c) in t.columns().iter().enumerate() {
            assert_eq!(
                c.steps,
                [FittedStep::Robust {
                    center: ROB_CENTER[k],
                    scale: ROB_SCALE[k]
                }]
            );
        }
        let out = t.apply(&m).unwrap();
        assert_column(&out, "a", &ROB_A);
        assert_column(&out, "b", &ROB_B);
        assert!(out.column("c").unwrap().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn log1p_then_standardize_chain() {
        let m = fixture().select(&["b"]).unwrap();
        let spec =
            TransformSpec::new(vec![]).with_column("b", vec![Step::Log1p, Step::Standardize]);
        let t = FittedTransform::fit(&m, &spec).unwrap();
        let FittedStep::Standardize { mean, scale } = t.columns()[0].steps[1] else {
            panic!()
        };
        assert!(close(mean, LOG_STD_PARAMS[0]) && close(scale, LOG_STD_PARAMS[1]));
        let out = t.apply(&m).unwrap();
        assert_column(&out, "b", &LOG_STD_B);
        // Inverse maps back to original units.
        for (y, x) in out.column("b").unwrap().iter().zip(B) {
            let back = t.inverse_column("b", *y).unwrap();
            assert!((back - x).abs() <= 1e-9 * x, "{back} vs {x}");
        }
    }

    #[test]
    fn quantiles_and_winsorize_match_numpy() {
        // Bit for bit: numpy's interpolation is reproduced exactly.
        use crate::stats::quantile;
        assert_eq!(quantile(&B, 0.1), Some(Q_B_10_90[0]));
        assert_eq!(quantile(&B, 0.9), Some(Q_B_10_90[1]));
        assert_eq!(quantile(&A, 0.05), Some(Q_A_05_95[0]));
        assert_eq!(quantile(&A, 0.95), Some(Q_A_05_95[1]));
        for (q, want) in [0.0, 1.0, 0.33].into_iter().zip(Q_A_0_1_033) {
            assert_eq!(quantile(&A, q), Some(want));
        }
        assert_eq!(median(&A), Some(ROB_CENTER[0]));
        assert_eq!(median(&[f64::NAN, 2.0, f64::INFINITY]), Some(2.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&A, 1.5), None);
        assert_eq!(quantile(&A, f64::NAN), None);

        let m = fixture().select(&["b"]).unwrap();
        let spec = TransformSpec::new(vec![Step::Winsorize {
            lower: 0.1,
            upper: 0.9,
        }]);
        let t = FittedTransform::fit(&m, &spec).unwrap();
        assert_eq!(
            t.columns()[0].steps,
            [FittedStep::Winsorize {
                lower: Q_B_10_90[0],
                upper: Q_B_10_90[1]
            }]
        );
        assert_eq!(t.apply(&m).unwrap().column("b").unwrap().to_vec(), WINS_B);
        assert_eq!(t.inverse_column("b", 42.0), Some(42.0));
        for bad in [(0.9, 0.1), (-0.1, 0.5), (0.1, f64::NAN)] {
            let spec = TransformSpec::new(vec![Step::Winsorize {
                lower: bad.0,
                upper: bad.1,
            }]);
            assert!(matches!(
                FittedTransform::fit(&m, &spec),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }

    #[test]
    fn missing_values_are_imputed_with_an_indicator() {
        let d = vec![1.0, f64::NAN, 3.0, 4.0, f64::NAN, 10.0, 2.0, 5.0];
        let m =
            FeatureMatrix::from_columns(ids(8), vec![("d".into(), d), ("full".into(), A.to_vec())])
                .unwrap();
        let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
        assert_eq!(t.output_names(), ["d", "d:missing", "full"]);
        assert_eq!(t.columns()[0].missing_at_fit, 2);
        let (out, report) = t.apply_with(&m, &[]).unwrap();
        for (r, want) in NAN_STD_IMPUTE.iter().enumerate() {
            let row = out.values().row(r).to_vec();
            assert!(
                close(row[0], want[0]) && row[1] == want[1],
                "row {r}: {row:?}"
            );
        }
        assert_column(&out, "full", &STD_A);
        assert_eq!(
            report.imputed,
            [("d".to_owned(), 2), ("full".to_owned(), 0)]
        );
        // A column complete at fit time gets no indicator, but a missing value
        // at apply time is still imputed (with its fitted median).
        let new = FeatureMatrix::from_columns(
            ids(2),
            vec![
                ("full".into(), vec![f64::NAN, f64::NEG_INFINITY]),
                ("d".into(), vec![f64::INFINITY, 4.0]),
            ],
        )
        .unwrap();
        let out = t.apply(&new).unwrap();
        let full_median = t.columns()[1].median;
        assert!(close(full_median, median(&STD_A).unwrap()));
        assert_eq!(out.column("full").unwrap().to_vec(), [full_median; 2]);
        assert_eq!(out.column("d:missing").unwrap().to_vec(), [1.0, 0.0]);
        // Without indicators; and rejecting.
        let no_ind =
            TransformSpec::default().with_missing(Missing::ImputeMedian { indicator: false });
        let t = FittedTransform::fit(&m, &no_ind).unwrap();
        assert_eq!(t.output_names(), ["d", "full"]);
        let reject = TransformSpec::default().with_missing(Missing::Reject);
        assert!(matches!(
            FittedTransform::fit(&m, &reject),
            Err(Error::InvalidValue {
                what: "feature column",
                ..
            })
        ));
        let t = FittedTransform::fit(&m.select(&["full"]).unwrap(), &reject).unwrap();
        assert!(t.apply(&new).is_err());
    }

    #[test]
    fn a_transform_applied_in_place_equals_one_applied_to_a_copy() {
        // Rows over several blocks, missing values imputed without indicators.
        let n = 10_000;
        let values = Array2::from_shape_fn((n, 3), |(r, j)| match (r * 7 + j) % 97 {
            0 => f64::NAN,
            k => (k as f64) * (j as f64 + 1.0),
        });
        let ids = (0..n).map(|r| format!("c{r}")).collect();
        let names = vec!["a".into(), "b".into(), "c".into()];
        let m = FeatureMatrix::new(ids, names, values).unwrap();
        let spec = TransformSpec::new(vec![Step::Log1p, Step::Standardize])
            .with_missing(Missing::ImputeMedian { indicator: false });
        let t = FittedTransform::fit(&m, &spec).unwrap();
        let copied = t.apply(&m).unwrap();
        let in_place = t.apply_owned(m).unwrap();
        assert_eq!(copied.names(), in_place.names());
        assert_eq!(copied.customer_ids(), in_place.customer_ids());
        assert!(
            copied
                .values()
                .iter()
                .zip(in_place.values())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let rejecting = FittedTransform::fit(
            &copied,
            &TransformSpec::new(vec![]).with_missing(Missing::Reject),
        )
        .unwrap();
        let mut holed = copied.clone();
        holed.values_mut()[[5000, 1]] = f64::NAN;
        assert!(matches!(
            rejecting.apply_owned(holed),
            Err(Error::InvalidValue {
                what: "feature column",
                ..
            })
        ));
    }

    #[test]
    fn log1p_below_minus_one_is_missing() {
        let m = FeatureMatrix::from_columns(ids(4), vec![("x".into(), vec![-2.0, -1.0, 0.0, 3.0])])
            .unwrap();
        let t = FittedTransform::fit(&m, &TransformSpec::new(vec![Step::Log1p])).unwrap();
        assert_eq!(t.columns()[0].missing_at_fit, 2);
        let out = t.apply(&m).unwrap();
        // Median of ln 1 and ln 4 imputed.
        let med = (0.0 + 4.0f64.ln()) / 2.0;
        assert_eq!(
            out.column("x").unwrap().to_vec(),
            [med, med, 0.0, 4.0f64.ln()]
        );
        assert_eq!(
            out.column("x:missing").unwrap().to_vec(),
            [1.0, 1.0, 0.0, 0.0]
        );
    }

    #[test]
    fn one_hot_with_unknown_category() {
        let m = fixture();
        let mut t =
            FittedTransform::fit(&m.select(&["a"]).unwrap(), &TransformSpec::default()).unwrap();
        t.fit_one_hot("region", &["north", "south", "north", "east"])
            .unwrap();
        assert_eq!(t.one_hot()[0].levels(), ["east", "north", "south"]);
        assert_eq!(
            t.output_names(),
            ["a", "region=east", "region=north", "region=south"]
        );
        assert!(
            matches!(
                t.fit_one_hot("region", &["x"]),
                Err(Error::Duplicate { ref key, .. }) if key == "region"
            ),
            "fitted twice"
        );
        assert!(matches!(
            t.apply(&m),
            Err(Error::MissingColumns { ref columns, .. }) if columns == &["region"]
        ));
        let regions: [&str; 8] = [
            "south", "west", "north", "east", "", "north", "south", "south",
        ];
        let (out, report) = t.apply_with(&m, &[("region", &regions)]).unwrap();
        assert_eq!(out.n_features(), 4);
        assert_eq!(out.values().row(0).to_vec()[1..], [0.0, 0.0, 1.0], "south");
        assert_eq!(out.values().row(1).to_vec()[1..], [0.0, 0.0, 0.0], "west");
        assert_eq!(out.values().row(4).to_vec()[1..], [0.0, 0.0, 0.0], "empty");
        assert_eq!(report.unknown_categories, [("region".to_owned(), 2)]);
        assert!(matches!(t.apply_with(&m, &[]), Err(Error::NotFound { .. })));
        assert!(t.apply_with(&m, &[("region", &regions[..3])]).is_err());
        assert!(
            t.apply_with(&m, &[("region", &regions), ("region", &regions)])
                .is_err()
        );
        assert_eq!(t.inverse_column("region=north", 0.25), Some(0.25));
        // An output name clash is refused and leaves the transform unchanged.
        let mut u =
            FittedTransform::fit(&m.select(&["a"]).unwrap(), &TransformSpec::default()).unwrap();
        u.fit_one_hot("x", &["y=z"]).unwrap();
        assert!(u.fit_one_hot("x=y", &["z"]).is_err());
        assert_eq!(u.one_hot().len(), 1);
    }

    #[test]
    fn serde_round_trip_gives_identical_output() {
        let mut m = fixture();
        m.push_column("d", vec![1.0, f64::NAN, 3.0, 4.0, f64::NAN, 10.0, 2.0, 5.0])
            .unwrap();
        let spec = TransformSpec::new(vec![Step::Robust])
            .with_column("b", vec![Step::Log1p, Step::Standardize])
            .with_column(
                "a",
                vec![
                    Step::Winsorize {
                        lower: 0.05,
                        upper: 0.95,
                    },
                    Step::Standardize,
                ],
            );
        let spec_back: TransformSpec =
            serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(spec_back, spec);
        let mut t = FittedTransform::fit(&m, &spec).unwrap();
        t.fit_one_hot("tier", &["gold", "silver"]).unwrap();
        let json = serde_json::to_string(&t).unwrap();
        let back: FittedTransform = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        let tiers = ["gold"; 8];
        let (x, _) = t.apply_with(&m, &[("tier", &tiers)]).unwrap();
        let (y, _) = back.apply_with(&m, &[("tier", &tiers)]).unwrap();
        assert_eq!(x.names(), y.names());
        assert!(
            x.values()
                .iter()
                .zip(y.values())
                .all(|(p, q)| p.to_bits() == q.to_bits())
        );
        // Fitting again gives the same transform (deterministic).
        let mut again = FittedTransform::fit(&m, &spec).unwrap();
        again.fit_one_hot("tier", &["silver", "gold"]).unwrap();
        assert_eq!(serde_json::to_string(&again).unwrap(), json);
        // Tampered parameters are refused.
        assert!(json.contains(r#""median":"#));
        let bad = json.replacen(r#""scale":""#, r#""scale":"-"#, 1);
        assert_ne!(bad, json);
        assert!(matches!(
            serde_json::from_str::<FittedTransform>(&bad),
            Err(e) if e.to_string().contains("invalid parameters")
        ));
        // Parameters written as plain JSON numbers are read too.
        let step: FittedStep =
            serde_json::from_str(r#"{"standardize": {"mean": 2.5, "scale": "4"}}"#).unwrap();
        assert_eq!(
            step,
            FittedStep::Standardize {
                mean: 2.5,
                scale: 4.0
            }
        );
    }

    #[test]
    fn apply_to_new_rows_uses_fitted_parameters() {
        let m = fixture();
        let new = FeatureMatrix::from_columns(
            ids(2),
            vec![
                // Extra column, ignored; columns in another order.
                ("extra".into(), vec![1.0, 2.0]),
                ("c".into(), vec![3.0, 4.0]),
                ("b".into(), vec![20.0, -5.0]),
                ("a".into(), vec![0.0, 100.0]),
            ],
        )
        .unwrap();
        for (steps, want) in [
            (vec![Step::Standardize], STD_NEW),
            (vec![Step::Robust], ROB_NEW),
        ] {
            let t = FittedTransform::fit(&m, &TransformSpec::new(steps)).unwrap();
            let out = t.apply(&new).unwrap();
            assert_eq!(out.names(), ["a", "b", "c"]);
            assert_eq!(out.customer_ids(), new.customer_ids());
            for (r, row) in want.iter().enumerate() {
                for (j, &w) in row.iter().enumerate() {
                    assert!(close(out.values()[[r, j]], w), "{r},{j}");
                }
            }
        }
        let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
        assert!(matches!(
            t.apply(&new.select(&["a", "b"]).unwrap()),
            Err(Error::NotFound { .. })
        ));
        // Inverse of a centroid row.
        let centroid = t.inverse_row(&[0.0, 1.0, 0.0]).unwrap();
        assert!(close(centroid[0], STD_MEAN[0]));
        assert!(close(centroid[1], STD_MEAN[1] + STD_SCALE[1]));
        assert_eq!(centroid[2], 3.0);
        assert!(t.inverse_row(&[0.0]).is_err());
        assert_eq!(t.inverse_column("nope", 1.0), None);
    }

    #[test]
    fn degenerate_inputs_never_panic() {
        let steps = vec![
            Step::Winsorize {
                lower: 0.0,
                upper: 1.0,
            },
            Step::Log1p,
            Step::Robust,
            Step::Standardize,
        ];
        let cases: Vec<Vec<f64>> = vec![
            vec![],
            vec![5.0],
            vec![f64::NAN; 3],
            vec![f64::INFINITY, f64::NEG_INFINITY, f64::NAN],
            vec![-0.0, 0.0, -0.0],
            vec![f64::MAX, f64::MAX, -5.0],
            vec![f64::MAX, f64::MIN, 0.0],
            vec![1e-300, 2e-300, 3e-300],
            vec![1e300, 1e300 * (1.0 + f64::EPSILON)],
        ];
        for values in cases {
            let n = values.len();
            let m =
                FeatureMatrix::from_columns(ids(n), vec![("x".into(), values.clone())]).unwrap();
            for chain in [
                steps.clone(),
                vec![Step::Standardize],
                vec![Step::Robust],
                vec![],
            ] {
                let spec = TransformSpec::new(chain.clone());
                match FittedTransform::fit(&m, &spec) {
                    Ok(t) => {
                        let out = t.apply(&m).unwrap();
                        assert_eq!(out.n_rows(), n);
                        assert!(
                            out.values().iter().all(|v| v.is_finite()),
                            "{values:?} {chain:?}: {out:?}"
                        );
                    }
                    Err(e) => assert!(
                        matches!(
                            e,
                            Error::InvalidValue {
                                what: "feature column",
                                ..
                            }
                        ),
                        "{e}"
                    ),
                }
            }
        }
        // Standardising values near ±f64::MAX overflows the variance: an error, not a panic.
        // A matrix with no columns, and a spec naming an unknown column.
        let m = FeatureMatrix::with_customers(ids(3));
        let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
        assert_eq!(t.apply(&m).unwrap().values().dim(), (3, 0));
        let spec = TransformSpec::default().with_column("nope", vec![]);
        assert!(matches!(
            FittedTransform::fit(&m, &spec),
            Err(Error::NotFound { .. })
        ));
        // An input column already named like an indicator.
        let m = FeatureMatrix::from_columns(
            ids(2),
            vec![
                ("x".into(), vec![1.0, f64::NAN]),
                ("x:missing".into(), vec![0.0, 1.0]),
            ],
        )
        .unwrap();
        assert!(matches!(
            FittedTransform::fit(&m, &TransformSpec::default()),
            Err(Error::Duplicate { ref key, .. }) if key == "x:missing"
        ));
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::Log1p),
            Just(Step::Standardize),
            Just(Step::Robust),
            (0.0..=1.0f64, 0.0..=1.0f64).prop_map(|(a, b)| Step::Winsorize {
                lower: a.min(b),
                upper: a.max(b)
            }),
        ]
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -1e6..1e6f64,
            2 => -1e100..1e100f64,
            1 => Just(f64::NAN),
            1 => Just(0.0),
            1 => Just(-1.0),
            1 => (-3i32..3).prop_map(f64::from),
        ]
    }

    fn matrix(rows: std::ops::Range<usize>) -> impl Strategy<Value = FeatureMatrix> {
        rows.prop_flat_map(|n| {
            proptest::collection::vec(proptest::collection::vec(value(), n), 1..4)
        })
        .prop_map(|columns| {
            let n = columns[0].len();
            FeatureMatrix::from_columns(
                ids(n),
                columns
                    .into_iter()
                    .enumerate()
                    .map(|(j, c)| (format!("f{j}"), c))
                    .collect(),
            )
            .unwrap()
        })
    }

    proptest! {
        /// Selection gives exactly the median of the sorted finite values.
        #[test]
        fn median_by_selection_equals_the_sorted_median(
            values in proptest::collection::vec(
                prop_oneof![
                    8 => -1e6f64..1e6,
                    1 => Just(f64::NAN),
                    1 => Just(f64::INFINITY),
                    1 => Just(-0.0f64),
                    1 => Just(0.0f64),
                    1 => (-3i32..3).prop_map(f64::from),
                ],
                0..60,
            )
        ) {
            let sorted = sorted_finite(&values);
            let expected = (!sorted.is_empty()).then(|| median_sorted(&sorted));
            prop_assert_eq!(median(&values).map(f64::to_bits), expected.map(f64::to_bits));
        }

        #[test]
        fn output_is_always_finite(
            fit_on in matrix(0..30),
            apply_to in matrix(0..10),
            chains in proptest::collection::vec(proptest::collection::vec(step(), 0..4), 4),
            indicator in any::<bool>(),
        ) {
            let mut spec = TransformSpec::new(chains[0].clone())
                .with_missing(Missing::ImputeMedian { indicator });
            for (j, chain) in chains[1..].iter().enumerate() {
                if j < fit_on.n_features() {
                    spec = spec.with_column(format!("f{j}"), chain.clone());
                }
            }
            let t = FittedTransform::fit(&fit_on, &spec).unwrap();
            let out = t.apply(&fit_on).unwrap();
            let names = t.output_names();
            prop_assert_eq!(out.names(), names.as_slice());
            prop_assert!(out.values().iter().all(|v| v.is_finite()));
            // Another matrix: finite whenever it has the columns.
            match t.apply(&apply_to) {
                Ok(out) => prop_assert!(out.values().iter().all(|v| v.is_finite())),
                Err(e) => prop_assert!(matches!(e, Error::NotFound { .. }), "{}", e),
            }
            // And the reloaded transform gives the same output.
            let back: FittedTransform = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            let again = back.apply(&fit_on).unwrap();
            prop_assert!(out.values().iter().zip(again.values()).all(|(a, b)| a.to_bits() == b.to_bits()));
            // Taking the matrix (in place when no indicator is added) gives the same output.
            let owned = t.apply_owned(fit_on.clone()).unwrap();
            prop_assert_eq!(owned.names(), names.as_slice());
            prop_assert!(out.values().iter().zip(owned.values()).all(|(a, b)| a.to_bits() == b.to_bits()));
        }

        #[test]
        fn standardized_columns_have_mean_0_and_std_1(m in matrix(2..60)) {
            let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
            let out = t.apply(&m).unwrap();
            for (j, c) in t.columns().iter().enumerate() {
                let input = m.values().column(j).to_vec();
                let kept: Vec<f64> = out
                    .column(&c.name)
                    .unwrap()
                    .iter()
                    .zip(&input)
                    .filter(|(_, x)| x.is_finite())
                    .map(|(y, _)| *y)
                    .collect();
                if c.indicator {
                    let flags = out.column(&format!("{}:missing", c.name)).unwrap();
                    prop_assert!(flags.iter().zip(&input).all(|(f, x)| (*f == 1.0) != x.is_finite()));
                }
                let FittedStep::Standardize { scale, .. } = c.steps[0] else { unreachable!() };
                let constant = kept.len() < 2 || scale == 1.0;
                if constant {
                    continue;
                }
                let n = kept.len() as f64;
                let mean = kept.iter().sum::<f64>() / n;
                let std = (kept.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n).sqrt();
                prop_assert!(mean.abs() < 1e-9, "mean {}", mean);
                prop_assert!((std - 1.0).abs() < 1e-9, "std {}", std);
            }
        }
    }
}
