//! The whole loop on a built-in, seeded synthetic population.
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

#[path = "../common/mod.rs"]
mod common;
mod report;
use custinsight::experiment::allocate::{
    Allocation, AllocationParams, SimulationParams, SimulationResult, recommend, simulate_binomial,
};
use custinsight::experiment::assign::{BaseAssignment, ExperimentDesign};
use custinsight::experiment::evaluate::{EvalParams, Evaluation, evaluate};
use custinsight::experiment::power::{Effect, PlannedMetric, PowerParams, SampleSize, sample_size};
use custinsight::experiment::stats::{ExperimentStats, Metric, MetricKind};
use custinsight::identity::auto::resolve_auto;
use custinsight::identity::golden::{
    GoldenRecord, GoldenRules, Sources, Survivorship, golden_records,
};
use custinsight::identity::resolve::Resolution;
use custinsight::ingest::{self, Format, IngestOptions, IngestReport};
use custinsight::lifecycle::btyd::BgNbdParams;
use custinsight::lifecycle::rfm::RfmScores;
use custinsight::lifecycle::spend::{ClvParams, GammaGammaParams};
use custinsight::lifecycle::stage::{Stage, StageInput, StageParams, distribution};
use custinsight::lifecycle::summary::{Period, Summary};
use custinsight::records::{Channel, JourneyStage, Purpose};
use custinsight::report::Report;
use custinsight::segment::features::{FeatureMatrix, FeatureSpec};
use custinsight::segment::kmeans::KMeansParams;
use custinsight::segment::model::{ProfileContext, SegmentationParams};
use custinsight::segment::select_k::adjusted_rand_index;
use custinsight::synth::{MARKETING_CHANNELS, Population, SynthParams};
use custinsight::touchpoints::attribution::{
    HeuristicParams, MarkovParams, ShapleyParams, heuristics, markov, shapley,
};
use custinsight::touchpoints::effectiveness::{
    EffectivenessParams, Groups, KeyLevel, NO_GROUP, group_matrix,
};
use custinsight::touchpoints::engagement::{
    EngagementParams, WarmLeadParams, score as engagement_score, warm_leads,
};
use custinsight::touchpoints::journey::{ConversionSource, JourneyParams, Journeys};
use custinsight::touchpoints::paths::{PathStats, PathTable, time_to_conversion};
use custinsight::touchpoints::preference::{PreferenceParams, preferences};
use custinsight::touchpoints::stage::{
    ContentFitParams, StageParams as JourneyStageParams, assign as assign_journey_stages,
    content_fit,
};
use serde_json::json;

/// Generate a synthetic customer population and run every step of the loop on it.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Number of customers to generate.
    #[arg(long, default_value_t = 20_000)]
    customers: usize,
    /// Random seed (same seed, same population, on every machine).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Write `report.html` (every step of the loop, with charts), the charts as
    /// SVG files, and the population's CSV files (and truth.json) into this folder.
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

fn run(args: &Args) -> custinsight::Result<()> {
    let started = Instant::now();
    let params = SynthParams::with_customers(args.customers);
    let pop = Population::generate(&params, args.seed)?;
    let generated_in = started.elapsed();
    let base = &pop.base;

    // Personas (latent truth) and how often they appear.
    let mut persona_counts = vec![0usize; pop.truth.persona_names.len()];
    for &p in &pop.truth.persona {
        persona_counts[p as usize] += 1;
    }
    let n = base.n_customers();
    let alive = pop.truth.alive_at_end.iter().filter(|&&a| a).count();

    // Consent: who may we e-mail for marketing at the end of observation?
    let end = pop.observation_end;
    let emailable = base
        .customer_indices()
        .filter(|&c| base.allows(c, &Channel::Email, &Purpose::Marketing, end))
        .count();

    // Ingest round trip: write the population as CSV, read it back, account for every row.
    let mut tx_csv = Vec::new();
    base.write_transactions_csv(&mut tx_csv)?;
    let mut tp_csv = Vec::new();
    base.write_touchpoints_csv(&mut tp_csv)?;
    let mut cust_csv = Vec::new();
    base.write_customers_csv(&mut cust_csv)?;
    let mut consent_csv = Vec::new();
    base.write_consents_csv(&mut consent_csv)?;
    let ingest_started = Instant::now();
    let mut loader = ingest::Loader::new(IngestOptions::default());
    let customers_report = loader.customers(Format::Csv, cust_csv.as_slice(), "customers.csv")?;
    let tx_report = loader.transactions(Format::Csv, tx_csv.as_slice(), "transactions.csv")?;
    let tp_report = loader.touchpoints(Format::Csv, tp_csv.as_slice(), "touchpoints.csv")?;
    let consent_report = loader.consents(Format::Csv, consent_csv.as_slice(), "consents.csv")?;
    let (reloaded, _) = loader.finish()?;
    let ingest_secs = ingest_started.elapsed().as_secs_f64();
    let csv_mb = (tx_csv.len() + tp_csv.len() + cust_csv.len() + consent_csv.len()) as f64 / 1e6;

    // Experiment: evaluated overall and per persona, CUPED on revenue, Thompson sampling.
    let experiment_started = Instant::now();
    let exp = &pop.experiment;
    let arms = vec!["control".to_owned(), "treatment".to_owned()];
    let persona_names = pop.truth.persona_names.clone();
    let unit_variant: Vec<u32> = exp.units.iter().map(|u| u32::from(u.treatment)).collect();
    let unit_persona: Vec<u32> = exp
        .units
        .iter()
        .map(|u| u32::from(pop.truth.persona[u.customer as usize]))
        .collect();
    let converted: Vec<f64> = exp
        .units
        .iter()
        .map(|u| f64::from(u8::from(u.converted)))
        .collect();
    let revenue: Vec<f64> = exp.units.iter().map(|u| u.revenue).collect();
    let pre_revenue: Vec<f64> = exp.units.iter().map(|u| u.pre_revenue).collect();
    let planned = vec![1.0 - params.treatment_share, params.treatment_share];
    let eval_params = EvalParams {
        planned_weights: Some(planned.clone()),
        ..EvalParams::default()
    };
    let conversion_stats = ExperimentStats::from_columns(
        Metric::new("conversion", MetricKind::Binomial),
        arms.clone(),
        persona_names.clone(),
        &unit_variant,
        Some(&unit_persona),
        &converted,
        Some(&pre_revenue),
    )?;
    let conversion = evaluate(&conversion_stats, &eval_params)?;
    let revenue_stats = ExperimentStats::from_columns(
        Metric::new("revenue per customer", MetricKind::Mean),
        arms.clone(),
        vec!["all".to_owned()],
        &unit_variant,
        None,
        &revenue,
        Some(&pre_revenue),
    )?;
    let revenue_eval = evaluate(&revenue_stats, &eval_params)?;
    let allocation = recommend(
        &conversion_stats,
        &AllocationParams {
            seed: args.seed,
            ..AllocationParams::default()
        },
    )?;
    let true_rates: Vec<Vec<f64>> = pop
        .truth
        .experiment_baseline
        .iter()
        .zip(&pop.truth.experiment_lift)
        .map(|(&b, &l)| vec![b, (b + l).clamp(0.0, 1.0)])
        .collect();
    let bandit = simulate_binomial(
        &true_rates,
        &SimulationParams {
            units_per_segment: 10_000,
            allocation: AllocationParams {
                seed: args.seed,
                draws: 2_000,
                ..AllocationParams::default()
            },
            ..SimulationParams::default()
        },
    )?;
    let design = ExperimentDesign::new(exp.key.clone(), &["control", "treatment"])?;
    let next_round = allocation.assign_base(
        &design,
        base,
        &pop.truth
            .persona
            .iter()
            .map(|&p| u32::from(p))
            .collect::<Vec<_>>(),
        Some((Channel::Email, Purpose::Marketing, pop.observation_end)),
    )?;
    let plan = sample_size(
        &PlannedMetric::binomial(conversion.overall.variants[0].mean),
        Effect::Relative(0.10),
        &PowerParams::default(),
    )?;
    let experiment = ExperimentStep {
        conversion,
        revenue: revenue_eval,
        allocation,
        bandit,
        next_round,
        plan,
        true_rates,
        seconds: experiment_started.elapsed().as_secs_f64(),
    };

    // Identity: the dirty source records resolved to customers in zero-config mode.
    let identity = IdentityStep::run(&pop)?;

    // Lifecycle: BG/NBD and Gamma–Gamma on daily summaries, against the truth.
    let lifecycle_started = Instant::now();
    let end_date = pop.observation_end.to_zoned(jiff::tz::TimeZone::UTC).date();
    let summary = Summary::from_base(base, Period::Day, end_date)?;
    let bgnbd = BgNbdParams::default().fit(&summary.triples())?;
    let spend = GammaGammaParams::default().fit(&summary)?;
    let clv_params = ClvParams::default();
    let stage_params = StageParams::default();
    let horizon = 30.0;
    // Every customer scored at once: each distinct history is evaluated once.
    let scores = bgnbd.score_with_clv(&summary, horizon, &spend, &clv_params)?;
    let values = scores.clv.as_deref().unwrap_or_default();
    let mut stages = Vec::with_capacity(summary.len());
    let mut clv: Vec<(f64, usize)> = Vec::with_capacity(summary.len());
    for i in 0..summary.len() {
        let input = StageInput {
            repeat_purchases: Some(summary.frequency[i]),
            recency: summary.recency[i],
            age: summary.age[i],
            p_alive: scores.p_alive[i],
            expected_purchases: scores.expected_purchases[i],
            horizon,
        };
        stages.push(stage_params.assign(&input, Period::Day).stage);
        clv.push((values.get(i).copied().unwrap_or(0.0), i));
    }
    clv.sort_by(|a, b| b.0.total_cmp(&a.0));
    let stage_counts = distribution(&stages);
    let rfm = RfmScores::from_summary(&summary)?;
    let mut rfm_counts: Vec<(&'static str, usize)> = Vec::new();
    for seg in &rfm.segment {
        match rfm_counts
            .iter_mut()
            .find(|(name, _)| *name == seg.as_str())
        {
            Some((_, c)) => *c += 1,
            None => rfm_counts.push((seg.as_str(), 1)),
        }
    }
    rfm_counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let lifecycle_secs = lifecycle_started.elapsed().as_secs_f64();

    // Segmentation. The personas differ in where they meet us (touchpoint and
    // purchase channels), so those shares are the features clustered; value
    // and lifecycle columns describe the segments.
    let segment_started = Instant::now();
    let mut features =
        FeatureMatrix::from_base(base, &FeatureSpec::default(), pop.observation_end)?;
    features.with_scores(&summary, &scores)?;
    // A user-supplied column set: each customer's share of touchpoints per channel.
    let n_channels = base.channels().len();
    let mut touch = vec![0.0f64; n * n_channels];
    for (&c, &ch) in base.tp_customer().iter().zip(base.tp_channel_codes()) {
        touch[c as usize * n_channels + usize::from(ch)] += 1.0;
    }
    for row in touch.chunks_mut(n_channels) {
        let total: f64 = row.iter().sum();
        if total > 0.0 {
            row.iter_mut().for_each(|v| *v /= total);
        }
    }
    let mut clustered_on: Vec<String> = features
        .names()
        .iter()
        .filter(|name| name.starts_with("channel_share:"))
        .cloned()
        .collect();
    for (code, channel) in base.channels().iter().enumerate() {
        let name = format!("touchpoint_share:{channel}");
        if features.column_index(&name).is_none() {
            features.push_column(
                &name,
                touch
                    .iter()
                    .skip(code)
                    .step_by(n_channels)
                    .copied()
                    .collect(),
            )?;
            clustered_on.push(name);
        }
    }
    let clustered_names: Vec<&str> = clustered_on.iter().map(String::as_str).collect();
    let k = pop.truth.persona_names.len();
    let segment_params = SegmentationParams {
        kmeans: KMeansParams {
            seed: args.seed,
            ..KMeansParams::new(k)
        },
        ..SegmentationParams::default()
    };
    let clustered = segment_params.cluster(&features.select(&clustered_names)?)?;
    let clv_column: Vec<f64> = features
        .column("clv")
        .map(|c| c.to_vec())
        .unwrap_or_default();
    // Lifecycle stage per feature row (customers without a purchase are prospects).
    let stage_of: std::collections::HashMap<&str, Stage> = summary
        .customer_ids
        .iter()
        .map(String::as_str)
        .zip(stages.iter().copied())
        .collect();
    let row_stages: Vec<Stage> = features
        .customer_ids()
        .iter()
        .map(|id| {
            stage_of
                .get(id.as_str())
                .copied()
                .unwrap_or(Stage::Prospect)
        })
        .collect();
    let segmentation = clustered.describe(
        &features,
        ProfileContext {
            value: (!clv_column.is_empty()).then_some(clv_column.as_slice()),
            stages: Some(&row_stages),
        },
    )?;
    let personas: Vec<usize> = pop.truth.persona.iter().map(|&p| usize::from(p)).collect();
    let agreement = adjusted_rand_index(&segmentation.labels, &personas)?;
    let segment_secs = segment_started.elapsed().as_secs_f64();
    let truth = pop.truth.purchases;
    let truth_spend = pop.truth.spend;

    // Touchpoints: journeys, which channels convert in which segment, and attribution.
    let touch_started = Instant::now();
    // Synthetic journeys span a few days, and failed ones fall between purchases:
    // a three-day lookback keeps them apart.
    let journey_params = JourneyParams {
        lookback_days: 3.0,
        conversions: ConversionSource::Transactions,
        ..JourneyParams::default()
    };
    let journeys = Journeys::build(base, &journey_params)?;
    let (j_converted, j_not, j_open) = journeys.outcome_counts();
    let ttc = time_to_conversion(&journeys);
    let paths = PathTable::from_journeys(&journeys, base, false)?;
    let path_stats = PathStats::compute(&paths, 3);
    let mut segment_of = vec![NO_GROUP; n];
    for (row, id) in features.customer_ids().iter().enumerate() {
        if let (Some(c), Some(&l)) = (base.index_of(id), segmentation.labels.get(row)) {
            segment_of[c as usize] = l as u32;
        }
    }
    let segment_names: Vec<String> = segmentation
        .profiles
        .iter()
        .map(|p| format!("{} {}", p.id, p.name))
        .collect();
    let matrix = group_matrix(
        base,
        &journeys,
        &Groups {
            labels: &segment_of,
            names: &segment_names,
        },
        &EffectivenessParams {
            level: KeyLevel::Channel,
            ..EffectivenessParams::default()
        },
    )?;
    let heuristic = heuristics(&paths, &HeuristicParams::default())?;
    let chain = markov(&paths, &MarkovParams::default())?;
    let fair = shapley(&paths, &ShapleyParams::default())?;
    // Per journey a channel appears in, credit should follow the channel's true effect.
    let appearances: Vec<f64> = path_stats.positions.iter().map(|p| p.journeys).collect();
    let attribution_rows: Vec<(String, f64, f64, f64, f64, f64)> = MARKETING_CHANNELS
        .iter()
        .enumerate()
        .filter_map(|(i, ch)| {
            let c = paths.channels().iter().position(|n| n == ch.as_str())?;
            let per = |credit: f64| credit / appearances[c].max(1.0);
            Some((
                ch.to_string(),
                pop.truth.journeys.channel_effects[i],
                appearances[c],
                per(heuristic.last_touch.conversions[c]),
                per(chain.credits.conversions[c]),
                per(fair.credits.conversions[c]),
            ))
        })
        .collect();
    // Engagement, journey stage, content fit and channel preference at the end of observation.
    let engagement_params = EngagementParams {
        as_of: Some(end),
        ..EngagementParams::default()
    };
    let engagement = engagement_score(base, &engagement_params)?;
    let funnel = engagement.funnel();
    let leads = warm_leads(base, &engagement, &WarmLeadParams::default())?;
    let journey_stage_params = JourneyStageParams {
        as_of: Some(end),
        ..JourneyStageParams::default()
    };
    let journey_stages = assign_journey_stages(base, &journey_stage_params)?;
    let fit = content_fit(
        base,
        &ContentFitParams {
            stage: journey_stage_params.clone(),
            ..ContentFitParams::default()
        },
    )?;
    let preferred = preferences(
        base,
        &PreferenceParams {
            as_of: Some(end),
            ..PreferenceParams::default()
        },
    )?;
    let touch_secs = touch_started.elapsed().as_secs_f64();

    let memory = base.memory();
    let mut files = match &args.out {
        Some(dir) => pop.write_csv(dir)?,
        None => Vec::new(),
    };
    let mut report_path = None;
    let mut report_seconds = 0.0;
    if let Some(dir) = &args.out {
        let report_started = Instant::now();
        let mut rep =
            Report::new("custinsight quickstart: the customer loop on a synthetic population");
        report::population(
            &mut rep,
            &pop,
            args.seed,
            &persona_counts,
            &[
                ("customers.csv", &customers_report),
                ("transactions.csv", &tx_report),
                ("touchpoints.csv", &tp_report),
                ("consents.csv", &consent_report),
            ],
        )?;
        report::identity(&mut rep, &identity);
        report::touchpoints(
            &mut rep,
            &matrix,
            &paths,
            &funnel,
            &heuristic,
            &chain,
            &fair,
            (j_converted, j_not, j_open),
        )?;
        report::lifecycle(&mut rep, &pop, &bgnbd, &stages, values, horizon)?;
        report::segments(
            &mut rep,
            &segmentation,
            &features,
            &features.select(&clustered_names)?,
            agreement,
            args.seed,
        )?;
        let looks = report::cumulative_looks(&pop, args.seed, 28)?;
        report::experiment(&mut rep, &experiment, &exp.key, &looks)?;
        let written = rep.write_to_dir(dir)?;
        report_path = written.first().cloned();
        files.extend(written);
        report_seconds = report_started.elapsed().as_secs_f64();
    }

    if args.json {
        let report = |r: &IngestReport| json!({"rows": r.rows, "accepted": r.accepted, "rejected": r.rejected});
        let out = json!({
            "seed": args.seed,
            "customers": n,
            "transactions": base.n_transactions(),
            "touchpoints": base.n_touchpoints(),
            "source_records": pop.source_records.len(),
            "observation": {"start": pop.observation_start.to_string(), "end": pop.observation_end.to_string()},
            "personas": pop.truth.persona_names.iter().zip(&persona_counts)
                .map(|(name, &c)| json!({"name": name, "customers": c, "share": share(c, n)})).collect::<Vec<_>>(),
            "alive_at_end_share": share(alive, n),
            "email_marketing_allowed_share": share(emailable, n),
            "journeys": {"total": pop.truth.journey_counts.0, "converted": pop.truth.journey_counts.1},
            "ingest": {
                "customers": report(&customers_report),
                "transactions": report(&tx_report),
                "touchpoints": report(&tp_report),
                "consents": report(&consent_report),
                "seconds": ingest_secs,
                "round_trip_equal": reloaded.n_transactions() == base.n_transactions() && reloaded.n_touchpoints() == base.n_touchpoints(),
            },
            "experiment": experiment.to_json(),
            "identity": identity.to_json(),
            "lifecycle": {
                "period": "day",
                "bgnbd": {"r": bgnbd.r, "alpha_per_week": bgnbd.alpha / 7.0, "a": bgnbd.a, "b": bgnbd.b,
                          "log_likelihood": bgnbd.report.log_likelihood, "iterations": bgnbd.report.iterations},
                "bgnbd_truth": {"r": truth.r, "alpha_per_week": truth.alpha, "a": truth.a, "b": truth.b},
                "gamma_gamma": {"p": spend.p, "q": spend.q, "v": spend.v},
                "gamma_gamma_truth": {"p": truth_spend.p, "q": truth_spend.q, "v": truth_spend.gamma},
                "stages": Stage::ALL.iter().zip(stage_counts).map(|(s, c)| (s.as_str().to_owned(), json!(c))).collect::<serde_json::Map<_, _>>(),
                "rfm_segments": rfm_counts.iter().map(|(n, c)| (n.to_string(), json!(c))).collect::<serde_json::Map<_, _>>(),
                "top_clv": clv.iter().take(5).map(|&(v, i)| json!({"customer_id": summary.customer_ids[i], "clv": v})).collect::<Vec<_>>(),
                "seconds": lifecycle_secs,
            },
            "segments": {
                "k": k,
                "features": clustered_on,
                "inertia": segmentation.model.kmeans.inertia,
                "adjusted_rand_index_vs_personas": agreement,
                "profiles": segmentation.profiles.iter().map(|p| json!({
                    "id": p.id, "name": p.name, "customers": p.size, "share": p.share,
                    "value_share": p.value_share, "preferred_channel": p.preferred_channel,
                    "stage_mix": p.stage_mix.as_ref().map(|mix| Stage::ALL.iter().zip(mix).map(|(s, &c)| (s.as_str().to_owned(), json!(c))).collect::<serde_json::Map<_, _>>()),
                })).collect::<Vec<_>>(),
                "seconds": segment_secs,
            },
            "touchpoints": {
                "journeys": {"converted": j_converted, "not_converted": j_not, "open": j_open,
                             "median_days_to_conversion": ttc.median_days},
                "top_paths": path_stats.top_paths,
                "conversion_rate_by_segment": {
                    "channels": matrix.touchpoints,
                    "segments": matrix.groups,
                    "rates": matrix.cells.iter().map(|row| row.iter().map(|c| c.rate).collect::<Vec<_>>()).collect::<Vec<_>>(),
                    "significant": matrix.cells.iter().map(|row| row.iter().map(|c| c.direction).collect::<Vec<_>>()).collect::<Vec<_>>(),
                },
                "attribution": attribution_rows.iter().map(|(ch, effect, n, last, m, s)| json!({
                    "channel": ch, "true_effect": effect, "journeys": n,
                    "last_touch_per_journey": last, "markov_per_journey": m, "shapley_per_journey": s,
                })).collect::<Vec<_>>(),
                "engagement_funnel": funnel.steps,
                "warm_leads": {"candidates": leads.candidates, "listed": leads.leads.len(),
                               "top": leads.leads.iter().take(3).map(|l| json!({"customer_id": l.customer_id, "score": l.score, "kind": l.kind})).collect::<Vec<_>>()},
                "journey_stages": journey_stages.distribution,
                "content_fit": {"assessed": fit.total.stage_assessed, "mismatched": fit.total.stage_mismatched(),
                                "mismatch_share": fit.total.stage_mismatch_share()},
                "preferred_channels": preferred.distribution,
                "seconds": touch_secs,
            },
            "memory_bytes_per_transaction": memory.bytes_per_transaction,
            "generated_seconds": generated_in.as_secs_f64(),
            "report": report_path.as_ref().map(|p| p.display().to_string()),
            "report_seconds": report_seconds,
            "files": files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        println!("{out}");
        return Ok(());
    }

    println!(
        "custinsight quickstart — seed {}, {} customers",
        args.seed, n
    );
    println!();
    println!(
        "1. Synthetic population ({:.2} s)",
        generated_in.as_secs_f64()
    );
    println!(
        "   observation      {} .. {}",
        pop.observation_start, pop.observation_end
    );
    println!(
        "   transactions     {:>10}  ({:.1} per customer)",
        base.n_transactions(),
        share(base.n_transactions(), n)
    );
    println!(
        "   touchpoints      {:>10}  ({:.1} per customer)",
        base.n_touchpoints(),
        share(base.n_touchpoints(), n)
    );
    println!(
        "   source records   {:>10}  ({} extra, dirty copies to resolve)",
        pop.source_records.len(),
        pop.source_records.len() - n
    );
    println!("   personas (latent truth):");
    for (name, &c) in pop.truth.persona_names.iter().zip(&persona_counts) {
        println!("     {name:<18} {c:>8}  {:>5.1}%", 100.0 * share(c, n));
    }
    println!(
        "   still buying at the end (truth)   {:>5.1}%",
        100.0 * share(alive, n)
    );
    println!(
        "   e-mail marketing allowed at end   {:>5.1}%",
        100.0 * share(emailable, n)
    );
    println!(
        "   journeys: {} of {} converted ({:.1}%)",
        pop.truth.journey_counts.1,
        pop.truth.journey_counts.0,
        100.0
            * share(
                pop.truth.journey_counts.1 as usize,
                pop.truth.journey_counts.0 as usize
            )
    );
    println!();
    println!("2. Ingest round trip ({csv_mb:.1} MB of CSV in {ingest_secs:.2} s)");
    for (kind, r) in [
        ("customers", &customers_report),
        ("transactions", &tx_report),
        ("touchpoints", &tp_report),
        ("consents", &consent_report),
    ] {
        println!(
            "   {kind:<13} rows {:>9}  accepted {:>9}  rejected {:>3}",
            r.rows, r.accepted, r.rejected
        );
    }
    println!(
        "   memory per transaction: {:.1} bytes",
        memory.bytes_per_transaction
    );
    println!();
    println!("3. Lifecycle and value ({lifecycle_secs:.2} s; daily summaries, α shown per week)");
    println!(
        "   BG/NBD        fitted  r={:.3} α={:.3} a={:.3} b={:.3}",
        bgnbd.r,
        bgnbd.alpha / 7.0,
        bgnbd.a,
        bgnbd.b
    );
    println!(
        "                 truth   r={:.3} α={:.3} a={:.3} b={:.3}",
        truth.r, truth.alpha, truth.a, truth.b
    );
    println!(
        "   Gamma–Gamma   fitted  p={:.3} q={:.3} v={:.3}",
        spend.p, spend.q, spend.v
    );
    println!(
        "                 truth   p={:.3} q={:.3} v={:.3}",
        truth_spend.p, truth_spend.q, truth_spend.gamma
    );
    println!("   stages:");
    for (stage, count) in Stage::ALL.iter().zip(stage_counts) {
        println!(
            "     {:<10} {count:>7}  {:>5.1}%  play: {:?}",
            stage.as_str(),
            100.0 * share(count, summary.len()),
            stage.play()
        );
    }
    println!(
        "   RFM segments: {}",
        rfm_counts
            .iter()
            .map(|(n, c)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("   top customers by 12-month CLV:");
    for &(value, i) in clv.iter().take(5) {
        println!("     {:<10} {value:>10.2}", summary.customer_ids[i]);
    }
    println!();
    println!(
        "4. Segments ({:.2} s; k = {k}, one per persona, on {} channel-share features)",
        segment_secs,
        clustered_on.len()
    );
    for p in &segmentation.profiles {
        // The most common lifecycle stage in the segment.
        let main_stage = p
            .stage_mix
            .as_ref()
            .and_then(|mix| {
                mix.iter()
                    .enumerate()
                    .max_by_key(|&(i, &c)| (c, std::cmp::Reverse(i)))
                    .map(|(i, &c)| (Stage::ALL[i], c))
            })
            .map(|(s, c)| format!("{} {:.0}%", s.as_str(), 100.0 * share(c, p.size)))
            .unwrap_or_default();
        println!(
            "   {} {:<40} {:>6} customers {:>5.1}%  value share {:>5.1}%  mostly {main_stage}",
            p.id,
            p.name,
            p.size,
            100.0 * p.share,
            100.0 * p.value_share.unwrap_or(0.0)
        );
    }
    println!("   agreement with the true personas: adjusted Rand index {agreement:.3}");
    println!();
    println!(
        "5. Touchpoints and journeys ({touch_secs:.2} s; 3-day lookback, conversions = orders)"
    );
    println!(
        "   journeys: {j_converted} converted, {j_not} not converted, {j_open} open; median {:.1} days from first touch to order",
        ttc.median_days
    );
    for p in &path_stats.top_paths {
        println!(
            "   path {:<32} {:>7} journeys, {:>5.1}% convert",
            p.path,
            p.journeys,
            100.0 * p.conversion_rate
        );
    }
    println!(
        "   conversion rate by channel and segment (+/− significantly above/below the other segments, BH 5%):"
    );
    print!("     {:<12}", "");
    for g in 0..matrix.groups.len() {
        print!(" {:>9}", format!("seg {g}"));
    }
    println!();
    for (row, cells) in matrix.touchpoints.iter().zip(&matrix.cells) {
        print!("     {row:<12}");
        for c in cells {
            let mark = match c.direction {
                1 => "+",
                -1 => "−",
                _ => " ",
            };
            if c.rate.is_nan() {
                print!(" {:>9}", "·");
            } else {
                print!(" {:>8.1}{mark}", 100.0 * c.rate);
            }
        }
        println!();
    }
    println!(
        "   attribution per journey a channel is in, against the true effect on conversion (log-odds):"
    );
    println!(
        "     {:<12} {:>7} {:>9} {:>10} {:>8} {:>8}",
        "channel", "effect", "journeys", "last touch", "markov", "shapley"
    );
    for (ch, effect, n, last, m, sh) in &attribution_rows {
        println!("     {ch:<12} {effect:>7.2} {n:>9} {last:>10.3} {m:>8.3} {sh:>8.3}");
    }
    println!(
        "   engagement ladder, last {} days: {}",
        engagement_params.recent_days,
        funnel
            .steps
            .iter()
            .map(|s| format!("{} {:.1}%", s.rung, 100.0 * s.share))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    println!(
        "   warm leads (engaged, no recent purchase, contactable): {} of {} candidates{}",
        leads.leads.len(),
        leads.candidates,
        leads
            .leads
            .first()
            .map(|l| format!(
                "; best {} score {:.1} ({:?}, last rung {})",
                l.customer_id,
                l.score,
                l.kind,
                l.highest_recent_rung.map_or("none", |r| r.as_str())
            ))
            .unwrap_or_default()
    );
    let d = &journey_stages.distribution;
    println!(
        "   journey stages: {}, inactive {:.1}%",
        JourneyStage::ALL
            .iter()
            .zip(d.counts)
            .map(|(s, c)| format!("{s} {:.1}%", 100.0 * share(c, d.customers)))
            .collect::<Vec<_>>()
            .join(", "),
        100.0 * share(d.inactive, d.customers)
    );
    println!(
        "   content fit: {} of {} stage-assessed messages made for another stage ({:.1}%)",
        fit.total.stage_mismatched(),
        fit.total.stage_assessed,
        100.0 * fit.total.stage_mismatch_share().unwrap_or(0.0)
    );
    println!(
        "   preferred channel (with consent): {}; no consented channel {}",
        preferred
            .distribution
            .iter()
            .take(4)
            .map(|c| format!("{} {:.1}%", c.channel, 100.0 * c.share))
            .collect::<Vec<_>>()
            .join(", "),
        preferred.no_consented_channel
    );
    println!();
    experiment.print(&exp.key);
    println!();
    identity.print();
    if let Some(path) = &report_path {
        println!();
        println!(
            "Report ({report_seconds:.2} s): {}  (charts as SVG files beside it)",
            path.display()
        );
    }
    if !files.is_empty() {
        println!();
        println!("Files written:");
        for f in &files {
            println!("   {}", f.display());
        }
    }
    Ok(())
}

/// The comparison of the treatment in a segment result (the second variant).
fn treatment(
    e: &custinsight::experiment::evaluate::SegmentResult,
) -> &custinsight::experiment::evaluate::Comparison {
    e.variants[1]
        .comparison
        .as_ref()
        .expect("the second variant is a treatment")
}

/// What the quickstart's identity step found.
struct IdentityStep {
    records: usize,
    true_customers: usize,
    resolution: Resolution,
    entities: usize,
    precision: f64,
    recall: f64,
    blocking_rules: Vec<String>,
    example: Option<(Vec<String>, GoldenRecord)>,
    seconds: f64,
}

impl IdentityStep {
    fn run(pop: &Population) -> custinsight::Result<IdentityStep> {
        let started = Instant::now();
        let table = custinsight::synth::record_table(&pop.source_records, false)?;
        let (auto, resolver, resolution) = resolve_auto(&[&table], 0.5)?;
        let seconds = started.elapsed().as_secs_f64();
        let truth = &pop.truth.source_record_customer;
        let entities = resolver.entities();
        // Pairwise: records of one true customer in one entity, and no others.
        let quality = entities.pairwise_quality(truth)?;
        let true_customers = truth.iter().collect::<std::collections::HashSet<_>>().len();
        // A golden record for the first customer found in three systems: the
        // source priority decides contact data, the most frequent value the rest.
        let with_source = custinsight::synth::record_table(&pop.source_records, true)?;
        let sources = Sources::new(&[&with_source])?;
        let priority = Survivorship::SourcePriority {
            column: "source".into(),
            order: ["webshop", "loyalty", "store_pos", "call_center"]
                .map(String::from)
                .to_vec(),
        };
        let mut rules = GoldenRules::default();
        for column in ["email", "phone", "street", "postcode"] {
            rules.columns.insert(
                column.into(),
                vec![priority.clone(), Survivorship::MostFrequent],
            );
        }
        let example = entities
            .iter()
            .find(|(_, members)| members.len() >= 3)
            .map(|(e, _)| e)
            .map(|e| -> custinsight::Result<_> {
                let golden = golden_records(&sources, entities, &rules)?
                    .into_iter()
                    .find(|g| g.entity == e);
                Ok(golden.map(|g| (with_source.columns().to_vec(), g)))
            })
            .transpose()?
            .flatten();
        Ok(IdentityStep {
            records: table.len(),
            true_customers,
            entities: entities.entity_count(),
            precision: quality.precision,
            recall: quality.recall,
            blocking_rules: auto
                .settings
                .blocking_rules
                .iter()
                .map(|r| r.name.clone())
                .collect(),
            resolution,
            example,
            seconds,
        })
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "records": self.records,
            "true_customers": self.true_customers,
            "candidate_pairs": self.resolution.candidate_pairs,
            "matches": self.resolution.matches.len(),
            "entities": self.entities,
            "pairwise_precision": self.precision,
            "pairwise_recall": self.recall,
            "blocking_rules": self.blocking_rules,
            "seconds": self.seconds,
        })
    }

    fn print(&self) {
        println!(
            "7. Identity resolution, zero-config ({:.2} s)",
            self.seconds
        );
        println!(
            "   {} source records → {} customers (truth {}); {} candidate pairs from {} blocking rules, {} matches",
            self.records,
            self.entities,
            self.true_customers,
            self.resolution.candidate_pairs,
            self.blocking_rules.len(),
            self.resolution.matches.len()
        );
        println!("   blocking: {}", self.blocking_rules.join("; "));
        println!(
            "   against the truth: pairwise precision {:.4}, recall {:.4}",
            self.precision, self.recall
        );
        if let Some((columns, golden)) = &self.example {
            let ids: Vec<&str> = golden.members.iter().map(|m| m.id.as_str()).collect();
            println!(
                "   golden record of {} (records {}):",
                golden.entity,
                ids.join(", ")
            );
            // The source column only says where each chosen value came from.
            for (column, value) in columns.iter().zip(&golden.values).skip(1) {
                if let Some(v) = value {
                    println!(
                        "     {column:<12} {:<28} from {} ({}, {} of {} agree)",
                        v.value,
                        v.record.id,
                        v.rule,
                        v.support,
                        ids.len()
                    );
                }
            }
        }
    }
}

/// What the quickstart's experiment step found.
struct ExperimentStep {
    conversion: Evaluation,
    revenue: Evaluation,
    allocation: Allocation,
    bandit: SimulationResult,
    next_round: BaseAssignment,
    plan: SampleSize,
    true_rates: Vec<Vec<f64>>,
    seconds: f64,
}

impl ExperimentStep {
    fn to_json(&self) -> serde_json::Value {
        let (conversion, bandit, next_round) = (&self.conversion, &self.bandit, &self.next_round);
        let overall = treatment(&conversion.overall);
        let rev = treatment(&self.revenue.overall);
        json!({
            "sample_ratio_p_value": conversion.overall.sample_ratio.p_value,
            "conversion": {
                "control_rate": conversion.overall.variants[0].mean,
                "treatment_rate": conversion.overall.variants[1].mean,
                "abs_effect": overall.abs_effect, "abs_ci": overall.abs_ci, "p_value": overall.p_value,
                "rel_effect": overall.rel_effect, "rel_ci": overall.rel_ci,
                "chance_to_win": overall.chance_to_win,
                "chance_to_beat_control_exact": overall.beta_binomial.map(|b| b.chance_to_beat_control),
                "verdict": conversion.overall.verdict.reason,
            },
            "revenue": {
                "rel_effect_cuped": rev.rel_effect, "rel_ci_cuped": rev.rel_ci,
                "variance_reduction": rev.cuped.map(|c| c.variance_reduction),
            },
            "personas": conversion.segments.iter().zip(&self.true_rates).zip(&self.allocation.segments).map(|((s, truth), a)| {
                let c = treatment(s);
                json!({"persona": s.segment, "true_abs_effect": truth[1] - truth[0], "abs_effect": c.abs_effect,
                       "abs_ci": c.abs_ci, "p_value_holm": c.p_value_holm, "winner": s.verdict.winner.map(|w| &conversion.variants[w]),
                       "verdict": s.verdict.reason, "thompson_weights": a.weights})
            }).collect::<Vec<_>>(),
            "heterogeneity_p_value": conversion.heterogeneity.first().map(|h| h.p_value),
            "bandit": {"regret_thompson": bandit.regret_thompson, "regret_equal": bandit.regret_equal, "units": bandit.units},
            "next_round": {"assigned": next_round.counts, "no_consent": next_round.no_consent},
            "sample_size_per_arm_for_10pct_lift": self.plan.control_units,
            "seconds": self.seconds,
        })
    }

    fn print(&self, key: &str) {
        let ExperimentStep {
            conversion,
            revenue,
            allocation,
            bandit,
            next_round,
            plan,
            true_rates,
            seconds,
        } = self;
        let pct = |x: f64| format!("{:+.2}", 100.0 * x);
        let o = treatment(&conversion.overall);
        println!("6. Experiment `{key}` ({seconds:.3} s)");
        println!(
            "   split: {} control, {} treatment; sample-ratio test p = {:.3}",
            conversion.overall.variants[0].n,
            conversion.overall.variants[1].n,
            conversion.overall.sample_ratio.p_value
        );
        println!(
            "   conversion {:.2}% → {:.2}%: {} points [{}, {}], pooled z p = {:.2e}; relative {}% [{}, {}]",
            100.0 * conversion.overall.variants[0].mean,
            100.0 * conversion.overall.variants[1].mean,
            pct(o.abs_effect),
            pct(o.abs_ci[0]),
            pct(o.abs_ci[1]),
            o.p_value,
            pct(o.rel_effect),
            pct(o.rel_ci[0]),
            pct(o.rel_ci[1])
        );
        println!(
            "   chance to win {:.1}% (exact Beta–Binomial {:.1}%), sequential p = {:.2e}, risk {}%",
            100.0 * o.chance_to_win,
            100.0
                * o.beta_binomial
                    .map_or(f64::NAN, |b| b.chance_to_beat_control),
            o.sequential_p_value,
            pct(o.risk)
        );
        let r = treatment(&revenue.overall);
        if let Some(c) = r.cuped {
            println!(
                "   revenue per customer: {}% [{}, {}] with CUPED on pre-period revenue (variance −{:.0}%; without: {}% [{}, {}])",
                pct(r.rel_effect),
                pct(r.rel_ci[0]),
                pct(r.rel_ci[1]),
                100.0 * c.variance_reduction,
                pct(c.unadjusted_rel_effect),
                pct(c.unadjusted_rel_ci[0]),
                pct(c.unadjusted_rel_ci[1])
            );
        }
        println!(
            "   {:<18} {:>8} {:>9} {:>19} {:>8} {:>12}  verdict",
            "persona", "truth", "estimate", "95% CI", "p Holm", "next weights"
        );
        for ((s, truth), a) in conversion
            .segments
            .iter()
            .zip(true_rates)
            .zip(&allocation.segments)
        {
            let c = treatment(s);
            println!(
                "   {:<18} {:>8} {:>9} {:>19} {:>8.3} {:>12}  {}",
                s.segment,
                pct(truth[1] - truth[0]),
                pct(c.abs_effect),
                format!("[{}, {}]", pct(c.abs_ci[0]), pct(c.abs_ci[1])),
                c.p_value_holm,
                format!("{:.0}/{:.0}", 100.0 * a.weights[0], 100.0 * a.weights[1]),
                s.verdict.reason
            );
        }
        if let Some(h) = conversion.heterogeneity.first() {
            println!(
                "   effects differ between personas? Cochran's Q = {:.1}, p = {:.2e}, I² = {:.0}% → {}",
                h.q,
                h.p_value,
                100.0 * h.i_squared,
                if h.differs {
                    "yes: decide per persona"
                } else {
                    "no evidence"
                }
            );
        }
        println!(
            "   Thompson sampling on the true persona rates, {} units: regret {:.0} conversions vs {:.0} for a fixed 50/50 split",
            bandit.units, bandit.regret_thompson, bandit.regret_equal
        );
        println!(
            "   next round with the recommended weights: {} control, {} treatment; {} without e-mail consent left out",
            next_round.counts[0], next_round.counts[1], next_round.no_consent
        );
        println!(
            "   to detect a 10% relative lift at 80% power: {} customers per arm",
            plan.control_units
        );
    }
}
