//! Incrementality from a randomised holdout: customers kept out of a
//! campaign at random are the counterfactual of those who received it, so
//! the difference in conversion is the campaign's effect without any model.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stats::normal_quantile;
use crate::touchpoints::journey::{JourneyOutcome, Journeys};

/// A campaign's incrementality measured against its holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutLift {
    /// Customers who could receive the campaign.
    pub exposed: usize,
    /// Customers kept out.
    pub held_out: usize,
    /// Share of exposed customers with a converting journey.
    pub exposed_rate: f64,
    /// Share of held-out customers with a converting journey.
    pub holdout_rate: f64,
    /// `exposed_rate − holdout_rate`.
    pub difference: f64,
    /// Its confidence interval (normal approximation, unpooled variances).
    pub difference_interval: [f64; 2],
    /// `difference / holdout_rate` (`None` when the holdout never converted).
    pub relative_lift: Option<f64>,
    /// Conversions the campaign added: `difference × exposed`, with its interval.
    pub incremental_conversions: [f64; 3],
    /// The confidence level.
    pub confidence: f64,
}

/// Compares customers kept out of a campaign (`held_out[c] == Some(true)`)
/// with those in it (`Some(false)`); `None` leaves a customer out of the
/// comparison. A customer converted when any of their journeys did.
///
/// # Errors
/// [`Error::LengthMismatch`] when `held_out` is not one flag per customer
/// the journeys know; [`Error::TooFew`] without a customer on both sides;
/// [`Error::InvalidParameter`] for a confidence outside (0, 1).
pub fn holdout_lift(
    journeys: &Journeys,
    held_out: &[Option<bool>],
    confidence: f64,
) -> Result<HoldoutLift> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(Error::param("confidence", confidence, "must lie in (0, 1)"));
    }
    let known = journeys
        .customers()
        .iter()
        .max()
        .map_or(0, |&c| c as usize + 1);
    if held_out.len() < known {
        return Err(Error::lengths(
            "holdout flags (one per base customer)",
            known,
            held_out.len(),
        ));
    }
    let mut converted = vec![false; held_out.len()];
    for (&c, &o) in journeys.customers().iter().zip(journeys.outcomes()) {
        if o == JourneyOutcome::Converted {
            converted[c as usize] = true;
        }
    }
    let (mut n, mut wins) = ([0usize; 2], [0usize; 2]);
    for (flag, &won) in held_out.iter().zip(&converted) {
        if let Some(h) = flag {
            let side = usize::from(*h);
            n[side] += 1;
            wins[side] += usize::from(won);
        }
    }
    if n[0] == 0 || n[1] == 0 {
        return Err(Error::too_few(
            "customers on each side of the holdout",
            1,
            n[0].min(n[1]),
        ));
    }
    let rate = |s: usize| wins[s] as f64 / n[s] as f64;
    let (pe, ph) = (rate(0), rate(1));
    let difference = pe - ph;
    let se = (pe * (1.0 - pe) / n[0] as f64 + ph * (1.0 - ph) / n[1] as f64).sqrt();
    let z = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let interval = [difference - z * se, difference + z * se];
    let exposed = n[0] as f64;
    Ok(HoldoutLift {
        exposed: n[0],
        held_out: n[1],
        exposed_rate: pe,
        holdout_rate: ph,
        difference,
        difference_interval: interval,
        relative_lift: (ph > 0.0).then(|| difference / ph),
        incremental_conversions: [
            difference * exposed,
            interval[0] * exposed,
            interval[1] * exposed,
        ],
        confidence,
    })
}
