//! The marketing journeys before each purchase: drawn as independent trials
//! until one converts, their on-site actions marked with the latent stage
//! they reach, then placed in time before the purchase.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, WeightedIndex};

use crate::synth::stages::LAST_ACTION;
use crate::synth::{JourneyCounts, TrueJourney};

use super::draw::{DrawnTouchpoint, Model};
use super::{CLICK, COSTS, DAY_WEEKS, EMAIL, IMPRESSION, PURCHASE, TOPICS, VISIT};

/// The purchase a run of journeys leads up to.
#[derive(Debug, Clone, Copy)]
pub(super) struct Purchase {
    /// Week of the previous purchase (or the start of the prospect time): journeys start after it.
    pub(super) after: f64,
    /// Week of this purchase: the converting journey ends here.
    pub(super) week: f64,
    /// Channel the purchase is made in.
    pub(super) channel: u8,
    /// The topic the customer's journeys lean towards.
    pub(super) topic_bias: u8,
    /// The persona's shift of the journeys' log-odds.
    pub(super) log_odds: f64,
    /// The persona's code (for the depth of its episodes).
    pub(super) persona: usize,
    /// The observation end: journeys ending after it are not in the data (a
    /// prospect's purchase after it is neither).
    pub(super) observed_until: f64,
}

/// One customer's journeys as they are drawn and placed.
pub(super) struct Placed {
    pub(super) customer: u32,
    pub(super) counts: JourneyCounts,
    /// Placed journeys, in time order.
    pub(super) journeys: Vec<TrueJourney>,
    /// Touchpoints of the journeys drawn for one purchase, `week` holding each
    /// touch's time before its journey's end until the journey is placed.
    pub(super) scratch: Vec<DrawnTouchpoint>,
    /// Per drawn journey: its first touch in `scratch`, channels, and span in weeks.
    pub(super) spans: Vec<(usize, u16, f64)>,
}

/// Longest span of one journey, from its first touch to its end.
const MAX_SPAN_WEEKS: f64 = 1.0;
/// A failed journey starts at least this long after the previous purchase (a touch at the
/// instant of a conversion would belong to that conversion's journey).
const AFTER_PURCHASE_WEEKS: f64 = 1.0 / (7.0 * 24.0);

/// Kinds of on-site actions by latent stage: need browses, research looks at
/// products, compares, reads reviews and configures; decision fills the cart or asks.
fn action_kind(rng: &mut ChaCha8Rng, stage: u8) -> u8 {
    match stage {
        0 => VISIT,
        1 => [3u8, 3, 3, 3, 3, 4, 4, 5, 5, 6][rng.gen_range(0..10)],
        _ => [7u8, 7, 7, 7, 7, 7, 7, 8, 8, 8][rng.gen_range(0..10)],
    }
}

/// Marks the actions of the episode in `touches` (in time order) with their
/// latent stage: on-site touches climb evenly from need to the episode's
/// `depth` (the last one at `depth`) and get a kind of their stage; a click on
/// a message is a need-level response; impressions are not actions. The last
/// action carries [`LAST_ACTION`].
fn mark_actions(rng: &mut ChaCha8Rng, touches: &mut [DrawnTouchpoint], depth: u8) {
    let on_site = touches.iter().filter(|tp| tp.channel < EMAIL as u8).count();
    let mut j = 0usize;
    let mut last = None;
    for (i, tp) in touches.iter_mut().enumerate() {
        if tp.channel < EMAIL as u8 {
            let behind = (on_site - 1 - j) * (usize::from(depth) + 1) / on_site;
            let stage = depth - behind as u8;
            tp.kind = action_kind(rng, stage);
            tp.stage = stage;
            j += 1;
            last = Some(i);
        } else if tp.kind == CLICK {
            tp.stage = 0;
            last = Some(i);
        }
    }
    if let Some(i) = last {
        touches[i].stage |= LAST_ACTION;
    }
}

/// Draws journeys until one converts at `purchase.week` (every journey an
/// independent trial with `P(convert) = logistic(β₀ + γ + Σ β_c)` over its
/// distinct channels), then places them: the converting journey ends at the
/// purchase, and the failed ones before it, the latest first, each ending at
/// least `quiet_days` (plus up to a week) before the next starts. Failed
/// journeys that would start before `purchase.after` are not placed, nor are
/// those ending after the observation (a prospect's converting journey, after
/// it, is neither placed nor counted).
pub(super) fn journeys_until_conversion(
    model: &Model<'_>,
    rng: &mut ChaCha8Rng,
    pick: Option<&WeightedIndex<f64>>,
    purchase: Purchase,
    out: &mut Vec<DrawnTouchpoint>,
    placed: &mut Placed,
) {
    let Purchase {
        after,
        week: to,
        channel: purchase_channel,
        topic_bias,
        log_odds,
        persona,
        observed_until,
    } = purchase;
    let observed = to <= observed_until;
    let truth = &model.params.journeys;
    let Some(pick) = pick else {
        if observed {
            out.push(DrawnTouchpoint::plain(
                to,
                purchase_channel,
                PURCHASE,
                topic_bias,
            ));
        }
        return;
    };
    placed.scratch.clear();
    placed.spans.clear();
    let mut purchase_topic = topic_bias;
    // A cap keeps the loop finite; with the default effects P(convert) >= 0.1, so it is never reached.
    for attempt in 0..500 {
        let n = 1 + model
            .extra_touchpoints
            .as_ref()
            .map_or(0, |d| d.sample(rng) as usize);
        let mut channels = 0u16;
        let start = placed.scratch.len();
        let topic = if rng.gen_bool(0.6) {
            topic_bias
        } else {
            rng.gen_range(0..TOPICS.len() as u8)
        };
        let depth = model.depth[persona].sample(rng) as u8;
        for _ in 0..n {
            let c = pick.sample(rng);
            channels |= 1 << c;
            let outbound = c >= EMAIL;
            let kind = if outbound && rng.gen_bool(0.4) {
                CLICK
            } else if outbound {
                IMPRESSION
            } else {
                VISIT
            };
            let (impression_cost, click_cost) = COSTS[c];
            let cost_units = if kind == CLICK {
                click_cost
            } else if kind == IMPRESSION {
                impression_cost
            } else {
                0
            };
            placed.scratch.push(DrawnTouchpoint {
                cost_units,
                ..DrawnTouchpoint::plain(0.0, c as u8, kind, topic)
            });
        }
        mark_actions(rng, &mut placed.scratch[start..], depth);
        // Each touch up to a day and a half before the next; the last at the journey's end.
        let mut before_end = 0.0;
        for tp in placed.scratch[start..].iter_mut().rev() {
            before_end += rng.r#gen::<f64>() * 1.5 * DAY_WEEKS;
            tp.week = before_end;
        }
        let span = before_end.min(MAX_SPAN_WEEKS);
        if before_end > MAX_SPAN_WEEKS {
            for tp in &mut placed.scratch[start..] {
                tp.week *= MAX_SPAN_WEEKS / before_end;
            }
        }
        placed.spans.push((start, channels, span));
        let logit = truth.intercept
            + log_odds
            + (0..truth.channel_effects.len())
                .filter(|&c| channels >> c & 1 == 1)
                .map(|c| truth.channel_effects[c])
                .sum::<f64>();
        let p = 1.0 / (1.0 + (-logit).exp());
        if observed {
            placed.counts.drawn += 1;
            placed.counts.drawn_touchpoints += n as u64;
        } else {
            placed.counts.prospect_drawn += 1;
            placed.counts.prospect_drawn_touchpoints += n as u64;
        }
        if rng.gen_bool(p.clamp(0.0, 1.0)) || attempt == 499 {
            purchase_topic = topic;
            break;
        }
    }
    if observed {
        placed.counts.converted += 1;
    }

    // The converting journey ends at the purchase, squeezed in after the previous one if need be.
    let Some(&(conv_start, conv_channels, conv_span)) = placed.spans.last() else {
        return;
    };
    let room = (to - after - AFTER_PURCHASE_WEEKS).max(0.0);
    let squeeze = if conv_span > room {
        room / conv_span
    } else {
        1.0
    };
    let first_placed = placed.journeys.len();
    let mut cursor = to - conv_span * squeeze;
    let mut failed_end = placed.spans.len() - 1;
    let quiet = truth.quiet_days * DAY_WEEKS;
    // Failed journeys, the latest first, while they fit. Each takes the room
    // of the longest journey whatever its own span, so whether a failed
    // journey is placed does not depend on its touches (nor on its channels).
    while failed_end > 0 {
        let (start, channels, _) = placed.spans[failed_end - 1];
        let end = cursor - quiet - rng.r#gen::<f64>();
        if end - MAX_SPAN_WEEKS <= after + AFTER_PURCHASE_WEEKS {
            break;
        }
        cursor = end - MAX_SPAN_WEEKS;
        failed_end -= 1;
        // Not in the data: journeys ending after the observation, and those
        // that might straddle the start of the last lookback window (the quiet
        // time less a day) before its end, which a rebuild would cut in two.
        // Both depend on `end` alone, never on the journey's channels.
        let cut = observed_until - quiet + DAY_WEEKS;
        if end > observed_until || (cut..cut + MAX_SPAN_WEEKS).contains(&end) {
            continue;
        }
        let touches = &placed.scratch[start..placed.spans[failed_end + 1].0];
        out.extend(touches.iter().map(|tp| DrawnTouchpoint {
            week: end - tp.week,
            ..*tp
        }));
        placed.journeys.push(TrueJourney {
            customer: placed.customer,
            converted: false,
            channels,
            touchpoints: touches.len() as u16,
            end_week: end - touches.last().map_or(0.0, |tp| tp.week),
        });
    }
    placed.journeys[first_placed..].reverse();
    if observed {
        let touches = &placed.scratch[conv_start..];
        out.extend(touches.iter().map(|tp| DrawnTouchpoint {
            week: to - tp.week * squeeze,
            ..*tp
        }));
        out.push(DrawnTouchpoint::plain(
            to,
            purchase_channel,
            PURCHASE,
            purchase_topic,
        ));
        placed.journeys.push(TrueJourney {
            customer: placed.customer,
            converted: true,
            channels: conv_channels,
            touchpoints: touches.len() as u16,
            end_week: to,
        });
    }
    placed.counts.placed += (placed.journeys.len() - first_placed) as u64;
}
