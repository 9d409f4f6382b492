//! The frequentist tests: gbstats' view of an arm, Welch's t-test of the
//! absolute and the relative (delta-method) effect, and the intervals and
//! p-values of an estimate against t or the normal.

use super::comparison::EffectTest;
use crate::experiment::Alternative;
use crate::experiment::stats::{ArmStats, MetricKind};
use crate::stats::{normal_quantile, normal_sf, t_quantile, t_sf};

/// gbstats' view of an arm: units, (adjusted) mean, unadjusted mean, per-unit variance.
#[derive(Debug, Clone, Copy)]
pub(super) struct Summary {
    pub(super) n: f64,
    pub(super) mean: f64,
    pub(super) unadjusted_mean: f64,
    pub(super) variance: f64,
}

pub(super) fn plain_summary(arm: &ArmStats, kind: MetricKind) -> Summary {
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
pub(super) fn ratio_moments(arm: &ArmStats) -> (f64, f64) {
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

/// A t-test of B against A (gbstats' `TTest`): absolute, or relative with the delta method.
pub(super) fn t_test(
    a: &Summary,
    b: &Summary,
    relative: bool,
    alt: Alternative,
    alpha: f64,
) -> EffectTest {
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
    EffectTest {
        estimate,
        se,
        df,
        ci,
        p_value,
    }
}

/// Interval and p-value of `estimate / se` against t(df) (normal for infinite df).
pub(super) fn test_from(
    estimate: f64,
    se: f64,
    df: f64,
    alt: Alternative,
    alpha: f64,
) -> ([f64; 2], f64) {
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

pub(super) fn quantile(p: f64, df: f64) -> f64 {
    if df.is_infinite() {
        normal_quantile(p)
    } else {
        t_quantile(p, df)
    }
}

pub(super) fn interval(estimate: f64, se: f64, df: f64, alt: Alternative, alpha: f64) -> [f64; 2] {
    match alt {
        Alternative::TwoSided => {
            let w = quantile(1.0 - alpha / 2.0, df) * se;
            [estimate - w, estimate + w]
        }
        Alternative::Greater => [estimate - quantile(1.0 - alpha, df) * se, f64::INFINITY],
        Alternative::Less => [f64::NEG_INFINITY, estimate + quantile(1.0 - alpha, df) * se],
    }
}
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `evaluate::fixtures`.
    use crate::experiment::Alternative;
    use crate::experiment::evaluate::fixtures::{assert_close, mean_arms};
    use crate::experiment::evaluate::{AbsoluteTest, EvalParams, compare};
    use crate::experiment::stats::{ArmStats, Metric, MetricKind, SecondValue};

    #[test]
    fn welch_and_relative_match_scipy_and_gbstats() {
        let (a, b) = mean_arms();
        let metric = Metric::new("revenue", MetricKind::Mean);
        let c = compare(&metric, &a, &b, SecondValue::None, &EvalParams::default());
        // r = scipy.stats.ttest_ind(xb, xa, equal_var=False):
        // p 0.00030042971117394103, df 7897.797626943796,
        // r.confidence_interval(0.95) = (0.8415857330302677, 2.8336828946152544)
        assert_eq!(c.test, AbsoluteTest::WelchT);
        assert_close!(c.absolute.unwrap().p_value, 0.00030042971117394103);
        assert_close!(c.absolute.unwrap().df, 7897.797626943796);
        assert_close!(c.absolute.unwrap().ci[0], 0.8415857330302677);
        assert_close!(c.absolute.unwrap().ci[1], 2.8336828946152544);
        // gbstats TwoSidedTTest(SampleMeanStatistic(a), SampleMeanStatistic(b),
        //   FrequentistConfig(difference_type="relative")).compute_result():
        // expected 0.034253430832029155, ci [0.015364051863538515, 0.053142809800519795],
        // p 0.0003806453339989524, uplift.stddev 0.0096361383487635
        assert_close!(c.relative.unwrap().estimate, 0.034253430832029155);
        assert_close!(c.relative.unwrap().ci[0], 0.015364051863538515);
        assert_close!(c.relative.unwrap().ci[1], 0.053142809800519795);
        assert_close!(c.relative.unwrap().p_value, 0.0003806453339989524);
        assert_close!(c.relative.unwrap().se, 0.0096361383487635);
        assert!(c.cuped.is_none());
        // SequentialTwoSidedTTest(..., SequentialConfig(difference_type="relative")):
        // p 0.010583497564748159, ci [0.004894557187152725, 0.06361230447690558]
        assert_close!(c.sequential.unwrap().p_value, 0.010583497564748159);
        assert_close!(c.sequential.unwrap().ci[0], 0.004894557187152725);
        assert_close!(c.sequential.unwrap().ci[1], 0.06361230447690558);
        let tuned = EvalParams {
            sequential_tuning: 20000.0,
            ..EvalParams::default()
        };
        let c20 = compare(&metric, &a, &b, SecondValue::None, &tuned);
        // ... sequential_tuning_parameter=20000: p 0.016904308971149286,
        // ci [0.004126067590018958, 0.06438079407403935]
        assert_close!(c20.sequential.unwrap().p_value, 0.016904308971149286);
        assert_close!(c20.sequential.unwrap().ci[0], 0.004126067590018958);
        assert_close!(c20.sequential.unwrap().ci[1], 0.06438079407403935);

        // One-sided: scipy ttest_ind(xb, xa, equal_var=False, alternative="greater"):
        // p 0.00015021485558697052, confidence_interval(0.95).low 1.0017540539241323;
        // gbstats OneSidedTreatmentGreaterTTest relative: ci [0.018401534342258417, inf],
        // p 0.0001903226669994762
        let greater = EvalParams {
            alternative: Alternative::Greater,
            ..EvalParams::default()
        };
        let g = compare(&metric, &a, &b, SecondValue::None, &greater);
        assert_close!(g.absolute.unwrap().p_value, 0.00015021485558697052);
        assert_close!(g.absolute.unwrap().ci[0], 1.0017540539241323);
        assert_eq!(g.absolute.unwrap().ci[1], f64::INFINITY);
        assert_close!(g.relative.unwrap().ci[0], 0.018401534342258417);
        assert_close!(g.relative.unwrap().p_value, 0.0001903226669994762);
        let less = EvalParams {
            alternative: Alternative::Less,
            ..EvalParams::default()
        };
        let l = compare(&metric, &a, &b, SecondValue::None, &less);
        assert_close!(l.absolute.unwrap().p_value, 1.0 - 0.00015021485558697052);
        assert_eq!(l.absolute.unwrap().ci[0], f64::NEG_INFINITY);
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
        let c = compare(
            &metric,
            &a,
            &b,
            SecondValue::Denominator,
            &EvalParams::default(),
        );
        // TwoSidedTTest(RatioStatistic(a), RatioStatistic(b)) relative:
        // 0.04999750639197165, [0.01090366353839288, 0.08909134924555041], p 0.012197904205394128
        assert_close!(c.relative.unwrap().estimate, 0.04999750639197165);
        assert_close!(c.relative.unwrap().ci[0], 0.01090366353839288);
        assert_close!(c.relative.unwrap().ci[1], 0.08909134924555041);
        assert_close!(c.relative.unwrap().p_value, 0.012197904205394128);
        // ... difference_type="absolute": 0.4949564386418306,
        // [0.11729654118502192, 0.8726163360986392], p 0.01021648833832045
        assert_close!(c.abs_effect, 0.4949564386418306);
        assert_close!(c.absolute.unwrap().ci[0], 0.11729654118502192);
        assert_close!(c.absolute.unwrap().ci[1], 0.8726163360986392);
        assert_close!(c.absolute.unwrap().p_value, 0.01021648833832045);
        assert!(
            c.cuped.is_none(),
            "the second value of a ratio is its denominator"
        );
    }
}
