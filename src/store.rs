//! [`CustomerBase`]: customers, transactions and touchpoints held columnar.
//!
//! External ids are interned once into dense `u32` customer indices (in order
//! of first appearance). Transactions and touchpoints are stored as parallel
//! columns sorted by (customer, time, input order), so each customer's history
//! is one contiguous, time-ordered range and analytics run over plain slices.
//!
//! Times are kept as `i64` microseconds since the Unix epoch (sub-microsecond
//! precision is dropped); amounts as exact fixed-point units of 1/10,000
//! ([`Money`]); labels (channel, kind, currency) as small dictionary codes.
//! No column says whose each row is: the rows are grouped by customer, so the
//! customer's offsets do ([`CustomerBase::transaction_customer`]).
//! A transaction without line items costs about 27 bytes plus its order id
//! text, a touchpoint about 21 bytes plus its cost when it has one (costs
//! are held sparsely: most touchpoints have none). Customer records
//! (profile, consent ledger, provenance) are packed into one byte arena
//! ([`CustomerRecords`], about 200 bytes a customer with five consent
//! events) and decoded when asked for; [`CustomerBase::memory`] reports the
//! measured figures.

mod builder;
mod bulk;
mod costs;
mod export;
pub(crate) use export::{TOUCHPOINT_FIELDS, TRANSACTION_FIELDS, csv_err, csv_header};
mod history;
mod intern;
mod packed;
mod regroup;
mod rows;
mod sort;

use std::ops::Range;

use jiff::Timestamp;

pub use builder::CustomerBaseBuilder;
#[cfg(feature = "parallel")]
pub(crate) use builder::{TouchpointColumns, TouchpointExtra};
pub(crate) use costs::SparseCosts;
pub use history::{History, OwnedHistory};
pub(crate) use intern::{Dictionary, Interner, StrArena};
pub use packed::CustomerRecords;
pub(crate) use packed::{encode_customer, encode_event};
pub use regroup::Regrouping;
pub use rows::TransactionRef;
pub(crate) use rows::{CodedTouchpoint, CodedTransaction, TouchpointRef};

use crate::records::{
    Channel, Currency, Customer, JourneyStage, LineItem, Money, Purpose, Touchpoint,
    TouchpointKind, Transaction,
};

/// Marker for an absent optional dictionary reference (store, campaign, …).
pub(crate) const NONE_U32: u32 = u32::MAX;
/// The `content_stage` code of a touchpoint without one.
pub(crate) const NO_STAGE: u8 = u8::MAX;

/// Converts a timestamp to the store's microsecond representation.
pub fn to_micros(ts: Timestamp) -> i64 {
    ts.as_microsecond()
}

/// Converts the store's microsecond representation back to a timestamp.
///
/// Values outside jiff's supported range (years −9999…9999) saturate at its bounds.
pub fn from_micros(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// Transaction columns (all the same length, sorted by customer then time).
#[derive(Debug, Clone, Default)]
pub(crate) struct TransactionTable {
    pub(crate) customer: Vec<u32>,
    pub(crate) time_us: Vec<i64>,
    pub(crate) amount_units: Vec<i64>,
    pub(crate) currency: Vec<u16>,
    pub(crate) channel: Vec<u16>,
    pub(crate) is_refund: Vec<bool>,
    pub(crate) store: Vec<u32>,
    pub(crate) order_id: StrArena,
    /// Empty when no transaction has line items; otherwise `len + 1` offsets into `items`.
    pub(crate) item_start: Vec<u32>,
    pub(crate) items: Vec<LineItem>,
}

/// Touchpoint columns (all the same length, sorted by customer then time).
#[derive(Debug, Clone, Default)]
pub(crate) struct TouchpointTable {
    pub(crate) customer: Vec<u32>,
    pub(crate) time_us: Vec<i64>,
    pub(crate) channel: Vec<u16>,
    pub(crate) kind: Vec<u16>,
    pub(crate) campaign: Vec<u32>,
    pub(crate) topic: Vec<u32>,
    /// Cost in 1/10,000 units and currency code, of the rows that have one.
    pub(crate) cost: SparseCosts,
    /// Session code of every row (`NONE_U32` for none); empty when no row has one.
    pub(crate) session: Vec<u32>,
    /// [`JourneyStage`] index the content was made for; [`NO_STAGE`] when unknown.
    pub(crate) content_stage: Vec<u8>,
}

/// Heap memory used by a [`CustomerBase`], by part.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MemoryUsage {
    /// Bytes held by transaction columns (including order id text and line items).
    pub transaction_bytes: usize,
    /// Bytes held by touchpoint columns.
    pub touchpoint_bytes: usize,
    /// Bytes held by customer ids, the id index, profiles and offsets.
    pub customer_bytes: usize,
    /// `transaction_bytes / n_transactions` (0 when there are none).
    pub bytes_per_transaction: f64,
    /// `touchpoint_bytes / n_touchpoints` (0 when there are none).
    pub bytes_per_touchpoint: f64,
}

/// Customers, transactions and touchpoints, columnar, with dense customer indices.
///
/// Build one with [`CustomerBase::builder`] or [`CustomerBase::from_records`],
/// or through [`crate::ingest`].
///
/// ```
/// use custinsight::prelude::*;
///
/// let ts = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
/// let mut b = CustomerBase::builder();
/// let id = CustomerId::new("00042")?;
/// b.add_transaction(&Transaction::new("o-2", id.clone(), ts("2024-03-01T10:00:00Z"),
///     Money::parse("30", Currency::EUR)?, Channel::Web))?;
/// b.add_transaction(&Transaction::new("o-1", id, ts("2024-01-01T10:00:00Z"),
///     Money::parse("12.5", Currency::EUR)?, Channel::Store))?;
/// let base = b.build()?;
/// let idx = base.index_of("00042").unwrap();
/// let history: Vec<String> = base.transaction_range(idx).map(|i| base.order_id(i).to_owned()).collect();
/// assert_eq!(history, ["o-1", "o-2"]); // time order
/// # Ok::<(), custinsight::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CustomerBase {
    pub(crate) ids: Interner,
    pub(crate) customers: CustomerRecords,
    pub(crate) tx: TransactionTable,
    pub(crate) tp: TouchpointTable,
    /// `tx_offsets[c]..tx_offsets[c + 1]` is customer `c`'s transaction range.
    pub(crate) tx_offsets: Vec<usize>,
    pub(crate) tp_offsets: Vec<usize>,
    pub(crate) channels: Dictionary<Channel>,
    pub(crate) kinds: Dictionary<TouchpointKind>,
    pub(crate) currencies: Dictionary<Currency>,
    pub(crate) stores: Interner,
    pub(crate) campaigns: Interner,
    pub(crate) topics: Interner,
    pub(crate) sessions: Interner,
}

impl CustomerBase {
    /// A builder for bulk loading.
    pub fn builder() -> CustomerBaseBuilder {
        CustomerBaseBuilder::new()
    }

    /// Builds a base from owned records (transactions are added in bulk).
    ///
    /// # Errors
    /// The first error from [`CustomerBaseBuilder::add_customer`],
    /// [`Transaction::check`], a repeated order id (the first transaction
    /// position with a problem), or [`CustomerBaseBuilder::add_touchpoint`].
    pub fn from_records<'a>(
        customers: impl IntoIterator<Item = Customer>,
        transactions: impl IntoIterator<Item = &'a Transaction>,
        touchpoints: impl IntoIterator<Item = &'a Touchpoint>,
    ) -> crate::Result<Self> {
        let mut b = CustomerBaseBuilder::new();
        for c in customers {
            b.add_customer(c)?;
        }
        let transactions: Vec<&Transaction> = transactions.into_iter().collect();
        let mut first_error: Option<(usize, crate::Error)> = None;
        let mut valid = Vec::with_capacity(transactions.len());
        for (position, t) in transactions.iter().enumerate() {
            match t.check() {
                Ok(()) => valid.push(position),
                Err(e) => {
                    first_error.get_or_insert((position, e));
                }
            }
        }
        let rejected =
            b.add_transactions(valid.iter().map(|&i| TransactionRef::from(transactions[i])))?;
        if let Some((k, e)) = rejected.into_iter().next() {
            let position = valid[k];
            if first_error.as_ref().is_none_or(|(p, _)| position < *p) {
                first_error = Some((position, e));
            }
        }
        if let Some((_, e)) = first_error {
            return Err(e);
        }
        for t in touchpoints {
            b.add_touchpoint(t)?;
        }
        b.build()
    }

    /// Number of customers (with a profile, or seen in a transaction or touchpoint).
    pub fn n_customers(&self) -> usize {
        self.ids.len()
    }

    /// Number of transactions.
    pub fn n_transactions(&self) -> usize {
        self.tx.time_us.len()
    }

    /// Number of touchpoints.
    pub fn n_touchpoints(&self) -> usize {
        self.tp.time_us.len()
    }

    /// The dense index of an external customer id, in O(1).
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.ids.get(id.trim())
    }

    /// The external id of a customer index (empty for an out-of-range index).
    pub fn customer_id(&self, index: u32) -> &str {
        self.ids.resolve(index)
    }

    /// The customer record (profile, consent, provenance), if one was
    /// loaded, decoded from the base's packed records.
    pub fn customer(&self, index: u32) -> Option<Customer> {
        self.customers.get(index as usize)
    }

    /// Whether the customer has a record (profile, consent, provenance).
    pub fn has_record(&self, index: u32) -> bool {
        self.customers.has(index as usize)
    }

    /// The customer's consent ledger (empty without a record).
    pub fn consent(&self, index: u32) -> crate::records::Consent {
        self.customers.consent(index as usize)
    }

    /// The packed customer records, by customer index.
    pub fn records(&self) -> &CustomerRecords {
        &self.customers
    }

    /// Customer indices `0..n_customers`.
    pub fn customer_indices(&self) -> Range<u32> {
        0..self.ids.len() as u32
    }

    /// May we contact the customer on `channel` for `purpose` at `at`? `false`
    /// when there is no customer record (consent is opt-in).
    pub fn allows(&self, index: u32, channel: &Channel, purpose: &Purpose, at: Timestamp) -> bool {
        self.customers.allows(index as usize, channel, purpose, at)
    }

    /// The range of transaction rows belonging to a customer, in time order.
    pub fn transaction_range(&self, index: u32) -> Range<usize> {
        offsets_range(&self.tx_offsets, index)
    }

    /// The range of touchpoint rows belonging to a customer, in time order.
    pub fn touchpoint_range(&self, index: u32) -> Range<usize> {
        offsets_range(&self.tp_offsets, index)
    }

    /// Customer index of every transaction row, expanded from the
    /// customers' ranges (the base keeps no per-row customer column: the
    /// rows are grouped by customer, so the ranges say whose each row is).
    pub fn tx_customer(&self) -> Vec<u32> {
        expand_ranges(&self.tx_offsets)
    }

    /// The customer of transaction row `i`, in O(log customers).
    pub fn transaction_customer(&self, i: usize) -> Option<u32> {
        row_owner(&self.tx_offsets, i)
    }

    /// Time of every transaction row, microseconds since the Unix epoch.
    pub fn tx_time_micros(&self) -> &[i64] {
        &self.tx.time_us
    }

    /// Amount of every transaction row in 1/10,000 currency units.
    pub fn tx_amount_units(&self) -> &[i64] {
        &self.tx.amount_units
    }

    /// Refund flag of every transaction row.
    pub fn tx_is_refund(&self) -> &[bool] {
        &self.tx.is_refund
    }

    /// Channel code of every transaction row; decode with [`CustomerBase::channel`].
    pub fn tx_channel_codes(&self) -> &[u16] {
        &self.tx.channel
    }

    /// Currency of transaction row `i`.
    pub fn tx_currency(&self, i: usize) -> Option<Currency> {
        self.tx
            .currency
            .get(i)
            .and_then(|&c| self.currencies.get(c))
            .copied()
    }

    /// Order id of transaction row `i` (empty for an out-of-range row).
    pub fn order_id(&self, i: usize) -> &str {
        u32::try_from(i)
            .map(|i| self.tx.order_id.get(i))
            .unwrap_or("")
    }

    /// Customer index of every touchpoint row, expanded from the
    /// customers' ranges (see [`tx_customer`](Self::tx_customer)).
    pub fn tp_customer(&self) -> Vec<u32> {
        expand_ranges(&self.tp_offsets)
    }

    /// The customer of touchpoint row `i`, in O(log customers).
    pub fn touchpoint_customer(&self, i: usize) -> Option<u32> {
        row_owner(&self.tp_offsets, i)
    }

    /// Time of every touchpoint row, microseconds since the Unix epoch.
    pub fn tp_time_micros(&self) -> &[i64] {
        &self.tp.time_us
    }

    /// Channel code of every touchpoint row; decode with [`CustomerBase::channel`].
    pub fn tp_channel_codes(&self) -> &[u16] {
        &self.tp.channel
    }

    /// Kind code of every touchpoint row; decode with [`CustomerBase::kind`].
    pub fn tp_kind_codes(&self) -> &[u16] {
        &self.tp.kind
    }

    /// Campaign code of every touchpoint row (`u32::MAX` for none); decode with [`CustomerBase::campaign`].
    pub fn tp_campaign_codes(&self) -> &[u32] {
        &self.tp.campaign
    }

    /// Topic code of every touchpoint row (`u32::MAX` for none); decode with [`CustomerBase::topic`].
    pub fn tp_topic_codes(&self) -> &[u32] {
        &self.tp.topic
    }

    /// Cost of touchpoint row `i`, if known.
    pub fn tp_cost(&self, i: usize) -> Option<Money> {
        let (units, currency) = self.tp.cost.get(i)?;
        Some(Money::from_units(units, *self.currencies.get(currency)?))
    }

    /// The journey stage touchpoint row `i`'s content was made for, if known.
    pub fn tp_content_stage(&self, i: usize) -> Option<JourneyStage> {
        JourneyStage::ALL
            .get(*self.tp.content_stage.get(i)? as usize)
            .copied()
    }

    /// The campaign name for a campaign code.
    pub fn campaign(&self, code: u32) -> Option<&str> {
        ((code as usize) < self.campaigns.len()).then(|| self.campaigns.resolve(code))
    }

    /// Number of distinct campaigns (codes are `0..n_campaigns()`).
    pub fn n_campaigns(&self) -> usize {
        self.campaigns.len()
    }

    /// The topic for a topic code.
    pub fn topic(&self, code: u32) -> Option<&str> {
        ((code as usize) < self.topics.len()).then(|| self.topics.resolve(code))
    }

    /// Number of distinct topics (codes are `0..n_topics()`).
    pub fn n_topics(&self) -> usize {
        self.topics.len()
    }

    /// The channel for a channel code.
    pub fn channel(&self, code: u16) -> Option<&Channel> {
        self.channels.get(code)
    }

    /// All channels seen, indexed by code.
    pub fn channels(&self) -> &[Channel] {
        self.channels.values()
    }

    /// The touchpoint kind for a kind code.
    pub fn kind(&self, code: u16) -> Option<&TouchpointKind> {
        self.kinds.get(code)
    }

    /// All touchpoint kinds seen, indexed by code.
    pub fn kinds(&self) -> &[TouchpointKind] {
        self.kinds.values()
    }

    /// All currencies seen, indexed by code.
    pub fn currencies(&self) -> &[Currency] {
        self.currencies.values()
    }

    /// Transaction row `i` as an owned [`Transaction`].
    pub fn transaction(&self, i: usize) -> Option<Transaction> {
        let t = &self.tx;
        let customer = self.transaction_customer(i)?;
        let currency = *self.currencies.get(*t.currency.get(i)?)?;
        let line_items = match (t.item_start.get(i), t.item_start.get(i + 1)) {
            (Some(&a), Some(&b)) => t
                .items
                .get(a as usize..b as usize)
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let store = t
            .store
            .get(i)
            .filter(|&&s| s != NONE_U32)
            .map(|&s| self.stores.resolve(s).to_owned());
        Some(Transaction {
            order_id: self.order_id(i).to_owned(),
            customer_id: crate::records::CustomerId::new(self.customer_id(customer)).ok()?,
            timestamp: from_micros(*t.time_us.get(i)?),
            amount: Money::from_units(*t.amount_units.get(i)?, currency),
            is_refund: *t.is_refund.get(i)?,
            channel: self.channels.get(*t.channel.get(i)?)?.clone(),
            line_items,
            store,
        })
    }

    /// Touchpoint row `i` as an owned [`Touchpoint`].
    pub fn touchpoint(&self, i: usize) -> Option<Touchpoint> {
        let t = &self.tp;
        let opt = |interner: &Interner, code: u32| {
            (code != NONE_U32).then(|| interner.resolve(code).to_owned())
        };
        let cost = match t.cost.get(i) {
            None => None,
            Some((units, currency)) => {
                Some(Money::from_units(units, *self.currencies.get(currency)?))
            }
        };
        Some(Touchpoint {
            customer_id: crate::records::CustomerId::new(
                self.customer_id(self.touchpoint_customer(i)?),
            )
            .ok()?,
            timestamp: from_micros(*t.time_us.get(i)?),
            channel: self.channels.get(*t.channel.get(i)?)?.clone(),
            kind: self.kinds.get(*t.kind.get(i)?)?.clone(),
            campaign: opt(&self.campaigns, *t.campaign.get(i)?),
            topic: opt(&self.topics, *t.topic.get(i)?),
            cost,
            session_id: opt(
                &self.sessions,
                t.session.get(i).copied().unwrap_or(NONE_U32),
            ),
            content_stage: JourneyStage::ALL
                .get(*t.content_stage.get(i)? as usize)
                .copied(),
        })
    }

    /// All transactions as owned values, in storage order.
    pub fn iter_transactions(&self) -> impl Iterator<Item = Transaction> + '_ {
        (0..self.n_transactions()).filter_map(|i| self.transaction(i))
    }

    /// All touchpoints as owned values, in storage order.
    pub fn iter_touchpoints(&self) -> impl Iterator<Item = Touchpoint> + '_ {
        (0..self.n_touchpoints()).filter_map(|i| self.touchpoint(i))
    }

    /// Heap memory used, by part.
    pub fn memory(&self) -> MemoryUsage {
        let t = &self.tx;
        let transaction_bytes = vec_bytes(&t.customer)
            + vec_bytes(&t.time_us)
            + vec_bytes(&t.amount_units)
            + vec_bytes(&t.currency)
            + vec_bytes(&t.channel)
            + vec_bytes(&t.is_refund)
            + vec_bytes(&t.store)
            + t.order_id.heap_bytes()
            + vec_bytes(&t.item_start)
            + t.items.capacity() * size_of::<LineItem>()
            + t.items
                .iter()
                .map(|i| i.product_id.capacity() + i.category.as_ref().map_or(0, String::capacity))
                .sum::<usize>()
            + self.stores.heap_bytes();
        let p = &self.tp;
        let touchpoint_bytes = vec_bytes(&p.customer)
            + vec_bytes(&p.time_us)
            + vec_bytes(&p.channel)
            + vec_bytes(&p.kind)
            + vec_bytes(&p.campaign)
            + vec_bytes(&p.topic)
            + p.cost.heap_bytes()
            + vec_bytes(&p.session)
            + vec_bytes(&p.content_stage)
            + self.campaigns.heap_bytes()
            + self.topics.heap_bytes()
            + self.sessions.heap_bytes();
        let customer_bytes = self.ids.heap_bytes()
            + self.customers.memory_bytes()
            + vec_bytes(&self.tx_offsets)
            + vec_bytes(&self.tp_offsets);
        let per = |bytes: usize, n: usize| if n == 0 { 0.0 } else { bytes as f64 / n as f64 };
        MemoryUsage {
            transaction_bytes,
            touchpoint_bytes,
            customer_bytes,
            bytes_per_transaction: per(transaction_bytes, self.n_transactions()),
            bytes_per_touchpoint: per(touchpoint_bytes, self.n_touchpoints()),
        }
    }
}

/// The customer of every row, from `offsets` (customer `c`'s rows are
/// `offsets[c]..offsets[c + 1]`).
fn expand_ranges(offsets: &[usize]) -> Vec<u32> {
    let mut out = Vec::with_capacity(offsets.last().copied().unwrap_or(0));
    for (c, w) in offsets.windows(2).enumerate() {
        out.resize(out.len() + (w[1] - w[0]), c as u32);
    }
    out
}

/// The customer whose range holds row `i`.
fn row_owner(offsets: &[usize], i: usize) -> Option<u32> {
    if i >= offsets.last().copied().unwrap_or(0) {
        return None;
    }
    // The last customer whose range starts at or before `i` (empty ranges
    // before it start there too, and are skipped by taking the last).
    let c = offsets.partition_point(|&o| o <= i).checked_sub(1)?;
    u32::try_from(c).ok()
}

fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

fn offsets_range(offsets: &[usize], index: u32) -> Range<usize> {
    let i = index as usize;
    match (offsets.get(i), offsets.get(i + 1)) {
        (Some(&a), Some(&b)) => a..b,
        _ => 0..0,
    }
}
