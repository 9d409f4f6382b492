//! The loop's targeting step: once a round has learned what the treatment
//! does (an uplift model from the last experiment's outcomes, or at least
//! each segment's measured effect), every customer gets a next best action
//! ([`crate::target::nba`]), and the next experiment's assignment follows
//! the decisions: whoever is offered a variant gets it, and the customers
//! held out of an action they would have got are its control, so the next
//! round measures what the decisions earned.
//!
//! The inputs per customer come from the round: the lifecycle play of the
//! customer's stage, the channel they respond on (with consent), the
//! uplift of each treatment variant, and the marketing messages (touchpoints
//! of a campaign) they received in the contact window.

use jiff::{SignedDuration, Timestamp};
use ndarray::Axis;
use serde::Serialize;

use super::params::TargetingPlan;
use crate::error::{Error, Result};
use crate::experiment::assign::{BaseAssignment, Holdout};
use crate::lifecycle::customers::CustomerLifecycle;
use crate::records::{Channel, Purpose};
use crate::segment::features::{FeatureMatrix, FeatureSpec};
use crate::segment::segments::Segments;
use crate::store::{CustomerBase, to_micros};
use crate::target::nba::{Action, CustomerInputs, Decision, NbaParams, UpliftSource, decide};
use crate::target::uplift::{Experiment, UpliftModel};
use crate::touchpoints::preference::{PreferenceParams, preferences};

/// The last experiment's units, as the round's evaluation matched them.
#[derive(Debug, Clone, Default)]
pub(super) struct ExperimentUnits {
    /// Customer index of each unit.
    pub customer: Vec<u32>,
    /// Its variant (0 = control).
    pub variant: Vec<u32>,
    /// Whether it converted (0 or 1).
    pub converted: Vec<f64>,
}

/// What the targeting step decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targeting {
    /// Where the uplift figures came from.
    pub uplift_source: UpliftSource,
    /// Units the uplift model was fitted on (0 with segment effects).
    pub trained_units: usize,
    /// The decision of every customer the round has seen (by customer
    /// index; `None` for one not seen yet).
    pub decisions: Vec<Option<Decision>>,
    /// Customers offered a treatment variant.
    pub offered: usize,
    /// Customers held out of an action they would have got (the control).
    pub held_out: usize,
}

/// What the step needs from the round.
pub(super) struct TargetContext<'a> {
    pub base: &'a CustomerBase,
    pub as_of: Timestamp,
    pub lifecycle: &'a CustomerLifecycle,
    pub segments: &'a Segments,
    /// Each segment's measured absolute effect of its best variant, if any: (variant, effect).
    pub segment_effects: Vec<Option<(usize, f64)>>,
    /// The last experiment's units and when they were assigned.
    pub units: Option<(&'a ExperimentUnits, Timestamp)>,
    /// Variant names, control first.
    pub variants: &'a [String],
    /// The experiment's key (names the holdout's hash).
    pub key: &'a str,
    pub plan: &'a TargetingPlan,
}

/// Decides every seen customer's next best action and the assignment that
/// follows from it; `None` when nothing has been learned yet (no model and
/// no segment effect: the round runs its experiment as designed).
pub(super) fn target(ctx: &TargetContext<'_>) -> Result<Option<(Targeting, BaseAssignment)>> {
    let plan = ctx.plan;
    let base = ctx.base;
    let treatments = ctx.variants.len().saturating_sub(1);
    let seen: Vec<u32> = base
        .customer_indices()
        .filter(|&c| ctx.lifecycle.stage[c as usize].is_some())
        .collect();
    let spec = plan.features.resolve(base)?;
    let model = match ctx.units {
        Some((units, assigned_at)) if units.customer.len() >= plan.min_units => {
            match fit_uplift(base, &spec, units, assigned_at, plan) {
                Ok(fitted) => Some(fitted),
                // An arm without enough units (or converters) to learn from:
                // the segments' effects stand in.
                Err(Error::TooFew { .. }) => None,
                Err(e) => return Err(e),
            }
        }
        _ => None,
    };
    let (source, trained, uplift): (UpliftSource, usize, Vec<Vec<f64>>) = match model {
        Some((model, names, trained)) => {
            let m = FeatureMatrix::from_base_rows(base, &spec, ctx.as_of, seen.clone())?;
            let x = m.select(&names.iter().map(String::as_str).collect::<Vec<_>>())?;
            let u = model.predict(x.values())?;
            let rows = u.rows().into_iter().map(|r| r.to_vec()).collect();
            (UpliftSource::Model, trained, rows)
        }
        None if ctx.segment_effects.iter().any(Option::is_some) => {
            let rows = seen
                .iter()
                .map(|&c| {
                    let effect = ctx
                        .segments
                        .segment_of(c)
                        .and_then(|s| ctx.segment_effects.get(s as usize).copied().flatten());
                    (1..=treatments)
                        .map(|v| match effect {
                            Some((best, e)) if best == v => e,
                            _ => f64::NAN,
                        })
                        .collect()
                })
                .collect();
            (UpliftSource::Segment, 0, rows)
        }
        None => return Ok(None),
    };

    let prefs = preferences(
        base,
        &PreferenceParams {
            as_of: Some(ctx.as_of),
            ..PreferenceParams::default()
        },
    )?;
    let window_start =
        to_micros(ctx.as_of - SignedDuration::from_hours(24 * i64::from(plan.contact_window_days)));
    let as_of_us = to_micros(ctx.as_of);
    let (tp_time, tp_campaign) = (base.tp_time_micros(), base.tp_campaign_codes());
    let actions = actions_of(plan, ctx.variants)?;
    let mut channels: Vec<&Channel> = Vec::new();
    for a in &actions {
        if !channels.contains(&&a.channel) {
            channels.push(&a.channel);
        }
    }
    let inputs: Vec<CustomerInputs> = seen
        .iter()
        .zip(uplift)
        .map(|(&c, uplift)| {
            let consented: Vec<Channel> = channels
                .iter()
                .filter(|ch| base.allows(c, ch, &Purpose::Marketing, ctx.as_of))
                .map(|ch| (*ch).clone())
                .collect();
            let recent_contacts = base
                .touchpoint_range(c)
                .filter(|&i| {
                    tp_time[i] > window_start
                        && tp_time[i] <= as_of_us
                        && tp_campaign.get(i).is_some_and(|&k| k != u32::MAX)
                })
                .count();
            CustomerInputs {
                customer_id: base.customer_id(c).to_owned(),
                play: ctx.lifecycle.stage[c as usize].map(|s| s.play()),
                uplift,
                uplift_source: source,
                preferred_channel: prefs
                    .customers
                    .get(c as usize)
                    .and_then(|p| p.preferred.clone()),
                consented,
                recent_contacts: u32::try_from(recent_contacts).unwrap_or(u32::MAX),
            }
        })
        .collect();
    let params = NbaParams {
        actions,
        contact_cap: plan.contact_cap,
        holdout: Holdout {
            key: format!("{}_next_best_action", ctx.key),
            share: plan.holdout_share,
        },
    };
    let decided = decide(&inputs, &params)?;

    let n = base.n_customers();
    let mut assignment = BaseAssignment {
        variant: vec![None; n],
        counts: vec![0; ctx.variants.len()],
        not_targeted: n - seen.len(),
        no_consent: 0,
        held_out: 0,
        not_in_namespace: 0,
        not_covered: 0,
    };
    let mut decisions: Vec<Option<Decision>> = vec![None; n];
    let (mut offered, mut held_out) = (0, 0);
    for ((&c, d), input) in seen.iter().zip(decided).zip(&inputs) {
        let variant = match (d.action, d.held_out, d.intended) {
            (Some(a), _, _) => Some(a + 1),
            (None, true, Some(_)) => Some(0),
            _ => None,
        };
        match variant {
            Some(v) => {
                assignment.variant[c as usize] = Some(v as u16);
                assignment.counts[v] += 1;
                if v == 0 {
                    held_out += 1;
                } else {
                    offered += 1;
                }
            }
            None if input.consented.is_empty() => assignment.no_consent += 1,
            None if d.held_out => assignment.held_out += 1,
            None => assignment.not_targeted += 1,
        }
        decisions[c as usize] = Some(d);
    }
    Ok(Some((
        Targeting {
            uplift_source: source,
            trained_units: trained,
            decisions,
            offered,
            held_out,
        },
        assignment,
    )))
}

/// The actions of the treatment variants (in variant order): each as the
/// plan lists it, else on the plan's channel and economics for any play.
fn actions_of(plan: &TargetingPlan, variants: &[String]) -> Result<Vec<Action>> {
    if let Some(a) = plan
        .actions
        .iter()
        .find(|a| !variants[1..].contains(&a.variant))
    {
        return Err(Error::NotFound {
            what: "treatment variant of a targeting action",
            id: a.variant.clone(),
        });
    }
    Ok(variants[1..]
        .iter()
        .map(
            |name| match plan.actions.iter().find(|a| &a.variant == name) {
                Some(a) => Action {
                    name: name.clone(),
                    channel: a.channel.clone(),
                    cost_per_contact: a.cost_per_contact,
                    value_per_outcome: a.value_per_conversion,
                    plays: a.plays.clone(),
                },
                None => Action {
                    name: name.clone(),
                    channel: plan.channel.clone(),
                    cost_per_contact: plan.cost_per_contact,
                    value_per_outcome: plan.value_per_conversion,
                    plays: Vec::new(),
                },
            },
        )
        .collect())
}

/// The uplift model of the last experiment: features as of its assignment,
/// columns constant over its units left out; the model, its columns and the
/// units it learned from.
fn fit_uplift(
    base: &CustomerBase,
    spec: &FeatureSpec,
    units: &ExperimentUnits,
    assigned_at: Timestamp,
    plan: &TargetingPlan,
) -> Result<(UpliftModel, Vec<String>, usize)> {
    let m = FeatureMatrix::from_base_rows(base, spec, assigned_at, units.customer.clone())?;
    let x = m.values();
    let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
    let keep: Vec<usize> = (0..x.ncols())
        .filter(|&j| {
            let col = x.column(j);
            col.first()
                .is_some_and(|&v0| col.iter().any(|&v| !same(v, v0)))
        })
        .collect();
    let names: Vec<String> = keep.iter().map(|&j| m.names()[j].clone()).collect();
    let x = x.select(Axis(1), &keep);
    let arm: Vec<usize> = units.variant.iter().map(|&v| v as usize).collect();
    let model = UpliftModel::fit(
        &plan.uplift,
        &Experiment {
            x: x.view(),
            arm: &arm,
            outcome: &units.converted,
            feature_names: &names,
        },
    )?;
    Ok((model, names, units.customer.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::stage::Play;
    use crate::round::params::VariantAction;

    #[test]
    fn listed_variants_keep_their_delivery_and_the_rest_take_the_plans() {
        let variants: Vec<String> = ["control", "coupon", "reminder"].map(String::from).to_vec();
        let plan = TargetingPlan {
            actions: vec![VariantAction {
                variant: "coupon".into(),
                channel: Channel::Sms,
                cost_per_contact: 0.08,
                value_per_conversion: 20.0,
                plays: vec![Play::WinBack, Play::Reactivate],
            }],
            ..TargetingPlan::default()
        };
        let actions = actions_of(&plan, &variants).unwrap();
        assert_eq!(actions.len(), 2);
        assert_eq!(
            (
                actions[0].name.as_str(),
                &actions[0].channel,
                actions[0].plays.len()
            ),
            ("coupon", &Channel::Sms, 2)
        );
        assert_eq!(actions[0].cost_per_contact, 0.08);
        assert_eq!(
            (actions[1].name.as_str(), &actions[1].channel),
            ("reminder", &plan.channel)
        );
        assert_eq!(actions[1].value_per_outcome, plan.value_per_conversion);
        assert!(actions[1].plays.is_empty());

        let mut unknown = plan.clone();
        unknown.actions[0].variant = "control".into();
        assert!(matches!(
            actions_of(&unknown, &variants),
            Err(Error::NotFound { .. })
        ));
        let mut twice = plan.clone();
        twice.actions.push(plan.actions[0].clone());
        assert!(matches!(twice.check(), Err(Error::Duplicate { .. })));
    }
}
