//! The single-precision distance kernels (seeding pass, nearest centroid of a block), compiled per instruction set through `pulp`.

use super::blocks::{Compact, LANES};
use super::rows::squared_distance;

/// Unit roundoff of f32.
const F32_UNIT: f32 = 1.0 / 16_777_216.0;

/// A floor on the error margin (in the scaled space), far above anything
/// underflow can lose.
const F32_FLOOR: f32 = 7.888_609e-31; // 2^-100

/// Squared distances, in single precision, from each row of a block
/// (`x[f][lane]`) to `M` points given feature-major (`points[f][m]`), summed
/// feature by feature; every lane performs the same operations in the same
/// order, so a row's distance to a point does not depend on its block, on the
/// other points or on the vector width.
#[inline(always)]
pub(super) fn block_distances<const M: usize>(
    x: &[[f32; LANES]],
    points: &[[f32; M]],
) -> [[f32; LANES]; M] {
    let mut acc = [[0.0f32; LANES]; M];
    for (xf, pf) in x.iter().zip(points) {
        for (a, &c) in acc.iter_mut().zip(pf) {
            for l in 0..LANES {
                let t = xf[l] - c;
                a[l] += t * t;
            }
        }
    }
    acc
}

/// The smaller of two values that are not NaN (`f64::min` without its NaN test).
#[inline(always)]
pub(super) fn min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// One pass of k-means++ seeding over a chunk's `n` rows, given as blocks of
/// [`Compact`] rows, with `M` points: point 0 is the latest centroid, whose
/// (weighted) squared distance lowers `closest`; the others are candidates (or
/// padding). Returns, per point, the sum over the rows of min(weighted
/// distance, closest): for point 0 the new potential, for a candidate the
/// potential if it were added. Sums are kept per lane and added in lane order.
/// Without weights (`WEIGHTED` false) every weight is 1 and the products are
/// left out; the values are the same.
#[inline(always)]
fn seeding_pass<const M: usize, const WEIGHTED: bool>(
    blocks: &[[f32; LANES]],
    d: usize,
    ws: &[f64],
    closest: &mut [f64],
    points: &[[f32; M]],
) -> [f64; M] {
    let n = closest.len();
    let mut pot = [[0.0f64; LANES]; M];
    for (bi, x) in blocks.chunks_exact(d).enumerate() {
        let dist = block_distances::<M>(x, points);
        let r0 = bi * LANES;
        if r0 + LANES <= n {
            let slots = &mut closest[r0..r0 + LANES];
            let w = if WEIGHTED { &ws[r0..r0 + LANES] } else { &[] };
            let mut now = [0.0f64; LANES];
            for l in 0..LANES {
                let d0 = f64::from(dist[0][l]);
                now[l] = min(slots[l], if WEIGHTED { w[l] * d0 } else { d0 });
                slots[l] = now[l];
            }
            // Every point's sum, padding included (it repeats the latest
            // centroid), so the loops have fixed widths and vectorise.
            for (p, dt) in pot.iter_mut().zip(&dist).skip(1) {
                for l in 0..LANES {
                    let v = f64::from(dt[l]);
                    p[l] += min(if WEIGHTED { w[l] * v } else { v }, now[l]);
                }
            }
            for l in 0..LANES {
                pot[0][l] += now[l];
            }
        } else {
            // The last, partial block.
            for l in 0..n - r0 {
                let r = r0 + l;
                let w = if WEIGHTED { ws[r] } else { 1.0 };
                let d0 = f64::from(dist[0][l]);
                let now = min(closest[r], if WEIGHTED { w * d0 } else { d0 });
                closest[r] = now;
                for (p, dt) in pot.iter_mut().zip(&dist).skip(1) {
                    let v = f64::from(dt[l]);
                    p[l] += min(if WEIGHTED { w * v } else { v }, now);
                }
                pot[0][l] += now;
            }
        }
    }
    let mut sums = [0.0f64; M];
    for (s, p) in sums.iter_mut().zip(&pot) {
        *s = p.iter().sum();
    }
    sums
}

/// [`seeding_pass`] compiled for the widest vector instructions the processor
/// has (chosen at run time by `pulp`; see the module docs).
pub(super) struct SeedingPass<'a, const M: usize> {
    pub(super) blocks: &'a [[f32; LANES]],
    pub(super) d: usize,
    pub(super) ws: Option<&'a [f64]>,
    pub(super) closest: &'a mut [f64],
    pub(super) points: &'a [[f32; M]],
}

impl<const M: usize> pulp::WithSimd for SeedingPass<'_, M> {
    type Output = [f64; M];

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> [f64; M] {
        let SeedingPass {
            blocks,
            d,
            ws,
            closest,
            points,
        } = self;
        match ws {
            Some(ws) => seeding_pass::<M, true>(blocks, d, ws, closest, points),
            None => seeding_pass::<M, false>(blocks, d, &[], closest, points),
        }
    }
}

/// The centroids in the layouts the kernels need.
pub(super) struct Centroids {
    pub(super) k: usize,
    d: usize,
    /// Row-major k × d.
    pub(super) rows: Vec<f64>,
    /// Half the distance from each centroid to its nearest other centroid.
    pub(super) half_gap: Vec<f64>,
    /// The rows' centring and scale (see [`Compact`]).
    mean: Vec<f64>,
    pub(super) scale: f64,
    /// 2c̃ (c̃ the centred, scaled f32 centroid), centroid-major k × d, repeated
    /// over the lanes so the kernel multiplies whole vectors.
    twice: Vec<[f32; LANES]>,
    /// ‖c̃‖² of each centroid, and the largest.
    norms: Vec<f32>,
    max_norm: f32,
}

/// The nearest centroids of a block of rows, per lane.
pub(super) struct BlockNearest {
    /// Index of the nearest centroid.
    pub(super) best: [f32; LANES],
    /// Whether the f32 distances decide the nearest centroid.
    pub(super) decided: [bool; LANES],
    /// Upper bound on the distance to the nearest centroid, lower bound on the
    /// distance to any other (scaled space).
    pub(super) upper: [f32; LANES],
    pub(super) lower: [f32; LANES],
}

impl Centroids {
    pub(super) fn new(rows: Vec<f64>, k: usize, d: usize, compact: &Compact) -> Centroids {
        let mut c = Centroids {
            k,
            d,
            rows,
            half_gap: vec![f64::INFINITY; k],
            mean: compact.mean.clone(),
            scale: compact.scale,
            twice: vec![[0.0; LANES]; k * d],
            norms: vec![0.0; k],
            max_norm: 0.0,
        };
        c.refresh();
        c
    }

    pub(super) fn row(&self, j: usize) -> &[f64] {
        &self.rows[j * self.d..(j + 1) * self.d]
    }

    /// Recomputes the derived layouts after `rows` changed.
    pub(super) fn refresh(&mut self) {
        let (k, d) = (self.k, self.d);
        let inv = 1.0 / self.scale;
        self.max_norm = 0.0;
        for j in 0..k {
            let mut norm = 0.0f64;
            for f in 0..d {
                let c = ((self.rows[j * d + f] - self.mean[f]) * inv) as f32;
                norm += f64::from(c) * f64::from(c);
                self.twice[j * d + f] = [2.0 * c; LANES];
            }
            self.norms[j] = norm as f32;
            self.max_norm = self.max_norm.max(norm as f32);
        }
        for j in 0..k {
            let mut nearest = f64::INFINITY;
            for o in 0..k {
                if o != j {
                    nearest = nearest.min(squared_distance(self.row(j), self.row(o)));
                }
            }
            self.half_gap[j] = 0.5 * nearest.sqrt();
        }
    }

    /// Nearest and second-nearest squared distances of `x` in f64 (ties: lowest index).
    pub(super) fn nearest_exact(&self, x: &[f64]) -> (usize, f64, f64) {
        let (mut best, mut d1, mut d2) = (0, f64::INFINITY, f64::INFINITY);
        for j in 0..self.k {
            let v = squared_distance(x, self.row(j));
            if v < d1 {
                d2 = d1;
                d1 = v;
                best = j;
            } else if v < d2 {
                d2 = v;
            }
        }
        (best, d1, d2)
    }

    /// The nearest centroid of each row of a block (`x[f][lane]`, scaled f32)
    /// through ‖x̃ − c̃‖² = ‖x̃‖² + (‖c̃‖² − 2x̃·c̃), with rows in the lanes so that
    /// every operation is a whole-vector one and the running minimum needs no
    /// branch.
    ///
    /// The computed squared distances are within `err` = (4d + 24)·u·(‖x̃‖² +
    /// max ‖c̃‖²) of the exact distances of the f64 rows (u = 2⁻²⁴): about
    /// (3d + 12)·u·(…) for the rounding of the data, the products and the sums,
    /// with the rest as slack for the bounds' own rounding. The nearest
    /// centroid is decided when the second nearest is more than 2·err farther;
    /// otherwise the caller decides in f64.
    #[inline(always)]
    pub(super) fn nearest_block(&self, x: &[[f32; LANES]]) -> BlockNearest {
        let d = self.d;
        let mut m1 = [f32::INFINITY; LANES];
        let mut m2 = [f32::INFINITY; LANES];
        let mut best = [0.0f32; LANES];
        for (j, twice) in self.twice.chunks_exact(d).enumerate() {
            let mut acc = [self.norms[j]; LANES];
            for (xf, cf) in x.iter().zip(twice) {
                for l in 0..LANES {
                    acc[l] -= xf[l] * cf[l];
                }
            }
            let index = j as f32;
            for l in 0..LANES {
                let a = acc[l];
                let nearer = a < m1[l];
                // The second smallest is min(m2, max(m1, a)) whichever way a compares.
                let above = if a > m1[l] { a } else { m1[l] };
                m2[l] = if above < m2[l] { above } else { m2[l] };
                best[l] = if nearer { index } else { best[l] };
                m1[l] = if nearer { a } else { m1[l] };
            }
        }
        let mut xx = [0.0f32; LANES];
        for xf in x {
            for l in 0..LANES {
                xx[l] += xf[l] * xf[l];
            }
        }
        let rel = (4 * d + 24) as f32 * F32_UNIT;
        let mut out = BlockNearest {
            best,
            decided: [false; LANES],
            upper: [0.0; LANES],
            lower: [0.0; LANES],
        };
        for l in 0..LANES {
            let err = rel * (xx[l] + self.max_norm) + F32_FLOOR;
            out.decided[l] = m2[l] - m1[l] > 2.0 * err;
            out.upper[l] = (xx[l] + m1[l] + err).max(0.0).sqrt();
            out.lower[l] = (xx[l] + m2[l] - err).max(0.0).sqrt();
        }
        out
    }
}
