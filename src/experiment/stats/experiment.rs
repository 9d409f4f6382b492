//! The statistics of one metric for every variant × segment: building them
//! observation by observation, reading arms, and merging partitions.

use serde::{Deserialize, Serialize};

use super::arm::ArmStats;
use super::metric::{Metric, SecondValue};
use crate::error::{Error, Result};

/// One raw observation: a unit's value in an arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Variant index.
    pub variant: usize,
    /// Segment index (0 when the table has one segment).
    pub segment: usize,
    /// The metric's value (a ratio metric's numerator).
    pub value: f64,
    /// The CUPED covariate or the ratio's denominator, when the table has one.
    pub second: Option<f64>,
}

/// Sufficient statistics of one metric for every variant × segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentStats {
    pub(super) metric: Metric,
    pub(super) variants: Vec<String>,
    pub(super) segments: Vec<String>,
    pub(super) second: SecondValue,
    /// Segment-major: `arms[segment * variants + variant]`.
    pub(super) arms: Vec<ArmStats>,
}

impl ExperimentStats {
    /// Empty statistics for `variants` (at least two, distinct) in `segments`
    /// (at least one, distinct; pass `["all"]` for an unsegmented test).
    /// `second`: what the observations' second value holds — nothing, a
    /// CUPED covariate, or a ratio metric's denominator (which ratio metrics
    /// require).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a cap the metric cannot take, fewer
    /// than two variants, no segment, a repeated name, or a second value the
    /// metric does not take ([`SecondValue::check_for`]).
    pub fn new(
        metric: Metric,
        variants: Vec<String>,
        segments: Vec<String>,
        second: SecondValue,
    ) -> Result<ExperimentStats> {
        metric.check()?;
        if variants.len() < 2 {
            return Err(Error::param(
                "variants",
                variants.len(),
                "an experiment compares at least two variants",
            ));
        }
        if segments.is_empty() {
            return Err(Error::param("segments", 0, "give at least one segment"));
        }
        check_distinct("variants", &variants)?;
        check_distinct("segments", &segments)?;
        second.check_for(metric.kind)?;
        let arms = vec![ArmStats::default(); variants.len() * segments.len()];
        Ok(ExperimentStats {
            metric,
            variants,
            segments,
            second,
            arms,
        })
    }

    /// The metric.
    pub fn metric(&self) -> &Metric {
        &self.metric
    }

    /// Variant names.
    pub fn variants(&self) -> &[String] {
        &self.variants
    }

    /// Segment names.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// What the observations' second value holds (nothing, a covariate, a denominator).
    pub fn second(&self) -> SecondValue {
        self.second
    }

    /// Whether the second value is a CUPED covariate (not a ratio's denominator).
    pub fn has_covariate(&self) -> bool {
        self.second == SecondValue::Covariate
    }

    /// Statistics of `variant` in `segment` (indices; panics if out of range,
    /// like slice indexing).
    pub fn arm(&self, segment: usize, variant: usize) -> &ArmStats {
        &self.arms[segment * self.variants.len() + variant]
    }

    /// Replaces one arm's statistics, e.g. with pre-aggregated sums from a warehouse.
    pub fn set_arm(&mut self, segment: usize, variant: usize, stats: ArmStats) -> Result<()> {
        stats.check(self.metric.kind)?;
        let i = self.index(variant, segment)?;
        self.arms[i] = stats;
        Ok(())
    }

    /// Per variant, the statistics summed over all segments.
    pub fn overall(&self) -> Vec<ArmStats> {
        let v = self.variants.len();
        let mut total = vec![ArmStats::default(); v];
        for (i, arm) in self.arms.iter().enumerate() {
            total[i % v].merge(arm);
        }
        total
    }

    /// Units per variant over all segments.
    pub fn units_per_variant(&self) -> Vec<u64> {
        self.overall().iter().map(|a| a.n).collect()
    }

    /// Total units.
    pub fn units(&self) -> u64 {
        self.arms.iter().map(|a| a.n).sum()
    }

    fn index(&self, variant: usize, segment: usize) -> Result<usize> {
        if variant >= self.variants.len() {
            return Err(Error::NotFound {
                what: "variant index",
                id: variant.to_string(),
            });
        }
        if segment >= self.segments.len() {
            return Err(Error::NotFound {
                what: "segment index",
                id: segment.to_string(),
            });
        }
        Ok(segment * self.variants.len() + variant)
    }

    /// Adds one observation. Errors (nothing is added): an index out of
    /// range, a non-finite value, a value the metric kind does not take, a
    /// missing or unexpected second value.
    pub fn add(&mut self, obs: Observation) -> Result<()> {
        let i = self.index(obs.variant, obs.segment)?;
        let (x, y) = self.admit(obs.value, obs.second).map_err(|reason| {
            Error::value(
                "observation",
                format!("value {} second {:?}", obs.value, obs.second),
                reason,
            )
        })?;
        self.arms[i].push(x, y);
        Ok(())
    }

    #[inline]
    pub(super) fn admit(
        &self,
        value: f64,
        second: Option<f64>,
    ) -> std::result::Result<(f64, f64), &'static str> {
        let x = self.metric.admit(value)?;
        let y = match (self.second.is_some(), second) {
            (true, Some(y)) if y.is_finite() => y,
            (true, Some(_)) => return Err("the second value is not a finite number"),
            (true, None) => return Err("the second value (covariate or denominator) is missing"),
            (false, Some(_)) => return Err("these statistics take no second value"),
            (false, None) => 0.0,
        };
        Ok((x, y))
    }

    /// Statistics in one pass over raw observations. The first bad
    /// observation stops the pass with its position in the error.
    pub fn from_observations(
        metric: Metric,
        variants: Vec<String>,
        segments: Vec<String>,
        second: SecondValue,
        observations: impl IntoIterator<Item = Observation>,
    ) -> Result<ExperimentStats> {
        let mut stats = ExperimentStats::new(metric, variants, segments, second)?;
        for (i, obs) in observations.into_iter().enumerate() {
            stats.add(obs).map_err(|e| at_observation(i, e))?;
        }
        Ok(stats)
    }

    /// Adds the statistics of another partition of the same experiment (same
    /// metric, variants, segments and second value): the result equals the
    /// statistics of the union of the observations.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when `other` has another metric, other
    /// variants or segments, or another second value.
    pub fn merge(&mut self, other: &ExperimentStats) -> Result<()> {
        if self.metric != other.metric
            || self.variants != other.variants
            || self.segments != other.segments
            || self.second != other.second
        {
            return Err(Error::value(
                "statistics to merge",
                format!(
                    "{} of {:?} in {:?}",
                    other.metric.name, other.variants, other.segments
                ),
                format!(
                    "must have the metric, variants, segments and second value of these ({} of {:?} in {:?})",
                    self.metric.name, self.variants, self.segments
                ),
            ));
        }
        for (a, b) in self.arms.iter_mut().zip(&other.arms) {
            a.merge(b);
        }
        Ok(())
    }
}

pub(super) fn at_observation(i: usize, e: Error) -> Error {
    match e {
        Error::InvalidValue {
            what,
            value,
            reason,
        } => Error::InvalidValue {
            what,
            value: format!("#{i}: {value}"),
            reason,
        },
        Error::NotFound { what, id } => Error::NotFound {
            what,
            id: format!("{id} (observation #{i})"),
        },
        other => other,
    }
}

pub(super) fn not_found(what: &'static str, index: usize) -> Error {
    Error::NotFound {
        what,
        id: index.to_string(),
    }
}

pub(super) fn check_distinct(name: &'static str, names: &[String]) -> Result<()> {
    let mut seen = hashbrown::HashSet::with_capacity(names.len());
    for n in names {
        if !seen.insert(n.as_str()) {
            return Err(Error::param(name, n, "names must be distinct"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::stats::MetricKind;
    use crate::experiment::stats::names;

    #[test]
    fn bad_observations_are_refused_and_change_nothing() {
        let mut s = ExperimentStats::new(
            Metric::new("converted", MetricKind::Binomial),
            names(&["a", "b"]),
            names(&["x", "y"]),
            SecondValue::None,
        )
        .unwrap();
        let obs = |variant, segment, value, second| Observation {
            variant,
            segment,
            value,
            second,
        };
        assert!(s.add(obs(0, 0, 0.5, None)).is_err());
        assert!(s.add(obs(0, 0, f64::NAN, None)).is_err());
        assert!(s.add(obs(2, 0, 1.0, None)).is_err());
        assert!(s.add(obs(0, 2, 1.0, None)).is_err());
        assert!(s.add(obs(0, 0, 1.0, Some(3.0))).is_err());
        assert_eq!(s.units(), 0);
        s.add(obs(1, 1, 1.0, None)).unwrap();
        assert_eq!(s.arm(1, 1).sum, 1.0);

        let count = Metric::new("orders", MetricKind::Count);
        let mut c = ExperimentStats::new(
            count,
            names(&["a", "b"]),
            names(&["all"]),
            SecondValue::None,
        )
        .unwrap();
        assert!(c.add(obs(0, 0, -1.0, None)).is_err());
        assert!(c.add(obs(0, 0, 1.5, None)).is_err());
        c.add(obs(0, 0, 2.0, None)).unwrap();

        // A ratio without its denominator, repeated variant names, a single variant.
        for (kind, variants, second) in [
            (MetricKind::Ratio, &["a", "b"][..], SecondValue::None),
            (MetricKind::Mean, &["a", "a"][..], SecondValue::None),
            (MetricKind::Mean, &["a"][..], SecondValue::None),
        ] {
            let metric = Metric::new("m", kind);
            assert!(
                ExperimentStats::new(metric, names(variants), names(&["all"]), second).is_err()
            );
        }
        let err = ExperimentStats::from_columns(
            Metric::new("m", MetricKind::Mean),
            names(&["a", "b"]),
            names(&["all"]),
            &[0u32, 1, 0],
            None,
            &[1.0, f64::INFINITY, 2.0],
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { what: "observation", value, .. } if value.starts_with("#1:")),
            "{err:?}"
        );
    }
}
