//! Lifecycle charts: where customers stand, who is still alive, whether the
//! model predicts the holdout, and what customers are worth.
//!
//! - [`stage_distribution`]: customers per lifecycle stage
//!   ([`Stage::ALL`] order, top to bottom) as bars with the count on each bar
//!   and the share of all customers next to the stage name. Read it as the
//!   shape of the base: many `declining`/`churned` customers call for
//!   re-activation and win-back, many `new` ones for onboarding.
//! - [`p_alive_matrix`]: the probability that a customer is still alive for
//!   every combination of repeat purchases `x` (rows, highest at the top) and
//!   recency `t_x` (columns) at a fixed customer age `T`, as lifetimes'
//!   `plot_probability_alive_matrix` (Davidson-Pilon et al.). Customers who
//!   bought often but not lately (top left) are the ones the model believes
//!   have left; a one-time buyer (bottom row) is always "alive" under
//!   BG/NBD. Cells with `t_x = 0` and `x > 0` cannot occur (a repeat purchase
//!   needs time after the first) and are drawn as no data.
//! - [`holdout_purchases`]: customers grouped by their repeat purchases in the
//!   calibration period, their mean purchases in the holdout against the
//!   model's conditional expectation, as lifetimes'
//!   `plot_calibration_purchases_vs_holdout_purchases`. The two lines should
//!   lie on top of each other; a model line above the actual one over-predicts.
//! - [`clv_distribution`]: a histogram of customer lifetime values, clipped at
//!   the 99th percentile so that a few very valuable customers do not squash
//!   the picture (the subtitle says where the tail went).
//!
//! The model charts accept any fitted model implementing
//! [`BtydModel`]:
//! BG/NBD, MBG/NBD and Pareto/NBD.
//!
//! ```
//! use custinsight::lifecycle::bgnbd::BgNbdParams;
//! use custinsight::lifecycle::summary::{Period, Triples};
//! use custinsight::report::lifecycle::p_alive_matrix;
//!
//! let mut data = Triples::default();
//! for (x, t_x, t, n) in [(0.0, 0.0, 38.0, 40.0), (2.0, 30.4, 38.9, 12.0), (7.0, 29.4, 35.1, 5.0),
//!                        (1.0, 5.0, 20.0, 20.0), (4.0, 18.0, 30.0, 8.0), (0.0, 0.0, 10.0, 15.0)] {
//!     data.add(x, t_x, t, n);
//! }
//! let model = BgNbdParams::default().fit(&data)?;
//! let chart = p_alive_matrix(&model, 39.0, 10, Period::Week)?;
//! assert_eq!(chart.marks, 11 * 25); // 11 frequencies × 25 recency columns
//! # Ok::<(), custinsight::Error>(())
//! ```

use super::charts::{
    BarChart, HeatMap, Histogram, LineChart, LineSeries, Series, ValueFormat, WIDTH, bar_chart,
    heat_map, histogram, line_chart,
};
use super::svg::{Canvas, Chart, ColourScale, format_number, format_percent};
use crate::error::{Error, Result};
use crate::lifecycle::btyd::BtydModel;
use crate::lifecycle::diagnostics::holdout_fit;
use crate::lifecycle::stage::{Stage, distribution};
use crate::lifecycle::summary::{CalibrationHoldout, Period};

/// The most recency columns of [`p_alive_matrix`]: with more periods the
/// columns sample `t_x` evenly, so that the chart stays about 760 px wide.
pub const P_ALIVE_MAX_COLUMNS: usize = 25;

/// The most frequency rows [`p_alive_matrix`] draws.
pub const P_ALIVE_MAX_FREQUENCY: u32 = 100;

/// The plural unit name of a period ("days", "weeks").
fn unit(period: Period) -> &'static str {
    match period {
        Period::Day => "days",
        Period::Week => "weeks",
    }
}

fn no_data(title: &str, reason: &str) -> Chart {
    let mut c = Canvas::new(WIDTH, 220.0, title, None);
    c.no_data(reason);
    c.finish()
}

/// Customers per lifecycle stage as horizontal bars, in [`Stage::ALL`] order,
/// with the count on each bar and the share next to the stage name.
///
/// Six marks (one bar per stage), or a "no data" chart for no customers.
///
/// # Errors
/// None in practice; the signature leaves room for the bar chart's checks.
pub fn stage_distribution(stages: &[Stage]) -> Result<Chart> {
    let title = "Customers by lifecycle stage";
    if stages.is_empty() {
        return Ok(no_data(title, "there are no customers"));
    }
    let counts = distribution(stages);
    let total = stages.len() as f64;
    let categories = Stage::ALL
        .iter()
        .zip(counts)
        .map(|(s, c)| format!("{} ({})", s.as_str(), format_percent(c as f64 / total)))
        .collect();
    bar_chart(&BarChart {
        title: title.to_owned(),
        subtitle: Some(format!(
            "{} customers; share of all customers in brackets",
            format_number(total, 4)
        )),
        categories,
        series: vec![Series {
            name: "customers".to_owned(),
            values: counts.iter().map(|&c| c as f64).collect(),
        }],
        value_label: "customers".to_owned(),
        format: ValueFormat::Number,
    })
}

/// The recency values of the columns: every period `0..=T` when there are
/// few, otherwise `max_columns` values spread evenly from 0 to `T` (whole
/// periods, increasing, the first 0 and the last `T`).
fn recency_columns(t_cal: f64, max_columns: usize) -> Vec<f64> {
    let whole = t_cal.floor();
    let periods = whole as usize + 1;
    if periods <= max_columns {
        return (0..periods).map(|t| t as f64).collect();
    }
    let steps = (max_columns.max(2) - 1) as f64;
    let mut cols: Vec<f64> = (0..max_columns.max(2))
        .map(|j| (whole * j as f64 / steps).round())
        .collect();
    cols.dedup();
    cols
}

/// P(alive) for every repeat-purchase count `x = 0..=max_frequency` (rows,
/// highest at the top) and recency `t_x` from 0 to the customer age `t_cal`
/// (columns), as lifetimes' `plot_probability_alive_matrix`.
///
/// With more than [`P_ALIVE_MAX_COLUMNS`] periods the columns sample `t_x`
/// evenly from 0 to `T` (each column is the value at its label, not an
/// average). Cells with `t_x = 0` and `x > 0` are impossible and drawn as no
/// data. The axis labels state the summary's `period`.
///
/// One mark per cell: `(max_frequency + 1) × columns`.
///
/// # Errors
/// [`Error::InvalidParameter`] for a negative or non-finite `t_cal`, or
/// `max_frequency` above [`P_ALIVE_MAX_FREQUENCY`].
pub fn p_alive_matrix<M: BtydModel>(
    model: &M,
    t_cal: f64,
    max_frequency: u32,
    period: Period,
) -> Result<Chart> {
    if !(t_cal.is_finite() && t_cal >= 0.0) {
        return Err(Error::param(
            "t_cal",
            t_cal,
            "the customer age must be a finite number of periods >= 0",
        ));
    }
    if max_frequency > P_ALIVE_MAX_FREQUENCY {
        return Err(Error::param(
            "max_frequency",
            max_frequency,
            format!("at most {P_ALIVE_MAX_FREQUENCY} rows are drawn"),
        ));
    }
    let unit = unit(period);
    let columns = recency_columns(t_cal, P_ALIVE_MAX_COLUMNS);
    let xs: Vec<u32> = (0..=max_frequency).rev().collect();
    let values: Vec<Vec<f64>> = xs
        .iter()
        .map(|&x| {
            let x = f64::from(x);
            columns
                .iter()
                .map(|&t_x| {
                    if t_x == 0.0 && x > 0.0 {
                        return f64::NAN;
                    }
                    let p = model.p_alive(x, t_x, t_cal);
                    if p.is_finite() { p } else { f64::NAN }
                })
                .collect()
        })
        .collect();
    let sampled = columns.len() < t_cal.floor() as usize + 1;
    let mut subtitle = format!(
        "{} at customer age T = {} {unit} · grey: impossible (t_x = 0 with repeat purchases)",
        model.model_name(),
        format_number(t_cal, 4)
    );
    if sampled {
        subtitle.push_str(&format!(
            " · {} of {} recency values",
            columns.len(),
            t_cal.floor() as usize + 1
        ));
    }
    heat_map(&HeatMap {
        title: "Probability a customer is alive, by frequency and recency".to_owned(),
        subtitle: Some(subtitle),
        rows: xs.iter().map(u32::to_string).collect(),
        columns: columns.iter().map(|&t| format_number(t, 6)).collect(),
        values,
        scale: ColourScale::Sequential,
        domain: Some((0.0, 1.0)),
        cell_labels: None,
        row_label: "repeat purchases x".to_owned(),
        column_label: format!(
            "recency t_x: {unit} from first to last purchase (age T = {} {unit})",
            format_number(t_cal, 4)
        ),
        legend_label: "P(alive)".to_owned(),
        format: ValueFormat::Number,
    })
}

/// The default `max_frequency` of [`holdout_purchases`] (as lifetimes' `n = 7`).
pub const HOLDOUT_MAX_FREQUENCY: u32 = 7;

/// Mean holdout purchases against the model's expectation, by calibration
/// repeat purchases `0..=max_frequency`, as lifetimes'
/// `plot_calibration_purchases_vs_holdout_purchases` (use
/// [`HOLDOUT_MAX_FREQUENCY`] for lifetimes' default).
///
/// Unlike lifetimes, which leaves out customers above the cut-off, the last
/// group collects `max_frequency` *and more* (the subtitle says so), so every
/// customer is counted. Groups without customers are left out of both lines.
///
/// Marks: one line per unbroken run of each series plus one marker per
/// group with customers and each series; with every group populated,
/// `2 + 2 × (max_frequency + 1)`.
///
/// # Errors
/// [`Error::LengthMismatch`] when the holdout frequencies (or the calibration
/// columns) do not match the calibration customers; [`Error::NonFinite`] for
/// a non-finite holdout frequency, [`Error::InvalidValue`] for a bad duration.
pub fn holdout_purchases<M: BtydModel>(
    model: &M,
    data: &CalibrationHoldout,
    max_frequency: u32,
) -> Result<Chart> {
    let title = "Holdout purchases: actual against model";
    let cal = &data.calibration;
    let n = cal.len();
    for (column, len) in [
        ("holdout frequencies", data.frequency_holdout.len()),
        ("calibration frequencies", cal.x.len()),
        ("calibration recencies", cal.t_x.len()),
        ("calibration ages", cal.t_cal.len()),
    ] {
        if len != n {
            return Err(Error::lengths(
                format!("holdout chart: {column} per calibration customer"),
                n,
                len,
            ));
        }
    }
    if n == 0 {
        return Ok(no_data(title, "there are no calibration customers"));
    }
    if max_frequency > P_ALIVE_MAX_FREQUENCY {
        return Err(Error::param(
            "max_frequency",
            max_frequency,
            format!("at most {P_ALIVE_MAX_FREQUENCY} groups are drawn"),
        ));
    }
    if !(data.duration_holdout.is_finite() && data.duration_holdout >= 0.0) {
        return Err(Error::value(
            "holdout duration",
            data.duration_holdout.to_string(),
            "must be a finite number of periods >= 0",
        ));
    }
    super::svg::check_finite("holdout frequency", data.frequency_holdout.iter().copied())?;
    let bins = holdout_fit(data, max_frequency, |t, x, t_x, t_cal| {
        model.expected_purchases(t, x, t_x, t_cal)
    });
    let x: Vec<f64> = bins.iter().map(|b| f64::from(b.x)).collect();
    let pick = |f: &dyn Fn(&crate::lifecycle::diagnostics::HoldoutBin) -> f64| -> Vec<f64> {
        bins.iter()
            .map(|b| if b.customers > 0 { f(b) } else { f64::NAN })
            .collect()
    };
    let actual = pick(&|b| b.actual_mean);
    let predicted = pick(&|b| b.predicted_mean);
    let unit = unit(cal.period);
    let duration = format_number(data.duration_holdout, 4);
    let subtitle = format!(
        "{} · {} customers · holdout {duration} {unit} · last group: ≥ {max_frequency} repeat purchases (lifetimes drops them)",
        model.model_name(),
        format_number(n as f64, 4),
    );
    line_chart(&LineChart {
        title: title.to_owned(),
        subtitle: Some(subtitle),
        series: vec![
            LineSeries {
                name: "actual mean holdout purchases".to_owned(),
                x: x.clone(),
                y: actual,
                band: None,
                markers: true,
            },
            LineSeries {
                name: format!("{} expected mean", model.model_name()),
                x,
                y: predicted,
                band: None,
                markers: true,
            },
        ],
        x_label: format!(
            "repeat purchases in the calibration period (last point: ≥ {max_frequency})"
        ),
        y_label: format!("mean holdout purchases ({duration} {unit})"),
        y_format: ValueFormat::Number,
        reference: None,
        y_range: None,
        log_y: false,
    })
}

/// The default number of bins of [`clv_distribution`].
pub const CLV_BINS: usize = 30;

/// A histogram of customer lifetime values (e.g. [`Scores::clv`]) in
/// [`CLV_BINS`] bins, clipped at the 99th percentile: values above fall into
/// the last bar, and the subtitle says so. `currency` is the amount's prefix
/// ("€", "$", or "" for plain units); `horizon` describes the CLV period for
/// the axis label (e.g. "12 months").
///
/// Non-finite values are left out and counted in the subtitle.
///
/// [`CLV_BINS`] marks (one bar per bin), or a "no data" chart when no value is finite.
///
/// [`Scores::clv`]: crate::lifecycle::btyd::Scores::clv
///
/// # Errors
/// None in practice; the signature leaves room for the histogram's checks.
pub fn clv_distribution(clv: &[f64], currency: &str, horizon: &str) -> Result<Chart> {
    let title = "Customer lifetime value";
    let x_label = if horizon.is_empty() {
        format!("customer lifetime value ({})", currency_unit(currency))
    } else {
        format!(
            "customer lifetime value over {horizon} ({})",
            currency_unit(currency)
        )
    };
    let mut h = Histogram::from_values(
        title,
        clv,
        CLV_BINS,
        0.99,
        &x_label,
        ValueFormat::Money(currency.to_owned()),
    );
    if h.counts.is_empty() {
        return Ok(no_data(title, "no customer has a finite lifetime value"));
    }
    let finite: Vec<f64> = clv.iter().copied().filter(|v| v.is_finite()).collect();
    let mut subtitle = format!("{} customers", format_number(finite.len() as f64, 4));
    let skipped = clv.len() - finite.len();
    if skipped > 0 {
        subtitle.push_str(&format!(
            " ({} without a value)",
            format_number(skipped as f64, 4)
        ));
    }
    let top = h.edges.last().copied().unwrap_or(0.0);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max > top {
        let above = finite.iter().filter(|&&v| v > top).count();
        let money = ValueFormat::Money(currency.to_owned());
        subtitle.push_str(&format!(
            " · last bar also counts the {} above {} (top 1%, max {})",
            format_number(above as f64, 4),
            money.format(top),
            money.format(max)
        ));
    }
    h.subtitle = Some(subtitle);
    histogram(&h)
}

fn currency_unit(currency: &str) -> &str {
    if currency.trim().is_empty() {
        "currency units"
    } else {
        currency
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::bgnbd::{BgNbdModel, BgNbdParams};
    use crate::lifecycle::summary::{Summary, Triples};
    use crate::report::testing::marks;

    fn model() -> BgNbdModel {
        let mut data = Triples::default();
        for (x, t_x, t, n) in [
            (0.0, 0.0, 38.0, 40.0),
            (2.0, 30.4, 38.9, 12.0),
            (7.0, 29.4, 35.1, 5.0),
            (1.0, 5.0, 20.0, 20.0),
            (4.0, 18.0, 30.0, 8.0),
            (0.0, 0.0, 10.0, 15.0),
        ] {
            data.add(x, t_x, t, n);
        }
        BgNbdParams::default().fit(&data).unwrap()
    }

    fn summary(frequency: Vec<f64>, recency: Vec<f64>, age: Vec<f64>) -> Summary {
        let n = frequency.len();
        Summary {
            period: Period::Week,
            observation_end: "2024-06-30".parse().unwrap(),
            customer_ids: (0..n).map(|i| format!("c{i}")).collect(),
            x: frequency,
            t_x: recency,
            t_cal: age,
            monetary_value: vec![0.0; n],
            excluded_after_end: 0,
        }
    }

    #[test]
    fn stage_bars_one_per_stage_with_shares() {
        let stages = [Stage::New, Stage::New, Stage::Churned, Stage::Mature];
        let chart = stage_distribution(&stages).unwrap();
        assert_eq!(marks(&chart), 6);
        assert!(chart.svg().contains("new (50.0%)"));
        assert!(chart.svg().contains("prospect (0.0%)"));
        let empty = stage_distribution(&[]).unwrap();
        assert_eq!(marks(&empty), 0);
        assert!(empty.svg().contains("No data"));
        assert_eq!(marks(&stage_distribution(&[Stage::Prospect]).unwrap()), 6);
    }

    #[test]
    fn p_alive_matrix_has_a_cell_per_frequency_and_recency() {
        let m = model();
        // T = 10: 11 recency columns, x = 0..=4: 5 rows.
        let chart = p_alive_matrix(&m, 10.0, 4, Period::Week).unwrap();
        assert_eq!(marks(&chart), 5 * 11);
        let svg = chart.svg();
        assert!(svg.contains("weeks from first to last purchase"));
        // Impossible cells (t_x = 0, x = 1..=4) are no data.
        assert_eq!(svg.matches("no data</title>").count(), 4);
        assert!(!svg.contains('…'), "nothing is shortened");
        // The highest frequency is the top row.
        let tall = p_alive_matrix(&m, 10.0, 12, Period::Week).unwrap();
        assert_eq!(marks(&tall), 13 * 11);
        let doc = roxmltree::Document::parse(tall.svg()).unwrap();
        let y_of = |label: &str| -> f64 {
            doc.descendants()
                .find(|e| e.has_tag_name("text") && e.text() == Some(label))
                .and_then(|e| e.attribute("y"))
                .and_then(|y| y.parse().ok())
                .unwrap()
        };
        assert!(y_of("12") < y_of("11"));
        // A long age is sampled down to the column limit, 0 and T included.
        let cols = recency_columns(365.0, P_ALIVE_MAX_COLUMNS);
        assert_eq!(cols.len(), P_ALIVE_MAX_COLUMNS);
        assert_eq!((cols[0], cols[cols.len() - 1]), (0.0, 365.0));
        let long = p_alive_matrix(&m, 365.0, 2, Period::Day).unwrap();
        assert_eq!(marks(&long), 3 * P_ALIVE_MAX_COLUMNS);
        assert!(long.svg().contains("days from first"));
        assert!(long.svg().contains("25 of 366 recency values"));
        assert!(long.width <= 800.0, "{}", long.width);
    }

    #[test]
    fn p_alive_matrix_degenerate_inputs() {
        let m = model();
        // T = 0: one column; only x = 0 is possible.
        let chart = p_alive_matrix(&m, 0.0, 3, Period::Day).unwrap();
        assert_eq!(marks(&chart), 4);
        for t_cal in [f64::NAN, -1.0] {
            assert!(matches!(
                p_alive_matrix(&m, t_cal, 3, Period::Day),
                Err(Error::InvalidParameter { name: "t_cal", .. })
            ));
        }
        assert!(matches!(
            p_alive_matrix(&m, 10.0, 1000, Period::Day),
            Err(Error::InvalidParameter {
                name: "max_frequency",
                ..
            })
        ));
        // Works for the other models through the trait.
        let pareto = crate::lifecycle::paretonbd::ParetoNbdModel {
            r: 0.5,
            alpha: 10.0,
            s: 0.6,
            beta: 12.0,
            report: m.report.clone(),
        };
        assert_eq!(
            marks(&p_alive_matrix(&pareto, 5.0, 1, Period::Week).unwrap()),
            12
        );
    }

    #[test]
    fn holdout_lines_with_markers() {
        let m = model();
        // Calibration frequencies 0, 1, 2, 3 and 9 (≥ 3 with max 3).
        let data = CalibrationHoldout {
            calibration: summary(
                vec![0.0, 1.0, 2.0, 3.0, 9.0, 0.0],
                vec![0.0, 5.0, 10.0, 20.0, 30.0, 0.0],
                vec![30.0; 6],
            ),
            frequency_holdout: vec![0.0, 1.0, 1.0, 2.0, 4.0, 1.0],
            monetary_value_holdout: vec![0.0; 6],
            duration_holdout: 10.0,
        };
        let chart = holdout_purchases(&m, &data, 3).unwrap();
        // Two lines and 4 markers each.
        assert_eq!(marks(&chart), 2 + 8);
        assert!(chart.svg().contains("≥ 3"));
        assert!(chart.svg().contains("holdout 10 weeks"));
        assert!(!chart.svg().contains('…'), "nothing is shortened");
        // An empty group breaks the lines: max 5 leaves group 4 empty
        // (groups 0–3 and 5+), so each series has two runs.
        let gaps = holdout_purchases(&m, &data, 5).unwrap();
        assert_eq!(marks(&gaps), 2 * 2 + 2 * 5);
    }

    #[test]
    fn holdout_bad_inputs() {
        let m = model();
        let mut data = CalibrationHoldout {
            calibration: summary(vec![0.0, 1.0], vec![0.0, 2.0], vec![5.0, 5.0]),
            frequency_holdout: vec![1.0],
            monetary_value_holdout: vec![0.0; 2],
            duration_holdout: 4.0,
        };
        assert!(matches!(
            holdout_purchases(&m, &data, 7),
            Err(Error::LengthMismatch {
                expected: 2,
                found: 1,
                ..
            })
        ));
        data.frequency_holdout = vec![1.0, f64::NAN];
        assert!(matches!(
            holdout_purchases(&m, &data, 7),
            Err(Error::NonFinite { row: 1, .. })
        ));
        data.frequency_holdout = vec![1.0, 0.0];
        data.duration_holdout = f64::INFINITY;
        assert!(matches!(
            holdout_purchases(&m, &data, 7),
            Err(Error::InvalidValue {
                what: "holdout duration",
                ..
            })
        ));
        let empty = CalibrationHoldout {
            calibration: summary(vec![], vec![], vec![]),
            frequency_holdout: vec![],
            monetary_value_holdout: vec![],
            duration_holdout: 4.0,
        };
        let chart = holdout_purchases(&m, &empty, 7).unwrap();
        assert_eq!(marks(&chart), 0);
        assert!(chart.svg().contains("No data"));
        // One customer: one group, a one-point line and its markers.
        data.duration_holdout = 4.0;
        let one = CalibrationHoldout {
            calibration: summary(vec![2.0], vec![3.0], vec![5.0]),
            frequency_holdout: vec![1.0],
            monetary_value_holdout: vec![0.0],
            duration_holdout: 4.0,
        };
        assert_eq!(marks(&holdout_purchases(&m, &one, 7).unwrap()), 4);
    }

    #[test]
    fn clv_histogram_is_clipped_with_a_note() {
        let mut values: Vec<f64> = (0..200).map(|i| f64::from(i) * 2.5).collect();
        values.push(1e6);
        values.push(f64::NAN);
        let chart = clv_distribution(&values, "€", "12 months").unwrap();
        assert_eq!(marks(&chart), CLV_BINS);
        let svg = chart.svg();
        assert!(svg.contains("(top 1%, max"));
        assert!(svg.contains("(€)"));
        assert!(svg.contains("also counts the 2 above"));
        assert!(svg.contains("(1 without a value)"));
        assert!(!svg.contains('…'), "nothing is shortened");
        let empty = clv_distribution(&[f64::NAN], "€", "").unwrap();
        assert_eq!(marks(&empty), 0);
        assert!(empty.svg().contains("No data"));
        assert_eq!(marks(&clv_distribution(&[], "", "").unwrap()), 0);
        // One value (or all equal): still a histogram.
        let one = clv_distribution(&[42.0], "$", "").unwrap();
        assert_eq!(marks(&one), CLV_BINS);
        assert!(one.svg().contains("currency") || one.svg().contains("($)"));
    }

    #[test]
    fn end_to_end_on_a_synthetic_population() {
        use crate::lifecycle::gamma_gamma::{ClvParams, GammaGammaParams};
        use crate::synth::{Population, SynthParams};
        let pop = Population::generate(&SynthParams::with_customers(2000).with_seed(3)).unwrap();
        let end = pop.observation_end.to_zoned(jiff::tz::TimeZone::UTC).date();
        let s = Summary::from_base(&pop.base, Period::Week, end).unwrap();
        let m = BgNbdParams::default().fit(&s.triples()).unwrap();
        let t_max = s.t_cal.iter().copied().fold(0.0, f64::max);
        let chart = p_alive_matrix(&m, t_max, 12, Period::Week).unwrap();
        assert_eq!(marks(&chart), 13 * recency_columns(t_max, 25).len());
        let spend = GammaGammaParams::default().fit(&s).unwrap();
        let scores = m
            .score_with_clv(&s, 52.0, &spend, &ClvParams::default())
            .unwrap();
        let clv = scores.clv.unwrap_or_default();
        assert_eq!(
            marks(&clv_distribution(&clv, "€", "12 months").unwrap()),
            CLV_BINS
        );
    }
}
