//! Clustering quality: internal indices to choose the number of segments `k`,
//! and the adjusted Rand index to compare two segmentations.
//!
//! All functions take the data as an `n × d` view (rows are customers) and the
//! labels as `&[usize]` with values in `0..k`. Labels in `0..k` that no row
//! carries (empty clusters) are ignored, as scikit-learn does after it
//! re-encodes labels: `m` below is the number of *non-empty* clusters, and the
//! internal indices need `2 ≤ m ≤ n − 1`.
//!
//! # Silhouette (Rousseeuw 1987)
//!
//! For a row `i` in cluster `A`, let `a(i)` be its mean Euclidean distance to
//! the other rows of `A`, and `b(i)` the smallest mean distance to the rows of
//! any other cluster. Then
//!
//! ```text
//! s(i) = (b(i) − a(i)) / max(a(i), b(i)),     s(i) = 0 if |A| = 1 (or a = b = 0)
//! ```
//!
//! and the score is the mean of `s(i)` over rows, in `[−1, 1]`; higher is
//! better. [`silhouette`] computes it exactly without an `n × n` matrix: each
//! row's per-cluster distance sums are accumulated directly, so memory is one
//! copy of the rows grouped by cluster (`O(n·d)`) plus `O(k)` per worker, and
//! time is `O(n²·d)`. Above
//! [`SilhouetteOptions::max_exact`] rows it computes the exact silhouette of a
//! seeded uniform sample drawn without replacement, as scikit-learn's
//! `silhouette_score(sample_size=…, random_state=…)` does (the sample itself
//! differs: ours comes from ChaCha8, theirs from NumPy's Mersenne Twister).
//!
//! # Davies–Bouldin (Davies & Bouldin 1979)
//!
//! With centroids `c_j` and scatters `S_j` (mean distance of a cluster's rows
//! to its centroid),
//!
//! ```text
//! DB = (1/m) Σ_i max_{j≠i} (S_i + S_j) / ‖c_i − c_j‖
//! ```
//!
//! Lower is better, `0` is the minimum. As in scikit-learn, `DB = 0` when all
//! scatters or all centroid distances are within `1e-8` of zero, and a pair of
//! clusters with identical centroids contributes `0` (the distance is taken as
//! infinite).
//!
//! # Caliński–Harabasz (Caliński & Harabasz 1974)
//!
//! The variance ratio: with overall mean `c`, between-cluster dispersion
//! `B = Σ_j n_j ‖c_j − c‖²` and within-cluster dispersion
//! `W = Σ_j Σ_{x ∈ j} ‖x − c_j‖²`,
//!
//! ```text
//! CH = (B / (m − 1)) / (W / (n − m))
//! ```
//!
//! Higher is better. As in scikit-learn, `CH = 1` when `W = 0` exactly.
//!
//! # Adjusted Rand index (Hubert & Arabie 1985)
//!
//! Agreement of two partitions of the same rows, corrected for chance: `1`
//! for identical partitions (up to renaming), about `0` for independent ones,
//! negative for less agreement than chance. With the pair counts of the
//! contingency table (pairs together in both, in one only, in neither),
//!
//! ```text
//! ARI = 2 (tp·tn − fn·fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn))
//! ```
//!
//! exactly as scikit-learn's `adjusted_rand_score`, including its value `1`
//! when no pair is split differently (e.g. empty input, one row, or identical
//! partitions).
//!
//! # Numerics and determinism
//!
//! Non-finite values, and values whose per-feature ranges or sums overflow
//! `f64`, are rejected ([`Error::NonFinite`], [`Error::InvalidInput`]). Sums run in fixed row
//! chunks combined in order, so results do not depend on the thread count;
//! with the `parallel` feature the chunks run on rayon.
//!
//! # References
//!
//! - P. J. Rousseeuw (1987). Silhouettes: a graphical aid to the interpretation
//!   and validation of cluster analysis. *J. Comput. Appl. Math.* 20, 53–65.
//! - D. L. Davies, D. W. Bouldin (1979). A cluster separation measure.
//!   *IEEE TPAMI* 1(2), 224–227.
//! - T. Caliński, J. Harabasz (1974). A dendrite method for cluster analysis.
//!   *Communications in Statistics* 3(1), 1–27.
//! - L. Hubert, P. Arabie (1985). Comparing partitions. *Journal of
//!   Classification* 2, 193–218.
//!
//! # Example
//!
//! ```
//! use custinsight::segment::select_k::{calinski_harabasz, silhouette, SilhouetteOptions};
//! use ndarray::array;
//!
//! let x = array![[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]];
//! let labels = [0, 0, 1, 1];
//! let s = silhouette(x.view(), &labels, 2, &SilhouetteOptions::default())?;
//! assert!(s.exact && s.score > 0.8);
//! assert!(calinski_harabasz(x.view(), &labels, 2)? > 10.0);
//! # Ok::<(), custinsight::Error>(())
//! ```

use std::ops::Range;

use ndarray::{ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How [`silhouette`] trades exactness for time on large inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SilhouetteOptions {
    /// Up to this many rows the silhouette is exact over all rows (default 20 000).
    pub max_exact: usize,
    /// Above `max_exact`, rows sampled uniformly without replacement (default
    /// 20 000; at least 3, since a sample needs `2 ≤ m ≤ rows − 1`).
    pub sample_size: usize,
    /// Seed of the ChaCha8 generator that draws the sample.
    pub seed: u64,
}

impl Default for SilhouetteOptions {
    fn default() -> Self {
        SilhouetteOptions {
            max_exact: 20_000,
            sample_size: 20_000,
            seed: 0,
        }
    }
}

impl SilhouetteOptions {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `sample_size < 3`.
    pub fn check(&self) -> Result<()> {
        if self.sample_size < 3 {
            return Err(Error::param(
                "sample_size",
                self.sample_size,
                "must be at least 3 (a sample needs 2 to rows − 1 clusters)",
            ));
        }
        Ok(())
    }
}

/// Checks a range of k to choose from: `2 <= low <= high`.
pub(crate) fn check_k_range(choose_k: Option<(usize, usize)>) -> Result<()> {
    if let Some((low, high)) = choose_k
        && (low < 2 || high < low)
    {
        return Err(Error::param(
            "choose_k",
            format!("{low}..={high}"),
            "needs 2 <= low <= high",
        ));
    }
    Ok(())
}

/// A silhouette score and how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Silhouette {
    /// Mean silhouette over the rows used, in `[−1, 1]`.
    pub score: f64,
    /// `true` when every row was used, `false` when the score is from a sample.
    pub exact: bool,
    /// Number of rows the score averages over.
    pub rows_used: usize,
}

/// The mean silhouette (Rousseeuw 1987) of a clustering, exact up to
/// [`SilhouetteOptions::max_exact`] rows and on a seeded sample beyond.
///
/// Errors: [`Error::EmptyInput`] on empty data or zero feature columns;
/// [`Error::LengthMismatch`] when `labels.len() != x.nrows()`;
/// [`Error::OutOfRange`] for a label `≥ k`; [`Error::NonFinite`] for a
/// non-finite value; [`Error::TooFew`] for fewer than 2 or more than
/// `rows − 1` non-empty clusters among the rows used; [`Error::InvalidInput`]
/// when the feature ranges or sums overflow `f64`; [`Error::InvalidValue`] when
/// an index overflows; and [`Error::InvalidParameter`] when
/// `options.sample_size < 3`.
pub fn silhouette(
    x: ArrayView2<f64>,
    labels: &[usize],
    k: usize,
    options: &SilhouetteOptions,
) -> Result<Silhouette> {
    options.check()?;
    check_data(x, labels)?;
    check_labels(labels, k)?;
    let n = x.nrows();
    if n <= options.max_exact || options.sample_size >= n {
        let clusters = Clusters::encode(labels, k)?;
        return Ok(Silhouette {
            score: silhouette_exact(x, &clusters),
            exact: true,
            rows_used: n,
        });
    }
    let rows = sample_rows(n, options.sample_size, options.seed);
    let xs = x.select(Axis(0), &rows);
    let ls: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
    let clusters = Clusters::encode(&ls, k)?;
    Ok(Silhouette {
        score: silhouette_exact(xs.view(), &clusters),
        exact: false,
        rows_used: rows.len(),
    })
}

/// The Davies–Bouldin index (Davies & Bouldin 1979), as scikit-learn's
/// `davies_bouldin_score`; lower is better, `≥ 0`.
///
/// Errors as [`silhouette`] does for the data and labels.
pub fn davies_bouldin(x: ArrayView2<f64>, labels: &[usize], k: usize) -> Result<f64> {
    check_data(x, labels)?;
    check_labels(labels, k)?;
    let clusters = Clusters::encode(labels, k)?;
    let (m, d) = (clusters.sizes.len(), x.ncols());
    let centroids = centroids(x, &clusters)?;
    // Scatter: mean distance of each cluster's rows to its centroid.
    let dist_sums = chunked_sum(x.nrows(), m, |rows, acc| {
        for i in rows {
            let c = clusters.ids[i];
            let centroid = &centroids[c * d..(c + 1) * d];
            acc[c] += euclidean(x.row(i).iter().copied(), centroid.iter().copied());
        }
    });
    let scatter: Vec<f64> = dist_sums
        .iter()
        .zip(&clusters.sizes)
        .map(|(s, &size)| s / size as f64)
        .collect();
    let mut between = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..m {
            between[i * m + j] = euclidean(
                centroids[i * d..(i + 1) * d].iter().copied(),
                centroids[j * d..(j + 1) * d].iter().copied(),
            );
        }
    }
    // scikit-learn's degenerate cases: `isclose(·, 0)` with its default atol.
    const ATOL: f64 = 1e-8;
    if scatter.iter().all(|s| s.abs() <= ATOL) || between.iter().all(|b| b.abs() <= ATOL) {
        return Ok(0.0);
    }
    let mut total = 0.0;
    for i in 0..m {
        let mut worst = 0.0_f64;
        for j in 0..m {
            // Coincident centroids count as infinitely far apart (ratio 0), as in scikit-learn.
            let b = between[i * m + j];
            if b != 0.0 {
                worst = worst.max((scatter[i] + scatter[j]) / b);
            }
        }
        total += worst;
    }
    finite(total / m as f64, "Davies–Bouldin index")
}

/// The Caliński–Harabasz variance ratio (Caliński & Harabasz 1974), as
/// scikit-learn's `calinski_harabasz_score`; higher is better, `≥ 0`, and `1`
/// when the within-cluster dispersion is exactly zero.
///
/// Errors as [`silhouette`] does for the data and labels.
pub fn calinski_harabasz(x: ArrayView2<f64>, labels: &[usize], k: usize) -> Result<f64> {
    check_data(x, labels)?;
    check_labels(labels, k)?;
    let clusters = Clusters::encode(labels, k)?;
    let (n, m, d) = (x.nrows(), clusters.sizes.len(), x.ncols());
    let centroids = centroids(x, &clusters)?;
    let overall_sum = chunked_sum(n, d, |rows, acc| {
        for i in rows {
            for (a, v) in acc.iter_mut().zip(x.row(i)) {
                *a += v;
            }
        }
    });
    let overall: Vec<f64> = overall_sum.iter().map(|s| s / n as f64).collect();
    check_finite(&overall)?;
    let mut extra = 0.0;
    for (c, &size) in clusters.sizes.iter().enumerate() {
        extra += size as f64 * squared(centroids[c * d..(c + 1) * d].iter().copied(), &overall);
    }
    // Within-cluster dispersion per cluster, added in cluster order as scikit-learn does.
    let within = chunked_sum(n, m, |rows, acc| {
        for i in rows {
            let c = clusters.ids[i];
            acc[c] += squared(x.row(i).iter().copied(), &centroids[c * d..(c + 1) * d]);
        }
    });
    let intra: f64 = within.iter().sum();
    if intra == 0.0 {
        return Ok(1.0);
    }
    finite(
        extra * (n - m) as f64 / (intra * (m as f64 - 1.0)),
        "Caliński–Harabasz index",
    )
}

/// The adjusted Rand index (Hubert & Arabie 1985) between two labelings of
/// the same rows, as scikit-learn's `adjusted_rand_score`.
///
/// Labels are arbitrary ids (no `k`); only which rows share an id matters.
/// Returns `1.0` when no pair of rows is together in one labeling and apart in
/// the other — in particular for empty input and for a single row. Pair counts
/// are exact integers (no overflow for any realistic `n`), so the value is
/// symmetric and invariant to renaming labels bit for bit.
///
/// Errors ([`Error::LengthMismatch`]) when the lengths differ.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(Error::lengths(
            "adjusted Rand index: labels of the second labeling (one per row of the first)",
            a.len(),
            b.len(),
        ));
    }
    let n = a.len() as u128;
    let (sum_sq, sq_a, sq_b) = contingency_squares(a, b);
    // Ordered pair counts, as scikit-learn's pair_confusion_matrix.
    let tp = sum_sq - n;
    let false_neg = sq_a - sum_sq;
    let false_pos = sq_b - sum_sq;
    if false_neg == 0 && false_pos == 0 {
        return Ok(1.0);
    }
    let tn = n * n - false_pos - false_neg - sum_sq;
    let exact = || -> Option<(i128, i128)> {
        let (tp, tn) = (i128::try_from(tp).ok()?, i128::try_from(tn).ok()?);
        let (fnn, fp) = (
            i128::try_from(false_neg).ok()?,
            i128::try_from(false_pos).ok()?,
        );
        let num = tp.checked_mul(tn)?.checked_sub(fnn.checked_mul(fp)?)?;
        let den = (tp + fnn)
            .checked_mul(fnn + tn)?
            .checked_add((tp + fp).checked_mul(fp + tn)?)?;
        Some((num, den))
    };
    // Integers as Python does, converted to f64 for the final division;
    // beyond ~3·10⁹ rows the products need floating point.
    let (num, den) = match exact() {
        Some((num, den)) => (num as f64, den as f64),
        None => {
            let (tp, tn, fnn, fp) = (tp as f64, tn as f64, false_neg as f64, false_pos as f64);
            (
                tp * tn - fnn * fp,
                (tp + fnn) * (fnn + tn) + (tp + fp) * (fp + tn),
            )
        }
    };
    Ok(2.0 * num / den)
}

/// `(Σ n_ij², Σ a_i², Σ b_j²)` over the contingency table of two labelings.
fn contingency_squares(a: &[usize], b: &[usize]) -> (u128, u128, u128) {
    let squares = |counts: &mut dyn Iterator<Item = u64>| -> u128 {
        counts.map(|c| u128::from(c) * u128::from(c)).sum()
    };
    let max_a = a.iter().copied().max().unwrap_or(0);
    let max_b = b.iter().copied().max().unwrap_or(0);
    // Small label ranges (the usual case) count in a dense table; others hash.
    const DENSE_CELLS: usize = 1 << 20;
    let range = |max: usize| max.checked_add(1).filter(|&r| r <= DENSE_CELLS);
    let dense = range(max_a)
        .zip(range(max_b))
        .filter(|&(ra, rb)| ra * rb <= DENSE_CELLS);
    if let Some((ra, rb)) = dense {
        let mut table = vec![0u64; ra * rb];
        let (mut ca, mut cb) = (vec![0u64; ra], vec![0u64; rb]);
        for (&i, &j) in a.iter().zip(b) {
            table[i * rb + j] += 1;
            ca[i] += 1;
            cb[j] += 1;
        }
        (
            squares(&mut table.into_iter()),
            squares(&mut ca.into_iter()),
            squares(&mut cb.into_iter()),
        )
    } else {
        let mut table = hashbrown::HashMap::<(usize, usize), u64>::new();
        let mut ca = hashbrown::HashMap::<usize, u64>::new();
        let mut cb = hashbrown::HashMap::<usize, u64>::new();
        for (&i, &j) in a.iter().zip(b) {
            *table.entry((i, j)).or_default() += 1;
            *ca.entry(i).or_default() += 1;
            *cb.entry(j).or_default() += 1;
        }
        (
            squares(&mut table.into_values()),
            squares(&mut ca.into_values()),
            squares(&mut cb.into_values()),
        )
    }
}

/// Non-empty clusters re-encoded as `0..m` in increasing label order.
struct Clusters {
    /// Dense cluster id of each row.
    ids: Vec<usize>,
    /// Rows per dense cluster, all `≥ 1`.
    sizes: Vec<usize>,
}

impl Clusters {
    /// Encodes labels already checked to be `< k`; errors unless `2 ≤ m ≤ n − 1`.
    fn encode(labels: &[usize], k: usize) -> Result<Clusters> {
        let n = labels.len();
        // A table indexed by label only when it is no larger than the data,
        // so a huge `k` cannot force a huge allocation.
        let map: Box<dyn Fn(usize) -> usize> = if k <= n {
            let mut present = vec![false; k];
            for &l in labels {
                present[l] = true;
            }
            let mut dense = vec![usize::MAX; k];
            let mut next = 0;
            for (l, p) in present.iter().enumerate() {
                if *p {
                    dense[l] = next;
                    next += 1;
                }
            }
            Box::new(move |l| dense[l])
        } else {
            let mut distinct = labels.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            let dense: hashbrown::HashMap<usize, usize> =
                distinct.iter().enumerate().map(|(i, &l)| (l, i)).collect();
            Box::new(move |l| dense[&l])
        };
        let ids: Vec<usize> = labels.iter().map(|&l| map(l)).collect();
        let m = ids.iter().copied().max().map_or(0, |v| v + 1);
        if m < 2 {
            return Err(Error::too_few("non-empty clusters among the rows", 2, m));
        }
        if m >= n {
            return Err(Error::too_few(
                format!("rows for {m} non-empty clusters (at most rows − 1 clusters)"),
                m + 1,
                n,
            ));
        }
        let mut sizes = vec![0usize; m];
        for &c in &ids {
            sizes[c] += 1;
        }
        Ok(Clusters { ids, sizes })
    }
}

/// Shape, emptiness, finiteness and overflow checks shared by the indices.
fn check_data(x: ArrayView2<f64>, labels: &[usize]) -> Result<()> {
    let (n, d) = x.dim();
    if n != labels.len() {
        return Err(Error::lengths("labels per row of data", n, labels.len()));
    }
    if n == 0 {
        return Err(Error::empty("rows of data"));
    }
    if d == 0 {
        return Err(Error::empty("feature columns"));
    }
    let mut range_sq = 0.0;
    for (f, column) in x.axis_iter(Axis(1)).enumerate() {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (i, &v) in column.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::non_finite("data", i, format!("column {f}"), v));
            }
            lo = lo.min(v);
            hi = hi.max(v);
        }
        range_sq += (hi - lo) * (hi - lo);
    }
    // Bounds every squared distance, so no distance can overflow.
    if !range_sq.is_finite() {
        return Err(Error::InvalidInput(
            "feature ranges overflow f64 distances; rescale the features".into(),
        ));
    }
    Ok(())
}

fn check_labels(labels: &[usize], k: usize) -> Result<()> {
    match labels.iter().position(|&l| l >= k) {
        Some(i) => Err(Error::out_of_range(
            format!("cluster label at row {i}"),
            labels[i],
            k,
        )),
        None => Ok(()),
    }
}

fn check_finite(values: &[f64]) -> Result<()> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::InvalidInput(
            "feature sums overflow f64; rescale the features".into(),
        ))
    }
}

fn finite(value: f64, what: &'static str) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::value(
            what,
            value.to_string(),
            "overflows f64; rescale the features",
        ))
    }
}

/// Cluster means, `m × d` row-major.
fn centroids(x: ArrayView2<f64>, clusters: &Clusters) -> Result<Vec<f64>> {
    let d = x.ncols();
    let mut sums = chunked_sum(x.nrows(), clusters.sizes.len() * d, |rows, acc| {
        for i in rows {
            let c = clusters.ids[i];
            for (a, v) in acc[c * d..(c + 1) * d].iter_mut().zip(x.row(i)) {
                *a += v;
            }
        }
    });
    for (c, &size) in clusters.sizes.iter().enumerate() {
        for s in &mut sums[c * d..(c + 1) * d] {
            *s /= size as f64;
        }
    }
    check_finite(&sums)?;
    Ok(sums)
}

/// Sums `width` accumulators over rows `0..n` in fixed chunks, combined in
/// chunk order: the result depends on `n` and `width` only, never on threads.
fn chunked_sum(n: usize, width: usize, fill: impl Fn(Range<usize>, &mut [f64]) + Sync) -> Vec<f64> {
    // Long enough chunks that the partial sums stay small next to the data.
    let chunk = 8192usize.max(width.saturating_mul(8));
    let starts: Vec<usize> = (0..n).step_by(chunk).collect();
    let part = |&s: &usize| {
        let mut acc = vec![0.0; width];
        fill(s..(s + chunk).min(n), &mut acc);
        acc
    };
    let parts: Vec<Vec<f64>> = crate::parallel::map_slice(&starts, part);
    let mut total = vec![0.0; width];
    for p in parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

fn squared(a: impl Iterator<Item = f64>, b: &[f64]) -> f64 {
    a.zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}

fn euclidean(a: impl Iterator<Item = f64>, b: impl Iterator<Item = f64>) -> f64 {
    a.zip(b).map(|(u, v)| (u - v) * (u - v)).sum::<f64>().sqrt()
}

/// A uniform sample of `size < n` distinct rows, sorted.
fn sample_rows(n: usize, size: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = rand::seq::index::sample(&mut rng, n, size).into_vec();
    rows.sort_unstable();
    rows
}

/// Rows per block of the exact silhouette: the unit of parallel work and of
/// the ordered final sum.
const SILHOUETTE_BLOCK: usize = 64;

/// The exact mean silhouette, with per-row per-cluster distance sums and no
/// `n × n` matrix.
fn silhouette_exact(x: ArrayView2<f64>, clusters: &Clusters) -> f64 {
    let (n, d) = x.dim();
    let m = clusters.sizes.len();
    // Rows grouped by cluster (stable, so each cluster's sum runs in row order
    // as scikit-learn's bincount does), contiguous for the inner loop.
    let mut offsets = vec![0usize; m + 1];
    for (c, &size) in clusters.sizes.iter().enumerate() {
        offsets[c + 1] = offsets[c] + size;
    }
    let mut fill = offsets.clone();
    let mut order = vec![0usize; n];
    for (i, &c) in clusters.ids.iter().enumerate() {
        order[fill[c]] = i;
        fill[c] += 1;
    }
    let mut data = Vec::with_capacity(n * d);
    for &i in &order {
        data.extend(x.row(i).iter().copied());
    }
    let block_sum = |&start: &usize| -> f64 {
        let mut sums = vec![0.0; m];
        let mut total = 0.0;
        for i in start..(start + SILHOUETTE_BLOCK).min(n) {
            let own = clusters.ids[order[i]];
            if clusters.sizes[own] == 1 {
                continue; // s(i) = 0 for a point alone in its cluster.
            }
            let xi = &data[i * d..(i + 1) * d];
            for (c, sum) in sums.iter_mut().enumerate() {
                *sum = data[offsets[c] * d..offsets[c + 1] * d]
                    .chunks_exact(d)
                    .map(|xj| euclidean(xi.iter().copied(), xj.iter().copied()))
                    .sum();
            }
            let a = sums[own] / (clusters.sizes[own] - 1) as f64;
            let b = sums
                .iter()
                .zip(&clusters.sizes)
                .enumerate()
                .filter(|&(c, _)| c != own)
                .map(|(_, (s, &size))| s / size as f64)
                .fold(f64::INFINITY, f64::min);
            let scale = a.max(b);
            // a = b = 0 (duplicate points) gives 0/0, which scikit-learn maps to 0.
            if scale > 0.0 {
                total += (b - a) / scale;
            }
        }
        total
    };
    let starts: Vec<usize> = (0..n).step_by(SILHOUETTE_BLOCK).collect();
    let parts: Vec<f64> = crate::parallel::map_slice(&starts, block_sum);
    parts.iter().sum::<f64>() / n as f64
}

/// The quality of one candidate number of segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    /// Number of segments.
    pub k: usize,
    /// Inertia of the k-means fit (the elbow curve).
    pub inertia: f64,
    /// Silhouette of the fit (higher is better).
    pub silhouette: Silhouette,
    /// Davies–Bouldin index (lower is better).
    pub davies_bouldin: f64,
    /// Calinski–Harabasz index (higher is better).
    pub calinski_harabasz: f64,
}

/// The candidates' scores and the recommended k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KChoice {
    /// One score per candidate k, in increasing k.
    pub scores: Vec<KScore>,
    /// The recommended k: the highest silhouette (ties to the smaller k).
    pub recommended: usize,
    /// The k at the elbow of the inertia curve: the largest second difference
    /// of inertia (needs three candidates; otherwise the recommended k).
    pub elbow: usize,
    /// Why, in words, with the numbers.
    pub reason: String,
}

/// Fits k-means for every k in `ks` (with `params` otherwise) and scores each
/// fit with the silhouette, Davies–Bouldin and Calinski–Harabasz indices.
///
/// The recommendation is the k with the highest silhouette, the index that
/// weighs both cohesion and separation row by row (Rousseeuw 1987); the
/// reason says whether Davies–Bouldin and Calinski–Harabasz agree, and where
/// the inertia curve bends.
///
/// # Errors
/// [`Error::InvalidParameter`] for an empty range or k < 2;
/// errors of [`KMeansParams::fit_rows`](super::kmeans::KMeansParams::fit_rows)
/// and of the indices (e.g. fewer rows than k + 1).
pub fn choose_k<'a>(
    x: ArrayView2<'a, f64>,
    weights: Option<&'a [f64]>,
    ks: std::ops::RangeInclusive<usize>,
    params: &super::kmeans::KMeansParams,
    options: &SilhouetteOptions,
) -> Result<KChoice> {
    let (low, high) = (*ks.start(), *ks.end());
    if low < 2 || high < low {
        return Err(Error::param(
            "k range",
            format!("{low}..{high}"),
            "needs 2 <= low <= high",
        ));
    }
    let mut scores = Vec::with_capacity(high - low + 1);
    for k in ks {
        let fit = super::kmeans::KMeansParams {
            k,
            ..params.clone()
        }
        .fit_rows(x, weights)?;
        scores.push(KScore {
            k,
            inertia: fit.model.inertia,
            silhouette: silhouette(x, &fit.labels, k, options)?,
            davies_bouldin: davies_bouldin(x, &fit.labels, k)?,
            calinski_harabasz: calinski_harabasz(x, &fit.labels, k)?,
        });
    }
    let best_by = |better: &dyn Fn(&KScore, &KScore) -> bool| {
        scores
            .iter()
            .fold(&scores[0], |best, s| if better(s, best) { s } else { best })
            .k
    };
    let recommended = best_by(&|s, b| s.silhouette.score > b.silhouette.score);
    let by_db = best_by(&|s, b| s.davies_bouldin < b.davies_bouldin);
    let by_ch = best_by(&|s, b| s.calinski_harabasz > b.calinski_harabasz);
    let elbow = if scores.len() >= 3 {
        (1..scores.len() - 1)
            .map(|i| {
                let curve = scores[i - 1].inertia - 2.0 * scores[i].inertia + scores[i + 1].inertia;
                (i, curve)
            })
            .fold(
                (1, f64::NEG_INFINITY),
                |best, c| if c.1 > best.1 { c } else { best },
            )
            .0
    } else {
        scores.iter().position(|s| s.k == recommended).unwrap_or(0)
    };
    let elbow = scores[elbow].k;
    let chosen = &scores[recommended - low];
    let agree = |name: &str, k: usize| {
        if k == recommended {
            format!("{name} agrees")
        } else {
            format!("{name} prefers k = {k}")
        }
    };
    let reason = format!(
        "k = {recommended} has the highest silhouette ({:.3}{}); {}, {}; the inertia curve bends at k = {elbow}",
        chosen.silhouette.score,
        if chosen.silhouette.exact {
            ""
        } else {
            ", sampled"
        },
        agree("Davies–Bouldin", by_db),
        agree("Calinski–Harabasz", by_ch),
    );
    Ok(KChoice {
        scores,
        recommended,
        elbow,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};
    use proptest::prelude::*;
    use rand_distr::{Distribution, Normal};

    fn close(actual: f64, expected: f64) {
        let rel = (actual - expected).abs() / expected.abs().max(f64::MIN_POSITIVE);
        assert!(rel <= 1e-10, "{actual} vs {expected} (relative {rel:e})");
    }

    /// 45 × 2, three clusters of 15 around (0,0), (5,1), (2,6); rows 3 and 20
    /// carry a neighbouring cluster's label.
    fn fixture_a() -> (Array2<f64>, Vec<usize>) {
        let x = array![
            [0.0, 0.36],
            [-0.33, -1.07],
            [-0.55, -1.19],
            [0.07, 1.61],
            [-0.59, -0.74],
            [0.59, 0.43],
            [0.13, -1.12],
            [-0.04, 0.83],
            [-1.61, -0.55],
            [-2.28, -1.55],
            [-2.21, -0.28],
            [-1.52, 0.33],
            [0.19, -0.22],
            [-3.02, -0.65],
            [-0.06, 0.14],
            [3.16, 0.43],
            [3.83, 0.03],
            [6.27, 0.03],
            [4.96, 2.06],
            [4.3, 0.87],
            [5.13, 1.08],
            [3.53, 1.09],
            [6.63, -0.86],
            [6.03, 1.14],
            [4.23, 3.4],
            [5.91, -0.44],
            [5.09, 1.69],
            [4.77, 1.82],
            [4.92, 1.8],
            [6.73, 0.19],
            [2.24, 5.44],
            [2.15, 4.58],
            [1.3, 5.76],
            [3.08, 7.37],
            [0.41, 5.05],
            [2.78, 3.61],
            [1.44, 5.88],
            [3.51, 6.83],
            [1.61, 5.56],
            [1.7, 7.83],
            [1.49, 5.64],
            [2.42, 5.86],
            [1.76, 4.66],
            [1.99, 5.47],
            [3.4, 6.78],
        ];
        let labels = vec![
            0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1,
            1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        ];
        (x, labels)
    }

    /// 40 × 3, clusters 0, 1, 2 (13, 14, 12 rows) shuffled, a singleton
    /// cluster 4 at (8, 8, 8), and no row in cluster 3 (used with k = 5).
    fn fixture_b() -> (Array2<f64>, Vec<usize>) {
        let x = array![
            [2.966, -2.641, -0.458],
            [1.436, -3.882, -0.05],
            [0.976, 2.668, 0.16],
            [-1.593, -1.454, 1.791],
            [1.52, 0.966, 0.421],
            [2.781, -1.669, -0.079],
            [-3.154, 0.966, 2.013],
            [-2.243, -0.845, 2.779],
            [2.455, -3.039, -1.143],
            [-1.129, 2.847, -1.246],
            [1.544, -0.985, -2.247],
            [-2.992, -0.375, 1.7],
            [2.052, 1.995, 1.083],
            [3.177, -1.819, -0.617],
            [-2.869, -1.537, 3.249],
            [-3.023, 0.071, 1.248],
            [-0.998, 0.869, 0.863],
            [-0.291, 2.347, -1.188],
            [1.493, -2.208, -1.034],
            [1.089, 1.409, 0.381],
            [0.142, 2.972, 0.693],
            [-3.16, -0.975, 3.099],
            [2.862, -2.006, -0.126],
            [1.035, 0.946, 0.76],
            [-3.632, -1.761, 2.735],
            [-1.035, 1.696, -0.4],
            [0.376, 2.205, 0.993],
            [-3.694, -0.327, 1.44],
            [3.879, -1.016, -2.145],
            [8.0, 8.0, 8.0],
            [0.824, 1.794, 1.202],
            [0.892, -3.716, 0.336],
            [-1.558, -0.066, 1.726],
            [-3.626, -1.278, 3.257],
            [-3.671, -1.054, 2.337],
            [-3.543, -0.051, 1.207],
            [1.164, 4.245, -0.332],
            [-4.379, -0.807, 3.654],
            [1.559, -3.008, -0.37],
            [1.698, -2.651, -0.978],
        ];
        let labels = vec![
            2, 2, 0, 1, 0, 2, 1, 1, 2, 0, 2, 1, 0, 2, 1, 1, 0, 0, 2, 0, 0, 1, 2, 0, 1, 0, 0, 1, 2,
            4, 0, 2, 1, 1, 1, 1, 0, 1, 2, 2,
        ];
        (x, labels)
    }

    /// 500 × 2 from four seeded Gaussian blobs, labelled by blob.
    fn blobs(n: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0, 1.0).expect("valid");
        let centres = [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]];
        let labels: Vec<usize> = (0..n).map(|i| i % 4).collect();
        let x = Array2::from_shape_fn((n, 2), |(i, f)| {
            centres[labels[i]][f] + noise.sample(&mut rng)
        });
        (x, labels)
    }

    /// Rousseeuw's definition straight from the full distance matrix.
    fn naive_silhouette(x: ArrayView2<f64>, labels: &[usize], k: usize) -> f64 {
        let n = x.nrows();
        let dist =
            |i: usize, j: usize| euclidean(x.row(i).iter().copied(), x.row(j).iter().copied());
        let mut total = 0.0;
        for i in 0..n {
            let mut sums = vec![0.0; k];
            let mut counts = vec![0usize; k];
            for j in 0..n {
                sums[labels[j]] += dist(i, j);
                counts[labels[j]] += 1;
            }
            let own = labels[i];
            if counts[own] == 1 {
                continue;
            }
            let a = sums[own] / (counts[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && counts[c] > 0)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if a.max(b) > 0.0 {
                total += (b - a) / a.max(b);
            }
        }
        total / n as f64
    }

    #[test]
    fn silhouette_matches_scikit_learn() {
        let options = SilhouetteOptions::default();
        let (x, labels) = fixture_a();
        let s = silhouette(x.view(), &labels, 3, &options).unwrap();
        assert!(s.exact && s.rows_used == 45);
        // sklearn 1.9.1 / numpy 2.4.6: sklearn.metrics.silhouette_score(X, labels)
        close(s.score, 0.5777908517064974);
        let (x, labels) = fixture_b();
        let s = silhouette(x.view(), &labels, 5, &options).unwrap();
        // sklearn 1.9.1: silhouette_score(X, labels); the singleton scores 0, cluster 3 is empty.
        close(s.score, 0.5828032881090739);
        close(s.score, naive_silhouette(x.view(), &labels, 5));
    }

    #[test]
    fn davies_bouldin_matches_scikit_learn() {
        let (x, labels) = fixture_a();
        // sklearn 1.9.1: sklearn.metrics.davies_bouldin_score(X, labels)
        close(
            davies_bouldin(x.view(), &labels, 3).unwrap(),
            0.5782847090783791,
        );
        let (x, labels) = fixture_b();
        // sklearn 1.9.1: davies_bouldin_score(X, labels) (singleton scatter 0, cluster 3 empty)
        close(
            davies_bouldin(x.view(), &labels, 5).unwrap(),
            0.4570213917359046,
        );
    }

    #[test]
    fn calinski_harabasz_matches_scikit_learn() {
        let (x, labels) = fixture_a();
        // sklearn 1.9.1: sklearn.metrics.calinski_harabasz_score(X, labels)
        close(
            calinski_harabasz(x.view(), &labels, 3).unwrap(),
            77.50954881165458,
        );
        let (x, labels) = fixture_b();
        // sklearn 1.9.1: calinski_harabasz_score(X, labels)
        close(
            calinski_harabasz(x.view(), &labels, 5).unwrap(),
            82.31396612779798,
        );
    }

    #[test]
    fn adjusted_rand_index_matches_scikit_learn() {
        // sklearn 1.9.1: sklearn.metrics.adjusted_rand_score(a, b) for each pair below.
        let a = [
            0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 3, 3, 3, 1, 2, 0, 0, 1, 3,
            2,
        ];
        let b = [
            1, 1, 0, 0, 2, 2, 2, 2, 1, 1, 1, 0, 2, 0, 2, 2, 2, 0, 1, 1, 0, 3, 3, 0, 2, 1, 1, 0, 3,
            3,
        ];
        close(adjusted_rand_index(&a, &b).unwrap(), 0.3513792510179503);
        let truth: Vec<usize> = (0..45).map(|i| i / 15).collect();
        close(
            adjusted_rand_index(&fixture_a().1, &truth).unwrap(),
            0.8674138295622753,
        );
        assert_eq!(
            adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap(),
            -0.5
        );
        assert_eq!(adjusted_rand_index(&[0; 5], &[0, 1, 2, 3, 4]).unwrap(), 0.0);
        // A million rows, bit for bit: sklearn 1.9.1, i = np.arange(1_000_003);
        // adjusted_rand_score(i % 7, (i // 3) % 5).
        let a7: Vec<usize> = (0..1_000_003).map(|i| i % 7).collect();
        let b5: Vec<usize> = (0..1_000_003).map(|i| (i / 3) % 5).collect();
        assert_eq!(
            adjusted_rand_index(&a7, &b5).unwrap(),
            -4.799929840053473e-6
        );
        // scikit-learn's special cases: empty input and one row give 1.0.
        assert_eq!(adjusted_rand_index(&[], &[]).unwrap(), 1.0);
        assert_eq!(adjusted_rand_index(&[3], &[7]).unwrap(), 1.0);
        // Huge label values take the hashed path and agree with the dense one.
        let big: Vec<usize> = a.iter().map(|&l| usize::MAX - l).collect();
        assert_eq!(
            adjusted_rand_index(&big, &b).unwrap(),
            adjusted_rand_index(&a, &b).unwrap()
        );
    }

    #[test]
    fn degenerate_dispersions_follow_scikit_learn() {
        // Two clusters of duplicates: no within-cluster spread.
        let x = array![[0.0], [0.0], [1.0], [1.0]];
        let labels = [0, 0, 1, 1];
        // sklearn 1.9.1: davies_bouldin_score → 0.0, calinski_harabasz_score → 1.0,
        // silhouette_score → 1.0 for X = [[0],[0],[1],[1]], labels = [0,0,1,1].
        assert_eq!(davies_bouldin(x.view(), &labels, 2).unwrap(), 0.0);
        assert_eq!(calinski_harabasz(x.view(), &labels, 2).unwrap(), 1.0);
        let s = silhouette(x.view(), &labels, 2, &SilhouetteOptions::default()).unwrap();
        assert_eq!(s.score, 1.0);
        // All rows identical: every s(i) is 0/0 → 0.
        let same = Array2::<f64>::zeros((4, 2));
        let s = silhouette(same.view(), &labels, 2, &SilhouetteOptions::default()).unwrap();
        assert_eq!(s.score, 0.0);
        assert_eq!(davies_bouldin(same.view(), &labels, 2).unwrap(), 0.0);
        // sklearn 1.9.1: calinski_harabasz_score(zeros((4, 2)), labels) → 1.0
        assert_eq!(calinski_harabasz(same.view(), &labels, 2).unwrap(), 1.0);
    }

    #[cfg(feature = "parallel")]
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (x, labels) = blobs(20_000, 8);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let o = SilhouetteOptions {
                    max_exact: 1_000,
                    sample_size: 3_000,
                    seed: 1,
                };
                (
                    silhouette(x.view(), &labels, 4, &o).unwrap(),
                    davies_bouldin(x.view(), &labels, 4).unwrap(),
                    calinski_harabasz(x.view(), &labels, 4).unwrap(),
                )
            })
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn sampled_silhouette_is_the_exact_silhouette_of_its_sample() {
        let (x, labels) = blobs(500, 11);
        let options = SilhouetteOptions {
            max_exact: 50,
            sample_size: 120,
            seed: 42,
        };
        let s = silhouette(x.view(), &labels, 4, &options).unwrap();
        assert!(!s.exact);
        assert_eq!(s.rows_used, 120);
        let rows = sample_rows(500, 120, 42);
        assert_eq!(rows.len(), 120);
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        let xs = x.select(Axis(0), &rows);
        let ls: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
        let exact = silhouette(xs.view(), &ls, 4, &SilhouetteOptions::default()).unwrap();
        assert!(exact.exact);
        assert_eq!(s.score, exact.score);
        close(s.score, naive_silhouette(xs.view(), &ls, 4));
        // Same seed, same score; another seed, another sample.
        assert_eq!(silhouette(x.view(), &labels, 4, &options).unwrap(), s);
        let other = SilhouetteOptions {
            seed: 43,
            ..options
        };
        assert_ne!(sample_rows(500, 120, 43), rows);
        assert_ne!(
            silhouette(x.view(), &labels, 4, &other).unwrap().score,
            s.score
        );
        // A sample as large as the data is the exact score.
        let all = SilhouetteOptions {
            sample_size: 500,
            ..options
        };
        let full = silhouette(x.view(), &labels, 4, &all).unwrap();
        assert!(full.exact && full.rows_used == 500);
        close(full.score, naive_silhouette(x.view(), &labels, 4));
    }

    #[test]
    fn every_error_path_is_an_error() {
        let (x, labels) = fixture_a();
        let o = SilhouetteOptions::default();
        let empty = Array2::<f64>::zeros((0, 2));
        let no_columns = Array2::<f64>::zeros((45, 0));
        let mut nan = x.clone();
        nan[[7, 1]] = f64::NAN;
        let mut inf = x.clone();
        inf[[0, 0]] = f64::NEG_INFINITY;
        let mut huge = x.clone();
        huge[[0, 0]] = 1e308;
        huge[[1, 0]] = -1e308;
        let mut out_of_range = labels.clone();
        out_of_range[4] = 3;
        let one_cluster = vec![0; 45];
        let all_singletons: Vec<usize> = (0..45).collect();
        type Case<'a> = (ArrayView2<'a, f64>, &'a [usize], usize, fn(&Error) -> bool);
        let cases: Vec<Case> = vec![
            (empty.view(), &[], 3, |e| {
                matches!(e, Error::EmptyInput { .. })
            }),
            (no_columns.view(), &labels, 3, |e| {
                matches!(e, Error::EmptyInput { .. })
            }),
            (x.view(), &labels[1..], 3, |e| {
                matches!(
                    e,
                    Error::LengthMismatch {
                        expected: 45,
                        found: 44,
                        ..
                    }
                )
            }),
            (x.view(), &out_of_range, 3, |e| {
                matches!(
                    e,
                    Error::OutOfRange {
                        index: 3,
                        len: 3,
                        ..
                    }
                )
            }),
            (x.view(), &labels, 0, |e| {
                matches!(e, Error::OutOfRange { len: 0, .. })
            }),
            (
                nan.view(),
                &labels,
                3,
                |e| matches!(e, Error::NonFinite { row: 7, field, .. } if field == "column 1"),
            ),
            (
                inf.view(),
                &labels,
                3,
                |e| matches!(e, Error::NonFinite { row: 0, field, .. } if field == "column 0"),
            ),
            (huge.view(), &labels, 3, |e| {
                matches!(e, Error::InvalidInput(_))
            }),
            (x.view(), &one_cluster, 3, |e| {
                matches!(
                    e,
                    Error::TooFew {
                        minimum: 2,
                        found: 1,
                        ..
                    }
                )
            }),
            (x.view(), &all_singletons, 45, |e| {
                matches!(
                    e,
                    Error::TooFew {
                        minimum: 46,
                        found: 45,
                        ..
                    }
                )
            }),
            (x.view(), &all_singletons, usize::MAX, |e| {
                matches!(
                    e,
                    Error::TooFew {
                        minimum: 46,
                        found: 45,
                        ..
                    }
                )
            }),
        ];
        for (i, (x, labels, k, expected)) in cases.into_iter().enumerate() {
            for result in [
                silhouette(x, labels, k, &o).map(|s| s.score),
                davies_bouldin(x, labels, k),
                calinski_harabasz(x, labels, k),
            ] {
                assert!(result.as_ref().is_err_and(expected), "case {i}: {result:?}");
            }
        }
        let bad = SilhouetteOptions {
            sample_size: 2,
            ..o
        };
        assert!(matches!(
            silhouette(x.view(), &labels, 3, &bad),
            Err(Error::InvalidParameter {
                name: "sample_size",
                ..
            })
        ));
        // A sample that happens to hold a single cluster is an error, not a panic.
        let (bx, mut bl) = blobs(500, 3);
        bl.iter_mut().for_each(|l| *l = 0);
        bl[0] = 1;
        let tiny = SilhouetteOptions {
            max_exact: 10,
            sample_size: 3,
            seed: 5,
        };
        assert!(matches!(
            silhouette(bx.view(), &bl, 2, &tiny),
            Err(Error::TooFew {
                minimum: 2,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            adjusted_rand_index(&[0, 1], &[0]),
            Err(Error::LengthMismatch {
                expected: 2,
                found: 1,
                ..
            })
        ));
    }

    #[test]
    fn options_round_trip_through_serde_with_defaults() {
        let o: SilhouetteOptions = serde_json::from_str(r#"{"seed": 9}"#).unwrap();
        assert_eq!(
            o,
            SilhouetteOptions {
                seed: 9,
                ..SilhouetteOptions::default()
            }
        );
        let back: SilhouetteOptions =
            serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }

    fn labelled_data() -> impl Strategy<Value = (Vec<f64>, usize, Vec<usize>, usize)> {
        (3usize..40, 1usize..4, 2usize..6).prop_flat_map(|(n, d, k)| {
            (
                proptest::collection::vec(-10.0f64..10.0, n * d),
                Just(d),
                proptest::collection::vec(0..k, n),
                Just(k),
            )
        })
    }

    proptest! {
        #[test]
        fn indices_stay_in_their_ranges((values, d, labels, k) in labelled_data()) {
            let x = Array2::from_shape_vec((labels.len(), d), values).unwrap();
            let o = SilhouetteOptions::default();
            if let Ok(s) = silhouette(x.view(), &labels, k, &o) {
                prop_assert!((-1.0..=1.0).contains(&s.score), "{}", s.score);
                let naive = naive_silhouette(x.view(), &labels, k);
                prop_assert!((s.score - naive).abs() <= 1e-12, "{} vs {naive}", s.score);
                let db = davies_bouldin(x.view(), &labels, k).unwrap();
                prop_assert!(db >= 0.0 && db.is_finite());
                let ch = calinski_harabasz(x.view(), &labels, k).unwrap();
                prop_assert!(ch >= 0.0 && ch.is_finite());
            } else {
                // Labels lie in 0..k and values are finite, so the only way
                // to fail is too few clusters for the rows: fewer than 2
                // non-empty ones, or as many as there are rows.
                let mut present = labels.clone();
                present.sort_unstable();
                present.dedup();
                let (m, n) = (present.len(), labels.len());
                let (minimum, found) = if m < 2 { (2, m) } else { (m + 1, n) };
                let too_few = |r: Result<f64>| {
                    matches!(r, Err(Error::TooFew { minimum: a, found: b, .. }) if a == minimum && b == found)
                };
                prop_assert!(too_few(davies_bouldin(x.view(), &labels, k)));
                prop_assert!(too_few(calinski_harabasz(x.view(), &labels, k)));
            }
        }

        #[test]
        fn ari_is_one_on_itself_symmetric_and_blind_to_names(
            (a, b) in (0usize..60).prop_flat_map(|n| (
                proptest::collection::vec(0usize..6, n),
                proptest::collection::vec(0usize..6, n),
            )),
            shift in 0usize..6,
        ) {
            prop_assert_eq!(adjusted_rand_index(&a, &a).unwrap(), 1.0);
            let ab = adjusted_rand_index(&a, &b).unwrap();
            prop_assert_eq!(ab, adjusted_rand_index(&b, &a).unwrap());
            prop_assert!((-1.0..=1.0).contains(&ab));
            // A permutation of the label names: rotate and reverse.
            let renamed: Vec<usize> = a.iter().map(|&l| 100 - (l + shift) % 6).collect();
            prop_assert_eq!(adjusted_rand_index(&renamed, &b).unwrap(), ab);
            prop_assert_eq!(adjusted_rand_index(&renamed, &a).unwrap(), 1.0);
        }
    }
}
