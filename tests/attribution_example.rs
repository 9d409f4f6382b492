//! The `attribution` example's contract (issue 18), checked on the built
//! binary: `--models` chooses the models, the JSON has `seconds` per model
//! run and, with `causal`, `effects` per channel with `effect`, `low`,
//! `high` and `incremental_conversions`; the causal model reads touchpoints,
//! orders and covariates (with a holdout column) and refuses a path table.

use std::path::Path;

use custinsight::synth::{Population, SynthParams};
use serde_json::Value;

mod example_binary;

use example_binary::{run_example, scratch};

/// A synthetic population's touchpoints and orders, and covariates: the
/// persona, a tenure and every third customer marked as held out.
fn write_inputs(dir: &Path) -> usize {
    let pop = Population::generate(&SynthParams::with_customers(1_500).with_seed(4)).unwrap();
    pop.write_csv(dir).unwrap();
    let mut csv = String::from("customer_id,persona,tenure_weeks,holdout\n");
    for c in 0..pop.base.n_customers() as u32 {
        let persona = &pop.truth.persona_names[pop.truth.persona[c as usize] as usize];
        let tenure = 104.0 - pop.truth.first_purchase_week[c as usize];
        let holdout = if c % 3 == 0 { "true" } else { "false" };
        csv.push_str(&format!(
            "{},{persona},{tenure:.1},{holdout}\n",
            pop.base.customer_id(c)
        ));
    }
    std::fs::write(dir.join("covariates.csv"), csv).unwrap();
    // The example's base holds the customers its touchpoints and orders name:
    // prospects who never engaged are in the covariates only.
    (0..pop.base.n_customers() as u32)
        .filter(|&c| {
            !pop.base.transaction_range(c).is_empty() || !pop.base.touchpoint_range(c).is_empty()
        })
        .count()
}

fn run(args: &[&str]) -> (bool, Value, String) {
    run_example("attribution", args)
}

#[test]
fn every_model_reports_its_seconds_and_causal_its_effects() {
    let dir = scratch("attribution", "all");
    let active = write_inputs(&dir);
    let path = |f: &str| dir.join(f).display().to_string();
    let (tp, tx, cov) = (
        path("touchpoints.csv"),
        path("transactions.csv"),
        path("covariates.csv"),
    );
    let args = [
        "--touchpoints",
        &tp,
        "--transactions",
        &tx,
        "--covariates",
        &cov,
        "--holdout-col",
        "holdout",
        "--bootstrap",
        "40",
        "--json",
    ];
    let (ok, json, stderr) = run(&args);
    assert!(ok, "{stderr}");
    let seconds = json["seconds"].as_object().unwrap();
    for model in ["heuristics", "markov", "shapley", "causal"] {
        assert!(seconds[model].as_f64().unwrap() >= 0.0, "{model}");
    }
    let effects = json["effects"].as_object().unwrap();
    let mut estimated = 0;
    for (channel, e) in effects {
        for key in ["effect", "low", "high", "incremental_conversions"] {
            assert!(e.get(key).is_some(), "{channel}: {key}");
        }
        match e["effect"].as_f64() {
            Some(effect) => {
                estimated += 1;
                let (low, high) = (e["low"].as_f64().unwrap(), e["high"].as_f64().unwrap());
                assert!(low <= effect && effect <= high, "{channel}: {e}");
            }
            // No effect without a reason.
            None => assert!(e["note"].is_string(), "{channel}: {e}"),
        }
    }
    assert!(estimated >= 8, "{effects:?}");
    // Adjusted for whether the customer had bought before, the persona (three
    // dummies) and the tenure (nine deciles beside the reference one), each
    // level with its own returning shift.
    let covariates = json["causal"]["covariates"].as_array().unwrap();
    assert_eq!(covariates.len(), 25, "{covariates:?}");
    assert_eq!(covariates[0], "returning customer");
    let named = |prefix: &str, shifted: bool| {
        covariates
            .iter()
            .map(|c| c.as_str().unwrap())
            .filter(|c| c.starts_with(prefix) && c.ends_with("× returning customer") == shifted)
            .count()
    };
    assert_eq!(
        (named("persona=", false), named("tenure_weeks", false)),
        (3, 9)
    );
    assert_eq!(
        (named("persona=", true), named("tenure_weeks", true)),
        (3, 9)
    );
    let holdout = &json["holdout"];
    assert_eq!(
        holdout["exposed"].as_u64().unwrap() + holdout["held_out"].as_u64().unwrap(),
        active as u64
    );
    assert!(
        active < 1_500,
        "prospects without activity are not in the data"
    );
    // Credit models are still there, per channel.
    let channels = json["channels"].as_object().unwrap();
    assert!(
        channels
            .values()
            .all(|c| c.get("markov").is_some() && c.get("shapley").is_some())
    );
}

#[test]
fn models_choose_what_runs_and_causal_needs_journeys() {
    let dir = scratch("attribution", "models");
    write_inputs(&dir);
    let tp = dir.join("touchpoints.csv").display().to_string();
    let (ok, json, stderr) = run(&["--touchpoints", &tp, "--models", "markov", "--json"]);
    assert!(ok, "{stderr}");
    let seconds = json["seconds"].as_object().unwrap();
    assert_eq!(seconds.keys().collect::<Vec<_>>(), ["markov"]);
    assert!(json.get("effects").is_none());
    let channels = json["channels"].as_object().unwrap();
    assert!(channels.values().all(|c| c.get("markov").is_some()
        && c.get("shapley").is_none()
        && c.get("first_touch").is_none()));

    let paths = dir.join("paths.csv");
    std::fs::write(
        &paths,
        "path,total_conversions,total_null\nemail > web,3,5\nweb,1,4\n",
    )
    .unwrap();
    let paths = paths.display().to_string();
    let (ok, json, _) = run(&["--paths", &paths, "--json"]);
    assert!(ok);
    let models: Vec<&str> = json["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(models, ["heuristics", "markov", "shapley"]);
    let (ok, _, stderr) = run(&["--paths", &paths, "--models", "causal", "--json"]);
    assert!(!ok);
    assert!(
        stderr.starts_with("error:") && stderr.contains("--touchpoints"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["--touchpoints", &tp, "--models", "nonsense"]);
    assert!(!ok, "{stderr}");
}
