//! The fitted model: its centroids, the segment of new rows and the inertia of a labelling.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::Algorithm;
use super::blocks::Compact;
use super::kernel::Centroids;
use super::pass::{Chunk, Movement, Step};
use super::rows::{Rows, squared_distance};
use crate::error::{Error, Result};

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

/// The nearest centroid of every row (ties to the lower index).
pub(super) fn assign(centroids: &Array2<f64>, data: &Rows<'_>) -> Vec<usize> {
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
        let mut chunk = Chunk::<u32>::new(data, c, k);
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
    /// [`Error::LengthMismatch`] when `x` has a different number of columns than
    /// the centroids; the errors of [`KMeansParams::fit_rows`](super::KMeansParams::fit_rows)
    /// for its values ([`Error::NonFinite`], [`Error::InvalidValue`], [`Error::EmptyInput`]).
    pub fn predict_rows(&self, x: ArrayView2<'_, f64>) -> Result<Vec<usize>> {
        let data = Rows::new(x, None)?;
        if data.d != self.centroids.ncols() {
            return Err(Error::lengths(
                "k-means: columns of the rows (the model's width)",
                self.centroids.ncols(),
                data.d,
            ));
        }
        Ok(assign(&self.centroids, &data))
    }

    /// Weighted sum of squared distances of the rows of `x` to the centroids of `labels`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for mismatched shapes; [`Error::OutOfRange`]
    /// for a label ≥ k; the errors of [`KMeansParams::fit_rows`](super::KMeansParams::fit_rows)
    /// for the values and weights.
    pub fn inertia_of<'a>(
        &self,
        x: ArrayView2<'a, f64>,
        labels: &[usize],
        weights: Option<&'a [f64]>,
    ) -> Result<f64> {
        let data = Rows::new(x, weights)?;
        if data.d != self.centroids.ncols() {
            return Err(Error::lengths(
                "k-means: columns of the rows (the model's width)",
                self.centroids.ncols(),
                data.d,
            ));
        }
        if labels.len() != data.n {
            return Err(Error::lengths(
                "k-means: labels per row",
                data.n,
                labels.len(),
            ));
        }
        if let Some(&l) = labels.iter().find(|&&l| l >= self.k()) {
            return Err(Error::out_of_range("k-means: segment label", l, self.k()));
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
