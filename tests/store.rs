//! CustomerBase: ordering, lookup, round trips, memory and consent.

use std::collections::HashMap;

use custinsight::records::*;
use custinsight::store::{CustomerBase, CustomerBaseBuilder};
use jiff::Timestamp;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn id(s: &str) -> CustomerId {
    CustomerId::new(s).unwrap()
}

fn eur(units: i64) -> Money {
    Money::from_units(units, Currency::EUR)
}

fn tx(order: &str, customer: &str, time: Timestamp, units: i64) -> Transaction {
    Transaction::new(order, id(customer), time, eur(units), Channel::Web)
}

/// A deterministic permutation of `0..n` (multiplicative step coprime to `n`).
fn shuffled(n: usize, step: usize) -> Vec<usize> {
    (0..n).map(|i| (i * step + 7) % n).collect()
}

/// Per customer (by external id): the order ids of its history, in storage order.
fn histories(base: &CustomerBase) -> HashMap<String, Vec<String>> {
    base.customer_indices()
        .map(|c| {
            let orders = base
                .transaction_range(c)
                .map(|i| base.order_id(i).to_owned())
                .collect();
            (base.customer_id(c).to_owned(), orders)
        })
        .collect()
}

fn assert_histories_sorted(base: &CustomerBase) {
    let mut covered = 0;
    let (tx_owner, tp_owner) = (base.tx_customer(), base.tp_customer());
    assert_eq!(tx_owner.len(), base.n_transactions());
    assert_eq!(tp_owner.len(), base.n_touchpoints());
    assert_eq!(base.transaction_customer(base.n_transactions()), None);
    assert_eq!(base.touchpoint_customer(base.n_touchpoints()), None);
    for c in base.customer_indices() {
        let range = base.transaction_range(c);
        covered += range.len();
        assert!(
            range
                .clone()
                .all(|i| tx_owner[i] == c && base.transaction_customer(i) == Some(c)),
            "customer {c} range holds other rows"
        );
        let times = &base.tx_time_micros()[range];
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "customer {c} history out of time order"
        );
        let range = base.touchpoint_range(c);
        assert!(
            range
                .clone()
                .all(|i| tp_owner[i] == c && base.touchpoint_customer(i) == Some(c))
        );
        let times = &base.tp_time_micros()[range];
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "customer {c} journey out of time order"
        );
    }
    assert_eq!(
        covered,
        base.n_transactions(),
        "ranges cover every row exactly once"
    );
}

#[test]
fn histories_are_in_time_order_regardless_of_insertion_order() {
    // 50 customers × 40 transactions with distinct times, plus touchpoints.
    let mut all = Vec::new();
    let mut touch = Vec::new();
    for c in 0..50 {
        for k in 0..40 {
            let t = at(c * 1_000 + k * 17 % 40 * 10);
            all.push(tx(
                &format!("o-{c}-{k}"),
                &format!("c{c:03}"),
                t,
                10_000 + k,
            ));
            touch.push(Touchpoint::new(
                id(&format!("c{c:03}")),
                t,
                Channel::Email,
                TouchpointKind::Click,
            ));
        }
    }
    let mut reference: Option<HashMap<String, Vec<String>>> = None;
    for step in [1, 3, 7, 11, 13, 1999] {
        let mut b = CustomerBase::builder();
        for i in shuffled(all.len(), step) {
            b.add_transaction(&all[i]).unwrap();
            b.add_touchpoint(&touch[i]).unwrap();
        }
        let base = b.build().unwrap();
        assert_eq!(base.n_transactions(), 2_000);
        assert_eq!(base.n_touchpoints(), 2_000);
        assert_eq!(base.n_customers(), 50);
        assert_histories_sorted(&base);
        let h = histories(&base);
        match &reference {
            None => reference = Some(h),
            Some(r) => assert_eq!(&h, r, "insertion order (step {step}) changed a history"),
        }
    }
    // Reverse insertion as well.
    let mut b = CustomerBase::builder();
    for t in all.iter().rev() {
        b.add_transaction(t).unwrap();
    }
    let base = b.build().unwrap();
    assert_histories_sorted(&base);
    assert_eq!(Some(histories(&base)), reference);
}

#[test]
fn ties_keep_insertion_order() {
    let noon = ts("2024-06-01T12:00:00Z");
    let mut b = CustomerBase::builder();
    b.add_transaction(&tx("late", "c1", ts("2024-06-02T00:00:00Z"), 1))
        .unwrap();
    for name in ["t-3", "t-1", "t-2"] {
        b.add_transaction(&tx(name, "c1", noon, 1)).unwrap();
    }
    b.add_transaction(&tx("early", "c1", ts("2024-05-01T00:00:00Z"), 1))
        .unwrap();
    b.add_transaction(&tx("other", "c0", noon, 1)).unwrap();
    for name in ["t-9", "t-0"] {
        b.add_transaction(&tx(name, "c1", noon, 1)).unwrap();
    }
    let base = b.build().unwrap();
    let c1 = base.index_of("c1").unwrap();
    let orders: Vec<&str> = base
        .transaction_range(c1)
        .map(|i| base.order_id(i))
        .collect();
    assert_eq!(orders, ["early", "t-3", "t-1", "t-2", "t-9", "t-0", "late"]);

    // Large enough for a parallel sort: many customers, many ties, shuffled arrival.
    let n = 60_000;
    let mut b = CustomerBaseBuilder::with_capacity(100, n, n);
    for (seq, i) in shuffled(n, 7_919).into_iter().enumerate() {
        let customer = format!("k{}", i % 100);
        let time = at((i % 5) as i64); // five distinct times per customer, hundreds of ties each
        b.add_transaction(&tx(&format!("{seq:06}"), &customer, time, 1))
            .unwrap();
        let mut tp = Touchpoint::new(id(&customer), time, Channel::Web, TouchpointKind::Visit);
        tp.session_id = Some(format!("{seq:06}"));
        b.add_touchpoint(&tp).unwrap();
    }
    let base = b.build().unwrap();
    assert_histories_sorted(&base);
    for c in base.customer_indices() {
        let range = base.transaction_range(c);
        assert_eq!(range.len(), n / 100);
        for w in range.clone().collect::<Vec<_>>().windows(2) {
            let (a, z) = (w[0], w[1]);
            if base.tx_time_micros()[a] == base.tx_time_micros()[z] {
                // Order ids are the arrival sequence numbers, zero-padded.
                assert!(
                    base.order_id(a) < base.order_id(z),
                    "tie broke insertion order"
                );
            }
        }
        let sessions: Vec<String> = base
            .touchpoint_range(c)
            .map(|i| base.touchpoint(i).unwrap().session_id.unwrap())
            .collect();
        let times: Vec<i64> = base
            .touchpoint_range(c)
            .map(|i| base.tp_time_micros()[i])
            .collect();
        for k in 1..sessions.len() {
            if times[k - 1] == times[k] {
                assert!(
                    sessions[k - 1] < sessions[k],
                    "touchpoint tie broke insertion order"
                );
            }
        }
    }
}

#[test]
fn index_of_finds_every_customer() {
    let n = 50_000;
    let mut b = CustomerBase::builder();
    let ids: Vec<String> = (0..n).map(|i| format!("{:07}", i * 7 % n)).collect();
    for (k, customer) in ids.iter().enumerate() {
        assert_eq!(
            b.customer_index(customer).unwrap(),
            k as u32,
            "dense indices in order of first appearance"
        );
    }
    b.add_transaction(&tx("o-1", &ids[42], at(0), 1)).unwrap();
    b.add_customer(Customer::new(id("new-one"))).unwrap();
    let base = b.build().unwrap();
    assert_eq!(base.n_customers(), n + 1);
    assert_eq!(base.customer_indices(), 0..(n as u32 + 1));
    for (k, customer) in ids.iter().enumerate() {
        assert_eq!(base.index_of(customer), Some(k as u32));
        assert_eq!(base.customer_id(k as u32), customer);
    }
    assert_eq!(base.index_of("new-one"), Some(n as u32));
    assert_eq!(
        base.index_of(&format!("  {}\t", ids[3])),
        Some(3),
        "lookups trim like ids do"
    );
    assert_eq!(base.index_of("0000000"), Some(0));
    assert_eq!(
        base.index_of("0"),
        None,
        "ids are opaque: no numeric matching"
    );
    assert_eq!(base.index_of("missing"), None);
    assert_eq!(base.customer_id(u32::MAX), "");
    assert_eq!(base.transaction_range(u32::MAX), 0..0);
    let c = base.index_of(&ids[42]).unwrap();
    assert_eq!(base.transaction_range(c).len(), 1);
    assert_eq!(base.order_id(base.transaction_range(c).start), "o-1");
    assert_eq!(base.order_id(usize::MAX), "");
    assert!(base.transaction(usize::MAX).is_none());
}

fn sample_transactions() -> Vec<Transaction> {
    let mut out = Vec::new();
    // The first transactions have no line items, so items start mid-way.
    out.push(tx(
        "A-1",
        "alice",
        ts("2024-01-03T10:00:00.123456Z"),
        12_345,
    ));
    out.push(Transaction::new(
        "B-1",
        id("bob"),
        ts("2023-12-31T23:59:59Z"),
        Money::from_units(999_999, Currency::USD),
        Channel::Other("carrier pigeon".into()),
    ));
    let mut with_items = Transaction::new(
        "A-2",
        id("alice"),
        ts("2024-01-01T08:00:00Z"),
        eur(150_000),
        Channel::Store,
    );
    with_items.store = Some("berlin-01".into());
    with_items.line_items = vec![
        LineItem {
            product_id: "p-1".into(),
            category: Some("shoes".into()),
            quantity: 2.0,
            unit_price: eur(50_000),
        },
        LineItem {
            product_id: "p-2".into(),
            category: None,
            quantity: 0.5,
            unit_price: eur(100_000),
        },
    ];
    out.push(with_items);
    let mut refund = Transaction::new(
        "A-3",
        id("alice"),
        ts("2024-02-01T08:00:00Z"),
        eur(-50_000),
        Channel::Store,
    );
    refund.store = Some("berlin-01".into());
    refund.line_items = vec![LineItem {
        product_id: "p-1".into(),
        category: Some("shoes".into()),
        quantity: -1.0,
        unit_price: eur(50_000),
    }];
    assert!(refund.is_refund);
    out.push(refund);
    let mut zero_refund = Transaction::new(
        "C-1",
        id("00007"),
        ts("1999-12-31T00:00:00Z"),
        Money::from_units(0, Currency::GBP),
        Channel::App,
    );
    zero_refund.is_refund = true;
    zero_refund.store = Some("  ".into()); // blank store counts as none
    out.push(zero_refund);
    let mut other_store = tx("B-2", "bob", ts("2024-03-01T00:00:00Z"), 1);
    other_store.store = Some("paris".into());
    out.push(other_store);
    out.push(tx("D-1", "7", ts("2024-03-01T00:00:00Z"), 70_000));
    out
}

#[test]
fn transaction_round_trips_every_field() {
    let input = sample_transactions();
    let mut alice = Customer::new(id("alice"));
    alice.profile.given_name = Some(Pii::new("Alice".to_owned()));
    alice.profile.emails = vec!["alice@example.org".into()];
    alice
        .consent
        .grant(None, Purpose::Marketing, ts("2020-01-01T00:00:00Z"));
    let mut tp = Touchpoint::new(
        id("bob"),
        ts("2024-01-01T00:00:00Z"),
        Channel::Email,
        TouchpointKind::Other("x".into()),
    );
    tp.campaign = Some("spring".into());
    tp.topic = Some("shoes".into());
    tp.cost = Some(Money::from_units(200, Currency::USD));
    tp.session_id = Some("s-1".into());
    let bare = Touchpoint::new(
        id("dora"),
        ts("2024-01-02T00:00:00Z"),
        Channel::Web,
        TouchpointKind::Visit,
    );
    let touchpoints = vec![tp.clone(), bare.clone()];

    let base = CustomerBase::from_records([alice.clone()], &input, &touchpoints).unwrap();
    assert_eq!(base.n_transactions(), input.len());
    assert_eq!(base.n_touchpoints(), 2);
    assert_eq!(base.n_customers(), 5, "alice, bob, 00007, 7, dora");
    assert_eq!(
        base.customer_id(0),
        "alice",
        "customer records are added first"
    );

    let by_order: HashMap<String, Transaction> = base
        .iter_transactions()
        .map(|t| (t.order_id.clone(), t))
        .collect();
    assert_eq!(by_order.len(), input.len());
    for original in &input {
        let mut expected = original.clone();
        if expected
            .store
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            expected.store = None;
        }
        assert_eq!(
            by_order[&original.order_id], expected,
            "round trip of {}",
            original.order_id
        );
    }
    for i in 0..base.n_transactions() {
        let t = base.transaction(i).unwrap();
        assert_eq!(t.order_id, base.order_id(i));
        assert_eq!(base.tx_currency(i), Some(t.amount.currency));
        assert_eq!(base.tx_amount_units()[i], t.amount.units);
        assert_eq!(base.tx_is_refund()[i], t.is_refund);
        assert_eq!(base.channel(base.tx_channel_codes()[i]), Some(&t.channel));
        assert_eq!(
            base.customer_id(base.tx_customer()[i]),
            t.customer_id.as_str()
        );
    }
    let a = base.index_of("alice").unwrap();
    let alice_orders: Vec<&str> = base
        .transaction_range(a)
        .map(|i| base.order_id(i))
        .collect();
    assert_eq!(alice_orders, ["A-2", "A-1", "A-3"]);
    assert_eq!(base.customer(a), Some(alice.clone()));
    assert!(
        base.customer(base.index_of("bob").unwrap()).is_none(),
        "no record loaded for bob"
    );
    assert_ne!(base.index_of("00007"), base.index_of("7"));

    let tps: Vec<Touchpoint> = base.iter_touchpoints().collect();
    assert_eq!(tps, touchpoints);
    assert!(base.kinds().contains(&TouchpointKind::Other("x".into())));
    assert!(
        base.channels()
            .contains(&Channel::Other("carrier pigeon".into()))
    );
    assert!(base.currencies().contains(&Currency::GBP));
}

#[test]
fn builder_rejects_invalid_transactions_without_side_effects() {
    let mut b = CustomerBase::builder();
    b.add_transaction(&tx("o-1", "c1", at(0), 1)).unwrap();
    let dup = b.add_transaction(&tx("o-1", "c2", at(1), 1)).unwrap_err();
    assert!(
        matches!(dup, custinsight::Error::DuplicateOrderId(ref o) if o == "o-1"),
        "{dup:?}"
    );
    let mut unflagged = tx("o-2", "c3", at(2), -5);
    unflagged.is_refund = false;
    let err = b.add_transaction(&unflagged).unwrap_err();
    assert!(
        matches!(err, custinsight::Error::InvalidValue { what: "amount", .. }),
        "{err:?}"
    );
    let mut positive_refund = tx("o-3", "c4", at(3), 5);
    positive_refund.is_refund = true;
    let err = b.add_transaction(&positive_refund).unwrap_err();
    assert!(
        matches!(err, custinsight::Error::InvalidValue { what: "amount", .. }),
        "{err:?}"
    );
    let mut mixed = tx("o-4", "c5", at(4), 5);
    mixed.line_items.push(LineItem {
        product_id: "p".into(),
        category: None,
        quantity: 1.0,
        unit_price: Money::from_units(5, Currency::USD),
    });
    let err = b.add_transaction(&mixed).unwrap_err();
    assert!(
        matches!(err, custinsight::Error::InvalidValue { .. }),
        "line item currency must match: {err:?}"
    );
    assert!(b.contains_order("o-1"));
    assert!(!b.contains_order("o-2"));
    assert_eq!(b.n_transactions(), 1);
    let base = b.build().unwrap();
    assert_eq!(base.n_transactions(), 1);
    assert_eq!(
        base.n_customers(),
        1,
        "rejected transactions leave no customers behind"
    );
    assert_eq!(base.index_of("c2"), None);
}

fn memory_base(sorted_input: bool) -> CustomerBase {
    let n = 100_000;
    let customers = 10_000;
    let mut b = CustomerBase::builder();
    let channels = [Channel::Web, Channel::Store, Channel::App];
    for i in 0..n {
        // Either customer-major (already sorted) or time-major (needs the sort).
        let (customer, time) = if sorted_input {
            (i / 10, i as i64)
        } else {
            (i % customers, i as i64)
        };
        let t = Transaction::new(
            format!("O{:08}", i + 1),
            id(&format!("C{customer:06}")),
            at(time * 60),
            eur(10_000 + (i as i64 % 997) * 100),
            channels[i % channels.len()].clone(),
        );
        b.add_transaction(&t).unwrap();
    }
    b.build().unwrap()
}

#[test]
fn memory_per_transaction_is_small() {
    for sorted_input in [false, true] {
        let base = memory_base(sorted_input);
        assert_eq!(base.n_transactions(), 100_000);
        assert_eq!(
            base.order_id(0),
            "O00000001",
            "customer C000000's first order"
        );
        let m = base.memory();
        println!(
            "memory ({} input): {:.2} bytes per transaction ({} transaction bytes for {} transactions; {} customer bytes)",
            if sorted_input {
                "pre-sorted"
            } else {
                "time-ordered"
            },
            m.bytes_per_transaction,
            m.transaction_bytes,
            base.n_transactions(),
            m.customer_bytes,
        );
        assert!(m.bytes_per_transaction > 0.0);
        assert!((m.bytes_per_transaction - m.transaction_bytes as f64 / 100_000.0).abs() < 1e-9);
        assert!(
            m.bytes_per_transaction <= 48.0,
            "{:.2} bytes per transaction",
            m.bytes_per_transaction
        );
        assert_eq!(m.touchpoint_bytes, 0);
        assert_eq!(m.bytes_per_touchpoint, 0.0);
    }
}

#[test]
fn consent_events_are_reflected_by_allows() {
    let m = Purpose::Marketing;
    let mut b = CustomerBase::builder();
    // A customer with a record and a consent in it.
    let mut with_record = Customer::new(id("rec"));
    with_record
        .consent
        .grant(None, Purpose::Analytics, ts("2024-01-01T00:00:00Z"));
    with_record.profile.city = Some("Lyon".into());
    b.add_customer(with_record).unwrap();
    b.add_consent_event(
        "rec",
        ConsentEvent {
            channel: None,
            purpose: m.clone(),
            status: ConsentStatus::Granted,
            at: ts("2024-01-01T00:00:00Z"),
            source: None,
        },
    )
    .unwrap();
    b.add_consent_event(
        " rec ",
        ConsentEvent {
            channel: Some(Channel::Sms),
            purpose: m.clone(),
            status: ConsentStatus::Withdrawn,
            at: ts("2024-02-01T00:00:00Z"),
            source: None,
        },
    )
    .unwrap();
    // A customer known only from consent.
    b.add_consent_event(
        "bare",
        ConsentEvent {
            channel: Some(Channel::Email),
            purpose: m.clone(),
            status: ConsentStatus::Granted,
            at: ts("2024-01-01T00:00:00Z"),
            source: None,
        },
    )
    .unwrap();
    // Consent first, record later.
    b.add_consent_event(
        "late",
        ConsentEvent {
            channel: None,
            purpose: m.clone(),
            status: ConsentStatus::Granted,
            at: ts("2024-01-01T00:00:00Z"),
            source: None,
        },
    )
    .unwrap();
    let mut late = Customer::new(id("late"));
    late.profile.country = Some("FR".into());
    b.add_customer(late).unwrap();
    // A customer known only from a transaction.
    b.add_transaction(&tx("o-1", "buyer", at(0), 1)).unwrap();
    let err = b
        .add_consent_event(
            "   ",
            ConsentEvent {
                channel: None,
                purpose: m.clone(),
                status: ConsentStatus::Granted,
                at: at(0),
                source: None,
            },
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            custinsight::Error::InvalidValue {
                what: "customer id",
                ..
            }
        ),
        "{err:?}"
    );
    let base = b.build().unwrap();

    let when = ts("2024-03-01T00:00:00Z");
    let rec = base.index_of("rec").unwrap();
    assert!(base.allows(rec, &Channel::Email, &m, when));
    assert!(!base.allows(rec, &Channel::Sms, &m, when), "sms withdrawn");
    assert!(
        base.allows(rec, &Channel::Sms, &m, ts("2024-01-15T00:00:00Z")),
        "before the withdrawal"
    );
    assert!(
        !base.allows(rec, &Channel::Email, &m, ts("2023-12-01T00:00:00Z")),
        "before the grant"
    );
    assert!(
        base.allows(rec, &Channel::Web, &Purpose::Analytics, when),
        "the record's own consent is kept"
    );
    let record = base.customer(rec).unwrap();
    assert_eq!(record.profile.city.as_deref(), Some("Lyon"));
    assert_eq!(record.consent.events().len(), 3);

    let bare = base.index_of("bare").unwrap();
    assert!(base.allows(bare, &Channel::Email, &m, when));
    assert!(!base.allows(bare, &Channel::Web, &m, when));
    assert_eq!(base.customer(bare).unwrap().id.as_str(), "bare");

    let late = base.index_of("late").unwrap();
    assert!(base.allows(late, &Channel::Web, &m, when));
    assert_eq!(
        base.customer(late).unwrap().profile.country.as_deref(),
        Some("FR")
    );

    let buyer = base.index_of("buyer").unwrap();
    assert!(
        !base.allows(buyer, &Channel::Email, &m, when),
        "consent is opt-in"
    );
    assert!(!base.allows(u32::MAX, &Channel::Email, &m, when));
}

/// Transactions added one by one and then a bulk file load share one order-id space:
/// a file row repeating an earlier order is rejected with its line, and ids stay dense.
#[test]
fn bulk_load_after_single_adds_checks_earlier_orders() {
    use custinsight::ingest::{Format, IngestOptions, Loader};
    use custinsight::records::{Channel, Currency, CustomerId, Money, Transaction};
    let mut builder = custinsight::store::CustomerBase::builder();
    let ts = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    builder
        .add_transaction(&Transaction::new(
            "o-1",
            CustomerId::new("a").unwrap(),
            ts("2024-01-01T00:00:00Z"),
            Money::parse("1", Currency::EUR).unwrap(),
            Channel::Web,
        ))
        .unwrap();
    let mut loader = Loader::with_builder(IngestOptions::default(), builder);
    let csv = "customer_id,order_id,timestamp,amount,currency,channel\n\
               b,o-2,2024-01-02,2,EUR,web\n\
               c,o-1,2024-01-03,3,EUR,web\n\
               b,o-3,2024-01-04,4,EUR,web\n\
               d,o-2,2024-01-05,5,EUR,web\n\
               a,o-4,2024-01-06,6,EUR,web\n";
    let report = loader
        .transactions(Format::Csv, csv.as_bytes(), "t.csv")
        .unwrap();
    assert_eq!((report.rows, report.accepted, report.rejected), (5, 3, 2));
    let lines: Vec<u64> = report.rejections.iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 5]);
    assert!(report.rejections.iter().all(|r| r.field == "order_id"));
    let (base, _) = loader.finish().unwrap();
    // c and d only had rejected rows, so they are not customers; a, b keep first-seen order.
    assert_eq!(base.n_customers(), 2);
    assert_eq!(base.customer_id(0), "a");
    assert_eq!(base.customer_id(1), "b");
    let a = base.index_of("a").unwrap();
    let orders: Vec<&str> = base
        .transaction_range(a)
        .map(|i| base.order_id(i))
        .collect();
    assert_eq!(orders, ["o-1", "o-4"]);
    let b = base.index_of("b").unwrap();
    let orders: Vec<&str> = base
        .transaction_range(b)
        .map(|i| base.order_id(i))
        .collect();
    assert_eq!(orders, ["o-2", "o-3"]);
}

/// `add_transactions` (bulk, partitioned) gives exactly what `add_transaction_ref`
/// row by row gives: the same rejections, dense ids in first-seen order and columns.
#[test]
fn bulk_add_equals_row_by_row() {
    use custinsight::Error;
    use custinsight::records::{Channel, Currency, Money};
    use custinsight::store::TransactionRef;
    use rand::{Rng, SeedableRng};

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let channel = Channel::Web;
    let rows: Vec<(String, String, i64, i64)> = (0..40_000)
        .map(|i| {
            let customer = if rng.gen_bool(0.001) {
                " ".to_owned()
            } else {
                format!("{:05}", rng.gen_range(0..3_000))
            };
            // Every 50th row repeats an earlier order id.
            let order = if i > 0 && i % 50 == 0 {
                format!("o{}", rng.gen_range(0..i))
            } else {
                format!("o{i}")
            };
            let amount = if rng.gen_bool(0.002) {
                -100
            } else {
                rng.gen_range(1..1_000_000)
            };
            (
                customer,
                order,
                1_700_000_000 + rng.gen_range(0..10_000_000),
                amount,
            )
        })
        .collect();
    fn as_ref<'a>(r: &'a (String, String, i64, i64), channel: &'a Channel) -> TransactionRef<'a> {
        TransactionRef {
            customer_id: &r.0,
            order_id: &r.1,
            timestamp: jiff::Timestamp::from_second(r.2).unwrap(),
            amount: Money::from_units(r.3, Currency::EUR),
            is_refund: false,
            channel,
            store: None,
            line_items: &[],
        }
    }

    let mut one_by_one = custinsight::store::CustomerBase::builder();
    let mut expected: Vec<(usize, String)> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if let Err(e) = one_by_one.add_transaction_ref(as_ref(r, &channel)) {
            expected.push((i, e.to_string()));
        }
    }
    let mut bulk = custinsight::store::CustomerBase::builder();
    let rejected = bulk
        .add_transactions(rows.iter().map(|r| as_ref(r, &channel)))
        .unwrap();
    let got: Vec<(usize, String)> = rejected.iter().map(|(i, e)| (*i, e.to_string())).collect();
    assert_eq!(got, expected);
    assert!(
        rejected
            .iter()
            .any(|(_, e)| matches!(e, Error::DuplicateOrderId(_)))
    );
    assert!(
        rejected
            .iter()
            .any(|(_, e)| matches!(e, Error::InvalidValue { .. }))
    );

    let (a, b) = (one_by_one.build().unwrap(), bulk.build().unwrap());
    assert_eq!(a.n_customers(), b.n_customers());
    for c in a.customer_indices() {
        assert_eq!(a.customer_id(c), b.customer_id(c));
    }
    assert_eq!(a.tx_customer(), b.tx_customer());
    assert_eq!(a.tx_time_micros(), b.tx_time_micros());
    assert_eq!(a.tx_amount_units(), b.tx_amount_units());
    for i in 0..a.n_transactions() {
        assert_eq!(a.order_id(i), b.order_id(i));
    }
}
