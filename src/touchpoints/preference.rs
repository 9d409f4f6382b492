//! preference (in progress)
