//! k-means clustering: the workhorse of customer segmentation.
//!
//! k-means partitions customers (rows of a feature matrix) into `k` groups so
//! that the within-group sum of squared distances to the group means, the
//! *inertia*, is small (Lloyd 1982). Each group's mean, its *centroid*, is the
//! segment's profile in feature space; a new customer joins the segment with
//! the nearest centroid.
//!
//! # Algorithm
//!
//! - **Initialisation** by k-means++ (Arthur & Vassilvitskii 2007): the first
//!   centroid is a row drawn with probability proportional to its weight, each
//!   next one a row drawn with probability proportional to weight × squared
//!   distance to the nearest centroid so far. The *greedy* variant (the default,
//!   as scikit-learn's) draws `2 + ⌊ln k⌋` candidates per step and keeps the one
//!   that lowers the potential most. The distances that weight the draws are
//!   computed in single precision on the scaled rows (relative error about
//!   1e-6, immaterial to a draw); the seeds are always exact data rows.
//! - **Iterations** alternate assignment (each row to its nearest centroid) and
//!   update (each centroid to the weighted mean of its rows), until no row
//!   changes segment or the centroids' total squared shift falls below `tol`
//!   times the mean feature variance (scikit-learn's rule), or `max_iter`.
//! - **Hamerly's bounds** (Hamerly 2010; the default algorithm) give the same
//!   assignments with far fewer distance computations: each row keeps an upper
//!   bound on the distance to its centroid and a lower bound on the distance to
//!   any other; when the upper bound is below both the lower bound and half the
//!   distance from its centroid to the nearest other centroid, the row cannot
//!   have changed segment and is skipped. Bounds are moved by the centroids'
//!   shifts after each update. `Algorithm::Lloyd` computes every distance.
//! - **Empty segments** are re-seeded deterministically from the rows farthest
//!   from their centroids, as scikit-learn does.
//! - **Restarts**: `n_init` initialisations from one seed; the lowest inertia
//!   wins (ties: the first). Up to four are seeded and then iterated side by
//!   side: each pass takes every running initialisation in turn over each
//!   chunk of rows, so the rows are fetched from memory once per pass for all
//!   of them; each one's draws and arithmetic are those of running it alone.
//!
//! Rows are processed in fixed chunks of 4,096 whose partial sums are added in
//! chunk order, so results do not depend on the thread count. Each chunk keeps
//! its rows' labels (one byte each when k ≤ 256) and bounds and its own
//! accumulators; the buffers a pass works in belong to the thread, so after
//! the first passes the iteration loop allocates nothing.
//!
//! Nearest centroids are found in single precision on a copy of the rows
//! centred and scaled into [-1, 1] (half the bytes, twice the SIMD lanes),
//! stored in blocks of eight rows with one row per lane, so the kernel needs
//! no transposition and no branches. Each f32 distance comes with a bound on
//! its rounding error; a row whose two nearest centroids are closer than that
//! is decided again in f64, so the labels are those of f64 distances. When
//! most rows fail Hamerly's test (the first passes) every block with a
//! failing row is computed in place; later, the few failing rows are gathered
//! into lanes (their blocks fetched ahead while many fail). Centroid sums,
//! moves and the inertia are always computed in f64 from the original rows,
//! and only rows that change segment touch the sums.
//!
//! The seeding and assignment loops are compiled for several instruction sets
//! (x86-64 with AVX2 and FMA, and the baseline) and the widest the processor
//! has is chosen at run time through `pulp`'s safe dispatch. Only the vector
//! width differs: every lane performs the same IEEE operations in the same
//! order (no fused multiply–adds are formed), so results are bit-identical on
//! every machine.
//!
//! The returned labels are always those of the nearest centroid of the
//! returned centroids, and `inertia` is the weighted sum of squared distances
//! of that labelling.
//!
//! [`MiniBatchKMeans`] fits inputs that do not fit in memory, fed in chunks
//! (Sculley 2010).
//!
//! # References
//! - S. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28 (1982).
//! - D. Arthur, S. Vassilvitskii, "k-means++: the advantages of careful seeding", SODA 2007.
//! - G. Hamerly, "Making k-means even faster", SDM 2010.
//! - D. Sculley, "Web-scale k-means clustering", WWW 2010.

mod blocks;
mod fit;
mod init;
mod kernel;
mod linfa;
mod lloyd;
mod minibatch;
mod params;
mod pass;
mod predict;
mod rows;

pub use minibatch::MiniBatchKMeans;
pub use params::{Algorithm, Init, KMeansParams};
pub use predict::{Clustering, KMeans};
