//! Engagement analyses measured against the population's truth: journey
//! stages against the latent stages, content-fit flags against the messages
//! that truly missed their recipient, and warm leads against who later buys.

use serde::{Deserialize, Serialize};

use super::Population;
use crate::error::{Error, Result};
use crate::records::JourneyStage;
use crate::store::to_micros;
use crate::touchpoints::engagement::WarmLeads;
use crate::touchpoints::journey_stage::{JourneyStageParams, JourneyStages, MessageStage};

/// Stage-rule windows tuned on this population's training seeds 1–3 (20,000
/// customers each) by a coordinate search maximising stage accuracy plus
/// content-mismatch F1 (`tests/journey_stage_truth.rs`,
/// `tune_stage_windows_on_training_seeds`); other seeds report how they
/// generalise. Compared with the marketing-convention defaults of
/// [`JourneyStageParams`], advocacy and need fade faster here, and adoption
/// lasts until a second purchase (a one-time buyer is still using what they
/// bought).
pub fn tuned_stage_rules() -> JourneyStageParams {
    JourneyStageParams {
        advocacy_days: 30.0,
        usage_days: 180.0,
        adoption_days: 180.0,
        decision_days: 21.0,
        research_days: 14.0,
        need_days: 14.0,
        ..JourneyStageParams::default()
    }
}

/// Row or column of a stage in [`StageAccuracy::confusion`]: the six stages, then inactive.
pub fn confusion_index(stage: Option<JourneyStage>) -> usize {
    stage.map_or(6, |s| s.index())
}

/// Assigned journey stages against the latent ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageAccuracy {
    /// Customers compared.
    pub customers: usize,
    /// Share assigned their true stage (inactive counts as a stage).
    pub accuracy: f64,
    /// Customers by true stage (rows) and assigned stage (columns), both in
    /// [`JourneyStage::ALL`] order followed by inactive ([`confusion_index`]).
    pub confusion: [[u64; 7]; 7],
}

impl StageAccuracy {
    /// Customers truly in a stage (a row's sum).
    pub fn truly_in(&self, stage: Option<JourneyStage>) -> u64 {
        self.confusion[confusion_index(stage)].iter().sum()
    }

    /// Customers assigned a stage (a column's sum).
    pub fn assigned(&self, stage: Option<JourneyStage>) -> u64 {
        let c = confusion_index(stage);
        self.confusion.iter().map(|row| row[c]).sum()
    }
}

/// Content-stage mismatch flags against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MismatchScore {
    /// Messages with a content stage.
    pub messages: u64,
    /// Of those, made for a stage other than the one their recipient was truly in.
    pub truly_mismatched: u64,
    /// Flagged as mismatched by the analysis.
    pub flagged: u64,
    /// Flagged and truly mismatched.
    pub correctly_flagged: u64,
    /// `correctly_flagged / flagged` (0 when nothing was flagged).
    pub precision: f64,
    /// `correctly_flagged / truly_mismatched` (0 when nothing was mismatched).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Warm leads against who buys after the observation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeadPrecision {
    /// Leads listed.
    pub leads: usize,
    /// Of those, buying within the horizon after the observation end.
    pub later_buyers: usize,
    /// `later_buyers / leads` (0 without leads).
    pub precision: f64,
    /// The same share among everyone without a purchase in the last `recent_days`: what
    /// picking at random among the not recently active would give.
    pub base_rate: f64,
    /// Customers behind `base_rate`.
    pub eligible: usize,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Population {
    /// Every customer of [`Population::base`] as its own true customer: the
    /// `true_customers` argument for analyses run on the population's base.
    pub fn own_customers(&self) -> Vec<Option<u32>> {
        (0..self.base.n_customers() as u32).map(Some).collect()
    }

    /// Compares assigned journey stages with the latent stage of every
    /// customer at the assignment's `as_of`. `true_customers` maps each
    /// customer of the analysed base to the true customer
    /// ([`Population::true_customers`], or [`Population::own_customers`]);
    /// customers without one are left out.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the assignments and the map differ in length.
    pub fn journey_stage_accuracy(
        &self,
        stages: &JourneyStages,
        true_customers: &[Option<u32>],
    ) -> Result<StageAccuracy> {
        if stages.assignments.len() != true_customers.len() {
            return Err(Error::lengths(
                "journey stage assignments (one per mapped customer)",
                true_customers.len(),
                stages.assignments.len(),
            ));
        }
        let mut confusion = [[0u64; 7]; 7];
        let (mut right, mut n) = (0u64, 0u64);
        for (a, t) in stages.assignments.iter().zip(true_customers) {
            let Some(t) = *t else { continue };
            let truth = self.truth.journey_stages.stage_at(t, stages.as_of);
            confusion[confusion_index(truth)][confusion_index(a.stage)] += 1;
            right += u64::from(truth == a.stage);
            n += 1;
        }
        Ok(StageAccuracy {
            customers: n as usize,
            accuracy: share(right, n),
            confusion,
        })
    }

    /// Scores content-fit flags ([`MessageStage::mismatched`] with
    /// `tolerance`) against the truth: a message truly misses when it was made
    /// for another stage than its recipient's latent stage just before it (for
    /// an inactive recipient, anything but need). Messages to customers
    /// without a true customer in `true_customers` are left out.
    pub fn content_mismatch(
        &self,
        messages: &[MessageStage],
        true_customers: &[Option<u32>],
        tolerance: u8,
    ) -> MismatchScore {
        let (mut truly, mut flagged, mut both, mut n) = (0u64, 0u64, 0u64, 0u64);
        for m in messages {
            let Some(Some(t)) = true_customers.get(m.customer as usize).copied() else {
                continue;
            };
            n += 1;
            let truth = MessageStage {
                customer_stage: self.truth.journey_stages.stage_before(t, m.time),
                ..*m
            };
            let t = truth.mismatched(tolerance);
            let f = m.mismatched(tolerance);
            truly += u64::from(t);
            flagged += u64::from(f);
            both += u64::from(t && f);
        }
        let precision = share(both, flagged);
        let recall = share(both, truly);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        MismatchScore {
            messages: n,
            truly_mismatched: truly,
            flagged,
            correctly_flagged: both,
            precision,
            recall,
            f1,
        }
    }

    /// The share of warm leads who buy within `horizon_weeks` after the
    /// leads' `as_of` (in the data, or after the observation by the truth),
    /// beside the same share among all customers of `base` (the analysed
    /// base, mapped by `true_customers`) without a purchase in the
    /// `recent_days` before it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a horizon or window that is not finite
    /// and positive; [`Error::LengthMismatch`] when `true_customers` is not
    /// one per customer of `base`.
    pub fn warm_lead_precision(
        &self,
        base: &crate::store::CustomerBase,
        true_customers: &[Option<u32>],
        leads: &WarmLeads,
        horizon_weeks: f64,
        recent_days: f64,
    ) -> Result<LeadPrecision> {
        for (name, v) in [
            ("horizon_weeks", horizon_weeks),
            ("recent_days", recent_days),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::param(name, v, "must be finite and > 0"));
            }
        }
        if true_customers.len() != base.n_customers() {
            return Err(Error::lengths(
                "true customers (one per customer of the base)",
                base.n_customers(),
                true_customers.len(),
            ));
        }
        let as_of = to_micros(leads.as_of);
        let until = as_of + (horizon_weeks * 7.0 * 86_400e6) as i64;
        let end = to_micros(self.observation_end);
        let week_us = 7.0 * 86_400e6;
        let start = to_micros(self.observation_start);
        let truth_times = self.base.tx_time_micros();
        let buys = |c: usize| {
            let Some(Some(t)) = true_customers.get(c).copied() else {
                return false;
            };
            let in_data = truth_times[self.base.transaction_range(t)]
                .iter()
                .any(|&x| x > as_of && x <= until);
            let after = self
                .truth
                .next_purchase_week
                .get(t as usize)
                .copied()
                .flatten()
                .map(|w| start + (w * week_us) as i64)
                .is_some_and(|x| x > end && x > as_of && x <= until);
            in_data || after
        };
        let later = leads
            .leads
            .iter()
            .filter(|l| buys(l.customer as usize))
            .count();
        let since = as_of - (recent_days * 86_400e6) as i64;
        let times = base.tx_time_micros();
        let (mut eligible, mut eligible_buyers) = (0usize, 0usize);
        for c in 0..base.n_customers() {
            if true_customers[c].is_none() {
                continue;
            }
            let recent = times[base.transaction_range(c as u32)]
                .iter()
                .any(|&t| t >= since && t <= as_of);
            if !recent {
                eligible += 1;
                eligible_buyers += usize::from(buys(c));
            }
        }
        Ok(LeadPrecision {
            leads: leads.leads.len(),
            later_buyers: later,
            precision: share(later as u64, leads.leads.len() as u64),
            base_rate: share(eligible_buyers as u64, eligible as u64),
            eligible,
        })
    }
}
