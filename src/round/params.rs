//! What a round of the loop does, in one serde struct.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::experiment::allocate::AllocationParams;
use crate::experiment::assign::ExperimentDesign;
use crate::experiment::evaluate::EvalParams;
use crate::identity::IdentityParams;
use crate::lifecycle::customers::LifecycleParams;
use crate::records::{Channel, Purpose};
use crate::segment::features::{Feature, FeatureSpec};
use crate::segment::kmeans::KMeansParams;

/// Everything a round needs besides its data and its time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RoundParams {
    /// How source records become customers.
    pub identity: IdentityParams,
    /// Lifecycle and value.
    pub lifecycle: LifecycleParams,
    /// How customers are grouped.
    pub segments: SegmentParams,
    /// The experiment run per segment, and how its results become decisions.
    pub experiment: ExperimentPlan,
}

impl RoundParams {
    /// Checks every part.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first setting out of range.
    pub fn check(&self) -> Result<()> {
        self.identity.check()?;
        self.lifecycle.check()?;
        self.segments.check()?;
        self.experiment.check()
    }
}

/// How customers are grouped: what they are clustered on, what describes
/// the segments, and how many there are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentParams {
    /// The features clustered on. Default: where and how we meet each
    /// customer, their share of touchpoints per channel and of purchases per
    /// channel (value and lifecycle describe the segments instead: the same
    /// behaviour at different value is one group to act on, with value tiers
    /// inside it).
    pub cluster_on: FeatureSpec,
    /// The features that describe each segment (its profile), with the
    /// lifecycle columns (P(alive), expected purchases, CLV) added.
    pub describe: FeatureSpec,
    /// Choose the number of segments in this range by the silhouette, in the
    /// first round (later rounds keep the segments and their ids); `None`:
    /// `kmeans.k` segments.
    pub choose_k: Option<(usize, usize)>,
    /// k-means settings (seed, restarts, iterations; `k` when not chosen).
    pub kmeans: KMeansParams,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            cluster_on: FeatureSpec::new(vec![
                Feature::TouchpointChannelShares { channels: None },
                Feature::ChannelShares { channels: None },
            ]),
            describe: FeatureSpec::default(),
            choose_k: Some((2, 8)),
            kmeans: KMeansParams::new(4),
        }
    }
}

impl SegmentParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a feature listed twice, a k range
    /// below 2 or reversed, or invalid k-means settings.
    pub fn check(&self) -> Result<()> {
        self.cluster_on.check()?;
        self.describe.check()?;
        crate::segment::select_k::check_k_range(self.choose_k)?;
        self.kmeans.check()
    }
}

/// The experiment a round runs in every segment, and how results become
/// decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExperimentPlan {
    /// Key, variants (control first), starting weights, coverage, holdout.
    pub design: ExperimentDesign,
    /// Consent a customer needs to be assigned (checked at the round's time).
    pub consent: Option<(Channel, Purpose)>,
    /// How outcomes are evaluated (the loop adds per-segment planned weights).
    pub eval: EvalParams,
    /// Thompson sampling of the next weights.
    pub allocation: AllocationParams,
    /// How evaluations become decisions.
    pub decide: DecisionParams,
    /// Weeks before the assignment whose revenue is each unit's CUPED
    /// covariate, when the outcomes do not bring one.
    pub pre_period_weeks: f64,
}

impl Default for ExperimentPlan {
    fn default() -> Self {
        ExperimentPlan {
            design: ExperimentDesign {
                key: "next_best_offer".into(),
                seed: None,
                variants: vec!["control".into(), "treatment".into()],
                weights: vec![0.5, 0.5],
                coverage: 1.0,
                namespace: None,
                holdout: None,
                hash_version: Default::default(),
            },
            consent: None,
            eval: EvalParams::default(),
            allocation: AllocationParams::default(),
            decide: DecisionParams::default(),
            pre_period_weeks: 8.0,
        }
    }
}

impl ExperimentPlan {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from the design, the evaluation, the
    /// decision rules or a pre-period that is not positive.
    pub fn check(&self) -> Result<()> {
        self.design.check()?;
        self.eval.check_for(self.design.variants.len())?;
        self.decide.check()?;
        if !(self.pre_period_weeks.is_finite() && self.pre_period_weeks > 0.0) {
            return Err(Error::param(
                "pre_period_weeks",
                self.pre_period_weeks,
                "must be finite and > 0",
            ));
        }
        Ok(())
    }
}

/// How a segment's evaluation becomes its decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecisionParams {
    /// Posterior probability of being best from which traffic leans to a
    /// variant that has not (yet) won significantly: exploration, said so.
    pub lean_at: f64,
    /// After a confirmed win, the share every other variant keeps so the
    /// effect stays measured (a holdout to learn from).
    pub keep_measuring: f64,
    /// The relative effect the experiment should be able to detect, for
    /// "units still needed" when there is no winner yet.
    pub detect_relative: f64,
}

impl Default for DecisionParams {
    fn default() -> Self {
        DecisionParams {
            lean_at: 0.9,
            keep_measuring: 0.05,
            detect_relative: 0.10,
        }
    }
}

impl DecisionParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for probabilities or shares outside their ranges.
    pub fn check(&self) -> Result<()> {
        if !(0.5..=1.0).contains(&self.lean_at) {
            return Err(Error::param(
                "lean_at",
                self.lean_at,
                "must lie in [0.5, 1]",
            ));
        }
        if !(0.0..0.5).contains(&self.keep_measuring) {
            return Err(Error::param(
                "keep_measuring",
                self.keep_measuring,
                "must lie in [0, 0.5)",
            ));
        }
        if !(self.detect_relative.is_finite() && self.detect_relative > 0.0) {
            return Err(Error::param(
                "detect_relative",
                self.detect_relative,
                "must be finite and > 0",
            ));
        }
        Ok(())
    }
}
