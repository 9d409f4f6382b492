//! The scatter plot: points coloured by group.

use serde::{Deserialize, Serialize};

use super::{WIDTH, no_data};
use crate::error::{Error, Result};
use crate::report::svg::{
    Canvas, Chart, Margins, SMALL_SIZE, Scale, check_finite, format_number, nice_domain,
    nice_ticks, series_colour, text_width,
};

/// A scatter plot of points coloured by group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scatter {
    /// Chart title.
    pub title: String,
    /// A line under the title.
    pub subtitle: Option<String>,
    /// x coordinates.
    pub x: Vec<f64>,
    /// y coordinates.
    pub y: Vec<f64>,
    /// Group of each point, an index into `group_names`.
    pub group: Vec<usize>,
    /// Legend names of the groups.
    pub group_names: Vec<String>,
    /// x axis label.
    pub x_label: String,
    /// y axis label.
    pub y_label: String,
}

/// Draws a scatter plot. Each point is a mark.
///
/// # Errors
/// [`Error::LengthMismatch`] when the columns differ in length;
/// [`Error::OutOfRange`] when a group has no name; [`Error::NonFinite`] for a
/// non-finite coordinate.
pub fn scatter(spec: &Scatter) -> Result<Chart> {
    if spec.x.is_empty() {
        return Ok(no_data(&spec.title, "there are no points"));
    }
    for (column, len) in [("y", spec.y.len()), ("group", spec.group.len())] {
        if len != spec.x.len() {
            return Err(Error::lengths(
                format!("scatter `{}`: {column} values per x value", spec.title),
                spec.x.len(),
                len,
            ));
        }
    }
    if let Some(&g) = spec.group.iter().find(|&&g| g >= spec.group_names.len()) {
        return Err(Error::out_of_range(
            format!("scatter `{}`: group names", spec.title),
            g,
            spec.group_names.len(),
        ));
    }
    check_finite("x coordinate", spec.x.iter().copied())?;
    check_finite("y coordinate", spec.y.iter().copied())?;
    let header = Canvas::header_height(spec.subtitle.is_some());
    let items: Vec<(String, String)> = spec
        .group_names
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), series_colour(i).to_owned()))
        .collect();
    // Legend rows needed.
    let mut rows = 1.0;
    let mut cx = 0.0;
    for (label, _) in &items {
        let w = 30.0 + text_width(label, SMALL_SIZE);
        if cx + w > WIDTH - 100.0 && cx > 0.0 {
            rows += 1.0;
            cx = 0.0;
        }
        cx += w;
    }
    let legend_h = 18.0 * rows + 4.0;
    let m = Margins {
        top: header + legend_h + 10.0,
        right: 24.0,
        bottom: 52.0,
        left: 70.0,
    };
    let height = 480.0 + legend_h;
    let mut c = Canvas::new(WIDTH, height, &spec.title, spec.subtitle.as_deref());
    c.legend(m.left, header + 10.0, WIDTH - 12.0, &items);
    let lo_hi = |v: &[f64]| {
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let (xa, xb) = lo_hi(&spec.x);
    let (ya, yb) = lo_hi(&spec.y);
    let (x0, x1) = nice_domain(xa, xb, 6);
    let (y0, y1) = nice_domain(ya, yb, 6);
    let x = Scale::new(x0, x1, m.left, WIDTH - m.right);
    let y = Scale::new(y0, y1, height - m.bottom, m.top);
    let fmt = |v: f64| format_number(v, 3);
    c.y_axis(
        y,
        &nice_ticks(y0, y1, 6),
        m.left,
        WIDTH - m.right,
        &spec.y_label,
        &fmt,
    );
    c.x_axis(
        x,
        &nice_ticks(x0, x1, 6),
        height - m.bottom,
        m.top,
        &spec.x_label,
        &fmt,
    );
    let r = if spec.x.len() > 2000 { 1.6 } else { 2.6 };
    for ((&xv, &yv), &g) in spec.x.iter().zip(&spec.y).zip(&spec.group) {
        c.point(x.px(xv), y.px(yv), r, series_colour(g), None);
    }
    Ok(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_draws_every_point() {
        let spec = Scatter {
            title: "s".into(),
            subtitle: None,
            x: vec![0.0, 1.0, 2.0],
            y: vec![1.0, 0.0, 1.0],
            group: vec![0, 1, 1],
            group_names: vec!["g0".into(), "g1".into()],
            x_label: "x".into(),
            y_label: "y".into(),
        };
        assert_eq!(scatter(&spec).unwrap().marks, 3);
        let mut bad = spec;
        bad.group[0] = 5;
        assert!(matches!(
            scatter(&bad),
            Err(Error::OutOfRange {
                index: 5,
                len: 2,
                ..
            })
        ));
        let mut short = bad;
        short.y.pop();
        assert!(matches!(
            scatter(&short),
            Err(Error::LengthMismatch {
                expected: 3,
                found: 2,
                ..
            })
        ));
    }
}
