//! Fuzz target: the settings and persisted models a service reads back as
//! JSON — identity settings and Fellegi–Sunter models, ingest options, round
//! parameters, a round's state and a scoring bundle. Whatever the bytes,
//! reading them gives a value or an error; a value that passes its check is
//! used (a bundle scores a customer) without a panic.
#![no_main]

use std::sync::OnceLock;

use custinsight::identity::fellegi_sunter::FsModel;
use custinsight::identity::settings::Settings;
use custinsight::ingest::{IngestOptions, parse_timestamp};
use custinsight::records::{Channel, Currency, CustomerId, Money, Transaction};
use custinsight::round::{RoundParams, RoundState, ScoringBundle};
use custinsight::store::OwnedHistory;
use libfuzzer_sys::fuzz_target;

/// One customer with two purchases, scored by every bundle the fuzzer builds.
fn history() -> &'static OwnedHistory {
    static HISTORY: OnceLock<OwnedHistory> = OnceLock::new();
    HISTORY.get_or_init(|| {
        let id = CustomerId::new("c1").expect("valid id");
        let eur = Currency::parse("EUR").expect("EUR");
        let purchase = |order: &str, at: &str, amount: &str| {
            Transaction::new(
                order,
                id.clone(),
                parse_timestamp(at).expect("valid timestamp"),
                Money::parse(amount, eur).expect("valid amount"),
                Channel::parse_lenient("web"),
            )
        };
        let transactions = [
            purchase("o1", "2024-01-05T10:00:00Z", "25.00"),
            purchase("o2", "2024-03-17T18:30:00Z", "40.50"),
        ];
        OwnedHistory::new(&transactions, &[]).expect("a valid history")
    })
}

fn score(bundle: &ScoringBundle) {
    let as_of = parse_timestamp("2024-06-30T00:00:00Z").expect("valid timestamp");
    let _ = bundle.score("c1", &history().view(), None, as_of);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    match selector % 7 {
        0 => {
            if let Ok(settings) = serde_json::from_slice::<Settings>(json) {
                let _ = settings.check();
            }
        }
        1 => {
            if let Ok(model) = serde_json::from_slice::<FsModel>(json) {
                let _ = model.check();
            }
        }
        2 => {
            if let Ok(opts) = serde_json::from_slice::<IngestOptions>(json) {
                let _ = opts.check();
            }
        }
        3 => {
            if let Ok(params) = serde_json::from_slice::<RoundParams>(json) {
                let _ = params.check();
            }
        }
        4 => {
            if let Ok(bundle) = serde_json::from_slice::<ScoringBundle>(json) {
                score(&bundle);
            }
        }
        5 => {
            if let Ok(state) = serde_json::from_slice::<RoundState>(json) {
                score(&ScoringBundle::from_state(&state));
            }
        }
        _ => {
            // Any JSON value at all, as the readers above see it first.
            let _ = serde_json::from_slice::<serde_json::Value>(json);
        }
    }
});
