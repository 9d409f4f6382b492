//! Small statistical building blocks shared by the analyses, each in one
//! place: sample quantiles and medians exactly as numpy computes them
//! ([`quantile`], [`median`]); and, for the crate, normal and Student t
//! tails and quantiles, Wilson intervals, two-proportion z-tests,
//! chi-square tails and the Holm and Benjamini–Hochberg adjustments.

use statrs::distribution::{ChiSquared, Continuous, ContinuousCDF, Normal, StudentsT};

fn standard_normal() -> Normal {
    // Mean 0, sd 1 are valid parameters; the fallback is unreachable but keeps this panic-free.
    Normal::new(0.0, 1.0).unwrap_or_else(|_| Normal::standard())
}

/// Φ⁻¹(p) of the standard normal.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    standard_normal().inverse_cdf(p)
}

/// Φ(x) of the standard normal.
pub(crate) fn normal_cdf(x: f64) -> f64 {
    standard_normal().cdf(x)
}

/// 1 − Φ(x) of the standard normal, accurate in the upper tail.
pub(crate) fn normal_sf(x: f64) -> f64 {
    standard_normal().sf(x)
}

/// φ(x), the standard normal density.
pub(crate) fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Degrees of freedom beyond which Student's t is evaluated by its
/// expansion around the normal (error O(ν⁻³) < 1e-13); statrs' incomplete
/// beta loses accuracy there.
const T_ASYMPTOTIC_DF: f64 = 1e5;

/// P(T > x) for Student's t with `df` degrees of freedom (NaN for df ≤ 0 or NaN input).
pub(crate) fn t_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df == f64::INFINITY || df > T_ASYMPTOTIC_DF {
        // F_t(x) = Φ(x) − φ(x)[(x³ + x)/(4ν) + (3x⁷ − 7x⁵ − 5x³ − 3x)/(96ν²)] + O(ν⁻³)
        // (Fisher 1925; Abramowitz & Stegun 26.7.5 give the quantile form).
        let x2 = x * x;
        let first = (x2 * x + x) / 4.0;
        let second = x * (((3.0 * x2 - 7.0) * x2 - 5.0) * x2 - 3.0) / 96.0;
        return normal_sf(x) + normal_pdf(x) * (first / df + second / (df * df));
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.sf(x),
        Err(_) => f64::NAN,
    }
}

/// The `p`-quantile of Student's t with `df` degrees of freedom.
///
/// statrs' own inverse loses digits for large `df` (1e-4 at df = 10⁶), so:
/// the Cornish–Fisher expansion as a start, then Newton steps on the tail.
pub(crate) fn t_quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let z = normal_quantile(p);
    let z3 = z * z * z;
    let z5 = z3 * z * z;
    // Abramowitz & Stegun 26.7.5, two terms.
    let mut x = z + (z3 + z) / (4.0 * df) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df);
    if df == f64::INFINITY || df > T_ASYMPTOTIC_DF {
        return x;
    }
    let Ok(dist) = StudentsT::new(0.0, 1.0, df) else {
        return f64::NAN;
    };
    if df < 1.0 || !x.is_finite() {
        // Very heavy tails: statrs' inverse is inaccurate and Newton unstable;
        // bisect on log |x| instead (the tail is monotone).
        let tail = 1.0 - p;
        let (mut lo, mut hi) = (-30.0f64, 700.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if dist.sf(mid.exp()) > tail {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return (0.5 * (lo + hi)).exp();
    }
    let tail = 1.0 - p;
    for _ in 0..50 {
        let step = (dist.sf(x) - tail) / dist.pdf(x);
        if !step.is_finite() {
            break;
        }
        x += step;
        if step.abs() <= 1e-14 * x.abs().max(1.0) {
            break;
        }
    }
    x
}

/// P(χ² > x) with `df` degrees of freedom.
pub(crate) fn chi2_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    match ChiSquared::new(df) {
        Ok(d) => d.sf(x.max(0.0)),
        Err(_) => f64::NAN,
    }
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
        // q ≥ p in exact arithmetic; (p · m) / m can round one ulp below p.
        adjusted[i] = running.min(1.0).max(p[i]);
    }
    adjusted
}

/// Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1), in
/// input order; NaN p-values stay NaN and do not count towards the family.
pub(crate) fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let m = order.len();
    let mut adjusted = vec![f64::NAN; p.len()];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(p[i] * (m - rank) as f64);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

// ---------------------------------------------------------------------------
// Sample quantiles (numpy's default, `method="linear"`, type 7 of Hyndman and Fan 1996).

/// The finite values, sorted.
pub(crate) fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted
}

/// numpy's `_lerp`: `a + t·(b − a)`, or `b − (1 − t)·(b − a)` for `t ≥ 0.5`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    let v = if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    };
    if v.is_finite() {
        v
    } else {
        // `b − a` overflowed (a and b of opposite signs near ±f64::MAX).
        a * (1.0 - t) + b * t
    }
}

/// The linear (type 7) quantile of sorted finite values (non-empty), `q` in `[0, 1]`.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let (Some(&first), Some(&last)) = (sorted.first(), sorted.last()) else {
        return f64::NAN;
    };
    let h = (n - 1) as f64 * q;
    if h >= (n - 1) as f64 {
        return last;
    }
    if h.is_nan() || h < 0.0 {
        return first;
    }
    let below = h.floor();
    let i = below as usize;
    match (sorted.get(i), sorted.get(i + 1)) {
        (Some(&a), Some(&b)) => lerp(a, b, h - below),
        _ => last,
    }
}

/// numpy's median of sorted finite values (non-empty).
pub(crate) fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        return sorted.get(n / 2).copied().unwrap_or(f64::NAN);
    }
    match (sorted.get(n / 2 - 1), sorted.get(n / 2)) {
        (Some(&a), Some(&b)) => {
            let m = (a + b) / 2.0;
            if m.is_finite() { m } else { a / 2.0 + b / 2.0 }
        }
        _ => f64::NAN,
    }
}

/// The `q`-quantile of the finite values of `values`, exactly as numpy's
/// `np.quantile(x, q)` (method `"linear"`) over them. `None` when there is no
/// finite value or `q` is not in `[0, 1]`.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let sorted = sorted_finite(values);
    (!sorted.is_empty()).then(|| quantile_sorted(&sorted, q))
}

/// The median of the finite values of `values`, exactly as numpy's
/// `np.median` over them. `None` when there is no finite value.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    median_mut(&mut finite)
}

/// [`median`] reordering `values` in place instead of copying them.
pub(crate) fn median_mut(values: &mut [f64]) -> Option<f64> {
    // The finite values moved to the front, in order.
    let mut n = values.len();
    if !values.iter().all(|v| v.is_finite()) {
        n = 0;
        for i in 0..values.len() {
            let v = values[i];
            if v.is_finite() {
                values[n] = v;
                n += 1;
            }
        }
    }
    let finite = &mut values[..n];
    // Selection instead of a full sort: linear time, the same value.
    if n == 0 {
        return None;
    }
    let (left, &mut upper, _) = finite.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    // The lower middle is the largest value left of the upper one.
    let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(median_sorted(&[lower, upper]))
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

    #[test]
    fn holm_matches_statsmodels() {
        // statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.2], method="holm")[1]
        // (statsmodels 0.15.0) -> [0.04, 0.09, 0.09, 0.2]
        let a = holm(&[0.01, 0.04, 0.03, 0.2]);
        for (got, want) in a.iter().zip([0.04, 0.09, 0.09, 0.2]) {
            assert!((got - want).abs() < 1e-12, "{a:?}");
        }
        let b = holm(&[f64::NAN, 0.5, 0.7]);
        assert!(b[0].is_nan() && b[1] == 1.0 && b[2] == 1.0);
    }

    #[test]
    fn t_and_chi2_match_scipy() {
        // scipy 1.17.1: (df, t.sf(2.5, df), t.ppf(0.975, df))
        let cases = [
            (3.0, 0.04385332350403278, 3.1824463052837078),
            (57.3, 0.007652683961901221, 2.002238268231336),
            (1000.0, 0.0062892839005454036, 1.9623390808264083),
            (1e5, 0.0062104595962795255, 1.9599877075346095),
            (1e6, 0.006209744751081627, 1.959966356814107),
            (1e8, 0.006209666120027275, 1.9599640082627663),
        ];
        for (df, sf, q) in cases {
            assert!(
                (t_sf(2.5, df) - sf).abs() < 1e-11,
                "sf df={df}: {}",
                t_sf(2.5, df)
            );
            assert!(
                (t_quantile(0.975, df) - q).abs() < 1e-10,
                "q df={df}: {}",
                t_quantile(0.975, df)
            );
            assert!((t_quantile(0.025, df) + q).abs() < 1e-10);
        }
        // scipy.stats.t.sf(6, 1000) = 1.3776845866887376e-09
        assert!((t_sf(6.0, 1000.0) - 1.3776845866887376e-09).abs() < 1e-18);
        assert!(t_sf(1.0, 0.0).is_nan() && t_quantile(1.0, 5.0).is_nan());
        // Heavy tails: scipy.stats.t.ppf(0.975, 0.5) = 164.55767348048818 (scipy 1.17.1)
        assert!((t_quantile(0.975, 0.5) / 164.55767348048818 - 1.0).abs() < 1e-9);
        // scipy.stats.chi2.sf(7.5, 2) = 0.023517745856009114
        assert!((chi2_sf(7.5, 2.0) - 0.023517745856009114).abs() < 1e-12);
    }
}
