//! The feature matrix: named per-customer columns, their checks, serde, selection and appends.

use std::collections::HashSet;

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Named per-customer features: `values[[row, j]]` is feature `names[j]` of
/// customer `customer_ids[row]`. `NaN` marks a missing value (see the module
/// docs).
///
/// Invariants (checked by every constructor and by deserialisation): the
/// shape is `(customer_ids.len(), names.len())` and feature names are
/// non-empty and distinct. Customer ids need not be distinct; a join by id
/// fills every row with that id.
///
/// Serialised as `{"names": [...], "customer_ids": [...], "values": [...]}`
/// with `values` flat in row-major order and `null` for a missing value
/// (any non-finite value is written as `null` and read back as `NaN`).
/// Equality compares values as `f64` does, so a matrix with a missing value
/// is not equal to itself.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    names: Vec<String>,
    pub(super) customer_ids: Vec<String>,
    values: Array2<f64>,
}

impl Serialize for FeatureMatrix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        /// The values, row-major, `None` for non-finite.
        struct Values<'a>(&'a Array2<f64>);
        impl Serialize for Values<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|v| v.is_finite().then_some(*v)))
            }
        }
        #[derive(Serialize)]
        struct Out<'a> {
            names: &'a [String],
            customer_ids: &'a [String],
            values: Values<'a>,
        }
        Out {
            names: &self.names,
            customer_ids: &self.customer_ids,
            values: Values(&self.values),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for FeatureMatrix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            names: Vec<String>,
            customer_ids: Vec<String>,
            values: Vec<Option<f64>>,
        }
        let raw = Raw::deserialize(d)?;
        let shape = (raw.customer_ids.len(), raw.names.len());
        let data = raw
            .values
            .into_iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();
        let values = Array2::from_shape_vec(shape, data).map_err(|_| {
            serde::de::Error::custom(format!(
                "feature matrix: values do not fill {} rows × {} columns",
                shape.0, shape.1
            ))
        })?;
        FeatureMatrix::new(raw.customer_ids, raw.names, values).map_err(serde::de::Error::custom)
    }
}

pub(super) fn check_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen = HashSet::new();
    for name in names {
        if name.is_empty() {
            return Err(Error::value("feature name", name, "must be non-empty"));
        }
        if !seen.insert(name) {
            return Err(Error::duplicate("feature names", name));
        }
    }
    Ok(())
}

impl FeatureMatrix {
    /// A matrix from its parts.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the shape is not `(customer_ids.len(),
    /// names.len())`; [`Error::InvalidValue`] for an empty name;
    /// [`Error::Duplicate`] for a repeated name.
    pub fn new(customer_ids: Vec<String>, names: Vec<String>, values: Array2<f64>) -> Result<Self> {
        if values.nrows() != customer_ids.len() {
            return Err(Error::lengths(
                "feature matrix: rows (one per customer id)",
                customer_ids.len(),
                values.nrows(),
            ));
        }
        if values.ncols() != names.len() {
            return Err(Error::lengths(
                "feature matrix: columns (one per name)",
                names.len(),
                values.ncols(),
            ));
        }
        check_names(names.iter().map(String::as_str))?;
        Ok(FeatureMatrix {
            names,
            customer_ids,
            values,
        })
    }

    /// A matrix with these rows and no columns yet (add them with
    /// [`push_column`](Self::push_column) or [`join_column`](Self::join_column)).
    pub fn with_customers(customer_ids: Vec<String>) -> Self {
        let n = customer_ids.len();
        FeatureMatrix {
            names: Vec::new(),
            customer_ids,
            values: Array2::zeros((n, 0)),
        }
    }

    /// A matrix from named columns, each one value per customer.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for a column of the wrong length;
    /// [`Error::InvalidValue`] for an empty name; [`Error::Duplicate`] for a repeated name.
    pub fn from_columns(
        customer_ids: Vec<String>,
        columns: Vec<(String, Vec<f64>)>,
    ) -> Result<Self> {
        let mut m = FeatureMatrix::with_customers(customer_ids);
        m.append_columns(columns)?;
        Ok(m)
    }

    /// Feature names, in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Customer ids, in row order.
    pub fn customer_ids(&self) -> &[String] {
        &self.customer_ids
    }

    /// The values, `(n_rows, n_features)`.
    pub fn values(&self) -> ArrayView2<'_, f64> {
        self.values.view()
    }

    /// The parts: `(customer_ids, names, values)`.
    pub fn into_parts(self) -> (Vec<String>, Vec<String>, Array2<f64>) {
        (self.customer_ids, self.names, self.values)
    }

    /// Number of rows (customers).
    pub fn n_rows(&self) -> usize {
        self.customer_ids.len()
    }

    /// Number of features (columns).
    pub fn n_features(&self) -> usize {
        self.names.len()
    }

    /// The column number of a feature.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// A feature's values, one per row.
    pub fn column(&self, name: &str) -> Option<ArrayView1<'_, f64>> {
        self.column_index(name)
            .map(|j| self.values.index_axis(Axis(1), j))
    }

    /// The number of missing (`NaN`) values of a feature.
    pub fn missing_count(&self, name: &str) -> Option<usize> {
        self.column(name)
            .map(|c| c.iter().filter(|v| v.is_nan()).count())
    }

    /// Appends a user-supplied column, one value per row (`NaN` = missing).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty name; [`Error::Duplicate`] for an
    /// existing name; [`Error::LengthMismatch`] for a length other than [`n_rows`](Self::n_rows).
    pub fn push_column(&mut self, name: impl Into<String>, values: Vec<f64>) -> Result<()> {
        self.append_columns(vec![(name.into(), values)])
    }

    /// A matrix with only the named features, in the order given.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown name; [`Error::Duplicate`] for a name given twice.
    pub fn select(&self, names: &[&str]) -> Result<FeatureMatrix> {
        check_names(names.iter().copied())?;
        let indices = names
            .iter()
            .map(|&name| {
                self.column_index(name).ok_or_else(|| Error::NotFound {
                    what: "feature",
                    id: name.to_owned(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FeatureMatrix {
            names: names.iter().map(|&n| n.to_owned()).collect(),
            customer_ids: self.customer_ids.clone(),
            values: self.values.select(Axis(1), &indices),
        })
    }

    /// A matrix with only the given rows (by position), in the order given.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a row position outside the matrix.
    pub fn select_rows(&self, rows: &[usize]) -> Result<FeatureMatrix> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.n_rows()) {
            return Err(Error::NotFound {
                what: "feature row",
                id: bad.to_string(),
            });
        }
        Ok(FeatureMatrix {
            names: self.names.clone(),
            customer_ids: rows.iter().map(|&r| self.customer_ids[r].clone()).collect(),
            values: self.values.select(Axis(0), rows),
        })
    }

    /// Appends columns all at once, after checking every one (the matrix is unchanged on error).
    /// The values, to transform in place (names and rows unchanged).
    pub(crate) fn values_mut(&mut self) -> &mut Array2<f64> {
        &mut self.values
    }

    pub(super) fn append_columns(&mut self, columns: Vec<(String, Vec<f64>)>) -> Result<()> {
        let n = self.n_rows();
        for (name, values) in &columns {
            if values.len() != n {
                return Err(Error::lengths(
                    format!("column `{name}`: values (one per row)"),
                    n,
                    values.len(),
                ));
            }
        }
        check_names(
            self.names
                .iter()
                .chain(columns.iter().map(|(name, _)| name))
                .map(String::as_str),
        )?;
        let k = self.n_features();
        let width = k + columns.len();
        // Widen in place: the rows move back to their new stride, the last
        // first, so a matrix of a million rows is never held twice.
        let values = std::mem::replace(&mut self.values, Array2::zeros((0, 0)));
        let mut data = match values.is_standard_layout() {
            true => {
                let (mut data, offset) = values.into_raw_vec_and_offset();
                data.drain(..offset.unwrap_or(0).min(data.len()));
                data.truncate(n * k);
                data
            }
            false => values.iter().copied().collect(),
        };
        // Exactly: growth by doubling would hold room for twice the columns.
        data.reserve_exact((n * width).saturating_sub(data.len()));
        data.resize(n * width, 0.0);
        for r in (0..n).rev() {
            data.copy_within(r * k..r * k + k, r * width);
            for (j, (_, column)) in columns.iter().enumerate() {
                data[r * width + k + j] = column[r];
            }
        }
        let found = data.len();
        self.values = Array2::from_shape_vec((n, width), data).map_err(|_| {
            Error::lengths("feature matrix: values (rows × columns)", n * width, found)
        })?;
        self.names.extend(columns.into_iter().map(|(name, _)| name));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_appended_in_place_in_any_layout() {
        let ids = |n: usize| (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>();
        let names = vec!["a".to_string(), "b".to_string()];
        // Row-major, and a transposed (column-major) view of the same numbers.
        let standard = Array2::from_shape_fn((3, 2), |(r, c)| (10 * r + c) as f64);
        let transposed =
            Array2::from_shape_fn((2, 3), |(c, r)| (10 * r + c) as f64).reversed_axes();
        for values in [standard, transposed] {
            let mut m = FeatureMatrix::new(ids(3), names.clone(), values).unwrap();
            m.push_column("x", vec![0.5, 1.5, 2.5]).unwrap();
            m.push_column("y", vec![-1.0, -2.0, -3.0]).unwrap();
            let expected = [
                [0.0, 1.0, 0.5, -1.0],
                [10.0, 11.0, 1.5, -2.0],
                [20.0, 21.0, 2.5, -3.0],
            ];
            for (r, row) in expected.iter().enumerate() {
                assert_eq!(m.values().row(r).to_vec(), row.to_vec());
            }
            assert_eq!(m.names(), ["a", "b", "x", "y"]);
            // A bad column leaves the matrix as it was.
            assert!(matches!(
                m.push_column("z", vec![1.0]),
                Err(Error::LengthMismatch {
                    expected: 3,
                    found: 1,
                    ..
                })
            ));
            assert_eq!(m.n_features(), 4);
        }
    }

    #[test]
    fn columns_push_join_and_select() {
        let mut m = FeatureMatrix::with_customers(vec!["a".into(), "b".into(), "c".into()]);
        m.push_column("x", vec![1.0, 2.0, 3.0]).unwrap();
        assert!(matches!(
            m.push_column("x", vec![1.0, 2.0, 3.0]),
            Err(Error::Duplicate { ref key, .. }) if key == "x"
        ));
        assert!(matches!(
            m.push_column("y", vec![1.0]),
            Err(Error::LengthMismatch {
                expected: 3,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            m.push_column("", vec![1.0, 2.0, 3.0]),
            Err(Error::InvalidValue {
                what: "feature name",
                ..
            })
        ));
        let matched = m
            .join_column("engagement", &["c", "a", "zz"], &[0.3, 0.1, 9.0])
            .unwrap();
        assert_eq!(matched, 2);
        let e = m.column("engagement").unwrap();
        assert_eq!((e[0], e[2]), (0.1, 0.3));
        assert!(e[1].is_nan());
        assert_eq!(m.missing_count("engagement"), Some(1));
        assert!(matches!(
            m.join_column("z", &["a", "a"], &[1.0, 2.0]),
            Err(Error::Duplicate { ref key, .. }) if key == "a"
        ));
        assert!(matches!(
            m.join_column("z", &["a"], &[1.0, 2.0]),
            Err(Error::LengthMismatch {
                expected: 1,
                found: 2,
                ..
            })
        ));
        assert_eq!(m.names(), ["x", "engagement"]);
        let s = m.select(&["engagement", "x"]).unwrap();
        assert_eq!(s.names(), ["engagement", "x"]);
        assert_eq!(s.values().row(2).to_vec(), [0.3, 3.0]);
        assert!(matches!(m.select(&["nope"]), Err(Error::NotFound { .. })));
        assert!(matches!(
            m.select(&["x", "x"]),
            Err(Error::Duplicate { .. })
        ));
        assert_eq!(m.select(&[]).unwrap().n_features(), 0);
        // Serde round trip (no NaN here, so equality holds) and validation.
        let s = m.select(&["x"]).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<FeatureMatrix>(&json).unwrap(), s);
        // The layout the bad inputs below share reads, so they fail on their
        // check rather than on their shape. serde_json::Error has no
        // custinsight variant to match (the check's error reaches it as
        // text): a data error is the most the type says.
        let good = r#"{"names":["x","y"],"customer_ids":["a"],"values":[1.0,null]}"#;
        assert_eq!(
            serde_json::from_str::<FeatureMatrix>(good).unwrap().names(),
            ["x", "y"]
        );
        let bad = r#"{"names":["x","x"],"customer_ids":["a"],"values":[1.0,2.0]}"#;
        assert!(matches!(serde_json::from_str::<FeatureMatrix>(bad), Err(e) if e.is_data()));
        let bad = r#"{"names":["x"],"customer_ids":["a","b"],"values":[1.0]}"#;
        assert!(matches!(serde_json::from_str::<FeatureMatrix>(bad), Err(e) if e.is_data()));
        assert!(matches!(
            FeatureMatrix::new(vec!["a".into()], vec![], Array2::zeros((2, 0))),
            Err(Error::LengthMismatch {
                expected: 1,
                found: 2,
                ..
            })
        ));
        let m =
            FeatureMatrix::from_columns(vec!["a".into()], vec![("q".into(), vec![4.0])]).unwrap();
        assert_eq!(m.column("q").unwrap()[0], 4.0);
    }
}
