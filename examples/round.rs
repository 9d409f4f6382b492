//! One round of the customer loop from files, as a nightly job runs it.
//!
//! ```text
//! cargo run --release --example round -- --data DIR [--state FILE] [--as-of TIMESTAMP] [--out DIR] [--json]
//! ```
//!
//! Reads `customers.csv`, `source_records.csv`, `transactions.csv`,
//! `touchpoints.csv`, `consents.csv` and, when present, `experiment.csv`
//! (each may also be `.jsonl`) from `--data` through the library's readers,
//! every row accounted for; resolves the customers, scores their lifecycle
//! and value, segments them, evaluates the last experiment per segment,
//! decides per segment and assigns the next round. With `--state FILE`, an
//! existing state is continued (new records attach to existing customers
//! with stable ids, segments are refitted keeping their ids, the next
//! assignment uses the decisions) and the new state is written back. With
//! `--out DIR`, `customers_out.csv` is written there: `customer_id,
//! source_keys, p_alive, expected_purchases, clv, stage, play, segment,
//! segment_name, next_variant`.
//!
//! `--json` prints one object: `round`, `as_of`, `files` (per file `kind`,
//! `path`, `rows: {read, accepted, rejected}` and its first rejections with
//! line, field and reason), `steps` (per step `step`, `seconds`, `in`, `out`
//! and, on Linux, `peak_rss_bytes`), `identity`, `lifecycle`, `segments`,
//! `evaluation`, `decisions`, `targeting` (when the parameters' targeting
//! plan assigned by the next best action: `uplift_source`, `trained_units`,
//! `offered`, `held_out_control`; else null), `assignment`, `state` and
//! `customers_out`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use serde_json::json;

#[path = "common/mod.rs"]
mod common;

use custinsight::Error;
use custinsight::ingest::IngestOptions;
use custinsight::lifecycle::stage::Stage;
use custinsight::round::{Inputs, Round, RoundParams, RoundState, StepTime};

/// Run one round of the loop on a folder of source files.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Folder with source_records, customers, transactions, touchpoints,
    /// consents and (optionally) experiment files (.csv or .jsonl).
    #[arg(long)]
    data: PathBuf,
    /// The round's state: continued when the file exists, written after the round.
    #[arg(long)]
    state: Option<PathBuf>,
    /// The round's time (RFC 3339); default: `as_of` of DIR/observation.json, else now.
    #[arg(long)]
    as_of: Option<String>,
    /// Write customers_out.csv into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Parameters of the round as JSON (a `RoundParams`); default: a continued
    /// state's, else DIR/params.json, else the library's.
    #[arg(long)]
    params: Option<PathBuf>,
    /// Print one JSON object on stdout instead of the text summary.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

/// The process's peak resident memory since the last reset (Linux; `None` elsewhere).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Starts a new peak-memory window (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn as_of(args: &Args) -> custinsight::Result<jiff::Timestamp> {
    if let Some(text) = &args.as_of {
        return text
            .parse()
            .map_err(|e| Error::InvalidInput(format!("--as-of `{text}`: {e}")));
    }
    let path = args.data.join("observation.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let value: serde_json::Value = serde_json::from_str(&text)?;
        if let Some(t) = value
            .get("as_of")
            .or_else(|| value.get("observation_end"))
            .and_then(|v| v.as_str())
        {
            return t
                .parse()
                .map_err(|e| Error::InvalidInput(format!("{}: as_of `{t}`: {e}", path.display())));
        }
    }
    Ok(jiff::Timestamp::now())
}

fn params(path: Option<&Path>) -> custinsight::Result<RoundParams> {
    match path {
        None => Ok(RoundParams::default()),
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| Error::io(p.display().to_string(), e))?;
            Ok(serde_json::from_str(&text)?)
        }
    }
}

fn run(args: &Args) -> custinsight::Result<()> {
    let as_of = as_of(args)?;
    let previous = match &args.state {
        Some(p) if p.exists() => Some(RoundState::load(p)?),
        _ => None,
    };
    // Given parameters, else a continued round's own, else DIR/params.json, else the defaults.
    let in_dir = args.data.join("params.json");
    let params = match (&args.params, &previous) {
        (Some(p), _) => params(Some(p))?,
        (None, Some(state)) => state.params.clone(),
        (None, None) if in_dir.is_file() => params(Some(&in_dir))?,
        (None, None) => params(None)?,
    };
    reset_peak();
    let read_started = Instant::now();
    let inputs = Inputs::read_dir(&args.data, &IngestOptions::default())?;
    let read = StepTime {
        step: "read".into(),
        seconds: read_started.elapsed().as_secs_f64(),
    };
    let read_peak = peak_rss();
    let files = inputs.files.clone();
    let records_in = inputs.records.len();
    let events_in = inputs.events.n_customers();
    let units_in = inputs.outcomes.as_ref().map_or(0, |o| o.len());
    let mut peaks: Vec<Option<u64>> = vec![read_peak];
    reset_peak();
    let round = Round::run_observed(inputs, as_of, &params, previous, &mut |_| {
        peaks.push(peak_rss());
        reset_peak();
    })?;
    if let Some(path) = &args.state {
        round.state.save(path)?;
    }
    let customers_out = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
            let path = dir.join("customers_out.csv");
            let file = std::fs::File::create(&path)
                .map_err(|e| Error::io(path.display().to_string(), e))?;
            round.write_customers_csv(std::io::BufWriter::new(file))?;
            Some(path)
        }
        None => None,
    };

    let n = round.base.n_customers();
    let life = &round.lifecycle;
    let evaluated = round.evaluation.as_ref().map_or(0, |e| e.evaluated);
    let assigned: usize = round.assignment.counts.iter().sum();
    let counts = |step: &str| -> (serde_json::Value, serde_json::Value) {
        match step {
            "read" => (
                json!({"files": files.len()}),
                json!({"source_records": records_in, "event_customers": events_in, "outcome_units": units_in}),
            ),
            "identity" => (
                json!({"source_records": records_in, "event_customers": round.identity.applied.input_customers}),
                json!({"customers": n}),
            ),
            "lifecycle" => (
                json!({"customers": n}),
                json!({"scored": n - life.prospects - life.not_yet_seen, "prospects": life.prospects, "not_yet_seen": life.not_yet_seen}),
            ),
            "features" => (
                json!({"customers": n}),
                json!({"rows": round.features.n_rows(), "columns": round.features.n_features()}),
            ),
            "segments" => (
                json!({"customers": n}),
                json!({"segmented": round.segments.segmented(), "segments": round.segments.k()}),
            ),
            "evaluation" => (json!({"units": units_in}), json!({"evaluated": evaluated})),
            "decisions" => (
                json!({"segments": round.segments.k()}),
                json!({"decisions": round.decisions.len()}),
            ),
            _ => (json!({"customers": n}), json!({"assigned": assigned})),
        }
    };
    let steps: Vec<serde_json::Value> = std::iter::once(&read)
        .chain(&round.steps)
        .zip(&peaks)
        .map(|(s, peak)| {
            let (input, output) = counts(&s.step);
            json!({"step": s.step, "seconds": s.seconds, "in": input, "out": output, "peak_rss_bytes": peak})
        })
        .collect();
    let variants = &params.experiment.design.variants;
    if args.json {
        let u = &round.identity.update;
        let out = json!({
            "round": round.number,
            "as_of": as_of.to_string(),
            "files": files.iter().map(|f| json!({
                "kind": f.kind, "path": f.path,
                "rows": {"read": f.report.rows, "accepted": f.report.accepted, "rejected": f.report.rejected},
                "rejections": f.report.rejections.iter().take(20).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "steps": steps,
            "customers": n,
            "identity": {
                "records": round.identity.records, "candidate_pairs": round.identity.candidate_pairs,
                "matches": round.identity.matches, "applied": round.identity.applied,
                "update": u,
            },
            "lifecycle": {
                "stages": Stage::ALL.iter().zip(life.stage_counts()).map(|(s, c)| (s.to_string(), json!(c))).collect::<serde_json::Map<_, _>>(),
                "not_yet_seen": life.not_yet_seen,
                "bgnbd": {"r": life.models.btyd.r, "alpha": life.models.btyd.alpha, "a": life.models.btyd.a, "b": life.models.btyd.b},
            },
            "segments": round.segmentation.profiles.iter().map(|p| json!({
                "id": p.id, "name": p.name, "customers": p.size, "share": p.share, "value_share": p.value_share,
            })).collect::<Vec<_>>(),
            "segments_left_out": round.segments.left_out().iter().map(|l| json!({"reason": l.reason, "customers": l.customers.len()})).collect::<Vec<_>>(),
            "migration_stayed_share": round.migration.as_ref().map(|m| m.stayed_share),
            "evaluation": round.evaluation.as_ref().map(|e| json!({
                "units": e.units, "evaluated": e.evaluated, "unknown_customer": e.unknown_customer,
                "unknown_variant": e.unknown_variant, "no_segment": e.no_segment, "segment_source": e.segment_source,
                "segments": e.conversion.segments.iter().map(|s| json!({
                    "segment": s.segment, "units": s.variants.iter().map(|v| v.n).collect::<Vec<_>>(),
                    "rates": s.variants.iter().map(|v| v.mean).collect::<Vec<_>>(), "verdict": s.verdict.reason,
                })).collect::<Vec<_>>(),
            })),
            "decisions": round.decisions,
            "targeting": round.targeting.as_ref().map(|t| json!({
                "uplift_source": t.uplift_source, "trained_units": t.trained_units,
                "offered": t.offered, "held_out_control": t.held_out,
            })),
            "assignment": {
                "variants": variants, "counts": round.assignment.counts,
                "not_targeted": round.assignment.not_targeted, "no_consent": round.assignment.no_consent,
                "held_out": round.assignment.held_out, "not_covered": round.assignment.not_covered,
            },
            "state": args.state.as_ref().map(|p| p.display().to_string()),
            "customers_out": customers_out.as_ref().map(|p| p.display().to_string()),
        });
        println!("{out}");
        return Ok(());
    }

    println!("custinsight round {} at {as_of}", round.number);
    for f in &files {
        println!(
            "  {:<15} rows {:>9}  accepted {:>9}  rejected {:>5}  {}",
            f.kind, f.report.rows, f.report.accepted, f.report.rejected, f.path
        );
        for r in f.report.rejections.iter().take(3) {
            println!("      line {} [{}] {}", r.line, r.field, r.reason);
        }
    }
    for (s, peak) in std::iter::once(&read).chain(&round.steps).zip(&peaks) {
        let memory = peak.map_or(String::new(), |b| {
            format!("  peak {:.0} MB", b as f64 / 1e6)
        });
        println!("  step {:<11} {:>7.2} s{memory}", s.step, s.seconds);
    }
    let a = &round.identity.applied;
    println!(
        "  {} source records → {} customers ({} merged from several records, {} ids without a record)",
        round.identity.records, n, a.merged_customers, a.without_record
    );
    if let Some(u) = &round.identity.update {
        println!(
            "  update: {} new records ({} joined existing customers, {} new customers), {} known, {} merges",
            u.new_records,
            u.joined_existing,
            u.new_customers,
            u.known_records,
            u.merges.len()
        );
    }
    println!(
        "  stages: {}",
        Stage::ALL
            .iter()
            .zip(life.stage_counts())
            .map(|(s, c)| format!("{s} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for p in &round.segmentation.profiles {
        println!(
            "  segment {} {:<42} {:>8} customers {:>5.1}%",
            p.id,
            p.name,
            p.size,
            100.0 * p.share
        );
    }
    for d in &round.decisions {
        println!("  decision {} {}: {}", d.segment, d.kind, d.reason);
    }
    if let Some(t) = &round.targeting {
        println!(
            "  next best action (uplift from {}, {} units): {} offered, {} held out as their control",
            match t.uplift_source {
                custinsight::target::nba::UpliftSource::Model => "a model of the last experiment",
                custinsight::target::nba::UpliftSource::Segment => "the segments' measured effects",
            },
            t.trained_units,
            t.offered,
            t.held_out
        );
    }
    println!(
        "  next: {}; {} without consent, {} held out, {} not targeted",
        variants
            .iter()
            .zip(&round.assignment.counts)
            .map(|(v, c)| format!("{c} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        round.assignment.no_consent,
        round.assignment.held_out,
        round.assignment.not_targeted
    );
    if let Some(p) = &args.state {
        println!("  state saved to {}", p.display());
    }
    if let Some(p) = &customers_out {
        println!("  customers written to {}", p.display());
    }
    Ok(())
}
