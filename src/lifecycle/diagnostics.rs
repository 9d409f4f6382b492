//! Goodness of fit: does the fitted model describe the customers it was fitted on,
//! and does it predict what they did next?
//!
//! - [`frequency_fit`]: how many customers made 0, 1, 2, … repeat purchases,
//!   against the model's expectation `Σᵢ P(X(Tᵢ) = x)` (the comparison of
//!   Fader, Hardie & Lee 2005, fig. 1, computed exactly rather than by simulation).
//! - [`holdout_fit`]: customers grouped by calibration frequency, their mean
//!   holdout purchases against the model's conditional expectation (lifetimes'
//!   `plot_calibration_purchases_vs_holdout_purchases`, as a table).

use serde::{Deserialize, Serialize};

use super::summary::{CalibrationHoldout, Summary};

/// Customers with a given number of repeat purchases: observed and expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequencyBin {
    /// Repeat purchases (the last bin collects `x` and more).
    pub x: u32,
    /// Whether this is the open-ended last bin.
    pub and_more: bool,
    /// Customers observed.
    pub actual: f64,
    /// Customers the model expects.
    pub expected: f64,
}

/// Observed against expected customers by repeat purchases `0..max_x` and `max_x+`.
///
/// `prob_n(n, t)` is the model's P(X(t) = n) for a new customer (e.g.
/// [`BgNbdModel::prob_n_purchases`](super::bgnbd::BgNbdModel::prob_n_purchases)).
/// Customers are grouped by their age `T`, so the cost follows the number of distinct ages.
pub fn frequency_fit(
    summary: &Summary,
    max_x: u32,
    prob_n: impl Fn(u32, f64) -> f64,
) -> Vec<FrequencyBin> {
    let bins = max_x as usize + 1;
    let mut actual = vec![0.0; bins];
    let mut ages: hashbrown::HashMap<u64, f64> = hashbrown::HashMap::new();
    for i in 0..summary.len() {
        let x = summary.x[i].max(0.0) as usize;
        actual[x.min(max_x as usize)] += 1.0;
        *ages.entry(summary.t_cal[i].to_bits()).or_insert(0.0) += 1.0;
    }
    let mut ages: Vec<(f64, f64)> = ages
        .into_iter()
        .map(|(t, n)| (f64::from_bits(t), n))
        .collect();
    // A fixed order keeps the floating-point sums identical from run to run.
    ages.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut expected = vec![0.0; bins];
    for &(t, n) in &ages {
        let mut below = 0.0;
        for (x, e) in expected.iter_mut().enumerate().take(max_x as usize) {
            let p = prob_n(x as u32, t).clamp(0.0, 1.0);
            below += p;
            *e += n * p;
        }
        expected[max_x as usize] += n * (1.0 - below).max(0.0);
    }
    (0..bins)
        .map(|x| FrequencyBin {
            x: x as u32,
            and_more: x == max_x as usize,
            actual: actual[x],
            expected: expected[x],
        })
        .collect()
}

/// Holdout purchases of the customers with a given calibration frequency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutBin {
    /// Calibration repeat purchases (the last bin collects `x` and more).
    pub x: u32,
    /// Whether this is the open-ended last bin.
    pub and_more: bool,
    /// Customers in the bin.
    pub customers: usize,
    /// Their mean purchases in the holdout.
    pub actual_mean: f64,
    /// The model's mean conditional expectation for the holdout.
    pub predicted_mean: f64,
}

/// Mean holdout purchases by calibration frequency against the model's prediction.
///
/// `expected(t, x, t_x, T)` is the model's conditional expected purchases in the
/// next `t` periods (e.g. [`BtydModel::expected_purchases`](super::btyd::BtydModel::expected_purchases)).
pub fn holdout_fit(
    data: &CalibrationHoldout,
    max_x: u32,
    expected: impl Fn(f64, f64, f64, f64) -> f64,
) -> Vec<HoldoutBin> {
    let bins = max_x as usize + 1;
    let (mut n, mut actual, mut predicted) = (vec![0usize; bins], vec![0.0; bins], vec![0.0; bins]);
    let cal = &data.calibration;
    for i in 0..cal.len() {
        let b = (cal.x[i].max(0.0) as usize).min(max_x as usize);
        n[b] += 1;
        actual[b] += data.frequency_holdout[i];
        predicted[b] += expected(data.duration_holdout, cal.x[i], cal.t_x[i], cal.t_cal[i]);
    }
    (0..bins)
        .map(|b| {
            let c = n[b].max(1) as f64;
            HoldoutBin {
                x: b as u32,
                and_more: b == max_x as usize,
                customers: n[b],
                actual_mean: actual[b] / c,
                predicted_mean: predicted[b] / c,
            }
        })
        .collect()
}
