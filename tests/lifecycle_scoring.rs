//! Scoring a whole customer base equals scoring each customer on their own.
//!
//! `score` and `score_into` evaluate each distinct history once and copy the
//! result to every customer that has it; these tests check that no customer
//! gets another's value, across chunk and shard boundaries, for every model.

use custinsight::Error;
use custinsight::lifecycle::btyd::{BgNbdParams, MbgNbdParams, ParetoNbdParams, Scores};
use custinsight::lifecycle::summary::Summary;

mod common;

use common::{Process, day_rounded_summary, simulate};

/// CDNOW-like BG/NBD customers, times in whole days: many share a history.
fn summary(n: usize) -> Summary {
    let process = Process::BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    day_rounded_summary(&simulate(process, n, 27.0, 39.0, 5))
}

fn check_rows(name: &str, s: &Summary, scores: &Scores, one: impl Fn(f64, f64, f64) -> (f64, f64)) {
    assert_eq!(scores.p_alive.len(), s.len());
    assert_eq!(scores.expected_purchases.len(), s.len());
    for i in 0..s.len() {
        let (p, e) = one(s.frequency[i], s.recency[i], s.age[i]);
        assert_eq!(
            (scores.p_alive[i], scores.expected_purchases[i]),
            (p, e),
            "{name}: customer {i} ({}, {}, {})",
            s.frequency[i],
            s.recency[i],
            s.age[i]
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
                &s.frequency[start..end],
                &s.recency[start..end],
                &s.age[start..end],
                4.0,
                &mut p[start..end],
                &mut e[start..end],
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
    let (mut p, mut e) = (vec![0.0; 3], vec![0.0; 2]);
    let err = model
        .score_into(&[1.0; 3], &[1.0; 3], &[2.0; 3], 1.0, &mut p, &mut e)
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput(ref m) if m.contains("different lengths")),
        "{err}"
    );
    let mut e = vec![0.0; 3];
    let err = model
        .score_into(&[1.0; 3], &[1.0; 2], &[2.0; 3], 1.0, &mut p, &mut e)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
    // Empty columns are fine.
    model
        .score_into(&[], &[], &[], 1.0, &mut [], &mut [])
        .unwrap();
}

#[test]
fn impossible_histories_score_nan_and_do_not_disturb_the_others() {
    let s = summary(2_000);
    let model = ParetoNbdParams::default().fit(&s.triples()).unwrap();
    let x = [2.0, f64::NAN, 2.0, -1.0, 2.0];
    let t_x = [3.0, 3.0, 9.0, 0.0, 3.0];
    let t_cal = [5.0, 5.0, 5.0, 5.0, 5.0];
    let (mut p, mut e) = (vec![0.0; 5], vec![0.0; 5]);
    model
        .score_into(&x, &t_x, &t_cal, 10.0, &mut p, &mut e)
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
