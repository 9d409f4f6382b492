//! Growing one tree on gradient histograms, level by level.
//!
//! Every node owns a contiguous range of a row-index array. A node's
//! histogram holds, per feature and bin, the sums of the gradients and
//! Hessians and the row count; the best split of a feature is one scan over
//! its bins (missing values tried on either side). Only the smaller child's
//! histogram is built from its rows; the larger one's is the parent's minus
//! it (Ke et al. 2017). Ties between splits go to the lower feature, then the
//! lower bin, so a tree does not depend on the thread count.

use super::bins::{BinnedColumns, FeatureBins};
use super::tree::{Node, Tree};

/// Bins per feature in a histogram (255 value bins and the missing bin at most).
pub(super) const STRIDE: usize = 256;

/// Features per histogram task.
const GROUP: usize = 2;

/// Sums over the rows in one bin.
#[derive(Debug, Clone, Copy, Default)]
struct BinStat {
    g: f64,
    h: f64,
    n: u32,
}

impl BinStat {
    fn add(&mut self, o: &BinStat) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }

    fn minus(&self, o: &BinStat) -> BinStat {
        BinStat {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

/// The settings a tree is grown with.
#[derive(Debug, Clone)]
pub(super) struct TreeSettings {
    pub(super) max_depth: usize,
    pub(super) min_rows_in_leaf: usize,
    pub(super) min_hessian_in_leaf: f64,
    pub(super) l2: f64,
    pub(super) min_gain: f64,
    pub(super) learning_rate: f64,
    /// Per feature: +1 increasing, −1 decreasing, 0 free.
    pub(super) monotone: Vec<i8>,
}

/// A grown tree, with where its leaves' rows are and what each split gained.
pub(super) struct Grown {
    pub(super) tree: Tree,
    /// (start, end, value) of each leaf in the grower's row order.
    pub(super) leaves: Vec<(usize, usize, f64)>,
    /// (feature, gain) of each split.
    pub(super) gains: Vec<(usize, f64)>,
}

/// A split chosen for a node.
#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    bin: u8,
    missing_left: bool,
    gain: f64,
    left: BinStat,
    left_value: f64,
    right_value: f64,
}

/// A node waiting to be split or made a leaf.
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    total: BinStat,
    hist: Vec<BinStat>,
    /// Bounds on the node's output from monotone constraints above it.
    bounds: (f64, f64),
}

/// Grows trees over one binned training set.
pub(super) struct Grower<'a> {
    binned: &'a BinnedColumns,
    bins: &'a [FeatureBins],
    settings: &'a TreeSettings,
    /// Row indices; each node owns a range.
    indices: Vec<u32>,
    scratch: Vec<u32>,
}

/// −(2Gw + (H + λ)w²): the loss reduction of output `w` for sums G, H.
fn leaf_gain(g: f64, h: f64, l2: f64, w: f64) -> f64 {
    -(2.0 * g * w + (h + l2) * w * w)
}

impl<'a> Grower<'a> {
    pub(super) fn new(
        binned: &'a BinnedColumns,
        bins: &'a [FeatureBins],
        settings: &'a TreeSettings,
    ) -> Self {
        let n = binned.rows();
        Grower {
            binned,
            bins,
            settings,
            indices: (0..n as u32).collect(),
            scratch: vec![0; n],
        }
    }

    /// The rows of the grower's order (leaf ranges index it).
    pub(super) fn rows(&self) -> &[u32] {
        &self.indices
    }

    /// The best output of a node, within its bounds.
    fn output(&self, s: &BinStat, bounds: (f64, f64)) -> f64 {
        (-s.g / (s.h + self.settings.l2)).clamp(bounds.0, bounds.1)
    }

    /// Grows a tree for gradients `g` and Hessians `h` (one per row), a
    /// level at a time: the level's splits are searched, its rows
    /// partitioned and its smaller children's histograms built, each step
    /// for all of the level's nodes at once on the pool.
    pub(super) fn grow(&mut self, g: &[f64], h: &[f64]) -> Grown {
        for (k, i) in self.indices.iter_mut().enumerate() {
            *i = k as u32;
        }
        let n = self.indices.len();
        let hist = self.histogram(0, n, g, h);
        let total = hist
            .iter()
            .take(STRIDE)
            .fold(BinStat::default(), |mut acc, s| {
                acc.add(s);
                acc
            });
        let mut nodes = vec![Node::Leaf { value: 0.0 }];
        let mut leaves = Vec::new();
        let mut gains = Vec::new();
        let mut level = vec![Pending {
            node: 0,
            start: 0,
            end: n,
            depth: 0,
            total,
            hist,
            bounds: (f64::NEG_INFINITY, f64::INFINITY),
        }];
        while !level.is_empty() {
            let splits: Vec<Option<Split>> = each(&level, |p| {
                if p.depth < self.settings.max_depth {
                    self.best_split(p)
                } else {
                    None
                }
            });
            let mids = self.partition_level(&level, &splits);
            // The smaller child of every split node, by its row range.
            let smaller: Vec<(usize, usize)> = level
                .iter()
                .zip(&mids)
                .filter_map(|(p, mid)| {
                    let mid = (*mid)?;
                    Some(if mid - p.start <= p.end - mid {
                        (p.start, mid)
                    } else {
                        (mid, p.end)
                    })
                })
                .collect();
            let mut small_hists = each(&smaller, |&(a, b)| self.histogram(a, b, g, h)).into_iter();
            let mut next = Vec::with_capacity(smaller.len() * 2);
            for ((p, split), mid) in level.into_iter().zip(splits).zip(mids) {
                let (Some(s), Some(mid)) = (split, mid) else {
                    let value = self.settings.learning_rate * self.output(&p.total, p.bounds);
                    nodes[p.node] = Node::Leaf { value };
                    leaves.push((p.start, p.end, value));
                    continue;
                };
                gains.push((s.feature, s.gain));
                let (left_node, right_node) = (nodes.len(), nodes.len() + 1);
                nodes.push(Node::Leaf { value: 0.0 });
                nodes.push(Node::Leaf { value: 0.0 });
                let threshold = self.bins[s.feature]
                    .thresholds
                    .get(s.bin as usize)
                    .copied()
                    // After the last value bin (value against missing): every finite value goes left.
                    .unwrap_or(f64::MAX);
                nodes[p.node] = Node::Split {
                    feature: s.feature as u32,
                    threshold,
                    bin: s.bin,
                    missing_left: s.missing_left,
                    left: left_node as u32,
                    right: right_node as u32,
                };
                let (left_bounds, right_bounds) = self.child_bounds(&p, &s);
                let right_total = p.total.minus(&s.left);
                // The larger child's histogram is the parent's minus the smaller one's.
                let left_smaller = mid - p.start <= p.end - mid;
                // One smaller histogram per split node, in level order.
                let small = small_hists.next().unwrap_or_default();
                let mut large = p.hist;
                for (l, s) in large.iter_mut().zip(&small) {
                    *l = l.minus(s);
                }
                let (left_hist, right_hist) = if left_smaller {
                    (small, large)
                } else {
                    (large, small)
                };
                next.push(Pending {
                    node: left_node,
                    start: p.start,
                    end: mid,
                    depth: p.depth + 1,
                    total: s.left,
                    hist: left_hist,
                    bounds: left_bounds,
                });
                next.push(Pending {
                    node: right_node,
                    start: mid,
                    end: p.end,
                    depth: p.depth + 1,
                    total: right_total,
                    hist: right_hist,
                    bounds: right_bounds,
                });
            }
            level = next;
        }
        Grown {
            tree: Tree { nodes },
            leaves,
            gains,
        }
    }

    /// Partitions the rows of every node of a level that splits (the
    /// nodes' ranges are disjoint and ascending), on the pool; where each
    /// split node's right rows start.
    fn partition_level(
        &mut self,
        level: &[Pending],
        splits: &[Option<Split>],
    ) -> Vec<Option<usize>> {
        let mut jobs: Vec<(usize, &mut [u32], &mut [u32], Split)> = Vec::new();
        let (mut rest, mut rest_scratch) = (&mut self.indices[..], &mut self.scratch[..]);
        let mut at = 0usize;
        for (p, split) in level.iter().zip(splits) {
            let Some(s) = split else { continue };
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(p.start - at);
            let (rows, tail) = tail.split_at_mut(p.end - p.start);
            let (_, scratch_tail) = std::mem::take(&mut rest_scratch).split_at_mut(p.start - at);
            let (scratch, scratch_tail) = scratch_tail.split_at_mut(p.end - p.start);
            rest = tail;
            rest_scratch = scratch_tail;
            at = p.end;
            jobs.push((p.start, rows, scratch, *s));
        }
        let columns = &self.binned.columns;
        let bins = self.bins;
        let mids = each_mut(jobs, |(start, rows, scratch, s)| {
            let missing = bins[s.feature].missing_bin();
            start + partition(rows, scratch, &columns[s.feature], missing, &s)
        });
        let mut mids = mids.into_iter();
        splits
            .iter()
            .map(|s| s.as_ref().and_then(|_| mids.next()))
            .collect()
    }

    /// The children's output bounds: a monotone split puts the boundary
    /// halfway between the children's outputs (LightGBM's basic method).
    fn child_bounds(&self, p: &Pending, s: &Split) -> ((f64, f64), (f64, f64)) {
        let mid = (s.left_value + s.right_value) / 2.0;
        match self.settings.monotone.get(s.feature).copied().unwrap_or(0) {
            c if c > 0 => ((p.bounds.0, mid), (mid, p.bounds.1)),
            c if c < 0 => ((mid, p.bounds.1), (p.bounds.0, mid)),
            _ => (p.bounds, p.bounds),
        }
    }

    /// Histograms of every feature over the rows `start..end` of the order,
    /// features in groups on the pool. A group reads the node's rows once
    /// and updates its features' histograms side by side (independent
    /// additions, all in the first-level cache).
    fn histogram(&self, start: usize, end: usize, g: &[f64], h: &[f64]) -> Vec<BinStat> {
        let rows = &self.indices[start..end];
        let columns = &self.binned.columns;
        let features = columns.len();
        let gather = |&i: &u32| (g[i as usize], h[i as usize]);
        #[cfg(feature = "parallel")]
        let ordered: Vec<(f64, f64)> = {
            use rayon::prelude::*;
            rows.par_iter().with_min_len(1 << 14).map(gather).collect()
        };
        #[cfg(not(feature = "parallel"))]
        let ordered: Vec<(f64, f64)> = rows.iter().map(gather).collect();
        let mut hist = vec![BinStat::default(); features * STRIDE];
        let fill = |(group, out): (usize, &mut [BinStat])| {
            let first = group * GROUP;
            if out.len() == 2 * STRIDE {
                let (c0, c1) = (&columns[first], &columns[first + 1]);
                let (h0, h1) = out.split_at_mut(STRIDE);
                for (&i, &(gi, hi)) in rows.iter().zip(&ordered) {
                    let i = i as usize;
                    let s = &mut h0[c0[i] as usize];
                    s.g += gi;
                    s.h += hi;
                    s.n += 1;
                    let s = &mut h1[c1[i] as usize];
                    s.g += gi;
                    s.h += hi;
                    s.n += 1;
                }
                return;
            }
            for (k, hist) in out.chunks_mut(STRIDE).enumerate() {
                let column = &columns[first + k];
                for (&i, &(gi, hi)) in rows.iter().zip(&ordered) {
                    let s = &mut hist[column[i as usize] as usize];
                    s.g += gi;
                    s.h += hi;
                    s.n += 1;
                }
            }
        };
        #[cfg(feature = "parallel")]
        if rows.len() * features >= 1 << 16 {
            use rayon::prelude::*;
            hist.par_chunks_mut(GROUP * STRIDE)
                .enumerate()
                .for_each(fill);
            return hist;
        }
        hist.chunks_mut(GROUP * STRIDE).enumerate().for_each(fill);
        hist
    }

    /// The best split of a node over all features, if any gains more than `min_gain`.
    fn best_split(&self, p: &Pending) -> Option<Split> {
        let st = self.settings;
        if (p.end - p.start) < 2 * st.min_rows_in_leaf.max(1) {
            return None;
        }
        let parent = leaf_gain(p.total.g, p.total.h, st.l2, self.output(&p.total, p.bounds));
        let per_feature =
            |j: usize| self.best_split_of(j, &p.hist[j * STRIDE..(j + 1) * STRIDE], p, parent);
        let features = self.bins.len();
        #[cfg(feature = "parallel")]
        let candidates: Vec<Option<Split>> = {
            use rayon::prelude::*;
            (0..features).into_par_iter().map(per_feature).collect()
        };
        #[cfg(not(feature = "parallel"))]
        let candidates: Vec<Option<Split>> = (0..features).map(per_feature).collect();
        let mut best: Option<Split> = None;
        for s in candidates.into_iter().flatten() {
            if best.is_none_or(|b| s.gain > b.gain) {
                best = Some(s);
            }
        }
        best.filter(|s| s.gain > st.min_gain.max(0.0))
    }

    /// The best split of feature `j` from its histogram `hist`.
    fn best_split_of(&self, j: usize, hist: &[BinStat], p: &Pending, parent: f64) -> Option<Split> {
        let st = self.settings;
        let fb = &self.bins[j];
        let missing = hist[fb.missing_bin() as usize];
        let direction = st.monotone.get(j).copied().unwrap_or(0);
        let mut best: Option<Split> = None;
        let mut acc = BinStat::default();
        // Splits after each value bin; after the last one only when missing
        // rows exist (every value left, the missing rows right).
        let cuts = fb.value_bins() - usize::from(missing.n == 0);
        for (b, bin) in hist.iter().enumerate().take(cuts) {
            acc.add(bin);
            // Missing rows go right, then left (only worth trying when there are some).
            for missing_left in [false, true] {
                if missing_left && missing.n == 0 {
                    continue;
                }
                let mut left = acc;
                if missing_left {
                    left.add(&missing);
                }
                let right = p.total.minus(&left);
                if (left.n as usize) < st.min_rows_in_leaf
                    || (right.n as usize) < st.min_rows_in_leaf
                    || left.h < st.min_hessian_in_leaf
                    || right.h < st.min_hessian_in_leaf
                {
                    continue;
                }
                let (wl, wr) = (self.output(&left, p.bounds), self.output(&right, p.bounds));
                if (direction > 0 && wl > wr) || (direction < 0 && wl < wr) {
                    continue;
                }
                let gain = leaf_gain(left.g, left.h, st.l2, wl)
                    + leaf_gain(right.g, right.h, st.l2, wr)
                    - parent;
                if best.is_none_or(|s| gain > s.gain) {
                    // With no missing rows here, missing values follow the larger side.
                    let missing_left = missing_left || (missing.n == 0 && left.h >= right.h);
                    best = Some(Split {
                        feature: j,
                        bin: b as u8,
                        missing_left,
                        gain,
                        left,
                        left_value: wl,
                        right_value: wr,
                    });
                }
            }
        }
        best
    }
}

/// Reorders `rows` so the split's left rows come first, both sides in their
/// previous order; returns how many go left.
fn partition(
    rows: &mut [u32],
    scratch: &mut [u32],
    column: &[u8],
    missing: u8,
    s: &Split,
) -> usize {
    let (mut l, mut r) = (0usize, 0usize);
    for k in 0..rows.len() {
        let i = rows[k];
        let b = column[i as usize];
        let left = if b == missing {
            s.missing_left
        } else {
            b <= s.bin
        };
        if left {
            rows[l] = i;
            l += 1;
        } else {
            scratch[r] = i;
            r += 1;
        }
    }
    rows[l..].copy_from_slice(&scratch[..r]);
    l
}

/// `work` of every item, on the pool with the `parallel` feature, in order.
fn each<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        items.par_iter().map(work).collect()
    }
    #[cfg(not(feature = "parallel"))]
    items.iter().map(work).collect()
}

/// `work` of every owned item, on the pool with the `parallel` feature, in order.
fn each_mut<T: Send, R: Send>(items: Vec<T>, work: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        items.into_par_iter().map(work).collect()
    }
    #[cfg(not(feature = "parallel"))]
    items.into_iter().map(work).collect()
}
