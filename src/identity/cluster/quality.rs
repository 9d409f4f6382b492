//! Measures of a clustering: counts of entities and links
//! ([`Entities::summary`]) and pairwise precision and recall against known
//! labels ([`Entities::pairwise_quality`]).

use serde::{Deserialize, Serialize};

use super::{BlockReason, Entities, LinkKind};
use crate::error::{Error, Result};

/// Counts over a clustering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSummary {
    /// Records.
    pub records: usize,
    /// Live entities (retired ids not counted).
    pub entities: usize,
    /// Entities of one record.
    pub singletons: usize,
    /// Records in the largest entity.
    pub largest: usize,
    /// Links that joined parts of an entity.
    pub merge_links: usize,
    /// Links found inside an existing entity.
    pub supporting_links: usize,
    /// Links refused by the size guard.
    pub refused_max_size: usize,
    /// Links refused by the conflict guard.
    pub refused_conflict: usize,
    /// Links refused because they had been unlinked.
    pub refused_unlinked: usize,
    /// Pairs below the threshold (not match links).
    pub below_threshold: usize,
    /// Ids retired by merges in [`Entities::link`].
    pub retired_ids: usize,
}

/// Pairwise agreement of a clustering with known labels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairwiseQuality {
    /// Record pairs of one true customer.
    pub true_pairs: u64,
    /// Record pairs placed in one entity.
    pub predicted_pairs: u64,
    /// Record pairs both.
    pub correct_pairs: u64,
    /// `correct / predicted` (1 when nothing is predicted).
    pub precision: f64,
    /// `correct / true` (1 when nothing is to be found).
    pub recall: f64,
    /// Harmonic mean of the two.
    pub f1: f64,
}

impl Entities {
    /// Pairwise agreement with known labels (`truth[r]`: record `r`'s true
    /// customer): of the record pairs placed in one entity, the share that
    /// are truly one customer (precision); of the truly linked pairs, the
    /// share placed in one entity (recall).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `truth` has not one label per record.
    pub fn pairwise_quality<T: Eq + std::hash::Hash>(
        &self,
        truth: &[T],
    ) -> Result<PairwiseQuality> {
        if truth.len() != self.entity_of.len() {
            return Err(Error::lengths(
                "truth labels per record",
                self.entity_of.len(),
                truth.len(),
            ));
        }
        // Pairs counted by group sizes: within a true customer, within an
        // entity, and within both (cells of the cross-tabulation).
        let pairs = |n: u64| n * n.saturating_sub(1) / 2;
        let mut by_truth: hashbrown::HashMap<&T, u64> = hashbrown::HashMap::new();
        let mut by_both: hashbrown::HashMap<(&T, u32), u64> = hashbrown::HashMap::new();
        let mut by_entity: hashbrown::HashMap<u32, u64> = hashbrown::HashMap::new();
        for (t, &e) in truth.iter().zip(&self.entity_of) {
            *by_truth.entry(t).or_default() += 1;
            *by_both.entry((t, e)).or_default() += 1;
            *by_entity.entry(e).or_default() += 1;
        }
        let true_pairs: u64 = by_truth.values().map(|&n| pairs(n)).sum();
        let predicted_pairs: u64 = by_entity.values().map(|&n| pairs(n)).sum();
        let correct_pairs: u64 = by_both.values().map(|&n| pairs(n)).sum();
        let share = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        let (precision, recall) = (
            share(correct_pairs, predicted_pairs),
            share(correct_pairs, true_pairs),
        );
        Ok(PairwiseQuality {
            true_pairs,
            predicted_pairs,
            correct_pairs,
            precision,
            recall,
            f1: if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            },
        })
    }

    /// Counts over the clustering.
    pub fn summary(&self) -> ClusterSummary {
        let mut s = ClusterSummary {
            records: self.entity_of.len(),
            entities: 0,
            singletons: 0,
            largest: 0,
            merge_links: 0,
            supporting_links: 0,
            refused_max_size: 0,
            refused_conflict: 0,
            refused_unlinked: 0,
            below_threshold: self.below_threshold,
            retired_ids: 0,
        };
        for e in &self.entities {
            match e.members.len() {
                0 => s.retired_ids += 1,
                size => {
                    s.entities += 1;
                    s.singletons += usize::from(size == 1);
                    s.largest = s.largest.max(size);
                }
            }
            for link in &e.links {
                match link.kind {
                    LinkKind::Merge => s.merge_links += 1,
                    LinkKind::Support => s.supporting_links += 1,
                }
            }
        }
        for r in &self.refused {
            match r.reason {
                BlockReason::MaxSize { .. } => s.refused_max_size += 1,
                BlockReason::Conflict { .. } => s.refused_conflict += 1,
                BlockReason::Unlinked => s.refused_unlinked += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ClusterParams, ScoredPair, cluster};

    #[test]
    fn pairwise_quality_counts_pairs() {
        let pairs = [ScoredPair::scored(0, 1, 8.0), ScoredPair::scored(1, 2, 8.0)];
        let e = cluster(4, &pairs, |_, _| None, &ClusterParams::default()).unwrap();
        // Entities {0,1,2},{3}; truth {0,1},{2,3}: 3 predicted pairs, 2 true, 1 both.
        let q = e.pairwise_quality(&["a", "a", "b", "b"]).unwrap();
        assert_eq!(
            (q.predicted_pairs, q.true_pairs, q.correct_pairs),
            (3, 2, 1)
        );
        assert!((q.precision - 1.0 / 3.0).abs() < 1e-12 && (q.recall - 0.5).abs() < 1e-12);
        assert!(matches!(
            e.pairwise_quality(&[1, 2]),
            Err(crate::Error::LengthMismatch {
                expected: 4,
                found: 2,
                ..
            })
        ));
    }
}
