//! Touchpoint inventory and effectiveness: where we meet customers, what each
//! touchpoint achieves, for whom, and whom we do not reach.
//!
//! A **touchpoint type** is a channel × kind pair (e-mail click, search-ads
//! impression, store visit…), or a channel alone ([`KeyLevel`]). For each:
//!
//! - **Reach**: customers with at least one such touchpoint, and their share
//!   of the base (or group); **frequency**: touchpoints per reached customer.
//! - **Conversions** over closed journeys ([`Journeys`](crate::touchpoints::journey::Journeys)): journeys containing
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

mod count;
mod coverage;
mod group_matrix;
mod inventory;
mod lost_signals;
mod timing;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::segment::segments::Segments;

pub use coverage::{Coverage, CoverageCell, coverage};
pub use group_matrix::{GroupCell, GroupMatrix, group_matrix};
pub use inventory::{ChannelDissatisfaction, Inventory, TouchpointRow, inventory};
pub use lost_signals::{LostSignal, lost_signals};
pub use timing::{Timing, timing};

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
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting.
    pub fn check(&self) -> Result<()> {
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
