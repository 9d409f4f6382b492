//! Charts of experiment results: how big the effect is where, how likely
//! the treatment is to beat the control, and how the evidence built up over
//! the looks.
//!
//! - [`effect_forest`]: a forest plot (as in meta-analysis, Lewis & Clarke
//!   2001, "Forest plots: trying to see the wood and the trees") of the
//!   relative effect of each treatment against the control, one row per
//!   segment (per segment × treatment with several treatments) and an
//!   "overall" row drawn as a diamond spanning its interval, with a vertical
//!   line at 0 (no effect). The whiskers are the relative effect's
//!   confidence intervals at the evaluation's level, unadjusted. A **filled**
//!   marker means the interval excludes 0, a **hollow** one that it does not,
//!   so marker and whiskers always agree; the per-segment verdicts, which
//!   use Holm-adjusted p-values, belong in a table beside the chart. Each row is labelled
//!   with the estimate and interval, e.g. `+3.2% [−0.5, +6.9]`.
//!   [`forest_plot`] draws any [`ForestPlot`].
//! - [`chance_to_win`]: per segment and overall, the Bayesian probability
//!   that each treatment beats the control (`Bayesian::chance_to_win`,
//!   already in the metric's better direction), as bars from 0 to 100 %, with
//!   a dashed line at the decision threshold (95 % is GrowthBook's default; the
//!   evaluation itself decides on Holm-adjusted p-values, so the threshold is
//!   the caller's). A bar past the line is a treatment to ship in that segment,
//!   one short of `1 − threshold` one to stop.
//! - [`sequential_effect`] and [`sequential_p_value`]: the relative effect
//!   with its always-valid interval (the mixture sequential probability ratio
//!   test of Waudby-Smith et al. 2023, as gbstats'
//!   `SequentialTwoSidedTTest`) at each look of a running experiment, and the
//!   always-valid p-value on a log axis with the α line. The evaluation has no
//!   notion of time, so the caller evaluates the cumulative statistics at each
//!   look (e.g. each day's [`ExperimentStats`](crate::experiment::stats::ExperimentStats)
//!   merged into the running total, then
//!   [`evaluate`](crate::experiment::evaluate::evaluate)) and passes the
//!   `(time, Evaluation)` pairs. Because the intervals are always valid, the
//!   experiment may be stopped the first time the band leaves 0 (or the
//!   p-value crosses α) without inflating false positives.
//!
//! # Marks
//!
//! Forest plot: one per row with a finite estimate (the point or the
//! diamond; whiskers are not marks). Chance to win: one bar per segment ×
//! treatment with a finite probability. Sequential charts: per treatment one
//! band, one line per unbroken run and one point per look with a finite value
//! (as [`line_chart`](crate::report::charts::line_chart)).

use serde::{Deserialize, Serialize};

use super::charts::{ValueFormat, WIDTH};
use super::svg::{
    Anchor, Canvas, Chart, Font, LABEL_SIZE, MUTED, SMALL_SIZE, Scale, Stroke, fit_text,
    format_number, format_percent, nice_domain, nice_ticks, series_colour, text_width,
};
use crate::error::{Error, Result};
use crate::experiment::evaluate::{Comparison, Evaluation, SegmentResult};

mod sequential;

pub use sequential::{P_VALUE_FLOOR, sequential_effect, sequential_p_value};

/// `v`, or NaN for an infinite value (drawn as a gap).
fn finite_or_nan(v: f64) -> f64 {
    if v.is_finite() { v } else { f64::NAN }
}

fn no_data(title: &str, reason: &str) -> Chart {
    let mut c = Canvas::new(WIDTH, 220.0, title, None);
    c.no_data(reason);
    c.finish()
}

/// `v` with an explicit sign (`+` or `−`), in `format`.
fn signed(v: f64, format: &ValueFormat) -> String {
    if !v.is_finite() {
        return format_number(v, 3);
    }
    let body = match format {
        ValueFormat::Percent => format!("{:.1}%", 100.0 * v.abs()),
        other => other.format(v.abs()),
    };
    if body == "0.0%" || body == "0" {
        body
    } else if v < 0.0 {
        format!("−{body}")
    } else {
        format!("+{body}")
    }
}

/// `v` with an explicit sign and without a unit (interval bounds).
fn signed_bare(v: f64, format: &ValueFormat) -> String {
    match format {
        ValueFormat::Percent => signed(v, format).trim_end_matches('%').to_owned(),
        ValueFormat::Money(symbol) => signed(v, format).replacen(symbol.as_str(), "", 1),
        ValueFormat::Number => signed(v, format),
    }
}

fn check_alpha(alpha: f64) -> Result<()> {
    if alpha.is_finite() && alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(Error::param("alpha", alpha, "must be in (0, 1)"))
    }
}

// ------------------------------------------------------------------ forest plot

/// One row of a [`ForestPlot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestRow {
    /// Row label (segment, variant).
    pub label: String,
    /// Point estimate; NaN: undefined (the row says "n/a" and draws nothing).
    pub estimate: f64,
    /// Lower interval bound (NaN: none drawn).
    pub lower: f64,
    /// Upper interval bound (NaN: none drawn).
    pub upper: f64,
    /// Filled marker (e.g. significant); hollow otherwise.
    pub emphasis: bool,
    /// A summary row (e.g. overall), drawn as a diamond spanning the interval.
    pub summary: bool,
    /// Colour index into [`ForestPlot::series`] (0 with a single series).
    pub series: usize,
}

/// Estimates with intervals, one row each, drawn by [`forest_plot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestPlot {
    /// Chart title.
    pub title: String,
    /// A line under the title (what the intervals and the fill mean).
    pub subtitle: Option<String>,
    /// Rows, top to bottom.
    pub rows: Vec<ForestRow>,
    /// Series names for the legend (drawn when more than one).
    pub series: Vec<String>,
    /// The value axis label, with units.
    pub x_label: String,
    /// How estimates are written.
    pub format: ValueFormat,
    /// A vertical reference line (e.g. 0, no effect).
    pub reference: Option<f64>,
    /// A note under the axis (e.g. what a filled marker means).
    pub note: Option<String>,
}

/// Draws a forest plot: per row a whisker from `lower` to `upper` and a
/// point at the estimate (a diamond spanning the interval for summary rows),
/// filled when `emphasis`, hollow otherwise; the label on the left, the
/// estimate and interval on the right. One mark per row with a finite estimate.
///
/// # Errors
/// [`Error::NonFinite`] for an infinite value; [`Error::InvalidValue`] for
/// `lower > upper`;
/// [`Error::OutOfRange`] for a series index without a name (with several series).
pub fn forest_plot(spec: &ForestPlot) -> Result<Chart> {
    if spec.rows.is_empty() {
        return Ok(no_data(&spec.title, "there are no estimates"));
    }
    for (i, r) in spec.rows.iter().enumerate() {
        for (field, v) in [
            ("estimate", r.estimate),
            ("lower", r.lower),
            ("upper", r.upper),
        ] {
            if v.is_infinite() {
                return Err(Error::non_finite(
                    format!("forest plot `{}` rows", spec.title),
                    i,
                    field,
                    v,
                ));
            }
        }
        if r.lower > r.upper {
            return Err(Error::value(
                "forest plot interval",
                format!("[{}, {}]", r.lower, r.upper),
                format!("row `{}` has a lower bound above its upper bound", r.label),
            ));
        }
        if spec.series.len() > 1 && r.series >= spec.series.len() {
            return Err(Error::out_of_range(
                format!(
                    "forest plot `{}`: series of row `{}` into the series names",
                    spec.title, r.label
                ),
                r.series,
                spec.series.len(),
            ));
        }
    }
    let values = || {
        spec.rows
            .iter()
            .filter(|r| r.estimate.is_finite())
            .flat_map(|r| [r.estimate, r.lower, r.upper])
            .chain(spec.reference)
            .filter(|v| v.is_finite())
    };
    if !spec.rows.iter().any(|r| r.estimate.is_finite()) {
        return Ok(no_data(&spec.title, "no row has a defined estimate"));
    }
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(f64::NEG_INFINITY, f64::max);
    let (d0, d1) = nice_domain(lo, hi, 6);
    let texts: Vec<String> = spec
        .rows
        .iter()
        .map(|r| {
            if !r.estimate.is_finite() {
                "n/a".to_owned()
            } else if r.lower.is_finite() && r.upper.is_finite() {
                format!(
                    "{} [{}, {}]",
                    signed(r.estimate, &spec.format),
                    signed_bare(r.lower, &spec.format),
                    signed_bare(r.upper, &spec.format)
                )
            } else {
                signed(r.estimate, &spec.format)
            }
        })
        .collect();
    let label_w = spec
        .rows
        .iter()
        .map(|r| text_width(&r.label, LABEL_SIZE))
        .fold(0.0, f64::max)
        .min(200.0);
    let value_w = texts
        .iter()
        .map(|t| text_width(t, SMALL_SIZE))
        .fold(0.0, f64::max)
        .min(190.0);
    let header = Canvas::header_height(spec.subtitle.is_some());
    let legend_h = if spec.series.len() > 1 { 22.0 } else { 0.0 };
    let top = header + legend_h + 12.0;
    let row_h = 26.0;
    let left = 16.0 + label_w + 12.0;
    // Real fonts run wider than the estimate; the values are right-aligned.
    let right = WIDTH - 16.0 - value_w * 1.12 - 14.0;
    let plot_h = row_h * spec.rows.len() as f64;
    let bottom = top + plot_h;
    let note_h = if spec.note.is_some() { 18.0 } else { 0.0 };
    let height = bottom + 52.0 + note_h;
    let mut c = Canvas::new(WIDTH, height, &spec.title, spec.subtitle.as_deref());
    if let Some(note) = &spec.note {
        c.text(
            16.0,
            height - 12.0,
            &fit_text(note, SMALL_SIZE, WIDTH - 32.0),
            Font::new(SMALL_SIZE).fill(MUTED),
        );
    }
    if spec.series.len() > 1 {
        let items: Vec<(String, String)> = spec
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), series_colour(i).to_owned()))
            .collect();
        c.legend(left, header + 10.0, WIDTH - 12.0, &items);
    }
    let x = Scale::new(d0, d1, left, right);
    let fmt = |v: f64| match &spec.format {
        ValueFormat::Percent => format!("{}%", format_number(100.0 * v, 3)),
        other => other.format(v),
    };
    c.x_axis(x, &nice_ticks(d0, d1, 6), bottom, top, &spec.x_label, &fmt);
    if let Some(r) = spec.reference.filter(|r| r.is_finite()) {
        let rx = x.px(r);
        c.line(rx, top, rx, bottom, Stroke::solid("#222222", 1.2), None);
    }
    for (i, (r, text)) in spec.rows.iter().zip(&texts).enumerate() {
        let cy = top + row_h * (i as f64 + 0.5);
        if r.summary && i > 0 {
            c.line(
                16.0,
                cy - row_h / 2.0,
                WIDTH - 16.0,
                cy - row_h / 2.0,
                Stroke::solid("#cccccc", 1.0),
                None,
            );
        }
        let label_font = if r.summary {
            Font::new(LABEL_SIZE).bold()
        } else {
            Font::new(LABEL_SIZE)
        };
        c.text(
            left - 12.0,
            cy + 4.0,
            &fit_text(&r.label, LABEL_SIZE, label_w),
            label_font.anchor(Anchor::End),
        );
        c.text(
            WIDTH - 16.0,
            cy + 4.0,
            &fit_text(text, SMALL_SIZE, value_w + 4.0),
            Font::new(SMALL_SIZE)
                .fill(if r.emphasis { "#222222" } else { MUTED })
                .anchor(Anchor::End),
        );
        if !r.estimate.is_finite() {
            continue;
        }
        let colour = series_colour(r.series);
        let (fill, stroke) = if r.emphasis {
            (colour, None)
        } else {
            ("#ffffff", Some((colour, 1.6)))
        };
        let px = x.px(r.estimate);
        let has_interval = r.lower.is_finite() && r.upper.is_finite();
        let tip = format!(
            "{}: {text}{}",
            r.label,
            if r.emphasis { " (significant)" } else { "" }
        );
        if r.summary {
            let (a, b) = if has_interval {
                (x.px(r.lower).min(px - 4.0), x.px(r.upper).max(px + 4.0))
            } else {
                (px - 6.0, px + 6.0)
            };
            let d = format!(
                "M{a:.1},{cy:.1} L{px:.1},{t:.1} L{b:.1},{cy:.1} L{px:.1},{u:.1} Z",
                t = cy - 7.0,
                u = cy + 7.0
            );
            c.path(&d, fill, stroke, 1.0, true, Some(&tip));
        } else {
            if has_interval {
                let (a, b) = (x.px(r.lower), x.px(r.upper));
                c.line(a, cy, b, cy, Stroke::solid(colour, 1.6), None);
                c.line(a, cy - 4.0, a, cy + 4.0, Stroke::solid(colour, 1.6), None);
                c.line(b, cy - 4.0, b, cy + 4.0, Stroke::solid(colour, 1.6), None);
            }
            let rad = 5.0;
            let d = format!(
                "M{l:.1},{cy:.1} a{rad},{rad} 0 1,0 {dia},0 a{rad},{rad} 0 1,0 -{dia},0 Z",
                l = px - rad,
                dia = 2.0 * rad
            );
            c.path(&d, fill, stroke, 1.0, true, Some(&tip));
        }
    }
    Ok(c.finish())
}

/// Treatments of an evaluation: (variant index, name).
fn treatments(eval: &Evaluation) -> Vec<(usize, String)> {
    eval.variants
        .iter()
        .enumerate()
        .filter(|(v, _)| *v != eval.control)
        .map(|(v, name)| (v, name.clone()))
        .collect()
}

fn comparison(segment: &SegmentResult, variant: usize) -> Option<&Comparison> {
    segment
        .variants
        .get(variant)
        .and_then(|v| v.comparison.as_ref())
}

/// The segments shown: each segment when there are several (one segment
/// repeats the overall result), then the overall result.
fn shown_segments(eval: &Evaluation) -> Vec<(&SegmentResult, bool)> {
    let mut out: Vec<(&SegmentResult, bool)> = Vec::new();
    if eval.segments.len() > 1 {
        out.extend(eval.segments.iter().map(|s| (s, false)));
    }
    out.push((&eval.overall, true));
    out
}

fn row_label(segment: &SegmentResult, overall: bool, variant: &str, several: bool) -> String {
    let name = if overall {
        "overall"
    } else {
        segment.segment.as_str()
    };
    if several {
        format!("{name} · {variant}")
    } else {
        name.to_owned()
    }
}

/// The forest plot of an evaluation's relative effects (module docs):
/// segment rows, then the overall row as a diamond; `alpha` is the
/// evaluation's [`EvalParams::alpha`](crate::experiment::evaluate::EvalParams::alpha),
/// the level of the intervals. A marker is filled when its interval
/// excludes zero.
///
/// # Errors
/// [`Error::InvalidParameter`] for `alpha` outside (0, 1).
pub fn effect_forest_plot(eval: &Evaluation, alpha: f64) -> Result<ForestPlot> {
    check_alpha(alpha)?;
    let treat = treatments(eval);
    let several = treat.len() > 1;
    let mut rows = Vec::new();
    for (segment, overall) in shown_segments(eval) {
        for (series, (v, name)) in treat.iter().enumerate() {
            let Some(c) = comparison(segment, *v) else {
                continue;
            };
            // Without a relative effect the row reads "n/a" (NaN in a forest row).
            let (estimate, lower, upper, emphasis) = match c.relative {
                Some(r) => (
                    finite_or_nan(r.estimate),
                    finite_or_nan(r.ci[0]),
                    finite_or_nan(r.ci[1]),
                    // Filled exactly when the drawn interval excludes zero, so marker and
                    // whiskers never disagree.
                    r.ci[0] > 0.0 || r.ci[1] < 0.0,
                ),
                None => (f64::NAN, f64::NAN, f64::NAN, false),
            };
            rows.push(ForestRow {
                label: row_label(segment, overall, name, several),
                estimate,
                lower,
                upper,
                emphasis,
                summary: overall,
                series,
            });
        }
    }
    let control = eval.variants.get(eval.control).cloned().unwrap_or_default();
    let confidence = format_number(100.0 * (1.0 - alpha), 3);
    let a = format_number(100.0 * alpha, 3);
    let direction = if eval.metric.lower_is_better {
        " (lower is better)"
    } else {
        ""
    };
    let subject = if several {
        "each treatment".to_owned()
    } else {
        treat.first().map(|(_, n)| n.clone()).unwrap_or_default()
    };
    Ok(ForestPlot {
        title: format!("Effect on {} by segment", eval.metric.name),
        subtitle: Some(format!(
            "Lift of {subject} over {control}{direction} with {confidence}% confidence \
             intervals; ◆ overall"
        )),
        rows,
        series: if several {
            treat.into_iter().map(|(_, n)| n).collect()
        } else {
            Vec::new()
        },
        x_label: format!("relative effect on {} vs {control} (%)", eval.metric.name),
        format: ValueFormat::Percent,
        reference: Some(0.0),
        note: Some(format!(
            "Filled: the interval excludes 0 (relative effect significant at α = {a}%, \
             unadjusted); hollow: it includes 0"
        )),
    })
}

/// The forest plot of an evaluation (see [`effect_forest_plot`]).
///
/// # Errors
/// As [`effect_forest_plot`] and [`forest_plot`].
pub fn effect_forest(eval: &Evaluation, alpha: f64) -> Result<Chart> {
    forest_plot(&effect_forest_plot(eval, alpha)?)
}

// ------------------------------------------------------------------ chance to win

/// Bars of the Bayesian chance to win per segment and overall (module docs),
/// with a dashed reference line at `threshold` (e.g. 0.95). One mark per
/// segment × treatment with a finite chance.
///
/// # Errors
/// [`Error::InvalidParameter`] for a threshold outside (0, 1).
pub fn chance_to_win(eval: &Evaluation, threshold: f64) -> Result<Chart> {
    if !(threshold.is_finite() && threshold > 0.0 && threshold < 1.0) {
        return Err(Error::param("threshold", threshold, "must be in (0, 1)"));
    }
    let title = format!("Chance to beat the control: {}", eval.metric.name);
    let treat = treatments(eval);
    let segments = shown_segments(eval);
    let rows: Vec<(String, Vec<f64>)> = segments
        .iter()
        .map(|(s, overall)| {
            let label = if *overall {
                "overall".to_owned()
            } else {
                s.segment.clone()
            };
            let values = treat
                .iter()
                .map(|(v, _)| {
                    comparison(s, *v)
                        .and_then(|c| c.bayesian)
                        .map_or(f64::NAN, |b| b.chance_to_win)
                })
                .collect();
            (label, values)
        })
        .collect();
    let any = rows.iter().any(|(_, v)| v.iter().any(|p| p.is_finite()));
    if treat.is_empty() || !any {
        return Ok(no_data(&title, "no comparison has a chance to win"));
    }
    let several = treat.len() > 1;
    let header = Canvas::header_height(true);
    let legend_h = if several { 22.0 } else { 0.0 };
    let bar_h = if several { 14.0 } else { 20.0 };
    let group_h = bar_h * treat.len() as f64 + 10.0;
    let label_w = rows
        .iter()
        .map(|(l, _)| text_width(l, LABEL_SIZE))
        .fold(0.0, f64::max)
        .min(200.0);
    let top = header + legend_h + 22.0;
    let left = 16.0 + label_w + 12.0;
    let right = WIDTH - 60.0;
    let bottom = top + group_h * rows.len() as f64;
    let height = bottom + 52.0;
    let control = eval.variants.get(eval.control).cloned().unwrap_or_default();
    let pct = format_percent(threshold);
    let mut c = Canvas::new(
        WIDTH,
        height,
        &title,
        Some(&format!(
            "Bayesian posterior probability of beating {control}; dashed: {pct} decision threshold"
        )),
    );
    if several {
        let items: Vec<(String, String)> = treat
            .iter()
            .enumerate()
            .map(|(i, (_, n))| (n.clone(), series_colour(i).to_owned()))
            .collect();
        c.legend(left, header + 10.0, WIDTH - 12.0, &items);
    }
    let x = Scale::new(0.0, 1.0, left, right);
    let fmt = |v: f64| format!("{}%", format_number(100.0 * v, 3));
    c.x_axis(
        x,
        &nice_ticks(0.0, 1.0, 5),
        bottom,
        top,
        "chance to beat the control (%)",
        &fmt,
    );
    for (ri, (label, values)) in rows.iter().enumerate() {
        let y0 = top + group_h * ri as f64 + 5.0;
        let overall = ri + 1 == rows.len();
        let font = if overall {
            Font::new(LABEL_SIZE).bold()
        } else {
            Font::new(LABEL_SIZE)
        };
        c.text(
            left - 12.0,
            y0 + (group_h - 10.0) / 2.0 + 4.0,
            &fit_text(label, LABEL_SIZE, label_w),
            font.anchor(Anchor::End),
        );
        for (ti, (&p, (_, name))) in values.iter().zip(&treat).enumerate() {
            let y = y0 + bar_h * ti as f64;
            if !p.is_finite() {
                c.text(
                    left + 4.0,
                    y + bar_h / 2.0 + 3.0,
                    "n/a",
                    Font::new(SMALL_SIZE).fill(MUTED),
                );
                continue;
            }
            let end = x.px(p);
            let tip = if several {
                format!("{label} · {name}: {}", format_percent(p))
            } else {
                format!("{label}: {}", format_percent(p))
            };
            c.bar(left, y, end - left, bar_h - 2.0, series_colour(ti), &tip);
            c.text(
                end + 4.0,
                y + bar_h / 2.0 + 3.0,
                &format_percent(p),
                Font::new(SMALL_SIZE).fill(MUTED),
            );
        }
    }
    let tx = x.px(threshold);
    c.line(
        tx,
        top - 6.0,
        tx,
        bottom,
        Stroke::dashed("#222222", 1.2),
        None,
    );
    c.text(
        tx,
        top - 10.0,
        &format!("{pct} threshold"),
        Font::new(SMALL_SIZE).anchor(Anchor::Middle),
    );
    Ok(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::evaluate::{EvalParams, evaluate};
    use crate::experiment::stats::{ExperimentStats, Metric, MetricKind};
    use crate::report::testing::{is_no_data, whole_marks as marks};

    /// A binomial experiment over `units` units: `variants` arms, two
    /// segments, the last arm converting more often in segment 0.
    fn evaluation(units: usize, variants: usize) -> Evaluation {
        let names: Vec<String> = (0..variants).map(|v| format!("v{v}")).collect();
        let mut variant = Vec::with_capacity(units);
        let mut segment = Vec::with_capacity(units);
        let mut value = Vec::with_capacity(units);
        for i in 0..units {
            let v = (i % variants) as u32;
            let s = ((i / variants) % 2) as u32;
            // Deterministic "random" draw in [0, 1).
            let u = ((i as u64).wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
            let rate = if s == 0 && v as usize == variants - 1 {
                0.3
            } else {
                0.2
            };
            variant.push(v);
            segment.push(s);
            value.push(if u < rate { 1.0 } else { 0.0 });
        }
        let stats = ExperimentStats::from_columns(
            Metric::new("conversion", MetricKind::Binomial),
            names,
            vec!["new".into(), "loyal".into()],
            &variant,
            Some(&segment),
            &value,
            None,
        )
        .unwrap();
        evaluate(&stats, &EvalParams::default()).unwrap()
    }

    #[test]
    fn forest_has_a_row_per_segment_and_overall() {
        let e = evaluation(4000, 2);
        let plot = effect_forest_plot(&e, 0.05).unwrap();
        assert_eq!(plot.rows.len(), 3);
        assert!(plot.rows[2].summary);
        assert_eq!(plot.rows[2].label, "overall");
        let chart = forest_plot(&plot).unwrap();
        assert_eq!(marks(&chart), 3);
        assert!(chart.svg().contains(" ["));
        // Three variants: segment × treatment rows, with a legend.
        let e3 = evaluation(6000, 3);
        let chart = effect_forest(&e3, 0.05).unwrap();
        assert_eq!(marks(&chart), 6);
        assert!(chart.svg().contains("new · v2"));
        assert!(matches!(
            effect_forest(&e, 1.5),
            Err(Error::InvalidParameter { name: "alpha", .. })
        ));
    }

    #[test]
    fn forest_labels_and_degenerate_rows() {
        let row = |estimate: f64, lower: f64, upper: f64| ForestRow {
            label: "r".into(),
            estimate,
            lower,
            upper,
            emphasis: true,
            summary: false,
            series: 0,
        };
        let mut spec = ForestPlot {
            title: "f".into(),
            subtitle: None,
            rows: vec![row(0.032, -0.005, 0.069), row(f64::NAN, f64::NAN, f64::NAN)],
            series: Vec::new(),
            x_label: "lift (%)".into(),
            format: ValueFormat::Percent,
            reference: Some(0.0),
            note: None,
        };
        let chart = forest_plot(&spec).unwrap();
        assert_eq!(marks(&chart), 1);
        assert!(chart.svg().contains("+3.2% [−0.5, +6.9]"));
        assert!(chart.svg().contains("n/a"));
        spec.rows[0] = row(0.0, 0.1, -0.1);
        assert!(matches!(
            forest_plot(&spec),
            Err(Error::InvalidValue {
                what: "forest plot interval",
                ..
            })
        ));
        spec.rows[0] = row(f64::INFINITY, 0.0, 1.0);
        assert!(matches!(
            forest_plot(&spec),
            Err(Error::NonFinite { row: 0, ref field, .. }) if field == "estimate"
        ));
        spec.rows.truncate(0);
        assert!(is_no_data(&forest_plot(&spec).unwrap()));
        spec.rows.push(row(f64::NAN, 0.0, 1.0));
        assert!(is_no_data(&forest_plot(&spec).unwrap()));
    }

    #[test]
    fn chance_to_win_bars_and_threshold() {
        let e = evaluation(4000, 2);
        let chart = chance_to_win(&e, 0.95).unwrap();
        // Two segments and overall, one treatment.
        assert_eq!(marks(&chart), 3);
        assert!(chart.svg().contains("95.0% threshold"));
        assert_eq!(
            marks(&chance_to_win(&evaluation(6000, 3), 0.95).unwrap()),
            6
        );
        for threshold in [1.0, f64::NAN] {
            assert!(matches!(
                chance_to_win(&e, threshold),
                Err(Error::InvalidParameter {
                    name: "threshold",
                    ..
                })
            ));
        }
    }

    #[test]
    fn sequential_charts_over_looks() {
        let looks: Vec<(f64, Evaluation)> = [1000, 2000, 4000]
            .iter()
            .enumerate()
            .map(|(day, &n)| ((day + 1) as f64, evaluation(n, 2)))
            .collect();
        let chart = sequential_effect(&looks, None, "day").unwrap();
        // One band, one line, three points.
        assert_eq!(marks(&chart), 5);
        let chart = sequential_effect(&looks, Some("new"), "day").unwrap();
        assert_eq!(marks(&chart), 5);
        let chart = sequential_p_value(&looks, None, 0.05, "day").unwrap();
        // One line, three points.
        assert_eq!(marks(&chart), 4);
        assert!(chart.svg().contains("α = 5%"));
        // Empty, unordered, unknown segment, mismatched variants.
        assert!(is_no_data(&sequential_effect(&[], None, "day").unwrap()));
        assert!(is_no_data(
            &sequential_p_value(&[], None, 0.05, "day").unwrap()
        ));
        let mut unordered = looks.clone();
        unordered.swap(0, 2);
        assert!(matches!(
            sequential_effect(&unordered, None, "day"),
            Err(Error::InvalidValue {
                what: "look time",
                ..
            })
        ));
        assert!(matches!(
            sequential_effect(&looks, Some("nobody"), "day"),
            Err(Error::NotFound { ref id, .. }) if id == "nobody"
        ));
        let mut mixed = looks.clone();
        mixed.push((9.0, evaluation(3000, 3)));
        assert!(matches!(
            sequential_effect(&mixed, None, "day"),
            Err(Error::InvalidValue { what: "look", .. })
        ));
        let mut nan = looks;
        nan[0].0 = f64::NAN;
        assert!(matches!(
            sequential_p_value(&nan, None, 0.05, "day"),
            Err(Error::NonFinite { row: 0, .. })
        ));
    }
}
