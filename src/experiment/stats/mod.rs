//! Mergeable sufficient statistics of an experiment, per variant × segment.
//!
//! Every frequentist, CUPED, sequential and Bayesian figure of
//! [`evaluate`](super::evaluate) for binomial, mean, count and ratio metrics
//! is a function of a handful of sums per arm (an arm is one variant inside
//! one segment):
//!
//! | metric | sums |
//! |---|---|
//! | binomial, mean, count | `n`, `Σx`, `Σx²` |
//! | … with a CUPED covariate `z` ([`SecondValue::Covariate`]) | also `Σz`, `Σz²`, `Σxz` |
//! | ratio `Σx / Σy` (e.g. revenue per order, clicks per session; [`SecondValue::Denominator`]) | `n`, `Σx`, `Σx²`, `Σy`, `Σy²`, `Σxy` |
//!
//! Sums add, so statistics built on separate partitions (days, shards,
//! services) [`merge`](ExperimentStats::merge) into exactly the statistics of
//! the union, and a warehouse can hand over pre-aggregated sums
//! ([`ArmStats::from_sums`]) instead of raw rows. This is how GrowthBook's
//! gbstats takes its input (`SampleMeanStatistic`, `ProportionStatistic`,
//! `RatioStatistic`, `RegressionAdjustedStatistic`), and the formulas of
//! [`evaluate`](super::evaluate) are theirs.
//!
//! **Winsorising.** A few extreme spenders can dominate a revenue metric's
//! variance. A [`Metric::cap`] replaces every value above it by the cap while
//! the sums are built; because the cap is a fixed number, capped partitions
//! still merge exactly. [`percentile_cap`] derives the cap from the data
//! (e.g. the 99th percentile), which needs one extra pass over the values.
//!
//! **Quantile metrics** (median or p90 order value, time to first purchase)
//! have no finite sufficient statistics; [`QuantileStats`] holds the sample
//! quantile and the order statistics that bound it, from which
//! [`evaluate::compare_quantiles`](super::evaluate::compare_quantiles) derives
//! an asymptotic interval for the difference.

mod arm;
mod columns;
mod experiment;
mod metric;
mod quantile;

pub use arm::ArmStats;
pub use columns::{ArmIndex, MetricColumn};
pub use experiment::{ExperimentStats, Observation};
pub use metric::{Metric, MetricKind, SecondValue};
pub use quantile::{QuantileStats, percentile_cap};

/// Owned names from string literals, for the tests.
#[cfg(test)]
fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
