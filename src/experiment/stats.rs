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
//! | … with a CUPED covariate `z` | also `Σz`, `Σz²`, `Σxz` |
//! | ratio `Σx / Σy` (e.g. revenue per order, clicks per session) | `n`, `Σx`, `Σx²`, `Σy`, `Σy²`, `Σxy` |
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

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::segment::segments::Segments;
use crate::stats::normal_quantile;

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

    fn check(&self) -> Result<()> {
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
    fn admit(&self, value: f64) -> std::result::Result<f64, &'static str> {
        if !value.is_finite() {
            return Err("the value is not a finite number");
        }
        match self.kind {
            MetricKind::Binomial => {
                if value == 0.0 || value == 1.0 {
                    Ok(value)
                } else {
                    Err("a binomial metric takes 0 or 1")
                }
            }
            MetricKind::Count => {
                if value < 0.0 || value.fract() != 0.0 {
                    Err("a count metric takes non-negative whole numbers")
                } else {
                    Ok(self.cap.map_or(value, |c| value.min(c)))
                }
            }
            MetricKind::Mean | MetricKind::Ratio => Ok(self.cap.map_or(value, |c| value.min(c))),
        }
    }
}

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

/// One raw observation: a unit's value in an arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Variant index.
    pub variant: usize,
    /// Segment index (0 when the table has one segment).
    pub segment: usize,
    /// The metric's value (a ratio metric's numerator).
    pub value: f64,
    /// The CUPED covariate or the ratio's denominator, when the table has one.
    pub second: Option<f64>,
}

/// Sufficient statistics of one metric for every variant × segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentStats {
    metric: Metric,
    variants: Vec<String>,
    segments: Vec<String>,
    has_second: bool,
    /// Segment-major: `arms[segment * variants + variant]`.
    arms: Vec<ArmStats>,
}

/// Rows per chunk of the parallel column pass; fixed so that the summation
/// order, and so every figure, is the same on any number of threads.
const CHUNK_ROWS: usize = 1 << 17;

impl ExperimentStats {
    /// Empty statistics for `variants` (at least two, distinct) in `segments`
    /// (at least one, distinct; pass `["all"]` for an unsegmented test).
    /// `has_second`: observations carry a second value (a CUPED covariate, or a
    /// ratio metric's denominator, which ratio metrics require).
    pub fn new(
        metric: Metric,
        variants: Vec<String>,
        segments: Vec<String>,
        has_second: bool,
    ) -> Result<ExperimentStats> {
        metric.check()?;
        if variants.len() < 2 {
            return Err(Error::param(
                "variants",
                variants.len(),
                "an experiment compares at least two variants",
            ));
        }
        if segments.is_empty() {
            return Err(Error::param("segments", 0, "give at least one segment"));
        }
        check_distinct("variants", &variants)?;
        check_distinct("segments", &segments)?;
        if metric.kind == MetricKind::Ratio && !has_second {
            return Err(Error::param(
                "has_second",
                false,
                "a ratio metric needs its denominator as the second value",
            ));
        }
        let arms = vec![ArmStats::default(); variants.len() * segments.len()];
        Ok(ExperimentStats {
            metric,
            variants,
            segments,
            has_second,
            arms,
        })
    }

    /// The metric.
    pub fn metric(&self) -> &Metric {
        &self.metric
    }

    /// Variant names.
    pub fn variants(&self) -> &[String] {
        &self.variants
    }

    /// Segment names.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether observations carry a second value (covariate or denominator).
    pub fn has_second(&self) -> bool {
        self.has_second
    }

    /// Whether the second value is a CUPED covariate (not a ratio's denominator).
    pub fn has_covariate(&self) -> bool {
        self.has_second && self.metric.kind != MetricKind::Ratio
    }

    /// Statistics of `variant` in `segment` (indices; panics if out of range,
    /// like slice indexing).
    pub fn arm(&self, segment: usize, variant: usize) -> &ArmStats {
        &self.arms[segment * self.variants.len() + variant]
    }

    /// Replaces one arm's statistics, e.g. with pre-aggregated sums from a warehouse.
    pub fn set_arm(&mut self, segment: usize, variant: usize, stats: ArmStats) -> Result<()> {
        stats.check(self.metric.kind)?;
        let i = self.index(variant, segment)?;
        self.arms[i] = stats;
        Ok(())
    }

    /// Per variant, the statistics summed over all segments.
    pub fn overall(&self) -> Vec<ArmStats> {
        let v = self.variants.len();
        let mut total = vec![ArmStats::default(); v];
        for (i, arm) in self.arms.iter().enumerate() {
            total[i % v].merge(arm);
        }
        total
    }

    /// Units per variant over all segments.
    pub fn units_per_variant(&self) -> Vec<u64> {
        self.overall().iter().map(|a| a.n).collect()
    }

    /// Total units.
    pub fn units(&self) -> u64 {
        self.arms.iter().map(|a| a.n).sum()
    }

    fn index(&self, variant: usize, segment: usize) -> Result<usize> {
        if variant >= self.variants.len() {
            return Err(Error::NotFound {
                what: "variant index",
                id: variant.to_string(),
            });
        }
        if segment >= self.segments.len() {
            return Err(Error::NotFound {
                what: "segment index",
                id: segment.to_string(),
            });
        }
        Ok(segment * self.variants.len() + variant)
    }

    /// Adds one observation. Errors (nothing is added): an index out of
    /// range, a non-finite value, a value the metric kind does not take, a
    /// missing or unexpected second value.
    pub fn add(&mut self, obs: Observation) -> Result<()> {
        let i = self.index(obs.variant, obs.segment)?;
        let (x, y) = self.admit(obs.value, obs.second).map_err(|reason| {
            Error::value(
                "observation",
                format!("value {} second {:?}", obs.value, obs.second),
                reason,
            )
        })?;
        self.arms[i].push(x, y);
        Ok(())
    }

    #[inline]
    fn admit(
        &self,
        value: f64,
        second: Option<f64>,
    ) -> std::result::Result<(f64, f64), &'static str> {
        let x = self.metric.admit(value)?;
        let y = match (self.has_second, second) {
            (true, Some(y)) if y.is_finite() => y,
            (true, Some(_)) => return Err("the second value is not a finite number"),
            (true, None) => return Err("the second value (covariate or denominator) is missing"),
            (false, Some(_)) => return Err("these statistics take no second value"),
            (false, None) => 0.0,
        };
        Ok((x, y))
    }

    /// Statistics in one pass over raw observations. The first bad
    /// observation stops the pass with its position in the error.
    pub fn from_observations(
        metric: Metric,
        variants: Vec<String>,
        segments: Vec<String>,
        has_second: bool,
        observations: impl IntoIterator<Item = Observation>,
    ) -> Result<ExperimentStats> {
        let mut stats = ExperimentStats::new(metric, variants, segments, has_second)?;
        for (i, obs) in observations.into_iter().enumerate() {
            stats.add(obs).map_err(|e| at_observation(i, e))?;
        }
        Ok(stats)
    }

    /// Statistics in one parallel pass over columns: `variant[i]`,
    /// `segment[i]` (all 0 when `None`), `value[i]` and `second[i]`. The
    /// result does not depend on the number of threads. The first bad row (by
    /// position) is reported.
    pub fn from_columns<I: ArmIndex>(
        metric: Metric,
        variants: Vec<String>,
        segments: Vec<String>,
        variant: &[I],
        segment: Option<&[I]>,
        value: &[f64],
        second: Option<&[f64]>,
    ) -> Result<ExperimentStats> {
        let column = MetricColumn {
            metric,
            value,
            second,
        };
        let mut all = ExperimentStats::from_columns_many(
            variants,
            segments,
            variant,
            segment,
            std::slice::from_ref(&column),
        )?;
        Ok(all.remove(0))
    }

    /// Statistics of several metrics of the same units in one parallel pass
    /// (each row's arm is found once for all metrics), e.g. conversion,
    /// revenue with its covariate, and orders per session from one events
    /// table. One [`ExperimentStats`] per metric, in order.
    pub fn from_columns_many<I: ArmIndex>(
        variants: Vec<String>,
        segments: Vec<String>,
        variant: &[I],
        segment: Option<&[I]>,
        metrics: &[MetricColumn<'_>],
    ) -> Result<Vec<ExperimentStats>> {
        let mut all = metrics
            .iter()
            .map(|m| {
                ExperimentStats::new(
                    m.metric.clone(),
                    variants.clone(),
                    segments.clone(),
                    m.second.is_some(),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = variant.len();
        let lengths_agree = segment.is_none_or(|s| s.len() == rows)
            && metrics
                .iter()
                .all(|m| m.value.len() == rows && m.second.is_none_or(|s| s.len() == rows));
        if !lengths_agree {
            return Err(Error::InvalidInput(format!(
                "column lengths differ: variant {rows}, segment {:?}, values {:?}",
                segment.map(<[I]>::len),
                metrics
                    .iter()
                    .map(|m| (m.value.len(), m.second.map(<[f64]>::len)))
                    .collect::<Vec<_>>()
            )));
        }
        let (n_variants, n_segments) = (variants.len(), segments.len());
        let n_arms = n_variants * n_segments;
        let n_chunks = rows.div_ceil(CHUNK_ROWS);
        let templates = &all;
        let partials = crate::parallel::map_range(n_chunks, |c| {
            let lo = c * CHUNK_ROWS;
            let hi = (lo + CHUNK_ROWS).min(rows);
            // Each row's arm, found once for every metric; out-of-range
            // indices are flagged without branching and located afterwards.
            let variants_chunk = &variant[lo..hi];
            let mut out_of_range = false;
            let arm_of: Vec<u32> = match segment {
                Some(segment) => variants_chunk
                    .iter()
                    .zip(&segment[lo..hi])
                    .map(|(&v, &s)| {
                        let (v, s) = (v.index(), s.index());
                        out_of_range |= (v >= n_variants) | (s >= n_segments);
                        (s * n_variants + v) as u32
                    })
                    .collect(),
                None => variants_chunk
                    .iter()
                    .map(|&v| {
                        let v = v.index();
                        out_of_range |= v >= n_variants;
                        v as u32
                    })
                    .collect(),
            };
            if out_of_range {
                for i in lo..hi {
                    let v = variant[i].index();
                    if v >= n_variants {
                        return Err(at_observation(i, not_found("variant index", v)));
                    }
                    let s = segment.map_or(0, |s| s[i].index());
                    if s >= n_segments {
                        return Err(at_observation(i, not_found("segment index", s)));
                    }
                }
            }
            let mut out = Vec::with_capacity(metrics.len());
            for (m, stats) in metrics.iter().zip(templates) {
                let mut arms = vec![ArmStats::default(); n_arms];
                let values = &m.value[lo..hi];
                let bad = match m.second {
                    Some(second) => {
                        accumulate_pairs(stats, &arm_of, values, &second[lo..hi], &mut arms)
                    }
                    None => accumulate(&stats.metric, &arm_of, values, &mut arms),
                };
                if let Some((offset, reason)) = bad {
                    let i = lo + offset;
                    return Err(at_observation(
                        i,
                        Error::value(
                            "observation",
                            format!(
                                "{}: value {} second {:?}",
                                m.metric.name,
                                m.value[i],
                                m.second.map(|s| s[i])
                            ),
                            reason,
                        ),
                    ));
                }
                out.push(arms);
            }
            Ok(out)
        });
        for partial in partials {
            for (stats, arms) in all.iter_mut().zip(partial?) {
                for (total, arm) in stats.arms.iter_mut().zip(&arms) {
                    total.merge(arm);
                }
            }
        }
        Ok(all)
    }

    /// Statistics of several metrics per variant × segment from columns
    /// aligned with a customer base (one row per customer index): `variant[c]`
    /// is customer `c`'s variant (`None`: not in the experiment) and the
    /// segment is the customer's in `segments` (whose names the statistics
    /// take); customers without a variant or a segment are skipped. Metric
    /// columns have one value per customer (only those of included customers
    /// are read).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a column's length differs from the
    /// customers'; errors of [`from_columns_many`](Self::from_columns_many).
    pub fn from_segments_many(
        variants: Vec<String>,
        segments: &Segments,
        variant: &[Option<u16>],
        metrics: &[MetricColumn<'_>],
    ) -> Result<Vec<ExperimentStats>> {
        let n = segments.len();
        let aligned = variant.len() == n
            && metrics
                .iter()
                .all(|m| m.value.len() == n && m.second.is_none_or(|s| s.len() == n));
        if !aligned {
            return Err(Error::InvalidInput(format!(
                "experiment columns must have one value per customer ({n})"
            )));
        }
        let rows: Vec<usize> = (0..n)
            .filter(|&c| variant[c].is_some() && segments.segment_of(c as u32).is_some())
            .collect();
        let unit_variant: Vec<u32> = rows
            .iter()
            .filter_map(|&c| variant[c])
            .map(u32::from)
            .collect();
        let unit_segment: Vec<u32> = rows
            .iter()
            .filter_map(|&c| segments.segment_of(c as u32))
            .collect();
        let values: Vec<(Vec<f64>, Option<Vec<f64>>)> = metrics
            .iter()
            .map(|m| {
                (
                    rows.iter().map(|&c| m.value[c]).collect(),
                    m.second.map(|s| rows.iter().map(|&c| s[c]).collect()),
                )
            })
            .collect();
        let columns: Vec<MetricColumn<'_>> = metrics
            .iter()
            .zip(&values)
            .map(|(m, (value, second))| MetricColumn {
                metric: m.metric.clone(),
                value,
                second: second.as_deref(),
            })
            .collect();
        ExperimentStats::from_columns_many(
            variants,
            segments.names().to_vec(),
            &unit_variant,
            Some(&unit_segment),
            &columns,
        )
    }

    /// Adds the statistics of another partition of the same experiment (same
    /// metric, variants, segments and second value): the result equals the
    /// statistics of the union of the observations.
    pub fn merge(&mut self, other: &ExperimentStats) -> Result<()> {
        if self.metric != other.metric
            || self.variants != other.variants
            || self.segments != other.segments
            || self.has_second != other.has_second
        {
            return Err(Error::InvalidInput(
                "cannot merge statistics of different metrics, variants or segments".into(),
            ));
        }
        for (a, b) in self.arms.iter_mut().zip(&other.arms) {
            a.merge(b);
        }
        Ok(())
    }
}

fn at_observation(i: usize, e: Error) -> Error {
    match e {
        Error::InvalidValue {
            what,
            value,
            reason,
        } => Error::InvalidValue {
            what,
            value: format!("#{i}: {value}"),
            reason,
        },
        Error::NotFound { what, id } => Error::NotFound {
            what,
            id: format!("{id} (observation #{i})"),
        },
        other => other,
    }
}

fn not_found(what: &'static str, index: usize) -> Error {
    Error::NotFound {
        what,
        id: index.to_string(),
    }
}

/// Adds one metric without a second value; the first refused value's offset and reason.
fn accumulate(
    metric: &Metric,
    arm_of: &[u32],
    values: &[f64],
    arms: &mut [ArmStats],
) -> Option<(usize, &'static str)> {
    if metric.kind == MetricKind::Binomial {
        // 0/1 values: Σx² = Σx, so only n and Σx are accumulated.
        for (i, (&arm, &x)) in arm_of.iter().zip(values).enumerate() {
            if !(x == 0.0 || x == 1.0) {
                return Some((i, metric.admit(x).err().unwrap_or("not 0 or 1")));
            }
            let a = &mut arms[arm as usize];
            a.n += 1;
            a.sum += x;
        }
        for a in arms.iter_mut() {
            a.sum_sq = a.sum;
        }
        return None;
    }
    for (i, (&arm, &value)) in arm_of.iter().zip(values).enumerate() {
        let x = match metric.admit(value) {
            Ok(x) => x,
            Err(reason) => return Some((i, reason)),
        };
        let a = &mut arms[arm as usize];
        a.n += 1;
        a.sum += x;
        a.sum_sq += x * x;
    }
    None
}

/// Adds one metric with its second value (covariate or denominator).
fn accumulate_pairs(
    stats: &ExperimentStats,
    arm_of: &[u32],
    values: &[f64],
    seconds: &[f64],
    arms: &mut [ArmStats],
) -> Option<(usize, &'static str)> {
    for (i, ((&arm, &value), &second)) in arm_of.iter().zip(values).zip(seconds).enumerate() {
        match stats.admit(value, Some(second)) {
            Ok((x, y)) => arms[arm as usize].push(x, y),
            Err(reason) => return Some((i, reason)),
        }
    }
    None
}

/// A column of values (and optional second values) of one metric, for
/// [`ExperimentStats::from_columns_many`].
#[derive(Debug, Clone)]
pub struct MetricColumn<'a> {
    /// The metric.
    pub metric: Metric,
    /// One value per row.
    pub value: &'a [f64],
    /// One covariate (or ratio denominator) per row, if any.
    pub second: Option<&'a [f64]>,
}

/// Integer types that can index variants and segments in the column passes
/// (narrow types keep large inputs small: a `u8` column is an eighth of a `u64`'s size).
pub trait ArmIndex: Copy + Sync {
    /// The index as `usize`.
    fn index(self) -> usize;
}

impl ArmIndex for u8 {
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl ArmIndex for u16 {
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl ArmIndex for u32 {
    fn index(self) -> usize {
        self as usize
    }
}

impl ArmIndex for usize {
    fn index(self) -> usize {
        self
    }
}

fn check_distinct(name: &'static str, names: &[String]) -> Result<()> {
    let mut seen = hashbrown::HashSet::with_capacity(names.len());
    for n in names {
        if !seen.insert(n.as_str()) {
            return Err(Error::param(name, n, "names must be distinct"));
        }
    }
    Ok(())
}

/// The `q`-quantile of `values` (linear interpolation between order
/// statistics, numpy's default), as a winsorising cap for [`Metric::cap`].
/// Errors on an empty input, a non-finite value or `q` outside [0, 1].
pub fn percentile_cap(values: &[f64], q: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&q) {
        return Err(Error::param("q", q, "a quantile level lies in [0, 1]"));
    }
    let sorted = finite_sorted(values)?;
    Ok(crate::stats::quantile_sorted(&sorted, q))
}

fn finite_sorted(values: &[f64]) -> Result<Vec<f64>> {
    if values.is_empty() {
        return Err(Error::InvalidInput("no values".into()));
    }
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::value(
            "value",
            bad.to_string(),
            "quantiles need finite values",
        ));
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

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sums_and_moments() {
        let mut s = ExperimentStats::new(
            Metric::new("revenue", MetricKind::Mean),
            names(&["a", "b"]),
            names(&["all"]),
            true,
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

    #[test]
    fn bad_observations_are_refused_and_change_nothing() {
        let mut s = ExperimentStats::new(
            Metric::new("converted", MetricKind::Binomial),
            names(&["a", "b"]),
            names(&["x", "y"]),
            false,
        )
        .unwrap();
        let obs = |variant, segment, value, second| Observation {
            variant,
            segment,
            value,
            second,
        };
        assert!(s.add(obs(0, 0, 0.5, None)).is_err());
        assert!(s.add(obs(0, 0, f64::NAN, None)).is_err());
        assert!(s.add(obs(2, 0, 1.0, None)).is_err());
        assert!(s.add(obs(0, 2, 1.0, None)).is_err());
        assert!(s.add(obs(0, 0, 1.0, Some(3.0))).is_err());
        assert_eq!(s.units(), 0);
        s.add(obs(1, 1, 1.0, None)).unwrap();
        assert_eq!(s.arm(1, 1).sum, 1.0);

        let count = Metric::new("orders", MetricKind::Count);
        let mut c =
            ExperimentStats::new(count, names(&["a", "b"]), names(&["all"]), false).unwrap();
        assert!(c.add(obs(0, 0, -1.0, None)).is_err());
        assert!(c.add(obs(0, 0, 1.5, None)).is_err());
        c.add(obs(0, 0, 2.0, None)).unwrap();

        // A ratio without its denominator, repeated variant names, a single variant.
        for (kind, variants, has_second) in [
            (MetricKind::Ratio, &["a", "b"][..], false),
            (MetricKind::Mean, &["a", "a"][..], false),
            (MetricKind::Mean, &["a"][..], false),
        ] {
            let metric = Metric::new("m", kind);
            assert!(
                ExperimentStats::new(metric, names(variants), names(&["all"]), has_second).is_err()
            );
        }
        let err = ExperimentStats::from_columns(
            Metric::new("m", MetricKind::Mean),
            names(&["a", "b"]),
            names(&["all"]),
            &[0u32, 1, 0],
            None,
            &[1.0, f64::INFINITY, 2.0],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("#1"), "{err}");
    }

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
        assert!(percentile_cap(&[], 0.5).is_err());
        assert!(
            Metric::new("c", MetricKind::Binomial)
                .with_cap(1.0)
                .check()
                .is_err()
        );
    }

    #[test]
    fn columns_equal_observations_and_merge_equals_union() {
        let n = 300_001;
        let variant: Vec<u32> = (0..n).map(|i| (i * 7 % 3) as u32).collect();
        let segment: Vec<u32> = (0..n).map(|i| (i * 13 % 5) as u32).collect();
        let value: Vec<f64> = (0..n).map(|i| ((i * 31) % 97) as f64 / 7.0).collect();
        let cov: Vec<f64> = (0..n).map(|i| ((i * 17) % 23) as f64).collect();
        let metric = Metric::new("m", MetricKind::Mean);
        let segs = names(&["s0", "s1", "s2", "s3", "s4"]);
        let vars = names(&["a", "b", "c"]);
        let cols = ExperimentStats::from_columns(
            metric.clone(),
            vars.clone(),
            segs.clone(),
            &variant,
            Some(&segment),
            &value,
            Some(&cov),
        )
        .unwrap();
        let obs = (0..n as usize).map(|i| Observation {
            variant: variant[i] as usize,
            segment: segment[i] as usize,
            value: value[i],
            second: Some(cov[i]),
        });
        let one = ExperimentStats::from_observations(
            metric.clone(),
            vars.clone(),
            segs.clone(),
            true,
            obs,
        )
        .unwrap();
        let half = n as usize / 2;
        let mut first = ExperimentStats::from_columns(
            metric.clone(),
            vars.clone(),
            segs.clone(),
            &variant[..half],
            Some(&segment[..half]),
            &value[..half],
            Some(&cov[..half]),
        )
        .unwrap();
        let second = ExperimentStats::from_columns(
            metric,
            vars,
            segs,
            &variant[half..],
            Some(&segment[half..]),
            &value[half..],
            Some(&cov[half..]),
        )
        .unwrap();
        first.merge(&second).unwrap();
        for s in 0..5 {
            for v in 0..3 {
                let (a, b, c) = (one.arm(s, v), cols.arm(s, v), first.arm(s, v));
                assert_eq!(a.n, b.n);
                assert_eq!(a.n, c.n);
                for (x, y) in [
                    (a.sum, b.sum),
                    (a.sum_sq, b.sum_sq),
                    (a.cross_sum, c.cross_sum),
                    (a.second_sum_sq, c.second_sum_sq),
                ] {
                    assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} {y}");
                }
            }
        }
        assert_eq!(cols.units(), n);

        // Several metrics in one pass equal one pass each; u8 indices equal u32 ones.
        let variant8: Vec<u8> = variant.iter().map(|&v| v as u8).collect();
        let segment8: Vec<u8> = segment.iter().map(|&s| s as u8).collect();
        let converted: Vec<f64> = value
            .iter()
            .map(|&v| f64::from(u8::from(v > 5.0)))
            .collect();
        let many = ExperimentStats::from_columns_many(
            names(&["a", "b", "c"]),
            names(&["s0", "s1", "s2", "s3", "s4"]),
            &variant8,
            Some(&segment8),
            &[
                MetricColumn {
                    metric: Metric::new("m", MetricKind::Mean),
                    value: &value,
                    second: Some(&cov),
                },
                MetricColumn {
                    metric: Metric::new("c", MetricKind::Binomial),
                    value: &converted,
                    second: None,
                },
            ],
        )
        .unwrap();
        assert_eq!(many[0], cols);
        let conv = ExperimentStats::from_columns(
            Metric::new("c", MetricKind::Binomial),
            names(&["a", "b", "c"]),
            names(&["s0", "s1", "s2", "s3", "s4"]),
            &variant,
            Some(&segment),
            &converted,
            None,
        )
        .unwrap();
        assert_eq!(many[1], conv);
        let bad: Vec<u8> = variant8.iter().map(|&v| v + 1).collect();
        let err = ExperimentStats::from_columns_many(
            names(&["a", "b", "c"]),
            names(&["s0", "s1", "s2", "s3", "s4"]),
            &bad,
            Some(&segment8),
            &[],
        )
        .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }

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
        assert!(QuantileStats::from_values(&values, 1.0).is_err());
        assert!(QuantileStats::from_values(&[1.0, f64::NAN], 0.5).is_err());
    }
}
