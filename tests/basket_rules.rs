//! Association rules against mlxtend 0.25's `association_rules` and scipy's
//! one-sided Fisher test (pinned in `data/basket/mlxtend_rules.txt`, made by
//! `ref_mlxtend.py`, printed in BENCHMARKS.md), and the significance filter
//! on baskets without any association.

use custinsight::Error;
use custinsight::basket::{
    Baskets, ItemsetKind, MinSupport, MiningParams, RuleParams, association_rules,
    frequent_itemsets,
};

mod basket_data;

use basket_data::{fimi, lcg, lcg_baskets};

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * b.abs().max(1e-300)
}

#[test]
fn rules_equal_mlxtend_and_p_values_equal_scipy() {
    let baskets = Baskets::parse_fimi(&fimi(&lcg_baskets(400, 25, 7))).unwrap();
    let itemsets = frequent_itemsets(
        &baskets,
        &MiningParams {
            min_support: MinSupport::Share(0.05),
            ..MiningParams::default()
        },
    )
    .unwrap();
    let rules = association_rules(
        &itemsets,
        &RuleParams {
            min_confidence: 0.3,
            min_lift: None,
            max_fdr: None,
        },
    )
    .unwrap();
    let names = |codes: &[u32]| -> String {
        let mut v: Vec<u64> = codes
            .iter()
            .map(|&c| baskets.item_name(c).parse().unwrap())
            .collect();
        v.sort_unstable();
        v.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
    };
    let text = include_str!("data/basket/mlxtend_rules.txt");
    let expected: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('|').collect())
        .collect();
    assert_eq!(rules.rules.len(), expected.len());
    assert!(expected.len() >= 30);
    for e in &expected {
        let r = rules
            .rules
            .iter()
            .find(|r| names(&r.antecedent) == e[0] && names(&r.consequent) == e[1])
            .unwrap_or_else(|| panic!("no rule {} -> {}", e[0], e[1]));
        let want: Vec<f64> = e[2..].iter().map(|v| v.parse().unwrap()).collect();
        let got = [
            r.support,
            r.confidence,
            r.lift,
            r.leverage,
            r.conviction,
            r.zhang,
            r.p_value,
        ];
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                close(*g, *w),
                "{} -> {} measure {k}: {g} vs {w}",
                e[0],
                e[1]
            );
        }
    }
    // The planted 3 → 7 is the strongest and significant after adjustment.
    let planted = &rules.rules[0];
    assert_eq!(
        (names(&planted.antecedent), names(&planted.consequent)),
        ("3".into(), "7".into())
    );
    assert!(planted.q_value < 1e-12);
}

/// Items drawn independently: lifts above 1 happen, but at a 5 % false
/// discovery rate nearly no rule survives, while without the filter many
/// pass the confidence threshold.
#[test]
fn chance_rules_do_not_survive_the_significance_filter() {
    let mut next = lcg(99);
    let mut text = String::new();
    for _ in 0..2_000 {
        let items: Vec<String> = (0..12)
            .filter(|_| next() % 3 == 0)
            .map(|i| format!("i{i}"))
            .collect();
        text.push_str(&items.join(" "));
        text.push('\n');
    }
    let baskets = Baskets::parse_fimi(&text).unwrap();
    let itemsets = frequent_itemsets(
        &baskets,
        &MiningParams {
            min_support: MinSupport::Share(0.02),
            ..MiningParams::default()
        },
    )
    .unwrap();
    let loose = RuleParams {
        min_confidence: 0.3,
        min_lift: Some(1.0),
        max_fdr: None,
    };
    let all = association_rules(&itemsets, &loose).unwrap();
    let significant = association_rules(
        &itemsets,
        &RuleParams {
            max_fdr: Some(0.05),
            ..loose
        },
    )
    .unwrap();
    assert!(all.rules.len() > 100, "{} rules", all.rules.len());
    assert!(
        significant.rules.len() * 100 <= all.rules.len(),
        "{} of {} rules significant by chance",
        significant.rules.len(),
        all.rules.len()
    );
    assert!(all.rules.iter().all(|r| r.q_value >= r.p_value));
}

#[test]
fn bad_settings_and_closed_itemsets_are_refused() {
    let baskets = Baskets::parse_fimi("a b\na b\nb c\n").unwrap();
    let all = frequent_itemsets(
        &baskets,
        &MiningParams {
            min_support: MinSupport::Count(1),
            ..MiningParams::default()
        },
    )
    .unwrap();
    for (bad, name) in [
        (
            RuleParams {
                min_confidence: 1.5,
                ..RuleParams::default()
            },
            "min_confidence",
        ),
        (
            RuleParams {
                min_lift: Some(f64::NAN),
                ..RuleParams::default()
            },
            "min_lift",
        ),
        (
            RuleParams {
                max_fdr: Some(0.0),
                ..RuleParams::default()
            },
            "max_fdr",
        ),
    ] {
        assert!(
            matches!(association_rules(&all, &bad), Err(Error::InvalidParameter { name: n, .. }) if n == name),
            "{name}"
        );
    }
    let closed = frequent_itemsets(
        &baskets,
        &MiningParams {
            min_support: MinSupport::Count(1),
            kind: ItemsetKind::Closed,
            ..MiningParams::default()
        },
    )
    .unwrap();
    assert!(matches!(
        association_rules(&closed, &RuleParams::default()),
        Err(Error::InvalidInput(_))
    ));
}
