//! The quickstart's text output and its HTML report: every step of both
//! rounds, with the truth beside what the loop found.

use custinsight::experiment::evaluate::{EvalParams, Evaluation, evaluate};
use custinsight::experiment::outcomes::Outcomes;
use custinsight::experiment::stats::{ExperimentStats, Metric, MetricKind};
use custinsight::identity::Applied;
use custinsight::lifecycle::bgnbd::BgNbdParams;
use custinsight::lifecycle::stage::Stage;
use custinsight::lifecycle::summary::{CalibrationHoldout, Period};
use custinsight::records::JourneyStage;
use custinsight::report::charts::{BarChart, Series, ValueFormat, bar_chart};
use custinsight::report::experiment::{
    ForestPlot, ForestRow, chance_to_win, effect_forest, forest_plot, sequential_effect,
    sequential_p_value,
};
use custinsight::report::lifecycle::{
    HOLDOUT_MAX_FREQUENCY, clv_distribution, holdout_purchases, p_alive_matrix, stage_distribution,
};
use custinsight::report::segment::{
    ProjectionParams, profile_heat_map, projection, size_value_share,
};
use custinsight::report::touchpoints::{
    JourneySankeyParams, attribution_comparison, attribution_models, conversion_heat_map,
    engagement_funnel, journey_sankey,
};
use custinsight::report::{Report, ReportTable};
use custinsight::round::{FileReport, Round, RoundParams, StepTime};
use custinsight::segment::profile::SegmentProfile;
use custinsight::synth::Population;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::PopulationFacts;
use super::checks::{Gain, IdentityCheck};
use super::target::TargetStep;
use super::touch::TouchStep;

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn signed_pct(x: f64) -> String {
    format!("{:+.2}%", 100.0 * x).replace('-', "−")
}

/// A difference of two rates in percentage points (the unit is in the header).
fn signed_pp(x: f64) -> String {
    format!("{:+.2}", 100.0 * x).replace('-', "−")
}

/// A count with its thousands grouped, as on the charts.
fn count(n: usize) -> String {
    custinsight::report::svg::format_number(n as f64, 16)
}

/// What round 1 found, kept once its customers are released.
pub struct RoundSummary {
    pub as_of: jiff::Timestamp,
    pub steps: Vec<StepTime>,
    pub candidate_pairs: usize,
    pub matches: usize,
    pub applied: Applied,
    pub profiles: Vec<SegmentProfile>,
    pub k_reason: Option<String>,
    pub agreement: f64,
    pub dominant: Vec<Option<(String, f64)>>,
    pub stage_counts: [usize; 6],
    /// Of the customers with a lifecycle stage, the true shares of prospects
    /// (first purchase after `as_of`) and new customers (first purchase in the
    /// 60 days before it, the stage rule's default window).
    pub true_prospect_share: f64,
    pub true_new_share: f64,
    pub assigned: Vec<usize>,
    pub no_consent: usize,
    pub held_out: usize,
    pub bgnbd: [f64; 4],
}

impl RoundSummary {
    pub fn of(
        round: &Round,
        pop: &Population,
        truth: &[Option<u32>],
        agreement: f64,
        dominant: &[Option<(usize, f64)>],
    ) -> custinsight::Result<RoundSummary> {
        let m = &round.lifecycle.models.btyd;
        let (true_prospect_share, true_new_share) = true_lifecycle_shares(round, pop, truth);
        Ok(RoundSummary {
            as_of: round.as_of,
            steps: round.steps.clone(),
            candidate_pairs: round.identity.candidate_pairs,
            matches: round.identity.matches,
            applied: round.identity.applied.clone(),
            profiles: round.segmentation.profiles.clone(),
            k_reason: round
                .segmentation
                .k_choice
                .as_ref()
                .map(|k| k.reason.clone()),
            agreement,
            dominant: dominant
                .iter()
                .map(|d| d.map(|(p, s)| (pop.truth.persona_names[p].clone(), s)))
                .collect(),
            stage_counts: round.lifecycle.stage_counts(),
            true_prospect_share,
            true_new_share,
            assigned: round.assignment.counts.clone(),
            no_consent: round.assignment.no_consent,
            held_out: round.assignment.held_out,
            bgnbd: [m.r, m.alpha, m.a, m.b],
        })
    }
}

/// Of a round's customers with a lifecycle stage, the true shares of
/// prospects (first purchase after `as_of`) and of new customers (first
/// purchase in the 60 days before it, the stage rule's default window).
pub fn true_lifecycle_shares(round: &Round, pop: &Population, truth: &[Option<u32>]) -> (f64, f64) {
    let as_of_week =
        (round.as_of.as_second() - pop.observation_start.as_second()) as f64 / (7.0 * 86_400.0);
    let (mut staged, mut prospects, mut new) = (0usize, 0usize, 0usize);
    for (stage, t) in round.lifecycle.stage.iter().zip(truth) {
        let (Some(_), Some(t)) = (stage, t) else {
            continue;
        };
        let first = pop.truth.first_purchase_week[*t as usize];
        staged += 1;
        prospects += usize::from(first > as_of_week);
        new += usize::from(first <= as_of_week && first > as_of_week - 60.0 / 7.0);
    }
    let of_staged = |n: usize| n as f64 / staged.max(1) as f64;
    (of_staged(prospects), of_staged(new))
}

/// The effect of the offer over cumulative looks: units are taken to enrol
/// in a seeded random order over `days` days, and at the end of each day
/// the experiment is evaluated on the units enrolled so far.
pub fn cumulative_looks(
    outcomes: &Outcomes,
    variants: &[String],
    seed: u64,
    days: usize,
) -> custinsight::Result<Vec<(f64, Evaluation)>> {
    let mut order: Vec<usize> = (0..outcomes.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let mut looks = Vec::with_capacity(days);
    for day in 1..=days {
        let enrolled = &order[..outcomes.len() * day / days];
        let variant: Vec<u16> = enrolled.iter().map(|&i| outcomes.variant[i]).collect();
        let converted: Vec<f64> = enrolled.iter().map(|&i| outcomes.converted[i]).collect();
        let stats = ExperimentStats::from_columns(
            Metric::new("conversion", MetricKind::Binomial),
            variants.to_vec(),
            vec!["all".to_owned()],
            &variant,
            None,
            &converted,
            None,
        )?;
        // Early looks may have too few units for an estimate; they are left out.
        if let Ok(evaluation) = evaluate(&stats, &EvalParams::default()) {
            looks.push((day as f64, evaluation));
        }
    }
    Ok(looks)
}

fn seconds(steps: &[StepTime]) -> String {
    steps
        .iter()
        .map(|s| format!("{} {:.2}", s.step, s.seconds))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Round 1 on the terminal: identity, lifecycle, segments, assignment.
pub fn print_first(
    first: &RoundSummary,
    identity: &IdentityCheck,
    pop: &Population,
    facts: &PopulationFacts,
) {
    let a = &first.applied;
    println!(
        "2. Round 1 at {}: who are our customers really (seconds: {})",
        first.as_of.strftime("%Y-%m-%d"),
        seconds(&first.steps)
    );
    println!(
        "   {} source records → {} customers (truth {}); {} candidate pairs, {} matches",
        identity.records,
        identity.customers,
        identity.true_customers,
        first.candidate_pairs,
        first.matches
    );
    println!(
        "   against the truth: pairwise precision {:.4}, recall {:.4}",
        identity.precision, identity.recall
    );
    println!(
        "   every event moved to its customer: transactions {} → {}, touchpoints {} → {}, consent events {} → {}; {} customers merged from several records",
        a.transactions.0,
        a.transactions.1,
        a.touchpoints.0,
        a.touchpoints.1,
        a.consent_events.0,
        a.consent_events.1,
        a.merged_customers
    );
    println!(
        "   merged consent (a withdrawal anywhere wins over an older grant): e-mail marketing decided as for the true customer for {} of {}",
        identity.consent_agree, identity.consent_compared
    );
    if let Some(g) = &identity.golden {
        let ids: Vec<&str> = g.members.iter().map(|m| m.id.as_str()).collect();
        println!("   golden record from {}:", ids.join(", "));
        for (column, value) in identity.golden_columns.iter().zip(&g.values).skip(1) {
            if let Some(v) = value {
                println!(
                    "     {column:<12} {:<30} from {} ({}, {} of {} agree)",
                    v.value,
                    v.record.id,
                    v.rule,
                    v.support,
                    ids.len()
                );
            }
        }
    }
    println!();
    let truth = pop.truth.purchases;
    let [r, alpha, a_, b] = first.bgnbd;
    println!("3. Lifecycle and value (daily summaries, α per week)");
    println!(
        "   BG/NBD  fitted r={r:.3} α={:.3} a={a_:.3} b={b:.3}   truth r={:.3} α={:.3} a={:.3} b={:.3}",
        alpha / 7.0,
        truth.r,
        truth.alpha,
        truth.a,
        truth.b
    );
    let total: usize = first.stage_counts.iter().sum();
    println!(
        "   stages: {}",
        Stage::ALL
            .iter()
            .zip(first.stage_counts)
            .map(|(s, c)| format!("{s} {:.1}%", 100.0 * c as f64 / total.max(1) as f64))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "   truth: prospects {:.1}%, new {:.1}%; of the buyers, still buying at the end {:.1}%",
        100.0 * first.true_prospect_share,
        100.0 * first.true_new_share,
        100.0 * facts.alive_share
    );
    println!();
    println!(
        "4. Segments found by the library (k = {}), against the true personas: adjusted Rand index {:.3}",
        first.profiles.len(),
        first.agreement
    );
    if let Some(reason) = &first.k_reason {
        println!("   {reason}");
    }
    for (p, d) in first.profiles.iter().zip(&first.dominant) {
        let mostly = d
            .as_ref()
            .map(|(name, s)| format!("{:.0}% {name}", 100.0 * s))
            .unwrap_or_default();
        println!(
            "   {} {:<42} {:>7} customers {:>5.1}%  value share {:>5.1}%  truth: {mostly}",
            p.id,
            p.name,
            p.size,
            100.0 * p.share,
            100.0 * p.value_share.unwrap_or(0.0)
        );
    }
    println!(
        "   experiment assigned per segment (equal split, e-mail consent, 5% holdout): {} control, {} offer; {} without consent, {} held out",
        first.assigned.first().copied().unwrap_or(0),
        first.assigned.get(1).copied().unwrap_or(0),
        first.no_consent,
        first.held_out
    );
}

/// Round 2 on the terminal: the evaluation per segment against the truth,
/// decisions, and the learned assignment against an equal split.
pub fn print_second(
    second: &Round,
    first: &RoundSummary,
    truth: &[f64],
    gain: &Gain,
    params: &RoundParams,
) {
    println!(
        "6. Round 2 at {}: what won where (seconds: {})",
        second.as_of.strftime("%Y-%m-%d"),
        seconds(&second.steps)
    );
    if let Some(m) = &second.migration {
        println!(
            "   segments refitted in place: {:.1}% of customers kept their segment",
            100.0 * m.stayed_share
        );
    }
    if let Some(e) = &second.evaluation {
        println!(
            "   outcomes of round 1: {} units, {} evaluated by the segment they were assigned in",
            e.units, e.evaluated
        );
        println!(
            "   {:<42} {:>7} {:>9} {:>17} {:>7}  decision",
            "segment", "truth", "estimate", "95% CI", "p Holm"
        );
        for d in &second.decisions {
            let s = d.segment as usize;
            let Some(c) = e
                .conversion
                .segments
                .get(s)
                .and_then(|r| r.variants.get(1))
                .and_then(|v| v.comparison.as_ref())
            else {
                continue;
            };
            let t = truth.get(s).copied().unwrap_or(f64::NAN);
            println!(
                "   {:<42} {:>7} {:>9} {:>17} {:>7}  {} {}",
                format!("{} {}", d.segment, d.name),
                signed_pp(t),
                signed_pp(c.abs_effect),
                c.absolute.map_or("n/a".to_owned(), |a| format!(
                    "[{}, {}]",
                    signed_pp(a.ci[0]),
                    signed_pp(a.ci[1])
                )),
                c.adjusted
                    .map_or("n/a".to_owned(), |a| format!("{:.3}", a.p_value_holm)),
                d.kind,
                d.weights
                    .iter()
                    .map(|w| format!("{:.0}", 100.0 * w))
                    .collect::<Vec<_>>()
                    .join("/")
            );
            println!("      {}", d.reason);
        }
        if let Some(h) = e
            .conversion
            .heterogeneity
            .first()
            .and_then(|h| h.test.as_ref())
        {
            println!(
                "   effects differ between segments? Cochran's Q = {:.1}, p = {:.2e} → {}",
                h.q,
                h.p_value,
                if h.differs {
                    "yes: decide per segment"
                } else {
                    "no evidence"
                }
            );
        }
    }
    let variants = &params.experiment.design.variants;
    let by = if second.targeting.is_some() {
        "by each customer's next best action (step 7)"
    } else {
        "with what was learned"
    };
    println!(
        "   next assignment {by}: {}; {} without consent, {} held out",
        variants
            .iter()
            .zip(&second.assignment.counts)
            .map(|(v, n)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        second.assignment.no_consent,
        second.assignment.held_out
    );
    let ((c, c_ci), (r, r_ci)) = gain.summary();
    println!(
        "   against an equal split of the same {} customers (truth): {:+.0} conversions [{:+.0}, {:+.0}], {:+.0} € revenue [{:+.0}, {:+.0}]",
        gain.learned.units, c, c_ci[0], c_ci[1], r, r_ci[0], r_ci[1]
    );
    let _ = first;
}

/// Everything the HTML report shows.
pub struct Inputs<'a> {
    pub pop: &'a Population,
    pub facts: &'a PopulationFacts,
    pub seed: u64,
    pub files: &'a [FileReport],
    pub identity: &'a IdentityCheck,
    pub first: &'a RoundSummary,
    pub touch: &'a TouchStep,
    pub looks: &'a [(f64, Evaluation)],
    pub unit_effects: &'a [f64],
    pub second: &'a Round,
    pub gain: &'a Gain,
    pub params: &'a RoundParams,
    pub target: &'a TargetStep,
}

/// The whole report.
pub fn build(i: &Inputs<'_>) -> custinsight::Result<Report> {
    let mut report = Report::new(
        "custinsight quickstart: two rounds of the customer loop on a synthetic population",
    );
    population(&mut report, i)?;
    identity(&mut report, i);
    lifecycle(&mut report, i)?;
    segments(&mut report, i)?;
    touchpoints(&mut report, i.touch)?;
    experiment(&mut report, i)?;
    super::target_report::section(&mut report, i.target)?;
    Ok(report)
}

fn population(report: &mut Report, i: &Inputs<'_>) -> custinsight::Result<()> {
    let (pop, facts) = (i.pop, i.facts);
    report.intro(format!(
        "Two rounds of the loop — resolve the customers behind the records, score their \
         lifecycle and value, find segments, test an offer per segment, decide, and assign the \
         next round with what was learned — run on the files of a synthetic population of {} \
         customers (seed {}), observed from {} to {}. Round 1 is four weeks before the end, round \
         2 at the end. The population was generated with known truth (personas, purchase \
         processes, the offer's true effect per persona), so every figure can be checked against \
         what really happened.",
        count(facts.customers),
        i.seed,
        pop.observation_start.strftime("%Y-%m-%d"),
        pop.observation_end.strftime("%Y-%m-%d")
    ));
    let section = report.section("1. The population and its data");
    section.text(format!(
        "{} transactions and {} touchpoints, logged by four source systems (web shop, loyalty \
         programme, store tills, call centre) under {} source records: a customer's store \
         purchases are under the loyalty card, the call centre's orders under its own record. \
         Each customer belongs to one latent persona, which the analyses do not see. {} of the \
         people are prospects: they browse and receive campaigns but make their first purchase \
         only after the observation; {} of the buyers were acquired in the last {:.0} weeks. \
         Every person also has a latent journey stage over time (need, research, decision, \
         adoption, usage, advocacy or inactive) that drives what they do on the site.",
        count(facts.transactions),
        count(facts.touchpoints),
        count(facts.source_records),
        pct(pop.params.prospect_share),
        pct(pop.params.recent_share),
        pop.params.recent_weeks
    ));
    section.chart(bar_chart(&BarChart {
        title: "Customers by persona (latent truth)".into(),
        subtitle: Some(format!("{} synthetic customers", count(facts.customers))),
        categories: pop.truth.persona_names.clone(),
        series: vec![Series {
            name: "customers".into(),
            values: facts.persona_counts.iter().map(|&c| c as f64).collect(),
        }],
        value_label: "customers".into(),
        format: ValueFormat::Number,
    })?);
    let mut table = ReportTable::new(["file", "rows read", "accepted", "rejected"])
        .numeric(&[1, 2, 3])
        .caption(
            "The files read through ingestion: every row is accepted or rejected with its line, \
             field and reason.",
        );
    for f in i.files {
        table = table.row([
            f.kind.clone(),
            count(f.report.rows as usize),
            count(f.report.accepted as usize),
            count(f.report.rejected as usize),
        ]);
    }
    section.table(table);
    Ok(())
}

fn identity(report: &mut Report, i: &Inputs<'_>) {
    let (check, a) = (i.identity, &i.first.applied);
    let section = report.section("2. Who are our customers really: identity resolution");
    section.text(format!(
        "{} source records, with typos, swapped names, missing fields and other spellings, were \
         resolved in zero-config mode and applied to the data: every transaction, touchpoint and \
         consent event moved to its customer, and each customer's consent is the merged ledger of \
         its records, where the latest event decides wherever it was recorded.",
        count(check.records)
    ));
    section.table(
        ReportTable::new(["measure", "found", "truth"])
            .numeric(&[1, 2])
            .row([
                "customers".to_owned(),
                count(check.customers),
                count(check.true_customers),
            ])
            .row([
                "pairwise precision".to_owned(),
                format!("{:.4}", check.precision),
                "1".to_owned(),
            ])
            .row([
                "pairwise recall".to_owned(),
                format!("{:.4}", check.recall),
                "1".to_owned(),
            ])
            .row([
                "transactions (before → after merging)".to_owned(),
                format!("{} → {}", count(a.transactions.0), count(a.transactions.1)),
                count(i.facts.transactions),
            ])
            .row([
                "touchpoints".to_owned(),
                format!("{} → {}", count(a.touchpoints.0), count(a.touchpoints.1)),
                count(i.facts.touchpoints),
            ])
            .row([
                "customers whose merged e-mail consent decides as their true customer's".to_owned(),
                count(check.consent_agree),
                format!("all {}", count(check.consent_compared)),
            ])
            .caption(format!(
                "{} customers were merged from several records; {} candidate pairs compared, {} matched.",
                count(a.merged_customers),
                count(i.first.candidate_pairs),
                count(i.first.matches)
            )),
    );
    if let Some(golden) = &check.golden {
        let mut table = ReportTable::new([
            "field",
            "chosen value",
            "from record",
            "rule",
            "support",
        ])
        .numeric(&[4])
        .caption(format!(
            "The golden record of one customer from {} source records, with the provenance of \
                 every value; it is the customer's profile.",
            golden.members.len()
        ));
        for (column, value) in check.golden_columns.iter().zip(&golden.values).skip(1) {
            if let Some(v) = value {
                table = table.row([
                    column.clone(),
                    v.value.clone(),
                    v.record.id.clone(),
                    v.rule.to_string(),
                    format!("{} of {}", v.support, golden.members.len()),
                ]);
            }
        }
        section.table(table);
    }
}

fn lifecycle(report: &mut Report, i: &Inputs<'_>) -> custinsight::Result<()> {
    let round = i.second;
    let life = &round.lifecycle;
    let section =
        report.section("3. Where each customer is in their lifecycle, and what they are worth");
    section.text(format!(
        "At round 2, BG/NBD and Gamma–Gamma were fitted to the resolved customers' daily \
         purchase histories. Each customer gets a probability of still being active, expected \
         purchases over {:.0} days, a {:.0}-day lifetime value and a lifecycle stage with a play.",
        life.models.horizon, life.models.clv.horizon
    ));
    let stages: Vec<Stage> = life.stage.iter().flatten().copied().collect();
    section.chart(stage_distribution(&stages)?);
    let (prospects, new) = true_lifecycle_shares(round, i.pop, &i.pop.true_customers(&round.base));
    let assigned =
        |s: Stage| stages.iter().filter(|&&x| x == s).count() as f64 / stages.len().max(1) as f64;
    section.text(format!(
        "Against the truth: {} of these customers have not bought yet (assigned prospect: {}), \
         and {} made their first purchase in the last 60 days (assigned new: {}).",
        pct(prospects),
        pct(assigned(Stage::Prospect)),
        pct(new),
        pct(assigned(Stage::New))
    ));
    section.chart_with_caption(
        p_alive_matrix(&life.models.btyd, 365.0, 20, Period::Day)?,
        "For a customer first seen a year ago: the more purchases, the more a long silence \
         since the last one means they have gone (top left), while a recent last purchase keeps \
         P(alive) high (right).",
    );
    let end = round.as_of.to_zoned(jiff::tz::TimeZone::UTC).date();
    let calibration_end = end
        .checked_sub(jiff::Span::new().days(90))
        .map_err(|e| custinsight::Error::InvalidInput(e.to_string()))?;
    let split = CalibrationHoldout::from_base(&round.base, Period::Day, calibration_end, end)?;
    let calibrated = BgNbdParams::default().fit(&split.calibration.triples())?;
    section.chart_with_caption(
        holdout_purchases(&calibrated, &split, HOLDOUT_MAX_FREQUENCY)?,
        "BG/NBD fitted on the purchases up to 90 days before the end, then asked how many each \
         customer would buy in those 90 days: the closer the lines, the better the model.",
    );
    let clv: Vec<f64> = life.clv.iter().copied().filter(|v| v.is_finite()).collect();
    let months = life.models.clv.horizon / 30.0;
    section.chart(clv_distribution(&clv, "€", &format!("{months:.0} months"))?);
    Ok(())
}

fn segments(report: &mut Report, i: &Inputs<'_>) -> custinsight::Result<()> {
    let round = i.second;
    let seg = &round.segmentation;
    let section = report.section("4. Which groups customers form: segments");
    section.text(format!(
        "k-means on where and how we meet each customer (their share of touchpoints and of \
         purchases per channel) found {} segments in round 1{}; value and lifecycle describe \
         them. Agreement with the true personas: adjusted Rand index {:.3} (1 is perfect). In \
         round 2 the segments were refitted in place: ids and names kept, {} of customers stayed.",
        seg.profiles.len(),
        i.first
            .k_reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        i.first.agreement,
        round
            .migration
            .as_ref()
            .map_or("all".to_owned(), |m| pct(m.stayed_share))
    ));
    let rows: Vec<usize> = (0..round.base.n_customers())
        .filter(|&c| round.segments.segment_of(c as u32).is_some())
        .collect();
    let described = round.features.select_rows(&rows)?;
    let clustered_names: Vec<&str> = seg.model.features.iter().map(String::as_str).collect();
    let clustered = described.select(&clustered_names)?;
    let mut shown: Vec<String> = seg.model.features.clone();
    for name in ["recency", "frequency", "monetary", "clv", "p_alive"] {
        if described.column_index(name).is_some() {
            shown.push(name.to_owned());
        }
    }
    section.chart_with_caption(
        profile_heat_map(&seg.profiles, described.names(), Some(&shown))?,
        "Each cell is the segment's mean of a feature in standard deviations from the \
         population mean: red above, blue below. The channel shares are what the segments were \
         clustered on; the last rows show how they differ in value.",
    );
    section.chart(projection(
        seg,
        &clustered,
        &ProjectionParams {
            seed: i.seed,
            ..ProjectionParams::default()
        },
    )?);
    section.chart(size_value_share(&seg.profiles)?);
    Ok(())
}

fn touchpoints(report: &mut Report, t: &TouchStep) -> custinsight::Result<()> {
    let (converted, not_converted, open) = t.outcomes;
    let section = report.section("5. Where and how we meet customers: touchpoints and journeys");
    section.text(format!(
        "Marketing touchpoints of the resolved customers were grouped into journeys (a journey \
         ends in an order, or after 30 days without one; support, reviews and unsubscribes are \
         not journey steps): {} ended in an order, {} did not, {} were still open at round 1. \
         Every order counts as a converted journey, including orders with no touch before them; \
         the journey chart leaves those out.",
        count(converted),
        count(not_converted),
        count(open)
    ));
    section.chart_with_caption(
        journey_sankey(&t.paths, &JourneySankeyParams::default())?,
        "How journeys move from channel to channel, step by step, and how they end. Ribbon \
         widths are journey counts; hover over a ribbon for its count.",
    );
    section.chart_with_caption(
        conversion_heat_map(&t.matrix)?,
        "The share of journeys through each channel that convert, per segment the library \
         found. ▲/▼ mark rates significantly above/below the channel's rate in the other \
         segments: where a touchpoint works for whom.",
    );
    section.chart(engagement_funnel(&t.funnel)?);
    engagement_checks(section, t)?;
    let models: Vec<_> =
        attribution_models(Some(&t.heuristic), None, Some(&t.chain), Some(&t.fair))
            .into_iter()
            .filter(|(name, _)| name != "position-based" && name != "linear")
            .collect();
    section.chart_with_caption(
        attribution_comparison(t.paths.channels(), &models)?,
        "Which channels deserve the conversions? Last and first touch give all credit to one \
         end of the journey; Markov credits each channel with the conversions lost without it, \
         Shapley with its average marginal contribution.",
    );
    causal_effects(section, t)
}

/// Journey stages, content fit and warm leads, each beside the population's
/// latent truth: the stage every customer was really in, whether each message
/// really missed its recipient, and who really bought afterwards.
fn engagement_checks(
    section: &mut custinsight::report::Section,
    t: &TouchStep,
) -> custinsight::Result<()> {
    let (counts, inactive, customers) = t.journey_stages;
    let c = &t.stage_check;
    let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let mut stages: Vec<Option<JourneyStage>> =
        JourneyStage::ALL.iter().copied().map(Some).collect();
    stages.push(None);
    let label = |s: Option<JourneyStage>| s.map_or("inactive".to_owned(), |s| s.to_string());
    section.chart_with_caption(
        bar_chart(&BarChart {
            title: "Journey stage: assigned by the rules and true".into(),
            subtitle: Some(format!(
                "{} of customers assigned their true stage; rule windows tuned on other seeds of the population",
                pct(c.accuracy)
            )),
            categories: stages.iter().map(|&s| label(s)).collect(),
            series: vec![
                Series {
                    name: "assigned".into(),
                    values: stages
                        .iter()
                        .map(|s| {
                            let n = s.map_or(inactive, |s| counts[s.index()]);
                            share(n as u64, customers as u64)
                        })
                        .collect(),
                },
                Series {
                    name: "true".into(),
                    values: stages
                        .iter()
                        .map(|&s| share(c.truly_in(s), c.customers as u64))
                        .collect(),
                },
            ],
            value_label: "share of customers".into(),
            format: ValueFormat::Percent,
        })?,
        "Where customers are in their journey (need → research → decision → adoption → usage → \
         advocacy), read from what they did recently, beside the stage the synthetic population \
         really had them in. Most customers are between journeys (inactive) or using what they \
         bought.",
    );
    let mut header = vec!["true stage ↓, assigned →".to_owned()];
    header.extend(stages.iter().map(|&s| label(s)));
    header.push("correct".to_owned());
    let mut table = ReportTable::new(header).numeric(&(1..=8).collect::<Vec<_>>());
    for (i, &s) in stages.iter().enumerate() {
        let row = &c.confusion[i];
        let total: u64 = row.iter().sum();
        let mut cells = vec![label(s)];
        cells.extend(row.iter().map(|&n| count(n as usize)));
        cells.push(pct(share(row[i], total)));
        table = table.row(cells);
    }
    section.table(table);
    let m = &t.content_check;
    let l = &t.lead_check;
    section.text(format!(
        "Content fit: the rules flag {} of {} messages as made for another stage than the one \
         their recipient was in when it arrived, as far as the recipient's history shows \
         (awareness content fits people with no journey under way). In truth {} missed: the \
         flags have precision {} and recall {} (F1 {:.3}). Warm leads: {} of the {} listed leads ({}) bought within 13 \
         weeks, against {} of all customers without a recent purchase.",
        count(m.flagged as usize),
        count(m.messages as usize),
        count(m.truly_mismatched as usize),
        pct(m.precision),
        pct(m.recall),
        m.f1,
        count(l.later_buyers),
        count(l.leads),
        pct(l.precision),
        pct(l.base_rate)
    ));
    Ok(())
}

/// Credit answers "who was there"; the causal effect answers "who made the
/// difference". Both beside the truth the population was drawn from.
fn causal_effects(
    section: &mut custinsight::report::Section,
    t: &TouchStep,
) -> custinsight::Result<()> {
    let mut rows = Vec::new();
    for r in &t.attribution {
        let [estimate, lower, upper] = r.effect.unwrap_or([f64::NAN; 3]);
        let inside = lower <= r.true_effect && r.true_effect <= upper;
        rows.push(ForestRow {
            label: r.channel.clone(),
            estimate,
            lower,
            upper,
            emphasis: inside,
            summary: false,
            series: 0,
        });
        rows.push(ForestRow {
            label: "  true".into(),
            estimate: r.true_effect,
            lower: f64::NAN,
            upper: f64::NAN,
            emphasis: true,
            summary: false,
            series: 1,
        });
    }
    section.chart_with_caption(
        forest_plot(&ForestPlot {
            title: "Each channel's effect on conversion, estimated and true".into(),
            subtitle: Some(
                "log-odds of a journey converting, adjusted for segment; 95% bootstrap intervals"
                    .into(),
            ),
            rows,
            series: vec!["estimated".into(), "true (synthetic population)".into()],
            x_label: "effect on the log-odds of conversion".into(),
            format: ValueFormat::Number,
            reference: Some(0.0),
            note: Some("filled: the true effect lies inside the interval".into()),
        })?,
        "Who made the difference: a channel's effect is the change in a journey's log-odds of \
         converting when the channel is in it, for customers of the same segment (a regularised \
         logistic regression with bootstrap intervals). Credit shares out the orders that \
         happened among the channels that were there; the effect says which orders a channel \
         caused, and is what a budget should follow.",
    );
    let mut table = ReportTable::new([
        "channel",
        "journeys",
        "last touch per journey",
        "Markov per journey",
        "causal effect",
        "95% interval",
        "true effect",
    ])
    .numeric(&[1, 2, 3, 4, 6]);
    for r in &t.attribution {
        let (effect, interval) = match r.effect {
            Some([e, lo, hi]) => (format!("{e:+.2}"), format!("[{lo:+.2}, {hi:+.2}]")),
            None => ("–".into(), "–".into()),
        };
        table = table.row([
            r.channel.clone(),
            count(r.journeys as usize),
            format!("{:.3}", r.last_touch),
            format!("{:.3}", r.markov),
            effect,
            interval,
            format!("{:+.2}", r.true_effect),
        ]);
    }
    section.table(table);
    budget_view(section, t)
}

/// Where the money works: each paid channel's cost beside the conversions it
/// is credited with and those it causes, and the spend the effects suggest.
fn budget_view(
    section: &mut custinsight::report::Section,
    t: &TouchStep,
) -> custinsight::Result<()> {
    let b = &t.budget;
    section.chart_with_caption(
        bar_chart(&BarChart {
            title: "Paid channels: share of the spend now and as the effects suggest".into(),
            subtitle: Some("spend in proportion to incremental value, within a factor two of today's, the total kept".into()),
            categories: b.channels.iter().map(|c| c.channel.clone()).collect(),
            series: vec![
                Series {
                    name: "now".into(),
                    values: b.channels.iter().map(|c| c.cost_share).collect(),
                },
                Series {
                    name: "suggested".into(),
                    values: b.channels.iter().map(|c| c.suggested_share).collect(),
                },
            ],
            value_label: "share of the paid channels' spend".into(),
            format: ValueFormat::Percent,
        })?,
        "A channel that is credited with many orders but causes few should get less money. The \
         suggestion moves spend towards the channels with more incremental value per euro, \
         measured at today's spend: a direction for the next round's test, not an optimum.",
    );
    let mut table = ReportTable::new([
        "channel",
        "cost (€)",
        "Markov credit",
        "incremental conversions",
        "cost per incremental conversion (€)",
        "incremental ROI (95% interval)",
        "suggested share",
    ])
    .numeric(&[1, 2, 3, 4, 6]);
    for c in &b.channels {
        table = table.row([
            c.channel.clone(),
            count(c.cost.round() as usize),
            c.credited_conversions
                .map_or("–".into(), |v| count(v.round() as usize)),
            format!(
                "{:.0} [{:.0}, {:.0}]",
                c.incremental_conversions.value,
                c.incremental_conversions.low,
                c.incremental_conversions.high
            ),
            c.cost_per_incremental_conversion
                .map_or("–".into(), |v| format!("{v:.2}")),
            format!(
                "{:+.2} [{:+.2}, {:+.2}]",
                c.incremental_roi.value, c.incremental_roi.low, c.incremental_roi.high
            ),
            format!(
                "{:.1}% → {:.1}%",
                100.0 * c.cost_share,
                100.0 * c.suggested_share
            ),
        ]);
    }
    section.table(table);
    Ok(())
}

fn experiment(report: &mut Report, i: &Inputs<'_>) -> custinsight::Result<()> {
    let round = i.second;
    let key = &i.params.experiment.design.key;
    let section = report.section("6. Which change wins in which segment, and the next round");
    let first = i.first;
    section.text(format!(
        "Round 1 assigned the offer `{key}` in every segment with an equal split, to customers \
         who consented to e-mail marketing, holding 5% of everyone out: {} got the control, {} \
         the offer; {} had no consent and {} were held out. Four weeks later, round 2 evaluated \
         what they did per segment (the segment each was assigned in), decided per segment, and \
         assigned the next round with what it learned.",
        count(first.assigned.first().copied().unwrap_or(0)),
        count(first.assigned.get(1).copied().unwrap_or(0)),
        count(first.no_consent),
        count(first.held_out)
    ));
    let Some(e) = &round.evaluation else {
        section.text("No outcomes were evaluated.");
        return Ok(());
    };
    let alpha = EvalParams::default().alpha;
    section.chart_with_caption(
        effect_forest(&e.conversion, alpha)?,
        "Each row is one segment's relative lift in conversion with its 95% interval; the \
         diamond is everyone. The table's Holm p-values correct for testing every segment.",
    );
    section.chart_with_caption(
        chance_to_win(&e.conversion, 0.95)?,
        "The Bayesian probability that the offer converts better than the control, per segment.",
    );
    section.chart_with_caption(
        sequential_effect(i.looks, None, "day of the experiment")?,
        "The estimate and its always-valid interval at each daily look of round 1's \
         experiment: unlike a fixed-horizon interval, it may be checked every day.",
    );
    section.chart(sequential_p_value(
        i.looks,
        None,
        alpha,
        "day of the experiment",
    )?);
    let mut table = ReportTable::new([
        "segment",
        "true effect (pp)",
        "estimated (pp)",
        "95% interval (pp)",
        "p (Holm)",
        "decision",
        "next split",
        "why",
    ])
    .numeric(&[1, 2, 3, 4])
    .caption(
        "Conversion per segment: treatment minus control in percentage points (pp); the true \
         effect is the mean effect of the assigned customers' personas. The decision and the \
         next split follow from the verdict and from Thompson sampling.",
    );
    for d in &round.decisions {
        let s = d.segment as usize;
        let c = e
            .conversion
            .segments
            .get(s)
            .and_then(|r| r.variants.get(1))
            .and_then(|v| v.comparison.as_ref());
        let Some(c) = c else { continue };
        table = table.row([
            format!("{} {}", d.segment, d.name),
            signed_pp(i.unit_effects.get(s).copied().unwrap_or(f64::NAN)),
            signed_pp(c.abs_effect),
            c.absolute.map_or("n/a".to_owned(), |a| {
                format!("{} to {}", signed_pp(a.ci[0]), signed_pp(a.ci[1]))
            }),
            c.adjusted
                .map_or("n/a".to_owned(), |a| format!("{:.3}", a.p_value_holm)),
            d.kind.to_string(),
            d.weights
                .iter()
                .map(|w| format!("{:.0}", 100.0 * w))
                .collect::<Vec<_>>()
                .join("/"),
            d.reason.clone(),
        ]);
    }
    section.table(table);
    let ((c, c_ci), (r, r_ci)) = i.gain.summary();
    let signed = |x: f64| format!("{x:+.0}").replace('-', "−");
    let overall = e
        .conversion
        .overall
        .variants
        .get(1)
        .and_then(|v| v.comparison.as_ref())
        .and_then(|c| c.relative)
        .map_or("n/a".to_owned(), |r| signed_pct(r.estimate));
    let by = if round.targeting.is_some() {
        "The next round is assigned by each customer's next best action (section 7), not by the \
         segment splits above; that"
    } else {
        "The learned"
    };
    section.text(format!(
        "{by} assignment against an equal split of the same {} customers, under the true \
         effects: {} conversions ({} to {}) and {} € revenue ({} to {}) expected in the next \
         round ({:.0} against {:.0} expected conversions). The offer's overall effect in round \
         1: {overall}.",
        count(i.gain.learned.units),
        signed(c),
        signed(c_ci[0]),
        signed(c_ci[1]),
        signed(r),
        signed(r_ci[0]),
        signed(r_ci[1]),
        i.gain.learned.conversions,
        i.gain.equal.conversions,
    ));
    Ok(())
}
