//! BG/NBD (Fader, Hardie & Lee 2005): fitting settings, the fitted model,
//! and its scoring; the per-customer maths is in [`formulas`].
//!
//! While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α);
//! after each purchase they drop out for good with probability p ~ Beta(a, b).
//!
//! ```
//! use custinsight::lifecycle::bgnbd::BgNbdParams;
//! use custinsight::lifecycle::btyd::BtydModel;
//! use custinsight::lifecycle::summary::Triples;
//!
//! let mut data = Triples::default();
//! for (x, t_x, t, n) in [(0.0, 0.0, 38.0, 40.0), (2.0, 30.4, 38.9, 12.0), (7.0, 29.4, 35.1, 5.0),
//!                        (1.0, 5.0, 20.0, 20.0), (4.0, 18.0, 30.0, 8.0), (0.0, 0.0, 10.0, 15.0)] {
//!     data.add(x, t_x, t, n);
//! }
//! let model = BgNbdParams::default().fit(&data)?;
//! assert!((0.0..=1.0).contains(&model.p_alive(2.0, 30.4, 38.9)));
//! assert!(model.prob_n_purchases(0, 10.0) > 0.0);
//! # Ok::<(), custinsight::Error>(())
//! ```

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

/// Fitting settings for BG/NBD.
pub type BgNbdParams = BtydParams<BgNbdModel>;

/// A fitted BG/NBD model, parameters named as the paper and lifetimes' `BetaGeoFitter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgNbdModel {
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

impl Kernel for BgNbdModel {
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
        fit_likelihood(Self::NAME, &formulas::Fast::<false>, params, data, starts)
    }

    fn from_fit([r, alpha, a, b]: [f64; 4], report: FitReport) -> Self {
        BgNbdModel {
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
        score_bgnbd::<K, false>(&self.params(), horizon, customers, value, out);
    }
}

impl BtydModel for BgNbdModel {
    const NAME: &'static str = "BG/NBD";
    const PARAM_NAMES: [&'static str; 4] = ["r", "alpha", "a", "b"];

    fn params(&self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }
}

impl BgNbdModel {
    /// P(X(t) = n): probability that a new customer makes exactly `n` repeat purchases in `(0, t]`.
    pub fn prob_n_purchases(&self, n: u32, t: f64) -> f64 {
        formulas::prob_n_purchases(&self.params(), n, t)
    }
}

/// BG/NBD and MBG/NBD scoring. Conditional expectations are P(alive) times the
/// expectation of a customer alive at T, whose hypergeometric series depends on
/// `(x, T)` only: it (and the discounted sum customer value needs) is evaluated
/// once per distinct `(x, T)`, and the closed-form P(alive) once per row.
pub(crate) fn score_bgnbd<const K: usize, const MODIFIED: bool>(
    p: &[f64; 4],
    horizon: f64,
    customers: &Histories<'_>,
    value: Option<&ValueRequest<'_>>,
    out: Outputs<'_, K>,
) {
    let [r, alpha, a, b] = *p;
    let shift = if MODIFIED { 1.0 } else { 0.0 };
    score_windows(customers, value, out, |h, value, out| {
        let (x, t_x, t_cal) = (h.x, h.t_x, h.t_cal);
        distinct::fill_by_distinct_key(
            h.len(),
            |i| [x[i].to_bits(), t_cal[i].to_bits()],
            |&[x, t_cal]| {
                let (x, t_cal) = (f64::from_bits(x), f64::from_bits(t_cal));
                let w =
                    |t| formulas::expected_while_alive(r + x, alpha + t_cal, a, b + x + shift, t);
                (
                    w(horizon),
                    value.map_or(0.0, |v| discounted_purchases(w, v.clv)),
                )
            },
            |i, &(while_alive, discounted)| {
                let alive = formulas::p_alive_core::<MODIFIED>(p, x[i], t_x[i], t_cal[i]);
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
