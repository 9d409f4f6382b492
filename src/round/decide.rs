//! From a segment's evaluation to its decision, one story with the verdict.
//!
//! The verdict ([`Verdict`](crate::experiment::evaluate::Verdict)) answers
//! "did a variant win, significantly, after correcting for the number of
//! segments tested?"; Thompson sampling
//! ([`allocate`](crate::experiment::allocate)) answers "where should the
//! next units go to learn and earn?". They can disagree: after a few hundred
//! units P(best) may be 0.98 while the Holm-adjusted p-value is 0.08. The
//! decision says which case it is, and why:
//!
//! | kind | when | next split |
//! |---|---|---|
//! | [`Ship`](DecisionKind::Ship) | the verdict names a winner | the winner, with `keep_measuring` on every other variant so the effect stays measured |
//! | [`Lean`](DecisionKind::Lean) | no confirmed winner, but P(best) ≥ `lean_at` | Thompson weights: traffic follows the posterior while the test goes on (exploration, not a confirmed result) |
//! | [`KeepTesting`](DecisionKind::KeepTesting) | no variant is clearly better, or arms are too small | Thompson weights (near the current split), with the units still needed |
//! | [`NoData`](DecisionKind::NoData) | no outcomes in the segment yet | the design's split |
//!
//! A segment without new outcomes keeps its previous decision, so the next
//! round uses what was learned.

use serde::{Deserialize, Serialize};

use super::params::DecisionParams;
use crate::experiment::allocate::SegmentAllocation;
use crate::experiment::evaluate::{Comparison, SegmentResult};
use crate::experiment::power::{Effect, PlannedMetric, PowerParams, sample_size};

/// What the loop does in a segment next round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// No outcomes in the segment yet: the design's split.
    NoData,
    /// No variant is clearly better yet: keep testing.
    KeepTesting,
    /// No confirmed winner, but the posterior favours one variant strongly:
    /// traffic follows it while the test continues.
    Lean,
    /// A variant won after multiple-testing correction.
    Ship,
}

impl DecisionKind {
    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DecisionKind::NoData => "no_data",
            DecisionKind::KeepTesting => "keep_testing",
            DecisionKind::Lean => "lean",
            DecisionKind::Ship => "ship",
        }
    }
}

impl std::fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The effect behind a decision (treatment against control, absolute).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecisionEffect {
    /// The variant compared with control.
    pub variant: usize,
    /// Absolute effect (a conversion rate's difference).
    pub abs_effect: f64,
    /// Its confidence interval; `None` when the absolute test is undefined
    /// (e.g. nobody converted in either arm).
    pub abs_ci: Option<[f64; 2]>,
    /// Holm-adjusted p-value over every segment × treatment comparison;
    /// `None` without an absolute test.
    pub p_value_holm: Option<f64>,
}

/// One segment's decision for the next round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Segment id.
    pub segment: u32,
    /// Segment name.
    pub name: String,
    /// What to do.
    pub kind: DecisionKind,
    /// The winner (ship) or the favourite (lean).
    pub variant: Option<usize>,
    /// The next round's traffic weights, one per variant (sum to 1).
    pub weights: Vec<f64>,
    /// Why, with the numbers.
    pub reason: String,
    /// Units per variant in the evaluation behind it (empty without one).
    pub units: Vec<u64>,
    /// The best treatment's effect against control, when evaluated.
    pub effect: Option<DecisionEffect>,
    /// Posterior probability that each variant is best (empty without data).
    pub probability_best: Vec<f64>,
    /// The round whose outcomes decided (the current one, or an earlier one carried over).
    pub decided_in: u32,
}

/// What every segment's decision in a round shares: the experiment's
/// variants, the design's split, the minimum units per arm, the round's
/// number and the decision settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoundContext<'a> {
    /// Variant names, control first.
    pub(crate) variants: &'a [String],
    /// The design's planned weights (not necessarily normalised).
    pub(crate) design_weights: &'a [f64],
    /// Arms with fewer units keep the split and collect more.
    pub(crate) min_units: u64,
    /// The round being decided.
    pub(crate) round: u32,
    /// The decision settings.
    pub(crate) params: &'a DecisionParams,
}

/// The decision of segment `segment` (named `name`): from its evaluation
/// and allocation when there are outcomes, else `previous` carried over,
/// else the design's split.
pub(crate) fn decide(
    segment: u32,
    name: &str,
    evaluated: Option<(&SegmentResult, &SegmentAllocation)>,
    previous: Option<&Decision>,
    context: &RoundContext<'_>,
) -> Decision {
    let RoundContext {
        variants,
        design_weights,
        min_units,
        round,
        params,
    } = *context;
    let pct = |x: f64| format!("{:.0} %", 100.0 * x);
    let split = |w: &[f64]| {
        w.iter()
            .map(|x| format!("{:.0}", 100.0 * x))
            .collect::<Vec<_>>()
            .join("/")
    };
    let Some((result, allocation)) = evaluated.filter(|(r, _)| r.variants.iter().any(|v| v.n > 0))
    else {
        if let Some(p) = previous {
            let mut d = p.clone();
            d.segment = segment;
            d.name = name.to_owned();
            if !d.reason.starts_with("carried over") {
                d.reason = format!("carried over from round {}: {}", p.decided_in, p.reason);
            }
            return d;
        }
        let total: f64 = design_weights.iter().sum();
        let weights: Vec<f64> = design_weights.iter().map(|w| w / total).collect();
        return Decision {
            segment,
            name: name.to_owned(),
            kind: DecisionKind::NoData,
            variant: None,
            reason: format!("no outcomes yet: the design's split {}", split(&weights)),
            weights,
            units: Vec::new(),
            effect: None,
            probability_best: Vec::new(),
            decided_in: round,
        };
    };
    let units: Vec<u64> = result.variants.iter().map(|v| v.n).collect();
    let best_treatment = best_comparison(result);
    let effect = best_treatment.map(|(v, c)| DecisionEffect {
        variant: v,
        abs_effect: c.abs_effect,
        abs_ci: c.absolute.map(|t| t.ci),
        p_value_holm: c.adjusted.map(|a| a.p_value_holm),
    });
    let probability_best = allocation.probability_best.clone();
    let (fav, p_fav) =
        probability_best
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |b, (i, p)| if p > b.1 { (i, p) } else { b },
            );
    let name_of = |v: usize| variants.get(v).map_or("?", String::as_str);
    let mut decision = Decision {
        segment,
        name: name.to_owned(),
        kind: DecisionKind::KeepTesting,
        variant: None,
        weights: allocation.weights.clone(),
        reason: String::new(),
        units: units.clone(),
        effect,
        probability_best: probability_best.clone(),
        decided_in: round,
    };
    if let Some(small) = units.iter().position(|&n| n < min_units) {
        decision.weights = previous.map_or_else(
            || {
                let total: f64 = design_weights.iter().sum();
                design_weights.iter().map(|w| w / total).collect()
            },
            |p| p.weights.clone(),
        );
        decision.reason = format!(
            "only {} units in {}, fewer than {min_units} per variant: keep the split {} and collect more",
            units[small],
            name_of(small),
            split(&decision.weights)
        );
        return decision;
    }
    if let Some(winner) = result.verdict.winner {
        let k = variants.len() as f64;
        let keep = params.keep_measuring.min(1.0 / k);
        decision.kind = DecisionKind::Ship;
        decision.variant = Some(winner);
        decision.weights = (0..variants.len())
            .map(|v| {
                if v == winner {
                    1.0 - keep * (k - 1.0)
                } else {
                    keep
                }
            })
            .collect();
        decision.reason = format!(
            "confirmed: {}; {} gets {} of the traffic, {} stays on each other variant to keep measuring",
            result.verdict.reason,
            name_of(winner),
            pct(decision.weights[winner]),
            pct(keep)
        );
        return decision;
    }
    let verdict = result
        .verdict
        .reason
        .strip_prefix("no clear winner: ")
        .unwrap_or(&result.verdict.reason);
    if p_fav >= params.lean_at {
        decision.kind = DecisionKind::Lean;
        decision.variant = Some(fav);
        decision.reason = format!(
            "no confirmed winner ({verdict}); but P({} is best) = {:.2}, so Thompson sampling sends it {} of the traffic while the test goes on (exploration, not a confirmed result)",
            name_of(fav),
            p_fav,
            pct(decision.weights.get(fav).copied().unwrap_or(0.0))
        );
        return decision;
    }
    let needed = result
        .variants
        .first()
        .map(|control| control.mean)
        .filter(|m| m.is_finite() && *m > 0.0 && *m < 1.0)
        .and_then(|rate| {
            sample_size(
                &PlannedMetric::binomial(rate),
                Effect::Relative(params.detect_relative),
                &PowerParams::default(),
            )
            .ok()
        })
        .map(|s| {
            let have = units.first().copied().unwrap_or(0);
            format!(
                "; about {} units per variant detect a {} relative lift ({} so far in control)",
                s.control_units,
                pct(params.detect_relative),
                have
            )
        })
        .unwrap_or_default();
    decision.reason = format!(
        "no clear winner ({verdict}); P(best) is at most {:.2}, so the split moves only to {}{needed}",
        p_fav,
        split(&decision.weights)
    );
    decision
}

/// The treatment with the largest absolute effect against control.
fn best_comparison(result: &SegmentResult) -> Option<(usize, &Comparison)> {
    result
        .variants
        .iter()
        .enumerate()
        .filter_map(|(v, r)| Some((v, r.comparison.as_ref()?)))
        .filter(|(_, c)| c.abs_effect.is_finite())
        .max_by(|a, b| a.1.abs_effect.total_cmp(&b.1.abs_effect))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::allocate::{AllocationParams, recommend};
    use crate::experiment::evaluate::{EvalParams, evaluate};
    use crate::experiment::stats::{ArmStats, ExperimentStats, Metric, MetricKind, SecondValue};

    /// One segment's evaluation and allocation from conversion counts.
    fn evaluated(control: (u64, u64), treatment: (u64, u64)) -> (SegmentResult, SegmentAllocation) {
        let mut stats = ExperimentStats::new(
            Metric::new("conversion", MetricKind::Binomial),
            vec!["control".into(), "offer".into()],
            vec!["s".into()],
            SecondValue::None,
        )
        .unwrap();
        for (v, (n, k)) in [control, treatment].into_iter().enumerate() {
            stats
                .set_arm(0, v, ArmStats::from_sums(n, k as f64, k as f64))
                .unwrap();
        }
        let e = evaluate(&stats, &EvalParams::default()).unwrap();
        let a = recommend(&stats, &AllocationParams::default()).unwrap();
        (e.segments[0].clone(), a.segments[0].clone())
    }

    fn run(
        e: Option<(&SegmentResult, &SegmentAllocation)>,
        previous: Option<&Decision>,
    ) -> Decision {
        let variants = ["control".to_owned(), "offer".to_owned()];
        let context = RoundContext {
            variants: &variants,
            design_weights: &[1.0, 1.0],
            min_units: 100,
            round: 2,
            params: &DecisionParams::default(),
        };
        decide(0, "s", e, previous, &context)
    }

    #[test]
    fn a_confirmed_winner_ships_and_keeps_measuring() {
        let (r, a) = evaluated((2000, 200), (2000, 300));
        let d = run(Some((&r, &a)), None);
        assert_eq!(d.kind, DecisionKind::Ship);
        assert_eq!(d.variant, Some(1));
        assert_eq!(d.weights, [0.05, 0.95]);
        assert!(d.reason.starts_with("confirmed"), "{}", d.reason);
        assert_eq!(d.units, [2000, 2000]);
        assert!(
            d.effect
                .is_some_and(|e| (e.abs_effect - 0.05).abs() < 1e-12)
        );
    }

    #[test]
    fn a_strong_posterior_without_a_verdict_leans_and_says_so() {
        // 10 % against 12 % of 1,000: p ≈ 0.16, but P(offer best) ≈ 0.92.
        let (r, a) = evaluated((1000, 100), (1000, 120));
        assert!(r.verdict.winner.is_none());
        let d = run(Some((&r, &a)), None);
        assert_eq!(d.kind, DecisionKind::Lean, "{}", d.reason);
        assert_eq!(d.variant, Some(1));
        assert!(d.weights[1] > 0.85, "{:?}", d.weights);
        assert!(d.reason.contains("not a confirmed result"), "{}", d.reason);
    }

    #[test]
    fn no_clear_winner_keeps_testing_with_the_units_still_needed() {
        let (r, a) = evaluated((1000, 100), (1000, 101));
        let d = run(Some((&r, &a)), None);
        assert_eq!(d.kind, DecisionKind::KeepTesting);
        assert!(
            d.reason.contains("units per variant detect"),
            "{}",
            d.reason
        );
        let total: f64 = d.weights.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn an_undefined_effect_is_none_and_survives_a_saved_state() {
        // Nobody converted in either arm: the absolute test is undefined.
        let (r, a) = evaluated((400, 0), (400, 0));
        let d = run(Some((&r, &a)), None);
        let effect = d.effect.expect("the treatment was compared");
        assert_eq!((effect.abs_ci, effect.p_value_holm), (None, None));
        assert_eq!(effect.abs_effect, 0.0);
        // A state holding it reads back (NaN placeholders were written as
        // null and could not be read as numbers).
        let json = serde_json::to_string(&d).unwrap();
        assert!(
            json.contains(r#""abs_ci":null,"p_value_holm":null"#),
            "{json}"
        );
        let back: Decision = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn small_arms_keep_the_split_and_segments_without_data_carry_on() {
        let (r, a) = evaluated((50, 5), (60, 9));
        let previous = Decision {
            weights: vec![0.3, 0.7],
            ..run(None, None)
        };
        let d = run(Some((&r, &a)), Some(&previous));
        assert_eq!(d.kind, DecisionKind::KeepTesting);
        assert_eq!(d.weights, [0.3, 0.7]);
        assert!(d.reason.contains("fewer than 100"), "{}", d.reason);
        let fresh = run(None, None);
        assert_eq!(fresh.kind, DecisionKind::NoData);
        assert_eq!(fresh.weights, [0.5, 0.5]);
        let carried = run(None, Some(&d));
        assert_eq!(carried.weights, d.weights);
        assert!(
            carried.reason.starts_with("carried over from round 2"),
            "{}",
            carried.reason
        );
    }
}
