//! The domain model: customers, consent, transactions, touchpoints, money.
//!
//! These are the typed values that flow between the modules. They are plain
//! serde data; the columnar [`CustomerBase`](crate::store::CustomerBase) holds
//! large numbers of them compactly for analysis.

mod consent;
mod customer;
mod ids;
pub(crate) mod labels;
mod money;
mod touchpoint;
mod transaction;

pub(crate) use consent::Deciding;
pub use consent::{Consent, ConsentDecision, ConsentEvent, ConsentStatus, Purpose};
pub use customer::{AttributeValue, Customer, Gender, Pii, Profile};
pub(crate) use ids::check_source_name;
pub use ids::{CustomerId, SourceRecord};
pub(crate) use money::parse_amount;
pub use money::{AMOUNT_SCALE, Currency, Money, format_units};
pub use touchpoint::{Channel, JourneyStage, Touchpoint, TouchpointKind};
pub use transaction::{LineItem, Transaction};
