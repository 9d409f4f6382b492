//! The `propensity` example's contract (issue 19), checked on the built
//! binary: `--model logistic|gbm` with `--trees`, `--max-depth` and
//! `--learning-rate`; every other numeric column a feature; `--score` with
//! `--scores-out` writes `id,score`; `--model-out` writes the model; the JSON
//! has `auc_validation`, `fit_seconds`, `n_features` and `rows: {read,
//! accepted, rejected}`; bad rows are rejected with line and field.

use std::fmt::Write as _;

use custinsight::target::propensity::Propensity;
use serde_json::Value;

mod example_binary;

use example_binary::{run_example, scratch};

/// 2,000 customers: recency, frequency, a text segment, a blank-prone
/// tenure, and whether they bought; buyers are recent and frequent.
fn training_csv(bad_rows: bool) -> String {
    let mut csv =
        String::from("customer_id,recency_days,orders_365d,segment,tenure_weeks,bought\n");
    let mut state = 17u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / 9007199254740992.0
    };
    for i in 0..2000 {
        let recency = (next() * 180.0).floor();
        let orders = (next() * 12.0).floor();
        let eta = 1.0 - recency / 40.0 + orders / 4.0;
        let bought = next() < 1.0 / (1.0 + (-eta).exp());
        let segment = ["loyal", "new", "lapsed"][i % 3];
        let tenure = if i % 10 == 0 {
            String::new()
        } else {
            format!("{}", 10 + i % 90)
        };
        writeln!(
            csv,
            "c{i},{recency},{orders},{segment},{tenure},{}",
            u8::from(bought)
        )
        .unwrap();
    }
    if bad_rows {
        csv.push_str("c-bad-1,abc,3,new,12,1\n");
        csv.push_str("c-bad-2,20,3,new,12,maybe\n");
    }
    csv
}

fn run(args: &[&str]) -> (bool, Value, String) {
    run_example("propensity", args)
}

#[test]
fn boosted_trees_fit_validate_score_and_persist() {
    let dir = scratch("propensity", "gbm");
    let train = dir.join("train.csv");
    std::fs::write(&train, training_csv(true)).unwrap();
    let (scores, model) = (dir.join("scores.csv"), dir.join("model.json"));
    let p = |p: &std::path::Path| p.display().to_string();
    let (ok, json, stderr) = run(&[
        "--train",
        &p(&train),
        "--label-col",
        "bought",
        "--id-col",
        "customer_id",
        "--model",
        "gbm",
        "--trees",
        "40",
        "--max-depth",
        "3",
        "--learning-rate",
        "0.2",
        "--score",
        &p(&train),
        "--scores-out",
        &p(&scores),
        "--model-out",
        &p(&model),
        "--calibrate",
        "isotonic",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    // A quarter of the 1,600 training rows calibrates: 1,200 fit the trees.
    assert_eq!(json["calibration"]["method"], "isotonic");
    assert_eq!(json["calibration"]["rows"], 400);
    assert_eq!(json["train_rows"], 1200);
    // The segment is text: ignored; tenure has blanks: a feature (trees take missing values).
    assert_eq!(json["n_features"], 3);
    assert_eq!(json["ignored_columns"], serde_json::json!(["segment"]));
    let rows = &json["rows"];
    assert_eq!(
        (
            rows["read"].as_u64(),
            rows["accepted"].as_u64(),
            rows["rejected"].as_u64()
        ),
        (Some(2002), Some(2000), Some(2))
    );
    let rejected: Vec<(u64, &str)> = rows["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, [(2002, "recency_days"), (2003, "bought")]);
    let auc = json["auc_validation"].as_f64().unwrap();
    assert!(auc > 0.75 && auc < 1.0, "validation AUC {auc}");
    assert!(json["fit_seconds"].as_f64().unwrap() >= 0.0);
    // Scores: a header, then one row per accepted row, ids as given,
    // probabilities. Scoring needs no label: only the row with "abc" is refused.
    assert_eq!(json["scored"]["rejected"], 1);
    let text = std::fs::read_to_string(&scores).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,score"));
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), 2001);
    assert!(body[2000].starts_with("c-bad-2,"));
    assert!(body[0].starts_with("c0,"));
    assert!(body.iter().all(|l| {
        let s: f64 = l.split(',').nth(1).unwrap().parse().unwrap();
        (0.0..=1.0).contains(&s)
    }));
    // The model file scores like the run did.
    let back: Propensity = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(
        back.feature_names(),
        ["recency_days", "orders_365d", "tenure_weeks"]
    );
}

#[test]
fn logistic_rejects_blank_features_and_names_rows_by_line() {
    let dir = scratch("propensity", "logistic");
    let train = dir.join("train.csv");
    std::fs::write(&train, training_csv(false)).unwrap();
    let scores = dir.join("scores.csv");
    let p = |p: &std::path::Path| p.display().to_string();
    let (ok, json, stderr) = run(&[
        "--train",
        &p(&train),
        "--label-col",
        "bought",
        "--score",
        &p(&train),
        "--scores-out",
        &p(&scores),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    // Without an id column the customer ids are text: ignored too.
    assert_eq!(json["model"], "logistic");
    assert_eq!(json["n_features"], 3);
    // Every tenth row has a blank tenure: rejected for logistic regression.
    assert_eq!(json["rows"]["rejected"], 200);
    assert_eq!(json["rows"]["rejections"][0]["field"], "tenure_weeks");
    assert!(json["auc_validation"].as_f64().unwrap() > 0.75);
    let text = std::fs::read_to_string(&scores).unwrap();
    let first = text.lines().nth(1).unwrap();
    // The first data row (line 2) has a blank tenure; line 3 is the first scored.
    assert!(first.starts_with("3,"), "{first}");
    assert_eq!(json["scored"]["accepted"], 1800);
}

#[test]
fn bad_invocations_fail_on_stderr() {
    let dir = scratch("propensity", "bad");
    let train = dir.join("train.csv");
    std::fs::write(&train, "id,segment,bought\na,x,1\nb,y,0\n").unwrap();
    let p = train.display().to_string();
    let (ok, _, stderr) = run(&["--train", &p, "--label-col", "bought"]);
    assert!(!ok);
    assert!(stderr.contains("no numeric feature columns"), "{stderr}");
    let (ok, _, stderr) = run(&["--train", &p, "--label-col", "nope"]);
    assert!(!ok);
    assert!(stderr.contains("nope"), "{stderr}");
    // A label with one class: the error names the label column.
    let one_class = dir.join("one_class.csv");
    let rows: String = (0..200).map(|i| format!("c{i},{},0\n", i % 17)).collect();
    std::fs::write(&one_class, format!("id,recency,bought\n{rows}")).unwrap();
    let q = one_class.display().to_string();
    for model in ["logistic", "gbm"] {
        let (ok, json, stderr) = run(&[
            "--train",
            &q,
            "--label-col",
            "bought",
            "--id-col",
            "id",
            "--model",
            model,
            "--json",
        ]);
        assert!(!ok && json.is_null(), "{model}");
        assert!(stderr.contains("column `bought`"), "{model}: {stderr}");
        assert!(stderr.contains("positive"), "{model}: {stderr}");
    }
    // --score without --scores-out is refused by the argument parser.
    let (ok, _, _) = run(&["--train", &p, "--label-col", "bought", "--score", &p]);
    assert!(!ok);
}
