//! The metric: what kind of number it is per unit, its winsorising cap and
//! direction, and which values it admits into the sums.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What kind of number the metric is per unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// 0 or 1 per unit (converted, retained, clicked). Tested with the pooled
    /// two-proportion z-test; the variance is `p(1 − p)`.
    Binomial,
    /// Any finite number per unit (revenue per customer, basket size).
    Mean,
    /// A non-negative whole number per unit (orders, visits); evaluated as a mean.
    Count,
    /// `Σ numerator / Σ denominator` over the units of an arm (revenue per
    /// order, clicks per session), with the delta-method variance. The
    /// observation's second value is the denominator.
    Ratio,
}

impl MetricKind {
    /// Lower-case name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Binomial => "binomial",
            MetricKind::Mean => "mean",
            MetricKind::Count => "count",
            MetricKind::Ratio => "ratio",
        }
    }
}

/// What the second value of an observation holds, if the statistics take one.
///
/// The second value is summed beside the metric (`Σy`, `Σy²`, `Σxy`), and
/// what it means depends on the metric: a ratio metric divides by it, the
/// other kinds can use it as a CUPED covariate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondValue {
    /// No second value: observations carry the metric alone.
    #[default]
    None,
    /// A pre-period covariate of a binomial, mean or count metric, for CUPED.
    Covariate,
    /// The denominator of a ratio metric (which needs one).
    Denominator,
}

impl SecondValue {
    /// The role a column of second values plays for a metric of `kind`:
    /// the denominator of a ratio metric, else a covariate; `None` without a column.
    pub(crate) fn of_column(kind: MetricKind, present: bool) -> SecondValue {
        match (present, kind) {
            (false, _) => SecondValue::None,
            (true, MetricKind::Ratio) => SecondValue::Denominator,
            (true, _) => SecondValue::Covariate,
        }
    }

    /// Whether observations carry a second value.
    pub fn is_some(self) -> bool {
        self != SecondValue::None
    }

    /// Checks that a metric of `kind` takes this second value: a ratio
    /// metric needs its denominator, and only a ratio metric has one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`second`) otherwise.
    pub fn check_for(self, kind: MetricKind) -> Result<()> {
        match (kind, self) {
            (MetricKind::Ratio, SecondValue::Denominator)
            | (
                MetricKind::Binomial | MetricKind::Mean | MetricKind::Count,
                SecondValue::None | SecondValue::Covariate,
            ) => Ok(()),
            (MetricKind::Ratio, _) => Err(Error::param(
                "second",
                format!("{self:?}"),
                "a ratio metric needs its denominator as the second value",
            )),
            (_, SecondValue::Denominator) => Err(Error::param(
                "second",
                "Denominator",
                format!(
                    "only a ratio metric has a denominator; a {} metric's second value is a covariate",
                    kind.as_str()
                ),
            )),
        }
    }
}

/// A metric: its name, kind, optional winsorising cap and direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Name shown in reports.
    pub name: String,
    /// What the per-unit values are.
    pub kind: MetricKind,
    /// Values above the cap count as the cap (mean and count metrics; for
    /// ratio metrics the numerator). `None`: no capping.
    pub cap: Option<f64>,
    /// Lower values are better (churn, support contacts, refunds): chance to
    /// win, risk and winners then favour decreases.
    pub lower_is_better: bool,
}

impl Metric {
    /// A metric of `kind` without cap where higher is better.
    pub fn new(name: impl Into<String>, kind: MetricKind) -> Metric {
        Metric {
            name: name.into(),
            kind,
            cap: None,
            lower_is_better: false,
        }
    }

    /// The same metric, winsorised at `cap`.
    pub fn with_cap(mut self, cap: f64) -> Metric {
        self.cap = Some(cap);
        self
    }

    /// The same metric, where lower values are better.
    pub fn lower_is_better(mut self) -> Metric {
        self.lower_is_better = true;
        self
    }

    pub(super) fn check(&self) -> Result<()> {
        if let Some(cap) = self.cap {
            if !cap.is_finite() {
                return Err(Error::param("cap", cap, "must be a finite number"));
            }
            if self.kind == MetricKind::Binomial {
                return Err(Error::param(
                    "cap",
                    cap,
                    "binomial metrics take 0 or 1 and are never capped",
                ));
            }
        }
        Ok(())
    }

    /// The value as it enters the sums, or why it cannot.
    #[inline]
    pub(super) fn admit(&self, value: f64) -> std::result::Result<f64, Refusal> {
        if !value.is_finite() {
            return Err(Refusal::NonFiniteValue);
        }
        match self.kind {
            MetricKind::Binomial => {
                if value == 0.0 || value == 1.0 {
                    Ok(value)
                } else {
                    Err(Refusal::Value("a binomial metric takes 0 or 1"))
                }
            }
            MetricKind::Count => {
                if value < 0.0 || value.fract() != 0.0 {
                    Err(Refusal::Value(
                        "a count metric takes non-negative whole numbers",
                    ))
                } else {
                    Ok(self.cap.map_or(value, |c| value.min(c)))
                }
            }
            MetricKind::Mean | MetricKind::Ratio => Ok(self.cap.map_or(value, |c| value.min(c))),
        }
    }
}

/// Why an observation cannot enter the sums, and in which of its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The value (a ratio's numerator) is NaN or infinite.
    NonFiniteValue,
    /// The metric does not take the value.
    Value(&'static str),
    /// The second value is NaN or infinite.
    NonFiniteSecond,
    /// The second value is missing, or given where the statistics take none.
    Second(&'static str),
}

impl Refusal {
    /// The error for row `row` of `metric`'s observations holding `value`
    /// and `second`: [`Error::NonFinite`] or [`Error::InvalidRow`], with
    /// the field `value` or `second`.
    pub(super) fn at(self, metric: &Metric, row: usize, value: f64, second: Option<f64>) -> Error {
        let what = format!("observations of {}", metric.name);
        match self {
            Refusal::NonFiniteValue => Error::non_finite(what, row, "value", value),
            Refusal::Value(reason) => {
                Error::invalid_row(what, row, "value", value.to_string(), reason)
            }
            Refusal::NonFiniteSecond => {
                Error::non_finite(what, row, "second", second.unwrap_or(f64::NAN))
            }
            Refusal::Second(reason) => Error::invalid_row(
                what,
                row,
                "second",
                second.map_or_else(|| "none".to_owned(), |y| y.to_string()),
                reason,
            ),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::stats::{ExperimentStats, names, percentile_cap};

    #[test]
    fn cap_winsorises_as_values_arrive() {
        let metric = Metric::new("revenue", MetricKind::Mean).with_cap(10.0);
        let s = ExperimentStats::from_columns(
            metric,
            names(&["a", "b"]),
            names(&["all"]),
            &[0u8, 0, 1],
            None,
            &[5.0, 50.0, 11.0],
            None,
        )
        .unwrap();
        assert_eq!(s.arm(0, 0).sum, 15.0);
        assert_eq!(s.arm(0, 1).sum, 10.0);
        // numpy.quantile([1, 2, 3, 4, 100], 0.9) = 61.6
        assert!((percentile_cap(&[1.0, 2.0, 3.0, 4.0, 100.0], 0.9).unwrap() - 61.6).abs() < 1e-12);
        assert!(matches!(
            percentile_cap(&[], 0.5),
            Err(Error::EmptyInput { .. })
        ));
        assert!(matches!(
            Metric::new("c", MetricKind::Binomial).with_cap(1.0).check(),
            Err(Error::InvalidParameter { name: "cap", .. })
        ));
        assert!(matches!(
            Metric::new("m", MetricKind::Mean)
                .with_cap(f64::NAN)
                .check(),
            Err(Error::InvalidParameter { name: "cap", .. })
        ));
    }
}
