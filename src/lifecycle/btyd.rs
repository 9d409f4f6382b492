//! Fitted BTYD models: BG/NBD, MBG/NBD and Pareto/NBD as Params → fit → Model.
//!
//! ```
//! use custinsight::lifecycle::btyd::BgNbdParams;
//! use custinsight::lifecycle::summary::Triples;
//!
//! // (x, t_x, T) with counts, e.g. from `Summary::triples()`.
//! let mut data = Triples::default();
//! for (x, t_x, t, n) in [(0.0, 0.0, 38.0, 40.0), (2.0, 30.4, 38.9, 12.0), (7.0, 29.4, 35.1, 5.0),
//!                        (1.0, 5.0, 20.0, 20.0), (4.0, 18.0, 30.0, 8.0), (0.0, 0.0, 10.0, 15.0)] {
//!     data.add(x, t_x, t, n);
//! }
//! let model = BgNbdParams::default().fit(&data)?;
//! assert!(model.report.converged);
//! let p = model.p_alive(2.0, 30.4, 38.9);
//! assert!((0.0..=1.0).contains(&p));
//! # Ok::<(), custinsight::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::fit::{check_fit_params, fit};
use super::models;
use super::optim::{FitReport, Settings};
use super::summary::{Summary, Triples};
use crate::error::{Error, Result};

/// Per-customer scores from a fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Probability that each customer is still alive at the end of observation.
    pub p_alive: Vec<f64>,
    /// Expected purchases of each customer in the next `horizon` periods.
    pub expected_purchases: Vec<f64>,
    /// The horizon, in periods.
    pub horizon: f64,
}

fn check_data(model: &'static str, t: &Triples) -> Result<()> {
    for i in 0..t.len() {
        let (x, t_x, t_cal, w) = (t.x[i], t.t_x[i], t.t_cal[i], t.weight[i]);
        let valid = x.is_finite()
            && x >= 0.0
            && x.fract() == 0.0
            && t_x >= 0.0
            && t_cal.is_finite()
            && t_x <= t_cal
            && w.is_finite()
            && w >= 0.0;
        if !valid {
            return Err(Error::InvalidInput(format!(
                "{model}: invalid customer summary x={x}, t_x={t_x}, T={t_cal}, weight={w} \
                 (need whole x >= 0, 0 <= t_x <= T, finite non-negative weight)"
            )));
        }
    }
    if (0..t.len()).all(|i| t.x[i] == 0.0 || t.weight[i] == 0.0) {
        return Err(Error::NotIdentifiable {
            model,
            reason: "nobody made a repeat purchase".into(),
        });
    }
    Ok(())
}

/// Scores every customer: each distinct `(x, t_x, T)` is evaluated once (in
/// parallel when enabled) and the results gathered back to the customers, so
/// the cost follows the number of distinct histories, not of customers.
fn score_with(
    summary: &Summary,
    horizon: f64,
    f: impl Fn(f64, f64, f64) -> (f64, f64) + Sync,
) -> Scores {
    let (unique, slot) = distinct_histories(summary);
    let one = |&(x, t_x, t_cal): &(f64, f64, f64)| f(x, t_x, t_cal);
    #[cfg(feature = "parallel")]
    let values: Vec<(f64, f64)> = {
        use rayon::prelude::*;
        unique.par_iter().with_min_len(1024).map(one).collect()
    };
    #[cfg(not(feature = "parallel"))]
    let values: Vec<(f64, f64)> = unique.iter().map(one).collect();
    let (p_alive, expected_purchases) = slot.iter().map(|&k| values[k as usize]).unzip();
    Scores {
        p_alive,
        expected_purchases,
        horizon,
    }
}

type History = (f64, f64, f64);
type HistoryKey = (u64, u64, u64);

fn key(h: &History) -> HistoryKey {
    (h.0.to_bits(), h.1.to_bits(), h.2.to_bits())
}

/// The distinct `(x, t_x, T)` of a summary and, per customer, the index of its own.
/// Chunks are deduplicated in parallel with local tables, then merged in order.
fn distinct_histories(summary: &Summary) -> (Vec<History>, Vec<u32>) {
    const CHUNK: usize = 1 << 17;
    let n = summary.len();
    let local = |start: usize| {
        let end = (start + CHUNK).min(n);
        let mut index: hashbrown::HashMap<HistoryKey, u32> =
            hashbrown::HashMap::with_capacity((end - start) / 4);
        let mut unique: Vec<History> = Vec::new();
        let slots: Vec<u32> = (start..end)
            .map(|i| {
                let h = (summary.frequency[i], summary.recency[i], summary.age[i]);
                *index.entry(key(&h)).or_insert_with(|| {
                    unique.push(h);
                    (unique.len() - 1) as u32
                })
            })
            .collect();
        (unique, slots)
    };
    let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
    #[cfg(feature = "parallel")]
    let parts: Vec<(Vec<History>, Vec<u32>)> = {
        use rayon::prelude::*;
        starts.par_iter().map(|&s| local(s)).collect()
    };
    #[cfg(not(feature = "parallel"))]
    let parts: Vec<(Vec<History>, Vec<u32>)> = starts.iter().map(|&s| local(s)).collect();
    let mut index: hashbrown::HashMap<HistoryKey, u32> = hashbrown::HashMap::new();
    let mut unique: Vec<History> = Vec::new();
    let mut slot = Vec::with_capacity(n);
    for (part_unique, part_slots) in parts {
        let remap: Vec<u32> = part_unique
            .iter()
            .map(|h| {
                *index.entry(key(h)).or_insert_with(|| {
                    unique.push(*h);
                    (unique.len() - 1) as u32
                })
            })
            .collect();
        slot.extend(part_slots.iter().map(|&j| remap[j as usize]));
    }
    (unique, slot)
}

macro_rules! btyd_model {
    (
        $(#[$pmeta:meta])* $params:ident,
        $(#[$mmeta:meta])* $model:ident,
        $name:literal, $module:ident, $likelihood:expr, [$p0:ident, $p1:ident, $p2:ident, $p3:ident]
    ) => {
        $(#[$pmeta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $params {
            /// L2 penalty on the parameters, as lifetimes' `penalizer_coef` (0 = plain maximum likelihood).
            pub penalizer: f64,
            /// Maximum optimiser iterations per starting point.
            pub max_iter: usize,
            /// Convergence tolerance on the gradient norm (log-parameters, mean log-likelihood).
            pub tolerance: f64,
        }

        impl Default for $params {
            fn default() -> Self {
                $params { penalizer: 0.0, max_iter: 500, tolerance: 1e-9 }
            }
        }

        impl $params {
            /// Checks the settings.
            ///
            /// # Errors
            /// [`Error::InvalidParameter`] for a negative penalizer, zero iterations or a non-positive tolerance.
            pub fn check(&self) -> Result<()> {
                check_fit_params(self.penalizer, self.max_iter, self.tolerance)
            }

            /// Fits the model by maximum likelihood on weighted `(x, t_x, T)` triples,
            /// restarting from a second starting point before giving up.
            ///
            /// # Errors
            /// [`Error::InvalidParameter`] from [`check`](Self::check);
            /// [`Error::InvalidInput`] for impossible summaries;
            /// [`Error::NotIdentifiable`] when nobody repeats;
            /// [`Error::NoConvergence`] with diagnostics when no start converges.
            pub fn fit(&self, data: &Triples) -> Result<$model> {
                self.check()?;
                check_data($name, data)?;
                let w = data.total_weight();
                let mean_t = (0..data.len()).map(|i| data.t_cal[i] * data.weight[i]).sum::<f64>() / w;
                let mean_x = (0..data.len()).map(|i| data.x[i] * data.weight[i]).sum::<f64>() / w;
                let starts = [[1.0; 4], [0.5, (mean_t / (mean_x + 1.0)).max(0.1), 0.5, 2.0]];
                let settings = Settings { max_iter: self.max_iter, gtol: self.tolerance, ..Settings::default() };
                let (theta, report) =
                    fit($name, &$likelihood, data, self.penalizer, &starts, settings)?;
                Ok($model { $p0: theta[0], $p1: theta[1], $p2: theta[2], $p3: theta[3], report })
            }
        }

        $(#[$mmeta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $model {
            #[doc = concat!("Parameter `", stringify!($p0), "`.")]
            pub $p0: f64,
            #[doc = concat!("Parameter `", stringify!($p1), "`.")]
            pub $p1: f64,
            #[doc = concat!("Parameter `", stringify!($p2), "`.")]
            pub $p2: f64,
            #[doc = concat!("Parameter `", stringify!($p3), "`.")]
            pub $p3: f64,
            /// How the fit went.
            pub report: FitReport,
        }

        impl $model {
            /// The parameters in lifetimes' order.
            pub fn params(&self) -> [f64; 4] {
                [self.$p0, self.$p1, self.$p2, self.$p3]
            }

            /// Parameter names in lifetimes' order.
            pub const PARAM_NAMES: [&'static str; 4] =
                [stringify!($p0), stringify!($p1), stringify!($p2), stringify!($p3)];

            /// One customer's log-likelihood.
            pub fn log_likelihood(&self, x: f64, t_x: f64, t_cal: f64) -> f64 {
                models::$module::log_likelihood(&self.params(), x, t_x, t_cal)
            }

            /// Probability that a customer with this history is still alive.
            pub fn p_alive(&self, x: f64, t_x: f64, t_cal: f64) -> f64 {
                models::$module::p_alive(&self.params(), x, t_x, t_cal)
            }

            /// Expected purchases in the next `t` periods of a customer with this history.
            pub fn expected_purchases(&self, t: f64, x: f64, t_x: f64, t_cal: f64) -> f64 {
                models::$module::expected_purchases(&self.params(), t, x, t_x, t_cal)
            }

            /// Expected repeat purchases of a new customer in their first `t` periods, E[X(t)].
            pub fn expected_purchases_new_customer(&self, t: f64) -> f64 {
                models::$module::expected_purchases_new_customer(&self.params(), t)
            }

            /// P(alive) and expected purchases over `horizon` for every customer of a summary.
            pub fn score(&self, summary: &Summary, horizon: f64) -> Scores {
                let p = self.params();
                score_with(summary, horizon, |x, t_x, t_cal| {
                    (
                        models::$module::p_alive(&p, x, t_x, t_cal),
                        models::$module::expected_purchases(&p, horizon, x, t_x, t_cal),
                    )
                })
            }
        }
    };
}

btyd_model!(
    /// Fitting settings for BG/NBD (Fader, Hardie & Lee 2005).
    BgNbdParams,
    /// A fitted BG/NBD model (parameters named as the paper and lifetimes).
    BgNbdModel,
    "BG/NBD", bgnbd, models::bgnbd::Fast::<false>, [r, alpha, a, b]
);

btyd_model!(
    /// Fitting settings for MBG/NBD (Batislam, Denizel & Filiztekin 2007).
    MbgNbdParams,
    /// A fitted MBG/NBD model.
    MbgNbdModel,
    "MBG/NBD", mbgnbd, models::bgnbd::Fast::<true>, [r, alpha, a, b]
);

btyd_model!(
    /// Fitting settings for Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbdParams,
    /// A fitted Pareto/NBD model.
    ParetoNbdModel,
    "Pareto/NBD", paretonbd, super::fit::PerCustomer(models::paretonbd::log_likelihood_gradient), [r, alpha, s, beta]
);

impl BgNbdModel {
    /// P(X(t) = n): probability that a new customer makes exactly `n` repeat purchases in `(0, t]`.
    pub fn prob_n_purchases(&self, n: u32, t: f64) -> f64 {
        models::bgnbd::prob_n_purchases(&self.params(), n, t)
    }
}

impl MbgNbdModel {
    /// P(X(t) = n): probability that a new customer makes exactly `n` repeat purchases in `(0, t]`.
    pub fn prob_n_purchases(&self, n: u32, t: f64) -> f64 {
        models::mbgnbd::prob_n_purchases(&self.params(), n, t)
    }
}
