//! Bulk loading of a [`CustomerBase`]: append in any order, sort once at the end.

mod deferred;
#[cfg(feature = "parallel")]
pub(crate) use deferred::{TouchpointColumns, TouchpointExtra};

use super::bulk;
use super::intern::{Dictionary, Interner, StrArena};
use super::rows::{CodedTouchpoint, CodedTransaction, TouchpointRef, TransactionRef};
use super::sort::{gather, gather_optional, sort_order_with_offsets};
use super::{
    CustomerBase, CustomerRecords, NO_STAGE, NONE_U32, TouchpointTable, TransactionTable,
    encode_event, to_micros,
};
use crate::error::{Error, Result};
use crate::records::{
    Channel, ConsentEvent, Currency, Customer, CustomerId, Touchpoint, TouchpointKind, Transaction,
};

/// Appends customers, transactions and touchpoints in any order; [`build`](Self::build)
/// sorts them into per-customer, time-ordered histories.
#[derive(Debug, Default)]
pub struct CustomerBaseBuilder {
    ids: Interner,
    /// Customer records in the order added, packed.
    records: CustomerRecords,
    /// Per customer index, its position in `records` (`NONE_U32`: none).
    record_of: Vec<u32>,
    tx: TransactionTable,
    /// Order ids in arrival order, also the duplicate check.
    orders: Interner,
    /// Per transaction: (start, end) into `tx.items`, kept only once some transaction has items.
    item_ranges: Vec<(u32, u32)>,
    tp: TouchpointTable,
    channels: Dictionary<Channel>,
    kinds: Dictionary<TouchpointKind>,
    currencies: Dictionary<Currency>,
    stores: Interner,
    campaigns: Interner,
    topics: Interner,
    sessions: Interner,
    /// Consent events to apply to customer records at build time: the
    /// customer and the end of its encoded bytes in `consent_bytes`.
    consents: Vec<(u32, usize)>,
    consent_bytes: Vec<u8>,
    /// How many leading order ids are in the order index (bulk loads append unindexed).
    orders_indexed: usize,
    /// An unfinished bulk load.
    bulk: Option<Bulk>,
    /// Unfinished touchpoints or consent events whose customer ids are resolved at the end.
    deferred: Option<deferred::Deferred>,
    /// The customer of the last `customer_index` call.
    last_customer: Option<u32>,
}

/// Rows of a bulk load whose customer ids and order uniqueness are resolved at the end.
#[derive(Debug, Default)]
struct Bulk {
    first_row: usize,
    customer_ids: StrArena,
    lines: Vec<u64>,
}

/// Checks a transaction's ids and refund flag; returns the trimmed (customer, order) ids.
fn check_transaction<'a>(t: &TransactionRef<'a>) -> Result<(&'a str, &'a str)> {
    let order_id = t.order_id.trim();
    if order_id.is_empty() {
        return Err(Error::value("order id", t.order_id, "empty"));
    }
    if t.amount.is_negative() != t.is_refund && t.amount.units != 0 {
        return Err(Error::value(
            "amount",
            t.amount.to_string(),
            if t.is_refund {
                "refund with a positive amount"
            } else {
                "negative amount not flagged as a refund"
            },
        ));
    }
    Ok((check_id(t.customer_id)?, order_id))
}

/// Keeps `v[first..]` only where `keep[i - first]`.
fn retain_tail<T: Copy>(v: &mut Vec<T>, first: usize, keep: &[bool]) {
    let mut write = first;
    for read in first..v.len() {
        if keep.get(read - first).copied().unwrap_or(false) {
            v[write] = v[read];
            write += 1;
        }
    }
    v.truncate(write);
}

fn check_id(raw: &str) -> Result<&str> {
    // Printable ASCII without spaces (the common id) needs no trimming and has no control character.
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(raw);
    }
    let id = raw.trim();
    if id.is_empty() || id.chars().any(char::is_control) {
        // Delegate the message to CustomerId's own validation.
        return CustomerId::new(raw).map(|_| id);
    }
    Ok(id)
}

impl CustomerBaseBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder with room for the given numbers of rows.
    pub fn with_capacity(customers: usize, transactions: usize, touchpoints: usize) -> Self {
        let mut b = Self {
            ids: Interner::with_capacity(customers),
            orders: Interner::with_capacity(transactions),
            ..Self::default()
        };
        b.reserve(customers, transactions, touchpoints);
        b
    }

    /// Reserves room for this many more rows of each kind.
    pub fn reserve(&mut self, customers: usize, transactions: usize, touchpoints: usize) {
        self.record_of.reserve(customers);
        let t = &mut self.tx;
        t.customer.reserve(transactions);
        t.time_us.reserve(transactions);
        t.amount_units.reserve(transactions);
        t.currency.reserve(transactions);
        t.channel.reserve(transactions);
        t.is_refund.reserve(transactions);
        t.store.reserve(transactions);
        let p = &mut self.tp;
        p.customer.reserve(touchpoints);
        p.time_us.reserve(touchpoints);
        p.channel.reserve(touchpoints);
        p.kind.reserve(touchpoints);
        p.campaign.reserve(touchpoints);
        p.topic.reserve(touchpoints);
        p.cost.reserve(touchpoints);
        p.content_stage.reserve(touchpoints);
    }

    /// Reserves room for about `transactions` more transactions from a bulk
    /// source (order-id index included) and a tenth as many new customers.
    pub fn reserve_bulk_transactions(&mut self, transactions: usize) {
        self.orders.reserve(transactions, 12);
        self.ids.reserve(transactions / 10, 10);
        self.reserve(transactions / 10, transactions, 0);
    }

    /// Number of customers so far.
    pub fn n_customers(&self) -> usize {
        self.ids.len()
    }

    /// Number of transactions so far.
    pub fn n_transactions(&self) -> usize {
        self.tx.customer.len()
    }

    /// Number of touchpoints so far.
    pub fn n_touchpoints(&self) -> usize {
        self.tp.customer.len()
    }

    /// Whether an order id has been added.
    pub fn contains_order(&self, order_id: &str) -> bool {
        let order_id = order_id.trim();
        self.orders.get(order_id).is_some()
            || (self.orders_indexed..self.orders.len())
                .any(|i| self.orders.resolve(i as u32) == order_id)
    }

    /// Puts every order id appended without indexing into the order index.
    fn index_orders(&mut self) {
        for i in self.orders_indexed..self.orders.len() {
            self.orders.index_existing(i as u32);
        }
        self.orders_indexed = self.orders.len();
    }

    /// Interns a customer id and returns its dense index (creating it if new).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty id; [`Error::Capacity`] beyond `u32` indices.
    pub fn customer_index(&mut self, id: &str) -> Result<u32> {
        let id = check_id(id)?;
        // Inputs usually list one customer's rows together: the last id is
        // found without hashing.
        if let Some(last) = self.last_customer {
            if self.ids.resolve(last) == id {
                return Ok(last);
            }
        }
        let (index, new) = self.ids.intern(id)?;
        if new {
            self.record_of.push(NONE_U32);
        }
        self.last_customer = Some(index);
        Ok(index)
    }

    /// Adds a customer record (profile, consent, provenance).
    ///
    /// # Errors
    /// [`Error::DuplicateCustomerId`] if a record with this id was already added.
    pub fn add_customer(&mut self, customer: Customer) -> Result<u32> {
        let index = self.claim_record(customer.id.as_str())?;
        self.records.push(Some(&customer));
        Ok(index)
    }

    /// Adds a customer record already encoded by
    /// [`encode_customer`](super::encode_customer) (whose id is `id`).
    ///
    /// # Errors
    /// As [`add_customer`](Self::add_customer).
    pub(crate) fn add_encoded_customer(&mut self, id: &str, record: &[u8]) -> Result<u32> {
        let index = self.claim_record(id)?;
        self.records.push_encoded(record);
        Ok(index)
    }

    /// The index of customer `id`, noting that its record comes next in `records`.
    fn claim_record(&mut self, id: &str) -> Result<u32> {
        let index = self.customer_index(id)?;
        let position = self.records.len() as u32;
        let slot = self
            .record_of
            .get_mut(index as usize)
            .ok_or_else(|| Error::Capacity("customer index out of step with ids".into()))?;
        if *slot != NONE_U32 {
            return Err(Error::DuplicateCustomerId(id.to_owned()));
        }
        *slot = position;
        Ok(index)
    }

    /// The customer records by index, each with the consent events added
    /// for it appended to its ledger in the order they came (a customer
    /// with consent but no record gets a bare one, so the consent is kept).
    fn packed_records(&self, n_customers: usize) -> CustomerRecords {
        // The pending events grouped by customer, arrival order kept.
        let mut starts = vec![0usize; n_customers + 1];
        for &(c, _) in &self.consents {
            if let Some(n) = starts.get_mut(c as usize + 1) {
                *n += 1;
            }
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        let mut next = starts.clone();
        let mut order = vec![0usize; self.consents.len()];
        for (k, &(c, _)) in self.consents.iter().enumerate() {
            if let Some(slot) = next.get_mut(c as usize) {
                order[*slot] = k;
                *slot += 1;
            }
        }
        drop(next);
        let event = |k: usize| {
            let start = k.checked_sub(1).map_or(0, |p| self.consents[p].1);
            &self.consent_bytes[start..self.consents[k].1]
        };
        let mut out = CustomerRecords::with_capacity(n_customers);
        let mut extra: Vec<&[u8]> = Vec::new();
        for c in 0..n_customers {
            extra.clear();
            extra.extend(order[starts[c]..starts[c + 1]].iter().map(|&k| event(k)));
            let record = match self.record_of.get(c) {
                Some(&p) if p != NONE_U32 => self.records.raw(p as usize),
                _ => None,
            };
            out.push_with_events(record, self.ids.resolve(c as u32), &extra);
        }
        out.shrink_to_fit();
        out
    }

    /// Adds a consent event for a customer; customers without a record get a
    /// bare one at build time so that the consent is kept.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty customer id.
    pub fn add_consent_event(&mut self, customer_id: &str, event: ConsentEvent) -> Result<()> {
        let index = self.customer_index(customer_id)?;
        encode_event(&mut self.consent_bytes, &event);
        self.consents.push((index, self.consent_bytes.len()));
        Ok(())
    }

    /// Adds a transaction.
    ///
    /// # Errors
    /// Anything [`Transaction::check`] rejects, and [`Error::DuplicateOrderId`].
    pub fn add_transaction(&mut self, t: &Transaction) -> Result<()> {
        t.check()?;
        self.add_transaction_ref(TransactionRef::from(t))
    }

    /// Adds a borrowed transaction (the allocation-free path used by ingestion).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty customer or order id or an
    /// unflagged negative amount; [`Error::DuplicateOrderId`].
    pub fn add_transaction_ref(&mut self, t: TransactionRef<'_>) -> Result<()> {
        if self.bulk.is_some() {
            return Err(Error::InvalidInput("a bulk load is in progress".into()));
        }
        let (customer_id, order_id) = check_transaction(&t)?;
        // Intern the customer only once the order is known to be new, so that a
        // rejected duplicate leaves no customer behind.
        self.index_orders();
        let (_, new) = self.orders.intern(order_id)?;
        if !new {
            return Err(Error::DuplicateOrderId(order_id.to_owned()));
        }
        self.orders_indexed += 1;
        let customer = self.customer_index(customer_id)?;
        self.push_columns(customer, &t)
    }

    /// Adds many transactions at once. Ids are resolved together at the end by
    /// radix-partitioned hashing, which for large inputs is several times
    /// faster than [`add_transaction_ref`](Self::add_transaction_ref) row by row
    /// and gives exactly the same result.
    ///
    /// Returns the rejected items as (position in `transactions`, error), in
    /// position order; every other item is added. A repeated order id rejects
    /// the later item, as row-by-row adding would.
    ///
    /// # Errors
    /// [`Error::Capacity`] when an index outgrows `u32`; then nothing is added.
    pub fn add_transactions<'a>(
        &mut self,
        transactions: impl IntoIterator<Item = TransactionRef<'a>>,
    ) -> Result<Vec<(usize, Error)>> {
        if self.bulk.is_some() {
            return Err(Error::InvalidInput("a bulk load is in progress".into()));
        }
        self.begin_bulk();
        let mut rejected = Vec::new();
        for (position, t) in transactions.into_iter().enumerate() {
            match self.push_bulk(t, position as u64) {
                Ok(()) => {}
                Err(e @ Error::Capacity(_)) => {
                    self.abort_bulk();
                    return Err(e);
                }
                Err(e) => rejected.push((position, e)),
            }
        }
        let duplicates = self.finish_bulk()?;
        let had_invalid = !rejected.is_empty();
        rejected.extend(
            duplicates
                .into_iter()
                .map(|(position, order_id)| (position as usize, Error::DuplicateOrderId(order_id))),
        );
        if had_invalid {
            rejected.sort_by_key(|(position, _)| *position);
        }
        Ok(rejected)
    }

    fn push_columns(&mut self, customer: u32, t: &TransactionRef<'_>) -> Result<()> {
        let tx = &mut self.tx;
        tx.customer.push(customer);
        tx.time_us.push(to_micros(t.timestamp));
        tx.amount_units.push(t.amount.units);
        tx.currency.push(self.currencies.code(&t.amount.currency)?);
        tx.channel.push(self.channels.code(t.channel)?);
        tx.is_refund.push(t.is_refund);
        tx.store
            .push(match t.store.map(str::trim).filter(|s| !s.is_empty()) {
                Some(s) => self.stores.intern(s)?.0,
                None => NONE_U32,
            });
        if !t.line_items.is_empty() || !self.item_ranges.is_empty() {
            if self.item_ranges.is_empty() {
                // First transaction with items: earlier ones had none.
                self.item_ranges.resize(tx.customer.len() - 1, (0, 0));
            }
            let start = u32::try_from(tx.items.len())
                .map_err(|_| Error::Capacity("too many line items".into()))?;
            tx.items.extend_from_slice(t.line_items);
            let end = u32::try_from(tx.items.len())
                .map_err(|_| Error::Capacity("too many line items".into()))?;
            self.item_ranges.push((start, end));
        }
        Ok(())
    }

    /// Starts a bulk load: transactions are appended with [`push_bulk`](Self::push_bulk)
    /// and their ids resolved together by [`finish_bulk`](Self::finish_bulk).
    pub(crate) fn begin_bulk(&mut self) {
        if self.bulk.is_none() {
            self.bulk = Some(Bulk {
                first_row: self.tx.customer.len(),
                ..Bulk::default()
            });
        }
    }

    /// Appends a transaction to the bulk load; `line` is reported if it turns out a duplicate.
    pub(crate) fn push_bulk(&mut self, t: TransactionRef<'_>, line: u64) -> Result<()> {
        let (customer_id, order_id) = check_transaction(&t)?;
        let Some(bulk) = self.bulk.as_mut() else {
            return Err(Error::InvalidInput("no bulk load in progress".into()));
        };
        bulk.customer_ids.push(customer_id)?;
        bulk.lines.push(line);
        self.orders.push_unindexed(order_id)?;
        self.push_columns(NONE_U32, &t)
    }

    /// Resolves the bulk load: rows repeating an earlier order id are removed and
    /// returned as (line, order id); customer ids get their dense indices.
    pub(crate) fn finish_bulk(&mut self) -> Result<Vec<(u64, String)>> {
        let Some(bulk) = self.bulk.take() else {
            return Ok(Vec::new());
        };
        let first = bulk.first_row;
        let m = self.tx.customer.len() - first;
        // Orders before the bulk load that were never indexed are unique already;
        // all of them take part so that repeats of them are found too.
        let repeated = bulk::repeated_rows(self.orders.arena(), first)?;
        let mut keep = vec![true; m];
        let mut duplicates = Vec::with_capacity(repeated.len());
        for &row in &repeated {
            let i = row as usize - first;
            keep[i] = false;
            duplicates.push((
                bulk.lines.get(i).copied().unwrap_or(0),
                self.orders.resolve(row).to_owned(),
            ));
        }
        let (indices, new) =
            bulk::resolve_ids(&bulk.customer_ids, None, Some(&keep), &mut self.ids)?;
        self.record_of.resize(self.record_of.len() + new, NONE_U32);
        let tx = &mut self.tx;
        for (slot, &index) in tx.customer[first..].iter_mut().zip(&indices) {
            *slot = index;
        }
        if !repeated.is_empty() {
            retain_tail(&mut tx.customer, first, &keep);
            retain_tail(&mut tx.time_us, first, &keep);
            retain_tail(&mut tx.amount_units, first, &keep);
            retain_tail(&mut tx.currency, first, &keep);
            retain_tail(&mut tx.channel, first, &keep);
            retain_tail(&mut tx.is_refund, first, &keep);
            retain_tail(&mut tx.store, first, &keep);
            if !self.item_ranges.is_empty() {
                retain_tail(&mut self.item_ranges, first, &keep);
            }
            self.orders.retain_unindexed_tail(first, &keep)?;
        }
        Ok(duplicates)
    }

    /// Abandons an unfinished bulk load, removing its rows.
    pub(crate) fn abort_bulk(&mut self) {
        let Some(bulk) = self.bulk.take() else { return };
        let first = bulk.first_row;
        let tx = &mut self.tx;
        tx.customer.truncate(first);
        tx.time_us.truncate(first);
        tx.amount_units.truncate(first);
        tx.currency.truncate(first);
        tx.channel.truncate(first);
        tx.is_refund.truncate(first);
        tx.store.truncate(first);
        if self.item_ranges.len() > first {
            self.item_ranges.truncate(first);
        }
        self.orders.truncate_unindexed(first);
    }

    /// Adds a touchpoint.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty customer id; [`Error::Capacity`] when a dictionary is full.
    pub fn add_touchpoint(&mut self, t: &Touchpoint) -> Result<()> {
        let customer = self.customer_index(t.customer_id.as_str())?;
        let row = TouchpointRef {
            customer_id: t.customer_id.as_str(),
            time_us: to_micros(t.timestamp),
            channel: self.channels.code(&t.channel)?,
            kind: self.kinds.code(&t.kind)?,
            campaign: t.campaign.as_deref(),
            topic: t.topic.as_deref(),
            session_id: t.session_id.as_deref(),
            cost: t.cost,
            content_stage: t.content_stage,
        };
        self.push_touchpoint(customer, &row)
    }

    /// Appends a touchpoint of customer index `customer` (`NONE_U32`: resolved later),
    /// interning its campaign, topic and session.
    fn push_touchpoint(&mut self, customer: u32, t: &TouchpointRef<'_>) -> Result<()> {
        let opt = |interner: &mut Interner, v: Option<&str>| -> Result<u32> {
            match v.map(str::trim).filter(|s| !s.is_empty()) {
                Some(s) => Ok(interner.intern(s)?.0),
                None => Ok(NONE_U32),
            }
        };
        let campaign = opt(&mut self.campaigns, t.campaign)?;
        let topic = opt(&mut self.topics, t.topic)?;
        let session = opt(&mut self.sessions, t.session_id)?;
        let cost = match &t.cost {
            Some(m) => Some((m.units, self.currencies.code(&m.currency)?)),
            None => None,
        };
        let p = &mut self.tp;
        // Sessions are kept only once some touchpoint has one.
        if session != NONE_U32 || !p.session.is_empty() {
            p.session.resize(p.customer.len(), NONE_U32);
            p.session.push(session);
        }
        p.customer.push(customer);
        p.time_us.push(t.time_us);
        p.channel.push(t.channel);
        p.kind.push(t.kind);
        p.campaign.push(campaign);
        p.topic.push(topic);
        p.cost.push(cost);
        p.content_stage
            .push(t.content_stage.map_or(NO_STAGE, |s| s.index() as u8));
        Ok(())
    }

    pub(crate) fn channel_code(&mut self, channel: &Channel) -> Result<u16> {
        self.channels.code(channel)
    }

    pub(crate) fn kind_code(&mut self, kind: &TouchpointKind) -> Result<u16> {
        self.kinds.code(kind)
    }

    pub(crate) fn currency_code(&mut self, currency: Currency) -> Result<u16> {
        self.currencies.code(&currency)
    }

    pub(crate) fn campaign_code(&mut self, campaign: &str) -> Result<u32> {
        Ok(self.campaigns.intern(campaign)?.0)
    }

    pub(crate) fn topic_code(&mut self, topic: &str) -> Result<u32> {
        Ok(self.topics.intern(topic)?.0)
    }

    /// Appends a transaction from codes. The order id must be unique by
    /// construction: it is not checked, and later duplicate checks will not see it.
    pub(crate) fn push_coded_transaction(&mut self, row: CodedTransaction<'_>) -> Result<()> {
        self.orders.push_unindexed(row.order_id)?;
        let tx = &mut self.tx;
        tx.customer.push(row.customer);
        tx.time_us.push(row.time_us);
        tx.amount_units.push(row.amount_units);
        tx.currency.push(row.currency);
        tx.channel.push(row.channel);
        tx.is_refund.push(row.is_refund);
        tx.store.push(NONE_U32);
        if !self.item_ranges.is_empty() {
            let end = tx.items.len() as u32;
            self.item_ranges.push((end, end));
        }
        Ok(())
    }

    /// Appends a touchpoint from codes.
    pub(crate) fn push_coded_touchpoint(&mut self, row: CodedTouchpoint) {
        let p = &mut self.tp;
        p.customer.push(row.customer);
        p.time_us.push(row.time_us);
        p.channel.push(row.channel);
        p.kind.push(row.kind);
        p.campaign.push(row.campaign);
        p.topic.push(row.topic);
        p.cost.push(row.cost);
        if !p.session.is_empty() {
            p.session.push(NONE_U32);
        }
        p.content_stage
            .push(row.content_stage.map_or(NO_STAGE, |s| s.index() as u8));
    }

    /// Sorts everything into per-customer, time-ordered histories.
    ///
    /// Rows of one customer with equal timestamps keep their insertion order,
    /// so the result is the same on every run and thread count.
    ///
    /// # Errors
    /// [`Error::Capacity`] when a column outgrows its `u32` offsets.
    pub fn build(self) -> Result<CustomerBase> {
        if self.bulk.is_some() || self.deferred.is_some() {
            return Err(Error::InvalidInput("a bulk load was not finished".into()));
        }
        let n_customers = self.ids.len();
        let customers = self.packed_records(n_customers);
        // Sorted by customer, the rows' owners are their ranges (the
        // offsets): the customer column is not kept.
        let (tx_order, tx_times, tx_offsets) =
            sort_order_with_offsets(&self.tx.customer, &self.tx.time_us, n_customers);
        let (tp_order, tp_times, tp_offsets) =
            sort_order_with_offsets(&self.tp.customer, &self.tp.time_us, n_customers);

        let mut tx = TransactionTable::default();
        let order_arena = self.orders.into_arena();
        tx.order_id = match &tx_order {
            Some(order) => order_arena.permuted(order)?,
            None => order_arena,
        };
        tx.order_id.shrink_to_fit();
        let mut src = self.tx;
        src.customer = Vec::new();
        tx.time_us = tx_times.unwrap_or_else(|| gather(src.time_us, None));
        tx.amount_units = gather(src.amount_units, tx_order.as_deref());
        tx.currency = gather(src.currency, tx_order.as_deref());
        tx.channel = gather(src.channel, tx_order.as_deref());
        tx.is_refund = gather(src.is_refund, tx_order.as_deref());
        tx.store = gather(src.store, tx_order.as_deref());
        if !self.item_ranges.is_empty() {
            let ranges = gather(self.item_ranges, tx_order.as_deref());
            tx.item_start.reserve(ranges.len() + 1);
            tx.item_start.push(0);
            for (a, b) in ranges {
                tx.items
                    .extend_from_slice(src.items.get(a as usize..b as usize).unwrap_or(&[]));
                let end = u32::try_from(tx.items.len())
                    .map_err(|_| Error::Capacity("too many line items".into()))?;
                tx.item_start.push(end);
            }
        }

        let tp = self.tp.gather(tp_order.as_deref(), tp_times);

        Ok(CustomerBase {
            ids: self.ids,
            customers,
            tx,
            tp,
            tx_offsets,
            tp_offsets,
            channels: self.channels,
            kinds: self.kinds,
            currencies: self.currencies,
            stores: self.stores,
            campaigns: self.campaigns,
            topics: self.topics,
            sessions: self.sessions,
        })
    }
}

impl TouchpointTable {
    /// The rows in the order `order` gives (`order[k]` is the old row of
    /// new row `k`; `None`: as they are), one column at a time; `times`, when
    /// given, are the times in that order already.
    pub(super) fn gather(
        mut self,
        order: Option<&[u32]>,
        times: Option<Vec<i64>>,
    ) -> TouchpointTable {
        self.customer = Vec::new();
        TouchpointTable {
            // Not kept once sorted (the offsets say whose each row is).
            customer: Vec::new(),
            time_us: times.unwrap_or_else(|| gather(self.time_us, order)),
            channel: gather(self.channel, order),
            kind: gather(self.kind, order),
            campaign: gather(self.campaign, order),
            topic: gather(self.topic, order),
            cost: self.cost.gather(order),
            session: gather_optional(self.session, order),
            content_stage: gather(self.content_stage, order),
        }
    }
}
