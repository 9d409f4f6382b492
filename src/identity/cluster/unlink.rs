//! Unlinking: removing a wrong link and splitting its entity along the
//! links that remain ([`Entities::unlink`]).

use serde::{Deserialize, Serialize};

use super::union_find::UnionFind;
use super::{Entities, Entity, EntityLink, LinkKind, ScoredPair};
use crate::error::{Error, Result};

/// What [`Entities::unlink`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnlinkOutcome {
    /// The links removed (every link between the two records).
    pub removed: Vec<ScoredPair>,
    /// The entity that held them, and the parts it now consists of: the
    /// first is the original id, any others are new ids. One part means the
    /// entity stayed whole (other links still connect it).
    pub parts: Vec<u32>,
}

impl Entities {
    /// Removes every link between `left` and `right` (in either order),
    /// forbids the pair so that [`Entities::link`] will not re-add it, and
    /// re-derives the entity from its remaining links.
    ///
    /// The entity falls into the connected components of its remaining
    /// links. The part holding the entity's smallest record keeps its id;
    /// other parts get new ids appended at the end, in order of their
    /// smallest record. Ids of all other entities are unchanged. The guards
    /// need no re-check: every part is a subset of an entity that passed
    /// them. Refused links are not retried (re-run [`cluster`](super::cluster) for that).
    ///
    /// # Errors
    /// [`Error::NotFound`] when no accepted link joins the two records;
    /// [`Error::Capacity`] when new ids would not fit `u32`. Nothing changes
    /// on error.
    pub fn unlink(&mut self, left: u32, right: u32) -> Result<UnlinkOutcome> {
        let not_found = || Error::NotFound {
            what: "link",
            id: format!("({left}, {right})"),
        };
        let id = self.entity(left).ok_or_else(not_found)?;
        if self.entity(right) != Some(id) {
            return Err(not_found());
        }
        let key = (left.min(right), left.max(right));
        let entity = self.entities.get(id as usize).ok_or_else(not_found)?;
        let (removed, mut remaining): (Vec<EntityLink>, Vec<EntityLink>) = entity
            .links
            .iter()
            .cloned()
            .partition(|l| l.pair.key() == key);
        if removed.is_empty() {
            return Err(not_found());
        }
        let members = &entity.members;
        remaining.sort_by(|a, b| a.pair.strength_cmp(&b.pair));

        // Components of the remaining links, by position in `members`.
        let position = |r: u32| {
            members.binary_search(&r).map_err(|_| {
                Error::value(
                    "entity link",
                    format!("record {r}"),
                    format!("not a member of entity {id}"),
                )
            })
        };
        let mut uf = UnionFind::new(members.len());
        for link in &mut remaining {
            let (a, b) = (position(link.pair.left)?, position(link.pair.right)?);
            let (a, b) = (uf.find(a), uf.find(b));
            link.kind = if a == b {
                LinkKind::Support
            } else {
                uf.union_roots(a, b);
                LinkKind::Merge
            };
        }
        // Parts in order of their smallest member; part 0 holds members[0].
        let mut part_of_root: Vec<Option<usize>> = vec![None; members.len()];
        let mut parts: Vec<Entity> = Vec::new();
        for (i, &r) in members.iter().enumerate() {
            let root = uf.find(i);
            let part = *part_of_root[root].get_or_insert_with(|| {
                parts.push(Entity {
                    members: Vec::new(),
                    links: Vec::new(),
                    merged_into: None,
                });
                parts.len() - 1
            });
            parts[part].members.push(r);
        }
        let part_of_record = |r: u32, uf: &mut UnionFind| -> Result<usize> {
            let root = uf.find(position(r)?);
            part_of_root[root].ok_or_else(|| Error::InvalidInput("unassigned part".into()))
        };
        for link in remaining {
            let part = part_of_record(link.pair.left, &mut uf)?;
            parts[part].links.push(link);
        }
        let first_new = self.entities.len();
        if first_new + parts.len().saturating_sub(1) > u32::MAX as usize {
            return Err(Error::Capacity("entity ids do not fit u32".into()));
        }

        // Commit.
        let mut ids = Vec::with_capacity(parts.len());
        for (j, part) in parts.into_iter().enumerate() {
            let new_id = if j == 0 {
                id
            } else {
                (first_new + j - 1) as u32
            };
            for &r in &part.members {
                self.entity_of[r as usize] = new_id;
            }
            if j == 0 {
                self.entities[id as usize] = part;
            } else {
                self.entities.push(part);
            }
            ids.push(new_id);
        }
        if let Err(at) = self.forbidden.binary_search(&key) {
            self.forbidden.insert(at, key);
        }
        Ok(UnlinkOutcome {
            removed: removed.into_iter().map(|l| l.pair).collect(),
            parts: ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{no_values, p, partition_holds};
    use super::super::{BlockReason, ClusterParams, LinkOutcome, cluster};
    use super::*;

    #[test]
    fn unlink_splits_a_chain_and_keeps_the_id() {
        let pairs = [p(0, 1, 0.9), p(1, 2, 0.9), p(3, 4, 0.9)];
        let mut e = cluster(5, &pairs, no_values, &ClusterParams::default()).unwrap();
        assert_eq!(e.entity_of(), &[0, 0, 0, 1, 1]);
        let out = e.unlink(2, 1).unwrap();
        assert_eq!(out.parts, [0, 2]);
        assert_eq!(out.removed, [pairs[1].clone()]);
        assert_eq!(e.members(0), &[0, 1]);
        assert_eq!(e.members(2), &[2]);
        assert_eq!(e.members(1), &[3, 4], "untouched entity keeps its id");
        assert_eq!(e.entity_of(), &[0, 0, 2, 1, 1]);
        assert_eq!(e.links(0).len(), 1);
        assert!(e.links(2).is_empty());
        assert_eq!(e.forbidden(), &[(1, 2)]);
        partition_holds(&e);
        // Gone, and may not come back.
        assert!(matches!(e.unlink(1, 2), Err(Error::NotFound { .. })));
        let out = e
            .link(pairs[1].clone(), no_values, &ClusterParams::default())
            .unwrap();
        assert_eq!(
            out,
            LinkOutcome::Refused {
                reason: BlockReason::Unlinked
            }
        );
        assert_eq!(e.members(0), &[0, 1]);
    }

    #[test]
    fn unlink_with_another_path_keeps_the_entity_whole() {
        let pairs = [p(0, 1, 0.9), p(1, 2, 0.9), p(0, 2, 0.6)];
        let mut e = cluster(3, &pairs, no_values, &ClusterParams::default()).unwrap();
        let out = e.unlink(1, 2).unwrap();
        assert_eq!(out.parts, [0]);
        assert_eq!(e.members(0), &[0, 1, 2]);
        assert!(e.links(0).iter().all(|l| l.kind == LinkKind::Merge));
    }

    #[test]
    fn unlink_of_unknown_links_errors() {
        let mut e = cluster(4, &[p(0, 1, 0.9)], no_values, &ClusterParams::default()).unwrap();
        for (a, b) in [(0, 2), (2, 3), (0, 9), (9, 0)] {
            assert!(
                matches!(e.unlink(a, b), Err(Error::NotFound { .. })),
                "({a}, {b})"
            );
        }
        assert_eq!(e.entity_of(), &[0, 0, 1, 2]);
    }
}
