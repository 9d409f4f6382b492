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
use super::spend::{ClvParams, GammaGammaModel};
use super::summary::{Histories, Summary, Triples};
use crate::error::{Error, Result};

/// Per-customer scores from a fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Probability that each customer is still alive at the end of observation.
    pub p_alive: Vec<f64>,
    /// Expected purchases of each customer in the next `horizon` periods.
    pub expected_purchases: Vec<f64>,
    /// Customer lifetime value of each customer, when requested
    /// ([`score_with_clv`](BgNbdModel::score_with_clv)).
    pub clv: Option<Vec<f64>>,
    /// The horizon of `expected_purchases`, in periods.
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
            return Err(Error::value(
                model,
                format!("customer {i}: x={x}, t_x={t_x}, T={t_cal}, weight={w}"),
                "need whole x >= 0, 0 <= t_x <= T, finite non-negative weight",
            ));
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

/// Customer value requested alongside the scores.
struct ValueRequest<'a> {
    spend: &'a GammaGammaModel,
    clv: &'a ClvParams,
    monetary_value: &'a [f64],
}

/// Checks the inputs of a scoring call and returns the customer value request, if any.
fn check_scoring<'a>(
    customers: &Histories<'a>,
    out_lengths: &[usize],
    value: Option<(&'a GammaGammaModel, &'a ClvParams)>,
) -> Result<Option<ValueRequest<'a>>> {
    customers.check()?;
    let n = customers.len();
    if let Some(&m) = out_lengths.iter().find(|&&m| m != n) {
        return Err(Error::lengths("scoring: output column per customer", n, m));
    }
    let Some((spend, clv)) = value else {
        return Ok(None);
    };
    clv.check()?;
    let monetary_value = customers
        .monetary_value
        .ok_or_else(|| Error::MissingColumns {
            table: "customer histories (for customer value)".into(),
            columns: vec!["monetary_value".into()],
        })?;
    Ok(Some(ValueRequest {
        spend,
        clv,
        monetary_value,
    }))
}

/// Rows per call of [`distinct::fill_by_distinct_key`], whose row numbers are `u32`.
const SCORE_WINDOW: usize = 1 << 30;

/// The scoring outputs: P(alive), expected purchases and, with K = 3, customer value.
type Outputs<'o, const K: usize> = [&'o mut [f64]; K];

/// Scores `customers` into `out` window by window with `score`.
fn score_windows<const K: usize>(
    customers: &Histories<'_>,
    value: Option<&ValueRequest<'_>>,
    out: Outputs<'_, K>,
    score: impl Fn(&Histories<'_>, Option<&ValueRequest<'_>>, Outputs<'_, K>),
) {
    let mut rest = out;
    let n = customers.len();
    let mut start = 0;
    while start < n {
        let end = (start + SCORE_WINDOW).min(n);
        let window = customers.slice(start..end);
        let value = value.map(|v| ValueRequest {
            monetary_value: &v.monetary_value[start..end],
            ..*v
        });
        let part: Outputs<'_, K> = std::array::from_fn(|k| {
            let column = std::mem::take(&mut rest[k]);
            let (head, tail) = column.split_at_mut((end - start).min(column.len()));
            rest[k] = tail;
            head
        });
        score(&window, value.as_ref(), part);
        start = end;
    }
}

/// The first K of (P(alive), expected purchases, customer value).
fn first<const K: usize>(all: [f64; 3]) -> [f64; K] {
    std::array::from_fn(|k| all[k])
}

/// The discounted increments of a customer's expected cumulative purchases `w`
/// over the CLV steps: customer value per unit of spend.
fn discounted_purchases(w: impl Fn(f64) -> f64, clv: &ClvParams) -> f64 {
    models::gamma_gamma::customer_lifetime_value(w, 1.0, clv.horizon, clv.step, clv.discount_rate)
}

/// BG/NBD and MBG/NBD scoring. Conditional expectations are P(alive) times the
/// expectation of a customer alive at T, whose hypergeometric series depends on
/// `(x, T)` only: it (and the discounted sum customer value needs) is evaluated
/// once per distinct `(x, T)`, and the closed-form P(alive) once per row.
fn score_bgnbd<const K: usize, const MODIFIED: bool>(
    p: &[f64; 4],
    horizon: f64,
    customers: &Histories<'_>,
    value: Option<&ValueRequest<'_>>,
    out: Outputs<'_, K>,
) {
    let [r, alpha, a, b] = *p;
    let shift = if MODIFIED { 1.0 } else { 0.0 };
    score_windows(customers, value, out, |h, value, out| {
        let (x, t_x, t_cal) = (h.frequency, h.recency, h.age);
        distinct::fill_by_distinct_key(
            h.len(),
            |i| [x[i].to_bits(), t_cal[i].to_bits()],
            |&[x, t_cal]| {
                let (x, t_cal) = (f64::from_bits(x), f64::from_bits(t_cal));
                let w = |t| {
                    models::bgnbd::expected_while_alive(r + x, alpha + t_cal, a, b + x + shift, t)
                };
                (
                    w(horizon),
                    value.map_or(0.0, |v| discounted_purchases(w, v.clv)),
                )
            },
            |i, &(while_alive, discounted)| {
                let alive = models::bgnbd::p_alive_core::<MODIFIED>(p, x[i], t_x[i], t_cal[i]);
                let clv = value.map_or(0.0, |v| {
                    v.clv.margin
                        * v.spend.expected_average_spend(x[i], v.monetary_value[i])
                        * alive
                        * discounted
                });
                first([alive, alive * while_alive, clv])
            },
            out,
        );
    });
}

/// Pareto/NBD scoring: P(alive) needs a hypergeometric function of the whole
/// history, so everything is evaluated once per distinct `(x, t_x, T)`.
fn score_paretonbd<const K: usize>(
    p: &[f64; 4],
    horizon: f64,
    customers: &Histories<'_>,
    value: Option<&ValueRequest<'_>>,
    out: Outputs<'_, K>,
) {
    score_windows(customers, value, out, |h, value, out| {
        let (x, t_x, t_cal) = (h.frequency, h.recency, h.age);
        distinct::fill_by_distinct_key(
            h.len(),
            |i| [x[i].to_bits(), t_x[i].to_bits(), t_cal[i].to_bits()],
            |&[x, t_x, t_cal]| {
                let (x, t_x, t_cal) = (
                    f64::from_bits(x),
                    f64::from_bits(t_x),
                    f64::from_bits(t_cal),
                );
                let (alive, expected) =
                    models::paretonbd::p_alive_and_expected_purchases(p, horizon, x, t_x, t_cal);
                let discounted = value.map_or(0.0, |v| {
                    let w = |t| models::paretonbd::expected_while_alive(p, t, x, t_cal);
                    alive * discounted_purchases(w, v.clv)
                });
                (alive, expected, discounted)
            },
            |i, &(alive, expected, discounted)| {
                let clv = value.map_or(0.0, |v| {
                    v.clv.margin
                        * v.spend.expected_average_spend(x[i], v.monetary_value[i])
                        * discounted
                });
                first([alive, expected, clv])
            },
            out,
        );
    });
}

/// A fitted buy-till-you-die model that scores a history `(x, t_x, T)`:
/// what the model charts and the customer scores need from any of them.
///
/// Implemented for [`BgNbdModel`], [`MbgNbdModel`] and [`ParetoNbdModel`].
pub trait BtydModel {
    /// The model's name for titles ("BG/NBD").
    fn model_name(&self) -> &'static str;
    /// Probability that a customer with history `(x, t_x, T)` is still alive.
    fn p_alive(&self, x: f64, t_x: f64, t_cal: f64) -> f64;
    /// Expected purchases in the next `t` periods of a customer with history `(x, t_x, T)`.
    fn expected_purchases(&self, t: f64, x: f64, t_x: f64, t_cal: f64) -> f64;
}

macro_rules! btyd_model {
    (
        $(#[$pmeta:meta])* $params:ident,
        $(#[$mmeta:meta])* $model:ident,
        $name:literal, $module:ident, $likelihood:expr, $scorer:ident $(<$modified:literal>)?,
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
            /// [`Error::InvalidValue`] for impossible summaries;
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

        impl BtydModel for $model {
            fn model_name(&self) -> &'static str {
                $name
            }
            fn p_alive(&self, x: f64, t_x: f64, t_cal: f64) -> f64 {
                <$model>::p_alive(self, x, t_x, t_cal)
            }
            fn expected_purchases(&self, t: f64, x: f64, t_x: f64, t_cal: f64) -> f64 {
                <$model>::expected_purchases(self, t, x, t_x, t_cal)
            }
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
                $scorer::<2 $(, $modified)?>(
                    &self.params(),
                    horizon,
                    &summary.histories(),
                    None,
                    [&mut p_alive, &mut expected_purchases],
                );
                Scores { p_alive, expected_purchases, clv: None, horizon }
            }

            /// [`score`](Self::score) plus each customer's lifetime value: the discounted
            /// expected margin over `clv.horizon` with the Gamma–Gamma expected spend, as
            /// [`GammaGammaModel::clv`] with this model's expected cumulative purchases.
            ///
            /// # Errors
            /// [`Error::InvalidParameter`] from [`ClvParams::check`].
            pub fn score_with_clv(
                &self,
                summary: &Summary,
                horizon: f64,
                spend: &GammaGammaModel,
                clv: &ClvParams,
            ) -> Result<Scores> {
                let n = summary.len();
                let (mut p_alive, mut expected_purchases, mut value) =
                    (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                self.score_with_clv_into(
                    &summary.histories(),
                    horizon,
                    spend,
                    clv,
                    [&mut p_alive, &mut expected_purchases, &mut value],
                )?;
                Ok(Scores { p_alive, expected_purchases, clv: Some(value), horizon })
            }

            /// P(alive) and expected purchases over `horizon` for customers given as
            /// columns, written into `out` (P(alive), expected purchases). Call it chunk by
            /// chunk to score a customer base of any size in bounded memory; the values
            /// equal [`p_alive`](Self::p_alive) and
            /// [`expected_purchases`](Self::expected_purchases) row by row (`NaN` for an
            /// impossible history).
            ///
            /// # Errors
            /// [`Error::LengthMismatch`] when the columns differ in length.
            pub fn score_into(
                &self,
                customers: &Histories<'_>,
                horizon: f64,
                out: [&mut [f64]; 2],
            ) -> Result<()> {
                check_scoring(customers, &[out[0].len(), out[1].len()], None)?;
                $scorer::<2 $(, $modified)?>(&self.params(), horizon, customers, None, out);
                Ok(())
            }

            /// [`score_into`](Self::score_into) plus customer lifetime value, written into
            /// `out` (P(alive), expected purchases, CLV); see
            /// [`score_with_clv`](Self::score_with_clv).
            ///
            /// # Errors
            /// [`Error::LengthMismatch`] when the columns differ in length;
            /// [`Error::MissingColumns`] when `monetary_value` is missing; [`Error::InvalidParameter`] from
            /// [`ClvParams::check`].
            pub fn score_with_clv_into(
                &self,
                customers: &Histories<'_>,
                horizon: f64,
                spend: &GammaGammaModel,
                clv: &ClvParams,
                out: [&mut [f64]; 3],
            ) -> Result<()> {
                let lengths = [out[0].len(), out[1].len(), out[2].len()];
                let value = check_scoring(customers, &lengths, Some((spend, clv)))?;
                $scorer::<3 $(, $modified)?>(&self.params(), horizon, customers, value.as_ref(), out);
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
    "BG/NBD", bgnbd, models::bgnbd::Fast::<false>, score_bgnbd<false>, [r, alpha, a, b]
);

btyd_model!(
    /// Fitting settings for MBG/NBD (Batislam, Denizel & Filiztekin 2007).
    MbgNbdParams,
    /// A fitted MBG/NBD model.
    MbgNbdModel,
    "MBG/NBD", mbgnbd, models::bgnbd::Fast::<true>, score_bgnbd<true>, [r, alpha, a, b]
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
