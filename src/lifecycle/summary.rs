//! RFM / BTYD summaries: each customer's repeat frequency, recency, age and
//! average repeat spend, in whole periods of an explicit unit.
//!
//! The semantics are exactly those of lifetimes'
//! `summary_data_from_transaction_data` (Davidson-Pilon et al.):
//!
//! - time is cut into calendar periods (UTC days, or ISO weeks Monday–Sunday
//!   as pandas' `W` periods), and all transactions of a customer in one
//!   period count as one purchase whose amount is their sum;
//! - only periods up to and including the one containing the observation end
//!   count; customers without a purchase by then (a first purchase after it,
//!   or none at all) are left out and counted in
//!   [`Summary::excluded_after_end`];
//! - `frequency` = purchase periods − 1 (repeat purchases), `recency` = first
//!   to last purchase period, `T` = first purchase period to the end's period,
//!   `monetary_value` = mean amount of the repeat periods (0 without repeats).
//!
//! Refunds are not purchases and are left out. Amounts must share one currency.
//!
//! Models fit on [`Triples`]: unique `(x, t_x, T)` with counts, a mergeable
//! sufficient statistic, so a million customers cost as much as their
//! distinct triples (a few tens of thousands in practice).

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::AMOUNT_SCALE;
use crate::store::CustomerBase;

/// The unit of time of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// UTC calendar days.
    Day,
    /// Calendar weeks, Monday to Sunday (pandas' `W` / `W-SUN` periods).
    Week,
}

impl Period {
    /// Parses `day`/`d` or `week`/`w`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for anything else.
    pub fn parse(s: &str) -> Result<Period> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" | "d" | "days" => Ok(Period::Day),
            "week" | "w" | "weeks" => Ok(Period::Week),
            other => Err(Error::value("period", other, "expected `day` or `week`")),
        }
    }

    /// The period number of a day number (days since 1970-01-01).
    pub(super) fn of_day(self, day: i64) -> i64 {
        match self {
            Period::Day => day,
            // 1970-01-01 was a Thursday; weeks start on Monday.
            Period::Week => (day + 3).div_euclid(7),
        }
    }
}

fn day_of_timestamp(ts: Timestamp) -> i64 {
    ts.as_second().div_euclid(86_400)
}

fn day_of_micros(us: i64) -> i64 {
    us.div_euclid(86_400_000_000)
}

fn day_of_date(d: Date) -> Result<i64> {
    let ts = d
        .to_zoned(TimeZone::UTC)
        .map_err(|e| Error::value("date", d.to_string(), e.to_string()))?
        .timestamp();
    Ok(day_of_timestamp(ts))
}

/// Per-customer summaries, columnar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The period unit.
    pub period: Period,
    /// The observation end (its period is the last counted).
    pub observation_end: Date,
    /// Customer ids, in order of first appearance in the input.
    pub customer_ids: Vec<String>,
    /// Repeat purchase periods `x` (lifetimes' `frequency`).
    #[serde(alias = "frequency")]
    pub x: Vec<f64>,
    /// Periods from the first to the last purchase `t_x` (lifetimes' `recency`).
    #[serde(alias = "recency")]
    pub t_x: Vec<f64>,
    /// Periods from the first purchase to the observation end: the
    /// literature's `T` (lifetimes' `T`), spelt `t_cal` as Rust names are lower case.
    #[serde(alias = "age")]
    pub t_cal: Vec<f64>,
    /// Mean amount of the repeat purchase periods (0 without repeats).
    pub monetary_value: Vec<f64>,
    /// Customers left out because they have no purchase up to the
    /// observation end: their first purchase is after it, or they never
    /// bought (refunds only, or no transaction at all: prospects). To keep
    /// them, with their own stage, use
    /// [`LifecycleParams::fit`](super::customers::LifecycleParams::fit),
    /// whose results are aligned with the whole base.
    pub excluded_after_end: usize,
}

/// Customer histories as borrowed columns, one row per customer: what scoring
/// reads. A [`Summary`] gives one with [`Summary::histories`]; a service that
/// keeps its own columns (or streams them from storage chunk by chunk) builds
/// one directly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Histories<'a> {
    /// Repeat purchase periods `x`.
    pub x: &'a [f64],
    /// Periods from the first to the last purchase `t_x`.
    pub t_x: &'a [f64],
    /// Periods from the first purchase to the observation end (`T`).
    pub t_cal: &'a [f64],
    /// Mean amount of the repeat purchases (needed for customer value only).
    pub monetary_value: Option<&'a [f64]>,
}

impl<'a> Histories<'a> {
    /// Number of rows (of `frequency`).
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Checks that every column has the same length.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] naming the first column whose length differs.
    pub fn check(&self) -> Result<()> {
        let n = self.len();
        let m = self.monetary_value.map_or(n, <[f64]>::len);
        for (column, len) in [
            ("recency", self.t_x.len()),
            ("T", self.t_cal.len()),
            ("monetary_value", m),
        ] {
            if len != n {
                return Err(Error::lengths(
                    format!("customer histories: `{column}` beside `frequency`"),
                    n,
                    len,
                ));
            }
        }
        Ok(())
    }

    /// Rows `range` of every column (clamped to the rows there are).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Histories<'a> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        // Each column is cut within its own length, so mismatched columns cannot panic here.
        let cut = |c: &'a [f64]| &c[start.min(c.len())..end.min(c.len())];
        Histories {
            x: cut(self.x),
            t_x: cut(self.t_x),
            t_cal: cut(self.t_cal),
            monetary_value: self.monetary_value.map(cut),
        }
    }
}

/// One transaction for summarising: customer, time, amount.
#[derive(Debug, Clone, Copy)]
pub struct Purchase<'a> {
    /// Customer id.
    pub customer_id: &'a str,
    /// When.
    pub timestamp: Timestamp,
    /// Amount (currency units).
    pub amount: f64,
}

/// Per-customer running state while summarising: (first, last, current period, count, current sum, repeat sum).
#[derive(Clone, Copy)]
struct Acc {
    first: i64,
    last: i64,
    periods: u64,
    current_sum: f64,
    repeat_sum: f64,
}

impl Summary {
    /// Summarises purchases in any order.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a non-finite amount or an observation end outside jiff's range.
    pub fn from_purchases<'a>(
        purchases: impl IntoIterator<Item = Purchase<'a>>,
        period: Period,
        observation_end: Date,
    ) -> Result<Summary> {
        let end = period.of_day(day_of_date(observation_end)?);
        let mut index: HashMap<&'a str, usize> = HashMap::new();
        let mut ids: Vec<&'a str> = Vec::new();
        let mut rows: Vec<(usize, i64, f64)> = Vec::new();
        for p in purchases {
            if !p.amount.is_finite() {
                return Err(Error::value("amount", p.amount.to_string(), "not finite"));
            }
            let id = p.customer_id.trim();
            let c = *index.entry(id).or_insert_with(|| {
                ids.push(id);
                ids.len() - 1
            });
            rows.push((c, period.of_day(day_of_timestamp(p.timestamp)), p.amount));
        }
        // Group by customer then period, keeping first-appearance order of customers.
        rows.sort_by_key(|&(c, per, _)| (c, per));
        let mut accs: Vec<Option<Acc>> = vec![None; ids.len()];
        for (c, per, amount) in rows {
            if per > end {
                continue;
            }
            accumulate(&mut accs[c], per, amount);
        }
        Ok(Self::finish(
            period,
            observation_end,
            end,
            ids.iter().map(|s| (*s).to_owned()).collect(),
            accs,
        ))
    }

    /// Summarises a [`CustomerBase`]'s transactions (refunds left out).
    ///
    /// # Errors
    /// [`Error::MixedCurrencies`] when transactions use more than one currency.
    pub fn from_base(
        base: &CustomerBase,
        period: Period,
        observation_end: Date,
    ) -> Result<Summary> {
        check_one_currency(base)?;
        let end = period.of_day(day_of_date(observation_end)?);
        let (times, amounts, refunds) = (
            base.tx_time_micros(),
            base.tx_amount_units(),
            base.tx_is_refund(),
        );
        let mut ids = Vec::with_capacity(base.n_customers());
        let mut accs = Vec::with_capacity(base.n_customers());
        for c in base.customer_indices() {
            let mut acc = None;
            // Histories are in time order, so periods arrive in order.
            for i in base.transaction_range(c) {
                if refunds[i] {
                    continue;
                }
                let per = period.of_day(day_of_micros(times[i]));
                if per > end {
                    break;
                }
                accumulate(&mut acc, per, amounts[i] as f64 / AMOUNT_SCALE as f64);
            }
            ids.push(base.customer_id(c).to_owned());
            accs.push(acc);
        }
        Ok(Self::finish(period, observation_end, end, ids, accs))
    }

    fn finish(
        period: Period,
        observation_end: Date,
        end: i64,
        ids: Vec<String>,
        accs: Vec<Option<Acc>>,
    ) -> Summary {
        let mut s = Summary {
            period,
            observation_end,
            customer_ids: Vec::with_capacity(ids.len()),
            x: Vec::with_capacity(ids.len()),
            t_x: Vec::with_capacity(ids.len()),
            t_cal: Vec::with_capacity(ids.len()),
            monetary_value: Vec::with_capacity(ids.len()),
            excluded_after_end: 0,
        };
        for (id, acc) in ids.into_iter().zip(accs) {
            let Some(mut a) = acc else {
                s.excluded_after_end += 1;
                continue;
            };
            if a.periods > 1 {
                a.repeat_sum += a.current_sum;
            }
            let x = (a.periods - 1) as f64;
            s.customer_ids.push(id);
            s.x.push(x);
            s.t_x.push((a.last - a.first) as f64);
            s.t_cal.push((end - a.first) as f64);
            s.monetary_value
                .push(if a.periods > 1 { a.repeat_sum / x } else { 0.0 });
        }
        s
    }

    /// Number of customers summarised.
    pub fn len(&self) -> usize {
        self.customer_ids.len()
    }

    /// The summary's columns as a [`Histories`] view (with monetary values).
    pub fn histories(&self) -> Histories<'_> {
        Histories {
            x: &self.x,
            t_x: &self.t_x,
            t_cal: &self.t_cal,
            monetary_value: Some(&self.monetary_value),
        }
    }

    /// Whether no customer is summarised.
    pub fn is_empty(&self) -> bool {
        self.customer_ids.is_empty()
    }

    /// The model-fitting statistic: unique `(x, t_x, T)` with counts.
    pub fn triples(&self) -> Triples {
        let mut t = Triples::default();
        for i in 0..self.len() {
            t.add(self.x[i], self.t_x[i], self.t_cal[i], 1.0);
        }
        t
    }
}

fn accumulate(acc: &mut Option<Acc>, per: i64, amount: f64) {
    match acc {
        None => {
            *acc = Some(Acc {
                first: per,
                last: per,
                periods: 1,
                current_sum: amount,
                repeat_sum: 0.0,
            })
        }
        Some(a) if per == a.last => a.current_sum += amount,
        Some(a) => {
            // A new period: the previous one was a repeat purchase unless it was the first.
            if a.periods > 1 {
                a.repeat_sum += a.current_sum;
            }
            a.last = per;
            a.periods += 1;
            a.current_sum = amount;
        }
    }
}

/// Weighted unique `(x, t_x, T)` triples: the sufficient statistic of the
/// BTYD likelihoods. Partitions built anywhere [`merge`](Triples::merge) exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Triples {
    /// Repeat purchase periods `x` of each triple.
    pub x: Vec<f64>,
    /// Periods from the first to the last purchase `t_x` of each triple.
    pub t_x: Vec<f64>,
    /// Periods from the first purchase to the end of calibration (`T`) of each triple.
    pub t_cal: Vec<f64>,
    /// How many customers share the triple.
    pub weight: Vec<f64>,
    #[serde(skip)]
    index: hashbrown::HashMap<(u64, u64, u64), usize>,
}

impl Triples {
    /// Adds `weight` customers with this triple.
    pub fn add(&mut self, x: f64, t_x: f64, t_cal: f64, weight: f64) {
        if self.index.len() != self.x.len() {
            self.reindex();
        }
        let key = (x.to_bits(), t_x.to_bits(), t_cal.to_bits());
        match self.index.get(&key) {
            Some(&i) => self.weight[i] += weight,
            None => {
                self.index.insert(key, self.x.len());
                self.x.push(x);
                self.t_x.push(t_x);
                self.t_cal.push(t_cal);
                self.weight.push(weight);
            }
        }
    }

    fn reindex(&mut self) {
        self.index = (0..self.x.len())
            .map(|i| {
                (
                    (
                        self.x[i].to_bits(),
                        self.t_x[i].to_bits(),
                        self.t_cal[i].to_bits(),
                    ),
                    i,
                )
            })
            .collect();
    }

    /// Adds another partition's triples.
    pub fn merge(&mut self, other: &Triples) {
        for i in 0..other.len() {
            self.add(other.x[i], other.t_x[i], other.t_cal[i], other.weight[i]);
        }
    }

    /// Number of distinct triples.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Total weight (number of customers).
    pub fn total_weight(&self) -> f64 {
        self.weight.iter().sum()
    }
}

/// A calibration summary with what happened after it (lifetimes' `calibration_and_holdout_data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationHoldout {
    /// Summary up to the calibration end.
    pub calibration: Summary,
    /// Purchase periods of each calibration customer in the holdout.
    pub frequency_holdout: Vec<f64>,
    /// Mean transaction amount in the holdout (0 without holdout purchases).
    pub monetary_value_holdout: Vec<f64>,
    /// Holdout length in periods.
    pub duration_holdout: f64,
}

impl CalibrationHoldout {
    /// Splits a [`CustomerBase`]'s purchases (refunds left out) at
    /// `calibration_end`, as [`CalibrationHoldout::from_purchases`] does.
    ///
    /// # Errors
    /// As [`CalibrationHoldout::from_purchases`], and [`Error::MixedCurrencies`]
    /// when transactions use more than one currency.
    pub fn from_base(
        base: &CustomerBase,
        period: Period,
        calibration_end: Date,
        observation_end: Date,
    ) -> Result<CalibrationHoldout> {
        check_one_currency(base)?;
        let (customers, times, amounts, refunds) = (
            base.tx_customer(),
            base.tx_time_micros(),
            base.tx_amount_units(),
            base.tx_is_refund(),
        );
        let purchases = (0..base.n_transactions())
            .filter(|&i| !refunds[i])
            .filter_map(move |i| {
                // Stored times were valid timestamps when they were ingested.
                let timestamp = Timestamp::from_microsecond(times[i]).ok()?;
                Some(Purchase {
                    customer_id: base.customer_id(customers[i]),
                    timestamp,
                    amount: amounts[i] as f64 / AMOUNT_SCALE as f64,
                })
            });
        Self::from_purchases(purchases, period, calibration_end, observation_end)
    }

    /// Splits purchases at `calibration_end` (a purchase belongs to calibration
    /// when its timestamp is at or before the start of that day, as lifetimes
    /// compares datetimes) and summarises both sides.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the observation end is before the
    /// calibration end; [`Error::EmptyInput`] when the holdout has no purchases.
    pub fn from_purchases<'a>(
        purchases: impl IntoIterator<Item = Purchase<'a>> + Clone,
        period: Period,
        calibration_end: Date,
        observation_end: Date,
    ) -> Result<CalibrationHoldout> {
        if observation_end < calibration_end {
            return Err(Error::param(
                "observation_end",
                observation_end,
                "must not be before the calibration end",
            ));
        }
        let cal_ts = calibration_end
            .to_zoned(TimeZone::UTC)
            .map_err(|e| Error::value("date", calibration_end.to_string(), e.to_string()))?
            .timestamp();
        let obs_ts = observation_end
            .to_zoned(TimeZone::UTC)
            .map_err(|e| Error::value("date", observation_end.to_string(), e.to_string()))?
            .timestamp();
        let calibration = Summary::from_purchases(
            purchases
                .clone()
                .into_iter()
                .filter(|p| p.timestamp <= cal_ts),
            period,
            calibration_end,
        )?;
        let position: HashMap<&str, usize> = calibration
            .customer_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let n = calibration.len();
        let mut periods: Vec<Vec<i64>> = vec![Vec::new(); n];
        let mut sums = vec![0.0; n];
        let mut counts = vec![0u64; n];
        let mut any = false;
        for p in purchases
            .into_iter()
            .filter(|p| p.timestamp > cal_ts && p.timestamp <= obs_ts)
        {
            any = true;
            if let Some(&i) = position.get(p.customer_id.trim()) {
                periods[i].push(period.of_day(day_of_timestamp(p.timestamp)));
                sums[i] += p.amount;
                counts[i] += 1;
            }
        }
        if !any {
            return Err(Error::empty("purchases in the holdout period"));
        }
        let frequency_holdout = periods
            .iter_mut()
            .map(|v| {
                v.sort_unstable();
                v.dedup();
                v.len() as f64
            })
            .collect();
        let monetary_value_holdout = sums
            .iter()
            .zip(&counts)
            .map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
            .collect();
        let duration_holdout = (period.of_day(day_of_date(observation_end)?)
            - period.of_day(day_of_date(calibration_end)?)) as f64;
        Ok(CalibrationHoldout {
            calibration,
            frequency_holdout,
            monetary_value_holdout,
            duration_holdout,
        })
    }
}

/// Summaries add amounts, which only makes sense in one currency.
pub(crate) fn check_one_currency(base: &CustomerBase) -> Result<()> {
    if base.currencies().len() > 1 {
        return Err(Error::MixedCurrencies {
            currencies: base.currencies().iter().map(|c| c.to_string()).collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &'static str, ts: &str, amount: f64) -> Purchase<'static> {
        let timestamp = if ts.len() == 10 {
            ts.parse::<Date>()
                .unwrap()
                .to_zoned(TimeZone::UTC)
                .unwrap()
                .timestamp()
        } else {
            ts.parse().unwrap()
        };
        Purchase {
            customer_id: id,
            timestamp,
            amount,
        }
    }

    /// Pinned against lifetimes 0.11.3:
    /// ```python
    /// import pandas as pd
    /// from lifetimes.utils import summary_data_from_transaction_data
    /// df = pd.DataFrame({"id": ["a","a","a","a","b","c","c","d"],
    ///   "date": pd.to_datetime(["2024-01-01 10:00","2024-01-01 18:00","2024-01-03","2024-01-10",
    ///                           "2024-01-05","2024-01-02","2024-01-02","2024-02-01"], format="mixed"),
    ///   "amount": [10., 5., 20., 30., 7., 1., 2., 9.]})
    /// summary_data_from_transaction_data(df, "id", "date", "amount", observation_period_end="2024-01-20", freq="D")
    /// #    frequency  recency     T  monetary_value
    /// # a        2.0      9.0  19.0            25.0
    /// # b        0.0      0.0  15.0             0.0
    /// # c        0.0      0.0  18.0             0.0
    /// summary_data_from_transaction_data(df, "id", "date", "amount", observation_period_end="2024-01-20", freq="W")
    /// # a        1.0      1.0   2.0            30.0      (weeks: Jan 1–7, Jan 8–14, Jan 15–21)
    /// # b        0.0      0.0   2.0             0.0
    /// # c        0.0      0.0   2.0             0.0
    /// ```
    #[test]
    fn daily_and_weekly_summaries_follow_lifetimes() {
        let data = [
            p("a", "2024-01-01T10:00:00Z", 10.0),
            p("a", "2024-01-01T18:00:00Z", 5.0),
            p("a", "2024-01-03", 20.0),
            p("a", "2024-01-10", 30.0),
            p("b", "2024-01-05", 7.0),
            p("c", "2024-01-02", 1.0),
            p("c", "2024-01-02", 2.0),
            p("d", "2024-02-01", 9.0),
        ];
        let end: Date = "2024-01-20".parse().unwrap();
        let s = Summary::from_purchases(data, Period::Day, end).unwrap();
        assert_eq!(s.customer_ids, ["a", "b", "c"]);
        assert_eq!(s.x, [2.0, 0.0, 0.0]);
        assert_eq!(s.t_x, [9.0, 0.0, 0.0]);
        assert_eq!(s.t_cal, [19.0, 15.0, 18.0]);
        assert_eq!(s.monetary_value, [25.0, 0.0, 0.0]);
        assert_eq!(s.excluded_after_end, 1);
        let w = Summary::from_purchases(data, Period::Week, end).unwrap();
        assert_eq!(w.x, [1.0, 0.0, 0.0]);
        assert_eq!(w.t_x, [1.0, 0.0, 0.0]);
        assert_eq!(w.t_cal, [2.0, 2.0, 2.0]);
        assert_eq!(w.monetary_value, [30.0, 0.0, 0.0]);
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2024-01-07 is a Sunday, 2024-01-08 a Monday.
        let sunday = day_of_date("2024-01-07".parse().unwrap()).unwrap();
        let monday = day_of_date("2024-01-08".parse().unwrap()).unwrap();
        assert_eq!(Period::Week.of_day(sunday) + 1, Period::Week.of_day(monday));
        assert_eq!(Period::Week.of_day(sunday - 6), Period::Week.of_day(sunday));
    }

    /// ```python
    /// calibration_and_holdout_data(df2, "id", "date", calibration_period_end="2024-01-10",
    ///     observation_period_end="2024-01-31", freq="D", monetary_value_col="amount")
    /// ```
    /// where df2 adds a: 2024-01-15 (8), 2024-01-15 (4), 2024-01-20 (6); b: 2024-01-25 (3).
    /// `2024-01-10` itself (midnight) is calibration; later the same day would be holdout.
    /// Result: a frequency_holdout 2, monetary_value_holdout 6.0; b 1, 3.0; c 0, 0.0; duration_holdout 21.
    #[test]
    fn calibration_holdout_from_a_base_equals_from_its_purchases() {
        use crate::synth::{Population, SynthParams};
        let pop = Population::generate(&SynthParams::with_customers(300).with_seed(5)).unwrap();
        let base = &pop.base;
        let end = pop.observation_end.to_zoned(TimeZone::UTC).date();
        let cal = end.checked_sub(jiff::Span::new().days(90)).unwrap();
        let from_base = CalibrationHoldout::from_base(base, Period::Day, cal, end).unwrap();
        let owners = base.tx_customer();
        let rows: Vec<(String, Timestamp, f64)> = (0..base.n_transactions())
            .filter(|&i| !base.tx_is_refund()[i])
            .map(|i| {
                (
                    base.customer_id(owners[i]).to_owned(),
                    Timestamp::from_microsecond(base.tx_time_micros()[i]).unwrap(),
                    base.tx_amount_units()[i] as f64 / AMOUNT_SCALE as f64,
                )
            })
            .collect();
        let purchases = rows.iter().map(|(id, t, a)| Purchase {
            customer_id: id,
            timestamp: *t,
            amount: *a,
        });
        let direct = CalibrationHoldout::from_purchases(purchases, Period::Day, cal, end).unwrap();
        assert_eq!(from_base, direct);
        assert!(from_base.frequency_holdout.iter().any(|&f| f > 0.0));
    }

    #[test]
    fn calibration_and_holdout_follow_lifetimes() {
        let data = vec![
            p("a", "2024-01-01", 10.0),
            p("a", "2024-01-03", 20.0),
            p("a", "2024-01-10", 30.0),
            p("b", "2024-01-05", 7.0),
            p("c", "2024-01-02", 1.0),
            p("a", "2024-01-15", 8.0),
            p("a", "2024-01-15", 4.0),
            p("a", "2024-01-20", 6.0),
            p("b", "2024-01-25", 3.0),
        ];
        let ch = CalibrationHoldout::from_purchases(
            data.iter().copied(),
            Period::Day,
            "2024-01-10".parse().unwrap(),
            "2024-01-31".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(ch.calibration.customer_ids, ["a", "b", "c"]);
        assert_eq!(ch.calibration.x, [2.0, 0.0, 0.0]);
        assert_eq!(ch.frequency_holdout, [2.0, 1.0, 0.0]);
        assert_eq!(ch.monetary_value_holdout, [6.0, 3.0, 0.0]);
        assert_eq!(ch.duration_holdout, 21.0);
    }

    #[test]
    fn triples_merge_exactly() {
        let mut a = Triples::default();
        a.add(1.0, 2.0, 3.0, 1.0);
        a.add(0.0, 0.0, 3.0, 2.0);
        let mut b = Triples::default();
        b.add(1.0, 2.0, 3.0, 5.0);
        b.add(4.0, 5.0, 6.0, 1.0);
        a.merge(&b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.total_weight(), 9.0);
        assert_eq!(a.weight[0], 6.0);
    }
}
