//! Customer records (profile, consent, provenance) packed into one byte
//! arena: what a base holds for a million customers without a million
//! boxed records, a dozen small strings each and 80-byte consent events.
//!
//! Each record is a compact byte encoding (variable-length integers, text
//! as length and bytes, labels as their index in the known list); a record
//! is decoded into a [`Customer`] when asked for, and consent is checked on
//! the encoded events without decoding the rest. A record is laid out as
//! its consent events first (count, then each event), then the id, creation
//! time, source records and profile, so that events loaded later can be
//! appended to a record's ledger when a base is built.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;

use crate::records::{
    AttributeValue, Channel, Consent, ConsentEvent, ConsentStatus, Customer, CustomerId, Deciding,
    Gender, Pii, Profile, Purpose, SourceRecord,
};

/// Customer records by customer index, each packed into bytes; a customer
/// may have none.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRecords {
    bytes: Vec<u8>,
    /// Record `i` is `bytes[starts[i]..starts[i + 1]]`; empty for none
    /// (an encoded record is never empty: it holds at least the id).
    starts: Vec<u64>,
}

impl Default for CustomerRecords {
    fn default() -> Self {
        CustomerRecords::new()
    }
}

impl CustomerRecords {
    /// No records.
    pub fn new() -> Self {
        CustomerRecords {
            bytes: Vec::new(),
            starts: vec![0],
        }
    }

    /// No records, with room for `customers` of them.
    pub fn with_capacity(customers: usize) -> Self {
        let mut starts = Vec::with_capacity(customers + 1);
        starts.push(0);
        CustomerRecords {
            bytes: Vec::new(),
            starts,
        }
    }

    /// Number of customers (with a record or without).
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Whether there are no customers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the next customer's record (`None`: a customer without one).
    pub fn push(&mut self, customer: Option<&Customer>) {
        if let Some(c) = customer {
            encode_customer(&mut self.bytes, c);
        }
        self.end_record();
    }

    /// Appends the next customer's record as [`encode_customer`] wrote it.
    pub(crate) fn push_encoded(&mut self, record: &[u8]) {
        self.bytes.extend_from_slice(record);
        self.end_record();
    }

    /// Appends a customer's record with `extra` consent events (each
    /// encoded by [`encode_event`]) after the record's own ledger.
    pub(crate) fn push_with_events(&mut self, record: Option<&[u8]>, id: &str, extra: &[&[u8]]) {
        let (own_events, own_count, rest) = match record.and_then(split_consent) {
            Some((count, events, rest)) => (events, count, Some(rest)),
            None => (&[][..], 0, None),
        };
        if rest.is_none() && extra.is_empty() {
            self.end_record();
            return;
        }
        put_varint(&mut self.bytes, own_count + extra.len() as u64);
        self.bytes.extend_from_slice(own_events);
        for e in extra {
            self.bytes.extend_from_slice(e);
        }
        match rest {
            Some(rest) => self.bytes.extend_from_slice(rest),
            None => encode_bare(&mut self.bytes, id),
        }
        self.end_record();
    }

    fn end_record(&mut self) {
        self.starts.push(self.bytes.len() as u64);
    }

    /// The encoded record of customer `i` (`None` without one).
    pub(crate) fn raw(&self, i: usize) -> Option<&[u8]> {
        let (&a, &b) = (self.starts.get(i)?, self.starts.get(i + 1)?);
        (b > a).then(|| self.bytes.get(a as usize..b as usize))?
    }

    /// Whether customer `i` has a record.
    pub fn has(&self, i: usize) -> bool {
        self.raw(i).is_some()
    }

    /// Customer `i`'s record, decoded.
    pub fn get(&self, i: usize) -> Option<Customer> {
        decode(self.raw(i)?)
    }

    /// Customer `i`'s consent ledger, decoded (empty without a record).
    pub fn consent(&self, i: usize) -> Consent {
        let mut consent = Consent::new();
        if let Some(mut r) = self.raw(i).map(Reader::new) {
            let _ = read_events(&mut r, |e| consent.record(e));
        }
        consent
    }

    /// The number of consent events in customer `i`'s ledger.
    pub fn consent_events(&self, i: usize) -> usize {
        self.raw(i)
            .and_then(|r| Reader::new(r).varint())
            .map_or(0, |n| n as usize)
    }

    /// [`Consent::allows`] of customer `i`'s ledger, read from the encoded
    /// events (`false` without a record: consent is opt-in).
    pub fn allows(&self, i: usize, channel: &Channel, purpose: &Purpose, at: Timestamp) -> bool {
        let Some(raw) = self.raw(i) else {
            return false;
        };
        let mut deciding = Deciding::new(channel, purpose, at);
        let mut r = Reader::new(raw);
        let complete = read_event_keys(&mut r, |k, c, p, s, t| {
            deciding.offer(k, c.as_ref(), &p, s, t);
        });
        complete.is_some() && deciding.allowed()
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.bytes.capacity() + self.starts.capacity() * size_of::<u64>()
    }

    /// Releases spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.starts.shrink_to_fit();
    }

    /// Every customer's record in index order.
    pub fn iter(&self) -> impl Iterator<Item = Option<Customer>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Encodes a whole customer record, as [`CustomerRecords::push`] stores it:
/// callers that make many records on several threads encode them there and
/// append the bytes with [`CustomerRecords::push_encoded`].
pub(crate) fn encode_customer(out: &mut Vec<u8>, c: &Customer) {
    encode_events(out, c.consent.events());
    encode_rest(out, c);
}

/// Encodes one consent event on its own (its source written out), for
/// appending to a ledger with [`CustomerRecords::push_with_events`].
pub(crate) fn encode_event(out: &mut Vec<u8>, event: &ConsentEvent) {
    put_event(out, event, None);
}

/// The record's consent count, the bytes of its events, and the rest.
fn split_consent(record: &[u8]) -> Option<(u64, &[u8], &[u8])> {
    let mut r = Reader::new(record);
    let count = r.varint()?;
    let first = r.pos;
    for _ in 0..count {
        skip_event(&mut r)?;
    }
    Some((count, &record[first..r.pos], &record[r.pos..]))
}

fn encode_events(out: &mut Vec<u8>, events: &[ConsentEvent]) {
    put_varint(out, events.len() as u64);
    let mut previous: Option<&Arc<SourceRecord>> = None;
    for e in events {
        put_event(out, e, previous);
        previous = e.source.as_ref();
    }
}

// Source marks of an event: none, the previous event's source, or written out.
const SOURCE_NONE: u8 = 0;
const SOURCE_PREVIOUS: u8 = 1;
const SOURCE_INLINE: u8 = 2;

fn put_event(out: &mut Vec<u8>, e: &ConsentEvent, previous: Option<&Arc<SourceRecord>>) {
    match &e.channel {
        None => out.push(0),
        Some(c) => put_label(out, c.as_str(), Channel::KNOWN.iter().position(|k| k == c)),
    }
    put_label(
        out,
        e.purpose.as_str(),
        Purpose::KNOWN.iter().position(|k| k == &e.purpose),
    );
    out.push(match e.status {
        ConsentStatus::Granted => 1,
        ConsentStatus::Withdrawn => 0,
    });
    put_timestamp(out, e.at);
    match (&e.source, previous) {
        (None, _) => out.push(SOURCE_NONE),
        (Some(s), Some(p)) if Arc::ptr_eq(s, p) || s == p => out.push(SOURCE_PREVIOUS),
        (Some(s), _) => {
            out.push(SOURCE_INLINE);
            put_str(out, &s.source);
            put_str(out, &s.key);
        }
    }
}

/// A label: 1 and its text when not in the known list, else 2 + its index
/// (0 is left for "none" where the label is optional).
fn put_label(out: &mut Vec<u8>, text: &str, known: Option<usize>) {
    match known {
        Some(k) if k < 250 => out.push(2 + k as u8),
        _ => {
            out.push(1);
            put_str(out, text);
        }
    }
}

fn encode_rest(out: &mut Vec<u8>, c: &Customer) {
    put_str(out, c.id.as_str());
    match c.created_at {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            put_timestamp(out, t);
        }
    }
    put_varint(out, c.sources.len() as u64);
    for s in &c.sources {
        put_str(out, &s.source);
        put_str(out, &s.key);
    }
    put_profile(out, &c.profile);
}

/// The rest of a record with only an id (no creation time, sources or profile).
fn encode_bare(out: &mut Vec<u8>, id: &str) {
    put_str(out, id);
    out.push(0);
    put_varint(out, 0);
    put_profile(out, &Profile::default());
}

fn put_profile(out: &mut Vec<u8>, p: &Profile) {
    let options: [Option<&str>; 6] = [
        p.given_name.as_ref().map(|v| v.expose().as_str()),
        p.family_name.as_ref().map(|v| v.expose().as_str()),
        p.city.as_deref(),
        p.postcode.as_ref().map(|v| v.expose().as_str()),
        p.country.as_deref(),
        p.language.as_deref(),
    ];
    // One bit per optional field present, then the fields in order.
    let mut present = 0u16;
    for (bit, v) in options.iter().enumerate() {
        if v.is_some() {
            present |= 1 << bit;
        }
    }
    if p.birth_date.is_some() {
        present |= 1 << 6;
    }
    if p.gender.is_some() {
        present |= 1 << 7;
    }
    let lists = [&p.emails, &p.phones, &p.address_lines];
    for (bit, list) in lists.iter().enumerate() {
        if !list.is_empty() {
            present |= 1 << (8 + bit);
        }
    }
    if !p.attributes.is_empty() {
        present |= 1 << 11;
    }
    put_varint(out, u64::from(present));
    for v in options.into_iter().flatten() {
        put_str(out, v);
    }
    if let Some(d) = &p.birth_date {
        let d = d.expose();
        put_varint(out, zigzag(i64::from(d.year())));
        out.push(d.month() as u8);
        out.push(d.day() as u8);
    }
    if let Some(g) = &p.gender {
        put_label(out, g.as_str(), Gender::KNOWN.iter().position(|k| k == g));
    }
    for list in lists {
        if !list.is_empty() {
            put_varint(out, list.len() as u64);
            for v in list {
                put_str(out, v.expose());
            }
        }
    }
    if !p.attributes.is_empty() {
        put_varint(out, p.attributes.len() as u64);
        for (key, value) in &p.attributes {
            put_str(out, key);
            match value {
                AttributeValue::Bool(b) => {
                    out.push(0);
                    out.push(u8::from(*b));
                }
                AttributeValue::Int(i) => {
                    out.push(1);
                    put_varint(out, zigzag(*i));
                }
                AttributeValue::Float(f) => {
                    out.push(2);
                    out.extend_from_slice(&f.to_bits().to_le_bytes());
                }
                AttributeValue::Text(t) => {
                    out.push(3);
                    put_str(out, t);
                }
            }
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_timestamp(out: &mut Vec<u8>, t: Timestamp) {
    put_varint(out, zigzag(t.as_second()));
    put_varint(out, zigzag(i64::from(t.subsec_nanosecond())));
}

/// Reads an encoded record; every method returns `None` past the end or on
/// a malformed value (records are written by this module, so that means a
/// bug, which the decoders report as a missing record rather than a panic).
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(n)?;
        let s = std::str::from_utf8(self.bytes.get(self.pos..end)?).ok()?;
        self.pos = end;
        Some(s)
    }

    fn timestamp(&mut self) -> Option<Timestamp> {
        let seconds = unzigzag(self.varint()?);
        let nanos = i32::try_from(unzigzag(self.varint()?)).ok()?;
        Timestamp::new(seconds, nanos).ok()
    }

    /// A label of an open enum: `None` for the "none" mark (0).
    fn label<T: Clone>(&mut self, known: &[T], other: impl Fn(String) -> T) -> Option<Option<T>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(other(self.str()?.to_owned()))),
            k => known.get(usize::from(k - 2)).cloned().map(Some),
        }
    }
}

/// Reads the consent events, calling `on_key` with each event's index,
/// channel, purpose, status and time (sources are skipped); `None` when the
/// record is malformed.
fn read_event_keys(
    r: &mut Reader<'_>,
    mut on_key: impl FnMut(usize, Option<Channel>, Purpose, ConsentStatus, Timestamp),
) -> Option<()> {
    let n = r.varint()?;
    for k in 0..n as usize {
        let (channel, purpose, status, at) = event_key(r)?;
        skip_source(r)?;
        on_key(k, channel, purpose, status, at);
    }
    Some(())
}

fn event_key(r: &mut Reader<'_>) -> Option<(Option<Channel>, Purpose, ConsentStatus, Timestamp)> {
    let channel = r.label(Channel::KNOWN, Channel::Other)?;
    let purpose = r.label(Purpose::KNOWN, Purpose::Other)??;
    let status = match r.byte()? {
        1 => ConsentStatus::Granted,
        0 => ConsentStatus::Withdrawn,
        _ => return None,
    };
    Some((channel, purpose, status, r.timestamp()?))
}

fn skip_source(r: &mut Reader<'_>) -> Option<()> {
    if r.byte()? == SOURCE_INLINE {
        r.str()?;
        r.str()?;
    }
    Some(())
}

fn skip_event(r: &mut Reader<'_>) -> Option<()> {
    event_key(r)?;
    skip_source(r)
}

/// Reads the consent events, calling `on_event` with each, sources shared
/// between consecutive events of one source as they were recorded.
fn read_events(r: &mut Reader<'_>, mut on_event: impl FnMut(ConsentEvent)) -> Option<()> {
    let n = r.varint()?;
    let mut previous: Option<Arc<SourceRecord>> = None;
    for _ in 0..n {
        let (channel, purpose, status, at) = event_key(r)?;
        let source = match r.byte()? {
            SOURCE_NONE => None,
            SOURCE_PREVIOUS => Some(previous.clone()?),
            SOURCE_INLINE => Some(Arc::new(SourceRecord::new(r.str()?, r.str()?))),
            _ => return None,
        };
        previous.clone_from(&source);
        on_event(ConsentEvent {
            channel,
            purpose,
            status,
            at,
            source,
        });
    }
    Some(())
}

fn decode(raw: &[u8]) -> Option<Customer> {
    let mut r = Reader::new(raw);
    let mut consent = Consent::new();
    read_events(&mut r, |e| consent.record(e))?;
    let id = CustomerId::new(r.str()?).ok()?;
    let created_at = match r.byte()? {
        0 => None,
        _ => Some(r.timestamp()?),
    };
    let n_sources = r.varint()?;
    let mut sources = Vec::with_capacity(n_sources.min(1024) as usize);
    for _ in 0..n_sources {
        sources.push(SourceRecord::new(r.str()?, r.str()?));
    }
    let profile = read_profile(&mut r)?;
    (r.pos == raw.len()).then_some(Customer {
        id,
        profile,
        consent,
        created_at,
        sources,
    })
}

fn read_profile(r: &mut Reader<'_>) -> Option<Profile> {
    let present = r.varint()?;
    let has = |bit: u32| present & (1 << bit) != 0;
    let mut text: [Option<String>; 6] = Default::default();
    for (bit, slot) in text.iter_mut().enumerate() {
        if has(bit as u32) {
            *slot = Some(r.str()?.to_owned());
        }
    }
    let [given, family, city, postcode, country, language] = text;
    let birth_date = if has(6) {
        let year = i16::try_from(unzigzag(r.varint()?)).ok()?;
        let month = i8::try_from(r.byte()?).ok()?;
        let day = i8::try_from(r.byte()?).ok()?;
        Some(Pii::new(Date::new(year, month, day).ok()?))
    } else {
        None
    };
    let gender = if has(7) {
        r.label(Gender::KNOWN, Gender::Other)?
    } else {
        None
    };
    let mut lists: [Vec<Pii<String>>; 3] = Default::default();
    for (bit, list) in lists.iter_mut().enumerate() {
        if has(8 + bit as u32) {
            let n = r.varint()?;
            for _ in 0..n {
                list.push(Pii::new(r.str()?.to_owned()));
            }
        }
    }
    let [emails, phones, address_lines] = lists;
    let mut attributes = BTreeMap::new();
    if has(11) {
        let n = r.varint()?;
        for _ in 0..n {
            let key = r.str()?.to_owned();
            let value = match r.byte()? {
                0 => AttributeValue::Bool(r.byte()? != 0),
                1 => AttributeValue::Int(unzigzag(r.varint()?)),
                2 => {
                    let end = r.pos.checked_add(8)?;
                    let bits: [u8; 8] = r.bytes.get(r.pos..end)?.try_into().ok()?;
                    r.pos = end;
                    AttributeValue::Float(f64::from_bits(u64::from_le_bytes(bits)))
                }
                3 => AttributeValue::Text(r.str()?.to_owned()),
                _ => return None,
            };
            attributes.insert(key, value);
        }
    }
    Some(Profile {
        given_name: given.map(Pii::new),
        family_name: family.map(Pii::new),
        emails,
        phones,
        birth_date,
        gender,
        address_lines,
        city,
        postcode: postcode.map(Pii::new),
        country,
        language,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn full_customer() -> Customer {
        let mut c = Customer::new(CustomerId::new("C-1").unwrap());
        c.profile.given_name = Some("Anna".into());
        c.profile.family_name = Some("Müller".into());
        c.profile.emails = vec!["a@x.de".into(), "anna@y.de".into()];
        c.profile.phones = vec!["+49 30 1".into()];
        c.profile.birth_date = Some(Pii::new(Date::new(1984, 2, 29).unwrap()));
        c.profile.gender = Some(Gender::Other("agender".into()));
        c.profile.address_lines = vec!["Hauptstr. 1".into()];
        c.profile.city = Some("Berlin".into());
        c.profile.postcode = Some("10115".into());
        c.profile.country = Some("DE".into());
        c.profile.language = Some("de".into());
        c.profile.attributes = BTreeMap::from([
            ("tier".to_owned(), AttributeValue::Text("gold".into())),
            ("points".to_owned(), AttributeValue::Int(-12)),
            ("score".to_owned(), AttributeValue::Float(0.1)),
            ("vip".to_owned(), AttributeValue::Bool(true)),
        ]);
        c.created_at = Some(ts("1969-12-31T23:59:59.5Z"));
        c.sources = vec![
            SourceRecord::new("webshop", "W1"),
            SourceRecord::new("loyalty", "L9"),
        ];
        let shop = Arc::new(SourceRecord::new("webshop", "W1"));
        for (channel, status, at) in [
            (
                Some(Channel::Email),
                ConsentStatus::Granted,
                "2024-01-01T00:00:00Z",
            ),
            (
                None,
                ConsentStatus::Withdrawn,
                "2024-02-01T00:00:00.000001Z",
            ),
            (
                Some(Channel::Other("fax".into())),
                ConsentStatus::Granted,
                "2024-03-01T00:00:00Z",
            ),
        ] {
            c.consent.record(ConsentEvent {
                channel,
                purpose: Purpose::Marketing,
                status,
                at: ts(at),
                source: Some(shop.clone()),
            });
        }
        c.consent.record(ConsentEvent {
            channel: Some(Channel::Sms),
            purpose: Purpose::Other("surveys".into()),
            status: ConsentStatus::Granted,
            at: ts("2024-04-01T00:00:00Z"),
            source: None,
        });
        c
    }

    #[test]
    fn a_record_decodes_to_the_customer_it_encoded() {
        let c = full_customer();
        let mut records = CustomerRecords::default();
        assert!(records.is_empty());
        records.push(None);
        records.push(Some(&c));
        records.push(Some(&Customer::new(CustomerId::new("bare").unwrap())));
        assert_eq!(records.len(), 3);
        assert_eq!(records.get(0), None);
        assert!(!records.has(0));
        assert_eq!(records.get(1).as_ref(), Some(&c));
        assert_eq!(records.get(2).unwrap().id.as_str(), "bare");
        assert_eq!(records.get(3), None);
        assert_eq!(records.consent_events(1), 4);
        assert_eq!(records.consent(1), c.consent);
        // Consecutive events of one source share it again.
        let back = records.get(1).unwrap();
        let events = back.consent.events();
        assert!(Arc::ptr_eq(
            events[0].source.as_ref().unwrap(),
            events[2].source.as_ref().unwrap()
        ));
    }

    #[test]
    fn consent_read_from_the_bytes_decides_as_the_ledger_does() {
        let c = full_customer();
        let mut records = CustomerRecords::new();
        records.push(Some(&c));
        for channel in [
            Channel::Email,
            Channel::Sms,
            Channel::Other("fax".into()),
            Channel::Push,
        ] {
            for purpose in [Purpose::Marketing, Purpose::Other("surveys".into())] {
                for at in [
                    "2023-06-01T00:00:00Z",
                    "2024-01-15T00:00:00Z",
                    "2024-02-15T00:00:00Z",
                    "2025-01-01T00:00:00Z",
                ] {
                    assert_eq!(
                        records.allows(0, &channel, &purpose, ts(at)),
                        c.consent.allows(&channel, &purpose, ts(at)),
                        "{channel} {purpose} {at}"
                    );
                }
            }
        }
        assert!(records.allows(
            0,
            &Channel::Other("fax".into()),
            &Purpose::Marketing,
            ts("2025-01-01T00:00:00Z")
        ));
        assert!(!records.allows(
            0,
            &Channel::Email,
            &Purpose::Marketing,
            ts("2025-01-01T00:00:00Z")
        ));
        assert!(!records.allows(
            1,
            &Channel::Email,
            &Purpose::Marketing,
            ts("2025-01-01T00:00:00Z")
        ));
    }

    #[test]
    fn events_appended_when_built_follow_the_record_own() {
        let c = full_customer();
        let mut first = CustomerRecords::new();
        first.push(Some(&c));
        let late = ConsentEvent {
            channel: Some(Channel::Email),
            purpose: Purpose::Marketing,
            status: ConsentStatus::Granted,
            at: ts("2024-05-01T00:00:00Z"),
            source: Some(Arc::new(SourceRecord::new("webshop", "W1"))),
        };
        let mut encoded = Vec::new();
        encode_event(&mut encoded, &late);
        let mut built = CustomerRecords::new();
        built.push_with_events(first.raw(0), "C-1", &[&encoded]);
        built.push_with_events(None, "only-consent", &[&encoded]);
        built.push_with_events(None, "nothing", &[]);
        let mut expected = c.clone();
        expected.consent.record(late.clone());
        assert_eq!(built.get(0), Some(expected));
        let only = built.get(1).unwrap();
        assert_eq!(only.id.as_str(), "only-consent");
        assert_eq!(only.consent.events(), [late]);
        assert_eq!(only.profile, Profile::default());
        assert_eq!(built.get(2), None);
    }

    fn text() -> impl Strategy<Value = String> {
        "\\PC{0,12}"
    }

    fn timestamp() -> impl Strategy<Value = Timestamp> {
        (-50_000_000_000i64..50_000_000_000, 0i32..1_000_000_000).prop_map(|(s, n)| {
            let n = if s < 0 { -n } else { n };
            Timestamp::new(s, n).unwrap_or(Timestamp::UNIX_EPOCH)
        })
    }

    fn channel() -> impl Strategy<Value = Channel> {
        prop_oneof![
            (0..Channel::KNOWN.len()).prop_map(|k| Channel::KNOWN[k].clone()),
            "[a-z]{1,8}".prop_map(|s| Channel::parse_lenient(&s)),
        ]
    }

    prop_compose! {
        fn customer()(
            id in "[A-Za-z0-9]{1,10}",
            names in (proptest::option::of(text()), proptest::option::of(text())),
            lists in proptest::collection::vec(text(), 0..3),
            place in (proptest::option::of(text()), proptest::option::of(text())),
            birth in proptest::option::of((-9999i16..=9999, 1i8..=12, 1i8..=28)),
            created in proptest::option::of(timestamp()),
            sources in proptest::collection::vec((text(), text()), 0..3),
            events in proptest::collection::vec(
                (proptest::option::of(channel()), any::<bool>(), timestamp(), 0usize..3),
                0..6,
            ),
            attributes in proptest::collection::btree_map(text(), prop_oneof![
                any::<bool>().prop_map(AttributeValue::Bool),
                any::<i64>().prop_map(AttributeValue::Int),
                any::<f64>().prop_filter("NaN never equals itself", |f| !f.is_nan()).prop_map(AttributeValue::Float),
                text().prop_map(AttributeValue::Text),
            ], 0..3),
        ) -> Customer {
            let mut c = Customer::new(CustomerId::new(&id).unwrap());
            c.profile.given_name = names.0.map(Pii::new);
            c.profile.family_name = names.1.map(Pii::new);
            c.profile.emails = lists.iter().cloned().map(Pii::new).collect();
            c.profile.address_lines = lists.into_iter().rev().map(Pii::new).collect();
            c.profile.city = place.0.clone();
            c.profile.language = place.1;
            c.profile.postcode = place.0.map(Pii::new);
            c.profile.birth_date = birth.and_then(|(y, m, d)| Date::new(y, m, d).ok()).map(Pii::new);
            c.profile.attributes = attributes;
            c.created_at = created;
            let sources: Vec<Arc<SourceRecord>> = sources
                .into_iter()
                .map(|(s, k)| Arc::new(SourceRecord::new(s, k)))
                .collect();
            c.sources = sources.iter().map(|s| (**s).clone()).collect();
            for (channel, granted, at, source) in events {
                c.consent.record(ConsentEvent {
                    channel,
                    purpose: Purpose::Marketing,
                    status: if granted { ConsentStatus::Granted } else { ConsentStatus::Withdrawn },
                    at,
                    source: sources.get(source).cloned(),
                });
            }
            c
        }
    }

    proptest! {
        #[test]
        fn every_record_round_trips(customers in proptest::collection::vec(proptest::option::of(customer()), 0..8)) {
            let mut records = CustomerRecords::new();
            for c in &customers {
                records.push(c.as_ref());
            }
            prop_assert_eq!(records.len(), customers.len());
            for (i, c) in customers.iter().enumerate() {
                prop_assert_eq!(&records.get(i), c);
                let at = Timestamp::UNIX_EPOCH;
                let expected = c.as_ref().is_some_and(|c| c.consent.allows(&Channel::Email, &Purpose::Marketing, at));
                prop_assert_eq!(records.allows(i, &Channel::Email, &Purpose::Marketing, at), expected);
            }
        }
    }
}
