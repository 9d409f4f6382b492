//! Charts of who to target: how well a propensity model ranks and whether its
//! probabilities can be taken at their word, and how well an uplift model
//! finds the customers an action changes, each beside a reference (an
//! oracle, another model) and the random order.
//!
//! - [`cumulative_gain`]: the share of all buyers found in the top x % of the
//!   scores (the gain chart of direct marketing: a steep rise means the
//!   first contacts find most of the buyers; the diagonal is random).
//! - [`calibration`]: the observed rate against the mean prediction per
//!   probability bin (the reliability diagram; Niculescu-Mizil & Caruana
//!   2005, "Predicting good probabilities with supervised learning", ICML):
//!   on the diagonal, a predicted 20 % means one in five.
//! - [`qini`]: incremental conversions gained by treating the top x % by
//!   predicted uplift (Radcliffe 2007, "Using control groups to target on
//!   predicted lift", *DMA Analytics Council*): the straight line is random
//!   targeting, the area between is the Qini coefficient's numerator.

use super::charts::{LineChart, LineSeries, ValueFormat, line_chart};
use super::svg::Chart;
use crate::error::Result;
use crate::target::metrics::{GainRow, ReliabilityBin};
use crate::target::uplift::metrics::UpliftCurve;

/// Points a curve is thinned to: enough to look smooth, few enough to stay small.
const MAX_POINTS: usize = 200;

/// The cumulative gain of each named gain table (from
/// [`gain_table`](crate::target::metrics::gain_table)), with the random
/// order's diagonal.
///
/// # Errors
/// The line chart's errors (none for tables from `gain_table`).
pub fn cumulative_gain(tables: &[(&str, &[GainRow])]) -> Result<Chart> {
    let mut series: Vec<LineSeries> = tables
        .iter()
        .map(|(name, rows)| {
            let total: usize = rows.iter().map(|r| r.rows).sum();
            let mut x = vec![0.0];
            let mut y = vec![0.0];
            let mut seen = 0;
            for r in rows.iter() {
                seen += r.rows;
                x.push(seen as f64 / total.max(1) as f64);
                y.push(r.cumulative_gain);
            }
            LineSeries {
                name: (*name).to_owned(),
                x,
                y,
                band: None,
                markers: true,
            }
        })
        .collect();
    series.push(diagonal("random order"));
    line_chart(&LineChart {
        title: "Cumulative gain: buyers found by contacting the top scores first".into(),
        subtitle: Some(
            "share of all later buyers among the customers contacted, highest scores first".into(),
        ),
        series,
        x_label: "share of customers contacted".into(),
        y_label: "share of buyers found".into(),
        y_format: ValueFormat::Percent,
        reference: None,
        y_range: Some((0.0, 1.0)),
        log_y: false,
    })
}

/// The reliability diagram of each named table (from
/// [`reliability`](crate::target::metrics::reliability); empty bins are
/// left out), with the diagonal of perfect calibration.
///
/// # Errors
/// The line chart's errors.
pub fn calibration(tables: &[(&str, &[ReliabilityBin])]) -> Result<Chart> {
    let mut series: Vec<LineSeries> = tables
        .iter()
        .map(|(name, bins)| {
            let mut points: Vec<(f64, f64)> = bins
                .iter()
                .filter(|b| b.rows > 0 && b.mean_predicted.is_finite())
                .map(|b| (b.mean_predicted, b.observed_rate))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            LineSeries {
                name: (*name).to_owned(),
                x: points.iter().map(|p| p.0).collect(),
                y: points.iter().map(|p| p.1).collect(),
                band: None,
                markers: true,
            }
        })
        .collect();
    series.push(diagonal("perfectly calibrated"));
    line_chart(&LineChart {
        title: "Calibration: does a predicted probability come true?".into(),
        subtitle: Some(
            "share who bought against the mean prediction, per tenth of the probability range"
                .into(),
        ),
        series,
        x_label: "predicted probability".into(),
        y_label: "share who bought".into(),
        y_format: ValueFormat::Percent,
        reference: None,
        y_range: Some((0.0, 1.0)),
        log_y: false,
    })
}

/// The Qini curve of each named curve (from
/// [`qini_curve`](crate::target::uplift::metrics::qini_curve)), its x as a
/// share of the units, with the random order's straight line (drawn to the
/// first curve's end).
///
/// # Errors
/// The line chart's errors.
pub fn qini(curves: &[(&str, &UpliftCurve)]) -> Result<Chart> {
    let mut series: Vec<LineSeries> = curves
        .iter()
        .map(|(name, curve)| {
            let total = curve.targeted.last().copied().unwrap_or(0.0).max(1.0);
            let step = curve.targeted.len().div_ceil(MAX_POINTS).max(1);
            let mut keep: Vec<usize> = (0..curve.targeted.len()).step_by(step).collect();
            if let Some(last) = curve.targeted.len().checked_sub(1) {
                if keep.last() != Some(&last) {
                    keep.push(last);
                }
            }
            LineSeries {
                name: (*name).to_owned(),
                x: keep.iter().map(|&i| curve.targeted[i] / total).collect(),
                y: keep.iter().map(|&i| curve.value[i]).collect(),
                band: None,
                markers: false,
            }
        })
        .collect();
    if let Some((_, first)) = curves.first() {
        let end = first.value.last().copied().unwrap_or(0.0);
        series.push(LineSeries {
            name: "random order".into(),
            x: vec![0.0, 1.0],
            y: vec![0.0, end],
            band: None,
            markers: false,
        });
    }
    line_chart(&LineChart {
        title: "Qini curve: extra conversions from treating the highest predicted uplift first"
            .into(),
        subtitle: Some(
            "incremental conversions among the units treated, against a random order".into(),
        ),
        series,
        x_label: "share of units treated".into(),
        y_label: "incremental conversions".into(),
        y_format: ValueFormat::Number,
        reference: None,
        y_range: None,
        log_y: false,
    })
}

fn diagonal(name: &str) -> LineSeries {
    LineSeries {
        name: name.to_owned(),
        x: vec![0.0, 1.0],
        y: vec![0.0, 1.0],
        band: None,
        markers: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{is_no_data, marks};
    use crate::target::metrics::{gain_table, reliability};
    use crate::target::uplift::metrics::qini_curve;

    #[test]
    fn each_chart_draws_its_series_and_the_reference() {
        let scores: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let labels: Vec<bool> = (0..100).map(|i| i % 3 == 0 || i > 80).collect();
        let gains = gain_table(&scores, &labels, 10).unwrap();
        let chart = cumulative_gain(&[("model", &gains)]).unwrap();
        assert!(!is_no_data(&chart));
        // 11 markers and a line for the model, a line for the diagonal.
        assert_eq!(marks(&chart), 13, "{}", chart.svg());
        let bins = reliability(&scores, &labels, 10).unwrap();
        let chart = calibration(&[("model", &bins), ("other", &bins)]).unwrap();
        assert_eq!(marks(&chart), 2 * 11 + 1);
        let treated: Vec<bool> = (0..100).map(|i| i % 2 == 0).collect();
        let outcome: Vec<f64> = labels.iter().map(|&l| f64::from(u8::from(l))).collect();
        let curve = qini_curve(&outcome, &scores, &treated).unwrap();
        let chart = qini(&[("model", &curve)]).unwrap();
        assert_eq!(marks(&chart), 2);
        assert!(chart.svg().contains("random order"));
    }
}
