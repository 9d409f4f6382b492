//! Deterministic benchmark inputs shared by the benches.

use std::fmt::Write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A transactions CSV in the ingest format with `rows` rows over ~`rows / 10` customers:
/// zero-padded customer ids, unique order ids, RFC 3339 UTC timestamps over 2023–2024,
/// two-decimal amounts, 90% EUR, five channels (the shape of the polars comparison file).
#[allow(dead_code)]
pub fn transactions_csv(rows: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let customers = (rows / 10).max(1);
    let channels = ["web", "app", "store", "email", "call_center"];
    let mut out = String::with_capacity(rows * 56);
    out.push_str("customer_id,order_id,timestamp,amount,currency,channel\n");
    let start = 1_672_531_200i64; // 2023-01-01T00:00:00Z
    for i in 0..rows {
        let customer = rng.gen_range(0..customers);
        let secs = start + rng.gen_range(0..63_158_400i64);
        let ts = jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let cents = (rng.r#gen::<f64>().powi(2) * 30_000.0) as u64 + 50;
        let currency = if rng.gen_bool(0.9) { "EUR" } else { "USD" };
        let channel = channels[rng.gen_range(0..channels.len())];
        let _ = writeln!(
            out,
            "{customer:07},O{i:08},{ts},{}.{:02},{currency},{channel}",
            cents / 100,
            cents % 100
        );
    }
    out.into_bytes()
}
