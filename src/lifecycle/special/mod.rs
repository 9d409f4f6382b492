//! Special functions for the BTYD likelihoods: log-gamma, log-beta, digamma
//! (from statrs) and the Gauss hypergeometric function ₂F₁.
//!
//! # ₂F₁ in log space
//!
//! The Pareto/NBD likelihood needs ₂F₁(a, b; a + 1; z) for 0 ≤ z < 1 with `a = r + s + x` in the
//! thousands and z possibly within 10⁻⁸ of 1; its value then spans hundreds of orders of magnitude, so
//! everything here works with ln ₂F₁. Three evaluations are used, chosen by an estimate of how many
//! series terms each needs (all positive-term, so summing them loses nothing to cancellation):
//!
//! 1. **The power series** (A&S 15.1.1), Σₖ (a)ₖ(b)ₖ / ((c)ₖ k!) zᵏ, summed with a running rescale so
//!    terms near a peak of 10³⁰⁰ and more do not overflow. For c = a + 1 the terms are
//!    a/(a + k) · (b)ₖ/k! · zᵏ; used when b < 1 (the terms then fall from the first one).
//! 2. **Euler's transformation** (A&S 15.3.3), ₂F₁(a, b; c; z) = (1 − z)^(c − a − b) ₂F₁(c − a, c − b; c; z).
//!    For c = a + 1 it becomes (1 − z)^(1 − b) Σₖ (a + 1 − b)ₖ/(a + 1)ₖ zᵏ, whose terms never grow
//!    and fall like zᵏ (1 + k/(a + 1))^(−b): fast even for z near 1 once b is large (many purchases in
//!    the Pareto/NBD α < β branch), where the plain series would first climb to a peak near
//!    k ≈ b z/(1 − z). Used for b ≥ 1. (Pfaff's z/(z − 1) form alternates in sign for z > 0 and
//!    converges only for z < ½, so it is not used.)
//! 3. **Quadrature** when z is so close to 1 that both series need more than a few thousand terms
//!    (this happens only for 1 − z ≲ 0.01 and small b). With ε = (1 − z)/z, Euler's integral
//!    ₂F₁(a, b; a + 1; z) = a ∫₀¹ uᵃ⁻¹ (1 − zu)⁻ᵇ du becomes a z⁻ᵇ ∫₀¹ (1 − v)ᵃ⁻¹ (ε + v)⁻ᵇ dv.
//!    On [½, 1] the factor (ε + v)⁻ᵇ = (1 + ε − u)⁻ᵇ has a binomial series in u = 1 − v that
//!    converges like 2⁻ᵏ and integrates term by term; on [0, ½] the substitution v = ε(e^σ − 1)
//!    turns the power-law peak at v ≈ ε into a smooth integrand in σ, integrated by composite
//!    16-point Gauss–Legendre on panels sized so that the log-integrand changes by at most 2 per panel
//!    (relative error ≈ 10⁻¹⁴ against mpmath).
//!
//! The partial derivatives of ln ₂F₁(a, b; a + 1; z) with respect to a, b and z come from the same
//! sums, differentiated term by term (or under the integral): exact up to the truncation of the
//! series, and no finite differences. So do the second derivatives from the two series; the
//! quadrature's are Richardson-extrapolated central differences of its analytic gradient (about
//! 10⁻¹⁰ relative), used for standard errors only.
//!
//! The three forms agree to about 10⁻¹⁴ where their domains meet, so a likelihood built on them is
//! continuous for an optimiser to within rounding.

pub(crate) use statrs::function::gamma::{digamma, ln_gamma};

/// Trigamma ψ₁(x) = d² ln Γ(x)/dx² for x > 0 (`NaN` otherwise): the recurrence
/// ψ₁(x) = ψ₁(x + 1) + 1/x² up to x ≥ 12, then the asymptotic series
/// 1/x + 1/(2x²) + Σₖ B₂ₖ/x^(2k+1) to B₁₄ (A&S 6.4.12), whose first omitted term is below 10⁻¹⁶ of
/// the value there.
pub(crate) fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    let (mut x, mut acc) = (x, 0.0);
    while x < 12.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let ix = 1.0 / x;
    let ix2 = ix * ix;
    let series = 1.0 / 6.0
        + ix2
            * (-1.0 / 30.0
                + ix2
                    * (1.0 / 42.0
                        + ix2
                            * (-1.0 / 30.0
                                + ix2 * (5.0 / 66.0 + ix2 * (-691.0 / 2730.0 + ix2 * 7.0 / 6.0)))));
    acc + ix + 0.5 * ix2 + ix * ix2 * series
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// Relative size of the neglected tail of a series.
const TOL: f64 = 1e-17;
/// Sums above this are rescaled by [`RESCALE`] (and the logarithm of the factor remembered).
const BIG: f64 = 1e250;
const RESCALE: f64 = 1e-250;
/// ln 10²⁵⁰.
const LN_BIG: f64 = 575.646_273_248_511_4;
/// The c = a + 1 family switches from series to quadrature when the series would need more terms.
const MAX_SERIES_TERMS: f64 = 4000.0;
/// Hard cap for the general series in [`ln_hyp2f1`].
const MAX_GENERAL_TERMS: u32 = 1_000_000;

/// ₂F₁(a, b; c; z) for 0 ≤ z < 1. `NaN` outside that range.
///
/// For a, b, c > 0 this is `exp` of [`ln_hyp2f1`] (overflowing to `inf` when the value exceeds
/// `f64::MAX`); otherwise the power series (A&S 15.1.1) summed until the terms no longer change the
/// sum.
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if !(0.0..1.0).contains(&z) {
        return f64::NAN;
    }
    if a > 0.0 && b > 0.0 && c > 0.0 {
        let ln = ln_hyp2f1(a, b, c, z);
        if !ln.is_nan() {
            return ln.exp();
        }
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

/// ln ₂F₁(a, b; c; z) for finite a, b, c > 0 and 0 ≤ z < 1; `NaN` outside that domain, or if the
/// series has not converged within 10⁶ terms (z extremely close to 1 with c − a − b near 0).
///
/// c = a + 1 (or c = b + 1) goes to [`ln_hyp2f1_inc`], which is robust up to z → 1. Otherwise the
/// power series or Euler's transform (when c > a and c > b, so its terms stay positive) is summed in
/// rescaled form, the one whose terms decay faster (exponent of k in the terms, a + b − c or
/// c − a − b) first.
pub(crate) fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let params_ok = [a, b, c].iter().all(|v| v.is_finite() && *v > 0.0);
    if !params_ok || !(0.0..1.0).contains(&z) {
        return f64::NAN;
    }
    if z == 0.0 {
        return 0.0;
    }
    if c == a + 1.0 {
        return ln_hyp2f1_inc(a, b, z);
    }
    if c == b + 1.0 {
        return ln_hyp2f1_inc(b, a, z);
    }
    let euler_ok = c > a && c > b;
    let ln_euler = |cap| ln_series(c - a, c - b, c, z, cap).map(|s| (c - a - b) * (-z).ln_1p() + s);
    let first = if euler_ok && a + b > c {
        ln_euler(MAX_GENERAL_TERMS)
    } else {
        ln_series(a, b, c, z, MAX_GENERAL_TERMS)
    };
    if let Some(v) = first {
        return v;
    }
    let second = if euler_ok && a + b > c {
        ln_series(a, b, c, z, MAX_GENERAL_TERMS)
    } else if euler_ok {
        ln_euler(MAX_GENERAL_TERMS)
    } else {
        None
    };
    second.unwrap_or(f64::NAN)
}

/// ln Σₖ (a)ₖ(b)ₖ/((c)ₖ k!) zᵏ for a, b, c > 0, 0 < z < 1, rescaled against overflow;
/// `None` if not converged within `cap` terms.
fn ln_series(a: f64, b: f64, c: f64, z: f64, cap: u32) -> Option<f64> {
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut shift = 0.0;
    for k in 0..cap {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if sum > BIG {
            sum *= RESCALE;
            term *= RESCALE;
            shift += LN_BIG;
        }
        // Every later ratio is at most z·max(1, (a+k+1)/(c+k+1))·max(1, (b+k+1)/(k+2)).
        let rho =
            z * ((a + k + 1.0) / (c + k + 1.0)).max(1.0) * ((b + k + 1.0) / (k + 2.0)).max(1.0);
        if rho < 1.0 && term * rho / (1.0 - rho) <= TOL * sum {
            return Some(sum.ln() + shift);
        }
    }
    None
}

mod inc;
mod inc_series;
mod quadrature;
#[cfg(test)]
mod tests;

pub(crate) use inc::{GRADIENT, HESSIAN, Inc, VALUE, ln_hyp2f1_inc};
pub(crate) use inc_series::{IncSeries, LANES};
