//! Zero-config mode: settings chosen from a profile of the records.
//!
//! A new user has records and no settings. [`auto_settings`] profiles every
//! column (how many values are missing, how many distinct, how long, and
//! what they look like: e-mails, phone numbers, dates, names, codes, free
//! text, categories), then writes the settings an analyst would start from:
//!
//! - **preparation** by the type found, with column-name hints
//!   (`email`, `phone`/`tel`/`mobile`, `given`/`first`, `surname`/`family`/`last`,
//!   `post`/`zip`, `country`) where the values alone are ambiguous;
//! - **comparisons**: Jaro–Winkler ladders for names and text (with a
//!   swapped level for given and family name), small edit distances for
//!   phones, dates, codes and postcodes, exact agreement for e-mails and
//!   categories; term-frequency adjustment for names and repeated text;
//! - **blocking**: candidate rules (each usable column alone, Soundex of
//!   names, and two-column keys) whose pair counts are computed exactly from
//!   the value counts before any pair is formed; rules within a pair budget
//!   are taken, single columns first, a two-column key only where neither
//!   of its columns is already a rule of its own (it would add nothing);
//!   when no rule fits the budget, the cheapest one is taken alone (the
//!   block-size guard still skips giant blocks) and marked so in
//!   [`AutoSettings::blocking_candidates`];
//! - **estimation** by EM, as in the settings' defaults.
//!
//! The settings are returned with the profile so they can be read, saved as
//! JSON, refined and passed back.

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use super::blocking::{BlockingRule, KeyPart, KeyTransform, LinkType};
use super::compare::{FieldComparison, Method};
use super::normalize::{
    DayMonthOrder, MailboxRules, normalize_date, normalize_email, normalize_phone,
};
use super::prepare::{ColumnPrep, FieldKind, Prepared};
use super::resolve::{Resolution, Resolver};
use super::settings::{ClusterSettings, EstimationSettings, Settings};
use super::table::RecordTable;
use crate::error::{Error, Result};

/// What a column's values look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// E-mail addresses.
    Email,
    /// Phone numbers.
    Phone,
    /// Dates.
    Date,
    /// Given (first) names.
    GivenName,
    /// Family names (surnames).
    FamilyName,
    /// Whole names.
    Name,
    /// Postcodes.
    Postcode,
    /// Country codes or names.
    Country,
    /// Codes and numbers identifying something (many distinct values).
    Identifier,
    /// Few distinct values.
    Category,
    /// Free text.
    Text,
    /// Too few values to use.
    Unused,
}

/// A column's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub column: String,
    /// The type chosen.
    pub column_type: ColumnType,
    /// Records with a value.
    pub present: usize,
    /// Share of records without a value.
    pub null_rate: f64,
    /// Distinct raw values (trimmed, case-folded).
    pub distinct: usize,
    /// Distinct values per present value.
    pub distinct_ratio: f64,
    /// Mean length in characters.
    pub mean_length: f64,
    /// Share of values readable as e-mails, dates, phones; of values that
    /// are digits only; of values with more than one word.
    pub shares: TypeShares,
}

/// Shares of present values that look like each type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TypeShares {
    /// Readable e-mails.
    pub email: f64,
    /// Readable dates.
    pub date: f64,
    /// Phone-like: 6–15 digits with `+`, a leading 0 or separators.
    pub phone: f64,
    /// Digits only.
    pub digits: f64,
    /// More than one word.
    pub multi_word: f64,
    /// Letters only (and spaces, hyphens, apostrophes).
    pub alphabetic: f64,
}

/// Values profiled per column at most: beyond it, every k-th present value
/// (an evenly spaced, deterministic sample, no random numbers involved).
const PROFILE_SAMPLE: usize = 4_000;

fn hint(name: &str, words: &[&str]) -> bool {
    let n = name.to_lowercase();
    words.iter().any(|w| n.contains(w))
}

fn phone_like(v: &str) -> bool {
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().\u{a0}/".contains(c));
    let t = v.trim();
    allowed
        && (6..=15).contains(&digits)
        && (t.starts_with('+') || t.starts_with('0') || t.contains([' ', '-', '(', '/']))
}

/// Profiles the columns of `tables` (same columns in each), skipping `skip`.
///
/// # Errors
/// [`Error::EmptyInput`] for no tables; [`Error::InvalidInput`] for tables
/// with different columns.
pub fn profile(tables: &[&RecordTable]) -> Result<Vec<ColumnProfile>> {
    let Some(first) = tables.first() else {
        return Err(Error::empty("tables to profile"));
    };
    if tables.iter().any(|t| t.columns() != first.columns()) {
        return Err(Error::InvalidInput(
            "tables to link need the same columns (rename them to match)".into(),
        ));
    }
    let n: usize = tables.iter().map(|t| t.len()).sum();
    let step = n.div_ceil(PROFILE_SAMPLE).max(1);
    let mut out = Vec::with_capacity(first.columns().len());
    for (c, name) in first.columns().iter().enumerate() {
        let mut present = 0usize;
        let mut values: Vec<&str> = Vec::new();
        for t in tables {
            for r in 0..t.len() {
                if let Some(v) = t.value(r, c) {
                    present += 1;
                    if present % step == 0 || step == 1 {
                        values.push(v);
                    }
                }
            }
        }
        let sampled = values.len().max(1) as f64;
        let share =
            |f: &dyn Fn(&str) -> bool| values.iter().filter(|v| f(v)).count() as f64 / sampled;
        let mut distinct: HashMap<String, ()> = HashMap::new();
        for v in &values {
            distinct.insert(super::normalize::fold(v), ());
        }
        let shares = TypeShares {
            email: share(&|v| normalize_email(v, MailboxRules::AsWritten).is_ok()),
            date: share(&|v| normalize_date(v, DayMonthOrder::DayFirst).is_ok()),
            phone: share(&phone_like),
            digits: share(&|v| {
                !v.trim().is_empty() && v.trim().chars().all(|c| c.is_ascii_digit())
            }),
            multi_word: share(&|v| v.split_whitespace().count() > 1),
            alphabetic: share(&|v| {
                v.chars()
                    .all(|c| c.is_alphabetic() || c.is_whitespace() || "-'’.".contains(c))
            }),
        };
        let distinct_ratio = distinct.len() as f64 / sampled;
        let mean_length = values.iter().map(|v| v.chars().count()).sum::<usize>() as f64 / sampled;
        let null_rate = if n > 0 {
            1.0 - present as f64 / n as f64
        } else {
            1.0
        };
        let column_type = classify(
            name,
            present,
            distinct.len(),
            distinct_ratio,
            &shares,
            mean_length,
        );
        out.push(ColumnProfile {
            column: name.clone(),
            column_type,
            present,
            null_rate,
            distinct: distinct.len(),
            distinct_ratio,
            mean_length,
            shares,
        });
    }
    Ok(out)
}

fn classify(
    name: &str,
    present: usize,
    distinct: usize,
    distinct_ratio: f64,
    s: &TypeShares,
    mean_length: f64,
) -> ColumnType {
    if present < 2 || distinct < 2 {
        return ColumnType::Unused;
    }
    if s.email >= 0.8 {
        return ColumnType::Email;
    }
    if hint(name, &["phone", "tel", "mobile", "fax"]) && s.phone + s.digits >= 0.5 {
        return ColumnType::Phone;
    }
    if s.date >= 0.8 && (s.digits < 0.5 || hint(name, &["date", "birth", "dob", "born"])) {
        return ColumnType::Date;
    }
    if s.date >= 0.8 && mean_length >= 8.0 && s.digits >= 0.5 {
        return ColumnType::Date;
    }
    if hint(name, &["country"]) {
        return ColumnType::Country;
    }
    if hint(name, &["post", "zip", "plz"]) {
        return ColumnType::Postcode;
    }
    if s.phone >= 0.8 && s.digits < 0.5 {
        return ColumnType::Phone;
    }
    let name_like = s.alphabetic >= 0.8;
    if name_like && hint(name, &["given", "first", "fore", "vorname", "prenom"]) {
        return ColumnType::GivenName;
    }
    if name_like && hint(name, &["surname", "family", "last", "nachname"]) {
        return ColumnType::FamilyName;
    }
    if name_like && hint(name, &["name"]) {
        return ColumnType::Name;
    }
    if distinct <= 60 && distinct_ratio < 0.05 {
        return ColumnType::Category;
    }
    if s.digits >= 0.8 || (s.multi_word < 0.2 && !name_like && mean_length <= 16.0) {
        return ColumnType::Identifier;
    }
    ColumnType::Text
}

/// The preparation and comparison for a profiled column (`None`: not compared).
fn column_settings(
    p: &ColumnProfile,
    country_column: Option<&str>,
    default_country: &str,
) -> Option<(FieldKind, Method)> {
    let jw = || Method::JaroWinkler {
        thresholds: vec![0.92, 0.8],
    };
    let edits = |k: Vec<u32>| Method::Levenshtein { max_edits: k };
    Some(match p.column_type {
        // Exact only: addresses one edit apart are as often two people of
        // the same name (anna.meier1@…, anna.meier7@…) as one person's typo,
        // and that correlation with the name fields breaks the conditional
        // independence Fellegi–Sunter assumes.
        ColumnType::Email => (
            FieldKind::Email {
                provider_rules: true,
            },
            Method::Exact,
        ),
        ColumnType::Phone => (
            FieldKind::Phone {
                default_country: default_country.to_owned(),
                country_column: country_column.map(str::to_owned),
            },
            edits(vec![1, 2]),
        ),
        ColumnType::Date => (
            FieldKind::Date {
                order: DayMonthOrder::DayFirst,
            },
            edits(vec![1, 2]),
        ),
        ColumnType::GivenName | ColumnType::FamilyName | ColumnType::Name => {
            (FieldKind::Name, jw())
        }
        ColumnType::Postcode => (FieldKind::Identifier, edits(vec![1])),
        ColumnType::Country | ColumnType::Category => (FieldKind::Name, Method::Exact),
        ColumnType::Identifier => (FieldKind::Identifier, edits(vec![1, 2])),
        ColumnType::Text => (FieldKind::Text, jw()),
        ColumnType::Unused => return None,
    })
}

/// Exact pair count of a blocking key over prepared records.
fn key_pairs(prepared: &Prepared, rule: &BlockingRule, link: bool) -> Result<f64> {
    let keys = super::blocking::record_keys(prepared, rule)?;
    let mut counts: HashMap<u64, (f64, f64)> = HashMap::new();
    for (r, k) in keys.into_iter().enumerate() {
        if let Some(k) = k {
            let e = counts.entry(k).or_insert((0.0, 0.0));
            if prepared.side(r) == 0 {
                e.0 += 1.0;
            } else {
                e.1 += 1.0;
            }
        }
    }
    Ok(counts
        .values()
        .map(|(a, b)| {
            if link {
                a * b
            } else {
                let n = a + b;
                n * (n - 1.0) / 2.0
            }
        })
        .sum())
}

/// The settings zero-config mode chose, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoSettings {
    /// The settings.
    pub settings: Settings,
    /// Each column's profile.
    pub profiles: Vec<ColumnProfile>,
    /// Blocking rules considered, with their exact pair counts and whether
    /// they were taken (when none fits the budget, the cheapest is taken
    /// alone).
    pub blocking_candidates: Vec<(String, f64, bool)>,
}

/// Chooses settings for resolving `tables` from a profile of their records
/// (one table: dedupe; two or more: link across them).
///
/// # Errors
/// [`Error::EmptyInput`] for no tables or no records; [`Error::InvalidInput`]
/// for tables with different columns or no usable column.
pub fn auto_settings(tables: &[&RecordTable]) -> Result<AutoSettings> {
    choose(tables, &AutoParams::default()).map(|(auto, _)| auto)
}

/// Zero-config resolution in one call: [`auto_settings`] with the match
/// `threshold` (0.5 by default there), then [`Resolver::fit`] with them,
/// reusing the records prepared while choosing the settings instead of
/// preparing them twice.
///
/// # Errors
/// As [`auto_settings`] and [`Resolver::fit`]; [`Error::InvalidParameter`]
/// for a threshold outside [0, 1].
pub fn resolve_auto(
    tables: &[&RecordTable],
    threshold: f64,
) -> Result<(AutoSettings, Resolver, Resolution)> {
    resolve_auto_with(
        tables,
        &AutoParams {
            threshold,
            ..AutoParams::default()
        },
    )
}

/// What zero-config mode may be told: the threshold, columns to leave out
/// of matching, *conflict* columns, and whether to link or dedupe.
///
/// A conflict column holds something two different people never share,
/// e.g. an existing customer number: a link that would put two different
/// non-empty values of it in one customer is refused (see
/// [`cluster`](super::cluster)), so one fit gives customers that respect it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoParams {
    /// Match probability from which a pair is a match.
    pub threshold: f64,
    /// Columns never compared or blocked on (e.g. the source system, a free-text note).
    pub exclude: Vec<String>,
    /// Columns whose different values are never one person.
    pub conflict_columns: Vec<String>,
    /// Link across tables only, or dedupe all records together; `None`:
    /// link for two or more tables, dedupe for one.
    pub link_type: Option<LinkType>,
}

impl Default for AutoParams {
    fn default() -> Self {
        AutoParams {
            threshold: 0.5,
            exclude: Vec::new(),
            conflict_columns: Vec::new(),
            link_type: None,
        }
    }
}

impl AutoParams {
    /// Checks the threshold and that the named columns exist in `tables`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a threshold outside (0, 1) or a column
    /// no table has.
    pub fn check(&self, tables: &[&RecordTable]) -> Result<()> {
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(Error::param(
                "threshold",
                self.threshold,
                "must lie in (0, 1)",
            ));
        }
        for (name, columns) in [
            ("exclude", &self.exclude),
            ("conflict_columns", &self.conflict_columns),
        ] {
            if let Some(c) = columns
                .iter()
                .find(|c| tables.iter().all(|t| t.column(c).is_none()))
            {
                return Err(Error::param(name, c, "no such column in the records"));
            }
        }
        Ok(())
    }
}

/// [`resolve_auto`] with control over columns and link type (see [`AutoParams`]).
///
/// # Errors
/// As [`resolve_auto`], and [`AutoParams::check`].
pub fn resolve_auto_with(
    tables: &[&RecordTable],
    params: &AutoParams,
) -> Result<(AutoSettings, Resolver, Resolution)> {
    params.check(tables)?;
    let (mut auto, prepared) = choose(tables, params)?;
    auto.settings.threshold = params.threshold;
    let ids = super::resolve::record_ids(tables);
    let (resolver, resolution) = Resolver::fit_prepared(prepared, ids, &auto.settings)?;
    Ok((auto, resolver, resolution))
}

/// The settings, and the records prepared by their columns.
fn choose(tables: &[&RecordTable], params: &AutoParams) -> Result<(AutoSettings, Prepared)> {
    let mut profiles = profile(tables)?;
    for p in &mut profiles {
        if params.exclude.contains(&p.column) {
            p.column_type = ColumnType::Unused;
        }
    }
    let n: usize = tables.iter().map(|t| t.len()).sum();
    if n == 0 {
        return Err(Error::empty("records"));
    }
    let link_type = params.link_type.unwrap_or(if tables.len() > 1 {
        LinkType::Link
    } else {
        LinkType::Dedupe
    });
    let country_column = profiles
        .iter()
        .find(|p| p.column_type == ColumnType::Country)
        .map(|p| p.column.as_str());
    // The commonest country code, for numbers written nationally.
    let default_country = country_column
        .and_then(|c| {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for t in tables {
                let col = t.column(c)?;
                for r in 0..t.len() {
                    if let Some(v) = t.value(r, col) {
                        let v = v.trim().to_uppercase();
                        if v.len() == 2 && normalize_phone("+1 202 555 0100", &v).is_ok() {
                            *counts.entry(v).or_default() += 1;
                        }
                    }
                }
            }
            counts
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(c, _)| c)
        })
        .unwrap_or_else(|| "US".to_owned());

    let mut columns = Vec::new();
    let mut comparisons = Vec::new();
    let mut term_frequency = Vec::new();
    for p in &profiles {
        let Some((kind, method)) = column_settings(p, country_column, &default_country) else {
            continue;
        };
        columns.push(ColumnPrep::new(p.column.clone(), kind));
        // Where there is a postcode, country and other categories (a city)
        // mostly repeat it: comparing them too would count one agreement
        // several times, against the independence Fellegi–Sunter assumes.
        let has_postcode = profiles
            .iter()
            .any(|q| q.column_type == ColumnType::Postcode);
        if has_postcode && matches!(p.column_type, ColumnType::Country | ColumnType::Category) {
            continue;
        }
        let mut comparison = FieldComparison::new(p.column.clone(), method);
        if p.column_type == ColumnType::GivenName {
            if let Some(family) = profiles
                .iter()
                .find(|q| q.column_type == ColumnType::FamilyName)
            {
                comparison = comparison.swapped_with(family.column.clone());
            }
        }
        if matches!(
            p.column_type,
            ColumnType::GivenName | ColumnType::FamilyName | ColumnType::Name
        ) || (p.column_type == ColumnType::Text && p.distinct_ratio < 0.5)
        {
            term_frequency.push(p.column.clone());
        }
        comparisons.push(comparison);
    }
    if comparisons.is_empty() {
        return Err(Error::InvalidInput(
            "no column is usable for matching (all empty or constant)".into(),
        ));
    }
    // Conflict columns are prepared (as identifiers, unless already
    // prepared) so the clustering guard can compare their values.
    for c in &params.conflict_columns {
        if !columns.iter().any(|p| &p.column == c) {
            columns.push(ColumnPrep::new(c.clone(), FieldKind::Identifier));
        }
    }
    let prepared = Prepared::new(tables, &columns)?;

    // Candidate blocking rules, cheapest evidence first.
    let of = |t: ColumnType| {
        profiles
            .iter()
            .filter(move |p| p.column_type == t)
            .map(|p| p.column.clone())
    };
    let mut singles: Vec<BlockingRule> = Vec::new();
    for t in [
        ColumnType::Email,
        ColumnType::Phone,
        ColumnType::Date,
        ColumnType::Identifier,
        ColumnType::Postcode,
        ColumnType::FamilyName,
        ColumnType::GivenName,
        ColumnType::Name,
        ColumnType::Text,
    ] {
        for c in of(t) {
            singles.push(BlockingRule::key(c.clone(), vec![KeyPart::exact(c)]));
        }
    }
    let names: Vec<String> = of(ColumnType::FamilyName)
        .chain(of(ColumnType::Name))
        .chain(of(ColumnType::GivenName))
        .collect();
    let mut phonetic: Vec<BlockingRule> = names
        .iter()
        .map(|c| {
            BlockingRule::key(
                format!("soundex({c})"),
                vec![KeyPart::new(c.clone(), KeyTransform::Soundex)],
            )
        })
        .collect();
    // Two-column keys: a name's Soundex or a column's value, with another column.
    let partners: Vec<KeyPart> = names
        .iter()
        .map(|c| KeyPart::new(c.clone(), KeyTransform::Soundex))
        .chain(
            [
                ColumnType::Date,
                ColumnType::Postcode,
                ColumnType::Text,
                ColumnType::Category,
                ColumnType::Identifier,
            ]
            .into_iter()
            .flat_map(of)
            .map(KeyPart::exact),
        )
        .chain(
            names
                .iter()
                .map(|c| KeyPart::new(c.clone(), KeyTransform::Prefix(1))),
        )
        .collect();
    let mut pairs_rules = Vec::new();
    for (i, a) in partners.iter().enumerate() {
        for b in &partners[i + 1..] {
            if a.column != b.column {
                let label = |p: &KeyPart| match p.transform {
                    KeyTransform::Soundex => format!("soundex({})", p.column),
                    KeyTransform::Prefix(k) => format!("prefix{k}({})", p.column),
                    _ => p.column.clone(),
                };
                pairs_rules.push(BlockingRule::key(
                    format!("{} + {}", label(a), label(b)),
                    vec![a.clone(), b.clone()],
                ));
            }
        }
    }
    let link = link_type == LinkType::Link;
    let per_rule_budget = (5.0 * n as f64).max(50_000.0);
    let total_budget = 3.0 * per_rule_budget;
    let max_rules = 8;
    let mut chosen: Vec<BlockingRule> = Vec::new();
    let mut considered = Vec::new();
    let mut total = 0.0;
    let mut single_columns: Vec<String> = Vec::new();
    // The cheapest rule that finds any pair, with its index in `considered`.
    let mut cheapest: Option<(f64, usize, BlockingRule)> = None;
    for (group, rules) in [(0, &mut singles), (1, &mut phonetic), (2, &mut pairs_rules)] {
        let mut costed: Vec<(f64, BlockingRule)> = Vec::new();
        for rule in rules.drain(..) {
            if group == 2 && rule.on.iter().any(|p| single_columns.contains(&p.column)) {
                continue;
            }
            let pairs = key_pairs(&prepared, &rule, link)?;
            costed.push((pairs, rule));
        }
        costed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.name.cmp(&b.1.name)));
        for (pairs, rule) in costed {
            let take = pairs <= per_rule_budget
                && total + pairs <= total_budget
                && chosen.len() < max_rules
                && pairs > 0.0;
            if pairs > 0.0 && cheapest.as_ref().is_none_or(|c| pairs < c.0) {
                cheapest = Some((pairs, considered.len(), rule.clone()));
            }
            considered.push((rule.name.clone(), pairs, take));
            if take {
                total += pairs;
                if group == 0 {
                    single_columns.push(rule.on[0].column.clone());
                }
                chosen.push(rule);
            }
        }
    }
    if chosen.is_empty() {
        // Nothing within budget: the cheapest candidate alone, so there are
        // pairs at all (what a user expects rather than a refusal); blocks
        // above `max_block_size` are still skipped and counted.
        let Some((_, at, rule)) = cheapest else {
            return Err(Error::InvalidInput(
                "no two records share any key value; nothing to match".into(),
            ));
        };
        if let Some(c) = considered.get_mut(at) {
            c.2 = true;
        }
        chosen.push(rule);
    }
    let settings = Settings {
        link_type,
        columns,
        deterministic_rules: Vec::new(),
        blocking_rules: chosen,
        max_block_size: 2_000,
        comparisons,
        term_frequency,
        threshold: 0.5,
        estimation: EstimationSettings::default(),
        cluster: ClusterSettings {
            conflict_columns: params.conflict_columns.clone(),
            ..ClusterSettings::default()
        },
        model: None,
    };
    settings.check()?;
    Ok((
        AutoSettings {
            settings,
            profiles,
            blocking_candidates: considered,
        },
        prepared,
    ))
}
