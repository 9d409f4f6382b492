//! A seeded synthetic customer population with its ground truth.
//!
//! Real customer data cannot ship with a library, and real data never comes
//! with the answers. [`Population::generate`] draws a population whose
//! generating process is known exactly, so every analysis in this crate can be
//! checked for recovering it:
//!
//! - **Personas** ([`PersonaSpec`]): latent groups with their own ages,
//!   cultures, channel preferences, consent propensities and experiment effects.
//! - **Purchases** follow BG/NBD ([`BgNbdTruth`]; Fader, Hardie & Lee 2005):
//!   after a first purchase, each customer buys at Poisson rate
//!   λ ~ Gamma(r, α) and drops out after each repeat purchase with probability
//!   p ~ Beta(a, b). The first purchase falls uniformly in the acquisition
//!   window, for a share of customers in the last weeks of the observation
//!   ([`SynthParams::recent_share`]: new customers), and for prospects
//!   ([`SynthParams::prospect_share`]) after the observation end: they are in
//!   the base, engage, and have not bought. [`Truth::next_purchase_week`] keeps
//!   every alive customer's first purchase after the observation (who later buys).
//! - **Spend** follows Gamma–Gamma ([`GammaGammaTruth`]; Fader & Hardie 2013).
//! - **Journeys** ([`JourneyTruth`]): every web or app purchase is preceded by
//!   marketing journeys; each journey converts with probability
//!   `logistic(β₀ + γ_persona + Σ β_c)` over its distinct channels, so failed
//!   journeys before a conversion are independent Bernoulli trials with known
//!   probabilities. Personas differ both in the channels that reach them and in
//!   how readily they buy (γ, [`PersonaSpec::journey_log_odds`]): exposure is
//!   confounded with conversion, so a naive comparison of journeys with and
//!   without a channel is biased, and a causal method must adjust for who is
//!   exposed. Channels that need consent (e-mail, SMS, push) are only used
//!   while the customer's consent allows them.
//!
//!   A customer's journeys are kept [`JourneyTruth::quiet_days`] apart, so a
//!   lookback window up to that long rebuilds exactly the journeys drawn
//!   ([`Truth::placed_journeys`]). The converting journey ends at the purchase; the
//!   failed ones are placed before it, the latest first, as long as they fit
//!   after the previous purchase. Failed journeys that do not fit are not
//!   placed ([`JourneyCounts::placed`]): that thins the failures independently
//!   of their channels, which changes the baseline odds but not the channels'
//!   log-odds effects (outcome-dependent sampling; Prentice & Pyke 1979,
//!   "Logistic disease incidence models and case-control studies",
//!   *Biometrika* 66(3)).
//!   A failed journey that would straddle the start of the last lookback
//!   window before the observation end (`quiet_days` less a day) is not placed
//!   either, so prospects' recent journeys are rebuilt whole; the rule looks at
//!   the journey's end alone.
//! - **Journey stages** ([`StageTruth`], [`Truth::journey_stages`]): every
//!   person has a latent stage over time (need → research → decision →
//!   adoption → usage → advocacy, or inactive). The journeys before a first
//!   purchase are consideration episodes: each on-site action (visit; product
//!   view, comparison, reviews read, configurator; add to cart, inquiry)
//!   carries the stage the person has reached, climbing to the episode's
//!   depth ([`PersonaSpec::episode_depth_weights`]), and the stage lingers for a
//!   lapse after the episode's last action. A purchase starts adoption, then
//!   usage while the customer is alive, inactive after dropping out; advocacy
//!   periods ([`PersonaSpec::advocacy_probability`]) bring a review and
//!   referrals. The kinds of the touches depend only on the stage, never on
//!   conversion, so the journeys' conversion model above is unchanged.
//! - **Messages**: every impression or click of an outbound channel belongs to a
//!   campaign and carries the stage its content was made for: the recipient's
//!   true stage just before it with probability [`StageTruth::targeting_accuracy`]
//!   (need for an inactive person: awareness), another stage otherwise. Which
//!   messages missed is therefore known ([`Population::content_mismatch`]).
//! - **Identity**: every customer has a clean primary source record and, with
//!   probability `duplicate_share`, dirty copies in other systems ([`SourceCustomerRecord`]).
//! - **Experiment** ([`ExperimentUnit`]): a randomised A/B test whose true
//!   effect on conversion differs by persona and, within it, by the purchase
//!   history ([`Truth::treatment_effect`]: lapsed buyers respond more,
//!   regulars less, so uplift models can be checked against an individual
//!   effect that observable behaviour predicts); a
//!   pre-period revenue covariate correlated with the outcome (for CUPED).
//! - **Who buys next**: [`Population::purchase_probability`] is each person's
//!   true probability of a purchase in a window after the observation end,
//!   and [`Truth::next_purchase_week`] what happened: the oracle a
//!   propensity model is compared with.
//!
//! [`Population::journey_stage_accuracy`], [`Population::content_mismatch`] and
//! [`Population::warm_lead_precision`] score the engagement analyses against
//! this truth; [`tuned_stage_rules`] are stage-rule windows tuned on training
//! seeds of this population.
//!
//! Each customer draws from its own ChaCha8 stream (`seed`, customer index),
//! so a population is identical for a seed on every platform and thread count.

mod dirty;
mod evaluate;
mod experiment;
mod export;
mod generate;
mod names;
mod params;
mod propensity;
mod sources;
mod stages;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use dirty::{
    SOURCE_RECORD_COLUMNS, SourceCustomerRecord, record_table, record_table_with_source,
};
pub use evaluate::{
    LeadPrecision, MismatchScore, StageAccuracy, confusion_index, tuned_stage_rules,
};
pub use experiment::{AssignmentValue, SimulatedExperiment};
pub use params::{
    ACTIVE_WEEKS, BgNbdTruth, GammaGammaTruth, JourneyTruth, LAPSED_WEEKS, MARKETING_CHANNELS,
    PURCHASE_CHANNELS, PersonaSpec, REGULAR_PURCHASES, StageTruth, SynthParams,
};
pub use sources::SourceView;
pub use stages::StageTimeline;

use crate::store::CustomerBase;

/// One unit (customer) of the synthetic A/B experiment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExperimentUnit {
    /// Customer index in [`Population::base`].
    pub customer: u32,
    /// Whether the unit was assigned to treatment.
    pub treatment: bool,
    /// Whether the unit converted during the experiment.
    pub converted: bool,
    /// Revenue during the experiment (0 when not converted).
    pub revenue: f64,
    /// Revenue in the eight weeks before the experiment (a CUPED covariate).
    pub pre_revenue: f64,
}

/// The synthetic experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Experiment key.
    pub key: String,
    /// One unit per customer, in customer-index order.
    pub units: Vec<ExperimentUnit>,
}

/// How many journeys were drawn, converted and placed in the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JourneyCounts {
    /// Journeys drawn (Bernoulli trials) towards purchases in the data, placed or not.
    pub drawn: u64,
    /// Of those, converting (one per web or app purchase; all placed).
    pub converted: u64,
    /// Journeys in the data: the converting ones and the failed ones that fit.
    pub placed: u64,
    /// Touchpoints of those journeys.
    pub drawn_touchpoints: u64,
    /// Journeys drawn towards prospects' first purchases, after the
    /// observation (each run ends in the conversion the data do not hold);
    /// their failed journeys inside the observation are placed like any other.
    #[serde(default)]
    pub prospect_drawn: u64,
    /// Touchpoints of the prospects' journeys.
    #[serde(default)]
    pub prospect_drawn_touchpoints: u64,
}

/// One marketing journey as it was placed in the data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrueJourney {
    /// Customer index in [`Population::base`].
    pub customer: u32,
    /// Whether it converted.
    pub converted: bool,
    /// The marketing channels it touched: bit `i` for [`MARKETING_CHANNELS`]`[i]`.
    pub channels: u16,
    /// Its touchpoints.
    pub touchpoints: u16,
    /// Weeks from the observation start to its end (the purchase when converting, else the last touch).
    pub end_week: f64,
}

impl TrueJourney {
    /// Whether it touched `MARKETING_CHANNELS[channel]`.
    pub fn touched(&self, channel: usize) -> bool {
        self.channels >> channel & 1 == 1
    }
}

/// What generated the data: the answers analyses should recover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Persona names, indexed by persona code.
    pub persona_names: Vec<String>,
    /// Persona code of every customer (by customer index).
    pub persona: Vec<u8>,
    /// Purchase rate λ per week of every customer.
    pub purchase_rate: Vec<f64>,
    /// Dropout probability p of every customer.
    pub dropout_probability: Vec<f64>,
    /// Whether each customer is still alive at the observation end.
    pub alive_at_end: Vec<bool>,
    /// Expected spend per transaction (p/ν) of every customer.
    pub mean_spend: Vec<f64>,
    /// Weeks from the observation start to each customer's first purchase
    /// (after `observation_weeks` for a prospect: the purchase comes after the data).
    pub first_purchase_week: Vec<f64>,
    /// Weeks from the observation start to each customer's first purchase
    /// after the observation end (`None` for a customer who dropped out): who
    /// later buys, for checking warm leads and propensity.
    pub next_purchase_week: Vec<Option<f64>>,
    /// Purchases of each customer during the observation (0 for a prospect).
    #[serde(default)]
    pub purchases_in_observation: Vec<u32>,
    /// Weeks from the observation start to each customer's last purchase
    /// in the observation (`None` for a prospect).
    #[serde(default)]
    pub last_purchase_week: Vec<Option<f64>>,
    /// Every person's latent journey stage over time ([`StageTruth`]).
    pub journey_stages: StageTimeline,
    /// Purchase process parameters.
    pub purchases: BgNbdTruth,
    /// Spend parameters.
    pub spend: GammaGammaTruth,
    /// Journey conversion model.
    pub journeys: JourneyTruth,
    /// Per persona, the shift of the journeys' log-odds of conversion.
    pub journey_persona_log_odds: Vec<f64>,
    /// Journeys drawn, converted and placed.
    pub journey_counts: JourneyCounts,
    /// The journeys in the data, by customer, then time.
    pub placed_journeys: Vec<TrueJourney>,
    /// Experiment: control conversion probability per persona.
    pub experiment_baseline: Vec<f64>,
    /// Experiment: absolute treatment effect on conversion per persona (before
    /// the purchase history's shift, [`SynthParams::experiment_lift_by_activity`]).
    pub experiment_lift: Vec<f64>,
    /// Experiment: every customer's true absolute treatment effect on
    /// conversion (the individual treatment effect: the persona's lift,
    /// shifted by the purchase history, [`SynthParams::experiment_lift_by_activity`]).
    #[serde(default)]
    pub treatment_effect: Vec<f64>,
    /// For every source record, the index of the customer it belongs to.
    pub source_record_customer: Vec<u32>,
}

/// A generated population: data and truth.
#[derive(Debug, Clone)]
pub struct Population {
    /// The parameters it was generated with, the seed included.
    pub params: SynthParams,
    /// Customers (clean profiles and consent), transactions and touchpoints.
    pub base: CustomerBase,
    /// Start of observation.
    pub observation_start: Timestamp,
    /// End of observation.
    pub observation_end: Timestamp,
    /// Source records as several systems hold them, clean and dirty.
    pub source_records: Vec<SourceCustomerRecord>,
    /// The A/B experiment.
    pub experiment: Experiment,
    /// The truth.
    pub truth: Truth,
    /// Source record reference → true customer, built on first use.
    pub(crate) record_index: std::sync::OnceLock<hashbrown::HashMap<String, u32>>,
}
