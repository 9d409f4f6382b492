//! What the features are: the feature list of a spec, its check, and the levels (channels, kinds, categories) taken from a base.

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use super::compute::Plan;
use crate::error::{Error, Result};
use crate::records::{Channel, TouchpointKind};
use crate::store::CustomerBase;

/// One feature (or family of per-level features) to compute; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// `recency`: days since the last purchase.
    Recency,
    /// `frequency`: number of purchases.
    Frequency,
    /// `monetary`: mean purchase amount.
    Monetary,
    /// `total_spend`: sum of purchase amounts.
    TotalSpend,
    /// `tenure`: days since the first purchase or touchpoint.
    Tenure,
    /// `days_active`: distinct days with a purchase or touchpoint.
    DaysActive,
    /// `refund_share`: refunded ÷ purchased amount.
    RefundShare,
    /// `channel_share:<channel>`: share of purchases per channel.
    ChannelShares {
        /// The channels (columns); all channels with a purchase in the base when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channels: Option<Vec<Channel>>,
    },
    /// `touchpoints:<kind>`: touchpoint counts per kind.
    TouchpointCounts {
        /// The kinds (columns); all kinds with a touchpoint in the base when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kinds: Option<Vec<TouchpointKind>>,
    },
    /// `touchpoint_share:<kind>`: share of touchpoints per kind.
    TouchpointShares {
        /// The kinds (columns); all kinds with a touchpoint in the base when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kinds: Option<Vec<TouchpointKind>>,
    },
    /// `touch_share:<channel>`: share of touchpoints per channel
    /// (where and how we meet the customer).
    TouchpointChannelShares {
        /// The channels (columns); all channels with a touchpoint in the base when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channels: Option<Vec<Channel>>,
    },
    /// `category_share:<category>`: share of line-item value per category.
    CategoryShares {
        /// The categories (columns); all categories on purchase line items when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        categories: Option<Vec<String>>,
    },
}

impl Feature {
    /// The feature's snake_case name (as serialised).
    pub fn as_str(&self) -> &'static str {
        match self {
            Feature::Recency => "recency",
            Feature::Frequency => "frequency",
            Feature::Monetary => "monetary",
            Feature::TotalSpend => "total_spend",
            Feature::Tenure => "tenure",
            Feature::DaysActive => "days_active",
            Feature::RefundShare => "refund_share",
            Feature::ChannelShares { .. } => "channel_shares",
            Feature::TouchpointCounts { .. } => "touchpoint_counts",
            Feature::TouchpointShares { .. } => "touchpoint_shares",
            Feature::TouchpointChannelShares { .. } => "touchpoint_channel_shares",
            Feature::CategoryShares { .. } => "category_shares",
        }
    }

    /// Whether the feature's levels are given (always, for features without levels).
    pub(super) fn levels_given(&self) -> bool {
        !matches!(
            self,
            Feature::ChannelShares { channels: None }
                | Feature::TouchpointCounts { kinds: None }
                | Feature::TouchpointShares { kinds: None }
                | Feature::TouchpointChannelShares { channels: None }
                | Feature::CategoryShares { categories: None }
        )
    }

    pub(super) fn uses_money(&self) -> bool {
        matches!(
            self,
            Feature::Monetary
                | Feature::TotalSpend
                | Feature::RefundShare
                | Feature::CategoryShares { .. }
        )
    }
}

/// Which features to compute, in column order.
///
/// The default is every feature but touchpoint kind shares and category
/// shares, with levels from the base:
///
/// ```
/// use custinsight::segment::features::{Feature, FeatureSpec};
///
/// let spec: FeatureSpec = serde_json::from_str(
///     r#"{"features": ["recency", "frequency", {"touchpoint_counts": {"kinds": ["complaint"]}}]}"#,
/// )?;
/// assert_eq!(spec.features[2], Feature::TouchpointCounts {
///     kinds: Some(vec![custinsight::records::TouchpointKind::Complaint]),
/// });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// The features; each at most once.
    pub features: Vec<Feature>,
}

impl Default for FeatureSpec {
    fn default() -> Self {
        FeatureSpec {
            features: vec![
                Feature::Recency,
                Feature::Frequency,
                Feature::Monetary,
                Feature::TotalSpend,
                Feature::Tenure,
                Feature::DaysActive,
                Feature::RefundShare,
                Feature::ChannelShares { channels: None },
                Feature::TouchpointChannelShares { channels: None },
                Feature::TouchpointCounts { kinds: None },
            ],
        }
    }
}

impl FeatureSpec {
    /// A spec with these features.
    pub fn new(features: Vec<Feature>) -> Self {
        FeatureSpec { features }
    }

    /// Checks that no feature and no level is listed twice.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the repeated feature or level.
    pub fn check(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for f in &self.features {
            if !seen.insert(f.as_str()) {
                return Err(Error::param(
                    "features",
                    f.as_str(),
                    "listed more than once",
                ));
            }
            let repeated = match f {
                Feature::ChannelShares { channels: Some(l) } => first_repeat(l),
                Feature::TouchpointCounts { kinds: Some(l) }
                | Feature::TouchpointShares { kinds: Some(l) } => first_repeat(l),
                Feature::TouchpointChannelShares { channels: Some(l) } => first_repeat(l),
                Feature::CategoryShares {
                    categories: Some(l),
                } => first_repeat(l),
                _ => None,
            };
            if let Some(level) = repeated {
                return Err(Error::param(
                    "features",
                    format!("{} `{level}`", f.as_str()),
                    "level listed more than once",
                ));
            }
        }
        Ok(())
    }

    /// The column names the spec gives over `base`, in order.
    ///
    /// # Errors
    /// As [`FeatureMatrix::from_base`](super::FeatureMatrix::from_base).
    pub fn column_names(&self, base: &CustomerBase) -> Result<Vec<String>> {
        Ok(Plan::new(base, self)?.names)
    }

    /// The spec with every level list that was left out filled in from `base`,
    /// so the same columns can be computed later for other customers or another base.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`check`](Self::check).
    pub fn resolve(&self, base: &CustomerBase) -> Result<FeatureSpec> {
        self.check()?;
        let features = self
            .features
            .iter()
            .map(|f| match f {
                Feature::ChannelShares { channels: None } => Feature::ChannelShares {
                    channels: Some(purchase_channels(base)),
                },
                Feature::TouchpointCounts { kinds: None } => Feature::TouchpointCounts {
                    kinds: Some(touchpoint_kinds(base)),
                },
                Feature::TouchpointShares { kinds: None } => Feature::TouchpointShares {
                    kinds: Some(touchpoint_kinds(base)),
                },
                Feature::TouchpointChannelShares { channels: None } => {
                    Feature::TouchpointChannelShares {
                        channels: Some(touchpoint_channels(base)),
                    }
                }
                Feature::CategoryShares { categories: None } => Feature::CategoryShares {
                    categories: Some(purchase_categories(base)),
                },
                other => other.clone(),
            })
            .collect();
        Ok(FeatureSpec { features })
    }
}

fn first_repeat<T: std::hash::Hash + Eq + std::fmt::Display>(list: &[T]) -> Option<String> {
    let mut seen = HashSet::new();
    list.iter()
        .find(|v| !seen.insert(*v))
        .map(ToString::to_string)
}

/// Channels with at least one purchase, in enum order.
fn purchase_channels(base: &CustomerBase) -> Vec<Channel> {
    let codes = base
        .tx_channel_codes()
        .iter()
        .zip(base.tx_is_refund())
        .filter(|(_, refund)| !**refund)
        .map(|(&code, _)| code);
    used_levels(base.channels(), codes)
}

/// Channels with at least one touchpoint, in enum order.
pub(super) fn touchpoint_channels(base: &CustomerBase) -> Vec<Channel> {
    used_levels(base.channels(), base.tp_channel_codes().iter().copied())
}

/// Kinds with at least one touchpoint, in enum order.
pub(super) fn touchpoint_kinds(base: &CustomerBase) -> Vec<TouchpointKind> {
    used_levels(base.kinds(), base.tp_kind_codes().iter().copied())
}

/// The labels whose codes occur, sorted.
fn used_levels<T: Clone + Ord>(labels: &[T], codes: impl Iterator<Item = u16>) -> Vec<T> {
    let mut seen = vec![false; labels.len()];
    for code in codes {
        if let Some(s) = seen.get_mut(usize::from(code)) {
            *s = true;
        }
    }
    let mut levels: Vec<T> = labels
        .iter()
        .zip(&seen)
        .filter(|(_, s)| **s)
        .map(|(l, _)| l.clone())
        .collect();
    levels.sort();
    levels
}

/// Categories on the line items of purchases, sorted.
fn purchase_categories(base: &CustomerBase) -> Vec<String> {
    let refunds = base.tx_is_refund();
    let add = |mut set: BTreeSet<String>, i: usize| {
        if refunds.get(i).copied().unwrap_or(true) {
            return set;
        }
        if let Some(t) = base.transaction(i) {
            set.extend(t.line_items.into_iter().filter_map(|item| item.category));
        }
        set
    };
    #[cfg(feature = "parallel")]
    let set = {
        use rayon::prelude::*;
        (0..base.n_transactions())
            .into_par_iter()
            .fold(BTreeSet::new, add)
            .reduce(BTreeSet::new, |mut a, mut b| {
                a.append(&mut b);
                a
            })
    };
    #[cfg(not(feature = "parallel"))]
    let set = (0..base.n_transactions()).fold(BTreeSet::new(), add);
    set.into_iter().collect()
}
