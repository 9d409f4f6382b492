//! Touchpoint inventory and effectiveness: where we meet customers, what each
//! touchpoint achieves, for whom, and whom we do not reach.
//!
//! A **touchpoint type** is a channel × kind pair (e-mail click, search-ads
//! impression, store visit…), or a channel alone ([`KeyLevel`]). For each:
//!
//! - **Reach**: customers with at least one such touchpoint, and their share
//!   of the base (or group); **frequency**: touchpoints per reached customer.
//! - **Conversions** over closed journeys ([`Journeys`]): journeys containing
//!   the type, converting journeys among them, the conversion rate with a
//!   Wilson score interval (Wilson 1927); **last-touch** conversions (the type
//!   closes the journey) and **assisted** conversions (it appears anywhere
//!   but last, as Google Analytics counts assists).
//! - **Revenue, cost, ROI**: revenue is linear-attributed conversion value
//!   (each converting journey's value split over its touches, so revenue adds
//!   up over types to the converting value); cost is the touchpoints' own
//!   cost; cost per conversion divides by linear-attributed conversions;
//!   ROI = (revenue − cost) / cost. Money of different currencies is added as
//!   numbers: convert first when a base mixes currencies.
//! - **Dissatisfaction** per channel: the share of its touchpoints that are
//!   complaints, support contacts or unsubscribes.
//!
//! [`group_matrix`] answers "which touchpoints matter for which target group":
//! the conversion rate of every type within every group, with its interval and a
//! pooled two-proportion z-test against the type's rate in all other groups,
//! p-values adjusted by Benjamini–Hochberg over the whole matrix (Benjamini &
//! Hochberg 1995), so the false discovery rate of the flags is controlled.
//! [`lost_signals`] compares the touchpoints that precede lost customers' last
//! activity with those of retained customers; [`coverage`] lists whom we do
//! not reach; [`timing`] shows when customers interact.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::TouchpointKind;
use crate::segment::segments::Segments;
use crate::stats::{benjamini_hochberg, two_proportion_z, wilson_interval};
use crate::store::{CustomerBase, to_micros};

use super::journey::{JourneyOutcome, Journeys};

/// The group of customer `c` in `segments`, `None` for a customer left out.
fn group_of(segments: &Segments, c: u32) -> Option<usize> {
    segments.segment_of(c).map(|l| l as usize)
}

/// Whether touchpoint types are channel × kind pairs or channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLevel {
    /// One type per channel.
    Channel,
    /// One type per channel and kind.
    #[default]
    ChannelKind,
}

/// Parameters of the effectiveness analyses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EffectivenessParams {
    /// Touchpoint type granularity.
    pub level: KeyLevel,
    /// Confidence level of the intervals (default 0.95).
    pub confidence: f64,
    /// False discovery rate for significance flags (default 0.05).
    pub alpha: f64,
    /// Cells with fewer journeys are not tested (default 30).
    pub min_journeys: usize,
}

impl Default for EffectivenessParams {
    fn default() -> Self {
        EffectivenessParams {
            level: KeyLevel::ChannelKind,
            confidence: 0.95,
            alpha: 0.05,
            min_journeys: 30,
        }
    }
}

impl EffectivenessParams {
    fn check(&self) -> Result<()> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::param(
                "confidence",
                self.confidence,
                "must be in (0, 1)",
            ));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::param("alpha", self.alpha, "must be in (0, 1)"));
        }
        Ok(())
    }
}

/// Dense touchpoint-type ids for a base.
struct Keys {
    level: KeyLevel,
    n_kinds: usize,
    n: usize,
}

impl Keys {
    fn new(base: &CustomerBase, level: KeyLevel) -> Keys {
        let (c, k) = (base.channels().len(), base.kinds().len().max(1));
        Keys {
            level,
            n_kinds: k,
            n: match level {
                KeyLevel::Channel => c,
                KeyLevel::ChannelKind => c * k,
            },
        }
    }

    fn of(&self, base: &CustomerBase, row: usize) -> usize {
        let c = base.tp_channel_codes()[row] as usize;
        match self.level {
            KeyLevel::Channel => c,
            KeyLevel::ChannelKind => c * self.n_kinds + base.tp_kind_codes()[row] as usize,
        }
    }

    fn names(&self, base: &CustomerBase, key: usize) -> (String, Option<String>) {
        match self.level {
            KeyLevel::Channel => (
                base.channel(key as u16)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                None,
            ),
            KeyLevel::ChannelKind => (
                base.channel((key / self.n_kinds) as u16)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                base.kind((key % self.n_kinds) as u16)
                    .map(|k| k.to_string()),
            ),
        }
    }
}

/// Counts of one touchpoint type (in one group or overall).
#[derive(Debug, Clone, Default)]
struct Tally {
    reach: f64,
    touchpoints: f64,
    journeys: f64,
    converting: f64,
    last_touch: f64,
    assisted: f64,
    linear_conversions: f64,
    revenue: f64,
    cost: f64,
    cost_known: bool,
}

/// Effectiveness of one touchpoint type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TouchpointRow {
    /// Group name, or `None` for the whole base.
    pub group: Option<String>,
    /// Channel.
    pub channel: String,
    /// Kind (`None` at channel level).
    pub kind: Option<String>,
    /// Customers reached.
    pub reach: usize,
    /// Reached share of the base (or group).
    pub reach_share: f64,
    /// Touchpoints.
    pub touchpoints: usize,
    /// Touchpoints per reached customer.
    pub frequency: f64,
    /// Closed journeys containing the type.
    pub journeys: usize,
    /// Converting journeys containing it.
    pub conversions: usize,
    /// `conversions / journeys`.
    pub conversion_rate: f64,
    /// Wilson interval of the conversion rate.
    pub conversion_rate_interval: (f64, f64),
    /// Converting journeys it closes.
    pub last_touch_conversions: usize,
    /// Converting journeys it appears in other than last.
    pub assisted_conversions: usize,
    /// Linear-attributed conversions.
    pub attributed_conversions: f64,
    /// Linear-attributed conversion value.
    pub revenue: f64,
    /// Cost of its touchpoints (`None` when no cost is known).
    pub cost: Option<f64>,
    /// Cost per linear-attributed conversion.
    pub cost_per_conversion: Option<f64>,
    /// (revenue − cost) / cost.
    pub roi: Option<f64>,
}

/// Dissatisfaction signal of a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelDissatisfaction {
    /// Channel.
    pub channel: String,
    /// Touchpoints in the channel.
    pub touchpoints: usize,
    /// Complaints.
    pub complaints: usize,
    /// Support contacts.
    pub support: usize,
    /// Unsubscribes.
    pub unsubscribes: usize,
    /// (complaints + support + unsubscribes) / touchpoints.
    pub share: f64,
}

/// The touchpoint inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// One row per touchpoint type seen (per group when grouped, then overall),
    /// by reach descending.
    pub rows: Vec<TouchpointRow>,
    /// Dissatisfaction per channel.
    pub dissatisfaction: Vec<ChannelDissatisfaction>,
    /// Customers in the base.
    pub customers: usize,
    /// Closed journeys (converted or not; open journeys are not counted).
    pub journeys: usize,
    /// Converting journeys.
    pub conversions: usize,
}

/// Per-type tallies: `tallies[group][key]`, the last group being the whole base.
fn tally(
    base: &CustomerBase,
    journeys: &Journeys,
    keys: &Keys,
    group_of: impl Fn(u32) -> Option<usize>,
    n_groups: usize,
) -> Vec<Vec<Tally>> {
    let mut t = vec![vec![Tally::default(); keys.n]; n_groups + 1];
    let mut stamp = vec![usize::MAX; keys.n];
    let as_of = to_micros(journeys.as_of());
    let times = base.tp_time_micros();
    // Reach and touchpoints, from the base (up to as_of).
    for customer in 0..base.n_customers() as u32 {
        let g = group_of(customer);
        for r in base.touchpoint_range(customer) {
            if times[r] > as_of {
                continue;
            }
            let k = keys.of(base, r);
            let first = stamp[k] != customer as usize;
            stamp[k] = customer as usize;
            let cost = base.tp_cost(r).map(|m| m.to_f64());
            for gi in [Some(n_groups), g].into_iter().flatten() {
                let x = &mut t[gi][k];
                x.touchpoints += 1.0;
                if first {
                    x.reach += 1.0;
                }
                if let Some(c) = cost {
                    x.cost += c;
                    x.cost_known = true;
                }
            }
        }
    }
    // Journeys.
    stamp.fill(usize::MAX);
    let mut assisted: Vec<usize> = Vec::new();
    for (j, journey) in journeys.iter().enumerate() {
        if journey.outcome == JourneyOutcome::Open || journey.touch_rows.is_empty() {
            continue;
        }
        let converted = journey.converted();
        let g = group_of(journey.customer);
        let len = journey.touch_rows.len();
        let last_key = keys.of(base, journey.touch_rows[len - 1] as usize);
        for &r in journey.touch_rows {
            let k = keys.of(base, r as usize);
            let first_in_journey = stamp[k] != j;
            stamp[k] = j;
            for gi in [Some(n_groups), g].into_iter().flatten() {
                let x = &mut t[gi][k];
                if first_in_journey {
                    x.journeys += 1.0;
                    if converted {
                        x.converting += 1.0;
                    }
                }
                if converted {
                    x.linear_conversions += 1.0 / len as f64;
                    x.revenue += journey.value / len as f64;
                }
            }
        }
        if converted {
            for gi in [Some(n_groups), g].into_iter().flatten() {
                t[gi][last_key].last_touch += 1.0;
            }
            // Types appearing before the last position assist (once per journey).
            assisted.clear();
            for &r in &journey.touch_rows[..len - 1] {
                let k = keys.of(base, r as usize);
                if !assisted.contains(&k) {
                    assisted.push(k);
                    for gi in [Some(n_groups), g].into_iter().flatten() {
                        t[gi][k].assisted += 1.0;
                    }
                }
            }
        }
    }
    t
}

fn row(
    group: Option<String>,
    channel: String,
    kind: Option<String>,
    x: &Tally,
    population: usize,
    confidence: f64,
) -> TouchpointRow {
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let cost = x.cost_known.then_some(x.cost);
    TouchpointRow {
        group,
        channel,
        kind,
        reach: x.reach as usize,
        reach_share: ratio(x.reach, population as f64),
        touchpoints: x.touchpoints as usize,
        frequency: ratio(x.touchpoints, x.reach),
        journeys: x.journeys as usize,
        conversions: x.converting as usize,
        conversion_rate: ratio(x.converting, x.journeys),
        conversion_rate_interval: wilson_interval(x.converting, x.journeys, confidence),
        last_touch_conversions: x.last_touch as usize,
        assisted_conversions: x.assisted as usize,
        attributed_conversions: x.linear_conversions,
        revenue: x.revenue,
        cost,
        cost_per_conversion: cost
            .filter(|_| x.linear_conversions > 0.0)
            .map(|c| c / x.linear_conversions),
        roi: cost.filter(|&c| c > 0.0).map(|c| (x.revenue - c) / c),
    }
}

/// The touchpoint inventory with effectiveness per type, overall and (with
/// `groups`) per group.
///
/// # Errors
/// [`Error::InvalidParameter`] for a confidence or alpha outside (0, 1);
/// [`Error::InvalidInput`] when the group labels do not match the base.
pub fn inventory(
    base: &CustomerBase,
    journeys: &Journeys,
    groups: Option<&Segments>,
    params: &EffectivenessParams,
) -> Result<Inventory> {
    params.check()?;
    if let Some(g) = groups {
        g.check_base(base)?;
    }
    let keys = Keys::new(base, params.level);
    let n_groups = groups.map_or(0, |g| g.k());
    let tallies = tally(
        base,
        journeys,
        &keys,
        |c| groups.and_then(|g| group_of(g, c)),
        n_groups,
    );
    let sizes = groups.map(|g| g.sizes()).unwrap_or_default();
    let mut rows = Vec::new();
    for (gi, per_key) in tallies.iter().enumerate() {
        let (name, population) = if gi == n_groups {
            (None, base.n_customers())
        } else {
            (
                groups.map(|g| g.names()[gi].clone()),
                sizes.get(gi).copied().unwrap_or(0),
            )
        };
        let mut group_rows: Vec<TouchpointRow> = per_key
            .iter()
            .enumerate()
            .filter(|(_, x)| x.touchpoints > 0.0)
            .map(|(k, x)| {
                let (channel, kind) = keys.names(base, k);
                row(
                    name.clone(),
                    channel,
                    kind,
                    x,
                    population,
                    params.confidence,
                )
            })
            .collect();
        group_rows.sort_by(|a, b| {
            b.reach
                .cmp(&a.reach)
                .then_with(|| (&a.channel, &a.kind).cmp(&(&b.channel, &b.kind)))
        });
        rows.extend(group_rows);
    }

    // Dissatisfaction per channel.
    let kinds = base.kinds();
    let code = |k: TouchpointKind| kinds.iter().position(|x| *x == k).map(|c| c as u16);
    let (complaint, support, unsubscribe) = (
        code(TouchpointKind::Complaint),
        code(TouchpointKind::Support),
        code(TouchpointKind::Unsubscribe),
    );
    let n_channels = base.channels().len();
    let mut counts = vec![[0usize; 4]; n_channels];
    for (&c, &k) in base.tp_channel_codes().iter().zip(base.tp_kind_codes()) {
        let x = &mut counts[c as usize];
        x[0] += 1;
        if Some(k) == complaint {
            x[1] += 1;
        } else if Some(k) == support {
            x[2] += 1;
        } else if Some(k) == unsubscribe {
            x[3] += 1;
        }
    }
    let dissatisfaction = counts
        .iter()
        .enumerate()
        .filter(|(_, x)| x[0] > 0)
        .map(|(c, x)| ChannelDissatisfaction {
            channel: base.channels()[c].to_string(),
            touchpoints: x[0],
            complaints: x[1],
            support: x[2],
            unsubscribes: x[3],
            share: (x[1] + x[2] + x[3]) as f64 / x[0] as f64,
        })
        .collect();
    let (converted, not_converted, _) = journeys.outcome_counts();
    Ok(Inventory {
        rows,
        dissatisfaction,
        customers: base.n_customers(),
        journeys: converted + not_converted,
        conversions: converted,
    })
}

/// One cell of the touchpoint × group matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupCell {
    /// Closed journeys of the group containing the type.
    pub journeys: usize,
    /// Converting journeys among them.
    pub conversions: usize,
    /// `conversions / journeys` (NaN without journeys).
    pub rate: f64,
    /// Wilson interval.
    pub interval: (f64, f64),
    /// The type's rate in all other groups.
    pub rate_elsewhere: f64,
    /// Two-sided p-value of the pooled two-proportion z-test against the
    /// other groups (NaN when not tested).
    pub p_value: f64,
    /// Benjamini–Hochberg adjusted p-value over the matrix.
    pub adjusted_p_value: f64,
    /// Adjusted p-value below alpha.
    pub significant: bool,
    /// +1 when significantly above the rest, −1 below, 0 otherwise.
    pub direction: i8,
}

/// Conversion rates of touchpoint types (rows) within groups (columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMatrix {
    /// Row labels: channel, or `channel/kind`.
    pub touchpoints: Vec<String>,
    /// Column labels: group names.
    pub groups: Vec<String>,
    /// Overall rate of each row's type.
    pub overall_rate: Vec<f64>,
    /// `cells[row][group]`.
    pub cells: Vec<Vec<GroupCell>>,
    /// Tests in the family (cells with at least `min_journeys` journeys on both sides).
    pub tests: usize,
    /// The false discovery rate used.
    pub alpha: f64,
}

/// The touchpoint × group conversion-rate matrix with multiple-testing
/// controlled significance flags (module docs).
///
/// # Errors
/// As [`inventory`].
pub fn group_matrix(
    base: &CustomerBase,
    journeys: &Journeys,
    groups: &Segments,
    params: &EffectivenessParams,
) -> Result<GroupMatrix> {
    params.check()?;
    groups.check_base(base)?;
    let keys = Keys::new(base, params.level);
    let n_groups = groups.k();
    let tallies = tally(base, journeys, &keys, |c| group_of(groups, c), n_groups);
    let overall = &tallies[n_groups];
    let used: Vec<usize> = (0..keys.n).filter(|&k| overall[k].journeys > 0.0).collect();
    let mut cells: Vec<Vec<GroupCell>> = Vec::with_capacity(used.len());
    let mut p_values = Vec::new();
    for &k in &used {
        // "Elsewhere" is the grouped total minus this group, so ungrouped customers do not dilute it.
        let grouped_j: f64 = (0..n_groups).map(|g| tallies[g][k].journeys).sum();
        let grouped_c: f64 = (0..n_groups).map(|g| tallies[g][k].converting).sum();
        let mut row_cells = Vec::with_capacity(n_groups);
        for per_group in tallies.iter().take(n_groups) {
            let x = &per_group[k];
            let (oj, oc) = (grouped_j - x.journeys, grouped_c - x.converting);
            let tested =
                x.journeys >= params.min_journeys as f64 && oj >= params.min_journeys as f64;
            let (_, p) = if tested {
                two_proportion_z(x.converting, x.journeys, oc, oj)
            } else {
                (f64::NAN, f64::NAN)
            };
            p_values.push(p);
            row_cells.push(GroupCell {
                journeys: x.journeys as usize,
                conversions: x.converting as usize,
                rate: if x.journeys > 0.0 {
                    x.converting / x.journeys
                } else {
                    f64::NAN
                },
                interval: wilson_interval(x.converting, x.journeys, params.confidence),
                rate_elsewhere: if oj > 0.0 { oc / oj } else { f64::NAN },
                p_value: p,
                adjusted_p_value: f64::NAN,
                significant: false,
                direction: 0,
            });
        }
        cells.push(row_cells);
    }
    let adjusted = benjamini_hochberg(&p_values);
    let tests = p_values.iter().filter(|p| !p.is_nan()).count();
    for (cell, &q) in cells.iter_mut().flatten().zip(&adjusted) {
        cell.adjusted_p_value = q;
        cell.significant = q < params.alpha;
        if cell.significant {
            cell.direction = if cell.rate > cell.rate_elsewhere {
                1
            } else {
                -1
            };
        }
    }
    Ok(GroupMatrix {
        touchpoints: used
            .iter()
            .map(|&k| match keys.names(base, k) {
                (c, Some(kind)) => format!("{c}/{kind}"),
                (c, None) => c,
            })
            .collect(),
        groups: groups.names().to_vec(),
        overall_rate: used
            .iter()
            .map(|&k| overall[k].converting / overall[k].journeys)
            .collect(),
        cells,
        tests,
        alpha: params.alpha,
    })
}

/// A window in days: positive and at most 100 years, so it fits microsecond arithmetic.
fn check_window(window_days: f64) -> Result<()> {
    if window_days.is_finite() && window_days > 0.0 && window_days <= 36_525.0 {
        Ok(())
    } else {
        Err(Error::param(
            "window_days",
            window_days,
            "must be positive, at most 36525",
        ))
    }
}

/// A touchpoint type's association with customers being lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LostSignal {
    /// Channel, or `channel/kind`.
    pub touchpoint: String,
    /// Lost customers with the type in the window before their last activity.
    pub lost_with: usize,
    /// Share of lost customers with it.
    pub lost_share: f64,
    /// Share of retained customers with it (same window before their last activity).
    pub retained_share: f64,
    /// `lost_share / retained_share`.
    pub lift: f64,
    /// Benjamini–Hochberg adjusted p-value of the two-proportion z-test.
    pub adjusted_p_value: f64,
}

/// Which touchpoints precede lost customers: for every customer with any
/// touchpoint, the types seen within `window_days` before their last
/// touchpoint, compared between `lost` and retained customers; sorted by lift
/// (types seen by no lost customer are left out).
///
/// `lost` marks lost customers by index, e.g. P(alive) below a threshold or
/// the lifecycle stage `lost`.
///
/// # Errors
/// [`Error::InvalidInput`] when `lost` does not match the base;
/// [`Error::InvalidParameter`] for a non-positive window.
pub fn lost_signals(
    base: &CustomerBase,
    lost: &[bool],
    window_days: f64,
    level: KeyLevel,
) -> Result<Vec<LostSignal>> {
    if lost.len() != base.n_customers() {
        return Err(Error::InvalidInput(format!(
            "lost flags: {} flags for {} customers",
            lost.len(),
            base.n_customers()
        )));
    }
    check_window(window_days)?;
    let keys = Keys::new(base, level);
    let window = (window_days * 86_400e6) as i64;
    let times = base.tp_time_micros();
    let mut with = vec![[0.0f64; 2]; keys.n];
    let mut totals = [0.0f64; 2];
    let mut stamp = vec![u32::MAX; keys.n];
    for customer in 0..base.n_customers() as u32 {
        let rows = base.touchpoint_range(customer);
        let Some(last) = rows.clone().last().map(|r| times[r]) else {
            continue;
        };
        let side = usize::from(lost[customer as usize]);
        totals[side] += 1.0;
        for r in rows.rev() {
            if times[r] < last - window {
                break;
            }
            let k = keys.of(base, r);
            if stamp[k] != customer {
                stamp[k] = customer;
                with[k][side] += 1.0;
            }
        }
    }
    let mut signals = Vec::new();
    let mut p_values = Vec::new();
    for (k, w) in with.iter().enumerate() {
        if w[1] == 0.0 {
            continue;
        }
        let lost_share = w[1] / totals[1];
        let retained_share = if totals[0] > 0.0 {
            w[0] / totals[0]
        } else {
            f64::NAN
        };
        let (_, p) = two_proportion_z(w[1], totals[1], w[0], totals[0]);
        p_values.push(p);
        signals.push(LostSignal {
            touchpoint: match keys.names(base, k) {
                (c, Some(kind)) => format!("{c}/{kind}"),
                (c, None) => c,
            },
            lost_with: w[1] as usize,
            lost_share,
            retained_share,
            lift: lost_share / retained_share,
            adjusted_p_value: f64::NAN,
        });
    }
    for (s, q) in signals.iter_mut().zip(benjamini_hochberg(&p_values)) {
        s.adjusted_p_value = q;
    }
    signals.sort_by(|a, b| {
        b.lift
            .total_cmp(&a.lift)
            .then_with(|| a.touchpoint.cmp(&b.touchpoint))
    });
    Ok(signals)
}

/// Reach of one channel within one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageCell {
    /// Customers of the group with at least `min_touches` touchpoints in the channel.
    pub reached: usize,
    /// `reached / group size`.
    pub share: f64,
}

/// Whom we do not reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Window start (inclusive).
    pub from: jiff::Timestamp,
    /// Window end (inclusive).
    pub to: jiff::Timestamp,
    /// Channels (columns of `cells`).
    pub channels: Vec<String>,
    /// Groups (rows of `cells`); one group `all` without grouping.
    pub groups: Vec<String>,
    /// Group sizes.
    pub group_sizes: Vec<usize>,
    /// `cells[group][channel]`.
    pub cells: Vec<Vec<CoverageCell>>,
    /// Customers per group with fewer than `min_touches` touchpoints over all channels.
    pub under_reached: Vec<usize>,
    /// Those customers' indices, ascending.
    pub under_reached_customers: Vec<u32>,
}

/// Coverage in the `window_days` up to `as_of`: per group and channel the
/// customers reached at least `min_touches` times, and the customers reached
/// fewer times over all channels.
///
/// # Errors
/// [`Error::InvalidParameter`] for a non-positive window or `min_touches` of 0;
/// group errors as [`inventory`].
pub fn coverage(
    base: &CustomerBase,
    groups: Option<&Segments>,
    as_of: jiff::Timestamp,
    window_days: f64,
    min_touches: usize,
) -> Result<Coverage> {
    check_window(window_days)?;
    if min_touches == 0 {
        return Err(Error::param("min_touches", 0, "must be at least 1"));
    }
    if let Some(g) = groups {
        g.check_base(base)?;
    }
    let to = to_micros(as_of);
    let from = to - (window_days * 86_400e6) as i64;
    let n_channels = base.channels().len();
    let (names, sizes): (Vec<String>, Vec<usize>) = match groups {
        Some(g) => (g.names().to_vec(), g.sizes()),
        None => (vec!["all".into()], vec![base.n_customers()]),
    };
    let mut reached = vec![vec![0usize; n_channels]; names.len()];
    let mut under = vec![0usize; names.len()];
    let mut under_customers = Vec::new();
    let mut per_channel = vec![0usize; n_channels];
    let (times, channels) = (base.tp_time_micros(), base.tp_channel_codes());
    for customer in 0..base.n_customers() as u32 {
        // Without grouping everybody is in the one group `all`.
        let Some(g) = groups.map_or(Some(0), |gr| group_of(gr, customer)) else {
            continue;
        };
        per_channel.fill(0);
        let mut total = 0;
        for r in base.touchpoint_range(customer) {
            if (from..=to).contains(&times[r]) {
                per_channel[channels[r] as usize] += 1;
                total += 1;
            }
        }
        for (c, &n) in per_channel.iter().enumerate() {
            if n >= min_touches {
                reached[g][c] += 1;
            }
        }
        if total < min_touches {
            under[g] += 1;
            under_customers.push(customer);
        }
    }
    Ok(Coverage {
        from: crate::store::from_micros(from),
        to: as_of,
        channels: base.channels().iter().map(|c| c.to_string()).collect(),
        cells: reached
            .iter()
            .zip(&sizes)
            .map(|(row, &size)| {
                row.iter()
                    .map(|&r| CoverageCell {
                        reached: r,
                        share: if size > 0 {
                            r as f64 / size as f64
                        } else {
                            f64::NAN
                        },
                    })
                    .collect()
            })
            .collect(),
        groups: names,
        group_sizes: sizes,
        under_reached: under,
        under_reached_customers: under_customers,
    })
}

/// When customers interact: touchpoints by day of week (Monday = 0) and hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Groups (one group `all` without grouping).
    pub groups: Vec<String>,
    /// `counts[group][weekday][hour]`.
    pub counts: Vec<[[u64; 24]; 7]>,
    /// The UTC offset the clock times are in, in minutes.
    pub utc_offset_minutes: i32,
}

/// Touchpoint counts by weekday and hour (local to a fixed UTC offset), per group.
///
/// # Errors
/// [`Error::InvalidParameter`] for an offset beyond ±18 hours; group errors as
/// [`inventory`].
pub fn timing(
    base: &CustomerBase,
    groups: Option<&Segments>,
    utc_offset_minutes: i32,
) -> Result<Timing> {
    if utc_offset_minutes.abs() > 18 * 60 {
        return Err(Error::param(
            "utc_offset_minutes",
            utc_offset_minutes,
            "must be within ±1080",
        ));
    }
    if let Some(g) = groups {
        g.check_base(base)?;
    }
    let names = groups.map_or_else(|| vec!["all".to_owned()], |g| g.names().to_vec());
    let mut counts = vec![[[0u64; 24]; 7]; names.len()];
    const HOUR_US: i64 = 3_600_000_000;
    let offset = i64::from(utc_offset_minutes) * 60_000_000;
    let times = base.tp_time_micros();
    for customer in base.customer_indices() {
        // Without grouping everybody is in the one group `all`.
        let Some(g) = groups.map_or(Some(0), |gr| group_of(gr, customer)) else {
            continue;
        };
        for &t in &times[base.touchpoint_range(customer)] {
            let hours = (t + offset).div_euclid(HOUR_US);
            let hour = hours.rem_euclid(24) as usize;
            // 1970-01-01 was a Thursday (Monday = 0 → Thursday = 3).
            let weekday = (hours.div_euclid(24) + 3).rem_euclid(7) as usize;
            counts[g][weekday][hour] += 1;
        }
    }
    Ok(Timing {
        groups: names,
        counts,
        utc_offset_minutes,
    })
}
