//! Record validators: one function per record kind, over any row source.
//!
//! A validator reads canonical fields from a [`Fields`] view (a CSV record or
//! a JSON object), checks every rule, and returns either the typed record or
//! the first problem as a [`RowProblem`] naming the field.

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::Timestamp;

use super::labels::{Labels, Parsed};
use super::parse::{parse_date, parse_flag, parse_timestamp};
use super::{IngestOptions, LabelPolicy};
use crate::records::{
    AttributeValue, Channel, ConsentEvent, ConsentStatus, Currency, Customer, CustomerId, Gender,
    JourneyStage, LineItem, Money, Pii, Profile, Purpose, SourceRecord, Touchpoint, parse_amount,
};
use crate::store::TransactionRef;

/// A canonical field, as an index into [`FIELD_NAMES`].
pub(crate) type Field = usize;

/// Every canonical field name, indexed by [`Field`].
pub(crate) const FIELD_NAMES: [&str; 33] = [
    "customer_id",
    "order_id",
    "timestamp",
    "amount",
    "currency",
    "channel",
    "is_refund",
    "store",
    "line_items",
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
    "kind",
    "campaign",
    "topic",
    "cost",
    "cost_currency",
    "session_id",
    "purpose",
    "status",
    "content_stage",
];

pub(crate) const CUSTOMER_ID: Field = 0;
pub(crate) const ORDER_ID: Field = 1;
pub(crate) const TIMESTAMP: Field = 2;
pub(crate) const AMOUNT: Field = 3;
pub(crate) const CURRENCY: Field = 4;
pub(crate) const CHANNEL: Field = 5;
pub(crate) const IS_REFUND: Field = 6;
pub(crate) const STORE: Field = 7;
pub(crate) const LINE_ITEMS: Field = 8;
pub(crate) const GIVEN_NAME: Field = 9;
pub(crate) const FAMILY_NAME: Field = 10;
pub(crate) const EMAIL: Field = 11;
pub(crate) const PHONE: Field = 12;
pub(crate) const BIRTH_DATE: Field = 13;
pub(crate) const GENDER: Field = 14;
pub(crate) const ADDRESS_LINE1: Field = 15;
pub(crate) const ADDRESS_LINE2: Field = 16;
pub(crate) const CITY: Field = 17;
pub(crate) const POSTCODE: Field = 18;
pub(crate) const COUNTRY: Field = 19;
pub(crate) const LANGUAGE: Field = 20;
pub(crate) const CREATED_AT: Field = 21;
pub(crate) const SOURCE: Field = 22;
pub(crate) const SOURCE_KEY: Field = 23;
pub(crate) const KIND: Field = 24;
pub(crate) const CAMPAIGN: Field = 25;
pub(crate) const TOPIC: Field = 26;
pub(crate) const COST: Field = 27;
pub(crate) const COST_CURRENCY: Field = 28;
pub(crate) const SESSION_ID: Field = 29;
pub(crate) const PURPOSE: Field = 30;
pub(crate) const STATUS: Field = 31;
pub(crate) const CONTENT_STAGE: Field = 32;

/// The canonical name of a field.
pub(crate) fn name(field: Field) -> &'static str {
    FIELD_NAMES.get(field).copied().unwrap_or("row")
}

/// A problem with one field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowProblem {
    pub(crate) field: String,
    pub(crate) reason: String,
}

impl RowProblem {
    pub(crate) fn new(field: &str, reason: impl Into<String>) -> Self {
        RowProblem {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

type RowResult<T> = Result<T, RowProblem>;

/// Read access to a row's fields by canonical name.
pub(crate) trait Fields {
    /// The field's text: `Ok(None)` when absent or blank, `Err` when unreadable
    /// (invalid UTF-8, a nested JSON value where a scalar is expected).
    fn text(&self, field: Field) -> Result<Option<Cow<'_, str>>, String>;
    /// Fields outside the schema, as (name, text), for free attributes.
    fn extras(&self) -> Vec<(String, Result<String, String>)>;
    /// Nested line items (JSON Lines only).
    fn line_items(&self) -> Option<&serde_json::Value> {
        None
    }
}

fn opt<'a, F: Fields + ?Sized>(row: &'a F, field: Field) -> RowResult<Option<Cow<'a, str>>> {
    row.text(field)
        .map_err(|reason| RowProblem::new(name(field), reason))
}

fn req<'a, F: Fields + ?Sized>(row: &'a F, field: Field) -> RowResult<Cow<'a, str>> {
    opt(row, field)?.ok_or_else(|| RowProblem::new(name(field), "missing value"))
}

fn customer_id<F: Fields + ?Sized>(row: &F) -> RowResult<Cow<'_, str>> {
    let raw = req(row, CUSTOMER_ID)?;
    let ascii_control = raw.bytes().any(|b| b < 0x20 || b == 0x7F);
    if ascii_control || (!raw.is_ascii() && raw.chars().any(char::is_control)) {
        return Err(RowProblem::new(
            "customer_id",
            "contains a control character",
        ));
    }
    Ok(raw)
}

/// The source system a row names (its `source` column, else the options'
/// default source), checked.
fn source_of<'a, F: Fields + ?Sized>(
    row: &'a F,
    opts: &'a IngestOptions,
) -> RowResult<Option<Cow<'a, str>>> {
    let source = match opt(row, SOURCE)? {
        Some(s) => Some(s),
        None => opts.default_source.as_deref().map(Cow::Borrowed),
    };
    if let Some(s) = &source {
        crate::records::check_source_name(s).map_err(|r| RowProblem::new("source", r))?;
    }
    Ok(source)
}

/// The customer an event row belongs to: the source record `source:key`
/// when the row (or [`IngestOptions::default_source`]) names a source system
/// (`customer_id` is then the record's key in that system), else the
/// customer id itself.
fn event_customer<'a, F: Fields + ?Sized>(
    row: &'a F,
    opts: &'a IngestOptions,
) -> RowResult<Cow<'a, str>> {
    let id = customer_id(row)?;
    Ok(match source_of(row, opts)? {
        Some(source) => Cow::Owned(format!("{}:{}", source.trim(), id.trim())),
        None => id,
    })
}

fn timestamp<F: Fields + ?Sized>(
    row: &F,
    field: Field,
    opts: &IngestOptions,
) -> RowResult<Timestamp> {
    let raw = req(row, field)?;
    let ts = parse_timestamp(&raw).map_err(|r| RowProblem::new(name(field), r))?;
    if ts < opts.earliest || ts > opts.latest {
        return Err(RowProblem::new(
            name(field),
            format!(
                "{ts} is outside the accepted range {} ..= {}",
                opts.earliest, opts.latest
            ),
        ));
    }
    Ok(ts)
}

fn currency<F: Fields + ?Sized>(
    row: &F,
    field: Field,
    opts: &IngestOptions,
) -> RowResult<Currency> {
    match opt(row, field)? {
        Some(code) => Currency::parse_bytes(code.trim().as_bytes()).ok_or_else(|| {
            RowProblem::new(
                name(field),
                format!("unknown currency code `{}`", code.trim()),
            )
        }),
        None => opts
            .default_currency
            .ok_or_else(|| RowProblem::new(name(field), "missing value")),
    }
}

fn money<F: Fields + ?Sized>(row: &F, field: Field, currency: Currency) -> RowResult<Money> {
    let raw = req(row, field)?;
    parse_amount(raw.as_bytes())
        .map(|units| Money::from_units(units, currency))
        .map_err(|e| RowProblem::new(name(field), format!("{e}: `{}`", raw.trim())))
}

fn label<T, F: Fields + ?Sized>(
    row: &F,
    field: Field,
    opts: &IngestOptions,
    known: impl Fn(&str) -> Option<T>,
    other: impl Fn(String) -> T,
) -> RowResult<T> {
    label_value(&req(row, field)?, field, opts, known, other)
}

/// A label's value from its text: a known value, else `Other` or a problem as the policy says.
pub(crate) fn label_value<T>(
    raw: &str,
    field: Field,
    opts: &IngestOptions,
    known: impl Fn(&str) -> Option<T>,
    other: impl Fn(String) -> T,
) -> RowResult<T> {
    if let Some(v) = known(raw) {
        return Ok(v);
    }
    match opts.unknown_labels {
        LabelPolicy::KeepAsOther => Ok(other(raw.trim().to_owned())),
        LabelPolicy::Reject => Err(RowProblem::new(
            name(field),
            format!("unknown value `{}`", raw.trim()),
        )),
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

impl TransactionFields<'_> {
    /// The borrowed form the sinks take.
    pub(crate) fn as_ref(&self) -> TransactionRef<'_> {
        TransactionRef {
            customer_id: &self.customer_id,
            order_id: &self.order_id,
            timestamp: self.timestamp,
            amount: self.amount,
            is_refund: self.is_refund,
            channel: &self.channel,
            store: self.store.as_deref(),
            line_items: &self.line_items,
        }
    }
}

pub(crate) const TRANSACTION_FIELDS: &[Field] = &[
    CUSTOMER_ID,
    ORDER_ID,
    TIMESTAMP,
    AMOUNT,
    CURRENCY,
    CHANNEL,
    IS_REFUND,
    STORE,
    LINE_ITEMS,
    SOURCE,
];

pub(crate) fn transaction<'a, F: Fields + ?Sized>(
    row: &'a F,
    opts: &'a IngestOptions,
) -> RowResult<TransactionFields<'a>> {
    let customer_id = event_customer(row, opts)?;
    let order_id = req(row, ORDER_ID)?;
    let timestamp = timestamp(row, TIMESTAMP, opts)?;
    let currency = currency(row, CURRENCY, opts)?;
    let amount = money(row, AMOUNT, currency)?;
    let is_refund = match opt(row, IS_REFUND)? {
        Some(flag) => parse_flag(&flag).map_err(|r| RowProblem::new("is_refund", r))?,
        None => false,
    };
    if amount.is_negative() && !is_refund {
        return Err(RowProblem::new(
            "amount",
            format!("negative amount {amount} not flagged as a refund"),
        ));
    }
    if is_refund && amount.units > 0 {
        return Err(RowProblem::new(
            "amount",
            format!("refund with a positive amount {amount}"),
        ));
    }
    let channel = label(row, CHANNEL, opts, Channel::parse_known, Channel::Other)?;
    let store = opt(row, STORE)?;
    let line_items = match row.line_items() {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(value) => line_items(value, currency)?,
    };
    Ok(TransactionFields {
        customer_id,
        order_id,
        timestamp,
        amount,
        is_refund,
        channel,
        store,
        line_items,
    })
}

fn line_items(value: &serde_json::Value, currency: Currency) -> RowResult<Vec<LineItem>> {
    let bad = |reason: String| RowProblem::new("line_items", reason);
    let items = value
        .as_array()
        .ok_or_else(|| bad("expected an array of line items".into()))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let obj = item
                .as_object()
                .ok_or_else(|| bad(format!("item {i}: expected an object")))?;
            let text = |k: &str| obj.get(k).and_then(scalar_text);
            let product_id = text("product_id").filter(|s| !s.trim().is_empty());
            let product_id =
                product_id.ok_or_else(|| bad(format!("item {i}: missing product_id")))?;
            let quantity = match obj.get("quantity") {
                None => 1.0,
                Some(q) => q
                    .as_f64()
                    .filter(|q| q.is_finite())
                    .ok_or_else(|| bad(format!("item {i}: quantity is not a finite number")))?,
            };
            let price =
                text("unit_price").ok_or_else(|| bad(format!("item {i}: missing unit_price")))?;
            let units = parse_amount(price.as_bytes())
                .map_err(|e| bad(format!("item {i}: unit_price: {e}")))?;
            Ok(LineItem {
                product_id: product_id.trim().to_owned(),
                category: text("category")
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
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

pub(crate) const CUSTOMER_FIELDS: &[Field] = &[
    CUSTOMER_ID,
    GIVEN_NAME,
    FAMILY_NAME,
    EMAIL,
    PHONE,
    BIRTH_DATE,
    GENDER,
    ADDRESS_LINE1,
    ADDRESS_LINE2,
    CITY,
    POSTCODE,
    COUNTRY,
    LANGUAGE,
    CREATED_AT,
    SOURCE,
    SOURCE_KEY,
];

fn multi(row: &dyn Fields, field: Field) -> RowResult<Vec<Pii<String>>> {
    Ok(opt(row, field)?
        .map(|v| {
            v.split([';', '|'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Pii::from)
                .collect()
        })
        .unwrap_or_default())
}

fn trimmed(row: &dyn Fields, field: Field) -> RowResult<Option<String>> {
    Ok(trimmed_ref(row, field)?.map(Cow::into_owned))
}

pub(crate) fn customer(row: &dyn Fields, opts: &IngestOptions) -> RowResult<Customer> {
    // With a source key the row is a customer with provenance; without one
    // a named source makes the row the source record `source:customer_id`.
    let keyed = trimmed(row, SOURCE_KEY)?.is_some();
    let raw_id = if keyed {
        customer_id(row)?
    } else {
        event_customer(row, opts)?
    };
    let id = CustomerId::new(raw_id).map_err(|e| RowProblem::new("customer_id", e.to_string()))?;
    let birth_date = match opt(row, BIRTH_DATE)? {
        Some(raw) => {
            let d = parse_date(&raw).map_err(|r| RowProblem::new("birth_date", r))?;
            let earliest = opts.earliest.to_zoned(jiff::tz::TimeZone::UTC).date();
            let latest = opts.latest.to_zoned(jiff::tz::TimeZone::UTC).date();
            if d < earliest || d > latest {
                return Err(RowProblem::new(
                    "birth_date",
                    format!("{d} is outside the accepted range"),
                ));
            }
            Some(Pii::new(d))
        }
        None => None,
    };
    let gender = match opt(row, GENDER)? {
        Some(_) => Some(label(
            row,
            GENDER,
            opts,
            Gender::parse_known,
            Gender::Other,
        )?),
        None => None,
    };
    let created_at = match opt(row, CREATED_AT)? {
        Some(_) => Some(timestamp(row, CREATED_AT, opts)?),
        None => None,
    };
    let mut address_lines = multi(row, ADDRESS_LINE1)?;
    address_lines.extend(multi(row, ADDRESS_LINE2)?);
    let mut attributes = BTreeMap::new();
    for (name, value) in row.extras() {
        let value = value.map_err(|r| RowProblem::new(&name, r))?;
        if !value.trim().is_empty() {
            attributes.insert(name, AttributeValue::Text(value));
        }
    }
    let sources = match (source_of(row, opts)?, trimmed(row, SOURCE_KEY)?) {
        (Some(source), Some(key)) => vec![SourceRecord::new(source.trim(), key)],
        (Some(source), None) => vec![SourceRecord::new(
            source.trim(),
            customer_id(row)?.trim().to_owned(),
        )],
        (None, _) => Vec::new(),
    };
    let profile = Profile {
        given_name: trimmed(row, GIVEN_NAME)?.map(Pii::new),
        family_name: trimmed(row, FAMILY_NAME)?.map(Pii::new),
        emails: multi(row, EMAIL)?,
        phones: multi(row, PHONE)?,
        birth_date,
        gender,
        address_lines,
        city: trimmed(row, CITY)?,
        postcode: trimmed(row, POSTCODE)?.map(Pii::new),
        country: trimmed(row, COUNTRY)?,
        language: trimmed(row, LANGUAGE)?,
        attributes,
    };
    let mut customer = Customer::new(id);
    customer.profile = profile;
    customer.created_at = created_at;
    customer.sources = sources;
    Ok(customer)
}

pub(crate) const TOUCHPOINT_FIELDS: &[Field] = &[
    CUSTOMER_ID,
    TIMESTAMP,
    CHANNEL,
    KIND,
    CAMPAIGN,
    TOPIC,
    COST,
    COST_CURRENCY,
    SESSION_ID,
    CONTENT_STAGE,
    SOURCE,
];

/// A validated touchpoint, borrowing its strings from the row; channel and
/// kind as the [`Labels`] make them.
pub(crate) struct TouchpointFields<'a, C, K> {
    pub(crate) customer_id: Cow<'a, str>,
    pub(crate) timestamp: Timestamp,
    pub(crate) channel: C,
    pub(crate) kind: K,
    pub(crate) cost: Option<Money>,
    pub(crate) campaign: Option<Cow<'a, str>>,
    pub(crate) topic: Option<Cow<'a, str>>,
    pub(crate) session_id: Option<Cow<'a, str>>,
    pub(crate) content_stage: Option<JourneyStage>,
}

/// A field's text trimmed, `None` when absent or blank.
fn trimmed_ref<F: Fields + ?Sized>(row: &F, field: Field) -> RowResult<Option<Cow<'_, str>>> {
    Ok(opt(row, field)?
        .map(|v| match v {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => Cow::Owned(s.trim().to_owned()),
        })
        .filter(|v| !v.is_empty()))
}

/// Validates a touchpoint row: every rule, in the order the first problem is reported.
pub(crate) fn touchpoint_fields<'a, L: Labels>(
    row: &'a dyn Fields,
    opts: &'a IngestOptions,
    labels: &mut L,
) -> RowResult<TouchpointFields<'a, L::Channel, L::Kind>> {
    let customer_id = event_customer(row, opts)?;
    let customer_id = match checked_customer_id(&customer_id) {
        Ok(id) if id.len() == customer_id.len() => customer_id,
        Ok(id) => Cow::Owned(id.to_owned()),
        Err(problem) => return Err(problem),
    };
    let timestamp = timestamp(row, TIMESTAMP, opts)?;
    let channel = labels.channel(&req(row, CHANNEL)?, opts)?;
    let kind = labels.kind(&req(row, KIND)?, opts)?;
    let cost = match opt(row, COST)? {
        Some(_) => {
            let c = currency(row, COST_CURRENCY, opts)?;
            let m = money(row, COST, c)?;
            if m.is_negative() {
                return Err(RowProblem::new("cost", format!("negative cost {m}")));
            }
            Some(m)
        }
        None => None,
    };
    let campaign = trimmed_ref(row, CAMPAIGN)?;
    let topic = trimmed_ref(row, TOPIC)?;
    let session_id = trimmed_ref(row, SESSION_ID)?;
    // Stages are an ordered ladder, so an unknown one cannot be kept as `Other`.
    let content_stage = match opt(row, CONTENT_STAGE)? {
        Some(raw) if !raw.trim().is_empty() => Some(JourneyStage::parse_known(&raw).ok_or_else(|| {
            RowProblem::new(
                "content_stage",
                format!(
                    "unknown journey stage `{}` (need, research, decision, adoption, usage, advocacy)",
                    raw.trim()
                ),
            )
        })?),
        _ => None,
    };
    Ok(TouchpointFields {
        customer_id,
        timestamp,
        channel,
        kind,
        cost,
        campaign,
        topic,
        session_id,
        content_stage,
    })
}

/// The id as [`CustomerId::new`] keeps it (trimmed), or its problem, without allocating.
fn checked_customer_id(raw: &str) -> RowResult<&str> {
    let id = raw.trim();
    if id.is_empty() || id.chars().any(char::is_control) {
        return Err(match CustomerId::new(raw) {
            Err(e) => RowProblem::new("customer_id", e.to_string()),
            Ok(_) => RowProblem::new("customer_id", "invalid customer id"),
        });
    }
    Ok(id)
}

pub(crate) fn touchpoint(row: &dyn Fields, opts: &IngestOptions) -> RowResult<Touchpoint> {
    let t = touchpoint_fields(row, opts, &mut Parsed)?;
    let id = CustomerId::new(t.customer_id)
        .map_err(|e| RowProblem::new("customer_id", e.to_string()))?;
    let mut tp = Touchpoint::new(id, t.timestamp, t.channel, t.kind);
    tp.campaign = t.campaign.map(Cow::into_owned);
    tp.topic = t.topic.map(Cow::into_owned);
    tp.cost = t.cost;
    tp.session_id = t.session_id.map(Cow::into_owned);
    tp.content_stage = t.content_stage;
    Ok(tp)
}

pub(crate) const CONSENT_FIELDS: &[Field] =
    &[CUSTOMER_ID, CHANNEL, PURPOSE, STATUS, TIMESTAMP, SOURCE];

pub(crate) fn consent(
    row: &dyn Fields,
    opts: &IngestOptions,
) -> RowResult<(CustomerId, ConsentEvent)> {
    let id = CustomerId::new(event_customer(row, opts)?)
        .map_err(|e| RowProblem::new("customer_id", e.to_string()))?;
    let channel = match opt(row, CHANNEL)? {
        Some(c) if matches!(c.trim().to_ascii_lowercase().as_str(), "all" | "*" | "any") => None,
        Some(_) => Some(label(
            row,
            CHANNEL,
            opts,
            Channel::parse_known,
            Channel::Other,
        )?),
        None => None,
    };
    let purpose = label(row, PURPOSE, opts, Purpose::parse_known, Purpose::Other)?;
    let raw_status = req(row, STATUS)?;
    let status = ConsentStatus::parse(&raw_status).ok_or_else(|| {
        RowProblem::new(
            "status",
            format!("not granted/withdrawn: `{}`", raw_status.trim()),
        )
    })?;
    let at = timestamp(row, TIMESTAMP, opts)?;
    Ok((
        id,
        ConsentEvent {
            channel,
            purpose,
            status,
            at,
            source: None,
        },
    ))
}
