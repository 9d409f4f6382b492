//! One chunk's assignment pass: Hamerly's test, the nearest-centroid kernel, the sums of the rows that moved.

use super::Algorithm;
use super::blocks::{Compact, LANES};
use super::kernel::{BlockNearest, Centroids};
use super::rows::{Rows, squared_distance};

/// A row's segment as a chunk stores it: one byte when k ≤ 256, so each pass
/// streams less state and looks up Hamerly's thresholds without a bounds
/// check; four bytes otherwise.
pub(super) trait Label: Copy + Eq + Into<u32> + Send + Sync + 'static {
    /// How many segments the type can name; when that is few, [`Step`]'s
    /// tables have an entry for each.
    const SEGMENTS: usize;

    /// Segment `j` (less than [`SEGMENTS`](Self::SEGMENTS)).
    fn of(j: usize) -> Self;

    /// The segment's number.
    fn index(self) -> usize {
        Into::<u32>::into(self) as usize
    }
}

impl Label for u8 {
    const SEGMENTS: usize = 256;

    fn of(j: usize) -> u8 {
        j as u8
    }
}

impl Label for u32 {
    const SEGMENTS: usize = usize::MAX;

    fn of(j: usize) -> u32 {
        j as u32
    }
}

/// Entries of [`Step`]'s per-segment tables at least (when k is smaller, the
/// rest are padding), so that one-byte labels index them without a check.
const TABLE: usize = 256;
const _: () = assert!(<u8 as Label>::SEGMENTS <= TABLE);

/// One chunk's rows' state and its accumulators (kept across iterations).
pub(super) struct Chunk<L: Label> {
    pub(super) start: usize,
    pub(super) labels: Vec<L>,
    /// Upper bound on the distance to the own centroid, in the scaled space of
    /// [`Compact`], rounded up to f32 (half the bytes to stream each pass).
    pub(super) upper: Vec<f32>,
    /// Lower bound on the distance to any other centroid, rounded down.
    pub(super) lower: Vec<f32>,
    /// This pass's change of the per-segment weighted sums, weights and row counts.
    pub(super) sums: Vec<f64>,
    pub(super) weights: Vec<f64>,
    pub(super) counts: Vec<i64>,
    /// Whether the rows' labels are not yet counted in the segment sums.
    fresh: bool,
    /// A block of rows for the kernel, `block[f][lane]`.
    block: Vec<[f32; LANES]>,
    pub(super) changed: usize,
    pub(super) inertia: f64,
}

/// How far the centroids have moved in total, for the bounds.
///
/// Rows store their bounds relative to these running totals (the upper bound
/// minus its centroid's total move, the lower bound plus the total of the
/// largest moves of the other centroids), so a row whose bounds still hold is
/// skipped without writing anything.
pub(super) struct Movement {
    /// Total move of each centroid.
    own: Vec<f64>,
    /// Total, over updates, of the largest move of any other centroid.
    others: Vec<f64>,
}

impl Movement {
    pub(super) fn none(k: usize) -> Movement {
        Movement {
            own: vec![0.0; k],
            others: vec![0.0; k],
        }
    }

    /// Adds one update's moves.
    pub(super) fn add(&mut self, moves: &[f64]) {
        let (mut largest, mut second, mut largest_at) = (0.0f64, 0.0f64, 0);
        for (j, &m) in moves.iter().enumerate() {
            if m > largest {
                second = largest;
                largest = m;
                largest_at = j;
            } else if m > second {
                second = m;
            }
        }
        for (j, &m) in moves.iter().enumerate() {
            self.own[j] += m;
            self.others[j] += if j == largest_at { second } else { largest };
        }
    }
}

/// What a pass over the rows does besides assigning.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Pass {
    /// Assign and accumulate sums for the update.
    Update,
    /// Assign and accumulate the inertia of the assignment.
    Finish,
}

impl<L: Label> Chunk<L> {
    pub(super) fn new(data: &Rows<'_>, c: usize, k: usize) -> Chunk<L> {
        let range = data.chunk_range(c);
        let len = range.len();
        Chunk {
            start: range.start,
            labels: vec![L::of(0); len],
            upper: vec![f32::INFINITY; len],
            lower: vec![0.0; len],
            sums: vec![0.0; k * data.d],
            weights: vec![0.0; k],
            counts: vec![0; k],
            fresh: true,
            block: vec![[0.0; LANES]; data.d],
            changed: 0,
            inertia: 0.0,
        }
    }

    /// Assigns the chunk's rows to their nearest centroids (with bounds under
    /// Hamerly), then accumulates per `pass`.
    pub(super) fn pass(&mut self, rows: &Rows<'_>, compact: &Compact, step: &Step<'_>, pass: Pass) {
        // One specialised loop per combination keeps the loop body small.
        match (step.algorithm, pass) {
            (Algorithm::Hamerly, Pass::Update) => self.run::<true, true>(rows, compact, step),
            (Algorithm::Hamerly, Pass::Finish) => self.run::<true, false>(rows, compact, step),
            (Algorithm::Lloyd, Pass::Update) => self.run::<false, true>(rows, compact, step),
            (Algorithm::Lloyd, Pass::Finish) => self.run::<false, false>(rows, compact, step),
        }
    }

    pub(super) fn run<const HAMERLY: bool, const UPDATE: bool>(
        &mut self,
        data: &Rows<'_>,
        compact: &Compact,
        step: &Step<'_>,
    ) {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch { todo, masks, moves } = &mut *scratch;
            let n = self.labels.len();
            if todo.len() < n + LANES {
                todo.resize(n + LANES, 0);
            }
            if masks.len() < n.div_ceil(LANES) {
                masks.resize(n.div_ceil(LANES), 0);
            }
            if moves.len() < n + LANES {
                moves.resize(n + LANES, (0, 0));
            }
            step.arch.dispatch(ChunkPass::<L, HAMERLY, UPDATE> {
                chunk: self,
                data,
                compact,
                step,
                todo,
                masks,
                moves,
            });
        });
    }

    #[inline(always)]
    fn run_with<const HAMERLY: bool, const UPDATE: bool>(
        &mut self,
        data: &Rows<'_>,
        compact: &Compact,
        step: &Step<'_>,
        todo: &mut [u32],
        masks: &mut [u8],
        moves: &mut [(u32, u32)],
    ) {
        let d = data.d;
        let n = self.labels.len();
        let xs = &data.x[self.start * d..(self.start + n) * d];
        // Chunks start on a block boundary (CHUNK is a multiple of LANES).
        let first_block = self.start / LANES;
        let blocks = &compact.blocks[first_block * d..(first_block + n.div_ceil(LANES)) * d];
        let ws: Option<&[f64]> = data.w.map(|w| &w[self.start..self.start + n]);
        let fresh = UPDATE && self.fresh;
        let cents = step.cents;
        let (own, others) = (&step.own[..], &step.others[..]);
        let Chunk {
            ref mut labels,
            ref mut upper,
            ref mut lower,
            ref mut sums,
            ref mut weights,
            ref mut counts,
            ref mut block,
            ..
        } = *self;
        if UPDATE {
            sums.fill(0.0);
            weights.fill(0.0);
            counts.fill(0);
        }
        // The rows whose bounds do not prove their segment (Hamerly's test), a
        // block of rows at a time: a bit per lane, and the blocks with none skipped.
        let n_blocks = n.div_ceil(LANES);
        let mut count = n;
        if HAMERLY {
            count = 0;
            // With one-byte labels, a table of known length: no bounds checks.
            let table = if L::SEGMENTS <= TABLE {
                &step.skip[..TABLE]
            } else {
                &step.skip[..]
            };
            let full = n / LANES;
            for (((fails, labs), ups), los) in masks[..full]
                .iter_mut()
                .zip(labels.chunks_exact(LANES))
                .zip(upper.chunks_exact(LANES))
                .zip(lower.chunks_exact(LANES))
            {
                let mut mask = 0u32;
                for l in 0..LANES {
                    let (g, t) = table[labs[l].index()];
                    let (up, lo) = (f64::from(ups[l]), f64::from(los[l]));
                    mask |= u32::from((up > g) & (up - lo > t)) << l;
                }
                *fails = mask as u8;
                count += mask.count_ones() as usize;
            }
            if full < n_blocks {
                let r0 = full * LANES;
                let mut mask = 0u32;
                for l in 0..n - r0 {
                    let (g, t) = table[labels[r0 + l].index()];
                    let (up, lo) = (f64::from(upper[r0 + l]), f64::from(lower[r0 + l]));
                    mask |= u32::from((up > g) & (up - lo > t)) << l;
                }
                masks[full] = mask as u8;
                count += mask.count_ones() as usize;
            }
        } else {
            masks[..n_blocks].fill(u8::MAX);
        }
        let mut changed = 0usize;
        // The rows that changed segment (offsets, with their old segment), kept
        // after the first update (which sums every row); written without
        // branches, the entries past `n_moves` unused.
        let mut n_moves = 0usize;
        let record = UPDATE && !fresh;
        // Row `r`'s new segment and bounds from lane `l` of a kernel result
        // (decided in f64 when the f32 distances cannot tell).
        macro_rules! settle {
            ($r:expr, $near:expr, $l:expr) => {{
                let (r, near, l): (usize, &BlockNearest, usize) = ($r, $near, $l);
                let (b, up, lo) = if near.decided[l] {
                    (
                        near.best[l] as usize,
                        f64::from(near.upper[l]),
                        f64::from(near.lower[l]),
                    )
                } else {
                    let (b, d1, d2) = cents.nearest_exact(&xs[r * d..(r + 1) * d]);
                    (b, d1.sqrt() / cents.scale, d2.sqrt() / cents.scale)
                };
                if HAMERLY {
                    upper[r] = round_up(up - own[b]);
                    lower[r] = round_down(lo + others[b]);
                }
                let a = labels[r];
                let moved = b != a.index();
                labels[r] = L::of(b);
                moves[n_moves] = (r as u32, a.into());
                n_moves += usize::from(record & moved);
                changed += usize::from(moved);
            }};
        }
        if 2 * count >= n {
            // Most rows to compute: every block in place, the rows already in lanes.
            for ((bi, x), &fails) in blocks
                .chunks_exact(d)
                .take(n / LANES)
                .enumerate()
                .zip(&masks[..n_blocks])
            {
                if fails == 0 {
                    continue;
                }
                let near = cents.nearest_block(x);
                let r0 = bi * LANES;
                if near.decided.iter().all(|&v| v) {
                    let lanes = &mut labels[r0..r0 + LANES];
                    // The common case, whole vectors: new labels and bounds, then the
                    // labels stored and the rows that changed segment recorded.
                    let best = near.best.map(|b| b as u32);
                    if HAMERLY {
                        let (ups, los) = (&mut upper[r0..r0 + LANES], &mut lower[r0..r0 + LANES]);
                        for l in 0..LANES {
                            let b = best[l] as usize;
                            ups[l] = round_up(f64::from(near.upper[l]) - own[b]);
                            los[l] = round_down(f64::from(near.lower[l]) + others[b]);
                        }
                    }
                    for l in 0..LANES {
                        let (a, b) = (lanes[l], L::of(best[l] as usize));
                        let moved = b != a;
                        moves[n_moves] = ((r0 + l) as u32, a.into());
                        n_moves += usize::from(record & moved);
                        changed += usize::from(moved);
                        lanes[l] = b;
                    }
                } else {
                    for l in 0..LANES {
                        settle!(r0 + l, &near, l);
                    }
                }
            }
            // The rows of a last, partial block.
            let full = n / LANES * LANES;
            if full < n {
                let near = cents.nearest_block(&blocks[full / LANES * d..]);
                for l in 0..n - full {
                    settle!(full + l, &near, l);
                }
            }
        } else {
            // A few rows: listed, then gathered into lanes.
            let mut listed = 0;
            for (bi, &fails) in masks[..n_blocks].iter().enumerate() {
                // Without branches: every lane written, the failing ones kept.
                let lanes = &LANES_OF[usize::from(fails)];
                let r0 = (bi * LANES) as u32;
                for (t, &l) in todo[listed..listed + LANES].iter_mut().zip(lanes) {
                    *t = r0 + u32::from(l);
                }
                listed += fails.count_ones() as usize;
            }
            // With an eighth of the rows or more to gather, nearly every block is
            // read: the blocks are fetched in order, a few ahead of the gathering,
            // rather than each waited for when its first row is gathered.
            let mut ahead = Prefetch::new(listed * 8 >= n);
            for group in todo[..listed].chunks(LANES) {
                ahead.blocks_until(blocks, d, group[group.len() - 1] as usize / LANES + 16);
                // Lanes past the last row keep stale (finite) values whose results are unused.
                for (l, &r) in group.iter().enumerate() {
                    let r = r as usize;
                    let src = &blocks[(r / LANES) * d..(r / LANES + 1) * d];
                    for (b, s) in block.iter_mut().zip(src) {
                        b[l] = s[r % LANES];
                    }
                }
                let near = cents.nearest_block(block);
                for (l, &r) in group.iter().enumerate() {
                    settle!(r as usize, &near, l);
                }
            }
        }
        // Only rows that change segment touch the sums after the first pass. Their
        // f64 rows are read here in one tight loop, so the cache misses overlap.
        if UPDATE && !fresh {
            // First one load per row, independent of each other, to fetch the cache lines.
            let moves = &moves[..n_moves];
            let touched = moves.iter().fold(0.0, |t, &(r, _)| {
                // A row may straddle two cache lines.
                t + xs[r as usize * d] + xs[(r as usize + 1) * d - 1]
            });
            std::hint::black_box(touched);
            for &(r, a) in moves.iter() {
                let (r, a) = (r as usize, a as usize);
                let b = labels[r].index();
                let w = ws.map_or(1.0, |w| w[r]);
                if w > 0.0 {
                    let x = &xs[r * d..(r + 1) * d];
                    for (s, &v) in sums[a * d..(a + 1) * d].iter_mut().zip(x) {
                        *s -= w * v;
                    }
                    weights[a] -= w;
                    counts[a] -= 1;
                    for (s, &v) in sums[b * d..(b + 1) * d].iter_mut().zip(x) {
                        *s += w * v;
                    }
                    weights[b] += w;
                    counts[b] += 1;
                }
            }
        }
        if fresh {
            for (r, (x, &label)) in xs.chunks_exact(d).zip(labels.iter()).enumerate() {
                let w = ws.map_or(1.0, |w| w[r]);
                if w > 0.0 {
                    let label = label.index();
                    for (s, &v) in sums[label * d..(label + 1) * d].iter_mut().zip(x) {
                        *s += w * v;
                    }
                    weights[label] += w;
                    counts[label] += 1;
                }
            }
        }
        let mut inertia = 0.0;
        if !UPDATE {
            for (r, (x, &label)) in xs.chunks_exact(d).zip(labels.iter()).enumerate() {
                let w = ws.map_or(1.0, |w| w[r]);
                inertia += w * squared_distance(x, cents.row(label.index()));
            }
        }
        self.changed = changed;
        self.inertia = inertia;
        if UPDATE {
            self.fresh = false;
        }
    }
}

/// [`Chunk::run_with`] compiled for the widest vector instructions the
/// processor has.
struct ChunkPass<'a, L: Label, const HAMERLY: bool, const UPDATE: bool> {
    chunk: &'a mut Chunk<L>,
    data: &'a Rows<'a>,
    compact: &'a Compact,
    step: &'a Step<'a>,
    todo: &'a mut [u32],
    masks: &'a mut [u8],
    moves: &'a mut [(u32, u32)],
}

impl<L: Label, const HAMERLY: bool, const UPDATE: bool> pulp::WithSimd
    for ChunkPass<'_, L, HAMERLY, UPDATE>
{
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let ChunkPass {
            chunk,
            data,
            compact,
            step,
            todo,
            masks,
            moves,
        } = self;
        chunk.run_with::<HAMERLY, UPDATE>(data, compact, step, todo, masks, moves);
    }
}

/// A thread's working buffers for [`Chunk::run`], shared by every chunk and
/// initialisation it processes, so their memory does not grow with the
/// initialisations run side by side. They stay with the thread between fits:
/// about 13 bytes per row of a chunk.
#[derive(Default)]
struct Scratch {
    /// Rows (offsets in the chunk) whose nearest centroid is computed this pass.
    todo: Vec<u32>,
    /// Per block of rows, a bit per lane: the row's bounds do not prove its segment.
    masks: Vec<u8>,
    /// Rows that changed segment, with their old segment.
    moves: Vec<(u32, u32)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// What every chunk's pass reads.
pub(super) struct Step<'a> {
    cents: &'a Centroids,
    /// [`Movement`] in the scaled space of the bounds.
    own: Vec<f64>,
    others: Vec<f64>,
    /// Hamerly's test per segment `a`, rearranged so that each row compares
    /// its own bounds with two numbers `skip[a]` = (gap − own, −(others +
    /// own)): the row may have changed segment when upper > gap − own and
    /// upper − lower > −(others + own), i.e. upper + own > max(gap, lower −
    /// others), where gap is [`Centroids::half_gap`] in the scaled space.
    /// At least [`TABLE`] entries (the padding never matches a row).
    skip: Vec<(f64, f64)>,
    algorithm: Algorithm,
    /// The vector instructions to compile the pass for.
    arch: pulp::Arch,
}

impl<'a> Step<'a> {
    pub(super) fn new(
        cents: &'a Centroids,
        moved: &Movement,
        algorithm: Algorithm,
        arch: pulp::Arch,
    ) -> Step<'a> {
        // A power of two: exact.
        let inv = 1.0 / cents.scale;
        let own: Vec<f64> = moved.own.iter().map(|m| m * inv).collect();
        let others: Vec<f64> = moved.others.iter().map(|m| m * inv).collect();
        let gap: Vec<f64> = cents.half_gap.iter().map(|g| g * inv).collect();
        let skip = gap
            .iter()
            .zip(&own)
            .zip(&others)
            .map(|((g, o), t)| (g - o, -(t + o)))
            .chain(std::iter::repeat((f64::INFINITY, f64::INFINITY)))
            .take(cents.k.max(TABLE))
            .collect();
        Step {
            cents,
            skip,
            own,
            others,
            algorithm,
            arch,
        }
    }
}

/// Cache lines asked for ahead of use (a hint to the processor, through
/// SSE's prefetch; nothing elsewhere).
struct Prefetch {
    #[cfg(target_arch = "x86_64")]
    sse: Option<pulp::core_arch::x86::Sse>,
    /// Blocks asked for so far (the first ones).
    blocks: usize,
}

impl Prefetch {
    fn new(enabled: bool) -> Prefetch {
        Prefetch {
            #[cfg(target_arch = "x86_64")]
            sse: pulp::core_arch::x86::Sse::try_new().filter(|_| enabled),
            blocks: if enabled { 0 } else { usize::MAX },
        }
    }

    /// Asks for the blocks of `blocks` (of `d` vectors each) before block `end`.
    #[inline(always)]
    fn blocks_until(&mut self, blocks: &[[f32; LANES]], d: usize, end: usize) {
        let end = end.min(blocks.len() / d.max(1));
        while self.blocks < end {
            #[cfg(target_arch = "x86_64")]
            if let Some(sse) = self.sse {
                // A cache line holds two vectors.
                for v in blocks[self.blocks * d..(self.blocks + 1) * d]
                    .iter()
                    .step_by(2)
                {
                    sse._mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(v.as_ptr().cast());
                }
            }
            self.blocks += 1;
        }
    }
}

/// For each mask of lanes, its lanes in order (then zeros).
const LANES_OF: [[u8; LANES]; 256] = {
    let mut table = [[0u8; LANES]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut l, mut k) = (0, 0);
        while l < LANES {
            if mask & (1 << l) != 0 {
                table[mask][k] = l as u8;
                k += 1;
            }
            l += 1;
        }
        mask += 1;
    }
    table
};

/// An f32 at least `v` (an upper bound stays one), within two units in the
/// last place: the nearest f32 plus at least one unit in its last place (and
/// the smallest subnormal for zero), without branches.
#[inline(always)]
fn round_up(v: f64) -> f32 {
    let r = v as f32;
    r + r.abs() * f32::EPSILON + f32::from_bits(1)
}

/// `v` rounded down to f32 (a lower bound stays one).
#[inline(always)]
fn round_down(v: f64) -> f32 {
    -round_up(-v)
}
