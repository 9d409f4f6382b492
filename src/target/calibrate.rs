//! Turning a score into a probability a budget can be planned on.
//!
//! A model that ranks customers well may still say 30 % where 20 % buy
//! (boosted trees and penalised regressions both drift). Calibration learns a
//! monotone map from score to observed rate on held-out rows, so expected
//! conversions and expected incremental value add up. Two maps, as in
//! scikit-learn's `CalibratedClassifierCV`:
//!
//! - **Isotonic** (Zadrozny & Elkan 2002): the non-decreasing step function
//!   closest to the outcomes in least squares, found by pool-adjacent-violators
//!   over the distinct scores (equal scores pooled with their weights first),
//!   linear between its points and clipped outside them; scikit-learn's
//!   `IsotonicRegression(out_of_bounds="clip")`. Needs a few thousand rows.
//! - **Platt** (Platt 1999; Lin, Lin & Weng 2007): P = 1 / (1 + exp(a·s + b)),
//!   fitted by Newton's method to Platt's smoothed targets (N₊ + 1)/(N₊ + 2)
//!   and 1/(N₋ + 2); scikit-learn's `_sigmoid_calibration`, scores scaled by
//!   their largest magnitude when it reaches 30. Two parameters: for small
//!   samples.

use serde::{Deserialize, Serialize};

use super::metrics::check_scores_of;
use crate::error::{Error, Result};

/// Which calibration map to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Pool-adjacent-violators: any monotone shape.
    Isotonic,
    /// Platt's sigmoid: two parameters.
    Platt,
}

/// A fitted map from score to probability; serde, to be persisted with its model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibrator {
    /// Isotonic: probabilities at increasing scores, linear between them.
    Isotonic {
        /// Distinct fitted scores, increasing.
        scores: Vec<f64>,
        /// The calibrated probability at each, non-decreasing.
        probabilities: Vec<f64>,
    },
    /// Platt: P = 1 / (1 + exp(a·score + b)).
    Platt {
        /// Slope (negative when higher scores mean more positives).
        a: f64,
        /// Intercept.
        b: f64,
    },
}

impl Calibrator {
    /// Fits `method` to held-out `scores` and their outcomes.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::EmptyInput`], [`Error::NonFinite`]
    /// for a NaN or infinite score; [`Error::NoConvergence`] if Platt's fit
    /// does not converge.
    pub fn fit(method: CalibrationMethod, scores: &[f64], labels: &[bool]) -> Result<Self> {
        check_scores_of("scores to calibrate on", scores, labels)?;
        match method {
            CalibrationMethod::Isotonic => Ok(isotonic(scores, labels)),
            CalibrationMethod::Platt => platt(scores, labels),
        }
    }

    /// The calibrated probability of `score` (NaN for a NaN score).
    pub fn calibrate(&self, score: f64) -> f64 {
        match self {
            Calibrator::Platt { a, b } => 1.0 / (1.0 + (a * score + b).exp()),
            Calibrator::Isotonic {
                scores,
                probabilities,
            } => interpolate(scores, probabilities, score),
        }
    }

    /// [`calibrate`](Self::calibrate) of every score.
    pub fn calibrate_all(&self, scores: &[f64]) -> Vec<f64> {
        scores.iter().map(|&s| self.calibrate(s)).collect()
    }
}

/// `np.interp(x, xs, ys)` with `x` clipped to `[xs₀, xsₙ]` first.
fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let (Some(&first), Some(&last)) = (xs.first(), xs.last()) else {
        return f64::NAN;
    };
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= first {
        return ys[0];
    }
    if x >= last {
        return ys[ys.len() - 1];
    }
    // xs[i - 1] < x <= xs[i], i ≥ 1.
    let i = xs.partition_point(|&v| v < x);
    if xs[i] == x {
        return ys[i];
    }
    let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

/// Isotonic regression of the outcomes on the scores.
fn isotonic(scores: &[f64], labels: &[bool]) -> Calibrator {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Distinct scores with their mean outcome and weight.
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    let mut ws: Vec<f64> = Vec::new();
    for &i in &order {
        let y = f64::from(u8::from(labels[i]));
        match (xs.last(), ys.last_mut(), ws.last_mut()) {
            (Some(&x), Some(m), Some(w)) if x == scores[i] => {
                *m += (y - *m) / (*w + 1.0);
                *w += 1.0;
            }
            _ => {
                xs.push(scores[i]);
                ys.push(y);
                ws.push(1.0);
            }
        }
    }
    pool_adjacent_violators(&mut ys, &ws);
    Calibrator::Isotonic {
        scores: xs,
        probabilities: ys,
    }
}

/// Replaces `y` by the weighted least-squares non-decreasing fit (Ayer et al. 1955):
/// each run of violators is pooled into its weighted mean.
pub(crate) fn pool_adjacent_violators(y: &mut [f64], w: &[f64]) {
    // Blocks as (mean, weight, length), merged leftwards while they violate.
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(y.len());
    for (&v, &wt) in y.iter().zip(w) {
        let mut block = (v, wt, 1usize);
        while let Some(&(m, pw, len)) = blocks.last() {
            if m < block.0 {
                break;
            }
            let weight = pw + block.1;
            block = ((m * pw + block.0 * block.1) / weight, weight, len + block.2);
            blocks.pop();
        }
        blocks.push(block);
    }
    let mut at = 0;
    for (m, _, len) in blocks {
        y[at..at + len].fill(m);
        at += len;
    }
}

/// `ln(1 + eᶻ)` without overflow.
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Platt's sigmoid by Newton's method with backtracking.
fn platt(scores: &[f64], labels: &[bool]) -> Result<Calibrator> {
    let max_abs = scores.iter().fold(0.0f64, |m, s| m.max(s.abs()));
    // scikit-learn rescales large scores; the fitted map is the same.
    let scale = if max_abs >= 30.0 { max_abs } else { 1.0 };
    let f: Vec<f64> = scores.iter().map(|s| s / scale).collect();
    let positives = labels.iter().filter(|&&y| y).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let hi = (positives + 1.0) / (positives + 2.0);
    let lo = 1.0 / (negatives + 2.0);
    let targets: Vec<f64> = labels.iter().map(|&y| if y { hi } else { lo }).collect();
    // L(a, b) = Σ ln(1 + eᶻ) − (1 − t)·z with z = a·f + b; dL/dz = t − p, d²L/dz² = p(1 − p).
    let loss = |a: f64, b: f64| -> f64 {
        f.iter()
            .zip(&targets)
            .map(|(&fi, &t)| {
                let z = a * fi + b;
                softplus(z) - (1.0 - t) * z
            })
            .sum()
    };
    let (mut a, mut b) = (0.0, ((negatives + 1.0) / (positives + 1.0)).ln());
    let mut current = loss(a, b);
    const MAX_ITERATIONS: usize = 200;
    let mut gradient_norm = f64::INFINITY;
    for _ in 0..MAX_ITERATIONS {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&fi, &t) in f.iter().zip(&targets) {
            let p = 1.0 / (1.0 + (a * fi + b).exp());
            let d = t - p;
            let h = p * (1.0 - p);
            ga += d * fi;
            gb += d;
            haa += h * fi * fi;
            hab += h * fi;
            hbb += h;
        }
        gradient_norm = ga.hypot(gb);
        if gradient_norm <= 1e-10 * (1.0 + f.len() as f64).sqrt() {
            return Ok(Calibrator::Platt { a: a / scale, b });
        }
        // A tiny ridge keeps the system solvable when every score is equal (Lin et al.).
        let (haa, hbb) = (haa + 1e-12, hbb + 1e-12);
        let det = haa * hbb - hab * hab;
        let (da, db) = (-(hbb * ga - hab * gb) / det, -(haa * gb - hab * ga) / det);
        // A step at rounding level: the gradient cannot get any smaller.
        if da.abs() + db.abs() <= 1e-13 * (1.0 + a.abs() + b.abs()) {
            return Ok(Calibrator::Platt { a: a / scale, b });
        }
        let slope = ga * da + gb * db;
        // Newton's decrement below the loss's rounding: no step can do better.
        if -slope <= 8.0 * f64::EPSILON * current.abs() {
            return Ok(Calibrator::Platt { a: a / scale, b });
        }
        let mut step = 1.0;
        loop {
            let (na, nb) = (a + step * da, b + step * db);
            let next = loss(na, nb);
            // Near the optimum the loss changes below its rounding: a step
            // that keeps it equal to rounding is taken (Newton's full step there).
            let rounding = 8.0 * f64::EPSILON * current.abs();
            if next <= current + 1e-4 * step * slope || (step == 1.0 && next <= current + rounding)
            {
                a = na;
                b = nb;
                current = next;
                break;
            }
            step /= 2.0;
            if step < 1e-10 {
                // No descent left along Newton's direction: at the optimum up to rounding.
                return Ok(Calibrator::Platt { a: a / scale, b });
            }
        }
    }
    Err(Error::NoConvergence {
        model: "Platt calibration",
        iterations: MAX_ITERATIONS,
        gradient_norm,
    })
}
