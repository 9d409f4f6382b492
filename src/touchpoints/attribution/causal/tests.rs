use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::prelude::*;
use crate::touchpoints::journey::JourneyParams;

/// True log-odds effects of the four channels below.
const EFFECTS: [f64; 4] = [0.8, 0.3, 0.0, -0.5];
const CHANNELS: [Channel; 4] = [
    Channel::SearchAds,
    Channel::Email,
    Channel::Social,
    Channel::DisplayAds,
];

/// One journey per customer with a known logistic truth and confounding:
/// group 1 buys more (intercept −0.4 against −1.6) and sees the first
/// channel far more often (85 % against 25 %), so a comparison that ignores
/// the group credits the first channel with the group's own propensity.
fn confounded(n: usize, seed: u64) -> (CustomerBase, Vec<Option<u32>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = CustomerBase::builder();
    let start: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
    let exposure = [[0.25, 0.5, 0.5, 0.5], [0.85, 0.5, 0.3, 0.6]];
    let mut groups = Vec::with_capacity(n);
    for i in 0..n {
        let group = usize::from(rng.gen_bool(0.5));
        let id = CustomerId::new(format!("c{i}")).unwrap();
        let at = start + jiff::SignedDuration::from_hours(i as i64 % 5_000);
        let mut logit = if group == 1 { -0.4 } else { -1.6 };
        let mut touched = false;
        for (c, channel) in CHANNELS.iter().enumerate() {
            if rng.gen_bool(exposure[group][c]) {
                touched = true;
                logit += EFFECTS[c];
                let t = at + jiff::SignedDuration::from_mins(10 * c as i64);
                b.add_touchpoint(&Touchpoint::new(
                    id.clone(),
                    t,
                    channel.clone(),
                    TouchpointKind::Click,
                ))
                .unwrap();
            }
        }
        if !touched {
            b.add_touchpoint(&Touchpoint::new(
                id.clone(),
                at,
                Channel::Web,
                TouchpointKind::Visit,
            ))
            .unwrap();
        }
        if rng.gen_bool(1.0 / (1.0 + (-logit).exp())) {
            let t = at + jiff::SignedDuration::from_hours(1);
            let money = Money::parse("50", Currency::EUR).unwrap();
            b.add_transaction(&Transaction::new(
                format!("o{i}"),
                id,
                t,
                money,
                Channel::Web,
            ))
            .unwrap();
        }
        groups.push(Some(group as u32));
    }
    (b.build().unwrap(), groups)
}

/// The confounder as a categorical covariate.
fn group_covariate(base: &CustomerBase, groups: Vec<Option<u32>>) -> Covariates {
    Covariates::for_customers(base.n_customers())
        .with(Covariate::Categorical {
            name: "group".into(),
            levels: vec!["a".into(), "b".into()],
            codes: groups,
        })
        .unwrap()
}

fn journeys(base: &CustomerBase) -> Journeys {
    let params = JourneyParams {
        lookback_days: 2.0,
        as_of: Some("2025-06-01T00:00:00Z".parse().unwrap()),
        ..JourneyParams::default()
    };
    Journeys::build(base, &params).unwrap()
}

fn effect_of(result: &CausalAttribution, channel: &Channel) -> Estimate {
    result
        .effects
        .iter()
        .find(|e| e.channel == channel.to_string())
        .and_then(|e| e.effect)
        .unwrap()
}

#[test]
fn adjusting_for_the_confounder_recovers_the_true_effects_and_ignoring_it_does_not() {
    let (base, groups) = confounded(30_000, 7);
    let journeys = journeys(&base);
    let covariates = group_covariate(&base, groups);
    let params = CausalParams {
        bootstrap: 100,
        ..CausalParams::default()
    };
    let adjusted = causal(&journeys, &base, Some(&covariates), &params).unwrap();
    assert_eq!(adjusted.journeys, 30_000);
    // One dummy: the other level is the reference.
    assert!(
        adjusted.covariates == ["group=a"] || adjusted.covariates == ["group=b"],
        "{:?}",
        adjusted.covariates
    );
    for (channel, truth) in CHANNELS.iter().zip(EFFECTS) {
        let e = effect_of(&adjusted, channel);
        assert!(
            e.low <= truth && truth <= e.high,
            "{channel}: {truth} outside [{}, {}]",
            e.low,
            e.high
        );
        // About 0.03 to 0.05 log-odds with 30,000 journeys.
        assert!(e.std_error > 0.01 && e.std_error < 0.08, "{e:?}");
    }
    let naive = causal(&journeys, &base, None, &params).unwrap();
    let biased = effect_of(&naive, &Channel::SearchAds);
    // The group's own propensity (1.2 log-odds) leaks into the first channel.
    assert!(biased.low > EFFECTS[0] + 0.2, "{biased:?}");
    // Web (the visit of untouched journeys) is a channel too, seen only without the others.
    let web = adjusted
        .effects
        .iter()
        .find(|e| e.channel == Channel::Web.to_string())
        .unwrap();
    assert!(web.effect.is_some());
}

#[test]
fn incremental_conversions_are_the_counterfactual_loss() {
    let (base, groups) = confounded(8_000, 3);
    let journeys = journeys(&base);
    let covariates = group_covariate(&base, groups);
    let params = CausalParams {
        bootstrap: 0,
        ..CausalParams::default()
    };
    let r = causal(&journeys, &base, Some(&covariates), &params).unwrap();
    for e in &r.effects {
        let Some(effect) = e.effect else {
            assert_eq!(e.incremental_conversions.value, 0.0);
            continue;
        };
        // The sign of the loss follows the sign of the effect, and no channel
        // can lose more conversions than its journeys had.
        assert_eq!(
            e.incremental_conversions.value > 0.0,
            effect.value > 0.0,
            "{e:?}"
        );
        assert!(e.incremental_conversions.value < e.conversions, "{e:?}");
        // Every converting journey is worth 50.
        let per = e.incremental_value.value / e.incremental_conversions.value;
        assert!((per - 50.0).abs() < 1e-9, "{per}");
        // Without a bootstrap the interval is the point.
        assert_eq!((effect.low, effect.high), (effect.value, effect.value));
    }
}

#[test]
fn channels_without_an_estimable_effect_say_why() {
    let mut b = CustomerBase::builder();
    let start: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for i in 0..400 {
        let id = CustomerId::new(format!("c{i}")).unwrap();
        let at = start + jiff::SignedDuration::from_hours(i);
        // Everyone sees e-mail; a third also see display, and those never buy.
        b.add_touchpoint(&Touchpoint::new(
            id.clone(),
            at,
            Channel::Email,
            TouchpointKind::Click,
        ))
        .unwrap();
        let display = i % 3 == 0;
        if display {
            b.add_touchpoint(&Touchpoint::new(
                id.clone(),
                at,
                Channel::DisplayAds,
                TouchpointKind::Impression,
            ))
            .unwrap();
        }
        if !display && rng.gen_bool(0.4) {
            let t = at + jiff::SignedDuration::from_mins(30);
            let money = Money::parse("10", Currency::EUR).unwrap();
            b.add_transaction(&Transaction::new(
                format!("o{i}"),
                id,
                t,
                money,
                Channel::Web,
            ))
            .unwrap();
        }
    }
    let base = b.build().unwrap();
    let r = causal(&journeys(&base), &base, None, &CausalParams::default()).unwrap();
    let note = |c: Channel| {
        r.effects
            .iter()
            .find(|e| e.channel == c.to_string())
            .map(|e| (e.note, e.effect.is_none()))
    };
    assert_eq!(
        note(Channel::Email),
        Some((Some(EffectNote::InEveryJourney), true))
    );
    assert_eq!(
        note(Channel::DisplayAds),
        Some((Some(EffectNote::NeverInConvertingJourney), true))
    );
    // Web is a channel of the base (the purchases) but no journey touched it.
    assert_eq!(
        note(Channel::Web),
        Some((Some(EffectNote::NeverTouched), true))
    );
}

#[test]
fn bad_settings_and_degenerate_data_are_typed_errors() {
    let (base, _) = confounded(300, 2);
    let j = journeys(&base);
    for bad in [
        CausalParams {
            l2: -1.0,
            ..CausalParams::default()
        },
        CausalParams {
            confidence: 1.0,
            ..CausalParams::default()
        },
        CausalParams {
            max_iter: 0,
            ..CausalParams::default()
        },
    ] {
        assert!(matches!(
            causal(&j, &base, None, &bad),
            Err(Error::InvalidParameter { .. })
        ));
    }
    let other = Covariates::for_customers(3);
    assert!(matches!(
        causal(&j, &base, Some(&other), &CausalParams::default()),
        Err(Error::LengthMismatch { .. })
    ));
    // Nobody converts: no effect on conversion can be estimated.
    let mut b = CustomerBase::builder();
    let at: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
    for i in 0..10 {
        let id = CustomerId::new(format!("c{i}")).unwrap();
        b.add_touchpoint(&Touchpoint::new(
            id,
            at,
            Channel::Email,
            TouchpointKind::Click,
        ))
        .unwrap();
    }
    let none = b.build().unwrap();
    assert!(matches!(
        causal(&journeys(&none), &none, None, &CausalParams::default()),
        Err(Error::NotIdentifiable { .. })
    ));
}

#[test]
fn the_bootstrap_is_the_same_for_the_same_seed() {
    let (base, _) = confounded(2_000, 5);
    let j = journeys(&base);
    let params = CausalParams {
        bootstrap: 30,
        seed: 9,
        ..CausalParams::default()
    };
    let a = causal(&j, &base, None, &params).unwrap();
    let b = causal(&j, &base, None, &params).unwrap();
    assert_eq!(a, b);
    let c = causal(&j, &base, None, &CausalParams { seed: 10, ..params }).unwrap();
    assert_ne!(a, c);
}

#[test]
fn poisson_weights_have_mean_and_variance_one() {
    let draws: Vec<f64> = (0..200_000).map(|c| poisson_one(3, 1, c)).collect();
    let m = draws.iter().sum::<f64>() / draws.len() as f64;
    let v = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / draws.len() as f64;
    // Standard errors: 1/√n ≈ 0.0022 for the mean, ≈ 0.0039 for the variance.
    assert!((m - 1.0).abs() < 0.01, "{m}");
    assert!((v - 1.0).abs() < 0.02, "{v}");
    // P(K = 0) = e⁻¹.
    let zeros = draws.iter().filter(|&&d| d == 0.0).count() as f64 / draws.len() as f64;
    assert!((zeros - (-1.0f64).exp()).abs() < 0.005, "{zeros}");
}

#[test]
fn a_holdout_measures_the_campaign_without_a_model() {
    let (base, groups) = confounded(4_000, 11);
    let j = journeys(&base);
    // Everyone "exposed": the two groups as sides give the group difference.
    let flags: Vec<Option<bool>> = groups.iter().map(|g| g.map(|g| g == 0)).collect();
    let lift = holdout_lift(&j, &flags, 0.95).unwrap();
    assert_eq!(lift.exposed + lift.held_out, 4_000);
    assert!(lift.difference > 0.0);
    assert!(lift.difference_interval[0] < lift.difference);
    assert!((lift.incremental_conversions[0] - lift.difference * lift.exposed as f64).abs() < 1e-9);
    assert!(matches!(
        holdout_lift(&j, &flags[..10], 0.95),
        Err(Error::LengthMismatch { .. })
    ));
    let one_side = vec![Some(false); flags.len()];
    assert!(matches!(
        holdout_lift(&j, &one_side, 0.95),
        Err(Error::TooFew { .. })
    ));
}

#[test]
fn a_numeric_confounder_is_adjusted_for_by_its_quantile_bins() {
    let (base, groups) = confounded(20_000, 13);
    let journeys = journeys(&base);
    // The group hidden in a number: 0.0–0.5 for one, 1.0–1.5 for the other.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let score: Vec<f64> = groups
        .iter()
        .map(|g| f64::from(g.unwrap()) + rng.gen_range(0.0..0.5))
        .collect();
    let covariates = Covariates::for_customers(base.n_customers())
        .with(Covariate::Numeric {
            name: "score".into(),
            values: score,
        })
        .unwrap();
    let params = CausalParams {
        bootstrap: 60,
        ..CausalParams::default()
    };
    let r = causal(&journeys, &base, Some(&covariates), &params).unwrap();
    // Ten deciles: nine dummies, named by their ranges.
    assert_eq!(r.covariates.len(), 9, "{:?}", r.covariates);
    assert!(r.covariates.iter().all(|c| c.starts_with("score")));
    // Few patterns: channels × bins, not one per journey.
    assert!(r.patterns <= 10 * 32, "{}", r.patterns);
    for (channel, truth) in CHANNELS.iter().zip(EFFECTS) {
        let e = effect_of(&r, channel);
        assert!(
            e.low <= truth && truth <= e.high,
            "{channel}: {truth} outside [{}, {}]",
            e.low,
            e.high
        );
    }
}
