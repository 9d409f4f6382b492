//! The loader's bulk path for touchpoints and consent events (customer ids
//! resolved together at the end, labels parsed once per batch) against the
//! row-by-row path (each row validated, then added to a builder): the same
//! reports, line for line, and the same base, in CSV (the parallel pipeline)
//! and JSON Lines, lenient and strict, also after other inputs.

use custinsight::Error;
use custinsight::ingest::{self, Format, IngestOptions, IngestReport, LabelPolicy, Loader, Mode};
use custinsight::prelude::*;
use custinsight::store::CustomerBaseBuilder;
use proptest::prelude::*;

/// One input for a loader: its kind, format and bytes.
#[derive(Debug, Clone, Copy)]
enum Input<'a> {
    Customers(Format, &'a [u8]),
    Touchpoints(Format, &'a [u8]),
    Consents(Format, &'a [u8]),
}

/// Everything a base holds, as text and codes.
fn fingerprint(base: &CustomerBase) -> Vec<String> {
    let mut out = Vec::new();
    let ids: Vec<&str> = base
        .customer_indices()
        .map(|i| base.customer_id(i))
        .collect();
    out.push(format!("ids {ids:?}"));
    out.push(format!("channels {:?}", base.channels()));
    out.push(format!("kinds {:?}", base.kinds()));
    out.push(format!("currencies {:?}", base.currencies()));
    out.push(format!("tp customers {:?}", base.tp_customer()));
    out.push(format!("tp times {:?}", base.tp_time_micros()));
    out.push(format!("tp channels {:?}", base.tp_channel_codes()));
    out.push(format!("tp kinds {:?}", base.tp_kind_codes()));
    out.push(format!("tp campaigns {:?}", base.tp_campaign_codes()));
    out.push(format!("tp topics {:?}", base.tp_topic_codes()));
    let touchpoints: Vec<Touchpoint> = base.iter_touchpoints().collect();
    out.push(format!("touchpoints {touchpoints:?}"));
    let mut csv = Vec::new();
    base.write_touchpoints_csv(&mut csv).unwrap();
    out.push(String::from_utf8(csv).unwrap());
    let mut csv = Vec::new();
    base.write_consents_csv(&mut csv).unwrap();
    out.push(String::from_utf8(csv).unwrap());
    let mut csv = Vec::new();
    base.write_customers_csv(&mut csv).unwrap();
    out.push(String::from_utf8(csv).unwrap());
    out
}

/// The inputs through a [`Loader`]: each input's report (or error), and the base.
fn bulk(
    opts: &IngestOptions,
    inputs: &[Input<'_>],
) -> (Vec<Result<IngestReport, String>>, Vec<String>) {
    let mut loader = Loader::new(opts.clone());
    let reports = inputs
        .iter()
        .map(|input| {
            match *input {
                Input::Customers(f, bytes) => loader.customers(f, bytes, "c"),
                Input::Touchpoints(f, bytes) => loader.touchpoints(f, bytes, "t"),
                Input::Consents(f, bytes) => loader.consents(f, bytes, "k"),
            }
            .map_err(|e| e.to_string())
        })
        .collect();
    let (base, _) = loader.finish().unwrap();
    (reports, fingerprint(&base))
}

/// The inputs row by row: the readers' typed rows added one at a time.
fn row_by_row(
    opts: &IngestOptions,
    inputs: &[Input<'_>],
) -> (Vec<Result<IngestReport, String>>, Vec<String>) {
    let mut builder = CustomerBaseBuilder::new();
    let reports = inputs
        .iter()
        .map(|input| {
            match *input {
                Input::Customers(f, bytes) => {
                    ingest::customers(f, bytes, opts, &mut |c| builder.add_customer(c).map(|_| ()))
                }
                Input::Touchpoints(f, bytes) => {
                    ingest::touchpoints(f, bytes, opts, &mut |t| builder.add_touchpoint(&t))
                }
                Input::Consents(f, bytes) => ingest::consents(f, bytes, opts, &mut |id, e| {
                    builder.add_consent_event(id.as_str(), e)
                }),
            }
            .map_err(|e| e.to_string())
        })
        .collect();
    (reports, fingerprint(&builder.build().unwrap()))
}

fn assert_same(opts: &IngestOptions, inputs: &[Input<'_>]) -> Vec<Result<IngestReport, String>> {
    let (bulk_reports, bulk_base) = bulk(opts, inputs);
    let (row_reports, row_base) = row_by_row(opts, inputs);
    assert_eq!(bulk_reports, row_reports, "reports differ");
    for (b, r) in bulk_base.iter().zip(&row_base) {
        assert_eq!(b, r, "bases differ");
    }
    assert_eq!(bulk_base.len(), row_base.len());
    for report in bulk_reports.iter().flatten() {
        assert_eq!(report.accepted + report.rejected, report.rows);
        assert_eq!(report.rejections.len() as u64, report.rejected);
    }
    bulk_reports
}

fn strict() -> IngestOptions {
    IngestOptions {
        mode: Mode::Strict,
        ..IngestOptions::default()
    }
}

fn rejecting_labels() -> IngestOptions {
    IngestOptions {
        unknown_labels: LabelPolicy::Reject,
        ..IngestOptions::default()
    }
}

const TOUCHPOINTS_CSV: &[u8] = b"customer_id,timestamp,channel,kind,campaign,topic,cost,cost_currency,session_id,content_stage\n\
k2,2024-01-01T10:00:00Z,email,open,spring,shoes,0.02,EUR,,\n\
k1,2024-01-01T10:05:00Z,web,doom scrolling,,,,,s-1,research\n\
 k2 ,2024-01-02T10:00:00Z,display,impression,spring,,-0.10,EUR,,\n\
k3,2024-01-02T10:00:00Z,paid_search,impression,spring,,0.10,EUX,,\n\
k4,2024-13-02T10:00:00Z,web,visit,,,,,,\n\
,2024-01-02T10:00:00Z,web,visit,,,,,,\n\
k5,2024-01-02T10:00:00Z,carrier pigeon,visit,autumn,,,,s-2,\n\
k5,2024-01-02T10:00:00Z,web,,,,,,,\n\
k6,2024-01-03,web,click,,,,,,someday\n\
k7,2024-01-03T08:00:00Z,web\n\
k1,1850-01-03T08:00:00Z,web,click,,,,,,\n\
\n\
k8,2024-01-03T08:00:00Z,\"sms\",\"pur\nchase\",,,,,,\n\
k\xff9,2024-01-03T08:00:00Z,web,click,,,,,,\n\
k1,2024-01-01T09:00:00Z,Carrier Pigeon,purchase,,,1.50,USD,s-1,decision\n\
k9,2024-01-04T08:00:00Z,push,purchase,,,,,,\n";

const TOUCHPOINTS_JSONL: &[u8] = b"{\"customer_id\":\"k2\",\"timestamp\":\"2024-01-01T10:00:00Z\",\"channel\":\"email\",\"kind\":\"open\",\"campaign\":\"spring\"}\n\
{\"customer_id\":\"k1\",\"timestamp\":\"2024-01-01T10:05:00Z\",\"channel\":\"web\",\"kind\":\"doom scrolling\",\"session_id\":\"s-1\"}\n\
{\"customer_id\":\"k3\",\"timestamp\":\"2024-01-02T10:00:00Z\",\"channel\":\"paid_search\",\"kind\":\"impression\",\"cost\":\"0.10\",\"cost_currency\":\"EUX\"}\n\
{\"customer_id\":\"\",\"timestamp\":\"2024-01-02T10:00:00Z\",\"channel\":\"web\",\"kind\":\"visit\"}\n\
not json\n\
{\"customer_id\":\"k5\",\"timestamp\":\"2024-01-02T10:00:00Z\",\"channel\":\"carrier pigeon\",\"kind\":\"visit\"}\n\
{\"customer_id\":\"k2\",\"timestamp\":\"2024-01-05T10:00:00Z\",\"channel\":\"web\",\"kind\":\"purchase\",\"cost\":\"2\",\"cost_currency\":\"EUR\"}\n";

const CUSTOMERS_CSV: &[u8] = b"customer_id,given_name,email\n\
k9,Ada,ada@example.com\n\
k1,Bo,bo@example.com\n\
k9,Ada again,ada2@example.com\n";

const CONSENTS_CSV: &[u8] = b"customer_id,purpose,status,timestamp,channel\n\
k1,marketing,granted,2024-01-01T00:00:00Z,email\n\
k10,marketing,granted,2024-01-01T00:00:00Z,\n\
k2,marketing,maybe,2024-01-01T00:00:00Z,email\n\
,marketing,granted,2024-01-01T00:00:00Z,email\n\
k10,profiling,withdrawn,2024-01-02T00:00:00Z,all\n\
k11,marketing,granted,2024-13-01T00:00:00Z,email\n\
k1,marketing,withdrawn,2024-01-03T00:00:00Z,carrier pigeon\n";

#[test]
fn touchpoints_csv_with_bad_rows_match_row_by_row() {
    let reports = assert_same(
        &IngestOptions::default(),
        &[Input::Touchpoints(Format::Csv, TOUCHPOINTS_CSV)],
    );
    let report = reports[0].as_ref().unwrap();
    assert_eq!((report.rows, report.accepted), (15, 6), "{report:?}");
    let lines: Vec<(u64, &str)> = report
        .rejections
        .iter()
        .map(|r| (r.line, r.field.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (4, "cost"),
            (5, "cost_currency"),
            (6, "timestamp"),
            (7, "customer_id"),
            (9, "kind"),
            (10, "content_stage"),
            (11, "row"),
            (12, "timestamp"),
            (16, "customer_id"),
        ]
    );
    assert_same(
        &rejecting_labels(),
        &[Input::Touchpoints(Format::Csv, TOUCHPOINTS_CSV)],
    );
}

#[test]
fn touchpoints_json_lines_match_row_by_row() {
    assert_same(
        &IngestOptions::default(),
        &[Input::Touchpoints(Format::JsonLines, TOUCHPOINTS_JSONL)],
    );
    assert_same(
        &rejecting_labels(),
        &[Input::Touchpoints(Format::JsonLines, TOUCHPOINTS_JSONL)],
    );
}

#[test]
fn strict_mode_stops_at_the_same_line_and_keeps_the_same_rows() {
    for input in [
        Input::Touchpoints(Format::Csv, TOUCHPOINTS_CSV),
        Input::Touchpoints(Format::JsonLines, TOUCHPOINTS_JSONL),
        Input::Consents(Format::Csv, CONSENTS_CSV),
    ] {
        let reports = assert_same(
            &strict(),
            &[Input::Customers(Format::Csv, b"customer_id\nk0\n"), input],
        );
        let err = reports[1].as_ref().unwrap_err();
        assert!(err.contains("line"), "{err}");
    }
    let mut loader = Loader::new(strict());
    match loader.touchpoints(Format::Csv, TOUCHPOINTS_CSV, "t") {
        Err(Error::Rejected { location, .. }) => {
            assert_eq!((location.line, location.field.as_str()), (4, "cost"));
        }
        other => panic!("expected a strict-mode rejection, got {other:?}"),
    }
    // The two rows before the rejected one were kept, as row by row.
    let (base, _) = loader.finish().unwrap();
    assert_eq!(base.n_touchpoints(), 2);
}

#[test]
fn consents_match_row_by_row() {
    let reports = assert_same(
        &IngestOptions::default(),
        &[Input::Consents(Format::Csv, CONSENTS_CSV)],
    );
    let report = reports[0].as_ref().unwrap();
    assert_eq!((report.rows, report.accepted, report.rejected), (7, 4, 3));
    assert_same(
        &rejecting_labels(),
        &[Input::Consents(Format::Csv, CONSENTS_CSV)],
    );
}

#[test]
fn inputs_after_other_inputs_keep_existing_customers() {
    assert_same(
        &IngestOptions::default(),
        &[
            Input::Customers(Format::Csv, CUSTOMERS_CSV),
            Input::Touchpoints(Format::Csv, TOUCHPOINTS_CSV),
            Input::Consents(Format::Csv, CONSENTS_CSV),
            Input::Touchpoints(Format::JsonLines, TOUCHPOINTS_JSONL),
            Input::Touchpoints(Format::Csv, b"customer_id,timestamp,channel,kind\n"),
            Input::Consents(Format::Csv, b"customer_id,purpose\n"),
            Input::Touchpoints(Format::Csv, TOUCHPOINTS_CSV),
        ],
    );
}

/// Many rows across several batches of the pipeline, every 37th bad in one of several ways.
fn many_rows(n: usize) -> Vec<u8> {
    let mut out = String::from("customer_id,timestamp,channel,kind,source\n");
    let channels = ["web", "email", "organic_search", "paid_search", "video"];
    let kinds = ["impression", "visit", "click", "purchase", "scroll"];
    for i in 0..n {
        let customer = (i * 7919) % 3001;
        let (c, k) = (channels[i % 5], kinds[(i / 5) % 5]);
        let minute = i % 60;
        let row = match (i % 37, i % 4) {
            (0, 0) => format!(",2024-01-01T10:{minute:02}:00Z,{c},{k},\n"),
            (0, 1) => format!("c{customer},2024-02-30T10:00:00Z,{c},{k},\n"),
            (0, 2) => format!("c{customer},2024-01-01T10:00:00Z,{c}\n"),
            (0, _) => format!("c{customer},2024-01-01T10:00:00Z,{c},,\n"),
            (1, _) => format!("c{customer},2024-01-01T10:{minute:02}:00Z,{c},{k},crm\n"),
            _ => format!(
                "c{customer},2024-01-0{}T10:{minute:02}:00Z,{c},{k},\n",
                1 + i % 9
            ),
        };
        out.push_str(&row);
    }
    out.into_bytes()
}

#[test]
fn many_rows_across_batches_match_row_by_row() {
    let input = many_rows(20_000);
    let reports = assert_same(
        &IngestOptions::default(),
        &[
            Input::Customers(Format::Csv, CUSTOMERS_CSV),
            Input::Touchpoints(Format::Csv, &input),
        ],
    );
    let report = reports[1].as_ref().unwrap();
    assert_eq!(report.rows, 20_000);
    assert!(report.rejected > 500, "{report:?}");
    assert_same(
        &rejecting_labels(),
        &[Input::Touchpoints(Format::Csv, &input)],
    );
    assert_same(&strict(), &[Input::Touchpoints(Format::Csv, &input)]);
}

/// A touchpoint CSV field: valid values most of the time, now and then a bad one.
fn field(column: usize) -> BoxedStrategy<String> {
    let good: Vec<&'static str> = match column {
        0 => vec!["a", "b", " c ", "007", "7", "x:y"],
        1 => vec![
            "2024-01-01T00:00:00Z",
            "2024-03-01",
            "2024-02-29T23:59:59+02:00",
        ],
        2 => vec!["web", "Email", "paid_search", "tiktok", "Carrier Pigeon"],
        3 => vec!["visit", "purchase", "open", "doom scrolling"],
        _ => vec!["", "spring", "1.00"],
    };
    let bad: Vec<&'static str> = match column {
        0 => vec!["", "a\u{7}"],
        1 => vec!["", "2024-02-30", "yesterday", "1800-01-01"],
        2 | 3 => vec![""],
        _ => vec!["-1", "x"],
    };
    prop_oneof![
        8 => prop::sample::select(good).prop_map(str::to_owned),
        1 => prop::sample::select(bad).prop_map(str::to_owned),
    ]
    .boxed()
}

fn csv_row() -> impl Strategy<Value = String> {
    (field(0), field(1), field(2), field(3), field(4), 0usize..20).prop_map(
        |(id, ts, channel, kind, cost, shape)| match shape {
            0 => format!("{id},{ts}\n"),
            1 => format!("\"{id}\",{ts},{channel},{kind},{cost},EUR,extra\n"),
            _ => format!("{id},{ts},{channel},{kind},{cost},EUR\n"),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bulk_touchpoints_match_row_by_row(
        rows in prop::collection::vec(csv_row(), 0..60),
        reject_labels in any::<bool>(),
        strict_mode in any::<bool>(),
    ) {
        let mut input = String::from("customer_id,timestamp,channel,kind,cost,cost_currency\n");
        input.extend(rows);
        let mut opts = if reject_labels { rejecting_labels() } else { IngestOptions::default() };
        if strict_mode {
            opts.mode = Mode::Strict;
        }
        assert_same(&opts, &[
            Input::Customers(Format::Csv, b"customer_id\nb\n"),
            Input::Touchpoints(Format::Csv, input.as_bytes()),
        ]);
    }
}

/// A field of a touchpoint file with only the four required columns: clean
/// values the short path reads, and values it must leave to the general
/// validator (blanks around, non-ASCII, other timestamp shapes, bad values).
fn short_field(column: usize) -> BoxedStrategy<String> {
    let values: Vec<&'static str> = match column {
        0 => vec!["a", "007", "x:y", " c ", "é1", "a\u{7}", "", "b"],
        1 => vec![
            "2024-01-01T00:00:00Z",
            "2024-03-01",
            "2024-03-01 10:00:00",
            " 2024-01-01T00:00:00Z",
            "2024-02-29T23:59:59+02:00",
            "2024-02-30",
            "1800-01-01",
            "",
        ],
        2 => vec![
            "web",
            "email",
            " web",
            "Wéb",
            "Carrier Pigeon",
            "",
            "paid_search",
        ],
        _ => vec!["visit", "open", "purchase ", "doom scrolling", "", "clíck"],
    };
    prop::sample::select(values).prop_map(str::to_owned).boxed()
}

fn short_row() -> impl Strategy<Value = String> {
    (
        short_field(0),
        short_field(1),
        short_field(2),
        short_field(3),
        0usize..12,
    )
        .prop_map(|(id, ts, channel, kind, shape)| match shape {
            0 => format!("{id},{ts},{channel}\n"),
            1 => format!("\"{id}\",{ts},{channel},{kind}\n"),
            _ => format!("{id},{ts},{channel},{kind}\n"),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Files with just the required columns take the short path for clean
    /// rows; the base and the report are still the row-by-row ones, whatever
    /// the rows, the label policy, the mode and a default source.
    #[test]
    fn short_path_touchpoints_match_row_by_row(
        rows in prop::collection::vec(short_row(), 0..60),
        reject_labels in any::<bool>(),
        strict_mode in any::<bool>(),
        default_source in any::<bool>(),
    ) {
        let mut input = String::from("customer_id,timestamp,channel,kind\n");
        input.extend(rows);
        let mut opts = if reject_labels { rejecting_labels() } else { IngestOptions::default() };
        if strict_mode {
            opts.mode = Mode::Strict;
        }
        if default_source {
            opts.default_source = Some("crm".into());
        }
        assert_same(&opts, &[
            Input::Customers(Format::Csv, b"customer_id\nb\n"),
            Input::Touchpoints(Format::Csv, input.as_bytes()),
        ]);
    }
}

#[test]
fn many_short_path_rows_across_blocks_match_row_by_row() {
    // About 5 MB: more than one block of the reader and many pieces.
    let mut input = String::from("customer_id,timestamp,channel,kind\n");
    let channels = ["web", "email", "organic_search", " paid_search", "video"];
    let kinds = ["impression", "visit", "click", "purchase", "scroll"];
    for i in 0..120_000usize {
        let customer = (i * 7919) % 30_011;
        let (c, k) = (channels[i % 5], kinds[(i / 5) % 5]);
        let day = 1 + i % 28;
        let ts = if i % 41 == 0 {
            format!("2024-02-{day:02}T10:00:00+01:00")
        } else if i % 43 == 0 {
            "2024-02-30T10:00:00Z".to_owned()
        } else {
            format!("2024-02-{day:02}T{:02}:{:02}:00Z", i % 24, i % 60)
        };
        input.push_str(&format!("c{customer},{ts},{c},{k}\n"));
    }
    let reports = assert_same(
        &IngestOptions::default(),
        &[Input::Touchpoints(Format::Csv, input.as_bytes())],
    );
    let report = reports[0].as_ref().unwrap();
    assert_eq!(report.rows, 120_000);
    assert!(report.rejected > 2_000, "{report:?}");
    assert_same(
        &strict(),
        &[Input::Touchpoints(Format::Csv, input.as_bytes())],
    );
}

/// A customer file with duplicates (within the file and with an earlier
/// input), bad values and a quoted field, over many pieces of the pipeline.
fn customers_csv(n: usize) -> Vec<u8> {
    let mut out = String::from("customer_id,given_name,email,birth_date,country,created_at\n");
    for i in 0..n {
        let row = match i % 29 {
            0 => format!("c{},Dup,dup{i}@example.com,,DE,2024-01-01\n", i / 2),
            1 => format!("c{i},Bad,not-an-email,1990-02-30,DE,2024-01-01\n"),
            2 => ",NoId,x@example.com,,,\n".to_owned(),
            3 => "b,Earlier,b@example.com,,,\n".to_owned(),
            4 => format!("\"c{i}\",\"Quoted, Name\",q{i}@example.com,1980-05-05,FR,2023-12-31\n"),
            _ => format!(
                "c{i},Name{i},n{i}@example.com,1985-01-0{},NL,2024-01-01\n",
                1 + i % 9
            ),
        };
        out.push_str(&row);
    }
    out.into_bytes()
}

#[test]
fn customers_match_row_by_row() {
    let input = customers_csv(30_000);
    for opts in [IngestOptions::default(), strict()] {
        let reports = assert_same(
            &opts,
            &[
                Input::Customers(Format::Csv, b"customer_id\nb\n"),
                Input::Customers(Format::Csv, &input),
            ],
        );
        if opts.mode == Mode::Lenient {
            let report = reports[1].as_ref().unwrap();
            assert_eq!(report.rows, 30_000);
            assert!(report.rejected > 2_000, "{report:?}");
            assert!(
                report
                    .rejections
                    .iter()
                    .any(|r| r.reason.contains("duplicate customer id")),
                "{report:?}"
            );
        }
    }
}
