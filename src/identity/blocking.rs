//! Blocking: which record pairs are worth comparing at all?
//!
//! Comparing every record with every other costs n²/2 comparisons (5·10¹¹
//! for a million customers), and nearly all of those pairs are obviously
//! different people. Blocking keeps only pairs that share a cheap key
//! (Christen 2012, *Data Matching*, ch. 4):
//!
//! - **key rules**: records agree on every part of the key, e.g. the same
//!   normalised e-mail, or the same date of birth *and* the same first letter
//!   of the surname; a part may be the whole prepared value, a prefix, or a
//!   phonetic code ([`soundex`]) so "Meier" and "Meyer" still meet;
//! - **sorted neighbourhood** (Hernández & Stolfo 1995): records sorted by
//!   the key, each paired with the next `window − 1`, which tolerates typos
//!   late in the key.
//!
//! Each rule alone misses the pairs whose key has an error, so several rules
//! are unioned: a pair found by any rule is a candidate once. The report
//! counts, per rule, the pairs it found and the pairs no earlier rule had
//! found, so a rule that adds nothing is visible. A block larger than
//! [`BlockingParams::max_block_size`] (a key such as a placeholder phone
//! number shared by thousands) is skipped and reported rather than allowed
//! to blow up quadratically.
//!
//! In **link** mode (two sources) only pairs across sources are candidates;
//! in **dedupe** mode every pair is.

use serde::{Deserialize, Serialize};

use super::prepare::{MISSING, Prepared, PreparedColumn};
use crate::error::{Error, Result};

/// How a prepared value becomes a blocking key part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyTransform {
    /// The whole prepared value.
    #[default]
    Exact,
    /// The first `n` characters.
    Prefix(usize),
    /// The last `n` characters.
    Suffix(usize),
    /// American Soundex of the first word ([`soundex`]).
    Soundex,
}

impl KeyTransform {
    /// The key part of a prepared value (`None`: no usable key).
    pub fn apply(&self, value: &str) -> Option<String> {
        let out = match self {
            KeyTransform::Exact => value.to_owned(),
            KeyTransform::Prefix(n) => value.chars().take(*n).collect(),
            KeyTransform::Suffix(n) => {
                let len = value.chars().count();
                value.chars().skip(len.saturating_sub(*n)).collect()
            }
            KeyTransform::Soundex => soundex(value.split_whitespace().next().unwrap_or("")),
        };
        (!out.is_empty()).then_some(out)
    }
}

/// American Soundex (Knuth, *TAOCP* vol. 3; as the US National Archives
/// define it): the first letter, then the digits of the following
/// consonants (b f p v → 1, c g j k q s x z → 2, d t → 3, l → 4, m n → 5,
/// r → 6), adjacent equal digits written once, also across `h` and `w`,
/// vowels separating; padded with zeros to four characters. Characters other
/// than ASCII letters are skipped; a value without any gives the value itself
/// (so names in other scripts block on their exact form).
pub fn soundex(value: &str) -> String {
    fn digit(c: u8) -> u8 {
        match c {
            b'b' | b'f' | b'p' | b'v' => b'1',
            b'c' | b'g' | b'j' | b'k' | b'q' | b's' | b'x' | b'z' => b'2',
            b'd' | b't' => b'3',
            b'l' => b'4',
            b'm' | b'n' => b'5',
            b'r' => b'6',
            b'h' | b'w' => b'-',
            _ => b'0',
        }
    }
    let mut letters = value
        .bytes()
        .filter(u8::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase());
    let Some(first) = letters.next() else {
        return value.to_owned();
    };
    let mut out = vec![first.to_ascii_uppercase()];
    let mut last = digit(first);
    for c in letters {
        let d = digit(c);
        match d {
            b'-' => {}
            b'0' => last = b'0',
            d => {
                if d != last {
                    out.push(d);
                    if out.len() == 4 {
                        break;
                    }
                }
                last = d;
            }
        }
    }
    out.resize(4, b'0');
    String::from_utf8(out).unwrap_or_default()
}

/// One part of a blocking key: a prepared column, transformed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPart {
    /// The prepared column.
    pub column: String,
    /// How its value becomes the key.
    #[serde(default)]
    pub transform: KeyTransform,
}

impl KeyPart {
    /// `column`'s whole prepared value.
    pub fn exact(column: impl Into<String>) -> KeyPart {
        KeyPart {
            column: column.into(),
            transform: KeyTransform::Exact,
        }
    }

    /// `column` transformed.
    pub fn new(column: impl Into<String>, transform: KeyTransform) -> KeyPart {
        KeyPart {
            column: column.into(),
            transform,
        }
    }
}

/// A blocking rule, as settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingRule {
    /// Name in reports.
    pub name: String,
    /// The key: records must agree on every part (a record missing any part
    /// has no key under this rule).
    pub on: Vec<KeyPart>,
    /// Sorted neighbourhood instead of equal keys: records sorted by the key,
    /// each paired with the next `window − 1`.
    #[serde(default)]
    pub window: Option<usize>,
}

impl BlockingRule {
    /// Records with equal keys.
    pub fn key(name: impl Into<String>, on: Vec<KeyPart>) -> BlockingRule {
        BlockingRule {
            name: name.into(),
            on,
            window: None,
        }
    }

    /// Sorted neighbourhood over the key.
    pub fn sorted_neighbourhood(
        name: impl Into<String>,
        on: Vec<KeyPart>,
        window: usize,
    ) -> BlockingRule {
        BlockingRule {
            name: name.into(),
            on,
            window: Some(window),
        }
    }

    pub(crate) fn check(&self, prepared: &Prepared) -> Result<Vec<usize>> {
        if self.on.is_empty() {
            return Err(Error::param(
                "on",
                &self.name,
                "a rule has at least one key part",
            ));
        }
        if let Some(w) = self.window {
            if w < 2 {
                return Err(Error::param("window", w, "at least 2"));
            }
        }
        for part in &self.on {
            if let KeyTransform::Prefix(0) | KeyTransform::Suffix(0) = part.transform {
                return Err(Error::param(
                    "transform",
                    &self.name,
                    "prefix and suffix lengths are at least 1",
                ));
            }
        }
        self.on
            .iter()
            .map(|p| {
                prepared.position(&p.column).ok_or_else(|| Error::NotFound {
                    what: "prepared column",
                    id: p.column.clone(),
                })
            })
            .collect()
    }
}

/// Which pairs blocking may produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkType {
    /// Duplicates within the records (any two records).
    #[default]
    Dedupe,
    /// Links across sources only (records of different sides).
    Link,
}

/// Blocking options.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BlockingParams {
    /// Dedupe or link.
    pub link_type: LinkType,
    /// Blocks with more records are skipped (and reported).
    pub max_block_size: usize,
}

impl Default for BlockingParams {
    fn default() -> Self {
        BlockingParams {
            link_type: LinkType::Dedupe,
            max_block_size: 2_000,
        }
    }
}

impl BlockingParams {
    /// Checks the settings (whether link mode has two sources is checked
    /// against the records).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a block size limit below 2.
    pub fn check(&self) -> Result<()> {
        if self.max_block_size < 2 {
            return Err(Error::param(
                "max_block_size",
                self.max_block_size,
                "at least 2",
            ));
        }
        Ok(())
    }
}

/// What one rule contributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCount {
    /// The rule's name.
    pub rule: String,
    /// Distinct pairs the rule produced.
    pub pairs: u64,
    /// Of those, pairs no earlier rule produced.
    pub new_pairs: u64,
    /// Records with a key under the rule.
    pub keyed_records: u64,
    /// Blocks skipped for exceeding the size limit.
    pub skipped_blocks: u64,
    /// Records in skipped blocks.
    pub skipped_records: u64,
}

/// Candidate pairs from all rules, deduplicated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidates {
    /// Pairs `(a, b)` with `a < b`, sorted.
    pub pairs: Vec<(u32, u32)>,
    /// Per rule, in rule order.
    pub per_rule: Vec<RuleCount>,
}

/// A 64-bit FNV-1a step over bytes: keys are hashed, not compared, because a
/// collision only adds a candidate pair that comparison then scores.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Per dictionary code of `column`, the hash of its transformed key part
/// (`None`: no key).
fn part_hashes(column: &PreparedColumn, transform: KeyTransform) -> Vec<Option<u64>> {
    column
        .values()
        .iter()
        .map(|v| transform.apply(v).map(|k| fnv(FNV_OFFSET, k.as_bytes())))
        .collect()
}

/// Every record's key under a key rule (`None` when any part is missing).
pub(crate) fn record_keys(prepared: &Prepared, rule: &BlockingRule) -> Result<Vec<Option<u64>>> {
    let positions = rule.check(prepared)?;
    let parts: Vec<(&PreparedColumn, Vec<Option<u64>>)> = positions
        .iter()
        .zip(&rule.on)
        .map(|(&p, part)| {
            let column = &prepared.columns()[p];
            (column, part_hashes(column, part.transform))
        })
        .collect();
    Ok((0..prepared.len())
        .map(|r| {
            let mut h = FNV_OFFSET;
            for (column, hashes) in &parts {
                let code = column.code(r);
                if code == MISSING {
                    return None;
                }
                let part = hashes.get(code as usize).copied().flatten()?;
                h = fnv(h, &part.to_le_bytes());
            }
            Some(h)
        })
        .collect())
}

/// Record `r`'s key under `rule` (positions from the rule's check), hashed
/// exactly as [`record_keys`] hashes it.
pub(crate) fn record_key(
    prepared: &Prepared,
    rule: &BlockingRule,
    positions: &[usize],
    r: usize,
) -> Option<u64> {
    let mut h = FNV_OFFSET;
    for (&p, part) in positions.iter().zip(&rule.on) {
        let value = prepared.columns().get(p)?.value(r)?;
        let key = part.transform.apply(value)?;
        h = fnv(h, &fnv(FNV_OFFSET, key.as_bytes()).to_le_bytes());
    }
    Some(h)
}

/// Record `r`'s key text under `rule`, as [`record_key_texts`] gives it.
pub(crate) fn record_key_text(
    prepared: &Prepared,
    rule: &BlockingRule,
    positions: &[usize],
    r: usize,
) -> Option<String> {
    let mut key = String::new();
    for (i, (&p, part)) in positions.iter().zip(&rule.on).enumerate() {
        let value = prepared.columns().get(p)?.value(r)?;
        if i > 0 {
            key.push('\u{1f}');
        }
        key.push_str(&part.transform.apply(value)?);
    }
    Some(key)
}

/// Every record's key text under a rule, for sorting (parts joined by U+001F).
pub(crate) fn record_key_texts(
    prepared: &Prepared,
    rule: &BlockingRule,
) -> Result<Vec<Option<String>>> {
    let positions = rule.check(prepared)?;
    let parts: Vec<(&PreparedColumn, Vec<Option<String>>)> = positions
        .iter()
        .zip(&rule.on)
        .map(|(&p, part)| {
            let column = &prepared.columns()[p];
            let texts = column
                .values()
                .iter()
                .map(|v| part.transform.apply(v))
                .collect();
            (column, texts)
        })
        .collect();
    Ok((0..prepared.len())
        .map(|r| {
            let mut key = String::new();
            for (i, (column, texts)) in parts.iter().enumerate() {
                let code = column.code(r);
                if code == MISSING {
                    return None;
                }
                if i > 0 {
                    key.push('\u{1f}');
                }
                key.push_str(texts.get(code as usize)?.as_deref()?);
            }
            Some(key)
        })
        .collect())
}

#[inline]
pub(crate) fn pack(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (u64::from(lo) << 32) | u64::from(hi)
}

pub(crate) fn sort_dedup(v: &mut Vec<u64>) {
    #[cfg(feature = "parallel")]
    {
        use rayon::slice::ParallelSliceMut;
        v.par_sort_unstable();
    }
    #[cfg(not(feature = "parallel"))]
    v.sort_unstable();
    v.dedup();
}

/// The pairs of one rule, packed, sorted and distinct.
fn rule_pairs(
    prepared: &Prepared,
    rule: &BlockingRule,
    params: &BlockingParams,
    count: &mut RuleCount,
) -> Result<Vec<u64>> {
    let sides = prepared.sides();
    let allowed = |a: u32, b: u32| {
        params.link_type == LinkType::Dedupe || sides[a as usize] != sides[b as usize]
    };
    let mut pairs = Vec::new();
    match rule.window {
        None => {
            let keys = record_keys(prepared, rule)?;
            let mut keyed: Vec<(u64, u32)> = keys
                .iter()
                .enumerate()
                .filter_map(|(r, k)| k.map(|k| (k, r as u32)))
                .collect();
            count.keyed_records = keyed.len() as u64;
            keyed.sort_unstable();
            for block in keyed.chunk_by(|a, b| a.0 == b.0) {
                if block.len() > params.max_block_size {
                    count.skipped_blocks += 1;
                    count.skipped_records += block.len() as u64;
                    continue;
                }
                for (i, &(_, a)) in block.iter().enumerate() {
                    for &(_, b) in &block[i + 1..] {
                        if allowed(a, b) {
                            pairs.push(pack(a, b));
                        }
                    }
                }
            }
        }
        Some(window) => {
            let keys = record_key_texts(prepared, rule)?;
            let mut keyed: Vec<(&str, u32)> = keys
                .iter()
                .enumerate()
                .filter_map(|(r, k)| k.as_deref().map(|k| (k, r as u32)))
                .collect();
            count.keyed_records = keyed.len() as u64;
            keyed.sort_unstable();
            for (i, &(_, a)) in keyed.iter().enumerate() {
                for &(_, b) in keyed.iter().skip(i + 1).take(window - 1) {
                    if allowed(a, b) {
                        pairs.push(pack(a, b));
                    }
                }
            }
        }
    }
    sort_dedup(&mut pairs);
    Ok(pairs)
}

/// Candidate pairs: every rule's pairs, unioned and deduplicated, with
/// counts per rule.
///
/// # Errors
/// [`Error::NotFound`] for a rule on a column that was not prepared;
/// [`Error::InvalidParameter`] for an empty rule, a window below 2, a zero
/// prefix or suffix, a block size limit below 2, or link mode over records
/// of a single source.
pub fn candidate_pairs(
    prepared: &Prepared,
    rules: &[BlockingRule],
    params: &BlockingParams,
) -> Result<Candidates> {
    params.check()?;
    if params.link_type == LinkType::Link && prepared.table_sizes().len() < 2 {
        return Err(Error::param(
            "link_type",
            "link",
            "linking needs records from at least two sources",
        ));
    }
    let mut all: Vec<u64> = Vec::new();
    let mut per_rule = Vec::with_capacity(rules.len());
    for rule in rules {
        let mut count = RuleCount {
            rule: rule.name.clone(),
            pairs: 0,
            new_pairs: 0,
            keyed_records: 0,
            skipped_blocks: 0,
            skipped_records: 0,
        };
        let pairs = rule_pairs(prepared, rule, params, &mut count)?;
        count.pairs = pairs.len() as u64;
        // Both sorted: a merge gives the union and the count of new pairs.
        let mut merged = Vec::with_capacity(all.len() + pairs.len());
        let (mut i, mut j) = (0, 0);
        while i < all.len() || j < pairs.len() {
            match (all.get(i), pairs.get(j)) {
                (Some(&a), Some(&b)) if a == b => {
                    merged.push(a);
                    i += 1;
                    j += 1;
                }
                (Some(&a), Some(&b)) if a < b => {
                    merged.push(a);
                    i += 1;
                }
                (Some(&a), None) => {
                    merged.push(a);
                    i += 1;
                }
                (_, Some(&b)) => {
                    merged.push(b);
                    count.new_pairs += 1;
                    j += 1;
                }
                (None, None) => break,
            }
        }
        all = merged;
        per_rule.push(count);
    }
    Ok(Candidates {
        pairs: all
            .into_iter()
            .map(|p| ((p >> 32) as u32, p as u32))
            .collect(),
        per_rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::prepare::{ColumnPrep, FieldKind};
    use crate::identity::table::RecordTable;
    use proptest::prelude::*;

    #[test]
    fn soundex_matches_jellyfish() {
        // jellyfish 1.3.0: soundex(s)
        for (s, code) in [
            ("Robert", "R163"),
            ("Rupert", "R163"),
            ("Rubin", "R150"),
            ("Ashcraft", "A261"),
            ("Tymczak", "T522"),
            ("Pfister", "P236"),
            ("Honeyman", "H555"),
            ("Lee", "L000"),
            ("meier", "M600"),
            ("meyer", "M600"),
            ("O'Brien", "O165"),
        ] {
            assert_eq!(soundex(s), code, "{s}");
        }
        assert_eq!(soundex("山田"), "山田");
        assert_eq!(soundex(""), "");
    }

    fn people(rows: &[(&str, &str, &str)]) -> RecordTable {
        let mut t = RecordTable::new(["family", "given", "born"]).unwrap();
        for (i, (f, g, b)) in rows.iter().enumerate() {
            let v = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            t.push(format!("r{i}"), [v(f), v(g), v(b)]).unwrap();
        }
        t
    }

    fn preps() -> Vec<ColumnPrep> {
        vec![
            ColumnPrep::new("family", FieldKind::Name),
            ColumnPrep::new("given", FieldKind::Name),
            ColumnPrep::new("born", FieldKind::Text),
        ]
    }

    #[test]
    fn rules_union_with_counts() {
        let t = people(&[
            ("Meier", "Anna", "1980"),
            ("Meyer", "Anna", "1981"),
            ("Meier", "Bert", "1980"),
            ("Schulz", "", "1980"),
        ]);
        let p = Prepared::new(&[&t], &preps()).unwrap();
        let rules = vec![
            BlockingRule::key("born", vec![KeyPart::exact("born")]),
            BlockingRule::key(
                "sound+initial",
                vec![
                    KeyPart::new("family", KeyTransform::Soundex),
                    KeyPart::new("given", KeyTransform::Prefix(1)),
                ],
            ),
        ];
        let c = candidate_pairs(&p, &rules, &BlockingParams::default()).unwrap();
        assert_eq!(c.pairs, vec![(0, 1), (0, 2), (0, 3), (2, 3)]);
        assert_eq!(c.per_rule[0].pairs, 3);
        assert_eq!(c.per_rule[0].new_pairs, 3);
        assert_eq!(c.per_rule[1].pairs, 1);
        assert_eq!(c.per_rule[1].new_pairs, 1);
        // Schulz has no given name, so no key under the second rule.
        assert_eq!(c.per_rule[1].keyed_records, 3);
        // One record's key equals the batch key.
        for rule in &rules {
            let positions = rule.check(&p).unwrap();
            let keys = record_keys(&p, rule).unwrap();
            let texts = record_key_texts(&p, rule).unwrap();
            for r in 0..p.len() {
                assert_eq!(record_key(&p, rule, &positions, r), keys[r]);
                assert_eq!(record_key_text(&p, rule, &positions, r), texts[r]);
            }
        }
    }

    #[test]
    fn link_mode_pairs_only_across_sources_and_big_blocks_are_skipped() {
        let a = people(&[("Meier", "Anna", "1980"), ("Meier", "Anna", "1980")]);
        let b = people(&[("Meier", "Anna", "1980")]);
        let p = Prepared::new(&[&a, &b], &preps()).unwrap();
        let rule = vec![BlockingRule::key("family", vec![KeyPart::exact("family")])];
        let params = BlockingParams {
            link_type: LinkType::Link,
            max_block_size: 10,
        };
        let c = candidate_pairs(&p, &rule, &params).unwrap();
        assert_eq!(c.pairs, vec![(0, 2), (1, 2)]);
        let small = BlockingParams {
            max_block_size: 2,
            ..params
        };
        let c = candidate_pairs(&p, &rule, &small).unwrap();
        assert!(c.pairs.is_empty());
        assert_eq!(c.per_rule[0].skipped_blocks, 1);
        assert_eq!(c.per_rule[0].skipped_records, 3);
        let single = Prepared::new(&[&a], &preps()).unwrap();
        assert!(matches!(
            candidate_pairs(&single, &rule, &params),
            Err(Error::InvalidParameter {
                name: "link_type",
                ..
            })
        ));
    }

    #[test]
    fn sorted_neighbourhood_tolerates_late_typos() {
        let t = people(&[
            ("Schmidtt", "", ""),
            ("Adams", "", ""),
            ("Schmidt", "", ""),
            ("Zorn", "", ""),
        ]);
        let p = Prepared::new(&[&t], &preps()).unwrap();
        let rule = vec![BlockingRule::sorted_neighbourhood(
            "sn",
            vec![KeyPart::exact("family")],
            2,
        )];
        let c = candidate_pairs(&p, &rule, &BlockingParams::default()).unwrap();
        // Sorted: adams, schmidt, schmidtt, zorn.
        assert_eq!(c.pairs, vec![(0, 2), (0, 3), (1, 2)]);
    }

    #[test]
    fn bad_rules_are_typed_errors() {
        let t = people(&[("a", "b", "c")]);
        let p = Prepared::new(&[&t], &preps()).unwrap();
        let params = BlockingParams::default();
        let pairs = |rule: BlockingRule| candidate_pairs(&p, &[rule], &params);
        assert!(matches!(
            pairs(BlockingRule::key("none", vec![])),
            Err(Error::InvalidParameter { name: "on", .. })
        ));
        assert!(matches!(
            pairs(BlockingRule::key("missing", vec![KeyPart::exact("email")])),
            Err(Error::NotFound { what: "prepared column", id }) if id == "email"
        ));
        assert!(matches!(
            pairs(BlockingRule::key(
                "zero",
                vec![KeyPart::new("family", KeyTransform::Prefix(0))],
            )),
            Err(Error::InvalidParameter {
                name: "transform",
                ..
            })
        ));
        assert!(matches!(
            pairs(BlockingRule::sorted_neighbourhood(
                "w1",
                vec![KeyPart::exact("family")],
                1
            )),
            Err(Error::InvalidParameter { name: "window", .. })
        ));
        let json = r#"{"name":"x","on":[{"column":"family","transform":{"prefix":2}},{"column":"given","transform":"soundex"},{"column":"born"}]}"#;
        let rule: BlockingRule = serde_json::from_str(json).unwrap();
        assert_eq!(rule.on[0].transform, KeyTransform::Prefix(2));
        assert_eq!(rule.on[2].transform, KeyTransform::Exact);
    }

    proptest! {
        #[test]
        fn blocking_pairs_are_exactly_the_key_agreements(
            rows in proptest::collection::vec(("[ab]{0,2}", "[xy]{0,1}", "[12]{0,1}"), 0..40),
            side_split in 0usize..40,
            link in any::<bool>(),
        ) {
            let split = side_split.min(rows.len());
            let as_refs: Vec<(&str, &str, &str)> =
                rows.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
            let left = people(&as_refs[..split]);
            let right = people(&as_refs[split..]);
            let p = Prepared::new(&[&left, &right], &preps()).unwrap();
            let rules = vec![
                BlockingRule::key("family", vec![KeyPart::exact("family")]),
                BlockingRule::key("given+born", vec![KeyPart::exact("given"), KeyPart::exact("born")]),
            ];
            let params = BlockingParams {
                link_type: if link { LinkType::Link } else { LinkType::Dedupe },
                max_block_size: 1_000,
            };
            let c = candidate_pairs(&p, &rules, &params).unwrap();
            let v = |r: usize, col: usize| p.columns()[col].value(r);
            let mut expected = Vec::new();
            for a in 0..p.len() {
                for b in a + 1..p.len() {
                    if link && p.side(a) == p.side(b) {
                        continue;
                    }
                    let family = v(a, 0).is_some() && v(a, 0) == v(b, 0);
                    let gb = v(a, 1).is_some() && v(a, 2).is_some()
                        && v(a, 1) == v(b, 1) && v(a, 2) == v(b, 2);
                    if family || gb {
                        expected.push((a as u32, b as u32));
                    }
                }
            }
            prop_assert_eq!(&c.pairs, &expected);
            let new: u64 = c.per_rule.iter().map(|r| r.new_pairs).sum();
            prop_assert_eq!(new, c.pairs.len() as u64);
        }
    }
}
