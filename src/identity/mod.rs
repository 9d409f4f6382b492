//! Identity resolution: one customer behind many records.
//!
//! The same person appears in the web shop, the loyalty program, the call
//! centre and the store, each with its own spelling. Before any analysis the
//! records are cleansed, related records are found across tables and
//! sources, and they are linked to one customer with full provenance.
//!
//! | step | module |
//! |---|---|
//! | source records: an id and raw values per record | [`table`] |
//! | cleansing: one comparable form for names, e-mails, phones, dates, postcodes and free text | [`normalize`] |
//! | how alike are two records' values, on a ladder of agreement levels? | [`compare`] |
//! | how much evidence is that for "same customer": m, u, EM, match weights? | [`fellegi_sunter`] |
//!
//! Blocking, clustering into entities and golden records build on these.

pub mod blocking;
pub mod compare;
pub mod fellegi_sunter;
pub mod normalize;
pub mod prepare;
pub mod table;

pub use table::RecordTable;
