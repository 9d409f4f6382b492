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
//! **Reallocation.** The suggested spend moves money towards channels with
//! more incremental value per unit of cost and away from those with less,
//! keeping the total, one step at a time:
//!
//! ```text
//! suggested_c = clamp(λ · v⁺_c, cost_c / s, s · cost_c),   v⁺ = max(incremental value, 0)
//! ```
//!
//! with `s` = [`BudgetParams::max_step`] and λ chosen (by bisection) so that
//! the suggested spends add up to today's. Without the clamp this is spend in
//! proportion to incremental value; the clamp keeps each round's move within a
//! factor `s` either way. The effects are measured at today's spend and say
//! nothing of diminishing returns (a cheap channel with a high return, such as
//! e-mail, cannot absorb any amount of money), so the suggestion is a
//! direction for the next round, to be tested, not an optimum.

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

/// Settings of [`budget`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetParams {
    /// The suggested spend of a channel lies within this factor of today's,
    /// either way (default 2: at most double, at least half).
    pub max_step: f64,
}

impl Default for BudgetParams {
    fn default() -> Self {
        BudgetParams { max_step: 2.0 }
    }
}

impl BudgetParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a step that is not finite and above 1.
    pub fn check(&self) -> Result<()> {
        if self.max_step.is_finite() && self.max_step > 1.0 {
            Ok(())
        } else {
            Err(Error::param(
                "max_step",
                self.max_step,
                "must be finite and above 1",
            ))
        }
    }
}

/// Which way a channel's spend should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetMove {
    /// The suggested spend is higher than today's.
    More,
    /// It is lower or the same.
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
/// [`Error::InvalidParameter`] for bad settings; [`Error::LengthMismatch`]
/// when `effects` has not one entry per channel of `base`, or the credits not
/// one per named channel; [`Error::EmptyInput`] when no touch in the journeys
/// has a cost.
pub fn budget(
    journeys: &Journeys,
    base: &CustomerBase,
    effects: &CausalAttribution,
    credited: Option<CreditedConversions<'_>>,
    params: &BudgetParams,
) -> Result<Budget> {
    params.check()?;
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
    let current: Vec<f64> = with_effect.iter().map(|&c| cost[c]).collect();
    let worth: Vec<f64> = with_effect.iter().map(|&c| value(c).max(0.0)).collect();
    let suggested = reallocate(&current, &worth, params.max_step);
    let rows = with_effect
        .iter()
        .zip(&suggested)
        .map(|(&c, &suggested)| {
            let e = &effects.effects[c];
            let name = channels[c].to_string();
            let roi = |v: f64| (v - cost[c]) / cost[c];
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
                direction: if suggested > cost[c] {
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

/// Spends within a factor `step` of `current` (either way), proportional to
/// `worth` where the bounds allow, adding up to the current total:
/// `clamp(λ · worth_c, current_c / step, step · current_c)` with λ found by
/// bisection (the sum grows with λ). When even every channel with worth at
/// its ceiling leaves money over, the channels without worth keep it, in
/// proportion to their spend (never more than today's).
fn reallocate(current: &[f64], worth: &[f64], step: f64) -> Vec<f64> {
    let total: f64 = current.iter().sum();
    let spend = |lambda: f64| -> Vec<f64> {
        current
            .iter()
            .zip(worth)
            .map(|(&c, &w)| (lambda * w).clamp(c / step, c * step))
            .collect()
    };
    let sum = |lambda: f64| spend(lambda).iter().sum::<f64>();
    if worth.iter().all(|&w| w <= 0.0) || total <= 0.0 {
        return current.to_vec();
    }
    let most: Vec<f64> = current
        .iter()
        .zip(worth)
        .map(|(&c, &w)| if w > 0.0 { c * step } else { c / step })
        .collect();
    let left = total - most.iter().sum::<f64>();
    if left >= 0.0 {
        let idle: f64 = current
            .iter()
            .zip(worth)
            .filter(|(_, w)| **w <= 0.0)
            .map(|(c, _)| c)
            .sum();
        return most
            .iter()
            .zip(current.iter().zip(worth))
            .map(|(&m, (&c, &w))| if w > 0.0 { m } else { m + left * c / idle })
            .collect();
    }
    // Bracket λ: at 0 every channel sits at its floor (below the total).
    let (mut lo, mut hi) = (0.0, 1.0);
    while sum(hi) < total && hi < f64::MAX / 4.0 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if sum(mid) < total {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= f64::EPSILON * hi {
            break;
        }
    }
    spend(hi)
}

#[cfg(test)]
mod tests {
    use super::reallocate;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() < 1e-9 * y.abs().max(1.0))
    }

    #[test]
    fn reallocation_follows_worth_within_the_step_and_keeps_the_total() {
        // Unbounded by the step: spend in proportion to worth.
        assert!(close(
            &reallocate(&[10.0, 10.0], &[3.0, 1.0], 10.0),
            &[15.0, 5.0]
        ));
        // The worthless channel halves; the other takes the rest.
        assert!(close(
            &reallocate(&[10.0, 10.0], &[1.0, 0.0], 2.0),
            &[15.0, 5.0]
        ));
        // The worthy channel doubles at most; the worthless one keeps what is left over.
        assert!(close(
            &reallocate(&[10.0, 90.0], &[1.0, 0.0], 2.0),
            &[20.0, 80.0]
        ));
        // Nothing is worth anything: no move.
        assert!(close(
            &reallocate(&[4.0, 6.0], &[0.0, 0.0], 2.0),
            &[4.0, 6.0]
        ));
        // Bounds bind on both sides.
        let s = reallocate(&[10.0, 10.0, 10.0], &[100.0, 1.0, 0.0], 2.0);
        assert!(close(&s, &[20.0, 5.0, 5.0]), "{s:?}");
    }
}
