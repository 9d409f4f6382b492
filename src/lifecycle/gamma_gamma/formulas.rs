//! Gamma–Gamma model of monetary value: how much a customer spends per transaction, and what that spend is
//! worth over a horizon once a transaction model says how often they will buy.
//!
//! # The model
//!
//! Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013, <http://www.brucehardie.com/notes/025/>),
//! after Fader, Hardie & Lee (2005), "RFM and CLV: Using iso-value curves for customer base analysis",
//! *Journal of Marketing Research* 42, 415–430. It is the spend model of lifetimes' `GammaGammaFitter`.
//!
//! - The value of each of a customer's transactions is gamma(p, ν) with shape `p` common to everyone and a
//!   rate ν that is the customer's own; their mean transaction value is therefore `p / ν`.
//! - Across customers ν ~ gamma(q, γ).
//! - Spend is independent of the transaction process (check with [`spend_frequency_correlation`]).
//!
//! For a customer with `x ≥ 1` repeat transactions of mean value `m` (the mean of those `x` values), the
//! density of `m` (the note's eq. 1a, with ν integrated out) is
//!
//! ```text
//! f(m | p, q, γ; x) = Γ(px + q) / (Γ(px) Γ(q)) · γ^q · m^(px − 1) · x^(px) / (γ + m x)^(px + q)
//! ```
//!
//! and the conditional expectation of their mean transaction value (eq. 5) is the credibility-weighted blend
//!
//! ```text
//! E(M | p, q, γ; m, x) = (q − 1)/(px + q − 1) · pγ/(q − 1)  +  px/(px + q − 1) · m
//! ```
//!
//! of the population mean `pγ/(q − 1)` (finite only for `q > 1`) and the customer's own mean.
//!
//! # Parameters
//!
//! Parameters are `[p, q, v]` in lifetimes' order and names; `v` is the paper's γ (the rate of the gamma
//! mixing distribution, in the currency's units). Functions return `NaN` when a parameter is not a finite
//! positive number or the data is outside the domain documented on each function; the fitted-model wrapper
//! validates before calling them.

use crate::lifecycle::special::{digamma, ln_gamma};

/// Whether every parameter is a finite, strictly positive number.
fn params_ok(params: &[f64; 3]) -> bool {
    params.iter().all(|&p| p.is_finite() && p > 0.0)
}

/// Whether `(x, m)` is a customer the likelihood applies to: at least one repeat transaction (`x > 0`,
/// fractional counts allowed as in lifetimes) and a positive, finite mean value `m`.
fn data_ok(x: f64, m: f64) -> bool {
    x.is_finite() && x > 0.0 && m.is_finite() && m > 0.0
}

/// Log-likelihood of one customer's mean transaction value `m` over `x` repeat transactions (the note's
/// eq. 1a): `ln f(m | p, q, v; x)`.
///
/// This is exactly the per-customer term of lifetimes' `GammaGammaFitter._negative_log_likelihood` with the
/// sign flipped (same constant terms, no penalty): summing it over customers, weighting by their counts and
/// dividing by the total weight gives the negative of lifetimes' objective.
///
/// Needs `x > 0` and `m > 0`; `NaN` otherwise or when a parameter is not finite and positive.
pub fn log_likelihood(params: &[f64; 3], x: f64, m: f64) -> f64 {
    if !params_ok(params) || !data_ok(x, m) {
        return f64::NAN;
    }
    let [p, q, v] = *params;
    let px = p * x;
    ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * v.ln() + (px - 1.0) * m.ln() + px * x.ln()
        - (px + q) * (x * m + v).ln()
}

/// [`log_likelihood`] and its gradient with respect to `[p, q, v]` (not their logarithms: multiply each
/// component by its parameter for the gradient in log-parameters).
///
/// ```text
/// ∂/∂p = x [ψ(px + q) − ψ(px) + ln m + ln x − ln(xm + v)]
/// ∂/∂q = ψ(px + q) − ψ(q) + ln v − ln(xm + v)
/// ∂/∂v = q / v − (px + q) / (xm + v)
/// ```
pub(crate) fn log_likelihood_gradient(params: &[f64; 3], x: f64, m: f64) -> (f64, [f64; 3]) {
    if !params_ok(params) || !data_ok(x, m) {
        return (f64::NAN, [f64::NAN; 3]);
    }
    let [p, q, v] = *params;
    let px = p * x;
    let ln_xmv = (x * m + v).ln();
    let psi_pxq = digamma(px + q);
    let ll = ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q)
        + q * v.ln()
        + (px - 1.0) * m.ln()
        + px * x.ln()
        - (px + q) * ln_xmv;
    let d_p = x * (psi_pxq - digamma(px) + m.ln() + x.ln() - ln_xmv);
    let d_q = psi_pxq - digamma(q) + v.ln() - ln_xmv;
    let d_v = q / v - (px + q) / (x * m + v);
    (ll, [d_p, d_q, d_v])
}

/// Expected mean transaction value of a customer with `x` repeat transactions of mean value `m` (the note's
/// eq. 5; lifetimes' `conditional_expected_average_profit`).
///
/// The result weighs the customer's own mean by `px / (px + q − 1)` and the population mean `p v / (q − 1)`
/// by the rest, so customers with few transactions are pulled toward the population. With `x = 0` (no repeat
/// transaction, `m` ignored) it is the population mean. Needs `q > 1` (otherwise the population mean is
/// infinite and the weights leave `[0, 1]`), `x ≥ 0` and, for `x > 0`, a finite `m ≥ 0`; `NaN` otherwise.
pub fn conditional_expected_average_profit(params: &[f64; 3], x: f64, m: f64) -> f64 {
    if !params_ok(params) || !x.is_finite() || x < 0.0 {
        return f64::NAN;
    }
    let [p, q, v] = *params;
    if q <= 1.0 {
        return f64::NAN;
    }
    let population_mean = p * v / (q - 1.0);
    if x == 0.0 {
        return population_mean;
    }
    if !(m.is_finite() && m >= 0.0) {
        return f64::NAN;
    }
    let individual_weight = p * x / (p * x + q - 1.0);
    (1.0 - individual_weight) * population_mean + individual_weight * m
}

/// Discounted value of a customer's expected purchases over a horizon, summed step by step: the computation
/// of lifetimes' `utils._customer_lifetime_value` (behind `GammaGammaFitter.customer_lifetime_value`) for one
/// customer.
///
/// ```text
/// CLV = Σ_{k=1..K} average_profit · (E[N(k·step)] − E[N((k−1)·step)]) / (1 + discount_rate)^k
/// ```
///
/// with `K = ⌊horizon / step⌋` steps (a relative slack of 1e-9 absorbs rounding, so `12 · 4.345 / 4.345`
/// counts as 12 steps). `expected_cumulative_purchases(t)` is the customer's expected number of purchases in
/// the next `t` model periods (e.g. BG/NBD's conditional expectation); it is called `K + 1` times, at
/// `t = 0, step, 2·step, …, K·step`, and each value is used for both neighbouring differences. Purchases in
/// step `k` are discounted by a full `k` steps, as lifetimes does (no mid-step convention).
/// `average_profit` is typically [`conditional_expected_average_profit`].
///
/// # Units, and how to reproduce lifetimes
///
/// `horizon` and `step` are in the transaction model's time unit; `discount_rate` is per step. lifetimes
/// takes `time` in months, a per-month `discount_rate` and `freq`, the unit of the model's `T`, which it
/// turns into model periods per month: `"D"` → 30, `"W"` → 4.345, `"M"` → 1, `"H"` → 720. lifetimes'
/// `customer_lifetime_value(model, x, t_x, T, m, time, discount_rate, freq)` is therefore this function with
/// `step = factor(freq)`, `horizon = ⌈time⌉ · step` (lifetimes iterates `numpy.arange(1, time + 1)`, so a
/// fractional `time` adds a whole extra month) and the same `discount_rate`. lifetimes evaluates the earlier
/// point as `k·step − step` rather than `(k − 1)·step`; the two differ in the last bit at most.
///
/// `NaN` when `step` is not finite and positive, `horizon` is negative or not finite, or
/// `discount_rate ≤ −1`; 0 when the horizon holds no whole step.
pub fn customer_lifetime_value(
    expected_cumulative_purchases: impl Fn(f64) -> f64,
    average_profit: f64,
    horizon: f64,
    step: f64,
    discount_rate: f64,
) -> f64 {
    let step_ok = step.is_finite() && step > 0.0;
    let horizon_ok = horizon.is_finite() && horizon >= 0.0;
    let rate_ok = discount_rate.is_finite() && discount_rate > -1.0;
    if !(step_ok && horizon_ok && rate_ok) {
        return f64::NAN;
    }
    let ratio = horizon / step;
    let steps = (ratio + ratio * 1e-9).floor();
    if steps < 1.0 {
        return 0.0;
    }
    let growth = 1.0 + discount_rate;
    let mut previous = expected_cumulative_purchases(0.0);
    let mut discount = 1.0;
    let mut clv = 0.0;
    let mut k = 1.0;
    while k <= steps {
        let cumulative = expected_cumulative_purchases(k * step);
        discount *= growth;
        clv += average_profit * (cumulative - previous) / discount;
        previous = cumulative;
        k += 1.0;
    }
    clv
}

/// Pearson correlation between customers' repeat-transaction counts `x` and their mean transaction values `m`
/// (pairs `(x[i], m[i])`): the check of the Gamma–Gamma model's independence assumption.
///
/// The model assumes a customer's spend per transaction does not depend on how often they buy. Compute this
/// over the customers the spend model is fitted on (`x ≥ 1`). lifetimes' documentation asks for this Pearson
/// correlation to be close to 0 before the model is used; a clearly positive or negative value means frequency
/// and spend move together, and CLV built from the two independently fitted models will be biased. Correlation
/// only sees linear association: a value near 0 is necessary for independence, not sufficient.
///
/// Two passes, no allocation. Returns 0 (never `NaN`) when the correlation is undefined: slices of different
/// lengths, fewer than two pairs, a non-finite value, or zero variance in either column.
pub fn spend_frequency_correlation(x: &[f64], m: &[f64]) -> f64 {
    if x.len() != m.len() || x.len() < 2 {
        return 0.0;
    }
    let n = x.len() as f64;
    let (mut sum_x, mut sum_m) = (0.0, 0.0);
    for (&xi, &mi) in x.iter().zip(m) {
        if !xi.is_finite() || !mi.is_finite() {
            return 0.0;
        }
        sum_x += xi;
        sum_m += mi;
    }
    let (mean_x, mean_m) = (sum_x / n, sum_m / n);
    let (mut sxx, mut smm, mut sxm) = (0.0, 0.0, 0.0);
    for (&xi, &mi) in x.iter().zip(m) {
        let (dx, dm) = (xi - mean_x, mi - mean_m);
        sxx += dx * dx;
        smm += dm * dm;
        sxm += dx * dm;
    }
    let denominator = (sxx * smm).sqrt();
    if !(denominator.is_finite() && denominator > 0.0) {
        return 0.0;
    }
    (sxm / denominator).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// CDNOW literature parameters (Fader, Hardie & Lee 2005; lifetimes' docs): p, q, v.
    const CDNOW: [f64; 3] = [6.25, 3.74, 15.44];

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(1e-300)
    }

    // Reference values from lifetimes 0.11.3 (numpy 2.4, scipy 1.17):
    //   from lifetimes import GammaGammaFitter
    //   gg = GammaGammaFitter(); gg.params_ = pd.Series([6.25, 3.74, 15.44], index=["p", "q", "v"])
    //   ll = -GammaGammaFitter._negative_log_likelihood(
    //       np.log([6.25, 3.74, 15.44]), np.array([x]), np.array([m]), np.array([1]), 0.0)
    //   profit = gg.conditional_expected_average_profit(np.array([x]), np.array([m]))[0]
    const LIFETIMES_GG: [(f64, f64, f64, f64); 6] = [
        // (x, m, log-likelihood, conditional expected average profit)
        (1.0, 10.0, -3.9213505021119737, 17.686318131256954),
        (2.0, 25.5, -3.652912752706186, 27.24737532808399),
        (5.0, 40.0, -4.313671811204614, 39.61459252721389),
        (10.0, 100.0, -7.147752691601795, 97.27927651747395),
        (37.0, 5.25, -10.195897863030496, 5.600933800589771),
        (1.5, 0.75, -17.801762686099597, 8.545707800247628),
    ];

    #[test]
    fn matches_lifetimes_log_likelihood_and_profit() {
        for &(x, m, ll, profit) in &LIFETIMES_GG {
            let got = log_likelihood(&CDNOW, x, m);
            assert!(
                close(got, ll, 1e-12),
                "ll({x}, {m}) = {got}, lifetimes {ll}"
            );
            assert!(close(log_likelihood_gradient(&CDNOW, x, m).0, ll, 1e-12));
            let got = conditional_expected_average_profit(&CDNOW, x, m);
            assert!(
                close(got, profit, 1e-13),
                "profit({x}, {m}) = {got}, lifetimes {profit}"
            );
        }
        // x = 0: the population mean p·v/(q − 1); lifetimes gives the same (35.21897810218978).
        let population = conditional_expected_average_profit(&CDNOW, 0.0, 12.0);
        assert!(close(population, 35.21897810218978, 1e-14));
    }

    // Expected cumulative purchases E[N(t)] of lifetimes' BetaGeoFitter with params_ r=0.243, alpha=4.414,
    // a=0.793, b=2.426 (CDNOW, weeks), at t = k · 4.345 (freq "W"), k = 0..=12:
    //   bg.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T)
    // for customers (frequency, recency, T) = (2, 30.43, 38.86), (7, 35.71, 38.86), (1, 2, 10).
    const BGNBD_W: [[f64; 13]; 3] = [
        [
            0.0,
            0.15974415462750868,
            0.312281547320997,
            0.45836244779916346,
            0.5986166615512463,
            0.7335791463029884,
            0.863708968118612,
            0.9894036140802372,
            1.1110099896649688,
            1.228832999470183,
            1.3431423339417927,
            1.4541779026353638,
            1.5621542315212844,
        ],
        [
            0.0,
            0.6063323100548641,
            1.177732944479249,
            1.7185128263484668,
            2.2321981898482295,
            2.7217143552038134,
            3.189517911208822,
            3.63769393726752,
            4.068028913378806,
            4.482066337296369,
            4.881149795057955,
            5.266456766858078,
            5.639025483386181,
        ],
        [
            0.0,
            0.1864637691472287,
            0.35413716207177465,
            0.5072175156462484,
            0.648536340125079,
            0.7801159573123289,
            0.9034624157537127,
            1.0197338690008635,
            1.1298439351791176,
            1.2345284638454002,
            1.3343904646105782,
            1.4299313726688585,
            1.521573426596831,
        ],
    ];
    // The same customers at t = k · 30 (freq "D"; the parameters are weekly, which does not matter here).
    const BGNBD_D: [[f64; 13]; 3] = [
        [
            0.0,
            0.9775799810526389,
            1.750317621473562,
            2.3980121786638042,
            2.9598548822698314,
            3.4584625706413217,
            3.9082364773476312,
            4.318984085702595,
            4.697721016549566,
            5.049658396071872,
            5.378784260479852,
            5.6882256079246645,
            5.9804842007057255,
        ],
        [
            0.0,
            3.5956845522876932,
            6.2835331807377575,
            8.46102982241352,
            10.30626737864227,
            11.915895538873473,
            13.348739200917903,
            14.64348102295785,
            15.827024113143027,
            16.918892947577312,
            17.933739962439983,
            18.88286327197424,
            19.775171650561102,
        ],
        [
            0.0,
            1.0089075860807482,
            1.6785722288056006,
            2.197691998551428,
            2.62781504921842,
            2.9980579238013205,
            3.324813999037188,
            3.6183375753740457,
            3.8855179348493274,
            4.131230636372652,
            4.359065757235463,
            4.571750945113409,
            4.771411905996605,
        ],
    ];

    /// A closure returning the pinned E[N(t)] at the grid point nearest `t` (asserting that `t` is on it).
    fn pinned(values: &[f64; 13], step: f64) -> impl Fn(f64) -> f64 + '_ {
        move |t| {
            let k = (t / step).round();
            assert!(
                (t - k * step).abs() < 1e-9 && (0.0..=12.0).contains(&k),
                "t = {t} is off the grid"
            );
            values[k as usize]
        }
    }

    #[test]
    fn matches_lifetimes_customer_lifetime_value() {
        // lifetimes.utils._customer_lifetime_value(bg, frequency, recency, T, monetary_value, time=12,
        //     discount_rate=0.01, freq=F) with monetary_value = 22.5, 41.0, 9.99 for the three customers.
        let monetary = [22.5, 41.0, 9.99];
        let w = [33.10560823403545, 217.98545705614333, 14.365410431022926];
        let d = [127.8321920258617, 771.7533615456991, 45.47376936265637];
        for i in 0..3 {
            let got = customer_lifetime_value(
                pinned(&BGNBD_W[i], 4.345),
                monetary[i],
                12.0 * 4.345,
                4.345,
                0.01,
            );
            assert!(close(got, w[i], 1e-12), "W customer {i}: {got} vs {}", w[i]);
            let got = customer_lifetime_value(
                pinned(&BGNBD_D[i], 30.0),
                monetary[i],
                12.0 * 30.0,
                30.0,
                0.01,
            );
            assert!(close(got, d[i], 1e-12), "D customer {i}: {got} vs {}", d[i]);
        }
        // GammaGammaFitter.customer_lifetime_value(bg, ..., time=12, discount_rate=0.01, freq="W") with the CDNOW
        // spend parameters: the same sum over the Gamma–Gamma expected average profit.
        let frequency = [2.0, 7.0, 1.0];
        let gg = [36.47023479267102, 216.17395306642123, 25.422557378075584];
        for i in 0..3 {
            let profit = conditional_expected_average_profit(&CDNOW, frequency[i], monetary[i]);
            let got = customer_lifetime_value(
                pinned(&BGNBD_W[i], 4.345),
                profit,
                12.0 * 4.345,
                4.345,
                0.01,
            );
            assert!(
                close(got, gg[i], 1e-12),
                "GG customer {i}: {got} vs {}",
                gg[i]
            );
        }
    }

    #[test]
    fn clv_step_counting_and_domain() {
        let linear = |t: f64| t;
        // Three whole steps of one purchase each, undiscounted.
        assert!(close(
            customer_lifetime_value(linear, 2.0, 3.0, 1.0, 0.0),
            6.0,
            1e-15
        ));
        // A partial step is not counted; an empty horizon is worth nothing.
        assert!(close(
            customer_lifetime_value(linear, 2.0, 3.5, 1.0, 0.0),
            6.0,
            1e-15
        ));
        assert_eq!(customer_lifetime_value(linear, 2.0, 0.5, 1.0, 0.0), 0.0);
        // Discounting by whole steps: 1/1.1 + 1/1.21.
        assert!(close(
            customer_lifetime_value(linear, 1.0, 2.0, 1.0, 0.1),
            1.0 / 1.1 + 1.0 / 1.21,
            1e-15
        ));
        assert!(customer_lifetime_value(linear, 1.0, 2.0, 0.0, 0.1).is_nan());
        assert!(customer_lifetime_value(linear, 1.0, -1.0, 1.0, 0.1).is_nan());
        assert!(customer_lifetime_value(linear, 1.0, 2.0, 1.0, -1.0).is_nan());
    }

    #[test]
    fn gradient_matches_central_differences() {
        let points = [
            (CDNOW, 1.0, 10.0),
            (CDNOW, 37.0, 5.25),
            ([0.5, 1.2, 3.0], 2.0, 0.4),
            ([20.0, 8.0, 150.0], 5.0, 300.0),
        ];
        for (params, x, m) in points {
            let (_, gradient) = log_likelihood_gradient(&params, x, m);
            for j in 0..3 {
                let h = 1e-6 * params[j];
                let (mut up, mut down) = (params, params);
                up[j] += h;
                down[j] -= h;
                let numeric = (log_likelihood(&up, x, m) - log_likelihood(&down, x, m)) / (2.0 * h);
                let scale = gradient[j].abs().max(1e-3);
                assert!(
                    (gradient[j] - numeric).abs() <= 1e-5 * scale,
                    "∂{j} at {params:?}, x={x}, m={m}: analytic {}, numeric {numeric}",
                    gradient[j]
                );
            }
        }
    }

    #[test]
    fn extremes_are_finite_and_domain_is_nan() {
        for params in [[1e-3, 1.001, 1e-3], [1e3, 1e3, 1e6], [1e-6, 1e4, 1e-6]] {
            for (x, m) in [(1.0, 1e-8), (1e6, 1e8), (1.0, 1e8), (1e5, 1e-3)] {
                let (ll, gradient) = log_likelihood_gradient(&params, x, m);
                assert!(
                    ll.is_finite() && gradient.iter().all(|g| g.is_finite()),
                    "{params:?} {x} {m}"
                );
                assert!(conditional_expected_average_profit(&params, x, m).is_finite());
            }
        }
        assert!(log_likelihood(&CDNOW, 0.0, 10.0).is_nan());
        assert!(log_likelihood(&CDNOW, 1.0, 0.0).is_nan());
        assert!(log_likelihood(&[-1.0, 3.0, 1.0], 1.0, 1.0).is_nan());
        assert!(conditional_expected_average_profit(&[1.0, 1.0, 1.0], 1.0, 1.0).is_nan());
    }

    #[test]
    fn correlation() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!(close(
            spend_frequency_correlation(&x, &[2.0, 4.0, 6.0, 8.0]),
            1.0,
            1e-15
        ));
        assert!(close(
            spend_frequency_correlation(&x, &[8.0, 6.0, 4.0, 2.0]),
            -1.0,
            1e-15
        ));
        // numpy.corrcoef([1, 2, 3, 4], [10, 30, 20, 25])[0, 1] = 0.5291502622129182
        assert!(close(
            spend_frequency_correlation(&x, &[10.0, 30.0, 20.0, 25.0]),
            0.5291502622129182,
            1e-14
        ));
        assert_eq!(spend_frequency_correlation(&x, &[5.0; 4]), 0.0);
        assert_eq!(spend_frequency_correlation(&x, &[1.0, 2.0]), 0.0);
        assert_eq!(spend_frequency_correlation(&[1.0], &[2.0]), 0.0);
        assert_eq!(
            spend_frequency_correlation(&[1.0, f64::NAN], &[2.0, 3.0]),
            0.0
        );
    }

    proptest! {
        #[test]
        fn profit_is_between_population_and_own_mean(
            p in 0.01f64..50.0, q in 1.01f64..50.0, v in 0.01f64..500.0, x in 0.0f64..200.0, m in 0.0f64..1e4,
        ) {
            let params = [p, q, v];
            let profit = conditional_expected_average_profit(&params, x, m);
            let population = p * v / (q - 1.0);
            let (lo, hi) = if population < m { (population, m) } else { (m, population) };
            prop_assert!(profit >= lo * (1.0 - 1e-12) && profit <= hi * (1.0 + 1e-12));
            prop_assert!(profit >= 0.0);
        }

        #[test]
        fn log_likelihood_is_finite(
            p in 0.01f64..50.0, q in 0.01f64..50.0, v in 0.01f64..500.0, x in 1.0f64..200.0, m in 0.01f64..1e4,
        ) {
            prop_assert!(log_likelihood(&[p, q, v], x, m).is_finite());
        }

        #[test]
        fn correlation_is_bounded(values in proptest::collection::vec((0.0f64..100.0, 0.0f64..1e3), 0..40)) {
            let (x, m): (Vec<f64>, Vec<f64>) = values.into_iter().unzip();
            let r = spend_frequency_correlation(&x, &m);
            prop_assert!((-1.0..=1.0).contains(&r));
        }
    }
}
