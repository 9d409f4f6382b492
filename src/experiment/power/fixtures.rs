//! Shared fixtures of the power tests: tolerance check, parameters, error names.
//!
//! Reference values: statsmodels 0.15.0 (scipy 1.17.1), Python venv
//! /work/venv. Mapping of this module's arguments onto statsmodels':
//!
//! - proportions (`samplesize_proportions_2indep_onetail`,
//!   `power_proportions_2indep`): `prop2` = control rate, `diff` = δ,
//!   `nobs1` = treatment units, `ratio` = control / treatment = 1 / r;
//! - normal (`NormalIndPower`): `nobs1` = control units, `ratio` = r,
//!   `effect_size` = δ / σ.

use crate::error::{Error, Result};
use crate::experiment::Alternative;
use crate::experiment::power::PowerParams;

pub(super) const TOL: f64 = 1e-6;

pub(super) fn close(got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "got {got:?}, want {want:?} (diff {:e})",
        got - want
    );
}

pub(super) fn params(alternative: Alternative) -> PowerParams {
    PowerParams {
        alternative,
        ..PowerParams::default()
    }
}

pub(super) fn bad_param(r: Result<impl std::fmt::Debug>) -> &'static str {
    match r {
        Err(Error::InvalidParameter { name, .. }) => name,
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
}
