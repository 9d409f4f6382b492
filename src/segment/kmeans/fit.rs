//! Fitting: seeding and iterating on the rows, or iterating from given centroids.

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::blocks::Compact;
use super::init::initial_centroids;
use super::lloyd::{Iterate, Run, lloyd};
use super::rows::Rows;
use super::{Clustering, KMeansParams};
use crate::error::{Error, Result};

/// Initialisations iterated side by side (see [`lloyd`]).
const LOCKSTEP: usize = 4;

impl KMeansParams {
    /// Fits on the rows of `x` with optional sample weights, returning the
    /// model and the rows' labels.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`check`](Self::check);
    /// [`Error::TooFew`] for fewer rows than k; [`Error::EmptyInput`] for no
    /// columns or no positive weight; [`Error::NonFinite`] for a non-finite
    /// value or weight; [`Error::InvalidValue`] for a value beyond ±1e100 or a
    /// negative weight; [`Error::LengthMismatch`] for weights of the wrong length.
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
    /// As [`fit_rows`](Self::fit_rows), and [`Error::LengthMismatch`] when
    /// `initial` is not `k` rows of the data's width, [`Error::NonFinite`] when
    /// it has a non-finite value.
    pub fn fit_rows_from<'a>(
        &self,
        x: ArrayView2<'a, f64>,
        weights: Option<&'a [f64]>,
        initial: ArrayView2<'_, f64>,
    ) -> Result<Clustering> {
        self.check()?;
        let data = Rows::new(x, weights)?;
        if initial.nrows() != self.k {
            return Err(Error::lengths(
                "k-means: initial centroids (one per segment)",
                self.k,
                initial.nrows(),
            ));
        }
        if initial.ncols() != data.d {
            return Err(Error::lengths(
                "k-means: initial centroid columns (the data's width)",
                data.d,
                initial.ncols(),
            ));
        }
        if let Some(((j, f), &v)) = initial.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::non_finite(
                "k-means: initial centroids",
                j,
                format!("column {f}"),
                v,
            ));
        }
        self.check_rows(&data)?;
        let (compact, variance) = Compact::with_mean_variance(&data);
        let tol = self.tol * variance;
        let how = Iterate {
            max_iter: self.max_iter,
            tol,
            algorithm: self.algorithm,
            arch: pulp::Arch::new(),
        };
        let start: Vec<f64> = initial.iter().copied().collect();
        let run = lloyd(&data, &compact, vec![start], 0, how)
            .ok_or_else(|| Error::empty("k-means: initialisations"))?;
        Ok(run.into_clustering(data.d, self.k))
    }

    /// Whether there are enough rows for k segments.
    fn check_rows(&self, data: &Rows<'_>) -> Result<()> {
        if data.n < self.k {
            return Err(Error::too_few(
                format!("k-means: rows for k = {} segments", self.k),
                self.k,
                data.n,
            ));
        }
        Ok(())
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
        self.check_rows(&data)?;
        // One single-precision copy of the rows serves every initialisation;
        // the tolerance is relative to the mean feature variance.
        let (compact, variance) = Compact::with_mean_variance(&data);
        let tol = self.tol * variance;
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
        let run = best.ok_or_else(|| Error::empty("k-means: initialisations"))?;
        Ok(run.into_clustering(data.d, self.k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::kmeans::Algorithm;
    use ndarray::Array2;
    use rand::Rng;
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
