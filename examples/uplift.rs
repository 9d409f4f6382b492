//! Fit an uplift model on the rows of a randomised experiment, check how
//! well it ranks the persuadable on held-out rows, and score another file.
//!
//! ```text
//! cargo run --release --example uplift -- --train experiment.csv --treatment-col treated --outcome-col bought
//! cargo run --release --example uplift -- --train experiment.csv --treatment-col variant --control A \
//!     --outcome-col revenue --learner x --id-col customer_id --score today.csv --scores-out uplift.csv --json
//! ```
//!
//! The treatment column holds 0/1 (or true/false); with `--control` it may
//! hold variant names, the named one being the control and every other a
//! treatment. Every numeric column besides the treatment, the outcome and
//! the id is a feature (as in the `propensity` example); blanks are missing
//! values. A 0/1 outcome is a conversion; any other number (revenue) is a
//! numeric outcome.
//!
//! A seeded 20 % of the accepted rows is held out: `qini_validation` and
//! `auuc_validation` are scikit-uplift's Qini coefficient and AUUC there
//! (0/1 outcomes only; null for numeric ones), with several treatments the
//! mean over the treatments, each one's under `treatments`. With `--value`
//! and `--cost`, `policy` reports what treating every held-out customer whose
//! uplift × value exceeds the cost earned, beside treating everyone.
//! `--scores-out` writes `id,uplift` (with several treatments, `uplift` is
//! the best treatment's and `best_treatment` and one `uplift_<name>` column
//! per treatment follow); without `--id-col` the id is the row's line.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use common::features::{features_of, label_of, numeric_columns, score_in_chunks};
use custinsight::Error;
use custinsight::ingest::IngestReport;
use custinsight::ingest::table::{ColumnKind, ColumnSpec, TableSpec, read_table_file};
use custinsight::target::uplift::metrics::{NegativeEffects, auuc, qini_coefficient};
use custinsight::target::uplift::policy::{Economics, evaluate_policy, treat_when_profitable};
use custinsight::target::uplift::{
    Experiment, MetaLearner, OutcomeKind, UpliftModel, UpliftParams,
};
use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum LearnerArg {
    /// One outcome model per arm.
    T,
    /// Imputed effects per arm, blended by the treatment share.
    X,
    /// Doubly robust pseudo-outcomes, cross-fitted.
    Dr,
}

/// Fit an uplift model on experiment rows, validate its ranking, and score a file.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Experiment CSV with a header: the treatment and outcome columns, an optional id, and features.
    #[arg(long)]
    train: PathBuf,
    /// The column of the arm each unit was randomised to.
    #[arg(long)]
    treatment_col: String,
    /// The column of the outcome (0/1, or a number such as revenue).
    #[arg(long)]
    outcome_col: String,
    /// The control's value in the treatment column, when it holds variant names.
    #[arg(long)]
    control: Option<String>,
    /// The meta-learner.
    #[arg(long, value_enum, default_value_t = LearnerArg::T)]
    learner: LearnerArg,
    /// A column identifying each row (kept out of the features).
    #[arg(long)]
    id_col: Option<String>,
    /// Seed of the validation split and the DR-learner's folds.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Value of one unit of outcome, for the policy (with --cost).
    #[arg(long, requires = "cost")]
    value: Option<f64>,
    /// Cost of one contact, for the policy (with --value).
    #[arg(long, requires = "value")]
    cost: Option<f64>,
    /// A CSV to score (the training features by name; needs --scores-out).
    #[arg(long, requires = "scores_out")]
    score: Option<PathBuf>,
    /// Where to write `id,uplift` for the rows of --score.
    #[arg(long, requires = "score")]
    scores_out: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

/// The experiment's rows.
struct Rows {
    names: Vec<String>,
    ignored: Vec<String>,
    /// Treatment names, in arm order (arm k is `treatments[k - 1]`).
    treatments: Vec<String>,
    x: Array2<f64>,
    arm: Vec<usize>,
    outcome: Vec<f64>,
    report: IngestReport,
}

/// Treatment names in arm order, and each treatment-column value with its arm.
type Arms = (Vec<String>, Vec<(String, usize)>);

/// How treatment cells map to arms: 0/1, or names with a control.
fn arms_of(args: &Args, values: &[Option<String>]) -> custinsight::Result<Arms> {
    let mut distinct: Vec<String> = values
        .iter()
        .filter_map(|v| v.as_deref().map(str::trim).map(str::to_owned))
        .collect();
    distinct.sort();
    distinct.dedup();
    let Some(control) = &args.control else {
        // 0/1 (or true/false): every value must read as one.
        if let Some(other) = distinct.iter().find(|v| label_of(v).is_none()) {
            return Err(Error::InvalidInput(format!(
                "treatment column `{}` holds {} distinct values ({}), `{other}` among them; 0/1 is read \
                 without --control, variant names need --control naming the control",
                args.treatment_col,
                distinct.len(),
                distinct
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let map = distinct
            .iter()
            .map(|v| (v.clone(), usize::from(label_of(v) == Some(true))))
            .collect();
        return Ok((vec!["treated".to_string()], map));
    };
    if !distinct.contains(control) {
        return Err(Error::NotFound {
            what: "control value in the treatment column",
            id: control.clone(),
        });
    }
    let treatments: Vec<String> = distinct.iter().filter(|v| *v != control).cloned().collect();
    let mut map = vec![(control.clone(), 0usize)];
    map.extend(
        treatments
            .iter()
            .enumerate()
            .map(|(k, v)| (v.clone(), k + 1)),
    );
    Ok((treatments, map))
}

fn read_rows(args: &Args) -> custinsight::Result<Rows> {
    let mut columns = vec![
        ColumnSpec::text(args.treatment_col.clone()).filled(),
        ColumnSpec::text(args.outcome_col.clone()).filled(),
    ];
    if let Some(id) = &args.id_col {
        columns.push(ColumnSpec::text(id.clone()).filled());
    }
    let spec = TableSpec::new(columns).keep_others(ColumnKind::Text);
    let (table, mut report) = read_table_file(&args.train, &Default::default(), &spec)?;
    let mut skip = vec![args.treatment_col.as_str(), args.outcome_col.as_str()];
    if let Some(id) = &args.id_col {
        skip.push(id);
    }
    let (names, ignored) = numeric_columns(&table, &skip);
    if names.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: no numeric feature columns besides the treatment and the outcome",
            args.train.display()
        )));
    }
    let treatment = table.texts(&args.treatment_col).unwrap_or(&[]);
    let outcomes = table.texts(&args.outcome_col).unwrap_or(&[]);
    let (treatments, map) = arms_of(args, treatment)?;
    let lines = table.lines().to_vec();
    let (mut arm, mut outcome) = (Vec::new(), Vec::new());
    let f = features_of(&table, &names, true, &mut report, |i, report| {
        let text = outcomes
            .get(i)
            .and_then(|v| v.as_deref())
            .unwrap_or("")
            .trim();
        let value = label_of(text)
            .map(|b| f64::from(u8::from(b)))
            .or_else(|| text.parse::<f64>().ok().filter(|v| v.is_finite()));
        let Some(value) = value else {
            report.reject_accepted(
                lines[i],
                args.outcome_col.clone(),
                format!("`{text}` is not a number"),
            );
            return false;
        };
        let t = treatment
            .get(i)
            .and_then(|v| v.as_deref())
            .unwrap_or("")
            .trim();
        let a = map.iter().find(|(v, _)| v == t).map_or(0, |m| m.1);
        arm.push(a);
        outcome.push(value);
        true
    });
    Ok(Rows {
        names,
        ignored,
        treatments,
        x: f.x,
        arm,
        outcome,
        report,
    })
}

fn run(args: &Args) -> custinsight::Result<()> {
    let rows = read_rows(args)?;
    common::warn_rejections(&args.train, &rows.report);
    let n = rows.outcome.len();
    if n < 20 {
        return Err(Error::TooFew {
            what: format!("{}: usable rows", args.train.display()),
            minimum: 20,
            found: n,
        });
    }
    let binary = rows.outcome.iter().all(|&y| y == 0.0 || y == 1.0);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(args.seed));
    let held = n / 5;
    let (mut valid, mut train) = (order[..held].to_vec(), order[held..].to_vec());
    valid.sort_unstable();
    train.sort_unstable();
    let pick = |idx: &[usize]| {
        (
            rows.x.select(Axis(0), idx),
            idx.iter().map(|&i| rows.arm[i]).collect::<Vec<usize>>(),
            idx.iter().map(|&i| rows.outcome[i]).collect::<Vec<f64>>(),
        )
    };
    let (xt, at, yt) = pick(&train);
    let (xv, av, yv) = pick(&valid);
    let params = UpliftParams {
        learner: match args.learner {
            LearnerArg::T => MetaLearner::T,
            LearnerArg::X => MetaLearner::X,
            LearnerArg::Dr => MetaLearner::Dr,
        },
        outcome: if binary {
            OutcomeKind::Binary
        } else {
            OutcomeKind::Continuous
        },
        seed: args.seed,
        ..UpliftParams::default()
    };
    let started = Instant::now();
    let model = UpliftModel::fit(
        &params,
        &Experiment {
            x: xt.view(),
            arm: &at,
            outcome: &yt,
            feature_names: &rows.names,
        },
    )
    .map_err(|e| common::naming_column(e, &args.treatment_col, &["treated", "control"]))
    .map_err(|e| common::naming_column(e, &args.outcome_col, &["label"]))?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let uplift = model.predict(xv.view())?;
    // Each treatment against the control, on the held-out rows of the two arms.
    let mut per_treatment = Vec::new();
    for (k, name) in rows.treatments.iter().enumerate() {
        let pair: Vec<usize> = (0..av.len())
            .filter(|&i| av[i] == 0 || av[i] == k + 1)
            .collect();
        let y: Vec<f64> = pair.iter().map(|&i| yv[i]).collect();
        let u: Vec<f64> = pair.iter().map(|&i| uplift[[i, k]]).collect();
        let t: Vec<bool> = pair.iter().map(|&i| av[i] != 0).collect();
        let (qini, area) = if binary {
            (
                Some(qini_coefficient(&y, &u, &t, NegativeEffects::Allowed)?),
                Some(auuc(&y, &u, &t)?),
            )
        } else {
            (None, None)
        };
        let policy = match (args.value, args.cost) {
            (Some(value), Some(cost)) => {
                let economics = Economics {
                    value_per_outcome: value,
                    cost_per_contact: cost,
                };
                let target = treat_when_profitable(&u, &economics)?;
                let all = vec![true; target.len()];
                // A rule that selects (almost) nobody cannot be measured: say so, keep the rest.
                let measured = |rule: &[bool]| match evaluate_policy(rule, &y, &t, &economics, 0.95)
                {
                    Ok(v) => json!(v),
                    Err(e) => json!({ "error": e.to_string() }),
                };
                Some(json!({
                    "targeted_share": target.iter().filter(|&&x| x).count() as f64 / target.len() as f64,
                    "profitable": measured(&target),
                    "everyone": measured(&all),
                }))
            }
            _ => None,
        };
        per_treatment.push(json!({
            "treatment": name,
            "validation_rows": pair.len(),
            "qini": qini,
            "auuc": area,
            "mean_uplift": u.iter().sum::<f64>() / u.len().max(1) as f64,
            "policy": policy,
        }));
    }
    let mean_of = |key: &str| -> Value {
        let v: Vec<f64> = per_treatment
            .iter()
            .filter_map(|t| t[key].as_f64())
            .collect();
        if v.is_empty() {
            Value::Null
        } else {
            json!(v.iter().sum::<f64>() / v.len() as f64)
        }
    };
    let scored = match (&args.score, &args.scores_out) {
        (Some(input), Some(out)) => Some(score_file(args, input, out, &model, &rows.treatments)?),
        _ => None,
    };
    if let Some(report) = &scored {
        common::warn_rejections(args.score.as_deref().unwrap_or(&args.train), report);
    }
    if args.json {
        let out = json!({
            "learner": format!("{:?}", args.learner).to_lowercase(),
            "outcome": if binary { "binary" } else { "continuous" },
            "qini_validation": mean_of("qini"),
            "auuc_validation": mean_of("auuc"),
            "fit_seconds": fit_seconds,
            "n_features": rows.names.len(),
            "features": rows.names,
            "ignored_columns": rows.ignored,
            "rows": common::rows_json(&rows.report),
            "treatments": per_treatment,
            "scored": scored.as_ref().map(common::rows_json),
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "{:?}-learner uplift on {} features, {} outcome, fitted on {} rows in {fit_seconds:.2} s",
        args.learner,
        rows.names.len(),
        if binary { "0/1" } else { "numeric" },
        yt.len()
    );
    for t in &per_treatment {
        let fmt = |v: &Value| v.as_f64().map_or("n/a".to_string(), |x| format!("{x:.4}"));
        println!(
            "{} vs control ({} held-out rows): Qini {}  AUUC {}  mean uplift {}",
            t["treatment"].as_str().unwrap_or(""),
            t["validation_rows"],
            fmt(&t["qini"]),
            fmt(&t["auuc"]),
            fmt(&t["mean_uplift"])
        );
        if !t["policy"].is_null() {
            let p = &t["policy"];
            if let Some(e) = p["profitable"]["error"].as_str() {
                println!(
                    "  treat the profitable {:.1} %: not measurable ({e})",
                    100.0 * p["targeted_share"].as_f64().unwrap_or(0.0)
                );
                continue;
            }
            println!(
                "  treat the profitable {:.1} %: profit {:.2} [{:.2}, {:.2}]; treat everyone: {:.2} [{:.2}, {:.2}]",
                100.0 * p["targeted_share"].as_f64().unwrap_or(0.0),
                p["profitable"]["profit"].as_f64().unwrap_or(0.0),
                p["profitable"]["profit_interval"][0]
                    .as_f64()
                    .unwrap_or(0.0),
                p["profitable"]["profit_interval"][1]
                    .as_f64()
                    .unwrap_or(0.0),
                p["everyone"]["profit"].as_f64().unwrap_or(0.0),
                p["everyone"]["profit_interval"][0].as_f64().unwrap_or(0.0),
                p["everyone"]["profit_interval"][1].as_f64().unwrap_or(0.0),
            );
        }
    }
    Ok(())
}

/// Scores a file with the model into `out`, chunk by chunk; the file's account.
fn score_file(
    args: &Args,
    input: &std::path::Path,
    out: &std::path::Path,
    model: &UpliftModel,
    treatments: &[String],
) -> custinsight::Result<IngestReport> {
    let several = treatments.len() > 1;
    let mut header = vec!["id".to_string(), "uplift".to_string()];
    if several {
        header.push("best_treatment".to_string());
        header.extend(treatments.iter().map(|t| format!("uplift_{t}")));
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    score_in_chunks(
        input,
        out,
        model.feature_names(),
        args.id_col.as_deref(),
        true,
        &header,
        |x| {
            let uplift = model.predict(x)?;
            Ok(uplift
                .rows()
                .into_iter()
                .map(|u| {
                    let (best, top) =
                        u.iter()
                            .enumerate()
                            .fold(
                                (0, f64::NEG_INFINITY),
                                |b, (k, &v)| if v > b.1 { (k, v) } else { b },
                            );
                    let mut values = vec![top];
                    if several {
                        // The best treatment's number (1-based arm), then each treatment's uplift.
                        values.push((best + 1) as f64);
                        values.extend(u.iter().copied());
                    }
                    values
                })
                .collect())
        },
    )
}
