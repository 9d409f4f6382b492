//! Settings of a linkage, as one serde struct (JSON), in the spirit of
//! Splink's settings dictionary: how columns are cleansed, which rules
//! decide outright, how candidate pairs are blocked, how fields are
//! compared, and where the match threshold lies.
//!
//! Zero-config mode ([`auto`](super::auto)) writes these settings from a
//! profile of the data, so a user can inspect, edit and pass them back.
//!
//! ```
//! use custinsight::identity::settings::Settings;
//!
//! let json = r#"{
//!   "link_type": "dedupe",
//!   "columns": [{"column": "email", "kind": "email"},
//!               {"column": "surname", "kind": "name"}],
//!   "deterministic_rules": [{"name": "same e-mail", "columns": ["email"]}],
//!   "blocking_rules": [{"name": "surname", "on": [{"column": "surname", "transform": "soundex"}]}],
//!   "comparisons": [{"name": "surname", "column": "surname",
//!                    "method": {"kind": "jaro_winkler", "thresholds": [0.92, 0.8]}}],
//!   "term_frequency": ["surname"]
//! }"#;
//! let settings: Settings = serde_json::from_str(json)?;
//! settings.check()?;
//! assert_eq!(settings.threshold, 0.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::blocking::{BlockingRule, LinkType};
use super::compare::FieldComparison;
use super::fellegi_sunter::FsModel;
use super::prepare::ColumnPrep;
use crate::error::{Error, Result};

/// Records that agree exactly (and non-null) on every listed prepared
/// column are the same customer, whatever the other fields say (e.g. the
/// same loyalty card number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeterministicRule {
    /// Name in reports.
    pub name: String,
    /// Prepared columns that must all agree.
    pub columns: Vec<String>,
}

/// How m and u are estimated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EstimationSettings {
    /// Random record pairs compared to estimate `u` (their fuzzy levels; the
    /// exact level's `u` is computed from the value counts).
    pub u_sample_pairs: usize,
    /// Seed for the random pairs.
    pub seed: u64,
    /// EM iterations at most.
    pub max_iter: usize,
    /// EM stops when no probability moves by more than this.
    pub tol: f64,
    /// Starting λ of the EM run per blocking rule (the share of matches
    /// among the rule's pairs).
    pub initial_lambda: f64,
    /// `m` fixed per comparison name (one probability per level, else first).
    pub fixed_m: BTreeMap<String, Vec<f64>>,
    /// Dirichlet pseudo-counts on `m` per comparison name (a prior).
    pub m_prior: BTreeMap<String, Vec<f64>>,
}

impl Default for EstimationSettings {
    fn default() -> Self {
        EstimationSettings {
            u_sample_pairs: 20_000,
            seed: 42,
            max_iter: 100,
            tol: 1e-6,
            initial_lambda: 0.3,
            fixed_m: BTreeMap::new(),
            m_prior: BTreeMap::new(),
        }
    }
}

/// Guards when matched pairs are clustered into customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterSettings {
    /// The largest customer (records) a link may create; `None`: no limit.
    pub max_cluster_size: Option<usize>,
    /// Prepared columns where two different values in one customer are a
    /// hard conflict that blocks a merge (e.g. verified e-mails).
    pub conflict_columns: Vec<String>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            max_cluster_size: Some(100),
            conflict_columns: Vec::new(),
        }
    }
}

/// A linkage's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Dedupe within the records, or link across sources only.
    #[serde(default)]
    pub link_type: LinkType,
    /// How each used column is cleansed.
    pub columns: Vec<ColumnPrep>,
    /// Rules that match outright (their keys are blocked on too).
    #[serde(default)]
    pub deterministic_rules: Vec<DeterministicRule>,
    /// Blocking rules, unioned.
    pub blocking_rules: Vec<BlockingRule>,
    /// Blocks with more records are skipped.
    #[serde(default = "default_max_block_size")]
    pub max_block_size: usize,
    /// Field comparisons (on prepared columns).
    pub comparisons: Vec<FieldComparison>,
    /// Comparisons whose exact level is adjusted for the value's frequency
    /// (a rare surname agreeing weighs more than a common one).
    #[serde(default)]
    pub term_frequency: Vec<String>,
    /// Match probability from which a pair is a match.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Estimation of m, u and λ.
    #[serde(default)]
    pub estimation: EstimationSettings,
    /// Clustering guards.
    #[serde(default)]
    pub cluster: ClusterSettings,
    /// A fitted model to use instead of estimating one (e.g. from a
    /// previous run's settings output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<FsModel>,
}

fn default_max_block_size() -> usize {
    2_000
}

fn default_threshold() -> f64 {
    0.5
}

impl Settings {
    /// Checks that the settings are consistent: columns referenced by rules,
    /// comparisons and guards are prepared, names are unique, numbers in range.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] or [`Error::NotFound`] naming the first problem.
    pub fn check(&self) -> Result<()> {
        let prepared = |c: &str| self.columns.iter().any(|p| p.column == c);
        let need = |c: &str| {
            if prepared(c) {
                Ok(())
            } else {
                Err(Error::NotFound {
                    what: "prepared column (add it to `columns`)",
                    id: c.to_owned(),
                })
            }
        };
        if self.comparisons.is_empty() {
            return Err(Error::param("comparisons", "[]", "at least one comparison"));
        }
        if self.blocking_rules.is_empty() && self.deterministic_rules.is_empty() {
            return Err(Error::param(
                "blocking_rules",
                "[]",
                "at least one blocking or deterministic rule",
            ));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(Error::param(
                "threshold",
                self.threshold,
                "must lie in [0, 1]",
            ));
        }
        if self.max_block_size < 2 {
            return Err(Error::param(
                "max_block_size",
                self.max_block_size,
                "at least 2",
            ));
        }
        let e = &self.estimation;
        if !(e.initial_lambda > 0.0 && e.initial_lambda < 1.0) {
            return Err(Error::param(
                "initial_lambda",
                e.initial_lambda,
                "must lie in (0, 1)",
            ));
        }
        if !(e.tol > 0.0 && e.tol.is_finite()) || e.max_iter == 0 {
            return Err(Error::param(
                "estimation",
                format!("max_iter {}, tol {}", e.max_iter, e.tol),
                "max_iter ≥ 1 and a positive finite tol",
            ));
        }
        if self.cluster.max_cluster_size == Some(0) {
            return Err(Error::param("max_cluster_size", 0, "at least 1"));
        }
        for rule in &self.deterministic_rules {
            if rule.columns.is_empty() {
                return Err(Error::param(
                    "deterministic_rules",
                    &rule.name,
                    "at least one column",
                ));
            }
            rule.columns.iter().try_for_each(|c| need(c))?;
        }
        for rule in &self.blocking_rules {
            rule.on.iter().try_for_each(|p| need(&p.column))?;
        }
        let mut names = Vec::new();
        for c in &self.comparisons {
            need(&c.column)?;
            if let Some(other) = &c.swapped_with {
                need(other)?;
            }
            if names.contains(&&c.name) {
                return Err(Error::param(
                    "comparisons",
                    &c.name,
                    "comparison names are unique",
                ));
            }
            names.push(&c.name);
        }
        let known = |name: &String, what: &'static str| {
            if names.contains(&name) {
                Ok(())
            } else {
                Err(Error::NotFound {
                    what,
                    id: name.clone(),
                })
            }
        };
        for name in &self.term_frequency {
            known(name, "comparison for term frequency")?;
        }
        for name in e.fixed_m.keys() {
            known(name, "comparison for fixed m")?;
        }
        for name in e.m_prior.keys() {
            known(name, "comparison for an m prior")?;
        }
        self.cluster
            .conflict_columns
            .iter()
            .try_for_each(|c| need(c))?;
        Ok(())
    }
}
