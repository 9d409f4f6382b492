//! Baskets from a [`CustomerBase`]: the products of each order, and of each
//! customer, from the line items the base keeps with its transactions.

use serde::{Deserialize, Serialize};

use super::baskets::{Baskets, BasketsBuilder};
use crate::error::Result;
use crate::store::{CustomerBase, to_micros};
use jiff::Timestamp;

/// Baskets with whose they are: one per order, or one per customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseBaskets {
    /// The baskets (items are product ids).
    pub baskets: Baskets,
    /// The base's customer index of each basket.
    pub customer: Vec<u32>,
}

/// The products of every purchase (a transaction that is not a refund, with
/// line items) up to `as_of` (all when `None`), one basket per order, in
/// customer order and, within a customer, in time order. A product bought
/// twice in one order counts once; refunds and orders without line items
/// make no basket.
///
/// ```
/// use custinsight::basket::order_baskets;
/// use custinsight::records::{Channel, Currency, CustomerId, LineItem, Money, Transaction};
/// use custinsight::store::CustomerBaseBuilder;
///
/// let eur = Currency::parse("EUR")?;
/// let item = |p: &str| LineItem {
///     product_id: p.into(),
///     category: None,
///     quantity: 1.0,
///     unit_price: Money::parse("5.00", eur).unwrap(),
/// };
/// let mut order = Transaction::new(
///     "o1",
///     CustomerId::new("c1")?,
///     "2024-03-01T10:00:00Z".parse().unwrap(),
///     Money::parse("10.00", eur)?,
///     Channel::Web,
/// );
/// order.line_items = vec![item("printer"), item("ink")];
/// let mut b = CustomerBaseBuilder::new();
/// b.add_transaction(&order)?;
/// let base = b.build()?;
/// let orders = order_baskets(&base, None)?;
/// assert_eq!(orders.baskets.len(), 1);
/// assert_eq!(orders.baskets.basket(0).len(), 2);
/// # Ok::<(), custinsight::Error>(())
/// ```
///
/// # Errors
/// [`crate::Error::Capacity`] beyond 2³² − 1 distinct products.
pub fn order_baskets(base: &CustomerBase, as_of: Option<Timestamp>) -> Result<BaseBaskets> {
    collect(base, as_of, false)
}

/// The products every customer has bought up to `as_of` (all when `None`),
/// one basket per customer with a purchase that has line items: what they
/// own, for "customers who bought A also bought B" across orders.
///
/// # Errors
/// [`crate::Error::Capacity`] beyond 2³² − 1 distinct products.
pub fn customer_baskets(base: &CustomerBase, as_of: Option<Timestamp>) -> Result<BaseBaskets> {
    collect(base, as_of, true)
}

fn collect(
    base: &CustomerBase,
    as_of: Option<Timestamp>,
    per_customer: bool,
) -> Result<BaseBaskets> {
    let until = as_of.map_or(i64::MAX, to_micros);
    let mut builder = BasketsBuilder::new();
    let mut customer = Vec::new();
    for c in base.customer_indices() {
        let h = base.history(c);
        let mut open = false;
        for k in 0..h.tx_time.partition_point(|&t| t <= until) {
            let items = h.line_items(k);
            if h.tx_refund[k] || items.is_empty() {
                continue;
            }
            for item in items {
                builder.push_item(&item.product_id)?;
            }
            if per_customer {
                open = true;
            } else {
                builder.finish_basket();
                customer.push(c);
            }
        }
        if open {
            builder.finish_basket();
            customer.push(c);
        }
    }
    Ok(BaseBaskets {
        baskets: builder.build(),
        customer,
    })
}
