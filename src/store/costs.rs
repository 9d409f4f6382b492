//! Touchpoint costs, held sparsely: most touchpoints (visits, opens,
//! organic clicks) cost nothing known, so a dense column of 10 bytes a row
//! would mostly hold "no cost". A bit per row says whether it has one; a
//! running count per 64 rows finds its value in O(1).

/// The cost (units of 1/10,000 and currency code) of rows that have one.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SparseCosts {
    /// Rows covered.
    len: usize,
    /// Bit `r % 64` of word `r / 64`: row `r` has a cost.
    present: Vec<u64>,
    /// Rows with a cost before each word.
    before: Vec<u32>,
    units: Vec<i64>,
    currency: Vec<u16>,
}

impl SparseCosts {
    /// Appends a row, with its cost if it has one.
    pub(crate) fn push(&mut self, cost: Option<(i64, u16)>) {
        let (word, bit) = (self.len / 64, self.len % 64);
        if bit == 0 {
            self.present.push(0);
            // At most one value per row, and rows are counted in u32 elsewhere.
            self.before.push(self.units.len() as u32);
        }
        if let Some((units, currency)) = cost {
            self.present[word] |= 1 << bit;
            self.units.push(units);
            self.currency.push(currency);
        }
        self.len += 1;
    }

    /// Row `row`'s cost (`None` without one, or out of range).
    /// Appends `n` rows without a cost.
    #[cfg(any(feature = "parallel", test))]
    pub(crate) fn push_absent(&mut self, n: usize) {
        let end = self.len + n;
        // Whole words of absent rows start with their count of earlier costs.
        let words = end.div_ceil(64);
        let before = self.units.len() as u32;
        self.present.resize(words, 0);
        self.before.resize(words, before);
        self.len = end;
    }

    pub(crate) fn get(&self, row: usize) -> Option<(i64, u16)> {
        if row >= self.len {
            return None;
        }
        let (word, bit) = (row / 64, row % 64);
        let bits = *self.present.get(word)?;
        if bits >> bit & 1 == 0 {
            return None;
        }
        let k =
            *self.before.get(word)? as usize + (bits & ((1u64 << bit) - 1)).count_ones() as usize;
        Some((*self.units.get(k)?, *self.currency.get(k)?))
    }

    /// Drops rows `rows..`.
    pub(crate) fn truncate(&mut self, rows: usize) {
        if rows >= self.len {
            return;
        }
        let words = rows.div_ceil(64);
        self.present.truncate(words);
        self.before.truncate(words);
        if rows % 64 != 0 {
            if let Some(last) = self.present.last_mut() {
                *last &= (1u64 << (rows % 64)) - 1;
            }
        }
        let kept = match (self.before.last(), self.present.last()) {
            (Some(&before), Some(&bits)) => before as usize + bits.count_ones() as usize,
            _ => 0,
        };
        self.units.truncate(kept);
        self.currency.truncate(kept);
        self.len = rows;
    }

    /// Rows covered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Reserves room for `rows` more rows (values are reserved as they come).
    pub(crate) fn reserve(&mut self, rows: usize) {
        let words = (self.len + rows)
            .div_ceil(64)
            .saturating_sub(self.present.len());
        self.present.reserve(words);
        self.before.reserve(words);
    }

    /// The costs of rows in the order `order` gives (`order[k]` is the old
    /// row of new row `k`; `None`: unchanged).
    pub(crate) fn gather(self, order: Option<&[u32]>) -> SparseCosts {
        let Some(order) = order else {
            return self;
        };
        if self.units.is_empty() {
            // No row has a cost: none has in any order.
            let words = order.len().div_ceil(64);
            return SparseCosts {
                len: order.len(),
                present: vec![0; words],
                before: vec![0; words],
                ..SparseCosts::default()
            };
        }
        let mut out = SparseCosts::default();
        out.reserve(order.len());
        out.units.reserve_exact(self.units.len());
        out.currency.reserve_exact(self.currency.len());
        for &old in order {
            out.push(self.get(old as usize));
        }
        out
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.present.capacity() * 8
            + self.before.capacity() * 4
            + self.units.capacity() * 8
            + self.currency.capacity() * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Runs of absent costs appended at once are the same column as absent costs one by one.
        #[test]
        fn absent_runs_equal_absent_rows(
            runs in proptest::collection::vec((0usize..150, proptest::option::of((any::<i64>(), 0u16..4))), 0..12),
        ) {
            let (mut by_run, mut by_row) = (SparseCosts::default(), SparseCosts::default());
            for &(gap, cost) in &runs {
                by_run.push_absent(gap);
                by_run.push(cost);
                for _ in 0..gap {
                    by_row.push(None);
                }
                by_row.push(cost);
            }
            prop_assert_eq!(by_run, by_row);
        }

        #[test]
        fn sparse_costs_read_and_reorder_as_a_dense_column(
            dense in proptest::collection::vec(proptest::option::of((any::<i64>(), 0u16..4)), 0..300),
            seed in any::<u64>(),
        ) {
            let mut sparse = SparseCosts::default();
            sparse.reserve(dense.len());
            for &c in &dense {
                sparse.push(c);
            }
            prop_assert_eq!(sparse.len(), dense.len());
            for (r, &c) in dense.iter().enumerate() {
                prop_assert_eq!(sparse.get(r), c);
            }
            prop_assert_eq!(sparse.get(dense.len()), None);
            // A shuffle by a simple LCG permutation.
            let mut order: Vec<u32> = (0..dense.len() as u32).collect();
            let mut s = seed | 1;
            for i in (1..order.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (s >> 33) as usize % (i + 1));
            }
            let moved = sparse.clone().gather(Some(&order));
            for (k, &old) in order.iter().enumerate() {
                prop_assert_eq!(moved.get(k), dense[old as usize]);
            }
            // Truncated, then pushed to again, it reads as the dense column cut and extended.
            let cut = (seed % (dense.len() as u64 + 1)) as usize;
            sparse.truncate(cut);
            prop_assert_eq!(sparse.len(), cut);
            sparse.push(Some((5, 1)));
            sparse.push(None);
            let mut expect = dense[..cut].to_vec();
            expect.extend([Some((5, 1)), None]);
            for (r, &c) in expect.iter().enumerate() {
                prop_assert_eq!(sparse.get(r), c);
            }
            prop_assert_eq!(sparse.get(expect.len()), None);
        }
    }

    #[test]
    fn costless_rows_stay_costless_in_any_order() {
        let mut sparse = SparseCosts::default();
        for _ in 0..130 {
            sparse.push(None);
        }
        let order: Vec<u32> = (0..130).rev().collect();
        let moved = sparse.gather(Some(&order));
        assert_eq!(moved.len(), 130);
        assert!((0..131).all(|r| moved.get(r).is_none()));
        let mut moved = moved;
        moved.push(Some((3, 0)));
        assert_eq!(moved.get(130), Some((3, 0)));
    }
}
