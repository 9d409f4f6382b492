//! General charts built from plain data: bars, histograms, heat maps, lines
//! and scatter plots. The module-specific charts are built on these.
//!
//! Every function returns a [`Chart`]. Empty input gives an explicit "no
//! data" chart; inconsistent input (lengths that differ, non-finite values
//! where a number is required) gives [`Error::InvalidInput`] or
//! [`Error::InvalidValue`]. Nothing panics.

use serde::{Deserialize, Serialize};

use super::svg::{
    Anchor, Canvas, Chart, ColourScale, Font, LABEL_SIZE, MUTED, Margins, NO_DATA, SMALL_SIZE,
    Scale, check_finite, fit_text, format_number, format_percent, nice_domain, nice_ticks,
    scale_colour, series_colour, text_width, wrap_text,
};
use crate::error::{Error, Result};

/// How values are written on axes and labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum ValueFormat {
    /// Plain numbers with three significant digits.
    #[default]
    Number,
    /// Shares in [0, 1] written as percentages.
    Percent,
    /// Amounts with a currency prefix such as `"€"`.
    Money(String),
}

impl ValueFormat {
    /// The label for `v`.
    pub fn format(&self, v: f64) -> String {
        match self {
            ValueFormat::Number => format_number(v, 3),
            ValueFormat::Percent => format_percent(v),
            ValueFormat::Money(symbol) => {
                if v < 0.0 {
                    format!("−{symbol}{}", format_number(-v, 3))
                } else {
                    format!("{symbol}{}", format_number(v, 3))
                }
            }
        }
    }

    /// The label for an axis tick `v` (percentages without decimals when whole).
    fn tick(&self, v: f64) -> String {
        match self {
            ValueFormat::Percent => {
                let p = 100.0 * v;
                if (p - p.round()).abs() < 1e-9 {
                    format_number(p.round(), 3) + "%"
                } else {
                    format_number(p, 3) + "%"
                }
            }
            other => other.format(v),
        }
    }
}

/// One named series of values, one per category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// One value per category.
    pub values: Vec<f64>,
}

/// A horizontal bar chart: categories down the side, one bar per series in
/// each category (grouped), the value written at the end of each bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarChart {
    /// Chart title.
    pub title: String,
    /// A line under the title (what is shown, units, source).
    pub subtitle: Option<String>,
    /// Category labels, top to bottom.
    pub categories: Vec<String>,
    /// Series; a legend is drawn when there is more than one.
    pub series: Vec<Series>,
    /// The value axis label, with units.
    pub value_label: String,
    /// How values are written.
    pub format: ValueFormat,
}

/// Chart widths used throughout (fits a laptop screen next to the text).
pub(crate) const WIDTH: f64 = 760.0;

fn no_data(title: &str, reason: &str) -> Chart {
    let mut c = Canvas::new(WIDTH, 220.0, title, None);
    c.no_data(reason);
    c.finish()
}

/// The widest label among `labels` at `size`, capped at `cap`.
fn label_room(labels: &[String], size: f64, cap: f64) -> f64 {
    labels
        .iter()
        .map(|l| text_width(l, size))
        .fold(0.0, f64::max)
        .min(cap)
}

/// Draws a horizontal bar chart.
///
/// # Errors
/// [`Error::InvalidInput`] when a series does not have one value per
/// category; [`Error::InvalidValue`] for a non-finite value.
pub fn bar_chart(spec: &BarChart) -> Result<Chart> {
    if spec.categories.is_empty() || spec.series.is_empty() {
        return Ok(no_data(&spec.title, "there are no categories to show"));
    }
    for s in &spec.series {
        if s.values.len() != spec.categories.len() {
            return Err(Error::InvalidInput(format!(
                "bar chart `{}`: series `{}` has {} values for {} categories",
                spec.title,
                s.name,
                s.values.len(),
                spec.categories.len()
            )));
        }
        check_finite("bar value", s.values.iter().copied())?;
    }
    let n_series = spec.series.len();
    let bar_h = if n_series == 1 { 20.0 } else { 13.0 };
    let group_h = bar_h * n_series as f64 + 10.0;
    let header = Canvas::header_height(spec.subtitle.is_some());
    let legend_h = if n_series > 1 { 22.0 } else { 0.0 };
    let label_w = label_room(&spec.categories, LABEL_SIZE, 220.0);
    let m = Margins {
        top: header + legend_h + 8.0,
        right: 70.0,
        bottom: 48.0,
        left: 16.0 + label_w + 8.0,
    };
    let plot_h = group_h * spec.categories.len() as f64;
    let height = m.top + plot_h + m.bottom;
    let mut c = Canvas::new(WIDTH, height, &spec.title, spec.subtitle.as_deref());
    if n_series > 1 {
        let items: Vec<(String, String)> = spec
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), series_colour(i).to_owned()))
            .collect();
        c.legend(m.left, header + 10.0, WIDTH - 12.0, &items);
    }
    let all = spec.series.iter().flat_map(|s| s.values.iter().copied());
    let lo = all.clone().fold(0.0, f64::min);
    let hi = all.fold(0.0, f64::max);
    let (d0, d1) = if lo == 0.0 && hi == 0.0 {
        (0.0, 1.0)
    } else {
        nice_domain(lo, hi, 5)
    };
    let x = Scale::new(d0, d1, m.left, WIDTH - m.right);
    let ticks = nice_ticks(d0, d1, 5);
    let bottom = m.top + plot_h;
    let fmt = |v: f64| spec.format.tick(v);
    c.x_axis(x, &ticks, bottom, m.top, &spec.value_label, &fmt);
    let zero = x.px(0.0);
    for (ci, cat) in spec.categories.iter().enumerate() {
        let top = m.top + ci as f64 * group_h + 5.0;
        // Long names take two lines rather than losing their ends.
        let lines = wrap_text(cat, LABEL_SIZE, label_w, 2);
        let line_h = 14.0;
        c.text_lines(
            m.left - 8.0,
            top + (group_h - 10.0) / 2.0 + 4.0 - line_h * (lines.len() - 1) as f64 / 2.0,
            &lines,
            line_h,
            Font::new(LABEL_SIZE).anchor(Anchor::End),
        );
        for (si, s) in spec.series.iter().enumerate() {
            let v = s.values[ci];
            let y = top + si as f64 * bar_h;
            let end = x.px(v);
            let (left, w) = if end >= zero {
                (zero, end - zero)
            } else {
                (end, zero - end)
            };
            let label = spec.format.format(v);
            let tip = if n_series > 1 {
                format!("{cat} · {}: {label}", s.name)
            } else {
                format!("{cat}: {label}")
            };
            c.bar(left, y, w, bar_h - 2.0, series_colour(si), &tip);
            let font = Font::new(SMALL_SIZE).fill(MUTED);
            if v >= 0.0 {
                c.text(end + 4.0, y + bar_h / 2.0 + 3.0, &label, font);
            } else {
                c.text(
                    end - 4.0,
                    y + bar_h / 2.0 + 3.0,
                    &label,
                    font.anchor(Anchor::End),
                );
            }
        }
    }
    c.line(zero, m.top, zero, bottom, MUTED, 1.0, false, None);
    Ok(c.finish())
}

/// A histogram: counts in adjacent bins along a value axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Chart title.
    pub title: String,
    /// A line under the title.
    pub subtitle: Option<String>,
    /// Bin edges, increasing; `counts.len() + 1` of them.
    pub edges: Vec<f64>,
    /// Count (or weight) in each bin.
    pub counts: Vec<f64>,
    /// The value axis label, with units.
    pub x_label: String,
    /// The count axis label.
    pub y_label: String,
    /// How the bin edges are written.
    pub format: ValueFormat,
}

impl Histogram {
    /// Bins `values` into `bins` equal-width bins between their minimum and
    /// the `upper_quantile` (e.g. 0.99, so that a long tail does not squash
    /// the picture; values above fall into the last bin, which the subtitle
    /// should say). Non-finite values are skipped.
    pub fn from_values(
        title: &str,
        values: &[f64],
        bins: usize,
        upper_quantile: f64,
        x_label: &str,
        format: ValueFormat,
    ) -> Histogram {
        let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        finite.sort_by(f64::total_cmp);
        let bins = bins.clamp(1, 200);
        let mut h = Histogram {
            title: title.to_owned(),
            subtitle: None,
            edges: Vec::new(),
            counts: Vec::new(),
            x_label: x_label.to_owned(),
            y_label: "customers".to_owned(),
            format,
        };
        let (Some(&min), Some(&max)) = (finite.first(), finite.last()) else {
            return h;
        };
        let q = upper_quantile.clamp(0.0, 1.0);
        let idx = ((finite.len() - 1) as f64 * q).round() as usize;
        let upper = finite[idx.min(finite.len() - 1)];
        // Non-negative values that start near zero are binned from zero, so
        // that the axis starts at a labelled 0 rather than at an odd minimum.
        let lo = if min > 0.0 && min <= 0.05 * upper {
            0.0
        } else {
            min
        };
        let hi = upper.max(lo);
        let hi = if hi == lo { lo + 1.0 } else { hi };
        let width = (hi - lo) / bins as f64;
        h.edges = (0..=bins).map(|i| lo + width * i as f64).collect();
        h.counts = vec![0.0; bins];
        for v in finite {
            let b = (((v - lo) / width).floor() as usize).min(bins - 1);
            h.counts[b] += 1.0;
        }
        if max > hi {
            h.subtitle = Some(format!(
                "the last bar also holds values above {} (up to {})",
                h.format.format(hi),
                h.format.format(max)
            ));
        }
        h
    }
}

/// Draws a histogram.
///
/// # Errors
/// [`Error::InvalidInput`] when the edges are not one more than the counts
/// or do not increase; [`Error::InvalidValue`] for a non-finite or negative count.
pub fn histogram(spec: &Histogram) -> Result<Chart> {
    if spec.counts.is_empty() {
        return Ok(no_data(&spec.title, "there are no values to bin"));
    }
    if spec.edges.len() != spec.counts.len() + 1 {
        return Err(Error::InvalidInput(format!(
            "histogram `{}`: {} edges for {} bins",
            spec.title,
            spec.edges.len(),
            spec.counts.len()
        )));
    }
    check_finite("bin edge", spec.edges.iter().copied())?;
    check_finite("bin count", spec.counts.iter().copied())?;
    if spec.edges.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::InvalidInput(format!(
            "histogram `{}`: bin edges must increase",
            spec.title
        )));
    }
    if let Some(c) = spec.counts.iter().find(|&&c| c < 0.0) {
        return Err(Error::value(
            "bin count",
            c.to_string(),
            "must not be negative",
        ));
    }
    let header = Canvas::header_height(spec.subtitle.is_some());
    let m = Margins {
        top: header + 14.0,
        right: 24.0,
        bottom: 52.0,
        left: 76.0,
    };
    let height = 340.0;
    let mut c = Canvas::new(WIDTH, height, &spec.title, spec.subtitle.as_deref());
    let lo = spec.edges[0];
    let hi = spec.edges[spec.edges.len() - 1];
    let x = Scale::new(lo, hi, m.left, WIDTH - m.right);
    let max = spec.counts.iter().copied().fold(0.0, f64::max);
    let (_, top) = nice_domain(0.0, if max > 0.0 { max } else { 1.0 }, 5);
    let y = Scale::new(0.0, top, height - m.bottom, m.top);
    let count_fmt = |v: f64| format_number(v, 3);
    c.y_axis(
        y,
        &nice_ticks(0.0, top, 5),
        m.left,
        WIDTH - m.right,
        &spec.y_label,
        &count_fmt,
    );
    let edge_fmt = |v: f64| spec.format.tick(v);
    let x_ticks = nice_ticks(lo, hi, 6);
    c.x_axis(
        x,
        &x_ticks,
        height - m.bottom,
        height - m.bottom,
        &spec.x_label,
        &edge_fmt,
    );
    for (i, &count) in spec.counts.iter().enumerate() {
        let x0 = x.px(spec.edges[i]);
        let x1 = x.px(spec.edges[i + 1]);
        let y0 = y.px(count);
        let tip = format!(
            "{} – {}: {}",
            spec.format.format(spec.edges[i]),
            spec.format.format(spec.edges[i + 1]),
            format_number(count, 4)
        );
        c.bar(
            x0 + 0.5,
            y0,
            (x1 - x0 - 1.0).max(0.5),
            height - m.bottom - y0,
            series_colour(0),
            &tip,
        );
    }
    Ok(c.finish())
}

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

/// Draws a heat map. Each cell is one mark.
///
/// # Errors
/// [`Error::InvalidInput`] when the grid does not match the labels;
/// [`Error::InvalidValue`] for an infinite value.
pub fn heat_map(spec: &HeatMap) -> Result<Chart> {
    if spec.rows.is_empty() || spec.columns.is_empty() {
        return Ok(no_data(&spec.title, "the grid has no rows or no columns"));
    }
    let shape_ok = spec.values.len() == spec.rows.len()
        && spec.values.iter().all(|r| r.len() == spec.columns.len());
    let labels_ok = spec.cell_labels.as_ref().is_none_or(|l| {
        l.len() == spec.rows.len() && l.iter().all(|r| r.len() == spec.columns.len())
    });
    if !shape_ok || !labels_ok {
        return Err(Error::InvalidInput(format!(
            "heat map `{}`: the values (and cell labels) must be {} rows × {} columns",
            spec.title,
            spec.rows.len(),
            spec.columns.len()
        )));
    }
    if let Some(v) = spec.values.iter().flatten().find(|v| v.is_infinite()) {
        return Err(Error::value("heat map value", v.to_string(), "is infinite"));
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
        c.line(bar_x + 12.0, y, bar_x + 15.0, y, MUTED, 1.0, false, None);
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
/// [`Error::InvalidInput`] when x, y and band lengths differ or `log_y` meets a
/// value ≤ 0; [`Error::InvalidValue`] for a non-finite x.
pub fn line_chart(spec: &LineChart) -> Result<Chart> {
    let has_points = spec
        .series
        .iter()
        .any(|s| s.y.iter().any(|v| v.is_finite()));
    if !has_points {
        return Ok(no_data(&spec.title, "no series has a finite point"));
    }
    for s in &spec.series {
        let band_ok = s
            .band
            .as_ref()
            .is_none_or(|(lo, hi)| lo.len() == s.x.len() && hi.len() == s.x.len());
        if s.x.len() != s.y.len() || !band_ok {
            return Err(Error::InvalidInput(format!(
                "line chart `{}`: series `{}` has x, y and band of different lengths",
                spec.title, s.name
            )));
        }
        check_finite("x value", s.x.iter().copied())?;
        if spec.log_y {
            let bad = s.y.iter().any(|&v| v.is_finite() && v <= 0.0);
            if bad {
                return Err(Error::InvalidInput(format!(
                    "line chart `{}`: a log axis needs positive values",
                    spec.title
                )));
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
            c.line(m.left, ry, WIDTH - m.right, ry, MUTED, 1.0, true, None);
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
/// [`Error::InvalidInput`] when the columns differ in length or a group is out
/// of range; [`Error::InvalidValue`] for a non-finite coordinate.
pub fn scatter(spec: &Scatter) -> Result<Chart> {
    if spec.x.is_empty() {
        return Ok(no_data(&spec.title, "there are no points"));
    }
    if spec.y.len() != spec.x.len() || spec.group.len() != spec.x.len() {
        return Err(Error::InvalidInput(format!(
            "scatter `{}`: x, y and group have {}, {} and {} entries",
            spec.title,
            spec.x.len(),
            spec.y.len(),
            spec.group.len()
        )));
    }
    if let Some(&g) = spec.group.iter().find(|&&g| g >= spec.group_names.len()) {
        return Err(Error::InvalidInput(format!(
            "scatter `{}`: group {g} has no name ({} names)",
            spec.title,
            spec.group_names.len()
        )));
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
    use crate::report::svg::{clipped_labels, label_boxes, overlapping_labels};

    fn bars(values: Vec<f64>) -> BarChart {
        BarChart {
            title: "t".into(),
            subtitle: None,
            categories: vec!["a".into(), "b".into(), "c".into()],
            series: vec![Series {
                name: "s".into(),
                values,
            }],
            value_label: "customers".into(),
            format: ValueFormat::Number,
        }
    }

    #[test]
    fn one_bar_per_category_and_series() {
        let chart = bar_chart(&bars(vec![1.0, -2.0, 3.0])).unwrap();
        assert_eq!(chart.marks, 3);
        let mut spec = bars(vec![1.0, 2.0, 3.0]);
        spec.series.push(Series {
            name: "t".into(),
            values: vec![0.0; 3],
        });
        assert_eq!(bar_chart(&spec).unwrap().marks, 6);
    }

    #[test]
    fn bad_bars_are_errors_and_empty_is_no_data() {
        assert!(bar_chart(&bars(vec![1.0])).is_err());
        assert!(bar_chart(&bars(vec![1.0, f64::NAN, 2.0])).is_err());
        let mut spec = bars(vec![]);
        spec.categories.clear();
        let chart = bar_chart(&spec).unwrap();
        assert_eq!(chart.marks, 0);
        assert!(chart.svg().contains("No data"));
    }

    #[test]
    fn histogram_counts_every_finite_value() {
        let values: Vec<f64> = (0..100).map(f64::from).chain([f64::NAN, 1e9]).collect();
        let h = Histogram::from_values("h", &values, 10, 0.95, "€", ValueFormat::Number);
        assert_eq!(h.counts.iter().sum::<f64>(), 101.0);
        assert!(h.subtitle.is_some());
        assert_eq!(histogram(&h).unwrap().marks, 10);
        let empty = Histogram::from_values("h", &[], 10, 1.0, "€", ValueFormat::Number);
        assert_eq!(histogram(&empty).unwrap().marks, 0);
    }

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
        assert!(heat_map(&bad).is_err());
        let mut inf = spec;
        inf.values[0][0] = f64::INFINITY;
        assert!(heat_map(&inf).is_err());
    }

    fn segment_names() -> Vec<String> {
        [
            "0 high search_ads, high web, web-first",
            "1 high app, high social, app-first",
            "2 high direct_mail, high email, store-first",
            "3 lapsing, store-first",
        ]
        .map(String::from)
        .to_vec()
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

    #[test]
    fn long_category_names_take_two_lines_not_an_ellipsis() {
        let spec = BarChart {
            title: "Segment size and value".into(),
            subtitle: None,
            categories: segment_names(),
            series: vec![
                Series {
                    name: "share of customers".into(),
                    values: vec![0.5, 0.247, 0.194, 0.059],
                },
                Series {
                    name: "share of value".into(),
                    values: vec![0.495, 0.258, 0.228, 0.019],
                },
            ],
            value_label: "share (%)".into(),
            format: ValueFormat::Percent,
        };
        let svg = bar_chart(&spec).unwrap().svg().to_owned();
        assert!(!svg.contains('…'));
        assert_eq!(overlapping_labels(&svg), Vec::<(String, String)>::new());
        assert_eq!(clipped_labels(&svg), Vec::<String>::new());
        // One series: 30 px rows still hold two lines.
        let mut one = spec;
        one.series.truncate(1);
        let svg = bar_chart(&one).unwrap().svg().to_owned();
        assert_eq!(overlapping_labels(&svg), Vec::<(String, String)>::new());
    }

    #[test]
    fn histogram_of_non_negative_values_starts_at_a_labelled_zero() {
        let values: Vec<f64> = (1..=500).map(|i| f64::from(i) * 0.37).collect();
        let h = Histogram::from_values("clv", &values, 20, 1.0, "€", ValueFormat::Number);
        assert_eq!(h.edges[0], 0.0);
        let svg = histogram(&h).unwrap().svg().to_owned();
        assert!(label_boxes(&svg).iter().any(|b| b.0 == "0" && b.2 > 200.0));
        assert_eq!(overlapping_labels(&svg), Vec::<(String, String)>::new());
    }

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
        assert!(line_chart(&log).is_err());
    }

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
        assert!(scatter(&bad).is_err());
    }
}
