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

const CHUNK: usize = 2048;

/// Σ w·ℓ and Σ w·∇ℓ over the triples.
fn total<const N: usize>(ll: LogLikelihood<N>, theta: &[f64; N], t: &Triples) -> (f64, [f64; N]) {
    let chunk_sum = |start: usize| {
        let end = (start + CHUNK).min(t.len());
        let mut value = 0.0;
        let mut grad = [0.0; N];
        for i in start..end {
            let (v, g) = ll(theta, t.x[i], t.t_x[i], t.t_cal[i]);
            let w = t.weight[i];
            value += w * v;
            for k in 0..N {
                grad[k] += w * g[k];
            }
        }
        (value, grad)
    };
    let starts: Vec<usize> = (0..t.len()).step_by(CHUNK).collect();
    #[cfg(feature = "parallel")]
    let parts: Vec<(f64, [f64; N])> = {
        use rayon::prelude::*;
        starts.par_iter().map(|&s| chunk_sum(s)).collect()
    };
    #[cfg(not(feature = "parallel"))]
    let parts: Vec<(f64, [f64; N])> = starts.iter().map(|&s| chunk_sum(s)).collect();
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
pub(crate) fn fit<const N: usize>(
    model: &'static str,
    ll: LogLikelihood<N>,
    triples: &Triples,
    penalizer: f64,
    starts: &[[f64; N]],
    settings: Settings,
) -> Result<([f64; N], FitReport)> {
    let weight = triples.total_weight();
    if triples.is_empty() || weight.is_nan() || weight <= 0.0 {
        return Err(Error::NotIdentifiable { model, reason: "no customers".into() });
    }
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
            let (sum, grad) = total(ll, &theta, triples);
            let penalty: f64 = theta.iter().map(|v| v * v).sum::<f64>() * penalizer;
            let value = -sum / weight + penalty;
            // Chain rule to φ = ln θ.
            let g: Vec<f64> = (0..N).map(|k| (-grad[k] / weight + 2.0 * penalizer * theta[k]) * theta[k]).collect();
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
        let better = best.as_ref().is_none_or(|b| (m.converged && !b.5) || (m.converged == b.5 && m.f < b.1));
        if better {
            best = Some((theta, m.f, m.iterations, m.gradient_norm, start_index, m.converged));
        }
        if m.converged {
            break;
        }
    }
    let Some((theta, _, iterations, gradient_norm, start, converged)) = best else {
        return Err(Error::NoConvergence { model, iterations: settings.max_iter, gradient_norm: f64::INFINITY });
    };
    if !converged {
        return Err(Error::NoConvergence { model, iterations, gradient_norm });
    }
    let (log_likelihood, _) = total(ll, &theta, triples);
    let standard_errors = standard_errors(&theta, &mut |th: &[f64]| {
        let mut t = [0.0; N];
        t.copy_from_slice(th);
        let (_, g) = total(ll, &t, triples);
        // The penalty is part of the objective: include its curvature.
        (0..N).map(|k| g[k] - 2.0 * penalizer * weight * t[k]).collect()
    });
    Ok((
        theta,
        FitReport { log_likelihood, iterations, gradient_norm, converged, start, standard_errors, n_customers: weight },
    ))
}
