//! CUPED (Deng, Xu, Kohavi & Walker 2013): the pooled regression coefficient
//! θ of the metric on its pre-period covariate and the adjusted arm summaries.

use super::frequentist::Summary;
use crate::experiment::stats::{ArmStats, MetricKind};

/// Per-unit variance of the metric as gbstats computes it for the kind
/// (`p(1 − p)` for binomial, the sample variance otherwise).
pub(super) fn post_variance(n: u64, sum: f64, sum_sq: f64, kind: MetricKind) -> f64 {
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
pub(super) fn pooled_theta(a: &ArmStats, b: &ArmStats, kind: MetricKind) -> f64 {
    let mut joint = *a;
    joint.merge(b);
    let var_post = post_variance(joint.n, joint.sum, joint.sum_sq, kind);
    let var_pre = joint.second_variance();
    if var_pre == 0.0 || var_post == 0.0 {
        return 0.0;
    }
    joint.covariance() / var_pre
}

pub(super) fn adjusted_summary(arm: &ArmStats, kind: MetricKind, theta: f64) -> Summary {
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
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `evaluate::fixtures`.
    use crate::experiment::evaluate::fixtures::{assert_close, mean_arms};
    use crate::experiment::evaluate::{EvalParams, compare};
    use crate::experiment::stats::{Metric, MetricKind, SecondValue};

    #[test]
    fn cuped_matches_gbstats_regression_adjustment() {
        let (a, b) = mean_arms();
        let metric = Metric::new("revenue", MetricKind::Mean);
        let c = compare(
            &metric,
            &a,
            &b,
            SecondValue::Covariate,
            &EvalParams::default(),
        );
        // TwoSidedTTest(RegressionAdjustedStatistic(a), RegressionAdjustedStatistic(b),
        //   FrequentistConfig(difference_type="relative")): theta 0.5974526623976605,
        // expected 0.025022936157488518, ci [0.012380023879281048, 0.03766584843569599],
        // p 0.00010540579500695202, uplift.stddev 0.006449595400596639
        let cuped = c.cuped.unwrap();
        assert_close!(cuped.theta, 0.5974526623976605);
        assert_close!(c.relative.unwrap().estimate, 0.025022936157488518);
        assert_close!(c.relative.unwrap().ci[0], 0.012380023879281048);
        assert_close!(c.relative.unwrap().ci[1], 0.03766584843569599);
        assert_close!(c.relative.unwrap().p_value, 0.00010540579500695202);
        assert_close!(c.relative.unwrap().se, 0.006449595400596639);
        assert_close!(
            cuped.variance_reduction.unwrap(),
            1.0 - (0.006449595400596639f64 / 0.0096361383487635).powi(2)
        );
        assert_close!(cuped.unadjusted_rel_effect, 0.034253430832029155);
        // SequentialTwoSidedTTest on the adjusted statistics:
        // p 0.0034560923913090997, ci [0.005372652031898885, 0.04467322028307815]
        assert_close!(c.sequential.unwrap().p_value, 0.0034560923913090997);
        assert_close!(c.sequential.unwrap().ci[0], 0.005372652031898885);
        assert_close!(c.sequential.unwrap().ci[1], 0.04467322028307815);
        // EffectBayesianABTest(RA(a), RA(b), EffectBayesianConfig(difference_type="relative")):
        // chance_to_win 0.9999477220052321, risk [0.02502301416240254, 7.800491402178889e-08],
        // ci [0.01238196145746392, 0.03766391085751311]
        assert_close!(c.bayesian.unwrap().chance_to_win, 0.9999477220052321);
        assert_close!(c.bayesian.unwrap().risk_control, 0.02502301416240254);
        assert_close!(c.bayesian.unwrap().risk, 7.800491402178889e-08);
        assert_close!(
            c.bayesian.unwrap().credible_interval[0],
            0.01238196145746392
        );
        assert_close!(
            c.bayesian.unwrap().credible_interval[1],
            0.03766391085751311
        );
        // The absolute figures stay Welch's on the raw metric.
        assert_close!(c.absolute.unwrap().p_value, 0.00030042971117394103);
    }
}
