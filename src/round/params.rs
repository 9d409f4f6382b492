//! What a round of the loop does, in one serde struct.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::experiment::allocate::AllocationParams;
use crate::experiment::assign::ExperimentDesign;
use crate::experiment::evaluate::EvalParams;
use crate::identity::IdentityParams;
use crate::lifecycle::customers::LifecycleParams;
use crate::lifecycle::stage::Play;
use crate::records::{Channel, Purpose};
use crate::segment::features::{Feature, FeatureSpec};
use crate::segment::kmeans::KMeansParams;
use crate::target::uplift::{MetaLearner, UpliftParams};

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
    /// When given, once a round has learned the treatment's effect (from
    /// the last experiment's outcomes), every customer gets a next best
    /// action and the next assignment follows the decisions, with a random
    /// holdout as the control; `None` (the default): the experiment per
    /// segment every round.
    pub targeting: Option<TargetingPlan>,
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
        self.experiment.check()?;
        match &self.targeting {
            Some(t) => t.check(),
            None => Ok(()),
        }
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

/// How a round chooses each customer's next best action
/// ([`crate::target::nba`]): the treatment variants are the actions, each
/// with its channel, economics and the lifecycle plays it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetingPlan {
    /// Per treatment variant (by name), how it is delivered, what it costs
    /// and is worth, and which plays it serves; a treatment variant not
    /// listed is delivered on `channel` at `cost_per_contact`, worth
    /// `value_per_conversion`, for any play.
    pub actions: Vec<VariantAction>,
    /// What one conversion is worth (currency units).
    pub value_per_conversion: f64,
    /// What one contact costs.
    pub cost_per_contact: f64,
    /// The channel the treatment variants are delivered on (its marketing
    /// consent is required).
    pub channel: Channel,
    /// No action for a customer who received this many marketing messages
    /// in the contact window.
    pub contact_cap: u32,
    /// The contact window, in days before the round's time.
    pub contact_window_days: u32,
    /// Share of customers held out of the actions: the next round's control.
    pub holdout_share: f64,
    /// The uplift model learned from the last experiment.
    pub uplift: UpliftParams,
    /// Its features (as of the last assignment for the units, as of the
    /// round for the customers it scores).
    pub features: FeatureSpec,
    /// Fewer evaluated units than this: the segments' measured effects
    /// stand in for a model.
    pub min_units: usize,
}

impl Default for TargetingPlan {
    /// An e-mail offer worth 30 per conversion at 0.50 per contact, at most
    /// 4 messages in 30 days, 10 % held out; an X-learner on shallow trees
    /// (depth 2: uplift is a small difference between noisy rates), from
    /// 2,000 units.
    fn default() -> Self {
        let mut uplift = UpliftParams {
            learner: MetaLearner::X,
            ..UpliftParams::default()
        };
        uplift.base.max_depth = 2;
        TargetingPlan {
            actions: Vec::new(),
            value_per_conversion: 30.0,
            cost_per_contact: 0.5,
            channel: Channel::Email,
            contact_cap: 4,
            contact_window_days: 30,
            holdout_share: 0.1,
            uplift,
            features: FeatureSpec::default(),
            min_units: 2_000,
        }
    }
}

impl TargetingPlan {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or non-finite value or
    /// cost, a holdout share outside (0, 1), a zero contact window, or
    /// invalid uplift or feature settings; [`Error::Duplicate`] for a
    /// variant with two actions.
    pub fn check(&self) -> Result<()> {
        crate::target::uplift::policy::Economics {
            value_per_outcome: self.value_per_conversion,
            cost_per_contact: self.cost_per_contact,
        }
        .check()?;
        for (i, a) in self.actions.iter().enumerate() {
            crate::target::uplift::policy::Economics {
                value_per_outcome: a.value_per_conversion,
                cost_per_contact: a.cost_per_contact,
            }
            .check()?;
            if self.actions[..i].iter().any(|b| b.variant == a.variant) {
                return Err(Error::duplicate(
                    "targeting actions' variants",
                    a.variant.clone(),
                ));
            }
        }
        if !(self.holdout_share > 0.0 && self.holdout_share < 1.0) {
            return Err(Error::param(
                "holdout_share",
                self.holdout_share,
                "must lie in (0, 1): the holdout is the next round's control",
            ));
        }
        if self.contact_window_days == 0 {
            return Err(Error::param("contact_window_days", 0, "must be at least 1"));
        }
        self.uplift.base.check()?;
        self.features.check()
    }
}

/// How one treatment variant is delivered as an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantAction {
    /// The treatment variant's name.
    pub variant: String,
    /// The channel it is delivered on (its marketing consent is required).
    pub channel: Channel,
    /// What one contact costs.
    pub cost_per_contact: f64,
    /// What one conversion is worth.
    pub value_per_conversion: f64,
    /// The lifecycle plays it serves (e.g. a win-back coupon for customers
    /// to win back); empty for any.
    #[serde(default)]
    pub plays: Vec<Play>,
}
