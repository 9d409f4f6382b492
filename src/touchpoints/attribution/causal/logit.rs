//! Penalised logistic regression on grouped binomial rows, fitted by Newton's
//! method with step halving: the estimator behind causal attribution.
//!
//! With rows `i` of covariates `xᵢ` (column 0 the intercept), `nᵢ` trials and
//! `yᵢ` successes, the penalised log-likelihood is
//!
//! ```text
//! ℓ(β) = Σᵢ [yᵢ ηᵢ − nᵢ log(1 + e^ηᵢ)] − λ/2 Σ_{k≥1} βₖ²,   ηᵢ = xᵢ·β
//! ```
//!
//! (the intercept is not penalised). Its gradient is `Xᵀ(y − n μ) − λβ` and
//! its negative Hessian `Xᵀ diag(n μ (1 − μ)) X + λ I`, positive definite for
//! λ > 0, so each Newton step solves one small Cholesky system. The ridge
//! penalty keeps estimates finite under separation (a channel never seen in a
//! converting journey), as in scikit-learn's `LogisticRegression(C = 1/λ)`.

use crate::error::{Error, Result};

/// Sparse rows: the nonzero columns of each (journey design rows are mostly
/// zeros: a few channels, one level per covariate), so a Newton step costs
/// the nonzeros squared per row, not the width squared.
#[derive(Debug, Clone, Default)]
pub(super) struct SparseRows {
    /// Columns per row.
    pub width: usize,
    /// `starts[i]..starts[i + 1]` indexes `cols` and `vals` for row `i`.
    starts: Vec<usize>,
    cols: Vec<u32>,
    vals: Vec<f64>,
}

impl SparseRows {
    pub(super) fn new(width: usize) -> SparseRows {
        SparseRows {
            width,
            starts: vec![0],
            cols: Vec::new(),
            vals: Vec::new(),
        }
    }

    /// Appends a row of `(column, value)` pairs (zeros may be left out).
    pub(super) fn push(&mut self, row: impl IntoIterator<Item = (usize, f64)>) {
        for (c, v) in row {
            if v != 0.0 {
                self.cols.push(c as u32);
                self.vals.push(v);
            }
        }
        self.starts.push(self.cols.len());
    }

    /// Row `i`'s nonzeros.
    pub(super) fn row(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let r = self.starts[i]..self.starts[i + 1];
        self.cols[r.clone()]
            .iter()
            .zip(&self.vals[r])
            .map(|(&c, &v)| (c as usize, v))
    }

    /// `x_i · β`.
    pub(super) fn dot(&self, i: usize, beta: &[f64]) -> f64 {
        self.row(i).map(|(c, v)| v * beta[c]).sum()
    }
}

/// Grouped binomial data.
pub(super) struct Grouped<'a> {
    /// The covariates; column 0 is 1 (the intercept).
    pub x: &'a SparseRows,
    /// Trials per row (weights; may be fractional or 0).
    pub trials: &'a [f64],
    /// Successes per row, `0 ≤ successes ≤ trials`.
    pub successes: &'a [f64],
}

/// A fit.
#[derive(Debug, Clone)]
pub(super) struct LogitFit {
    /// Coefficients, intercept first.
    pub beta: Vec<f64>,
    /// Newton steps taken.
    pub iterations: usize,
}

/// `log(1 + e^η)` without overflow.
fn softplus(eta: f64) -> f64 {
    eta.max(0.0) + (-eta.abs()).exp().ln_1p()
}

/// The logistic function.
pub(super) fn sigmoid(eta: f64) -> f64 {
    if eta >= 0.0 {
        1.0 / (1.0 + (-eta).exp())
    } else {
        let e = eta.exp();
        e / (1.0 + e)
    }
}

fn objective(data: &Grouped<'_>, beta: &[f64], l2: f64) -> f64 {
    let mut ll = 0.0;
    for (i, (&n, &y)) in data.trials.iter().zip(data.successes).enumerate() {
        if n == 0.0 {
            continue;
        }
        let eta = data.x.dot(i, beta);
        ll += y * eta - n * softplus(eta);
    }
    ll - 0.5 * l2 * beta[1..].iter().map(|b| b * b).sum::<f64>()
}

/// Solves `A z = b` for a symmetric positive definite `A` (row-major `n × n`)
/// by Cholesky; `None` when `A` is not positive definite.
fn cholesky_solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    let mut z = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * z[k]).sum();
        z[i] = (b[i] - s) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * z[k]).sum();
        z[i] = (z[i] - s) / l[i * n + i];
    }
    Some(z)
}

/// Maximises the penalised log-likelihood from `start` (or from the
/// intercept-only fit), stopping when no coefficient moves by more than
/// `tolerance`.
///
/// # Errors
/// [`Error::NotIdentifiable`] when the Hessian is singular (no trials, or
/// collinear columns without a penalty); [`Error::NoConvergence`] after
/// `max_iter` steps.
pub(super) fn fit(
    data: &Grouped<'_>,
    l2: f64,
    max_iter: usize,
    tolerance: f64,
    start: Option<&[f64]>,
) -> Result<LogitFit> {
    let w = data.x.width;
    let total: f64 = data.trials.iter().sum();
    let wins: f64 = data.successes.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return Err(Error::NotIdentifiable {
            model: "causal attribution",
            reason: "no journeys with weight".into(),
        });
    }
    let mut beta = match start {
        Some(b) => b.to_vec(),
        None => {
            let mut b = vec![0.0; w];
            let rate = (wins / total).clamp(1e-9, 1.0 - 1e-9);
            b[0] = (rate / (1.0 - rate)).ln();
            b
        }
    };
    let mut current = objective(data, &beta, l2);
    let mut gradient = vec![0.0; w];
    let mut hessian = vec![0.0; w * w];
    for iteration in 1..=max_iter {
        gradient.iter_mut().for_each(|g| *g = 0.0);
        hessian.iter_mut().for_each(|h| *h = 0.0);
        for (i, (&n, &y)) in data.trials.iter().zip(data.successes).enumerate() {
            if n == 0.0 {
                continue;
            }
            let eta = data.x.dot(i, &beta);
            let mu = sigmoid(eta);
            let residual = y - n * mu;
            let curvature = n * mu * (1.0 - mu);
            for (a, xa) in data.x.row(i) {
                gradient[a] += residual * xa;
                let cx = curvature * xa;
                // Both triangles: columns within a row need not be sorted.
                for (b, xb) in data.x.row(i) {
                    hessian[a * w + b] += cx * xb;
                }
            }
        }
        for k in 1..w {
            gradient[k] -= l2 * beta[k];
            hessian[k * w + k] += l2;
        }
        let Some(step) = cholesky_solve(&hessian, &gradient, w) else {
            return Err(Error::NotIdentifiable {
                model: "causal attribution",
                reason: "the design is singular: some columns are collinear".into(),
            });
        };
        // Step halving keeps every accepted step uphill.
        let mut scale = 1.0;
        let mut accepted = false;
        for _ in 0..40 {
            let trial: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + scale * s).collect();
            let value = objective(data, &trial, l2);
            if value >= current - 1e-12 * current.abs().max(1.0) {
                beta = trial;
                current = value;
                accepted = true;
                break;
            }
            scale *= 0.5;
        }
        let moved = step.iter().map(|s| (s * scale).abs()).fold(0.0, f64::max);
        if !accepted || moved <= tolerance {
            return Ok(LogitFit {
                beta,
                iterations: iteration,
            });
        }
    }
    Err(Error::NoConvergence {
        model: "causal attribution",
        iterations: max_iter,
        gradient_norm: gradient.iter().map(|g| g * g).sum::<f64>().sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sparse(x: &[f64], width: usize) -> SparseRows {
        let mut rows = SparseRows::new(width);
        for row in x.chunks(width) {
            rows.push(row.iter().copied().enumerate());
        }
        rows
    }

    #[test]
    fn matches_the_closed_form_of_a_saturated_two_by_two_table() {
        // Without a penalty a saturated model reproduces each cell's log-odds:
        // cells (a, b) with rates 10/100, 30/100, 20/100, 50/100 have
        // logit = β0 + β1 a + β2 b + β3 a b.
        let x = [
            1.0, 0.0, 0.0, 0.0, //
            1.0, 1.0, 0.0, 0.0, //
            1.0, 0.0, 1.0, 0.0, //
            1.0, 1.0, 1.0, 1.0,
        ];
        let trials = [100.0, 100.0, 100.0, 100.0];
        let successes = [10.0, 30.0, 20.0, 50.0];
        let x = sparse(&x, 4);
        let data = Grouped {
            x: &x,
            trials: &trials,
            successes: &successes,
        };
        let fit = fit(&data, 0.0, 100, 1e-12, None).unwrap();
        let logit = |p: f64| (p / (1.0 - p)).ln();
        let expected = [
            logit(0.1),
            logit(0.3) - logit(0.1),
            logit(0.2) - logit(0.1),
            logit(0.5) - logit(0.3) - logit(0.2) + logit(0.1),
        ];
        for (b, e) in fit.beta.iter().zip(expected) {
            assert!((b - e).abs() < 1e-10, "{b} vs {e}");
        }
    }

    /// scikit-learn 1.9.1: `LogisticRegression(C=1/λ, tol=1e-14,
    /// max_iter=100_000).fit(X, y, sample_weight=w)` on the rows below
    /// expanded into a success row (weight = successes) and a failure row
    /// (weight = trials − successes); scikit-learn does not penalise the
    /// intercept and its penalty is `‖β‖²/(2C)`, as here. scipy's BFGS on the
    /// same objective (gtol 1e-12) agrees with it to 5e-8.
    #[test]
    fn matches_scikit_learn_with_a_ridge_penalty() {
        let rows: [([f64; 3], f64, f64); 7] = [
            ([0.0, 0.0, -1.0], 120.0, 14.0),
            ([1.0, 0.0, -1.0], 80.0, 21.0),
            ([0.0, 1.0, 0.5], 60.0, 9.0),
            ([1.0, 1.0, 0.5], 90.0, 40.0),
            ([1.0, 0.0, 2.0], 30.0, 17.0),
            ([0.0, 1.0, 2.0], 25.0, 6.0),
            ([0.0, 0.0, 0.5], 70.0, 12.0),
        ];
        let x: Vec<f64> = rows
            .iter()
            .flat_map(|(r, _, _)| std::iter::once(1.0).chain(r.iter().copied()))
            .collect();
        let trials: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let successes: Vec<f64> = rows.iter().map(|r| r.2).collect();
        let x = sparse(&x, 4);
        let data = Grouped {
            x: &x,
            trials: &trials,
            successes: &successes,
        };
        for (l2, expected) in [
            (
                1.0,
                [
                    -1.756710879524146,
                    1.207135400367235,
                    0.03005505841482317,
                    0.372389919994478,
                ],
            ),
            (
                10.0,
                [
                    -1.5688513839068894,
                    0.84778574728515,
                    0.06871160109007866,
                    0.33115306704325526,
                ],
            ),
        ] {
            let fit = fit(&data, l2, 100, 1e-12, None).unwrap();
            for (b, e) in fit.beta.iter().zip(expected) {
                assert!((b - e).abs() < 1e-7, "λ {l2}: {b} vs {e}");
            }
        }
    }

    #[test]
    fn a_penalty_keeps_a_separated_column_finite_and_its_absence_is_an_error() {
        // Column 1 is on only in rows that never succeed: the MLE is −∞.
        let x = [1.0, 0.0, 1.0, 1.0];
        let trials = [50.0, 50.0];
        let successes = [20.0, 0.0];
        let x = sparse(&x, 2);
        let data = Grouped {
            x: &x,
            trials: &trials,
            successes: &successes,
        };
        let penalised = fit(&data, 1.0, 200, 1e-10, None).unwrap();
        assert!(penalised.beta[1].is_finite() && penalised.beta[1] < -2.0);
        // The penalised optimum has a zero gradient: Σ(y − nμ)x₁ = λ β₁.
        let mu = sigmoid(penalised.beta[0] + penalised.beta[1]);
        assert!((-50.0 * mu - penalised.beta[1]).abs() < 1e-8);
        let empty = Grouped {
            x: &x,
            trials: &[0.0, 0.0],
            successes: &[0.0, 0.0],
        };
        assert!(matches!(
            fit(&empty, 1.0, 10, 1e-10, None),
            Err(Error::NotIdentifiable { .. })
        ));
    }
}
