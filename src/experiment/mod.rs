//! Controlled experiments: the "experiment per segment, learn what wins
//! where" half of the loop.
//!
//! | question | module |
//! |---|---|
//! | who sees which variant, reproducibly, in which layer, with holdouts, targeting and consent? | [`assign`] |
//! | what did each variant do, per segment, in a form that merges across partitions? | [`stats`] |
//! | how big is the effect, is it real, where does it win, was the split healthy? | [`evaluate`] |
//! | how many units, how long? | [`power`] |
//! | where should the traffic go next? | [`allocate`] |

use serde::{Deserialize, Serialize};

pub mod allocate;
pub mod assign;
pub mod evaluate;
pub mod outcomes;
pub mod power;
pub mod stats;

/// The alternative hypothesis of a test of treatment against control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alternative {
    /// The effect differs from zero in either direction.
    #[default]
    TwoSided,
    /// The treatment is better: the effect is greater than zero.
    Greater,
    /// The treatment is lower: the effect is less than zero.
    Less,
}
