//! One round of the loop, step by step.

use std::time::Instant;

use hashbrown::HashMap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::decide::{Decision, RoundContext, decide};
use super::inputs::Inputs;
use super::params::RoundParams;
use super::state::{Assigned, RoundState};
use super::target::{ExperimentUnits, TargetContext, Targeting, target};
use crate::error::{Error, Result};
use crate::experiment::allocate::{Allocation, recommend};
use crate::experiment::assign::BaseAssignment;
use crate::experiment::evaluate::{EvalParams, Evaluation, evaluate};
use crate::experiment::outcomes::Outcomes;
use crate::experiment::stats::{ExperimentStats, Metric, MetricColumn, MetricKind};
use crate::identity::{Applied, CustomerIdentity, IdentityUpdate};
use crate::lifecycle::customers::{CustomerLifecycle, NOT_YET_SEEN};
use crate::lifecycle::stage::Stage;
use crate::records::AMOUNT_SCALE;
use crate::segment::features::FeatureMatrix;
use crate::segment::model::{Described, ProfileContext, Segmentation, SegmentationParams};
use crate::segment::scale::TransformSpec;
use crate::segment::segments::Segments;
use crate::segment::stability::Migration;
use crate::store::{CustomerBase, to_micros};

/// How long a step took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTime {
    /// The step: `identity`, `lifecycle`, `features`, `segments`, `evaluation`, `decisions`, `assignment`.
    pub step: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// What the identity step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityStep {
    /// Source records held after the step.
    pub records: usize,
    /// Candidate pairs compared (first resolution) or involving new records (update).
    pub candidate_pairs: usize,
    /// Record pairs matched (first resolution) or links found for new records (update).
    pub matches: usize,
    /// The update, from the second round on.
    pub update: Option<IdentityUpdate>,
    /// How the resolution was applied to the events.
    pub applied: Applied,
}

/// Where each unit's segment came from when outcomes were evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentSource {
    /// The outcomes' own `segment` column.
    Outcomes,
    /// The segment the customer was assigned in (the previous round's state).
    Assignment,
    /// This round's segments: behaviour after the assignment may have
    /// moved customers, so per-segment effects are only indicative.
    Current,
}

/// The evaluation of the previous assignment's outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundEvaluation {
    /// Units in the outcomes.
    pub units: usize,
    /// Units matched to a customer with a segment and a known variant.
    pub evaluated: usize,
    /// Units whose customer was not found (by id, source record or a merged id).
    pub unknown_customer: usize,
    /// Units whose variant is not one of the design's.
    pub unknown_variant: usize,
    /// Units without a segment (left out, or an unknown segment).
    pub no_segment: usize,
    /// Where the segments came from.
    pub segment_source: SegmentSource,
    /// Conversion per variant × segment (CUPED on the pre-period covariate).
    pub conversion: Evaluation,
    /// Revenue per unit per variant × segment (CUPED).
    pub revenue: Evaluation,
    /// Thompson-sampling weights from the conversion statistics.
    pub allocation: Allocation,
}

/// One round of the loop: the customers, their lifecycle, segments and
/// the decision and next assignment per segment, every per-customer result
/// by the base's customer index.
#[derive(Debug, Clone)]
pub struct Round {
    /// The round's number (1 for the first).
    pub number: u32,
    /// The time every step describes.
    pub as_of: Timestamp,
    /// The resolved customers with all their events.
    pub base: CustomerBase,
    /// What identity resolution did.
    pub identity: IdentityStep,
    /// Lifecycle and value per customer.
    pub lifecycle: CustomerLifecycle,
    /// The describing features per customer (rows in base order; customers
    /// first seen after `as_of` are rows of missing values).
    pub features: FeatureMatrix,
    /// The segmentation fit (model, profiles); its labels are those of the
    /// customers seen by `as_of`, in base order.
    pub segmentation: Segmentation,
    /// How customers moved between segments since the previous round.
    pub migration: Option<Migration>,
    /// Each customer's segment.
    pub segments: Segments,
    /// The previous assignment's outcomes, evaluated per segment.
    pub evaluation: Option<RoundEvaluation>,
    /// The decision per segment id.
    pub decisions: Vec<Decision>,
    /// Each customer's next best action, when the round's targeting plan
    /// had something learned to act on (then it made the assignment).
    pub targeting: Option<Targeting>,
    /// The next experiment's variant per customer, everyone accounted for.
    pub assignment: BaseAssignment,
    /// Seconds per step.
    pub steps: Vec<StepTime>,
    /// What the next round starts from.
    pub state: RoundState,
}

/// Times the steps of a round and tells the observer after each.
struct Clock<'o> {
    steps: Vec<StepTime>,
    last: Instant,
    observer: &'o mut dyn FnMut(&StepTime),
}

impl Clock<'_> {
    fn lap(&mut self, step: &str) {
        let now = Instant::now();
        let time = StepTime {
            step: step.to_owned(),
            seconds: now.duration_since(self.last).as_secs_f64(),
        };
        (self.observer)(&time);
        self.steps.push(time);
        // The observer's own time is not the next step's.
        self.last = Instant::now();
    }
}

impl Round {
    /// Runs one round on `inputs` at `as_of`, continuing from `previous`
    /// (the last round's state) when given: identity resolution (new records
    /// attach to existing customers with stable ids), lifecycle and value,
    /// features and segments (the previous segments refitted in place, ids
    /// and names kept), the previous assignment's outcomes evaluated per
    /// segment, a decision per segment and the next assignment
    /// (deterministic hashing, consent at `as_of`, the design's holdout).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`RoundParams::check`]; errors of
    /// each step (e.g. no repeat buyers to fit lifecycle models on, fewer
    /// seen customers than segments).
    pub fn run(
        inputs: Inputs,
        as_of: Timestamp,
        params: &RoundParams,
        previous: Option<RoundState>,
    ) -> Result<Round> {
        Round::run_observed(inputs, as_of, params, previous, &mut |_| {})
    }

    /// [`run`](Self::run), telling `observer` as each step ends (e.g. to
    /// log progress, or to read the process's peak memory per step).
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn run_observed(
        inputs: Inputs,
        as_of: Timestamp,
        params: &RoundParams,
        previous: Option<RoundState>,
        observer: &mut dyn FnMut(&StepTime),
    ) -> Result<Round> {
        params.check()?;
        let mut clock = Clock {
            steps: Vec::new(),
            last: Instant::now(),
            observer,
        };
        let number = previous.as_ref().map_or(1, |p| p.number + 1);
        let Inputs {
            records,
            events,
            outcomes,
            ..
        } = inputs;
        // Taken, not copied: the resolver's state is the largest part of a
        // round's state, and the new state holds the updated one.
        let mut previous = previous;
        let previous_identity = previous.as_mut().and_then(|p| p.identity.take());

        // 1. Who the customers are.
        let (identity, base, identity_step) = if records.is_empty() {
            let counts = (events.n_transactions(), events.n_touchpoints());
            let n = events.n_customers();
            let applied = Applied {
                input_customers: n,
                records_with_data: 0,
                without_record: n,
                without_record_examples: Vec::new(),
                customers: n,
                merged_customers: 0,
                customers_without_events: 0,
                transactions: (counts.0, counts.0),
                touchpoints: (counts.1, counts.1),
                consent_events: (0, 0),
                amount_units: (0, 0),
            };
            let step = IdentityStep {
                records: 0,
                candidate_pairs: 0,
                matches: 0,
                update: None,
                applied,
            };
            (previous_identity, events, step)
        } else {
            let (identity, pairs, matches, update) = match previous_identity {
                Some(mut identity) => {
                    let update = identity.update(&records)?;
                    drop(records);
                    (
                        identity,
                        update.candidate_pairs,
                        update.merges.len(),
                        Some(update),
                    )
                }
                None => {
                    let (identity, resolution) =
                        CustomerIdentity::resolve(records, &params.identity)?;
                    (
                        identity,
                        resolution.candidate_pairs,
                        resolution.matches.len(),
                        None,
                    )
                }
            };
            let (base, applied) = identity.apply(events)?;
            let step = IdentityStep {
                records: identity.records().len(),
                candidate_pairs: pairs,
                matches,
                update,
                applied,
            };
            (Some(identity), base, step)
        };
        clock.lap("identity");

        // 2. Lifecycle and value.
        let lifecycle = params.lifecycle.fit(&base, as_of)?;
        clock.lap("lifecycle");

        // 3. Features, with their levels fixed in the first round.
        let (cluster_spec, describe_spec) = match &previous {
            Some(p) => (p.cluster_spec.clone(), p.describe_spec.clone()),
            None => (
                params.segments.cluster_on.resolve(&base)?,
                params.segments.describe.resolve(&base)?,
            ),
        };
        let seen: Vec<u32> = base
            .customer_indices()
            .filter(|&c| lifecycle.stage[c as usize].is_some())
            .collect();
        let seen_rows: Vec<usize> = seen.iter().map(|&c| c as usize).collect();
        let mut features = FeatureMatrix::from_base(&base, &describe_spec, as_of)?;
        features.with_lifecycle(&base, &lifecycle)?;
        let cluster = FeatureMatrix::from_base_rows(&base, &cluster_spec, as_of, seen.clone())?;
        clock.lap("features");

        // 4. Segments: found in the first round, refitted in place later,
        // described by the seen customers' rows of the features (not copied).
        let described = Described {
            matrix: &features,
            rows: (seen_rows.len() < features.n_rows()).then_some(seen_rows.as_slice()),
        };
        let stages: Vec<Stage> = seen
            .iter()
            .map(|&c| lifecycle.stage[c as usize].unwrap_or(Stage::Prospect))
            .collect();
        let value: Vec<f64> = seen
            .iter()
            .map(|&c| {
                let v = lifecycle.clv[c as usize];
                if v.is_finite() { v } else { 0.0 }
            })
            .collect();
        let context = ProfileContext {
            value: Some(&value),
            stages: Some(&stages),
        };
        let (segmentation, migration) = match &previous {
            Some(p) => {
                let refit = p.segmentation.update_owned(
                    cluster,
                    described,
                    &params.segments.kmeans,
                    context,
                )?;
                (refit.segmentation, Some(refit.migration))
            }
            None => {
                let fit = SegmentationParams {
                    transform: TransformSpec::log_counts(cluster.names()),
                    kmeans: params.segments.kmeans.clone(),
                    choose_k: params.segments.choose_k,
                };
                (
                    fit.cluster_owned(cluster)?.describe(described, context)?,
                    None,
                )
            }
        };
        let segments = Segments::from_rows(
            base.n_customers(),
            &seen,
            &segmentation.labels,
            segmentation.model.names.clone(),
            NOT_YET_SEEN,
        )?;
        clock.lap("segments");

        // 5. The previous assignment's outcomes, per segment.
        let plan = &params.experiment;
        let (evaluation, units) = match &outcomes {
            Some(o) if !o.is_empty() => {
                let (e, u) = evaluate_outcomes(
                    o,
                    &base,
                    identity.as_ref(),
                    &segments,
                    previous.as_ref(),
                    params,
                )?;
                (Some(e), Some(u))
            }
            _ => (None, None),
        };
        drop(outcomes);
        clock.lap("evaluation");

        // 6. A decision per segment.
        let variants = &plan.design.variants;
        let previous_decisions: HashMap<u32, &Decision> = previous
            .as_ref()
            .map(|p| p.decisions.iter().map(|d| (d.segment, d)).collect())
            .unwrap_or_default();
        let context = RoundContext {
            variants,
            design_weights: &plan.design.weights,
            min_units: plan.eval.min_units,
            round: number,
            params: &plan.decide,
        };
        let decisions: Vec<Decision> = segments
            .names()
            .iter()
            .enumerate()
            .map(|(s, name)| {
                let evaluated = evaluation.as_ref().and_then(|e| {
                    Some((e.conversion.segments.get(s)?, e.allocation.segments.get(s)?))
                });
                decide(
                    s as u32,
                    name,
                    evaluated,
                    previous_decisions.get(&(s as u32)).copied(),
                    &context,
                )
            })
            .collect();
        clock.lap("decisions");

        // 7. The next assignment, with what was learned.
        let allocation = Allocation {
            variants: variants.clone(),
            segments: decisions
                .iter()
                .map(|d| crate::experiment::allocate::SegmentAllocation {
                    segment: d.name.clone(),
                    probability_best: d.probability_best.clone(),
                    weights: d.weights.clone(),
                })
                .collect(),
        };
        // With a targeting plan and something learned, the decisions assign.
        let targeted = match &params.targeting {
            Some(plan_t) => target(&TargetContext {
                base: &base,
                as_of,
                lifecycle: &lifecycle,
                segments: &segments,
                segment_effects: decisions
                    .iter()
                    .map(|d| d.effect.as_ref().map(|e| (e.variant, e.abs_effect)))
                    .collect(),
                units: units.as_ref().zip(previous.as_ref().map(|p| p.as_of)),
                variants,
                key: &plan.design.key,
                plan: plan_t,
            })?,
            None => None,
        };
        drop(units);
        let (targeting, assignment) = match targeted {
            Some((t, a)) => (Some(t), a),
            None => {
                let consent = plan.consent.clone().map(|(c, p)| (c, p, as_of));
                (
                    None,
                    allocation.assign_base(&plan.design, &base, &segments, consent)?,
                )
            }
        };
        let mut assigned = Assigned::default();
        for c in base.customer_indices() {
            if let (Some(v), Some(s)) = (assignment.variant[c as usize], segments.segment_of(c)) {
                assigned.customer_ids.push(base.customer_id(c).to_owned());
                assigned.segment.push(s);
                assigned.variant.push(v);
            }
        }
        clock.lap("assignment");

        let state = RoundState {
            number,
            as_of,
            params: params.clone(),
            identity,
            lifecycle: lifecycle.models.clone(),
            cluster_spec,
            describe_spec,
            segmentation: segmentation.model.clone(),
            decisions: decisions.clone(),
            assigned,
        };
        Ok(Round {
            number,
            as_of,
            base,
            identity: identity_step,
            lifecycle,
            features,
            segmentation,
            migration,
            segments,
            evaluation,
            decisions,
            targeting,
            assignment,
            steps: clock.steps,
            state,
        })
    }
}

/// Revenue of every customer in `[until − weeks, until)`: the pre-period
/// covariate of CUPED, from the base itself.
pub fn pre_period_revenue(base: &CustomerBase, until: Timestamp, weeks: f64) -> Vec<f64> {
    let end = to_micros(until);
    let start = end - (weeks * 7.0 * 86_400.0 * 1e6) as i64;
    let (times, amounts, refunds) = (
        base.tx_time_micros(),
        base.tx_amount_units(),
        base.tx_is_refund(),
    );
    base.customer_indices()
        .map(|c| {
            let mut sum = 0i128;
            for i in base.transaction_range(c) {
                if times[i] >= start && times[i] < end && !refunds[i] {
                    sum += i128::from(amounts[i]);
                }
            }
            sum as f64 / AMOUNT_SCALE as f64
        })
        .collect()
}

/// Evaluates outcomes per segment: units mapped to customers (by customer
/// id, source record or a merged id), segments from the outcomes, else the
/// assignment, else the current segments; with the units evaluated.
fn evaluate_outcomes(
    outcomes: &Outcomes,
    base: &CustomerBase,
    identity: Option<&CustomerIdentity>,
    segments: &Segments,
    previous: Option<&RoundState>,
    params: &RoundParams,
) -> Result<(RoundEvaluation, ExperimentUnits)> {
    let plan = &params.experiment;
    let variants = &plan.design.variants;
    let customer_of = |unit: &str| -> Option<u32> {
        base.index_of(unit)
            .or_else(|| {
                identity
                    .and_then(|i| i.customer_of(unit))
                    .and_then(|id| base.index_of(&id))
            })
            .or_else(|| {
                identity
                    .and_then(|i| i.current_id(unit))
                    .and_then(|id| base.index_of(&id))
            })
    };
    let assigned_segment: HashMap<&str, u32> = previous
        .map(|p| {
            p.assigned
                .customer_ids
                .iter()
                .map(String::as_str)
                .zip(p.assigned.segment.iter().copied())
                .collect()
        })
        .unwrap_or_default();
    let segment_source = if outcomes.segment.is_some() {
        SegmentSource::Outcomes
    } else if !assigned_segment.is_empty() {
        SegmentSource::Assignment
    } else {
        SegmentSource::Current
    };
    let variant_index: Vec<Option<u32>> = outcomes
        .variants
        .iter()
        .map(|v| variants.iter().position(|x| x == v).map(|i| i as u32))
        .collect();
    // The covariate must precede the assignment: the outcomes' own, or the
    // revenue before the previous round's time; without either, no CUPED
    // (revenue before this round's time would include the experiment).
    let covariate = match (&outcomes.pre_revenue, previous) {
        (Some(_), _) | (None, None) => None,
        (None, Some(p)) => Some(pre_period_revenue(base, p.as_of, plan.pre_period_weeks)),
    };
    let has_covariate = outcomes.pre_revenue.is_some() || covariate.is_some();
    let k = segments.k() as u32;
    let (mut unknown_customer, mut unknown_variant, mut no_segment) = (0, 0, 0);
    let mut unit_customer = Vec::new();
    let mut unit_variant = Vec::new();
    let mut unit_segment = Vec::new();
    let mut converted = Vec::new();
    let mut revenue = Vec::new();
    let mut pre = Vec::new();
    for i in 0..outcomes.len() {
        let Some(c) = customer_of(&outcomes.units[i]) else {
            unknown_customer += 1;
            continue;
        };
        let Some(v) = variant_index
            .get(usize::from(outcomes.variant[i]))
            .copied()
            .flatten()
        else {
            unknown_variant += 1;
            continue;
        };
        let segment = match (&outcomes.segment, segment_source) {
            // By name first: an id only means something in the segmentation that assigned it.
            (Some(column), _) => column.get(i).and_then(|s| {
                segments
                    .names()
                    .iter()
                    .position(|n| n == s)
                    .map(|p| p as u32)
                    .or_else(|| s.parse::<u32>().ok())
            }),
            (None, SegmentSource::Assignment) => {
                let id = base.customer_id(c);
                assigned_segment.get(id).copied().or_else(|| {
                    // A customer merged since carries the unit's old id.
                    assigned_segment.get(outcomes.units[i].as_str()).copied()
                })
            }
            _ => segments.segment_of(c),
        };
        let Some(s) = segment.filter(|&s| s < k) else {
            no_segment += 1;
            continue;
        };
        unit_customer.push(c);
        unit_variant.push(v);
        unit_segment.push(s);
        converted.push(outcomes.converted[i]);
        revenue.push(outcomes.revenue[i]);
        pre.push(match (&outcomes.pre_revenue, &covariate) {
            (Some(p), _) => p[i],
            (None, Some(cov)) => cov.get(c as usize).copied().unwrap_or(0.0),
            (None, None) => 0.0,
        });
    }
    if unit_variant.is_empty() {
        return Err(Error::empty(format!(
            "outcomes to evaluate ({unknown_customer} units of unknown customers, \
             {unknown_variant} of unknown variants, {no_segment} without a segment)"
        )));
    }
    let stats = ExperimentStats::from_columns_many(
        variants.clone(),
        segments.names().to_vec(),
        &unit_variant,
        Some(&unit_segment),
        &[
            MetricColumn {
                metric: Metric::new("conversion", MetricKind::Binomial),
                value: &converted,
                second: has_covariate.then_some(pre.as_slice()),
            },
            MetricColumn {
                metric: Metric::new("revenue per unit", MetricKind::Mean),
                value: &revenue,
                second: has_covariate.then_some(pre.as_slice()),
            },
        ],
    )?;
    let (conversion_stats, revenue_stats) = match stats.as_slice() {
        [a, b] => (a, b),
        _ => {
            return Err(Error::lengths(
                "experiment statistics per metric",
                2,
                stats.len(),
            ));
        }
    };
    // The split each segment was planned with: the previous decisions.
    let segment_weights = previous.map(|p| {
        (0..segments.k() as u32)
            .map(|s| {
                p.decisions
                    .iter()
                    .find(|d| d.segment == s)
                    .map_or_else(|| plan.design.weights.clone(), |d| d.weights.clone())
            })
            .collect::<Vec<_>>()
    });
    let eval_params = EvalParams {
        planned_weights: Some(plan.design.weights.clone()),
        segment_weights,
        ..plan.eval.clone()
    };
    let conversion = evaluate(conversion_stats, &eval_params)?;
    let revenue = evaluate(revenue_stats, &eval_params)?;
    let allocation = recommend(conversion_stats, &plan.allocation)?;
    let evaluated = unit_variant.len();
    let units = ExperimentUnits {
        customer: unit_customer,
        variant: unit_variant,
        converted,
    };
    let evaluation = RoundEvaluation {
        units: outcomes.len(),
        evaluated,
        unknown_customer,
        unknown_variant,
        no_segment,
        segment_source,
        conversion,
        revenue,
        allocation,
    };
    Ok((evaluation, units))
}
