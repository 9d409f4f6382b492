//! BG/BB: the beta-geometric/beta-Bernoulli model for customers who can buy only at discrete, common
//! transaction opportunities (an annual fundraising appeal, a weekly event, a yearly renewal window).
//!
//! # The model
//!
//! Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual setting",
//! *Marketing Science* 29 (6), 1086–1108; lifetimes' `BetaGeoBetaBinomFitter`.
//!
//! - While alive, a customer buys at each opportunity with probability `p` (Bernoulli); across customers
//!   `p ~ beta(α, β)`.
//! - At the start of each opportunity an alive customer dies with probability `θ` (geometric lifetime);
//!   across customers `θ ~ beta(γ, δ)`. `p` and `θ` are independent.
//!
//! A customer is summarised by `(x, t_x, n)`: `x` purchases over `n` opportunities, the last at opportunity
//! `t_x` (`t_x = 0` when `x = 0`). Their likelihood (FHS eq. 5) is
//!
//! ```text
//! L = B(α+x, β+n−x)/B(α,β) · B(γ, δ+n)/B(γ,δ)
//!   + Σ_{i=0}^{n−t_x−1} B(α+x, β+t_x−x+i)/B(α,β) · B(γ+1, δ+t_x+i)/B(γ,δ)
//! ```
//!
//! (alive through all `n` opportunities, or died right after opportunity `t_x + i`), evaluated here in log
//! space with a streaming log-sum-exp. From it follow P(alive) (FHS appendix, eq. A10), the expected
//! number of purchases in the next `m` opportunities (eq. 13), and, for a new customer, the distribution
//! (eq. 7) and mean of the number of purchases in the first `n` opportunities.
//!
//! # Parameters and domain
//!
//! Parameters are `[alpha, beta, gamma, delta]` in lifetimes' order. Counts are `u32` opportunities. The data
//! must satisfy `x ≤ t_x ≤ n` and `t_x = 0` when `x = 0`. Functions return `NaN` when a parameter is not a
//! finite positive number or the data breaks those rules; the fitted-model wrapper validates before calling.
//!
//! lifetimes adds `1e-15` inside the logarithm of the sum term, which shifts its log-likelihood (and everything
//! divided by it) when the sum is small, e.g. by 1.8e-3 for `(x, t_x, n) = (10, 37, 50)`; the values here are
//! the exact formula and agree with lifetimes to ~1e-12 wherever that constant is negligible.

use crate::lifecycle::special::{digamma, ln_beta, ln_gamma};

/// Whether every parameter is a finite, strictly positive number.
fn params_ok(params: &[f64; 4]) -> bool {
    params.iter().all(|&p| p.is_finite() && p > 0.0)
}

/// Whether `(x, t_x, n)` is a possible purchase history.
fn data_ok(x: u32, t_x: u32, n: u32) -> bool {
    x <= t_x && t_x <= n && (x > 0 || t_x == 0)
}

/// A streaming log-sum-exp that also carries the softmax-weighted mean of per-term gradients, so the sum of
/// any number of terms needs no buffer.
struct LogSumExp {
    max: f64,
    scaled_sum: f64,
    scaled_gradient: [f64; 4],
}

impl LogSumExp {
    fn new(log_term: f64, gradient: [f64; 4]) -> Self {
        Self {
            max: log_term,
            scaled_sum: 1.0,
            scaled_gradient: gradient,
        }
    }

    fn add(&mut self, log_term: f64, gradient: [f64; 4]) {
        if log_term > self.max {
            let scale = (self.max - log_term).exp();
            self.scaled_sum = self.scaled_sum * scale + 1.0;
            for (s, g) in self.scaled_gradient.iter_mut().zip(gradient) {
                *s = *s * scale + g;
            }
            self.max = log_term;
        } else {
            let weight = (log_term - self.max).exp();
            self.scaled_sum += weight;
            for (s, g) in self.scaled_gradient.iter_mut().zip(gradient) {
                *s += weight * g;
            }
        }
    }

    fn log_sum(&self) -> f64 {
        self.max + self.scaled_sum.ln()
    }

    fn mean_gradient(&self) -> [f64; 4] {
        self.scaled_gradient.map(|g| g / self.scaled_sum)
    }
}

/// The log-likelihood and, when `GRADIENT`, its gradient; assumes valid inputs.
///
/// Every term shares `−ln B(α,β) − ln B(γ,δ)`, which is added once at the end. Along the sum the Beta
/// functions and digammas advance by their recurrences (`B(a, b+1) = B(a, b)·b/(a+b)`,
/// `ψ(z+1) = ψ(z) + 1/z`), so each extra term costs a logarithm and a few divisions.
fn log_likelihood_core<const GRADIENT: bool>(
    params: &[f64; 4],
    x: u32,
    t_x: u32,
    n: u32,
) -> (f64, [f64; 4]) {
    let [alpha, beta, gamma, delta] = *params;
    let (xf, txf, nf) = (f64::from(x), f64::from(t_x), f64::from(n));
    let ax = alpha + xf;

    // Alive through all n opportunities.
    let log_alive = ln_beta(ax, beta + nf - xf) + ln_beta(gamma, delta + nf);
    let psi_ax = if GRADIENT { digamma(ax) } else { 0.0 };
    let gradient_alive = if GRADIENT {
        let psi_abn = digamma(alpha + beta + nf);
        let psi_gdn = digamma(gamma + delta + nf);
        [
            psi_ax - psi_abn,
            digamma(beta + nf - xf) - psi_abn,
            digamma(gamma) - psi_gdn,
            digamma(delta + nf) - psi_gdn,
        ]
    } else {
        [0.0; 4]
    };
    let mut sum = LogSumExp::new(log_alive, gradient_alive);

    // Died right after opportunity t_x + i, i = 0..n − t_x − 1.
    let terms = n - t_x;
    if terms > 0 {
        let g1 = gamma + 1.0;
        let mut u = beta + txf - xf; // second argument of B(α+x, ·)
        let mut w = delta + txf; // second argument of B(γ+1, ·)
        let mut log_p = ln_beta(ax, u);
        let mut log_theta = ln_beta(g1, w);
        let (mut psi_u, mut psi_s, mut psi_w, mut psi_r, psi_g1) = if GRADIENT {
            (
                digamma(u),
                digamma(ax + u),
                digamma(w),
                digamma(g1 + w),
                digamma(g1),
            )
        } else {
            (0.0, 0.0, 0.0, 0.0, 0.0)
        };
        for i in 0..terms {
            if i > 0 {
                // Advance u and w by one: ln B(a, b+1) = ln B(a, b) − ln(1 + a/b).
                log_p -= (ax / u).ln_1p();
                log_theta -= (g1 / w).ln_1p();
                if GRADIENT {
                    psi_u += 1.0 / u;
                    psi_s += 1.0 / (ax + u);
                    psi_w += 1.0 / w;
                    psi_r += 1.0 / (g1 + w);
                }
                u += 1.0;
                w += 1.0;
            }
            let gradient = if GRADIENT {
                [psi_ax - psi_s, psi_u - psi_s, psi_g1 - psi_r, psi_w - psi_r]
            } else {
                [0.0; 4]
            };
            sum.add(log_p + log_theta, gradient);
        }
    }

    let ll = sum.log_sum() - ln_beta(alpha, beta) - ln_beta(gamma, delta);
    if !GRADIENT {
        return (ll, [0.0; 4]);
    }
    let psi_ab = digamma(alpha + beta);
    let psi_gd = digamma(gamma + delta);
    let common = [
        psi_ab - digamma(alpha),
        psi_ab - digamma(beta),
        psi_gd - digamma(gamma),
        psi_gd - digamma(delta),
    ];
    let mean = sum.mean_gradient();
    (
        ll,
        [
            mean[0] + common[0],
            mean[1] + common[1],
            mean[2] + common[2],
            mean[3] + common[3],
        ],
    )
}

/// Log-likelihood of one customer's history: `x` purchases in `n` opportunities, the last at opportunity
/// `t_x` (FHS eq. 5).
///
/// Matches lifetimes' `BetaGeoBetaBinomFitter._loglikelihood` up to its `1e-15` guard (see the module docs).
/// Costs `O(n − t_x)`. `NaN` on invalid parameters or data.
pub fn log_likelihood(params: &[f64; 4], x: u32, t_x: u32, n: u32) -> f64 {
    if !params_ok(params) || !data_ok(x, t_x, n) {
        return f64::NAN;
    }
    log_likelihood_core::<false>(params, x, t_x, n).0
}

/// [`log_likelihood`] and its gradient with respect to `[alpha, beta, gamma, delta]` (not their logarithms).
///
/// With `w_j` the share of term `j` in the likelihood (a softmax of the log terms), the gradient is
/// `Σ_j w_j ∇ ln term_j`, where `∂ ln B(a, b)/∂a = ψ(a) − ψ(a + b)`.
pub(crate) fn log_likelihood_gradient(
    params: &[f64; 4],
    x: u32,
    t_x: u32,
    n: u32,
) -> (f64, [f64; 4]) {
    if !params_ok(params) || !data_ok(x, t_x, n) {
        return (f64::NAN, [f64::NAN; 4]);
    }
    log_likelihood_core::<true>(params, x, t_x, n)
}

/// Probability that a customer with history `(x, t_x, n)` is still alive at opportunity `n + m`
/// (FHS eq. A10; lifetimes' `conditional_probability_alive(m, x, t_x, n)`):
///
/// ```text
/// P(alive at n+m | x, t_x, n) = B(α+x, β+n−x)/B(α,β) · B(γ, δ+n+m)/B(γ,δ) / L(α, β, γ, δ | x, t_x, n)
/// ```
///
/// `m = 0` gives the probability of being alive at the last observed opportunity `n` (1 when `t_x = n`).
/// The result is in `[0, 1]`. `NaN` on invalid parameters or data.
pub fn p_alive(params: &[f64; 4], x: u32, t_x: u32, n: u32, m: u32) -> f64 {
    if !params_ok(params) || !data_ok(x, t_x, n) {
        return f64::NAN;
    }
    let [alpha, beta, gamma, delta] = *params;
    let (xf, nf) = (f64::from(x), f64::from(n));
    let ll = log_likelihood_core::<false>(params, x, t_x, n).0;
    let log_alive = ln_beta(alpha + xf, beta + nf - xf) - ln_beta(alpha, beta)
        + ln_beta(gamma, delta + nf + f64::from(m))
        - ln_beta(gamma, delta);
    (log_alive - ll).exp().clamp(0.0, 1.0)
}

/// ln Σ_{k=n+1}^{n+m} B(γ, δ+k)/B(γ, δ): the log of the expected number of the opportunities `n+1 … n+m` at
/// which a customer alive at the start is still alive, averaged over θ ~ beta(γ, δ) (ignoring what is known
/// about them). `−∞` when `m = 0`. Kept in logs because the callers multiply it by factors that can overflow.
///
/// The sum telescopes to FHS's closed form
/// `Γ(γ+δ)/Γ(δ) · [Γ(δ+n+1)/Γ(γ+δ+n) − Γ(δ+n+m+1)/Γ(γ+δ+n+m)] / (γ − 1)`, which is 0/0 at γ = 1 and loses
/// digits near it; the sum is used directly (one multiplication per term) when `m ≤ 64` or γ is within 0.01
/// of 1 (up to a million terms), the closed form otherwise.
fn ln_expected_alive_opportunities(gamma: f64, delta: f64, n: u32, m: u32) -> f64 {
    if m == 0 {
        return f64::NEG_INFINITY;
    }
    let nf = f64::from(n);
    let near_one = (gamma - 1.0).abs() < 1e-2;
    if m <= 64 || (near_one && m <= 1_000_000) {
        // Terms relative to the first, B(γ, δ+n+1)/B(γ, δ); they only shrink, so nothing overflows.
        let first = ln_beta(gamma, delta + nf + 1.0) - ln_beta(gamma, delta);
        let mut term = 1.0;
        let mut k = nf + 1.0;
        let mut sum = 0.0;
        for _ in 0..m {
            sum += term;
            term *= (delta + k) / (gamma + delta + k);
            k += 1.0;
        }
        return first + sum.ln();
    }
    let mf = f64::from(m);
    let r1 = ln_gamma(delta + nf + 1.0) - ln_gamma(gamma + delta + nf);
    let r2 = ln_gamma(delta + nf + mf + 1.0) - ln_gamma(gamma + delta + nf + mf);
    ln_gamma(gamma + delta) - ln_gamma(delta) + r1 + (-(r2 - r1).exp_m1() / (gamma - 1.0)).ln()
}

/// Expected number of purchases in the next `m` opportunities (`n+1 … n+m`) by a customer with history
/// `(x, t_x, n)` (FHS eq. 13; lifetimes' `conditional_expected_number_of_purchases_up_to_time(m, x, t_x, n)`):
///
/// ```text
/// E[X(n, n+m) | x, t_x, n] = 1/L · B(α+x+1, β+n−x)/B(α,β) · Σ_{k=n+1}^{n+m} B(γ, δ+k)/B(γ,δ)
/// ```
///
/// (the sum is eq. 13's `δ/(γ−1) · Γ(γ+δ)/Γ(1+δ) · […]` written so that it stays exact at γ = 1).
/// Non-negative; `NaN` on invalid parameters or data.
pub fn expected_purchases(params: &[f64; 4], x: u32, t_x: u32, n: u32, m: u32) -> f64 {
    if !params_ok(params) || !data_ok(x, t_x, n) {
        return f64::NAN;
    }
    let [alpha, beta, gamma, delta] = *params;
    let (xf, nf) = (f64::from(x), f64::from(n));
    let ll = log_likelihood_core::<false>(params, x, t_x, n).0;
    let log_buy_and_posterior =
        ln_beta(alpha + xf + 1.0, beta + nf - xf) - ln_beta(alpha, beta) - ll;
    (log_buy_and_posterior + ln_expected_alive_opportunities(gamma, delta, n, m)).exp()
}

/// Expected number of purchases in the first `n` opportunities by a randomly chosen new customer (FHS 2010):
///
/// ```text
/// E[X(n)] = α/(α+β) · δ/(γ−1) · [1 − Γ(γ+δ)/Γ(γ+δ+n) · Γ(1+δ+n)/Γ(1+δ)] = α/(α+β) · Σ_{k=1}^{n} B(γ, δ+k)/B(γ,δ)
/// ```
///
/// lifetimes has no direct equivalent; its `expected_number_of_transactions_in_first_n_periods(n)` returns
/// the distribution behind this mean, see [`purchase_count_probability`]. `NaN` on invalid parameters.
pub fn expected_purchases_new_customer(params: &[f64; 4], n: u32) -> f64 {
    if !params_ok(params) {
        return f64::NAN;
    }
    let [alpha, beta, gamma, delta] = *params;
    alpha / (alpha + beta) * ln_expected_alive_opportunities(gamma, delta, 0, n).exp()
}

/// Probability that a randomly chosen new customer makes exactly `x` purchases in the first `n` opportunities
/// (FHS eq. 7):
///
/// ```text
/// P(X(n) = x) = C(n, x) B(α+x, β+n−x)/B(α,β) · B(γ, δ+n)/B(γ,δ)
///             + Σ_{i=x}^{n−1} C(i, x) B(α+x, β+i−x)/B(α,β) · B(γ+1, δ+i)/B(γ,δ)
/// ```
///
/// Times the cohort size this is lifetimes' `expected_number_of_transactions_in_first_n_periods(n)` row for
/// `x`. 0 when `x > n`; costs `O(n − x)`; `NaN` on invalid parameters.
pub fn purchase_count_probability(params: &[f64; 4], x: u32, n: u32) -> f64 {
    if !params_ok(params) {
        return f64::NAN;
    }
    if x > n {
        return 0.0;
    }
    let [alpha, beta, gamma, delta] = *params;
    let (xf, nf) = (f64::from(x), f64::from(n));
    let ln_choose = |i: f64| ln_gamma(i + 1.0) - ln_gamma(xf + 1.0) - ln_gamma(i - xf + 1.0);
    let base = ln_beta(alpha, beta) + ln_beta(gamma, delta);
    let mut probability =
        (ln_choose(nf) + ln_beta(alpha + xf, beta + nf - xf) + ln_beta(gamma, delta + nf) - base)
            .exp();
    for i in x..n {
        let i = f64::from(i);
        probability +=
            (ln_choose(i) + ln_beta(alpha + xf, beta + i - xf) + ln_beta(gamma + 1.0, delta + i)
                - base)
                .exp();
    }
    probability.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// FHS (2010) estimates on the donations data (lifetimes' `load_donations`).
    const DONATIONS: [f64; 4] = [1.204, 0.750, 0.657, 2.783];

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(1e-300)
    }

    // Reference values at DONATIONS, exact formulas in Python (scipy 1.17):
    //   a, b, g, d = 1.204, 0.750, 0.657, 2.783
    //   ll = logsumexp([betaln(a+x, b+n-x) - betaln(a, b) + betaln(g, d+n) - betaln(g, d)]
    //                  + [betaln(a+x, b+tx-x+i) - betaln(a, b) + betaln(g+1, d+tx+i) - betaln(g, d)
    //                     for i in range(n - tx)])
    //   p_alive(m) = exp(betaln(a+x, b+n-x) - betaln(a, b) + betaln(g, d+n+m) - betaln(g, d) - ll)
    //   expected(m) = exp(betaln(a+x+1, b+n-x) - betaln(a, b) - ll)
    //                 * sum(exp(betaln(g, d+k) - betaln(g, d)) for k in range(n+1, n+m+1))
    // lifetimes 0.11.3 (BetaGeoBetaBinomFitter with params_ set: _loglikelihood,
    // conditional_probability_alive, conditional_expected_number_of_purchases_up_to_time) agrees to
    // within 3e-13 relative on every row but the last, where its 1e-15 guard moves the log-likelihood to
    // -28.024978381759652, P(alive, m=0) to 0.265174016596256 and E[X, m=10] to 0.5364070696818857.
    /// (x, t_x, n, log-likelihood, P(alive, m=0), P(alive, m=5), E[purchases, m=1], E[purchases, m=10])
    type Row = (u32, u32, u32, f64, f64, f64, f64, f64);
    const REFERENCE: [Row; 8] = [
        (
            0,
            0,
            6,
            -1.167262472673893,
            0.11609661329298461,
            0.08594974499568095,
            0.01635051135769216,
            0.1301037914128484,
        ),
        (
            1,
            1,
            6,
            -2.2885316856662574,
            0.07460006829896716,
            0.05522862954473508,
            0.019232516649136916,
            0.1530363962155999,
        ),
        (
            3,
            5,
            6,
            -5.615894746361415,
            0.8240885155367921,
            0.6100970196736701,
            0.4052489245891401,
            3.2246344106065044,
        ),
        (
            6,
            6,
            6,
            -2.1822484476183,
            1.0,
            0.7403294769570569,
            0.8426728583422473,
            6.705290825014492,
        ),
        (
            2,
            3,
            10,
            -4.779721267083653,
            0.059862175462800836,
            0.048071615451490995,
            0.01526037731297672,
            0.1282940008601248,
        ),
        (
            0,
            0,
            1,
            -0.6901322826478584,
            0.6191731424360759,
            0.3501771086818206,
            0.2150212969278296,
            1.462618653379128,
        ),
        (
            4,
            4,
            20,
            -4.062563874688549,
            9.465841950074557e-05,
            8.301601227236705e-05,
            2.1809021451482193e-05,
            0.00019559745918675233,
        ),
        (
            10,
            37,
            50,
            -28.026757640094846,
            0.2656462496632907,
            0.2502646851377156,
            0.05658292837286082,
            0.5373623260039926,
        ),
    ];

    #[test]
    fn matches_reference_values() {
        for &(x, t_x, n, ll, alive0, alive5, e1, e10) in &REFERENCE {
            let got = log_likelihood(&DONATIONS, x, t_x, n);
            assert!(
                close(got, ll, 1e-12),
                "ll({x}, {t_x}, {n}) = {got}, expected {ll}"
            );
            assert!(close(
                log_likelihood_gradient(&DONATIONS, x, t_x, n).0,
                ll,
                1e-12
            ));
            let got = p_alive(&DONATIONS, x, t_x, n, 0);
            assert!(
                close(got, alive0, 1e-11),
                "p_alive({x}, {t_x}, {n}, 0) = {got}, expected {alive0}"
            );
            let got = p_alive(&DONATIONS, x, t_x, n, 5);
            assert!(
                close(got, alive5, 1e-11),
                "p_alive({x}, {t_x}, {n}, 5) = {got}, expected {alive5}"
            );
            let got = expected_purchases(&DONATIONS, x, t_x, n, 1);
            assert!(
                close(got, e1, 1e-11),
                "E({x}, {t_x}, {n}, 1) = {got}, expected {e1}"
            );
            let got = expected_purchases(&DONATIONS, x, t_x, n, 10);
            assert!(
                close(got, e10, 1e-11),
                "E({x}, {t_x}, {n}, 10) = {got}, expected {e10}"
            );
        }
    }

    /// lifetimes' donations data set: (frequency, recency, periods, weights).
    const DONATION_DATA: [(u32, u32, u32, u32); 22] = [
        (0, 0, 6, 3464),
        (1, 1, 6, 1091),
        (1, 2, 6, 277),
        (1, 3, 6, 129),
        (1, 4, 6, 78),
        (1, 5, 6, 119),
        (1, 6, 6, 129),
        (2, 2, 6, 613),
        (2, 3, 6, 255),
        (2, 4, 6, 155),
        (2, 5, 6, 173),
        (2, 6, 6, 234),
        (3, 3, 6, 322),
        (3, 4, 6, 181),
        (3, 5, 6, 225),
        (3, 6, 6, 357),
        (4, 4, 6, 240),
        (4, 5, 6, 284),
        (4, 6, 6, 512),
        (5, 5, 6, 335),
        (5, 6, 6, 728),
        (6, 6, 6, 1203),
    ];

    #[test]
    fn donations_total_log_likelihood() {
        // FHS (2010) report LL = −33,225.6 at their estimates. Exact (scipy, as above): −33225.58175451858;
        // lifetimes: (_loglikelihood(params, frequency, recency, periods) * weights).sum() = −33225.58175451771.
        let total: f64 = DONATION_DATA
            .iter()
            .map(|&(x, t_x, n, w)| f64::from(w) * log_likelihood(&DONATIONS, x, t_x, n))
            .sum();
        assert!(close(total, -33225.58175451858, 1e-12), "total {total}");
    }

    #[test]
    fn new_customer_distribution_and_mean() {
        // P(X(n) = x) (eq. 7) in Python with scipy.special.binom / betaln; with 11,104 donors it reproduces
        // lifetimes' expected_number_of_transactions_in_first_n_periods(6): 3455.761821 for x = 0.
        for (x, n, expected) in [
            (0, 6, 0.3112177432638496),
            (3, 6, 0.10026311502480371),
            (6, 6, 0.11278764820774681),
            (2, 10, 0.10100361128568953),
        ] {
            let got = purchase_count_probability(&DONATIONS, x, n);
            assert!(
                close(got, expected, 1e-12),
                "P(X({n}) = {x}) = {got}, expected {expected}"
            );
        }
        assert!(close(
            purchase_count_probability(&DONATIONS, 0, 6) * 11104.0,
            3455.761821,
            1e-9
        ));
        assert_eq!(purchase_count_probability(&DONATIONS, 7, 6), 0.0);
        // E[X(n)] by FHS's closed form: a/(a+b)·d/(g−1)·(1 − exp(gammaln(g+d) − gammaln(g+d+n)
        // + gammaln(1+d+n) − gammaln(1+d))).
        for (n, expected) in [
            (1, 0.498490276356192),
            (6, 2.2196313934873078),
            (10, 3.1788543264923055),
            (30, 6.237131717102318),
        ] {
            let got = expected_purchases_new_customer(&DONATIONS, n);
            assert!(
                close(got, expected, 1e-12),
                "E[X({n})] = {got}, expected {expected}"
            );
        }
        // The distribution sums to 1 and its mean is E[X(n)], also through the closed form (n > 64).
        for n in [10u32, 100] {
            let (mut total, mut mean) = (0.0, 0.0);
            for x in 0..=n {
                let p = purchase_count_probability(&DONATIONS, x, n);
                total += p;
                mean += f64::from(x) * p;
            }
            assert!(close(total, 1.0, 1e-12), "n = {n}: total {total}");
            assert!(
                close(mean, expected_purchases_new_customer(&DONATIONS, n), 1e-11),
                "n = {n}: mean {mean}"
            );
        }
    }

    #[test]
    fn expected_purchases_is_smooth_through_gamma_one() {
        /// eq. 13 with its sum written out term by term.
        fn direct(params: [f64; 4], m: u32) -> f64 {
            let [alpha, beta, gamma, delta] = params;
            let ll = log_likelihood(&params, 3, 5, 8);
            let posterior = (ln_beta(alpha + 4.0, beta + 5.0) - ln_beta(alpha, beta) - ll).exp();
            let alive: f64 = (9..=8 + m)
                .map(|k| (ln_beta(gamma, delta + f64::from(k)) - ln_beta(gamma, delta)).exp())
                .sum();
            posterior * alive
        }
        // Both paths (the sum for m ≤ 64 or γ near 1, the closed form otherwise) against the direct sum,
        // including γ = 1 exactly and either side of the switch at |γ − 1| = 0.01.
        for gamma in [0.5, 0.98999, 0.99001, 1.0, 1.00999, 1.01001, 3.0] {
            let params = [1.2, 0.8, gamma, 2.5];
            for m in [1, 64, 65, 1000] {
                let got = expected_purchases(&params, 3, 5, 8, m);
                let expected = direct(params, m);
                assert!(
                    close(got, expected, 1e-10),
                    "γ = {gamma}, m = {m}: {got} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn gradient_matches_central_differences() {
        let cases = [
            (DONATIONS, 0, 0, 6),
            (DONATIONS, 3, 5, 6),
            (DONATIONS, 6, 6, 6),
            (DONATIONS, 10, 37, 50),
            ([0.3, 5.0, 2.0, 0.4], 2, 3, 30),
            ([8.0, 0.2, 0.1, 12.0], 7, 9, 200),
        ];
        for (params, x, t_x, n) in cases {
            let (_, gradient) = log_likelihood_gradient(&params, x, t_x, n);
            for j in 0..4 {
                let h = 1e-6 * params[j];
                let (mut up, mut down) = (params, params);
                up[j] += h;
                down[j] -= h;
                let numeric =
                    (log_likelihood(&up, x, t_x, n) - log_likelihood(&down, x, t_x, n)) / (2.0 * h);
                let scale = gradient[j].abs().max(1e-3);
                assert!(
                    (gradient[j] - numeric).abs() <= 1e-5 * scale,
                    "∂{j} at {params:?}, ({x}, {t_x}, {n}): analytic {}, numeric {numeric}",
                    gradient[j]
                );
            }
        }
    }

    #[test]
    fn extremes_are_finite_and_domain_is_nan() {
        for params in [
            [1e-3, 1e-3, 1e-3, 1e-3],
            [1e3, 1e3, 1e3, 1e3],
            [1e-4, 1e4, 1e4, 1e-4],
        ] {
            for (x, t_x, n) in [
                (0, 0, 0),
                (0, 0, 5000),
                (5000, 5000, 5000),
                (1, 1, 5000),
                (2500, 4999, 5000),
            ] {
                let (ll, gradient) = log_likelihood_gradient(&params, x, t_x, n);
                assert!(
                    ll.is_finite() && ll <= 1e-12,
                    "{params:?} ({x}, {t_x}, {n}): {ll}"
                );
                assert!(
                    gradient.iter().all(|g| g.is_finite()),
                    "{params:?} ({x}, {t_x}, {n}): {gradient:?}"
                );
                let alive = p_alive(&params, x, t_x, n, 100);
                assert!((0.0..=1.0).contains(&alive));
                let e = expected_purchases(&params, x, t_x, n, 100_000);
                assert!(
                    (0.0..=100_000.0).contains(&e),
                    "{params:?} ({x}, {t_x}, {n}): {e}"
                );
            }
        }
        assert!(log_likelihood(&DONATIONS, 2, 1, 6).is_nan());
        assert!(log_likelihood(&DONATIONS, 0, 1, 6).is_nan());
        assert!(log_likelihood(&DONATIONS, 1, 7, 6).is_nan());
        assert!(p_alive(&[1.0, 0.0, 1.0, 1.0], 0, 0, 6, 0).is_nan());
        assert!(expected_purchases_new_customer(&[f64::NAN, 1.0, 1.0, 1.0], 3).is_nan());
        assert_eq!(log_likelihood(&DONATIONS, 0, 0, 0), 0.0);
    }

    /// A valid history: x ≤ t_x ≤ n, t_x = 0 when x = 0.
    fn history() -> impl Strategy<Value = (u32, u32, u32)> {
        (0u32..200)
            .prop_flat_map(|n| (0..=n).prop_flat_map(move |t_x| (0..=t_x, Just(t_x), Just(n))))
            .prop_map(|(x, t_x, n)| if x == 0 { (0, 0, n) } else { (x, t_x, n) })
    }

    fn parameter() -> impl Strategy<Value = f64> {
        (-3.0f64..3.0).prop_map(|e| 10f64.powf(e))
    }

    proptest! {
        #[test]
        fn probabilities_and_expectations_are_in_range(
            alpha in parameter(), beta in parameter(), gamma in parameter(), delta in parameter(),
            (x, t_x, n) in history(), m in 0u32..300,
        ) {
            let params = [alpha, beta, gamma, delta];
            let ll = log_likelihood(&params, x, t_x, n);
            prop_assert!(ll.is_finite() && ll <= 1e-12);
            let now = p_alive(&params, x, t_x, n, m);
            let later = p_alive(&params, x, t_x, n, m + 1);
            prop_assert!((0.0..=1.0).contains(&now) && later <= now * (1.0 + 1e-12));
            let e = expected_purchases(&params, x, t_x, n, m);
            prop_assert!(e >= 0.0 && e <= f64::from(m) * (1.0 + 1e-9));
            prop_assert!(expected_purchases(&params, x, t_x, n, m + 1) >= e * (1.0 - 1e-12));
            let p = purchase_count_probability(&params, x, n);
            prop_assert!((0.0..=1.0).contains(&p));
            let new = expected_purchases_new_customer(&params, n);
            prop_assert!(new >= 0.0 && new <= f64::from(n) * (1.0 + 1e-9));
        }
    }
}
