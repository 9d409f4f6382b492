//! Transactions: orders and refunds.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ids::CustomerId;
use super::money::Money;
use super::touchpoint::Channel;
use crate::error::{Error, Result};

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    /// Product identifier (opaque).
    pub product_id: String,
    /// Product category, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Quantity (may be fractional, e.g. weight; negative on refunds).
    pub quantity: f64,
    /// Price per unit.
    pub unit_price: Money,
}

/// An order or a refund.
///
/// Refunds carry a negative amount and `is_refund = true`; a negative amount
/// without the flag is invalid (see [`Transaction::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// Order identifier, unique across a data set.
    pub order_id: String,
    /// The customer.
    pub customer_id: CustomerId,
    /// When the order (or refund) happened.
    pub timestamp: Timestamp,
    /// Total amount of the order; negative for refunds.
    pub amount: Money,
    /// Whether this is a refund.
    #[serde(default)]
    pub is_refund: bool,
    /// Sales channel.
    pub channel: Channel,
    /// Line items, if known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItem>,
    /// Store or location identifier, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

impl Transaction {
    /// A transaction with no line items and no store.
    pub fn new(
        order_id: impl Into<String>,
        customer_id: CustomerId,
        timestamp: Timestamp,
        amount: Money,
        channel: Channel,
    ) -> Self {
        let is_refund = amount.is_negative();
        Transaction {
            order_id: order_id.into(),
            customer_id,
            timestamp,
            amount,
            is_refund,
            channel,
            line_items: Vec::new(),
            store: None,
        }
    }

    /// Checks the invariants a transaction must satisfy.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty order id, a negative amount not
    /// flagged as a refund, a refund with a positive amount, or a line item
    /// with a non-finite quantity or a currency that differs from the order's.
    pub fn check(&self) -> Result<()> {
        if self.order_id.trim().is_empty() {
            return Err(Error::value("order id", &self.order_id, "empty"));
        }
        if self.amount.is_negative() && !self.is_refund {
            return Err(Error::value(
                "amount",
                self.amount.to_string(),
                "negative amount not flagged as a refund",
            ));
        }
        if self.is_refund && self.amount.units > 0 {
            return Err(Error::value(
                "amount",
                self.amount.to_string(),
                "refund with a positive amount",
            ));
        }
        for item in &self.line_items {
            if !item.quantity.is_finite() {
                return Err(Error::value(
                    "quantity",
                    item.quantity.to_string(),
                    "not finite",
                ));
            }
            if item.unit_price.currency != self.amount.currency {
                return Err(Error::value(
                    "unit price",
                    item.unit_price.to_string(),
                    format!("currency differs from the order's {}", self.amount.currency),
                ));
            }
        }
        Ok(())
    }
}
