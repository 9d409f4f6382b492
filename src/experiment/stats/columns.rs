//! Building [`ExperimentStats`] from columns in one parallel pass: several
//! metrics at once, narrow index types, and columns aligned with a customer base.

use super::arm::ArmStats;
use super::experiment::{ExperimentStats, index_out_of_range};
use super::metric::{Metric, MetricKind, Refusal, SecondValue};
use crate::error::{Error, Result};
use crate::segment::segments::Segments;

/// Rows per chunk of the parallel column pass; fixed so that the summation
/// order, and so every figure, is the same on any number of threads.
const CHUNK_ROWS: usize = 1 << 17;

impl ExperimentStats {
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
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when a column's length differs from the
    /// variant column's; for the first bad row (by position), the errors of
    /// [`ExperimentStats::add`] with `row` its position: [`Error::InvalidRow`]
    /// for a variant or segment index out of range (`field` = `variant` or
    /// `segment`) or a value the metric does not take (`field` = `value`,
    /// `what` naming the metric), [`Error::NonFinite`] for a NaN or infinite
    /// value or second value (`field` = `value` or `second`); errors of
    /// [`ExperimentStats::new`].
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
                    SecondValue::of_column(m.metric.kind, m.second.is_some()),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = variant.len();
        check_column_lengths(rows, "row", segment.map(|s| ("segment", s.len())), metrics)?;
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
                        return Err(index_out_of_range(i, "variant", v, n_variants));
                    }
                    let s = segment.map_or(0, |s| s[i].index());
                    if s >= n_segments {
                        return Err(index_out_of_range(i, "segment", s, n_segments));
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
                if let Some((offset, refusal)) = bad {
                    let i = lo + offset;
                    return Err(refusal.at(&m.metric, i, m.value[i], m.second.map(|s| s[i])));
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
    /// [`Error::LengthMismatch`] when a column's length differs from the
    /// customers'; errors of [`from_columns_many`](Self::from_columns_many).
    pub fn from_segments_many(
        variants: Vec<String>,
        segments: &Segments,
        variant: &[Option<u16>],
        metrics: &[MetricColumn<'_>],
    ) -> Result<Vec<ExperimentStats>> {
        let n = segments.len();
        check_column_lengths(n, "customer", Some(("variant", variant.len())), metrics)?;
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
}

/// Checks that the named index column (`other`, e.g. the segments) and every
/// metric's values and second values have `expected` entries (one per `per`).
fn check_column_lengths(
    expected: usize,
    per: &str,
    other: Option<(&str, usize)>,
    metrics: &[MetricColumn<'_>],
) -> Result<()> {
    let mut columns: Vec<(String, usize)> = Vec::with_capacity(1 + 2 * metrics.len());
    if let Some((name, len)) = other {
        columns.push((format!("{name} per {per}"), len));
    }
    for m in metrics {
        columns.push((
            format!("`{}` values per {per}", m.metric.name),
            m.value.len(),
        ));
        if let Some(second) = m.second {
            columns.push((
                format!("`{}` second values per {per}", m.metric.name),
                second.len(),
            ));
        }
    }
    match columns.into_iter().find(|(_, len)| *len != expected) {
        Some((what, found)) => Err(Error::lengths(what, expected, found)),
        None => Ok(()),
    }
}

/// Adds one metric without a second value; the first refused value's offset and why.
fn accumulate(
    metric: &Metric,
    arm_of: &[u32],
    values: &[f64],
    arms: &mut [ArmStats],
) -> Option<(usize, Refusal)> {
    if metric.kind == MetricKind::Binomial {
        // 0/1 values: Σx² = Σx, so only n and Σx are accumulated.
        for (i, (&arm, &x)) in arm_of.iter().zip(values).enumerate() {
            if !(x == 0.0 || x == 1.0) {
                return Some((
                    i,
                    metric
                        .admit(x)
                        .err()
                        .unwrap_or(Refusal::Value("a binomial metric takes 0 or 1")),
                ));
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
) -> Option<(usize, Refusal)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::stats::Observation;
    use crate::experiment::stats::names;

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
            SecondValue::Covariate,
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
        assert!(
            matches!(&err, Error::InvalidRow { row: 2, field, value, .. } if field == "variant" && value == "3"),
            "{err}"
        );
    }

    #[test]
    fn columns_of_different_lengths_are_refused() {
        let metric = Metric::new("m", MetricKind::Mean);
        let short = ExperimentStats::from_columns(
            metric.clone(),
            names(&["a", "b"]),
            names(&["s", "t"]),
            &[0u8, 1, 0],
            Some(&[0u8, 1][..]),
            &[1.0, 2.0, 3.0],
            None,
        );
        assert!(matches!(
            short,
            Err(Error::LengthMismatch {
                expected: 3,
                found: 2,
                ..
            })
        ));
        let second = ExperimentStats::from_columns(
            metric,
            names(&["a", "b"]),
            names(&["all"]),
            &[0u8, 1, 0],
            None,
            &[1.0, 2.0, 3.0],
            Some(&[1.0][..]),
        );
        assert!(matches!(
            second,
            Err(Error::LengthMismatch {
                expected: 3,
                found: 1,
                ..
            })
        ));
    }
}
