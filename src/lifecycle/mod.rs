//! Lifecycle and customer value: who is still buying, how much they will buy,
//! what they are worth, and where each customer stands in their lifecycle.
//!
//! Non-contractual customers ("buy till you die", BTYD) are summarised by
//! their repeat-purchase frequency `x`, recency `t_x` and age `T`
//! ([`summary`]); probabilistic models fitted on those summaries give each
//! customer's probability of still being alive, expected future purchases
//! and, with a spend model, customer lifetime value. Each model has its own
//! module holding its settings, fitted model, formulas and tests:
//!
//! | module | model | for |
//! |---|---|---|
//! | [`bgnbd`] | BG/NBD (Fader, Hardie & Lee 2005) | purchases at any time |
//! | [`mbgnbd`] | MBG/NBD (Batislam et al. 2007) | as BG/NBD, drop-out possible at the first purchase |
//! | [`paretonbd`] | Pareto/NBD (Schmittlein et al. 1987) | purchases at any time, exponential lifetimes |
//! | [`bgbb`] | BG/BB (Fader, Hardie & Shang 2010) | discrete purchase occasions |
//! | [`sbg`] | shifted beta-geometric (Fader & Hardie 2007) | subscriptions (contractual) |
//! | [`gamma_gamma`] | Gamma–Gamma (Fader & Hardie 2013) | spend per purchase, customer lifetime value |
//!
//! The three transaction models share [`btyd`]: their fitting settings
//! ([`btyd::BtydParams`]) and the [`btyd::BtydModel`] trait through which
//! they score. [`customers`] scores and stages a whole customer base.

pub mod bgbb;
pub mod bgnbd;
pub mod btyd;
pub mod customers;
pub mod diagnostics;
mod distinct;
mod fit;
pub mod gamma_gamma;
pub mod mbgnbd;
pub mod optim;
pub mod paretonbd;
pub mod rfm;
pub mod sbg;
pub(crate) mod special;
pub mod stage;
pub mod summary;
