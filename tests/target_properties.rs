//! Properties of the target module that hold for any data: probabilities in
//! [0, 1], calibration maps monotone, ranking measures invariant under a
//! monotone transform of the score, gain tables that add up.

use custinsight::target::calibrate::{CalibrationMethod, Calibrator};
use custinsight::target::logistic::{LogisticModel, LogisticParams};
use custinsight::target::metrics::{
    average_precision, expected_calibration_error, gain_table, roc_auc,
};
use ndarray::Array2;
use proptest::prelude::*;

/// Scores on a coarse grid (so ties are common) with labels holding both classes.
fn scored() -> impl Strategy<Value = (Vec<f64>, Vec<bool>)> {
    (3usize..120)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec((0u32..=20).prop_map(|k| f64::from(k) / 20.0), n),
                proptest::collection::vec(any::<bool>(), n),
            )
        })
        .prop_map(|(s, mut y)| {
            // Both classes present.
            y[0] = true;
            y[1] = false;
            (s, y)
        })
}

/// ROC-AUC by its definition: over all (positive, negative) pairs, wins plus half the ties.
fn auc_by_pairs(s: &[f64], y: &[bool]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &yi) in y.iter().enumerate() {
        for (j, &yj) in y.iter().enumerate() {
            if yi && !yj {
                pairs += 1.0;
                wins += if s[i] > s[j] {
                    1.0
                } else if s[i] == s[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    wins / pairs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn auc_is_the_pairwise_win_rate_and_ignores_monotone_transforms((s, y) in scored()) {
        let auc = roc_auc(&s, &y).unwrap();
        prop_assert!((auc - auc_by_pairs(&s, &y)).abs() < 1e-12);
        let stretched: Vec<f64> = s.iter().map(|v| (3.0 * v).exp() - 7.0).collect();
        prop_assert!((roc_auc(&stretched, &y).unwrap() - auc).abs() < 1e-12);
        let reversed: Vec<f64> = s.iter().map(|v| -v).collect();
        prop_assert!((roc_auc(&reversed, &y).unwrap() + auc - 1.0).abs() < 1e-12);
        let ap = average_precision(&s, &y).unwrap();
        prop_assert!(ap > 0.0 && ap <= 1.0);
        prop_assert!((average_precision(&stretched, &y).unwrap() - ap).abs() < 1e-12);
    }

    #[test]
    fn calibration_maps_are_monotone_probabilities((s, y) in scored()) {
        let probes: Vec<f64> = (-5..=25).map(|k| f64::from(k) / 20.0).collect();
        let iso = Calibrator::fit(CalibrationMethod::Isotonic, &s, &y).unwrap();
        let p = iso.calibrate_all(&probes);
        prop_assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
        prop_assert!(p.windows(2).all(|w| w[0] <= w[1] + 1e-15));
        // Isotonic keeps the mean outcome on the training scores.
        let fitted = iso.calibrate_all(&s);
        let mean_fit = fitted.iter().sum::<f64>() / s.len() as f64;
        let mean_y = y.iter().filter(|&&v| v).count() as f64 / y.len() as f64;
        prop_assert!((mean_fit - mean_y).abs() < 1e-9);
        // And is at least as well calibrated on them as the raw scores.
        let raw = expected_calibration_error(&s, &y, 10).unwrap();
        prop_assert!(expected_calibration_error(&fitted, &y, 10).unwrap() <= raw + 1e-12);

        let platt = Calibrator::fit(CalibrationMethod::Platt, &s, &y).unwrap();
        let q = platt.calibrate_all(&probes);
        prop_assert!(q.iter().all(|v| (0.0..=1.0).contains(v)));
        let up = q.windows(2).all(|w| w[0] <= w[1]);
        let down = q.windows(2).all(|w| w[0] >= w[1]);
        prop_assert!(up || down);
    }

    #[test]
    fn gain_tables_add_up((s, y) in scored(), groups in 1usize..12) {
        let groups = groups.min(s.len());
        let table = gain_table(&s, &y, groups).unwrap();
        prop_assert_eq!(table.len(), groups);
        prop_assert_eq!(table.iter().map(|g| g.rows).sum::<usize>(), s.len());
        let positives = y.iter().filter(|&&v| v).count();
        prop_assert_eq!(table.iter().map(|g| g.positives).sum::<usize>(), positives);
        prop_assert!((table[groups - 1].cumulative_gain - 1.0).abs() < 1e-12);
        prop_assert!((table[groups - 1].cumulative_lift - 1.0).abs() < 1e-12);
        // Groups are in descending score order.
        prop_assert!(table.windows(2).all(|w| w[0].score_range.0 >= w[1].score_range.1));
    }

    #[test]
    fn logistic_scores_are_probabilities(seed in 0u64..1000, n in 20usize..80) {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / 9007199254740992.0
        };
        let mut x = Array2::zeros((n, 2));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            x[[i, 0]] = next() * 4.0;
            x[[i, 1]] = next() - 0.5;
            y.push(next() < 0.2 + 0.15 * x[[i, 0]]);
        }
        y[0] = true;
        y[1] = false;
        x[[0, 0]] = 0.0;
        x[[1, 0]] = 1.0;
        let names = vec!["a".to_string(), "b".to_string()];
        let m = LogisticModel::fit(&LogisticParams::default(), x.view(), &y, &names).unwrap();
        let p = m.predict_proba(x.view()).unwrap();
        prop_assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
        // With an intercept, the fitted mean equals the observed rate at the optimum
        // (the intercept's gradient is zero; it is not penalised).
        let mean_p = p.iter().sum::<f64>() / n as f64;
        let rate = y.iter().filter(|&&v| v).count() as f64 / n as f64;
        prop_assert!((mean_p - rate).abs() < 1e-6, "{} vs {}", mean_p, rate);
    }
}
