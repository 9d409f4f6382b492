//! What goes together: baskets, their frequent itemsets and association rules.
//!
//! Market basket analysis asks which products customers buy together, so
//! that a store can place them side by side, bundle them, or recommend the
//! second to whoever buys the first (Agrawal, Imieliński & Swami 1993,
//! "Mining association rules between sets of items in large databases",
//! *SIGMOD*). Its first step is finding the **frequent itemsets**: every set
//! of items that appears together in at least a minimum number of baskets,
//! its *support*. Support only shrinks as a set grows, which is what makes
//! an exact search possible.
//!
//! - [`Baskets`]: one sorted run of item codes per basket, memory in
//!   proportion to the (basket, item) pairs; from names, or from the FIMI
//!   text format (one basket per line) that the reference implementations
//!   read.
//! - [`order_baskets`] and [`customer_baskets`]: the products of each
//!   order, or each customer's products across orders, from the line items
//!   a [`crate::store::CustomerBase`] keeps, with whose each basket is.
//! - [`frequent_itemsets`]: all, closed or maximal frequent itemsets by
//!   Eclat (Zaki 2000, "Scalable algorithms for association mining", *IEEE
//!   TKDE* 12(3)), with a minimum support as a count or a share, a maximum
//!   length, and a budget on the number of itemsets; equal to Borgelt's
//!   FIM programs (pyfim) on the same data.
//! - [`association_rules`]: rules A → C with support, confidence, lift,
//!   leverage, conviction and Zhang's metric (mlxtend's definitions), each
//!   tested by Fisher's exact test with Benjamini–Hochberg control of the
//!   false-discovery rate over all candidate rules.
//!
//! ```
//! use custinsight::basket::{Baskets, MinSupport, MiningParams, frequent_itemsets};
//!
//! let baskets = Baskets::parse_fimi("printer ink paper\nprinter ink\nink paper\nprinter ink\n")?;
//! let params = MiningParams { min_support: MinSupport::Share(0.5), ..MiningParams::default() };
//! let found = frequent_itemsets(&baskets, &params)?;
//! let printer = baskets.item_names().iter().position(|n| n == "printer").unwrap() as u32;
//! let ink = baskets.item_names().iter().position(|n| n == "ink").unwrap() as u32;
//! assert_eq!(found.support_of(&[printer, ink]), Some(3));
//! # Ok::<(), custinsight::Error>(())
//! ```

mod baskets;
mod itemsets;
mod orders;
mod rules;

pub use baskets::{Baskets, BasketsBuilder};
pub use itemsets::{Itemset, ItemsetKind, Itemsets, MinSupport, MiningParams, frequent_itemsets};
pub use orders::{BaseBaskets, customer_baskets, order_baskets};
pub use rules::{Rule, RuleParams, Rules, association_rules};
