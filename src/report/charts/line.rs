//! The line chart: series over a common x axis with interval bands and markers.

use serde::{Deserialize, Serialize};

use super::{ValueFormat, WIDTH, no_data};
use crate::error::{Error, Result};
use crate::report::svg::{
    Anchor, Canvas, Chart, Font, MUTED, Margins, SMALL_SIZE, Scale, Stroke, check_finite,
    format_number, nice_domain, nice_ticks, series_colour,
};

/// One line in a [`LineChart`], optionally with a shaded band (an interval).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineSeries {
    /// Legend name.
    pub name: String,
    /// x values, increasing.
    pub x: Vec<f64>,
    /// y values, one per x; NaN breaks the line.
    pub y: Vec<f64>,
    /// Lower and upper band edges, one pair per x (e.g. a 95 % interval).
    pub band: Option<(Vec<f64>, Vec<f64>)>,
    /// Draw a dot at each point.
    pub markers: bool,
}

/// A line chart of one or more series over a common x axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineChart {
    /// Chart title.
    pub title: String,
    /// A line under the title.
    pub subtitle: Option<String>,
    /// The series.
    pub series: Vec<LineSeries>,
    /// x axis label, with units.
    pub x_label: String,
    /// y axis label, with units.
    pub y_label: String,
    /// How y values are written.
    pub y_format: ValueFormat,
    /// A dashed horizontal reference line at this y, with its label.
    pub reference: Option<(f64, String)>,
    /// Fixed y range (otherwise fitted to the data and bands).
    pub y_range: Option<(f64, f64)>,
    /// Draw y on a log10 axis (values must be positive).
    pub log_y: bool,
}

/// Draws a line chart. Each series line, each band and each marker is a mark.
///
/// # Errors
/// [`Error::LengthMismatch`] when x, y and band lengths differ;
/// [`Error::InvalidValue`] when `log_y` meets a value ≤ 0;
/// [`Error::NonFinite`] for a non-finite x.
pub fn line_chart(spec: &LineChart) -> Result<Chart> {
    let has_points = spec
        .series
        .iter()
        .any(|s| s.y.iter().any(|v| v.is_finite()));
    if !has_points {
        return Ok(no_data(&spec.title, "no series has a finite point"));
    }
    for s in &spec.series {
        let mut columns = vec![("y values", s.y.len())];
        if let Some((lo, hi)) = &s.band {
            columns.extend([
                ("band lower edges", lo.len()),
                ("band upper edges", hi.len()),
            ]);
        }
        for (column, len) in columns {
            if len != s.x.len() {
                return Err(Error::lengths(
                    format!(
                        "line chart `{}`: {column} of series `{}` per x value",
                        spec.title, s.name
                    ),
                    s.x.len(),
                    len,
                ));
            }
        }
        check_finite("x value", s.x.iter().copied())?;
        if spec.log_y {
            if let Some(v) = s.y.iter().find(|&&v| v.is_finite() && v <= 0.0) {
                return Err(Error::value(
                    "y value on a log axis",
                    v.to_string(),
                    format!("series `{}` needs positive values", s.name),
                ));
            }
        }
    }
    let t = |v: f64| if spec.log_y { v.log10() } else { v };
    let xs = || spec.series.iter().flat_map(|s| s.x.iter().copied());
    let ys = || {
        spec.series.iter().flat_map(|s| {
            let band = s
                .band
                .iter()
                .flat_map(|(lo, hi)| lo.iter().chain(hi.iter()).copied());
            s.y.iter().copied().chain(band)
        })
    };
    let x_lo = xs().fold(f64::INFINITY, f64::min);
    let x_hi = xs().fold(f64::NEG_INFINITY, f64::max);
    let finite_y = || {
        ys().filter(|v| v.is_finite() && (!spec.log_y || *v > 0.0))
            .map(t)
    };
    let mut y_lo = finite_y().fold(f64::INFINITY, f64::min);
    let mut y_hi = finite_y().fold(f64::NEG_INFINITY, f64::max);
    if let Some((r, _)) = &spec.reference {
        if r.is_finite() && (!spec.log_y || *r > 0.0) {
            y_lo = y_lo.min(t(*r));
            y_hi = y_hi.max(t(*r));
        }
    }
    let (y0, y1) = match spec.y_range {
        Some((a, b)) if a.is_finite() && b.is_finite() && a < b => (t(a), t(b)),
        _ if spec.log_y => (y_lo.floor(), y_hi.ceil().max(y_lo.floor() + 1.0)),
        _ => nice_domain(y_lo, y_hi, 5),
    };
    let (x0, x1) = if x_hi > x_lo {
        (x_lo, x_hi)
    } else {
        (x_lo - 1.0, x_hi + 1.0)
    };
    let header = Canvas::header_height(spec.subtitle.is_some());
    let legend = spec.series.len() > 1 || spec.series.iter().any(|s| s.band.is_some());
    let legend_h = if legend { 22.0 } else { 0.0 };
    let m = Margins {
        top: header + legend_h + 10.0,
        right: 24.0,
        bottom: 52.0,
        left: 84.0,
    };
    let height = 340.0 + legend_h;
    let mut c = Canvas::new(WIDTH, height, &spec.title, spec.subtitle.as_deref());
    let x = Scale::new(x0, x1, m.left, WIDTH - m.right);
    let y = Scale::new(y0, y1, height - m.bottom, m.top);
    let y_ticks: Vec<f64> = if spec.log_y {
        (y0.round() as i64..=y1.round() as i64)
            .map(|e| e as f64)
            .collect()
    } else {
        nice_ticks(y0, y1, 5)
    };
    let y_fmt = |v: f64| {
        if spec.log_y {
            spec.y_format.tick(10f64.powf(v))
        } else {
            spec.y_format.tick(v)
        }
    };
    c.y_axis(y, &y_ticks, m.left, WIDTH - m.right, &spec.y_label, &y_fmt);
    let x_fmt = |v: f64| format_number(v, 3);
    c.x_axis(
        x,
        &nice_ticks(x0, x1, 6),
        height - m.bottom,
        height - m.bottom,
        &spec.x_label,
        &x_fmt,
    );
    if let Some((r, label)) = &spec.reference {
        if r.is_finite() && (!spec.log_y || *r > 0.0) {
            let ry = y.px(t(*r));
            c.line(
                m.left,
                ry,
                WIDTH - m.right,
                ry,
                Stroke::dashed(MUTED, 1.0),
                None,
            );
            c.text(
                WIDTH - m.right - 4.0,
                ry - 5.0,
                label,
                Font::new(SMALL_SIZE).fill(MUTED).anchor(Anchor::End),
            );
        }
    }
    let mut items = Vec::new();
    for (si, s) in spec.series.iter().enumerate() {
        let colour = series_colour(si);
        items.push((s.name.clone(), colour.to_owned()));
        if let Some((lo, hi)) = &s.band {
            let pts: Vec<(f64, f64, f64)> =
                s.x.iter()
                    .zip(lo.iter().zip(hi))
                    .filter(|(_, (a, b))| {
                        a.is_finite() && b.is_finite() && (!spec.log_y || (**a > 0.0 && **b > 0.0))
                    })
                    .map(|(&xv, (&a, &b))| (x.px(xv), y.px(t(a)), y.px(t(b))))
                    .collect();
            if !pts.is_empty() {
                let mut d = String::new();
                for (i, (px, _, py)) in pts.iter().enumerate() {
                    d.push_str(&format!(
                        "{}{px:.1},{py:.1} ",
                        if i == 0 { "M" } else { "L" }
                    ));
                }
                for (px, py, _) in pts.iter().rev() {
                    d.push_str(&format!("L{px:.1},{py:.1} "));
                }
                d.push('Z');
                c.path(
                    &d,
                    colour,
                    None,
                    0.18,
                    true,
                    Some(&format!("{}: interval", s.name)),
                );
                items.push((format!("{} (interval)", s.name), format!("{colour}55")));
            }
        }
        // Lines break at NaN.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs = Vec::new();
        for (&xv, &yv) in s.x.iter().zip(&s.y) {
            if yv.is_finite() && (!spec.log_y || yv > 0.0) {
                run.push((x.px(xv), y.px(t(yv))));
            } else if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        for r in &runs {
            c.polyline(r, colour, 2.0, &s.name);
        }
        if s.markers {
            for (&xv, &yv) in s.x.iter().zip(&s.y) {
                if yv.is_finite() && (!spec.log_y || yv > 0.0) {
                    let tip = format!(
                        "{}: x = {}, y = {}",
                        s.name,
                        format_number(xv, 4),
                        spec.y_format.format(yv)
                    );
                    c.point(x.px(xv), y.px(t(yv)), 3.0, colour, Some(&tip));
                }
            }
        }
    }
    if legend {
        c.legend(m.left, header + 10.0, WIDTH - 12.0, &items);
    }
    Ok(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_chart_counts_lines_bands_and_markers() {
        let spec = LineChart {
            title: "l".into(),
            subtitle: None,
            series: vec![LineSeries {
                name: "a".into(),
                x: vec![0.0, 1.0, 2.0, 3.0],
                y: vec![1.0, f64::NAN, 2.0, 3.0],
                band: Some((vec![0.5; 4], vec![3.5; 4])),
                markers: true,
            }],
            x_label: "x".into(),
            y_label: "y".into(),
            y_format: ValueFormat::Number,
            reference: Some((0.05, "α".into())),
            y_range: None,
            log_y: false,
        };
        // Two line runs (broken at NaN), one band, three markers.
        assert_eq!(line_chart(&spec).unwrap().marks, 6);
        let mut log = spec.clone();
        log.log_y = true;
        log.series[0].y[0] = 0.0;
        assert!(matches!(
            line_chart(&log),
            Err(Error::InvalidValue {
                what: "y value on a log axis",
                ..
            })
        ));
        let mut short = spec;
        short.series[0].y.pop();
        assert!(matches!(
            line_chart(&short),
            Err(Error::LengthMismatch { expected, found, .. }) if found + 1 == expected
        ));
    }
}
