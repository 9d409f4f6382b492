//! Customer-level covariates that causal attribution adjusts for: who a
//! customer is decides both which channels reach them and how likely they
//! are to buy, so a channel's effect is only identified given them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::segment::segments::Segments;

/// One covariate, with a value per base customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Covariate {
    /// A category per customer (`None`: missing, its own level).
    Categorical {
        /// Column name.
        name: String,
        /// Level names, by code.
        levels: Vec<String>,
        /// Level code per customer.
        codes: Vec<Option<u32>>,
    },
    /// A number per customer (standardised before fitting).
    Numeric {
        /// Column name.
        name: String,
        /// Value per customer.
        values: Vec<f64>,
    },
}

impl Covariate {
    /// The column name.
    pub fn name(&self) -> &str {
        match self {
            Covariate::Categorical { name, .. } | Covariate::Numeric { name, .. } => name,
        }
    }

    fn len(&self) -> usize {
        match self {
            Covariate::Categorical { codes, .. } => codes.len(),
            Covariate::Numeric { values, .. } => values.len(),
        }
    }
}

/// Covariates aligned with a base's customers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Covariates {
    n_customers: usize,
    columns: Vec<Covariate>,
}

impl Covariates {
    /// No covariates yet, for a base of `n_customers`.
    pub fn for_customers(n_customers: usize) -> Covariates {
        Covariates {
            n_customers,
            columns: Vec::new(),
        }
    }

    /// Adds a column.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for a column not one value per customer;
    /// [`Error::Duplicate`] for a name already used; [`Error::OutOfRange`]
    /// for a category code without a level; [`Error::NonFinite`] for a
    /// non-finite number.
    pub fn with(mut self, column: Covariate) -> Result<Covariates> {
        if column.len() != self.n_customers {
            return Err(Error::lengths(
                format!("covariate `{}` (one value per customer)", column.name()),
                self.n_customers,
                column.len(),
            ));
        }
        if self.columns.iter().any(|c| c.name() == column.name()) {
            return Err(Error::duplicate("covariate", column.name()));
        }
        match &column {
            Covariate::Categorical { levels, codes, .. } => {
                if let Some(&code) = codes
                    .iter()
                    .flatten()
                    .find(|&&c| c as usize >= levels.len())
                {
                    return Err(Error::out_of_range(
                        format!("covariate `{}` level", column.name()),
                        code as usize,
                        levels.len(),
                    ));
                }
            }
            Covariate::Numeric { name, values } => {
                if let Some(row) = values.iter().position(|v| !v.is_finite()) {
                    return Err(Error::non_finite(
                        "covariate",
                        row,
                        name.clone(),
                        values[row],
                    ));
                }
            }
        }
        self.columns.push(column);
        Ok(self)
    }

    /// Adds `segments` as a categorical column named `name` (customers left
    /// out of the segments are its missing level).
    ///
    /// # Errors
    /// As [`with`](Self::with).
    pub fn with_segments(self, name: &str, segments: &Segments) -> Result<Covariates> {
        let codes = (0..segments.len() as u32)
            .map(|c| segments.segment_of(c))
            .collect();
        self.with(Covariate::Categorical {
            name: name.to_owned(),
            levels: segments.names().to_vec(),
            codes,
        })
    }

    /// Customers covered.
    pub fn n_customers(&self) -> usize {
        self.n_customers
    }

    /// The columns, in the order added.
    pub fn columns(&self) -> &[Covariate] {
        &self.columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_checked_against_the_customers() {
        let c = Covariates::for_customers(3);
        assert!(matches!(
            c.clone().with(Covariate::Numeric {
                name: "tenure".into(),
                values: vec![1.0, 2.0],
            }),
            Err(Error::LengthMismatch {
                expected: 3,
                found: 2,
                ..
            })
        ));
        assert!(matches!(
            c.clone().with(Covariate::Numeric {
                name: "tenure".into(),
                values: vec![1.0, f64::NAN, 2.0],
            }),
            Err(Error::NonFinite { row: 1, .. })
        ));
        assert!(matches!(
            c.clone().with(Covariate::Categorical {
                name: "persona".into(),
                levels: vec!["a".into()],
                codes: vec![Some(0), Some(1), None],
            }),
            Err(Error::OutOfRange {
                index: 1,
                len: 1,
                ..
            })
        ));
        let ok = c
            .with(Covariate::Categorical {
                name: "persona".into(),
                levels: vec!["a".into(), "b".into()],
                codes: vec![Some(0), Some(1), None],
            })
            .unwrap();
        assert!(matches!(
            ok.with(Covariate::Numeric {
                name: "persona".into(),
                values: vec![0.0; 3],
            }),
            Err(Error::Duplicate { .. })
        ));
    }
}
