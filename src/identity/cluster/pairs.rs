//! Scored record pairs, the input of clustering, and their JSON form
//! (infinite weights of rule matches written as strings).

use std::cmp::Ordering;

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
            probability: crate::identity::fellegi_sunter::probability(weight),
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
    pub(super) fn key(&self) -> (u32, u32) {
        (self.left.min(self.right), self.left.max(self.right))
    }

    pub(super) fn check(&self, at: &str, n_records: usize) -> Result<()> {
        let bad = |reason: String| {
            Error::value(
                "scored pair",
                format!("{at} ({}, {})", self.left, self.right),
                reason,
            )
        };
        for r in [self.left, self.right] {
            if r as usize >= n_records {
                return Err(Error::out_of_range(
                    format!("records (scored pair {at})"),
                    r as usize,
                    n_records,
                ));
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
    pub(super) fn strength_cmp(&self, other: &ScoredPair) -> Ordering {
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
