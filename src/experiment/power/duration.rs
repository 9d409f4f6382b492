//! How long a test runs: [`duration`] from a [`SampleSize`] plan and the [`Traffic`].

use serde::{Deserialize, Serialize};

use super::model::round_up;
use super::params::{MAX_UNITS, check_ratio};
use super::sample_size::SampleSize;
use crate::error::{Error, Result};

/// Traffic available to an experiment ([`duration`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// New eligible units per day (> 0): customers not yet seen by the test,
    /// not visits.
    pub daily_eligible_units: f64,
    /// Share of eligible units put into the experiment, in (0, 1].
    pub share_in_experiment: f64,
}

/// How long a test runs ([`duration`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExperimentDuration {
    /// Days until every arm has its units, rounded up (at least 1).
    pub days: u64,
    /// `days` rounded up to whole weeks.
    pub days_whole_weeks: u64,
    /// Units entering the experiment per day (all arms).
    pub daily_units: f64,
    /// Expected control units after `days`.
    pub control_units: f64,
    /// Expected units per treatment arm after `days`.
    pub treatment_units: f64,
    /// Expected units in the experiment after `days`.
    pub total_units: f64,
}

/// Days the test `plan` needs with `traffic`, and the units it has then.
///
/// Each day brings `daily_eligible_units × share_in_experiment` units, split
/// between control and the treatment arms in proportion
/// `1 : allocation_ratio : … : allocation_ratio`; the test runs until the
/// slowest arm has its units.
///
/// # Errors
///
/// [`Error::InvalidParameter`] when the daily units are not finite and
/// positive, the share is not in (0, 1], the plan's ratio or arms are
/// invalid (e.g. a hand-edited plan), or the run would exceed 2⁵³ days.
pub fn duration(plan: &SampleSize, traffic: &Traffic) -> Result<ExperimentDuration> {
    let daily_eligible = traffic.daily_eligible_units;
    if !(daily_eligible > 0.0 && daily_eligible.is_finite()) {
        return Err(Error::param(
            "daily_eligible_units",
            daily_eligible,
            "must be finite and > 0",
        ));
    }
    let share = traffic.share_in_experiment;
    if !(share > 0.0 && share <= 1.0) {
        return Err(Error::param(
            "share_in_experiment",
            share,
            "must be in (0, 1]",
        ));
    }
    check_ratio(plan.allocation_ratio)?;
    if plan.treatment_arms == 0 {
        return Err(Error::param("treatment_arms", 0, "must be at least 1"));
    }
    let daily = daily_eligible * share;
    if daily <= 0.0 {
        return Err(Error::param(
            "share_in_experiment",
            share,
            "leaves no units per day",
        ));
    }
    let r = plan.allocation_ratio;
    let control_share = 1.0 / (1.0 + f64::from(plan.treatment_arms) * r);
    let treatment_share = r * control_share;
    let control_days = plan.control_units as f64 / (daily * control_share);
    let treatment_days = plan.treatment_units as f64 / (daily * treatment_share);
    // Forgive rounding noise of a few ulps so that exact multiples are not
    // pushed to the next day.
    let needed = control_days.max(treatment_days) * (1.0 - 1e-12);
    if needed.is_nan() || needed > MAX_UNITS {
        return Err(Error::param(
            "daily_eligible_units",
            daily_eligible,
            "too little traffic: the test would run more than 2^53 days",
        ));
    }
    let days = round_up(needed);
    let days_f = days as f64;
    Ok(ExperimentDuration {
        days,
        days_whole_weeks: days.div_ceil(7) * 7,
        daily_units: daily,
        control_units: days_f * daily * control_share,
        treatment_units: days_f * daily * treatment_share,
        total_units: days_f * daily,
    })
}
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `power::fixtures`.
    use crate::experiment::power::fixtures::*;
    use crate::experiment::power::*;

    // --- duration ----------------------------------------------------------

    #[test]
    fn duration_arithmetic() {
        let plan = sample_size(
            &PlannedMetric::binomial(0.1),
            Effect::Absolute(0.01),
            &PowerParams::default(),
        )
        .unwrap();
        assert_eq!(plan.total_units, 29_502);
        // 2 000 eligible a day, half in the test: 1 000 a day, 500 per arm;
        // 14 751 / 500 = 29.502 -> 30 days.
        let d = duration(
            &plan,
            &Traffic {
                daily_eligible_units: 2_000.0,
                share_in_experiment: 0.5,
            },
        )
        .unwrap();
        assert_eq!(d.days, 30);
        assert_eq!(d.days_whole_weeks, 35);
        close(d.daily_units, 1_000.0, 1e-12);
        close(d.control_units, 15_000.0, 1e-9);
        close(d.treatment_units, 15_000.0, 1e-9);
        close(d.total_units, 30_000.0, 1e-9);

        // An exact multiple is not pushed to the next day: 100 per arm at 10 a day.
        let mut exact = plan.clone();
        exact.control_units = 100;
        exact.treatment_units = 100;
        let d = duration(
            &exact,
            &Traffic {
                daily_eligible_units: 20.0,
                share_in_experiment: 1.0,
            },
        )
        .unwrap();
        assert_eq!((d.days, d.days_whole_weeks), (10, 14));

        // Three treatment arms at r = 2: control gets 1/7 of the traffic,
        // each treatment arm 2/7; 700 a day -> 100 control, 200 per treatment arm.
        let p = PowerParams {
            allocation_ratio: 2.0,
            treatment_arms: 3,
            ..PowerParams::default()
        };
        let plan = sample_size(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(2.0),
            &p,
        )
        .unwrap();
        let d = duration(
            &plan,
            &Traffic {
                daily_eligible_units: 1_400.0,
                share_in_experiment: 0.5,
            },
        )
        .unwrap();
        let want = (plan.control_units as f64 / 100.0)
            .max(plan.treatment_units as f64 / 200.0)
            .ceil();
        assert_eq!(d.days as f64, want);
        close(d.control_units, want * 100.0, 1e-9);
        close(d.treatment_units, want * 200.0, 1e-9);
        assert!(d.control_units >= plan.control_units as f64);
        assert!(d.treatment_units >= plan.treatment_units as f64);
        // At least one day.
        let d = duration(
            &plan,
            &Traffic {
                daily_eligible_units: 1e12,
                share_in_experiment: 1.0,
            },
        )
        .unwrap();
        assert_eq!((d.days, d.days_whole_weeks), (1, 7));
    }
}
