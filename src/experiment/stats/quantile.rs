//! Quantile metrics: a sample quantile with its bounding order statistics,
//! and the percentile cap used for winsorising.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stats::normal_quantile;

/// The `q`-quantile of `values` (linear interpolation between order
/// statistics, numpy's default), as a winsorising cap for [`Metric::cap`](super::Metric::cap).
///
/// # Errors
/// [`Error::EmptyInput`] for no values, [`Error::NonFinite`] for a NaN or
/// infinite value, [`Error::InvalidParameter`] for `q` outside [0, 1].
pub fn percentile_cap(values: &[f64], q: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&q) {
        return Err(Error::param("q", q, "a quantile level lies in [0, 1]"));
    }
    let sorted = finite_sorted(values)?;
    Ok(crate::stats::quantile_sorted(&sorted, q))
}

fn finite_sorted(values: &[f64]) -> Result<Vec<f64>> {
    if values.is_empty() {
        return Err(Error::empty("values"));
    }
    if let Some(row) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::non_finite("values", row, "value", values[row]));
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    Ok(sorted)
}

/// A sample quantile of one arm and the order statistics that bound it.
///
/// With `n` units and level `ν`, the rank of the sample quantile is
/// approximately normal with standard deviation `√(nν(1 − ν))`, so the
/// quantiles at `ν ± z₀.₉₇₅ √(ν(1 − ν)/n)` bound a 95 % interval for the
/// population quantile and `((upper − lower) / (2 z₀.₉₇₅))²` estimates the
/// sample quantile's variance without estimating a density (the
/// order-statistic method used by GrowthBook's `QuantileStatistic`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantileStats {
    /// Units.
    pub n: u64,
    /// Quantile level ν in (0, 1), e.g. 0.5 for the median, 0.9 for p90.
    pub level: f64,
    /// The sample quantile.
    pub estimate: f64,
    /// The quantile at `ν − z √(ν(1 − ν)/n)`.
    pub lower: f64,
    /// The quantile at `ν + z √(ν(1 − ν)/n)`.
    pub upper: f64,
}

impl QuantileStats {
    /// The `level` quantile of `values` with its bounding order statistics.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a level outside (0, 1),
    /// [`Error::EmptyInput`] for no values, [`Error::NonFinite`] for a NaN or
    /// infinite value.
    pub fn from_values(values: &[f64], level: f64) -> Result<QuantileStats> {
        if !(level > 0.0 && level < 1.0) {
            return Err(Error::param(
                "level",
                level,
                "a quantile level lies strictly between 0 and 1",
            ));
        }
        let sorted = finite_sorted(values)?;
        let n = sorted.len();
        let spread = normal_quantile(0.975) * (level * (1.0 - level) / n as f64).sqrt();
        Ok(QuantileStats {
            n: n as u64,
            level,
            estimate: crate::stats::quantile_sorted(&sorted, level),
            lower: crate::stats::quantile_sorted(&sorted, level - spread),
            upper: crate::stats::quantile_sorted(&sorted, level + spread),
        })
    }

    /// The variance of one unit's contribution, `(n − 1)((upper − lower) / (2 z₀.₉₇₅))²`,
    /// so that the sample quantile's variance is this over `n`.
    pub fn unit_variance(&self) -> f64 {
        if self.n <= 1 {
            return 0.0;
        }
        let width = (self.upper - self.lower) / (2.0 * normal_quantile(0.975));
        (self.n - 1) as f64 * width * width
    }

    /// Whether `n` is too small for the bounding quantiles to lie inside the
    /// sample (`n ≤ z² ν/(1 − ν)` or `n ≤ z² (1 − ν)/ν`).
    pub fn too_few_units(&self) -> bool {
        let z2 = normal_quantile(0.975).powi(2);
        let n = self.n as f64;
        n <= z2 * self.level / (1.0 - self.level) || n <= z2 * (1.0 - self.level) / self.level
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_bounds_match_numpy() {
        let values: Vec<f64> = (1..=101).map(|i| ((i * 37) % 101) as f64).collect();
        let q = QuantileStats::from_values(&values, 0.5).unwrap();
        // values are a permutation of 0..=100:
        // numpy.quantile(numpy.arange(101), [0.5, 0.5 - s, 0.5 + s]) with
        // s = scipy.stats.norm.ppf(0.975) * sqrt(0.25 / 101) = 0.0975118528044755
        // -> [50.0, 40.24881471955245, 59.75118528044755] (numpy 2.4.6, scipy 1.17.1)
        assert_eq!(q.estimate, 50.0);
        assert!((q.lower - 40.24881471955245).abs() < 1e-6, "{}", q.lower);
        assert!((q.upper - 59.75118528044755).abs() < 1e-6, "{}", q.upper);
        assert!(!q.too_few_units());
        assert!(
            QuantileStats::from_values(&values[..3], 0.9)
                .unwrap()
                .too_few_units()
        );
        assert!(matches!(
            QuantileStats::from_values(&values, 1.0),
            Err(Error::InvalidParameter { name: "level", .. })
        ));
        assert!(matches!(
            QuantileStats::from_values(&[1.0, f64::NAN], 0.5),
            Err(Error::NonFinite { row: 1, .. })
        ));
        assert!(matches!(
            QuantileStats::from_values(&[], 0.5),
            Err(Error::EmptyInput { .. })
        ));
    }
}
