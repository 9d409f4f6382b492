//! Boosted trees against LightGBM on the same data, and what the model
//! promises: missing values, monotone constraints, early stopping,
//! determinism, persistence, typed errors.
//!
//! The data come from a 64-bit LCG that Python reproduces exactly; the
//! reference values were printed by `ref_gbm.py` (kept outside the
//! repository) with LightGBM 4.7.0 (`LGBMClassifier(n_estimators, max_depth,
//! num_leaves = 2^max_depth, learning_rate = 0.1, n_jobs = 1,
//! deterministic = True)`) and scikit-learn 1.9.1's `roc_auc_score`.

use approx::assert_abs_diff_eq;
use custinsight::Error;
use custinsight::target::boost::{BoostParams, BoostedTrees, EarlyStopping, Monotone};
use custinsight::target::metrics::roc_auc;
use ndarray::{Array2, s};

mod lcg;

use lcg::Lcg;

/// Six features (two continuous, one 0–9 integer, one uniform, one 0–2
/// integer, one continuous with 10 % missing) and a label from a nonlinear
/// model with an interaction and a threshold.
fn data(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
    let mut g = Lcg(seed);
    let mut x = Array2::zeros((n, 6));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let u: Vec<f64> = (0..7).map(|_| g.next()).collect();
        let x0 = u[0] * 4.0 - 2.0;
        let x1 = u[1] * 4.0 - 2.0;
        let x2 = (u[2] * 10.0).floor();
        let x3 = u[3];
        let x4 = (u[4] * 3.0).floor();
        let x5 = if u[6] > 0.1 {
            u[5] * 2.0 - 1.0
        } else {
            f64::NAN
        };
        let step = if x1 > 0.5 { 1.0 } else { -0.5 };
        let inter = if x3 > 0.5 { 0.3 * (x2 - 5.0) } else { 0.0 };
        let miss = if x5.is_nan() { 0.9 } else { 0.7 * x5 };
        let eta = 0.8 * x0 + step + inter - 0.6 * x4 + miss;
        for (j, v) in [x0, x1, x2, x3, x4, x5].into_iter().enumerate() {
            x[[i, j]] = v;
        }
        y.push(g.next() < 1.0 / (1.0 + (-eta).exp()));
    }
    (x, y)
}

fn names(k: usize) -> Vec<String> {
    (0..k).map(|j| format!("x{j}")).collect()
}

#[test]
fn the_data_are_pythons() {
    let (x, y) = data(20_000, 11);
    let (_, yv) = data(10_000, 12);
    assert_eq!(y.iter().filter(|&&v| v).count(), 8119);
    assert_eq!(yv.iter().filter(|&&v| v).count(), 4134);
    assert_eq!(x.column(5).iter().filter(|v| v.is_nan()).count(), 2029);
}

#[test]
fn validation_auc_is_within_0_005_of_lightgbm() {
    let (x, y) = data(20_000, 11);
    let (xv, yv) = data(10_000, 12);
    for (trees, depth, lightgbm) in [(100, 6, 0.8042568500081896), (50, 3, 0.8106047353975935)] {
        let params = BoostParams {
            trees,
            max_depth: depth,
            ..BoostParams::default()
        };
        let m = BoostedTrees::fit(&params, x.view(), &y, &names(6)).unwrap();
        let auc = roc_auc(&m.predict_proba(xv.view()).unwrap(), &yv).unwrap();
        assert!(
            (auc - lightgbm).abs() < 0.005,
            "{trees} trees of depth {depth}: AUC {auc} against LightGBM's {lightgbm}"
        );
    }
}

#[test]
fn one_tree_on_integer_features_is_lightgbms_tree() {
    // With at most 255 distinct values the bins are LightGBM's, so the first
    // tree (root split on x4 at 0|1, then x2 at 3|4 and 5|6) and its leaf
    // values (base log-odds folded in) are the same, up to LightGBM's
    // single-precision gradients.
    let (x, y) = data(20_000, 11);
    let xi = ndarray::stack![ndarray::Axis(1), x.column(2), x.column(4)];
    let params = BoostParams {
        trees: 1,
        max_depth: 2,
        ..BoostParams::default()
    };
    let m = BoostedTrees::fit(&params, xi.view(), &y, &names(2)).unwrap();
    let probe = ndarray::array![[0., 0.], [4., 1.], [5., 2.], [9., 0.], [7., 1.], [2., 2.]];
    let expected = [
        -0.37284177574732885,
        -0.4234553565361903,
        -0.4234553565361903,
        -0.3131537476884455,
        -0.37053026672703865,
        -0.4234553565361903,
    ];
    for (got, e) in m
        .predict_log_odds(probe.view())
        .unwrap()
        .iter()
        .zip(expected)
    {
        assert_abs_diff_eq!(*got, e, epsilon = 1e-6);
    }
    // LightGBM's root split gain is 448.528 (single precision); importance sums the gains.
    let importance = m.importance_gain();
    assert_abs_diff_eq!(importance[1], 448.528, epsilon = 0.01);
    assert_abs_diff_eq!(importance[0], 136.5 + 217.792, epsilon = 0.01);
}

#[test]
fn missing_values_follow_the_side_their_rows_chose() {
    // x5 is missing for 10 % of rows, whose log-odds get +0.9: more than
    // any observed x5 gives (at most +0.7). A model on x5 alone must score
    // a missing value above the lowest observed values.
    let (x, y) = data(20_000, 11);
    let x5 = x.slice(s![.., 5..6]).to_owned();
    let params = BoostParams {
        trees: 50,
        max_depth: 2,
        ..BoostParams::default()
    };
    let m = BoostedTrees::fit(&params, x5.view(), &y, &names(1)).unwrap();
    let probe = ndarray::array![[f64::NAN], [-0.9], [0.0], [0.9]];
    let p = m.predict_proba(probe.view()).unwrap();
    assert!(p[0] > p[1] && p[0] > p[2], "{p:?}");
    assert!(p[3] > p[1], "{p:?}");
}

#[test]
fn monotone_constraints_hold_everywhere() {
    let (x, y) = data(5_000, 21);
    // x2 rises the score only when x3 > 0.5 and falls it otherwise: force it increasing.
    let mut monotone = vec![Monotone::Free; 6];
    monotone[2] = Monotone::Increasing;
    monotone[4] = Monotone::Decreasing;
    let params = BoostParams {
        trees: 30,
        max_depth: 4,
        monotone,
        ..BoostParams::default()
    };
    let m = BoostedTrees::fit(&params, x.view(), &y, &names(6)).unwrap();
    let (probe_rows, _) = data(200, 99);
    for row in probe_rows.rows() {
        let mut grid = Array2::zeros((10, 6));
        for k in 0..10 {
            grid.row_mut(k).assign(&row);
            grid[[k, 2]] = k as f64;
        }
        let p = m.predict_log_odds(grid.view()).unwrap();
        assert!(p.windows(2).all(|w| w[0] <= w[1] + 1e-12), "{p:?}");
        let mut grid = Array2::zeros((3, 6));
        for k in 0..3 {
            grid.row_mut(k).assign(&row);
            grid[[k, 4]] = k as f64;
        }
        let p = m.predict_log_odds(grid.view()).unwrap();
        assert!(p.windows(2).all(|w| w[0] >= w[1] - 1e-12), "{p:?}");
    }
    // Without the constraint x2 does not rise everywhere (so the check above can fail).
    let free = BoostedTrees::fit(
        &BoostParams {
            trees: 30,
            max_depth: 4,
            ..BoostParams::default()
        },
        x.view(),
        &y,
        &names(6),
    )
    .unwrap();
    let falls = probe_rows.rows().into_iter().any(|row| {
        let mut grid = Array2::zeros((10, 6));
        for k in 0..10 {
            grid.row_mut(k).assign(&row);
            grid[[k, 2]] = k as f64;
        }
        let p = free.predict_log_odds(grid.view()).unwrap();
        p.windows(2).any(|w| w[0] > w[1] + 1e-9)
    });
    assert!(falls);
}

#[test]
fn early_stopping_keeps_the_best_round() {
    let (x, y) = data(6_000, 31);
    let params = BoostParams {
        trees: 400,
        max_depth: 6,
        learning_rate: 0.3,
        min_rows_in_leaf: 5,
        early_stopping: Some(EarlyStopping {
            rounds: 10,
            validation_share: 0.25,
        }),
        seed: 7,
        ..BoostParams::default()
    };
    let m = BoostedTrees::fit(&params, x.view(), &y, &names(6)).unwrap();
    let losses = m.validation_loss();
    assert!(
        m.n_trees() < 400,
        "deep fast trees overfit before 400 rounds"
    );
    // Ten rounds past the best one were grown, and the best is kept.
    assert_eq!(losses.len(), m.n_trees() + 10);
    let best = losses
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(best + 1, m.n_trees());
}

/// The crate's `parallel` feature makes rayon a normal dependency, so the test can reach it.
#[cfg(feature = "parallel")]
#[test]
fn fits_do_not_depend_on_the_thread_count() {
    let (x, y) = data(3_000, 41);
    let params = BoostParams {
        trees: 20,
        ..BoostParams::default()
    };
    let m = BoostedTrees::fit(&params, x.view(), &y, &names(6)).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let single = pool.install(|| BoostedTrees::fit(&params, x.view(), &y, &names(6)).unwrap());
    assert_eq!(m, single);
}

#[test]
fn fitted_models_survive_serde() {
    let (x, y) = data(3_000, 41);
    let params = BoostParams {
        trees: 20,
        ..BoostParams::default()
    };
    let m = BoostedTrees::fit(&params, x.view(), &y, &names(6)).unwrap();
    let json = serde_json::to_string(&m).unwrap();
    let back: BoostedTrees = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back.predict_proba(x.view()).unwrap(),
        m.predict_proba(x.view()).unwrap()
    );
    let p = m.predict_proba(x.view()).unwrap();
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn bad_input_gets_typed_errors_naming_the_column() {
    let (mut x, y) = data(500, 51);
    let params = BoostParams::default();
    assert!(matches!(
        BoostedTrees::fit(&params, x.view(), &vec![false; 500], &names(6)),
        Err(Error::TooFew { .. })
    ));
    let mut constant = x.clone();
    constant.column_mut(3).fill(1.0);
    match BoostedTrees::fit(&params, constant.view(), &y, &names(6)) {
        Err(Error::NotIdentifiable { reason, .. }) => assert!(reason.contains("`x3`"), "{reason}"),
        other => panic!("expected a constant-feature error, got {other:?}"),
    }
    x[[42, 1]] = f64::NEG_INFINITY;
    match BoostedTrees::fit(&params, x.view(), &y, &names(6)) {
        Err(Error::NonFinite { row, field, .. }) => assert_eq!((row, field.as_str()), (42, "x1")),
        other => panic!("expected a non-finite error, got {other:?}"),
    }
    assert!(matches!(
        BoostParams {
            max_bins: 256,
            ..BoostParams::default()
        }
        .check(),
        Err(Error::InvalidParameter {
            name: "max_bins",
            ..
        })
    ));
    assert!(matches!(
        BoostParams {
            monotone: vec![Monotone::Increasing],
            ..BoostParams::default()
        }
        .check()
        .and_then(|_| BoostedTrees::fit(
            &BoostParams {
                monotone: vec![Monotone::Increasing],
                ..BoostParams::default()
            },
            data(100, 1).0.view(),
            &data(100, 1).1,
            &names(6)
        )),
        Err(Error::InvalidParameter {
            name: "monotone",
            ..
        })
    ));
}

#[test]
fn regression_trees_fit_a_numeric_outcome() {
    // y = 3·[x0 > 0] + x1² + small noise: trees recover it closely.
    let (x, _) = data(5_000, 61);
    let mut g = Lcg(5);
    let y: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| 3.0 * f64::from(u8::from(r[0] > 0.0)) + r[1] * r[1] + 0.1 * (g.next() - 0.5))
        .collect();
    let params = BoostParams {
        trees: 200,
        max_depth: 4,
        ..BoostParams::default()
    };
    let m = BoostedTrees::fit_regression(&params, x.view(), &y, &names(6)).unwrap();
    let fitted = m.predict_outcome(x.view()).unwrap();
    let mse = fitted
        .iter()
        .zip(&y)
        .map(|(f, v)| (f - v).powi(2))
        .sum::<f64>()
        / y.len() as f64;
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64;
    assert!(mse < 0.01 * var, "mse {mse} against variance {var}");
    // The first split is on x0 (the step), then x1 carries the rest.
    let importance = m.importance_gain();
    assert!(importance[0] > importance[2] && importance[1] > importance[2]);
    assert!(matches!(
        BoostedTrees::fit_regression(&params, x.view(), &vec![f64::NAN; 5_000], &names(6)),
        Err(Error::NonFinite { row: 0, .. })
    ));
}

#[test]
fn one_value_and_missing_ones_still_split() {
    // 1.0 for a third of the rows, missing for the rest; the missing rows buy more often.
    let mut g = Lcg(8);
    let n = 3_000;
    let mut x = Array2::zeros((n, 1));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let missing = i % 3 != 0;
        x[[i, 0]] = if missing { f64::NAN } else { 1.0 };
        y.push(g.next() < if missing { 0.6 } else { 0.2 });
    }
    let params = BoostParams {
        trees: 10,
        max_depth: 1,
        ..BoostParams::default()
    };
    let m = BoostedTrees::fit(&params, x.view(), &y, &names(1)).unwrap();
    let p = m
        .predict_proba(ndarray::array![[1.0], [f64::NAN]].view())
        .unwrap();
    assert!(p[1] > p[0] + 0.2, "{p:?}");
    // Only one value and nothing missing: refused, naming the column.
    let constant = Array2::from_elem((n, 1), 1.0);
    assert!(matches!(
        BoostedTrees::fit(&params, constant.view(), &y, &names(1)),
        Err(Error::NotIdentifiable { .. })
    ));
}
