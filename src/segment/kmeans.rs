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
//! - **Restarts**: `n_init` initialisations from one seed; the lowest inertia wins.
//!
//! Rows are processed in fixed chunks of 4,096 whose partial sums are added in
//! chunk order, so results do not depend on the thread count. Each chunk keeps
//! its rows' labels and bounds and its own accumulators, so the iteration loop
//! allocates nothing. Distances are computed against a feature-major copy of
//! the centroids so that the loop over centroids vectorises.
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
        let mut best: Option<Run> = None;
        for init in 0..self.n_init {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(init as u64);
            let centroids = initial_centroids(&data, self.k, self.init, &mut rng);
            let run = lloyd(&data, centroids, self.max_iter, tol, self.algorithm, init);
            if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                best = Some(run);
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
fn mean_variance(data: &Rows<'_>) -> f64 {
    let d = data.d;
    let n = data.n as f64;
    let mut total = 0.0;
    for f in 0..d {
        let mean = (0..data.n).map(|i| data.x[i * d + f]).sum::<f64>() / n;
        let var = (0..data.n)
            .map(|i| (data.x[i * d + f] - mean).powi(2))
            .sum::<f64>()
            / n;
        total += var;
    }
    total / d as f64
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

/// Draws a row with probability proportional to `mass` (non-negative, positive
/// total), given per-chunk totals; deterministic for a uniform `u` in [0, 1).
fn draw(data: &Rows<'_>, mass: &[f64], chunk_totals: &[f64], u: f64) -> usize {
    let total: f64 = chunk_totals.iter().sum();
    let mut target = u * total;
    for (c, &t) in chunk_totals.iter().enumerate() {
        if target < t {
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
            return last_positive;
        }
        target -= t;
    }
    // Rounding past the end: the last row with mass.
    (0..data.n).rev().find(|&i| mass[i] > 0.0).unwrap_or(0)
}

/// k-means++ (greedy with `trials` > 1) initial centroids, row-major k × d.
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
    // Weighted squared distance of each row to its nearest centroid so far.
    let mut closest: Vec<f64> = (0..data.n)
        .map(|i| weights[i] * squared_distance(data.row(i), data.row(first)))
        .collect();
    let mut candidates = vec![0usize; trials];
    for _ in 1..k {
        let totals: Vec<f64> =
            crate::parallel::map_range(n_chunks, |c| data.chunk_range(c).map(|i| closest[i]).sum());
        let potential: f64 = totals.iter().sum();
        for slot in candidates.iter_mut() {
            *slot = if potential > 0.0 {
                draw(data, &closest, &totals, rng.r#gen::<f64>())
            } else {
                // Every row sits on a centroid: any row with weight.
                draw(data, &weights, &weight_totals, rng.r#gen::<f64>())
            };
        }
        // Potential after adding each candidate, summed per chunk in order.
        let parts: Vec<Vec<f64>> = crate::parallel::map_range(n_chunks, |c| {
            let mut pot = vec![0.0; trials];
            for i in data.chunk_range(c) {
                for (t, &cand) in candidates.iter().enumerate() {
                    let dist = weights[i] * squared_distance(data.row(i), data.row(cand));
                    pot[t] += dist.min(closest[i]);
                }
            }
            pot
        });
        let mut best = 0;
        let mut best_pot = f64::INFINITY;
        for t in 0..trials {
            let pot: f64 = parts.iter().map(|p| p[t]).sum();
            if pot < best_pot {
                best_pot = pot;
                best = t;
            }
        }
        let chosen = candidates[best];
        centroids.extend_from_slice(data.row(chosen));
        let row = data.row(chosen);
        let update = |(c, part): (usize, &mut [f64])| {
            for (i, v) in data.chunk_range(c).zip(part.iter_mut()) {
                *v = v.min(weights[i] * squared_distance(data.row(i), row));
            }
        };
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            closest.par_chunks_mut(CHUNK).enumerate().for_each(update);
        }
        #[cfg(not(feature = "parallel"))]
        closest.chunks_mut(CHUNK).enumerate().for_each(update);
    }
    centroids
}

/// The centroids in the layouts the kernel needs.
struct Centroids {
    k: usize,
    d: usize,
    /// Row-major k × d.
    rows: Vec<f64>,
    /// Feature-major d × kp (k padded to a multiple of 4 with infinite
    /// coordinates, never nearest), so the loop over centroids vectorises.
    by_feature: Vec<f64>,
    kp: usize,
    /// Half the distance from each centroid to its nearest other centroid.
    half_gap: Vec<f64>,
    /// Feature-major d × kp of 2c (padding 0), for the expansion kernel.
    twice_by_feature: Vec<f64>,
    /// ‖c‖² of each centroid, padded to kp with +∞.
    norms: Vec<f64>,
}

impl Centroids {
    fn new(rows: Vec<f64>, k: usize, d: usize) -> Centroids {
        let kp = k.div_ceil(4) * 4;
        let mut c = Centroids {
            k,
            d,
            rows,
            by_feature: vec![0.0; d * kp],
            kp,
            half_gap: vec![f64::INFINITY; k],
            twice_by_feature: vec![0.0; d * kp],
            norms: vec![f64::INFINITY; kp],
        };
        c.refresh();
        c
    }

    fn row(&self, j: usize) -> &[f64] {
        &self.rows[j * self.d..(j + 1) * self.d]
    }

    /// Recomputes the derived layouts after `rows` changed.
    fn refresh(&mut self) {
        let (k, d, kp) = (self.k, self.d, self.kp);
        for f in 0..d {
            for j in 0..kp {
                self.by_feature[f * kp + j] = if j < k {
                    self.rows[j * d + f]
                } else {
                    f64::INFINITY
                };
            }
        }
        for f in 0..d {
            for j in 0..kp {
                self.twice_by_feature[f * kp + j] = if j < k {
                    2.0 * self.rows[j * d + f]
                } else {
                    0.0
                };
            }
        }
        for j in 0..kp {
            self.norms[j] = if j < k {
                self.row(j).iter().map(|v| v * v).sum()
            } else {
                f64::INFINITY
            };
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

    /// Squared distances from `x` to every centroid into `out` (length kp).
    #[inline]
    fn distances(&self, x: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        for (f, &xf) in x.iter().enumerate() {
            let column = &self.by_feature[f * self.kp..(f + 1) * self.kp];
            for (o, &c) in out.iter_mut().zip(column) {
                let t = xf - c;
                *o += t * t;
            }
        }
    }

    /// Nearest and second-nearest squared distances of `x` (ties: lowest index).
    #[inline]
    fn nearest_two(&self, x: &[f64], scratch: &mut [f64]) -> (usize, f64, f64) {
        // Fixed widths keep the accumulators in registers.
        match self.kp {
            4 => nearest_two_fixed::<4>(x, &self.twice_by_feature, &self.norms),
            8 => nearest_two_fixed::<8>(x, &self.twice_by_feature, &self.norms),
            12 => nearest_two_fixed::<12>(x, &self.twice_by_feature, &self.norms),
            16 => nearest_two_fixed::<16>(x, &self.twice_by_feature, &self.norms),
            _ => {
                self.distances(x, scratch);
                two_smallest(&scratch[..self.k])
            }
        }
    }
}

/// Index and value of the smallest, and the second smallest value (ties: lowest index).
#[inline]
fn two_smallest(values: &[f64]) -> (usize, f64, f64) {
    let (mut best, mut d1, mut d2) = (0, f64::INFINITY, f64::INFINITY);
    for (j, &v) in values.iter().enumerate() {
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

/// [`Centroids::nearest_two`] for `KP` padded centroids, through the expansion
/// ‖x − c‖² = ‖x‖² + (‖c‖² − 2x·c): a multiply and a subtraction per centroid and
/// feature instead of three operations. Padding centroids have an infinite
/// norm, so they are never nearest. The rounding error, about 1e-16 of
/// ‖x‖² + ‖c‖², is far below any distance that decides a segment.
#[inline]
fn nearest_two_fixed<const KP: usize>(
    x: &[f64],
    twice_by_feature: &[f64],
    norms: &[f64],
) -> (usize, f64, f64) {
    let mut acc = [0.0f64; KP];
    for (a, &n) in acc.iter_mut().zip(norms) {
        *a = n;
    }
    let mut xx = 0.0;
    for (column, &xf) in twice_by_feature.chunks_exact(KP).zip(x) {
        xx += xf * xf;
        for (a, &c2) in acc.iter_mut().zip(column) {
            *a -= xf * c2;
        }
    }
    // One unrolled scan with selects instead of branches (ties: lowest index).
    let (mut best, mut v1, mut v2) = (0usize, f64::INFINITY, f64::INFINITY);
    for (j, &v) in acc.iter().enumerate() {
        let nearer = v < v1;
        v2 = if nearer {
            v1
        } else if v < v2 {
            v
        } else {
            v2
        };
        best = if nearer { j } else { best };
        v1 = if nearer { v } else { v1 };
    }
    (best, (xx + v1).max(0.0), (xx + v2).max(0.0))
}

/// One chunk's rows' state and its accumulators (kept across iterations).
struct Chunk {
    start: usize,
    labels: Vec<u32>,
    /// Upper bound on the distance to the own centroid.
    upper: Vec<f64>,
    /// Lower bound on the distance to any other centroid.
    lower: Vec<f64>,
    /// This pass's change of the per-segment weighted sums, weights and row counts.
    sums: Vec<f64>,
    weights: Vec<f64>,
    counts: Vec<i64>,
    /// Whether the rows' labels are not yet counted in the segment sums.
    fresh: bool,
    scratch: Vec<f64>,
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
    fn new(data: &Rows<'_>, c: usize, k: usize, kp: usize) -> Chunk {
        let range = data.chunk_range(c);
        let len = range.len();
        Chunk {
            start: range.start,
            labels: vec![0; len],
            upper: vec![f64::INFINITY; len],
            lower: vec![0.0; len],
            sums: vec![0.0; k * data.d],
            weights: vec![0.0; k],
            counts: vec![0; k],
            fresh: true,
            scratch: vec![0.0; kp],
            changed: 0,
            inertia: 0.0,
        }
    }

    /// Assigns the chunk's rows to their nearest centroids (with bounds under
    /// Hamerly), then accumulates per `pass`.
    fn pass(
        &mut self,
        data: &Rows<'_>,
        cents: &Centroids,
        moved: &Movement,
        algorithm: Algorithm,
        pass: Pass,
    ) {
        // One specialised loop per combination keeps the loop body small.
        match (algorithm, pass) {
            (Algorithm::Hamerly, Pass::Update) => self.run::<true, true>(data, cents, moved),
            (Algorithm::Hamerly, Pass::Finish) => self.run::<true, false>(data, cents, moved),
            (Algorithm::Lloyd, Pass::Update) => self.run::<false, true>(data, cents, moved),
            (Algorithm::Lloyd, Pass::Finish) => self.run::<false, false>(data, cents, moved),
        }
    }

    fn run<const HAMERLY: bool, const UPDATE: bool>(
        &mut self,
        data: &Rows<'_>,
        cents: &Centroids,
        moved: &Movement,
    ) {
        let d = data.d;
        let n = self.labels.len();
        let xs = &data.x[self.start * d..(self.start + n) * d];
        let ws: Option<&[f64]> = data.w.map(|w| &w[self.start..self.start + n]);
        let fresh = UPDATE && self.fresh;
        let (own, others, gap) = (&moved.own[..], &moved.others[..], &cents.half_gap[..]);
        let Chunk {
            ref mut labels,
            ref mut upper,
            ref mut lower,
            ref mut sums,
            ref mut weights,
            ref mut counts,
            ref mut scratch,
            ..
        } = *self;
        if UPDATE {
            sums.fill(0.0);
            weights.fill(0.0);
            counts.fill(0);
        }
        let (mut changed, mut inertia) = (0usize, 0.0f64);
        let rows = xs
            .chunks_exact(d)
            .zip(labels.iter_mut())
            .zip(upper.iter_mut().zip(lower.iter_mut()));
        for (r, ((x, slot), (up, lo))) in rows.enumerate() {
            let a = *slot as usize;
            let label = if HAMERLY {
                let bound = gap[a].max(*lo - others[a]);
                if *up + own[a] <= bound {
                    a
                } else {
                    // Compared squared (bound >= 0), so most rows need no square root.
                    let tight = squared_distance(x, cents.row(a));
                    if tight <= bound * bound {
                        *up = tight.sqrt() - own[a];
                        a
                    } else {
                        let (b, d1, d2) = cents.nearest_two(x, scratch);
                        *up = d1.sqrt() - own[b];
                        *lo = d2.sqrt() + others[b];
                        b
                    }
                }
            } else {
                cents.nearest_two(x, scratch).0
            };
            let w = ws.map_or(1.0, |w| w[r]);
            // Only rows that join or change segment touch the sums.
            if UPDATE && (fresh || label != a) && w > 0.0 {
                if !fresh {
                    for (s, &v) in sums[a * d..(a + 1) * d].iter_mut().zip(x) {
                        *s -= w * v;
                    }
                    weights[a] -= w;
                    counts[a] -= 1;
                }
                for (s, &v) in sums[label * d..(label + 1) * d].iter_mut().zip(x) {
                    *s += w * v;
                }
                weights[label] += w;
                counts[label] += 1;
            }
            if label != a {
                changed += 1;
                *slot = label as u32;
            }
            if !UPDATE {
                inertia += w * squared_distance(x, cents.row(label));
            }
        }
        self.changed = changed;
        self.inertia = inertia;
        if UPDATE {
            self.fresh = false;
        }
    }
}

fn for_each_chunk(chunks: &mut [Chunk], f: impl Fn(&mut Chunk) + Sync + Send) {
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

/// Lloyd iterations from `initial` centroids (row-major k × d).
fn lloyd(
    data: &Rows<'_>,
    initial: Vec<f64>,
    max_iter: usize,
    tol: f64,
    algorithm: Algorithm,
    init: usize,
) -> Run {
    let d = data.d;
    let k = initial.len() / d;
    let mut cents = Centroids::new(initial, k, d);
    let mut chunks: Vec<Chunk> = (0..data.n_chunks())
        .map(|c| Chunk::new(data, c, k, cents.kp))
        .collect();
    let mut moved = Movement::none(k);
    // Per-segment weighted sums, weights and counts of rows with positive weight,
    // updated by each pass's changes.
    let mut sums = vec![0.0; k * d];
    let mut weights = vec![0.0; k];
    let mut counts = vec![0i64; k];
    let mut new_rows = vec![0.0; k * d];
    let mut iterations = 0;
    let mut converged = false;
    let mut shift = 0.0;
    for iteration in 0..max_iter {
        iterations = iteration + 1;
        for_each_chunk(&mut chunks, |c| {
            c.pass(data, &cents, &moved, algorithm, Pass::Update)
        });
        // Changes added in chunk order, whatever the thread count.
        let mut changed = 0;
        for c in &chunks {
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
        let relocated = relocate_empty(
            data,
            &cents,
            &mut chunks,
            &mut sums,
            &mut weights,
            &mut counts,
        );
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
        shift = moves.iter().map(|m| m * m).sum();
        std::mem::swap(&mut cents.rows, &mut new_rows);
        cents.refresh();
        moved.add(&moves);
        if relocated {
            // Bounds no longer describe the relocated rows: recompute every row next time.
            for c in &mut chunks {
                c.upper.fill(f64::INFINITY);
                c.lower.fill(0.0);
            }
            continue;
        }
        // The first pass starts from arbitrary labels, so only later passes can show stability.
        if iteration > 0 && changed == 0 {
            converged = true;
            break;
        }
        if shift <= tol {
            converged = true;
            break;
        }
    }
    // A final assignment to the final centroids, and its inertia.
    for_each_chunk(&mut chunks, |c| {
        c.pass(data, &cents, &moved, algorithm, Pass::Finish)
    });
    let mut labels = Vec::with_capacity(data.n);
    let mut inertia = 0.0;
    let mut final_weights = vec![0.0; k];
    for c in &chunks {
        inertia += c.inertia;
        for (r, &l) in c.labels.iter().enumerate() {
            labels.push(l as usize);
            final_weights[l as usize] += data.weight(c.start + r);
        }
    }
    Run {
        centroids: cents.rows,
        labels,
        weights: final_weights,
        inertia,
        iterations,
        converged,
        shift,
        init,
    }
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
    let cents = Centroids::new(
        centroids.iter().copied().collect(),
        centroids.nrows(),
        centroids.ncols(),
    );
    let parts: Vec<Vec<usize>> = crate::parallel::map_range(data.n_chunks(), |c| {
        let mut scratch = vec![0.0; cents.kp];
        data.chunk_range(c)
            .map(|i| cents.nearest_two(data.row(i), &mut scratch).0)
            .collect()
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
