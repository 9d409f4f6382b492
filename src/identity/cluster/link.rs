//! Applying match links under the size and conflict guards: all pairs at
//! once ([`cluster`]) or one more pair at a time ([`Entities::link`]).

use serde::{Deserialize, Serialize};

use super::union_find::UnionFind;
use super::{
    BlockReason, ClusterParams, Entities, Entity, EntityLink, LinkKind, RefusedLink, ScoredPair,
};
use crate::error::{Error, Result};

/// What [`Entities::link`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LinkOutcome {
    /// Two entities merged; `kept` (the smaller id) holds all records, `retired` is empty.
    Merged {
        /// The surviving id.
        kept: u32,
        /// The retired id.
        retired: u32,
    },
    /// Both records were already in `entity`; the link was added as support.
    Supporting {
        /// The entity.
        entity: u32,
    },
    /// A guard refused the link; it is listed in [`Entities::refused`].
    Refused {
        /// Why.
        reason: BlockReason,
    },
    /// Not a match link at the threshold; nothing changed but the count.
    BelowThreshold,
}

/// Per conflict column, the distinct values of a group of records, sorted.
/// Under the guard a group never holds two, but an entity built with other
/// settings might, so sets are kept general.
type ValueSets = Vec<Vec<String>>;

fn record_sets<'v>(
    record: u32,
    values: &impl Fn(u32, usize) -> Option<&'v str>,
    columns: &[usize],
) -> ValueSets {
    columns
        .iter()
        .map(|&c| {
            values(record, c)
                .map(|v| vec![v.to_owned()])
                .unwrap_or_default()
        })
        .collect()
}

fn group_sets<'v>(
    members: &[u32],
    values: &impl Fn(u32, usize) -> Option<&'v str>,
    columns: &[usize],
) -> ValueSets {
    let mut sets: ValueSets = vec![Vec::new(); columns.len()];
    for &m in members {
        merge_sets(&mut sets, record_sets(m, values, columns));
    }
    sets
}

fn merge_sets(into: &mut ValueSets, from: ValueSets) {
    for (a, b) in into.iter_mut().zip(from) {
        a.extend(b);
        a.sort_unstable();
        a.dedup();
    }
}

/// The guard: `None` if the two groups may merge.
fn guard(
    sizes: (usize, usize),
    sets: (&ValueSets, &ValueSets),
    params: &ClusterParams,
) -> Option<BlockReason> {
    let size = sizes.0 + sizes.1;
    if params.max_cluster_size.is_some_and(|max| size > max) {
        return Some(BlockReason::MaxSize { size });
    }
    for ((a, b), &column) in sets.0.iter().zip(sets.1).zip(&params.conflict_columns) {
        if !a.is_empty() && !b.is_empty() && a != b {
            // Name a value each side has that the other lacks, where there is one.
            let pick = |x: &[String], y: &[String]| {
                x.iter()
                    .find(|v| !y.contains(v))
                    .or(x.first())
                    .cloned()
                    .unwrap_or_default()
            };
            return Some(BlockReason::Conflict {
                column,
                left_value: pick(a, b),
                right_value: pick(b, a),
            });
        }
    }
    None
}

/// Groups `pairs` into entities by their match links, strongest first, with
/// the size and conflict guards of `params`.
///
/// `values(record, column)` returns a record's value in a conflict column
/// (only the columns in [`ClusterParams::conflict_columns`] are asked for);
/// e.g. `|r, c| sources.value(r, c)` with
/// [`Sources`](crate::identity::golden::Sources), or a closure over normalised values.
///
/// # Errors
/// [`Error::InvalidParameter`] for invalid `params`; [`Error::Capacity`] for
/// more than `u32::MAX` records; [`Error::OutOfRange`] for a pair (named by
/// its position) with a record index out of range; [`Error::InvalidValue`]
/// for a record paired with itself, a NaN weight or a probability outside
/// [0, 1].
///
/// # Example
/// ```
/// use custinsight::identity::cluster::{cluster, ClusterParams, ScoredPair};
///
/// let pairs = [ScoredPair::scored(0, 1, 8.0), ScoredPair::scored(1, 2, 6.0)];
/// let entities = cluster(4, &pairs, |_, _| None, &ClusterParams::default())?;
/// assert_eq!(entities.members(0), &[0, 1, 2]);
/// assert_eq!(entities.members(1), &[3]);
/// # Ok::<(), custinsight::Error>(())
/// ```
pub fn cluster<'v, V>(
    n_records: usize,
    pairs: &[ScoredPair],
    values: V,
    params: &ClusterParams,
) -> Result<Entities>
where
    V: Fn(u32, usize) -> Option<&'v str>,
{
    params.check()?;
    if n_records > u32::MAX as usize {
        return Err(Error::Capacity(format!(
            "{n_records} records do not fit u32 indices"
        )));
    }
    for (i, p) in pairs.iter().enumerate() {
        p.check(&format!("pairs[{i}]"), n_records)?;
    }
    let mut links: Vec<&ScoredPair> = pairs
        .iter()
        .filter(|p| p.is_match(params.threshold))
        .collect();
    let below_threshold = pairs.len() - links.len();
    links.sort_by(|a, b| a.strength_cmp(b));

    let columns = &params.conflict_columns;
    let mut uf = UnionFind::new(n_records);
    let mut sets: Vec<ValueSets> = (0..n_records as u32)
        .map(|r| record_sets(r, &values, columns))
        .collect();
    let mut accepted: Vec<EntityLink> = Vec::new();
    let mut refused: Vec<RefusedLink> = Vec::new();
    for pair in links {
        let (a, b) = (uf.find(pair.left as usize), uf.find(pair.right as usize));
        if a == b {
            accepted.push(EntityLink {
                pair: pair.clone(),
                kind: LinkKind::Support,
            });
            continue;
        }
        if let Some(reason) = guard((uf.size[a], uf.size[b]), (&sets[a], &sets[b]), params) {
            refused.push(RefusedLink {
                pair: pair.clone(),
                reason,
            });
            continue;
        }
        let root = uf.union_roots(a, b);
        let other = if root == a { b } else { a };
        let moved = std::mem::take(&mut sets[other]);
        merge_sets(&mut sets[root], moved);
        accepted.push(EntityLink {
            pair: pair.clone(),
            kind: LinkKind::Merge,
        });
    }

    // Ids in order of each entity's smallest record.
    let mut id_of_root: Vec<Option<u32>> = vec![None; n_records];
    let mut entity_of = Vec::with_capacity(n_records);
    let mut entities: Vec<Entity> = Vec::new();
    for r in 0..n_records {
        let root = uf.find(r);
        let id = match id_of_root[root] {
            Some(id) => id,
            None => {
                let id = entities.len() as u32;
                id_of_root[root] = Some(id);
                entities.push(Entity {
                    members: Vec::new(),
                    links: Vec::new(),
                    merged_into: None,
                });
                id
            }
        };
        entity_of.push(id);
        entities[id as usize].members.push(r as u32);
    }
    for link in accepted {
        let id = entity_of[link.pair.left as usize];
        entities[id as usize].links.push(link);
    }
    Ok(Entities {
        entity_of,
        entities,
        refused,
        forbidden: Vec::new(),
        below_threshold,
    })
}

impl Entities {
    /// Applies one more pair with the guards of `params`, incrementally.
    ///
    /// A match link between two entities merges them if the guards allow:
    /// the merged entity keeps the smaller id, the larger id is retired (its
    /// slot stays, empty, with [`Entity::merged_into`] pointing at the kept
    /// id), so ids held elsewhere can be followed with [`Entities::resolve`].
    /// A link inside one entity is added as support. A refused link is
    /// listed in [`Entities::refused`], as is a pair forbidden by
    /// [`Entities::unlink`]. `values` is as for [`cluster`].
    ///
    /// # Errors
    /// As [`cluster`] for invalid `params` or an invalid pair. Nothing
    /// changes on error.
    pub fn link<'v, V>(
        &mut self,
        pair: ScoredPair,
        values: V,
        params: &ClusterParams,
    ) -> Result<LinkOutcome>
    where
        V: Fn(u32, usize) -> Option<&'v str>,
    {
        params.check()?;
        pair.check("pair", self.entity_of.len())?;
        if !pair.is_match(params.threshold) {
            self.below_threshold += 1;
            return Ok(LinkOutcome::BelowThreshold);
        }
        if self.forbidden.binary_search(&pair.key()).is_ok() {
            let reason = BlockReason::Unlinked;
            self.refused.push(RefusedLink {
                pair,
                reason: reason.clone(),
            });
            return Ok(LinkOutcome::Refused { reason });
        }
        let missing = |r: u32| {
            Error::out_of_range("records with an entity", r as usize, self.entity_of.len())
        };
        let a = self.entity(pair.left).ok_or_else(|| missing(pair.left))?;
        let b = self.entity(pair.right).ok_or_else(|| missing(pair.right))?;
        if a == b {
            let entity = self
                .entities
                .get_mut(a as usize)
                .ok_or_else(|| missing(pair.left))?;
            entity.links.push(EntityLink {
                pair,
                kind: LinkKind::Support,
            });
            return Ok(LinkOutcome::Supporting { entity: a });
        }
        let (ma, mb) = (self.members(a), self.members(b));
        let columns = &params.conflict_columns;
        let sets = (
            group_sets(ma, &values, columns),
            group_sets(mb, &values, columns),
        );
        if let Some(reason) = guard((ma.len(), mb.len()), (&sets.0, &sets.1), params) {
            self.refused.push(RefusedLink {
                pair,
                reason: reason.clone(),
            });
            return Ok(LinkOutcome::Refused { reason });
        }
        let (kept, retired) = (a.min(b), a.max(b));
        if kept as usize >= self.entities.len() || retired as usize >= self.entities.len() {
            return Err(missing(pair.left));
        }
        let gone = std::mem::replace(
            &mut self.entities[retired as usize],
            Entity {
                members: Vec::new(),
                links: Vec::new(),
                merged_into: Some(kept),
            },
        );
        for &r in &gone.members {
            self.entity_of[r as usize] = kept;
        }
        let target = &mut self.entities[kept as usize];
        target.members.extend(gone.members);
        target.members.sort_unstable();
        target.links.extend(gone.links);
        target.links.push(EntityLink {
            pair,
            kind: LinkKind::Merge,
        });
        Ok(LinkOutcome::Merged { kept, retired })
    }
}
