//! Columns joined into a feature matrix by customer id or index: user columns, BTYD summaries, scores, lifecycles.

use std::collections::HashMap;

use super::FeatureMatrix;
use crate::error::{Error, Result};
use crate::lifecycle::btyd::Scores;
use crate::lifecycle::customers::CustomerLifecycle;
use crate::lifecycle::summary::Summary;
use crate::store::CustomerBase;

impl FeatureMatrix {
    /// Appends a column given as `(customer id, value)` pairs, joined by id;
    /// rows whose id is absent get `NaN` (missing). Returns the number of rows matched.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty name; [`Error::Duplicate`] for an
    /// existing name or an id given twice; [`Error::LengthMismatch`] for `ids`
    /// and `values` of different lengths.
    pub fn join_column<S: AsRef<str>>(
        &mut self,
        name: impl Into<String>,
        ids: &[S],
        values: &[f64],
    ) -> Result<usize> {
        let name = name.into();
        if ids.len() != values.len() {
            return Err(Error::lengths(
                format!("column `{name}`: values (one per id)"),
                ids.len(),
                values.len(),
            ));
        }
        let index = id_index(ids.iter().map(AsRef::as_ref), &name)?;
        let (column, matched) = self.gather(&index, values);
        self.append_columns(vec![(name, column)])?;
        Ok(matched)
    }

    /// Appends a BTYD summary's columns joined by customer id, in periods of
    /// the summary: `btyd:frequency` (repeat purchases), `btyd:recency`,
    /// `btyd:T` and `btyd:monetary_value`. Customers the summary leaves out
    /// (no purchase up to its observation end) are missing. Returns the number
    /// of rows matched.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for summary columns of different lengths;
    /// [`Error::Duplicate`] for an id repeated in the summary or a column name
    /// already present.
    pub fn with_summary(&mut self, summary: &Summary) -> Result<usize> {
        let n = summary.customer_ids.len();
        let lengths = [
            ("frequency", summary.x.len()),
            ("recency", summary.t_x.len()),
            ("age", summary.t_cal.len()),
            ("monetary_value", summary.monetary_value.len()),
        ];
        if let Some(&(column, l)) = lengths.iter().find(|&&(_, l)| l != n) {
            return Err(Error::lengths(
                format!("summary: `{column}` (one per customer id)"),
                n,
                l,
            ));
        }
        let index = id_index(summary.customer_ids.iter().map(String::as_str), "summary")?;
        let mut columns = Vec::with_capacity(4);
        let mut matched = 0;
        for (name, source) in [
            ("btyd:frequency", &summary.x),
            ("btyd:recency", &summary.t_x),
            ("btyd:T", &summary.t_cal),
            ("btyd:monetary_value", &summary.monetary_value),
        ] {
            let (column, m) = self.gather(&index, source);
            matched = m;
            columns.push((name.to_owned(), column));
        }
        self.append_columns(columns)?;
        Ok(matched)
    }

    /// Appends model scores joined by customer id through the summary they
    /// were scored from (scores row `i` belongs to `summary.customer_ids[i]`):
    /// `p_alive`, `expected_purchases` and, when present, `clv`. Customers
    /// absent from the summary are missing. Returns the number of rows matched.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when a score column's length differs from the
    /// summary's; [`Error::Duplicate`] when an id repeats in the summary or a
    /// column name is already present.
    pub fn with_scores(&mut self, summary: &Summary, scores: &Scores) -> Result<usize> {
        let n = summary.customer_ids.len();
        let mut sources = vec![
            ("p_alive", scores.p_alive.as_slice()),
            ("expected_purchases", scores.expected_purchases.as_slice()),
        ];
        if let Some(clv) = &scores.clv {
            sources.push(("clv", clv.as_slice()));
        }
        for (name, source) in &sources {
            if source.len() != n {
                return Err(Error::lengths(
                    format!("scores: `{name}` (one per customer of the summary)"),
                    n,
                    source.len(),
                ));
            }
        }
        let index = id_index(summary.customer_ids.iter().map(String::as_str), "summary")?;
        let mut columns = Vec::with_capacity(sources.len());
        let mut matched = 0;
        for (name, source) in sources {
            let (column, m) = self.gather(&index, source);
            matched = m;
            columns.push((name.to_owned(), column));
        }
        self.append_columns(columns)?;
        Ok(matched)
    }

    /// Appends a base's lifecycle, aligned by customer index (the matrix's
    /// rows must be the base's customers, in index order, as
    /// [`from_base`](Self::from_base) gives them, or a subset by
    /// [`from_base_rows`](Self::from_base_rows)): `p_alive`,
    /// `expected_purchases`, `clv` and `btyd:frequency`, `btyd:recency`,
    /// `btyd:T`, `btyd:monetary_value` (missing without a purchase by the
    /// lifecycle's as-of time).
    ///
    /// # Errors
    /// [`Error::NotFound`] when a row's customer is not in the base;
    /// [`Error::LengthMismatch`] when the lifecycle is of a base of another
    /// size; [`Error::Duplicate`] when a column name is already present.
    pub fn with_lifecycle(
        &mut self,
        base: &CustomerBase,
        lifecycle: &CustomerLifecycle,
    ) -> Result<()> {
        if lifecycle.len() != base.n_customers() {
            return Err(Error::lengths(
                "lifecycle: customers (one per customer of the base)",
                base.n_customers(),
                lifecycle.len(),
            ));
        }
        let rows: Vec<usize> = self
            .customer_ids
            .iter()
            .map(|id| {
                base.index_of(id)
                    .map(|c| c as usize)
                    .ok_or_else(|| Error::NotFound {
                        what: "customer of the feature matrix in the base",
                        id: id.clone(),
                    })
            })
            .collect::<Result<_>>()?;
        let pick = |v: &[f64]| {
            rows.iter()
                .map(|&c| v.get(c).copied().unwrap_or(f64::NAN))
                .collect()
        };
        self.append_columns(vec![
            ("p_alive".into(), pick(&lifecycle.p_alive)),
            (
                "expected_purchases".into(),
                pick(&lifecycle.expected_purchases),
            ),
            ("clv".into(), pick(&lifecycle.clv)),
            ("btyd:frequency".into(), pick(&lifecycle.x)),
            ("btyd:recency".into(), pick(&lifecycle.t_x)),
            ("btyd:T".into(), pick(&lifecycle.t_cal)),
            (
                "btyd:monetary_value".into(),
                pick(&lifecycle.monetary_value),
            ),
        ])
    }

    /// The values of `source` for every row, joined through `index` (id → source row).
    fn gather(&self, index: &HashMap<&str, usize>, source: &[f64]) -> (Vec<f64>, usize) {
        let mut matched = 0;
        let column = self
            .customer_ids
            .iter()
            .map(
                |id| match index.get(id.as_str()).and_then(|&i| source.get(i)) {
                    Some(&v) => {
                        matched += 1;
                        v
                    }
                    None => f64::NAN,
                },
            )
            .collect();
        (column, matched)
    }
}

/// id → position, rejecting repeated ids.
fn id_index<'a>(ids: impl Iterator<Item = &'a str>, what: &str) -> Result<HashMap<&'a str, usize>> {
    let mut index = HashMap::new();
    for (i, id) in ids.enumerate() {
        if index.insert(id, i).is_some() {
            return Err(Error::duplicate(format!("{what}: customer ids"), id));
        }
    }
    Ok(index)
}
