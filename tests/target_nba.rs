//! The next best action: the most profitable consented action of the
//! customer's play, the reasons it gives, the contact cap, a stable random
//! holdout, and the measurement of what the decisions earned.

use approx::assert_abs_diff_eq;
use custinsight::Error;
use custinsight::experiment::assign::Holdout;
use custinsight::lifecycle::stage::Play;
use custinsight::records::Channel;
use custinsight::target::nba::{Action, CustomerInputs, NbaParams, UpliftSource, decide, measure};

fn actions() -> Vec<Action> {
    vec![
        Action {
            name: "win-back coupon".into(),
            channel: Channel::Email,
            cost_per_contact: 2.0,
            value_per_outcome: 60.0,
            plays: vec![Play::WinBack, Play::Reactivate],
        },
        Action {
            name: "cross-sell mail".into(),
            channel: Channel::Email,
            cost_per_contact: 0.5,
            value_per_outcome: 30.0,
            plays: vec![Play::Develop],
        },
        Action {
            name: "app push".into(),
            channel: Channel::App,
            cost_per_contact: 0.1,
            value_per_outcome: 30.0,
            plays: vec![],
        },
    ]
}

fn params(holdout: f64) -> NbaParams {
    NbaParams {
        actions: actions(),
        contact_cap: 3,
        holdout: Holdout {
            key: "nba-2026-12".into(),
            share: holdout,
        },
    }
}

fn customer(id: &str, play: Play, uplift: [f64; 3], consented: &[Channel]) -> CustomerInputs {
    CustomerInputs {
        customer_id: id.into(),
        play: Some(play),
        uplift: uplift.to_vec(),
        uplift_source: UpliftSource::Model,
        preferred_channel: Some(Channel::Email),
        consented: consented.to_vec(),
        recent_contacts: 0,
    }
}

#[test]
fn the_most_profitable_consented_action_of_the_play_wins_with_its_reason() {
    let both = [Channel::Email, Channel::App];
    let mut capped = customer("d", Play::WinBack, [0.10, 0.0, 0.01], &both);
    capped.recent_contacts = 3;
    let inputs = vec![
        // Win-back: 0.10 × 60 − 2 = 4.0 beats the push's 0.01 × 30 − 0.1 = 0.2.
        customer("a", Play::Reactivate, [0.10, 0.9, 0.01], &both),
        // Develop: the coupon does not serve the play; cross-sell 0.05 × 30 − 0.5 = 1.0.
        customer("b", Play::Develop, [0.05, 0.05, 0.01], &both),
        // No e-mail consent: only the push is left, and it pays 0.04 × 30 − 0.1 = 1.1.
        customer("c", Play::WinBack, [0.10, 0.0, 0.04], &[Channel::App]),
        capped,
        // Nothing pays: 0.02 × 60 − 2 < 0 and 0.001 × 30 − 0.1 < 0.
        customer("e", Play::WinBack, [0.02, 0.0, 0.001], &both),
    ];
    let d = decide(&inputs, &params(0.0)).unwrap();
    let chosen: Vec<Option<usize>> = d.iter().map(|x| x.action).collect();
    assert_eq!(chosen, [Some(0), Some(1), Some(2), None, None]);
    assert_abs_diff_eq!(d[0].expected_profit, 4.0, epsilon = 1e-12);
    assert_abs_diff_eq!(d[1].expected_profit, 1.0, epsilon = 1e-12);
    assert_eq!(
        d[0].reason,
        "reactivate; high uplift for the win-back coupon (+10.0 pts), expected profit 4.00; prefers email, consented"
    );
    assert!(
        d[2].reason.contains("app push") && d[2].reason.contains("on app, consented"),
        "{}",
        d[2].reason
    );
    assert!(
        d[3].reason.contains("contacted 3 times, cap 3"),
        "{}",
        d[3].reason
    );
    assert!(d[4].reason.contains("not profitable"), "{}", d[4].reason);
    // c's coupon was considered and blocked for consent.
    let coupon = d[2].candidates.iter().find(|k| k.action == 0).unwrap();
    assert_eq!(
        coupon.blocked.as_deref(),
        Some("no marketing consent on email")
    );
    // b was never offered the coupon: it does not serve the develop play.
    assert!(d[1].candidates.iter().all(|k| k.action != 0));
}

#[test]
fn the_holdout_is_a_stable_random_share() {
    let both = [Channel::Email, Channel::App];
    let inputs: Vec<CustomerInputs> = (0..10_000)
        .map(|i| customer(&format!("c{i}"), Play::WinBack, [0.1, 0.0, 0.0], &both))
        .collect();
    let d = decide(&inputs, &params(0.1)).unwrap();
    let held = d.iter().filter(|x| x.held_out).count();
    assert!((900..1100).contains(&held), "{held} held out of 10,000");
    assert!(d.iter().all(|x| x.intended == Some(0)));
    assert!(d.iter().all(|x| x.held_out == x.action.is_none()));
    assert!(
        d.iter()
            .filter(|x| x.held_out)
            .all(|x| x.reason.ends_with("held out to measure the decisions"))
    );
    // The same ids are held out on every run.
    let again = decide(&inputs, &params(0.1)).unwrap();
    assert_eq!(d, again);
}

#[test]
fn the_next_round_measures_what_the_decisions_earned() {
    // Outcomes: a 20 % base rate, +10 points for those who got the coupon.
    let both = [Channel::Email, Channel::App];
    let inputs: Vec<CustomerInputs> = (0..20_000)
        .map(|i| customer(&format!("u{i}"), Play::WinBack, [0.1, 0.0, 0.0], &both))
        .collect();
    let p = params(0.2);
    let d = decide(&inputs, &p).unwrap();
    let mut state = 5u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / 9007199254740992.0
    };
    let outcomes: Vec<f64> = d
        .iter()
        .map(|x| {
            let rate = if x.action.is_some() { 0.3 } else { 0.2 };
            f64::from(u8::from(next() < rate))
        })
        .collect();
    let v = measure(&d, &outcomes, 0, &p, 0.95).unwrap();
    assert_eq!(v.targeted, 20_000);
    // Incremental conversions ≈ 0.1 × 20,000 = 2,000, inside the interval;
    // profit ≈ 2,000 × 60 − 2 × 20,000 = 80,000.
    assert!(
        v.incremental_interval.0 < 2000.0 && 2000.0 < v.incremental_interval.1,
        "{v:?}"
    );
    assert!(v.profit_interval.0 > 0.0, "{v:?}");
    assert!(matches!(
        measure(&d, &outcomes[..10], 0, &p, 0.95),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn bad_settings_are_refused() {
    let mut p = params(0.1);
    p.actions[1].name = "win-back coupon".into();
    assert!(matches!(p.check(), Err(Error::Duplicate { .. })));
    let mut p = params(1.0);
    assert!(matches!(
        p.check(),
        Err(Error::InvalidParameter {
            name: "holdout.share",
            ..
        })
    ));
    p.holdout.share = 0.1;
    p.actions[0].cost_per_contact = -1.0;
    assert!(matches!(p.check(), Err(Error::InvalidParameter { .. })));
    let inputs = vec![CustomerInputs {
        uplift: vec![0.1],
        ..customer("x", Play::Develop, [0.0; 3], &[])
    }];
    assert!(matches!(
        decide(&inputs, &params(0.0)),
        Err(Error::LengthMismatch { .. })
    ));
}
