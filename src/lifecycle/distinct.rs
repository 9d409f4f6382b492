//! Evaluating an expensive function once per distinct customer history.
//!
//! Customer summaries repeat: a million CDNOW-like customers have about
//! 108,000 distinct `(x, t_x, T)` and only 2,500 distinct `(x, T)`. Scoring
//! evaluates the expensive part once per distinct key and combines it with
//! each row's cheap part.
//!
//! 1. Rows are split into chunks; each chunk finds its own distinct keys with a
//!    small private table, gives each row the index of its key, and buckets its
//!    distinct keys by shard (the top bits of the key's hash).
//! 2. Each shard owns a disjoint set of keys, so shards are deduplicated across
//!    chunks and evaluated in parallel with nothing to merge afterwards.
//! 3. Each chunk maps its local keys to the evaluated values and fills its
//!    rows' outputs.
//!
//! Extra memory is 4 bytes per row plus the tables, and no value depends on
//! the chunking or the thread count.

use hashbrown::HashTable;

/// log2 of the shard count: enough shards to balance up to a few dozen threads.
const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
/// Rows per chunk (also the unit of the parallel fill).
const CHUNK: usize = 1 << 16;

/// A key's hash: a folded multiply per word, so that whole numbers stored as
/// `f64` (whose low bits are zero) still spread over the top and bottom bits.
fn hash_key<const N: usize>(key: &[u64; N]) -> u64 {
    const SEEDS: [u64; 4] = [
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    ];
    let fold = |a: u64, b: u64| {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    };
    key.iter()
        .enumerate()
        .fold(0x4528_21e6_38d0_1377, |h, (i, &w)| {
            fold(h ^ w, SEEDS[i % SEEDS.len()])
        })
}

fn shard_of(hash: u64) -> usize {
    (hash >> (64 - SHARD_BITS)) as usize
}

/// One chunk's distinct keys (bucketed by shard, each with its local index) and
/// each row's local index.
struct Chunk<const N: usize> {
    buckets: Vec<Vec<([u64; N], u32)>>,
    distinct: usize,
    slot: Vec<u32>,
}

/// For every row `i < n`, writes `fill(i, &eval(&key(i)))[k]` into `out[k][i]`,
/// evaluating `eval` once per distinct key. Every output has length `n`, which
/// must fit a `u32`.
pub(crate) fn fill_by_distinct_key<const N: usize, const K: usize, V: Send + Sync>(
    n: usize,
    key: impl Fn(usize) -> [u64; N] + Sync,
    eval: impl Fn(&[u64; N]) -> V + Sync,
    fill: impl Fn(usize, &V) -> [f64; K] + Sync,
    out: [&mut [f64]; K],
) {
    debug_assert!(u32::try_from(n).is_ok() && out.iter().all(|o| o.len() == n));
    let local = |start: usize| {
        let end = (start + CHUNK).min(n);
        let mut table: HashTable<u32> = HashTable::new();
        // Distinct keys in order of first appearance, with their hashes.
        let mut distinct: Vec<([u64; N], u64)> = Vec::new();
        let slot = (start..end)
            .map(|i| {
                let k = key(i);
                let h = hash_key(&k);
                match table.find(h, |&j| distinct[j as usize].0 == k) {
                    Some(&j) => j,
                    None => {
                        let j = distinct.len() as u32;
                        distinct.push((k, h));
                        table.insert_unique(h, j, |&j| distinct[j as usize].1);
                        j
                    }
                }
            })
            .collect();
        let mut buckets = vec![Vec::new(); SHARDS];
        for (j, &(k, h)) in distinct.iter().enumerate() {
            buckets[shard_of(h)].push((k, j as u32));
        }
        Chunk {
            buckets,
            distinct: distinct.len(),
            slot,
        }
    };
    let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
    let chunks: Vec<Chunk<N>> = crate::parallel::map_slice(&starts, |&s| local(s));

    // Per shard: its distinct keys' values and, chunk after chunk, the index of
    // each bucketed key's value.
    let shard = |s: &usize| {
        let mut table: HashTable<u32> = HashTable::new();
        let mut distinct: Vec<[u64; N]> = Vec::new();
        let mut index = Vec::with_capacity(chunks.iter().map(|c| c.buckets[*s].len()).sum());
        for (k, _) in chunks.iter().flat_map(|c| &c.buckets[*s]) {
            let h = hash_key(k);
            let j = match table.find(h, |&j| distinct[j as usize] == *k) {
                Some(&j) => j,
                None => {
                    let j = distinct.len() as u32;
                    distinct.push(*k);
                    table.insert_unique(h, j, |&j| hash_key(&distinct[j as usize]));
                    j
                }
            };
            index.push(j);
        }
        let values: Vec<V> = distinct.iter().map(&eval).collect();
        (values, index)
    };
    let shard_ids: Vec<usize> = (0..SHARDS).collect();
    let shards: Vec<(Vec<V>, Vec<u32>)> = crate::parallel::map_slice(&shard_ids, shard);

    // Where each chunk's keys start in each shard's index.
    let mut offsets = vec![[0usize; SHARDS]; chunks.len()];
    let mut next = [0usize; SHARDS];
    for (c, chunk) in chunks.iter().enumerate() {
        offsets[c] = next;
        for (s, b) in chunk.buckets.iter().enumerate() {
            next[s] += b.len();
        }
    }
    let fill_chunk = |(c, mut out): (usize, [&mut [f64]; K])| {
        let chunk = &chunks[c];
        // The value of each local key, as (shard, index in shard values).
        let mut value_of = vec![(0u32, 0u32); chunk.distinct];
        for (s, bucket) in chunk.buckets.iter().enumerate() {
            let index = &shards[s].1[offsets[c][s]..offsets[c][s] + bucket.len()];
            for (&(_, j), &v) in bucket.iter().zip(index) {
                value_of[j as usize] = (s as u32, v);
            }
        }
        let start = c * CHUNK;
        // Each output chunk is as long as the chunk's slots.
        for (i, &j) in chunk.slot.iter().enumerate() {
            let (s, v) = value_of[j as usize];
            let values = fill(start + i, &shards[s as usize].0[v as usize]);
            for (o, value) in out.iter_mut().zip(values) {
                o[i] = value;
            }
        }
    };
    // The outputs cut into chunks: one array of K slices per chunk.
    let mut pieces = out.map(|o| o.chunks_mut(CHUNK));
    let parts: Vec<[&mut [f64]; K]> = (0..chunks.len())
        .map(|_| std::array::from_fn(|k| pieces[k].next().unwrap_or_default()))
        .collect();
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        parts.into_par_iter().enumerate().for_each(fill_chunk);
    }
    #[cfg(not(feature = "parallel"))]
    parts.into_iter().enumerate().for_each(fill_chunk);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_row_gets_the_value_of_its_own_key_evaluated_once() {
        // 300k rows over five chunks and all shards, with many repeats.
        let n = 300_000;
        let key = |i: usize| [(i % 37) as u64, (i % 11) as u64 * 3, (i % 7) as u64];
        let calls = AtomicUsize::new(0);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        fill_by_distinct_key(
            n,
            key,
            |k| {
                calls.fetch_add(1, Ordering::Relaxed);
                (k[0] + 100 * k[1] + 10_000 * k[2]) as f64
            },
            |i, &v| [v, i as f64],
            [&mut a, &mut b],
        );
        for i in 0..n {
            let k = key(i);
            assert_eq!(a[i], (k[0] + 100 * k[1] + 10_000 * k[2]) as f64, "row {i}");
            assert_eq!(b[i], i as f64);
        }
        // 37, 11 and 7 are coprime, so every combination occurs, and each is evaluated once.
        assert_eq!(calls.into_inner(), 37 * 11 * 7);
    }

    #[test]
    fn all_distinct_and_empty_inputs() {
        let n = 70_000;
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        fill_by_distinct_key(
            n,
            |i| [i as u64],
            |k| k[0] as f64,
            |_, &v| [v, -v],
            [&mut a, &mut b],
        );
        assert!((0..n).all(|i| a[i] == i as f64 && b[i] == -(i as f64)));
        let (mut a, mut b): (Vec<f64>, Vec<f64>) = (vec![], vec![]);
        fill_by_distinct_key(0, |_| [0u64], |_| 1.0, |_, _| [1.0, 1.0], [&mut a, &mut b]);
        assert!(a.is_empty() && b.is_empty());
    }

    #[test]
    fn the_hash_spreads_whole_numbers_over_shards() {
        let mut seen = [0usize; SHARDS];
        for x in 0..64u32 {
            for t in 0..64u32 {
                seen[shard_of(hash_key(&[f64::from(x).to_bits(), f64::from(t).to_bits()]))] += 1;
            }
        }
        // 4096 keys, 64 per shard on average: no shard empty or holding four times its share.
        assert!(seen.iter().all(|&c| c > 0 && c < 256), "{seen:?}");
    }
}
