//! Multi-touch attribution: how much of the conversions (and their value)
//! each channel deserves.
//!
//! Every model takes a [`PathTable`](crate::touchpoints::paths::PathTable) (or, for time decay, the [`Journeys`](crate::touchpoints::journey::Journeys)
//! themselves) and returns [`Credits`] per channel that add up to the table's
//! conversions and value: credit conservation is tested as a property.
//!
//! # Heuristic models
//!
//! [`heuristics`]: first touch, last touch, last non-direct touch (the last
//! touch that is not a direct visit, as in Google Analytics' default model),
//! linear (a path's conversions split equally over its touches, so a channel
//! touched twice gets two shares, as ChannelAttribution's `linear_touch`),
//! position-based (40 % first, 40 % last, the rest spread over the middle;
//! configurable), and [`time_decay`] (weights halving every half-life before
//! the conversion).
//!
//! # Markov chain attribution
//!
//! [`markov`] (Anderl, Becker, von Wangenheim & Schumann 2016, "Mapping the
//! customer journey: lessons learned from graph-based online attribution
//! modeling", IJRM 33(3)). Paths are walks of an absorbing Markov chain of
//! order `k`: a state is the last `k` channels (fewer at the start of a
//! path), entered from `(start)` and absorbed in `(conversion)` or `(null)`.
//! Transition probabilities are the observed transition counts normalised per
//! state (the maximum-likelihood estimate), every path weighted by its
//! journeys. With `x_s` the probability of converting from state `s`,
//!
//! ```text
//! x = Q x + r        (Q: transient-to-transient probabilities, r: into (conversion))
//! ```
//!
//! and `P(conversion) = x_(start)`. The **removal effect** of channel `c` is
//! `1 − P₋c / P`, where `P₋c` solves the same system with every state that
//! contains `c` sent to `(null)`. A channel's credit is
//! `total conversions × RE_c / Σ RE`; for value, `r` is replaced by the
//! expected conversion value absorbed from each state.
//!
//! The systems are solved exactly: by LU decomposition with partial pivoting
//! up to [`DENSE_LIMIT`] states, and by Gauss–Seidel sweeps to machine
//! precision beyond, with the residual reported. ChannelAttribution instead
//! simulates walks, so its removal effects carry Monte Carlo noise.
//!
//! # Shapley value attribution
//!
//! [`shapley`]: a cooperative game whose players are channels and whose worth
//! `v(S)` is the conversions the order-`k` chain predicts when only the channels
//! in `S` exist (all other channels removed as above), so
//! `v(all) = total conversions` and `v(∅) = 0`. Each channel gets its Shapley value
//! (Shapley 1953; for attribution, Dalessandro, Perlich, Stitelman & Provost
//! 2012, "Causally motivated attribution for online advertising"): its marginal
//! worth averaged over all orders in which channels could join. Exact over all
//! `2ⁿ` coalitions up to [`ShapleyParams::exact_up_to`] channels (15 by
//! default); beyond, averaged over seeded random permutations with the
//! standard error of each channel's estimate. Credits add up to the
//! conversions either way, because each permutation's contributions do.
//!
//! # Credit and effect
//!
//! Every model above answers *who was there*: it shares out the conversions
//! that happened. [`causal`] answers *who made the difference*: each
//! channel's effect on the odds of converting, adjusted for who the channel
//! reaches, and the conversions that would be lost without it (see
//! [`CausalAttribution`]); [`holdout_lift`] measures a campaign against
//! customers kept out of it at random. Budget follows effect, not credit: a
//! channel that collects credit from customers who would have bought anyway
//! earns its money elsewhere.

mod causal;
mod chain;
mod heuristics;
mod markov;
mod shapley;

use serde::{Deserialize, Serialize};

pub use causal::{
    Budget, BudgetMove, BudgetParams, CausalAttribution, CausalParams, ChannelBudget,
    ChannelEffect, Covariate, Covariates, CreditedConversions, EffectNote, Estimate, HoldoutLift,
    budget, causal, holdout_lift,
};
pub use chain::DENSE_LIMIT;
pub use heuristics::{HeuristicParams, Heuristics, heuristics, time_decay};
pub use markov::{MarkovAttribution, MarkovParams, Solver, markov};
pub use shapley::{ShapleyAttribution, ShapleyParams, shapley};

/// Conversions and value credited to each channel (indexed by channel code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    /// Conversions credited per channel.
    pub conversions: Vec<f64>,
    /// Conversion value credited per channel.
    pub value: Vec<f64>,
}

impl Credits {
    fn zeros(n: usize) -> Credits {
        Credits {
            conversions: vec![0.0; n],
            value: vec![0.0; n],
        }
    }

    /// Sum of the credited conversions.
    pub fn total_conversions(&self) -> f64 {
        self.conversions.iter().sum()
    }

    /// Sum of the credited value.
    pub fn total_value(&self) -> f64 {
        self.value.iter().sum()
    }

    fn add(&mut self, channel: u16, share: f64, conversions: f64, value: f64) {
        let c = channel as usize;
        self.conversions[c] += share * conversions;
        self.value[c] += share * value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::touchpoints::paths::{PathTable, RawPathRow};
    use proptest::prelude::*;

    pub(super) fn table(rows: &[(&str, f64, f64, f64)]) -> PathTable {
        let raw: Vec<RawPathRow> = rows
            .iter()
            .enumerate()
            .map(|(i, (p, c, n, v))| RawPathRow {
                line: i as u64 + 2,
                path: (*p).into(),
                conversions: c.to_string(),
                nulls: n.to_string(),
                value: Some(v.to_string()),
            })
            .collect();
        let (t, report) = PathTable::from_rows(&raw).unwrap();
        assert!(report.is_clean());
        t
    }

    pub(super) fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn empty_and_conversion_free_tables_give_zero_credit() {
        let empty = PathTable::with_channels(vec!["a".into()]).unwrap();
        let m = markov(&empty, &MarkovParams::default()).unwrap();
        assert_eq!(
            (m.conversion_probability, m.credits.conversions[0]),
            (0.0, 0.0)
        );
        let t = table(&[("a > b", 0.0, 5.0, 0.0)]);
        let m = markov(&t, &MarkovParams::default()).unwrap();
        assert_eq!(m.credits.conversions, [0.0, 0.0]);
        let s = shapley(&t, &ShapleyParams::default()).unwrap();
        assert_eq!(s.credits.conversions, [0.0, 0.0]);
        let h = heuristics(&t, &HeuristicParams::default()).unwrap();
        assert_eq!(h.linear.total_conversions(), 0.0);
    }

    fn arb_table() -> impl Strategy<Value = Vec<(Vec<u8>, u8, u8, u16)>> {
        proptest::collection::vec(
            (
                proptest::collection::vec(0u8..5, 1..7),
                0u8..6,
                0u8..6,
                0u16..500,
            ),
            1..25,
        )
    }

    fn build(rows: &[(Vec<u8>, u8, u8, u16)]) -> PathTable {
        let names: Vec<String> = (0..5).map(|c| format!("ch{c}")).collect();
        let mut t = PathTable::with_channels(names).unwrap();
        for (path, conv, null, value) in rows {
            let codes: Vec<u16> = path.iter().map(|&c| u16::from(c)).collect();
            let value = if *conv > 0 { f64::from(*value) } else { 0.0 };
            t.add(&codes, f64::from(*conv), f64::from(*null), value)
                .unwrap();
        }
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_model_conserves_credit(rows in arb_table(), order in 1usize..=3) {
            let t = build(&rows);
            let (conv, value) = (t.total_conversions(), t.total_value());
            let h = heuristics(&t, &HeuristicParams::default()).unwrap();
            for credits in [&h.first_touch, &h.last_touch, &h.last_non_direct, &h.linear, &h.position_based] {
                prop_assert!(close(credits.total_conversions(), conv, 1e-12));
                prop_assert!(close(credits.total_value(), value, 1e-12));
                prop_assert!(credits.conversions.iter().all(|&c| c >= 0.0));
            }
            let m = markov(&t, &MarkovParams { order }).unwrap();
            let journeys = conv + t.total_nulls();
            if journeys > 0.0 {
                // Flow conservation: the fitted chain converts exactly the observed share.
                prop_assert!(close(m.conversion_probability, conv / journeys, 1e-11));
            }
            prop_assert!(m.removal_effects.iter().all(|r| (0.0..=1.0).contains(r)));
            if m.removal_effects.iter().sum::<f64>() > 0.0 {
                prop_assert!(close(m.credits.total_conversions(), conv, 1e-12));
            }
            let s = shapley(&t, &ShapleyParams { order, ..ShapleyParams::default() }).unwrap();
            prop_assert!(close(s.credits.total_conversions(), conv, 1e-10));
            prop_assert!(close(s.credits.total_value(), value, 1e-10));
        }
    }
}
