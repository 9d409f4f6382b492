//! Evaluating an experiment: how big is each variant's effect, is it real,
//! in which segment does it win, and was the experiment healthy?
//!
//! Every figure follows a trusted engine formula for formula, so results can
//! be checked against it number for number (the tests pin them):
//!
//! - **Absolute effect** `mean_B − mean_A`: Welch's t-test with
//!   Welch–Satterthwaite degrees of freedom for mean, count, ratio and
//!   quantile metrics (`scipy.stats.ttest_ind(equal_var=False)`); for
//!   binomial metrics the pooled two-proportion z-test (statsmodels'
//!   `proportions_ztest`) with the unpooled Wald interval
//!   (`confint_proportions_2indep(method="wald")`).
//! - **Relative effect** `(mean_B − mean_A) / mean_A` with the delta-method
//!   variance `σ²_B/(μ²_A n_B) + σ²_A μ²_B/(μ⁴_A n_A)` and a t reference
//!   distribution with Welch's degrees of freedom, as GrowthBook's gbstats
//!   `TwoSidedTTest(difference_type="relative")`.
//! - **CUPED** (Deng, Xu, Kohavi & Walker 2013): with a pre-period covariate
//!   `z`, each arm's mean becomes `x̄ − θ z̄` with one `θ = cov(x, z)/var(z)`
//!   pooled over the two arms compared, as gbstats'
//!   `RegressionAdjustedStatistic`. Variance shrinks by about `ρ²`, the
//!   squared correlation of metric and covariate; the reduction is reported.
//! - **Sequential testing**: the mixture sequential probability ratio test
//!   of Waudby-Smith et al. (2023, eqs. 9, 155, 161) gives always-valid
//!   p-values and intervals, so results may be read every day without
//!   inflating false positives, as gbstats' `SequentialTwoSidedTTest` with its
//!   tuning parameter (default 5000, the sample size at which the intervals
//!   are tightest).
//! - **Bayesian**: a Gaussian model of the relative effect with a flat or a
//!   Gaussian prior (gbstats' `EffectBayesianABTest`): chance to win
//!   `P(effect > 0)`, the risk (expected loss) of shipping the treatment and
//!   of keeping the control, and a credible interval. For binomial metrics
//!   also the exact probability that B's rate beats A's under Beta posteriors
//!   (Evan Miller's closed form; no Monte Carlo noise) and each arm's credible interval.
//! - **Guardrails**: the sample-ratio-mismatch chi-square test against the
//!   planned weights (a broken split invalidates everything else), warnings
//!   for arms below a minimum size, and Holm–Bonferroni and
//!   Benjamini–Hochberg adjustment over a family of comparisons with
//!   intervals adjusted consistently (Bonferroni intervals at `α/m` for Holm;
//!   false-coverage-rate intervals at `α R/m` for BH, Benjamini & Yekutieli 2005).
//! - **Per segment**: the full evaluation in every segment, adjusted
//!   p-values over all segment × variant comparisons, Cochran's Q test of
//!   whether the effect really differs between segments (with I²), and per
//!   segment a verdict: the winner, or "no clear winner" with the reason.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};

use super::Alternative;
use super::stats::{ArmStats, ExperimentStats, Metric, MetricKind, QuantileStats};
use crate::error::{Error, Result};
use crate::stats::{
    benjamini_hochberg, chi2_sf, holm, normal_cdf, normal_pdf, normal_quantile, normal_sf,
    t_quantile, t_sf, two_proportion_z,
};
use statrs::function::gamma::ln_gamma;

/// A Gaussian prior on the relative effect (gbstats' `GaussianPrior`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EffectPrior {
    /// Prior mean of the relative effect.
    pub mean: f64,
    /// Prior variance of the relative effect.
    pub variance: f64,
    /// `false`: a flat prior (the posterior is the likelihood); `true`: use mean and variance.
    pub proper: bool,
}

impl Default for EffectPrior {
    fn default() -> Self {
        EffectPrior {
            mean: 0.0,
            variance: 1.0,
            proper: false,
        }
    }
}

/// How to evaluate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalParams {
    /// Index of the control variant.
    pub control: usize,
    /// Significance level (and 1 − the interval's confidence).
    pub alpha: f64,
    /// Alternative of the frequentist tests (sequential figures are two-sided).
    pub alternative: Alternative,
    /// Adjust relative, sequential and Bayesian figures with the covariate when the statistics have one.
    pub cuped: bool,
    /// The sequential test's tuning parameter (gbstats' default 5000).
    pub sequential_tuning: f64,
    /// Prior of the Bayesian effect model.
    pub prior: EffectPrior,
    /// Beta prior `(a, b)` of the exact Beta–Binomial comparison (whole numbers ≥ 1).
    pub beta_prior: (u32, u32),
    /// Planned traffic weights per variant for the sample-ratio test; `None`: equal.
    pub planned_weights: Option<Vec<f64>>,
    /// Planned weights per segment (one row per segment, one weight per
    /// variant), when segments were split differently (e.g. by Thompson
    /// sampling); a segment's own row then replaces `planned_weights` in its
    /// sample-ratio test, and the overall test expects the mix of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_weights: Option<Vec<Vec<f64>>>,
    /// A sample-ratio p-value below this flags a mismatch (GrowthBook's default 0.001).
    pub srm_threshold: f64,
    /// Arms with fewer units get a warning and no verdict.
    pub min_units: u64,
}

impl Default for EvalParams {
    fn default() -> Self {
        EvalParams {
            control: 0,
            alpha: 0.05,
            alternative: Alternative::TwoSided,
            cuped: true,
            sequential_tuning: 5000.0,
            prior: EffectPrior::default(),
            beta_prior: (1, 1),
            planned_weights: None,
            segment_weights: None,
            srm_threshold: 0.001,
            min_units: 100,
        }
    }
}

impl EvalParams {
    /// Checks the parameters for an experiment with `variants` variants.
    pub fn check(&self, variants: usize) -> Result<()> {
        if self.control >= variants {
            return Err(Error::param(
                "control",
                self.control,
                format!("there are {variants} variants"),
            ));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::param("alpha", self.alpha, "must lie in (0, 1)"));
        }
        if !(self.sequential_tuning > 0.0 && self.sequential_tuning.is_finite()) {
            return Err(Error::param(
                "sequential_tuning",
                self.sequential_tuning,
                "must be a positive number",
            ));
        }
        if self.prior.proper
            && !(self.prior.variance > 0.0
                && self.prior.variance.is_finite()
                && self.prior.mean.is_finite())
        {
            return Err(Error::param(
                "prior.variance",
                self.prior.variance,
                "a proper prior needs a finite mean and a positive, finite variance",
            ));
        }
        if self.beta_prior.0 == 0 || self.beta_prior.1 == 0 {
            return Err(Error::param(
                "beta_prior",
                format!("{:?}", self.beta_prior),
                "both parameters must be whole numbers ≥ 1",
            ));
        }
        if !(self.srm_threshold > 0.0 && self.srm_threshold < 1.0) {
            return Err(Error::param(
                "srm_threshold",
                self.srm_threshold,
                "must lie in (0, 1)",
            ));
        }
        if let Some(w) = &self.planned_weights {
            if w.len() != variants {
                return Err(Error::param(
                    "planned_weights",
                    format!("{w:?}"),
                    format!("give one weight per variant ({variants})"),
                ));
            }
            if w.iter().any(|x| !(x.is_finite() && *x >= 0.0)) || w.iter().sum::<f64>() <= 0.0 {
                return Err(Error::param(
                    "planned_weights",
                    format!("{w:?}"),
                    "weights must be finite, non-negative and not all zero",
                ));
            }
        }
        Ok(())
    }
}

/// Which test produced the absolute effect's p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbsoluteTest {
    /// Welch's unequal-variance t-test.
    WelchT,
    /// The pooled two-proportion z-test (binomial metrics).
    PooledZ,
}

/// CUPED details of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cuped {
    /// The pooled regression coefficient θ of the metric on the covariate.
    pub theta: f64,
    /// Share of the relative effect's variance removed, `1 − var_adjusted / var_unadjusted`.
    pub variance_reduction: f64,
    /// The relative effect without adjustment.
    pub unadjusted_rel_effect: f64,
    /// Its confidence interval.
    pub unadjusted_rel_ci: [f64; 2],
}

/// The exact Beta–Binomial comparison of two rates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BetaBinomial {
    /// P(rate_B > rate_A) under the Beta posteriors (P(rate_B < rate_A) when lower is better).
    pub chance_to_beat_control: f64,
    /// Credible interval of the control's rate.
    pub control_interval: [f64; 2],
    /// Credible interval of the variant's rate.
    pub variant_interval: [f64; 2],
}

/// Something the reader should know before trusting a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// An arm has fewer units than [`EvalParams::min_units`].
    FewUnits {
        /// The arm's variant.
        variant: String,
        /// Its units.
        n: u64,
        /// The minimum.
        minimum: u64,
    },
    /// The control's mean is 0: relative effects are undefined.
    ZeroControlMean,
    /// An arm's metric has no variance: the tests are undefined.
    ZeroVariance {
        /// The arm's variant.
        variant: String,
    },
    /// The covariate has no variance in the two arms: CUPED was not applied.
    CovariateConstant,
    /// The observed split differs from the planned weights.
    SampleRatioMismatch {
        /// The chi-square test's p-value.
        p_value: f64,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::FewUnits {
                variant,
                n,
                minimum,
            } => write!(f, "{variant} has {n} units, below the minimum of {minimum}"),
            Warning::ZeroControlMean => {
                write!(
                    f,
                    "the control's mean is 0, so relative effects are undefined"
                )
            }
            Warning::ZeroVariance { variant } => {
                write!(
                    f,
                    "{variant}'s metric does not vary, so the tests are undefined"
                )
            }
            Warning::CovariateConstant => {
                write!(f, "the covariate does not vary; CUPED was not applied")
            }
            Warning::SampleRatioMismatch { p_value } => write!(
                f,
                "sample ratio mismatch (p = {p_value:.2e}): the split differs from the plan, results are unreliable"
            ),
        }
    }
}

/// One treatment compared with the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `mean_B − mean_A`.
    pub abs_effect: f64,
    /// Its standard error.
    pub abs_se: f64,
    /// Degrees of freedom of its reference distribution (infinite: normal).
    pub abs_df: f64,
    /// Its confidence interval.
    pub abs_ci: [f64; 2],
    /// p-value of the absolute effect (Welch's t, or the pooled z-test for binomial metrics).
    pub p_value: f64,
    /// Which test gave `p_value`.
    pub test: AbsoluteTest,
    /// `(mean_B − mean_A) / mean_A` (CUPED-adjusted when a covariate is used).
    pub rel_effect: f64,
    /// Its delta-method standard error.
    pub rel_se: f64,
    /// Welch degrees of freedom of the relative test.
    pub rel_df: f64,
    /// Its confidence interval.
    pub rel_ci: [f64; 2],
    /// Its p-value.
    pub rel_p_value: f64,
    /// CUPED details when a covariate was used.
    pub cuped: Option<Cuped>,
    /// Always-valid p-value of the relative effect (two-sided).
    pub sequential_p_value: f64,
    /// Always-valid confidence interval of the relative effect.
    pub sequential_ci: [f64; 2],
    /// Posterior probability that the variant is better than the control.
    pub chance_to_win: f64,
    /// Expected relative loss of shipping the variant if it is in fact worse.
    pub risk: f64,
    /// Expected relative loss of keeping the control if the variant is in fact better.
    pub risk_control: f64,
    /// Posterior mean of the relative effect.
    pub posterior_mean: f64,
    /// Credible interval of the relative effect.
    pub credible_interval: [f64; 2],
    /// Exact Beta–Binomial figures (binomial metrics).
    pub beta_binomial: Option<BetaBinomial>,
    /// Holm-adjusted `p_value` within the family (NaN until adjusted).
    pub p_value_holm: f64,
    /// Benjamini–Hochberg q-value of `p_value` within the family (NaN until adjusted).
    pub q_value_bh: f64,
    /// Absolute interval at the Bonferroni level `α/m` (simultaneous, consistent with Holm).
    pub abs_ci_holm: [f64; 2],
    /// Absolute interval at the false-coverage-rate level `α R/m` (consistent with BH).
    pub abs_ci_bh: [f64; 2],
    /// Warnings about this comparison.
    pub warnings: Vec<Warning>,
}

/// gbstats' view of an arm: units, (adjusted) mean, unadjusted mean, per-unit variance.
#[derive(Debug, Clone, Copy)]
struct Summary {
    n: f64,
    mean: f64,
    unadjusted_mean: f64,
    variance: f64,
}

fn plain_summary(arm: &ArmStats, kind: MetricKind) -> Summary {
    let n = arm.n as f64;
    let (mean, variance) = match kind {
        MetricKind::Binomial => {
            let p = arm.mean();
            (p, p * (1.0 - p))
        }
        MetricKind::Mean | MetricKind::Count => (arm.mean(), arm.variance()),
        MetricKind::Ratio => ratio_moments(arm),
    };
    Summary {
        n,
        mean,
        unadjusted_mean: mean,
        variance,
    }
}

/// `Σx/Σy` and its delta-method per-unit variance (gbstats' `RatioStatistic`).
fn ratio_moments(arm: &ArmStats) -> (f64, f64) {
    let n = arm.n as f64;
    if arm.second_sum == 0.0 || arm.n == 0 {
        return (0.0, 0.0);
    }
    let ratio = arm.sum / arm.second_sum;
    let mean_x = arm.mean();
    let mean_y = arm.second_mean();
    if mean_y == 0.0 || n <= 1.0 {
        return (ratio, 0.0);
    }
    let var = arm.variance() / mean_y.powi(2) - 2.0 * arm.covariance() * mean_x / mean_y.powi(3)
        + mean_x.powi(2) * arm.second_variance() / mean_y.powi(4);
    // The variance of (x − R·y)/ȳ: never negative but for the rounding of the
    // separately computed moments.
    (ratio, var.max(0.0))
}

/// Per-unit variance of the metric as gbstats computes it for the kind
/// (`p(1 − p)` for binomial, the sample variance otherwise).
fn post_variance(n: u64, sum: f64, sum_sq: f64, kind: MetricKind) -> f64 {
    match kind {
        MetricKind::Binomial => {
            if n == 0 {
                return 0.0;
            }
            let p = sum / n as f64;
            p * (1.0 - p)
        }
        _ => ArmStats::from_sums(n, sum, sum_sq).variance(),
    }
}

/// θ pooled over both arms (gbstats' `compute_theta`); 0 when either variable is constant.
fn pooled_theta(a: &ArmStats, b: &ArmStats, kind: MetricKind) -> f64 {
    let mut joint = *a;
    joint.merge(b);
    let var_post = post_variance(joint.n, joint.sum, joint.sum_sq, kind);
    let var_pre = joint.second_variance();
    if var_pre == 0.0 || var_post == 0.0 {
        return 0.0;
    }
    joint.covariance() / var_pre
}

fn adjusted_summary(arm: &ArmStats, kind: MetricKind, theta: f64) -> Summary {
    let post_mean = arm.mean();
    let post_var = post_variance(arm.n, arm.sum, arm.sum_sq, kind);
    let variance = if arm.n <= 1 {
        0.0
    } else {
        post_var + theta * theta * arm.second_variance() - 2.0 * theta * arm.covariance()
    };
    Summary {
        n: arm.n as f64,
        mean: post_mean - theta * arm.second_mean(),
        unadjusted_mean: post_mean,
        variance,
    }
}

/// A t-test of B against A (gbstats' `TTest`).
#[derive(Debug, Clone, Copy)]
struct TTest {
    estimate: f64,
    se: f64,
    df: f64,
    ci: [f64; 2],
    p_value: f64,
}

fn t_test(a: &Summary, b: &Summary, relative: bool, alt: Alternative, alpha: f64) -> TTest {
    let estimate = if relative {
        (b.mean - a.mean) / a.unadjusted_mean
    } else {
        b.mean - a.mean
    };
    let variance = if relative {
        b.variance / (a.unadjusted_mean.powi(2) * b.n)
            + a.variance * b.unadjusted_mean.powi(2) / (a.unadjusted_mean.powi(4) * a.n)
    } else {
        b.variance / b.n + a.variance / a.n
    };
    let df = (b.variance / b.n + a.variance / a.n).powi(2)
        / (b.variance.powi(2) / (b.n.powi(2) * (b.n - 1.0))
            + a.variance.powi(2) / (a.n.powi(2) * (a.n - 1.0)));
    let se = variance.sqrt();
    let (ci, p_value) = test_from(estimate, se, df, alt, alpha);
    TTest {
        estimate,
        se,
        df,
        ci,
        p_value,
    }
}

/// Interval and p-value of `estimate / se` against t(df) (normal for infinite df).
fn test_from(estimate: f64, se: f64, df: f64, alt: Alternative, alpha: f64) -> ([f64; 2], f64) {
    let stat = estimate / se;
    let sf = |x: f64| {
        if df.is_infinite() {
            normal_sf(x)
        } else {
            t_sf(x, df)
        }
    };
    let p = match alt {
        Alternative::TwoSided => (2.0 * sf(stat.abs())).min(1.0),
        Alternative::Greater => sf(stat),
        Alternative::Less => sf(-stat),
    };
    (interval(estimate, se, df, alt, alpha), p)
}

fn quantile(p: f64, df: f64) -> f64 {
    if df.is_infinite() {
        normal_quantile(p)
    } else {
        t_quantile(p, df)
    }
}

fn interval(estimate: f64, se: f64, df: f64, alt: Alternative, alpha: f64) -> [f64; 2] {
    match alt {
        Alternative::TwoSided => {
            let w = quantile(1.0 - alpha / 2.0, df) * se;
            [estimate - w, estimate + w]
        }
        Alternative::Greater => [estimate - quantile(1.0 - alpha, df) * se, f64::INFINITY],
        Alternative::Less => [f64::NEG_INFINITY, estimate + quantile(1.0 - alpha, df) * se],
    }
}

/// Always-valid two-sided p-value and interval (gbstats' `SequentialTwoSidedTTest`).
fn sequential(
    estimate: f64,
    variance: f64,
    n_total: f64,
    alpha: f64,
    tuning: f64,
) -> (f64, [f64; 2]) {
    // ρ from eq. 161 of Waudby-Smith et al.: the mixture is tightest at n = tuning.
    let rho2 = (-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / tuning;
    let s2 = variance * n_total;
    let nr = n_total * rho2 + 1.0;
    let width =
        s2.sqrt() * (2.0 * nr * (nr.sqrt() / alpha).ln() / (n_total * n_total * rho2)).sqrt();
    // Eq. 155 in log space: the e-value can overflow for large effects.
    let st2 = estimate * estimate * n_total / variance;
    let log_evalue = rho2 * st2 / (2.0 * nr) - 0.5 * nr.ln();
    let p = (-log_evalue).exp().min(1.0);
    (p, [estimate - width, estimate + width])
}

/// `[E max(X, 0), E max(−X, 0)]` for X ~ N(mu, sigma²): gbstats' `[risk_ctrl, risk_trt]`.
fn gaussian_risk(mu: f64, sigma: f64) -> [f64; 2] {
    let z = mu / sigma;
    let dens = sigma * normal_pdf(z);
    // Both are expectations of non-negative variables: clamp rounding, keep NaN.
    let clamp = |x: f64| if x < 0.0 { 0.0 } else { x };
    [
        clamp(mu * normal_cdf(z) + dens),
        clamp(dens - mu * normal_cdf(-z)),
    ]
}

/// `P(X₂ > X₁)` for `X₁ ~ Beta(a1, b1)`, `X₂ ~ Beta(a2, b2)`, whole-number `a2`:
/// `Σ_{i<a2} t_i` with `t_i = B(a1+i, b1+b2) / ((b2+i) B(1+i, b2) B(a1, b1))`
/// (Evan Miller 2015).
///
/// The terms form a unimodal sequence with ratio
/// `t_{i+1}/t_i = (a1+i)(b2+i) / ((a1+b1+b2+i)(1+i))`; the sum starts at the
/// largest term (where the ratio crosses 1) and walks outwards until the terms
/// no longer change the sum, so large counts cost about the width of the
/// peak, not `a2` terms.
fn beta_beats(a1: f64, b1: f64, a2: u64, b2: f64) -> f64 {
    let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
    let log_term =
        |i: f64| ln_beta(a1 + i, b1 + b2) - (b2 + i).ln() - ln_beta(1.0 + i, b2) - ln_beta(a1, b1);
    let ratio = |j: f64| (a1 + j) * (b2 + j) / ((a1 + b1 + b2 + j) * (1.0 + j));
    let last = a2.saturating_sub(1) as f64;
    let peak = ((a1 * b2 - a1 - b1 - b2) / (1.0 + b1))
        .round()
        .clamp(0.0, last);
    // Terms relative to the peak term.
    let mut sum = 1.0;
    let (mut term, mut i) = (1.0f64, peak);
    while i < last {
        let next = term * ratio(i);
        i += 1.0;
        sum += next;
        if next < term && next < 1e-17 * sum {
            break;
        }
        term = next;
    }
    let (mut term, mut i) = (1.0f64, peak);
    while i > 0.0 {
        let next = term / ratio(i - 1.0);
        i -= 1.0;
        sum += next;
        if next < term && next < 1e-17 * sum {
            break;
        }
        term = next;
    }
    (log_term(peak) + sum.ln()).exp().clamp(0.0, 1.0)
}

/// Exact `P(p_B > p_A)` for Beta posteriors `(aA, bA)`, `(aB, bB)` (whole
/// numbers), through whichever of four equivalent sums has the fewest terms.
fn chance_beta_beats(a_a: u64, b_a: u64, a_b: u64, b_b: u64) -> f64 {
    let f = |x: u64| x as f64;
    let smallest = a_a.min(a_b).min(b_a).min(b_b);
    if smallest == a_b {
        beta_beats(f(a_a), f(b_a), a_b, f(b_b))
    } else if smallest == a_a {
        1.0 - beta_beats(f(a_b), f(b_b), a_a, f(b_a))
    } else if smallest == b_a {
        // p_B > p_A ⇔ 1 − p_A > 1 − p_B, with 1 − p ~ Beta(b, a).
        beta_beats(f(b_b), f(a_b), b_a, f(a_a))
    } else {
        1.0 - beta_beats(f(b_a), f(a_a), b_b, f(a_b))
    }
}

fn beta_interval(a: u64, b: u64, alpha: f64) -> [f64; 2] {
    match Beta::new(a as f64, b as f64) {
        Ok(d) => [d.inverse_cdf(alpha / 2.0), d.inverse_cdf(1.0 - alpha / 2.0)],
        Err(_) => [f64::NAN; 2],
    }
}

const NAN2: [f64; 2] = [f64::NAN, f64::NAN];

/// Compares `variant` with `control` for `metric`, using the arms' second
/// variable as a CUPED covariate when `use_covariate` (binomial, mean and count metrics).
pub fn compare(
    metric: &Metric,
    control: &ArmStats,
    variant: &ArmStats,
    use_covariate: bool,
    params: &EvalParams,
) -> Comparison {
    let kind = metric.kind;
    let alpha = params.alpha;
    let alt = params.alternative;
    let a = plain_summary(control, kind);
    let b = plain_summary(variant, kind);

    // Absolute effect.
    let (abs, test) = if kind == MetricKind::Binomial {
        let (pa, pb) = (a.mean, b.mean);
        let se = (pa * (1.0 - pa) / a.n + pb * (1.0 - pb) / b.n).sqrt();
        let (z, p_two) = two_proportion_z(variant.sum, b.n, control.sum, a.n);
        let p_value = match alt {
            Alternative::TwoSided => p_two,
            Alternative::Greater => normal_sf(z),
            Alternative::Less => normal_sf(-z),
        };
        let estimate = pb - pa;
        (
            TTest {
                estimate,
                se,
                df: f64::INFINITY,
                ci: interval(estimate, se, f64::INFINITY, alt, alpha),
                p_value,
            },
            AbsoluteTest::PooledZ,
        )
    } else {
        (t_test(&a, &b, false, alt, alpha), AbsoluteTest::WelchT)
    };

    // Relative effect, CUPED-adjusted when asked and possible.
    let unadjusted = t_test(&a, &b, true, alt, alpha);
    let mut warnings = Vec::new();
    let mut cuped = None;
    let (ra, rb, rel) = if use_covariate && kind != MetricKind::Ratio {
        let theta = pooled_theta(control, variant, kind);
        if theta == 0.0 {
            warnings.push(Warning::CovariateConstant);
            (a, b, unadjusted)
        } else {
            let ra = adjusted_summary(control, kind, theta);
            let rb = adjusted_summary(variant, kind, theta);
            let rel = t_test(&ra, &rb, true, alt, alpha);
            cuped = Some(Cuped {
                theta,
                variance_reduction: 1.0 - (rel.se / unadjusted.se).powi(2),
                unadjusted_rel_effect: unadjusted.estimate,
                unadjusted_rel_ci: unadjusted.ci,
            });
            (ra, rb, rel)
        }
    } else {
        (a, b, unadjusted)
    };

    let zero_variance = |s: &Summary| s.variance <= 0.0 || !s.variance.is_finite();
    let defined =
        ra.mean != 0.0 && ra.unadjusted_mean != 0.0 && !zero_variance(&ra) && !zero_variance(&rb);
    if a.unadjusted_mean == 0.0 {
        warnings.push(Warning::ZeroControlMean);
    }
    for (s, name) in [(&a, "control"), (&b, "variant")] {
        if zero_variance(s) {
            warnings.push(Warning::ZeroVariance {
                variant: name.to_string(),
            });
        }
    }

    let rel_variance = rel.se * rel.se;
    let (sequential_p_value, sequential_ci) = if defined {
        sequential(
            rel.estimate,
            rel_variance,
            a.n + b.n,
            alpha,
            params.sequential_tuning,
        )
    } else {
        (f64::NAN, NAN2)
    };

    // Bayesian effect model on the relative effect.
    let (posterior_mean, posterior_sd) = if defined {
        let prior = params.prior;
        let precision = 1.0 / rel_variance
            + if prior.proper {
                1.0 / prior.variance
            } else {
                0.0
            };
        let mean = if prior.proper {
            (rel.estimate / rel_variance + prior.mean / prior.variance) / precision
        } else {
            rel.estimate
        };
        (mean, (1.0 / precision).sqrt())
    } else {
        (f64::NAN, f64::NAN)
    };
    let mut chance_to_win = normal_sf(-posterior_mean / posterior_sd);
    let [mut risk_control, mut risk] = gaussian_risk(posterior_mean, posterior_sd);
    if metric.lower_is_better {
        chance_to_win = 1.0 - chance_to_win;
        std::mem::swap(&mut risk, &mut risk_control);
    }
    let z = normal_quantile(1.0 - alpha / 2.0);
    let credible_interval = [
        posterior_mean - z * posterior_sd,
        posterior_mean + z * posterior_sd,
    ];

    let beta_binomial = (kind == MetricKind::Binomial).then(|| {
        let (pa, pb) = (
            u64::from(params.beta_prior.0),
            u64::from(params.beta_prior.1),
        );
        let successes = |arm: &ArmStats| arm.sum.round().clamp(0.0, arm.n as f64) as u64;
        let (xa, xb) = (successes(control), successes(variant));
        let (a_a, b_a) = (pa + xa, pb + control.n - xa);
        let (a_b, b_b) = (pa + xb, pb + variant.n - xb);
        let beats = chance_beta_beats(a_a, b_a, a_b, b_b);
        BetaBinomial {
            chance_to_beat_control: if metric.lower_is_better {
                1.0 - beats
            } else {
                beats
            },
            control_interval: beta_interval(a_a, b_a, alpha),
            variant_interval: beta_interval(a_b, b_b, alpha),
        }
    });

    let nan_if = |x: f64| if defined { x } else { f64::NAN };
    let nan2_if = |x: [f64; 2]| if defined { x } else { NAN2 };
    if let Some(c) = cuped.as_mut() {
        if !defined {
            c.variance_reduction = f64::NAN;
        }
    }
    let abs_defined = !(zero_variance(&a) && zero_variance(&b)) && a.n > 1.0 && b.n > 1.0;
    Comparison {
        abs_effect: abs.estimate,
        abs_se: if abs_defined { abs.se } else { f64::NAN },
        abs_df: abs.df,
        abs_ci: if abs_defined { abs.ci } else { NAN2 },
        p_value: if abs_defined { abs.p_value } else { f64::NAN },
        test,
        rel_effect: nan_if(rel.estimate),
        rel_se: nan_if(rel.se),
        rel_df: nan_if(rel.df),
        rel_ci: nan2_if(rel.ci),
        rel_p_value: nan_if(rel.p_value),
        cuped,
        sequential_p_value,
        sequential_ci,
        chance_to_win,
        risk,
        risk_control,
        posterior_mean,
        credible_interval,
        beta_binomial,
        p_value_holm: f64::NAN,
        q_value_bh: f64::NAN,
        abs_ci_holm: NAN2,
        abs_ci_bh: NAN2,
        warnings,
    }
}

/// Compares two arms' sample quantiles (`level` must agree): the difference
/// and relative difference of the quantiles with gbstats' t-test on the
/// order-statistic variances. Sequential and Bayesian figures follow as for
/// other metrics; there is no CUPED or Beta–Binomial part.
pub fn compare_quantiles(
    control: &QuantileStats,
    variant: &QuantileStats,
    params: &EvalParams,
) -> Result<Comparison> {
    if control.level != variant.level {
        return Err(Error::param(
            "level",
            variant.level,
            format!("both arms need the same quantile level ({})", control.level),
        ));
    }
    // Build equivalent mean-metric arms whose summaries equal the quantile
    // statistics: n, mean = the quantile, variance = the order-statistic variance.
    let arm = |q: &QuantileStats| {
        let n = q.n as f64;
        let var = q.unit_variance();
        let sum = q.estimate * n;
        ArmStats::from_sums(q.n, sum, var * (n - 1.0) + sum * sum / n)
    };
    let metric = Metric::new("quantile", MetricKind::Mean);
    let mut c = compare(&metric, &arm(control), &arm(variant), false, params);
    for (q, name) in [(control, "control"), (variant, "variant")] {
        if q.too_few_units() {
            c.warnings.push(Warning::FewUnits {
                variant: name.to_string(),
                n: q.n,
                minimum: (normal_quantile(0.975).powi(2)
                    * (q.level / (1.0 - q.level)).max((1.0 - q.level) / q.level))
                .floor() as u64
                    + 1,
            });
        }
    }
    Ok(c)
}

/// Sample-ratio-mismatch test of observed units against planned weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleRatio {
    /// Pearson's chi-square statistic.
    pub chi2: f64,
    /// Its p-value (1 without units).
    pub p_value: f64,
    /// Whether `p_value` is below the threshold.
    pub mismatch: bool,
}

/// The chi-square test of `units` per variant against `weights` (gbstats'
/// `check_srm`: variants with weight 0 add nothing; degrees of freedom = variants − 1).
pub fn sample_ratio_test(units: &[u64], weights: &[f64], threshold: f64) -> SampleRatio {
    let total: u64 = units.iter().sum();
    let total_weight: f64 = weights.iter().sum();
    if total == 0 || units.len() < 2 || total_weight <= 0.0 {
        return SampleRatio {
            chi2: 0.0,
            p_value: 1.0,
            mismatch: false,
        };
    }
    let mut chi2 = 0.0;
    for (&o, &w) in units.iter().zip(weights) {
        if w <= 0.0 {
            continue;
        }
        let e = w / total_weight * total as f64;
        chi2 += (o as f64 - e).powi(2) / e;
    }
    let p_value = chi2_sf(chi2, (units.len() - 1) as f64);
    SampleRatio {
        chi2,
        p_value,
        mismatch: p_value < threshold,
    }
}

/// Holm and Benjamini–Hochberg adjustment of the comparisons' `p_value`s as
/// one family (the caller chooses it: variants, variants × segments, or
/// across several metrics' evaluations), with consistent absolute intervals:
/// Bonferroni intervals at `α/m` beside Holm (they cover all `m` effects
/// together with probability ≥ 1 − α), and false-coverage-rate intervals at
/// `α R/m` beside BH, where `R` is the number of BH rejections (Benjamini &
/// Yekutieli 2005; `R` at least 1). Comparisons without a p-value do not count.
pub fn adjust_family(family: &mut [&mut Comparison], alpha: f64, alternative: Alternative) {
    let p: Vec<f64> = family.iter().map(|c| c.p_value).collect();
    let m = p.iter().filter(|x| !x.is_nan()).count();
    let holm_p = holm(&p);
    let bh_q = benjamini_hochberg(&p);
    let rejected = bh_q.iter().filter(|&&q| q <= alpha).count().max(1);
    for (i, c) in family.iter_mut().enumerate() {
        c.p_value_holm = holm_p[i];
        c.q_value_bh = bh_q[i];
        if c.p_value.is_nan() || m == 0 {
            c.abs_ci_holm = NAN2;
            c.abs_ci_bh = NAN2;
            continue;
        }
        let level_holm = alpha / m as f64;
        let level_bh = alpha * rejected as f64 / m as f64;
        c.abs_ci_holm = interval(c.abs_effect, c.abs_se, c.abs_df, alternative, level_holm);
        c.abs_ci_bh = interval(c.abs_effect, c.abs_se, c.abs_df, alternative, level_bh);
    }
}

/// One variant's row in a segment: its figures and, for treatments, the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    /// Variant name.
    pub variant: String,
    /// Units.
    pub n: u64,
    /// The metric's mean (a ratio metric's ratio; unadjusted).
    pub mean: f64,
    /// Against the control (`None` for the control itself).
    pub comparison: Option<Comparison>,
}

/// The decision for a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Index of the winning variant (the control when every treatment is
    /// significantly worse); `None`: no clear winner.
    pub winner: Option<usize>,
    /// Why, with the numbers.
    pub reason: String,
}

/// The evaluation of one segment (or of all units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentResult {
    /// Segment name (`"all"` for the overall result).
    pub segment: String,
    /// One row per variant, in variant order.
    pub variants: Vec<VariantResult>,
    /// Sample-ratio test against the planned weights.
    pub sample_ratio: SampleRatio,
    /// Warnings about the segment as a whole (sample ratio, small arms).
    pub warnings: Vec<Warning>,
    /// Winner or no clear winner, and why.
    pub verdict: Verdict,
}

impl SegmentResult {
    /// The treatments' comparisons, for a family of [`adjust_family`].
    pub fn comparisons_mut(&mut self) -> Vec<&mut Comparison> {
        self.variants
            .iter_mut()
            .filter_map(|v| v.comparison.as_mut())
            .collect()
    }
}

/// Cochran's Q test of whether a treatment's absolute effect differs
/// between segments (inverse-variance weights, `k − 1` degrees of freedom),
/// with Higgins' I² (the share of the variation due to real differences) and
/// the fixed-effect pooled estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heterogeneity {
    /// The treatment.
    pub variant: String,
    /// Segments with a defined effect.
    pub segments: usize,
    /// Cochran's Q.
    pub q: f64,
    /// Its p-value (chi-square with `segments − 1` degrees of freedom).
    pub p_value: f64,
    /// Higgins' I² = max(0, (Q − df)/Q).
    pub i_squared: f64,
    /// The inverse-variance weighted mean effect.
    pub pooled_effect: f64,
    /// Its standard error.
    pub pooled_se: f64,
    /// Whether `p_value` < α: the effect really differs between segments.
    pub differs: bool,
}

/// Cochran's Q over `(effect, standard error)` pairs; pairs with a
/// non-finite effect or a non-positive standard error are skipped.
pub fn cochran_q(effects: &[(f64, f64)], alpha: f64) -> (usize, f64, f64, f64, f64, f64, bool) {
    let used: Vec<(f64, f64)> = effects
        .iter()
        .copied()
        .filter(|(e, se)| e.is_finite() && se.is_finite() && *se > 0.0)
        .collect();
    let k = used.len();
    if k < 2 {
        return (k, f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN, false);
    }
    let w_sum: f64 = used.iter().map(|(_, se)| 1.0 / (se * se)).sum();
    let pooled = used.iter().map(|(e, se)| e / (se * se)).sum::<f64>() / w_sum;
    let q: f64 = used
        .iter()
        .map(|(e, se)| (e - pooled).powi(2) / (se * se))
        .sum();
    let df = (k - 1) as f64;
    let p = chi2_sf(q, df);
    let i2 = if q > 0.0 {
        ((q - df) / q).max(0.0)
    } else {
        0.0
    };
    (k, q, p, i2, pooled, (1.0 / w_sum).sqrt(), p < alpha)
}

/// The full evaluation of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The metric.
    pub metric: Metric,
    /// Variant names.
    pub variants: Vec<String>,
    /// Index of the control.
    pub control: usize,
    /// All units together; Holm/BH over the treatments.
    pub overall: SegmentResult,
    /// Each segment; Holm/BH over all segment × treatment comparisons.
    pub segments: Vec<SegmentResult>,
    /// Per treatment, whether its effect differs between segments (with two or more segments).
    pub heterogeneity: Vec<Heterogeneity>,
}

impl Evaluation {
    /// Every comparison, overall first, then segment by segment.
    pub fn comparisons_mut(&mut self) -> Vec<&mut Comparison> {
        let mut all = self.overall.comparisons_mut();
        for s in &mut self.segments {
            all.extend(s.comparisons_mut());
        }
        all
    }

    /// Recomputes every verdict from the current Holm-adjusted p-values, e.g.
    /// after [`adjust_family`] over the segment comparisons of several metrics.
    pub fn decide(&mut self, params: &EvalParams) {
        self.overall.verdict = verdict(&self.overall, &self.metric, params);
        for s in &mut self.segments {
            s.verdict = verdict(s, &self.metric, params);
        }
    }
}

/// Evaluates every treatment against the control, overall and in every segment.
///
/// Holm and BH adjust over the treatments overall, and over all segment ×
/// treatment comparisons in the segments. To widen the family to several
/// metrics, collect their segments' comparisons, call [`adjust_family`] on
/// them, then [`Evaluation::decide`] on each evaluation.
pub fn evaluate(stats: &ExperimentStats, params: &EvalParams) -> Result<Evaluation> {
    let variants = stats.variants().to_vec();
    params.check(variants.len())?;
    let weights = params
        .planned_weights
        .clone()
        .unwrap_or_else(|| vec![1.0; variants.len()]);
    let n_variants = variants.len();
    let by_segment = match &params.segment_weights {
        None => None,
        Some(rows) => {
            let valid = rows.len() == stats.segments().len()
                && rows.iter().all(|w| {
                    w.len() == n_variants
                        && w.iter().all(|x| x.is_finite() && *x >= 0.0)
                        && w.iter().sum::<f64>() > 0.0
                });
            if !valid {
                return Err(Error::param(
                    "segment_weights",
                    format!("{rows:?}"),
                    format!(
                        "one row of {n_variants} non-negative weights per segment ({})",
                        stats.segments().len()
                    ),
                ));
            }
            Some(rows)
        }
    };
    // Overall, the planned split is the segments' splits mixed by their units.
    let overall_weights = match by_segment {
        None => weights.clone(),
        Some(rows) => {
            let mut mix = vec![0.0; n_variants];
            for (s, w) in rows.iter().enumerate() {
                let units: u64 = (0..n_variants).map(|v| stats.arm(s, v).n).sum();
                let total: f64 = w.iter().sum();
                for (m, x) in mix.iter_mut().zip(w) {
                    *m += units as f64 * x / total;
                }
            }
            if mix.iter().sum::<f64>() > 0.0 {
                mix
            } else {
                weights.clone()
            }
        }
    };
    let use_covariate = params.cuped && stats.has_covariate();
    let metric = stats.metric();

    let mut overall = analyse_segment(
        "all",
        &stats.overall(),
        metric,
        &variants,
        &overall_weights,
        use_covariate,
        params,
    );
    adjust_family(
        &mut overall.comparisons_mut(),
        params.alpha,
        params.alternative,
    );
    overall.verdict = verdict(&overall, metric, params);

    let mut segments: Vec<SegmentResult> = stats
        .segments()
        .iter()
        .enumerate()
        .map(|(s, name)| {
            let arms: Vec<ArmStats> = (0..n_variants).map(|v| *stats.arm(s, v)).collect();
            let planned = by_segment.and_then(|rows| rows.get(s)).unwrap_or(&weights);
            analyse_segment(
                name,
                &arms,
                metric,
                &variants,
                planned,
                use_covariate,
                params,
            )
        })
        .collect();
    {
        let mut family: Vec<&mut Comparison> = segments
            .iter_mut()
            .flat_map(|s| s.comparisons_mut())
            .collect();
        adjust_family(&mut family, params.alpha, params.alternative);
    }
    for s in &mut segments {
        s.verdict = verdict(s, metric, params);
    }

    let mut heterogeneity = Vec::new();
    if segments.len() >= 2 {
        for (v, name) in variants.iter().enumerate() {
            if v == params.control {
                continue;
            }
            let effects: Vec<(f64, f64)> = segments
                .iter()
                .filter_map(|s| s.variants[v].comparison.as_ref())
                .map(|c| (c.abs_effect, c.abs_se))
                .collect();
            let (k, q, p_value, i_squared, pooled_effect, pooled_se, differs) =
                cochran_q(&effects, params.alpha);
            heterogeneity.push(Heterogeneity {
                variant: name.clone(),
                segments: k,
                q,
                p_value,
                i_squared,
                pooled_effect,
                pooled_se,
                differs,
            });
        }
    }
    Ok(Evaluation {
        metric: metric.clone(),
        variants,
        control: params.control,
        overall,
        segments,
        heterogeneity,
    })
}

fn analyse_segment(
    name: &str,
    arms: &[ArmStats],
    metric: &Metric,
    variants: &[String],
    weights: &[f64],
    use_covariate: bool,
    params: &EvalParams,
) -> SegmentResult {
    let control = &arms[params.control];
    let units: Vec<u64> = arms.iter().map(|a| a.n).collect();
    let sample_ratio = sample_ratio_test(&units, weights, params.srm_threshold);
    let mut warnings = Vec::new();
    if sample_ratio.mismatch {
        warnings.push(Warning::SampleRatioMismatch {
            p_value: sample_ratio.p_value,
        });
    }
    for (arm, v) in arms.iter().zip(variants) {
        if arm.n < params.min_units {
            warnings.push(Warning::FewUnits {
                variant: v.clone(),
                n: arm.n,
                minimum: params.min_units,
            });
        }
    }
    let rows = arms
        .iter()
        .zip(variants)
        .enumerate()
        .map(|(v, (arm, variant))| {
            let mean = if metric.kind == MetricKind::Ratio {
                ratio_moments(arm).0
            } else {
                arm.mean()
            };
            let comparison = (v != params.control).then(|| {
                let mut c = compare(metric, control, arm, use_covariate, params);
                for w in &mut c.warnings {
                    if let Warning::ZeroVariance { variant: who } = w {
                        *who = if who == "control" {
                            variants[params.control].clone()
                        } else {
                            variant.clone()
                        };
                    }
                }
                c
            });
            VariantResult {
                variant: variant.clone(),
                n: arm.n,
                mean,
                comparison,
            }
        })
        .collect();
    SegmentResult {
        segment: name.to_string(),
        variants: rows,
        sample_ratio,
        warnings,
        verdict: Verdict {
            winner: None,
            reason: String::new(),
        },
    }
}

/// The winner of a segment from its family-adjusted (Holm) p-values.
fn verdict(segment: &SegmentResult, metric: &Metric, params: &EvalParams) -> Verdict {
    let none = |reason: String| Verdict {
        winner: None,
        reason,
    };
    if segment.sample_ratio.mismatch {
        return none(format!(
            "no verdict: sample ratio mismatch (p = {:.2e}); fix the assignment before reading effects",
            segment.sample_ratio.p_value
        ));
    }
    if let Some(small) = segment.variants.iter().find(|v| v.n < params.min_units) {
        return none(format!(
            "no verdict: {} has {} units, below the minimum of {}",
            small.variant, small.n, params.min_units
        ));
    }
    let better = |effect: f64| {
        if metric.lower_is_better {
            effect < 0.0
        } else {
            effect > 0.0
        }
    };
    let treatments: Vec<(usize, &Comparison)> = segment
        .variants
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.comparison.as_ref().map(|c| (i, c)))
        .collect();
    let significant = |c: &Comparison| c.p_value_holm < params.alpha;
    let describe = |i: usize, c: &Comparison| {
        let effect = if c.rel_effect.is_finite() {
            format!("{:+.1}%", 100.0 * c.rel_effect)
        } else {
            format!("{:+.4}", c.abs_effect)
        };
        format!(
            "{} {effect} vs {} (Holm-adjusted p = {:.3})",
            segment.variants[i].variant, segment.variants[params.control].variant, c.p_value_holm
        )
    };
    let winners: Vec<&(usize, &Comparison)> = treatments
        .iter()
        .filter(|(_, c)| significant(c) && better(c.abs_effect))
        .collect();
    if let Some((i, c)) = winners.iter().copied().max_by(|x, y| {
        let key = |c: &Comparison| {
            if metric.lower_is_better {
                -c.abs_effect
            } else {
                c.abs_effect
            }
        };
        key(x.1).total_cmp(&key(y.1))
    }) {
        return Verdict {
            winner: Some(*i),
            reason: format!("{} wins: {}", segment.variants[*i].variant, describe(*i, c)),
        };
    }
    if !treatments.is_empty()
        && treatments
            .iter()
            .all(|(_, c)| significant(c) && !better(c.abs_effect) && c.abs_effect != 0.0)
    {
        return Verdict {
            winner: Some(params.control),
            reason: format!(
                "{} wins: every treatment is significantly worse",
                segment.variants[params.control].variant
            ),
        };
    }
    let best = treatments
        .iter()
        .filter(|(_, c)| c.p_value.is_finite())
        .max_by(|x, y| {
            let key = |c: &Comparison| {
                if metric.lower_is_better {
                    -c.abs_effect
                } else {
                    c.abs_effect
                }
            };
            key(x.1).total_cmp(&key(y.1))
        });
    match best {
        Some((i, c)) => none(format!(
            "no clear winner: best is {}, not significant at α = {}",
            describe(*i, c),
            params.alpha
        )),
        None => none("no clear winner: the effects are undefined (no variance or no units)".into()),
    }
}

#[cfg(test)]
mod tests {
    //! Reference values come from the calls quoted in each comment (gbstats
    //! 0.8.0, scipy 1.17.1, statsmodels 0.15.0, in a virtual environment outside
    //! the repository). The fixture data were drawn with numpy's
    //! `default_rng(7)`; only their sums matter, and those are pinned here.
    use super::*;

    /// Relative tolerance 1e-6 with an absolute floor of 1e-9.
    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= 1e-9 + 1e-6 * want.abs()
    }

    macro_rules! assert_close {
        ($got:expr, $want:expr) => {{
            let (g, w) = ($got, $want);
            assert!(close(g, w), "{} = {g}, want {w}", stringify!($got));
        }};
    }

    // post = 0.6 pre + N(30 (+1.5 in B), 15²), pre ~ Gamma(2, 20); n = 4000 / 3900.
    fn mean_arms() -> (ArmStats, ArmStats) {
        let a = ArmStats::from_sums(4000, 214592.73061832454, 13593170.492385082).with_second(
            157169.00325021613,
            9347169.33762116,
            10340983.49771039,
        );
        let b = ArmStats::from_sums(3900, 216394.6861767752, 13954914.276664488).with_second(
            156472.29724919697,
            9343934.868835203,
            10497397.926687084,
        );
        (a, b)
    }

    #[test]
    fn welch_and_relative_match_scipy_and_gbstats() {
        let (a, b) = mean_arms();
        let metric = Metric::new("revenue", MetricKind::Mean);
        let c = compare(&metric, &a, &b, false, &EvalParams::default());
        // r = scipy.stats.ttest_ind(xb, xa, equal_var=False):
        // p 0.00030042971117394103, df 7897.797626943796,
        // r.confidence_interval(0.95) = (0.8415857330302677, 2.8336828946152544)
        assert_eq!(c.test, AbsoluteTest::WelchT);
        assert_close!(c.p_value, 0.00030042971117394103);
        assert_close!(c.abs_df, 7897.797626943796);
        assert_close!(c.abs_ci[0], 0.8415857330302677);
        assert_close!(c.abs_ci[1], 2.8336828946152544);
        // gbstats TwoSidedTTest(SampleMeanStatistic(a), SampleMeanStatistic(b),
        //   FrequentistConfig(difference_type="relative")).compute_result():
        // expected 0.034253430832029155, ci [0.015364051863538515, 0.053142809800519795],
        // p 0.0003806453339989524, uplift.stddev 0.0096361383487635
        assert_close!(c.rel_effect, 0.034253430832029155);
        assert_close!(c.rel_ci[0], 0.015364051863538515);
        assert_close!(c.rel_ci[1], 0.053142809800519795);
        assert_close!(c.rel_p_value, 0.0003806453339989524);
        assert_close!(c.rel_se, 0.0096361383487635);
        assert!(c.cuped.is_none());
        // SequentialTwoSidedTTest(..., SequentialConfig(difference_type="relative")):
        // p 0.010583497564748159, ci [0.004894557187152725, 0.06361230447690558]
        assert_close!(c.sequential_p_value, 0.010583497564748159);
        assert_close!(c.sequential_ci[0], 0.004894557187152725);
        assert_close!(c.sequential_ci[1], 0.06361230447690558);
        let tuned = EvalParams {
            sequential_tuning: 20000.0,
            ..EvalParams::default()
        };
        let c20 = compare(&metric, &a, &b, false, &tuned);
        // ... sequential_tuning_parameter=20000: p 0.016904308971149286,
        // ci [0.004126067590018958, 0.06438079407403935]
        assert_close!(c20.sequential_p_value, 0.016904308971149286);
        assert_close!(c20.sequential_ci[0], 0.004126067590018958);
        assert_close!(c20.sequential_ci[1], 0.06438079407403935);

        // One-sided: scipy ttest_ind(xb, xa, equal_var=False, alternative="greater"):
        // p 0.00015021485558697052, confidence_interval(0.95).low 1.0017540539241323;
        // gbstats OneSidedTreatmentGreaterTTest relative: ci [0.018401534342258417, inf],
        // p 0.0001903226669994762
        let greater = EvalParams {
            alternative: Alternative::Greater,
            ..EvalParams::default()
        };
        let g = compare(&metric, &a, &b, false, &greater);
        assert_close!(g.p_value, 0.00015021485558697052);
        assert_close!(g.abs_ci[0], 1.0017540539241323);
        assert_eq!(g.abs_ci[1], f64::INFINITY);
        assert_close!(g.rel_ci[0], 0.018401534342258417);
        assert_close!(g.rel_p_value, 0.0001903226669994762);
        let less = EvalParams {
            alternative: Alternative::Less,
            ..EvalParams::default()
        };
        let l = compare(&metric, &a, &b, false, &less);
        assert_close!(l.p_value, 1.0 - 0.00015021485558697052);
        assert_eq!(l.abs_ci[0], f64::NEG_INFINITY);
    }

    #[test]
    fn cuped_matches_gbstats_regression_adjustment() {
        let (a, b) = mean_arms();
        let metric = Metric::new("revenue", MetricKind::Mean);
        let c = compare(&metric, &a, &b, true, &EvalParams::default());
        // TwoSidedTTest(RegressionAdjustedStatistic(a), RegressionAdjustedStatistic(b),
        //   FrequentistConfig(difference_type="relative")): theta 0.5974526623976605,
        // expected 0.025022936157488518, ci [0.012380023879281048, 0.03766584843569599],
        // p 0.00010540579500695202, uplift.stddev 0.006449595400596639
        let cuped = c.cuped.unwrap();
        assert_close!(cuped.theta, 0.5974526623976605);
        assert_close!(c.rel_effect, 0.025022936157488518);
        assert_close!(c.rel_ci[0], 0.012380023879281048);
        assert_close!(c.rel_ci[1], 0.03766584843569599);
        assert_close!(c.rel_p_value, 0.00010540579500695202);
        assert_close!(c.rel_se, 0.006449595400596639);
        assert_close!(
            cuped.variance_reduction,
            1.0 - (0.006449595400596639f64 / 0.0096361383487635).powi(2)
        );
        assert_close!(cuped.unadjusted_rel_effect, 0.034253430832029155);
        // SequentialTwoSidedTTest on the adjusted statistics:
        // p 0.0034560923913090997, ci [0.005372652031898885, 0.04467322028307815]
        assert_close!(c.sequential_p_value, 0.0034560923913090997);
        assert_close!(c.sequential_ci[0], 0.005372652031898885);
        assert_close!(c.sequential_ci[1], 0.04467322028307815);
        // EffectBayesianABTest(RA(a), RA(b), EffectBayesianConfig(difference_type="relative")):
        // chance_to_win 0.9999477220052321, risk [0.02502301416240254, 7.800491402178889e-08],
        // ci [0.01238196145746392, 0.03766391085751311]
        assert_close!(c.chance_to_win, 0.9999477220052321);
        assert_close!(c.risk_control, 0.02502301416240254);
        assert_close!(c.risk, 7.800491402178889e-08);
        assert_close!(c.credible_interval[0], 0.01238196145746392);
        assert_close!(c.credible_interval[1], 0.03766391085751311);
        // The absolute figures stay Welch's on the raw metric.
        assert_close!(c.p_value, 0.00030042971117394103);
    }

    #[test]
    fn bayesian_priors_and_direction_match_gbstats() {
        let (a, b) = mean_arms();
        let proper = EvalParams {
            prior: EffectPrior {
                mean: 0.0,
                variance: 0.0004,
                proper: true,
            },
            ..EvalParams::default()
        };
        let metric = Metric::new("revenue", MetricKind::Mean);
        let c = compare(&metric, &a, &b, false, &proper);
        // EffectBayesianABTest(..., prior_effect=GaussianPrior(mean=0, variance=0.0004, proper=True)):
        // ctw 0.9993184889245198, risk [0.027801591675554814, 1.5940666737863513e-06],
        // ci [0.01078540878189889, 0.044814586435863155], expected 0.027799997608881025
        assert_close!(c.chance_to_win, 0.9993184889245198);
        assert_close!(c.risk_control, 0.027801591675554814);
        assert_close!(c.risk, 1.5940666737863513e-06);
        assert_close!(c.credible_interval[0], 0.01078540878189889);
        assert_close!(c.credible_interval[1], 0.044814586435863155);
        assert_close!(c.posterior_mean, 0.027799997608881025);
        // ... EffectBayesianConfig(inverse=True): ctw 0.0001892165074395269,
        // risk [4.5275262071645795e-07, 0.03425388358464987] (treatment second)
        let lower = metric.clone().lower_is_better();
        let inv = compare(&lower, &a, &b, false, &EvalParams::default());
        assert_close!(inv.chance_to_win, 0.0001892165074395269);
        assert_close!(inv.risk_control, 4.5275262071645795e-07);
        assert_close!(inv.risk, 0.03425388358464987);
    }

    #[test]
    fn binomial_matches_statsmodels_gbstats_and_exact_beta() {
        // 410 / 5000 conversions in control, 480 / 5100 in the treatment.
        let a = ArmStats::from_sums(5000, 410.0, 410.0);
        let b = ArmStats::from_sums(5100, 480.0, 480.0);
        let metric = Metric::new("converted", MetricKind::Binomial);
        let c = compare(&metric, &a, &b, false, &EvalParams::default());
        // statsmodels proportions_ztest([480, 410], [5100, 5000]) -> (2.147950445343496, 0.03171769233156647)
        assert_eq!(c.test, AbsoluteTest::PooledZ);
        assert_close!(c.p_value, 0.03171769233156647);
        // confint_proportions_2indep(480, 5100, 410, 5000, method="wald", compare="diff")
        // -> (0.0010698545776296128, 0.023165439540017436)
        assert_close!(c.abs_ci[0], 0.0010698545776296128);
        assert_close!(c.abs_ci[1], 0.023165439540017436);
        // gbstats TwoSidedTTest(ProportionStatistic(5000, 410), ProportionStatistic(5100, 480)) relative:
        // 0.14777618364418932, [0.0032532521708610873, 0.29229911511751755], p 0.045062065804219786
        assert_close!(c.rel_effect, 0.14777618364418932);
        assert_close!(c.rel_ci[0], 0.0032532521708610873);
        assert_close!(c.rel_ci[1], 0.29229911511751755);
        assert_close!(c.rel_p_value, 0.045062065804219786);
        // SequentialTwoSidedTTest: p 0.623006841555628, ci [-0.07799606803887613, 0.3735484353272548]
        assert_close!(c.sequential_p_value, 0.623006841555628);
        assert_close!(c.sequential_ci[0], -0.07799606803887613);
        assert_close!(c.sequential_ci[1], 0.3735484353272548);
        // EffectBayesianABTest: ctw 0.9774823178840266,
        // risk [0.14839497632123197, 0.0006187926770426606]
        assert_close!(c.chance_to_win, 0.9774823178840266);
        assert_close!(c.risk_control, 0.14839497632123197);
        assert_close!(c.risk, 0.0006187926770426606);
        // Exact P(p_B > p_A) with Beta(1 + x, 1 + n − x) posteriors:
        // scipy.integrate.quad(lambda x: beta.pdf(x, 481, 4621) * beta.cdf(x, 411, 4591), 0, 1,
        //   epsabs=1e-13, epsrel=1e-13) -> 0.98412338060892;
        // beta.ppf([0.025, 0.975], 411, 4591) -> [0.07471727352007367, 0.08993342901047197],
        // beta.ppf([0.025, 0.975], 481, 4621) -> [0.08641133878683722, 0.10244341979052696]
        let bb = c.beta_binomial.unwrap();
        assert_close!(bb.chance_to_beat_control, 0.98412338060892);
        assert_close!(bb.control_interval[0], 0.07471727352007367);
        assert_close!(bb.control_interval[1], 0.08993342901047197);
        assert_close!(bb.variant_interval[0], 0.08641133878683722);
        assert_close!(bb.variant_interval[1], 0.10244341979052696);
        // proportions_ztest([480, 410], [5100, 5000], alternative="larger") -> p 0.015858846165783234
        let greater = EvalParams {
            alternative: Alternative::Greater,
            ..EvalParams::default()
        };
        assert_close!(
            compare(&metric, &a, &b, false, &greater).p_value,
            0.015858846165783234
        );
    }

    #[test]
    fn exact_beta_comparison_every_route() {
        // quad(lambda x: beta.pdf(x, a2, b2) * beta.cdf(x, a1, b1), 0, 1) for (a1, b1, a2, b2):
        let cases = [
            ((3, 9, 5, 7), 0.8192724458204332),
            ((40, 2, 30, 3), 0.21987633563940712),
            ((1, 1, 1, 1), 0.5),
            ((2001, 18001, 2101, 17901), 0.950361700042015),
            // Large counts: quad over the mean ± 60 sd of X₁ plus beta.sf above it.
            ((100001, 900001, 101001, 899001), 0.9906586836367014),
            ((34001, 300001, 35001, 290001), 0.9999999999999983),
        ];
        for ((a1, b1, a2, b2), want) in cases {
            assert_close!(chance_beta_beats(a1, b1, a2, b2), want);
            // Swapping the arms gives the complement.
            assert_close!(1.0 - chance_beta_beats(a2, b2, a1, b1), want);
        }
        // The walk from the peak equals the plain sum of every term.
        let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
        for (a1, b1, a2, b2) in [
            (7.0, 40.0, 9, 35.0),
            (120.0, 900.0, 150, 880.0),
            (60.0, 3.0, 55, 9.0),
        ] {
            let full: f64 = (0..a2)
                .map(|i| {
                    let i = i as f64;
                    (ln_beta(a1 + i, b1 + b2)
                        - (b2 + i).ln()
                        - ln_beta(1.0 + i, b2)
                        - ln_beta(a1, b1))
                    .exp()
                })
                .sum();
            assert_close!(beta_beats(a1, b1, a2, b2), full);
        }
        // Every one of the four sums agrees.
        let want = 0.8192724458204332;
        assert_close!(beta_beats(3.0, 9.0, 5, 7.0), want);
        assert_close!(1.0 - beta_beats(5.0, 7.0, 3, 9.0), want);
        assert_close!(beta_beats(7.0, 5.0, 9, 3.0), want);
        assert_close!(1.0 - beta_beats(9.0, 3.0, 7, 5.0), want);
    }

    #[test]
    fn ratio_metric_matches_gbstats_delta_method() {
        // Revenue per order: numerator Gamma(3, 10 | 10.5), denominator 1 + Poisson(2).
        let a = ArmStats::from_sums(3000, 89146.10050803215, 3527735.1232240484).with_second(
            9005.0,
            33113.0,
            267725.83718606154,
        );
        let b = ArmStats::from_sums(3100, 96950.23765250895, 4023911.545925468).with_second(
            9327.0,
            34149.0,
            291755.0040776888,
        );
        let metric = Metric::new("revenue per order", MetricKind::Ratio);
        let c = compare(&metric, &a, &b, true, &EvalParams::default());
        // TwoSidedTTest(RatioStatistic(a), RatioStatistic(b)) relative:
        // 0.04999750639197165, [0.01090366353839288, 0.08909134924555041], p 0.012197904205394128
        assert_close!(c.rel_effect, 0.04999750639197165);
        assert_close!(c.rel_ci[0], 0.01090366353839288);
        assert_close!(c.rel_ci[1], 0.08909134924555041);
        assert_close!(c.rel_p_value, 0.012197904205394128);
        // ... difference_type="absolute": 0.4949564386418306,
        // [0.11729654118502192, 0.8726163360986392], p 0.01021648833832045
        assert_close!(c.abs_effect, 0.4949564386418306);
        assert_close!(c.abs_ci[0], 0.11729654118502192);
        assert_close!(c.abs_ci[1], 0.8726163360986392);
        assert_close!(c.p_value, 0.01021648833832045);
        assert!(
            c.cuped.is_none(),
            "the second value of a ratio is its denominator"
        );
    }

    #[test]
    fn quantile_metric_matches_gbstats() {
        // Medians of lognormal(3.0, 0.8) × 2500 and lognormal(3.08, 0.8) × 2600,
        // bounds by numpy.quantile at ν ± z √(ν(1 − ν)/n) (see QuantileStats).
        let qa = QuantileStats {
            n: 2500,
            level: 0.5,
            estimate: 19.906192875455595,
            lower: 18.98574337038855,
            upper: 20.84863479797595,
        };
        let qb = QuantileStats {
            n: 2600,
            level: 0.5,
            estimate: 21.778297940876307,
            lower: 20.955271752393067,
            upper: 22.714976187035372,
        };
        let c = compare_quantiles(&qa, &qb, &EvalParams::default()).unwrap();
        // TwoSidedTTest(QuantileStatistic(n=2500, n_star=2500, nu=0.5, ...), ...) relative:
        // 0.09404636422110749, [0.026410020040738016, 0.16168270840147697], p 0.006434219779188233
        assert_close!(c.rel_effect, 0.09404636422110749);
        assert_close!(c.rel_ci[0], 0.026410020040738016);
        assert_close!(c.rel_ci[1], 0.16168270840147697);
        assert_close!(c.rel_p_value, 0.006434219779188233);
        // ... absolute: 1.8721050654207119, [0.5907501751877697, 3.153459955653654], p 0.004197011243452176
        assert_close!(c.abs_effect, 1.8721050654207119);
        assert_close!(c.abs_ci[0], 0.5907501751877697);
        assert_close!(c.abs_ci[1], 3.153459955653654);
        assert_close!(c.p_value, 0.004197011243452176);
        let mut other = qb;
        other.level = 0.9;
        assert!(compare_quantiles(&qa, &other, &EvalParams::default()).is_err());
    }

    #[test]
    fn srm_and_cochran_match_references() {
        // gbstats.utils.check_srm([5012, 4870, 5301], [0.34, 0.33, 0.33]) -> 3.438606121199982e-06
        let s = sample_ratio_test(&[5012, 4870, 5301], &[0.34, 0.33, 0.33], 0.001);
        assert_close!(s.p_value, 3.438606121199982e-06);
        assert!(s.mismatch);
        // scipy.stats.chisquare([1000, 1100]).pvalue -> 0.029096331741252267
        let s = sample_ratio_test(&[1000, 1100], &[1.0, 1.0], 0.001);
        assert_close!(s.p_value, 0.029096331741252267);
        assert!(!s.mismatch);
        assert_eq!(sample_ratio_test(&[0, 0], &[1.0, 1.0], 0.001).p_value, 1.0);
        // statsmodels.stats.meta_analysis.combine_effects(
        //   [0.021, 0.035, -0.004, 0.018], [0.010², 0.012², 0.009², 0.015²], method_re="chi2"):
        // q 7.619766188878727, i2 0.6062871319623182, mean_effect_fe 0.014337602927721864,
        // sd_eff_w_fe 0.0054445554361701315; scipy.stats.chi2.sf(q, 3) 0.054559699174207506
        let (k, q, p, i2, pooled, se, differs) = cochran_q(
            &[
                (0.021, 0.010),
                (0.035, 0.012),
                (-0.004, 0.009),
                (0.018, 0.015),
                (f64::NAN, 1.0),
            ],
            0.05,
        );
        assert_eq!(k, 4);
        assert_close!(q, 7.619766188878727);
        assert_close!(p, 0.054559699174207506);
        assert_close!(i2, 0.6062871319623182);
        assert_close!(pooled, 0.014337602927721864);
        assert_close!(se, 0.0054445554361701315);
        assert!(!differs);
    }

    #[test]
    fn family_adjustment_and_intervals() {
        let (a, b) = mean_arms();
        let metric = Metric::new("revenue", MetricKind::Mean);
        let params = EvalParams::default();
        let mut c1 = compare(&metric, &a, &b, false, &params);
        let mut c2 = compare(&metric, &b, &a, false, &params);
        let mut c3 = compare(&metric, &a, &a, false, &params);
        adjust_family(
            &mut [&mut c1, &mut c2, &mut c3],
            0.05,
            Alternative::TwoSided,
        );
        // Holm over [p, p, 1]: 3p and then max(3p, 2p), as statsmodels multipletests(method="holm").
        let p = c1.p_value;
        assert_close!(c1.p_value_holm, 3.0 * p);
        assert_close!(c2.p_value_holm, 3.0 * p);
        assert_close!(c3.p_value_holm, 1.0);
        assert_close!(c1.q_value_bh, 1.5 * p);
        // Bonferroni interval at α/3 is wider than the plain one; BH with R = 2 at 2α/3.
        assert!(c1.abs_ci_holm[0] < c1.abs_ci_bh[0] && c1.abs_ci_bh[0] < c1.abs_ci[0]);
        let w = quantile(1.0 - 0.05 / 6.0, c1.abs_df) * c1.abs_se;
        assert_close!(c1.abs_ci_holm[1], c1.abs_effect + w);
        let w_bh = quantile(1.0 - 0.05 * 2.0 / 6.0, c1.abs_df) * c1.abs_se;
        assert_close!(c1.abs_ci_bh[1], c1.abs_effect + w_bh);
    }

    #[test]
    fn a_family_across_metrics_changes_the_verdicts() {
        // One segment, a clear conversion win (p ≈ 0.03): significant alone,
        // not after Holm over this and nine null metrics.
        let metric = Metric::new("converted", MetricKind::Binomial);
        let mut stats = ExperimentStats::new(
            metric,
            vec!["a".into(), "b".into()],
            vec!["s".into()],
            false,
        )
        .unwrap();
        stats
            .set_arm(0, 0, ArmStats::from_sums(5000, 410.0, 410.0))
            .unwrap();
        stats
            .set_arm(0, 1, ArmStats::from_sums(5100, 480.0, 480.0))
            .unwrap();
        let params = EvalParams::default();
        let mut e = evaluate(&stats, &params).unwrap();
        assert_eq!(
            e.segments[0].verdict.winner,
            Some(1),
            "{}",
            e.segments[0].verdict.reason
        );
        let (a, b) = (
            ArmStats::from_sums(5000, 410.0, 410.0),
            ArmStats::from_sums(5000, 410.0, 410.0),
        );
        let mut nulls: Vec<Comparison> = (0..9)
            .map(|_| {
                compare(
                    &Metric::new("m", MetricKind::Binomial),
                    &a,
                    &b,
                    false,
                    &params,
                )
            })
            .collect();
        let mut family: Vec<&mut Comparison> = e.segments[0].comparisons_mut();
        family.extend(nulls.iter_mut());
        adjust_family(&mut family, params.alpha, params.alternative);
        e.decide(&params);
        assert_eq!(
            e.segments[0].verdict.winner, None,
            "{}",
            e.segments[0].verdict.reason
        );
        assert_eq!(e.comparisons_mut().len(), 2);
    }

    #[test]
    fn degenerate_arms_give_nan_and_warnings_not_panics() {
        let metric = Metric::new("m", MetricKind::Mean);
        let params = EvalParams::default();
        let zero = ArmStats::default();
        let one = ArmStats::from_sums(1, 5.0, 25.0);
        let flat = ArmStats::from_sums(10, 0.0, 0.0);
        for (x, y) in [
            (zero, zero),
            (zero, one),
            (one, one),
            (flat, flat),
            (flat, one),
        ] {
            let c = compare(&metric, &x, &y, true, &params);
            assert!(c.p_value.is_nan() || (0.0..=1.0).contains(&c.p_value));
            assert!(c.rel_effect.is_nan());
        }
        let c = compare(
            &metric,
            &flat,
            &ArmStats::from_sums(10, 5.0, 7.0),
            false,
            &params,
        );
        assert!(c.warnings.contains(&Warning::ZeroControlMean));
        let bin = Metric::new("c", MetricKind::Binomial);
        let c = compare(
            &bin,
            &ArmStats::from_sums(100, 0.0, 0.0),
            &ArmStats::from_sums(100, 0.0, 0.0),
            false,
            &params,
        );
        assert!(c.p_value.is_nan());
        let bb = c.beta_binomial.unwrap();
        assert_close!(bb.chance_to_beat_control, 0.5);
    }

    #[test]
    fn parameters_are_checked() {
        let bad = [
            EvalParams {
                control: 3,
                ..EvalParams::default()
            },
            EvalParams {
                alpha: 0.0,
                ..EvalParams::default()
            },
            EvalParams {
                alpha: f64::NAN,
                ..EvalParams::default()
            },
            EvalParams {
                sequential_tuning: -1.0,
                ..EvalParams::default()
            },
            EvalParams {
                prior: EffectPrior {
                    mean: 0.0,
                    variance: 0.0,
                    proper: true,
                },
                ..EvalParams::default()
            },
            EvalParams {
                beta_prior: (0, 1),
                ..EvalParams::default()
            },
            EvalParams {
                planned_weights: Some(vec![1.0]),
                ..EvalParams::default()
            },
            EvalParams {
                planned_weights: Some(vec![0.0, 0.0]),
                ..EvalParams::default()
            },
            EvalParams {
                srm_threshold: 1.0,
                ..EvalParams::default()
            },
        ];
        for p in bad {
            assert!(
                matches!(p.check(2), Err(Error::InvalidParameter { .. })),
                "{p:?}"
            );
        }
        assert!(EvalParams::default().check(2).is_ok());
    }
}
