//! Bulk id resolution for large loads: radix-partitioned hashing.
//!
//! Interning ten million ids one at a time into one large hash table costs a
//! few cache misses per id (the table and the strings are far larger than the
//! caches). A bulk load instead appends rows with their ids unresolved, then
//! resolves them all at once: each id is hashed once and copied, with its row,
//! into one of many partitions small enough to stay in cache; each partition
//! finds the first occurrence of every distinct id with a small local table
//! (partitions run in parallel); only ids new to the base then touch the global
//! index, in order of first appearance. The result is exactly what row-by-row
//! interning gives: the same dense indices and the same duplicates.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::intern::{Interner, StrArena};
use crate::error::{Error, Result};

/// Ids of one partition with the rows they came from, in row order.
#[derive(Default)]
struct Part {
    rows: Vec<u32>,
    hashes: Vec<u64>,
    text: String,
    ends: Vec<u32>,
}

impl Part {
    fn get(&self, i: usize) -> &str {
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0) as usize
        };
        self.text.get(start..end).unwrap_or("")
    }

    /// For every entry, the entry index of the first equal id in this partition.
    fn first_occurrences(&self) -> Vec<u32> {
        let mut table: HashTable<u32> = HashTable::with_capacity(self.rows.len());
        let mut first = Vec::with_capacity(self.rows.len());
        for (i, &h) in self.hashes.iter().enumerate() {
            let s = self.get(i);
            let found = table.find(h, |&j| {
                self.hashes[j as usize] == h && self.get(j as usize) == s
            });
            match found {
                Some(&j) => first.push(j),
                None => {
                    table.insert_unique(h, i as u32, |&j| self.hashes[j as usize]);
                    first.push(i as u32);
                }
            }
        }
        first
    }

    /// Appends `other`'s entries after this partition's.
    #[cfg(feature = "parallel")]
    fn append(&mut self, other: Part) {
        let offset = self.text.len() as u32;
        self.rows.extend_from_slice(&other.rows);
        self.hashes.extend_from_slice(&other.hashes);
        self.text.push_str(&other.text);
        self.ends.extend(other.ends.iter().map(|&e| e + offset));
    }
}

/// Splits the ids of rows `rows` (those `keep` marks, all when `None`) into
/// partitions by hash; rows keep their order within a partition. With the
/// `parallel` feature, runs of rows are split on the pool and their
/// partitions joined in row order.
fn partition<'a>(
    rows: std::ops::Range<u32>,
    keep: Option<&[bool]>,
    id: impl Fn(u32) -> &'a str + Sync,
    hash: impl Fn(u32) -> u64 + Sync,
) -> Vec<Part> {
    let n = rows.len();
    // About 16k ids per partition keeps each local table in cache; at most 4,096 partitions.
    let bits = (n / 16_384)
        .max(1)
        .next_power_of_two()
        .trailing_zeros()
        .min(12);
    let count = 1usize << bits;
    let kept = |r: &u32| keep.is_none_or(|keep| keep.get(*r as usize).copied().unwrap_or(false));
    let split = |rows: std::ops::Range<u32>, share: usize| {
        let mut parts: Vec<Part> = (0..count)
            .map(|_| Part {
                rows: Vec::with_capacity(share / count + 16),
                hashes: Vec::with_capacity(share / count + 16),
                text: String::with_capacity((share / count + 16) * 12),
                ends: Vec::with_capacity(share / count + 16),
            })
            .collect();
        for row in rows.filter(kept) {
            let s = id(row);
            let h = hash(row);
            // Middle bits pick the partition: the low bits (buckets) and top bits (tags)
            // stay random for the local tables.
            let p = ((h >> 32) as usize) & (count - 1);
            let part = &mut parts[p];
            part.rows.push(row);
            part.hashes.push(h);
            part.text.push_str(s);
            part.ends.push(part.text.len() as u32);
        }
        parts
    };
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        let pieces = rayon::current_num_threads().clamp(1, 8);
        if n >= 1 << 18 && pieces > 1 {
            let step = (n as u32).div_ceil(pieces as u32);
            let mut split_parts: Vec<Vec<Part>> = (0..pieces as u32)
                .into_par_iter()
                .map(|k| {
                    let start = rows.start + k.saturating_mul(step).min(n as u32);
                    let end = rows.start + (k + 1).saturating_mul(step).min(n as u32);
                    split(start..end, n / pieces)
                })
                .collect();
            let mut first = split_parts.remove(0);
            let mut rest: Vec<Vec<Option<Part>>> = split_parts
                .into_iter()
                .map(|parts| parts.into_iter().map(Some).collect())
                .collect();
            let mut tails: Vec<Vec<Part>> = (0..count)
                .map(|p| rest.iter_mut().filter_map(|r| r[p].take()).collect())
                .collect();
            first
                .par_iter_mut()
                .zip(tails.par_iter_mut())
                .for_each(|(part, tail)| {
                    for other in tail.drain(..) {
                        part.append(other);
                    }
                });
            return first;
        }
    }
    split(rows, n)
}

fn first_occurrences(parts: &[Part]) -> Vec<Vec<u32>> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        parts.par_iter().map(Part::first_occurrences).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        parts.iter().map(Part::first_occurrences).collect()
    }
}

/// Rows at or after `first_pending` whose id equals that of an earlier row, ascending.
pub(crate) fn repeated_rows(ids: &StrArena, first_pending: usize) -> Result<Vec<u32>> {
    let total = ids.len();
    let total_u32 = u32::try_from(total)
        .map_err(|_| Error::Capacity("more than 4,294,967,295 orders".into()))?;
    let hasher = DefaultHashBuilder::default();
    let parts = partition(
        0..total_u32,
        None,
        |r| ids.get(r),
        |r| hasher.hash_one(ids.get(r)),
    );
    let firsts = first_occurrences(&parts);
    let mut repeated: Vec<u32> = parts
        .iter()
        .zip(&firsts)
        .flat_map(|(part, first)| {
            first
                .iter()
                .enumerate()
                .filter(|&(i, &f)| f as usize != i && part.rows[i] as usize >= first_pending)
                .map(|(i, _)| part.rows[i])
        })
        .collect();
    repeated.sort_unstable();
    Ok(repeated)
}

/// The dense index of every kept pending id (all of them when `keep` is
/// `None`): existing ids keep theirs, new ids are interned in order of first
/// appearance. Dropped rows get `u32::MAX`. Also returns how many ids were new.
/// `hashes`, when given, are the ids' hashes by one hasher (computed as the
/// ids were read, so they need not be hashed again here).
pub(crate) fn resolve_ids(
    pending: &StrArena,
    hashes: Option<&[u64]>,
    keep: Option<&[bool]>,
    ids: &mut Interner,
) -> Result<(Vec<u32>, usize)> {
    let m = pending.len();
    let hasher = DefaultHashBuilder::default();
    let m_u32 =
        u32::try_from(m).map_err(|_| Error::Capacity("more than 4,294,967,295 rows".into()))?;
    // Hashes from two hashers must not mix: either every id's is given, or none is used.
    let given = hashes.filter(|h| h.len() == m);
    let hash = |r: u32| match given.and_then(|h| h.get(r as usize)) {
        Some(&h) => h,
        None => hasher.hash_one(pending.get(r)),
    };
    let parts = partition(0..m_u32, keep, |r| pending.get(r), hash);
    let firsts = first_occurrences(&parts);
    // Look up each distinct id in the existing index (read-only, so in parallel).
    let lookup = |(part, first): (&Part, &Vec<u32>)| -> Vec<u32> {
        first
            .iter()
            .enumerate()
            .map(|(i, &f)| {
                if f as usize == i {
                    ids.get(part.get(i)).unwrap_or(u32::MAX)
                } else {
                    u32::MAX
                }
            })
            .collect()
    };
    #[cfg(feature = "parallel")]
    let mut global: Vec<Vec<u32>> = {
        use rayon::prelude::*;
        parts
            .par_iter()
            .zip(firsts.par_iter())
            .map(lookup)
            .collect()
    };
    #[cfg(not(feature = "parallel"))]
    let mut global: Vec<Vec<u32>> = parts.iter().zip(firsts.iter()).map(lookup).collect();
    // New ids get the next indices in order of their first row.
    // (first row, part, position in part, the index's hash of the id): hashed here, on the pool.
    type New = (u32, u32, u32, u32);
    let interner: &Interner = ids;
    let new_of = |(p, (part, first)): (usize, (&Part, &Vec<u32>))| -> Vec<New> {
        first
            .iter()
            .enumerate()
            .filter(|&(i, &f)| f as usize == i && global[p][i] == u32::MAX)
            .map(|(i, _)| {
                let h = interner.index_hash(part.get(i));
                (part.rows[i], p as u32, i as u32, h)
            })
            .collect()
    };
    #[cfg(feature = "parallel")]
    let new: Vec<New> = {
        use rayon::prelude::*;
        let mut new: Vec<New> = parts
            .par_iter()
            .zip(firsts.par_iter())
            .enumerate()
            .flat_map_iter(new_of)
            .collect();
        new.par_sort_unstable();
        new
    };
    #[cfg(not(feature = "parallel"))]
    let new: Vec<New> = {
        let mut new: Vec<New> = parts
            .iter()
            .zip(&firsts)
            .enumerate()
            .flat_map(new_of)
            .collect();
        new.sort_unstable();
        new
    };
    ids.reserve(new.len(), 10);
    for &(_, p, i, h) in &new {
        // Looked up above and a first occurrence: new and distinct, so no probe is needed.
        let index = ids.push_unindexed(parts[p as usize].get(i as usize))?;
        ids.index_hashed(index, h);
        global[p as usize][i as usize] = index;
    }
    let mut out = vec![u32::MAX; m];
    scatter_indices(&parts, &firsts, &global, &mut out);
    Ok((out, new.len()))
}

/// Writes every row's index: `out[row] = global[p][first[p][i]]` for row
/// `parts[p].rows[i]`. On the pool, `out` is cut into row ranges, one per
/// thread; each part's rows ascend, so each thread finds its rows of every
/// part by binary search and writes only within its range.
fn scatter_indices(parts: &[Part], firsts: &[Vec<u32>], global: &[Vec<u32>], out: &mut [u32]) {
    let fill = |base: usize, out: &mut [u32]| {
        let (lo, hi) = (base as u32, (base + out.len()) as u32);
        for ((part, first), global) in parts.iter().zip(firsts).zip(global) {
            let from = part.rows.partition_point(|&r| r < lo);
            let to = part.rows.partition_point(|&r| r < hi);
            for i in from..to {
                if let (Some(slot), Some(&f)) =
                    (out.get_mut(part.rows[i] as usize - base), first.get(i))
                {
                    *slot = global.get(f as usize).copied().unwrap_or(u32::MAX);
                }
            }
        }
    };
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        let pieces = rayon::current_num_threads().clamp(1, 8);
        if out.len() >= 1 << 18 && pieces > 1 {
            let step = out.len().div_ceil(pieces);
            out.par_chunks_mut(step)
                .enumerate()
                .for_each(|(k, chunk)| fill(k * step, chunk));
            return;
        }
    }
    fill(0, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arena(values: &[&str]) -> StrArena {
        let mut a = StrArena::default();
        for v in values {
            a.push(v).unwrap();
        }
        a
    }

    #[test]
    fn repeated_rows_are_later_occurrences_only() {
        let a = arena(&["a", "b", "a", "c", "b", "a"]);
        assert_eq!(repeated_rows(&a, 0).unwrap(), vec![2, 4, 5]);
        assert_eq!(repeated_rows(&a, 3).unwrap(), vec![4, 5]);
    }

    #[test]
    fn resolve_matches_row_by_row_interning() {
        resolve_like_row_by_row(50_000, 20_011);
        // Enough rows for the partitioning to be split on the pool.
        resolve_like_row_by_row(300_000, 100_003);
    }

    #[test]
    fn repeated_rows_of_a_large_input_are_found_when_split() {
        let values: Vec<String> = (0..300_000u64)
            .map(|i| format!("{}", (i * 7919) % 200_003))
            .collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let mut seen = std::collections::HashSet::new();
        let expected: Vec<u32> = (0..refs.len() as u32)
            .filter(|&i| !seen.insert(refs[i as usize]))
            .collect();
        assert_eq!(repeated_rows(&arena(&refs), 0).unwrap(), expected);
    }

    fn resolve_like_row_by_row(n: u64, distinct: u64) {
        let values: Vec<String> = (0..n)
            .map(|i| format!("{:05}", (i * 7919) % distinct))
            .collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let pending = arena(&refs);
        let keep: Vec<bool> = (0..refs.len()).map(|i| i % 97 != 0).collect();
        let mut ids = Interner::default();
        ids.intern("00007").unwrap();
        let (got, new) = resolve_ids(&pending, None, Some(&keep), &mut ids).unwrap();
        let mut expected_ids = Interner::default();
        expected_ids.intern("00007").unwrap();
        for (i, v) in refs.iter().enumerate() {
            if keep[i] {
                assert_eq!(got[i], expected_ids.intern(v).unwrap().0, "row {i}");
            } else {
                assert_eq!(got[i], u32::MAX);
            }
        }
        assert_eq!(ids.len(), expected_ids.len());
        assert_eq!(new, ids.len() - 1);
    }
}
