//! Touchpoints that precede lost customers' last activity, compared with
//! those of retained customers.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stats::{benjamini_hochberg, two_proportion_z};
use crate::store::CustomerBase;

use super::count::Keys;
use super::{KeyLevel, check_window};

/// A touchpoint type's association with customers being lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LostSignal {
    /// Channel, or `channel/kind`.
    pub touchpoint: String,
    /// Lost customers with the type in the window before their last activity.
    pub lost_with: usize,
    /// Share of lost customers with it.
    pub lost_share: f64,
    /// Share of retained customers with it (same window before their last activity).
    pub retained_share: f64,
    /// `lost_share / retained_share`.
    pub lift: f64,
    /// Benjamini–Hochberg adjusted p-value of the two-proportion z-test.
    pub adjusted_p_value: f64,
}

/// Which touchpoints precede lost customers: for every customer with any
/// touchpoint, the types seen within `window_days` before their last
/// touchpoint, compared between `lost` and retained customers; sorted by lift
/// (types seen by no lost customer are left out).
///
/// `lost` marks lost customers by index, e.g. P(alive) below a threshold or
/// the lifecycle stage `lost`.
///
/// # Errors
/// [`Error::LengthMismatch`] when `lost` does not match the base;
/// [`Error::InvalidParameter`] for a non-positive window.
pub fn lost_signals(
    base: &CustomerBase,
    lost: &[bool],
    window_days: f64,
    level: KeyLevel,
) -> Result<Vec<LostSignal>> {
    if lost.len() != base.n_customers() {
        return Err(Error::lengths(
            "lost flags per customer",
            base.n_customers(),
            lost.len(),
        ));
    }
    check_window(window_days)?;
    let keys = Keys::new(base, level);
    let window = (window_days * 86_400e6) as i64;
    let times = base.tp_time_micros();
    let mut with = vec![[0.0f64; 2]; keys.n];
    let mut totals = [0.0f64; 2];
    let mut stamp = vec![u32::MAX; keys.n];
    for customer in 0..base.n_customers() as u32 {
        let rows = base.touchpoint_range(customer);
        let Some(last) = rows.clone().last().map(|r| times[r]) else {
            continue;
        };
        let side = usize::from(lost[customer as usize]);
        totals[side] += 1.0;
        for r in rows.rev() {
            if times[r] < last - window {
                break;
            }
            let k = keys.of(base, r);
            if stamp[k] != customer {
                stamp[k] = customer;
                with[k][side] += 1.0;
            }
        }
    }
    let mut signals = Vec::new();
    let mut p_values = Vec::new();
    for (k, w) in with.iter().enumerate() {
        if w[1] == 0.0 {
            continue;
        }
        let lost_share = w[1] / totals[1];
        let retained_share = if totals[0] > 0.0 {
            w[0] / totals[0]
        } else {
            f64::NAN
        };
        let (_, p) = two_proportion_z(w[1], totals[1], w[0], totals[0]);
        p_values.push(p);
        signals.push(LostSignal {
            touchpoint: match keys.names(base, k) {
                (c, Some(kind)) => format!("{c}/{kind}"),
                (c, None) => c,
            },
            lost_with: w[1] as usize,
            lost_share,
            retained_share,
            lift: lost_share / retained_share,
            adjusted_p_value: f64::NAN,
        });
    }
    for (s, q) in signals.iter_mut().zip(benjamini_hochberg(&p_values)) {
        s.adjusted_p_value = q;
    }
    signals.sort_by(|a, b| {
        b.lift
            .total_cmp(&a.lift)
            .then_with(|| a.touchpoint.cmp(&b.touchpoint))
    });
    Ok(signals)
}
