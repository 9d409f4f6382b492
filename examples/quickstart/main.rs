//! The whole loop on a built-in, seeded synthetic population: two rounds,
//! from the dirty files of four source systems to a decision per segment
//! and a second, better assignment, every result checked against the truth.
//!
//! ```text
//! cargo run --release --example quickstart
//! cargo run --release --example quickstart -- --customers 100000 --seed 7 --out out/
//! cargo run --release --example quickstart -- --json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

mod checks;
#[path = "../common/mod.rs"]
mod common;
mod report;
mod target;
mod target_report;
mod touch;

use custinsight::experiment::assign::Holdout;
use custinsight::ingest::IngestOptions;
use custinsight::lifecycle::stage::Stage;
use custinsight::records::{Channel, Purpose};
use custinsight::round::{Inputs, Round, RoundParams, TargetingPlan, pre_period_revenue};
use custinsight::store::CustomerBase;
use custinsight::synth::{Population, SimulatedExperiment, SynthParams};
use serde_json::json;

use checks::{Gain, IdentityCheck, persona_agreement, true_effects_of_units};
use touch::TouchStep;

/// Generate a synthetic customer population, write the files its source
/// systems hold, and run two rounds of the loop on them.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Number of customers to generate.
    #[arg(long, default_value_t = 50_000)]
    customers: usize,
    /// Random seed (same seed, same population, on every machine).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep the source files here (a complete input for the `round`
    /// example: source records, customers, transactions, touchpoints,
    /// consents, the first round's experiment outcomes, observation.json),
    /// with truth.json, customers_out.csv and report.html (every step of
    /// both rounds, with its charts as SVG files beside it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object on stdout instead of the text summary.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    common::finish(run(&Args::parse()))
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The loop's settings for the quickstart: an e-mail offer tested per
/// segment, to customers who consented to e-mail marketing, with 5 % of
/// everyone held out of every experiment.
fn loop_params(seed: u64) -> RoundParams {
    let mut params = RoundParams::default();
    params.segments.kmeans.seed = seed;
    params.experiment.design.key = "spring_offer".into();
    params.experiment.design.variants = vec!["control".into(), "offer".into()];
    params.experiment.design.holdout = Some(Holdout {
        key: "global_holdout".into(),
        share: 0.05,
    });
    params.experiment.consent = Some((Channel::Email, Purpose::Marketing));
    params.experiment.allocation.seed = seed;
    // Once round 1's outcomes are in, round 2 acts per customer: the offer
    // where its expected incremental profit is positive.
    params.targeting = Some(TargetingPlan {
        value_per_conversion: 35.0,
        ..TargetingPlan::default()
    });
    params
}

/// What the population looked like, kept after its events are dropped.
pub struct PopulationFacts {
    pub customers: usize,
    pub transactions: usize,
    pub touchpoints: usize,
    pub source_records: usize,
    pub persona_counts: Vec<usize>,
    pub alive_share: f64,
}

fn run(args: &Args) -> custinsight::Result<()> {
    let started = Instant::now();
    let mut pop =
        Population::generate(&SynthParams::with_customers(args.customers).with_seed(args.seed))?;
    let temporary = args.out.is_none();
    let dir = args.out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("custinsight-quickstart-{}", std::process::id()))
    });
    let mut files = pop.write_sources(&dir, &pop.full_view())?;
    let end = pop.observation_end;
    let first_as_of = end - jiff::SignedDuration::from_hours(28 * 24);
    let mut persona_counts = vec![0usize; pop.truth.persona_names.len()];
    for &p in &pop.truth.persona {
        persona_counts[usize::from(p)] += 1;
    }
    let facts = PopulationFacts {
        customers: pop.base.n_customers(),
        transactions: pop.base.n_transactions(),
        touchpoints: pop.base.n_touchpoints(),
        source_records: pop.source_records.len(),
        // Prospects have not bought yet: "still buying" is a share of the buyers.
        alive_share: {
            let end = pop.params.observation_weeks;
            let buyers =
                || (0..pop.base.n_customers()).filter(|&c| pop.truth.first_purchase_week[c] <= end);
            share(
                buyers().filter(|&c| pop.truth.alive_at_end[c]).count(),
                buyers().count(),
            )
        },
        persona_counts,
    };
    // The truth the checks need; the clean events are not needed any more.
    let consent_truth: Vec<bool> = pop
        .base
        .customer_indices()
        .map(|c| {
            pop.base
                .allows(c, &Channel::Email, &Purpose::Marketing, first_as_of)
        })
        .collect();
    pop.base = CustomerBase::builder().build()?;
    let generated_in = started.elapsed().as_secs_f64();

    // Round 1, four weeks before the end: resolve, score, segment, assign.
    let params = loop_params(args.seed);
    let options = IngestOptions::default();
    let mut inputs = Inputs::read_dir(&dir, &options)?;
    // The first round has no experiment behind it (a folder reused from an
    // earlier run may hold one).
    inputs.outcomes = None;
    inputs.files.retain(|f| f.kind != "experiment");
    let file_reports = inputs.files.clone();
    let first = Round::run(inputs, first_as_of, &params, None)?;
    let truth1 = pop.true_customers(&first.base);
    let identity = IdentityCheck::of(&pop, &first, &truth1, first_as_of, &consent_truth)?;
    let agreement = persona_agreement(&pop, &first.segments, &truth1)?;
    let dominant = pop.dominant_personas(&first.segments, &truth1);
    let touch = TouchStep::run(&first.base, &first.segments, &pop, &truth1, first_as_of)?;
    // The experiment runs for four weeks: what the assigned customers did.
    let variants = params.experiment.design.variants.clone();
    let covariate =
        pre_period_revenue(&first.base, first_as_of, params.experiment.pre_period_weeks);
    let outcomes = pop.simulate_outcomes(
        &first.base,
        &truth1,
        &SimulatedExperiment {
            variant: &first.assignment.variant,
            variants: &variants,
            covariate: Some(&covariate),
            segments: Some(&first.segments),
            draw: 1,
        },
    )?;
    let unit_effects = true_effects_of_units(&pop, &first.segments, &truth1, &first.assignment);
    let params_file = dir.join("params.json");
    std::fs::write(&params_file, serde_json::to_vec_pretty(&params)?)
        .map_err(|e| custinsight::Error::io(params_file.display().to_string(), e))?;
    files.push(params_file);
    let experiment_file = dir.join("experiment.csv");
    let file = std::fs::File::create(&experiment_file)
        .map_err(|e| custinsight::Error::io(experiment_file.display().to_string(), e))?;
    outcomes.write_csv(std::io::BufWriter::new(file))?;
    files.push(experiment_file);
    let looks = report::cumulative_looks(&outcomes, &variants, args.seed, 28)?;
    let first_summary = report::RoundSummary::of(&first, &pop, &truth1, agreement, &dominant)?;
    let uplift_data = target::UpliftData::of(&first, &truth1, &outcomes, &pop, first_as_of)?;
    let state = first.state.clone();
    drop(first);

    // Round 2, at the end: the outcomes evaluated per segment, decisions,
    // and the next assignment with what was learned.
    let inputs = Inputs::read_dir(&dir, &options)?;
    let second = Round::run(inputs, end, &params, Some(state))?;
    let truth2 = pop.true_customers(&second.base);
    let gain = Gain::of(&pop, &second, &truth2, &params)?;
    let second_agreement = persona_agreement(&pop, &second.segments, &truth2)?;
    let targeting = target::TargetStep::run(
        &second,
        &truth2,
        &pop,
        &uplift_data,
        params
            .targeting
            .as_ref()
            .unwrap_or(&TargetingPlan::default()),
        args.seed,
    )?;

    let mut report_path = None;
    let mut report_seconds = 0.0;
    if let Some(out) = &args.out {
        let report_started = Instant::now();
        let path = out.join("truth.json");
        std::fs::write(&path, serde_json::to_vec(&pop.truth)?)
            .map_err(|e| custinsight::Error::io(path.display().to_string(), e))?;
        files.push(path);
        let path = out.join("customers_out.csv");
        let file = std::fs::File::create(&path)
            .map_err(|e| custinsight::Error::io(path.display().to_string(), e))?;
        second.write_customers_csv(std::io::BufWriter::new(file))?;
        files.push(path);
        let page = report::build(&report::Inputs {
            pop: &pop,
            facts: &facts,
            seed: args.seed,
            files: &file_reports,
            identity: &identity,
            first: &first_summary,
            touch: &touch,
            looks: &looks,
            unit_effects: &unit_effects,
            second: &second,
            gain: &gain,
            params: &params,
            target: &targeting,
        })?;
        let written = page.write_to_dir(out)?;
        report_path = written.first().cloned();
        files.extend(written);
        report_seconds = report_started.elapsed().as_secs_f64();
    }
    if temporary {
        // Best effort: a leftover temporary folder is harmless.
        let _ = std::fs::remove_dir_all(&dir);
        files.clear();
    }

    let evaluation = second.evaluation.as_ref();
    let decisions: Vec<serde_json::Value> = second
        .decisions
        .iter()
        .map(|d| {
            let s = d.segment as usize;
            let c = evaluation
                .and_then(|e| e.conversion.segments.get(s))
                .and_then(|r| r.variants.get(1))
                .and_then(|v| v.comparison.as_ref());
            json!({
                "segment": d.segment, "name": d.name, "kind": d.kind, "weights": d.weights,
                "true_effect": unit_effects.get(s), "abs_effect": c.map(|c| c.abs_effect),
                "abs_ci": c.and_then(|c| c.absolute).map(|a| a.ci),
                "p_value_holm": c.and_then(|c| c.adjusted).map(|a| a.p_value_holm),
                "covered": c.and_then(|c| unit_effects.get(s).map(|t| {
                    c.absolute.is_some_and(|a| a.ci[0] <= *t && *t <= a.ci[1])
                })),
                "reason": d.reason,
            })
        })
        .collect();
    let steps = |r: &[custinsight::round::StepTime]| {
        r.iter()
            .map(|s| (s.step.clone(), json!(s.seconds)))
            .collect::<serde_json::Map<_, _>>()
    };
    if args.json {
        let lifecycle = &second.lifecycle;
        let (true_prospects, true_new) =
            report::true_lifecycle_shares(&second, &pop, &pop.true_customers(&second.base));
        let truth = pop.truth.purchases;
        let out = json!({
            "seed": args.seed,
            "customers": facts.customers,
            "transactions": facts.transactions,
            "touchpoints": facts.touchpoints,
            "source_records": facts.source_records,
            "observation": {"start": pop.observation_start.to_string(), "end": end.to_string()},
            "as_of": [first_as_of.to_string(), end.to_string()],
            "personas": pop.truth.persona_names.iter().zip(&facts.persona_counts)
                .map(|(name, &c)| json!({"name": name, "customers": c, "share": share(c, facts.customers)})).collect::<Vec<_>>(),
            "files": file_reports.iter().map(|f| json!({"kind": f.kind, "rows": {"read": f.report.rows, "accepted": f.report.accepted, "rejected": f.report.rejected}})).collect::<Vec<_>>(),
            "identity": {
                "records": identity.records, "customers": identity.customers, "true_customers": identity.true_customers,
                "pairwise_precision": identity.precision, "pairwise_recall": identity.recall,
                "consent_agrees": identity.consent_agree, "consent_compared": identity.consent_compared,
                "applied": first_summary.applied,
            },
            "lifecycle": {
                "bgnbd": {"r": lifecycle.models.btyd.r, "alpha_per_week": lifecycle.models.btyd.alpha / 7.0,
                          "a": lifecycle.models.btyd.a, "b": lifecycle.models.btyd.b},
                "bgnbd_truth": {"r": truth.r, "alpha_per_week": truth.alpha, "a": truth.a, "b": truth.b},
                "stages": Stage::ALL.iter().zip(lifecycle.stage_counts()).map(|(s, c)| (s.to_string(), json!(c))).collect::<serde_json::Map<_, _>>(),
                "not_yet_seen": lifecycle.not_yet_seen,
                "true_prospect_share": true_prospects,
                "true_new_share": true_new,
            },
            "segments": {
                "k": first_summary.profiles.len(),
                "adjusted_rand_index_vs_personas": agreement,
                "adjusted_rand_index_round_2": second_agreement,
                "stayed_share": second.migration.as_ref().map(|m| m.stayed_share),
                "profiles": first_summary.profiles.iter().map(|p| json!({"id": p.id, "name": p.name, "customers": p.size, "share": p.share, "value_share": p.value_share})).collect::<Vec<_>>(),
            },
            "touchpoints": touch.to_json(),
            "experiment": {
                "key": params.experiment.design.key,
                "round_1": {"assigned": first_summary.assigned, "no_consent": first_summary.no_consent, "held_out": first_summary.held_out, "units": outcomes.len()},
                "evaluated": evaluation.map(|e| e.evaluated),
                "decisions": decisions,
                "round_2": {"assigned": second.assignment.counts, "no_consent": second.assignment.no_consent, "held_out": second.assignment.held_out},
                "gain_over_equal_split": gain.to_json(),
            },
            "target": targeting.to_json(),
            "seconds": {"generate": generated_in, "round_1": steps(&first_summary.steps), "round_2": steps(&second.steps),
                        "touchpoints": touch.seconds, "report": report_seconds, "total": started.elapsed().as_secs_f64()},
            "report": report_path.as_ref().map(|p| p.display().to_string()),
            "files_written": files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        println!("{out}");
        return Ok(());
    }

    println!(
        "custinsight quickstart — seed {}, {} customers, two rounds of the loop",
        args.seed, facts.customers
    );
    println!();
    println!("1. Synthetic population and its source systems ({generated_in:.2} s)");
    println!(
        "   observation {} .. {}; round 1 at {}, round 2 at {}",
        pop.observation_start.strftime("%Y-%m-%d"),
        end.strftime("%Y-%m-%d"),
        first_as_of.strftime("%Y-%m-%d"),
        end.strftime("%Y-%m-%d")
    );
    println!(
        "   {} transactions, {} touchpoints, {} source records in four systems ({} more than customers)",
        facts.transactions,
        facts.touchpoints,
        facts.source_records,
        facts.source_records - facts.customers
    );
    for (name, &c) in pop.truth.persona_names.iter().zip(&facts.persona_counts) {
        println!(
            "     persona {name:<18} {c:>8}  {:>5.1}%  (latent truth)",
            100.0 * share(c, facts.customers)
        );
    }
    println!("   files read through ingest, every row accounted for:");
    for f in &file_reports {
        println!(
            "     {:<15} rows {:>9}  accepted {:>9}  rejected {:>3}",
            f.kind, f.report.rows, f.report.accepted, f.report.rejected
        );
    }
    println!();
    report::print_first(&first_summary, &identity, &pop, &facts);
    println!();
    println!(
        "5. Touchpoints and journeys in round 1 ({:.2} s; marketing touches, 30-day lookback, conversions = orders)",
        touch.seconds
    );
    touch.print(share);
    println!();
    report::print_second(&second, &first_summary, &unit_effects, &gain, &params);
    println!();
    println!(
        "7. Who to target, with what ({:.2} s; model against the truth)",
        targeting.seconds
    );
    targeting.print();
    if let Some(path) = &report_path {
        println!();
        println!(
            "Report ({report_seconds:.2} s): {}  (charts as SVG files beside it)",
            path.display()
        );
    }
    if !files.is_empty() {
        println!();
        println!("Files written (a complete input for `round --data DIR`):");
        for f in &files {
            println!("   {}", f.display());
        }
    }
    println!();
    println!("Total {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}
