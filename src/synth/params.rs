//! Parameters of the synthetic population, and the truths they imply.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::Channel;

/// BG/NBD purchase process (Fader, Hardie & Lee 2005), rates per week.
///
/// Each customer buys at Poisson rate λ ~ Gamma(shape `r`, rate `alpha`) while
/// alive and, after each purchase, drops out with probability p ~ Beta(`a`, `b`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdTruth {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Rate (inverse scale) of the purchase-rate gamma, per week.
    pub alpha: f64,
    /// First shape of the dropout-probability beta.
    pub a: f64,
    /// Second shape of the dropout-probability beta.
    pub b: f64,
}

/// Gamma–Gamma spend (Fader & Hardie 2013): each transaction's value is
/// Gamma(`p`, ν) with the customer's ν ~ Gamma(`q`, `gamma`); the mean spend
/// per transaction of a customer is p/ν, and across customers `p·gamma/(q−1)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaTruth {
    /// Shape of the per-transaction gamma.
    pub p: f64,
    /// Shape of the gamma over ν.
    pub q: f64,
    /// Rate of the gamma over ν.
    pub gamma: f64,
}

/// A latent persona: who they are and how they behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonaSpec {
    /// Name, e.g. `digital_native`.
    pub name: String,
    /// Share of the population (shares are normalised).
    pub share: f64,
    /// Age range in years at the start of observation (inclusive).
    pub age_range: (u32, u32),
    /// Probability that the person is female (otherwise male, with 2% non-binary overall).
    pub female_share: f64,
    /// Weights over cultures (DE, GB, FR, ES, TR, JP, CN).
    pub culture_weights: [f64; 7],
    /// Weights over marketing channels for touchpoints (paired with [`MARKETING_CHANNELS`]).
    pub channel_weights: [f64; 10],
    /// Weights over purchase channels web, app, store, call_center.
    pub purchase_channel_weights: [f64; 4],
    /// Probability of granting e-mail marketing consent at sign-up.
    pub email_opt_in: f64,
    /// Probability of granting SMS and push marketing consent at sign-up.
    pub mobile_opt_in: f64,
    /// Experiment: conversion probability in control.
    pub experiment_baseline: f64,
    /// Experiment: absolute change in conversion probability under treatment.
    pub experiment_lift: f64,
    /// Added to the log-odds of every journey of this persona: some audiences
    /// buy more readily whatever reaches them. With channel weights that differ
    /// by persona, this confounds exposure with conversion, as in life.
    #[serde(default)]
    pub journey_log_odds: f64,
    /// Weights over how far a consideration episode goes before it ends or
    /// converts: need only, research, decision (the latent journey stage it
    /// reaches; see [`StageTruth`]).
    #[serde(default = "default_episode_depth")]
    pub episode_depth_weights: [f64; 3],
    /// Probability that a purchase turns the customer into an advocate for a while
    /// (a review written at once, referrals while it lasts).
    #[serde(default = "default_advocacy")]
    pub advocacy_probability: f64,
}

fn default_episode_depth() -> [f64; 3] {
    [0.4, 0.35, 0.25]
}

fn default_advocacy() -> f64 {
    0.04
}

/// The latent journey stage process (need → research → decision → adoption →
/// usage → advocacy, or inactive) that drives the engagement events, and how
/// well campaigns are targeted to it.
///
/// Before their first purchase people go through consideration episodes (the
/// marketing journeys): each of their actions in an episode (a visit, a
/// product view, an add to cart, a click) moves them to that action's stage,
/// up to the depth the episode reaches
/// ([`PersonaSpec::episode_depth_weights`]); after its last action an episode
/// lingers for a lapse ~ Exponential(mean `lapse_days`), then the person is
/// inactive. A first purchase starts adoption, which lasts
/// ~ Gamma(4, mean `adoption_days`) or until the second purchase; then usage
/// while the customer is alive (BG/NBD), inactive after dropping out. An
/// advocacy period (~ Exponential(mean `advocacy_days`), referrals at mean
/// gaps of `referral_days`) overrides the other stages while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageTruth {
    /// Mean lapse (days) after an episode's last action before the person is inactive (default 21).
    pub lapse_days: f64,
    /// Mean length (days) of adoption after a first purchase (default 60).
    pub adoption_days: f64,
    /// Mean length (days) of an advocacy period (default 75).
    pub advocacy_days: f64,
    /// Mean gap (days) between an advocate's referrals (default 30).
    pub referral_days: f64,
    /// Probability that a message's content is made for the stage its recipient
    /// is in (otherwise for one of the other stages, uniformly; default 0.7).
    /// A message to an inactive person fits when it is made for need (awareness).
    pub targeting_accuracy: f64,
}

impl Default for StageTruth {
    fn default() -> Self {
        StageTruth {
            lapse_days: 21.0,
            adoption_days: 60.0,
            advocacy_days: 75.0,
            referral_days: 30.0,
            targeting_accuracy: 0.7,
        }
    }
}

/// Marketing channels touchpoints are drawn from, in the order of [`PersonaSpec::channel_weights`].
pub const MARKETING_CHANNELS: [Channel; 10] = [
    Channel::Web,
    Channel::App,
    Channel::Email,
    Channel::Sms,
    Channel::Push,
    Channel::Social,
    Channel::SearchAds,
    Channel::DisplayAds,
    Channel::Affiliate,
    Channel::DirectMail,
];

/// Purchase channels, in the order of [`PersonaSpec::purchase_channel_weights`].
pub const PURCHASE_CHANNELS: [Channel; 4] = [
    Channel::Web,
    Channel::App,
    Channel::Store,
    Channel::CallCenter,
];

/// Journey conversion model: each journey converts with probability
/// `logistic(intercept + persona's journey_log_odds + Σ effect[c])` over the
/// distinct channels `c` it touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyTruth {
    /// Log-odds of conversion for a journey with no channel effects.
    pub intercept: f64,
    /// Log-odds effect of each marketing channel (order of [`MARKETING_CHANNELS`]).
    pub channel_effects: [f64; 10],
    /// Mean number of extra touchpoints per journey beyond the first (Poisson).
    pub mean_extra_touchpoints: f64,
    /// A customer's journeys are at least this many days apart (default 31),
    /// so that journeys rebuilt with a lookback window up to that long are the
    /// journeys drawn.
    #[serde(default = "default_quiet_days")]
    pub quiet_days: f64,
    /// The journeys before a first purchase start at most this many weeks
    /// before it (default 26): the prospect's time before signing up.
    #[serde(default = "default_prospect_weeks")]
    pub prospect_weeks: f64,
}

fn default_quiet_days() -> f64 {
    31.0
}

fn default_prospect_weeks() -> f64 {
    26.0
}

/// Parameters of [`Population::generate`](super::Population::generate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthParams {
    /// Number of customers.
    pub n_customers: usize,
    /// First day of observation (UTC midnight), `YYYY-MM-DD`.
    pub start_date: jiff::civil::Date,
    /// Customers make their first purchase uniformly within this many weeks of the start.
    pub acquisition_weeks: f64,
    /// Length of observation in weeks; the observation ends at `start + observation_weeks`.
    pub observation_weeks: f64,
    /// Purchase process.
    pub purchases: BgNbdTruth,
    /// Spend process.
    pub spend: GammaGammaTruth,
    /// Personas.
    pub personas: Vec<PersonaSpec>,
    /// Journey model.
    pub journeys: JourneyTruth,
    /// Share of people who have not bought by the observation end (prospects,
    /// default 0.25): their first purchase comes after it, ~ Exponential(mean
    /// `prospect_mean_weeks`), and the journeys leading up to it that fall
    /// inside the observation are in the data.
    pub prospect_share: f64,
    /// Mean weeks from the observation end to a prospect's first purchase (default 8).
    pub prospect_mean_weeks: f64,
    /// Share of buyers acquired recently (default 0.08): their first purchase
    /// is uniform in the last `recent_weeks` of the observation rather than in
    /// the acquisition window.
    pub recent_share: f64,
    /// Length of the recent-acquisition window in weeks (default 13).
    pub recent_weeks: f64,
    /// The latent journey stage process.
    pub stages: StageTruth,
    /// Whether to generate touchpoints.
    pub touchpoints: bool,
    /// Share of customers with extra, dirty source records (0..=1).
    pub duplicate_share: f64,
    /// Share of customers in the experiment's treatment arm.
    pub treatment_share: f64,
    /// How the experiment's effect varies with the customer's purchase
    /// history (default 0.04): a customer's absolute effect is their
    /// persona's `experiment_lift` plus `κ` when they have lapsed (their last
    /// purchase more than [`LAPSED_WEEKS`] before the observation end: the
    /// offer wins them back), minus `κ` when they are a regular (at least
    /// [`REGULAR_PURCHASES`] purchases, the last within [`ACTIVE_WEEKS`]:
    /// they buy anyway, and the offer only subsidises them), unchanged
    /// otherwise. The history is in the data, so this part of the
    /// individual effect is learnable from observable features.
    pub experiment_lift_by_activity: f64,
    /// Probability that a customer with e-mail consent unsubscribes during observation.
    pub unsubscribe_rate: f64,
    /// Seed of the ChaCha8 generators: the same parameters and seed give the
    /// same population, whatever the thread count (default 42).
    pub seed: u64,
}

impl Default for SynthParams {
    fn default() -> Self {
        SynthParams {
            n_customers: 20_000,
            start_date: jiff::civil::date(2023, 1, 2),
            acquisition_weeks: 52.0,
            observation_weeks: 104.0,
            purchases: BgNbdTruth {
                r: 1.0,
                alpha: 4.0,
                a: 1.0,
                b: 12.0,
            },
            spend: GammaGammaTruth {
                p: 6.25,
                q: 3.74,
                gamma: 15.44,
            },
            personas: default_personas(),
            journeys: JourneyTruth {
                intercept: -0.8,
                //               web  app  email sms  push social search display affiliate mail
                channel_effects: [0.3, 0.5, 0.6, 0.2, 0.1, -0.2, 0.9, -0.4, 0.4, 0.7],
                mean_extra_touchpoints: 0.8,
                quiet_days: default_quiet_days(),
                prospect_weeks: default_prospect_weeks(),
            },
            prospect_share: 0.25,
            prospect_mean_weeks: 8.0,
            recent_share: 0.08,
            recent_weeks: 13.0,
            stages: StageTruth::default(),
            touchpoints: true,
            duplicate_share: 0.15,
            treatment_share: 0.5,
            experiment_lift_by_activity: 0.04,
            unsubscribe_rate: 0.08,
            seed: 42,
        }
    }
}

fn default_personas() -> Vec<PersonaSpec> {
    vec![
        PersonaSpec {
            name: "value_seeker".into(),
            share: 0.35,
            age_range: (25, 45),
            female_share: 0.55,
            culture_weights: [0.45, 0.2, 0.15, 0.12, 0.08, 0.0, 0.0],
            //                web  app  email sms push social search display affiliate mail
            channel_weights: [3.0, 0.5, 2.5, 0.3, 0.2, 0.5, 2.5, 2.0, 1.5, 0.3],
            purchase_channel_weights: [0.7, 0.1, 0.15, 0.05],
            email_opt_in: 0.75,
            mobile_opt_in: 0.3,
            experiment_baseline: 0.10,
            experiment_lift: 0.03,
            journey_log_odds: -0.3,
            // Value seekers compare before they buy.
            episode_depth_weights: [0.3, 0.45, 0.25],
            advocacy_probability: 0.03,
        },
        PersonaSpec {
            name: "loyal_regular".into(),
            share: 0.25,
            age_range: (45, 75),
            female_share: 0.6,
            culture_weights: [0.5, 0.25, 0.15, 0.1, 0.0, 0.0, 0.0],
            channel_weights: [1.5, 0.2, 3.0, 0.3, 0.1, 0.2, 0.5, 0.3, 0.1, 2.5],
            purchase_channel_weights: [0.3, 0.05, 0.55, 0.10],
            email_opt_in: 0.8,
            mobile_opt_in: 0.2,
            experiment_baseline: 0.14,
            experiment_lift: 0.0,
            journey_log_odds: 0.4,
            episode_depth_weights: [0.45, 0.25, 0.3],
            advocacy_probability: 0.06,
        },
        PersonaSpec {
            name: "digital_native".into(),
            share: 0.25,
            age_range: (18, 32),
            female_share: 0.5,
            culture_weights: [0.3, 0.2, 0.1, 0.1, 0.05, 0.15, 0.1],
            channel_weights: [1.5, 3.5, 0.5, 0.5, 2.5, 3.0, 1.0, 0.5, 0.8, 0.0],
            purchase_channel_weights: [0.35, 0.6, 0.05, 0.0],
            email_opt_in: 0.45,
            mobile_opt_in: 0.7,
            experiment_baseline: 0.08,
            experiment_lift: 0.05,
            journey_log_odds: 0.6,
            // Digital natives skip from need to the cart.
            episode_depth_weights: [0.4, 0.2, 0.4],
            advocacy_probability: 0.05,
        },
        PersonaSpec {
            name: "occasional_gifter".into(),
            share: 0.15,
            age_range: (30, 65),
            female_share: 0.45,
            culture_weights: [0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.02],
            channel_weights: [2.0, 0.3, 1.0, 0.2, 0.1, 0.8, 3.0, 1.0, 2.0, 0.5],
            purchase_channel_weights: [0.6, 0.1, 0.25, 0.05],
            email_opt_in: 0.55,
            mobile_opt_in: 0.25,
            experiment_baseline: 0.06,
            experiment_lift: -0.02,
            journey_log_odds: -0.6,
            episode_depth_weights: [0.55, 0.3, 0.15],
            advocacy_probability: 0.02,
        },
    ]
}

/// A customer's true absolute treatment effect on conversion: the
/// persona's lift plus `κ·s`, where `s` reads the purchase history at the
/// observation end (see [`SynthParams::experiment_lift_by_activity`]).
pub(crate) fn individual_effect(
    params: &SynthParams,
    persona_lift: f64,
    purchases: usize,
    last_purchase_week: f64,
) -> f64 {
    let weeks_since = params.observation_weeks - last_purchase_week;
    let activity = if purchases >= 1 && weeks_since > LAPSED_WEEKS {
        1.0
    } else if purchases >= REGULAR_PURCHASES && weeks_since <= ACTIVE_WEEKS {
        -1.0
    } else {
        0.0
    };
    persona_lift + params.experiment_lift_by_activity * activity
}

/// A buyer whose last purchase is more than this many weeks before the
/// observation end has lapsed (the experiment's effect is higher).
pub const LAPSED_WEEKS: f64 = 26.0;
/// A buyer with at least this many purchases, the last within
/// [`ACTIVE_WEEKS`] of the end, is a regular (the effect is lower).
pub const REGULAR_PURCHASES: usize = 4;
/// See [`REGULAR_PURCHASES`].
pub const ACTIVE_WEEKS: f64 = 13.0;

fn check_prob(name: &'static str, v: f64) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::param(name, v, "must be a probability in [0, 1]"))
    }
}

fn check_positive(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::param(name, v, "must be finite and > 0"))
    }
}

fn check_weights(name: &'static str, w: &[f64]) -> Result<()> {
    if w.iter().all(|x| x.is_finite() && *x >= 0.0) && w.iter().sum::<f64>() > 0.0 {
        Ok(())
    } else {
        Err(Error::param(
            name,
            format!("{w:?}"),
            "weights must be finite, non-negative and not all zero",
        ))
    }
}

impl SynthParams {
    /// These parameters with another seed.
    #[must_use]
    pub fn with_seed(self, seed: u64) -> Self {
        SynthParams { seed, ..self }
    }

    /// Default parameters with a different population size.
    pub fn with_customers(n_customers: usize) -> Self {
        SynthParams {
            n_customers,
            ..Self::default()
        }
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first parameter out of range.
    pub fn check(&self) -> Result<()> {
        if self.n_customers == 0 || self.n_customers > 50_000_000 {
            return Err(Error::param(
                "n_customers",
                self.n_customers,
                "must be in 1..=50,000,000",
            ));
        }
        check_positive("observation_weeks", self.observation_weeks)?;
        if !(self.acquisition_weeks.is_finite()
            && self.acquisition_weeks >= 0.0
            && self.acquisition_weeks < self.observation_weeks)
        {
            return Err(Error::param(
                "acquisition_weeks",
                self.acquisition_weeks,
                "must be in [0, observation_weeks)",
            ));
        }
        let p = &self.purchases;
        for (n, v) in [
            ("purchases.r", p.r),
            ("purchases.alpha", p.alpha),
            ("purchases.a", p.a),
            ("purchases.b", p.b),
        ] {
            check_positive(n, v)?;
        }
        let s = &self.spend;
        for (n, v) in [("spend.p", s.p), ("spend.q", s.q), ("spend.gamma", s.gamma)] {
            check_positive(n, v)?;
        }
        if self.personas.is_empty() {
            return Err(Error::param("personas", 0, "need at least one persona"));
        }
        check_weights(
            "personas.share",
            &self.personas.iter().map(|p| p.share).collect::<Vec<_>>(),
        )?;
        for persona in &self.personas {
            if persona.age_range.0 > persona.age_range.1 || persona.age_range.1 > 120 {
                return Err(Error::param(
                    "personas.age_range",
                    format!("{:?}", persona.age_range),
                    "must be (min, max) with min <= max <= 120",
                ));
            }
            check_prob("personas.female_share", persona.female_share)?;
            check_weights("personas.culture_weights", &persona.culture_weights)?;
            check_weights("personas.channel_weights", &persona.channel_weights)?;
            check_weights(
                "personas.purchase_channel_weights",
                &persona.purchase_channel_weights,
            )?;
            check_prob("personas.email_opt_in", persona.email_opt_in)?;
            check_prob("personas.mobile_opt_in", persona.mobile_opt_in)?;
            check_prob("personas.experiment_baseline", persona.experiment_baseline)?;
            for extreme in [-1.0, 1.0] {
                let p = persona.experiment_baseline
                    + persona.experiment_lift
                    + extreme * self.experiment_lift_by_activity;
                // Rounding may take an exact 0 or 1 a hair outside.
                check_prob(
                    "personas.experiment_baseline + experiment_lift ± experiment_lift_by_activity",
                    if p.abs() < 1e-12 || (p - 1.0).abs() < 1e-12 {
                        p.round()
                    } else {
                        p
                    },
                )?;
            }
        }
        if !self.journeys.intercept.is_finite()
            || self.journeys.channel_effects.iter().any(|e| !e.is_finite())
        {
            return Err(Error::param(
                "journeys",
                self.journeys.intercept,
                "effects must be finite",
            ));
        }
        if self
            .personas
            .iter()
            .any(|p| !p.journey_log_odds.is_finite())
        {
            return Err(Error::param(
                "personas.journey_log_odds",
                "non-finite",
                "must be finite",
            ));
        }
        for (name, v) in [
            ("journeys.quiet_days", self.journeys.quiet_days),
            ("journeys.prospect_weeks", self.journeys.prospect_weeks),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(name, v, "must be finite and >= 0"));
            }
        }
        if !(self.journeys.mean_extra_touchpoints.is_finite()
            && self.journeys.mean_extra_touchpoints >= 0.0)
        {
            return Err(Error::param(
                "journeys.mean_extra_touchpoints",
                self.journeys.mean_extra_touchpoints,
                "must be >= 0",
            ));
        }
        for persona in &self.personas {
            check_weights(
                "personas.episode_depth_weights",
                &persona.episode_depth_weights,
            )?;
            check_prob(
                "personas.advocacy_probability",
                persona.advocacy_probability,
            )?;
        }
        check_prob("prospect_share", self.prospect_share)?;
        check_prob("recent_share", self.recent_share)?;
        check_positive("prospect_mean_weeks", self.prospect_mean_weeks)?;
        if !(self.recent_weeks.is_finite()
            && self.recent_weeks > 0.0
            && self.recent_weeks <= self.observation_weeks)
        {
            return Err(Error::param(
                "recent_weeks",
                self.recent_weeks,
                "must be in (0, observation_weeks]",
            ));
        }
        let st = &self.stages;
        for (name, v) in [
            ("stages.lapse_days", st.lapse_days),
            ("stages.adoption_days", st.adoption_days),
            ("stages.advocacy_days", st.advocacy_days),
            ("stages.referral_days", st.referral_days),
        ] {
            check_positive(name, v)?;
        }
        check_prob("stages.targeting_accuracy", st.targeting_accuracy)?;
        check_prob("duplicate_share", self.duplicate_share)?;
        check_prob("treatment_share", self.treatment_share)?;
        if !(self.experiment_lift_by_activity.is_finite()
            && self.experiment_lift_by_activity >= 0.0)
        {
            return Err(Error::param(
                "experiment_lift_by_activity",
                self.experiment_lift_by_activity,
                "must be finite and >= 0",
            ));
        }
        check_prob("unsubscribe_rate", self.unsubscribe_rate)?;
        Ok(())
    }
}
