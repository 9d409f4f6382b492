//! Special functions for the BTYD likelihoods: log-gamma, log-beta, digamma
//! (from statrs) and the Gauss hypergeometric function ₂F₁.

// Used by the model formulas as they land.
#![allow(dead_code, unused_imports)]

pub(crate) use statrs::function::gamma::{digamma, ln_gamma};

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its power series (Abramowitz & Stegun 15.1.1),
/// summed until the terms no longer change the sum. `NaN` outside that range.
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if !(0.0..1.0).contains(&z) {
        return f64::NAN;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 0..1_000_000u32 {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() <= sum.abs() * 1e-16 {
            break;
        }
    }
    sum
}
