//! Fellegi–Sunter scoring: how much evidence does each field give that two
//! records are the same customer?
//!
//! For a candidate pair, each comparison lands on an agreement level
//! (see [`compare`](super::compare)). Fellegi & Sunter (1969) give every level
//! two probabilities:
//!
//! - `m` = P(level | the records are the same person), e.g. how often the
//!   surnames of true matches agree exactly (not always: typos, marriages);
//! - `u` = P(level | different people), e.g. how often two random people's
//!   surnames agree exactly (common surnames make this larger).
//!
//! The level's **match weight** is the log₂ Bayes factor `log₂(m/u)`: positive
//! levels are evidence for a match, negative against, and a null level (a
//! missing value) is 0. A pair's weight is the prior log-odds
//! `log₂(λ/(1 − λ))` (λ = the share of matches among candidate pairs) plus
//! the sum of its levels' weights, and its match probability is
//! `2^w / (1 + 2^w)`. Weights are reported as such, never only as a
//! probability that saturates at 1.0, and [`FsModel::explain`] lists them
//! field by field (the data of a waterfall chart).
//!
//! Without labelled pairs, `m`, `u` and λ are estimated by
//! expectation–maximisation over the comparison vectors (Winkler 1988;
//! Jaro 1989), treating fields as conditionally independent given the match
//! status. `u` is best estimated directly from random pairs, which are
//! nearly all non-matches ([`FsModel::estimate_u`]); EM can then keep `u`
//! fixed. `m` can be fixed per comparison, or given Dirichlet pseudo-counts
//! as a prior ([`EmParams::m_prior`]). Identical comparison vectors are
//! folded into patterns with counts, so an EM iteration costs the number of
//! distinct patterns, not pairs.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Comparison levels of many pairs: row-major, `n_comparisons` per pair,
/// `-1` for the null level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gammas {
    n_comparisons: usize,
    levels: Vec<i8>,
}

impl Gammas {
    /// An empty set for `n_comparisons` comparisons.
    pub fn new(n_comparisons: usize) -> Gammas {
        Gammas {
            n_comparisons,
            levels: Vec::new(),
        }
    }

    /// Adds one pair's levels.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the row has the wrong length.
    pub fn push(&mut self, row: &[i8]) -> Result<()> {
        if row.len() != self.n_comparisons {
            return Err(Error::lengths(
                "comparison levels per pair",
                self.n_comparisons,
                row.len(),
            ));
        }
        self.levels.extend_from_slice(row);
        Ok(())
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.levels
            .len()
            .checked_div(self.n_comparisons)
            .unwrap_or(0)
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Number of comparisons per pair.
    pub fn n_comparisons(&self) -> usize {
        self.n_comparisons
    }

    /// Pair `i`'s levels, or `None` when there is no pair `i`.
    pub fn row(&self, i: usize) -> Option<&[i8]> {
        let start = i.checked_mul(self.n_comparisons)?;
        let end = start.checked_add(self.n_comparisons)?;
        if i >= self.len() {
            // With zero comparisons every "row" is empty; there are still no pairs.
            return None;
        }
        self.levels.get(start..end)
    }

    /// Every pair's levels, in order.
    pub fn rows(&self) -> impl Iterator<Item = &[i8]> {
        // `max(1)`: chunks of zero are not allowed, and with zero comparisons
        // `len()` is 0, so `take` yields nothing anyway. `take` also drops a
        // partial trailing row of a deserialised value.
        self.levels
            .chunks_exact(self.n_comparisons.max(1))
            .take(self.len())
    }

    /// Distinct rows with their counts, in order of first appearance.
    fn patterns(&self) -> Vec<(Vec<i8>, f64)> {
        let mut index: hashbrown::HashMap<&[i8], usize> = hashbrown::HashMap::new();
        let mut out: Vec<(Vec<i8>, f64)> = Vec::new();
        for row in self.rows() {
            match index.get(row).and_then(|&p| out.get_mut(p)) {
                Some(pattern) => pattern.1 += 1.0,
                None => {
                    index.insert(row, out.len());
                    out.push((row.to_vec(), 1.0));
                }
            }
        }
        out
    }
}

/// A fitted (or initial) Fellegi–Sunter model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FsModel {
    /// Comparison names.
    pub names: Vec<String>,
    /// `m[k][l]` = P(level `l` of comparison `k` | match), for levels `0..n_levels[k]`.
    pub m: Vec<Vec<f64>>,
    /// `u[k][l]` = P(level `l` of comparison `k` | non-match).
    pub u: Vec<Vec<f64>>,
    /// Share of matches among the candidate pairs.
    pub lambda: f64,
    /// Comparisons whose `m` EM must not change.
    pub fixed_m: Vec<bool>,
}

/// Probabilities are kept away from 0 and 1 so every weight stays finite.
const FLOOR: f64 = 1e-9;

/// How to run EM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmParams {
    /// Maximum iterations.
    pub max_iter: usize,
    /// Stop when no probability moves by more than this.
    pub tol: f64,
    /// Keep `u` as given (e.g. from [`FsModel::estimate_u`]).
    pub fix_u: bool,
    /// Keep λ as given.
    pub fix_lambda: bool,
    /// Dirichlet pseudo-counts added to each comparison's `m` levels (a prior).
    pub m_prior: Option<Vec<Vec<f64>>>,
}

impl Default for EmParams {
    fn default() -> Self {
        EmParams {
            max_iter: 200,
            tol: 1e-7,
            fix_u: false,
            fix_lambda: false,
            m_prior: None,
        }
    }
}

impl EmParams {
    /// Checks the settings that do not depend on the model (the prior's
    /// shape is checked against the model when fitting).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for zero iterations, a negative or
    /// non-finite tolerance, or a negative or non-finite pseudo-count.
    pub fn check(&self) -> Result<()> {
        if self.max_iter == 0 {
            return Err(Error::param("max_iter", 0, "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::param("tol", self.tol, "must be finite and >= 0"));
        }
        if let Some(prior) = &self.m_prior {
            if let Some(x) = prior
                .iter()
                .flatten()
                .find(|x| !(x.is_finite() && **x >= 0.0))
            {
                return Err(Error::param(
                    "m_prior",
                    x,
                    "pseudo-counts must be finite and >= 0",
                ));
            }
        }
        Ok(())
    }
}

/// What EM did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmReport {
    /// Iterations run.
    pub iterations: usize,
    /// Whether the parameters settled within `tol`.
    pub converged: bool,
    /// The largest change of any probability in the last iteration.
    pub last_change: f64,
    /// Log-likelihood of the comparison vectors at the end.
    pub log_likelihood: f64,
    /// Distinct comparison vectors.
    pub patterns: usize,
}

/// One field's share of a pair's evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldEvidence {
    /// Comparison name.
    pub comparison: String,
    /// The level (−1: null).
    pub level: i8,
    /// `m` of the level (NaN for null).
    pub m: f64,
    /// `u` of the level (NaN for null).
    pub u: f64,
    /// `log₂(m/u)` (0 for null).
    pub weight: f64,
}

/// A pair's evidence, field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// `log₂(λ/(1 − λ))`.
    pub prior_weight: f64,
    /// Each comparison's contribution.
    pub fields: Vec<FieldEvidence>,
    /// The total match weight.
    pub weight: f64,
    /// `2^w / (1 + 2^w)`.
    pub probability: f64,
}

/// The match probability of a match weight, `2^w / (1 + 2^w)`, without overflow.
pub fn probability(weight: f64) -> f64 {
    if weight >= 0.0 {
        1.0 / (1.0 + (-weight).exp2())
    } else {
        let t = weight.exp2();
        t / (1.0 + t)
    }
}

impl FsModel {
    /// A starting model for comparisons with `n_levels[k]` levels each
    /// (Splink-like defaults): `m` rising geometrically towards the top level,
    /// `u` falling, λ = `lambda`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for fewer than two levels, mismatched
    /// lengths, or λ outside (0, 1).
    pub fn new(names: Vec<String>, n_levels: &[usize], lambda: f64) -> Result<FsModel> {
        if names.len() != n_levels.len() {
            return Err(Error::param(
                "n_levels",
                n_levels.len(),
                format!("one per comparison ({})", names.len()),
            ));
        }
        if !(lambda > 0.0 && lambda < 1.0) {
            return Err(Error::param("lambda", lambda, "must lie in (0, 1)"));
        }
        let mut m = Vec::with_capacity(n_levels.len());
        let mut u = Vec::with_capacity(n_levels.len());
        for &n in n_levels {
            if !(2..=i8::MAX as usize).contains(&n) {
                return Err(Error::param(
                    "n_levels",
                    n,
                    "a comparison has 2 to 127 levels",
                ));
            }
            // m ∝ 2^l (agreement likely for matches), u ∝ 2^(n−1−l) (disagreement likely otherwise).
            let weights: Vec<f64> = (0..n).map(|l| (l as f64).exp2()).collect();
            let total: f64 = weights.iter().sum();
            m.push(weights.iter().map(|w| w / total).collect());
            u.push(weights.iter().rev().map(|w| w / total).collect());
        }
        Ok(FsModel {
            fixed_m: vec![false; names.len()],
            names,
            m,
            u,
            lambda,
        })
    }

    /// Checks that the model is consistent: one name, one `m` and one `u`
    /// list and one `fixed_m` flag per comparison, `m` and `u` of equal
    /// length (at least two levels) per comparison, every probability in
    /// (0, 1] and λ in (0, 1). A model deserialised from JSON (e.g. a
    /// settings file's `model`) is only as good as its author, so every fit
    /// and score checks it before indexing into it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first inconsistency.
    pub fn check(&self) -> Result<()> {
        self.check_shape()?;
        for (k, (m, u)) in self.m.iter().zip(&self.u).enumerate() {
            let name = self.names.get(k).map_or("?", String::as_str);
            if let Some(p) = m.iter().chain(u).find(|p| !(**p > 0.0 && **p <= 1.0)) {
                return Err(Error::param(
                    "model",
                    format!("comparison `{name}`: probability {p}"),
                    "every m and u lies in (0, 1]",
                ));
            }
        }
        if !(self.lambda > 0.0 && self.lambda < 1.0) {
            return Err(Error::param(
                "model.lambda",
                self.lambda,
                "must lie in (0, 1)",
            ));
        }
        Ok(())
    }

    /// The length checks of [`FsModel::check`], without the values: what
    /// indexing needs not to panic.
    fn check_shape(&self) -> Result<()> {
        let k = self.m.len();
        for (what, len) in [
            ("names", self.names.len()),
            ("u", self.u.len()),
            ("fixed_m", self.fixed_m.len()),
        ] {
            if len != k {
                return Err(Error::param(
                    "model",
                    format!("{len} {what} for {k} comparisons (m)"),
                    "one name, one m, one u and one fixed_m flag per comparison",
                ));
            }
        }
        for (k, (m, u)) in self.m.iter().zip(&self.u).enumerate() {
            if m.len() != u.len() || m.len() < 2 || m.len() > i8::MAX as usize {
                return Err(Error::param(
                    "model",
                    format!(
                        "comparison `{}`: {} m and {} u levels",
                        self.names.get(k).map_or("?", String::as_str),
                        m.len(),
                        u.len()
                    ),
                    "as many m as u levels, 2 to 127",
                ));
            }
        }
        Ok(())
    }

    fn check_row(&self, row: &[i8]) -> Result<()> {
        self.check_shape()?;
        if row.len() != self.m.len() {
            return Err(Error::lengths(
                "comparison levels per pair",
                self.m.len(),
                row.len(),
            ));
        }
        // With the shape checked, m[k] and u[k] exist and have the same length.
        for ((&l, m), name) in row.iter().zip(&self.m).zip(&self.names) {
            if l < -1 || l as i64 >= m.len() as i64 {
                return Err(Error::value(
                    "comparison level",
                    format!("{l} of comparison {name}"),
                    format!("outside -1..{}", m.len()),
                ));
            }
        }
        Ok(())
    }

    /// `u` from the comparison vectors of random record pairs (almost all
    /// non-matches): each level's share among the non-null levels, with a
    /// floor so that no level is impossible.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] or [`Error::InvalidValue`] for rows that do not fit the model;
    /// [`Error::InvalidParameter`] for an inconsistent model ([`FsModel::check`]).
    pub fn estimate_u(&mut self, random_pairs: &Gammas) -> Result<()> {
        self.check()?;
        let mut counts: Vec<Vec<f64>> = self.u.iter().map(|u| vec![0.0; u.len()]).collect();
        for row in random_pairs.rows() {
            self.check_row(row)?;
            for (k, &l) in row.iter().enumerate() {
                if l >= 0 {
                    counts[k][l as usize] += 1.0;
                }
            }
        }
        for (u, c) in self.u.iter_mut().zip(counts) {
            let total: f64 = c.iter().sum();
            if total > 0.0 {
                *u = normalised(c.iter().map(|x| x / total));
            }
        }
        Ok(())
    }

    /// `m` from pairs known to be matches (e.g. labelled by a reviewer):
    /// each level's share among the matches' non-null levels, plus the
    /// Dirichlet pseudo-counts of `prior` where given, with a floor so that
    /// no level is impossible. Comparisons with fixed `m`, and those where
    /// no match has a value (and no prior), keep their `m`. Returns, per
    /// comparison, whether its `m` was estimated.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] or [`Error::InvalidValue`] for rows that do not fit the model;
    /// [`Error::InvalidParameter`] for an inconsistent model
    /// ([`FsModel::check`]) or a prior of the wrong shape or negative.
    pub fn estimate_m(
        &mut self,
        matches: &Gammas,
        prior: Option<&[Vec<f64>]>,
    ) -> Result<Vec<bool>> {
        self.check()?;
        if let Some(prior) = prior {
            self.check_prior(prior)?;
        }
        let mut counts: Vec<Vec<f64>> = match prior {
            Some(p) => p.to_vec(),
            None => self.m.iter().map(|m| vec![0.0; m.len()]).collect(),
        };
        for row in matches.rows() {
            self.check_row(row)?;
            for (c, &l) in counts.iter_mut().zip(row) {
                if let Some(x) = usize::try_from(l).ok().and_then(|l| c.get_mut(l)) {
                    *x += 1.0;
                }
            }
        }
        let mut estimated = vec![false; self.m.len()];
        for ((m, c), (fixed, done)) in self
            .m
            .iter_mut()
            .zip(&counts)
            .zip(self.fixed_m.iter().zip(&mut estimated))
        {
            let total: f64 = c.iter().sum();
            if !*fixed && total > 0.0 {
                *m = normalised(c.iter().map(|x| x / total));
                *done = true;
            }
        }
        Ok(estimated)
    }

    /// `m`, `u` and λ from labelled pairs (supervised): each level's share
    /// among the true matches gives `m` ([`FsModel::estimate_m`]), among the
    /// non-matches `u`, and the share of matches gives λ. Comparisons with
    /// fixed `m` keep it.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for a label count that differs from the pair
    /// count; [`Error::LengthMismatch`] or [`Error::InvalidValue`] for rows
    /// that do not fit the model; [`Error::InvalidInput`] for labels without
    /// at least one match and one non-match; [`Error::InvalidParameter`] for an
    /// inconsistent model ([`FsModel::check`]).
    pub fn fit_labelled(&mut self, pairs: &Gammas, is_match: &[bool]) -> Result<()> {
        self.check()?;
        if is_match.len() != pairs.len() {
            return Err(Error::lengths(
                "match labels per pair",
                pairs.len(),
                is_match.len(),
            ));
        }
        let matches = is_match.iter().filter(|m| **m).count();
        if matches == 0 || matches == is_match.len() {
            return Err(Error::InvalidInput(
                "labelled pairs need at least one match and one non-match".into(),
            ));
        }
        let n = self.m.len();
        let (mut positive, mut negative) = (Gammas::new(n), Gammas::new(n));
        for (row, &label) in pairs.rows().zip(is_match) {
            self.check_row(row)?;
            if label {
                positive.push(row)?;
            } else {
                negative.push(row)?;
            }
        }
        // Both on a copy, so an error leaves the model as it was.
        let mut fitted = self.clone();
        fitted.estimate_m(&positive, None)?;
        fitted.estimate_u(&negative)?;
        fitted.lambda = (matches as f64 / is_match.len() as f64).clamp(FLOOR, 1.0 - FLOOR);
        *self = fitted;
        Ok(())
    }

    fn check_prior(&self, prior: &[Vec<f64>]) -> Result<()> {
        let fits = prior.len() == self.m.len()
            && prior
                .iter()
                .zip(&self.m)
                .all(|(p, m)| p.len() == m.len() && p.iter().all(|x| *x >= 0.0 && x.is_finite()));
        if fits {
            Ok(())
        } else {
            Err(Error::param(
                "m_prior",
                format!("{prior:?}"),
                "one non-negative pseudo-count per level of every comparison",
            ))
        }
    }

    /// Fits `m`, `u` and λ by EM on the candidate pairs' comparison vectors.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for no pairs; [`Error::LengthMismatch`] or
    /// [`Error::InvalidValue`] for rows that do not fit the model;
    /// [`Error::InvalidParameter`] for an inconsistent model
    /// ([`FsModel::check`]) or a prior of the wrong shape or negative.
    pub fn fit_em(&mut self, pairs: &Gammas, params: &EmParams) -> Result<EmReport> {
        if pairs.is_empty() {
            return Err(Error::empty("comparison vectors to fit"));
        }
        params.check()?;
        self.check()?;
        if let Some(prior) = &params.m_prior {
            self.check_prior(prior)?;
        }
        let patterns = pairs.patterns();
        for (row, _) in &patterns {
            self.check_row(row)?;
        }
        let mut report = EmReport {
            iterations: 0,
            converged: false,
            last_change: f64::INFINITY,
            log_likelihood: f64::NAN,
            patterns: patterns.len(),
        };
        for iteration in 1..=params.max_iter {
            // E-step: each pattern's posterior probability of being a match.
            let mut m_counts: Vec<Vec<f64>> = self.m.iter().map(|m| vec![0.0; m.len()]).collect();
            let mut u_counts = m_counts.clone();
            let (mut matches, mut total) = (0.0, 0.0);
            let mut log_likelihood = 0.0;
            for (row, count) in &patterns {
                let (mut log_m, mut log_u) = (self.lambda.ln(), (1.0 - self.lambda).ln());
                for (k, &l) in row.iter().enumerate() {
                    if l >= 0 {
                        log_m += self.m[k][l as usize].ln();
                        log_u += self.u[k][l as usize].ln();
                    }
                }
                let top = log_m.max(log_u);
                let (em, eu) = ((log_m - top).exp(), (log_u - top).exp());
                let p = em / (em + eu);
                log_likelihood += count * (top + (em + eu).ln());
                matches += count * p;
                total += count;
                for (k, &l) in row.iter().enumerate() {
                    if l >= 0 {
                        m_counts[k][l as usize] += count * p;
                        u_counts[k][l as usize] += count * (1.0 - p);
                    }
                }
            }
            // M-step.
            let mut change: f64 = 0.0;
            for k in 0..self.m.len() {
                if !self.fixed_m[k] {
                    if let Some(prior) = &params.m_prior {
                        for (c, a) in m_counts[k].iter_mut().zip(&prior[k]) {
                            *c += a;
                        }
                    }
                    let sum: f64 = m_counts[k].iter().sum();
                    if sum > 0.0 {
                        let new = normalised(m_counts[k].iter().map(|c| c / sum));
                        change = change.max(max_diff(&self.m[k], &new));
                        self.m[k] = new;
                    }
                }
                if !params.fix_u {
                    let sum: f64 = u_counts[k].iter().sum();
                    if sum > 0.0 {
                        let new = normalised(u_counts[k].iter().map(|c| c / sum));
                        change = change.max(max_diff(&self.u[k], &new));
                        self.u[k] = new;
                    }
                }
            }
            if !params.fix_lambda {
                let new = (matches / total).clamp(FLOOR, 1.0 - FLOOR);
                change = change.max((new - self.lambda).abs());
                self.lambda = new;
            }
            report.iterations = iteration;
            report.last_change = change;
            report.log_likelihood = log_likelihood;
            if change < params.tol {
                report.converged = true;
                break;
            }
        }
        Ok(report)
    }

    /// λ as the share of matches among *all* `total_pairs` record pairs, with
    /// `m` and `u` kept: EM over the candidate pairs' vectors, every pair
    /// blocking left out counted as a non-match. This is the prior of
    /// Splink's `probability_two_random_records_match`, and with `u` from
    /// random pairs it makes the scores of blocked candidates consistent:
    /// agreement on a blocking key counts as the evidence it is.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] or [`Error::InvalidValue`] for rows that do not fit the model;
    /// [`Error::InvalidParameter`] for fewer total pairs than candidate pairs
    /// or an inconsistent model ([`FsModel::check`]).
    pub fn fit_prior(
        &mut self,
        pairs: &Gammas,
        total_pairs: f64,
        max_iter: usize,
        tol: f64,
    ) -> Result<EmReport> {
        if total_pairs.is_nan() || total_pairs < pairs.len() as f64 || !total_pairs.is_finite() {
            return Err(Error::param(
                "total_pairs",
                total_pairs,
                format!(
                    "must be finite and at least the {} candidate pairs",
                    pairs.len()
                ),
            ));
        }
        self.check()?;
        let patterns = pairs.patterns();
        // Each pattern's Bayes factor m/u, in log space.
        let mut log_factors = Vec::with_capacity(patterns.len());
        for (row, count) in &patterns {
            self.check_row(row)?;
            let mut f = 0.0;
            for (k, &l) in row.iter().enumerate() {
                if l >= 0 {
                    f += (self.m[k][l as usize] / self.u[k][l as usize]).ln();
                }
            }
            log_factors.push((f, *count));
        }
        let mut report = EmReport {
            iterations: 0,
            converged: false,
            last_change: f64::INFINITY,
            log_likelihood: f64::NAN,
            patterns: patterns.len(),
        };
        for iteration in 1..=max_iter {
            let prior = (self.lambda / (1.0 - self.lambda)).ln();
            let expected: f64 = log_factors
                .iter()
                .map(|(f, count)| count * probability((prior + f) / std::f64::consts::LN_2))
                .sum();
            let new = (expected / total_pairs).clamp(f64::MIN_POSITIVE, 1.0 - FLOOR);
            report.iterations = iteration;
            // Relative change: λ may be 1e-8 of all pairs.
            report.last_change = ((new - self.lambda) / self.lambda).abs();
            self.lambda = new;
            if report.last_change < tol {
                report.converged = true;
                break;
            }
        }
        Ok(report)
    }

    /// The match weight of one pair's levels: prior log-odds plus `log₂(m/u)`
    /// of every non-null level.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] or [`Error::InvalidValue`] for a row that does not fit the model.
    pub fn weight(&self, row: &[i8]) -> Result<f64> {
        self.check_row(row)?;
        let mut w = (self.lambda / (1.0 - self.lambda)).log2();
        for (k, &l) in row.iter().enumerate() {
            if l >= 0 {
                w += (self.m[k][l as usize] / self.u[k][l as usize]).log2();
            }
        }
        Ok(w)
    }

    /// One pair's evidence, field by field.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] or [`Error::InvalidValue`] for a row that does not fit the model.
    pub fn explain(&self, row: &[i8]) -> Result<Explanation> {
        self.check_row(row)?;
        let prior_weight = (self.lambda / (1.0 - self.lambda)).log2();
        let fields: Vec<FieldEvidence> = row
            .iter()
            .enumerate()
            .map(|(k, &l)| {
                if l < 0 {
                    FieldEvidence {
                        comparison: self.names[k].clone(),
                        level: l,
                        m: f64::NAN,
                        u: f64::NAN,
                        weight: 0.0,
                    }
                } else {
                    let (m, u) = (self.m[k][l as usize], self.u[k][l as usize]);
                    FieldEvidence {
                        comparison: self.names[k].clone(),
                        level: l,
                        m,
                        u,
                        weight: (m / u).log2(),
                    }
                }
            })
            .collect();
        let weight = prior_weight + fields.iter().map(|f| f.weight).sum::<f64>();
        Ok(Explanation {
            prior_weight,
            fields,
            weight,
            probability: probability(weight),
        })
    }
}

/// Floors the probabilities and renormalises them to sum to 1.
fn normalised(p: impl Iterator<Item = f64>) -> Vec<f64> {
    let floored: Vec<f64> = p.map(|x| x.max(FLOOR)).collect();
    let total: f64 = floored.iter().sum();
    floored.into_iter().map(|x| x / total).collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn draw(rng: &mut ChaCha8Rng, p: &[f64]) -> i8 {
        let mut u: f64 = rng.r#gen();
        for (l, &x) in p.iter().enumerate() {
            if u < x {
                return l as i8;
            }
            u -= x;
        }
        (p.len() - 1) as i8
    }

    /// Comparison vectors from a known model; `null_rate` of values missing.
    fn simulate(
        m: &[Vec<f64>],
        u: &[Vec<f64>],
        lambda: f64,
        n: usize,
        null_rate: f64,
        seed: u64,
    ) -> Gammas {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut g = Gammas::new(m.len());
        let mut row = vec![0i8; m.len()];
        for _ in 0..n {
            let is_match = rng.r#gen::<f64>() < lambda;
            for k in 0..m.len() {
                row[k] = if rng.r#gen::<f64>() < null_rate {
                    -1
                } else if is_match {
                    draw(&mut rng, &m[k])
                } else {
                    draw(&mut rng, &u[k])
                };
            }
            g.push(&row).unwrap();
        }
        g
    }

    fn truth() -> (Vec<Vec<f64>>, Vec<Vec<f64>>, f64) {
        // Levels: else, fuzzy…, exact.
        let m = vec![
            vec![0.05, 0.10, 0.85],
            vec![0.10, 0.15, 0.25, 0.50],
            vec![0.08, 0.92],
            vec![0.20, 0.80],
        ];
        let u = vec![
            vec![0.90, 0.08, 0.02],
            vec![0.70, 0.20, 0.08, 0.02],
            vec![0.95, 0.05],
            vec![0.60, 0.40],
        ];
        (m, u, 0.08)
    }

    #[test]
    fn em_recovers_known_m_u_and_lambda() {
        let (m, u, lambda) = truth();
        let pairs = simulate(&m, &u, lambda, 200_000, 0.05, 1);
        let names: Vec<String> = ["surname", "given", "email", "city"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut model = FsModel::new(names, &[3, 4, 2, 2], 0.5).unwrap();
        let report = model.fit_em(&pairs, &EmParams::default()).unwrap();
        assert!(report.converged, "{report:?}");
        assert!(report.patterns <= 3 * 4 * 2 * 2 * 2 * 2 * 2 * 2);
        assert!(
            (model.lambda - lambda).abs() < 0.005,
            "lambda {}",
            model.lambda
        );
        for k in 0..m.len() {
            for l in 0..m[k].len() {
                assert!(
                    (model.m[k][l] - m[k][l]).abs() < 0.02,
                    "m[{k}][{l}] {} vs {}",
                    model.m[k][l],
                    m[k][l]
                );
                assert!(
                    (model.u[k][l] - u[k][l]).abs() < 0.01,
                    "u[{k}][{l}] {} vs {}",
                    model.u[k][l],
                    u[k][l]
                );
            }
        }
        // u from random pairs (all non-matches here) is close to the truth too.
        let random = simulate(&m, &u, 0.0, 50_000, 0.05, 2);
        let mut from_random = model.clone();
        from_random.estimate_u(&random).unwrap();
        for (estimated, true_u) in from_random.u.iter().zip(&u) {
            for (e, t) in estimated.iter().zip(true_u) {
                assert!((e - t).abs() < 0.01, "{e} vs {t}");
            }
        }
        // EM with u fixed from random pairs recovers m and λ as well.
        let names: Vec<String> = (0..4).map(|k| format!("c{k}")).collect();
        let mut fixed = FsModel::new(names, &[3, 4, 2, 2], 0.5).unwrap();
        fixed.u = from_random.u.clone();
        let params = EmParams {
            fix_u: true,
            ..EmParams::default()
        };
        fixed.fit_em(&pairs, &params).unwrap();
        assert_eq!(fixed.u, from_random.u);
        assert!((fixed.lambda - lambda).abs() < 0.005);
    }

    #[test]
    fn em_reaches_recordlinkage_ecm_fixed_point() {
        // recordlinkage 0.16 (pandas 2.3.3, numpy 2.4.6): 3,000 binary
        // comparison vectors of 5 features, as distinct patterns with counts;
        // rl.ECMClassifier(init='jaro', binarize=None, max_iter=5000,
        // atol=None).fit(X), i.e. EM run to its fixed point from λ = 0.1,
        // m(agree) = 0.9, u(agree) = 0.1. Its p, m_probs and u_probs:
        let patterns: [([i8; 5], usize); 32] = [
            ([0, 0, 0, 0, 0], 898),
            ([0, 0, 0, 0, 1], 609),
            ([0, 0, 0, 1, 0], 24),
            ([0, 0, 0, 1, 1], 15),
            ([0, 0, 1, 0, 0], 367),
            ([0, 0, 1, 0, 1], 212),
            ([0, 0, 1, 1, 0], 10),
            ([0, 0, 1, 1, 1], 7),
            ([0, 1, 0, 0, 0], 119),
            ([0, 1, 0, 0, 1], 64),
            ([0, 1, 0, 1, 0], 2),
            ([0, 1, 0, 1, 1], 3),
            ([0, 1, 1, 0, 0], 54),
            ([0, 1, 1, 0, 1], 33),
            ([0, 1, 1, 1, 0], 9),
            ([0, 1, 1, 1, 1], 6),
            ([1, 0, 0, 0, 0], 49),
            ([1, 0, 0, 0, 1], 28),
            ([1, 0, 0, 1, 0], 6),
            ([1, 0, 0, 1, 1], 3),
            ([1, 0, 1, 0, 0], 27),
            ([1, 0, 1, 0, 1], 20),
            ([1, 0, 1, 1, 0], 15),
            ([1, 0, 1, 1, 1], 15),
            ([1, 1, 0, 0, 0], 11),
            ([1, 1, 0, 0, 1], 6),
            ([1, 1, 0, 1, 0], 16),
            ([1, 1, 0, 1, 1], 29),
            ([1, 1, 1, 0, 0], 27),
            ([1, 1, 1, 0, 1], 37),
            ([1, 1, 1, 1, 0], 107),
            ([1, 1, 1, 1, 1], 172),
        ];
        let lambda = 0.1515355621517145;
        let m_agree = [
            0.956822515685991,
            0.898764994180881,
            0.8650101599879593,
            0.8241645993142249,
            0.5979767349073435,
        ];
        let u_agree = [
            0.052259934019023374,
            0.1125230519658573,
            0.284734226950765,
            0.025272818180912413,
            0.387820527662084,
        ];
        let mut pairs = Gammas::new(5);
        for (row, count) in patterns {
            for _ in 0..count {
                pairs.push(&row).unwrap();
            }
        }
        assert_eq!(pairs.len(), 3_000);
        let names: Vec<String> = (1..=5).map(|k| format!("f{k}")).collect();
        let mut model = FsModel::new(names, &[2; 5], 0.1).unwrap();
        for k in 0..5 {
            model.m[k] = vec![0.1, 0.9];
            model.u[k] = vec![0.9, 0.1];
        }
        let params = EmParams {
            max_iter: 5_000,
            tol: 1e-13,
            ..EmParams::default()
        };
        let report = model.fit_em(&pairs, &params).unwrap();
        assert!(report.converged);
        assert!((model.lambda - lambda).abs() < 1e-9, "{}", model.lambda);
        for k in 0..5 {
            assert!((model.m[k][1] - m_agree[k]).abs() < 1e-9, "m {k}");
            assert!((model.u[k][1] - u_agree[k]).abs() < 1e-9, "u {k}");
        }
        // recordlinkage's log-likelihood at the fixed point: -7043.403105013821.
        assert!((report.log_likelihood + 7043.403105013821).abs() < 1e-6);
    }

    #[test]
    fn labelled_pairs_give_m_u_and_lambda_directly() {
        let (m, u, _) = truth();
        let matches = simulate(&m, &u, 1.0, 20_000, 0.0, 3);
        let others = simulate(&m, &u, 0.0, 80_000, 0.0, 4);
        let mut all = Gammas::new(4);
        let mut labels = Vec::new();
        for (g, label) in [(&matches, true), (&others, false)] {
            for row in g.rows() {
                all.push(row).unwrap();
                labels.push(label);
            }
        }
        let names: Vec<String> = (0..4).map(|k| format!("c{k}")).collect();
        let mut model = FsModel::new(names, &[3, 4, 2, 2], 0.5).unwrap();
        model.fit_labelled(&all, &labels).unwrap();
        assert!((model.lambda - 0.2).abs() < 1e-12);
        for k in 0..4 {
            for l in 0..m[k].len() {
                assert!((model.m[k][l] - m[k][l]).abs() < 0.01);
                assert!((model.u[k][l] - u[k][l]).abs() < 0.01);
            }
        }
        let n = all.len();
        assert!(matches!(
            model.fit_labelled(&all, &labels[1..]),
            Err(Error::LengthMismatch { expected, found, .. }) if expected == n && found == n - 1
        ));
        assert!(matches!(
            model.fit_labelled(&matches, &vec![true; matches.len()]),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn weights_are_bayes_factors_and_explain_adds_up() {
        let (m, u, lambda) = truth();
        let names: Vec<String> = ["surname", "given", "email", "city"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let model = FsModel {
            names,
            m: m.clone(),
            u: u.clone(),
            lambda,
            fixed_m: vec![false; 4],
        };
        let row = [2, 3, -1, 0];
        let want = (lambda / (1.0 - lambda)).log2()
            + (m[0][2] / u[0][2]).log2()
            + (m[1][3] / u[1][3]).log2()
            + (m[3][0] / u[3][0]).log2();
        assert!((model.weight(&row).unwrap() - want).abs() < 1e-12);
        let e = model.explain(&row).unwrap();
        assert!((e.weight - want).abs() < 1e-12);
        assert_eq!(e.fields[2].weight, 0.0, "a null level adds no evidence");
        assert!(
            (e.prior_weight + e.fields.iter().map(|f| f.weight).sum::<f64>() - e.weight).abs()
                < 1e-12
        );
        assert!((e.probability - probability(want)).abs() < 1e-15);
        // No saturation: weights stay distinct where probabilities round to 1.
        assert_eq!(probability(60.0), 1.0);
        assert_eq!(probability(70.0), 1.0);
        let sharp = FsModel {
            names: (0..4).map(|k| format!("c{k}")).collect(),
            m: vec![vec![1e-9, 1.0 - 1e-9]; 4],
            u: vec![vec![1.0 - 1e-9, 1e-9]; 4],
            lambda: 0.5,
            fixed_m: vec![false; 4],
        };
        let all_agree = sharp.weight(&[1, 1, 1, 1]).unwrap();
        let three_agree = sharp.weight(&[1, 1, 1, -1]).unwrap();
        assert_eq!(probability(all_agree), 1.0);
        assert_eq!(probability(three_agree), 1.0);
        assert!(all_agree.is_finite() && three_agree.is_finite());
        assert!(
            all_agree - three_agree > 29.0,
            "one more agreement adds ~log2(1e9) bits: {all_agree} vs {three_agree}"
        );
        let explained = sharp.explain(&[1, 1, 1, 1]).unwrap();
        assert_eq!(explained.probability, 1.0);
        assert!((explained.weight - all_agree).abs() < 1e-9);
        assert!(
            explained
                .fields
                .iter()
                .all(|f| f.weight.is_finite() && f.weight > 29.0)
        );
        assert!(probability(-2000.0) == 0.0 && probability(2000.0) == 1.0);
        assert!((probability(0.0) - 0.5).abs() < 1e-15);
        assert!(
            matches!(
                model.weight(&[3, 0, 0, 0]),
                Err(Error::InvalidValue {
                    what: "comparison level",
                    ..
                })
            ),
            "level out of range"
        );
        assert!(
            matches!(
                model.weight(&[0, 0]),
                Err(Error::LengthMismatch {
                    expected: 4,
                    found: 2,
                    ..
                })
            ),
            "wrong length"
        );
    }

    #[test]
    fn fixed_m_and_priors_are_respected() {
        let (m, u, lambda) = truth();
        let pairs = simulate(&m, &u, lambda, 20_000, 0.0, 3);
        let names: Vec<String> = (0..4).map(|k| format!("c{k}")).collect();
        let mut model = FsModel::new(names, &[3, 4, 2, 2], 0.3).unwrap();
        model.fixed_m[2] = true;
        let before = model.m[2].clone();
        let prior = vec![
            vec![0.0, 0.0, 1000.0],
            vec![0.0; 4],
            vec![0.0; 2],
            vec![0.0; 2],
        ];
        let params = EmParams {
            m_prior: Some(prior),
            ..EmParams::default()
        };
        model.fit_em(&pairs, &params).unwrap();
        assert_eq!(model.m[2], before);
        assert!(
            model.m[0][2] > m[0][2],
            "the prior pulls exact agreement up"
        );
        let bad = EmParams {
            m_prior: Some(vec![vec![1.0]]),
            ..EmParams::default()
        };
        assert!(matches!(
            model.fit_em(&pairs, &bad),
            Err(Error::InvalidParameter {
                name: "m_prior",
                ..
            })
        ));
        assert!(matches!(
            model.fit_em(&Gammas::new(4), &EmParams::default()),
            Err(Error::EmptyInput { .. })
        ));
        assert!(matches!(
            FsModel::new(vec!["a".into()], &[1], 0.1),
            Err(Error::InvalidParameter {
                name: "n_levels",
                ..
            })
        ));
        assert!(matches!(
            FsModel::new(vec!["a".into()], &[2], 1.0),
            Err(Error::InvalidParameter { name: "lambda", .. })
        ));
    }

    /// A model whose parts disagree in length, as a hand-edited settings
    /// file can give: every fit and score is an error, never a panic.
    #[test]
    fn malformed_models_are_errors_not_panics() {
        let (m, u, lambda) = truth();
        let good = FsModel {
            names: (0..4).map(|k| format!("c{k}")).collect(),
            m,
            u,
            lambda,
            fixed_m: vec![false; 4],
        };
        good.check().unwrap();
        let pairs = simulate(&good.m, &good.u, lambda, 500, 0.1, 9);
        let mut short_names = good.clone();
        short_names.names.pop();
        let mut short_u = good.clone();
        short_u.u.pop();
        let mut short_u_levels = good.clone();
        short_u_levels.u[1].pop();
        let mut short_fixed = good.clone();
        short_fixed.fixed_m.truncate(1);
        let mut bad_lambda = good.clone();
        bad_lambda.lambda = f64::NAN;
        let mut zero_m = good.clone();
        zero_m.m[0][0] = 0.0;
        for (what, model) in [
            ("names", short_names),
            ("u", short_u),
            ("u levels", short_u_levels),
            ("fixed_m", short_fixed),
        ] {
            let row = [2, 3, 1, 1];
            for result in [
                model.check().map(|_| ()),
                model.weight(&row).map(|_| ()),
                model.explain(&row).map(|_| ()),
                model
                    .clone()
                    .fit_em(&pairs, &EmParams::default())
                    .map(|_| ()),
                model.clone().fit_prior(&pairs, 1e6, 10, 1e-6).map(|_| ()),
                model.clone().estimate_u(&pairs),
                model.clone().estimate_m(&pairs, None).map(|_| ()),
                model.clone().fit_labelled(
                    &pairs,
                    &(0..pairs.len()).map(|i| i % 2 == 0).collect::<Vec<_>>(),
                ),
            ] {
                match result {
                    Err(Error::InvalidParameter { name, value, .. }) => {
                        assert_eq!(name, "model", "{what}");
                        assert!(!value.is_empty(), "{what}: the error says what is wrong");
                    }
                    other => panic!("{what}: expected a model error, got {other:?}"),
                }
            }
        }
        for (model, name) in [(bad_lambda, "model.lambda"), (zero_m, "model")] {
            assert!(
                matches!(model.check(), Err(Error::InvalidParameter { name: n, .. }) if n == name),
                "{name}"
            );
            assert!(
                matches!(
                    model.clone().fit_em(&pairs, &EmParams::default()),
                    Err(Error::InvalidParameter { name: n, .. }) if n == name
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn gamma_rows_are_options_and_iterate_in_order() {
        let mut g = Gammas::new(2);
        g.push(&[0, 1]).unwrap();
        g.push(&[1, -1]).unwrap();
        assert_eq!(g.row(1), Some(&[1i8, -1][..]));
        assert_eq!(g.row(2), None);
        assert_eq!(g.row(usize::MAX), None);
        assert_eq!(
            g.rows().collect::<Vec<_>>(),
            vec![&[0i8, 1][..], &[1, -1][..]]
        );
        assert_eq!(Gammas::new(0).row(0), None);
        // A deserialised set with a partial trailing row: the partial row is not a pair.
        let odd: Gammas = serde_json::from_str(r#"{"n_comparisons":2,"levels":[0,1,1]}"#).unwrap();
        assert_eq!(odd.len(), 1);
        assert_eq!(odd.row(1), None);
        assert_eq!(odd.rows().count(), 1);
    }

    #[test]
    fn m_from_matches_with_prior_and_fixed_m() {
        let (m, u, _) = truth();
        let matches = simulate(&m, &u, 1.0, 20_000, 0.05, 5);
        let names: Vec<String> = (0..4).map(|k| format!("c{k}")).collect();
        let mut model = FsModel::new(names, &[3, 4, 2, 2], 0.5).unwrap();
        model.fixed_m[3] = true;
        let kept = model.m[3].clone();
        let estimated = model.estimate_m(&matches, None).unwrap();
        assert_eq!(estimated, vec![true, true, true, false]);
        assert_eq!(model.m[3], kept);
        for (k, (estimated, truth)) in model.m.iter().zip(&m).take(3).enumerate() {
            for (l, (e, t)) in estimated.iter().zip(truth).enumerate() {
                assert!((e - t).abs() < 0.01, "m[{k}][{l}]: {e} vs {t}");
            }
        }
        // Without matches, a prior alone gives its mean; no prior: m stays.
        let mut prior_only = FsModel::new(vec!["a".into(), "b".into()], &[2, 2], 0.5).unwrap();
        let before = prior_only.m[1].clone();
        let prior = vec![vec![1.0, 3.0], vec![0.0, 0.0]];
        let estimated = prior_only
            .estimate_m(&Gammas::new(2), Some(&prior))
            .unwrap();
        assert_eq!(estimated, vec![true, false]);
        assert!((prior_only.m[0][1] - 0.75).abs() < 1e-12);
        assert_eq!(prior_only.m[1], before);
        assert!(matches!(
            prior_only.estimate_m(&Gammas::new(2), Some(&[vec![1.0]])),
            Err(Error::InvalidParameter {
                name: "m_prior",
                ..
            })
        ));
    }
}
