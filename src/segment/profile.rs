//! Segment profiles: what each segment is, in a marketer's words.
//!
//! A segment is only useful when people can tell what it is: its size, the
//! share of value it holds, how its customers differ from the average, which
//! lifecycle stages they are in and which channels they prefer. For every
//! segment this module reports, in the features' original units:
//!
//! - size, share of customers, value (sum of CLV or revenue) and share of value;
//! - mean and median of every feature, and its z-score against the
//!   population, z = (segment mean − population mean) / population standard
//!   deviation (0 for a constant feature);
//! - the most distinguishing features (largest |z|);
//! - the lifecycle stage mix and the preferred channel, when known;
//! - a deterministic human-readable name built from the profile (see
//!   [`name_segments`]).

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lifecycle::stage::Stage;

/// What to profile: feature values in original units and each customer's segment.
#[derive(Debug, Clone, Copy)]
pub struct ProfileInput<'a> {
    /// Feature names, one per column of `values`.
    pub names: &'a [String],
    /// Feature values in original units (rows = customers). Non-finite values
    /// are left out of that feature's statistics.
    pub values: ArrayView2<'a, f64>,
    /// The rows of `values` the labels are of, in order (`None`: every row);
    /// so a few customers can be left out without copying the matrix.
    pub rows: Option<&'a [usize]>,
    /// Each customer's segment, `0..k`.
    pub labels: &'a [usize],
    /// Number of segments.
    pub k: usize,
    /// Value per customer (CLV or revenue) for the value share, if known.
    pub value: Option<&'a [f64]>,
    /// Lifecycle stage per customer, if known.
    pub stages: Option<&'a [Stage]>,
}

/// One distinguishing feature of a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distinguishing {
    /// Feature name.
    pub feature: String,
    /// Segment mean in original units.
    pub mean: f64,
    /// z-score of the segment mean against the population.
    pub z: f64,
}

/// The profile of one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentProfile {
    /// Segment id.
    pub id: usize,
    /// Generated name (see [`name_segments`]).
    pub name: String,
    /// Customers in the segment.
    pub size: usize,
    /// Share of all customers.
    pub share: f64,
    /// Sum of the value column over the segment, when given.
    pub value: Option<f64>,
    /// Share of the total value, when given (and the total is positive).
    pub value_share: Option<f64>,
    /// Mean of each feature (original units; `NaN`-free: 0 with no finite value).
    pub mean: Vec<f64>,
    /// Median of each feature (original units).
    pub median: Vec<f64>,
    /// z-score of each feature's mean against the population.
    pub z: Vec<f64>,
    /// Up to five features with the largest |z|, largest first.
    pub top_features: Vec<Distinguishing>,
    /// Customers per lifecycle stage, in [`Stage::ALL`] order, when stages are given.
    pub stage_mix: Option<Vec<usize>>,
    /// The channel with the largest mean share (`channel_share:<name>` features), if any.
    pub preferred_channel: Option<String>,
}

/// Population mean and standard deviation (ddof 0) of each feature over finite values.
fn population_moments(values: ArrayView2<'_, f64>, rows: Option<&[usize]>) -> Vec<(f64, f64)> {
    values
        .columns()
        .into_iter()
        .map(|col| {
            let finite = || {
                let picked: Box<dyn Iterator<Item = f64>> = match rows {
                    Some(rows) => Box::new(rows.iter().map(|&i| col[i])),
                    None => Box::new(col.iter().copied()),
                };
                picked.filter(|v| v.is_finite())
            };
            let (mut n, mut sum) = (0.0, 0.0);
            for v in finite() {
                n += 1.0;
                sum += v;
            }
            if n == 0.0 {
                return (0.0, 0.0);
            }
            let mean = sum / n;
            let var = finite().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            (mean, var.sqrt())
        })
        .collect()
}

/// Profiles every segment and names it.
///
/// # Errors
/// [`Error::LengthMismatch`] when lengths disagree; [`Error::InvalidParameter`]
/// for k = 0; [`Error::OutOfRange`] for a label ≥ k or a row past the matrix.
pub fn profile_segments(input: &ProfileInput<'_>) -> Result<Vec<SegmentProfile>> {
    let (all, p) = input.values.dim();
    if let Some(&bad) = input.rows.and_then(|r| r.iter().find(|&&i| i >= all)) {
        return Err(Error::out_of_range("segment profiles: row", bad, all));
    }
    let n = input.rows.map_or(all, <[usize]>::len);
    let row = |i: usize| input.rows.map_or(i, |r| r[i]);
    if input.names.len() != p {
        return Err(Error::lengths(
            "segment profiles: names per feature column",
            p,
            input.names.len(),
        ));
    }
    if input.labels.len() != n {
        return Err(Error::lengths(
            "segment profiles: labels per customer",
            n,
            input.labels.len(),
        ));
    }
    if input.k == 0 {
        return Err(Error::param("k", 0, "must be at least 1"));
    }
    if let Some(&l) = input.labels.iter().find(|&&l| l >= input.k) {
        return Err(Error::out_of_range(
            "segment profiles: segment label",
            l,
            input.k,
        ));
    }
    if let Some(v) = input.value.filter(|v| v.len() != n) {
        return Err(Error::lengths(
            "segment profiles: values per customer",
            n,
            v.len(),
        ));
    }
    if let Some(s) = input.stages.filter(|s| s.len() != n) {
        return Err(Error::lengths(
            "segment profiles: stages per customer",
            n,
            s.len(),
        ));
    }
    let k = input.k;
    let population = population_moments(input.values, input.rows);
    let total_value: Option<f64> = input
        .value
        .map(|v| v.iter().filter(|x| x.is_finite()).sum());
    // Rows of each segment, in input order.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in input.labels.iter().enumerate() {
        members[l].push(i);
    }
    let channel_columns: Vec<(usize, &str)> = input
        .names
        .iter()
        .enumerate()
        .filter_map(|(f, name)| name.strip_prefix("channel_share:").map(|c| (f, c)))
        .collect();
    let mut profiles = Vec::with_capacity(k);
    for (id, rows) in members.iter().enumerate() {
        let mut mean = vec![0.0; p];
        let mut med = vec![0.0; p];
        let mut z = vec![0.0; p];
        for f in 0..p {
            let column: Vec<f64> = rows
                .iter()
                .map(|&i| input.values[[row(i), f]])
                .filter(|v| v.is_finite())
                .collect();
            if !column.is_empty() {
                mean[f] = column.iter().sum::<f64>() / column.len() as f64;
            }
            let (pm, ps) = population[f];
            z[f] = if ps > 0.0 && !column.is_empty() {
                (mean[f] - pm) / ps
            } else {
                0.0
            };
            med[f] = crate::stats::median(&column).unwrap_or(0.0);
        }
        let mut order: Vec<usize> = (0..p).collect();
        // Largest |z| first; ties by column order.
        order.sort_by(|&a, &b| z[b].abs().total_cmp(&z[a].abs()).then(a.cmp(&b)));
        let top_features = order
            .iter()
            .take(5)
            .filter(|&&f| z[f] != 0.0)
            .map(|&f| Distinguishing {
                feature: input.names[f].clone(),
                mean: mean[f],
                z: z[f],
            })
            .collect();
        let value = input.value.map(|v| {
            rows.iter()
                .map(|&i| v[i])
                .filter(|x| x.is_finite())
                .sum::<f64>()
        });
        let value_share = match (value, total_value) {
            (Some(v), Some(t)) if t > 0.0 => Some(v / t),
            _ => None,
        };
        let stage_mix = input.stages.map(|stages| {
            let mut mix = vec![0usize; Stage::ALL.len()];
            for &i in rows {
                if let Some(s) = Stage::ALL.iter().position(|&s| s == stages[i]) {
                    mix[s] += 1;
                }
            }
            mix
        });
        let preferred_channel = channel_columns
            .iter()
            .filter(|&&(f, _)| mean[f] > 0.0)
            .max_by(|a, b| mean[a.0].total_cmp(&mean[b.0]).then(b.0.cmp(&a.0)))
            .map(|&(_, c)| c.to_owned());
        profiles.push(SegmentProfile {
            id,
            name: String::new(),
            size: rows.len(),
            share: if n > 0 {
                rows.len() as f64 / n as f64
            } else {
                0.0
            },
            value,
            value_share,
            mean,
            median: med,
            z,
            top_features,
            stage_mix,
            preferred_channel,
        });
    }
    let names = name_segments(input.names, &profiles);
    for (profile, name) in profiles.iter_mut().zip(names) {
        profile.name = name;
    }
    Ok(profiles)
}

/// How far (in population standard deviations) a segment mean must lie from
/// the average before the name mentions it.
const NOTABLE: f64 = 0.5;

/// The z-score of the first feature whose name is one of `candidates`.
fn z_of(names: &[String], profile: &SegmentProfile, candidates: &[&str]) -> Option<f64> {
    candidates
        .iter()
        .find_map(|c| names.iter().position(|n| n == c).map(|f| profile.z[f]))
}

/// Names segments from their profiles, deterministically.
///
/// The name reads lifecycle, then value, then channel, from the features
/// present (by the names `segment::features` gives them):
///
/// | evidence | words |
/// |---|---|
/// | `tenure` z ≤ −0.5 | "new" |
/// | `p_alive` z ≤ −0.5, or `recency` z ≥ 0.5 | "lapsing" |
/// | `frequency` z ≥ 0.5 (and not lapsing) | "loyal" |
/// | `clv`, `monetary` or `total_spend` z ≥ 0.5 / ≤ −0.5 | "high-value" / "low spend" |
/// | `recency` z ≤ −0.5 (and nothing above) | "active" |
/// | a `channel_share:<c>` mean ≥ 0.5 | "`<c>`-first" |
///
/// Without any of these features the name is the two most distinguishing
/// features ("high x, low y"; a `prefix:value` feature reads as its value); a segment close to the average everywhere is
/// "typical". Repeated names get " #2", " #3" in segment order.
pub fn name_segments(names: &[String], profiles: &[SegmentProfile]) -> Vec<String> {
    let mut out: Vec<String> = profiles
        .iter()
        .map(|p| {
            let mut words: Vec<String> = Vec::new();
            let tenure = z_of(names, p, &["tenure", "tenure_days"]);
            let alive = z_of(names, p, &["p_alive"]);
            let recency = z_of(names, p, &["recency", "recency_days"]);
            let frequency = z_of(names, p, &["frequency"]);
            let value = z_of(
                names,
                p,
                &["clv", "monetary", "total_spend", "monetary_value"],
            );
            if tenure.is_some_and(|z| z <= -NOTABLE) {
                words.push("new".into());
            }
            let lapsing =
                alive.is_some_and(|z| z <= -NOTABLE) || recency.is_some_and(|z| z >= NOTABLE);
            if lapsing {
                words.push("lapsing".into());
            } else if frequency.is_some_and(|z| z >= NOTABLE) {
                words.push("loyal".into());
            }
            match value {
                Some(z) if z >= NOTABLE => words.insert(0, "high-value".into()),
                Some(z) if z <= -NOTABLE => words.push("low spend".into()),
                _ => {}
            }
            if words.is_empty() && recency.is_some_and(|z| z <= -NOTABLE) {
                words.push("active".into());
            }
            let mut name = if words.is_empty() {
                let notable: Vec<String> = p
                    .top_features
                    .iter()
                    .filter(|d| d.z.abs() >= NOTABLE && !d.feature.starts_with("channel_share:"))
                    .take(2)
                    .map(|d| {
                        // "touchpoint_share:email" reads as "email".
                        let short = d.feature.rsplit(':').next().unwrap_or(&d.feature);
                        format!("{} {short}", if d.z > 0.0 { "high" } else { "low" })
                    })
                    .collect();
                if notable.is_empty() {
                    "typical".to_owned()
                } else {
                    notable.join(", ")
                }
            } else {
                words.join(" ")
            };
            // Channel preference when one channel carries at least half the activity.
            if let Some(c) = &p.preferred_channel {
                let column = format!("channel_share:{c}");
                if names
                    .iter()
                    .position(|n| *n == column)
                    .is_some_and(|f| p.mean[f] >= 0.5)
                {
                    name.push_str(&format!(", {c}-first"));
                }
            }
            name
        })
        .collect();
    // Make repeated names unique, in segment order.
    for i in 0..out.len() {
        let count = out[..i]
            .iter()
            .filter(|n| n.split(" #").next() == Some(out[i].as_str()))
            .count();
        if count > 0 {
            out[i] = format!("{} #{}", out[i], count + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn profiles_by_hand() {
        // Two segments: 0 = rows 0, 1; 1 = rows 2, 3, 4.
        let values = array![
            [10.0, 1.0, 0.9],
            [20.0, 3.0, 0.8],
            [1.0, 10.0, 0.1],
            [2.0, 20.0, 0.0],
            [3.0, 30.0, 0.2]
        ];
        let n = names(&["monetary", "recency", "channel_share:app"]);
        let input = ProfileInput {
            names: &n,
            values: values.view(),
            rows: None,
            labels: &[0, 0, 1, 1, 1],
            k: 2,
            value: Some(&[100.0, 100.0, 10.0, 20.0, 70.0]),
            stages: None,
        };
        let p = profile_segments(&input).unwrap();
        assert_eq!((p[0].size, p[1].size), (2, 3));
        assert_eq!(p[0].share, 0.4);
        assert_eq!(p[0].mean, vec![15.0, 2.0, 0.8500000000000001]);
        assert_eq!(p[1].median, vec![2.0, 20.0, 0.1]);
        assert_eq!(p[0].value, Some(200.0));
        assert_eq!(p[1].value_share, Some(100.0 / 300.0));
        // Population of monetary: mean 7.2, sd sqrt(((2.8)²+(12.8)²+(6.2)²+(5.2)²+(4.2)²)/5).
        let sd =
            ((2.8f64.powi(2) + 12.8f64.powi(2) + 6.2f64.powi(2) + 5.2f64.powi(2) + 4.2f64.powi(2))
                / 5.0)
                .sqrt();
        assert!((p[0].z[0] - (15.0 - 7.2) / sd).abs() < 1e-12);
        assert_eq!(p[0].preferred_channel.as_deref(), Some("app"));
        assert_eq!(p[0].name, "high-value, app-first");
        assert_eq!(p[1].name, "lapsing low spend");
        assert_eq!(p[0].top_features[0].feature, "channel_share:app");
    }

    #[test]
    fn listed_rows_profile_as_a_copy_of_them_would() {
        // Rows 1 and 4 are left out (e.g. customers not yet seen).
        let values = array![
            [10.0, 1.0, 0.9],
            [99.0, 99.0, 0.5],
            [20.0, 3.0, 0.8],
            [1.0, 10.0, 0.1],
            [f64::NAN, 7.0, 0.3],
            [2.0, 20.0, 0.0]
        ];
        let rows = [0, 2, 3, 5];
        let copy = values.select(ndarray::Axis(0), &rows);
        let n = names(&["monetary", "recency", "channel_share:app"]);
        let input = ProfileInput {
            names: &n,
            values: values.view(),
            rows: Some(&rows),
            labels: &[0, 0, 1, 1],
            k: 2,
            value: Some(&[1.0, 2.0, 3.0, 4.0]),
            stages: None,
        };
        let listed = profile_segments(&input).unwrap();
        let copied = profile_segments(&ProfileInput {
            values: copy.view(),
            rows: None,
            ..input
        })
        .unwrap();
        assert_eq!(listed, copied);
        assert!(matches!(
            profile_segments(&ProfileInput {
                rows: Some(&[0, 6, 1, 2]),
                ..input
            }),
            Err(Error::OutOfRange {
                index: 6,
                len: 6,
                ..
            })
        ));
    }

    #[test]
    fn names_are_unique_and_fall_back_to_features() {
        let values = array![
            [1.0, 5.0],
            [1.0, 5.0],
            [9.0, 5.0],
            [9.0, 5.0],
            [5.0, 5.0],
            [5.0, 5.0]
        ];
        let n = names(&["widgets", "constant"]);
        let input = ProfileInput {
            names: &n,
            values: values.view(),
            rows: None,
            labels: &[0, 0, 1, 1, 2, 2],
            k: 4,
            value: None,
            stages: None,
        };
        let p = profile_segments(&input).unwrap();
        assert_eq!(p[0].name, "low widgets");
        assert_eq!(p[1].name, "high widgets");
        assert_eq!(p[2].name, "typical");
        // An empty segment is "typical" too, and made unique.
        assert_eq!(p[3].size, 0);
        assert_eq!(p[3].name, "typical #2");
        assert!(p.iter().all(|s| s.z.iter().all(|z| z.is_finite())));
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let values = array![[1.0], [2.0]];
        let n = names(&["x"]);
        let ok = ProfileInput {
            names: &n,
            values: values.view(),
            rows: None,
            labels: &[0, 1],
            k: 2,
            value: None,
            stages: None,
        };
        assert!(profile_segments(&ok).is_ok());
        assert!(matches!(
            profile_segments(&ProfileInput { labels: &[0], ..ok }),
            Err(Error::LengthMismatch {
                expected: 2,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            profile_segments(&ProfileInput {
                labels: &[0, 2],
                ..ok
            }),
            Err(Error::OutOfRange {
                index: 2,
                len: 2,
                ..
            })
        ));
        assert!(matches!(
            profile_segments(&ProfileInput { k: 0, ..ok }),
            Err(Error::InvalidParameter { name: "k", .. })
        ));
        assert!(matches!(
            profile_segments(&ProfileInput {
                value: Some(&[1.0]),
                ..ok
            }),
            Err(Error::LengthMismatch {
                expected: 2,
                found: 1,
                ..
            })
        ));
        let two = names(&["x", "y"]);
        assert!(matches!(
            profile_segments(&ProfileInput { names: &two, ..ok }),
            Err(Error::LengthMismatch {
                expected: 1,
                found: 2,
                ..
            })
        ));
    }
}
