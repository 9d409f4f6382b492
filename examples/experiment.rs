//! Evaluate an A/B(/n) experiment from a CSV of unit outcomes: effects with
//! confidence intervals, relative lift, CUPED, always-valid sequential
//! p-values, chance to win and risk, overall and per segment, with the
//! sample-ratio check, multiple-testing adjustment and a verdict per segment.
//!
//! ```text
//! cargo run --release --example experiment -- --input results.csv --metric binomial
//! cargo run --release --example experiment -- --input results.csv --metric mean \
//!     --segment-col segment --covariate-col pre_value --json
//! ```
//!
//! The input has a header with `unit_id,variant,value` and the optional
//! columns named by `--segment-col` and `--covariate-col`; it is read
//! through the library's ingestion (CSV, or JSON Lines by extension). Rows
//! that cannot be used (empty or repeated unit id, a value that is not a
//! number, a binomial value other than 0 or 1, …) are skipped and reported on
//! stderr and under `rows` in `--json` with their line, field and reason;
//! read = accepted + rejected.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use custinsight::Error;
use custinsight::experiment::evaluate::{
    EvalParams, Evaluation, SegmentResult, VariantResult, evaluate,
};
use custinsight::experiment::stats::{ExperimentStats, Metric, MetricKind};
use custinsight::ingest::table::{ColumnSpec, TableSpec, read_table_file};
use custinsight::ingest::{IngestOptions, IngestReport};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MetricArg {
    /// Any number per unit (revenue, basket size); Welch's t-test.
    Mean,
    /// 0 or 1 per unit (converted); pooled two-proportion z-test.
    Binomial,
}

/// Evaluate an experiment: overall and per segment.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Input CSV with a header: unit_id,variant,value and the optional columns below.
    #[arg(long)]
    input: PathBuf,
    /// What the value column holds.
    #[arg(long, value_enum)]
    metric: MetricArg,
    /// The control variant (default: the first variant name in sorted order).
    #[arg(long)]
    control: Option<String>,
    /// Column holding each unit's segment; adds a per-segment evaluation.
    #[arg(long)]
    segment_col: Option<String>,
    /// Column holding a pre-period covariate; relative, sequential and Bayesian figures become CUPED-adjusted.
    #[arg(long)]
    covariate_col: Option<String>,
    /// Significance level; intervals are at 1 − alpha.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Planned traffic weights for the sample-ratio test, one per variant in sorted name order (default: equal).
    #[arg(long, value_delimiter = ',')]
    weights: Option<Vec<f64>>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

/// Names in order of first appearance, each with a dense index.
#[derive(Default)]
struct Interner {
    names: Vec<String>,
    index: hashbrown::HashMap<String, u32>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    /// The names sorted, and the indices rewritten to match.
    fn sorted(self, indices: &mut [u32]) -> Vec<String> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut new_index = vec![0u32; order.len()];
        for (rank, &old) in order.iter().enumerate() {
            new_index[old as usize] = rank as u32;
        }
        for i in indices.iter_mut() {
            *i = new_index[*i as usize];
        }
        order
            .into_iter()
            .map(|i| self.names[i as usize].clone())
            .collect()
    }
}

/// The usable rows of the file, as columns.
struct Rows {
    variant: Vec<u32>,
    variants: Interner,
    segment: Vec<u32>,
    segments: Interner,
    value: Vec<f64>,
    covariate: Option<Vec<f64>>,
    /// The account of the file's rows.
    report: IngestReport,
}

fn read_rows(args: &Args) -> custinsight::Result<Rows> {
    let path: &Path = &args.input;
    let binomial = matches!(args.metric, MetricArg::Binomial);
    let mut columns = vec![
        ColumnSpec::text("unit_id").filled(),
        ColumnSpec::text("variant").filled(),
        ColumnSpec::number("value").filled(),
    ];
    if let Some(c) = &args.segment_col {
        columns.push(ColumnSpec::text(c.clone()).filled());
    }
    if let Some(c) = &args.covariate_col {
        columns.push(ColumnSpec::number(c.clone()).filled());
    }
    let spec = TableSpec::new(columns).unique(&["unit_id"])?;
    let (table, mut report) = read_table_file(path, &IngestOptions::default(), &spec)?;
    let texts = |name: &str| table.texts(name).unwrap_or(&[]);
    let (variants, values) = (texts("variant"), table.numbers("value").unwrap_or(&[]));
    let segments = args.segment_col.as_deref().map(texts);
    let covariates = args.covariate_col.as_deref().and_then(|c| table.numbers(c));
    let mut rows = Rows {
        variant: Vec::new(),
        variants: Interner::default(),
        segment: Vec::new(),
        segments: Interner::default(),
        value: Vec::new(),
        covariate: covariates.map(|_| Vec::new()),
        report: IngestReport::default(),
    };
    for (i, &line) in table.lines().iter().enumerate() {
        let value = values[i];
        if binomial && value != 0.0 && value != 1.0 {
            report.reject_accepted(
                line,
                "value",
                format!("{value} is not 0 or 1 (binomial metric)"),
            );
            continue;
        }
        let v = rows.variants.intern(variants[i].as_deref().unwrap_or(""));
        rows.variant.push(v);
        let segment = segments.map_or("all", |s| s[i].as_deref().unwrap_or(""));
        let s = rows.segments.intern(segment);
        rows.segment.push(s);
        rows.value.push(value);
        if let (Some(col), Some(cov)) = (rows.covariate.as_mut(), covariates) {
            col.push(cov[i]);
        }
    }
    rows.report = report;
    Ok(rows)
}

fn run(args: &Args) -> custinsight::Result<()> {
    let mut rows = read_rows(args)?;
    for r in rows.report.rejections.iter().take(20) {
        eprintln!("rejected: line {}, field {}: {}", r.line, r.field, r.reason);
    }
    if rows.report.rejected > 20 {
        eprintln!("rejected: … and {} more rows", rows.report.rejected - 20);
    }
    if rows.value.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: no usable rows ({} read, {} rejected)",
            args.input.display(),
            rows.report.rows,
            rows.report.rejected
        )));
    }
    let variants = std::mem::take(&mut rows.variants).sorted(&mut rows.variant);
    if variants.len() < 2 {
        return Err(Error::InvalidInput(format!(
            "only one variant ({}) in the data; an experiment compares at least two",
            variants[0]
        )));
    }
    let control = match &args.control {
        Some(name) => variants
            .iter()
            .position(|v| v == name)
            .ok_or_else(|| Error::NotFound {
                what: "control variant",
                id: name.clone(),
            })?,
        None => 0,
    };
    let segments = std::mem::take(&mut rows.segments).sorted(&mut rows.segment);
    let kind = match args.metric {
        MetricArg::Mean => MetricKind::Mean,
        MetricArg::Binomial => MetricKind::Binomial,
    };
    let params = EvalParams {
        control,
        alpha: args.alpha,
        planned_weights: args.weights.clone(),
        ..EvalParams::default()
    };
    params.check_for(variants.len())?;

    let started = Instant::now();
    let stats = ExperimentStats::from_columns(
        Metric::new("value", kind),
        variants.clone(),
        segments,
        &rows.variant,
        Some(&rows.segment),
        &rows.value,
        rows.covariate.as_deref(),
    )?;
    let evaluation = evaluate(&stats, &params)?;
    let fit_seconds = started.elapsed().as_secs_f64();

    if args.json {
        println!(
            "{}",
            to_json(&evaluation, args.segment_col.is_some(), fit_seconds, &rows)
        );
    } else {
        print_text(&evaluation, args, fit_seconds, &rows);
    }
    Ok(())
}

/// The contract's per-variant object (`in_segment`: with the family-adjusted p-values).
fn variant_json(v: &VariantResult, in_segment: bool) -> Value {
    // The contract's `[lo, hi]` pair; both null when the figure is undefined.
    let ci = |x: Option<[f64; 2]>| x.map_or(json!([null, null]), |x| json!([x[0], x[1]]));
    let mut out = match &v.comparison {
        Some(c) => json!({
            "variant": v.variant, "n": v.n, "mean": v.mean,
            "abs_effect": c.abs_effect, "abs_ci": ci(c.absolute.map(|t| t.ci)),
            "p_value": c.absolute.map(|t| t.p_value),
            "rel_effect": c.relative.map(|r| r.estimate), "rel_ci": ci(c.relative.map(|r| r.ci)),
            "rel_p_value": c.relative.map(|r| r.p_value),
            "sequential_p_value": c.sequential.map(|s| s.p_value),
            "chance_to_win": c.bayesian.map(|b| b.chance_to_win), "risk": c.bayesian.map(|b| b.risk),
        }),
        None => json!({
            "variant": v.variant, "n": v.n, "mean": v.mean,
            "abs_effect": 0.0, "abs_ci": null, "p_value": null,
            "rel_effect": 0.0, "rel_ci": null, "rel_p_value": null,
            "sequential_p_value": null, "chance_to_win": null, "risk": null,
        }),
    };
    if in_segment {
        let adjusted = v.comparison.as_ref().and_then(|c| c.adjusted);
        out["p_value_holm"] = json!(adjusted.map(|a| a.p_value_holm));
        out["q_value_bh"] = json!(adjusted.map(|a| a.q_value_bh));
    }
    out
}

fn to_json(e: &Evaluation, segmented: bool, fit_seconds: f64, rows: &Rows) -> Value {
    let segments: Vec<Value> = if segmented {
        e.segments
            .iter()
            .map(|s| {
                json!({
                    "segment": s.segment,
                    "variants": s.variants.iter().map(|v| variant_json(v, true)).collect::<Vec<_>>(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "srm_p_value": e.overall.sample_ratio.p_value,
        "variants": e.overall.variants.iter().map(|v| variant_json(v, false)).collect::<Vec<_>>(),
        "segments": segments,
        "fit_seconds": fit_seconds,
        "rows": common::rows_json(&rows.report),
    })
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.2}%", 100.0 * x)
    } else {
        "–".into()
    }
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else if x.is_nan() {
        "–".into()
    } else if x > 0.0 {
        "∞".into()
    } else {
        "−∞".into()
    }
}

fn p(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else if x < 1e-4 {
        format!("{x:.1e}")
    } else {
        format!("{x:.4}")
    }
}

/// `show(x)`, or a dash when the figure is not defined.
fn or_dash<T>(x: Option<T>, show: impl Fn(T) -> String) -> String {
    x.map_or_else(|| "–".into(), show)
}

fn print_segment(s: &SegmentResult, segment_family: bool) {
    println!(
        "  {:<14} {:>9} {:>10} {:>10} {:>22} {:>8} {:>9} {:>22} {:>8} {:>8} {:>7} {:>8}{}",
        "variant",
        "n",
        "mean",
        "abs",
        "abs CI",
        "p",
        "rel",
        "rel CI",
        "rel p",
        "seq p",
        "P(win)",
        "risk",
        if segment_family {
            "   p Holm   q BH"
        } else {
            ""
        }
    );
    for v in &s.variants {
        match &v.comparison {
            None => println!(
                "  {:<14} {:>9} {:>10} {:>10}   (control)",
                v.variant,
                v.n,
                num(v.mean),
                ""
            ),
            Some(c) => println!(
                "  {:<14} {:>9} {:>10} {:>10} {:>22} {:>8} {:>9} {:>22} {:>8} {:>8} {:>7} {:>8}{}",
                v.variant,
                v.n,
                num(v.mean),
                num(c.abs_effect),
                or_dash(c.absolute, |t| format!(
                    "[{}, {}]",
                    num(t.ci[0]),
                    num(t.ci[1])
                )),
                or_dash(c.absolute, |t| p(t.p_value)),
                or_dash(c.relative, |r| pct(r.estimate)),
                or_dash(c.relative, |r| format!(
                    "[{}, {}]",
                    pct(r.ci[0]),
                    pct(r.ci[1])
                )),
                or_dash(c.relative, |r| p(r.p_value)),
                or_dash(c.sequential, |s| p(s.p_value)),
                or_dash(c.bayesian, |b| format!("{:.1}%", 100.0 * b.chance_to_win)),
                or_dash(c.bayesian, |b| pct(b.risk)),
                if segment_family {
                    format!(
                        " {:>8} {:>8}",
                        or_dash(c.adjusted, |a| p(a.p_value_holm)),
                        or_dash(c.adjusted, |a| p(a.q_value_bh))
                    )
                } else {
                    String::new()
                }
            ),
        }
    }
    for w in &s.warnings {
        println!("  ! {w}");
    }
    println!("  → {}", s.verdict.reason);
}

fn print_text(e: &Evaluation, args: &Args, fit_seconds: f64, rows: &Rows) {
    println!(
        "{}: {} rows read, {} used, {} rejected",
        args.input.display(),
        rows.report.rows,
        rows.value.len(),
        rows.report.rejected
    );
    println!(
        "metric {} ({}), control {}, alpha {}{}",
        e.metric.name,
        e.metric.kind.as_str(),
        e.variants[e.control],
        args.alpha,
        if args.covariate_col.is_some() {
            ", CUPED on the relative, sequential and Bayesian figures"
        } else {
            ""
        }
    );
    println!(
        "\nOverall (sample ratio p = {}{}):",
        p(e.overall.sample_ratio.p_value),
        if e.overall.sample_ratio.mismatch {
            ", MISMATCH"
        } else {
            ""
        }
    );
    print_segment(&e.overall, false);
    for v in e
        .overall
        .variants
        .iter()
        .filter_map(|v| v.comparison.as_ref())
    {
        if let Some(c) = &v.cuped {
            println!(
                "  CUPED: theta {:.4}, variance of the relative effect {} (unadjusted {} [{}, {}])",
                c.theta,
                or_dash(c.variance_reduction, |r| format!("−{:.1}%", 100.0 * r)),
                pct(c.unadjusted_rel_effect),
                pct(c.unadjusted_rel_ci[0]),
                pct(c.unadjusted_rel_ci[1])
            );
        }
    }
    if args.segment_col.is_some() {
        for s in &e.segments {
            println!(
                "\nSegment {} (sample ratio p = {}):",
                s.segment,
                p(s.sample_ratio.p_value)
            );
            print_segment(s, true);
        }
        if !e.heterogeneity.is_empty() {
            println!(
                "\nDoes the effect differ between segments? (Cochran's Q on the absolute effect)"
            );
            for h in &e.heterogeneity {
                match &h.test {
                    Some(t) => println!(
                        "  {:<14} Q = {:.2} over {} segments, p = {}, I² = {:.0}% → {}",
                        h.variant,
                        t.q,
                        t.segments,
                        p(t.p_value),
                        100.0 * t.i_squared,
                        if t.differs {
                            "yes, the effect differs between segments"
                        } else {
                            "no evidence that it differs"
                        }
                    ),
                    None => println!(
                        "  {:<14} fewer than two segments with a defined effect: no test",
                        h.variant
                    ),
                }
            }
        }
    }
    println!("\nstatistics and evaluation took {:.3} s", fit_seconds);
}
