//! linfa's `Fit` and `Predict` for k-means.

use ndarray::{Array1, ArrayBase, Data, Ix2};

use super::{KMeans, KMeansParams};
use crate::error::{Error, Result};

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
