//! Maximum-likelihood fitting: L-BFGS over log-parameters with analytic
//! gradients, a strong-Wolfe line search, restarts, and standard errors.
//!
//! The BTYD models have a handful of positive parameters. They are optimised
//! as `φ = ln θ`, so every trial point is valid, with the objective lifetimes
//! uses: the weighted mean negative log-likelihood plus an optional L2 penalty
//! `penalizer · Σ θ²`. Standard errors come from the observed information,
//! the Hessian of the total negative log-likelihood, obtained by central
//! differences of the analytic gradient in θ and inverted by Cholesky
//! decomposition.
//!
//! Near the optimum a step can promise a decrease smaller than the rounding
//! noise of a sum over many customers; such steps are judged by their slopes,
//! with Hager & Zhang's approximate Wolfe conditions, instead of being bisected
//! towards a zero step.
//!
//! References: Nocedal & Wright (2006), *Numerical Optimization*, 2nd ed.,
//! algorithm 7.4 (L-BFGS two-loop recursion) and algorithms 3.5–3.6
//! (line search with zoom, strong Wolfe conditions); Hager & Zhang (2005),
//! "A new conjugate gradient method with guaranteed descent and an efficient
//! line search", *SIAM J. Optim.* 16(1) (approximate Wolfe conditions).

use serde::{Deserialize, Serialize};

/// How a fit ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Total log-likelihood (sum over customers, weights applied), without the penalty.
    pub log_likelihood: f64,
    /// Iterations of the optimiser that produced the result.
    pub iterations: usize,
    /// Euclidean norm of the objective's gradient in log-parameters at the result.
    pub gradient_norm: f64,
    /// Whether the convergence test was met (otherwise the best point found is returned).
    pub converged: bool,
    /// Which starting point produced the result (0 = the first).
    pub start: usize,
    /// Standard errors of the parameters (natural scale), from the inverse
    /// observed information; `None` when the Hessian is not positive definite.
    pub standard_errors: Option<Vec<f64>>,
    /// Number of customers (sum of weights) the model was fitted on.
    pub n_customers: f64,
}

/// Settings for [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Settings {
    pub(crate) max_iter: usize,
    /// Stop when the gradient norm falls below this.
    pub(crate) gtol: f64,
    /// Stop when the objective changes relatively by less than this over an iteration.
    pub(crate) ftol: f64,
    /// L-BFGS memory.
    pub(crate) memory: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_iter: 500,
            gtol: 1e-9,
            ftol: 1e-13,
            memory: 8,
        }
    }
}

/// Result of [`minimize`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minimum {
    pub(crate) x: Vec<f64>,
    pub(crate) f: f64,
    pub(crate) gradient_norm: f64,
    pub(crate) iterations: usize,
    pub(crate) converged: bool,
    /// The curvature pairs L-BFGS held at the end, to start a related problem with.
    pub(crate) memory: Memory,
}

/// What L-BFGS knows of the objective's curvature: steps `s` and the gradient changes `y` they
/// caused, oldest first, and optionally an inverse Hessian to start the two-loop recursion from (in
/// place of a multiple of the identity).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Memory {
    s: Vec<Vec<f64>>,
    y: Vec<Vec<f64>>,
    inverse_hessian: Option<Vec<Vec<f64>>>,
}

impl Memory {
    /// A memory holding only an inverse Hessian (symmetric positive definite), such as that of the
    /// same objective on a subsample.
    pub(crate) fn from_inverse_hessian(inverse_hessian: Vec<Vec<f64>>) -> Self {
        Memory {
            s: Vec::new(),
            y: Vec::new(),
            inverse_hessian: Some(inverse_hessian),
        }
    }
}

/// An objective: value and gradient at a point.
pub(crate) type Objective<'a> = dyn FnMut(&[f64]) -> (f64, Vec<f64>) + 'a;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Minimises `f` (returning value and gradient) from `x0` with L-BFGS.
///
/// Non-finite values are treated as "too far": the line search backs off.
/// Returns the best point seen, with `converged` telling whether the gradient
/// or objective test was met.
pub(crate) fn minimize(f: &mut Objective<'_>, x0: &[f64], settings: Settings) -> Minimum {
    minimize_from(f, x0, settings, Memory::default())
}

/// [`minimize`] with L-BFGS's curvature pairs taken from `memory`, typically the memory of a fit to a
/// similar objective (the same model on a subsample), so that the first steps are already scaled.
pub(crate) fn minimize_from(
    f: &mut Objective<'_>,
    x0: &[f64],
    settings: Settings,
    memory: Memory,
) -> Minimum {
    let n = x0.len();
    let mut x = x0.to_vec();
    let (mut fx, mut g) = f(&x);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Minimum {
            x,
            f: fx,
            gradient_norm: f64::INFINITY,
            iterations: 0,
            converged: false,
            memory,
        };
    }
    let Memory {
        s: mut s_hist,
        y: mut y_hist,
        inverse_hessian: mut h0,
    } = memory;
    if h0
        .as_ref()
        .is_some_and(|h| h.len() != n || h.iter().any(|row| row.len() != n))
    {
        h0 = None;
    }
    let keep = s_hist.len().min(y_hist.len()).min(settings.memory);
    s_hist.drain(..s_hist.len() - keep);
    y_hist.drain(..y_hist.len() - keep);
    s_hist.retain(|s| s.len() == n);
    y_hist.retain(|y| y.len() == n);
    if s_hist.len() != y_hist.len() {
        s_hist.clear();
        y_hist.clear();
    }
    let mut iterations = 0;
    let mut converged = norm(&g) <= settings.gtol;
    while !converged && iterations < settings.max_iter {
        iterations += 1;
        // Two-loop recursion: d = −H g.
        let mut q = g.clone();
        let m = s_hist.len();
        let mut alpha = vec![0.0; m];
        for i in (0..m).rev() {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            alpha[i] = rho * dot(&s_hist[i], &q);
            for (qj, yj) in q.iter_mut().zip(&y_hist[i]) {
                *qj -= alpha[i] * yj;
            }
        }
        if let Some(h) = &h0 {
            q = h.iter().map(|row| dot(row, &q)).collect();
        } else {
            let gamma = match (s_hist.last(), y_hist.last()) {
                (Some(s), Some(y)) => dot(s, y) / dot(y, y),
                _ => 1.0 / norm(&g).max(1.0),
            };
            for qj in &mut q {
                *qj *= gamma;
            }
        }
        for i in 0..m {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            let beta = rho * dot(&y_hist[i], &q);
            for (qj, sj) in q.iter_mut().zip(&s_hist[i]) {
                *qj += (alpha[i] - beta) * sj;
            }
        }
        let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope >= 0.0 || !slope.is_finite() {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            h0 = None;
            d = g.iter().map(|v| -v / norm(&g).max(1.0)).collect();
            slope = dot(&g, &d);
        }
        let Some((step, f_new, g_new)) = line_search(f, &x, fx, &d, slope) else {
            if s_hist.is_empty() && h0.is_none() {
                break;
            }
            s_hist.clear();
            y_hist.clear();
            h0 = None;
            continue;
        };
        let s: Vec<f64> = d.iter().map(|v| v * step).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        for (xi, si) in x.iter_mut().zip(&s) {
            *xi += si;
        }
        let f_change = (fx - f_new).abs();
        let scale = fx.abs().max(f_new.abs()).max(1.0);
        fx = f_new;
        g = g_new;
        if dot(&s, &y) > 1e-12 * norm(&s) * norm(&y) {
            if s_hist.len() == settings.memory {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        let gn = norm(&g);
        converged = gn <= settings.gtol
            || (f_change <= settings.ftol * scale && gn <= settings.gtol.sqrt());
        if n == 0 {
            break;
        }
    }
    let gradient_norm = norm(&g);
    Minimum {
        x,
        f: fx,
        gradient_norm,
        iterations,
        converged,
        memory: Memory {
            s: s_hist,
            y: y_hist,
            inverse_hessian: h0,
        },
    }
}

const C1: f64 = 1e-4;
const C2: f64 = 0.9;
/// Relative size of the rounding noise assumed in objective values: changes of the objective this
/// small (relative to its size) cannot be seen, so a step predicted to change it by no more is
/// judged by its slope (see [`Wolfe`]).
const NOISE: f64 = 1e-12;

/// The acceptance tests of a step `a` along `d` from a point with value `f0` and slope `slope0 < 0`.
struct Wolfe {
    f0: f64,
    slope0: f64,
    noise: f64,
}

impl Wolfe {
    fn new(f0: f64, slope0: f64) -> Self {
        Wolfe {
            f0,
            slope0,
            noise: NOISE * f0.abs().max(1.0),
        }
    }

    /// Sufficient decrease (Armijo).
    fn decrease(&self, a: f64, fa: f64) -> bool {
        fa <= self.f0 + C1 * a * self.slope0
    }

    /// Strong curvature condition.
    fn curvature(&self, slope_a: f64) -> bool {
        slope_a.abs() <= -C2 * self.slope0
    }

    /// Hager & Zhang's approximate Wolfe conditions (SIAM J. Optim. 16(1), 2005), used only where the
    /// decrease the step promises, |a · slope0|, is below the rounding noise of the objective: there
    /// the values cannot confirm a decrease, but the slopes still can. The value may not rise by more
    /// than the noise, and the slope must have grown from slope0 to within
    /// [0.9 · slope0, −0.8 · slope0].
    fn approximate(&self, a: f64, fa: f64, slope_a: f64) -> bool {
        (a * self.slope0).abs() <= self.noise
            && fa <= self.f0 + self.noise
            && slope_a >= C2 * self.slope0
            && slope_a <= -0.8 * self.slope0
    }
}

/// Strong-Wolfe line search (Nocedal & Wright algorithms 3.5 and 3.6), accepting steps that meet the
/// approximate Wolfe conditions where the objective's values are at their rounding noise.
fn line_search(
    f: &mut Objective<'_>,
    x: &[f64],
    f0: f64,
    d: &[f64],
    slope0: f64,
) -> Option<(f64, f64, Vec<f64>)> {
    let eval = |f: &mut Objective<'_>, a: f64| {
        let xt: Vec<f64> = x.iter().zip(d).map(|(xi, di)| xi + a * di).collect();
        let (ft, gt) = f(&xt);
        let slope = if ft.is_finite() && gt.iter().all(|v| v.is_finite()) {
            dot(&gt, d)
        } else {
            f64::NAN
        };
        (ft, gt, slope)
    };
    let wolfe = Wolfe::new(f0, slope0);
    let mut a_prev = 0.0;
    let mut f_prev = f0;
    let mut a = 1.0;
    for i in 0..40 {
        let (fa, ga, slope_a) = eval(f, a);
        if !fa.is_finite() || !slope_a.is_finite() {
            // Outside the region where the objective is defined: shrink.
            a = a_prev + 0.25 * (a - a_prev);
            continue;
        }
        if wolfe.approximate(a, fa, slope_a) {
            return Some((a, fa, ga));
        }
        if !wolfe.decrease(a, fa) || (i > 0 && fa >= f_prev) {
            return zoom(f, &eval, &wolfe, a_prev, a, f_prev);
        }
        if wolfe.curvature(slope_a) {
            return Some((a, fa, ga));
        }
        if slope_a >= 0.0 {
            return zoom(f, &eval, &wolfe, a, a_prev, fa);
        }
        a_prev = a;
        f_prev = fa;
        a *= 2.0;
    }
    None
}

type Eval<'a> = dyn Fn(&mut Objective<'_>, f64) -> (f64, Vec<f64>, f64) + 'a;

fn zoom(
    f: &mut Objective<'_>,
    eval: &Eval<'_>,
    wolfe: &Wolfe,
    mut lo: f64,
    mut hi: f64,
    mut f_lo: f64,
) -> Option<(f64, f64, Vec<f64>)> {
    let mut best: Option<(f64, f64, Vec<f64>)> = None;
    for _ in 0..40 {
        // Bisection: robust, and the interval shrinks fast enough for a handful of parameters.
        let a = 0.5 * (lo + hi);
        let (fa, ga, slope_a) = eval(f, a);
        if !fa.is_finite() || !slope_a.is_finite() {
            hi = a;
            continue;
        }
        if wolfe.approximate(a, fa, slope_a) {
            return Some((a, fa, ga));
        }
        if fa < wolfe.f0 && best.as_ref().is_none_or(|b| fa < b.1) {
            best = Some((a, fa, ga.clone()));
        }
        if !wolfe.decrease(a, fa) || fa >= f_lo {
            hi = a;
        } else {
            if wolfe.curvature(slope_a) {
                return Some((a, fa, ga));
            }
            if slope_a * (hi - lo) >= 0.0 {
                hi = lo;
            }
            lo = a;
            f_lo = fa;
        }
        if (hi - lo).abs() < 1e-16 {
            break;
        }
    }
    // Accept the best decrease found even without the curvature condition.
    best
}

/// Symmetric positive-definite inverse by Cholesky decomposition; `None` if not positive definite.
#[allow(clippy::needless_range_loop)] // Index notation mirrors the textbook algorithm.
pub(crate) fn spd_inverse(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let v = a[i][i] - sum;
                if v <= 0.0 || !v.is_finite() {
                    return None;
                }
                l[i][j] = v.sqrt();
            } else {
                l[i][j] = (a[i][j] - sum) / l[j][j];
            }
        }
    }
    // Invert L, then A⁻¹ = L⁻ᵀ L⁻¹.
    let mut inv_l = vec![vec![0.0; n]; n];
    for i in 0..n {
        inv_l[i][i] = 1.0 / l[i][i];
        for j in 0..i {
            let sum: f64 = (j..i).map(|k| l[i][k] * inv_l[k][j]).sum();
            inv_l[i][j] = -sum / l[i][i];
        }
    }
    let mut inv = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..n {
            inv[i][j] = (i.max(j)..n).map(|k| inv_l[k][i] * inv_l[k][j]).sum();
        }
    }
    Some(inv)
}

/// Standard errors of θ from the gradient `grad_total(θ)` of the total
/// log-likelihood: the Hessian by central differences of the analytic
/// gradient, negated and inverted.
pub(crate) fn standard_errors(
    theta: &[f64],
    grad_total: &mut dyn FnMut(&[f64]) -> Vec<f64>,
) -> Option<Vec<f64>> {
    let n = theta.len();
    let mut hessian = vec![vec![0.0; n]; n];
    for j in 0..n {
        let h = 1e-5 * theta[j].abs().max(1e-8);
        let mut up = theta.to_vec();
        let mut down = theta.to_vec();
        up[j] += h;
        down[j] -= h;
        if down[j] <= 0.0 {
            return None;
        }
        let (gu, gd) = (grad_total(&up), grad_total(&down));
        for i in 0..n {
            hessian[i][j] = (gu[i] - gd[i]) / (2.0 * h);
        }
    }
    standard_errors_from_hessian(&hessian)
}

/// Standard errors of θ from the Hessian of the total log-likelihood in θ: the square roots of the
/// diagonal of the inverse observed information (−Hessian, symmetrised); `None` when that is not
/// positive definite.
pub(crate) fn standard_errors_from_hessian(hessian: &[Vec<f64>]) -> Option<Vec<f64>> {
    let n = hessian.len();
    let info: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| -0.5 * (hessian[i][j] + hessian[j][i]))
                .collect()
        })
        .collect();
    let cov = spd_inverse(&info)?;
    let se: Vec<f64> = (0..n).map(|i| cov[i][i].sqrt()).collect();
    se.iter().all(|v| v.is_finite()).then_some(se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_rosenbrock() {
        let mut f = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let v = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            (v, g)
        };
        let m = minimize(&mut f, &[-1.2, 1.0], Settings::default());
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    #[test]
    fn minimizes_a_quadratic_exactly() {
        let mut f = |x: &[f64]| {
            let v = 3.0 * (x[0] - 2.0).powi(2) + 0.5 * (x[1] + 1.0).powi(2) + (x[2] - 0.5).powi(2);
            (v, vec![6.0 * (x[0] - 2.0), x[1] + 1.0, 2.0 * (x[2] - 0.5)])
        };
        let m = minimize(&mut f, &[0.0, 0.0, 0.0], Settings::default());
        assert!(m.converged);
        for (got, want) in m.x.iter().zip([2.0, -1.0, 0.5]) {
            assert!((got - want).abs() < 1e-8);
        }
    }

    /// An ill-conditioned quadratic whose values carry rounding-sized noise, as a sum over many
    /// customers does; its gradient is exact.
    fn noisy_quadratic(x: &[f64]) -> (f64, Vec<f64>) {
        let c = [1.0, 30.0, 0.05, 4.0];
        let v: f64 = (0..4).map(|i| c[i] * (x[i] - 0.5).powi(2)).sum();
        // Deterministic noise of a few ulps of 5.
        let bits = x.iter().fold(0u64, |h, v| h.rotate_left(13) ^ v.to_bits());
        let noise = ((bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 61) as f64 - 3.5) * 2e-15;
        let g = (0..4).map(|i| 2.0 * c[i] * (x[i] - 0.5)).collect();
        (5.0 + v + noise, g)
    }

    #[test]
    fn a_step_below_the_noise_is_judged_by_its_slope() {
        // One dimension, 10⁻⁸ from the minimum of 5 + (x − ½)², the exact Newton step: it promises a
        // decrease of 10⁻¹⁶, and the value at the minimum happens to round 4·10⁻¹⁵ higher. The
        // strong-Wolfe search alone would bisect towards a zero step; the slope there is 0.
        let mut calls = 0;
        let mut f = |x: &[f64]| {
            calls += 1;
            let noise = if x[0] == 0.5 { 4e-15 } else { 0.0 };
            (5.0 + (x[0] - 0.5).powi(2) + noise, vec![2.0 * (x[0] - 0.5)])
        };
        let x = [0.5 + 1e-8];
        let (f0, g0) = f(&x);
        let d = [-1e-8];
        let step = line_search(&mut f, &x, f0, &d, g0[0] * d[0]);
        let (a, fa, _) = step.expect("step accepted");
        assert_eq!((a, fa), (1.0, 5.0 + 4e-15));
        assert_eq!(calls, 2);
    }

    #[test]
    fn converges_where_values_are_at_their_rounding_noise() {
        let mut calls = 0;
        let mut f = |x: &[f64]| {
            calls += 1;
            noisy_quadratic(x)
        };
        let m = minimize(&mut f, &[2.0, -1.0, 3.0, 0.0], Settings::default());
        assert!(m.converged, "{m:?}");
        // Converged by the objective test (no change above 1e-13 with a gradient below √gtol).
        assert!(m.x.iter().all(|v| (v - 0.5).abs() < 1e-4), "{m:?}");
        assert!(calls < 40, "{calls} evaluations: {m:?}");
    }

    #[test]
    fn curvature_memory_carries_over_to_a_related_problem() {
        let settings = Settings::default();
        let first = minimize(&mut noisy_quadratic, &[2.0, -1.0, 3.0, 0.0], settings);
        assert!(first.converged);
        // From another start, with and without the memory of the first fit.
        let x0 = [0.7, 0.4, 0.9, 0.2];
        let cold = minimize(&mut noisy_quadratic, &x0, settings);
        let warm = minimize_from(&mut noisy_quadratic, &x0, settings, first.memory.clone());
        assert!(cold.converged && warm.converged);
        for (a, b) in cold.x.iter().zip(&warm.x) {
            assert!((a - b).abs() < 1e-4, "{cold:?} vs {warm:?}");
        }
        assert!(
            warm.iterations < cold.iterations,
            "{} iterations with the memory, {} without",
            warm.iterations,
            cold.iterations
        );
    }

    #[test]
    fn an_inverse_hessian_to_start_from_gives_newton_steps() {
        // On a quadratic, starting from its exact inverse Hessian, the first step lands on the minimum.
        let c = [1.0, 30.0, 0.05, 4.0];
        let inverse: Vec<Vec<f64>> = (0..4)
            .map(|i| {
                (0..4)
                    .map(|j| if i == j { 0.5 / c[i] } else { 0.0 })
                    .collect()
            })
            .collect();
        let mut calls = 0;
        let mut f = |x: &[f64]| {
            calls += 1;
            let v: f64 = (0..4).map(|i| c[i] * (x[i] - 0.5).powi(2)).sum();
            (v, (0..4).map(|i| 2.0 * c[i] * (x[i] - 0.5)).collect())
        };
        let m = minimize_from(
            &mut f,
            &[2.0, -1.0, 3.0, 0.0],
            Settings::default(),
            Memory::from_inverse_hessian(inverse),
        );
        assert!(m.converged, "{m:?}");
        assert!(m.x.iter().all(|v| (v - 0.5).abs() < 1e-12), "{m:?}");
        assert_eq!((m.iterations, calls), (1, 2));
    }

    #[test]
    fn backs_off_where_the_objective_is_undefined() {
        // ln is undefined for x <= 0; the minimum of x − ln x is at 1.
        let mut f = |x: &[f64]| {
            let v = if x[0] > 0.0 {
                x[0] - x[0].ln()
            } else {
                f64::NAN
            };
            (v, vec![1.0 - 1.0 / x[0]])
        };
        let m = minimize(&mut f, &[20.0], Settings::default());
        assert!((m.x[0] - 1.0).abs() < 1e-6, "{m:?}");
    }

    #[test]
    fn inverse_and_standard_errors() {
        let a = vec![vec![4.0, 1.0], vec![1.0, 3.0]];
        let inv = spd_inverse(&a).unwrap();
        // [4 1; 1 3]^-1 = 1/11 [3 −1; −1 4]
        assert!((inv[0][0] - 3.0 / 11.0).abs() < 1e-12 && (inv[0][1] + 1.0 / 11.0).abs() < 1e-12);
        assert!(spd_inverse(&[vec![1.0, 2.0], vec![2.0, 1.0]]).is_none());
        // Normal log-likelihood in the mean with known variance 4 and n = 100: SE = 2/10.
        let mut grad = |t: &[f64]| vec![100.0 * (5.0 - t[0]) / 4.0];
        let se = standard_errors(&[5.0], &mut grad).unwrap();
        assert!((se[0] - 0.2).abs() < 1e-6, "{se:?}");
    }
}
