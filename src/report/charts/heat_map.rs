//! The heat map: a grid of coloured cells with their values and a colour bar.

use serde::{Deserialize, Serialize};

use super::{ValueFormat, WIDTH, label_room, no_data};
use crate::error::{Error, Result};
use crate::report::svg::{
    Anchor, Canvas, Chart, ColourScale, Font, LABEL_SIZE, MUTED, NO_DATA, SMALL_SIZE, Scale,
    Stroke, fit_text, scale_colour, text_width, wrap_text,
};

/// A heat map: a grid of coloured cells with their values written in them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeatMap {
    /// Chart title.
    pub title: String,
    /// A line under the title.
    pub subtitle: Option<String>,
    /// Row labels, top to bottom.
    pub rows: Vec<String>,
    /// Column labels, left to right.
    pub columns: Vec<String>,
    /// `values[row][column]`; NaN marks a cell without data (drawn grey).
    pub values: Vec<Vec<f64>>,
    /// Colour scale.
    pub scale: ColourScale,
    /// The values at the two ends of the colour bar (e.g. `(0, 1)` for a
    /// probability); `None` spans the data (symmetric about 0 when diverging).
    #[serde(default)]
    pub domain: Option<(f64, f64)>,
    /// Text written in each cell (defaults to the formatted value).
    pub cell_labels: Option<Vec<Vec<String>>>,
    /// Axis title for the rows.
    pub row_label: String,
    /// Axis title for the columns.
    pub column_label: String,
    /// What the colour means, with units (the colour bar's label).
    pub legend_label: String,
    /// How values are written.
    pub format: ValueFormat,
}

/// Checks that a grid (values or cell labels) has one row per row label and
/// one entry per column label in each row.
fn check_grid(
    spec: &HeatMap,
    what: &str,
    row_lengths: impl ExactSizeIterator<Item = usize>,
) -> Result<()> {
    if row_lengths.len() != spec.rows.len() {
        return Err(Error::lengths(
            format!("heat map `{}`: rows of {what}", spec.title),
            spec.rows.len(),
            row_lengths.len(),
        ));
    }
    for (i, len) in row_lengths.enumerate() {
        if len != spec.columns.len() {
            return Err(Error::lengths(
                format!("heat map `{}`: {what} in row {i}", spec.title),
                spec.columns.len(),
                len,
            ));
        }
    }
    Ok(())
}

/// Draws a heat map. Each cell is one mark.
///
/// # Errors
/// [`Error::LengthMismatch`] when the grid (values or cell labels) does not
/// match the row and column labels; [`Error::NonFinite`] for an infinite value.
pub fn heat_map(spec: &HeatMap) -> Result<Chart> {
    if spec.rows.is_empty() || spec.columns.is_empty() {
        return Ok(no_data(&spec.title, "the grid has no rows or no columns"));
    }
    check_grid(spec, "values", spec.values.iter().map(Vec::len))?;
    if let Some(labels) = &spec.cell_labels {
        check_grid(spec, "cell labels", labels.iter().map(Vec::len))?;
    }
    for (i, row) in spec.values.iter().enumerate() {
        if let Some((j, &v)) = row.iter().enumerate().find(|(_, v)| v.is_infinite()) {
            return Err(Error::non_finite(
                format!("heat map `{}` values", spec.title),
                i,
                spec.columns[j].as_str(),
                v,
            ));
        }
    }
    let finite = || {
        spec.values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
    };
    let lo = finite().fold(f64::INFINITY, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    let (d0, d1) = match spec.scale {
        _ if spec
            .domain
            .is_some_and(|(a, b)| a.is_finite() && b.is_finite() && b > a) =>
        {
            spec.domain.unwrap_or((0.0, 1.0))
        }
        _ if !lo.is_finite() => (0.0, 1.0),
        ColourScale::Sequential => (lo, if hi > lo { hi } else { lo + 1.0 }),
        ColourScale::Diverging => {
            let a = lo.abs().max(hi.abs());
            let a = if a > 0.0 { a } else { 1.0 };
            (-a, a)
        }
    };
    let header = Canvas::header_height(spec.subtitle.is_some());
    let label_w = label_room(&spec.rows, LABEL_SIZE, 200.0);
    let left = 16.0 + label_w + 8.0 + if spec.row_label.is_empty() { 0.0 } else { 18.0 };
    // The colour bar: its tick labels, then its title (rotated) to their right.
    let diverging = spec.scale == ColourScale::Diverging;
    let mut bar_ticks = vec![(d1, spec.format.format(d1))];
    if diverging {
        bar_ticks.push((0.0, "0".to_owned()));
    } else {
        let mid = (d0 + d1) / 2.0;
        bar_ticks.push((mid, spec.format.format(mid)));
    }
    bar_ticks.push((d0, spec.format.format(d0)));
    let tick_w = bar_ticks
        .iter()
        .map(|(_, t)| text_width(t, SMALL_SIZE))
        .fold(0.0, f64::max);
    let legend_title_w = if spec.legend_label.is_empty() {
        0.0
    } else {
        SMALL_SIZE + 10.0
    };
    let legend_w = 18.0 + 12.0 + 4.0 + tick_w + legend_title_w + 8.0;
    let n_cols = spec.columns.len() as f64;
    let avail = WIDTH - left - legend_w - 16.0;
    let cell_w = (avail / n_cols).clamp(24.0, 110.0);
    // Column labels: horizontal when they fit in a cell (wrapped onto up to
    // three lines), otherwise at 40°.
    let col_text_w = label_room(&spec.columns, SMALL_SIZE, 230.0);
    let col_line_h = 13.0;
    let wrapped: Vec<Vec<String>> = spec
        .columns
        .iter()
        .map(|c| wrap_text(c, SMALL_SIZE, cell_w - 6.0, 3))
        .collect();
    let wraps_whole = wrapped.iter().zip(&spec.columns).all(|(lines, col)| {
        lines.join(" ") == col.split_whitespace().collect::<Vec<_>>().join(" ")
    });
    let rotate = col_text_w > cell_w - 6.0 && !wraps_whole;
    let col_lines = wrapped.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let col_h = if rotate {
        col_text_w * 0.64 + 16.0
    } else {
        col_line_h * (col_lines - 1.0) + 20.0
    };
    let col_title_h = if spec.column_label.is_empty() {
        0.0
    } else {
        18.0
    };
    let top = header + col_title_h + col_h + 6.0;
    let cell_h = 26.0;
    let grid_h = cell_h * spec.rows.len() as f64;
    // A rotated header runs up and to the right of its column by cos 40° of its length.
    let header_overhang = if rotate {
        left + cell_w * (n_cols - 0.5) + col_text_w * 0.77 + 12.0
    } else {
        0.0
    };
    let width = (left + cell_w * n_cols + legend_w + 16.0)
        .max(header_overhang)
        .max(WIDTH.min(480.0));
    // The colour bar is at least tall enough for its rotated label.
    let bar_h = grid_h
        .clamp(80.0, 240.0)
        .max(text_width(&spec.legend_label, SMALL_SIZE) + 8.0);
    let height = (top + grid_h.max(bar_h) + 24.0).max(header + 200.0);
    let mut c = Canvas::new(width, height, &spec.title, spec.subtitle.as_deref());
    if !spec.column_label.is_empty() {
        c.text(
            left + cell_w * n_cols / 2.0,
            header + 12.0,
            &spec.column_label,
            Font::new(LABEL_SIZE).anchor(Anchor::Middle),
        );
    }
    if !spec.row_label.is_empty() {
        c.text_rotated(
            16.0,
            top + grid_h / 2.0,
            &spec.row_label,
            Font::new(LABEL_SIZE).anchor(Anchor::Middle),
            -90.0,
        );
    }
    for (j, col) in spec.columns.iter().enumerate() {
        let cx = left + cell_w * (j as f64 + 0.5);
        if rotate {
            c.text_rotated(
                cx,
                top - 6.0,
                &fit_text(col, SMALL_SIZE, 230.0),
                Font::new(SMALL_SIZE),
                -40.0,
            );
        } else {
            // Bottom-aligned just above the grid.
            let lines = &wrapped[j];
            c.text_lines(
                cx,
                top - 8.0 - col_line_h * (lines.len() - 1) as f64,
                lines,
                col_line_h,
                Font::new(SMALL_SIZE).anchor(Anchor::Middle),
            );
        }
    }
    for (i, row) in spec.rows.iter().enumerate() {
        let y = top + cell_h * i as f64;
        c.text(
            left - 8.0,
            y + cell_h / 2.0 + 4.0,
            &fit_text(row, LABEL_SIZE, label_w),
            Font::new(LABEL_SIZE).anchor(Anchor::End),
        );
        for (j, col) in spec.columns.iter().enumerate() {
            let v = spec.values[i][j];
            let x = left + cell_w * j as f64;
            let label = match &spec.cell_labels {
                Some(l) => l[i][j].clone(),
                None if v.is_nan() => "·".to_owned(),
                None => spec.format.format(v),
            };
            let (fill, ink) = if v.is_nan() {
                (NO_DATA.to_owned(), MUTED)
            } else {
                let t = match spec.scale {
                    ColourScale::Sequential => (v - d0) / (d1 - d0),
                    ColourScale::Diverging => v / d1,
                };
                scale_colour(spec.scale, t)
            };
            let value_text = if v.is_nan() {
                "no data".to_owned()
            } else {
                spec.format.format(v)
            };
            c.bar(
                x + 1.0,
                y + 1.0,
                cell_w - 2.0,
                cell_h - 2.0,
                &fill,
                &format!("{row} · {col}: {value_text}"),
            );
            if cell_w >= 30.0 {
                c.text(
                    x + cell_w / 2.0,
                    y + cell_h / 2.0 + 4.0,
                    &fit_text(&label, SMALL_SIZE, cell_w - 4.0),
                    Font::new(SMALL_SIZE).fill(ink).anchor(Anchor::Middle),
                );
            }
        }
    }
    // Colour bar.
    let bar_x = left + cell_w * n_cols + 18.0;
    let steps = 24;
    for s in 0..steps {
        let t0 = s as f64 / steps as f64;
        let v = d1 - (d1 - d0) * (t0 + 0.5 / steps as f64);
        let t = match spec.scale {
            ColourScale::Sequential => (v - d0) / (d1 - d0),
            ColourScale::Diverging => v / d1,
        };
        let (fill, _) = scale_colour(spec.scale, t);
        c.rect_plain(
            bar_x,
            top + bar_h * t0,
            12.0,
            bar_h / steps as f64 + 0.5,
            &fill,
            None,
        );
    }
    let font = Font::new(SMALL_SIZE).fill(MUTED);
    let bar_y = Scale::new(d0, d1, top + bar_h, top);
    for (v, t) in &bar_ticks {
        let y = bar_y.px(*v);
        c.line(
            bar_x + 12.0,
            y,
            bar_x + 15.0,
            y,
            Stroke::solid(MUTED, 1.0),
            None,
        );
        c.text(
            bar_x + 17.0,
            (y + 4.0).clamp(top + 9.0, top + bar_h),
            t,
            font,
        );
    }
    if !spec.legend_label.is_empty() {
        c.text_rotated(
            bar_x + 17.0 + tick_w + 8.0 + SMALL_SIZE,
            top + bar_h / 2.0,
            &fit_text(&spec.legend_label, SMALL_SIZE, bar_h),
            font.anchor(Anchor::Middle),
            -90.0,
        );
    }
    Ok(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::svg::{clipped_labels, label_boxes, overlapping_labels};
    use crate::report::testing::segment_names;

    #[test]
    fn heat_map_draws_every_cell() {
        let spec = HeatMap {
            title: "h".into(),
            subtitle: None,
            rows: vec!["r1".into(), "r2".into()],
            columns: vec!["c1".into(), "c2".into(), "c3".into()],
            values: vec![vec![1.0, f64::NAN, -1.0], vec![0.5, 0.0, 2.0]],
            scale: ColourScale::Diverging,
            domain: None,
            cell_labels: None,
            row_label: "rows".into(),
            column_label: "columns".into(),
            legend_label: "z".into(),
            format: ValueFormat::Number,
        };
        assert_eq!(heat_map(&spec).unwrap().marks, 6);
        let mut bad = spec.clone();
        bad.values[1].pop();
        assert!(matches!(
            heat_map(&bad),
            Err(Error::LengthMismatch {
                expected: 3,
                found: 2,
                ..
            })
        ));
        let mut inf = spec;
        inf.values[0][0] = f64::INFINITY;
        assert!(matches!(
            heat_map(&inf),
            Err(Error::NonFinite { row: 0, ref field, .. }) if field == "c1"
        ));
    }

    #[test]
    fn long_column_names_wrap_whole_without_overlapping() {
        let columns = segment_names();
        let spec = HeatMap {
            title: "Segment profiles".into(),
            subtitle: Some("z-scores".into()),
            rows: vec![
                "channel_share:web".into(),
                "touchpoint_share:direct_mail".into(),
            ],
            columns: columns.clone(),
            values: vec![vec![0.7, -0.6, -0.6, -1.7], vec![-0.2, -0.4, 1.1, 3.1]],
            scale: ColourScale::Diverging,
            domain: None,
            cell_labels: None,
            row_label: "feature".into(),
            column_label: "segment".into(),
            legend_label: "z-score (standard deviations)".into(),
            format: ValueFormat::Number,
        };
        let svg = heat_map(&spec).unwrap().svg().to_owned();
        assert!(!svg.contains('…'), "no column name is shortened");
        assert!(
            !svg.contains("rotate(-40"),
            "four named columns fit upright"
        );
        // Every word of every name is on the chart.
        for word in columns.iter().flat_map(|c| c.split(' ')) {
            assert!(svg.contains(word), "{word}");
        }
        assert_eq!(overlapping_labels(&svg), Vec::<(String, String)>::new());
        assert_eq!(clipped_labels(&svg), Vec::<String>::new());
    }

    #[test]
    fn colour_bar_has_end_and_middle_ticks_and_a_fixed_domain() {
        let spec = HeatMap {
            title: "P(alive)".into(),
            subtitle: None,
            rows: vec!["0".into(), "1".into()],
            columns: vec!["0".into(), "30".into()],
            values: vec![vec![1.0, 0.9], vec![f64::NAN, 1e-19]],
            scale: ColourScale::Sequential,
            domain: Some((0.0, 1.0)),
            cell_labels: None,
            row_label: "x".into(),
            column_label: "t_x".into(),
            legend_label: "P(alive)".into(),
            format: ValueFormat::Number,
        };
        let svg = heat_map(&spec).unwrap().svg().to_owned();
        let labels: Vec<String> = label_boxes(&svg).into_iter().map(|b| b.0).collect();
        for tick in ["0", "0.5", "1"] {
            assert!(labels.iter().any(|l| l == tick), "{tick} in {labels:?}");
        }
        // "0" is no cell's value: the bar spans the domain, not the data.
        assert_eq!(overlapping_labels(&svg), Vec::<(String, String)>::new());
        assert_eq!(clipped_labels(&svg), Vec::<String>::new());
    }
}
