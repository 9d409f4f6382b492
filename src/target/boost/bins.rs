//! Feature values cut into at most 255 bins, so that a split search scans
//! bins instead of sorted values (the histogram method of LightGBM, Ke et al. 2017).
//!
//! Bin edges come from the distinct values of a feature (from a strided
//! sample of at most [`BIN_SAMPLE`] rows): with few distinct values each gets
//! its own bin; otherwise consecutive values are merged greedily into bins of
//! about equal count, a value heavy enough to fill a bin keeping one alone.
//! Thresholds lie halfway between the neighbouring values, as LightGBM's.
//! A missing value (NaN) has a bin of its own after the value bins.

use serde::{Deserialize, Serialize};

/// Rows sampled to place the bin edges (LightGBM's `bin_construct_sample_cnt`).
pub(super) const BIN_SAMPLE: usize = 200_000;

/// The bin edges of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FeatureBins {
    /// Upper edges: value bin `b` holds `thresholds[b - 1] < x <= thresholds[b]`;
    /// the last value bin has no upper edge.
    pub(crate) thresholds: Vec<f64>,
}

impl FeatureBins {
    /// Value bins (the missing bin comes after them).
    pub(crate) fn value_bins(&self) -> usize {
        self.thresholds.len() + 1
    }

    /// The bin of the missing value.
    pub(crate) fn missing_bin(&self) -> u8 {
        self.thresholds.len() as u8 + 1
    }

    /// The bin of `x`.
    pub(crate) fn bin(&self, x: f64) -> u8 {
        if x.is_nan() {
            return self.missing_bin();
        }
        self.thresholds.partition_point(|&t| t < x) as u8
    }

    /// Edges for `values` (NaN ignored), at most `max_bins` value bins.
    pub(crate) fn fit(values: impl Iterator<Item = f64>, max_bins: usize) -> FeatureBins {
        let mut sample: Vec<f64> = values.filter(|v| !v.is_nan()).collect();
        sample.sort_by(f64::total_cmp);
        // Distinct values with their counts.
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for v in sample {
            match distinct.last_mut() {
                Some((last, count)) if *last == v => *count += 1,
                _ => distinct.push((v, 1)),
            }
        }
        let midpoint = |a: f64, b: f64| a + (b - a) / 2.0;
        if distinct.len() <= max_bins {
            let thresholds = distinct
                .windows(2)
                .map(|w| midpoint(w[0].0, w[1].0))
                .collect();
            return FeatureBins { thresholds };
        }
        // Greedy equal-count bins over the distinct values.
        let total: usize = distinct.iter().map(|d| d.1).sum();
        let mut thresholds = Vec::with_capacity(max_bins - 1);
        let mut remaining_total = total;
        let mut in_bin = 0usize;
        for (i, w) in distinct.windows(2).enumerate() {
            let bins_left = max_bins - thresholds.len();
            let target = remaining_total.div_ceil(bins_left).max(1);
            in_bin += w[0].1;
            // Cut when the bin is full, or when the next value alone would overfill it.
            let distinct_left = distinct.len() - i - 1;
            if thresholds.len() + 1 < max_bins
                && (in_bin >= target || in_bin + w[1].1 > target || distinct_left < bins_left)
            {
                thresholds.push(midpoint(w[0].0, w[1].0));
                remaining_total -= in_bin;
                in_bin = 0;
            }
        }
        FeatureBins { thresholds }
    }
}

/// A feature matrix as bins, column by column: a histogram pass reads one
/// feature's bins and keeps that feature's histogram in the first-level cache.
pub(crate) struct BinnedColumns {
    /// `columns[j][i]`: the bin of row `i`, feature `j`.
    pub(crate) columns: Vec<Vec<u8>>,
}

impl BinnedColumns {
    /// Bins every column of a matrix of `rows` rows, read through `value(i, j)`.
    pub(crate) fn new(
        rows: usize,
        edges: &[FeatureBins],
        value: impl Fn(usize, usize) -> f64 + Sync,
    ) -> BinnedColumns {
        let column =
            |j: usize| -> Vec<u8> { (0..rows).map(|i| edges[j].bin(value(i, j))).collect() };
        #[cfg(feature = "parallel")]
        let columns = {
            use rayon::prelude::*;
            (0..edges.len()).into_par_iter().map(column).collect()
        };
        #[cfg(not(feature = "parallel"))]
        let columns = (0..edges.len()).map(column).collect();
        BinnedColumns { columns }
    }

    /// Rows held.
    pub(crate) fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_a_bin_each_with_midpoint_edges() {
        let b = FeatureBins::fit([3.0, 1.0, 2.0, 2.0, f64::NAN].into_iter(), 255);
        assert_eq!(b.thresholds, vec![1.5, 2.5]);
        assert_eq!([1.0, 1.5, 1.6, 2.5, 9.0].map(|x| b.bin(x)), [0, 0, 1, 1, 2]);
        assert_eq!(b.bin(f64::NAN), 3);
        assert_eq!(b.missing_bin(), 3);
    }

    #[test]
    fn many_values_fill_bins_of_about_equal_count() {
        let values: Vec<f64> = (0..10_000).map(|i| f64::from(i % 1000)).collect();
        let b = FeatureBins::fit(values.iter().copied(), 10);
        assert_eq!(b.value_bins(), 10);
        let mut counts = [0usize; 10];
        for &v in &values {
            counts[b.bin(v) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c == 1000), "{counts:?}");
    }

    #[test]
    fn a_heavy_value_keeps_a_bin_to_itself() {
        let mut values: Vec<f64> = (0..1000).map(f64::from).collect();
        values.extend(std::iter::repeat_n(500.0, 5000));
        let b = FeatureBins::fit(values.iter().copied(), 8);
        let heavy = b.bin(500.0);
        assert!(b.bin(499.0) != heavy && b.bin(501.0) != heavy);
        assert!(b.value_bins() <= 8);
    }
}
