//! Causal attribution: each channel's incremental effect on conversion.
//!
//! Heuristic, Markov and Shapley models share out the conversions that
//! happened among the channels that were there: they answer *who was
//! there*. A budget moves on a different question, *who made the
//! difference*: how many conversions would be lost without a channel. A
//! channel that mostly reaches customers who would have bought anyway
//! collects credit without causing conversions, and exposure is never
//! random: digital natives see more app and social and also buy more
//! often, so a naive comparison of journeys with and without a channel
//! confuses the channel with its audience.
//!
//! # The model
//!
//! Every journey with a known outcome and at least one touch is a row:
//! whether it converted, which channels it touched (presence), and the
//! customer's covariates (segment, persona proxies, tenure, …; numbers by
//! quantile bin). Direct conversions (no touch) are left out and counted:
//! their counterparts, journeys without a touch that did not convert, leave
//! no trace in the data. Build the journeys with
//! [`JourneyTouches::Marketing`](crate::touchpoints::journey::JourneyTouches::Marketing)
//! so that after-sales contact (support, reviews, unsubscribes) does not form
//! journeys of its own. A ridge-penalised
//! logistic regression
//!
//! ```text
//! logit P(convert) = β₀ + Σ_c β_c [c touched] + δ [returning] + γ·covariates
//!                    + Σ_levels δ_level [returning][level]
//! ```
//!
//! where `[returning]` marks journeys of customers who had converted before
//! ([`CausalParams::adjust_for_returning`]): channels that need an opt-in
//! reach almost only existing customers, who buy at their own rate. Each
//! covariate level (but the reference) has its own returning shift: how much
//! more readily a returning customer converts than a new one differs by
//! segment, for instance when many prospects of one segment browse without
//! buying, and one shift for all would load the difference onto the
//! channels that reach returning customers.
//!
//! estimates `β_c`, the channel's **effect on the log-odds of conversion**
//! for customers alike in the covariates. Its **incremental conversions**
//! are the conversions the fitted model loses when the channel is removed
//! from the journeys that had it (the counterfactual removal of Shao & Li,
//! "Data-driven multi-touch attribution models", KDD 2011, and of
//! Dalessandro, Perlich, Stitelman & Provost, "Causally motivated
//! attribution for online advertising", ADKDD 2012):
//!
//! ```text
//! Δ_c = Σ_{journeys j with c} [σ(η_j) − σ(η_j − β_c)]
//! ```
//!
//! and its incremental value is `Δ_c` times the mean value of the converting
//! journeys with `c`. The effect is causal under the usual assumption that,
//! given the covariates, exposure is as good as random (no unmeasured
//! confounding); the covariates are what make that plausible, and the
//! module cannot check it. Randomised holdouts can:
//! [`holdout_lift`] measures a campaign's incrementality from customers kept
//! out of it, with no model at all.
//!
//! Intervals come from a customer-level Poisson bootstrap (each customer's
//! journeys weighted by one Poisson(1) draw per replicate, so a customer's
//! journeys move together), percentile intervals at
//! [`CausalParams::confidence`]. Journeys are grouped into patterns (same
//! channels, same covariates) first, so a fit runs over thousands of rows
//! whatever the number of journeys.
//!
//! A channel without an estimable effect says why ([`EffectNote`]): never
//! touched, in every journey (indistinguishable from the baseline), or never
//! in a converting journey (its maximum-likelihood effect is −∞; the
//! penalty keeps the fit finite, but no effect is reported).

mod budget;
mod covariates;
mod design;
mod holdout;
mod logit;

use serde::{Deserialize, Serialize};

pub use budget::{Budget, BudgetMove, BudgetParams, ChannelBudget, CreditedConversions, budget};
pub use covariates::{Covariate, Covariates};
pub use holdout::{HoldoutLift, holdout_lift};

use crate::error::{Error, Result};
use crate::stats::quantile;
use crate::store::CustomerBase;
use crate::touchpoints::journey::Journeys;
use crate::touchpoints::paths::OpenJourneys;
use design::Design;
use logit::{Grouped, LogitFit, sigmoid};

/// Settings of [`causal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CausalParams {
    /// What becomes of journeys still open at the end of the data (default: left out).
    pub open: OpenJourneys,
    /// Ridge penalty λ on every coefficient but the intercept (default 1;
    /// negligible beside thousands of journeys, decisive under separation).
    pub l2: f64,
    /// Bootstrap replicates for the intervals (default 200; 0: no intervals).
    pub bootstrap: usize,
    /// Confidence level of the intervals (default 0.95).
    pub confidence: f64,
    /// Adjust for whether the customer had bought before the journey
    /// (default true): returning customers convert at their own rate, and
    /// the channels that need an opt-in (e-mail, SMS, push) reach almost
    /// only them, so without this those channels take the returning
    /// customers' propensity for their own. With covariates, each level
    /// gets its own returning shift as well (`<level> × returning customer`).
    pub adjust_for_returning: bool,
    /// Numeric covariates are adjusted for by this many quantile bins
    /// (default 10: deciles, a step function, no linearity assumed; ties
    /// merge bins). Bins keep the journeys' patterns few, so the fit and
    /// every bootstrap replicate stay fast.
    pub numeric_bins: usize,
    /// Seed of the bootstrap weights.
    pub seed: u64,
    /// Newton steps at most per fit (default 100).
    pub max_iter: usize,
    /// A fit stops when no coefficient moves by more than this (default 1e-9).
    pub tolerance: f64,
}

impl Default for CausalParams {
    fn default() -> Self {
        CausalParams {
            open: OpenJourneys::Excluded,
            l2: 1.0,
            bootstrap: 200,
            confidence: 0.95,
            adjust_for_returning: true,
            numeric_bins: 10,
            seed: 0,
            max_iter: 100,
            tolerance: 1e-9,
        }
    }
}

impl CausalParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting.
    pub fn check(&self) -> Result<()> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::param("l2", self.l2, "must be finite and >= 0"));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::param(
                "confidence",
                self.confidence,
                "must lie in (0, 1)",
            ));
        }
        if !(2..=1_000).contains(&self.numeric_bins) {
            return Err(Error::param(
                "numeric_bins",
                self.numeric_bins,
                "must be between 2 and 1000",
            ));
        }
        crate::error::check_iterations(self.max_iter, self.tolerance)
    }
}

/// Why a channel has no effect estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectNote {
    /// No journey touched it.
    NeverTouched,
    /// Every journey touched it: it cannot be told apart from the baseline.
    InEveryJourney,
    /// No journey that touched it converted: the data put its effect at −∞.
    NeverInConvertingJourney,
}

/// An estimate with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The point estimate (on all the data).
    pub value: f64,
    /// Lower end of the percentile interval (`NaN`-free; equals `value` without a bootstrap).
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Standard deviation over the bootstrap replicates (0 without a bootstrap).
    pub std_error: f64,
}

/// One channel's effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelEffect {
    /// Channel name.
    pub channel: String,
    /// Journeys that touched it.
    pub journeys: f64,
    /// Of those, converting.
    pub conversions: f64,
    /// Effect on the log-odds of conversion (`None`: see `note`).
    pub effect: Option<Estimate>,
    /// Conversions lost without the channel (0 without an effect).
    pub incremental_conversions: Estimate,
    /// Conversion value lost without the channel.
    pub incremental_value: Estimate,
    /// Why there is no effect, when there is none.
    pub note: Option<EffectNote>,
}

/// The result of [`causal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalAttribution {
    /// Per channel, by channel code.
    pub effects: Vec<ChannelEffect>,
    /// The intercept: log-odds of conversion of a journey with no channel
    /// effect, at the covariates' reference levels and means.
    pub intercept: f64,
    /// Covariate columns adjusted for (`name=level` for categories).
    pub covariates: Vec<String>,
    /// Journeys used.
    pub journeys: usize,
    /// Converting journeys without a touch (direct conversions), left out:
    /// journeys without a touch that did not convert are never observed, so
    /// keeping these would raise the baseline and lower every channel's effect.
    #[serde(default)]
    pub direct_conversions: usize,
    /// Of those, converting.
    pub conversions: usize,
    /// Distinct patterns (channels × covariates) the fit ran over.
    pub patterns: usize,
    /// Newton steps of the fit on all the data.
    pub iterations: usize,
    /// Bootstrap replicates behind the intervals.
    pub bootstrap: usize,
    /// Their confidence level.
    pub confidence: f64,
}

/// Estimates every channel's incremental effect on conversion from
/// `journeys`, adjusting for `covariates` (module docs).
///
/// # Errors
/// [`Error::InvalidParameter`] for bad settings; [`Error::EmptyInput`] for
/// no journey with a known outcome; [`Error::NotIdentifiable`] when all or
/// none of them converted, or the design is singular; [`Error::Capacity`]
/// beyond 64 channels; [`Error::LengthMismatch`] for covariates of another
/// base; [`Error::NoConvergence`].
///
/// # Example
/// ```
/// use custinsight::synth::{Population, SynthParams};
/// use custinsight::touchpoints::attribution::{CausalParams, Covariates, causal};
/// use custinsight::touchpoints::journey::{JourneyParams, Journeys};
///
/// let pop = Population::generate(&SynthParams::with_customers(1_000))?;
/// let journeys = Journeys::build(&pop.base, &JourneyParams::default())?;
/// let params = CausalParams { bootstrap: 20, ..CausalParams::default() };
/// let result = causal(&journeys, &pop.base, None, &params)?;
/// assert_eq!(result.effects.len(), pop.base.channels().len());
/// # Ok::<(), custinsight::Error>(())
/// ```
pub fn causal(
    journeys: &Journeys,
    base: &CustomerBase,
    covariates: Option<&Covariates>,
    params: &CausalParams,
) -> Result<CausalAttribution> {
    params.check()?;
    let design = Design::build(journeys, base, covariates, params)?;
    let grouped = Grouped {
        x: &design.x,
        trials: &design.trials,
        successes: &design.successes,
    };
    let full = logit::fit(&grouped, params.l2, params.max_iter, params.tolerance, None)?;
    let point = Replicate::of(&design, &full, &design.trials);

    let replicates: Vec<Replicate> = crate::parallel::map_range(params.bootstrap, |b| {
        let (trials, successes) = bootstrap_counts(&design, params.seed, b as u64);
        let data = Grouped {
            x: &design.x,
            trials: &trials,
            successes: &successes,
        };
        logit::fit(
            &data,
            params.l2,
            params.max_iter,
            params.tolerance,
            Some(&full.beta),
        )
        .map(|fit| Replicate::of(&design, &fit, &trials))
    })
    .into_iter()
    .collect::<Result<_>>()?;

    let alpha = 1.0 - params.confidence;
    let estimate = |value: f64, pick: &dyn Fn(&Replicate) -> f64| {
        let draws: Vec<f64> = replicates.iter().map(pick).collect();
        interval(value, &draws, alpha)
    };
    let effects = base
        .channels()
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let note = design.notes[c];
            let effect = match (design.channel_column[c], note) {
                (Some(col), None) => Some(estimate(full.beta[col], &|r| r.beta[col])),
                _ => None,
            };
            let (conversions, value) = if effect.is_some() {
                (
                    estimate(point.incremental[c], &|r| r.incremental[c]),
                    estimate(
                        point.incremental[c] * point.value_per_conversion(&design, c),
                        &|r| r.incremental[c] * r.value_per_conversion(&design, c),
                    ),
                )
            } else {
                (interval(0.0, &[], alpha), interval(0.0, &[], alpha))
            };
            ChannelEffect {
                channel: name.to_string(),
                journeys: design.touched[c],
                conversions: design.converted_with[c],
                effect,
                incremental_conversions: conversions,
                incremental_value: value,
                note,
            }
        })
        .collect();
    Ok(CausalAttribution {
        effects,
        intercept: full.beta[0],
        covariates: design.covariate_columns.clone(),
        journeys: design.pattern_of.len(),
        direct_conversions: design.direct_conversions,
        conversions: design.converted.iter().filter(|&&c| c).count(),
        patterns: design.n_patterns(),
        iterations: full.iterations,
        bootstrap: params.bootstrap,
        confidence: params.confidence,
    })
}

/// What one fit says per channel.
struct Replicate {
    beta: Vec<f64>,
    /// Incremental conversions per channel (by code).
    incremental: Vec<f64>,
}

impl Replicate {
    fn of(design: &Design, fit: &LogitFit, trials: &[f64]) -> Replicate {
        let mut incremental = vec![0.0; design.channel_column.len()];
        for (p, &n) in trials.iter().enumerate() {
            if n == 0.0 {
                continue;
            }
            let eta = design.x.dot(p, &fit.beta);
            let mu = sigmoid(eta);
            for (col, _) in design.x.row(p) {
                if let Some(c) = design.column_channel[col] {
                    incremental[c] += n * (mu - sigmoid(eta - fit.beta[col]));
                }
            }
        }
        Replicate {
            beta: fit.beta.clone(),
            incremental,
        }
    }

    /// Mean value of the converting journeys with channel `c`.
    fn value_per_conversion(&self, design: &Design, c: usize) -> f64 {
        if design.converted_with[c] > 0.0 {
            design.value_with[c] / design.converted_with[c]
        } else {
            0.0
        }
    }
}

/// A point estimate with the percentile interval and spread of `draws`.
fn interval(value: f64, draws: &[f64], alpha: f64) -> Estimate {
    if draws.is_empty() {
        return Estimate {
            value,
            low: value,
            high: value,
            std_error: 0.0,
        };
    }
    let m = draws.len() as f64;
    let mean = draws.iter().sum::<f64>() / m;
    let sd = (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (m - 1.0).max(1.0)).sqrt();
    Estimate {
        value,
        low: quantile(draws, alpha / 2.0).unwrap_or(value),
        high: quantile(draws, 1.0 - alpha / 2.0).unwrap_or(value),
        std_error: sd,
    }
}

/// SplitMix64: a well-mixed 64-bit hash, so every (seed, replicate,
/// customer) gets its own uniform draw whatever the thread order.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A Poisson(1) draw by inversion of a uniform from the hash.
fn poisson_one(seed: u64, replicate: u64, customer: u32) -> f64 {
    let h = mix(seed ^ mix(replicate.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ u64::from(customer)));
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    // P(K = k) = e⁻¹ / k!
    let mut p = (-1.0f64).exp();
    let mut cdf = p;
    let mut k = 0.0;
    while u >= cdf && k < 20.0 {
        k += 1.0;
        p /= k;
        cdf += p;
    }
    k
}

/// Pattern counts of one bootstrap replicate: every journey weighted by its
/// customer's Poisson(1) draw.
fn bootstrap_counts(design: &Design, seed: u64, replicate: u64) -> (Vec<f64>, Vec<f64>) {
    let mut trials = vec![0.0; design.n_patterns()];
    let mut successes = vec![0.0; design.n_patterns()];
    let mut last = (u32::MAX, 0.0);
    for (j, &p) in design.pattern_of.iter().enumerate() {
        let customer = design.customer_of[j];
        // Journeys come ordered by customer: one draw per customer.
        if customer != last.0 {
            last = (customer, poisson_one(seed, replicate, customer));
        }
        let w = last.1;
        trials[p as usize] += w;
        if design.converted[j] {
            successes[p as usize] += w;
        }
    }
    (trials, successes)
}

#[cfg(test)]
mod tests;
