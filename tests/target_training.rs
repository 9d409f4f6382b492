//! Training sets as of a cutoff: labels from the window after it, only
//! customers known at it, features that cannot see past it (the same as
//! from a base that never held the later events), and a propensity model
//! that ranks next month's buyers on a later cutoff than it learned from.

use approx::assert_abs_diff_eq;
use custinsight::Error;
use custinsight::records::{Channel, Currency, CustomerId, Money, Transaction};
use custinsight::segment::features::FeatureSpec;
use custinsight::store::{CustomerBase, CustomerBaseBuilder};
use custinsight::synth::{Population, SynthParams};
use custinsight::target::boost::{BoostParams, BoostedTrees};
use custinsight::target::context::FeatureContext;
use custinsight::target::metrics::roc_auc;
use custinsight::target::training::{Label, TrainingParams, training_set};
use jiff::Timestamp;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn tx(customer: &str, order: &str, at: &str, amount: &str) -> Transaction {
    let money = Money::parse(amount, Currency::parse("EUR").unwrap()).unwrap();
    Transaction::new(
        order,
        CustomerId::new(customer).unwrap(),
        ts(at),
        money,
        Channel::Web,
    )
}

/// a buys in the window; b buys only after it and is refunded in it; c
/// first appears after the cutoff; d buys long before and never again.
fn small_base() -> CustomerBase {
    let mut b = CustomerBaseBuilder::new();
    for t in [
        tx("a", "o1", "2024-01-05T10:00:00Z", "20.00"),
        tx("a", "o2", "2024-03-10T10:00:00Z", "35.50"),
        tx("b", "o3", "2024-02-01T10:00:00Z", "12.00"),
        tx("b", "o4", "2024-03-20T10:00:00Z", "-12.00"),
        tx("b", "o5", "2024-04-15T10:00:00Z", "40.00"),
        tx("c", "o6", "2024-03-05T10:00:00Z", "99.00"),
        tx("d", "o7", "2023-11-01T10:00:00Z", "5.00"),
        tx("d", "o8", "2024-06-01T10:00:00Z", "5.00"),
    ] {
        b.add_transaction(&t).unwrap();
    }
    b.build().unwrap()
}

fn params(label: Label, cutoffs: &[&str]) -> TrainingParams {
    TrainingParams {
        features: FeatureSpec::default(),
        label,
        horizon_days: 30,
        cutoffs: cutoffs.iter().map(|c| ts(c)).collect(),
        context: FeatureContext::default(),
    }
}

#[test]
fn labels_come_from_the_window_and_only_known_customers_enter() {
    let base = small_base();
    let set = training_set(&base, &params(Label::Purchase, &["2024-03-01T00:00:00Z"])).unwrap();
    let ids: Vec<&str> = set.customer.iter().map(|&c| base.customer_id(c)).collect();
    // c first appears on 5 March: not known at the cutoff.
    assert_eq!(ids, ["a", "b", "d"]);
    assert_eq!(set.y, [1.0, 0.0, 0.0]);
    let revenue = training_set(&base, &params(Label::Revenue, &["2024-03-01T00:00:00Z"])).unwrap();
    assert_eq!(revenue.y, [35.5, -12.0, 0.0]);
    // Two cutoffs stack; the later one knows c, and b buys in its window.
    let both = training_set(
        &base,
        &params(
            Label::Purchase,
            &["2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"],
        ),
    )
    .unwrap();
    assert_eq!(both.y.len(), 7);
    assert_eq!(&both.y[3..], &[0.0, 1.0, 0.0, 0.0]);
    let mut constant = both.clone();
    // Every refund share here is 0 (a, d) or ... b's refund: not constant; channel shares are (web only).
    let dropped = constant.drop_constant_columns();
    assert!(
        dropped.iter().any(|n| n.starts_with("channel_share")),
        "{dropped:?}"
    );
    assert_eq!(constant.x.ncols() + dropped.len(), both.x.ncols());
    let (train, valid) = both.out_of_time_split();
    assert_eq!((train, valid), (vec![0, 1, 2], vec![3, 4, 5, 6]));
    // Recency as of each cutoff: a last bought on 5 January, 56 days before 1 March.
    let recency = both
        .feature_names
        .iter()
        .position(|n| n == "recency")
        .unwrap();
    assert_abs_diff_eq!(both.x[[0, recency]], 55.583333333333336, epsilon = 1e-9);
}

#[test]
fn bad_cutoffs_are_refused() {
    let base = small_base();
    let late = params(Label::Purchase, &["2024-05-15T00:00:00Z"]);
    assert!(matches!(
        training_set(&base, &late),
        Err(Error::InvalidParameter {
            name: "cutoffs",
            ..
        })
    ));
    let unordered = params(
        Label::Purchase,
        &["2024-03-01T00:00:00Z", "2024-02-01T00:00:00Z"],
    );
    assert!(matches!(
        training_set(&base, &unordered),
        Err(Error::InvalidParameter {
            name: "cutoffs",
            ..
        })
    ));
    let mut zero = params(Label::Purchase, &["2024-03-01T00:00:00Z"]);
    zero.horizon_days = 0;
    assert!(matches!(
        training_set(&base, &zero),
        Err(Error::InvalidParameter {
            name: "horizon_days",
            ..
        })
    ));
    assert!(matches!(
        training_set(
            &CustomerBaseBuilder::new().build().unwrap(),
            &params(Label::Purchase, &["2024-03-01T00:00:00Z"])
        ),
        Err(Error::EmptyInput { .. })
    ));
}

#[test]
fn features_cannot_see_past_the_cutoff() {
    // Every context analysis on, a segmentation among them.
    let (pop, cutoff, model) = context_case();
    let base = &pop.base;
    let p = TrainingParams {
        features: FeatureSpec::default(),
        label: Label::Purchase,
        horizon_days: 30,
        cutoffs: vec![cutoff],
        context: FeatureContext {
            segments: Some(model),
            ..FeatureContext::all()
        },
    };
    let full = training_set(base, &p).unwrap();
    // The same base without anything after the cutoff (and a late event so
    // the window is observable); its features must be the same.
    let mut b = CustomerBaseBuilder::new();
    let as_of = custinsight::store::to_micros(cutoff);
    // Customer records (consents) first, so customers keep their indices.
    for c in base.customer_indices() {
        if let Some(record) = base.customer(c) {
            b.add_customer(record).unwrap();
        }
    }
    for i in 0..base.n_transactions() {
        let t = base.transaction(i).unwrap();
        if custinsight::store::to_micros(t.timestamp) <= as_of {
            b.add_transaction(&t).unwrap();
        }
    }
    for i in 0..base.n_touchpoints() {
        let t = base.touchpoint(i).unwrap();
        if custinsight::store::to_micros(t.timestamp) <= as_of {
            b.add_touchpoint(&t).unwrap();
        }
    }
    b.add_transaction(&tx("zz-late", "late", "2025-06-01T00:00:00Z", "1.00"))
        .unwrap();
    let truncated = b.build().unwrap();
    let cut = training_set(&truncated, &p).unwrap();
    let id = |base: &CustomerBase, set: &custinsight::target::training::TrainingSet, r: usize| {
        base.customer_id(set.customer[r]).to_string()
    };
    let rows: std::collections::HashMap<String, usize> = (0..cut.y.len())
        .map(|r| (id(&truncated, &cut, r), r))
        .collect();
    assert_eq!(
        rows.len(),
        full.y.len(),
        "the same customers are known at the cutoff"
    );
    // Column sets may differ (a channel seen only later has a column in the
    // full base): compare the columns both have.
    let mut compared = 0;
    for (j, name) in full.feature_names.iter().enumerate() {
        let Some(k) = cut.feature_names.iter().position(|n| n == name) else {
            continue;
        };
        for r in 0..full.y.len() {
            let s = rows[&id(base, &full, r)];
            let (a, b) = (full.x[[r, j]], cut.x[[s, k]]);
            // Sums over channels run in each base's channel order: equal to rounding.
            let close = (a - b).abs() <= 1e-12 * a.abs().max(1.0);
            assert!(close || (a.is_nan() && b.is_nan()), "{name}: {a} vs {b}");
            compared += 1;
        }
    }
    assert!(compared > 40 * full.y.len(), "{compared} values compared");
}

#[test]
fn a_model_on_earlier_cutoffs_ranks_a_later_months_buyers() {
    let pop = Population::generate(&SynthParams::with_customers(6_000).with_seed(31)).unwrap();
    let cutoffs: Vec<Timestamp> = ["2024-05-01", "2024-07-01", "2024-09-01", "2024-11-01"]
        .iter()
        .map(|d| ts(&format!("{d}T00:00:00Z")))
        .collect();
    let set = training_set(
        &pop.base,
        &TrainingParams {
            features: FeatureSpec::default(),
            label: Label::Purchase,
            horizon_days: 30,
            cutoffs,
            context: FeatureContext::default(),
        },
    )
    .unwrap();
    let mut set = set;
    // Refund share is 0 or missing (no purchase yet): trees can still split on it.
    assert!(set.drop_constant_columns().is_empty());
    let (train, valid) = set.out_of_time_split();
    let (xt, yt) = set.rows(&train);
    let (xv, yv) = set.rows(&valid);
    let labels = |y: &[f64]| y.iter().map(|&v| v > 0.0).collect::<Vec<bool>>();
    let params = BoostParams {
        trees: 60,
        max_depth: 4,
        ..BoostParams::default()
    };
    let model = BoostedTrees::fit(&params, xt.view(), &labels(&yt), &set.feature_names).unwrap();
    let auc = roc_auc(&model.predict_proba(xv.view()).unwrap(), &labels(&yv)).unwrap();
    // Recency and frequency carry most of a BTYD population's signal.
    eprintln!("out-of-time AUC {auc:.4} on {} rows", yv.len());
    assert!(auc > 0.7, "out-of-time AUC {auc}");
}

#[test]
fn calibrated_on_one_cutoff_the_scores_hold_on_the_next() {
    // Five populations; nothing was tuned on them.
    for seed in 47..52 {
        calibrated_scores_hold(seed);
    }
}

fn calibrated_scores_hold(seed: u64) {
    use custinsight::target::calibrate::{CalibrationMethod, Calibrator};
    use custinsight::target::metrics::expected_calibration_error;
    let pop = Population::generate(&SynthParams::with_customers(12_000).with_seed(seed)).unwrap();
    let cutoffs: Vec<Timestamp> = ["2024-06-01", "2024-08-01", "2024-10-01", "2024-11-01"]
        .iter()
        .map(|d| ts(&format!("{d}T00:00:00Z")))
        .collect();
    let set = training_set(
        &pop.base,
        &TrainingParams {
            features: FeatureSpec::default(),
            label: Label::Purchase,
            horizon_days: 30,
            cutoffs,
            context: FeatureContext::default(),
        },
    )
    .unwrap();
    // Train on the first two cutoffs, calibrate on the third, measure on the last.
    let rows_of =
        |k: usize| -> Vec<usize> { (0..set.y.len()).filter(|&r| set.cutoff[r] == k).collect() };
    let train: Vec<usize> = (0..set.y.len()).filter(|&r| set.cutoff[r] < 2).collect();
    let labels = |y: &[f64]| y.iter().map(|&v| v > 0.0).collect::<Vec<bool>>();
    let (xt, yt) = set.rows(&train);
    let (xc, yc) = set.rows(&rows_of(2));
    let (xe, ye) = set.rows(&rows_of(3));
    let params = BoostParams {
        trees: 80,
        max_depth: 4,
        ..BoostParams::default()
    };
    let model = BoostedTrees::fit(&params, xt.view(), &labels(&yt), &set.feature_names).unwrap();
    let calibrator = Calibrator::fit(
        CalibrationMethod::Isotonic,
        &model.predict_proba(xc.view()).unwrap(),
        &labels(&yc),
    )
    .unwrap();
    let raw = model.predict_proba(xe.view()).unwrap();
    let calibrated = calibrator.calibrate_all(&raw);
    let before = expected_calibration_error(&raw, &labels(&ye), 10).unwrap();
    let after = expected_calibration_error(&calibrated, &labels(&ye), 10).unwrap();
    eprintln!(
        "seed {seed}: ECE on the last cutoff {before:.4} raw, {after:.4} calibrated ({} rows)",
        ye.len()
    );
    assert!(
        after <= 0.02,
        "seed {seed}: calibrated ECE {after} (raw {before})"
    );
}

/// Training on earlier cutoffs and calibrating on the last needs two.
#[test]
fn an_out_of_time_fit_needs_a_cutoff_to_calibrate_on() {
    use custinsight::target::calibrate::CalibrationMethod;
    use custinsight::target::propensity::Propensity;
    let set = training_set(
        &small_base(),
        &params(Label::Purchase, &["2024-03-01T00:00:00Z"]),
    )
    .unwrap();
    assert!(matches!(
        Propensity::fit_out_of_time(&set, &BoostParams::default(), CalibrationMethod::Isotonic),
        Err(Error::TooFew { found: 1, .. })
    ));
}

/// With lifecycle models, every row carries the BTYD scores and its stage as
/// one indicator per stage, the same columns at every cutoff.
#[test]
fn lifecycle_scores_and_stages_join_the_features() {
    use custinsight::lifecycle::customers::LifecycleParams;
    use custinsight::lifecycle::stage::Stage;
    let pop = Population::generate(&SynthParams::with_customers(3_000).with_seed(8)).unwrap();
    let mut p = params(
        Label::Purchase,
        &["2024-08-01T00:00:00Z", "2024-10-01T00:00:00Z"],
    );
    p.context = FeatureContext::lifecycle(LifecycleParams::default());
    let set = training_set(&pop.base, &p).unwrap();
    let plain = training_set(
        &pop.base,
        &params(
            Label::Purchase,
            &["2024-08-01T00:00:00Z", "2024-10-01T00:00:00Z"],
        ),
    )
    .unwrap();
    // The plain columns first, then the lifecycle ones.
    assert_eq!(
        set.feature_names[..plain.feature_names.len()],
        plain.feature_names[..]
    );
    for name in ["p_alive", "expected_purchases", "btyd:frequency"] {
        assert!(set.feature_names.iter().any(|n| n == name), "{name}");
    }
    let stage_columns: Vec<usize> = Stage::ALL
        .iter()
        .map(|s| {
            let name = format!("stage:{}", s.as_str());
            set.feature_names.iter().position(|n| *n == name).unwrap()
        })
        .collect();
    for r in 0..set.y.len() {
        let ones: f64 = stage_columns.iter().map(|&j| set.x[[r, j]]).sum();
        assert_eq!(ones, 1.0, "row {r}: one stage");
    }
    // Customers in several stages across the rows: the indicators carry information.
    for &j in &stage_columns[1..] {
        assert!(
            set.x.column(j).iter().any(|&v| v == 1.0),
            "{}",
            set.feature_names[j]
        );
    }
}

/// A population, a cutoff in its history, and a segmentation fitted on the
/// base features then, for the context tests.
fn context_case() -> (
    Population,
    Timestamp,
    custinsight::segment::model::SegmentationModel,
) {
    use custinsight::segment::features::FeatureMatrix;
    use custinsight::segment::kmeans::KMeansParams;
    use custinsight::segment::model::{ProfileContext, SegmentationParams};
    let pop = Population::generate(&SynthParams::with_customers(3_000).with_seed(12)).unwrap();
    let cutoff = ts("2024-09-01T00:00:00Z");
    let features = FeatureMatrix::from_base_rows(
        &pop.base,
        &FeatureSpec::default(),
        cutoff,
        custinsight::target::training::known_at(&pop.base, cutoff),
    )
    .unwrap();
    let model = SegmentationParams {
        kmeans: KMeansParams::new(3),
        ..SegmentationParams::default()
    }
    .fit(&features, ProfileContext::default())
    .unwrap()
    .model;
    (pop, cutoff, model)
}

fn column(set: &custinsight::target::training::TrainingSet, name: &str) -> Vec<f64> {
    let j = set
        .feature_names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", set.feature_names));
    set.x.column(j).to_vec()
}

/// Engagement, journey stage, channel preference and segment join the
/// features with the values the analyses give at the cutoff, row by row.
#[test]
fn context_columns_are_the_analyses_at_the_cutoff() {
    use custinsight::records::JourneyStage;
    use custinsight::touchpoints::engagement::{self, EngagementParams};
    use custinsight::touchpoints::journey_stage::{self, JourneyStageParams};
    use custinsight::touchpoints::preference::{self, PreferenceParams};
    let (pop, cutoff, model) = context_case();
    let base = &pop.base;
    let mut p = params(Label::Purchase, &["2024-09-01T00:00:00Z"]);
    p.context = FeatureContext {
        segments: Some(model.clone()),
        ..FeatureContext::all()
    };
    let set = training_set(base, &p).unwrap();

    let scored = engagement::score(
        base,
        &EngagementParams {
            as_of: Some(cutoff),
            ..EngagementParams::default()
        },
    )
    .unwrap();
    let stages = journey_stage::assign(
        base,
        &JourneyStageParams {
            as_of: Some(cutoff),
            ..JourneyStageParams::default()
        },
    )
    .unwrap();
    let prefs = preference::preferences(
        base,
        &PreferenceParams {
            as_of: Some(cutoff),
            ..PreferenceParams::default()
        },
    )
    .unwrap();
    let score = column(&set, "engagement_score");
    let rung = column(&set, "engagement_rung");
    let since = column(&set, "days_since_engagement");
    let share = column(&set, "preferred_share");
    let journey: Vec<Vec<f64>> = JourneyStage::ALL
        .iter()
        .map(|s| column(&set, &format!("journey:{}", s.as_str())))
        .collect();
    let preferred: Vec<Vec<f64>> = base
        .channels()
        .iter()
        .map(|ch| column(&set, &format!("preferred:{ch}")))
        .collect();
    let segment: Vec<Vec<f64>> = model
        .names
        .iter()
        .map(|n| column(&set, &format!("segment:{n}")))
        .collect();
    let (mut stage_seen, mut preferred_seen) = ([0usize; 6], 0usize);
    for (r, &c) in set.customer.iter().enumerate() {
        let e = &scored.customers[c as usize];
        assert_eq!(score[r], e.score, "row {r}");
        assert_eq!(
            rung[r],
            e.highest_rung.map_or(0.0, |g| (g.index() + 1) as f64)
        );
        match e.last_engagement {
            Some(t) => assert_abs_diff_eq!(
                since[r],
                cutoff.duration_since(t).as_secs_f64() / 86_400.0,
                epsilon = 1e-9
            ),
            None => assert!(since[r].is_nan()),
        }
        for (k, s) in JourneyStage::ALL.iter().enumerate() {
            let here = stages.assignments[c as usize].stage == Some(*s);
            assert_eq!(journey[k][r], f64::from(u8::from(here)), "row {r} {s:?}");
            stage_seen[k] += usize::from(here);
        }
        let pref = &prefs.customers[c as usize];
        for (k, ch) in base.channels().iter().enumerate() {
            assert_eq!(
                preferred[k][r],
                f64::from(u8::from(pref.preferred.as_ref() == Some(ch)))
            );
        }
        preferred_seen += usize::from(pref.preferred.is_some());
        assert_eq!(share[r], pref.preferred_share);
        assert_eq!(segment.iter().map(|s| s[r]).sum::<f64>(), 1.0, "row {r}");
    }
    // The population has customers in several stages and with a preferred channel.
    assert!(
        stage_seen.iter().filter(|&&n| n > 0).count() >= 3,
        "{stage_seen:?}"
    );
    assert!(preferred_seen > set.y.len() / 4, "{preferred_seen}");
    // The segments are the model's prediction from the base features at the cutoff.
    let base_only =
        training_set(base, &params(Label::Purchase, &["2024-09-01T00:00:00Z"])).unwrap();
    let m = custinsight::segment::features::FeatureMatrix::new(
        set.customer
            .iter()
            .map(|&c| base.customer_id(c).to_string())
            .collect(),
        base_only.feature_names.clone(),
        base_only.x.clone(),
    )
    .unwrap();
    let labels = model.predict(&m).unwrap();
    for (r, &l) in labels.iter().enumerate() {
        assert_eq!(segment[l][r], 1.0, "row {r}");
    }
    assert!(labels.iter().any(|&l| l != labels[0]));
}

/// A segmentation that needs a column the features lack is refused by name.
#[test]
fn a_segmentation_on_missing_columns_is_refused() {
    use custinsight::segment::features::FeatureMatrix;
    use custinsight::segment::kmeans::KMeansParams;
    use custinsight::segment::model::{ProfileContext, SegmentationParams};
    let (pop, cutoff, _) = context_case();
    let rows = custinsight::target::training::known_at(&pop.base, cutoff);
    let mut features =
        FeatureMatrix::from_base_rows(&pop.base, &FeatureSpec::default(), cutoff, rows.clone())
            .unwrap();
    let points = rows.iter().map(|&c| f64::from(c % 7)).collect();
    features.push_column("loyalty_points", points).unwrap();
    let model = SegmentationParams {
        kmeans: KMeansParams::new(3),
        ..SegmentationParams::default()
    }
    .fit(&features, ProfileContext::default())
    .unwrap()
    .model;
    let mut p = params(Label::Purchase, &["2024-09-01T00:00:00Z"]);
    p.context.segments = Some(model);
    let err = training_set(&pop.base, &p).unwrap_err();
    assert!(err.to_string().contains("loyalty_points"), "{err}");
}

/// A model's columns are picked from a scoring set by name; a column the
/// set lacks is named in the error.
#[test]
fn scoring_columns_are_selected_by_name() {
    use custinsight::target::training::scoring_set;
    let base = small_base();
    let score = scoring_set(
        &base,
        &FeatureSpec::default(),
        &FeatureContext::default(),
        ts("2024-03-01T00:00:00Z"),
    )
    .unwrap();
    let names = vec!["frequency".to_string(), "recency".to_string()];
    let x = score.select(&names).unwrap();
    let j = |n: &str| score.feature_names.iter().position(|f| f == n).unwrap();
    assert_eq!(x.column(0), score.x.column(j("frequency")));
    assert_eq!(x.column(1), score.x.column(j("recency")));
    assert!(matches!(
        score.select(&["p_alive".to_string()]),
        Err(Error::NotFound { id, .. }) if id == "p_alive"
    ));
}
