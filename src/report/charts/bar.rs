//! The horizontal bar chart: categories down the side, grouped bars per series.

use serde::{Deserialize, Serialize};

use super::{ValueFormat, WIDTH, label_room, no_data};
use crate::error::{Error, Result};
use crate::report::svg::{
    Anchor, Canvas, Chart, Font, LABEL_SIZE, MUTED, Margins, SMALL_SIZE, Scale, Stroke,
    check_finite, nice_domain, nice_ticks, series_colour, wrap_text,
};

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

/// Draws a horizontal bar chart.
///
/// # Errors
/// [`Error::LengthMismatch`] when a series does not have one value per
/// category; [`Error::NonFinite`] for a non-finite value.
pub fn bar_chart(spec: &BarChart) -> Result<Chart> {
    if spec.categories.is_empty() || spec.series.is_empty() {
        return Ok(no_data(&spec.title, "there are no categories to show"));
    }
    for s in &spec.series {
        if s.values.len() != spec.categories.len() {
            return Err(Error::lengths(
                format!(
                    "bar chart `{}`: values of series `{}` per category",
                    spec.title, s.name
                ),
                spec.categories.len(),
                s.values.len(),
            ));
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
    c.line(zero, m.top, zero, bottom, Stroke::solid(MUTED, 1.0), None);
    Ok(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::svg::{clipped_labels, overlapping_labels};
    use crate::report::testing::segment_names;

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
        assert!(matches!(
            bar_chart(&bars(vec![1.0])),
            Err(Error::LengthMismatch {
                expected: 3,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            bar_chart(&bars(vec![1.0, f64::NAN, 2.0])),
            Err(Error::NonFinite { row: 1, .. })
        ));
        let mut spec = bars(vec![]);
        spec.categories.clear();
        let chart = bar_chart(&spec).unwrap();
        assert_eq!(chart.marks, 0);
        assert!(chart.svg().contains("No data"));
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
}
