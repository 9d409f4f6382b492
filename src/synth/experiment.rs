//! The synthetic world's answer to an experiment: what the customers a
//! round assigned would have done, drawn from the truth.
//!
//! Each persona has a control conversion probability and an absolute
//! treatment effect ([`PersonaSpec`](super::PersonaSpec)), which a customer's
//! purchase history shifts ([`Truth::treatment_effect`](super::Truth::treatment_effect)). A customer of a
//! base resolved from this population's source records is the true
//! customer most of its records belong to
//! ([`Population::true_customers`]); under control it converts with its
//! persona's baseline, under any other variant with baseline plus effect,
//! and a conversion brings revenue drawn from the customer's own spend
//! distribution (Gamma–Gamma). So the effect of a variant in a segment the
//! library found is known exactly: the mean of its members' individual effects
//! ([`Population::true_effects`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma};

use super::Population;
use crate::error::{Error, Result};
use crate::experiment::outcomes::Outcomes;
use crate::segment::segments::Segments;
use crate::store::CustomerBase;

/// An assignment to simulate: the variant of every customer of a base
/// (`None`: not assigned), the variants' names (control first), optionally
/// each customer's pre-period value (a CUPED covariate) and the segments it
/// was assigned in (written by name), and which random streams to draw
/// (use another for every round).
#[derive(Debug, Clone, Copy)]
pub struct SimulatedExperiment<'a> {
    /// Variant index of every customer of the base.
    pub variant: &'a [Option<u16>],
    /// Variant names, control first.
    pub variants: &'a [String],
    /// Pre-period value of every customer, when wanted.
    pub covariate: Option<&'a [f64]>,
    /// Segments of the base, when the outcomes should say them.
    pub segments: Option<&'a Segments>,
    /// Selects the random streams.
    pub draw: u64,
}

/// Expected conversions and revenue of an assignment under the truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AssignmentValue {
    /// Customers assigned a variant (with a true customer).
    pub units: usize,
    /// Expected conversions.
    pub conversions: f64,
    /// Their variance.
    pub conversions_variance: f64,
    /// Expected revenue.
    pub revenue: f64,
    /// Its variance.
    pub revenue_variance: f64,
}

/// Seed offset of the outcome streams.
const OUTCOME_SEED: u64 = 0xE4E1_7EC7_0C0E_5EED;

impl Population {
    /// The true customer (index in [`Population::base`]) behind every
    /// customer of `base`: by its source records when it has them (the
    /// customer most of them belong to), else by its id when `base` uses
    /// this population's ids. `None` when neither says.
    pub fn true_customers(&self, base: &CustomerBase) -> Vec<Option<u32>> {
        base.customer_indices()
            .map(|c| {
                let by_records = base.customer(c).and_then(|x| {
                    let refs: Vec<String> = x.sources.iter().map(|s| s.reference()).collect();
                    self.true_customer_of(refs.iter().map(String::as_str))
                });
                by_records.or_else(|| {
                    let id = base.customer_id(c);
                    self.true_customer_of([id])
                        .or_else(|| self.base.index_of(id))
                })
            })
            .collect()
    }

    /// The true absolute effect of the experiment's treatment on customer
    /// `customer`'s conversion ([`Truth::treatment_effect`](super::Truth::treatment_effect); the
    /// persona's lift for a population stored without it; `NaN` for an
    /// unknown customer).
    pub fn treatment_effect(&self, customer: u32) -> f64 {
        let c = customer as usize;
        if let Some(&effect) = self.truth.treatment_effect.get(c) {
            return effect;
        }
        self.truth
            .persona
            .get(c)
            .and_then(|&p| self.truth.experiment_lift.get(usize::from(p)))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// Probability that true customer `customer` converts, treated or not.
    pub fn conversion_probability(&self, customer: u32, treated: bool) -> f64 {
        let Some(&p) = self.truth.persona.get(customer as usize) else {
            return f64::NAN;
        };
        let p = usize::from(p);
        let base = self
            .truth
            .experiment_baseline
            .get(p)
            .copied()
            .unwrap_or(f64::NAN);
        let lift = self.treatment_effect(customer);
        if treated {
            (base + lift).clamp(0.0, 1.0)
        } else {
            base
        }
    }

    /// What the customers of `base` assigned a variant would have done:
    /// one unit per assigned customer (named by its first source record,
    /// or its id without one), with conversion and revenue drawn from the
    /// truth (see [`SimulatedExperiment`] for the rest). `truth` is
    /// [`Population::true_customers`] of `base`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the columns do not match the base;
    /// [`Error::OutOfRange`] when a variant index is outside `variants`.
    pub fn simulate_outcomes(
        &self,
        base: &CustomerBase,
        truth: &[Option<u32>],
        experiment: &SimulatedExperiment<'_>,
    ) -> Result<Outcomes> {
        let SimulatedExperiment {
            variant,
            variants,
            covariate,
            segments,
            draw,
        } = *experiment;
        let n = base.n_customers();
        for (column, len) in [
            ("true customers", Some(truth.len())),
            ("variants", Some(variant.len())),
            ("covariates", covariate.map(<[f64]>::len)),
        ] {
            if let Some(len) = len.filter(|&len| len != n) {
                return Err(Error::lengths(
                    format!("simulated outcomes: {column} per customer"),
                    n,
                    len,
                ));
            }
        }
        let shape = self.params.spend.p;
        let mut out = Outcomes::new(variants.to_vec());
        for c in base.customer_indices() {
            let (Some(v), Some(t)) = (variant[c as usize], truth[c as usize]) else {
                continue;
            };
            let name = variants.get(usize::from(v)).ok_or_else(|| {
                Error::out_of_range(
                    "simulated outcomes: variant index",
                    usize::from(v),
                    variants.len(),
                )
            })?;
            let mut rng =
                ChaCha8Rng::seed_from_u64(self.params.seed ^ OUTCOME_SEED ^ draw.rotate_left(17));
            rng.set_stream(u64::from(t));
            let p = self.conversion_probability(t, v > 0);
            let converted = rng.gen_bool(p.clamp(0.0, 1.0));
            let mean = self
                .truth
                .mean_spend
                .get(t as usize)
                .copied()
                .unwrap_or(0.0);
            let revenue = if converted && mean > 0.0 {
                Gamma::new(shape, mean / shape)
                    .map(|g| (g.sample(&mut rng) * 100.0).round() / 100.0)
                    .unwrap_or(0.0)
            } else {
                0.0
            };
            let unit = base
                .customer(c)
                .and_then(|x| x.sources.first().map(|s| s.reference()))
                .unwrap_or_else(|| base.customer_id(c).to_owned());
            let segment = segments.map(|s| {
                s.segment_of(c)
                    .and_then(|id| s.names().get(id as usize))
                    .map_or("", String::as_str)
            });
            let pre = covariate.map(|v| v[c as usize]);
            out.push(&unit, name, converted, revenue, pre, segment)?;
        }
        Ok(out)
    }

    /// What an assignment is worth under the truth, before anyone is
    /// contacted: the expected conversions and revenue of the customers it
    /// assigns, with their variances (sums over independent customers), so
    /// two assignments of the same customers can be compared with an interval.
    pub fn assignment_value(
        &self,
        truth: &[Option<u32>],
        variant: &[Option<u16>],
    ) -> AssignmentValue {
        let shape = self.params.spend.p;
        let mut value = AssignmentValue::default();
        for (t, v) in truth.iter().zip(variant) {
            let (Some(t), Some(v)) = (*t, *v) else {
                continue;
            };
            let p = self.conversion_probability(t, v > 0);
            let m = self
                .truth
                .mean_spend
                .get(t as usize)
                .copied()
                .unwrap_or(0.0);
            // Revenue is spend × conversion: E = p·m, E[x²] = p·(m² + m²/shape).
            let second = p * (m * m + m * m / shape);
            value.units += 1;
            value.conversions += p;
            value.conversions_variance += p * (1.0 - p);
            value.revenue += p * m;
            value.revenue_variance += second - (p * m) * (p * m);
        }
        value
    }

    /// What treating the customers `treat` marks among `customers` (true
    /// customer indices) earns under the truth: the expected incremental
    /// conversions (the sum of their individual effects) and the variance
    /// of the realised count, treated and untreated outcomes drawn
    /// independently (`p₁(1 − p₁) + p₀(1 − p₀)` per treated customer).
    pub fn incremental_conversions(&self, customers: &[u32], treat: &[bool]) -> (f64, f64) {
        customers
            .iter()
            .zip(treat)
            .filter(|(_, t)| **t)
            .fold((0.0, 0.0), |(sum, var), (&c, _)| {
                let (p0, p1) = (
                    self.conversion_probability(c, false),
                    self.conversion_probability(c, true),
                );
                (sum + p1 - p0, var + p1 * (1.0 - p1) + p0 * (1.0 - p0))
            })
    }

    /// How many more conversions treating `a` earns than treating `b`
    /// (both marking `customers`) under the truth, with the variance of the
    /// realised difference: only the customers the two treat differently
    /// count.
    pub fn incremental_lead(&self, customers: &[u32], a: &[bool], b: &[bool]) -> (f64, f64) {
        let only = |x: &[bool], y: &[bool]| -> Vec<bool> {
            x.iter().zip(y).map(|(x, y)| *x && !*y).collect()
        };
        let (gain, var_gain) = self.incremental_conversions(customers, &only(a, b));
        let (loss, var_loss) = self.incremental_conversions(customers, &only(b, a));
        (gain - loss, var_gain + var_loss)
    }

    /// The true absolute effect of treatment in each segment: the mean of
    /// its members' individual effects (members without a true customer are
    /// left out; `NaN` for a segment without any).
    pub fn true_effects(&self, segments: &Segments, truth: &[Option<u32>]) -> Vec<f64> {
        let mut sums = vec![(0.0, 0usize); segments.k()];
        for (c, t) in truth.iter().enumerate() {
            let (Some(s), Some(t)) = (segments.segment_of(c as u32), t) else {
                continue;
            };
            let effect =
                self.conversion_probability(*t, true) - self.conversion_probability(*t, false);
            if let Some(slot) = sums.get_mut(s as usize) {
                slot.0 += effect;
                slot.1 += 1;
            }
        }
        sums.into_iter()
            .map(|(sum, n)| if n > 0 { sum / n as f64 } else { f64::NAN })
            .collect()
    }

    /// The persona most members of each segment have, with its share of
    /// the segment (members without a true customer are left out).
    pub fn dominant_personas(
        &self,
        segments: &Segments,
        truth: &[Option<u32>],
    ) -> Vec<Option<(usize, f64)>> {
        let k = self.truth.persona_names.len();
        let mut counts = vec![vec![0usize; k]; segments.k()];
        for (c, t) in truth.iter().enumerate() {
            let (Some(s), Some(t)) = (segments.segment_of(c as u32), t) else {
                continue;
            };
            if let (Some(row), Some(&p)) = (
                counts.get_mut(s as usize),
                self.truth.persona.get(*t as usize),
            ) {
                if let Some(cell) = row.get_mut(usize::from(p)) {
                    *cell += 1;
                }
            }
        }
        counts
            .into_iter()
            .map(|row| {
                let total: usize = row.iter().sum();
                let (p, &n) = row
                    .iter()
                    .enumerate()
                    .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))?;
                (total > 0).then(|| (p, n as f64 / total as f64))
            })
            .collect()
    }
}
