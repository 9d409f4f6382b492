//! One customer's events as time-ordered columns: what per-customer measures
//! (the lifecycle summary, features) read, whether the customer lives in a
//! [`CustomerBase`] or arrives alone to be scored.

use std::ops::Range;

use super::{CustomerBase, to_micros};
use crate::error::{Error, Result};
use crate::records::{Channel, Currency, LineItem, Touchpoint, TouchpointKind, Transaction};

/// One customer's transactions and touchpoints, borrowed as columns in time
/// order. Channel and kind codes index [`History::channels`] and
/// [`History::kinds`]. A base lends one per customer
/// ([`CustomerBase::history`]); [`OwnedHistory`] holds one built from records.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    /// Transaction times (µs since the epoch), ascending.
    pub tx_time: &'a [i64],
    /// Transaction amounts in 1/10,000 units (negative for refunds).
    pub tx_amount: &'a [i64],
    /// Whether each transaction is a refund.
    pub tx_refund: &'a [bool],
    /// Sales channel code of each transaction.
    pub tx_channel: &'a [u16],
    /// Currency code of each transaction.
    pub tx_currency: &'a [u16],
    /// Touchpoint times (µs since the epoch), ascending.
    pub tp_time: &'a [i64],
    /// Channel code of each touchpoint.
    pub tp_channel: &'a [u16],
    /// Kind code of each touchpoint.
    pub tp_kind: &'a [u16],
    /// The channel dictionary the codes index.
    pub channels: &'a [Channel],
    /// The kind dictionary the codes index.
    pub kinds: &'a [TouchpointKind],
    /// The currency dictionary the codes index.
    pub currencies: &'a [Currency],
    /// `item_start[k]..item_start[k + 1]` are transaction `k`'s line items in
    /// `items` (empty when no transaction has any).
    item_start: &'a [u32],
    items: &'a [LineItem],
}

impl<'a> History<'a> {
    /// Line items of transaction `k` (empty when unknown).
    pub fn line_items(&self, k: usize) -> &'a [LineItem] {
        match (self.item_start.get(k), self.item_start.get(k + 1)) {
            (Some(&a), Some(&b)) => self.items.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The part of the history at or before `as_of` (µs).
    pub fn until(&self, as_of: i64) -> History<'a> {
        let tx = self.tx_time.partition_point(|&t| t <= as_of);
        let tp = self.tp_time.partition_point(|&t| t <= as_of);
        History {
            tx_time: &self.tx_time[..tx],
            tx_amount: prefix(self.tx_amount, tx),
            tx_refund: prefix(self.tx_refund, tx),
            tx_channel: prefix(self.tx_channel, tx),
            tx_currency: prefix(self.tx_currency, tx),
            tp_time: &self.tp_time[..tp],
            tp_channel: prefix(self.tp_channel, tp),
            tp_kind: prefix(self.tp_kind, tp),
            item_start: if self.item_start.is_empty() {
                self.item_start
            } else {
                prefix(self.item_start, tx + 1)
            },
            ..*self
        }
    }

    /// The transactions' one currency: `Ok(None)` without transactions.
    ///
    /// # Errors
    /// [`Error::MixedCurrencies`] when the transactions use more than one.
    pub fn currency(&self) -> Result<Option<Currency>> {
        let Some(&first) = self.tx_currency.first() else {
            return Ok(None);
        };
        if let Some(&other) = self.tx_currency.iter().find(|&&c| c != first) {
            let name = |c: u16| {
                self.currencies
                    .get(c as usize)
                    .map_or("?".into(), |c| c.to_string())
            };
            return Err(Error::MixedCurrencies {
                currencies: vec![name(first), name(other)],
            });
        }
        Ok(self.currencies.get(first as usize).copied())
    }

    /// Whether there is any event.
    pub fn is_empty(&self) -> bool {
        self.tx_time.is_empty() && self.tp_time.is_empty()
    }
}

fn prefix<T>(column: &[T], n: usize) -> &[T] {
    column.get(..n).unwrap_or(column)
}

fn part<T>(column: &[T], range: Range<usize>) -> &[T] {
    column.get(range).unwrap_or(&[])
}

impl CustomerBase {
    /// Customer `index`'s events as a [`History`] (empty out of range).
    pub fn history(&self, index: u32) -> History<'_> {
        let tx = self.transaction_range(index);
        let tp = self.touchpoint_range(index);
        let item_start = if self.tx.item_start.is_empty() {
            &[][..]
        } else {
            part(&self.tx.item_start, tx.start..tx.end + 1)
        };
        History {
            tx_time: part(&self.tx.time_us, tx.clone()),
            tx_amount: part(&self.tx.amount_units, tx.clone()),
            tx_refund: part(&self.tx.is_refund, tx.clone()),
            tx_channel: part(&self.tx.channel, tx.clone()),
            tx_currency: part(&self.tx.currency, tx),
            tp_time: part(&self.tp.time_us, tp.clone()),
            tp_channel: part(&self.tp.channel, tp.clone()),
            tp_kind: part(&self.tp.kind, tp),
            channels: self.channels(),
            kinds: self.kinds(),
            currencies: self.currencies(),
            item_start,
            items: &self.tx.items,
        }
    }
}

/// One customer's history built from records, for scoring a customer who is
/// not in a base (e.g. a service scoring one customer on request).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnedHistory {
    tx_time: Vec<i64>,
    tx_amount: Vec<i64>,
    tx_refund: Vec<bool>,
    tx_channel: Vec<u16>,
    tx_currency: Vec<u16>,
    tp_time: Vec<i64>,
    tp_channel: Vec<u16>,
    tp_kind: Vec<u16>,
    channels: Vec<Channel>,
    kinds: Vec<TouchpointKind>,
    currencies: Vec<Currency>,
    item_start: Vec<u32>,
    items: Vec<LineItem>,
}

impl OwnedHistory {
    /// Builds one customer's history from their transactions and
    /// touchpoints, in any order (sorted by time, ties in input order, as a
    /// base sorts them). The customer ids on the records are not looked at.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a transaction that fails
    /// [`Transaction::check`]; [`Error::MixedCurrencies`] for transactions in
    /// more than one currency; [`Error::Capacity`] for more line items than a
    /// `u32` counts.
    pub fn new(transactions: &[Transaction], touchpoints: &[Touchpoint]) -> Result<OwnedHistory> {
        let mut h = OwnedHistory::default();
        for t in transactions {
            t.check()?;
            if let Some(&c) = h.currencies.first() {
                if c != t.amount.currency {
                    return Err(Error::MixedCurrencies {
                        currencies: vec![c.to_string(), t.amount.currency.to_string()],
                    });
                }
            } else {
                h.currencies.push(t.amount.currency);
            }
        }
        let mut tx: Vec<&Transaction> = transactions.iter().collect();
        tx.sort_by_key(|t| to_micros(t.timestamp));
        let with_items = tx.iter().any(|t| !t.line_items.is_empty());
        for t in tx {
            h.tx_time.push(to_micros(t.timestamp));
            h.tx_amount.push(t.amount.units);
            h.tx_refund.push(t.is_refund);
            h.tx_channel.push(code_of(&mut h.channels, &t.channel));
            h.tx_currency.push(0);
            if with_items {
                h.item_start.push(item_offset(h.items.len())?);
                h.items.extend(t.line_items.iter().cloned());
            }
        }
        if with_items {
            h.item_start.push(item_offset(h.items.len())?);
        }
        let mut tp: Vec<&Touchpoint> = touchpoints.iter().collect();
        tp.sort_by_key(|t| to_micros(t.timestamp));
        for t in tp {
            h.tp_time.push(to_micros(t.timestamp));
            h.tp_channel.push(code_of(&mut h.channels, &t.channel));
            h.tp_kind.push(code_of(&mut h.kinds, &t.kind));
        }
        Ok(h)
    }

    /// The history as borrowed columns.
    pub fn view(&self) -> History<'_> {
        History {
            tx_time: &self.tx_time,
            tx_amount: &self.tx_amount,
            tx_refund: &self.tx_refund,
            tx_channel: &self.tx_channel,
            tx_currency: &self.tx_currency,
            tp_time: &self.tp_time,
            tp_channel: &self.tp_channel,
            tp_kind: &self.tp_kind,
            channels: &self.channels,
            kinds: &self.kinds,
            currencies: &self.currencies,
            item_start: &self.item_start,
            items: &self.items,
        }
    }

    /// The transactions' currency (`None` without transactions).
    pub fn currency(&self) -> Option<Currency> {
        self.currencies.first().copied()
    }
}

fn code_of<T: PartialEq + Clone>(dictionary: &mut Vec<T>, value: &T) -> u16 {
    match dictionary.iter().position(|v| v == value) {
        Some(p) => p as u16,
        None => {
            dictionary.push(value.clone());
            (dictionary.len() - 1) as u16
        }
    }
}

fn item_offset(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Capacity("more than 2^32 line items".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{CustomerId, Money};

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_base_history_and_an_owned_one_read_alike() {
        let id = CustomerId::new("c1").unwrap();
        let eur = |u: i64| Money::from_units(u, Currency::EUR);
        let mut late = Transaction::new(
            "o2",
            id.clone(),
            ts("2024-03-01T00:00:00Z"),
            eur(20_000),
            Channel::Store,
        );
        late.line_items.push(LineItem {
            product_id: "p".into(),
            category: Some("shoes".into()),
            quantity: 2.0,
            unit_price: eur(10_000),
        });
        let early = Transaction::new(
            "o1",
            id.clone(),
            ts("2024-01-01T00:00:00Z"),
            eur(5_000),
            Channel::Web,
        );
        let touch = Touchpoint::new(
            id.clone(),
            ts("2024-02-01T00:00:00Z"),
            Channel::Email,
            TouchpointKind::Research,
        );
        let mut b = CustomerBase::builder();
        b.add_transaction(&late).unwrap();
        b.add_transaction(&early).unwrap();
        b.add_touchpoint(&touch).unwrap();
        let base = b.build().unwrap();
        let from_base = base.history(0);
        let owned = OwnedHistory::new(&[late, early], &[touch]).unwrap();
        let alone = owned.view();
        for h in [from_base, alone] {
            assert_eq!(
                h.tx_time,
                [
                    to_micros(ts("2024-01-01T00:00:00Z")),
                    to_micros(ts("2024-03-01T00:00:00Z"))
                ]
            );
            assert_eq!(h.tx_amount, [5_000, 20_000]);
            assert_eq!(h.channels[h.tx_channel[0] as usize], Channel::Web);
            assert_eq!(h.channels[h.tp_channel[0] as usize], Channel::Email);
            assert_eq!(h.kinds[h.tp_kind[0] as usize], TouchpointKind::Research);
            assert!(h.line_items(0).is_empty());
            assert_eq!(h.line_items(1).len(), 1);
            let cut = h.until(to_micros(ts("2024-02-15T00:00:00Z")));
            assert_eq!((cut.tx_time.len(), cut.tp_time.len()), (1, 1));
            assert!(cut.line_items(0).is_empty());
        }
        assert!(base.history(7).is_empty());
        assert_eq!(owned.currency(), Some(Currency::EUR));
    }

    #[test]
    fn mixed_currencies_and_bad_transactions_are_errors() {
        let id = CustomerId::new("c1").unwrap();
        let at = ts("2024-01-01T00:00:00Z");
        let eur = Transaction::new(
            "a",
            id.clone(),
            at,
            Money::from_units(1, Currency::EUR),
            Channel::Web,
        );
        let usd = Transaction::new(
            "b",
            id.clone(),
            at,
            Money::from_units(1, Currency::USD),
            Channel::Web,
        );
        assert!(matches!(
            OwnedHistory::new(&[eur, usd], &[]),
            Err(Error::MixedCurrencies { ref currencies }) if currencies.len() == 2
        ));
        let mut unflagged = Transaction::new(
            "c",
            id,
            at,
            Money::from_units(-1, Currency::EUR),
            Channel::Web,
        );
        unflagged.is_refund = false;
        assert!(matches!(
            OwnedHistory::new(&[unflagged], &[]),
            Err(Error::InvalidValue { .. })
        ));
    }
}
