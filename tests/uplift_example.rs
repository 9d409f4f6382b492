//! The `uplift` example's contract (issue 19), checked on the built binary:
//! `--treatment-col` with 0/1 or, with `--control`, variant names;
//! `--learner t|x|dr`; `--score` with `--scores-out` writes `id,uplift`; the
//! JSON has `qini_validation`, `auuc_validation` and `fit_seconds`; three
//! treatment values without `--control` and an experiment without treated
//! units are refused on stderr.

use std::fmt::Write as _;

use serde_json::Value;

mod example_binary;

use example_binary::{run_example, scratch};

/// 4,000 units: two features, an arm, and an outcome whose effect is
/// large where `age_band` is high and nil elsewhere. `arms` names the arms
/// (the first is the control); `numeric` makes the outcome revenue.
fn experiment_csv(arms: &[&str], numeric: bool) -> String {
    let mut csv = String::from("customer_id,age_band,visits,arm,outcome\n");
    let mut state = 23u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / 9007199254740992.0
    };
    for i in 0..4000 {
        let age_band = (next() * 5.0).floor();
        let visits = (next() * 10.0).floor();
        let k = i % arms.len();
        let effect = if age_band >= 3.0 {
            0.25 * k as f64
        } else {
            0.0
        };
        let p = 0.1 + 0.02 * visits + effect;
        let outcome = if numeric {
            format!("{:.2}", 40.0 * p + 5.0 * next())
        } else {
            u8::from(next() < p).to_string()
        };
        writeln!(csv, "u{i},{age_band},{visits},{},{outcome}", arms[k]).unwrap();
    }
    csv
}

fn run(args: &[&str]) -> (bool, Value, String) {
    run_example("uplift", args)
}

#[test]
fn a_binary_experiment_is_fitted_validated_and_scored() {
    let dir = scratch("uplift", "binary");
    let input = dir.join("experiment.csv");
    std::fs::write(&input, experiment_csv(&["0", "1"], false)).unwrap();
    let scores = dir.join("uplift.csv");
    let p = |p: &std::path::Path| p.display().to_string();
    for learner in ["t", "x", "dr"] {
        let (ok, json, stderr) = run(&[
            "--train",
            &p(&input),
            "--treatment-col",
            "arm",
            "--outcome-col",
            "outcome",
            "--id-col",
            "customer_id",
            "--learner",
            learner,
            "--score",
            &p(&input),
            "--scores-out",
            &p(&scores),
            "--value",
            "10",
            "--cost",
            "1",
            "--json",
        ]);
        assert!(ok, "{learner}: {stderr}");
        let qini = json["qini_validation"].as_f64().unwrap();
        let area = json["auuc_validation"].as_f64().unwrap();
        // A random order scores about 0; the effect sits in two of five age bands.
        assert!(
            qini > 0.1 && area > 0.1,
            "{learner}: Qini {qini}, AUUC {area}"
        );
        assert!(json["fit_seconds"].as_f64().unwrap() >= 0.0);
        assert_eq!(json["n_features"], 2);
        assert_eq!(json["rows"]["accepted"], 4000);
        let policy = &json["treatments"][0]["policy"];
        assert!(
            policy["profitable"]["profit"].as_f64().unwrap()
                > policy["everyone"]["profit"].as_f64().unwrap()
        );
    }
    let text = std::fs::read_to_string(&scores).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,uplift"));
    let rows: Vec<(String, f64)> = lines
        .map(|l| {
            let (id, u) = l.split_once(',').unwrap();
            (id.to_string(), u.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 4000);
    assert_eq!(rows[0].0, "u0");
}

#[test]
fn variant_names_with_a_control_give_one_uplift_per_treatment() {
    let dir = scratch("uplift", "variants");
    let input = dir.join("experiment.csv");
    std::fs::write(
        &input,
        experiment_csv(&["control", "coupon", "gift"], false),
    )
    .unwrap();
    let scores = dir.join("uplift.csv");
    let p = |p: &std::path::Path| p.display().to_string();
    let args = [
        "--train",
        &p(&input),
        "--treatment-col",
        "arm",
        "--outcome-col",
        "outcome",
        "--score",
        &p(&input),
        "--scores-out",
        &p(&scores),
        "--json",
    ];
    // Three values without --control: refused, naming the column.
    let (ok, _, stderr) = run(&args);
    assert!(!ok);
    assert!(
        stderr.contains("`arm`") && stderr.contains("--control"),
        "{stderr}"
    );
    let mut with_control = args.to_vec();
    with_control.extend(["--control", "control"]);
    let (ok, json, stderr) = run(&with_control);
    assert!(ok, "{stderr}");
    let names: Vec<&str> = json["treatments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["treatment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["coupon", "gift"]);
    // The gift's effect is twice the coupon's.
    let mean = |k: usize| json["treatments"][k]["mean_uplift"].as_f64().unwrap();
    assert!(mean(1) > 1.5 * mean(0), "{} vs {}", mean(1), mean(0));
    let header = std::fs::read_to_string(&scores).unwrap();
    assert_eq!(
        header.lines().next(),
        Some("id,uplift,best_treatment,uplift_coupon,uplift_gift")
    );
    // An unknown control is refused.
    let mut unknown = args.to_vec();
    unknown.extend(["--control", "nobody"]);
    let (ok, _, stderr) = run(&unknown);
    assert!(!ok && stderr.contains("nobody"), "{stderr}");
}

#[test]
fn numeric_outcomes_and_experiments_without_treated_units() {
    let dir = scratch("uplift", "numeric");
    let input = dir.join("experiment.csv");
    std::fs::write(&input, experiment_csv(&["0", "1"], true)).unwrap();
    let p = input.display().to_string();
    let base = [
        "--train",
        &p,
        "--treatment-col",
        "arm",
        "--outcome-col",
        "outcome",
        "--json",
    ];
    let (ok, json, stderr) = run(&base);
    assert!(ok, "{stderr}");
    assert_eq!(json["outcome"], "continuous");
    assert!(json["qini_validation"].is_null());
    // Revenue rises by 40 × 0.25 = 10 where the effect is: the mean is positive.
    assert!(json["treatments"][0]["mean_uplift"].as_f64().unwrap() > 2.0);
    let none = dir.join("none.csv");
    std::fs::write(&none, experiment_csv(&["0"], false)).unwrap();
    let q = none.display().to_string();
    let (ok, _, stderr) = run(&[
        "--train",
        &q,
        "--treatment-col",
        "arm",
        "--outcome-col",
        "outcome",
    ]);
    assert!(!ok);
    assert!(stderr.contains("treated units"), "{stderr}");
    assert!(stderr.contains("column `arm`"), "{stderr}");
}
