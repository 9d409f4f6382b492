//! The latent journey stage of every person over time: the truth that stage
//! rules and content-fit checks are measured against.
//!
//! Three processes overlap, and the first that applies wins (see
//! [`StageTruth`](super::StageTruth) for how each is drawn):
//!
//! 1. an **advocacy** period (after a purchase: a review, referrals while it lasts);
//! 2. the **customer** stages: adoption from the first purchase, usage once
//!    adoption ends while the customer is alive, inactive after dropping out;
//! 3. before the first purchase, **consideration episodes**: each action moves
//!    the person to its stage (need, research, decision) and the episode's stage
//!    lingers for a lapse after its last action, then the person is inactive.
//!
//! Stages are kept as changes in time (to the second, as the data), so the
//! stage in effect at any moment is a binary search away.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::records::JourneyStage;
use crate::store::{from_micros, to_micros};

/// Stage code of an inactive person.
pub(super) const INACTIVE: u8 = u8::MAX;
/// Code of a touchpoint that is not an action (an impression, an after-sales touch, a purchase).
pub(super) const NOT_ACTION: u8 = u8::MAX;
/// Flag on an action's stage code: the last action of its episode (its lapse starts there).
pub(super) const LAST_ACTION: u8 = 0x80;

/// Every person's latent journey stage over time, as changes (compressed rows:
/// the changes of customer `c` are `offsets[c]..offsets[c + 1]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTimeline {
    offsets: Vec<u64>,
    times_us: Vec<i64>,
    stages: Vec<u8>,
}

fn decode(code: u8) -> Option<JourneyStage> {
    JourneyStage::ALL.get(usize::from(code)).copied()
}

impl StageTimeline {
    pub(super) fn with_capacity(customers: usize, changes: usize) -> Self {
        let mut offsets = Vec::with_capacity(customers + 1);
        offsets.push(0);
        StageTimeline {
            offsets,
            times_us: Vec::with_capacity(changes),
            stages: Vec::with_capacity(changes),
        }
    }

    /// Appends the next customer's changes (time in µs, stage code), in time order.
    pub(super) fn push_customer(&mut self, changes: &[(i64, u8)]) {
        for &(t, s) in changes {
            self.times_us.push(t);
            self.stages.push(s);
        }
        self.offsets.push(self.times_us.len() as u64);
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no customers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn range(&self, customer: u32) -> (&[i64], &[u8]) {
        let c = customer as usize;
        match (self.offsets.get(c), self.offsets.get(c + 1)) {
            (Some(&a), Some(&b)) => (
                &self.times_us[a as usize..b as usize],
                &self.stages[a as usize..b as usize],
            ),
            _ => (&[], &[]),
        }
    }

    /// The customer's stage in effect at `time` (changes at `time` included);
    /// `None` while inactive, and for a customer index out of range.
    pub fn stage_at(&self, customer: u32, time: Timestamp) -> Option<JourneyStage> {
        let (times, stages) = self.range(customer);
        let t = to_micros(time);
        let k = times.partition_point(|&x| x <= t);
        k.checked_sub(1).and_then(|i| decode(stages[i]))
    }

    /// The customer's stage just before `time` (changes at `time` excluded):
    /// the stage a message sent at `time` reaches.
    pub fn stage_before(&self, customer: u32, time: Timestamp) -> Option<JourneyStage> {
        let (times, stages) = self.range(customer);
        let t = to_micros(time);
        let k = times.partition_point(|&x| x < t);
        k.checked_sub(1).and_then(|i| decode(stages[i]))
    }

    /// The customer's changes in time order: when, and the stage from then on (`None`: inactive).
    pub fn changes(
        &self,
        customer: u32,
    ) -> impl Iterator<Item = (Timestamp, Option<JourneyStage>)> + '_ {
        let (times, stages) = self.range(customer);
        times
            .iter()
            .zip(stages)
            .map(|(&t, &s)| (from_micros(t), decode(s)))
    }
}

/// One person's inputs to the timeline, in weeks from the observation start.
pub(super) struct StageInputs<'a> {
    /// Actions and other touchpoints in time order: (week, stage code or
    /// [`NOT_ACTION`], with [`LAST_ACTION`] on an episode's last action).
    pub(super) touches: &'a [(f64, u8)],
    /// The lapse after each episode's last action, in weeks, in the order of those actions.
    pub(super) lapses: &'a [f64],
    /// First purchase (at or before the observation end), if any.
    pub(super) first_purchase: Option<f64>,
    /// When adoption ends: the end of its drawn length or the second purchase, whichever is first.
    pub(super) adoption_end: f64,
    /// When the customer dropped out (their last purchase), if they did.
    pub(super) dropout: Option<f64>,
    /// Advocacy periods (start, end), by start.
    pub(super) advocacy: &'a [(f64, f64)],
    /// Observation end: no change after it is kept.
    pub(super) end: f64,
}

/// What changes at a moment, in the order they are applied at equal times.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Change {
    EpisodeLapses,
    EpisodeStarts(u8),
    Episode(u8),
    Customer(u8),
    AdvocacyEnds,
    AdvocacyStarts,
}

/// Builds one person's changes (µs, stage code) from the three processes.
pub(super) fn timeline(
    inputs: &StageInputs<'_>,
    to_us: impl Fn(f64) -> i64,
    out: &mut Vec<(i64, u8)>,
    scratch: &mut Vec<(f64, Change)>,
) {
    let events = scratch;
    events.clear();
    let mut lapses = inputs.lapses.iter();
    let mut pending_lapse: Option<f64> = None;
    let mut starts = true;
    for &(week, code) in inputs.touches {
        if code == NOT_ACTION {
            continue;
        }
        // An action before the previous episode's lapse ran out cancels it.
        if let Some(l) = pending_lapse.take()
            && l <= week
        {
            events.push((l, Change::EpisodeLapses));
        }
        let stage = code & !LAST_ACTION;
        events.push((
            week,
            if starts {
                Change::EpisodeStarts(stage)
            } else {
                Change::Episode(stage)
            },
        ));
        starts = code & LAST_ACTION != 0;
        if starts {
            pending_lapse = Some(week + lapses.next().copied().unwrap_or(0.0));
        }
    }
    if let Some(l) = pending_lapse {
        events.push((l, Change::EpisodeLapses));
    }
    if let Some(first) = inputs.first_purchase {
        events.push((
            first,
            Change::Customer(JourneyStage::Adoption.index() as u8),
        ));
        let usage_from = inputs.adoption_end.max(first);
        match inputs.dropout {
            Some(d) if d <= usage_from => events.push((d, Change::Customer(INACTIVE))),
            dropout => {
                events.push((
                    usage_from,
                    Change::Customer(JourneyStage::Usage.index() as u8),
                ));
                if let Some(d) = dropout {
                    events.push((d, Change::Customer(INACTIVE)));
                }
            }
        }
    }
    for &(a, b) in inputs.advocacy {
        events.push((a, Change::AdvocacyStarts));
        events.push((b, Change::AdvocacyEnds));
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

    let mut episode = INACTIVE;
    let mut customer: Option<u8> = None;
    let mut advocates = 0u32;
    let mut current = INACTIVE;
    let mut i = 0;
    while i < events.len() {
        let week = events[i].0;
        if week > inputs.end {
            break;
        }
        while i < events.len() && events[i].0 == week {
            match events[i].1 {
                Change::EpisodeLapses => episode = INACTIVE,
                Change::EpisodeStarts(s) => episode = s,
                Change::Episode(s) => {
                    episode = if episode == INACTIVE {
                        s
                    } else {
                        episode.max(s)
                    }
                }
                Change::Customer(s) => customer = Some(s),
                Change::AdvocacyStarts => advocates += 1,
                Change::AdvocacyEnds => advocates = advocates.saturating_sub(1),
            }
            i += 1;
        }
        let stage = if advocates > 0 {
            JourneyStage::Advocacy.index() as u8
        } else {
            customer.unwrap_or(episode)
        };
        if stage != current {
            let t = to_us(week);
            // Two changes within the same second: the later one stands.
            if out.last().is_some_and(|&(last, _)| last == t) {
                out.pop();
            }
            if out.last().is_none_or(|&(_, s)| s != stage) && (stage != INACTIVE || !out.is_empty())
            {
                out.push((t, stage));
            }
            current = stage;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEED: u8 = 0;
    const RESEARCH: u8 = 1;
    const DECISION: u8 = 2;

    fn build(inputs: &StageInputs<'_>) -> Vec<(i64, u8)> {
        let mut out = Vec::new();
        timeline(inputs, |w| (w * 1000.0) as i64, &mut out, &mut Vec::new());
        out
    }

    #[test]
    fn an_episode_climbs_then_lapses_and_a_purchase_starts_adoption() {
        let touches = [
            (1.0, NEED),
            (1.1, NOT_ACTION),
            (1.2, RESEARCH | LAST_ACTION),
            (8.0, NEED),
            (8.1, DECISION),
            // A need-level click after the cart does not move the person back.
            (8.2, NEED | LAST_ACTION),
        ];
        let t = build(&StageInputs {
            touches: &touches,
            lapses: &[3.0, 5.0],
            first_purchase: Some(9.0),
            adoption_end: 17.0,
            dropout: Some(30.0),
            advocacy: &[(20.0, 22.0)],
            end: 104.0,
        });
        let adoption = JourneyStage::Adoption.index() as u8;
        let usage = JourneyStage::Usage.index() as u8;
        let advocacy = JourneyStage::Advocacy.index() as u8;
        assert_eq!(
            t,
            vec![
                (1000, NEED),
                (1200, RESEARCH),
                (4200, INACTIVE),
                (8000, NEED),
                (8100, DECISION),
                (9000, adoption),
                (17000, usage),
                (20000, advocacy),
                (22000, usage),
                (30000, INACTIVE),
            ]
        );
    }

    #[test]
    fn a_lapse_longer_than_the_gap_runs_into_the_next_episode() {
        let touches = [
            (1.0, RESEARCH | LAST_ACTION),
            (3.0, NEED),
            (3.5, NEED | LAST_ACTION),
        ];
        let t = build(&StageInputs {
            touches: &touches,
            lapses: &[10.0, 1.0],
            first_purchase: None,
            adoption_end: 0.0,
            dropout: None,
            advocacy: &[],
            end: 4.0,
        });
        // The second episode starts afresh at need; its lapse ends after the observation.
        assert_eq!(t, vec![(1000, RESEARCH), (3000, NEED)]);
    }

    #[test]
    fn the_timeline_answers_at_and_before_a_moment() {
        let mut tl = StageTimeline::with_capacity(2, 4);
        tl.push_customer(&[(1_000_000, NEED), (2_000_000, INACTIVE)]);
        tl.push_customer(&[]);
        let at = |s: i64| from_micros(s * 1_000_000);
        assert_eq!(tl.stage_at(0, at(1)), Some(JourneyStage::Need));
        assert_eq!(tl.stage_before(0, at(1)), None);
        assert_eq!(tl.stage_before(0, at(2)), Some(JourneyStage::Need));
        assert_eq!(tl.stage_at(0, at(2)), None);
        assert_eq!(tl.stage_at(1, at(5)), None);
        assert_eq!(tl.stage_at(7, at(5)), None);
        assert_eq!(tl.changes(0).count(), 2);
        assert_eq!(tl.len(), 2);
    }
}
