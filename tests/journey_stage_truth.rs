//! Engagement, journey stages and content fit measured against the synthetic
//! population's latent truth.
//!
//! The stage rules' windows were tuned on the training seeds 1–3 at 20,000
//! customers (`tune_stage_windows_on_training_seeds`, run with `--ignored`);
//! the figures asserted here come from other seeds, never used for tuning.

use custinsight::records::JourneyStage;
use custinsight::synth::{Population, SynthParams, tuned_stage_rules};
use custinsight::touchpoints::engagement::{
    EngagementParams, Rung, WarmLeadParams, score, warm_leads,
};
use custinsight::touchpoints::journey_stage::{
    ContentFitParams, JourneyStageParams, assign, message_stages,
};

/// Seeds the rules were tuned on; never asserted on.
const TRAINING_SEEDS: [u64; 3] = [1, 2, 3];
/// Seeds for reporting.
const HELD_OUT_SEEDS: [u64; 5] = [101, 102, 103, 104, 105];

struct Measured {
    accuracy: f64,
    f1: f64,
    precision: f64,
    recall: f64,
    lead_precision: f64,
    lead_base_rate: f64,
    leads: usize,
    funnel: Vec<usize>,
    stage_counts: [u64; 7],
    prospect_share_of_contactable: f64,
}

fn measure(pop: &Population, rules: &JourneyStageParams) -> Measured {
    let as_of = pop.observation_end;
    let rules = JourneyStageParams {
        as_of: Some(as_of),
        ..rules.clone()
    };
    let stages = assign(&pop.base, &rules).unwrap();
    let own = pop.own_customers();
    let acc = pop.journey_stage_accuracy(&stages, &own).unwrap();
    let messages = message_stages(
        &pop.base,
        &ContentFitParams {
            stage: rules.clone(),
            ..ContentFitParams::default()
        },
    )
    .unwrap();
    let fit = pop.content_mismatch(&messages, &own, 0);
    let engagement_params = EngagementParams {
        as_of: Some(as_of),
        ..EngagementParams::default()
    };
    let engagement = score(&pop.base, &engagement_params).unwrap();
    let leads = warm_leads(&pop.base, &engagement, &WarmLeadParams::default()).unwrap();
    let lead = pop
        .warm_lead_precision(&pop.base, &own, &leads, 13.0, engagement_params.recent_days)
        .unwrap();
    let funnel = engagement
        .funnel()
        .steps
        .iter()
        .map(|s| s.customers)
        .collect();
    let mut stage_counts = [0u64; 7];
    for (i, c) in stage_counts.iter_mut().enumerate() {
        *c = acc.confusion[i].iter().sum();
    }
    let end = pop.params.observation_weeks;
    let (mut contactable, mut prospects) = (0usize, 0usize);
    for c in 0..pop.base.n_customers() {
        let reachable = custinsight::records::Channel::KNOWN.iter().any(|ch| {
            pop.base.allows(
                c as u32,
                ch,
                &custinsight::records::Purpose::Marketing,
                as_of,
            )
        });
        if reachable {
            contactable += 1;
            prospects += usize::from(pop.truth.first_purchase_week[c] > end);
        }
    }
    Measured {
        accuracy: acc.accuracy,
        f1: fit.f1,
        precision: fit.precision,
        recall: fit.recall,
        lead_precision: lead.precision,
        lead_base_rate: lead.base_rate,
        leads: lead.leads,
        funnel,
        stage_counts,
        prospect_share_of_contactable: prospects as f64 / contactable.max(1) as f64,
    }
}

/// The rules tuned on the training seeds, on five seeds never used for tuning at
/// 20,000 customers and one at 200,000: stage accuracy >= 0.80 and
/// content-mismatch F1 >= 0.85, warm leads who later buy well above the base
/// rate, a funnel that narrows at every rung, every stage occupied, and
/// prospects at least a fifth of the contactable base.
#[test]
fn stages_content_fit_and_leads_hold_on_unseen_seeds() {
    let runs = HELD_OUT_SEEDS
        .iter()
        .map(|&s| (20_000, s))
        .chain([(200_000, 106)]);
    for (customers, seed) in runs {
        let pop =
            Population::generate(&SynthParams::with_customers(customers).with_seed(seed)).unwrap();
        let m = measure(&pop, &tuned_stage_rules());
        eprintln!(
            "{customers} customers, seed {seed}: accuracy {:.3}, mismatch F1 {:.3} (precision {:.3}, recall {:.3}), \
             {} leads, {:.3} buy within 13 weeks (base {:.3}), funnel {:?}, true stages {:?}, prospects {:.3} of contactable",
            m.accuracy,
            m.f1,
            m.precision,
            m.recall,
            m.leads,
            m.lead_precision,
            m.lead_base_rate,
            m.funnel,
            m.stage_counts,
            m.prospect_share_of_contactable
        );
        assert!(
            m.accuracy >= 0.80,
            "seed {seed}: accuracy {:.3}",
            m.accuracy
        );
        assert!(m.f1 >= 0.85, "seed {seed}: F1 {:.3}", m.f1);
        assert!(m.leads >= 20, "seed {seed}: {} leads", m.leads);
        assert!(
            m.lead_precision >= 1.5 * m.lead_base_rate,
            "seed {seed}: leads {:.3} against base {:.3}",
            m.lead_precision,
            m.lead_base_rate
        );
        assert!(
            m.funnel.windows(2).all(|w| w[0] > w[1]),
            "seed {seed}: funnel {:?}",
            m.funnel
        );
        assert_eq!(m.funnel.len(), Rung::ALL.len());
        assert!(
            m.stage_counts.iter().all(|&c| c > 0),
            "seed {seed}: true stages {:?}",
            m.stage_counts
        );
        assert!(
            m.prospect_share_of_contactable >= 0.20,
            "seed {seed}: prospects {:.3} of the contactable base",
            m.prospect_share_of_contactable
        );
    }
}

/// The rules beat naive baselines on the same truth: everyone inactive, and
/// every message flagged.
#[test]
fn the_rules_beat_trivial_answers() {
    let pop = Population::generate(&SynthParams::with_customers(20_000).with_seed(107)).unwrap();
    let m = measure(&pop, &tuned_stage_rules());
    let inactive_share = m.stage_counts[6] as f64 / pop.base.n_customers() as f64;
    assert!(
        m.accuracy > inactive_share + 0.15,
        "{} vs {inactive_share}",
        m.accuracy
    );
    // Flagging every message has recall 1 and precision = the mismatch share (about 0.3).
    assert!(m.precision > 0.6, "precision {:.3}", m.precision);
}

/// What the generator promises about the truth: prospects have no purchase in
/// the data and their first after it; buyers are in adoption at their first
/// purchase; messages miss their recipient's stage at about the untargeted rate.
#[test]
fn the_latent_stages_agree_with_the_data() {
    let params = SynthParams::with_customers(5_000).with_seed(108);
    let pop = Population::generate(&params).unwrap();
    let end = params.observation_weeks;
    let times = pop.base.tx_time_micros();
    let mut recent = 0;
    for c in 0..pop.base.n_customers() {
        let range = pop.base.transaction_range(c as u32);
        let first = pop.truth.first_purchase_week[c];
        assert_eq!(range.is_empty(), first > end, "customer {c}");
        if let Some(&t) = times.get(range.start).filter(|_| !range.is_empty()) {
            let at = custinsight::store::from_micros(t);
            assert_eq!(
                pop.truth.journey_stages.stage_at(c as u32, at),
                if pop
                    .truth
                    .journey_stages
                    .changes(c as u32)
                    .any(|(w, s)| w == at && s == Some(JourneyStage::Advocacy))
                {
                    Some(JourneyStage::Advocacy)
                } else {
                    Some(JourneyStage::Adoption)
                },
                "customer {c}"
            );
            recent += usize::from(first > end - params.recent_weeks);
        } else {
            assert_eq!(pop.truth.next_purchase_week[c], Some(first));
        }
    }
    assert!(recent > 0);
    let messages = message_stages(&pop.base, &ContentFitParams::default()).unwrap();
    let fit = pop.content_mismatch(&messages, &pop.own_customers(), 0);
    let share = fit.truly_mismatched as f64 / fit.messages as f64;
    let expected = 1.0 - params.stages.targeting_accuracy;
    let sd = (expected * (1.0 - expected) / fit.messages as f64).sqrt();
    assert!(
        (share - expected).abs() < 5.0 * sd,
        "{share:.4} of {} messages truly mismatched, expected {expected}",
        fit.messages
    );
}

/// Coordinate search of the rule windows on the training seeds, maximising
/// accuracy + F1; prints the best windows (`cargo test --release --test
/// journey_stage_truth -- --ignored --nocapture tune`).
#[test]
#[ignore = "tuning: run by hand, then carry the windows into the defaults"]
fn tune_stage_windows_on_training_seeds() {
    let pops: Vec<Population> = TRAINING_SEEDS
        .iter()
        .map(|&s| Population::generate(&SynthParams::with_customers(20_000).with_seed(s)).unwrap())
        .collect();
    let objective = |p: &JourneyStageParams| {
        pops.iter()
            .map(|pop| {
                let m = measure(pop, p);
                m.accuracy + m.f1
            })
            .sum::<f64>()
            / pops.len() as f64
    };
    let mut best = JourneyStageParams::default();
    let mut best_value = objective(&best);
    println!("defaults: {best_value:.4}");
    for _round in 0..2 {
        for field in 0..6 {
            for days in [
                7.0, 10.0, 14.0, 21.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 270.0,
            ] {
                let mut p = best.clone();
                let slot = match field {
                    0 => &mut p.advocacy_days,
                    1 => &mut p.usage_days,
                    2 => &mut p.adoption_days,
                    3 => &mut p.decision_days,
                    4 => &mut p.research_days,
                    _ => &mut p.need_days,
                };
                *slot = days;
                let v = objective(&p);
                if v > best_value + 1e-9 {
                    best_value = v;
                    best = p;
                }
            }
        }
        println!("{best_value:.4}: {best:?}");
    }
}
