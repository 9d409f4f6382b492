//! Per-customer feature matrices: the input of segmentation.
//!
//! A [`FeatureMatrix`] holds named `f64` columns with one row per customer
//! (rows in [`CustomerBase`](crate::store::CustomerBase) index order, or in the order of the ids asked
//! for). Its columns come from three places:
//!
//! - **Behaviour** computed from a [`CustomerBase`](crate::store::CustomerBase) by
//!   [`FeatureMatrix::from_base`], as listed in a [`FeatureSpec`];
//! - **Analysis results** joined by customer id: a BTYD [`Summary`](crate::lifecycle::summary::Summary)
//!   ([`FeatureMatrix::with_summary`]), model [`Scores`](crate::lifecycle::btyd::Scores)
//!   ([`FeatureMatrix::with_scores`]);
//! - **User-supplied columns** such as an engagement score, aligned by row
//!   ([`FeatureMatrix::push_column`]) or joined by id
//!   ([`FeatureMatrix::join_column`]).
//!
//! ## Features from a customer base
//!
//! Features are computed *as of* a point in time: only transactions and
//! touchpoints at or before `as_of` count, so a feature never sees the future
//! of the moment it describes. A *purchase* is a transaction that is not a
//! refund. Days are fractional days of 86,400 seconds; amounts are in
//! currency units (money features need all transactions in one currency).
//!
//! | [`Feature`] | column(s) | definition | without data |
//! |---|---|---|---|
//! | `Recency` | `recency` | days from the last purchase to `as_of` | missing (no purchase) |
//! | `Frequency` | `frequency` | number of purchases | 0 |
//! | `Monetary` | `monetary` | mean purchase amount | missing (no purchase) |
//! | `TotalSpend` | `total_spend` | sum of purchase amounts (refunds not deducted) | 0 |
//! | `Tenure` | `tenure` | days from the first purchase or first touchpoint, whichever is earlier, to `as_of` | missing (neither) |
//! | `DaysActive` | `days_active` | distinct UTC calendar days with a purchase or a touchpoint | 0 |
//! | `RefundShare` | `refund_share` | refunded amount ÷ purchased amount (can exceed 1) | missing (purchased amount 0) |
//! | `ChannelShares` | `channel_share:<channel>` | share of purchases (by count) in each channel | missing (no purchase) |
//! | `TouchpointCounts` | `touchpoints:<kind>` (e.g. `touchpoints:complaint`) | touchpoints of each kind | 0 |
//! | `TouchpointShares` | `touchpoint_share:<kind>` | share of the customer's touchpoints of each kind | missing (no touchpoint) |
//! | `TouchpointChannelShares` | `touch_share:<channel>` | share of the customer's touchpoints in each channel | missing (no touchpoint) |
//! | `CategoryShares` | `category_share:<category>` | share of purchase line-item value (quantity × unit price, lines with a positive value only) in each category | missing (no such line) |
//!
//! The channel, kind and category columns are one per *level*. Levels are
//! listed in the spec, or, when left out, taken from the whole base: channels
//! with at least one purchase, kinds with at least one touchpoint, categories
//! on purchase line items. Channels and kinds are ordered as their enums
//! (known values in declaration order, then other labels alphabetically),
//! categories alphabetically. To score new customers with the same columns,
//! fix the levels once with [`FeatureSpec::resolve`] and keep that spec.
//!
//! Line items carry no discount field, so there is no discount feature.
//! Category shares read every purchase's line items through
//! [`CustomerBase::transaction`](crate::store::CustomerBase::transaction), which allocates per transaction; they are
//! the one feature that is not a plain pass over the columns, so they are
//! never in the default spec.
//!
//! ## Missing values
//!
//! `NaN` is the one marker for a *missing* value: a feature that is undefined
//! for a customer (the "without data" column above), a customer absent from a
//! joined [`Summary`](crate::lifecycle::summary::Summary) or score, or a value a user column leaves missing.
//! Nothing else yields `NaN`: counts and sums are 0 without data, and every
//! share is in `[0, 1]` (refund share aside) whenever it is defined.
//! [`scale`](super::scale) handles missing values by its missing policy
//! (median imputation with a `<name>:missing` indicator by default), so no
//! `NaN` reaches a clustering step.
//!
//! ```
//! use custinsight::prelude::*;
//! use custinsight::segment::features::{FeatureMatrix, FeatureSpec};
//!
//! let ts = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
//! let mut b = CustomerBase::builder();
//! let id = CustomerId::new("c1")?;
//! b.add_transaction(&Transaction::new("o-1", id.clone(), ts("2024-01-01T00:00:00Z"),
//!     Money::parse("30", Currency::EUR)?, Channel::Web))?;
//! b.add_transaction(&Transaction::new("o-2", id, ts("2024-01-05T00:00:00Z"),
//!     Money::parse("10", Currency::EUR)?, Channel::Store))?;
//! let base = b.build()?;
//!
//! let m = FeatureMatrix::from_base(&base, &FeatureSpec::default(), ts("2024-01-11T00:00:00Z"))?;
//! assert_eq!(m.column("recency").unwrap()[0], 6.0);
//! assert_eq!(m.column("monetary").unwrap()[0], 20.0);
//! assert_eq!(m.column("channel_share:store").unwrap()[0], 0.5);
//! # Ok::<(), custinsight::Error>(())
//! ```

mod compute;
mod join;
mod matrix;
mod spec;

pub use matrix::FeatureMatrix;
pub use spec::{Feature, FeatureSpec};
