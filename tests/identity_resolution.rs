//! Identity resolution end to end on the synthetic dirty population, whose
//! true customer behind every source record is known.

use custinsight::Error;
use custinsight::identity::RecordTable;
use custinsight::identity::auto::{auto_settings, resolve_auto};
use custinsight::identity::cluster::Entities;
use custinsight::identity::resolve::Resolver;
use custinsight::identity::settings::Settings;
use custinsight::synth::{Population, SynthParams};
use proptest::prelude::*;

/// Pairwise precision and recall of the entities against the true customers.
fn pairwise(entities: &Entities, truth: &[u32]) -> (f64, f64) {
    let q = entities.pairwise_quality(truth).unwrap();
    (q.precision, q.recall)
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
fn zero_config_meets_precision_and_recall_on_the_synthetic_population() {
    for seed in [7, 8] {
        let (table, truth) = population(6_000, seed);
        let (auto, resolver, resolution) = resolve_auto(&[&table], 0.5).unwrap();
        // The one-call path equals choosing settings, then fitting with them.
        let chosen = auto_settings(&[&table]).unwrap();
        assert_eq!(chosen, auto);
        let (refit, _) = Resolver::fit(&[&table], &chosen.settings).unwrap();
        assert_eq!(
            refit.entities().entity_of(),
            resolver.entities().entity_of()
        );
        let (precision, recall) = pairwise(resolver.entities(), &truth);
        assert!(
            precision >= 0.98 && recall >= 0.95,
            "seed {seed}: precision {precision}, recall {recall}, {resolution:?}"
        );
        // The settings name what was chosen: blocking rules, comparisons, TF.
        assert!(!auto.settings.blocking_rules.is_empty());
        assert!(
            auto.settings
                .term_frequency
                .contains(&"family_name".to_owned())
        );
        // Every record in exactly one entity.
        let mut seen = vec![0u32; table.len()];
        for (_, members) in resolver.entities().iter() {
            for &m in members {
                seen[m as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
    }
}

#[test]
fn saved_settings_reproduce_the_resolution_without_refitting() {
    let (table, _) = population(1_500, 3);
    let auto = auto_settings(&[&table]).unwrap();
    let (resolver, resolution) = Resolver::fit(&[&table], &auto.settings).unwrap();
    let json = serde_json::to_string(&resolver.settings()).unwrap();
    let saved: Settings = serde_json::from_str(&json).unwrap();
    assert!(saved.model.is_some());
    let (again, second) = Resolver::fit(&[&table], &saved).unwrap();
    assert!(second.em.is_none());
    assert_eq!(second.matches.len(), resolution.matches.len());
    assert_eq!(
        again.entities().entity_of(),
        resolver.entities().entity_of()
    );
}

#[test]
fn incremental_records_join_existing_customers_with_stable_ids() {
    let (table, truth) = population(3_000, 11);
    // Two records in three fitted, the third added later (a customer's
    // records are adjacent, so many new records belong to fitted customers).
    let mut order: Vec<usize> = (0..table.len()).filter(|r| r % 3 != 2).collect();
    let cut = order.len();
    order.extend((0..table.len()).filter(|r| r % 3 == 2));
    let truth: Vec<u32> = order.iter().map(|&r| truth[r]).collect();
    let mut first = RecordTable::new(table.columns().to_vec()).unwrap();
    let mut rest = RecordTable::new(table.columns().to_vec()).unwrap();
    for (i, &r) in order.iter().enumerate() {
        let target = if i < cut { &mut first } else { &mut rest };
        target
            .push(
                table.ids()[r].clone(),
                table.row(r).iter().map(|v| v.as_deref()),
            )
            .unwrap();
    }
    let auto = auto_settings(&[&first]).unwrap();
    let (mut resolver, _) = Resolver::fit(&[&first], &auto.settings).unwrap();
    let before: Vec<u32> = resolver.entities().entity_of().to_vec();
    let increment = resolver.add(&rest, 0).unwrap();
    assert_eq!(increment.records, cut as u32..table.len() as u32);
    assert!(increment.joined_existing > 0);
    let entities = resolver.entities();
    // Old records keep their entity id unless a new record merged two of them.
    for (r, &e) in before.iter().enumerate() {
        assert_eq!(entities.resolve(e), entities.entity(r as u32));
    }
    let (precision, recall) = pairwise(entities, &truth);
    assert!(precision >= 0.98 && recall >= 0.95, "{precision} {recall}");
    // A table without the settings' columns is an error and changes nothing.
    let mut other = RecordTable::new(["x"]).unwrap();
    other.push("z", [Some("1")]).unwrap();
    assert!(matches!(
        resolver.add(&other, 0),
        Err(Error::NotFound { what: "column", .. })
    ));
    assert_eq!(resolver.entities().n_records(), table.len());
}

#[test]
fn explanation_adds_up_to_the_match_weight() {
    let (table, truth) = population(1_500, 5);
    let auto = auto_settings(&[&table]).unwrap();
    let (resolver, resolution) = Resolver::fit(&[&table], &auto.settings).unwrap();
    let pair = resolution
        .matches
        .iter()
        .find(|p| truth[p.left as usize] == truth[p.right as usize])
        .unwrap();
    let e = resolver.explain(pair.left, pair.right).unwrap();
    let fields: f64 = e.model.fields.iter().map(|f| f.weight).sum();
    let tf: f64 = e.term_frequency.iter().map(|(_, w)| w).sum();
    assert!((e.model.prior_weight + fields + tf - pair.weight).abs() < 1e-9);
    assert!((e.weight - pair.weight).abs() < 1e-9);
    assert!(matches!(
        resolver.explain(0, u32::MAX),
        Err(Error::NotFound { what: "record", id }) if id == u32::MAX.to_string()
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn every_record_lands_in_exactly_one_entity(
        rows in proptest::collection::vec(
            ("[ab]{1,3}", "[xyz]{0,2}", "(a@b\\.de|c@d\\.de|)", "19[89][0-9]-0[1-9]-1[0-9]"),
            0..60,
        ),
    ) {
        // Two copies of one record and a different one first: every column
        // has two distinct values and some key is shared, so zero-config
        // mode has something to match and must accept every generated case
        // (no case passes by being refused).
        let mut table = RecordTable::new(["given_name", "family_name", "email", "birth_date"]).unwrap();
        let fixed = [
            ["anna", "meier", "anna@example.de", "1985-02-11"],
            ["anna", "meier", "anna@example.de", "1985-02-11"],
            ["bert", "kurz", "bert@example.de", "1990-07-13"],
        ];
        for (i, row) in fixed.iter().enumerate() {
            table.push(format!("f{i}"), row.iter().map(|v| Some(*v))).unwrap();
        }
        for (i, (g, f, e, d)) in rows.iter().enumerate() {
            table.push(format!("r{i}"), [Some(g.as_str()), Some(f.as_str()), Some(e.as_str()), Some(d.as_str())]).unwrap();
        }
        let auto = auto_settings(&[&table])
            .map_err(|e| TestCaseError::fail(format!("zero-config refused: {e}")))?;
        let (resolver, _) = Resolver::fit(&[&table], &auto.settings)
            .map_err(|e| TestCaseError::fail(format!("fit failed: {e}")))?;
        let mut seen = vec![0u32; table.len()];
        for (_, members) in resolver.entities().iter() {
            for &m in members {
                seen[m as usize] += 1;
            }
        }
        prop_assert!(seen.iter().all(|&n| n == 1));
        prop_assert_eq!(resolver.entities().entity_of().len(), table.len());
    }
}
