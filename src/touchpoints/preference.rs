//! Channel preference per customer: where, when and on which day to reach
//! them, among the channels they allow us to use.
//!
//! Customers reveal their channel preferences by where they respond, not by
//! where we push messages at them (the "revealed preference" reading of
//! channel behaviour; see e.g. Neslin et al. 2006, "Challenges and
//! opportunities in multichannel customer management", *Journal of Service
//! Research* 9(2)). Each event adds a weight to its channel:
//!
//! ```text
//! weight(channel) = Σ_events on channel  w(kind) · 2^(−age / half_life)
//! share(channel)  = weight(channel) / Σ weight
//! ```
//!
//! with `w(kind)` from [`ResponseWeights`]: an impression (we showed something)
//! counts little, responses (clicks, visits, browsing) more, intent and
//! purchases most; unsubscribes and unknown kinds count nothing. Purchases are
//! `purchase` touchpoints and non-refund transactions, a touchpoint and its
//! transaction counted once (as in [`super::engagement`]). The exponential
//! decay makes recent behaviour count more; events after `as_of` are ignored.
//!
//! **Consent first.** A channel without marketing consent
//! ([`Purpose::Marketing`], checked with [`CustomerBase::allows`] at `as_of`)
//! is never the preferred channel: the preferred channel is the best
//! *consented* channel with activity, and the best channel overall is reported
//! beside it with a flag. A customer with activity on no consented channel
//! gets no preference, with a reason (consent is opt-in).
//!
//! **When.** The preferred hour of day (0–23) and day of week (0 = Monday …
//! 6 = Sunday) are the modes of the same decayed weights over responses only
//! (impressions record when we sent, not when the customer acts), in UTC
//! shifted by a fixed `utc_offset_minutes`. Ties go to the earlier hour, day
//! and channel code.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::events::{customer_events, kind_rungs};
use super::time::{
    DAY_US, check_half_life, check_minutes, decay, minutes_to_micros, resolve_as_of,
};
use crate::error::{Error, Result};
use crate::parallel::map_range;
use crate::records::{Channel, Purpose, TouchpointKind};
use crate::store::{CustomerBase, from_micros};

/// Names of the days of week, indexed as [`ChannelPreference::preferred_day`].
pub const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const HOUR_US: i64 = 3_600_000_000;

/// How much each kind of event says about a channel preference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResponseWeights {
    /// An impression: shown, no response (default 0.2).
    pub impression: f64,
    /// A click (default 1).
    pub click: f64,
    /// A visit (default 1).
    pub visit: f64,
    /// Browsing: product view or research (default 1).
    pub browse: f64,
    /// Intent: add to cart, inquiry (default 2).
    pub intent: f64,
    /// A purchase touchpoint or transaction (default 3).
    pub purchase: f64,
    /// Service and advocacy contacts: support, complaint, review written, referral (default 0.5).
    pub service: f64,
}

impl Default for ResponseWeights {
    fn default() -> Self {
        ResponseWeights {
            impression: 0.2,
            click: 1.0,
            visit: 1.0,
            browse: 1.0,
            intent: 2.0,
            purchase: 3.0,
            service: 0.5,
        }
    }
}

impl ResponseWeights {
    /// The weight of a touchpoint kind (0 for unsubscribe and `Other`).
    pub fn of_kind(&self, kind: &TouchpointKind) -> f64 {
        use TouchpointKind as K;
        match kind {
            K::Impression => self.impression,
            K::Click => self.click,
            K::Visit => self.visit,
            K::ProductView => self.browse,
            k if k.is_research() => self.browse,
            K::AddToCart | K::Inquiry => self.intent,
            K::Purchase => self.purchase,
            K::Support | K::Complaint | K::ReviewWritten | K::Referral => self.service,
            _ => 0.0,
        }
    }
}

/// Parameters of the channel preference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreferenceParams {
    /// Weights per kind of event.
    pub weights: ResponseWeights,
    /// Days after which an event's weight has halved (default 90).
    pub half_life_days: f64,
    /// The moment of the preference (and of the consent check); `None` means
    /// the latest event in the base (the Unix epoch for a base without events).
    pub as_of: Option<Timestamp>,
    /// Fixed offset from UTC, in minutes, for the hour and day (default 0; at most ±1080).
    pub utc_offset_minutes: i32,
    /// A transaction this close (minutes) to a `purchase` touchpoint is the same purchase (default 60).
    pub purchase_match_minutes: f64,
}

impl Default for PreferenceParams {
    fn default() -> Self {
        PreferenceParams {
            weights: ResponseWeights::default(),
            half_life_days: 90.0,
            as_of: None,
            utc_offset_minutes: 0,
            purchase_match_minutes: 60.0,
        }
    }
}

impl PreferenceParams {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for negative or non-finite weights, a
    /// half-life that is not finite and > 0, or an offset beyond ±18 hours.
    pub fn check(&self) -> Result<()> {
        let w = &self.weights;
        for (name, v) in [
            ("impression", w.impression),
            ("click", w.click),
            ("visit", w.visit),
            ("browse", w.browse),
            ("intent", w.intent),
            ("purchase", w.purchase),
            ("service", w.service),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(
                    "weights",
                    format!("{name} = {v}"),
                    "weights must be finite and >= 0",
                ));
            }
        }
        check_half_life(self.half_life_days)?;
        if !(-1080..=1080).contains(&self.utc_offset_minutes) {
            return Err(Error::param(
                "utc_offset_minutes",
                self.utc_offset_minutes,
                "must be within ±1080 (18 hours)",
            ));
        }
        check_minutes("purchase_match_minutes", self.purchase_match_minutes)
    }
}

/// One channel's share of a customer's weighted activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelShare {
    /// The channel.
    pub channel: Channel,
    /// Its share of the weighted activity (shares sum to 1).
    pub share: f64,
    /// Whether marketing on it is consented at `as_of`.
    pub consented: bool,
}

/// One customer's channel preference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelPreference {
    /// The best consented channel with activity; `None` when there is none.
    pub preferred: Option<Channel>,
    /// The preferred channel's share (0 without one).
    pub preferred_share: f64,
    /// The best channel regardless of consent.
    pub best_overall: Option<Channel>,
    /// Whether the best channel overall is consented (then it is the preferred one).
    pub best_overall_consented: bool,
    /// Hour of day (0–23, at the configured offset) with the most weighted responses.
    pub preferred_hour: Option<u8>,
    /// Day of week (0 = Monday … 6 = Sunday) with the most weighted responses.
    pub preferred_day: Option<u8>,
    /// Channels with activity, largest share first.
    pub shares: Vec<ChannelShare>,
    /// Why, e.g. `email: 62% of weighted activity, consented`.
    pub reason: String,
}

/// How many customers prefer a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelCount {
    /// The channel.
    pub channel: Channel,
    /// Customers preferring it.
    pub customers: usize,
    /// Their share of all customers.
    pub share: f64,
}

/// Channel preferences of every customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelPreferences {
    /// The moment of the preference and of the consent check.
    pub as_of: Timestamp,
    /// The offset used for hours and days.
    pub utc_offset_minutes: i32,
    /// One entry per customer, by customer index.
    pub customers: Vec<ChannelPreference>,
    /// Preferred-channel counts, most customers first (ties by channel code).
    pub distribution: Vec<ChannelCount>,
    /// Customers without weighted activity.
    pub no_activity: usize,
    /// Customers with activity but no consented channel among it.
    pub no_consented_channel: usize,
    /// Customers whose best channel overall lacks consent but who have a consented alternative.
    pub consent_overrides: usize,
}

/// The channel preference of every customer.
///
/// ```
/// use custinsight::records::Purpose;
/// use custinsight::touchpoints::preference::{self, PreferenceParams};
/// use custinsight::synth::{Population, SynthParams};
///
/// let pop = Population::generate(&SynthParams::with_customers(100).with_seed(7))?;
/// let prefs = preference::preferences(&pop.base, &PreferenceParams::default())?;
/// for (c, p) in prefs.customers.iter().enumerate() {
///     if let Some(ch) = &p.preferred {
///         assert!(pop.base.allows(c as u32, ch, &Purpose::Marketing, prefs.as_of));
///     }
/// }
/// # Ok::<(), custinsight::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] from [`PreferenceParams::check`].
pub fn preferences(base: &CustomerBase, params: &PreferenceParams) -> Result<ChannelPreferences> {
    params.check()?;
    let as_of_us = resolve_as_of(base, params.as_of);
    let as_of = from_micros(as_of_us);
    let rungs = kind_rungs(base);
    let kind_weight: Vec<f64> = base
        .kinds()
        .iter()
        .map(|k| params.weights.of_kind(k))
        .collect();
    let is_response: Vec<bool> = base
        .kinds()
        .iter()
        .map(|k| *k != TouchpointKind::Impression)
        .collect();
    let half_life_us = params.half_life_days * DAY_US as f64;
    let match_us = minutes_to_micros(params.purchase_match_minutes);
    let offset_us = i64::from(params.utc_offset_minutes) * 60_000_000;
    let n_channels = base.channels().len();

    let customers = map_range(base.n_customers(), |c| {
        let customer = c as u32;
        let mut events = Vec::new();
        customer_events(base, &rungs, customer, match_us, &mut events);
        let mut weight = vec![0.0; n_channels];
        let mut hours = [0.0f64; 24];
        let mut days = [0.0f64; 7];
        for e in events.iter().take_while(|e| e.time_us <= as_of_us) {
            if e.duplicate {
                continue;
            }
            let (w, response) = match e.kind {
                Some(k) => (
                    kind_weight.get(k as usize).copied().unwrap_or(0.0),
                    is_response.get(k as usize).copied().unwrap_or(false),
                ),
                None => (params.weights.purchase, true),
            };
            if w <= 0.0 {
                continue;
            }
            let v = w * decay(as_of_us.saturating_sub(e.time_us), half_life_us);
            if let Some(slot) = weight.get_mut(e.channel as usize) {
                *slot += v;
            }
            if response {
                let local = e.time_us.saturating_add(offset_us);
                let hour = (local.rem_euclid(DAY_US) / HOUR_US) as usize;
                // 1970-01-01 was a Thursday (index 3).
                let day = (local.div_euclid(DAY_US) + 3).rem_euclid(7) as usize;
                if let Some(h) = hours.get_mut(hour) {
                    *h += v;
                }
                if let Some(d) = days.get_mut(day) {
                    *d += v;
                }
            }
        }
        decide(base, customer, as_of, &weight, &hours, &days)
    });

    let mut counts = vec![0usize; n_channels];
    let (mut no_activity, mut no_consented_channel, mut consent_overrides) = (0, 0, 0);
    for p in &customers {
        match (&p.preferred, &p.best_overall) {
            (Some(ch), _) => {
                if let Some(code) = base.channels().iter().position(|c| c == ch) {
                    counts[code] += 1;
                }
                if !p.best_overall_consented {
                    consent_overrides += 1;
                }
            }
            (None, Some(_)) => no_consented_channel += 1,
            (None, None) => no_activity += 1,
        }
    }
    let n = customers.len();
    let mut distribution: Vec<ChannelCount> = counts
        .iter()
        .zip(base.channels())
        .filter(|(k, _)| **k > 0)
        .map(|(&k, ch)| ChannelCount {
            channel: ch.clone(),
            customers: k,
            share: if n == 0 { 0.0 } else { k as f64 / n as f64 },
        })
        .collect();
    // Stable: ties keep channel-code order.
    distribution.sort_by_key(|d| std::cmp::Reverse(d.customers));
    Ok(ChannelPreferences {
        as_of,
        utc_offset_minutes: params.utc_offset_minutes,
        customers,
        distribution,
        no_activity,
        no_consented_channel,
        consent_overrides,
    })
}

/// The index of the largest positive value (the first on ties).
fn mode(values: &[f64]) -> Option<u8> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &v) in values.iter().enumerate() {
        if v > 0.0 && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.and_then(|(i, _)| u8::try_from(i).ok())
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// One customer's preference from their channel weights and time histograms.
fn decide(
    base: &CustomerBase,
    customer: u32,
    as_of: Timestamp,
    weight: &[f64],
    hours: &[f64; 24],
    days: &[f64; 7],
) -> ChannelPreference {
    let total: f64 = weight.iter().sum();
    let mut active: Vec<(usize, f64)> = weight
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, w)| w > 0.0)
        .collect();
    // Largest weight first, ties by channel code (the sort is stable).
    active.sort_by(|a, b| b.1.total_cmp(&a.1));
    let shares: Vec<ChannelShare> = active
        .iter()
        .filter_map(|&(code, w)| {
            let channel = base.channel(u16::try_from(code).ok()?)?.clone();
            let consented = base.allows(customer, &channel, &Purpose::Marketing, as_of);
            Some(ChannelShare {
                channel,
                share: if total > 0.0 { w / total } else { 0.0 },
                consented,
            })
        })
        .collect();
    let best = shares.first();
    let preferred = shares.iter().find(|s| s.consented);
    let reason = match (preferred, best) {
        (_, None) => "no activity".to_owned(),
        (None, Some(b)) => format!(
            "no marketing consent on any of its {} active channels (best overall: {} {})",
            shares.len(),
            b.channel,
            percent(b.share)
        ),
        (Some(p), Some(b)) if b.consented => format!(
            "{}: {} of weighted activity, consented",
            p.channel,
            percent(p.share)
        ),
        (Some(p), Some(b)) => format!(
            "{}: {} of weighted activity, consented; best overall {} ({}) has no marketing consent",
            p.channel,
            percent(p.share),
            b.channel,
            percent(b.share)
        ),
    };
    ChannelPreference {
        preferred: preferred.map(|s| s.channel.clone()),
        preferred_share: preferred.map_or(0.0, |s| s.share),
        best_overall: best.map(|s| s.channel.clone()),
        best_overall_consented: best.is_some_and(|s| s.consented),
        preferred_hour: mode(hours),
        preferred_day: mode(days),
        reason,
        shares,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{
        ConsentEvent, ConsentStatus, Currency, CustomerId, Money, Touchpoint, Transaction,
    };
    use crate::store::CustomerBaseBuilder;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn tp(
        b: &mut CustomerBaseBuilder,
        id: &str,
        at: Timestamp,
        channel: Channel,
        kind: TouchpointKind,
    ) {
        b.add_touchpoint(&Touchpoint::new(
            CustomerId::new(id).unwrap(),
            at,
            channel,
            kind,
        ))
        .unwrap();
    }

    fn consent(
        b: &mut CustomerBaseBuilder,
        id: &str,
        channel: Option<Channel>,
        granted: bool,
        at: Timestamp,
    ) {
        let status = if granted {
            ConsentStatus::Granted
        } else {
            ConsentStatus::Withdrawn
        };
        b.add_consent_event(
            id,
            ConsentEvent {
                channel,
                purpose: Purpose::Marketing,
                status,
                at,
                source: None,
            },
        )
        .unwrap();
    }

    #[test]
    fn consent_decides_and_time_of_day() {
        let mut b = CustomerBase::builder();
        let early = ts("2024-01-01T00:00:00Z");
        // "a": responds on web on Monday mornings; lots of e-mail impressions; consents to e-mail only.
        for at in [
            "2024-03-04T09:30:00Z",
            "2024-03-11T09:10:00Z",
            "2024-03-05T20:00:00Z",
        ] {
            tp(&mut b, "a", ts(at), Channel::Web, TouchpointKind::Visit);
        }
        for d in 1..=10 {
            let at = ts("2024-03-01T12:00:00Z") + jiff::SignedDuration::from_hours(24 * d);
            tp(&mut b, "a", at, Channel::Email, TouchpointKind::Impression);
        }
        consent(&mut b, "a", Some(Channel::Email), true, early);
        // "b": all web, consents to everything, then withdraws web later than as_of: still allowed.
        tp(
            &mut b,
            "b",
            ts("2024-03-10T10:00:00Z"),
            Channel::Web,
            TouchpointKind::Click,
        );
        consent(&mut b, "b", None, true, early);
        consent(
            &mut b,
            "b",
            Some(Channel::Web),
            false,
            ts("2024-12-01T00:00:00Z"),
        );
        // "c": activity, no consent at all.
        tp(
            &mut b,
            "c",
            ts("2024-03-10T10:00:00Z"),
            Channel::Sms,
            TouchpointKind::Click,
        );
        // "d": a purchase transaction only, in store; consented.
        let t = Transaction::new(
            "o1",
            CustomerId::new("d").unwrap(),
            ts("2024-03-09T15:00:00Z"),
            Money::parse("10", Currency::EUR).unwrap(),
            Channel::Store,
        );
        b.add_transaction(&t).unwrap();
        consent(&mut b, "d", None, true, early);
        // "e": no events.
        consent(&mut b, "e", None, true, early);
        let base = b.build().unwrap();
        let params = PreferenceParams {
            as_of: Some(ts("2024-03-12T00:00:00Z")),
            ..PreferenceParams::default()
        };
        let p = preferences(&base, &params).unwrap();
        let get = |id: &str| &p.customers[base.index_of(id).unwrap() as usize];
        let a = get("a");
        assert_eq!(a.best_overall, Some(Channel::Web));
        assert!(!a.best_overall_consented);
        assert_eq!(a.preferred, Some(Channel::Email));
        assert!(
            a.reason.contains("has no marketing consent"),
            "{}",
            a.reason
        );
        assert_eq!(a.preferred_hour, Some(9));
        assert_eq!(a.preferred_day, Some(0), "monday");
        assert!((a.shares.iter().map(|s| s.share).sum::<f64>() - 1.0).abs() < 1e-12);
        let b_ = get("b");
        assert_eq!(
            (b_.preferred.clone(), b_.best_overall_consented),
            (Some(Channel::Web), true)
        );
        let c = get("c");
        assert_eq!(c.preferred, None);
        assert_eq!(c.best_overall, Some(Channel::Sms));
        assert!(c.reason.starts_with("no marketing consent"), "{}", c.reason);
        assert_eq!(get("d").preferred, Some(Channel::Store));
        assert_eq!(get("d").preferred_day, Some(5), "saturday");
        assert_eq!(get("e").preferred, None);
        assert_eq!(get("e").reason, "no activity");
        assert_eq!(
            (p.no_activity, p.no_consented_channel, p.consent_overrides),
            (1, 1, 1)
        );
        let total: usize = p.distribution.iter().map(|d| d.customers).sum();
        assert_eq!(total, 3);
        let order: Vec<&Channel> = p.distribution.iter().map(|d| &d.channel).collect();
        assert_eq!(
            order,
            [&Channel::Web, &Channel::Email, &Channel::Store],
            "ties by code"
        );

        // Offsets move hours and days: 09:30Z at −10:00 is 23:30 on Sunday.
        let shifted = preferences(
            &base,
            &PreferenceParams {
                utc_offset_minutes: -600,
                ..params.clone()
            },
        )
        .unwrap();
        let a = &shifted.customers[base.index_of("a").unwrap() as usize];
        assert_eq!((a.preferred_hour, a.preferred_day), (Some(23), Some(6)));
        assert!(matches!(
            PreferenceParams {
                utc_offset_minutes: 2000,
                ..PreferenceParams::default()
            }
            .check(),
            Err(Error::InvalidParameter {
                name: "utc_offset_minutes",
                ..
            })
        ));
    }

    #[test]
    fn empty_base() {
        let base = CustomerBase::builder().build().unwrap();
        let p = preferences(&base, &PreferenceParams::default()).unwrap();
        assert!(p.customers.is_empty() && p.distribution.is_empty());
    }

    const CHANNELS: [Channel; 4] = [Channel::Web, Channel::Email, Channel::Sms, Channel::Push];
    const KINDS: [TouchpointKind; 5] = [
        TouchpointKind::Impression,
        TouchpointKind::Click,
        TouchpointKind::Visit,
        TouchpointKind::Purchase,
        TouchpointKind::Unsubscribe,
    ];

    proptest! {
        #[test]
        fn never_prefers_a_channel_without_consent(
            touches in prop::collection::vec((0usize..3, 0usize..4, 0usize..5, 0i64..100), 0..30),
            consents in prop::collection::vec((0usize..3, 0usize..5, any::<bool>(), 0i64..120), 0..12),
            as_of_day in prop::option::of(0i64..120),
        ) {
            let day = |d: i64| from_micros(1_700_000_000_000_000 + d * DAY_US);
            let ids = ["x", "y", "z"];
            let mut b = CustomerBase::builder();
            for &(c, ch, k, d) in &touches {
                tp(&mut b, ids[c], day(d), CHANNELS[ch].clone(), KINDS[k].clone());
            }
            for &(c, ch, granted, d) in &consents {
                consent(&mut b, ids[c], CHANNELS.get(ch).cloned(), granted, day(d));
            }
            let base = b.build().unwrap();
            let params = PreferenceParams { as_of: as_of_day.map(day), ..PreferenceParams::default() };
            let p = preferences(&base, &params).unwrap();
            prop_assert_eq!(p.customers.len(), base.n_customers());
            for (c, pref) in p.customers.iter().enumerate() {
                if let Some(ch) = &pref.preferred {
                    prop_assert!(base.allows(c as u32, ch, &Purpose::Marketing, p.as_of));
                }
                if pref.best_overall_consented {
                    prop_assert_eq!(&pref.preferred, &pref.best_overall);
                }
                if pref.preferred.is_none() {
                    prop_assert!(pref.shares.iter().all(|s| !s.consented));
                }
                let sum: f64 = pref.shares.iter().map(|s| s.share).sum();
                prop_assert!(pref.shares.is_empty() || (sum - 1.0).abs() < 1e-9);
            }
        }
    }
}
