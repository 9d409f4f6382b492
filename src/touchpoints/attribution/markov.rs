//! Markov chain attribution: each channel credited by its removal effect
//! on the chain's conversion probability and value.

use serde::{Deserialize, Serialize};

use super::Credits;
use super::chain::{Chain, SolverStats, check_order};
use crate::error::Result;
use crate::touchpoints::paths::PathTable;

/// Parameters of Markov chain attribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MarkovParams {
    /// Chain order: a state is the last `order` channels (1 to 4; default 1).
    pub order: usize,
}

impl MarkovParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an order outside 1..=4.
    pub fn check(&self) -> Result<()> {
        check_order(self.order)
    }
}

impl Default for MarkovParams {
    fn default() -> Self {
        MarkovParams { order: 1 }
    }
}

/// How the absorption systems were solved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Solver {
    /// LU decomposition with partial pivoting.
    Dense,
    /// Gauss–Seidel sweeps to machine precision.
    GaussSeidel {
        /// Most sweeps any system needed.
        sweeps: usize,
        /// Largest final change of any unknown in any system.
        residual: f64,
    },
}

/// Markov chain attribution of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkovAttribution {
    /// Chain order.
    pub order: usize,
    /// Credits: conversions and value by their own removal effects.
    pub credits: Credits,
    /// Removal effect of each channel on the conversion probability.
    pub removal_effects: Vec<f64>,
    /// Removal effect of each channel on the expected conversion value.
    pub value_removal_effects: Vec<f64>,
    /// P(conversion) of a journey from `(start)`.
    pub conversion_probability: f64,
    /// Expected conversion value of a journey from `(start)`.
    pub value_per_journey: f64,
    /// Transient states, `(start)` included.
    pub states: usize,
    /// Distinct transitions with positive probability.
    pub transitions: usize,
    /// How the systems were solved.
    pub solver: Solver,
}

/// Markov chain attribution of `table` (module docs give the model).
///
/// # Errors
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an order outside 1..=4;
/// [`Error::NoConvergence`](crate::Error::NoConvergence) if Gauss–Seidel does not settle (a chain whose
/// walks almost never end).
///
/// # Example
/// ```
/// use custinsight::touchpoints::attribution::{markov, MarkovParams};
/// use custinsight::touchpoints::paths::{PathTable, RawPathRow};
///
/// let row = |line, path: &str, conv: &str, null: &str| RawPathRow {
///     line, path: path.into(), conversions: conv.into(), nulls: null.into(), value: None,
/// };
/// let (table, report) = PathTable::from_rows(&[
///     row(2, "email > search", "3", "1"),
///     row(3, "search", "1", "3"),
///     row(4, "email", "0", "2"),
/// ])?;
/// assert!(report.is_clean());
/// let m = markov(&table, &MarkovParams::default())?;
/// // P(conversion) = 4 / 10 journeys; credits add up to the 4 conversions.
/// assert!((m.conversion_probability - 0.4).abs() < 1e-12);
/// assert!((m.credits.total_conversions() - 4.0).abs() < 1e-12);
/// # Ok::<(), custinsight::Error>(())
/// ```
pub fn markov(table: &PathTable, params: &MarkovParams) -> Result<MarkovAttribution> {
    params.check()?;
    let chain = Chain::build(table, params.order)?;
    let n_channels = table.channels().len();
    let mut solver = SolverStats::default();
    let full = chain.solve(&chain.keep_all(), &mut solver)?;
    let mut removal_effects = vec![0.0; n_channels];
    let mut value_removal_effects = vec![0.0; n_channels];
    for c in 0..n_channels {
        if chain.channel_states[c].is_empty() {
            continue;
        }
        let mut keep = chain.keep_all();
        for &s in &chain.channel_states[c] {
            keep[s as usize] = false;
        }
        let without = chain.solve(&keep, &mut solver)?;
        removal_effects[c] = relative_drop(full.0, without.0);
        value_removal_effects[c] = relative_drop(full.1, without.1);
    }
    let credits = Credits {
        conversions: shares(&removal_effects, table.total_conversions()),
        value: shares(&value_removal_effects, table.total_value()),
    };
    Ok(MarkovAttribution {
        order: params.order,
        credits,
        removal_effects,
        value_removal_effects,
        conversion_probability: full.0,
        value_per_journey: full.1,
        states: chain.n,
        transitions: chain.transitions(),
        solver: solver.report(),
    })
}

/// `1 − without / full`, clamped to [0, 1] against rounding; 0 when `full` is 0.
fn relative_drop(full: f64, without: f64) -> f64 {
    if full > 0.0 {
        (1.0 - without / full).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// `total × effect / Σ effects` per channel (all zero when the effects are).
fn shares(effects: &[f64], total: f64) -> Vec<f64> {
    let sum: f64 = effects.iter().sum();
    effects
        .iter()
        .map(|e| if sum > 0.0 { total * e / sum } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{close, table};
    use super::*;

    #[test]
    fn removal_effects_by_hand() {
        // a: 1 of 2 convert; b: 0 of 2. P = 1/4; without a nothing converts; without b, 1/4.
        let t = table(&[("a", 1.0, 1.0, 10.0), ("b", 0.0, 2.0, 0.0)]);
        let m = markov(&t, &MarkovParams::default()).unwrap();
        assert!(close(m.conversion_probability, 0.25, 1e-15));
        assert_eq!(m.removal_effects, [1.0, 0.0]);
        assert_eq!(m.credits.conversions, [1.0, 0.0]);
        assert_eq!(m.credits.value, [10.0, 0.0]);
        assert!(close(m.value_per_journey, 2.5, 1e-15));
        assert_eq!(m.solver, Solver::Dense);
    }

    #[test]
    fn loops_and_higher_orders_solve_exactly() {
        // a → a → b: order 1 has a self-loop at a; the absorption probability is still
        // conversions / journeys by flow conservation.
        let t = table(&[
            ("a > a > b", 3.0, 1.0, 0.0),
            ("b > a", 1.0, 4.0, 0.0),
            ("a > b > a > b", 2.0, 2.0, 0.0),
        ]);
        for order in 1..=4 {
            let m = markov(&t, &MarkovParams { order }).unwrap();
            assert!(
                close(m.conversion_probability, 6.0 / 13.0, 1e-13),
                "order {order}: {}",
                m.conversion_probability
            );
        }
        assert!(matches!(
            markov(&t, &MarkovParams { order: 5 }),
            Err(crate::Error::InvalidParameter { name: "order", .. })
        ));
        assert!(matches!(
            markov(&t, &MarkovParams { order: 0 }),
            Err(crate::Error::InvalidParameter { name: "order", .. })
        ));
    }
}
