//! Segmentation: the groups in which the business acts and experiments.
//!
//! - [`kmeans`]: fast k-means (k-means++, Hamerly's bounds, restarts, sample
//!   weights, mini-batches) implementing linfa's `Fit` and `Predict`.

pub mod features;
pub mod kmeans;
pub mod model;
pub mod profile;
pub mod scale;
pub mod select_k;
pub mod stability;
