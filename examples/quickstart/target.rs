//! Step 7 of the quickstart: who to target, with what. A propensity model
//! of who buys in the next four weeks, an uplift model learned from round
//! 1's experiment, and the next best action per customer, each beside the
//! truth: the oracle's scores, what the customers did, and what each policy
//! earns under the true effects.

use std::time::Instant;

use custinsight::Result;
use custinsight::experiment::outcomes::Outcomes;
use custinsight::lifecycle::customers::LifecycleParams;
use custinsight::records::Purpose;
use custinsight::round::{Round, TargetingPlan};
use custinsight::segment::features::FeatureSpec;
use custinsight::synth::Population;
use custinsight::target::boost::BoostParams;
use custinsight::target::calibrate::CalibrationMethod;
use custinsight::target::context::FeatureContext;
use custinsight::target::metrics::{
    GainRow, ReliabilityBin, expected_calibration_error, gain_table, reliability, roc_auc,
};
use custinsight::target::nba::Decision;
use custinsight::target::propensity::Propensity;
use custinsight::target::training::{Label, TrainingParams, scoring_set, training_set};
use custinsight::target::uplift::metrics::{
    NegativeEffects, UpliftCurve, qini_coefficient, qini_curve,
};
use custinsight::target::uplift::{Experiment, MetaLearner, UpliftModel, UpliftParams};
use jiff::{SignedDuration, Timestamp};
use ndarray::{Array2, Axis};
use serde_json::json;

/// Days after the end the propensity model predicts.
pub const HORIZON_DAYS: u32 = 28;

/// Round 1's experiment as uplift training data: features as of round 1.
pub struct UpliftData {
    /// The features, resolved once so round 2's rows have the same columns.
    pub spec: FeatureSpec,
    pub feature_names: Vec<String>,
    pub x: Array2<f64>,
    /// 0 = control, 1 = offer.
    pub arm: Vec<usize>,
    pub converted: Vec<f64>,
    /// Each unit's true effect.
    pub truth: Vec<f64>,
}

impl UpliftData {
    /// The units round 1 assigned, in `outcomes`' order (one per assigned
    /// customer with a true customer, as [`Population::simulate_outcomes`]
    /// wrote them), with their features as of `as_of`.
    pub fn of(
        round: &Round,
        truth: &[Option<u32>],
        outcomes: &Outcomes,
        pop: &Population,
        as_of: Timestamp,
    ) -> Result<UpliftData> {
        let spec = FeatureSpec::default().resolve(&round.base)?;
        let score = scoring_set(
            &round.base,
            &spec,
            &FeatureContext::lifecycle(LifecycleParams::default()),
            as_of,
        )?;
        let mut row_of = vec![usize::MAX; round.base.n_customers()];
        for (r, &c) in score.customer.iter().enumerate() {
            row_of[c as usize] = r;
        }
        let (mut rows, mut arm, mut converted, mut effects) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut unit = 0;
        for c in round.base.customer_indices() {
            let (Some(_), Some(t)) = (round.assignment.variant[c as usize], truth[c as usize])
            else {
                continue;
            };
            let i = unit;
            unit += 1;
            let r = row_of[c as usize];
            if r == usize::MAX || i >= outcomes.len() {
                continue;
            }
            rows.push(r);
            arm.push(usize::from(outcomes.variant[i] > 0));
            converted.push(outcomes.converted[i]);
            effects.push(pop.treatment_effect(t));
        }
        // Columns that hold one value for every unit carry nothing to learn.
        let x = score.x.select(Axis(0), &rows);
        let keep = varying(&x);
        Ok(UpliftData {
            spec,
            feature_names: keep
                .iter()
                .map(|&j| score.feature_names[j].clone())
                .collect(),
            x: x.select(Axis(1), &keep),
            arm,
            converted,
            truth: effects,
        })
    }
}

/// A policy's incremental conversions under the true effects.
pub struct PolicyEarnings {
    pub name: &'static str,
    pub treated: usize,
    /// Expected incremental conversions.
    pub conversions: f64,
    /// Half-width of the 95 % interval of the realised conversions.
    pub half_width: f64,
    /// The next best action's lead over this policy, with its half-width.
    pub behind_nba: Option<(f64, f64)>,
}

/// What step 7 found.
pub struct TargetStep {
    pub scored: usize,
    pub buyers: usize,
    /// AUC on buyers: model, history oracle, latent oracle.
    pub auc_buyers: (f64, f64, f64),
    /// AUC on everyone scored: model, history oracle.
    pub auc_all: (f64, f64),
    /// ECE on buyers: model, history oracle.
    pub ece: (f64, f64),
    pub gain_model: Vec<GainRow>,
    pub gain_oracle: Vec<GainRow>,
    pub reliability_model: Vec<ReliabilityBin>,
    pub reliability_oracle: Vec<ReliabilityBin>,
    pub uplift_train_units: usize,
    pub uplift_test_units: usize,
    pub qini: (f64, f64),
    pub qini_model: UpliftCurve,
    pub qini_oracle: UpliftCurve,
    pub value_per_conversion: f64,
    pub cost_per_contact: f64,
    pub holdout_share: f64,
    pub decided: usize,
    pub held_out: usize,
    pub examples: Vec<(String, String)>,
    pub policies: Vec<PolicyEarnings>,
    pub seconds: f64,
}

/// The columns of `x` that hold more than one value.
fn varying(x: &Array2<f64>) -> Vec<usize> {
    let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
    (0..x.ncols())
        .filter(|&j| {
            let col = x.column(j);
            col.first()
                .is_some_and(|&v0| col.iter().any(|&v| !same(v, v0)))
        })
        .collect()
}

/// The columns `wanted` of `x`, whose columns are `names`.
impl TargetStep {
    pub fn run(
        round: &Round,
        truth: &[Option<u32>],
        pop: &Population,
        data: &UpliftData,
        plan: &TargetingPlan,
        seed: u64,
    ) -> Result<TargetStep> {
        let started = Instant::now();
        let end = round.as_of;
        let weeks = f64::from(HORIZON_DAYS) / 7.0;
        let context = FeatureContext::lifecycle(LifecycleParams::default());

        // Propensity: trained on four earlier 28-day windows, the last for calibration.
        let day = SignedDuration::from_hours(24);
        let set = training_set(
            &round.base,
            &TrainingParams {
                features: data.spec.clone(),
                label: Label::Purchase,
                horizon_days: HORIZON_DAYS,
                cutoffs: (1..=4).rev().map(|k| end - day * (29 * k)).collect(),
                context: context.clone(),
            },
        )?;
        let propensity = Propensity::fit_out_of_time(
            &set,
            &BoostParams {
                trees: 100,
                max_depth: 4,
                min_rows_in_leaf: 50,
                seed,
                ..BoostParams::default()
            },
            CalibrationMethod::Isotonic,
        )?;
        let score = scoring_set(&round.base, &data.spec, &context, end)?;
        let p = propensity.predict_proba(score.select(propensity.feature_names())?.view())?;
        // Scored customers with a true customer.
        let known: Vec<(usize, u32)> = score
            .customer
            .iter()
            .enumerate()
            .filter_map(|(r, &c)| truth[c as usize].map(|t| (r, t)))
            .collect();
        let bought: Vec<bool> = known
            .iter()
            .map(|&(_, t)| pop.bought_within(t, weeks).unwrap_or(false))
            .collect();
        let model_p: Vec<f64> = known.iter().map(|&(r, _)| p[r]).collect();
        let history: Vec<f64> = known
            .iter()
            .map(|&(_, t)| pop.purchase_probability_from_history(t, weeks))
            .collect();
        let latent: Vec<f64> = known
            .iter()
            .map(|&(_, t)| pop.purchase_probability(t, weeks))
            .collect();
        let buyer: Vec<usize> = (0..known.len())
            .filter(|&i| pop.truth.purchases_in_observation[known[i].1 as usize] > 0)
            .collect();
        let pick = |v: &[f64]| buyer.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let bought_b: Vec<bool> = buyer.iter().map(|&i| bought[i]).collect();
        let (mb, hb, lb) = (pick(&model_p), pick(&history), pick(&latent));

        // Uplift: round 1's units, split in halves by a fixed hash of the row.
        let (fit_rows, test_rows): (Vec<usize>, Vec<usize>) = (0..data.arm.len())
            .partition(|&i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 63 == 0);
        let mut uplift_params = UpliftParams {
            learner: MetaLearner::X,
            seed,
            ..UpliftParams::default()
        };
        // Shallow trees: the effect is a small difference between noisy rates.
        uplift_params.base.max_depth = 2;
        let take = |v: &[f64], rows: &[usize]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let arms: Vec<usize> = fit_rows.iter().map(|&i| data.arm[i]).collect();
        let x_fit = data.x.select(Axis(0), &fit_rows);
        let keep = varying(&x_fit);
        let names: Vec<String> = keep
            .iter()
            .map(|&j| data.feature_names[j].clone())
            .collect();
        let uplift = UpliftModel::fit(
            &uplift_params,
            &Experiment {
                x: x_fit.select(Axis(1), &keep).view(),
                arm: &arms,
                outcome: &take(&data.converted, &fit_rows),
                feature_names: &names,
            },
        )?;
        let x_test = data.x.select(Axis(0), &test_rows).select(Axis(1), &keep);
        let predicted = uplift.predict(x_test.view())?;
        let predicted: Vec<f64> = predicted.column(0).to_vec();
        let y = take(&data.converted, &test_rows);
        let treated: Vec<bool> = test_rows.iter().map(|&i| data.arm[i] == 1).collect();
        let true_effect = take(&data.truth, &test_rows);

        // The round's next best action: its targeting step learned uplift
        // from the same experiment (all of it) and decided for everyone.
        let targeting = round.targeting.as_ref().ok_or_else(|| {
            custinsight::Error::InvalidInput("round 2 made no next-best-action decisions".into())
        })?;
        let customers: Vec<u32> = known.iter().map(|&(_, t)| t).collect();
        let (mut decisions, mut ids, mut consented) = (Vec::new(), Vec::new(), Vec::new());
        for &(r, _) in &known {
            let c = score.customer[r];
            let Some(d) = targeting.decisions[c as usize].clone() else {
                return Err(custinsight::Error::InvalidInput(format!(
                    "customer {} was scored but has no decision",
                    round.base.customer_id(c)
                )));
            };
            decisions.push(d);
            ids.push(round.base.customer_id(c).to_owned());
            consented.push(
                round
                    .base
                    .allows(c, &plan.channel, &Purpose::Marketing, end),
            );
        }
        let by_nba: Vec<bool> = decisions.iter().map(|d| d.action.is_some()).collect();
        let reachable: Vec<bool> = decisions
            .iter()
            .zip(&consented)
            .map(|(d, &ok)| ok && !d.held_out)
            .collect();
        // The segment-level rule: the round's measured effect per segment.
        let segment_pays: Vec<bool> = round
            .decisions
            .iter()
            .map(|d| {
                d.effect.as_ref().is_some_and(|e| {
                    e.abs_effect * plan.value_per_conversion > plan.cost_per_contact
                })
            })
            .collect();
        let by_segment: Vec<bool> = known
            .iter()
            .zip(&reachable)
            .map(|(&(r, _), &ok)| {
                ok && round
                    .segments
                    .segment_of(score.customer[r])
                    .and_then(|s| segment_pays.get(s as usize).copied())
                    .unwrap_or(false)
            })
            .collect();
        let lead = |other: &[bool]| {
            let (d, var) = pop.incremental_lead(&customers, &by_nba, other);
            (d, 1.96 * var.sqrt())
        };
        let policy = |name, treat: &[bool], behind: Option<(f64, f64)>| {
            let (conversions, var) = pop.incremental_conversions(&customers, treat);
            PolicyEarnings {
                name,
                treated: treat.iter().filter(|t| **t).count(),
                conversions,
                half_width: 1.96 * var.sqrt(),
                behind_nba: behind,
            }
        };
        let policies = vec![
            policy("next best action", &by_nba, None),
            policy("everyone reachable", &reachable, Some(lead(&reachable))),
            policy("segment rule", &by_segment, Some(lead(&by_segment))),
        ];
        let examples = examples(&decisions, &ids);

        Ok(TargetStep {
            scored: known.len(),
            buyers: buyer.len(),
            auc_buyers: (
                roc_auc(&mb, &bought_b)?,
                roc_auc(&hb, &bought_b)?,
                roc_auc(&lb, &bought_b)?,
            ),
            auc_all: (roc_auc(&model_p, &bought)?, roc_auc(&history, &bought)?),
            ece: (
                expected_calibration_error(&mb, &bought_b, 10)?,
                expected_calibration_error(&hb, &bought_b, 10)?,
            ),
            gain_model: gain_table(&mb, &bought_b, 10)?,
            gain_oracle: gain_table(&hb, &bought_b, 10)?,
            reliability_model: reliability(&mb, &bought_b, 10)?,
            reliability_oracle: reliability(&hb, &bought_b, 10)?,
            uplift_train_units: fit_rows.len(),
            uplift_test_units: test_rows.len(),
            qini: (
                qini_coefficient(&y, &predicted, &treated, NegativeEffects::Allowed)?,
                qini_coefficient(&y, &true_effect, &treated, NegativeEffects::Allowed)?,
            ),
            qini_model: qini_curve(&y, &predicted, &treated)?,
            qini_oracle: qini_curve(&y, &true_effect, &treated)?,
            value_per_conversion: plan.value_per_conversion,
            cost_per_contact: plan.cost_per_contact,
            holdout_share: plan.holdout_share,
            decided: targeting.offered,
            held_out: targeting.held_out,
            examples,
            policies,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    pub fn print(&self) {
        let (m, h, l) = self.auc_buyers;
        println!(
            "   propensity (buys in the next {HORIZON_DAYS} days), {} buyers scored at the end:",
            self.buyers
        );
        println!(
            "     AUC {m:.3}; oracle from the purchase history {h:.3}; knowing who silently dropped out {l:.3}"
        );
        println!(
            "     calibration error {:.3} (oracle {:.3}); top decile holds {:.0}% of next month's buyers (oracle {:.0}%)",
            self.ece.0,
            self.ece.1,
            100.0
                * self
                    .gain_model
                    .first()
                    .map_or(f64::NAN, |g| g.cumulative_gain),
            100.0
                * self
                    .gain_oracle
                    .first()
                    .map_or(f64::NAN, |g| g.cumulative_gain),
        );
        println!(
            "     everyone with prospects: AUC {:.3} vs oracle {:.3} (prospects only start buying after the data end)",
            self.auc_all.0, self.auc_all.1
        );
        println!(
            "   uplift (X-learner on round 1's experiment, {} units; measured on {} others):",
            self.uplift_train_units, self.uplift_test_units
        );
        println!(
            "     Qini coefficient {:.3}; with the true effects {:.3}",
            self.qini.0, self.qini.1
        );
        println!(
            "   next best action (round 2's assignment): offer where uplift × {:.2} € − {:.2} € > 0; {} offered, {} held out as its control",
            self.value_per_conversion, self.cost_per_contact, self.decided, self.held_out
        );
        for (id, reason) in &self.examples {
            println!("     {id}: {reason}");
        }
        println!(
            "   incremental conversions under the true effects (95% interval of what is realised):"
        );
        for p in &self.policies {
            let behind = p.behind_nba.map_or(String::new(), |(d, w)| {
                format!("; next best action earns {d:+.0} ± {w:.0} more")
            });
            println!(
                "     {:<19} {:>6} offered  {:>7.0} ± {:.0}{behind}",
                p.name, p.treated, p.conversions, p.half_width
            );
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "propensity": {
                "horizon_days": HORIZON_DAYS,
                "scored": self.scored,
                "buyers": self.buyers,
                "auc_buyers": self.auc_buyers.0,
                "auc_oracle_history": self.auc_buyers.1,
                "auc_oracle_latent": self.auc_buyers.2,
                "auc_everyone": self.auc_all.0,
                "auc_everyone_oracle_history": self.auc_all.1,
                "ece": self.ece.0,
                "ece_oracle_history": self.ece.1,
            },
            "uplift": {
                "learner": "x",
                "train_units": self.uplift_train_units,
                "test_units": self.uplift_test_units,
                "qini": self.qini.0,
                "qini_oracle": self.qini.1,
            },
            "next_best_action": {
                "value_per_conversion": self.value_per_conversion,
                "cost_per_contact": self.cost_per_contact,
                "offered": self.decided,
                "held_out": self.held_out,
                "policies": self.policies.iter().map(|p| json!({
                    "policy": p.name, "offered": p.treated,
                    "incremental_conversions": p.conversions, "ci_half_width": p.half_width,
                    "next_best_action_lead": p.behind_nba.map(|(d, w)| json!({"conversions": d, "ci_half_width": w})),
                })).collect::<Vec<_>>(),
            },
            "seconds": self.seconds,
        })
    }
}

/// A few decisions with their reasons: the most profitable offers, and one
/// customer left out for each other reason.
fn examples(decisions: &[Decision], ids: &[String]) -> Vec<(String, String)> {
    let mut order: Vec<usize> = (0..decisions.len()).collect();
    order.sort_by(|&a, &b| {
        decisions[b]
            .expected_profit
            .total_cmp(&decisions[a].expected_profit)
    });
    let mut out: Vec<(String, String)> = order
        .iter()
        .take(2)
        .map(|&i| (ids[i].clone(), decisions[i].reason.clone()))
        .collect();
    let mut seen: Vec<&str> = Vec::new();
    for &i in order.iter().rev() {
        let d = &decisions[i];
        if d.action.is_some() {
            continue;
        }
        // After the play comes why not (e.g. no consent, not worth the contact).
        let kind = d
            .reason
            .split_once("; ")
            .map_or(d.reason.as_str(), |(_, why)| why);
        let kind = kind.split_once(": ").map_or(kind, |(_, why)| why);
        if seen.contains(&kind) || seen.len() >= 3 {
            continue;
        }
        seen.push(kind);
        out.push((ids[i].clone(), d.reason.clone()));
    }
    out
}
