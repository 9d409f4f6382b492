//! A persisted segmentation: transform, centroids and names in one serde model.
//!
//! Fitting scales the features ([`scale`](super::scale)), clusters them with
//! k-means ([`kmeans`](super::kmeans)) and profiles and names the segments in
//! the features' original units ([`profile`](super::profile)). The model
//! assigns new customers with [`SegmentationModel::predict`], and a monthly
//! refit keeps segment ids stable with [`SegmentationModel::refit`]: the
//! refit's segments are matched to the previous ones by the Hungarian method on
//! their centroids in the previous model's space
//! ([`stability`](super::stability)), and the migration of customers between
//! the two is reported.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::features::FeatureMatrix;
use super::kmeans::{Clustering, KMeans, KMeansParams};
use super::profile::{ProfileInput, SegmentProfile, profile_segments};
use super::scale::{FittedTransform, TransformSpec};
use super::select_k::{KChoice, SilhouetteOptions, choose_k};
use super::stability::{Migration, SegmentMatch, match_segments, migration_matrix};
use crate::error::{Error, Result};
use crate::lifecycle::stage::Stage;

/// How to segment: the transform and the clustering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SegmentationParams {
    /// Feature transforms (default: standardise every column, impute missing
    /// values with the median and an indicator column).
    pub transform: TransformSpec,
    /// k-means settings (`kmeans.k` is the number of segments unless `choose_k` is set).
    pub kmeans: KMeansParams,
    /// Choose the number of segments in this range (inclusive) by the
    /// silhouette ([`choose_k`], estimated on 3,000 sampled rows beyond that
    /// many) instead of taking `kmeans.k`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choose_k: Option<(usize, usize)>,
}

/// A fitted segmentation, ready to assign new customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentationModel {
    /// The input feature names, in order.
    pub features: Vec<String>,
    /// The fitted transform from features to the clustered space.
    pub transform: FittedTransform,
    /// The k-means model in the clustered space.
    pub kmeans: KMeans,
    /// Segment names, by id.
    pub names: Vec<String>,
}

/// A fit: the model, each customer's segment and the segment profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// The model.
    pub model: SegmentationModel,
    /// Segment of each input row.
    pub labels: Vec<usize>,
    /// Profile of each segment, by id.
    pub profiles: Vec<SegmentProfile>,
    /// How k was chosen, when it was ([`SegmentationParams::choose_k`]).
    pub k_choice: Option<KChoice>,
}

/// A refit matched to the previous model.
#[derive(Debug, Clone, PartialEq)]
pub struct Refit {
    /// The refit, with segment ids carried over from the previous model
    /// (new segments get ids after the old ones).
    pub segmentation: Segmentation,
    /// How the refit's raw segments map to stable ids.
    pub matching: SegmentMatch,
    /// Customers moving from their previous segment (the previous model's
    /// assignment of the same rows) to their new one.
    pub migration: Migration,
}

/// Optional per-customer context for profiles.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfileContext<'a> {
    /// Value per customer (CLV or revenue), for value shares.
    pub value: Option<&'a [f64]>,
    /// Lifecycle stage per customer, for the stage mix.
    pub stages: Option<&'a [Stage]>,
}

/// The rows of a matrix that describe the clustered customers: every row,
/// or those listed (one per clustered row, in order), so customers left out
/// of the clustering need not be copied out of the matrix.
#[derive(Debug, Clone, Copy)]
pub struct Described<'a> {
    /// The describing features.
    pub matrix: &'a FeatureMatrix,
    /// The rows of `matrix` in the order of the clustered rows (`None`: all).
    pub rows: Option<&'a [usize]>,
}

impl<'a> From<&'a FeatureMatrix> for Described<'a> {
    fn from(matrix: &'a FeatureMatrix) -> Self {
        Described { matrix, rows: None }
    }
}

impl Described<'_> {
    /// Number of described rows.
    pub fn n_rows(&self) -> usize {
        self.rows.map_or(self.matrix.n_rows(), <[usize]>::len)
    }
}

/// The first half of a fit: the fitted transform and the clustering, before
/// profiles and names ([`Clustered::describe`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Clustered {
    /// The fitted transform.
    pub transform: FittedTransform,
    /// The k-means fit in the transformed space.
    pub clustering: Clustering,
    /// How k was chosen, when it was.
    pub k_choice: Option<KChoice>,
}

impl SegmentationParams {
    /// Checks the settings: the transform, k-means and the range of k.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting.
    pub fn check(&self) -> Result<()> {
        self.transform.check()?;
        self.kmeans.check()?;
        crate::segment::select_k::check_k_range(self.choose_k)?;
        Ok(())
    }

    /// Fits the transform and k-means on `features` and profiles the segments.
    ///
    /// # Errors
    /// Errors of the transform, of k-means and of the profiles (bad settings,
    /// fewer rows than k, mismatched context lengths).
    pub fn fit(
        &self,
        features: &FeatureMatrix,
        context: ProfileContext<'_>,
    ) -> Result<Segmentation> {
        self.cluster(features)?.describe(features, context)
    }

    /// Fits the transform and k-means only.
    ///
    /// # Errors
    /// Errors of the transform and of k-means.
    pub fn cluster(&self, features: &FeatureMatrix) -> Result<Clustered> {
        let transform = FittedTransform::fit(features, &self.transform)?;
        if transform.keeps_values(features) {
            // Nothing to scale or impute: the matrix's own values, not a copy.
            return self.cluster_scaled(transform, features.values());
        }
        // Only the values are transformed (the customer ids are not copied).
        let scaled = transform.apply_values(features)?;
        self.cluster_scaled(transform, scaled.view())
    }

    /// [`cluster`](Self::cluster) taking the matrix, which the transform
    /// then scales in place (see [`FittedTransform::apply_owned`]).
    ///
    /// # Errors
    /// As [`cluster`](Self::cluster).
    pub fn cluster_owned(&self, features: FeatureMatrix) -> Result<Clustered> {
        self.check()?;
        let transform = FittedTransform::fit(&features, &self.transform)?;
        if transform.keeps_values(&features) {
            return self.cluster_scaled(transform, features.values());
        }
        let scaled = transform.apply_owned(features)?;
        self.cluster_scaled(transform, scaled.values())
    }

    /// Chooses k if asked and fits k-means on `scaled`, the values `transform`
    /// (fitted on them) gives.
    fn cluster_scaled(
        &self,
        transform: FittedTransform,
        scaled: ArrayView2<'_, f64>,
    ) -> Result<Clustered> {
        let (kmeans, k_choice) = match self.choose_k {
            None => (self.kmeans.clone(), None),
            Some((low, high)) => {
                // Never more segments than rows allow.
                let high = high.min(scaled.nrows().saturating_sub(1));
                let choice = choose_k(
                    scaled,
                    None,
                    low..=high,
                    &self.kmeans,
                    // A sample of 3,000 rows estimates the silhouette to about
                    // ±0.005 (its standard error), enough to rank k, at a
                    // fraction of the exact cost, which grows with rows².
                    &SilhouetteOptions {
                        max_exact: 3_000,
                        sample_size: 3_000,
                        seed: self.kmeans.seed,
                    },
                )?;
                let k = choice.recommended;
                (
                    KMeansParams {
                        k,
                        ..self.kmeans.clone()
                    },
                    Some(choice),
                )
            }
        };
        let clustering = kmeans.fit_rows(scaled, None)?;
        Ok(Clustered {
            transform,
            clustering,
            k_choice,
        })
    }
}

/// The rows to describe must be the clustered ones.
fn check_described_rows(described: &Described<'_>, clustered: usize) -> Result<()> {
    if described.n_rows() != clustered {
        return Err(Error::lengths(
            "segmentation update: rows to describe (one per clustered row)",
            clustered,
            described.n_rows(),
        ));
    }
    Ok(())
}

impl Clustered {
    /// Profiles and names the segments of `features` (the rows that were
    /// clustered; it may hold more columns than were clustered, to describe the
    /// segments by them too) and assembles the model.
    ///
    /// # Errors
    /// Errors of [`profile_segments`] (mismatched lengths).
    pub fn describe<'a>(
        self,
        features: impl Into<Described<'a>>,
        context: ProfileContext<'_>,
    ) -> Result<Segmentation> {
        let features: Described<'a> = features.into();
        let Clustered {
            transform,
            clustering,
            k_choice,
        } = self;
        let profiles = profile_segments(&ProfileInput {
            names: features.matrix.names(),
            values: features.matrix.values(),
            rows: features.rows,
            labels: &clustering.labels,
            k: clustering.model.k(),
            value: context.value,
            stages: context.stages,
        })?;
        let names = profiles.iter().map(|p| p.name.clone()).collect();
        Ok(Segmentation {
            model: SegmentationModel {
                features: transform
                    .input_names()
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                transform,
                kmeans: clustering.model,
                names,
            },
            labels: clustering.labels,
            profiles,
            k_choice,
        })
    }
}

impl SegmentationModel {
    /// Number of segments.
    pub fn k(&self) -> usize {
        self.kmeans.k()
    }

    /// The segment of each customer of `features` (columns by name; extra
    /// columns are ignored).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a missing feature column; errors of the transform.
    pub fn predict(&self, features: &FeatureMatrix) -> Result<Vec<usize>> {
        let scaled = self.transform.apply(features)?;
        self.kmeans.predict_rows(scaled.values())
    }

    /// Refits on `features` (e.g. next month's customers) and keeps segment ids
    /// stable: the refit's centroids, expressed in this model's clustered space
    /// (the means of this model's transform of the rows of each new segment),
    /// are matched to this model's centroids with the Hungarian method.
    ///
    /// A refit with fewer segments would leave gaps in the ids, so it is an
    /// error; refit with at least as many segments (extra ones get new ids).
    ///
    /// # Errors
    /// Errors of [`SegmentationParams::fit`], of [`predict`](Self::predict) and
    /// of the matching: [`Error::EmptyInput`] for a refit segment with no rows,
    /// [`Error::InvalidParameter`] for fewer segments than before.
    pub fn refit(
        &self,
        features: &FeatureMatrix,
        params: &SegmentationParams,
        context: ProfileContext<'_>,
    ) -> Result<Refit> {
        if params.kmeans.k < self.k() {
            return Err(Error::param(
                "kmeans.k",
                params.kmeans.k,
                format!(
                    "a refit would retire segment ids; refit with k >= {}",
                    self.k()
                ),
            ));
        }
        let fresh = params.fit(features, context)?;
        let previous_space = self.transform.apply(features)?;
        let x = previous_space.values();
        let k_new = fresh.model.k();
        let d = x.ncols();
        // Centroids of the refit's segments in the previous space.
        let mut sums = ndarray::Array2::<f64>::zeros((k_new, d));
        let mut counts = vec![0usize; k_new];
        for (row, &l) in x.rows().into_iter().zip(&fresh.labels) {
            counts[l] += 1;
            for (s, v) in sums.row_mut(l).iter_mut().zip(row) {
                *s += v;
            }
        }
        if let Some(j) = counts.iter().position(|&c| c == 0) {
            return Err(Error::empty(format!(
                "segmentation refit: customers of segment {j} (needed to match it)"
            )));
        }
        for (j, mut row) in sums.rows_mut().into_iter().enumerate() {
            row /= counts[j] as f64;
        }
        let matching = match_segments(self.kmeans.centroids.view(), sums.view())?;
        let stable_labels = matching.apply(&fresh.labels)?;
        // The previous model's segments, from the rows already in its space.
        let previous_labels = self.kmeans.predict_rows(x)?;
        let k_stable = matching.k_stable();
        let migration = migration_matrix(&previous_labels, &stable_labels, self.k(), k_stable)?;
        // Reorder the refit's centroids, names and profiles by stable id (no
        // gaps: the refit has at least as many segments as this model).
        let mut order = vec![0usize; k_stable];
        for (raw, &stable) in matching.relabel.iter().enumerate() {
            order[stable] = raw;
        }
        let model = &fresh.model;
        let centroids = model.kmeans.centroids.select(ndarray::Axis(0), &order);
        let names = order.iter().map(|&raw| model.names[raw].clone()).collect();
        let weights = order.iter().map(|&raw| model.kmeans.weights[raw]).collect();
        let profiles = order
            .iter()
            .enumerate()
            .map(|(stable, &raw)| SegmentProfile {
                id: stable,
                ..fresh.profiles[raw].clone()
            })
            .collect();
        let kmeans = KMeans {
            centroids,
            weights,
            ..model.kmeans.clone()
        };
        Ok(Refit {
            segmentation: Segmentation {
                model: SegmentationModel {
                    features: model.features.clone(),
                    transform: model.transform.clone(),
                    kmeans,
                    names,
                },
                labels: stable_labels,
                profiles,
                k_choice: fresh.k_choice,
            },
            matching,
            migration,
        })
    }

    /// The next round's segmentation of `features`: the same transform and
    /// number of segments, k-means started from this model's centroids, so
    /// segments move only as far as the customers did. Ids and names stay
    /// (the profiles describe the segments as they are now; their `name` is
    /// the stable one). This is the nightly refit: refit from scratch with
    /// [`refit`](Self::refit) for a fresh look.
    ///
    /// The profiles are of `describe` (rows for those of `features`, e.g.
    /// with value and lifecycle columns too) when given, else of `features`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a feature column the model needs;
    /// [`Error::LengthMismatch`] when `describe` has other rows; errors of
    /// k-means and of the profiles.
    pub fn update(
        &self,
        features: &FeatureMatrix,
        describe: Option<Described<'_>>,
        kmeans: &KMeansParams,
        context: ProfileContext<'_>,
    ) -> Result<Refit> {
        let described = describe.unwrap_or_else(|| features.into());
        check_described_rows(&described, features.n_rows())?;
        let scaled = self.transform.apply(features)?;
        self.refit_scaled(&scaled, described, kmeans, context)
    }

    /// [`update`](Self::update) taking the matrix, which the model's
    /// transform then scales in place (see
    /// [`FittedTransform::apply_owned`]); the profiles are of `describe`.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    pub fn update_owned(
        &self,
        features: FeatureMatrix,
        describe: Described<'_>,
        kmeans: &KMeansParams,
        context: ProfileContext<'_>,
    ) -> Result<Refit> {
        check_described_rows(&describe, features.n_rows())?;
        let scaled = self.transform.apply_owned(features)?;
        self.refit_scaled(&scaled, describe, kmeans, context)
    }

    /// The refit of [`update`](Self::update) on features already scaled.
    fn refit_scaled(
        &self,
        scaled: &FeatureMatrix,
        described: Described<'_>,
        kmeans: &KMeansParams,
        context: ProfileContext<'_>,
    ) -> Result<Refit> {
        let params = KMeansParams {
            k: self.k(),
            ..kmeans.clone()
        };
        let clustering =
            params.fit_rows_from(scaled.values(), None, self.kmeans.centroids.view())?;
        let previous_labels = self.kmeans.predict_rows(scaled.values())?;
        let k = self.k();
        let migration = migration_matrix(&previous_labels, &clustering.labels, k, k)?;
        let mut profiles = profile_segments(&ProfileInput {
            names: described.matrix.names(),
            values: described.matrix.values(),
            rows: described.rows,
            labels: &clustering.labels,
            k,
            value: context.value,
            stages: context.stages,
        })?;
        for (p, name) in profiles.iter_mut().zip(&self.names) {
            p.name.clone_from(name);
        }
        let matching = match_segments(
            self.kmeans.centroids.view(),
            clustering.model.centroids.view(),
        )?;
        Ok(Refit {
            segmentation: Segmentation {
                model: SegmentationModel {
                    features: self.features.clone(),
                    transform: self.transform.clone(),
                    kmeans: clustering.model,
                    names: self.names.clone(),
                },
                labels: clustering.labels,
                profiles,
                k_choice: None,
            },
            matching,
            migration,
        })
    }
}
