//! Charts of touchpoints and journeys: where each touchpoint converts, how
//! journeys flow from channel to channel into a conversion, how far up the
//! engagement ladder customers climb, and how the attribution models share
//! the credit.
//!
//! - [`conversion_heat_map`]: the conversion rate of every touchpoint (rows)
//!   in every segment (columns) from
//!   [`group_matrix`](crate::touchpoints::effectiveness::group_matrix), on the
//!   sequential viridis scale (light is high). A cell's label carries `▲` when
//!   the rate is significantly above the touchpoint's rate in the other
//!   segments and `▼` when significantly below (two-proportion z-test,
//!   Benjamini–Hochberg over the whole matrix at the matrix's false discovery
//!   rate, 5 % by default). Cells without journeys are drawn grey ("no data").
//!   Read across a row to see for whom a touchpoint works; read down a column
//!   to see what works for a segment.
//! - [`journey_sankey`]: a Sankey diagram (Sankey 1898; the layout follows
//!   d3-sankey's, Bostock 2012) of the channel at each step of the journeys
//!   in a [`PathTable`](crate::touchpoints::paths::PathTable) and where they end, *converted* or *not converted*.
//!   Column `k` holds the channels at step `k` (1 to `steps`, default 4), the
//!   last column the two outcomes. Ribbon widths are proportional to journeys.
//!   A journey longer than `steps` is folded: its step-`steps` node flows
//!   straight on to its outcome. A shorter journey also flows from its last
//!   step straight to its outcome, its ribbon passing the later columns, so
//!   every column's nodes hold exactly the journeys that have that many steps
//!   or more, and every journey is counted once in the outcome column. The
//!   `top_channels` channels (default 6) in most journeys keep their name,
//!   the rest are drawn as "other". [`sankey`] draws any [`Sankey`] of nodes
//!   in columns and links between them.
//! - [`engagement_funnel`]: the engagement-ladder funnel of
//!   [`Engagement::funnel`](crate::touchpoints::engagement::Engagement::funnel),
//!   one centred bar per rung whose width is the customers who reached at
//!   least that rung; each bar says the count, its share of the top rung and
//!   the step conversion (its share of the rung above). [`funnel`] draws any
//!   [`Funnel`].
//! - [`attribution_comparison`]: one group of bars per channel, one bar per
//!   attribution model (last touch, first touch, linear, position-based, time
//!   decay, Markov, Shapley, whichever are given), each as the channel's share
//!   of all conversions the model credits, so each model adds up to 100 %.
//!   Where the models agree the credit is robust; where last touch and the
//!   Markov or Shapley models disagree, a channel opens or assists journeys
//!   more than it closes them (or the other way round).
//!
//! # Marks
//!
//! Heat map: one per cell. Sankey: one per link (ribbon); nodes are not
//! marks, as their height is the sum of their links, but carry a tooltip with
//! their count. Funnel: one per step. Attribution: one per model × channel.

use serde::{Deserialize, Serialize};

use super::charts::{BarChart, HeatMap, Series, ValueFormat, WIDTH, bar_chart, heat_map};
use super::svg::{
    Anchor, Canvas, Chart, ColourScale, Font, LABEL_SIZE, MUTED, SMALL_SIZE, fit_text,
    format_number, format_percent, series_colour, text_width,
};
use crate::error::{Error, Result};
use crate::touchpoints::attribution::{Credits, Heuristics, MarkovAttribution, ShapleyAttribution};
use crate::touchpoints::effectiveness::GroupMatrix;
use crate::touchpoints::engagement::LadderFunnel;

mod sankey;

pub use sankey::{
    CONVERTED, JourneySankeyParams, NOT_CONVERTED, OTHER, Sankey, SankeyLink, SankeyNode,
    journey_flows, journey_sankey, sankey,
};

fn no_data(title: &str, reason: &str) -> Chart {
    let mut c = Canvas::new(WIDTH, 220.0, title, None);
    c.no_data(reason);
    c.finish()
}

// ------------------------------------------------------------------ heat map

/// The touchpoint × segment conversion-rate heat map (module docs). Each cell
/// is one mark.
///
/// # Errors
/// [`Error::LengthMismatch`] when the matrix's cells do not match its labels.
pub fn conversion_heat_map(matrix: &GroupMatrix) -> Result<Chart> {
    let title = "Conversion rate by touchpoint and segment";
    if matrix.touchpoints.is_empty() || matrix.groups.is_empty() {
        return Ok(no_data(title, "no touchpoint was seen in a closed journey"));
    }
    if matrix.cells.len() != matrix.touchpoints.len() {
        return Err(Error::lengths(
            "conversion heat map: rows of cells per touchpoint",
            matrix.touchpoints.len(),
            matrix.cells.len(),
        ));
    }
    if let Some((i, row)) = matrix
        .cells
        .iter()
        .enumerate()
        .find(|(_, row)| row.len() != matrix.groups.len())
    {
        return Err(Error::lengths(
            format!("conversion heat map: cells of row {i} per group"),
            matrix.groups.len(),
            row.len(),
        ));
    }
    let values: Vec<Vec<f64>> = matrix
        .cells
        .iter()
        .map(|row| {
            row.iter()
                // An infinite rate cannot happen; drawn as no data rather than an error.
                .map(|c| if c.rate.is_finite() { c.rate } else { f64::NAN })
                .collect()
        })
        .collect();
    let labels: Vec<Vec<String>> = matrix
        .cells
        .iter()
        .map(|row| {
            row.iter()
                .map(|c| {
                    if !c.rate.is_finite() {
                        "–".to_owned()
                    } else {
                        match c.direction {
                            1 => format!("{} ▲", format_percent(c.rate)),
                            -1 => format!("{} ▼", format_percent(c.rate)),
                            _ => format_percent(c.rate),
                        }
                    }
                })
                .collect()
        })
        .collect();
    let alpha = if matrix.alpha.is_finite() {
        format!("{}%", format_number(100.0 * matrix.alpha, 3))
    } else {
        "n/a".to_owned()
    };
    heat_map(&HeatMap {
        title: title.to_owned(),
        subtitle: Some(format!(
            "▲/▼: significantly above/below the other segments (BH, FDR {alpha})"
        )),
        rows: matrix.touchpoints.clone(),
        columns: matrix.groups.clone(),
        values,
        scale: ColourScale::Sequential,
        domain: None,
        cell_labels: Some(labels),
        row_label: "touchpoint".to_owned(),
        column_label: "segment".to_owned(),
        legend_label: "conversion rate".to_owned(),
        format: ValueFormat::Percent,
    })
}

// ------------------------------------------------------------------ funnel

/// One step of a [`Funnel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStage {
    /// Step label.
    pub label: String,
    /// How many reached it.
    pub count: f64,
}

/// A funnel: steps from the widest (top) to the narrowest, drawn by [`funnel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Funnel {
    /// Chart title.
    pub title: String,
    /// A line under the title.
    pub subtitle: Option<String>,
    /// Steps, top to bottom.
    pub stages: Vec<FunnelStage>,
    /// What is counted (e.g. "customers").
    pub unit: String,
}

/// Draws a funnel: one centred horizontal bar per step, its width
/// proportional to its count, with the count, the share of the top step and
/// the step conversion (share of the step above) written on it. One mark per step.
///
/// # Errors
/// [`Error::InvalidValue`] for a negative or non-finite count.
pub fn funnel(spec: &Funnel) -> Result<Chart> {
    if spec.stages.is_empty() {
        return Ok(no_data(&spec.title, "the funnel has no steps"));
    }
    for s in &spec.stages {
        if !(s.count.is_finite() && s.count >= 0.0) {
            return Err(Error::value(
                "funnel count",
                s.count.to_string(),
                "must be finite and >= 0",
            ));
        }
    }
    let max = spec.stages.iter().map(|s| s.count).fold(0.0, f64::max);
    if max <= 0.0 {
        return Ok(no_data(&spec.title, "every step has a count of zero"));
    }
    let labels: Vec<String> = spec.stages.iter().map(|s| s.label.clone()).collect();
    let label_w = labels
        .iter()
        .map(|l| text_width(l, LABEL_SIZE))
        .fold(0.0, f64::max)
        .min(160.0);
    let header = Canvas::header_height(spec.subtitle.is_some());
    let top = header + 12.0;
    let bar_h = 34.0;
    let gap = 8.0;
    let left = 16.0 + label_w + 12.0;
    let right = WIDTH - 16.0;
    let centre = (left + right) / 2.0;
    let full = right - left;
    let height = top + (bar_h + gap) * spec.stages.len() as f64 + 16.0;
    let mut c = Canvas::new(WIDTH, height, &spec.title, spec.subtitle.as_deref());
    let first = spec.stages.first().map_or(0.0, |s| s.count);
    let share = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let mut previous: Option<&FunnelStage> = None;
    for (i, s) in spec.stages.iter().enumerate() {
        let y = top + (bar_h + gap) * i as f64;
        let w = (full * s.count / max).max(1.0);
        let x = centre - w / 2.0;
        let count = format!("{} {}", format_number(s.count, 4), spec.unit);
        let of_top = format!("{} of {}", format_percent(share(s.count, first)), labels[0]);
        // The step conversion, unless the step above is the top (it would repeat `of_top`).
        let step = previous
            .filter(|_| i > 1)
            .map(|p| format!("{} of {}", format_percent(share(s.count, p.count)), p.label));
        let tip = match (&step, i) {
            (_, 0) => format!("{}: {count}", s.label),
            (Some(st), _) => format!("{}: {count}; {of_top}; {st}", s.label),
            (None, _) => format!("{}: {count}; {of_top}", s.label),
        };
        c.bar(x, y, w, bar_h, series_colour(0), &tip);
        c.text(
            left - 12.0,
            y + bar_h / 2.0 + 4.0,
            &fit_text(&s.label, LABEL_SIZE, label_w),
            Font::new(LABEL_SIZE).anchor(Anchor::End),
        );
        let line1 = count;
        let line2 = match (&step, i) {
            (_, 0) => "top step".to_owned(),
            (Some(st), _) => format!("{of_top} · {st}"),
            (None, _) => of_top.clone(),
        };
        let text_w = text_width(&line1, SMALL_SIZE).max(text_width(&line2, SMALL_SIZE));
        if text_w + 10.0 <= w {
            let font = Font::new(SMALL_SIZE).fill("#ffffff").anchor(Anchor::Middle);
            c.text(centre, y + 14.0, &line1, font.bold());
            c.text(centre, y + 28.0, &line2, font);
        } else {
            // Beside the bar, on the right, where the narrowing leaves room.
            let room = WIDTH - (x + w) - 14.0;
            let font = Font::new(SMALL_SIZE).fill(MUTED);
            c.text(
                x + w + 6.0,
                y + 14.0,
                &fit_text(&line1, SMALL_SIZE, room),
                font.bold(),
            );
            c.text(
                x + w + 6.0,
                y + 28.0,
                &fit_text(&line2, SMALL_SIZE, room),
                font,
            );
        }
        previous = Some(s);
    }
    Ok(c.finish())
}

/// The engagement-ladder funnel (module docs): one bar per rung, visit at the
/// top. One mark per rung.
///
/// # Errors
/// None in practice (the funnel's counts are whole numbers).
pub fn engagement_funnel(ladder: &LadderFunnel) -> Result<Chart> {
    let reached = ladder.steps.first().map_or(0, |s| s.customers);
    funnel(&Funnel {
        title: "Engagement ladder".to_owned(),
        subtitle: Some(format!(
            "Customers reaching at least each rung in the recent window; {} of {} engaged",
            format_number(reached as f64, 4),
            format_number(ladder.customers as f64, 4)
        )),
        stages: ladder
            .steps
            .iter()
            .map(|s| FunnelStage {
                label: s.rung.as_str().replace('_', " "),
                count: s.customers as f64,
            })
            .collect(),
        unit: "customers".to_owned(),
    })
}

// ------------------------------------------------------------------ attribution

/// The models of [`heuristics`](crate::touchpoints::attribution::heuristics),
/// [`time_decay`](crate::touchpoints::attribution::time_decay),
/// [`markov`](crate::touchpoints::attribution::markov) and
/// [`shapley`](crate::touchpoints::attribution::shapley) that are given, named
/// and in the order of the comparison chart: last touch, first touch, linear,
/// position-based, time decay, Markov, Shapley.
pub fn attribution_models<'a>(
    heuristics: Option<&'a Heuristics>,
    time_decay: Option<&'a Credits>,
    markov: Option<&'a MarkovAttribution>,
    shapley: Option<&'a ShapleyAttribution>,
) -> Vec<(String, &'a Credits)> {
    let mut out = Vec::new();
    if let Some(h) = heuristics {
        out.push(("last touch".to_owned(), &h.last_touch));
        out.push(("first touch".to_owned(), &h.first_touch));
        out.push(("linear".to_owned(), &h.linear));
        out.push(("position-based".to_owned(), &h.position_based));
    }
    if let Some(t) = time_decay {
        out.push(("time decay".to_owned(), t));
    }
    if let Some(m) = markov {
        out.push((format!("Markov (order {})", m.order), &m.credits));
    }
    if let Some(s) = shapley {
        out.push(("Shapley".to_owned(), &s.credits));
    }
    out
}

/// Grouped bars of each channel's share of the credited conversions under
/// each model (module docs). `channels` are named by code, as
/// [`PathTable::channels`](crate::touchpoints::paths::PathTable::channels); `models` as [`attribution_models`] gives them.
/// Channels no model credits are left out; channels are sorted by their mean
/// share. Models that credit nothing are left out and named in the subtitle.
/// One mark per model × channel shown.
///
/// # Errors
/// [`Error::LengthMismatch`] when a model does not have one credit per
/// channel; [`Error::InvalidValue`] for a non-finite credit.
pub fn attribution_comparison(channels: &[String], models: &[(String, &Credits)]) -> Result<Chart> {
    let title = "Attribution: each channel's share of the conversions, by model";
    for (name, credits) in models {
        if credits.conversions.len() != channels.len() {
            return Err(Error::lengths(
                format!("attribution comparison: credits of model `{name}` per channel"),
                channels.len(),
                credits.conversions.len(),
            ));
        }
        super::svg::check_finite("credited conversions", credits.conversions.iter().copied())?;
    }
    let credits_something = |c: &Credits| c.total_conversions().abs() > 0.0;
    let kept: Vec<&(String, &Credits)> = models
        .iter()
        .filter(|(_, c)| credits_something(c))
        .collect();
    let empty: Vec<&str> = models
        .iter()
        .filter(|(_, c)| !credits_something(c))
        .map(|(n, _)| n.as_str())
        .collect();
    if kept.is_empty() || channels.is_empty() {
        return Ok(no_data(title, "no model credits any conversion"));
    }
    let shares: Vec<Vec<f64>> = kept
        .iter()
        .map(|(_, c)| {
            let total = c.total_conversions();
            c.conversions.iter().map(|v| v / total).collect()
        })
        .collect();
    let mut shown: Vec<usize> = (0..channels.len())
        .filter(|&ch| shares.iter().any(|s| s[ch] != 0.0))
        .collect();
    let mean = |ch: usize| shares.iter().map(|s| s[ch]).sum::<f64>() / shares.len() as f64;
    shown.sort_by(|&a, &b| mean(b).total_cmp(&mean(a)).then(a.cmp(&b)));
    let conversions = kept.first().map_or(0.0, |(_, c)| c.total_conversions());
    let mut subtitle = format!(
        "Share of the {} credited conversions; each model adds up to 100%",
        format_number(conversions, 4)
    );
    if !empty.is_empty() {
        subtitle.push_str(&format!(
            "; {} credit nothing and are not shown",
            empty.join(", ")
        ));
    }
    bar_chart(&BarChart {
        title: title.to_owned(),
        subtitle: Some(subtitle),
        categories: shown.iter().map(|&ch| channels[ch].clone()).collect(),
        series: kept
            .iter()
            .zip(&shares)
            .map(|((name, _), s)| Series {
                name: name.clone(),
                values: shown.iter().map(|&ch| s[ch]).collect(),
            })
            .collect(),
        value_label: "share of credited conversions (%)".to_owned(),
        format: ValueFormat::Percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{is_no_data, whole_marks as marks};
    use crate::touchpoints::attribution::{HeuristicParams, heuristics};
    use crate::touchpoints::effectiveness::GroupCell;
    use crate::touchpoints::engagement::{FunnelStep, Rung};
    use crate::touchpoints::paths::{OpenJourneys, PathTable};

    fn cell(rate: f64, direction: i8) -> GroupCell {
        GroupCell {
            journeys: 10,
            conversions: 1,
            rate,
            interval: (0.0, 1.0),
            rate_elsewhere: 0.1,
            p_value: 0.01,
            adjusted_p_value: 0.02,
            significant: direction != 0,
            direction,
        }
    }

    fn matrix() -> GroupMatrix {
        GroupMatrix {
            touchpoints: vec!["email".into(), "search".into()],
            groups: vec!["A".into(), "B".into(), "C".into()],
            overall_rate: vec![0.1, 0.2],
            cells: vec![
                vec![cell(0.123, 1), cell(0.05, -1), cell(f64::NAN, 0)],
                vec![cell(0.2, 0), cell(0.21, 0), cell(0.3, 0)],
            ],
            tests: 5,
            alpha: 0.05,
        }
    }

    #[test]
    fn heat_map_marks_cells_and_significance() {
        let chart = conversion_heat_map(&matrix()).unwrap();
        assert_eq!(marks(&chart), 6);
        let svg = chart.svg();
        assert!(svg.contains("12.3% ▲"));
        assert!(svg.contains("5.0% ▼"));
        assert!(svg.contains("(BH, FDR 5%)"));
        assert!(svg.contains("no data"));
        let mut bad = matrix();
        bad.cells[1].pop();
        assert!(matches!(
            conversion_heat_map(&bad),
            Err(Error::LengthMismatch {
                expected: 3,
                found: 2,
                ..
            })
        ));
        let mut empty = matrix();
        empty.touchpoints.clear();
        empty.cells.clear();
        assert!(is_no_data(&conversion_heat_map(&empty).unwrap()));
    }

    fn table() -> PathTable {
        let mut t = PathTable::with_channels(vec!["a".into(), "b".into(), "c".into()]).unwrap();
        t.add(&[0], 1.0, 0.0, 10.0).unwrap();
        t.add(&[0, 1], 0.0, 2.0, 0.0).unwrap();
        t.add(&[1, 0, 2], 1.0, 1.0, 5.0).unwrap();
        t.add(&[], 3.0, 0.0, 0.0).unwrap(); // direct conversions
        t
    }

    #[test]
    fn journey_sankey_has_one_mark_per_link() {
        let params = JourneySankeyParams {
            steps: 2,
            top_channels: 2,
        };
        let flows = journey_flows(&table(), &params).unwrap();
        // a1→conv, a1→b2, b2→not, b1→a2, a2→conv, a2→not.
        assert_eq!(flows.links.len(), 6);
        // a1, b1, a2, b2, converted, not converted ("other" carries nothing).
        assert_eq!(flows.nodes.len(), 6);
        let converted: f64 = flows
            .links
            .iter()
            .filter(|l| flows.nodes[l.target].label == CONVERTED)
            .map(|l| l.value)
            .sum();
        assert_eq!(converted, 2.0);
        let chart = journey_sankey(&table(), &params).unwrap();
        assert_eq!(marks(&chart), 6);
        assert!(chart.svg().contains("fill-opacity=\"0.40\""));
        assert!(
            chart
                .svg()
                .contains("3 direct conversions (no touch before them)")
        );
        // With one top channel, b and c become "other".
        let one = journey_flows(
            &table(),
            &JourneySankeyParams {
                steps: 4,
                top_channels: 1,
            },
        )
        .unwrap();
        assert!(one.nodes.iter().any(|n| n.label == OTHER));
        assert!(sankey(&one).is_ok());
    }

    #[test]
    fn sankey_degenerate_input() {
        let empty = PathTable::with_channels(vec!["a".into()]).unwrap();
        let params = JourneySankeyParams::default();
        assert!(is_no_data(&journey_sankey(&empty, &params).unwrap()));
        let zero = JourneySankeyParams {
            steps: 0,
            ..params.clone()
        };
        assert!(matches!(
            journey_sankey(&table(), &zero),
            Err(Error::InvalidParameter { name: "steps", .. })
        ));
        let spec = Sankey {
            title: "s".into(),
            subtitle: None,
            columns: vec!["x".into(), "y".into()],
            nodes: vec![
                SankeyNode {
                    label: "p".into(),
                    column: 0,
                    colour: None,
                },
                SankeyNode {
                    label: "q".into(),
                    column: 1,
                    colour: None,
                },
            ],
            links: vec![SankeyLink {
                source: 0,
                target: 1,
                value: 3.0,
            }],
            unit: "customers".into(),
            note: None,
        };
        assert_eq!(marks(&sankey(&spec).unwrap()), 1);
        let mut back = spec.clone();
        back.links[0] = SankeyLink {
            source: 1,
            target: 0,
            value: 1.0,
        };
        assert!(matches!(
            sankey(&back),
            Err(Error::InvalidValue {
                what: "sankey link",
                ..
            })
        ));
        let mut nan = spec.clone();
        nan.links[0].value = f64::NAN;
        assert!(matches!(
            sankey(&nan),
            Err(Error::InvalidValue {
                what: "sankey link value",
                ..
            })
        ));
        let mut missing = spec.clone();
        missing.links[0].target = 7;
        assert!(matches!(
            sankey(&missing),
            Err(Error::OutOfRange {
                index: 7,
                len: 2,
                ..
            })
        ));
        let mut column = spec.clone();
        column.nodes[1].column = 5;
        assert!(matches!(
            sankey(&column),
            Err(Error::OutOfRange {
                index: 5,
                len: 2,
                ..
            })
        ));
        let mut zero_flow = spec;
        zero_flow.links[0].value = 0.0;
        assert!(is_no_data(&sankey(&zero_flow).unwrap()));
    }

    fn ladder(counts: [usize; 6]) -> LadderFunnel {
        let mut previous = 100;
        LadderFunnel {
            customers: 100,
            steps: Rung::ALL
                .iter()
                .zip(counts)
                .map(|(&rung, customers)| {
                    let s = FunnelStep {
                        rung,
                        customers,
                        share: customers as f64 / 100.0,
                        step_rate: customers as f64 / previous.max(1) as f64,
                    };
                    previous = customers;
                    s
                })
                .collect(),
        }
    }

    #[test]
    fn funnel_has_one_bar_per_rung() {
        let chart = engagement_funnel(&ladder([80, 60, 40, 20, 10, 5])).unwrap();
        assert_eq!(marks(&chart), 6);
        let svg = chart.svg();
        assert!(svg.contains("80 customers"));
        assert!(svg.contains("75.0% of visit"));
        assert!(svg.contains("product view"));
        // Zero everywhere, no steps: no data; negative or NaN counts: errors.
        assert!(is_no_data(&engagement_funnel(&ladder([0; 6])).unwrap()));
        let mut spec = Funnel {
            title: "f".into(),
            subtitle: None,
            stages: Vec::new(),
            unit: "units".into(),
        };
        assert!(is_no_data(&funnel(&spec).unwrap()));
        spec.stages.push(FunnelStage {
            label: "one".into(),
            count: 3.0,
        });
        assert_eq!(marks(&funnel(&spec).unwrap()), 1);
        spec.stages.push(FunnelStage {
            label: "two".into(),
            count: f64::NAN,
        });
        assert!(matches!(
            funnel(&spec),
            Err(Error::InvalidValue {
                what: "funnel count",
                ..
            })
        ));
    }

    #[test]
    fn attribution_bars_per_model_and_channel() {
        let t = table();
        let h = heuristics(&t, &HeuristicParams::default()).unwrap();
        let models = attribution_models(Some(&h), None, None, None);
        assert_eq!(models.len(), 4);
        let chart = attribution_comparison(t.channels(), &models).unwrap();
        // Channels a, b and c are each credited by some model: 4 × 3 bars.
        assert_eq!(marks(&chart), 12);
        // Shares add up to 100 % per model.
        assert!(chart.svg().contains("100%") || chart.svg().contains("adds up to 100%"));
        let short = Credits {
            conversions: vec![1.0],
            value: vec![1.0],
        };
        assert!(matches!(
            attribution_comparison(t.channels(), &[("x".into(), &short)]),
            Err(Error::LengthMismatch {
                expected: 3,
                found: 1,
                ..
            })
        ));
        let zero = Credits {
            conversions: vec![0.0; 3],
            value: vec![0.0; 3],
        };
        assert!(is_no_data(
            &attribution_comparison(t.channels(), &[("x".into(), &zero)]).unwrap()
        ));
        assert!(is_no_data(
            &attribution_comparison(t.channels(), &[]).unwrap()
        ));
    }

    #[test]
    fn end_to_end_on_a_synthetic_population() {
        use crate::synth::{Population, SynthParams};
        use crate::touchpoints::attribution::{MarkovParams, markov};
        use crate::touchpoints::engagement::{EngagementParams, score};
        use crate::touchpoints::journey::{JourneyParams, Journeys};
        let pop = Population::generate(&SynthParams::with_customers(300).with_seed(3)).unwrap();
        let journeys = Journeys::build(&pop.base, &JourneyParams::default()).unwrap();
        let paths =
            PathTable::from_journeys(&journeys, &pop.base, OpenJourneys::NotConverting).unwrap();
        let chart = journey_sankey(&paths, &JourneySankeyParams::default()).unwrap();
        assert!(marks(&chart) > 0);
        let h = heuristics(&paths, &HeuristicParams::default()).unwrap();
        let m = markov(&paths, &MarkovParams::default()).unwrap();
        let models = attribution_models(Some(&h), None, Some(&m), None);
        assert!(marks(&attribution_comparison(paths.channels(), &models).unwrap()) > 0);
        let e = score(&pop.base, &EngagementParams::default()).unwrap();
        assert_eq!(marks(&engagement_funnel(&e.funnel()).unwrap()), 6);
    }
}
