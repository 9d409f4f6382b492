//! Field comparisons with agreement levels: how alike are two records' values?
//!
//! Fellegi–Sunter matching (Fellegi & Sunter 1969) does not ask "equal or
//! not" but "how alike", per field, on a small ladder of *levels*; each level
//! then gets its own evidence weight `log2(m/u)` for "same person" against
//! "different people". A comparison here is a ladder in the spirit of
//! Splink's comparison levels, strongest first:
//!
//! 1. **exact** agreement (for numbers and dates: equal values);
//! 2. optionally **swapped**: the value equals the other record's value of a
//!    second column and vice versa (given and family name exchanged);
//! 3. the method's **fuzzy thresholds**, strongest first: Jaro–Winkler
//!    similarity at least `t`, at most `k` Levenshtein edits, numbers at most
//!    `d` apart, dates at most `n` days apart;
//! 4. **else**: disagreement.
//!
//! A missing (or empty) value on either side is the **null level** `-1`:
//! neither agreement nor disagreement, so it adds no evidence either way.
//! Levels are numbered from `0` (else) up to `levels − 1` (exact).
//!
//! Values are compared as given; clean them with
//! [`normalize`](super::normalize) first. Jaro–Winkler (Winkler 1990, prefix
//! scale 0.1 over at most four characters) and Levenshtein come from the
//! `strsim` crate and are checked against `jellyfish`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How values are compared below exact agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// Exact agreement only.
    Exact,
    /// Jaro–Winkler similarity of at least each threshold (descending, in (0, 1)).
    JaroWinkler {
        /// Thresholds, strongest first.
        thresholds: Vec<f64>,
    },
    /// At most each number of Levenshtein edits (ascending, ≥ 1).
    Levenshtein {
        /// Edit limits, strongest first.
        max_edits: Vec<u32>,
    },
    /// Numbers at most each absolute difference apart (ascending, > 0).
    Numeric {
        /// Differences, strongest first.
        max_difference: Vec<f64>,
    },
    /// ISO dates (`YYYY-MM-DD`) at most each number of days apart (ascending, ≥ 1).
    DateDays {
        /// Day limits, strongest first.
        max_days: Vec<u32>,
    },
}

impl Method {
    fn n_fuzzy(&self) -> usize {
        match self {
            Method::Exact => 0,
            Method::JaroWinkler { thresholds } => thresholds.len(),
            Method::Levenshtein { max_edits } => max_edits.len(),
            Method::Numeric { max_difference } => max_difference.len(),
            Method::DateDays { max_days } => max_days.len(),
        }
    }

    fn check(&self, name: &str) -> Result<()> {
        fn ascending<T: PartialOrd>(v: &[T]) -> bool {
            v.windows(2).all(|w| w[0] < w[1])
        }
        let (valid, rule) = match self {
            Method::Exact => (true, ""),
            Method::JaroWinkler { thresholds } => (
                thresholds.iter().all(|t| *t > 0.0 && *t < 1.0)
                    && thresholds.windows(2).all(|w| w[0] > w[1]),
                "Jaro–Winkler thresholds lie in (0, 1), strictly descending",
            ),
            Method::Levenshtein { max_edits } => (
                !max_edits.contains(&0) && ascending(max_edits),
                "edit limits are at least 1, strictly ascending",
            ),
            Method::Numeric { max_difference } => (
                max_difference.iter().all(|d| *d > 0.0 && d.is_finite())
                    && ascending(max_difference),
                "differences are positive and finite, strictly ascending",
            ),
            Method::DateDays { max_days } => (
                !max_days.contains(&0) && ascending(max_days),
                "day limits are at least 1, strictly ascending",
            ),
        };
        if valid {
            Ok(())
        } else {
            Err(Error::param("method", name.to_owned(), rule))
        }
    }

    fn label(&self, k: usize) -> String {
        match self {
            Method::Exact => String::new(),
            Method::JaroWinkler { thresholds } => format!("Jaro–Winkler ≥ {}", thresholds[k]),
            Method::Levenshtein { max_edits } => format!("≤ {} edits", max_edits[k]),
            Method::Numeric { max_difference } => format!("within {}", max_difference[k]),
            Method::DateDays { max_days } => format!("within {} days", max_days[k]),
        }
    }
}

/// One field's comparison, as settings (serde).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldComparison {
    /// Name in reports (e.g. `"surname"`).
    pub name: String,
    /// The column compared.
    pub column: String,
    /// The ladder below exact agreement.
    pub method: Method,
    /// A column whose values, exchanged between the two records, count as the
    /// "swapped" level (e.g. `given_name` beside `family_name`).
    #[serde(default)]
    pub swapped_with: Option<String>,
}

impl FieldComparison {
    /// A comparison of `column` by `method`, named after the column.
    pub fn new(column: impl Into<String>, method: Method) -> FieldComparison {
        let column = column.into();
        FieldComparison {
            name: column.clone(),
            column,
            method,
            swapped_with: None,
        }
    }

    /// The same comparison with a swapped level against `column`.
    pub fn swapped_with(mut self, column: impl Into<String>) -> FieldComparison {
        self.swapped_with = Some(column.into());
        self
    }

    /// Number of levels besides null: else, the fuzzy levels, swapped, exact.
    pub fn n_levels(&self) -> usize {
        2 + self.method.n_fuzzy() + usize::from(self.swapped_with.is_some())
    }

    /// Each level's description, from level 0 (else) to the top (exact).
    pub fn level_labels(&self) -> Vec<String> {
        let mut labels = vec!["else".to_owned()];
        for k in (0..self.method.n_fuzzy()).rev() {
            labels.push(self.method.label(k));
        }
        if let Some(other) = &self.swapped_with {
            labels.push(format!("swapped with {other}"));
        }
        labels.push("exact".to_owned());
        labels
    }

    /// Checks the thresholds and finds the columns in `columns`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for invalid thresholds;
    /// [`Error::NotFound`] for a column that is not in `columns`.
    pub fn compile(&self, columns: &[String]) -> Result<CompiledComparison> {
        self.method.check(&self.name)?;
        let find = |c: &str| {
            columns
                .iter()
                .position(|x| x == c)
                .ok_or_else(|| Error::NotFound {
                    what: "column",
                    id: c.to_owned(),
                })
        };
        Ok(CompiledComparison {
            comparison: self.clone(),
            column: find(&self.column)?,
            swapped: self.swapped_with.as_deref().map(find).transpose()?,
        })
    }
}

/// A comparison bound to column positions, ready to compare records.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledComparison {
    comparison: FieldComparison,
    column: usize,
    swapped: Option<usize>,
}

/// Jaro–Winkler similarity, as `strsim::jaro_winkler` computes it; ASCII
/// strings of at most 64 bytes (nearly every name, e-mail and phone) take an
/// allocation-free path with bit masks for the matched positions.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !(a.is_ascii() && b.is_ascii()) || x.len() > 64 || y.len() > 64 {
        return strsim::jaro_winkler(a, b);
    }
    let (la, lb) = (x.len(), y.len());
    if la == 0 || lb == 0 {
        return if la == lb { 1.0 } else { 0.0 };
    }
    let range = (la.max(lb) / 2).saturating_sub(1);
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &c) in x.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = (i + range + 1).min(lb);
        for (j, &d) in y.iter().enumerate().take(hi).skip(lo) {
            if b_flags & (1 << j) == 0 && d == c {
                a_flags |= 1 << i;
                b_flags |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut bj = 0usize;
    for (i, &c) in x.iter().enumerate() {
        if a_flags & (1 << i) != 0 {
            while b_flags & (1 << bj) == 0 {
                bj += 1;
            }
            if y[bj] != c {
                transpositions += 1;
            }
            bj += 1;
        }
    }
    let m = matches as f64;
    let jaro = (m / la as f64 + m / lb as f64 + (matches - transpositions / 2) as f64 / m) / 3.0;
    if jaro > 0.7 {
        let prefix = x.iter().zip(y).take(4).take_while(|(p, q)| p == q).count();
        jaro + 0.1 * prefix as f64 * (1.0 - jaro)
    } else {
        jaro
    }
}

/// Levenshtein distance, as `strsim::levenshtein` computes it (in
/// characters); ASCII strings of at most 64 bytes use one row on the stack.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !(a.is_ascii() && b.is_ascii()) || y.len() > 64 {
        return strsim::levenshtein(a, b);
    }
    let mut row = [0usize; 65];
    for (j, slot) in row.iter_mut().enumerate().take(y.len() + 1) {
        *slot = j;
    }
    for (i, &c) in x.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &d) in y.iter().enumerate() {
            let substitution = diagonal + usize::from(c != d);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[y.len()]
}

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !v.trim().is_empty())
}

/// The null level: a value is missing on either side.
pub const NULL_LEVEL: i8 = -1;

fn value(record: &[Option<String>], column: usize) -> Option<&str> {
    record
        .get(column)
        .and_then(|v| v.as_deref())
        .filter(|v| !v.trim().is_empty())
}

impl CompiledComparison {
    /// The comparison's settings.
    pub fn comparison(&self) -> &FieldComparison {
        &self.comparison
    }

    /// The agreement level of two records (rows of optional values in the
    /// compiled column order): [`NULL_LEVEL`] when either value is missing or
    /// cannot be read as the method's number or date; otherwise 0 (else) up to
    /// `n_levels − 1` (exact).
    pub fn level(&self, left: &[Option<String>], right: &[Option<String>]) -> i8 {
        let others = self
            .swapped
            .map(|other| (value(left, other), value(right, other)));
        self.level_of(value(left, self.column), value(right, self.column), others)
    }

    /// The column compared, as a position in the compiled column order.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The swapped column's position, if the comparison has a swapped level.
    pub fn swapped_column(&self) -> Option<usize> {
        self.swapped
    }

    /// The agreement level of two values: `a` and `b` are the compared
    /// column's values (missing or empty: `None`), `others` the swapped
    /// column's values of the left and right record (consulted only when
    /// the comparison has a swapped level).
    pub fn level_of(
        &self,
        a: Option<&str>,
        b: Option<&str>,
        others: Option<(Option<&str>, Option<&str>)>,
    ) -> i8 {
        let (Some(a), Some(b)) = (nonempty(a), nonempty(b)) else {
            return NULL_LEVEL;
        };
        let top = self.comparison.n_levels() as i8 - 1;
        let fuzzy_top = top - 1 - i8::from(self.swapped.is_some());
        let method = &self.comparison.method;
        // Equality first: string equality, or equal numbers / dates.
        let agreement = match method {
            Method::Numeric { max_difference } => {
                let (Ok(x), Ok(y)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) else {
                    return NULL_LEVEL;
                };
                if !(x.is_finite() && y.is_finite()) {
                    return NULL_LEVEL;
                }
                let d = (x - y).abs();
                if d == 0.0 {
                    return top;
                }
                max_difference.iter().position(|&m| d <= m)
            }
            Method::DateDays { max_days } => {
                let (Ok(x), Ok(y)) = (
                    a.trim().parse::<jiff::civil::Date>(),
                    b.trim().parse::<jiff::civil::Date>(),
                ) else {
                    return NULL_LEVEL;
                };
                let days = match x.until(y) {
                    Ok(span) => span.get_days().unsigned_abs(),
                    Err(_) => return 0,
                };
                if days == 0 {
                    return top;
                }
                max_days.iter().position(|&m| days <= m)
            }
            _ if a == b => return top,
            _ => None,
        };
        if let Some(k) = agreement {
            return fuzzy_top - k as i8;
        }
        if self.swapped.is_some() {
            if let Some((left_other, right_other)) = others {
                if nonempty(left_other) == Some(b) && nonempty(right_other) == Some(a) {
                    return top - 1;
                }
            }
        }
        let k = match method {
            Method::JaroWinkler { thresholds } => {
                let s = jaro_winkler(a, b);
                thresholds.iter().position(|&t| s >= t)
            }
            Method::Levenshtein { max_edits } => {
                // The length difference bounds the distance from below.
                let longest = max_edits.last().map_or(0, |m| *m as usize);
                if a.len().abs_diff(b.len()) > longest && a.is_ascii() && b.is_ascii() {
                    return 0;
                }
                let d = levenshtein(a, b);
                max_edits.iter().position(|&m| d <= m as usize)
            }
            _ => None,
        };
        match k {
            Some(k) => fuzzy_top - k as i8,
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn string_similarities_match_jellyfish() {
        // jellyfish 1.3.0: jaro_winkler_similarity(a, b), levenshtein_distance(a, b)
        for (a, b, jw, lev) in [
            ("martha", "marhta", 0.9611111111111111, 2),
            ("dwayne", "duane", 0.8400000000000001, 2),
            ("dixon", "dicksonx", 0.8133333333333332, 4),
            ("müller", "mueller", 0.8042857142857143, 2),
            ("jonathan", "jon", 0.8541666666666666, 5),
            ("", "abc", 0.0, 3),
        ] {
            assert!((strsim::jaro_winkler(a, b) - jw).abs() < 1e-12, "{a} {b}");
            assert_eq!(strsim::levenshtein(a, b), lev, "{a} {b}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_similarities_equal_strsim(a in "[a-e]{0,12}|[ -~]{0,70}", b in "[a-e]{0,12}|[ -~]{0,70}") {
            proptest::prop_assert_eq!(jaro_winkler(&a, &b).to_bits(), strsim::jaro_winkler(&a, &b).to_bits());
            proptest::prop_assert_eq!(levenshtein(&a, &b), strsim::levenshtein(&a, &b));
        }
    }

    #[test]
    fn levels_from_exact_down_to_else_with_null() {
        let columns = vec!["given".to_owned(), "family".to_owned()];
        let c = FieldComparison::new(
            "family",
            Method::JaroWinkler {
                thresholds: vec![0.95, 0.88],
            },
        )
        .swapped_with("given");
        assert_eq!(c.n_levels(), 5);
        assert_eq!(
            c.level_labels(),
            vec![
                "else",
                "Jaro–Winkler ≥ 0.88",
                "Jaro–Winkler ≥ 0.95",
                "swapped with given",
                "exact"
            ]
        );
        let c = c.compile(&columns).unwrap();
        let hans = row(&[Some("hans"), Some("muller")]);
        assert_eq!(c.level(&hans, &row(&[Some("hans"), Some("muller")])), 4);
        assert_eq!(c.level(&hans, &row(&[Some("muller"), Some("hans")])), 3);
        // jellyfish 1.3.0: jaro_winkler_similarity("muller", "muler") = 0.9611,
        // ("muller", "mulder") = 0.9222
        assert_eq!(c.level(&hans, &row(&[Some("hans"), Some("muler")])), 2);
        assert_eq!(c.level(&hans, &row(&[Some("hans"), Some("mulder")])), 1);
        assert_eq!(c.level(&hans, &row(&[Some("hans"), Some("schmidt")])), 0);
        assert_eq!(c.level(&hans, &row(&[Some("hans"), None])), NULL_LEVEL);
        assert_eq!(
            c.level(&hans, &row(&[Some("hans"), Some("  ")])),
            NULL_LEVEL
        );
        assert_eq!(
            c.level(&hans, &row(&[Some("hans")])),
            NULL_LEVEL,
            "short row"
        );
    }

    #[test]
    fn numbers_dates_and_edits() {
        let columns = vec!["born".to_owned(), "age".to_owned(), "zip".to_owned()];
        let dates = FieldComparison::new(
            "born",
            Method::DateDays {
                max_days: vec![1, 31],
            },
        )
        .compile(&columns)
        .unwrap();
        let r = |born: &str| row(&[Some(born), None, None]);
        assert_eq!(dates.level(&r("1980-03-05"), &r("1980-03-05")), 3);
        assert_eq!(dates.level(&r("1980-03-05"), &r("1980-03-06")), 2);
        assert_eq!(dates.level(&r("1980-03-05"), &r("1980-02-20")), 1);
        assert_eq!(dates.level(&r("1980-03-05"), &r("1981-03-05")), 0);
        assert_eq!(
            dates.level(&r("1980-03-05"), &r("5 March 1980")),
            NULL_LEVEL
        );
        let ages = FieldComparison::new(
            "age",
            Method::Numeric {
                max_difference: vec![1.0, 5.0],
            },
        )
        .compile(&columns)
        .unwrap();
        let a = |age: &str| row(&[None, Some(age), None]);
        assert_eq!(
            ages.level(&a("40"), &a("40.0")),
            3,
            "equal numbers, different text"
        );
        assert_eq!(ages.level(&a("40"), &a("41")), 2);
        assert_eq!(ages.level(&a("40"), &a("44.5")), 1);
        assert_eq!(ages.level(&a("40"), &a("46")), 0);
        assert_eq!(ages.level(&a("40"), &a("NaN")), NULL_LEVEL);
        let zips = FieldComparison::new(
            "zip",
            Method::Levenshtein {
                max_edits: vec![1, 2],
            },
        )
        .compile(&columns)
        .unwrap();
        let z = |zip: &str| row(&[None, None, Some(zip)]);
        assert_eq!(zips.level(&z("10115"), &z("10115")), 3);
        assert_eq!(zips.level(&z("10115"), &z("10117")), 2);
        assert_eq!(zips.level(&z("10115"), &z("10171")), 1);
        assert_eq!(zips.level(&z("10115"), &z("80331")), 0);
    }

    #[test]
    fn settings_are_checked_and_serde() {
        let columns = vec!["a".to_owned()];
        for method in [
            Method::JaroWinkler {
                thresholds: vec![0.8, 0.9],
            },
            Method::JaroWinkler {
                thresholds: vec![1.0],
            },
            Method::Levenshtein { max_edits: vec![0] },
            Method::Numeric {
                max_difference: vec![f64::NAN],
            },
            Method::DateDays {
                max_days: vec![5, 5],
            },
        ] {
            assert!(matches!(
                FieldComparison::new("a", method).compile(&columns),
                Err(Error::InvalidParameter { name: "method", .. })
            ));
        }
        assert!(matches!(
            FieldComparison::new("b", Method::Exact).compile(&columns),
            Err(Error::NotFound { .. })
        ));
        let c = FieldComparison::new(
            "a",
            Method::Levenshtein {
                max_edits: vec![1, 2],
            },
        )
        .swapped_with("a");
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""kind":"levenshtein""#), "{json}");
        let back: FieldComparison = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    proptest::proptest! {
        #[test]
        fn levels_stay_in_range_and_are_symmetric(
            a in proptest::option::of("\\PC{0,12}"),
            b in proptest::option::of("\\PC{0,12}"),
            a2 in proptest::option::of("[a-c]{0,2}"),
            b2 in proptest::option::of("[a-c]{0,2}"),
            which in 0usize..5,
        ) {
            let method = [
                Method::Exact,
                Method::JaroWinkler { thresholds: vec![0.9, 0.7] },
                Method::Levenshtein { max_edits: vec![1, 3] },
                Method::Numeric { max_difference: vec![0.5] },
                Method::DateDays { max_days: vec![2, 30] },
            ][which].clone();
            let columns = vec!["x".to_owned(), "y".to_owned()];
            let c = FieldComparison::new("x", method).swapped_with("y");
            let compiled = c.compile(&columns).unwrap();
            let left = vec![a, a2];
            let right = vec![b, b2];
            let level = compiled.level(&left, &right);
            proptest::prop_assert!(level >= NULL_LEVEL && (level as i64) < c.n_levels() as i64);
            proptest::prop_assert_eq!(level, compiled.level(&right, &left));
        }
    }
}
