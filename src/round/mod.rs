//! The loop, as one call per round: from source files to a decision per
//! segment and the next assignment, and on to the next round.
//!
//! ```text
//!  files ─► resolve ─► base ─► lifecycle & value ─► features ─► segments ─► evaluate last assignment ─► decide ─► assign next
//!   (Inputs)  (identity)          (lifecycle)                     (segment)   (experiment)                (decide)    (experiment)
//!      ▲───────────────────── RoundState: identity, models, segments, decisions, assignment ◄──────────────────────────┘
//! ```
//!
//! A round has one time, `as_of`, for every step: events after it do not
//! count, features and lifecycle describe the customers at that moment, and
//! consent is checked then. [`Round::run`] takes the round's [`Inputs`] (read
//! with [`Inputs::read_dir`] from a folder of `source_records`,
//! `customers`, `transactions`, `touchpoints`, `consents` and, after an
//! experiment ran, `experiment` files), the [`RoundParams`], and the previous
//! round's [`RoundState`] (none for the first):
//!
//! 1. **identity**: the source records are resolved into customers (the
//!    first round), or new records attach to the existing customers, whose ids
//!    stay ([`CustomerIdentity`](crate::identity::CustomerIdentity)); every
//!    event moves to its customer;
//! 2. **lifecycle**: BTYD and spend models fitted on the buyers; P(alive),
//!    expected purchases, CLV and a stage for every customer;
//! 3. **features** per customer as of `as_of`, with the lifecycle columns;
//! 4. **segments**: k-means on where and how we meet each customer (k chosen
//!    by the silhouette in the first round), refitted in place later so
//!    segment ids and names keep their meaning;
//! 5. **evaluation**: the previous assignment's outcomes per segment (by the
//!    segment each unit was assigned in), CUPED on pre-period revenue, Holm
//!    over the segments;
//! 6. **decisions**: per segment ship, lean, keep testing or no data, with
//!    the reason ([`Decision`]);
//! 7. **assignment**: the next experiment's variant for every customer,
//!    with each segment's weights, deterministic hashing, consent and the
//!    design's holdout.
//!
//! Every per-customer result ([`Round::lifecycle`], [`Round::features`],
//! [`Round::segments`], [`Round::assignment`]) is indexed by the base's
//! customer index. [`RoundState`] is serde data: save it, and the next
//! night's round continues from it. Between rounds, a service scores one
//! customer from their own events with the state's [`ScoringBundle`]
//! (lifecycle, segment and next variant, as the round would have given).
//!
//! ```
//! use custinsight::ingest::IngestOptions;
//! use custinsight::round::{Inputs, Round, RoundParams};
//! use custinsight::synth::{Population, SynthParams};
//!
//! // A folder of dirty multi-source files, as a nightly job finds it.
//! let pop = Population::generate(&SynthParams::with_customers(2_000).with_seed(3))?;
//! let dir = std::env::temp_dir().join("custinsight-round-doc");
//! pop.write_sources(&dir, &pop.full_view())?;
//!
//! let params = RoundParams::default();
//! let inputs = Inputs::read_dir(&dir, &IngestOptions::default())?;
//! let round = Round::run(inputs, pop.observation_end, &params, None)?;
//! assert_eq!(round.segments.len(), round.base.n_customers());
//! for d in &round.decisions {
//!     println!("{:<40} {} {:?}: {}", d.name, d.kind, d.weights, d.reason);
//! }
//! let saved = serde_json::to_string(&round.state)?; // what tomorrow starts from
//! # let _ = saved;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decide;
mod export;
mod inputs;
mod params;
mod run;
mod score;
mod state;
mod target;

pub use decide::{Decision, DecisionEffect, DecisionKind};
pub use inputs::{FileReport, INPUT_FILES, Inputs};
pub use params::{
    DecisionParams, ExperimentPlan, RoundParams, SegmentParams, TargetingPlan, VariantAction,
};
pub use run::{IdentityStep, Round, RoundEvaluation, SegmentSource, StepTime, pre_period_revenue};
pub use score::{CustomerScore, NextVariant, ScoringBundle};
pub use state::{Assigned, RoundState};
pub use target::Targeting;
