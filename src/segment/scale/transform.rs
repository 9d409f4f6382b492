//! The fitted transform: fitted on one matrix, applied to any matrix with the same columns, and inverted.

use std::collections::{HashMap, HashSet};

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::column::fit_column;
use super::{FittedColumn, FittedStep, Missing, OneHotEncoder, Step, TransformSpec};
use crate::error::{Error, Result};
use crate::segment::features::FeatureMatrix;

/// Columns copied out together by [`FittedTransform::fit`].
const COLUMN_GROUP: usize = 8;

/// Columns `cols` of `values`, each as a vector, read a block of rows at a
/// time (in parallel), so each row is fetched once for all of them.
fn columns_of(values: ArrayView2<'_, f64>, cols: std::ops::Range<usize>) -> Vec<Vec<f64>> {
    const BLOCK_ROWS: usize = 4096;
    let n = values.nrows();
    let mut out: Vec<Vec<f64>> = cols.clone().map(|_| vec![0.0; n]).collect();
    // Per block of rows, its piece of every column.
    let mut pieces: Vec<Vec<&mut [f64]>> =
        (0..n.div_ceil(BLOCK_ROWS)).map(|_| Vec::new()).collect();
    for column in &mut out {
        for (piece, part) in pieces.iter_mut().zip(column.chunks_mut(BLOCK_ROWS)) {
            piece.push(part);
        }
    }
    let d = values.ncols();
    crate::parallel::map_chunks_mut(&mut pieces, 1, |b, piece| {
        let rows = b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n);
        let piece = &mut piece[0];
        match values.as_slice() {
            Some(flat) => {
                for (r, row) in flat[rows.start * d..rows.end * d]
                    .chunks_exact(d)
                    .enumerate()
                {
                    for (part, &v) in piece.iter_mut().zip(&row[cols.clone()]) {
                        part[r] = v;
                    }
                }
            }
            None => {
                let rows = values.slice_axis(ndarray::Axis(0), ndarray::Slice::from(rows));
                for (r, row) in rows.rows().into_iter().enumerate() {
                    for (part, &v) in piece.iter_mut().zip(row.iter().skip(cols.start)) {
                        part[r] = v;
                    }
                }
            }
        }
    });
    out
}

/// What an application did besides transforming: values imputed and unknown categories.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApplyReport {
    /// For every numeric column, in fit order: how many values were missing and imputed.
    pub imputed: Vec<(String, usize)>,
    /// For every one-hot column: how many values were not seen at fit time (encoded as all zeros).
    pub unknown_categories: Vec<(String, usize)>,
}

/// Transforms fitted on one matrix, to apply to any matrix with the same columns.
///
/// Deterministic: the same matrix and spec give the same transform, and its
/// JSON form reloads to a transform with identical output. Deserialisation
/// checks the parameters (finite, positive scales, ordered bounds, distinct
/// names), so a reloaded transform cannot produce `NaN` either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawFittedTransform")]
pub struct FittedTransform {
    columns: Vec<FittedColumn>,
    one_hot: Vec<OneHotEncoder>,
    missing: Missing,
}

#[derive(Deserialize)]
struct RawFittedTransform {
    columns: Vec<FittedColumn>,
    one_hot: Vec<OneHotEncoder>,
    missing: Missing,
}

impl TryFrom<RawFittedTransform> for FittedTransform {
    type Error = Error;
    fn try_from(raw: RawFittedTransform) -> Result<Self> {
        for c in &raw.columns {
            let valid = !c.name.is_empty()
                && c.median.is_finite()
                && c.steps.iter().all(FittedStep::is_valid);
            if !valid {
                return Err(Error::value(
                    "fitted transform column",
                    c.name.as_str(),
                    "invalid parameters",
                ));
            }
        }
        let t = FittedTransform {
            columns: raw.columns,
            one_hot: raw.one_hot,
            missing: raw.missing,
        };
        t.check_names()?;
        Ok(t)
    }
}

impl FittedTransform {
    /// Fits `spec` to every column of `m` (see the module docs).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`TransformSpec::check`];
    /// [`Error::NotFound`] for a column named in the spec but not in `m`;
    /// [`Error::InvalidValue`] for a missing value under [`Missing::Reject`] or
    /// values so large that a fitted parameter overflows `f64`;
    /// [`Error::Duplicate`] for output names that clash (e.g. an input column
    /// already called `x:missing`).
    pub fn fit(m: &FeatureMatrix, spec: &TransformSpec) -> Result<FittedTransform> {
        spec.check()?;
        if let Some(name) = spec.columns.keys().find(|n| m.column_index(n).is_none()) {
            return Err(Error::NotFound {
                what: "feature",
                id: name.clone(),
            });
        }
        let values = m.values();
        let mut columns = Vec::with_capacity(m.n_features());
        // A group of columns at a time, copied out in one pass over the rows
        // (a column read on its own would fetch every row's cache line).
        for group in (0..m.n_features()).collect::<Vec<_>>().chunks(COLUMN_GROUP) {
            let mut jobs: Vec<(&String, &[Step], Vec<f64>)> = group
                .iter()
                .zip(columns_of(values, group[0]..group[0] + group.len()))
                .map(|(&j, column)| {
                    let name = &m.names()[j];
                    let steps = spec.columns.get(name).unwrap_or(&spec.default);
                    (name, steps.as_slice(), column)
                })
                .collect();
            let fitted = crate::parallel::map_chunks_mut(&mut jobs, 1, |_, job| {
                let (name, steps, column) = &mut job[0];
                fit_column(name, std::mem::take(column), steps, spec.missing)
            });
            for f in fitted {
                columns.push(f?);
            }
        }
        let t = FittedTransform {
            columns,
            one_hot: Vec::new(),
            missing: spec.missing,
        };
        t.check_names()?;
        Ok(t)
    }

    /// Learns a categorical column's levels; [`apply_with`](Self::apply_with)
    /// then writes its `name=level` columns after the numeric ones.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty name; [`Error::Duplicate`] for a
    /// categorical column fitted before under that name, or output names that
    /// clash with existing ones.
    pub fn fit_one_hot(&mut self, name: &str, values: &[&str]) -> Result<()> {
        if self.one_hot.iter().any(|e| e.name == name) {
            return Err(Error::duplicate("one-hot columns", name));
        }
        self.one_hot.push(OneHotEncoder::fit(name, values)?);
        if let Err(e) = self.check_names() {
            self.one_hot.pop();
            return Err(e);
        }
        Ok(())
    }

    /// The numeric columns, in fit order.
    pub fn columns(&self) -> &[FittedColumn] {
        &self.columns
    }

    /// The one-hot encoders, in fit order.
    pub fn one_hot(&self) -> &[OneHotEncoder] {
        &self.one_hot
    }

    /// The missing policy.
    pub fn missing(&self) -> Missing {
        self.missing
    }

    /// The numeric input columns `apply` needs.
    pub fn input_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The output column names, in order.
    pub fn output_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for c in &self.columns {
            names.push(c.name.clone());
            if c.indicator {
                names.push(c.indicator_name());
            }
        }
        for e in &self.one_hot {
            names.extend(e.output_names());
        }
        names
    }

    fn check_names(&self) -> Result<()> {
        let names = self.output_names();
        let mut seen = HashSet::new();
        for n in &names {
            if !seen.insert(n.as_str()) {
                return Err(Error::duplicate("transform output columns", n.as_str()));
            }
        }
        Ok(())
    }

    /// Applies the fitted transform to `m` (numeric columns only).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a fitted column absent from `m`;
    /// [`Error::MissingColumns`] when one-hot columns were fitted (use
    /// [`apply_with`](Self::apply_with)); [`Error::InvalidValue`] for a
    /// missing value under [`Missing::Reject`].
    pub fn apply(&self, m: &FeatureMatrix) -> Result<FeatureMatrix> {
        if !self.one_hot.is_empty() {
            return Err(Error::MissingColumns {
                table: "categorical values of the transform's one-hot columns (give them with apply_with)".into(),
                columns: self.one_hot.iter().map(|e| e.name.clone()).collect(),
            });
        }
        self.apply_with(m, &[]).map(|(out, _)| out)
    }

    /// Whether applying the transform to `m`, the matrix it was fitted on,
    /// gives `m`'s values unchanged: the same columns in the same order, no
    /// steps, nothing missing to impute, no indicator or one-hot columns.
    pub(crate) fn keeps_values(&self, m: &FeatureMatrix) -> bool {
        self.one_hot.is_empty()
            && self.columns.len() == m.n_features()
            && self.columns.iter().zip(m.names()).all(|(c, name)| {
                c.steps.is_empty() && c.missing_at_fit == 0 && !c.indicator && &c.name == name
            })
    }

    /// The values of [`apply`](Self::apply), without the customer ids.
    ///
    /// # Errors
    /// As [`apply`](Self::apply).
    pub(crate) fn apply_values(&self, m: &FeatureMatrix) -> Result<Array2<f64>> {
        if !self.one_hot.is_empty() {
            return self.apply(m).map(|out| out.into_parts().2);
        }
        self.transform_values(m, &[]).map(|(values, _, _)| values)
    }

    /// [`apply`](Self::apply) taking the matrix: when the transform keeps
    /// its columns as they are (the same names in the same order, no
    /// missing-value indicators, no one-hot columns) the values are
    /// transformed in place, so a million rows are never held twice.
    ///
    /// # Errors
    /// As [`apply`](Self::apply).
    pub fn apply_owned(&self, mut m: FeatureMatrix) -> Result<FeatureMatrix> {
        let same_columns = self.one_hot.is_empty()
            && self.columns.len() == m.n_features()
            && self
                .columns
                .iter()
                .zip(m.names())
                .all(|(c, name)| !c.indicator && &c.name == name);
        let width = m.n_features();
        let values = m.values_mut();
        let in_place = same_columns && values.is_standard_layout();
        let Some(data) = values.as_slice_mut().filter(|_| in_place) else {
            return self.apply(&m);
        };
        const BLOCK_ROWS: usize = 4096;
        let missing_per_block =
            crate::parallel::map_chunks_mut(data, BLOCK_ROWS * width.max(1), |_, block| {
                let mut missing = vec![0usize; width];
                for row in block.chunks_mut(width.max(1)) {
                    for ((cell, c), missing) in row.iter_mut().zip(&self.columns).zip(&mut missing)
                    {
                        *cell = c.transform(*cell).unwrap_or_else(|| {
                            *missing += 1;
                            c.median
                        });
                    }
                }
                missing
            });
        for (j, c) in self.columns.iter().enumerate() {
            let missing: usize = missing_per_block.iter().map(|m| m[j]).sum();
            if self.missing == Missing::Reject && missing > 0 {
                return Err(Error::value(
                    "feature column",
                    format!("`{}` with {missing} missing values", c.name),
                    "the missing policy is `reject`",
                ));
            }
        }
        Ok(m)
    }

    /// Applies the fitted transform to `m` and the categorical columns given
    /// as `(name, values)` (one value per row of `m`; names not fitted are
    /// ignored), with a report of imputed values and unknown categories.
    ///
    /// # Errors
    /// As [`apply`](Self::apply), and [`Error::NotFound`] for a fitted
    /// categorical column not given; [`Error::Duplicate`] for one given
    /// twice; [`Error::LengthMismatch`] for one with a length other than `m.n_rows()`.
    pub fn apply_with(
        &self,
        m: &FeatureMatrix,
        categorical: &[(&str, &[&str])],
    ) -> Result<(FeatureMatrix, ApplyReport)> {
        let (values, names, report) = self.transform_values(m, categorical)?;
        let out = FeatureMatrix::new(m.customer_ids().to_vec(), names, values)?;
        Ok((out, report))
    }

    /// [`apply_with`](Self::apply_with)'s values, output names and report.
    fn transform_values(
        &self,
        m: &FeatureMatrix,
        categorical: &[(&str, &[&str])],
    ) -> Result<(Array2<f64>, Vec<String>, ApplyReport)> {
        let n = m.n_rows();
        let mut given: HashMap<&str, &[&str]> = HashMap::new();
        for &(name, values) in categorical {
            if given.insert(name, values).is_some() {
                return Err(Error::duplicate("categorical columns given", name));
            }
            if values.len() != n {
                return Err(Error::lengths(
                    format!("categorical column `{name}`: values (one per row)"),
                    n,
                    values.len(),
                ));
            }
        }
        let jobs = self
            .columns
            .iter()
            .map(|c| {
                m.column_index(&c.name)
                    .map(|j| (c, j))
                    .ok_or_else(|| Error::NotFound {
                        what: "feature",
                        id: c.name.clone(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let values = m.values();
        let reject = self.missing == Missing::Reject;
        // Every output cell is written once, straight into the result's rows
        // (no column copies): a block of rows at a time, in parallel.
        let names = self.output_names();
        let width = names.len();
        let numeric_width: usize = jobs.iter().map(|(c, _)| 1 + usize::from(c.indicator)).sum();
        let mut out = vec![0.0f64; n * width];
        const BLOCK_ROWS: usize = 4096;
        let missing_per_block =
            crate::parallel::map_chunks_mut(&mut out, BLOCK_ROWS * width.max(1), |k, block| {
                let first = k * BLOCK_ROWS;
                let mut missing = vec![0usize; jobs.len()];
                for (r, row) in block.chunks_mut(width.max(1)).enumerate() {
                    let mut j_out = 0;
                    for (job, &(c, j)) in jobs.iter().enumerate() {
                        let (v, flag) = match c.transform(values[[first + r, j]]) {
                            Some(v) => (v, 0.0),
                            None => {
                                missing[job] += 1;
                                (c.median, 1.0)
                            }
                        };
                        row[j_out] = v;
                        j_out += 1;
                        if c.indicator {
                            row[j_out] = flag;
                            j_out += 1;
                        }
                    }
                }
                missing
            });
        let mut report = ApplyReport::default();
        for (job, (c, _)) in jobs.iter().enumerate() {
            let missing: usize = missing_per_block.iter().map(|m| m[job]).sum();
            if reject && missing > 0 {
                return Err(Error::value(
                    "feature column",
                    format!("`{}` with {missing} missing values", c.name),
                    "the missing policy is `reject`",
                ));
            }
            report.imputed.push((c.name.clone(), missing));
        }
        let mut j_out = numeric_width;
        for e in &self.one_hot {
            let values = given.get(e.name.as_str()).ok_or_else(|| Error::NotFound {
                what: "categorical column",
                id: e.name.clone(),
            })?;
            let unknown = e.encode_into(values, &mut out, width, j_out);
            report.unknown_categories.push((e.name.clone(), unknown));
            j_out += e.levels.len();
        }
        let found = out.len();
        let values = Array2::from_shape_vec((n, width), out).map_err(|_| {
            Error::lengths(
                "transformed matrix: values (rows × columns)",
                n * width,
                found,
            )
        })?;
        Ok((values, names, report))
    }

    /// Maps a value of output column `name` back to original units by
    /// inverting the column's steps (`Log1p`, `Standardize` and `Robust`
    /// invert exactly; winsorised values are already in original units).
    /// Indicator and one-hot values are returned as they are (as a cluster
    /// centroid, they are the share of missing values or of a level).
    /// `None` for a name that is not an output column.
    pub fn inverse_column(&self, name: &str, value: f64) -> Option<f64> {
        if let Some(c) = self.columns.iter().find(|c| c.name == name) {
            return Some(c.invert(value));
        }
        let passthrough = self
            .columns
            .iter()
            .any(|c| c.indicator && c.indicator_name() == name)
            || self
                .one_hot
                .iter()
                .any(|e| e.output_names().iter().any(|n| n == name));
        passthrough.then_some(value)
    }

    /// [`inverse_column`](Self::inverse_column) for a whole output row (e.g. a centroid).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `row` does not have one value per output column.
    pub fn inverse_row(&self, row: &[f64]) -> Result<Vec<f64>> {
        let names = self.output_names();
        if row.len() != names.len() {
            return Err(Error::lengths(
                "inverse row: values (one per output column)",
                names.len(),
                row.len(),
            ));
        }
        Ok(names
            .iter()
            .zip(row)
            .map(|(n, &v)| self.inverse_column(n, v).unwrap_or(v))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{median, median_sorted, sorted_finite};
    use proptest::prelude::*;

    // Reference values: Python 3.11, numpy 2.4.6, scikit-learn 1.9.1, produced by
    //
    //   import numpy as np
    //   from sklearn.preprocessing import StandardScaler, RobustScaler
    //   from sklearn.impute import SimpleImputer
    //   from sklearn.pipeline import make_pipeline
    //   a = [1.5, -2.0, 3.25, 0.0, 10.0, 7.5, -1.25, 4.0]
    //   b = [100.0, 250.0, 50.0, 1000.0, 75.0, 300.0, 125.0, 90.0]
    //   c = [3.0] * 8
    //   X = np.array([a, b, c]).T
    //   s = StandardScaler().fit(X); s.mean_, s.scale_, s.transform(X)       # STD_*
    //   r = RobustScaler().fit(X); r.center_, r.scale_, r.transform(X)       # ROB_*
    //   lb = np.log1p(np.array(b)).reshape(-1, 1)
    //   StandardScaler().fit(lb).transform(lb)                                # LOG_STD_B
    //   np.quantile(b, [0.1, 0.9]); np.quantile(a, [0.05, 0.95]); np.quantile(a, [0, 1, 0.33])
    //   np.clip(b, *np.quantile(b, [0.1, 0.9]))                               # WINS_B
    //   d = np.array([1, np.nan, 3, 4, np.nan, 10, 2, 5.0]).reshape(-1, 1)
    //   make_pipeline(StandardScaler(), SimpleImputer(strategy="median", add_indicator=True)).fit(d).transform(d)
    //   new = np.array([[0.0, 20.0, 3.0], [100.0, -5.0, 4.0]]); s.transform(new); r.transform(new)
    //
    // each value printed with repr(float(v)).
    const A: [f64; 8] = [1.5, -2.0, 3.25, 0.0, 10.0, 7.5, -1.25, 4.0];
    const B: [f64; 8] = [100.0, 250.0, 50.0, 1000.0, 75.0, 300.0, 125.0, 90.0];
    const STD_MEAN: [f64; 3] = [2.875, 248.75, 3.0];
    const STD_SCALE: [f64; 3] = [3.944933459514875, 295.6639773459053, 1.0];
    const STD_A: [f64; 8] = [
        -0.3485483377884629,
        -1.235762288522732,
        0.0950586375786717,
        -0.7287828881031496,
        1.806114113994762,
        1.1723898634702843,
        -1.0456450133653885,
        0.28517591273601506,
    ];
    const STD_B: [f64; 8] = [
        -0.5031049143534091,
        0.004227772389524447,
        -0.672215809934387,
        2.5408912061041926,
        -0.587660362143898,
        0.17333866797050232,
        -0.4185494665629202,
        -0.5369270934696048,
    ];
    const ROB_CENTER: [f64; 3] = [2.375, 112.5, 3.0];
    const ROB_SCALE: [f64; 3] = [5.1875, 176.25, 1.0];
    const ROB_A: [f64; 8] = [
        -0.1686746987951807,
        -0.8433734939759037,
        0.1686746987951807,
        -0.4578313253012048,
        1.4698795180722892,
        0.9879518072289156,
        -0.6987951807228916,
        0.3132530120481928,
    ];
    const ROB_B: [f64; 8] = [
        -0.07092198581560284,
        0.7801418439716312,
        -0.3546099290780142,
        5.035460992907802,
        -0.2127659574468085,
        1.0638297872340425,
        0.07092198581560284,
        -0.1276595744680851,
    ];
    const LOG_STD_B: [f64; 8] = [
        -0.4812597155650024,
        0.5360618525650647,
        -1.2448605782652957,
        2.081939778907347,
        -0.7990702222818671,
        0.7390689199109707,
        -0.234105767526284,
        -0.5977742677449351,
    ];
    const LOG_STD_PARAMS: [f64; 2] = [5.045767360814516, 0.8948325198332329];
    const Q_B_10_90: [f64; 2] = [67.5, 509.9999999999999];
    const Q_A_05_95: [f64; 2] = [-1.7375, 9.124999999999998];
    const Q_A_0_1_033: [f64; 3] = [-2.0, 10.0, 0.4650000000000001];
    const WINS_B: [f64; 8] = [
        100.0,
        250.0,
        67.5,
        509.9999999999999,
        75.0,
        300.0,
        125.0,
        90.0,
    ];
    /// Rows of `[d standardised and imputed, d missing indicator]`.
    const NAN_STD_IMPUTE: [[f64; 2]; 8] = [
        [-1.0879368351963499, 0.0],
        [-0.22903933372554738, 1.0],
        [-0.40081883401970786, 0.0],
        [-0.05725983343138693, 0.0],
        [-0.22903933372554738, 1.0],
        [2.0040941700985386, 0.0],
        [-0.7443778346080289, 0.0],
        [0.28629916715693404, 0.0],
    ];
    const STD_NEW: [[f64; 3]; 2] = [
        [-0.7287828881031496, -0.7736823472829737, 0.0],
        [24.62018713287597, -0.8582377950734627, 1.0],
    ];
    const ROB_NEW: [[f64; 3]; 2] = [
        [-0.4578313253012048, -0.524822695035461, 0.0],
        [18.819277108433734, -0.6666666666666666, 1.0],
    ];

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn fixture() -> FeatureMatrix {
        FeatureMatrix::from_columns(
            ids(8),
            vec![
                ("a".into(), A.to_vec()),
                ("b".into(), B.to_vec()),
                ("c".into(), vec![3.0; 8]),
            ],
        )
        .unwrap()
    }

    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= 1e-12 * want.abs().max(1.0)
    }

    fn assert_column(m: &FeatureMatrix, name: &str, want: &[f64]) {
        let got = m.column(name).unwrap().to_vec();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, *w), "{name}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn standardize_matches_sklearn_standard_scaler() {
        let m = fixture();
        let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
        for (k, c) in t.columns().iter().enumerate() {
            let FittedStep::Standardize { mean, scale } = c.steps[0] else {
                panic!("{c:?}")
            };
            assert!(
                close(mean, STD_MEAN[k]) && close(scale, STD_SCALE[k]),
                "{c:?}"
            );
        }
        let out = t.apply(&m).unwrap();
        assert_eq!(out.names(), ["a", "b", "c"]);
        assert_column(&out, "a", &STD_A);
        assert_column(&out, "b", &STD_B);
        // The constant column maps to exactly 0.
        assert!(out.column("c").unwrap().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn robust_matches_sklearn_robust_scaler() {
        let m = fixture();
        let t = FittedTransform::fit(&m, &TransformSpec::new(vec![Step::Robust])).unwrap();
        for (k, c) in t.columns().iter().enumerate() {
            assert_eq!(
                c.steps,
                [FittedStep::Robust {
                    center: ROB_CENTER[k],
                    scale: ROB_SCALE[k]
                }]
            );
        }
        let out = t.apply(&m).unwrap();
        assert_column(&out, "a", &ROB_A);
        assert_column(&out, "b", &ROB_B);
        assert!(out.column("c").unwrap().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn log1p_then_standardize_chain() {
        let m = fixture().select(&["b"]).unwrap();
        let spec =
            TransformSpec::new(vec![]).with_column("b", vec![Step::Log1p, Step::Standardize]);
        let t = FittedTransform::fit(&m, &spec).unwrap();
        let FittedStep::Standardize { mean, scale } = t.columns()[0].steps[1] else {
            panic!()
        };
        assert!(close(mean, LOG_STD_PARAMS[0]) && close(scale, LOG_STD_PARAMS[1]));
        let out = t.apply(&m).unwrap();
        assert_column(&out, "b", &LOG_STD_B);
        // Inverse maps back to original units.
        for (y, x) in out.column("b").unwrap().iter().zip(B) {
            let back = t.inverse_column("b", *y).unwrap();
            assert!((back - x).abs() <= 1e-9 * x, "{back} vs {x}");
        }
    }

    #[test]
    fn quantiles_and_winsorize_match_numpy() {
        // Bit for bit: numpy's interpolation is reproduced exactly.
        use crate::stats::quantile;
        assert_eq!(quantile(&B, 0.1), Some(Q_B_10_90[0]));
        assert_eq!(quantile(&B, 0.9), Some(Q_B_10_90[1]));
        assert_eq!(quantile(&A, 0.05), Some(Q_A_05_95[0]));
        assert_eq!(quantile(&A, 0.95), Some(Q_A_05_95[1]));
        for (q, want) in [0.0, 1.0, 0.33].into_iter().zip(Q_A_0_1_033) {
            assert_eq!(quantile(&A, q), Some(want));
        }
        assert_eq!(median(&A), Some(ROB_CENTER[0]));
        assert_eq!(median(&[f64::NAN, 2.0, f64::INFINITY]), Some(2.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&A, 1.5), None);
        assert_eq!(quantile(&A, f64::NAN), None);

        let m = fixture().select(&["b"]).unwrap();
        let spec = TransformSpec::new(vec![Step::Winsorize {
            lower: 0.1,
            upper: 0.9,
        }]);
        let t = FittedTransform::fit(&m, &spec).unwrap();
        assert_eq!(
            t.columns()[0].steps,
            [FittedStep::Winsorize {
                lower: Q_B_10_90[0],
                upper: Q_B_10_90[1]
            }]
        );
        assert_eq!(t.apply(&m).unwrap().column("b").unwrap().to_vec(), WINS_B);
        assert_eq!(t.inverse_column("b", 42.0), Some(42.0));
        for bad in [(0.9, 0.1), (-0.1, 0.5), (0.1, f64::NAN)] {
            let spec = TransformSpec::new(vec![Step::Winsorize {
                lower: bad.0,
                upper: bad.1,
            }]);
            assert!(matches!(
                FittedTransform::fit(&m, &spec),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }

    #[test]
    fn missing_values_are_imputed_with_an_indicator() {
        let d = vec![1.0, f64::NAN, 3.0, 4.0, f64::NAN, 10.0, 2.0, 5.0];
        let m =
            FeatureMatrix::from_columns(ids(8), vec![("d".into(), d), ("full".into(), A.to_vec())])
                .unwrap();
        let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
        assert_eq!(t.output_names(), ["d", "d:missing", "full"]);
        assert_eq!(t.columns()[0].missing_at_fit, 2);
        let (out, report) = t.apply_with(&m, &[]).unwrap();
        for (r, want) in NAN_STD_IMPUTE.iter().enumerate() {
            let row = out.values().row(r).to_vec();
            assert!(
                close(row[0], want[0]) && row[1] == want[1],
                "row {r}: {row:?}"
            );
        }
        assert_column(&out, "full", &STD_A);
        assert_eq!(
            report.imputed,
            [("d".to_owned(), 2), ("full".to_owned(), 0)]
        );
        // A column complete at fit time gets no indicator, but a missing value
        // at apply time is still imputed (with its fitted median).
        let new = FeatureMatrix::from_columns(
            ids(2),
            vec![
                ("full".into(), vec![f64::NAN, f64::NEG_INFINITY]),
                ("d".into(), vec![f64::INFINITY, 4.0]),
            ],
        )
        .unwrap();
        let out = t.apply(&new).unwrap();
        let full_median = t.columns()[1].median;
        assert!(close(full_median, median(&STD_A).unwrap()));
        assert_eq!(out.column("full").unwrap().to_vec(), [full_median; 2]);
        assert_eq!(out.column("d:missing").unwrap().to_vec(), [1.0, 0.0]);
        // Without indicators; and rejecting.
        let no_ind =
            TransformSpec::default().with_missing(Missing::ImputeMedian { indicator: false });
        let t = FittedTransform::fit(&m, &no_ind).unwrap();
        assert_eq!(t.output_names(), ["d", "full"]);
        let reject = TransformSpec::default().with_missing(Missing::Reject);
        assert!(matches!(
            FittedTransform::fit(&m, &reject),
            Err(Error::InvalidValue {
                what: "feature column",
                ..
            })
        ));
        let t = FittedTransform::fit(&m.select(&["full"]).unwrap(), &reject).unwrap();
        assert!(matches!(
            t.apply(&new),
            Err(Error::InvalidValue {
                what: "feature column",
                ..
            })
        ));
    }

    #[test]
    fn a_transform_applied_in_place_equals_one_applied_to_a_copy() {
        // Rows over several blocks, missing values imputed without indicators.
        let n = 10_000;
        let values = Array2::from_shape_fn((n, 3), |(r, j)| match (r * 7 + j) % 97 {
            0 => f64::NAN,
            k => (k as f64) * (j as f64 + 1.0),
        });
        let ids = (0..n).map(|r| format!("c{r}")).collect();
        let names = vec!["a".into(), "b".into(), "c".into()];
        let m = FeatureMatrix::new(ids, names, values).unwrap();
        let spec = TransformSpec::new(vec![Step::Log1p, Step::Standardize])
            .with_missing(Missing::ImputeMedian { indicator: false });
        let t = FittedTransform::fit(&m, &spec).unwrap();
        let copied = t.apply(&m).unwrap();
        let in_place = t.apply_owned(m).unwrap();
        assert_eq!(copied.names(), in_place.names());
        assert_eq!(copied.customer_ids(), in_place.customer_ids());
        assert!(
            copied
                .values()
                .iter()
                .zip(in_place.values())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let rejecting = FittedTransform::fit(
            &copied,
            &TransformSpec::new(vec![]).with_missing(Missing::Reject),
        )
        .unwrap();
        let mut holed = copied.clone();
        holed.values_mut()[[5000, 1]] = f64::NAN;
        assert!(matches!(
            rejecting.apply_owned(holed),
            Err(Error::InvalidValue {
                what: "feature column",
                ..
            })
        ));
    }

    #[test]
    fn log1p_below_minus_one_is_missing() {
        let m = FeatureMatrix::from_columns(ids(4), vec![("x".into(), vec![-2.0, -1.0, 0.0, 3.0])])
            .unwrap();
        let t = FittedTransform::fit(&m, &TransformSpec::new(vec![Step::Log1p])).unwrap();
        assert_eq!(t.columns()[0].missing_at_fit, 2);
        let out = t.apply(&m).unwrap();
        // Median of ln 1 and ln 4 imputed.
        let med = (0.0 + 4.0f64.ln()) / 2.0;
        assert_eq!(
            out.column("x").unwrap().to_vec(),
            [med, med, 0.0, 4.0f64.ln()]
        );
        assert_eq!(
            out.column("x:missing").unwrap().to_vec(),
            [1.0, 1.0, 0.0, 0.0]
        );
    }

    #[test]
    fn one_hot_with_unknown_category() {
        let m = fixture();
        let mut t =
            FittedTransform::fit(&m.select(&["a"]).unwrap(), &TransformSpec::default()).unwrap();
        t.fit_one_hot("region", &["north", "south", "north", "east"])
            .unwrap();
        assert_eq!(t.one_hot()[0].levels(), ["east", "north", "south"]);
        assert_eq!(
            t.output_names(),
            ["a", "region=east", "region=north", "region=south"]
        );
        assert!(
            matches!(
                t.fit_one_hot("region", &["x"]),
                Err(Error::Duplicate { ref key, .. }) if key == "region"
            ),
            "fitted twice"
        );
        assert!(matches!(
            t.apply(&m),
            Err(Error::MissingColumns { ref columns, .. }) if columns == &["region"]
        ));
        let regions: [&str; 8] = [
            "south", "west", "north", "east", "", "north", "south", "south",
        ];
        let (out, report) = t.apply_with(&m, &[("region", &regions)]).unwrap();
        assert_eq!(out.n_features(), 4);
        assert_eq!(out.values().row(0).to_vec()[1..], [0.0, 0.0, 1.0], "south");
        assert_eq!(out.values().row(1).to_vec()[1..], [0.0, 0.0, 0.0], "west");
        assert_eq!(out.values().row(4).to_vec()[1..], [0.0, 0.0, 0.0], "empty");
        assert_eq!(report.unknown_categories, [("region".to_owned(), 2)]);
        assert!(matches!(t.apply_with(&m, &[]), Err(Error::NotFound { .. })));
        assert!(matches!(
            t.apply_with(&m, &[("region", &regions[..3])]),
            Err(Error::LengthMismatch {
                expected: 8,
                found: 3,
                ..
            })
        ));
        assert!(matches!(
            t.apply_with(&m, &[("region", &regions), ("region", &regions)])
                , Err(Error::Duplicate { key, .. }) if key == "region"));
        assert_eq!(t.inverse_column("region=north", 0.25), Some(0.25));
        // An output name clash is refused and leaves the transform unchanged.
        let mut u =
            FittedTransform::fit(&m.select(&["a"]).unwrap(), &TransformSpec::default()).unwrap();
        u.fit_one_hot("x", &["y=z"]).unwrap();
        assert!(
            matches!(u.fit_one_hot("x=y", &["z"]), Err(Error::Duplicate { key, .. }) if key == "x=y=z")
        );
        assert_eq!(u.one_hot().len(), 1);
    }

    #[test]
    fn serde_round_trip_gives_identical_output() {
        let mut m = fixture();
        m.push_column("d", vec![1.0, f64::NAN, 3.0, 4.0, f64::NAN, 10.0, 2.0, 5.0])
            .unwrap();
        let spec = TransformSpec::new(vec![Step::Robust])
            .with_column("b", vec![Step::Log1p, Step::Standardize])
            .with_column(
                "a",
                vec![
                    Step::Winsorize {
                        lower: 0.05,
                        upper: 0.95,
                    },
                    Step::Standardize,
                ],
            );
        let spec_back: TransformSpec =
            serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(spec_back, spec);
        let mut t = FittedTransform::fit(&m, &spec).unwrap();
        t.fit_one_hot("tier", &["gold", "silver"]).unwrap();
        let json = serde_json::to_string(&t).unwrap();
        let back: FittedTransform = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        let tiers = ["gold"; 8];
        let (x, _) = t.apply_with(&m, &[("tier", &tiers)]).unwrap();
        let (y, _) = back.apply_with(&m, &[("tier", &tiers)]).unwrap();
        assert_eq!(x.names(), y.names());
        assert!(
            x.values()
                .iter()
                .zip(y.values())
                .all(|(p, q)| p.to_bits() == q.to_bits())
        );
        // Fitting again gives the same transform (deterministic).
        let mut again = FittedTransform::fit(&m, &spec).unwrap();
        again.fit_one_hot("tier", &["silver", "gold"]).unwrap();
        assert_eq!(serde_json::to_string(&again).unwrap(), json);
        // Tampered parameters are refused.
        assert!(json.contains(r#""median":"#));
        let bad = json.replacen(r#""scale":""#, r#""scale":"-"#, 1);
        assert_ne!(bad, json);
        assert!(matches!(
            serde_json::from_str::<FittedTransform>(&bad),
            Err(e) if e.to_string().contains("invalid parameters")
        ));
        // Parameters written as plain JSON numbers are read too.
        let step: FittedStep =
            serde_json::from_str(r#"{"standardize": {"mean": 2.5, "scale": "4"}}"#).unwrap();
        assert_eq!(
            step,
            FittedStep::Standardize {
                mean: 2.5,
                scale: 4.0
            }
        );
    }

    #[test]
    fn apply_to_new_rows_uses_fitted_parameters() {
        let m = fixture();
        let new = FeatureMatrix::from_columns(
            ids(2),
            vec![
                // Extra column, ignored; columns in another order.
                ("extra".into(), vec![1.0, 2.0]),
                ("c".into(), vec![3.0, 4.0]),
                ("b".into(), vec![20.0, -5.0]),
                ("a".into(), vec![0.0, 100.0]),
            ],
        )
        .unwrap();
        for (steps, want) in [
            (vec![Step::Standardize], STD_NEW),
            (vec![Step::Robust], ROB_NEW),
        ] {
            let t = FittedTransform::fit(&m, &TransformSpec::new(steps)).unwrap();
            let out = t.apply(&new).unwrap();
            assert_eq!(out.names(), ["a", "b", "c"]);
            assert_eq!(out.customer_ids(), new.customer_ids());
            for (r, row) in want.iter().enumerate() {
                for (j, &w) in row.iter().enumerate() {
                    assert!(close(out.values()[[r, j]], w), "{r},{j}");
                }
            }
        }
        let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
        assert!(matches!(
            t.apply(&new.select(&["a", "b"]).unwrap()),
            Err(Error::NotFound { .. })
        ));
        // Inverse of a centroid row.
        let centroid = t.inverse_row(&[0.0, 1.0, 0.0]).unwrap();
        assert!(close(centroid[0], STD_MEAN[0]));
        assert!(close(centroid[1], STD_MEAN[1] + STD_SCALE[1]));
        assert_eq!(centroid[2], 3.0);
        assert!(matches!(
            t.inverse_row(&[0.0]),
            Err(Error::LengthMismatch {
                expected: 3,
                found: 1,
                ..
            })
        ));
        assert_eq!(t.inverse_column("nope", 1.0), None);
    }

    #[test]
    fn degenerate_inputs_never_panic() {
        let steps = vec![
            Step::Winsorize {
                lower: 0.0,
                upper: 1.0,
            },
            Step::Log1p,
            Step::Robust,
            Step::Standardize,
        ];
        let cases: Vec<Vec<f64>> = vec![
            vec![],
            vec![5.0],
            vec![f64::NAN; 3],
            vec![f64::INFINITY, f64::NEG_INFINITY, f64::NAN],
            vec![-0.0, 0.0, -0.0],
            vec![f64::MAX, f64::MAX, -5.0],
            vec![f64::MAX, f64::MIN, 0.0],
            vec![1e-300, 2e-300, 3e-300],
            vec![1e300, 1e300 * (1.0 + f64::EPSILON)],
        ];
        for values in cases {
            let n = values.len();
            let m =
                FeatureMatrix::from_columns(ids(n), vec![("x".into(), values.clone())]).unwrap();
            for chain in [
                steps.clone(),
                vec![Step::Standardize],
                vec![Step::Robust],
                vec![],
            ] {
                let spec = TransformSpec::new(chain.clone());
                match FittedTransform::fit(&m, &spec) {
                    Ok(t) => {
                        let out = t.apply(&m).unwrap();
                        assert_eq!(out.n_rows(), n);
                        assert!(
                            out.values().iter().all(|v| v.is_finite()),
                            "{values:?} {chain:?}: {out:?}"
                        );
                    }
                    Err(e) => assert!(
                        matches!(
                            e,
                            Error::InvalidValue {
                                what: "feature column",
                                ..
                            }
                        ),
                        "{e}"
                    ),
                }
            }
        }
        // Standardising values near ±f64::MAX overflows the variance: an error, not a panic.
        // A matrix with no columns, and a spec naming an unknown column.
        let m = FeatureMatrix::with_customers(ids(3));
        let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
        assert_eq!(t.apply(&m).unwrap().values().dim(), (3, 0));
        let spec = TransformSpec::default().with_column("nope", vec![]);
        assert!(matches!(
            FittedTransform::fit(&m, &spec),
            Err(Error::NotFound { .. })
        ));
        // An input column already named like an indicator.
        let m = FeatureMatrix::from_columns(
            ids(2),
            vec![
                ("x".into(), vec![1.0, f64::NAN]),
                ("x:missing".into(), vec![0.0, 1.0]),
            ],
        )
        .unwrap();
        assert!(matches!(
            FittedTransform::fit(&m, &TransformSpec::default()),
            Err(Error::Duplicate { ref key, .. }) if key == "x:missing"
        ));
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::Log1p),
            Just(Step::Standardize),
            Just(Step::Robust),
            (0.0..=1.0f64, 0.0..=1.0f64).prop_map(|(a, b)| Step::Winsorize {
                lower: a.min(b),
                upper: a.max(b)
            }),
        ]
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -1e6..1e6f64,
            2 => -1e100..1e100f64,
            1 => Just(f64::NAN),
            1 => Just(0.0),
            1 => Just(-1.0),
            1 => (-3i32..3).prop_map(f64::from),
        ]
    }

    fn matrix(rows: std::ops::Range<usize>) -> impl Strategy<Value = FeatureMatrix> {
        rows.prop_flat_map(|n| {
            proptest::collection::vec(proptest::collection::vec(value(), n), 1..4)
        })
        .prop_map(|columns| {
            let n = columns[0].len();
            FeatureMatrix::from_columns(
                ids(n),
                columns
                    .into_iter()
                    .enumerate()
                    .map(|(j, c)| (format!("f{j}"), c))
                    .collect(),
            )
            .unwrap()
        })
    }

    proptest! {
        /// Selection gives exactly the median of the sorted finite values.
        #[test]
        fn median_by_selection_equals_the_sorted_median(
            values in proptest::collection::vec(
                prop_oneof![
                    8 => -1e6f64..1e6,
                    1 => Just(f64::NAN),
                    1 => Just(f64::INFINITY),
                    1 => Just(-0.0f64),
                    1 => Just(0.0f64),
                    1 => (-3i32..3).prop_map(f64::from),
                ],
                0..60,
            )
        ) {
            let sorted = sorted_finite(&values);
            let expected = (!sorted.is_empty()).then(|| median_sorted(&sorted));
            prop_assert_eq!(median(&values).map(f64::to_bits), expected.map(f64::to_bits));
        }

        #[test]
        fn output_is_always_finite(
            fit_on in matrix(0..30),
            apply_to in matrix(0..10),
            chains in proptest::collection::vec(proptest::collection::vec(step(), 0..4), 4),
            indicator in any::<bool>(),
        ) {
            let mut spec = TransformSpec::new(chains[0].clone())
                .with_missing(Missing::ImputeMedian { indicator });
            for (j, chain) in chains[1..].iter().enumerate() {
                if j < fit_on.n_features() {
                    spec = spec.with_column(format!("f{j}"), chain.clone());
                }
            }
            let t = FittedTransform::fit(&fit_on, &spec).unwrap();
            let out = t.apply(&fit_on).unwrap();
            let names = t.output_names();
            prop_assert_eq!(out.names(), names.as_slice());
            prop_assert!(out.values().iter().all(|v| v.is_finite()));
            // Another matrix: finite whenever it has the columns.
            match t.apply(&apply_to) {
                Ok(out) => prop_assert!(out.values().iter().all(|v| v.is_finite())),
                Err(e) => prop_assert!(matches!(e, Error::NotFound { .. }), "{}", e),
            }
            // And the reloaded transform gives the same output.
            let back: FittedTransform = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            let again = back.apply(&fit_on).unwrap();
            prop_assert!(out.values().iter().zip(again.values()).all(|(a, b)| a.to_bits() == b.to_bits()));
            // Taking the matrix (in place when no indicator is added) gives the same output.
            let owned = t.apply_owned(fit_on.clone()).unwrap();
            prop_assert_eq!(owned.names(), names.as_slice());
            prop_assert!(out.values().iter().zip(owned.values()).all(|(a, b)| a.to_bits() == b.to_bits()));
        }

        #[test]
        fn standardized_columns_have_mean_0_and_std_1(m in matrix(2..60)) {
            let t = FittedTransform::fit(&m, &TransformSpec::default()).unwrap();
            let out = t.apply(&m).unwrap();
            for (j, c) in t.columns().iter().enumerate() {
                let input = m.values().column(j).to_vec();
                let kept: Vec<f64> = out
                    .column(&c.name)
                    .unwrap()
                    .iter()
                    .zip(&input)
                    .filter(|(_, x)| x.is_finite())
                    .map(|(y, _)| *y)
                    .collect();
                if c.indicator {
                    let flags = out.column(&format!("{}:missing", c.name)).unwrap();
                    prop_assert!(flags.iter().zip(&input).all(|(f, x)| (*f == 1.0) != x.is_finite()));
                }
                let FittedStep::Standardize { scale, .. } = c.steps[0] else { unreachable!() };
                let constant = kept.len() < 2 || scale == 1.0;
                if constant {
                    continue;
                }
                let n = kept.len() as f64;
                let mean = kept.iter().sum::<f64>() / n;
                let std = (kept.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n).sqrt();
                prop_assert!(mean.abs() < 1e-9, "mean {}", mean);
                prop_assert!((std - 1.0).abs() < 1e-9, "std {}", std);
            }
        }
    }
}
