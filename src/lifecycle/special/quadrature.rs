//! ₂F₁(a, b; a + 1; z) by quadrature of Euler's integral, for z so close to 1 that both series
//! would be too long.

use super::inc::{GRADIENT, LnHyp2f1Inc};
use super::{BIG, LN_BIG, RESCALE, TOL};

/// The quadrature's Hessian in (a, b, z): central differences of its analytic gradient, with steps
/// of 2·10⁻⁴ and 10⁻⁴ relative to a, b and 1 − z (the scale on which it varies near z = 1), combined
/// by Richardson extrapolation (error O(h⁴), about 10⁻¹⁰ relative). Used only where the series would
/// be too long (1 − z ≲ 0.01 with small b).
pub(super) fn inc_quadrature_hessian(a: f64, b: f64, z: f64, zc: f64) -> LnHyp2f1Inc {
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
    for (i, j) in [(1, 0), (2, 0), (2, 1)] {
        let m = 0.5 * (h[i][j] + h[j][i]);
        h[i][j] = m;
        h[j][i] = m;
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
pub(super) fn inc_quadrature<const D: u8>(a: f64, b: f64, z: f64, zc: f64) -> LnHyp2f1Inc {
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
