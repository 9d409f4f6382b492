//! The population as its source systems hold it: every customer's events
//! logged under one of the customer's source records, in dirty files that
//! identity resolution has to put back together.
//!
//! A customer's records are a clean web shop account and, for some, dirty
//! copies in the loyalty programme, the store tills, the call centre or a
//! second web shop account ([`SourceCustomerRecord`]). Each event goes to
//! the record of the system that would log it:
//!
//! | event | record |
//! |---|---|
//! | web or app order, online touchpoint | the web shop account (a second account, when there is one, 30 % of the time) |
//! | store purchase or store touchpoint | the loyalty card, else the till record (15 % of purchases are made without the card and logged by e-receipt in the web shop) |
//! | call-centre order, complaint or support call | the call-centre record |
//! | consent for direct mail | the loyalty record |
//! | an e-mail unsubscription | the loyalty record half of the time, when there is one (the customer unsubscribed at the till) |
//! | any other consent | the web shop account |
//!
//! whenever the customer has such a record; otherwise the web shop account.
//! The choices are drawn from a stream of their own per customer, so the
//! clean population ([`Population::base`]) is unchanged and a customer's
//! events land in the same records in every snapshot.
//!
//! [`SourceView`] picks what a snapshot holds: the customers (a prefix of
//! the population, so a later snapshot adds new people) and the time up to
//! which events have happened.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Population, SourceCustomerRecord};
use crate::error::{Error, Result};
use crate::records::{Channel, ConsentStatus, Purpose};
use crate::store::to_micros;
use crate::store::{TOUCHPOINT_FIELDS, TRANSACTION_FIELDS, csv_err, csv_header};

/// Seed offset of the record-choice streams (independent of generation).
const CHOICE_SEED: u64 = 0x05EE_D50C_5E0F_1CE5;

/// What one snapshot of the source systems holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SourceView {
    /// Customers `0..customers` of the population (their records and events).
    pub customers: usize,
    /// Events after this time have not happened yet.
    pub as_of: Timestamp,
}

impl Population {
    /// A view of every customer and every event.
    pub fn full_view(&self) -> SourceView {
        SourceView {
            customers: self.base.n_customers(),
            as_of: self.observation_end,
        }
    }

    /// Index of each customer's first source record, and the total at the end.
    pub(crate) fn record_starts(&self) -> Vec<usize> {
        let owner = &self.truth.source_record_customer;
        let n = self.base.n_customers();
        let mut starts = vec![owner.len(); n + 1];
        for (r, &c) in owner.iter().enumerate().rev() {
            if let Some(s) = starts.get_mut(c as usize) {
                *s = r;
            }
        }
        // Customers are contiguous and every customer has a record; fill any gap defensively.
        for c in (0..n).rev() {
            if starts[c] > starts[c + 1] {
                starts[c] = starts[c + 1];
            }
        }
        starts
    }

    /// The true customer (index in [`Population::base`]) of a source record
    /// reference `source:key`, or of several records (the one most of them
    /// belong to, ties to the smaller index): how a resolved customer is
    /// checked against the truth.
    pub fn true_customer_of<'a>(
        &self,
        references: impl IntoIterator<Item = &'a str>,
    ) -> Option<u32> {
        let index = self.record_index();
        let mut counts: Vec<(u32, usize)> = Vec::new();
        for r in references {
            if let Some(&c) = index.get(r) {
                match counts.iter_mut().find(|(x, _)| *x == c) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((c, 1)),
                }
            }
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(c, _)| c)
    }

    /// Source record reference → true customer index.
    fn record_index(&self) -> &hashbrown::HashMap<String, u32> {
        self.record_index.get_or_init(|| {
            self.source_records
                .iter()
                .zip(&self.truth.source_record_customer)
                .map(|(r, &c)| (r.source.reference(), c))
                .collect()
        })
    }

    /// Writes the source systems' files into `dir` (created if needed):
    /// `source_records.csv` (`source, source_key`, then the identity
    /// fields as typed), `customers.csv` (per web shop account: sign-up
    /// time, gender, language), `transactions.csv`, `touchpoints.csv` and
    /// `consents.csv` (each row with the `source` and the record's key as
    /// `customer_id`), and `observation.json` (start, end, and the view's
    /// `as_of`). Returns the paths written.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder or a file cannot be written.
    pub fn write_sources(&self, dir: impl AsRef<Path>, view: &SourceView) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        let starts = self.record_starts();
        let n = view.customers.min(self.base.n_customers());
        let records_end = starts.get(n).copied().unwrap_or(self.source_records.len());
        let choices = RecordChoices::draw(self, &starts, n);
        let as_of = to_micros(view.as_of);
        let mut written = Vec::new();

        let (path, mut csv) = writer(dir, "source_records.csv")?;
        csv.write_record(
            ["source", "source_key"]
                .into_iter()
                .chain(SourceCustomerRecord::FIELD_NAMES),
        )
        .map_err(csv_err)?;
        for r in &self.source_records[..records_end] {
            csv.write_record(
                [r.source.source.as_str(), r.source.key.as_str()]
                    .into_iter()
                    .chain(r.fields().map(|v| v.as_deref().unwrap_or(""))),
            )
            .map_err(csv_err)?;
        }
        finish(csv, &path)?;
        written.push(path);

        let (path, mut csv) = writer(dir, "customers.csv")?;
        csv.write_record(["source", "customer_id", "created_at", "gender", "language"])
            .map_err(csv_err)?;
        for (c, &start) in starts.iter().enumerate().take(n) {
            let Some(customer) = self.base.customer(c as u32) else {
                continue;
            };
            let Some(primary) = self.source_records.get(start) else {
                continue;
            };
            if customer.created_at.is_some_and(|t| to_micros(t) > as_of) {
                continue;
            }
            let p = &customer.profile;
            csv.write_record([
                primary.source.source.as_str(),
                primary.source.key.as_str(),
                &customer
                    .created_at
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                p.gender.as_ref().map(|g| g.as_str()).unwrap_or(""),
                p.language.as_deref().unwrap_or(""),
            ])
            .map_err(csv_err)?;
        }
        finish(csv, &path)?;
        written.push(path);

        let base = &self.base;
        let record = |r: usize| {
            self.source_records
                .get(r)
                .map(|s| (s.source.source.as_str(), s.source.key.as_str()))
                .unwrap_or(("", ""))
        };
        let (tx_customer, tp_customer) = (base.tx_customer(), base.tp_customer());
        for file in [
            EventFile {
                name: "transactions.csv",
                fields: &TRANSACTION_FIELDS,
                customer: &tx_customer,
                time: &base.tx.time_us,
                chosen: &choices.transaction,
                row: &|i| base.transaction_fields(i).into(),
            },
            EventFile {
                name: "touchpoints.csv",
                fields: &TOUCHPOINT_FIELDS,
                customer: &tp_customer,
                time: &base.tp.time_us,
                chosen: &choices.touchpoint,
                row: &|i| base.touchpoint_fields(i).into(),
            },
        ] {
            written.push(file.write(dir, n, as_of, &record)?);
        }

        let (path, mut csv) = writer(dir, "consents.csv")?;
        csv.write_record([
            "source",
            "customer_id",
            "channel",
            "purpose",
            "status",
            "timestamp",
        ])
        .map_err(csv_err)?;
        for c in 0..n {
            let Some(customer) = base.customer(c as u32) else {
                continue;
            };
            for (k, e) in customer.consent.events().iter().enumerate() {
                if to_micros(e.at) > as_of {
                    continue;
                }
                let (source, key) = record(choices.consent[c][k]);
                let status = match e.status {
                    ConsentStatus::Granted => "granted",
                    ConsentStatus::Withdrawn => "withdrawn",
                };
                csv.write_record([
                    source,
                    key,
                    e.channel.as_ref().map_or("", |c| c.as_str()),
                    e.purpose.as_str(),
                    status,
                    &e.at.to_string(),
                ])
                .map_err(csv_err)?;
            }
        }
        finish(csv, &path)?;
        written.push(path);

        let path = dir.join("observation.json");
        let observation = serde_json::json!({
            "observation_start": self.observation_start.to_string(),
            "observation_end": self.observation_end.to_string(),
            "as_of": view.as_of.to_string(),
            "customers": n,
            "seed": self.params.seed,
        });
        fs::write(&path, observation.to_string())
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        written.push(path);
        Ok(written)
    }
}

/// For every event, the index of the source record it is logged under.
struct RecordChoices {
    transaction: Vec<usize>,
    touchpoint: Vec<usize>,
    /// Per customer, per consent event.
    consent: Vec<Vec<usize>>,
}

/// A customer's records by the role they play.
struct Records {
    primary: usize,
    second_account: Option<usize>,
    loyalty: Option<usize>,
    till: Option<usize>,
    call_center: Option<usize>,
}

impl Records {
    fn of(pop: &Population, range: std::ops::Range<usize>) -> Records {
        let primary = range.start;
        let find = |source: &str| {
            range.clone().skip(1).find(|&r| {
                pop.source_records
                    .get(r)
                    .is_some_and(|s| s.source.source == source)
            })
        };
        Records {
            primary,
            second_account: find("webshop"),
            loyalty: find("loyalty"),
            till: find("store_pos"),
            call_center: find("call_center"),
        }
    }

    fn online(&self, rng: &mut ChaCha8Rng) -> usize {
        match self.second_account {
            Some(r) if rng.gen_bool(0.3) => r,
            _ => self.primary,
        }
    }

    fn store(&self, rng: &mut ChaCha8Rng) -> usize {
        let card = self.loyalty.or(self.till);
        match card {
            Some(r) if !rng.gen_bool(0.15) => r,
            _ => self.primary,
        }
    }

    fn call_center(&self) -> usize {
        self.call_center.unwrap_or(self.primary)
    }
}

impl RecordChoices {
    fn draw(pop: &Population, starts: &[usize], n: usize) -> RecordChoices {
        let base = &pop.base;
        let mut out = RecordChoices {
            transaction: vec![0; base.n_transactions()],
            touchpoint: vec![0; base.n_touchpoints()],
            consent: Vec::with_capacity(n),
        };
        let store = Channel::Store;
        let call = Channel::CallCenter;
        for c in 0..n {
            let mut rng = ChaCha8Rng::seed_from_u64(pop.params.seed ^ CHOICE_SEED);
            rng.set_stream(c as u64);
            let records = Records::of(pop, starts[c]..starts[c + 1]);
            for i in base.transaction_range(c as u32) {
                let channel = base.channel(base.tx.channel[i]);
                out.transaction[i] = if channel == Some(&store) {
                    records.store(&mut rng)
                } else if channel == Some(&call) {
                    records.call_center()
                } else {
                    records.online(&mut rng)
                };
            }
            for i in base.touchpoint_range(c as u32) {
                let channel = base.channel(base.tp.channel[i]);
                out.touchpoint[i] = if channel == Some(&store) {
                    records.store(&mut rng)
                } else if channel == Some(&call) {
                    records.call_center()
                } else {
                    records.online(&mut rng)
                };
            }
            let consent = base.consent(c as u32);
            let events = consent.events();
            out.consent.push(
                events
                    .iter()
                    .map(|e| match (&e.channel, e.status) {
                        (Some(Channel::DirectMail), _) => {
                            records.loyalty.unwrap_or(records.primary)
                        }
                        (Some(Channel::Email), ConsentStatus::Withdrawn)
                            if e.purpose == Purpose::Marketing
                                && records.loyalty.is_some()
                                && rng.gen_bool(0.5) =>
                        {
                            records.loyalty.unwrap_or(records.primary)
                        }
                        _ => records.primary,
                    })
                    .collect(),
            );
        }
        out
    }
}

/// One event file of the source systems: its rows by the record each was
/// drawn to belong to.
struct EventFile<'a, 'b> {
    name: &'a str,
    fields: &'a [&'a str],
    customer: &'a [u32],
    time: &'a [i64],
    /// The source record of each row.
    chosen: &'a [usize],
    row: &'a dyn Fn(usize) -> Vec<Cow<'b, str>>,
}

impl EventFile<'_, '_> {
    /// Writes the rows of the first `n` customers up to `as_of` (µs), each
    /// under its record's source and key.
    fn write<'r>(
        &self,
        dir: &Path,
        n: usize,
        as_of: i64,
        record: &dyn Fn(usize) -> (&'r str, &'r str),
    ) -> Result<PathBuf> {
        let (path, mut csv) = writer(dir, self.name)?;
        csv.write_record(csv_header(&["source", "customer_id"], self.fields))
            .map_err(csv_err)?;
        for i in 0..self.customer.len().min(self.time.len()) {
            if self.customer[i] as usize >= n || self.time[i] > as_of {
                continue;
            }
            let (source, key) = self.chosen.get(i).map_or(("", ""), |&r| record(r));
            let fields = (self.row)(i);
            csv.write_record(
                [source, key]
                    .into_iter()
                    .chain(fields.iter().map(|f| f.as_ref())),
            )
            .map_err(csv_err)?;
        }
        finish(csv, &path)?;
        Ok(path)
    }
}

fn writer(dir: &Path, name: &str) -> Result<(PathBuf, csv::Writer<BufWriter<File>>)> {
    let path = dir.join(name);
    let file = File::create(&path).map_err(|e| Error::io(path.display().to_string(), e))?;
    Ok((
        path,
        csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file)),
    ))
}

fn finish(mut csv: csv::Writer<BufWriter<File>>, path: &Path) -> Result<()> {
    csv.flush()
        .map_err(|e| Error::io(path.display().to_string(), e))?;
    let inner = csv
        .into_inner()
        .map_err(|e| Error::io(path.display().to_string(), e.into_error()))?;
    inner
        .into_inner()
        .map_err(|e| Error::io(path.display().to_string(), e.into_error()))?
        .flush()
        .map_err(|e| Error::io(path.display().to_string(), e))
}
