//! Axes in numbers: nice tick values and domains, and the linear data-to-pixel scale.

/// "Nice" tick values covering `[lo, hi]`, about `target` of them, at steps of
/// 1, 2 or 5 × 10^k (Heckbert 1990, "Nice numbers for graph labels").
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if lo == hi {
        return vec![lo];
    }
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let first = (lo / step).ceil();
    let last = (hi / step).floor();
    let count = (last - first) as i64;
    if !(0..=1000).contains(&count) {
        return vec![lo, hi];
    }
    // Round to the step's decimals so that 3 × 0.2 is 0.6, not 0.6000000000000001.
    let decimals = (-step.log10().floor()).max(0.0) as usize + 1;
    (0..=count)
        .map(|i| {
            let t = (first + i as f64) * step;
            let t: f64 = format!("{t:.decimals$}").parse().unwrap_or(t);
            if t == 0.0 { 0.0 } else { t }
        })
        .collect()
}

/// The nice step (1, 2, 2.5 or 5 × 10^k) nearest above `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let exp = raw.log10().floor();
    let base = 10f64.powf(exp);
    let f = raw / base;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// A domain extended outward to nice tick values.
pub fn nice_domain(lo: f64, hi: f64, target: usize) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    let step = nice_step((hi - lo) / target.max(1) as f64);
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

/// A linear map from a data domain to pixel positions.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Domain start.
    pub d0: f64,
    /// Domain end.
    pub d1: f64,
    /// Pixel position of `d0`.
    pub r0: f64,
    /// Pixel position of `d1`.
    pub r1: f64,
}

impl Scale {
    /// A scale from `[d0, d1]` to `[r0, r1]`.
    pub fn new(d0: f64, d1: f64, r0: f64, r1: f64) -> Scale {
        Scale { d0, d1, r0, r1 }
    }

    /// Pixel position of `v`, clamped to the range.
    pub fn px(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        let t = if span == 0.0 || !span.is_finite() {
            0.5
        } else {
            ((v - self.d0) / span).clamp(0.0, 1.0)
        };
        let t = if t.is_nan() { 0.0 } else { t };
        self.r0 + t * (self.r1 - self.r0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 97.0, 5), vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        assert_eq!(
            nice_ticks(-3.0, 3.0, 6),
            vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
        );
        assert_eq!(nice_ticks(5.0, 5.0, 5), vec![5.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
        assert_eq!(nice_domain(0.03, 0.87, 5), (0.0, 1.0));
    }

    #[test]
    fn scales_clamp_and_survive_empty_domains() {
        let s = Scale::new(0.0, 10.0, 100.0, 200.0);
        assert_eq!(s.px(5.0), 150.0);
        assert_eq!(s.px(20.0), 200.0);
        assert_eq!(Scale::new(1.0, 1.0, 0.0, 10.0).px(1.0), 5.0);
    }
}
