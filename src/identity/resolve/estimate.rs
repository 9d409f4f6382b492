//! Estimating `u`, `m` and λ for a [`Resolver`], and the report of where
//! each comparison's `m` came from.
//!
//! `m` is estimated per key blocking rule (as Splink does): among the pairs
//! a rule finds, the comparisons on the rule's own columns agree because of
//! blocking, so only the other comparisons can be estimated there. A
//! comparison that no rule can estimate (every key rule blocks on it, or the
//! rules that could have too few pairs, or only sorted-neighbourhood rules
//! exist) keeps its starting `m`, or the mean of the user's prior, and
//! [`MEstimate`] says so and why, instead of a silent default.

use hashbrown::HashMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::super::blocking::{self, LinkType};
use super::super::compare::NULL_LEVEL;
use super::super::fellegi_sunter::{EmParams, EmReport, FsModel, Gammas};
use super::super::prepare::MISSING;
use super::{MAX_RULE_PAIRS, MIN_RULE_PAIRS, Resolver};
use crate::error::{Error, Result};

/// Where a comparison's `m` probabilities came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MSource {
    /// Estimated by EM among the pairs of one or more key blocking rules.
    Em,
    /// Estimated from labelled matches ([`Resolver::fit_labelled`]).
    Labelled,
    /// Fixed by the user (`estimation.fixed_m`).
    Fixed,
    /// Not estimable from the data: the mean of the user's prior
    /// (`estimation.m_prior`).
    Prior,
    /// Not estimable from the data and no prior: left at the starting value
    /// (90 % exact agreement, the rest falling geometrically).
    Start,
    /// Taken as given from the settings' fitted `model`.
    Given,
}

/// How one comparison's `m` was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MEstimate {
    /// Comparison name.
    pub comparison: String,
    /// Where `m` came from.
    pub source: MSource,
    /// The key rules whose pairs estimated it by EM (empty unless [`MSource::Em`]).
    pub rules: Vec<String>,
    /// Rule by rule, why EM could not estimate it there (empty when no
    /// estimation was attempted, i.e. for fixed and given `m`).
    pub not_estimated: Vec<String>,
}

impl MEstimate {
    fn new(comparison: &str, source: MSource) -> MEstimate {
        MEstimate {
            comparison: comparison.to_owned(),
            source,
            rules: Vec::new(),
            not_estimated: Vec::new(),
        }
    }

    /// Whether `m` was estimated from these records (by EM or from labels).
    pub fn is_estimated(&self) -> bool {
        matches!(self.source, MSource::Em | MSource::Labelled)
    }
}

/// The `m` probabilities EM starts from: 90 % exact agreement, the rest
/// falling geometrically. EM from a flat start can settle on a mode that
/// separates, say, one country from another instead of matches.
fn start_m(n_levels: usize) -> Vec<f64> {
    let top = n_levels.saturating_sub(1);
    let rest: f64 = (0..top).map(|l| (l as f64).exp2()).sum();
    (0..n_levels)
        .map(|l| {
            if l == top {
                0.9
            } else {
                0.1 * (l as f64).exp2() / rest
            }
        })
        .collect()
}

impl Resolver {
    /// `u` per comparison from random record pairs, with the exact level
    /// from value counts.
    pub(super) fn random_pair_u(&self, n_levels: &[usize]) -> Result<Vec<Vec<f64>>> {
        let n = self.prepared.len();
        let sides = self.prepared.sides();
        let link = self.settings.link_type == LinkType::Link;
        let first_side: Vec<u32> = (0..n as u32).filter(|&r| sides[r as usize] == 0).collect();
        let other_sides: Vec<u32> = (0..n as u32).filter(|&r| sides[r as usize] != 0).collect();
        let possible = if link {
            first_side.len() as f64 * other_sides.len() as f64
        } else {
            n as f64 * (n as f64 - 1.0) / 2.0
        };
        let wanted = (self.settings.estimation.u_sample_pairs as f64).min(possible) as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(self.settings.estimation.seed);
        let mut pairs = Vec::with_capacity(wanted);
        while pairs.len() < wanted {
            let (a, b) = if link {
                (
                    first_side[rng.gen_range(0..first_side.len())],
                    other_sides[rng.gen_range(0..other_sides.len())],
                )
            } else {
                (rng.gen_range(0..n as u32), rng.gen_range(0..n as u32))
            };
            if a != b {
                pairs.push((a, b));
            }
        }
        let mut u_model = FsModel::new(self.model.names.clone(), n_levels, 0.5)?;
        if !pairs.is_empty() {
            u_model.estimate_u(&self.gammas(&pairs))?;
        }
        let mut u = u_model.u;
        // A level never seen among the sampled pairs is rare, not impossible:
        // at most one sampled pair's share, so its weight stays bounded.
        if !pairs.is_empty() {
            let floor = 1.0 / pairs.len() as f64;
            for levels in &mut u {
                let total: f64 = levels.iter().map(|x| x.max(floor)).sum();
                for x in levels.iter_mut() {
                    *x = x.max(floor) / total;
                }
            }
        }
        let columns = self.prepared.columns();
        for (k, c) in self.comparisons.iter().enumerate() {
            let column = &columns[c.column()];
            let top = u[k].len() - 1;
            // Per value: records holding it on the first side and on the others.
            let mut counts: HashMap<u32, (f64, f64)> = HashMap::new();
            let (mut first, mut other) = (0.0, 0.0);
            for (r, &code) in column.codes().iter().enumerate() {
                if code == MISSING {
                    continue;
                }
                let e = counts.entry(code).or_insert((0.0, 0.0));
                if sides[r] == 0 {
                    e.0 += 1.0;
                    first += 1.0;
                } else {
                    e.1 += 1.0;
                    other += 1.0;
                }
            }
            let (agree, total) = if link {
                let agree: f64 = counts.values().map(|(a, b)| a * b).sum();
                (agree, first * other)
            } else {
                let present = first + other;
                let agree: f64 = counts.values().map(|(a, b)| (a + b) * (a + b - 1.0)).sum();
                (agree, present * (present - 1.0))
            };
            if total > 0.0 {
                // At least one agreeing pair's worth, so a column of unique
                // values does not get an infinite weight.
                let exact = (agree / total).max(1.0 / total);
                let rest: f64 = u[k][..top].iter().sum();
                if rest > 0.0 {
                    for x in &mut u[k][..top] {
                        *x *= (1.0 - exact) / rest;
                    }
                } else {
                    u[k][0] = 1.0 - exact;
                }
                u[k][top] = exact;
            }
        }
        Ok(u)
    }

    /// Writes the settings' fixed `m` into the model (checked against the
    /// comparisons' levels) and marks them fixed.
    fn apply_fixed_m(&mut self) -> Result<()> {
        let e = &self.settings.estimation;
        for (k, c) in self.settings.comparisons.iter().enumerate() {
            let n = c.n_levels();
            if let Some(m) = e.fixed_m.get(&c.name) {
                let total: f64 = m.iter().sum();
                if m.len() != n
                    || m.iter().any(|p| p.is_nan() || *p <= 0.0)
                    || (total - 1.0).abs() > 1e-6
                {
                    return Err(Error::param(
                        "fixed_m",
                        &c.name,
                        format!("{n} positive probabilities summing to 1"),
                    ));
                }
                if let (Some(slot), Some(fixed)) =
                    (self.model.m.get_mut(k), self.model.fixed_m.get_mut(k))
                {
                    slot.clone_from(m);
                    *fixed = true;
                }
            }
        }
        Ok(())
    }

    /// The settings' `m` priors per comparison (zeros where none is given),
    /// checked against the comparisons' levels; `None` when there are none.
    pub(super) fn m_prior(&self) -> Result<Option<Vec<Vec<f64>>>> {
        let e = &self.settings.estimation;
        if e.m_prior.is_empty() {
            return Ok(None);
        }
        let mut prior = Vec::with_capacity(self.settings.comparisons.len());
        for c in &self.settings.comparisons {
            let n = c.n_levels();
            match e.m_prior.get(&c.name) {
                Some(p) if p.len() != n || p.iter().any(|x| !(x.is_finite() && *x >= 0.0)) => {
                    return Err(Error::param(
                        "m_prior",
                        &c.name,
                        format!("{n} non-negative finite pseudo-counts"),
                    ));
                }
                Some(p) => prior.push(p.clone()),
                None => prior.push(vec![0.0; n]),
            }
        }
        Ok(Some(prior))
    }

    /// m and λ by EM (u from the random pairs, kept fixed), and where each
    /// comparison's m came from.
    pub(super) fn estimate(
        &mut self,
        pairs: &[(u32, u32)],
        gammas: &Gammas,
        random_u: &[Vec<f64>],
    ) -> Result<(EmReport, Vec<MEstimate>)> {
        self.model.u = random_u.to_vec();
        for m in &mut self.model.m {
            *m = start_m(m.len());
        }
        self.apply_fixed_m()?;
        let prior = self.m_prior()?;
        let e = self.settings.estimation.clone();
        let mut report: Vec<MEstimate> = self
            .settings
            .comparisons
            .iter()
            .zip(&self.model.fixed_m)
            .map(|(c, &fixed)| {
                MEstimate::new(
                    &c.name,
                    if fixed {
                        MSource::Fixed
                    } else {
                        MSource::Start
                    },
                )
            })
            .collect();
        let note = |report: &mut Vec<MEstimate>, k: usize, why: String| {
            if let Some(r) = report.get_mut(k).filter(|r| r.source != MSource::Fixed) {
                r.not_estimated.push(why);
            }
        };
        // m per blocking rule, as Splink estimates it: among the pairs a key
        // rule finds, the comparisons of the key's columns agree because of
        // blocking, not because the records match, so they are left out
        // (null) there; u stays at its random-pair value, so the other
        // comparisons separate matches from non-matches. A comparison's m is
        // the mean over the rules that could estimate it.
        let initial_m = self.model.m.clone();
        let k_comparisons = self.comparisons.len();
        let mut m_sum: Vec<Vec<f64>> = initial_m.iter().map(|m| vec![0.0; m.len()]).collect();
        let mut m_count = vec![0usize; k_comparisons];
        let mut iterations = 0;
        let mut converged = true;
        let columns = self.prepared.columns();
        if gammas.is_empty() {
            for k in 0..k_comparisons {
                note(&mut report, k, "no candidate pairs".to_owned());
            }
        }
        for rule in self.rules.iter().filter(|_| !gammas.is_empty()) {
            if rule.window.is_some() {
                for k in 0..k_comparisons {
                    let why = format!(
                        "rule `{}`: sorted-neighbourhood pairs share no key, so m is not estimated among them",
                        rule.name
                    );
                    note(&mut report, k, why);
                }
                continue;
            }
            let keys = blocking::record_keys(&self.prepared, rule)?;
            let blocked: Vec<bool> = self
                .comparisons
                .iter()
                .map(|c| {
                    let mut used = std::iter::once(c.column()).chain(c.swapped_column());
                    used.any(|col| {
                        columns
                            .get(col)
                            .is_some_and(|col| rule.on.iter().any(|p| p.column == col.name))
                    })
                })
                .collect();
            for (k, _) in blocked.iter().enumerate().filter(|(_, b)| **b) {
                let why = format!(
                    "rule `{}` blocks on its column, so its pairs agree there by construction",
                    rule.name
                );
                note(&mut report, k, why);
            }
            if blocked.iter().all(|b| *b) {
                continue;
            }
            let key = |r: u32| keys.get(r as usize).copied().flatten();
            let members: Vec<usize> = pairs
                .iter()
                .enumerate()
                .filter(|(_, (a, b))| key(*a).is_some() && key(*a) == key(*b))
                .map(|(i, _)| i)
                .collect();
            if members.len() < MIN_RULE_PAIRS {
                for k in (0..k_comparisons).filter(|&k| !blocked[k]) {
                    let why = format!(
                        "rule `{}`: {} candidate pairs, fewer than the {MIN_RULE_PAIRS} EM needs",
                        rule.name,
                        members.len()
                    );
                    note(&mut report, k, why);
                }
                continue;
            }
            // An evenly spaced subset bounds the work on huge rules.
            let step = members.len().div_ceil(MAX_RULE_PAIRS).max(1);
            let mut subset = Gammas::new(k_comparisons);
            let mut row = vec![0i8; k_comparisons];
            for levels in members.iter().step_by(step).filter_map(|&i| gammas.row(i)) {
                for ((slot, &level), &blocked) in row.iter_mut().zip(levels).zip(&blocked) {
                    *slot = if blocked { NULL_LEVEL } else { level };
                }
                subset.push(&row)?;
            }
            let mut model = self.model.clone();
            model.m = initial_m.clone();
            model.lambda = e.initial_lambda;
            let params = EmParams {
                max_iter: e.max_iter,
                tol: e.tol,
                fix_u: true,
                fix_lambda: false,
                m_prior: prior.clone(),
            };
            let em = model.fit_em(&subset, &params)?;
            iterations += em.iterations;
            converged &= em.converged;
            for k in (0..k_comparisons).filter(|&k| !blocked[k] && !self.model.fixed_m[k]) {
                for (sum, m) in m_sum[k].iter_mut().zip(&model.m[k]) {
                    *sum += m;
                }
                m_count[k] += 1;
                if let Some(r) = report.get_mut(k) {
                    r.source = MSource::Em;
                    r.rules.push(rule.name.clone());
                }
            }
        }
        for (k, count) in m_count.iter().enumerate().filter(|(_, c)| **c > 0) {
            self.model.m[k] = m_sum[k].iter().map(|x| x / *count as f64).collect();
        }
        // No data for m: the prior is all the user told us, so its mean (the
        // posterior mean with no observations) is used where EM did not run.
        if let Some(mut unestimated) = prior {
            for (p, r) in unestimated.iter_mut().zip(&report) {
                if r.source != MSource::Start {
                    p.iter_mut().for_each(|x| *x = 0.0);
                }
            }
            let from_prior = self
                .model
                .estimate_m(&Gammas::new(k_comparisons), Some(&unestimated))?;
            for (r, from_prior) in report.iter_mut().zip(from_prior) {
                if from_prior {
                    r.source = MSource::Prior;
                }
            }
        }
        let mut em = self.fit_lambda(gammas)?;
        em.iterations += iterations;
        em.converged &= converged;
        Ok((em, report))
    }

    /// λ among all record pairs, pairs outside the candidates counting as
    /// non-matches, with `m` and `u` kept.
    pub(super) fn fit_lambda(&mut self, gammas: &Gammas) -> Result<EmReport> {
        let n = self.prepared.len() as f64;
        let total_pairs = match self.settings.link_type {
            LinkType::Link => {
                let first = self.prepared.table_sizes().first().copied().unwrap_or(0) as f64;
                first * (n - first)
            }
            LinkType::Dedupe => n * (n - 1.0) / 2.0,
        };
        self.model.lambda = (n / total_pairs.max(1.0)).clamp(1e-15, 0.5);
        if gammas.is_empty() {
            // Nothing to fit λ to: the starting value stands.
            return Ok(EmReport {
                iterations: 0,
                converged: true,
                last_change: 0.0,
                log_likelihood: 0.0,
                patterns: 0,
            });
        }
        let e = &self.settings.estimation;
        self.model.fit_prior(
            gammas,
            total_pairs.max(gammas.len() as f64),
            e.max_iter,
            e.tol,
        )
    }
}
