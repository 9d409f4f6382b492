//! The series of ₂F₁(a, b; a + 1; z) tabulated per (a, b) and evaluated for many z, several at a time
//! in vector lanes.

use super::inc::{
    GRADIENT, HESSIAN, Inc, Method, SERIES_CAP, ln_sum_derivatives, method, quadrature, rescale,
};
use super::{BIG, LN_BIG, RESCALE, TOL};

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
                rescale(&mut term, &mut sum, &mut s1, &mut s2, &mut shift);
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
                let sums = Sums { sum, shift, s1, s2 };
                return Some(finish::<D, EULER>(b, [z, ln_zc, q], sums, hessian));
            }
        }
        None
    }
}

/// The sums of a converged series: of the terms (`sum`, with the logarithm `shift` of its
/// rescaling), of terms × ∂ln Tₖ (`s1`, over a, b and k) and of terms × second-order factors (`s2`).
struct Sums {
    sum: f64,
    shift: f64,
    s1: [f64; 3],
    s2: [[f64; 3]; 3],
}

/// The result of a converged series (Euler's form if `EULER`) at z (with ln(1 − z) and the tail
/// factor `q`) from its sums; the Hessian goes to `hessian`.
#[inline(always)]
fn finish<const D: u8, const EULER: bool>(
    b: f64,
    [z, ln_zc, q]: [f64; 3],
    sums: Sums,
    hessian: &mut [[f64; 3]; 3],
) -> Inc {
    let Sums { sum, shift, s1, s2 } = sums;
    let mut out = Inc {
        log_part: if EULER { (1.0 - b) * ln_zc } else { shift },
        sum,
        d_a: 0.0,
        d_b: 0.0,
        d_z: 0.0,
    };
    if D >= GRADIENT {
        let (g, mut h) = ln_sum_derivatives(sum, s1, s2, z);
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
                    let sums = Sums {
                        sum: sum[l],
                        shift: shift[l],
                        s1: [s_a[l], s_b[l], s_z[l]],
                        s2: [[0.0; 3]; 3],
                    };
                    out[l] = finish::<D, EULER>(b, [z[l], ln_zc[l], q[l]], sums, &mut unused);
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
