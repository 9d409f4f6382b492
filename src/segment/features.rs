//! Per-customer feature matrices: the input of segmentation.
//!
//! A [`FeatureMatrix`] holds named `f64` columns with one row per customer
//! (rows in [`CustomerBase`] index order, or in the order of the ids asked
//! for). Its columns come from three places:
//!
//! - **Behaviour** computed from a [`CustomerBase`] by
//!   [`FeatureMatrix::from_base`], as listed in a [`FeatureSpec`];
//! - **Analysis results** joined by customer id: a BTYD [`Summary`]
//!   ([`FeatureMatrix::with_summary`]), model [`Scores`]
//!   ([`FeatureMatrix::with_scores`]);
//! - **User-supplied columns** such as an engagement score, aligned by row
//!   ([`FeatureMatrix::push_column`]) or joined by id
//!   ([`FeatureMatrix::join_column`]).
//!
//! ## Features from a customer base
//!
//! Features are computed *as of* a point in time: only transactions and
//! touchpoints at or before `as_of` count, so a feature never sees the future
//! of the moment it describes. A *purchase* is a transaction that is not a
//! refund. Days are fractional days of 86,400 seconds; amounts are in
//! currency units (money features need all transactions in one currency).
//!
//! | [`Feature`] | column(s) | definition | without data |
//! |---|---|---|---|
//! | `Recency` | `recency` | days from the last purchase to `as_of` | missing (no purchase) |
//! | `Frequency` | `frequency` | number of purchases | 0 |
//! | `Monetary` | `monetary` | mean purchase amount | missing (no purchase) |
//! | `TotalSpend` | `total_spend` | sum of purchase amounts (refunds not deducted) | 0 |
//! | `Tenure` | `tenure` | days from the first purchase or first touchpoint, whichever is earlier, to `as_of` | missing (neither) |
//! | `DaysActive` | `days_active` | distinct UTC calendar days with a purchase or a touchpoint | 0 |
//! | `RefundShare` | `refund_share` | refunded amount ÷ purchased amount (can exceed 1) | missing (purchased amount 0) |
//! | `ChannelShares` | `channel_share:<channel>` | share of purchases (by count) in each channel | missing (no purchase) |
//! | `TouchpointCounts` | `touchpoints:<kind>` (e.g. `touchpoints:complaint`) | touchpoints of each kind | 0 |
//! | `TouchpointShares` | `touchpoint_share:<kind>` | share of the customer's touchpoints of each kind | missing (no touchpoint) |
//! | `TouchpointChannelShares` | `touch_share:<channel>` | share of the customer's touchpoints in each channel | missing (no touchpoint) |
//! | `CategoryShares` | `category_share:<category>` | share of purchase line-item value (quantity × unit price, lines with a positive value only) in each category | missing (no such line) |
//!
//! The channel, kind and category columns are one per *level*. Levels are
//! listed in the spec, or, when left out, taken from the whole base: channels
//! with at least one purchase, kinds with at least one touchpoint, categories
//! on purchase line items. Channels and kinds are ordered as their enums
//! (known values in declaration order, then other labels alphabetically),
//! categories alphabetically. To score new customers with the same columns,
//! fix the levels once with [`FeatureSpec::resolve`] and keep that spec.
//!
//! Line items carry no discount field, so there is no discount feature.
//! Category shares read every purchase's line items through
//! [`CustomerBase::transaction`], which allocates per transaction; they are
//! the one feature that is not a plain pass over the columns, so they are
//! never in the default spec.
//!
//! ## Missing values
//!
//! `NaN` is the one marker for a *missing* value: a feature that is undefined
//! for a customer (the "without data" column above), a customer absent from a
//! joined [`Summary`] or score, or a value a user column leaves missing.
//! Nothing else yields `NaN`: counts and sums are 0 without data, and every
//! share is in `[0, 1]` (refund share aside) whenever it is defined.
//! [`scale`](super::scale) handles missing values by its missing policy
//! (median imputation with a `<name>:missing` indicator by default), so no
//! `NaN` reaches a clustering step.
//!
//! ```
//! use custinsight::prelude::*;
//! use custinsight::segment::features::{FeatureMatrix, FeatureSpec};
//!
//! let ts = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
//! let mut b = CustomerBase::builder();
//! let id = CustomerId::new("c1")?;
//! b.add_transaction(&Transaction::new("o-1", id.clone(), ts("2024-01-01T00:00:00Z"),
//!     Money::parse("30", Currency::EUR)?, Channel::Web))?;
//! b.add_transaction(&Transaction::new("o-2", id, ts("2024-01-05T00:00:00Z"),
//!     Money::parse("10", Currency::EUR)?, Channel::Store))?;
//! let base = b.build()?;
//!
//! let m = FeatureMatrix::from_base(&base, &FeatureSpec::default(), ts("2024-01-11T00:00:00Z"))?;
//! assert_eq!(m.column("recency").unwrap()[0], 6.0);
//! assert_eq!(m.column("monetary").unwrap()[0], 20.0);
//! assert_eq!(m.column("channel_share:store").unwrap()[0], 0.5);
//! # Ok::<(), custinsight::Error>(())
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};

use jiff::Timestamp;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lifecycle::btyd::Scores;
use crate::lifecycle::customers::CustomerLifecycle;
use crate::lifecycle::summary::Summary;
use crate::records::{AMOUNT_SCALE, Channel, TouchpointKind};
use crate::store::History;
use crate::store::{CustomerBase, to_micros};

const MICROS_PER_DAY: i64 = 86_400_000_000;

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
    customer_ids: Vec<String>,
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

fn check_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<()> {
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
            ("frequency", summary.frequency.len()),
            ("recency", summary.recency.len()),
            ("age", summary.age.len()),
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
            ("btyd:frequency", &summary.frequency),
            ("btyd:recency", &summary.recency),
            ("btyd:T", &summary.age),
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
            ("btyd:frequency".into(), pick(&lifecycle.frequency)),
            ("btyd:recency".into(), pick(&lifecycle.recency)),
            ("btyd:T".into(), pick(&lifecycle.age)),
            (
                "btyd:monetary_value".into(),
                pick(&lifecycle.monetary_value),
            ),
        ])
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

    /// Computes the features of `spec` for every customer of `base`, in index
    /// order, as of `as_of` (see the module docs for the definitions).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a feature or level listed twice;
    /// [`Error::MixedCurrencies`] for money features over transactions in more
    /// than one currency; [`Error::Duplicate`] for level names that give two
    /// columns the same name.
    pub fn from_base(
        base: &CustomerBase,
        spec: &FeatureSpec,
        as_of: Timestamp,
    ) -> Result<FeatureMatrix> {
        let rows: Vec<u32> = base.customer_indices().collect();
        Self::compute(base, spec, as_of, rows)
    }

    /// Like [`from_base`](Self::from_base) for the customers with these
    /// indices, rows in the order given.
    ///
    /// # Errors
    /// As [`from_base`](Self::from_base), and [`Error::NotFound`] for an
    /// index outside the base.
    pub fn from_base_rows(
        base: &CustomerBase,
        spec: &FeatureSpec,
        as_of: Timestamp,
        rows: Vec<u32>,
    ) -> Result<FeatureMatrix> {
        if let Some(&bad) = rows.iter().find(|&&c| c as usize >= base.n_customers()) {
            return Err(Error::NotFound {
                what: "customer index",
                id: bad.to_string(),
            });
        }
        Self::compute(base, spec, as_of, rows)
    }

    /// Like [`from_base`](Self::from_base) for the given customers only, rows in the order given.
    ///
    /// # Errors
    /// As [`from_base`](Self::from_base), and [`Error::NotFound`] for an id not in the base.
    pub fn from_base_for<S: AsRef<str>>(
        base: &CustomerBase,
        spec: &FeatureSpec,
        as_of: Timestamp,
        customer_ids: &[S],
    ) -> Result<FeatureMatrix> {
        let rows = customer_ids
            .iter()
            .map(|id| {
                base.index_of(id.as_ref()).ok_or_else(|| Error::NotFound {
                    what: "customer",
                    id: id.as_ref().to_owned(),
                })
            })
            .collect::<Result<Vec<u32>>>()?;
        Self::compute(base, spec, as_of, rows)
    }

    /// One customer's row from their [`History`] (from a base or an
    /// [`OwnedHistory`](crate::store::OwnedHistory)), without a base: the
    /// columns of `spec`, whose levels must all be given (a spec from
    /// [`FeatureSpec::resolve`], as a round keeps it), so the row lines up
    /// with the matrix the model was fitted on.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a spec with a level list left out or
    /// listed twice; [`Error::MixedCurrencies`] for money features over
    /// transactions in more than one currency.
    pub fn from_history(
        customer_id: &str,
        history: &History<'_>,
        spec: &FeatureSpec,
        as_of: Timestamp,
    ) -> Result<FeatureMatrix> {
        spec.check()?;
        if let Some(f) = spec.features.iter().find(|f| !f.levels_given()) {
            return Err(Error::param(
                "features",
                f.as_str(),
                "levels must be given to compute one customer's row (resolve the spec first)",
            ));
        }
        if spec.features.iter().any(Feature::uses_money) {
            history.currency()?;
        }
        let plan = Plan::with_dictionaries(spec, history.channels, history.kinds)?;
        let mut row = vec![0.0; plan.names.len()];
        plan.fill_row(history, to_micros(as_of), &mut row);
        let found = row.len();
        let values = Array2::from_shape_vec((1, row.len()), row)
            .map_err(|_| Error::lengths("feature row: values", plan.names.len(), found))?;
        FeatureMatrix::new(vec![customer_id.to_owned()], plan.names, values)
    }

    fn compute(
        base: &CustomerBase,
        spec: &FeatureSpec,
        as_of: Timestamp,
        rows: Vec<u32>,
    ) -> Result<FeatureMatrix> {
        let plan = Plan::new(base, spec)?;
        let as_of = to_micros(as_of);
        let k = plan.names.len();
        let n = rows.len();
        let len = n
            .checked_mul(k)
            .ok_or_else(|| Error::Capacity(format!("feature matrix of {n} rows × {k} columns")))?;
        let mut data = vec![0.0; len];
        if k > 0 {
            #[cfg(feature = "parallel")]
            {
                use rayon::prelude::*;
                data.par_chunks_mut(k)
                    .zip(rows.par_iter())
                    .with_min_len(256)
                    .for_each(|(row, &c)| plan.fill_row(&base.history(c), as_of, row));
            }
            #[cfg(not(feature = "parallel"))]
            for (row, &c) in data.chunks_mut(k).zip(&rows) {
                plan.fill_row(&base.history(c), as_of, row);
            }
        }
        let found = data.len();
        let values = Array2::from_shape_vec((n, k), data)
            .map_err(|_| Error::lengths("feature matrix: values (rows × columns)", len, found))?;
        let customer_ids = rows
            .iter()
            .map(|&c| base.customer_id(c).to_owned())
            .collect();
        FeatureMatrix::new(customer_ids, plan.names, values)
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

    /// Appends columns all at once, after checking every one (the matrix is unchanged on error).
    /// The values, to transform in place (names and rows unchanged).
    pub(crate) fn values_mut(&mut self) -> &mut Array2<f64> {
        &mut self.values
    }

    fn append_columns(&mut self, columns: Vec<(String, Vec<f64>)>) -> Result<()> {
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

/// One feature (or family of per-level features) to compute; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// `recency`: days since the last purchase.
    Recency,
    /// `frequency`: number of purchases.
    Frequency,
    /// `monetary`: mean purchase amount.
    Monetary,
    /// `total_spend`: sum of purchase amounts.
    TotalSpend,
    /// `tenure`: days since the first purchase or touchpoint.
    Tenure,
    /// `days_active`: distinct days with a purchase or touchpoint.
    DaysActive,
    /// `refund_share`: refunded ÷ purchased amount.
    RefundShare,
    /// `channel_share:<channel>`: share of purchases per channel.
    ChannelShares {
        /// The channels (columns); all channels with a purchase in the base when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channels: Option<Vec<Channel>>,
    },
    /// `touchpoints:<kind>`: touchpoint counts per kind.
    TouchpointCounts {
        /// The kinds (columns); all kinds with a touchpoint in the base when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kinds: Option<Vec<TouchpointKind>>,
    },
    /// `touchpoint_share:<kind>`: share of touchpoints per kind.
    TouchpointShares {
        /// The kinds (columns); all kinds with a touchpoint in the base when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kinds: Option<Vec<TouchpointKind>>,
    },
    /// `touch_share:<channel>`: share of touchpoints per channel
    /// (where and how we meet the customer).
    TouchpointChannelShares {
        /// The channels (columns); all channels with a touchpoint in the base when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channels: Option<Vec<Channel>>,
    },
    /// `category_share:<category>`: share of line-item value per category.
    CategoryShares {
        /// The categories (columns); all categories on purchase line items when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        categories: Option<Vec<String>>,
    },
}

impl Feature {
    /// The feature's snake_case name (as serialised).
    pub fn as_str(&self) -> &'static str {
        match self {
            Feature::Recency => "recency",
            Feature::Frequency => "frequency",
            Feature::Monetary => "monetary",
            Feature::TotalSpend => "total_spend",
            Feature::Tenure => "tenure",
            Feature::DaysActive => "days_active",
            Feature::RefundShare => "refund_share",
            Feature::ChannelShares { .. } => "channel_shares",
            Feature::TouchpointCounts { .. } => "touchpoint_counts",
            Feature::TouchpointShares { .. } => "touchpoint_shares",
            Feature::TouchpointChannelShares { .. } => "touchpoint_channel_shares",
            Feature::CategoryShares { .. } => "category_shares",
        }
    }

    /// Whether the feature's levels are given (always, for features without levels).
    fn levels_given(&self) -> bool {
        !matches!(
            self,
            Feature::ChannelShares { channels: None }
                | Feature::TouchpointCounts { kinds: None }
                | Feature::TouchpointShares { kinds: None }
                | Feature::TouchpointChannelShares { channels: None }
                | Feature::CategoryShares { categories: None }
        )
    }

    fn uses_money(&self) -> bool {
        matches!(
            self,
            Feature::Monetary
                | Feature::TotalSpend
                | Feature::RefundShare
                | Feature::CategoryShares { .. }
        )
    }
}

/// Which features to compute, in column order.
///
/// The default is every feature but touchpoint kind shares and category
/// shares, with levels from the base:
///
/// ```
/// use custinsight::segment::features::{Feature, FeatureSpec};
///
/// let spec: FeatureSpec = serde_json::from_str(
///     r#"{"features": ["recency", "frequency", {"touchpoint_counts": {"kinds": ["complaint"]}}]}"#,
/// )?;
/// assert_eq!(spec.features[2], Feature::TouchpointCounts {
///     kinds: Some(vec![custinsight::records::TouchpointKind::Complaint]),
/// });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// The features; each at most once.
    pub features: Vec<Feature>,
}

impl Default for FeatureSpec {
    fn default() -> Self {
        FeatureSpec {
            features: vec![
                Feature::Recency,
                Feature::Frequency,
                Feature::Monetary,
                Feature::TotalSpend,
                Feature::Tenure,
                Feature::DaysActive,
                Feature::RefundShare,
                Feature::ChannelShares { channels: None },
                Feature::TouchpointChannelShares { channels: None },
                Feature::TouchpointCounts { kinds: None },
            ],
        }
    }
}

impl FeatureSpec {
    /// A spec with these features.
    pub fn new(features: Vec<Feature>) -> Self {
        FeatureSpec { features }
    }

    /// Checks that no feature and no level is listed twice.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the repeated feature or level.
    pub fn check(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for f in &self.features {
            if !seen.insert(f.as_str()) {
                return Err(Error::param(
                    "features",
                    f.as_str(),
                    "listed more than once",
                ));
            }
            let repeated = match f {
                Feature::ChannelShares { channels: Some(l) } => first_repeat(l),
                Feature::TouchpointCounts { kinds: Some(l) }
                | Feature::TouchpointShares { kinds: Some(l) } => first_repeat(l),
                Feature::TouchpointChannelShares { channels: Some(l) } => first_repeat(l),
                Feature::CategoryShares {
                    categories: Some(l),
                } => first_repeat(l),
                _ => None,
            };
            if let Some(level) = repeated {
                return Err(Error::param(
                    "features",
                    format!("{} `{level}`", f.as_str()),
                    "level listed more than once",
                ));
            }
        }
        Ok(())
    }

    /// The column names the spec gives over `base`, in order.
    ///
    /// # Errors
    /// As [`FeatureMatrix::from_base`].
    pub fn column_names(&self, base: &CustomerBase) -> Result<Vec<String>> {
        Ok(Plan::new(base, self)?.names)
    }

    /// The spec with every level list that was left out filled in from `base`,
    /// so the same columns can be computed later for other customers or another base.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`check`](Self::check).
    pub fn resolve(&self, base: &CustomerBase) -> Result<FeatureSpec> {
        self.check()?;
        let features = self
            .features
            .iter()
            .map(|f| match f {
                Feature::ChannelShares { channels: None } => Feature::ChannelShares {
                    channels: Some(purchase_channels(base)),
                },
                Feature::TouchpointCounts { kinds: None } => Feature::TouchpointCounts {
                    kinds: Some(touchpoint_kinds(base)),
                },
                Feature::TouchpointShares { kinds: None } => Feature::TouchpointShares {
                    kinds: Some(touchpoint_kinds(base)),
                },
                Feature::TouchpointChannelShares { channels: None } => {
                    Feature::TouchpointChannelShares {
                        channels: Some(touchpoint_channels(base)),
                    }
                }
                Feature::CategoryShares { categories: None } => Feature::CategoryShares {
                    categories: Some(purchase_categories(base)),
                },
                other => other.clone(),
            })
            .collect();
        Ok(FeatureSpec { features })
    }
}

fn first_repeat<T: std::hash::Hash + Eq + std::fmt::Display>(list: &[T]) -> Option<String> {
    let mut seen = HashSet::new();
    list.iter()
        .find(|v| !seen.insert(*v))
        .map(ToString::to_string)
}

/// Channels with at least one purchase, in enum order.
fn purchase_channels(base: &CustomerBase) -> Vec<Channel> {
    let codes = base
        .tx_channel_codes()
        .iter()
        .zip(base.tx_is_refund())
        .filter(|(_, refund)| !**refund)
        .map(|(&code, _)| code);
    used_levels(base.channels(), codes)
}

/// Channels with at least one touchpoint, in enum order.
fn touchpoint_channels(base: &CustomerBase) -> Vec<Channel> {
    used_levels(base.channels(), base.tp_channel_codes().iter().copied())
}

/// Kinds with at least one touchpoint, in enum order.
fn touchpoint_kinds(base: &CustomerBase) -> Vec<TouchpointKind> {
    used_levels(base.kinds(), base.tp_kind_codes().iter().copied())
}

/// The labels whose codes occur, sorted.
fn used_levels<T: Clone + Ord>(labels: &[T], codes: impl Iterator<Item = u16>) -> Vec<T> {
    let mut seen = vec![false; labels.len()];
    for code in codes {
        if let Some(s) = seen.get_mut(usize::from(code)) {
            *s = true;
        }
    }
    let mut levels: Vec<T> = labels
        .iter()
        .zip(&seen)
        .filter(|(_, s)| **s)
        .map(|(l, _)| l.clone())
        .collect();
    levels.sort();
    levels
}

/// Categories on the line items of purchases, sorted.
fn purchase_categories(base: &CustomerBase) -> Vec<String> {
    let refunds = base.tx_is_refund();
    let add = |mut set: BTreeSet<String>, i: usize| {
        if refunds.get(i).copied().unwrap_or(true) {
            return set;
        }
        if let Some(t) = base.transaction(i) {
            set.extend(t.line_items.into_iter().filter_map(|item| item.category));
        }
        set
    };
    #[cfg(feature = "parallel")]
    let set = {
        use rayon::prelude::*;
        (0..base.n_transactions())
            .into_par_iter()
            .fold(BTreeSet::new, add)
            .reduce(BTreeSet::new, |mut a, mut b| {
                a.append(&mut b);
                a
            })
    };
    #[cfg(not(feature = "parallel"))]
    let set = (0..base.n_transactions()).fold(BTreeSet::new(), add);
    set.into_iter().collect()
}

/// One-column features.
#[derive(Debug, Clone, Copy)]
enum Scalar {
    Recency,
    Frequency,
    Monetary,
    TotalSpend,
    Tenure,
    DaysActive,
    RefundShare,
}

/// A block of per-level columns indexed by dictionary code.
#[derive(Debug)]
struct CodeBlock {
    start: usize,
    width: usize,
    /// Column offset of each dictionary code (`None` for codes not listed).
    by_code: Vec<Option<usize>>,
}

impl CodeBlock {
    fn new<T: PartialEq>(start: usize, levels: &[T], dictionary: &[T]) -> CodeBlock {
        CodeBlock {
            start,
            width: levels.len(),
            by_code: dictionary
                .iter()
                .map(|v| levels.iter().position(|l| l == v))
                .collect(),
        }
    }

    fn bump(&self, row: &mut [f64], code: u16) {
        if let Some(cell) = self
            .by_code
            .get(code as usize)
            .copied()
            .flatten()
            .and_then(|off| row.get_mut(self.start + off))
        {
            *cell += 1.0;
        }
    }

    /// Divides the block by `total`, or marks it missing when `total` is 0.
    fn normalise(&self, row: &mut [f64], total: f64) {
        if let Some(cells) = row.get_mut(self.start..self.start + self.width) {
            for v in cells {
                *v = if total > 0.0 { *v / total } else { f64::NAN };
            }
        }
    }
}

/// Columns and how to fill them.
#[derive(Debug)]
struct Plan {
    names: Vec<String>,
    scalars: Vec<(Scalar, usize)>,
    channel_shares: Option<CodeBlock>,
    kind_counts: Option<CodeBlock>,
    kind_shares: Option<CodeBlock>,
    touch_channel_shares: Option<CodeBlock>,
    /// Start column and column offset of each category.
    categories: Option<(usize, usize, HashMap<String, usize>)>,
    needs_days: bool,
}

impl Plan {
    fn new(base: &CustomerBase, spec: &FeatureSpec) -> Result<Plan> {
        let spec = spec.resolve(base)?;
        if spec.features.iter().any(Feature::uses_money) {
            check_one_currency(base)?;
        }
        Plan::with_dictionaries(&spec, base.channels(), base.kinds())
    }

    /// The plan of a spec whose levels are all given, over histories whose
    /// codes index these dictionaries.
    fn with_dictionaries(
        spec: &FeatureSpec,
        channel_dictionary: &[Channel],
        kind_dictionary: &[TouchpointKind],
    ) -> Result<Plan> {
        let mut plan = Plan {
            names: Vec::new(),
            scalars: Vec::new(),
            channel_shares: None,
            kind_counts: None,
            kind_shares: None,
            touch_channel_shares: None,
            categories: None,
            needs_days: false,
        };
        for f in &spec.features {
            let start = plan.names.len();
            let scalar = match f {
                Feature::Recency => Some(Scalar::Recency),
                Feature::Frequency => Some(Scalar::Frequency),
                Feature::Monetary => Some(Scalar::Monetary),
                Feature::TotalSpend => Some(Scalar::TotalSpend),
                Feature::Tenure => Some(Scalar::Tenure),
                Feature::DaysActive => Some(Scalar::DaysActive),
                Feature::RefundShare => Some(Scalar::RefundShare),
                _ => None,
            };
            if let Some(s) = scalar {
                plan.scalars.push((s, start));
                plan.names.push(f.as_str().to_owned());
                plan.needs_days |= matches!(s, Scalar::DaysActive);
                continue;
            }
            match f {
                Feature::ChannelShares { channels } => {
                    let levels = channels.as_deref().unwrap_or_default();
                    plan.channel_shares = Some(CodeBlock::new(start, levels, channel_dictionary));
                    plan.names.extend(
                        levels
                            .iter()
                            .map(|c| format!("channel_share:{}", c.as_str())),
                    );
                }
                Feature::TouchpointCounts { kinds } => {
                    let levels = kinds.as_deref().unwrap_or_default();
                    plan.kind_counts = Some(CodeBlock::new(start, levels, kind_dictionary));
                    plan.names
                        .extend(levels.iter().map(|k| format!("touchpoints:{}", k.as_str())));
                }
                Feature::TouchpointShares { kinds } => {
                    let levels = kinds.as_deref().unwrap_or_default();
                    plan.kind_shares = Some(CodeBlock::new(start, levels, kind_dictionary));
                    plan.names.extend(
                        levels
                            .iter()
                            .map(|k| format!("touchpoint_share:{}", k.as_str())),
                    );
                }
                Feature::TouchpointChannelShares { channels } => {
                    let levels = channels.as_deref().unwrap_or_default();
                    plan.touch_channel_shares =
                        Some(CodeBlock::new(start, levels, channel_dictionary));
                    plan.names
                        .extend(levels.iter().map(|c| format!("touch_share:{}", c.as_str())));
                }
                Feature::CategoryShares { categories } => {
                    let levels = categories.as_deref().unwrap_or_default();
                    let index = levels
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.clone(), i))
                        .collect();
                    plan.categories = Some((start, levels.len(), index));
                    plan.names
                        .extend(levels.iter().map(|c| format!("category_share:{c}")));
                }
                _ => {}
            }
        }
        check_names(plan.names.iter().map(String::as_str))?;
        Ok(plan)
    }

    /// Computes one customer's row (which arrives zeroed) from their events at or before `as_of`.
    fn fill_row(&self, history: &History<'_>, as_of: i64, row: &mut [f64]) {
        let h = history.until(as_of);
        let (times, amounts, refunds, channels) =
            (h.tx_time, h.tx_amount, h.tx_refund, h.tx_channel);

        let mut purchases = 0u64;
        let mut spend: i128 = 0;
        let mut refunded: i128 = 0;
        let mut first_purchase: Option<i64> = None;
        let mut last_purchase: Option<i64> = None;
        for (k, (&t, &amount)) in times.iter().zip(amounts).enumerate() {
            if refunds.get(k).copied().unwrap_or(false) {
                refunded += i128::from(amount).abs();
                continue;
            }
            purchases += 1;
            spend += i128::from(amount);
            first_purchase.get_or_insert(t);
            last_purchase = Some(t);
            if let (Some(block), Some(&code)) = (&self.channel_shares, channels.get(k)) {
                block.bump(row, code);
            }
        }
        if let Some(block) = &self.channel_shares {
            block.normalise(row, purchases as f64);
        }

        let tp_times = h.tp_time;
        if self.kind_counts.is_some() || self.kind_shares.is_some() {
            for &code in h.tp_kind {
                for block in [&self.kind_counts, &self.kind_shares].into_iter().flatten() {
                    block.bump(row, code);
                }
            }
            if let Some(block) = &self.kind_shares {
                block.normalise(row, tp_times.len() as f64);
            }
        }
        if let Some(block) = &self.touch_channel_shares {
            for &code in h.tp_channel {
                block.bump(row, code);
            }
            block.normalise(row, tp_times.len() as f64);
        }

        if let Some((start, width, index)) = &self.categories {
            fill_categories(&h, (*start, *width, index), row);
        }

        let days = |from: i64| (as_of - from) as f64 / MICROS_PER_DAY as f64;
        let money = |units: i128| units as f64 / AMOUNT_SCALE as f64;
        let first_seen = match (first_purchase, tp_times.first()) {
            (Some(a), Some(&b)) => Some(a.min(b)),
            (a, b) => a.or(b.copied()),
        };
        let active_days = if self.needs_days {
            distinct_days(times, refunds, tp_times)
        } else {
            0
        };
        for &(scalar, j) in &self.scalars {
            let value = match scalar {
                Scalar::Recency => last_purchase.map_or(f64::NAN, days),
                Scalar::Frequency => purchases as f64,
                Scalar::Monetary if purchases > 0 => money(spend) / purchases as f64,
                Scalar::Monetary => f64::NAN,
                Scalar::TotalSpend => money(spend),
                Scalar::Tenure => first_seen.map_or(f64::NAN, days),
                Scalar::DaysActive => active_days as f64,
                Scalar::RefundShare if spend > 0 => refunded as f64 / spend as f64,
                Scalar::RefundShare => f64::NAN,
            };
            if let Some(cell) = row.get_mut(j) {
                *cell = value;
            }
        }
    }
}

/// Category shares of the spend in line items (refunds left out): each
/// category's value over the total, or missing without line items.
fn fill_categories(
    h: &History<'_>,
    (start, width, index): (usize, usize, &HashMap<String, usize>),
    row: &mut [f64],
) {
    let mut total = 0.0;
    for k in 0..h.tx_time.len() {
        if h.tx_refund.get(k).copied().unwrap_or(true) {
            continue;
        }
        for item in h.line_items(k) {
            let value = item.quantity * item.unit_price.to_f64();
            if !(value.is_finite() && value > 0.0) {
                continue;
            }
            total += value;
            if let Some(cell) = item
                .category
                .as_ref()
                .and_then(|c| index.get(c))
                .and_then(|off| row.get_mut(start + off))
            {
                *cell += value;
            }
        }
    }
    if let Some(cells) = row.get_mut(start..start + width) {
        for v in cells {
            *v = if total > 0.0 && total.is_finite() {
                *v / total
            } else {
                f64::NAN
            };
        }
    }
}

/// Distinct UTC days with a purchase (non-refund transaction) or a touchpoint;
/// both time lists are ascending.
fn distinct_days(tx_times: &[i64], refunds: &[bool], tp_times: &[i64]) -> u64 {
    let day = |t: &i64| t.div_euclid(MICROS_PER_DAY);
    let mut purchases = tx_times
        .iter()
        .zip(refunds)
        .filter(|(_, r)| !**r)
        .map(|(t, _)| day(t))
        .peekable();
    let mut touches = tp_times.iter().map(day).peekable();
    let mut last = None;
    let mut count = 0;
    loop {
        let next = match (purchases.peek(), touches.peek()) {
            (Some(a), Some(b)) if a <= b => purchases.next(),
            (Some(_), Some(_)) => touches.next(),
            (Some(_), None) => purchases.next(),
            (None, Some(_)) => touches.next(),
            (None, None) => break,
        };
        if next.is_some() && next != last {
            count += 1;
            last = next;
        }
    }
    count
}

fn check_one_currency(base: &CustomerBase) -> Result<()> {
    if base.currencies().len() <= 1 {
        return Ok(());
    }
    // The currency dictionary also holds touchpoint cost currencies, so look at the transactions.
    let mut first = None;
    for i in 0..base.n_transactions() {
        let c = base.tx_currency(i);
        match first {
            None => first = c,
            Some(f) if c.is_some_and(|c| c != f) => {
                return Err(Error::MixedCurrencies {
                    currencies: vec![f.to_string(), c.map_or_else(String::new, |c| c.to_string())],
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Currency, CustomerId, LineItem, Money, Touchpoint, Transaction};
    use crate::synth::{Population, SynthParams};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn eur(units: i64) -> Money {
        Money::from_units(units, Currency::EUR)
    }

    fn tx(order: &str, customer: &str, at: &str, units: i64, channel: Channel) -> Transaction {
        Transaction::new(
            order,
            CustomerId::new(customer).unwrap(),
            ts(at),
            eur(units),
            channel,
        )
    }

    fn tp(customer: &str, at: &str, channel: Channel, kind: TouchpointKind) -> Touchpoint {
        Touchpoint::new(CustomerId::new(customer).unwrap(), ts(at), channel, kind)
    }

    fn item(product: &str, category: Option<&str>, quantity: f64, price: i64) -> LineItem {
        LineItem {
            product_id: product.into(),
            category: category.map(Into::into),
            quantity,
            unit_price: eur(price),
        }
    }

    /// a: two purchases, a refund and a purchase after `as_of`, three touchpoints;
    /// b: one touchpoint only; c: one purchase with line items; d: nothing at all.
    fn tiny_base() -> CustomerBase {
        let mut b = CustomerBase::builder();
        // Added out of time order on purpose.
        b.add_transaction(&tx(
            "a2",
            "a",
            "2024-01-03T12:00:00Z",
            300_000,
            Channel::Store,
        ))
        .unwrap();
        b.add_transaction(&tx(
            "a1",
            "a",
            "2024-01-01T00:00:00Z",
            100_000,
            Channel::Web,
        ))
        .unwrap();
        b.add_transaction(&tx(
            "a3",
            "a",
            "2024-01-04T00:00:00Z",
            -50_000,
            Channel::Web,
        ))
        .unwrap();
        b.add_transaction(&tx(
            "a4",
            "a",
            "2024-02-01T00:00:00Z",
            1_000_000,
            Channel::Web,
        ))
        .unwrap();
        let mut c1 = tx("c1", "c", "2024-01-09T00:00:00Z", 500_000, Channel::App);
        c1.line_items = vec![
            item("p1", Some("shoes"), 2.0, 150_000),
            item("p2", Some("bags"), 1.0, 200_000),
            item("p3", None, 1.0, 50_000),
            item("p4", Some("bags"), 1.0, -10_000), // a discount line: not counted
        ];
        b.add_transaction(&c1).unwrap();
        for t in [
            tp(
                "a",
                "2023-12-31T12:00:00Z",
                Channel::Email,
                TouchpointKind::Impression,
            ),
            tp(
                "a",
                "2024-01-03T08:00:00Z",
                Channel::Web,
                TouchpointKind::Complaint,
            ),
            tp(
                "a",
                "2024-01-05T00:00:00Z",
                Channel::Web,
                TouchpointKind::Complaint,
            ),
            tp(
                "b",
                "2024-01-02T00:00:00Z",
                Channel::Email,
                TouchpointKind::Click,
            ),
            tp(
                "b",
                "2024-03-01T00:00:00Z",
                Channel::Email,
                TouchpointKind::Support,
            ),
        ] {
            b.add_touchpoint(&t).unwrap();
        }
        b.customer_index("d").unwrap();
        b.build().unwrap()
    }

    fn all_features() -> FeatureSpec {
        let mut spec = FeatureSpec::default();
        spec.features
            .push(Feature::TouchpointShares { kinds: None });
        spec.features
            .push(Feature::CategoryShares { categories: None });
        spec
    }

    fn value(m: &FeatureMatrix, id: &str, name: &str) -> f64 {
        let row = m.customer_ids().iter().position(|c| c == id).unwrap();
        m.column(name).unwrap_or_else(|| panic!("no column {name}"))[row]
    }

    #[test]
    fn every_feature_by_hand() {
        let base = tiny_base();
        let m =
            FeatureMatrix::from_base(&base, &all_features(), ts("2024-01-10T00:00:00Z")).unwrap();
        assert_eq!(
            m.names(),
            [
                "recency",
                "frequency",
                "monetary",
                "total_spend",
                "tenure",
                "days_active",
                "refund_share",
                // Channels with a purchase, in enum order (web, app, store).
                "channel_share:web",
                "channel_share:app",
                "channel_share:store",
                // Channels with a touchpoint, in enum order.
                "touch_share:web",
                "touch_share:email",
                // Kinds with a touchpoint, in enum order.
                "touchpoints:impression",
                "touchpoints:click",
                "touchpoints:complaint",
                "touchpoints:support",
                "touchpoint_share:impression",
                "touchpoint_share:click",
                "touchpoint_share:complaint",
                "touchpoint_share:support",
                "category_share:bags",
                "category_share:shoes",
            ]
        );
        assert_eq!(m.customer_ids(), ["a", "c", "b", "d"]);
        assert_eq!((m.n_rows(), m.n_features()), (4, 22));
        let nan = f64::NAN;
        // Customer a, as of 2024-01-10: purchases 10.00 (web, Jan 1) and 30.00
        // (store, Jan 3 12:00), a 5.00 refund (Jan 4); the 100.00 purchase of
        // Feb 1 is after as_of. Touchpoints Dec 31 12:00, Jan 3, Jan 5.
        let a = [
            6.5,       // Jan 3 12:00 → Jan 10
            2.0,       // two purchases
            20.0,      // 40 / 2
            40.0,      // 10 + 30
            9.5,       // first touchpoint Dec 31 12:00 → Jan 10
            4.0,       // Dec 31, Jan 1, Jan 3, Jan 5 (the refund day Jan 4 does not count)
            0.125,     // 5 / 40
            0.5,       // web
            0.0,       // app
            0.5,       // store
            2.0 / 3.0, // two of three touchpoints on the web
            1.0 / 3.0, // one by e-mail
            1.0,       // impression
            0.0,       // click
            2.0,       // complaint
            0.0,       // support
            1.0 / 3.0,
            0.0,
            2.0 / 3.0,
            0.0,
            nan, // no line items
            nan,
        ];
        // Customer b: one click (Jan 2); the support touchpoint is after as_of.
        let b = [
            nan, 0.0, nan, 0.0, 8.0, 1.0, nan, nan, nan, nan, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0,
            1.0, 0.0, 0.0, nan, nan,
        ];
        // Customer c: one 50.00 app purchase on Jan 9 with lines shoes 2 × 15,
        // bags 1 × 20, uncategorised 1 × 5 and a −1 discount line (ignored): 55 in all.
        let c = [
            1.0,
            1.0,
            50.0,
            50.0,
            1.0,
            1.0,
            0.0,
            0.0,
            1.0,
            0.0,
            nan,
            nan,
            0.0,
            0.0,
            0.0,
            0.0,
            nan,
            nan,
            nan,
            nan,
            20.0 / 55.0,
            30.0 / 55.0,
        ];
        // Customer d: known, no activity.
        let d = [
            nan, 0.0, nan, 0.0, nan, 0.0, nan, nan, nan, nan, nan, nan, 0.0, 0.0, 0.0, 0.0, nan,
            nan, nan, nan, nan, nan,
        ];
        for (id, expected) in [("a", a), ("b", b), ("c", c), ("d", d)] {
            for (name, &want) in m.names().iter().zip(&expected) {
                let got = value(&m, id, name);
                assert!(
                    (got.is_nan() && want.is_nan()) || (got - want).abs() <= 1e-12,
                    "{id} {name}: got {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn features_never_see_the_future() {
        let base = tiny_base();
        let m =
            FeatureMatrix::from_base(&base, &all_features(), ts("2023-01-01T00:00:00Z")).unwrap();
        assert_eq!(m.column("frequency").unwrap().sum(), 0.0);
        assert!(m.column("recency").unwrap().iter().all(|v| v.is_nan()));
        // At the Feb 1 purchase itself, it counts (at or before as_of).
        let m =
            FeatureMatrix::from_base(&base, &all_features(), ts("2024-02-01T00:00:00Z")).unwrap();
        assert_eq!(value(&m, "a", "frequency"), 3.0);
        assert_eq!(value(&m, "a", "recency"), 0.0);
    }

    #[test]
    fn one_customer_from_their_history_as_in_the_base() {
        let base = tiny_base();
        let spec = all_features().resolve(&base).unwrap();
        for at in [
            "2024-01-15T00:00:00Z",
            "2024-02-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
        ] {
            let as_of = ts(at);
            let m = FeatureMatrix::from_base(&base, &spec, as_of).unwrap();
            for c in base.customer_indices() {
                let id = base.customer_id(c);
                let tx: Vec<_> = base
                    .transaction_range(c)
                    .filter_map(|i| base.transaction(i))
                    .collect();
                let tp: Vec<_> = base
                    .touchpoint_range(c)
                    .filter_map(|i| base.touchpoint(i))
                    .collect();
                // Given in reverse: the history sorts them.
                let (mut tx, mut tp) = (tx, tp);
                tx.reverse();
                tp.reverse();
                let owned = crate::store::OwnedHistory::new(&tx, &tp).unwrap();
                let one = FeatureMatrix::from_history(id, &owned.view(), &spec, as_of).unwrap();
                assert_eq!(one.names(), m.names());
                let row = m.values().row(c as usize).to_vec();
                let alone = one.values().row(0).to_vec();
                for (j, (a, b)) in row.iter().zip(&alone).enumerate() {
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{id} {} at {at}: {a} in the base, {b} alone",
                        m.names()[j]
                    );
                }
            }
        }
        // Levels must be fixed: an unresolved spec could give other columns.
        let history = base.history(0);
        let err =
            FeatureMatrix::from_history("a", &history, &all_features(), ts("2025-01-01T00:00:00Z"));
        assert!(
            matches!(err, Err(Error::InvalidParameter { .. })),
            "{err:?}"
        );
    }

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
            assert!(m.push_column("z", vec![1.0]).is_err());
            assert_eq!(m.n_features(), 4);
        }
    }

    #[test]
    fn explicit_levels_and_chosen_rows() {
        let base = tiny_base();
        let spec = FeatureSpec::new(vec![
            Feature::TouchpointCounts {
                kinds: Some(vec![TouchpointKind::Complaint, TouchpointKind::Purchase]),
            },
            Feature::ChannelShares {
                channels: Some(vec![Channel::Store, Channel::Other("kiosk".into())]),
            },
            Feature::Frequency,
        ]);
        let m = FeatureMatrix::from_base_for(&base, &spec, ts("2024-01-10T00:00:00Z"), &["d", "a"])
            .unwrap();
        assert_eq!(
            m.names(),
            [
                "touchpoints:complaint",
                "touchpoints:purchase",
                "channel_share:store",
                "channel_share:kiosk",
                "frequency"
            ]
        );
        assert_eq!(m.customer_ids(), ["d", "a"]);
        assert_eq!(
            m.values().row(1).to_vec(),
            [2.0, 0.0, 0.5, 0.0, 2.0],
            "web purchases count in the denominator only"
        );
        // Resolving fills levels from the base and gives the same matrix.
        let resolved = FeatureSpec::default().resolve(&base).unwrap();
        let json = serde_json::to_string(&resolved).unwrap();
        let back: FeatureSpec = serde_json::from_str(&json).unwrap();
        let as_of = ts("2024-01-10T00:00:00Z");
        let x = FeatureMatrix::from_base(&base, &FeatureSpec::default(), as_of).unwrap();
        let y = FeatureMatrix::from_base(&base, &back, as_of).unwrap();
        assert_eq!(x.names(), y.names());
        assert!(
            x.values()
                .iter()
                .zip(y.values())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        assert!(matches!(
            FeatureMatrix::from_base_for(&base, &spec, as_of, &["zz"]),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn bad_specs_are_errors() {
        let base = tiny_base();
        let as_of = ts("2024-01-10T00:00:00Z");
        let twice = FeatureSpec::new(vec![Feature::Recency, Feature::Recency]);
        assert!(matches!(
            FeatureMatrix::from_base(&base, &twice, as_of),
            Err(Error::InvalidParameter { .. })
        ));
        let level_twice = FeatureSpec::new(vec![Feature::ChannelShares {
            channels: Some(vec![Channel::Web, Channel::Web]),
        }]);
        assert!(matches!(
            FeatureMatrix::from_base(&base, &level_twice, as_of),
            Err(Error::InvalidParameter { .. })
        ));
        // Two levels with the same label give the same column name.
        let clash = FeatureSpec::new(vec![Feature::ChannelShares {
            channels: Some(vec![Channel::Web, Channel::Other("web".into())]),
        }]);
        assert!(matches!(
            FeatureMatrix::from_base(&base, &clash, as_of),
            Err(Error::Duplicate { .. })
        ));
        assert!(serde_json::from_str::<FeatureSpec>(r#"{"features": ["bogus"]}"#).is_err());
        // An empty spec is fine: rows and no columns.
        let m = FeatureMatrix::from_base(&base, &FeatureSpec::new(vec![]), as_of).unwrap();
        assert_eq!((m.n_rows(), m.n_features()), (4, 0));
        // An empty base is fine too.
        let empty = CustomerBase::builder().build().unwrap();
        let m = FeatureMatrix::from_base(&empty, &all_features(), as_of).unwrap();
        assert_eq!((m.n_rows(), m.n_features()), (0, 7));
    }

    #[test]
    fn money_features_need_one_currency() {
        let mut b = CustomerBase::builder();
        b.add_transaction(&tx("o1", "a", "2024-01-01T00:00:00Z", 10, Channel::Web))
            .unwrap();
        let mut usd = tx("o2", "b", "2024-01-01T00:00:00Z", 10, Channel::Web);
        usd.amount = Money::from_units(10, Currency::USD);
        b.add_transaction(&usd).unwrap();
        let base = b.build().unwrap();
        let as_of = ts("2024-01-10T00:00:00Z");
        assert!(matches!(
            FeatureMatrix::from_base(&base, &FeatureSpec::default(), as_of),
            Err(Error::MixedCurrencies { ref currencies }) if currencies.len() == 2
        ));
        let counts = FeatureSpec::new(vec![Feature::Frequency, Feature::Recency]);
        assert!(FeatureMatrix::from_base(&base, &counts, as_of).is_ok());
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
        let bad = r#"{"names":["x","x"],"customer_ids":["a"],"values":{"v":1,"dim":[1,2],"data":[1.0,2.0]}}"#;
        assert!(serde_json::from_str::<FeatureMatrix>(bad).is_err());
        let bad =
            r#"{"names":["x"],"customer_ids":["a","b"],"values":{"v":1,"dim":[1,1],"data":[1.0]}}"#;
        assert!(serde_json::from_str::<FeatureMatrix>(bad).is_err());
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

    #[test]
    fn summary_and_scores_join_by_id() {
        use crate::lifecycle::summary::Period;
        let base = tiny_base();
        let spec = FeatureSpec::new(vec![Feature::Frequency]);
        let mut m = FeatureMatrix::from_base(&base, &spec, ts("2024-01-10T00:00:00Z")).unwrap();
        let summary =
            Summary::from_base(&base, Period::Day, "2024-01-10".parse().unwrap()).unwrap();
        // a: purchase days Jan 1 and Jan 3 → x = 1, t_x = 2, T = 9, monetary 30;
        // c: one purchase Jan 9 → 0, 0, 1, 0; b and d have no purchase.
        assert_eq!(summary.customer_ids, ["a", "c"]);
        assert_eq!(m.with_summary(&summary).unwrap(), 2);
        let scores = Scores {
            p_alive: vec![0.9, 0.4],
            expected_purchases: vec![1.5, 0.2],
            clv: Some(vec![100.0, 7.0]),
            horizon: 10.0,
        };
        assert_eq!(m.with_scores(&summary, &scores).unwrap(), 2);
        assert_eq!(
            m.names(),
            [
                "frequency",
                "btyd:frequency",
                "btyd:recency",
                "btyd:T",
                "btyd:monetary_value",
                "p_alive",
                "expected_purchases",
                "clv"
            ]
        );
        let row = |id: &str| {
            let r = m.customer_ids().iter().position(|c| c == id).unwrap();
            m.values().row(r).to_vec()
        };
        assert_eq!(row("a"), [2.0, 1.0, 2.0, 9.0, 30.0, 0.9, 1.5, 100.0]);
        assert_eq!(row("c"), [1.0, 0.0, 0.0, 1.0, 0.0, 0.4, 0.2, 7.0]);
        assert!(row("b")[1..].iter().all(|v| v.is_nan()));
        // A second join clashes by name and leaves the matrix unchanged.
        assert!(m.with_summary(&summary).is_err());
        assert_eq!(m.n_features(), 8);
        let short = Scores {
            p_alive: vec![0.9],
            ..scores
        };
        let mut fresh = FeatureMatrix::with_customers(vec!["a".into()]);
        assert!(fresh.with_scores(&summary, &short).is_err());
        assert_eq!(fresh.n_features(), 0);
    }

    #[test]
    fn synthetic_population_shapes_and_missing() {
        let pop = Population::generate(&SynthParams::with_customers(2000), 7).unwrap();
        let base = &pop.base;
        let spec = FeatureSpec::default().resolve(base).unwrap();
        let mut with_shares = spec.clone();
        with_shares
            .features
            .push(Feature::TouchpointShares { kinds: None });
        let m = FeatureMatrix::from_base(base, &with_shares, pop.observation_end).unwrap();
        assert_eq!(m.n_rows(), 2000);
        let channels = match &spec.features[7] {
            Feature::ChannelShares { channels: Some(c) } => c.len(),
            other => panic!("{other:?}"),
        };
        assert!(channels >= 2);
        assert_eq!(
            m.n_features(),
            7 + channels + touchpoint_channels(base).len() + 2 * touchpoint_kinds(base).len()
        );
        let freq = m.column("frequency").unwrap();
        let n_tp: Vec<f64> = (0..m.n_rows())
            .map(|r| {
                m.names()
                    .iter()
                    .zip(m.values().row(r))
                    .filter(|(n, _)| n.starts_with("touchpoints:"))
                    .map(|(_, v)| *v)
                    .sum()
            })
            .collect();
        for (j, name) in m.names().iter().enumerate() {
            for (r, &v) in m.values().column(j).iter().enumerate() {
                let no_purchase = freq[r] == 0.0;
                let allowed_missing = match name.as_str() {
                    "recency" | "monetary" | "refund_share" => no_purchase,
                    n if n.starts_with("channel_share:") => no_purchase,
                    n if n.starts_with("touchpoint_share:") || n.starts_with("touch_share:") => {
                        n_tp[r] == 0.0
                    }
                    "tenure" => no_purchase && n_tp[r] == 0.0,
                    _ => false,
                };
                assert_eq!(v.is_nan(), allowed_missing, "{name} row {r}: {v}");
                assert!(!v.is_infinite());
                if !v.is_nan() {
                    assert!(v >= 0.0, "{name} row {r}: {v}");
                }
            }
        }
        // Channel shares add up to 1 for every buyer.
        for r in 0..m.n_rows() {
            if freq[r] > 0.0 {
                let total: f64 = m
                    .names()
                    .iter()
                    .zip(m.values().row(r))
                    .filter(|(n, _)| n.starts_with("channel_share:"))
                    .map(|(_, v)| *v)
                    .sum();
                assert!((total - 1.0).abs() < 1e-12);
            }
        }
        // Frequency agrees with a direct count over the columns.
        let direct = base
            .tx_is_refund()
            .iter()
            .zip(base.tx_time_micros())
            .filter(|(r, t)| !**r && **t <= to_micros(pop.observation_end))
            .count();
        assert_eq!(freq.sum() as usize, direct);
        // Parallel or not, the result is the same; so is a subset in another order.
        let ids: Vec<&str> = (0..50).rev().map(|c| base.customer_id(c)).collect();
        let sub =
            FeatureMatrix::from_base_for(base, &with_shares, pop.observation_end, &ids).unwrap();
        for (k, &c) in (0..50u32).rev().collect::<Vec<_>>().iter().enumerate() {
            let a = sub.values().row(k).to_vec();
            let b = m.values().row(c as usize).to_vec();
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }
}
