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
//!   component shows. The principal components come from
//!   [`pca_2d`], deterministic with fixed signs.
//! - [`size_value_share`]: each segment's share of customers and share of
//!   value as grouped bars; a segment whose value bar is far longer than its
//!   size bar is worth more than its headcount suggests.

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
use crate::segment::pca::pca_2d;
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
/// [`Error::LengthMismatch`] when a profile does not have one z-score per
/// feature name; [`Error::NotFound`] when a shown name is not a feature;
/// [`Error::NonFinite`] for an infinite z-score.
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
        return Err(Error::lengths(
            format!("profile heat map: z-scores of segment {} per feature", p.id),
            feature_names.len(),
            p.z.len(),
        ));
    }
    let rows: Vec<usize> = match shown {
        None => (0..feature_names.len()).collect(),
        Some(names) => names
            .iter()
            .map(|name| {
                feature_names
                    .iter()
                    .position(|f| f == name)
                    .ok_or_else(|| Error::NotFound {
                        what: "feature",
                        id: name.clone(),
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

impl ProjectionParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `max_points` = 0.
    pub fn check(&self) -> Result<()> {
        if self.max_points == 0 {
            return Err(Error::param("max_points", 0, "must be at least 1"));
        }
        Ok(())
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
/// [`Error::LengthMismatch`] when the rows do not match the labels;
/// [`Error::OutOfRange`] when a label has no profile;
/// [`Error::InvalidParameter`] for `max_points` = 0.
pub fn projection_scaled(
    segmentation: &Segmentation,
    scaled: ArrayView2<'_, f64>,
    params: &ProjectionParams,
) -> Result<Chart> {
    params.check()?;
    let labels = &segmentation.labels;
    let (n, d) = scaled.dim();
    if labels.len() != n {
        return Err(Error::lengths(
            "projection: segment labels per row",
            n,
            labels.len(),
        ));
    }
    let k = segmentation.profiles.len();
    if let Some(&l) = labels.iter().find(|&&l| l >= k) {
        return Err(Error::out_of_range(
            "projection: segment label into the segment profiles",
            l,
            k,
        ));
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
/// [`Error::NonFinite`] for a non-finite share.
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
        let err = profile_heat_map(&seg.profiles, &features.names()[..2], None).unwrap_err();
        assert!(
            matches!(err, Error::LengthMismatch { expected: 2, .. }),
            "{err:?}"
        );
        // A chosen subset, in the chosen order; an unknown name is an error.
        let picked = vec![features.names()[1].clone(), features.names()[0].clone()];
        let subset = profile_heat_map(&seg.profiles, features.names(), Some(&picked)).unwrap();
        assert_eq!(marks(&subset), 2 * seg.profiles.len());
        assert!(subset.svg().find(&picked[0]) < subset.svg().find(&picked[1]));
        let unknown = vec!["no such feature".to_owned()];
        let err = profile_heat_map(&seg.profiles, features.names(), Some(&unknown)).unwrap_err();
        assert!(
            matches!(err, Error::NotFound { what: "feature", ref id } if id == "no such feature"),
            "{err:?}"
        );
        let empty = profile_heat_map(&[], features.names(), None).unwrap();
        assert_eq!(marks(&empty), 0);
        assert!(empty.svg().contains("No data"));
        assert_eq!(
            marks(&profile_heat_map(&seg.profiles, &[], None).unwrap()),
            0
        );
        let mut inf = seg.profiles.clone();
        inf[0].z[0] = f64::INFINITY;
        assert!(matches!(
            profile_heat_map(&inf, features.names(), None),
            Err(Error::NonFinite { row: 0, .. })
        ));
        // One segment, one feature.
        let mut one = seg.profiles[..1].to_vec();
        one[0].z.truncate(1);
        let chart = profile_heat_map(&one, &features.names()[..1], None).unwrap();
        assert_eq!(marks(&chart), 1);
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
        let err = projection_scaled(&seg, three.view(), &p).unwrap_err();
        assert!(
            matches!(err, Error::LengthMismatch { expected: 3, .. }),
            "{err:?}"
        );
        let err = projection_scaled(
            &seg,
            rows,
            &ProjectionParams {
                max_points: 0,
                seed: 0,
            },
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidParameter {
                    name: "max_points",
                    ..
                }
            ),
            "{err:?}"
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
        assert!(
            matches!(projection(&seg, &fewer, &p), Err(Error::NotFound { what: "feature", id }) if id == "monetary")
        );
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
        assert!(matches!(
            size_value_share(&nan),
            Err(Error::NonFinite { row: 0, .. })
        ));
    }

    #[test]
    fn end_to_end_on_a_synthetic_population() {
        use crate::segment::features::FeatureSpec;
        use crate::synth::{Population, SynthParams};
        let pop = Population::generate(&SynthParams::with_customers(2000).with_seed(5)).unwrap();
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
