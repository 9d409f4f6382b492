//! What the buy-till-you-die transaction models share: their fitting
//! settings, the [`BtydModel`] trait every fitted model implements (the
//! per-customer formulas a model supplies, and the scoring of a whole summary
//! built on them), and the per-customer [`Scores`].
//!
//! Each model lives in its own module with its parameters, fitted model,
//! formulas and tests: [`bgnbd`](super::bgnbd), [`mbgnbd`](super::mbgnbd) and
//! [`paretonbd`](super::paretonbd).
//!
//! ```
//! use custinsight::lifecycle::bgnbd::BgNbdParams;
//! use custinsight::lifecycle::btyd::BtydModel; // p_alive, scoring
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

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use super::fit::{Likelihood, check_fit_params, fit};
use super::gamma_gamma::{ClvParams, GammaGammaModel};
use super::optim::{FitReport, Settings};
use super::summary::{Histories, Summary, Triples};
use crate::error::{Error, Result};

/// Fitting settings of a BTYD transaction model `M`; each model names its
/// own ([`BgNbdParams`](super::bgnbd::BgNbdParams),
/// [`MbgNbdParams`](super::mbgnbd::MbgNbdParams),
/// [`ParetoNbdParams`](super::paretonbd::ParetoNbdParams)), and
/// [`fit`](Self::fit) gives that model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, bound = "")]
pub struct BtydParams<M> {
    /// L2 penalty on the parameters, as lifetimes' `penalizer_coef` (0 = plain maximum likelihood).
    pub penalizer: f64,
    /// Maximum optimiser iterations per starting point.
    pub max_iter: usize,
    /// Convergence tolerance on the gradient norm (log-parameters, mean log-likelihood).
    pub tolerance: f64,
    /// The model the settings fit; no data, and public only so that
    /// `BgNbdParams { penalizer: 0.01, ..Default::default() }` can be written.
    #[serde(skip)]
    pub model: PhantomData<fn() -> M>,
}

impl<M> Default for BtydParams<M> {
    fn default() -> Self {
        BtydParams {
            penalizer: 0.0,
            max_iter: 500,
            tolerance: 1e-9,
            model: PhantomData,
        }
    }
}

impl<M: BtydModel> BtydParams<M> {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative penalizer, zero iterations
    /// or a non-positive tolerance.
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
    pub fn fit(&self, data: &Triples) -> Result<M> {
        self.check()?;
        check_data(M::NAME, data)?;
        let w = data.total_weight();
        let mean_t = (0..data.len())
            .map(|i| data.t_cal[i] * data.weight[i])
            .sum::<f64>()
            / w;
        let mean_x = (0..data.len())
            .map(|i| data.x[i] * data.weight[i])
            .sum::<f64>()
            / w;
        let starts = [
            [1.0; 4],
            [0.5, (mean_t / (mean_x + 1.0)).max(0.1), 0.5, 2.0],
        ];
        let (theta, report) = M::fit_theta(self, data, &starts)?;
        Ok(M::from_fit(theta, report))
    }
}

/// Per-customer scores from a fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Probability that each customer is still alive at the end of observation.
    pub p_alive: Vec<f64>,
    /// Expected purchases of each customer in the next `horizon` periods.
    pub expected_purchases: Vec<f64>,
    /// Customer lifetime value of each customer, when requested
    /// ([`score_with_clv`](BtydModel::score_with_clv)).
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

/// Rows per call of [`fill_by_distinct_key`](super::distinct::fill_by_distinct_key), whose row numbers are `u32`.
const SCORE_WINDOW: usize = 1 << 30;

/// Scores `customers` into `out` window by window with `score`.
pub(crate) fn score_windows<const K: usize>(
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
pub(crate) fn first<const K: usize>(all: [f64; 3]) -> [f64; K] {
    std::array::from_fn(|k| all[k])
}

/// The discounted increments of a customer's expected cumulative purchases `w`
/// over the CLV steps: customer value per unit of spend.
pub(crate) fn discounted_purchases(w: impl Fn(f64) -> f64, clv: &ClvParams) -> f64 {
    super::gamma_gamma::formulas::customer_lifetime_value(
        w,
        1.0,
        clv.horizon,
        clv.step,
        clv.discount_rate,
    )
}

/// The model-specific parts behind [`BtydModel`], out of the public API:
/// the likelihood the fit maximises and the pass that scores many customers.
pub(crate) mod kernel {
    use super::{BtydParams, ClvParams, FitReport, GammaGammaModel, Histories, Result, Triples};

    /// Customer value requested alongside the scores.
    pub struct ValueRequest<'a> {
        /// The spend model.
        pub spend: &'a GammaGammaModel,
        /// Margin, horizon and discounting.
        pub clv: &'a ClvParams,
        /// Each customer's average spend per repeat purchase.
        pub monetary_value: &'a [f64],
    }

    /// The scoring outputs: P(alive), expected purchases and, with K = 3, customer value.
    pub type Outputs<'o, const K: usize> = [&'o mut [f64]; K];

    /// A model's per-customer formulas, parameters in lifetimes' order.
    pub struct Formulas {
        /// One customer's log-likelihood of `(x, t_x, T)`.
        pub log_likelihood: fn(&[f64; 4], f64, f64, f64) -> f64,
        /// P(alive) of `(x, t_x, T)`.
        pub p_alive: fn(&[f64; 4], f64, f64, f64) -> f64,
        /// Expected purchases in the next `t` periods of `(x, t_x, T)`: `(p, t, x, t_x, T)`.
        pub expected_purchases: fn(&[f64; 4], f64, f64, f64, f64) -> f64,
        /// E[X(t)] of a new customer: `(p, t)`.
        pub expected_purchases_new_customer: fn(&[f64; 4], f64) -> f64,
    }

    /// Implemented by each fitted BTYD model. The trait is public so that
    /// [`BtydModel`](super::BtydModel) can require it, in a module that cannot
    /// be named outside the crate (a sealed trait).
    pub trait Kernel: Sized {
        /// The model's per-customer formulas.
        const FORMULAS: Formulas;
        /// Maximises the model's likelihood from each of `starts` with the
        /// settings of `params`: the parameters in lifetimes' order and the report.
        fn fit_theta(
            params: &BtydParams<Self>,
            data: &Triples,
            starts: &[[f64; 4]],
        ) -> Result<([f64; 4], FitReport)>;
        /// The model from fitted parameters in lifetimes' order.
        fn from_fit(theta: [f64; 4], report: FitReport) -> Self;
        /// Scores customers given as columns into `out`.
        fn score_columns<const K: usize>(
            &self,
            horizon: f64,
            customers: &Histories<'_>,
            value: Option<&ValueRequest<'_>>,
            out: Outputs<'_, K>,
        );
    }
}

pub(crate) use kernel::{Outputs, ValueRequest};

/// Fits a BTYD model's likelihood `ll` with the settings of `params` from each of `starts`.
pub(crate) fn fit_likelihood<M, L: Likelihood<4>>(
    name: &'static str,
    ll: &L,
    params: &BtydParams<M>,
    data: &Triples,
    starts: &[[f64; 4]],
) -> Result<([f64; 4], FitReport)> {
    let settings = Settings {
        max_iter: params.max_iter,
        gtol: params.tolerance,
        ..Settings::default()
    };
    fit(name, ll, data, params.penalizer, starts, settings)
}

/// A fitted buy-till-you-die model: the per-customer formulas of a history
/// `(x, t_x, T)`, and the scoring of a whole summary built on them.
///
/// Implemented by [`BgNbdModel`](super::bgnbd::BgNbdModel),
/// [`MbgNbdModel`](super::mbgnbd::MbgNbdModel) and
/// [`ParetoNbdModel`](super::paretonbd::ParetoNbdModel); bring it into scope
/// to call these methods.
pub trait BtydModel: kernel::Kernel {
    /// The model's name for titles and errors ("BG/NBD").
    const NAME: &'static str;
    /// Parameter names in lifetimes' order.
    const PARAM_NAMES: [&'static str; 4];

    /// The parameters in lifetimes' order.
    fn params(&self) -> [f64; 4];

    /// One customer's log-likelihood.
    fn log_likelihood(&self, x: f64, t_x: f64, t_cal: f64) -> f64 {
        (Self::FORMULAS.log_likelihood)(&self.params(), x, t_x, t_cal)
    }

    /// Probability that a customer with history `(x, t_x, T)` is still alive.
    fn p_alive(&self, x: f64, t_x: f64, t_cal: f64) -> f64 {
        (Self::FORMULAS.p_alive)(&self.params(), x, t_x, t_cal)
    }

    /// Expected purchases in the next `t` periods of a customer with history `(x, t_x, T)`.
    fn expected_purchases(&self, t: f64, x: f64, t_x: f64, t_cal: f64) -> f64 {
        (Self::FORMULAS.expected_purchases)(&self.params(), t, x, t_x, t_cal)
    }

    /// Expected repeat purchases of a new customer in their first `t` periods, E[X(t)].
    fn expected_purchases_new_customer(&self, t: f64) -> f64 {
        (Self::FORMULAS.expected_purchases_new_customer)(&self.params(), t)
    }

    /// The model's name for titles ("BG/NBD").
    fn model_name(&self) -> &'static str {
        Self::NAME
    }

    /// P(alive) and expected purchases over `horizon` for every customer of a summary.
    ///
    /// Each distinct history is evaluated once, in parallel when enabled.
    fn score(&self, summary: &Summary, horizon: f64) -> Scores {
        let n = summary.len();
        let (mut p_alive, mut expected_purchases) = (vec![0.0; n], vec![0.0; n]);
        self.score_columns(
            horizon,
            &summary.histories(),
            None,
            [&mut p_alive, &mut expected_purchases],
        );
        Scores {
            p_alive,
            expected_purchases,
            clv: None,
            horizon,
        }
    }

    /// [`score`](Self::score) plus each customer's lifetime value: the discounted
    /// expected margin over `clv.horizon` with the Gamma–Gamma expected spend, as
    /// [`GammaGammaModel::clv`] with this model's expected cumulative purchases.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`ClvParams::check`].
    fn score_with_clv(
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
        Ok(Scores {
            p_alive,
            expected_purchases,
            clv: Some(value),
            horizon,
        })
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
    fn score_into(
        &self,
        customers: &Histories<'_>,
        horizon: f64,
        out: [&mut [f64]; 2],
    ) -> Result<()> {
        check_scoring(customers, &[out[0].len(), out[1].len()], None)?;
        self.score_columns(horizon, customers, None, out);
        Ok(())
    }

    /// [`score_into`](Self::score_into) plus customer lifetime value, written into
    /// `out` (P(alive), expected purchases, CLV); see
    /// [`score_with_clv`](Self::score_with_clv).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the columns differ in length;
    /// [`Error::MissingColumns`] when `monetary_value` is missing;
    /// [`Error::InvalidParameter`] from [`ClvParams::check`].
    fn score_with_clv_into(
        &self,
        customers: &Histories<'_>,
        horizon: f64,
        spend: &GammaGammaModel,
        clv: &ClvParams,
        out: [&mut [f64]; 3],
    ) -> Result<()> {
        let lengths = [out[0].len(), out[1].len(), out[2].len()];
        let value = check_scoring(customers, &lengths, Some((spend, clv)))?;
        self.score_columns(horizon, customers, value.as_ref(), out);
        Ok(())
    }
}
