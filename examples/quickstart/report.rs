//! The quickstart's HTML report: one section per step of the loop, with the
//! charts of `custinsight::report`, written with `--out DIR`.

use custinsight::experiment::evaluate::{EvalParams, evaluate};
use custinsight::experiment::stats::{ExperimentStats, Metric, MetricKind};
use custinsight::ingest::IngestReport;
use custinsight::lifecycle::btyd::{BgNbdModel, BgNbdParams};
use custinsight::lifecycle::stage::Stage;
use custinsight::lifecycle::summary::{CalibrationHoldout, Period};
use custinsight::report::charts::{BarChart, Series, ValueFormat, bar_chart};
use custinsight::report::experiment::{
    chance_to_win, effect_forest, sequential_effect, sequential_p_value,
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
use custinsight::report::{Report, Table};
use custinsight::segment::features::FeatureMatrix;
use custinsight::segment::model::Segmentation;
use custinsight::synth::Population;
use custinsight::touchpoints::attribution::{Heuristics, MarkovAttribution, ShapleyAttribution};
use custinsight::touchpoints::effectiveness::GroupMatrix;
use custinsight::touchpoints::engagement::LadderFunnel;
use custinsight::touchpoints::paths::PathTable;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::{ExperimentStep, IdentityStep, treatment};

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

/// The report's title block and the population section.
pub fn population(
    report: &mut Report,
    pop: &Population,
    seed: u64,
    persona_counts: &[usize],
    ingest: &[(&str, &IngestReport)],
) -> custinsight::Result<()> {
    let base = &pop.base;
    let n = base.n_customers();
    report.intro(format!(
        "The whole loop — ingest, identity, touchpoints, lifecycle, segments, experiments — run on a \
         synthetic population of {} customers (seed {seed}), observed from {} to {}. The population \
         was generated with known truth (personas, purchase processes, channel effects, the \
         experiment's true lift per persona), so every figure below can be checked against what \
         really happened.",
        count(n),
        pop.observation_start.strftime("%Y-%m-%d"),
        pop.observation_end.strftime("%Y-%m-%d")
    ));
    let section = report.section("1. The population and its data");
    section.text(format!(
        "{} transactions and {} touchpoints. Each customer belongs to one latent persona, which \
         the analyses do not see; segmentation should find them again.",
        count(base.n_transactions()),
        count(base.n_touchpoints())
    ));
    section.chart(bar_chart(&BarChart {
        title: "Customers by persona (latent truth)".into(),
        subtitle: Some(format!("{} synthetic customers", count(n))),
        categories: pop.truth.persona_names.clone(),
        series: vec![Series {
            name: "customers".into(),
            values: persona_counts.iter().map(|&c| c as f64).collect(),
        }],
        value_label: "customers".into(),
        format: ValueFormat::Number,
    })?);
    let mut table = Table::new(["file", "rows read", "accepted", "rejected"])
        .numeric(&[1, 2, 3])
        .caption(
            "Ingest round trip: the population written as CSV and read back; every row is \
             accepted or rejected with its line, field and reason.",
        );
    for (name, r) in ingest {
        table = table.row([
            (*name).to_owned(),
            r.rows.to_string(),
            r.accepted.to_string(),
            r.rejected.to_string(),
        ]);
    }
    section.table(table);
    Ok(())
}

/// Identity resolution: the dirty source records resolved to customers.
pub fn identity(report: &mut Report, step: &IdentityStep) {
    let section = report.section("2. Who are our customers really: identity resolution");
    section.text(format!(
        "{} source records from four systems (web shop, loyalty programme, store tills, call \
         centre), with typos, swapped names, missing fields and other spellings, were resolved in \
         zero-config mode: the columns were profiled, blocking rules and comparisons chosen, \
         m and u probabilities estimated by EM, and matches clustered into customers.",
        count(step.records)
    ));
    section.table(
        Table::new(["measure", "value"])
            .numeric(&[1])
            .row(["source records".to_owned(), step.records.to_string()])
            .row([
                "candidate pairs compared".to_owned(),
                step.resolution.candidate_pairs.to_string(),
            ])
            .row([
                "pairs matched".to_owned(),
                step.resolution.matches.len().to_string(),
            ])
            .row(["customers found".to_owned(), step.entities.to_string()])
            .row([
                "customers in truth".to_owned(),
                step.true_customers.to_string(),
            ])
            .row([
                "pairwise precision".to_owned(),
                format!("{:.4}", step.precision),
            ])
            .row(["pairwise recall".to_owned(), format!("{:.4}", step.recall)])
            .row(["seconds".to_owned(), format!("{:.2}", step.seconds)])
            .caption(format!(
                "Blocking rules chosen: {}.",
                step.blocking_rules.join("; ")
            )),
    );
    if let Some((columns, golden)) = &step.example {
        let mut table = Table::new(["field", "chosen value", "from record", "rule", "support"])
            .numeric(&[4])
            .caption(format!(
                "Golden record of customer {} from {} source records, with the provenance of \
                 every value.",
                golden.entity,
                golden.members.len()
            ));
        for (column, value) in columns.iter().zip(&golden.values).skip(1) {
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

/// The relative effect of the treatment over cumulative looks: units are
/// taken to enrol in a seeded random order over `days` days, and at the end
/// of each day the experiment is evaluated on the units enrolled so far.
pub fn cumulative_looks(
    pop: &Population,
    seed: u64,
    days: usize,
) -> custinsight::Result<Vec<(f64, custinsight::experiment::evaluate::Evaluation)>> {
    let units = &pop.experiment.units;
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let arms = vec!["control".to_owned(), "treatment".to_owned()];
    let mut looks = Vec::with_capacity(days);
    for day in 1..=days {
        let enrolled = &order[..units.len() * day / days];
        let variant: Vec<u32> = enrolled
            .iter()
            .map(|&i| u32::from(units[i].treatment))
            .collect();
        let converted: Vec<f64> = enrolled
            .iter()
            .map(|&i| f64::from(u8::from(units[i].converted)))
            .collect();
        let stats = ExperimentStats::from_columns(
            Metric::new("conversion", MetricKind::Binomial),
            arms.clone(),
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

/// The experiment's summary table per persona.
pub fn experiment_table(step: &ExperimentStep) -> Table {
    let conversion = &step.conversion;
    let mut table = Table::new([
        "persona",
        "control",
        "treatment",
        "true effect (pp)",
        "estimated effect (pp)",
        "95% interval (pp)",
        "p (Holm)",
        "chance to win",
        "verdict",
    ])
    .numeric(&[1, 2, 3, 4, 5, 6, 7])
    .caption(
        "Conversion per persona: effects are treatment minus control in percentage points (pp); \
         the true effect is the generator's. The verdict quotes the relative effect.",
    );
    for (s, truth) in conversion.segments.iter().zip(&step.true_rates) {
        let c = treatment(s);
        table = table.row([
            s.segment.clone(),
            pct(s.variants[0].mean),
            pct(s.variants[1].mean),
            signed_pp(truth[1] - truth[0]),
            signed_pp(c.abs_effect),
            format!("{} to {}", signed_pp(c.abs_ci[0]), signed_pp(c.abs_ci[1])),
            format!("{:.3}", c.p_value_holm),
            pct(c.chance_to_win),
            s.verdict.reason.clone(),
        ]);
    }
    table
}

/// The experiment section: effects per persona, chance to win, and the
/// always-valid interval over cumulative looks.
pub fn experiment(
    report: &mut Report,
    step: &ExperimentStep,
    key: &str,
    looks: &[(f64, custinsight::experiment::evaluate::Evaluation)],
) -> custinsight::Result<()> {
    let o = treatment(&step.conversion.overall);
    let section = report.section("6. Which change wins in which segment: the experiment");
    section.text(format!(
        "Experiment `{key}`: conversion {} in control against {} in treatment, a relative effect of \
         {} (95% interval {} to {}). The effect differs by persona, which is why the loop decides \
         per segment. The sequential chart treats the units as enrolling over {} days and shows \
         the always-valid interval at each daily look.",
        pct(step.conversion.overall.variants[0].mean),
        pct(step.conversion.overall.variants[1].mean),
        signed_pct(o.rel_effect),
        signed_pct(o.rel_ci[0]),
        signed_pct(o.rel_ci[1]),
        looks.len()
    ));
    let alpha = EvalParams::default().alpha;
    section.chart_with_caption(
        effect_forest(&step.conversion, alpha)?,
        "Each row is one persona's relative lift in conversion with its 95% interval; the \
         diamond is the whole population. Rows whose interval misses the zero line are \
         significant before correcting for looking at four personas (the table's Holm p-values \
         correct for it).",
    );
    section.chart_with_caption(
        chance_to_win(&step.conversion, 0.95)?,
        "The Bayesian probability that the treatment converts better than the control; past the \
         dashed line, ship it in that segment.",
    );
    section.chart_with_caption(
        sequential_effect(looks, None, "day of the experiment")?,
        "The estimate and its always-valid interval at each daily look: unlike a fixed-horizon \
         interval, it may be checked every day without inflating false positives.",
    );
    section.chart(sequential_p_value(
        looks,
        None,
        alpha,
        "day of the experiment",
    )?);
    section.table(experiment_table(step));
    Ok(())
}

/// The touchpoints section: journeys, what converts where, engagement and attribution.
#[allow(clippy::too_many_arguments)]
pub fn touchpoints(
    report: &mut Report,
    matrix: &GroupMatrix,
    paths: &PathTable,
    ladder: &LadderFunnel,
    heuristic: &Heuristics,
    chain: &MarkovAttribution,
    fair: &ShapleyAttribution,
    outcomes: (usize, usize, usize),
) -> custinsight::Result<()> {
    let (converted, not_converted, open) = outcomes;
    let section = report.section("3. Where and how we meet customers: touchpoints and journeys");
    section.text(format!(
        "Touchpoints were grouped into journeys (a journey ends in an order, or after three days \
         without one): {} ended in an order, {} did not, {} were still open at the end of \
         observation. Every order counts as a converted journey, including orders with no touch \
         before them; the journey chart leaves those out.",
        count(converted),
        count(not_converted),
        count(open)
    ));
    section.chart_with_caption(
        journey_sankey(paths, &JourneySankeyParams::default())?,
        "How journeys move from channel to channel, step by step, and how they end. Ribbon \
         widths are journey counts; hover over a ribbon for its count.",
    );
    section.chart_with_caption(
        conversion_heat_map(matrix)?,
        "The share of journeys through each channel that convert, per segment. ▲/▼ mark rates \
         significantly above/below the channel's rate in the other segments: where a touchpoint \
         works for whom.",
    );
    section.chart(engagement_funnel(ladder)?);
    // The four most distinct models keep the chart readable.
    let models: Vec<_> = attribution_models(Some(heuristic), None, Some(chain), Some(fair))
        .into_iter()
        .filter(|(name, _)| name != "position-based" && name != "linear")
        .collect();
    section.chart_with_caption(
        attribution_comparison(paths.channels(), &models)?,
        "Which channels deserve the conversions? Last and first touch give all credit to one \
         end of the journey; Markov credits each channel with the conversions lost without it, \
         Shapley with its average marginal contribution.",
    );
    Ok(())
}

/// The lifecycle section: stages, P(alive), the model against a holdout, CLV.
#[allow(clippy::too_many_arguments)]
pub fn lifecycle(
    report: &mut Report,
    pop: &Population,
    bgnbd: &BgNbdModel,
    stages: &[Stage],
    clv: &[f64],
    horizon_days: f64,
) -> custinsight::Result<()> {
    let section =
        report.section("4. Where each customer is in their lifecycle, and what they are worth");
    section.text(
        "BG/NBD and Gamma–Gamma were fitted to daily purchase histories. Each customer gets a \
         probability of still being active, expected purchases, a lifetime value and a \
         lifecycle stage with a play.",
    );
    section.chart(stage_distribution(stages)?);
    section.chart_with_caption(
        p_alive_matrix(bgnbd, 365.0, 20, Period::Day)?,
        "For a customer first seen a year ago: the more purchases, the more a long silence \
         since the last one means they have gone (top left), while a recent last purchase keeps \
         P(alive) high (right).",
    );
    // The model's out-of-sample check: fit on all but the last 90 days, predict them.
    let end = pop.observation_end.to_zoned(jiff::tz::TimeZone::UTC).date();
    let calibration_end = end
        .checked_sub(jiff::Span::new().days(90))
        .map_err(|e| custinsight::Error::InvalidInput(e.to_string()))?;
    let split = CalibrationHoldout::from_base(&pop.base, Period::Day, calibration_end, end)?;
    let calibrated = BgNbdParams::default().fit(&split.calibration.triples())?;
    section.chart_with_caption(
        holdout_purchases(&calibrated, &split, HOLDOUT_MAX_FREQUENCY)?,
        "BG/NBD fitted on the purchases up to 90 days before the end, then asked how many each \
         customer would buy in those 90 days: the closer the lines, the better the model.",
    );
    section.chart(clv_distribution(
        clv,
        "€",
        &format!("{horizon_days:.0} days"),
    )?);
    Ok(())
}

/// The segment section: profiles, the projection, size against value.
pub fn segments(
    report: &mut Report,
    segmentation: &Segmentation,
    features: &FeatureMatrix,
    clustered: &FeatureMatrix,
    agreement: f64,
    seed: u64,
) -> custinsight::Result<()> {
    let section = report.section("5. Which groups customers form: segments");
    section.text(format!(
        "k-means on the customers' channel shares found {} segments, each named from its \
         profile. Agreement with the true personas: adjusted Rand index {agreement:.3} (1 is \
         perfect).",
        segmentation.profiles.len()
    ));
    // The features clustered on, then how the segments differ in value.
    let mut shown: Vec<String> = clustered.names().to_vec();
    for name in ["recency", "frequency", "monetary", "clv", "p_alive"] {
        if features.column_index(name).is_some() {
            shown.push(name.to_owned());
        }
    }
    section.chart_with_caption(
        profile_heat_map(&segmentation.profiles, features.names(), Some(&shown))?,
        "Each cell is the segment's mean of a feature in standard deviations from the \
         population mean: red above, blue below. The channel shares are what the segments were \
         clustered on; the last rows show how they differ in value.",
    );
    section.chart(projection(
        segmentation,
        clustered,
        &ProjectionParams {
            seed,
            ..ProjectionParams::default()
        },
    )?);
    section.chart(size_value_share(&segmentation.profiles)?);
    Ok(())
}
