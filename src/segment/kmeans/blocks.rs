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
        let d = data.d;
        let n_chunks = data.n_chunks();
        // Weighted means: only the centring, so any fixed summation order will do.
        let parts: Vec<(Vec<f64>, f64)> = crate::parallel::map_range(n_chunks, |c| {
            let mut sums = vec![0.0; d];
            let mut total = 0.0;
            for i in data.chunk_range(c) {
                let w = data.weight(i);
                total += w;
                for (s, &v) in sums.iter_mut().zip(data.row(i)) {
                    *s += w * v;
                }
            }
            (sums, total)
        });
        let mut mean = vec![0.0; d];
        let mut total = 0.0;
        for (sums, t) in &parts {
            total += t;
            for (m, s) in mean.iter_mut().zip(sums) {
                *m += s;
            }
        }
        for m in &mut mean {
            // No weight at all (no rows): any centre will do.
            *m = if total > 0.0 { *m / total } else { 0.0 };
        }
        let spans: Vec<f64> = crate::parallel::map_range(n_chunks, |c| {
            let xs = &data.x[data.chunk_range(c).start * d..data.chunk_range(c).end * d];
            xs.chunks_exact(d).fold(0.0f64, |acc, row| {
                row.iter()
                    .zip(&mean)
                    .fold(acc, |acc, (v, m)| acc.max((v - m).abs()))
            })
        });
        let span = points
            .chunks_exact(d)
            .flat_map(|p| p.iter().zip(&mean).map(|(v, m)| (v - m).abs()))
            .chain(spans)
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
        Compact {
            blocks,
            mean,
            scale,
        }
    }
}
