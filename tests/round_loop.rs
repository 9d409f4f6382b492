//! The loop end to end on the synthetic population's dirty files: results
//! in one index space, a persisted round that continues bit for bit, a
//! second round with new records that keeps ids and segments, and
//! per-segment effects that cover the truth.

use std::path::PathBuf;

use custinsight::ingest::IngestOptions;
use custinsight::records::{Channel, Purpose};
use custinsight::round::{
    Inputs, NextVariant, Round, RoundParams, RoundState, ScoringBundle, pre_period_revenue,
};
use custinsight::store::OwnedHistory;
use custinsight::synth::{Population, SimulatedExperiment, SourceView, SynthParams};

/// A scratch folder of its own under the test target's temp dir.
fn folder(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("round-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn params(seed: u64) -> RoundParams {
    let mut p = RoundParams::default();
    p.segments.kmeans.seed = seed;
    p.experiment.design.variants = vec!["control".into(), "offer".into()];
    p.experiment.consent = Some((Channel::Email, Purpose::Marketing));
    p.experiment.allocation.seed = seed;
    p
}

fn days(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_hours(24 * n)
}

/// Round 1 a month before the end, its experiment's outcomes simulated,
/// and the inputs of round 2 (the same files, with those outcomes).
fn first_round(
    pop: &Population,
    name: &str,
    params: &RoundParams,
) -> (Round, Vec<Option<u32>>, Inputs) {
    let dir = folder(name);
    pop.write_sources(&dir, &pop.full_view()).unwrap();
    let as_of = pop.observation_end - days(28);
    let inputs = Inputs::read_dir(&dir, &IngestOptions::default()).unwrap();
    let round = Round::run(inputs, as_of, params, None).unwrap();
    let truth = pop.true_customers(&round.base);
    let covariate = pre_period_revenue(&round.base, as_of, 8.0);
    let outcomes = pop
        .simulate_outcomes(
            &round.base,
            &truth,
            &SimulatedExperiment {
                variant: &round.assignment.variant,
                variants: &params.experiment.design.variants,
                covariate: Some(&covariate),
                segments: None,
                draw: 1,
            },
        )
        .unwrap();
    let mut next = Inputs::read_dir(&dir, &IngestOptions::default()).unwrap();
    next.outcomes = Some(outcomes);
    (round, truth, next)
}

#[test]
fn every_per_customer_result_is_aligned_with_the_base() {
    let pop = Population::generate(&SynthParams::with_customers(2_500).with_seed(11)).unwrap();
    let (round, truth, _) = first_round(&pop, "aligned", &params(11));
    let n = round.base.n_customers();
    let life = &round.lifecycle;
    for len in [
        life.x.len(),
        life.t_x.len(),
        life.t_cal.len(),
        life.monetary_value.len(),
        life.p_alive.len(),
        life.expected_purchases.len(),
        life.clv.len(),
        life.stage.len(),
        round.features.n_rows(),
        round.segments.len(),
        round.assignment.variant.len(),
        truth.len(),
    ] {
        assert_eq!(len, n);
    }
    // Rows are the base's customers, in index order.
    for c in round.base.customer_indices() {
        assert_eq!(
            round.features.customer_ids()[c as usize],
            round.base.customer_id(c)
        );
    }
    // Nobody is lost: segmented + left out = customers; assigned + excluded = customers.
    let left: usize = round
        .segments
        .left_out()
        .iter()
        .map(|l| l.customers.len())
        .sum();
    assert_eq!(round.segments.segmented() + left, n);
    assert_eq!(round.assignment.accounted(), n);
    // Every event of the source records is a resolved customer's.
    let a = &round.identity.applied;
    assert_eq!(a.transactions.0, a.transactions.1);
    assert_eq!(a.touchpoints.0, a.touchpoints.1);
    assert_eq!(a.consent_events.0, a.consent_events.1);
    assert_eq!(a.amount_units.0, a.amount_units.1);
    assert_eq!(round.base.n_transactions(), pop.base.n_transactions());
    // Consent is respected: nobody assigned without e-mail consent at the round's time.
    for c in round.base.customer_indices() {
        if round.assignment.variant[c as usize].is_some() {
            assert!(
                round
                    .base
                    .allows(c, &Channel::Email, &Purpose::Marketing, round.as_of)
            );
        }
    }
}

#[test]
fn a_round_persisted_and_reloaded_gives_the_same_next_assignment() {
    let pop = Population::generate(&SynthParams::with_customers(2_500).with_seed(5)).unwrap();
    let params = params(5);
    let (first, _, next) = first_round(&pop, "persisted", &params);
    let json = serde_json::to_string(&first.state).unwrap();
    let reloaded: RoundState = serde_json::from_str(&json).unwrap();
    let again = serde_json::to_string(&reloaded).unwrap();
    assert_eq!(json, again, "the state does not round-trip");
    let end = pop.observation_end;
    let kept = Round::run(next.clone(), end, &params, Some(first.state.clone())).unwrap();
    let loaded = Round::run(next, end, &params, Some(reloaded)).unwrap();
    assert_eq!(kept.assignment, loaded.assignment);
    assert_eq!(kept.decisions, loaded.decisions);
    assert_eq!(kept.segments, loaded.segments);
    assert!(kept.evaluation.is_some());
    // The decisions are what the next assignment used.
    assert!(kept.decisions.iter().all(|d| d.decided_in == 2));
}

/// Bit-equal, with `NaN` equal to itself.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn one_customer_scored_from_a_bundle_is_scored_as_the_round_scored_them() {
    let pop = Population::generate(&SynthParams::with_customers(2_000).with_seed(8)).unwrap();
    let params = params(8);
    let (first, _, next) = first_round(&pop, "bundle", &params);
    let end = pop.observation_end;
    let round = Round::run(next, end, &params, Some(first.state.clone())).unwrap();
    // The second round's weights differ by segment, so the variant depends on the segment.
    assert!(
        round
            .decisions
            .iter()
            .any(|d| d.weights != round.decisions[0].weights)
    );
    let path = folder("bundle-file").with_extension("json");
    round.state.scoring_bundle().save(&path).unwrap();
    let bundle = ScoringBundle::load(&path).unwrap();
    assert_eq!(bundle, ScoringBundle::from_state(&round.state));
    let base = &round.base;
    let life = &round.lifecycle;
    let (mut prospects, mut buyers, mut no_consent, mut assigned) = (0, 0, 0, 0);
    for c in base.customer_indices() {
        let i = c as usize;
        let transactions: Vec<_> = base
            .transaction_range(c)
            .filter_map(|k| base.transaction(k))
            .collect();
        let touchpoints: Vec<_> = base
            .touchpoint_range(c)
            .filter_map(|k| base.touchpoint(k))
            .collect();
        let history = OwnedHistory::new(&transactions, &touchpoints).unwrap();
        let record = base.customer(c);
        let consent = record.as_ref().map(|x| &x.consent);
        let id = base.customer_id(c);
        let score = bundle.score(id, &history.view(), consent, end).unwrap();
        let l = &score.lifecycle;
        for (a, b, what) in [
            (l.x, life.x[i], "frequency"),
            (l.t_x, life.t_x[i], "recency"),
            (l.t_cal, life.t_cal[i], "age"),
            (l.monetary_value, life.monetary_value[i], "monetary value"),
            (l.p_alive, life.p_alive[i], "P(alive)"),
            (
                l.expected_purchases,
                life.expected_purchases[i],
                "expected purchases",
            ),
            (l.clv, life.clv[i], "CLV"),
        ] {
            assert!(same(a, b), "{id}: {what} {a} alone, {b} in the round");
        }
        assert_eq!(l.stage.as_ref().map(|s| s.stage), life.stage[i], "{id}");
        assert_eq!(score.segment, round.segments.segment_of(c), "{id}");
        let expected = round.assignment.variant[i].map(usize::from);
        assert_eq!(score.next.index(), expected, "{id}: {:?}", score.next);
        match &score.next {
            NextVariant::NoConsent => no_consent += 1,
            NextVariant::Variant { .. } => assigned += 1,
            _ => {}
        }
        if !l.x.is_nan() {
            buyers += 1;
        }
        // The same from the base's own history.
        let from_base = bundle.score(id, &base.history(c), consent, end).unwrap();
        assert_eq!(from_base.segment, score.segment);
        assert_eq!(from_base.next, score.next);
    }
    // Every kind of customer was compared.
    assert!(
        buyers > 1_000 && no_consent > 0 && assigned > 800,
        "{buyers} buyers, {no_consent} without consent, {assigned} assigned"
    );
    // Early in the history, prospects (touched, no purchase yet) and
    // customers not yet seen are scored alike too.
    let early = base
        .tx_time_micros()
        .iter()
        .chain(base.tp_time_micros())
        .min()
        .map(|&t| custinsight::store::from_micros(t) + days(60))
        .unwrap();
    let whole = bundle.lifecycle.score(base, early).unwrap();
    let mut not_seen = 0;
    for c in base.customer_indices() {
        let one = bundle.lifecycle.score_one(&base.history(c), early).unwrap();
        let i = c as usize;
        assert!(same(one.p_alive, whole.p_alive[i]) && same(one.clv, whole.clv[i]));
        assert_eq!(one.stage.map(|s| s.stage), whole.stage[i]);
        match whole.stage[i] {
            None => not_seen += 1,
            Some(custinsight::lifecycle::stage::Stage::Prospect) => prospects += 1,
            Some(_) => {}
        }
    }
    assert!(
        prospects > 0 && not_seen > 0,
        "{prospects} prospects, {not_seen} not yet seen"
    );
    assert_eq!(no_consent, round.assignment.no_consent);
}

#[test]
fn a_second_round_with_new_records_keeps_ids_and_segments() {
    // Round 1 sees the first 4,000 customers a month before the end; round 2
    // sees 5 % more customers (their source records are new) and a month of
    // new events.
    let pop = Population::generate(&SynthParams::with_customers(4_200).with_seed(23)).unwrap();
    let params = params(23);
    let before = SourceView {
        customers: 4_000,
        as_of: pop.observation_end - days(30),
    };
    let (dir1, dir2) = (folder("second-1"), folder("second-2"));
    pop.write_sources(&dir1, &before).unwrap();
    pop.write_sources(&dir2, &pop.full_view()).unwrap();
    let inputs = Inputs::read_dir(&dir1, &IngestOptions::default()).unwrap();
    let records_before = inputs.records.len();
    let first = Round::run(inputs, before.as_of, &params, None).unwrap();
    let inputs = Inputs::read_dir(&dir2, &IngestOptions::default()).unwrap();
    let new_records = inputs.records.len() - records_before;
    assert!(
        (0.03..0.08).contains(&(new_records as f64 / inputs.records.len() as f64)),
        "{new_records} new of {}",
        inputs.records.len()
    );
    let second = Round::run(
        inputs,
        pop.observation_end,
        &params,
        Some(first.state.clone()),
    )
    .unwrap();
    let update = second.identity.update.as_ref().unwrap();
    assert_eq!(update.new_records, new_records);
    assert_eq!(update.known_records, records_before);
    let identity = second.state.identity.as_ref().unwrap();
    // Every customer seen before keeps its id, unless a new record merged
    // it into another (an event says so).
    let mut unchanged = 0usize;
    let mut same_segment = 0usize;
    let mut segmented = 0usize;
    for c in first.base.customer_indices() {
        let id = first.base.customer_id(c);
        let now = identity.current_id(id).unwrap();
        if now != id {
            assert!(identity.events().iter().any(|e| matches!(
                e,
                custinsight::identity::IdEvent::Merged { retired, .. } if retired == id
            )));
            continue;
        }
        let c2 = second.base.index_of(id).expect("a stable id is a customer");
        let records = |base: &custinsight::store::CustomerBase, c: u32| {
            base.customer(c)
                .map(|x| x.sources.clone())
                .unwrap_or_default()
        };
        if records(&first.base, c) == records(&second.base, c2) {
            unchanged += 1;
            if let (Some(a), Some(b)) =
                (first.segments.segment_of(c), second.segments.segment_of(c2))
            {
                same_segment += usize::from(a == b);
                segmented += 1;
            }
        }
    }
    // Of the unchanged customers segmented in both rounds (prospects without
    // a purchase are not segmented), nearly all keep their segment: the
    // segments are refitted in place, not relabelled. Some move because a
    // month changed what they did: recent acquisitions leave "new".
    let share = same_segment as f64 / segmented as f64;
    eprintln!(
        "{same_segment} of {segmented} unchanged and segmented customers ({unchanged} unchanged) kept their segment"
    );
    assert!(segmented * 2 > unchanged);
    assert!(
        share >= 0.90,
        "{same_segment} of {segmented} unchanged customers kept their segment"
    );
    assert_eq!(second.segments.names(), first.segments.names());
}

#[test]
fn segment_effects_cover_the_truth_across_seeds() {
    // Stated coverage: over 16 seeds, the 95 % interval of every segment
    // dominated by one persona (≥ 60 % of its units) contains the true
    // effect of its units in at least 90 % of cases.
    let (mut covered, mut segments) = (0usize, 0usize);
    for seed in 100..116u64 {
        let pop =
            Population::generate(&SynthParams::with_customers(4_000).with_seed(seed)).unwrap();
        let params = params(seed);
        let (first, truth, next) = first_round(&pop, &format!("coverage-{seed}"), &params);
        let second = Round::run(
            next,
            pop.observation_end,
            &params,
            Some(first.state.clone()),
        )
        .unwrap();
        let evaluation = second.evaluation.as_ref().unwrap();
        for s in 0..first.segments.k() {
            let (mut effect, mut units, mut counts) = (0.0, 0usize, vec![0usize; 4]);
            for c in first.base.customer_indices() {
                if first.segments.segment_of(c) != Some(s as u32)
                    || first.assignment.variant[c as usize].is_none()
                {
                    continue;
                }
                let Some(t) = truth[c as usize] else { continue };
                effect +=
                    pop.conversion_probability(t, true) - pop.conversion_probability(t, false);
                units += 1;
                counts[usize::from(pop.truth.persona[t as usize])] += 1;
            }
            let dominated = units > 0 && *counts.iter().max().unwrap() as f64 >= 0.6 * units as f64;
            let comparison = evaluation.conversion.segments[s].variants[1]
                .comparison
                .as_ref();
            let Some(ci) = comparison
                .and_then(|c| c.absolute)
                .map(|t| t.ci)
                .filter(|ci| ci.iter().all(|x| x.is_finite()))
            else {
                continue;
            };
            if dominated && units >= 200 {
                let truth = effect / units as f64;
                segments += 1;
                covered += usize::from(ci[0] <= truth && truth <= ci[1]);
            }
        }
    }
    assert!(segments >= 30, "only {segments} persona-dominated segments");
    let coverage = covered as f64 / segments as f64;
    eprintln!("coverage {covered} of {segments}");
    assert!(coverage >= 0.9, "coverage {covered} of {segments}");
}

/// With a targeting plan, round 1 runs its experiment as designed (nothing
/// learned yet); round 2 learns uplift from its outcomes and assigns by the
/// next best action: the offer goes to customers whose true effect is
/// higher, a random tenth of them is the control, nobody without consent is
/// reached, and the policy earns more under the truth than an equal split.
/// Round 3 evaluates what the decisions earned.
#[test]
fn the_next_best_action_assigns_the_round_after_an_experiment() {
    use custinsight::round::TargetingPlan;
    use custinsight::target::nba::UpliftSource;
    let pop = Population::generate(&SynthParams::with_customers(30_000).with_seed(19)).unwrap();
    let mut params = params(19);
    params.targeting = Some(TargetingPlan::default());
    let (first, _, inputs) = first_round(&pop, "targeting", &params);
    assert!(first.targeting.is_none(), "nothing learned before round 1");
    let state = first.state.clone();
    let second = Round::run(inputs, pop.observation_end, &params, Some(state)).unwrap();
    let targeting = second.targeting.as_ref().expect("round 2 targets");
    assert_eq!(targeting.uplift_source, UpliftSource::Model);
    assert_eq!(
        targeting.trained_units,
        second.evaluation.as_ref().unwrap().evaluated
    );
    let a = &second.assignment;
    assert_eq!(a.accounted(), second.base.n_customers());
    assert_eq!(a.counts, vec![targeting.held_out, targeting.offered]);
    let truth = pop.true_customers(&second.base);
    let (mut offered, mut passed) = (Vec::new(), Vec::new());
    for c in second.base.customer_indices() {
        let consented = second
            .base
            .allows(c, &Channel::Email, &Purpose::Marketing, second.as_of);
        let v = a.variant[c as usize];
        let d = targeting.decisions[c as usize].as_ref();
        if v.is_some() {
            assert!(consented, "customer {c} reached without consent");
            // The control is held out of an action it would have got.
            let d = d.unwrap();
            assert_eq!(v == Some(0), d.held_out && d.intended.is_some());
        }
        let Some(t) = truth[c as usize] else { continue };
        let effect = pop.treatment_effect(t);
        match (v, d) {
            (Some(1), _) => offered.push(effect),
            (None, Some(d)) if consented && !d.held_out => passed.push(effect),
            _ => {}
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let share = targeting.held_out as f64 / (targeting.held_out + targeting.offered) as f64;
    assert!((share - 0.1).abs() < 0.02, "control share {share}");
    assert!(
        mean(&offered) > mean(&passed) + 0.02,
        "true effect of the offered {} vs the passed over {}",
        mean(&offered),
        mean(&passed)
    );
    // Under the truth, against offering the same consented customers an equal split.
    let equal: Vec<Option<u16>> = second
        .base
        .customer_indices()
        .map(|c| {
            let reached = second
                .base
                .allows(c, &Channel::Email, &Purpose::Marketing, second.as_of)
                && truth[c as usize].is_some();
            reached.then_some((c % 2) as u16)
        })
        .collect();
    let decided: Vec<Option<u16>> = a
        .variant
        .iter()
        .zip(&equal)
        .map(|(v, e)| v.or(e.map(|_| 0)))
        .collect();
    let (ours, half) = (
        pop.assignment_value(&truth, &decided),
        pop.assignment_value(&truth, &equal),
    );
    let sd = (ours.conversions_variance + half.conversions_variance).sqrt();
    assert!(
        ours.conversions - half.conversions > 2.0 * sd,
        "{} vs {} conversions (sd {sd})",
        ours.conversions,
        half.conversions
    );

    // Round 3 evaluates the decisions: the offered against their holdout.
    let covariate = pre_period_revenue(&second.base, second.as_of, 8.0);
    let outcomes = pop
        .simulate_outcomes(
            &second.base,
            &truth,
            &SimulatedExperiment {
                variant: &a.variant,
                variants: &params.experiment.design.variants,
                covariate: Some(&covariate),
                segments: None,
                draw: 2,
            },
        )
        .unwrap();
    let units = outcomes.len();
    // Round 1's files, still in its folder.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("round-targeting");
    let mut inputs = Inputs::read_dir(&dir, &IngestOptions::default()).unwrap();
    inputs.outcomes = Some(outcomes);
    let third = Round::run(
        inputs,
        pop.observation_end + days(28),
        &params,
        Some(second.state.clone()),
    )
    .unwrap();
    let evaluation = third.evaluation.as_ref().unwrap();
    assert_eq!(evaluation.evaluated, units);
    let measured = evaluation.conversion.overall.variants[1]
        .comparison
        .as_ref()
        .unwrap()
        .abs_effect;
    assert!(measured > 0.0, "the decisions' measured effect {measured}");
}
