//! The `basket` example's contract (issue 20), checked on the built binary:
//! CSV `order_id,item` and FIMI input, `--min-support`, `--min-confidence`,
//! `--max-len`, `--closed|--maximal`, `--itemsets-out` (`support_count,items`,
//! items ascending), `--rules-out` (`antecedent,consequent,support,
//! confidence,lift`), and the JSON keys `baskets`, `items`, `itemsets`,
//! `rules`, `mine_seconds`, `rows: {read, accepted, rejected}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

mod basket_data;
mod example_binary;

use basket_data::{fimi, lcg_baskets, pinned};
use example_binary::{run_example, scratch};

fn read_itemsets(path: &std::path::Path) -> BTreeMap<Vec<u64>, u64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("support_count,items"));
    lines
        .map(|l| {
            let (count, items) = l.split_once(',').unwrap();
            let items: Vec<u64> = items.split(' ').map(|i| i.parse().unwrap()).collect();
            assert!(items.windows(2).all(|w| w[0] < w[1]), "ascending: {l}");
            (items, count.parse().unwrap())
        })
        .collect()
}

/// FIMI in, itemsets out equal to pyfim's for all, closed and maximal, at
/// the pinned minimum support of 5 %.
#[test]
fn fimi_itemsets_equal_pyfim() {
    let dir = scratch("basket", "fimi");
    let input = dir.join("lcg.dat");
    std::fs::write(&input, fimi(&lcg_baskets(400, 25, 7))).unwrap();
    let blocks = pinned();
    for (flag, target) in [
        (None, 's'),
        (Some("--closed"), 'c'),
        (Some("--maximal"), 'm'),
    ] {
        let out = dir.join(format!("itemsets-{target}.csv"));
        let mut args = vec![
            "--baskets",
            input.to_str().unwrap(),
            "--format",
            "fimi",
            "--min-support",
            "0.05",
            "--itemsets-out",
            out.to_str().unwrap(),
            "--json",
        ];
        args.extend(flag);
        let (ok, json, stderr) = run_example("basket", &args);
        assert!(ok, "{stderr}");
        let expected = &blocks.iter().find(|b| b.0 == target && b.1 == 5).unwrap().3;
        assert_eq!(&read_itemsets(&out), expected, "{target}");
        assert_eq!(json["itemsets"], expected.len());
        assert_eq!(json["baskets"], 400);
        assert_eq!(json["rows"]["read"], 400);
        assert_eq!(json["rows"]["accepted"], 400);
        assert_eq!(json["rows"]["rejected"], 0);
        assert!(json["mine_seconds"].as_f64().unwrap() >= 0.0);
        assert!(json["items"].as_u64().unwrap() >= 20);
    }
}

/// CSV in: orders spread over the file, an item repeated in an order, a row
/// without an item rejected with its line; rules written with their figures.
#[test]
fn csv_baskets_rules_and_rejected_rows() {
    let dir = scratch("basket", "csv");
    let input = dir.join("orders.csv");
    let mut csv = String::from("order_id,item\n");
    for o in 0..200 {
        // Printer buyers take ink; everyone may take paper.
        if o % 4 == 0 {
            writeln!(csv, "o{o},printer\no{o},ink\no{o},ink").unwrap();
        }
        if o % 3 == 0 {
            writeln!(csv, "o{o},paper").unwrap();
        }
        writeln!(csv, "o{o},pen").unwrap();
    }
    csv.push_str("o5,\n");
    std::fs::write(&input, &csv).unwrap();
    let rules_out = dir.join("rules.csv");
    let (ok, json, stderr) = run_example(
        "basket",
        &[
            "--baskets",
            input.to_str().unwrap(),
            "--min-support",
            "0.1",
            "--min-confidence",
            "0.9",
            "--max-len",
            "2",
            "--rules-out",
            rules_out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(ok, "{stderr}");
    let rows = csv.lines().count() as u64 - 1;
    assert_eq!(json["rows"]["read"], rows);
    assert_eq!(json["rows"]["rejected"], 1);
    assert_eq!(json["rows"]["accepted"], rows - 1);
    assert_eq!(json["rows"]["rejections"][0]["field"], "item");
    assert_eq!(json["baskets"], 200);
    assert_eq!(json["items"], 4);
    let rules = std::fs::read_to_string(&rules_out).unwrap();
    let mut lines = rules.lines();
    assert_eq!(
        lines.next(),
        Some("antecedent,consequent,support,confidence,lift")
    );
    // printer → ink and ink → printer: 50 of 200 baskets, confidence 1, lift 4.
    let body: Vec<&str> = lines.collect();
    assert!(body.contains(&"ink,printer,0.25,1,4"), "{rules}");
    assert!(body.contains(&"printer,ink,0.25,1,4"), "{rules}");
    // Every basket has a pen: pen is in no rule with a lift above 1, and the
    // rules pass the significance filter only when they are real.
    assert_eq!(json["rules"], body.len());
}

#[test]
fn bad_input_exits_with_a_message() {
    let dir = scratch("basket", "bad");
    let input = dir.join("bad.dat");
    std::fs::write(&input, b"a b\n\xff\xfe c\na c\n").unwrap();
    let (ok, json, stderr) = run_example(
        "basket",
        &[
            "--baskets",
            input.to_str().unwrap(),
            "--min-support",
            "0.5",
            "--json",
        ],
    );
    assert!(ok, "{stderr}");
    assert_eq!(json["rows"]["read"], 3);
    assert_eq!(json["rows"]["rejected"], 1);
    assert_eq!(json["rows"]["rejections"][0]["line"], 2);
    for support in ["0", "1.5"] {
        let (ok, json, stderr) = run_example(
            "basket",
            &[
                "--baskets",
                input.to_str().unwrap(),
                "--min-support",
                support,
            ],
        );
        assert!(!ok && json.is_null());
        assert!(stderr.contains("min_support"), "{stderr}");
    }
    let (ok, _, stderr) = run_example("basket", &["--baskets", "/no/such/file.csv"]);
    assert!(!ok);
    assert!(stderr.starts_with("error: "), "{stderr}");
}
