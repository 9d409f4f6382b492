//! One regression tree of a boosted model, as flat nodes.

use serde::{Deserialize, Serialize};

/// A node: a split, or a leaf with its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Node {
    /// `x[feature] <= threshold` goes to `left`, greater to `right`; a missing value to `left` when `missing_left`.
    Split {
        feature: u32,
        threshold: f64,
        /// The last value bin going left (the same split on binned rows).
        bin: u8,
        missing_left: bool,
        left: u32,
        right: u32,
    },
    /// The tree's output for rows that end here (learning rate applied).
    Leaf { value: f64 },
}

/// A tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
}

impl Tree {
    /// The output for a row whose feature `j` is `value(j)`.
    pub(crate) fn predict(&self, value: impl Fn(usize) -> f64) -> f64 {
        let mut at = 0usize;
        loop {
            match self.nodes.get(at) {
                Some(&Node::Split {
                    feature,
                    threshold,
                    missing_left,
                    left,
                    right,
                    ..
                }) => {
                    let x = value(feature as usize);
                    let go_left = if x.is_nan() {
                        missing_left
                    } else {
                        x <= threshold
                    };
                    at = if go_left { left } else { right } as usize;
                }
                Some(&Node::Leaf { value }) => return value,
                None => return 0.0,
            }
        }
    }

    /// The output for a binned row (`bin(j)`, with `missing(j)` the missing bin of feature `j`).
    pub(crate) fn predict_binned(
        &self,
        bin: impl Fn(usize) -> u8,
        missing: impl Fn(usize) -> u8,
    ) -> f64 {
        let mut at = 0usize;
        loop {
            match self.nodes.get(at) {
                Some(&Node::Split {
                    feature,
                    bin: last_left,
                    missing_left,
                    left,
                    right,
                    ..
                }) => {
                    let j = feature as usize;
                    let b = bin(j);
                    let go_left = if b == missing(j) {
                        missing_left
                    } else {
                        b <= last_left
                    };
                    at = if go_left { left } else { right } as usize;
                }
                Some(&Node::Leaf { value }) => return value,
                None => return 0.0,
            }
        }
    }

    /// Leaves in the tree.
    pub(crate) fn leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count()
    }
}
