//! The histogram: counts in adjacent bins along a value axis.

use serde::{Deserialize, Serialize};

use super::{ValueFormat, WIDTH, no_data};
use crate::error::{Error, Result};
use crate::report::svg::{
    Canvas, Chart, Margins, Scale, check_finite, format_number, nice_domain, nice_ticks,
    series_colour,
};

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
/// [`Error::LengthMismatch`] when the edges are not one more than the counts;
/// [`Error::InvalidValue`] when the edges do not increase or a count is
/// negative; [`Error::NonFinite`] for a non-finite edge or count.
pub fn histogram(spec: &Histogram) -> Result<Chart> {
    if spec.counts.is_empty() {
        return Ok(no_data(&spec.title, "there are no values to bin"));
    }
    if spec.edges.len() != spec.counts.len() + 1 {
        return Err(Error::lengths(
            format!(
                "histogram `{}`: bin edges (one more than the bins)",
                spec.title
            ),
            spec.counts.len() + 1,
            spec.edges.len(),
        ));
    }
    check_finite("bin edge", spec.edges.iter().copied())?;
    check_finite("bin count", spec.counts.iter().copied())?;
    if let Some(w) = spec.edges.windows(2).find(|w| w[1] <= w[0]) {
        return Err(Error::value(
            "bin edge",
            w[1].to_string(),
            format!("bin edges must increase; it follows {}", w[0]),
        ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::svg::{label_boxes, overlapping_labels};

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
    fn histogram_of_non_negative_values_starts_at_a_labelled_zero() {
        let values: Vec<f64> = (1..=500).map(|i| f64::from(i) * 0.37).collect();
        let h = Histogram::from_values("clv", &values, 20, 1.0, "€", ValueFormat::Number);
        assert_eq!(h.edges[0], 0.0);
        let svg = histogram(&h).unwrap().svg().to_owned();
        assert!(label_boxes(&svg).iter().any(|b| b.0 == "0" && b.2 > 200.0));
        assert_eq!(overlapping_labels(&svg), Vec::<(String, String)>::new());
    }
}
