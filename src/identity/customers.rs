//! Resolution applied to the data: source records in, one customer base out.
//!
//! The same person is a web shop account, a loyalty card and a call-centre
//! contact, and every system logs its own orders, touchpoints and consent
//! under its own key. [`CustomerIdentity::resolve`] finds the customers
//! behind the records (zero-config by default, see [`auto`](super::auto));
//! [`CustomerIdentity::apply`] turns a base whose events belong to source
//! records (loaded with a `source`, so their customer ids are references
//! `source:key`) into a base of resolved customers:
//!
//! - every transaction, touchpoint and consent event of every record
//!   belongs to the record's customer: nothing is lost or duplicated (counts
//!   and amounts before and after are equal, [`Applied`] reports them);
//! - each customer's profile is the golden record of its records
//!   ([`golden`](super::golden)), completed from the records' own customer
//!   rows (gender, language, attributes), `created_at` the earliest;
//! - consent is merged conservatively and explainably: the records' ledgers
//!   are combined with each event marked with its record
//!   ([`Consent::merge`](crate::records::Consent::merge)), so the latest
//!   applicable event decides wherever it was recorded and a withdrawal in
//!   any system overrides an older grant in another;
//!   [`Consent::explain`](crate::records::Consent::explain) names the event;
//! - the id map goes both ways: [`CustomerIdentity::customer_of`] (record →
//!   customer id) and [`CustomerIdentity::records_of`] (customer id →
//!   records), every customer's `sources` list its records.
//!
//! Customer ids are minted from the resolution's stable entity ids
//! (`C0000001`, …, prefix configurable): records arriving later
//! ([`CustomerIdentity::update`]) join existing customers, whose ids stay, or
//! found new ones. When a new record connects two existing customers they
//! merge into the smaller id and the other is retired; a reviewer's
//! [`unlink`](CustomerIdentity::unlink) splits one. Both are [`IdEvent`]s
//! in [`CustomerIdentity::events`], so results stored by customer id can be
//! re-keyed ([`CustomerIdentity::current_id`]). The whole state is serde
//! data: a nightly job saves it and continues after a restart.
//!
//! Events whose customer id is not a known record (loaded without a source,
//! or of a record that was never delivered) stay customers of their own
//! under that id, counted in [`Applied::without_record`]: nothing is dropped.

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use super::auto::{AutoParams, resolve_auto_with};
use super::blocking::LinkType;
use super::cluster::UnlinkOutcome;
use super::golden::{Chains, GoldenRecord, GoldenRules, Sources, golden_record};
use super::normalize::{DayMonthOrder, normalize_date};
use super::resolve::{Resolution, Resolver};
use super::settings::Settings;
use super::table::{RecordTable, SOURCE_COLUMN, SourceRecords};
use crate::error::{Error, Result};
use crate::records::{AttributeValue, Customer, CustomerId, Gender, Pii, Profile, SourceRecord};
use crate::store::{CustomerBase, CustomerRecords, Regrouping};

/// How records become customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityParams {
    /// Match probability from which two records are one customer (zero-config mode).
    pub threshold: f64,
    /// Identity columns never compared (the `source` column never is).
    pub exclude: Vec<String>,
    /// Columns where two different values are never one person (e.g. an
    /// existing customer number): a merge that would join them is refused.
    pub conflict_columns: Vec<String>,
    /// Settings to use instead of zero-config mode, over the columns of
    /// [`SourceRecords::combined`] (with `source` first).
    pub settings: Option<Settings>,
    /// Survivorship of the golden record, over the same columns.
    pub golden: GoldenRules,
    /// Customer ids are this prefix and the customer number, zero-padded to seven digits.
    pub id_prefix: String,
}

impl Default for IdentityParams {
    fn default() -> Self {
        IdentityParams {
            threshold: 0.5,
            exclude: Vec::new(),
            conflict_columns: Vec::new(),
            settings: None,
            golden: GoldenRules::default(),
            id_prefix: "C".into(),
        }
    }
}

impl IdentityParams {
    /// Checks the threshold and the id prefix.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a threshold outside (0, 1) or a
    /// prefix that is empty, holds `:` or a control character.
    pub fn check(&self) -> Result<()> {
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(Error::param(
                "threshold",
                self.threshold,
                "must lie in (0, 1)",
            ));
        }
        let p = &self.id_prefix;
        if p.trim().is_empty() || p.contains(':') || p.chars().any(char::is_control) {
            return Err(Error::param(
                "id_prefix",
                p,
                "non-empty, without `:` or control characters",
            ));
        }
        Ok(())
    }
}

/// A change of customer ids, recorded so results stored by id can follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum IdEvent {
    /// A new record connected two customers: `retired` is now part of `into`.
    Merged {
        /// The id that no longer exists.
        retired: String,
        /// The id that holds its records.
        into: String,
        /// The update that caused it (0: the first resolution).
        update: u32,
    },
    /// A reviewer separated records: `from` kept some, `into` holds the rest.
    Split {
        /// The id that was split (it keeps the part with its first record).
        from: String,
        /// The new ids of the other parts.
        into: Vec<String>,
        /// The update after which it happened.
        update: u32,
    },
}

/// What an update with newly arrived records did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityUpdate {
    /// Records not seen before, resolved now.
    pub new_records: usize,
    /// Records already held (their first-seen values are kept).
    pub known_records: usize,
    /// Known records whose values differ from the ones held (not re-resolved).
    pub changed_records: usize,
    /// New records that joined an existing customer.
    pub joined_existing: usize,
    /// Customers founded by new records only.
    pub new_customers: usize,
    /// Candidate pairs involving a new record.
    pub candidate_pairs: usize,
    /// Customers merged because a new record connected them.
    pub merges: Vec<IdEvent>,
}

/// The account of applying a resolution to a base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// Customers of the base the events were loaded into (records and other ids).
    pub input_customers: usize,
    /// Of them, known source records.
    pub records_with_data: usize,
    /// Of them, ids that are no known record: kept as customers of their own.
    pub without_record: usize,
    /// Up to five of those ids, to look into.
    pub without_record_examples: Vec<String>,
    /// Resolved customers in the new base (those of records and those without one).
    pub customers: usize,
    /// Resolved customers with more than one record.
    pub merged_customers: usize,
    /// Resolved customers whose records have no event at all (e.g. a sign-up
    /// without a purchase yet).
    pub customers_without_events: usize,
    /// Transactions before and after (always equal).
    pub transactions: (usize, usize),
    /// Touchpoints before and after (always equal).
    pub touchpoints: (usize, usize),
    /// Consent events before and after (always equal).
    pub consent_events: (usize, usize),
    /// Sum of transaction amounts, in 1/10,000 units, before and after (always equal).
    pub amount_units: (i128, i128),
}

/// The customers behind the source records, and how to apply them to data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerIdentity {
    params: IdentityParams,
    resolver: Resolver,
    /// Every record resolved, in record order, with the source as first column.
    records: RecordTable,
    events: Vec<IdEvent>,
    updates: u32,
    #[serde(skip)]
    index: HashMap<Box<str>, u32>,
}

/// Minted customer id of an entity.
fn mint(prefix: &str, entity: u32) -> String {
    format!("{prefix}{:07}", u64::from(entity) + 1)
}

impl CustomerIdentity {
    /// Resolves `records` into customers: zero-config mode over every
    /// record of every source together (dedupe: duplicates within one
    /// system are found too), the source column left out of matching, or
    /// the settings given in `params`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`IdentityParams::check`] or for
    /// columns it names that the records lack; [`Error::EmptyInput`] for
    /// no records; errors of the resolution.
    pub fn resolve(
        records: SourceRecords,
        params: &IdentityParams,
    ) -> Result<(CustomerIdentity, Resolution)> {
        params.check()?;
        // The identity keeps the records (for golden records and later
        // updates): taken, not copied.
        let combined = records.into_combined()?;
        if combined.is_empty() {
            return Err(Error::empty("source records to resolve"));
        }
        let (resolver, resolution) = match &params.settings {
            Some(settings) => Resolver::fit(&[&combined], settings)?,
            None => {
                let mut exclude = params.exclude.clone();
                exclude.push(SOURCE_COLUMN.to_owned());
                let (_, resolver, resolution) = resolve_auto_with(
                    &[&combined],
                    &AutoParams {
                        threshold: params.threshold,
                        exclude,
                        conflict_columns: params.conflict_columns.clone(),
                        link_type: Some(LinkType::Dedupe),
                    },
                )?;
                (resolver, resolution)
            }
        };
        let mut identity = CustomerIdentity {
            params: params.clone(),
            resolver,
            records: combined,
            events: Vec::new(),
            updates: 0,
            index: HashMap::new(),
        };
        identity.reindex();
        Ok((identity, resolution))
    }

    fn reindex(&mut self) {
        if self.index.len() != self.records.len() {
            self.index = self
                .records
                .ids()
                .iter()
                .enumerate()
                .map(|(r, id)| (Box::from(id.as_str()), r as u32))
                .collect();
        }
    }

    /// The parameters.
    pub fn params(&self) -> &IdentityParams {
        &self.params
    }

    /// The fitted resolver (settings, model, entities).
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Every record resolved, in record order (`source` first, then the identity columns).
    pub fn records(&self) -> &RecordTable {
        &self.records
    }

    /// Id changes so far, oldest first.
    pub fn events(&self) -> &[IdEvent] {
        &self.events
    }

    /// Number of live customers.
    pub fn customer_count(&self) -> usize {
        self.resolver.entities().entity_count()
    }

    /// The customer id of an entity of the resolution.
    pub fn customer_id(&self, entity: u32) -> String {
        mint(&self.params.id_prefix, entity)
    }

    /// The entity behind a customer id (retired ids included).
    fn entity_of_id(&self, customer_id: &str) -> Option<u32> {
        let digits = customer_id.trim().strip_prefix(&self.params.id_prefix)?;
        if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        let entity = u32::try_from(n.checked_sub(1)?).ok()?;
        (self.resolver.entities().get(entity).is_some()).then_some(entity)
    }

    /// The record index of a reference `source:key`.
    fn record_of(&self, reference: &str) -> Option<u32> {
        match self.index.get(reference.trim()) {
            Some(&r) => Some(r),
            // Deserialised state builds its index on first use by `&mut`
            // methods; read-only lookups fall back to a scan.
            None if self.index.len() != self.records.len() => self
                .records
                .ids()
                .iter()
                .position(|id| id == reference.trim())
                .map(|r| r as u32),
            None => None,
        }
    }

    /// The customer id of a source record (`source:key`), or `None` for a
    /// record never resolved.
    pub fn customer_of(&self, reference: &str) -> Option<String> {
        let r = self.record_of(reference)?;
        let e = self.resolver.entities().entity(r)?;
        Some(self.customer_id(e))
    }

    /// The source records of a customer, in record order (none for a retired
    /// or unknown id).
    pub fn records_of(&self, customer_id: &str) -> Vec<SourceRecord> {
        let Some(e) = self.entity_of_id(customer_id) else {
            return Vec::new();
        };
        self.resolver
            .entities()
            .members(e)
            .iter()
            .filter_map(|&r| self.records.ids().get(r as usize))
            .filter_map(|id| SourceRecord::parse(id))
            .collect()
    }

    /// Where an id stands now: itself while live, the customer it was
    /// merged into when retired (following merges); `None` for an id this
    /// identity never minted.
    pub fn current_id(&self, customer_id: &str) -> Option<String> {
        let e = self.entity_of_id(customer_id)?;
        let live = self.resolver.entities().resolve(e)?;
        Some(self.customer_id(live))
    }

    /// The golden record of a customer, every value with the record it came from.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an id that is not a live customer; errors of
    /// the survivorship rules (a column they name is missing).
    pub fn golden_record(&self, customer_id: &str) -> Result<GoldenRecord> {
        let e = self
            .entity_of_id(customer_id)
            .filter(|&e| !self.resolver.entities().members(e).is_empty())
            .ok_or_else(|| Error::NotFound {
                what: "customer",
                id: customer_id.to_owned(),
            })?;
        let sources = Sources::new(&[&self.records])?;
        let chains = Chains::new(&sources, &self.params.golden)?;
        golden_record(&sources, &chains, e, self.resolver.entities().members(e))
    }

    /// Resolves records that arrived since: records already held are
    /// skipped (counted, and counted as changed when their values differ),
    /// new ones are prepared, blocked against the existing keys, scored with
    /// the fitted model and linked: they join existing customers (whose ids
    /// stay) or found new ones. Customers a new record connects merge into
    /// the smaller id; each merge is an [`IdEvent`].
    ///
    /// # Errors
    /// Errors of [`Resolver::add`] (e.g. columns the settings need that the
    /// new records lack); on error the identity is unchanged.
    pub fn update(&mut self, records: &SourceRecords) -> Result<IdentityUpdate> {
        self.reindex();
        let combined = records.combined()?;
        let mut fresh = RecordTable::new(self.records.columns().to_vec())?;
        let (mut known, mut changed) = (0usize, 0usize);
        // Columns by name: the new delivery may order or extend them differently.
        let map: Vec<Option<usize>> = self
            .records
            .columns()
            .iter()
            .map(|c| combined.column(c))
            .collect();
        for (i, id) in combined.ids().iter().enumerate() {
            let values: Vec<Option<&str>> = map
                .iter()
                .map(|c| c.and_then(|c| combined.value(i, c)))
                .collect();
            match self.index.get(id.as_str()) {
                Some(&r) => {
                    known += 1;
                    if self.records.row(r as usize) != values {
                        changed += 1;
                    }
                }
                None => fresh.push(id.clone(), values)?,
            }
        }
        let update = self.updates + 1;
        if fresh.is_empty() {
            self.updates = update;
            return Ok(IdentityUpdate {
                new_records: 0,
                known_records: known,
                changed_records: changed,
                joined_existing: 0,
                new_customers: 0,
                candidate_pairs: 0,
                merges: Vec::new(),
            });
        }
        let before = self.resolver.entities().id_count() as u32;
        let live_before: Vec<bool> = (0..before)
            .map(|e| self.resolver.entities().merged_into(e).is_none())
            .collect();
        let increment = self.resolver.add(&fresh, 0)?;
        let entities = self.resolver.entities();
        let mut merges = Vec::new();
        for (e, &was_live) in live_before.iter().enumerate() {
            let e = e as u32;
            if was_live {
                if let Some(into) = entities.resolve(e).filter(|&i| i != e) {
                    merges.push(IdEvent::Merged {
                        retired: self.customer_id(e),
                        into: self.customer_id(into),
                        update,
                    });
                }
            }
        }
        let new_records = fresh.len();
        for id in fresh.ids() {
            let r = self.index.len() as u32;
            self.index.insert(Box::from(id.as_str()), r);
        }
        self.records.append(&fresh)?;
        self.events.extend(merges.iter().cloned());
        self.updates = update;
        Ok(IdentityUpdate {
            new_records,
            known_records: known,
            changed_records: changed,
            joined_existing: increment.joined_existing,
            new_customers: increment.new_entities,
            candidate_pairs: increment.candidate_pairs,
            merges,
        })
    }

    /// Separates two records a reviewer says are different people (every
    /// link between them is removed and never re-added); when that splits
    /// their customer, the part without the customer's first record gets a
    /// new id, recorded as an [`IdEvent::Split`].
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown reference; errors of
    /// [`Entities::unlink`](super::cluster::Entities::unlink).
    pub fn unlink(&mut self, a: &str, b: &str) -> Result<UnlinkOutcome> {
        self.reindex();
        let find = |r: &str| {
            self.record_of(r).ok_or_else(|| Error::NotFound {
                what: "source record",
                id: r.to_owned(),
            })
        };
        let (ra, rb) = (find(a)?, find(b)?);
        let outcome = self.resolver.entities_mut().unlink(ra, rb)?;
        if let Some((&first, rest)) = outcome.parts.split_first() {
            if !rest.is_empty() {
                self.events.push(IdEvent::Split {
                    from: self.customer_id(first),
                    into: rest.iter().map(|&e| self.customer_id(e)).collect(),
                    update: self.updates,
                });
            }
        }
        Ok(outcome)
    }

    /// Applies the resolution to `raw`, a base whose customers are source
    /// records (`source:key`) and possibly other ids: the result has one
    /// customer per resolved customer (in customer number order), then one
    /// per other id (in `raw`'s order), with every event of `raw` under the
    /// customer its record resolves to.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when an id of `raw` that is no record equals
    /// a minted customer id (the two would be confused); errors of the
    /// golden record rules and of [`CustomerBase::regroup`].
    pub fn apply(&self, mut raw: CustomerBase) -> Result<(CustomerBase, Applied)> {
        let entities = self.resolver.entities();
        // Live entities in id order are the first customers.
        let mut slot_of_entity = vec![u32::MAX; entities.id_count()];
        let mut ids: Vec<String> = Vec::with_capacity(entities.entity_count());
        for (e, _) in entities.iter() {
            slot_of_entity[e as usize] = ids.len() as u32;
            ids.push(self.customer_id(e));
        }
        let n_resolved = ids.len();
        let n_raw = raw.n_customers();
        let mut new_index = vec![0u32; n_raw];
        let mut record_of_raw: Vec<Option<u32>> = vec![None; n_raw];
        let mut without_record = 0usize;
        let mut examples = Vec::new();
        for c in raw.customer_indices() {
            let id = raw.customer_id(c);
            let entity = self
                .record_of(id)
                .and_then(|r| Some((r, entities.entity(r)?)));
            match entity.and_then(|(r, e)| Some((r, *slot_of_entity.get(e as usize)?))) {
                Some((r, slot)) if slot != u32::MAX => {
                    new_index[c as usize] = slot;
                    record_of_raw[c as usize] = Some(r);
                }
                _ => {
                    if self.entity_of_id(id).is_some() {
                        return Err(Error::value(
                            "customer id of the loaded events",
                            id,
                            "is no source record but looks like a resolved customer id; load \
                             events by their source records, or choose another id_prefix",
                        ));
                    }
                    new_index[c as usize] = ids.len() as u32;
                    ids.push(id.to_owned());
                    without_record += 1;
                    if examples.len() < 5 {
                        examples.push(id.to_owned());
                    }
                }
            }
        }
        let before_tx = raw.n_transactions();
        let before_tp = raw.n_touchpoints();
        let amount_before: i128 = raw.tx_amount_units().iter().map(|&a| i128::from(a)).sum();
        let raw_customers = std::mem::take(&mut raw.customers);
        let consent_before: usize = (0..raw_customers.len())
            .map(|c| raw_customers.consent_events(c))
            .sum();

        // Raw customers in order of their new customer (raw order within
        // one), so each is taken, merged and released in one pass.
        let mut starts = vec![0usize; ids.len() + 1];
        for &k in &new_index {
            starts[k as usize + 1] += 1;
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        let mut order = vec![0u32; n_raw];
        let mut next = starts.clone();
        for (c, &k) in new_index.iter().enumerate() {
            order[next[k as usize]] = c as u32;
            next[k as usize] += 1;
        }
        drop(next);
        let sources = Sources::new(&[&self.records])?;
        let chains = Chains::new(&sources, &self.params.golden)?;
        let columns = sources.columns().to_vec();
        let mut customers = CustomerRecords::with_capacity(ids.len());
        let mut merged_customers = 0usize;
        let mut entity_iter = entities.iter();
        for (slot, id) in ids.iter().enumerate() {
            let raw_records: Vec<(u32, Customer)> = order[starts[slot]..starts[slot + 1]]
                .iter()
                .filter_map(|&c| Some((c, raw_customers.get(c as usize)?)))
                .collect();
            let customer = if slot < n_resolved {
                let Some((_, members)) = entity_iter.next() else {
                    return Err(Error::InvalidInput(
                        "entities changed while applying".into(),
                    ));
                };
                if members.len() > 1 {
                    merged_customers += 1;
                }
                let values: Vec<Option<&str>> = chains
                    .values(&sources, members)
                    .into_iter()
                    .map(|c| c.map(|c| c.value))
                    .collect();
                let refs: Vec<SourceRecord> = members
                    .iter()
                    .filter_map(|&r| self.records.ids().get(r as usize))
                    .filter_map(|id| SourceRecord::parse(id))
                    .collect();
                Some(merge_customer(
                    id,
                    profile_of(&columns, &values),
                    refs,
                    raw_records,
                    &record_of_raw,
                    &self.records,
                )?)
            } else {
                // An id without a record keeps its own customer row, if any.
                raw_records.into_iter().next().map(|(_, c)| c)
            };
            customers.push(customer.as_ref());
        }
        drop(raw_customers);
        customers.shrink_to_fit();
        let consent_after: usize = (0..customers.len())
            .map(|c| customers.consent_events(c))
            .sum();
        let base = raw.regroup(Regrouping {
            ids,
            customers,
            new_index,
        })?;
        let customers_without_events = base
            .customer_indices()
            .filter(|&c| {
                base.transaction_range(c).is_empty() && base.touchpoint_range(c).is_empty()
            })
            .count();
        let amount_after: i128 = base.tx_amount_units().iter().map(|&a| i128::from(a)).sum();
        let applied = Applied {
            input_customers: n_raw,
            records_with_data: n_raw - without_record,
            without_record,
            without_record_examples: examples,
            customers: base.n_customers(),
            merged_customers,
            customers_without_events,
            transactions: (before_tx, base.n_transactions()),
            touchpoints: (before_tp, base.n_touchpoints()),
            consent_events: (consent_before, consent_after),
            amount_units: (amount_before, amount_after),
        };
        Ok((base, applied))
    }
}

/// A resolved customer's record: the golden profile completed from the
/// records' own customer rows, consent merged with provenance, the records
/// as sources.
fn merge_customer(
    id: &str,
    golden: Profile,
    sources: Vec<SourceRecord>,
    raw_records: Vec<(u32, Customer)>,
    record_of_raw: &[Option<u32>],
    records: &RecordTable,
) -> Result<Customer> {
    let mut id = Some(CustomerId::new(id)?);
    let mut profile = golden;
    let mut customer: Option<Customer> = None;
    for (raw, mut record) in raw_records {
        let p = std::mem::take(&mut record.profile);
        let consent = std::mem::take(&mut record.consent);
        let created_at = record.created_at.take();
        // The first record becomes the customer: most customers have one
        // record, and nothing of theirs is copied.
        let customer = match customer {
            Some(ref mut c) => c,
            None => {
                if let Some(id) = id.take() {
                    record.id = id;
                }
                record.sources.clear();
                customer.insert(record)
            }
        };
        let source = record_of_raw
            .get(raw as usize)
            .copied()
            .flatten()
            .and_then(|r| records.ids().get(r as usize))
            .and_then(|id| SourceRecord::parse(id));
        customer.consent.merge(consent, source.as_ref());
        customer.created_at = match (customer.created_at, created_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        fill_profile(&mut profile, p);
    }
    let mut customer = match (customer, id) {
        (Some(c), _) => c,
        (None, Some(id)) => Customer::new(id),
        (None, None) => return Err(Error::InvalidInput("a customer without an id".into())),
    };
    customer.profile = profile;
    customer.sources = sources;
    Ok(customer)
}

/// Fills what `profile` lacks from `other` (the golden values stay).
fn fill_profile(profile: &mut Profile, other: Profile) {
    let Profile {
        given_name,
        family_name,
        emails,
        phones,
        birth_date,
        gender,
        address_lines,
        city,
        postcode,
        country,
        language,
        attributes,
    } = other;
    profile.given_name = profile.given_name.take().or(given_name);
    profile.family_name = profile.family_name.take().or(family_name);
    for e in emails {
        if !profile.emails.contains(&e) {
            profile.emails.push(e);
        }
    }
    for p in phones {
        if !profile.phones.contains(&p) {
            profile.phones.push(p);
        }
    }
    profile.birth_date = profile.birth_date.take().or(birth_date);
    profile.gender = profile.gender.take().or(gender);
    if profile.address_lines.is_empty() {
        profile.address_lines = address_lines;
    }
    profile.city = profile.city.take().or(city);
    profile.postcode = profile.postcode.take().or(postcode);
    profile.country = profile.country.take().or(country);
    profile.language = profile.language.take().or(language);
    for (k, v) in attributes {
        profile.attributes.entry(k).or_insert(v);
    }
}

/// A profile from golden values, by column name (common names and their
/// variants; other columns become attributes, the source column is skipped).
fn profile_of(columns: &[String], values: &[Option<&str>]) -> Profile {
    let mut p = Profile::default();
    for (column, value) in columns.iter().zip(values) {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        let key = crate::records::labels::normalize_label(column);
        match key.as_str() {
            "source" => {}
            "given_name" | "first_name" | "firstname" | "forename" => {
                p.given_name = Some(Pii::new(v.to_owned()));
            }
            "family_name" | "last_name" | "lastname" | "surname" => {
                p.family_name = Some(Pii::new(v.to_owned()));
            }
            "email" | "email_address" | "e_mail" => p.emails.push(Pii::new(v.to_owned())),
            "phone" | "phone_number" | "mobile" | "telephone" => {
                p.phones.push(Pii::new(v.to_owned()));
            }
            "birth_date" | "date_of_birth" | "dob" | "birthdate" => {
                // Dates are read as cleansing reads them (day first where ambiguous);
                // an unreadable one stays as an attribute rather than being lost.
                match normalize_date(v, DayMonthOrder::DayFirst) {
                    Ok(d) => p.birth_date = Some(Pii::new(d)),
                    Err(_) => {
                        p.attributes
                            .insert(column.clone(), AttributeValue::Text(v.to_owned()));
                    }
                }
            }
            "gender" => p.gender = Some(Gender::parse_lenient(v)),
            "street" | "address" | "address_line1" | "address_line2" => {
                p.address_lines.push(Pii::new(v.to_owned()));
            }
            "city" | "town" => p.city = Some(v.to_owned()),
            "postcode" | "zip" | "zip_code" | "postal_code" => {
                p.postcode = Some(Pii::new(v.to_owned()));
            }
            "country" => p.country = Some(v.to_uppercase()),
            "language" => p.language = Some(v.to_owned()),
            _ => {
                p.attributes
                    .insert(column.clone(), AttributeValue::Text(v.to_owned()));
            }
        }
    }
    p
}
