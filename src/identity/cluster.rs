//! Clustering: matched pairs into entities, one per resolved customer.
//!
//! Scoring ([`fellegi_sunter`](super::fellegi_sunter)) judges record pairs
//! one at a time; a customer is a *set* of records. The classic step from one
//! to the other takes the pairs judged to match as edges of a graph and
//! reads each connected component as one entity (Hassanzadeh et al. 2009;
//! Christen 2012, ch. 6; Splink's `cluster_pairwise_predictions_at_threshold`).
//! Connected components are transitive to a fault: one wrong link between two
//! households, or one shared placeholder e-mail, chains thousands of records
//! into one "customer". Two guards keep that in check here:
//!
//! - **size**: a link that would make an entity larger than
//!   [`ClusterParams::max_cluster_size`] is refused;
//! - **conflicts**: for [`ClusterParams::conflict_columns`] (e.g. a verified
//!   e-mail or a customer number) two *different* non-null values can never
//!   belong to one customer, so a link that would bring them together is
//!   refused.
//!
//! Because the guards make the outcome depend on the order of the links,
//! links are applied strongest first: links of deterministic rules, then by
//! match weight, ties broken by the record indices, so the result does not
//! depend on the order of the input. The union–find structure (Tarjan 1975)
//! keeps each step close to constant time.
//!
//! Nothing is thrown away: every record lands in exactly one entity
//! (singletons included); every link is either part of an entity (the links
//! that joined it, and the links found inside it afterwards as supporting
//! evidence) or listed as refused with its [`BlockReason`].
//!
//! [`Entities`] also supports the stewardship loop of a live system: a wrong
//! link is removed with [`Entities::unlink`] (and never re-added), new
//! records arrive with [`Entities::add_records`] and new links with
//! [`Entities::link`]. Entity ids stay stable throughout: an entity that is
//! not touched keeps its id, a merge keeps the smaller id, a split keeps the
//! id for the part holding the entity's smallest record.
//!
//! Records are addressed by a `u32` index into the concatenation of all
//! sources (see [`Sources`](super::golden::Sources) for a view that does the
//! concatenation); values for the conflict guard come from a caller-supplied
//! accessor `Fn(record, column) -> Option<&str>`. Values are compared as
//! given, so pass normalised values (e.g. from
//! [`normalize_email`](super::normalize::normalize_email)) when spelling
//! differences must not count as conflicts.
//!
//! References: Tarjan, R. E. (1975), "Efficiency of a good but not linear set
//! union algorithm", *JACM* 22(2). Hassanzadeh, O., Chiang, F., Lee, H. C. &
//! Miller, R. J. (2009), "Framework for evaluating clustering algorithms in
//! duplicate detection", *PVLDB* 2(1). Christen, P. (2012), *Data Matching*,
//! Springer.

use std::cmp::Ordering;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One scored candidate pair.
///
/// In JSON a non-finite `weight` is written as the string `"inf"`, `"-inf"`
/// or `"nan"` (JSON numbers cannot hold them) and read back exactly; finite
/// weights are plain numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPair {
    /// One record (index into the concatenated sources).
    pub left: u32,
    /// The other record.
    pub right: u32,
    /// Total match weight (log₂ Bayes factor); `+inf` for a deterministic rule match.
    #[serde(with = "weight_serde")]
    pub weight: f64,
    /// Match probability in [0, 1].
    pub probability: f64,
    /// Name of the deterministic rule that matched the pair, if any (such
    /// pairs are matches regardless of probability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl ScoredPair {
    /// A pair scored by a match weight; the probability is `2^w / (1 + 2^w)`.
    pub fn scored(left: u32, right: u32, weight: f64) -> ScoredPair {
        ScoredPair {
            left,
            right,
            weight,
            probability: super::fellegi_sunter::probability(weight),
            rule: None,
        }
    }

    /// A pair matched by a deterministic rule: weight `+inf`, probability 1.
    pub fn by_rule(left: u32, right: u32, rule: impl Into<String>) -> ScoredPair {
        ScoredPair {
            left,
            right,
            weight: f64::INFINITY,
            probability: 1.0,
            rule: Some(rule.into()),
        }
    }

    /// Whether the pair is a match link at this threshold: a rule matched
    /// it, or its probability reaches the threshold.
    pub fn is_match(&self, threshold: f64) -> bool {
        self.rule.is_some() || self.probability >= threshold
    }

    /// The two records, smaller index first.
    fn key(&self) -> (u32, u32) {
        (self.left.min(self.right), self.left.max(self.right))
    }

    fn check(&self, at: &str, n_records: usize) -> Result<()> {
        let bad = |reason: String| {
            Error::value(
                "scored pair",
                format!("{at} ({}, {})", self.left, self.right),
                reason,
            )
        };
        for r in [self.left, self.right] {
            if r as usize >= n_records {
                return Err(bad(format!("record index {r} outside 0..{n_records}")));
            }
        }
        if self.left == self.right {
            return Err(bad("a record cannot be paired with itself".into()));
        }
        if self.weight.is_nan() {
            return Err(bad("weight is NaN".into()));
        }
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(bad(format!(
                "probability {} outside [0, 1]",
                self.probability
            )));
        }
        Ok(())
    }

    /// Strongest first: rule links, then higher weight, then record indices;
    /// the remaining fields make the order total, so sorting is independent
    /// of the input order.
    fn strength_cmp(&self, other: &ScoredPair) -> Ordering {
        other
            .rule
            .is_some()
            .cmp(&self.rule.is_some())
            .then_with(|| other.weight.total_cmp(&self.weight))
            .then_with(|| (self.left, self.right).cmp(&(other.left, other.right)))
            .then_with(|| other.probability.total_cmp(&self.probability))
            .then_with(|| self.rule.cmp(&other.rule))
    }
}

/// Serde for weights that may be infinite: JSON numbers cannot be.
mod weight_serde {
    use std::fmt;

    use serde::{Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(w: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
        if w.is_finite() {
            s.serialize_f64(*w)
        } else if w.is_nan() {
            s.serialize_str("nan")
        } else if *w > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
        struct Weight;
        impl de::Visitor<'_> for Weight {
            type Value = f64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a number, "inf", "-inf" or "nan""#)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<f64, E> {
                Ok(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<f64, E> {
                match v {
                    "inf" => Ok(f64::INFINITY),
                    "-inf" => Ok(f64::NEG_INFINITY),
                    "nan" => Ok(f64::NAN),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(Weight)
    }
}

/// How to turn pairs into entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterParams {
    /// A pair with probability ≥ `threshold` is a match link (rule pairs
    /// always are). Default 0.5: more likely a match than not.
    pub threshold: f64,
    /// The largest entity a link may create; `None` for no limit. Default
    /// `Some(100)`: far above any real customer's record count, low enough to
    /// stop a shared placeholder value from chaining a whole source together.
    pub max_cluster_size: Option<usize>,
    /// Columns (as understood by the value accessor) where two different
    /// non-null values in one entity are a hard conflict. Default none.
    pub conflict_columns: Vec<usize>,
}

impl Default for ClusterParams {
    fn default() -> Self {
        ClusterParams {
            threshold: 0.5,
            max_cluster_size: Some(100),
            conflict_columns: Vec::new(),
        }
    }
}

impl ClusterParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a threshold outside [0, 1] (or NaN)
    /// or a maximum size of 0.
    pub fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(Error::param(
                "threshold",
                self.threshold,
                "must lie in [0, 1]",
            ));
        }
        if self.max_cluster_size == Some(0) {
            return Err(Error::param(
                "max_cluster_size",
                0,
                "must be at least 1 (or None for no limit)",
            ));
        }
        Ok(())
    }
}

/// Why a match link was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum BlockReason {
    /// The merged entity would have had `size` records, more than the maximum.
    MaxSize {
        /// Size of the entity the link would have created.
        size: usize,
    },
    /// The two entities hold different values of a conflict column.
    Conflict {
        /// The conflict column.
        column: usize,
        /// A value on the `left` record's side.
        left_value: String,
        /// A different value on the `right` record's side.
        right_value: String,
    },
    /// The link was removed by [`Entities::unlink`] and may not return.
    Unlinked,
}

/// How an accepted link relates to its entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// The link joined two parts (an edge of the entity's spanning forest).
    Merge,
    /// Both records were already in the entity: corroborating evidence.
    Support,
}

/// An accepted link, held by the entity it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityLink {
    /// The pair as scored.
    pub pair: ScoredPair,
    /// Whether it joined parts or corroborated them.
    pub kind: LinkKind,
}

/// A match link that was not applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusedLink {
    /// The pair as scored.
    pub pair: ScoredPair,
    /// Why it was refused.
    pub reason: BlockReason,
}

/// One entity slot: a resolved customer, or a retired id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Member records, ascending; empty for a retired id.
    pub members: Vec<u32>,
    /// The accepted links between members, strongest first as applied.
    pub links: Vec<EntityLink>,
    /// For a retired id: the entity it was merged into (always a smaller id).
    pub merged_into: Option<u32>,
}

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

/// Records grouped into entities, with the links that hold each together
/// and the links that were refused.
///
/// Every record belongs to exactly one entity. After [`cluster`] entity ids
/// are dense (`0..entity_count()`) and numbered in order of each entity's
/// smallest record. [`Entities::link`] can retire ids (the slot stays, empty,
/// with [`Entity::merged_into`] set); [`Entities::unlink`] and
/// [`Entities::add_records`] append new ids. Ids of entities an operation
/// does not touch never change.
///
/// Deserialising checks that the data form such a partition and returns an
/// error otherwise, so a loaded value is as consistent as a computed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EntitiesRepr")]
pub struct Entities {
    entity_of: Vec<u32>,
    entities: Vec<Entity>,
    refused: Vec<RefusedLink>,
    /// Unlinked record pairs, smaller index first, sorted.
    forbidden: Vec<(u32, u32)>,
    below_threshold: usize,
}

/// The serialised form of [`Entities`], checked before use.
#[derive(Deserialize)]
struct EntitiesRepr {
    entity_of: Vec<u32>,
    entities: Vec<Entity>,
    refused: Vec<RefusedLink>,
    forbidden: Vec<(u32, u32)>,
    below_threshold: usize,
}

impl TryFrom<EntitiesRepr> for Entities {
    type Error = Error;

    fn try_from(r: EntitiesRepr) -> Result<Entities> {
        let n = r.entity_of.len();
        let bad = |reason: String| Error::InvalidInput(format!("entities: {reason}"));
        if n > u32::MAX as usize || r.entities.len() > u32::MAX as usize {
            return Err(bad("more records or entities than u32 indices".into()));
        }
        let mut covered = 0usize;
        for (id, e) in r.entities.iter().enumerate() {
            if e.members.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad(format!(
                    "members of entity {id} not strictly ascending"
                )));
            }
            for &m in &e.members {
                if r.entity_of.get(m as usize) != Some(&(id as u32)) {
                    return Err(bad(format!(
                        "record {m} listed in entity {id} but not mapped to it"
                    )));
                }
            }
            covered += e.members.len();
            match e.merged_into {
                Some(k) if !e.members.is_empty() || k as usize >= id => {
                    return Err(bad(format!(
                        "entity {id} is retired into {k} but has members or a larger id"
                    )));
                }
                None if e.members.is_empty() => {
                    return Err(bad(format!("entity {id} is empty but not retired")));
                }
                _ => {}
            }
            for link in &e.links {
                link.pair.check(&format!("entity {id} link"), n)?;
                let (a, b) = link.pair.key();
                if e.members.binary_search(&a).is_err() || e.members.binary_search(&b).is_err() {
                    return Err(bad(format!(
                        "link ({a}, {b}) of entity {id} joins records outside it"
                    )));
                }
            }
        }
        if covered != n {
            return Err(bad(format!("{covered} memberships for {n} records")));
        }
        for (i, link) in r.refused.iter().enumerate() {
            link.pair.check(&format!("refused[{i}]"), n)?;
        }
        if r.forbidden.iter().any(|&(a, b)| a >= b || b as usize >= n)
            || r.forbidden.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(bad(
                "forbidden pairs must be (smaller, larger) record indices in range, sorted".into(),
            ));
        }
        Ok(Entities {
            entity_of: r.entity_of,
            entities: r.entities,
            refused: r.refused,
            forbidden: r.forbidden,
            below_threshold: r.below_threshold,
        })
    }
}

/// Union–find over `0..n` with union by size and path halving.
struct UnionFind {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    /// Callers pass indices below `n` only.
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    /// Joins two roots; returns the new root.
    fn union_roots(&mut self, a: usize, b: usize) -> usize {
        let (big, small) = if self.size[a] >= self.size[b] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small] = big;
        self.size[big] += self.size[small];
        big
    }
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
/// [`Sources`](super::golden::Sources), or a closure over normalised values.
///
/// # Errors
/// [`Error::InvalidParameter`] for invalid `params`; [`Error::Capacity`] for
/// more than `u32::MAX` records; [`Error::InvalidValue`] for a pair (named by
/// its position) with a record index out of range, a record paired with
/// itself, a NaN weight or a probability outside [0, 1].
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
    /// Number of records.
    pub fn n_records(&self) -> usize {
        self.entity_of.len()
    }

    /// Number of live entities (retired ids not counted).
    pub fn entity_count(&self) -> usize {
        self.entities
            .iter()
            .filter(|e| !e.members.is_empty())
            .count()
    }

    /// Number of ids ever assigned, retired ones included (ids are `0..id_count()`).
    pub fn id_count(&self) -> usize {
        self.entities.len()
    }

    /// The entity of every record, by record index.
    pub fn entity_of(&self) -> &[u32] {
        &self.entity_of
    }

    /// The entity of one record, or `None` for an unknown record.
    pub fn entity(&self, record: u32) -> Option<u32> {
        self.entity_of.get(record as usize).copied()
    }

    /// One entity slot, or `None` for an unknown id.
    pub fn get(&self, entity: u32) -> Option<&Entity> {
        self.entities.get(entity as usize)
    }

    /// An entity's records, ascending; empty for a retired or unknown id.
    pub fn members(&self, entity: u32) -> &[u32] {
        self.get(entity).map_or(&[], |e| e.members.as_slice())
    }

    /// The accepted links of an entity; empty for a retired or unknown id.
    pub fn links(&self, entity: u32) -> &[EntityLink] {
        self.get(entity).map_or(&[], |e| e.links.as_slice())
    }

    /// For a retired id, the id it was merged into (which may itself be
    /// retired later; see [`Entities::resolve`]).
    pub fn merged_into(&self, entity: u32) -> Option<u32> {
        self.get(entity).and_then(|e| e.merged_into)
    }

    /// The live entity an id stands for now: itself, or the end of its
    /// chain of merges. `None` for an unknown id.
    pub fn resolve(&self, entity: u32) -> Option<u32> {
        let mut id = entity;
        // Each step goes to a strictly smaller id, so this ends.
        loop {
            match self.get(id)?.merged_into {
                Some(next) if next < id => id = next,
                Some(_) => return None,
                None => return Some(id),
            }
        }
    }

    /// Live entities with their members, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u32])> {
        self.entities
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.members.is_empty())
            .map(|(id, e)| (id as u32, e.members.as_slice()))
    }

    /// Match links that were not applied, in the order they were considered.
    pub fn refused(&self) -> &[RefusedLink] {
        &self.refused
    }

    /// Record pairs removed by [`Entities::unlink`], smaller index first, sorted.
    pub fn forbidden(&self) -> &[(u32, u32)] {
        &self.forbidden
    }

    /// Pairwise agreement with known labels (`truth[r]`: record `r`'s true
    /// customer): of the record pairs placed in one entity, the share that
    /// are truly one customer (precision); of the truly linked pairs, the
    /// share placed in one entity (recall).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `truth` has not one label per record.
    pub fn pairwise_quality<T: Eq + std::hash::Hash>(
        &self,
        truth: &[T],
    ) -> Result<PairwiseQuality> {
        if truth.len() != self.entity_of.len() {
            return Err(Error::InvalidInput(format!(
                "{} labels for {} records",
                truth.len(),
                self.entity_of.len()
            )));
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

    /// Removes every link between `left` and `right` (in either order),
    /// forbids the pair so that [`Entities::link`] will not re-add it, and
    /// re-derives the entity from its remaining links.
    ///
    /// The entity falls into the connected components of its remaining
    /// links. The part holding the entity's smallest record keeps its id;
    /// other parts get new ids appended at the end, in order of their
    /// smallest record. Ids of all other entities are unchanged. The guards
    /// need no re-check: every part is a subset of an entity that passed
    /// them. Refused links are not retried (re-run [`cluster`] for that).
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
                Error::InvalidInput(format!("link record {r} is not a member of entity {id}"))
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

    /// Appends `n_new` records, each its own new entity. Record
    /// `n_records() + k` (before the call) gets entity id `start + k` of the
    /// returned range.
    ///
    /// # Errors
    /// [`Error::Capacity`] when records or ids would not fit `u32`.
    pub fn add_records(&mut self, n_new: usize) -> Result<Range<u32>> {
        let (n, ids) = (self.entity_of.len(), self.entities.len());
        let fits = |x: usize| x.checked_add(n_new).is_some_and(|t| t <= u32::MAX as usize);
        if !fits(n) || !fits(ids) {
            return Err(Error::Capacity(format!(
                "{n_new} more records do not fit u32 indices"
            )));
        }
        for k in 0..n_new {
            self.entity_of.push((ids + k) as u32);
            self.entities.push(Entity {
                members: vec![(n + k) as u32],
                links: Vec::new(),
                merged_into: None,
            });
        }
        Ok(ids as u32..(ids + n_new) as u32)
    }

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
        let missing = |r: u32| Error::InvalidInput(format!("record {r} has no entity"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn no_values(_: u32, _: usize) -> Option<&'static str> {
        None
    }

    fn p(left: u32, right: u32, probability: f64) -> ScoredPair {
        ScoredPair {
            left,
            right,
            weight: (probability / (1.0 - probability)).log2(),
            probability,
            rule: None,
        }
    }

    fn partition_holds(e: &Entities) {
        let mut seen = vec![0usize; e.n_records()];
        for (id, members) in e.iter() {
            for &m in members {
                seen[m as usize] += 1;
                assert_eq!(e.entity(m), Some(id));
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
    }

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
        assert!(e.pairwise_quality(&[1, 2]).is_err());
    }

    #[test]
    fn chains_join_and_the_threshold_holds() {
        let pairs = [p(0, 1, 0.9), p(1, 2, 0.8), p(3, 4, 0.4)];
        let e = cluster(5, &pairs, no_values, &ClusterParams::default()).unwrap();
        assert_eq!(e.entity_of(), &[0, 0, 0, 1, 2]);
        assert_eq!(e.members(0), &[0, 1, 2]);
        assert_eq!(e.entity_count(), 3);
        assert_eq!(e.links(0).len(), 2);
        assert_eq!(e.summary().below_threshold, 1);
        assert_eq!(e.summary().singletons, 2);
        let lower = ClusterParams {
            threshold: 0.3,
            ..ClusterParams::default()
        };
        let e = cluster(5, &pairs, no_values, &lower).unwrap();
        assert_eq!(e.members(1), &[3, 4]);
    }

    #[test]
    fn rule_links_count_under_the_threshold() {
        let mut rule = p(2, 3, 0.01);
        rule.rule = Some("same_customer_number".into());
        let e = cluster(4, &[rule], no_values, &ClusterParams::default()).unwrap();
        assert_eq!(e.entity_of(), &[0, 1, 2, 2]);
        assert_eq!(
            e.links(2)[0].pair.rule.as_deref(),
            Some("same_customer_number")
        );
    }

    #[test]
    fn size_guard_refuses_and_reports() {
        let params = ClusterParams {
            max_cluster_size: Some(2),
            ..ClusterParams::default()
        };
        // The stronger link (0, 1) goes first; (1, 2) would make three.
        let pairs = [p(1, 2, 0.8), p(0, 1, 0.9)];
        let e = cluster(3, &pairs, no_values, &params).unwrap();
        assert_eq!(e.members(0), &[0, 1]);
        assert_eq!(e.members(1), &[2]);
        assert_eq!(e.refused().len(), 1);
        assert_eq!(e.refused()[0].pair, pairs[0]);
        assert_eq!(e.refused()[0].reason, BlockReason::MaxSize { size: 3 });
        assert_eq!(e.summary().refused_max_size, 1);
    }

    #[test]
    fn conflicting_emails_block_and_equal_ones_do_not() {
        let emails = [Some("a@x.org"), Some("b@x.org"), None, Some("a@x.org")];
        let values = |r: u32, c: usize| if c == 1 { emails[r as usize] } else { None };
        let params = ClusterParams {
            conflict_columns: vec![1],
            ..ClusterParams::default()
        };
        // 0–2 joins (2 has no e-mail); then 2–1 would bring b next to a.
        let pairs = [p(0, 2, 0.99), p(2, 1, 0.9), p(2, 3, 0.8)];
        let e = cluster(4, &pairs, values, &params).unwrap();
        assert_eq!(e.members(0), &[0, 2, 3]);
        assert_eq!(e.members(1), &[1]);
        assert_eq!(
            e.refused()[0].reason,
            BlockReason::Conflict {
                column: 1,
                left_value: "a@x.org".into(),
                right_value: "b@x.org".into()
            }
        );
        // Without the guard the chain takes all four.
        let e = cluster(4, &pairs, values, &ClusterParams::default()).unwrap();
        assert_eq!(e.entity_count(), 1);
    }

    #[test]
    fn links_inside_an_entity_are_kept_as_support() {
        let pairs = [p(0, 1, 0.9), p(1, 2, 0.9), p(0, 2, 0.7)];
        let e = cluster(3, &pairs, no_values, &ClusterParams::default()).unwrap();
        let kinds: Vec<LinkKind> = e.links(0).iter().map(|l| l.kind).collect();
        assert_eq!(kinds, [LinkKind::Merge, LinkKind::Merge, LinkKind::Support]);
        assert_eq!(e.links(0)[2].pair, pairs[2]);
        assert_eq!(e.summary().supporting_links, 1);
    }

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

    #[test]
    fn link_merges_keeping_the_smaller_id() {
        let params = ClusterParams::default();
        let mut e = cluster(4, &[p(2, 3, 0.9)], no_values, &params).unwrap();
        assert_eq!(e.entity_of(), &[0, 1, 2, 2]);
        let out = e.link(p(3, 1, 0.9), no_values, &params).unwrap();
        assert_eq!(
            out,
            LinkOutcome::Merged {
                kept: 1,
                retired: 2
            }
        );
        assert_eq!(e.entity_of(), &[0, 1, 1, 1]);
        assert_eq!(e.members(1), &[1, 2, 3]);
        assert!(e.members(2).is_empty());
        assert_eq!(e.merged_into(2), Some(1));
        assert_eq!(e.entity_count(), 2);
        assert_eq!(e.id_count(), 3);
        assert_eq!(e.links(1).len(), 2);
        let new = e.add_records(2).unwrap();
        assert_eq!(new, 3..5);
        assert_eq!(e.entity_of(), &[0, 1, 1, 1, 3, 4]);
        assert_eq!(
            e.link(p(5, 0, 0.9), no_values, &params).unwrap(),
            LinkOutcome::Merged {
                kept: 0,
                retired: 4
            }
        );
        assert_eq!(
            e.link(p(1, 0, 0.9), no_values, &params).unwrap(),
            LinkOutcome::Merged {
                kept: 0,
                retired: 1
            }
        );
        assert_eq!(e.resolve(2), Some(0));
        assert_eq!(
            e.link(p(2, 5, 0.9), no_values, &params).unwrap(),
            LinkOutcome::Supporting { entity: 0 }
        );
        assert_eq!(
            e.link(p(2, 4, 0.1), no_values, &params).unwrap(),
            LinkOutcome::BelowThreshold
        );
        partition_holds(&e);
        assert_eq!(e.summary().retired_ids, 3);
        assert!(e.link(p(2, 6, 0.9), no_values, &params).is_err());
    }

    #[test]
    fn invalid_input_errors() {
        let params = ClusterParams::default();
        for (pair, position) in [
            (p(0, 3, 0.9), "pairs[1]"),
            (p(1, 1, 0.9), "pairs[1]"),
            (
                ScoredPair {
                    probability: f64::NAN,
                    ..p(0, 1, 0.9)
                },
                "pairs[1]",
            ),
            (
                ScoredPair {
                    weight: f64::NAN,
                    ..p(0, 1, 0.9)
                },
                "pairs[1]",
            ),
            (
                ScoredPair {
                    probability: 1.5,
                    ..p(0, 1, 0.9)
                },
                "pairs[1]",
            ),
        ] {
            match cluster(3, &[p(0, 1, 0.9), pair], no_values, &params) {
                Err(Error::InvalidValue { value, .. }) => {
                    assert!(value.starts_with(position), "{value}")
                }
                other => panic!("{other:?}"),
            }
        }
        for bad in [
            ClusterParams {
                threshold: f64::NAN,
                ..params.clone()
            },
            ClusterParams {
                threshold: 1.1,
                ..params.clone()
            },
            ClusterParams {
                max_cluster_size: Some(0),
                ..params.clone()
            },
        ] {
            assert!(matches!(
                cluster(3, &[], no_values, &bad),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }

    #[test]
    fn serde_round_trip_and_checked_loading() {
        let mut rule = ScoredPair::by_rule(0, 1, "same_id");
        rule.weight = f64::INFINITY;
        let pairs = [
            rule,
            ScoredPair::scored(1, 2, 3.0),
            ScoredPair::scored(2, 3, -2.0),
        ];
        let mut e = cluster(4, &pairs, no_values, &ClusterParams::default()).unwrap();
        e.unlink(1, 2).unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""weight":"inf""#), "{json}");
        let back: Entities = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        // A record in two entities is refused on load.
        let broken = json.replacen(r#""entity_of":[0,0,"#, r#""entity_of":[0,1,"#, 1);
        assert_ne!(broken, json);
        assert!(serde_json::from_str::<Entities>(&broken).is_err());
    }

    fn arb_case()
    -> impl Strategy<Value = (usize, Vec<ScoredPair>, Vec<Option<String>>, ClusterParams)> {
        (1usize..=60).prop_flat_map(|n| {
            let pair = (
                0..n as u32,
                0..n as u32,
                0u8..12,
                -3i8..6,
                proptest::bool::weighted(0.1),
            )
                .prop_map(move |(left, right, p, w, is_rule)| ScoredPair {
                    left,
                    // A self-pair moves to the next record (and is dropped when n = 1).
                    right: if right == left {
                        (right + 1) % n as u32
                    } else {
                        right
                    },
                    weight: if is_rule { f64::INFINITY } else { f64::from(w) },
                    probability: f64::from(p) / 11.0,
                    rule: is_rule.then(|| "rule".to_owned()),
                });
            (
                Just(n),
                proptest::collection::vec(pair, 0..120),
                proptest::collection::vec(proptest::option::of("[ab]"), n),
                0usize..4,
                1usize..8,
                proptest::bool::ANY,
            )
                .prop_map(|(n, mut pairs, emails, threshold, max, limited)| {
                    pairs.retain(|p| p.left != p.right);
                    let params = ClusterParams {
                        threshold: threshold as f64 / 4.0,
                        max_cluster_size: limited.then_some(max),
                        conflict_columns: vec![0],
                    };
                    (n, pairs, emails, params)
                })
        })
    }

    fn check_invariants(
        e: &Entities,
        n: usize,
        emails: &[Option<String>],
        params: &ClusterParams,
    ) -> std::result::Result<(), TestCaseError> {
        prop_assert_eq!(e.n_records(), n);
        let mut seen = vec![0usize; n];
        for (id, members) in e.iter() {
            prop_assert!(members.windows(2).all(|w| w[0] < w[1]));
            if let Some(max) = params.max_cluster_size {
                prop_assert!(members.len() <= max);
            }
            let mut held: Vec<&str> = members
                .iter()
                .filter_map(|&m| emails[m as usize].as_deref())
                .collect();
            held.sort_unstable();
            held.dedup();
            prop_assert!(held.len() <= 1, "entity {} holds {:?}", id, held);
            for &m in members {
                seen[m as usize] += 1;
                prop_assert_eq!(e.entity(m), Some(id));
            }
            for link in e.links(id) {
                prop_assert!(
                    members.contains(&link.pair.left) && members.contains(&link.pair.right)
                );
            }
        }
        prop_assert!(seen.iter().all(|&c| c == 1));
        Ok(())
    }

    proptest! {
        #[test]
        fn entities_partition_respect_guards_and_ignore_input_order(
            (n, pairs, emails, params) in arb_case(),
            seed in any::<u64>(),
            pick in any::<usize>(),
        ) {
            let values = |r: u32, c: usize| if c == 0 { emails.get(r as usize)?.as_deref() } else { None };
            let e = cluster(n, &pairs, values, &params).unwrap();
            check_invariants(&e, n, &emails, &params)?;
            let s = e.summary();
            prop_assert_eq!(
                s.merge_links + s.supporting_links + s.refused_max_size + s.refused_conflict + s.below_threshold,
                pairs.len()
            );
            prop_assert_eq!(s.merge_links, n - s.entities);

            // Same result from shuffled input.
            let mut shuffled = pairs.clone();
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(&cluster(n, &shuffled, values, &params).unwrap(), &e);

            // Unlinking any accepted link keeps a valid partition.
            let all: Vec<(u32, u32)> = e.iter().flat_map(|(id, _)| e.links(id).iter().map(|l| (l.pair.left, l.pair.right))).collect();
            if !all.is_empty() {
                let (a, b) = all[pick % all.len()];
                let mut after = e.clone();
                let out = after.unlink(a, b).unwrap();
                check_invariants(&after, n, &emails, &params)?;
                prop_assert_eq!(after.entity_count(), e.entity_count() + out.parts.len() - 1);
                prop_assert!(after.iter().all(|(id, _)| after.links(id).iter().all(|l| l.pair.key() != (a.min(b), a.max(b)))));
            }
        }
    }
}
