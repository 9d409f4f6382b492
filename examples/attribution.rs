//! Multi-touch attribution: how much credit each channel deserves for the
//! conversions, by heuristic, exact Markov chain and Shapley value models.
//!
//! ```text
//! cargo run --release --example attribution -- --paths paths.csv --json
//! cargo run --release --example attribution -- --touchpoints events.csv --order 2
//! ```
//!
//! `--paths`: a ChannelAttribution-style table with header
//! `path,total_conversions,total_null[,total_conversion_value]`, paths as
//! channel names joined by `" > "`. `--touchpoints`: raw events with columns
//! `customer_id,timestamp,channel,kind` (optional `campaign, topic, cost,
//! cost_currency, session_id, content_stage`); journeys end at purchase
//! touchpoints, with a lookback window and session gap as set below.
//! Rows that cannot be read are reported with their line and reason, and left out.

mod common;

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use custinsight::Error;
use custinsight::ingest::{IngestOptions, IngestReport, Loader};
use custinsight::touchpoints::attribution::{
    Credits, HeuristicParams, MarkovParams, ShapleyParams, heuristics, markov, shapley, time_decay,
};
use custinsight::touchpoints::journey::{ConversionSource, JourneyParams, Journeys};
use custinsight::touchpoints::paths::{OpenJourneys, PathTable};
use serde_json::{Map, Value, json};

/// Attribute conversions to channels (heuristics, exact Markov chain, Shapley).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Path table CSV: path,total_conversions,total_null[,total_conversion_value].
    #[arg(
        long,
        conflicts_with = "touchpoints",
        required_unless_present = "touchpoints"
    )]
    paths: Option<PathBuf>,
    /// Raw touchpoint events CSV: customer_id,timestamp,channel,kind.
    #[arg(long)]
    touchpoints: Option<PathBuf>,
    /// Markov chain order (1 to 4).
    #[arg(long, default_value_t = 1)]
    order: usize,
    /// With --touchpoints: lookback window before a conversion, in days.
    #[arg(long, default_value_t = 30.0)]
    lookback_days: f64,
    /// With --touchpoints: inactivity gap that starts a new session, in minutes.
    #[arg(long, default_value_t = 30.0)]
    session_gap_minutes: f64,
    /// With --touchpoints: half-life of the time-decay model, in days.
    #[arg(long, default_value_t = 7.0)]
    half_life_days: f64,
    /// Seed of Shapley sampling (used beyond 15 channels).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

struct Outcome {
    table: PathTable,
    report: IngestReport,
    time_decay: Option<Credits>,
    journeys: Option<(usize, usize, usize)>,
    started: Instant,
}

fn run(args: &Args) -> custinsight::Result<()> {
    if !(1..=4).contains(&args.order) {
        return Err(Error::InvalidParameter {
            name: "order",
            value: args.order.to_string(),
            reason: "must be 1, 2, 3 or 4".into(),
        });
    }
    let outcome = match (&args.paths, &args.touchpoints) {
        (Some(path), _) => {
            let file = File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
            let rows = PathTable::read_rows(std::io::BufReader::new(file))?;
            let started = Instant::now();
            let (table, report) = PathTable::from_rows(&rows)?;
            Outcome {
                table,
                report,
                time_decay: None,
                journeys: None,
                started,
            }
        }
        (None, Some(path)) => {
            let mut loader = Loader::new(IngestOptions::default());
            let report = loader.touchpoints_file(path)?;
            let (base, _) = loader.finish()?;
            let started = Instant::now();
            let params = JourneyParams {
                lookback_days: args.lookback_days,
                session_gap_minutes: args.session_gap_minutes,
                conversions: ConversionSource::PurchaseTouchpoints,
                as_of: None,
            };
            let journeys = Journeys::build(&base, &params)?;
            let table = PathTable::from_journeys(&journeys, &base, OpenJourneys::NotConverting)?;
            let decay = time_decay(&journeys, &base, args.half_life_days)?;
            // Time decay is indexed by the base's channels; the table uses the same codes.
            Outcome {
                table,
                report,
                time_decay: Some(decay),
                journeys: Some(journeys.outcome_counts()),
                started,
            }
        }
        (None, None) => {
            return Err(Error::InvalidInput(
                "give --paths FILE or --touchpoints FILE".into(),
            ));
        }
    };
    let table = &outcome.table;
    let h = heuristics(table, &HeuristicParams::default())?;
    let m = markov(table, &MarkovParams { order: args.order })?;
    let s = shapley(
        table,
        &ShapleyParams {
            order: 1,
            seed: args.seed,
            ..ShapleyParams::default()
        },
    )?;
    let fit_seconds = outcome.started.elapsed().as_secs_f64();

    let mut channels = Map::new();
    for (c, name) in table.channels().iter().enumerate() {
        let mut entry = json!({
            "first_touch": h.first_touch.conversions[c],
            "last_touch": h.last_touch.conversions[c],
            "last_non_direct": h.last_non_direct.conversions[c],
            "linear": h.linear.conversions[c],
            "position_based": h.position_based.conversions[c],
            "markov": m.credits.conversions[c],
            "removal_effect": m.removal_effects[c],
            "markov_value": m.credits.value[c],
            "value_removal_effect": m.value_removal_effects[c],
            "shapley": s.credits.conversions[c],
            "shapley_std_error": s.std_error[c],
            "shapley_value": s.credits.value[c],
            "linear_value": h.linear.value[c],
        });
        if let (Some(d), Value::Object(o)) = (&outcome.time_decay, &mut entry) {
            o.insert("time_decay".into(), json!(d.conversions[c]));
        }
        channels.insert(name.clone(), entry);
    }
    let report = &outcome.report;
    if args.json {
        let mut out = json!({
            "channels": channels,
            "total_conversions": table.total_conversions(),
            "total_conversion_value": table.total_value(),
            "total_null": table.total_nulls(),
            "direct_conversions": table.direct_conversions(),
            "paths": table.len(),
            "order": args.order,
            "conversion_probability": m.conversion_probability,
            "markov_states": m.states,
            "markov_solver": m.solver,
            "shapley_exact": s.exact,
            "fit_seconds": fit_seconds,
            "rows": report.rows,
            "rejected": report.rejected,
            "rejections": report.rejections.iter().take(20).collect::<Vec<_>>(),
        });
        if let (Some((converted, not_converted, open)), Value::Object(o)) =
            (outcome.journeys, &mut out)
        {
            o.insert(
                "journeys".into(),
                json!({"converted": converted, "not_converted": not_converted, "open": open}),
            );
        }
        println!("{out}");
        return Ok(());
    }

    println!(
        "{} paths, {} conversions, {} non-conversions{} ({} rows read, {} rejected)",
        table.len(),
        fmt_count(table.total_conversions()),
        fmt_count(table.total_nulls()),
        if table.total_value() > 0.0 {
            format!(", value {:.2}", table.total_value())
        } else {
            String::new()
        },
        report.rows,
        report.rejected,
    );
    for r in report.rejections.iter().take(5) {
        println!("  rejected line {}: {}: {}", r.line, r.field, r.reason);
    }
    if let Some((converted, not_converted, open)) = outcome.journeys {
        println!(
            "journeys: {converted} converted, {not_converted} not converted, {open} open (counted as not converted)"
        );
    }
    println!(
        "Markov order {}: P(conversion) {:.4}, {} states; Shapley {}; {:.3} s\n",
        m.order,
        m.conversion_probability,
        m.states,
        if s.exact { "exact" } else { "sampled" },
        fit_seconds
    );
    let width = table
        .channels()
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    println!(
        "{:<width$} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>10}",
        "channel", "first", "last", "linear", "position", "markov", "removal", "shapley"
    );
    let mut order: Vec<usize> = (0..table.channels().len()).collect();
    order.sort_by(|&a, &b| m.credits.conversions[b].total_cmp(&m.credits.conversions[a]));
    for c in order {
        println!(
            "{:<width$} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>8.4} {:>10.1}",
            table.channels()[c],
            h.first_touch.conversions[c],
            h.last_touch.conversions[c],
            h.linear.conversions[c],
            h.position_based.conversions[c],
            m.credits.conversions[c],
            m.removal_effects[c],
            s.credits.conversions[c],
        );
    }
    Ok(())
}

fn fmt_count(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}
