//! k-means: exact recovery, agreement with linfa-clustering, invariants, determinism, errors.

use custinsight::Error;
use custinsight::segment::kmeans::{Algorithm, Init, KMeans, KMeansParams, MiniBatchKMeans};
use linfa::DatasetBase;
use linfa::traits::{Fit, Predict};
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// `n` rows around `k` centres drawn in a box of half-width `spread`, with
/// standard deviation `sd`; returns the rows and the true centre of each.
fn blobs(
    n: usize,
    d: usize,
    k: usize,
    spread: f64,
    sd: f64,
    seed: u64,
) -> (Array2<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let boxed = Uniform::new(-spread, spread);
    let centres: Vec<f64> = (0..k * d).map(|_| boxed.sample(&mut rng)).collect();
    let noise = Normal::new(0.0, sd).unwrap();
    let mut x = Array2::zeros((n, d));
    let mut truth = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        truth.push(c);
        for f in 0..d {
            x[[i, f]] = centres[c * d + f] + noise.sample(&mut rng);
        }
    }
    (x, truth)
}

/// Whether two labellings describe the same partition (a bijection between labels).
fn same_partition(a: &[usize], b: &[usize]) -> bool {
    let mut forward = std::collections::HashMap::new();
    let mut backward = std::collections::HashMap::new();
    a.iter()
        .zip(b)
        .all(|(&x, &y)| *forward.entry(x).or_insert(y) == y && *backward.entry(y).or_insert(x) == x)
}

#[test]
fn recovers_well_separated_blobs_exactly() {
    // Centres at least ~10 apart in expectation, noise sd 0.3: the partition is unambiguous.
    let (x, truth) = blobs(6_000, 4, 5, 50.0, 0.3, 1);
    for algorithm in [Algorithm::Hamerly, Algorithm::Lloyd] {
        let params = KMeansParams {
            k: 5,
            algorithm,
            ..KMeansParams::default()
        };
        let fit = params.fit_rows(x.view(), None).unwrap();
        assert!(same_partition(&fit.labels, &truth), "{algorithm:?}");
        assert!(fit.model.converged);
        assert_eq!(fit.model.weights.iter().sum::<f64>(), 6_000.0);
    }
}

#[test]
fn hamerly_and_lloyd_agree_on_overlapping_clusters() {
    let (x, _) = blobs(20_000, 8, 8, 10.0, 6.0, 2);
    let fit = |algorithm| {
        KMeansParams {
            algorithm,
            tol: 0.0,
            n_init: 1,
            ..KMeansParams::default()
        }
        .fit_rows(x.view(), None)
        .unwrap()
    };
    let (h, l) = (fit(Algorithm::Hamerly), fit(Algorithm::Lloyd));
    // Same start and exact assignments: the same fixed point.
    assert_eq!(h.labels, l.labels);
    assert!((h.model.inertia - l.model.inertia).abs() <= 1e-9 * l.model.inertia);
    assert_eq!(h.model.iterations, l.model.iterations);
}

/// Inertia of `centroids` with every row at its nearest centroid.
fn best_inertia(x: &Array2<f64>, centroids: &Array2<f64>) -> f64 {
    x.rows()
        .into_iter()
        .map(|row| {
            centroids
                .rows()
                .into_iter()
                .map(|c| {
                    row.iter()
                        .zip(c)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}

#[test]
fn inertia_is_never_worse_than_linfa_clustering_with_the_same_budget() {
    for seed in 0..4u64 {
        let (x, _) = blobs(5_000, 5, 6, 10.0, 3.0, 10 + seed);
        let dataset = DatasetBase::from(x.clone());
        let ours = KMeansParams {
            k: 6,
            n_init: 3,
            seed,
            // Both run to convergence, so the comparison is of the optima found.
            tol: 0.0,
            ..KMeansParams::default()
        }
        .fit(&dataset)
        .unwrap();
        // linfa's own seeded generator (Xoshiro256Plus, seed 42), the same three runs.
        let theirs = linfa_clustering::KMeans::params(6)
            .n_runs(3)
            .tolerance(1e-12)
            .fit(&dataset)
            .unwrap();
        let linfa_inertia = best_inertia(&x, theirs.centroids());
        assert!(
            ours.inertia <= linfa_inertia * (1.0 + 1e-9),
            "seed {seed}: ours {} vs linfa {linfa_inertia}",
            ours.inertia
        );
    }
}

#[test]
fn predicting_the_training_rows_gives_the_fit_labels_and_serde_round_trips() {
    let (x, _) = blobs(9_000, 3, 4, 10.0, 2.0, 3);
    let fit = KMeansParams::new(4).fit_rows(x.view(), None).unwrap();
    assert_eq!(fit.model.predict_rows(x.view()).unwrap(), fit.labels);
    // linfa's Predict on a matrix and on a dataset.
    let predicted: Array1<usize> = fit.model.predict(&x);
    assert_eq!(predicted.to_vec(), fit.labels);
    let json = serde_json::to_string(&fit.model).unwrap();
    let back: KMeans = serde_json::from_str(&json).unwrap();
    assert_eq!(back, fit.model);
    assert_eq!(back.predict_rows(x.view()).unwrap(), fit.labels);
    // The reported inertia is that of the returned labelling.
    let inertia = fit.model.inertia_of(x.view(), &fit.labels, None).unwrap();
    assert!((inertia - fit.model.inertia).abs() <= 1e-9 * inertia);
    let params = KMeansParams::new(4);
    let json = serde_json::to_string(&params).unwrap();
    assert_eq!(serde_json::from_str::<KMeansParams>(&json).unwrap(), params);
}

#[cfg(feature = "parallel")]
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (x, _) = blobs(30_000, 6, 7, 10.0, 4.0, 4);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| KMeansParams::new(7).fit_rows(x.view(), None).unwrap())
    };
    let one = run(1);
    for threads in [2, 3, 8] {
        let other = run(threads);
        assert_eq!(other.labels, one.labels, "{threads} threads");
        assert_eq!(other.model, one.model, "{threads} threads");
    }
}

#[test]
fn zero_weight_rows_change_nothing_and_weights_pull_centroids() {
    let (x, _) = blobs(4_000, 2, 3, 20.0, 1.0, 5);
    let base = KMeansParams::new(3).fit_rows(x.view(), None).unwrap();
    // Append far-away rows with weight zero.
    let mut with_junk = x.clone();
    for _ in 0..50 {
        with_junk.push_row(ndarray::aview1(&[1e6, -1e6])).unwrap();
    }
    let mut weights = vec![1.0; 4_000];
    weights.extend([0.0; 50]);
    let fit = KMeansParams::new(3)
        .fit_rows(with_junk.view(), Some(&weights))
        .unwrap();
    for (a, b) in fit.model.centroids.iter().zip(base.model.centroids.iter()) {
        assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} vs {b}");
    }
    assert!((fit.model.inertia - base.model.inertia).abs() <= 1e-9 * base.model.inertia);
}

#[test]
fn degenerate_inputs_give_errors_or_valid_results_never_panics() {
    let x = Array2::from_shape_vec((3, 2), vec![0.0, 0.0, 1.0, 1.0, f64::NAN, 2.0]).unwrap();
    let err = KMeansParams::new(2).fit_rows(x.view(), None).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { row: 2, ref field, .. } if field == "column 0"),
        "{err}"
    );
    let x = Array2::from_shape_vec((2, 1), vec![0.0, 1.0]).unwrap();
    assert!(matches!(
        KMeansParams::new(3).fit_rows(x.view(), None).unwrap_err(),
        Error::TooFew {
            minimum: 3,
            found: 2,
            ..
        }
    ));
    assert!(matches!(
        KMeansParams::new(0).fit_rows(x.view(), None).unwrap_err(),
        Error::InvalidParameter { .. }
    ));
    assert!(matches!(
        KMeansParams::new(1)
            .fit_rows(x.view(), Some(&[1.0]))
            .unwrap_err(),
        Error::LengthMismatch {
            expected: 2,
            found: 1,
            ..
        }
    ));
    assert!(matches!(
        KMeansParams::new(1)
            .fit_rows(x.view(), Some(&[-1.0, 1.0]))
            .unwrap_err(),
        Error::InvalidValue {
            what: "k-means sample weight",
            ..
        }
    ));
    assert!(matches!(
        KMeansParams::new(1)
            .fit_rows(x.view(), Some(&[0.0, 0.0]))
            .unwrap_err(),
        Error::EmptyInput { .. }
    ));
    let empty = Array2::<f64>::zeros((0, 3));
    assert!(matches!(
        KMeansParams::new(1)
            .fit_rows(empty.view(), None)
            .unwrap_err(),
        Error::TooFew {
            minimum: 1,
            found: 0,
            ..
        }
    ));
    // One row, k = 1.
    let one = Array2::from_shape_vec((1, 2), vec![3.0, 4.0]).unwrap();
    let fit = KMeansParams::new(1).fit_rows(one.view(), None).unwrap();
    assert_eq!(fit.labels, [0]);
    assert_eq!(fit.model.inertia, 0.0);
    // Fewer distinct rows than k: valid labels, finite centroids.
    let same = Array2::from_elem((20, 2), 7.0);
    let fit = KMeansParams::new(4).fit_rows(same.view(), None).unwrap();
    assert!(fit.labels.iter().all(|&l| l < 4));
    assert!(fit.model.centroids.iter().all(|v| v.is_finite()));
    assert_eq!(fit.model.inertia, 0.0);
    // Huge values stay finite.
    let huge = Array2::from_shape_vec((4, 1), vec![1e100, -1e100, 1e100, -1e100]).unwrap();
    let fit = KMeansParams::new(2).fit_rows(huge.view(), None).unwrap();
    assert!(same_partition(&fit.labels, &[0, 1, 0, 1]));
    // Predicting with the wrong width is an error, and linfa's Predict marks it.
    let wrong = Array2::<f64>::zeros((2, 3));
    assert!(matches!(
        fit.model.predict_rows(wrong.view()).unwrap_err(),
        Error::LengthMismatch {
            expected: 1,
            found: 3,
            ..
        }
    ));
    let marked: Array1<usize> = fit.model.predict(&wrong);
    assert!(marked.iter().all(|&l| l == usize::MAX));
}

#[test]
fn mini_batches_recover_separated_blobs() {
    let (x, truth) = blobs(20_000, 3, 4, 50.0, 0.5, 6);
    let mut mb = MiniBatchKMeans::new(KMeansParams::new(4)).unwrap();
    assert!(matches!(mb.finish().unwrap_err(), Error::EmptyInput { .. }));
    for start in (0..20_000).step_by(2_000) {
        mb.partial_fit(x.slice(ndarray::s![start..start + 2_000, ..]), None)
            .unwrap();
    }
    assert_eq!((mb.batches(), mb.rows_seen()), (10, 20_000));
    let model = mb.finish().unwrap();
    let labels = model.predict_rows(x.view()).unwrap();
    assert!(same_partition(&labels, &truth));
    assert_eq!(model.weights.iter().sum::<f64>(), 20_000.0);
    // A batch of another width is refused.
    let wrong = Array2::<f64>::zeros((5, 2));
    assert!(matches!(
        mb.partial_fit(wrong.view(), None).unwrap_err(),
        Error::LengthMismatch {
            expected: 3,
            found: 2,
            ..
        }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Labels are in range, each row sits at its nearest centroid, and after
    /// convergence every centroid is the weighted mean of its rows.
    #[test]
    fn labels_in_range_nearest_and_centroids_are_weighted_means(
        rows in prop::collection::vec((-100.0..100.0f64, -100.0..100.0f64, 0.1..5.0f64), 1..200),
        k in 1usize..6,
        seed in 0u64..1000,
        greedy in any::<bool>(),
    ) {
        let n = rows.len();
        prop_assume!(n >= k);
        let x = Array2::from_shape_fn((n, 2), |(i, f)| if f == 0 { rows[i].0 } else { rows[i].1 });
        let w: Vec<f64> = rows.iter().map(|r| r.2).collect();
        let params = KMeansParams {
            k,
            n_init: 2,
            tol: 0.0,
            max_iter: 1_000,
            seed,
            init: if greedy { Init::GreedyKMeansPlusPlus { local_trials: None } } else { Init::KMeansPlusPlus },
            ..KMeansParams::default()
        };
        let fit = params.fit_rows(x.view(), Some(&w)).unwrap();
        prop_assert_eq!(fit.labels.len(), n);
        prop_assert!(fit.labels.iter().all(|&l| l < k));
        let c = &fit.model.centroids;
        let d2 = |i: usize, j: usize| (x[[i, 0]] - c[[j, 0]]).powi(2) + (x[[i, 1]] - c[[j, 1]]).powi(2);
        for i in 0..n {
            let own = d2(i, fit.labels[i]);
            for j in 0..k {
                prop_assert!(own <= d2(i, j) * (1.0 + 1e-9) + 1e-9, "row {} nearer to {}", i, j);
            }
        }
        if fit.model.converged {
            for j in 0..k {
                let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
                for i in (0..n).filter(|&i| fit.labels[i] == j) {
                    sw += w[i];
                    sx += w[i] * x[[i, 0]];
                    sy += w[i] * x[[i, 1]];
                }
                if sw > 0.0 {
                    prop_assert!((c[[j, 0]] - sx / sw).abs() <= 1e-7 * (1.0 + c[[j, 0]].abs()));
                    prop_assert!((c[[j, 1]] - sy / sw).abs() <= 1e-7 * (1.0 + c[[j, 1]].abs()));
                }
            }
        }
        let total: f64 = fit.model.weights.iter().sum();
        prop_assert!((total - w.iter().sum::<f64>()).abs() <= 1e-9 * total);
    }
}
