//! The rows in single precision, centred, scaled and stored in blocks of eight rows, one per lane.

use super::rows::{CHUNK, Rows};

/// Rows per block of the assignment kernel, one row per lane.
pub(super) const LANES: usize = 8;

/// The rows in single precision for the assignment kernel: centred on their
/// weighted mean and scaled by a power of two into [-1, 1], so that f32 keeps
/// seven significant digits of the distances that decide a segment, and the
/// kernel reads half the bytes with twice the lanes.
///
/// Every f32 result comes with an error bound; when the two nearest centroids
/// are closer than it, the row is decided in f64 instead, so labels are those
/// of exact distances (see [`Centroids::nearest_block`](super::kernel::Centroids::nearest_block)).
pub(super) struct Compact {
    /// Blocks of `LANES` rows, each feature-major (`blocks[b * d + f][lane]`
    /// is feature `f` of row `b * LANES + lane`), so the kernel reads a
    /// block's rows already spread over the lanes; the last block is padded
    /// with zeros.
    pub(super) blocks: Vec<[f32; LANES]>,
    pub(super) mean: Vec<f64>,
    /// A power of two at least the largest |x − mean|.
    pub(super) scale: f64,
}

impl Compact {
    /// Feature `f` of row `i` (`d` features).
    pub(super) fn value(&self, i: usize, f: usize, d: usize) -> f32 {
        self.blocks[(i / LANES) * d + f][i % LANES]
    }

    /// The blocks holding the rows of `range`, which starts on a block boundary.
    pub(super) fn chunk_blocks(&self, range: std::ops::Range<usize>, d: usize) -> &[[f32; LANES]] {
        &self.blocks[range.start / LANES * d..range.end.div_ceil(LANES) * d]
    }

    /// The compact rows of `data`, scaled so that the rows and `points` (the
    /// centroids a prediction compares them with, which may lie outside the
    /// rows' range) are all within [-1, 1].
    pub(super) fn new(data: &Rows<'_>, points: &[f64]) -> Compact {
        Compact::build(data, points, false).0
    }

    /// [`new`](Self::new) without points, and the mean of the feature
    /// variances, exactly as [`mean_variance`](super::rows::mean_variance)
    /// computes it, from the same passes over the rows.
    pub(super) fn with_mean_variance(data: &Rows<'_>) -> (Compact, f64) {
        let (compact, variance) = Compact::build(data, &[], true);
        (compact, variance.unwrap_or(f64::NAN))
    }

    /// The compact rows, and with `variance` the mean feature variance: three
    /// passes over the rows (sums; deviations and span; the copy).
    fn build(data: &Rows<'_>, points: &[f64], variance: bool) -> (Compact, Option<f64>) {
        let d = data.d;
        let n_chunks = data.n_chunks();
        // Weighted means: only the centring, so any fixed summation order will
        // do. With `variance`, also the unweighted sums of mean_variance, from
        // −0.0 in the same order.
        struct Sums {
            weighted: Vec<f64>,
            total: f64,
            plain: Vec<f64>,
        }
        let parts: Vec<Sums> = crate::parallel::map_range(n_chunks, |c| {
            let mut weighted = vec![0.0; d];
            let mut total = 0.0;
            let mut plain = vec![-0.0; if variance { d } else { 0 }];
            for i in data.chunk_range(c) {
                let w = data.weight(i);
                total += w;
                let row = data.row(i);
                for (s, &v) in weighted.iter_mut().zip(row) {
                    *s += w * v;
                }
                for (s, &v) in plain.iter_mut().zip(row) {
                    *s += v;
                }
            }
            Sums {
                weighted,
                total,
                plain,
            }
        });
        let mut mean = vec![0.0; d];
        let mut total = 0.0;
        let mut plain = vec![-0.0f64; if variance { d } else { 0 }];
        for part in &parts {
            total += part.total;
            for (m, s) in mean.iter_mut().zip(&part.weighted) {
                *m += s;
            }
            for (t, p) in plain.iter_mut().zip(&part.plain) {
                *t += p;
            }
        }
        for m in &mut mean {
            // No weight at all (no rows): any centre will do.
            *m = if total > 0.0 { *m / total } else { 0.0 };
        }
        let n = data.n as f64;
        for m in &mut plain {
            *m /= n;
        }
        // Per chunk, the largest |x − mean| and (with `variance`) the squared
        // deviations from the unweighted means.
        let parts: Vec<(f64, Vec<f64>)> = crate::parallel::map_range(n_chunks, |c| {
            let xs = &data.x[data.chunk_range(c).start * d..data.chunk_range(c).end * d];
            let span = xs.chunks_exact(d).fold(0.0f64, |acc, row| {
                row.iter()
                    .zip(&mean)
                    .fold(acc, |acc, (v, m)| acc.max((v - m).abs()))
            });
            let mut squares = vec![-0.0f64; plain.len()];
            if variance {
                for row in xs.chunks_exact(d) {
                    for ((s, &v), &m) in squares.iter_mut().zip(row).zip(&plain) {
                        *s += (v - m).powi(2);
                    }
                }
            }
            (span, squares)
        });
        let mut squares = vec![-0.0f64; plain.len()];
        for (_, part) in &parts {
            for (t, p) in squares.iter_mut().zip(part) {
                *t += p;
            }
        }
        let mean_variance = variance.then(|| squares.iter().map(|v| v / n).sum::<f64>() / d as f64);
        let span = points
            .chunks_exact(d)
            .flat_map(|p| p.iter().zip(&mean).map(|(v, m)| (v - m).abs()))
            .chain(parts.iter().map(|(span, _)| *span))
            .fold(0.0f64, f64::max);
        let mut scale = 1.0f64;
        while scale < span {
            scale *= 2.0;
        }
        // (Not below about 1e-290, so that 1/scale stays finite.)
        while scale * 0.5 >= span && span > 0.0 && scale > 1e-290 {
            scale *= 0.5;
        }
        let inv = 1.0 / scale;
        let mut blocks = vec![[0.0f32; LANES]; data.n.div_ceil(LANES) * d];
        let fill = |(c, out): (usize, &mut [[f32; LANES]])| {
            let range = data.chunk_range(c);
            let xs = &data.x[range.start * d..range.end * d];
            for (rows, block) in xs.chunks(LANES * d).zip(out.chunks_exact_mut(d)) {
                for (l, row) in rows.chunks_exact(d).enumerate() {
                    for ((b, &v), m) in block.iter_mut().zip(row).zip(&mean) {
                        b[l] = ((v - m) * inv) as f32;
                    }
                }
            }
        };
        #[cfg(feature = "parallel")]
        {
            use rayon::prelude::*;
            blocks
                .par_chunks_mut(CHUNK / LANES * d)
                .enumerate()
                .for_each(fill);
        }
        #[cfg(not(feature = "parallel"))]
        blocks
            .chunks_mut(CHUNK / LANES * d)
            .enumerate()
            .for_each(fill);
        let compact = Compact {
            blocks,
            mean,
            scale,
        };
        (compact, mean_variance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::kmeans::rows::mean_variance;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The copy made with the mean variance is the one made alone, and the
    /// variance is mean_variance's to the bit, with and without weights.
    #[test]
    fn copy_with_mean_variance_is_the_copy_and_the_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut x = Array2::from_shape_fn((10_003, 3), |_| rng.gen_range(-5.0..9.0));
        x.column_mut(2).fill(-0.0);
        let weights: Vec<f64> = (0..x.nrows()).map(|i| (i % 5) as f64 * 0.5).collect();
        for w in [None, Some(&weights[..])] {
            let data = Rows::new(x.view(), w).unwrap_or_else(|e| panic!("{e}"));
            let (both, variance) = Compact::with_mean_variance(&data);
            let alone = Compact::new(&data, &[]);
            assert_eq!(variance.to_bits(), mean_variance(&data).to_bits());
            assert_eq!(both.blocks, alone.blocks);
            assert_eq!(both.mean, alone.mean);
            assert_eq!(both.scale, alone.scale);
        }
    }
}
