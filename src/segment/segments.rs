//! One shape for every grouping of a customer base: a label per customer.
//!
//! Marketing groups customers in many ways: segments found by k-means, RFM
//! cells, lifecycle stages, a column from the CRM. [`Segments`] is the one
//! type every module that works per group accepts (touchpoint effectiveness,
//! experiment statistics, evaluation and allocation, the report), whatever
//! the grouping came from:
//!
//! - a label per customer of a [`CustomerBase`], by the base's customer
//!   index, so it lines up with every other per-customer result without a
//!   join;
//! - the segment names, by label;
//! - optionally a soft membership (each customer's probability of each
//!   segment, e.g. from a Gaussian mixture);
//! - the customers *left out* (no segment), each group with its reason and
//!   count, e.g. "first seen after the round's as-of date": nobody is
//!   silently dropped, `segmented + left out = customers`.
//!
//! ```
//! use custinsight::segment::segments::Segments;
//!
//! // Five customers; the fourth has no purchase yet, so RFM cannot place it.
//! let rfm = Segments::from_labels(
//!     vec!["champions".into(), "at risk".into()],
//!     vec![Some(0), Some(1), Some(0), None, Some(1)],
//!     "no purchase yet",
//! )?;
//! assert_eq!(rfm.sizes(), [2, 2]);
//! assert_eq!(rfm.segment_of(3), None);
//! assert_eq!(rfm.left_out()[0].reason, "no purchase yet");
//! assert_eq!(rfm.left_out()[0].customers, [3]);
//! # Ok::<(), custinsight::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lifecycle::stage::Stage;
use crate::store::CustomerBase;

/// The label of a customer in no segment.
pub const NO_SEGMENT: u32 = u32::MAX;

/// Customers without a segment, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Why they have no segment.
    pub reason: String,
    /// Their customer indices, ascending.
    pub customers: Vec<u32>,
}

/// A segmentation of a customer base: one label per customer (by index),
/// the segment names, the customers left out with their reasons, and
/// optionally a soft membership. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SegmentsRepr")]
pub struct Segments {
    names: Vec<String>,
    labels: Vec<u32>,
    left_out: Vec<LeftOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    membership: Option<Vec<Vec<f32>>>,
}

#[derive(Deserialize)]
struct SegmentsRepr {
    names: Vec<String>,
    labels: Vec<u32>,
    left_out: Vec<LeftOut>,
    #[serde(default)]
    membership: Option<Vec<Vec<f32>>>,
}

impl TryFrom<SegmentsRepr> for Segments {
    type Error = Error;
    fn try_from(r: SegmentsRepr) -> Result<Segments> {
        let s = Segments {
            names: r.names,
            labels: r.labels,
            left_out: r.left_out,
            membership: None,
        };
        s.check()?;
        match r.membership {
            Some(m) => s.with_membership(m),
            None => Ok(s),
        }
    }
}

impl Segments {
    /// Segments from a label per customer (`None`: left out, for `reason`).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a label without a name; [`Error::Duplicate`]
    /// for a repeated name; [`Error::InvalidValue`] for an empty name.
    pub fn from_labels(
        names: Vec<String>,
        labels: Vec<Option<u32>>,
        reason: &str,
    ) -> Result<Segments> {
        let mut left = Vec::new();
        let labels = labels
            .into_iter()
            .enumerate()
            .map(|(c, l)| match l {
                Some(l) => l,
                None => {
                    left.push(c as u32);
                    NO_SEGMENT
                }
            })
            .collect();
        let left_out = if left.is_empty() {
            Vec::new()
        } else {
            vec![LeftOut {
                reason: reason.to_owned(),
                customers: left,
            }]
        };
        let s = Segments {
            names,
            labels,
            left_out,
            membership: None,
        };
        s.check()?;
        Ok(s)
    }

    /// Segments of `n_customers` customers from the labels of some of them:
    /// `rows[i]` is the customer index of label `labels[i]` (e.g. the rows a
    /// model was fitted on); every other customer is left out for `reason`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for lengths that differ; [`Error::OutOfRange`]
    /// for a customer index out of range or a label without a name;
    /// [`Error::Duplicate`] for a customer index given twice;
    /// [`Error::InvalidValue`] for a label beyond 32 bits.
    pub fn from_rows(
        n_customers: usize,
        rows: &[u32],
        labels: &[usize],
        names: Vec<String>,
        reason: &str,
    ) -> Result<Segments> {
        if rows.len() != labels.len() {
            return Err(Error::lengths(
                "segments: labels (one per row)",
                rows.len(),
                labels.len(),
            ));
        }
        let mut all: Vec<Option<u32>> = vec![None; n_customers];
        for (&c, &l) in rows.iter().zip(labels) {
            let slot = all.get_mut(c as usize).ok_or_else(|| {
                Error::out_of_range("segments: customer index", c as usize, n_customers)
            })?;
            if slot.is_some() {
                return Err(Error::duplicate(
                    "segments: labelled customer indices",
                    c.to_string(),
                ));
            }
            *slot = Some(u32::try_from(l).map_err(|_| {
                Error::value("segment label", l.to_string(), "must fit in 32 bits")
            })?);
        }
        Segments::from_labels(names, all, reason)
    }

    /// Lifecycle stages as segments, named after the stages (every stage is
    /// a segment, in lifecycle order, so ids mean the same in every round);
    /// customers without a stage are left out for `reason`.
    ///
    /// # Errors
    /// As [`from_labels`](Self::from_labels) (never for stages).
    pub fn from_stages(stages: &[Option<Stage>], reason: &str) -> Result<Segments> {
        Segments::from_labels(
            Stage::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
            stages.iter().map(|s| s.map(|s| s as u32)).collect(),
            reason,
        )
    }

    /// Segments from a column a user has, by customer id: `(id, label)`
    /// pairs; segment names are the distinct labels in order of first
    /// appearance. Customers of `base` without a pair are left out ("no
    /// label given"); returns the segments and the ids not in the base.
    ///
    /// # Errors
    /// [`Error::Duplicate`] for a customer labelled twice; [`Error::InvalidValue`]
    /// for an empty label.
    pub fn from_column<'a>(
        base: &CustomerBase,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(Segments, Vec<String>)> {
        let mut names: Vec<String> = Vec::new();
        let mut labels: Vec<Option<u32>> = vec![None; base.n_customers()];
        let mut unknown = Vec::new();
        for (id, label) in pairs {
            let label = label.trim();
            if label.is_empty() {
                return Err(Error::value(
                    "segment label",
                    label,
                    format!("empty label for customer `{id}`"),
                ));
            }
            let Some(c) = base.index_of(id) else {
                unknown.push(id.to_owned());
                continue;
            };
            let l = match names.iter().position(|n| n == label) {
                Some(l) => l,
                None => {
                    names.push(label.to_owned());
                    names.len() - 1
                }
            };
            let slot = &mut labels[c as usize];
            if slot.is_some() {
                return Err(Error::duplicate("segments: labelled customer ids", id));
            }
            *slot = Some(l as u32);
        }
        Ok((
            Segments::from_labels(names, labels, "no label given")?,
            unknown,
        ))
    }

    /// Adds a soft membership: per customer, the probability of each
    /// segment (rows of left-out customers are ignored and may be empty).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for a row count other than the customers, or a
    /// segmented customer's row of other than `k` probabilities;
    /// [`Error::InvalidValue`] for a probability outside [0, 1].
    pub fn with_membership(mut self, membership: Vec<Vec<f32>>) -> Result<Segments> {
        if membership.len() != self.labels.len() {
            return Err(Error::lengths(
                "segments: membership rows (one per customer)",
                self.labels.len(),
                membership.len(),
            ));
        }
        let k = self.names.len();
        for (c, (row, &l)) in membership.iter().zip(&self.labels).enumerate() {
            if l != NO_SEGMENT {
                if row.len() != k {
                    return Err(Error::lengths(
                        format!("segments: membership probabilities of customer {c}"),
                        k,
                        row.len(),
                    ));
                }
                if let Some(p) = row.iter().find(|p| !(0.0..=1.0 + 1e-4).contains(*p)) {
                    return Err(Error::value(
                        "segment membership probability",
                        format!("customer {c}: {p}"),
                        "must be in [0, 1]",
                    ));
                }
            }
        }
        self.membership = Some(membership);
        Ok(self)
    }

    fn check(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for n in &self.names {
            if n.trim().is_empty() {
                return Err(Error::value(
                    "segment name",
                    n.as_str(),
                    "must be non-empty",
                ));
            }
            if !seen.insert(n.as_str()) {
                return Err(Error::duplicate("segment names", n.as_str()));
            }
        }
        let k = self.names.len() as u32;
        if let Some(&bad) = self.labels.iter().find(|&&l| l != NO_SEGMENT && l >= k) {
            return Err(Error::out_of_range(
                "segments: label (one name per segment)",
                bad as usize,
                k as usize,
            ));
        }
        let left: usize = self.left_out.iter().map(|l| l.customers.len()).sum();
        let unlabelled = self.labels.iter().filter(|&&l| l == NO_SEGMENT).count();
        let consistent = left == unlabelled
            && self.left_out.iter().all(|l| {
                l.customers
                    .iter()
                    .all(|&c| self.labels.get(c as usize) == Some(&NO_SEGMENT))
            });
        if !consistent {
            return Err(Error::lengths(
                "segments: customers listed as left out (one per customer without a segment)",
                unlabelled,
                left,
            ));
        }
        Ok(())
    }

    /// Number of customers (segmented or not).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no customers.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of segments.
    pub fn k(&self) -> usize {
        self.names.len()
    }

    /// Segment names, by label.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The label of every customer ([`NO_SEGMENT`] for the left out).
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// The segment of one customer, or `None` when left out (or out of range).
    pub fn segment_of(&self, customer: u32) -> Option<u32> {
        self.labels
            .get(customer as usize)
            .copied()
            .filter(|&l| l != NO_SEGMENT)
    }

    /// Customers per segment.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.names.len()];
        for &l in &self.labels {
            if let Some(s) = sizes.get_mut(l as usize) {
                *s += 1;
            }
        }
        sizes
    }

    /// The customers left out, by reason.
    pub fn left_out(&self) -> &[LeftOut] {
        &self.left_out
    }

    /// Customers with a segment.
    pub fn segmented(&self) -> usize {
        self.labels.len()
            - self
                .left_out
                .iter()
                .map(|l| l.customers.len())
                .sum::<usize>()
    }

    /// The soft membership, when given.
    pub fn membership(&self) -> Option<&[Vec<f32>]> {
        self.membership.as_deref()
    }

    /// The customers of one segment, ascending.
    pub fn members(&self, segment: u32) -> impl Iterator<Item = u32> + '_ {
        self.labels
            .iter()
            .enumerate()
            .filter(move |(_, l)| **l == segment)
            .map(|(c, _)| c as u32)
    }

    /// Checks that the segments are of `base`'s customers.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the number of customers differs.
    pub fn check_base(&self, base: &CustomerBase) -> Result<()> {
        if self.labels.len() != base.n_customers() {
            return Err(Error::lengths(
                "segments: labels (one per customer of the base)",
                base.n_customers(),
                self.labels.len(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
impl Segments {
    /// The synthetic population's personas as segments, the first `skip`
    /// customers left out of the labels (so `skip > 0` does not fit the base).
    pub(crate) fn of_personas(pop: &crate::synth::Population, skip: usize) -> Segments {
        let labels = pop.truth.persona[skip.min(pop.truth.persona.len())..]
            .iter()
            .map(|&p| Some(u32::from(p)))
            .collect();
        Segments::from_labels(pop.truth.persona_names.clone(), labels, "none")
            .expect("persona names are distinct")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_fit_become_labels_of_the_base_and_nobody_is_lost() {
        let s = Segments::from_rows(
            5,
            &[4, 0, 2],
            &[1, 0, 1],
            vec!["a".into(), "b".into()],
            "unseen",
        )
        .unwrap();
        assert_eq!(s.labels(), [0, NO_SEGMENT, 1, NO_SEGMENT, 1]);
        assert_eq!(s.sizes(), [1, 2]);
        assert_eq!(s.segmented() + s.left_out()[0].customers.len(), s.len());
        assert_eq!(s.left_out()[0].customers, [1, 3]);
        assert_eq!(s.members(1).collect::<Vec<_>>(), [2, 4]);
        // A customer twice, out of range, or a label without a name: errors.
        let names = || vec!["a".to_owned(), "b".to_owned()];
        assert!(matches!(
            Segments::from_rows(5, &[1, 1], &[0, 1], names(), "x"),
            Err(Error::Duplicate { ref key, .. }) if key == "1"
        ));
        assert!(matches!(
            Segments::from_rows(2, &[5], &[0], names(), "x"),
            Err(Error::OutOfRange {
                index: 5,
                len: 2,
                ..
            })
        ));
        assert!(matches!(
            Segments::from_rows(2, &[0], &[2], names(), "x"),
            Err(Error::OutOfRange {
                index: 2,
                len: 2,
                ..
            })
        ));
        assert!(matches!(
            Segments::from_labels(vec!["a".into(), "a".into()], vec![], "x"),
            Err(Error::Duplicate { ref key, .. }) if key == "a"
        ));
    }

    #[test]
    fn deserialised_segments_are_checked() {
        let s = Segments::from_labels(vec!["a".into()], vec![Some(0), None], "left")
            .unwrap()
            .with_membership(vec![vec![1.0], vec![]])
            .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: Segments = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        // A left-out list that does not match the labels is refused.
        let bad = json.replace("\"customers\":[1]", "\"customers\":[0]");
        assert_ne!(bad, json);
        // serde_json::Error has no custinsight variant to match (the check's
        // error reaches it as text); a data error, not a syntax one, is the
        // most the type says.
        assert!(matches!(serde_json::from_str::<Segments>(&bad), Err(e) if e.is_data()));
        assert!(matches!(
            s.clone().with_membership(vec![vec![0.5, 0.5], vec![]]),
            Err(Error::LengthMismatch {
                expected: 1,
                found: 2,
                ..
            })
        ));
    }

    #[test]
    fn stages_are_segments_in_lifecycle_order() {
        let s = Segments::from_stages(&[Some(Stage::Churned), None, Some(Stage::New)], "unseen")
            .unwrap();
        assert_eq!(s.k(), 6);
        assert_eq!(s.names()[5], "churned");
        assert_eq!(s.segment_of(0), Some(5));
        assert_eq!(s.segment_of(1), None);
    }
}
