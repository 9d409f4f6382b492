//! Small statistical building blocks shared by the analyses: normal
//! quantiles, Wilson intervals, two-proportion z-tests and the
//! Benjamini–Hochberg adjustment.

use statrs::distribution::{ContinuousCDF, Normal};

fn standard_normal() -> Normal {
    // Mean 0, sd 1 are valid parameters; the fallback is unreachable but keeps this panic-free.
    Normal::new(0.0, 1.0).unwrap_or_else(|_| Normal::standard())
}

/// Φ⁻¹(p) of the standard normal.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    standard_normal().inverse_cdf(p)
}

/// Two-sided p-value of a standard normal statistic: 2 (1 − Φ(|z|)).
pub(crate) fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    (2.0 * standard_normal().sf(z.abs())).min(1.0)
}

/// Wilson score interval for `successes` of `trials` at confidence `level`
/// (Wilson 1927); `(NaN, NaN)` without trials.
pub(crate) fn wilson_interval(successes: f64, trials: f64, level: f64) -> (f64, f64) {
    if trials <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let z = normal_quantile(0.5 + level / 2.0);
    let p = successes / trials;
    let z2n = z * z / trials;
    let centre = (p + z2n / 2.0) / (1.0 + z2n);
    let half = z * (p * (1.0 - p) / trials + z2n / (4.0 * trials)).sqrt() / (1.0 + z2n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Pooled two-proportion z-test of `x1/n1` against `x2/n2`: `(z, two-sided p)`,
/// as statsmodels' `proportions_ztest` (NaN when a sample is empty or the pooled rate is 0 or 1).
pub(crate) fn two_proportion_z(x1: f64, n1: f64, x2: f64, n2: f64) -> (f64, f64) {
    if n1 <= 0.0 || n2 <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let pooled = (x1 + x2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 || !se.is_finite() {
        return (f64::NAN, f64::NAN);
    }
    let z = (x1 / n1 - x2 / n2) / se;
    (z, two_sided_p(z))
}

/// Benjamini–Hochberg adjusted p-values (step-up, monotone, capped at 1), in
/// input order; NaN p-values stay NaN and do not count towards the family.
pub(crate) fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let m = order.len() as f64;
    let mut adjusted = vec![f64::NAN; p.len()];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m / (rank + 1) as f64);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels.stats.proportion.proportion_confint(12, 80, alpha=0.05, method="wilson")
        // (statsmodels 0.15.0) -> (0.08794040506163546, 0.24413228561323347)
        let (lo, hi) = wilson_interval(12.0, 80.0, 0.95);
        assert!((lo - 0.08794040506163546).abs() < 1e-12, "{lo}");
        assert!((hi - 0.24413228561323347).abs() < 1e-12, "{hi}");
        assert!(wilson_interval(0.0, 0.0, 0.95).0.is_nan());
        let (lo, hi) = wilson_interval(0.0, 10.0, 0.95);
        assert!(lo == 0.0 && hi > 0.0 && hi < 1.0);
    }

    #[test]
    fn z_test_matches_statsmodels() {
        // statsmodels.stats.proportion.proportions_ztest([30, 45], [200, 210])
        // (statsmodels 0.15.0) -> (-1.6829763461389204, 0.09237967055994593)
        let (z, p) = two_proportion_z(30.0, 200.0, 45.0, 210.0);
        assert!((z - -1.6829763461389204).abs() < 1e-12, "{z}");
        assert!((p - 0.09237967055994593).abs() < 1e-10, "{p}"); // statrs erfc to ~1e-11
    }

    #[test]
    fn bh_matches_statsmodels() {
        // statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.2], method="fdr_bh")[1]
        // (statsmodels 0.15.0) -> [0.04, 0.05333333, 0.05333333, 0.2]
        let a = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.2]);
        for (got, want) in a.iter().zip([0.04, 0.16 / 3.0, 0.16 / 3.0, 0.2]) {
            assert!((got - want).abs() < 1e-12, "{a:?}");
        }
        let b = benjamini_hochberg(&[f64::NAN, 0.5]);
        assert!(b[0].is_nan() && b[1] == 0.5);
    }
}
