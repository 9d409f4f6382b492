//! When customers interact: touchpoints by weekday and hour, per group.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::segment::segments::Segments;
use crate::store::CustomerBase;

use super::group_of;

/// When customers interact: touchpoints by day of week (Monday = 0) and hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Groups (one group `all` without grouping).
    pub groups: Vec<String>,
    /// `counts[group][weekday][hour]`.
    pub counts: Vec<[[u64; 24]; 7]>,
    /// The UTC offset the clock times are in, in minutes.
    pub utc_offset_minutes: i32,
}

/// Touchpoint counts by weekday and hour (local to a fixed UTC offset), per group.
///
/// # Errors
/// [`Error::InvalidParameter`] for an offset beyond ±18 hours; group errors as
/// [`inventory`](fn@super::inventory).
pub fn timing(
    base: &CustomerBase,
    groups: Option<&Segments>,
    utc_offset_minutes: i32,
) -> Result<Timing> {
    if utc_offset_minutes.abs() > 18 * 60 {
        return Err(Error::param(
            "utc_offset_minutes",
            utc_offset_minutes,
            "must be within ±1080",
        ));
    }
    if let Some(g) = groups {
        g.check_base(base)?;
    }
    let names = groups.map_or_else(|| vec!["all".to_owned()], |g| g.names().to_vec());
    let mut counts = vec![[[0u64; 24]; 7]; names.len()];
    const HOUR_US: i64 = 3_600_000_000;
    let offset = i64::from(utc_offset_minutes) * 60_000_000;
    let times = base.tp_time_micros();
    for customer in base.customer_indices() {
        // Without grouping everybody is in the one group `all`.
        let Some(g) = groups.map_or(Some(0), |gr| group_of(gr, customer)) else {
            continue;
        };
        for &t in &times[base.touchpoint_range(customer)] {
            let hours = (t + offset).div_euclid(HOUR_US);
            let hour = hours.rem_euclid(24) as usize;
            // 1970-01-01 was a Thursday (Monday = 0 → Thursday = 3).
            let weekday = (hours.div_euclid(24) + 3).rem_euclid(7) as usize;
            counts[g][weekday][hour] += 1;
        }
    }
    Ok(Timing {
        groups: names,
        counts,
        utc_offset_minutes,
    })
}
