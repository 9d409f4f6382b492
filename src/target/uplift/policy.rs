//! From uplift to a decision: treat whoever's expected incremental profit
//! is positive, and measure on experiment rows what such a rule earns.
//!
//! A contact is worth making when uplift × value − cost > 0: a customer
//! with 2 points of uplift on a €50 order is worth a €0.80 coupon, one with
//! 1 point is not. On randomised rows the rule's incremental outcome is the
//! difference between the treated and the control units it selects (both
//! arms are random samples of the selected customers), times how many it
//! selects; its interval is Welch's normal interval on that difference.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::stats::normal_quantile;

/// What an outcome is worth and what a contact costs, in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Economics {
    /// Value of one unit of outcome (a conversion's margin, or 1 for revenue).
    pub value_per_outcome: f64,
    /// Cost of treating one customer (a coupon, a call).
    pub cost_per_contact: f64,
}

impl Economics {
    /// Checks the figures.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a non-finite or negative value or cost.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("value_per_outcome", self.value_per_outcome),
            ("cost_per_contact", self.cost_per_contact),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(name, v, "must be finite and >= 0"));
            }
        }
        Ok(())
    }

    /// Expected incremental profit of treating a customer with this uplift.
    pub fn profit(&self, uplift: f64) -> f64 {
        uplift * self.value_per_outcome - self.cost_per_contact
    }
}

/// Whom to treat: every customer whose expected incremental profit is positive.
///
/// # Errors
/// [`Error::InvalidParameter`] from [`Economics::check`]; [`Error::NonFinite`] for a NaN or infinite uplift.
pub fn treat_when_profitable(uplift: &[f64], economics: &Economics) -> Result<Vec<bool>> {
    economics.check()?;
    if let Some(row) = uplift.iter().position(|v| !v.is_finite()) {
        return Err(Error::non_finite(
            "uplift scores",
            row,
            "uplift",
            uplift[row],
        ));
    }
    Ok(uplift.iter().map(|&u| economics.profit(u) > 0.0).collect())
}

/// What a targeting rule earned on randomised experiment rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyValue {
    /// Units the rule selects.
    pub targeted: usize,
    /// Of them, treated and control units in the experiment.
    pub treated: usize,
    /// Of them, control units.
    pub control: usize,
    /// Treated minus control mean outcome among the selected units.
    pub effect_per_unit: f64,
    /// The effect on the selected units: effect per unit × targeted.
    pub incremental_outcome: f64,
    /// Its interval at the requested level.
    pub incremental_interval: (f64, f64),
    /// Incremental outcome × value − cost × targeted.
    pub profit: f64,
    /// Its interval at the requested level.
    pub profit_interval: (f64, f64),
}

/// Measures the rule `target` on experiment rows (outcome, treated or
/// control), valuing outcomes and contacts with `economics`; intervals at
/// `level` (e.g. 0.95).
///
/// # Errors
/// [`Error::LengthMismatch`]; [`Error::NonFinite`] for an outcome;
/// [`Error::InvalidParameter`] for a level outside (0, 1) or bad economics;
/// [`Error::TooFew`] when the selected units hold fewer than two treated or
/// two control units.
pub fn evaluate_policy(
    target: &[bool],
    outcome: &[f64],
    treated: &[bool],
    economics: &Economics,
    level: f64,
) -> Result<PolicyValue> {
    economics.check()?;
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::param(
            "level",
            level,
            "must lie strictly between 0 and 1",
        ));
    }
    if outcome.len() != target.len() {
        return Err(Error::lengths(
            "outcomes per unit",
            target.len(),
            outcome.len(),
        ));
    }
    if treated.len() != target.len() {
        return Err(Error::lengths(
            "treatment flags per unit",
            target.len(),
            treated.len(),
        ));
    }
    if let Some(row) = outcome.iter().position(|v| !v.is_finite()) {
        return Err(Error::non_finite("outcomes", row, "outcome", outcome[row]));
    }
    // Sums per arm among the selected units: count, sum, sum of squares.
    let mut arms = [(0.0f64, 0.0f64, 0.0f64); 2];
    for ((&t, &y), &selected) in treated.iter().zip(outcome).zip(target) {
        if selected {
            let a = &mut arms[usize::from(t)];
            a.0 += 1.0;
            a.1 += y;
            a.2 += y * y;
        }
    }
    let [(n0, s0, q0), (n1, s1, q1)] = arms;
    if n1 < 2.0 {
        return Err(Error::too_few(
            "treated units among the targeted",
            2,
            n1 as usize,
        ));
    }
    if n0 < 2.0 {
        return Err(Error::too_few(
            "control units among the targeted",
            2,
            n0 as usize,
        ));
    }
    let (m0, m1) = (s0 / n0, s1 / n1);
    let var = |n: f64, s: f64, q: f64| (q - s * s / n) / (n - 1.0);
    let se = (var(n1, s1, q1) / n1 + var(n0, s0, q0) / n0).sqrt();
    let z = normal_quantile(0.5 + level / 2.0);
    let targeted = n0 + n1;
    let effect = m1 - m0;
    let incremental = effect * targeted;
    let half = z * se * targeted;
    let value = economics.value_per_outcome;
    let cost = economics.cost_per_contact * targeted;
    Ok(PolicyValue {
        targeted: targeted as usize,
        treated: n1 as usize,
        control: n0 as usize,
        effect_per_unit: effect,
        incremental_outcome: incremental,
        incremental_interval: (incremental - half, incremental + half),
        profit: incremental * value - cost,
        profit_interval: (
            (incremental - half) * value - cost,
            (incremental + half) * value - cost,
        ),
    })
}
