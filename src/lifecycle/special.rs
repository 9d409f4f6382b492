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

/// ln ₂F₁(a, b; a + 1; z) and its partial derivatives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LnHyp2f1Inc {
    /// ln ₂F₁(a, b; a + 1; z).
    pub(crate) value: f64,
    /// ∂/∂a of the value.
    pub(crate) d_a: f64,
    /// ∂/∂b of the value.
    pub(crate) d_b: f64,
    /// ∂/∂z of the value.
    pub(crate) d_z: f64,
    /// Second partial derivatives of the value in (a, b, z) (with `D = 2`, otherwise zero).
    pub(crate) hessian: [[f64; 3]; 3],
}

impl LnHyp2f1Inc {
    const NAN: Self = Self {
        value: f64::NAN,
        d_a: f64::NAN,
        d_b: f64::NAN,
        d_z: f64::NAN,
        hessian: [[f64::NAN; 3]; 3],
    };
}

/// ln ₂F₁(a, b; a + 1; z) as `log_part + ln(sum)`, with its partial derivatives: a caller that
/// exponentiates the value again can skip the logarithm of the series' sum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Inc {
    /// The value less ln `sum`.
    pub(crate) log_part: f64,
    /// A positive factor of ₂F₁ (the series' sum; 1 for the quadrature).
    pub(crate) sum: f64,
    /// ∂/∂a, ∂/∂b and ∂/∂z of the value (zero when not computed).
    pub(crate) d_a: f64,
    pub(crate) d_b: f64,
    pub(crate) d_z: f64,
}

impl Inc {
    /// ln ₂F₁(a, b; a + 1; z).
    #[cfg(test)]
    pub(crate) fn value(&self) -> f64 {
        self.log_part + self.sum.ln()
    }

    fn from_full(v: &LnHyp2f1Inc, hessian: &mut [[f64; 3]; 3]) -> Self {
        *hessian = v.hessian;
        Inc {
            log_part: v.value,
            sum: 1.0,
            d_a: v.d_a,
            d_b: v.d_b,
            d_z: v.d_z,
        }
    }
}

/// Derivative orders of [`IncSeries::eval`]: the value only, with the gradient, with the Hessian.
pub(crate) const VALUE: u8 = 0;
pub(crate) const GRADIENT: u8 = 1;
pub(crate) const HESSIAN: u8 = 2;

/// ln ₂F₁(a, b; a + 1; z) — the incomplete-beta case, B_z(a, 1 − b) = zᵃ/a · ₂F₁(a, b; a + 1; z) —
/// for a, b > 0 and 0 ≤ z < 1 (`NaN` outside). See the module docs for the method.
pub(crate) fn ln_hyp2f1_inc(a: f64, b: f64, z: f64) -> f64 {
    let zc = 1.0 - z;
    inc::<VALUE>(a, b, z, zc, zc.ln()).value
}

/// As [`ln_hyp2f1_inc`] with the partial derivatives (up to order `D`); `zc` = 1 − z computed by the
/// caller without cancellation (the value depends on it like (1 − z)^(1 − b), so rounding 1 − z
/// matters near z = 1).
#[cfg(test)]
pub(crate) fn ln_hyp2f1_inc_grad<const D: u8>(a: f64, b: f64, z: f64, zc: f64) -> LnHyp2f1Inc {
    inc::<D>(a, b, z, zc, zc.ln())
}

/// How ₂F₁(a, b; a + 1; z) is evaluated.
enum Method {
    /// Outside the domain, or z = 0: the result.
    Done(LnHyp2f1Inc),
    /// Euler's form (b ≥ 1, a + 1 − b > 0).
    Euler,
    /// The power series.
    Direct,
    /// The quadrature: either series would need more than [`MAX_SERIES_TERMS`] terms.
    Quadrature,
}

/// The terms allowed before the series gives up (the estimate that picks it is conservative).
const SERIES_CAP: u32 = 4 * MAX_SERIES_TERMS as u32 + 1000;

/// Chooses the evaluation of ₂F₁(a, b; a + 1; z) (derivatives up to order `D` for the early results).
fn method<const D: u8>(a: f64, b: f64, z: f64, zc: f64) -> Method {
    let ok = a.is_finite()
        && a > 0.0
        && b.is_finite()
        && b > 0.0
        && (0.0..1.0).contains(&z)
        && zc > 0.0
        && zc <= 1.0;
    if !ok {
        return Method::Done(LnHyp2f1Inc::NAN);
    }
    if z == 0.0 {
        // ₂F₁ = 1 + c₁z + c₂z² + … with c₁ = ab/(a + 1), c₂ = ab(b + 1)/(2(a + 2)).
        let c1 = a * b / (a + 1.0);
        let mut hessian = [[0.0; 3]; 3];
        if D >= HESSIAN {
            let c2 = a * b * (b + 1.0) / (2.0 * (a + 2.0));
            hessian[0][2] = b / ((a + 1.0) * (a + 1.0));
            hessian[1][2] = a / (a + 1.0);
            hessian[2][2] = 2.0 * c2 - c1 * c1;
            hessian[2][0] = hessian[0][2];
            hessian[2][1] = hessian[1][2];
        }
        return Method::Done(LnHyp2f1Inc {
            value: 0.0,
            d_a: 0.0,
            d_b: 0.0,
            d_z: c1,
            hessian,
        });
    }
    let euler = b >= 1.0 && a + 1.0 - b > 0.0;
    let series_fits = if euler || b < 1.0 {
        // Terms needed for the geometric factor zᵏ to fall by e⁻⁴⁵: 45/(−ln z), at most 45/(1 − z)
        // (so the logarithm is taken only when that bound does not settle it).
        45.0 / zc <= MAX_SERIES_TERMS || {
            let n_geometric = 45.0 / -(-zc).ln_1p();
            let n_estimate = if euler {
                n_geometric.min((a + 1.0) * (45.0 / b).exp_m1())
            } else {
                n_geometric
            };
            n_estimate <= MAX_SERIES_TERMS
        }
    } else {
        (b + 45.0) / zc <= MAX_SERIES_TERMS
    };
    match (series_fits, euler) {
        (false, _) => Method::Quadrature,
        (true, true) => Method::Euler,
        (true, false) => Method::Direct,
    }
}

/// The quadrature with derivatives up to order `D`.
fn quadrature<const D: u8>(a: f64, b: f64, z: f64, zc: f64) -> LnHyp2f1Inc {
    if D >= HESSIAN {
        inc_quadrature_hessian(a, b, z, zc)
    } else {
        inc_quadrature::<D>(a, b, z, zc)
    }
}

/// Dispatch for the c = a + 1 family, derivatives up to order `D`.
fn inc<const D: u8>(a: f64, b: f64, z: f64, zc: f64, ln_zc: f64) -> LnHyp2f1Inc {
    let series = match method::<D>(a, b, z, zc) {
        Method::Done(v) => return v,
        Method::Euler => inc_euler::<D>(a, b, z, zc, ln_zc, SERIES_CAP),
        Method::Direct => inc_direct::<D>(a, b, z, SERIES_CAP),
        Method::Quadrature => None,
    };
    series.unwrap_or_else(|| quadrature::<D>(a, b, z, zc))
}

/// The parts of the series for ₂F₁(a, b; a + 1; z) that depend on a and b only, tabulated term by
/// term and shared by every z: evaluating many z with the same (a, b), as for the Pareto/NBD
/// customers of one frequency, then takes no division per term. The results are those of
/// [`ln_hyp2f1_inc`] (with its derivatives) to the last bit.
#[derive(Debug, Clone)]
pub(crate) struct IncSeries {
    a: f64,
    b: f64,
    /// Whether the table is of Euler's form (otherwise of the power series; empty until first used).
    euler: bool,
    /// Per term k (from k = 0): the ratio Tₖ₊₁/Tₖ without its factor z, ∂ln Tₖ₊₁/∂a and ∂/∂b, and
    /// ∂²ln Tₖ₊₁ over (a, a), (a, b), (b, b) (filled when a Hessian is first asked for).
    ratio: Vec<f64>,
    d_a: Vec<f64>,
    d_b: Vec<f64>,
    second: Vec<[f64; 3]>,
    /// The running sums of squares at the end of `second`: Σ 1/(c + j)² and Σ 1/(a + 1 + j)²
    /// (Euler), or Σ 1/(b + j)² (power series).
    squares: (f64, f64),
}

impl IncSeries {
    /// The (empty) table for (a, b).
    pub(crate) fn new(a: f64, b: f64) -> Self {
        IncSeries {
            a,
            b,
            euler: false,
            ratio: Vec::new(),
            d_a: Vec::new(),
            d_b: Vec::new(),
            second: Vec::new(),
            squares: (0.0, 0.0),
        }
    }

    fn clear(&mut self) {
        self.ratio.clear();
        self.d_a.clear();
        self.d_b.clear();
        self.second.clear();
        self.squares = (0.0, 0.0);
    }

    /// Tabulates terms up to `len` (at least) for Euler's form or the power series, with the second
    /// derivatives if `second`. The expressions are those of [`inc_euler`] and [`inc_direct`].
    fn extend(&mut self, euler: bool, second: bool, len: usize) {
        if self.euler != euler {
            self.clear();
            self.euler = euler;
        }
        let (a, b) = (self.a, self.b);
        let len = len.max(2 * self.ratio.len()).max(32);
        if second && self.second.len() < self.ratio.len() {
            // Recompute from the start with the second derivatives.
            self.clear();
        }
        let mut k = self.ratio.len();
        // The running sums continue from the last entry: ∂ln T/∂a (Euler) and ∂/∂b; Σ 1/(c + j)²
        // and Σ 1/(a + 1 + j)² (Euler) or Σ 1/(b + j)² (power series).
        let (mut w_a, mut w_b) = match (self.d_a.last(), self.d_b.last()) {
            (Some(&w_a), Some(&w_b)) => (w_a, w_b),
            _ => (0.0, 0.0),
        };
        let (mut v_1, mut v_2) = self.squares;
        let inv_a = 1.0 / a;
        while k < len {
            let kf = k as f64;
            let k1 = kf + 1.0;
            if euler {
                let c = a + 1.0 - b;
                let (ck, ak) = (c + kf, a + k1);
                let inv = 1.0 / (ck * ak);
                self.ratio.push(ck * ck * inv);
                let (inv_c, inv_a1) = (ak * inv, ck * inv);
                w_a += b * inv;
                w_b -= inv_c;
                self.d_a.push(w_a);
                self.d_b.push(w_b);
                if second {
                    v_1 += inv_c * inv_c;
                    v_2 += inv_a1 * inv_a1;
                    self.second.push([v_2 - v_1, v_1, -v_1]);
                }
            } else {
                let (ak1, bk) = (a + k1, b + kf);
                let inv = 1.0 / (ak1 * bk * k1);
                let inv_ak1 = bk * k1 * inv;
                let inv_k1 = ak1 * bk * inv;
                self.ratio.push((a + kf) * inv_ak1 * (bk * inv_k1));
                let inv_bk = ak1 * k1 * inv;
                w_b += inv_bk;
                self.d_a.push(inv_a - inv_ak1);
                self.d_b.push(w_b);
                if second {
                    v_1 += inv_bk * inv_bk;
                    self.second
                        .push([inv_ak1 * inv_ak1 - inv_a * inv_a, 0.0, -v_1]);
                }
            }
            k += 1;
        }
        self.squares = (v_1, v_2);
    }

    /// ln ₂F₁(a, b; a + 1; z) with derivatives up to order `D` ([`VALUE`], [`GRADIENT`] or
    /// [`HESSIAN`]), given `zc` = 1 − z computed without cancellation and ln(1 − z), which the caller
    /// may have from logarithms it needs anyway (to within a few units in the last place of those
    /// logarithms).
    pub(crate) fn eval<const D: u8>(
        &mut self,
        z: f64,
        zc: f64,
        ln_zc: f64,
        hessian: &mut [[f64; 3]; 3],
    ) -> Inc {
        let (a, b) = (self.a, self.b);
        let series = match method::<D>(a, b, z, zc) {
            Method::Done(v) => return Inc::from_full(&v, hessian),
            Method::Euler => self.sum::<D, true>(z, zc, ln_zc, hessian),
            Method::Direct => self.sum::<D, false>(z, zc, ln_zc, hessian),
            Method::Quadrature => None,
        };
        series.unwrap_or_else(|| Inc::from_full(&quadrature::<D>(a, b, z, zc), hessian))
    }

    /// [`inc_euler`] (`EULER`) or [`inc_direct`] from the table. (Kept out of line: inlined into its
    /// callers, its loop compiles to more instructions.)
    #[inline(never)]
    fn sum<const D: u8, const EULER: bool>(
        &mut self,
        z: f64,
        zc: f64,
        ln_zc: f64,
        hessian: &mut [[f64; 3]; 3],
    ) -> Option<Inc> {
        let b = self.b;
        let (mut term, mut sum, mut shift) = (1.0, 1.0, 0.0);
        let mut s1 = [0.0; 3];
        let mut s2 = [[0.0; 3]; 3];
        // The tail factor: fixed for Euler's form (1/(1 − z)) and for the power series with b ≤ 1.
        let q_fixed = if EULER {
            Some(1.0 / zc)
        } else {
            (b <= 1.0).then(|| 1.0 / (1.0 - z))
        };
        let second = D >= HESSIAN;
        if self.euler != EULER || (second && self.second.len() < self.ratio.len()) {
            self.extend(EULER, second, 1);
        }
        for k in 0..SERIES_CAP as usize {
            if k == self.ratio.len() {
                self.extend(EULER, second, k + 1);
            }
            let kf = k as f64;
            let k1 = kf + 1.0;
            // The tail bound covers the derivatives' sums when they are computed.
            let d_b = if D >= GRADIENT { self.d_b[k] } else { 0.0 };
            term *= self.ratio[k] * z;
            sum += term;
            if D >= GRADIENT {
                let d_a = self.d_a[k];
                s1[0] += term * d_a;
                s1[1] += term * d_b;
                s1[2] += term * k1;
                if D >= HESSIAN {
                    let [aa, ab, bb] = self.second[k];
                    s2[0][0] += term * (aa + d_a * d_a);
                    s2[0][1] += if EULER {
                        term * (ab + d_a * d_b)
                    } else {
                        term * d_a * d_b
                    };
                    s2[0][2] += term * d_a * k1;
                    s2[1][1] += term * (d_b * d_b + bb);
                    s2[1][2] += term * d_b * k1;
                    s2[2][2] += term * k1 * kf;
                }
            }
            if !EULER && sum > BIG {
                sum *= RESCALE;
                term *= RESCALE;
                for v in &mut s1 {
                    *v *= RESCALE;
                }
                for row in &mut s2 {
                    for v in row {
                        *v *= RESCALE;
                    }
                }
                shift += LN_BIG;
            }
            let (q, done) = if EULER {
                let q = q_fixed.unwrap_or_default();
                (q, term * (kf + 2.0 + q - d_b) * q <= TOL * sum)
            } else {
                let q = match q_fixed {
                    Some(q) => q,
                    None => {
                        let rho = z * ((b + k1) / (k1 + 1.0)).max(1.0);
                        if rho >= 1.0 {
                            continue;
                        }
                        1.0 / (1.0 - rho)
                    }
                };
                (q, term * (k1 + 1.0 + q + d_b) * q <= TOL * sum)
            };
            if done {
                return Some(finish::<D, EULER>(
                    b, z, ln_zc, q, sum, shift, s1, s2, hessian,
                ));
            }
        }
        None
    }
}

/// The result of a converged series (Euler's form if `EULER`) from its sums: the sum of the terms
/// (with the logarithm `shift` of its rescaling), and the sums of terms × ∂ln Tₖ (`s1`, over a, b and
/// k) and of terms × second-order factors (`s2`); the Hessian goes to `hessian`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn finish<const D: u8, const EULER: bool>(
    b: f64,
    z: f64,
    ln_zc: f64,
    q: f64,
    sum: f64,
    shift: f64,
    mut s1: [f64; 3],
    mut s2: [[f64; 3]; 3],
    hessian: &mut [[f64; 3]; 3],
) -> Inc {
    let mut out = Inc {
        log_part: if EULER { (1.0 - b) * ln_zc } else { shift },
        sum,
        d_a: 0.0,
        d_b: 0.0,
        d_z: 0.0,
    };
    if D >= GRADIENT {
        s1[2] /= z;
        for (i, row) in s2.iter_mut().enumerate() {
            row[2] /= z;
            if i == 2 {
                row[2] /= z;
            }
        }
        let (g, mut h) = ln_sum_derivatives(sum, s1, s2);
        [out.d_a, out.d_b, out.d_z] = g;
        if EULER {
            // The factor (1 − z)^(1 − b).
            out.d_b = -ln_zc + g[1];
            out.d_z = (b - 1.0) * q + g[2];
            h[1][2] += q;
            h[2][1] += q;
            h[2][2] += (b - 1.0) * q * q;
        }
        if D >= HESSIAN {
            *hessian = h;
        }
    }
    out
}

/// Values of z evaluated together by [`IncSeries::eval_lanes`].
pub(crate) const LANES: usize = 4;

impl Inc {
    /// A placeholder for lanes not evaluated.
    pub(crate) const NAN: Inc = Inc {
        log_part: f64::NAN,
        sum: f64::NAN,
        d_a: f64::NAN,
        d_b: f64::NAN,
        d_z: f64::NAN,
    };
}

impl IncSeries {
    /// [`eval`](Self::eval) (derivatives up to [`GRADIENT`]) for the lanes `l < n` of `z`, `zc`,
    /// `ln_zc`, with the series summed for all of them at once, lane by lane in step, so that the
    /// loop compiles to vector instructions where the caller is compiled for them (it is inlined).
    /// Each lane's result is that of [`eval`](Self::eval) to the last bit; lanes `l ≥ n` are
    /// [`Inc::NAN`].
    #[inline(always)]
    pub(crate) fn eval_lanes<const D: u8>(
        &mut self,
        n: usize,
        z: &[f64; LANES],
        zc: &[f64; LANES],
        ln_zc: &[f64; LANES],
    ) -> [Inc; LANES] {
        const { assert!(D <= GRADIENT) };
        let (a, b) = (self.a, self.b);
        let mut out = [Inc::NAN; LANES];
        let mut series = [false; LANES];
        let mut euler = None;
        let mut unused = [[0.0; 3]; 3];
        for l in 0..n.min(LANES) {
            match method::<D>(a, b, z[l], zc[l]) {
                Method::Done(v) => out[l] = Inc::from_full(&v, &mut unused),
                Method::Quadrature => {
                    out[l] = Inc::from_full(&quadrature::<D>(a, b, z[l], zc[l]), &mut unused);
                }
                Method::Euler => (series[l], euler) = (true, Some(true)),
                Method::Direct => (series[l], euler) = (true, Some(false)),
            }
        }
        match euler {
            Some(true) => self.sum_lanes::<D, true>(series, z, zc, ln_zc, &mut out),
            // The power series' tail factor is fixed only for b ≤ 1 (always so for Pareto/NBD).
            Some(false) if b <= 1.0 => self.sum_lanes::<D, false>(series, z, zc, ln_zc, &mut out),
            Some(false) => {
                for l in 0..LANES {
                    if series[l] {
                        out[l] = self.eval::<D>(z[l], zc[l], ln_zc[l], &mut unused);
                    }
                }
            }
            None => {}
        }
        out
    }

    /// [`sum`](Self::sum) for the lanes marked in `series`, in step (for the power series, b ≤ 1).
    #[inline(always)]
    fn sum_lanes<const D: u8, const EULER: bool>(
        &mut self,
        series: [bool; LANES],
        z: &[f64; LANES],
        zc: &[f64; LANES],
        ln_zc: &[f64; LANES],
        out: &mut [Inc; LANES],
    ) {
        let b = self.b;
        let mut done = series.map(|s| !s);
        // Lanes not summed, or done, run on z = 0: their terms vanish (and never become subnormal,
        // which would slow every operation on them).
        let mut z: [f64; LANES] = std::array::from_fn(|l| if series[l] { z[l] } else { 0.0 });
        let q: [f64; LANES] = std::array::from_fn(|l| {
            if EULER {
                1.0 / zc[l]
            } else {
                1.0 / (1.0 - z[l])
            }
        });
        let (mut term, mut sum, mut shift) = ([1.0; LANES], [1.0; LANES], [0.0; LANES]);
        let (mut s_a, mut s_b, mut s_z) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
        if self.euler != EULER {
            self.extend(EULER, false, 1);
        }
        let mut unused = [[0.0; 3]; 3];
        for k in 0..SERIES_CAP as usize {
            if k == self.ratio.len() {
                self.extend(EULER, false, k + 1);
            }
            let kf = k as f64;
            let k1 = kf + 1.0;
            let r = self.ratio[k];
            let d_a = self.d_a[k];
            let d_b = if D >= GRADIENT { self.d_b[k] } else { 0.0 };
            for l in 0..LANES {
                term[l] *= r * z[l];
                sum[l] += term[l];
                if D >= GRADIENT {
                    s_a[l] += term[l] * d_a;
                    s_b[l] += term[l] * d_b;
                    s_z[l] += term[l] * k1;
                }
            }
            if !EULER && sum.iter().any(|&v| v > BIG) {
                for l in 0..LANES {
                    if sum[l] > BIG {
                        sum[l] *= RESCALE;
                        term[l] *= RESCALE;
                        s_a[l] *= RESCALE;
                        s_b[l] *= RESCALE;
                        s_z[l] *= RESCALE;
                        shift[l] += LN_BIG;
                    }
                }
            }
            let mut converged = [false; LANES];
            for l in 0..LANES {
                converged[l] = if EULER {
                    term[l] * (kf + 2.0 + q[l] - d_b) * q[l] <= TOL * sum[l]
                } else {
                    term[l] * (k1 + 1.0 + q[l] + d_b) * q[l] <= TOL * sum[l]
                };
            }
            let mut all = true;
            for l in 0..LANES {
                if converged[l] && !done[l] {
                    out[l] = finish::<D, EULER>(
                        b,
                        z[l],
                        ln_zc[l],
                        q[l],
                        sum[l],
                        shift[l],
                        [s_a[l], s_b[l], s_z[l]],
                        [[0.0; 3]; 3],
                        &mut unused,
                    );
                    done[l] = true;
                    z[l] = 0.0;
                }
                all &= done[l];
            }
            if all {
                return;
            }
        }
        for l in 0..LANES {
            if !done[l] {
                out[l] = Inc::from_full(&quadrature::<D>(self.a, b, z[l], zc[l]), &mut unused);
            }
        }
    }
}

/// The gradient and Hessian of ln S for a sum S = Σ Tₖ of positive terms, from the sums of Tₖ·∂ln Tₖ
/// (`s1`) and of Tₖ·(∂²ln Tₖ + ∂ln Tₖ ∂ln Tₖᵀ) (`s2`, upper triangle used) over (a, b, z).
fn ln_sum_derivatives(sum: f64, s1: [f64; 3], s2: [[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let g = s1.map(|v| v / sum);
    let mut h = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in i..3 {
            h[i][j] = s2[i][j] / sum - g[i] * g[j];
            h[j][i] = h[i][j];
        }
    }
    (g, h)
}

/// Power series of ₂F₁(a, b; a + 1; z): terms Tₖ = a/(a + k) · (b)ₖ/k! · zᵏ, whose logarithms have
/// ∂_a = 1/a − 1/(a + k), ∂_b = Σ_{j<k} 1/(b + j) (= ψ(b + k) − ψ(b)), ∂_z = k/z,
/// ∂²_a = 1/(a + k)² − 1/a², ∂²_b = −Σ_{j<k} 1/(b + j)², ∂²_z = −k/z² and no mixed terms.
fn inc_direct<const D: u8>(a: f64, b: f64, z: f64, cap: u32) -> Option<LnHyp2f1Inc> {
    let (mut term, mut sum, mut shift) = (1.0, 1.0, 0.0);
    // Σ Tₖ·∂ln Tₖ over (a, b, k) (z's factor 1/z applied at the end), and the second-order sums.
    let mut s1 = [0.0; 3];
    let mut s2 = [[0.0; 3]; 3];
    let inv_a = 1.0 / a;
    // Σ_{j<k} 1/(b + j) and Σ_{j<k} 1/(b + j)².
    let (mut h_b, mut v_b) = (0.0, 0.0);
    // For b ≤ 1 every later term ratio is below z, so the tail factor is fixed.
    let q_fixed = (b <= 1.0).then(|| 1.0 / (1.0 - z));
    for k in 0..cap {
        let k = f64::from(k);
        let k1 = k + 1.0;
        // One division for 1/(a + k + 1), 1/(b + k) and 1/(k + 1).
        let (ak1, bk) = (a + k1, b + k);
        let inv = 1.0 / (ak1 * bk * k1);
        let inv_ak1 = bk * k1 * inv;
        let inv_k1 = ak1 * bk * inv;
        term *= (a + k) * inv_ak1 * (bk * inv_k1) * z;
        sum += term;
        if D >= GRADIENT {
            let inv_bk = ak1 * k1 * inv;
            h_b += inv_bk;
            let d_a = inv_a - inv_ak1;
            s1[0] += term * d_a;
            s1[1] += term * h_b;
            s1[2] += term * k1;
            if D >= HESSIAN {
                v_b += inv_bk * inv_bk;
                s2[0][0] += term * (inv_ak1 * inv_ak1 - inv_a * inv_a + d_a * d_a);
                s2[0][1] += term * d_a * h_b;
                s2[0][2] += term * d_a * k1;
                s2[1][1] += term * (h_b * h_b - v_b);
                s2[1][2] += term * h_b * k1;
                s2[2][2] += term * k1 * k;
            }
        }
        if sum > BIG {
            sum *= RESCALE;
            term *= RESCALE;
            for v in &mut s1 {
                *v *= RESCALE;
            }
            for row in &mut s2 {
                for v in row {
                    *v *= RESCALE;
                }
            }
            shift += LN_BIG;
        }
        let q = match q_fixed {
            Some(q) => q,
            None => {
                let rho = z * ((b + k1) / (k1 + 1.0)).max(1.0);
                if rho >= 1.0 {
                    continue;
                }
                1.0 / (1.0 - rho)
            }
        };
        if term * (k1 + 1.0 + q + h_b) * q <= TOL * sum {
            let mut out = LnHyp2f1Inc {
                value: sum.ln() + shift,
                d_a: 0.0,
                d_b: 0.0,
                d_z: 0.0,
                hessian: [[0.0; 3]; 3],
            };
            if D >= GRADIENT {
                s1[2] /= z;
                for (i, row) in s2.iter_mut().enumerate() {
                    row[2] /= z;
                    if i == 2 {
                        row[2] /= z;
                    }
                }
                let (g, h) = ln_sum_derivatives(sum, s1, s2);
                [out.d_a, out.d_b, out.d_z] = g;
                if D >= HESSIAN {
                    out.hessian = h;
                }
            }
            return Some(out);
        }
    }
    None
}

/// Euler's form (1 − z)^(1 − b) Σₖ (a + 1 − b)ₖ/(a + 1)ₖ zᵏ, for b ≥ 1 and c = a + 1 − b > 0 (terms
/// positive and non-increasing). With ∂c/∂a = 1 and ∂c/∂b = −1, the logarithm of a term has
/// ∂_a = Σ_{j<k} [1/(c + j) − 1/(a + 1 + j)], ∂_b = −Σ_{j<k} 1/(c + j), ∂_z = k/z,
/// ∂²_a = Σ_{j<k} [1/(a + 1 + j)² − 1/(c + j)²], ∂_a∂_b = −∂²_b = Σ_{j<k} 1/(c + j)², ∂²_z = −k/z².
fn inc_euler<const D: u8>(
    a: f64,
    b: f64,
    z: f64,
    zc: f64,
    ln_zc: f64,
    cap: u32,
) -> Option<LnHyp2f1Inc> {
    let c = a + 1.0 - b;
    let (mut term, mut sum) = (1.0, 1.0);
    let mut s1 = [0.0; 3];
    let mut s2 = [[0.0; 3]; 3];
    // ∂/∂a and ∂/∂b of ln[(c)ₖ/(a + 1)ₖ], and Σ 1/(c + j)², Σ 1/(a + 1 + j)².
    let (mut w_a, mut w_b) = (0.0, 0.0);
    let (mut v_c, mut v_a) = (0.0, 0.0);
    let q = 1.0 / zc;
    for k in 0..cap {
        let k = f64::from(k);
        let k1 = k + 1.0;
        // One division for 1/(c + k) and 1/(a + 1 + k).
        let (ck, ak) = (c + k, a + k1);
        let inv = 1.0 / (ck * ak);
        term *= ck * ck * inv * z;
        sum += term;
        if D >= GRADIENT {
            let (inv_c, inv_a) = (ak * inv, ck * inv);
            w_a += b * inv;
            w_b -= inv_c;
            s1[0] += term * w_a;
            s1[1] += term * w_b;
            s1[2] += term * k1;
            if D >= HESSIAN {
                v_c += inv_c * inv_c;
                v_a += inv_a * inv_a;
                s2[0][0] += term * (v_a - v_c + w_a * w_a);
                s2[0][1] += term * (v_c + w_a * w_b);
                s2[0][2] += term * w_a * k1;
                s2[1][1] += term * (w_b * w_b - v_c);
                s2[1][2] += term * w_b * k1;
                s2[2][2] += term * k1 * k;
            }
        }
        // Later ratios are below z, so the tail is below term·z/(1 − z).
        if term * (k + 2.0 + q - w_b) * q <= TOL * sum {
            let mut out = LnHyp2f1Inc {
                value: (1.0 - b) * ln_zc + sum.ln(),
                d_a: 0.0,
                d_b: 0.0,
                d_z: 0.0,
                hessian: [[0.0; 3]; 3],
            };
            if D >= GRADIENT {
                s1[2] /= z;
                for (i, row) in s2.iter_mut().enumerate() {
                    row[2] /= z;
                    if i == 2 {
                        row[2] /= z;
                    }
                }
                let (g, mut h) = ln_sum_derivatives(sum, s1, s2);
                // The factor (1 − z)^(1 − b).
                out.d_a = g[0];
                out.d_b = -ln_zc + g[1];
                out.d_z = (b - 1.0) * q + g[2];
                if D >= HESSIAN {
                    h[1][2] += q;
                    h[2][1] += q;
                    h[2][2] += (b - 1.0) * q * q;
                    out.hessian = h;
                }
            }
            return Some(out);
        }
    }
    None
}

/// The quadrature's Hessian in (a, b, z): central differences of its analytic gradient, with steps
/// of 2·10⁻⁴ and 10⁻⁴ relative to a, b and 1 − z (the scale on which it varies near z = 1), combined
/// by Richardson extrapolation (error O(h⁴), about 10⁻¹⁰ relative). Used only where the series would
/// be too long (1 − z ≲ 0.01 with small b).
fn inc_quadrature_hessian(a: f64, b: f64, z: f64, zc: f64) -> LnHyp2f1Inc {
    const H: f64 = 2e-4;
    let mut out = inc_quadrature::<GRADIENT>(a, b, z, zc);
    let grad = |a: f64, b: f64, zc: f64| {
        let g = inc_quadrature::<GRADIENT>(a, b, 1.0 - zc, zc);
        [g.d_a, g.d_b, g.d_z]
    };
    // Column j: ∂(gradient)/∂(a, b, z)ⱼ by a central difference with step `h` along it; z moves
    // through 1 − z, which the quadrature uses.
    let column = |j: usize, h: f64| {
        let (up, down) = match j {
            0 => (grad(a + h, b, zc), grad(a - h, b, zc)),
            1 => (grad(a, b + h, zc), grad(a, b - h, zc)),
            _ => (grad(a, b, zc - h), grad(a, b, zc + h)),
        };
        std::array::from_fn::<f64, 3, _>(|i| (up[i] - down[i]) / (2.0 * h))
    };
    let mut h = [[0.0; 3]; 3];
    for (j, scale) in [a, b, zc.min(0.5 * z)].into_iter().enumerate() {
        let step = H * scale;
        let (full, half) = (column(j, step), column(j, 0.5 * step));
        for i in 0..3 {
            h[i][j] = (4.0 * half[i] - full[i]) / 3.0;
        }
    }
    for i in 0..3 {
        for j in 0..i {
            let m = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = m;
            h[j][i] = m;
        }
    }
    out.hessian = h;
    out
}

/// 16-point Gauss–Legendre nodes (positive half) and weights on [−1, 1].
const GAUSS_LEGENDRE_16: [(f64, f64); 8] = [
    (0.9894009349916499, 0.027152459411754096),
    (0.9445750230732326, 0.062253523938647894),
    (0.8656312023878318, 0.09515851168249279),
    (0.755404408355003, 0.12462897125553388),
    (0.6178762444026438, 0.14959598881657674),
    (0.45801677765722737, 0.16915651939500254),
    (0.2816035507792589, 0.18260341504492358),
    (0.09501250983763744, 0.1894506104550685),
];

/// Upper bound on the number of quadrature panels (never reached in practice; guarantees an end).
const MAX_PANELS: u32 = 4000;

/// ₂F₁(a, b; a + 1; z) = a z⁻ᵇ [P + R] with ε = (1 − z)/z,
/// P = ∫₀^½ (1 − v)ᵃ⁻¹ (ε + v)⁻ᵇ dv (Gauss–Legendre in σ, v = ε(e^σ − 1)) and
/// R = ∫_½¹ (1 − v)ᵃ⁻¹ (ε + v)⁻ᵇ dv = Σₖ (b)ₖ/k! (1 + ε)^(−b−k) 2^(−a−k)/(a + k).
fn inc_quadrature<const D: u8>(a: f64, b: f64, z: f64, zc: f64) -> LnHyp2f1Inc {
    let eps = zc / z;
    let ln_z = (-zc).ln_1p();
    let ln_eps = zc.ln() - ln_z;

    // --- P: in σ, dv = (ε + v) dσ and the integrand is ε^(1−b) exp(φ(σ)),
    // φ(σ) = (a − 1) ln(1 − v) + (1 − b) σ.
    let sigma_half = (0.5 / eps).ln_1p();
    let mut sigma_end = sigma_half;
    if b > 1.0 {
        sigma_end = sigma_end.min(75.0 / (b - 1.0));
    }
    if a > 1.0 {
        let v_cut = (75.0 + (1.0 - b).max(0.0) * sigma_half) / (a - 1.0);
        if v_cut < 0.5 {
            sigma_end = sigma_end.min((v_cut / eps).ln_1p());
        }
    }
    let slope = |sigma: f64| {
        let v = eps * sigma.exp_m1();
        (1.0 - b) - (a - 1.0) * (eps + v) / (1.0 - v)
    };
    let (mut p, mut p_a, mut p_b, mut p_e) = (0.0, 0.0, 0.0, 0.0);
    let mut phi_max = f64::NEG_INFINITY;
    let mut lo = 0.0;
    let mut panels = 0;
    while lo < sigma_end && panels < MAX_PANELS {
        panels += 1;
        let d_lo = slope(lo).abs();
        let mut h = (sigma_end - lo).min(1.0);
        for _ in 0..6 {
            let m = d_lo.max(slope(lo + h).abs());
            if h * m <= 2.0 {
                break;
            }
            h = 2.0 / m;
        }
        let mid = lo + 0.5 * h;
        let half = 0.5 * h;
        let mut phi_hi = f64::NEG_INFINITY;
        for &(x, w) in &GAUSS_LEGENDRE_16 {
            for sigma in [mid - half * x, mid + half * x] {
                let v = eps * sigma.exp_m1();
                let l1 = (-v).ln_1p();
                let phi = (a - 1.0) * l1 + (1.0 - b) * sigma;
                phi_max = phi_max.max(phi);
                phi_hi = phi;
                let g = w * half * phi.exp();
                p += g;
                if D >= GRADIENT {
                    p_a += g * l1;
                    p_b -= g * (ln_eps + sigma);
                    p_e -= g * b / (eps + v);
                }
            }
        }
        lo += h;
        // For a ≥ 1, φ is concave: once falling and far below its maximum, the rest is negligible.
        if a >= 1.0 && phi_hi < phi_max - 75.0 && slope(lo) < 0.0 {
            break;
        }
    }
    let ln_p = (1.0 - b) * ln_eps + p.ln();

    // --- R: binomial series in u = 1 − v ∈ [0, ½].
    let ln_r0 = -b * eps.ln_1p() - a * std::f64::consts::LN_2 - a.ln();
    let (mut term, mut sum, mut shift) = (1.0, 1.0, 0.0);
    let ln1p_eps = eps.ln_1p();
    let (mut r_a, mut r_b, mut r_e) = (
        -(std::f64::consts::LN_2 + 1.0 / a),
        -ln1p_eps,
        -b / (1.0 + eps),
    );
    let mut h_b = 0.0;
    let mut k = 0.0;
    while k < 1e7 {
        let k1 = k + 1.0;
        term *= (b + k) / k1 * ((a + k) / (a + k1)) / (2.0 * (1.0 + eps));
        sum += term;
        if D >= GRADIENT {
            h_b += 1.0 / (b + k);
            r_a -= term * (std::f64::consts::LN_2 + 1.0 / (a + k1));
            r_b += term * (h_b - ln1p_eps);
            r_e -= term * (b + k1) / (1.0 + eps);
        }
        if sum > BIG {
            (sum, term, r_a, r_b, r_e) = (
                sum * RESCALE,
                term * RESCALE,
                r_a * RESCALE,
                r_b * RESCALE,
                r_e * RESCALE,
            );
            shift += LN_BIG;
        }
        let rho = ((b + k1) / (k1 + 1.0)).max(1.0) / (2.0 * (1.0 + eps));
        if rho < 1.0 {
            let q = 1.0 / (1.0 - rho);
            if term * (k1 + 1.0 + b + q + h_b) * q <= TOL * sum {
                break;
            }
        }
        k = k1;
    }
    let ln_r = ln_r0 + sum.ln() + shift;

    let m = ln_p.max(ln_r);
    let (w_p, w_r) = ((ln_p - m).exp(), (ln_r - m).exp());
    let total = w_p + w_r;
    let value = a.ln() - b * ln_z + m + total.ln();
    if D < GRADIENT {
        return LnHyp2f1Inc {
            value,
            d_a: f64::NAN,
            d_b: f64::NAN,
            d_z: f64::NAN,
            hessian: [[f64::NAN; 3]; 3],
        };
    }
    let (w_p, w_r) = (w_p / total, w_r / total);
    let d_a = 1.0 / a + w_p * p_a / p + w_r * r_a / sum;
    let d_b = -ln_z + w_p * p_b / p + w_r * r_b / sum;
    let d_eps = w_p * p_e / p + w_r * r_e / sum;
    let d_z = -b / z - d_eps / (z * z);
    LnHyp2f1Inc {
        value,
        d_a,
        d_b,
        d_z,
        hessian: [[0.0; 3]; 3],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
    }

    /// (x, ψ₁(x)) from mpmath 1.3.0 at 40 digits: `mp.psi(1, x)`.
    const TRIGAMMA_MPMATH: [(f64, f64); 8] = [
        (0.001, 1000001.6425331959),
        (0.5, 4.934802200544679),
        (1.0, 1.6449340668482264),
        (3.7, 0.31003785767003833),
        (11.99, 0.08697741048698757),
        (12.0, 0.08690187287176838),
        (100.0, 0.010050166663333571),
        (10000.5, 9.999999991666667e-05),
    ];

    #[test]
    fn trigamma_matches_mpmath() {
        for &(x, want) in &TRIGAMMA_MPMATH {
            let got = trigamma(x);
            assert!(
                rel(got, want) < 4e-16,
                "trigamma({x}) = {got}, mpmath {want}"
            );
        }
        assert!(trigamma(0.0).is_nan() && trigamma(-1.0).is_nan() && trigamma(f64::NAN).is_nan());
        assert_eq!(trigamma(f64::INFINITY), 0.0);
    }

    #[test]
    fn ln_beta_matches_gamma() {
        assert!(rel(ln_beta(2.0, 3.0), (1.0f64 / 12.0).ln()) < 1e-14);
    }

    /// (a, b, c, z, ln ₂F₁(a, b; c; z)) from mpmath 1.4.1 at 40 digits (unchanged at 100 digits; below
    /// ~80 digits mpmath's own `hyp2f1` can be wrong for large b, so always check at two precisions):
    ///
    /// ```python
    /// import mpmath as mp; mp.mp.dps = 40
    /// mp.log(mp.hyp2f1(a, b, c, z, maxterms=10**6))
    /// ```
    ///
    /// (a, b, c, z) are the f64 values in the table (so 1 - 1e-9 is the f64 nearest to it).
    const LN_HYP2F1_MPMATH: [(f64, f64, f64, f64, f64); 14] = [
        (1.0, 1.0, 2.0, 0.5, 0.326634259978281),
        (3.159, 2.553, 4.159, 0.3, 0.6825170467926707),
        (1.5, 2.5, 3.7, 0.99, 3.2356542807314224),
        (0.5, 0.3, 1.5, 0.999, 0.22141960689984386),
        (1000.0, 1000.0, 10000.0, 0.999, 111.22208380368043),
        (10000.0, 1.606, 10001.0, 0.999, 10.955541512574213),
        (10000.0, 10000.0, 10001.0, 0.5, 6930.7787084176425),
        (1000.0, 2.5, 1001.0, 0.9999, 20.191404241838143),
        (0.6, 0.4, 1.6, 1.0 - 1e-9, 0.37101343590211106),
        (2.0, 3.0, 7.5, 0.999, 1.4035304632192365),
        (50.5, 0.3, 2.0, 0.9, 104.83100968943268),
        (10000.0, 0.3, 10001.0, 0.99, 1.3786144149111839),
        (0.7, 10000.0, 2.5, 0.2, 2217.3765141604804),
        (20.0, 30.0, 40.0, 0.99, 54.67303184695024),
    ];

    #[test]
    fn ln_hyp2f1_matches_mpmath() {
        for &(a, b, c, z, want) in &LN_HYP2F1_MPMATH {
            let got = ln_hyp2f1(a, b, c, z);
            assert!(
                rel(got, want) < 1e-12,
                "ln 2F1({a}, {b}; {c}; {z}) = {got}, mpmath {want}"
            );
            // Both argument orders of the symmetric function.
            assert!(
                rel(ln_hyp2f1(b, a, c, z), want) < 1e-12,
                "ln 2F1({b}, {a}; {c}; {z})"
            );
            if want < 700.0 {
                assert!(
                    rel(hyp2f1(a, b, c, z), want.exp()) < 1e-12 * want.max(1.0),
                    "2F1({a}, {b}; {c}; {z})"
                );
            }
        }
    }

    #[test]
    fn hyp2f1_domain_and_fallback() {
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
        assert!(hyp2f1(1.0, 1.0, 2.0, -0.1).is_nan());
        assert!(ln_hyp2f1(-1.0, 1.0, 2.0, 0.5).is_nan());
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 0.0), 1.0);
        // A terminating series (a = −2) still goes through the plain sum: ₂F₁(−2, 1; 3; z) = 1 − 2z/3 + z²/6.
        let z = 0.3;
        assert!(rel(hyp2f1(-2.0, 1.0, 3.0, z), 1.0 - 2.0 / 3.0 * z + z * z / 6.0) < 1e-14);
    }

    /// (a, b, z, ln ₂F₁(a, b; a + 1; z), ∂/∂a, ∂/∂b, ∂/∂z) from mpmath 1.4.1 at 40 digits (unchanged at
    /// 100 digits):
    ///
    /// ```python
    /// import mpmath as mp; mp.mp.dps = 40
    /// f = lambda A, B, Z: mp.log(mp.hyp2f1(A, B, A + 1, Z, maxterms=10**6))
    /// h = mp.mpf(10)**-12
    /// v = f(a, b, z)
    /// d_a = (f(a + h, b, z) - f(a - h, b, z)) / (2 * h)
    /// d_b = (f(a, b + h, z) - f(a, b - h, z)) / (2 * h)
    /// d_z = a * b / (a + 1) * mp.exp(mp.log(mp.hyp2f1(a + 1, b + 1, a + 2, z, maxterms=10**6)) - v)
    /// ```
    ///
    /// Rows cover the power series, Euler's form and the quadrature (z within 10⁻⁸ of 1).
    const INC_MPMATH: [(f64, f64, f64, f64, f64, f64, f64); 13] = [
        (
            1.2,
            0.5,
            0.3,
            0.09307894853500391,
            0.03594315833729518,
            0.18864300674049284,
            0.35599424783409317,
        ),
        (
            1.2,
            0.5,
            0.999,
            0.7303724772409588,
            0.3185454685135096,
            1.9255134349940748,
            17.097447568091148,
        ),
        (
            0.8,
            0.4,
            1.0 - 1e-8,
            0.4467493892472501,
            0.34636377253465817,
            1.478983121651547,
            810.2902781515502,
        ),
        (
            50.5,
            1.6,
            0.01,
            0.01576682725194138,
            6.089427000037918e-6,
            0.009854296601788031,
            1.584484595414311,
        ),
        (
            50.5,
            1.6,
            0.999999,
            12.716408463738025,
            0.01973400475773091,
            12.19209271559812,
            603377.9566830249,
        ),
        (
            10000.0,
            1.6,
            0.9999,
            13.97312093670981,
            4.542095580552296e-5,
            8.831970887880933,
            11457.240665080772,
        ),
        (
            10000.0,
            9999.6,
            0.9999,
            92090.50938323796,
            9.998999759966402e-5,
            9.210240367978134,
            99986000.00015105,
        ),
        (
            10000.0,
            30.0,
            0.999999,
            406.4924946830743,
            9.996429937018957e-5,
            13.78104054809044,
            29000355.97013274,
        ),
        (
            3.0,
            2.5,
            0.95,
            5.094651683701152,
            0.27984217651081106,
            2.4723671007444485,
            31.467403688038733,
        ),
        (
            0.3,
            0.25,
            0.9995,
            0.12092445564301718,
            0.3255924390173331,
            0.5781215932919739,
            1.4784533789623469,
        ),
        (
            600.0,
            1.6,
            0.995,
            8.112335230032925,
            0.0004504739323383561,
            5.0987226140485875,
            265.61274926516046,
        ),
        (
            2.0,
            5.0,
            1.0 - 1e-7,
            63.77923549204542,
            0.4999999666666639,
            15.868095662595788,
            39999999.354387544,
        ),
        (
            10000.0,
            0.5,
            0.9,
            1.1508430964610075,
            4.489013537059082e-8,
            2.3016863944949666,
            4.995011709072204,
        ),
    ];

    #[test]
    fn inc_value_and_gradient_match_mpmath() {
        for &(a, b, z, v, d_a, d_b, d_z) in &INC_MPMATH {
            let g = ln_hyp2f1_inc_grad::<GRADIENT>(a, b, z, 1.0 - z);
            let ctx = format!("a={a} b={b} z={z}: {g:?}");
            assert!(rel(g.value, v) < 1e-12, "value {ctx}");
            assert!(rel(ln_hyp2f1_inc(a, b, z), v) < 1e-12, "value-only {ctx}");
            assert!(rel(g.d_a, d_a) < 1e-9, "d_a {ctx} want {d_a}");
            assert!(rel(g.d_b, d_b) < 1e-10, "d_b {ctx} want {d_b}");
            assert!(rel(g.d_z, d_z) < 1e-10, "d_z {ctx} want {d_z}");
        }
    }

    /// (a, b, z, second partial derivatives of ln ₂F₁(a, b; a + 1; z) in (a, b, z): aa, ab, az, bb, bz,
    /// zz) from mpmath 1.3.0 at 40 digits (unchanged at 100), differentiating in 1 − z as the code does:
    ///
    /// ```python
    /// import mpmath as mp; mp.mp.dps = 40
    /// f = lambda A, B, ZC: mp.log(mp.hyp2f1(A, B, A + 1, 1 - ZC, maxterms=10**7))
    /// zc = 1 - mp.mpf(z)   # z as the f64 value
    /// (-1)**((i == 2) + (j == 2)) * mp.diff(f, [a, b, zc], order)   # order: (2,0,0), (1,1,0), ...
    /// ```
    ///
    /// Rows: the power series (b < 1), Euler's form (b ≥ 1), and the quadrature (the last two), whose
    /// second derivatives are differences of its gradient.
    const INC_HESSIAN_MPMATH: [(f64, f64, f64, [f64; 6]); 6] = [
        (
            1.2,
            0.5,
            0.3,
            [
                -0.03148227979982389,
                0.07106161048840058,
                0.1400936822288298,
                0.009928510362980647,
                0.731946151887951,
                0.37406807413099286,
            ],
        ),
        (
            3.0,
            2.5,
            0.95,
            [
                -0.10342344169125252,
                0.03571770012196486,
                0.7995156891245658,
                0.2170366219221535,
                18.1216752937197,
                608.5730950599889,
            ],
        ),
        (
            50.5,
            1.6,
            0.01,
            [
                -2.3640596341499734e-07,
                3.8047664793158116e-06,
                0.000614677628993661,
                3.695450949257084e-08,
                0.9903088423271619,
                1.5706869838632838,
            ],
        ),
        (
            10000.0,
            0.5,
            0.9,
            [
                -8.967078974993478e-12,
                8.974004841293862e-08,
                4.976622599689863e-07,
                8.06051220111386e-07,
                9.990027888184667,
                49.90035831480554,
            ],
        ),
        (
            0.8,
            0.4,
            0.99999999,
            [
                -0.288376267516307,
                1.0251431438986898,
                731.9305590799106,
                2.606169933428876,
                13741.246232891428,
                32442952934.503292,
            ],
        ),
        (
            0.3,
            0.25,
            0.9995,
            [
                -0.3961176085009525,
                1.5044114518081066,
                4.349078093242021,
                0.9259349651822559,
                12.490742305396807,
                885.1929517381805,
            ],
        ),
    ];

    #[test]
    fn inc_hessian_matches_mpmath() {
        for (row, &(a, b, z, want)) in INC_HESSIAN_MPMATH.iter().enumerate() {
            let g = ln_hyp2f1_inc_grad::<HESSIAN>(a, b, z, 1.0 - z);
            let quadrature = row >= 4;
            let h = g.hessian;
            let got = [h[0][0], h[0][1], h[0][2], h[1][1], h[1][2], h[2][2]];
            for (k, (&got, &want)) in got.iter().zip(&want).enumerate() {
                // ∂²/∂b² of the (10⁴, ½, 0.9) row is 8·10⁻⁷ from terms near (∂/∂b)² ≈ 5: 5·10⁻⁹.
                let tol = if quadrature { 1e-7 } else { 1e-8 };
                assert!(
                    rel(got, want) < tol,
                    "entry {k} a={a} b={b} z={z}: {got} vs {want}"
                );
            }
            // The value and gradient are those of the gradient-only evaluation.
            let g1 = ln_hyp2f1_inc_grad::<GRADIENT>(a, b, z, 1.0 - z);
            assert_eq!(
                (g.value, g.d_a, g.d_b, g.d_z),
                (g1.value, g1.d_a, g1.d_b, g1.d_z)
            );
            assert_eq!(h[1][0], h[0][1]);
            assert_eq!(h[2][0], h[0][2]);
            assert_eq!(h[2][1], h[1][2]);
        }
    }

    #[test]
    fn tabulated_series_give_the_bits_of_the_direct_evaluation() {
        // Many z per (a, b), as the Pareto/NBD customers of one frequency, in every derivative order
        // and in an order that makes the table grow and switch to second derivatives midway.
        let zs = [
            0.0,
            1e-9,
            0.01,
            0.3,
            0.62,
            0.9,
            0.97,
            0.995,
            0.9995,
            1.0 - 1e-8,
        ];
        for &(a, b) in &[
            (1.2, 0.5),
            (0.3, 0.25),
            (3.0, 2.5),
            (50.5, 1.6),
            (10000.0, 0.5),
            (2.0, 5.0),
            (1.6, 1.0),
        ] {
            let mut table = IncSeries::new(a, b);
            for order in [VALUE, GRADIENT, HESSIAN, GRADIENT, VALUE] {
                for &z in &zs {
                    let (zc, mut h) = (1.0 - z, [[0.0; 3]; 3]);
                    let (got, want) = match order {
                        VALUE => (
                            table.eval::<VALUE>(z, zc, zc.ln(), &mut h),
                            inc::<VALUE>(a, b, z, zc, zc.ln()),
                        ),
                        GRADIENT => (
                            table.eval::<GRADIENT>(z, zc, zc.ln(), &mut h),
                            inc::<GRADIENT>(a, b, z, zc, zc.ln()),
                        ),
                        _ => (
                            table.eval::<HESSIAN>(z, zc, zc.ln(), &mut h),
                            inc::<HESSIAN>(a, b, z, zc, zc.ln()),
                        ),
                    };
                    let ctx = format!("a={a} b={b} z={z} order {order}: {got:?} {h:?} vs {want:?}");
                    assert_eq!(got.value().to_bits(), want.value.to_bits(), "{ctx}");
                    if order >= GRADIENT {
                        let bits = |v: [f64; 3]| v.map(f64::to_bits);
                        assert_eq!(
                            bits([got.d_a, got.d_b, got.d_z]),
                            bits([want.d_a, want.d_b, want.d_z]),
                            "{ctx}"
                        );
                    }
                    if order == HESSIAN {
                        let bits = |m: [[f64; 3]; 3]| m.map(|r| r.map(f64::to_bits));
                        assert_eq!(bits(h), bits(want.hessian), "{ctx}");
                    }
                }
            }
        }
    }

    #[test]
    fn inc_methods_agree_where_they_meet() {
        // Force each method on the same arguments and compare (the dispatcher picks one of them).
        for &(a, b, z) in &[
            (1.2, 0.5, 0.95),
            (5.0, 1.6, 0.97),
            (300.0, 2.5, 0.98),
            (0.7, 0.3, 0.985),
            (40.0, 12.0, 0.99),
        ] {
            let zc = 1.0 - z;
            let quad = inc_quadrature::<GRADIENT>(a, b, z, zc);
            let series = if b >= 1.0 {
                inc_euler::<GRADIENT>(a, b, z, zc, zc.ln(), 1_000_000)
            } else {
                inc_direct::<GRADIENT>(a, b, z, 1_000_000)
            };
            let series = series.expect("converges");
            let ctx = format!("a={a} b={b} z={z}: {quad:?} vs {series:?}");
            assert!(rel(quad.value, series.value) < 1e-13, "{ctx}");
            assert!(rel(quad.d_a, series.d_a) < 1e-10, "{ctx}");
            assert!(rel(quad.d_b, series.d_b) < 1e-11, "{ctx}");
            assert!(rel(quad.d_z, series.d_z) < 1e-11, "{ctx}");
            let direct = inc_direct::<GRADIENT>(a, b, z, 1_000_000).expect("converges");
            assert!(rel(direct.value, series.value) < 1e-13, "{ctx}");
        }
    }

    #[test]
    fn inc_at_zero_and_outside() {
        let g = ln_hyp2f1_inc_grad::<GRADIENT>(2.0, 3.0, 0.0, 1.0);
        assert_eq!((g.value, g.d_a, g.d_b), (0.0, 0.0, 0.0));
        assert!(rel(g.d_z, 2.0 * 3.0 / 3.0) < 1e-15);
        assert!(ln_hyp2f1_inc(2.0, 3.0, 1.0).is_nan());
        assert!(ln_hyp2f1_inc(0.0, 3.0, 0.5).is_nan());
        assert!(ln_hyp2f1_inc(2.0, f64::NAN, 0.5).is_nan());
    }
}
