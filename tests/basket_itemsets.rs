//! Frequent itemsets against Borgelt's FIM programs (pyfim 6.28 `fpgrowth`)
//! on baskets generated here, against brute-force counting on random
//! baskets, and on bad input.

use std::collections::BTreeMap;

use custinsight::Error;
use custinsight::basket::{
    Baskets, Itemset, ItemsetKind, Itemsets, MinSupport, MiningParams, frequent_itemsets,
};
use proptest::prelude::*;

mod basket_data;

use basket_data::{fimi, lcg_baskets, pinned};

/// Itemsets as (sorted numeric items) → support.
fn by_items(baskets: &Baskets, found: &Itemsets) -> BTreeMap<Vec<u64>, u64> {
    found
        .itemsets
        .iter()
        .map(|s| {
            let mut items: Vec<u64> = s
                .items
                .iter()
                .map(|&i| baskets.item_name(i).parse().unwrap())
                .collect();
            items.sort_unstable();
            (items, s.support)
        })
        .collect()
}

#[test]
fn itemsets_equal_pyfim_fpgrowth_for_all_closed_and_maximal() {
    let baskets = Baskets::parse_fimi(&fimi(&lcg_baskets(400, 25, 7))).unwrap();
    let blocks = pinned();
    assert_eq!(blocks.len(), 9);
    for (target, supp, zmax, expected) in blocks {
        let params = MiningParams {
            // pyfim: a negative support is a count, a positive one a percentage.
            min_support: if supp < 0 {
                MinSupport::Count(supp.unsigned_abs())
            } else {
                MinSupport::Share(supp as f64 / 100.0)
            },
            max_len: (zmax > 0).then_some(zmax),
            kind: match target {
                's' => ItemsetKind::All,
                'c' => ItemsetKind::Closed,
                _ => ItemsetKind::Maximal,
            },
            ..MiningParams::default()
        };
        let found = by_items(&baskets, &frequent_itemsets(&baskets, &params).unwrap());
        assert!(expected.len() > 50, "{target} {supp} {zmax}");
        assert_eq!(found, expected, "target {target}, supp {supp}, zmax {zmax}");
    }
}

/// Every subset of every basket with its count, by brute force.
fn brute_force(baskets: &[Vec<u32>], min: u64) -> BTreeMap<Vec<u32>, u64> {
    let mut counts: BTreeMap<Vec<u32>, u64> = BTreeMap::new();
    for b in baskets {
        for mask in 1u32..(1 << b.len()) {
            let subset: Vec<u32> = (0..b.len())
                .filter(|&k| mask & (1 << k) != 0)
                .map(|k| b[k])
                .collect();
            *counts.entry(subset).or_default() += 1;
        }
    }
    counts.retain(|_, &mut c| c >= min);
    counts
}

fn as_map(found: &[Itemset]) -> BTreeMap<Vec<u32>, u64> {
    found.iter().map(|s| (s.items.clone(), s.support)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// All itemsets are the brute-force counts; closed and maximal are the
    /// ones no one-larger superset subsumes.
    #[test]
    fn itemsets_are_the_brute_force_counts(
        raw in prop::collection::vec(prop::collection::btree_set(0u32..9, 0..7), 1..40),
        min in 1u64..5,
    ) {
        let names: Vec<Vec<String>> = raw
            .iter()
            .map(|b| b.iter().map(|i| format!("i{i}")).collect())
            .collect();
        let baskets = Baskets::from_baskets(&names).unwrap();
        let coded: Vec<Vec<u32>> = (0..baskets.len()).map(|b| baskets.basket(b).to_vec()).collect();
        let expected = brute_force(&coded, min);
        let params = MiningParams { min_support: MinSupport::Count(min), ..MiningParams::default() };
        let all = frequent_itemsets(&baskets, &params).unwrap();
        prop_assert_eq!(as_map(&all.itemsets), expected.clone());
        let subsumed = |items: &Vec<u32>, same_support: bool| {
            expected.iter().any(|(sup, &c)| {
                sup.len() > items.len()
                    && items.iter().all(|i| sup.contains(i))
                    && (!same_support || c == expected[items])
            })
        };
        let closed = frequent_itemsets(&baskets, &MiningParams { kind: ItemsetKind::Closed, ..params.clone() }).unwrap();
        let want: BTreeMap<_, _> = expected.iter().filter(|(s, _)| !subsumed(s, true)).map(|(s, &c)| (s.clone(), c)).collect();
        prop_assert_eq!(as_map(&closed.itemsets), want);
        let maximal = frequent_itemsets(&baskets, &MiningParams { kind: ItemsetKind::Maximal, ..params.clone() }).unwrap();
        let want: BTreeMap<_, _> = expected.iter().filter(|(s, _)| !subsumed(s, false)).map(|(s, &c)| (s.clone(), c)).collect();
        prop_assert_eq!(as_map(&maximal.itemsets), want);
        // A length limit keeps exactly the shorter itemsets; closed ones are
        // judged against longer supersets too.
        let short = frequent_itemsets(&baskets, &MiningParams { max_len: Some(2), ..params.clone() }).unwrap();
        let want: BTreeMap<_, _> = expected.iter().filter(|(s, _)| s.len() <= 2).map(|(s, &c)| (s.clone(), c)).collect();
        prop_assert_eq!(as_map(&short.itemsets), want);
        let short_closed = frequent_itemsets(&baskets, &MiningParams { max_len: Some(2), kind: ItemsetKind::Closed, ..params }).unwrap();
        let want: BTreeMap<_, _> = as_map(&closed.itemsets).into_iter().filter(|(s, _)| s.len() <= 2).collect();
        prop_assert_eq!(as_map(&short_closed.itemsets), want);
    }
}

#[test]
fn supports_outside_their_range_are_refused() {
    let baskets = Baskets::parse_fimi("a b\nb c\n").unwrap();
    for bad in [
        MinSupport::Count(0),
        MinSupport::Share(0.0),
        MinSupport::Share(1.5),
        MinSupport::Share(f64::NAN),
    ] {
        let params = MiningParams {
            min_support: bad,
            ..MiningParams::default()
        };
        assert!(
            matches!(
                frequent_itemsets(&baskets, &params),
                Err(Error::InvalidParameter {
                    name: "min_support",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    let zero_len = MiningParams {
        max_len: Some(0),
        ..MiningParams::default()
    };
    assert!(matches!(
        frequent_itemsets(&baskets, &zero_len),
        Err(Error::InvalidParameter {
            name: "max_len",
            ..
        })
    ));
}

/// One basket of 100,000 items: every subset is frequent at a count of 1,
/// so the search stops at a budget and says how to narrow it.
#[test]
fn a_giant_basket_stops_at_the_budget() {
    let line: Vec<String> = (0..100_000).map(|i| format!("sku{i}")).collect();
    let baskets = Baskets::parse_fimi(&line.join(" ")).unwrap();
    assert_eq!(baskets.n_entries(), 100_000);
    let params = MiningParams {
        min_support: MinSupport::Count(1),
        max_itemsets: 200_000,
        max_memory_bytes: 64 << 20,
        ..MiningParams::default()
    };
    // The deep search runs out of its 64 MiB for tid-lists first.
    let err = frequent_itemsets(&baskets, &params).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Budget {
                what: "bytes of tid-lists",
                limit: 67_108_864,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("minimum support"), "{err}");
    // Pairs only, over the first 300 items: 300 + 300·299/2 itemsets, within budget.
    let small = Baskets::parse_fimi(&line[..300].join(" ")).unwrap();
    let pairs = MiningParams {
        max_len: Some(2),
        ..params.clone()
    };
    assert_eq!(
        frequent_itemsets(&small, &pairs).unwrap().itemsets.len(),
        300 + 300 * 299 / 2
    );
    // Triples over 300 items are 4.5 million: past the itemset budget.
    let triples = MiningParams {
        max_len: Some(3),
        ..params
    };
    assert!(matches!(
        frequent_itemsets(&small, &triples),
        Err(Error::Budget {
            what: "frequent itemsets",
            limit: 200_000,
            ..
        })
    ));
}

/// Empty baskets count towards shares but hold nothing; repeated items in
/// a basket and repeated lines count as the baskets they are.
#[test]
fn empty_baskets_repeats_and_duplicate_lines() {
    let baskets = Baskets::parse_fimi("a a b\n\n\na b\n").unwrap();
    assert_eq!(baskets.len(), 4);
    let found = frequent_itemsets(
        &baskets,
        &MiningParams {
            min_support: MinSupport::Share(0.5),
            ..MiningParams::default()
        },
    )
    .unwrap();
    // a, b and a+b are in 2 of the 4 baskets.
    assert_eq!(found.min_count, 2);
    assert_eq!(found.itemsets.len(), 3);
    assert!(found.itemsets.iter().all(|s| s.support == 2));
    let none =
        frequent_itemsets(&Baskets::parse_fimi("").unwrap(), &MiningParams::default()).unwrap();
    assert!(none.itemsets.is_empty());
}
