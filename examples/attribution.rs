//! Multi-touch attribution: how much credit each channel deserves for the
//! conversions (heuristic, exact Markov chain and Shapley models), and how
//! many conversions each channel actually causes (causal attribution).
//!
//! ```text
//! cargo run --release --example attribution -- --paths paths.csv --json
//! cargo run --release --example attribution -- --touchpoints events.csv --order 2
//! cargo run --release --example attribution -- --touchpoints events.csv \
//!     --transactions orders.csv --covariates customers.csv --holdout-col holdout --json
//! ```
//!
//! `--paths`: a ChannelAttribution-style table with header
//! `path,total_conversions,total_null[,total_conversion_value]`, paths as
//! channel names joined by `" > "`. `--touchpoints`: raw events with columns
//! `customer_id,timestamp,channel,kind` (optional `campaign, topic, cost,
//! cost_currency, session_id, content_stage`); journeys end at purchase
//! touchpoints, and at orders when `--transactions` is given (orders as for
//! `ingest`), with a lookback window and session gap as set below; after-sales
//! contact (support, complaints, reviews written, referrals, unsubscribes) is
//! left out of journeys unless `--touches all`.
//! `--covariates`: `customer_id,<column>…`, customer-level columns the causal
//! model adjusts for (a column whose values all read as numbers is numeric,
//! missing values taking the column's mean; any other is categorical, missing
//! values a level of their own); `--holdout-col C` names the column (true /
//! false, 1 / 0, yes / no) marking customers kept out of campaigns.
//! Rows that cannot be read are reported with their line and reason, and left out.
//!
//! `--models` chooses among `heuristics,markov,shapley,causal` (default: all
//! that the input allows; causal needs customers' journeys, so not `--paths`).
//! The JSON has `"seconds": {"<model>": s, …}` per model and, with `causal`,
//! `"effects": {"<channel>": {"effect": e, "low": l, "high": h,
//! "incremental_conversions": n, …}, …}`, `effect` being the channel's effect on
//! the log-odds of conversion (`null` with a `note` when it cannot be estimated).

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use custinsight::Error;
use custinsight::ingest::table::{ColumnKind, ColumnSpec, TableColumn, TableSpec, read_table_file};
use custinsight::ingest::{IngestOptions, IngestReport, Loader};
use custinsight::store::CustomerBase;
use custinsight::touchpoints::attribution::{
    CausalAttribution, CausalParams, Covariate, Covariates, Credits, HeuristicParams, Heuristics,
    HoldoutLift, MarkovAttribution, MarkovParams, ShapleyAttribution, ShapleyParams, causal,
    heuristics, holdout_lift, markov, shapley, time_decay,
};
use custinsight::touchpoints::journey::{
    ConversionSource, JourneyParams, JourneyTouches, Journeys,
};
use custinsight::touchpoints::paths::{OpenJourneys, PathTable};
use serde_json::{Map, Value, json};

/// Which events are journey touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Touches {
    /// Every event but purchases.
    All,
    /// Marketing events: after-sales contact left out.
    Marketing,
}

/// Attribute conversions to channels (heuristics, exact Markov chain,
/// Shapley) and estimate each channel's causal effect.
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
    /// With --touchpoints: orders (customer_id,order_id,timestamp,amount,currency[,channel]);
    /// journeys then end at orders as well as at purchase touchpoints.
    #[arg(long, requires = "touchpoints")]
    transactions: Option<PathBuf>,
    /// With --touchpoints: customer covariates for the causal model (customer_id,<column>…).
    #[arg(long, requires = "touchpoints")]
    covariates: Option<PathBuf>,
    /// The covariates' column marking customers kept out of campaigns (true/false).
    #[arg(long, requires = "covariates")]
    holdout_col: Option<String>,
    /// Models to run, comma-separated (default: all the input allows).
    #[arg(long, value_enum, value_delimiter = ',')]
    models: Option<Vec<Model>>,
    /// Markov chain order (1 to 4).
    #[arg(long, default_value_t = 1)]
    order: usize,
    /// With --touchpoints: lookback window before a conversion, in days.
    #[arg(long, default_value_t = 30.0)]
    lookback_days: f64,
    /// With --touchpoints: inactivity gap that starts a new session, in minutes.
    #[arg(long, default_value_t = 30.0)]
    session_gap_minutes: f64,
    /// With --touchpoints: which events are journey touches: `marketing` leaves out after-sales
    /// contact (complaint, support, review_written, referral, unsubscribe); `all` keeps every event.
    #[arg(long, value_enum, default_value_t = Touches::Marketing)]
    touches: Touches,
    /// With --touchpoints: half-life of the time-decay model, in days.
    #[arg(long, default_value_t = 7.0)]
    half_life_days: f64,
    /// Bootstrap replicates of the causal model's intervals.
    #[arg(long, default_value_t = 200)]
    bootstrap: usize,
    /// Seed of Shapley sampling (used beyond 15 channels) and of the causal bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// An attribution model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Model {
    /// First, last, last non-direct, linear, position-based (and time decay from touchpoints).
    Heuristics,
    /// Markov chain removal effects, solved exactly.
    Markov,
    /// Shapley values of the chain's coalitions.
    Shapley,
    /// Each channel's effect on conversion, adjusted for covariates, with bootstrap intervals.
    Causal,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Heuristics => "heuristics",
            Model::Markov => "markov",
            Model::Shapley => "shapley",
            Model::Causal => "causal",
        }
    }
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

/// What the input gives: a path table, and journeys when read from touchpoints.
struct Input {
    table: PathTable,
    report: IngestReport,
    journeys: Option<(CustomerBase, Journeys)>,
    covariates: Option<CovariateFile>,
    prepare_seconds: f64,
}

/// The covariates file: the columns, the holdout flags (when named) and its rows' account.
struct CovariateFile {
    covariates: Covariates,
    holdout: Option<Vec<Option<bool>>>,
    report: IngestReport,
}

/// What the models found.
#[derive(Default)]
struct Results {
    heuristics: Option<Heuristics>,
    time_decay: Option<Credits>,
    markov: Option<MarkovAttribution>,
    shapley: Option<ShapleyAttribution>,
    causal: Option<CausalAttribution>,
    holdout: Option<HoldoutLift>,
    seconds: Vec<(Model, f64)>,
}

fn run(args: &Args) -> custinsight::Result<()> {
    MarkovParams { order: args.order }.check()?;
    let input = read_input(args)?;
    let models = match &args.models {
        Some(m) => m.clone(),
        None if input.journeys.is_some() => {
            vec![
                Model::Heuristics,
                Model::Markov,
                Model::Shapley,
                Model::Causal,
            ]
        }
        None => vec![Model::Heuristics, Model::Markov, Model::Shapley],
    };
    if models.contains(&Model::Causal) && input.journeys.is_none() {
        return Err(Error::InvalidInput(
            "the causal model needs customers' journeys: give --touchpoints (not --paths)".into(),
        ));
    }
    let results = fit(args, &input, &models)?;
    if args.json {
        println!("{}", to_json(args, &input, &results));
    } else {
        print_text(&input, &results);
    }
    Ok(())
}

fn read_input(args: &Args) -> custinsight::Result<Input> {
    if let Some(path) = &args.paths {
        let file = File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        let rows = PathTable::read_rows(std::io::BufReader::new(file))?;
        let started = Instant::now();
        let (table, report) = PathTable::from_rows(&rows)?;
        return Ok(Input {
            table,
            report,
            journeys: None,
            covariates: None,
            prepare_seconds: started.elapsed().as_secs_f64(),
        });
    }
    let Some(path) = &args.touchpoints else {
        return Err(Error::InvalidInput(
            "give --paths FILE or --touchpoints FILE".into(),
        ));
    };
    let mut loader = Loader::new(IngestOptions::default());
    let report = loader.touchpoints_file(path)?;
    if let Some(orders) = &args.transactions {
        let r = loader.transactions_file(orders)?;
        common::warn_rejections(orders, &r);
    }
    let (base, _) = loader.finish()?;
    let covariates = match &args.covariates {
        Some(file) => Some(read_covariates(file, &base, args.holdout_col.as_deref())?),
        None => None,
    };
    let started = Instant::now();
    let params = JourneyParams {
        lookback_days: args.lookback_days,
        session_gap_minutes: args.session_gap_minutes,
        conversions: if args.transactions.is_some() {
            ConversionSource::Both
        } else {
            ConversionSource::PurchaseTouchpoints
        },
        as_of: None,
        touches: match args.touches {
            Touches::Marketing => JourneyTouches::Marketing,
            Touches::All => JourneyTouches::All,
        },
    };
    let journeys = Journeys::build(&base, &params)?;
    let table = PathTable::from_journeys(&journeys, &base, OpenJourneys::NotConverting)?;
    let prepare_seconds = started.elapsed().as_secs_f64();
    Ok(Input {
        table,
        report,
        journeys: Some((base, journeys)),
        covariates,
        prepare_seconds,
    })
}

/// Covariates aligned with `base`; customers of the file not in the base are
/// ignored, customers of the base not in the file are missing.
fn read_covariates(
    path: &Path,
    base: &CustomerBase,
    holdout_col: Option<&str>,
) -> custinsight::Result<CovariateFile> {
    let spec = TableSpec::new(vec![ColumnSpec::text("customer_id").filled()])
        .keep_others(ColumnKind::Text)
        .unique(&["customer_id"])?;
    let (table, report) = read_table_file(path, &IngestOptions::default(), &spec)?;
    common::warn_rejections(path, &report);
    let ids = table.texts("customer_id").unwrap_or_default();
    let rows: Vec<Option<u32>> = ids
        .iter()
        .map(|id| id.as_deref().and_then(|id| base.index_of(id)))
        .collect();
    let n = base.n_customers();
    let mut covariates = Covariates::for_customers(n);
    let mut holdout = None;
    for (name, column) in table.names().iter().zip(table.columns()).skip(1) {
        let TableColumn::Text(values) = column else {
            continue;
        };
        if Some(name.as_str()) == holdout_col {
            let mut flags = vec![None; n];
            for (row, value) in rows.iter().zip(values) {
                if let (Some(c), Some(v)) = (row, value) {
                    flags[*c as usize] = Some(parse_flag(name, v)?);
                }
            }
            holdout = Some(flags);
            continue;
        }
        let numbers: Option<Vec<Option<f64>>> = values
            .iter()
            .map(|v| match v {
                None => Some(None),
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(Some),
            })
            .collect();
        covariates = match numbers {
            Some(numbers) if numbers.iter().any(Option::is_some) => {
                let mut by_customer = vec![None; n];
                for (row, v) in rows.iter().zip(&numbers) {
                    if let Some(c) = row {
                        by_customer[*c as usize] = *v;
                    }
                }
                let known: Vec<f64> = by_customer.iter().flatten().copied().collect();
                let mean = known.iter().sum::<f64>() / known.len().max(1) as f64;
                covariates.with(Covariate::Numeric {
                    name: name.clone(),
                    values: by_customer.iter().map(|v| v.unwrap_or(mean)).collect(),
                })?
            }
            _ => {
                let mut levels: Vec<String> = values.iter().flatten().cloned().collect();
                levels.sort();
                levels.dedup();
                let mut codes = vec![None; n];
                for (row, v) in rows.iter().zip(values) {
                    if let (Some(c), Some(v)) = (row, v) {
                        codes[*c as usize] = levels.binary_search(v).ok().map(|i| i as u32);
                    }
                }
                covariates.with(Covariate::Categorical {
                    name: name.clone(),
                    levels,
                    codes,
                })?
            }
        };
    }
    if let (Some(col), None) = (holdout_col, &holdout) {
        return Err(Error::MissingColumns {
            table: path.display().to_string(),
            columns: vec![col.to_owned()],
        });
    }
    Ok(CovariateFile {
        covariates,
        holdout,
        report,
    })
}

fn parse_flag(column: &str, v: &str) -> custinsight::Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" => Ok(true),
        "false" | "0" | "no" | "n" => Ok(false),
        _ => Err(Error::InvalidInput(format!(
            "holdout column `{column}`: `{v}` is not true/false, 1/0 or yes/no"
        ))),
    }
}

fn fit(args: &Args, input: &Input, models: &[Model]) -> custinsight::Result<Results> {
    let table = &input.table;
    let mut out = Results::default();
    for &model in models {
        let started = Instant::now();
        match model {
            Model::Heuristics => {
                out.heuristics = Some(heuristics(table, &HeuristicParams::default())?);
                if let Some((base, journeys)) = &input.journeys {
                    // Time decay is indexed by the base's channels; the table uses the same codes.
                    out.time_decay = Some(time_decay(journeys, base, args.half_life_days)?);
                }
            }
            Model::Markov => out.markov = Some(markov(table, &MarkovParams { order: args.order })?),
            Model::Shapley => {
                out.shapley = Some(shapley(
                    table,
                    &ShapleyParams {
                        order: 1,
                        seed: args.seed,
                        ..ShapleyParams::default()
                    },
                )?);
            }
            Model::Causal => {
                let (base, journeys) = input.journeys.as_ref().expect("checked in run");
                let params = CausalParams {
                    bootstrap: args.bootstrap,
                    seed: args.seed,
                    open: OpenJourneys::NotConverting,
                    ..CausalParams::default()
                };
                let covariates = input.covariates.as_ref().map(|c| &c.covariates);
                out.causal = Some(causal(journeys, base, covariates, &params)?);
                if let Some(CovariateFile {
                    holdout: Some(flags),
                    ..
                }) = &input.covariates
                {
                    out.holdout = Some(holdout_lift(journeys, flags, 0.95)?);
                }
            }
        }
        out.seconds.push((model, started.elapsed().as_secs_f64()));
    }
    Ok(out)
}

fn to_json(args: &Args, input: &Input, r: &Results) -> Value {
    let table = &input.table;
    let mut channels = Map::new();
    for (c, name) in table.channels().iter().enumerate() {
        let mut entry = Map::new();
        if let Some(h) = &r.heuristics {
            for (key, credits) in [
                ("first_touch", &h.first_touch),
                ("last_touch", &h.last_touch),
                ("last_non_direct", &h.last_non_direct),
                ("linear", &h.linear),
                ("position_based", &h.position_based),
            ] {
                entry.insert(key.into(), json!(credits.conversions[c]));
            }
            entry.insert("linear_value".into(), json!(h.linear.value[c]));
        }
        if let Some(d) = &r.time_decay {
            entry.insert("time_decay".into(), json!(d.conversions[c]));
        }
        if let Some(m) = &r.markov {
            entry.insert("markov".into(), json!(m.credits.conversions[c]));
            entry.insert("removal_effect".into(), json!(m.removal_effects[c]));
            entry.insert("markov_value".into(), json!(m.credits.value[c]));
            entry.insert(
                "value_removal_effect".into(),
                json!(m.value_removal_effects[c]),
            );
        }
        if let Some(s) = &r.shapley {
            entry.insert("shapley".into(), json!(s.credits.conversions[c]));
            entry.insert("shapley_std_error".into(), json!(s.std_error[c]));
            entry.insert("shapley_value".into(), json!(s.credits.value[c]));
        }
        channels.insert(name.clone(), Value::Object(entry));
    }
    let seconds: Map<String, Value> = r
        .seconds
        .iter()
        .map(|(m, s)| (m.name().to_owned(), json!(s)))
        .collect();
    let fit_seconds = input.prepare_seconds + r.seconds.iter().map(|(_, s)| s).sum::<f64>();
    let report = &input.report;
    let mut out = json!({
        "channels": channels,
        "total_conversions": table.total_conversions(),
        "total_conversion_value": table.total_value(),
        "total_null": table.total_nulls(),
        "direct_conversions": table.direct_conversions(),
        "paths": table.len(),
        "order": args.order,
        "models": r.seconds.iter().map(|(m, _)| m.name()).collect::<Vec<_>>(),
        "seconds": seconds,
        "fit_seconds": fit_seconds,
        "rows": report.rows,
        "rejected": report.rejected,
        "rejections": report.rejections.iter().take(20).collect::<Vec<_>>(),
    });
    let Value::Object(o) = &mut out else {
        unreachable!("a JSON object")
    };
    if let Some(m) = &r.markov {
        o.insert(
            "conversion_probability".into(),
            json!(m.conversion_probability),
        );
        o.insert("markov_states".into(), json!(m.states));
        o.insert("markov_solver".into(), json!(m.solver));
    }
    if let Some(s) = &r.shapley {
        o.insert("shapley_exact".into(), json!(s.exact));
    }
    if let Some((_, journeys)) = &input.journeys {
        let (converted, not_converted, open) = journeys.outcome_counts();
        o.insert(
            "journeys".into(),
            json!({"converted": converted, "not_converted": not_converted, "open": open}),
        );
    }
    if let Some(c) = &r.causal {
        let effects: Map<String, Value> = c
            .effects
            .iter()
            .map(|e| {
                let ic = &e.incremental_conversions;
                (
                    e.channel.clone(),
                    json!({
                        "effect": e.effect.map(|x| x.value),
                        "low": e.effect.map(|x| x.low),
                        "high": e.effect.map(|x| x.high),
                        "std_error": e.effect.map(|x| x.std_error),
                        "incremental_conversions": ic.value,
                        "incremental_conversions_low": ic.low,
                        "incremental_conversions_high": ic.high,
                        "incremental_value": e.incremental_value.value,
                        "journeys": e.journeys,
                        "conversions": e.conversions,
                        "note": e.note,
                    }),
                )
            })
            .collect();
        o.insert("effects".into(), Value::Object(effects));
        o.insert(
            "causal".into(),
            json!({
                "covariates": c.covariates,
                "journeys": c.journeys,
                "conversions": c.conversions,
                "patterns": c.patterns,
                "bootstrap": c.bootstrap,
                "confidence": c.confidence,
                "intercept": c.intercept,
            }),
        );
    }
    if let Some(file) = &input.covariates {
        o.insert("covariate_rows".into(), common::rows_json(&file.report));
    }
    if let Some(h) = &r.holdout {
        o.insert("holdout".into(), json!(h));
    }
    out
}

fn print_text(input: &Input, r: &Results) {
    let table = &input.table;
    let report = &input.report;
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
    for rj in report.rejections.iter().take(5) {
        println!("  rejected line {}: {}: {}", rj.line, rj.field, rj.reason);
    }
    if let Some((_, journeys)) = &input.journeys {
        let (converted, not_converted, open) = journeys.outcome_counts();
        println!(
            "journeys: {converted} converted, {not_converted} not converted, {open} open (counted as not converted)"
        );
    }
    let timing: Vec<String> = r
        .seconds
        .iter()
        .map(|(m, s)| format!("{} {s:.3} s", m.name()))
        .collect();
    println!("models: {}", timing.join(", "));
    if let Some(m) = &r.markov {
        println!(
            "Markov order {}: P(conversion) {:.4}, {} states",
            m.order, m.conversion_probability, m.states
        );
    }
    let width = table
        .channels()
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    if r.heuristics.is_some() || r.markov.is_some() || r.shapley.is_some() {
        println!("\ncredit: who was there (conversions shared out)");
        let mut header = format!("{:<width$}", "channel");
        if r.heuristics.is_some() {
            header += &format!(
                " {:>10} {:>10} {:>10} {:>10}",
                "first", "last", "linear", "position"
            );
        }
        if r.markov.is_some() {
            header += &format!(" {:>10} {:>8}", "markov", "removal");
        }
        if r.shapley.is_some() {
            header += &format!(" {:>10}", "shapley");
        }
        println!("{header}");
        let mut order: Vec<usize> = (0..table.channels().len()).collect();
        if let Some(m) = &r.markov {
            order.sort_by(|&a, &b| m.credits.conversions[b].total_cmp(&m.credits.conversions[a]));
        }
        for c in order {
            let mut line = format!("{:<width$}", table.channels()[c]);
            if let Some(h) = &r.heuristics {
                line += &format!(
                    " {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                    h.first_touch.conversions[c],
                    h.last_touch.conversions[c],
                    h.linear.conversions[c],
                    h.position_based.conversions[c]
                );
            }
            if let Some(m) = &r.markov {
                line += &format!(
                    " {:>10.1} {:>8.4}",
                    m.credits.conversions[c], m.removal_effects[c]
                );
            }
            if let Some(s) = &r.shapley {
                line += &format!(" {:>10.1}", s.credits.conversions[c]);
            }
            println!("{line}");
        }
    }
    if let Some(c) = &r.causal {
        println!(
            "\neffect: who made the difference ({} journeys, {} patterns, adjusted for {}; {:.0} % intervals from {} bootstrap replicates)",
            c.journeys,
            c.patterns,
            if c.covariates.is_empty() {
                "nothing".to_owned()
            } else {
                c.covariates.join(", ")
            },
            c.confidence * 100.0,
            c.bootstrap
        );
        println!(
            "{:<width$} {:>24} {:>30}",
            "channel", "effect on log-odds", "incremental conversions"
        );
        for e in &c.effects {
            match (&e.effect, e.note) {
                (Some(x), _) => println!(
                    "{:<width$} {:>+8.3} [{:>+6.3}, {:>+6.3}] {:>10.1} [{:>7.1}, {:>7.1}]",
                    e.channel,
                    x.value,
                    x.low,
                    x.high,
                    e.incremental_conversions.value,
                    e.incremental_conversions.low,
                    e.incremental_conversions.high
                ),
                (None, note) => println!(
                    "{:<width$} {:>24} ({})",
                    e.channel,
                    "—",
                    note.map_or("no estimate", note_text)
                ),
            }
        }
    }
    if let Some(h) = &r.holdout {
        println!(
            "\nholdout: {:.2} % of {} exposed customers converted against {:.2} % of {} held out: {:+.2} points [{:+.2}, {:+.2}], {:.0} incremental conversions",
            h.exposed_rate * 100.0,
            h.exposed,
            h.holdout_rate * 100.0,
            h.held_out,
            h.difference * 100.0,
            h.difference_interval[0] * 100.0,
            h.difference_interval[1] * 100.0,
            h.incremental_conversions[0]
        );
    }
}

fn note_text(note: custinsight::touchpoints::attribution::EffectNote) -> &'static str {
    use custinsight::touchpoints::attribution::EffectNote;
    match note {
        EffectNote::NeverTouched => "never touched",
        EffectNote::InEveryJourney => "in every journey: no baseline to compare with",
        EffectNote::NeverInConvertingJourney => "never in a converting journey",
    }
}

fn fmt_count(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}
