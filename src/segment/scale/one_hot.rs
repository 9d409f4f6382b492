//! The one-hot encoder of a categorical (string) column.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A one-hot encoding of a categorical (string) column: one `name=level` 0/1
/// column per level seen at fit time, levels sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawOneHotEncoder")]
pub struct OneHotEncoder {
    pub(super) name: String,
    pub(super) levels: Vec<String>,
}

#[derive(Deserialize)]
struct RawOneHotEncoder {
    name: String,
    levels: Vec<String>,
}

impl TryFrom<RawOneHotEncoder> for OneHotEncoder {
    type Error = Error;
    fn try_from(raw: RawOneHotEncoder) -> Result<Self> {
        let e = OneHotEncoder {
            name: raw.name,
            levels: raw.levels,
        };
        if e.is_valid() {
            Ok(e)
        } else {
            Err(Error::value(
                "one-hot encoder",
                e.name,
                "empty name, or levels not sorted and distinct",
            ))
        }
    }
}

impl OneHotEncoder {
    /// Learns the distinct values (levels) of a categorical column.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty name.
    pub fn fit(name: &str, values: &[&str]) -> Result<OneHotEncoder> {
        if name.is_empty() {
            return Err(Error::value(
                "one-hot column name",
                name,
                "must be non-empty",
            ));
        }
        let levels: BTreeSet<&str> = values.iter().copied().collect();
        Ok(OneHotEncoder {
            name: name.to_owned(),
            levels: levels.into_iter().map(str::to_owned).collect(),
        })
    }

    /// The categorical column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The levels, sorted.
    pub fn levels(&self) -> &[String] {
        &self.levels
    }

    /// The output column names, `name=level`.
    pub fn output_names(&self) -> Vec<String> {
        self.levels
            .iter()
            .map(|l| format!("{}={l}", self.name))
            .collect()
    }

    /// One 0/1 column per level, and how many values were unknown (all zeros).
    pub fn encode(&self, values: &[&str]) -> (Vec<Vec<f64>>, usize) {
        let mut columns = vec![vec![0.0; values.len()]; self.levels.len()];
        let mut unknown = 0;
        for (r, v) in values.iter().enumerate() {
            match self.levels.binary_search_by(|l| l.as_str().cmp(v)) {
                Ok(j) => {
                    if let Some(cell) = columns.get_mut(j).and_then(|c| c.get_mut(r)) {
                        *cell = 1.0;
                    }
                }
                Err(_) => unknown += 1,
            }
        }
        (columns, unknown)
    }

    /// [`encode`](Self::encode) written into the rows of a row-major
    /// `width`-wide matrix `out` (already zero), from column `first` on;
    /// returns the count of unknown values.
    pub(super) fn encode_into(
        &self,
        values: &[&str],
        out: &mut [f64],
        width: usize,
        first: usize,
    ) -> usize {
        let mut unknown = 0;
        for (r, v) in values.iter().enumerate() {
            match self.levels.binary_search_by(|l| l.as_str().cmp(v)) {
                Ok(j) => {
                    if let Some(cell) = out.get_mut(r * width + first + j) {
                        *cell = 1.0;
                    }
                }
                Err(_) => unknown += 1,
            }
        }
        unknown
    }

    fn is_valid(&self) -> bool {
        !self.name.is_empty() && self.levels.windows(2).all(|w| w[0] < w[1])
    }
}
