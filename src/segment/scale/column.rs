//! One numeric column's fitted steps: fitting them on its values, applying and inverting them.

use serde::{Deserialize, Serialize};

use super::{Missing, Step};
use crate::error::{Error, Result};
use crate::stats::{median_mut, median_sorted, quantile_sorted, sorted_finite};

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
    pub(super) fn is_valid(&self) -> bool {
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
    pub(super) fn indicator_name(&self) -> String {
        format!("{}:missing", self.name)
    }

    /// Transforms one value; `None` when it is (or becomes) missing.
    pub(super) fn transform(&self, x: f64) -> Option<f64> {
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
    pub(super) fn invert(&self, y: f64) -> f64 {
        self.steps.iter().rev().fold(y, |v, s| s.invert(v))
    }
}

/// Fits one column's steps and missing-value median.
pub(super) fn fit_column(
    name: &str,
    mut values: Vec<f64>,
    steps: &[Step],
    missing: Missing,
) -> Result<FittedColumn> {
    if !steps.is_empty() {
        for v in &mut values {
            if !v.is_finite() {
                *v = f64::NAN;
            }
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
    // Missing: every value that is not finite (NaN once a step has run).
    let missing_at_fit = values.iter().filter(|v| !v.is_finite()).count();
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
        // The values are not needed any more: reordered in place.
        median: median_mut(&mut values).unwrap_or(0.0),
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
