#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! # custinsight
//!
//! Customer intelligence for Rust services.

pub mod error;
pub mod records;

pub use error::{Error, Result};
