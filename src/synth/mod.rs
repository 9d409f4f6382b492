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
//!   after a first purchase at a uniform time in the acquisition window, each
//!   customer buys at Poisson rate λ ~ Gamma(r, α) and drops out after each
//!   repeat purchase with probability p ~ Beta(a, b).
//! - **Spend** follows Gamma–Gamma ([`GammaGammaTruth`]; Fader & Hardie 2013).
//! - **Journeys** ([`JourneyTruth`]): every web or app purchase is preceded by
//!   marketing journeys; each journey converts with probability
//!   `logistic(β₀ + Σ β_c)` over its distinct channels, so failed journeys
//!   before a conversion are independent Bernoulli trials with known
//!   probabilities. Channels that need consent (e-mail, SMS, push) are only
//!   used while the customer's consent allows them.
//! - **Identity**: every customer has a clean primary source record and, with
//!   probability `duplicate_share`, dirty copies in other systems ([`SourceCustomerRecord`]).
//! - **Experiment** ([`ExperimentUnit`]): a randomised A/B test whose true
//!   effect on conversion differs by persona; a pre-period revenue covariate
//!   correlated with the outcome (for CUPED).
//!
//! Each customer draws from its own ChaCha8 stream (`seed`, customer index),
//! so a population is identical for a seed on every platform and thread count.

mod dirty;
mod experiment;
mod export;
mod generate;
mod names;
mod params;
mod sources;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use dirty::{
    SOURCE_RECORD_COLUMNS, SourceCustomerRecord, record_table, record_table_with_source,
};
pub use experiment::{AssignmentValue, SimulatedExperiment};
pub use params::{
    BgNbdTruth, GammaGammaTruth, JourneyTruth, MARKETING_CHANNELS, PURCHASE_CHANNELS, PersonaSpec,
    SynthParams,
};
pub use sources::SourceView;

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
    /// Weeks from the observation start to each customer's first purchase.
    pub first_purchase_week: Vec<f64>,
    /// Purchase process parameters.
    pub purchases: BgNbdTruth,
    /// Spend parameters.
    pub spend: GammaGammaTruth,
    /// Journey conversion model.
    pub journeys: JourneyTruth,
    /// Number of journeys generated and how many converted.
    pub journey_counts: (u64, u64),
    /// Experiment: control conversion probability per persona.
    pub experiment_baseline: Vec<f64>,
    /// Experiment: absolute treatment effect on conversion per persona.
    pub experiment_lift: Vec<f64>,
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
