//! Baskets as compact lists of item codes: what was bought together, one
//! basket per order.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Baskets of items, stored as one run of item codes per basket (compressed
/// sparse rows): memory grows with the number of (basket, item) pairs, never
/// with baskets × items.
///
/// An item appears at most once per basket (a repeated item in an order
/// counts once, as in every frequent-itemset definition); codes are dense,
/// `0..n_items()`, in order of first appearance, and each basket's codes are
/// sorted.
///
/// ```
/// use custinsight::basket::Baskets;
///
/// let baskets = Baskets::from_baskets([vec!["bread", "milk"], vec!["milk", "milk", "eggs"]])?;
/// assert_eq!(baskets.len(), 2);
/// assert_eq!(baskets.n_items(), 3);
/// let second: Vec<&str> = baskets.basket(1).iter().map(|&i| baskets.item_name(i)).collect();
/// assert_eq!(second, ["milk", "eggs"]);
/// # Ok::<(), custinsight::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Baskets {
    items: Vec<u32>,
    offsets: Vec<usize>,
    names: Vec<String>,
}

/// Interns item names into dense codes.
#[derive(Debug, Default)]
pub struct BasketsBuilder {
    baskets: Baskets,
    codes: HashMap<String, u32>,
    current: Vec<u32>,
}

impl BasketsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        BasketsBuilder {
            baskets: Baskets {
                offsets: vec![0],
                ..Baskets::default()
            },
            ..BasketsBuilder::default()
        }
    }

    /// The code of `name`, interning it on first sight.
    ///
    /// # Errors
    /// [`Error::Capacity`] beyond 2³² − 1 distinct items.
    pub fn code(&mut self, name: &str) -> Result<u32> {
        if let Some(&c) = self.codes.get(name) {
            return Ok(c);
        }
        let c = u32::try_from(self.baskets.names.len())
            .ok()
            .filter(|&c| c < u32::MAX)
            .ok_or_else(|| Error::Capacity("more than 2^32 - 1 distinct items".into()))?;
        self.codes.insert(name.to_owned(), c);
        self.baskets.names.push(name.to_owned());
        Ok(c)
    }

    /// Adds `name` to the basket being built.
    ///
    /// # Errors
    /// [`Error::Capacity`] beyond 2³² − 1 distinct items.
    pub fn push_item(&mut self, name: &str) -> Result<()> {
        let c = self.code(name)?;
        self.current.push(c);
        Ok(())
    }

    /// Closes the basket being built (an empty one is kept: it counts towards
    /// the number of baskets and so towards support shares).
    pub fn finish_basket(&mut self) {
        self.current.sort_unstable();
        self.current.dedup();
        self.baskets.items.extend_from_slice(&self.current);
        self.baskets.offsets.push(self.baskets.items.len());
        self.current.clear();
    }

    /// The baskets (an open basket is closed first).
    pub fn build(mut self) -> Baskets {
        if !self.current.is_empty() {
            self.finish_basket();
        }
        self.baskets
    }
}

impl Baskets {
    /// Baskets from lists of item names.
    ///
    /// # Errors
    /// [`Error::Capacity`] beyond 2³² − 1 distinct items.
    pub fn from_baskets<B, S>(baskets: impl IntoIterator<Item = B>) -> Result<Baskets>
    where
        B: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut b = BasketsBuilder::new();
        for basket in baskets {
            for item in basket {
                b.push_item(item.as_ref())?;
            }
            b.finish_basket();
        }
        Ok(b.build())
    }

    /// Number of baskets.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no baskets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of distinct items.
    pub fn n_items(&self) -> usize {
        self.names.len()
    }

    /// Number of (basket, item) pairs.
    pub fn n_entries(&self) -> usize {
        self.items.len()
    }

    /// The item codes of basket `i`, ascending (empty beyond the last basket).
    pub fn basket(&self, i: usize) -> &[u32] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.items[a..b],
            _ => &[],
        }
    }

    /// The name of item `code` (empty for an unknown code).
    pub fn item_name(&self, code: u32) -> &str {
        self.names.get(code as usize).map_or("", String::as_str)
    }

    /// Item names, by code.
    pub fn item_names(&self) -> &[String] {
        &self.names
    }

    /// In how many baskets each item appears, by code.
    pub fn item_counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.names.len()];
        for &i in &self.items {
            counts[i as usize] += 1;
        }
        counts
    }

    /// Reads the FIMI format: one basket per line, items separated by blanks
    /// (spaces or tabs). A blank line is an empty basket; a repeated item in
    /// a line counts once; a carriage return before the newline is ignored.
    ///
    /// # Errors
    /// [`Error::Capacity`] beyond 2³² − 1 distinct items.
    pub fn parse_fimi(text: &str) -> Result<Baskets> {
        let mut b = BasketsBuilder::new();
        for line in text.lines() {
            for item in line.split([' ', '\t']).filter(|s| !s.is_empty()) {
                b.push_item(item)?;
            }
            b.finish_basket();
        }
        Ok(b.build())
    }
}
