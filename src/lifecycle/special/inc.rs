//! ln ₂F₁(a, b; a + 1; z) with its first and second derivatives: the choice among the power series,
//! Euler's form and the quadrature, and the two series evaluated for one z.

use super::quadrature::{inc_quadrature, inc_quadrature_hessian};
use super::{BIG, LN_BIG, MAX_SERIES_TERMS, RESCALE, TOL};

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

    pub(super) fn from_full(v: &LnHyp2f1Inc, hessian: &mut [[f64; 3]; 3]) -> Self {
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
pub(super) enum Method {
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
pub(super) const SERIES_CAP: u32 = 4 * MAX_SERIES_TERMS as u32 + 1000;

/// Chooses the evaluation of ₂F₁(a, b; a + 1; z) (derivatives up to order `D` for the early results).
pub(super) fn method<const D: u8>(a: f64, b: f64, z: f64, zc: f64) -> Method {
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
pub(super) fn quadrature<const D: u8>(a: f64, b: f64, z: f64, zc: f64) -> LnHyp2f1Inc {
    if D >= HESSIAN {
        inc_quadrature_hessian(a, b, z, zc)
    } else {
        inc_quadrature::<D>(a, b, z, zc)
    }
}

/// Dispatch for the c = a + 1 family, derivatives up to order `D`.
pub(super) fn inc<const D: u8>(a: f64, b: f64, z: f64, zc: f64, ln_zc: f64) -> LnHyp2f1Inc {
    let series = match method::<D>(a, b, z, zc) {
        Method::Done(v) => return v,
        Method::Euler => inc_euler::<D>(a, b, z, zc, ln_zc, SERIES_CAP),
        Method::Direct => inc_direct::<D>(a, b, z, SERIES_CAP),
        Method::Quadrature => None,
    };
    series.unwrap_or_else(|| quadrature::<D>(a, b, z, zc))
}

/// The gradient and Hessian of ln S for a sum S = Σ Tₖ of positive terms, from the sums of Tₖ·∂ln Tₖ
/// (`s1`) and of Tₖ·(∂²ln Tₖ + ∂ln Tₖ ∂ln Tₖᵀ) (`s2`, upper triangle used) over (a, b, k): the
/// series carry k where ∂/∂z ln zᵏ = k/z, so the third column is divided by z here (by z² for
/// the (z, z) entry).
pub(super) fn ln_sum_derivatives(
    sum: f64,
    mut s1: [f64; 3],
    mut s2: [[f64; 3]; 3],
    z: f64,
) -> ([f64; 3], [[f64; 3]; 3]) {
    s1[2] /= z;
    for (i, row) in s2.iter_mut().enumerate() {
        row[2] /= z;
        if i == 2 {
            row[2] /= z;
        }
    }
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
pub(super) fn inc_direct<const D: u8>(a: f64, b: f64, z: f64, cap: u32) -> Option<LnHyp2f1Inc> {
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
            rescale(&mut term, &mut sum, &mut s1, &mut s2, &mut shift);
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
                let (g, h) = ln_sum_derivatives(sum, s1, s2, z);
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
pub(super) fn inc_euler<const D: u8>(
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
                let (g, mut h) = ln_sum_derivatives(sum, s1, s2, z);
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

/// Scales a power series' running sums down by [`RESCALE`] when they grow past [`BIG`] (so terms
/// near a peak of 10³⁰⁰ and more do not overflow), adding the logarithm of the factor to `shift`.
#[inline(always)]
pub(super) fn rescale(
    term: &mut f64,
    sum: &mut f64,
    s1: &mut [f64; 3],
    s2: &mut [[f64; 3]; 3],
    shift: &mut f64,
) {
    *sum *= RESCALE;
    *term *= RESCALE;
    for v in s1 {
        *v *= RESCALE;
    }
    for row in s2 {
        for v in row {
            *v *= RESCALE;
        }
    }
    *shift += LN_BIG;
}
