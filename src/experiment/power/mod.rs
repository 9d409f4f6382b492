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
//! [`Alternative`](crate::experiment::Alternative) given; `α' = α` or, with [`PowerParams::bonferroni`] and
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

mod duration;
mod mde;
mod model;
mod params;
mod sample_size;

pub use duration::{ExperimentDuration, Traffic, duration};
pub use mde::{DetectableEffect, Mde, mde, power};
pub use params::{
    ALLOCATION_RATIO_RANGE, Baseline, Effect, MAX_UNITS, PlannedMetric, PowerParams,
    VarianceReduction,
};
pub use sample_size::{Formula, SampleSize, sample_size};

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests {
    //! Reference values: see the note in `power::fixtures`.
    use super::fixtures::*;
    use super::*;
    use crate::experiment::Alternative;
    use proptest::prelude::*;

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
