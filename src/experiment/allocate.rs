//! Where should the traffic go next? Thompson sampling per segment.
//!
//! A fixed 50/50 split keeps sending half of a segment to the worse variant
//! long after the data say which is better; the cost is the *regret*, the
//! conversions (or revenue) lost against always showing each segment its
//! best variant. Thompson sampling (Thompson 1933; Chapelle & Li 2011; Russo
//! et al. 2018, "A Tutorial on Thompson Sampling") gives each variant the
//! traffic share equal to the posterior probability that it is the best one
//! *in that segment*: uncertain variants keep being explored, clear losers fade.
//!
//! - **Beta–Binomial** (conversion metrics): each arm's rate has the posterior
//!   `Beta(a + successes, b + failures)`.
//! - **Gaussian** (mean metrics): each arm's mean has the approximate
//!   posterior `N(x̄, s²/n)` under a flat prior (the pooled variance of the
//!   segment's arms stands in for arms with fewer than two units).
//!
//! The probability of being best is estimated from seeded posterior draws, so
//! a recommendation is reproducible. A floor (`min_weight`) keeps every
//! variant measurable. Bandit weights are for *deciding*, not for effect
//! estimates: evaluate with [`evaluate`](super::evaluate) on the data of a
//! fixed split, or weight by the allocation in force when each unit entered.
//!
//! [`Allocation::assign_base`] applies per-segment weights to a customer
//! base: customers without consent for the experiment's channel and purpose
//! are never allocated to any variant (they are counted), and customers of
//! segments without a recommendation are counted as not targeted.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Normal};
use serde::{Deserialize, Serialize};

use super::assign::{BaseAssignment, ExperimentDesign, assign_customers};
use super::stats::{ArmStats, ExperimentStats, MetricKind};
use crate::error::{Error, Result};
use crate::records::{Channel, Purpose};
use crate::segment::segments::Segments;
use crate::store::CustomerBase;

/// The posterior model of each arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Posterior {
    /// Beta–Binomial, for 0/1 metrics.
    BetaBinomial,
    /// Gaussian approximation of the mean, for continuous metrics.
    Gaussian,
}

/// How to recommend traffic weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationParams {
    /// Posterior draws per segment (the Monte Carlo error of a weight is about `√(w(1−w)/draws)`).
    pub draws: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Every variant keeps at least this share (then the weights are renormalised); in [0, 1/variants].
    pub min_weight: f64,
    /// Beta prior `(a, b)` of the Beta–Binomial model.
    pub beta_prior: (f64, f64),
    /// Lower values are better (the best arm is the one with the lowest mean).
    pub lower_is_better: bool,
}

impl Default for AllocationParams {
    fn default() -> Self {
        AllocationParams {
            draws: 10_000,
            seed: 0,
            min_weight: 0.01,
            beta_prior: (1.0, 1.0),
            lower_is_better: false,
        }
    }
}

impl AllocationParams {
    /// Checks the settings that do not depend on the experiment.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no draws, a floor outside [0, 1] or a
    /// non-positive prior.
    pub fn check(&self) -> Result<()> {
        if self.draws == 0 {
            return Err(Error::param("draws", 0, "need at least one draw"));
        }
        if !(0.0..=1.0).contains(&self.min_weight) {
            return Err(Error::param(
                "min_weight",
                self.min_weight,
                "must lie in [0, 1]",
            ));
        }
        let (a, b) = self.beta_prior;
        if !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()) {
            return Err(Error::param(
                "beta_prior",
                format!("({a}, {b})"),
                "both parameters must be positive and finite",
            ));
        }
        Ok(())
    }

    /// [`check`](Self::check), then that `variants` floors of `min_weight` fit in 1.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad setting.
    pub fn check_for(&self, variants: usize) -> Result<()> {
        self.check()?;
        if self.min_weight * variants as f64 > 1.0 {
            return Err(Error::param(
                "min_weight",
                self.min_weight,
                format!("must lie in [0, 1/{variants}]"),
            ));
        }
        Ok(())
    }
}

/// The recommendation for one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentAllocation {
    /// Segment name.
    pub segment: String,
    /// Posterior probability that each variant is the best.
    pub probability_best: Vec<f64>,
    /// Recommended traffic weights (sum to 1; at least `min_weight` each).
    pub weights: Vec<f64>,
}

/// Recommended traffic weights per segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    /// Variant names.
    pub variants: Vec<String>,
    /// One recommendation per segment, in segment order.
    pub segments: Vec<SegmentAllocation>,
}

/// Posterior probability that each arm is best, from `draws` seeded draws.
pub fn probability_best(
    arms: &[ArmStats],
    posterior: Posterior,
    params: &AllocationParams,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<f64>> {
    params.check_for(arms.len())?;
    let k = arms.len();
    if k == 0 {
        return Ok(Vec::new());
    }
    enum Arm {
        Beta(Beta<f64>),
        Normal(Normal<f64>),
        Point(f64),
    }
    let pooled_variance = {
        let (mut ss, mut df) = (0.0, 0.0);
        for a in arms.iter().filter(|a| a.n >= 2) {
            ss += a.variance() * (a.n - 1) as f64;
            df += (a.n - 1) as f64;
        }
        if df > 0.0 { ss / df } else { f64::NAN }
    };
    let mut models = Vec::with_capacity(k);
    for a in arms {
        let model = match posterior {
            Posterior::BetaBinomial => {
                let successes = a.sum.clamp(0.0, a.n as f64);
                let alpha = params.beta_prior.0 + successes;
                let beta = params.beta_prior.1 + a.n as f64 - successes;
                Arm::Beta(Beta::new(alpha, beta).map_err(|e| {
                    Error::param("beta_prior", format!("({alpha}, {beta})"), e.to_string())
                })?)
            }
            Posterior::Gaussian => {
                let variance = if a.n >= 2 {
                    a.variance()
                } else {
                    pooled_variance
                };
                if a.n == 0 || !variance.is_finite() {
                    // No information: an arm nobody has seen is explored at the floor only
                    // if others exist; with no data anywhere every arm ties (equal weights).
                    Arm::Point(f64::NAN)
                } else if variance == 0.0 {
                    Arm::Point(a.mean())
                } else {
                    let sd = (variance / a.n as f64).sqrt();
                    Arm::Normal(
                        Normal::new(a.mean(), sd)
                            .map_err(|e| Error::param("variance", variance, e.to_string()))?,
                    )
                }
            }
        };
        models.push(model);
    }
    if models
        .iter()
        .all(|m| matches!(m, Arm::Point(x) if x.is_nan()))
    {
        return Ok(vec![1.0 / k as f64; k]);
    }
    let sign = if params.lower_is_better { -1.0 } else { 1.0 };
    let mut wins = vec![0u64; k];
    for _ in 0..params.draws {
        let mut best = 0;
        let mut best_value = f64::NEG_INFINITY;
        for (i, m) in models.iter().enumerate() {
            let draw = match m {
                Arm::Beta(d) => d.sample(rng),
                Arm::Normal(d) => d.sample(rng),
                Arm::Point(x) => *x,
            };
            let value = sign * draw;
            // Ties (equal point posteriors) go to a random one of the tied arms.
            if value > best_value || (value == best_value && rng.gen_bool(0.5)) {
                best_value = value;
                best = i;
            }
        }
        wins[best] += 1;
    }
    Ok(wins
        .iter()
        .map(|&w| w as f64 / params.draws as f64)
        .collect())
}

/// Applies the floor: every weight at least `floor`, summing to 1.
fn floored(probabilities: &[f64], floor: f64) -> Vec<f64> {
    let k = probabilities.len() as f64;
    let rest = 1.0 - floor * k;
    probabilities.iter().map(|p| floor + rest * p).collect()
}

/// Thompson-sampling weights for every segment of `stats` (Beta–Binomial
/// for binomial metrics, Gaussian otherwise). Each segment draws from its
/// own stream derived from the seed, so results do not depend on segment order.
pub fn recommend(stats: &ExperimentStats, params: &AllocationParams) -> Result<Allocation> {
    let variants = stats.variants().to_vec();
    params.check_for(variants.len())?;
    let posterior = if stats.metric().kind == MetricKind::Binomial {
        Posterior::BetaBinomial
    } else {
        Posterior::Gaussian
    };
    let mut params = params.clone();
    params.lower_is_better |= stats.metric().lower_is_better;
    let segments = stats
        .segments()
        .iter()
        .enumerate()
        .map(|(s, name)| {
            let arms: Vec<ArmStats> = (0..variants.len()).map(|v| *stats.arm(s, v)).collect();
            let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
            rng.set_stream(s as u64);
            let probability_best = probability_best(&arms, posterior, &params, &mut rng)?;
            Ok(SegmentAllocation {
                segment: name.clone(),
                weights: floored(&probability_best, params.min_weight),
                probability_best,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Allocation { variants, segments })
}

impl Allocation {
    /// Assigns every customer of `base` with its segment's weights: the
    /// customer's segment id in `segments` is an index into
    /// [`Allocation::segments`] (customers left out, or of a segment without
    /// a recommendation, count as not targeted). With
    /// `consent`, customers whose consent does not allow the channel and
    /// purpose at that time are never allocated and are counted in
    /// `no_consent`. Hashing, coverage, namespace and holdout are the design's,
    /// so a unit whose position stays inside its variant's range keeps its variant.
    pub fn assign_base(
        &self,
        design: &ExperimentDesign,
        base: &CustomerBase,
        segments: &Segments,
        consent: Option<(Channel, Purpose, jiff::Timestamp)>,
    ) -> Result<BaseAssignment> {
        design.check()?;
        if design.variants != self.variants {
            return Err(Error::param(
                "variants",
                format!("{:?}", design.variants),
                format!(
                    "the design's variants must be the allocation's {:?}",
                    self.variants
                ),
            ));
        }
        segments.check_base(base)?;
        let designs: Vec<(ExperimentDesign, Vec<(f64, f64)>)> = self
            .segments
            .iter()
            .map(|s| {
                let mut d = design.clone();
                d.weights = s.weights.clone();
                let ranges = d.bucket_ranges();
                (d, ranges)
            })
            .collect();
        Ok(assign_customers(
            base,
            self.variants.len(),
            consent.as_ref(),
            |c| {
                segments
                    .segment_of(c)
                    .and_then(|s| designs.get(s as usize))
                    .map(|(d, ranges)| (d, ranges.as_slice()))
            },
        ))
    }
}

/// A bandit simulation: units arrive in batches; after each batch the
/// weights are recomputed from all outcomes so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationParams {
    /// Units arriving per segment over the whole simulation.
    pub units_per_segment: u64,
    /// Units per batch between weight updates.
    pub batch: u64,
    /// Allocation parameters (seed, draws, floor).
    pub allocation: AllocationParams,
}

impl Default for SimulationParams {
    fn default() -> Self {
        SimulationParams {
            units_per_segment: 20_000,
            batch: 1_000,
            allocation: AllocationParams {
                draws: 2_000,
                ..AllocationParams::default()
            },
        }
    }
}

impl SimulationParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty batch or no units, or bad
    /// allocation settings.
    pub fn check(&self) -> Result<()> {
        if self.batch == 0 {
            return Err(Error::param("batch", 0, "must be positive"));
        }
        if self.units_per_segment == 0 {
            return Err(Error::param("units_per_segment", 0, "must be positive"));
        }
        self.allocation.check()
    }
}

/// The regret of Thompson sampling and of a fixed equal split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationResult {
    /// Expected conversions lost against always showing each segment its best variant, Thompson sampling.
    pub regret_thompson: f64,
    /// The same for a fixed equal split (its expectation, `n Σ (best − rate) / k`).
    pub regret_equal: f64,
    /// Per segment: Thompson's regret.
    pub segment_regret_thompson: Vec<f64>,
    /// Per segment: the equal split's regret.
    pub segment_regret_equal: Vec<f64>,
    /// Per segment: the weights after the last batch.
    pub final_weights: Vec<Vec<f64>>,
    /// Units simulated.
    pub units: u64,
}

/// Simulates Thompson sampling on binomial arms with known true rates
/// (`true_rates[segment][variant]`), e.g. the synthetic population's
/// per-persona conversion rates, and compares its regret with a fixed equal split.
pub fn simulate_binomial(
    true_rates: &[Vec<f64>],
    params: &SimulationParams,
) -> Result<SimulationResult> {
    params.check()?;
    let mut out = SimulationResult {
        regret_thompson: 0.0,
        regret_equal: 0.0,
        segment_regret_thompson: Vec::new(),
        segment_regret_equal: Vec::new(),
        final_weights: Vec::new(),
        units: 0,
    };
    for (s, rates) in true_rates.iter().enumerate() {
        let k = rates.len();
        params.allocation.check_for(k)?;
        if k < 2 || rates.iter().any(|r| !(0.0..=1.0).contains(r)) {
            return Err(Error::param(
                "true_rates",
                format!("{rates:?}"),
                "each segment needs two or more rates in [0, 1]",
            ));
        }
        let best = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut rng = ChaCha8Rng::seed_from_u64(params.allocation.seed);
        rng.set_stream(s as u64);
        let mut arms = vec![ArmStats::default(); k];
        let mut weights = vec![1.0 / k as f64; k];
        let mut regret = 0.0;
        let mut done = 0;
        while done < params.units_per_segment {
            let batch = params.batch.min(params.units_per_segment - done);
            for _ in 0..batch {
                let u: f64 = rng.r#gen();
                let mut acc = 0.0;
                let mut arm = k - 1;
                for (i, w) in weights.iter().enumerate() {
                    acc += w;
                    if u < acc {
                        arm = i;
                        break;
                    }
                }
                let converted = rng.gen_bool(rates[arm]);
                arms[arm].push(if converted { 1.0 } else { 0.0 }, 0.0);
                regret += best - rates[arm];
            }
            done += batch;
            let p = probability_best(&arms, Posterior::BetaBinomial, &params.allocation, &mut rng)?;
            weights = floored(&p, params.allocation.min_weight);
        }
        let equal = params.units_per_segment as f64 * rates.iter().map(|r| best - r).sum::<f64>()
            / k as f64;
        out.regret_thompson += regret;
        out.regret_equal += equal;
        out.segment_regret_thompson.push(regret);
        out.segment_regret_equal.push(equal);
        out.final_weights.push(weights);
        out.units += params.units_per_segment;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_best_follows_the_evidence() {
        let params = AllocationParams::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // 100/1000 against 130/1000: P(B > A) is about 0.98 (exact Beta–Binomial 0.9799).
        let arms = [
            ArmStats::from_sums(1000, 100.0, 100.0),
            ArmStats::from_sums(1000, 130.0, 130.0),
        ];
        let p = probability_best(&arms, Posterior::BetaBinomial, &params, &mut rng).unwrap();
        assert!((p[1] - 0.98).abs() < 0.01, "{p:?}");
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Gaussian: equal means → about even; lower is better flips a clear difference.
        let a = ArmStats::from_sums(500, 5000.0, 5000.0 * 10.0 + 499.0 * 4.0);
        let b = ArmStats::from_sums(500, 5500.0, 5500.0 * 11.0 + 499.0 * 4.0);
        let p = probability_best(&[a, b], Posterior::Gaussian, &params, &mut rng).unwrap();
        assert!(p[1] > 0.999, "{p:?}");
        let lower = AllocationParams {
            lower_is_better: true,
            ..AllocationParams::default()
        };
        let p = probability_best(&[a, b], Posterior::Gaussian, &lower, &mut rng).unwrap();
        assert!(p[0] > 0.999, "{p:?}");
        // No data anywhere: equal weights.
        let p = probability_best(
            &[ArmStats::default(); 3],
            Posterior::Gaussian,
            &params,
            &mut rng,
        )
        .unwrap();
        assert_eq!(p, vec![1.0 / 3.0; 3]);
    }

    #[test]
    fn floor_and_seed() {
        let w = floored(&[1.0, 0.0, 0.0], 0.05);
        assert!((w[0] - 0.9).abs() < 1e-12 && (w[1] - 0.05).abs() < 1e-12);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(matches!(
            AllocationParams {
                min_weight: 0.6,
                ..AllocationParams::default()
            }
            .check_for(2),
            Err(Error::InvalidParameter { name, .. }) if name == "min_weight"
        ));
    }

    #[test]
    fn thompson_has_less_regret_than_an_equal_split() {
        // Three segments: B better by 3 points, no difference, A better by 2 points.
        let rates = vec![vec![0.10, 0.13], vec![0.14, 0.14], vec![0.08, 0.06]];
        let r = simulate_binomial(&rates, &SimulationParams::default()).unwrap();
        assert!(r.regret_thompson < 0.5 * r.regret_equal, "{r:?}");
        // The winner of each decisive segment ends up with most of the traffic.
        assert!(r.final_weights[0][1] > 0.9, "{:?}", r.final_weights);
        assert!(r.final_weights[2][0] > 0.9, "{:?}", r.final_weights);
        assert_eq!(r.segment_regret_equal[1], 0.0);
        // Reproducible.
        assert_eq!(
            r,
            simulate_binomial(&rates, &SimulationParams::default()).unwrap()
        );
        for rates in [vec![0.1], vec![0.1, 1.5]] {
            assert!(matches!(
                simulate_binomial(&[rates], &SimulationParams::default()),
                Err(Error::InvalidParameter {
                    name: "true_rates",
                    ..
                })
            ));
        }
    }

    #[test]
    fn per_segment_weights_on_a_base_respect_consent() {
        let pop = crate::synth::Population::generate(
            &crate::synth::SynthParams::with_customers(3_000).with_seed(5),
        )
        .unwrap();
        let base = &pop.base;
        let segments = Segments::of_personas(&pop, 0);
        let labels: Vec<u32> = pop.truth.persona.iter().map(|&p| u32::from(p)).collect();
        let short = Segments::of_personas(&pop, 1);
        let design = ExperimentDesign::new("offer", &["control", "offer"]).unwrap();
        // Segment 0 all to the offer, segment 1 all to control; higher labels untargeted.
        let allocation = Allocation {
            variants: design.variants.clone(),
            segments: vec![
                SegmentAllocation {
                    segment: "s0".into(),
                    probability_best: vec![0.0, 1.0],
                    weights: vec![0.0, 1.0],
                },
                SegmentAllocation {
                    segment: "s1".into(),
                    probability_best: vec![1.0, 0.0],
                    weights: vec![1.0, 0.0],
                },
            ],
        };
        let consent = (Channel::Email, Purpose::Marketing, pop.observation_end);
        let a = allocation
            .assign_base(&design, base, &segments, Some(consent.clone()))
            .unwrap();
        assert_eq!(a.accounted(), base.n_customers());
        assert!(a.no_consent > 0 && a.not_targeted > 0);
        for (c, v) in a.variant.iter().enumerate() {
            if let Some(v) = v {
                assert_eq!(u32::from(*v), 1 - labels[c], "segment weights not applied");
                assert!(base.allows(c as u32, &consent.0, &consent.1, consent.2));
            } else if labels[c] < 2 {
                assert!(!base.allows(c as u32, &consent.0, &consent.1, consent.2));
            }
        }
        assert!(matches!(
            allocation.assign_base(&design, base, &short, None),
            Err(Error::LengthMismatch { expected, .. }) if expected == base.n_customers()
        ));
    }
}
