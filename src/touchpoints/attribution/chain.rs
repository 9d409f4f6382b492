//! The absorbing Markov chain behind [`markov`](super::markov) and
//! [`shapley`](super::shapley): built from a path table, its absorption
//! probabilities solved by LU decomposition or Gauss–Seidel sweeps.

use hashbrown::HashMap;

use super::Solver;
use crate::error::{Error, Result};
use crate::touchpoints::paths::PathTable;

/// Transient states up to which systems are solved by LU decomposition.
pub const DENSE_LIMIT: usize = 400;

#[derive(Default)]
pub(super) struct SolverStats {
    iterative: bool,
    sweeps: usize,
    residual: f64,
}

impl SolverStats {
    pub(super) fn report(&self) -> Solver {
        if self.iterative {
            Solver::GaussSeidel {
                sweeps: self.sweeps,
                residual: self.residual,
            }
        } else {
            Solver::Dense
        }
    }
}

/// An absorbing chain fitted to a path table. State 0 is `(start)`.
pub(super) struct Chain {
    /// Transient states, start included.
    pub(super) n: usize,
    /// CSR of transient-to-transient probabilities, by source state.
    pub(super) row_start: Vec<u32>,
    pub(super) target: Vec<u32>,
    pub(super) probability: Vec<f64>,
    /// Probability of entering `(conversion)` from each state.
    pub(super) to_conversion: Vec<f64>,
    /// Expected conversion value entering `(conversion)` from each state
    /// (probability × mean value of those conversions).
    pub(super) to_value: Vec<f64>,
    /// States that contain each channel.
    pub(super) channel_states: Vec<Vec<u32>>,
    /// Journeys entering from `(start)`.
    pub(super) journeys: f64,
    /// Transitions into `(conversion)` or `(null)` with positive probability.
    pub(super) absorbing_edges: usize,
}

/// A chain state key: up to four channel codes, each stored plus one, packed.
fn push_key(key: u64, channel: u16, order: usize) -> u64 {
    let bits = 16 * order as u32;
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    ((key << 16) | (u64::from(channel) + 1)) & mask
}

/// A chain order the attribution supports: 1 to 4 channels of memory.
pub(super) fn check_order(order: usize) -> Result<()> {
    if (1..=4).contains(&order) {
        Ok(())
    } else {
        Err(Error::param("order", order, "must be 1, 2, 3 or 4"))
    }
}

impl Chain {
    pub(super) fn build(table: &PathTable, order: usize) -> Result<Chain> {
        check_order(order)?;
        let n_channels = table.channels().len();
        // State ids: order 1 uses the channel code + 1 directly; higher orders intern keys.
        let mut ids: HashMap<u64, u32> = HashMap::new();
        let mut keys: Vec<u64> = vec![0];
        if order == 1 {
            keys.extend((0..n_channels).map(|c| c as u64 + 1));
        }
        let mut state_of = |key: u64, keys: &mut Vec<u64>| -> u32 {
            if order == 1 {
                return key as u32;
            }
            *ids.entry(key).or_insert_with(|| {
                keys.push(key);
                (keys.len() - 1) as u32
            })
        };
        // Transition weights between transient states, and into the absorbing ones.
        let mut edges: HashMap<u64, f64> = HashMap::new();
        let mut dense: Vec<f64> = Vec::new();
        let dense_edges = order == 1 && n_channels < 2048;
        let n1 = n_channels + 1;
        if dense_edges {
            dense = vec![0.0; n1 * n1];
        }
        let mut out_total: Vec<f64> = vec![0.0; keys.len()];
        let mut conv_out: Vec<f64> = vec![0.0; keys.len()];
        let mut value_out: Vec<f64> = vec![0.0; keys.len()];
        let mut journeys = 0.0;
        let (conversions, nulls, values) = (table.conversions(), table.nulls(), table.values());
        for p in 0..table.len() {
            let weight = conversions[p] + nulls[p];
            if weight <= 0.0 {
                continue;
            }
            journeys += weight;
            let mut from = 0u32;
            let mut key = 0u64;
            for &c in table.path(p) {
                key = push_key(key, c, order);
                let to = state_of(key, &mut keys);
                if dense_edges {
                    dense[from as usize * n1 + to as usize] += weight;
                } else {
                    *edges
                        .entry((u64::from(from) << 32) | u64::from(to))
                        .or_insert(0.0) += weight;
                }
                if out_total.len() < keys.len() {
                    out_total.resize(keys.len(), 0.0);
                    conv_out.resize(keys.len(), 0.0);
                    value_out.resize(keys.len(), 0.0);
                }
                out_total[from as usize] += weight;
                from = to;
            }
            out_total[from as usize] += weight;
            conv_out[from as usize] += conversions[p];
            value_out[from as usize] += values[p];
        }
        let n = keys.len();
        let mut triples: Vec<(u32, u32, f64)> = if dense_edges {
            (0..n1)
                .flat_map(|a| (0..n1).map(move |b| (a, b)))
                .filter_map(|(a, b)| {
                    let w = dense[a * n1 + b];
                    (w > 0.0).then_some((a as u32, b as u32, w))
                })
                .collect()
        } else {
            edges
                .into_iter()
                .map(|(k, w)| ((k >> 32) as u32, k as u32, w))
                .collect()
        };
        triples.sort_unstable_by_key(|t| (t.0, t.1));
        let mut row_start = vec![0u32; n + 1];
        for t in &triples {
            row_start[t.0 as usize + 1] += 1;
        }
        for s in 0..n {
            row_start[s + 1] += row_start[s];
        }
        let target = triples.iter().map(|t| t.1).collect();
        let probability = triples
            .iter()
            .map(|t| t.2 / out_total[t.0 as usize])
            .collect();
        let per_state = |v: &[f64]| -> Vec<f64> {
            (0..n)
                .map(|s| {
                    if out_total[s] > 0.0 {
                        v[s] / out_total[s]
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let to_conversion = per_state(&conv_out);
        let to_value = per_state(&value_out);
        let mut channel_states = vec![Vec::new(); n_channels];
        for (s, &key) in keys.iter().enumerate().skip(1) {
            if out_total[s] == 0.0 {
                continue;
            }
            let mut in_state = [usize::MAX; 4];
            let (mut k, mut m) = (key, 0);
            while k != 0 {
                let c = (k & 0xFFFF) as usize - 1;
                if !in_state[..m].contains(&c) {
                    in_state[m] = c;
                    m += 1;
                    channel_states[c].push(s as u32);
                }
                k >>= 16;
            }
        }
        let transient_out: Vec<f64> = {
            let mut t = vec![0.0; n];
            for &(a, _, w) in &triples {
                t[a as usize] += w;
            }
            t
        };
        let absorbing_edges = (0..n)
            .map(|s| {
                let null = out_total[s] - transient_out[s] - conv_out[s];
                usize::from(conv_out[s] > 0.0) + usize::from(null > 1e-9 * out_total[s])
            })
            .sum();
        Ok(Chain {
            n,
            row_start,
            target,
            probability,
            to_conversion,
            to_value,
            channel_states,
            journeys,
            absorbing_edges,
        })
    }

    pub(super) fn transitions(&self) -> usize {
        self.target.len() + self.absorbing_edges
    }

    pub(super) fn keep_all(&self) -> Vec<bool> {
        vec![true; self.n]
    }

    /// `(P(conversion), expected value)` from `(start)`, with states not kept sent to `(null)`.
    pub(super) fn solve(&self, keep: &[bool], stats: &mut SolverStats) -> Result<(f64, f64)> {
        let kept: Vec<u32> = (0..self.n as u32).filter(|&s| keep[s as usize]).collect();
        if kept.len() <= DENSE_LIMIT {
            Ok(self.solve_dense(keep, &kept))
        } else {
            stats.iterative = true;
            self.solve_gauss_seidel(keep, stats)
        }
    }

    pub(super) fn solve_dense(&self, keep: &[bool], kept: &[u32]) -> (f64, f64) {
        let m = kept.len();
        let mut position = vec![u32::MAX; self.n];
        for (i, &s) in kept.iter().enumerate() {
            position[s as usize] = i as u32;
        }
        // Augmented matrix [I − Q | r | r_value], row-major.
        let width = m + 2;
        let mut a = vec![0.0f64; m * width];
        for (i, &s) in kept.iter().enumerate() {
            let row = &mut a[i * width..(i + 1) * width];
            row[i] = 1.0;
            let (lo, hi) = (
                self.row_start[s as usize] as usize,
                self.row_start[s as usize + 1] as usize,
            );
            for e in lo..hi {
                let t = self.target[e] as usize;
                if keep[t] {
                    row[position[t] as usize] -= self.probability[e];
                }
            }
            row[m] = self.to_conversion[s as usize];
            row[m + 1] = self.to_value[s as usize];
        }
        gaussian_elimination(&mut a, m, width);
        // State 0 is `(start)`, always kept and first.
        (a[m], a[m + 1])
    }

    pub(super) fn solve_gauss_seidel(
        &self,
        keep: &[bool],
        stats: &mut SolverStats,
    ) -> Result<(f64, f64)> {
        const MAX_SWEEPS: usize = 100_000;
        let mut x = vec![0.0f64; self.n];
        let mut y = vec![0.0f64; self.n];
        // Later states tend to follow earlier ones: sweeping backwards settles acyclic parts in one pass.
        for sweep in 1..=MAX_SWEEPS {
            let mut change = 0.0f64;
            for s in (0..self.n).rev() {
                if !keep[s] {
                    continue;
                }
                let (lo, hi) = (self.row_start[s] as usize, self.row_start[s + 1] as usize);
                let (mut sx, mut sy, mut stay) = (self.to_conversion[s], self.to_value[s], 0.0);
                for e in lo..hi {
                    let t = self.target[e] as usize;
                    let p = self.probability[e];
                    if t == s {
                        stay += p;
                    } else if keep[t] {
                        sx += p * x[t];
                        sy += p * y[t];
                    }
                }
                let (nx, ny) = (sx / (1.0 - stay), sy / (1.0 - stay));
                change = change
                    .max((nx - x[s]).abs() / nx.abs().max(f64::MIN_POSITIVE))
                    .max((ny - y[s]).abs() / ny.abs().max(f64::MIN_POSITIVE));
                x[s] = nx;
                y[s] = ny;
            }
            if change <= 4.0 * f64::EPSILON {
                stats.sweeps = stats.sweeps.max(sweep);
                stats.residual = stats.residual.max(change);
                return Ok((x[0], y[0]));
            }
        }
        Err(Error::NoConvergence {
            model: "Markov chain absorption (Gauss-Seidel)",
            iterations: MAX_SWEEPS,
            gradient_norm: f64::NAN,
        })
    }
}

/// Solves `A x = b` in place for an augmented row-major `m × width` matrix
/// (the right-hand sides in the last `width − m` columns) by Gaussian
/// elimination with partial pivoting; the solutions replace the right-hand sides.
fn gaussian_elimination(a: &mut [f64], m: usize, width: usize) {
    for col in 0..m {
        let pivot = (col..m)
            .max_by(|&i, &j| {
                a[i * width + col]
                    .abs()
                    .total_cmp(&a[j * width + col].abs())
            })
            .unwrap_or(col);
        if pivot != col {
            for k in 0..width {
                a.swap(col * width + k, pivot * width + k);
            }
        }
        let d = a[col * width + col];
        if d == 0.0 {
            continue;
        }
        for i in col + 1..m {
            let factor = a[i * width + col] / d;
            if factor != 0.0 {
                for k in col..width {
                    a[i * width + k] -= factor * a[col * width + k];
                }
            }
        }
    }
    for col in (0..m).rev() {
        let d = a[col * width + col];
        for k in m..width {
            let mut v = a[col * width + k];
            for j in col + 1..m {
                v -= a[col * width + j] * a[j * width + k];
            }
            a[col * width + k] = if d != 0.0 { v / d } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{close, table};
    use super::*;

    #[test]
    fn gauss_seidel_matches_lu() {
        let t = table(&[
            ("a > b > c > a", 3.0, 1.0, 9.0),
            ("b > a > b", 1.0, 4.0, 2.0),
            ("c > c > a > b > d", 2.0, 2.0, 7.0),
            ("d > a", 0.0, 3.0, 0.0),
            ("d > b > c", 5.0, 1.0, 30.0),
        ]);
        for order in 1..=3 {
            let chain = Chain::build(&t, order).unwrap();
            for c in 0..4 {
                let mut keep = chain.keep_all();
                for &s in &chain.channel_states[c] {
                    keep[s as usize] = false;
                }
                let kept: Vec<u32> = (0..chain.n as u32).filter(|&s| keep[s as usize]).collect();
                let dense = chain.solve_dense(&keep, &kept);
                let mut stats = SolverStats::default();
                let gs = chain.solve_gauss_seidel(&keep, &mut stats).unwrap();
                assert!(close(dense.0, gs.0, 1e-13) && close(dense.1, gs.1, 1e-13));
            }
        }
    }
}
