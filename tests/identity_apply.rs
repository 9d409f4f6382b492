//! Identity resolution applied to the data: the synthetic population's
//! source systems read from files, resolved, and merged into one base.

use std::path::PathBuf;

use custinsight::Error;
use custinsight::identity::{CustomerIdentity, IdEvent, IdentityParams, SourceRecords};
use custinsight::ingest::{self, IngestOptions, Loader};
use custinsight::records::{Channel, Purpose};
use custinsight::store::CustomerBase;
use custinsight::synth::{Population, SynthParams};

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Reads the files of `dir` into source records and a base of record-keyed events.
fn load(dir: &std::path::Path) -> (SourceRecords, CustomerBase) {
    let opts = IngestOptions::default();
    let (records, report) =
        ingest::read_source_records(dir.join("source_records.csv"), &opts).unwrap();
    assert!(report.is_clean(), "{:?}", report.rejections.first());
    let mut loader = Loader::new(opts);
    for r in [
        loader.customers_file(dir.join("customers.csv")).unwrap(),
        loader
            .transactions_file(dir.join("transactions.csv"))
            .unwrap(),
        loader
            .touchpoints_file(dir.join("touchpoints.csv"))
            .unwrap(),
        loader.consents_file(dir.join("consents.csv")).unwrap(),
    ] {
        assert!(r.is_clean(), "{:?}", r.rejections.first());
    }
    let (raw, _) = loader.finish().unwrap();
    (records, raw)
}

#[test]
fn merging_keeps_every_event_and_finds_the_customers() {
    let pop = Population::generate(&SynthParams::with_customers(3_000).with_seed(7)).unwrap();
    let out = dir("identity_apply_merge");
    pop.write_sources(&out, &pop.full_view()).unwrap();
    let (records, raw) = load(&out);
    assert_eq!(records.len(), pop.source_records.len());
    let raw_revenue: i128 = raw.tx_amount_units().iter().map(|&a| i128::from(a)).sum();
    let clean_revenue: i128 = pop
        .base
        .tx_amount_units()
        .iter()
        .map(|&a| i128::from(a))
        .sum();
    assert_eq!(raw_revenue, clean_revenue);
    let (identity, _) =
        CustomerIdentity::resolve(records.clone(), &IdentityParams::default()).unwrap();
    let (base, applied) = identity.apply(raw).unwrap();
    assert_eq!(applied.transactions.0, applied.transactions.1);
    assert_eq!(base.n_transactions(), pop.base.n_transactions());
    assert_eq!(base.n_touchpoints(), pop.base.n_touchpoints());
    assert_eq!(applied.consent_events.0, applied.consent_events.1);
    assert_eq!(applied.amount_units.0, applied.amount_units.1);
    assert_eq!(applied.without_record, 0);
    println!("{applied:?}");
    // Customers found against the truth.
    let truth: Vec<Option<u32>> = base
        .customer_indices()
        .map(|c| {
            let refs: Vec<String> = base
                .customer(c)
                .unwrap()
                .sources
                .iter()
                .map(|s| s.reference())
                .collect();
            pop.true_customer_of(refs.iter().map(String::as_str))
        })
        .collect();
    let found = truth
        .iter()
        .flatten()
        .collect::<std::collections::HashSet<_>>()
        .len();
    println!(
        "{} customers, {} true customers found",
        base.n_customers(),
        found
    );
    // Consent: the merged customer decides as the true customer does.
    let at = pop.observation_end;
    let agree = base
        .customer_indices()
        .filter(|&c| {
            let t = truth[c as usize].unwrap();
            base.allows(c, &Channel::Email, &Purpose::Marketing, at)
                == pop.base.allows(t, &Channel::Email, &Purpose::Marketing, at)
        })
        .count();
    println!("consent agrees for {agree} of {}", base.n_customers());
}

/// Settings that decide by e-mail or phone outright (deterministic rules),
/// so the tests below know exactly which records are one person.
fn rule_settings() -> custinsight::identity::settings::Settings {
    serde_json::from_str(
        r#"{
          "link_type": "dedupe",
          "columns": [{"column": "email", "kind": "email"},
                      {"column": "phone", "kind": "phone", "default_country": "DE"},
                      {"column": "family_name", "kind": "name"}],
          "deterministic_rules": [{"name": "same e-mail", "columns": ["email"]},
                                  {"name": "same phone", "columns": ["phone"]}],
          "blocking_rules": [{"name": "surname", "on": [{"column": "family_name"}]}],
          "comparisons": [{"name": "surname", "column": "family_name",
                           "method": {"kind": "jaro_winkler", "thresholds": [0.92, 0.8]}}]
        }"#,
    )
    .unwrap()
}

fn records(csv: &str) -> SourceRecords {
    let mut r = SourceRecords::new();
    let report = ingest::source_records(
        ingest::Format::Csv,
        csv.as_bytes(),
        &IngestOptions::default(),
        &mut r,
    )
    .unwrap();
    assert!(report.is_clean(), "{:?}", report.rejections);
    r
}

const RECORDS: &str = "source,source_key,given_name,family_name,email,phone\n\
    webshop,W1,Ann,Lee,ann@example.org,+49 30 1234567\n\
    loyalty,L1,ANN,LEE, Ann@Example.org ,\n\
    call_center,C1,Ann,Lee,,030 1234567\n\
    webshop,W2,Bob,Stone,bob@example.org,+49 40 7654321\n";

fn events() -> CustomerBase {
    let mut loader = Loader::new(IngestOptions::default());
    let tx = "source,customer_id,order_id,timestamp,amount,currency,channel\n\
              webshop,W1,o1,2024-01-05T10:00:00Z,10.05,EUR,web\n\
              webshop,W1,o2,2024-02-05T10:00:00Z,20.10,EUR,web\n\
              loyalty,L1,o3,2024-01-20T10:00:00Z,5.01,EUR,store\n\
              call_center,C1,o4,2024-03-01T10:00:00Z,99.99,EUR,call_center\n\
              webshop,W2,o5,2024-01-07T10:00:00Z,1.00,EUR,web\n\
              webshop,W9,o6,2024-01-08T10:00:00Z,2.00,EUR,web\n";
    let tp = "source,customer_id,timestamp,channel,kind\n\
              webshop,W1,2024-01-05T09:00:00Z,email,click\n\
              loyalty,L1,2024-01-20T09:00:00Z,store,visit\n";
    let consent = "source,customer_id,channel,purpose,status,timestamp\n\
                   webshop,W1,email,marketing,granted,2024-01-01T00:00:00Z\n\
                   loyalty,L1,email,marketing,withdrawn,2024-02-01T00:00:00Z\n\
                   webshop,W2,email,marketing,granted,2024-01-01T00:00:00Z\n";
    for r in [
        loader
            .transactions(ingest::Format::Csv, tx.as_bytes(), "tx")
            .unwrap(),
        loader
            .touchpoints(ingest::Format::Csv, tp.as_bytes(), "tp")
            .unwrap(),
        loader
            .consents(ingest::Format::Csv, consent.as_bytes(), "consent")
            .unwrap(),
    ] {
        assert!(r.is_clean(), "{:?}", r.rejections);
    }
    loader.finish().unwrap().0
}

fn params() -> IdentityParams {
    IdentityParams {
        settings: Some(rule_settings()),
        ..IdentityParams::default()
    }
}

#[test]
fn a_resolution_applied_moves_every_event_and_merges_consent() {
    let (identity, _) = CustomerIdentity::resolve(records(RECORDS), &params()).unwrap();
    assert_eq!(identity.customer_count(), 2);
    let ann = identity.customer_of("loyalty:L1").unwrap();
    assert_eq!(identity.customer_of("webshop:W1").as_ref(), Some(&ann));
    assert_eq!(identity.customer_of("call_center:C1").as_ref(), Some(&ann));
    assert_ne!(identity.customer_of("webshop:W2").as_ref(), Some(&ann));
    assert_eq!(identity.records_of(&ann).len(), 3);
    let raw = events();
    let (base, applied) = identity.apply(raw).unwrap();
    // Ann, Bob, and the events of a record nobody delivered, kept under its own id.
    assert_eq!(base.n_customers(), 3);
    assert_eq!(applied.without_record, 1);
    assert_eq!(applied.without_record_examples, ["webshop:W9"]);
    assert_eq!((applied.transactions.0, applied.transactions.1), (6, 6));
    assert_eq!((applied.touchpoints.0, applied.touchpoints.1), (2, 2));
    assert_eq!(applied.consent_events, (3, 3));
    // Revenue to the cent: Ann's four orders are hers.
    let a = base.index_of(&ann).unwrap();
    let ann_units: i64 = base
        .transaction_range(a)
        .map(|i| base.tx_amount_units()[i])
        .sum();
    assert_eq!(ann_units, 1_351_500); // 10.05 + 20.10 + 5.01 + 99.99 in 1/10,000 units
    assert_eq!(base.transaction_range(a).len(), 4);
    assert_eq!(base.touchpoint_range(a).len(), 2);
    let orders: Vec<&str> = base
        .transaction_range(a)
        .map(|i| base.order_id(i))
        .collect();
    assert_eq!(
        orders,
        ["o1", "o3", "o2", "o4"],
        "time order within the customer"
    );
    // The golden record is the profile; the records are its sources.
    let customer = base.customer(a).unwrap();
    assert_eq!(
        customer.profile.given_name.as_ref().unwrap().expose(),
        "Ann"
    );
    assert_eq!(customer.sources.len(), 3);
    // Consent: granted in the shop, withdrawn later at the till → withdrawn, and why.
    let at: jiff::Timestamp = "2024-06-01T00:00:00Z".parse().unwrap();
    assert!(!base.allows(a, &Channel::Email, &Purpose::Marketing, at));
    let why = customer
        .consent
        .explain(&Channel::Email, &Purpose::Marketing, at);
    assert!(why.reason.contains("loyalty:L1"), "{}", why.reason);
    let b = base
        .index_of(&identity.customer_of("webshop:W2").unwrap())
        .unwrap();
    assert!(base.allows(b, &Channel::Email, &Purpose::Marketing, at));
    // A golden record with provenance on demand.
    let golden = identity.golden_record(&ann).unwrap();
    assert_eq!(golden.members.len(), 3);
    assert!(matches!(
        identity.golden_record("C9999999"),
        Err(Error::NotFound { what: "customer", id }) if id == "C9999999"
    ));
}

#[test]
fn new_records_attach_with_stable_ids_and_merges_are_recorded() {
    let all = records(RECORDS);
    // First only the web shop and the loyalty programme.
    let first = records(
        "source,source_key,given_name,family_name,email,phone\n\
         webshop,W1,Ann,Lee,ann@example.org,+49 30 1234567\n\
         loyalty,L1,ANN,LEE, Ann@Example.org ,\n\
         webshop,W2,Bob,Stone,bob@example.org,+49 40 7654321\n",
    );
    let (mut identity, _) = CustomerIdentity::resolve(first, &params()).unwrap();
    let ann = identity.customer_of("webshop:W1").unwrap();
    let bob = identity.customer_of("webshop:W2").unwrap();
    // The state is serde data: a reloaded identity continues exactly alike.
    let json = serde_json::to_string(&identity).unwrap();
    let mut reloaded: CustomerIdentity = serde_json::from_str(&json).unwrap();
    let update = identity.update(&all).unwrap();
    assert_eq!(reloaded.update(&all).unwrap(), update);
    assert_eq!((update.new_records, update.known_records), (1, 3));
    assert_eq!(update.joined_existing, 1);
    assert_eq!(update.new_customers, 0);
    assert!(update.merges.is_empty());
    assert_eq!(identity.customer_of("call_center:C1").as_ref(), Some(&ann));
    assert_eq!(identity.customer_of("webshop:W2").as_ref(), Some(&bob));
    // Unchanged records are known; a changed one is counted, not re-resolved.
    let again = identity.update(&all).unwrap();
    assert_eq!(
        (
            again.new_records,
            again.known_records,
            again.changed_records
        ),
        (0, 4, 0)
    );
    // A new record with Ann's e-mail and Bob's phone connects them: Bob's id
    // (the larger) is retired into Ann's, and the map says so.
    let bridge = records(
        "source,source_key,given_name,family_name,email,phone\n\
         store_pos,S1,A.,Lee,ann@example.org,+49 40 7654321\n",
    );
    let update = identity.update(&bridge).unwrap();
    assert_eq!(update.merges.len(), 1);
    assert_eq!(
        update.merges[0],
        IdEvent::Merged {
            retired: bob.clone(),
            into: ann.clone(),
            update: 3
        }
    );
    assert_eq!(identity.current_id(&bob).as_ref(), Some(&ann));
    assert_eq!(identity.customer_of("webshop:W2").as_ref(), Some(&ann));
    assert!(identity.records_of(&bob).is_empty());
    // A reviewer separates them again: the part without Ann's first record gets a new id.
    let outcome = identity.unlink("store_pos:S1", "webshop:W2").unwrap();
    assert!(!outcome.removed.is_empty());
    let split = identity.events().last().unwrap();
    assert!(matches!(split, IdEvent::Split { from, into, .. } if from == &ann && into.len() == 1));
    assert_ne!(identity.customer_of("webshop:W2").as_ref(), Some(&ann));
}

#[test]
fn zero_config_respects_conflict_columns_without_a_second_fit() {
    // Two different people who share every identity field but their
    // existing customer number: a conflict column keeps them apart.
    let csv = "source,source_key,given_name,family_name,email,birth_date,customer_number\n\
               crm,1,Anna,Meier,anna.meier@example.org,1980-01-02,K-1\n\
               crm,2,Anna,Meier,anna.meier@example.org,1980-01-02,K-2\n\
               shop,3,Anna,Meier,anna.meier@example.org,1980-01-02,\n";
    let mut many = String::from(csv);
    // Enough other people for zero-config's profile and EM.
    for i in 0..300 {
        many.push_str(&format!(
            "shop,x{i},Person{i},Family{},p{i}@example.org,19{:02}-0{}-1{},\n",
            i % 37,
            50 + i % 40,
            1 + i % 9,
            i % 10
        ));
    }
    let plain = CustomerIdentity::resolve(records(&many), &IdentityParams::default())
        .unwrap()
        .0;
    assert_eq!(plain.customer_of("crm:1"), plain.customer_of("crm:2"));
    let guarded = CustomerIdentity::resolve(
        records(&many),
        &IdentityParams {
            conflict_columns: vec!["customer_number".into()],
            exclude: vec!["customer_number".into()],
            ..IdentityParams::default()
        },
    )
    .unwrap()
    .0;
    assert_ne!(guarded.customer_of("crm:1"), guarded.customer_of("crm:2"));
    // The record without a number may still join one of them.
    let shop = guarded.customer_of("shop:3");
    assert!(shop == guarded.customer_of("crm:1") || shop == guarded.customer_of("crm:2"));
}
