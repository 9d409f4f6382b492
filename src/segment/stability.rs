//! Stable segment ids across refits, and where customers moved.
//!
//! A clustering refit on new data numbers its clusters arbitrarily: yesterday's
//! segment 2 may be today's segment 0. Reports, campaigns and experiments key
//! on segment ids, so a refit must hand each new segment the id of the old
//! segment it continues. [`match_segments`] does this by pairing the two sets
//! of centroids at minimum total squared Euclidean distance — a linear
//! assignment problem, solved exactly by [`assign_min_cost`] — and then:
//!
//! - a current segment paired with previous segment `p` takes id `p`;
//! - when `k` grows, the current segments left unpaired are new and take fresh
//!   ids `k_prev, k_prev + 1, …` in increasing order of their current index;
//! - when `k` shrinks, the previous ids left unpaired are retired (never
//!   reused by this match).
//!
//! [`migration_matrix`] then counts how customers moved between segments,
//! after the current labels have been mapped with [`SegmentMatch::apply`].
//!
//! # The assignment problem (Kuhn 1955; Munkres 1957)
//!
//! Given an `r × c` cost matrix with `r ≤ c`, choose distinct columns
//! `σ(0), …, σ(r − 1)` minimising `Σ_i C[i, σ(i)]`. The Hungarian method keeps
//! dual potentials `u_i + v_j ≤ C[i, j]` and adds one row at a time along a
//! shortest augmenting path in reduced costs `C[i, j] − u_i − v_j`, with
//! Dijkstra's rule (the shortest-augmenting-path form of Jonker & Volgenant
//! 1987); each row costs `O(r·c)`, the whole `O(r²·c)`. Optimality follows
//! from complementary slackness: every assigned pair has reduced cost zero
//! and no reduced cost is negative. When `r > c` the transposed problem is
//! solved, so exactly `c` rows are assigned.
//!
//! Ties are broken deterministically: within the search, the lowest column
//! index wins among equal reduced costs, and rows join in index order. The
//! total cost equals SciPy's `linear_sum_assignment`; among several optimal
//! assignments the one returned may differ from SciPy's.
//!
//! # References
//!
//! - H. W. Kuhn (1955). The Hungarian method for the assignment problem.
//!   *Naval Research Logistics Quarterly* 2, 83–97.
//! - J. Munkres (1957). Algorithms for the assignment and transportation
//!   problems. *J. SIAM* 5(1), 32–38.
//! - R. Jonker, A. Volgenant (1987). A shortest augmenting path algorithm for
//!   dense and sparse linear assignment problems. *Computing* 38, 325–340.
//!
//! # Example
//!
//! ```
//! use custinsight::segment::stability::{match_segments, migration_matrix};
//! use ndarray::array;
//!
//! let previous = array![[0.0, 0.0], [10.0, 0.0]];
//! // The refit found the same two segments in the other order, and a third.
//! let current = array![[9.5, 0.5], [0.2, -0.1], [0.0, 20.0]];
//! let m = match_segments(previous.view(), current.view())?;
//! assert_eq!(m.relabel, vec![1, 0, 2]);
//! assert_eq!(m.new_segments, vec![2]);
//! assert!(m.retired.is_empty());
//!
//! let before = [0, 0, 1, 1];
//! let after = m.apply(&[1, 2, 0, 0])?; // current labels → stable ids
//! let moves = migration_matrix(&before, &after, 2, m.k_stable())?;
//! assert_eq!(moves.counts, vec![vec![1, 0, 1], vec![0, 2, 0]]);
//! assert_eq!(moves.stayed_share, 0.75);
//! # Ok::<(), custinsight::Error>(())
//! ```

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The minimum-cost assignment of rows to columns of a rectangular cost
/// matrix (Kuhn–Munkres, `O(min(r, c)² · max(r, c))`).
///
/// Returns, for each row, the column assigned to it:
///
/// - `r ≤ c`: every row is `Some`, with distinct columns;
/// - `r > c`: exactly `c` rows are `Some` (every column is used once), the
///   other `r − c` rows are `None`; the chosen rows and columns minimise the
///   total cost among all such choices.
///
/// An empty matrix gives `r` `None`s (no columns) or an empty vector (no rows).
/// Ties are broken deterministically (see the module docs).
///
/// Errors: [`Error::NonFinite`] when a cost is NaN or infinite;
/// [`Error::InvalidInput`] when costs are so large that sums of `r + c` of
/// them overflow `f64`.
pub fn assign_min_cost(cost: ArrayView2<f64>) -> Result<Vec<Option<usize>>> {
    let (r, c) = cost.dim();
    let mut max_abs = 0.0_f64;
    for ((i, j), &v) in cost.indexed_iter() {
        if !v.is_finite() {
            return Err(Error::non_finite(
                "assignment costs",
                i,
                format!("column {j}"),
                v,
            ));
        }
        max_abs = max_abs.max(v.abs());
    }
    // Potentials are sums of at most r + c costs; keep them finite.
    if !(max_abs * 4.0 * (r + c + 1) as f64).is_finite() {
        return Err(Error::InvalidInput(
            "costs too large: their sums overflow f64; rescale them".into(),
        ));
    }
    if r == 0 || c == 0 {
        return Ok(vec![None; r]);
    }
    if r <= c {
        Ok(hungarian(cost)?.into_iter().map(Some).collect())
    } else {
        let mut rows = vec![None; r];
        for (column, row) in hungarian(cost.t())?.into_iter().enumerate() {
            rows[row] = Some(column);
        }
        Ok(rows)
    }
}

/// Shortest augmenting paths with potentials, for `n ≤ m` (rows ≤ columns);
/// 1-based internally, with column 0 as the root of each search.
fn hungarian(cost: ArrayView2<f64>) -> Result<Vec<usize>> {
    let (n, m) = cost.dim();
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; m + 1];
    // row_of[j]: the 1-based row holding column j, 0 when free.
    let mut row_of = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    let mut min_reduced = vec![f64::INFINITY; m + 1];
    let mut used = vec![false; m + 1];
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        min_reduced.fill(f64::INFINITY);
        used.fill(false);
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let reduced = cost[[i0 - 1, j - 1]] - u[i0] - v[j];
                    if reduced < min_reduced[j] {
                        min_reduced[j] = reduced;
                        way[j] = j0;
                    }
                    // Strict: the lowest column wins a tie.
                    if min_reduced[j] < delta {
                        delta = min_reduced[j];
                        j1 = j;
                    }
                }
            }
            // Unreachable with finite potentials; guards against looping forever.
            if j1 == 0 {
                return Err(Error::InvalidInput(
                    "assignment failed: costs lost precision; rescale them".into(),
                ));
            }
            for j in 0..=m {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_reduced[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to the root.
        while j0 != 0 {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
        }
    }
    let mut column_of = vec![0usize; n];
    for j in 1..=m {
        if row_of[j] != 0 {
            column_of[row_of[j] - 1] = j - 1;
        }
    }
    Ok(column_of)
}

/// How the segments of a refit continue those of the previous model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentMatch {
    /// For each current segment (by its index in the refit), the stable id it
    /// should take: a previous id, or a fresh id `k_prev..` for new segments.
    pub relabel: Vec<usize>,
    /// For each current segment, the Euclidean distance from its centroid to
    /// the previous centroid it continues; for a new segment, to the nearest
    /// previous centroid.
    pub distances: Vec<f64>,
    /// Current segments with no previous partner (only when `k` grew), in
    /// increasing order; their ids are `k_prev, k_prev + 1, …` in this order.
    pub new_segments: Vec<usize>,
    /// Previous ids with no current partner (only when `k` shrank), in
    /// increasing order.
    pub retired: Vec<usize>,
}

impl SegmentMatch {
    /// One more than the largest stable id this match can produce:
    /// `k_prev + new_segments.len()`. Use it as `k_after` of
    /// [`migration_matrix`] for labels mapped with [`apply`](Self::apply).
    pub fn k_stable(&self) -> usize {
        // k_prev = paired + retired, and every current segment is paired or new.
        self.relabel.len() + self.retired.len()
    }

    /// Maps labels of the refit (`0..relabel.len()`) to stable ids.
    ///
    /// Errors ([`Error::OutOfRange`]) on a label `≥ relabel.len()`.
    pub fn apply(&self, labels: &[usize]) -> Result<Vec<usize>> {
        labels
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                self.relabel.get(l).copied().ok_or_else(|| {
                    Error::out_of_range(format!("refit label at row {i}"), l, self.relabel.len())
                })
            })
            .collect()
    }
}

/// Pairs the centroids of a refit (`current`, one row per segment) with those
/// of the previous model (`previous`, same feature columns) at minimum total
/// squared Euclidean distance, and gives each current segment a stable id.
///
/// See the module docs for the rules when `k` grows or shrinks. With the same
/// `k`, ids keep their meaning: a refit that finds the same centroids in
/// another order is relabelled back exactly.
///
/// Errors: [`Error::EmptyInput`] when either matrix has no rows or no
/// columns; [`Error::LengthMismatch`] when the column counts differ;
/// [`Error::NonFinite`] when a value is not finite; [`Error::InvalidInput`]
/// when squared distances overflow `f64`.
pub fn match_segments(previous: ArrayView2<f64>, current: ArrayView2<f64>) -> Result<SegmentMatch> {
    let (k_prev, d) = previous.dim();
    let k_cur = current.nrows();
    if current.ncols() != d {
        return Err(Error::lengths(
            "current centroids' columns (the previous ones' width)",
            d,
            current.ncols(),
        ));
    }
    if k_prev == 0 {
        return Err(Error::empty("previous centroids"));
    }
    if k_cur == 0 {
        return Err(Error::empty("current centroids"));
    }
    if d == 0 {
        return Err(Error::empty("centroid columns"));
    }
    for (name, m) in [("previous", previous.view()), ("current", current.view())] {
        if let Some(((i, j), v)) = m.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::non_finite(
                format!("{name} centroids"),
                i,
                format!("column {j}"),
                *v,
            ));
        }
    }
    let cost = Array2::from_shape_fn((k_cur, k_prev), |(i, j)| {
        current
            .row(i)
            .iter()
            .zip(previous.row(j))
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
    });
    if cost.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(
            "squared distances between centroids overflow f64; rescale the features".into(),
        ));
    }
    let assigned = assign_min_cost(cost.view())?;
    let mut relabel = vec![0; k_cur];
    let mut distances = vec![0.0; k_cur];
    let mut new_segments = Vec::new();
    let mut taken = vec![false; k_prev];
    for (i, a) in assigned.iter().enumerate() {
        match *a {
            Some(p) => {
                relabel[i] = p;
                distances[i] = cost[[i, p]].sqrt();
                taken[p] = true;
            }
            None => {
                relabel[i] = k_prev + new_segments.len();
                distances[i] = cost.row(i).fold(f64::INFINITY, |m, &v| m.min(v)).sqrt();
                new_segments.push(i);
            }
        }
    }
    let retired = (0..k_prev).filter(|&p| !taken[p]).collect();
    Ok(SegmentMatch {
        relabel,
        distances,
        new_segments,
        retired,
    })
}

/// Customers counted by segment before and after: `counts[b][a]` rows went
/// from segment `b` to segment `a`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    /// `k_before × k_after` counts; they sum to the number of rows.
    pub counts: Vec<Vec<u64>>,
    /// Share of rows whose id is the same before and after (the diagonal), in `[0, 1]`.
    pub stayed_share: f64,
}

/// Most cells a migration table may have (`k_before × k_after`), 128 MiB of counts.
pub const MAX_MIGRATION_CELLS: usize = 1 << 24;

/// Counts how rows moved between segments: row `i` goes from `before[i]`
/// (in `0..k_before`) to `after[i]` (in `0..k_after`). Each row is counted
/// exactly once.
///
/// Ids must mean the same segment on both sides for the diagonal (and so
/// `stayed_share`) to mean "stayed": map refit labels with
/// [`SegmentMatch::apply`] first.
///
/// Errors: [`Error::LengthMismatch`] on different lengths; [`Error::EmptyInput`]
/// on no rows; [`Error::OutOfRange`] on a label out of range;
/// [`Error::InvalidParameter`] when `k_before × k_after`
/// exceeds [`MAX_MIGRATION_CELLS`].
pub fn migration_matrix(
    before: &[usize],
    after: &[usize],
    k_before: usize,
    k_after: usize,
) -> Result<Migration> {
    if before.len() != after.len() {
        return Err(Error::lengths(
            "migration: labels after (one per label before)",
            before.len(),
            after.len(),
        ));
    }
    if before.is_empty() {
        return Err(Error::empty("migration: rows"));
    }
    let cells = k_before
        .checked_mul(k_after)
        .filter(|&c| c <= MAX_MIGRATION_CELLS)
        .ok_or_else(|| {
            Error::param(
                "k_after",
                k_after,
                format!("k_before × k_after must be at most {MAX_MIGRATION_CELLS} (k_before = {k_before})"),
            )
        })?;
    for (side, labels, k) in [("before", before, k_before), ("after", after, k_after)] {
        if let Some(i) = labels.iter().position(|&l| l >= k) {
            return Err(Error::out_of_range(
                format!("migration: label at row {i} ({side})"),
                labels[i],
                k,
            ));
        }
    }
    let count = |rows: std::ops::Range<usize>| {
        let mut acc = vec![0u64; cells];
        for i in rows {
            acc[before[i] * k_after + after[i]] += 1;
        }
        acc
    };
    let n = before.len();
    // Integer counts add exactly, so chunks may merge in any order; only small
    // tables go parallel, as each chunk holds a whole table.
    #[cfg(feature = "parallel")]
    let flat = {
        const CHUNK: usize = 1 << 16;
        if cells <= 1 << 16 && n > CHUNK {
            use rayon::prelude::*;
            (0..n.div_ceil(CHUNK))
                .into_par_iter()
                .map(|c| count(c * CHUNK..((c + 1) * CHUNK).min(n)))
                .reduce(
                    || vec![0u64; cells],
                    |mut a, b| {
                        a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                        a
                    },
                )
        } else {
            count(0..n)
        }
    };
    #[cfg(not(feature = "parallel"))]
    let flat = count(0..n);
    let stayed: u64 = (0..k_before.min(k_after))
        .map(|s| flat[s * k_after + s])
        .sum();
    let counts = if k_after == 0 {
        vec![Vec::new(); k_before]
    } else {
        flat.chunks(k_after).map(<[u64]>::to_vec).collect()
    };
    Ok(Migration {
        counts,
        stayed_share: stayed as f64 / n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use proptest::prelude::*;
    use rand::{SeedableRng, seq::SliceRandom};
    use rand_chacha::ChaCha8Rng;

    fn total(cost: ArrayView2<f64>, assignment: &[Option<usize>]) -> f64 {
        assignment
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.map(|c| cost[[i, c]]))
            .sum()
    }

    /// Checks the shape rules: min(r, c) rows assigned, distinct columns.
    fn assert_valid(cost: ArrayView2<f64>, assignment: &[Option<usize>]) {
        let (r, c) = cost.dim();
        assert_eq!(assignment.len(), r);
        let columns: Vec<usize> = assignment.iter().flatten().copied().collect();
        assert_eq!(columns.len(), r.min(c));
        let mut distinct = columns.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), columns.len());
        assert!(columns.iter().all(|&j| j < c));
    }

    /// Minimum over all injective maps from the smaller side to the larger.
    fn brute_force(cost: ArrayView2<f64>) -> f64 {
        let (r, c) = cost.dim();
        let cost = if r <= c { cost } else { cost.reversed_axes() };
        let c = cost.ncols();
        fn go(cost: ArrayView2<f64>, row: usize, used: &mut Vec<bool>, acc: f64, best: &mut f64) {
            if row == cost.nrows() {
                *best = best.min(acc);
                return;
            }
            for j in 0..cost.ncols() {
                if !used[j] {
                    used[j] = true;
                    go(cost, row + 1, used, acc + cost[[row, j]], best);
                    used[j] = false;
                }
            }
        }
        let mut best = f64::INFINITY;
        go(cost, 0, &mut vec![false; c], 0.0, &mut best);
        best
    }

    #[test]
    fn assignment_matches_scipy() {
        // Reference: scipy 1.17.1, r, c = scipy.optimize.linear_sum_assignment(M);
        // total = M[r, c].sum(); the column lists below are scipy's c (as rows' columns).
        let m1 = array![[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]];
        let a = assign_min_cost(m1.view()).unwrap();
        assert_eq!(a, vec![Some(1), Some(0), Some(2)]);
        assert_eq!(total(m1.view(), &a), 5.0);

        let m2 = array![
            [0.5, 9.25, 3.0, 7.5, 1.125],
            [2.0, 0.75, 8.5, 6.0, 4.0],
            [5.5, 3.25, 0.25, 9.0, 2.0]
        ];
        let a = assign_min_cost(m2.view()).unwrap();
        assert_eq!(a, vec![Some(0), Some(1), Some(2)]);
        assert_eq!(total(m2.view(), &a), 1.5);

        // More rows than columns: scipy assigns rows [1, 2, 3] to columns [0, 2, 1].
        let m3 = array![
            [7.0, 2.5, 3.0],
            [1.5, 8.0, 4.5],
            [6.0, 6.0, 0.5],
            [2.0, 1.0, 9.5],
            [3.0, 3.0, 3.0]
        ];
        let a = assign_min_cost(m3.view()).unwrap();
        assert_eq!(a, vec![None, Some(0), Some(2), Some(1), None]);
        assert_eq!(total(m3.view(), &a), 3.0);

        // Ties: several optima of total 4.0 (scipy picks the identity).
        let m4 = array![
            [1.0, 1.0, 2.0, 2.0],
            [1.0, 1.0, 2.0, 2.0],
            [2.0, 2.0, 1.0, 1.0],
            [2.0, 2.0, 1.0, 1.0]
        ];
        let a = assign_min_cost(m4.view()).unwrap();
        assert_valid(m4.view(), &a);
        assert_eq!(total(m4.view(), &a), 4.0);
        assert_eq!(assign_min_cost(m4.view()).unwrap(), a, "deterministic");

        let m5 = array![
            [0.31, -1.72, 2.05, 0.99, -0.43, 1.18],
            [1.57, 0.62, -2.31, 0.08, 1.44, -0.9],
            [-0.27, 2.2, 0.73, -1.35, 0.56, 1.91],
            [0.84, -0.66, 1.29, 2.47, -1.88, 0.15],
            [-1.03, 0.37, -0.51, 1.62, 0.94, -2.06],
            [2.33, 1.05, -0.12, -0.79, 0.28, 0.67]
        ];
        let a = assign_min_cost(m5.view()).unwrap();
        assert_eq!(
            a,
            [1, 2, 0, 4, 5, 3].map(Some).to_vec(),
            "scipy: columns [1, 2, 0, 4, 5, 3]"
        );
        let t = total(m5.view(), &a);
        assert!((t - -9.030000000000001_f64).abs() <= 1e-12, "{t}");
    }

    #[test]
    fn assignment_edge_cases() {
        assert_eq!(
            assign_min_cost(Array2::<f64>::zeros((3, 0)).view()).unwrap(),
            vec![None; 3]
        );
        assert!(
            assign_min_cost(Array2::<f64>::zeros((0, 4)).view())
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            assign_min_cost(array![[7.0]].view()).unwrap(),
            vec![Some(0)]
        );
        // All equal: the identity, by the lowest-column rule.
        let flat = Array2::from_elem((3, 3), 2.5);
        assert_eq!(
            assign_min_cost(flat.view()).unwrap(),
            vec![Some(0), Some(1), Some(2)]
        );
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut m = Array2::<f64>::zeros((2, 3));
            m[[1, 2]] = bad;
            assert!(matches!(
                assign_min_cost(m.view()),
                Err(Error::NonFinite { row: 1, ref field, .. }) if field == "column 2"
            ));
        }
        let huge = array![[f64::MAX, 0.0], [0.0, -f64::MAX]];
        assert!(matches!(
            assign_min_cost(huge.view()),
            Err(Error::InvalidInput(_))
        ));
        // Large but safe magnitudes still solve exactly.
        let big = array![[1e300, 0.0], [0.0, 1e300]];
        assert_eq!(assign_min_cost(big.view()).unwrap(), vec![Some(1), Some(0)]);
    }

    #[test]
    fn matching_recovers_a_permutation_exactly() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let previous = Array2::from_shape_fn((7, 3), |(i, j)| (i * 3 + j) as f64 * 1.7 - 9.0);
        for _ in 0..20 {
            let mut perm: Vec<usize> = (0..7).collect();
            perm.shuffle(&mut rng);
            // current[j] is previous[perm[j]], slightly moved.
            let current = Array2::from_shape_fn((7, 3), |(i, j)| {
                previous[[perm[i], j]] + 0.01 * ((i + j) % 3) as f64
            });
            let m = match_segments(previous.view(), current.view()).unwrap();
            assert_eq!(m.relabel, perm);
            assert!(m.new_segments.is_empty() && m.retired.is_empty());
            assert!(m.distances.iter().all(|&d| d < 0.03));
            assert_eq!(m.k_stable(), 7);
            // Relabelled labels say the same as the previous model.
            let labels: Vec<usize> = (0..7).collect();
            assert_eq!(m.apply(&labels).unwrap(), perm);
        }
    }

    #[test]
    fn growing_and_shrinking_k() {
        let previous = array![[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        // Grown: two new segments at positions 0 and 3, old ones shuffled.
        let current = array![
            [50.0, 50.0],
            [0.0, 10.5],
            [0.5, 0.0],
            [-40.0, 0.0],
            [10.0, 0.0]
        ];
        let m = match_segments(previous.view(), current.view()).unwrap();
        assert_eq!(m.relabel, vec![3, 2, 0, 4, 1]);
        assert_eq!(m.new_segments, vec![0, 3]);
        assert!(m.retired.is_empty());
        assert_eq!(m.k_stable(), 5);
        assert_eq!(m.distances[1], 0.5);
        assert_eq!(m.distances[4], 0.0);
        assert_eq!(m.distances[3], 40.0); // nearest previous: (0, 0)
        // Shrunk: segment 1 disappears.
        let current = array![[0.0, 9.0], [1.0, 1.0]];
        let m = match_segments(previous.view(), current.view()).unwrap();
        assert_eq!(m.relabel, vec![2, 0]);
        assert_eq!(m.retired, vec![1]);
        assert!(m.new_segments.is_empty());
        assert_eq!(m.k_stable(), 3);
        assert_eq!(m.distances, vec![1.0, 2f64.sqrt()]);
        assert!(matches!(
            m.apply(&[0, 2]),
            Err(Error::OutOfRange {
                index: 2,
                len: 2,
                ..
            })
        ));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<SegmentMatch>(&json).unwrap(), m);
    }

    #[test]
    fn matching_rejects_bad_centroids() {
        let ok = array![[0.0, 1.0], [2.0, 3.0]];
        let mut nan = ok.clone();
        nan[[1, 0]] = f64::NAN;
        let huge = array![[1e200, 0.0]];
        let no_columns = Array2::<f64>::zeros((2, 0));
        type Case<'a> = (ArrayView2<'a, f64>, Array2<f64>, fn(&Error) -> bool);
        let cases: [Case; 6] = [
            (ok.view(), Array2::<f64>::zeros((2, 3)), |e| {
                matches!(
                    e,
                    Error::LengthMismatch {
                        expected: 2,
                        found: 3,
                        ..
                    }
                )
            }),
            (ok.view(), Array2::<f64>::zeros((0, 2)), |e| {
                matches!(e, Error::EmptyInput { .. })
            }),
            (no_columns.view(), no_columns.clone(), |e| {
                matches!(e, Error::EmptyInput { .. })
            }),
            (
                ok.view(),
                nan.clone(),
                |e| matches!(e, Error::NonFinite { row: 1, what, .. } if what == "current centroids"),
            ),
            (
                nan.view(),
                ok.clone(),
                |e| matches!(e, Error::NonFinite { row: 1, what, .. } if what == "previous centroids"),
            ),
            (ok.view(), huge.clone(), |e| {
                matches!(e, Error::InvalidInput(_))
            }),
        ];
        for (i, (p, c, expected)) in cases.iter().enumerate() {
            let result = match_segments(*p, c.view());
            assert!(result.as_ref().is_err_and(expected), "case {i}: {result:?}");
        }
        assert!(matches!(
            match_segments(Array2::<f64>::zeros((0, 2)).view(), ok.view()),
            Err(Error::EmptyInput { .. })
        ));
    }

    #[test]
    fn migration_counts_every_row_once() {
        let before = [0, 0, 1, 1, 1, 2, 2, 0];
        let after = [0, 1, 1, 1, 3, 2, 0, 0];
        let m = migration_matrix(&before, &after, 3, 4).unwrap();
        assert_eq!(
            m.counts,
            vec![vec![2, 1, 0, 0], vec![0, 2, 0, 1], vec![1, 0, 1, 0]]
        );
        assert_eq!(m.stayed_share, 5.0 / 8.0);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Migration>(&json).unwrap(), m);
        // Large enough to take the chunked (parallel) path.
        let n = 300_001;
        let before: Vec<usize> = (0..n).map(|i| i % 5).collect();
        let after: Vec<usize> = (0..n).map(|i| (i / 7) % 6).collect();
        let m = migration_matrix(&before, &after, 5, 6).unwrap();
        assert_eq!(m.counts.iter().flatten().sum::<u64>(), n as u64);
        let mut expected = vec![vec![0u64; 6]; 5];
        for (b, a) in before.iter().zip(&after) {
            expected[*b][*a] += 1;
        }
        assert_eq!(m.counts, expected);
    }

    #[test]
    fn migration_errors() {
        assert!(matches!(
            migration_matrix(&[0, 1], &[0], 2, 2),
            Err(Error::LengthMismatch {
                expected: 2,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            migration_matrix(&[], &[], 2, 2),
            Err(Error::EmptyInput { .. })
        ));
        assert!(matches!(
            migration_matrix(&[0, 2], &[0, 1], 2, 2),
            Err(Error::OutOfRange {
                index: 2,
                len: 2,
                ..
            })
        ));
        assert!(matches!(
            migration_matrix(&[0, 1], &[0, 2], 2, 2),
            Err(Error::OutOfRange {
                index: 2,
                len: 2,
                ..
            })
        ));
        assert!(matches!(
            migration_matrix(&[0], &[0], 0, 0),
            Err(Error::OutOfRange {
                index: 0,
                len: 0,
                ..
            })
        ));
        for (kb, ka) in [(usize::MAX, 2), (1 << 13, 1 << 12)] {
            assert!(matches!(
                migration_matrix(&[0], &[0], kb, ka),
                Err(Error::InvalidParameter {
                    name: "k_after",
                    ..
                })
            ));
        }
    }

    fn cost_matrix() -> impl Strategy<Value = Array2<f64>> {
        (1usize..=6, 1usize..=6, any::<bool>()).prop_flat_map(|(r, c, small)| {
            // Small integers make many ties; floats make unique optima.
            let values = if small {
                proptest::collection::vec((0i32..4).prop_map(f64::from), r * c).boxed()
            } else {
                proptest::collection::vec(-100.0f64..100.0, r * c).boxed()
            };
            values.prop_map(move |v| Array2::from_shape_vec((r, c), v).unwrap())
        })
    }

    proptest! {
        #[test]
        fn assignment_is_optimal_against_brute_force(cost in cost_matrix()) {
            let a = assign_min_cost(cost.view()).unwrap();
            assert_valid(cost.view(), &a);
            let best = brute_force(cost.view());
            let got = total(cost.view(), &a);
            prop_assert!((got - best).abs() <= 1e-9 * (1.0 + best.abs()), "{got} vs {best}");
            // Row/column symmetry: the transpose has the same optimum.
            let t = assign_min_cost(cost.t()).unwrap();
            prop_assert!((total(cost.t(), &t) - best).abs() <= 1e-9 * (1.0 + best.abs()));
        }

        #[test]
        fn migration_sums_to_n(
            (before, after) in (1usize..200).prop_flat_map(|n| (
                proptest::collection::vec(0usize..4, n),
                proptest::collection::vec(0usize..5, n),
            )),
        ) {
            let m = migration_matrix(&before, &after, 4, 5).unwrap();
            prop_assert_eq!(m.counts.iter().flatten().sum::<u64>(), before.len() as u64);
            let stayed = before.iter().zip(&after).filter(|(b, a)| b == a).count();
            prop_assert_eq!(m.stayed_share, stayed as f64 / before.len() as f64);
            for (b, row) in m.counts.iter().enumerate() {
                prop_assert_eq!(row.iter().sum::<u64>() as usize, before.iter().filter(|&&x| x == b).count());
            }
        }

        #[test]
        fn matching_inverts_any_permutation(
            perm in Just((0usize..6).collect::<Vec<_>>()).prop_shuffle(),
            values in proptest::collection::vec(-50.0f64..50.0, 12),
        ) {
            let previous = Array2::from_shape_vec((6, 2), values).unwrap();
            // Distinct centroids make the optimum (zero cost) unique.
            let mut rows: Vec<Vec<f64>> = previous.rows().into_iter().map(|r| r.to_vec()).collect();
            rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
            rows.dedup();
            prop_assume!(rows.len() == 6);
            let current = previous.select(ndarray::Axis(0), &perm);
            let m = match_segments(previous.view(), current.view()).unwrap();
            prop_assert_eq!(m.relabel, perm);
            prop_assert!(m.distances.iter().all(|&d| d == 0.0));
        }
    }
}
