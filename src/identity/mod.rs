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
//! | each used column cleansed by kind and dictionary-encoded, with term counts | [`prepare`] |
//! | which pairs are worth comparing: key rules, phonetic keys, sorted neighbourhood | [`blocking`] |
//! | how alike are two records' values, on a ladder of agreement levels? | [`compare`] |
//! | how much evidence is that for "same customer": m, u, EM, match weights? | [`fellegi_sunter`] |
//! | matched pairs into entities (resolved customers), with size and conflict guards, unlinking and incremental links | [`cluster`] |
//! | one golden record per entity by survivorship rules, every value with its source record | [`golden`] |
//! | the settings of a linkage, as JSON | [`settings`] |
//! | the whole pipeline, batch and incremental | [`resolve`] |
//! | zero-config mode: settings from a profile of the records | [`auto`] |
//! | the resolution applied to the data: a base of resolved customers, consent merged, ids both ways | [`customers`] |
//!
//! Source records arrive through [`ingest::source_records`](crate::ingest::source_records),
//! one table per source system; events loaded with a `source` belong to the
//! record `source:key`. [`CustomerIdentity`] resolves the records and applies
//! the result to the events (see [`customers`]). To work with the matching
//! itself, a new user starts with zero-config mode, [`auto::resolve_auto`]
//! (or [`auto::auto_settings`] to read and refine the settings, then
//! [`resolve::Resolver::fit`]):
//!
//! ```
//! use custinsight::identity::auto::resolve_auto;
//! use custinsight::synth::{Population, SynthParams};
//!
//! // Source records of 2,000 synthetic customers, some copied dirty into other systems.
//! let population = Population::generate(&SynthParams::with_customers(2_000).with_seed(1))?;
//! let records = custinsight::synth::record_table(&population.source_records)?;
//! let (auto, resolver, resolution) = resolve_auto(&[&records], 0.5)?;
//! println!("{}", serde_json::to_string_pretty(&auto.settings)?);
//! println!(
//!     "{} records, {} candidate pairs, {} matches, {} customers",
//!     records.len(),
//!     resolution.candidate_pairs,
//!     resolution.matches.len(),
//!     resolver.entities().entity_count()
//! );
//! // Every record belongs to exactly one resolved customer.
//! assert_eq!(resolver.entities().entity_of().len(), records.len());
//! # Ok::<(), custinsight::Error>(())
//! ```

pub mod auto;
pub mod blocking;
pub mod cluster;
pub mod compare;
pub mod customers;
pub mod fellegi_sunter;
pub mod golden;
pub mod normalize;
pub mod prepare;
pub mod resolve;
pub mod settings;
pub mod table;

pub use customers::{Applied, CustomerIdentity, IdEvent, IdentityParams, IdentityUpdate};
pub use table::{RecordTable, SourceRecords};
