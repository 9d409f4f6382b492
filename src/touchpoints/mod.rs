//! Touchpoints and journeys: where and how we meet customers, what each
//! touchpoint does for whom, and how much credit each channel deserves.
//!
//! (Module documentation is completed as the submodules land.)

pub mod attribution;
pub mod effectiveness;
pub mod engagement;
pub mod journey;
pub mod paths;
pub mod preference;
pub mod stage;
