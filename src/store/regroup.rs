//! Regrouping a base's histories under other customers: how identity
//! resolution hands every event of the records it merges to the customer
//! they resolve to, without copying the events or losing one.

use super::sort::{gather, offsets, sort_order};
use super::{CustomerBase, CustomerRecords, Interner, TransactionTable};
use crate::error::{Error, Result};

/// The customers of a regrouped base: their ids and records, and which
/// new customer every old one belongs to.
#[derive(Debug, Clone)]
pub struct Regrouping {
    /// The new customers' ids, by new index (distinct, non-empty).
    pub ids: Vec<String>,
    /// The new customers' records (profile, consent, provenance), by new
    /// index, packed; a customer may have none.
    pub customers: CustomerRecords,
    /// For every customer of the old base (by old index), its new index.
    pub new_index: Vec<u32>,
}

impl CustomerBase {
    /// Moves every transaction and touchpoint to the customer its old
    /// customer now belongs to, and replaces the customers by `to`'s.
    ///
    /// Nothing is copied or lost: the columns are reordered once into the new
    /// customers' histories, in time order, rows of equal time keeping their
    /// old order (so the result is the same on every run). Transaction and
    /// touchpoint counts, amounts and order ids are unchanged.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `to` does not cover the old customers
    /// or its records and ids differ in number; [`Error::OutOfRange`] for a
    /// new index outside the new ids; [`Error::EmptyInput`] for an empty new id;
    /// [`Error::DuplicateCustomerId`] for a repeated one;
    /// [`Error::Capacity`] beyond `u32` indices.
    pub fn regroup(self, to: Regrouping) -> Result<CustomerBase> {
        let Regrouping {
            ids,
            customers,
            new_index,
        } = to;
        let n_new = ids.len();
        if new_index.len() != self.n_customers() {
            return Err(Error::lengths(
                "regrouping: new index per customer",
                self.n_customers(),
                new_index.len(),
            ));
        }
        if customers.len() != n_new {
            return Err(Error::lengths(
                "regrouping: customer record per new id",
                n_new,
                customers.len(),
            ));
        }
        if let Some(&bad) = new_index.iter().find(|&&c| c as usize >= n_new) {
            return Err(Error::out_of_range(
                "regrouping: new customer index",
                bad as usize,
                n_new,
            ));
        }
        let mut interner = Interner::with_capacity(n_new);
        for id in &ids {
            let id = id.trim();
            if id.is_empty() {
                return Err(Error::empty("regrouping: a new customer id"));
            }
            if !interner.intern(id)?.1 {
                return Err(Error::DuplicateCustomerId(id.to_owned()));
            }
        }
        let CustomerBase {
            tx,
            tp,
            tx_offsets,
            tp_offsets,
            channels,
            kinds,
            currencies,
            stores,
            campaigns,
            topics,
            sessions,
            ..
        } = self;
        // Each row's new customer, from its old customer's range.
        let new_owner = |offsets: &[usize]| -> Vec<u32> {
            let mut owner = Vec::with_capacity(offsets.last().copied().unwrap_or(0));
            for (old, w) in offsets.windows(2).enumerate() {
                owner.resize(owner.len() + (w[1] - w[0]), new_index[old]);
            }
            owner
        };

        let tx_customer = new_owner(&tx_offsets);
        let tx_offsets = offsets(&tx_customer, n_new);
        let (tx_order, tx_times) = sort_order(&tx_customer, &tx.time_us, n_new);
        drop(tx_customer);
        let o = tx_order.as_deref();
        let mut new_tx = TransactionTable {
            order_id: match o {
                Some(order) => tx.order_id.permuted(order)?,
                None => tx.order_id,
            },
            customer: Vec::new(),
            time_us: tx_times.unwrap_or_else(|| gather(tx.time_us, o)),
            amount_units: gather(tx.amount_units, o),
            currency: gather(tx.currency, o),
            channel: gather(tx.channel, o),
            is_refund: gather(tx.is_refund, o),
            store: gather(tx.store, o),
            item_start: Vec::new(),
            items: Vec::new(),
        };
        if tx.item_start.is_empty() {
            new_tx.items = tx.items;
        } else {
            // Line items follow their transaction.
            let n = new_tx.time_us.len();
            new_tx.item_start.reserve(n + 1);
            new_tx.item_start.push(0);
            new_tx.items.reserve(tx.items.len());
            for k in 0..n {
                let old = o.map_or(k, |order| order[k] as usize);
                let range = match (tx.item_start.get(old), tx.item_start.get(old + 1)) {
                    (Some(&a), Some(&b)) => tx.items.get(a as usize..b as usize),
                    _ => None,
                };
                new_tx.items.extend_from_slice(range.unwrap_or(&[]));
                let end = u32::try_from(new_tx.items.len())
                    .map_err(|_| Error::Capacity("too many line items".into()))?;
                new_tx.item_start.push(end);
            }
        }

        let tp = super::TouchpointTable {
            customer: new_owner(&tp_offsets),
            ..tp
        };
        let tp_offsets = offsets(&tp.customer, n_new);
        let (tp_order, tp_times) = sort_order(&tp.customer, &tp.time_us, n_new);
        let new_tp = tp.gather(tp_order.as_deref(), tp_times);
        Ok(CustomerBase {
            ids: interner,
            customers,
            tx: new_tx,
            tp: new_tp,
            tx_offsets,
            tp_offsets,
            channels,
            kinds,
            currencies,
            stores,
            campaigns,
            topics,
            sessions,
        })
    }
}
