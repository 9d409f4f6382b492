//! Shapley value attribution: channels as players of a game whose worth is
//! the conversions the chain predicts with only a coalition's channels.

use hashbrown::HashMap;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Credits;
use super::chain::{Chain, SolverStats};
use crate::error::{Error, Result};
use crate::touchpoints::paths::PathTable;

/// Parameters of Shapley value attribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShapleyParams {
    /// Order of the chain that values coalitions (default 1).
    pub order: usize,
    /// Exact enumeration up to this many channels (default 15, at most 20).
    pub exact_up_to: usize,
    /// Random permutations beyond it (default 2,000).
    pub permutations: usize,
    /// Seed of the permutation sampler.
    pub seed: u64,
}

impl ShapleyParams {
    /// Checks the settings that do not depend on the data (whether sampling
    /// is needed, and so whether `permutations` may be 0, depends on the
    /// number of channels).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an order outside 1..=4 or `exact_up_to` above 20.
    pub fn check(&self) -> Result<()> {
        super::chain::check_order(self.order)?;
        if self.exact_up_to > 20 {
            return Err(Error::param(
                "exact_up_to",
                self.exact_up_to,
                "at most 20 (2^20 coalitions)",
            ));
        }
        Ok(())
    }
}

impl Default for ShapleyParams {
    fn default() -> Self {
        ShapleyParams {
            order: 1,
            exact_up_to: 15,
            permutations: 2_000,
            seed: 0,
        }
    }
}

/// Shapley value credits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapleyAttribution {
    /// Credits per channel.
    pub credits: Credits,
    /// Standard error of each channel's conversion credit (zero when exact).
    pub std_error: Vec<f64>,
    /// Whether all coalitions were enumerated.
    pub exact: bool,
    /// Coalitions whose worth was computed.
    pub coalitions: usize,
}

/// Shapley value attribution (module docs give the game).
///
/// # Errors
/// [`Error::InvalidParameter`] for an order outside 1..=4, `exact_up_to` above
/// 20, or no permutations when sampling is needed; [`Error::Capacity`] for
/// more than 64 channels; errors of the chain solves as [`markov`](fn@super::markov).
pub fn shapley(table: &PathTable, params: &ShapleyParams) -> Result<ShapleyAttribution> {
    params.check()?;
    let chain = Chain::build(table, params.order)?;
    let n = table.channels().len();
    if n > 64 {
        return Err(Error::Capacity(format!(
            "Shapley attribution supports at most 64 channels, the table has {n}"
        )));
    }
    let mut stats = SolverStats::default();
    let scale = chain.journeys;
    // Worth of a coalition (bit c set = channel c present): expected conversions and value.
    let worth = |mask: u64, stats: &mut SolverStats| -> Result<(f64, f64)> {
        let mut keep = chain.keep_all();
        for c in 0..n {
            if mask & (1u64 << c) == 0 {
                for &s in &chain.channel_states[c] {
                    keep[s as usize] = false;
                }
            }
        }
        let (p, v) = chain.solve(&keep, &mut *stats)?;
        Ok((p * scale, v * scale))
    };
    let mut credits = Credits::zeros(n);
    if n <= params.exact_up_to {
        let size = 1usize << n;
        let mut v = vec![(0.0, 0.0); size];
        for (mask, slot) in v.iter_mut().enumerate().skip(1) {
            *slot = worth(mask as u64, &mut stats)?;
        }
        // w(s) = s! (n − s − 1)! / n!
        let mut weight = vec![0.0f64; n.max(1)];
        for (s, w) in weight.iter_mut().enumerate() {
            *w = 1.0 / (n as f64 * binomial(n - 1, s));
        }
        for c in 0..n {
            let bit = 1usize << c;
            let (mut sc, mut sv) = (0.0, 0.0);
            for mask in (0..size).filter(|m| m & bit == 0) {
                let w = weight[mask.count_ones() as usize];
                sc += w * (v[mask | bit].0 - v[mask].0);
                sv += w * (v[mask | bit].1 - v[mask].1);
            }
            credits.conversions[c] = sc;
            credits.value[c] = sv;
        }
        return Ok(ShapleyAttribution {
            credits,
            std_error: vec![0.0; n],
            exact: true,
            coalitions: size,
        });
    }
    if params.permutations == 0 {
        return Err(Error::param(
            "permutations",
            0,
            "must be positive when sampling",
        ));
    }
    let mut memo: HashMap<u64, (f64, f64)> = HashMap::new();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut sum_sq = vec![0.0f64; n];
    for _ in 0..params.permutations {
        order.shuffle(&mut rng);
        let mut mask = 0u64;
        let mut previous = (0.0, 0.0);
        for &c in &order {
            mask |= 1u64 << c;
            let current = match memo.get(&mask) {
                Some(&w) => w,
                None => {
                    let w = worth(mask, &mut stats)?;
                    memo.insert(mask, w);
                    w
                }
            };
            let dc = current.0 - previous.0;
            credits.conversions[c] += dc;
            credits.value[c] += current.1 - previous.1;
            sum_sq[c] += dc * dc;
            previous = current;
        }
    }
    let m = params.permutations as f64;
    let mut std_error = vec![0.0; n];
    for c in 0..n {
        let mean = credits.conversions[c] / m;
        credits.conversions[c] = mean;
        credits.value[c] /= m;
        let var = if m > 1.0 {
            ((sum_sq[c] - m * mean * mean) / (m - 1.0)).max(0.0)
        } else {
            0.0
        };
        std_error[c] = (var / m).sqrt();
    }
    Ok(ShapleyAttribution {
        credits,
        std_error,
        exact: false,
        coalitions: memo.len(),
    })
}

/// `C(n, k)` as f64 (exact up to the sizes used here).
fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{close, table};
    use super::*;

    #[test]
    fn shapley_exact_and_sampled_agree() {
        let t = table(&[
            ("a > b", 3.0, 1.0, 30.0),
            ("b", 1.0, 3.0, 5.0),
            ("c > a", 2.0, 2.0, 8.0),
            ("c", 0.0, 4.0, 0.0),
        ]);
        let exact = shapley(&t, &ShapleyParams::default()).unwrap();
        assert!(exact.exact);
        assert!(close(exact.credits.total_conversions(), 6.0, 1e-12));
        assert!(close(exact.credits.total_value(), 43.0, 1e-12));
        let sampled = shapley(
            &t,
            &ShapleyParams {
                exact_up_to: 0,
                permutations: 4_000,
                seed: 7,
                ..ShapleyParams::default()
            },
        )
        .unwrap();
        assert!(!sampled.exact);
        assert!(close(sampled.credits.total_conversions(), 6.0, 1e-12));
        for c in 0..3 {
            let (e, s, se) = (
                exact.credits.conversions[c],
                sampled.credits.conversions[c],
                sampled.std_error[c],
            );
            assert!(
                se > 0.0 && (e - s).abs() <= 4.0 * se,
                "channel {c}: {e} vs {s} ± {se}"
            );
        }
    }

    #[test]
    fn shapley_of_independent_channels_is_their_own_worth() {
        // Channels never share a path: each coalition's worth is the sum of its members' paths.
        let t = table(&[
            ("a", 3.0, 1.0, 0.0),
            ("b", 1.0, 3.0, 0.0),
            ("c", 0.0, 2.0, 0.0),
        ]);
        let s = shapley(&t, &ShapleyParams::default()).unwrap();
        for (c, want) in [3.0, 1.0, 0.0].into_iter().enumerate() {
            assert!(close(s.credits.conversions[c], want, 1e-12));
        }
    }
}
