//! Segment charts: what each segment is, how the segments lie relative to
//! each other, and how much of the business each one holds.
//!
//! - [`profile_heat_map`]: features (rows) × segments (columns) of each
//!   segment's z-score against the population, z = (segment mean − population
//!   mean) / population standard deviation, on a diverging scale (red above
//!   the average, blue below), z written in each cell. Columns are headed by
//!   segment id and generated name ("0 high-value loyal, app-first"). Read a
//!   column to see what sets a segment apart; read a row to see which segment
//!   leads on a feature.
//! - [`projection`]: every customer (or a stratified sample) in the plane of
//!   the first two principal components of the clustered, scaled features,
//!   coloured by segment. Segments that overlap here may still be separated in
//!   the other dimensions; the axis labels give the share of variance each
//!   component shows. The principal components are computed here
//!   ([`pca_2d`]): the covariance matrix's top two eigenvectors by the cyclic
//!   Jacobi method, signs fixed so that each component's largest loading is
//!   positive, so the picture is deterministic.
//! - [`size_value_share`]: each segment's share of customers and share of
//!   value as grouped bars; a segment whose value bar is far longer than its
//!   size bar is worth more than its headcount suggests.
//!
//! ```
//! use custinsight::report::segment::pca_2d;
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
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::charts::{
    BarChart, HeatMap, Scatter, Series, ValueFormat, WIDTH, bar_chart, heat_map, scatter,
};
use super::svg::{Canvas, Chart, ColourScale, format_number, format_percent};
use crate::error::{Error, Result};
use crate::segment::features::FeatureMatrix;
use crate::segment::model::Segmentation;
use crate::segment::profile::SegmentProfile;

fn no_data(title: &str, reason: &str) -> Chart {
    let mut c = Canvas::new(WIDTH, 220.0, title, None);
    c.no_data(reason);
    c.finish()
}

/// The column header of a segment: its id and generated name.
fn segment_label(p: &SegmentProfile) -> String {
    if p.name.is_empty() {
        format!("segment {}", p.id)
    } else {
        format!("{} {}", p.id, p.name)
    }
}

/// z to one decimal with a true minus sign ("−1.2"; never "−0.0").
fn format_z(z: f64) -> String {
    if z.is_nan() {
        return "·".to_owned();
    }
    let s = format!("{z:.1}");
    if s == "-0.0" {
        "0.0".to_owned()
    } else {
        s.replace('-', "−")
    }
}

/// A heat map of each segment's z-score on each feature (rows: features in
/// the order of `feature_names`; columns: segments headed "id name").
///
/// `feature_names` are the names of the columns the profiles were computed on
/// (the [`FeatureMatrix`] given to
/// [`Clustered::describe`](crate::segment::model::Clustered::describe) or
/// [`SegmentationParams::fit`](crate::segment::model::SegmentationParams::fit)),
/// e.g. `features.names()`.
///
/// `shown` picks and orders the rows by feature name (all features when
/// `None`): with many features, the ones clustered on and a few value
/// columns tell the story.
///
/// One mark per cell: rows shown × segments.
///
/// # Errors
/// [`Error::InvalidInput`] when a profile does not have one z-score per
/// feature name or a shown name is not a feature; [`Error::InvalidValue`]
/// for an infinite z-score.
pub fn profile_heat_map(
    profiles: &[SegmentProfile],
    feature_names: &[String],
    shown: Option<&[String]>,
) -> Result<Chart> {
    let title = "Segment profiles: how each segment differs from the average";
    if profiles.is_empty() || feature_names.is_empty() {
        return Ok(no_data(title, "there are no segments or no features"));
    }
    if let Some(p) = profiles.iter().find(|p| p.z.len() != feature_names.len()) {
        return Err(Error::InvalidInput(format!(
            "profile heat map: segment {} has {} z-scores for {} features",
            p.id,
            p.z.len(),
            feature_names.len()
        )));
    }
    let rows: Vec<usize> = match shown {
        None => (0..feature_names.len()).collect(),
        Some(names) => names
            .iter()
            .map(|name| {
                feature_names.iter().position(|f| f == name).ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "profile heat map: `{name}` is not one of the {} features",
                        feature_names.len()
                    ))
                })
            })
            .collect::<Result<_>>()?,
    };
    if rows.is_empty() {
        return Ok(no_data(title, "no features were chosen"));
    }
    let values: Vec<Vec<f64>> = rows
        .iter()
        .map(|&f| profiles.iter().map(|p| p.z[f]).collect())
        .collect();
    let cell_labels = values
        .iter()
        .map(|row| row.iter().map(|&z| format_z(z)).collect())
        .collect();
    let customers: usize = profiles.iter().map(|p| p.size).sum();
    heat_map(&HeatMap {
        title: title.to_owned(),
        subtitle: Some(format!(
            "z = (segment mean − population mean) / population standard deviation; {} segments, {} customers",
            profiles.len(),
            format_number(customers as f64, 4)
        )),
        rows: rows.iter().map(|&f| feature_names[f].clone()).collect(),
        columns: profiles.iter().map(segment_label).collect(),
        values,
        scale: ColourScale::Diverging,
        domain: None,
        cell_labels: Some(cell_labels),
        row_label: "feature".to_owned(),
        column_label: "segment".to_owned(),
        legend_label: "z-score (standard deviations)".to_owned(),
        format: ValueFormat::Number,
    })
}

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
/// [`Error::InvalidInput`] for no rows or no columns;
/// [`Error::InvalidValue`] for a non-finite value.
pub fn pca_2d(x: ArrayView2<'_, f64>) -> Result<Pca2> {
    let (n, d) = x.dim();
    if n == 0 || d == 0 {
        return Err(Error::InvalidInput(format!(
            "PCA needs at least one row and one column, got {n} × {d}"
        )));
    }
    super::svg::check_finite("PCA input", x.iter().copied())?;
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

/// Settings of [`projection`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ProjectionParams {
    /// The most points drawn; larger bases are sampled, stratified by segment.
    pub max_points: usize,
    /// Seed of the sample (same seed, same points).
    pub seed: u64,
}

impl Default for ProjectionParams {
    fn default() -> Self {
        ProjectionParams {
            max_points: 3_000,
            seed: 0,
        }
    }
}

/// Rows to draw: all when there are at most `max` of them, otherwise a
/// sample of `max` stratified by group (each group's quota proportional to
/// its size, remainders to the largest fractions, ties to the lower group),
/// drawn without replacement with a seeded generator; sorted.
fn stratified_sample(groups: &[usize], k: usize, max: usize, seed: u64) -> Vec<usize> {
    let n = groups.len();
    if n <= max {
        return (0..n).collect();
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &g) in groups.iter().enumerate() {
        if let Some(m) = members.get_mut(g) {
            m.push(i);
        }
    }
    let exact: Vec<f64> = members
        .iter()
        .map(|m| max as f64 * m.len() as f64 / n as f64)
        .collect();
    let mut quota: Vec<usize> = exact.iter().map(|q| q.floor() as usize).collect();
    let mut left = max.saturating_sub(quota.iter().sum());
    let mut by_fraction: Vec<usize> = (0..k).collect();
    by_fraction.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    for g in by_fraction {
        if left == 0 {
            break;
        }
        if quota[g] < members[g].len() {
            quota[g] += 1;
            left -= 1;
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(max);
    for (m, &q) in members.iter().zip(&quota) {
        let q = q.min(m.len());
        for i in rand::seq::index::sample(&mut rng, m.len(), q).iter() {
            if let Some(&row) = m.get(i) {
                out.push(row);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The customers of `features` (the rows that were segmented, in original
/// units) in the plane of the first two principal components of the
/// segmentation's clustered space (`segmentation.model.transform` applied to
/// `features`), coloured by segment.
///
/// For a transform with one-hot columns, apply it yourself with
/// [`apply_with`](crate::segment::scale::FittedTransform::apply_with) and use
/// [`projection_scaled`].
///
/// Marks: one per point drawn, `min(rows, max_points)`.
///
/// # Errors
/// Errors of the transform; those of [`projection_scaled`].
pub fn projection(
    segmentation: &Segmentation,
    features: &FeatureMatrix,
    params: &ProjectionParams,
) -> Result<Chart> {
    if features.n_rows() == 0 {
        return Ok(no_data(PROJECTION_TITLE, "there are no customers"));
    }
    let scaled = segmentation.model.transform.apply(features)?;
    projection_scaled(segmentation, scaled.values(), params)
}

const PROJECTION_TITLE: &str = "Segments in the plane of the first two principal components";

/// [`projection`] from the clustered (scaled) feature values themselves, one
/// row per label of `segmentation`.
///
/// The principal components are fitted on all rows with finite values; rows
/// with a missing value are left out (and counted in the subtitle). With more
/// than `params.max_points` rows, a seeded sample stratified by segment is
/// drawn.
///
/// Marks: one per point drawn.
///
/// # Errors
/// [`Error::InvalidInput`] when the rows do not match the labels or a label
/// has no profile; [`Error::InvalidParameter`] for `max_points` = 0.
pub fn projection_scaled(
    segmentation: &Segmentation,
    scaled: ArrayView2<'_, f64>,
    params: &ProjectionParams,
) -> Result<Chart> {
    if params.max_points == 0 {
        return Err(Error::param("max_points", 0, "must be at least 1"));
    }
    let labels = &segmentation.labels;
    let (n, d) = scaled.dim();
    if labels.len() != n {
        return Err(Error::InvalidInput(format!(
            "projection: {} segment labels for {n} rows",
            labels.len()
        )));
    }
    let k = segmentation.profiles.len();
    if let Some(&l) = labels.iter().find(|&&l| l >= k) {
        return Err(Error::InvalidInput(format!(
            "projection: label {l} has no segment profile ({k} profiles)"
        )));
    }
    if n == 0 || d == 0 {
        return Ok(no_data(
            PROJECTION_TITLE,
            "there are no customers or no features",
        ));
    }
    let complete: Vec<usize> = (0..n)
        .filter(|&i| scaled.row(i).iter().all(|v| v.is_finite()))
        .collect();
    if complete.is_empty() {
        return Ok(no_data(
            PROJECTION_TITLE,
            "no customer has complete features",
        ));
    }
    let fit_rows = scaled.select(ndarray::Axis(0), &complete);
    let pca = pca_2d(fit_rows.view())?;
    let groups: Vec<usize> = complete.iter().map(|&i| labels[i]).collect();
    let chosen = stratified_sample(&groups, k, params.max_points, params.seed);
    let (mut xs, mut ys, mut gs) = (
        Vec::with_capacity(chosen.len()),
        Vec::with_capacity(chosen.len()),
        Vec::with_capacity(chosen.len()),
    );
    for &j in &chosen {
        let (a, b) = pca.project(fit_rows.row(j).iter().copied());
        xs.push(a);
        ys.push(b);
        gs.push(groups[j]);
    }
    let mut subtitle = if chosen.len() < complete.len() {
        format!(
            "{} of {} customers (stratified sample)",
            format_number(chosen.len() as f64, 4),
            format_number(complete.len() as f64, 4),
        )
    } else {
        format!("{} customers", format_number(chosen.len() as f64, 4))
    };
    subtitle.push_str(&format!(
        " · {d} features · PC1 + PC2: {} of variance",
        format_percent(pca.explained[0] + pca.explained[1])
    ));
    let missing = n - complete.len();
    if missing > 0 {
        subtitle.push_str(&format!(
            " · {} incomplete left out",
            format_number(missing as f64, 4)
        ));
    }
    scatter(&Scatter {
        title: PROJECTION_TITLE.to_owned(),
        subtitle: Some(subtitle),
        x: xs,
        y: ys,
        group: gs,
        group_names: segmentation.profiles.iter().map(segment_label).collect(),
        x_label: format!("PC1 ({} of variance)", format_percent(pca.explained[0])),
        y_label: format!("PC2 ({} of variance)", format_percent(pca.explained[1])),
    })
}

/// Each segment's share of customers and share of value as grouped bars
/// (percentages), segments top to bottom by id.
///
/// Without value shares (profiles fitted without a value column, or a total
/// value ≤ 0) only the share of customers is drawn, and the subtitle says why.
///
/// Marks: two per segment (one per segment without value shares).
///
/// # Errors
/// [`Error::InvalidValue`] for a non-finite share.
pub fn size_value_share(profiles: &[SegmentProfile]) -> Result<Chart> {
    let title = "Segment size and value";
    if profiles.is_empty() {
        return Ok(no_data(title, "there are no segments"));
    }
    let mut series = vec![Series {
        name: "share of customers".to_owned(),
        values: profiles.iter().map(|p| p.share).collect(),
    }];
    let value_shares: Option<Vec<f64>> = profiles.iter().map(|p| p.value_share).collect();
    let subtitle = match value_shares {
        Some(values) => {
            series.push(Series {
                name: "share of value".to_owned(),
                values,
            });
            "share of all customers and of the total value (e.g. CLV) in each segment".to_owned()
        }
        None => "share of all customers; no value shares (profiles without a value column, or a total value ≤ 0)".to_owned(),
    };
    bar_chart(&BarChart {
        title: title.to_owned(),
        subtitle: Some(subtitle),
        categories: profiles.iter().map(segment_label).collect(),
        series,
        value_label: "share (%)".to_owned(),
        format: ValueFormat::Percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::marks;
    use crate::segment::kmeans::KMeansParams;
    use crate::segment::model::{ProfileContext, SegmentationParams};
    use ndarray::{Array2, array};
    use rand::Rng;
    use rand_distr::{Distribution, Normal};

    fn fitted(value: bool) -> (FeatureMatrix, Segmentation) {
        let features = FeatureMatrix::new(
            (0..6).map(|i| format!("C{i}")).collect(),
            vec!["frequency".into(), "monetary".into(), "tenure".into()],
            array![
                [1.0, 20.0, 5.0],
                [2.0, 25.0, 6.0],
                [1.0, 22.0, 4.0],
                [9.0, 300.0, 50.0],
                [8.0, 280.0, 40.0],
                [10.0, 310.0, 45.0]
            ],
        )
        .unwrap();
        let values = [10.0, 12.0, 11.0, 300.0, 280.0, 310.0];
        let params = SegmentationParams {
            kmeans: KMeansParams::new(2),
            ..SegmentationParams::default()
        };
        let context = ProfileContext {
            value: value.then_some(&values[..]),
            stages: None,
        };
        let seg = params.fit(&features, context).unwrap();
        (features, seg)
    }

    #[test]
    fn profile_heat_map_cells_and_headers() {
        let (features, seg) = fitted(true);
        let chart = profile_heat_map(&seg.profiles, features.names(), None).unwrap();
        assert_eq!(marks(&chart), 3 * 2);
        let svg = chart.svg();
        let high = seg.labels[3];
        assert!(svg.contains(&format!("{high} {}", seg.profiles[high].name)));
        // z to one decimal, with a true minus sign for the low segment.
        let z = seg.profiles[seg.labels[0]].z[0];
        assert!(z < 0.0);
        assert!(svg.contains(&format!(">{}</text>", format_z(z))));
        assert!(format_z(z).starts_with('−'));
        assert_eq!(format_z(-0.04), "0.0");
    }

    #[test]
    fn profile_heat_map_bad_inputs() {
        let (features, seg) = fitted(false);
        assert!(profile_heat_map(&seg.profiles, &features.names()[..2], None).is_err());
        // A chosen subset, in the chosen order; an unknown name is an error.
        let picked = vec![features.names()[1].clone(), features.names()[0].clone()];
        let subset = profile_heat_map(&seg.profiles, features.names(), Some(&picked)).unwrap();
        assert_eq!(marks(&subset), 2 * seg.profiles.len());
        assert!(subset.svg().find(&picked[0]) < subset.svg().find(&picked[1]));
        let unknown = vec!["no such feature".to_owned()];
        assert!(profile_heat_map(&seg.profiles, features.names(), Some(&unknown)).is_err());
        let empty = profile_heat_map(&[], features.names(), None).unwrap();
        assert_eq!(marks(&empty), 0);
        assert!(empty.svg().contains("No data"));
        assert_eq!(
            marks(&profile_heat_map(&seg.profiles, &[], None).unwrap()),
            0
        );
        let mut inf = seg.profiles.clone();
        inf[0].z[0] = f64::INFINITY;
        assert!(profile_heat_map(&inf, features.names(), None).is_err());
        // One segment, one feature.
        let mut one = seg.profiles[..1].to_vec();
        one[0].z.truncate(1);
        let chart = profile_heat_map(&one, &features.names()[..1], None).unwrap();
        assert_eq!(marks(&chart), 1);
    }

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
        assert!(pca_2d(Array2::<f64>::zeros((0, 3)).view()).is_err());
        assert!(pca_2d(Array2::<f64>::zeros((3, 0)).view()).is_err());
        assert!(pca_2d(array![[1.0, f64::NAN]].view()).is_err());
        // Constant data: no variance, shares 0.
        let pca = pca_2d(array![[1.0, 2.0], [1.0, 2.0]].view()).unwrap();
        assert_eq!(pca.explained, [0.0, 0.0]);
        // One column: the second component is empty.
        let one = pca_2d(array![[1.0], [3.0]].view()).unwrap();
        assert_eq!(one.components[0], vec![1.0]);
        assert_eq!(one.components[1], vec![0.0]);
        assert_eq!(one.explained, [1.0, 0.0]);
    }

    #[test]
    fn stratified_sample_is_proportional_and_seeded() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let groups: Vec<usize> = (0..10_000)
            .map(|_| {
                if rng.gen_bool(0.8) {
                    0
                } else {
                    1 + rng.gen_range(0..2)
                }
            })
            .collect();
        let s = stratified_sample(&groups, 4, 1000, 7);
        assert_eq!(s.len(), 1000);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        let count = |g: usize| s.iter().filter(|&&i| groups[i] == g).count();
        let size = |g: usize| groups.iter().filter(|&&x| x == g).count();
        for g in 0..3 {
            let expected = 1000.0 * size(g) as f64 / 10_000.0;
            assert!((count(g) as f64 - expected).abs() <= 1.0);
        }
        assert_eq!(count(3), 0);
        assert_eq!(s, stratified_sample(&groups, 4, 1000, 7));
        assert_ne!(s, stratified_sample(&groups, 4, 1000, 8));
        assert_eq!(stratified_sample(&groups[..10], 4, 1000, 7).len(), 10);
    }

    #[test]
    fn projection_draws_a_point_per_customer() {
        let (features, seg) = fitted(true);
        let chart = projection(&seg, &features, &ProjectionParams::default()).unwrap();
        assert_eq!(marks(&chart), 6);
        assert!(chart.svg().contains("PC1 ("));
        assert!(chart.svg().contains("% of variance)"));
        // Sampled down.
        let few = ProjectionParams {
            max_points: 4,
            seed: 1,
        };
        assert_eq!(marks(&projection(&seg, &features, &few).unwrap()), 4);
        // Deterministic.
        assert_eq!(
            projection(&seg, &features, &few).unwrap(),
            projection(&seg, &features, &few).unwrap()
        );
    }

    #[test]
    fn projection_bad_inputs() {
        let (features, seg) = fitted(false);
        let scaled = seg.model.transform.apply(&features).unwrap();
        let p = ProjectionParams::default();
        // Rows and labels disagree.
        let rows = scaled.values();
        let three = rows.select(ndarray::Axis(0), &[0, 1, 2]);
        assert!(projection_scaled(&seg, three.view(), &p).is_err());
        assert!(
            projection_scaled(
                &seg,
                rows,
                &ProjectionParams {
                    max_points: 0,
                    seed: 0
                }
            )
            .is_err()
        );
        // A missing value leaves that row out.
        let mut holes = rows.to_owned();
        holes[[0, 0]] = f64::NAN;
        let chart = projection_scaled(&seg, holes.view(), &p).unwrap();
        assert_eq!(marks(&chart), 5);
        assert!(chart.svg().contains("1 incomplete left out"));
        holes.fill(f64::NAN);
        assert_eq!(
            marks(&projection_scaled(&seg, holes.view(), &p).unwrap()),
            0
        );
        // No rows at all.
        let mut empty = seg.clone();
        empty.labels.clear();
        let none = projection_scaled(&empty, Array2::<f64>::zeros((0, 3)).view(), &p).unwrap();
        assert_eq!(marks(&none), 0);
        assert!(none.svg().contains("No data"));
        // A missing column is a typed error from the transform.
        let fewer = features.select(&["frequency"]).unwrap();
        assert!(projection(&seg, &fewer, &p).is_err());
    }

    #[test]
    fn size_and_value_bars() {
        let (_, seg) = fitted(true);
        let chart = size_value_share(&seg.profiles).unwrap();
        assert_eq!(marks(&chart), 2 * 2);
        assert!(chart.svg().contains("share of value"));
        assert!(chart.svg().contains("50.0%"));
        let (_, no_value) = fitted(false);
        let chart = size_value_share(&no_value.profiles).unwrap();
        assert_eq!(marks(&chart), 2);
        assert!(chart.svg().contains("no value shares"));
        let empty = size_value_share(&[]).unwrap();
        assert_eq!(marks(&empty), 0);
        let mut nan = seg.profiles.clone();
        nan[0].share = f64::NAN;
        assert!(size_value_share(&nan).is_err());
    }

    #[test]
    fn end_to_end_on_a_synthetic_population() {
        use crate::segment::features::FeatureSpec;
        use crate::synth::{Population, SynthParams};
        let pop = Population::generate(&SynthParams::with_customers(2000), 5).unwrap();
        let features =
            FeatureMatrix::from_base(&pop.base, &FeatureSpec::default(), pop.observation_end)
                .unwrap();
        let params = SegmentationParams {
            kmeans: KMeansParams::new(4),
            ..SegmentationParams::default()
        };
        let seg = params.fit(&features, ProfileContext::default()).unwrap();
        let heat = profile_heat_map(&seg.profiles, features.names(), None).unwrap();
        assert_eq!(marks(&heat), features.n_features() * 4);
        let p = ProjectionParams {
            max_points: 500,
            seed: 3,
        };
        let chart = projection(&seg, &features, &p).unwrap();
        assert_eq!(marks(&chart), 500);
        assert_eq!(marks(&size_value_share(&seg.profiles).unwrap()), 4);
    }
}
