//! Principal component analysis in two dimensions: the plane in which
//! segments are drawn (the report's projection chart), found as the leading
//! eigenvectors of the covariance matrix by the cyclic Jacobi method
//! (Golub & Van Loan, *Matrix Computations*, §8.5), deterministic and with
//! fixed signs so that a chart does not flip between runs.
//!
//! ```
//! use custinsight::segment::pca::pca_2d;
//! use ndarray::array;
//!
//! // Points on the line y = 2x: one component explains everything.
//! let x = array![[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
//! let pca = pca_2d(x.view())?;
//! assert!((pca.explained[0] - 1.0).abs() < 1e-12);
//! let [a, b] = [pca.components[0][0], pca.components[0][1]];
//! assert!((b / a - 2.0).abs() < 1e-9 && a > 0.0);
//! # Ok::<(), custinsight::Error>(())
//! ```

use ndarray::ArrayView2;

use crate::error::{Error, Result};

/// The first two principal components of a data matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca2 {
    /// Column means (the centre of the projection).
    pub mean: Vec<f64>,
    /// The two unit-length principal axes (loadings), one value per column,
    /// each signed so that its largest |loading| is positive. With a single
    /// column the second is all zeros.
    pub components: [Vec<f64>; 2],
    /// Variance along each axis (eigenvalues of the covariance matrix, ddof 0).
    pub variance: [f64; 2],
    /// Share of the total variance along each axis (0 when there is none);
    /// the two sum to at most 1.
    pub explained: [f64; 2],
}

impl Pca2 {
    /// The coordinates of `row` (one value per column) on the two axes.
    pub fn project(&self, row: impl IntoIterator<Item = f64>) -> (f64, f64) {
        let mut out = (0.0, 0.0);
        for (((v, m), c0), c1) in row
            .into_iter()
            .zip(&self.mean)
            .zip(&self.components[0])
            .zip(&self.components[1])
        {
            out.0 += (v - m) * c0;
            out.1 += (v - m) * c1;
        }
        out
    }
}

/// Eigenvalues and eigenvectors of a symmetric matrix (row-major, `d × d`) by
/// the cyclic Jacobi method: `(values, vectors)` with `vectors[k]` the unit
/// eigenvector of `values[k]`, in no particular order.
fn jacobi_eigen(mut a: Vec<f64>, d: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-15 * scale || off == 0.0 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a[p * d + p], a[q * d + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J with the rotation in the (p, q) plane.
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let values = (0..d).map(|i| a[i * d + i]).collect();
    let vectors = (0..d)
        .map(|k| (0..d).map(|i| v[i * d + k]).collect())
        .collect();
    (values, vectors)
}

/// Flips `v` so that its largest |entry| (the first of equal ones) is positive.
fn fix_sign(v: &mut [f64]) {
    let mut best = 0usize;
    for (i, x) in v.iter().enumerate() {
        if x.abs() > v[best].abs() + 1e-12 {
            best = i;
        }
    }
    if v.get(best).is_some_and(|&x| x < 0.0) {
        v.iter_mut().for_each(|x| *x = -*x);
    }
}

/// The first two principal components of `x` (rows = observations): the two
/// leading eigenvectors of the covariance matrix (ddof 0) by the cyclic
/// Jacobi method, deterministic and with fixed signs (see [`Pca2`]).
///
/// # Errors
/// [`Error::EmptyInput`] for no rows or no columns;
/// [`Error::NonFinite`] for a non-finite value, with its row and column.
pub fn pca_2d(x: ArrayView2<'_, f64>) -> Result<Pca2> {
    let (n, d) = x.dim();
    if n == 0 {
        return Err(Error::empty("PCA: rows"));
    }
    if d == 0 {
        return Err(Error::empty("PCA: columns"));
    }
    if let Some((i, &v)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        // `iter` walks the rows in order.
        return Err(Error::non_finite(
            "PCA input",
            i / d,
            format!("column {}", i % d),
            v,
        ));
    }
    let mean: Vec<f64> = x
        .columns()
        .into_iter()
        .map(|c| c.iter().sum::<f64>() / n as f64)
        .collect();
    let mut cov = vec![0.0; d * d];
    let mut centred = vec![0.0; d];
    for row in x.rows() {
        for ((c, v), m) in centred.iter_mut().zip(row).zip(&mean) {
            *c = v - m;
        }
        for i in 0..d {
            for j in i..d {
                cov[i * d + j] += centred[i] * centred[j];
            }
        }
    }
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / n as f64;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    let total: f64 = (0..d).map(|i| cov[i * d + i]).sum();
    let (values, vectors) = jacobi_eigen(cov, d);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let pick = |k: usize| -> (f64, Vec<f64>) {
        match order.get(k) {
            Some(&i) => {
                let mut v = vectors[i].clone();
                fix_sign(&mut v);
                (values[i].max(0.0), v)
            }
            None => (0.0, vec![0.0; d]),
        }
    };
    let (v0, c0) = pick(0);
    let (v1, c1) = pick(1);
    let share = |v: f64| {
        if total > 0.0 {
            (v / total).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    let mut explained = [share(v0), share(v1)];
    // Rounding must not let the two shares exceed the whole.
    if explained[0] + explained[1] > 1.0 {
        explained[1] = 1.0 - explained[0];
    }
    Ok(Pca2 {
        mean,
        components: [c0, c1],
        variance: [v0, v1],
        explained,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn pca_of_points_on_a_line() {
        // y = −3x + 1 with z constant: PC1 along (1, −3, 0)/√10, all variance.
        let x = Array2::from_shape_fn((20, 3), |(i, j)| match j {
            0 => i as f64,
            1 => 1.0 - 3.0 * i as f64,
            _ => 7.0,
        });
        let pca = pca_2d(x.view()).unwrap();
        let c = &pca.components[0];
        let norm = 10f64.sqrt();
        // Largest |loading| (the y column, −3/√10) is made positive.
        assert!((c[0] + 1.0 / norm).abs() < 1e-9, "{c:?}");
        assert!((c[1] - 3.0 / norm).abs() < 1e-9, "{c:?}");
        assert!(c[2].abs() < 1e-9);
        assert!((pca.explained[0] - 1.0).abs() < 1e-12);
        assert!(pca.explained[1].abs() < 1e-12);
        assert!(pca.explained[0] + pca.explained[1] <= 1.0);
        // Projections of the centre are 0.
        let (a, b) = pca.project(pca.mean.clone());
        assert!(a.abs() < 1e-12 && b.abs() < 1e-12);
    }

    #[test]
    fn pca_of_a_rotated_gaussian_finds_its_axes() {
        // Standard deviations 3 and 1 along axes rotated by 30°, plus a small
        // third dimension.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (big, small, tiny) = (
            Normal::new(0.0, 3.0).unwrap(),
            Normal::new(0.0, 1.0).unwrap(),
            Normal::new(0.0, 0.1).unwrap(),
        );
        let (s, c) = 30f64.to_radians().sin_cos();
        let n = 20_000;
        let x = Array2::from_shape_fn((n, 3), |_| 0.0);
        let mut x = x;
        for mut row in x.rows_mut() {
            let (u, v) = (big.sample(&mut rng), small.sample(&mut rng));
            row[0] = 5.0 + c * u - s * v;
            row[1] = -2.0 + s * u + c * v;
            row[2] = tiny.sample(&mut rng);
        }
        let pca = pca_2d(x.view()).unwrap();
        let [p1, p2] = &pca.components;
        assert!(
            (p1[0] - c).abs() < 0.02 && (p1[1] - s).abs() < 0.02,
            "{p1:?}"
        );
        // PC2 ⟂ PC1 along (−sin, cos), signed so that cos (the largest) is positive.
        assert!(
            (p2[0] + s).abs() < 0.02 && (p2[1] - c).abs() < 0.02,
            "{p2:?}"
        );
        let dot: f64 = p1.iter().zip(p2).map(|(a, b)| a * b).sum();
        assert!(dot.abs() < 1e-9);
        assert!((pca.variance[0] - 9.0).abs() < 0.3, "{:?}", pca.variance);
        assert!((pca.variance[1] - 1.0).abs() < 0.05, "{:?}", pca.variance);
        let sum = pca.explained[0] + pca.explained[1];
        assert!(sum <= 1.0 && sum > 0.99, "{sum}");
        assert!((pca.explained[0] - 9.0 / 10.01).abs() < 0.01);
        // Deterministic.
        assert_eq!(pca, pca_2d(x.view()).unwrap());
    }

    #[test]
    fn pca_degenerate_inputs() {
        assert!(matches!(
            pca_2d(Array2::<f64>::zeros((0, 3)).view()),
            Err(Error::EmptyInput { .. })
        ));
        assert!(matches!(
            pca_2d(Array2::<f64>::zeros((3, 0)).view()),
            Err(Error::EmptyInput { .. })
        ));
        assert!(matches!(
            pca_2d(array![[1.0, 2.0], [0.5, f64::NAN]].view()),
            Err(Error::NonFinite { row: 1, ref field, .. }) if field == "column 1"
        ));
        // Constant data: no variance, shares 0.
        let pca = pca_2d(array![[1.0, 2.0], [1.0, 2.0]].view()).unwrap();
        assert_eq!(pca.explained, [0.0, 0.0]);
        // One column: the second component is empty.
        let one = pca_2d(array![[1.0], [3.0]].view()).unwrap();
        assert_eq!(one.components[0], vec![1.0]);
        assert_eq!(one.components[1], vec![0.0]);
        assert_eq!(one.explained, [1.0, 0.0]);
    }
}
