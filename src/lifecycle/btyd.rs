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

use super::distinct;
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

/// Checks the columns of [`score_into`](BgNbdModel::score_into) against each other.
fn check_columns(histories: [&[f64]; 3], out: [&[f64]; 2]) -> Result<()> {
    let n = histories[0].len();
    if histories.iter().any(|c| c.len() != n) || out.iter().any(|c| c.len() != n) {
        return Err(Error::InvalidInput(format!(
            "scoring: columns of different lengths (frequency {}, recency {}, T {}, p_alive {}, \
             expected_purchases {})",
            histories[0].len(),
            histories[1].len(),
            histories[2].len(),
            out[0].len(),
            out[1].len()
        )));
    }
    Ok(())
}

/// Rows per call of [`distinct::fill_by_distinct_key`], whose row numbers are `u32`.
const SCORE_WINDOW: usize = 1 << 30;

/// Scores the rows of `histories` into `out` window by window.
fn score_windows(
    histories: [&[f64]; 3],
    out: [&mut [f64]; 2],
    score: impl Fn([&[f64]; 3], [&mut [f64]; 2]),
) {
    let [x, t_x, t_cal] = histories;
    let [p_alive, expected] = out;
    let mut start = 0;
    while start < x.len() {
        let end = (start + SCORE_WINDOW).min(x.len());
        score(
            [&x[start..end], &t_x[start..end], &t_cal[start..end]],
            [&mut p_alive[start..end], &mut expected[start..end]],
        );
        start = end;
    }
}

/// BG/NBD and MBG/NBD scoring. The conditional expectation is P(alive) times
/// the expectation of a customer alive at T, whose hypergeometric series
/// depends on `(x, T)` only: it is evaluated once per distinct `(x, T)`, and
/// the closed-form P(alive) once per row.
fn score_bgnbd<const MODIFIED: bool>(
    p: &[f64; 4],
    horizon: f64,
    histories: [&[f64]; 3],
    out: [&mut [f64]; 2],
) {
    let [r, alpha, a, b] = *p;
    let shift = if MODIFIED { 1.0 } else { 0.0 };
    score_windows(histories, out, |[x, t_x, t_cal], out| {
        distinct::fill_by_distinct_key(
            x.len(),
            |i| [x[i].to_bits(), t_cal[i].to_bits()],
            |&[x, t_cal]| {
                let (x, t_cal) = (f64::from_bits(x), f64::from_bits(t_cal));
                models::bgnbd::expected_while_alive(r + x, alpha + t_cal, a, b + x + shift, horizon)
            },
            |i, &while_alive| {
                let alive = models::bgnbd::p_alive_core::<MODIFIED>(p, x[i], t_x[i], t_cal[i]);
                (alive, alive * while_alive)
            },
            out,
        );
    });
}

/// Pareto/NBD scoring: P(alive) needs a hypergeometric function of the whole
/// history, so both outputs are evaluated once per distinct `(x, t_x, T)`.
fn score_paretonbd(p: &[f64; 4], horizon: f64, histories: [&[f64]; 3], out: [&mut [f64]; 2]) {
    score_windows(histories, out, |[x, t_x, t_cal], out| {
        distinct::fill_by_distinct_key(
            x.len(),
            |i| [x[i].to_bits(), t_x[i].to_bits(), t_cal[i].to_bits()],
            |&[x, t_x, t_cal]| {
                models::paretonbd::p_alive_and_expected_purchases(
                    p,
                    horizon,
                    f64::from_bits(x),
                    f64::from_bits(t_x),
                    f64::from_bits(t_cal),
                )
            },
            |_, &scores| scores,
            out,
        );
    });
}

macro_rules! btyd_model {
    (
        $(#[$pmeta:meta])* $params:ident,
        $(#[$mmeta:meta])* $model:ident,
        $name:literal, $module:ident, $likelihood:expr, $scorer:expr,
        [$p0:ident, $p1:ident, $p2:ident, $p3:ident]
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
            ///
            /// Each distinct history is evaluated once, in parallel when enabled.
            pub fn score(&self, summary: &Summary, horizon: f64) -> Scores {
                let n = summary.len();
                let (mut p_alive, mut expected_purchases) = (vec![0.0; n], vec![0.0; n]);
                $scorer(
                    &self.params(),
                    horizon,
                    [&summary.frequency, &summary.recency, &summary.age],
                    [&mut p_alive, &mut expected_purchases],
                );
                Scores { p_alive, expected_purchases, horizon }
            }

            /// P(alive) and expected purchases over `horizon` for customers given as
            /// columns (`frequency`, `recency`, `age` = x, t_x, T), written into the
            /// two output columns. Call it chunk by chunk to score a customer base of
            /// any size in bounded memory; the values equal [`p_alive`](Self::p_alive)
            /// and [`expected_purchases`](Self::expected_purchases) row by row (`NaN`
            /// for an impossible history).
            ///
            /// # Errors
            /// [`Error::InvalidInput`] when the five columns differ in length.
            pub fn score_into(
                &self,
                frequency: &[f64],
                recency: &[f64],
                age: &[f64],
                horizon: f64,
                p_alive: &mut [f64],
                expected_purchases: &mut [f64],
            ) -> Result<()> {
                check_columns([frequency, recency, age], [p_alive, expected_purchases])?;
                $scorer(&self.params(), horizon, [frequency, recency, age], [p_alive, expected_purchases]);
                Ok(())
            }
        }
    };
}

btyd_model!(
    /// Fitting settings for BG/NBD (Fader, Hardie & Lee 2005).
    BgNbdParams,
    /// A fitted BG/NBD model (parameters named as the paper and lifetimes).
    BgNbdModel,
    "BG/NBD", bgnbd, models::bgnbd::Fast::<false>, score_bgnbd::<false>, [r, alpha, a, b]
);

btyd_model!(
    /// Fitting settings for MBG/NBD (Batislam, Denizel & Filiztekin 2007).
    MbgNbdParams,
    /// A fitted MBG/NBD model.
    MbgNbdModel,
    "MBG/NBD", mbgnbd, models::bgnbd::Fast::<true>, score_bgnbd::<true>, [r, alpha, a, b]
);

btyd_model!(
    /// Fitting settings for Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbdParams,
    /// A fitted Pareto/NBD model.
    ParetoNbdModel,
    "Pareto/NBD", paretonbd, super::fit::PerCustomer(models::paretonbd::log_likelihood_gradient), score_paretonbd,
    [r, alpha, s, beta]
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
