//! Power analysis: how many customers an experiment needs, what it can
//! detect, and how long it has to run.
//!
//! Before a test starts, marketing has to answer three questions that are the
//! same question seen from different sides:
//!
//! - **How many customers?** To detect a lift of, say, half a percentage point
//!   on a 10 % conversion rate with the usual 5 % false-alarm rate and 80 %
//!   chance of seeing a real lift, how many customers must each arm see?
//!   ([`sample_size`])
//! - **What can we detect?** With the customers we can get, what is the
//!   smallest lift the test will reliably see — the *minimum detectable
//!   effect* (MDE)? If it is larger than any lift the change could plausibly
//!   produce, the test is not worth running as designed. ([`mde`])
//! - **How likely are we to see it?** With a given number of customers and a
//!   given true effect, what is the probability that the test comes out
//!   significant — its *power*? ([`power`])
//!
//! and then: **how long?** With the daily number of eligible customers and
//! the share of them we put into the test, how many days until every arm has
//! its units ([`duration`])?
//!
//! # Set-up and notation
//!
//! A control arm of `n_c` units is compared with each of `k` treatment arms of
//! `n_t = r · n_c` units (`r` is [`PowerParams::allocation_ratio`], treatment
//! units per control unit). The effect is `δ = μ_t − μ_c` (treatment minus
//! control), given either absolutely or relative to the baseline mean `μ_c`
//! ([`Effect`]). The test is a z-test of `δ̂` at level `α'` with the
//! [`Alternative`] given; `α' = α` or, with [`PowerParams::bonferroni`] and
//! several treatment arms, `α' = α / k` (Bonferroni; Dunn 1961). `z_q` is the
//! upper `q` quantile of the standard normal, `Φ` its CDF and `Φ̄ = 1 − Φ`.
//!
//! Write `SE₀` for the standard error of `δ̂` used by the test (its value
//! under the null) and `SE₁` for its actual standard error under the
//! alternative. The power is then
//!
//! ```text
//! two-sided:  Φ̄(z_{α'/2} · SE₀/SE₁ − δ/SE₁) + Φ(−z_{α'/2} · SE₀/SE₁ − δ/SE₁)
//! greater:    Φ̄(z_{α'}   · SE₀/SE₁ − δ/SE₁)
//! less:       Φ (−z_{α'}  · SE₀/SE₁ − δ/SE₁)
//! ```
//!
//! which is statsmodels' `normal_power_het` (with `SE₀ = SE₁`, its
//! `normal_power`). The second term of the two-sided power is the *far tail*:
//! the probability of a significant result in the wrong direction.
//!
//! ## Continuous and ratio metrics (Cohen 1988)
//!
//! With a per-unit standard deviation `σ`, the same in both arms,
//! `SE₀ = SE₁ = σ √(1/n_c + 1/n_t)`, and everything depends on Cohen's
//! standardised effect `d = δ/σ` and the effective size
//! `n_c n_t / (n_c + n_t)` (Cohen 1988, ch. 2). [`sample_size`] solves the
//! *full* power equation above (including the far tail for two-sided tests)
//! for `n_c`: in closed form for one-sided tests,
//! `n_c = (z_{α'} + z_β)² σ² (1 + 1/r) / δ²`, and by bisection for two-sided
//! ones. This is `statsmodels.stats.power.NormalIndPower().solve_power(
//! effect_size=δ/σ, alpha=α', power=1−β, ratio=r, alternative=…)` with
//! `nobs1 = n_c`, to the precision of its root finder.
//!
//! A **ratio metric** (revenue per session, clicks per page view, where the
//! unit of randomisation is the customer) has a per-customer variance that
//! the caller estimates with the delta method (Deng, Knoblich & Lu 2018,
//! "Applying the Delta Method in Metric Analytics", KDD): with per-customer
//! numerator `X` and denominator `Y`, `σ² = (Var X − 2R Cov(X,Y) + R² Var Y) / E[Y]²`
//! with `R = E X / E Y`. It is then treated exactly like a continuous metric
//! with mean `R` and standard deviation `σ`.
//!
//! ## Conversion (binomial) metrics (Chow, Shao & Wang)
//!
//! With control rate `p_c` and treatment rate `p_t = p_c + δ`, the test uses
//! the pooled rate `p̄ = (p_c + r p_t) / (1 + r)` under the null and the
//! power is computed with the unpooled variance under the alternative:
//!
//! ```text
//! SE₀² = p̄(1 − p̄) (1/n_c + 1/n_t)
//! SE₁² = p_c(1 − p_c)/n_c + p_t(1 − p_t)/n_t
//! ```
//!
//! (Fleiss, Levin & Paik 2003, ch. 4, without continuity correction; Chow,
//! Shao & Wang 2008, *Sample Size Calculations in Clinical Research*, ch. 4,
//! give the variant with the unpooled variance under both). [`power`] and [`mde`]
//! use the full power equation above; this is statsmodels'
//! `power_proportions_2indep`. [`sample_size`] uses the explicit one-tail
//! formula of statsmodels' `samplesize_proportions_2indep_onetail`:
//!
//! ```text
//! n_c = ( max(z_{α''} s₀ + z_β s₁, 0) / δ )²,   s₀ = SE₀ √n_c,  s₁ = SE₁ √n_c,
//! ```
//!
//! with `α'' = α'/2` for a two-sided test and `α'' = α'` otherwise. For a
//! two-sided test it ignores the far tail, so the sample is (negligibly)
//! larger than the full equation needs and the power at it is at least the
//! target.
//!
//! ## Variance reduction (CUPED)
//!
//! Adjusting the metric `Y` by a pre-experiment covariate `X` (usually the
//! same metric in a pre-period), `Y − θ(X − E X)` with `θ = Cov(X,Y)/Var X`,
//! leaves the effect unchanged and reduces the variance to `σ²(1 − ρ²)`
//! where `ρ` is the correlation between `X` and `Y` (Deng, Xu, Kohavi &
//! Walker 2013, "Improving the Sensitivity of Online Controlled Experiments
//! by Utilizing Pre-Experiment Data", WSDM). [`VarianceReduction`] multiplies
//! every variance above (`SE₀²` and `SE₁²`) by `1 − ρ²`, or by `1 − s` for a
//! variance-reduction share `s` measured on past data; sample sizes shrink by
//! the same factor.
//!
//! ## Duration
//!
//! With `T` eligible units a day and a share `s` of them in the experiment,
//! the control arm receives `T s / (1 + k r)` units a day and each treatment
//! arm `T s r / (1 + k r)`; the test needs
//! `⌈max(n_c / control per day, n_t / treatment per day)⌉` days. `T` must
//! count *new* eligible units per day: returning customers do not add units,
//! so with customer-level randomisation unique customers accumulate more
//! slowly than daily visits. Running whole weeks
//! ([`ExperimentDuration::days_whole_weeks`]) covers the weekday cycle of
//! customer behaviour (Kohavi, Tang & Xu 2020, *Trustworthy Online Controlled
//! Experiments*).
//!
//! # Example
//!
//! ```
//! use custinsight::experiment::power::{
//!     Effect, PlannedMetric, PowerParams, Traffic, duration, mde, power, sample_size,
//! };
//!
//! // 10 % conversion, detect a 10 % relative lift (to 11 %), α = 5 %, 80 % power.
//! let metric = PlannedMetric::binomial(0.10);
//! let params = PowerParams::default();
//! let plan = sample_size(&metric, Effect::Relative(0.10), &params)?;
//! assert_eq!(plan.control_units, 14_751);
//! assert_eq!(plan.total_units, 29_502);
//! assert!(plan.achieved_power >= 0.8);
//!
//! // 2 000 eligible customers a day, half of them in the test: 30 days.
//! let run = duration(&plan, &Traffic { daily_eligible_units: 2_000.0, share_in_experiment: 0.5 })?;
//! assert_eq!(run.days, 30);
//!
//! // With only 5 000 customers per arm, the smallest detectable lift:
//! let m = mde(&metric, 5_000.0, &params)?;
//! let lift = m.increase.expect("reachable");
//! assert!(lift.absolute > 0.017 && lift.absolute < 0.018);
//! let p = power(&metric, Effect::Absolute(lift.absolute), 5_000.0, &params)?;
//! assert!((p - 0.8).abs() < 1e-9);
//! # Ok::<(), custinsight::Error>(())
//! ```
//!
//! # References
//!
//! - Cohen, J. (1988). *Statistical Power Analysis for the Behavioral
//!   Sciences*, 2nd ed. Lawrence Erlbaum.
//! - Chow, S.-C., Shao, J. & Wang, H. (2008). *Sample Size Calculations in
//!   Clinical Research*, 2nd ed. Chapman & Hall/CRC.
//! - Fleiss, J. L., Levin, B. & Paik, M. C. (2003). *Statistical Methods for
//!   Rates and Proportions*, 3rd ed. Wiley.
//! - Deng, A., Xu, Y., Kohavi, R. & Walker, T. (2013). Improving the
//!   sensitivity of online controlled experiments by utilizing
//!   pre-experiment data. *WSDM '13*.
//! - Deng, A., Knoblich, U. & Lu, J. (2018). Applying the delta method in
//!   metric analytics. *KDD '18*.
//! - Dunn, O. J. (1961). Multiple comparisons among means. *JASA* 56(293).
//! - Kohavi, R., Tang, D. & Xu, Y. (2020). *Trustworthy Online Controlled
//!   Experiments*. Cambridge University Press.
//! - Seabold, S. & Perktold, J. (2010). statsmodels: econometric and
//!   statistical modeling with Python (`statsmodels.stats.power`,
//!   `statsmodels.stats.proportion`; the reference for the tests).

use serde::{Deserialize, Serialize};

use super::Alternative;
use crate::error::{Error, Result};
use crate::stats::{normal_cdf, normal_quantile, normal_sf};

/// Largest unit count handled (2⁵³, the largest integer below which every
/// integer is exactly representable as `f64`).
pub const MAX_UNITS: f64 = 9_007_199_254_740_992.0;

/// Smallest and largest accepted [`PowerParams::allocation_ratio`].
pub const ALLOCATION_RATIO_RANGE: (f64, f64) = (1e-9, 1e9);

/// The metric's value in the control arm (the baseline) and its per-unit
/// variability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// A conversion metric: the share of units that convert.
    Binomial {
        /// Baseline conversion rate of the control arm, in (0, 1).
        rate: f64,
    },
    /// A per-unit continuous metric (revenue per customer, orders per customer, …).
    Continuous {
        /// Baseline mean of the control arm (any finite value).
        mean: f64,
        /// Per-unit standard deviation, assumed equal in both arms (> 0).
        sd: f64,
    },
    /// A ratio of two per-unit sums (revenue per session, clicks per view)
    /// with the customer as the unit of randomisation.
    Ratio {
        /// Baseline ratio of the control arm (any finite value).
        ratio: f64,
        /// Per-unit variance of the ratio from the delta method, so that the
        /// ratio estimated from `n` units has variance `variance / n` (> 0).
        variance: f64,
    },
}

/// Variance reduction from a pre-experiment covariate (CUPED; Deng et al. 2013).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VarianceReduction {
    /// The correlation `ρ` between the pre-period covariate and the metric,
    /// in (−1, 1): variances are multiplied by `1 − ρ²`.
    Correlation(f64),
    /// The share `s` of the variance removed, in [0, 1): variances are
    /// multiplied by `1 − s`.
    Share(f64),
}

impl VarianceReduction {
    /// The factor applied to the variances: `1 − ρ²` or `1 − s`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] (`variance_reduction`) when `ρ` is not in
    /// (−1, 1) or `s` not in [0, 1).
    pub fn factor(&self) -> Result<f64> {
        match *self {
            VarianceReduction::Correlation(rho) => {
                if !(rho > -1.0 && rho < 1.0) {
                    return Err(Error::param(
                        "variance_reduction",
                        rho,
                        "the CUPED correlation must be in (-1, 1)",
                    ));
                }
                Ok(1.0 - rho * rho)
            }
            VarianceReduction::Share(share) => {
                if !(0.0..1.0).contains(&share) {
                    return Err(Error::param(
                        "variance_reduction",
                        share,
                        "the variance-reduction share must be in [0, 1)",
                    ));
                }
                Ok(1.0 - share)
            }
        }
    }
}

/// A metric to power a test for: its baseline and optional variance reduction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlannedMetric {
    /// Baseline value and per-unit variability.
    pub baseline: Baseline,
    /// Optional CUPED variance reduction (`None`: the raw metric).
    #[serde(default)]
    pub variance_reduction: Option<VarianceReduction>,
}

impl PlannedMetric {
    /// A conversion metric with baseline rate `rate`.
    pub fn binomial(rate: f64) -> PlannedMetric {
        PlannedMetric {
            baseline: Baseline::Binomial { rate },
            variance_reduction: None,
        }
    }

    /// A continuous metric with baseline `mean` and per-unit standard deviation `sd`.
    pub fn continuous(mean: f64, sd: f64) -> PlannedMetric {
        PlannedMetric {
            baseline: Baseline::Continuous { mean, sd },
            variance_reduction: None,
        }
    }

    /// A ratio metric with baseline `ratio` and delta-method per-unit `variance`.
    pub fn ratio(ratio: f64, variance: f64) -> PlannedMetric {
        PlannedMetric {
            baseline: Baseline::Ratio { ratio, variance },
            variance_reduction: None,
        }
    }

    /// The same metric analysed with CUPED, given the correlation `rho`
    /// between the pre-period covariate and the metric.
    pub fn with_cuped_correlation(mut self, rho: f64) -> PlannedMetric {
        self.variance_reduction = Some(VarianceReduction::Correlation(rho));
        self
    }

    /// The same metric with a share `share` of its variance removed (e.g. as
    /// measured by CUPED on past experiments).
    pub fn with_variance_reduction(mut self, share: f64) -> PlannedMetric {
        self.variance_reduction = Some(VarianceReduction::Share(share));
        self
    }

    /// The baseline mean of the control arm: the rate, mean or ratio.
    pub fn baseline_mean(&self) -> f64 {
        match self.baseline {
            Baseline::Binomial { rate } => rate,
            Baseline::Continuous { mean, .. } => mean,
            Baseline::Ratio { ratio, .. } => ratio,
        }
    }
}

/// An effect of treatment against control, `δ = μ_t − μ_c`.
///
/// The sign gives the direction: positive for an increase. A one-sided
/// [`Alternative::Greater`] test needs a positive effect in
/// [`sample_size`], [`Alternative::Less`] a negative one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// In the metric's units (for a conversion rate: percentage points as a
    /// fraction, `0.01` for one point).
    Absolute(f64),
    /// As a share of the baseline mean (`0.05` for +5 %): `δ = x · μ_c`.
    /// With a negative baseline mean a positive share is a negative `δ`.
    Relative(f64),
}

impl Effect {
    /// The absolute effect `δ` for `metric`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] (`effect`) when the effect is zero or not
    /// finite, or relative to a zero baseline mean.
    pub fn delta(&self, metric: &PlannedMetric) -> Result<f64> {
        let delta = match *self {
            Effect::Absolute(x) => x,
            Effect::Relative(x) => {
                if !x.is_finite() {
                    return Err(Error::param("effect", x, "must be finite"));
                }
                let mean = metric.baseline_mean();
                if mean == 0.0 || !mean.is_finite() {
                    return Err(Error::param(
                        "effect",
                        x,
                        "a relative effect needs a finite, non-zero baseline mean",
                    ));
                }
                x * mean
            }
        };
        if !delta.is_finite() {
            return Err(Error::param("effect", delta, "must be finite"));
        }
        if delta == 0.0 {
            return Err(Error::param("effect", delta, "must be non-zero"));
        }
        Ok(delta)
    }
}

/// Parameters of the test: significance, power, sidedness and the split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PowerParams {
    /// Significance level `α`, the false-positive rate of each test (or of
    /// the family with [`bonferroni`](Self::bonferroni)), in (0, 1); default 0.05.
    pub alpha: f64,
    /// Target power `1 − β`, in (0, 1) and above the per-comparison `α`;
    /// default 0.8. Used by [`sample_size`] and [`mde`].
    pub power: f64,
    /// The alternative hypothesis; default two-sided.
    pub alternative: Alternative,
    /// Units in each treatment arm per control unit (`n_t = r · n_c`), in
    /// [1e-9, 1e9]; default 1.
    pub allocation_ratio: f64,
    /// Number of treatment arms, each compared with the one control (≥ 1); default 1.
    pub treatment_arms: u32,
    /// Divide `α` by the number of treatment arms (Bonferroni) so that `α`
    /// bounds the family-wise false-positive rate of the `k` comparisons;
    /// default false.
    pub bonferroni: bool,
}

impl Default for PowerParams {
    fn default() -> Self {
        PowerParams {
            alpha: 0.05,
            power: 0.8,
            alternative: Alternative::TwoSided,
            allocation_ratio: 1.0,
            treatment_arms: 1,
            bonferroni: false,
        }
    }
}

impl PowerParams {
    /// The significance level of each treatment-versus-control comparison:
    /// `α / k` with Bonferroni and `k` treatment arms, otherwise `α`.
    pub fn alpha_per_comparison(&self) -> f64 {
        if self.bonferroni && self.treatment_arms > 1 {
            self.alpha / f64::from(self.treatment_arms)
        } else {
            self.alpha
        }
    }

    fn check(&self) -> Result<()> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::param("alpha", self.alpha, "must be in (0, 1)"));
        }
        if !(self.power > 0.0 && self.power < 1.0) {
            return Err(Error::param("power", self.power, "must be in (0, 1)"));
        }
        check_ratio(self.allocation_ratio)?;
        if self.treatment_arms == 0 {
            return Err(Error::param("treatment_arms", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// The target power must beat the false-positive rate: a test with power
    /// `≤ α` needs no data at all.
    fn check_target(&self) -> Result<()> {
        let alpha = self.alpha_per_comparison();
        if self.power <= alpha {
            return Err(Error::param(
                "power",
                self.power,
                format!("must exceed the per-comparison significance level {alpha}"),
            ));
        }
        Ok(())
    }
}

fn check_ratio(ratio: f64) -> Result<()> {
    let (lo, hi) = ALLOCATION_RATIO_RANGE;
    if !(ratio >= lo && ratio <= hi) {
        return Err(Error::param(
            "allocation_ratio",
            ratio,
            "must be finite and in [1e-9, 1e9]",
        ));
    }
    Ok(())
}

/// Which formula produced a [`SampleSize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Formula {
    /// Explicit one-tail formula with the pooled variance under the null and
    /// the unpooled variance under the alternative (binomial metrics;
    /// statsmodels' `samplesize_proportions_2indep_onetail`). Two-sided tests
    /// use `α/2` and ignore the far tail.
    PooledNullOneTail,
    /// Root of the full normal power equation, far tail included (continuous
    /// and ratio metrics; statsmodels' `NormalIndPower().solve_power`).
    NormalFullPower,
}

/// The units a test needs ([`sample_size`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleSize {
    /// Units in the control arm, rounded up (at least 1).
    pub control_units: u64,
    /// Units in each treatment arm, rounded up (at least 1).
    pub treatment_units: u64,
    /// Number of treatment arms.
    pub treatment_arms: u32,
    /// All units: `control_units + treatment_arms × treatment_units`.
    pub total_units: u64,
    /// Control units before rounding (the formula's `n_c`).
    pub control_units_exact: f64,
    /// Units per treatment arm before rounding (`r · n_c`).
    pub treatment_units_exact: f64,
    /// Treatment units per control unit.
    pub allocation_ratio: f64,
    /// The absolute effect powered for, `δ = μ_t − μ_c`.
    pub effect: f64,
    /// The effect relative to the baseline mean (`None` when the mean is 0).
    pub relative_effect: Option<f64>,
    /// Significance level of each comparison (after any Bonferroni adjustment).
    pub alpha_per_comparison: f64,
    /// The alternative hypothesis.
    pub alternative: Alternative,
    /// Target power.
    pub target_power: f64,
    /// Power of the full equation at the rounded arm sizes (at least the target).
    pub achieved_power: f64,
    /// The formula used.
    pub formula: Formula,
}

/// The smallest detectable effect in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectableEffect {
    /// Absolute effect `δ = μ_t − μ_c` (positive for an increase).
    pub absolute: f64,
    /// The effect relative to the baseline mean (`None` when the mean is 0).
    pub relative: Option<f64>,
    /// Treatment mean at that effect, `μ_c + δ`.
    pub treatment_mean: f64,
}

/// The minimum detectable effects at a given sample size ([`mde`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mde {
    /// Control units assumed.
    pub control_units: f64,
    /// Units per treatment arm assumed (`r · control_units`).
    pub treatment_units: f64,
    /// Significance level of each comparison (after any Bonferroni adjustment).
    pub alpha_per_comparison: f64,
    /// The alternative hypothesis.
    pub alternative: Alternative,
    /// The power the effects are detected with.
    pub power: f64,
    /// Smallest detectable increase (two-sided and greater tests); `None`
    /// when not asked for or, for a conversion rate, when no rate below 1 is
    /// detectable with this many units.
    pub increase: Option<DetectableEffect>,
    /// Smallest detectable decrease (two-sided and less tests); `None` when
    /// not asked for or, for a conversion rate, when no rate above 0 is
    /// detectable with this many units.
    pub decrease: Option<DetectableEffect>,
}

/// Traffic available to an experiment ([`duration`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// New eligible units per day (> 0): customers not yet seen by the test,
    /// not visits.
    pub daily_eligible_units: f64,
    /// Share of eligible units put into the experiment, in (0, 1].
    pub share_in_experiment: f64,
}

/// How long a test runs ([`duration`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExperimentDuration {
    /// Days until every arm has its units, rounded up (at least 1).
    pub days: u64,
    /// `days` rounded up to whole weeks.
    pub days_whole_weeks: u64,
    /// Units entering the experiment per day (all arms).
    pub daily_units: f64,
    /// Expected control units after `days`.
    pub control_units: f64,
    /// Expected units per treatment arm after `days`.
    pub treatment_units: f64,
    /// Expected units in the experiment after `days`.
    pub total_units: f64,
}

// ---------------------------------------------------------------------------
// The normal model behind every calculation.

/// Upper quantile `z_q = Φ̄⁻¹(q)` for `q` in (0, 1), evaluated through the
/// lower half so that `Φ⁻¹` never sees arguments near 1.
fn upper_quantile(q: f64) -> f64 {
    if q <= 0.5 {
        -normal_quantile(q)
    } else {
        normal_quantile(1.0 - q)
    }
}

/// A validated metric: the per-unit variance model.
#[derive(Debug, Clone, Copy)]
enum Model {
    /// Two proportions; `factor` is the variance-reduction factor.
    Proportions { p: f64, factor: f64 },
    /// Equal-variance normal; `sd` already includes the variance reduction,
    /// `param` names the input it comes from (for errors).
    Normal { sd: f64, param: &'static str },
}

impl Model {
    fn of(metric: &PlannedMetric) -> Result<Model> {
        let factor = match metric.variance_reduction {
            Some(vr) => vr.factor()?,
            None => 1.0,
        };
        match metric.baseline {
            Baseline::Binomial { rate } => {
                if !(rate > 0.0 && rate < 1.0) {
                    return Err(Error::param("rate", rate, "must be in (0, 1)"));
                }
                let model = Model::Proportions { p: rate, factor };
                model.sds(0.0, 1.0).map(|_| model)
            }
            Baseline::Continuous { mean, sd } => {
                if !mean.is_finite() {
                    return Err(Error::param("mean", mean, "must be finite"));
                }
                if !(sd > 0.0 && sd.is_finite()) {
                    return Err(Error::param("sd", sd, "must be finite and > 0"));
                }
                let model = Model::Normal {
                    sd: sd * factor.sqrt(),
                    param: "sd",
                };
                model.sds(0.0, 1.0).map(|_| model)
            }
            Baseline::Ratio { ratio, variance } => {
                if !ratio.is_finite() {
                    return Err(Error::param("ratio", ratio, "must be finite"));
                }
                if !(variance > 0.0 && variance.is_finite()) {
                    return Err(Error::param("variance", variance, "must be finite and > 0"));
                }
                let model = Model::Normal {
                    sd: (variance * factor).sqrt(),
                    param: "variance",
                };
                model.sds(0.0, 1.0).map(|_| model)
            }
        }
    }

    /// Rejects an effect that leaves the metric's range.
    fn check_effect(&self, delta: f64) -> Result<()> {
        if let Model::Proportions { p, .. } = *self {
            let pt = p + delta;
            if !(pt > 0.0 && pt < 1.0) {
                return Err(Error::param(
                    "effect",
                    delta,
                    format!("the treatment rate {pt} must be in (0, 1)"),
                ));
            }
        }
        Ok(())
    }

    /// Per-control-unit standard deviations `(s₀, s₁)` of `δ̂` under the null
    /// and the alternative when `n_t = r · n_c`: `SE = s / √n_c`.
    fn unit_sds(&self, delta: f64, r: f64) -> (f64, f64) {
        match *self {
            Model::Proportions { p, factor } => {
                let pt = p + delta;
                let pooled = (p + r * pt) / (1.0 + r);
                let s0 = (factor * pooled * (1.0 - pooled) * (1.0 + 1.0 / r)).sqrt();
                let s1 = (factor * (p * (1.0 - p) + pt * (1.0 - pt) / r)).sqrt();
                (s0, s1)
            }
            Model::Normal { sd, .. } => {
                let s = sd * (1.0 + 1.0 / r).sqrt();
                (s, s)
            }
        }
    }

    /// [`unit_sds`](Self::unit_sds), checked to be finite and positive (they
    /// are not only for variances at the edge of the `f64` range).
    fn sds(&self, delta: f64, r: f64) -> Result<(f64, f64)> {
        let (s0, s1) = self.unit_sds(delta, r);
        let ok = |s: f64| s > 0.0 && s.is_finite();
        if ok(s0) && ok(s1) {
            return Ok((s0, s1));
        }
        let (name, value) = match *self {
            Model::Proportions { p, .. } => ("rate", p),
            Model::Normal { sd, param } => (param, sd),
        };
        Err(Error::param(
            name,
            value,
            "the per-unit variance (after any variance reduction and for this allocation ratio) is outside the range of f64",
        ))
    }

    /// Power of the z-test at `n_c` control units and `r · n_c` treatment units.
    fn power(&self, delta: f64, n_c: f64, r: f64, alpha: f64, alt: Alternative) -> Result<f64> {
        let (s0, s1) = self.sds(delta, r)?;
        let p = rejection_probability(delta * n_c.sqrt(), s0, s1, alpha, alt);
        if p.is_nan() {
            // Subnormal standard deviations or levels: the standardised effect overflows.
            return Err(Error::param(
                "sd",
                s1,
                "too small against the effect and α to compute a power",
            ));
        }
        Ok(p)
    }
}

/// Probability that the z-test at level `alpha` rejects, with `shift = δ √n_c`
/// and per-control-unit standard deviations `s0` (null) and `s1` (alternative).
fn rejection_probability(shift: f64, s0: f64, s1: f64, alpha: f64, alt: Alternative) -> f64 {
    let ratio = s0 / s1;
    let z = shift / s1;
    let p = match alt {
        Alternative::TwoSided => {
            let c = upper_quantile(alpha / 2.0);
            normal_sf(c * ratio - z) + normal_cdf(-c * ratio - z)
        }
        Alternative::Greater => normal_sf(upper_quantile(alpha) * ratio - z),
        Alternative::Less => normal_cdf(-upper_quantile(alpha) * ratio - z),
    };
    p.clamp(0.0, 1.0)
}

/// Two-sided normal power as a function of the standardised shift `t ≥ 0`.
fn two_sided_power(t: f64, c: f64) -> f64 {
    normal_sf(c - t) + normal_cdf(-c - t)
}

/// The standardised shift `t = |δ| √n_c / s` at which the equal-variance
/// z-test has power `power` (full equation, far tail included).
fn standardised_shift(alpha: f64, power: f64, alt: Alternative) -> f64 {
    match alt {
        Alternative::Greater | Alternative::Less => upper_quantile(alpha) - upper_quantile(power),
        Alternative::TwoSided => {
            let c = upper_quantile(alpha / 2.0);
            // Power is increasing in t (c > 0): α at t = 0, and at the one-tail
            // solution the near tail alone reaches the target.
            let (mut lo, mut hi) = (0.0f64, c - upper_quantile(power));
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if mid <= lo || mid >= hi {
                    break;
                }
                if two_sided_power(mid, c) < power {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            hi
        }
    }
}

fn check_direction(delta: f64, alt: Alternative) -> Result<()> {
    match alt {
        Alternative::Greater if delta < 0.0 => Err(Error::param(
            "effect",
            delta,
            "a `greater` alternative needs a positive effect (treatment − control)",
        )),
        Alternative::Less if delta > 0.0 => Err(Error::param(
            "effect",
            delta,
            "a `less` alternative needs a negative effect (treatment − control)",
        )),
        _ => Ok(()),
    }
}

fn check_units(name: &'static str, units: f64) -> Result<()> {
    if !(units > 0.0 && units <= MAX_UNITS) {
        return Err(Error::param(name, units, "must be finite, > 0 and <= 2^53"));
    }
    Ok(())
}

fn relative(delta: f64, mean: f64) -> Option<f64> {
    let r = delta / mean;
    (mean != 0.0 && r.is_finite()).then_some(r)
}

/// Rounds a unit count up, at least 1.
fn round_up(x: f64) -> u64 {
    // `x` is checked to be in [0, 2^53], so the cast is exact.
    x.ceil().max(1.0) as u64
}

// ---------------------------------------------------------------------------
// Public calculations.

/// Units per arm needed to detect `effect` on `metric` with the power,
/// significance and split of `params`.
///
/// Binomial metrics use the explicit one-tail formula with the pooled
/// variance under the null (statsmodels'
/// `samplesize_proportions_2indep_onetail`; for two-sided tests `α/2` and no
/// far tail); continuous and ratio metrics solve the full normal power
/// equation (statsmodels' `NormalIndPower().solve_power`). See the
/// [module docs](self). Arm sizes are rounded up separately.
///
/// # Errors
///
/// [`Error::InvalidParameter`] for an invalid metric, effect or parameter: `α`
/// or power outside (0, 1), a target power not above the per-comparison `α`,
/// an effect of zero, against a one-sided alternative or pushing a rate out
/// of (0, 1), or an effect so small that an arm would need more than 2⁵³
/// units.
pub fn sample_size(
    metric: &PlannedMetric,
    effect: Effect,
    params: &PowerParams,
) -> Result<SampleSize> {
    params.check()?;
    params.check_target()?;
    let model = Model::of(metric)?;
    let delta = effect.delta(metric)?;
    model.check_effect(delta)?;
    check_direction(delta, params.alternative)?;
    let alpha = params.alpha_per_comparison();
    let r = params.allocation_ratio;

    let (n_c, formula) = match model {
        Model::Proportions { .. } => {
            let tail = match params.alternative {
                Alternative::TwoSided => alpha / 2.0,
                Alternative::Greater | Alternative::Less => alpha,
            };
            let (s0, s1) = model.sds(delta, r)?;
            let numerator =
                (upper_quantile(tail) * s0 - upper_quantile(params.power) * s1).max(0.0);
            ((numerator / delta).powi(2), Formula::PooledNullOneTail)
        }
        Model::Normal { .. } => {
            let (s, _) = model.sds(delta, r)?;
            let t = standardised_shift(alpha, params.power, params.alternative);
            ((t * s / delta).powi(2), Formula::NormalFullPower)
        }
    };
    let n_t = r * n_c;
    if !(n_c <= MAX_UNITS && n_t <= MAX_UNITS) {
        return Err(Error::param(
            "effect",
            delta,
            "too small to detect: an arm would need more than 2^53 units",
        ));
    }
    let control_units = round_up(n_c);
    let treatment_units = round_up(n_t);
    let total_units = u64::from(params.treatment_arms)
        .checked_mul(treatment_units)
        .and_then(|t| t.checked_add(control_units))
        .ok_or_else(|| {
            Error::param(
                "treatment_arms",
                params.treatment_arms,
                "the total number of units overflows",
            )
        })?;
    let achieved_power = model.power(
        delta,
        control_units as f64,
        treatment_units as f64 / control_units as f64,
        alpha,
        params.alternative,
    )?;
    Ok(SampleSize {
        control_units,
        treatment_units,
        treatment_arms: params.treatment_arms,
        total_units,
        control_units_exact: n_c,
        treatment_units_exact: n_t,
        allocation_ratio: r,
        effect: delta,
        relative_effect: relative(delta, metric.baseline_mean()),
        alpha_per_comparison: alpha,
        alternative: params.alternative,
        target_power: params.power,
        achieved_power,
        formula,
    })
}

/// Power of the test to detect `effect` with `control_units` control units
/// and `allocation_ratio × control_units` units per treatment arm
/// (`params.power` is not used).
///
/// Uses the full power equation of the [module docs](self): statsmodels'
/// `power_proportions_2indep` for binomial metrics and `NormalIndPower().power`
/// for continuous and ratio metrics. An effect against a one-sided
/// alternative is allowed and has power below `α`.
///
/// # Errors
///
/// [`Error::InvalidParameter`] for an invalid metric, effect or parameter,
/// or `control_units` not finite, positive and at most 2⁵³.
pub fn power(
    metric: &PlannedMetric,
    effect: Effect,
    control_units: f64,
    params: &PowerParams,
) -> Result<f64> {
    params.check()?;
    check_units("control_units", control_units)?;
    let model = Model::of(metric)?;
    let delta = effect.delta(metric)?;
    model.check_effect(delta)?;
    model.power(
        delta,
        control_units,
        params.allocation_ratio,
        params.alpha_per_comparison(),
        params.alternative,
    )
}

/// The minimum detectable effects with `control_units` control units and
/// `allocation_ratio × control_units` units per treatment arm: the smallest
/// increase and/or decrease (as the alternative asks) whose power is
/// `params.power`.
///
/// Solves the full power equation ([`power`]) for the effect: in closed form
/// or by bisection for continuous and ratio metrics (as statsmodels'
/// `NormalIndPower().solve_power(effect_size=None, …)`); for binomial
/// metrics by a scan of effects up to the edge of (0, 1), refined by
/// bisection at the first effect that reaches the target power (the normal
/// approximation need not be monotone in the effect for tiny samples or rates
/// near 0 or 1).
///
/// # Errors
///
/// [`Error::InvalidParameter`] for an invalid metric or parameter, a target
/// power not above the per-comparison `α`, `control_units` not finite,
/// positive and at most 2⁵³, or when no effect in the asked direction(s) is
/// detectable (a conversion rate with too few units).
pub fn mde(metric: &PlannedMetric, control_units: f64, params: &PowerParams) -> Result<Mde> {
    params.check()?;
    params.check_target()?;
    check_units("control_units", control_units)?;
    let model = Model::of(metric)?;
    let alpha = params.alpha_per_comparison();
    let alt = params.alternative;
    let r = params.allocation_ratio;
    let n_t = r * control_units;
    let mean = metric.baseline_mean();
    let want_up = matches!(alt, Alternative::TwoSided | Alternative::Greater);
    let want_down = matches!(alt, Alternative::TwoSided | Alternative::Less);

    // The variances at the baseline, checked once; in the scan for a
    // conversion rate an out-of-range variance counts as "not detectable".
    let (s, _) = model.sds(0.0, r)?;
    let solve = |direction: f64| -> Option<f64> {
        match model {
            Model::Normal { .. } => {
                let t = standardised_shift(alpha, params.power, alt);
                let delta = direction * t * s / control_units.sqrt();
                delta.is_finite().then_some(delta)
            }
            Model::Proportions { p, .. } => {
                let room = if direction > 0.0 { 1.0 - p } else { p };
                let power_at = |m: f64| {
                    model
                        .power(direction * m, control_units, r, alpha, alt)
                        .unwrap_or(0.0)
                };
                first_crossing(room, params.power, power_at).map(|m| direction * m)
            }
        }
    };
    let effect = |delta: f64| DetectableEffect {
        absolute: delta,
        relative: relative(delta, mean),
        treatment_mean: mean + delta,
    };
    let increase = if want_up {
        solve(1.0).map(effect)
    } else {
        None
    };
    let decrease = if want_down {
        solve(-1.0).map(effect)
    } else {
        None
    };
    if increase.is_none() && decrease.is_none() {
        return Err(Error::param(
            "control_units",
            control_units,
            "too few units: no effect in the tested direction reaches the target power",
        ));
    }
    Ok(Mde {
        control_units,
        treatment_units: n_t,
        alpha_per_comparison: alpha,
        alternative: alt,
        power: params.power,
        increase,
        decrease,
    })
}

/// The smallest magnitude `m` in (0, `room`) with `power_at(m) >= target`:
/// a geometric scan (32 points a decade over 15 decades below `room`, then
/// halving further down if needed) for the first point that reaches the
/// target, then bisection between it and the point before.
fn first_crossing(room: f64, target: f64, power_at: impl Fn(f64) -> f64) -> Option<f64> {
    // Stay strictly inside the metric's range.
    let top = room * (1.0 - 1e-9);
    if top <= 0.0 || power_at(top) < target {
        return None;
    }
    const PER_DECADE: i32 = 32;
    const DECADES: i32 = 15;
    let grid = |k: i32| top * 10f64.powf(-f64::from(k) / f64::from(PER_DECADE));
    // Scan upwards from the smallest grid point.
    let mut hi = top;
    let mut lo = None;
    for k in (1..=PER_DECADE * DECADES).rev() {
        let m = grid(k);
        if power_at(m) >= target {
            hi = m;
            break;
        }
        lo = Some(m);
    }
    let mut lo = match lo {
        Some(lo) => lo,
        None => {
            // Even the smallest grid point is detectable: go further down.
            let mut m = hi;
            loop {
                let half = m * 0.5;
                if half == 0.0 {
                    return Some(m);
                }
                if power_at(half) < target {
                    break half;
                }
                m = half;
                hi = m;
            }
        }
    };
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if power_at(mid) >= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Days the test `plan` needs with `traffic`, and the units it has then.
///
/// Each day brings `daily_eligible_units × share_in_experiment` units, split
/// between control and the treatment arms in proportion
/// `1 : allocation_ratio : … : allocation_ratio`; the test runs until the
/// slowest arm has its units.
///
/// # Errors
///
/// [`Error::InvalidParameter`] when the daily units are not finite and
/// positive, the share is not in (0, 1], the plan's ratio or arms are
/// invalid (e.g. a hand-edited plan), or the run would exceed 2⁵³ days.
pub fn duration(plan: &SampleSize, traffic: &Traffic) -> Result<ExperimentDuration> {
    let daily_eligible = traffic.daily_eligible_units;
    if !(daily_eligible > 0.0 && daily_eligible.is_finite()) {
        return Err(Error::param(
            "daily_eligible_units",
            daily_eligible,
            "must be finite and > 0",
        ));
    }
    let share = traffic.share_in_experiment;
    if !(share > 0.0 && share <= 1.0) {
        return Err(Error::param(
            "share_in_experiment",
            share,
            "must be in (0, 1]",
        ));
    }
    check_ratio(plan.allocation_ratio)?;
    if plan.treatment_arms == 0 {
        return Err(Error::param("treatment_arms", 0, "must be at least 1"));
    }
    let daily = daily_eligible * share;
    if daily <= 0.0 {
        return Err(Error::param(
            "share_in_experiment",
            share,
            "leaves no units per day",
        ));
    }
    let r = plan.allocation_ratio;
    let control_share = 1.0 / (1.0 + f64::from(plan.treatment_arms) * r);
    let treatment_share = r * control_share;
    let control_days = plan.control_units as f64 / (daily * control_share);
    let treatment_days = plan.treatment_units as f64 / (daily * treatment_share);
    // Forgive rounding noise of a few ulps so that exact multiples are not
    // pushed to the next day.
    let needed = control_days.max(treatment_days) * (1.0 - 1e-12);
    if needed.is_nan() || needed > MAX_UNITS {
        return Err(Error::param(
            "daily_eligible_units",
            daily_eligible,
            "too little traffic: the test would run more than 2^53 days",
        ));
    }
    let days = round_up(needed);
    let days_f = days as f64;
    Ok(ExperimentDuration {
        days,
        days_whole_weeks: days.div_ceil(7) * 7,
        daily_units: daily,
        control_units: days_f * daily * control_share,
        treatment_units: days_f * daily * treatment_share,
        total_units: days_f * daily,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Reference values: statsmodels 0.15.0 (scipy 1.17.1), Python venv
    // /work/venv. Mapping of this module's arguments onto statsmodels':
    //
    // - proportions (`samplesize_proportions_2indep_onetail`,
    //   `power_proportions_2indep`): `prop2` = control rate, `diff` = δ,
    //   `nobs1` = treatment units, `ratio` = control / treatment = 1 / r;
    // - normal (`NormalIndPower`): `nobs1` = control units, `ratio` = r,
    //   `effect_size` = δ / σ.

    const TOL: f64 = 1e-6;

    fn close(got: f64, want: f64, tol: f64) {
        assert!(
            (got - want).abs() <= tol,
            "got {got:?}, want {want:?} (diff {:e})",
            got - want
        );
    }

    fn params(alternative: Alternative) -> PowerParams {
        PowerParams {
            alternative,
            ..PowerParams::default()
        }
    }

    fn bad_param(r: Result<impl std::fmt::Debug>) -> &'static str {
        match r {
            Err(Error::InvalidParameter { name, .. }) => name,
            other => panic!("expected InvalidParameter, got {other:?}"),
        }
    }

    // --- binomial sample sizes -------------------------------------------

    #[test]
    fn binomial_two_sided_matches_statsmodels() {
        // samplesize_proportions_2indep_onetail(diff=0.01, prop2=0.1, power=0.8,
        //     ratio=1, alpha=0.05, alternative='two-sided')  -> 14750.790469044945
        let s = sample_size(
            &PlannedMetric::binomial(0.1),
            Effect::Absolute(0.01),
            &PowerParams::default(),
        )
        .unwrap();
        close(s.control_units_exact, 14750.790469044945, TOL);
        close(s.treatment_units_exact, 14750.790469044945, TOL);
        assert_eq!(
            (s.control_units, s.treatment_units, s.total_units),
            (14751, 14751, 29502)
        );
        assert_eq!(s.formula, Formula::PooledNullOneTail);
        assert!(s.achieved_power >= 0.8);
        close(s.relative_effect.unwrap(), 0.1, 1e-12);

        // The same call with diff=-0.01 (a decrease; the variances differ)
        //     -> 13494.969706443555
        let s = sample_size(
            &PlannedMetric::binomial(0.1),
            Effect::Absolute(-0.01),
            &PowerParams::default(),
        )
        .unwrap();
        close(s.control_units_exact, 13494.969706443555, TOL);

        // Relative effect: diff=0.1*0.1 -> 14750.790469044941
        let s = sample_size(
            &PlannedMetric::binomial(0.1),
            Effect::Relative(0.1),
            &PowerParams::default(),
        )
        .unwrap();
        close(s.control_units_exact, 14750.790469044941, TOL);
    }

    #[test]
    fn binomial_one_sided_matches_statsmodels() {
        // samplesize_proportions_2indep_onetail(diff=0.01, prop2=0.1, power=0.8,
        //     ratio=1, alpha=0.05, alternative='larger')  -> 11619.069936521044
        let s = sample_size(
            &PlannedMetric::binomial(0.1),
            Effect::Absolute(0.01),
            &params(Alternative::Greater),
        )
        .unwrap();
        close(s.control_units_exact, 11619.069936521044, TOL);
        assert_eq!(s.control_units, 11620);

        // samplesize_proportions_2indep_onetail(diff=-0.01, prop2=0.1, power=0.8,
        //     ratio=1, alpha=0.05, alternative='smaller')  -> 10629.860775113182
        let s = sample_size(
            &PlannedMetric::binomial(0.1),
            Effect::Absolute(-0.01),
            &params(Alternative::Less),
        )
        .unwrap();
        close(s.control_units_exact, 10629.860775113182, TOL);
    }

    #[test]
    fn binomial_unequal_allocation_matches_statsmodels() {
        // Two treatment units per control unit (r = 2), so statsmodels' ratio = 0.5
        // and its nobs1 is the treatment arm:
        // samplesize_proportions_2indep_onetail(diff=0.01, prop2=0.1, power=0.8,
        //     ratio=0.5, alpha=0.05, alternative='two-sided')  -> 22248.558375718923
        let p = PowerParams {
            allocation_ratio: 2.0,
            ..PowerParams::default()
        };
        let s = sample_size(&PlannedMetric::binomial(0.1), Effect::Absolute(0.01), &p).unwrap();
        close(s.treatment_units_exact, 22248.558375718923, TOL);
        close(s.control_units_exact, 22248.558375718923 / 2.0, TOL);
        assert_eq!((s.control_units, s.treatment_units), (11125, 22249));
        assert_eq!(s.total_units, 11125 + 22249);
    }

    #[test]
    fn bonferroni_divides_alpha_over_treatment_arms() {
        let p = PowerParams {
            treatment_arms: 3,
            bonferroni: true,
            ..PowerParams::default()
        };
        close(p.alpha_per_comparison(), 0.05 / 3.0, 1e-15);
        // samplesize_proportions_2indep_onetail(diff=0.01, prop2=0.1, power=0.8,
        //     ratio=1, alpha=0.05/3, alternative='two-sided')  -> 19675.338209594156
        let s = sample_size(&PlannedMetric::binomial(0.1), Effect::Absolute(0.01), &p).unwrap();
        close(s.control_units_exact, 19675.338209594156, TOL);
        assert_eq!(s.total_units, 4 * 19676);
        // NormalIndPower().solve_power(effect_size=0.1, alpha=0.05/3, power=0.8,
        //     ratio=1, alternative='two-sided')  -> 2093.8227677013315
        let s = sample_size(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(2.0),
            &p,
        )
        .unwrap();
        close(s.control_units_exact, 2093.8227677013315, TOL);
        // Without the flag the arms count but α does not change.
        let p = PowerParams {
            treatment_arms: 3,
            ..PowerParams::default()
        };
        let s = sample_size(&PlannedMetric::binomial(0.1), Effect::Absolute(0.01), &p).unwrap();
        close(s.control_units_exact, 14750.790469044945, TOL);
        assert_eq!(s.total_units, 4 * 14751);
    }

    // --- continuous and ratio sample sizes ---------------------------------

    #[test]
    fn continuous_two_sided_matches_statsmodels() {
        // NormalIndPower().solve_power(effect_size=0.1, alpha=0.05, power=0.8,
        //     ratio=1, alternative='two-sided')  -> 1569.7721019023288
        // The root of the same power equation to full precision,
        // scipy.optimize.brentq(lambda n: NormalIndPower().power(0.1, n, 0.05, 1,
        //     'two-sided') - 0.8, 100, 10000, xtol=1e-14, rtol=1e-15)
        //     -> 1569.7721018652398
        // (solve_power stops ~4e-8 from it; statrs' normal CDF, good to ~1e-11
        // relative, puts this module ~8e-8 from it.)
        let s = sample_size(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(2.0),
            &PowerParams::default(),
        )
        .unwrap();
        close(s.control_units_exact, 1569.7721019023288, TOL);
        close(s.control_units_exact, 1569.7721018652398, TOL);
        assert_eq!(
            (s.control_units, s.treatment_units, s.total_units),
            (1570, 1570, 3140)
        );
        assert_eq!(s.formula, Formula::NormalFullPower);

        // Unequal allocation: NormalIndPower().solve_power(effect_size=0.1,
        //     alpha=0.05, power=0.8, ratio=0.5, alternative='two-sided')
        //     -> 2354.658152798375 (nobs1 = control)
        let p = PowerParams {
            allocation_ratio: 0.5,
            ..PowerParams::default()
        };
        let s = sample_size(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(2.0),
            &p,
        )
        .unwrap();
        close(s.control_units_exact, 2354.658152798375, TOL);
        close(s.treatment_units_exact, 2354.658152798375 / 2.0, TOL);
    }

    #[test]
    fn continuous_one_sided_matches_statsmodels() {
        // NormalIndPower().solve_power(effect_size=0.1, alpha=0.05, power=0.8,
        //     ratio=1, alternative='larger')  -> 1236.5114464618343
        let s = sample_size(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Relative(0.04),
            &params(Alternative::Greater),
        )
        .unwrap();
        close(s.control_units_exact, 1236.5114464618343, TOL);
        // effect_size=-0.1, alternative='smaller'  -> 1236.5114464618343
        let s = sample_size(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(-2.0),
            &params(Alternative::Less),
        )
        .unwrap();
        close(s.control_units_exact, 1236.5114464618343, TOL);
    }

    #[test]
    fn ratio_metric_is_a_normal_metric_with_the_delta_method_variance() {
        // Revenue per session 2.5, delta-method per-customer variance 4 (σ = 2),
        // detect +0.25 with 90 % power:
        // NormalIndPower().solve_power(effect_size=0.25/2.0, alpha=0.05, power=0.9,
        //     ratio=1, alternative='two-sided')  -> 1344.9496844405958
        let p = PowerParams {
            power: 0.9,
            ..PowerParams::default()
        };
        let s = sample_size(&PlannedMetric::ratio(2.5, 4.0), Effect::Relative(0.1), &p).unwrap();
        close(s.control_units_exact, 1344.9496844405958, TOL);
        let c = sample_size(
            &PlannedMetric::continuous(2.5, 2.0),
            Effect::Absolute(0.25),
            &p,
        )
        .unwrap();
        close(s.control_units_exact, c.control_units_exact, 1e-9);
    }

    #[test]
    fn cuped_scales_sample_size_by_one_minus_rho_squared() {
        // NormalIndPower().solve_power(effect_size=0.1/np.sqrt(0.75), alpha=0.05,
        //     power=0.8, ratio=1, alternative='two-sided')  -> 1177.3290763655696
        let raw = sample_size(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(2.0),
            &PowerParams::default(),
        )
        .unwrap();
        let cuped = sample_size(
            &PlannedMetric::continuous(50.0, 20.0).with_cuped_correlation(0.5),
            Effect::Absolute(2.0),
            &PowerParams::default(),
        )
        .unwrap();
        close(cuped.control_units_exact, 1177.3290763655696, TOL);
        close(
            cuped.control_units_exact,
            0.75 * raw.control_units_exact,
            1e-9,
        );
        // A share of 0.75 removed is the same as ρ² = 0.75.
        let share = sample_size(
            &PlannedMetric::continuous(50.0, 20.0).with_variance_reduction(0.75),
            Effect::Absolute(2.0),
            &PowerParams::default(),
        )
        .unwrap();
        let rho = sample_size(
            &PlannedMetric::continuous(50.0, 20.0).with_cuped_correlation(-(0.75f64.sqrt())),
            Effect::Absolute(2.0),
            &PowerParams::default(),
        )
        .unwrap();
        close(
            share.control_units_exact,
            0.25 * raw.control_units_exact,
            1e-9,
        );
        close(rho.control_units_exact, share.control_units_exact, 1e-9);
        // Conversion metrics scale the same way (both variances are reduced).
        for alt in [Alternative::TwoSided, Alternative::Greater] {
            let raw = sample_size(
                &PlannedMetric::binomial(0.1),
                Effect::Absolute(0.01),
                &params(alt),
            )
            .unwrap();
            let cuped = sample_size(
                &PlannedMetric::binomial(0.1).with_cuped_correlation(0.3),
                Effect::Absolute(0.01),
                &params(alt),
            )
            .unwrap();
            close(
                cuped.control_units_exact,
                0.91 * raw.control_units_exact,
                1e-8,
            );
        }
    }

    // --- power -------------------------------------------------------------

    #[test]
    fn power_matches_statsmodels() {
        // power_proportions_2indep(0.01, 0.1, 10000, ratio=1, alpha=0.05,
        //     alternative='two-sided').power  -> 0.6356078962785991
        let p = power(
            &PlannedMetric::binomial(0.1),
            Effect::Absolute(0.01),
            10_000.0,
            &PowerParams::default(),
        )
        .unwrap();
        close(p, 0.6356078962785991, TOL);

        // power_proportions_2indep(0.01, 0.1, 10000, ratio=0.5, alpha=0.05,
        //     alternative='larger').power  -> 0.5904432982275909
        // (10000 treatment units, 5000 control units: r = 2)
        let pp = PowerParams {
            allocation_ratio: 2.0,
            alternative: Alternative::Greater,
            ..PowerParams::default()
        };
        let p = power(
            &PlannedMetric::binomial(0.1),
            Effect::Absolute(0.01),
            5_000.0,
            &pp,
        )
        .unwrap();
        close(p, 0.5904432982275909, TOL);

        // power_proportions_2indep(-0.01, 0.1, 8000, ratio=1, alpha=0.05,
        //     alternative='smaller').power  -> 0.6957409256053453
        let p = power(
            &PlannedMetric::binomial(0.1),
            Effect::Absolute(-0.01),
            8_000.0,
            &params(Alternative::Less),
        )
        .unwrap();
        close(p, 0.6957409256053453, TOL);

        // NormalIndPower().power(0.1, 1000, 0.05, 1, 'two-sided')  -> 0.6087794846454566
        let p = power(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(2.0),
            1_000.0,
            &PowerParams::default(),
        )
        .unwrap();
        close(p, 0.6087794846454566, TOL);

        // NormalIndPower().power(0.1, 1000, 0.05, ratio=0.5, alternative='larger')
        //     -> 0.5717723467729094
        let pp = PowerParams {
            allocation_ratio: 0.5,
            alternative: Alternative::Greater,
            ..PowerParams::default()
        };
        let p = power(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(2.0),
            1_000.0,
            &pp,
        )
        .unwrap();
        close(p, 0.5717723467729094, TOL);

        // An effect against a one-sided alternative is allowed and has power below α.
        let p = power(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(-2.0),
            1_000.0,
            &params(Alternative::Greater),
        )
        .unwrap();
        assert!(p < 0.05);
    }

    // --- minimum detectable effect -----------------------------------------

    #[test]
    fn continuous_mde_matches_statsmodels_and_has_target_power() {
        // NormalIndPower().solve_power(effect_size=None, nobs1=1000, alpha=0.05,
        //     power=0.8, ratio=1, alternative='two-sided')  -> 0.1252903452971738
        // The root of the same power equation to full precision,
        // scipy.optimize.brentq(lambda d: NormalIndPower().power(d, 1000, 0.05, 1,
        //     'two-sided') - 0.8, 1e-3, 1, xtol=1e-15, rtol=1e-15)
        //     -> 0.12529054640575402
        // (solve_power's effect-size solver stops ~2e-7 from it.)
        let metric = PlannedMetric::continuous(50.0, 20.0);
        let m = mde(&metric, 1_000.0, &PowerParams::default()).unwrap();
        let up = m.increase.unwrap();
        let down = m.decrease.unwrap();
        close(up.absolute / 20.0, 0.1252903452971738, TOL);
        close(up.absolute / 20.0, 0.12529054640575402, 1e-9);
        close(down.absolute, -up.absolute, 1e-12);
        close(up.relative.unwrap(), up.absolute / 50.0, 1e-15);
        close(up.treatment_mean, 50.0 + up.absolute, 1e-12);
        let p = power(
            &metric,
            Effect::Absolute(up.absolute),
            1_000.0,
            &PowerParams::default(),
        )
        .unwrap();
        close(p, 0.8, 1e-9);

        // One-sided: scipy.optimize.brentq(lambda d: NormalIndPower().power(d, 1000,
        //     0.05, 1, 'larger') - 0.8, 1e-3, 1, xtol=1e-15, rtol=1e-15)
        //     -> 0.11119853624953677
        // (= (norm.isf(0.05) + norm.ppf(0.8)) * sqrt(2/1000). solve_power(
        // effect_size=None, ..., alternative='larger') returns 0.11119680117312618,
        // 1.7e-6 short: its power there is 0.7999891380034183, so it is not pinned.)
        let m = mde(&metric, 1_000.0, &params(Alternative::Greater)).unwrap();
        assert!(m.decrease.is_none());
        close(
            m.increase.unwrap().absolute / 20.0,
            0.11119853624953677,
            1e-9,
        );
        let m = mde(&metric, 1_000.0, &params(Alternative::Less)).unwrap();
        assert!(m.increase.is_none());
        close(
            m.decrease.unwrap().absolute / 20.0,
            -0.11119853624953677,
            1e-9,
        );
    }

    #[test]
    fn binomial_mde_matches_statsmodels_and_has_target_power() {
        // f = lambda d: power_proportions_2indep(d, 0.1, 5000, ratio=1, alpha=0.05,
        //     alternative='two-sided').power - 0.8
        // scipy.optimize.brentq(f, 1e-6, 0.5, xtol=1e-15, rtol=1e-15)
        //     -> 0.017439892851084954
        // scipy.optimize.brentq(f, -0.0999, -1e-6, xtol=1e-15, rtol=1e-15)
        //     -> -0.016185355658049162
        let metric = PlannedMetric::binomial(0.1);
        let m = mde(&metric, 5_000.0, &PowerParams::default()).unwrap();
        let up = m.increase.unwrap();
        let down = m.decrease.unwrap();
        close(up.absolute, 0.017439892851084954, 1e-9);
        close(down.absolute, -0.016185355658049162, 1e-9);
        close(up.relative.unwrap(), 0.17439892851084954, 1e-8);
        close(up.treatment_mean, 0.1 + 0.017439892851084954, 1e-9);
        for d in [up.absolute, down.absolute] {
            let p = power(
                &metric,
                Effect::Absolute(d),
                5_000.0,
                &PowerParams::default(),
            )
            .unwrap();
            close(p, 0.8, 1e-9);
        }
        // The sample size for that effect is the units we started from, or a
        // little more: its formula ignores the far tail.
        let s = sample_size(
            &metric,
            Effect::Absolute(up.absolute),
            &PowerParams::default(),
        )
        .unwrap();
        assert!(s.control_units_exact >= 5_000.0 - 1e-6, "{s:?}");
        assert!(s.control_units_exact < 5_001.0, "{s:?}");
    }

    #[test]
    fn binomial_mde_is_none_where_the_rate_has_no_room() {
        // 99.9 % baseline and 20 units: no increase below 100 % is detectable,
        // but a decrease is.
        let m = mde(
            &PlannedMetric::binomial(0.999),
            20.0,
            &PowerParams::default(),
        )
        .unwrap();
        assert!(m.increase.is_none());
        assert!(m.decrease.unwrap().absolute < 0.0);
        // With a one-sided `greater` test nothing is left: an error.
        let e = mde(
            &PlannedMetric::binomial(0.999),
            20.0,
            &params(Alternative::Greater),
        );
        assert_eq!(bad_param(e), "control_units");
    }

    // --- duration ----------------------------------------------------------

    #[test]
    fn duration_arithmetic() {
        let plan = sample_size(
            &PlannedMetric::binomial(0.1),
            Effect::Absolute(0.01),
            &PowerParams::default(),
        )
        .unwrap();
        assert_eq!(plan.total_units, 29_502);
        // 2 000 eligible a day, half in the test: 1 000 a day, 500 per arm;
        // 14 751 / 500 = 29.502 -> 30 days.
        let d = duration(
            &plan,
            &Traffic {
                daily_eligible_units: 2_000.0,
                share_in_experiment: 0.5,
            },
        )
        .unwrap();
        assert_eq!(d.days, 30);
        assert_eq!(d.days_whole_weeks, 35);
        close(d.daily_units, 1_000.0, 1e-12);
        close(d.control_units, 15_000.0, 1e-9);
        close(d.treatment_units, 15_000.0, 1e-9);
        close(d.total_units, 30_000.0, 1e-9);

        // An exact multiple is not pushed to the next day: 100 per arm at 10 a day.
        let mut exact = plan.clone();
        exact.control_units = 100;
        exact.treatment_units = 100;
        let d = duration(
            &exact,
            &Traffic {
                daily_eligible_units: 20.0,
                share_in_experiment: 1.0,
            },
        )
        .unwrap();
        assert_eq!((d.days, d.days_whole_weeks), (10, 14));

        // Three treatment arms at r = 2: control gets 1/7 of the traffic,
        // each treatment arm 2/7; 700 a day -> 100 control, 200 per treatment arm.
        let p = PowerParams {
            allocation_ratio: 2.0,
            treatment_arms: 3,
            ..PowerParams::default()
        };
        let plan = sample_size(
            &PlannedMetric::continuous(50.0, 20.0),
            Effect::Absolute(2.0),
            &p,
        )
        .unwrap();
        let d = duration(
            &plan,
            &Traffic {
                daily_eligible_units: 1_400.0,
                share_in_experiment: 0.5,
            },
        )
        .unwrap();
        let want = (plan.control_units as f64 / 100.0)
            .max(plan.treatment_units as f64 / 200.0)
            .ceil();
        assert_eq!(d.days as f64, want);
        close(d.control_units, want * 100.0, 1e-9);
        close(d.treatment_units, want * 200.0, 1e-9);
        assert!(d.control_units >= plan.control_units as f64);
        assert!(d.treatment_units >= plan.treatment_units as f64);
        // At least one day.
        let d = duration(
            &plan,
            &Traffic {
                daily_eligible_units: 1e12,
                share_in_experiment: 1.0,
            },
        )
        .unwrap();
        assert_eq!((d.days, d.days_whole_weeks), (1, 7));
    }

    // --- errors --------------------------------------------------------------

    #[test]
    fn invalid_parameters_are_typed_errors() {
        let m = PlannedMetric::binomial(0.1);
        let e = Effect::Absolute(0.01);
        let ok = PowerParams::default();
        for alpha in [0.0, 1.0, -0.1, f64::NAN, f64::INFINITY] {
            let p = PowerParams { alpha, ..ok };
            assert_eq!(bad_param(sample_size(&m, e, &p)), "alpha");
            assert_eq!(bad_param(power(&m, e, 100.0, &p)), "alpha");
            assert_eq!(bad_param(mde(&m, 100.0, &p)), "alpha");
        }
        for target in [0.0, 1.0, f64::NAN, 0.05, 0.01] {
            let p = PowerParams {
                power: target,
                ..ok
            };
            assert_eq!(bad_param(sample_size(&m, e, &p)), "power");
            assert_eq!(bad_param(mde(&m, 100.0, &p)), "power");
        }
        // power ≤ α only matters for the target, not for computing power.
        assert!(power(&m, e, 100.0, &PowerParams { power: 0.01, ..ok }).is_ok());
        for allocation_ratio in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-12, 1e12] {
            let p = PowerParams {
                allocation_ratio,
                ..ok
            };
            assert_eq!(bad_param(sample_size(&m, e, &p)), "allocation_ratio");
        }
        let p = PowerParams {
            treatment_arms: 0,
            ..ok
        };
        assert_eq!(bad_param(sample_size(&m, e, &p)), "treatment_arms");

        for rate in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert_eq!(
                bad_param(sample_size(&PlannedMetric::binomial(rate), e, &ok)),
                "rate"
            );
        }
        for sd in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::MAX] {
            let c = PlannedMetric::continuous(1.0, sd);
            assert_eq!(bad_param(sample_size(&c, Effect::Absolute(1.0), &ok)), "sd");
        }
        for mean in [f64::NAN, f64::INFINITY] {
            let c = PlannedMetric::continuous(mean, 1.0);
            assert_eq!(
                bad_param(sample_size(&c, Effect::Absolute(1.0), &ok)),
                "mean"
            );
        }
        assert_eq!(
            bad_param(sample_size(
                &PlannedMetric::ratio(1.0, 0.0),
                Effect::Absolute(1.0),
                &ok
            )),
            "variance"
        );
        assert_eq!(
            bad_param(sample_size(
                &PlannedMetric::ratio(f64::NAN, 1.0),
                Effect::Absolute(1.0),
                &ok
            )),
            "ratio"
        );
        for rho in [1.0, -1.0, f64::NAN, 2.0] {
            let c = m.with_cuped_correlation(rho);
            assert_eq!(bad_param(sample_size(&c, e, &ok)), "variance_reduction");
        }
        for share in [1.0, -0.1, f64::NAN] {
            let c = m.with_variance_reduction(share);
            assert_eq!(bad_param(sample_size(&c, e, &ok)), "variance_reduction");
        }

        // Effects: zero, not finite, outside (0, 1), against the alternative,
        // relative to a zero mean, too small to detect.
        for bad in [
            Effect::Absolute(0.0),
            Effect::Absolute(f64::NAN),
            Effect::Absolute(f64::INFINITY),
            Effect::Relative(0.0),
            Effect::Relative(f64::NAN),
            Effect::Absolute(0.9),
            Effect::Absolute(-0.1),
            Effect::Relative(-1.0),
            Effect::Relative(9.0),
            Effect::Absolute(1e-300),
        ] {
            assert_eq!(bad_param(sample_size(&m, bad, &ok)), "effect", "{bad:?}");
        }
        assert_eq!(
            bad_param(power(&m, Effect::Absolute(0.95), 10.0, &ok)),
            "effect"
        );
        assert_eq!(
            bad_param(sample_size(
                &m,
                Effect::Absolute(-0.01),
                &params(Alternative::Greater)
            )),
            "effect"
        );
        assert_eq!(
            bad_param(sample_size(
                &m,
                Effect::Absolute(0.01),
                &params(Alternative::Less)
            )),
            "effect"
        );
        assert_eq!(
            bad_param(sample_size(
                &PlannedMetric::continuous(0.0, 1.0),
                Effect::Relative(0.1),
                &ok
            )),
            "effect"
        );
        assert_eq!(
            bad_param(sample_size(
                &PlannedMetric::continuous(1e300, 1.0),
                Effect::Relative(1e300),
                &ok
            )),
            "effect"
        );

        for n in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            assert_eq!(bad_param(power(&m, e, n, &ok)), "control_units");
            assert_eq!(bad_param(mde(&m, n, &ok)), "control_units");
        }

        let plan = sample_size(&m, e, &ok).unwrap();
        for daily in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300] {
            let t = Traffic {
                daily_eligible_units: daily,
                share_in_experiment: 1.0,
            };
            assert_eq!(bad_param(duration(&plan, &t)), "daily_eligible_units");
        }
        for share in [0.0, 1.5, f64::NAN, -0.5] {
            let t = Traffic {
                daily_eligible_units: 100.0,
                share_in_experiment: share,
            };
            assert_eq!(bad_param(duration(&plan, &t)), "share_in_experiment");
        }
        let t = Traffic {
            daily_eligible_units: 100.0,
            share_in_experiment: 1.0,
        };
        let mut broken = plan.clone();
        broken.allocation_ratio = f64::NAN;
        assert_eq!(bad_param(duration(&broken, &t)), "allocation_ratio");
        let mut broken = plan;
        broken.treatment_arms = 0;
        assert_eq!(bad_param(duration(&broken, &t)), "treatment_arms");
    }

    #[test]
    fn serde_round_trip() {
        let metric = PlannedMetric::binomial(0.1).with_cuped_correlation(0.4);
        let json = serde_json::to_string(&metric).unwrap();
        assert_eq!(
            serde_json::from_str::<PlannedMetric>(&json).unwrap(),
            metric
        );
        let p: PowerParams = serde_json::from_str(r#"{"alternative":"greater"}"#).unwrap();
        assert_eq!(p.alternative, Alternative::Greater);
        assert_eq!(p.alpha, 0.05);
        let e: Effect = serde_json::from_str(r#"{"relative":0.05}"#).unwrap();
        assert_eq!(e, Effect::Relative(0.05));
        let plan = sample_size(&metric, Effect::Relative(0.1), &p).unwrap();
        let back: SampleSize =
            serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        assert_eq!(back, plan);
    }

    // --- properties ------------------------------------------------------------

    fn metric_strategy() -> impl Strategy<Value = (PlannedMetric, f64)> {
        // (metric, absolute effect magnitude)
        prop_oneof![
            (0.01f64..0.9, 0.02f64..0.5, prop::option::of(-0.9f64..0.9)).prop_map(
                |(p, rel, rho)| {
                    let m = PlannedMetric::binomial(p);
                    let m = match rho {
                        Some(rho) => m.with_cuped_correlation(rho),
                        None => m,
                    };
                    // Keep p ± δ inside (0, 1).
                    (m, rel * p.min(1.0 - p))
                }
            ),
            (-100.0f64..100.0, 0.1f64..100.0, 0.01f64..2.0)
                .prop_map(|(mean, sd, d)| (PlannedMetric::continuous(mean, sd), d * sd)),
            (0.1f64..10.0, 0.01f64..10.0, 0.01f64..2.0)
                .prop_map(|(r, v, d)| (PlannedMetric::ratio(r, v), d * v.sqrt())),
        ]
    }

    fn params_strategy() -> impl Strategy<Value = PowerParams> {
        (
            0.001f64..0.2,
            0.5f64..0.99,
            prop_oneof![
                Just(Alternative::TwoSided),
                Just(Alternative::Greater),
                Just(Alternative::Less)
            ],
            0.2f64..5.0,
            1u32..4,
            any::<bool>(),
        )
            .prop_map(
                |(alpha, power, alternative, allocation_ratio, treatment_arms, bonferroni)| {
                    PowerParams {
                        alpha,
                        power,
                        alternative,
                        allocation_ratio,
                        treatment_arms,
                        bonferroni,
                    }
                },
            )
    }

    fn signed(magnitude: f64, alt: Alternative, down: bool) -> f64 {
        match alt {
            Alternative::Greater => magnitude,
            Alternative::Less => -magnitude,
            Alternative::TwoSided if down => -magnitude,
            Alternative::TwoSided => magnitude,
        }
    }

    /// Any `f64`, but mostly the awkward ones: zeros, subnormals, edges of
    /// (0, 1), huge, infinite and NaN.
    fn edgy() -> impl Strategy<Value = f64> {
        prop_oneof![
            2 => prop::sample::select(vec![
                0.0,
                -0.0,
                5e-324,
                1e-300,
                1e-16,
                1e-9,
                0.05,
                0.5,
                0.8,
                1.0 - 1e-16,
                1.0,
                -1.0,
                2.0,
                1e9,
                1e300,
                f64::MAX,
                -f64::MAX,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
            ]),
            6 => 0.0f64..1.0,
            1 => -1.0f64..1.0,
            3 => 1.0f64..1e7,
            1 => any::<f64>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn power_is_monotone_in_units(
            (metric, magnitude) in metric_strategy(),
            p in params_strategy(),
            down in any::<bool>(),
            n in 2.0f64..1e6,
            factor in 1.0001f64..10.0,
        ) {
            let effect = Effect::Absolute(signed(magnitude, p.alternative, down));
            let small = power(&metric, effect, n, &p).unwrap();
            let large = power(&metric, effect, n * factor, &p).unwrap();
            prop_assert!((0.0..=1.0).contains(&small));
            prop_assert!(large >= small - 1e-12, "{small} -> {large}");
        }

        #[test]
        fn sample_size_reaches_the_target_power(
            (metric, magnitude) in metric_strategy(),
            p in params_strategy(),
            down in any::<bool>(),
        ) {
            let effect = Effect::Absolute(signed(magnitude, p.alternative, down));
            let s = sample_size(&metric, effect, &p).unwrap();
            let at = power(&metric, effect, s.control_units as f64, &p).unwrap();
            prop_assert!(at >= p.power - 1e-9, "{at} < {} for {s:?}", p.power);
            prop_assert!(s.achieved_power >= p.power - 1e-9, "{s:?}");
            prop_assert!(s.control_units as f64 >= s.control_units_exact);
            prop_assert!(s.treatment_units as f64 >= s.treatment_units_exact);
            prop_assert_eq!(
                s.total_units,
                s.control_units + u64::from(p.treatment_arms) * s.treatment_units
            );
            // The MDE at the planned units is no larger than the effect planned for.
            let m = mde(&metric, s.control_units as f64, &p).unwrap();
            let got = if effect.delta(&metric).unwrap() > 0.0 { m.increase } else { m.decrease };
            let got = got.unwrap();
            prop_assert!(got.absolute.abs() <= magnitude * (1.0 + 1e-9), "{got:?} vs {magnitude}");
            let at = power(&metric, Effect::Absolute(got.absolute), s.control_units as f64, &p)
                .unwrap();
            prop_assert!((at - p.power).abs() < 1e-7, "{at}");
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn never_panics(
            rate in edgy(),
            mean in edgy(),
            sd in edgy(),
            effect in edgy(),
            rho in edgy(),
            alpha in edgy(),
            target in edgy(),
            ratio in edgy(),
            n in edgy(),
            daily in edgy(),
            share in edgy(),
            arms in 0u32..5,
            relative in any::<bool>(),
            alt in 0u8..3,
        ) {
            let alternative = [Alternative::TwoSided, Alternative::Greater, Alternative::Less][alt as usize];
            let p = PowerParams {
                alpha,
                power: target,
                alternative,
                allocation_ratio: ratio,
                treatment_arms: arms,
                bonferroni: true,
            };
            let e = if relative { Effect::Relative(effect) } else { Effect::Absolute(effect) };
            for metric in [
                PlannedMetric::binomial(rate),
                PlannedMetric::continuous(mean, sd).with_cuped_correlation(rho),
                PlannedMetric::ratio(mean, sd).with_variance_reduction(rho),
            ] {
                if let Ok(s) = sample_size(&metric, e, &p) {
                    prop_assert!(s.control_units >= 1 && s.achieved_power.is_finite());
                    let t = Traffic { daily_eligible_units: daily, share_in_experiment: share };
                    if let Ok(d) = duration(&s, &t) {
                        prop_assert!(d.days >= 1 && d.total_units.is_finite());
                    }
                }
                if let Ok(x) = power(&metric, e, n, &p) {
                    prop_assert!((0.0..=1.0).contains(&x));
                }
                if let Ok(m) = mde(&metric, n, &p) {
                    prop_assert!(m.increase.is_some() || m.decrease.is_some());
                }
            }
        }
    }
}
