//! Association rules: "who buys A also buys C", with how often, how much
//! more often than chance, and whether chance could explain it.
//!
//! Every frequent itemset X splits into rules A → C (A and C non-empty,
//! disjoint, A ∪ C = X). With shares s(·) of the n baskets, each rule has
//! the measures of mlxtend's `association_rules` (Agrawal et al. 1993; Brin
//! et al. 1997 for conviction; Piatetsky-Shapiro 1991 for leverage; Zhang
//! 2000 for Zhang's metric):
//!
//! - support s(X); confidence s(X) / s(A), the share of A's baskets that hold C;
//! - lift = confidence / s(C): how many times more often C is bought with A
//!   than overall (1 = independent);
//! - leverage = s(X) − s(A)·s(C), the excess share of baskets;
//! - conviction = (1 − s(C)) / (1 − confidence), infinite for a rule that
//!   always holds;
//! - Zhang's metric = leverage / max(s(X)·(1 − s(A)), s(A)·(s(C) − s(X))),
//!   in [−1, 1] (0 where the denominator is 0).
//!
//! **Significance.** Among thousands of candidate rules some show a lift
//! above 1 by chance. Each rule is tested with Fisher's exact test of the
//! 2×2 table (A, not A) × (C, not C), one-sided for a positive association
//! (the hypergeometric upper tail), and the p-values of all candidate rules
//! are adjusted together by Benjamini–Hochberg, so that the rules kept at a
//! false-discovery rate q are expected to hold at most a share q of chance
//! findings (Hämäläinen 2012, "Kingfisher: an efficient algorithm for
//! searching for both positive and negative dependency rules with
//! statistical significance measures", *Knowledge and Information Systems*
//! 32(2); Webb 2007, "Discovering significant patterns", *Machine Learning*
//! 68(1)).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

use super::itemsets::{ItemsetKind, Itemsets};
use crate::error::{Error, Result};
use crate::stats::benjamini_hochberg;

/// Settings of [`association_rules`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleParams {
    /// Keep rules with at least this confidence (default 0.5), in [0, 1].
    pub min_confidence: f64,
    /// Keep rules with at least this lift (default none).
    pub min_lift: Option<f64>,
    /// Keep only rules whose Benjamini–Hochberg adjusted p-value is at most
    /// this false-discovery rate (default 0.05); `None` keeps rules whatever
    /// their significance (their p-values are still computed).
    pub max_fdr: Option<f64>,
}

impl Default for RuleParams {
    fn default() -> Self {
        RuleParams {
            min_confidence: 0.5,
            min_lift: None,
            max_fdr: Some(0.05),
        }
    }
}

impl RuleParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a confidence outside [0, 1], a lift
    /// that is negative or not finite, or a false-discovery rate outside (0, 1].
    pub fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(Error::param(
                "min_confidence",
                self.min_confidence,
                "must be in [0, 1]",
            ));
        }
        if let Some(l) = self.min_lift
            && !(l.is_finite() && l >= 0.0)
        {
            return Err(Error::param("min_lift", l, "must be finite and >= 0"));
        }
        if let Some(q) = self.max_fdr
            && !(q > 0.0 && q <= 1.0)
        {
            return Err(Error::param("max_fdr", q, "must be in (0, 1]"));
        }
        Ok(())
    }
}

/// One rule A → C.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Item codes of A, ascending.
    pub antecedent: Vec<u32>,
    /// Item codes of C, ascending.
    pub consequent: Vec<u32>,
    /// Baskets holding A and C.
    pub support_count: u64,
    /// Baskets holding A.
    pub antecedent_count: u64,
    /// Baskets holding C.
    pub consequent_count: u64,
    /// s(A ∪ C).
    pub support: f64,
    /// s(A ∪ C) / s(A).
    pub confidence: f64,
    /// confidence / s(C).
    pub lift: f64,
    /// s(A ∪ C) − s(A)·s(C).
    pub leverage: f64,
    /// (1 − s(C)) / (1 − confidence); infinite when the confidence is 1.
    pub conviction: f64,
    /// Zhang's metric, in [−1, 1].
    pub zhang: f64,
    /// One-sided Fisher exact p-value for a positive association.
    pub p_value: f64,
    /// The p-value adjusted by Benjamini–Hochberg over all candidate rules.
    pub q_value: f64,
}

/// The result of [`association_rules`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// The rules kept, by support, then confidence, descending (then by items).
    pub rules: Vec<Rule>,
    /// Candidate rules tested (every split of every itemset of two or more
    /// items): the family of the false-discovery control.
    pub tested: usize,
}

/// The association rules of all frequent itemsets `itemsets`.
///
/// ```
/// use custinsight::basket::{Baskets, MinSupport, MiningParams, RuleParams, association_rules, frequent_itemsets};
///
/// let text = "printer ink\n".repeat(30) + &"paper\n".repeat(60) + &"ink paper\n".repeat(10);
/// let baskets = Baskets::parse_fimi(&text)?;
/// let params = MiningParams { min_support: MinSupport::Count(5), ..MiningParams::default() };
/// let rules = association_rules(&frequent_itemsets(&baskets, &params)?, &RuleParams::default())?;
/// let printer_ink = &rules.rules[0];
/// assert_eq!(baskets.item_name(printer_ink.antecedent[0]), "printer");
/// assert_eq!(printer_ink.confidence, 1.0);
/// assert!(printer_ink.q_value < 0.05);
/// # Ok::<(), custinsight::Error>(())
/// ```
///
/// # Errors
/// [`RuleParams::check`]'s errors; [`Error::InvalidInput`] for closed or
/// maximal itemsets (a rule's measures need the supports of its parts,
/// which only all frequent itemsets carry).
pub fn association_rules(itemsets: &Itemsets, params: &RuleParams) -> Result<Rules> {
    params.check()?;
    if itemsets.kind != ItemsetKind::All {
        return Err(Error::InvalidInput(
            "association rules need all frequent itemsets, not only closed or maximal ones".into(),
        ));
    }
    let support: HashMap<&[u32], u64> = itemsets
        .itemsets
        .iter()
        .map(|s| (s.items.as_slice(), s.support))
        .collect();
    let n = itemsets.n_baskets;
    // Every split of every itemset of two or more items: first only its
    // p-value (a candidate is its itemset and the antecedent's mask, so
    // hundreds of thousands of candidates take little memory), then, once
    // the false-discovery control has adjusted them all, the full measures
    // of the rules kept.
    let mut splits: Vec<(u32, u64)> = Vec::new();
    let mut p = Vec::new();
    let (mut a, mut c) = (Vec::new(), Vec::new());
    for (k, set) in itemsets.itemsets.iter().enumerate() {
        let len = set.items.len();
        if len < 2 {
            continue;
        }
        if len >= 64 {
            return Err(Error::InvalidInput(format!(
                "an itemset of {len} items has more rules than can be listed; lower the maximum length"
            )));
        }
        for mask in 1u64..(1u64 << len) - 1 {
            let (sa, sc) = split_supports(&support, &set.items, mask, &mut a, &mut c)?;
            p.push(fisher_greater(set.support, sa, sc, n));
            splits.push((k as u32, mask));
        }
    }
    let q = benjamini_hochberg(&p);
    let tested = splits.len();
    let mut rules = Vec::new();
    for ((&(k, mask), &p), &q) in splits.iter().zip(&p).zip(&q) {
        if params.max_fdr.is_some_and(|fdr| q > fdr) {
            continue;
        }
        let set = &itemsets.itemsets[k as usize];
        let (sa, sc) = split_supports(&support, &set.items, mask, &mut a, &mut c)?;
        let confidence = set.support as f64 / sa as f64;
        if confidence < params.min_confidence {
            continue;
        }
        let rule = measure(a.clone(), c.clone(), set.support, sa, sc, n, p, q);
        if params.min_lift.is_none_or(|l| rule.lift >= l) {
            rules.push(rule);
        }
    }
    rules.sort_by(|x, y| {
        y.support_count
            .cmp(&x.support_count)
            .then(y.confidence.total_cmp(&x.confidence))
            .then_with(|| x.antecedent.cmp(&y.antecedent))
            .then_with(|| x.consequent.cmp(&y.consequent))
    });
    Ok(Rules { rules, tested })
}

/// Splits `items` by `mask` into the antecedent `a` (bits set) and the
/// consequent `c`, and returns their supports.
fn split_supports(
    support: &HashMap<&[u32], u64>,
    items: &[u32],
    mask: u64,
    a: &mut Vec<u32>,
    c: &mut Vec<u32>,
) -> Result<(u64, u64)> {
    a.clear();
    c.clear();
    for (bit, &item) in items.iter().enumerate() {
        if mask & (1 << bit) != 0 {
            a.push(item);
        } else {
            c.push(item);
        }
    }
    // Subsets of a frequent itemset are frequent, so both are listed.
    match (support.get(a.as_slice()), support.get(c.as_slice())) {
        (Some(&sa), Some(&sc)) => Ok((sa, sc)),
        _ => Err(Error::InvalidInput(
            "the itemsets lack a subset of a listed itemset; mine all frequent itemsets".into(),
        )),
    }
}

/// The measures of A → C from the counts, with its p- and q-value.
#[allow(clippy::too_many_arguments)] // the counts of a 2×2 table and its tests
fn measure(
    antecedent: Vec<u32>,
    consequent: Vec<u32>,
    sx: u64,
    sa: u64,
    sc: u64,
    n: u64,
    p_value: f64,
    q_value: f64,
) -> Rule {
    let nf = n as f64;
    let (s_x, s_a, s_c) = (sx as f64 / nf, sa as f64 / nf, sc as f64 / nf);
    let confidence = s_x / s_a;
    let leverage = s_x - s_a * s_c;
    let denominator = (s_x * (1.0 - s_a)).max(s_a * (s_c - s_x));
    Rule {
        antecedent,
        consequent,
        support_count: sx,
        antecedent_count: sa,
        consequent_count: sc,
        support: s_x,
        confidence,
        lift: confidence / s_c,
        leverage,
        conviction: if confidence < 1.0 {
            (1.0 - s_c) / (1.0 - confidence)
        } else {
            f64::INFINITY
        },
        zhang: if denominator == 0.0 {
            0.0
        } else {
            leverage / denominator
        },
        p_value,
        q_value,
    }
}

/// One-sided Fisher exact test: P(X ≥ `both`) for X ~ hypergeometric (a
/// population of `n` baskets, `with_a` of them holding A, `with_c` drawn).
///
/// The tail is summed from its largest term outwards, so the terms only
/// shrink: the upper tail when `both` is above the mode, else one minus
/// the lower tail.
pub(crate) fn fisher_greater(both: u64, with_a: u64, with_c: u64, n: u64) -> f64 {
    let (k_max, k_min) = (with_a.min(with_c), (with_a + with_c).saturating_sub(n));
    if both <= k_min {
        return 1.0;
    }
    if both > k_max {
        return 0.0;
    }
    let ln_choose = |a: u64, b: u64| {
        ln_gamma(a as f64 + 1.0) - ln_gamma(b as f64 + 1.0) - ln_gamma((a - b) as f64 + 1.0)
    };
    let ln_pmf =
        |k: u64| ln_choose(with_a, k) + ln_choose(n - with_a, with_c - k) - ln_choose(n, with_c);
    let (big_k, d, nn) = (with_a as f64, with_c as f64, n as f64);
    let mode = ((d + 1.0) * (big_k + 1.0) / (nn + 2.0)).floor();
    let tail = |from: u64, up: bool| {
        // pmf(k+1)/pmf(k) = (K−k)(D−k) / ((k+1)(N−K−D+k+1)); the inverse going down.
        let (mut term, mut sum, mut k) = (1.0f64, 1.0f64, from as f64);
        loop {
            let next = if up {
                if k >= k_max as f64 {
                    break;
                }
                (big_k - k) * (d - k) / ((k + 1.0) * (nn - big_k - d + k + 1.0))
            } else {
                if k <= k_min as f64 {
                    break;
                }
                k * (nn - big_k - d + k) / ((big_k - k + 1.0) * (d - k + 1.0))
            };
            term *= next;
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
            k += if up { 1.0 } else { -1.0 };
        }
        (ln_pmf(from).exp() * sum).min(1.0)
    };
    if both as f64 > mode {
        tail(both, true)
    } else {
        (1.0 - tail(both - 1, false)).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::fisher_greater;

    /// scipy 1.17.1 `fisher_exact([[both, a − both], [c − both, n − a − c + both]],
    /// alternative="greater").pvalue`.
    #[test]
    fn fisher_upper_tail_matches_scipy() {
        for (both, a, c, n, expected) in [
            (3, 10, 10, 100, 0.06001858177500578),
            (0, 5, 5, 50, 1.0),
            (1, 10, 10, 100, 0.6695237889132749),
            (50, 200, 300, 100_000, 3.0089088162609768e-81),
            (900, 1000, 5000, 100_000, 0.0),
            (5, 5, 5, 5, 1.0),
            (2, 40, 60, 100, 1.0),
            (400, 500, 600, 1000, 2.4893864899818462e-39),
        ] {
            let p = fisher_greater(both, a, c, n);
            assert!(
                (p - expected).abs() <= 1e-10 * expected.max(1e-300) + 1e-15,
                "{both} {a} {c} {n}: {p} vs {expected}"
            );
        }
    }
}
