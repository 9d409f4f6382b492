//! Baskets from a customer base's line items: per order and per customer,
//! refunds and orders without line items left out, cut at a date.

use custinsight::basket::{
    MinSupport, MiningParams, customer_baskets, frequent_itemsets, order_baskets,
};
use custinsight::records::{Channel, Currency, CustomerId, LineItem, Money, Transaction};
use custinsight::store::CustomerBaseBuilder;

fn order(customer: &str, id: &str, at: &str, amount: &str, products: &[&str]) -> Transaction {
    let eur = Currency::parse("EUR").unwrap();
    let mut t = Transaction::new(
        id,
        CustomerId::new(customer).unwrap(),
        at.parse().unwrap(),
        Money::parse(amount, eur).unwrap(),
        Channel::Web,
    );
    t.line_items = products
        .iter()
        .map(|p| LineItem {
            product_id: (*p).into(),
            category: None,
            quantity: 1.0,
            unit_price: Money::parse("1.00", eur).unwrap(),
        })
        .collect();
    if amount.starts_with('-') {
        t.is_refund = true;
    }
    t
}

#[test]
fn orders_and_customers_become_baskets() {
    let mut b = CustomerBaseBuilder::new();
    for t in [
        order(
            "a",
            "o1",
            "2024-01-05T10:00:00Z",
            "3.00",
            &["printer", "ink", "ink"],
        ),
        order("a", "o2", "2024-02-05T10:00:00Z", "1.00", &["paper"]),
        order(
            "b",
            "o3",
            "2024-01-07T10:00:00Z",
            "2.00",
            &["printer", "ink"],
        ),
        order("b", "o4", "2024-01-20T10:00:00Z", "-1.00", &["ink"]),
        order("c", "o5", "2024-03-01T10:00:00Z", "5.00", &[]),
        order("c", "o6", "2024-03-02T10:00:00Z", "2.00", &["paper", "pen"]),
    ] {
        b.add_transaction(&t).unwrap();
    }
    let base = b.build().unwrap();
    let names = |bb: &custinsight::basket::BaseBaskets, k: usize| -> Vec<String> {
        let mut v: Vec<String> = bb
            .baskets
            .basket(k)
            .iter()
            .map(|&i| bb.baskets.item_name(i).to_string())
            .collect();
        v.sort();
        v
    };
    let orders = order_baskets(&base, None).unwrap();
    // o1, o2, o3, o6: the refund and the order without items make none.
    assert_eq!(orders.baskets.len(), 4);
    let ids: Vec<&str> = orders
        .customer
        .iter()
        .map(|&c| base.customer_id(c))
        .collect();
    assert_eq!(ids, ["a", "a", "b", "c"]);
    assert_eq!(names(&orders, 0), ["ink", "printer"]);
    assert_eq!(names(&orders, 3), ["paper", "pen"]);
    let customers = customer_baskets(&base, None).unwrap();
    assert_eq!(customers.baskets.len(), 3);
    assert_eq!(names(&customers, 0), ["ink", "paper", "printer"]);
    // Cut at 1 February: a's paper and c's orders are after it.
    let early = customer_baskets(&base, Some("2024-02-01T00:00:00Z".parse().unwrap())).unwrap();
    assert_eq!(early.baskets.len(), 2);
    assert_eq!(names(&early, 0), ["ink", "printer"]);
    // printer and ink go together in both customers' first orders.
    let found = frequent_itemsets(
        &orders.baskets,
        &MiningParams {
            min_support: MinSupport::Count(2),
            ..MiningParams::default()
        },
    )
    .unwrap();
    let code = |p: &str| {
        orders
            .baskets
            .item_names()
            .iter()
            .position(|n| n == p)
            .unwrap() as u32
    };
    assert_eq!(found.support_of(&[code("printer"), code("ink")]), Some(2));
}
