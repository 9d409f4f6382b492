//! Lloyd's iterations of several initialisations side by side, and the re-seeding of empty segments.

use ndarray::Array2;

use super::blocks::Compact;
use super::kernel::Centroids;
use super::pass::{Chunk, Label, Movement, Pass, Step};
use super::rows::{Rows, squared_distance};
use super::{Algorithm, Clustering, KMeans};

fn for_each_chunk<T: Send>(chunks: &mut [T], f: impl Fn(&mut T) + Sync + Send) {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        chunks.par_iter_mut().for_each(f);
    }
    #[cfg(not(feature = "parallel"))]
    chunks.iter_mut().for_each(f);
}

/// The outcome of one initialisation.
pub(super) struct Run {
    centroids: Vec<f64>,
    labels: Vec<usize>,
    weights: Vec<f64>,
    pub(super) inertia: f64,
    iterations: usize,
    converged: bool,
    shift: f64,
    init: usize,
}

impl Run {
    pub(super) fn into_clustering(self, d: usize, k: usize) -> Clustering {
        let centroids = Array2::from_shape_vec((k, d), self.centroids)
            .unwrap_or_else(|_| Array2::zeros((k, d)));
        Clustering {
            model: KMeans {
                centroids,
                inertia: self.inertia,
                iterations: self.iterations,
                converged: self.converged,
                shift: self.shift,
                best_init: self.init,
                weights: self.weights,
            },
            labels: self.labels,
        }
    }
}

/// Where one initialisation's iterations stand.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    /// Iterating: the next pass assigns and updates.
    Iterate,
    /// Stopped: the next pass is the final assignment.
    Finish,
}

/// One initialisation's Lloyd iterations, apart from its chunks.
struct Lloyd {
    cents: Centroids,
    moved: Movement,
    /// Per-segment weighted sums, weights and counts of rows with positive weight,
    /// updated by each pass's changes.
    sums: Vec<f64>,
    weights: Vec<f64>,
    counts: Vec<i64>,
    new_rows: Vec<f64>,
    iterations: usize,
    converged: bool,
    shift: f64,
    phase: Phase,
}

impl Lloyd {
    fn new(initial: Vec<f64>, d: usize, compact: &Compact) -> Lloyd {
        let k = initial.len() / d;
        Lloyd {
            cents: Centroids::new(initial, k, d, compact),
            moved: Movement::none(k),
            sums: vec![0.0; k * d],
            weights: vec![0.0; k],
            counts: vec![0; k],
            new_rows: vec![0.0; k * d],
            iterations: 0,
            converged: false,
            shift: 0.0,
            phase: Phase::Iterate,
        }
    }

    /// The update after an assigning pass over `chunks`: new centroids, and
    /// [`Phase::Finish`] once the iterations stop.
    fn update<L: Label>(
        &mut self,
        data: &Rows<'_>,
        chunks: &mut [Chunk<L>],
        max_iter: usize,
        tol: f64,
    ) {
        let d = data.d;
        let k = self.cents.k;
        let iteration = self.iterations;
        self.iterations += 1;
        let Lloyd {
            ref mut cents,
            ref mut moved,
            ref mut sums,
            ref mut weights,
            ref mut counts,
            ref mut new_rows,
            ..
        } = *self;
        // Changes added in chunk order, whatever the thread count.
        let mut changed = 0;
        for c in chunks.iter() {
            for (s, v) in sums.iter_mut().zip(&c.sums) {
                *s += v;
            }
            for (s, v) in weights.iter_mut().zip(&c.weights) {
                *s += v;
            }
            for (s, v) in counts.iter_mut().zip(&c.counts) {
                *s += v;
            }
            changed += c.changed;
        }
        for j in 0..k {
            if counts[j] == 0 {
                // Exactly empty, whatever rounding the updates left behind.
                weights[j] = 0.0;
                sums[j * d..(j + 1) * d].fill(0.0);
            }
        }
        let relocated = relocate_empty(data, cents, chunks, sums, weights, counts);
        for j in 0..k {
            if counts[j] > 0 && weights[j] > 0.0 {
                for (v, s) in new_rows[j * d..(j + 1) * d]
                    .iter_mut()
                    .zip(&sums[j * d..(j + 1) * d])
                {
                    *v = s / weights[j];
                }
            } else {
                // Still empty (all weight on fewer distinct rows than k): keep it.
                new_rows[j * d..(j + 1) * d].copy_from_slice(cents.row(j));
            }
        }
        let moves: Vec<f64> = (0..k)
            .map(|j| squared_distance(&new_rows[j * d..(j + 1) * d], cents.row(j)).sqrt())
            .collect();
        self.shift = moves.iter().map(|m| m * m).sum();
        std::mem::swap(&mut cents.rows, new_rows);
        cents.refresh();
        moved.add(&moves);
        let last = self.iterations >= max_iter;
        if relocated {
            // Bounds no longer describe the relocated rows: recompute every row next time.
            for c in chunks.iter_mut() {
                c.upper.fill(f32::INFINITY);
                c.lower.fill(0.0);
            }
            if last {
                self.phase = Phase::Finish;
            }
            return;
        }
        // The first pass starts from arbitrary labels, so only later passes can show
        // stability.
        if (iteration > 0 && changed == 0) || self.shift <= tol {
            self.converged = true;
            self.phase = Phase::Finish;
        } else if last {
            self.phase = Phase::Finish;
        }
    }

    /// The outcome, after the final assignment pass over `chunks`.
    fn finish<L: Label>(self, data: &Rows<'_>, chunks: &[Chunk<L>], init: usize) -> Run {
        let k = self.cents.k;
        let mut labels = Vec::with_capacity(data.n);
        let mut inertia = 0.0;
        let mut final_weights = vec![0.0; k];
        for c in chunks {
            inertia += c.inertia;
            for (r, &l) in c.labels.iter().enumerate() {
                labels.push(l.index());
                final_weights[l.index()] += data.weight(c.start + r);
            }
        }
        Run {
            centroids: self.cents.rows,
            labels,
            weights: final_weights,
            inertia,
            iterations: self.iterations,
            converged: self.converged,
            shift: self.shift,
            init,
        }
    }
}

/// How [`lloyd`] iterates: the stopping rule (`tol` in squared units), the
/// assignment algorithm and the instruction set of the kernels.
#[derive(Clone, Copy)]
pub(super) struct Iterate {
    pub(super) max_iter: usize,
    pub(super) tol: f64,
    pub(super) algorithm: Algorithm,
    pub(super) arch: pulp::Arch,
}

/// Lloyd iterations from each of `initials` (row-major k × d centroids; the
/// first is initialisation `first_init`), run side by side: each pass goes over
/// the chunks once and, for each chunk, takes every initialisation still
/// running in turn, so the chunk's rows are fetched from memory once for all of
/// them. Each initialisation's arithmetic is exactly that of running it alone.
///
/// Returns the run with the lowest inertia (ties: the first initialisation).
pub(super) fn lloyd(
    data: &Rows<'_>,
    compact: &Compact,
    initials: Vec<Vec<f64>>,
    first_init: usize,
    how: Iterate,
) -> Option<Run> {
    let k = initials.first().map_or(0, |c| c.len() / data.d.max(1));
    if k <= <u8 as Label>::SEGMENTS {
        lloyd_with::<u8>(data, compact, initials, first_init, how)
    } else {
        lloyd_with::<u32>(data, compact, initials, first_init, how)
    }
}

/// [`lloyd`] with labels stored as `L`.
fn lloyd_with<L: Label>(
    data: &Rows<'_>,
    compact: &Compact,
    initials: Vec<Vec<f64>>,
    first_init: usize,
    how: Iterate,
) -> Option<Run> {
    let Iterate {
        max_iter,
        tol,
        algorithm,
        arch,
    } = how;
    let d = data.d;
    let mut runs: Vec<Option<Lloyd>> = initials
        .into_iter()
        .map(|initial| Some(Lloyd::new(initial, d, compact)))
        .collect();
    let mut chunks: Vec<Vec<Chunk<L>>> = runs
        .iter()
        .flatten()
        .map(|run| {
            (0..data.n_chunks())
                .map(|c| Chunk::new(data, c, run.cents.k))
                .collect()
        })
        .collect();
    let mut best: Option<Finished<L>> = None;
    while runs.iter().any(Option::is_some) {
        let steps: Vec<Option<(Step<'_>, Pass)>> = runs
            .iter()
            .map(|run| {
                run.as_ref().map(|run| {
                    let pass = match run.phase {
                        Phase::Iterate => Pass::Update,
                        Phase::Finish => Pass::Finish,
                    };
                    (Step::new(&run.cents, &run.moved, algorithm, arch), pass)
                })
            })
            .collect();
        // Each chunk of the running initialisations with those of the same rows.
        let mut columns: Vec<Vec<(&mut Chunk<L>, &Step<'_>, Pass)>> =
            (0..data.n_chunks()).map(|_| Vec::new()).collect();
        for (run_chunks, step) in chunks.iter_mut().zip(&steps) {
            if let Some((step, pass)) = step {
                for (column, chunk) in columns.iter_mut().zip(run_chunks.iter_mut()) {
                    column.push((chunk, step, *pass));
                }
            }
        }
        for_each_chunk(&mut columns, |column| {
            for (chunk, step, pass) in column.iter_mut() {
                chunk.pass(data, compact, step, *pass);
            }
        });
        drop(columns);
        drop(steps);
        for (r, slot) in runs.iter_mut().enumerate() {
            let Some(run) = slot.as_mut() else {
                continue;
            };
            match run.phase {
                Phase::Iterate => run.update(data, &mut chunks[r], max_iter, tol),
                Phase::Finish => {
                    if let Some(run) = slot.take() {
                        let init = first_init + r;
                        // The labels stay in the chunks until the best is known;
                        // the others' memory is released now.
                        let chunks = std::mem::take(&mut chunks[r]);
                        let inertia = chunks.iter().fold(0.0, |t, c| t + c.inertia);
                        if best.as_ref().is_none_or(|b| {
                            inertia < b.inertia || (inertia == b.inertia && init < b.init)
                        }) {
                            best = Some(Finished {
                                run,
                                chunks,
                                inertia,
                                init,
                            });
                        }
                    }
                }
            }
        }
    }
    best.map(|b| b.run.finish(data, &b.chunks, b.init))
}

/// An initialisation after its final pass, its labels still in its chunks.
struct Finished<L: Label> {
    run: Lloyd,
    chunks: Vec<Chunk<L>>,
    inertia: f64,
    init: usize,
}

/// Moves the rows farthest from their centroids into empty segments (scikit-learn's
/// rule), adjusting the sums; returns whether anything moved.
fn relocate_empty<L: Label>(
    data: &Rows<'_>,
    cents: &Centroids,
    chunks: &mut [Chunk<L>],
    sums: &mut [f64],
    weights: &mut [f64],
    counts: &mut [i64],
) -> bool {
    let d = data.d;
    let empty: Vec<usize> = (0..cents.k).filter(|&j| counts[j] == 0).collect();
    if empty.is_empty() {
        return false;
    }
    // Rows with positive weight, farthest first (ties: lower row first).
    let mut far: Vec<(f64, usize, usize)> = Vec::new();
    for (ci, c) in chunks.iter().enumerate() {
        for (r, &l) in c.labels.iter().enumerate() {
            let i = c.start + r;
            if data.weight(i) > 0.0 {
                far.push((squared_distance(data.row(i), cents.row(l.index())), i, ci));
            }
        }
    }
    far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut moved_any = false;
    for (&j, &(_, i, ci)) in empty.iter().zip(&far) {
        let r = i - chunks[ci].start;
        let old = chunks[ci].labels[r].index();
        let w = data.weight(i);
        // Keep a segment from being emptied by the move.
        if counts[old] <= 1 {
            continue;
        }
        for (f, &v) in data.row(i).iter().enumerate() {
            sums[old * d + f] -= w * v;
            sums[j * d + f] = w * v;
        }
        weights[old] -= w;
        weights[j] = w;
        counts[old] -= 1;
        counts[j] = 1;
        chunks[ci].labels[r] = L::of(j);
        moved_any = true;
    }
    moved_any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::kmeans::predict::assign;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// One-byte labels (k ≤ 256) and four-byte labels give the same fit; with
    /// k beyond 256 (four-byte labels) every row ends at its nearest centroid.
    #[test]
    fn label_widths_give_the_same_fit() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((9_001, 5), |_| rng.gen_range(-10.0..10.0));
        let data = Rows::new(x.view(), None).unwrap_or_else(|e| panic!("{e}"));
        let compact = Compact::new(&data, &[]);
        let initials = |k: usize| -> Vec<Vec<f64>> {
            (0..2)
                .map(|s| {
                    (0..k)
                        .flat_map(|j| data.row((j * 29 + s * 13) % data.n).to_vec())
                        .collect()
                })
                .collect()
        };
        for algorithm in [Algorithm::Hamerly, Algorithm::Lloyd] {
            let how = Iterate {
                max_iter: 40,
                tol: 0.0,
                algorithm,
                arch: pulp::Arch::new(),
            };
            let fit = |run: Option<Run>, k| run.map(|r| r.into_clustering(data.d, k));
            let narrow = fit(lloyd_with::<u8>(&data, &compact, initials(7), 0, how), 7);
            let wide = fit(lloyd_with::<u32>(&data, &compact, initials(7), 0, how), 7);
            assert!(narrow.is_some());
            assert_eq!(narrow, wide, "{algorithm:?}");
            let many = fit(lloyd(&data, &compact, initials(300), 0, how), 300);
            let many = many.unwrap_or_else(|| panic!("a fit"));
            assert_eq!(many.labels, assign(&many.model.centroids, &data));
            assert_eq!(many.model.weights.iter().sum::<f64>(), 9_001.0);
        }
    }
}
