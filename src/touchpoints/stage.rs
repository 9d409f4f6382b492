//! stage (in progress)
