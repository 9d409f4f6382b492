//! One treatment against the control: the [`Comparison`] record with one
//! optional part per method ([`EffectTest`] for the absolute and relative
//! effects, [`Cuped`], [`Sequential`], [`Bayesian`], [`BetaBinomial`],
//! [`Adjusted`]), its warnings, and [`compare`] / [`compare_quantiles`],
//! which assemble them.

use serde::{Deserialize, Serialize};

use super::EvalParams;
use super::bayesian::{beta_binomial, gaussian_risk};
use super::cuped::{adjusted_summary, pooled_theta};
use super::frequentist::{Summary, interval, plain_summary, t_test};
use super::sequential::sequential;
use crate::error::{Error, Result};
use crate::experiment::Alternative;
use crate::experiment::stats::{ArmStats, Metric, MetricKind, QuantileStats, SecondValue};
use crate::stats::{normal_quantile, normal_sf, two_proportion_z};

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
    /// Share of the relative effect's variance removed, `1 − var_adjusted /
    /// var_unadjusted`; `None` when the adjusted relative effect is undefined.
    pub variance_reduction: Option<f64>,
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
///
/// Each method's figures are there when the method applies and its figures
/// are defined, and `None` otherwise (never NaN placeholders): the absolute
/// test needs two units per arm and some variance, the relative effect and
/// everything built on it (sequential, Bayesian) a non-zero control mean
/// and variance in both arms, CUPED a covariate, the Beta–Binomial figures a
/// binomial metric, and the adjusted p-values an [`adjust_family`] over the
/// comparison's family.
///
/// [`adjust_family`]: super::adjust_family
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `mean_B − mean_A` (defined whenever both arms have units).
    pub abs_effect: f64,
    /// Which test gives the absolute effect's p-value.
    pub test: AbsoluteTest,
    /// The absolute effect's test (Welch's t, or the pooled z-test with the
    /// Wald interval for binomial metrics); its `estimate` is `abs_effect`.
    /// `None` when an arm has fewer than two units or neither arm varies.
    pub absolute: Option<EffectTest>,
    /// The relative effect `(mean_B − mean_A) / mean_A` with its
    /// delta-method test (CUPED-adjusted when a covariate is used). `None`
    /// when the control's mean is 0 or an arm does not vary.
    pub relative: Option<EffectTest>,
    /// CUPED details when a covariate was used.
    pub cuped: Option<Cuped>,
    /// Always-valid figures of the relative effect; `None` with `relative`.
    pub sequential: Option<Sequential>,
    /// The Bayesian effect model of the relative effect; `None` with `relative`.
    pub bayesian: Option<Bayesian>,
    /// Exact Beta–Binomial figures (binomial metrics only, with a Beta
    /// prior whose parameters are at least 1).
    pub beta_binomial: Option<BetaBinomial>,
    /// Multiple-testing adjustment within the family; `None` until
    /// [`adjust_family`](super::adjust_family) ran, and for comparisons
    /// without an absolute test.
    pub adjusted: Option<Adjusted>,
    /// Warnings about this comparison.
    pub warnings: Vec<Warning>,
}

/// A test of one effect: the estimate, its standard error, the reference
/// distribution's degrees of freedom, the confidence interval and the p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EffectTest {
    /// The effect's estimate.
    pub estimate: f64,
    /// Its standard error.
    pub se: f64,
    /// Degrees of freedom of its reference distribution (Welch–Satterthwaite;
    /// infinite: the normal).
    pub df: f64,
    /// Its confidence interval at `1 − α` (one side infinite for a one-sided alternative).
    pub ci: [f64; 2],
    /// Its p-value under the evaluation's alternative.
    pub p_value: f64,
}

/// The always-valid (mixture sequential probability ratio) figures of the
/// relative effect: they may be read at every look.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sequential {
    /// Always-valid two-sided p-value.
    pub p_value: f64,
    /// Always-valid confidence interval.
    pub ci: [f64; 2],
}

/// The Gaussian Bayesian model of the relative effect.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bayesian {
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
}

/// A comparison's figures adjusted for the family it was tested in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Adjusted {
    /// Holm-adjusted p-value of the absolute test.
    pub p_value_holm: f64,
    /// Benjamini–Hochberg q-value of the absolute test.
    pub q_value_bh: f64,
    /// Absolute interval at the Bonferroni level `α/m` (simultaneous, consistent with Holm).
    pub abs_ci_holm: [f64; 2],
    /// Absolute interval at the false-coverage-rate level `α R/m` (consistent with BH).
    pub abs_ci_bh: [f64; 2],
}

/// Compares `variant` with `control` for `metric`. `second` says what the
/// arms' second sums hold (as [`ExperimentStats::second`]): with
/// [`SecondValue::Covariate`] and [`EvalParams::cuped`] the relative,
/// sequential and Bayesian figures are CUPED-adjusted (binomial, mean and
/// count metrics). A ratio metric always reads its denominator from the
/// second sums ([`SecondValue::Denominator`]); other metrics never do.
///
/// [`ExperimentStats::second`]: crate::experiment::stats::ExperimentStats::second
pub fn compare(
    metric: &Metric,
    control: &ArmStats,
    variant: &ArmStats,
    second: SecondValue,
    params: &EvalParams,
) -> Comparison {
    let use_covariate = second == SecondValue::Covariate && params.cuped;
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
            EffectTest {
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
                variance_reduction: Some(1.0 - (rel.se / unadjusted.se).powi(2)),
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
    let sequential = defined.then(|| {
        let (p_value, ci) = sequential(
            rel.estimate,
            rel_variance,
            a.n + b.n,
            alpha,
            params.sequential_tuning,
        );
        Sequential { p_value, ci }
    });

    // Bayesian effect model on the relative effect.
    let bayesian = defined.then(|| {
        let prior = params.prior;
        let precision = 1.0 / rel_variance
            + if prior.proper {
                1.0 / prior.variance
            } else {
                0.0
            };
        let posterior_mean = if prior.proper {
            (rel.estimate / rel_variance + prior.mean / prior.variance) / precision
        } else {
            rel.estimate
        };
        let posterior_sd = (1.0 / precision).sqrt();
        let mut chance_to_win = normal_sf(-posterior_mean / posterior_sd);
        let [mut risk_control, mut risk] = gaussian_risk(posterior_mean, posterior_sd);
        if metric.lower_is_better {
            chance_to_win = 1.0 - chance_to_win;
            std::mem::swap(&mut risk, &mut risk_control);
        }
        let z = normal_quantile(1.0 - alpha / 2.0);
        Bayesian {
            chance_to_win,
            risk,
            risk_control,
            posterior_mean,
            credible_interval: [
                posterior_mean - z * posterior_sd,
                posterior_mean + z * posterior_sd,
            ],
        }
    });

    let beta_binomial = if kind == MetricKind::Binomial {
        beta_binomial(control, variant, metric.lower_is_better, params)
    } else {
        None
    };

    if let Some(c) = cuped.as_mut() {
        if !defined {
            c.variance_reduction = None;
        }
    }
    let abs_defined = !(zero_variance(&a) && zero_variance(&b)) && a.n > 1.0 && b.n > 1.0;
    Comparison {
        abs_effect: abs.estimate,
        test,
        absolute: abs_defined.then_some(abs),
        relative: defined.then_some(rel),
        cuped,
        sequential,
        bayesian,
        beta_binomial,
        adjusted: None,
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
    let mut c = compare(
        &metric,
        &arm(control),
        &arm(variant),
        SecondValue::None,
        params,
    );
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
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `evaluate::fixtures`.
    use super::*;
    use crate::experiment::evaluate::fixtures::assert_close;

    #[test]
    fn binomial_matches_statsmodels_gbstats_and_exact_beta() {
        // 410 / 5000 conversions in control, 480 / 5100 in the treatment.
        let a = ArmStats::from_sums(5000, 410.0, 410.0);
        let b = ArmStats::from_sums(5100, 480.0, 480.0);
        let metric = Metric::new("converted", MetricKind::Binomial);
        let c = compare(&metric, &a, &b, SecondValue::None, &EvalParams::default());
        // statsmodels proportions_ztest([480, 410], [5100, 5000]) -> (2.147950445343496, 0.03171769233156647)
        assert_eq!(c.test, AbsoluteTest::PooledZ);
        assert_close!(c.absolute.unwrap().p_value, 0.03171769233156647);
        // confint_proportions_2indep(480, 5100, 410, 5000, method="wald", compare="diff")
        // -> (0.0010698545776296128, 0.023165439540017436)
        assert_close!(c.absolute.unwrap().ci[0], 0.0010698545776296128);
        assert_close!(c.absolute.unwrap().ci[1], 0.023165439540017436);
        // gbstats TwoSidedTTest(ProportionStatistic(5000, 410), ProportionStatistic(5100, 480)) relative:
        // 0.14777618364418932, [0.0032532521708610873, 0.29229911511751755], p 0.045062065804219786
        assert_close!(c.relative.unwrap().estimate, 0.14777618364418932);
        assert_close!(c.relative.unwrap().ci[0], 0.0032532521708610873);
        assert_close!(c.relative.unwrap().ci[1], 0.29229911511751755);
        assert_close!(c.relative.unwrap().p_value, 0.045062065804219786);
        // SequentialTwoSidedTTest: p 0.623006841555628, ci [-0.07799606803887613, 0.3735484353272548]
        assert_close!(c.sequential.unwrap().p_value, 0.623006841555628);
        assert_close!(c.sequential.unwrap().ci[0], -0.07799606803887613);
        assert_close!(c.sequential.unwrap().ci[1], 0.3735484353272548);
        // EffectBayesianABTest: ctw 0.9774823178840266,
        // risk [0.14839497632123197, 0.0006187926770426606]
        assert_close!(c.bayesian.unwrap().chance_to_win, 0.9774823178840266);
        assert_close!(c.bayesian.unwrap().risk_control, 0.14839497632123197);
        assert_close!(c.bayesian.unwrap().risk, 0.0006187926770426606);
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
            compare(&metric, &a, &b, SecondValue::None, &greater)
                .absolute
                .unwrap()
                .p_value,
            0.015858846165783234
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
        assert_close!(c.relative.unwrap().estimate, 0.09404636422110749);
        assert_close!(c.relative.unwrap().ci[0], 0.026410020040738016);
        assert_close!(c.relative.unwrap().ci[1], 0.16168270840147697);
        assert_close!(c.relative.unwrap().p_value, 0.006434219779188233);
        // ... absolute: 1.8721050654207119, [0.5907501751877697, 3.153459955653654], p 0.004197011243452176
        assert_close!(c.abs_effect, 1.8721050654207119);
        assert_close!(c.absolute.unwrap().ci[0], 0.5907501751877697);
        assert_close!(c.absolute.unwrap().ci[1], 3.153459955653654);
        assert_close!(c.absolute.unwrap().p_value, 0.004197011243452176);
        let mut other = qb;
        other.level = 0.9;
        assert!(matches!(
            compare_quantiles(&qa, &other, &EvalParams::default()),
            Err(Error::InvalidParameter { name: "level", .. })
        ));
    }

    #[test]
    fn degenerate_arms_give_no_figures_and_warnings_not_panics() {
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
            let c = compare(&metric, &x, &y, SecondValue::Covariate, &params);
            assert!(c.absolute.is_none_or(|t| (0.0..=1.0).contains(&t.p_value)));
            // No relative effect, so nothing built on it: no placeholders.
            assert_eq!((c.relative, c.sequential, c.bayesian), (None, None, None));
            assert!(
                c.cuped
                    .is_none_or(|cuped| cuped.variance_reduction.is_none())
            );
        }
        let c = compare(
            &metric,
            &flat,
            &ArmStats::from_sums(10, 5.0, 7.0),
            SecondValue::None,
            &params,
        );
        assert!(c.warnings.contains(&Warning::ZeroControlMean));
        let bin = Metric::new("c", MetricKind::Binomial);
        let c = compare(
            &bin,
            &ArmStats::from_sums(100, 0.0, 0.0),
            &ArmStats::from_sums(100, 0.0, 0.0),
            SecondValue::None,
            &params,
        );
        assert_eq!((c.absolute, c.relative), (None, None));
        let bb = c.beta_binomial.unwrap();
        assert_close!(bb.chance_to_beat_control, 0.5);
    }
}
