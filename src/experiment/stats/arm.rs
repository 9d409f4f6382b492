//! The sufficient statistics of one arm (one variant in one segment): its
//! sums, how they grow and merge, and the moments they give.

use serde::{Deserialize, Serialize};

use super::metric::MetricKind;
use crate::error::{Error, Result};

/// Sufficient statistics of one arm (one variant in one segment).
///
/// The metric `x` always; a second variable `y` when the table has one: the
/// CUPED covariate (pre-period value) for binomial, mean and count metrics,
/// or the denominator of a ratio metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmStats {
    /// Units.
    pub n: u64,
    /// `Σx`.
    pub sum: f64,
    /// `Σx²`.
    pub sum_sq: f64,
    /// `Σy` (0 without a second variable).
    pub second_sum: f64,
    /// `Σy²`.
    pub second_sum_sq: f64,
    /// `Σxy`.
    pub cross_sum: f64,
}

impl ArmStats {
    /// Statistics from pre-aggregated figures of the metric alone.
    pub fn from_sums(n: u64, sum: f64, sum_sq: f64) -> ArmStats {
        ArmStats {
            n,
            sum,
            sum_sq,
            ..ArmStats::default()
        }
    }

    /// The same statistics with the second variable's sums (covariate or denominator).
    pub fn with_second(mut self, sum: f64, sum_sq: f64, cross_sum: f64) -> ArmStats {
        self.second_sum = sum;
        self.second_sum_sq = sum_sq;
        self.cross_sum = cross_sum;
        self
    }

    /// Adds one unit.
    #[inline]
    pub fn push(&mut self, x: f64, y: f64) {
        self.n += 1;
        self.sum += x;
        self.sum_sq += x * x;
        self.second_sum += y;
        self.second_sum_sq += y * y;
        self.cross_sum += x * y;
    }

    /// Adds another partition's statistics: the result is the statistics of the union.
    pub fn merge(&mut self, other: &ArmStats) {
        self.n += other.n;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        self.second_sum += other.second_sum;
        self.second_sum_sq += other.second_sum_sq;
        self.cross_sum += other.cross_sum;
    }

    /// Mean of the metric (0 without units).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// Mean of the second variable (0 without units).
    pub fn second_mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.second_sum / self.n as f64
        }
    }

    /// Sample variance of the metric, `(Σx² − (Σx)²/n) / (n − 1)` (0 below two units).
    pub fn variance(&self) -> f64 {
        sample_variance(self.n, self.sum, self.sum_sq)
    }

    /// Sample variance of the second variable.
    pub fn second_variance(&self) -> f64 {
        sample_variance(self.n, self.second_sum, self.second_sum_sq)
    }

    /// Sample covariance of the metric and the second variable.
    pub fn covariance(&self) -> f64 {
        if self.n <= 1 {
            return 0.0;
        }
        let n = self.n as f64;
        (self.cross_sum - self.sum * self.second_sum / n) / (n - 1.0)
    }

    /// Checks that the sums could come from real data: finite, squares not
    /// negative, and a binomial arm's count of successes between 0 and `n`.
    pub fn check(&self, kind: MetricKind) -> Result<()> {
        let fields = [
            ("sum", self.sum),
            ("sum_sq", self.sum_sq),
            ("second_sum", self.second_sum),
            ("second_sum_sq", self.second_sum_sq),
            ("cross_sum", self.cross_sum),
        ];
        for (name, v) in fields {
            if !v.is_finite() {
                return Err(Error::param(name, v, "must be finite"));
            }
        }
        if self.sum_sq < 0.0 || self.second_sum_sq < 0.0 {
            return Err(Error::param(
                "sum_sq",
                self.sum_sq.min(self.second_sum_sq),
                "a sum of squares cannot be negative",
            ));
        }
        if kind == MetricKind::Binomial && (self.sum < 0.0 || self.sum > self.n as f64) {
            return Err(Error::param(
                "sum",
                self.sum,
                format!("a binomial arm has between 0 and n = {} successes", self.n),
            ));
        }
        Ok(())
    }
}

fn sample_variance(n: u64, sum: f64, sum_sq: f64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let n = n as f64;
    ((sum_sq - sum * sum / n) / (n - 1.0)).max(0.0)
}
#[cfg(test)]
mod tests {
    use crate::experiment::stats::{
        ExperimentStats, Metric, MetricKind, Observation, SecondValue, names,
    };

    #[test]
    fn sums_and_moments() {
        let mut s = ExperimentStats::new(
            Metric::new("revenue", MetricKind::Mean),
            names(&["a", "b"]),
            names(&["all"]),
            SecondValue::Covariate,
        )
        .unwrap();
        for (v, x, z) in [(0, 1.0, 2.0), (0, 3.0, 1.0), (1, 5.0, 0.0), (0, 2.0, 4.0)] {
            s.add(Observation {
                variant: v,
                segment: 0,
                value: x,
                second: Some(z),
            })
            .unwrap();
        }
        let a = s.arm(0, 0);
        assert_eq!(a.n, 3);
        assert_eq!(a.mean(), 2.0);
        assert_eq!(a.variance(), 1.0);
        // numpy.cov([1, 3, 2], [2, 1, 4])[0, 1] = -0.5
        assert!((a.covariance() - -0.5).abs() < 1e-12);
        assert!((a.second_variance() - 7.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.units_per_variant(), vec![3, 1]);
    }
}
