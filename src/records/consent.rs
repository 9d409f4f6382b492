//! Consent: may we contact this customer, on this channel, for this purpose, now?
//!
//! Consent is a ledger of timestamped events per (channel, purpose). An event
//! without a channel applies to every channel. To decide at time `t`, the
//! latest event at or before `t` that applies wins; a channel-specific event
//! beats a channel-wide one at the same instant, and a withdrawal beats a grant
//! at the same instant (the conservative reading). With no applicable event the
//! answer is "no": consent is opt-in, as the GDPR requires for marketing.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ids::SourceRecord;
use super::labels::open_enum;
use super::touchpoint::Channel;

open_enum! {
    /// Why we would contact or process data about a customer.
    Purpose {
        /// Direct marketing (newsletters, offers, campaigns).
        Marketing = "marketing",
        /// Analytics and measurement.
        Analytics = "analytics",
        /// Personalisation of content and offers.
        Personalisation = "personalisation" | "personalization",
    }
}

/// Whether consent was given or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// Consent given.
    Granted,
    /// Consent withdrawn (or refused).
    Withdrawn,
}

impl ConsentStatus {
    /// Parses `granted`/`withdrawn` and common synonyms (`yes`, `true`, `opt_in`, `no`, `false`, `opt_out`, …).
    pub fn parse(raw: &str) -> Option<Self> {
        match super::labels::normalize_label(raw).as_str() {
            "granted" | "grant" | "given" | "yes" | "y" | "true" | "1" | "opt_in" | "opted_in" => {
                Some(ConsentStatus::Granted)
            }
            "withdrawn" | "withdraw" | "revoked" | "refused" | "denied" | "no" | "n" | "false"
            | "0" | "opt_out" | "opted_out" => Some(ConsentStatus::Withdrawn),
            _ => None,
        }
    }
}

/// One consent event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvent {
    /// The channel it applies to; `None` means every channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The purpose.
    pub purpose: Purpose,
    /// Granted or withdrawn.
    pub status: ConsentStatus,
    /// When.
    pub at: Timestamp,
    /// The source record the event was recorded in, when known (identity
    /// resolution sets it when it merges several records' consent; shared by
    /// all the events of one record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Arc<SourceRecord>>,
}

/// Why a customer may or may not be contacted: the event that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentDecision {
    /// Whether contact is allowed.
    pub allowed: bool,
    /// The deciding event (`None`: no event applies, so no consent).
    pub event: Option<ConsentEvent>,
    /// Applicable events the deciding one overrides (older, or at the same
    /// time but less specific or a grant against a withdrawal).
    pub overridden: usize,
    /// In words, e.g. `withdrawn for email / marketing at 2024-03-01T00:00:00Z
    /// in loyalty:L7, overriding 1 earlier event`.
    pub reason: String,
}

/// The rule that decides a channel and purpose at a time, fed one event
/// at a time (by a [`Consent`] ledger, or by a base's packed records).
/// Rank: later time first; at equal times channel-specific beats
/// channel-wide, then a withdrawal beats a grant.
pub(crate) struct Deciding<'q> {
    channel: &'q Channel,
    purpose: &'q Purpose,
    at: Timestamp,
    /// The best event's rank and index.
    best: Option<((Timestamp, bool, bool), usize)>,
    applicable: usize,
}

impl<'q> Deciding<'q> {
    pub(crate) fn new(channel: &'q Channel, purpose: &'q Purpose, at: Timestamp) -> Self {
        Deciding {
            channel,
            purpose,
            at,
            best: None,
            applicable: 0,
        }
    }

    /// Considers event `k`.
    pub(crate) fn offer(
        &mut self,
        k: usize,
        channel: Option<&Channel>,
        purpose: &Purpose,
        status: ConsentStatus,
        at: Timestamp,
    ) {
        if purpose != self.purpose || at > self.at {
            return;
        }
        let specific = match channel {
            Some(c) if c == self.channel => true,
            Some(_) => return,
            None => false,
        };
        self.applicable += 1;
        let key = (at, specific, status == ConsentStatus::Withdrawn);
        if self.best.is_none_or(|(b, _)| key > b) {
            self.best = Some((key, k));
        }
    }

    /// The deciding event's index and how many applicable events it overrides.
    pub(crate) fn decided(&self) -> Option<(usize, usize)> {
        self.best.map(|(_, k)| (k, self.applicable - 1))
    }

    /// Whether the deciding event is a grant.
    pub(crate) fn allowed(&self) -> bool {
        // The rank's last part is "withdrawn".
        self.best.is_some_and(|((_, _, withdrawn), _)| !withdrawn)
    }
}

/// A customer's consent ledger.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Consent {
    events: Vec<ConsentEvent>,
}

impl Consent {
    /// An empty ledger (no consent for anything).
    pub fn new() -> Self {
        Consent::default()
    }

    /// Records an event.
    pub fn record(&mut self, event: ConsentEvent) {
        self.events.push(event);
    }

    /// Makes room for `additional` more events, exactly (a ledger is
    /// filled once when loaded, so growth by doubling would waste room).
    pub fn reserve_exact(&mut self, additional: usize) {
        self.events.reserve_exact(additional);
    }

    /// Records a grant.
    pub fn grant(&mut self, channel: Option<Channel>, purpose: Purpose, at: Timestamp) {
        self.record(ConsentEvent {
            channel,
            purpose,
            status: ConsentStatus::Granted,
            at,
            source: None,
        });
    }

    /// Records a withdrawal.
    pub fn withdraw(&mut self, channel: Option<Channel>, purpose: Purpose, at: Timestamp) {
        self.record(ConsentEvent {
            channel,
            purpose,
            status: ConsentStatus::Withdrawn,
            at,
            source: None,
        });
    }

    /// All events in the order recorded.
    pub fn events(&self) -> &[ConsentEvent] {
        &self.events
    }

    /// May we contact this customer on `channel` for `purpose` at time `at`?
    pub fn allows(&self, channel: &Channel, purpose: &Purpose, at: Timestamp) -> bool {
        self.deciding(channel, purpose, at)
            .is_some_and(|(e, _)| e.status == ConsentStatus::Granted)
    }

    /// The event that decides `channel` / `purpose` at `at`, and how many
    /// other applicable events it overrides. Rank: later time first; at
    /// equal times channel-specific beats channel-wide, then a withdrawal
    /// beats a grant.
    fn deciding(
        &self,
        channel: &Channel,
        purpose: &Purpose,
        at: Timestamp,
    ) -> Option<(&ConsentEvent, usize)> {
        let mut deciding = Deciding::new(channel, purpose, at);
        for (k, e) in self.events.iter().enumerate() {
            deciding.offer(k, e.channel.as_ref(), &e.purpose, e.status, e.at);
        }
        let (k, overridden) = deciding.decided()?;
        Some((self.events.get(k)?, overridden))
    }

    /// [`allows`](Self::allows) with its reason: the deciding event (and its
    /// source record, when known) and how many events it overrides.
    pub fn explain(&self, channel: &Channel, purpose: &Purpose, at: Timestamp) -> ConsentDecision {
        match self.deciding(channel, purpose, at) {
            None => ConsentDecision {
                allowed: false,
                event: None,
                overridden: 0,
                reason: format!(
                    "no consent recorded for {channel} / {purpose} by {at} (consent is opt-in)"
                ),
            },
            Some((e, overridden)) => {
                let status = match e.status {
                    ConsentStatus::Granted => "granted",
                    ConsentStatus::Withdrawn => "withdrawn",
                };
                let scope = match &e.channel {
                    Some(c) => c.to_string(),
                    None => "every channel".to_owned(),
                };
                let origin = e
                    .source
                    .as_ref()
                    .map(|s| format!(" in {s}"))
                    .unwrap_or_default();
                let over = match overridden {
                    0 => String::new(),
                    1 => ", overriding 1 other event".to_owned(),
                    n => format!(", overriding {n} other events"),
                };
                ConsentDecision {
                    allowed: e.status == ConsentStatus::Granted,
                    event: Some(e.clone()),
                    overridden,
                    reason: format!(
                        "{status} for {scope} / {} at {}{origin}{over}",
                        e.purpose, e.at
                    ),
                }
            }
        }
    }

    /// Adds another ledger's events (e.g. another source record of the same
    /// customer), marking those without a source as recorded in `source`.
    ///
    /// The merged ledger decides conservatively by the same rule as one
    /// ledger: the latest applicable event wins wherever it was recorded, so
    /// a withdrawal in any record overrides an older grant in another, and
    /// at the same instant a withdrawal beats a grant.
    pub fn merge(&mut self, other: Consent, source: Option<&SourceRecord>) {
        let shared = source.map(|s| Arc::new(s.clone()));
        let mut events = other.events;
        for e in events.iter_mut().filter(|e| e.source.is_none()) {
            e.source.clone_from(&shared);
        }
        // The first ledger merged is kept as it is, not copied.
        if self.events.is_empty() {
            self.events = events;
        } else {
            self.events.append(&mut events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn opt_in_by_default_and_latest_event_wins() {
        let mut c = Consent::new();
        let email = Channel::Email;
        let m = Purpose::Marketing;
        assert!(!c.allows(&email, &m, ts("2024-01-01T00:00:00Z")));
        c.grant(None, m.clone(), ts("2024-01-01T00:00:00Z"));
        assert!(c.allows(&email, &m, ts("2024-01-02T00:00:00Z")));
        assert!(
            !c.allows(&email, &m, ts("2023-12-31T00:00:00Z")),
            "not before it was given"
        );
        c.withdraw(Some(email.clone()), m.clone(), ts("2024-02-01T00:00:00Z"));
        assert!(!c.allows(&email, &m, ts("2024-03-01T00:00:00Z")));
        assert!(
            c.allows(&Channel::Sms, &m, ts("2024-03-01T00:00:00Z")),
            "withdrawal was email only"
        );
        assert!(!c.allows(
            &Channel::Sms,
            &Purpose::Analytics,
            ts("2024-03-01T00:00:00Z")
        ));
    }

    #[test]
    fn merged_ledgers_decide_by_the_latest_event_wherever_it_was_recorded() {
        let email = Channel::Email;
        let m = Purpose::Marketing;
        let shop = SourceRecord::new("webshop", "W1");
        let card = SourceRecord::new("loyalty", "L7");
        // Granted in the shop, withdrawn later at the till: the withdrawal wins.
        let mut web = Consent::new();
        web.grant(Some(email.clone()), m.clone(), ts("2024-01-01T00:00:00Z"));
        let mut till = Consent::new();
        till.withdraw(Some(email.clone()), m.clone(), ts("2024-03-01T00:00:00Z"));
        let mut merged = Consent::new();
        merged.merge(web.clone(), Some(&shop));
        merged.merge(till.clone(), Some(&card));
        let at = ts("2024-04-01T00:00:00Z");
        assert!(!merged.allows(&email, &m, at));
        let why = merged.explain(&email, &m, at);
        assert!(!why.allowed);
        assert_eq!(why.overridden, 1);
        assert_eq!(
            why.event.as_ref().and_then(|e| e.source.as_deref()),
            Some(&card)
        );
        assert!(
            why.reason.contains("withdrawn") && why.reason.contains("loyalty:L7"),
            "{}",
            why.reason
        );
        // Before the withdrawal the older grant still held.
        assert!(merged.allows(&email, &m, ts("2024-02-01T00:00:00Z")));
        // Merging in the other order decides the same.
        let mut other = Consent::new();
        other.merge(till, Some(&card));
        other.merge(web, Some(&shop));
        assert_eq!(other.allows(&email, &m, at), merged.allows(&email, &m, at));
        // A newer grant anywhere (the customer subscribed again) wins over the withdrawal.
        let mut again = Consent::new();
        again.grant(Some(email.clone()), m.clone(), ts("2024-03-15T00:00:00Z"));
        merged.merge(again, Some(&shop));
        assert!(merged.allows(&email, &m, at));
        // A withdrawal and a grant at the same instant in two records: withdrawn.
        let t = ts("2024-05-01T00:00:00Z");
        let (mut a, mut b) = (Consent::new(), Consent::new());
        a.grant(Some(email.clone()), m.clone(), t);
        b.withdraw(Some(email.clone()), m.clone(), t);
        merged.merge(a, Some(&shop));
        merged.merge(b, Some(&card));
        assert!(!merged.allows(&email, &m, t));
        // Events that already name their record keep it.
        let mut tagged = Consent::new();
        tagged.record(ConsentEvent {
            channel: None,
            purpose: m.clone(),
            status: ConsentStatus::Granted,
            at: t,
            source: Some(Arc::new(shop.clone())),
        });
        let mut into = Consent::new();
        into.merge(tagged, Some(&card));
        assert_eq!(into.events()[0].source.as_deref(), Some(&shop));
        // No event at all: opt-in says no, and says why.
        let none = Consent::new().explain(&email, &m, at);
        assert!(!none.allowed && none.event.is_none() && none.reason.contains("opt-in"));
    }

    #[test]
    fn ties_resolve_conservatively() {
        let mut c = Consent::new();
        let t = ts("2024-01-01T00:00:00Z");
        c.grant(None, Purpose::Marketing, t);
        c.withdraw(None, Purpose::Marketing, t);
        assert!(!c.allows(&Channel::Web, &Purpose::Marketing, t));
        let mut c = Consent::new();
        c.withdraw(None, Purpose::Marketing, t);
        c.grant(Some(Channel::Web), Purpose::Marketing, t);
        assert!(
            c.allows(&Channel::Web, &Purpose::Marketing, t),
            "specific grant beats wide withdrawal"
        );
    }
}
