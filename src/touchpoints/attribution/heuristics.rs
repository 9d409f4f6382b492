//! Heuristic attribution: first touch, last touch, last non-direct touch,
//! linear, position-based, and time decay over journeys.

use serde::{Deserialize, Serialize};

use super::Credits;
use crate::error::{Error, Result};
use crate::store::CustomerBase;
use crate::touchpoints::journey::Journeys;
use crate::touchpoints::paths::PathTable;

/// Parameters of the heuristic models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeuristicParams {
    /// Channels that count as direct (skipped by last non-direct touch when
    /// another touch exists); compared case-insensitively. Default `direct`, `(direct)`.
    pub direct_channels: Vec<String>,
    /// Position-based share of the first touch (default 0.4).
    pub position_first: f64,
    /// Position-based share of the last touch (default 0.4).
    pub position_last: f64,
}

impl HeuristicParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the position shares are negative, not
    /// finite, or add up to more than 1.
    pub fn check(&self) -> Result<()> {
        let (f, l) = (self.position_first, self.position_last);
        for (name, v) in [("position_first", f), ("position_last", l)] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(Error::param(name, v, "must be in [0, 1]"));
            }
        }
        if f + l > 1.0 + 1e-12 || f + l <= 0.0 {
            return Err(Error::param(
                "position_first + position_last",
                f + l,
                "must be in (0, 1]",
            ));
        }
        Ok(())
    }
}

impl Default for HeuristicParams {
    fn default() -> Self {
        HeuristicParams {
            direct_channels: vec!["direct".into(), "(direct)".into()],
            position_first: 0.4,
            position_last: 0.4,
        }
    }
}

/// Credits of the heuristic models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heuristics {
    /// All credit to the first touch.
    pub first_touch: Credits,
    /// All credit to the last touch.
    pub last_touch: Credits,
    /// All credit to the last touch that is not direct (the last touch when all are).
    pub last_non_direct: Credits,
    /// Equal shares per touch.
    pub linear: Credits,
    /// First and last touches get fixed shares; the middle shares the rest.
    pub position_based: Credits,
}

/// First-touch, last-touch, last-non-direct, linear and position-based credits.
///
/// A one-touch path gives everything to its touch under every model; a
/// two-touch path splits position-based credit in proportion `first : last`.
///
/// # Errors
/// [`Error::InvalidParameter`] when the position shares are negative, not
/// finite, or add up to more than 1.
pub fn heuristics(table: &PathTable, params: &HeuristicParams) -> Result<Heuristics> {
    params.check()?;
    let (f, l) = (params.position_first, params.position_last);
    let n = table.channels().len();
    let direct: Vec<bool> = table
        .channels()
        .iter()
        .map(|c| {
            params
                .direct_channels
                .iter()
                .any(|d| d.trim().eq_ignore_ascii_case(c.trim()))
        })
        .collect();
    let mut h = Heuristics {
        first_touch: Credits::zeros(n),
        last_touch: Credits::zeros(n),
        last_non_direct: Credits::zeros(n),
        linear: Credits::zeros(n),
        position_based: Credits::zeros(n),
    };
    let (conversions, values) = (table.conversions(), table.values());
    for p in 0..table.len() {
        let (conv, value) = (conversions[p], values[p]);
        if conv == 0.0 && value == 0.0 {
            continue;
        }
        let path = table.path(p);
        let (Some(&first), Some(&last)) = (path.first(), path.last()) else {
            continue;
        };
        h.first_touch.add(first, 1.0, conv, value);
        h.last_touch.add(last, 1.0, conv, value);
        let non_direct = path
            .iter()
            .rev()
            .copied()
            .find(|&c| !direct[c as usize])
            .unwrap_or(last);
        h.last_non_direct.add(non_direct, 1.0, conv, value);
        let share = 1.0 / path.len() as f64;
        for &c in path {
            h.linear.add(c, share, conv, value);
        }
        match path.len() {
            1 => h.position_based.add(first, 1.0, conv, value),
            2 => {
                h.position_based.add(first, f / (f + l), conv, value);
                h.position_based.add(last, l / (f + l), conv, value);
            }
            len => {
                h.position_based.add(first, f, conv, value);
                h.position_based.add(last, l, conv, value);
                let middle = (1.0 - f - l) / (len - 2) as f64;
                for &c in &path[1..len - 1] {
                    h.position_based.add(c, middle, conv, value);
                }
            }
        }
    }
    Ok(h)
}

/// Time-decay credits: within each converting journey, a touch `d` days before
/// the conversion weighs `2^(−d / half_life_days)`; credits are the weights
/// normalised per journey. Channels are the base's channel codes. Direct
/// conversions (no touches) are not credited.
///
/// # Errors
/// [`Error::InvalidParameter`] for a non-positive or non-finite half-life.
pub fn time_decay(
    journeys: &Journeys,
    base: &CustomerBase,
    half_life_days: f64,
) -> Result<Credits> {
    if !(half_life_days.is_finite() && half_life_days > 0.0) {
        return Err(Error::param(
            "half_life_days",
            half_life_days,
            "must be positive and finite",
        ));
    }
    let mut credits = Credits::zeros(base.channels().len());
    let (times, codes) = (base.tp_time_micros(), base.tp_channel_codes());
    let mut weights = Vec::new();
    for j in journeys.iter().filter(|j| j.converted()) {
        let end = crate::store::to_micros(j.end);
        weights.clear();
        weights.extend(j.touch_rows.iter().map(|&r| {
            let days = (end - times[r as usize]).max(0) as f64 / 86_400e6;
            (-days / half_life_days).exp2()
        }));
        let total: f64 = weights.iter().sum();
        if total > 0.0 {
            for (&r, w) in j.touch_rows.iter().zip(&weights) {
                credits.add(codes[r as usize], w / total, 1.0, j.value);
            }
        }
    }
    Ok(credits)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{close, table};
    use super::*;

    #[test]
    fn heuristics_by_hand() {
        let t = table(&[("a > b > c", 2.0, 1.0, 20.0), ("b", 1.0, 0.0, 5.0)]);
        let h = heuristics(&t, &HeuristicParams::default()).unwrap();
        // Channels in first-seen order: a, b, c.
        assert_eq!(h.first_touch.conversions, [2.0, 1.0, 0.0]);
        assert_eq!(h.last_touch.conversions, [0.0, 1.0, 2.0]);
        for (got, want) in h
            .linear
            .value
            .iter()
            .zip([20.0 / 3.0, 20.0 / 3.0 + 5.0, 20.0 / 3.0])
        {
            assert!(close(*got, want, 1e-15));
        }
        let p = &h.position_based.conversions;
        assert!(close(p[0], 0.8, 1e-15) && close(p[1], 1.4, 1e-15) && close(p[2], 0.8, 1e-15));
    }

    #[test]
    fn last_non_direct_skips_direct_unless_alone() {
        let t = table(&[("email > Direct", 3.0, 0.0, 0.0), ("direct", 2.0, 0.0, 0.0)]);
        let h = heuristics(&t, &HeuristicParams::default()).unwrap();
        assert_eq!(h.last_non_direct.conversions, [3.0, 0.0, 2.0]);
        assert_eq!(t.channels(), ["email", "Direct", "direct"]);
    }
}
