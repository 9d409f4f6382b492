//! Fitting a BTYD model on weighted `(x, t_x, T)` triples.
//!
//! The objective is lifetimes': the weighted mean negative log-likelihood plus
//! `penalizer · Σ θ²`, minimised over `φ = ln θ`. Sums over triples run in
//! fixed chunks whose partial sums are added in order, so the result does not
//! depend on the number of threads.

use super::optim::{FitReport, Settings, minimize, standard_errors};
use super::summary::Triples;
use crate::error::{Error, Result};

/// One customer's log-likelihood and its gradient in θ.
pub(crate) type LogLikelihood<const N: usize> = fn(&[f64; N], f64, f64, f64) -> (f64, [f64; N]);

/// A model's log-likelihood split so that the terms that depend only on the
/// parameters and the frequency `x` (log-gammas, digammas) are computed once
/// per distinct `x` rather than once per customer.
pub(crate) trait Likelihood<const N: usize>: Sync {
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

/// Σ w·ℓ and Σ w·∇ℓ over the triples, visited in `order` (sorted by `x`).
fn total<const N: usize, L: Likelihood<N>>(
    ll: &L,
    theta: &[f64; N],
    t: &Triples,
    order: &[u32],
) -> (f64, [f64; N]) {
    let chunk_sum = |start: usize| {
        let end = (start + CHUNK).min(order.len());
        let mut value = 0.0;
        let mut grad = [0.0; N];
        let mut shared: Option<(f64, L::PerX)> = None;
        for &i in &order[start..end] {
            let i = i as usize;
            let x = t.x[i];
            let per = match shared {
                Some((sx, ref per)) if sx == x => per,
                _ => &shared.insert((x, ll.per_x(theta, x))).1,
            };
            let (v, g) = ll.value_gradient(theta, per, x, t.t_x[i], t.t_cal[i]);
            let w = t.weight[i];
            value += w * v;
            for k in 0..N {
                grad[k] += w * g[k];
            }
        }
        (value, grad)
    };
    let starts: Vec<usize> = (0..order.len()).step_by(CHUNK).collect();
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
    // Visit customers grouped by x so shared terms are computed once per group.
    let mut order: Vec<u32> = (0..triples.len() as u32).collect();
    order.sort_by(|&i, &j| triples.x[i as usize].total_cmp(&triples.x[j as usize]));
    let order = &order;
    let mut best: Option<([f64; N], f64, usize, f64, usize, bool)> = None;
    for (start_index, start) in starts.iter().enumerate() {
        let mut objective = |phi: &[f64]| -> (f64, Vec<f64>) {
            let mut theta = [0.0; N];
            for (t, p) in theta.iter_mut().zip(phi) {
                *t = p.exp();
            }
            if theta.iter().any(|v| !v.is_finite() || *v <= 0.0) {
                return (f64::NAN, vec![f64::NAN; N]);
            }
            let (sum, grad) = total(ll, &theta, triples, order);
            let penalty: f64 = theta.iter().map(|v| v * v).sum::<f64>() * penalizer;
            let value = -sum / weight + penalty;
            // Chain rule to φ = ln θ.
            let g: Vec<f64> = (0..N)
                .map(|k| (-grad[k] / weight + 2.0 * penalizer * theta[k]) * theta[k])
                .collect();
            (value, g)
        };
        let phi0: Vec<f64> = start.iter().map(|v| v.ln()).collect();
        let m = minimize(&mut objective, &phi0, settings);
        if !m.f.is_finite() {
            continue;
        }
        let mut theta = [0.0; N];
        for (t, phi) in theta.iter_mut().zip(&m.x) {
            *t = phi.exp();
        }
        let better = best
            .as_ref()
            .is_none_or(|b| (m.converged && !b.5) || (m.converged == b.5 && m.f < b.1));
        if better {
            best = Some((
                theta,
                m.f,
                m.iterations,
                m.gradient_norm,
                start_index,
                m.converged,
            ));
        }
        if m.converged {
            break;
        }
    }
    let Some((theta, _, iterations, gradient_norm, start, converged)) = best else {
        return Err(Error::NoConvergence {
            model,
            iterations: settings.max_iter,
            gradient_norm: f64::INFINITY,
        });
    };
    if !converged {
        return Err(Error::NoConvergence {
            model,
            iterations,
            gradient_norm,
        });
    }
    let (log_likelihood, _) = total(ll, &theta, triples, order);
    let standard_errors = standard_errors(&theta, &mut |th: &[f64]| {
        let mut t = [0.0; N];
        t.copy_from_slice(th);
        let (_, g) = total(ll, &t, triples, order);
        // The penalty is part of the objective: include its curvature.
        (0..N)
            .map(|k| g[k] - 2.0 * penalizer * weight * t[k])
            .collect()
    });
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
