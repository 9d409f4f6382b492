//! CustomerBase bulk build: intern ids, check order ids, sort into histories.
//!
//! `cargo bench --bench store`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use custinsight::records::{Channel, Currency, Money};
use custinsight::store::{CustomerBase, TransactionRef};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Row {
    customer: String,
    order: String,
    ts: jiff::Timestamp,
    amount: Money,
    channel: Channel,
}

fn rows(n: usize) -> Vec<Row> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let channels = [Channel::Web, Channel::App, Channel::Store];
    (0..n)
        .map(|i| Row {
            customer: format!("{:07}", rng.gen_range(0..n / 10)),
            order: format!("O{i:08}"),
            ts: jiff::Timestamp::from_second(1_672_531_200 + rng.gen_range(0..63_158_400))
                .expect("in range"),
            amount: Money::from_units(rng.gen_range(5_000..3_000_000), Currency::EUR),
            channel: channels[rng.gen_range(0..3)].clone(),
        })
        .collect()
}

fn as_ref(r: &Row) -> TransactionRef<'_> {
    TransactionRef {
        customer_id: &r.customer,
        order_id: &r.order,
        timestamp: r.ts,
        amount: r.amount,
        is_refund: false,
        channel: &r.channel,
        store: None,
        line_items: &[],
    }
}

fn bench(c: &mut Criterion) {
    let n = 1_000_000;
    let input = rows(n);
    let mut g = c.benchmark_group("customer_base_build_1m");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("unsorted_transactions", |b| {
        b.iter_batched(
            CustomerBase::builder,
            |mut builder| {
                for r in &input {
                    builder.add_transaction_ref(as_ref(r)).expect("valid row");
                }
                builder.build().expect("builds")
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("bulk_add_transactions", |b| {
        b.iter_batched(
            CustomerBase::builder,
            |mut builder| {
                let rejected = builder
                    .add_transactions(input.iter().map(as_ref))
                    .expect("fits");
                assert!(rejected.is_empty());
                builder.build().expect("builds")
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    let mut builder = CustomerBase::builder();
    for r in &input {
        builder.add_transaction_ref(as_ref(r)).expect("valid row");
    }
    let base = builder.build().expect("builds");
    let m = base.memory();
    println!(
        "memory: {:.1} bytes per transaction ({} transactions, {} bytes)",
        m.bytes_per_transaction, n, m.transaction_bytes
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
