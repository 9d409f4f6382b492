//! Content–stage and topic fit of messages: each message against its
//! recipient's stage and interests from the history before it (the rules in
//! the parent module), counted per campaign ([`content_fit`]) or listed one by
//! one ([`message_stages`]).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Context, History, JourneyStageParams, resolve_as_of};
use crate::error::{Error, Result};
use crate::parallel::map_range;
use crate::records::JourneyStage;
use crate::store::{CustomerBase, from_micros};
use crate::touchpoints::events::{Event, customer_events};

/// Parameters of the content-fit analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentFitParams {
    /// The stage rules; `stage.as_of` bounds the messages assessed (default: all).
    pub stage: JourneyStageParams,
    /// Stages at most this far apart still match (default 0: exact).
    pub stage_tolerance: u8,
    /// A topic with a smaller share of the customer's interests is a mismatch (default 0.1).
    pub min_interest_share: f64,
}

impl Default for ContentFitParams {
    fn default() -> Self {
        ContentFitParams {
            stage: JourneyStageParams::default(),
            stage_tolerance: 0,
            min_interest_share: 0.1,
        }
    }
}

impl ContentFitParams {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`JourneyStageParams::check`], or a
    /// `min_interest_share` outside [0, 1].
    pub fn check(&self) -> Result<()> {
        self.stage.check()?;
        if !(0.0..=1.0).contains(&self.min_interest_share) {
            return Err(Error::param(
                "min_interest_share",
                self.min_interest_share,
                "must be in [0, 1]",
            ));
        }
        Ok(())
    }
}

/// Content-fit counts: a sufficient statistic that merges exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FitCounts {
    /// Messages (touchpoints with a campaign or a content stage).
    pub messages: u64,
    /// Messages with a content stage.
    pub with_content_stage: u64,
    /// Of those, sent to a customer with a stage (not inactive).
    pub stage_assessed: u64,
    /// Assessed messages whose content stage matches the customer's.
    pub stage_matched: u64,
    /// Assessed messages made for an earlier stage than the customer's.
    pub content_behind: u64,
    /// Assessed messages made for a later stage than the customer's.
    pub content_ahead: u64,
    /// Messages with a topic.
    pub with_topic: u64,
    /// Of those, sent to a customer with known interests.
    pub topic_assessed: u64,
    /// Assessed messages on one of the customer's interests.
    pub topic_matched: u64,
    /// Assessed messages off the customer's interests.
    pub topic_mismatched: u64,
}

impl FitCounts {
    /// Adds another set of counts.
    pub fn merge(&mut self, other: &FitCounts) {
        self.messages = self.messages.saturating_add(other.messages);
        self.with_content_stage = self
            .with_content_stage
            .saturating_add(other.with_content_stage);
        self.stage_assessed = self.stage_assessed.saturating_add(other.stage_assessed);
        self.stage_matched = self.stage_matched.saturating_add(other.stage_matched);
        self.content_behind = self.content_behind.saturating_add(other.content_behind);
        self.content_ahead = self.content_ahead.saturating_add(other.content_ahead);
        self.with_topic = self.with_topic.saturating_add(other.with_topic);
        self.topic_assessed = self.topic_assessed.saturating_add(other.topic_assessed);
        self.topic_matched = self.topic_matched.saturating_add(other.topic_matched);
        self.topic_mismatched = self.topic_mismatched.saturating_add(other.topic_mismatched);
    }

    /// Assessed messages whose stage does not match (behind + ahead).
    pub fn stage_mismatched(&self) -> u64 {
        self.content_behind.saturating_add(self.content_ahead)
    }

    /// Messages with a content stage sent to inactive customers.
    pub fn stage_not_assessed(&self) -> u64 {
        self.with_content_stage.saturating_sub(self.stage_assessed)
    }

    /// Mismatched over assessed; `None` when nothing was assessed.
    pub fn stage_mismatch_share(&self) -> Option<f64> {
        (self.stage_assessed > 0)
            .then(|| self.stage_mismatched() as f64 / self.stage_assessed as f64)
    }

    /// Messages with a topic sent to customers without known interests.
    pub fn topic_not_assessed(&self) -> u64 {
        self.with_topic.saturating_sub(self.topic_assessed)
    }

    /// Topic mismatches over assessed; `None` when nothing was assessed.
    pub fn topic_mismatch_share(&self) -> Option<f64> {
        (self.topic_assessed > 0).then(|| self.topic_mismatched as f64 / self.topic_assessed as f64)
    }
}

/// The fit of one campaign's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignFit {
    /// The campaign; `None` for messages without one (content stage only).
    pub campaign: Option<String>,
    /// The counts.
    pub counts: FitCounts,
    /// [`FitCounts::stage_mismatch_share`].
    pub stage_mismatch_share: Option<f64>,
    /// [`FitCounts::topic_mismatch_share`].
    pub topic_mismatch_share: Option<f64>,
}

/// Content–stage and topic fit of all messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentFit {
    /// Messages after this moment are not assessed.
    pub as_of: Timestamp,
    /// All messages.
    pub total: FitCounts,
    /// Per campaign with messages, in campaign-code order; messages without a campaign last.
    pub campaigns: Vec<CampaignFit>,
    /// Assessed messages by content stage (rows) and customer stage (columns),
    /// both in [`JourneyStage::ALL`] order.
    pub matrix: [[u64; 6]; 6],
}

/// Customers per parallel work item in [`content_fit`].
const FIT_CHUNK: usize = 2048;

/// Campaign key for messages without a campaign (sorts last).
const NO_CAMPAIGN: u32 = u32::MAX;

#[derive(Default)]
struct FitPartial {
    campaigns: BTreeMap<u32, FitCounts>,
    matrix: [[u64; 6]; 6],
    /// Each assessed message, when [`message_stages`] asks for them.
    messages: Option<Vec<MessageStage>>,
}

/// Content–stage and topic fit of every message up to `params.stage.as_of`.
///
/// ```
/// use custinsight::touchpoints::journey_stage::{self, ContentFitParams};
/// use custinsight::synth::{Population, SynthParams};
///
/// let pop = Population::generate(&SynthParams::with_customers(200).with_seed(7))?;
/// let fit = journey_stage::content_fit(&pop.base, &ContentFitParams::default())?;
/// let t = &fit.total;
/// assert_eq!(t.stage_assessed, t.stage_matched + t.stage_mismatched());
/// # Ok::<(), custinsight::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] from [`ContentFitParams::check`].
pub fn content_fit(base: &CustomerBase, params: &ContentFitParams) -> Result<ContentFit> {
    let (as_of, partials) = walk(base, params, false)?;
    let mut merged = FitPartial::default();
    for p in partials {
        for (code, counts) in p.campaigns {
            merged.campaigns.entry(code).or_default().merge(&counts);
        }
        for (row, other) in merged.matrix.iter_mut().zip(p.matrix) {
            for (cell, v) in row.iter_mut().zip(other) {
                *cell += v;
            }
        }
    }
    let mut total = FitCounts::default();
    let campaigns = merged
        .campaigns
        .into_iter()
        .map(|(code, counts)| {
            total.merge(&counts);
            CampaignFit {
                campaign: (code != NO_CAMPAIGN)
                    .then(|| base.campaign(code).map(str::to_owned))
                    .flatten(),
                counts,
                stage_mismatch_share: counts.stage_mismatch_share(),
                topic_mismatch_share: counts.topic_mismatch_share(),
            }
        })
        .collect();
    Ok(ContentFit {
        as_of: from_micros(as_of),
        total,
        campaigns,
        matrix: merged.matrix,
    })
}

/// A message made for a stage, and the stage its recipient was in when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStage {
    /// Customer index.
    pub customer: u32,
    /// Touchpoint row in the base.
    pub touchpoint: usize,
    /// When it was sent.
    pub time: Timestamp,
    /// The stage its content was made for.
    pub content: JourneyStage,
    /// The recipient's stage from the history strictly before it (`None`: inactive).
    pub customer_stage: Option<JourneyStage>,
}

impl MessageStage {
    /// Whether the content misses its recipient: stages more than `tolerance`
    /// apart, or, for an inactive recipient, content for anything but need
    /// (awareness content is what reaches people without an active journey).
    pub fn mismatched(&self, tolerance: u8) -> bool {
        let reached = self.customer_stage.unwrap_or(JourneyStage::Need);
        self.content.index().abs_diff(reached.index()) > usize::from(tolerance)
    }
}

/// Every message with a content stage up to `params.stage.as_of`, with the
/// stage of its recipient at that moment, by customer then time: the
/// per-message view of [`content_fit`], for checking it against known stages.
///
/// # Errors
/// [`Error::InvalidParameter`] from [`ContentFitParams::check`].
pub fn message_stages(base: &CustomerBase, params: &ContentFitParams) -> Result<Vec<MessageStage>> {
    let (_, partials) = walk(base, params, true)?;
    Ok(partials
        .into_iter()
        .flat_map(|p| p.messages.unwrap_or_default())
        .collect())
}

/// Walks every customer's history (in parallel chunks) up to
/// `params.stage.as_of`, returning that moment and the chunks' counts, and
/// with `record` every assessed message.
fn walk(
    base: &CustomerBase,
    params: &ContentFitParams,
    record: bool,
) -> Result<(i64, Vec<FitPartial>)> {
    params.check()?;
    let as_of = resolve_as_of(base, params.stage.as_of);
    let ctx = Context::new(base, &params.stage);
    let n = base.n_customers();
    let partials = map_range(n.div_ceil(FIT_CHUNK), |k| {
        let mut partial = FitPartial {
            messages: record.then(Vec::new),
            ..FitPartial::default()
        };
        let (mut events, mut interests) = (Vec::new(), Vec::new());
        for c in k * FIT_CHUNK..((k + 1) * FIT_CHUNK).min(n) {
            customer_events(base, &ctx.rungs, c as u32, ctx.match_us, &mut events);
            let before = partial.messages.as_ref().map_or(0, Vec::len);
            fit_customer(
                base,
                &ctx,
                params,
                as_of,
                &events,
                &mut interests,
                &mut partial,
            );
            for m in partial.messages.iter_mut().flat_map(|v| &mut v[before..]) {
                m.customer = c as u32;
            }
        }
        partial
    });
    Ok((as_of, partials))
}

/// Walks one customer's history: messages are assessed against the history
/// strictly before them, then the events at that instant are folded in.
fn fit_customer(
    base: &CustomerBase,
    ctx: &Context,
    params: &ContentFitParams,
    as_of: i64,
    events: &[Event],
    interests: &mut Vec<(u32, u32)>,
    partial: &mut FitPartial,
) {
    let campaigns = base.tp_campaign_codes();
    let topics = base.tp_topic_codes();
    let tolerance = usize::from(params.stage_tolerance);
    interests.clear();
    let mut interest_total: u32 = 0;
    let mut history = History::default();
    let mut rest = events;
    while let Some(first) = rest.first() {
        let t = first.time_us;
        if t > as_of {
            break;
        }
        let same = rest.iter().take_while(|e| e.time_us == t).count();
        let (group, tail) = rest.split_at(same);
        rest = tail;
        let (stage, _) = history.decide(t, &ctx.windows);
        for e in group {
            if e.kind.is_none() {
                continue;
            }
            let campaign = campaigns.get(e.row).copied().unwrap_or(NO_CAMPAIGN);
            let content = base.tp_content_stage(e.row);
            if campaign == NO_CAMPAIGN && content.is_none() {
                continue;
            }
            let counts = partial.campaigns.entry(campaign).or_default();
            counts.messages += 1;
            if let Some(content) = content {
                if let Some(out) = partial.messages.as_mut() {
                    out.push(MessageStage {
                        // Set by the caller, which knows whose history this is.
                        customer: 0,
                        touchpoint: e.row,
                        time: from_micros(t),
                        content,
                        customer_stage: stage,
                    });
                }
                counts.with_content_stage += 1;
                if let Some(stage) = stage {
                    counts.stage_assessed += 1;
                    let (c, s) = (content.index(), stage.index());
                    if c.abs_diff(s) <= tolerance {
                        counts.stage_matched += 1;
                    } else if c < s {
                        counts.content_behind += 1;
                    } else {
                        counts.content_ahead += 1;
                    }
                    if let Some(cell) = partial.matrix.get_mut(c).and_then(|r| r.get_mut(s)) {
                        *cell += 1;
                    }
                }
            }
            let topic = topics.get(e.row).copied().unwrap_or(NO_CAMPAIGN);
            if topic != NO_CAMPAIGN {
                counts.with_topic += 1;
                if interest_total > 0 {
                    counts.topic_assessed += 1;
                    let seen = interests
                        .iter()
                        .find(|(code, _)| *code == topic)
                        .map_or(0, |&(_, n)| n);
                    let share = f64::from(seen) / f64::from(interest_total);
                    if seen > 0 && share >= params.min_interest_share {
                        counts.topic_matched += 1;
                    } else {
                        counts.topic_mismatched += 1;
                    }
                }
            }
        }
        for e in group {
            history.observe(e, &ctx.advocacy);
            if e.rung.is_none() || e.kind.is_none() {
                continue;
            }
            let topic = topics.get(e.row).copied().unwrap_or(NO_CAMPAIGN);
            if topic == NO_CAMPAIGN {
                continue;
            }
            interest_total = interest_total.saturating_add(1);
            match interests.iter_mut().find(|(code, _)| *code == topic) {
                Some((_, n)) => *n = n.saturating_add(1),
                None => interests.push((topic, 1)),
            }
        }
    }
}
