//! What goes together: frequent itemsets and association rules of a file of
//! baskets.
//!
//! ```text
//! cargo run --release --example basket -- --baskets orders.csv --min-support 0.01
//! cargo run --release --example basket -- --baskets retail.dat --format fimi \
//!     --min-support 0.005 --min-confidence 0.3 --itemsets-out itemsets.csv --rules-out rules.csv --json
//! ```
//!
//! Input: CSV `order_id,item` with a header, one row per item (an item
//! repeated in an order counts once; rows of one order need not be
//! adjacent), or FIMI: one basket per line, items separated by blanks (a
//! blank line is an empty basket). The format follows `--format`, else the
//! extension (`.csv` is CSV, anything else FIMI). A CSV row without an order
//! id or item, and a FIMI line that is not UTF-8, is rejected with its line,
//! field and reason; read = accepted + rejected.
//!
//! `--itemsets-out` writes `support_count,items`, `--rules-out` writes
//! `antecedent,consequent,support,confidence,lift` (support as a share), with
//! items space-separated in ascending order (numerically when both are
//! numbers). Rules come from all frequent itemsets (mined again when
//! `--closed` or `--maximal` is given) and are kept when their confidence
//! reaches `--min-confidence` and, tested by Fisher's exact test with
//! Benjamini–Hochberg control over all candidate rules, their adjusted
//! p-value is at most `--max-fdr` (1 keeps them whatever their significance).
//! `--json` prints one object with `baskets`, `items`, `itemsets`, `rules`,
//! `mine_seconds` (the itemset search alone) and `rows: {read, accepted,
//! rejected}`.

mod common;

use std::cmp::Ordering;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use custinsight::Error;
use custinsight::basket::{
    Baskets, BasketsBuilder, ItemsetKind, Itemsets, MinSupport, MiningParams, RuleParams, Rules,
    association_rules, frequent_itemsets,
};
use custinsight::ingest::table::{ColumnSpec, TableSpec, read_table_file};
use custinsight::ingest::{IngestOptions, IngestReport, Rejection};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum FormatArg {
    /// `order_id,item` with a header, one row per item.
    Csv,
    /// One basket per line, items separated by blanks.
    Fimi,
}

/// Frequent itemsets and association rules of a file of baskets.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The baskets: CSV `order_id,item` or FIMI.
    #[arg(long)]
    baskets: PathBuf,
    /// The input format (default: from the extension, `.csv` or FIMI).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Minimum support, as a share of the baskets in (0, 1].
    #[arg(long, default_value_t = 0.01)]
    min_support: f64,
    /// Minimum confidence of a rule, in [0, 1].
    #[arg(long, default_value_t = 0.5)]
    min_confidence: f64,
    /// Keep rules whose Benjamini–Hochberg adjusted p-value is at most this (1 keeps all).
    #[arg(long, default_value_t = 0.05)]
    max_fdr: f64,
    /// Longest itemset.
    #[arg(long)]
    max_len: Option<usize>,
    /// Only closed itemsets (no superset with the same support).
    #[arg(long, conflicts_with = "maximal")]
    closed: bool,
    /// Only maximal itemsets (no frequent superset).
    #[arg(long)]
    maximal: bool,
    /// The most itemsets the search may produce before it stops with an error.
    #[arg(long, default_value_t = 20_000_000)]
    max_itemsets: u64,
    /// Where to write `support_count,items`.
    #[arg(long)]
    itemsets_out: Option<PathBuf>,
    /// Where to write `antecedent,consequent,support,confidence,lift`.
    #[arg(long)]
    rules_out: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

fn run(args: &Args) -> custinsight::Result<()> {
    let format = args.format.unwrap_or_else(|| {
        let csv = args
            .baskets
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if csv { FormatArg::Csv } else { FormatArg::Fimi }
    });
    let (baskets, report) = match format {
        FormatArg::Csv => read_csv(&args.baskets)?,
        FormatArg::Fimi => read_fimi(&args.baskets)?,
    };
    if !args.json {
        common::warn_rejections(&args.baskets, &report);
    }
    let kind = if args.closed {
        ItemsetKind::Closed
    } else if args.maximal {
        ItemsetKind::Maximal
    } else {
        ItemsetKind::All
    };
    let params = MiningParams {
        min_support: MinSupport::Share(args.min_support),
        max_len: args.max_len,
        kind,
        max_itemsets: args.max_itemsets,
        ..MiningParams::default()
    };
    let rule_params = RuleParams {
        min_confidence: args.min_confidence,
        min_lift: None,
        max_fdr: Some(args.max_fdr),
    };
    rule_params.check()?;
    let started = Instant::now();
    let itemsets = frequent_itemsets(&baskets, &params)?;
    let mine_seconds = started.elapsed().as_secs_f64();
    let rules = if kind == ItemsetKind::All {
        association_rules(&itemsets, &rule_params)?
    } else {
        let all = frequent_itemsets(
            &baskets,
            &MiningParams {
                kind: ItemsetKind::All,
                ..params
            },
        )?;
        association_rules(&all, &rule_params)?
    };
    if let Some(path) = &args.itemsets_out {
        write_itemsets(path, &baskets, &itemsets)?;
    }
    if let Some(path) = &args.rules_out {
        write_rules(path, &baskets, &rules)?;
    }
    if args.json {
        let top: Vec<_> = rules
            .rules
            .iter()
            .take(10)
            .map(|r| {
                json!({
                    "antecedent": items_text(&baskets, &r.antecedent),
                    "consequent": items_text(&baskets, &r.consequent),
                    "support": r.support,
                    "confidence": r.confidence,
                    "lift": r.lift,
                    "q_value": r.q_value,
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "baskets": baskets.len(),
                "items": baskets.n_items(),
                "itemsets": itemsets.itemsets.len(),
                "rules": rules.rules.len(),
                "rules_tested": rules.tested,
                "min_support_count": itemsets.min_count,
                "kind": kind,
                "mine_seconds": mine_seconds,
                "top_rules": top,
                "rows": common::rows_json(&report),
            })
        );
    } else {
        println!(
            "{} baskets, {} items, {} (basket, item) pairs",
            baskets.len(),
            baskets.n_items(),
            baskets.n_entries()
        );
        println!(
            "{} {} itemsets at a support of at least {} baskets ({:.3} s)",
            itemsets.itemsets.len(),
            match kind {
                ItemsetKind::All => "frequent",
                ItemsetKind::Closed => "closed frequent",
                ItemsetKind::Maximal => "maximal frequent",
            },
            itemsets.min_count,
            mine_seconds
        );
        println!(
            "{} rules with confidence >= {} and adjusted p <= {} (of {} tested)",
            rules.rules.len(),
            args.min_confidence,
            args.max_fdr,
            rules.tested
        );
        for r in rules.rules.iter().take(10) {
            println!(
                "  {} -> {}: support {:.4}, confidence {:.3}, lift {:.2}, q {:.2e}",
                items_text(&baskets, &r.antecedent),
                items_text(&baskets, &r.consequent),
                r.support,
                r.confidence,
                r.lift,
                r.q_value
            );
        }
    }
    Ok(())
}

/// CSV `order_id,item`: baskets in order of first appearance of their order id.
fn read_csv(path: &Path) -> custinsight::Result<(Baskets, IngestReport)> {
    let spec = TableSpec::new(vec![
        ColumnSpec::text("order_id").filled(),
        ColumnSpec::text("item").filled(),
    ]);
    let (table, report) = read_table_file(path, &IngestOptions::default(), &spec)?;
    let orders = table.texts("order_id").unwrap_or(&[]);
    let items = table.texts("item").unwrap_or(&[]);
    let mut basket_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut lists: Vec<Vec<&str>> = Vec::new();
    for (order, item) in orders.iter().zip(items) {
        let (Some(order), Some(item)) = (order.as_deref(), item.as_deref()) else {
            continue;
        };
        let next = lists.len();
        let b = *basket_of.entry(order).or_insert(next);
        if b == next {
            lists.push(Vec::new());
        }
        lists[b].push(item);
    }
    Ok((Baskets::from_baskets(lists)?, report))
}

/// FIMI: one basket per line; a line that is not UTF-8 is rejected.
fn read_fimi(path: &Path) -> custinsight::Result<(Baskets, IngestReport)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let mut report = IngestReport::default();
    let mut b = BasketsBuilder::new();
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if bytes.is_empty() {
        return Ok((b.build(), report));
    }
    for (k, line) in body.split(|&c| c == b'\n').enumerate() {
        report.rows += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(text) => {
                for item in text.split([' ', '\t']).filter(|s| !s.is_empty()) {
                    b.push_item(item)?;
                }
                b.finish_basket();
                report.accepted += 1;
            }
            Err(e) => {
                report.rejected += 1;
                report.rejections.push(Rejection {
                    line: k as u64 + 1,
                    field: "items".into(),
                    reason: format!("not UTF-8 ({e})"),
                });
            }
        }
    }
    Ok((b.build(), report))
}

/// Numbers before text, numbers by value, text by bytes.
fn item_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

fn items_text(baskets: &Baskets, codes: &[u32]) -> String {
    let mut names: Vec<&str> = codes.iter().map(|&c| baskets.item_name(c)).collect();
    names.sort_by(|a, b| item_order(a, b));
    names.join(" ")
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn create(path: &Path) -> custinsight::Result<std::io::BufWriter<std::fs::File>> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    Ok(std::io::BufWriter::new(file))
}

fn write_itemsets(path: &Path, baskets: &Baskets, itemsets: &Itemsets) -> custinsight::Result<()> {
    let io = |e| Error::io(path.display().to_string(), e);
    let mut out = create(path)?;
    writeln!(out, "support_count,items").map_err(io)?;
    for s in &itemsets.itemsets {
        writeln!(
            out,
            "{},{}",
            s.support,
            field(&items_text(baskets, &s.items))
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)
}

fn write_rules(path: &Path, baskets: &Baskets, rules: &Rules) -> custinsight::Result<()> {
    let io = |e| Error::io(path.display().to_string(), e);
    let mut out = create(path)?;
    writeln!(out, "antecedent,consequent,support,confidence,lift").map_err(io)?;
    for r in &rules.rules {
        writeln!(
            out,
            "{},{},{},{},{}",
            field(&items_text(baskets, &r.antecedent)),
            field(&items_text(baskets, &r.consequent)),
            r.support,
            r.confidence,
            r.lift
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)
}
