//! Which fields each record kind has and needs, and how header names and JSON keys are matched to them.

use super::options::IngestOptions;
use super::rows;

/// The fields of one record kind.
pub(crate) struct Schema {
    /// The record kind, as errors name the input (`transactions`, …).
    pub(super) name: &'static str,
    pub(super) fields: &'static [rows::Field],
    pub(super) required: &'static [rows::Field],
}

impl Schema {
    pub(super) fn required<'a>(
        &'a self,
        opts: &'a IngestOptions,
    ) -> impl Iterator<Item = rows::Field> + 'a {
        self.required.iter().copied().filter(|&f| {
            !(opts.default_currency.is_some() && matches!(f, rows::CURRENCY | rows::COST_CURRENCY))
        })
    }
}

pub(super) const TRANSACTIONS: Schema = Schema {
    name: "transactions",
    fields: rows::TRANSACTION_FIELDS,
    required: &[
        rows::CUSTOMER_ID,
        rows::ORDER_ID,
        rows::TIMESTAMP,
        rows::AMOUNT,
        rows::CURRENCY,
        rows::CHANNEL,
    ],
};
pub(super) const CUSTOMERS: Schema = Schema {
    name: "customers",
    fields: rows::CUSTOMER_FIELDS,
    required: &[rows::CUSTOMER_ID],
};
pub(super) const TOUCHPOINTS: Schema = Schema {
    name: "touchpoints",
    fields: rows::TOUCHPOINT_FIELDS,
    required: &[
        rows::CUSTOMER_ID,
        rows::TIMESTAMP,
        rows::CHANNEL,
        rows::KIND,
    ],
};
pub(super) const CONSENTS: Schema = Schema {
    name: "consent",
    fields: rows::CONSENT_FIELDS,
    required: &[
        rows::CUSTOMER_ID,
        rows::PURPOSE,
        rows::STATUS,
        rows::TIMESTAMP,
    ],
};

/// Other common names for canonical fields, matched after the canonical name itself.
fn aliases(field: &str) -> &'static [&'static str] {
    match field {
        "customer_id" => &["customer", "customerid", "client_id", "user_id"],
        "order_id" => &["order", "orderid", "transaction_id", "invoice_id"],
        "timestamp" => &[
            "datetime",
            "date",
            "time",
            "order_date",
            "event_time",
            "created",
        ],
        "amount" => &["value", "revenue", "total", "order_value"],
        "is_refund" => &["refund"],
        "store" => &["store_id", "location", "location_id"],
        "given_name" => &["first_name", "firstname", "forename"],
        "family_name" => &["last_name", "lastname", "surname"],
        "email" => &["email_address", "e_mail"],
        "phone" => &["phone_number", "mobile", "telephone"],
        "birth_date" => &["date_of_birth", "dob", "birthdate"],
        "address_line1" => &["address", "street"],
        "postcode" => &["zip", "zip_code", "postal_code"],
        "kind" => &["type", "event_type", "touchpoint_kind"],
        "session_id" => &["session"],
        "cost_currency" => &["currency"],
        "purpose" => &["consent_purpose"],
        "status" => &["consent_status", "consent"],
        _ => &[],
    }
}

pub(super) fn header_key(name: &str) -> String {
    crate::records::labels::normalize_label(name)
}

/// The CSV column for a canonical field: explicit mapping, then the canonical name, then aliases.
pub(super) fn resolve_column(field: &str, names: &[String], opts: &IngestOptions) -> Option<usize> {
    let keys: Vec<String> = names.iter().map(|n| header_key(n)).collect();
    let find = |wanted: &str| keys.iter().position(|k| *k == header_key(wanted));
    if let Some(mapped) = opts.columns.get(field) {
        return find(mapped);
    }
    find(field).or_else(|| aliases(field).iter().find_map(|a| find(a)))
}

/// The JSON key for a canonical field in one object.
pub(super) fn json_key<'a>(
    field: &str,
    object: &'a serde_json::Map<String, serde_json::Value>,
    opts: &IngestOptions,
) -> Option<&'a str> {
    let find = |wanted: &str| {
        object
            .keys()
            .find(|k| header_key(k) == header_key(wanted))
            .map(String::as_str)
    };
    if let Some(mapped) = opts.columns.get(field) {
        return find(mapped);
    }
    find(field).or_else(|| aliases(field).iter().find_map(|a| find(a)))
}
