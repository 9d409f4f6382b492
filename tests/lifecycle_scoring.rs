//! Scoring a whole customer base equals scoring each customer on their own.
//!
//! `score` and `score_into` evaluate each distinct history once and copy the
//! result to every customer that has it; these tests check that no customer
//! gets another's value, across chunk and shard boundaries, for every model.

use custinsight::Error;
use custinsight::lifecycle::bgnbd::BgNbdParams;
use custinsight::lifecycle::btyd::{BtydModel, Scores};
use custinsight::lifecycle::gamma_gamma::{ClvParams, GammaGammaParams};
use custinsight::lifecycle::mbgnbd::MbgNbdParams;
use custinsight::lifecycle::paretonbd::ParetoNbdParams;
use custinsight::lifecycle::summary::{Histories, Summary};

mod common;

use common::{Process, day_rounded_summary, simulate};

/// CDNOW-like BG/NBD customers, times in whole days: many share a history.
/// Repeat buyers spend a whole amount around 35 on average.
fn summary(n: usize) -> Summary {
    let process = Process::BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let mut s = day_rounded_summary(&simulate(process, n, 27.0, 39.0, 5));
    for i in 0..n {
        if s.x[i] > 0.0 {
            s.monetary_value[i] = 20.0 + ((i * 7919) % 31) as f64;
        }
    }
    s
}

fn check_rows(name: &str, s: &Summary, scores: &Scores, one: impl Fn(f64, f64, f64) -> (f64, f64)) {
    assert_eq!(scores.p_alive.len(), s.len());
    assert_eq!(scores.expected_purchases.len(), s.len());
    for i in 0..s.len() {
        let (p, e) = one(s.x[i], s.t_x[i], s.t_cal[i]);
        assert_eq!(
            (scores.p_alive[i], scores.expected_purchases[i]),
            (p, e),
            "{name}: customer {i} ({}, {}, {})",
            s.x[i],
            s.t_x[i],
            s.t_cal[i]
        );
        assert!((0.0..=1.0).contains(&p) && e >= 0.0 && e.is_finite());
    }
}

#[test]
fn every_model_scores_each_customer_as_on_their_own() {
    let s = summary(200_000);
    let data = s.triples();
    let horizon = 10.0;

    let bg = BgNbdParams::default().fit(&data).unwrap();
    check_rows("BG/NBD", &s, &bg.score(&s, horizon), |x, t_x, t| {
        (
            bg.p_alive(x, t_x, t),
            bg.expected_purchases(horizon, x, t_x, t),
        )
    });
    let mbg = MbgNbdParams::default().fit(&data).unwrap();
    check_rows("MBG/NBD", &s, &mbg.score(&s, horizon), |x, t_x, t| {
        (
            mbg.p_alive(x, t_x, t),
            mbg.expected_purchases(horizon, x, t_x, t),
        )
    });
    let pareto = ParetoNbdParams::default().fit(&data).unwrap();
    check_rows("Pareto/NBD", &s, &pareto.score(&s, horizon), |x, t_x, t| {
        (
            pareto.p_alive(x, t_x, t),
            pareto.expected_purchases(horizon, x, t_x, t),
        )
    });
}

/// Customer value of every customer equals the one-customer computation
/// (`GammaGammaModel::clv` over the model's expected cumulative purchases),
/// which is pinned against lifetimes' `customer_lifetime_value` elsewhere.
#[test]
fn every_model_values_each_customer_as_on_their_own() {
    let s = summary(120_000);
    let data = s.triples();
    let spend = GammaGammaParams::default().fit(&s).unwrap();
    // Twelve 30-day months in weekly periods, 1 % a month, 30 % margin.
    let clv = ClvParams {
        horizon: 12.0 * 30.0 / 7.0,
        step: 30.0 / 7.0,
        discount_rate: 0.01,
        margin: 0.3,
    };
    macro_rules! check {
        ($name:literal, $model:expr) => {{
            let m = $model;
            let scores = m.score_with_clv(&s, 10.0, &spend, &clv).unwrap();
            let plain = m.score(&s, 10.0);
            assert_eq!(scores.p_alive, plain.p_alive, $name);
            assert_eq!(scores.expected_purchases, plain.expected_purchases, $name);
            let value = scores.clv.unwrap();
            for i in 0..s.len() {
                let (x, t_x, t) = (s.x[i], s.t_x[i], s.t_cal[i]);
                let one = spend.clv(
                    |h| m.expected_purchases(h, x, t_x, t),
                    x,
                    s.monetary_value[i],
                    &clv,
                );
                assert!(
                    (value[i] - one).abs() <= 1e-12 * one.abs().max(1e-300) + 1e-14,
                    "{}: customer {i}: {} vs {one}",
                    $name,
                    value[i]
                );
                assert!(value[i].is_finite() && value[i] >= 0.0);
            }
        }};
    }
    check!("BG/NBD", BgNbdParams::default().fit(&data).unwrap());
    check!("MBG/NBD", MbgNbdParams::default().fit(&data).unwrap());
    check!("Pareto/NBD", ParetoNbdParams::default().fit(&data).unwrap());
}

#[test]
fn scoring_in_chunks_equals_scoring_at_once() {
    let s = summary(150_000);
    let model = BgNbdParams::default().fit(&s.triples()).unwrap();
    let whole = model.score(&s, 4.0);
    let (mut p, mut e) = (vec![f64::NAN; s.len()], vec![f64::NAN; s.len()]);
    let step = 7_919;
    for start in (0..s.len()).step_by(step) {
        let end = (start + step).min(s.len());
        model
            .score_into(
                &s.histories().slice(start..end),
                4.0,
                [&mut p[start..end], &mut e[start..end]],
            )
            .unwrap();
    }
    assert_eq!(p, whole.p_alive);
    assert_eq!(e, whole.expected_purchases);
}

#[test]
fn columns_of_different_lengths_are_an_error_not_a_panic() {
    let s = summary(1_000);
    let model = ParetoNbdParams::default().fit(&s.triples()).unwrap();
    let columns = |recency: &'static [f64]| Histories {
        x: &[1.0; 3],
        t_x: recency,
        t_cal: &[2.0; 3],
        monetary_value: None,
    };
    let (mut p, mut e) = (vec![0.0; 3], vec![0.0; 2]);
    let err = model
        .score_into(&columns(&[1.0; 3]), 1.0, [&mut p, &mut e])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::LengthMismatch {
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
    let mut e = vec![0.0; 3];
    let err = model
        .score_into(&columns(&[1.0; 2]), 1.0, [&mut p, &mut e])
        .unwrap_err();
    assert!(
        matches!(err, Error::LengthMismatch { ref what, expected: 3, found: 2 } if what.contains("recency")),
        "{err}"
    );
    // Customer value needs the monetary column and valid settings.
    let spend = GammaGammaParams::default().fit(&s).unwrap();
    let mut v = vec![0.0; 3];
    let err = model
        .score_with_clv_into(
            &columns(&[1.0; 3]),
            1.0,
            &spend,
            &ClvParams::default(),
            [&mut p, &mut e, &mut v],
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::MissingColumns { ref columns, .. } if columns == &["monetary_value"]),
        "{err}"
    );
    let bad = ClvParams {
        step: 0.0,
        ..ClvParams::default()
    };
    let err = model.score_with_clv(&s, 1.0, &spend, &bad).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    // Empty columns are fine.
    let empty = Histories {
        x: &[],
        t_x: &[],
        t_cal: &[],
        monetary_value: None,
    };
    model.score_into(&empty, 1.0, [&mut [], &mut []]).unwrap();
}

#[test]
fn impossible_histories_score_nan_and_do_not_disturb_the_others() {
    let s = summary(2_000);
    let model = ParetoNbdParams::default().fit(&s.triples()).unwrap();
    let x = [2.0, f64::NAN, 2.0, -1.0, 2.0];
    let t_x = [3.0, 3.0, 9.0, 0.0, 3.0];
    let t_cal = [5.0, 5.0, 5.0, 5.0, 5.0];
    let (mut p, mut e) = (vec![0.0; 5], vec![0.0; 5]);
    let customers = Histories {
        x: &x,
        t_x: &t_x,
        t_cal: &t_cal,
        monetary_value: None,
    };
    model
        .score_into(&customers, 10.0, [&mut p, &mut e])
        .unwrap();
    let ok = (
        model.p_alive(2.0, 3.0, 5.0),
        model.expected_purchases(10.0, 2.0, 3.0, 5.0),
    );
    for i in [0, 4] {
        assert_eq!((p[i], e[i]), ok);
    }
    for i in [1, 2, 3] {
        assert!(p[i].is_nan() && e[i].is_nan(), "row {i}: {} {}", p[i], e[i]);
    }
}
