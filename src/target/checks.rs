//! What every model of this module checks in its inputs, and the logistic function.

use ndarray::ArrayView2;

use crate::error::{Error, Result};

/// What a model does with a NaN feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// A missing value it can take (trees).
    Allowed,
    /// An error (a linear model needs every value).
    Refused,
}

/// The name of feature `j` for messages.
pub(crate) fn name_of(names: &[String], j: usize) -> String {
    names
        .get(j)
        .cloned()
        .unwrap_or_else(|| format!("column {j}"))
}

/// Checks a feature matrix: one name per column, no infinity, and no NaN
/// unless `missing` allows it; errors name the row and the feature.
pub(crate) fn check_features(
    x: &ArrayView2<'_, f64>,
    names: &[String],
    what: &str,
    missing: Missing,
) -> Result<()> {
    if x.ncols() != names.len() {
        return Err(Error::lengths(
            format!("{what}: feature columns"),
            names.len(),
            x.ncols(),
        ));
    }
    let bad = |v: &f64| v.is_infinite() || (missing == Missing::Refused && v.is_nan());
    for (row, values) in x.rows().into_iter().enumerate() {
        if let Some(j) = values.iter().position(bad) {
            return Err(Error::non_finite(what, row, name_of(names, j), values[j]));
        }
    }
    Ok(())
}

/// σ(t) = 1 / (1 + e^(−t)) without overflow for large |t|.
pub(crate) fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}
