//! The touchpoint inventory: reach, frequency, conversions, revenue, cost and
//! ROI per touchpoint type, and dissatisfaction per channel.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::records::TouchpointKind;
use crate::segment::segments::Segments;
use crate::stats::wilson_interval;
use crate::store::CustomerBase;
use crate::touchpoints::journey::Journeys;

use super::count::{Keys, Tally, tally};
use super::{EffectivenessParams, group_of};

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
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for a confidence or alpha outside (0, 1);
/// [`Error::LengthMismatch`](crate::Error::LengthMismatch) when the group labels do not match the base.
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
