//! The sequential charts: the relative effect with its always-valid
//! interval, and the always-valid p-value, at every look of a running
//! experiment (see the parent module's docs).

use super::{check_alpha, comparison, finite_or_nan, no_data, treatments};
use crate::error::{Error, Result};
use crate::experiment::evaluate::{Comparison, Evaluation, SegmentResult};
use crate::report::charts::{LineChart, LineSeries, ValueFormat, line_chart};
use crate::report::svg::{Chart, format_number};

/// Per treatment, its name and its comparison at every look.
type PerTreatment<'a> = Vec<(String, Vec<Option<&'a Comparison>>)>;

/// The looks as the sequential charts draw them: the first evaluation, the
/// look times, and per treatment its name and its comparison with the
/// control at every look (`None` where it has none); `None` without looks.
fn over_looks<'a>(
    looks: &'a [(f64, Evaluation)],
    segment: Option<&str>,
) -> Result<Option<(&'a Evaluation, Vec<f64>, PerTreatment<'a>)>> {
    let per_look = look_segments(looks, segment)?;
    let Some((_, first)) = looks.first() else {
        return Ok(None);
    };
    let times = looks.iter().map(|(t, _)| *t).collect();
    let per_treatment = treatments(first)
        .into_iter()
        .map(|(v, variant)| (variant, per_look.iter().map(|s| comparison(s, v)).collect()))
        .collect();
    Ok(Some((first, times, per_treatment)))
}

/// The segment result of each look, checked to be comparable.
fn look_segments<'a>(
    looks: &'a [(f64, Evaluation)],
    segment: Option<&str>,
) -> Result<Vec<&'a SegmentResult>> {
    let Some((_, first)) = looks.first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(looks.len());
    let mut previous = f64::NEG_INFINITY;
    for (i, (t, e)) in looks.iter().enumerate() {
        if !t.is_finite() {
            return Err(Error::non_finite("looks", i, "time", *t));
        }
        if *t <= previous {
            return Err(Error::value(
                "look time",
                t.to_string(),
                format!("look times must increase; it follows {previous}"),
            ));
        }
        previous = *t;
        if e.variants != first.variants || e.control != first.control {
            return Err(Error::value(
                "look",
                format!(
                    "look {i}: variants {:?} with control {}",
                    e.variants, e.control
                ),
                format!(
                    "every look must evaluate the first look's variants {:?} with control {}",
                    first.variants, first.control
                ),
            ));
        }
        let s = match segment {
            None => &e.overall,
            Some(name) => e
                .segments
                .iter()
                .find(|s| s.segment == name)
                .ok_or_else(|| Error::NotFound {
                    what: "segment in a look",
                    id: name.to_owned(),
                })?,
        };
        out.push(s);
    }
    Ok(out)
}

/// The relative effect of each treatment with its always-valid interval at
/// each look (module docs): `looks` are `(time, evaluation of the cumulative
/// statistics at that time)`, in increasing time; `segment` names a segment
/// (`None`: overall); `time_label` is the x axis label with units (e.g. "day
/// of the experiment"). Per treatment one band, one line per unbroken run and
/// one marked point per look with a finite estimate.
///
/// # Errors
/// [`Error::NonFinite`] for a non-finite time; [`Error::InvalidValue`] for
/// looks not in increasing time (`what` = `look time`) and for looks that do
/// not evaluate the same variants and control (`what` = `look`);
/// [`Error::NotFound`] when a look lacks the segment.
pub fn sequential_effect(
    looks: &[(f64, Evaluation)],
    segment: Option<&str>,
    time_label: &str,
) -> Result<Chart> {
    let name = looks.first().map_or("", |(_, e)| e.metric.name.as_str());
    let title = format!("Effect on {name} over time, with always-valid intervals");
    let Some((first, times, per_treatment)) = over_looks(looks, segment)? else {
        return Ok(no_data(&title, "there are no looks"));
    };
    let series: Vec<LineSeries> = per_treatment
        .into_iter()
        .map(|(variant, cs)| {
            // A look without the figure is a gap in the line (NaN in a series).
            let pick = |f: &dyn Fn(&Comparison) -> Option<f64>| -> Vec<f64> {
                cs.iter()
                    .map(|c| c.and_then(f).map_or(f64::NAN, finite_or_nan))
                    .collect()
            };
            LineSeries {
                name: variant,
                x: times.clone(),
                y: pick(&|c| c.relative.map(|r| r.estimate)),
                band: Some((
                    pick(&|c| c.sequential.map(|s| s.ci[0])),
                    pick(&|c| c.sequential.map(|s| s.ci[1])),
                )),
                markers: true,
            }
        })
        .collect();
    let control = first
        .variants
        .get(first.control)
        .cloned()
        .unwrap_or_default();
    let scope = segment.map_or("all units".to_owned(), |s| format!("segment {s}"));
    line_chart(&LineChart {
        title,
        subtitle: Some(format!(
            "Relative effect vs {control} ({scope}); band: always-valid interval (mixture SPRT)"
        )),
        series,
        x_label: time_label.to_owned(),
        y_label: format!("relative effect on {name} (%)"),
        y_format: ValueFormat::Percent,
        reference: Some((0.0, "no effect".to_owned())),
        y_range: None,
        log_y: false,
    })
}

/// Smallest p-value drawn; smaller ones (down to 0) are drawn at this floor.
pub const P_VALUE_FLOOR: f64 = 1e-12;

/// The always-valid p-value of each treatment at each look on a log axis,
/// with a dashed line at `alpha` (module docs). P-values below
/// [`P_VALUE_FLOOR`] are drawn at the floor. Marks as [`sequential_effect`]
/// without the band.
///
/// # Errors
/// As [`sequential_effect`]; [`Error::InvalidParameter`] for `alpha` outside (0, 1).
pub fn sequential_p_value(
    looks: &[(f64, Evaluation)],
    segment: Option<&str>,
    alpha: f64,
    time_label: &str,
) -> Result<Chart> {
    check_alpha(alpha)?;
    let name = looks.first().map_or("", |(_, e)| e.metric.name.as_str());
    let title = format!("Always-valid p-value of the effect on {name} over time");
    let Some((_, times, per_treatment)) = over_looks(looks, segment)? else {
        return Ok(no_data(&title, "there are no looks"));
    };
    let series: Vec<LineSeries> = per_treatment
        .into_iter()
        .map(|(variant, cs)| LineSeries {
            name: variant,
            x: times.clone(),
            y: cs
                .iter()
                .map(|c| {
                    c.and_then(|c| c.sequential)
                        .map_or(f64::NAN, |s| s.p_value.clamp(P_VALUE_FLOOR, 1.0))
                })
                .collect(),
            band: None,
            markers: true,
        })
        .collect();
    let scope = segment.map_or("all units".to_owned(), |s| format!("segment {s}"));
    let a = format_number(100.0 * alpha, 3);
    line_chart(&LineChart {
        title,
        subtitle: Some(format!(
            "Mixture-SPRT p-value at each look ({scope}); significant below the α line at any look"
        )),
        series,
        x_label: time_label.to_owned(),
        y_label: "always-valid p-value (log scale)".to_owned(),
        y_format: ValueFormat::Number,
        reference: Some((alpha, format!("α = {a}%"))),
        y_range: None,
        log_y: true,
    })
}
