//! Time and window helpers shared by the touchpoint analyses: day and
//! minute settings checked and turned into microseconds, the `as_of` time,
//! whole days and "n days ago", and exponential decay.

use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::store::{CustomerBase, to_micros};

/// Microseconds per day.
pub(crate) const DAY_US: i64 = 86_400_000_000;
/// Upper bound on day-valued parameters (about 10,000 years), so windows fit `i64` microseconds.
pub(crate) const MAX_DAYS: f64 = 3_650_000.0;

/// Checks a half-life in days: finite, > 0, at most [`MAX_DAYS`].
pub(crate) fn check_half_life(v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 && v <= MAX_DAYS {
        Ok(())
    } else {
        Err(Error::param(
            "half_life_days",
            v,
            "must be finite, > 0 and <= 3650000",
        ))
    }
}

/// Checks a window in days: finite, >= 0, at most [`MAX_DAYS`].
pub(crate) fn check_days(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && (0.0..=MAX_DAYS).contains(&v) {
        Ok(())
    } else {
        Err(Error::param(name, v, "must be finite, >= 0 and <= 3650000"))
    }
}

/// Checks a tolerance in minutes: finite, >= 0, at most [`MAX_DAYS`] days.
pub(crate) fn check_minutes(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && (0.0..=MAX_DAYS * 1440.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::param(
            name,
            v,
            "must be finite, >= 0 and at most 3650000 days",
        ))
    }
}

/// A checked window in days as microseconds (saturating).
pub(crate) fn days_to_micros(days: f64) -> i64 {
    (days * DAY_US as f64).round() as i64
}

/// A checked tolerance in minutes as microseconds (saturating).
pub(crate) fn minutes_to_micros(minutes: f64) -> i64 {
    (minutes * 60_000_000.0).round() as i64
}

/// Whole days from `earlier` to `later` (floored, never negative).
pub(crate) fn whole_days(later: i64, earlier: i64) -> i64 {
    later.saturating_sub(earlier).max(0) / DAY_US
}

/// "today", "1 day ago", "n days ago".
pub(crate) fn days_ago(days: i64) -> String {
    match days {
        0 => "today".to_owned(),
        1 => "1 day ago".to_owned(),
        d => format!("{d} days ago"),
    }
}

/// The time of the latest touchpoint or transaction, if any.
pub(crate) fn latest_event_micros(base: &CustomerBase) -> Option<i64> {
    let tp = base.tp_time_micros().iter().copied().max();
    let tx = base.tx_time_micros().iter().copied().max();
    tp.max(tx)
}

/// `as_of` in microseconds: the given time, else the latest event, else the Unix epoch.
pub(crate) fn resolve_as_of(base: &CustomerBase, as_of: Option<Timestamp>) -> i64 {
    as_of
        .map(to_micros)
        .or_else(|| latest_event_micros(base))
        .unwrap_or(0)
}

/// `2^(−age / half_life)`, both in microseconds.
pub(crate) fn decay(age_us: i64, half_life_us: f64) -> f64 {
    (-(age_us as f64) / half_life_us).exp2()
}
