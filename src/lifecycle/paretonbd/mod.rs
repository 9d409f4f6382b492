//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987): fitting settings, the
//! fitted model and its scoring; the per-customer maths is in [`formulas`].
//!
//! While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α)
//! and stays alive for an exponential lifetime with rate μ ~ Gamma(s, β).

pub mod formulas;

use serde::{Deserialize, Serialize};

use super::btyd::fit_likelihood;
use super::btyd::kernel::{Formulas, Kernel};
use super::btyd::{
    BtydModel, BtydParams, Outputs, ValueRequest, discounted_purchases, first, score_windows,
};
use super::distinct;
use super::optim::FitReport;
use super::summary::{Histories, Triples};
use crate::error::Result;

/// Fitting settings for Pareto/NBD.
pub type ParetoNbdParams = BtydParams<ParetoNbdModel>;

/// A fitted Pareto/NBD model, parameters named as lifetimes' `ParetoNBDFitter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbdModel {
    /// Shape of the Gamma distribution of purchase rates λ across customers.
    pub r: f64,
    /// Rate of the Gamma distribution of purchase rates (in the summary's periods).
    pub alpha: f64,
    /// Shape of the Gamma distribution of drop-out rates μ.
    pub s: f64,
    /// Rate of the Gamma distribution of drop-out rates.
    pub beta: f64,
    /// How the fit went.
    pub report: FitReport,
}

impl Kernel for ParetoNbdModel {
    const FORMULAS: Formulas = Formulas {
        log_likelihood: formulas::log_likelihood,
        p_alive: formulas::p_alive,
        expected_purchases: formulas::expected_purchases,
        expected_purchases_new_customer: formulas::expected_purchases_new_customer,
    };

    fn fit_theta(
        params: &BtydParams<Self>,
        data: &Triples,
        starts: &[[f64; 4]],
    ) -> Result<([f64; 4], FitReport)> {
        fit_likelihood(Self::NAME, &formulas::FitLikelihood, params, data, starts)
    }

    fn from_fit([r, alpha, s, beta]: [f64; 4], report: FitReport) -> Self {
        ParetoNbdModel {
            r,
            alpha,
            s,
            beta,
            report,
        }
    }

    fn score_columns<const K: usize>(
        &self,
        horizon: f64,
        customers: &Histories<'_>,
        value: Option<&ValueRequest<'_>>,
        out: Outputs<'_, K>,
    ) {
        score_paretonbd::<K>(&self.params(), horizon, customers, value, out);
    }
}

impl BtydModel for ParetoNbdModel {
    const NAME: &'static str = "Pareto/NBD";
    const PARAM_NAMES: [&'static str; 4] = ["r", "alpha", "s", "beta"];

    fn params(&self) -> [f64; 4] {
        [self.r, self.alpha, self.s, self.beta]
    }
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
        let (x, t_x, t_cal) = (h.x, h.t_x, h.t_cal);
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
                    formulas::p_alive_and_expected_purchases(p, horizon, x, t_x, t_cal);
                let discounted = value.map_or(0.0, |v| {
                    let w = |t| formulas::expected_while_alive(p, t, x, t_cal);
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
