//! Sessions and journeys: a customer's touchpoints cut into visits and into
//! the sequences that lead (or fail to lead) to a conversion.
//!
//! A **session** is a run of touchpoints with no gap longer than
//! [`JourneyParams::session_gap_minutes`] (30 minutes by default, the web
//! analytics convention). A **journey** is what attribution credits: the
//! touchpoints that precede one conversion within the lookback window
//! ([`JourneyParams::lookback_days`], 30 days by default).
//!
//! Rules, per customer, in time order:
//!
//! - Conversions are non-refund transactions, purchase touchpoints, or both
//!   ([`ConversionSource`]). With `Both`, a purchase touchpoint and a
//!   transaction at most one session gap apart are one conversion (the
//!   transaction's time and value): shops often log the order twice.
//! - Purchase touchpoints are outcomes, never path touches. Every other
//!   touchpoint is a touch.
//! - A conversion at time `t` ends a journey holding the pending touches in
//!   `[t − lookback, t]` (a touch at the same instant as the conversion
//!   precedes it). It may hold none: a direct conversion.
//! - Pending touches older than the window did not lead to that conversion:
//!   they form non-converting journeys, each spanning at most the lookback
//!   window from its first touch.
//! - After the last conversion, touches within the lookback window of
//!   [`JourneyParams::as_of`] could still convert: they form one
//!   [`JourneyOutcome::Open`] journey. Events after `as_of` are ignored and counted.
//!
//! - Which touches count is a setting ([`JourneyTouches`]): all of them, or
//!   only marketing touches, leaving out after-sales contact (support,
//!   complaints, reviews written, referrals, unsubscribes;
//!   [`TouchpointKind::is_after_sales`]). Attribution asks which marketing led
//!   to a purchase; a support call after the last order is not a journey that
//!   failed to convert.
//!
//! Every touchpoint row that is not a purchase, not after `as_of` and not left
//! out by [`JourneyTouches`] belongs to exactly one journey
//! ([`Journeys::touch_rows`]); the rows left out are counted
//! ([`Journeys::left_out`]), so nothing is lost.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::TouchpointKind;
use crate::store::{CustomerBase, from_micros, to_micros};

const MINUTE_US: f64 = 60e6;
const DAY_US: f64 = 86_400e6;

/// What counts as a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversionSource {
    /// Non-refund transactions (value = amount).
    Transactions,
    /// Purchase touchpoints (value 0: touchpoints carry no order value).
    PurchaseTouchpoints,
    /// Both, with a purchase touchpoint and a transaction at most one session
    /// gap apart counted once.
    #[default]
    Both,
}

/// How touchpoints are cut into sessions and journeys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JourneyParams {
    /// Inactivity gap that starts a new session, in minutes (default 30).
    pub session_gap_minutes: f64,
    /// Lookback window before a conversion, in days (default 30).
    pub lookback_days: f64,
    /// What counts as a conversion (default both sources).
    pub conversions: ConversionSource,
    /// The analysis time: later events are ignored; touches within the
    /// lookback of it after the last conversion form an open journey.
    /// Default: the latest touchpoint or transaction in the base.
    pub as_of: Option<Timestamp>,
    /// Which touchpoints are journey touches (default all).
    pub touches: JourneyTouches,
}

/// Which touchpoints count as journey touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyTouches {
    /// Every touchpoint except purchases.
    #[default]
    All,
    /// Marketing touches only: after-sales contact
    /// ([`TouchpointKind::is_after_sales`]) is left out.
    Marketing,
}

impl Default for JourneyParams {
    fn default() -> Self {
        JourneyParams {
            session_gap_minutes: 30.0,
            lookback_days: 30.0,
            conversions: ConversionSource::Both,
            as_of: None,
            touches: JourneyTouches::All,
        }
    }
}

impl JourneyParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting.
    pub fn check(&self) -> Result<()> {
        if !(self.session_gap_minutes.is_finite() && self.session_gap_minutes > 0.0) {
            return Err(Error::param(
                "session_gap_minutes",
                self.session_gap_minutes,
                "must be positive and finite",
            ));
        }
        // 100 years keeps every microsecond window inside i64.
        if !(self.lookback_days.is_finite()
            && self.lookback_days > 0.0
            && self.lookback_days <= 36_525.0)
        {
            return Err(Error::param(
                "lookback_days",
                self.lookback_days,
                "must be positive and at most 36525 (100 years)",
            ));
        }
        Ok(())
    }
}

/// How a journey ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyOutcome {
    /// Ended in a conversion.
    Converted,
    /// Its lookback window passed without a conversion.
    NotConverted,
    /// Still within the lookback window at `as_of`: it may yet convert.
    Open,
}

/// Every customer's journeys, as columns (journey `j` is row `j` of each).
///
/// Journeys are ordered by customer index, then time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journeys {
    customer: Vec<u32>,
    outcome: Vec<JourneyOutcome>,
    start_us: Vec<i64>,
    end_us: Vec<i64>,
    value: Vec<f64>,
    sessions: Vec<u32>,
    /// `offsets[j]..offsets[j + 1]` indexes `touch_rows` for journey `j`.
    offsets: Vec<u32>,
    touch_rows: Vec<u32>,
    /// Session number (per customer, from 0) of every touchpoint row of the base.
    session_of_row: Vec<u32>,
    n_sessions: u64,
    ignored_after_as_of: u64,
    /// Touchpoint rows left out by [`JourneyParams::touches`].
    #[serde(default)]
    left_out: u64,
    as_of_us: i64,
}

/// One journey, borrowed from [`Journeys`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Journey<'a> {
    /// Customer index in the base.
    pub customer: u32,
    /// How it ended.
    pub outcome: JourneyOutcome,
    /// First touch (the conversion time for a direct conversion).
    pub start: Timestamp,
    /// The conversion time, or the last touch.
    pub end: Timestamp,
    /// Conversion value (0 unless converted from a transaction).
    pub value: f64,
    /// Distinct sessions among its touches.
    pub sessions: u32,
    /// Touchpoint rows of the base, in time order.
    pub touch_rows: &'a [u32],
}

impl Journey<'_> {
    /// Whether it converted.
    pub fn converted(&self) -> bool {
        self.outcome == JourneyOutcome::Converted
    }

    /// End minus start, in days.
    pub fn duration_days(&self) -> f64 {
        (to_micros(self.end) - to_micros(self.start)) as f64 / DAY_US
    }

    /// Days from the first touch to the conversion; `None` unless converted with touches.
    pub fn days_to_conversion(&self) -> Option<f64> {
        (self.converted() && !self.touch_rows.is_empty()).then(|| self.duration_days())
    }
}

impl Journeys {
    /// Cuts every customer's touchpoints into sessions and journeys.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a non-positive session gap or lookback.
    ///
    /// # Example
    /// ```
    /// use custinsight::prelude::*;
    /// use custinsight::touchpoints::journey::{JourneyOutcome, JourneyParams, Journeys};
    ///
    /// let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    /// let id = CustomerId::new("c1")?;
    /// let mut b = CustomerBase::builder();
    /// b.add_touchpoint(&Touchpoint::new(id.clone(), at("2024-03-01T09:00:00Z"), Channel::Email, TouchpointKind::Click))?;
    /// b.add_touchpoint(&Touchpoint::new(id.clone(), at("2024-03-02T18:00:00Z"), Channel::SearchAds, TouchpointKind::Click))?;
    /// b.add_transaction(&Transaction::new("o-1", id, at("2024-03-02T18:10:00Z"),
    ///     Money::parse("40", Currency::EUR)?, Channel::Web))?;
    /// let base = b.build()?;
    ///
    /// let journeys = Journeys::build(&base, &JourneyParams::default())?;
    /// assert_eq!(journeys.len(), 1);
    /// let j = journeys.get(0).unwrap();
    /// assert_eq!((j.outcome, j.value, j.touch_rows.len(), j.sessions), (JourneyOutcome::Converted, 40.0, 2, 2));
    /// # Ok::<(), custinsight::Error>(())
    /// ```
    pub fn build(base: &CustomerBase, params: &JourneyParams) -> Result<Journeys> {
        params.check()?;
        let purchase = base
            .kinds()
            .iter()
            .position(|k| *k == TouchpointKind::Purchase)
            .map(|c| c as u16);
        let as_of_us = match params.as_of {
            Some(t) => to_micros(t),
            None => {
                let last = |v: &[i64]| v.iter().copied().max();
                match (last(base.tp_time_micros()), last(base.tx_time_micros())) {
                    (Some(a), Some(b)) => a.max(b),
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => 0,
                }
            }
        };
        let left_out_kinds = base
            .kinds()
            .iter()
            .map(|k| params.touches == JourneyTouches::Marketing && k.is_after_sales())
            .collect();
        let rules = Rules {
            left_out_kinds,
            gap_us: (params.session_gap_minutes * MINUTE_US).round() as i64,
            lookback_us: (params.lookback_days * DAY_US).round() as i64,
            source: params.conversions,
            purchase,
            as_of_us,
        };
        // Chunks of customers in parallel, concatenated in order: deterministic.
        const CUSTOMERS_PER_CHUNK: usize = 16_384;
        let n = base.n_customers();
        let chunks = crate::parallel::map_range(n.div_ceil(CUSTOMERS_PER_CHUNK), |c| {
            let lo = c * CUSTOMERS_PER_CHUNK;
            let hi = (lo + CUSTOMERS_PER_CHUNK).min(n);
            let mut part = Part::default();
            let mut scratch = Scratch::default();
            for customer in lo..hi {
                part.customer(base, customer as u32, &rules, &mut scratch);
            }
            part
        });

        let n_journeys: usize = chunks.iter().map(|p| p.customer.len()).sum();
        let n_touches: usize = chunks.iter().map(|p| p.touch_rows.len()).sum();
        let mut out = Journeys {
            customer: Vec::with_capacity(n_journeys),
            outcome: Vec::with_capacity(n_journeys),
            start_us: Vec::with_capacity(n_journeys),
            end_us: Vec::with_capacity(n_journeys),
            value: Vec::with_capacity(n_journeys),
            sessions: Vec::with_capacity(n_journeys),
            offsets: Vec::with_capacity(n_journeys + 1),
            touch_rows: Vec::with_capacity(n_touches),
            session_of_row: Vec::with_capacity(base.n_touchpoints()),
            n_sessions: 0,
            ignored_after_as_of: 0,
            left_out: 0,
            as_of_us,
        };
        out.offsets.push(0);
        for p in chunks {
            let base_offset = out.touch_rows.len();
            if u32::try_from(base_offset + p.touch_rows.len()).is_err() {
                return Err(Error::Capacity(
                    "more than 4,294,967,295 journey touches".into(),
                ));
            }
            out.customer.extend_from_slice(&p.customer);
            out.outcome.extend_from_slice(&p.outcome);
            out.start_us.extend_from_slice(&p.start_us);
            out.end_us.extend_from_slice(&p.end_us);
            out.value.extend_from_slice(&p.value);
            out.sessions.extend_from_slice(&p.sessions);
            out.offsets
                .extend(p.ends.iter().map(|&e| (base_offset + e as usize) as u32));
            out.touch_rows.extend_from_slice(&p.touch_rows);
            out.session_of_row.extend_from_slice(&p.session_of_row);
            out.n_sessions += p.n_sessions;
            out.ignored_after_as_of += p.ignored_after_as_of;
            out.left_out += p.left_out;
        }
        Ok(out)
    }

    /// Number of journeys.
    pub fn len(&self) -> usize {
        self.customer.len()
    }

    /// Whether there are no journeys.
    pub fn is_empty(&self) -> bool {
        self.customer.is_empty()
    }

    /// Journey `j`.
    pub fn get(&self, j: usize) -> Option<Journey<'_>> {
        let (lo, hi) = (
            *self.offsets.get(j)? as usize,
            *self.offsets.get(j + 1)? as usize,
        );
        Some(Journey {
            customer: self.customer[j],
            outcome: self.outcome[j],
            start: from_micros(self.start_us[j]),
            end: from_micros(self.end_us[j]),
            value: self.value[j],
            sessions: self.sessions[j],
            touch_rows: self.touch_rows.get(lo..hi)?,
        })
    }

    /// All journeys in order.
    pub fn iter(&self) -> impl Iterator<Item = Journey<'_>> + '_ {
        (0..self.len()).filter_map(|j| self.get(j))
    }

    /// Customer index of every journey.
    pub fn customers(&self) -> &[u32] {
        &self.customer
    }

    /// Outcome of every journey.
    pub fn outcomes(&self) -> &[JourneyOutcome] {
        &self.outcome
    }

    /// Conversion value of every journey.
    pub fn values(&self) -> &[f64] {
        &self.value
    }

    /// Start (first touch) of every journey, microseconds since the epoch.
    pub fn start_micros(&self) -> &[i64] {
        &self.start_us
    }

    /// End (conversion or last touch) of every journey, microseconds since the epoch.
    pub fn end_micros(&self) -> &[i64] {
        &self.end_us
    }

    /// `offsets()[j]..offsets()[j + 1]` indexes [`Journeys::touch_rows`] for journey `j`.
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// The base's touchpoint rows of every journey, concatenated in journey order.
    pub fn touch_rows(&self) -> &[u32] {
        &self.touch_rows
    }

    /// Session number (per customer, counting from 0) of every touchpoint row
    /// of the base, purchases and events after `as_of` included.
    pub fn session_of_row(&self) -> &[u32] {
        &self.session_of_row
    }

    /// Number of sessions over all customers.
    pub fn n_sessions(&self) -> u64 {
        self.n_sessions
    }

    /// Touchpoint rows and transactions after `as_of`, ignored.
    pub fn ignored_after_as_of(&self) -> u64 {
        self.ignored_after_as_of
    }

    /// Touchpoint rows (not after `as_of`) that are in no journey because
    /// [`JourneyParams::touches`] leaves their kind out.
    pub fn left_out(&self) -> u64 {
        self.left_out
    }

    /// The analysis time used.
    pub fn as_of(&self) -> Timestamp {
        from_micros(self.as_of_us)
    }

    /// Journeys by outcome: `(converted, not converted, open)`.
    pub fn outcome_counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for o in &self.outcome {
            match o {
                JourneyOutcome::Converted => c.0 += 1,
                JourneyOutcome::NotConverted => c.1 += 1,
                JourneyOutcome::Open => c.2 += 1,
            }
        }
        c
    }
}

struct Rules {
    /// Per kind code of the base: whether touches of that kind are left out.
    left_out_kinds: Vec<bool>,
    gap_us: i64,
    lookback_us: i64,
    source: ConversionSource,
    purchase: Option<u16>,
    as_of_us: i64,
}

/// Journeys of a range of customers; `ends` are offsets into this part's `touch_rows`.
#[derive(Default)]
struct Part {
    customer: Vec<u32>,
    outcome: Vec<JourneyOutcome>,
    start_us: Vec<i64>,
    end_us: Vec<i64>,
    value: Vec<f64>,
    sessions: Vec<u32>,
    ends: Vec<u32>,
    touch_rows: Vec<u32>,
    session_of_row: Vec<u32>,
    n_sessions: u64,
    ignored_after_as_of: u64,
    left_out: u64,
}

/// The conversion that closes a converting journey: its time (microseconds
/// since the Unix epoch) and its value.
#[derive(Debug, Clone, Copy)]
struct ClosingConversion {
    at: i64,
    value: f64,
}

#[derive(Default)]
struct Scratch {
    /// Conversions: (time, value).
    conversions: Vec<(i64, f64)>,
    /// Purchase touchpoint times.
    purchases: Vec<i64>,
    /// Pending touch rows.
    pending: Vec<u32>,
    /// Transactions already matched to a purchase touchpoint.
    matched: Vec<bool>,
    /// Purchase touchpoints matched to no transaction: their own conversions.
    unmatched: Vec<(i64, f64)>,
}

impl Part {
    fn customer(&mut self, base: &CustomerBase, customer: u32, rules: &Rules, s: &mut Scratch) {
        let tp_time = base.tp_time_micros();
        let tp_kind = base.tp_kind_codes();
        let rows = base.touchpoint_range(customer);
        let first_row = rows.start;

        // Sessions over every touchpoint row (the column is aligned with the base).
        let mut session = 0u32;
        let mut previous: Option<i64> = None;
        for r in rows.clone() {
            let t = tp_time[r];
            if let Some(p) = previous {
                if t - p > rules.gap_us {
                    session += 1;
                }
            }
            previous = Some(t);
            self.session_of_row.push(session);
        }
        if previous.is_some() {
            self.n_sessions += u64::from(session) + 1;
        }

        // Conversions, in time order.
        s.conversions.clear();
        s.purchases.clear();
        let is_purchase = |r: usize| Some(tp_kind[r]) == rules.purchase;
        if rules.source != ConversionSource::Transactions {
            s.purchases
                .extend(rows.clone().filter(|&r| is_purchase(r)).map(|r| tp_time[r]));
        }
        let mut transactions = 0usize;
        if rules.source != ConversionSource::PurchaseTouchpoints {
            let (times, amounts, refunds) = (
                base.tx_time_micros(),
                base.tx_amount_units(),
                base.tx_is_refund(),
            );
            for i in base.transaction_range(customer) {
                if !refunds[i] {
                    let value = amounts[i] as f64 / crate::records::AMOUNT_SCALE as f64;
                    s.conversions.push((times[i], value));
                    transactions += 1;
                }
            }
        }
        // Purchase touchpoints: matched to the nearest unmatched transaction within one gap, else their own conversion.
        if !s.purchases.is_empty() {
            s.matched.clear();
            s.matched.resize(transactions, false);
            s.unmatched.clear();
            let mut lo = 0usize;
            for &p in &s.purchases {
                while lo < transactions && s.conversions[lo].0 < p - rules.gap_us {
                    lo += 1;
                }
                let mut best: Option<usize> = None;
                let mut k = lo;
                while k < transactions && s.conversions[k].0 <= p + rules.gap_us {
                    if !s.matched[k] {
                        let closer = best.is_none_or(|b| {
                            (s.conversions[k].0 - p).abs() < (s.conversions[b].0 - p).abs()
                        });
                        if closer {
                            best = Some(k);
                        }
                    }
                    k += 1;
                }
                match best {
                    Some(b) => s.matched[b] = true,
                    None => s.unmatched.push((p, 0.0)),
                }
            }
            if !s.unmatched.is_empty() {
                s.conversions.extend_from_slice(&s.unmatched);
                s.conversions.sort_by_key(|c| c.0);
            }
        }
        s.conversions.retain(|c| c.0 <= rules.as_of_us);
        let tx_times = base.tx_time_micros();
        self.ignored_after_as_of += base
            .transaction_range(customer)
            .filter(|&i| tx_times[i] > rules.as_of_us)
            .count() as u64;

        // Journeys.
        s.pending.clear();
        let mut next_conversion = 0usize;
        for r in rows.clone() {
            if is_purchase(r) {
                if tp_time[r] > rules.as_of_us {
                    self.ignored_after_as_of += 1;
                }
                continue;
            }
            let t = tp_time[r];
            if t > rules.as_of_us {
                self.ignored_after_as_of += 1;
                continue;
            }
            if rules.left_out_kinds[tp_kind[r] as usize] {
                self.left_out += 1;
                continue;
            }
            // Conversions strictly before this touch close journeys first.
            while let Some(&(ct, value)) = s.conversions.get(next_conversion) {
                if ct >= t {
                    break;
                }
                self.close_converted(
                    base,
                    customer,
                    first_row,
                    rules,
                    s,
                    ClosingConversion { at: ct, value },
                );
                next_conversion += 1;
            }
            s.pending.push(r as u32);
        }
        while let Some(&(ct, value)) = s.conversions.get(next_conversion) {
            self.close_converted(
                base,
                customer,
                first_row,
                rules,
                s,
                ClosingConversion { at: ct, value },
            );
            next_conversion += 1;
        }
        // The tail: open within the lookback of as_of, otherwise not converted.
        let open_from = s
            .pending
            .partition_point(|&r| tp_time[r as usize] < rules.as_of_us - rules.lookback_us);
        let pending = std::mem::take(&mut s.pending);
        self.close_unconverted(base, customer, first_row, rules, &pending[..open_from]);
        if open_from < pending.len() {
            self.push_journey(
                base,
                customer,
                first_row,
                JourneyOutcome::Open,
                &pending[open_from..],
                None,
            );
        }
        s.pending = pending;
        s.pending.clear();
    }

    fn close_converted(
        &mut self,
        base: &CustomerBase,
        customer: u32,
        first_row: usize,
        rules: &Rules,
        s: &mut Scratch,
        conversion: ClosingConversion,
    ) {
        let ClosingConversion { at, value } = conversion;
        let tp_time = base.tp_time_micros();
        let split = s
            .pending
            .partition_point(|&r| tp_time[r as usize] < at - rules.lookback_us);
        let pending = std::mem::take(&mut s.pending);
        self.close_unconverted(base, customer, first_row, rules, &pending[..split]);
        self.push_journey(
            base,
            customer,
            first_row,
            JourneyOutcome::Converted,
            &pending[split..],
            Some((at, value)),
        );
        s.pending = pending;
        s.pending.clear();
    }

    /// Non-converting journeys from `touches`, each spanning at most the lookback from its first touch.
    fn close_unconverted(
        &mut self,
        base: &CustomerBase,
        customer: u32,
        first_row: usize,
        rules: &Rules,
        touches: &[u32],
    ) {
        let tp_time = base.tp_time_micros();
        let mut lo = 0;
        while lo < touches.len() {
            let limit = tp_time[touches[lo] as usize] + rules.lookback_us;
            let hi = lo + touches[lo..].partition_point(|&r| tp_time[r as usize] <= limit);
            self.push_journey(
                base,
                customer,
                first_row,
                JourneyOutcome::NotConverted,
                &touches[lo..hi],
                None,
            );
            lo = hi;
        }
    }

    fn push_journey(
        &mut self,
        base: &CustomerBase,
        customer: u32,
        first_row: usize,
        outcome: JourneyOutcome,
        touches: &[u32],
        conversion: Option<(i64, f64)>,
    ) {
        let tp_time = base.tp_time_micros();
        let first = touches.first().map(|&r| tp_time[r as usize]);
        let last = touches.last().map(|&r| tp_time[r as usize]);
        let (end, value) = match conversion {
            Some((at, v)) => (at, v),
            None => (last.unwrap_or(0), 0.0),
        };
        // Distinct sessions: session numbers are non-decreasing along a customer's rows.
        let session_row = |r: u32| {
            // `session_of_row` already holds this customer's rows, starting at its end minus the range.
            let local = r as usize - first_row;
            let customer_start = self.session_of_row.len() - base.touchpoint_range(customer).len();
            self.session_of_row[customer_start + local]
        };
        let mut sessions = 0u32;
        let mut last_session = None;
        for &r in touches {
            let sn = session_row(r);
            if last_session != Some(sn) {
                sessions += 1;
                last_session = Some(sn);
            }
        }
        self.customer.push(customer);
        self.outcome.push(outcome);
        self.start_us.push(first.unwrap_or(end));
        self.end_us.push(end);
        self.value.push(value);
        self.sessions.push(sessions);
        self.touch_rows.extend_from_slice(touches);
        self.ends.push(self.touch_rows.len() as u32);
    }
}
