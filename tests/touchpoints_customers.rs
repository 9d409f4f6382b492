//! Engagement, journey stages, content fit and channel preference on a
//! synthetic population whose generating process is known.
//!
//! The synthetic data plant a content mismatch: owned channels (e-mail, SMS,
//! push, direct mail) carry research content in even quarters (q1, q3, …) and
//! usage content in odd ones, while almost everyone who receives them is
//! already a customer. Display and social carry need content, search and
//! affiliates research content.

use custinsight::Error;
use custinsight::records::{Customer, Purpose, TouchpointKind};
use custinsight::store::{CustomerBase, from_micros, to_micros};
use custinsight::synth::{Population, SynthParams};
use custinsight::touchpoints::engagement::{self, EngagementParams, Rung, WarmLeadParams};
use custinsight::touchpoints::journey_stage::{
    self, ContentFitParams, FitCounts, JourneyStageParams,
};
use custinsight::touchpoints::preference::{self, PreferenceParams};
use jiff::Timestamp;

const DAY_US: i64 = 86_400_000_000;

fn population(n: usize, seed: u64) -> Population {
    Population::generate(&SynthParams::with_customers(n).with_seed(seed))
        .expect("synthetic population")
}

/// The middle of the observation period.
fn midpoint(pop: &Population) -> Timestamp {
    let (a, b) = (
        to_micros(pop.observation_start),
        to_micros(pop.observation_end),
    );
    from_micros(a + (b - a) / 2)
}

/// The same base with every event after `t` removed (customer indices unchanged).
fn truncated(base: &CustomerBase, t: Timestamp) -> CustomerBase {
    let customers: Vec<Customer> = base
        .customer_indices()
        .map(|c| base.customer(c).expect("synthetic customers have records"))
        .collect();
    let transactions: Vec<_> = base
        .iter_transactions()
        .filter(|x| x.timestamp <= t)
        .collect();
    let touchpoints: Vec<_> = base
        .iter_touchpoints()
        .filter(|x| x.timestamp <= t)
        .collect();
    CustomerBase::from_records(customers, &transactions, &touchpoints).expect("truncated base")
}

/// Whether the customer has a purchase (non-refund transaction or purchase touchpoint) in `(from, to]`.
fn purchased_between(base: &CustomerBase, c: u32, from: i64, to: i64) -> bool {
    let in_window = |t: i64| t >= from && t <= to;
    let tx = base
        .transaction_range(c)
        .any(|i| !base.tx_is_refund()[i] && in_window(base.tx_time_micros()[i]));
    let tp = base.touchpoint_range(c).any(|i| {
        base.kind(base.tp_kind_codes()[i]) == Some(&TouchpointKind::Purchase)
            && in_window(base.tp_time_micros()[i])
    });
    tx || tp
}

#[test]
fn engagement_ladder_and_warm_leads() {
    let pop = population(1500, 11);
    let base = &pop.base;
    let as_of = midpoint(&pop);
    let params = EngagementParams {
        as_of: Some(as_of),
        ..EngagementParams::default()
    };
    let e = engagement::score(base, &params).unwrap();
    assert_eq!(e.customers.len(), base.n_customers());
    assert!(
        e.future_events > 0,
        "the second half of the data is in the future"
    );
    for c in &e.customers {
        assert!(c.score.is_finite() && c.score >= 0.0);
        assert!(c.last_engagement.is_none_or(|t| t <= as_of));
        assert!(c.highest_recent_rung <= c.highest_rung);
    }

    let funnel = e.funnel();
    assert_eq!(funnel.customers, 1500);
    assert_eq!(funnel.steps.len(), 6);
    assert!(
        funnel
            .steps
            .windows(2)
            .all(|w| w[0].customers >= w[1].customers)
    );
    assert!(funnel.steps.iter().all(|s| (0.0..=1.0).contains(&s.share)));
    assert!(funnel.steps[0].customers > 0);

    // Events after as_of change nothing: scoring the truncated base gives the same values.
    let cut = truncated(base, as_of);
    let e_cut = engagement::score(&cut, &params).unwrap();
    assert_eq!(e_cut.future_events, 0);
    for (a, b) in e.customers.iter().zip(&e_cut.customers) {
        assert_eq!(
            (
                a.highest_rung,
                a.highest_recent_rung,
                a.events,
                a.last_engagement
            ),
            (
                b.highest_rung,
                b.highest_recent_rung,
                b.events,
                b.last_engagement
            )
        );
        assert!((a.score - b.score).abs() <= 1e-9 * a.score.max(1.0));
    }

    let lead_params = WarmLeadParams {
        min_score: None,
        ..WarmLeadParams::default()
    };
    let leads = engagement::warm_leads(base, &e, &lead_params).unwrap();
    assert!(!leads.leads.is_empty());
    assert_eq!(
        leads.candidates,
        leads.leads.len() + leads.excluded_no_consent + leads.excluded_by_top_n
    );
    let as_of_us = to_micros(as_of);
    let recent_us = 30 * DAY_US;
    for l in &leads.leads {
        assert!(
            !purchased_between(base, l.customer, as_of_us - recent_us, as_of_us),
            "lead {} bought in the window",
            l.customer_id
        );
        assert_ne!(l.highest_recent_rung, Some(Rung::Purchase));
        assert!(!l.contactable_channels.is_empty());
        for ch in &l.contactable_channels {
            assert!(base.allows(l.customer, ch, &Purpose::Marketing, as_of));
        }
        assert!(l.evidence.len() <= 5);
        assert!(l.evidence.iter().all(|ev| ev.time <= as_of));
        assert!(l.evidence.windows(2).all(|w| w[0].time >= w[1].time));
        assert_eq!(l.customer_id, base.customer_id(l.customer));
    }
    assert!(leads.leads.windows(2).all(|w| {
        w[0].score > w[1].score || (w[0].score == w[1].score && w[0].customer < w[1].customer)
    }));
    let top = engagement::warm_leads(
        base,
        &e,
        &WarmLeadParams {
            top_n: Some(3),
            ..lead_params
        },
    )
    .unwrap();
    assert_eq!(top.leads, leads.leads[..3.min(leads.leads.len())]);
}

#[test]
fn journey_stages_and_stage_at() {
    let pop = population(1500, 12);
    let base = &pop.base;
    let as_of = midpoint(&pop);
    let params = JourneyStageParams {
        as_of: Some(as_of),
        ..JourneyStageParams::default()
    };
    let stages = journey_stage::assign(base, &params).unwrap();
    let d = &stages.distribution;
    assert_eq!(d.customers, 1500);
    assert_eq!(d.counts.iter().sum::<usize>() + d.inactive, 1500);
    assert!(d.counts.iter().filter(|&&n| n > 0).count() >= 2, "{d:?}");
    assert!(stages.assignments.iter().all(|a| !a.reason.is_empty()));
    assert!(
        stages
            .assignments
            .iter()
            .filter(|a| a.stage.is_none())
            .all(|a| a.reason.starts_with("inactive"))
    );

    // The incremental stage_at agrees with assign just after as_of, and ignores the future.
    let cut = truncated(base, as_of);
    let just_after = from_micros(to_micros(as_of) + 1);
    for c in (0..1500u32).step_by(7) {
        let a = &stages.assignments[c as usize];
        let at = journey_stage::stage_at(base, c, just_after, &params).unwrap();
        assert_eq!(
            at.stage, a.stage,
            "customer {c}: {} / {}",
            at.reason, a.reason
        );
        assert_eq!(
            at,
            journey_stage::stage_at(&cut, c, just_after, &params).unwrap()
        );
    }
    let cut_stages = journey_stage::assign(&cut, &params).unwrap();
    assert_eq!(cut_stages.assignments, stages.assignments);
    assert!(matches!(
        journey_stage::stage_at(base, 1500, as_of, &params),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn content_fit_adds_up_and_finds_the_targeting_misses() {
    let pop = population(2000, 13);
    let base = &pop.base;
    let fit = journey_stage::content_fit(base, &ContentFitParams::default()).unwrap();
    let t = &fit.total;
    assert!(t.messages > 0);
    assert_eq!(t.stage_assessed, t.stage_matched + t.stage_mismatched());
    assert_eq!(t.topic_assessed, t.topic_matched + t.topic_mismatched);
    assert!(t.stage_assessed <= t.with_content_stage && t.with_content_stage <= t.messages);
    assert!(t.topic_assessed <= t.with_topic && t.with_topic <= t.messages);
    assert_eq!(fit.matrix.iter().flatten().sum::<u64>(), t.stage_assessed);
    let mut sum = FitCounts::default();
    for c in &fit.campaigns {
        let k = &c.counts;
        assert_eq!(k.stage_assessed, k.stage_matched + k.stage_mismatched());
        assert_eq!(k.topic_assessed, k.topic_matched + k.topic_mismatched);
        sum.merge(k);
    }
    assert_eq!(&sum, t);

    // The population targets each message at its recipient's true stage 70 % of
    // the time: the flags find the misses message by message.
    let messages = journey_stage::message_stages(base, &ContentFitParams::default()).unwrap();
    assert_eq!(messages.len() as u64, t.with_content_stage);
    let score = pop.content_mismatch(&messages, &pop.own_customers(), 0);
    let truly = score.truly_mismatched as f64 / score.messages as f64;
    assert!((0.25..0.35).contains(&truly), "{truly}");
    assert!(score.precision > 0.75 && score.recall > 0.9, "{score:?}");
    // Every campaign carries messages made for several stages, and misses in both directions.
    assert!(t.content_behind > 0 && t.content_ahead > 0, "{t:?}");
}

#[test]
fn preferences_respect_consent() {
    let pop = population(1500, 14);
    let base = &pop.base;
    let p = preference::preferences(base, &PreferenceParams::default()).unwrap();
    assert_eq!(p.customers.len(), 1500);
    let mut preferred = 0;
    for (c, pref) in p.customers.iter().enumerate() {
        let c = c as u32;
        if let Some(ch) = &pref.preferred {
            preferred += 1;
            assert!(
                base.allows(c, ch, &Purpose::Marketing, p.as_of),
                "{}",
                pref.reason
            );
            assert!(pref.preferred_share > 0.0 && pref.preferred_share <= 1.0);
        }
        if pref.best_overall_consented {
            assert_eq!(pref.preferred, pref.best_overall);
        }
        for s in &pref.shares {
            assert_eq!(
                s.consented,
                base.allows(c, &s.channel, &Purpose::Marketing, p.as_of)
            );
        }
        assert!(pref.preferred_hour.is_none_or(|h| h < 24));
        assert!(pref.preferred_day.is_none_or(|d| d < 7));
    }
    assert!(preferred > 0);
    let counted: usize = p.distribution.iter().map(|d| d.customers).sum();
    assert_eq!(counted, preferred);
    assert_eq!(counted + p.no_activity + p.no_consented_channel, 1500);
    assert!(
        p.distribution
            .windows(2)
            .all(|w| w[0].customers >= w[1].customers)
    );
}

#[test]
fn results_are_deterministic_and_serialisable() {
    let pop = population(800, 15);
    let base = &pop.base;
    let run = || {
        let e = engagement::score(base, &EngagementParams::default()).unwrap();
        let leads = engagement::warm_leads(base, &e, &WarmLeadParams::default()).unwrap();
        let s = journey_stage::assign(base, &JourneyStageParams::default()).unwrap();
        let f = journey_stage::content_fit(base, &ContentFitParams::default()).unwrap();
        let p = preference::preferences(base, &PreferenceParams::default()).unwrap();
        serde_json::to_string(&(e, leads, s, f, p)).unwrap()
    };
    let first = run();
    assert_eq!(first, run());
    let again = population(800, 15);
    let e = engagement::score(&again.base, &EngagementParams::default()).unwrap();
    let json = serde_json::to_string(&e).unwrap();
    let back: engagement::Engagement = serde_json::from_str(&json).unwrap();
    assert_eq!(back.customers.len(), 800);
}

#[test]
fn customers_without_touchpoints() {
    let params = SynthParams {
        touchpoints: false,
        ..SynthParams::with_customers(300)
    };
    let pop = Population::generate(&params.clone().with_seed(16)).unwrap();
    let base = &pop.base;
    assert_eq!(base.n_touchpoints(), 0);
    let e = engagement::score(base, &EngagementParams::default()).unwrap();
    let top = e.funnel().steps[5].customers;
    assert_eq!(e.funnel().steps[0].customers, top, "only purchases");
    let s = journey_stage::assign(base, &JourneyStageParams::default()).unwrap();
    assert_eq!(s.distribution.counts[0..3], [0, 0, 0]);
    let f = journey_stage::content_fit(base, &ContentFitParams::default()).unwrap();
    assert_eq!(f.total, FitCounts::default());
    let p = preference::preferences(base, &PreferenceParams::default()).unwrap();
    assert_eq!(p.customers.len(), 300);
}
