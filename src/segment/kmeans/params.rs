//! k-means settings (initialisation, algorithm, stopping rule, seed) and their check.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
}
