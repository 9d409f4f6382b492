//! Soft segment membership and outliers, with linfa-clustering.
//!
//! k-means gives every customer exactly one segment. Customers between two
//! segments are worth knowing about (their treatment is uncertain, and they
//! are the first to migrate), and a few customers fit no segment at all.
//!
//! - [`soft_membership`] fits a Gaussian mixture (linfa-clustering's EM with
//!   full covariances) and returns each customer's probability of belonging
//!   to each segment. The mixture's components are matched to the k-means
//!   segments by the Hungarian method on their means, so column `j` is the
//!   probability of segment `j`. For large bases the mixture is fitted on a
//!   seeded sample and then evaluated for every customer.
//! - [`outliers`] runs linfa-clustering's DBSCAN (Ester et al. 1996):
//!   customers in no dense region (fewer than `min_points` neighbours within
//!   `radius`, and not reachable from a core point) are flagged.
//!
//! Both work in the space that was clustered (e.g. standardised features).

use linfa::DatasetBase;
use linfa::traits::{Fit, Transformer};
use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::kmeans::KMeans;
use super::stability::match_segments;
use crate::error::{Error, Result};

/// Settings for [`soft_membership`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SoftParams {
    /// Rows the mixture is fitted on at most (a seeded sample beyond).
    pub max_fit_rows: usize,
    /// EM restarts.
    pub n_runs: u64,
    /// Seed of the sample and of the mixture's initialisation.
    pub seed: u64,
}

impl Default for SoftParams {
    /// 50,000 rows, one EM run, seed 0.
    fn default() -> Self {
        SoftParams {
            max_fit_rows: 50_000,
            n_runs: 1,
            seed: 0,
        }
    }
}

impl SoftParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `max_fit_rows` or `n_runs` of 0.
    pub fn check(&self) -> Result<()> {
        if self.max_fit_rows == 0 {
            return Err(Error::param("max_fit_rows", 0, "must be at least 1"));
        }
        if self.n_runs == 0 {
            return Err(Error::param("n_runs", 0, "must be at least 1"));
        }
        Ok(())
    }
}

fn check_rows(x: ArrayView2<'_, f64>, what: &str) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::empty(format!("{what}: rows")));
    }
    if x.ncols() == 0 {
        return Err(Error::empty(format!("{what}: columns")));
    }
    if let Some(((i, j), &v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::non_finite(
            format!("{what} (impute or drop missing values first)"),
            i,
            format!("column {j}"),
            v,
        ));
    }
    Ok(())
}

/// Each row's probability of belonging to each of the model's segments
/// (rows sum to 1; column `j` is segment `j` of `model`).
///
/// # Errors
/// [`Error::EmptyInput`] for no rows or columns; [`Error::NonFinite`] for a
/// non-finite value; [`Error::LengthMismatch`] for a width other than the
/// model's; [`Error::TooFew`] for fewer rows than segments;
/// [`Error::NotIdentifiable`] for a mixture that cannot be fitted (e.g. a
/// segment with too few distinct rows for a covariance).
pub fn soft_membership(
    x: ArrayView2<'_, f64>,
    model: &KMeans,
    params: &SoftParams,
) -> Result<Array2<f64>> {
    params.check()?;
    check_rows(x, "soft membership")?;
    let k = model.k();
    if x.ncols() != model.centroids.ncols() {
        return Err(Error::lengths(
            "soft membership: columns (the model's width)",
            model.centroids.ncols(),
            x.ncols(),
        ));
    }
    if x.nrows() < k {
        return Err(Error::too_few(
            format!("soft membership: rows for {k} segments"),
            k,
            x.nrows(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let fit_rows: Array2<f64> = if x.nrows() > params.max_fit_rows.max(k) {
        let mut rows = sample(&mut rng, x.nrows(), params.max_fit_rows.max(k)).into_vec();
        rows.sort_unstable();
        x.select(Axis(0), &rows)
    } else {
        x.to_owned()
    };
    let gmm = linfa_clustering::GaussianMixtureModel::params(k)
        .n_runs(params.n_runs)
        .with_rng(rng)
        .fit(&DatasetBase::from(fit_rows))
        .map_err(|e| Error::NotIdentifiable {
            model: "Gaussian mixture (soft membership)",
            reason: e.to_string(),
        })?;
    let matching = match_segments(model.centroids.view(), gmm.means().view())?;
    let raw = gmm.predict_proba(&x);
    let mut out = Array2::zeros((x.nrows(), k));
    for (component, &segment) in matching.relabel.iter().enumerate() {
        if segment < k {
            out.column_mut(segment).assign(&raw.column(component));
        }
    }
    if out.iter().any(|p| !p.is_finite()) {
        return Err(Error::NotIdentifiable {
            model: "Gaussian mixture (soft membership)",
            reason: "the mixture gave non-finite probabilities".into(),
        });
    }
    Ok(out)
}

/// Settings of [`outliers`]: DBSCAN's neighbourhood.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutlierParams {
    /// Neighbourhood radius (Euclidean, in the clustered space; default 1).
    pub radius: f64,
    /// Rows within `radius`, the row itself included, that make a row a core
    /// of a dense region (default 5).
    pub min_points: usize,
}

impl Default for OutlierParams {
    fn default() -> Self {
        OutlierParams {
            radius: 1.0,
            min_points: 5,
        }
    }
}

impl OutlierParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a radius that is not finite and
    /// positive, or `min_points` = 0.
    pub fn check(&self) -> Result<()> {
        if !(self.radius.is_finite() && self.radius > 0.0) {
            return Err(Error::param(
                "radius",
                self.radius,
                "must be finite and > 0",
            ));
        }
        if self.min_points == 0 {
            return Err(Error::param("min_points", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// Rows in no dense region by DBSCAN: fewer than `min_points` rows within
/// `radius` (Euclidean) and not within `radius` of such a core row.
///
/// # Errors
/// [`Error::EmptyInput`] for no rows or columns; [`Error::NonFinite`] for a
/// non-finite value; invalid settings ([`OutlierParams::check`], or ones
/// DBSCAN refuses) as [`Error::InvalidParameter`].
pub fn outliers(x: ArrayView2<'_, f64>, params: &OutlierParams) -> Result<Vec<bool>> {
    params.check()?;
    check_rows(x, "outliers")?;
    let labels = linfa_clustering::Dbscan::params(params.min_points)
        .tolerance(params.radius)
        .transform(&x)
        .map_err(|e| Error::param("min_points", params.min_points, format!("DBSCAN: {e}")))?;
    Ok(labels.iter().map(Option::is_none).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::kmeans::KMeansParams;
    use rand_distr::{Distribution, Normal};

    fn two_groups(n: usize) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let noise = Normal::new(0.0, 0.5).unwrap();
        Array2::from_shape_fn((n, 2), |(i, _)| {
            (if i % 2 == 0 { -4.0 } else { 4.0 }) + noise.sample(&mut rng)
        })
    }

    #[test]
    fn membership_agrees_with_hard_segments_and_sums_to_one() {
        let x = two_groups(2_000);
        let fit = KMeansParams::new(2).fit_rows(x.view(), None).unwrap();
        let p = soft_membership(x.view(), &fit.model, &SoftParams::default()).unwrap();
        assert_eq!(p.dim(), (2_000, 2));
        for (row, &label) in p.rows().into_iter().zip(&fit.labels) {
            assert!((row.sum() - 1.0).abs() < 1e-9);
            assert!(row.iter().all(|v| (0.0..=1.0 + 1e-12).contains(v)));
            // Well-separated groups: the own segment is all but certain.
            assert!(row[label] > 0.99, "{row}");
        }
        // Fewer rows than segments cannot fit a mixture: an error, not a panic.
        let one = ndarray::array![[0.0, 0.0]];
        assert!(matches!(
            soft_membership(one.view(), &fit.model, &SoftParams::default()),
            Err(Error::TooFew {
                minimum: 2,
                found: 1,
                ..
            })
        ));
        // Fitted on a sample, evaluated for everyone.
        let sampled = SoftParams {
            max_fit_rows: 300,
            ..SoftParams::default()
        };
        let ps = soft_membership(x.view(), &fit.model, &sampled).unwrap();
        assert_eq!(ps.nrows(), 2_000);
    }

    #[test]
    fn isolated_rows_are_outliers() {
        let mut x = two_groups(400);
        x.push_row(ndarray::aview1(&[40.0, -40.0])).unwrap();
        let params = OutlierParams::default();
        let flags = outliers(x.view(), &params).unwrap();
        assert!(flags[400]);
        assert!(flags.iter().filter(|&&f| f).count() < 20);
        for bad in [
            OutlierParams {
                radius: 0.0,
                ..params
            },
            OutlierParams {
                min_points: 0,
                ..params
            },
        ] {
            assert!(matches!(
                outliers(x.view(), &bad),
                Err(Error::InvalidParameter { .. })
            ));
        }
        let bad = ndarray::array![[f64::NAN, 1.0]];
        assert!(matches!(
            outliers(bad.view(), &params),
            Err(Error::NonFinite { .. })
        ));
    }
}
