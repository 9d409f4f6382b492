//! Find the customers behind customer records: dedupe one CSV file, or link
//! two, with Fellegi–Sunter matching and settings chosen from the data.
//!
//! ```text
//! cargo run --release --example dedupe -- --left crm.csv --id-col id --auto --json
//! cargo run --release --example dedupe -- --left shop.csv --right loyalty.csv --id-col id \
//!     --auto --settings-out settings.json --pairs-out pairs.csv --entities-out entities.csv
//! cargo run --release --example dedupe -- --left crm.csv --id-col id --settings settings.json
//! cargo run --release --example dedupe -- --left crm.csv --id-col id --auto --labels reviewed.csv
//! ```
//!
//! Every column but the id column is a candidate field. With `--auto` the
//! settings (cleansing, blocking rules, comparisons) are chosen from a
//! profile of the columns; `--settings-out` saves them with the fitted model
//! so they can be inspected, edited and passed back with `--settings`.
//! The files (CSV, or JSON Lines by extension) are read through the
//! library's ingestion: rows that cannot be used (wrong number of fields,
//! an empty or repeated id, invalid UTF-8) are reported on stderr with line,
//! field and reason and left out; `rows` in `--json` counts them.
//!
//! `--labels` takes pairs a reviewer labelled (`left_id,right_id,is_match`,
//! `is_match` one of `1`/`0`, `true`/`false`, `yes`/`no`): `m` is then
//! estimated from the labelled matches instead of by EM
//! ([`Resolver::fit_labelled`]). The summary says, per field, where `m`
//! came from, and why EM could not estimate it where it could not.

mod common;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use custinsight::Error;
use custinsight::identity::RecordTable;
use custinsight::identity::auto::resolve_auto;
use custinsight::identity::resolve::{LabelledPair, MSource, Resolver};
use custinsight::identity::settings::Settings;
use custinsight::ingest::IngestOptions;
use custinsight::ingest::table::{ColumnKind, ColumnSpec, TableColumn, TableSpec, read_table_file};
use serde_json::json;

/// Dedupe or link customer records.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Records to dedupe (or the left side of a link): CSV with a header row.
    #[arg(long)]
    left: PathBuf,
    /// Records to link with the left file (same columns).
    #[arg(long)]
    right: Option<PathBuf>,
    /// The column holding each record's id.
    #[arg(long)]
    id_col: String,
    /// Settings JSON (as written by --settings-out).
    #[arg(long, conflicts_with = "auto", required_unless_present = "auto")]
    settings: Option<PathBuf>,
    /// Choose the settings from a profile of the data.
    #[arg(long)]
    auto: bool,
    /// Match probability from which a pair is a match (default: the settings', 0.5).
    #[arg(long)]
    threshold: Option<f64>,
    /// Write the matched pairs: left_id,right_id,match_probability.
    #[arg(long)]
    pairs_out: Option<PathBuf>,
    /// Write every record's customer: source,record_id,entity_id.
    #[arg(long)]
    entities_out: Option<PathBuf>,
    /// Write the settings used, with the fitted model.
    #[arg(long)]
    settings_out: Option<PathBuf>,
    /// Reviewed pairs to estimate m from: CSV `left_id,right_id,is_match`.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// One JSON object on stdout instead of the text summary.
    #[arg(long)]
    json: bool,
}

/// Rows read and rejected from one file.
struct Loaded {
    table: RecordTable,
    read: usize,
    rejected: usize,
}

/// Reads records through ingestion: the id column (unique, not empty) and
/// every other column as text; a rejected row is reported on stderr with
/// its line, field and reason.
fn load(path: &Path, id_col: &str) -> custinsight::Result<Loaded> {
    let spec = TableSpec::new(vec![ColumnSpec::text(id_col).filled()])
        .keep_others(ColumnKind::Text)
        .unique(&[id_col])?;
    let (table, report) = read_table_file(path, &IngestOptions::default(), &spec)?;
    common::warn_rejections(path, &report);
    let (names, columns, _) = table.into_parts();
    let mut texts = columns.into_iter().map(|c| match c {
        TableColumn::Text(v) => v,
        TableColumn::Number(v) => v.iter().map(|x| Some(x.to_string())).collect(),
    });
    let ids = texts.next().unwrap_or_default();
    let columns: Vec<Vec<Option<String>>> = texts.collect();
    let mut records = RecordTable::new(names.into_iter().skip(1))?;
    for (r, id) in ids.into_iter().enumerate() {
        let values = columns.iter().map(|c| c.get(r).cloned().flatten());
        records.push(id.unwrap_or_default(), values)?;
    }
    Ok(Loaded {
        table: records,
        read: report.rows as usize,
        rejected: report.rejected as usize,
    })
}

/// Reads reviewed pairs through ingestion: header `left_id,right_id,is_match`;
/// a row whose label is not 1/0, true/false or yes/no is rejected with its line.
fn load_labels(path: &Path) -> custinsight::Result<Vec<LabelledPair>> {
    let spec = TableSpec::new(vec![
        ColumnSpec::text("left_id").filled(),
        ColumnSpec::text("right_id").filled(),
        ColumnSpec::text("is_match").filled(),
    ]);
    let (table, mut report) = read_table_file(path, &IngestOptions::default(), &spec)?;
    let text = |name: &str| table.texts(name).unwrap_or(&[]);
    let (left, right, label) = (text("left_id"), text("right_id"), text("is_match"));
    let mut out = Vec::new();
    for (i, &line) in table.lines().iter().enumerate() {
        let field = |c: &[Option<String>]| c.get(i).cloned().flatten().unwrap_or_default();
        let is_match = match field(label).trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => true,
            "0" | "false" | "no" => false,
            other => {
                report.reject_accepted(
                    line,
                    "is_match",
                    format!("`{other}` is not 1/0, true/false or yes/no"),
                );
                continue;
            }
        };
        out.push(LabelledPair::new(field(left), field(right), is_match));
    }
    common::warn_rejections(path, &report);
    Ok(out)
}

fn create(path: &Path) -> custinsight::Result<BufWriter<File>> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| Error::io(path.display().to_string(), e))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn run(args: Args) -> custinsight::Result<()> {
    let left = load(&args.left, &args.id_col)?;
    let right = args
        .right
        .as_deref()
        .map(|p| load(p, &args.id_col))
        .transpose()?;
    let mut tables = vec![&left.table];
    if let Some(r) = &right {
        tables.push(&r.table);
    }
    let given: Option<Settings> = match &args.settings {
        Some(path) => {
            let file = File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
            Some(serde_json::from_reader(std::io::BufReader::new(file))?)
        }
        None => None,
    };
    let labels = args.labels.as_deref().map(load_labels).transpose()?;

    let started = Instant::now();
    let (mut resolver, mut resolution) = match given {
        Some(mut settings) => {
            if let Some(t) = args.threshold {
                settings.threshold = t;
            }
            Resolver::fit(&tables, &settings)?
        }
        None => {
            let threshold = args.threshold.unwrap_or(0.5);
            let (_, resolver, resolution) = resolve_auto(&tables, threshold)?;
            (resolver, resolution)
        }
    };
    if let Some(labels) = &labels {
        resolution = resolver.fit_labelled(labels)?;
    }
    let fit_seconds = started.elapsed().as_secs_f64();

    let n_left = left.table.len();
    // Record index → (source, id) in the concatenated order.
    let id_of = |r: u32| -> (&str, &str) {
        let r = r as usize;
        if r < n_left {
            ("left", left.table.ids()[r].as_str())
        } else {
            let t = right.as_ref().map(|x| &x.table).unwrap_or(&left.table);
            ("right", t.ids()[r - n_left].as_str())
        }
    };
    if let Some(path) = &args.pairs_out {
        let mut w = create(path)?;
        let io = |e| Error::io(path.display().to_string(), e);
        writeln!(w, "left_id,right_id,match_probability").map_err(io)?;
        for p in &resolution.matches {
            let (a, b) = (p.left.min(p.right), p.left.max(p.right));
            writeln!(
                w,
                "{},{},{}",
                csv_field(id_of(a).1),
                csv_field(id_of(b).1),
                p.probability
            )
            .map_err(io)?;
        }
        w.flush().map_err(io)?;
    }
    if let Some(path) = &args.entities_out {
        let mut w = create(path)?;
        let io = |e| Error::io(path.display().to_string(), e);
        writeln!(w, "source,record_id,entity_id").map_err(io)?;
        for (r, e) in resolver.entities().entity_of().iter().enumerate() {
            let (source, id) = id_of(r as u32);
            writeln!(w, "{source},{},{e}", csv_field(id)).map_err(io)?;
        }
        w.flush().map_err(io)?;
    }
    let used = resolver.settings();
    if let Some(path) = &args.settings_out {
        let mut w = create(path)?;
        serde_json::to_writer_pretty(&mut w, &used)?;
        w.flush()
            .map_err(|e| Error::io(path.display().to_string(), e))?;
    }
    let read = left.read + right.as_ref().map_or(0, |r| r.read);
    let rejected = left.rejected + right.as_ref().map_or(0, |r| r.rejected);
    let entities = resolver.entities().entity_count();
    if args.json {
        let out = json!({
            "records": resolution.records,
            "candidate_pairs": resolution.candidate_pairs,
            "matches": resolution.matches.len(),
            "entities": entities,
            "fit_seconds": fit_seconds,
            "settings": used,
            "m_estimation": resolution.m_estimation,
            "rows": {"read": read, "accepted": read - rejected, "rejected": rejected},
        });
        println!("{out}");
        return Ok(());
    }
    let mode = if right.is_some() {
        "linked"
    } else {
        "deduplicated"
    };
    println!(
        "{} records {mode} in {fit_seconds:.3} s ({rejected} rows rejected of {read})",
        resolution.records
    );
    println!("\nblocking rules (pairs found, new to the union):");
    for r in &resolution.blocking {
        let skipped = if r.skipped_blocks > 0 {
            format!(
                ", {} blocks of {} records skipped as too large",
                r.skipped_blocks, r.skipped_records
            )
        } else {
            String::new()
        };
        println!(
            "  {:<44} {:>10} {:>10}{skipped}",
            r.rule, r.pairs, r.new_pairs
        );
    }
    println!("  candidate pairs compared: {}", resolution.candidate_pairs);
    if let Some(em) = &resolution.em {
        println!(
            "\nEM: {} iterations over {} comparison patterns, {}; λ = {:.5}",
            em.iterations,
            em.patterns,
            if em.converged {
                "converged"
            } else {
                "not converged"
            },
            resolver.model().lambda
        );
    }
    println!("\nmatch weight of exact agreement (log2 m/u) per field, and where m came from:");
    for (k, name) in resolver.model().names.iter().enumerate() {
        let (m, u) = (&resolver.model().m[k], &resolver.model().u[k]);
        let top = m.len() - 1;
        let source = match resolution.m_estimation.get(k).map(|e| e.source) {
            Some(MSource::Em) => "EM",
            Some(MSource::Labelled) => "labelled pairs",
            Some(MSource::Fixed) => "fixed in the settings",
            Some(MSource::Prior) => "NOT ESTIMATED: the prior's mean",
            Some(MSource::Start) => "NOT ESTIMATED: the starting value",
            Some(MSource::Given) => "the settings' model",
            _ => "?",
        };
        println!(
            "  {name:<20} {:>7.2}   disagreement {:>7.2}   m: {source}",
            (m[top] / u[top]).log2(),
            (m[0] / u[0]).log2()
        );
    }
    for e in resolution
        .m_estimation
        .iter()
        .filter(|e| matches!(e.source, MSource::Prior | MSource::Start))
    {
        println!("  why m of {} was not estimated:", e.comparison);
        for why in &e.not_estimated {
            println!("    - {why}");
        }
    }
    println!("\nexpected precision / recall by threshold (from the model):");
    for t in &resolution.tradeoff {
        let mark = if t.threshold == used.threshold {
            " ←"
        } else {
            ""
        };
        println!(
            "  p ≥ {:<6} {:>9} pairs   precision {:.4}   recall {:.4}{mark}",
            t.threshold, t.pairs, t.expected_precision, t.expected_recall
        );
    }
    let summary = resolver.entities().summary();
    println!(
        "\n{} matches → {entities} customers ({} with one record, largest {} records; {} links refused by guards)",
        resolution.matches.len(),
        summary.singletons,
        summary.largest,
        summary.refused_max_size + summary.refused_conflict
    );
    Ok(())
}

fn main() -> ExitCode {
    common::finish(run(Args::parse()))
}
