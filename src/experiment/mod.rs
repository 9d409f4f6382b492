//! Controlled experiments: the "experiment per segment, learn what wins
//! where" half of the loop.
//!
//! | question | module |
//! |---|---|
//! | who sees which variant, reproducibly, in which layer, with holdouts, targeting and consent? | [`assign`] |
//!
//! Evaluation (mergeable statistics, frequentist, CUPED, sequential and
//! Bayesian tests, guardrails, per-segment effects) builds on these.

pub mod assign;
