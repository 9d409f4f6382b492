//! How the features are computed from a customer base: the plan of columns and the pass over each history.

use jiff::Timestamp;
use std::collections::HashMap;

use ndarray::Array2;

use super::matrix::check_names;
use super::{Feature, FeatureMatrix, FeatureSpec};
use crate::error::{Error, Result};
use crate::records::{AMOUNT_SCALE, Channel, TouchpointKind};
use crate::store::History;
use crate::store::{CustomerBase, to_micros};

const MICROS_PER_DAY: i64 = 86_400_000_000;

impl FeatureMatrix {
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
pub(super) struct Plan {
    pub(super) names: Vec<String>,
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
    pub(super) fn new(base: &CustomerBase, spec: &FeatureSpec) -> Result<Plan> {
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
    use super::super::spec::{touchpoint_channels, touchpoint_kinds};
    use super::*;
    use crate::lifecycle::btyd::Scores;
    use crate::lifecycle::summary::Summary;
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
        // An unknown feature name: a serde data error (serde_json::Error has no
        // custinsight variant to match).
        assert!(
            matches!(serde_json::from_str::<FeatureSpec>(r#"{"features": ["bogus"]}"#), Err(e) if e.is_data())
        );
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
        assert!(
            matches!(m.with_summary(&summary), Err(Error::Duplicate { key, .. }) if key == "btyd:frequency")
        );
        assert_eq!(m.n_features(), 8);
        let short = Scores {
            p_alive: vec![0.9],
            ..scores
        };
        let mut fresh = FeatureMatrix::with_customers(vec!["a".into()]);
        assert!(matches!(
            fresh.with_scores(&summary, &short),
            Err(Error::LengthMismatch {
                expected: 2,
                found: 1,
                ..
            })
        ));
        assert_eq!(fresh.n_features(), 0);
    }

    #[test]
    fn synthetic_population_shapes_and_missing() {
        let pop = Population::generate(&SynthParams::with_customers(2000).with_seed(7)).unwrap();
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
