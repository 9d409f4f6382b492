//! The `dedupe` example's contract (issue 7), checked on the built binary:
//! `--pairs-out` has the header `left_id,right_id,match_probability` and, in
//! dedupe mode, each unordered pair once; `--json` has the keys records,
//! candidate_pairs, matches, entities, fit_seconds and settings.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

mod example_binary;

use example_binary::example_binary;

fn dedupe_binary() -> PathBuf {
    example_binary("dedupe")
}

fn scratch(name: &str) -> PathBuf {
    example_binary::scratch("dedupe", name)
}

/// Sixty records of twenty people, each written three times with small
/// variations, so there are matches, and chains of three (each pair of a
/// chain must still appear once).
fn write_records(path: &Path) {
    let given = [
        "Anna", "Bert", "Clara", "Dieter", "Eva", "Frank", "Greta", "Hans", "Ines", "Jonas",
    ];
    let family = ["Meier", "Schulz"];
    let mut csv = String::from("id,given_name,family_name,email,birth_date,city\n");
    for p in 0..20 {
        let (g, f) = (given[p % 10], family[p / 10]);
        let email = format!("{}.{}{p}@example.com", g.to_lowercase(), f.to_lowercase());
        let born = format!("19{}-0{}-1{}", 60 + p, 1 + p % 9, p % 10);
        let city = if p % 2 == 0 { "Berlin" } else { "Hamburg" };
        for copy in 0..3 {
            let given = match copy {
                0 => g.to_owned(),
                1 => g.to_uppercase(),
                _ => format!("{g} "),
            };
            let email = if copy == 2 {
                String::new()
            } else {
                email.clone()
            };
            csv.push_str(&format!(
                "{}-{copy},{given},{f},{email},{born},{city}\n",
                p * 3 + copy
            ));
        }
    }
    std::fs::write(path, csv).unwrap();
}

/// Runs `dedupe --left records --id-col id --auto --json OPTION path`, checks
/// that it succeeded and returns its JSON.
fn dedupe_json(
    records: &std::path::Path,
    option: &str,
    path: &std::path::Path,
) -> serde_json::Value {
    let output = Command::new(dedupe_binary())
        .arg("--left")
        .arg(records)
        .args(["--id-col", "id", "--auto", "--json", option])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn dedupe_writes_pairs_once_with_the_contract_header_and_json_keys() {
    let dir = scratch("contract");
    let (records, pairs) = (dir.join("records.csv"), dir.join("pairs.csv"));
    write_records(&records);
    let json = dedupe_json(&records, "--pairs-out", &pairs);
    for key in [
        "records",
        "candidate_pairs",
        "matches",
        "entities",
        "fit_seconds",
        "settings",
    ] {
        assert!(json.get(key).is_some(), "missing `{key}` in {json}");
    }
    assert_eq!(json["records"], 60);
    assert!(json["fit_seconds"].as_f64().unwrap() >= 0.0);
    assert!(json["settings"]["comparisons"].is_array());

    let text = std::fs::read_to_string(&pairs).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("left_id,right_id,match_probability"));
    let mut seen = HashSet::new();
    let ids: HashSet<String> = (0..60)
        .map(|r| format!("{}-{}", r / 3 * 3 + r % 3, r % 3))
        .collect();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 3, "{line}");
        let (a, b) = (fields[0].to_owned(), fields[1].to_owned());
        assert!(ids.contains(&a) && ids.contains(&b), "{line}");
        assert_ne!(a, b, "a record is not a pair with itself");
        let p: f64 = fields[2].parse().unwrap();
        assert!((0.5..=1.0).contains(&p), "{line}: below the threshold");
        let unordered = if a < b { (a, b) } else { (b, a) };
        assert!(seen.insert(unordered), "pair twice: {line}");
    }
    assert_eq!(seen.len() as u64, json["matches"].as_u64().unwrap());
    assert!(seen.len() >= 20, "the copies are found: {}", seen.len());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn dedupe_takes_reviewed_labels_for_m() {
    let dir = scratch("labels");
    let (records, labels) = (dir.join("records.csv"), dir.join("labels.csv"));
    write_records(&records);
    std::fs::write(
        &labels,
        "left_id,right_id,is_match\n0-0,1-1,1\n3-0,4-1,yes\n0-0,3-0,0\n6-0,8-2,true\n",
    )
    .unwrap();
    let json = dedupe_json(&records, "--labels", &labels);
    let sources: Vec<&str> = json["m_estimation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert!(sources.contains(&"labelled"), "{sources:?}");
    // An unknown id is an error with a message, not a panic.
    std::fs::write(&labels, "left_id,right_id,is_match\n0-0,nobody,1\n").unwrap();
    let output = Command::new(dedupe_binary())
        .arg("--left")
        .arg(&records)
        .args(["--id-col", "id", "--auto", "--labels"])
        .arg(&labels)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nobody"));
    std::fs::remove_dir_all(&dir).ok();
}
