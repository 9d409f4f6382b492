//! Segmentation: the groups in which the business acts and experiments.
//!
//! A segment is a group of customers who behave alike, so that one message,
//! offer or product variant can be chosen for all of them and tested against
//! alternatives inside the group ("which variant wins in which segment"). The
//! steps, each in its own module:
//!
//! 1. [`features`]: a named per-customer feature matrix from a
//!    [`CustomerBase`](crate::store::CustomerBase) (recency, frequency,
//!    spend, tenure, channel shares, touchpoint counts, …) joined with
//!    lifecycle scores (P(alive), expected purchases, CLV) and any
//!    user-supplied columns.
//! 2. [`scale`]: transforms fitted once and re-applied to new customers
//!    (log1p, standardise, robust scale, winsorise, one-hot), with median
//!    imputation and indicator columns for missing values.
//! 3. [`kmeans`]: k-means with greedy k-means++, Hamerly's bounds, restarts,
//!    sample weights and mini-batches, deterministic for a seed whatever the
//!    thread count, implementing linfa's `Fit` and `Predict`.
//! 4. [`select_k`]: inertia, silhouette, Davies–Bouldin and Calinski–Harabasz
//!    for a range of k, a recommended k with its reason, and the adjusted Rand
//!    index to compare segmentations.
//! 5. [`profile`]: size, value share, feature means, medians and z-scores,
//!    distinguishing features, stage mix, preferred channel and a generated
//!    name for every segment.
//! 6. [`soft`]: soft membership from a Gaussian mixture and DBSCAN outliers,
//!    with linfa-clustering.
//! 7. [`pca`]: the first two principal components, the plane in which the
//!    report draws the segments.
//! 8. [`stability`] and [`model`]: a persisted model (transform, centroids,
//!    names) that assigns new customers, and refits whose segment ids keep
//!    their meaning (Hungarian matching of centroids) with the migration of
//!    customers between the two; [`SegmentationModel::update`](model::SegmentationModel::update)
//!    is the nightly refit that starts from the current centroids and keeps ids and names.
//! 9. [`segments`]: [`Segments`](segments::Segments), the one shape of a
//!    grouping of a base (a label per customer index, names, soft membership,
//!    the customers left out with the reason) that touchpoints, experiments
//!    and the report accept, whether the groups came from k-means, RFM,
//!    lifecycle stages or a user's own column.
//!
//! ```
//! use custinsight::segment::features::FeatureMatrix;
//! use custinsight::segment::kmeans::KMeansParams;
//! use custinsight::segment::model::{ProfileContext, SegmentationParams};
//! use ndarray::array;
//!
//! let features = FeatureMatrix::new(
//!     (0..6).map(|i| format!("C{i}")).collect(),
//!     vec!["frequency".into(), "monetary".into()],
//!     array![[1.0, 20.0], [2.0, 25.0], [1.0, 22.0], [9.0, 300.0], [8.0, 280.0], [10.0, 310.0]],
//! )?;
//! let params = SegmentationParams { kmeans: KMeansParams::new(2), ..SegmentationParams::default() };
//! let seg = params.fit(&features, ProfileContext::default())?;
//! assert_eq!(seg.labels[0], seg.labels[1]);
//! assert_ne!(seg.labels[0], seg.labels[3]);
//! let best = &seg.profiles[seg.labels[3]];
//! assert!(best.name.contains("high-value"), "{}", best.name);
//! // The model is plain serde data and assigns new customers.
//! let json = serde_json::to_string(&seg.model)?;
//! # let _ = json;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod features;
pub mod kmeans;
pub mod model;
pub mod pca;
pub mod profile;
pub mod scale;
pub mod segments;
pub mod select_k;
pub mod soft;
pub mod stability;
