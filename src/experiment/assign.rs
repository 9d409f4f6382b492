//! Deterministic assignment of units (customers, sessions, accounts) to
//! experiment variants.
//!
//! A unit's variant must be the same on every request, in every process, on
//! every platform, and must not depend on who else is in the experiment, so
//! assignment is a pure function of (hash seed, unit id): a hash maps the pair
//! to a number in [0, 1), and weighted ranges of [0, 1) map the number to a
//! variant. The hashing is GrowthBook's (its SDKs' `hash`, versions 1 and 2),
//! so a service using this crate and a GrowthBook SDK put the same unit in the
//! same variant:
//!
//! - FNV-1a 32-bit over the string's UTF-16 code units (ASCII: its bytes);
//! - version 2 (default): `n = fnv1a32(decimal(fnv1a32(seed + id)))`, position `(n mod 10000) / 10000`;
//! - version 1: `n = fnv1a32(id + seed)`, position `(n mod 1000) / 1000`.
//!
//! **Bucket ranges.** With variant weights `w` (normalised to sum to 1) and
//! coverage `c`, variant `i` owns `[W_i, W_i + c·w_i)` where `W_i` is the sum of
//! the earlier weights. Units whose position falls outside every range are not
//! in the experiment; coverage can be raised later without moving anybody
//! already in it.
//!
//! **Layers (namespaces).** Experiments that must not overlap share a
//! namespace and take disjoint ranges of it: a unit is eligible when
//! `hash("__" + namespace, id, v1)` lies in the experiment's range, as in
//! GrowthBook.
//!
//! **Holdouts.** A holdout keeps a share of units out of every experiment that
//! names it, so the total effect of all changes can be measured against
//! untouched units.
//!
//! **Targeting and consent.** [`ExperimentDesign::assign_base`] assigns a
//! whole [`CustomerBase`]: only customers in the
//! targeted segments, and (when a channel is named) only customers whose
//! consent allows it, with every excluded customer counted by reason.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::{Channel, Purpose};
use crate::segment::segments::Segments;
use crate::store::CustomerBase;

/// FNV-1a 32-bit over UTF-16 code units (GrowthBook's `fnv32a`).
pub fn fnv1a32(s: &str) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for unit in s.encode_utf16() {
        h = (h ^ u32::from(unit)).wrapping_mul(0x0100_0193);
    }
    h
}

/// GrowthBook's hash versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashVersion {
    /// `fnv1a32(id + seed) mod 1000 / 1000` (1,000 buckets; used for namespaces).
    V1,
    /// `fnv1a32(decimal(fnv1a32(seed + id))) mod 10000 / 10000` (10,000 buckets).
    #[default]
    V2,
}

/// The position in [0, 1) of `unit` under `seed`.
pub fn hash(seed: &str, unit: &str, version: HashVersion) -> f64 {
    let mut joined = String::with_capacity(seed.len() + unit.len());
    match version {
        HashVersion::V1 => {
            joined.push_str(unit);
            joined.push_str(seed);
            f64::from(fnv1a32(&joined) % 1000) / 1000.0
        }
        HashVersion::V2 => {
            joined.push_str(seed);
            joined.push_str(unit);
            let inner = fnv1a32(&joined).to_string();
            f64::from(fnv1a32(&inner) % 10_000) / 10_000.0
        }
    }
}

/// A layer of mutually exclusive experiments and this experiment's share of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Namespace {
    /// Namespace name.
    pub name: String,
    /// Start of this experiment's range, in [0, 1].
    pub start: f64,
    /// End of this experiment's range (exclusive), in [start, 1].
    pub end: f64,
}

impl Namespace {
    /// Whether `unit` falls in this experiment's part of the namespace.
    pub fn contains(&self, unit: &str) -> bool {
        let n = hash(&format!("__{}", self.name), unit, HashVersion::V1);
        self.start <= n && n < self.end
    }
}

/// A share of units kept out of every experiment that names the holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    /// Holdout key (its hash seed).
    pub key: String,
    /// Share of units held out, in [0, 1].
    pub share: f64,
}

impl Holdout {
    /// Whether `unit` is held out.
    pub fn holds_out(&self, unit: &str) -> bool {
        hash(&self.key, unit, HashVersion::V2) < self.share
    }
}

/// How an experiment splits its units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentDesign {
    /// Experiment key.
    pub key: String,
    /// Hash seed (salt); the key when `None`. Changing it reshuffles everybody.
    #[serde(default)]
    pub seed: Option<String>,
    /// Variant names, control first.
    pub variants: Vec<String>,
    /// Variant weights (normalised to sum to 1).
    pub weights: Vec<f64>,
    /// Share of eligible units in the experiment, in [0, 1] (default 1).
    #[serde(default = "one")]
    pub coverage: f64,
    /// Mutually exclusive layer, if any.
    #[serde(default)]
    pub namespace: Option<Namespace>,
    /// Holdout, if any.
    #[serde(default)]
    pub holdout: Option<Holdout>,
    /// Hash version (default 2).
    #[serde(default)]
    pub hash_version: HashVersion,
}

fn one() -> f64 {
    1.0
}

/// Why a unit got no variant, or which it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "variant")]
pub enum Assignment {
    /// In the experiment, in this variant (index into `variants`).
    Variant(usize),
    /// Kept out by the holdout.
    HeldOut,
    /// Outside the experiment's part of its namespace.
    NotInNamespace,
    /// Outside the coverage.
    NotCovered,
}

impl ExperimentDesign {
    /// An experiment with equal weights, full coverage, hash version 2.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty key or fewer than two variants.
    pub fn new(key: impl Into<String>, variants: &[&str]) -> Result<ExperimentDesign> {
        let n = variants.len();
        let design = ExperimentDesign {
            key: key.into(),
            seed: None,
            variants: variants.iter().map(|v| (*v).to_owned()).collect(),
            weights: vec![1.0 / n.max(1) as f64; n],
            coverage: 1.0,
            namespace: None,
            holdout: None,
            hash_version: HashVersion::V2,
        };
        design.check()?;
        Ok(design)
    }

    /// Checks the design.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty key, fewer than two variants,
    /// weights that are not one per variant, negative, non-finite or all zero,
    /// coverage, namespace range or holdout share outside [0, 1].
    pub fn check(&self) -> Result<()> {
        if self.key.trim().is_empty() {
            return Err(Error::param("key", "", "must not be empty"));
        }
        if self.variants.len() < 2 {
            return Err(Error::param(
                "variants",
                self.variants.len(),
                "an experiment needs at least two variants",
            ));
        }
        if self.weights.len() != self.variants.len() {
            return Err(Error::param(
                "weights",
                self.weights.len(),
                format!("need one weight per variant ({})", self.variants.len()),
            ));
        }
        if self.weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
            || self.weights.iter().sum::<f64>() <= 0.0
        {
            return Err(Error::param(
                "weights",
                format!("{:?}", self.weights),
                "must be finite, >= 0, and not all zero",
            ));
        }
        let unit = |name: &'static str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::param(name, v, "must be in [0, 1]"))
            }
        };
        unit("coverage", self.coverage)?;
        if let Some(ns) = &self.namespace {
            unit("namespace.start", ns.start)?;
            unit("namespace.end", ns.end)?;
            if ns.end < ns.start {
                return Err(Error::param(
                    "namespace.end",
                    ns.end,
                    "must not be below namespace.start",
                ));
            }
        }
        if let Some(h) = &self.holdout {
            unit("holdout.share", h.share)?;
        }
        Ok(())
    }

    /// Each variant's range of [0, 1): `[W_i, W_i + coverage · w_i)`.
    pub fn bucket_ranges(&self) -> Vec<(f64, f64)> {
        let total: f64 = self.weights.iter().sum();
        let mut cumulative = 0.0;
        self.weights
            .iter()
            .map(|w| {
                let w = if total > 0.0 { w / total } else { 0.0 };
                let start = cumulative;
                cumulative += w;
                (start, start + self.coverage * w)
            })
            .collect()
    }

    /// The assignment of one unit. Pure: the same design and id always give the same answer.
    pub fn assign(&self, unit: &str) -> Assignment {
        self.assign_with(unit, &self.bucket_ranges())
    }

    fn assign_with(&self, unit: &str, ranges: &[(f64, f64)]) -> Assignment {
        if self.holdout.as_ref().is_some_and(|h| h.holds_out(unit)) {
            return Assignment::HeldOut;
        }
        if self.namespace.as_ref().is_some_and(|ns| !ns.contains(unit)) {
            return Assignment::NotInNamespace;
        }
        let seed = self.seed.as_deref().unwrap_or(&self.key);
        let n = hash(seed, unit, self.hash_version);
        match ranges.iter().position(|&(lo, hi)| lo <= n && n < hi) {
            Some(v) => Assignment::Variant(v),
            None => Assignment::NotCovered,
        }
    }

    /// Assigns every customer of `base` (the unit id is the customer id).
    ///
    /// # Errors
    /// As [`ExperimentDesign::check`]; the errors of `Segments::check_base` when the
    /// targeting labels do not match the base.
    pub fn assign_base(
        &self,
        base: &CustomerBase,
        targeting: &Targeting<'_>,
    ) -> Result<BaseAssignment> {
        self.check()?;
        if let Some((segments, _)) = targeting.segments {
            segments.check_base(base)?;
        }
        let ranges = self.bucket_ranges();
        Ok(assign_customers(
            base,
            self.variants.len(),
            targeting.consent.as_ref(),
            |c| match targeting.segments {
                Some((segments, allowed))
                    if !segments.segment_of(c).is_some_and(|s| allowed.contains(&s)) =>
                {
                    None
                }
                _ => Some((self, ranges.as_slice())),
            },
        ))
    }
}

/// Assigns every customer of `base` with the design (and its bucket ranges)
/// that `design_of` picks for it (`None`: not targeted), after the consent
/// check; every customer is counted once.
pub(crate) fn assign_customers<'d>(
    base: &CustomerBase,
    variants: usize,
    consent: Option<&(Channel, Purpose, jiff::Timestamp)>,
    design_of: impl Fn(u32) -> Option<(&'d ExperimentDesign, &'d [(f64, f64)])>,
) -> BaseAssignment {
    let mut out = BaseAssignment {
        variant: vec![None; base.n_customers()],
        counts: vec![0; variants],
        not_targeted: 0,
        no_consent: 0,
        held_out: 0,
        not_in_namespace: 0,
        not_covered: 0,
    };
    for c in 0..base.n_customers() as u32 {
        let Some((design, ranges)) = design_of(c) else {
            out.not_targeted += 1;
            continue;
        };
        if let Some((channel, purpose, at)) = consent {
            if !base.allows(c, channel, purpose, *at) {
                out.no_consent += 1;
                continue;
            }
        }
        match design.assign_with(base.customer_id(c), ranges) {
            Assignment::Variant(v) => {
                out.variant[c as usize] = Some(v as u16);
                out.counts[v] += 1;
            }
            Assignment::HeldOut => out.held_out += 1,
            Assignment::NotInNamespace => out.not_in_namespace += 1,
            Assignment::NotCovered => out.not_covered += 1,
        }
    }
    out
}

/// Who may enter an experiment.
#[derive(Debug, Clone, Default)]
pub struct Targeting<'a> {
    /// The segments of the base and the segment ids that are targeted
    /// (customers left out of the segments are not targeted).
    pub segments: Option<(&'a Segments, &'a [u32])>,
    /// Consent required to contact the customer: channel, purpose, and when.
    pub consent: Option<(Channel, Purpose, jiff::Timestamp)>,
}

/// A whole base assigned, every customer accounted for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseAssignment {
    /// Variant of every customer (by customer index), `None` when not in the experiment.
    pub variant: Vec<Option<u16>>,
    /// Customers per variant.
    pub counts: Vec<usize>,
    /// Outside the targeted segments.
    pub not_targeted: usize,
    /// Targeted, but without the required consent.
    pub no_consent: usize,
    /// Kept out by the holdout.
    pub held_out: usize,
    /// Outside the experiment's part of its namespace.
    pub not_in_namespace: usize,
    /// Outside the coverage.
    pub not_covered: usize,
}

impl BaseAssignment {
    /// Customers in the experiment.
    pub fn assigned(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Every customer, assigned or excluded (equals the base size).
    pub fn accounted(&self) -> usize {
        self.assigned()
            + self.not_targeted
            + self.no_consent
            + self.held_out
            + self.not_in_namespace
            + self.not_covered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{ChiSquared, ContinuousCDF};

    #[test]
    fn hashes_equal_growthbook() {
        // growthbook 4.0.0 (Python SDK): growthbook.core.gbhash(seed, value, version)
        let cases: &[(&str, &str, HashVersion, f64)] = &[
            ("", "a", HashVersion::V1, 0.22),
            ("", "b", HashVersion::V1, 0.077),
            ("b", "a", HashVersion::V1, 0.946),
            ("ef", "d", HashVersion::V1, 0.652),
            ("asdf", "a", HashVersion::V1, 0.306),
            ("", "a", HashVersion::V2, 0.0216),
            ("", "b", HashVersion::V2, 0.9054),
            ("b", "a", HashVersion::V2, 0.665),
            ("ef", "d", HashVersion::V2, 0.8601),
            ("asdf", "a", HashVersion::V2, 0.4394),
            ("exp-checkout", "customer-00042", HashVersion::V2, 0.8553),
            ("exp-checkout", "ümlaut-客户", HashVersion::V2, 0.2621),
            ("seed", "😀", HashVersion::V2, 0.4346),
            ("seed", "😀", HashVersion::V1, 0.429),
        ];
        for &(seed, unit, version, want) in cases {
            assert_eq!(
                hash(seed, unit, version),
                want,
                "{seed:?} {unit:?} {version:?}"
            );
        }
    }

    #[test]
    fn bucket_ranges_and_choice_equal_growthbook() {
        // growthbook.core.getBucketRanges(3, 0.8, [0.2, 0.3, 0.5])
        //   -> [(0, 0.16000000000000003), (0.2, 0.44), (0.5, 0.9)]
        // chooseVariation(gbhash("exp-checkout", "customer-00042", 2), ranges) -> 2
        // inNamespace("customer-00042", ("checkout", 0, 0.5)) -> True (gbhash("__checkout", id, 1) = 0.416)
        let mut d = ExperimentDesign::new("exp-checkout", &["a", "b", "c"]).unwrap();
        d.weights = vec![0.2, 0.3, 0.5];
        d.coverage = 0.8;
        assert_eq!(
            d.bucket_ranges(),
            [(0.0, 0.16000000000000003), (0.2, 0.44), (0.5, 0.9)]
        );
        assert_eq!(d.assign("customer-00042"), Assignment::Variant(2));
        d.namespace = Some(Namespace {
            name: "checkout".into(),
            start: 0.0,
            end: 0.5,
        });
        assert_eq!(d.assign("customer-00042"), Assignment::Variant(2));
        d.namespace = Some(Namespace {
            name: "checkout".into(),
            start: 0.5,
            end: 1.0,
        });
        assert_eq!(d.assign("customer-00042"), Assignment::NotInNamespace);
    }

    #[test]
    fn a_million_ids_split_within_chi_square_expectations() {
        let mut d = ExperimentDesign::new("uniformity", &["control", "a", "b", "c"]).unwrap();
        d.weights = vec![0.4, 0.2, 0.2, 0.2];
        let n = 1_000_000;
        let mut counts = [0f64; 4];
        for i in 0..n {
            match d.assign(&format!("user-{i}")) {
                Assignment::Variant(v) => counts[v] += 1.0,
                other => panic!("full coverage assigns everybody, got {other:?}"),
            }
        }
        let chi2: f64 = counts
            .iter()
            .zip(&d.weights)
            .map(|(&o, &w)| {
                let e = w * n as f64;
                (o - e).powi(2) / e
            })
            .sum();
        let p = ChiSquared::new(3.0).unwrap().sf(chi2);
        // A deterministic draw: fixed ids, fixed hash. Fails if the split is biased.
        assert!(p > 0.001, "chi-square {chi2}, p = {p}, counts {counts:?}");
    }

    #[test]
    fn coverage_grows_without_moving_anyone_and_salt_reshuffles() {
        let mut d = ExperimentDesign::new("grow", &["control", "treatment"]).unwrap();
        d.coverage = 0.3;
        let before: Vec<Assignment> = (0..2000).map(|i| d.assign(&format!("u{i}"))).collect();
        d.coverage = 0.9;
        for (i, b) in before.iter().enumerate() {
            if let Assignment::Variant(v) = b {
                assert_eq!(d.assign(&format!("u{i}")), Assignment::Variant(*v));
            }
        }
        let covered = before
            .iter()
            .filter(|a| matches!(a, Assignment::Variant(_)))
            .count();
        assert!((450..750).contains(&covered), "{covered}");
        let mut salted = d.clone();
        salted.seed = Some("salt-2".into());
        let moved = (0..2000)
            .filter(|i| salted.assign(&format!("u{i}")) != d.assign(&format!("u{i}")))
            .count();
        assert!(moved > 500, "{moved}");
    }

    #[test]
    fn namespaces_keep_experiments_apart_and_holdouts_hold_out() {
        let layer = |start, end| Namespace {
            name: "pricing".into(),
            start,
            end,
        };
        let mut a = ExperimentDesign::new("price-a", &["c", "t"]).unwrap();
        a.namespace = Some(layer(0.0, 0.5));
        let mut b = ExperimentDesign::new("price-b", &["c", "t"]).unwrap();
        b.namespace = Some(layer(0.5, 1.0));
        let holdout = Holdout {
            key: "global-holdout".into(),
            share: 0.1,
        };
        let (mut in_a, mut held) = (0, 0);
        for i in 0..5000 {
            let id = format!("c{i}");
            let (x, y) = (a.assign(&id), b.assign(&id));
            assert!(
                !(matches!(x, Assignment::Variant(_)) && matches!(y, Assignment::Variant(_))),
                "{id} is in both experiments of one layer"
            );
            in_a += usize::from(matches!(x, Assignment::Variant(_)));
            let mut h = a.clone();
            h.holdout = Some(holdout.clone());
            if h.assign(&id) == Assignment::HeldOut {
                held += 1;
                assert!(holdout.holds_out(&id));
            }
        }
        assert!((2200..2800).contains(&in_a), "{in_a}");
        assert!((350..650).contains(&held), "{held}");
    }

    #[test]
    fn a_base_is_assigned_with_targeting_and_consent_and_everyone_accounted_for() {
        let pop = crate::synth::Population::generate(
            &crate::synth::SynthParams::with_customers(3_000).with_seed(3),
        )
        .unwrap();
        let base = &pop.base;
        let segments = Segments::of_personas(&pop, 0);
        let labels: Vec<u32> = pop.truth.persona.iter().map(|&p| u32::from(p)).collect();
        let short = Segments::of_personas(&pop, 1);
        let allowed = [0u32, 2];
        let mut d = ExperimentDesign::new("mail-test", &["control", "new_mail"]).unwrap();
        d.coverage = 0.8;
        let targeting = Targeting {
            segments: Some((&segments, &allowed)),
            consent: Some((Channel::Email, Purpose::Marketing, pop.observation_end)),
        };
        let a = d.assign_base(base, &targeting).unwrap();
        assert_eq!(a.accounted(), base.n_customers());
        assert!(a.not_targeted > 0 && a.no_consent > 0 && a.not_covered > 0);
        for (c, v) in a.variant.iter().enumerate() {
            if v.is_some() {
                assert!(allowed.contains(&labels[c]));
                assert!(base.allows(
                    c as u32,
                    &Channel::Email,
                    &Purpose::Marketing,
                    pop.observation_end
                ));
                let id = base.customer_id(c as u32);
                assert_eq!(d.assign(id), Assignment::Variant(usize::from(v.unwrap())));
            }
        }
        let bad = Targeting {
            segments: Some((&short, &allowed)),
            consent: None,
        };
        assert!(matches!(
            d.assign_base(base, &bad),
            Err(Error::LengthMismatch { expected, .. }) if expected == base.n_customers()
        ));
    }

    #[test]
    fn invalid_designs_are_errors() {
        assert!(matches!(
            ExperimentDesign::new("", &["a", "b"]),
            Err(Error::InvalidParameter { name: "key", .. })
        ));
        assert!(matches!(
            ExperimentDesign::new("k", &["a"]),
            Err(Error::InvalidParameter {
                name: "variants",
                ..
            })
        ));
        let mut d = ExperimentDesign::new("k", &["a", "b"]).unwrap();
        for (weights, coverage, setting) in [
            (vec![0.5, f64::NAN], 1.0, "weights"),
            (vec![0.0, 0.0], 1.0, "weights"),
            (vec![-0.1, 1.1], 1.0, "weights"),
            (vec![1.0], 1.0, "weights"),
            (vec![0.5, 0.5], 1.5, "coverage"),
        ] {
            d.weights = weights;
            d.coverage = coverage;
            assert!(
                matches!(d.check(), Err(Error::InvalidParameter { name, .. }) if name == setting),
                "{setting}"
            );
        }
    }
}
