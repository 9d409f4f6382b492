//! Lifecycle stages with a reason and a play for every customer.
//!
//! Marketing splits the customer lifecycle into stages and acts differently in
//! each: acquire prospects, onboard the new, develop the growing, reward the
//! mature, wake the declining, win back the churned. Here the stage follows
//! from evidence, in this order (the first rule that applies wins):
//!
//! | stage | rule (defaults) | play |
//! |---|---|---|
//! | prospect | no purchase yet | acquire |
//! | churned | P(alive) < 0.15, or no purchase for 365 days | win back |
//! | declining | P(alive) < 0.5, no purchase for 180 days, or the expected purchase rate has fallen below 0.5 × the customer's own past rate | re-activate |
//! | new | first purchase less than 60 days ago | onboard |
//! | mature | at least 4 repeat purchases | retain and reward |
//! | growing | everyone else who is alive: repeat buyers building up, and one-time buyers still likely active | develop and cross-sell |
//!
//! The recency rules matter because BG/NBD gives one-time buyers P(alive) = 1
//! however long ago they bought. The *trend* compares the model's expected purchase rate over the next
//! period window with the customer's historical repeat rate `x / T`; a
//! customer who used to buy weekly but whose model forecast is far lower is
//! on the way out even while P(alive) is still moderate.

use serde::{Deserialize, Serialize};

use super::summary::Period;
use crate::error::{Error, Result};

/// A lifecycle stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// No purchase yet.
    Prospect,
    /// Recently acquired.
    New,
    /// Alive and building up purchases.
    Growing,
    /// Established, repeat buyer.
    Mature,
    /// At risk: likely slipping away.
    Declining,
    /// Lapsed.
    Churned,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 6] = [
        Stage::Prospect,
        Stage::New,
        Stage::Growing,
        Stage::Mature,
        Stage::Declining,
        Stage::Churned,
    ];

    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::Prospect => "prospect",
            Stage::New => "new",
            Stage::Growing => "growing",
            Stage::Mature => "mature",
            Stage::Declining => "declining",
            Stage::Churned => "churned",
        }
    }

    /// The recommended play.
    pub fn play(&self) -> Play {
        match self {
            Stage::Prospect => Play::Acquire,
            Stage::New => Play::Onboard,
            Stage::Growing => Play::Develop,
            Stage::Mature => Play::Retain,
            Stage::Declining => Play::Reactivate,
            Stage::Churned => Play::WinBack,
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with a customer in a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Play {
    /// Turn a prospect into a first-time buyer.
    Acquire,
    /// Welcome journey, first-value moments, second purchase.
    Onboard,
    /// Develop: cross-sell and up-sell.
    Develop,
    /// Retain and reward: loyalty, service, recognition.
    Retain,
    /// Re-activate: wake-up offers before the customer is lost.
    Reactivate,
    /// Win back lapsed customers, or let them go.
    WinBack,
}

impl Play {
    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Play::Acquire => "acquire",
            Play::Onboard => "onboard",
            Play::Develop => "develop",
            Play::Retain => "retain",
            Play::Reactivate => "reactivate",
            Play::WinBack => "win_back",
        }
    }

    /// What the play means, in a few words.
    pub fn description(&self) -> &'static str {
        match self {
            Play::Acquire => "turn into a first-time buyer",
            Play::Onboard => "welcome journey, second purchase",
            Play::Develop => "cross-sell and up-sell",
            Play::Retain => "loyalty, service, recognition",
            Play::Reactivate => "wake-up offer before they are lost",
            Play::WinBack => "win back, or let go",
        }
    }
}

impl std::fmt::Display for Play {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Thresholds of the stage rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageParams {
    /// Below this P(alive) a customer is churned.
    pub churned_p_alive: f64,
    /// Below this P(alive) a customer is declining.
    pub declining_p_alive: f64,
    /// Below this ratio of expected to past purchase rate a repeat customer is declining.
    pub declining_trend: f64,
    /// Without a purchase for this many days a customer is churned.
    pub churned_days: f64,
    /// Without a purchase for this many days a customer is declining.
    pub declining_days: f64,
    /// Customers whose first purchase is fewer days ago than this are new.
    pub new_days: f64,
    /// From this many repeat purchases a customer is mature.
    pub mature_repeat_purchases: f64,
}

impl Default for StageParams {
    fn default() -> Self {
        StageParams {
            churned_p_alive: 0.15,
            declining_p_alive: 0.5,
            declining_trend: 0.5,
            churned_days: 365.0,
            declining_days: 180.0,
            new_days: 60.0,
            mature_repeat_purchases: 4.0,
        }
    }
}

/// A stage with the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageAssignment {
    /// The stage.
    pub stage: Stage,
    /// The play for the stage.
    pub play: Play,
    /// The rule and the numbers, e.g. `P(alive) 0.08 < 0.15`.
    pub reason: String,
}

/// What the rules look at for one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageInput {
    /// Repeat purchase periods `x`; `None` for a prospect without purchases.
    pub x: Option<f64>,
    /// Periods from the first to the last purchase `t_x`.
    pub t_x: f64,
    /// Periods since the first purchase (`T`).
    pub t_cal: f64,
    /// Probability of being alive.
    pub p_alive: f64,
    /// Expected purchases over the next `horizon` periods.
    pub expected_purchases: f64,
    /// The horizon of `expected_purchases`, in periods.
    pub horizon: f64,
}

impl StageParams {
    /// Checks the thresholds.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for probabilities outside [0, 1], churned above
    /// declining, or negative or non-finite thresholds.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("churned_p_alive", self.churned_p_alive),
            ("declining_p_alive", self.declining_p_alive),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::param(name, v, "must be a probability in [0, 1]"));
            }
        }
        if self.churned_p_alive > self.declining_p_alive {
            return Err(Error::param(
                "churned_p_alive",
                self.churned_p_alive,
                "must not exceed declining_p_alive",
            ));
        }
        for (name, v) in [
            ("declining_trend", self.declining_trend),
            ("churned_days", self.churned_days),
            ("declining_days", self.declining_days),
            ("new_days", self.new_days),
            ("mature_repeat_purchases", self.mature_repeat_purchases),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(name, v, "must be finite and >= 0"));
            }
        }
        Ok(())
    }

    /// The stage of one customer, with its reason and play. `period` converts `new_days`.
    pub fn assign(&self, input: &StageInput, period: Period) -> StageAssignment {
        let make = |stage: Stage, reason: String| StageAssignment {
            stage,
            play: stage.play(),
            reason,
        };
        let Some(x) = input.x else {
            return make(Stage::Prospect, "no purchase yet".into());
        };
        let days_per_period = match period {
            Period::Day => 1.0,
            Period::Week => 7.0,
        };
        let idle_days = (input.t_cal - input.t_x).max(0.0) * days_per_period;
        if input.p_alive < self.churned_p_alive {
            return make(
                Stage::Churned,
                format!(
                    "P(alive) {:.2} < {:.2}",
                    input.p_alive, self.churned_p_alive
                ),
            );
        }
        if idle_days >= self.churned_days {
            return make(
                Stage::Churned,
                format!(
                    "no purchase for {idle_days:.0} days >= {:.0}",
                    self.churned_days
                ),
            );
        }
        if input.p_alive < self.declining_p_alive {
            return make(
                Stage::Declining,
                format!(
                    "P(alive) {:.2} < {:.2}",
                    input.p_alive, self.declining_p_alive
                ),
            );
        }
        if idle_days >= self.declining_days {
            return make(
                Stage::Declining,
                format!(
                    "no purchase for {idle_days:.0} days >= {:.0}",
                    self.declining_days
                ),
            );
        }
        let past_rate = if input.t_cal > 0.0 {
            x / input.t_cal
        } else {
            0.0
        };
        let expected_rate = if input.horizon > 0.0 {
            input.expected_purchases / input.horizon
        } else {
            0.0
        };
        if x >= 1.0 && past_rate > 0.0 && expected_rate < self.declining_trend * past_rate {
            return make(
                Stage::Declining,
                format!(
                    "expected rate {expected_rate:.3}/period < {:.2} × past rate {past_rate:.3}/period",
                    self.declining_trend
                ),
            );
        }
        let age_days = input.t_cal * days_per_period;
        if age_days < self.new_days {
            return make(
                Stage::New,
                format!(
                    "first purchase {age_days:.0} days ago < {:.0}",
                    self.new_days
                ),
            );
        }
        if x >= self.mature_repeat_purchases {
            return make(
                Stage::Mature,
                format!(
                    "{x:.0} repeat purchases >= {:.0}, P(alive) {:.2}",
                    self.mature_repeat_purchases, input.p_alive
                ),
            );
        }
        make(
            Stage::Growing,
            format!(
                "{x:.0} repeat purchases, P(alive) {:.2}, rate holding",
                input.p_alive
            ),
        )
    }
}

/// How many customers are in each stage (in [`Stage::ALL`] order).
pub fn distribution(stages: &[Stage]) -> [usize; 6] {
    let mut counts = [0; 6];
    for s in stages {
        counts[*s as usize] += 1;
    }
    counts
}

/// Migration matrix between two stage assignments of the same customers:
/// `matrix[from][to]` counts customers (in [`Stage::ALL`] order).
///
/// # Errors
/// [`Error::LengthMismatch`] when the slices differ in length.
pub fn migration(before: &[Stage], after: &[Stage]) -> Result<[[usize; 6]; 6]> {
    if before.len() != after.len() {
        return Err(Error::lengths(
            "stage migration: stages after, per customer before",
            before.len(),
            after.len(),
        ));
    }
    let mut m = [[0; 6]; 6];
    for (b, a) in before.iter().zip(after) {
        m[*b as usize][*a as usize] += 1;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(x: Option<f64>, age: f64, p_alive: f64, expected: f64) -> StageInput {
        // Last purchase two weeks before the end unless the customer has no repeat.
        let recency = if x.unwrap_or(0.0) > 0.0 {
            (age - 2.0).max(0.0)
        } else {
            0.0
        };
        StageInput {
            x,
            t_x: recency,
            t_cal: age,
            p_alive,
            expected_purchases: expected,
            horizon: 10.0,
        }
    }

    #[test]
    fn rules_apply_in_order_with_reasons() {
        let p = StageParams::default();
        let w = Period::Week;
        assert_eq!(
            p.assign(&input(None, 0.0, 1.0, 0.0), w).stage,
            Stage::Prospect
        );
        let churned = p.assign(&input(Some(5.0), 50.0, 0.05, 0.1), w);
        assert_eq!(
            (churned.stage, churned.play),
            (Stage::Churned, Play::WinBack)
        );
        assert!(churned.reason.contains("0.05"), "{}", churned.reason);
        assert_eq!(
            p.assign(&input(Some(5.0), 50.0, 0.3, 0.1), w).stage,
            Stage::Declining
        );
        // Past rate 10/50 = 0.2 per week, expected 0.5/10 = 0.05 < 0.1: declining by trend.
        let trend = p.assign(&input(Some(10.0), 50.0, 0.9, 0.5), w);
        assert_eq!(trend.stage, Stage::Declining);
        assert!(trend.reason.contains("expected rate"), "{}", trend.reason);
        assert_eq!(
            p.assign(&input(Some(0.0), 4.0, 1.0, 0.5), w).stage,
            Stage::New
        );
        assert_eq!(
            p.assign(&input(Some(0.0), 4.0, 1.0, 0.5), Period::Day)
                .stage,
            Stage::New
        );
        assert_eq!(
            p.assign(&input(Some(6.0), 50.0, 0.9, 1.5), w).stage,
            Stage::Mature
        );
        assert_eq!(
            p.assign(&input(Some(2.0), 50.0, 0.9, 0.5), w).stage,
            Stage::Growing
        );
        assert_eq!(
            p.assign(&input(Some(0.0), 20.0, 1.0, 0.3), w).stage,
            Stage::Growing
        );
        // A one-time buyer from long ago: P(alive) is 1 under BG/NBD, recency decides.
        let lapsed = p.assign(&input(Some(0.0), 60.0, 1.0, 0.3), w);
        assert_eq!(lapsed.stage, Stage::Churned);
        assert!(lapsed.reason.contains("420 days"), "{}", lapsed.reason);
        assert_eq!(
            p.assign(&input(Some(0.0), 30.0, 1.0, 0.3), w).stage,
            Stage::Declining
        );
    }

    #[test]
    fn distribution_and_migration() {
        let before = [Stage::New, Stage::New, Stage::Mature, Stage::Declining];
        let after = [
            Stage::Growing,
            Stage::Churned,
            Stage::Mature,
            Stage::Churned,
        ];
        assert_eq!(distribution(&after), [0, 0, 1, 1, 0, 2]);
        let m = migration(&before, &after).unwrap();
        assert_eq!(m[Stage::New as usize][Stage::Growing as usize], 1);
        assert_eq!(m[Stage::Declining as usize][Stage::Churned as usize], 1);
        assert_eq!(m.iter().flatten().sum::<usize>(), 4);
        assert!(matches!(
            migration(&before, &after[..2]),
            Err(Error::LengthMismatch {
                expected: 4,
                found: 2,
                ..
            })
        ));
    }

    #[test]
    fn checks_thresholds() {
        assert!(StageParams::default().check().is_ok());
        assert!(matches!(
            StageParams {
                churned_p_alive: 0.7,
                ..StageParams::default()
            }
            .check(),
            Err(Error::InvalidParameter {
                name: "churned_p_alive",
                ..
            })
        ));
        assert!(matches!(
            StageParams {
                new_days: f64::NAN,
                ..StageParams::default()
            }
            .check(),
            Err(Error::InvalidParameter {
                name: "new_days",
                ..
            })
        ));
    }
}
