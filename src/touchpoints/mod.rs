//! Touchpoints and journeys: where and how we meet customers, what each
//! touchpoint does for whom, and how much credit each channel deserves.
//!
//! A **customer journey** is the set of all touchpoints between a customer
//! and the business (Lemon & Verhoef 2016): ads seen, mails clicked, visits,
//! product views, store visits, calls, complaints, purchases. This module
//! turns the touchpoints of a [`CustomerBase`](crate::store::CustomerBase)
//! into answers:
//!
//! | question | module |
//! |---|---|
//! | how do touchpoints group into visits and into journeys that end in a purchase? | [`journey`] |
//! | which paths do customers take, how long are they, where do they lead? | [`paths`] |
//! | where do we meet customers, how often, what does each touchpoint achieve and cost, where does dissatisfaction come from, which touchpoints matter for which group, whom do we not reach, when do customers interact? | [`effectiveness`] |
//! | how far up the engagement ladder is each customer, and who is a warm lead? | [`engagement`] |
//! | where is each customer in their journey, and does our content fit that stage? | [`journey_stage`] |
//! | through which channel and at what time does each customer prefer to be contacted (with consent)? | [`preference`] |
//! | how much credit does each channel deserve for the conversions? | [`attribution`] |
//!
//! Groups are any [`Segments`](crate::segment::segments::Segments) of the
//! base: segments found by k-means, RFM cells, lifecycle stages, personas or a
//! user's own column.
//!
//! ```
//! use custinsight::synth::{Population, SynthParams};
//! use custinsight::touchpoints::attribution::{markov, MarkovParams};
//! use custinsight::touchpoints::journey::{JourneyParams, Journeys};
//! use custinsight::touchpoints::paths::{OpenJourneys, PathTable};
//!
//! let pop = Population::generate(&SynthParams::with_customers(500).with_seed(1))?;
//! let journeys = Journeys::build(&pop.base, &JourneyParams::default())?;
//! let paths = PathTable::from_journeys(&journeys, &pop.base, OpenJourneys::NotConverting)?;
//! let credit = markov(&paths, &MarkovParams { order: 2 })?;
//! // Every conversion is credited to some channel.
//! assert!((credit.credits.total_conversions() - paths.total_conversions()).abs() < 1e-6);
//! # Ok::<(), custinsight::Error>(())
//! ```

pub mod attribution;
pub mod effectiveness;
pub mod engagement;
mod events;
pub mod journey;
pub mod journey_stage;
pub mod paths;
pub mod preference;
mod time;
