//! engagement (in progress)
