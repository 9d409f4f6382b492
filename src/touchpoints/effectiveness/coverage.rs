//! Whom we do not reach: reach per group and channel in a recent window.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::segment::segments::Segments;
use crate::store::{CustomerBase, to_micros};

use super::{check_window, group_of};

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
/// group errors as [`inventory`](fn@super::inventory).
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
