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

/// One id of a partition: its hash, its row, and where its text ends.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    hash: u64,
    row: u32,
    end: u32,
}

/// Ids of one partition with the rows they came from, in row order (one
/// stream of entries and one of text, so pushing to many partitions at once
/// keeps few cache lines and pages open).
#[derive(Default)]
struct Part {
    entries: Vec<Entry>,
    text: String,
}

impl Part {
    fn get(&self, i: usize) -> &str {
        let end = self.entries.get(i).map_or(0, |e| e.end as usize);
        let start = i
            .checked_sub(1)
            .and_then(|j| self.entries.get(j))
            .map_or(0, |e| e.end as usize);
        self.text.get(start..end).unwrap_or("")
    }

    /// For every entry, the entry index of the first equal id in this partition.
    fn first_occurrences(&self) -> Vec<u32> {
        let hash = |j: u32| self.entries[j as usize].hash;
        let mut table: HashTable<u32> = HashTable::with_capacity(self.entries.len());
        let mut first = Vec::with_capacity(self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            let (h, s) = (e.hash, self.get(i));
            let found = table.find(h, |&j| hash(j) == h && self.get(j as usize) == s);
            match found {
                Some(&j) => first.push(j),
                None => {
                    table.insert_unique(h, i as u32, |&j| hash(j));
                    first.push(i as u32);
                }
            }
        }
        first
    }
}

/// Ids split into partitions by hash as rows arrive, for a load whose ids
/// are resolved at its end ([`resolve_partitioned`]): the partitioning
/// [`partition`] does afterwards, done while the input is still being read.
#[derive(Default)]
pub(crate) struct Partitions {
    parts: Vec<Part>,
    /// Rows pushed so far (the next row's number).
    rows: u32,
}

impl std::fmt::Debug for Partitions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Partitions({} rows, {} parts)",
            self.rows,
            self.parts.len()
        )
    }
}

impl Partitions {
    /// Partitions sized for about `expected` rows (as [`partition`] sizes
    /// them, and at least 64, since the real count may be far larger).
    pub(crate) fn new(expected: usize) -> Self {
        let count = 1usize << partition_bits(expected).max(6);
        let each = expected / count + 16;
        Partitions {
            parts: (0..count)
                .map(|_| Part {
                    entries: Vec::with_capacity(each),
                    text: String::with_capacity(each * 8),
                })
                .collect(),
            rows: 0,
        }
    }

    /// Rows pushed.
    pub(crate) fn len(&self) -> usize {
        self.rows as usize
    }

    /// Appends the next row's id and its `hash`.
    ///
    /// # Errors
    /// [`Error::Capacity`] beyond `u32` rows or 4 GiB of ids in a partition; nothing is appended then.
    pub(crate) fn push(&mut self, id: &str, hash: u64) -> Result<()> {
        let count = self.parts.len();
        let Some(part) = self.parts.get_mut(part_of(hash, count)) else {
            return Err(Error::InvalidInput("ids pushed to no partition".into()));
        };
        let end = u32::try_from(part.text.len() + id.len())
            .map_err(|_| Error::Capacity("more than 4 GiB of ids in one partition".into()))?;
        let next = self
            .rows
            .checked_add(1)
            .ok_or_else(|| Error::Capacity("more than 4,294,967,295 rows".into()))?;
        part.entries.push(Entry {
            hash,
            row: self.rows,
            end,
        });
        part.text.push_str(id);
        self.rows = next;
        Ok(())
    }

    /// Drops rows `len..`.
    #[cfg(any(feature = "parallel", test))]
    pub(crate) fn truncate(&mut self, len: usize) {
        for part in &mut self.parts {
            let keep = part.entries.partition_point(|e| (e.row as usize) < len);
            let text_end = keep
                .checked_sub(1)
                .map_or(0, |i| part.entries[i].end as usize);
            part.entries.truncate(keep);
            part.text.truncate(text_end);
        }
        self.rows = self.rows.min(len as u32);
    }
}

/// How many bits of the hash choose the partition for `n` rows: partitions
/// of about 16k rows, at most 4,096 of them.
fn partition_bits(n: usize) -> u32 {
    (n / 16_384)
        .max(1)
        .next_power_of_two()
        .trailing_zeros()
        .min(12)
}

/// The partition of a hash among `count` (a power of two).
fn part_of(hash: u64, count: usize) -> usize {
    ((hash >> 32) as usize) & (count - 1)
}

/// Splits the ids of rows `rows` (those `keep` marks, all when `None`) into
/// partitions by hash; rows keep their order within a partition. The rows
/// are cut into runs (one per thread with the `parallel` feature): a first
/// pass counts each run's rows and id bytes per partition, so every
/// partition is allocated once at its size and each run writes its own
/// slices of it, in row order, with no joining copy.
///
/// # Errors
/// [`Error::Capacity`] when a partition's text outgrows `u32` offsets.
fn partition<'a>(
    rows: std::ops::Range<u32>,
    keep: Option<&[bool]>,
    id: impl Fn(u32) -> &'a str + Sync,
    hash: impl Fn(u32) -> u64 + Sync,
) -> Result<Vec<Part>> {
    let n = rows.len();
    let count = 1usize << partition_bits(n);
    let part_of = |h: u64| part_of(h, count);
    let kept = |r: &u32| keep.is_none_or(|keep| keep.get(*r as usize).copied().unwrap_or(false));
    #[cfg(feature = "parallel")]
    let runs = if n >= 1 << 18 {
        rayon::current_num_threads().clamp(1, 8)
    } else {
        1
    };
    #[cfg(not(feature = "parallel"))]
    let runs = 1;
    let step = (n as u32).div_ceil(runs as u32).max(1);
    let run = |k: usize| {
        let start = rows
            .start
            .saturating_add((k as u32).saturating_mul(step))
            .min(rows.end);
        let end = rows
            .start
            .saturating_add((k as u32 + 1).saturating_mul(step))
            .min(rows.end);
        (start..end).filter(kept)
    };
    // Pass 1: (rows, id bytes) per partition, per run.
    let size_run = |k: usize| {
        let mut sizes = vec![(0usize, 0usize); count];
        for row in run(k) {
            let size = &mut sizes[part_of(hash(row))];
            size.0 += 1;
            size.1 += id(row).len();
        }
        sizes
    };
    let sizes: Vec<Vec<(usize, usize)>> = each_run(runs, size_run);
    // Entries and id bytes of each partition, at their final sizes.
    let mut parts: Vec<(Vec<Entry>, Vec<u8>)> = (0..count)
        .map(|p| {
            let (r, b) = sizes
                .iter()
                .fold((0, 0), |(r, b), s| (r + s[p].0, b + s[p].1));
            (vec![Entry::default(); r], vec![0; b])
        })
        .collect();
    if parts.iter().any(|p| u32::try_from(p.1.len()).is_err()) {
        return Err(Error::Capacity(
            "more than 4 GiB of ids in one partition".into(),
        ));
    }
    // Each run's slices of every partition, and where its text starts in it.
    let mut slices: Vec<Vec<RunSlices<'_>>> =
        (0..runs).map(|_| Vec::with_capacity(count)).collect();
    for (p, (entries_p, text_p)) in parts.iter_mut().enumerate() {
        let (mut entries_p, mut text_p) = (&mut entries_p[..], &mut text_p[..]);
        let mut text_base = 0u32;
        for (k, run_slices) in slices.iter_mut().enumerate() {
            let (r, b) = sizes[k][p];
            let (entries_k, rest) = std::mem::take(&mut entries_p).split_at_mut(r);
            entries_p = rest;
            let (text_k, rest) = std::mem::take(&mut text_p).split_at_mut(b);
            text_p = rest;
            run_slices.push(RunSlices {
                entries: entries_k,
                text: text_k,
                text_base,
                filled: (0, 0),
            });
            text_base += b as u32;
        }
    }
    // Pass 2: every run writes its rows into its slices.
    let fill_run = |(k, mut run_slices): (usize, Vec<RunSlices<'_>>)| {
        for row in run(k) {
            let h = hash(row);
            let s = id(row).as_bytes();
            let Some(slot) = run_slices.get_mut(part_of(h)) else {
                continue;
            };
            let (i, t) = slot.filled;
            if let (Some(e), Some(text)) =
                (slot.entries.get_mut(i), slot.text.get_mut(t..t + s.len()))
            {
                *e = Entry {
                    hash: h,
                    row,
                    end: slot.text_base + (t + s.len()) as u32,
                };
                text.copy_from_slice(s);
            }
            slot.filled = (i + 1, t + s.len());
        }
    };
    let numbered: Vec<(usize, Vec<RunSlices<'_>>)> = slices.into_iter().enumerate().collect();
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        numbered.into_par_iter().for_each(fill_run);
    }
    #[cfg(not(feature = "parallel"))]
    numbered.into_iter().for_each(fill_run);
    parts
        .into_iter()
        .map(|(entries, text)| {
            let text = String::from_utf8(text)
                .map_err(|_| Error::InvalidInput("ids split inside a character".into()))?;
            Ok(Part { entries, text })
        })
        .collect()
}

/// One run's share of one partition's columns (see [`partition`]).
struct RunSlices<'a> {
    entries: &'a mut [Entry],
    text: &'a mut [u8],
    /// Where this run's text starts in the partition's text.
    text_base: u32,
    /// Rows and text bytes written so far.
    filled: (usize, usize),
}

/// `work` for runs `0..runs`, on the pool when there are several.
fn each_run<T: Send>(runs: usize, work: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(feature = "parallel")]
    if runs > 1 {
        use rayon::prelude::*;
        return (0..runs).into_par_iter().map(work).collect();
    }
    (0..runs).map(work).collect()
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
    )?;
    let firsts = first_occurrences(&parts);
    let mut repeated: Vec<u32> = parts
        .iter()
        .zip(&firsts)
        .flat_map(|(part, first)| {
            first
                .iter()
                .enumerate()
                .filter(|&(i, &f)| f as usize != i && part.entries[i].row as usize >= first_pending)
                .map(|(i, _)| part.entries[i].row)
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
    let mut out = vec![u32::MAX; pending.len()];
    let new = resolve_ids_into(pending, hashes, keep, ids, &mut out)?;
    Ok((out, new))
}

/// [`resolve_ids`] writing the indices into `out` (one per pending id;
/// untouched on an error); returns how many ids were new.
pub(crate) fn resolve_ids_into(
    pending: &StrArena,
    hashes: Option<&[u64]>,
    keep: Option<&[bool]>,
    ids: &mut Interner,
    out: &mut [u32],
) -> Result<usize> {
    let m = pending.len();
    if out.len() != m {
        return Err(Error::InvalidInput(format!(
            "{} places for {m} resolved ids",
            out.len()
        )));
    }
    let hasher = DefaultHashBuilder::default();
    let m_u32 =
        u32::try_from(m).map_err(|_| Error::Capacity("more than 4,294,967,295 rows".into()))?;
    // Hashes from two hashers must not mix: either every id's is given, or none is used.
    let given = hashes.filter(|h| h.len() == m);
    let hash = |r: u32| match given.and_then(|h| h.get(r as usize)) {
        Some(&h) => h,
        None => hasher.hash_one(pending.get(r)),
    };
    let parts = partition(0..m_u32, keep, |r| pending.get(r), hash)?;
    resolve_parts(&parts, ids, out)
}

/// Resolves the ids of a load partitioned as it was read, writing each
/// row's index into `out` (one place per row pushed); as [`resolve_ids`].
pub(crate) fn resolve_partitioned(
    partitions: &Partitions,
    ids: &mut Interner,
    out: &mut [u32],
) -> Result<usize> {
    if out.len() != partitions.len() {
        return Err(Error::InvalidInput(format!(
            "{} places for {} resolved ids",
            out.len(),
            partitions.len()
        )));
    }
    resolve_parts(&partitions.parts, ids, out)
}

/// The shared part of [`resolve_ids_into`] and [`resolve_partitioned`]:
/// first occurrences per partition, lookups, new ids in row order, indices out.
fn resolve_parts(parts: &[Part], ids: &mut Interner, out: &mut [u32]) -> Result<usize> {
    let firsts = first_occurrences(parts);
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
                (part.entries[i].row, p as u32, i as u32, h)
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
    out.fill(u32::MAX);
    scatter_indices(parts, &firsts, &global, out);
    Ok(new.len())
}

/// Writes every row's index: `out[row] = global[p][first[p][i]]` for row
/// entry `i` of `parts[p]`. On the pool, `out` is cut into row ranges, one per
/// thread; each part's rows ascend, so each thread finds its rows of every
/// part by binary search and writes only within its range.
fn scatter_indices(parts: &[Part], firsts: &[Vec<u32>], global: &[Vec<u32>], out: &mut [u32]) {
    let fill = |base: usize, out: &mut [u32]| {
        let (lo, hi) = (base as u32, (base + out.len()) as u32);
        for ((part, first), global) in parts.iter().zip(firsts).zip(global) {
            let from = part.entries.partition_point(|e| e.row < lo);
            let to = part.entries.partition_point(|e| e.row < hi);
            for i in from..to {
                if let (Some(slot), Some(&f)) = (
                    out.get_mut(part.entries[i].row as usize - base),
                    first.get(i),
                ) {
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

    #[test]
    fn ids_partitioned_as_read_resolve_like_row_by_row_also_after_truncation() {
        let hasher = DefaultHashBuilder::default();
        for (n, expected) in [(5_000u64, 0usize), (300_000, 300_000)] {
            let values: Vec<String> = (0..n)
                .map(|i| format!("{:05}", (i * 7919) % 20_011))
                .collect();
            let mut partitions = Partitions::new(expected);
            for v in &values {
                partitions.push(v, hasher.hash_one(v.as_str())).unwrap();
            }
            // A rolled-back tail leaves the partitions as if it had never come.
            let kept = values.len() - 1_234;
            partitions.truncate(kept);
            assert_eq!(partitions.len(), kept);
            let mut ids = Interner::default();
            ids.intern("00007").unwrap();
            let mut got = vec![0u32; kept];
            let new = resolve_partitioned(&partitions, &mut ids, &mut got).unwrap();
            let mut expected_ids = Interner::default();
            expected_ids.intern("00007").unwrap();
            for (i, v) in values.iter().take(kept).enumerate() {
                assert_eq!(got[i], expected_ids.intern(v).unwrap().0, "row {i}");
            }
            assert_eq!(ids.len(), expected_ids.len());
            assert_eq!(new, ids.len() - 1);
            assert!(resolve_partitioned(&partitions, &mut ids, &mut [0u32; 3]).is_err());
        }
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
