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
}

/// Splits `(row, id)` pairs into partitions by hash; rows keep their order within a partition.
fn partition<'a>(
    items: impl Iterator<Item = (u32, &'a str)>,
    n: usize,
    hasher: &DefaultHashBuilder,
) -> Vec<Part> {
    // About 16k ids per partition keeps each local table in cache; at most 4,096 partitions.
    let bits = (n / 16_384)
        .max(1)
        .next_power_of_two()
        .trailing_zeros()
        .min(12);
    let count = 1usize << bits;
    let mut parts: Vec<Part> = (0..count)
        .map(|_| Part {
            rows: Vec::with_capacity(n / count + 16),
            hashes: Vec::with_capacity(n / count + 16),
            text: String::with_capacity((n / count + 16) * 12),
            ends: Vec::with_capacity(n / count + 16),
        })
        .collect();
    for (row, s) in items {
        let h = hasher.hash_one(s);
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
    let parts = partition((0..total_u32).map(|r| (r, ids.get(r))), total, &hasher);
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
pub(crate) fn resolve_ids(
    pending: &StrArena,
    keep: Option<&[bool]>,
    ids: &mut Interner,
) -> Result<(Vec<u32>, usize)> {
    let m = pending.len();
    let hasher = DefaultHashBuilder::default();
    let items = (0..m as u32)
        .filter(|&i| keep.is_none_or(|keep| keep.get(i as usize).copied().unwrap_or(false)))
        .map(|i| (i, pending.get(i)));
    let parts = partition(items, m, &hasher);
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
    let mut new: Vec<(u32, u32, u32)> = Vec::new();
    for (p, (part, first)) in parts.iter().zip(&firsts).enumerate() {
        for (i, &f) in first.iter().enumerate() {
            if f as usize == i && global[p][i] == u32::MAX {
                new.push((part.rows[i], p as u32, i as u32));
            }
        }
    }
    new.sort_unstable();
    for &(_, p, i) in &new {
        let (index, _) = ids.intern(parts[p as usize].get(i as usize))?;
        global[p as usize][i as usize] = index;
    }
    let mut out = vec![u32::MAX; m];
    for ((part, first), global) in parts.iter().zip(&firsts).zip(&global) {
        for (i, &f) in first.iter().enumerate() {
            out[part.rows[i] as usize] = global[f as usize];
        }
    }
    Ok((out, new.len()))
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
        let values: Vec<String> = (0..50_000)
            .map(|i| format!("{:05}", (i * 7919) % 20_011))
            .collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let pending = arena(&refs);
        let keep: Vec<bool> = (0..refs.len()).map(|i| i % 97 != 0).collect();
        let mut ids = Interner::default();
        ids.intern("00007").unwrap();
        let (got, new) = resolve_ids(&pending, Some(&keep), &mut ids).unwrap();
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
