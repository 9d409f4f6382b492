//! k-means++ seeding (greedy or not) of several initialisations side by side.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Init;
use super::blocks::{Compact, LANES};
use super::kernel::{SeedingPass, block_distances, min};
use super::rows::{CHUNK, Rows};

/// Where a draw with probability proportional to per-row mass lands, given
/// per-chunk totals of the mass: the chunk and the mass still to walk inside
/// it, or `None` when rounding carried it past the last chunk.
fn draw_chunk(chunk_totals: &[f64], u: f64) -> Option<(usize, f64)> {
    let total: f64 = chunk_totals.iter().sum();
    let mut target = u * total;
    for (c, &t) in chunk_totals.iter().enumerate() {
        if target < t {
            return Some((c, target));
        }
        target -= t;
    }
    None
}

/// The row of chunk `c` where `target` of its mass is used up.
fn draw_in_chunk(data: &Rows<'_>, mass: impl Fn(usize) -> f64, c: usize, mut target: f64) -> usize {
    let range = data.chunk_range(c);
    let mut last_positive = range.start;
    for i in range {
        let m = mass(i);
        if m > 0.0 {
            last_positive = i;
            if target < m {
                return i;
            }
            target -= m;
        }
    }
    // Rounding left a sliver: the chunk's last row with mass.
    last_positive
}

/// The last row with mass, for a draw that rounding carried past the end.
fn last_with_mass(n: usize, mass: impl Fn(usize) -> f64) -> usize {
    (0..n).rev().find(|&i| mass(i) > 0.0).unwrap_or(0)
}

/// Draws a row with probability proportional to `mass` (non-negative, positive
/// total), given per-chunk totals; deterministic for a uniform `u` in [0, 1).
fn draw(data: &Rows<'_>, mass: impl Fn(usize) -> f64, chunk_totals: &[f64], u: f64) -> usize {
    match draw_chunk(chunk_totals, u) {
        Some((c, target)) => draw_in_chunk(data, &mass, c, target),
        None => last_with_mass(data.n, mass),
    }
}

/// The latest centroid and the candidates as [`Compact`] rows, feature-major
/// with `M` points (padding repeats the latest centroid).
fn seeding_points<const M: usize>(compact: &Compact, d: usize, rows: &[usize]) -> Vec<[f32; M]> {
    (0..d)
        .map(|f| {
            let mut column = [0.0; M];
            for (m, c) in column.iter_mut().enumerate() {
                *c = compact.value(rows[m.min(rows.len() - 1)], f, d);
            }
            column
        })
        .collect()
}

/// [`seeding_pass`](super::kernel::seeding_pass) over every chunk for each initialisation being seeded:
/// for seed `s`, the latest centroid `lists[s][0]` and the candidates
/// `lists[s][1..]` (every list equally long). The chunks are shared out among
/// the threads and each chunk's rows serve every initialisation in turn, so
/// they are fetched from memory once for all of them. Returns the sums per
/// initialisation, per chunk, per point.
fn seeding_sums(
    data: &Rows<'_>,
    compact: &Compact,
    seeds: &mut [Seeding],
    lists: &[Vec<usize>],
    arch: pulp::Arch,
) -> Vec<Vec<Vec<f64>>> {
    fn run<const M: usize>(
        data: &Rows<'_>,
        compact: &Compact,
        seeds: &mut [Seeding],
        lists: &[Vec<usize>],
        arch: pulp::Arch,
    ) -> Vec<Vec<Vec<f64>>> {
        let d = data.d;
        let points: Vec<Vec<[f32; M]>> = lists
            .iter()
            .map(|rows| seeding_points::<M>(compact, d, rows))
            .collect();
        let used = lists.first().map_or(0, Vec::len);
        let mut columns: Vec<Vec<&mut [f64]>> = (0..data.n_chunks())
            .map(|_| Vec::with_capacity(seeds.len()))
            .collect();
        for seed in seeds.iter_mut() {
            for (column, part) in columns.iter_mut().zip(seed.closest.chunks_mut(CHUNK)) {
                column.push(part);
            }
        }
        let pass = |(c, column): (usize, &mut Vec<&mut [f64]>)| {
            let range = data.chunk_range(c);
            let blocks = compact.chunk_blocks(range.clone(), d);
            let ws = data.w.map(|w| &w[range]);
            column
                .iter_mut()
                .zip(&points)
                .map(|(closest, points)| {
                    arch.dispatch(SeedingPass::<M> {
                        blocks,
                        d,
                        ws,
                        closest,
                        points,
                    })
                })
                .collect::<Vec<[f64; M]>>()
        };
        #[cfg(feature = "parallel")]
        let per_chunk: Vec<Vec<[f64; M]>> = {
            use rayon::prelude::*;
            columns.par_iter_mut().enumerate().map(pass).collect()
        };
        #[cfg(not(feature = "parallel"))]
        let per_chunk: Vec<Vec<[f64; M]>> = columns.iter_mut().enumerate().map(pass).collect();
        (0..seeds.len())
            .map(|s| {
                per_chunk
                    .iter()
                    .map(|sums| sums[s][..used].to_vec())
                    .collect()
            })
            .collect()
    }
    match lists.first().map_or(0, Vec::len) {
        0..=2 => run::<2>(data, compact, seeds, lists, arch),
        3..=4 => run::<4>(data, compact, seeds, lists, arch),
        5 => run::<5>(data, compact, seeds, lists, arch),
        6 => run::<6>(data, compact, seeds, lists, arch),
        7..=8 => run::<8>(data, compact, seeds, lists, arch),
        // Many candidates: in groups, each with the latest centroid first.
        len => {
            let firsts: Vec<Vec<usize>> = lists.iter().map(|l| l[..8].to_vec()).collect();
            let mut sums = run::<8>(data, compact, seeds, &firsts, arch);
            for start in (8..len).step_by(7) {
                let group: Vec<Vec<usize>> = lists
                    .iter()
                    .map(|l| {
                        let mut with_latest = vec![l[0]];
                        with_latest.extend_from_slice(&l[start..(start + 7).min(len)]);
                        with_latest
                    })
                    .collect();
                let more = run::<8>(data, compact, seeds, &group, arch);
                for (seed_sums, seed_more) in sums.iter_mut().zip(more) {
                    for (s, m) in seed_sums.iter_mut().zip(seed_more) {
                        s.extend_from_slice(&m[1..]);
                    }
                }
            }
            sums
        }
    }
}

/// One initialisation's k-means++ seeding in progress.
struct Seeding {
    rng: ChaCha8Rng,
    /// Weighted squared distance of each row to its nearest centroid so far
    /// (for chunks marked stale, without the latest centroid).
    closest: Vec<f64>,
    /// Per-chunk sums of `closest` (up to date).
    totals: Vec<f64>,
    stale: Vec<bool>,
    latest: usize,
    centroids: Vec<f64>,
}

/// k-means++ (greedy with `trials` > 1) initial centroids, row-major k × d,
/// for one initialisation per generator in `rngs`.
///
/// Each step is one pass over the rows: it lowers every row's distance to the
/// nearest centroid with the centroid chosen last, and sums the potential each
/// candidate would leave. The candidates of the next step are drawn before
/// that pass, so their chunk's distances are brought up to date first (taking
/// the minimum twice changes nothing). The initialisations take their steps
/// side by side, one pass for all of them; each one's draws and arithmetic
/// are those of seeding it alone.
pub(super) fn initial_centroids(
    data: &Rows<'_>,
    compact: &Compact,
    k: usize,
    init: Init,
    rngs: Vec<ChaCha8Rng>,
    arch: pulp::Arch,
) -> Vec<Vec<f64>> {
    let trials = match init {
        Init::KMeansPlusPlus => 1,
        Init::GreedyKMeansPlusPlus { local_trials } => {
            local_trials.unwrap_or(2 + (k as f64).ln().floor() as usize)
        }
    };
    let n_chunks = data.n_chunks();
    let weight = |i: usize| data.weight(i);
    let weight_totals: Vec<f64> =
        crate::parallel::map_range(n_chunks, |c| data.chunk_range(c).map(weight).sum());
    let mut seeds: Vec<Seeding> = rngs
        .into_iter()
        .map(|mut rng| {
            let first = draw(data, weight, &weight_totals, rng.r#gen::<f64>());
            Seeding {
                rng,
                closest: vec![f64::INFINITY; data.n],
                totals: Vec::new(),
                stale: vec![false; n_chunks],
                latest: first,
                centroids: data.row(first).to_vec(),
            }
        })
        .collect();
    let lists: Vec<Vec<usize>> = seeds.iter().map(|s| vec![s.latest]).collect();
    let sums = seeding_sums(data, compact, &mut seeds, &lists, arch);
    for (seed, sums) in seeds.iter_mut().zip(sums) {
        seed.totals = sums.iter().map(|s| s[0]).collect();
    }
    for _ in 1..k {
        let lists: Vec<Vec<usize>> = seeds
            .iter_mut()
            .map(|seed| seed.candidates(data, compact, trials, &weight_totals))
            .collect();
        // Potential after adding each candidate, summed per chunk in order.
        let sums = seeding_sums(data, compact, &mut seeds, &lists, arch);
        for ((seed, sums), rows) in seeds.iter_mut().zip(sums).zip(&lists) {
            let mut best = 0;
            let mut best_pot = f64::INFINITY;
            for t in 0..trials {
                let pot: f64 = sums.iter().map(|p| p[1 + t]).sum();
                if pot < best_pot {
                    best_pot = pot;
                    best = t;
                }
            }
            seed.latest = rows[1 + best];
            seed.centroids.extend_from_slice(data.row(seed.latest));
            // The chunk sums of the chosen candidate are those of the updated distances.
            for (total, s) in seed.totals.iter_mut().zip(&sums) {
                *total = s[1 + best];
            }
            seed.stale.fill(true);
        }
    }
    seeds.into_iter().map(|s| s.centroids).collect()
}

impl Seeding {
    /// The latest centroid and this step's `trials` candidates, drawn with
    /// probability proportional to the distance to the nearest centroid.
    fn candidates(
        &mut self,
        data: &Rows<'_>,
        compact: &Compact,
        trials: usize,
        weight_totals: &[f64],
    ) -> Vec<usize> {
        let potential: f64 = self.totals.iter().sum();
        let mut rows = vec![self.latest; trials + 1];
        for slot in rows[1..].iter_mut() {
            *slot = if potential > 0.0 {
                let u = self.rng.r#gen::<f64>();
                match draw_chunk(&self.totals, u) {
                    Some((c, target)) => {
                        self.refresh(data, compact, c);
                        let closest = &self.closest;
                        draw_in_chunk(data, |i| closest[i], c, target)
                    }
                    None => {
                        // Rounding carried the draw past the end: bring every chunk up to date.
                        for c in 0..self.stale.len() {
                            self.refresh(data, compact, c);
                        }
                        let closest = &self.closest;
                        last_with_mass(data.n, |i| closest[i])
                    }
                }
            } else {
                // Every row sits on a centroid: any row with weight.
                let u = self.rng.r#gen::<f64>();
                draw(data, |i| data.weight(i), weight_totals, u)
            };
        }
        rows
    }

    /// Lowers the distances of chunk `c`'s rows with the latest centroid, if
    /// they are stale, with the arithmetic of [`seeding_pass`](super::kernel::seeding_pass) (so the pass that
    /// follows takes the same minimum again and changes nothing).
    fn refresh(&mut self, data: &Rows<'_>, compact: &Compact, c: usize) {
        if !self.stale.get(c).copied().unwrap_or(false) {
            return;
        }
        self.stale[c] = false;
        let d = data.d;
        let range = data.chunk_range(c);
        let point = seeding_points::<1>(compact, d, &[self.latest]);
        let blocks = compact.chunk_blocks(range.clone(), d);
        for (bi, x) in blocks.chunks_exact(d).enumerate() {
            let [dist] = block_distances::<1>(x, &point);
            for (l, &v) in dist.iter().enumerate().take(range.len() - bi * LANES) {
                let i = range.start + bi * LANES + l;
                let v = f64::from(v);
                let v = match data.w {
                    Some(w) => w[i] * v,
                    None => v,
                };
                self.closest[i] = min(self.closest[i], v);
            }
        }
    }
}
