//! Writing a [`CustomerBase`] back out as CSV files that [`crate::ingest`] reads.

use std::io::Write;

use super::{CustomerBase, NONE_U32, from_micros};
use crate::error::{Error, Result};
use crate::records::{Pii, format_units};

fn csv_err(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io("csv output", io),
        other => Error::InvalidInput(format!("csv output: {other:?}")),
    }
}

fn text(interner: &super::Interner, code: u32) -> &str {
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

impl CustomerBase {
    /// Writes transactions as CSV: `customer_id,order_id,timestamp,amount,currency,channel,is_refund,store`.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write_transactions_csv<W: Write>(&self, out: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "customer_id",
            "order_id",
            "timestamp",
            "amount",
            "currency",
            "channel",
            "is_refund",
            "store",
        ])
        .map_err(csv_err)?;
        for i in 0..self.n_transactions() {
            let t = &self.tx;
            let store = match t.store[i] {
                NONE_U32 => "",
                s => self.stores.resolve(s),
            };
            let currency = self
                .tx_currency(i)
                .map(|c| c.to_string())
                .unwrap_or_default();
            let channel = self
                .channels
                .get(t.channel[i])
                .map(|c| c.as_str())
                .unwrap_or("");
            w.write_record([
                self.customer_id(t.customer[i]),
                self.order_id(i),
                &from_micros(t.time_us[i]).to_string(),
                &format_units(t.amount_units[i]),
                &currency,
                channel,
                if t.is_refund[i] { "true" } else { "false" },
                store,
            ])
            .map_err(csv_err)?;
        }
        w.flush().map_err(|e| Error::io("csv output", e))
    }

    /// Writes touchpoints as CSV: `customer_id,timestamp,channel,kind,campaign,topic,cost,cost_currency,session_id,content_stage`.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write_touchpoints_csv<W: Write>(&self, out: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "customer_id",
            "timestamp",
            "channel",
            "kind",
            "campaign",
            "topic",
            "cost",
            "cost_currency",
            "session_id",
            "content_stage",
        ])
        .map_err(csv_err)?;
        let p = &self.tp;
        for i in 0..self.n_touchpoints() {
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
            w.write_record([
                self.customer_id(p.customer[i]),
                &from_micros(p.time_us[i]).to_string(),
                self.channels
                    .get(p.channel[i])
                    .map(|c| c.as_str())
                    .unwrap_or(""),
                self.kinds.get(p.kind[i]).map(|k| k.as_str()).unwrap_or(""),
                text(&self.campaigns, p.campaign[i]),
                text(&self.topics, p.topic[i]),
                &cost,
                &currency,
                text(
                    &self.sessions,
                    p.session.get(i).copied().unwrap_or(NONE_U32),
                ),
                self.tp_content_stage(i).map_or("", |s| s.as_str()),
            ])
            .map_err(csv_err)?;
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
