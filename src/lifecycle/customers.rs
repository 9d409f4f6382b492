//! Lifecycle and value for a whole customer base, aligned with it.
//!
//! [`LifecycleParams::fit`] summarises every customer of a
//! [`CustomerBase`] as of one moment, fits BG/NBD and Gamma–Gamma on the
//! buyers, and gives every customer, by the base's customer index, their
//! summary, P(alive), expected purchases, CLV and lifecycle stage with its
//! play. Nobody is dropped from the index:
//!
//! - customers who have not bought by `as_of` (prospects, or buyers whose
//!   first purchase comes later) are stage [`Stage::Prospect`], with their
//!   summary and scores missing (`NaN`);
//! - customers with no event at all by `as_of` (first seen later) have no
//!   stage (`None`), and are counted in [`CustomerLifecycle::not_yet_seen`].
//!
//! The fitted models are plain serde data ([`LifecycleModels`]); the next
//! round, or a service scoring one customer, re-scores with them
//! ([`LifecycleModels::score`]) without refitting.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::bgnbd::{BgNbdModel, BgNbdParams};
use super::btyd::BtydModel;
use super::gamma_gamma::{ClvParams, GammaGammaModel, GammaGammaParams};
use super::rfm::{RfmScores, RfmSegment};
use super::stage::{Stage, StageAssignment, StageInput, StageParams};
use super::summary::{Histories, Period, Triples};
use crate::error::{Error, Result};
use crate::records::AMOUNT_SCALE;
use crate::segment::segments::Segments;
use crate::store::{CustomerBase, History, to_micros};

/// How lifecycle and value are computed for a base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleParams {
    /// The unit of the summaries.
    pub period: Period,
    /// Horizon of expected purchases, in periods (default 30: a month in days).
    pub horizon: f64,
    /// BG/NBD fitting.
    pub fit: BgNbdParams,
    /// Gamma–Gamma fitting.
    pub spend: GammaGammaParams,
    /// Customer lifetime value (horizon, discounting, margin), in periods.
    pub clv: ClvParams,
    /// Stage thresholds.
    pub stages: StageParams,
}

impl Default for LifecycleParams {
    fn default() -> Self {
        LifecycleParams {
            period: Period::Day,
            horizon: 30.0,
            fit: BgNbdParams::default(),
            spend: GammaGammaParams::default(),
            clv: ClvParams::default(),
            stages: StageParams::default(),
        }
    }
}

impl LifecycleParams {
    /// Checks every part.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from the parts' checks or a horizon that
    /// is not finite and positive.
    pub fn check(&self) -> Result<()> {
        if !(self.horizon.is_finite() && self.horizon > 0.0) {
            return Err(Error::param(
                "horizon",
                self.horizon,
                "must be finite and > 0",
            ));
        }
        self.fit.check()?;
        self.spend.check()?;
        self.clv.check()?;
        self.stages.check()
    }

    /// Summarises `base` as of `as_of`, fits the models on the buyers and
    /// scores every customer.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from [`check`](Self::check);
    /// [`Error::MixedCurrencies`] for transactions in more than one currency;
    /// errors of the BG/NBD fit (e.g. [`Error::NotIdentifiable`] when nobody
    /// repeats). A Gamma–Gamma fit that fails leaves CLV missing (its error
    /// is kept in [`LifecycleModels::spend_error`]) rather than failing the whole.
    pub fn fit(&self, base: &CustomerBase, as_of: Timestamp) -> Result<CustomerLifecycle> {
        self.check()?;
        let summary = AlignedSummary::of(base, self.period, as_of)?;
        let (_, histories) = summary.buyers();
        let mut triples = Triples::default();
        for i in 0..histories.x.len() {
            triples.add(histories.x[i], histories.t_x[i], histories.t_cal[i], 1.0);
        }
        let btyd = self.fit.fit(&triples)?;
        let (spend, spend_error) = match self
            .spend
            .fit_values(&histories.x, &histories.monetary_value)
        {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let models = LifecycleModels {
            period: self.period,
            horizon: self.horizon,
            btyd,
            spend,
            spend_error,
            clv: self.clv,
            stages: self.stages.clone(),
        };
        models.score_summary(summary, as_of)
    }
}

/// The fitted lifecycle models and how they score: persist them with a
/// round and re-score any base (or one customer) later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleModels {
    /// The unit of the summaries the models were fitted on.
    pub period: Period,
    /// Horizon of expected purchases, in periods.
    pub horizon: f64,
    /// The purchase model.
    pub btyd: BgNbdModel,
    /// The spend model (`None` when it could not be fitted).
    pub spend: Option<GammaGammaModel>,
    /// Why the spend model could not be fitted, if it could not.
    pub spend_error: Option<String>,
    /// How CLV is computed.
    pub clv: ClvParams,
    /// Stage thresholds.
    pub stages: StageParams,
}

impl LifecycleModels {
    /// Scores every customer of `base` as of `as_of` with these models.
    ///
    /// # Errors
    /// [`Error::MixedCurrencies`] for transactions in more than one currency.
    pub fn score(&self, base: &CustomerBase, as_of: Timestamp) -> Result<CustomerLifecycle> {
        let summary = AlignedSummary::of(base, self.period, as_of)?;
        self.score_summary(summary, as_of)
    }

    /// Scores one customer from their [`History`] (from a base, or an
    /// [`OwnedHistory`](crate::store::OwnedHistory) built from their
    /// records) as of `as_of`, exactly as [`score`](Self::score) scores them
    /// in a base, without building one.
    ///
    /// # Errors
    /// [`Error::MixedCurrencies`] for transactions in more than one currency;
    /// [`Error::InvalidValue`] for an `as_of` outside the calendar.
    pub fn score_one(&self, history: &History<'_>, as_of: Timestamp) -> Result<LifecycleScore> {
        history.currency()?;
        let one = Cutoff::new(self.period, as_of)?.summarise(history);
        let Some([x, t_x, t_cal, m]) = one.buyer else {
            let stage = one.seen.then(|| self.stage_of(None));
            return Ok(LifecycleScore {
                x: f64::NAN,
                t_x: f64::NAN,
                t_cal: f64::NAN,
                monetary_value: f64::NAN,
                p_alive: f64::NAN,
                expected_purchases: f64::NAN,
                clv: f64::NAN,
                stage,
            });
        };
        let histories = Histories {
            x: &[x],
            t_x: &[t_x],
            t_cal: &[t_cal],
            monetary_value: Some(&[m]),
        };
        let (mut alive, mut expected, mut value) = ([0.0], [0.0], [0.0]);
        self.score_buyers(&histories, [&mut alive, &mut expected, &mut value])?;
        let stage = self.stage_of(Some([x, t_x, t_cal, alive[0], expected[0]]));
        Ok(LifecycleScore {
            x,
            t_x,
            t_cal,
            monetary_value: m,
            p_alive: alive[0],
            expected_purchases: expected[0],
            clv: value[0],
            stage: Some(stage),
        })
    }

    /// P(alive), expected purchases and CLV (`NaN` without a spend model)
    /// of the buyers in `histories`.
    fn score_buyers(&self, histories: &Histories<'_>, out: [&mut [f64]; 3]) -> Result<()> {
        let [alive, expected, value] = out;
        match &self.spend {
            Some(spend) => self.btyd.score_with_clv_into(
                histories,
                self.horizon,
                spend,
                &self.clv,
                [alive, expected, value],
            ),
            None => {
                value.fill(f64::NAN);
                self.btyd
                    .score_into(histories, self.horizon, [alive, expected])
            }
        }
    }

    /// The stage of a buyer (`[x, t_x, T, P(alive), expected purchases]`),
    /// or of a prospect (`None`), with its play and reason.
    fn stage_of(&self, buyer: Option<[f64; 5]>) -> StageAssignment {
        let input = match buyer {
            Some([x, t_x, t_cal, p_alive, expected_purchases]) => StageInput {
                x: Some(x),
                t_x,
                t_cal,
                p_alive,
                expected_purchases,
                horizon: self.horizon,
            },
            None => StageInput {
                x: None,
                t_x: 0.0,
                t_cal: 0.0,
                p_alive: f64::NAN,
                expected_purchases: f64::NAN,
                horizon: self.horizon,
            },
        };
        self.stages.assign(&input, self.period)
    }

    fn score_summary(
        &self,
        summary: AlignedSummary,
        as_of: Timestamp,
    ) -> Result<CustomerLifecycle> {
        let n = summary.x.len();
        let (rows, owned) = summary.buyers();
        let histories = Histories::from(&owned);
        let m = rows.len();
        let (mut alive, mut expected, mut value) = (vec![0.0; m], vec![0.0; m], vec![0.0; m]);
        self.score_buyers(&histories, [&mut alive, &mut expected, &mut value])?;
        let mut p_alive = vec![f64::NAN; n];
        let mut expected_purchases = vec![f64::NAN; n];
        let mut clv = vec![f64::NAN; n];
        for (k, &c) in rows.iter().enumerate() {
            p_alive[c] = alive[k];
            expected_purchases[c] = expected[k];
            clv[c] = value[k];
        }
        let mut stage = Vec::with_capacity(n);
        let mut not_yet_seen = 0;
        let mut prospects = 0;
        for c in 0..n {
            stage.push(if !summary.seen[c] {
                not_yet_seen += 1;
                None
            } else if summary.x[c].is_nan() {
                prospects += 1;
                Some(Stage::Prospect)
            } else {
                Some(
                    self.stage_of(Some([
                        summary.x[c],
                        summary.t_x[c],
                        summary.t_cal[c],
                        p_alive[c],
                        expected_purchases[c],
                    ]))
                    .stage,
                )
            });
        }
        Ok(CustomerLifecycle {
            as_of,
            models: self.clone(),
            x: summary.x,
            t_x: summary.t_x,
            t_cal: summary.t_cal,
            monetary_value: summary.monetary_value,
            p_alive,
            expected_purchases,
            clv,
            stage,
            prospects,
            not_yet_seen,
        })
    }
}

/// One customer's lifecycle and value ([`LifecycleModels::score_one`]);
/// missing values (`NaN`) and stages as in [`CustomerLifecycle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleScore {
    /// Repeat purchase periods `x` (`NaN`: no purchase by `as_of`).
    #[serde(alias = "frequency")]
    pub x: f64,
    /// Periods from the first to the last purchase `t_x`.
    #[serde(alias = "recency")]
    pub t_x: f64,
    /// Periods from the first purchase to `as_of` (`T`).
    #[serde(alias = "age")]
    pub t_cal: f64,
    /// Mean amount of the repeat purchase periods (0 without repeats).
    pub monetary_value: f64,
    /// Probability of being alive.
    pub p_alive: f64,
    /// Expected purchases over the models' horizon.
    pub expected_purchases: f64,
    /// Customer lifetime value (`NaN` without a spend model).
    pub clv: f64,
    /// The stage, its play and the reason (`None`: no event by `as_of`).
    pub stage: Option<StageAssignment>,
}

/// Every customer's lifecycle and value as of one moment, by the base's
/// customer index (see the module docs for what is missing when).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerLifecycle {
    /// The moment everything describes.
    pub as_of: Timestamp,
    /// The models that scored.
    pub models: LifecycleModels,
    /// Repeat purchase periods `x` (`NaN`: no purchase by `as_of`).
    #[serde(alias = "frequency")]
    pub x: Vec<f64>,
    /// Periods from the first to the last purchase `t_x`.
    #[serde(alias = "recency")]
    pub t_x: Vec<f64>,
    /// Periods from the first purchase to `as_of` (`T`).
    #[serde(alias = "age")]
    pub t_cal: Vec<f64>,
    /// Mean amount of the repeat purchase periods (0 without repeats).
    pub monetary_value: Vec<f64>,
    /// Probability of being alive.
    pub p_alive: Vec<f64>,
    /// Expected purchases over the models' horizon.
    pub expected_purchases: Vec<f64>,
    /// Customer lifetime value (`NaN` without a spend model).
    pub clv: Vec<f64>,
    /// Lifecycle stage (`None`: no event at all by `as_of`).
    pub stage: Vec<Option<Stage>>,
    /// Customers seen but without a purchase by `as_of` (stage prospect).
    pub prospects: usize,
    /// Customers without any event by `as_of` (no stage).
    pub not_yet_seen: usize,
}

/// Why customers have no stage, in [`CustomerLifecycle::stage_segments`].
pub const NOT_YET_SEEN: &str = "first seen after the as-of time";

impl CustomerLifecycle {
    /// Number of customers (the base's).
    pub fn len(&self) -> usize {
        self.stage.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.stage.is_empty()
    }

    /// Customers per stage, in [`Stage::ALL`] order (customers without a stage not counted).
    pub fn stage_counts(&self) -> [usize; 6] {
        let mut counts = [0; 6];
        for s in self.stage.iter().flatten() {
            counts[*s as usize] += 1;
        }
        counts
    }

    /// The stage of one customer with the evidence that decided it and the
    /// play (`None` for a customer without a stage or out of range).
    pub fn explain(&self, customer: u32) -> Option<StageAssignment> {
        let c = customer as usize;
        let stage = (*self.stage.get(c)?)?;
        let buyer = [
            self.x[c],
            self.t_x[c],
            self.t_cal[c],
            self.p_alive[c],
            self.expected_purchases[c],
        ];
        Some(
            self.models
                .stage_of((stage != Stage::Prospect).then_some(buyer)),
        )
    }

    /// The stages as [`Segments`] (one segment per stage, in lifecycle
    /// order; customers first seen after `as_of` left out).
    ///
    /// # Errors
    /// Never in practice (stage names are distinct).
    pub fn stage_segments(&self) -> Result<Segments> {
        Segments::from_stages(&self.stage, NOT_YET_SEEN)
    }

    /// RFM scores of the buyers as [`Segments`] (one segment per
    /// [`RfmSegment`], in its order; customers without a purchase by `as_of`
    /// left out).
    ///
    /// # Errors
    /// Errors of [`RfmScores::from_values`].
    pub fn rfm_segments(&self) -> Result<Segments> {
        let days = match self.models.period {
            Period::Day => 1.0,
            Period::Week => 7.0,
        };
        let buyers: Vec<usize> = (0..self.len()).filter(|&c| self.x[c].is_finite()).collect();
        let since: Vec<f64> = buyers
            .iter()
            .map(|&c| (self.t_cal[c] - self.t_x[c]) * days)
            .collect();
        let purchases: Vec<f64> = buyers.iter().map(|&c| self.x[c] + 1.0).collect();
        let spend: Vec<f64> = buyers.iter().map(|&c| self.monetary_value[c]).collect();
        let scores = RfmScores::from_values(&since, &purchases, &spend)?;
        let mut labels = vec![None; self.len()];
        for (&c, seg) in buyers.iter().zip(&scores.segment) {
            labels[c] = RfmSegment::ALL
                .iter()
                .position(|s| s == seg)
                .map(|p| p as u32);
        }
        Segments::from_labels(
            RfmSegment::ALL
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            labels,
            "no purchase by the as-of time",
        )
    }
}

/// Per-customer summaries aligned with a base (`NaN` without a purchase).
struct AlignedSummary {
    x: Vec<f64>,
    t_x: Vec<f64>,
    t_cal: Vec<f64>,
    monetary_value: Vec<f64>,
    /// Whether the customer has any transaction or touchpoint by `as_of`.
    seen: Vec<bool>,
}

impl AlignedSummary {
    /// Lifetimes' summary semantics (see [`summary`](super::summary)) with
    /// events after `as_of` left out and the end in `as_of`'s period.
    fn of(base: &CustomerBase, period: Period, as_of: Timestamp) -> Result<AlignedSummary> {
        super::summary::check_one_currency(base)?;
        let cutoff = Cutoff::new(period, as_of)?;
        let n = base.n_customers();
        let mut s = AlignedSummary {
            x: vec![f64::NAN; n],
            t_x: vec![f64::NAN; n],
            t_cal: vec![f64::NAN; n],
            monetary_value: vec![f64::NAN; n],
            seen: vec![false; n],
        };
        for c in base.customer_indices() {
            let i = c as usize;
            let one = cutoff.summarise(&base.history(c));
            s.seen[i] = one.seen;
            if let Some([x, t_x, t_cal, m]) = one.buyer {
                s.x[i] = x;
                s.t_x[i] = t_x;
                s.t_cal[i] = t_cal;
                s.monetary_value[i] = m;
            }
        }
        Ok(s)
    }

    /// The buyers' rows and their summaries as compact columns.
    fn buyers(&self) -> (Vec<usize>, OwnedHistories) {
        let rows: Vec<usize> = (0..self.x.len())
            .filter(|&c| self.x[c].is_finite())
            .collect();
        let pick = |v: &[f64]| rows.iter().map(|&c| v[c]).collect::<Vec<f64>>();
        let h = OwnedHistories {
            x: pick(&self.x),
            t_x: pick(&self.t_x),
            t_cal: pick(&self.t_cal),
            monetary_value: pick(&self.monetary_value),
        };
        (rows, h)
    }
}

/// The moment a summary describes: events after `cut` (µs) left out, ages
/// measured to the period `end` holding `as_of`.
struct Cutoff {
    period: Period,
    cut: i64,
    end: i64,
}

/// One customer's summary: whether they were seen (any event by the cut)
/// and, for a buyer, `[x, t_x, T, monetary value]`.
struct OneSummary {
    seen: bool,
    buyer: Option<[f64; 4]>,
}

impl Cutoff {
    fn new(period: Period, as_of: Timestamp) -> Result<Cutoff> {
        let end_day = as_of
            .to_zoned(TimeZone::UTC)
            .date()
            .to_zoned(TimeZone::UTC)
            .map_err(|e| Error::value("as_of", as_of.to_string(), e.to_string()))?
            .timestamp()
            .as_second()
            .div_euclid(86_400);
        Ok(Cutoff {
            period,
            cut: to_micros(as_of),
            end: period.of_day(end_day),
        })
    }

    /// Lifetimes' semantics: purchases (refunds left out) grouped by
    /// period; `x` repeat periods, `t_x` first to last, `T` first to the
    /// end, monetary value the mean of the repeat periods' sums.
    fn summarise(&self, history: &History<'_>) -> OneSummary {
        let h = history.until(self.cut);
        let seen = !h.is_empty();
        // (first, last, periods, current sum, repeat sum)
        let mut acc: Option<(i64, i64, u64, f64, f64)> = None;
        for k in 0..h.tx_time.len() {
            if h.tx_refund[k] {
                continue;
            }
            let per = self.period.of_day(h.tx_time[k].div_euclid(86_400_000_000));
            let amount = h.tx_amount[k] as f64 / AMOUNT_SCALE as f64;
            acc = Some(match acc {
                None => (per, per, 1, amount, 0.0),
                Some((f, l, p, cur, rep)) if per == l => (f, l, p, cur + amount, rep),
                Some((f, _, p, cur, rep)) => {
                    (f, per, p + 1, amount, if p > 1 { rep + cur } else { rep })
                }
            });
        }
        let buyer = acc.map(|(first, last, periods, current, mut repeat)| {
            if periods > 1 {
                repeat += current;
            }
            let x = (periods - 1) as f64;
            [
                x,
                (last - first) as f64,
                (self.end - first) as f64,
                if periods > 1 { repeat / x } else { 0.0 },
            ]
        });
        OneSummary { seen, buyer }
    }
}

/// Owned history columns (what [`Histories`] borrows).
struct OwnedHistories {
    x: Vec<f64>,
    t_x: Vec<f64>,
    t_cal: Vec<f64>,
    monetary_value: Vec<f64>,
}

impl<'a> From<&'a OwnedHistories> for Histories<'a> {
    fn from(h: &'a OwnedHistories) -> Histories<'a> {
        Histories {
            x: &h.x,
            t_x: &h.t_x,
            t_cal: &h.t_cal,
            monetary_value: Some(&h.monetary_value),
        }
    }
}
