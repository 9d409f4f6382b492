//! Scoring one customer between rounds, from a persisted bundle.
//!
//! A service answering "who is this customer and what do we show them?" on
//! request has one customer's events, not a base. A [`ScoringBundle`] holds
//! what a round learned, without the customers: the lifecycle models, the
//! clustering features with their levels fixed, the segmentation model, the
//! experiment's design and consent rule, and each segment's decision. It
//! scores a customer exactly as the round scored them in its base (the same
//! summary, P(alive), expected purchases, CLV, stage, segment and variant:
//! tested customer by customer), from their
//! [`OwnedHistory`](crate::store::OwnedHistory).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::decide::Decision;
use super::state::{RoundState, load_json, save_json};
use crate::error::{Error, Result};
use crate::experiment::assign::{Assignment, ExperimentDesign};
use crate::lifecycle::customers::{LifecycleModels, LifecycleScore};
use crate::records::{Channel, Consent, Purpose};
use crate::segment::features::{FeatureMatrix, FeatureSpec};
use crate::segment::model::SegmentationModel;
use crate::store::History;

/// What scoring one customer needs from a round (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringBundle {
    /// The round the bundle comes from.
    pub round: u32,
    /// The round's time (the default time to score at).
    pub as_of: Timestamp,
    /// The fitted lifecycle models.
    pub lifecycle: LifecycleModels,
    /// The features segments are found on, with their levels fixed.
    pub cluster_spec: FeatureSpec,
    /// The segmentation (transform, centroids, names by id).
    pub segmentation: SegmentationModel,
    /// The experiment's design (key, variants, holdout, coverage).
    pub design: ExperimentDesign,
    /// Consent a customer needs to be assigned.
    pub consent: Option<(Channel, Purpose)>,
    /// The decision, with its weights, per segment id.
    pub decisions: Vec<Decision>,
}

/// Why a customer gets no variant, or which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum NextVariant {
    /// In the experiment, in this variant.
    Variant {
        /// Index into the design's variants.
        index: usize,
        /// Its name.
        name: String,
    },
    /// No segment (no event by the time scored), so not targeted.
    NotTargeted,
    /// Without the consent the experiment needs.
    NoConsent,
    /// Kept out by the holdout.
    HeldOut,
    /// Outside the experiment's part of its namespace.
    NotInNamespace,
    /// Outside the coverage.
    NotCovered,
}

impl NextVariant {
    /// The variant index, when there is one.
    pub fn index(&self) -> Option<usize> {
        match self {
            NextVariant::Variant { index, .. } => Some(*index),
            _ => None,
        }
    }
}

/// One customer scored by a [`ScoringBundle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerScore {
    /// Summary, P(alive), expected purchases, CLV, stage and play.
    pub lifecycle: LifecycleScore,
    /// Segment id (`None`: no event by the time scored).
    pub segment: Option<u32>,
    /// Its name.
    pub segment_name: Option<String>,
    /// The next experiment's variant, or why none.
    pub next: NextVariant,
}

impl ScoringBundle {
    /// The bundle of a round's state.
    pub fn from_state(state: &RoundState) -> ScoringBundle {
        ScoringBundle {
            round: state.number,
            as_of: state.as_of,
            lifecycle: state.lifecycle.clone(),
            cluster_spec: state.cluster_spec.clone(),
            segmentation: state.segmentation.clone(),
            design: state.params.experiment.design.clone(),
            consent: state.params.experiment.consent.clone(),
            decisions: state.decisions.clone(),
        }
    }

    /// Reads a bundle saved as JSON.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Json`] when it is not a bundle.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<ScoringBundle> {
        load_json(path.as_ref())
    }

    /// Saves the bundle as JSON (through a temporary file, renamed).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        save_json(self, path.as_ref())
    }

    /// Scores customer `customer_id` (the experiment's unit id) from their
    /// events at `as_of` (the round's time for the round's own answer),
    /// with their consent ledger when the experiment needs consent.
    ///
    /// # Errors
    /// [`Error::MixedCurrencies`] for transactions in more than one currency,
    /// [`Error::NotFound`] for a segment without a decision (a bundle put
    /// together by hand);
    /// errors of the feature transform for a bundle whose parts disagree.
    pub fn score(
        &self,
        customer_id: &str,
        history: &History<'_>,
        consent: Option<&Consent>,
        as_of: Timestamp,
    ) -> Result<CustomerScore> {
        let lifecycle = self.lifecycle.score_one(history, as_of)?;
        if lifecycle.stage.is_none() {
            return Ok(CustomerScore {
                lifecycle,
                segment: None,
                segment_name: None,
                next: NextVariant::NotTargeted,
            });
        }
        let row = FeatureMatrix::from_history(customer_id, history, &self.cluster_spec, as_of)?;
        let segment = self
            .segmentation
            .predict(&row)?
            .first()
            .copied()
            .ok_or_else(|| Error::lengths("segment labels for one customer", 1, 0))?;
        let decision = self
            .decisions
            .iter()
            .find(|d| d.segment as usize == segment)
            .ok_or_else(|| Error::NotFound {
                what: "segment decision in the bundle",
                id: segment.to_string(),
            })?;
        let allowed = match &self.consent {
            Some((channel, purpose)) => consent.is_some_and(|c| c.allows(channel, purpose, as_of)),
            None => true,
        };
        let next = if allowed {
            let mut design = self.design.clone();
            design.weights = decision.weights.clone();
            match design.assign(customer_id) {
                Assignment::Variant(v) => NextVariant::Variant {
                    index: v,
                    name: design.variants.get(v).cloned().unwrap_or_default(),
                },
                Assignment::HeldOut => NextVariant::HeldOut,
                Assignment::NotInNamespace => NextVariant::NotInNamespace,
                Assignment::NotCovered => NextVariant::NotCovered,
            }
        } else {
            NextVariant::NoConsent
        };
        Ok(CustomerScore {
            lifecycle,
            segment: Some(segment as u32),
            segment_name: self.segmentation.names.get(segment).cloned(),
            next,
        })
    }
}

impl RoundState {
    /// What scoring one customer needs from this round ([`ScoringBundle`]).
    pub fn scoring_bundle(&self) -> ScoringBundle {
        ScoringBundle::from_state(self)
    }
}
