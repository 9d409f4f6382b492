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
//!   that lowers the potential most.
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
//!   side, each pass taking every running initialisation in turn over each
//!   chunk of rows, so the rows are fetched from memory once per pass for all
//!   of them; each one's arithmetic is that of running it alone.
//!
//! Rows are processed in fixed chunks of 4,096 whose partial sums are added in
//! chunk order, so results do not depend on the thread count. Each chunk keeps
//! its rows' labels and bounds and its own accumulators; the buffers a pass
//! works in belong to the thread, so after the first passes the iteration loop
//! allocates nothing.
//!
//! Nearest centroids are found in single precision on a copy of the rows
//! centred and scaled into [-1, 1] (half the bytes, twice the SIMD lanes),
//! eight rows at a time with one row per lane. Each f32 distance comes with a
//! bound on its rounding error; a row whose two nearest centroids are closer
//! than that is decided again in f64, so the labels are those of f64 distances.
//! Centroid sums, moves and the inertia are always computed in f64 from the
//! original rows.
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
        self.check()?;
        let data = Rows::new(x, weights)?;
        if data.n < self.k {
            return Err(Error::InvalidInput(format!(
                "k-means: {} rows cannot form {} segments",
                data.n, self.k
            )));
        }
        let tol = self.tol * mean_variance(&data);
        // One single-precision copy of the rows serves every initialisation.
        let compact = Compact::new(&data, &[]);
        let mut best: Option<Run> = None;
        let inits: Vec<usize> = (0..self.n_init).collect();
        for group in inits.chunks(LOCKSTEP) {
            let initials: Vec<Vec<f64>> = group
                .iter()
                .map(|&init| {
                    let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                    rng.set_stream(init as u64);
                    initial_centroids(&data, self.k, self.init, &mut rng)
                })
                .collect();
            let run = lloyd(
                &data,
                &compact,
                initials,
                self.max_iter,
                tol,
                self.algorithm,
                group[0],
            );
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
        // Squared distances of larger values overflow; such features need rescaling first.
        if let Some(i) = values.iter().position(|v| v.abs() > MAX_ABS_VALUE) {
            return Err(Error::InvalidInput(format!(
                "k-means: row {}, column {} is {} (beyond ±1e100; rescale the feature, e.g. standardise it)",
                i / d,
                i % d,
                values[i]
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
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
/// Each feature's sums run over the rows in order, as a column-by-column loop
/// would, but in one row-major pass per sum so the rows are read sequentially.
fn mean_variance(data: &Rows<'_>) -> f64 {
    let d = data.d;
    let n = data.n as f64;
    let mut means = vec![-0.0f64; d];
    for row in data.x.chunks_exact(d) {
        for (m, &v) in means.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in &mut means {
        *m /= n;
    }
    let mut vars = vec![-0.0f64; d];
    for row in data.x.chunks_exact(d) {
        for ((s, &v), &m) in vars.iter_mut().zip(row).zip(&means) {
            *s += (v - m).powi(2);
        }
    }
    vars.iter().map(|v| v / n).sum::<f64>() / d as f64
}

/// Squared Euclidean distance, summed in four interleaved lanes so the additions
/// do not wait on each other (and vectorise).
#[inline]
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
fn draw_in_chunk(data: &Rows<'_>, mass: &[f64], c: usize, mut target: f64) -> usize {
    let range = data.chunk_range(c);
    let mut last_positive = range.start;
    for i in range {
        if mass[i] > 0.0 {
            last_positive = i;
            if target < mass[i] {
                return i;
            }
            target -= mass[i];
        }
    }
    // Rounding left a sliver: the chunk's last row with mass.
    last_positive
}

/// The last row with mass, for a draw that rounding carried past the end.
fn last_with_mass(mass: &[f64]) -> usize {
    mass.iter().rposition(|&m| m > 0.0).unwrap_or(0)
}

/// Draws a row with probability proportional to `mass` (non-negative, positive
/// total), given per-chunk totals; deterministic for a uniform `u` in [0, 1).
fn draw(data: &Rows<'_>, mass: &[f64], chunk_totals: &[f64], u: f64) -> usize {
    match draw_chunk(chunk_totals, u) {
        Some((c, target)) => draw_in_chunk(data, mass, c, target),
        None => last_with_mass(mass),
    }
}

/// Squared distances from `x` to `M` points given feature-major (`points[f][m]`),
/// each summed in exactly the order of [`squared_distance`], so the values are
/// bit-identical to it; the loop over points vectorises.
#[inline]
fn squared_distances_to<const M: usize>(x: &[f64], points: &[[f64; M]]) -> [f64; M] {
    let mut acc = [[0.0f64; M]; 4];
    let (x4, p4) = (x.chunks_exact(4), points.chunks_exact(4));
    let (xr, pr) = (x4.remainder(), p4.remainder());
    for (xq, pq) in x4.zip(p4) {
        for l in 0..4 {
            for (a, &p) in acc[l].iter_mut().zip(&pq[l]) {
                let t = xq[l] - p;
                *a += t * t;
            }
        }
    }
    for (l, (&xf, column)) in xr.iter().zip(pr).enumerate() {
        for (a, &p) in acc[l].iter_mut().zip(column) {
            let t = xf - p;
            *a += t * t;
        }
    }
    let mut out = [0.0; M];
    for (m, o) in out.iter_mut().enumerate() {
        *o = (acc[0][m] + acc[2][m]) + (acc[1][m] + acc[3][m]);
    }
    out
}

/// The smaller of two values that are not NaN (`f64::min` without its NaN test).
#[inline]
fn min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// One pass of k-means++ seeding over a chunk with `M` points: point 0 is the
/// latest centroid, whose weighted squared distance lowers `closest`; points
/// `1..=trials` are candidates. Returns, per point, the sum over the chunk's
/// rows of min(weighted distance, closest): for point 0 the new potential, for
/// a candidate the potential if it were added.
fn seeding_pass<const M: usize>(
    data: &Rows<'_>,
    range: std::ops::Range<usize>,
    weights: &[f64],
    closest: &mut [f64],
    points: &[[f64; M]],
    used: usize,
) -> Vec<f64> {
    let mut pot = [0.0f64; M];
    for (i, slot) in range.zip(closest.iter_mut()) {
        let dist = squared_distances_to::<M>(data.row(i), points);
        let w = weights[i];
        *slot = min(*slot, w * dist[0]);
        for (p, &dt) in pot.iter_mut().zip(&dist).take(used).skip(1) {
            *p += min(w * dt, *slot);
        }
        pot[0] += *slot;
    }
    pot[..used].to_vec()
}

/// The latest centroid and the candidates, feature-major with `M` points
/// (padding repeats the latest centroid).
fn seeding_points<const M: usize>(data: &Rows<'_>, rows: &[usize]) -> Vec<[f64; M]> {
    (0..data.d)
        .map(|f| {
            let mut column = [0.0; M];
            for (m, c) in column.iter_mut().enumerate() {
                *c = data.row(rows[m.min(rows.len() - 1)])[f];
            }
            column
        })
        .collect()
}

/// [`seeding_pass`] over every chunk for the latest centroid `rows[0]` and the
/// candidates `rows[1..]`, with the point count rounded up to a fixed width.
fn seeding_sums(
    data: &Rows<'_>,
    weights: &[f64],
    closest: &mut [f64],
    rows: &[usize],
) -> Vec<Vec<f64>> {
    fn run<const M: usize>(
        data: &Rows<'_>,
        weights: &[f64],
        closest: &mut [f64],
        rows: &[usize],
    ) -> Vec<Vec<f64>> {
        let points = seeding_points::<M>(data, rows);
        let pass = |(c, part): (usize, &mut [f64])| {
            seeding_pass::<M>(
                data,
                data.chunk_range(c),
                weights,
                part,
                &points,
                rows.len(),
            )
        };
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            closest
                .par_chunks_mut(CHUNK)
                .enumerate()
                .map(pass)
                .collect()
        }
        #[cfg(not(feature = "parallel"))]
        closest.chunks_mut(CHUNK).enumerate().map(pass).collect()
    }
    match rows.len() {
        0..=2 => run::<2>(data, weights, closest, rows),
        3..=4 => run::<4>(data, weights, closest, rows),
        5..=6 => run::<6>(data, weights, closest, rows),
        7..=8 => run::<8>(data, weights, closest, rows),
        // Many candidates: in groups, each with the latest centroid first.
        _ => {
            let mut sums = run::<8>(data, weights, closest, &rows[..8]);
            for group in rows[8..].chunks(7) {
                let mut with_latest = vec![rows[0]];
                with_latest.extend_from_slice(group);
                let more = run::<8>(data, weights, closest, &with_latest);
                for (s, m) in sums.iter_mut().zip(more) {
                    s.extend_from_slice(&m[1..]);
                }
            }
            sums
        }
    }
}

/// k-means++ (greedy with `trials` > 1) initial centroids, row-major k × d.
///
/// Each step is one pass over the rows: it lowers every row's distance to the
/// nearest centroid with the centroid chosen last, and sums the potential each
/// candidate would leave. The candidates of the next step are drawn before
/// that pass, so their chunk's distances are brought up to date first (taking
/// the minimum twice changes nothing).
fn initial_centroids(data: &Rows<'_>, k: usize, init: Init, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let trials = match init {
        Init::KMeansPlusPlus => 1,
        Init::GreedyKMeansPlusPlus { local_trials } => {
            local_trials.unwrap_or(2 + (k as f64).ln().floor() as usize)
        }
    };
    let d = data.d;
    let n_chunks = data.n_chunks();
    let weights: Vec<f64> = (0..data.n).map(|i| data.weight(i)).collect();
    let weight_totals: Vec<f64> =
        crate::parallel::map_range(n_chunks, |c| data.chunk_range(c).map(|i| weights[i]).sum());
    let first = draw(data, &weights, &weight_totals, rng.r#gen::<f64>());
    let mut centroids = Vec::with_capacity(k * d);
    centroids.extend_from_slice(data.row(first));
    // Weighted squared distance of each row to its nearest centroid so far
    // (for chunks marked stale, without the latest centroid).
    let mut closest = vec![f64::INFINITY; data.n];
    let mut latest = first;
    let sums = seeding_sums(data, &weights, &mut closest, &[latest]);
    let mut totals: Vec<f64> = sums.iter().map(|s| s[0]).collect();
    let mut stale = vec![false; n_chunks];
    let mut rows = vec![0usize; trials + 1];
    for _ in 1..k {
        let potential: f64 = totals.iter().sum();
        rows[0] = latest;
        for slot in rows[1..].iter_mut() {
            *slot = if potential > 0.0 {
                let u = rng.r#gen::<f64>();
                match draw_chunk(&totals, u) {
                    Some((c, target)) => {
                        if stale[c] {
                            refresh_closest(data, &weights, &mut closest, c, latest);
                            stale[c] = false;
                        }
                        draw_in_chunk(data, &closest, c, target)
                    }
                    None => {
                        // Rounding carried the draw past the end: bring every chunk up to date.
                        for (c, is_stale) in stale.iter_mut().enumerate() {
                            if *is_stale {
                                refresh_closest(data, &weights, &mut closest, c, latest);
                                *is_stale = false;
                            }
                        }
                        last_with_mass(&closest)
                    }
                }
            } else {
                // Every row sits on a centroid: any row with weight.
                draw(data, &weights, &weight_totals, rng.r#gen::<f64>())
            };
        }
        // Potential after adding each candidate, summed per chunk in order.
        let sums = seeding_sums(data, &weights, &mut closest, &rows);
        let mut best = 0;
        let mut best_pot = f64::INFINITY;
        for t in 0..trials {
            let pot: f64 = sums.iter().map(|p| p[1 + t]).sum();
            if pot < best_pot {
                best_pot = pot;
                best = t;
            }
        }
        latest = rows[1 + best];
        centroids.extend_from_slice(data.row(latest));
        // The chunk sums of the chosen candidate are those of the updated distances.
        for (total, s) in totals.iter_mut().zip(&sums) {
            *total = s[1 + best];
        }
        stale.fill(true);
    }
    centroids
}

/// Lowers the distances of chunk `c`'s rows with centroid row `latest`.
fn refresh_closest(data: &Rows<'_>, weights: &[f64], closest: &mut [f64], c: usize, latest: usize) {
    let row = data.row(latest);
    for i in data.chunk_range(c) {
        closest[i] = closest[i].min(weights[i] * squared_distance(data.row(i), row));
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
    /// Row-major n × d.
    x: Vec<f32>,
    mean: Vec<f64>,
    /// A power of two at least the largest |x − mean|.
    scale: f64,
}

impl Compact {
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
        let parts: Vec<Vec<f32>> = crate::parallel::map_range(n_chunks, |c| {
            let xs = &data.x[data.chunk_range(c).start * d..data.chunk_range(c).end * d];
            xs.chunks_exact(d)
                .flat_map(|row| row.iter().zip(&mean).map(|(v, m)| ((v - m) * inv) as f32))
                .collect()
        });
        Compact {
            x: parts.concat(),
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
    #[inline]
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
            let Scratch { todo, staged } = &mut *scratch;
            let (n, d) = (self.labels.len(), data.d);
            if todo.len() < n {
                todo.resize(n, 0);
            }
            if staged.len() < n * d {
                staged.resize(n * d, 0.0);
            }
            self.run_with::<HAMERLY, UPDATE>(data, compact, step, todo, staged);
        });
    }

    fn run_with<const HAMERLY: bool, const UPDATE: bool>(
        &mut self,
        data: &Rows<'_>,
        compact: &Compact,
        step: &Step<'_>,
        todo: &mut [u32],
        staged: &mut [f32],
    ) {
        let d = data.d;
        let n = self.labels.len();
        let xs = &data.x[self.start * d..(self.start + n) * d];
        let xs32 = &compact.x[self.start * d..(self.start + n) * d];
        let ws: Option<&[f64]> = data.w.map(|w| &w[self.start..self.start + n]);
        let fresh = UPDATE && self.fresh;
        let cents = step.cents;
        let (own, others, gap) = (&step.own[..], &step.others[..], &step.gap[..]);
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
        // The rows whose bounds do not prove their segment, listed without branches.
        let mut count = 0;
        if HAMERLY {
            for (r, ((&a, &up), &lo)) in labels.iter().zip(&*upper).zip(&*lower).enumerate() {
                let a = a as usize;
                let bound = gap[a].max(f64::from(lo) - others[a]);
                todo[count] = r as u32;
                count += usize::from(f64::from(up) + own[a] > bound);
            }
        } else {
            for (r, t) in todo.iter_mut().enumerate() {
                *t = r as u32;
            }
            count = n;
        }
        let mut changed = 0usize;
        moves.clear();
        // Copy the rows to compute next to each other first: whole-row copies that do
        // not depend on each other, so their cache misses overlap.
        let rows32: &[f32] = if count == n {
            xs32
        } else {
            for (t, &r) in todo[..count].iter().enumerate() {
                let r = r as usize;
                copy_row(&mut staged[t * d..(t + 1) * d], &xs32[r * d..(r + 1) * d]);
            }
            &staged[..count * d]
        };
        for (group, rows) in todo[..count].chunks(LANES).zip(rows32.chunks(LANES * d)) {
            // Transposed into lanes; lanes past the last row keep stale (finite)
            // values whose results are unused.
            for (l, row) in rows.chunks_exact(d).enumerate() {
                for (b, &v) in block.iter_mut().zip(row) {
                    b[l] = v;
                }
            }
            let near = cents.nearest_block(block);
            for (l, &r) in group.iter().enumerate() {
                let r = r as usize;
                let x = &xs[r * d..(r + 1) * d];
                let (b, up, lo) = if near.decided[l] {
                    (
                        near.best[l] as usize,
                        f64::from(near.upper[l]),
                        f64::from(near.lower[l]),
                    )
                } else {
                    let (b, d1, d2) = cents.nearest_exact(x);
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

/// A thread's working buffers for [`Chunk::run`], shared by every chunk and
/// initialisation it processes, so their memory does not grow with the
/// initialisations run side by side. They stay with the thread between fits:
/// 4 + 4d bytes per row of a chunk (150 KB for 8 features).
#[derive(Default)]
struct Scratch {
    /// Rows (offsets in the chunk) whose nearest centroid is computed this pass.
    todo: Vec<u32>,
    /// The rows to compute, copied next to each other (row-major).
    staged: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// `dst.copy_from_slice(src)` in fixed-size pieces, inline: a call to `memcpy`
/// for each short row costs more than the copy.
#[inline]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    let mut d4 = dst.chunks_exact_mut(4);
    let mut s4 = src.chunks_exact(4);
    for (d, s) in (&mut d4).zip(&mut s4) {
        let piece: [f32; 4] = [s[0], s[1], s[2], s[3]];
        d.copy_from_slice(&piece);
    }
    for (d, &s) in d4.into_remainder().iter_mut().zip(s4.remainder()) {
        *d = s;
    }
}

/// What every chunk's pass reads.
struct Step<'a> {
    cents: &'a Centroids,
    /// [`Movement`] and [`Centroids::half_gap`] in the scaled space of the bounds.
    own: Vec<f64>,
    others: Vec<f64>,
    gap: Vec<f64>,
    algorithm: Algorithm,
}

impl<'a> Step<'a> {
    fn new(cents: &'a Centroids, moved: &Movement, algorithm: Algorithm) -> Step<'a> {
        // A power of two: exact.
        let inv = 1.0 / cents.scale;
        Step {
            cents,
            own: moved.own.iter().map(|m| m * inv).collect(),
            others: moved.others.iter().map(|m| m * inv).collect(),
            gap: cents.half_gap.iter().map(|g| g * inv).collect(),
            algorithm,
        }
    }
}

/// An f32 at least `v` (an upper bound stays one), within two units in the
/// last place: the nearest f32 plus at least one unit in its last place (and
/// the smallest subnormal for zero), without branches.
#[inline]
fn round_up(v: f64) -> f32 {
    let r = v as f32;
    r + r.abs() * f32::EPSILON + f32::from_bits(1)
}

/// `v` rounded down to f32 (a lower bound stays one).
#[inline]
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
    max_iter: usize,
    tol: f64,
    algorithm: Algorithm,
    first_init: usize,
) -> Option<Run> {
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
                    (Step::new(&run.cents, &run.moved, algorithm), pass)
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
    let step = Step::new(&cents, &Movement::none(k), Algorithm::Lloyd);
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

impl From<linfa::Error> for Error {
    fn from(e: linfa::Error) -> Self {
        Error::InvalidInput(format!("linfa: {e}"))
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
                    return Err(Error::InvalidInput(format!(
                        "mini-batch k-means: the first batch has {} rows, fewer than k = {k}",
                        data.n
                    )));
                }
                let mut rng = ChaCha8Rng::seed_from_u64(self.params.seed);
                let rows = initial_centroids(&data, k, self.params.init, &mut rng);
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
