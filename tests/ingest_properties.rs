//! Property tests: ingestion never panics, always accounts for every row, and
//! keeps customer ids byte-identical.

use std::collections::{BTreeSet, HashSet};

use custinsight::ingest::{Format, IngestOptions, IngestReport, Loader, transactions};
use custinsight::records::Transaction;
use proptest::prelude::*;

/// Runs one input through a `Vec` sink and through a [`Loader`], checks the
/// report invariants, and returns the report (`None` when the input as a whole
/// was refused).
fn ingest_checked(format: Format, input: &[u8]) -> Option<IngestReport> {
    let opts = IngestOptions::default();
    let mut out: Vec<Transaction> = Vec::new();
    let report = transactions(format, input, &opts, &mut out).ok()?;
    assert_eq!(report.accepted + report.rejected, report.rows, "{report:?}");
    assert_eq!(
        report.rejections.len() as u64,
        report.rejected,
        "{report:?}"
    );
    assert_eq!(out.len() as u64, report.accepted, "{report:?}");
    assert!(
        report.rejections.windows(2).all(|w| w[0].line < w[1].line),
        "rejections in input order: {report:?}"
    );
    for t in &out {
        t.check().expect("accepted transactions are valid");
    }

    // The store sink validates the same rows the same way.
    let mut loader = Loader::new(opts);
    let loaded = loader
        .transactions(format, input, "prop")
        .expect("same input, same outcome");
    assert_eq!(loaded, report, "Vec and CustomerBase sinks disagree");
    let (base, _) = loader.finish().unwrap();
    assert_eq!(base.n_transactions() as u64, report.accepted);
    let mut stored: Vec<Transaction> = base.iter_transactions().collect();
    let mut collected = out;
    stored.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    collected.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    for (s, c) in stored.iter().zip(&collected) {
        assert_eq!(s.order_id, c.order_id.trim());
        assert_eq!(s.customer_id, c.customer_id);
        assert_eq!(s.amount, c.amount);
        assert_eq!(s.is_refund, c.is_refund);
        assert_eq!(s.channel, c.channel);
        assert_eq!(s.timestamp.as_microsecond(), c.timestamp.as_microsecond());
    }
    Some(report)
}

/// Quotes a CSV field the way the csv crate reads it: wrapped in `"`, inner quotes doubled.
fn quote(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

fn needs_quotes(field: &str) -> bool {
    field.contains([',', '"', '\r', '\n'])
}

/// 1-based line of byte `offset`: line breaks are `\n`, `\r\n` and a lone `\r`.
fn line_at(bytes: &[u8], offset: usize) -> u64 {
    let before = &bytes[..offset];
    let breaks = before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    1 + breaks as u64
}

const HEADER: [&str; 8] = [
    "customer_id",
    "order_id",
    "timestamp",
    "amount",
    "currency",
    "channel",
    "is_refund",
    "store",
];

/// Valid and invalid values per transaction column.
const POOLS: [&[&str]; 8] = [
    &[
        "c1",
        "c2",
        "00001",
        "1",
        " c3 ",
        "",
        "c\u{1}x",
        "ü-ñ",
        "a,b",
        "quo\"te",
        "two\nlines",
    ],
    &[
        "o1", "o2", "o3", "o4", "o5", "o1 ", "", "dup", "o,6", "o\"7",
    ],
    &[
        "2024-01-01",
        "2024-02-29T10:00:00Z",
        "2024-03-01T10:00:00+01:00",
        "2024-03-01 10:00:00",
        "2024-02-30",
        "2023-02-29T00:00:00Z",
        "2024-13-01",
        "2024-01-01T24:00:00Z",
        "2016-12-31T23:59:60Z",
        "yesterday",
        "1850-01-01",
        "2250-01-01",
        "0000-01-01",
        "",
    ],
    &[
        "10",
        "12.34",
        "-5",
        "0",
        "+.5",
        "1e3",
        "1e-3",
        "NaN",
        "inf",
        "-Infinity",
        "1e999",
        "1,000.00",
        "99999999999999999999",
        "1.23456789",
        "-",
        ".",
    ],
    &["EUR", "eur", "USD", " gbp ", "EUX", "EURO", ""],
    &[
        "web",
        "store",
        "Call Centre",
        "carrier pigeon",
        "",
        "e-mail",
    ],
    &["", "true", "false", "1", "0", "yes", "maybe"],
    &["", "s1", "Main St, 1", "a\r\nb"],
];

fn random_text() -> BoxedStrategy<String> {
    prop::collection::vec(any::<char>(), 0..8)
        .prop_map(|cs| cs.into_iter().collect())
        .boxed()
}

fn field(column: usize) -> BoxedStrategy<String> {
    match POOLS.get(column) {
        Some(pool) => prop_oneof![
            6 => prop::sample::select(*pool).prop_map(str::to_owned),
            1 => random_text(),
        ]
        .boxed(),
        None => random_text(),
    }
}

#[derive(Debug, Clone)]
struct CsvRow {
    fields: Vec<String>,
    quote_all: bool,
    terminator: &'static str,
    blank_lines_after: usize,
}

fn csv_row() -> impl Strategy<Value = CsvRow> {
    let width = prop_oneof![10 => Just(HEADER.len()), 1 => 1usize..12];
    let fields = width.prop_flat_map(|w| (0..w).map(field).collect::<Vec<_>>());
    (
        fields,
        any::<bool>(),
        prop::sample::select(&["\n", "\r\n", "\r"][..]),
        prop_oneof![6 => Just(0usize), 1 => 1usize..3],
    )
        .prop_map(
            |(fields, quote_all, terminator, blank_lines_after)| CsvRow {
                fields,
                quote_all,
                terminator,
                blank_lines_after,
            },
        )
}

/// Renders rows under the header; returns the bytes and each row's (start line, width).
fn render_csv(
    rows: &[CsvRow],
    header_terminator: &str,
    final_terminator: bool,
) -> (Vec<u8>, Vec<(u64, usize)>) {
    let mut text = HEADER.join(",");
    text.push_str(header_terminator);
    let mut starts = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        starts.push((text.len(), row.fields.len()));
        let rendered: Vec<String> = row
            .fields
            .iter()
            .map(|f| {
                // A lone empty unquoted field would be a blank line, not a row.
                let lone_empty = row.fields.len() == 1 && f.is_empty();
                if row.quote_all || needs_quotes(f) || lone_empty {
                    quote(f)
                } else {
                    f.clone()
                }
            })
            .collect();
        text.push_str(&rendered.join(","));
        if i + 1 < rows.len() || final_terminator {
            text.push_str(row.terminator);
            for _ in 0..row.blank_lines_after {
                text.push_str(row.terminator);
            }
        }
    }
    let bytes = text.into_bytes();
    let lines = starts
        .iter()
        .map(|&(offset, width)| (line_at(&bytes, offset), width))
        .collect();
    (bytes, lines)
}

/// JSON Lines values per canonical field, as JSON text.
const JSON_POOLS: [&[&str]; 8] = [
    &[
        r#""c1""#,
        r#""00001""#,
        "1",
        r#"" c2 ""#,
        r#""""#,
        "null",
        r#"{"id":1}"#,
        r#""\u0001""#,
        r#""\u00fc""#,
    ],
    &[r#""o1""#, r#""o2""#, r#""o3""#, "7", r#""""#, "null", "[1]"],
    &[
        r#""2024-01-01""#,
        r#""2024-02-30""#,
        r#""yesterday""#,
        r#""2024-03-01T10:00:00+01:00""#,
        "20240101",
        "null",
    ],
    &[
        "10",
        "12.5",
        "-5",
        "0",
        r#""NaN""#,
        r#""1e999""#,
        "1e308",
        "-1e-9",
        r#""1,000""#,
        "true",
        "null",
        "[]",
    ],
    &[r#""EUR""#, r#""usd""#, r#""EUX""#, "null", "1"],
    &[r#""web""#, r#""carrier pigeon""#, r#""""#, "false"],
    &["true", "false", r#""yes""#, r#""maybe""#, "null", "1"],
    &[r#""s1""#, "null", "3", r#"{"a":1}"#],
];

fn json_line() -> impl Strategy<Value = String> {
    let object = prop::collection::vec((0..HEADER.len(), 0usize..16, any::<bool>()), 0..10)
        .prop_map(|pairs| {
            let members: Vec<String> = pairs
                .into_iter()
                .map(|(field, value, upper)| {
                    let pool = JSON_POOLS[field];
                    let key = if upper {
                        HEADER[field].to_ascii_uppercase()
                    } else {
                        HEADER[field].to_owned()
                    };
                    format!("{:?}:{}", key, pool[value % pool.len()])
                })
                .collect();
            format!("{{{}}}", members.join(","))
        });
    let garbage = prop::collection::vec(any::<char>(), 0..20)
        .prop_map(|cs| cs.into_iter().filter(|&c| c != '\n').collect::<String>());
    let items = Just(
        r#"{"customer_id":"c9","order_id":"li","timestamp":"2024-01-01","amount":1,"currency":"EUR","channel":"web","line_items":[{"product_id":"p","unit_price":"1"}]}"#
            .to_owned(),
    );
    prop_oneof![
        8 => object,
        2 => garbage,
        1 => prop::sample::select(&["", "   ", "[1,2]", "42", "{", "\"str\"", "null"][..]).prop_map(str::to_owned),
        1 => items,
    ]
}

/// A string id: non-empty after trimming, no control characters.
fn customer_id() -> impl Strategy<Value = String> {
    let any_text = prop::collection::vec(
        any::<char>().prop_filter("no control chars", |c| !c.is_control()),
        1..24,
    )
    .prop_map(|cs| cs.into_iter().collect::<String>());
    let zeros = "0{1,6}[0-9]{0,6}";
    let tricky = prop::sample::select(
        &[
            "\"",
            "\"\"",
            ",",
            "a,b",
            " x ",
            "id\"with\"quotes",
            "=1+1",
            "#",
            "\u{feff}x",
            "\u{2028}",
            "１２３",
        ][..],
    )
    .prop_map(str::to_owned);
    prop_oneof![4 => any_text, 2 => zeros, 1 => tricky]
        .prop_filter("non-empty after trim", |s| !s.trim().is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_as_csv_never_panic(input in prop::collection::vec(any::<u8>(), 0..2000)) {
        ingest_checked(Format::Csv, &input);
    }

    #[test]
    fn arbitrary_bytes_as_json_lines_never_panic(input in prop::collection::vec(any::<u8>(), 0..2000)) {
        let report = ingest_checked(Format::JsonLines, &input).expect("JSON Lines input is never refused as a whole");
        let non_blank = input.split(|&b| b == b'\n').enumerate().filter(|(i, l)| {
            let l = if *i == 0 { l.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(l) } else { l };
            !l.trim_ascii().is_empty()
        }).count();
        prop_assert_eq!(report.rows, non_blank as u64);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(tail in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut input = HEADER.join(",").into_bytes();
        input.push(b'\n');
        input.extend_from_slice(&tail);
        let report = ingest_checked(Format::Csv, &input).expect("the header is valid");
        prop_assert!(report.rejections.iter().all(|r| r.line >= 2));
    }

    #[test]
    fn csv_ish_input_is_fully_accounted_for(
        rows in prop::collection::vec(csv_row(), 0..40),
        header_terminator in prop::sample::select(&["\n", "\r\n"][..]),
        final_terminator in any::<bool>(),
    ) {
        let (input, lines) = render_csv(&rows, header_terminator, final_terminator);
        let report = ingest_checked(Format::Csv, &input).expect("the header is valid");
        prop_assert_eq!(report.rows, rows.len() as u64, "every generated row is a row");
        let row_lines: BTreeSet<u64> = lines.iter().map(|&(line, _)| line).collect();
        prop_assert_eq!(row_lines.len(), rows.len(), "rows start on distinct lines");
        for r in &report.rejections {
            prop_assert!(row_lines.contains(&r.line), "rejection {:?} is not at a row start ({:?})", r, lines);
        }
        for &(line, width) in &lines {
            if width != HEADER.len() {
                let r = report.rejections.iter().find(|r| r.line == line);
                prop_assert!(r.is_some_and(|r| r.field == "row"), "row at line {} with {} fields: {:?}", line, width, r);
            }
        }
    }

    #[test]
    fn json_ish_lines_are_fully_accounted_for(
        lines in prop::collection::vec(json_line(), 0..40),
        crlf in any::<bool>(),
    ) {
        let input = lines.join(if crlf { "\r\n" } else { "\n" });
        let report = ingest_checked(Format::JsonLines, input.as_bytes()).expect("JSON Lines input is never refused");
        let non_blank: BTreeSet<u64> = lines
            .iter()
            .enumerate()
            .filter(|&(i, l)| {
                let l = if i == 0 { l.strip_prefix('\u{feff}').unwrap_or(l) } else { l.as_str() };
                l.bytes().any(|b| !b.is_ascii_whitespace())
            })
            .map(|(i, _)| i as u64 + 1)
            .collect();
        prop_assert_eq!(report.rows, non_blank.len() as u64);
        for r in &report.rejections {
            prop_assert!(non_blank.contains(&r.line), "rejection {:?} is not on a non-blank line", r);
        }
    }

    #[test]
    fn customer_ids_round_trip_through_csv(ids in prop::collection::vec(customer_id(), 1..20)) {
        let mut text = String::from("customer_id,order_id,timestamp,amount,currency,channel\n");
        for (i, id) in ids.iter().enumerate() {
            text.push_str(&format!("{},o{i},2024-01-01,1,EUR,web\n", quote(id)));
        }
        let mut loader = Loader::new(IngestOptions::default());
        let report = loader.transactions(Format::Csv, text.as_bytes(), "ids").unwrap();
        prop_assert!(report.is_clean(), "{:?}", report);
        let (base, _) = loader.finish().unwrap();
        let distinct: HashSet<&str> = ids.iter().map(|id| id.trim()).collect();
        prop_assert_eq!(base.n_customers(), distinct.len());
        for id in &ids {
            let index = base.index_of(id);
            prop_assert!(index.is_some(), "{:?} not found", id);
            prop_assert_eq!(base.customer_id(index.unwrap()).as_bytes(), id.trim().as_bytes());
            let exact = base.index_of(id.trim());
            prop_assert_eq!(exact, index);
        }
    }

    #[test]
    fn customer_ids_round_trip_through_json_lines(ids in prop::collection::vec(customer_id(), 1..20)) {
        let mut text = String::new();
        for (i, id) in ids.iter().enumerate() {
            let id = serde_json::to_string(id).unwrap();
            text.push_str(&format!(
                r#"{{"customer_id":{id},"order_id":"o{i}","timestamp":"2024-01-01","amount":1,"currency":"EUR","channel":"web"}}"#
            ));
            text.push('\n');
        }
        let mut loader = Loader::new(IngestOptions::default());
        let report = loader.transactions(Format::JsonLines, text.as_bytes(), "ids").unwrap();
        prop_assert!(report.is_clean(), "{:?}", report);
        let (base, _) = loader.finish().unwrap();
        for id in &ids {
            let index = base.index_of(id);
            prop_assert!(index.is_some(), "{:?} not found", id);
            prop_assert_eq!(base.customer_id(index.unwrap()), id.trim());
        }
    }

    #[test]
    fn leading_zeros_are_preserved(n in 0u32..1_000_000, zeros in 1usize..6) {
        let padded = format!("{}{n}", "0".repeat(zeros));
        let plain = n.to_string();
        let text = format!(
            "customer_id,order_id,timestamp,amount,currency,channel\n{padded},o1,2024-01-01,1,EUR,web\n{plain},o2,2024-01-01,1,EUR,web\n"
        );
        let mut loader = Loader::new(IngestOptions::default());
        loader.transactions(Format::Csv, text.as_bytes(), "zeros").unwrap();
        let (base, _) = loader.finish().unwrap();
        prop_assert_eq!(base.n_customers(), 2);
        let a = base.index_of(&padded).unwrap();
        let b = base.index_of(&plain).unwrap();
        prop_assert_ne!(a, b);
        prop_assert_eq!(base.customer_id(a), padded.as_str());
        prop_assert_eq!(base.customer_id(b), plain.as_str());
    }
}

/// Reading from inside rayon tasks (several files ingested with `par_iter` on the
/// global pool, so every worker may be a caller) must not wait on the pool it runs
/// in, and gives the same report as a call from outside.
#[cfg(feature = "parallel")]
#[test]
fn ingest_inside_rayon_tasks_completes() {
    use custinsight::ingest::{Format, IngestOptions, IngestReport};
    use rayon::prelude::*;
    let mut csv = String::from("customer_id,order_id,timestamp,amount,currency,channel\n");
    for i in 0..20_000 {
        csv.push_str(&format!("{},o{i},2024-01-01,1,EUR,web\n", i % 700));
    }
    csv.push_str("x,bad,2024-02-30,1,EUR,web\n");
    let read = move || -> IngestReport {
        let mut v: Vec<custinsight::records::Transaction> = Vec::new();
        custinsight::ingest::transactions(
            Format::Csv,
            csv.as_bytes(),
            &IngestOptions::default(),
            &mut v,
        )
        .unwrap()
    };
    let outside = read();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let inside: Vec<IngestReport> = (0..16).into_par_iter().map(|_| read()).collect();
        let _ = done.send(inside);
    });
    // A deadlock shows as a timeout here rather than a hung test run.
    let inside = wait
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("nested ingestion deadlocked");
    assert!(inside.iter().all(|r| *r == outside));
    assert_eq!((outside.accepted, outside.rejected), (20_000, 1));
}
