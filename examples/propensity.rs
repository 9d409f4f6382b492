//! Fit a purchase-propensity model on a CSV of customers with a 0/1 outcome,
//! check it on held-out rows, and score another file.
//!
//! ```text
//! cargo run --release --example propensity -- --train customers.csv --label-col bought_30d
//! cargo run --release --example propensity -- --train customers.csv --label-col bought_30d \
//!     --id-col customer_id --model gbm --trees 200 --score today.csv --scores-out scores.csv --json
//! ```
//!
//! Every numeric column other than the label and the id is a feature: a
//! column is numeric when at least 99 % of its non-blank values are numbers
//! (a stray typo rejects its row instead of dropping the column); the other
//! columns are listed as ignored. The label is 0/1 (or true/false, yes/no).
//! A blank feature is a missing value: boosted trees take it, logistic
//! regression rejects the row. Rejected rows are reported with their line,
//! field and reason; read = accepted + rejected.
//!
//! A seeded 20 % of the accepted rows is held out; the model is fitted on the
//! rest (with `--calibrate isotonic|platt`, on three quarters of it, the
//! calibration on the last quarter; scores and the saved model are then
//! calibrated) and `auc_validation` (with PR-AUC, log-loss, Brier score and the
//! calibration error) is measured on the held-out rows. `--scores-out`
//! writes `id,score` for every accepted row of `--score`, in input order;
//! without `--id-col` the id is the row's line in that file.

mod common;

use common::features::{features_of, label_of, numeric_columns, score_in_chunks};

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use custinsight::Error;
use custinsight::ingest::table::{ColumnKind, ColumnSpec, TableSpec, read_table_file};
use custinsight::ingest::{IngestOptions, IngestReport};
use custinsight::target::boost::{BoostParams, BoostedTrees};
use custinsight::target::calibrate::{CalibrationMethod, Calibrator};
use custinsight::target::logistic::{LogisticModel, LogisticParams};
use custinsight::target::metrics::{ScoreEvaluation, evaluate_probabilities};
use custinsight::target::propensity::{Propensity, PropensityModel};
use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum ModelArg {
    /// Penalised logistic regression on standardised features.
    Logistic,
    /// Gradient-boosted trees (LightGBM's histogram method).
    Gbm,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum CalibrateArg {
    /// Pool-adjacent-violators: any monotone shape (thousands of rows).
    Isotonic,
    /// Platt's sigmoid: two parameters (small samples).
    Platt,
}

/// Fit a purchase-propensity model, validate it on held-out rows, and score a file.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Training CSV with a header: the label column, an optional id column, and feature columns.
    #[arg(long)]
    train: PathBuf,
    /// The 0/1 outcome column.
    #[arg(long)]
    label_col: String,
    /// A column identifying each row (kept out of the features; names the rows in the scores file).
    #[arg(long)]
    id_col: Option<String>,
    /// The model.
    #[arg(long, value_enum, default_value_t = ModelArg::Logistic)]
    model: ModelArg,
    /// Boosting rounds (gbm).
    #[arg(long, default_value_t = 100)]
    trees: usize,
    /// Depth of each tree (gbm).
    #[arg(long, default_value_t = 6)]
    max_depth: usize,
    /// Shrinkage of each tree (gbm).
    #[arg(long, default_value_t = 0.1)]
    learning_rate: f64,
    /// L2 penalty α of logistic regression (scikit-learn's C = 1/α).
    #[arg(long, default_value_t = 1.0)]
    l2: f64,
    /// Seed of the validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A CSV to score with the fitted model (the training features by name; needs --scores-out).
    #[arg(long, requires = "scores_out")]
    score: Option<PathBuf>,
    /// Where to write `id,score` for the rows of --score.
    #[arg(long, requires = "score")]
    scores_out: Option<PathBuf>,
    /// Calibrate the scores on a quarter of the training rows (isotonic or Platt).
    #[arg(long, value_enum)]
    calibrate: Option<CalibrateArg>,
    /// Where to write the fitted model (with its calibrator) as JSON.
    #[arg(long)]
    model_out: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

/// The training set: features, outcomes, and the table's account.
struct Training {
    names: Vec<String>,
    ignored: Vec<String>,
    x: Array2<f64>,
    y: Vec<bool>,
    report: IngestReport,
}

fn read_training(args: &Args) -> custinsight::Result<Training> {
    let mut columns = vec![ColumnSpec::text(args.label_col.clone()).filled()];
    if let Some(id) = &args.id_col {
        columns.push(ColumnSpec::text(id.clone()).filled());
    }
    let spec = TableSpec::new(columns).keep_others(ColumnKind::Text);
    let (table, mut report) = read_table_file(&args.train, &IngestOptions::default(), &spec)?;
    let mut skip = vec![args.label_col.as_str()];
    if let Some(id) = &args.id_col {
        skip.push(id);
    }
    let (names, ignored) = numeric_columns(&table, &skip);
    if names.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: no numeric feature columns besides the label{}",
            args.train.display(),
            if ignored.is_empty() {
                String::new()
            } else {
                format!(" (text columns: {})", ignored.join(", "))
            }
        )));
    }
    let labels = table.texts(&args.label_col).unwrap_or(&[]);
    let lines = table.lines().to_vec();
    let mut y = Vec::new();
    let blanks_allowed = args.model == ModelArg::Gbm;
    let f = features_of(&table, &names, blanks_allowed, &mut report, |i, report| {
        let text = labels.get(i).and_then(|v| v.as_deref()).unwrap_or("");
        match label_of(text) {
            Some(v) => {
                y.push(v);
                true
            }
            None => {
                report.reject_accepted(
                    lines[i],
                    args.label_col.clone(),
                    format!("`{text}` is not 0/1, true/false or yes/no"),
                );
                false
            }
        }
    });
    Ok(Training {
        names,
        ignored,
        x: f.x,
        y,
        report,
    })
}

fn fit(
    args: &Args,
    names: &[String],
    x: &Array2<f64>,
    y: &[bool],
) -> custinsight::Result<PropensityModel> {
    Ok(match args.model {
        ModelArg::Logistic => {
            let params = LogisticParams {
                l2_penalty: args.l2,
                ..LogisticParams::default()
            };
            PropensityModel::Logistic(LogisticModel::fit(&params, x.view(), y, names)?)
        }
        ModelArg::Gbm => {
            let params = BoostParams {
                trees: args.trees,
                max_depth: args.max_depth,
                learning_rate: args.learning_rate,
                ..BoostParams::default()
            };
            PropensityModel::BoostedTrees(BoostedTrees::fit(&params, x.view(), y, names)?)
        }
    })
}

/// Scores `path` with `model` into `out`; the file's account.
fn score_file(
    path: &Path,
    out: &Path,
    id_col: Option<&str>,
    model: &Propensity,
    blanks_allowed: bool,
) -> custinsight::Result<IngestReport> {
    score_in_chunks(
        path,
        out,
        model.feature_names(),
        id_col,
        blanks_allowed,
        &["id", "score"],
        |x| {
            Ok(model
                .predict_proba(x)?
                .into_iter()
                .map(|p| vec![p])
                .collect())
        },
    )
}

fn evaluation_json(e: &ScoreEvaluation) -> Value {
    json!({
        "rows": e.rows,
        "positives": e.positives,
        "roc_auc": e.roc_auc,
        "pr_auc": e.pr_auc,
        "log_loss": e.log_loss,
        "brier": e.brier,
        "ece": e.ece,
        "deciles": e.deciles,
    })
}

fn run(args: &Args) -> custinsight::Result<()> {
    let data = read_training(args)?;
    common::warn_rejections(&args.train, &data.report);
    let n = data.y.len();
    if n < 10 {
        return Err(Error::TooFew {
            what: format!("{}: usable rows", args.train.display()),
            minimum: 10,
            found: n,
        });
    }
    // A seeded 20 % held out for validation.
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(args.seed));
    let held = (n / 5).max(1);
    // With calibration, a random quarter of the other rows is kept to fit it on.
    let (valid, rest) = order.split_at(held);
    let kept = if args.calibrate.is_some() {
        rest.len() / 4
    } else {
        0
    };
    let (calibration_rows, train) = rest.split_at(kept);
    let sorted = |rows: &[usize]| {
        let mut rows = rows.to_vec();
        rows.sort_unstable();
        rows
    };
    let (valid, train, calibration_rows) = (sorted(valid), sorted(train), sorted(calibration_rows));
    let pick = |rows: &[usize]| {
        (
            data.x.select(ndarray::Axis(0), rows),
            rows.iter().map(|&i| data.y[i]).collect::<Vec<bool>>(),
        )
    };
    let ((xt, yt), (xv, yv)) = (pick(&train), pick(&valid));
    let started = Instant::now();
    let fitted = fit(args, &data.names, &xt, &yt)
        .map_err(|e| common::naming_column(e, &args.label_col, &["label"]))?;
    let calibrator = match args.calibrate {
        Some(method) => {
            let (xc, yc) = pick(&calibration_rows);
            let method = match method {
                CalibrateArg::Isotonic => CalibrationMethod::Isotonic,
                CalibrateArg::Platt => CalibrationMethod::Platt,
            };
            Some(Calibrator::fit(
                method,
                &fitted.predict_proba(xc.view())?,
                &yc,
            )?)
        }
        None => None,
    };
    let fit_seconds = started.elapsed().as_secs_f64();
    let model = Propensity {
        model: fitted,
        calibrator,
    };
    let raw = evaluate_probabilities(&model.model.predict_proba(xv.view())?, &yv)?;
    let validation = evaluate_probabilities(&model.predict_proba(xv.view())?, &yv)?;
    if let Some(path) = &args.model_out {
        let text = serde_json::to_string(&model)?;
        std::fs::write(path, text).map_err(|e| Error::io(path.display().to_string(), e))?;
    }
    let scored = match (&args.score, &args.scores_out) {
        (Some(input), Some(out)) => {
            let report = score_file(
                input,
                out,
                args.id_col.as_deref(),
                &model,
                args.model == ModelArg::Gbm,
            )?;
            common::warn_rejections(input, &report);
            Some(report)
        }
        _ => None,
    };
    let explanation: Value = match &model.model {
        PropensityModel::Logistic(m) => json!({
            "intercept": m.intercept(),
            "coefficients_per_sd": data.names.iter().zip(m.coefficients())
                .map(|(f, c)| json!({"feature": f, "coefficient": c})).collect::<Vec<_>>(),
        }),
        PropensityModel::BoostedTrees(m) => json!({
            "trees": m.n_trees(),
            "importance_gain": data.names.iter().zip(m.importance_gain())
                .map(|(f, g)| json!({"feature": f, "gain": g})).collect::<Vec<_>>(),
        }),
    };
    if args.json {
        let out = json!({
            "model": match args.model { ModelArg::Logistic => "logistic", ModelArg::Gbm => "gbm" },
            "auc_validation": validation.roc_auc,
            "fit_seconds": fit_seconds,
            "n_features": data.names.len(),
            "features": data.names,
            "ignored_columns": data.ignored,
            "rows": common::rows_json(&data.report),
            "train_rows": yt.len(),
            "calibration": args.calibrate.map(|m| json!({
                "method": format!("{m:?}").to_lowercase(),
                "rows": calibration_rows.len(),
                "ece_validation_before": raw.ece,
                "ece_validation_after": validation.ece,
            })),
            "validation": evaluation_json(&validation),
            "explanation": explanation,
            "scored": scored.as_ref().map(common::rows_json),
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} propensity on {} features, fitted on {} rows in {fit_seconds:.2} s",
        match args.model {
            ModelArg::Logistic => "logistic-regression",
            ModelArg::Gbm => "boosted-tree",
        },
        data.names.len(),
        yt.len()
    );
    if !data.ignored.is_empty() {
        println!("ignored text columns: {}", data.ignored.join(", "));
    }
    println!(
        "validation ({} rows, {} buyers): ROC-AUC {:.4}  PR-AUC {:.4}  log-loss {:.4}  Brier {:.4}  calibration error {:.4}{}",
        validation.rows,
        validation.positives,
        validation.roc_auc,
        validation.pr_auc,
        validation.log_loss,
        validation.brier,
        validation.ece,
        match args.calibrate {
            Some(m) => format!(
                " ({} calibration; {:.4} before)",
                format!("{m:?}").to_lowercase(),
                raw.ece
            ),
            None => String::new(),
        }
    );
    println!("\ndecile  rows  buyers  rate    lift  cumulative gain");
    for d in &validation.deciles {
        println!(
            "{:>6}  {:>4}  {:>6}  {:>5.1}%  {:>4.2}  {:>6.1}%",
            d.group,
            d.rows,
            d.positives,
            100.0 * d.response_rate,
            d.lift,
            100.0 * d.cumulative_gain
        );
    }
    if let (Some(report), Some(out)) = (&scored, &args.scores_out) {
        println!(
            "\nscored {} of {} rows into {}",
            report.accepted,
            report.rows,
            out.display()
        );
    }
    Ok(())
}
