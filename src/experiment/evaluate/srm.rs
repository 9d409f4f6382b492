//! The sample-ratio-mismatch check: Pearson's chi-square of the observed
//! units per variant against the planned weights.

use serde::{Deserialize, Serialize};

use crate::stats::chi2_sf;

/// Sample-ratio-mismatch test of observed units against planned weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleRatio {
    /// Pearson's chi-square statistic.
    pub chi2: f64,
    /// Its p-value (1 without units).
    pub p_value: f64,
    /// Whether `p_value` is below the threshold.
    pub mismatch: bool,
}

/// The chi-square test of `units` per variant against `weights` (gbstats'
/// `check_srm`: variants with weight 0 add nothing; degrees of freedom = variants − 1).
pub fn sample_ratio_test(units: &[u64], weights: &[f64], threshold: f64) -> SampleRatio {
    let total: u64 = units.iter().sum();
    let total_weight: f64 = weights.iter().sum();
    if total == 0 || units.len() < 2 || total_weight <= 0.0 {
        return SampleRatio {
            chi2: 0.0,
            p_value: 1.0,
            mismatch: false,
        };
    }
    let mut chi2 = 0.0;
    for (&o, &w) in units.iter().zip(weights) {
        if w <= 0.0 {
            continue;
        }
        let e = w / total_weight * total as f64;
        chi2 += (o as f64 - e).powi(2) / e;
    }
    let p_value = chi2_sf(chi2, (units.len() - 1) as f64);
    SampleRatio {
        chi2,
        p_value,
        mismatch: p_value < threshold,
    }
}
#[cfg(test)]
mod tests {
    //! Reference values: see the note in `evaluate::fixtures`.
    use super::*;
    use crate::experiment::evaluate::fixtures::assert_close;

    #[test]
    fn srm_matches_gbstats_and_scipy() {
        // gbstats.utils.check_srm([5012, 4870, 5301], [0.34, 0.33, 0.33]) -> 3.438606121199982e-06
        let s = sample_ratio_test(&[5012, 4870, 5301], &[0.34, 0.33, 0.33], 0.001);
        assert_close!(s.p_value, 3.438606121199982e-06);
        assert!(s.mismatch);
        // scipy.stats.chisquare([1000, 1100]).pvalue -> 0.029096331741252267
        let s = sample_ratio_test(&[1000, 1100], &[1.0, 1.0], 0.001);
        assert_close!(s.p_value, 0.029096331741252267);
        assert!(!s.mismatch);
        assert_eq!(sample_ratio_test(&[0, 0], &[1.0, 1.0], 0.001).p_value, 1.0);
    }
}
