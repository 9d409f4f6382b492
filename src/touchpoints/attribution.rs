//! Multi-touch attribution: how much of the conversions (and their value)
//! each channel deserves.
//!
//! Every model takes a [`PathTable`] (or, for time decay, the [`Journeys`]
//! themselves) and returns [`Credits`] per channel that add up to the table's
//! conversions and value: credit conservation is tested as a property.
//!
//! # Heuristic models
//!
//! [`heuristics`]: first touch, last touch, last non-direct touch (the last
//! touch that is not a direct visit, as in Google Analytics' default model),
//! linear (a path's conversions split equally over its touches, so a channel
//! touched twice gets two shares, as ChannelAttribution's `linear_touch`),
//! position-based (40 % first, 40 % last, the rest spread over the middle;
//! configurable), and [`time_decay`] (weights halving every half-life before
//! the conversion).
//!
//! # Markov chain attribution
//!
//! [`markov`] (Anderl, Becker, von Wangenheim & Schumann 2016, "Mapping the
//! customer journey: lessons learned from graph-based online attribution
//! modeling", IJRM 33(3)). Paths are walks of an absorbing Markov chain of
//! order `k`: a state is the last `k` channels (fewer at the start of a
//! path), entered from `(start)` and absorbed in `(conversion)` or `(null)`.
//! Transition probabilities are the observed transition counts normalised per
//! state (the maximum-likelihood estimate), every path weighted by its
//! journeys. With `x_s` the probability of converting from state `s`,
//!
//! ```text
//! x = Q x + r        (Q: transient-to-transient probabilities, r: into (conversion))
//! ```
//!
//! and `P(conversion) = x_(start)`. The **removal effect** of channel `c` is
//! `1 − P₋c / P`, where `P₋c` solves the same system with every state that
//! contains `c` sent to `(null)`. A channel's credit is
//! `total conversions × RE_c / Σ RE`; for value, `r` is replaced by the
//! expected conversion value absorbed from each state.
//!
//! The systems are solved exactly: by LU decomposition with partial pivoting
//! up to [`DENSE_LIMIT`] states, and by Gauss–Seidel sweeps to machine
//! precision beyond, with the residual reported. ChannelAttribution instead
//! simulates walks, so its removal effects carry Monte Carlo noise.
//!
//! # Shapley value attribution
//!
//! [`shapley`]: a cooperative game whose players are channels and whose worth
//! `v(S)` is the conversions the order-`k` chain predicts when only the channels
//! in `S` exist (all other channels removed as above), so
//! `v(all) = total conversions` and `v(∅) = 0`. Each channel gets its Shapley value
//! (Shapley 1953; for attribution, Dalessandro, Perlich, Stitelman & Provost
//! 2012, "Causally motivated attribution for online advertising"): its marginal
//! worth averaged over all orders in which channels could join. Exact over all
//! `2ⁿ` coalitions up to [`ShapleyParams::exact_up_to`] channels (15 by
//! default); beyond, averaged over seeded random permutations with the
//! standard error of each channel's estimate. Credits add up to the
//! conversions either way, because each permutation's contributions do.

use hashbrown::HashMap;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::CustomerBase;

use super::journey::Journeys;
use super::paths::PathTable;

/// Conversions and value credited to each channel (indexed by channel code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    /// Conversions credited per channel.
    pub conversions: Vec<f64>,
    /// Conversion value credited per channel.
    pub value: Vec<f64>,
}

impl Credits {
    fn zeros(n: usize) -> Credits {
        Credits {
            conversions: vec![0.0; n],
            value: vec![0.0; n],
        }
    }

    /// Sum of the credited conversions.
    pub fn total_conversions(&self) -> f64 {
        self.conversions.iter().sum()
    }

    /// Sum of the credited value.
    pub fn total_value(&self) -> f64 {
        self.value.iter().sum()
    }

    fn add(&mut self, channel: u16, share: f64, conversions: f64, value: f64) {
        let c = channel as usize;
        self.conversions[c] += share * conversions;
        self.value[c] += share * value;
    }
}

// ------------------------------------------------------------------ heuristics

/// Parameters of the heuristic models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeuristicParams {
    /// Channels that count as direct (skipped by last non-direct touch when
    /// another touch exists); compared case-insensitively. Default `direct`, `(direct)`.
    pub direct_channels: Vec<String>,
    /// Position-based share of the first touch (default 0.4).
    pub position_first: f64,
    /// Position-based share of the last touch (default 0.4).
    pub position_last: f64,
}

impl Default for HeuristicParams {
    fn default() -> Self {
        HeuristicParams {
            direct_channels: vec!["direct".into(), "(direct)".into()],
            position_first: 0.4,
            position_last: 0.4,
        }
    }
}

/// Credits of the heuristic models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heuristics {
    /// All credit to the first touch.
    pub first_touch: Credits,
    /// All credit to the last touch.
    pub last_touch: Credits,
    /// All credit to the last touch that is not direct (the last touch when all are).
    pub last_non_direct: Credits,
    /// Equal shares per touch.
    pub linear: Credits,
    /// First and last touches get fixed shares; the middle shares the rest.
    pub position_based: Credits,
}

/// First-touch, last-touch, last-non-direct, linear and position-based credits.
///
/// A one-touch path gives everything to its touch under every model; a
/// two-touch path splits position-based credit in proportion `first : last`.
///
/// # Errors
/// [`Error::InvalidParameter`] when the position shares are negative, not
/// finite, or add up to more than 1.
pub fn heuristics(table: &PathTable, params: &HeuristicParams) -> Result<Heuristics> {
    let (f, l) = (params.position_first, params.position_last);
    for (name, v) in [("position_first", f), ("position_last", l)] {
        if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
            return Err(Error::param(name, v, "must be in [0, 1]"));
        }
    }
    if f + l > 1.0 + 1e-12 || f + l <= 0.0 {
        return Err(Error::param(
            "position_first + position_last",
            f + l,
            "must be in (0, 1]",
        ));
    }
    let n = table.channels().len();
    let direct: Vec<bool> = table
        .channels()
        .iter()
        .map(|c| {
            params
                .direct_channels
                .iter()
                .any(|d| d.trim().eq_ignore_ascii_case(c.trim()))
        })
        .collect();
    let mut h = Heuristics {
        first_touch: Credits::zeros(n),
        last_touch: Credits::zeros(n),
        last_non_direct: Credits::zeros(n),
        linear: Credits::zeros(n),
        position_based: Credits::zeros(n),
    };
    let (conversions, values) = (table.conversions(), table.values());
    for p in 0..table.len() {
        let (conv, value) = (conversions[p], values[p]);
        if conv == 0.0 && value == 0.0 {
            continue;
        }
        let path = table.path(p);
        let (Some(&first), Some(&last)) = (path.first(), path.last()) else {
            continue;
        };
        h.first_touch.add(first, 1.0, conv, value);
        h.last_touch.add(last, 1.0, conv, value);
        let non_direct = path
            .iter()
            .rev()
            .copied()
            .find(|&c| !direct[c as usize])
            .unwrap_or(last);
        h.last_non_direct.add(non_direct, 1.0, conv, value);
        let share = 1.0 / path.len() as f64;
        for &c in path {
            h.linear.add(c, share, conv, value);
        }
        match path.len() {
            1 => h.position_based.add(first, 1.0, conv, value),
            2 => {
                h.position_based.add(first, f / (f + l), conv, value);
                h.position_based.add(last, l / (f + l), conv, value);
            }
            len => {
                h.position_based.add(first, f, conv, value);
                h.position_based.add(last, l, conv, value);
                let middle = (1.0 - f - l) / (len - 2) as f64;
                for &c in &path[1..len - 1] {
                    h.position_based.add(c, middle, conv, value);
                }
            }
        }
    }
    Ok(h)
}

/// Time-decay credits: within each converting journey, a touch `d` days before
/// the conversion weighs `2^(−d / half_life_days)`; credits are the weights
/// normalised per journey. Channels are the base's channel codes. Direct
/// conversions (no touches) are not credited.
///
/// # Errors
/// [`Error::InvalidParameter`] for a non-positive or non-finite half-life.
pub fn time_decay(
    journeys: &Journeys,
    base: &CustomerBase,
    half_life_days: f64,
) -> Result<Credits> {
    if !(half_life_days.is_finite() && half_life_days > 0.0) {
        return Err(Error::param(
            "half_life_days",
            half_life_days,
            "must be positive and finite",
        ));
    }
    let mut credits = Credits::zeros(base.channels().len());
    let (times, codes) = (base.tp_time_micros(), base.tp_channel_codes());
    let mut weights = Vec::new();
    for j in journeys.iter().filter(|j| j.converted()) {
        let end = crate::store::to_micros(j.end);
        weights.clear();
        weights.extend(j.touch_rows.iter().map(|&r| {
            let days = (end - times[r as usize]).max(0) as f64 / 86_400e6;
            (-days / half_life_days).exp2()
        }));
        let total: f64 = weights.iter().sum();
        if total > 0.0 {
            for (&r, w) in j.touch_rows.iter().zip(&weights) {
                credits.add(codes[r as usize], w / total, 1.0, j.value);
            }
        }
    }
    Ok(credits)
}

// ------------------------------------------------------------------ Markov chain

/// Transient states up to which systems are solved by LU decomposition.
pub const DENSE_LIMIT: usize = 400;

/// Parameters of Markov chain attribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarkovParams {
    /// Chain order: a state is the last `order` channels (1 to 4; default 1).
    pub order: usize,
}

impl Default for MarkovParams {
    fn default() -> Self {
        MarkovParams { order: 1 }
    }
}

/// How the absorption systems were solved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Solver {
    /// LU decomposition with partial pivoting.
    Dense,
    /// Gauss–Seidel sweeps to machine precision.
    GaussSeidel {
        /// Most sweeps any system needed.
        sweeps: usize,
        /// Largest final change of any unknown in any system.
        residual: f64,
    },
}

/// Markov chain attribution of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkovAttribution {
    /// Chain order.
    pub order: usize,
    /// Credits: conversions and value by their own removal effects.
    pub credits: Credits,
    /// Removal effect of each channel on the conversion probability.
    pub removal_effects: Vec<f64>,
    /// Removal effect of each channel on the expected conversion value.
    pub value_removal_effects: Vec<f64>,
    /// P(conversion) of a journey from `(start)`.
    pub conversion_probability: f64,
    /// Expected conversion value of a journey from `(start)`.
    pub value_per_journey: f64,
    /// Transient states, `(start)` included.
    pub states: usize,
    /// Distinct transitions with positive probability.
    pub transitions: usize,
    /// How the systems were solved.
    pub solver: Solver,
}

/// Markov chain attribution of `table` (module docs give the model).
///
/// # Errors
/// [`Error::InvalidParameter`] for an order outside 1..=4;
/// [`Error::NoConvergence`] if Gauss–Seidel does not settle (a chain whose
/// walks almost never end).
///
/// # Example
/// ```
/// use custinsight::touchpoints::attribution::{markov, MarkovParams};
/// use custinsight::touchpoints::paths::{PathTable, RawPathRow};
///
/// let row = |line, path: &str, conv: &str, null: &str| RawPathRow {
///     line, path: path.into(), conversions: conv.into(), nulls: null.into(), value: None,
/// };
/// let (table, report) = PathTable::from_rows(&[
///     row(2, "email > search", "3", "1"),
///     row(3, "search", "1", "3"),
///     row(4, "email", "0", "2"),
/// ])?;
/// assert!(report.is_clean());
/// let m = markov(&table, &MarkovParams::default())?;
/// // P(conversion) = 4 / 10 journeys; credits add up to the 4 conversions.
/// assert!((m.conversion_probability - 0.4).abs() < 1e-12);
/// assert!((m.credits.total_conversions() - 4.0).abs() < 1e-12);
/// # Ok::<(), custinsight::Error>(())
/// ```
pub fn markov(table: &PathTable, params: &MarkovParams) -> Result<MarkovAttribution> {
    let chain = Chain::build(table, params.order)?;
    let n_channels = table.channels().len();
    let mut solver = SolverStats::default();
    let full = chain.solve(&chain.keep_all(), &mut solver)?;
    let mut removal_effects = vec![0.0; n_channels];
    let mut value_removal_effects = vec![0.0; n_channels];
    for c in 0..n_channels {
        if chain.channel_states[c].is_empty() {
            continue;
        }
        let mut keep = chain.keep_all();
        for &s in &chain.channel_states[c] {
            keep[s as usize] = false;
        }
        let without = chain.solve(&keep, &mut solver)?;
        removal_effects[c] = relative_drop(full.0, without.0);
        value_removal_effects[c] = relative_drop(full.1, without.1);
    }
    let credits = Credits {
        conversions: shares(&removal_effects, table.total_conversions()),
        value: shares(&value_removal_effects, table.total_value()),
    };
    Ok(MarkovAttribution {
        order: params.order,
        credits,
        removal_effects,
        value_removal_effects,
        conversion_probability: full.0,
        value_per_journey: full.1,
        states: chain.n,
        transitions: chain.transitions(),
        solver: solver.report(),
    })
}

/// `1 − without / full`, clamped to [0, 1] against rounding; 0 when `full` is 0.
fn relative_drop(full: f64, without: f64) -> f64 {
    if full > 0.0 {
        (1.0 - without / full).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// `total × effect / Σ effects` per channel (all zero when the effects are).
fn shares(effects: &[f64], total: f64) -> Vec<f64> {
    let sum: f64 = effects.iter().sum();
    effects
        .iter()
        .map(|e| if sum > 0.0 { total * e / sum } else { 0.0 })
        .collect()
}

#[derive(Default)]
struct SolverStats {
    iterative: bool,
    sweeps: usize,
    residual: f64,
}

impl SolverStats {
    fn report(&self) -> Solver {
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
struct Chain {
    /// Transient states, start included.
    n: usize,
    /// CSR of transient-to-transient probabilities, by source state.
    row_start: Vec<u32>,
    target: Vec<u32>,
    probability: Vec<f64>,
    /// Probability of entering `(conversion)` from each state.
    to_conversion: Vec<f64>,
    /// Expected conversion value entering `(conversion)` from each state
    /// (probability × mean value of those conversions).
    to_value: Vec<f64>,
    /// States that contain each channel.
    channel_states: Vec<Vec<u32>>,
    /// Journeys entering from `(start)`.
    journeys: f64,
    /// Transitions into `(conversion)` or `(null)` with positive probability.
    absorbing_edges: usize,
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

impl Chain {
    fn build(table: &PathTable, order: usize) -> Result<Chain> {
        if !(1..=4).contains(&order) {
            return Err(Error::param("order", order, "must be 1, 2, 3 or 4"));
        }
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

    fn transitions(&self) -> usize {
        self.target.len() + self.absorbing_edges
    }

    fn keep_all(&self) -> Vec<bool> {
        vec![true; self.n]
    }

    /// `(P(conversion), expected value)` from `(start)`, with states not kept sent to `(null)`.
    fn solve(&self, keep: &[bool], stats: &mut SolverStats) -> Result<(f64, f64)> {
        let kept: Vec<u32> = (0..self.n as u32).filter(|&s| keep[s as usize]).collect();
        if kept.len() <= DENSE_LIMIT {
            Ok(self.solve_dense(keep, &kept))
        } else {
            stats.iterative = true;
            self.solve_gauss_seidel(keep, stats)
        }
    }

    fn solve_dense(&self, keep: &[bool], kept: &[u32]) -> (f64, f64) {
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

    fn solve_gauss_seidel(&self, keep: &[bool], stats: &mut SolverStats) -> Result<(f64, f64)> {
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

// ------------------------------------------------------------------ Shapley

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
/// 20, or no permutations when sampling is needed; [`Error::InvalidInput`] for
/// more than 64 channels; errors of the chain solves as [`markov`].
pub fn shapley(table: &PathTable, params: &ShapleyParams) -> Result<ShapleyAttribution> {
    if params.exact_up_to > 20 {
        return Err(Error::param(
            "exact_up_to",
            params.exact_up_to,
            "at most 20 (2^20 coalitions)",
        ));
    }
    let chain = Chain::build(table, params.order)?;
    let n = table.channels().len();
    if n > 64 {
        return Err(Error::InvalidInput(format!(
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
    use super::*;
    use crate::touchpoints::paths::RawPathRow;
    use proptest::prelude::*;

    fn table(rows: &[(&str, f64, f64, f64)]) -> PathTable {
        let raw: Vec<RawPathRow> = rows
            .iter()
            .enumerate()
            .map(|(i, (p, c, n, v))| RawPathRow {
                line: i as u64 + 2,
                path: (*p).into(),
                conversions: c.to_string(),
                nulls: n.to_string(),
                value: Some(v.to_string()),
            })
            .collect();
        let (t, report) = PathTable::from_rows(&raw).unwrap();
        assert!(report.is_clean());
        t
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn heuristics_by_hand() {
        let t = table(&[("a > b > c", 2.0, 1.0, 20.0), ("b", 1.0, 0.0, 5.0)]);
        let h = heuristics(&t, &HeuristicParams::default()).unwrap();
        // Channels in first-seen order: a, b, c.
        assert_eq!(h.first_touch.conversions, [2.0, 1.0, 0.0]);
        assert_eq!(h.last_touch.conversions, [0.0, 1.0, 2.0]);
        for (got, want) in h
            .linear
            .value
            .iter()
            .zip([20.0 / 3.0, 20.0 / 3.0 + 5.0, 20.0 / 3.0])
        {
            assert!(close(*got, want, 1e-15));
        }
        let p = &h.position_based.conversions;
        assert!(close(p[0], 0.8, 1e-15) && close(p[1], 1.4, 1e-15) && close(p[2], 0.8, 1e-15));
    }

    #[test]
    fn last_non_direct_skips_direct_unless_alone() {
        let t = table(&[("email > Direct", 3.0, 0.0, 0.0), ("direct", 2.0, 0.0, 0.0)]);
        let h = heuristics(&t, &HeuristicParams::default()).unwrap();
        assert_eq!(h.last_non_direct.conversions, [3.0, 0.0, 2.0]);
        assert_eq!(t.channels(), ["email", "Direct", "direct"]);
    }

    #[test]
    fn removal_effects_by_hand() {
        // a: 1 of 2 convert; b: 0 of 2. P = 1/4; without a nothing converts; without b, 1/4.
        let t = table(&[("a", 1.0, 1.0, 10.0), ("b", 0.0, 2.0, 0.0)]);
        let m = markov(&t, &MarkovParams::default()).unwrap();
        assert!(close(m.conversion_probability, 0.25, 1e-15));
        assert_eq!(m.removal_effects, [1.0, 0.0]);
        assert_eq!(m.credits.conversions, [1.0, 0.0]);
        assert_eq!(m.credits.value, [10.0, 0.0]);
        assert!(close(m.value_per_journey, 2.5, 1e-15));
        assert_eq!(m.solver, Solver::Dense);
    }

    #[test]
    fn loops_and_higher_orders_solve_exactly() {
        // a → a → b: order 1 has a self-loop at a; the absorption probability is still
        // conversions / journeys by flow conservation.
        let t = table(&[
            ("a > a > b", 3.0, 1.0, 0.0),
            ("b > a", 1.0, 4.0, 0.0),
            ("a > b > a > b", 2.0, 2.0, 0.0),
        ]);
        for order in 1..=4 {
            let m = markov(&t, &MarkovParams { order }).unwrap();
            assert!(
                close(m.conversion_probability, 6.0 / 13.0, 1e-13),
                "order {order}: {}",
                m.conversion_probability
            );
        }
        assert!(markov(&t, &MarkovParams { order: 5 }).is_err());
        assert!(markov(&t, &MarkovParams { order: 0 }).is_err());
    }

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

    #[test]
    fn empty_and_conversion_free_tables_give_zero_credit() {
        let empty = PathTable::with_channels(vec!["a".into()]).unwrap();
        let m = markov(&empty, &MarkovParams::default()).unwrap();
        assert_eq!(
            (m.conversion_probability, m.credits.conversions[0]),
            (0.0, 0.0)
        );
        let t = table(&[("a > b", 0.0, 5.0, 0.0)]);
        let m = markov(&t, &MarkovParams::default()).unwrap();
        assert_eq!(m.credits.conversions, [0.0, 0.0]);
        let s = shapley(&t, &ShapleyParams::default()).unwrap();
        assert_eq!(s.credits.conversions, [0.0, 0.0]);
        let h = heuristics(&t, &HeuristicParams::default()).unwrap();
        assert_eq!(h.linear.total_conversions(), 0.0);
    }

    fn arb_table() -> impl Strategy<Value = Vec<(Vec<u8>, u8, u8, u16)>> {
        proptest::collection::vec(
            (
                proptest::collection::vec(0u8..5, 1..7),
                0u8..6,
                0u8..6,
                0u16..500,
            ),
            1..25,
        )
    }

    fn build(rows: &[(Vec<u8>, u8, u8, u16)]) -> PathTable {
        let names: Vec<String> = (0..5).map(|c| format!("ch{c}")).collect();
        let mut t = PathTable::with_channels(names).unwrap();
        for (path, conv, null, value) in rows {
            let codes: Vec<u16> = path.iter().map(|&c| u16::from(c)).collect();
            let value = if *conv > 0 { f64::from(*value) } else { 0.0 };
            t.add(&codes, f64::from(*conv), f64::from(*null), value)
                .unwrap();
        }
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_model_conserves_credit(rows in arb_table(), order in 1usize..=3) {
            let t = build(&rows);
            let (conv, value) = (t.total_conversions(), t.total_value());
            let h = heuristics(&t, &HeuristicParams::default()).unwrap();
            for credits in [&h.first_touch, &h.last_touch, &h.last_non_direct, &h.linear, &h.position_based] {
                prop_assert!(close(credits.total_conversions(), conv, 1e-12));
                prop_assert!(close(credits.total_value(), value, 1e-12));
                prop_assert!(credits.conversions.iter().all(|&c| c >= 0.0));
            }
            let m = markov(&t, &MarkovParams { order }).unwrap();
            let journeys = conv + t.total_nulls();
            if journeys > 0.0 {
                // Flow conservation: the fitted chain converts exactly the observed share.
                prop_assert!(close(m.conversion_probability, conv / journeys, 1e-11));
            }
            prop_assert!(m.removal_effects.iter().all(|r| (0.0..=1.0).contains(r)));
            if m.removal_effects.iter().sum::<f64>() > 0.0 {
                prop_assert!(close(m.credits.total_conversions(), conv, 1e-12));
            }
            let s = shapley(&t, &ShapleyParams { order, ..ShapleyParams::default() }).unwrap();
            prop_assert!(close(s.credits.total_conversions(), conv, 1e-10));
            prop_assert!(close(s.credits.total_value(), value, 1e-10));
        }
    }
}
