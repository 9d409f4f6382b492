//! Identity resolution applied to the data: the synthetic population's
//! source systems read from files, resolved, and merged into one base.

use std::path::PathBuf;

use custinsight::identity::{CustomerIdentity, IdentityParams, SourceRecords};
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
    let pop = Population::generate(&SynthParams::with_customers(3_000), 7).unwrap();
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
    let (identity, _) = CustomerIdentity::resolve(&records, &IdentityParams::default()).unwrap();
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
