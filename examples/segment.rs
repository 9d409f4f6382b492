//! Segment customers with k-means: from a CSV of numeric features to labels,
//! a persisted model, named segment profiles and, optionally, a choice of k.
//!
//! ```text
//! cargo run --release --example segment -- --input features.csv --k 6 --labels-out labels.csv --json
//! cargo run --release --example segment -- --input features.csv --k 6 --choose-k 2..12
//! ```
//!
//! The input (CSV with a header row, or JSON Lines) has numeric columns and
//! an optional `customer_id` column, which is carried to the labels file. It
//! is read through the library's ingestion: a row with a cell that is not a
//! number is rejected with its line, column and reason (on stderr, and under
//! `rows` in `--json`), and the other rows are segmented. Without
//! `--no-scale` every feature is standardised first (missing values imputed by
//! the median, with an indicator column).

mod common;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use custinsight::Error;
use custinsight::ingest::IngestOptions;
use custinsight::ingest::IngestReport;
use custinsight::ingest::table::{ColumnKind, ColumnSpec, TableColumn, TableSpec, read_table_file};
use custinsight::segment::features::FeatureMatrix;
use custinsight::segment::kmeans::KMeansParams;
use custinsight::segment::model::{ProfileContext, SegmentationParams};
use custinsight::segment::scale::{Step, TransformSpec};
use custinsight::segment::select_k::{SilhouetteOptions, choose_k};
use serde_json::json;

/// Segment customers with k-means and describe the segments.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Input CSV: header row, numeric feature columns, optional customer_id column.
    #[arg(long)]
    input: PathBuf,
    /// Number of segments.
    #[arg(long)]
    k: usize,
    /// k-means initialisations (the lowest inertia wins).
    #[arg(long, default_value_t = 3)]
    n_init: usize,
    /// Maximum iterations per initialisation.
    #[arg(long, default_value_t = 300)]
    max_iter: usize,
    /// Seed of the initialisations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Cluster the features as they are (no standardisation).
    #[arg(long)]
    no_scale: bool,
    /// Also score every k in a range, e.g. 2..12, and recommend one.
    #[arg(long, value_name = "LOW..HIGH")]
    choose_k: Option<String>,
    /// Write one row per input row: [customer_id,]segment.
    #[arg(long)]
    labels_out: Option<PathBuf>,
    /// Write the fitted model (transform, centroids, names) as JSON.
    #[arg(long)]
    model_out: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(format!("{}", path.display()), e)
}

/// The feature matrix of a CSV or JSON Lines file, read through ingestion:
/// a row with a non-numeric cell is rejected with its line, column and
/// reason, and the others are used. Also says whether the file has a
/// `customer_id` column, and returns the account of the rows.
fn read_features(path: &Path) -> custinsight::Result<(FeatureMatrix, bool, IngestReport)> {
    let spec = TableSpec::new(vec![
        ColumnSpec::text("customer_id").aliases(&["customer", "id"]),
    ])
    .keep_others(ColumnKind::Number);
    let (table, report) = read_table_file(path, &IngestOptions::default(), &spec)?;
    let (names, columns, lines) = table.into_parts();
    let mut columns = names.into_iter().zip(columns);
    let ids = match columns.next() {
        Some((_, TableColumn::Text(ids))) if ids.iter().any(Option::is_some) => Some(
            ids.into_iter()
                .map(Option::unwrap_or_default)
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let features: Vec<(String, Vec<f64>)> = columns
        .filter_map(|(name, column)| match column {
            TableColumn::Number(values) => Some((name, values)),
            TableColumn::Text(_) => None,
        })
        .collect();
    if features.is_empty() {
        return Err(Error::EmptyInput {
            what: format!("{}: feature columns besides customer_id", path.display()),
        });
    }
    let has_ids = ids.is_some();
    // Without ids, rows are named by their line.
    let ids = ids.unwrap_or_else(|| lines.iter().map(|l| (l - 1).to_string()).collect());
    Ok((FeatureMatrix::from_columns(ids, features)?, has_ids, report))
}

/// A CSV field, quoted when it holds a delimiter, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn parse_range(text: &str) -> custinsight::Result<std::ops::RangeInclusive<usize>> {
    let bad = || Error::InvalidParameter {
        name: "--choose-k",
        value: text.to_owned(),
        reason: "expected LOW..HIGH, e.g. 2..12".into(),
    };
    let (low, high) = text.split_once("..").ok_or_else(bad)?;
    let low: usize = low.trim().parse().map_err(|_| bad())?;
    let high: usize = high
        .trim()
        .trim_start_matches('=')
        .parse()
        .map_err(|_| bad())?;
    Ok(low..=high)
}

fn run(args: &Args) -> custinsight::Result<()> {
    let (features, has_ids, rows) = read_features(&args.input)?;
    if !args.json {
        common::warn_rejections(&args.input, &rows);
    }
    if features.n_rows() == 0 {
        return Err(Error::EmptyInput {
            what: format!("{}: data rows", args.input.display()),
        });
    }
    let choose = args.choose_k.as_deref().map(parse_range).transpose()?;
    let kmeans = KMeansParams {
        k: args.k,
        n_init: args.n_init,
        max_iter: args.max_iter,
        seed: args.seed,
        ..KMeansParams::default()
    };
    let transform = if args.no_scale {
        TransformSpec::new(Vec::new())
    } else {
        TransformSpec::new(vec![Step::Standardize])
    };
    let params = SegmentationParams {
        transform,
        kmeans,
        choose_k: None,
    };
    // Scaling and fitting from the in-memory matrix, all restarts.
    let started = Instant::now();
    let clustered = params.cluster(&features)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let seg = clustered.describe(&features, ProfileContext::default())?;

    let choice = match choose {
        Some(range) => {
            let scaled = seg.model.transform.apply(&features)?;
            Some(choose_k(
                scaled.values(),
                None,
                range,
                &params.kmeans,
                &SilhouetteOptions {
                    seed: args.seed,
                    ..SilhouetteOptions::default()
                },
            )?)
        }
        None => None,
    };
    if let Some(path) = &args.labels_out {
        let mut out = BufWriter::new(File::create(path).map_err(io_err(path))?);
        if has_ids {
            writeln!(out, "customer_id,segment").map_err(io_err(path))?;
            for (id, l) in features.customer_ids().iter().zip(&seg.labels) {
                writeln!(out, "{},{l}", csv_field(id)).map_err(io_err(path))?;
            }
        } else {
            writeln!(out, "segment").map_err(io_err(path))?;
            for l in &seg.labels {
                writeln!(out, "{l}").map_err(io_err(path))?;
            }
        }
        out.flush().map_err(io_err(path))?;
    }
    if let Some(path) = &args.model_out {
        let text = serde_json::to_string_pretty(&seg.model)?;
        std::fs::write(path, text).map_err(io_err(path))?;
    }
    let sizes: Vec<usize> = seg.profiles.iter().map(|p| p.size).collect();
    if args.json {
        let mut out = json!({
            "k": args.k,
            "inertia": seg.model.kmeans.inertia,
            "iterations": seg.model.kmeans.iterations,
            "fit_seconds": fit_seconds,
            "sizes": sizes,
            "names": seg.model.names,
            "rows": common::rows_json(&rows),
        });
        if let Some(c) = &choice {
            out["choose_k"] = json!({
                "recommended": c.recommended,
                "elbow": c.elbow,
                "reason": c.reason,
                "scores": c.scores,
            });
        }
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} customers × {} features → {} segments in {:.3} s ({} iterations, inertia {:.6e}, converged: {})",
        features.n_rows(),
        features.n_features(),
        args.k,
        fit_seconds,
        seg.model.kmeans.iterations,
        seg.model.kmeans.inertia,
        seg.model.kmeans.converged
    );
    for p in &seg.profiles {
        println!(
            "  segment {} · {} · {} customers ({:.1}%)",
            p.id,
            p.name,
            p.size,
            100.0 * p.share
        );
        for d in p.top_features.iter().take(3) {
            println!(
                "      {:<24} mean {:>12.4}   z {:+.2}",
                d.feature, d.mean, d.z
            );
        }
    }
    if let Some(c) = &choice {
        println!("  choosing k:");
        println!("      k   inertia        silhouette  Davies–Bouldin  Calinski–Harabasz");
        for s in &c.scores {
            println!(
                "    {:>3}   {:<13.6e}  {:>9.4}  {:>14.4}  {:>17.1}",
                s.k, s.inertia, s.silhouette.score, s.davies_bouldin, s.calinski_harabasz
            );
        }
        println!("  recommended: {}", c.reason);
    }
    if let Some(p) = &args.labels_out {
        println!("  labels written to {}", p.display());
    }
    if let Some(p) = &args.model_out {
        println!("  model written to {}", p.display());
    }
    Ok(())
}
