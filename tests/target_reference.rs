//! The target module against scikit-learn on the same data.
//!
//! The data come from a 64-bit LCG that Python reproduces exactly; the
//! reference values were printed by `ref.py` (kept outside the repository)
//! with scikit-learn 1.9.1, numpy 2.4.6 and scipy 1.17.1:
//! `roc_auc_score`, `average_precision_score`, `log_loss`, `brier_score_loss`,
//! `calibration_curve(n_bins=10, strategy="uniform")`,
//! `IsotonicRegression(out_of_bounds="clip")`, `calibration._sigmoid_calibration` (and Newton's method in numpy for the exact optimum),
//! and `StandardScaler` + `LogisticRegression(C, tol=1e-12, max_iter=100000)`.

use approx::assert_abs_diff_eq;
use custinsight::Error;
use custinsight::target::calibrate::{CalibrationMethod, Calibrator};
use custinsight::target::logistic::{FeatureScaling, LogisticModel, LogisticParams};
use custinsight::target::metrics::{
    average_precision, brier_score, evaluate_probabilities, expected_calibration_error, gain_table,
    log_loss, precision_at_k, reliability, roc_auc,
};
use ndarray::Array2;

mod lcg;

use lcg::Lcg;

/// 500 customers: three features and a label drawn from a known logistic model.
fn data() -> (Array2<f64>, Vec<bool>) {
    let mut g = Lcg(7);
    let mut x = Array2::zeros((500, 3));
    let mut y = Vec::with_capacity(500);
    for i in 0..500 {
        let (u1, u2, u3, u4) = (g.next(), g.next(), g.next(), g.next());
        let (x1, x2, x3) = (u1 * 10.0, (u2 - 0.5) * 3.0, (u3 * 5.0).floor());
        let eta: f64 = -1.0 + 0.3 * x1 - 0.8 * x2 + 0.2 * x3;
        x[[i, 0]] = x1;
        x[[i, 1]] = x2;
        x[[i, 2]] = x3;
        y.push(u4 < 1.0 / (1.0 + (-eta).exp()));
    }
    (x, y)
}

/// A miscalibrated score with many ties: σ(η/2 + 1/2) floored to two decimals.
fn scores(x: &Array2<f64>) -> Vec<f64> {
    x.rows()
        .into_iter()
        .map(|r| {
            let eta = -1.0 + 0.3 * r[0] - 0.8 * r[1] + 0.2 * r[2];
            (100.0 / (1.0 + (-(0.5 * eta + 0.5)).exp())).floor() / 100.0
        })
        .collect()
}

#[test]
fn the_data_are_pythons() {
    let (x, y) = data();
    let s = scores(&x);
    assert_eq!(y.iter().filter(|&&v| v).count(), 334);
    assert_eq!(&s[..5], &[0.64, 0.73, 0.8, 0.55, 0.85]);
    assert_eq!(&y[..5], &[true, true, true, true, false]);
}

#[test]
fn ranking_and_probability_measures_match_scikit_learn() {
    let (x, y) = data();
    let s = scores(&x);
    assert_abs_diff_eq!(
        roc_auc(&s, &y).unwrap(),
        0.7219807373205396,
        epsilon = 1e-12
    );
    assert_abs_diff_eq!(
        average_precision(&s, &y).unwrap(),
        0.8125421593127405,
        epsilon = 1e-12
    );
    assert_abs_diff_eq!(
        log_loss(&s, &y).unwrap(),
        0.5786009539893477,
        epsilon = 1e-12
    );
    assert_abs_diff_eq!(brier_score(&s, &y).unwrap(), 0.197119, epsilon = 1e-12);
}

#[test]
fn reliability_bins_and_ece_match_calibration_curve() {
    let (x, y) = data();
    let s = scores(&x);
    let table = reliability(&s, &y, 10).unwrap();
    let counts: Vec<usize> = table.iter().map(|b| b.rows).collect();
    assert_eq!(counts, [0, 0, 0, 3, 18, 76, 136, 167, 98, 2]);
    let filled: Vec<_> = table.iter().filter(|b| b.rows > 0).collect();
    let observed = [
        0.0,
        0.2777777777777778,
        0.4473684210526316,
        0.5514705882352942,
        0.8023952095808383,
        0.8673469387755102,
        0.5,
    ];
    let predicted = [
        0.3866666666666667,
        0.4627777777777778,
        0.5581578947368421,
        0.6611029411764707,
        0.7534131736526944,
        0.8441836734693876,
        0.91,
    ];
    for ((b, o), p) in filled.iter().zip(observed).zip(predicted) {
        assert_abs_diff_eq!(b.observed_rate, o, epsilon = 1e-12);
        assert_abs_diff_eq!(b.mean_predicted, p, epsilon = 1e-12);
    }
    assert_abs_diff_eq!(
        expected_calibration_error(&s, &y, 10).unwrap(),
        0.0781800000000001,
        epsilon = 1e-12
    );
}

#[test]
fn deciles_and_precision_at_k_match_a_stable_sort() {
    let (x, y) = data();
    let s = scores(&x);
    let table = gain_table(&s, &y, 10).unwrap();
    let positives: Vec<usize> = table.iter().map(|g| g.positives).collect();
    assert_eq!(positives, [42, 44, 43, 41, 36, 30, 30, 27, 25, 16]);
    assert!(table.iter().all(|g| g.rows == 50));
    assert_abs_diff_eq!(
        table[2].cumulative_gain,
        0.38622754491017963,
        epsilon = 1e-12
    );
    assert_abs_diff_eq!(table[9].cumulative_gain, 1.0, epsilon = 1e-12);
    // Lift of the top decile: 42/50 over 334/500.
    assert_abs_diff_eq!(
        table[0].lift,
        (42.0 / 50.0) / (334.0 / 500.0),
        epsilon = 1e-12
    );
    assert_abs_diff_eq!(table[9].cumulative_lift, 1.0, epsilon = 1e-12);
    assert_abs_diff_eq!(precision_at_k(&s, &y, 50).unwrap(), 0.84, epsilon = 1e-12);
}

#[test]
fn isotonic_calibration_matches_isotonic_regression() {
    let (x, y) = data();
    let s = scores(&x);
    let cal = Calibrator::fit(CalibrationMethod::Isotonic, &s, &y).unwrap();
    let probe = [-1.0, 0.0, 0.2, 0.333, 0.5, 0.555, 0.71, 0.9, 2.0];
    let expected = [
        0.0,
        0.0,
        0.0,
        0.0,
        0.4,
        0.41509433962264153,
        0.7323943661971831,
        0.90625,
        0.90625,
    ];
    for (p, e) in probe.iter().zip(expected) {
        assert_abs_diff_eq!(cal.calibrate(*p), e, epsilon = 1e-12);
    }
}

#[test]
fn platt_calibration_matches_sigmoid_calibration() {
    let (x, y) = data();
    let s = scores(&x);
    let Calibrator::Platt { a, b } = Calibrator::fit(CalibrationMethod::Platt, &s, &y).unwrap()
    else {
        panic!("a Platt calibrator");
    };
    // scikit-learn's L-BFGS stops at its gtol; the exact optimum (Newton's
    // method in numpy until the gradient is 1e-14) is -7.621420462552626, 4.575091604696152.
    assert_abs_diff_eq!(a, -7.621420462552626, epsilon = 1e-8);
    assert_abs_diff_eq!(b, 4.575091604696152, epsilon = 1e-8);
    assert_abs_diff_eq!(a, -7.621420523040024, epsilon = 1e-6);
    assert_abs_diff_eq!(b, 4.575091636284516, epsilon = 1e-6);
    // Scores beyond ±30 are rescaled first, as scikit-learn does.
    let large: Vec<f64> = s.iter().map(|v| v * 100.0 - 20.0).collect();
    let Calibrator::Platt { a, b } = Calibrator::fit(CalibrationMethod::Platt, &large, &y).unwrap()
    else {
        panic!("a Platt calibrator");
    };
    assert_abs_diff_eq!(a, -0.0762142046828258, epsilon = 1e-7);
    assert_abs_diff_eq!(b, 3.050807514857916, epsilon = 1e-6);
}

fn names() -> Vec<String> {
    ["x1", "x2", "x3"].map(String::from).to_vec()
}

#[test]
fn logistic_coefficients_match_scikit_learn() {
    let (x, y) = data();
    let cases = [
        (
            1.0,
            [0.6859322145731337, -0.48104796874935646, 0.1919306133165829],
            0.811730688579373,
        ),
        (
            1.0 / 0.05,
            [0.5549566614901337, -0.391644374659929, 0.15042782332011842],
            0.7749427880507935,
        ),
    ];
    for (alpha, coef, intercept) in cases {
        let params = LogisticParams {
            l2_penalty: alpha,
            ..LogisticParams::default()
        };
        let m = LogisticModel::fit(&params, x.view(), &y, &names()).unwrap();
        for (c, e) in m.coefficients().iter().zip(coef) {
            assert_abs_diff_eq!(*c, e, epsilon = 1e-6);
        }
        assert_abs_diff_eq!(m.intercept(), intercept, epsilon = 1e-6);
    }
    // Unscaled features, C = 1.
    let params = LogisticParams {
        scaling: FeatureScaling::None,
        ..LogisticParams::default()
    };
    let m = LogisticModel::fit(&params, x.view(), &y, &names()).unwrap();
    let expected = [0.24554551699407803, -0.562662252856484, 0.13901607972631103];
    for (c, e) in m.coefficients().iter().zip(expected) {
        assert_abs_diff_eq!(*c, e, epsilon = 1e-6);
    }
    assert_abs_diff_eq!(m.intercept(), -0.6982974986517102, epsilon = 1e-6);
}

#[test]
fn logistic_probabilities_and_per_unit_coefficients_agree() {
    let (x, y) = data();
    let params = LogisticParams {
        l2_penalty: 20.0,
        ..LogisticParams::default()
    };
    let m = LogisticModel::fit(&params, x.view(), &y, &names()).unwrap();
    let p = m.predict_proba(x.view()).unwrap();
    // StandardScaler + LogisticRegression(C=0.05).predict_proba of the first three rows.
    for (got, e) in p
        .iter()
        .zip([0.5854357563417508, 0.6917888328575821, 0.806559210238244])
    {
        assert_abs_diff_eq!(*got, e, epsilon = 1e-7);
    }
    // The same probabilities from the per-unit coefficients.
    let (per_unit, intercept) = m.coefficients_per_unit();
    for (row, &pi) in x.rows().into_iter().zip(&p).take(20) {
        let eta: f64 = intercept + row.iter().zip(&per_unit).map(|(v, b)| v * b).sum::<f64>();
        assert_abs_diff_eq!(1.0 / (1.0 + (-eta).exp()), pi, epsilon = 1e-12);
    }
    // The label order in the data does not flip the model.
    let mut flipped_x = x.clone();
    let mut flipped_y = y.clone();
    let first_negative = y.iter().position(|&v| !v).unwrap();
    flipped_y.swap(0, first_negative);
    for j in 0..3 {
        flipped_x.swap([0, j], [first_negative, j]);
    }
    let m2 = LogisticModel::fit(&params, flipped_x.view(), &flipped_y, &names()).unwrap();
    for (a, b) in m.coefficients().iter().zip(m2.coefficients()) {
        assert_abs_diff_eq!(*a, *b, epsilon = 1e-7);
    }
    // Serde round trip scores the same.
    let json = serde_json::to_string(&m).unwrap();
    let back: LogisticModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back.predict_proba(x.view()).unwrap(), p);
}

#[test]
fn the_evaluation_bundles_every_measure() {
    let (x, y) = data();
    let s = scores(&x);
    let e = evaluate_probabilities(&s, &y).unwrap();
    assert_eq!((e.rows, e.positives), (500, 334));
    assert_abs_diff_eq!(e.roc_auc, 0.7219807373205396, epsilon = 1e-12);
    assert_abs_diff_eq!(e.pr_auc, 0.8125421593127405, epsilon = 1e-12);
    assert_abs_diff_eq!(e.ece, 0.0781800000000001, epsilon = 1e-12);
    assert_eq!(e.deciles.len(), 10);
}

#[test]
fn bad_input_gets_typed_errors_naming_the_column() {
    let (mut x, y) = data();
    let one_class = vec![true; 500];
    assert!(matches!(
        LogisticModel::fit(&LogisticParams::default(), x.view(), &one_class, &names()),
        Err(Error::TooFew { .. })
    ));
    assert!(matches!(
        roc_auc(&scores(&x), &one_class),
        Err(Error::TooFew { .. })
    ));
    let mut constant = x.clone();
    constant.column_mut(1).fill(2.5);
    match LogisticModel::fit(&LogisticParams::default(), constant.view(), &y, &names()) {
        Err(Error::NotIdentifiable { reason, .. }) => assert!(reason.contains("`x2`"), "{reason}"),
        other => panic!("expected a constant-feature error, got {other:?}"),
    }
    x[[17, 2]] = f64::NAN;
    match LogisticModel::fit(&LogisticParams::default(), x.view(), &y, &names()) {
        Err(Error::NonFinite { row, field, .. }) => assert_eq!((row, field.as_str()), (17, "x3")),
        other => panic!("expected a non-finite error, got {other:?}"),
    }
    x[[17, 2]] = f64::INFINITY;
    assert!(matches!(
        LogisticModel::fit(&LogisticParams::default(), x.view(), &y, &names()),
        Err(Error::NonFinite { row: 17, .. })
    ));
    assert!(matches!(
        log_loss(&[0.5, 1.5], &[true, false]),
        Err(Error::InvalidRow { row: 1, .. })
    ));
    assert!(matches!(
        roc_auc(&[0.5, f64::NAN], &[true, false]),
        Err(Error::NonFinite { row: 1, .. })
    ));
    assert!(matches!(
        Calibrator::fit(CalibrationMethod::Platt, &[0.1, f64::NAN], &[true, false]),
        Err(Error::NonFinite { row: 1, .. })
    ));
    assert!(matches!(
        LogisticParams {
            l2_penalty: -1.0,
            ..LogisticParams::default()
        }
        .check(),
        Err(Error::InvalidParameter {
            name: "l2_penalty",
            ..
        })
    ));
    assert!(matches!(
        precision_at_k(&[0.1, 0.2], &[true, false], 3),
        Err(Error::InvalidParameter { name: "k", .. })
    ));
}

#[test]
fn platt_converges_on_many_rows() {
    // 200,000 rows: the loss sums too many terms for a gradient test at
    // rounding level; the fit stops on Newton's decrement instead.
    let mut g = Lcg(3);
    let (mut s, mut y) = (Vec::new(), Vec::new());
    for _ in 0..200_000 {
        let score = g.next();
        s.push(score);
        y.push(g.next() < 0.1 + 0.6 * score);
    }
    let Calibrator::Platt { a, b } = Calibrator::fit(CalibrationMethod::Platt, &s, &y).unwrap()
    else {
        panic!("a Platt calibrator");
    };
    // The rate rises with the score (a < 0), and at the optimum the fitted
    // probabilities average to the (smoothed) observed rate.
    assert!(a < 0.0);
    let mean_p = s
        .iter()
        .map(|v| 1.0 / (1.0 + (a * v + b).exp()))
        .sum::<f64>()
        / s.len() as f64;
    let rate = y.iter().filter(|&&v| v).count() as f64 / y.len() as f64;
    assert!((mean_p - rate).abs() < 1e-4, "{mean_p} vs {rate}");
}
