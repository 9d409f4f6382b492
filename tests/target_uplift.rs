//! Uplift against scikit-uplift and causalml on the same data, and against
//! the truth the data were drawn from.
//!
//! The experiment comes from a 64-bit LCG that Python reproduces exactly:
//! five features, a fair coin for treatment, a baseline log-odds and an
//! effect on the log-odds that depends on three features (so it is
//! learnable), and each unit's true uplift p₁ − p₀. Reference values were
//! printed by `ref_uplift.py` (kept outside the repository) with
//! scikit-uplift 0.5.1 (`qini_auc_score`, `uplift_auc_score`, `uplift_at_k`,
//! `qini_curve`, `uplift_curve`) and causalml 0.18.0 (`BaseTClassifier`,
//! `BaseXClassifier` and `BaseDRLearner` on LightGBM 4.7.0 with 100 trees of
//! depth 6, 64 leaves and learning rate 0.1; X and DR given the known
//! treatment share as propensity).

use approx::assert_abs_diff_eq;
use custinsight::Error;
use custinsight::target::uplift::metrics::{
    NegativeEffects, TopK, auuc, qini_coefficient, qini_curve, uplift_at_k, uplift_curve,
};
use custinsight::target::uplift::policy::{Economics, evaluate_policy, treat_when_profitable};
use custinsight::target::uplift::{Experiment, MetaLearner, UpliftModel, UpliftParams};
use ndarray::Array2;

mod lcg;

use lcg::Lcg;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Features, arm (0/1), outcome and true uplift of `n` units.
struct Units {
    x: Array2<f64>,
    arm: Vec<usize>,
    y: Vec<f64>,
    tau: Vec<f64>,
}

fn units(n: usize, seed: u64) -> Units {
    let mut g = Lcg(seed);
    let mut x = Array2::zeros((n, 5));
    let (mut arm, mut y, mut tau) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let u: Vec<f64> = (0..5).map(|_| g.next()).collect();
        let f = [
            u[0] * 4.0 - 2.0,
            u[1] * 4.0 - 2.0,
            u[2],
            u[3],
            (u[4] * 4.0).floor(),
        ];
        let base = -1.0 + 0.5 * f[0] - 0.3 * f[1] + 0.2 * f[4];
        let lift = if f[2] > 0.5 { 1.2 } else { -0.4 } - 0.8 * f[3] + 0.3 * f[0];
        let (p0, p1) = (sigmoid(base), sigmoid(base + lift));
        let treated = g.next() < 0.5;
        let converted = g.next() < if treated { p1 } else { p0 };
        for (j, v) in f.into_iter().enumerate() {
            x[[i, j]] = v;
        }
        arm.push(usize::from(treated));
        y.push(f64::from(u8::from(converted)));
        tau.push(p1 - p0);
    }
    Units { x, arm, y, tau }
}

fn names() -> Vec<String> {
    (0..5).map(|j| format!("x{j}")).collect()
}

fn treated(u: &Units) -> Vec<bool> {
    u.arm.iter().map(|&a| a == 1).collect()
}

#[test]
fn the_data_are_pythons() {
    let (train, valid) = (units(20_000, 3), units(10_000, 4));
    let count = |v: &[usize]| v.iter().filter(|&&a| a == 1).count();
    assert_eq!(count(&train.arm), 9943);
    assert_eq!(train.y.iter().sum::<f64>(), 7278.0);
    assert_eq!(count(&valid.arm), 4851);
    assert_eq!(valid.y.iter().sum::<f64>(), 3643.0);
}

/// A score with many ties, from the LCG.
fn tie_score(n: usize) -> Vec<f64> {
    let mut g = Lcg(9);
    (0..n)
        .map(|_| (10.0 * g.next()).floor() - (5.0 * g.next()).floor())
        .collect()
}

#[test]
fn metrics_match_scikit_uplift() {
    let v = units(10_000, 4);
    let t = treated(&v);
    let s = tie_score(10_000);
    let qini = qini_coefficient(&v.y, &s, &t, NegativeEffects::Allowed).unwrap();
    assert_abs_diff_eq!(qini, 0.0078057329922683145, epsilon = 1e-12);
    let qini_no_negative = qini_coefficient(&v.y, &s, &t, NegativeEffects::Excluded).unwrap();
    assert_abs_diff_eq!(qini_no_negative, 0.20354188185684707, epsilon = 1e-12);
    assert_abs_diff_eq!(
        auuc(&v.y, &s, &t).unwrap(),
        0.008160985896548113,
        epsilon = 1e-12
    );
    assert_abs_diff_eq!(
        uplift_at_k(&v.y, &s, &t, 0.3, TopK::Overall).unwrap(),
        0.016029502610431345,
        epsilon = 1e-12
    );
    assert_abs_diff_eq!(
        uplift_at_k(&v.y, &s, &t, 0.3, TopK::ByGroup).unwrap(),
        0.01738822712461946,
        epsilon = 1e-12
    );
    let q = qini_curve(&v.y, &s, &t).unwrap();
    assert_eq!(q.targeted.len(), 15);
    assert_eq!(&q.targeted[..4], &[0.0, 189.0, 559.0, 1185.0]);
    for (got, e) in
        q.value[..4]
            .iter()
            .zip([0.0, 2.336842105263159, 7.631205673758856, 6.311881188118832])
    {
        assert_abs_diff_eq!(*got, e, epsilon = 1e-9);
    }
    let u = uplift_curve(&v.y, &s, &t).unwrap();
    assert_eq!(
        (u.targeted[1], *u.targeted.last().unwrap()),
        (189.0, 10_000.0)
    );
    assert_abs_diff_eq!(u.value[1], 4.698544232922738, epsilon = 1e-9);
    assert_abs_diff_eq!(*u.value.last().unwrap(), 231.32822872023283, epsilon = 1e-9);
    // The true uplift ranks best: the oracle's scores.
    assert_abs_diff_eq!(
        qini_coefficient(&v.y, &v.tau, &t, NegativeEffects::Allowed).unwrap(),
        0.16118952257298896,
        epsilon = 1e-9
    );
    assert_abs_diff_eq!(
        auuc(&v.y, &v.tau, &t).unwrap(),
        0.17249006306995973,
        epsilon = 1e-9
    );
}

#[test]
fn learners_reach_causalml_and_most_of_the_oracle() {
    let (train, valid) = (units(20_000, 3), units(10_000, 4));
    let t = treated(&valid);
    let oracle = 0.16118952257298896;
    for (learner, causalml) in [
        (MetaLearner::T, 0.140950616277016),
        (MetaLearner::X, 0.14644836106232598),
        (MetaLearner::Dr, 0.14068883802206703),
    ] {
        // causalml's settings: LightGBM with 100 trees of depth 6.
        let params = UpliftParams {
            learner,
            base: custinsight::target::boost::BoostParams::default(),
            ..UpliftParams::default()
        };
        let data = Experiment {
            x: train.x.view(),
            arm: &train.arm,
            outcome: &train.y,
            feature_names: &names(),
        };
        let model = UpliftModel::fit(&params, &data).unwrap();
        let uplift = model.predict(valid.x.view()).unwrap().column(0).to_vec();
        let qini = qini_coefficient(&valid.y, &uplift, &t, NegativeEffects::Allowed).unwrap();
        eprintln!("{learner:?}: Qini {qini:.4} (causalml {causalml:.4}, oracle {oracle:.4})");
        assert!(
            qini >= 0.95 * causalml,
            "{learner:?}: Qini {qini} against causalml's {causalml}"
        );
        assert!(
            qini >= 0.8 * oracle,
            "{learner:?}: Qini {qini} against the oracle's {oracle}"
        );
    }
}

#[test]
fn several_treatments_and_numeric_outcomes() {
    // Arm 2 has twice arm 1's effect on revenue; control gets none.
    let mut g = Lcg(77);
    let n = 6_000;
    let mut x = Array2::zeros((n, 2));
    let (mut arm, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (a, b) = (g.next(), g.next());
        x[[i, 0]] = a;
        x[[i, 1]] = b;
        let k = i % 3;
        let effect = if a > 0.5 { 10.0 } else { 0.0 } * k as f64;
        arm.push(k);
        y.push(20.0 + 5.0 * b + effect + 4.0 * (g.next() - 0.5));
    }
    let names = vec!["a".to_string(), "b".to_string()];
    let params = UpliftParams {
        learner: MetaLearner::T,
        outcome: custinsight::target::uplift::OutcomeKind::Continuous,
        ..UpliftParams::default()
    };
    let data = Experiment {
        x: x.view(),
        arm: &arm,
        outcome: &y,
        feature_names: &names,
    };
    let model = UpliftModel::fit(&params, &data).unwrap();
    assert_eq!(model.n_treatments(), 2);
    let probe = ndarray::array![[0.9, 0.5], [0.1, 0.5]];
    let u = model.predict(probe.view()).unwrap();
    assert!(
        (u[[0, 0]] - 10.0).abs() < 1.5 && (u[[0, 1]] - 20.0).abs() < 1.5,
        "{u:?}"
    );
    assert!(u[[1, 0]].abs() < 1.5 && u[[1, 1]].abs() < 1.5, "{u:?}");
}

#[test]
fn the_profitable_policy_beats_treating_everyone() {
    let (train, valid) = (units(20_000, 3), units(10_000, 4));
    let data = Experiment {
        x: train.x.view(),
        arm: &train.arm,
        outcome: &train.y,
        feature_names: &names(),
    };
    let model = UpliftModel::fit(&UpliftParams::default(), &data).unwrap();
    let uplift = model.predict(valid.x.view()).unwrap().column(0).to_vec();
    let economics = Economics {
        value_per_outcome: 50.0,
        cost_per_contact: 4.0,
    };
    let t = treated(&valid);
    let target = treat_when_profitable(&uplift, &economics).unwrap();
    let everyone = vec![true; target.len()];
    let policy = evaluate_policy(&target, &valid.y, &t, &economics, 0.95).unwrap();
    let all = evaluate_policy(&everyone, &valid.y, &t, &economics, 0.95).unwrap();
    assert!(policy.targeted < all.targeted);
    assert!(
        policy.profit > all.profit,
        "policy {} against treating everyone {}",
        policy.profit,
        all.profit
    );
    // The true uplift's own policy is the best one can do on these rows (up to noise).
    let oracle_target = treat_when_profitable(&valid.tau, &economics).unwrap();
    let oracle = evaluate_policy(&oracle_target, &valid.y, &t, &economics, 0.95).unwrap();
    assert!(oracle.profit_interval.1 > policy.profit);
}

#[test]
fn policy_value_by_hand() {
    // Treated outcomes 1,0,1,1 and control 0,0,1,0: means 0.75 and 0.25, both
    // variances 0.25, SE √(0.25/4 + 0.25/4) = 0.353553; 8 units selected.
    let outcome = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
    let treated = [true, true, true, true, false, false, false, false, true];
    let target = [true, true, true, true, true, true, true, true, false];
    let economics = Economics {
        value_per_outcome: 10.0,
        cost_per_contact: 1.0,
    };
    let v = evaluate_policy(&target, &outcome, &treated, &economics, 0.95).unwrap();
    assert_eq!((v.targeted, v.treated, v.control), (8, 4, 4));
    assert_abs_diff_eq!(v.effect_per_unit, 0.5, epsilon = 1e-12);
    assert_abs_diff_eq!(v.incremental_outcome, 4.0, epsilon = 1e-12);
    let half = 1.959963984540054 * 0.125f64.sqrt() * 8.0;
    assert_abs_diff_eq!(v.incremental_interval.0, 4.0 - half, epsilon = 1e-9);
    assert_abs_diff_eq!(v.profit, 40.0 - 8.0, epsilon = 1e-12);
    assert_abs_diff_eq!(
        v.profit_interval.1,
        (4.0 + half) * 10.0 - 8.0,
        epsilon = 1e-9
    );
}

#[test]
fn bad_input_gets_typed_errors() {
    let u = units(500, 5);
    let none_treated = vec![0usize; 500];
    let data = Experiment {
        x: u.x.view(),
        arm: &none_treated,
        outcome: &u.y,
        feature_names: &names(),
    };
    assert!(matches!(
        UpliftModel::fit(&UpliftParams::default(), &data),
        Err(Error::TooFew { .. })
    ));
    let mut y = u.y.clone();
    y[3] = 0.5;
    let data = Experiment {
        x: u.x.view(),
        arm: &u.arm,
        outcome: &y,
        feature_names: &names(),
    };
    assert!(matches!(
        UpliftModel::fit(&UpliftParams::default(), &data),
        Err(Error::InvalidRow { row: 3, .. })
    ));
    let t = treated(&u);
    assert!(matches!(
        qini_coefficient(&u.y, &vec![0.1; 499], &t, NegativeEffects::Allowed),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        uplift_at_k(&u.y, &u.tau, &t, 1.5, TopK::Overall),
        Err(Error::InvalidParameter { name: "share", .. })
    ));
    assert!(matches!(
        qini_coefficient(&u.y, &u.tau, &vec![true; 500], NegativeEffects::Allowed),
        Err(Error::TooFew { .. })
    ));
}

#[test]
fn a_random_score_has_a_qini_of_about_zero() {
    // Forty experiments with a real effect, each ranked by a random score:
    // the Qini coefficient scatters around 0, and the true uplift is far above.
    let mut g = Lcg(2026);
    let mut random_scores = Vec::new();
    for k in 0..40 {
        let v = units(4_000, 1_000 + k);
        let t = treated(&v);
        let s: Vec<f64> = (0..4_000).map(|_| g.next()).collect();
        random_scores.push(qini_coefficient(&v.y, &s, &t, NegativeEffects::Allowed).unwrap());
        if k == 0 {
            let oracle = qini_coefficient(&v.y, &v.tau, &t, NegativeEffects::Allowed).unwrap();
            assert!(oracle > 0.1, "oracle Qini {oracle}");
        }
    }
    let mean = random_scores.iter().sum::<f64>() / 40.0;
    let sd = (random_scores
        .iter()
        .map(|q| (q - mean).powi(2))
        .sum::<f64>()
        / 39.0)
        .sqrt();
    eprintln!("random-score Qini: mean {mean:.4}, sd {sd:.4}");
    // The mean of 40 is within three standard errors of zero.
    assert!(mean.abs() < 3.0 * sd / 40f64.sqrt(), "mean {mean}, sd {sd}");
    assert!(sd < 0.05, "sd {sd}");
}
