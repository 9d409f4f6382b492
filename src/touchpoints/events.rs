//! One customer's merged history: touchpoints and non-refund transactions
//! in time order, each placed on the engagement ladder, with transactions
//! that duplicate a `purchase` touchpoint marked.

use super::engagement::Rung;
use crate::store::CustomerBase;

/// The rung of every kind code of the base.
pub(crate) fn kind_rungs(base: &CustomerBase) -> Vec<Option<Rung>> {
    base.kinds().iter().map(Rung::of_kind).collect()
}

/// One event of a customer's merged history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Event {
    /// Microseconds since the Unix epoch.
    pub(crate) time_us: i64,
    /// The rung, if the event is on the ladder.
    pub(crate) rung: Option<Rung>,
    /// The touchpoint kind code; `None` for a transaction.
    pub(crate) kind: Option<u16>,
    /// The channel code.
    pub(crate) channel: u16,
    /// The touchpoint row (when `kind` is `Some`) or the transaction row.
    pub(crate) row: usize,
    /// A transaction matched to a `purchase` touchpoint: it dates the purchase
    /// (for windows) but adds no points and no purchase count.
    pub(crate) duplicate: bool,
}

/// A customer's touchpoints and non-refund transactions merged in time order
/// (touchpoints first at equal times); transactions matched to a `purchase`
/// touchpoint within `match_us` are marked `duplicate`. Written into `out`
/// (cleared first).
pub(crate) fn customer_events(
    base: &CustomerBase,
    rungs: &[Option<Rung>],
    customer: u32,
    match_us: i64,
    out: &mut Vec<Event>,
) {
    out.clear();
    let tp = base.touchpoint_range(customer);
    let tx = base.transaction_range(customer);
    let tp_time = base.tp_time_micros().get(tp.clone()).unwrap_or_default();
    let tp_kind = base.tp_kind_codes().get(tp.clone()).unwrap_or_default();
    let tp_channel = base.tp_channel_codes().get(tp.clone()).unwrap_or_default();
    let tx_time = base.tx_time_micros().get(tx.clone()).unwrap_or_default();
    let tx_refund = base.tx_is_refund().get(tx.clone()).unwrap_or_default();
    let tx_channel = base.tx_channel_codes().get(tx.clone()).unwrap_or_default();

    let touchpoints = tp_time.iter().zip(tp_kind).zip(tp_channel).enumerate().map(
        |(k, ((&time_us, &kind), &channel))| Event {
            time_us,
            rung: rungs.get(kind as usize).copied().flatten(),
            kind: Some(kind),
            channel,
            row: tp.start + k,
            duplicate: false,
        },
    );
    let purchase_times: Vec<i64> = touchpoints
        .clone()
        .filter(|e| e.rung == Some(Rung::Purchase))
        .map(|e| e.time_us)
        .collect();
    let mut next_purchase = 0;
    let mut transactions = Vec::with_capacity(tx_time.len());
    for (k, ((&time_us, &refund), &channel)) in
        tx_time.iter().zip(tx_refund).zip(tx_channel).enumerate()
    {
        if refund {
            continue;
        }
        // Greedy interval matching: both lists are in time order.
        while purchase_times
            .get(next_purchase)
            .is_some_and(|&p| p < time_us.saturating_sub(match_us))
        {
            next_purchase += 1;
        }
        let duplicate = purchase_times
            .get(next_purchase)
            .is_some_and(|&p| p <= time_us.saturating_add(match_us));
        if duplicate {
            next_purchase += 1;
        }
        transactions.push(Event {
            time_us,
            rung: Some(Rung::Purchase),
            kind: None,
            channel,
            row: tx.start + k,
            duplicate,
        });
    }
    out.reserve(tp_time.len() + transactions.len());
    let mut txs = transactions.into_iter().peekable();
    for e in touchpoints {
        while let Some(t) = txs.next_if(|t| t.time_us < e.time_us) {
            out.push(t);
        }
        out.push(e);
    }
    out.extend(txs);
}
