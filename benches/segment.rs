//! k-means on a million customers: ours against linfa-clustering.
//!
//! `cargo bench --bench segment`. The data imitate scikit-learn's
//! `make_blobs(n_samples=1_000_000, n_features=8, centers=8, cluster_std=6.0,
//! center_box=(-10, 10))`: overlapping clusters, so the iterations do not
//! settle at once. Set `CUSTINSIGHT_BENCH_BLOBS` to a raw little-endian f64
//! file (rows of 8) to use scikit-learn's own draw (BENCHMARKS.md).

use criterion::{Criterion, criterion_group, criterion_main};
use custinsight::segment::kmeans::{Algorithm, KMeansParams};
use linfa::DatasetBase;
use linfa::traits::Fit;
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

fn blobs(n: usize) -> Array2<f64> {
    if let Ok(path) = std::env::var("CUSTINSIGHT_BENCH_BLOBS") {
        let bytes = std::fs::read(&path).expect("readable blobs file");
        let values: Vec<f64> = bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect();
        let rows = values.len() / 8;
        return Array2::from_shape_vec((rows, 8), values).expect("rows of 8");
    }
    let (d, k) = (8, 8);
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let boxed = Uniform::new(-10.0, 10.0);
    let centres: Vec<f64> = (0..k * d).map(|_| boxed.sample(&mut rng)).collect();
    let noise = Normal::new(0.0, 6.0).expect("valid");
    Array2::from_shape_fn((n, d), |(i, f)| {
        centres[(i % k) * d + f] + noise.sample(&mut rng)
    })
}

fn bench(c: &mut Criterion) {
    let x = blobs(1_000_000);
    let mut g = c.benchmark_group("kmeans_1m_x8_k8");
    g.sample_size(10);
    g.bench_function("fit_n_init_3", |b| {
        b.iter(|| KMeansParams::new(8).fit_rows(x.view(), None).expect("fits"))
    });
    // Ten Lloyd iterations from one initialisation, every distance computed:
    // the per-iteration cost without Hamerly's bounds.
    let ten = |algorithm| KMeansParams {
        n_init: 1,
        max_iter: 10,
        tol: 0.0,
        algorithm,
        ..KMeansParams::new(8)
    };
    // One iteration: with the ten, the marginal cost of an iteration.
    g.bench_function("one_iteration_lloyd", |b| {
        b.iter(|| {
            KMeansParams {
                max_iter: 1,
                ..ten(Algorithm::Lloyd)
            }
            .fit_rows(x.view(), None)
            .expect("fits")
        })
    });
    g.bench_function("ten_iterations_lloyd", |b| {
        b.iter(|| {
            ten(Algorithm::Lloyd)
                .fit_rows(x.view(), None)
                .expect("fits")
        })
    });
    g.bench_function("ten_iterations_hamerly", |b| {
        b.iter(|| {
            ten(Algorithm::Hamerly)
                .fit_rows(x.view(), None)
                .expect("fits")
        })
    });
    let dataset = DatasetBase::from(x.clone());
    g.bench_function("linfa_ten_iterations", |b| {
        b.iter(|| {
            linfa_clustering::KMeans::params(8)
                .n_runs(1)
                .max_n_iterations(10)
                .tolerance(f64::MIN_POSITIVE)
                .fit(&dataset)
                .expect("fits")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
