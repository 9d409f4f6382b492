//! Journeys: the rules on hand-made histories, every touch in exactly one
//! journey (property), and attribution on the synthetic population against its
//! true channel effects.

use custinsight::prelude::*;
use custinsight::segment::segments::Segments;
use custinsight::synth::{MARKETING_CHANNELS, Population, SynthParams};
use custinsight::touchpoints::attribution::time_decay;
use custinsight::touchpoints::attribution::{
    HeuristicParams, MarkovParams, ShapleyParams, heuristics, markov, shapley,
};
use custinsight::touchpoints::effectiveness::{
    EffectivenessParams, KeyLevel, coverage, group_matrix, inventory, lost_signals, timing,
};
use custinsight::touchpoints::journey::{
    ConversionSource, JourneyOutcome, JourneyParams, JourneyTouches, Journeys,
};
use custinsight::touchpoints::paths::{
    OpenJourneys, PathStats, PathStatsParams, PathTable, time_to_conversion,
};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

fn t0() -> Timestamp {
    "2024-01-01T00:00:00Z".parse().unwrap()
}

fn day(d: f64) -> Timestamp {
    t0() + SignedDuration::from_secs_f64(d * 86_400.0)
}

fn touch(
    b: &mut custinsight::store::CustomerBaseBuilder,
    id: &str,
    d: f64,
    channel: Channel,
    kind: TouchpointKind,
) {
    b.add_touchpoint(&Touchpoint::new(
        CustomerId::new(id).unwrap(),
        day(d),
        channel,
        kind,
    ))
    .unwrap();
}

fn order(
    b: &mut custinsight::store::CustomerBaseBuilder,
    id: &str,
    order_id: &str,
    d: f64,
    amount: &str,
) {
    b.add_transaction(&Transaction::new(
        order_id,
        CustomerId::new(id).unwrap(),
        day(d),
        Money::parse(amount, Currency::EUR).unwrap(),
        Channel::Web,
    ))
    .unwrap();
}

/// c1: email on day 0, search on day 40, display on day 45, an order on day 50
/// logged twice (transaction + purchase touchpoint 5 minutes later), email on day 60.
fn example_base() -> CustomerBase {
    let mut b = CustomerBase::builder();
    touch(&mut b, "c1", 0.0, Channel::Email, TouchpointKind::Click);
    touch(
        &mut b,
        "c1",
        40.0,
        Channel::SearchAds,
        TouchpointKind::Click,
    );
    touch(
        &mut b,
        "c1",
        45.0,
        Channel::DisplayAds,
        TouchpointKind::Impression,
    );
    order(&mut b, "c1", "o-1", 50.0, "30");
    touch(
        &mut b,
        "c1",
        50.0 + 5.0 / 1440.0,
        Channel::Web,
        TouchpointKind::Purchase,
    );
    touch(&mut b, "c1", 60.0, Channel::Email, TouchpointKind::Click);
    // c2: a store purchase with no touch before it, then two visits in one session.
    order(&mut b, "c2", "o-2", 10.0, "12.5");
    touch(&mut b, "c2", 20.0, Channel::Web, TouchpointKind::Visit);
    touch(
        &mut b,
        "c2",
        20.0 + 10.0 / 1440.0,
        Channel::Web,
        TouchpointKind::ProductView,
    );
    b.build().unwrap()
}

#[test]
fn journeys_follow_the_lookback_and_conversion_rules() {
    let base = example_base();
    let params = JourneyParams {
        as_of: Some(day(100.0)),
        ..JourneyParams::default()
    };
    let j = Journeys::build(&base, &params).unwrap();
    let summary: Vec<(u32, JourneyOutcome, usize, f64)> = j
        .iter()
        .map(|x| (x.customer, x.outcome, x.touch_rows.len(), x.value))
        .collect();
    assert_eq!(
        summary,
        [
            // Day-0 e-mail: more than 30 days before the conversion.
            (0, JourneyOutcome::NotConverted, 1, 0.0),
            // Search and display lead to the order; the purchase touchpoint is the same order.
            (0, JourneyOutcome::Converted, 2, 30.0),
            (0, JourneyOutcome::NotConverted, 1, 0.0),
            // c2: a direct conversion, then two touches that have not converted (yet).
            (1, JourneyOutcome::Converted, 0, 12.5),
            (1, JourneyOutcome::NotConverted, 2, 0.0),
        ]
    );
    let converted = j.get(1).unwrap();
    assert!((converted.days_to_conversion().unwrap() - 10.0).abs() < 1e-9);
    assert_eq!(converted.sessions, 2);
    assert_eq!(j.get(4).unwrap().sessions, 1);
    // Sessions: c1 has 5 touchpoint rows in 5 sessions, c2 two rows in one.
    assert_eq!(j.n_sessions(), 6);

    // With as_of on day 70, the day-60 e-mail may still convert: open.
    let open = Journeys::build(
        &base,
        &JourneyParams {
            as_of: Some(day(70.0)),
            ..JourneyParams::default()
        },
    )
    .unwrap();
    assert_eq!(open.get(2).unwrap().outcome, JourneyOutcome::Open);
    assert_eq!(open.outcome_counts(), (2, 2, 1));

    // Counting transactions and purchase touchpoints separately would see the order twice.
    let touch_only = Journeys::build(
        &base,
        &JourneyParams {
            as_of: Some(day(100.0)),
            conversions: ConversionSource::PurchaseTouchpoints,
            ..JourneyParams::default()
        },
    )
    .unwrap();
    assert_eq!(touch_only.outcome_counts().0, 1);
    assert_eq!(touch_only.get(1).unwrap().value, 0.0);

    // Events after as_of are ignored and counted.
    let early = Journeys::build(
        &base,
        &JourneyParams {
            as_of: Some(day(30.0)),
            ..JourneyParams::default()
        },
    )
    .unwrap();
    assert_eq!(early.ignored_after_as_of(), 5);

    let bad = JourneyParams {
        lookback_days: f64::NAN,
        ..JourneyParams::default()
    };
    assert!(matches!(
        Journeys::build(&base, &bad),
        Err(Error::InvalidParameter {
            name: "lookback_days",
            ..
        })
    ));
}

#[test]
fn path_table_and_statistics_from_journeys() {
    let base = example_base();
    let j = Journeys::build(
        &base,
        &JourneyParams {
            as_of: Some(day(100.0)),
            ..JourneyParams::default()
        },
    )
    .unwrap();
    let table = PathTable::from_journeys(&j, &base, OpenJourneys::NotConverting).unwrap();
    // Paths: email (2 nulls), search > display (1 conversion), web > web (1 null); one direct conversion.
    assert_eq!(table.len(), 3);
    assert_eq!(table.total_conversions(), 1.0);
    assert_eq!(table.total_nulls(), 3.0);
    assert_eq!(
        (table.direct_conversions(), table.direct_value()),
        (1.0, 12.5)
    );
    let stats = PathStats::compute(&table, &PathStatsParams { top_paths: 10 });
    assert_eq!(stats.top_paths[0].path, "email");
    assert_eq!(stats.top_paths[0].journeys, 2.0);
    assert_eq!(stats.lengths.iter().map(|l| l.journeys).sum::<f64>(), 4.0);
    let into_conversion: f64 = stats
        .transitions
        .iter()
        .filter(|t| t.to == "(conversion)")
        .map(|t| t.journeys)
        .sum();
    assert_eq!(into_conversion, 1.0);
    let from_start: f64 = stats
        .transitions
        .iter()
        .filter(|t| t.from == "(start)")
        .map(|t| t.journeys)
        .sum();
    assert_eq!(from_start, 4.0);
    let ttc = time_to_conversion(&j);
    assert_eq!(ttc.journeys, 1);
    assert!((ttc.median_days - 10.0).abs() < 1e-9);
    assert_eq!(ttc.counts.iter().sum::<usize>(), 1);
}

#[test]
fn empty_base_gives_empty_results() {
    let base = CustomerBase::builder().build().unwrap();
    let j = Journeys::build(&base, &JourneyParams::default()).unwrap();
    assert!(j.is_empty());
    let table = PathTable::from_journeys(&j, &base, OpenJourneys::NotConverting).unwrap();
    assert!(table.is_empty());
    let m = markov(&table, &MarkovParams::default()).unwrap();
    assert_eq!(m.conversion_probability, 0.0);
    let inv = inventory(&base, &j, None, &EffectivenessParams::default()).unwrap();
    assert!(inv.rows.is_empty());
    assert!(
        timing(&base, None, 0).unwrap().counts[0]
            .iter()
            .flatten()
            .all(|&c| c == 0)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every touchpoint that is not a purchase and not after as_of is in exactly one
    /// journey of its own customer; converted journeys hold only touches within the
    /// lookback before their conversion; one converted journey per conversion.
    #[test]
    fn every_touch_belongs_to_exactly_one_journey(
        events in proptest::collection::vec((0u8..4, 0u32..2000, 0u8..4, any::<bool>()), 0..60),
        lookback in 1u32..20,
        as_of_day in 0u32..90,
        marketing in any::<bool>(),
    ) {
        let mut b = CustomerBase::builder();
        let channels = [Channel::Email, Channel::SearchAds, Channel::Web, Channel::Social];
        for (i, &(customer, hours, channel, is_order)) in events.iter().enumerate() {
            let id = format!("c{customer}");
            let at = hours as f64 / 24.0;
            if is_order && channel == 0 {
                order(&mut b, &id, &format!("o{i}"), at, "10");
            } else {
                let kind = match (channel, is_order) {
                    (3, true) => TouchpointKind::Purchase,
                    (2, true) => TouchpointKind::Support,
                    _ => TouchpointKind::Click,
                };
                touch(&mut b, &id, at, channels[channel as usize].clone(), kind);
            }
        }
        let base = b.build().unwrap();
        let as_of = day(as_of_day as f64);
        let params = JourneyParams {
            lookback_days: lookback as f64,
            conversions: ConversionSource::Transactions,
            as_of: Some(as_of),
            touches: if marketing { JourneyTouches::Marketing } else { JourneyTouches::All },
            ..JourneyParams::default()
        };
        let j = Journeys::build(&base, &params).unwrap();
        let mut seen = vec![0u32; base.n_touchpoints()];
        for x in j.iter() {
            for &r in x.touch_rows {
                seen[r as usize] += 1;
                prop_assert_eq!(base.tp_customer()[r as usize], x.customer);
            }
            if x.converted() {
                let end = x.end;
                for &r in x.touch_rows {
                    let t = custinsight::store::from_micros(base.tp_time_micros()[r as usize]);
                    prop_assert!(t <= end);
                    prop_assert!(end.duration_since(t).as_secs_f64() <= lookback as f64 * 86_400.0 + 1e-6);
                }
            }
        }
        let mut left_out = 0;
        for (r, &count) in seen.iter().enumerate() {
            let kind = base.kind(base.tp_kind_codes()[r]).unwrap();
            let purchase = *kind == TouchpointKind::Purchase;
            let late = custinsight::store::from_micros(base.tp_time_micros()[r]) > as_of;
            let after_sales = marketing && kind.is_after_sales();
            left_out += u64::from(!purchase && !late && after_sales);
            prop_assert_eq!(count, u32::from(!purchase && !late && !after_sales), "row {}", r);
        }
        prop_assert_eq!(j.left_out(), left_out);
        let conversions = (0..base.n_transactions())
            .filter(|&i| custinsight::store::from_micros(base.tx_time_micros()[i]) <= as_of)
            .count();
        prop_assert_eq!(j.outcome_counts().0, conversions);
    }
}

/// Credit models share out exactly the conversions of the synthetic journeys.
/// (Whether credit follows the channels' true effects is another matter: the
/// synthetic exposure is confounded with persona, and
/// `tests/causal_recovery.rs` shows that credit does not, while the causal
/// effects do.)
#[test]
fn attribution_shares_out_the_synthetic_conversions() {
    let pop = Population::generate(&SynthParams {
        n_customers: 6_000,
        seed: 11,
        ..SynthParams::default()
    })
    .unwrap();
    let base = &pop.base;
    let params = JourneyParams {
        conversions: ConversionSource::Transactions,
        touches: JourneyTouches::Marketing,
        ..JourneyParams::default()
    };
    let journeys = Journeys::build(base, &params).unwrap();
    let table = PathTable::from_journeys(&journeys, base, OpenJourneys::Excluded).unwrap();
    let touched_conversions = pop
        .truth
        .placed_journeys
        .iter()
        .filter(|j| j.converted)
        .count() as f64;
    assert_eq!(table.total_conversions(), touched_conversions);
    let m = markov(&table, &MarkovParams::default()).unwrap();
    let s = shapley(&table, &ShapleyParams::default()).unwrap();
    let h = heuristics(&table, &HeuristicParams::default()).unwrap();
    for (name, total) in [
        ("markov", m.credits.total_conversions()),
        ("shapley", s.credits.total_conversions()),
        ("linear", h.linear.total_conversions()),
        ("last touch", h.last_touch.total_conversions()),
    ] {
        assert!(
            (total - touched_conversions).abs() < 1e-6 * touched_conversions,
            "{name}: {total} of {touched_conversions}"
        );
    }
    // Every marketing channel is in enough journeys to be credited.
    let stats = PathStats::compute(&table, &PathStatsParams { top_paths: 0 });
    for ch in MARKETING_CHANNELS {
        let c = table
            .channels()
            .iter()
            .position(|n| n == ch.as_str())
            .unwrap();
        assert!(stats.positions[c].journeys >= 200.0, "{ch}");
        assert!(m.credits.conversions[c] > 0.0, "{ch}");
    }
    // Time decay credits every converting journey with touches once, value included.
    let decay = time_decay(&journeys, base, 1.0).unwrap();
    assert!((decay.total_conversions() - table.total_conversions()).abs() < 1e-6);
    assert!((decay.total_value() - table.total_value()).abs() < 1e-6 * table.total_value());
    assert!(matches!(
        time_decay(&journeys, base, 0.0),
        Err(Error::InvalidParameter {
            name: "half_life_days",
            ..
        })
    ));
}

#[test]
fn complaints_before_leaving_are_flagged_and_coverage_counts_the_unreached() {
    let mut b = CustomerBase::builder();
    // Ten lost customers complained before their last touch; ten retained ones did not.
    for i in 0..20 {
        let id = format!("c{i:02}");
        touch(&mut b, &id, 1.0, Channel::Email, TouchpointKind::Click);
        if i < 10 {
            touch(
                &mut b,
                &id,
                5.0,
                Channel::CallCenter,
                TouchpointKind::Complaint,
            );
        }
        touch(&mut b, &id, 6.0, Channel::Web, TouchpointKind::Visit);
    }
    order(&mut b, "quiet", "o-q", 1.0, "5");
    let base = b.build().unwrap();
    let lost: Vec<bool> = (0..base.n_customers())
        .map(|c| base.customer_id(c as u32) < "c10")
        .collect();
    let signals = lost_signals(&base, &lost, 7.0, KeyLevel::ChannelKind).unwrap();
    let complaint = signals
        .iter()
        .find(|s| s.touchpoint == "call_center/complaint")
        .expect("complaints precede the lost customers");
    assert_eq!((complaint.lost_with, complaint.lost_share), (10, 1.0));
    assert_eq!(complaint.retained_share, 0.0);
    assert!(complaint.adjusted_p_value < 0.01, "{complaint:?}");
    assert_eq!(signals[0].touchpoint, "call_center/complaint");
    assert!(matches!(
        lost_signals(&base, &lost[1..], 7.0, KeyLevel::Channel),
        Err(Error::LengthMismatch { expected, found, .. })
            if expected == base.n_customers() && found == base.n_customers() - 1
    ));

    // Within the last 3 days only the web visits reach anyone; the buyer without touchpoints is unreached.
    let cov = coverage(&base, None, day(6.0), 3.0, 1).unwrap();
    let web = cov.channels.iter().position(|c| c == "web").unwrap();
    let email = cov.channels.iter().position(|c| c == "email").unwrap();
    assert_eq!(cov.cells[0][web].reached, 20);
    assert_eq!(cov.cells[0][email].reached, 0);
    let quiet = base.index_of("quiet").unwrap();
    assert_eq!(cov.under_reached_customers, [quiet]);
    assert!(matches!(
        coverage(&base, None, day(6.0), 3.0, 0),
        Err(Error::InvalidParameter {
            name: "min_touches",
            ..
        })
    ));
}

#[test]
fn effectiveness_on_the_synthetic_population() {
    let pop = Population::generate(&SynthParams {
        n_customers: 3_000,
        seed: 5,
        ..SynthParams::default()
    })
    .unwrap();
    let base = &pop.base;
    let journeys = Journeys::build(base, &JourneyParams::default()).unwrap();
    let names = pop.truth.persona_names.clone();
    let labels: Vec<Option<u32>> = pop
        .truth
        .persona
        .iter()
        .map(|&p| Some(u32::from(p)))
        .collect();
    let groups = Segments::from_labels(names.clone(), labels.clone(), "none").unwrap();
    let params = EffectivenessParams::default();
    let inv = inventory(base, &journeys, Some(&groups), &params).unwrap();
    // Overall rows: reach within the base, intervals around the rates.
    let overall: Vec<_> = inv.rows.iter().filter(|r| r.group.is_none()).collect();
    assert!(!overall.is_empty());
    let converted_value: f64 = journeys
        .iter()
        .filter(|j| j.converted() && !j.touch_rows.is_empty())
        .map(|j| j.value)
        .sum();
    let revenue: f64 = overall.iter().map(|r| r.revenue).sum();
    assert!((revenue - converted_value).abs() < 1e-6 * converted_value.max(1.0));
    for r in &overall {
        assert!(r.reach <= inv.customers && r.conversions <= r.journeys);
        let (lo, hi) = r.conversion_rate_interval;
        if r.journeys > 0 {
            assert!(lo <= r.conversion_rate && r.conversion_rate <= hi);
        }
    }
    // Per-group reach adds up to the overall reach.
    for r in &overall {
        let grouped: usize = inv
            .rows
            .iter()
            .filter(|g| g.group.is_some() && g.channel == r.channel && g.kind == r.kind)
            .map(|g| g.reach)
            .sum();
        assert_eq!(grouped, r.reach);
    }
    let matrix = group_matrix(
        base,
        &journeys,
        &groups,
        &EffectivenessParams {
            level: KeyLevel::Channel,
            ..params.clone()
        },
    )
    .unwrap();
    assert_eq!(matrix.groups.len(), names.len());
    for cell in matrix.cells.iter().flatten() {
        assert!(cell.adjusted_p_value.is_nan() || cell.adjusted_p_value >= cell.p_value);
        assert!(!cell.significant || cell.adjusted_p_value < matrix.alpha);
    }
    let cov = coverage(base, Some(&groups), journeys.as_of(), 90.0, 1).unwrap();
    let unreached: usize = cov.under_reached.iter().sum();
    assert_eq!(unreached, cov.under_reached_customers.len());
    let t = timing(base, Some(&groups), 60).unwrap();
    let counted: u64 = t.counts.iter().flatten().flatten().sum();
    assert_eq!(counted as usize, base.n_touchpoints());
    let bad = Segments::from_labels(names.clone(), labels[1..].to_vec(), "none").unwrap();
    assert!(matches!(
        inventory(base, &journeys, Some(&bad), &params),
        Err(Error::LengthMismatch { expected, found, .. })
            if expected == base.n_customers() && found == base.n_customers() - 1
    ));
}
