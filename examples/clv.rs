//! Customer lifetime value from RFM summaries, or summaries from transactions.
//!
//! Both inputs are read through the library's ingestion: a transactions file
//! becomes a customer base (a full transactions file through the loader, a
//! minimal `customer_id,date,amount` file through a table) whose summary is
//! built with [`Summary::from_base`]; a summary file is a table. Rows that
//! cannot be used are rejected with line, field and reason (on stderr, and
//! under `rows` in `--json`), and the others are used.
//!
//! ```text
//! # transactions (customer_id,date,amount) → summary (customer_id,frequency,recency,T,monetary_value)
//! cargo run --release --example clv -- --transactions tx.csv --period week --observation-end 2024-12-31 --summary-out summary.csv
//! # summary → fitted model, scores and CLV
//! cargo run --release --example clv -- --summary summary.csv --model bgnbd --gamma-gamma --scores-out scores.csv --json
//! ```

use std::fs::File;
use std::io::BufWriter;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use custinsight::Error;
use custinsight::ingest::table::{ColumnSpec, TableSpec, read_table_file};
use custinsight::ingest::{IngestOptions, IngestReport, Loader, parse_timestamp};
use custinsight::lifecycle::bgnbd::BgNbdParams;
use custinsight::lifecycle::btyd::{BtydModel, Scores};
use custinsight::lifecycle::gamma_gamma::{ClvParams, GammaGammaModel, GammaGammaParams};
use custinsight::lifecycle::mbgnbd::MbgNbdParams;
use custinsight::lifecycle::paretonbd::ParetoNbdParams;
use custinsight::lifecycle::stage::{StageInput, StageParams, distribution};
use custinsight::lifecycle::summary::{CalibrationHoldout, Period, Summary};
use custinsight::records::{Channel, Currency, Money};
use custinsight::store::{CustomerBase, TransactionRef};
use serde_json::json;

mod common;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Model {
    Bgnbd,
    Mbgnbd,
    Paretonbd,
}

/// Fit BTYD models and value customers, or build RFM summaries from transactions.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Summary CSV with customer_id,frequency,recency,T (and optionally monetary_value).
    #[arg(long, conflicts_with = "transactions")]
    summary: Option<PathBuf>,
    /// Transactions CSV with customer_id,date,amount (other columns ignored).
    #[arg(long, required_unless_present = "summary")]
    transactions: Option<PathBuf>,
    /// Transaction model to fit.
    #[arg(long, value_enum, default_value = "bgnbd")]
    model: Model,
    /// Also fit Gamma–Gamma spend and report CLV.
    #[arg(long)]
    gamma_gamma: bool,
    /// L2 penalty on the parameters (lifetimes' penalizer_coef).
    #[arg(long, default_value_t = 0.0)]
    penalizer: f64,
    /// Horizon in periods for expected purchases.
    #[arg(long, default_value_t = 10.0)]
    horizon: f64,
    /// Write per-customer scores: customer_id,p_alive,expected_purchases,stage(,clv).
    #[arg(long)]
    scores_out: Option<PathBuf>,
    /// Period of the summary: day or week (what T and recency count).
    #[arg(long, default_value = "week")]
    period: String,
    /// Last day of observation (YYYY-MM-DD), for --transactions.
    #[arg(long)]
    observation_end: Option<String>,
    /// End of the calibration period (YYYY-MM-DD): also write holdout columns.
    #[arg(long)]
    calibration_end: Option<String>,
    /// Where to write the summary built from --transactions.
    #[arg(long)]
    summary_out: Option<PathBuf>,
    /// CLV horizon in months (lifetimes' `time`); a month is 30 days or 4.345 weeks, as lifetimes' `freq`.
    #[arg(long, default_value_t = 12.0)]
    clv_months: f64,
    /// Monthly discount rate for CLV.
    #[arg(long, default_value_t = 0.01)]
    discount_rate: f64,
    /// Margin applied to spend for CLV (1 = revenue).
    #[arg(long, default_value_t = 1.0)]
    margin: f64,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

fn run(args: &Args) -> custinsight::Result<()> {
    match (&args.summary, &args.transactions) {
        (Some(path), _) => fit(args, path),
        (None, Some(path)) => summarise(args, path),
        (None, None) => Err(Error::InvalidInput(
            "give --summary or --transactions".into(),
        )),
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path.display().to_string(), e)
}

fn csv_err(path: &Path, e: csv::Error) -> Error {
    Error::InvalidInput(format!("{}: {e}", path.display()))
}

fn date(name: &str, value: &str) -> custinsight::Result<jiff::civil::Date> {
    value
        .trim()
        .parse()
        .map_err(|e: jiff::Error| Error::InvalidInput(format!("--{name} `{value}`: {e}")))
}

/// The header of a CSV file, lower-cased.
fn header(path: &Path) -> custinsight::Result<Vec<String>> {
    use std::io::BufRead;
    let file = File::open(path).map_err(io_err(path))?;
    let mut line = String::new();
    std::io::BufReader::new(file)
        .read_line(&mut line)
        .map_err(io_err(path))?;
    Ok(line
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect())
}

/// The transactions of a file as a base, read through ingestion. A full
/// transactions file (`customer_id, order_id, timestamp, amount, currency,
/// channel`, with `source` for multi-system data) goes through the loader;
/// a minimal one (`customer_id, date, amount`, as lifetimes takes it) through
/// a table whose rows become transactions with their line as order id. Either
/// way every row is accepted or rejected with its line, field and reason.
fn ingest_transactions(path: &Path) -> custinsight::Result<(CustomerBase, IngestReport)> {
    let columns = header(path)?;
    if ["order_id", "currency", "channel"]
        .iter()
        .all(|c| columns.iter().any(|h| h == c))
    {
        let mut loader = Loader::new(IngestOptions::default());
        let report = loader.transactions_file(path)?;
        return Ok((loader.finish()?.0, report));
    }
    let spec = TableSpec::new(vec![
        ColumnSpec::text("customer_id").filled(),
        ColumnSpec::text("date").filled().aliases(&["timestamp"]),
        ColumnSpec::number("amount").filled(),
    ]);
    let (table, mut report) = read_table_file(path, &IngestOptions::default(), &spec)?;
    let ids = table.texts("customer_id").unwrap_or(&[]);
    let dates = table.texts("date").unwrap_or(&[]);
    let amounts = table.numbers("amount").unwrap_or(&[]);
    let mut builder = CustomerBase::builder();
    let channel = Channel::Other("unknown".into());
    for (i, &line) in table.lines().iter().enumerate() {
        let raw = dates[i].as_deref().unwrap_or("");
        let timestamp = match parse_timestamp(raw) {
            Ok(t) => t,
            Err(reason) => {
                report.reject_accepted(line, "date", reason);
                continue;
            }
        };
        if amounts[i] < 0.0 {
            report.reject_accepted(
                line,
                "amount",
                "negative amount (refunds are not purchases)",
            );
            continue;
        }
        // Money keeps four decimals; the summary needs only the amount.
        let amount = match Money::parse(&format!("{:.4}", amounts[i]), Currency::EUR) {
            Ok(m) => m,
            Err(e) => {
                report.reject_accepted(line, "amount", e.to_string());
                continue;
            }
        };
        let order = format!("line {line}");
        let t = TransactionRef {
            customer_id: ids[i].as_deref().unwrap_or(""),
            order_id: &order,
            timestamp,
            amount,
            is_refund: false,
            channel: &channel,
            store: None,
            line_items: &[],
        };
        if let Err(e) = builder.add_transaction_ref(t) {
            report.reject_accepted(line, "customer_id", e.to_string());
        }
    }
    Ok((builder.build()?, report))
}

fn summarise(args: &Args, path: &Path) -> custinsight::Result<()> {
    let period = Period::parse(&args.period)?;
    let end = date(
        "observation-end",
        args.observation_end.as_deref().ok_or_else(|| {
            Error::InvalidInput("--transactions needs --observation-end YYYY-MM-DD".into())
        })?,
    )?;
    let out_path = args
        .summary_out
        .as_ref()
        .ok_or_else(|| Error::InvalidInput("--transactions needs --summary-out FILE".into()))?;
    let (base, rows) = ingest_transactions(path)?;
    if !args.json {
        common::warn_rejections(path, &rows);
    }
    let file = File::create(out_path).map_err(io_err(out_path))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    let (summary, holdout) = match &args.calibration_end {
        Some(cal) => {
            let ch =
                CalibrationHoldout::from_base(&base, period, date("calibration-end", cal)?, end)?;
            let summary = ch.calibration.clone();
            (summary, Some(ch))
        }
        None => (Summary::from_base(&base, period, end)?, None),
    };
    let mut header = vec!["customer_id", "frequency", "recency", "T", "monetary_value"];
    if holdout.is_some() {
        header.extend([
            "frequency_holdout",
            "monetary_value_holdout",
            "duration_holdout",
        ]);
    }
    w.write_record(&header).map_err(|e| csv_err(out_path, e))?;
    for i in 0..summary.len() {
        let mut row = vec![
            summary.customer_ids[i].clone(),
            summary.x[i].to_string(),
            summary.t_x[i].to_string(),
            summary.t_cal[i].to_string(),
            summary.monetary_value[i].to_string(),
        ];
        if let Some(h) = &holdout {
            row.extend([
                h.frequency_holdout[i].to_string(),
                h.monetary_value_holdout[i].to_string(),
                h.duration_holdout.to_string(),
            ]);
        }
        w.write_record(&row).map_err(|e| csv_err(out_path, e))?;
    }
    w.flush().map_err(io_err(out_path))?;
    if args.json {
        println!(
            "{}",
            json!({"transactions": base.n_transactions(), "customers": summary.len(), "excluded_after_end": summary.excluded_after_end,
                   "period": args.period, "summary_out": out_path.display().to_string(), "rows": common::rows_json(&rows)})
        );
    } else {
        println!(
            "{} transactions → {} customers summarised in {} periods ({} without a purchase by the end left out); wrote {}",
            base.n_transactions(),
            summary.len(),
            args.period,
            summary.excluded_after_end,
            out_path.display()
        );
    }
    Ok(())
}

/// A summary file read through ingestion: a row whose frequency, recency or
/// T is missing, not a number, or negative is rejected with its line.
fn read_summary(path: &Path, period: Period) -> custinsight::Result<(Summary, IngestReport)> {
    let spec = TableSpec::new(vec![
        ColumnSpec::text("customer_id").filled(),
        ColumnSpec::number("frequency").filled(),
        ColumnSpec::number("recency").filled(),
        ColumnSpec::number("T").filled(),
        ColumnSpec::number("monetary_value"),
    ]);
    let (table, mut report) = read_table_file(path, &IngestOptions::default(), &spec)?;
    let mut s = Summary {
        period,
        observation_end: jiff::civil::date(1970, 1, 1),
        customer_ids: Vec::new(),
        x: Vec::new(),
        t_x: Vec::new(),
        t_cal: Vec::new(),
        monetary_value: Vec::new(),
        excluded_after_end: 0,
    };
    let ids = table.texts("customer_id").unwrap_or(&[]);
    let column = |name: &str| table.numbers(name).unwrap_or(&[]);
    let (x, t_x, t, m) = (
        column("frequency"),
        column("recency"),
        column("T"),
        column("monetary_value"),
    );
    for (i, &line) in table.lines().iter().enumerate() {
        let monetary = m.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0);
        let values = [
            ("frequency", x[i]),
            ("recency", t_x[i]),
            ("T", t[i]),
            ("monetary_value", monetary),
        ];
        if let Some((name, v)) = values.iter().find(|(_, v)| *v < 0.0) {
            report.reject_accepted(line, *name, format!("{v} is negative"));
            continue;
        }
        s.customer_ids.push(ids[i].clone().unwrap_or_default());
        s.x.push(x[i]);
        s.t_x.push(t_x[i]);
        s.t_cal.push(t[i]);
        s.monetary_value.push(monetary);
    }
    Ok((s, report))
}

/// Scores every customer of a summary, with customer value when given a spend model.
type Scorer = Box<
    dyn Fn(&Summary, f64, Option<(&GammaGammaModel, &ClvParams)>) -> custinsight::Result<Scores>,
>;

/// A fitted transaction model behind one interface.
struct Fitted {
    name: &'static str,
    params: serde_json::Value,
    log_likelihood: f64,
    iterations: usize,
    converged: bool,
    score: Scorer,
}

fn fit_model(args: &Args, summary: &Summary) -> custinsight::Result<Fitted> {
    let triples = summary.triples();
    // The three models share one interface (generated by the same macro in the library).
    macro_rules! fitted {
        ($name:literal, $params:ident, [$($p:ident),+]) => {{
            let m = $params { penalizer: args.penalizer, ..$params::default() }.fit(&triples)?;
            let sc = m.clone();
            Ok(Fitted {
                name: $name,
                params: json!({$(stringify!($p): m.$p),+}),
                log_likelihood: m.report.log_likelihood,
                iterations: m.report.iterations,
                converged: m.report.converged,
                score: Box::new(move |s, h, value| match value {
                    Some((spend, clv)) => sc.score_with_clv(s, h, spend, clv),
                    None => Ok(sc.score(s, h)),
                }),
            })
        }};
    }
    match args.model {
        Model::Bgnbd => fitted!("bgnbd", BgNbdParams, [r, alpha, a, b]),
        Model::Mbgnbd => fitted!("mbgnbd", MbgNbdParams, [r, alpha, a, b]),
        Model::Paretonbd => fitted!("paretonbd", ParetoNbdParams, [r, alpha, s, beta]),
    }
}

fn fit(args: &Args, path: &Path) -> custinsight::Result<()> {
    let period = Period::parse(&args.period)?;
    if !(args.horizon.is_finite() && args.horizon >= 0.0) {
        return Err(Error::InvalidInput(format!(
            "--horizon {} must be finite and >= 0",
            args.horizon
        )));
    }
    let (summary, rows) = read_summary(path, period)?;
    if !args.json {
        common::warn_rejections(path, &rows);
    }
    let started = Instant::now();
    let fitted = fit_model(args, &summary)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let spend: Option<GammaGammaModel> = if args.gamma_gamma {
        Some(
            GammaGammaParams {
                penalizer: args.penalizer,
                ..GammaGammaParams::default()
            }
            .fit(&summary)?,
        )
    } else {
        None
    };
    // Periods per month, as lifetimes' `freq` factors ("D" → 30, "W" → 4.345).
    let month = match period {
        Period::Day => 30.0,
        Period::Week => 4.345,
    };
    let clv_params = ClvParams {
        horizon: args.clv_months * month,
        step: month,
        discount_rate: args.discount_rate,
        margin: args.margin,
    };
    clv_params.check()?;
    // P(alive), expected purchases and CLV for every customer, timed apart from stages and output.
    let score_started = Instant::now();
    let scores = (fitted.score)(
        &summary,
        args.horizon,
        spend.as_ref().map(|gg| (gg, &clv_params)),
    )?;
    let score_seconds = score_started.elapsed().as_secs_f64();
    let stages = StageParams::default();
    let mut stage_of = Vec::with_capacity(summary.len());
    let mut clv_total = 0.0;
    let mut writer = match &args.scores_out {
        Some(p) => Some((
            p,
            csv::Writer::from_writer(BufWriter::new(File::create(p).map_err(io_err(p))?)),
        )),
        None => None,
    };
    if let Some((p, w)) = writer.as_mut() {
        let mut header = vec!["customer_id", "p_alive", "expected_purchases", "stage"];
        if spend.is_some() {
            header.push("clv");
        }
        w.write_record(&header).map_err(|e| csv_err(p, e))?;
    }
    for i in 0..summary.len() {
        let (x, tx, t) = (summary.x[i], summary.t_x[i], summary.t_cal[i]);
        let (p_alive, expected) = (scores.p_alive[i], scores.expected_purchases[i]);
        let stage = stages.assign(
            &StageInput {
                x: Some(x),
                t_x: tx,
                t_cal: t,
                p_alive,
                expected_purchases: expected,
                horizon: args.horizon,
            },
            period,
        );
        stage_of.push(stage.stage);
        let clv = scores.clv.as_ref().map(|v| v[i]);
        clv_total += clv.unwrap_or(0.0);
        if let Some((p, w)) = writer.as_mut() {
            let mut row = vec![
                summary.customer_ids[i].clone(),
                format!("{p_alive:.6}"),
                format!("{expected:.6}"),
                stage.stage.as_str().to_owned(),
            ];
            if let Some(v) = clv {
                row.push(format!("{v:.4}"));
            }
            w.write_record(&row).map_err(|e| csv_err(p, e))?;
        }
    }
    if let Some((p, mut w)) = writer {
        w.flush().map_err(io_err(p))?;
    }
    let counts = distribution(&stage_of);
    if args.json {
        let mut out = json!({
            "model": fitted.name,
            "params": fitted.params,
            "log_likelihood": fitted.log_likelihood,
            "n_customers": summary.len(),
            "iterations": fitted.iterations,
            "fit_seconds": fit_seconds,
            "score_seconds": score_seconds,
            "converged": fitted.converged,
            "stages": custinsight::lifecycle::stage::Stage::ALL.iter().zip(counts).map(|(s, c)| (s.as_str().to_owned(), json!(c))).collect::<serde_json::Map<_, _>>(),
            "rows": common::rows_json(&rows),
        });
        if let Some(gg) = &spend {
            out["gamma_gamma"] = json!({"p": gg.p, "q": gg.q, "v": gg.v, "spend_frequency_correlation": gg.spend_frequency_correlation});
            out["clv_total"] = json!(clv_total);
        }
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} on {} customers ({} distinct summaries), fitted in {:.3} s, {} iterations",
        fitted.name,
        summary.len(),
        summary.triples().len(),
        fit_seconds,
        fitted.iterations
    );
    println!("  parameters     {}", fitted.params);
    println!("  log-likelihood {:.3}", fitted.log_likelihood);
    if let Some(gg) = &spend {
        println!(
            "  Gamma–Gamma    p={:.4} q={:.4} v={:.4} (frequency–spend correlation {:.3})",
            gg.p, gg.q, gg.v, gg.spend_frequency_correlation
        );
        println!(
            "  CLV total      {clv_total:.2} over {} months",
            args.clv_months
        );
    }
    println!("  stages:");
    for (s, c) in custinsight::lifecycle::stage::Stage::ALL.iter().zip(counts) {
        println!("    {:<10} {c:>9}  play: {:?}", s.as_str(), s.play());
    }
    if let Some(p) = &args.scores_out {
        println!("  scores written to {}", p.display());
    }
    Ok(())
}
