//! Sequential testing: the mixture sequential probability ratio test of
//! Waudby-Smith et al. (2023), always-valid p-values and intervals.

/// Always-valid two-sided p-value and interval (gbstats' `SequentialTwoSidedTTest`).
pub(super) fn sequential(
    estimate: f64,
    variance: f64,
    n_total: f64,
    alpha: f64,
    tuning: f64,
) -> (f64, [f64; 2]) {
    // ρ from eq. 161 of Waudby-Smith et al.: the mixture is tightest at n = tuning.
    let rho2 = (-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / tuning;
    let s2 = variance * n_total;
    let nr = n_total * rho2 + 1.0;
    let width =
        s2.sqrt() * (2.0 * nr * (nr.sqrt() / alpha).ln() / (n_total * n_total * rho2)).sqrt();
    // Eq. 155 in log space: the e-value can overflow for large effects.
    let st2 = estimate * estimate * n_total / variance;
    let log_evalue = rho2 * st2 / (2.0 * nr) - 0.5 * nr.ln();
    let p = (-log_evalue).exp().min(1.0);
    (p, [estimate - width, estimate + width])
}
