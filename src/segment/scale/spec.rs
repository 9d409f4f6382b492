//! What to do to each column: the steps, the missing-value policy and the spec that names them per column.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
