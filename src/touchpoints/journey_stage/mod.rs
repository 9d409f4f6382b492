//! Journey stage per customer, and whether the content we send fits it.
//!
//! The customer journey runs need → research → decision → adoption → usage →
//! advocacy ([`JourneyStage`]; Lemon & Verhoef 2016, "Understanding customer
//! experience throughout the customer journey", *Journal of Marketing* 80(6)).
//! Content works when it meets customers where they are: product-launch
//! content helps someone researching and wastes the attention of someone who
//! bought last week; onboarding content means nothing to a prospect.
//!
//! **Stage rules.** A customer's stage at a moment `t` follows from their
//! history before `t`. The rules are checked from the latest stage backwards
//! and the first that applies wins, so a customer is placed at the most
//! advanced stage their recent behaviour supports (a recent buyer who browses
//! again is still a customer in adoption or usage, not a new researcher):
//!
//! | stage | rule (defaults) | reason, e.g. |
//! |---|---|---|
//! | advocacy | a review written or a referral within `advocacy_days` (90) | `referral 5 days ago` |
//! | usage | at least `usage_min_purchases` (2) purchases, the last within `usage_days` (180) | `2 purchases, last 12 days ago` |
//! | adoption | first purchase within `adoption_days` (60) | `first purchase 20 days ago` |
//! | decision | an intent event (add to cart, inquiry) within `decision_days` (14) | `add_to_cart 3 days ago` |
//! | research | a product view or research event within `research_days` (30) | `product_view 2 days ago` |
//! | need | any other ladder event (visit, click, support, …) within `need_days` (30) | `visit 7 days ago` |
//! | none | nothing of the above: inactive | `inactive: last activity visit 45 days ago` |
//!
//! Events are those of the engagement ladder ([`super::engagement`]):
//! impressions, complaints, unsubscribes and refunds are not activity, and a
//! `purchase` touchpoint and its transaction count as one purchase. "Within N
//! days" means at most N days before `t`; reasons give whole days, rounded
//! down. A one-time buyer past the adoption window with no recent activity is
//! inactive: they neither repeat-buy nor engage.
//!
//! [`assign`] places every customer at `as_of` (events at `as_of` included);
//! [`stage_at`] places one customer at any moment from the history strictly
//! before it. Both fold the history into a few running figures (purchases,
//! first and last purchase, the latest event of each kind of evidence), which
//! [`content_fit`] updates incrementally while it walks each history.
//!
//! **Content–stage fit.** Every touchpoint whose content was made for a stage
//! ([`crate::records::Touchpoint::content_stage`]) is compared with the
//! customer's stage at that moment (history strictly before it). It *matches*
//! when the stages are at most `stage_tolerance` apart; otherwise the content
//! is *behind* the customer (made for an earlier stage: acquisition content
//! after a purchase) or *ahead* of them (made for a later stage: loyalty
//! content to a prospect). Messages to inactive customers are not assessed.
//!
//! **Topic fit.** A customer's interests are the topics of their own ladder
//! touchpoints (visits, clicks, views, research, cart, purchase, …) before a
//! message. A message whose topic has a share of those below
//! `min_interest_share` (or does not occur) is a topic mismatch; customers
//! without known interests are not assessed. A *message* is a touchpoint with
//! a campaign or a content stage. All counts are kept per campaign
//! ([`FitCounts`], mergeable) and sum to the totals.
//!
//! [`message_stages`] gives the same assessment message by message (content
//! stage, and the recipient's stage then), for checking it against known
//! stages; [`MessageStage::mismatched`] also judges messages to inactive
//! customers, which [`content_fit`] leaves unassessed: awareness content
//! (made for need) fits them, anything later is ahead of them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

mod content;

pub use content::{
    CampaignFit, ContentFit, ContentFitParams, FitCounts, MessageStage, content_fit, message_stages,
};

use super::engagement::Rung;
use super::events::{Event, customer_events, kind_rungs};
use super::time::{
    check_days, check_minutes, days_ago, days_to_micros, minutes_to_micros, resolve_as_of,
    whole_days,
};
use crate::error::{Error, Result};
use crate::parallel::map_range;
use crate::records::{JourneyStage, TouchpointKind};
use crate::store::{CustomerBase, from_micros, to_micros};

/// Thresholds of the stage rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JourneyStageParams {
    /// A review written or referral this recent (days) makes an advocate (default 90).
    pub advocacy_days: f64,
    /// Purchases needed for usage (default 2).
    pub usage_min_purchases: u32,
    /// The last purchase must be this recent (days) for usage (default 180).
    pub usage_days: f64,
    /// A first purchase this recent (days) means adoption (default 60).
    pub adoption_days: f64,
    /// An intent event this recent (days) means decision (default 14).
    pub decision_days: f64,
    /// A product view or research event this recent (days) means research (default 30).
    pub research_days: f64,
    /// Any other ladder event this recent (days) means need (default 30).
    pub need_days: f64,
    /// A transaction this close (minutes) to a `purchase` touchpoint is the same purchase (default 60).
    pub purchase_match_minutes: f64,
    /// The moment of [`assign`]; `None` means the latest event in the base
    /// (the Unix epoch for a base without events).
    pub as_of: Option<Timestamp>,
}

impl Default for JourneyStageParams {
    fn default() -> Self {
        JourneyStageParams {
            advocacy_days: 90.0,
            usage_min_purchases: 2,
            usage_days: 180.0,
            adoption_days: 60.0,
            decision_days: 14.0,
            research_days: 30.0,
            need_days: 30.0,
            purchase_match_minutes: 60.0,
            as_of: None,
        }
    }
}

impl JourneyStageParams {
    /// Checks the thresholds.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a window that is negative, non-finite
    /// or longer than 3,650,000 days, or `usage_min_purchases` = 0.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("advocacy_days", self.advocacy_days),
            ("usage_days", self.usage_days),
            ("adoption_days", self.adoption_days),
            ("decision_days", self.decision_days),
            ("research_days", self.research_days),
            ("need_days", self.need_days),
        ] {
            check_days(name, v)?;
        }
        if self.usage_min_purchases == 0 {
            return Err(Error::param("usage_min_purchases", 0, "must be >= 1"));
        }
        check_minutes("purchase_match_minutes", self.purchase_match_minutes)
    }
}

/// A customer's journey stage with the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JourneyStageAssignment {
    /// The stage; `None` for an inactive customer.
    pub stage: Option<JourneyStage>,
    /// The rule and the numbers, e.g. `2 purchases, last 12 days ago`.
    pub reason: String,
}

/// How many customers are in each stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageDistribution {
    /// All customers.
    pub customers: usize,
    /// Customers per stage, in [`JourneyStage::ALL`] order.
    pub counts: [usize; 6],
    /// Customers without a stage (inactive).
    pub inactive: usize,
}

impl StageDistribution {
    /// Counts the stages of some assignments.
    pub fn of(assignments: &[JourneyStageAssignment]) -> Self {
        let mut counts = [0; 6];
        let mut inactive = 0;
        for a in assignments {
            match a.stage {
                Some(s) => counts[s.index()] += 1,
                None => inactive += 1,
            }
        }
        StageDistribution {
            customers: assignments.len(),
            counts,
            inactive,
        }
    }

    /// The share of customers in a stage (`None`: inactive); 0 without customers.
    pub fn share(&self, stage: Option<JourneyStage>) -> f64 {
        let n = match stage {
            Some(s) => self.counts[s.index()],
            None => self.inactive,
        };
        if self.customers == 0 {
            0.0
        } else {
            n as f64 / self.customers as f64
        }
    }
}

/// The journey stage of every customer at `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyStages {
    /// The moment of assignment.
    pub as_of: Timestamp,
    /// One assignment per customer, by customer index.
    pub assignments: Vec<JourneyStageAssignment>,
    /// How many customers are in each stage.
    pub distribution: StageDistribution,
}

/// The rule windows in microseconds.
#[derive(Debug, Clone, Copy)]
struct Windows {
    advocacy: i64,
    usage_min_purchases: u32,
    usage: i64,
    adoption: i64,
    decision: i64,
    research: i64,
    need: i64,
}

impl Windows {
    fn new(p: &JourneyStageParams) -> Self {
        Windows {
            advocacy: days_to_micros(p.advocacy_days),
            usage_min_purchases: p.usage_min_purchases,
            usage: days_to_micros(p.usage_days),
            adoption: days_to_micros(p.adoption_days),
            decision: days_to_micros(p.decision_days),
            research: days_to_micros(p.research_days),
            need: days_to_micros(p.need_days),
        }
    }
}

/// Whether each kind code is advocacy evidence (review written, referral).
fn advocacy_kinds(base: &CustomerBase) -> Vec<bool> {
    base.kinds()
        .iter()
        .map(|k| matches!(k, TouchpointKind::ReviewWritten | TouchpointKind::Referral))
        .collect()
}

/// The running figures the stage rules read, folded from a history in time order.
#[derive(Debug, Clone, Copy, Default)]
struct History {
    purchases: u32,
    first_purchase: Option<i64>,
    last_purchase: Option<i64>,
    /// (time, kind code) of the latest event of each kind of evidence.
    advocacy: Option<(i64, u16)>,
    intent: Option<(i64, u16)>,
    research: Option<(i64, u16)>,
    need: Option<(i64, u16)>,
    /// The latest ladder event; kind `None` for a transaction.
    last_activity: Option<(i64, Option<u16>)>,
}

/// Why a stage was chosen, with its numbers (times in microseconds).
#[derive(Debug, Clone, Copy)]
enum Why {
    /// Advocacy, decision, research or need: a touchpoint of this kind at this time.
    Touch(i64, u16),
    /// Usage: purchases and the last one.
    Usage(u32, i64),
    /// Adoption: purchases and the first one.
    Adoption(u32, i64),
    /// Inactive: purchases and the latest activity.
    Inactive(u32, Option<(i64, Option<u16>)>),
}

impl History {
    fn observe(&mut self, e: &Event, advocacy: &[bool]) {
        let Some(rung) = e.rung else { return };
        self.last_activity = Some((e.time_us, e.kind));
        match (rung, e.kind) {
            (Rung::Purchase, _) => {
                // A matched transaction dates the purchase but does not count it again.
                if !e.duplicate {
                    self.purchases = self.purchases.saturating_add(1);
                }
                self.first_purchase.get_or_insert(e.time_us);
                self.last_purchase = Some(e.time_us);
            }
            (_, None) => {}
            (Rung::Intent, Some(k)) => self.intent = Some((e.time_us, k)),
            (Rung::Research | Rung::ProductView, Some(k)) => self.research = Some((e.time_us, k)),
            (Rung::Visit | Rung::Interaction, Some(k)) => {
                if advocacy.get(k as usize).copied().unwrap_or(false) {
                    self.advocacy = Some((e.time_us, k));
                }
                self.need = Some((e.time_us, k));
            }
        }
    }

    /// The stage at `now`, given that the folded events are all before (or at) `now`.
    fn decide(&self, now: i64, w: &Windows) -> (Option<JourneyStage>, Why) {
        let within = |t: i64, window: i64| now.saturating_sub(t) <= window;
        if let Some((t, k)) = self.advocacy.filter(|&(t, _)| within(t, w.advocacy)) {
            return (Some(JourneyStage::Advocacy), Why::Touch(t, k));
        }
        if let Some(last) = self.last_purchase {
            if self.purchases >= w.usage_min_purchases && within(last, w.usage) {
                return (Some(JourneyStage::Usage), Why::Usage(self.purchases, last));
            }
        }
        if let Some(first) = self.first_purchase.filter(|&t| within(t, w.adoption)) {
            return (
                Some(JourneyStage::Adoption),
                Why::Adoption(self.purchases, first),
            );
        }
        for (evidence, window, stage) in [
            (self.intent, w.decision, JourneyStage::Decision),
            (self.research, w.research, JourneyStage::Research),
            (self.need, w.need, JourneyStage::Need),
        ] {
            if let Some((t, k)) = evidence.filter(|&(t, _)| within(t, window)) {
                return (Some(stage), Why::Touch(t, k));
            }
        }
        (None, Why::Inactive(self.purchases, self.last_activity))
    }
}

fn kind_label(base: &CustomerBase, code: Option<u16>) -> &str {
    match code {
        Some(c) => base.kind(c).map_or("touchpoint", |k| k.as_str()),
        None => "purchase",
    }
}

fn plural(n: u32, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The reason text for a decision at `now`.
fn reason(base: &CustomerBase, why: Why, now: i64) -> String {
    let ago = |t: i64| days_ago(whole_days(now, t));
    match why {
        Why::Touch(t, k) => format!("{} {}", kind_label(base, Some(k)), ago(t)),
        Why::Usage(n, last) => format!("{}, last {}", plural(n, "purchase"), ago(last)),
        Why::Adoption(1, first) => format!("first purchase {}", ago(first)),
        Why::Adoption(n, first) => {
            format!("first purchase {}, {}", ago(first), plural(n, "purchase"))
        }
        Why::Inactive(_, None) => "inactive: no activity".to_owned(),
        Why::Inactive(0, Some((t, k))) => {
            format!("inactive: last activity {} {}", kind_label(base, k), ago(t))
        }
        Why::Inactive(n, Some((t, k))) => format!(
            "inactive: last activity {} {}, {} in all",
            kind_label(base, k),
            ago(t),
            plural(n, "purchase")
        ),
    }
}

/// Shared per-run lookups.
struct Context {
    rungs: Vec<Option<Rung>>,
    advocacy: Vec<bool>,
    windows: Windows,
    match_us: i64,
}

impl Context {
    fn new(base: &CustomerBase, params: &JourneyStageParams) -> Self {
        Context {
            rungs: kind_rungs(base),
            advocacy: advocacy_kinds(base),
            windows: Windows::new(params),
            match_us: minutes_to_micros(params.purchase_match_minutes),
        }
    }

    /// The assignment of one customer at `now` from the events passing `include`.
    fn assignment(
        &self,
        base: &CustomerBase,
        customer: u32,
        now: i64,
        include: impl Fn(i64) -> bool,
    ) -> JourneyStageAssignment {
        let mut events = Vec::new();
        customer_events(base, &self.rungs, customer, self.match_us, &mut events);
        let mut history = History::default();
        for e in events.iter().take_while(|e| include(e.time_us)) {
            history.observe(e, &self.advocacy);
        }
        let (stage, why) = history.decide(now, &self.windows);
        JourneyStageAssignment {
            stage,
            reason: reason(base, why, now),
        }
    }
}

/// The journey stage of every customer at `as_of` (events at `as_of` included).
///
/// ```
/// use custinsight::touchpoints::journey_stage::{self, JourneyStageParams};
/// use custinsight::synth::{Population, SynthParams};
///
/// let pop = Population::generate(&SynthParams::with_customers(100).with_seed(7))?;
/// let stages = journey_stage::assign(&pop.base, &JourneyStageParams::default())?;
/// let d = &stages.distribution;
/// assert_eq!(d.counts.iter().sum::<usize>() + d.inactive, 100);
/// # Ok::<(), custinsight::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] from [`JourneyStageParams::check`].
pub fn assign(base: &CustomerBase, params: &JourneyStageParams) -> Result<JourneyStages> {
    params.check()?;
    let as_of = resolve_as_of(base, params.as_of);
    let ctx = Context::new(base, params);
    let assignments = map_range(base.n_customers(), |c| {
        ctx.assignment(base, c as u32, as_of, |t| t <= as_of)
    });
    let distribution = StageDistribution::of(&assignments);
    Ok(JourneyStages {
        as_of: from_micros(as_of),
        assignments,
        distribution,
    })
}

/// The journey stage of one customer at `t`, from the history strictly before `t`.
///
/// `params.as_of` is not used.
///
/// # Errors
/// [`Error::InvalidParameter`] from [`JourneyStageParams::check`];
/// [`Error::NotFound`] for a customer index outside the base.
pub fn stage_at(
    base: &CustomerBase,
    customer: u32,
    t: Timestamp,
    params: &JourneyStageParams,
) -> Result<JourneyStageAssignment> {
    params.check()?;
    if customer as usize >= base.n_customers() {
        return Err(Error::NotFound {
            what: "customer index",
            id: customer.to_string(),
        });
    }
    let now = to_micros(t);
    let ctx = Context::new(base, params);
    Ok(ctx.assignment(base, customer, now, |time| time < now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Channel, Currency, CustomerId, Money, Touchpoint, Transaction};
    use crate::store::CustomerBaseBuilder;

    const AS_OF: &str = "2024-06-01T00:00:00Z";

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// `days` days before [`AS_OF`].
    fn ago(days: f64) -> Timestamp {
        let us = to_micros(ts(AS_OF)) - (days * 86_400e6) as i64;
        from_micros(us)
    }

    struct Tp {
        kind: TouchpointKind,
        campaign: Option<&'static str>,
        topic: Option<&'static str>,
        content: Option<JourneyStage>,
    }

    fn kind(kind: TouchpointKind) -> Tp {
        Tp {
            kind,
            campaign: None,
            topic: None,
            content: None,
        }
    }

    fn add(b: &mut CustomerBaseBuilder, id: &str, at: Timestamp, t: Tp) {
        let mut tp = Touchpoint::new(CustomerId::new(id).unwrap(), at, Channel::Email, t.kind);
        tp.campaign = t.campaign.map(str::to_owned);
        tp.topic = t.topic.map(str::to_owned);
        tp.content_stage = t.content;
        b.add_touchpoint(&tp).unwrap();
    }

    fn buy(b: &mut CustomerBaseBuilder, id: &str, at: Timestamp) {
        let order = format!("{id}-{}", at.as_second());
        let t = Transaction::new(
            order,
            CustomerId::new(id).unwrap(),
            at,
            Money::parse("10", Currency::EUR).unwrap(),
            Channel::Web,
        );
        b.add_transaction(&t).unwrap();
    }

    fn params() -> JourneyStageParams {
        JourneyStageParams {
            as_of: Some(ts(AS_OF)),
            ..JourneyStageParams::default()
        }
    }

    #[test]
    fn rules_in_precedence_order_with_reasons() {
        use TouchpointKind as K;
        let mut b = CustomerBase::builder();
        buy(&mut b, "adv", ago(30.0));
        add(&mut b, "adv", ago(5.0), kind(K::Referral));
        buy(&mut b, "use", ago(100.0));
        buy(&mut b, "use", ago(12.0));
        add(&mut b, "use", ago(1.0), kind(K::AddToCart)); // usage beats decision
        add(&mut b, "use", ago(100.0), kind(K::ReviewWritten)); // too old for advocacy
        buy(&mut b, "new", ago(20.0));
        add(&mut b, "new", ago(2.0), kind(K::ProductView));
        add(&mut b, "dec", ago(3.0), kind(K::AddToCart));
        add(&mut b, "dec", ago(1.0), kind(K::Visit));
        add(&mut b, "res", ago(2.0), kind(K::ProductView));
        add(&mut b, "res", ago(20.0), kind(K::Inquiry)); // intent beyond 14 days
        add(&mut b, "need", ago(7.0), kind(K::Visit));
        add(&mut b, "need", ago(1.0), kind(K::Impression)); // passive
        add(&mut b, "idle", ago(45.0), kind(K::Visit));
        buy(&mut b, "once", ago(100.0));
        add(&mut b, "imp", ago(1.0), kind(K::Impression));
        add(&mut b, "imp", ago(1.0), kind(K::Unsubscribe));
        let base = b.build().unwrap();
        let s = assign(&base, &params()).unwrap();
        let get = |id: &str| s.assignments[base.index_of(id).unwrap() as usize].clone();
        let cases = [
            ("adv", Some(JourneyStage::Advocacy), "referral 5 days ago"),
            (
                "use",
                Some(JourneyStage::Usage),
                "2 purchases, last 12 days ago",
            ),
            (
                "new",
                Some(JourneyStage::Adoption),
                "first purchase 20 days ago",
            ),
            (
                "dec",
                Some(JourneyStage::Decision),
                "add_to_cart 3 days ago",
            ),
            (
                "res",
                Some(JourneyStage::Research),
                "product_view 2 days ago",
            ),
            ("need", Some(JourneyStage::Need), "visit 7 days ago"),
            ("idle", None, "inactive: last activity visit 45 days ago"),
            (
                "once",
                None,
                "inactive: last activity purchase 100 days ago, 1 purchase in all",
            ),
            ("imp", None, "inactive: no activity"),
        ];
        for (id, stage, reason) in cases {
            let a = get(id);
            assert_eq!(a.stage, stage, "{id}: {}", a.reason);
            assert_eq!(a.reason, reason, "{id}");
        }
        let d = &s.distribution;
        assert_eq!(d.counts, [1, 1, 1, 1, 1, 1]);
        assert_eq!((d.inactive, d.customers), (3, 9));
        assert!((d.share(None) - 3.0 / 9.0).abs() < 1e-12);
        // Usage needs the last purchase within 180 days.
        let late = assign(
            &base,
            &JourneyStageParams {
                usage_days: 10.0,
                ..params()
            },
        )
        .unwrap();
        let a = &late.assignments[base.index_of("use").unwrap() as usize];
        assert_eq!(a.stage, Some(JourneyStage::Decision), "{}", a.reason);
    }

    #[test]
    fn stage_at_ignores_the_future() {
        use TouchpointKind as K;
        let build = |with_future: bool| {
            let mut b = CustomerBase::builder();
            add(&mut b, "a", ago(10.0), kind(K::Visit));
            add(&mut b, "a", ago(5.0), kind(K::AddToCart));
            if with_future {
                buy(&mut b, "a", ago(4.0));
                add(&mut b, "a", ago(3.0), kind(K::Referral));
            }
            b.build().unwrap()
        };
        let (past, full) = (build(false), build(true));
        let p = JourneyStageParams::default();
        for t in [ago(20.0), ago(10.0), ago(9.0), ago(5.0), ago(4.5)] {
            assert_eq!(
                stage_at(&past, 0, t, &p).unwrap(),
                stage_at(&full, 0, t, &p).unwrap()
            );
        }
        let at = |t| stage_at(&full, 0, t, &p).unwrap().stage;
        assert_eq!(at(ago(10.0)), None, "strictly before");
        assert_eq!(at(ago(9.0)), Some(JourneyStage::Need));
        assert_eq!(at(ago(5.0)), Some(JourneyStage::Need));
        assert_eq!(at(ago(4.5)), Some(JourneyStage::Decision));
        assert_eq!(at(ago(3.5)), Some(JourneyStage::Adoption));
        assert_eq!(at(ago(2.0)), Some(JourneyStage::Advocacy));
        assert!(matches!(
            stage_at(&full, 7, ago(0.0), &p),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn message_stages_are_content_fit_message_by_message() {
        let pop = crate::synth::Population::generate(
            &crate::synth::SynthParams::with_customers(400).with_seed(3),
        )
        .unwrap();
        let params = ContentFitParams::default();
        let fit = content_fit(&pop.base, &params).unwrap();
        let messages = message_stages(&pop.base, &params).unwrap();
        assert_eq!(messages.len() as u64, fit.total.with_content_stage);
        let active: Vec<_> = messages
            .iter()
            .filter(|m| m.customer_stage.is_some())
            .collect();
        assert_eq!(active.len() as u64, fit.total.stage_assessed);
        assert_eq!(
            active.iter().filter(|m| m.mismatched(0)).count() as u64,
            fit.total.stage_mismatched()
        );
        // Messages come by customer, then time, each the customer's own touchpoint.
        assert!(
            messages
                .windows(2)
                .all(|w| (w[0].customer, w[0].time) <= (w[1].customer, w[1].time))
        );
        for m in &messages {
            assert!(
                pop.base
                    .touchpoint_range(m.customer)
                    .contains(&m.touchpoint)
            );
        }
    }

    #[test]
    fn an_inactive_recipient_fits_awareness_content_only() {
        let at = ts(AS_OF);
        let m = |content, customer_stage| MessageStage {
            customer: 0,
            touchpoint: 0,
            time: at,
            content,
            customer_stage,
        };
        assert!(!m(JourneyStage::Need, None).mismatched(0));
        assert!(m(JourneyStage::Research, None).mismatched(0));
        assert!(!m(JourneyStage::Research, None).mismatched(1));
        assert!(m(JourneyStage::Usage, Some(JourneyStage::Need)).mismatched(0));
        assert!(!m(JourneyStage::Usage, Some(JourneyStage::Usage)).mismatched(0));
        assert!(!m(JourneyStage::Usage, Some(JourneyStage::Advocacy)).mismatched(1));
    }

    #[test]
    fn content_fit_counts_and_planted_mismatch() {
        use JourneyStage as S;
        use TouchpointKind as K;
        let msg = |campaign, topic, content| Tp {
            kind: K::Impression,
            campaign: Some(campaign),
            topic: Some(topic),
            content: Some(content),
        };
        let visit = |topic| Tp {
            kind: K::Visit,
            campaign: None,
            topic: Some(topic),
            content: None,
        };
        let mut b = CustomerBase::builder();
        // A buyer who gets launch (research) content after buying: behind.
        add(&mut b, "buyer", ago(40.0), visit("shoes"));
        add(&mut b, "buyer", ago(39.0), visit("shoes"));
        add(&mut b, "buyer", ago(38.0), visit("bags"));
        buy(&mut b, "buyer", ago(30.0));
        add(
            &mut b,
            "buyer",
            ago(20.0),
            msg("launch", "garden", S::Research),
        );
        add(
            &mut b,
            "buyer",
            ago(19.0),
            msg("care", "shoes", S::Adoption),
        );
        // A prospect researching, who gets usage content: ahead; and research content: match.
        add(&mut b, "prospect", ago(5.0), kind(K::Compare));
        add(&mut b, "prospect", ago(4.0), msg("care", "shoes", S::Usage));
        add(
            &mut b,
            "prospect",
            ago(3.0),
            msg("launch", "shoes", S::Research),
        );
        // A message at the same instant as the first touch: not assessed.
        add(&mut b, "cold", ago(2.0), msg("launch", "shoes", S::Need));
        add(&mut b, "cold", ago(2.0), visit("shoes"));
        // A message without a campaign but with a content stage; one with neither is ignored.
        add(
            &mut b,
            "cold",
            ago(1.0),
            Tp {
                kind: K::Impression,
                campaign: None,
                topic: None,
                content: Some(S::Need),
            },
        );
        add(&mut b, "cold", ago(0.5), kind(K::Impression));
        let base = b.build().unwrap();
        let fit = content_fit(&base, &ContentFitParams::default()).unwrap();
        let t = fit.total;
        assert_eq!(t.messages, 6);
        assert_eq!(t.with_content_stage, 6);
        assert_eq!(t.stage_assessed, 5);
        assert_eq!(t.stage_matched, 3); // care→adoption buyer, launch→prospect, no-campaign→cold need
        assert_eq!((t.content_behind, t.content_ahead), (1, 1));
        assert_eq!(t.stage_assessed, t.stage_matched + t.stage_mismatched());
        assert_eq!(t.stage_not_assessed(), 1);
        assert_eq!(t.with_topic, 5);
        // buyer: garden (mismatch), shoes (2/3: match); prospect: no topic interests (compare had
        // no topic) → 2 not assessed; cold: first message before any interest.
        assert_eq!(t.topic_assessed, 2);
        assert_eq!((t.topic_matched, t.topic_mismatched), (1, 1));
        assert_eq!(t.topic_not_assessed(), 3);
        let mut sum = FitCounts::default();
        for c in &fit.campaigns {
            sum.merge(&c.counts);
        }
        assert_eq!(sum, t);
        let names: Vec<Option<&str>> = fit
            .campaigns
            .iter()
            .map(|c| c.campaign.as_deref())
            .collect();
        assert_eq!(names, [Some("launch"), Some("care"), None]);
        let launch = &fit.campaigns[0];
        assert_eq!(launch.counts.content_behind, 1);
        assert_eq!(launch.stage_mismatch_share, Some(0.5));
        assert_eq!(fit.matrix[S::Research.index()][S::Adoption.index()], 1);
        assert_eq!(fit.matrix.iter().flatten().sum::<u64>(), t.stage_assessed);
        // With a tolerance of one stage, usage content to a researcher is still too far ahead.
        let loose = content_fit(
            &base,
            &ContentFitParams {
                stage_tolerance: 1,
                ..ContentFitParams::default()
            },
        )
        .unwrap();
        assert_eq!(loose.total.stage_matched, 3);
        let looser = content_fit(
            &base,
            &ContentFitParams {
                stage_tolerance: 3,
                ..ContentFitParams::default()
            },
        )
        .unwrap();
        assert_eq!(looser.total.stage_matched, 5);
    }

    #[test]
    fn empty_and_bad_params() {
        let base = CustomerBase::builder().build().unwrap();
        let s = assign(&base, &JourneyStageParams::default()).unwrap();
        assert!(s.assignments.is_empty());
        assert_eq!(s.distribution.share(None), 0.0);
        let fit = content_fit(&base, &ContentFitParams::default()).unwrap();
        assert_eq!(fit.total, FitCounts::default());
        assert!(fit.campaigns.is_empty());
        assert_eq!(fit.total.stage_mismatch_share(), None);
        assert!(matches!(
            JourneyStageParams {
                need_days: -1.0,
                ..JourneyStageParams::default()
            }
            .check(),
            Err(Error::InvalidParameter {
                name: "need_days",
                ..
            })
        ));
        assert!(matches!(
            JourneyStageParams {
                usage_min_purchases: 0,
                ..JourneyStageParams::default()
            }
            .check(),
            Err(Error::InvalidParameter {
                name: "usage_min_purchases",
                ..
            })
        ));
        assert!(matches!(
            ContentFitParams {
                min_interest_share: 1.5,
                ..ContentFitParams::default()
            }
            .check(),
            Err(Error::InvalidParameter {
                name: "min_interest_share",
                ..
            })
        ));
        let json = serde_json::to_string(&ContentFitParams::default()).unwrap();
        let back: ContentFitParams = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ContentFitParams::default());
    }
}
