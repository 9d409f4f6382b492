//! The rows a builder takes: a borrowed transaction, and transactions and
//! touchpoints already turned into codes.

use jiff::Timestamp;

use crate::records::{Channel, JourneyStage, LineItem, Money, Transaction};

/// A borrowed view of one transaction, for loading without allocating per row.
#[derive(Debug, Clone, Copy)]
pub struct TransactionRef<'a> {
    /// Customer id (trimmed, non-empty).
    pub customer_id: &'a str,
    /// Order id (unique).
    pub order_id: &'a str,
    /// When.
    pub timestamp: Timestamp,
    /// Amount; negative only for refunds.
    pub amount: Money,
    /// Refund flag.
    pub is_refund: bool,
    /// Sales channel.
    pub channel: &'a Channel,
    /// Store or location.
    pub store: Option<&'a str>,
    /// Line items.
    pub line_items: &'a [LineItem],
}

impl<'a> From<&'a Transaction> for TransactionRef<'a> {
    fn from(t: &'a Transaction) -> Self {
        TransactionRef {
            customer_id: t.customer_id.as_str(),
            order_id: &t.order_id,
            timestamp: t.timestamp,
            amount: t.amount,
            is_refund: t.is_refund,
            channel: &t.channel,
            store: t.store.as_deref(),
            line_items: &t.line_items,
        }
    }
}

/// One transaction row already turned into codes (customer index, currency
/// and channel codes), as the synthetic generator appends it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodedTransaction<'a> {
    /// Customer index.
    pub customer: u32,
    /// Order id; unique by construction.
    pub order_id: &'a str,
    /// When, in microseconds since the epoch.
    pub time_us: i64,
    /// Amount in minor units.
    pub amount_units: i64,
    /// Currency code.
    pub currency: u16,
    /// Sales channel code.
    pub channel: u16,
    /// Refund flag.
    pub is_refund: bool,
}

/// One touchpoint row already turned into codes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodedTouchpoint {
    /// Customer index.
    pub customer: u32,
    /// When, in microseconds since the epoch.
    pub time_us: i64,
    /// Channel code.
    pub channel: u16,
    /// Touchpoint kind code.
    pub kind: u16,
    /// Campaign code (`NONE_U32`: none).
    pub campaign: u32,
    /// Topic code (`NONE_U32`: none).
    pub topic: u32,
    /// Cost: units and currency code.
    pub cost: Option<(i64, u16)>,
    /// The journey stage the content is made for.
    pub content_stage: Option<JourneyStage>,
}

/// One touchpoint for the builder: channel and kind already turned into
/// codes, the other strings borrowed (interned by the builder).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TouchpointRef<'a> {
    /// Customer id (trimmed, non-empty).
    pub customer_id: &'a str,
    /// When, in microseconds since the epoch.
    pub time_us: i64,
    /// Channel code.
    pub channel: u16,
    /// Touchpoint kind code.
    pub kind: u16,
    /// Campaign, if any.
    pub campaign: Option<&'a str>,
    /// Topic, if any.
    pub topic: Option<&'a str>,
    /// Session id, if any.
    pub session_id: Option<&'a str>,
    /// Cost, if known.
    pub cost: Option<Money>,
    /// The journey stage the content is made for.
    pub content_stage: Option<JourneyStage>,
}
