//! The engagement ladder: how far each customer has climbed towards a
//! purchase, how warm they are now, and who is warm but has not bought.
//!
//! Marketing reads behaviour as a ladder of commitment (the "engagement
//! ladder" or "ladder of engagement"; see e.g. Brodie et al. 2011, "Customer
//! engagement: conceptual domain …", *Journal of Service Research* 14(3)):
//! a visit costs the customer little, reading reviews or configuring a product
//! costs more, putting an item in the cart signals intent, and a purchase is
//! the commitment itself. Each [`Rung`] stands for one level:
//!
//! | rung | touchpoint kinds | default points |
//! |---|---|---|
//! | visit | `visit` | 1 |
//! | interaction | `click`, `support`, `review_written`, `referral` | 2 |
//! | product view | `product_view` | 3 |
//! | research | `research`, `compare`, `review_read`, `configurator` | 5 |
//! | intent | `add_to_cart`, `inquiry` | 8 |
//! | purchase | `purchase` touchpoints and non-refund transactions | 13 |
//!
//! Not on the ladder: `impression` (passive: we showed something, the customer
//! did nothing), the dissatisfaction signals `complaint` and `unsubscribe`
//! ([`TouchpointKind::is_dissatisfaction`]: they are contact, not engagement),
//! refunds, and `Other` kinds (meaning unknown). The default points follow the
//! Fibonacci numbers so that each rung is worth about the two below it
//! together.
//!
//! A purchase is often recorded twice, as a `purchase` touchpoint and as a
//! transaction. A non-refund transaction within `purchase_match_minutes` of a
//! still unmatched `purchase` touchpoint of the same customer is taken to be
//! the same purchase (matching is greedy in time order): its points and its
//! count go to the touchpoint, which carries channel, campaign and topic,
//! while either record places the purchase in a window, so "no purchase in
//! the window" holds for both records.
//!
//! **Score.** Engagement fades: a visit last week says more than one last
//! year. The score at `as_of` is the exponentially decayed sum
//!
//! ```text
//! score = Σ_events points(rung) · 2^(−age / half_life),   age = as_of − event time (days)
//! ```
//!
//! the standard exponential-decay weighting of recency (as in the time-decay
//! attribution model), so an event loses half its weight every `half_life_days`.
//! Events after `as_of` are ignored and counted ([`Engagement::future_events`]).
//!
//! **Funnel.** [`Engagement::funnel`] counts customers whose highest rung in
//! the recent window is at least each rung; the counts never increase up the
//! ladder.
//!
//! **Warm leads.** [`warm_leads`] lists customers who are engaged (score at or
//! above a threshold, optionally only the top N) but have not purchased in the
//! recent window, ranked by score, with the recent events that make them warm.
//! Leads are an audience, so by default only customers with marketing consent
//! on at least one channel at `as_of` are listed; the others are counted.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::events::{customer_events, kind_rungs};
use super::time::{
    DAY_US, check_days, check_half_life, check_minutes, days_to_micros, decay, minutes_to_micros,
    resolve_as_of,
};
use crate::error::{Error, Result};
use crate::parallel::map_range;
use crate::records::{Channel, Purpose, TouchpointKind};
use crate::store::{CustomerBase, from_micros, to_micros};

/// One level of the engagement ladder, from least to most committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rung {
    /// A visit to a site, app or store.
    Visit,
    /// An active response or contact: click, support contact, review written, referral.
    Interaction,
    /// A product detail view.
    ProductView,
    /// Research: generic research, comparison, reading reviews, configurator.
    Research,
    /// Purchase intent: add to cart, inquiry.
    Intent,
    /// A purchase (touchpoint or non-refund transaction).
    Purchase,
}

impl Rung {
    /// Every rung, bottom to top.
    pub const ALL: [Rung; 6] = [
        Rung::Visit,
        Rung::Interaction,
        Rung::ProductView,
        Rung::Research,
        Rung::Intent,
        Rung::Purchase,
    ];

    /// The snake_case label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Rung::Visit => "visit",
            Rung::Interaction => "interaction",
            Rung::ProductView => "product_view",
            Rung::Research => "research",
            Rung::Intent => "intent",
            Rung::Purchase => "purchase",
        }
    }

    /// Position on the ladder (0 = visit … 5 = purchase).
    pub fn index(&self) -> usize {
        *self as usize
    }

    /// The rung of a touchpoint kind; `None` for kinds that are not engagement
    /// (impression, complaint, unsubscribe, `Other`).
    pub fn of_kind(kind: &TouchpointKind) -> Option<Rung> {
        match kind {
            TouchpointKind::Visit => Some(Rung::Visit),
            TouchpointKind::Click
            | TouchpointKind::Support
            | TouchpointKind::ReviewWritten
            | TouchpointKind::Referral => Some(Rung::Interaction),
            TouchpointKind::ProductView => Some(Rung::ProductView),
            k if k.is_research() => Some(Rung::Research),
            TouchpointKind::AddToCart | TouchpointKind::Inquiry => Some(Rung::Intent),
            TouchpointKind::Purchase => Some(Rung::Purchase),
            _ => None,
        }
    }
}

impl std::fmt::Display for Rung {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Points per rung.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RungPoints {
    /// Points for a visit (default 1).
    pub visit: f64,
    /// Points for an interaction (default 2).
    pub interaction: f64,
    /// Points for a product view (default 3).
    pub product_view: f64,
    /// Points for research (default 5).
    pub research: f64,
    /// Points for intent (default 8).
    pub intent: f64,
    /// Points for a purchase (default 13).
    pub purchase: f64,
}

impl Default for RungPoints {
    fn default() -> Self {
        RungPoints {
            visit: 1.0,
            interaction: 2.0,
            product_view: 3.0,
            research: 5.0,
            intent: 8.0,
            purchase: 13.0,
        }
    }
}

impl RungPoints {
    /// The points of one rung.
    pub fn get(&self, rung: Rung) -> f64 {
        match rung {
            Rung::Visit => self.visit,
            Rung::Interaction => self.interaction,
            Rung::ProductView => self.product_view,
            Rung::Research => self.research,
            Rung::Intent => self.intent,
            Rung::Purchase => self.purchase,
        }
    }
}

/// Parameters of the engagement score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngagementParams {
    /// Points per rung.
    pub points: RungPoints,
    /// Days after which an event's points have halved (default 14).
    pub half_life_days: f64,
    /// The recent window in days before `as_of` (default 30) for the highest
    /// recent rung, the funnel and "no recent purchase".
    pub recent_days: f64,
    /// The moment of scoring; `None` means the latest event (touchpoint or
    /// transaction) in the base, or the Unix epoch for a base without events.
    pub as_of: Option<Timestamp>,
    /// A transaction this close (minutes, default 60) to a `purchase`
    /// touchpoint is the same purchase and counted once.
    pub purchase_match_minutes: f64,
}

impl Default for EngagementParams {
    fn default() -> Self {
        EngagementParams {
            points: RungPoints::default(),
            half_life_days: 14.0,
            recent_days: 30.0,
            as_of: None,
            purchase_match_minutes: 60.0,
        }
    }
}

impl EngagementParams {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for negative or non-finite points, a
    /// half-life that is not finite and > 0, or windows that are negative,
    /// non-finite or longer than 3,650,000 days.
    pub fn check(&self) -> Result<()> {
        for rung in Rung::ALL {
            let v = self.points.get(rung);
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(
                    "points",
                    format!("{rung} = {v}"),
                    "points must be finite and >= 0",
                ));
            }
        }
        check_half_life(self.half_life_days)?;
        check_days("recent_days", self.recent_days)?;
        check_minutes("purchase_match_minutes", self.purchase_match_minutes)
    }
}

/// One customer's engagement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerEngagement {
    /// The highest rung reached up to `as_of`.
    pub highest_rung: Option<Rung>,
    /// The highest rung reached within the recent window before `as_of`.
    pub highest_recent_rung: Option<Rung>,
    /// Decayed score at `as_of`: Σ points · 2^(−age / half-life).
    pub score: f64,
    /// Ladder events up to `as_of`.
    pub events: u32,
    /// Ladder events after `as_of` (ignored).
    pub future_events: u32,
    /// The latest ladder event up to `as_of`.
    pub last_engagement: Option<Timestamp>,
}

impl CustomerEngagement {
    /// Whether the customer purchased at any time up to `as_of`.
    pub fn ever_purchased(&self) -> bool {
        self.highest_rung == Some(Rung::Purchase)
    }

    /// Whether the customer purchased within the recent window.
    pub fn purchased_recently(&self) -> bool {
        self.highest_recent_rung == Some(Rung::Purchase)
    }
}

/// Engagement of every customer of a base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    /// The moment of scoring.
    pub as_of: Timestamp,
    /// The parameters used, with `as_of` filled in.
    pub params: EngagementParams,
    /// One entry per customer, by customer index.
    pub customers: Vec<CustomerEngagement>,
    /// Ladder events after `as_of`, over all customers (ignored in the scores).
    pub future_events: u64,
}

/// Customers who reached at least one rung in the recent window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// The rung.
    pub rung: Rung,
    /// Customers whose highest recent rung is at least this rung.
    pub customers: usize,
    /// `customers` over all customers of the base (0 for an empty base).
    pub share: f64,
    /// `customers` over the previous step's customers (over all customers for
    /// the first step; 0 when that is 0).
    pub step_rate: f64,
}

/// The ladder funnel over the recent window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderFunnel {
    /// All customers of the base.
    pub customers: usize,
    /// One step per rung, bottom to top; counts never increase.
    pub steps: Vec<FunnelStep>,
}

impl Engagement {
    /// The engagement of one customer.
    pub fn customer(&self, index: u32) -> Option<&CustomerEngagement> {
        self.customers.get(index as usize)
    }

    /// Customers whose highest recent rung is at least each rung.
    pub fn funnel(&self) -> LadderFunnel {
        let mut at = [0usize; 6];
        for c in &self.customers {
            if let Some(r) = c.highest_recent_rung {
                at[r.index()] += 1;
            }
        }
        let n = self.customers.len();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let mut at_least = [0usize; 6];
        let mut running = 0;
        for i in (0..6).rev() {
            running += at[i];
            at_least[i] = running;
        }
        let mut previous = n;
        let steps = Rung::ALL
            .iter()
            .zip(at_least)
            .map(|(&rung, customers)| {
                let step = FunnelStep {
                    rung,
                    customers,
                    share: ratio(customers, n),
                    step_rate: ratio(customers, previous),
                };
                previous = customers;
                step
            })
            .collect();
        LadderFunnel {
            customers: n,
            steps,
        }
    }
}

/// Scores every customer of a base.
///
/// ```
/// use custinsight::touchpoints::engagement::{self, EngagementParams, Rung};
/// use custinsight::synth::{Population, SynthParams};
///
/// let pop = Population::generate(&SynthParams::with_customers(100).with_seed(7))?;
/// let e = engagement::score(&pop.base, &EngagementParams::default())?;
/// assert_eq!(e.customers.len(), 100);
/// let funnel = e.funnel();
/// assert!(funnel.steps.windows(2).all(|w| w[0].customers >= w[1].customers));
/// # Ok::<(), custinsight::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] from [`EngagementParams::check`].
pub fn score(base: &CustomerBase, params: &EngagementParams) -> Result<Engagement> {
    params.check()?;
    let as_of_us = resolve_as_of(base, params.as_of);
    let rungs = kind_rungs(base);
    let recent_us = days_to_micros(params.recent_days);
    let half_life_us = params.half_life_days * DAY_US as f64;
    let match_us = minutes_to_micros(params.purchase_match_minutes);
    let points = params.points;
    let customers = map_range(base.n_customers(), |c| {
        let mut events = Vec::new();
        customer_events(base, &rungs, c as u32, match_us, &mut events);
        let mut out = CustomerEngagement {
            highest_rung: None,
            highest_recent_rung: None,
            score: 0.0,
            events: 0,
            future_events: 0,
            last_engagement: None,
        };
        let mut last = None;
        for e in &events {
            let Some(rung) = e.rung else { continue };
            if e.time_us > as_of_us {
                if !e.duplicate {
                    out.future_events = out.future_events.saturating_add(1);
                }
                continue;
            }
            let age = as_of_us.saturating_sub(e.time_us);
            out.highest_rung = out.highest_rung.max(Some(rung));
            if age <= recent_us {
                out.highest_recent_rung = out.highest_recent_rung.max(Some(rung));
            }
            last = last.max(Some(e.time_us));
            if !e.duplicate {
                out.events = out.events.saturating_add(1);
                out.score += points.get(rung) * decay(age, half_life_us);
            }
        }
        out.last_engagement = last.map(from_micros);
        out
    });
    let future_events = customers.iter().map(|c| u64::from(c.future_events)).sum();
    Ok(Engagement {
        as_of: from_micros(as_of_us),
        params: EngagementParams {
            as_of: Some(from_micros(as_of_us)),
            ..params.clone()
        },
        customers,
        future_events,
    })
}

/// How warm leads are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WarmLeadParams {
    /// Minimum score (default 8: about one fresh intent signal); `None` for any score > 0.
    pub min_score: Option<f64>,
    /// Keep only the best N leads (after the consent filter); `None` for all.
    pub top_n: Option<usize>,
    /// How many of the most recent ladder events to show as evidence (default 5).
    pub evidence_events: usize,
    /// List only customers with marketing consent on some channel at `as_of` (default true).
    pub require_consent: bool,
}

impl Default for WarmLeadParams {
    fn default() -> Self {
        WarmLeadParams {
            min_score: Some(8.0),
            top_n: None,
            evidence_events: 5,
            require_consent: true,
        }
    }
}

impl WarmLeadParams {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or non-finite `min_score`.
    pub fn check(&self) -> Result<()> {
        if let Some(v) = self.min_score {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param("min_score", v, "must be finite and >= 0"));
            }
        }
        Ok(())
    }
}

/// Whether a lead has bought before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadKind {
    /// Never purchased: acquisition.
    Prospect,
    /// Purchased before the recent window: re-activation.
    Lapsed,
}

/// One event behind a lead's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceEvent {
    /// When.
    pub time: Timestamp,
    /// Where.
    pub channel: Channel,
    /// What (`purchase` for a transaction).
    pub kind: TouchpointKind,
    /// Whether the event is a transaction rather than a touchpoint.
    pub transaction: bool,
    /// Its rung.
    pub rung: Rung,
    /// Points it contributes to the score at `as_of` (after decay).
    pub points: f64,
}

/// An engaged customer without a recent purchase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmLead {
    /// Customer index.
    pub customer: u32,
    /// External customer id.
    pub customer_id: String,
    /// Engagement score.
    pub score: f64,
    /// The highest rung in the recent window (never `purchase`).
    pub highest_recent_rung: Option<Rung>,
    /// Prospect (never bought) or lapsed customer.
    pub kind: LeadKind,
    /// The latest ladder event.
    pub last_engagement: Option<Timestamp>,
    /// Channels with marketing consent at `as_of`.
    pub contactable_channels: Vec<Channel>,
    /// The most recent ladder events, latest first.
    pub evidence: Vec<EvidenceEvent>,
}

/// Warm leads with the counts of who was left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmLeads {
    /// The moment of scoring.
    pub as_of: Timestamp,
    /// Customers meeting the score rule without a recent purchase.
    pub candidates: usize,
    /// Candidates left out for lack of marketing consent on any channel.
    pub excluded_no_consent: usize,
    /// Candidates left out by `top_n`.
    pub excluded_by_top_n: usize,
    /// The leads, best score first (ties by customer index).
    pub leads: Vec<WarmLead>,
}

/// The channels to check consent on: the known channels and any other channel of the base.
pub(crate) fn consent_channels(base: &CustomerBase) -> Vec<Channel> {
    let mut channels: Vec<Channel> = Channel::KNOWN.to_vec();
    for c in base.channels() {
        if !channels.contains(c) {
            channels.push(c.clone());
        }
    }
    channels
}

/// Engaged customers without a purchase in the recent window, best first.
///
/// # Errors
/// [`Error::InvalidParameter`] from [`WarmLeadParams::check`] or
/// [`EngagementParams::check`]; [`Error::LengthMismatch`] when `engagement` was
/// scored on a base with a different number of customers.
pub fn warm_leads(
    base: &CustomerBase,
    engagement: &Engagement,
    params: &WarmLeadParams,
) -> Result<WarmLeads> {
    params.check()?;
    engagement.params.check()?;
    if engagement.customers.len() != base.n_customers() {
        return Err(Error::lengths(
            "engagement scores per customer of the base",
            base.n_customers(),
            engagement.customers.len(),
        ));
    }
    let threshold = params.min_score.unwrap_or(0.0);
    let mut ranked: Vec<(u32, f64)> = engagement
        .customers
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.purchased_recently() && c.score > 0.0 && c.score >= threshold)
        .map(|(i, c)| (i as u32, c.score))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let candidates = ranked.len();
    let as_of = engagement.as_of;
    let channels = consent_channels(base);
    let contactable = |c: u32| -> Vec<Channel> {
        channels
            .iter()
            .filter(|ch| base.allows(c, ch, &Purpose::Marketing, as_of))
            .cloned()
            .collect()
    };
    let limit = params.top_n.unwrap_or(usize::MAX);
    let mut excluded_no_consent = 0;
    let mut chosen = Vec::new();
    for (c, _) in ranked {
        if chosen.len() >= limit && !params.require_consent {
            break;
        }
        let contactable_channels = contactable(c);
        if params.require_consent && contactable_channels.is_empty() {
            excluded_no_consent += 1;
            continue;
        }
        if chosen.len() < limit {
            chosen.push((c, contactable_channels));
        }
    }
    let excluded_by_top_n = candidates
        .saturating_sub(excluded_no_consent)
        .saturating_sub(chosen.len());

    let rungs = kind_rungs(base);
    let p = &engagement.params;
    let as_of_us = to_micros(as_of);
    let half_life_us = p.half_life_days * DAY_US as f64;
    let match_us = minutes_to_micros(p.purchase_match_minutes);
    let mut events = Vec::new();
    let mut leads = Vec::with_capacity(chosen.len());
    for (c, contactable_channels) in chosen {
        let Some(e) = engagement.customer(c) else {
            continue;
        };
        customer_events(base, &rungs, c, match_us, &mut events);
        let evidence = events
            .iter()
            .rev()
            .filter(|ev| ev.time_us <= as_of_us && !ev.duplicate)
            .filter_map(|ev| {
                let rung = ev.rung?;
                let kind = match ev.kind {
                    Some(code) => base.kind(code)?.clone(),
                    None => TouchpointKind::Purchase,
                };
                Some(EvidenceEvent {
                    time: from_micros(ev.time_us),
                    channel: base
                        .channel(ev.channel)
                        .cloned()
                        .unwrap_or_else(|| Channel::Other(String::new())),
                    kind,
                    transaction: ev.kind.is_none(),
                    rung,
                    points: p.points.get(rung)
                        * decay(as_of_us.saturating_sub(ev.time_us), half_life_us),
                })
            })
            .take(params.evidence_events)
            .collect();
        leads.push(WarmLead {
            customer: c,
            customer_id: base.customer_id(c).to_owned(),
            score: e.score,
            highest_recent_rung: e.highest_recent_rung,
            kind: if e.ever_purchased() {
                LeadKind::Lapsed
            } else {
                LeadKind::Prospect
            },
            last_engagement: e.last_engagement,
            contactable_channels,
            evidence,
        });
    }
    Ok(WarmLeads {
        as_of,
        candidates,
        excluded_no_consent,
        excluded_by_top_n,
        leads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{
        ConsentEvent, ConsentStatus, Currency, CustomerId, Money, Touchpoint, Transaction,
    };
    use crate::store::CustomerBaseBuilder;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn tp(b: &mut CustomerBaseBuilder, id: &str, at: &str, channel: Channel, kind: TouchpointKind) {
        let t = Touchpoint::new(CustomerId::new(id).unwrap(), ts(at), channel, kind);
        b.add_touchpoint(&t).unwrap();
    }

    fn tx(b: &mut CustomerBaseBuilder, order: &str, id: &str, at: &str, amount: &str) {
        let t = Transaction::new(
            order,
            CustomerId::new(id).unwrap(),
            ts(at),
            Money::parse(amount, Currency::EUR).unwrap(),
            Channel::Web,
        );
        b.add_transaction(&t).unwrap();
    }

    fn grant(b: &mut CustomerBaseBuilder, id: &str, channel: Option<Channel>) {
        b.add_consent_event(
            id,
            ConsentEvent {
                channel,
                purpose: Purpose::Marketing,
                status: ConsentStatus::Granted,
                at: ts("2020-01-01T00:00:00Z"),
                source: None,
            },
        )
        .unwrap();
    }

    #[test]
    fn rung_mapping() {
        use TouchpointKind as K;
        assert_eq!(Rung::of_kind(&K::Impression), None);
        assert_eq!(Rung::of_kind(&K::Unsubscribe), None);
        assert_eq!(Rung::of_kind(&K::Complaint), None);
        assert_eq!(Rung::of_kind(&K::Other("x".into())), None);
        assert_eq!(Rung::of_kind(&K::Visit), Some(Rung::Visit));
        assert_eq!(Rung::of_kind(&K::Support), Some(Rung::Interaction));
        assert_eq!(Rung::of_kind(&K::Configurator), Some(Rung::Research));
        assert_eq!(Rung::of_kind(&K::Inquiry), Some(Rung::Intent));
        assert_eq!(Rung::of_kind(&K::Purchase), Some(Rung::Purchase));
        assert!(Rung::Visit < Rung::Interaction && Rung::Intent < Rung::Purchase);
        for r in Rung::ALL {
            assert_eq!(Rung::ALL[r.index()], r);
        }
    }

    #[test]
    fn decayed_score_by_hand() {
        let mut b = CustomerBase::builder();
        // as_of = 2024-03-01; half-life 14 days.
        tp(
            &mut b,
            "a",
            "2024-03-01T00:00:00Z",
            Channel::Web,
            TouchpointKind::Visit,
        ); // 1 · 1
        tp(
            &mut b,
            "a",
            "2024-02-16T00:00:00Z",
            Channel::Web,
            TouchpointKind::AddToCart,
        ); // 8 · 1/2
        tp(
            &mut b,
            "a",
            "2024-02-02T00:00:00Z",
            Channel::Email,
            TouchpointKind::Impression,
        ); // passive
        tx(&mut b, "o1", "a", "2024-02-02T00:00:00Z", "10"); // 13 · 1/4
        tx(&mut b, "r1", "a", "2024-02-20T00:00:00Z", "-10"); // refund: ignored
        tp(
            &mut b,
            "a",
            "2024-03-05T00:00:00Z",
            Channel::Web,
            TouchpointKind::Visit,
        ); // future
        tp(
            &mut b,
            "b",
            "2024-01-01T00:00:00Z",
            Channel::Web,
            TouchpointKind::Complaint,
        );
        let base = b.build().unwrap();
        let params = EngagementParams {
            as_of: Some(ts("2024-03-01T00:00:00Z")),
            ..EngagementParams::default()
        };
        let e = score(&base, &params).unwrap();
        let a = &e.customers[base.index_of("a").unwrap() as usize];
        assert!(
            (a.score - (1.0 + 4.0 + 13.0 / 4.0)).abs() < 1e-12,
            "{}",
            a.score
        );
        assert_eq!(a.events, 3);
        assert_eq!(a.future_events, 1);
        assert_eq!(e.future_events, 1);
        assert_eq!(a.highest_rung, Some(Rung::Purchase));
        // The purchase was 29 days ago: inside the 30-day window.
        assert_eq!(a.highest_recent_rung, Some(Rung::Purchase));
        assert_eq!(a.last_engagement, Some(ts("2024-03-01T00:00:00Z")));
        let b_ = &e.customers[base.index_of("b").unwrap() as usize];
        assert_eq!((b_.score, b_.highest_rung), (0.0, None));
        // Narrower window: the purchase falls out, intent remains.
        let e = score(
            &base,
            &EngagementParams {
                recent_days: 20.0,
                ..params
            },
        )
        .unwrap();
        let a = &e.customers[base.index_of("a").unwrap() as usize];
        assert_eq!(a.highest_recent_rung, Some(Rung::Intent));
    }

    #[test]
    fn purchase_touchpoint_and_transaction_count_once() {
        let mut b = CustomerBase::builder();
        tp(
            &mut b,
            "a",
            "2024-03-01T00:00:00Z",
            Channel::Web,
            TouchpointKind::Purchase,
        );
        tx(&mut b, "o1", "a", "2024-03-01T00:10:00Z", "10");
        tx(&mut b, "o2", "a", "2024-03-01T00:20:00Z", "10"); // a second order: counted
        let base = b.build().unwrap();
        let e = score(&base, &EngagementParams::default()).unwrap();
        assert_eq!(e.customers[0].events, 2);
        assert_eq!(e.as_of, ts("2024-03-01T00:20:00Z"));

        // Either record of a matched purchase puts it in the window; it scores once.
        let mut b = CustomerBase::builder();
        tp(
            &mut b,
            "a",
            "2024-03-01T00:00:00Z",
            Channel::Web,
            TouchpointKind::Purchase,
        );
        tx(&mut b, "o1", "a", "2024-03-01T00:30:00Z", "10");
        let base = b.build().unwrap();
        let params = EngagementParams {
            recent_days: 10.0 / 1440.0,
            ..EngagementParams::default()
        };
        let e = score(&base, &params).unwrap();
        let a = &e.customers[0];
        assert!(a.purchased_recently());
        assert_eq!(a.events, 1);
        assert!((a.score - 13.0 * (-30.0f64 / (14.0 * 1440.0)).exp2()).abs() < 1e-12);
    }

    #[test]
    fn funnel_is_monotone_and_leads_exclude_recent_buyers() {
        let mut b = CustomerBase::builder();
        for (id, kind) in [
            ("v", TouchpointKind::Visit),
            ("r", TouchpointKind::Compare),
            ("i", TouchpointKind::AddToCart),
            ("p", TouchpointKind::Purchase),
        ] {
            tp(&mut b, id, "2024-03-01T00:00:00Z", Channel::Web, kind);
            tp(
                &mut b,
                id,
                "2024-02-28T00:00:00Z",
                Channel::Web,
                TouchpointKind::AddToCart,
            );
            grant(&mut b, id, None);
        }
        // A lapsed buyer, warm again.
        tx(&mut b, "o1", "l", "2023-01-01T00:00:00Z", "5");
        tp(
            &mut b,
            "l",
            "2024-03-01T00:00:00Z",
            Channel::App,
            TouchpointKind::Inquiry,
        );
        grant(&mut b, "l", Some(Channel::Sms));
        // Warm but without consent.
        tp(
            &mut b,
            "n",
            "2024-03-01T00:00:00Z",
            Channel::App,
            TouchpointKind::Inquiry,
        );
        let base = b.build().unwrap();
        let e = score(&base, &EngagementParams::default()).unwrap();
        let f = e.funnel();
        assert_eq!(f.customers, 6);
        let counts: Vec<usize> = f.steps.iter().map(|s| s.customers).collect();
        assert_eq!(counts, [6, 6, 6, 6, 6, 1]);
        assert!(counts.windows(2).all(|w| w[0] >= w[1]));

        let leads = warm_leads(&base, &e, &WarmLeadParams::default()).unwrap();
        assert_eq!(leads.candidates, 5);
        assert_eq!(leads.excluded_no_consent, 1);
        let ids: Vec<&str> = leads.leads.iter().map(|l| l.customer_id.as_str()).collect();
        assert!(!ids.contains(&"p") && !ids.contains(&"n"), "{ids:?}");
        assert!(leads.leads.windows(2).all(|w| w[0].score >= w[1].score));
        let lapsed = leads.leads.iter().find(|l| l.customer_id == "l").unwrap();
        assert_eq!(lapsed.kind, LeadKind::Lapsed);
        assert_eq!(lapsed.contactable_channels, [Channel::Sms]);
        assert_eq!(lapsed.evidence.len(), 2);
        assert_eq!(lapsed.evidence[0].kind, TouchpointKind::Inquiry);
        assert!(lapsed.evidence[1].transaction);
        let r = leads.leads.iter().find(|l| l.customer_id == "r").unwrap();
        assert_eq!(r.kind, LeadKind::Prospect);
        let sum: f64 = r.evidence.iter().map(|ev| ev.points).sum();
        assert!((sum - r.score).abs() < 1e-9);

        let top = warm_leads(
            &base,
            &e,
            &WarmLeadParams {
                top_n: Some(2),
                require_consent: false,
                ..WarmLeadParams::default()
            },
        )
        .unwrap();
        assert_eq!(top.leads.len(), 2);
        assert_eq!(top.excluded_by_top_n, 3);
        assert_eq!(top.leads[0].customer_id, "i", "highest score first");
    }

    #[test]
    fn empty_base_and_bad_params() {
        let base = CustomerBase::builder().build().unwrap();
        let e = score(&base, &EngagementParams::default()).unwrap();
        assert!(e.customers.is_empty());
        assert_eq!(e.as_of, Timestamp::UNIX_EPOCH);
        assert!(
            e.funnel()
                .steps
                .iter()
                .all(|s| s.customers == 0 && s.share == 0.0)
        );
        assert!(
            warm_leads(&base, &e, &WarmLeadParams::default())
                .unwrap()
                .leads
                .is_empty()
        );
        for bad in [
            EngagementParams {
                half_life_days: 0.0,
                ..EngagementParams::default()
            },
            EngagementParams {
                recent_days: f64::NAN,
                ..EngagementParams::default()
            },
            EngagementParams {
                points: RungPoints {
                    intent: -1.0,
                    ..RungPoints::default()
                },
                ..EngagementParams::default()
            },
        ] {
            assert!(matches!(
                score(&base, &bad),
                Err(Error::InvalidParameter { .. })
            ));
        }
        let json = serde_json::to_string(&EngagementParams::default()).unwrap();
        let back: EngagementParams = serde_json::from_str(&json).unwrap();
        assert_eq!(back, EngagementParams::default());
        let partial: EngagementParams = serde_json::from_str(r#"{"half_life_days": 7}"#).unwrap();
        assert_eq!(partial.recent_days, 30.0);
    }

    #[test]
    fn customers_without_events_and_other_base() {
        let mut b = CustomerBase::builder();
        b.add_customer(crate::records::Customer::new(CustomerId::new("x").unwrap()))
            .unwrap();
        tp(
            &mut b,
            "y",
            "2024-01-01T00:00:00Z",
            Channel::Web,
            TouchpointKind::Visit,
        );
        let base = b.build().unwrap();
        let e = score(&base, &EngagementParams::default()).unwrap();
        assert_eq!(e.customers[0].highest_rung, None);
        let other = CustomerBase::builder().build().unwrap();
        assert!(matches!(
            warm_leads(&other, &e, &WarmLeadParams::default()),
            Err(Error::LengthMismatch { expected: 0, found, .. }) if found == base.n_customers()
        ));
    }
}

#[cfg(test)]
mod digest {
    use crate::synth::{Population, SynthParams};
    use crate::touchpoints::{engagement, journey_stage, preference};

    /// Pinned figures of a small synthetic population: identical with and
    /// without the `parallel` feature (`cargo test --no-default-features`).
    #[test]
    fn synthetic_digest_is_pinned() {
        let pop = Population::generate(&SynthParams::with_customers(600).with_seed(21)).unwrap();
        let base = &pop.base;
        let e = engagement::score(base, &engagement::EngagementParams::default()).unwrap();
        let funnel: Vec<usize> = e.funnel().steps.iter().map(|s| s.customers).collect();
        let score: f64 = e.customers.iter().map(|c| c.score).sum();
        let leads = engagement::warm_leads(
            base,
            &e,
            &engagement::WarmLeadParams {
                min_score: None,
                ..Default::default()
            },
        )
        .unwrap();
        let s = journey_stage::assign(base, &journey_stage::JourneyStageParams::default()).unwrap();
        let f =
            journey_stage::content_fit(base, &journey_stage::ContentFitParams::default()).unwrap();
        let p = preference::preferences(base, &preference::PreferenceParams::default()).unwrap();
        let dist: Vec<(String, usize)> = p
            .distribution
            .iter()
            .map(|d| (d.channel.to_string(), d.customers))
            .collect();
        // Pinned from a run with the default features.
        assert_eq!(funnel, [139, 133, 122, 119, 116, 115]);
        assert!((score - 2110.951214148).abs() < 1e-6, "{score}");
        assert_eq!(leads.leads.len(), 351);
        assert_eq!(s.distribution.counts, [11, 6, 1, 10, 190, 38]);
        assert_eq!(s.distribution.inactive, 344);
        assert_eq!(
            f.total,
            journey_stage::FitCounts {
                messages: 5179,
                with_content_stage: 5179,
                stage_assessed: 4463,
                stage_matched: 2885,
                content_behind: 1207,
                content_ahead: 371,
                with_topic: 5179,
                topic_assessed: 4861,
                topic_matched: 3534,
                topic_mismatched: 1327,
            }
        );
        let expected = [
            ("email", 144),
            ("push", 47),
            ("direct_mail", 41),
            ("sms", 13),
        ];
        let expected: Vec<(String, usize)> =
            expected.iter().map(|&(c, n)| (c.to_owned(), n)).collect();
        assert_eq!(dist, expected);
        assert_eq!(
            (p.no_activity, p.no_consented_channel, p.consent_overrides),
            (101, 254, 245)
        );
    }
}
