//! Validate and load customer data files, accounting for every row.
//!
//! ```text
//! cargo run --release --example ingest -- --transactions tx.csv
//! cargo run --release --example ingest -- --transactions tx.csv --customers customers.csv --touchpoints tp.jsonl --json
//! cargo run --release --example ingest -- --touchpoints tp.csv
//! ```
//!
//! With `--json` it prints one object:
//! `{"rows": N, "accepted": A, "rejected": R, "rejections": [{"line": L, "field": "...", "reason": "...", "file": "..."}], ...}`.
//! Exit status: 0 when the files were read (even with rejected rows), 1 on an
//! error that stops reading (missing file, missing column, strict-mode rejection),
//! 2 on bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod common;
use custinsight::Error;
use custinsight::ingest::{IngestOptions, InputReport, Loader};
use custinsight::records::Currency;
use serde_json::json;

/// Validate and load customers, transactions, touchpoints and consent from CSV or JSON Lines.
///
/// The format follows the file extension: .jsonl/.ndjson/.json are JSON Lines, anything else CSV.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Transactions file: customer_id,order_id,timestamp,amount,currency,channel (plus optional is_refund, store).
    #[arg(long)]
    transactions: Option<PathBuf>,
    /// Customers file: customer_id plus any of given_name, family_name, email, phone, birth_date, ...
    #[arg(long)]
    customers: Option<PathBuf>,
    /// Touchpoints file: customer_id,timestamp,channel,kind (plus optional campaign, topic, cost, ...).
    #[arg(long)]
    touchpoints: Option<PathBuf>,
    /// Consent file: customer_id,purpose,status,timestamp (plus optional channel).
    #[arg(long)]
    consents: Option<PathBuf>,
    /// Stop at the first invalid row and reject unknown labels.
    #[arg(long)]
    strict: bool,
    /// CSV delimiter (one ASCII character).
    #[arg(long, default_value_t = ',')]
    delimiter: char,
    /// Currency for rows without one.
    #[arg(long)]
    default_currency: Option<String>,
    /// Map a canonical field to a column name, e.g. --column customer_id=kunden_nr (repeatable).
    #[arg(long = "column", value_name = "FIELD=COLUMN")]
    columns: Vec<String>,
    /// How many rejections to list in the text output.
    #[arg(long, default_value_t = 20)]
    show: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

fn options(args: &Args) -> custinsight::Result<IngestOptions> {
    let mut opts = if args.strict {
        IngestOptions::strict()
    } else {
        IngestOptions::default()
    };
    opts.delimiter = u8::try_from(args.delimiter).map_err(|_| {
        Error::InvalidInput(format!(
            "delimiter `{}` is not a single ASCII character",
            args.delimiter
        ))
    })?;
    if let Some(code) = &args.default_currency {
        opts.default_currency = Some(Currency::parse(code)?);
    }
    for mapping in &args.columns {
        let (field, column) = mapping.split_once('=').ok_or_else(|| {
            Error::InvalidInput(format!("--column expects FIELD=COLUMN, got `{mapping}`"))
        })?;
        opts = opts.map_column(field.trim(), column.trim());
    }
    opts.check()?;
    Ok(opts)
}

fn run(args: &Args) -> custinsight::Result<()> {
    let mut loader = Loader::new(options(args)?);
    if let Some(path) = &args.customers {
        loader.customers_file(path)?;
    }
    if let Some(path) = &args.transactions {
        loader.transactions_file(path)?;
    }
    if let Some(path) = &args.touchpoints {
        loader.touchpoints_file(path)?;
    }
    if let Some(path) = &args.consents {
        loader.consents_file(path)?;
    }
    let (base, inputs) = loader.finish()?;
    let (rows, accepted, rejected) = inputs.iter().fold((0, 0, 0), |(r, a, x), i| {
        (
            r + i.report.rows,
            a + i.report.accepted,
            x + i.report.rejected,
        )
    });

    if args.json {
        let rejections: Vec<_> = inputs
            .iter()
            .flat_map(|i| {
                i.report
                    .rejections
                    .iter()
                    .map(move |r| json!({"line": r.line, "field": r.field, "reason": r.reason, "file": i.source}))
            })
            .collect();
        let files: Vec<_> = inputs.iter().map(file_json).collect();
        let out = json!({
            "rows": rows,
            "accepted": accepted,
            "rejected": rejected,
            "rejections": rejections,
            "files": files,
            "customers": base.n_customers(),
            "transactions": base.n_transactions(),
            "touchpoints": base.n_touchpoints(),
        });
        println!("{out}");
        return Ok(());
    }

    println!(
        "{:<13} {:<40} {:>10} {:>10} {:>9}",
        "kind", "file", "rows", "accepted", "rejected"
    );
    for i in &inputs {
        println!(
            "{:<13} {:<40} {:>10} {:>10} {:>9}",
            i.kind, i.source, i.report.rows, i.report.accepted, i.report.rejected
        );
    }
    println!(
        "{:<13} {:<40} {rows:>10} {accepted:>10} {rejected:>9}",
        "total", ""
    );
    println!();
    println!(
        "loaded {} customers, {} transactions, {} touchpoints",
        base.n_customers(),
        base.n_transactions(),
        base.n_touchpoints()
    );
    let all: Vec<_> = inputs
        .iter()
        .flat_map(|i| i.report.rejections.iter().map(move |r| (&i.source, r)))
        .collect();
    if !all.is_empty() {
        println!();
        println!(
            "rejected rows (first {} of {}):",
            args.show.min(all.len()),
            all.len()
        );
        for (source, r) in all.iter().take(args.show) {
            println!("  {source}:{} [{}] {}", r.line, r.field, r.reason);
        }
    }
    Ok(())
}

fn file_json(i: &InputReport) -> serde_json::Value {
    json!({"kind": i.kind, "file": i.source, "rows": i.report.rows, "accepted": i.report.accepted, "rejected": i.report.rejected})
}
