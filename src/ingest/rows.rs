//! Record validators: one function per record kind, over any row source.
//!
//! A validator reads canonical fields from a [`Fields`] view (a CSV record or
//! a JSON object), checks every rule, and returns either the typed record or
//! the first problem as a [`RowProblem`] naming the field.

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::Timestamp;

use super::parse::{parse_date, parse_flag, parse_timestamp};
use super::{IngestOptions, LabelPolicy};
use crate::records::{
    AttributeValue, Channel, ConsentEvent, ConsentStatus, Currency, Customer, CustomerId, Gender, LineItem, Money, Pii,
    Profile, Purpose, SourceRecord, Touchpoint, TouchpointKind, parse_amount,
};

/// A problem with one field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowProblem {
    pub(crate) field: String,
    pub(crate) reason: String,
}

impl RowProblem {
    pub(crate) fn new(field: &str, reason: impl Into<String>) -> Self {
        RowProblem { field: field.to_owned(), reason: reason.into() }
    }
}

type RowResult<T> = Result<T, RowProblem>;

/// Read access to a row's fields by canonical name.
pub(crate) trait Fields {
    /// The field's text: `Ok(None)` when absent or blank, `Err` when unreadable
    /// (invalid UTF-8, a nested JSON value where a scalar is expected).
    fn text(&self, field: &'static str) -> Result<Option<Cow<'_, str>>, String>;
    /// Fields outside the schema, as (name, text), for free attributes.
    fn extras(&self) -> Vec<(String, Result<String, String>)>;
    /// Nested line items (JSON Lines only).
    fn line_items(&self) -> Option<&serde_json::Value> {
        None
    }
}

fn opt<'a>(row: &'a dyn Fields, field: &'static str) -> RowResult<Option<Cow<'a, str>>> {
    row.text(field).map_err(|reason| RowProblem::new(field, reason))
}

fn req<'a>(row: &'a dyn Fields, field: &'static str) -> RowResult<Cow<'a, str>> {
    opt(row, field)?.ok_or_else(|| RowProblem::new(field, "missing value"))
}

fn customer_id(row: &dyn Fields) -> RowResult<Cow<'_, str>> {
    let raw = req(row, "customer_id")?;
    if raw.chars().any(char::is_control) {
        return Err(RowProblem::new("customer_id", "contains a control character"));
    }
    Ok(raw)
}

fn timestamp(row: &dyn Fields, field: &'static str, opts: &IngestOptions) -> RowResult<Timestamp> {
    let raw = req(row, field)?;
    let ts = parse_timestamp(&raw).map_err(|r| RowProblem::new(field, r))?;
    if ts < opts.earliest || ts > opts.latest {
        return Err(RowProblem::new(
            field,
            format!("{ts} is outside the accepted range {} ..= {}", opts.earliest, opts.latest),
        ));
    }
    Ok(ts)
}

fn currency(row: &dyn Fields, field: &'static str, opts: &IngestOptions) -> RowResult<Currency> {
    match opt(row, field)? {
        Some(code) => Currency::parse_bytes(code.trim().as_bytes())
            .ok_or_else(|| RowProblem::new(field, format!("unknown currency code `{}`", code.trim()))),
        None => opts.default_currency.ok_or_else(|| RowProblem::new(field, "missing value")),
    }
}

fn money(row: &dyn Fields, field: &'static str, currency: Currency) -> RowResult<Money> {
    let raw = req(row, field)?;
    parse_amount(raw.as_bytes())
        .map(|units| Money::from_units(units, currency))
        .map_err(|e| RowProblem::new(field, format!("{e}: `{}`", raw.trim())))
}

fn label<T>(
    row: &dyn Fields,
    field: &'static str,
    opts: &IngestOptions,
    known: impl Fn(&str) -> Option<T>,
    other: impl Fn(String) -> T,
) -> RowResult<T> {
    let raw = req(row, field)?;
    if let Some(v) = known(&raw) {
        return Ok(v);
    }
    match opts.unknown_labels {
        LabelPolicy::KeepAsOther => Ok(other(raw.trim().to_owned())),
        LabelPolicy::Reject => Err(RowProblem::new(field, format!("unknown value `{}`", raw.trim()))),
    }
}

/// A validated transaction, borrowing its strings from the row.
pub(crate) struct TransactionFields<'a> {
    pub(crate) customer_id: Cow<'a, str>,
    pub(crate) order_id: Cow<'a, str>,
    pub(crate) timestamp: Timestamp,
    pub(crate) amount: Money,
    pub(crate) is_refund: bool,
    pub(crate) channel: Channel,
    pub(crate) store: Option<Cow<'a, str>>,
    pub(crate) line_items: Vec<LineItem>,
}

pub(crate) const TRANSACTION_FIELDS: &[&str] =
    &["customer_id", "order_id", "timestamp", "amount", "currency", "channel", "is_refund", "store", "line_items"];

pub(crate) fn transaction<'a>(row: &'a dyn Fields, opts: &IngestOptions) -> RowResult<TransactionFields<'a>> {
    let customer_id = customer_id(row)?;
    let order_id = req(row, "order_id")?;
    let timestamp = timestamp(row, "timestamp", opts)?;
    let currency = currency(row, "currency", opts)?;
    let amount = money(row, "amount", currency)?;
    let is_refund = match opt(row, "is_refund")? {
        Some(flag) => parse_flag(&flag).map_err(|r| RowProblem::new("is_refund", r))?,
        None => false,
    };
    if amount.is_negative() && !is_refund {
        return Err(RowProblem::new("amount", format!("negative amount {amount} not flagged as a refund")));
    }
    if is_refund && amount.units > 0 {
        return Err(RowProblem::new("amount", format!("refund with a positive amount {amount}")));
    }
    let channel = label(row, "channel", opts, Channel::parse_known, Channel::Other)?;
    let store = opt(row, "store")?;
    let line_items = match row.line_items() {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(value) => line_items(value, currency)?,
    };
    Ok(TransactionFields { customer_id, order_id, timestamp, amount, is_refund, channel, store, line_items })
}

fn line_items(value: &serde_json::Value, currency: Currency) -> RowResult<Vec<LineItem>> {
    let bad = |reason: String| RowProblem::new("line_items", reason);
    let items = value.as_array().ok_or_else(|| bad("expected an array of line items".into()))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let obj = item.as_object().ok_or_else(|| bad(format!("item {i}: expected an object")))?;
            let text = |k: &str| obj.get(k).and_then(scalar_text);
            let product_id = text("product_id").filter(|s| !s.trim().is_empty());
            let product_id = product_id.ok_or_else(|| bad(format!("item {i}: missing product_id")))?;
            let quantity = match obj.get("quantity") {
                None => 1.0,
                Some(q) => q
                    .as_f64()
                    .filter(|q| q.is_finite())
                    .ok_or_else(|| bad(format!("item {i}: quantity is not a finite number")))?,
            };
            let price = text("unit_price").ok_or_else(|| bad(format!("item {i}: missing unit_price")))?;
            let units = parse_amount(price.as_bytes()).map_err(|e| bad(format!("item {i}: unit_price: {e}")))?;
            Ok(LineItem {
                product_id: product_id.trim().to_owned(),
                category: text("category").map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
                quantity,
                unit_price: Money::from_units(units, currency),
            })
        })
        .collect()
}

/// The text of a JSON scalar (strings as is, numbers and booleans formatted); `None` for null and nested values.
pub(crate) fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) const CUSTOMER_FIELDS: &[&str] = &[
    "customer_id",
    "given_name",
    "family_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "address_line1",
    "address_line2",
    "city",
    "postcode",
    "country",
    "language",
    "created_at",
    "source",
    "source_key",
];

fn multi(row: &dyn Fields, field: &'static str) -> RowResult<Vec<Pii<String>>> {
    Ok(opt(row, field)?
        .map(|v| v.split([';', '|']).map(str::trim).filter(|s| !s.is_empty()).map(Pii::from).collect())
        .unwrap_or_default())
}

fn trimmed(row: &dyn Fields, field: &'static str) -> RowResult<Option<String>> {
    Ok(opt(row, field)?.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
}

pub(crate) fn customer(row: &dyn Fields, opts: &IngestOptions) -> RowResult<Customer> {
    let id = CustomerId::new(customer_id(row)?).map_err(|e| RowProblem::new("customer_id", e.to_string()))?;
    let birth_date = match opt(row, "birth_date")? {
        Some(raw) => {
            let d = parse_date(&raw).map_err(|r| RowProblem::new("birth_date", r))?;
            let earliest = opts.earliest.to_zoned(jiff::tz::TimeZone::UTC).date();
            let latest = opts.latest.to_zoned(jiff::tz::TimeZone::UTC).date();
            if d < earliest || d > latest {
                return Err(RowProblem::new("birth_date", format!("{d} is outside the accepted range")));
            }
            Some(Pii::new(d))
        }
        None => None,
    };
    let gender = match opt(row, "gender")? {
        Some(_) => Some(label(row, "gender", opts, Gender::parse_known, Gender::Other)?),
        None => None,
    };
    let created_at = match opt(row, "created_at")? {
        Some(_) => Some(timestamp(row, "created_at", opts)?),
        None => None,
    };
    let mut address_lines = multi(row, "address_line1")?;
    address_lines.extend(multi(row, "address_line2")?);
    let mut attributes = BTreeMap::new();
    for (name, value) in row.extras() {
        let value = value.map_err(|r| RowProblem::new(&name, r))?;
        if !value.trim().is_empty() {
            attributes.insert(name, AttributeValue::Text(value));
        }
    }
    let sources = match trimmed(row, "source")? {
        Some(source) => vec![SourceRecord::new(source, trimmed(row, "source_key")?.unwrap_or_else(|| id.to_string()))],
        None => Vec::new(),
    };
    let profile = Profile {
        given_name: trimmed(row, "given_name")?.map(Pii::new),
        family_name: trimmed(row, "family_name")?.map(Pii::new),
        emails: multi(row, "email")?,
        phones: multi(row, "phone")?,
        birth_date,
        gender,
        address_lines,
        city: trimmed(row, "city")?,
        postcode: trimmed(row, "postcode")?.map(Pii::new),
        country: trimmed(row, "country")?,
        language: trimmed(row, "language")?,
        attributes,
    };
    let mut customer = Customer::new(id);
    customer.profile = profile;
    customer.created_at = created_at;
    customer.sources = sources;
    Ok(customer)
}

pub(crate) const TOUCHPOINT_FIELDS: &[&str] =
    &["customer_id", "timestamp", "channel", "kind", "campaign", "topic", "cost", "cost_currency", "session_id"];

pub(crate) fn touchpoint(row: &dyn Fields, opts: &IngestOptions) -> RowResult<Touchpoint> {
    let id = CustomerId::new(customer_id(row)?).map_err(|e| RowProblem::new("customer_id", e.to_string()))?;
    let ts = timestamp(row, "timestamp", opts)?;
    let channel = label(row, "channel", opts, Channel::parse_known, Channel::Other)?;
    let kind = label(row, "kind", opts, TouchpointKind::parse_known, TouchpointKind::Other)?;
    let cost = match opt(row, "cost")? {
        Some(_) => {
            let c = currency(row, "cost_currency", opts)?;
            let m = money(row, "cost", c)?;
            if m.is_negative() {
                return Err(RowProblem::new("cost", format!("negative cost {m}")));
            }
            Some(m)
        }
        None => None,
    };
    let mut tp = Touchpoint::new(id, ts, channel, kind);
    tp.campaign = trimmed(row, "campaign")?;
    tp.topic = trimmed(row, "topic")?;
    tp.cost = cost;
    tp.session_id = trimmed(row, "session_id")?;
    Ok(tp)
}

pub(crate) const CONSENT_FIELDS: &[&str] = &["customer_id", "channel", "purpose", "status", "timestamp"];

pub(crate) fn consent(row: &dyn Fields, opts: &IngestOptions) -> RowResult<(CustomerId, ConsentEvent)> {
    let id = CustomerId::new(customer_id(row)?).map_err(|e| RowProblem::new("customer_id", e.to_string()))?;
    let channel = match opt(row, "channel")? {
        Some(c) if matches!(c.trim().to_ascii_lowercase().as_str(), "all" | "*" | "any") => None,
        Some(_) => Some(label(row, "channel", opts, Channel::parse_known, Channel::Other)?),
        None => None,
    };
    let purpose = label(row, "purpose", opts, Purpose::parse_known, Purpose::Other)?;
    let raw_status = req(row, "status")?;
    let status = ConsentStatus::parse(&raw_status)
        .ok_or_else(|| RowProblem::new("status", format!("not granted/withdrawn: `{}`", raw_status.trim())))?;
    let at = timestamp(row, "timestamp", opts)?;
    Ok((id, ConsentEvent { channel, purpose, status, at }))
}
