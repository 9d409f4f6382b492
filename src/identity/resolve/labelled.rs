//! `m` from pairs a reviewer labelled: the supervised alternative to EM.
//!
//! EM needs enough candidate pairs per key rule and can settle on the wrong
//! mode; a few hundred pairs a person has looked at estimate `m` directly
//! (each level's share among the true matches). Only `m` comes from the
//! labels, as in Splink's `estimate_m_from_pairwise_labels`: pairs a
//! reviewer looks at are the hard cases, not a random sample, so their
//! levels say little about `u`, which random pairs estimate well already.
//! λ is then re-estimated over all record pairs with the new `m`.

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use super::super::blocking::{self, BlockingParams, LinkType};
use super::{MEstimate, MSource, Resolution, Resolver};
use crate::error::{Error, Result};

/// Two records a reviewer labelled as one customer or two, by record id.
///
/// In dedupe mode both ids are looked up among all records; in link mode
/// `left_id` among the first table's records and `right_id` among the
/// others' (as `--pairs-out` of the `dedupe` example writes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledPair {
    /// One record's id.
    pub left_id: String,
    /// The other record's id.
    pub right_id: String,
    /// Whether they are the same customer.
    pub is_match: bool,
}

impl LabelledPair {
    /// A labelled pair.
    pub fn new(left_id: impl Into<String>, right_id: impl Into<String>, is_match: bool) -> Self {
        LabelledPair {
            left_id: left_id.into(),
            right_id: right_id.into(),
            is_match,
        }
    }
}

impl Resolver {
    /// The record index of an id: in dedupe mode among all records, in link
    /// mode among the first table's (`left`) or the other tables' records.
    fn record_by_id(&self, index: &HashMap<&str, Vec<u32>>, id: &str, left: bool) -> Result<u32> {
        let link = self.settings.link_type == LinkType::Link;
        let on_side = |r: &&u32| !link || (self.prepared.side(**r as usize) == 0) == left;
        let found: Vec<u32> = index
            .get(id)
            .map(|rs| rs.iter().filter(on_side).copied().collect())
            .unwrap_or_default();
        match found.as_slice() {
            [r] => Ok(*r),
            [] => Err(Error::NotFound {
                what: if link && left {
                    "record id in the first table"
                } else if link {
                    "record id in the other tables"
                } else {
                    "record id"
                },
                id: id.to_owned(),
            }),
            _ => Err(Error::duplicate(
                "record ids across tables (label by unique ids)",
                id,
            )),
        }
    }

    /// The record pairs of the labelled matches, every label's ids checked.
    fn labelled_matches(&self, labels: &[LabelledPair]) -> Result<Vec<(u32, u32)>> {
        let mut index: HashMap<&str, Vec<u32>> = HashMap::new();
        for (r, id) in self.ids.iter().enumerate() {
            index.entry(&**id).or_default().push(r as u32);
        }
        let mut matches: Vec<(u32, u32)> = Vec::new();
        for label in labels {
            let a = self.record_by_id(&index, &label.left_id, true)?;
            let b = self.record_by_id(&index, &label.right_id, false)?;
            if a == b {
                return Err(Error::value(
                    "labelled pair",
                    format!("({}, {})", label.left_id, label.right_id),
                    "is one record paired with itself",
                ));
            }
            if label.is_match {
                matches.push((a, b));
            }
        }
        Ok(matches)
    }

    /// Refits `m` from pairs a reviewer labelled, then re-estimates λ,
    /// re-scores every candidate pair and re-derives the customers.
    ///
    /// `m` of each comparison becomes its levels' shares among the labelled
    /// matches (plus the settings' `m_prior` pseudo-counts); comparisons
    /// with fixed `m` keep it, and those where no labelled match has a value
    /// keep theirs (the prior's mean if there is one). `u` stays as
    /// estimated from random pairs. Labelled non-matches must name existing
    /// records too, but do not change `u` (see the module docs).
    ///
    /// The returned resolution's `m_estimation` says, per comparison, where
    /// `m` came from ([`MSource::Labelled`] for the labels). Customers are
    /// derived afresh from all records, so entity ids of an earlier fit or
    /// [`Resolver::add`] are not kept, nor are unlinks made since.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id or (link mode) an id on the
    /// wrong side; [`Error::EmptyInput`] for no labelled match;
    /// [`Error::InvalidValue`] for a pair of one record with itself;
    /// [`Error::Duplicate`] for an id that names several records. On error
    /// the resolver is unchanged.
    pub fn fit_labelled(&mut self, labels: &[LabelledPair]) -> Result<Resolution> {
        let matches = self.labelled_matches(labels)?;
        if matches.is_empty() {
            return Err(Error::empty("labelled matches to estimate m from"));
        }
        let gammas = self.gammas(&matches);
        let mut model = self.model.clone();
        let prior = self.m_prior()?;
        let estimated = model.estimate_m(&gammas, prior.as_deref())?;
        // Which comparisons the labels themselves inform (not only a prior).
        let mut observed = vec![false; model.m.len()];
        for row in gammas.rows() {
            for (seen, &l) in observed.iter_mut().zip(row) {
                *seen |= l >= 0;
            }
        }
        let m_estimation: Vec<MEstimate> = self
            .settings
            .comparisons
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let before = self.m_estimation.get(k);
                let fixed = model.fixed_m.get(k).copied().unwrap_or(false);
                let (source, not_estimated) = match (
                    fixed,
                    observed.get(k).copied().unwrap_or(false),
                    estimated.get(k).copied().unwrap_or(false),
                ) {
                    (true, _, _) => (MSource::Fixed, Vec::new()),
                    (false, true, _) => (MSource::Labelled, Vec::new()),
                    (false, false, from_prior) => {
                        let why = "no labelled match has a value for it".to_owned();
                        let source = if from_prior {
                            MSource::Prior
                        } else {
                            before.map_or(MSource::Start, |b| b.source)
                        };
                        (source, vec![why])
                    }
                };
                MEstimate {
                    comparison: c.name.clone(),
                    source,
                    rules: Vec::new(),
                    not_estimated,
                }
            })
            .collect();

        let params = BlockingParams {
            link_type: self.settings.link_type,
            max_block_size: self.settings.max_block_size,
        };
        let candidates = blocking::candidate_pairs(&self.prepared, &self.rules, &params)?;
        let all = self.gammas(&candidates.pairs);
        // On error, back to the state before the call.
        let old = (
            std::mem::replace(&mut self.model, model),
            self.level_weights.clone(),
            self.m_estimation.clone(),
        );
        let result = self
            .fit_lambda(&all)
            .and_then(|em| self.finish(&candidates, &all, Some(em), m_estimation));
        if result.is_err() {
            (self.model, self.level_weights, self.m_estimation) = old;
        }
        result
    }
}
