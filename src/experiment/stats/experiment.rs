//! The statistics of one metric for every variant × segment: building them
//! observation by observation, reading arms, and merging partitions.

use serde::{Deserialize, Serialize};

use super::arm::ArmStats;
use super::metric::{Metric, Refusal, SecondValue};
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
    /// than two variants, no segment, or a second value the metric does not
    /// take ([`SecondValue::check_for`]); [`Error::Duplicate`] for a variant
    /// or segment name given twice (`what` = `variants` or `segments`).
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
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a segment or variant index past the
    /// statistics' (`what` = `segment index` or `variant index`);
    /// [`Error::InvalidParameter`] for sums no data could give ([`ArmStats::check`]).
    pub fn set_arm(&mut self, segment: usize, variant: usize, stats: ArmStats) -> Result<()> {
        stats.check(self.metric.kind)?;
        let (n_variants, n_segments) = (self.variants.len(), self.segments.len());
        if segment >= n_segments {
            return Err(Error::out_of_range("segment index", segment, n_segments));
        }
        if variant >= n_variants {
            return Err(Error::out_of_range("variant index", variant, n_variants));
        }
        self.arms[segment * n_variants + variant] = stats;
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

    /// Adds one observation; nothing is added when it is refused.
    ///
    /// # Errors
    /// [`Error::InvalidRow`] for a variant or segment index out of range
    /// (`field` = `variant` or `segment`), a value the metric does not take
    /// (`value`), or a second value missing or given where the statistics
    /// take none (`second`); [`Error::NonFinite`] for a NaN or infinite value
    /// or second value. `row` is the number of units the statistics hold
    /// before the observation (its position when every unit came through
    /// `add`).
    pub fn add(&mut self, obs: Observation) -> Result<()> {
        let row = self.units() as usize;
        self.add_at(obs, row)
    }

    /// [`add`](Self::add), naming `row` in the error.
    fn add_at(&mut self, obs: Observation, row: usize) -> Result<()> {
        let (n_variants, n_segments) = (self.variants.len(), self.segments.len());
        if obs.variant >= n_variants {
            return Err(index_out_of_range(row, "variant", obs.variant, n_variants));
        }
        if obs.segment >= n_segments {
            return Err(index_out_of_range(row, "segment", obs.segment, n_segments));
        }
        let (x, y) = self
            .admit(obs.value, obs.second)
            .map_err(|refusal| refusal.at(&self.metric, row, obs.value, obs.second))?;
        self.arms[obs.segment * n_variants + obs.variant].push(x, y);
        Ok(())
    }

    /// The observation's value and second value as they enter the sums, or why they cannot.
    #[inline]
    pub(super) fn admit(
        &self,
        value: f64,
        second: Option<f64>,
    ) -> std::result::Result<(f64, f64), Refusal> {
        let x = self.metric.admit(value)?;
        let y = match (self.second.is_some(), second) {
            (true, Some(y)) if y.is_finite() => y,
            (true, Some(_)) => return Err(Refusal::NonFiniteSecond),
            (true, None) => {
                return Err(Refusal::Second(
                    "the second value (covariate or denominator) is missing",
                ));
            }
            (false, Some(_)) => {
                return Err(Refusal::Second("these statistics take no second value"));
            }
            (false, None) => 0.0,
        };
        Ok((x, y))
    }

    /// Statistics in one pass over raw observations.
    ///
    /// # Errors
    /// Those of [`new`](Self::new); the first bad observation stops the
    /// pass with the errors of [`add`](Self::add), `row` being its position
    /// among `observations`.
    pub fn from_observations(
        metric: Metric,
        variants: Vec<String>,
        segments: Vec<String>,
        second: SecondValue,
        observations: impl IntoIterator<Item = Observation>,
    ) -> Result<ExperimentStats> {
        let mut stats = ExperimentStats::new(metric, variants, segments, second)?;
        for (row, obs) in observations.into_iter().enumerate() {
            stats.add_at(obs, row)?;
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

/// [`Error::InvalidRow`] for observation `row` whose `field` (`variant` or
/// `segment`) holds `index`, past the `len` names.
pub(super) fn index_out_of_range(row: usize, field: &str, index: usize, len: usize) -> Error {
    Error::invalid_row(
        "observations",
        row,
        field,
        index.to_string(),
        format!("the {field} index lies in 0..{len}"),
    )
}

pub(super) fn check_distinct(name: &'static str, names: &[String]) -> Result<()> {
    let mut seen = hashbrown::HashSet::with_capacity(names.len());
    for n in names {
        if !seen.insert(n.as_str()) {
            return Err(Error::duplicate(name, n.as_str()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::stats::MetricKind;
    use crate::experiment::stats::names;

    /// Whether `result` is an [`Error::InvalidRow`] at `row` in `field`.
    fn invalid_row(result: Result<()>, at: usize, name: &str) -> bool {
        matches!(result, Err(Error::InvalidRow { row, ref field, .. }) if row == at && field == name)
    }

    /// Whether `result` is an [`Error::NonFinite`] at `row` in `field`.
    fn non_finite(result: Result<()>, at: usize, name: &str) -> bool {
        matches!(result, Err(Error::NonFinite { row, ref field, .. }) if row == at && field == name)
    }

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
        assert!(invalid_row(s.add(obs(0, 0, 0.5, None)), 0, "value"));
        assert!(non_finite(s.add(obs(0, 0, f64::NAN, None)), 0, "value"));
        assert!(invalid_row(s.add(obs(2, 0, 1.0, None)), 0, "variant"));
        assert!(invalid_row(s.add(obs(0, 2, 1.0, None)), 0, "segment"));
        assert!(invalid_row(s.add(obs(0, 0, 1.0, Some(3.0))), 0, "second"));
        assert_eq!(s.units(), 0);
        s.add(obs(1, 1, 1.0, None)).unwrap();
        assert_eq!(s.arm(1, 1).sum, 1.0);
        // The row of a refused observation is the number of units before it.
        assert!(invalid_row(s.add(obs(1, 1, 2.0, None)), 1, "value"));
        let err = s.add(obs(1, 1, 0.5, None)).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRow { what, value, .. }
                if what == "observations of converted" && value == "0.5"),
            "{err:?}"
        );

        let count = Metric::new("orders", MetricKind::Count);
        let mut c = ExperimentStats::new(
            count,
            names(&["a", "b"]),
            names(&["all"]),
            SecondValue::None,
        )
        .unwrap();
        assert!(invalid_row(c.add(obs(0, 0, -1.0, None)), 0, "value"));
        assert!(invalid_row(c.add(obs(0, 0, 1.5, None)), 0, "value"));
        c.add(obs(0, 0, 2.0, None)).unwrap();

        let mut cuped = ExperimentStats::new(
            Metric::new("revenue", MetricKind::Mean),
            names(&["a", "b"]),
            names(&["all"]),
            SecondValue::Covariate,
        )
        .unwrap();
        assert!(invalid_row(cuped.add(obs(0, 0, 1.0, None)), 0, "second"));
        assert!(non_finite(
            cuped.add(obs(0, 0, 1.0, Some(f64::INFINITY))),
            0,
            "second"
        ));
        cuped.add(obs(0, 0, 1.0, Some(2.0))).unwrap();

        // Arms past the statistics' segments and variants.
        assert!(matches!(
            s.set_arm(2, 0, ArmStats::default()),
            Err(Error::OutOfRange { index: 2, len: 2, ref what }) if what == "segment index"
        ));
        assert!(matches!(
            s.set_arm(0, 5, ArmStats::default()),
            Err(Error::OutOfRange { index: 5, len: 2, ref what }) if what == "variant index"
        ));
    }

    #[test]
    fn statistics_need_two_distinct_variants_and_the_right_second_value() {
        let new = |kind, variants: &[&str], second| {
            ExperimentStats::new(
                Metric::new("m", kind),
                names(variants),
                names(&["all"]),
                second,
            )
        };
        let refused = |result: Result<ExperimentStats>, parameter: &str| matches!(result, Err(Error::InvalidParameter { name, .. }) if name == parameter);
        // A ratio without its denominator, a denominator of another metric,
        // a ratio with a covariate.
        assert!(refused(
            new(MetricKind::Ratio, &["a", "b"], SecondValue::None),
            "second"
        ));
        assert!(refused(
            new(MetricKind::Mean, &["a", "b"], SecondValue::Denominator),
            "second"
        ));
        assert!(refused(
            new(MetricKind::Ratio, &["a", "b"], SecondValue::Covariate),
            "second"
        ));
        // Repeated variant names, a single variant, no segment.
        assert!(matches!(
            new(MetricKind::Mean, &["a", "b", "a"], SecondValue::None),
            Err(Error::Duplicate { ref what, ref key }) if what == "variants" && key == "a"
        ));
        assert!(refused(
            new(MetricKind::Mean, &["a"], SecondValue::None),
            "variants"
        ));
        assert!(refused(
            ExperimentStats::new(
                Metric::new("m", MetricKind::Mean),
                names(&["a", "b"]),
                Vec::new(),
                SecondValue::None,
            ),
            "segments"
        ));
        let ratio = new(MetricKind::Ratio, &["a", "b"], SecondValue::Denominator).unwrap();
        assert_eq!(ratio.second(), SecondValue::Denominator);
        assert!(!ratio.has_covariate());
    }

    #[test]
    fn one_pass_names_the_first_bad_row() {
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
            matches!(&err, Error::NonFinite { row: 1, field, what, .. }
                if field == "value" && what == "observations of m"),
            "{err:?}"
        );
        let obs = [(0, 0.0), (1, 1.0), (0, 2.0), (1, 1.0)].map(|(variant, value)| Observation {
            variant,
            segment: 0,
            value,
            second: None,
        });
        let err = ExperimentStats::from_observations(
            Metric::new("converted", MetricKind::Binomial),
            names(&["a", "b"]),
            names(&["all"]),
            SecondValue::None,
            obs,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRow { row: 2, field, value, .. }
                if field == "value" && value == "2"),
            "{err:?}"
        );
    }
}
