//! Rows into per-customer, time-ordered histories: the sorting permutation
//! (counting sort by customer, then by time within each customer) and
//! columns gathered in its order.

/// The permutation that sorts rows by (customer, time, arrival) and the
/// times in that order, or `(None, None)` if already sorted.
///
/// A counting sort by customer (stable, O(n)), the times gathered in that
/// order once, then a stable sort by time within each customer's (short)
/// history on those gathered times, without random reads.
pub(crate) fn sort_order(
    customer: &[u32],
    time: &[i64],
    n_customers: usize,
) -> (Option<Vec<u32>>, Option<Vec<i64>>) {
    let (order, times, _) = sort_order_with_offsets(customer, time, n_customers);
    (order, times)
}

/// [`sort_order`] and the rows' [`offsets`] by customer, which it works out on the way.
pub(crate) fn sort_order_with_offsets(
    customer: &[u32],
    time: &[i64],
    n_customers: usize,
) -> (Option<Vec<u32>>, Option<Vec<i64>>, Vec<usize>) {
    let starts = offsets(customer, n_customers);
    if is_sorted(customer, time) {
        return (None, None, starts);
    }
    let mut order = vec![0u32; customer.len()];
    counting_scatter(customer, &starts, &mut order);
    let mut times = gather_ref(time, &order);
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        // Split at customer boundaries into ~4k-row pieces for the pool.
        let mut pieces = Vec::new();
        let (mut rest_order, mut rest_times): (&mut [u32], &mut [i64]) = (&mut order, &mut times);
        let mut consumed = 0usize;
        let mut c = 0usize;
        while c < n_customers {
            let mut end = c;
            while end < n_customers && starts[end + 1] - starts[c] < 4096 {
                end += 1;
            }
            end = end.max(c + 1);
            let len = starts[end] - consumed;
            let (piece_order, tail_order) = rest_order.split_at_mut(len);
            let (piece_times, tail_times) = rest_times.split_at_mut(len);
            pieces.push((c, end, piece_order, piece_times));
            rest_order = tail_order;
            rest_times = tail_times;
            consumed += len;
            c = end;
        }
        pieces
            .into_par_iter()
            .for_each(|(first, last, piece_order, piece_times)| {
                let base = starts[first];
                for k in first..last {
                    let range = starts[k] - base..starts[k + 1] - base;
                    sort_group(&mut piece_order[range.clone()], &mut piece_times[range]);
                }
            });
    }
    #[cfg(not(feature = "parallel"))]
    for k in 0..n_customers {
        let range = starts[k]..starts[k + 1];
        sort_group(&mut order[range.clone()], &mut times[range]);
    }
    (Some(order), Some(times), starts)
}

/// Sorts one customer's rows (ascending) stably by their times, moving both together.
fn sort_group(rows: &mut [u32], times: &mut [i64]) {
    if times.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    if rows.len() <= 32 {
        for i in 1..rows.len() {
            let mut j = i;
            while j > 0 && times[j - 1] > times[j] {
                times.swap(j - 1, j);
                rows.swap(j - 1, j);
                j -= 1;
            }
        }
    } else {
        // Rows ascend within a customer, so (time, row) order is the stable order by time.
        let mut pairs: Vec<(i64, u32)> = times.iter().copied().zip(rows.iter().copied()).collect();
        pairs.sort_unstable();
        for ((t, r), (time, row)) in times.iter_mut().zip(rows.iter_mut()).zip(pairs) {
            *t = time;
            *r = row;
        }
    }
}

/// `values` in the order `order` gives.
fn gather_ref<T: Copy + Send + Sync>(values: &[T], order: &[u32]) -> Vec<T> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        order.par_iter().map(|&i| values[i as usize]).collect()
    }
    #[cfg(not(feature = "parallel"))]
    order.iter().map(|&i| values[i as usize]).collect()
}

pub(crate) fn gather<T: Copy + PartialEq + Send + Sync>(
    values: Vec<T>,
    order: Option<&[u32]>,
) -> Vec<T> {
    match order {
        // A column of one value (no campaigns, say) is the same in any order.
        Some(order)
            if !values
                .first()
                .is_some_and(|v| values.iter().all(|x| x == v)) =>
        {
            gather_ref(&values, order)
        }
        _ => {
            let mut v = values;
            v.shrink_to_fit();
            v
        }
    }
}

/// [`gather`] for a column kept only when some row has a value (empty otherwise).
pub(crate) fn gather_optional<T: Copy + PartialEq + Send + Sync>(
    values: Vec<T>,
    order: Option<&[u32]>,
) -> Vec<T> {
    if values.is_empty() {
        values
    } else {
        gather(values, order)
    }
}

/// `offsets[c]..offsets[c + 1]` is customer `c`'s range in rows sorted by customer.
pub(crate) fn offsets(customer: &[u32], n_customers: usize) -> Vec<usize> {
    let mut counts = vec![0usize; n_customers + 1];
    let pieces = pieces(customer.len());
    let bounds: Vec<usize> = (0..=pieces).map(|k| n_customers * k / pieces).collect();
    let ranges = split_by(counts.get_mut(1..).unwrap_or_default(), &bounds);
    each_piece(ranges, |(lo, counts)| {
        for &c in customer {
            // Customers outside the range (below it too, by wrapping) are another piece's.
            if let Some(count) = counts.get_mut((c as usize).wrapping_sub(lo)) {
                *count += 1;
            }
        }
    });
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
    counts
}

/// Rows from which a pass over all rows is split by customer across the pool.
#[cfg(feature = "parallel")]
const PARALLEL_ROWS: usize = 1 << 18;

/// How many pieces a pass over `rows` rows is split into.
fn pieces(rows: usize) -> usize {
    #[cfg(feature = "parallel")]
    if rows >= PARALLEL_ROWS {
        return rayon::current_num_threads().clamp(1, 8);
    }
    let _ = rows;
    1
}

/// `slots` cut at `bounds` (ascending, from 0), each piece with its first index.
fn split_by<'a, T>(slots: &'a mut [T], bounds: &[usize]) -> Vec<(usize, &'a mut [T])> {
    let mut pieces = Vec::with_capacity(bounds.len());
    let mut rest = slots;
    for w in bounds.windows(2) {
        let len = (w[1] - w[0]).min(rest.len());
        let (piece, tail) = std::mem::take(&mut rest).split_at_mut(len);
        pieces.push((w[0], piece));
        rest = tail;
    }
    pieces
}

/// Runs `work` on every piece, on the pool when there are several.
fn each_piece<S: Send>(pieces: Vec<S>, work: impl Fn(S) + Sync + Send) {
    #[cfg(feature = "parallel")]
    if pieces.len() > 1 {
        use rayon::prelude::*;
        pieces.into_par_iter().for_each(work);
        return;
    }
    pieces.into_iter().for_each(work);
}

/// Whether rows are already in (customer, time) order.
fn is_sorted(customer: &[u32], time: &[i64]) -> bool {
    let ordered = |i: usize| match (customer.get(i..i + 2), time.get(i..i + 2)) {
        (Some(c), Some(t)) => (c[0], t[0]) <= (c[1], t[1]),
        _ => true,
    };
    let n = customer.len().saturating_sub(1);
    #[cfg(feature = "parallel")]
    if pieces(n) > 1 {
        use rayon::prelude::*;
        return (0..n).into_par_iter().all(ordered);
    }
    (0..n).all(ordered)
}

/// The counting sort by customer: `order` gets the rows of customer 0, then
/// of customer 1, …, each customer's rows in row order (`starts` from
/// [`offsets`]). The customers are split into ranges of about equal rows;
/// each range's thread passes over all rows and places its own, so every
/// position is written by one thread.
fn counting_scatter(customer: &[u32], starts: &[usize], order: &mut [u32]) {
    let n_customers = starts.len().saturating_sub(1);
    let pieces = pieces(customer.len());
    let mut bounds: Vec<usize> = (0..=pieces)
        .map(|k| {
            let row = customer.len() * k / pieces;
            starts.partition_point(|&s| s < row).min(n_customers)
        })
        .collect();
    bounds[0] = 0;
    bounds[pieces] = n_customers;
    let row_bounds: Vec<usize> = bounds.iter().map(|&c| starts[c]).collect();
    // Each customer's next free position in `order`.
    let mut next: Vec<usize> = starts.get(..n_customers).unwrap_or_default().to_vec();
    let ranges = split_by(&mut next, &bounds)
        .into_iter()
        .zip(split_by(order, &row_bounds));
    each_piece(ranges.collect(), |((lo, next), (base, order))| {
        for (row, &c) in customer.iter().enumerate() {
            if let Some(slot) = next.get_mut((c as usize).wrapping_sub(lo)) {
                if let Some(o) = order.get_mut(*slot - base) {
                    *o = row as u32;
                }
                *slot += 1;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order a plain stable sort by (customer, time) gives.
    fn expected(customer: &[u32], time: &[i64]) -> Vec<u32> {
        let mut rows: Vec<u32> = (0..customer.len() as u32).collect();
        rows.sort_by_key(|&r| (customer[r as usize], time[r as usize]));
        rows
    }

    #[test]
    fn sorts_by_customer_then_time_stably_in_short_and_long_histories() {
        // Customer 0 has 100 rows (the long-history path), times with many ties;
        // customers 1..=50 a few rows each (the in-place path).
        let mut customer = Vec::new();
        let mut time = Vec::new();
        for i in 0..400u32 {
            let c = if i % 4 == 0 { 0 } else { 1 + (i * 7) % 50 };
            customer.push(c);
            time.push(i64::from((i * 13) % 17));
        }
        let (order, times) = sort_order(&customer, &time, 51);
        let order = order.unwrap();
        assert_eq!(order, expected(&customer, &time));
        let times = times.unwrap();
        let want: Vec<i64> = order.iter().map(|&r| time[r as usize]).collect();
        assert_eq!(times, want);
    }

    #[test]
    fn large_inputs_sorted_by_customer_ranges_on_the_pool_agree() {
        // Enough rows for the passes split by customer range; skewed
        // customers so the ranges hold different numbers of rows.
        let n = (1 << 18) + 12_345;
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let n_customers = 5_000u32;
        let customer: Vec<u32> = (0..n)
            .map(|_| {
                let r = next() % u64::from(n_customers);
                (r * r / u64::from(n_customers)) as u32
            })
            .collect();
        let time: Vec<i64> = (0..n).map(|_| (next() % 1000) as i64).collect();
        let (order, times) = sort_order(&customer, &time, n_customers as usize);
        let order = order.unwrap();
        assert_eq!(order, expected(&customer, &time));
        let want: Vec<i64> = order.iter().map(|&r| time[r as usize]).collect();
        assert_eq!(times.unwrap(), want);
        let mut counts = vec![0usize; n_customers as usize + 1];
        for &c in &customer {
            counts[c as usize + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        assert_eq!(offsets(&customer, n_customers as usize), counts);
        let sorted: Vec<u32> = order.iter().map(|&r| customer[r as usize]).collect();
        let sorted_times: Vec<i64> = order.iter().map(|&r| time[r as usize]).collect();
        assert_eq!(
            sort_order(&sorted, &sorted_times, n_customers as usize),
            (None, None)
        );
    }

    #[test]
    fn sorted_input_needs_no_order() {
        assert_eq!(sort_order(&[0, 0, 1], &[1, 2, 0], 2), (None, None));
        assert_eq!(sort_order(&[], &[], 0), (None, None));
    }

    #[test]
    fn gather_keeps_constant_columns_and_permutes_others() {
        let order = [2u32, 0, 1];
        assert_eq!(gather(vec![7u8, 7, 7], Some(&order)), vec![7, 7, 7]);
        assert_eq!(gather(vec![1u16, 2, 3], Some(&order)), vec![3, 1, 2]);
        assert_eq!(gather(vec![1u16, 2, 3], None), vec![1, 2, 3]);
        assert!(gather_optional(Vec::<u32>::new(), Some(&order)).is_empty());
    }
}
