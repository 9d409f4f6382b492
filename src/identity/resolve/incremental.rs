//! Incremental resolution: new records blocked against an index of the
//! existing keys, scored with the fitted model and linked into the
//! customers ([`Resolver::add`]).

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use super::super::blocking::{self, LinkType, pack, sort_dedup};
use super::super::cluster::ScoredPair;
use super::super::table::RecordTable;
use super::Resolver;
use crate::error::Result;

/// What an incremental addition did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Increment {
    /// Indices of the new records.
    pub records: std::ops::Range<u32>,
    /// Candidate pairs involving a new record.
    pub candidate_pairs: usize,
    /// Match links found.
    pub matches: Vec<ScoredPair>,
    /// New records that joined an existing customer.
    pub joined_existing: usize,
    /// Customers founded by new records only.
    pub new_entities: usize,
}

/// Key index for incremental blocking: key rules hash to records, sorted
/// neighbourhood rules keep their sorted keys.
#[derive(Debug, Clone, Default)]
pub(super) struct BlockIndex {
    keys: Vec<HashMap<u64, Vec<u32>>>,
    sorted: Vec<Vec<(String, u32)>>,
}

impl Resolver {
    fn build_index(&mut self) -> Result<()> {
        if self.index.is_some() {
            return Ok(());
        }
        let mut index = BlockIndex::default();
        for rule in &self.rules {
            if rule.window.is_some() {
                let texts = blocking::record_key_texts(&self.prepared, rule)?;
                let mut sorted: Vec<(String, u32)> = texts
                    .into_iter()
                    .enumerate()
                    .filter_map(|(r, t)| t.map(|t| (t, r as u32)))
                    .collect();
                sorted.sort_unstable();
                index.sorted.push(sorted);
                index.keys.push(HashMap::new());
            } else {
                let mut map: HashMap<u64, Vec<u32>> = HashMap::new();
                for (r, k) in blocking::record_keys(&self.prepared, rule)?
                    .into_iter()
                    .enumerate()
                {
                    if let Some(k) = k {
                        map.entry(k).or_default().push(r as u32);
                    }
                }
                index.keys.push(map);
                index.sorted.push(Vec::new());
            }
        }
        self.index = Some(index);
        Ok(())
    }

    /// Resolves new records against the fitted base without refitting:
    /// they are prepared with the same settings, blocked against the
    /// existing keys and each other, scored with the fitted model, and
    /// linked into the customers. Existing customers keep their ids; a new
    /// record joins one or founds its own; two existing customers a new
    /// record connects merge into the smaller id (the other is retired, see
    /// [`Entities::merged_into`](crate::identity::cluster::Entities::merged_into)).
    ///
    /// `side` is the source the records come from (in link mode, pairs
    /// within one side are not compared): an existing table index, or the
    /// next one for a new source.
    ///
    /// # Errors
    /// As [`Resolver::fit`] for the table's columns; on error the resolver
    /// is unchanged.
    pub fn add(&mut self, table: &RecordTable, side: usize) -> Result<Increment> {
        self.build_index()?;
        let mut prepared = self.prepared.clone();
        let range = prepared.extend(table, side)?;
        let old = std::mem::replace(&mut self.prepared, prepared);
        let old_ids = self.ids.len();
        self.ids
            .extend(table.ids().iter().map(|id| Box::from(id.as_str())));
        let result = self.add_prepared(range);
        if result.is_err() {
            // Back to the state before the call; the key index is rebuilt on demand.
            self.prepared = old;
            self.ids.truncate(old_ids);
            self.index = None;
            self.refresh_tf();
        }
        result
    }

    fn add_prepared(&mut self, range: std::ops::Range<usize>) -> Result<Increment> {
        let start = range.start;
        let mut entities = self.entities.clone();
        let new_ids = entities.add_records(range.len())?;
        let before_entities = new_ids.start;
        let mut index = self.index.take().unwrap_or_default();
        self.refresh_tf();
        let link = self.settings.link_type == LinkType::Link;
        let sides = self.prepared.sides().to_vec();
        let allowed = |a: u32, b: u32| !link || sides[a as usize] != sides[b as usize];
        let mut pairs: Vec<u64> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let positions = rule.check(&self.prepared)?;
            for r in range.clone() {
                let r32 = r as u32;
                match rule.window {
                    None => {
                        let Some(key) = blocking::record_key(&self.prepared, rule, &positions, r)
                        else {
                            continue;
                        };
                        let block = index.keys[i].entry(key).or_default();
                        if block.len() < self.settings.max_block_size {
                            pairs.extend(
                                block
                                    .iter()
                                    .filter(|&&m| allowed(m, r32))
                                    .map(|&m| pack(m, r32)),
                            );
                        }
                        block.push(r32);
                    }
                    Some(window) => {
                        let Some(key) =
                            blocking::record_key_text(&self.prepared, rule, &positions, r)
                        else {
                            continue;
                        };
                        let sorted = &mut index.sorted[i];
                        let at =
                            sorted.partition_point(|(k, m)| (k.as_str(), *m) < (key.as_str(), r32));
                        let lo = at.saturating_sub(window - 1);
                        let hi = (at + window - 1).min(sorted.len());
                        pairs.extend(
                            sorted[lo..hi]
                                .iter()
                                .filter(|(_, m)| allowed(*m, r32))
                                .map(|(_, m)| pack(*m, r32)),
                        );
                        sorted.insert(at, (key, r32));
                    }
                }
            }
        }
        sort_dedup(&mut pairs);
        let pairs: Vec<(u32, u32)> = pairs
            .into_iter()
            .map(|p| ((p >> 32) as u32, p as u32))
            .collect();
        let gammas = self.gammas(&pairs);
        let mut matches: Vec<ScoredPair> = self
            .score_all(&pairs, &gammas)
            .into_iter()
            .filter(|p| p.is_match(self.settings.threshold))
            .collect();
        matches.sort_by(|a, b| {
            let rule = |p: &ScoredPair| p.rule.is_none();
            rule(a)
                .cmp(&rule(b))
                .then(b.weight.total_cmp(&a.weight))
                .then((a.left, a.right).cmp(&(b.left, b.right)))
        });
        let params = self.cluster_params()?;
        let columns = self.prepared.columns();
        for m in &matches {
            entities.link(
                m.clone(),
                |r, c| columns.get(c).and_then(|col| col.value(r as usize)),
                &params,
            )?;
        }
        let joined_existing = range
            .clone()
            .filter(|&r| {
                entities
                    .entity(r as u32)
                    .is_some_and(|e| e < before_entities)
            })
            .count();
        let new_entities = (new_ids.start..new_ids.end)
            .filter(|&e| entities.merged_into(e).is_none() && !entities.members(e).is_empty())
            .filter(|&e| entities.members(e).iter().all(|&r| r as usize >= start))
            .count();
        self.entities = entities;
        self.index = Some(index);
        Ok(Increment {
            records: range.start as u32..range.end as u32,
            candidate_pairs: pairs.len(),
            matches,
            joined_existing,
            new_entities,
        })
    }
}
