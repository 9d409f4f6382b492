//! Who to target, with what: purchase propensity, how good a score is, how
//! to trust its probabilities, and whom an action changes.
//!
//! A campaign starts from two questions. *Who is about to buy?* A propensity
//! model scores each customer with P(purchase in the next h days | what we
//! know today), so the budget goes to the top of the ranking instead of to
//! everyone. *Can the score be read as a probability?* Expected conversions,
//! expected incremental value and a contact's break-even all multiply a
//! probability by money; a score that says 30 % where 20 % buy misprices
//! every decision, so scores are calibrated on held-out rows.
//!
//! - [`logistic`]: penalised logistic regression on standardised features
//!   (linfa-logistic), scikit-learn's `LogisticRegression` to 1e-4;
//! - [`metrics`]: ROC-AUC, PR-AUC, log-loss, Brier score, expected
//!   calibration error with its reliability table, lift and cumulative gain
//!   by decile, precision at the top k, all with scikit-learn's definitions;
//! - [`calibrate`]: isotonic (pool-adjacent-violators) and Platt calibration,
//!   as scikit-learn's `CalibratedClassifierCV` fits them;
//! - [`boost`]: gradient-boosted trees (LightGBM's histogram method) for
//!   0/1 and numeric outcomes, and [`propensity`], either model persisted;
//! - [`uplift`]: whom an action changes, by T-, X- and DR-learners on
//!   experiment rows, scored by scikit-uplift's Qini and AUUC, and turned
//!   into whom to contact by expected incremental profit;
//! - [`training`]: training sets as of cutoffs, without leakage, and the
//!   scoring set of today's customers on the same footing, with what the
//!   other analyses know at each cutoff ([`context`]: lifecycle, engagement,
//!   journey stage, channel preference, segment);
//! - [`nba`]: the next best action per customer, with its reason and a
//!   holdout to measure it by. The loop's rounds use it
//!   ([`crate::round::TargetingPlan`]): once an experiment's outcomes are in,
//!   the next assignment follows the decisions.
//!
//! The synthetic population carries the truth these are checked against:
//! who bought after the data end and the best prediction of it from each
//! history ([`crate::synth::Population::purchase_probability_from_history`]),
//! and every customer's individual treatment effect
//! ([`crate::synth::Truth::treatment_effect`]).
//!
//! ```
//! use custinsight::target::calibrate::{CalibrationMethod, Calibrator};
//! use custinsight::target::logistic::{LogisticModel, LogisticParams};
//! use custinsight::target::metrics::{evaluate_probabilities, roc_auc};
//! use ndarray::array;
//!
//! // Days since the last order and orders in the last year; who bought next month.
//! let x = array![[5.0, 9.0], [40.0, 2.0], [12.0, 6.0], [90.0, 1.0], [3.0, 4.0], [60.0, 3.0]];
//! let bought = [true, false, true, false, false, true];
//! let names = ["recency_days".to_string(), "orders_365d".to_string()];
//! let model = LogisticModel::fit(&LogisticParams::default(), x.view(), &bought, &names)?;
//! let scores = model.predict_proba(x.view())?;
//! assert!(roc_auc(&scores, &bought)? > 0.5);
//!
//! let calibrator = Calibrator::fit(CalibrationMethod::Isotonic, &scores, &bought)?;
//! let calibrated = calibrator.calibrate_all(&scores);
//! let report = evaluate_probabilities(&calibrated, &bought)?;
//! assert_eq!(report.positives, 3);
//! # Ok::<(), custinsight::Error>(())
//! ```
//!
//! References: Hosmer, Lemeshow & Sturdivant, *Applied Logistic Regression*
//! (3rd ed., 2013); Fawcett, "An introduction to ROC analysis" (2006);
//! Naeini, Cooper & Hauskrecht, "Obtaining well calibrated probabilities
//! using Bayesian binning" (AAAI 2015); Niculescu-Mizil & Caruana,
//! "Predicting good probabilities with supervised learning" (ICML 2005).

pub mod boost;
pub mod calibrate;
mod checks;
pub mod context;
pub mod logistic;
pub mod metrics;
pub mod nba;
pub mod propensity;
pub mod training;
pub mod uplift;
