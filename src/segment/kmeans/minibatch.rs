//! Mini-batch k-means for inputs larger than memory (Sculley 2010).

use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::blocks::Compact;
use super::init::initial_centroids;
use super::predict::assign;
use super::rows::{Rows, squared_distance};
use super::{KMeans, KMeansParams};
use crate::error::{Error, Result};

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
    /// [`Error::TooFew`] for a first batch with fewer than k rows;
    /// [`Error::LengthMismatch`] for a batch of a different width; the errors of
    /// [`KMeansParams::fit_rows`] for non-finite values or invalid weights.
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
                    return Err(Error::lengths(
                        "mini-batch k-means: batch columns (the earlier batches' width)",
                        c.ncols(),
                        data.d,
                    ));
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
                let found = rows.len();
                Array2::from_shape_vec((k, data.d), rows).map_err(|_| {
                    Error::lengths(
                        "mini-batch k-means: seeded centroid values",
                        k * data.d,
                        found,
                    )
                })?
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
    /// [`Error::EmptyInput`] before the first batch.
    pub fn finish(&self) -> Result<KMeans> {
        let centroids = self
            .centroids
            .clone()
            .ok_or_else(|| Error::empty("mini-batch k-means: batches fed"))?;
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
