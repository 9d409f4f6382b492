//! The normal model behind every calculation: per-unit variances under the
//! null and the alternative, rejection probabilities, and the shared checks.

use super::params::{Baseline, MAX_UNITS, PlannedMetric};
use crate::error::{Error, Result};
use crate::experiment::Alternative;
use crate::stats::{normal_cdf, normal_quantile, normal_sf};

/// Upper quantile `z_q = Φ̄⁻¹(q)` for `q` in (0, 1), evaluated through the
/// lower half so that `Φ⁻¹` never sees arguments near 1.
pub(super) fn upper_quantile(q: f64) -> f64 {
    if q <= 0.5 {
        -normal_quantile(q)
    } else {
        normal_quantile(1.0 - q)
    }
}

/// A validated metric: the per-unit variance model.
#[derive(Debug, Clone, Copy)]
pub(super) enum Model {
    /// Two proportions; `factor` is the variance-reduction factor.
    Proportions { p: f64, factor: f64 },
    /// Equal-variance normal; `sd` already includes the variance reduction,
    /// `param` names the input it comes from (for errors).
    Normal { sd: f64, param: &'static str },
}

impl Model {
    pub(super) fn of(metric: &PlannedMetric) -> Result<Model> {
        let factor = match metric.variance_reduction {
            Some(vr) => vr.factor()?,
            None => 1.0,
        };
        match metric.baseline {
            Baseline::Binomial { rate } => {
                if !(rate > 0.0 && rate < 1.0) {
                    return Err(Error::param("rate", rate, "must be in (0, 1)"));
                }
                let model = Model::Proportions { p: rate, factor };
                model.sds(0.0, 1.0).map(|_| model)
            }
            Baseline::Continuous { mean, sd } => {
                if !mean.is_finite() {
                    return Err(Error::param("mean", mean, "must be finite"));
                }
                if !(sd > 0.0 && sd.is_finite()) {
                    return Err(Error::param("sd", sd, "must be finite and > 0"));
                }
                let model = Model::Normal {
                    sd: sd * factor.sqrt(),
                    param: "sd",
                };
                model.sds(0.0, 1.0).map(|_| model)
            }
            Baseline::Ratio { ratio, variance } => {
                if !ratio.is_finite() {
                    return Err(Error::param("ratio", ratio, "must be finite"));
                }
                if !(variance > 0.0 && variance.is_finite()) {
                    return Err(Error::param("variance", variance, "must be finite and > 0"));
                }
                let model = Model::Normal {
                    sd: (variance * factor).sqrt(),
                    param: "variance",
                };
                model.sds(0.0, 1.0).map(|_| model)
            }
        }
    }

    /// Rejects an effect that leaves the metric's range.
    pub(super) fn check_effect(&self, delta: f64) -> Result<()> {
        if let Model::Proportions { p, .. } = *self {
            let pt = p + delta;
            if !(pt > 0.0 && pt < 1.0) {
                return Err(Error::param(
                    "effect",
                    delta,
                    format!("the treatment rate {pt} must be in (0, 1)"),
                ));
            }
        }
        Ok(())
    }

    /// Per-control-unit standard deviations `(s₀, s₁)` of `δ̂` under the null
    /// and the alternative when `n_t = r · n_c`: `SE = s / √n_c`.
    pub(super) fn unit_sds(&self, delta: f64, r: f64) -> (f64, f64) {
        match *self {
            Model::Proportions { p, factor } => {
                let pt = p + delta;
                let pooled = (p + r * pt) / (1.0 + r);
                let s0 = (factor * pooled * (1.0 - pooled) * (1.0 + 1.0 / r)).sqrt();
                let s1 = (factor * (p * (1.0 - p) + pt * (1.0 - pt) / r)).sqrt();
                (s0, s1)
            }
            Model::Normal { sd, .. } => {
                let s = sd * (1.0 + 1.0 / r).sqrt();
                (s, s)
            }
        }
    }

    /// [`unit_sds`](Self::unit_sds), checked to be finite and positive (they
    /// are not only for variances at the edge of the `f64` range).
    pub(super) fn sds(&self, delta: f64, r: f64) -> Result<(f64, f64)> {
        let (s0, s1) = self.unit_sds(delta, r);
        let ok = |s: f64| s > 0.0 && s.is_finite();
        if ok(s0) && ok(s1) {
            return Ok((s0, s1));
        }
        let (name, value) = match *self {
            Model::Proportions { p, .. } => ("rate", p),
            Model::Normal { sd, param } => (param, sd),
        };
        Err(Error::param(
            name,
            value,
            "the per-unit variance (after any variance reduction and for this allocation ratio) is outside the range of f64",
        ))
    }

    /// Power of the z-test at `n_c` control units and `r · n_c` treatment units.
    pub(super) fn power(
        &self,
        delta: f64,
        n_c: f64,
        r: f64,
        alpha: f64,
        alt: Alternative,
    ) -> Result<f64> {
        let (s0, s1) = self.sds(delta, r)?;
        let p = rejection_probability(delta * n_c.sqrt(), s0, s1, alpha, alt);
        if p.is_nan() {
            // Subnormal standard deviations or levels: the standardised effect overflows.
            return Err(Error::param(
                "sd",
                s1,
                "too small against the effect and α to compute a power",
            ));
        }
        Ok(p)
    }
}

/// Probability that the z-test at level `alpha` rejects, with `shift = δ √n_c`
/// and per-control-unit standard deviations `s0` (null) and `s1` (alternative).
pub(super) fn rejection_probability(
    shift: f64,
    s0: f64,
    s1: f64,
    alpha: f64,
    alt: Alternative,
) -> f64 {
    let ratio = s0 / s1;
    let z = shift / s1;
    let p = match alt {
        Alternative::TwoSided => {
            let c = upper_quantile(alpha / 2.0);
            normal_sf(c * ratio - z) + normal_cdf(-c * ratio - z)
        }
        Alternative::Greater => normal_sf(upper_quantile(alpha) * ratio - z),
        Alternative::Less => normal_cdf(-upper_quantile(alpha) * ratio - z),
    };
    p.clamp(0.0, 1.0)
}

/// Two-sided normal power as a function of the standardised shift `t ≥ 0`.
pub(super) fn two_sided_power(t: f64, c: f64) -> f64 {
    normal_sf(c - t) + normal_cdf(-c - t)
}

/// The standardised shift `t = |δ| √n_c / s` at which the equal-variance
/// z-test has power `power` (full equation, far tail included).
pub(super) fn standardised_shift(alpha: f64, power: f64, alt: Alternative) -> f64 {
    match alt {
        Alternative::Greater | Alternative::Less => upper_quantile(alpha) - upper_quantile(power),
        Alternative::TwoSided => {
            let c = upper_quantile(alpha / 2.0);
            // Power is increasing in t (c > 0): α at t = 0, and at the one-tail
            // solution the near tail alone reaches the target.
            let (mut lo, mut hi) = (0.0f64, c - upper_quantile(power));
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if mid <= lo || mid >= hi {
                    break;
                }
                if two_sided_power(mid, c) < power {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            hi
        }
    }
}

pub(super) fn check_direction(delta: f64, alt: Alternative) -> Result<()> {
    match alt {
        Alternative::Greater if delta < 0.0 => Err(Error::param(
            "effect",
            delta,
            "a `greater` alternative needs a positive effect (treatment − control)",
        )),
        Alternative::Less if delta > 0.0 => Err(Error::param(
            "effect",
            delta,
            "a `less` alternative needs a negative effect (treatment − control)",
        )),
        _ => Ok(()),
    }
}

pub(super) fn check_units(name: &'static str, units: f64) -> Result<()> {
    if !(units > 0.0 && units <= MAX_UNITS) {
        return Err(Error::param(name, units, "must be finite, > 0 and <= 2^53"));
    }
    Ok(())
}

pub(super) fn relative(delta: f64, mean: f64) -> Option<f64> {
    let r = delta / mean;
    (mean != 0.0 && r.is_finite()).then_some(r)
}

/// Rounds a unit count up, at least 1.
pub(super) fn round_up(x: f64) -> u64 {
    // `x` is checked to be in [0, 2^53], so the cast is exact.
    x.ceil().max(1.0) as u64
}
