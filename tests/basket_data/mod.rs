//! Baskets the basket tests share: drawn by a 64-bit LCG that
//! `ref_pyfim.py` (printed in BENCHMARKS.md) repeats in Python, and the
//! reference itemsets pyfim found in them.

#![allow(dead_code)] // not every test uses every piece

use std::collections::BTreeMap;

/// Knuth's MMIX linear congruential generator: the upper 31 bits of each state.
pub fn lcg(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    }
}

/// Baskets from a 64-bit LCG; `ref_pyfim.py` draws the
/// same ones in Python: sizes 1–8, items skewed towards small ids (the
/// smaller of two draws), and item 7 added to 60 % of the baskets holding 3.
pub fn lcg_baskets(n: usize, n_items: u64, seed: u64) -> Vec<Vec<u64>> {
    let mut next = lcg(seed);
    (0..n)
        .map(|_| {
            let size = 1 + next() % 8;
            let mut b: Vec<u64> = (0..size)
                .map(|_| {
                    let (a, c) = (next() % n_items, next() % n_items);
                    a.min(c)
                })
                .collect();
            if b.contains(&3) && next() % 10 < 6 {
                b.push(7);
            }
            b.sort_unstable();
            b.dedup();
            b
        })
        .collect()
}

/// The baskets as FIMI text, one line each.
pub fn fimi(baskets: &[Vec<u64>]) -> String {
    baskets
        .iter()
        .map(|b| b.iter().map(u64::to_string).collect::<Vec<_>>().join(" ") + "\n")
        .collect()
}

/// One pinned pyfim run: target, supp, zmax and the itemsets.
pub type Block = (char, i64, usize, BTreeMap<Vec<u64>, u64>);

/// The pinned pyfim results: one block per (target, supp, zmax).
pub fn pinned() -> Vec<Block> {
    let text = include_str!("../data/basket/pyfim_fpgrowth.txt");
    let mut blocks = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields[0] == "=" {
            blocks.push((
                fields[1].chars().next().unwrap(),
                fields[2].parse().unwrap(),
                fields[3].parse().unwrap(),
                BTreeMap::new(),
            ));
            continue;
        }
        let support: u64 = fields[0].parse().unwrap();
        let items = fields[1..].iter().map(|f| f.parse().unwrap()).collect();
        blocks.last_mut().unwrap().3.insert(items, support);
    }
    blocks
}
