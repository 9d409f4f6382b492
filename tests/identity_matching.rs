//! Identity resolution through the resolver on small hand-made record sets,
//! each built so that one behaviour decides the outcome: name order, term
//! frequencies, deterministic rules, conflict guards, link mode, the
//! expected precision/recall table, where `m` came from, labelled pairs,
//! malformed models, and zero-config blocking without a rule in budget.

use custinsight::Error;
use custinsight::identity::RecordTable;
use custinsight::identity::auto::{auto_settings, resolve_auto};
use custinsight::identity::fellegi_sunter::FsModel;
use custinsight::identity::resolve::{LabelledPair, MSource, Resolver};
use custinsight::identity::settings::Settings;
use custinsight::synth::{Population, SynthParams};
use serde_json::json;

fn table(columns: &[&str], rows: &[(&str, &[Option<&str>])]) -> RecordTable {
    let mut t = RecordTable::new(columns.iter().copied()).unwrap();
    for (id, values) in rows {
        t.push(*id, values.iter().copied()).unwrap();
    }
    t
}

fn settings(value: serde_json::Value) -> Settings {
    let s: Settings = serde_json::from_value(value).unwrap();
    s.check().unwrap();
    s
}

fn index(t: &RecordTable, id: &str) -> u32 {
    t.ids().iter().position(|i| i == id).unwrap() as u32
}

/// A fixed model, so the outcome does not depend on what EM makes of a
/// handful of records.
fn model(names: &[&str], m: Vec<Vec<f64>>, u: Vec<Vec<f64>>, lambda: f64) -> serde_json::Value {
    json!({
        "names": names,
        "m": m,
        "u": u,
        "lambda": lambda,
        "fixed_m": vec![false; names.len()],
    })
}

#[test]
fn family_given_order_and_case_of_cjk_names_match_through_the_resolver() {
    let t = table(
        &["name", "email"],
        &[
            ("a", &[Some("Müller, Hans"), Some("hans@example.com")]),
            ("b", &[Some("Hans Müller"), Some("h.mueller@example.org")]),
            ("c", &[Some("YAMADA 太郎"), Some("taro@example.jp")]),
            ("d", &[Some("yamada 太郎"), Some("yamada@example.jp")]),
            ("e", &[Some("Anna Schmidt"), Some("anna@example.com")]),
        ],
    );
    let s = settings(json!({
        "columns": [{"column": "name", "kind": "name"}, {"column": "email", "kind": "email"}],
        "blocking_rules": [{"name": "name", "on": [{"column": "name"}]}],
        "comparisons": [
            {"name": "name", "column": "name", "method": {"kind": "jaro_winkler", "thresholds": [0.92]}},
            {"name": "email", "column": "email", "method": {"kind": "exact"}},
        ],
        "model": model(&["name", "email"],
            vec![vec![0.05, 0.15, 0.8], vec![0.2, 0.8]],
            vec![vec![0.9, 0.09, 0.01], vec![0.99, 0.01]], 0.1),
    }));
    let (resolver, resolution) = Resolver::fit(&[&t], &s).unwrap();
    let names = resolver.prepared().column("name").unwrap();
    assert_eq!(names.value(0), Some("hans muller"));
    assert_eq!(names.value(0), names.value(1));
    assert_eq!(names.value(2), Some("yamada太郎"));
    assert_eq!(names.value(2), names.value(3));
    // The raw values are kept as written.
    assert_eq!(t.value(0, 0), Some("Müller, Hans"));
    assert_eq!(t.value(2, 0), Some("YAMADA 太郎"));
    for (a, b) in [("a", "b"), ("c", "d")] {
        let (a, b) = (index(&t, a), index(&t, b));
        let e = resolver.explain(a, b).unwrap();
        assert_eq!(e.model.fields[0].level, 2, "exact name agreement");
        assert!(
            resolution
                .matches
                .iter()
                .any(|p| (p.left, p.right) == (a.min(b), a.max(b))),
            "blocked on the name and matched"
        );
        assert_eq!(resolver.entities().entity(a), resolver.entities().entity(b));
    }
    assert_eq!(resolution.candidate_pairs, 2);
}

#[test]
fn agreeing_on_a_rare_surname_weighs_more_than_on_a_common_one() {
    let mut rows: Vec<(String, [Option<String>; 2])> = Vec::new();
    for i in 0..30 {
        let given = if i < 2 {
            "anna".to_owned()
        } else {
            format!("g{i}")
        };
        rows.push((format!("s{i}"), [Some("Smith".into()), Some(given)]));
    }
    for i in 0..2 {
        rows.push((
            format!("z{i}"),
            [Some("Zabrowski".into()), Some("anna".into())],
        ));
    }
    for i in 0..8 {
        rows.push((
            format!("o{i}"),
            [Some(format!("Other{i}")), Some(format!("h{i}"))],
        ));
    }
    let mut t = RecordTable::new(["surname", "given"]).unwrap();
    for (id, values) in &rows {
        t.push(id.clone(), values.iter().map(|v| v.as_deref()))
            .unwrap();
    }
    let s = settings(json!({
        "columns": [{"column": "surname", "kind": "name"}, {"column": "given", "kind": "name"}],
        "blocking_rules": [{"name": "surname", "on": [{"column": "surname"}]}],
        "comparisons": [
            {"name": "surname", "column": "surname", "method": {"kind": "exact"}},
            {"name": "given", "column": "given", "method": {"kind": "exact"}},
        ],
        "term_frequency": ["surname"],
        "model": model(&["surname", "given"],
            vec![vec![0.1, 0.9], vec![0.1, 0.9]],
            vec![vec![0.8, 0.2], vec![0.95, 0.05]], 0.05),
    }));
    let (resolver, _) = Resolver::fit(&[&t], &s).unwrap();
    // Both pairs agree exactly on surname and given name: only the
    // surname's frequency differs (30 of 40 records against 2 of 40).
    let common = resolver.explain(index(&t, "s0"), index(&t, "s1")).unwrap();
    let rare = resolver.explain(index(&t, "z0"), index(&t, "z1")).unwrap();
    assert_eq!(common.model.weight, rare.model.weight);
    let (tf_common, tf_rare) = (common.term_frequency[0].1, rare.term_frequency[0].1);
    assert_eq!(common.term_frequency[0].0, "surname");
    assert!(tf_rare > 0.0 && tf_common < 0.0, "{tf_rare} {tf_common}");
    // log2(tf_common / tf_rare) = log2(30 / 2).
    assert!((tf_rare - tf_common - (15f64).log2()).abs() < 1e-9);
    assert!(rare.weight > common.weight + 3.0);
    assert!(rare.probability > common.probability);
}

#[test]
fn a_deterministic_rule_forces_a_match_whatever_the_other_fields_say() {
    let t = table(
        &["card", "name"],
        &[
            ("a", &[Some("C-1001"), Some("Hans Müller")]),
            ("b", &[Some("c 1001"), Some("Petra Schulz")]),
            ("c", &[Some("C-2002"), Some("Petra Schulz")]),
            ("d", &[None, Some("Karl Weber")]),
        ],
    );
    let s = settings(json!({
        "columns": [{"column": "card", "kind": "identifier"}, {"column": "name", "kind": "name"}],
        "deterministic_rules": [{"name": "same card", "columns": ["card"]}],
        "blocking_rules": [],
        "comparisons": [{"name": "name", "column": "name", "method": {"kind": "exact"}}],
        "model": model(&["name"], vec![vec![0.05, 0.95]], vec![vec![0.999, 0.001]], 0.01),
    }));
    let (resolver, resolution) = Resolver::fit(&[&t], &s).unwrap();
    let (a, b) = (index(&t, "a"), index(&t, "b"));
    let e = resolver.explain(a, b).unwrap();
    assert!(e.weight < -5.0, "the names disagree: {}", e.weight);
    assert_eq!(e.rule.as_deref(), Some("same card"));
    assert_eq!(e.probability, 1.0);
    let pair = &resolution.matches[0];
    assert_eq!((pair.left, pair.right), (a, b));
    assert_eq!(pair.rule.as_deref(), Some("same card"));
    assert_eq!(pair.probability, 1.0);
    assert_eq!(resolution.matches.len(), 1);
    assert_eq!(resolver.entities().entity(a), resolver.entities().entity(b));
    assert_ne!(
        resolver.entities().entity(b),
        resolver.entities().entity(index(&t, "c"))
    );
}

#[test]
fn a_conflict_column_blocks_a_merge_the_scores_ask_for() {
    let t = table(
        &["name", "phone", "email"],
        &[
            (
                "a",
                &[
                    Some("Hans Müller"),
                    Some("030 1234567"),
                    Some("hans@example.com"),
                ],
            ),
            (
                "b",
                &[
                    Some("Hans Mueller"),
                    Some("+49 30 1234567"),
                    Some("h.m@example.org"),
                ],
            ),
            ("c", &[Some("Petra Schulz"), Some("040 7654321"), None]),
        ],
    );
    let mut value = json!({
        "columns": [
            {"column": "name", "kind": "name"},
            {"column": "phone", "kind": "phone", "default_country": "DE"},
            {"column": "email", "kind": "email"},
        ],
        "blocking_rules": [{"name": "phone", "on": [{"column": "phone"}]}],
        "comparisons": [
            {"name": "name", "column": "name", "method": {"kind": "jaro_winkler", "thresholds": [0.9]}},
            {"name": "phone", "column": "phone", "method": {"kind": "exact"}},
        ],
        "model": model(&["name", "phone"],
            vec![vec![0.05, 0.15, 0.8], vec![0.1, 0.9]],
            vec![vec![0.9, 0.09, 0.01], vec![0.999, 0.001]], 0.01),
    });
    let (a, b) = (index(&t, "a"), index(&t, "b"));
    // Without the guard the two records are one customer …
    let (free, resolution) = Resolver::fit(&[&t], &settings(value.clone())).unwrap();
    assert_eq!(resolution.matches.len(), 1);
    assert_eq!(free.entities().entity(a), free.entities().entity(b));
    // … with the e-mail as a conflict column, two different addresses block it.
    value["cluster"] = json!({"conflict_columns": ["email"]});
    let (guarded, resolution) = Resolver::fit(&[&t], &settings(value)).unwrap();
    assert_eq!(resolution.matches.len(), 1, "still a match by score");
    assert_ne!(guarded.entities().entity(a), guarded.entities().entity(b));
    let refused = guarded.entities().refused();
    assert_eq!(refused.len(), 1);
    assert_eq!((refused[0].pair.left, refused[0].pair.right), (a, b));
    assert_eq!(guarded.entities().entity_count(), 3);
}

#[test]
fn link_mode_pairs_records_across_tables_only() {
    let row: &[Option<&str>] = &[Some("Hans Müller"), Some("hans@example.com")];
    let left = table(&["name", "email"], &[("l1", row), ("l2", row)]);
    let right = table(
        &["name", "email"],
        &[
            ("r1", row),
            ("r2", &[Some("Petra Schulz"), Some("petra@example.com")]),
            ("r3", &[Some("Petra Schulz"), Some("petra@example.com")]),
        ],
    );
    let value = json!({
        "link_type": "link",
        "columns": [{"column": "name", "kind": "name"}, {"column": "email", "kind": "email"}],
        "blocking_rules": [{"name": "email", "on": [{"column": "email"}]}],
        "comparisons": [
            {"name": "name", "column": "name", "method": {"kind": "exact"}},
            {"name": "email", "column": "email", "method": {"kind": "exact"}},
        ],
        "model": model(&["name", "email"],
            vec![vec![0.1, 0.9], vec![0.1, 0.9]],
            vec![vec![0.99, 0.01], vec![0.99, 0.01]], 0.01),
    });
    let s = settings(value);
    let (resolver, resolution) = Resolver::fit(&[&left, &right], &s).unwrap();
    // l1–r1 and l2–r1; never l1–l2 (same table), nor r2–r3.
    assert_eq!(resolution.candidate_pairs, 2);
    let pairs: Vec<(u32, u32)> = resolution
        .matches
        .iter()
        .map(|p| (p.left, p.right))
        .collect();
    assert_eq!(pairs.len(), 2);
    for (a, b) in &pairs {
        assert_ne!(
            resolver.prepared().side(*a as usize),
            resolver.prepared().side(*b as usize)
        );
    }
    let e = resolver.entities();
    assert_eq!(e.entity(0), e.entity(1), "joined through r1");
    assert_eq!(e.entity(0), e.entity(2));
    assert_ne!(e.entity(3), e.entity(4), "same table, never compared");
    assert_eq!(e.entity_count(), 3);
    // Link mode needs two tables.
    assert!(matches!(
        Resolver::fit(&[&left], &s),
        Err(Error::InvalidParameter {
            name: "link_type",
            ..
        })
    ));
}

fn population(customers: usize, seed: u64) -> (RecordTable, Vec<u32>) {
    let population =
        Population::generate(&SynthParams::with_customers(customers).with_seed(seed)).unwrap();
    (
        custinsight::synth::record_table(&population.source_records).expect("records"),
        population.truth.source_record_customer,
    )
}

#[test]
fn expected_precision_and_recall_by_threshold_are_monotone_and_sane() {
    let (t, _) = population(1_500, 21);
    let (auto, _, resolution) = resolve_auto(&[&t], 0.7).unwrap();
    let table = &resolution.tradeoff;
    assert!(table.len() >= 8);
    assert!(
        table.iter().any(|p| p.threshold == 0.7),
        "the threshold in use is listed"
    );
    assert!(table.windows(2).all(|w| w[0].threshold < w[1].threshold));
    for w in table.windows(2) {
        let (lo, hi) = (&w[0], &w[1]);
        assert!(hi.pairs <= lo.pairs, "{lo:?} {hi:?}");
        assert!(hi.expected_recall <= lo.expected_recall + 1e-12);
        assert!(hi.expected_precision >= lo.expected_precision - 1e-12);
    }
    for p in table {
        assert!((0.0..=1.0).contains(&p.expected_precision));
        assert!((0.0..=1.0).contains(&p.expected_recall));
        if p.pairs > 0 {
            // The mean probability of pairs at or above t is at least t.
            assert!(p.expected_precision >= p.threshold, "{p:?}");
        }
    }
    let at = table.iter().find(|p| p.threshold == 0.7).unwrap();
    assert_eq!(at.pairs, resolution.matches.len());
    assert!(table[0].pairs > 0 && table[0].pairs <= resolution.candidate_pairs);
    assert_eq!(auto.settings.threshold, 0.7);
}

/// Five records: every key rule finds fewer than 50 pairs, so EM cannot
/// estimate m anywhere, and the report says so, comparison by comparison.
#[test]
fn m_left_at_the_start_value_is_reported_and_priors_and_fixed_m_apply() {
    let t = table(
        &["name", "city", "email"],
        &[
            (
                "a",
                &[
                    Some("Hans Müller"),
                    Some("Berlin"),
                    Some("hans@example.com"),
                ],
            ),
            (
                "b",
                &[
                    Some("Hans Muller"),
                    Some("Berlin"),
                    Some("hans@example.com"),
                ],
            ),
            (
                "c",
                &[
                    Some("Petra Schulz"),
                    Some("Hamburg"),
                    Some("petra@example.com"),
                ],
            ),
            ("d", &[Some("Petra Schulz"), Some("Hamburg"), None]),
            (
                "e",
                &[Some("Karl Weber"), Some("Berlin"), Some("karl@example.com")],
            ),
        ],
    );
    let mut value = json!({
        "columns": [
            {"column": "name", "kind": "name"},
            {"column": "city", "kind": "name"},
            {"column": "email", "kind": "email"},
        ],
        "blocking_rules": [
            {"name": "city", "on": [{"column": "city"}]},
            {"name": "sorted names", "on": [{"column": "name"}], "window": 3},
        ],
        "comparisons": [
            {"name": "name", "column": "name", "method": {"kind": "jaro_winkler", "thresholds": [0.9]}},
            {"name": "city", "column": "city", "method": {"kind": "exact"}},
            {"name": "email", "column": "email", "method": {"kind": "exact"}},
        ],
    });
    let (resolver, resolution) = Resolver::fit(&[&t], &settings(value.clone())).unwrap();
    let report = &resolution.m_estimation;
    assert_eq!(report.len(), 3);
    for r in report {
        assert_eq!(r.source, MSource::Start, "{r:?}");
        assert!(!r.is_estimated());
        assert!(r.rules.is_empty());
        assert!(
            r.not_estimated
                .iter()
                .any(|w| w.contains("sorted-neighbourhood")),
            "{r:?}"
        );
    }
    let city = &report[1];
    assert!(
        city.not_estimated
            .iter()
            .any(|w| w.contains("blocks on its column"))
    );
    let name = &report[0];
    assert!(
        name.not_estimated
            .iter()
            .any(|w| w.contains("fewer than the 50")),
        "{name:?}"
    );
    assert_eq!(resolver.model().m[2], vec![0.1, 0.9], "the start value");

    // A prior where nothing is estimable gives its mean; fixed m stays.
    value["estimation"] = json!({
        "m_prior": {"email": [1.0, 19.0]},
        "fixed_m": {"name": [0.1, 0.2, 0.7]},
    });
    let (resolver, resolution) = Resolver::fit(&[&t], &settings(value.clone())).unwrap();
    let sources: Vec<MSource> = resolution.m_estimation.iter().map(|r| r.source).collect();
    assert_eq!(
        sources,
        vec![MSource::Fixed, MSource::Start, MSource::Prior]
    );
    assert!((resolver.model().m[2][1] - 0.95).abs() < 1e-6);
    assert_eq!(resolver.model().m[0], vec![0.1, 0.2, 0.7]);
    // A prior of the wrong shape is an error naming the comparison.
    value["estimation"] = json!({"m_prior": {"email": [1.0]}});
    match Resolver::fit(&[&t], &settings(value)) {
        Err(Error::InvalidParameter { name, value, .. }) => {
            assert_eq!((name, value.as_str()), ("m_prior", "email"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn m_estimated_by_em_names_its_rules_on_the_synthetic_population() {
    let (t, _) = population(1_500, 22);
    let (_, _, resolution) = resolve_auto(&[&t], 0.5).unwrap();
    let report = &resolution.m_estimation;
    assert!(report.iter().any(|r| r.source == MSource::Em));
    for r in report {
        match r.source {
            MSource::Em => assert!(!r.rules.is_empty(), "{r:?}"),
            _ => assert!(!r.not_estimated.is_empty(), "{r:?}"),
        }
    }
}

#[test]
fn m_from_labelled_pairs_through_the_resolver() {
    let (t, truth) = population(1_500, 23);
    let auto = auto_settings(&[&t]).unwrap();
    let (mut resolver, _) = Resolver::fit(&[&t], &auto.settings).unwrap();
    // A reviewer's labels: true pairs of records of one customer, and
    // neighbours of different customers.
    let mut labels = Vec::new();
    for r in 1..t.len() {
        let same = truth[r] == truth[r - 1];
        if same && labels.iter().filter(|l: &&LabelledPair| l.is_match).count() < 300 {
            labels.push(LabelledPair::new(&t.ids()[r - 1], &t.ids()[r], true));
        } else if !same && labels.len() < 600 {
            labels.push(LabelledPair::new(&t.ids()[r - 1], &t.ids()[r], false));
        }
    }
    let matches: Vec<(u32, u32)> = labels
        .iter()
        .filter(|l| l.is_match)
        .map(|l| (index(&t, &l.left_id), index(&t, &l.right_id)))
        .collect();
    assert!(matches.len() >= 100);
    let resolution = resolver.fit_labelled(&labels).unwrap();
    let model = resolver.model().clone();
    // m of each comparison is its levels' shares among the labelled matches.
    for (k, r) in resolution.m_estimation.iter().enumerate() {
        assert_eq!(r.source, MSource::Labelled, "{r:?}");
        let mut counts = vec![0.0; model.m[k].len()];
        for &(a, b) in &matches {
            let level = resolver.explain(a, b).unwrap().model.fields[k].level;
            if level >= 0 {
                counts[level as usize] += 1.0;
            }
        }
        let total: f64 = counts.iter().sum();
        for (m, c) in model.m[k].iter().zip(&counts) {
            assert!(
                (m - c / total).abs() < 1e-6,
                "{}: {m} vs {}",
                r.comparison,
                c / total
            );
        }
    }
    assert!(resolution.em.is_some(), "λ re-estimated");
    let q = resolver.entities().pairwise_quality(&truth).unwrap();
    assert!(q.precision >= 0.95 && q.recall >= 0.9, "{q:?}");
    // Bad labels are errors and change nothing.
    let before = resolver.entities().entity_of().to_vec();
    let unknown = [LabelledPair::new("nobody", &t.ids()[0], true)];
    assert!(matches!(
        resolver.fit_labelled(&unknown),
        Err(Error::NotFound { .. })
    ));
    let only_non = [LabelledPair::new(&t.ids()[0], &t.ids()[1], false)];
    assert!(matches!(
        resolver.fit_labelled(&only_non),
        Err(Error::EmptyInput { .. })
    ));
    let itself = [LabelledPair::new(&t.ids()[0], &t.ids()[0], true)];
    assert!(matches!(
        resolver.fit_labelled(&itself),
        Err(Error::InvalidValue {
            what: "labelled pair",
            ..
        })
    ));
    assert_eq!(resolver.entities().entity_of(), &before[..]);
    assert_eq!(resolver.model(), &model);
}

/// A settings file's `model` edited out of shape is a typed error naming
/// the problem, not a panic later in scoring or explaining.
#[test]
fn malformed_models_in_settings_are_errors() {
    let (t, _) = population(400, 24);
    let auto = auto_settings(&[&t]).unwrap();
    let (resolver, _) = Resolver::fit(&[&t], &auto.settings).unwrap();
    let saved = resolver.settings();
    let good: FsModel = saved.model.clone().unwrap();
    type Edit = fn(&mut FsModel);
    let edits: [(&str, Edit); 8] = [
        ("names", |m| m.names.truncate(m.names.len() - 1)),
        ("fixed_m", |m| m.fixed_m.truncate(1)),
        ("u", |m| m.u.truncate(m.u.len() - 1)),
        ("u levels", |m| {
            let _ = m.u[0].pop();
        }),
        ("m and u levels", |m| {
            let _ = (m.u[0].pop(), m.m[0].pop());
        }),
        ("renamed", |m| m.names[0] = "something else".into()),
        ("λ", |m| m.lambda = 1.5),
        ("zero u", |m| m.u[0][0] = 0.0),
    ];
    for (what, edit) in edits {
        let mut model = good.clone();
        edit(&mut model);
        let mut s = saved.clone();
        s.model = Some(model);
        // Through JSON, as a hand-edited settings file arrives.
        let s: Settings = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        match Resolver::fit(&[&t], &s) {
            Err(Error::InvalidParameter { name, value, .. }) => {
                assert!(name.starts_with("model"), "{what}: {name}");
                assert!(!value.is_empty(), "{what}");
            }
            Err(other) => panic!("{what}: unexpected error {other}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
    // The saved model itself is accepted and explains pairs.
    let (again, _) = Resolver::fit(&[&t], &saved).unwrap();
    assert!(again.explain(0, 1).is_ok());
}

/// Two category columns, each of two values over 700 records: every
/// blocking key finds more pairs than the budget (50,000). Zero-config mode
/// takes the cheapest key rather than refusing.
#[test]
fn zero_config_falls_back_to_the_cheapest_blocking_rule() {
    let mut t = RecordTable::new(["city", "colour"]).unwrap();
    for r in 0..700 {
        let city = if r % 2 == 0 { "Berlin" } else { "Hamburg" };
        let colour = if (r / 2) % 2 == 0 { "red" } else { "blue" };
        t.push(format!("r{r}"), [Some(city), Some(colour)]).unwrap();
    }
    let auto = auto_settings(&[&t]).unwrap();
    assert_eq!(auto.settings.blocking_rules.len(), 1);
    let taken: Vec<&(String, f64, bool)> =
        auto.blocking_candidates.iter().filter(|c| c.2).collect();
    assert_eq!(taken.len(), 1);
    let cheapest = auto
        .blocking_candidates
        .iter()
        .filter(|c| c.1 > 0.0)
        .map(|c| c.1)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(taken[0].1, cheapest);
    assert!(cheapest > 50_000.0, "over budget: {cheapest}");
    assert_eq!(auto.settings.blocking_rules[0].name, taken[0].0);
}
