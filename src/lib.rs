#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! # custinsight
//!
//! Customer intelligence for Rust services: who our customers really are,
//! where and how we meet them, what works for whom, where each customer is in
//! their lifecycle and what they are worth, which groups they form, and which
//! change wins in which group.
//!
//! The crate follows one loop, and its modules are the steps:
//!
//! ```text
//!  raw records ──► unified customers ──► touchpoints & journeys ──► lifecycle & value ──► segments ──► experiments per segment
//!  (ingest)         (identity)            (touchpoints)               (lifecycle)           (segment)     (experiment)
//!       ▲──────────────────────────── what won, in which segment, feeds the next round ◄──────────────────────┘
//! ```
//!
//! [`round`] runs the loop as one call per round ([`Round::run`](round::Round::run)),
//! from a folder of source files to a decision per segment and the next
//! assignment, and continues from the previous round's serde state. Every
//! per-customer result is indexed by the base's customer index (a `u32`,
//! with [`CustomerBase::index_of`](store::CustomerBase::index_of) for ids),
//! and one grouping type, [`Segments`](segment::segments::Segments), is what
//! every module that works per group accepts.
//!
//! | module | what it does |
//! |---|---|
//! | [`records`] | the typed domain: [`CustomerId`](records::CustomerId), [`Customer`](records::Customer) / [`Profile`](records::Profile) with redacting PII, [`Consent`](records::Consent), [`Transaction`](records::Transaction), [`Touchpoint`](records::Touchpoint), [`Money`](records::Money) |
//! | [`store`] | [`CustomerBase`](store::CustomerBase): columnar customers, transactions and touchpoints with dense `u32` indices and time-ordered histories |
//! | [`ingest`] | CSV and JSON Lines readers that validate every row and account for all of them ([`IngestReport`](ingest::IngestReport)) |
//! | [`lifecycle`] | BTYD summaries, BG/NBD · MBG/NBD · Pareto/NBD · BG/BB · sBG fits, P(alive), expected purchases, Gamma–Gamma spend, CLV, goodness of fit, lifecycle stages with plays, RFM segments |
//! | [`touchpoints`] | sessions and journeys, path statistics, touchpoint inventory and effectiveness per group, coverage gaps, timing, engagement ladder and warm leads, journey stages and content fit, channel preference with consent, heuristic / exact Markov / Shapley attribution |
//! | [`identity`] | identity resolution: cleansing, blocking, comparison levels, Fellegi–Sunter with EM and term-frequency adjustment, clustering into customers, golden records, incremental resolution and a zero-config mode, applied to the data ([`CustomerIdentity`](identity::CustomerIdentity)) |
//! | [`experiment`] | GrowthBook-compatible assignment; mergeable statistics per variant × segment; Welch / z / relative-lift / CUPED / sequential / Bayesian evaluation, SRM, Holm/BH, per-segment verdicts and heterogeneity; power; Thompson-sampling allocation |
//! | [`segment`] | per-customer feature matrices and transforms, fast k-means on linfa's traits, choosing k, named segment profiles, persisted models with stable refits, and [`Segments`](segment::segments::Segments) |
//! | [`target`] | purchase propensity (penalised logistic regression, gradient-boosted trees), score evaluation (ROC-AUC, PR-AUC, log-loss, Brier, calibration error, lift and gain by decile, precision at k), isotonic and Platt calibration, uplift by T-, X- and DR-learners with Qini and AUUC, the profitable-contact policy, training sets as of cutoffs, and the next best action with its reason and holdout |
//! | [`round`] | the loop: identity → base → lifecycle → features → segments → evaluation per segment → decisions → next assignment, with persisted state |
//! | [`basket`] | baskets of items and their frequent itemsets (all, closed, maximal) by Eclat |
//! | [`synth`] | a seeded synthetic population with its ground truth, for examples, tests and benchmarks |
//!
//! Identity resolution's matching and entities build on these.
//!
//! ## How a module is entered
//!
//! - **Settings** are a `…Params` struct: `Default` (the documented
//!   defaults), serde with defaults for missing fields (so a settings file
//!   names only what it changes), and `check()`, which rejects a bad value
//!   with [`Error::InvalidParameter`] (its name, the value, what is allowed)
//!   before any data is touched. What can only be checked against the data
//!   (a control index against the variants) is in `check_for(…)`, which
//!   calls `check()` first. Seeds are settings
//!   ([`SynthParams::seed`](synth::SynthParams::seed),
//!   [`KMeansParams::seed`](segment::kmeans::KMeansParams::seed)).
//! - **Choices are named.** A public function takes no bare `bool`, count or
//!   threshold that a reader could not read at the call site: a choice is an
//!   enum ([`OpenJourneys`](touchpoints::paths::OpenJourneys),
//!   [`MailboxRules`](identity::normalize::MailboxRules)) and a number is a
//!   settings field ([`PathStatsParams`](touchpoints::paths::PathStatsParams)).
//! - **Models** are fitted from their settings and return a fitted type with
//!   the model's questions as methods:
//!   [`BgNbdParams`](lifecycle::bgnbd::BgNbdParams)`::fit` → p_alive,
//!   expected purchases and [`score`](lifecycle::btyd::BtydModel::score);
//!   [`KMeansParams`](segment::kmeans::KMeansParams)`::fit` → `predict`;
//!   [`SegmentationParams`](segment::model::SegmentationParams)`::fit` →
//!   [`SegmentationModel`](segment::model::SegmentationModel) with `predict`
//!   and `update`. linfa's `Fit` and `Predict` are implemented where linfa has them.
//! - **Analyses that are not models** (attribution, evaluation, power,
//!   allocation) are one function taking the data and the settings, e.g.
//!   [`evaluate`](experiment::evaluate::evaluate)`(&stats, &params)`.
//! - **Errors** are [`Error`] variants a caller can match: a length mismatch
//!   with both lengths, empty input, a non-finite value with its row and
//!   field, an in-memory row (an observation, a unit) that cannot be used
//!   with its row, field and reason, too few rows with the minimum, an index
//!   out of range, a repeated key, missing columns, mixed currencies, no
//!   convergence with the
//!   iterations and gradient norm, a model the data cannot identify, a
//!   rejected row with its line, field and reason.
//!
//! ## Principles
//!
//! - **Nothing is lost.** Every input row is accepted or rejected with its
//!   line, field and reason; `accepted + rejected == rows`.
//! - **Errors, not panics.** Every fallible function returns [`Result`] with a
//!   typed [`Error`] carrying context.
//! - **Deterministic.** Randomised steps take a seed and a portable RNG
//!   (ChaCha8); results do not depend on the thread count.
//! - **Parallel by default, optional.** The `parallel` feature (default) uses
//!   rayon; results are identical without it.
//! - **Privacy by type.** PII redacts itself in `Debug`; consent is opt-in
//!   and checked with [`CustomerBase::allows`](store::CustomerBase::allows).
//!
//! ## Example
//!
//! ```
//! use custinsight::ingest::{Format, IngestOptions, Loader};
//!
//! let csv = "customer_id,order_id,timestamp,amount,currency,channel\n\
//!            00042,o-1,2024-01-05,19.90,EUR,web\n\
//!            00042,o-2,2024-02-30,5.00,EUR,store\n";
//! let mut loader = Loader::new(IngestOptions::default());
//! let report = loader.transactions(Format::Csv, csv.as_bytes(), "orders.csv")?;
//! assert_eq!((report.rows, report.accepted, report.rejected), (2, 1, 1));
//! assert_eq!(report.rejections[0].line, 3);
//! assert_eq!(report.rejections[0].field, "timestamp");
//!
//! let (base, _) = loader.finish()?;
//! let customer = base.index_of("00042").expect("loaded");
//! assert_eq!(base.transaction_range(customer).len(), 1);
//! # Ok::<(), custinsight::Error>(())
//! ```

pub mod basket;
pub mod error;
pub mod experiment;
pub mod identity;
pub mod ingest;
pub mod lifecycle;
mod parallel;
pub mod records;
#[cfg(feature = "report")]
pub mod report;
pub mod round;
pub mod segment;
pub mod stats;
pub mod store;
pub mod synth;
pub mod target;
pub mod touchpoints;

pub use error::{Error, Result};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The types most programs need.
pub mod prelude {
    pub use crate::error::{Error, Result};
    pub use crate::records::{
        Channel, Consent, Currency, Customer, CustomerId, Money, Profile, Purpose, Touchpoint,
        TouchpointKind, Transaction,
    };
    pub use crate::store::CustomerBase;
}
