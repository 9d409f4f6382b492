//! Golden records: one best value per column for each resolved customer,
//! chosen by survivorship rules, each with the record it came from.
//!
//! An entity ([`cluster`](super::cluster)) holds several records of one
//! customer, often with different values: an old and a new address, "Bob"
//! and "Robert", a typo fixed in one source but not another. Master data
//! management builds one *golden record* from them by **survivorship**
//! (Loshin 2009, ch. 10; Talburt & Zhou 2015, ch. 4): per column, rules
//! decide which record's value survives, e.g. the most recently updated, the
//! most frequent, the one from the most trusted source, or the most complete.
//!
//! Here a column has a chain of [`Survivorship`] rules: the first rule
//! decides, the later ones break its ties, and a final tie goes to the
//! lowest record index. Only non-null values are candidates; a column with
//! no value in any member stays `None`. Values count as equal when their
//! [`fold`]ed forms are equal (case, width, punctuation and spacing
//! ignored), so "ann@x.org" and " ANN@X.ORG" are one value held twice.
//! Every chosen value keeps its provenance: the raw value as it arrived,
//! the source and id of the record holding it, the rule that decided and how
//! many members agree.
//!
//! Records come from several sources concatenated in order ([`Sources`]):
//! record `r` is row `r − start(t)` of table `t`. Columns are matched by
//! name across tables; a table without a column contributes null for it.
//!
//! References: Loshin, D. (2009), *Master Data Management*, Morgan Kaufmann.
//! Talburt, J. R. & Zhou, Y. (2015), *Entity Information Life Cycle for Big
//! Data*, Morgan Kaufmann.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cluster::Entities;
use super::normalize::fold;
use super::table::RecordTable;
use crate::error::{Error, Result};

/// Several [`RecordTable`]s seen as one sequence of records, in order, with
/// the union of their columns (by name, in order of first appearance).
#[derive(Debug, Clone)]
pub struct Sources<'a> {
    tables: Vec<&'a RecordTable>,
    /// Index of each table's first record, and the total at the end.
    starts: Vec<usize>,
    columns: Vec<String>,
    /// Per table: union column → the table's own column, if it has it.
    maps: Vec<Vec<Option<usize>>>,
}

impl<'a> Sources<'a> {
    /// Concatenates the tables in the order given.
    ///
    /// # Errors
    /// [`Error::Capacity`] for more than `u32::MAX` records in total.
    pub fn new(tables: &[&'a RecordTable]) -> Result<Sources<'a>> {
        let mut starts = Vec::with_capacity(tables.len() + 1);
        let mut total = 0usize;
        let mut columns: Vec<String> = Vec::new();
        for t in tables {
            starts.push(total);
            total += t.len();
            for c in t.columns() {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
        }
        starts.push(total);
        if total > u32::MAX as usize {
            return Err(Error::Capacity(format!(
                "{total} records do not fit u32 indices"
            )));
        }
        let maps = tables
            .iter()
            .map(|t| columns.iter().map(|c| t.column(c)).collect())
            .collect();
        Ok(Sources {
            tables: tables.to_vec(),
            starts,
            columns,
            maps,
        })
    }

    /// Total number of records.
    pub fn len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tables, in order.
    pub fn tables(&self) -> &[&'a RecordTable] {
        &self.tables
    }

    /// Column names of all tables, in order of first appearance.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Position of a column among [`Sources::columns`].
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The table and row of a record, or `None` when out of range.
    pub fn locate(&self, record: u32) -> Option<(usize, usize)> {
        let r = record as usize;
        if r >= self.len() {
            return None;
        }
        // The last table starting at or before r (empty tables share starts).
        let t = self.starts.partition_point(|&s| s <= r).checked_sub(1)?;
        Some((t, r - self.starts.get(t)?))
    }

    /// Provenance of a record: its source table and id.
    pub fn record_ref(&self, record: u32) -> Option<RecordRef> {
        let (t, row) = self.locate(record)?;
        Some(RecordRef {
            index: record,
            source: t,
            id: self.tables.get(t)?.ids().get(row)?.clone(),
        })
    }

    /// A record's raw value in a column (by position in
    /// [`Sources::columns`]); `None` for null, a column its table lacks, or
    /// an index out of range.
    pub fn value(&self, record: u32, column: usize) -> Option<&'a str> {
        let (t, row) = self.locate(record)?;
        let own = (*self.maps.get(t)?.get(column)?)?;
        self.tables.get(t)?.value(row, own)
    }
}

/// How one rule picks among the candidate values of a column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Survivorship {
    /// The record whose `column` is latest wins. The column holds an RFC 3339
    /// time stamp, an ISO date-time or date (civil times read as UTC), or a
    /// number (compared as Unix seconds against dates). A value that parses
    /// as none of these counts as null, and null ranks below every time.
    MostRecent {
        /// The column with the update time.
        column: String,
    },
    /// The value held by most members (compared after [`fold`]).
    MostFrequent,
    /// The record whose source (its value in `column`, compared after
    /// [`fold`]) comes first in `order` wins; sources not listed, or null,
    /// rank last.
    SourcePriority {
        /// The column naming the record's source.
        column: String,
        /// Sources, most trusted first.
        order: Vec<String>,
    },
    /// The longest value, in characters, surrounding whitespace not counted.
    Longest,
}

impl Survivorship {
    /// The rule's name as reported in [`ChosenValue::rule`] (its serde tag).
    pub fn name(&self) -> &'static str {
        match self {
            Survivorship::MostRecent { .. } => "most_recent",
            Survivorship::MostFrequent => "most_frequent",
            Survivorship::SourcePriority { .. } => "source_priority",
            Survivorship::Longest => "longest",
        }
    }
}

/// [`ChosenValue::rule`] when all candidates agree, so no rule was needed.
pub const UNANIMOUS: &str = "unanimous";
/// [`ChosenValue::rule`] when the chain left a tie, broken by the lowest record index.
pub const RECORD_ORDER: &str = "record_order";

/// Survivorship rule chains: one per named column, `default` for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GoldenRules {
    /// The chain for columns not listed in `columns`.
    pub default: Vec<Survivorship>,
    /// Chains by column name.
    pub columns: BTreeMap<String, Vec<Survivorship>>,
}

impl Default for GoldenRules {
    /// Most frequent value, ties to the longest.
    fn default() -> Self {
        GoldenRules {
            default: vec![Survivorship::MostFrequent, Survivorship::Longest],
            columns: BTreeMap::new(),
        }
    }
}

impl GoldenRules {
    /// Checks the rules without the records (that each named column exists
    /// is checked against the sources). An empty chain, or a source priority
    /// listing no source, is allowed: record order decides.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a rule naming an empty column.
    pub fn check(&self) -> Result<()> {
        let chains = std::iter::once(&self.default).chain(self.columns.values());
        for rule in chains.flatten() {
            if let Survivorship::MostRecent { column } | Survivorship::SourcePriority { column, .. } =
                rule
                && column.trim().is_empty()
            {
                return Err(Error::param(
                    "column",
                    rule.name(),
                    "a rule that reads a column names it",
                ));
            }
        }
        Ok(())
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    /// Record index in the concatenated sources.
    pub index: u32,
    /// Source table, by position in [`Sources::tables`].
    pub source: usize,
    /// The record's id in its table.
    pub id: String,
}

/// The surviving value of one column, with provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenValue {
    /// The raw value as it arrived.
    pub value: String,
    /// The record it was taken from.
    pub record: RecordRef,
    /// The rule that decided: a [`Survivorship::name`], [`UNANIMOUS`] or [`RECORD_ORDER`].
    pub rule: String,
    /// Members holding an equivalent value (the chosen record included).
    pub support: usize,
}

/// One resolved customer's best values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldenRecord {
    /// The entity id.
    pub entity: u32,
    /// The member records.
    pub members: Vec<RecordRef>,
    /// One value per column of [`Sources::columns`], in that order; `None`
    /// when no member has a value.
    pub values: Vec<Option<ChosenValue>>,
}

/// A rule with its columns resolved to positions.
enum Rule {
    MostRecent(usize),
    MostFrequent,
    SourcePriority(usize, Vec<String>),
    Longest,
}

impl Rule {
    fn compile(rule: &Survivorship, sources: &Sources<'_>) -> Result<(Rule, &'static str)> {
        let column = |name: &str| {
            sources.column(name).ok_or_else(|| Error::NotFound {
                what: "column",
                id: name.to_owned(),
            })
        };
        let compiled = match rule {
            Survivorship::MostRecent { column: c } => Rule::MostRecent(column(c)?),
            Survivorship::MostFrequent => Rule::MostFrequent,
            Survivorship::SourcePriority { column: c, order } => {
                Rule::SourcePriority(column(c)?, order.iter().map(|s| equivalence(s)).collect())
            }
            Survivorship::Longest => Rule::Longest,
        };
        Ok((compiled, rule.name()))
    }
}

/// The form in which values are compared: folded, or trimmed when folding
/// leaves nothing (a value of only punctuation).
fn equivalence(raw: &str) -> String {
    let folded = fold(raw);
    if folded.is_empty() {
        raw.trim().to_owned()
    } else {
        folded
    }
}

/// A time or number as a comparable number: seconds since the Unix epoch
/// for times, the number itself otherwise.
fn recency(raw: &str) -> Option<f64> {
    let s = raw.trim();
    let seconds =
        |t: jiff::Timestamp| t.as_second() as f64 + f64::from(t.subsec_nanosecond()) * 1e-9;
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(seconds(t));
    }
    let utc = jiff::tz::TimeZone::UTC;
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        if let Ok(z) = dt.to_zoned(utc.clone()) {
            return Some(seconds(z.timestamp()));
        }
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        if let Ok(z) = d.to_zoned(utc) {
            return Some(seconds(z.timestamp()));
        }
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A member holding a value in the column being decided.
struct Candidate<'a> {
    record: u32,
    value: &'a str,
    key: String,
}

/// Golden records of all live entities, in id order, by `rules`.
///
/// # Errors
/// [`Error::LengthMismatch`] when `entities` does not cover exactly the
/// records of `sources`; [`Error::NotFound`] for a column named in `rules`
/// (as a chain's column or a rule's column) that no source has.
///
/// # Example
/// ```
/// use custinsight::identity::RecordTable;
/// use custinsight::identity::cluster::{cluster, ClusterParams, ScoredPair};
/// use custinsight::identity::golden::{golden_records, GoldenRules, Sources};
///
/// let mut crm = RecordTable::new(["name"])?;
/// crm.push("c1", [Some("Ann Lee")])?;
/// let mut shop = RecordTable::new(["name"])?;
/// shop.push("s7", [Some("ann lee")])?;
/// shop.push("s8", [Some("Annabel Lee")])?;
/// let sources = Sources::new(&[&crm, &shop])?;
/// let pairs = [ScoredPair::scored(0, 1, 9.0), ScoredPair::scored(1, 2, 7.0)];
/// let entities = cluster(sources.len(), &pairs, |r, c| sources.value(r, c), &ClusterParams::default())?;
/// let golden = golden_records(&sources, &entities, &GoldenRules::default())?;
/// let name = golden[0].values[0].as_ref().expect("a name");
/// assert_eq!((name.value.as_str(), name.record.id.as_str(), name.support), ("Ann Lee", "c1", 2));
/// # Ok::<(), custinsight::Error>(())
/// ```
pub fn golden_records(
    sources: &Sources<'_>,
    entities: &Entities,
    rules: &GoldenRules,
) -> Result<Vec<GoldenRecord>> {
    if entities.n_records() != sources.len() {
        return Err(Error::lengths(
            "entity records per source record",
            sources.len(),
            entities.n_records(),
        ));
    }
    let chains = Chains::new(sources, rules)?;
    let mut out = Vec::with_capacity(entities.entity_count());
    for (entity, members) in entities.iter() {
        out.push(golden_record(sources, &chains, entity, members)?);
    }
    Ok(out)
}

/// The golden record of one group of records (`members` ascending), as
/// [`golden_records`] gives it for an entity.
pub(crate) fn golden_record(
    sources: &Sources<'_>,
    chains: &Chains,
    entity: u32,
    members: &[u32],
) -> Result<GoldenRecord> {
    let refs = members
        .iter()
        .map(|&m| {
            sources.record_ref(m).ok_or_else(|| {
                Error::out_of_range(
                    format!("source records (member of entity {entity})"),
                    m as usize,
                    sources.len(),
                )
            })
        })
        .collect::<Result<Vec<RecordRef>>>()?;
    let values = chains
        .values(sources, members)
        .into_iter()
        .map(|chosen| {
            let c = chosen?;
            Some(ChosenValue {
                value: c.value.to_owned(),
                record: refs.get(c.member)?.clone(),
                rule: c.rule.to_owned(),
                support: c.support,
            })
        })
        .collect();
    Ok(GoldenRecord {
        entity,
        members: refs,
        values,
    })
}

/// Survivorship rules compiled against the columns of some sources.
pub(crate) struct Chains {
    default: Vec<(Rule, &'static str)>,
    /// Per column of the sources: its own chain, or the default.
    columns: Vec<Option<Vec<(Rule, &'static str)>>>,
}

/// A surviving value, borrowed: the raw value, the member (position in the
/// members) holding it, the rule that decided and the support.
pub(crate) struct Chosen<'a> {
    pub(crate) value: &'a str,
    pub(crate) member: usize,
    pub(crate) rule: &'static str,
    pub(crate) support: usize,
}

impl Chains {
    /// Compiles `rules` for `sources`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a column named in `rules` that no source has.
    pub(crate) fn new(sources: &Sources<'_>, rules: &GoldenRules) -> Result<Chains> {
        rules.check()?;
        if let Some(name) = rules.columns.keys().find(|c| sources.column(c).is_none()) {
            return Err(Error::NotFound {
                what: "column",
                id: name.clone(),
            });
        }
        let compile = |chain: &[Survivorship]| -> Result<Vec<(Rule, &'static str)>> {
            chain.iter().map(|r| Rule::compile(r, sources)).collect()
        };
        let default = compile(&rules.default)?;
        let mut columns: Vec<Option<Vec<(Rule, &'static str)>>> = Vec::new();
        for name in sources.columns() {
            columns.push(match rules.columns.get(name) {
                Some(chain) => Some(compile(chain)?),
                None => None,
            });
        }
        Ok(Chains { default, columns })
    }

    /// The surviving value of every column among `members` (ascending).
    pub(crate) fn values<'a>(
        &self,
        sources: &Sources<'a>,
        members: &[u32],
    ) -> Vec<Option<Chosen<'a>>> {
        self.columns
            .iter()
            .enumerate()
            .map(|(column, chain)| {
                let chain = chain.as_deref().unwrap_or(&self.default);
                choose(sources, members, column, chain)
            })
            .collect()
    }
}

/// The surviving value of one column among `members` (ascending).
fn choose<'a>(
    sources: &Sources<'a>,
    members: &[u32],
    column: usize,
    chain: &[(Rule, &'static str)],
) -> Option<Chosen<'a>> {
    let candidates: Vec<(usize, Candidate<'a>)> = members
        .iter()
        .enumerate()
        .filter_map(|(i, &record)| {
            let value = sources.value(record, column)?;
            Some((
                i,
                Candidate {
                    record,
                    value,
                    key: equivalence(value),
                },
            ))
        })
        .collect();
    let support = |key: &str| candidates.iter().filter(|(_, c)| c.key == key).count();
    let one_value = |alive: &[usize]| {
        let mut keys = alive
            .iter()
            .filter_map(|&i| candidates.get(i))
            .map(|(_, c)| &c.key);
        keys.next().is_none_or(|first| keys.all(|k| k == first))
    };
    // Positions into `candidates`, which are in record order.
    let mut alive: Vec<usize> = (0..candidates.len()).collect();
    let mut decided_by = UNANIMOUS;
    if !one_value(&alive) {
        decided_by = RECORD_ORDER;
        for (rule, name) in chain {
            let scores: Vec<f64> = alive
                .iter()
                .filter_map(|&i| candidates.get(i))
                .map(|(_, c)| score(rule, c, sources, &support))
                .collect();
            let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            alive = alive
                .iter()
                .zip(&scores)
                .filter(|(_, s)| s.total_cmp(&best).is_eq())
                .map(|(&i, _)| i)
                .collect();
            if one_value(&alive) {
                decided_by = *name;
                break;
            }
        }
    }
    // Lowest record index among the survivors.
    let (i, winner) = candidates.get(*alive.first()?)?;
    Some(Chosen {
        value: winner.value,
        member: *i,
        rule: decided_by,
        support: support(&winner.key),
    })
}

/// A candidate's score under one rule; higher is better.
fn score(
    rule: &Rule,
    c: &Candidate<'_>,
    sources: &Sources<'_>,
    support: &dyn Fn(&str) -> usize,
) -> f64 {
    match rule {
        Rule::MostRecent(column) => sources
            .value(c.record, *column)
            .and_then(recency)
            .unwrap_or(f64::NEG_INFINITY),
        Rule::MostFrequent => support(&c.key) as f64,
        Rule::SourcePriority(column, order) => {
            let rank = sources
                .value(c.record, *column)
                .map(equivalence)
                .and_then(|s| order.iter().position(|o| *o == s))
                .unwrap_or(order.len());
            -(rank as f64)
        }
        Rule::Longest => c.value.trim().chars().count() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::cluster::{ClusterParams, ScoredPair, cluster};

    /// Two sources; the shop has no `source` column.
    fn tables() -> (RecordTable, RecordTable) {
        let mut crm = RecordTable::new(["name", "email", "updated", "source", "fax"]).unwrap();
        crm.push(
            "c1",
            [
                Some("Ann Lee"),
                Some("ann@x.org"),
                Some("2023-05-01"),
                Some("crm"),
                None,
            ],
        )
        .unwrap();
        crm.push(
            "c2",
            [
                Some("Annabel Lee"),
                Some("annabel@y.org"),
                Some("2024-02-01T10:00:00Z"),
                Some("call centre"),
                None,
            ],
        )
        .unwrap();
        let mut shop = RecordTable::new(["email", "name", "updated", "fax"]).unwrap();
        shop.push(
            "s1",
            [
                Some(" ANN@X.ORG"),
                Some("ann lee"),
                Some("2024-01-15 09:30"),
                None,
            ],
        )
        .unwrap();
        shop.push(
            "s2",
            [Some("zed@z.org"), Some("Zed"), Some("not a date"), None],
        )
        .unwrap();
        (crm, shop)
    }

    fn golden(rules: &GoldenRules) -> Result<Vec<GoldenRecord>> {
        let (crm, shop) = tables();
        let sources = Sources::new(&[&crm, &shop])?;
        // Records 0, 1, 2 are one customer; 3 is alone.
        let pairs = [
            ScoredPair::by_rule(0, 2, "email"),
            ScoredPair::scored(0, 1, 5.0),
        ];
        let entities = cluster(
            sources.len(),
            &pairs,
            |_, _| None,
            &ClusterParams::default(),
        )?;
        golden_records(&sources, &entities, rules)
    }

    fn chosen<'a>(g: &'a [GoldenRecord], entity: usize, column: &str) -> Option<&'a ChosenValue> {
        let position = ["name", "email", "updated", "source", "fax"]
            .iter()
            .position(|c| *c == column)?;
        g.get(entity)?.values.get(position)?.as_ref()
    }

    fn rules_for(column: &str, chain: Vec<Survivorship>) -> GoldenRules {
        GoldenRules {
            default: vec![],
            columns: [(column.to_owned(), chain)].into(),
        }
    }

    #[test]
    fn sources_concatenate_by_column_name() {
        let (crm, shop) = tables();
        let empty = RecordTable::new(["name"]).unwrap();
        let s = Sources::new(&[&empty, &crm, &empty, &shop]).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s.columns(), ["name", "email", "updated", "source", "fax"]);
        assert_eq!(s.locate(2), Some((3, 0)));
        assert_eq!(s.value(2, 1), Some(" ANN@X.ORG"));
        assert_eq!(s.value(2, 3), None, "the shop has no source column");
        assert_eq!(s.value(4, 0), None);
        assert_eq!(s.record_ref(1).unwrap().id, "c2");
    }

    #[test]
    fn most_frequent_reports_the_earliest_raw_value_with_provenance() {
        let g = golden(&GoldenRules::default()).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[0].members
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>(),
            ["c1", "c2", "s1"]
        );
        let email = chosen(&g, 0, "email").unwrap();
        assert_eq!(email.value, "ann@x.org");
        assert_eq!(
            email.record,
            RecordRef {
                index: 0,
                source: 0,
                id: "c1".into()
            }
        );
        assert_eq!((email.rule.as_str(), email.support), ("most_frequent", 2));
        let zed = chosen(&g, 1, "name").unwrap();
        assert_eq!(
            (zed.value.as_str(), zed.rule.as_str(), zed.support),
            ("Zed", UNANIMOUS, 1)
        );
        assert_eq!(
            zed.record,
            RecordRef {
                index: 3,
                source: 1,
                id: "s2".into()
            }
        );
    }

    #[test]
    fn most_recent_reads_dates_and_date_times() {
        let g = golden(&rules_for(
            "name",
            vec![Survivorship::MostRecent {
                column: "updated".into(),
            }],
        ))
        .unwrap();
        let name = chosen(&g, 0, "name").unwrap();
        assert_eq!(
            (
                name.value.as_str(),
                name.record.id.as_str(),
                name.rule.as_str()
            ),
            ("Annabel Lee", "c2", "most_recent")
        );
        assert_eq!(name.support, 1);
        assert_eq!(recency("2024-01-15"), recency("2024-01-15T00:00:00Z"));
        assert!(recency("2024-01-15 00:00:01") > recency("2024-01-15"));
        assert_eq!(recency("12.5"), Some(12.5));
        assert_eq!(recency("soon"), None);
    }

    #[test]
    fn source_priority_ranks_unlisted_and_missing_sources_last() {
        let rule = |order: &[&str]| {
            rules_for(
                "email",
                vec![Survivorship::SourcePriority {
                    column: "source".into(),
                    order: order.iter().map(|s| s.to_string()).collect(),
                }],
            )
        };
        let g = golden(&rule(&["Call Centre", "crm"])).unwrap();
        let email = chosen(&g, 0, "email").unwrap();
        assert_eq!(
            (email.value.as_str(), email.rule.as_str()),
            ("annabel@y.org", "source_priority")
        );
        // Only crm listed: c1 wins; the shop record (no source) ranks with the unlisted.
        let g = golden(&rule(&["crm"])).unwrap();
        assert_eq!(chosen(&g, 0, "email").unwrap().record.id, "c1");
    }

    #[test]
    fn longest_and_tie_breaking_chain() {
        let g = golden(&rules_for("name", vec![Survivorship::Longest])).unwrap();
        let name = chosen(&g, 0, "name").unwrap();
        assert_eq!(
            (name.value.as_str(), name.rule.as_str()),
            ("Annabel Lee", "longest")
        );
        // No member's source is listed, so source priority ties all three
        // and most frequent breaks the tie.
        let chain = vec![
            Survivorship::SourcePriority {
                column: "source".into(),
                order: vec!["partner".into()],
            },
            Survivorship::MostFrequent,
        ];
        let g = golden(&rules_for("email", chain)).unwrap();
        let email = chosen(&g, 0, "email").unwrap();
        assert_eq!(
            (email.value.as_str(), email.rule.as_str()),
            ("ann@x.org", "most_frequent")
        );
        // A chain that cannot separate the values falls back to record order.
        let g = golden(&rules_for(
            "email",
            vec![Survivorship::SourcePriority {
                column: "source".into(),
                order: vec![],
            }],
        ))
        .unwrap();
        let email = chosen(&g, 0, "email").unwrap();
        assert_eq!(
            (
                email.value.as_str(),
                email.record.id.as_str(),
                email.rule.as_str()
            ),
            ("ann@x.org", "c1", RECORD_ORDER)
        );
    }

    #[test]
    fn all_null_column_is_none() {
        let g = golden(&GoldenRules::default()).unwrap();
        assert!(chosen(&g, 0, "fax").is_none());
        assert!(
            chosen(&g, 1, "source").is_none(),
            "the shop record has no source"
        );
    }

    #[test]
    fn unknown_columns_and_mismatched_entities_error() {
        for rules in [
            rules_for("phone", vec![Survivorship::Longest]),
            rules_for(
                "name",
                vec![Survivorship::MostRecent {
                    column: "changed".into(),
                }],
            ),
            GoldenRules {
                default: vec![Survivorship::SourcePriority {
                    column: "origin".into(),
                    order: vec![],
                }],
                columns: BTreeMap::new(),
            },
        ] {
            assert!(
                matches!(golden(&rules), Err(Error::NotFound { what: "column", .. })),
                "{rules:?}"
            );
        }
        let (crm, shop) = tables();
        let sources = Sources::new(&[&crm, &shop]).unwrap();
        let entities = cluster(3, &[], |_, _| None, &ClusterParams::default()).unwrap();
        assert!(matches!(
            golden_records(&sources, &entities, &GoldenRules::default()),
            Err(Error::LengthMismatch { found: 3, .. })
        ));
    }

    #[test]
    fn rules_serde_with_a_rule_tag() {
        let rules = rules_for(
            "name",
            vec![
                Survivorship::MostRecent {
                    column: "updated".into(),
                },
                Survivorship::Longest,
            ],
        );
        let json = serde_json::to_string(&rules).unwrap();
        assert!(
            json.contains(r#"{"rule":"most_recent","column":"updated"}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<GoldenRules>(&json).unwrap(), rules);
        let g = golden(&rules).unwrap();
        let back: Vec<GoldenRecord> =
            serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
        assert_eq!(back, g);
    }
}
