//! Fitting a BTYD model on weighted `(x, t_x, T)` triples.
//!
//! The objective is lifetimes': the weighted mean negative log-likelihood plus
//! `penalizer · Σ θ²`, minimised over `φ = ln θ`. Sums over triples run in
//! fixed chunks whose partial sums are added in order, so the result does not
//! depend on the number of threads.
//!
//! Likelihoods that are expensive per triple (Pareto/NBD, whose ₂F₁ series grow
//! long far from the optimum) start fits on 4,096 triples or more from the fit
//! to a subsample, every 16th triple in order of `x` (itself fitted the same
//! way when large enough), and from the subsample's inverse Hessian (or else the
//! optimiser's curvature pairs): the subsample does the long walk from the
//! starting points cheaply, and a handful of near-Newton iterations on all
//! triples finish the fit.

use super::optim::{
    FitReport, Memory, Settings, minimize_from, spd_inverse, standard_errors,
    standard_errors_from_hessian,
};
use super::summary::Triples;
use crate::error::{Error, Result};

/// One customer's log-likelihood and its gradient in θ.
pub(crate) type LogLikelihood<const N: usize> = fn(&[f64; N], f64, f64, f64) -> (f64, [f64; N]);

/// A model's log-likelihood split so that the terms that depend only on the
/// parameters and the frequency `x` (log-gammas, digammas) are computed once
/// per distinct `x` rather than once per customer.
pub(crate) trait Likelihood<const N: usize>: Sync {
    /// Whether fits on many triples should start from the fit to a subsample (worth it when the
    /// likelihood is expensive per triple and its cost grows far from the optimum).
    const WARM_START: bool = false;
    /// Whether customers of one frequency should be visited in order of recency (neighbours then
    /// have similar per-customer work, which [`accumulate`](Self::accumulate) may share out).
    const SORT_BY_RECENCY: bool = false;
    /// The terms shared by all customers with the same `x`.
    type PerX;
    /// Computes the shared terms.
    fn per_x(&self, theta: &[f64; N], x: f64) -> Self::PerX;
    /// One customer's log-likelihood and gradient in θ, given the shared terms of its `x`.
    fn value_gradient(
        &self,
        theta: &[f64; N],
        shared: &Self::PerX,
        x: f64,
        t_x: f64,
        t_cal: f64,
    ) -> (f64, [f64; N]);
    /// Adds w·ℓ and w·∇ℓ of the customers of `group` to `sum`, one customer after another.
    fn accumulate(
        &self,
        theta: &[f64; N],
        shared: &Self::PerX,
        group: &SameX<'_>,
        sum: &mut Sum<N>,
    ) {
        for ((&t_x, &t_cal), &w) in group.t_x.iter().zip(group.t_cal).zip(group.weight) {
            let (v, g) = self.value_gradient(theta, shared, group.x, t_x, t_cal);
            sum.add(w, v, &g);
        }
    }
    /// Σ w·∇²ℓ in θ over the customers of `group`, when the model has an analytic Hessian (used for
    /// the standard errors; otherwise they come from central differences of the gradient).
    fn hessian(&self, _theta: &[f64; N], _group: &SameX<'_>) -> Option<[[f64; N]; N]> {
        None
    }
}

/// Weighted customers who share the frequency `x`, in the order the sums visit them.
pub(crate) struct SameX<'a> {
    pub(crate) x: f64,
    pub(crate) t_x: &'a [f64],
    pub(crate) t_cal: &'a [f64],
    pub(crate) weight: &'a [f64],
}

/// A running Σ w·ℓ and Σ w·∇ℓ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sum<const N: usize> {
    pub(crate) value: f64,
    pub(crate) grad: [f64; N],
}

impl<const N: usize> Sum<N> {
    pub(crate) const ZERO: Self = Sum {
        value: 0.0,
        grad: [0.0; N],
    };

    /// Adds w·ℓ and w·∇ℓ of one customer.
    #[inline(always)]
    pub(crate) fn add(&mut self, w: f64, value: f64, grad: &[f64; N]) {
        self.value += w * value;
        for (sum, g) in self.grad.iter_mut().zip(grad) {
            *sum += w * g;
        }
    }
}

/// A per-customer function as a [`Likelihood`] without shared terms.
pub(crate) struct PerCustomer<const N: usize>(pub(crate) LogLikelihood<N>);

impl<const N: usize> Likelihood<N> for PerCustomer<N> {
    type PerX = ();
    fn per_x(&self, _theta: &[f64; N], _x: f64) {}
    fn value_gradient(
        &self,
        theta: &[f64; N],
        _shared: &(),
        x: f64,
        t_x: f64,
        t_cal: f64,
    ) -> (f64, [f64; N]) {
        (self.0)(theta, x, t_x, t_cal)
    }
}

/// Checks the settings every maximum-likelihood fit shares.
pub(crate) fn check_fit_params(penalizer: f64, max_iter: usize, tolerance: f64) -> Result<()> {
    if !(penalizer.is_finite() && penalizer >= 0.0) {
        return Err(Error::param(
            "penalizer",
            penalizer,
            "must be finite and >= 0",
        ));
    }
    crate::error::check_iterations(max_iter, tolerance)
}

const CHUNK: usize = 2048;

/// The triples in the order the sums visit them: sorted by `x` (stably), so that the terms shared by
/// one `x` are computed once per run of equal `x`, and contiguous.
struct Sorted {
    x: Vec<f64>,
    t_x: Vec<f64>,
    t_cal: Vec<f64>,
    weight: Vec<f64>,
}

impl Sorted {
    /// Sorted by `x`, and by `t_x` within equal `x` if `by_recency`.
    fn new(t: &Triples, by_recency: bool) -> Self {
        let mut order: Vec<u32> = (0..t.len() as u32).collect();
        order.sort_by(|&i, &j| {
            let (i, j) = (i as usize, j as usize);
            let by_x = t.x[i].total_cmp(&t.x[j]);
            if by_recency {
                by_x.then(t.t_x[i].total_cmp(&t.t_x[j]))
            } else {
                by_x
            }
        });
        let column = |c: &[f64]| order.iter().map(|&i| c[i as usize]).collect();
        Sorted {
            x: column(&t.x),
            t_x: column(&t.t_x),
            t_cal: column(&t.t_cal),
            weight: column(&t.weight),
        }
    }

    fn len(&self) -> usize {
        self.x.len()
    }

    /// The run of triples from `start` (before `end`) that share its `x`.
    fn same_x(&self, start: usize, end: usize) -> SameX<'_> {
        let x = self.x[start];
        let run = start + self.x[start..end].iter().take_while(|&&v| v == x).count();
        SameX {
            x,
            t_x: &self.t_x[start..run],
            t_cal: &self.t_cal[start..run],
            weight: &self.weight[start..run],
        }
    }

    /// Every `stride`-th triple (still sorted by `x`), weights unchanged.
    fn every(&self, stride: usize) -> Self {
        let pick = |c: &[f64]| c.iter().step_by(stride).copied().collect();
        Sorted {
            x: pick(&self.x),
            t_x: pick(&self.t_x),
            t_cal: pick(&self.t_cal),
            weight: pick(&self.weight),
        }
    }

    fn total_weight(&self) -> f64 {
        self.weight.iter().sum()
    }
}

/// Σ w·ℓ and Σ w·∇ℓ over the triples.
fn total<const N: usize, L: Likelihood<N>>(
    ll: &L,
    theta: &[f64; N],
    t: &Sorted,
) -> (f64, [f64; N]) {
    let chunk_sum = |start: usize| {
        let end = (start + CHUNK).min(t.len());
        let mut sum = Sum::ZERO;
        let mut i = start;
        while i < end {
            let group = t.same_x(i, end);
            let per = ll.per_x(theta, group.x);
            ll.accumulate(theta, &per, &group, &mut sum);
            i += group.t_x.len();
        }
        (sum.value, sum.grad)
    };
    let starts: Vec<usize> = (0..t.len()).step_by(CHUNK).collect();
    let parts: Vec<(f64, [f64; N])> = crate::parallel::map_slice(&starts, |&s| chunk_sum(s));
    let mut value = 0.0;
    let mut grad = [0.0; N];
    for (v, g) in parts {
        value += v;
        for k in 0..N {
            grad[k] += g[k];
        }
    }
    (value, grad)
}

/// Σ w·∇²ℓ over the triples, when the likelihood has an analytic Hessian.
fn total_hessian<const N: usize, L: Likelihood<N>>(
    ll: &L,
    theta: &[f64; N],
    t: &Sorted,
) -> Option<[[f64; N]; N]> {
    let chunk_sum = |start: usize| {
        let end = (start + CHUNK).min(t.len());
        let mut sum = [[0.0; N]; N];
        let mut i = start;
        while i < end {
            let group = t.same_x(i, end);
            let h = ll.hessian(theta, &group)?;
            for (s, h) in sum.iter_mut().zip(&h) {
                for (s, h) in s.iter_mut().zip(h) {
                    *s += h;
                }
            }
            i += group.t_x.len();
        }
        Some(sum)
    };
    let starts: Vec<usize> = (0..t.len()).step_by(CHUNK).collect();
    let parts: Vec<Option<[[f64; N]; N]>> = crate::parallel::map_slice(&starts, |&s| chunk_sum(s));
    let mut sum = [[0.0; N]; N];
    for part in parts {
        for (s, h) in sum.iter_mut().zip(&part?) {
            for (s, h) in s.iter_mut().zip(h) {
                *s += h;
            }
        }
    }
    Some(sum)
}

/// Fits with at least this many distinct triples start from the fit to a subsample.
const WARM_START_MIN: usize = 4096;
/// The subsample: every `WARM_START_STRIDE`-th triple in order of `x`.
const WARM_START_STRIDE: usize = 16;

/// The inverse Hessian of the objective (penalised mean negative log-likelihood, in φ = ln θ) at an
/// optimum θ, when the likelihood has an analytic Hessian and it is positive definite there. At an
/// optimum the objective's gradient vanishes, so ∂²/∂φᵢ∂φⱼ = θᵢθⱼ (−∂²ℓ/∂θᵢ∂θⱼ / W + 2·penalizer·δᵢⱼ).
fn objective_inverse_hessian<const N: usize, L: Likelihood<N>>(
    ll: &L,
    data: &Sorted,
    theta: &[f64; N],
    penalizer: f64,
) -> Option<Vec<Vec<f64>>> {
    let h = total_hessian(ll, theta, data)?;
    let weight = data.total_weight();
    let hessian: Vec<Vec<f64>> = (0..N)
        .map(|i| {
            (0..N)
                .map(|j| {
                    let penalty = if i == j { 2.0 * penalizer } else { 0.0 };
                    theta[i] * theta[j] * (-h[i][j] / weight + penalty)
                })
                .collect()
        })
        .collect();
    spd_inverse(&hessian)
}

/// The best of the fits from several starts.
struct Best<const N: usize> {
    theta: [f64; N],
    f: f64,
    iterations: usize,
    gradient_norm: f64,
    start: usize,
    converged: bool,
    /// The total log-likelihood at `theta`, when it was the last point evaluated.
    log_likelihood: Option<f64>,
    /// The optimiser's curvature pairs at the end.
    memory: Memory,
}

/// Minimises the penalised mean negative log-likelihood from each start in turn until one
/// converges; the best converged fit (or the best attempt). With `L::WARM_START` and enough triples,
/// first fits a subsample (recursively) and starts from its optimum.
fn optimise<const N: usize, L: Likelihood<N>>(
    ll: &L,
    data: &Sorted,
    penalizer: f64,
    starts: &[[f64; N]],
    settings: Settings,
) -> Option<Best<N>> {
    if L::WARM_START && data.len() >= WARM_START_MIN {
        let sub = data.every(WARM_START_STRIDE);
        if let Some(warm) = optimise(ll, &sub, penalizer, starts, settings)
            .filter(|b| b.converged && b.theta.iter().all(|v| v.is_finite() && *v > 0.0))
        {
            // Start from the subsample's inverse Hessian when the likelihood has one, else from the
            // optimiser's curvature pairs.
            let memory = objective_inverse_hessian(ll, &sub, &warm.theta, penalizer)
                .map_or(warm.memory, Memory::from_inverse_hessian);
            if let Some(b) = optimise_from(ll, data, penalizer, &[warm.theta], memory, settings)
                .filter(|b| b.converged)
            {
                // Report which of the given starts led there.
                return Some(Best {
                    start: warm.start,
                    ..b
                });
            }
        }
    }
    optimise_from(ll, data, penalizer, starts, Memory::default(), settings)
}

fn optimise_from<const N: usize, L: Likelihood<N>>(
    ll: &L,
    data: &Sorted,
    penalizer: f64,
    starts: &[[f64; N]],
    memory: Memory,
    settings: Settings,
) -> Option<Best<N>> {
    let weight = data.total_weight();
    let mut best: Option<Best<N>> = None;
    // The log-likelihood at the last point evaluated: the result's, when the optimiser stops there.
    let mut last: Option<([f64; N], f64)> = None;
    for (start_index, start) in starts.iter().enumerate() {
        let mut objective = |phi: &[f64]| -> (f64, Vec<f64>) {
            let mut theta = [0.0; N];
            for (t, p) in theta.iter_mut().zip(phi) {
                *t = p.exp();
            }
            if theta.iter().any(|v| !v.is_finite() || *v <= 0.0) {
                return (f64::NAN, vec![f64::NAN; N]);
            }
            let (sum, grad) = total(ll, &theta, data);
            last = Some((theta, sum));
            let penalty: f64 = theta.iter().map(|v| v * v).sum::<f64>() * penalizer;
            let value = -sum / weight + penalty;
            // Chain rule to φ = ln θ.
            let g: Vec<f64> = (0..N)
                .map(|k| (-grad[k] / weight + 2.0 * penalizer * theta[k]) * theta[k])
                .collect();
            (value, g)
        };
        let phi0: Vec<f64> = start.iter().map(|v| v.ln()).collect();
        let m = minimize_from(&mut objective, &phi0, settings, memory.clone());
        if !m.f.is_finite() {
            continue;
        }
        let mut theta = [0.0; N];
        for (t, phi) in theta.iter_mut().zip(&m.x) {
            *t = phi.exp();
        }
        let better = best.as_ref().is_none_or(|b| {
            (m.converged && !b.converged) || (m.converged == b.converged && m.f < b.f)
        });
        if better {
            best = Some(Best {
                theta,
                f: m.f,
                iterations: m.iterations,
                gradient_norm: m.gradient_norm,
                start: start_index,
                converged: m.converged,
                log_likelihood: last.filter(|(at, _)| *at == theta).map(|(_, sum)| sum),
                memory: m.memory,
            });
        }
        if m.converged {
            break;
        }
    }
    best
}

/// Fits by maximum likelihood from each start in turn until one converges;
/// returns the best converged fit (or the error of the best attempt).
pub(crate) fn fit<const N: usize, L: Likelihood<N>>(
    model: &'static str,
    ll: &L,
    triples: &Triples,
    penalizer: f64,
    starts: &[[f64; N]],
    settings: Settings,
) -> Result<([f64; N], FitReport)> {
    let weight = triples.total_weight();
    if triples.is_empty() || weight.is_nan() || weight <= 0.0 {
        return Err(Error::NotIdentifiable {
            model,
            reason: "no customers".into(),
        });
    }
    let data = Sorted::new(triples, L::SORT_BY_RECENCY);
    let Some(best) = optimise(ll, &data, penalizer, starts, settings) else {
        return Err(Error::NoConvergence {
            model,
            iterations: settings.max_iter,
            gradient_norm: f64::INFINITY,
        });
    };
    let Best {
        theta,
        iterations,
        gradient_norm,
        start,
        converged,
        ..
    } = best;
    if !converged {
        return Err(Error::NoConvergence {
            model,
            iterations,
            gradient_norm,
        });
    }
    let log_likelihood = best
        .log_likelihood
        .unwrap_or_else(|| total(ll, &theta, &data).0);
    // The penalty is part of the objective: include its curvature.
    let standard_errors = match total_hessian(ll, &theta, &data) {
        Some(h) => {
            let hessian: Vec<Vec<f64>> = (0..N)
                .map(|i| {
                    (0..N)
                        .map(|j| {
                            h[i][j]
                                - if i == j {
                                    2.0 * penalizer * weight
                                } else {
                                    0.0
                                }
                        })
                        .collect()
                })
                .collect();
            standard_errors_from_hessian(&hessian)
        }
        None => standard_errors(&theta, &mut |th: &[f64]| {
            let mut t = [0.0; N];
            t.copy_from_slice(th);
            let (_, g) = total(ll, &t, &data);
            (0..N)
                .map(|k| g[k] - 2.0 * penalizer * weight * t[k])
                .collect()
        }),
    };
    Ok((
        theta,
        FitReport {
            log_likelihood,
            iterations,
            gradient_norm,
            converged,
            start,
            standard_errors,
            n_customers: weight,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::paretonbd::formulas::FitLikelihood;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Exp1, Gamma};

    /// Pareto/NBD customers (r, α, s, β) = (0.55, 10.6, 0.6, 11.7) with continuous times: every
    /// triple distinct.
    fn pareto_triples(n: usize) -> Triples {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let lambda = Gamma::new(0.55, 1.0 / 10.6).unwrap();
        let mu = Gamma::new(0.6, 1.0 / 11.7).unwrap();
        let mut t = Triples::default();
        for _ in 0..n {
            let t_cal = 26.0 + 52.0 * rng.r#gen::<f64>();
            let (l, m): (f64, f64) = (lambda.sample(&mut rng), mu.sample(&mut rng));
            let e: f64 = Exp1.sample(&mut rng);
            let end = (e / m).min(t_cal);
            let (mut x, mut t_x, mut now) = (0.0, 0.0, 0.0);
            loop {
                let e: f64 = Exp1.sample(&mut rng);
                now += e / l;
                if now > end {
                    break;
                }
                x += 1.0;
                t_x = now;
            }
            t.add(x, t_x, t_cal, 1.0);
        }
        t
    }

    #[test]
    fn analytic_hessian_gives_the_standard_errors_of_central_differences() {
        let triples = pareto_triples(3000);
        let starts = [[1.0; 4], [0.5, 10.0, 0.5, 2.0]];
        let (theta, report) = fit(
            "Pareto/NBD",
            &FitLikelihood,
            &triples,
            0.0,
            &starts,
            Settings::default(),
        )
        .unwrap();
        let data = Sorted::new(&triples, true);
        let fd = standard_errors(&theta, &mut |th: &[f64]| {
            total(&FitLikelihood, &[th[0], th[1], th[2], th[3]], &data)
                .1
                .to_vec()
        })
        .unwrap();
        let analytic = report.standard_errors.unwrap();
        for (a, f) in analytic.iter().zip(&fd) {
            assert!((a - f).abs() <= 1e-6 * f, "{analytic:?} vs {fd:?}");
        }
    }

    #[test]
    fn warm_start_reaches_the_optimum_of_a_cold_start() {
        let triples = pareto_triples(2 * WARM_START_MIN);
        let data = Sorted::new(&triples, true);
        let starts = [[1.0; 4], [0.5, 10.0, 0.5, 2.0]];
        let settings = Settings::default();
        let warm = optimise(&FitLikelihood, &data, 0.0, &starts, settings).unwrap();
        let cold = optimise_from(
            &FitLikelihood,
            &data,
            0.0,
            &starts,
            Memory::default(),
            settings,
        )
        .unwrap();
        assert!(warm.converged && cold.converged);
        assert!(
            (warm.f - cold.f).abs() <= 1e-13 * cold.f.abs(),
            "{} vs {}",
            warm.f,
            cold.f
        );
        for (w, c) in warm.theta.iter().zip(&cold.theta) {
            assert!(
                (w - c).abs() <= 1e-5 * c,
                "{:?} vs {:?}",
                warm.theta,
                cold.theta
            );
        }
        // The log-likelihood of the last evaluation is the result's.
        let sum = total(&FitLikelihood, &warm.theta, &data).0;
        assert_eq!(warm.log_likelihood, Some(sum));
        assert!(
            warm.iterations < cold.iterations,
            "{} iterations on all triples after the subsample, {} from the start",
            warm.iterations,
            cold.iterations
        );
    }
}
