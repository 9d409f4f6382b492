//! Frequent itemsets, exactly: every set of items bought together in at
//! least a minimum number of baskets, or only the closed or the maximal ones.
//!
//! The miner is Eclat (Zaki 2000): each frequent item's list of the baskets
//! that hold it (its tid-list, ascending), items in ascending order of
//! support, and a depth-first search in which an itemset's extensions are
//! the intersections of its tid-list with those of the items after its last
//! one. Memory is the tid-lists along one search path, proportional to the
//! data. The first level's branches run on the thread pool and are joined
//! in order, so the result is the same for any thread count.
//!
//! Closed itemsets (no superset has the same support; Pasquier et al. 1999)
//! and maximal ones (no superset is frequent; Bayardo 1998) are the frequent
//! itemsets filtered by their supersets one item larger, which is enough: if
//! any superset has the same support or is frequent, so has one with one
//! more item.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::baskets::Baskets;
use crate::error::{Error, Result};
use crate::parallel::map_range;

/// The minimum support of a frequent itemset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MinSupport {
    /// At least this many baskets (≥ 1).
    Count(u64),
    /// At least this share of the baskets, in (0, 1]: the count is
    /// `⌈share · baskets⌉` (computed as Borgelt's FIM programs do, with the
    /// product shrunk by one machine epsilon so that an exact product is not
    /// rounded up past itself).
    Share(f64),
}

/// Which frequent itemsets to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemsetKind {
    /// Every frequent itemset.
    #[default]
    All,
    /// Frequent itemsets without a superset of the same support.
    Closed,
    /// Frequent itemsets without a frequent superset.
    Maximal,
}

/// Settings of [`frequent_itemsets`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MiningParams {
    /// Minimum support (default 1 % of the baskets).
    pub min_support: MinSupport,
    /// Longest itemset reported; `None` for no limit. Closed and maximal
    /// itemsets are judged against all their supersets, longer ones
    /// included, as Borgelt's programs do: with a limit they are the closed
    /// (maximal) itemsets that are no longer than it.
    pub max_len: Option<usize>,
    /// All, closed or maximal itemsets.
    pub kind: ItemsetKind,
    /// The most frequent itemsets the search may produce before it stops
    /// with [`Error::Budget`] (default 20,000,000; each costs a few dozen
    /// bytes): a low minimum support on dense baskets can produce more
    /// itemsets than memory holds.
    pub max_itemsets: u64,
    /// The most bytes the search's tid-lists may hold at once before it
    /// stops with [`Error::Budget`] (default 2 GiB): long baskets make deep
    /// searches, each level holding its extensions' lists.
    pub max_memory_bytes: u64,
}

impl Default for MiningParams {
    fn default() -> Self {
        MiningParams {
            min_support: MinSupport::Share(0.01),
            max_len: None,
            kind: ItemsetKind::All,
            max_itemsets: 20_000_000,
            max_memory_bytes: 2 << 30,
        }
    }
}

impl MiningParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a count of 0, a share outside (0, 1]
    /// or not finite, a `max_len` of 0, or a budget of 0.
    pub fn check(&self) -> Result<()> {
        match self.min_support {
            MinSupport::Count(0) => {
                return Err(Error::param(
                    "min_support",
                    0,
                    "a count must be at least 1 basket",
                ));
            }
            MinSupport::Share(s) if !(s > 0.0 && s <= 1.0) => {
                return Err(Error::param("min_support", s, "a share must be in (0, 1]"));
            }
            _ => {}
        }
        if self.max_len == Some(0) {
            return Err(Error::param("max_len", 0, "must be at least 1"));
        }
        if self.max_itemsets == 0 {
            return Err(Error::param("max_itemsets", 0, "must be at least 1"));
        }
        if self.max_memory_bytes == 0 {
            return Err(Error::param("max_memory_bytes", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// The minimum support as a count of `n_baskets` baskets (at least 1).
    pub fn min_count(&self, n_baskets: usize) -> u64 {
        match self.min_support {
            MinSupport::Count(c) => c.max(1),
            MinSupport::Share(s) => {
                ((s * n_baskets as f64 * (1.0 - f64::EPSILON)).ceil() as u64).max(1)
            }
        }
    }
}

/// A set of items bought together, with its support.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Itemset {
    /// Item codes ([`Baskets::item_name`]), ascending.
    pub items: Vec<u32>,
    /// Baskets holding every item of the set.
    pub support: u64,
}

/// The result of [`frequent_itemsets`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Itemsets {
    /// The itemsets, by length, then by item codes.
    pub itemsets: Vec<Itemset>,
    /// Baskets mined.
    pub n_baskets: u64,
    /// The minimum support, as a count.
    pub min_count: u64,
    /// Which itemsets these are.
    pub kind: ItemsetKind,
}

impl Itemsets {
    /// The support of an itemset given by its item codes in any order, when
    /// it is among these itemsets.
    pub fn support_of(&self, items: &[u32]) -> Option<u64> {
        let mut key = items.to_vec();
        key.sort_unstable();
        self.itemsets
            .iter()
            .find(|s| s.items == key)
            .map(|s| s.support)
    }
}

/// The frequent itemsets of `baskets`.
///
/// ```
/// use custinsight::basket::{Baskets, ItemsetKind, MinSupport, MiningParams, frequent_itemsets};
///
/// let baskets = Baskets::from_baskets([
///     vec!["bread", "milk"],
///     vec!["bread", "milk", "eggs"],
///     vec!["milk", "eggs"],
///     vec!["bread"],
/// ])?;
/// let params = MiningParams { min_support: MinSupport::Count(2), ..MiningParams::default() };
/// let all = frequent_itemsets(&baskets, &params)?;
/// // bread 3, milk 3, eggs 2, bread+milk 2, milk+eggs 2.
/// assert_eq!(all.itemsets.len(), 5);
/// let maximal = frequent_itemsets(&baskets, &MiningParams { kind: ItemsetKind::Maximal, ..params })?;
/// assert_eq!(maximal.itemsets.len(), 2);
/// # Ok::<(), custinsight::Error>(())
/// ```
///
/// # Errors
/// [`MiningParams::check`]'s errors; [`Error::Capacity`] for 2³² baskets or
/// more; [`Error::Budget`] when the search
/// would produce more than `max_itemsets` itemsets or hold more than
/// `max_memory_bytes` of tid-lists.
pub fn frequent_itemsets(baskets: &Baskets, params: &MiningParams) -> Result<Itemsets> {
    params.check()?;
    if u32::try_from(baskets.len()).is_err() {
        // Baskets are numbered by 32-bit ids in the tid-lists.
        return Err(Error::Capacity(format!(
            "{} baskets; mine at most 2^32 - 1 at a time",
            baskets.len()
        )));
    }
    let min = params.min_count(baskets.len());
    let counts = baskets.item_counts();
    // Frequent items, least frequent first: the search then extends each
    // item with more frequent ones, whose intersections shrink the least.
    let mut order: Vec<u32> = (0..counts.len() as u32)
        .filter(|&i| counts[i as usize] >= min)
        .collect();
    order.sort_by_key(|&i| (counts[i as usize], i));
    let mut rank = vec![u32::MAX; counts.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let mut tids: Vec<Vec<u32>> = order
        .iter()
        .map(|&i| Vec::with_capacity(counts[i as usize] as usize))
        .collect();
    for b in 0..baskets.len() {
        for &i in baskets.basket(b) {
            let r = rank[i as usize];
            if r != u32::MAX {
                tids[r as usize].push(b as u32);
            }
        }
    }
    // Entries are (rank, tid-list); ranks become item codes on output.
    let level: Vec<Entry> = (0..order.len() as u32)
        .zip(tids)
        .map(|(rank, tids)| Entry {
            rank,
            support: tids.len() as u64,
            tids,
        })
        .collect();
    let pairs = PairCounts::of(baskets, &rank, order.len(), params.max_memory_bytes / 4);
    let search = Search {
        baskets,
        rank: &rank,
        code: &order,
        pairs,
        min,
        // One item longer than reported, to judge closed and maximal ones.
        max_len: match params.kind {
            ItemsetKind::All => params.max_len,
            _ => params.max_len.map(|l| l.saturating_add(1)),
        }
        .unwrap_or(usize::MAX),
        budget: params.max_itemsets,
        produced: AtomicU64::new(0),
        memory_budget: params.max_memory_bytes,
        live_bytes: AtomicU64::new(0),
        stopped: AtomicBool::new(false),
    };
    let branches = map_range(level.len(), |i| {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        search
            .branch(&level, i, &mut prefix, &mut out)
            .map(|()| out)
    });
    let mut itemsets = Vec::new();
    for branch in branches {
        itemsets.extend(branch?);
    }
    for s in &mut itemsets {
        for r in &mut s.items {
            *r = order[*r as usize];
        }
        s.items.sort_unstable();
    }
    itemsets = match params.kind {
        ItemsetKind::All => itemsets,
        ItemsetKind::Closed => keep_unsubsumed(itemsets, |sub, sup| sub.support == sup.support),
        ItemsetKind::Maximal => keep_unsubsumed(itemsets, |_, _| true),
    };
    if let Some(l) = params.max_len {
        itemsets.retain(|s| s.items.len() <= l);
    }
    itemsets.sort_unstable_by(|a, b| {
        a.items
            .len()
            .cmp(&b.items.len())
            .then_with(|| a.items.cmp(&b.items))
    });
    Ok(Itemsets {
        itemsets,
        n_baskets: baskets.len() as u64,
        min_count: min,
        kind: params.kind,
    })
}

/// How many baskets hold each pair of frequent items (by rank), counted in
/// one pass over the baskets: an extension whose last two items are not a
/// frequent pair cannot be frequent, so its tid-lists are never intersected
/// (Borgelt's Eclat does the same with its triangular matrix). Kept only
/// when the matrix fits in a quarter of the memory budget.
struct PairCounts {
    n: usize,
    counts: Vec<u32>,
}

impl PairCounts {
    fn of(baskets: &Baskets, rank: &[u32], n: usize, max_bytes: u64) -> Option<PairCounts> {
        let cells = n.checked_mul(n.saturating_sub(1))? / 2;
        if (cells as u64).saturating_mul(4) > max_bytes || baskets.len() > u32::MAX as usize {
            return None;
        }
        let mut counts = vec![0u32; cells];
        let mut ranks = Vec::new();
        for b in 0..baskets.len() {
            ranks.clear();
            ranks.extend(
                baskets
                    .basket(b)
                    .iter()
                    .map(|&i| rank[i as usize])
                    .filter(|&r| r != u32::MAX),
            );
            ranks.sort_unstable();
            for (k, &a) in ranks.iter().enumerate() {
                // Row a starts at index(a, a + 1); (a, c) is c − a − 1 cells on.
                let a = a as usize;
                let start = a * (2 * n - a - 1) / 2;
                for &c in &ranks[k + 1..] {
                    counts[start + (c as usize - a - 1)] += 1;
                }
            }
        }
        Some(PairCounts { n, counts })
    }

    /// The cell of (a, b), a < b, in the upper triangle stored row by row.
    fn index(n: usize, a: usize, b: usize) -> usize {
        a * (2 * n - a - 1) / 2 + (b - a - 1)
    }

    /// Baskets holding ranks `a` and `b` (a ≠ b).
    fn get(&self, a: u32, b: u32) -> u64 {
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        u64::from(self.counts[Self::index(self.n, a as usize, b as usize)])
    }
}

/// One candidate extension: an item (by rank), the support of the prefix
/// with it, and the baskets holding both, when it may be extended further
/// (empty for a pair that no later item can extend: its support comes from
/// the pair counts, and its baskets are never listed).
struct Entry {
    rank: u32,
    support: u64,
    tids: Vec<u32>,
}

/// The depth-first search's settings and its shared itemset count.
struct Search<'a> {
    baskets: &'a Baskets,
    /// Rank of each item code (`u32::MAX`: not frequent).
    rank: &'a [u32],
    /// Item code of each rank.
    code: &'a [u32],
    pairs: Option<PairCounts>,
    min: u64,
    max_len: usize,
    budget: u64,
    produced: AtomicU64,
    memory_budget: u64,
    /// Bytes of the extension lists alive on all threads' search paths.
    live_bytes: AtomicU64,
    /// Set when a branch ran out of a budget: the others stop too.
    stopped: AtomicBool,
}

const NARROW: &str = "raise the minimum support, lower the maximum length, or raise the budget";

impl Search<'_> {
    /// Reports `prefix + level[i]` and searches its extensions by the items after it.
    fn branch(
        &self,
        level: &[Entry],
        i: usize,
        prefix: &mut Vec<u32>,
        out: &mut Vec<Itemset>,
    ) -> Result<()> {
        let Entry {
            rank,
            support,
            tids,
        } = &level[i];
        if self.stopped.load(Ordering::Relaxed) {
            // Another branch failed; its error is the result.
            return Ok(());
        }
        if self.produced.fetch_add(1, Ordering::Relaxed) >= self.budget {
            self.stopped.store(true, Ordering::Relaxed);
            return Err(Error::Budget {
                what: "frequent itemsets",
                limit: self.budget,
                hint: NARROW.into(),
            });
        }
        prefix.push(*rank);
        out.push(Itemset {
            items: prefix.clone(),
            support: *support,
        });
        if prefix.len() < self.max_len && !tids.is_empty() {
            let next = self.extensions(&level[i + 1..], *rank, tids);
            let bytes = next
                .iter()
                .map(|e| (std::mem::size_of::<Entry>() + 4 * e.tids.len()) as u64)
                .sum::<u64>();
            let live = self.live_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
            let searched = if live > self.memory_budget {
                self.stopped.store(true, Ordering::Relaxed);
                Err(Error::Budget {
                    what: "bytes of tid-lists",
                    limit: self.memory_budget,
                    hint: NARROW.into(),
                })
            } else {
                (0..next.len()).try_for_each(|k| self.branch(&next, k, prefix, out))
            };
            self.live_bytes.fetch_sub(bytes, Ordering::Relaxed);
            searched?;
        }
        prefix.pop();
        Ok(())
    }

    /// The frequent extensions of an itemset ending in `rank`, whose
    /// baskets are `tids`, by the items of `later`.
    fn extensions(&self, later: &[Entry], rank: u32, tids: &[u32]) -> Vec<Entry> {
        // Only items that form a frequent pair with the last one can extend it.
        let candidates: Vec<&Entry> = later
            .iter()
            .filter(|e| {
                self.pairs
                    .as_ref()
                    .is_none_or(|p| p.get(rank, e.rank) >= self.min)
            })
            .collect();
        if candidates.len() < DELIVER_FROM {
            return candidates
                .iter()
                .filter_map(|e| {
                    intersect(tids, &e.tids, self.min).map(|t| Entry {
                        rank: e.rank,
                        support: t.len() as u64,
                        tids: t,
                    })
                })
                .collect();
        }
        self.deliver(&candidates, tids)
    }

    /// The extensions by many `candidates` (ascending ranks above `rank`):
    /// one pass over the itemset's baskets hands each basket to every
    /// candidate in it (LCM's occurrence deliver; Uno, Kiyomi & Arimura
    /// 2004, "LCM ver. 2", *FIMI'04*), for the cost of reading those
    /// baskets once instead of one merge of two lists per candidate.
    fn deliver(&self, candidates: &[&Entry], tids: &[u32]) -> Vec<Entry> {
        BUCKET_OF.with_borrow_mut(|bucket_of| {
            // Item code → its candidate, for this call's candidates only.
            if bucket_of.len() < self.rank.len() {
                bucket_of.resize(self.rank.len(), u32::MAX);
            }
            let code = |e: &Entry| self.code[e.rank as usize] as usize;
            for (k, e) in candidates.iter().enumerate() {
                bucket_of[code(e)] = k as u32;
            }
            // Count first: infrequent candidates get no list, frequent ones
            // one allocation of the right size.
            let mut counts = vec![0u32; candidates.len()];
            for &b in tids {
                for &c in self.baskets.basket(b as usize) {
                    if let Some(n) = counts.get_mut(bucket_of[c as usize] as usize) {
                        *n += 1;
                    }
                }
            }
            let mut buckets: Vec<Vec<u32>> = Vec::new();
            for (k, e) in candidates.iter().enumerate() {
                if u64::from(counts[k]) >= self.min {
                    bucket_of[code(e)] = buckets.len() as u32;
                    buckets.push(Vec::with_capacity(counts[k] as usize));
                } else {
                    bucket_of[code(e)] = u32::MAX;
                }
            }
            for &b in tids {
                for &c in self.baskets.basket(b as usize) {
                    if let Some(list) = buckets.get_mut(bucket_of[c as usize] as usize) {
                        list.push(b);
                    }
                }
            }
            for e in candidates {
                bucket_of[code(e)] = u32::MAX;
            }
            candidates
                .iter()
                .zip(counts)
                .filter(|&(_, n)| u64::from(n) >= self.min)
                .zip(buckets)
                .map(|((e, n), t)| Entry {
                    rank: e.rank,
                    support: u64::from(n),
                    tids: t,
                })
                .collect()
        })
    }
}

thread_local! {
    /// Scratch of [`Search::deliver`]: each item code's bucket, `u32::MAX`
    /// for none (all of it between calls).
    static BUCKET_OF: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Candidates from which delivering beats intersecting one by one.
const DELIVER_FROM: usize = 8;

/// The common entries of two ascending lists, or `None` when fewer than
/// `min` are common.
///
/// Lists of similar length are merged; a list eight or more times longer
/// than the other is searched by galloping (exponential, then binary
/// search from the last match), which costs the shorter list's length times
/// a logarithm instead of the longer list's length.
fn intersect(a: &[u32], b: &[u32], min: u64) -> Option<Vec<u32>> {
    let min = min as usize;
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.len() < min {
        return None;
    }
    let mut out = Vec::with_capacity(short.len());
    if long.len() >= 8 * short.len() {
        let mut from = 0;
        for (k, &x) in short.iter().enumerate() {
            // Entries left on the shorter side bound what can still be common.
            if out.len() + (short.len() - k) < min {
                return None;
            }
            let rest = &long[from..];
            let mut step = 1;
            while step < rest.len() && rest[step] < x {
                step *= 2;
            }
            let window = &rest[step / 2..rest.len().min(step + 1)];
            let at = window.partition_point(|&y| y < x);
            from += step / 2 + at;
            if long.get(from) == Some(&x) {
                out.push(x);
                from += 1;
            }
            if from >= long.len() {
                break;
            }
        }
    } else {
        let (mut i, mut j) = (0, 0);
        while i < short.len() && j < long.len() {
            let (x, y) = (short[i], long[j]);
            if x == y {
                out.push(x);
            }
            i += usize::from(x <= y);
            j += usize::from(y <= x);
        }
    }
    (out.len() >= min).then_some(out)
}

/// The itemsets no superset one item larger `subsumes`.
fn keep_unsubsumed(
    itemsets: Vec<Itemset>,
    subsumes: impl Fn(&Itemset, &Itemset) -> bool,
) -> Vec<Itemset> {
    let index: HashMap<&[u32], usize> = itemsets
        .iter()
        .enumerate()
        .map(|(k, s)| (s.items.as_slice(), k))
        .collect();
    let mut keep = vec![true; itemsets.len()];
    let mut sub = Vec::new();
    for sup in &itemsets {
        if sup.items.len() < 2 {
            continue;
        }
        for drop in 0..sup.items.len() {
            sub.clear();
            sub.extend(
                sup.items
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != drop)
                    .map(|(_, &i)| i),
            );
            if let Some(&k) = index.get(sub.as_slice())
                && subsumes(&itemsets[k], sup)
            {
                keep[k] = false;
            }
        }
    }
    drop(index);
    itemsets
        .into_iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(s))
        .collect()
}
