//! Customer lifetime value from RFM summaries, or summaries from transactions.
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
use custinsight::lifecycle::btyd::{BgNbdParams, Scores};
use custinsight::lifecycle::btyd::{MbgNbdParams, ParetoNbdParams};
use custinsight::lifecycle::spend::{ClvParams, GammaGammaModel, GammaGammaParams};
use custinsight::lifecycle::stage::{StageInput, StageParams, distribution};
use custinsight::lifecycle::summary::{CalibrationHoldout, Period, Purchase, Summary};
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

/// The columns of a CSV header, by name.
fn columns(
    path: &Path,
    header: &csv::StringRecord,
    names: &[&str],
    optional: &[&str],
) -> custinsight::Result<Vec<Option<usize>>> {
    let find = |n: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(n));
    let mut out = Vec::new();
    for n in names {
        out.push(Some(find(n).ok_or_else(|| {
            Error::InvalidInput(format!(
                "{}: missing column `{n}` (header: {})",
                path.display(),
                header.iter().collect::<Vec<_>>().join(",")
            ))
        })?));
    }
    out.extend(optional.iter().map(|n| find(n)));
    Ok(out)
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
    let mut reader = csv::Reader::from_path(path).map_err(|e| csv_err(path, e))?;
    let header = reader.headers().map_err(|e| csv_err(path, e))?.clone();
    // `timestamp` is accepted for `date`, so files written by the quickstart work too.
    let date_column = if header.iter().any(|h| h.trim().eq_ignore_ascii_case("date")) {
        "date"
    } else {
        "timestamp"
    };
    let cols = columns(path, &header, &["customer_id", date_column, "amount"], &[])?;
    let (ci, di, ai) = (
        cols[0].unwrap_or(0),
        cols[1].unwrap_or(1),
        cols[2].unwrap_or(2),
    );
    let mut rows: Vec<(String, jiff::Timestamp, f64)> = Vec::new();
    for (k, record) in reader.records().enumerate() {
        let line = k + 2;
        let record = record.map_err(|e| csv_err(path, e))?;
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let id = field(ci);
        if id.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{}:{line}: empty customer_id",
                path.display()
            )));
        }
        let raw = field(di);
        let ts = raw
            .parse::<jiff::Timestamp>()
            .or_else(|_| {
                raw.parse::<jiff::civil::DateTime>()
                    .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC))
                    .map(|z| z.timestamp())
            })
            .or_else(|_| {
                raw.parse::<jiff::civil::Date>()
                    .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC))
                    .map(|z| z.timestamp())
            })
            .map_err(|e| {
                Error::InvalidInput(format!("{}:{line}: date `{raw}`: {e}", path.display()))
            })?;
        let amount: f64 = field(ai)
            .parse()
            .ok()
            .filter(|a: &f64| a.is_finite())
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{}:{line}: amount `{}` is not a finite number",
                    path.display(),
                    field(ai)
                ))
            })?;
        rows.push((id.to_owned(), ts, amount));
    }
    let purchases = rows.iter().map(|(id, ts, amount)| Purchase {
        customer_id: id,
        timestamp: *ts,
        amount: *amount,
    });
    let file = File::create(out_path).map_err(io_err(out_path))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    let (summary, holdout) = match &args.calibration_end {
        Some(cal) => {
            let ch = CalibrationHoldout::from_purchases(
                purchases,
                period,
                date("calibration-end", cal)?,
                end,
            )?;
            let summary = ch.calibration.clone();
            (summary, Some(ch))
        }
        None => (Summary::from_purchases(purchases, period, end)?, None),
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
            summary.frequency[i].to_string(),
            summary.recency[i].to_string(),
            summary.age[i].to_string(),
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
            json!({"transactions": rows.len(), "customers": summary.len(), "excluded_after_end": summary.excluded_after_end,
                   "period": args.period, "summary_out": out_path.display().to_string()})
        );
    } else {
        println!(
            "{} transactions → {} customers summarised in {} periods ({} with a first purchase after the end left out); wrote {}",
            rows.len(),
            summary.len(),
            args.period,
            summary.excluded_after_end,
            out_path.display()
        );
    }
    Ok(())
}

fn read_summary(path: &Path, period: Period) -> custinsight::Result<Summary> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| csv_err(path, e))?;
    let header = reader.headers().map_err(|e| csv_err(path, e))?.clone();
    let cols = columns(
        path,
        &header,
        &["customer_id", "frequency", "recency", "T"],
        &["monetary_value"],
    )?;
    let mut s = Summary {
        period,
        observation_end: jiff::civil::date(1970, 1, 1),
        customer_ids: Vec::new(),
        frequency: Vec::new(),
        recency: Vec::new(),
        age: Vec::new(),
        monetary_value: Vec::new(),
        excluded_after_end: 0,
    };
    for (k, record) in reader.records().enumerate() {
        let line = k + 2;
        let record = record.map_err(|e| csv_err(path, e))?;
        let num = |c: Option<usize>, name: &str| -> custinsight::Result<f64> {
            let raw = c.and_then(|c| record.get(c)).unwrap_or("0").trim();
            raw.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "{}:{line}: {name} `{raw}` is not a finite number >= 0",
                        path.display()
                    ))
                })
        };
        s.customer_ids.push(
            cols[0]
                .and_then(|c| record.get(c))
                .unwrap_or("")
                .trim()
                .to_owned(),
        );
        s.frequency.push(num(cols[1], "frequency")?);
        s.recency.push(num(cols[2], "recency")?);
        s.age.push(num(cols[3], "T")?);
        s.monetary_value.push(if cols[4].is_some() {
            num(cols[4], "monetary_value")?
        } else {
            0.0
        });
    }
    Ok(s)
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
    let summary = read_summary(path, period)?;
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
        let (x, tx, t) = (summary.frequency[i], summary.recency[i], summary.age[i]);
        let (p_alive, expected) = (scores.p_alive[i], scores.expected_purchases[i]);
        let stage = stages.assign(
            &StageInput {
                repeat_purchases: Some(x),
                recency: tx,
                age: t,
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
