//! Lifecycle and customer value: who is still buying, how much they will buy,
//! what they are worth, and where each customer stands in their lifecycle.
//!
//! Non-contractual customers ("buy till you die", BTYD) are summarised by
//! their repeat-purchase frequency `x`, recency `t_x` and age `T`
//! ([`summary`]); probabilistic models ([`models`]) fitted on those
//! summaries give each customer's probability of still being alive, expected
//! future purchases and, with a spend model, customer lifetime value.

pub mod btyd;
pub mod customers;
pub mod diagnostics;
pub mod discrete;
mod distinct;
mod fit;
pub mod models;
pub mod optim;
pub mod retention;
pub mod rfm;
pub mod spend;
pub mod stage;
pub mod summary;
