//! k-means clustering: the workhorse of customer segmentation.
//!
//! k-means partitions customers (rows of a feature matrix) into `k` groups so
//! that the within-group sum of squared distances to the group means, the
//! *inertia*, is small (Lloyd 1982). Each group's mean, its *centroid*, is the
//! segment's profile in feature space; a new customer joins the segment with
//! the nearest centroid.
//!
//! # Algorithm
//!
//! - **Initialisation** by k-means++ (Arthur & Vassilvitskii 2007): the first
//!   centroid is a row drawn with probability proportional to its weight, each
//!   next one a row drawn with probability proportional to weight × squared
//!   distance to the nearest centroid so far. The *greedy* variant (the default,
//!   as scikit-learn's) draws `2 + ⌊ln k⌋` candidates per step and keeps the one
//!   that lowers the potential most. The distances that weight the draws are
//!   computed in single precision on the scaled rows (relative error about
//!   1e-6, immaterial to a draw); the seeds are always exact data rows.
//! - **Iterations** alternate assignment (each row to its nearest centroid) and
//!   update (each centroid to the weighted mean of its rows), until no row
//!   changes segment or the centroids' total squared shift falls below `tol`
//!   times the mean feature variance (scikit-learn's rule), or `max_iter`.
//! - **Hamerly's bounds** (Hamerly 2010; the default algorithm) give the same
//!   assignments with far fewer distance computations: each row keeps an upper
//!   bound on the distance to its centroid and a lower bound on the distance to
//!   any other; when the upper bound is below both the lower bound and half the
//!   distance from its centroid to the nearest other centroid, the row cannot
//!   have changed segment and is skipped. Bounds are moved by the centroids'
//!   shifts after each update. `Algorithm::Lloyd` computes every distance.
//! - **Empty segments** are re-seeded deterministically from the rows farthest
//!   from their centroids, as scikit-learn does.
//! - **Restarts**: `n_init` initialisations from one seed; the lowest inertia
//!   wins (ties: the first). Up to four are seeded and then iterated side by
//!   side: each pass takes every running initialisation in turn over each
//!   chunk of rows, so the rows are fetched from memory once per pass for all
//!   of them; each one's draws and arithmetic are those of running it alone.
//!
//! Rows are processed in fixed chunks of 4,096 whose partial sums are added in
//! chunk order, so results do not depend on the thread count. Each chunk keeps
//! its rows' labels and bounds and its own accumulators; the buffers a pass
//! works in belong to the thread, so after the first passes the iteration loop
//! allocates nothing.
//!
//! Nearest centroids are found in single precision on a copy of the rows
//! centred and scaled into [-1, 1] (half the bytes, twice the SIMD lanes),
//! stored in blocks of eight rows with one row per lane, so the kernel needs
//! no transposition and no branches. Each f32 distance comes with a bound on
//! its rounding error; a row whose two nearest centroids are closer than that
//! is decided again in f64, so the labels are those of f64 distances. When
//! most rows fail Hamerly's test (the first passes) every block with a
//! failing row is computed in place; later, the few failing rows are gathered
//! into lanes. Centroid sums, moves and the inertia are always computed in f64
//! from the original rows, and only rows that change segment touch the sums.
//!
//! The seeding and assignment loops are compiled for several instruction sets
//! (x86-64 with AVX2 and FMA, and the baseline) and the widest the processor
//! has is chosen at run time through `pulp`'s safe dispatch. Only the vector
//! width differs: every lane performs the same IEEE operations in the same
//! order (no fused multiply–adds are formed), so results are bit-identical on
//! every machine.
//!
//! The returned labels are always those of the nearest centroid of the
//! returned centroids, and `inertia` is the weighted sum of squared distances
//! of that labelling.
//!
//! [`MiniBatchKMeans`] fits inputs that do not fit in memory, fed in chunks
//! (Sculley 2010).
//!
//! # References
//! - S. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28 (1982).
//! - D. Arthur, S. Vassilvitskii, "k-means++: the advantages of careful seeding", SODA 2007.
//! - G. Hamerly, "Making k-means even faster", SDM 2010.
//! - D. Sculley, "Web-scale k-means clustering", WWW 2010.

use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::error::{Error, Result};

/// Largest feature magnitude accepted: squared norms and distances stay finite.
const MAX_ABS_VALUE: f64 = 1e100;

/// Rows per chunk: the unit of parallel work and of summation order.
const CHUNK: usize = 4096;
const _: () = assert!(CHUNK % LANES == 0, "chunks start on a block boundary");

/// Initialisations iterated side by side (see [`lloyd`]).
const LOCKSTEP: usize = 4;

/// How the first centroids are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// k-means++: one candidate per step.
    KMeansPlusPlus,
    /// Greedy k-means++: the best of several candidates per step
    /// (`None` = `2 + ⌊ln k⌋`, scikit-learn's default).
    GreedyKMeansPlusPlus {
        /// Candidates drawn per step.
        local_trials: Option<usize>,
    },
}

/// How assignments are computed; both give the nearest centroid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Every distance, every iteration.
    Lloyd,
    /// Lloyd's iterations with Hamerly's bounds to skip rows that cannot move.
    Hamerly,
}

/// k-means settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KMeansParams {
    /// Number of segments.
    pub k: usize,
    /// Initialisations tried; the lowest inertia wins.
    pub n_init: usize,
    /// Maximum iterations per initialisation.
    pub max_iter: usize,
    /// Convergence tolerance, relative to the mean feature variance (scikit-learn's `tol`).
    pub tol: f64,
    /// Initialisation.
    pub init: Init,
    /// Assignment algorithm.
    pub algorithm: Algorithm,
    /// Seed of the initialisations.
    pub seed: u64,
}

impl Default for KMeansParams {
    /// k = 8, 3 greedy k-means++ initialisations, 300 iterations, tol 1e-4, Hamerly, seed 0.
    fn default() -> Self {
        KMeansParams {
            k: 8,
            n_init: 3,
            max_iter: 300,
            tol: 1e-4,
            init: Init::GreedyKMeansPlusPlus { local_trials: None },
            algorithm: Algorithm::Hamerly,
            seed: 0,
        }
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    /// Centroids, one row per segment, in the space that was clustered.
    pub centroids: Array2<f64>,
    /// Weighted sum of squared distances of the training rows to their centroids.
    pub inertia: f64,
    /// Iterations of the winning initialisation.
    pub iterations: usize,
    /// Whether it converged before `max_iter`.
    pub converged: bool,
    /// Total squared centroid shift of its last iteration.
    pub shift: f64,
    /// Which initialisation won (0-based).
    pub best_init: usize,
    /// Weight (or count) of training rows per segment.
    pub weights: Vec<f64>,
}

/// A fit and the training rows' labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// The model.
    pub model: KMeans,
    /// Segment of each training row, `0..k`.
    pub labels: Vec<usize>,
}

impl KMeansParams {
    /// k-means with `k` segments and default settings.
    pub fn new(k: usize) -> Self {
        KMeansParams {
            k,
            ..KMeansParams::default()
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for k = 0, n_init = 0, max_iter = 0, a negative or
    /// non-finite tol, or zero local trials.
    pub fn check(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::param("k", self.k, "must be at least 1"));
        }
        if self.n_init == 0 {
            return Err(Error::param("n_init", self.n_init, "must be at least 1"));
        }
        if self.max_iter == 0 {
            return Err(Error::param(
                "max_iter",
                self.max_iter,
                "must be at least 1",
            ));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::param("tol", self.tol, "must be finite and >= 0"));
        }
        if let Init::GreedyKMeansPlusPlus {
            local_trials: Some(0),
        } = self.init
        {
            return Err(Error::param("local_trials", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// Fits on the rows of `x` with optional sample weights, returning the
    /// model and the rows' labels.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`check`](Self::check);
    /// [`Error::InvalidInput`] for fewer rows than k, no columns, a non-finite
    /// value, weights of the wrong length, negative or non-finite weights, or no
    /// positive weight.
    pub fn fit_rows<'a>(
        &self,
        x: ArrayView2<'a, f64>,
        weights: Option<&'a [f64]>,
    ) -> Result<Clustering> {
        self.fit_rows_with(x, weights, pulp::Arch::new())
    }

    /// Fits from given centroids instead of seeding (one run; `n_init`,
    /// `init` and `seed` do not apply): Lloyd's iterations, with Hamerly's
    /// bounds when set, from `initial` (`k` rows). A refit that starts from
    /// the previous model's centroids moves segments only as far as the data
    /// moved, which keeps nightly refits stable.
    ///
    /// # Errors
    /// As [`fit_rows`](Self::fit_rows), and [`Error::InvalidInput`] when
    /// `initial` is not `k` finite rows of the data's width.
    pub fn fit_rows_from<'a>(
        &self,
        x: ArrayView2<'a, f64>,
        weights: Option<&'a [f64]>,
        initial: ArrayView2<'_, f64>,
    ) -> Result<Clustering> {
        self.check()?;
        let data = Rows::new(x, weights)?;
        if initial.nrows() != self.k || initial.ncols() != data.d {
            return Err(Error::InvalidInput(format!(
                "k-means: initial centroids are {} × {}, need {} × {}",
                initial.nrows(),
                initial.ncols(),
                self.k,
                data.d
            )));
        }
        if initial.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(
                "k-means: initial centroids must be finite".into(),
            ));
        }
        let tol = self.tolerance_for(&data)?;
        let compact = Compact::new(&data, &[]);
        let how = Iterate {
            max_iter: self.max_iter,
            tol,
            algorithm: self.algorithm,
            arch: pulp::Arch::new(),
        };
        let start: Vec<f64> = initial.iter().copied().collect();
        let run = lloyd(&data, &compact, vec![start], 0, how)
            .ok_or_else(|| Error::InvalidInput("k-means: no initialisation".into()))?;
        Ok(run.into_clustering(data.d, self.k))
    }

    /// The absolute tolerance for `data` (the relative one times the mean
    /// variance), once there are enough rows for k segments.
    fn tolerance_for(&self, data: &Rows<'_>) -> Result<f64> {
        if data.n < self.k {
            return Err(Error::InvalidInput(format!(
                "k-means: {} rows cannot form {} segments",
                data.n, self.k
            )));
        }
        Ok(self.tol * mean_variance(data))
    }

    /// [`fit_rows`](Self::fit_rows) with the kernels compiled for `arch`.
    fn fit_rows_with<'a>(
        &self,
        x: ArrayView2<'a, f64>,
        weights: Option<&'a [f64]>,
        arch: pulp::Arch,
    ) -> Result<Clustering> {
        self.check()?;
        let data = Rows::new(x, weights)?;
        let tol = self.tolerance_for(&data)?;
        // One single-precision copy of the rows serves every initialisation.
        let compact = Compact::new(&data, &[]);
        let mut best: Option<Run> = None;
        let inits: Vec<usize> = (0..self.n_init).collect();
        for group in inits.chunks(LOCKSTEP) {
            let rngs = group
                .iter()
                .map(|&init| {
                    let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                    rng.set_stream(init as u64);
                    rng
                })
                .collect();
            let initials = initial_centroids(&data, &compact, self.k, self.init, rngs, arch);
            let how = Iterate {
                max_iter: self.max_iter,
                tol,
                algorithm: self.algorithm,
                arch,
            };
            let run = lloyd(&data, &compact, initials, group[0], how);
            if let Some(run) = run {
                if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                    best = Some(run);
                }
            }
        }
        let run = best.ok_or_else(|| Error::InvalidInput("k-means: no initialisation".into()))?;
        Ok(run.into_clustering(data.d, self.k))
    }
}

/// The rows to cluster: contiguous row-major values and optional weights.
struct Rows<'a> {
    x: Cow<'a, [f64]>,
    n: usize,
    d: usize,
    w: Option<&'a [f64]>,
}

impl<'a> Rows<'a> {
    fn new(x: ArrayView2<'a, f64>, weights: Option<&'a [f64]>) -> Result<Rows<'a>> {
        let (n, d) = x.dim();
        if d == 0 {
            return Err(Error::InvalidInput("k-means: no feature columns".into()));
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
            (
                part.iter()
                    .position(|v| v.abs() > MAX_ABS_VALUE)
                    .map(|i| start + i),
                part.iter().position(|v| !v.is_finite()).map(|i| start + i),
            )
        });
        if let Some(i) = firsts.iter().find_map(|f| f.0) {
            return Err(Error::InvalidInput(format!(
                "k-means: row {}, column {} is {} (beyond ±1e100; rescale the feature, e.g. standardise it)",
                i / d,
                i % d,
                values[i]
            )));
        }
        if let Some(i) = firsts.iter().find_map(|f| f.1) {
            return Err(Error::InvalidInput(format!(
                "k-means: row {}, column {} is {} (features must be finite; impute or drop missing values first)",
                i / d,
                i % d,
                values[i]
            )));
        }
        if let Some(w) = weights {
            if w.len() != n {
                return Err(Error::InvalidInput(format!(
                    "k-means: {} weights for {n} rows",
                    w.len()
                )));
            }
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::InvalidInput(format!(
                    "k-means: weight of row {i} is {} (must be finite and >= 0)",
                    w[i]
                )));
            }
            if !w.iter().any(|&v| v > 0.0) {
                return Err(Error::InvalidInput(
                    "k-means: no row has a positive weight".into(),
                ));
            }
        }
        Ok(Rows {
            x: values,
            n,
            d,
            w: weights,
        })
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    fn weight(&self, i: usize) -> f64 {
        self.w.map_or(1.0, |w| w[i])
    }

    fn n_chunks(&self) -> usize {
        self.n.div_ceil(CHUNK)
    }

    fn chunk_range(&self, c: usize) -> std::ops::Range<usize> {
        c * CHUNK..((c + 1) * CHUNK).min(self.n)
    }
}

/// Mean of the (unweighted) feature variances, the scale of scikit-learn's tolerance.
///
/// Two passes (means, then squared deviations), each summing chunk by chunk in
/// parallel and adding the chunks' sums in chunk order, so the value does not
/// depend on the thread count.
fn mean_variance(data: &Rows<'_>) -> f64 {
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
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
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

/// Where a draw with probability proportional to per-row mass lands, given
/// per-chunk totals of the mass: the chunk and the mass still to walk inside
/// it, or `None` when rounding carried it past the last chunk.
fn draw_chunk(chunk_totals: &[f64], u: f64) -> Option<(usize, f64)> {
    let total: f64 = chunk_totals.iter().sum();
    let mut target = u * total;
    for (c, &t) in chunk_totals.iter().enumerate() {
        if target < t {
            return Some((c, target));
        }
        target -= t;
    }
    None
}

/// The row of chunk `c` where `target` of its mass is used up.
fn draw_in_chunk(data: &Rows<'_>, mass: impl Fn(usize) -> f64, c: usize, mut target: f64) -> usize {
    let range = data.chunk_range(c);
    let mut last_positive = range.start;
    for i in range {
        let m = mass(i);
        if m > 0.0 {
            last_positive = i;
            if target < m {
                return i;
            }
            target -= m;
        }
    }
    // Rounding left a sliver: the chunk's last row with mass.
    last_positive
}

/// The last row with mass, for a draw that rounding carried past the end.
fn last_with_mass(n: usize, mass: impl Fn(usize) -> f64) -> usize {
    (0..n).rev().find(|&i| mass(i) > 0.0).unwrap_or(0)
}

/// Draws a row with probability proportional to `mass` (non-negative, positive
/// total), given per-chunk totals; deterministic for a uniform `u` in [0, 1).
fn draw(data: &Rows<'_>, mass: impl Fn(usize) -> f64, chunk_totals: &[f64], u: f64) -> usize {
    match draw_chunk(chunk_totals, u) {
        Some((c, target)) => draw_in_chunk(data, &mass, c, target),
        None => last_with_mass(data.n, mass),
    }
}

/// Squared distances, in single precision, from each row of a block
/// (`x[f][lane]`) to `M` points given feature-major (`points[f][m]`), summed
/// feature by feature; every lane performs the same operations in the same
/// order, so a row's distance to a point does not depend on its block, on the
/// other points or on the vector width.
#[inline(always)]
fn block_distances<const M: usize>(x: &[[f32; LANES]], points: &[[f32; M]]) -> [[f32; LANES]; M] {
    let mut acc = [[0.0f32; LANES]; M];
    for (xf, pf) in x.iter().zip(points) {
        for (a, &c) in acc.iter_mut().zip(pf) {
            for l in 0..LANES {
                let t = xf[l] - c;
                a[l] += t * t;
            }
        }
    }
    acc
}

/// The smaller of two values that are not NaN (`f64::min` without its NaN test).
#[inline(always)]
fn min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// One pass of k-means++ seeding over a chunk's `n` rows, given as blocks of
/// [`Compact`] rows, with `M` points: point 0 is the latest centroid, whose
/// (weighted) squared distance lowers `closest`; the others are candidates (or
/// padding). Returns, per point, the sum over the rows of min(weighted
/// distance, closest): for point 0 the new potential, for a candidate the
/// potential if it were added. Sums are kept per lane and added in lane order.
/// Without weights (`WEIGHTED` false) every weight is 1 and the products are
/// left out; the values are the same.
#[inline(always)]
fn seeding_pass<const M: usize, const WEIGHTED: bool>(
    blocks: &[[f32; LANES]],
    d: usize,
    ws: &[f64],
    closest: &mut [f64],
    points: &[[f32; M]],
) -> [f64; M] {
    let n = closest.len();
    let mut pot = [[0.0f64; LANES]; M];
    for (bi, x) in blocks.chunks_exact(d).enumerate() {
        let dist = block_distances::<M>(x, points);
        let r0 = bi * LANES;
        if r0 + LANES <= n {
            let slots = &mut closest[r0..r0 + LANES];
            let w = if WEIGHTED { &ws[r0..r0 + LANES] } else { &[] };
            let mut now = [0.0f64; LANES];
            for l in 0..LANES {
                let d0 = f64::from(dist[0][l]);
                now[l] = min(slots[l], if WEIGHTED { w[l] * d0 } else { d0 });
                slots[l] = now[l];
            }
            // Every point's sum, padding included (it repeats the latest
            // centroid), so the loops have fixed widths and vectorise.
            for (p, dt) in pot.iter_mut().zip(&dist).skip(1) {
                for l in 0..LANES {
                    let v = f64::from(dt[l]);
                    p[l] += min(if WEIGHTED { w[l] * v } else { v }, now[l]);
                }
            }
            for l in 0..LANES {
                pot[0][l] += now[l];
            }
        } else {
            // The last, partial block.
            for l in 0..n - r0 {
                let r = r0 + l;
                let w = if WEIGHTED { ws[r] } else { 1.0 };
                let d0 = f64::from(dist[0][l]);
                let now = min(closest[r], if WEIGHTED { w * d0 } else { d0 });
                closest[r] = now;
                for (p, dt) in pot.iter_mut().zip(&dist).skip(1) {
                    let v = f64::from(dt[l]);
                    p[l] += min(if WEIGHTED { w * v } else { v }, now);
                }
                pot[0][l] += now;
            }
        }
    }
    let mut sums = [0.0f64; M];
    for (s, p) in sums.iter_mut().zip(&pot) {
        *s = p.iter().sum();
    }
    sums
}

/// [`seeding_pass`] compiled for the widest vector instructions the processor
/// has (chosen at run time by `pulp`; see the module docs).
struct SeedingPass<'a, const M: usize> {
    blocks: &'a [[f32; LANES]],
    d: usize,
    ws: Option<&'a [f64]>,
    closest: &'a mut [f64],
    points: &'a [[f32; M]],
}

impl<const M: usize> pulp::WithSimd for SeedingPass<'_, M> {
    type Output = [f64; M];

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> [f64; M] {
        let SeedingPass {
            blocks,
            d,
            ws,
            closest,
            points,
        } = self;
        match ws {
            Some(ws) => seeding_pass::<M, true>(blocks, d, ws, closest, points),
            None => seeding_pass::<M, false>(blocks, d, &[], closest, points),
        }
    }
}

/// The latest centroid and the candidates as [`Compact`] rows, feature-major
/// with `M` points (padding repeats the latest centroid).
fn seeding_points<const M: usize>(compact: &Compact, d: usize, rows: &[usize]) -> Vec<[f32; M]> {
    (0..d)
        .map(|f| {
            let mut column = [0.0; M];
            for (m, c) in column.iter_mut().enumerate() {
                *c = compact.value(rows[m.min(rows.len() - 1)], f, d);
            }
            column
        })
        .collect()
}

/// [`seeding_pass`] over every chunk for each initialisation being seeded:
/// for seed `s`, the latest centroid `lists[s][0]` and the candidates
/// `lists[s][1..]` (every list equally long). The chunks are shared out among
/// the threads and each chunk's rows serve every initialisation in turn, so
/// they are fetched from memory once for all of them. Returns the sums per
/// initialisation, per chunk, per point.
fn seeding_sums(
    data: &Rows<'_>,
    compact: &Compact,
    seeds: &mut [Seeding],
    lists: &[Vec<usize>],
    arch: pulp::Arch,
) -> Vec<Vec<Vec<f64>>> {
    fn run<const M: usize>(
        data: &Rows<'_>,
        compact: &Compact,
        seeds: &mut [Seeding],
        lists: &[Vec<usize>],
        arch: pulp::Arch,
    ) -> Vec<Vec<Vec<f64>>> {
        let d = data.d;
        let points: Vec<Vec<[f32; M]>> = lists
            .iter()
            .map(|rows| seeding_points::<M>(compact, d, rows))
            .collect();
        let used = lists.first().map_or(0, Vec::len);
        let mut columns: Vec<Vec<&mut [f64]>> = (0..data.n_chunks())
            .map(|_| Vec::with_capacity(seeds.len()))
            .collect();
        for seed in seeds.iter_mut() {
            for (column, part) in columns.iter_mut().zip(seed.closest.chunks_mut(CHUNK)) {
                column.push(part);
            }
        }
        let pass = |(c, column): (usize, &mut Vec<&mut [f64]>)| {
            let range = data.chunk_range(c);
            let blocks = compact.chunk_blocks(range.clone(), d);
            let ws = data.w.map(|w| &w[range]);
            column
                .iter_mut()
                .zip(&points)
                .map(|(closest, points)| {
                    arch.dispatch(SeedingPass::<M> {
                        blocks,
                        d,
                        ws,
                        closest,
                        points,
                    })
                })
                .collect::<Vec<[f64; M]>>()
        };
        #[cfg(feature = "parallel")]
        let per_chunk: Vec<Vec<[f64; M]>> = {
            use rayon::prelude::*;
            columns.par_iter_mut().enumerate().map(pass).collect()
        };
        #[cfg(not(feature = "parallel"))]
        let per_chunk: Vec<Vec<[f64; M]>> = columns.iter_mut().enumerate().map(pass).collect();
        (0..seeds.len())
            .map(|s| {
                per_chunk
                    .iter()
                    .map(|sums| sums[s][..used].to_vec())
                    .collect()
            })
            .collect()
    }
    match lists.first().map_or(0, Vec::len) {
        0..=2 => run::<2>(data, compact, seeds, lists, arch),
        3..=4 => run::<4>(data, compact, seeds, lists, arch),
        5 => run::<5>(data, compact, seeds, lists, arch),
        6 => run::<6>(data, compact, seeds, lists, arch),
        7..=8 => run::<8>(data, compact, seeds, lists, arch),
        // Many candidates: in groups, each with the latest centroid first.
        len => {
            let firsts: Vec<Vec<usize>> = lists.iter().map(|l| l[..8].to_vec()).collect();
            let mut sums = run::<8>(data, compact, seeds, &firsts, arch);
            for start in (8..len).step_by(7) {
                let group: Vec<Vec<usize>> = lists
                    .iter()
                    .map(|l| {
                        let mut with_latest = vec![l[0]];
                        with_latest.extend_from_slice(&l[start..(start + 7).min(len)]);
                        with_latest
                    })
                    .collect();
                let more = run::<8>(data, compact, seeds, &group, arch);
                for (seed_sums, seed_more) in sums.iter_mut().zip(more) {
                    for (s, m) in seed_sums.iter_mut().zip(seed_more) {
                        s.extend_from_slice(&m[1..]);
                    }
                }
            }
            sums
        }
    }
}

/// One initialisation's k-means++ seeding in progress.
struct Seeding {
    rng: ChaCha8Rng,
    /// Weighted squared distance of each row to its nearest centroid so far
    /// (for chunks marked stale, without the latest centroid).
    closest: Vec<f64>,
    /// Per-chunk sums of `closest` (up to date).
    totals: Vec<f64>,
    stale: Vec<bool>,
    latest: usize,
    centroids: Vec<f64>,
}

/// k-means++ (greedy with `trials` > 1) initial centroids, row-major k × d,
/// for one initialisation per generator in `rngs`.
///
/// Each step is one pass over the rows: it lowers every row's distance to the
/// nearest centroid with the centroid chosen last, and sums the potential each
/// candidate would leave. The candidates of the next step are drawn before
/// that pass, so their chunk's distances are brought up to date first (taking
/// the minimum twice changes nothing). The initialisations take their steps
/// side by side, one pass for all of them; each one's draws and arithmetic
/// are those of seeding it alone.
fn initial_centroids(
    data: &Rows<'_>,
    compact: &Compact,
    k: usize,
    init: Init,
    rngs: Vec<ChaCha8Rng>,
    arch: pulp::Arch,
) -> Vec<Vec<f64>> {
    let trials = match init {
        Init::KMeansPlusPlus => 1,
        Init::GreedyKMeansPlusPlus { local_trials } => {
            local_trials.unwrap_or(2 + (k as f64).ln().floor() as usize)
        }
    };
    let n_chunks = data.n_chunks();
    let weight = |i: usize| data.weight(i);
    let weight_totals: Vec<f64> =
        crate::parallel::map_range(n_chunks, |c| data.chunk_range(c).map(weight).sum());
    let mut seeds: Vec<Seeding> = rngs
        .into_iter()
        .map(|mut rng| {
            let first = draw(data, weight, &weight_totals, rng.r#gen::<f64>());
            Seeding {
                rng,
                closest: vec![f64::INFINITY; data.n],
                totals: Vec::new(),
                stale: vec![false; n_chunks],
                latest: first,
                centroids: data.row(first).to_vec(),
            }
        })
        .collect();
    let lists: Vec<Vec<usize>> = seeds.iter().map(|s| vec![s.latest]).collect();
    let sums = seeding_sums(data, compact, &mut seeds, &lists, arch);
    for (seed, sums) in seeds.iter_mut().zip(sums) {
        seed.totals = sums.iter().map(|s| s[0]).collect();
    }
    for _ in 1..k {
        let lists: Vec<Vec<usize>> = seeds
            .iter_mut()
            .map(|seed| seed.candidates(data, compact, trials, &weight_totals))
            .collect();
        // Potential after adding each candidate, summed per chunk in order.
        let sums = seeding_sums(data, compact, &mut seeds, &lists, arch);
        for ((seed, sums), rows) in seeds.iter_mut().zip(sums).zip(&lists) {
            let mut best = 0;
            let mut best_pot = f64::INFINITY;
            for t in 0..trials {
                let pot: f64 = sums.iter().map(|p| p[1 + t]).sum();
                if pot < best_pot {
                    best_pot = pot;
                    best = t;
                }
            }
            seed.latest = rows[1 + best];
            seed.centroids.extend_from_slice(data.row(seed.latest));
            // The chunk sums of the chosen candidate are those of the updated distances.
            for (total, s) in seed.totals.iter_mut().zip(&sums) {
                *total = s[1 + best];
            }
            seed.stale.fill(true);
        }
    }
    seeds.into_iter().map(|s| s.centroids).collect()
}

impl Seeding {
    /// The latest centroid and this step's `trials` candidates, drawn with
    /// probability proportional to the distance to the nearest centroid.
    fn candidates(
        &mut self,
        data: &Rows<'_>,
        compact: &Compact,
        trials: usize,
        weight_totals: &[f64],
    ) -> Vec<usize> {
        let potential: f64 = self.totals.iter().sum();
        let mut rows = vec![self.latest; trials + 1];
        for slot in rows[1..].iter_mut() {
            *slot = if potential > 0.0 {
                let u = self.rng.r#gen::<f64>();
                match draw_chunk(&self.totals, u) {
                    Some((c, target)) => {
                        self.refresh(data, compact, c);
                        let closest = &self.closest;
                        draw_in_chunk(data, |i| closest[i], c, target)
                    }
                    None => {
                        // Rounding carried the draw past the end: bring every chunk up to date.
                        for c in 0..self.stale.len() {
                            self.refresh(data, compact, c);
                        }
                        let closest = &self.closest;
                        last_with_mass(data.n, |i| closest[i])
                    }
                }
            } else {
                // Every row sits on a centroid: any row with weight.
                let u = self.rng.r#gen::<f64>();
                draw(data, |i| data.weight(i), weight_totals, u)
            };
        }
        rows
    }

    /// Lowers the distances of chunk `c`'s rows with the latest centroid, if
    /// they are stale, with the arithmetic of [`seeding_pass`] (so the pass that
    /// follows takes the same minimum again and changes nothing).
    fn refresh(&mut self, data: &Rows<'_>, compact: &Compact, c: usize) {
        if !self.stale.get(c).copied().unwrap_or(false) {
            return;
        }
        self.stale[c] = false;
        let d = data.d;
        let range = data.chunk_range(c);
        let point = seeding_points::<1>(compact, d, &[self.latest]);
        let blocks = compact.chunk_blocks(range.clone(), d);
        for (bi, x) in blocks.chunks_exact(d).enumerate() {
            let [dist] = block_distances::<1>(x, &point);
            for (l, &v) in dist.iter().enumerate().take(range.len() - bi * LANES) {
                let i = range.start + bi * LANES + l;
                let v = f64::from(v);
                let v = match data.w {
                    Some(w) => w[i] * v,
                    None => v,
                };
                self.closest[i] = min(self.closest[i], v);
            }
        }
    }
}

/// Rows per block of the assignment kernel, one row per lane.
const LANES: usize = 8;

/// Unit roundoff of f32.
const F32_UNIT: f32 = 1.0 / 16_777_216.0;

/// A floor on the error margin (in the scaled space), far above anything
/// underflow can lose.
const F32_FLOOR: f32 = 7.888_609e-31; // 2^-100

/// The rows in single precision for the assignment kernel: centred on their
/// weighted mean and scaled by a power of two into [-1, 1], so that f32 keeps
/// seven significant digits of the distances that decide a segment, and the
/// kernel reads half the bytes with twice the lanes.
///
/// Every f32 result comes with an error bound; when the two nearest centroids
/// are closer than it, the row is decided in f64 instead, so labels are those
/// of exact distances (see [`Centroids::nearest_block`]).
struct Compact {
    /// Blocks of `LANES` rows, each feature-major (`blocks[b * d + f][lane]`
    /// is feature `f` of row `b * LANES + lane`), so the kernel reads a
    /// block's rows already spread over the lanes; the last block is padded
    /// with zeros.
    blocks: Vec<[f32; LANES]>,
    mean: Vec<f64>,
    /// A power of two at least the largest |x − mean|.
    scale: f64,
}

impl Compact {
    /// Feature `f` of row `i` (`d` features).
    fn value(&self, i: usize, f: usize, d: usize) -> f32 {
        self.blocks[(i / LANES) * d + f][i % LANES]
    }

    /// The blocks holding the rows of `range`, which starts on a block boundary.
    fn chunk_blocks(&self, range: std::ops::Range<usize>, d: usize) -> &[[f32; LANES]] {
        &self.blocks[range.start / LANES * d..range.end.div_ceil(LANES) * d]
    }

    /// The compact rows of `data`, scaled so that the rows and `points` (the
    /// centroids a prediction compares them with, which may lie outside the
    /// rows' range) are all within [-1, 1].
    fn new(data: &Rows<'_>, points: &[f64]) -> Compact {
        let d = data.d;
        let n_chunks = data.n_chunks();
        // Weighted means: only the centring, so any fixed summation order will do.
        let parts: Vec<(Vec<f64>, f64)> = crate::parallel::map_range(n_chunks, |c| {
            let mut sums = vec![0.0; d];
            let mut total = 0.0;
            for i in data.chunk_range(c) {
                let w = data.weight(i);
                total += w;
                for (s, &v) in sums.iter_mut().zip(data.row(i)) {
                    *s += w * v;
                }
            }
            (sums, total)
        });
        let mut mean = vec![0.0; d];
        let mut total = 0.0;
        for (sums, t) in &parts {
            total += t;
            for (m, s) in mean.iter_mut().zip(sums) {
                *m += s;
            }
        }
        for m in &mut mean {
            // No weight at all (no rows): any centre will do.
            *m = if total > 0.0 { *m / total } else { 0.0 };
        }
        let spans: Vec<f64> = crate::parallel::map_range(n_chunks, |c| {
            let xs = &data.x[data.chunk_range(c).start * d..data.chunk_range(c).end * d];
            xs.chunks_exact(d).fold(0.0f64, |acc, row| {
                row.iter()
                    .zip(&mean)
                    .fold(acc, |acc, (v, m)| acc.max((v - m).abs()))
            })
        });
        let span = points
            .chunks_exact(d)
            .flat_map(|p| p.iter().zip(&mean).map(|(v, m)| (v - m).abs()))
            .chain(spans)
            .fold(0.0f64, f64::max);
        let mut scale = 1.0f64;
        while scale < span {
            scale *= 2.0;
        }
        // (Not below about 1e-290, so that 1/scale stays finite.)
        while scale * 0.5 >= span && span > 0.0 && scale > 1e-290 {
            scale *= 0.5;
        }
        let inv = 1.0 / scale;
        let mut blocks = vec![[0.0f32; LANES]; data.n.div_ceil(LANES) * d];
        let fill = |(c, out): (usize, &mut [[f32; LANES]])| {
            let range = data.chunk_range(c);
            let xs = &data.x[range.start * d..range.end * d];
            for (rows, block) in xs.chunks(LANES * d).zip(out.chunks_exact_mut(d)) {
                for (l, row) in rows.chunks_exact(d).enumerate() {
                    for ((b, &v), m) in block.iter_mut().zip(row).zip(&mean) {
                        b[l] = ((v - m) * inv) as f32;
                    }
                }
            }
        };
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            blocks
                .par_chunks_mut(CHUNK / LANES * d)
                .enumerate()
                .for_each(fill);
        }
        #[cfg(not(feature = "parallel"))]
        blocks
            .chunks_mut(CHUNK / LANES * d)
            .enumerate()
            .for_each(fill);
        Compact {
            blocks,
            mean,
            scale,
        }
    }
}

/// The centroids in the layouts the kernels need.
struct Centroids {
    k: usize,
    d: usize,
    /// Row-major k × d.
    rows: Vec<f64>,
    /// Half the distance from each centroid to its nearest other centroid.
    half_gap: Vec<f64>,
    /// The rows' centring and scale (see [`Compact`]).
    mean: Vec<f64>,
    scale: f64,
    /// 2c̃ (c̃ the centred, scaled f32 centroid), centroid-major k × d, repeated
    /// over the lanes so the kernel multiplies whole vectors.
    twice: Vec<[f32; LANES]>,
    /// ‖c̃‖² of each centroid, and the largest.
    norms: Vec<f32>,
    max_norm: f32,
}

/// The nearest centroids of a block of rows, per lane.
struct BlockNearest {
    /// Index of the nearest centroid.
    best: [f32; LANES],
    /// Whether the f32 distances decide the nearest centroid.
    decided: [bool; LANES],
    /// Upper bound on the distance to the nearest centroid, lower bound on the
    /// distance to any other (scaled space).
    upper: [f32; LANES],
    lower: [f32; LANES],
}

impl Centroids {
    fn new(rows: Vec<f64>, k: usize, d: usize, compact: &Compact) -> Centroids {
        let mut c = Centroids {
            k,
            d,
            rows,
            half_gap: vec![f64::INFINITY; k],
            mean: compact.mean.clone(),
            scale: compact.scale,
            twice: vec![[0.0; LANES]; k * d],
            norms: vec![0.0; k],
            max_norm: 0.0,
        };
        c.refresh();
        c
    }

    fn row(&self, j: usize) -> &[f64] {
        &self.rows[j * self.d..(j + 1) * self.d]
    }

    /// Recomputes the derived layouts after `rows` changed.
    fn refresh(&mut self) {
        let (k, d) = (self.k, self.d);
        let inv = 1.0 / self.scale;
        self.max_norm = 0.0;
        for j in 0..k {
            let mut norm = 0.0f64;
            for f in 0..d {
                let c = ((self.rows[j * d + f] - self.mean[f]) * inv) as f32;
                norm += f64::from(c) * f64::from(c);
                self.twice[j * d + f] = [2.0 * c; LANES];
            }
            self.norms[j] = norm as f32;
            self.max_norm = self.max_norm.max(norm as f32);
        }
        for j in 0..k {
            let mut nearest = f64::INFINITY;
            for o in 0..k {
                if o != j {
                    nearest = nearest.min(squared_distance(self.row(j), self.row(o)));
                }
            }
            self.half_gap[j] = 0.5 * nearest.sqrt();
        }
    }

    /// Nearest and second-nearest squared distances of `x` in f64 (ties: lowest index).
    fn nearest_exact(&self, x: &[f64]) -> (usize, f64, f64) {
        let (mut best, mut d1, mut d2) = (0, f64::INFINITY, f64::INFINITY);
        for j in 0..self.k {
            let v = squared_distance(x, self.row(j));
            if v < d1 {
                d2 = d1;
                d1 = v;
                best = j;
            } else if v < d2 {
                d2 = v;
            }
        }
        (best, d1, d2)
    }

    /// The nearest centroid of each row of a block (`x[f][lane]`, scaled f32)
    /// through ‖x̃ − c̃‖² = ‖x̃‖² + (‖c̃‖² − 2x̃·c̃), with rows in the lanes so that
    /// every operation is a whole-vector one and the running minimum needs no
    /// branch.
    ///
    /// The computed squared distances are within `err` = (4d + 24)·u·(‖x̃‖² +
    /// max ‖c̃‖²) of the exact distances of the f64 rows (u = 2⁻²⁴): about
    /// (3d + 12)·u·(…) for the rounding of the data, the products and the sums,
    /// with the rest as slack for the bounds' own rounding. The nearest
    /// centroid is decided when the second nearest is more than 2·err farther;
    /// otherwise the caller decides in f64.
    #[inline(always)]
    fn nearest_block(&self, x: &[[f32; LANES]]) -> BlockNearest {
        let d = self.d;
        let mut m1 = [f32::INFINITY; LANES];
        let mut m2 = [f32::INFINITY; LANES];
        let mut best = [0.0f32; LANES];
        for (j, twice) in self.twice.chunks_exact(d).enumerate() {
            let mut acc = [self.norms[j]; LANES];
            for (xf, cf) in x.iter().zip(twice) {
                for l in 0..LANES {
                    acc[l] -= xf[l] * cf[l];
                }
            }
            let index = j as f32;
            for l in 0..LANES {
                let a = acc[l];
                let nearer = a < m1[l];
                // The second smallest is min(m2, max(m1, a)) whichever way a compares.
                let above = if a > m1[l] { a } else { m1[l] };
                m2[l] = if above < m2[l] { above } else { m2[l] };
                best[l] = if nearer { index } else { best[l] };
                m1[l] = if nearer { a } else { m1[l] };
            }
        }
        let mut xx = [0.0f32; LANES];
        for xf in x {
            for l in 0..LANES {
                xx[l] += xf[l] * xf[l];
            }
        }
        let rel = (4 * d + 24) as f32 * F32_UNIT;
        let mut out = BlockNearest {
            best,
            decided: [false; LANES],
            upper: [0.0; LANES],
            lower: [0.0; LANES],
        };
        for l in 0..LANES {
            let err = rel * (xx[l] + self.max_norm) + F32_FLOOR;
            out.decided[l] = m2[l] - m1[l] > 2.0 * err;
            out.upper[l] = (xx[l] + m1[l] + err).max(0.0).sqrt();
            out.lower[l] = (xx[l] + m2[l] - err).max(0.0).sqrt();
        }
        out
    }
}

/// One chunk's rows' state and its accumulators (kept across iterations).
struct Chunk {
    start: usize,
    labels: Vec<u32>,
    /// Upper bound on the distance to the own centroid, in the scaled space of
    /// [`Compact`], rounded up to f32 (half the bytes to stream each pass).
    upper: Vec<f32>,
    /// Lower bound on the distance to any other centroid, rounded down.
    lower: Vec<f32>,
    /// This pass's change of the per-segment weighted sums, weights and row counts.
    sums: Vec<f64>,
    weights: Vec<f64>,
    counts: Vec<i64>,
    /// Whether the rows' labels are not yet counted in the segment sums.
    fresh: bool,
    /// Rows (offsets) that changed segment in this pass's update, with their old
    /// segment (not kept for the first update, which sums every row).
    moves: Vec<(u32, u32)>,
    /// A block of rows for the kernel, `block[f][lane]`.
    block: Vec<[f32; LANES]>,
    changed: usize,
    inertia: f64,
}

/// How far the centroids have moved in total, for the bounds.
///
/// Rows store their bounds relative to these running totals (the upper bound
/// minus its centroid's total move, the lower bound plus the total of the
/// largest moves of the other centroids), so a row whose bounds still hold is
/// skipped without writing anything.
struct Movement {
    /// Total move of each centroid.
    own: Vec<f64>,
    /// Total, over updates, of the largest move of any other centroid.
    others: Vec<f64>,
}

impl Movement {
    fn none(k: usize) -> Movement {
        Movement {
            own: vec![0.0; k],
            others: vec![0.0; k],
        }
    }

    /// Adds one update's moves.
    fn add(&mut self, moves: &[f64]) {
        let (mut largest, mut second, mut largest_at) = (0.0f64, 0.0f64, 0);
        for (j, &m) in moves.iter().enumerate() {
            if m > largest {
                second = largest;
                largest = m;
                largest_at = j;
            } else if m > second {
                second = m;
            }
        }
        for (j, &m) in moves.iter().enumerate() {
            self.own[j] += m;
            self.others[j] += if j == largest_at { second } else { largest };
        }
    }
}

/// What a pass over the rows does besides assigning.
#[derive(Clone, Copy, PartialEq)]
enum Pass {
    /// Assign and accumulate sums for the update.
    Update,
    /// Assign and accumulate the inertia of the assignment.
    Finish,
}

impl Chunk {
    fn new(data: &Rows<'_>, c: usize, k: usize) -> Chunk {
        let range = data.chunk_range(c);
        let len = range.len();
        Chunk {
            start: range.start,
            labels: vec![0; len],
            upper: vec![f32::INFINITY; len],
            lower: vec![0.0; len],
            sums: vec![0.0; k * data.d],
            weights: vec![0.0; k],
            counts: vec![0; k],
            fresh: true,
            moves: Vec::new(),
            block: vec![[0.0; LANES]; data.d],
            changed: 0,
            inertia: 0.0,
        }
    }

    /// Assigns the chunk's rows to their nearest centroids (with bounds under
    /// Hamerly), then accumulates per `pass`.
    fn pass(&mut self, rows: &Rows<'_>, compact: &Compact, step: &Step<'_>, pass: Pass) {
        // One specialised loop per combination keeps the loop body small.
        match (step.algorithm, pass) {
            (Algorithm::Hamerly, Pass::Update) => self.run::<true, true>(rows, compact, step),
            (Algorithm::Hamerly, Pass::Finish) => self.run::<true, false>(rows, compact, step),
            (Algorithm::Lloyd, Pass::Update) => self.run::<false, true>(rows, compact, step),
            (Algorithm::Lloyd, Pass::Finish) => self.run::<false, false>(rows, compact, step),
        }
    }

    fn run<const HAMERLY: bool, const UPDATE: bool>(
        &mut self,
        data: &Rows<'_>,
        compact: &Compact,
        step: &Step<'_>,
    ) {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch { todo, masks } = &mut *scratch;
            let n = self.labels.len();
            if todo.len() < n {
                todo.resize(n, 0);
            }
            if masks.len() < n.div_ceil(LANES) {
                masks.resize(n.div_ceil(LANES), 0);
            }
            step.arch.dispatch(ChunkPass::<HAMERLY, UPDATE> {
                chunk: self,
                data,
                compact,
                step,
                todo,
                masks,
            });
        });
    }

    #[inline(always)]
    fn run_with<const HAMERLY: bool, const UPDATE: bool>(
        &mut self,
        data: &Rows<'_>,
        compact: &Compact,
        step: &Step<'_>,
        todo: &mut [u32],
        masks: &mut [u8],
    ) {
        let d = data.d;
        let n = self.labels.len();
        let xs = &data.x[self.start * d..(self.start + n) * d];
        // Chunks start on a block boundary (CHUNK is a multiple of LANES).
        let first_block = self.start / LANES;
        let blocks = &compact.blocks[first_block * d..(first_block + n.div_ceil(LANES)) * d];
        let ws: Option<&[f64]> = data.w.map(|w| &w[self.start..self.start + n]);
        let fresh = UPDATE && self.fresh;
        let cents = step.cents;
        let (own, others) = (&step.own[..], &step.others[..]);
        let Chunk {
            ref mut labels,
            ref mut upper,
            ref mut lower,
            ref mut sums,
            ref mut weights,
            ref mut counts,
            ref mut moves,
            ref mut block,
            ..
        } = *self;
        if UPDATE {
            sums.fill(0.0);
            weights.fill(0.0);
            counts.fill(0);
        }
        // The rows whose bounds do not prove their segment (Hamerly's test), a
        // block of rows at a time: a bit per lane, and the blocks with none skipped.
        let n_blocks = n.div_ceil(LANES);
        let mut count = n;
        if HAMERLY {
            count = 0;
            let (skip_gap, skip_lower) = (&step.skip_gap[..], &step.skip_lower[..]);
            for (bi, fails) in masks[..n_blocks].iter_mut().enumerate() {
                let r0 = bi * LANES;
                let len = LANES.min(n - r0);
                let mut mask = 0u32;
                for l in 0..len {
                    let (r, a) = (r0 + l, labels[r0 + l] as usize);
                    let (up, lo) = (f64::from(upper[r]), f64::from(lower[r]));
                    mask |= u32::from((up > skip_gap[a]) & (up - lo > skip_lower[a])) << l;
                }
                *fails = mask as u8;
                count += mask.count_ones() as usize;
            }
        } else {
            masks[..n_blocks].fill(u8::MAX);
        }
        let mut changed = 0usize;
        moves.clear();
        // Row `r`'s new segment and bounds from lane `l` of a kernel result
        // (decided in f64 when the f32 distances cannot tell).
        macro_rules! settle {
            ($r:expr, $near:expr, $l:expr) => {{
                let (r, near, l): (usize, &BlockNearest, usize) = ($r, $near, $l);
                let (b, up, lo) = if near.decided[l] {
                    (
                        near.best[l] as usize,
                        f64::from(near.upper[l]),
                        f64::from(near.lower[l]),
                    )
                } else {
                    let (b, d1, d2) = cents.nearest_exact(&xs[r * d..(r + 1) * d]);
                    (b, d1.sqrt() / cents.scale, d2.sqrt() / cents.scale)
                };
                if HAMERLY {
                    upper[r] = round_up(up - own[b]);
                    lower[r] = round_down(lo + others[b]);
                }
                let a = labels[r] as usize;
                if b != a {
                    labels[r] = b as u32;
                    if UPDATE && !fresh {
                        moves.push((r as u32, a as u32));
                    }
                    changed += 1;
                }
            }};
        }
        if 2 * count >= n {
            // Most rows to compute: every block in place, the rows already in lanes.
            for ((bi, x), &fails) in blocks
                .chunks_exact(d)
                .take(n / LANES)
                .enumerate()
                .zip(&masks[..n_blocks])
            {
                if fails == 0 {
                    continue;
                }
                let near = cents.nearest_block(x);
                let r0 = bi * LANES;
                if near.decided.iter().all(|&v| v) {
                    let lanes = &mut labels[r0..r0 + LANES];
                    // The common case, whole vectors: new labels and bounds, then the
                    // few rows that changed segment.
                    let mut best = [0u32; LANES];
                    let mut moved = 0u32;
                    for l in 0..LANES {
                        best[l] = near.best[l] as u32;
                        moved |= u32::from(best[l] != lanes[l]) << l;
                    }
                    if HAMERLY {
                        let (ups, los) = (&mut upper[r0..r0 + LANES], &mut lower[r0..r0 + LANES]);
                        for l in 0..LANES {
                            let b = best[l] as usize;
                            ups[l] = round_up(f64::from(near.upper[l]) - own[b]);
                            los[l] = round_down(f64::from(near.lower[l]) + others[b]);
                        }
                    }
                    while moved != 0 {
                        let l = moved.trailing_zeros() as usize;
                        moved &= moved - 1;
                        if UPDATE && !fresh {
                            moves.push(((r0 + l) as u32, lanes[l]));
                        }
                        lanes[l] = best[l];
                        changed += 1;
                    }
                } else {
                    for l in 0..LANES {
                        settle!(r0 + l, &near, l);
                    }
                }
            }
            // The rows of a last, partial block.
            let full = n / LANES * LANES;
            if full < n {
                let near = cents.nearest_block(&blocks[full / LANES * d..]);
                for l in 0..n - full {
                    settle!(full + l, &near, l);
                }
            }
        } else {
            // A few rows: listed, then gathered into lanes.
            let mut listed = 0;
            for (bi, &fails) in masks[..n_blocks].iter().enumerate() {
                let mut fails = u32::from(fails);
                while fails != 0 {
                    todo[listed] = (bi * LANES) as u32 + fails.trailing_zeros();
                    fails &= fails - 1;
                    listed += 1;
                }
            }
            for group in todo[..listed].chunks(LANES) {
                // Lanes past the last row keep stale (finite) values whose results are unused.
                for (l, &r) in group.iter().enumerate() {
                    let r = r as usize;
                    let src = &blocks[(r / LANES) * d..(r / LANES + 1) * d];
                    for (b, s) in block.iter_mut().zip(src) {
                        b[l] = s[r % LANES];
                    }
                }
                let near = cents.nearest_block(block);
                for (l, &r) in group.iter().enumerate() {
                    settle!(r as usize, &near, l);
                }
            }
        }
        // Only rows that change segment touch the sums after the first pass. Their
        // f64 rows are read here in one tight loop, so the cache misses overlap.
        if UPDATE && !fresh {
            // First one load per row, independent of each other, to fetch the cache lines.
            let touched = moves.iter().fold(0.0, |t, &(r, _)| {
                // A row may straddle two cache lines.
                t + xs[r as usize * d] + xs[(r as usize + 1) * d - 1]
            });
            std::hint::black_box(touched);
            for &(r, a) in moves.iter() {
                let (r, a) = (r as usize, a as usize);
                let b = labels[r] as usize;
                let w = ws.map_or(1.0, |w| w[r]);
                if w > 0.0 {
                    let x = &xs[r * d..(r + 1) * d];
                    for (s, &v) in sums[a * d..(a + 1) * d].iter_mut().zip(x) {
                        *s -= w * v;
                    }
                    weights[a] -= w;
                    counts[a] -= 1;
                    for (s, &v) in sums[b * d..(b + 1) * d].iter_mut().zip(x) {
                        *s += w * v;
                    }
                    weights[b] += w;
                    counts[b] += 1;
                }
            }
        }
        if fresh {
            for (r, (x, &label)) in xs.chunks_exact(d).zip(labels.iter()).enumerate() {
                let w = ws.map_or(1.0, |w| w[r]);
                if w > 0.0 {
                    let label = label as usize;
                    for (s, &v) in sums[label * d..(label + 1) * d].iter_mut().zip(x) {
                        *s += w * v;
                    }
                    weights[label] += w;
                    counts[label] += 1;
                }
            }
        }
        let mut inertia = 0.0;
        if !UPDATE {
            for (r, (x, &label)) in xs.chunks_exact(d).zip(labels.iter()).enumerate() {
                let w = ws.map_or(1.0, |w| w[r]);
                inertia += w * squared_distance(x, cents.row(label as usize));
            }
        }
        self.changed = changed;
        self.inertia = inertia;
        if UPDATE {
            self.fresh = false;
        }
    }
}

/// [`Chunk::run_with`] compiled for the widest vector instructions the
/// processor has.
struct ChunkPass<'a, const HAMERLY: bool, const UPDATE: bool> {
    chunk: &'a mut Chunk,
    data: &'a Rows<'a>,
    compact: &'a Compact,
    step: &'a Step<'a>,
    todo: &'a mut [u32],
    masks: &'a mut [u8],
}

impl<const HAMERLY: bool, const UPDATE: bool> pulp::WithSimd for ChunkPass<'_, HAMERLY, UPDATE> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let ChunkPass {
            chunk,
            data,
            compact,
            step,
            todo,
            masks,
        } = self;
        chunk.run_with::<HAMERLY, UPDATE>(data, compact, step, todo, masks);
    }
}

/// A thread's working buffers for [`Chunk::run`], shared by every chunk and
/// initialisation it processes, so their memory does not grow with the
/// initialisations run side by side. They stay with the thread between fits:
/// about 4 bytes per row of a chunk.
#[derive(Default)]
struct Scratch {
    /// Rows (offsets in the chunk) whose nearest centroid is computed this pass.
    todo: Vec<u32>,
    /// Per block of rows, a bit per lane: the row's bounds do not prove its segment.
    masks: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// What every chunk's pass reads.
struct Step<'a> {
    cents: &'a Centroids,
    /// [`Movement`] in the scaled space of the bounds.
    own: Vec<f64>,
    others: Vec<f64>,
    /// Hamerly's test per segment `a`, rearranged so that each row compares
    /// its own bounds with two numbers: the row may have changed segment when
    /// upper > `skip_gap[a]` = gap − own and upper − lower > `skip_lower[a]` =
    /// −(others + own), i.e. upper + own > max(gap, lower − others), where
    /// gap is [`Centroids::half_gap`] in the scaled space.
    skip_gap: Vec<f64>,
    skip_lower: Vec<f64>,
    algorithm: Algorithm,
    /// The vector instructions to compile the pass for.
    arch: pulp::Arch,
}

impl<'a> Step<'a> {
    fn new(
        cents: &'a Centroids,
        moved: &Movement,
        algorithm: Algorithm,
        arch: pulp::Arch,
    ) -> Step<'a> {
        // A power of two: exact.
        let inv = 1.0 / cents.scale;
        let own: Vec<f64> = moved.own.iter().map(|m| m * inv).collect();
        let others: Vec<f64> = moved.others.iter().map(|m| m * inv).collect();
        let gap: Vec<f64> = cents.half_gap.iter().map(|g| g * inv).collect();
        Step {
            cents,
            skip_gap: gap.iter().zip(&own).map(|(g, o)| g - o).collect(),
            skip_lower: others.iter().zip(&own).map(|(t, o)| -(t + o)).collect(),
            own,
            others,
            algorithm,
            arch,
        }
    }
}

/// An f32 at least `v` (an upper bound stays one), within two units in the
/// last place: the nearest f32 plus at least one unit in its last place (and
/// the smallest subnormal for zero), without branches.
#[inline(always)]
fn round_up(v: f64) -> f32 {
    let r = v as f32;
    r + r.abs() * f32::EPSILON + f32::from_bits(1)
}

/// `v` rounded down to f32 (a lower bound stays one).
#[inline(always)]
fn round_down(v: f64) -> f32 {
    -round_up(-v)
}

fn for_each_chunk<T: Send>(chunks: &mut [T], f: impl Fn(&mut T) + Sync + Send) {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        chunks.par_iter_mut().for_each(f);
    }
    #[cfg(not(feature = "parallel"))]
    chunks.iter_mut().for_each(f);
}

/// The outcome of one initialisation.
struct Run {
    centroids: Vec<f64>,
    labels: Vec<usize>,
    weights: Vec<f64>,
    inertia: f64,
    iterations: usize,
    converged: bool,
    shift: f64,
    init: usize,
}

impl Run {
    fn into_clustering(self, d: usize, k: usize) -> Clustering {
        let centroids = Array2::from_shape_vec((k, d), self.centroids)
            .unwrap_or_else(|_| Array2::zeros((k, d)));
        Clustering {
            model: KMeans {
                centroids,
                inertia: self.inertia,
                iterations: self.iterations,
                converged: self.converged,
                shift: self.shift,
                best_init: self.init,
                weights: self.weights,
            },
            labels: self.labels,
        }
    }
}

/// Where one initialisation's iterations stand.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    /// Iterating: the next pass assigns and updates.
    Iterate,
    /// Stopped: the next pass is the final assignment.
    Finish,
}

/// One initialisation's Lloyd iterations, apart from its chunks.
struct Lloyd {
    cents: Centroids,
    moved: Movement,
    /// Per-segment weighted sums, weights and counts of rows with positive weight,
    /// updated by each pass's changes.
    sums: Vec<f64>,
    weights: Vec<f64>,
    counts: Vec<i64>,
    new_rows: Vec<f64>,
    iterations: usize,
    converged: bool,
    shift: f64,
    phase: Phase,
}

impl Lloyd {
    fn new(initial: Vec<f64>, d: usize, compact: &Compact) -> Lloyd {
        let k = initial.len() / d;
        Lloyd {
            cents: Centroids::new(initial, k, d, compact),
            moved: Movement::none(k),
            sums: vec![0.0; k * d],
            weights: vec![0.0; k],
            counts: vec![0; k],
            new_rows: vec![0.0; k * d],
            iterations: 0,
            converged: false,
            shift: 0.0,
            phase: Phase::Iterate,
        }
    }

    /// The update after an assigning pass over `chunks`: new centroids, and
    /// [`Phase::Finish`] once the iterations stop.
    fn update(&mut self, data: &Rows<'_>, chunks: &mut [Chunk], max_iter: usize, tol: f64) {
        let d = data.d;
        let k = self.cents.k;
        let iteration = self.iterations;
        self.iterations += 1;
        let Lloyd {
            ref mut cents,
            ref mut moved,
            ref mut sums,
            ref mut weights,
            ref mut counts,
            ref mut new_rows,
            ..
        } = *self;
        // Changes added in chunk order, whatever the thread count.
        let mut changed = 0;
        for c in chunks.iter() {
            for (s, v) in sums.iter_mut().zip(&c.sums) {
                *s += v;
            }
            for (s, v) in weights.iter_mut().zip(&c.weights) {
                *s += v;
            }
            for (s, v) in counts.iter_mut().zip(&c.counts) {
                *s += v;
            }
            changed += c.changed;
        }
        for j in 0..k {
            if counts[j] == 0 {
                // Exactly empty, whatever rounding the updates left behind.
                weights[j] = 0.0;
                sums[j * d..(j + 1) * d].fill(0.0);
            }
        }
        let relocated = relocate_empty(data, cents, chunks, sums, weights, counts);
        for j in 0..k {
            if counts[j] > 0 && weights[j] > 0.0 {
                for (v, s) in new_rows[j * d..(j + 1) * d]
                    .iter_mut()
                    .zip(&sums[j * d..(j + 1) * d])
                {
                    *v = s / weights[j];
                }
            } else {
                // Still empty (all weight on fewer distinct rows than k): keep it.
                new_rows[j * d..(j + 1) * d].copy_from_slice(cents.row(j));
            }
        }
        let moves: Vec<f64> = (0..k)
            .map(|j| squared_distance(&new_rows[j * d..(j + 1) * d], cents.row(j)).sqrt())
            .collect();
        self.shift = moves.iter().map(|m| m * m).sum();
        std::mem::swap(&mut cents.rows, new_rows);
        cents.refresh();
        moved.add(&moves);
        let last = self.iterations >= max_iter;
        if relocated {
            // Bounds no longer describe the relocated rows: recompute every row next time.
            for c in chunks.iter_mut() {
                c.upper.fill(f32::INFINITY);
                c.lower.fill(0.0);
            }
            if last {
                self.phase = Phase::Finish;
            }
            return;
        }
        // The first pass starts from arbitrary labels, so only later passes can show
        // stability.
        if (iteration > 0 && changed == 0) || self.shift <= tol {
            self.converged = true;
            self.phase = Phase::Finish;
        } else if last {
            self.phase = Phase::Finish;
        }
    }

    /// The outcome, after the final assignment pass over `chunks`.
    fn finish(self, data: &Rows<'_>, chunks: &[Chunk], init: usize) -> Run {
        let k = self.cents.k;
        let mut labels = Vec::with_capacity(data.n);
        let mut inertia = 0.0;
        let mut final_weights = vec![0.0; k];
        for c in chunks {
            inertia += c.inertia;
            for (r, &l) in c.labels.iter().enumerate() {
                labels.push(l as usize);
                final_weights[l as usize] += data.weight(c.start + r);
            }
        }
        Run {
            centroids: self.cents.rows,
            labels,
            weights: final_weights,
            inertia,
            iterations: self.iterations,
            converged: self.converged,
            shift: self.shift,
            init,
        }
    }
}

/// How [`lloyd`] iterates: the stopping rule (`tol` in squared units), the
/// assignment algorithm and the instruction set of the kernels.
#[derive(Clone, Copy)]
struct Iterate {
    max_iter: usize,
    tol: f64,
    algorithm: Algorithm,
    arch: pulp::Arch,
}

/// Lloyd iterations from each of `initials` (row-major k × d centroids; the
/// first is initialisation `first_init`), run side by side: each pass goes over
/// the chunks once and, for each chunk, takes every initialisation still
/// running in turn, so the chunk's rows are fetched from memory once for all of
/// them. Each initialisation's arithmetic is exactly that of running it alone.
///
/// Returns the run with the lowest inertia (ties: the first initialisation).
fn lloyd(
    data: &Rows<'_>,
    compact: &Compact,
    initials: Vec<Vec<f64>>,
    first_init: usize,
    how: Iterate,
) -> Option<Run> {
    let Iterate {
        max_iter,
        tol,
        algorithm,
        arch,
    } = how;
    let d = data.d;
    let mut runs: Vec<Option<Lloyd>> = initials
        .into_iter()
        .map(|initial| Some(Lloyd::new(initial, d, compact)))
        .collect();
    let mut chunks: Vec<Vec<Chunk>> = runs
        .iter()
        .flatten()
        .map(|run| {
            (0..data.n_chunks())
                .map(|c| Chunk::new(data, c, run.cents.k))
                .collect()
        })
        .collect();
    let mut best: Option<Run> = None;
    while runs.iter().any(Option::is_some) {
        let steps: Vec<Option<(Step<'_>, Pass)>> = runs
            .iter()
            .map(|run| {
                run.as_ref().map(|run| {
                    let pass = match run.phase {
                        Phase::Iterate => Pass::Update,
                        Phase::Finish => Pass::Finish,
                    };
                    (Step::new(&run.cents, &run.moved, algorithm, arch), pass)
                })
            })
            .collect();
        // Each chunk of the running initialisations with those of the same rows.
        let mut columns: Vec<Vec<(&mut Chunk, &Step<'_>, Pass)>> =
            (0..data.n_chunks()).map(|_| Vec::new()).collect();
        for (run_chunks, step) in chunks.iter_mut().zip(&steps) {
            if let Some((step, pass)) = step {
                for (column, chunk) in columns.iter_mut().zip(run_chunks.iter_mut()) {
                    column.push((chunk, step, *pass));
                }
            }
        }
        for_each_chunk(&mut columns, |column| {
            for (chunk, step, pass) in column.iter_mut() {
                chunk.pass(data, compact, step, *pass);
            }
        });
        drop(columns);
        drop(steps);
        for (r, slot) in runs.iter_mut().enumerate() {
            let Some(run) = slot.as_mut() else {
                continue;
            };
            match run.phase {
                Phase::Iterate => run.update(data, &mut chunks[r], max_iter, tol),
                Phase::Finish => {
                    if let Some(run) = slot.take() {
                        let init = first_init + r;
                        let run = run.finish(data, &chunks[r], init);
                        // Its memory is no longer needed.
                        chunks[r] = Vec::new();
                        if best.as_ref().is_none_or(|b| {
                            run.inertia < b.inertia || (run.inertia == b.inertia && init < b.init)
                        }) {
                            best = Some(run);
                        }
                    }
                }
            }
        }
    }
    best
}

/// Moves the rows farthest from their centroids into empty segments (scikit-learn's
/// rule), adjusting the sums; returns whether anything moved.
fn relocate_empty(
    data: &Rows<'_>,
    cents: &Centroids,
    chunks: &mut [Chunk],
    sums: &mut [f64],
    weights: &mut [f64],
    counts: &mut [i64],
) -> bool {
    let d = data.d;
    let empty: Vec<usize> = (0..cents.k).filter(|&j| counts[j] == 0).collect();
    if empty.is_empty() {
        return false;
    }
    // Rows with positive weight, farthest first (ties: lower row first).
    let mut far: Vec<(f64, usize, usize)> = Vec::new();
    for (ci, c) in chunks.iter().enumerate() {
        for (r, &l) in c.labels.iter().enumerate() {
            let i = c.start + r;
            if data.weight(i) > 0.0 {
                far.push((squared_distance(data.row(i), cents.row(l as usize)), i, ci));
            }
        }
    }
    far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut moved_any = false;
    for (&j, &(_, i, ci)) in empty.iter().zip(&far) {
        let r = i - chunks[ci].start;
        let old = chunks[ci].labels[r] as usize;
        let w = data.weight(i);
        // Keep a segment from being emptied by the move.
        if counts[old] <= 1 {
            continue;
        }
        for (f, &v) in data.row(i).iter().enumerate() {
            sums[old * d + f] -= w * v;
            sums[j * d + f] = w * v;
        }
        weights[old] -= w;
        weights[j] = w;
        counts[old] -= 1;
        counts[j] = 1;
        chunks[ci].labels[r] = j as u32;
        moved_any = true;
    }
    moved_any
}

/// The nearest centroid of every row (ties to the lower index).
fn assign(centroids: &Array2<f64>, data: &Rows<'_>) -> Vec<usize> {
    let (k, d) = centroids.dim();
    let rows: Vec<f64> = centroids.iter().copied().collect();
    let compact = Compact::new(data, &rows);
    let cents = Centroids::new(rows, k, d, &compact);
    let step = Step::new(
        &cents,
        &Movement::none(k),
        Algorithm::Lloyd,
        pulp::Arch::new(),
    );
    let parts: Vec<Vec<usize>> = crate::parallel::map_range(data.n_chunks(), |c| {
        let mut chunk = Chunk::new(data, c, k);
        chunk.run::<false, false>(data, &compact, &step);
        chunk.labels.iter().map(|&l| l as usize).collect()
    });
    parts.concat()
}

impl KMeans {
    /// Number of segments.
    pub fn k(&self) -> usize {
        self.centroids.nrows()
    }

    /// The segment (nearest centroid; ties to the lower index) of each row of `x`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `x` has a different number of columns than
    /// the centroids or a non-finite value.
    pub fn predict_rows(&self, x: ArrayView2<'_, f64>) -> Result<Vec<usize>> {
        let data = Rows::new(x, None)?;
        if data.d != self.centroids.ncols() {
            return Err(Error::InvalidInput(format!(
                "k-means: {} columns, the model has {}",
                data.d,
                self.centroids.ncols()
            )));
        }
        Ok(assign(&self.centroids, &data))
    }

    /// Weighted sum of squared distances of the rows of `x` to the centroids of `labels`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for mismatched shapes, labels out of range or non-finite values.
    pub fn inertia_of<'a>(
        &self,
        x: ArrayView2<'a, f64>,
        labels: &[usize],
        weights: Option<&'a [f64]>,
    ) -> Result<f64> {
        let data = Rows::new(x, weights)?;
        if data.d != self.centroids.ncols() || labels.len() != data.n {
            return Err(Error::InvalidInput(format!(
                "k-means: {} rows × {} columns and {} labels for a model with {} columns",
                data.n,
                data.d,
                labels.len(),
                self.centroids.ncols()
            )));
        }
        if let Some(&l) = labels.iter().find(|&&l| l >= self.k()) {
            return Err(Error::InvalidInput(format!(
                "k-means: label {l} out of range 0..{}",
                self.k()
            )));
        }
        let parts: Vec<f64> = crate::parallel::map_range(data.n_chunks(), |c| {
            data.chunk_range(c)
                .map(|i| {
                    let centroid = self.centroids.row(labels[i]);
                    let centroid = centroid
                        .as_slice()
                        .map_or_else(|| centroid.to_vec(), <[f64]>::to_vec);
                    data.weight(i) * squared_distance(data.row(i), &centroid)
                })
                .sum()
        });
        Ok(parts.iter().sum())
    }
}

/// linfa's `Fit`: the dataset's records are the rows; its weights, when set,
/// are the sample weights.
impl<D: Data<Elem = f64>, T> linfa::traits::Fit<ArrayBase<D, Ix2>, T, Error> for KMeansParams {
    type Object = KMeans;

    fn fit(&self, dataset: &linfa::DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<KMeans> {
        let weights: Option<Vec<f64>> = dataset
            .weights()
            .map(|w| w.iter().map(|&v| f64::from(v)).collect());
        Ok(self
            .fit_rows(dataset.records().view(), weights.as_deref())?
            .model)
    }
}

/// linfa's `Predict`: the nearest centroid of each row. A row that cannot be
/// assigned (wrong width, non-finite) gets `usize::MAX`; use
/// [`KMeans::predict_rows`] for a typed error instead.
impl<D: Data<Elem = f64>> linfa::traits::PredictInplace<ArrayBase<D, Ix2>, Array1<usize>>
    for KMeans
{
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        match self.predict_rows(x.view()) {
            Ok(labels) if labels.len() == y.len() => {
                for (t, l) in y.iter_mut().zip(labels) {
                    *t = l;
                }
            }
            _ => y.fill(usize::MAX),
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}

/// Mini-batch k-means for inputs larger than memory: feed chunks of rows with
/// [`partial_fit`](Self::partial_fit), then take the model with
/// [`finish`](Self::finish).
///
/// The first batch is seeded with greedy k-means++ (it needs at least k rows);
/// each later batch is assigned to the nearest centroids and every centroid
/// moves to the running weighted mean of all rows ever assigned to it (Sculley
/// 2010, per-centroid learning rate 1/count). Deterministic for a seed and a
/// sequence of batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiniBatchKMeans {
    params: KMeansParams,
    centroids: Option<Array2<f64>>,
    counts: Vec<f64>,
    batches: usize,
    rows_seen: usize,
    online_inertia: f64,
}

impl MiniBatchKMeans {
    /// A mini-batch fit with these settings (`k`, `init`, `seed` are used).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`KMeansParams::check`].
    pub fn new(params: KMeansParams) -> Result<MiniBatchKMeans> {
        params.check()?;
        let k = params.k;
        Ok(MiniBatchKMeans {
            params,
            centroids: None,
            counts: vec![0.0; k],
            batches: 0,
            rows_seen: 0,
            online_inertia: 0.0,
        })
    }

    /// Updates the centroids with one batch of rows.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a first batch with fewer than k rows, a batch
    /// of a different width, or non-finite values / invalid weights.
    pub fn partial_fit<'a>(
        &mut self,
        batch: ArrayView2<'a, f64>,
        weights: Option<&'a [f64]>,
    ) -> Result<()> {
        let data = Rows::new(batch, weights)?;
        let k = self.params.k;
        let centroids = match &self.centroids {
            Some(c) => {
                if c.ncols() != data.d {
                    return Err(Error::InvalidInput(format!(
                        "mini-batch k-means: batch has {} columns, earlier batches {}",
                        data.d,
                        c.ncols()
                    )));
                }
                c.clone()
            }
            None => {
                if data.n < k {
                    return Err(Error::too_few(
                        format!("mini-batch k-means: rows in the first batch for k = {k}"),
                        k,
                        data.n,
                    ));
                }
                let rng = ChaCha8Rng::seed_from_u64(self.params.seed);
                let compact = Compact::new(&data, &[]);
                let arch = pulp::Arch::new();
                let rows = initial_centroids(&data, &compact, k, self.params.init, vec![rng], arch)
                    .concat();
                Array2::from_shape_vec((k, data.d), rows)
                    .map_err(|e| Error::InvalidInput(format!("mini-batch k-means: {e}")))?
            }
        };
        let labels = assign(&centroids, &data);
        let mut centroids = centroids;
        for (i, &j) in labels.iter().enumerate() {
            let w = data.weight(i);
            if w <= 0.0 {
                continue;
            }
            self.online_inertia += w * squared_distance(data.row(i), &centroids.row(j).to_vec());
            self.counts[j] += w;
            let rate = w / self.counts[j];
            for (c, &v) in centroids.row_mut(j).iter_mut().zip(data.row(i)) {
                *c += rate * (v - *c);
            }
        }
        self.centroids = Some(centroids);
        self.batches += 1;
        self.rows_seen += data.n;
        Ok(())
    }

    /// Batches fed so far.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Rows fed so far.
    pub fn rows_seen(&self) -> usize {
        self.rows_seen
    }

    /// The model so far. Its `inertia` is the online inertia: each row's
    /// weighted squared distance to its centroid when its batch was assigned
    /// (use [`KMeans::inertia_of`] for the inertia of a labelling against the
    /// final centroids); `iterations` counts batches; `converged` is false
    /// (there is no convergence test); `weights` are the accumulated weights per
    /// segment.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before the first batch.
    pub fn finish(&self) -> Result<KMeans> {
        let centroids = self
            .centroids
            .clone()
            .ok_or_else(|| Error::InvalidInput("mini-batch k-means: no batch was fed".into()))?;
        Ok(KMeans {
            centroids,
            inertia: self.online_inertia,
            iterations: self.batches,
            converged: false,
            shift: 0.0,
            best_init: 0,
            weights: self.counts.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    /// Overlapping blobs: `n` rows of `d` features around `k` centres.
    fn blobs(n: usize, d: usize, k: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centres: Vec<f64> = (0..k * d).map(|_| rng.gen_range(-10.0..10.0)).collect();
        let noise = Normal::new(0.0, 6.0).unwrap_or_else(|_| unreachable!());
        Array2::from_shape_fn((n, d), |(i, f)| {
            centres[(i % k) * d + f] + noise.sample(&mut rng)
        })
    }

    /// The kernels compiled for the widest instruction set give exactly the
    /// baseline's labels, centroids, inertia and iterations, with and without
    /// weights, on a row count that leaves partial blocks and chunks and a
    /// feature count that is not a multiple of the vector width.
    #[test]
    fn every_instruction_set_gives_the_same_fit() {
        // On a processor with AVX2 and FMA the comparison is between two builds.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            assert!(!matches!(pulp::Arch::new(), pulp::Arch::Scalar));
        }
        let x = blobs(10_007, 5, 6, 7);
        let weights: Vec<f64> = (0..x.nrows()).map(|i| 0.5 + (i % 7) as f64).collect();
        for algorithm in [Algorithm::Hamerly, Algorithm::Lloyd] {
            let params = KMeansParams {
                algorithm,
                ..KMeansParams::new(6)
            };
            for w in [None, Some(&weights[..])] {
                let fit = |arch| {
                    params
                        .fit_rows_with(x.view(), w, arch)
                        .map_err(|e| e.to_string())
                };
                let baseline = fit(pulp::Arch::Scalar);
                assert!(baseline.is_ok(), "{baseline:?}");
                assert_eq!(
                    baseline,
                    fit(pulp::Arch::new()),
                    "{algorithm:?}, weighted: {}",
                    w.is_some()
                );
            }
        }
    }
}
