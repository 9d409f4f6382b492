//! How many units a test needs: [`sample_size`] and its [`SampleSize`] plan.

use serde::{Deserialize, Serialize};

use super::model::{
    Model, check_direction, relative, round_up, standardised_shift, upper_quantile,
};
use super::params::{Effect, MAX_UNITS, PlannedMetric, PowerParams};
use crate::error::{Error, Result};
use crate::experiment::Alternative;

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

/// Units per arm needed to detect `effect` on `metric` with the power,
/// significance and split of `params`.
///
/// Binomial metrics use the explicit one-tail formula with the pooled
/// variance under the null (statsmodels'
/// `samplesize_proportions_2indep_onetail`; for two-sided tests `α/2` and no
/// far tail); continuous and ratio metrics solve the full normal power
/// equation (statsmodels' `NormalIndPower().solve_power`). See the
/// [module docs](super). Arm sizes are rounded up separately.
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
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `power::fixtures`.
    use crate::experiment::Alternative;
    use crate::experiment::power::fixtures::*;
    use crate::experiment::power::*;

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
}
