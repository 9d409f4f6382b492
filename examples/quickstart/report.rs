//! The quickstart's HTML report: one section per step of the loop, with the
//! charts of `custinsight::report`, written with `--out DIR`.

use custinsight::experiment::evaluate::{EvalParams, evaluate};
use custinsight::experiment::stats::{ExperimentStats, Metric, MetricKind};
use custinsight::ingest::IngestReport;
use custinsight::report::charts::{BarChart, Series, ValueFormat, bar_chart};
use custinsight::report::{Report, Table};
use custinsight::synth::Population;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::{ExperimentStep, IdentityStep, treatment};

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn signed_pct(x: f64) -> String {
    format!("{:+.2}%", 100.0 * x).replace('-', "−")
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
         synthetic population of {n} customers (seed {seed}), observed from {} to {}. The population \
         was generated with known truth (personas, purchase processes, channel effects, the \
         experiment's true lift per persona), so every figure below can be checked against what \
         really happened.",
        pop.observation_start, pop.observation_end
    ));
    let section = report.section("1. The population and its data");
    section.text(format!(
        "{} transactions and {} touchpoints. Each customer belongs to one latent persona, which \
         the analyses do not see; segmentation should find them again.",
        base.n_transactions(),
        base.n_touchpoints()
    ));
    section.chart(bar_chart(&BarChart {
        title: "Customers by persona (latent truth)".into(),
        subtitle: Some(format!("{n} synthetic customers")),
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
        step.records
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
        "true effect",
        "estimated effect",
        "95% interval",
        "p (Holm)",
        "chance to win",
        "verdict",
    ])
    .numeric(&[1, 2, 3, 4, 6, 7])
    .caption("Conversion per persona: absolute effects in percentage points; the truth is the generator's.");
    for (s, truth) in conversion.segments.iter().zip(&step.true_rates) {
        let c = treatment(s);
        table = table.row([
            s.segment.clone(),
            pct(s.variants[0].mean),
            pct(s.variants[1].mean),
            signed_pct(truth[1] - truth[0]),
            signed_pct(c.abs_effect),
            format!("[{}, {}]", signed_pct(c.abs_ci[0]), signed_pct(c.abs_ci[1])),
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
    section.table(experiment_table(step));
    Ok(())
}
