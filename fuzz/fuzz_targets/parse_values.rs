//! Fuzz target: the parsers and normalisers a single field of a user's file
//! reaches: timestamps, currencies and money amounts, ids and source record
//! references, channel and touchpoint labels, and identity's name, e-mail,
//! phone, date and postcode normalisation. Each returns a value or an error,
//! never panics, and what it accepts it accepts again once normalised.
#![no_main]

use custinsight::identity::normalize::{
    self, DayMonthOrder, MailboxRules, fold, key, name_key, normalize_date, normalize_email,
    normalize_name, normalize_phone, normalize_postcode,
};
use custinsight::ingest::parse_timestamp;
use custinsight::records::{Channel, Currency, CustomerId, Money, SourceRecord, TouchpointKind};
use libfuzzer_sys::fuzz_target;

const COUNTRIES: [&str; 6] = ["DE", "GB", "US", "FR", "NL", "JP"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let country = COUNTRIES[(selector >> 4) as usize % COUNTRIES.len()];
    match selector % 12 {
        0 => {
            if let Ok(t) = parse_timestamp(raw) {
                // A timestamp printed by the library reads back as itself.
                assert_eq!(parse_timestamp(&t.to_string()), Ok(t));
            }
        }
        1 => {
            let currency = Currency::parse(raw.get(..3).unwrap_or("EUR"))
                .unwrap_or_else(|_| Currency::parse("EUR").expect("EUR is a currency"));
            if let Ok(m) = Money::parse(raw, currency) {
                let _ = m.to_f64();
                let _ = m.is_negative();
            }
        }
        2 => {
            if let Ok(id) = CustomerId::new(raw) {
                assert_eq!(CustomerId::new(id.as_str()).ok().as_ref(), Some(&id));
            }
            let _ = SourceRecord::parse(raw);
        }
        3 => {
            let _ = Channel::parse_known(raw);
            let _ = Channel::parse_lenient(raw);
            let _ = TouchpointKind::parse_lenient(raw);
        }
        4 => {
            let folded = fold(raw);
            let _ = key(raw);
            assert_eq!(fold(&folded), folded, "fold is idempotent");
        }
        5 => {
            if let Ok(name) = normalize_name(raw) {
                let _ = normalize::names_swapped(&name, &name);
            }
            let _ = name_key(raw);
        }
        6 => {
            let rules = if selector & 0x10 != 0 {
                MailboxRules::Provider
            } else {
                MailboxRules::AsWritten
            };
            let _ = normalize_email(raw, rules);
        }
        7 => {
            if let Ok(phone) = normalize_phone(raw, country) {
                assert_eq!(normalize_phone(&phone, country).ok().as_ref(), Some(&phone));
            }
        }
        8 => {
            let order = if selector & 0x10 == 0 {
                DayMonthOrder::DayFirst
            } else {
                DayMonthOrder::MonthFirst
            };
            let _ = normalize_date(raw, order);
        }
        9 => {
            let _ = normalize_postcode(raw, country);
        }
        10 => {
            let _ = Currency::parse(raw);
        }
        _ => {
            let _ = raw.parse::<CustomerId>();
        }
    }
});
