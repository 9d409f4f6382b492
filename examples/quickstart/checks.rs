//! The synthetic truth beside what the loop found: used only to check.

use custinsight::experiment::assign::{BaseAssignment, Targeting};
use custinsight::identity::golden::GoldenRecord;
use custinsight::records::{Channel, Purpose};
use custinsight::round::{Round, RoundParams};
use custinsight::segment::segments::Segments;
use custinsight::segment::select_k::adjusted_rand_index;
use custinsight::synth::{AssignmentValue, Population};
use serde_json::json;

/// Identity resolution against the truth.
pub struct IdentityCheck {
    pub records: usize,
    pub true_customers: usize,
    pub customers: usize,
    pub precision: f64,
    pub recall: f64,
    /// Resolved customers whose e-mail consent decides as their true customer's.
    pub consent_agree: usize,
    pub consent_compared: usize,
    /// A golden record of a customer found in three or more records.
    pub golden: Option<GoldenRecord>,
    pub golden_columns: Vec<String>,
}

impl IdentityCheck {
    pub fn of(
        pop: &Population,
        round: &Round,
        truth: &[Option<u32>],
        consent_at: jiff::Timestamp,
        consent_truth: &[bool],
    ) -> custinsight::Result<IdentityCheck> {
        let identity = round
            .state
            .identity
            .as_ref()
            .ok_or_else(|| custinsight::Error::InvalidInput("no identity step".into()))?;
        let records = identity.records();
        let record_truth: Vec<u32> = records
            .ids()
            .iter()
            .map(|id| pop.true_customer_of([id.as_str()]).unwrap_or(u32::MAX))
            .collect();
        let quality = identity
            .resolver()
            .entities()
            .pairwise_quality(&record_truth)?;
        let base = &round.base;
        let mut consent_agree = 0;
        let mut consent_compared = 0;
        for c in base.customer_indices() {
            if let Some(t) = truth[c as usize] {
                consent_compared += 1;
                let found = base.allows(c, &Channel::Email, &Purpose::Marketing, consent_at);
                consent_agree += usize::from(found == consent_truth[t as usize]);
            }
        }
        let golden = base
            .customer_indices()
            .find(|&c| base.customer(c).is_some_and(|x| x.sources.len() >= 3))
            .map(|c| identity.golden_record(base.customer_id(c)))
            .transpose()?;
        Ok(IdentityCheck {
            records: records.len(),
            true_customers: pop.truth.persona.len(),
            customers: base.n_customers(),
            precision: quality.precision,
            recall: quality.recall,
            consent_agree,
            consent_compared,
            golden,
            golden_columns: records.columns().to_vec(),
        })
    }
}

/// Agreement of segments with the true personas (adjusted Rand index over
/// the segmented customers with a true customer).
pub fn persona_agreement(
    pop: &Population,
    segments: &Segments,
    truth: &[Option<u32>],
) -> custinsight::Result<f64> {
    let (mut found, mut personas) = (Vec::new(), Vec::new());
    for (c, t) in truth.iter().enumerate() {
        if let (Some(s), Some(t)) = (segments.segment_of(c as u32), t) {
            found.push(s as usize);
            personas.push(usize::from(pop.truth.persona[*t as usize]));
        }
    }
    adjusted_rand_index(&found, &personas)
}

/// The true effect of treatment per segment among the units assigned a
/// variant (what the experiment's estimate targets).
pub fn true_effects_of_units(
    pop: &Population,
    segments: &Segments,
    truth: &[Option<u32>],
    assignment: &BaseAssignment,
) -> Vec<f64> {
    let mut sums = vec![(0.0, 0usize); segments.k()];
    for (c, t) in truth.iter().enumerate() {
        let (Some(s), Some(t), Some(_)) = (segments.segment_of(c as u32), t, assignment.variant[c])
        else {
            continue;
        };
        let effect = pop.conversion_probability(*t, true) - pop.conversion_probability(*t, false);
        sums[s as usize].0 += effect;
        sums[s as usize].1 += 1;
    }
    sums.into_iter()
        .map(|(s, n)| if n > 0 { s / n as f64 } else { f64::NAN })
        .collect()
}

/// The learned assignment against an equal split of the same customers.
pub struct Gain {
    pub learned: AssignmentValue,
    pub equal: AssignmentValue,
}

impl Gain {
    /// The equal split: the design's weights for every segmented customer,
    /// with the same hashing, holdout and consent as the learned assignment;
    /// both over the customers either reaches (untreated where one leaves
    /// them out, as the next best action does those it does not offer).
    pub fn of(
        pop: &Population,
        round: &Round,
        truth: &[Option<u32>],
        params: &RoundParams,
    ) -> custinsight::Result<Gain> {
        let plan = &params.experiment;
        let all: Vec<u32> = (0..round.segments.k() as u32).collect();
        let equal = plan.design.assign_base(
            &round.base,
            &Targeting {
                segments: Some((&round.segments, &all)),
                consent: plan.consent.clone().map(|(c, p)| (c, p, round.as_of)),
            },
        )?;
        // The same customers on both sides: whoever either assignment
        // reaches, untreated (control) where the other leaves them out.
        let fill = |own: &[Option<u16>], other: &[Option<u16>]| -> Vec<Option<u16>> {
            own.iter()
                .zip(other)
                .map(|(a, b)| a.or(b.map(|_| 0)))
                .collect()
        };
        let learned = fill(&round.assignment.variant, &equal.variant);
        let equal = fill(&equal.variant, &round.assignment.variant);
        Ok(Gain {
            learned: pop.assignment_value(truth, &learned),
            equal: pop.assignment_value(truth, &equal),
        })
    }

    /// Expected gain in conversions and revenue, each with a 95 % interval
    /// for the realised difference (the two policies' outcomes are independent draws).
    pub fn summary(&self) -> ((f64, [f64; 2]), (f64, [f64; 2])) {
        let interval = |d: f64, v: f64| {
            let h = 1.96 * v.sqrt();
            (d, [d - h, d + h])
        };
        (
            interval(
                self.learned.conversions - self.equal.conversions,
                self.learned.conversions_variance + self.equal.conversions_variance,
            ),
            interval(
                self.learned.revenue - self.equal.revenue,
                self.learned.revenue_variance + self.equal.revenue_variance,
            ),
        )
    }

    pub fn to_json(&self) -> serde_json::Value {
        let ((conversions, c_ci), (revenue, r_ci)) = self.summary();
        json!({
            "units": self.learned.units,
            "learned": {"expected_conversions": self.learned.conversions, "expected_revenue": self.learned.revenue},
            "equal_split": {"expected_conversions": self.equal.conversions, "expected_revenue": self.equal.revenue},
            "conversions_gain": conversions, "conversions_gain_ci": c_ci,
            "revenue_gain": revenue, "revenue_gain_ci": r_ci,
        })
    }
}
