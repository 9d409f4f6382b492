#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! # custinsight
//!
//! Customer intelligence for Rust services.

pub mod error;
pub mod ingest;
pub mod records;
pub mod store;
pub mod synth;

pub use error::{Error, Result};

/// The types most programs need.
pub mod prelude {
    pub use crate::error::{Error, Result};
    pub use crate::records::{
        Channel, Consent, Currency, Customer, CustomerId, Money, Profile, Purpose, Touchpoint, TouchpointKind,
        Transaction,
    };
    pub use crate::store::CustomerBase;
}
