//! The next best action: for every customer, which of the marketer's
//! actions to take (or none), on which channel, why, and who is held out so
//! that the next round can measure what the decisions earned.
//!
//! Each action has a channel, a cost per contact, a value per outcome and
//! the lifecycle plays it serves (a win-back offer for customers to win
//! back, a cross-sell e-mail for those to develop). A customer's candidates
//! are the actions that serve their play; each candidate's **expected
//! incremental profit** is uplift × value − cost, the uplift coming from an
//! uplift model or, without one, from the customer's segment's measured
//! effect. A candidate is dropped when its channel lacks marketing consent
//! or the customer has reached the contact cap; among the rest the most
//! profitable wins when its profit is positive, ties going to the
//! customer's preferred channel. Every decision carries a reason a marketer
//! can read, e.g. `reactivate; high uplift for the wake-up coupon (+4.1
//! pts, top 10 %); prefers email, consented`.
//!
//! A seeded share of customers is **held out** by hashing their id
//! (GrowthBook's hash, so it is stable across runs and machines): they get
//! no action whatever their candidates, and are the control against which
//! [`measure`] reads what the decisions earned in the next round.

use serde::{Deserialize, Serialize};

use super::uplift::policy::{Economics, PolicyValue, evaluate_policy};
use crate::error::{Error, Result};
use crate::experiment::assign::Holdout;
use crate::lifecycle::stage::Play;
use crate::records::Channel;

/// One action the marketer can take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// What the marketer calls it, e.g. `win-back coupon`.
    pub name: String,
    /// The channel it is delivered on.
    pub channel: Channel,
    /// What one contact costs.
    pub cost_per_contact: f64,
    /// What one unit of outcome (a conversion, or revenue) is worth.
    pub value_per_outcome: f64,
    /// The lifecycle plays it serves; empty for any.
    pub plays: Vec<Play>,
}

/// Where a customer's uplift for an action comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpliftSource {
    /// A per-customer uplift model.
    Model,
    /// The measured effect in the customer's segment.
    Segment,
}

/// What is known about one customer when choosing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerInputs {
    /// The customer's id (hashed for the holdout).
    pub customer_id: String,
    /// The lifecycle play, if known.
    pub play: Option<Play>,
    /// Expected incremental outcome of each action (in [`NbaParams`]'s action order); NaN when unknown.
    pub uplift: Vec<f64>,
    /// Where the uplift figures come from.
    pub uplift_source: UpliftSource,
    /// The channel the customer responds on most, among consented ones.
    pub preferred_channel: Option<Channel>,
    /// Channels with marketing consent now.
    pub consented: Vec<Channel>,
    /// Contacts already made in the cap's window.
    pub recent_contacts: u32,
}

/// Settings of [`decide`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NbaParams {
    /// The actions, in the order of every customer's uplift figures.
    pub actions: Vec<Action>,
    /// No action for a customer with this many recent contacts.
    pub contact_cap: u32,
    /// Customers held out of every action, as the control of the next round.
    pub holdout: Holdout,
}

impl NbaParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] without actions; [`Error::InvalidParameter`]
    /// for a negative or non-finite cost or value, a holdout share outside
    /// [0, 1), or two actions with one name.
    pub fn check(&self) -> Result<()> {
        if self.actions.is_empty() {
            return Err(Error::empty("actions to choose from"));
        }
        for a in &self.actions {
            Economics {
                value_per_outcome: a.value_per_outcome,
                cost_per_contact: a.cost_per_contact,
            }
            .check()?;
        }
        for (i, a) in self.actions.iter().enumerate() {
            if self.actions[..i].iter().any(|b| b.name == a.name) {
                return Err(Error::duplicate("action names", a.name.clone()));
            }
        }
        if !(0.0..1.0).contains(&self.holdout.share) {
            return Err(Error::param(
                "holdout.share",
                self.holdout.share,
                "must lie in [0, 1)",
            ));
        }
        Ok(())
    }
}

/// One action considered for a customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The action (index into [`NbaParams::actions`]).
    pub action: usize,
    /// Uplift × value − cost.
    pub expected_profit: f64,
    /// Why it cannot be taken, if it cannot.
    pub blocked: Option<String>,
}

/// The decision for one customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The action to take, if any.
    pub action: Option<usize>,
    /// Its expected incremental profit (0 without an action).
    pub expected_profit: f64,
    /// Whether the customer is in the holdout (then no action is taken).
    pub held_out: bool,
    /// What would have been done without the holdout (its measurement's treatment).
    pub intended: Option<usize>,
    /// Why, in words.
    pub reason: String,
    /// The actions considered, most profitable first.
    pub candidates: Vec<Candidate>,
}

/// Per action, the uplift above which a customer's uplift counts as high (the top 10 %).
fn high_uplift(inputs: &[CustomerInputs], actions: usize) -> Vec<f64> {
    (0..actions)
        .map(|a| {
            let mut v: Vec<f64> = inputs
                .iter()
                .filter_map(|c| c.uplift.get(a).copied())
                .filter(|u| u.is_finite())
                .collect();
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => f64::INFINITY,
                n => v[(n * 9 / 10).min(n - 1)],
            }
        })
        .collect()
}

/// Decides the next best action of every customer.
///
/// # Errors
/// [`NbaParams::check`]'s errors; [`Error::LengthMismatch`] when a
/// customer's uplift figures are not one per action.
pub fn decide(inputs: &[CustomerInputs], params: &NbaParams) -> Result<Vec<Decision>> {
    params.check()?;
    let n_actions = params.actions.len();
    if let Some(c) = inputs.iter().find(|c| c.uplift.len() != n_actions) {
        return Err(Error::lengths(
            format!("uplift figures of customer `{}`", c.customer_id),
            n_actions,
            c.uplift.len(),
        ));
    }
    let high = high_uplift(inputs, n_actions);
    Ok(inputs
        .iter()
        .map(|c| decide_one(c, params, &high))
        .collect())
}

fn decide_one(c: &CustomerInputs, params: &NbaParams, high: &[f64]) -> Decision {
    let actions = &params.actions;
    let capped = c.recent_contacts >= params.contact_cap;
    let mut candidates: Vec<Candidate> = actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.plays.is_empty() || c.play.is_some_and(|p| a.plays.contains(&p)))
        .map(|(i, a)| {
            let uplift = c.uplift[i];
            let expected_profit = if uplift.is_finite() {
                uplift * a.value_per_outcome - a.cost_per_contact
            } else {
                f64::NAN
            };
            let blocked = if !uplift.is_finite() {
                Some("no uplift estimate".to_string())
            } else if !c.consented.contains(&a.channel) {
                Some(format!("no marketing consent on {}", a.channel.as_str()))
            } else if capped {
                Some(format!(
                    "contacted {} times, cap {}",
                    c.recent_contacts, params.contact_cap
                ))
            } else if expected_profit <= 0.0 {
                Some("not profitable".to_string())
            } else {
                None
            };
            Candidate {
                action: i,
                expected_profit,
                blocked,
            }
        })
        .collect();
    // Most profitable first; ties to the preferred channel, then the action order.
    let preferred = |i: usize| c.preferred_channel.as_ref() == Some(&actions[i].channel);
    candidates.sort_by(|a, b| {
        b.expected_profit
            .total_cmp(&a.expected_profit)
            .then(preferred(b.action).cmp(&preferred(a.action)))
            .then(a.action.cmp(&b.action))
    });
    let chosen = candidates.iter().find(|k| k.blocked.is_none());
    let held_out = params.holdout.share > 0.0 && params.holdout.holds_out(&c.customer_id);
    let play = c.play.map_or("no lifecycle stage".to_string(), |p| {
        p.as_str().replace('_', "-")
    });
    let reason = match chosen {
        Some(k) => {
            let a = &actions[k.action];
            let u = c.uplift[k.action];
            let level = if u >= high[k.action] {
                "high uplift"
            } else {
                "uplift"
            };
            let source = match c.uplift_source {
                UpliftSource::Model => "",
                UpliftSource::Segment => " in the segment",
            };
            let channel = if preferred(k.action) {
                format!("prefers {}, consented", a.channel.as_str())
            } else {
                format!("on {}, consented", a.channel.as_str())
            };
            let mut r = format!(
                "{play}; {level}{source} for the {} ({:+.1} pts), expected profit {:.2}; {channel}",
                a.name,
                100.0 * u,
                k.expected_profit
            );
            if held_out {
                r.push_str("; held out to measure the decisions");
            }
            r
        }
        None => {
            let why = candidates
                .first()
                .and_then(|k| {
                    k.blocked
                        .clone()
                        .map(|b| format!("{}: {b}", actions[k.action].name))
                })
                .unwrap_or_else(|| "no action serves this play".to_string());
            format!("{play}; no action ({why})")
        }
    };
    let intended = chosen.map(|k| k.action);
    Decision {
        action: if held_out { None } else { intended },
        expected_profit: match (held_out, chosen) {
            (false, Some(k)) => k.expected_profit,
            _ => 0.0,
        },
        held_out,
        intended,
        reason,
        candidates,
    }
}

/// What the decisions earned: among the customers with an intended action,
/// those who got it against those held out, valued with each action's
/// economics (one action at a time; see [`evaluate_policy`]).
///
/// # Errors
/// [`Error::LengthMismatch`] when decisions and outcomes differ in number;
/// [`evaluate_policy`]'s errors, e.g. too few held-out customers.
pub fn measure(
    decisions: &[Decision],
    outcomes: &[f64],
    action: usize,
    params: &NbaParams,
    level: f64,
) -> Result<PolicyValue> {
    if decisions.len() != outcomes.len() {
        return Err(Error::lengths(
            "outcomes per decision",
            decisions.len(),
            outcomes.len(),
        ));
    }
    let a = params
        .actions
        .get(action)
        .ok_or_else(|| Error::out_of_range("action", action, params.actions.len()))?;
    let target: Vec<bool> = decisions
        .iter()
        .map(|d| d.intended == Some(action))
        .collect();
    let treated: Vec<bool> = decisions.iter().map(|d| !d.held_out).collect();
    evaluate_policy(
        &target,
        outcomes,
        &treated,
        &Economics {
            value_per_outcome: a.value_per_outcome,
            cost_per_contact: a.cost_per_contact,
        },
        level,
    )
}
