//! The budget view: what each paid channel costs, what it is credited with,
//! what it causes, and where the money would work harder.
//!
//! Credit (last touch, Markov, Shapley) shares out the conversions that
//! happened; a budget should follow the conversions a channel *causes*
//! ([`causal`](super::causal)). Per channel with a cost, [`budget`] sets the
//! spend on its touches in the journeys analysed beside its credited and its
//! incremental conversions and value, and derives
//!
//! ```text
//! cost per incremental conversion = cost / incremental conversions
//! incremental ROI                 = (incremental value − cost) / cost
//! ```
//!
//! with intervals from the effect's bootstrap interval (the cost is known).
//!
//! **Reallocation.** The suggested spend moves money towards channels whose
//! incremental value per unit of cost is above the paid channels' average
//! and away from those below, keeping the total:
//!
//! ```text
//! suggested_c = cost_c · (v⁺_c / cost_c) / (Σ v⁺ / Σ cost),   v⁺ = max(incremental value, 0)
//! ```
//!
//! i.e. spend in proportion to incremental value, channels whose incremental
//! value is not positive getting nothing. It is one step in the right
//! direction, not an optimum: the effects are measured at today's spend, and
//! no channel's returns are assumed to diminish.

use serde::{Deserialize, Serialize};

use super::{CausalAttribution, Estimate};
use crate::error::{Error, Result};
use crate::store::CustomerBase;
use crate::touchpoints::attribution::Credits;
use crate::touchpoints::journey::Journeys;

/// Conversions a credit model gave each channel, with the channel names the
/// credits are indexed by (e.g. [`PathTable::channels`](crate::touchpoints::paths::PathTable::channels)).
#[derive(Debug, Clone, Copy)]
pub struct CreditedConversions<'a> {
    /// Channel names, in the order of `credits`.
    pub channels: &'a [String],
    /// The credits.
    pub credits: &'a Credits,
}

/// Which way a channel's spend should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetMove {
    /// Incremental value per unit of cost above the paid channels' average
    /// (Σ v⁺ / Σ cost): the suggested spend is higher.
    More,
    /// At or below it: the suggested spend is lower or the same.
    Less,
}

/// One paid channel in the budget view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelBudget {
    /// Channel name.
    pub channel: String,
    /// Cost of its touches in the journeys analysed.
    pub cost: f64,
    /// Share of the paid channels' cost.
    pub cost_share: f64,
    /// Conversions the credit model gave it, when one was given.
    pub credited_conversions: Option<f64>,
    /// Conversions it caused, with the interval.
    pub incremental_conversions: Estimate,
    /// Conversion value it caused, with the interval.
    pub incremental_value: Estimate,
    /// Cost per incremental conversion (`None` unless the estimate is positive).
    pub cost_per_incremental_conversion: Option<f64>,
    /// (incremental value − cost) / cost, with the interval.
    pub incremental_roi: Estimate,
    /// The spend the effects suggest (module docs), and its share.
    pub suggested_cost: f64,
    /// Share of the suggested spend.
    pub suggested_share: f64,
    /// Which way the spend should move.
    pub direction: BudgetMove,
}

/// The result of [`budget`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Paid channels (cost above zero and an estimated effect), by channel code.
    pub channels: Vec<ChannelBudget>,
    /// Their total cost.
    pub total_cost: f64,
    /// Their total incremental value.
    pub incremental_value: f64,
    /// (total incremental value − total cost) / total cost (`None` without a
    /// paid channel with an effect).
    pub incremental_roi: Option<f64>,
    /// Channels with a cost but no estimated effect (see their notes in the
    /// causal result), left out of the reallocation.
    pub without_effect: Vec<String>,
}

/// The budget view of `effects` (fitted on `journeys` of `base`), with the
/// credited conversions of one credit model beside them when given.
///
/// # Errors
/// [`Error::LengthMismatch`] when `effects` has not one entry per channel of
/// `base`, or the credits not one per named channel; [`Error::EmptyInput`]
/// when no touch in the journeys has a cost.
pub fn budget(
    journeys: &Journeys,
    base: &CustomerBase,
    effects: &CausalAttribution,
    credited: Option<CreditedConversions<'_>>,
) -> Result<Budget> {
    let channels = base.channels();
    if effects.effects.len() != channels.len() {
        return Err(Error::lengths(
            "causal effects (one per channel of the base)",
            channels.len(),
            effects.effects.len(),
        ));
    }
    if let Some(c) = credited
        && c.credits.conversions.len() != c.channels.len()
    {
        return Err(Error::lengths(
            "credited conversions (one per named channel)",
            c.channels.len(),
            c.credits.conversions.len(),
        ));
    }
    let codes = base.tp_channel_codes();
    let mut cost = vec![0.0; channels.len()];
    for &r in journeys.touch_rows() {
        if let Some(m) = base.tp_cost(r as usize) {
            cost[codes[r as usize] as usize] += m.to_f64();
        }
    }
    let paid: Vec<usize> = (0..channels.len()).filter(|&c| cost[c] > 0.0).collect();
    if paid.is_empty() {
        return Err(Error::empty("touches with a cost in the journeys"));
    }
    let (with_effect, without): (Vec<usize>, Vec<usize>) = paid
        .into_iter()
        .partition(|&c| effects.effects[c].effect.is_some());
    let total_cost: f64 = with_effect.iter().map(|&c| cost[c]).sum();
    let value = |c: usize| effects.effects[c].incremental_value.value;
    let incremental_value: f64 = with_effect.iter().map(|&c| value(c)).sum();
    // Spend in proportion to positive incremental value, keeping the total.
    let positive: f64 = with_effect.iter().map(|&c| value(c).max(0.0)).sum();
    // Zero paid channels with an effect give no rows, so no division by zero below.
    let average_per_cost = positive / total_cost;
    let rows = with_effect
        .iter()
        .map(|&c| {
            let e = &effects.effects[c];
            let name = channels[c].to_string();
            let roi = |v: f64| (v - cost[c]) / cost[c];
            let suggested = if positive > 0.0 {
                total_cost * value(c).max(0.0) / positive
            } else {
                cost[c]
            };
            ChannelBudget {
                credited_conversions: credited.and_then(|k| {
                    let i = k.channels.iter().position(|n| *n == name)?;
                    Some(k.credits.conversions[i])
                }),
                channel: name,
                cost: cost[c],
                cost_share: cost[c] / total_cost,
                incremental_conversions: e.incremental_conversions,
                incremental_value: e.incremental_value,
                cost_per_incremental_conversion: (e.incremental_conversions.value > 0.0)
                    .then(|| cost[c] / e.incremental_conversions.value),
                incremental_roi: Estimate {
                    value: roi(e.incremental_value.value),
                    low: roi(e.incremental_value.low),
                    high: roi(e.incremental_value.high),
                    std_error: e.incremental_value.std_error / cost[c],
                },
                suggested_cost: suggested,
                suggested_share: suggested / total_cost,
                direction: if value(c).max(0.0) / cost[c] > average_per_cost {
                    BudgetMove::More
                } else {
                    BudgetMove::Less
                },
            }
        })
        .collect();
    Ok(Budget {
        channels: rows,
        total_cost,
        incremental_value,
        incremental_roi: (total_cost > 0.0).then(|| (incremental_value - total_cost) / total_cost),
        without_effect: without.iter().map(|&c| channels[c].to_string()).collect(),
    })
}
