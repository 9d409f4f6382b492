//! The whole resolution: records in, customers out.
//!
//! [`Resolver::fit`] runs the steps of probabilistic record linkage in
//! order (Christen 2012; Splink's pipeline):
//!
//! 1. **prepare** every used column ([`prepare`](super::prepare));
//! 2. **block**: candidate pairs from the union of the blocking rules and the
//!    deterministic rules' keys ([`blocking`]);
//! 3. **compare** every candidate pair field by field into agreement levels
//!    ([`compare`](super::compare));
//! 4. **estimate** `u` from random pairs (fuzzy levels by sampling, the exact
//!    level from the value counts, which sampling would miss for rare
//!    values), then `m` by EM among the pairs of each key blocking rule and
//!    λ over all pairs ([`fellegi_sunter`](super::fellegi_sunter)), unless
//!    the settings carry a fitted model; [`Resolution::m_estimation`] says
//!    per comparison whether EM estimated `m`, and if not why and what was
//!    used instead (fixed `m`, the prior's mean, or the starting value).
//!    [`Resolver::fit_labelled`] refits `m` from pairs a reviewer labelled;
//! 5. **score**: each pair's match weight, with term-frequency adjustment
//!    where asked: agreeing on a value of frequency `tf` has Bayes factor
//!    `m / tf` instead of `m / u` (Winkler 1989; Splink's
//!    `tf_adjustment`), so a shared rare surname counts for more than a
//!    shared "Smith"; pairs a deterministic rule matches are matches
//!    outright;
//! 6. **classify** at the threshold, and report the expected precision and
//!    recall at other thresholds from the model's own probabilities:
//!    precision ≈ the mean probability of the pairs kept, recall ≈ their
//!    summed probability over the summed probability of all candidates;
//! 7. **cluster** the matches into customers
//!    ([`cluster`]).
//!
//! The fitted resolver keeps the prepared records, the model and the
//! customers, so [`Resolver::add`] can resolve new records incrementally
//! against them: only the new records are prepared, blocked (against an
//! index of the existing keys), compared and scored, and they join existing
//! customers, whose ids stay, or found new ones.

use serde::{Deserialize, Serialize};

use super::blocking::{self, BlockingParams, BlockingRule, KeyPart, RuleCount};
use super::cluster::{self, ClusterParams, Entities, ScoredPair};
use super::compare::{CompiledComparison, NULL_LEVEL};
use super::fellegi_sunter::{EmReport, Explanation, FsModel, Gammas, probability};
use super::prepare::{MISSING, Prepared};
use super::settings::Settings;
use super::table::RecordTable;
use crate::error::{Error, Result};

mod estimate;
mod incremental;
mod labelled;
mod state;

use incremental::BlockIndex;

pub use estimate::{MEstimate, MSource};
pub use incremental::Increment;
pub use labelled::LabelledPair;

/// Expected classification quality at one threshold, from the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdPoint {
    /// Match probability threshold.
    pub threshold: f64,
    /// Candidate pairs at or above it.
    pub pairs: usize,
    /// Mean match probability of those pairs.
    pub expected_precision: f64,
    /// Their summed probability over that of all candidate pairs.
    pub expected_recall: f64,
}

/// What a batch resolution found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// Records resolved.
    pub records: usize,
    /// Per blocking rule (deterministic rules first, as `rule: NAME`).
    pub blocking: Vec<RuleCount>,
    /// Distinct candidate pairs compared.
    pub candidate_pairs: usize,
    /// The EM run, when a model was estimated. `converged` covers the EM
    /// runs that ran; which comparisons they estimated is in `m_estimation`.
    pub em: Option<EmReport>,
    /// Per comparison, where its `m` came from: estimated (by EM or from
    /// labels), fixed, a prior, the starting value, or the given model, with
    /// the reasons where EM could not estimate it.
    pub m_estimation: Vec<MEstimate>,
    /// Pairs classified as matches, strongest first.
    pub matches: Vec<ScoredPair>,
    /// Expected precision and recall at several thresholds.
    pub tradeoff: Vec<ThresholdPoint>,
    /// Per prepared column: raw values the normaliser could not read.
    pub unreadable: Vec<(String, usize)>,
}

/// A pair's evidence, with term-frequency adjustments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairExplanation {
    /// The Fellegi–Sunter evidence per comparison (before adjustments).
    pub model: Explanation,
    /// Per term-frequency comparison at exact agreement: its name and the
    /// weight added, `log₂(u_exact / tf(value))`.
    pub term_frequency: Vec<(String, f64)>,
    /// The deterministic rule that matches the pair, if any.
    pub rule: Option<String>,
    /// Total weight (model plus adjustments).
    pub weight: f64,
    /// Match probability of the total weight (1 for a rule match).
    pub probability: f64,
}

/// A fitted resolver: prepared records, model, and the customers found.
#[derive(Debug, Clone)]
pub struct Resolver {
    settings: Settings,
    prepared: Prepared,
    comparisons: Vec<CompiledComparison>,
    model: FsModel,
    /// `log₂(m/u)` per comparison and level.
    level_weights: Vec<Vec<f64>>,
    /// Per comparison: `u` of exact agreement among random pairs, when
    /// term-frequency adjusted.
    tf_u_exact: Vec<Option<f64>>,
    /// Per term-frequency comparison, the adjustment per value code.
    tf_weights: Vec<Option<Vec<f64>>>,
    /// Deterministic rules: name and prepared column positions.
    deterministic: Vec<(String, Vec<usize>)>,
    /// Blocking rules used (deterministic rules' keys first).
    rules: Vec<BlockingRule>,
    entities: Entities,
    index: Option<BlockIndex>,
    /// Every record's id, in record order (to find labelled pairs by id).
    ids: Vec<Box<str>>,
    /// Where each comparison's `m` came from in the last fit.
    m_estimation: Vec<MEstimate>,
}

/// A candidate pair and its comparison levels.
type PairLevels<'a> = (&'a (u32, u32), &'a [i8]);

/// Key rules with fewer candidate pairs do not estimate m.
const MIN_RULE_PAIRS: usize = 50;

/// Pairs per key rule that m is estimated from, at most.
const MAX_RULE_PAIRS: usize = 200_000;

/// Thresholds in the trade-off report (the settings' own is added).
const TRADEOFF_THRESHOLDS: [f64; 7] = [0.1, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999];

impl Resolver {
    /// Resolves the records of `tables` (one table: dedupe within it; two or
    /// more: records of all tables, linked across them in link mode).
    ///
    /// # Errors
    /// The settings' check errors; [`Error::NotFound`] for a settings column
    /// missing from a table; [`Error::EmptyInput`] for no records;
    /// [`Error::InvalidParameter`] for link mode with one table or a given
    /// model that does not fit the comparisons.
    pub fn fit(tables: &[&RecordTable], settings: &Settings) -> Result<(Resolver, Resolution)> {
        settings.check()?;
        Resolver::fit_prepared(
            Prepared::new(tables, &settings.columns)?,
            record_ids(tables),
            settings,
        )
    }

    /// [`Resolver::fit`] on records already prepared by `settings.columns`
    /// (zero-config mode prepares them to choose its blocking rules), with
    /// the records' ids in the same order.
    pub(crate) fn fit_prepared(
        prepared: Prepared,
        ids: Vec<Box<str>>,
        settings: &Settings,
    ) -> Result<(Resolver, Resolution)> {
        settings.check()?;
        if prepared.is_empty() {
            return Err(Error::empty("records to resolve"));
        }
        if ids.len() != prepared.len() {
            return Err(Error::lengths(
                "record ids per prepared record",
                prepared.len(),
                ids.len(),
            ));
        }
        let (comparisons, deterministic, rules) = compile(settings, &prepared)?;
        let params = BlockingParams {
            link_type: settings.link_type,
            max_block_size: settings.max_block_size,
        };
        let candidates = blocking::candidate_pairs(&prepared, &rules, &params)?;
        let n_levels: Vec<usize> = settings.comparisons.iter().map(|c| c.n_levels()).collect();
        let comparison_names: Vec<String> = settings
            .comparisons
            .iter()
            .map(|c| c.name.clone())
            .collect();

        let mut resolver = Resolver {
            settings: settings.clone(),
            comparisons,
            model: FsModel::new(
                comparison_names,
                &n_levels,
                settings.estimation.initial_lambda,
            )?,
            level_weights: Vec::new(),
            tf_u_exact: vec![None; settings.comparisons.len()],
            tf_weights: Vec::new(),
            deterministic,
            rules,
            entities: cluster::cluster(0, &[], |_, _| None, &ClusterParams::default())?,
            index: None,
            prepared,
            ids,
            m_estimation: Vec::new(),
        };
        let gammas = resolver.gammas(&candidates.pairs);
        let random_u = resolver.random_pair_u(&n_levels)?;
        let (em, m_estimation) = match &settings.model {
            Some(model) => {
                resolver.check_model(model)?;
                resolver.model = model.clone();
                let given = settings
                    .comparisons
                    .iter()
                    .map(|c| MEstimate {
                        comparison: c.name.clone(),
                        source: MSource::Given,
                        rules: Vec::new(),
                        not_estimated: Vec::new(),
                    })
                    .collect();
                (None, given)
            }
            None => {
                let (em, m) = resolver.estimate(&candidates.pairs, &gammas, &random_u)?;
                (Some(em), m)
            }
        };
        for (k, c) in settings.comparisons.iter().enumerate() {
            if settings.term_frequency.contains(&c.name) {
                resolver.tf_u_exact[k] = random_u[k].last().copied();
            }
        }
        let resolution = resolver.finish(&candidates, &gammas, em, m_estimation)?;
        Ok((resolver, resolution))
    }

    /// Scores the candidates with the model, classifies them and clusters
    /// the matches into customers: the steps after estimation, shared by
    /// [`Resolver::fit`] and [`Resolver::fit_labelled`].
    fn finish(
        &mut self,
        candidates: &blocking::Candidates,
        gammas: &Gammas,
        em: Option<EmReport>,
        m_estimation: Vec<MEstimate>,
    ) -> Result<Resolution> {
        self.refresh_weights();
        let threshold = self.settings.threshold;
        let scored: Vec<ScoredPair> = self.score_all(&candidates.pairs, gammas);
        let mut thresholds: Vec<f64> = TRADEOFF_THRESHOLDS.to_vec();
        if !thresholds.contains(&threshold) {
            thresholds.push(threshold);
            thresholds.sort_by(f64::total_cmp);
        }
        let tradeoff = tradeoff(&scored, &thresholds);
        let mut matches: Vec<ScoredPair> = scored
            .into_iter()
            .filter(|p| p.is_match(threshold))
            .collect();
        matches.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then((a.left, a.right).cmp(&(b.left, b.right)))
        });
        self.entities = self.cluster(&matches)?;
        self.m_estimation.clone_from(&m_estimation);
        Ok(Resolution {
            records: self.prepared.len(),
            blocking: candidates.per_rule.clone(),
            candidate_pairs: candidates.pairs.len(),
            em,
            m_estimation,
            matches,
            tradeoff,
            unreadable: self
                .prepared
                .columns()
                .iter()
                .map(|c| (c.name.clone(), c.unreadable))
                .collect(),
        })
    }

    /// Checks a model given in the settings against the comparisons: the
    /// model's own consistency ([`FsModel::check`]), then one entry per
    /// comparison, in order, with the comparison's name and level count.
    fn check_model(&self, model: &FsModel) -> Result<()> {
        model.check()?;
        let bad = |value: String, reason: &str| Err(Error::param("model", value, reason));
        if model.m.len() != self.comparisons.len() {
            return bad(
                format!(
                    "{} comparisons in the model, {} in the settings",
                    model.m.len(),
                    self.comparisons.len()
                ),
                "the model of these settings' comparisons (e.g. from --settings-out)",
            );
        }
        for (k, (c, (name, m))) in self
            .comparisons
            .iter()
            .zip(model.names.iter().zip(&model.m))
            .enumerate()
        {
            let c = c.comparison();
            if *name != c.name {
                return bad(
                    format!(
                        "comparison {k} is `{name}` in the model, `{}` in the settings",
                        c.name
                    ),
                    "the model's comparisons in the settings' order",
                );
            }
            if m.len() != c.n_levels() {
                return bad(
                    format!(
                        "comparison `{name}`: {} levels in the model, {} in the settings",
                        m.len(),
                        c.n_levels()
                    ),
                    "one m and u per level of every comparison",
                );
            }
        }
        Ok(())
    }

    /// Comparison levels of pairs, in parallel.
    fn gammas(&self, pairs: &[(u32, u32)]) -> Gammas {
        let k = self.comparisons.len();
        let chunks: Vec<&[(u32, u32)]> = pairs.chunks(4096).collect();
        let rows: Vec<Vec<i8>> = crate::parallel::map_slice(&chunks, |chunk| {
            let mut out = vec![0i8; chunk.len() * k];
            for (i, &(a, b)) in chunk.iter().enumerate() {
                self.levels(a as usize, b as usize, &mut out[i * k..(i + 1) * k]);
            }
            out
        });
        let mut g = Gammas::new(k);
        for block in rows {
            for row in block.chunks(k.max(1)) {
                // Rows have the right length by construction.
                let _ = g.push(row);
            }
        }
        g
    }

    /// One pair's levels into `out`.
    fn levels(&self, a: usize, b: usize, out: &mut [i8]) {
        let columns = self.prepared.columns();
        for (slot, c) in out.iter_mut().zip(&self.comparisons) {
            let column = &columns[c.column()];
            let (ca, cb) = (column.code(a), column.code(b));
            *slot = if ca == MISSING || cb == MISSING {
                NULL_LEVEL
            } else if ca == cb {
                (c.comparison().n_levels() - 1) as i8
            } else {
                let others = c
                    .swapped_column()
                    .map(|o| (columns[o].value(a), columns[o].value(b)));
                c.level_of(column.text(ca), column.text(cb), others)
            };
        }
    }

    /// The deterministic rule matching a pair, if any.
    fn rule_match(&self, a: usize, b: usize) -> Option<&str> {
        let columns = self.prepared.columns();
        self.deterministic
            .iter()
            .find(|(_, cols)| {
                cols.iter().all(|&c| {
                    let (x, y) = (columns[c].code(a), columns[c].code(b));
                    x != MISSING && x == y
                })
            })
            .map(|(name, _)| name.as_str())
    }

    /// Per term-frequency comparison and value code: the weight added at
    /// exact agreement, `log₂(u_exact / tf)`, with `tf` at least one record's share.
    fn refresh_tf(&mut self) {
        let columns = self.prepared.columns();
        self.tf_weights = self
            .tf_u_exact
            .iter()
            .zip(&self.comparisons)
            .map(|(u, c)| {
                let u = (*u)?;
                let column = &columns[c.column()];
                let present: f64 = column.counts().iter().map(|&n| f64::from(n)).sum();
                let floor = 1.0 / present.max(1.0);
                Some(
                    column
                        .counts()
                        .iter()
                        .map(|&n| (u / (f64::from(n) / present).max(floor)).log2())
                        .collect(),
                )
            })
            .collect();
    }

    /// Term-frequency adjustments of a pair at its levels.
    fn tf_adjustments<'a>(
        &'a self,
        a: usize,
        row: &'a [i8],
    ) -> impl Iterator<Item = (usize, f64)> + 'a {
        let columns = self.prepared.columns();
        self.tf_weights
            .iter()
            .enumerate()
            .filter_map(move |(k, weights)| {
                let weights = weights.as_ref()?;
                let c = &self.comparisons[k];
                if row[k] != (c.comparison().n_levels() - 1) as i8 {
                    return None;
                }
                let code = columns[c.column()].code(a);
                weights.get(code as usize).map(|w| (k, *w))
            })
    }

    fn weight_of(&self, a: usize, row: &[i8]) -> f64 {
        let mut w = (self.model.lambda / (1.0 - self.model.lambda)).log2();
        for (k, &l) in row.iter().enumerate() {
            if l >= 0 {
                w += self.level_weights[k][l as usize];
            }
        }
        w + self.tf_adjustments(a, row).map(|(_, x)| x).sum::<f64>()
    }

    fn score_all(&self, pairs: &[(u32, u32)], gammas: &Gammas) -> Vec<ScoredPair> {
        // Pairs and their levels side by side (the levels were computed from
        // these pairs, one row each).
        let rows: Vec<PairLevels> = pairs.iter().zip(gammas.rows()).collect();
        let chunks: Vec<&[PairLevels]> = rows.chunks(4096).collect();
        crate::parallel::map_slice(&chunks, |chunk| {
            chunk
                .iter()
                .map(|&(&(a, b), row)| {
                    let w = self.weight_of(a as usize, row);
                    match self.rule_match(a as usize, b as usize) {
                        Some(rule) => ScoredPair {
                            left: a,
                            right: b,
                            weight: w,
                            probability: 1.0,
                            rule: Some(rule.to_owned()),
                        },
                        None => ScoredPair::scored(a, b, w),
                    }
                })
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    }

    fn cluster_params(&self) -> Result<ClusterParams> {
        Ok(ClusterParams {
            threshold: self.settings.threshold,
            max_cluster_size: self.settings.cluster.max_cluster_size,
            conflict_columns: self
                .settings
                .cluster
                .conflict_columns
                .iter()
                .map(|c| {
                    self.prepared.position(c).ok_or_else(|| Error::NotFound {
                        what: "prepared column",
                        id: c.clone(),
                    })
                })
                .collect::<Result<_>>()?,
        })
    }

    fn cluster(&self, matches: &[ScoredPair]) -> Result<Entities> {
        let columns = self.prepared.columns();
        cluster::cluster(
            self.prepared.len(),
            matches,
            |r, c| columns.get(c).and_then(|col| col.value(r as usize)),
            &self.cluster_params()?,
        )
    }

    /// The settings in use (with the fitted model, ready to save and reuse).
    pub fn settings(&self) -> Settings {
        let mut s = self.settings.clone();
        s.model = Some(self.model.clone());
        s
    }

    /// The fitted model.
    pub fn model(&self) -> &FsModel {
        &self.model
    }

    /// The prepared records.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// The customers: every record in exactly one.
    pub fn entities(&self) -> &Entities {
        &self.entities
    }

    /// The customers, mutably (e.g. to unlink a pair a reviewer rejected).
    pub fn entities_mut(&mut self) -> &mut Entities {
        &mut self.entities
    }

    /// Explains the evidence for records `a` and `b` being one customer,
    /// field by field (the data of a waterfall chart).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a record index out of range.
    pub fn explain(&self, a: u32, b: u32) -> Result<PairExplanation> {
        for r in [a, b] {
            if r as usize >= self.prepared.len() {
                return Err(Error::NotFound {
                    what: "record",
                    id: r.to_string(),
                });
            }
        }
        let mut row = vec![0i8; self.comparisons.len()];
        self.levels(a as usize, b as usize, &mut row);
        let model = self.model.explain(&row)?;
        let term_frequency: Vec<(String, f64)> = self
            .tf_adjustments(a as usize, &row)
            .filter_map(|(k, w)| Some((self.comparisons.get(k)?.comparison().name.clone(), w)))
            .collect();
        let weight = model.weight + term_frequency.iter().map(|(_, w)| w).sum::<f64>();
        let rule = self.rule_match(a as usize, b as usize).map(str::to_owned);
        Ok(PairExplanation {
            probability: if rule.is_some() {
                1.0
            } else {
                probability(weight)
            },
            model,
            term_frequency,
            rule,
            weight,
        })
    }
}

/// The comparisons, the deterministic rules (name and prepared column
/// positions) and the blocking rules (deterministic rules' keys first) of
/// `settings` over `prepared`.
type Compiled = (
    Vec<CompiledComparison>,
    Vec<(String, Vec<usize>)>,
    Vec<BlockingRule>,
);

fn compile(settings: &Settings, prepared: &Prepared) -> Result<Compiled> {
    let names: Vec<String> = prepared.columns().iter().map(|c| c.name.clone()).collect();
    let comparisons: Vec<CompiledComparison> = settings
        .comparisons
        .iter()
        .map(|c| c.compile(&names))
        .collect::<Result<_>>()?;
    let position = |c: &str| {
        prepared.position(c).ok_or_else(|| Error::NotFound {
            what: "prepared column",
            id: c.to_owned(),
        })
    };
    let deterministic: Vec<(String, Vec<usize>)> = settings
        .deterministic_rules
        .iter()
        .map(|r| {
            Ok((
                r.name.clone(),
                r.columns
                    .iter()
                    .map(|c| position(c))
                    .collect::<Result<_>>()?,
            ))
        })
        .collect::<Result<_>>()?;
    let mut rules: Vec<BlockingRule> = settings
        .deterministic_rules
        .iter()
        .map(|r| {
            BlockingRule::key(
                format!("rule: {}", r.name),
                r.columns.iter().map(KeyPart::exact).collect(),
            )
        })
        .collect();
    rules.extend(settings.blocking_rules.iter().cloned());
    Ok((comparisons, deterministic, rules))
}

impl Resolver {
    /// `log₂(m/u)` per comparison and level, and the term-frequency weights.
    fn refresh_weights(&mut self) {
        self.refresh_tf();
        self.level_weights = self
            .model
            .m
            .iter()
            .zip(&self.model.u)
            .map(|(m, u)| m.iter().zip(u).map(|(m, u)| (m / u).log2()).collect())
            .collect();
    }
}

/// Every record's id, tables concatenated in order (as [`Prepared::new`] orders records).
pub(crate) fn record_ids(tables: &[&RecordTable]) -> Vec<Box<str>> {
    tables
        .iter()
        .flat_map(|t| t.ids().iter().map(|id| Box::from(id.as_str())))
        .collect()
}

/// Expected precision and recall at each threshold.
fn tradeoff(scored: &[ScoredPair], thresholds: &[f64]) -> Vec<ThresholdPoint> {
    let total: f64 = scored.iter().map(|p| p.probability).sum();
    thresholds
        .iter()
        .map(|&t| {
            let (n, sum) = scored
                .iter()
                .filter(|p| p.probability >= t)
                .fold((0usize, 0.0), |(n, s), p| (n + 1, s + p.probability));
            ThresholdPoint {
                threshold: t,
                pairs: n,
                expected_precision: if n > 0 { sum / n as f64 } else { 1.0 },
                expected_recall: if total > 0.0 { sum / total } else { 1.0 },
            }
        })
        .collect()
}
