//! BTYD models: each a set of per-customer formulas (likelihood with analytic
//! gradient, conditional expectations) and a Params → fit → Model wrapper.

pub mod bgbb;
pub mod bgnbd;
pub mod gamma_gamma;
pub mod mbgnbd;
pub mod paretonbd;
pub mod sbg;
pub(crate) mod special;
