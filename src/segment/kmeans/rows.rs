//! The rows to cluster: checked, contiguous, cut into fixed chunks; their variance and distances.

use ndarray::ArrayView2;
use std::borrow::Cow;

use super::blocks::LANES;
use crate::error::{Error, Result};

/// Largest feature magnitude accepted: squared norms and distances stay finite.
const MAX_ABS_VALUE: f64 = 1e100;

/// Rows per chunk: the unit of parallel work and of summation order.
pub(super) const CHUNK: usize = 4096;
const _: () = assert!(CHUNK % LANES == 0, "chunks start on a block boundary");

/// The rows to cluster: contiguous row-major values and optional weights.
pub(super) struct Rows<'a> {
    pub(super) x: Cow<'a, [f64]>,
    pub(super) n: usize,
    pub(super) d: usize,
    pub(super) w: Option<&'a [f64]>,
}

impl<'a> Rows<'a> {
    pub(super) fn new(x: ArrayView2<'a, f64>, weights: Option<&'a [f64]>) -> Result<Rows<'a>> {
        let (n, d) = x.dim();
        if d == 0 {
            return Err(Error::empty("k-means: feature columns"));
        }
        let values: Cow<'a, [f64]> = match x.to_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(x.iter().copied().collect()),
        };
        // Squared distances of larger values overflow; such features need rescaling
        // first. One parallel pass finds the first value beyond ±1e100 (infinities
        // included) and the first NaN or infinity.
        let firsts = crate::parallel::map_range(values.len().div_ceil(1 << 16), |c| {
            let start = c << 16;
            let part = &values[start..values.len().min(start + (1 << 16))];
            // One comparison per value in the common case (false for NaN too).
            if part.iter().all(|v| v.abs() <= MAX_ABS_VALUE) {
                return (None, None);
            }
            (
                part.iter()
                    .position(|v| v.abs() > MAX_ABS_VALUE)
                    .map(|i| start + i),
                part.iter().position(|v| !v.is_finite()).map(|i| start + i),
            )
        });
        if let Some(i) = firsts.iter().find_map(|f| f.0) {
            if !values[i].is_finite() {
                return Err(Error::non_finite(
                    "k-means: feature matrix (impute or drop missing values first)",
                    i / d,
                    format!("column {}", i % d),
                    values[i],
                ));
            }
            return Err(Error::value(
                "k-means feature",
                format!("row {}, column {}: {}", i / d, i % d, values[i]),
                "beyond ±1e100; rescale the feature, e.g. standardise it",
            ));
        }
        if let Some(i) = firsts.iter().find_map(|f| f.1) {
            return Err(Error::non_finite(
                "k-means: feature matrix (impute or drop missing values first)",
                i / d,
                format!("column {}", i % d),
                values[i],
            ));
        }
        if let Some(w) = weights {
            if w.len() != n {
                return Err(Error::lengths(
                    "k-means: sample weights per row",
                    n,
                    w.len(),
                ));
            }
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                if !w[i].is_finite() {
                    return Err(Error::non_finite(
                        "k-means: sample weights",
                        i,
                        "weight",
                        w[i],
                    ));
                }
                return Err(Error::value(
                    "k-means sample weight",
                    format!("row {i}: {}", w[i]),
                    "must be finite and >= 0",
                ));
            }
            if !w.iter().any(|&v| v > 0.0) {
                return Err(Error::empty("k-means: rows with a positive weight"));
            }
        }
        Ok(Rows {
            x: values,
            n,
            d,
            w: weights,
        })
    }

    pub(super) fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    pub(super) fn weight(&self, i: usize) -> f64 {
        self.w.map_or(1.0, |w| w[i])
    }

    pub(super) fn n_chunks(&self) -> usize {
        self.n.div_ceil(CHUNK)
    }

    pub(super) fn chunk_range(&self, c: usize) -> std::ops::Range<usize> {
        c * CHUNK..((c + 1) * CHUNK).min(self.n)
    }
}

/// Mean of the (unweighted) feature variances, the scale of scikit-learn's tolerance.
///
/// Two passes (means, then squared deviations), each summing chunk by chunk in
/// parallel and adding the chunks' sums in chunk order, so the value does not
/// depend on the thread count.
/// (The reference for [`Compact::with_mean_variance`](super::blocks::Compact::with_mean_variance),
/// which computes it in the passes that copy the rows.)
#[cfg(test)]
pub(super) fn mean_variance(data: &Rows<'_>) -> f64 {
    let d = data.d;
    let n = data.n as f64;
    let chunk_sums = |f: &(dyn Fn(&[f64], &mut [f64]) + Sync)| -> Vec<f64> {
        let parts = crate::parallel::map_range(data.n_chunks(), |c| {
            let range = data.chunk_range(c);
            let mut sums = vec![-0.0f64; d];
            for row in data.x[range.start * d..range.end * d].chunks_exact(d) {
                f(row, &mut sums);
            }
            sums
        });
        let mut total = vec![-0.0f64; d];
        for part in parts {
            for (t, p) in total.iter_mut().zip(part) {
                *t += p;
            }
        }
        total
    };
    let mut means = chunk_sums(&|row, sums| {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    });
    for m in &mut means {
        *m /= n;
    }
    let vars = chunk_sums(&|row, sums| {
        for ((s, &v), &m) in sums.iter_mut().zip(row).zip(&means) {
            *s += (v - m).powi(2);
        }
    });
    vars.iter().map(|v| v / n).sum::<f64>() / d as f64
}

/// Squared Euclidean distance, summed in four interleaved lanes so the additions
/// do not wait on each other (and vectorise).
#[inline(always)]
pub(super) fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (a4.remainder(), b4.remainder());
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    for (l, (x, y)) in ra.iter().zip(rb).enumerate() {
        let t = x - y;
        acc[l] += t * t;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3])
}
