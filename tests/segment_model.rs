//! Segmentation end to end: choosing k, fitting, persisting, predicting, refitting stably.

use custinsight::Error;
use custinsight::segment::features::{FeatureMatrix, FeatureSpec};
use custinsight::segment::kmeans::KMeansParams;
use custinsight::segment::model::{ProfileContext, SegmentationModel, SegmentationParams};
use custinsight::segment::select_k::{SilhouetteOptions, adjusted_rand_index, choose_k};
use custinsight::synth::{Population, SynthParams};
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Four well-separated groups in three features of very different scales.
fn groups(n: usize, seed: u64) -> (FeatureMatrix, Vec<usize>) {
    let centres = [
        [1.0, 100.0, 0.1],
        [5.0, 900.0, 0.9],
        [9.0, 100.0, 0.9],
        [5.0, 500.0, 0.1],
    ];
    let scale = [0.3, 30.0, 0.03];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 1.0).unwrap();
    let truth: Vec<usize> = (0..n).map(|i| (i * 7 + i / 3) % 4).collect();
    let values = Array2::from_shape_fn((n, 3), |(i, f)| {
        centres[truth[i]][f] + scale[f] * noise.sample(&mut rng)
    });
    let ids = (0..n).map(|i| format!("C{i}")).collect();
    let names = vec![
        "frequency".into(),
        "monetary".into(),
        "channel_share:app".into(),
    ];
    (FeatureMatrix::new(ids, names, values).unwrap(), truth)
}

fn params(k: usize) -> SegmentationParams {
    SegmentationParams {
        kmeans: KMeansParams::new(k),
        ..SegmentationParams::default()
    }
}

#[test]
fn choose_k_finds_the_four_groups() {
    let (features, _) = groups(2_000, 1);
    let scaled = custinsight::segment::scale::FittedTransform::fit(&features, &params(4).transform)
        .unwrap()
        .apply(&features)
        .unwrap();
    let choice = choose_k(
        scaled.values(),
        None,
        2..=7,
        &KMeansParams::new(2),
        &SilhouetteOptions::default(),
    )
    .unwrap();
    assert_eq!(choice.recommended, 4, "{}", choice.reason);
    assert_eq!(choice.scores.len(), 6);
    assert!(choice.reason.contains("k = 4"));
    // Inertia falls with k.
    assert!(
        choice
            .scores
            .windows(2)
            .all(|w| w[1].inertia <= w[0].inertia)
    );
    assert!(matches!(
        choose_k(
            scaled.values(),
            None,
            1..=3,
            &KMeansParams::new(2),
            &SilhouetteOptions::default()
        ),
        Err(Error::InvalidParameter {
            name: "k range",
            ..
        })
    ));
}

#[test]
fn fit_recovers_groups_names_them_and_round_trips() {
    let (features, truth) = groups(4_000, 2);
    let seg = params(4).fit(&features, ProfileContext::default()).unwrap();
    assert_eq!(adjusted_rand_index(&seg.labels, &truth).unwrap(), 1.0);
    assert_eq!(seg.profiles.len(), 4);
    assert_eq!(seg.profiles.iter().map(|p| p.size).sum::<usize>(), 4_000);
    // Names are unique and deterministic.
    let mut names = seg.model.names.clone();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "{:?}", seg.model.names);
    let again = params(4).fit(&features, ProfileContext::default()).unwrap();
    assert_eq!(again.model, seg.model);
    // The high-monetary group is named high-value and app-first.
    let rich = seg
        .profiles
        .iter()
        .max_by(|a, b| a.mean[1].total_cmp(&b.mean[1]))
        .unwrap();
    assert!(
        rich.name.contains("high-value") && rich.name.contains("app-first"),
        "{}",
        rich.name
    );
    // Persisted and reloaded, the model assigns the same segments.
    let json = serde_json::to_string(&seg.model).unwrap();
    let back: SegmentationModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back.predict(&features).unwrap(), seg.labels);
    // New customers are assigned by the stored transform.
    let (fresh, fresh_truth) = groups(500, 3);
    let predicted = back.predict(&fresh).unwrap();
    assert_eq!(adjusted_rand_index(&predicted, &fresh_truth).unwrap(), 1.0);
    // A missing column is an error, not a panic.
    let partial = features.select(&["frequency", "monetary"]).unwrap();
    assert!(matches!(
        back.predict(&partial),
        Err(Error::NotFound {
            what: "feature",
            ..
        })
    ));
}

#[test]
fn refits_keep_segment_ids_and_report_migration() {
    let (features, _) = groups(4_000, 4);
    let first = params(4).fit(&features, ProfileContext::default()).unwrap();
    // Next month: new draws of the same groups, and another seed for k-means.
    let (next, _) = groups(4_000, 5);
    let mut p = params(4);
    p.kmeans.seed = 99;
    let refit = first
        .model
        .refit(&next, &p, ProfileContext::default())
        .unwrap();
    // Every customer stays in the segment the previous model gives them.
    assert_eq!(refit.migration.stayed_share, 1.0);
    assert_eq!(
        refit.segmentation.labels,
        first.model.predict(&next).unwrap()
    );
    assert_eq!(refit.segmentation.model.names, first.model.names);
    let total: u64 = refit.migration.counts.iter().flatten().sum();
    assert_eq!(total, 4_000);
    // The nightly update, on a borrowed matrix or on one it scales in place, agrees.
    let updated = first
        .model
        .update(&next, None, &p.kmeans, ProfileContext::default())
        .unwrap();
    let owned = first
        .model
        .update_owned(
            next.clone(),
            (&next).into(),
            &p.kmeans,
            ProfileContext::default(),
        )
        .unwrap();
    assert_eq!(
        updated.segmentation.labels,
        first.model.predict(&next).unwrap()
    );
    assert_eq!(owned.segmentation.labels, updated.segmentation.labels);
    assert_eq!(owned.segmentation.profiles, updated.segmentation.profiles);
    assert_eq!(owned.migration, updated.migration);
    // A fifth segment gets a new id after the old ones.
    let grown = first
        .model
        .refit(&next, &params(5), ProfileContext::default())
        .unwrap();
    assert_eq!(grown.matching.new_segments.len(), 1);
    assert_eq!(grown.segmentation.model.k(), 5);
    assert!(grown.segmentation.labels.iter().all(|&l| l < 5));
    // Fewer segments than before is refused with a reason.
    assert!(matches!(
        first
            .model
            .refit(&next, &params(3), ProfileContext::default()),
        Err(Error::InvalidParameter {
            name: "kmeans.k",
            ..
        })
    ));
}

#[test]
fn segments_a_synthetic_customer_base() {
    let mut sp = SynthParams::with_customers(3_000);
    sp.duplicate_share = 0.0;
    let pop = Population::generate(&sp.clone().with_seed(7)).unwrap();
    let features =
        FeatureMatrix::from_base(&pop.base, &FeatureSpec::default(), pop.observation_end).unwrap();
    let seg = params(4).fit(&features, ProfileContext::default()).unwrap();
    assert_eq!(seg.labels.len(), features.n_rows());
    assert!(seg.labels.iter().all(|&l| l < 4));
    assert!(seg.profiles.iter().all(|p| !p.name.is_empty()));
    assert_eq!(seg.model.predict(&features).unwrap(), seg.labels);
}

/// `cluster` (which skips the copy when the transform changes nothing) and
/// `cluster_owned` give exactly the fit of the transformed values, with and
/// without scaling, with and without missing values to impute.
#[test]
fn cluster_is_the_fit_of_the_transformed_values() {
    use custinsight::segment::scale::{FittedTransform, TransformSpec};
    let (features, _) = groups(3_000, 5);
    let mut with_gaps = features.values().to_owned();
    with_gaps[[7, 1]] = f64::NAN;
    with_gaps[[2_001, 0]] = f64::INFINITY;
    let gappy = FeatureMatrix::new(
        features.customer_ids().to_vec(),
        features.names().to_vec(),
        with_gaps,
    )
    .unwrap();
    for m in [&features, &gappy] {
        for transform in [TransformSpec::new(Vec::new()), TransformSpec::default()] {
            let p = SegmentationParams {
                transform: transform.clone(),
                ..params(4)
            };
            let fitted = FittedTransform::fit(m, &transform).unwrap();
            let expected = p
                .kmeans
                .fit_rows(fitted.apply(m).unwrap().values(), None)
                .unwrap();
            let clustered = p.cluster(m).unwrap();
            assert_eq!(clustered.transform, fitted);
            assert_eq!(clustered.clustering, expected);
            assert_eq!(p.cluster_owned(m.clone()).unwrap(), clustered);
        }
    }
}
