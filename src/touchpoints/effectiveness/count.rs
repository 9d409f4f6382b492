//! Counting touchpoint types: dense ids per channel (× kind) and the
//! per-type, per-group tallies of reach, journeys, conversions, revenue and cost.

use crate::store::{CustomerBase, to_micros};
use crate::touchpoints::journey::{JourneyOutcome, Journeys};

use super::KeyLevel;

/// Dense touchpoint-type ids for a base.
pub(super) struct Keys {
    pub(super) level: KeyLevel,
    pub(super) n_kinds: usize,
    pub(super) n: usize,
}

impl Keys {
    pub(super) fn new(base: &CustomerBase, level: KeyLevel) -> Keys {
        let (c, k) = (base.channels().len(), base.kinds().len().max(1));
        Keys {
            level,
            n_kinds: k,
            n: match level {
                KeyLevel::Channel => c,
                KeyLevel::ChannelKind => c * k,
            },
        }
    }

    pub(super) fn of(&self, base: &CustomerBase, row: usize) -> usize {
        let c = base.tp_channel_codes()[row] as usize;
        match self.level {
            KeyLevel::Channel => c,
            KeyLevel::ChannelKind => c * self.n_kinds + base.tp_kind_codes()[row] as usize,
        }
    }

    pub(super) fn names(&self, base: &CustomerBase, key: usize) -> (String, Option<String>) {
        match self.level {
            KeyLevel::Channel => (
                base.channel(key as u16)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                None,
            ),
            KeyLevel::ChannelKind => (
                base.channel((key / self.n_kinds) as u16)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                base.kind((key % self.n_kinds) as u16)
                    .map(|k| k.to_string()),
            ),
        }
    }
}

/// Counts of one touchpoint type (in one group or overall).
#[derive(Debug, Clone, Default)]
pub(super) struct Tally {
    pub(super) reach: f64,
    pub(super) touchpoints: f64,
    pub(super) journeys: f64,
    pub(super) converting: f64,
    pub(super) last_touch: f64,
    pub(super) assisted: f64,
    pub(super) linear_conversions: f64,
    pub(super) revenue: f64,
    pub(super) cost: f64,
    pub(super) cost_known: bool,
}

/// Per-type tallies: `tallies[group][key]`, the last group being the whole base.
pub(super) fn tally(
    base: &CustomerBase,
    journeys: &Journeys,
    keys: &Keys,
    group_of: impl Fn(u32) -> Option<usize>,
    n_groups: usize,
) -> Vec<Vec<Tally>> {
    let mut t = vec![vec![Tally::default(); keys.n]; n_groups + 1];
    let mut stamp = vec![usize::MAX; keys.n];
    let as_of = to_micros(journeys.as_of());
    let times = base.tp_time_micros();
    // Reach and touchpoints, from the base (up to as_of).
    for customer in 0..base.n_customers() as u32 {
        let g = group_of(customer);
        for r in base.touchpoint_range(customer) {
            if times[r] > as_of {
                continue;
            }
            let k = keys.of(base, r);
            let first = stamp[k] != customer as usize;
            stamp[k] = customer as usize;
            let cost = base.tp_cost(r).map(|m| m.to_f64());
            for gi in [Some(n_groups), g].into_iter().flatten() {
                let x = &mut t[gi][k];
                x.touchpoints += 1.0;
                if first {
                    x.reach += 1.0;
                }
                if let Some(c) = cost {
                    x.cost += c;
                    x.cost_known = true;
                }
            }
        }
    }
    // Journeys.
    stamp.fill(usize::MAX);
    let mut assisted: Vec<usize> = Vec::new();
    for (j, journey) in journeys.iter().enumerate() {
        if journey.outcome == JourneyOutcome::Open || journey.touch_rows.is_empty() {
            continue;
        }
        let converted = journey.converted();
        let g = group_of(journey.customer);
        let len = journey.touch_rows.len();
        let last_key = keys.of(base, journey.touch_rows[len - 1] as usize);
        for &r in journey.touch_rows {
            let k = keys.of(base, r as usize);
            let first_in_journey = stamp[k] != j;
            stamp[k] = j;
            for gi in [Some(n_groups), g].into_iter().flatten() {
                let x = &mut t[gi][k];
                if first_in_journey {
                    x.journeys += 1.0;
                    if converted {
                        x.converting += 1.0;
                    }
                }
                if converted {
                    x.linear_conversions += 1.0 / len as f64;
                    x.revenue += journey.value / len as f64;
                }
            }
        }
        if converted {
            for gi in [Some(n_groups), g].into_iter().flatten() {
                t[gi][last_key].last_touch += 1.0;
            }
            // Types appearing before the last position assist (once per journey).
            assisted.clear();
            for &r in &journey.touch_rows[..len - 1] {
                let k = keys.of(base, r as usize);
                if !assisted.contains(&k) {
                    assisted.push(k);
                    for gi in [Some(n_groups), g].into_iter().flatten() {
                        t[gi][k].assisted += 1.0;
                    }
                }
            }
        }
    }
    t
}
