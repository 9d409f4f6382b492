//! Who buys next, as the truth knows it: the oracles a propensity model is
//! measured against.
//!
//! Two oracles answer "the probability that this person buys within h weeks
//! after the observation end", each knowing more than the data show:
//!
//! - [`Population::purchase_probability`] knows each person's latent state:
//!   their purchase rate λ and whether they have silently dropped out. No
//!   model can reach it, because dropout leaves no trace in the data (a
//!   customer who has left looks like one between purchases); it is the
//!   ceiling of the ceiling.
//! - [`Population::purchase_probability_from_history`] knows the process's
//!   true parameters but, like a model, only each buyer's purchase history
//!   (x repeat purchases, the last at t_x, T weeks since the first): the
//!   BG/NBD posterior probability of a purchase in the window (Fader, Hardie
//!   & Lee 2005, "Counting your customers the easy way", *Marketing
//!   Science* 24(2); the probability of being alive, eq. 2, times the
//!   posterior chance of at least one Poisson event, λ | alive ~ Gamma(r + x,
//!   α + T)). This is the best any model can do from purchases alone, and
//!   the oracle a propensity model should come close to. (Engagement before
//!   an imminent purchase is not in it, so a model that reads touchpoints
//!   may beat it for prospects.)
//!
//! The realised outcome is [`Population::bought_within`].

use super::Population;

impl Population {
    /// The true probability that customer `customer` buys within
    /// `horizon_weeks` after the observation end, from their latent state:
    /// 0 for a buyer who has dropped out, `1 − exp(−λ·h)` for one still
    /// alive (purchases are Poisson at rate λ, and dropout happens only
    /// after a purchase), `1 − exp(−h/m)` for a prospect (the first purchase
    /// comes Exponential(mean m =
    /// [`prospect_mean_weeks`](super::SynthParams::prospect_mean_weeks)) after the end). `NaN`
    /// for an unknown customer or a horizon that is not finite and ≥ 0.
    pub fn purchase_probability(&self, customer: u32, horizon_weeks: f64) -> f64 {
        let c = customer as usize;
        let truth = &self.truth;
        let (Some(&first), Some(&alive), Some(&rate)) = (
            truth.first_purchase_week.get(c),
            truth.alive_at_end.get(c),
            truth.purchase_rate.get(c),
        ) else {
            return f64::NAN;
        };
        if !(horizon_weeks.is_finite() && horizon_weeks >= 0.0) {
            return f64::NAN;
        }
        if first > self.params.observation_weeks {
            self.prospect_probability(horizon_weeks)
        } else if alive {
            -(-rate * horizon_weeks).exp_m1()
        } else {
            0.0
        }
    }

    /// The probability that customer `customer` buys within
    /// `horizon_weeks` after the observation end given only their purchase
    /// history, under the process's true parameters (the BG/NBD posterior;
    /// see the module documentation): `P(alive | x, t_x, T) · (1 − ((α +
    /// T)/(α + T + h))^(r + x))`, and for a prospect the same `1 −
    /// exp(−h/m)` as [`purchase_probability`](Self::purchase_probability). `NaN` for an unknown
    /// customer or a horizon that is not finite and ≥ 0.
    pub fn purchase_probability_from_history(&self, customer: u32, horizon_weeks: f64) -> f64 {
        let c = customer as usize;
        let truth = &self.truth;
        let (Some(&first), Some(&count), Some(last)) = (
            truth.first_purchase_week.get(c),
            truth.purchases_in_observation.get(c),
            truth.last_purchase_week.get(c),
        ) else {
            return f64::NAN;
        };
        if !(horizon_weeks.is_finite() && horizon_weeks >= 0.0) {
            return f64::NAN;
        }
        let Some(last) = last.filter(|_| count > 0) else {
            return self.prospect_probability(horizon_weeks);
        };
        let p = &truth.purchases;
        let x = f64::from(count - 1);
        let t_x = last - first;
        let big_t = self.params.observation_weeks - first;
        let shape = p.r + x;
        let alive = if count > 1 {
            // 1 / (1 + a/(b + x − 1) · ((α + T)/(α + t_x))^(r + x)), in logs.
            let ratio = (p.a / (p.b + x - 1.0)).ln()
                + shape * ((p.alpha + big_t).ln() - (p.alpha + t_x).ln());
            1.0 / (1.0 + ratio.exp())
        } else {
            1.0
        };
        // 1 − ((α + T)/(α + T + h))^(r + x), without cancellation for small h.
        let buys =
            -(shape * (-(horizon_weeks / (p.alpha + big_t + horizon_weeks))).ln_1p()).exp_m1();
        alive * buys
    }

    /// A prospect's probability of a first purchase within `horizon_weeks`.
    fn prospect_probability(&self, horizon_weeks: f64) -> f64 {
        -(-horizon_weeks / self.params.prospect_mean_weeks).exp_m1()
    }

    /// Whether customer `customer` in fact bought within `horizon_weeks`
    /// after the observation end ([`Truth::next_purchase_week`](super::Truth::next_purchase_week));
    /// `None` for an unknown customer.
    pub fn bought_within(&self, customer: u32, horizon_weeks: f64) -> Option<bool> {
        let next = self.truth.next_purchase_week.get(customer as usize)?;
        let end = self.params.observation_weeks;
        Some(next.is_some_and(|w| w > end && w <= end + horizon_weeks))
    }
}

#[cfg(test)]
mod tests {
    use crate::synth::{Population, SynthParams};

    /// `P(alive)` from lifetimes 0.11.3 (`BetaGeoFitter` with `params_` set to
    /// r = 1, α = 4, a = 1, b = 12, `conditional_probability_alive(x, t_x,
    /// T)`), times `1 − ((α + T)/(α + T + 4))^(r + x)` in Python.
    #[test]
    fn the_history_oracle_is_the_bgnbd_posterior() {
        let mut pop = Population::generate(&SynthParams::with_customers(1).with_seed(3)).unwrap();
        pop.params.observation_weeks = 104.0;
        pop.truth.purchases.r = 1.0;
        pop.truth.purchases.alpha = 4.0;
        pop.truth.purchases.a = 1.0;
        pop.truth.purchases.b = 12.0;
        for (x, t_x, big_t, expected) in [
            (0u32, 0.0, 50.0, 0.06896551724137934),
            (1, 10.0, 60.0, 0.04165128319609847),
            (5, 40.0, 45.0, 0.33551658815542523),
            (5, 10.0, 80.0, 8.349363972864978e-05),
            (12, 95.0, 100.0, 0.35820446063463457),
        ] {
            let first = 104.0 - big_t;
            pop.truth.first_purchase_week[0] = first;
            pop.truth.purchases_in_observation[0] = x + 1;
            pop.truth.last_purchase_week[0] = Some(first + t_x);
            let p = pop.purchase_probability_from_history(0, 4.0);
            assert!(
                (p - expected).abs() < 1e-12 * expected.max(1e-3),
                "x {x}, t_x {t_x}, T {big_t}: {p} vs {expected}"
            );
        }
        // A prospect: the first purchase is Exponential(mean m) after the end.
        pop.truth.purchases_in_observation[0] = 0;
        pop.truth.last_purchase_week[0] = None;
        pop.truth.first_purchase_week[0] = 110.0;
        let m = pop.params.prospect_mean_weeks;
        let expected = 1.0 - (-4.0 / m).exp();
        assert!((pop.purchase_probability_from_history(0, 4.0) - expected).abs() < 1e-15);
        assert!((pop.purchase_probability(0, 4.0) - expected).abs() < 1e-15);
        assert!(pop.purchase_probability(0, f64::NAN).is_nan());
        assert!(pop.purchase_probability(7, 4.0).is_nan());
    }

    #[test]
    fn the_latent_oracle_knows_who_dropped_out() {
        let mut pop = Population::generate(&SynthParams::with_customers(1).with_seed(3)).unwrap();
        pop.truth.first_purchase_week[0] = 10.0;
        pop.truth.purchase_rate[0] = 0.25;
        pop.truth.alive_at_end[0] = true;
        let expected = 1.0 - (-0.25f64 * 4.0).exp();
        assert!((pop.purchase_probability(0, 4.0) - expected).abs() < 1e-15);
        pop.truth.alive_at_end[0] = false;
        assert_eq!(pop.purchase_probability(0, 4.0), 0.0);
    }
}
