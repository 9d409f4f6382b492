//! Shared fixtures of the evaluation tests: a tolerance check and the pinned arms.
//!
//! Reference values come from the calls quoted in each comment (gbstats
//! 0.8.0, scipy 1.17.1, statsmodels 0.15.0, in a virtual environment outside
//! the repository). The fixture data were drawn with numpy's
//! `default_rng(7)`; only their sums matter, and those are pinned here.

use crate::experiment::stats::ArmStats;

/// Relative tolerance 1e-6 with an absolute floor of 1e-9.
pub(super) fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 + 1e-6 * want.abs()
}

macro_rules! assert_close {
    ($got:expr, $want:expr) => {{
        let (g, w) = ($got, $want);
        assert!(
            $crate::experiment::evaluate::fixtures::close(g, w),
            "{} = {g}, want {w}",
            stringify!($got)
        );
    }};
}
pub(super) use assert_close;

// post = 0.6 pre + N(30 (+1.5 in B), 15²), pre ~ Gamma(2, 20); n = 4000 / 3900.
pub(super) fn mean_arms() -> (ArmStats, ArmStats) {
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
