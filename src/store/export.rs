//! Writing a [`CustomerBase`] back out as CSV files that [`crate::ingest`] reads.

use std::borrow::Cow;
use std::io::Write;

use super::{CustomerBase, NONE_U32, from_micros};
use crate::error::{Error, Result};
use crate::records::{Pii, format_units};

/// A CSV writer's error: [`Error::Io`] for I/O, [`Error::InvalidValue`] for
/// a record the writer cannot write.
pub(crate) fn csv_err(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io("csv output", io),
        other => Error::value(
            "csv record",
            format!("{other:?}"),
            "cannot be written as csv",
        ),
    }
}

pub(crate) fn text(interner: &super::Interner, code: u32) -> &str {
    if code == NONE_U32 {
        ""
    } else {
        interner.resolve(code)
    }
}

fn joined(values: &[Pii<String>]) -> String {
    values
        .iter()
        .map(|v| v.expose().as_str())
        .collect::<Vec<_>>()
        .join(";")
}

/// A transaction's columns after its customer, as written.
pub(crate) const TRANSACTION_FIELDS: [&str; 7] = [
    "order_id",
    "timestamp",
    "amount",
    "currency",
    "channel",
    "is_refund",
    "store",
];

/// A touchpoint's columns after its customer, as written.
pub(crate) const TOUCHPOINT_FIELDS: [&str; 9] = [
    "timestamp",
    "channel",
    "kind",
    "campaign",
    "topic",
    "cost",
    "cost_currency",
    "session_id",
    "content_stage",
];

/// A header: `first` columns, then `fields`.
pub(crate) fn csv_header<'a>(first: &[&'a str], fields: &[&'a str]) -> Vec<&'a str> {
    first.iter().chain(fields).copied().collect()
}

impl CustomerBase {
    /// Transaction row `i`'s [`TRANSACTION_FIELDS`] as text (empty out of range).
    pub(crate) fn transaction_fields(&self, i: usize) -> [Cow<'_, str>; 7] {
        let t = &self.tx;
        let (Some(&time), Some(&amount), Some(&channel), Some(&refund), Some(&store)) = (
            t.time_us.get(i),
            t.amount_units.get(i),
            t.channel.get(i),
            t.is_refund.get(i),
            t.store.get(i),
        ) else {
            return Default::default();
        };
        [
            Cow::Borrowed(self.order_id(i)),
            Cow::Owned(from_micros(time).to_string()),
            Cow::Owned(format_units(amount)),
            Cow::Owned(
                self.tx_currency(i)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            ),
            Cow::Borrowed(self.channels.get(channel).map_or("", |c| c.as_str())),
            Cow::Borrowed(if refund { "true" } else { "false" }),
            Cow::Borrowed(text(&self.stores, store)),
        ]
    }

    /// Touchpoint row `i`'s [`TOUCHPOINT_FIELDS`] as text (empty out of range).
    pub(crate) fn touchpoint_fields(&self, i: usize) -> [Cow<'_, str>; 9] {
        let p = &self.tp;
        let (Some(&time), Some(&channel), Some(&kind), Some(&campaign), Some(&topic)) = (
            p.time_us.get(i),
            p.channel.get(i),
            p.kind.get(i),
            p.campaign.get(i),
            p.topic.get(i),
        ) else {
            return Default::default();
        };
        let (cost, currency) = match p.cost.get(i) {
            None => (String::new(), String::new()),
            Some((units, code)) => (
                format_units(units),
                self.currencies
                    .get(code)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            ),
        };
        [
            Cow::Owned(from_micros(time).to_string()),
            Cow::Borrowed(self.channels.get(channel).map_or("", |c| c.as_str())),
            Cow::Borrowed(self.kinds.get(kind).map_or("", |k| k.as_str())),
            Cow::Borrowed(text(&self.campaigns, campaign)),
            Cow::Borrowed(text(&self.topics, topic)),
            Cow::Owned(cost),
            Cow::Owned(currency),
            Cow::Borrowed(text(
                &self.sessions,
                p.session.get(i).copied().unwrap_or(NONE_U32),
            )),
            Cow::Borrowed(self.tp_content_stage(i).map_or("", |s| s.as_str())),
        ]
    }

    /// Writes transactions as CSV: `customer_id,order_id,timestamp,amount,currency,channel,is_refund,store`.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write_transactions_csv<W: Write>(&self, out: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(csv_header(&["customer_id"], &TRANSACTION_FIELDS))
            .map_err(csv_err)?;
        for c in self.customer_indices() {
            let customer = self.customer_id(c);
            for i in self.transaction_range(c) {
                w.write_record(
                    std::iter::once(customer)
                        .chain(self.transaction_fields(i).iter().map(|f| f.as_ref())),
                )
                .map_err(csv_err)?;
            }
        }
        w.flush().map_err(|e| Error::io("csv output", e))
    }

    /// Writes touchpoints as CSV: `customer_id,timestamp,channel,kind,campaign,topic,cost,cost_currency,session_id,content_stage`.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write_touchpoints_csv<W: Write>(&self, out: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(csv_header(&["customer_id"], &TOUCHPOINT_FIELDS))
            .map_err(csv_err)?;
        for c in self.customer_indices() {
            let customer = self.customer_id(c);
            for i in self.touchpoint_range(c) {
                w.write_record(
                    std::iter::once(customer)
                        .chain(self.touchpoint_fields(i).iter().map(|f| f.as_ref())),
                )
                .map_err(csv_err)?;
            }
        }
        w.flush().map_err(|e| Error::io("csv output", e))
    }

    /// Writes customer records (those with a profile) as CSV with the ingest column names.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write_customers_csv<W: Write>(&self, out: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "customer_id",
            "given_name",
            "family_name",
            "email",
            "phone",
            "birth_date",
            "gender",
            "address_line1",
            "city",
            "postcode",
            "country",
            "language",
            "created_at",
        ])
        .map_err(csv_err)?;
        for c in self.customers.iter().flatten() {
            let p = &c.profile;
            let opt = |v: &Option<Pii<String>>| {
                v.as_ref().map(|v| v.expose().clone()).unwrap_or_default()
            };
            w.write_record([
                c.id.as_str(),
                &opt(&p.given_name),
                &opt(&p.family_name),
                &joined(&p.emails),
                &joined(&p.phones),
                &p.birth_date
                    .as_ref()
                    .map(|d| d.expose().to_string())
                    .unwrap_or_default(),
                p.gender.as_ref().map(|g| g.as_str()).unwrap_or(""),
                &joined(&p.address_lines),
                p.city.as_deref().unwrap_or(""),
                &opt(&p.postcode),
                p.country.as_deref().unwrap_or(""),
                p.language.as_deref().unwrap_or(""),
                &c.created_at.map(|t| t.to_string()).unwrap_or_default(),
            ])
            .map_err(csv_err)?;
        }
        w.flush().map_err(|e| Error::io("csv output", e))
    }

    /// Writes every consent event as CSV: `customer_id,channel,purpose,status,timestamp` (blank channel = all).
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write_consents_csv<W: Write>(&self, out: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(["customer_id", "channel", "purpose", "status", "timestamp"])
            .map_err(csv_err)?;
        for c in self.customers.iter().flatten() {
            for e in c.consent.events() {
                let status = match e.status {
                    crate::records::ConsentStatus::Granted => "granted",
                    crate::records::ConsentStatus::Withdrawn => "withdrawn",
                };
                w.write_record([
                    c.id.as_str(),
                    e.channel.as_ref().map(|c| c.as_str()).unwrap_or(""),
                    e.purpose.as_str(),
                    status,
                    &e.at.to_string(),
                ])
                .map_err(csv_err)?;
            }
        }
        w.flush().map_err(|e| Error::io("csv output", e))
    }
}
