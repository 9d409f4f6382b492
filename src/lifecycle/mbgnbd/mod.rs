//! MBG/NBD (Batislam, Denizel & Filiztekin 2007, with Wagner & Hoppe's 2008
//! corrections): fitting settings and the fitted model; the per-customer maths
//! is in [`formulas`], the scoring shared with [BG/NBD](super::bgnbd).
//!
//! As BG/NBD, except that a customer may also drop out right at their first
//! purchase, so someone who never repeats is not assumed alive.

pub mod formulas;

use serde::{Deserialize, Serialize};

use super::bgnbd::score_bgnbd;
use super::btyd::kernel::{Formulas, Kernel};
use super::btyd::{BtydModel, BtydParams, Outputs, ValueRequest, fit_likelihood};
use super::optim::FitReport;
use super::summary::{Histories, Triples};
use crate::error::Result;

/// Fitting settings for MBG/NBD.
pub type MbgNbdParams = BtydParams<MbgNbdModel>;

/// A fitted MBG/NBD model, parameters named as lifetimes' `ModifiedBetaGeoFitter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MbgNbdModel {
    /// Shape of the Gamma distribution of purchase rates λ across customers.
    pub r: f64,
    /// Rate of the Gamma distribution of purchase rates (in the summary's periods).
    pub alpha: f64,
    /// First shape of the Beta distribution of drop-out probabilities p.
    pub a: f64,
    /// Second shape of the Beta distribution of drop-out probabilities p.
    pub b: f64,
    /// How the fit went.
    pub report: FitReport,
}

impl Kernel for MbgNbdModel {
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
        fit_likelihood(
            Self::NAME,
            &crate::lifecycle::bgnbd::formulas::Fast::<true>,
            params,
            data,
            starts,
        )
    }

    fn from_fit([r, alpha, a, b]: [f64; 4], report: FitReport) -> Self {
        MbgNbdModel {
            r,
            alpha,
            a,
            b,
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
        score_bgnbd::<K, true>(&self.params(), horizon, customers, value, out);
    }
}

impl BtydModel for MbgNbdModel {
    const NAME: &'static str = "MBG/NBD";
    const PARAM_NAMES: [&'static str; 4] = ["r", "alpha", "a", "b"];

    fn params(&self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }
}

impl MbgNbdModel {
    /// P(X(t) = n): probability that a new customer makes exactly `n` repeat purchases in `(0, t]`.
    pub fn prob_n_purchases(&self, n: u32, t: f64) -> f64 {
        formulas::prob_n_purchases(&self.params(), n, t)
    }
}
