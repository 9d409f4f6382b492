//! One test per ingestion validation rule: exact line, field and reason of every rejection.

use custinsight::Error;
use custinsight::ingest::{
    Format, IngestOptions, IngestReport, LabelPolicy, Loader, Mode, consents, customers,
    read_transactions, touchpoints, transactions,
};
use custinsight::records::*;
use custinsight::store::CustomerBase;
use jiff::Timestamp;

const TX_HEADER: &str = "customer_id,order_id,timestamp,amount,currency,channel,is_refund,store\n";
const GOOD_FIRST: &str = "c-first,o-first,2024-01-05T10:00:00Z,10.00,EUR,web,,\n";
const GOOD_LAST: &str = "c-last,o-last,2024-01-06T10:00:00Z,20.00,EUR,store,false,s-1\n";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn lenient() -> IngestOptions {
    IngestOptions::default()
}

/// The report invariants every run must satisfy.
fn check_invariants(report: &IngestReport, collected: usize) {
    assert_eq!(report.accepted + report.rejected, report.rows, "{report:?}");
    assert_eq!(
        report.rejections.len() as u64,
        report.rejected,
        "{report:?}"
    );
    assert_eq!(collected as u64, report.accepted, "{report:?}");
}

fn ingest(format: Format, input: &[u8], opts: &IngestOptions) -> (Vec<Transaction>, IngestReport) {
    let mut out = Vec::new();
    let report = transactions(format, input, opts, &mut out).expect("input as a whole is readable");
    check_invariants(&report, out.len());
    (out, report)
}

fn ingest_csv(input: &[u8]) -> (Vec<Transaction>, IngestReport) {
    ingest(Format::Csv, input, &lenient())
}

/// Header (line 1), a good row (line 2), `row` (line 3), a good row (line 4).
fn sandwich(row: &[u8]) -> Vec<u8> {
    let mut input = Vec::new();
    input.extend_from_slice(TX_HEADER.as_bytes());
    input.extend_from_slice(GOOD_FIRST.as_bytes());
    input.extend_from_slice(row);
    if !row.ends_with(b"\n") {
        input.push(b'\n');
    }
    input.extend_from_slice(GOOD_LAST.as_bytes());
    input
}

fn assert_rejection(report: &IngestReport, index: usize, line: u64, field: &str, reason: &str) {
    let r = report
        .rejections
        .get(index)
        .unwrap_or_else(|| panic!("no rejection #{index}: {report:?}"));
    assert_eq!(r.line, line, "line of {r:?}");
    assert_eq!(r.field, field, "field of {r:?}");
    assert!(
        r.reason.contains(reason),
        "reason {:?} should contain {reason:?}",
        r.reason
    );
}

/// Asserts that the middle row of a sandwich is the only rejection: line 3, `field`, `reason`.
fn expect_rejected(row: &[u8], field: &str, reason: &str) -> Vec<Transaction> {
    let (out, report) = ingest_csv(&sandwich(row));
    assert_eq!(report.rows, 3, "{report:?}");
    assert_eq!(report.accepted, 2, "{report:?}");
    assert_eq!(report.rejected, 1, "{report:?}");
    assert_rejection(&report, 0, 3, field, reason);
    let orders: Vec<&str> = out.iter().map(|t| t.order_id.as_str()).collect();
    assert_eq!(orders, ["o-first", "o-last"]);
    out
}

/// Asserts that every row of a sandwich is accepted and returns the middle transaction.
fn expect_accepted(row: &[u8]) -> Transaction {
    let (out, report) = ingest_csv(&sandwich(row));
    assert_eq!(report.rows, 3, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(out.len(), 3);
    out[1].clone()
}

fn strict_error(format: Format, input: &[u8]) -> Error {
    let opts = IngestOptions {
        mode: Mode::Strict,
        ..IngestOptions::default()
    };
    let mut out = Vec::new();
    transactions(format, input, &opts, &mut out).expect_err("strict mode must stop at a bad row")
}

// ---------------------------------------------------------------- ids

#[test]
fn missing_customer_id_is_rejected() {
    expect_rejected(
        b",o-x,2024-01-05T11:00:00Z,5.00,EUR,web,,",
        "customer_id",
        "missing value",
    );
    expect_rejected(
        b"   ,o-x,2024-01-05T11:00:00Z,5.00,EUR,web,,",
        "customer_id",
        "missing value",
    );
}

#[test]
fn missing_order_id_is_rejected() {
    expect_rejected(
        b"c-x,,2024-01-05T11:00:00Z,5.00,EUR,web,,",
        "order_id",
        "missing value",
    );
}

// ---------------------------------------------------------------- timestamps

#[test]
fn unparseable_timestamp_is_rejected() {
    expect_rejected(
        b"c-x,o-x,yesterday,5.00,EUR,web,,",
        "timestamp",
        "yesterday",
    );
}

#[test]
fn missing_timestamp_is_rejected() {
    expect_rejected(b"c-x,o-x,,5.00,EUR,web,,", "timestamp", "missing value");
}

#[test]
fn impossible_date_is_rejected_but_leap_day_is_accepted() {
    expect_rejected(
        b"c-x,o-x,2024-02-30,5.00,EUR,web,,",
        "timestamp",
        "impossible calendar date",
    );
    expect_rejected(
        b"c-x,o-x,2023-02-29T10:00:00Z,5.00,EUR,web,,",
        "timestamp",
        "impossible calendar date",
    );
    let t = expect_accepted(b"c-x,o-x,2024-02-29,5.00,EUR,web,,");
    assert_eq!(t.timestamp, ts("2024-02-29T00:00:00Z"));
}

#[test]
fn rfc3339_with_offset_and_plain_date_are_accepted() {
    let t = expect_accepted(b"c-x,o-x,2024-03-01T10:00:00+01:00,5.00,EUR,web,,");
    assert_eq!(t.timestamp, ts("2024-03-01T09:00:00Z"));
    let t = expect_accepted(b"c-x,o-x,2024-03-01T10:00:00.250-05:30,5.00,EUR,web,,");
    assert_eq!(t.timestamp, ts("2024-03-01T15:30:00.25Z"));
    let t = expect_accepted(b"c-x,o-x,2024-03-01,5.00,EUR,web,,");
    assert_eq!(t.timestamp, ts("2024-03-01T00:00:00Z"));
    let t = expect_accepted(b"c-x,o-x,2024-03-01 12:34:56,5.00,EUR,web,,");
    assert_eq!(t.timestamp, ts("2024-03-01T12:34:56Z"));
}

#[test]
fn timestamp_outside_accepted_range_is_rejected() {
    expect_rejected(
        b"c-x,o-x,1850-01-01,5.00,EUR,web,,",
        "timestamp",
        "outside the accepted range",
    );
    expect_rejected(
        b"c-x,o-x,2250-06-01T00:00:00Z,5.00,EUR,web,,",
        "timestamp",
        "outside the accepted range",
    );
    // The range is configurable.
    let opts = IngestOptions {
        earliest: ts("1800-01-01T00:00:00Z"),
        ..IngestOptions::default()
    };
    let (out, report) = ingest(
        Format::Csv,
        &sandwich(b"c-x,o-x,1850-01-01,5.00,EUR,web,,"),
        &opts,
    );
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(out[1].timestamp, ts("1850-01-01T00:00:00Z"));
}

// ---------------------------------------------------------------- amounts

#[test]
fn nan_amount_is_rejected() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,NaN,EUR,web,,",
        "amount",
        "NaN or infinite",
    );
}

#[test]
fn infinite_amounts_are_rejected() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,inf,EUR,web,,",
        "amount",
        "NaN or infinite",
    );
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,-Infinity,EUR,web,true,",
        "amount",
        "NaN or infinite",
    );
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,1e999,EUR,web,,",
        "amount",
        "NaN or infinite",
    );
}

#[test]
fn thousands_separator_amount_is_rejected() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,\"1,000.00\",EUR,web,,",
        "amount",
        "not a decimal number",
    );
}

#[test]
fn overflowing_amount_is_rejected() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,99999999999999999999,EUR,web,,",
        "amount",
        "out of range",
    );
}

#[test]
fn missing_amount_is_rejected() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,,EUR,web,,",
        "amount",
        "missing value",
    );
}

#[test]
fn negative_amount_without_refund_flag_is_rejected() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,-5.00,EUR,web,,",
        "amount",
        "not flagged as a refund",
    );
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,-5.00,EUR,web,false,",
        "amount",
        "not flagged as a refund",
    );
}

#[test]
fn negative_amount_with_refund_flag_is_accepted() {
    let t = expect_accepted(b"c-x,o-x,2024-01-05T11:00:00Z,-5.00,EUR,web,true,");
    assert!(t.is_refund);
    assert_eq!(t.amount, Money::from_units(-50_000, Currency::EUR));
    let t = expect_accepted(b"c-x,o-x,2024-01-05T11:00:00Z,-0.5,EUR,web,yes,");
    assert!(t.is_refund);
    assert_eq!(t.amount.units, -5_000);
}

#[test]
fn refund_with_positive_amount_is_rejected() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUR,web,true,",
        "amount",
        "refund with a positive amount",
    );
}

#[test]
fn unparseable_refund_flag_is_rejected() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,-5.00,EUR,web,maybe,",
        "is_refund",
        "not a boolean",
    );
}

// ---------------------------------------------------------------- currency

#[test]
fn unknown_currency_is_rejected_and_lower_case_is_accepted() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUX,web,,",
        "currency",
        "unknown currency code `EUX`",
    );
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EURO,web,,",
        "currency",
        "unknown currency code",
    );
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,,web,,",
        "currency",
        "missing value",
    );
    let t = expect_accepted(b"c-x,o-x,2024-01-05T11:00:00Z,5.00,eur,web,,");
    assert_eq!(t.amount.currency, Currency::EUR);
}

#[test]
fn default_currency_fills_blank_values_and_missing_column() {
    let opts = IngestOptions {
        default_currency: Some(Currency::GBP),
        ..IngestOptions::default()
    };
    let (out, report) = ingest(
        Format::Csv,
        &sandwich(b"c-x,o-x,2024-01-05T11:00:00Z,5.00,,web,,"),
        &opts,
    );
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(out[1].amount.currency, Currency::GBP);
    let input = b"customer_id,order_id,timestamp,amount,channel\nc1,o1,2024-01-01,1,web\n";
    let (out, report) = ingest(Format::Csv, input, &opts);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(out[0].amount, Money::from_units(10_000, Currency::GBP));
}

// ---------------------------------------------------------------- duplicates

const DUPLICATE_ORDERS: &str = "customer_id,order_id,timestamp,amount,currency,channel\n\
    c1,o-1,2024-01-01,10,EUR,web\n\
    c2,o-2,2024-01-02,20,EUR,web\n\
    c-dup,o-1,2024-01-03,30,EUR,web\n\
    c3,o-3,2024-01-04,40,EUR,web\n";

#[test]
fn duplicate_order_id_is_rejected_when_collecting_into_a_vec() {
    let (out, report) = ingest_csv(DUPLICATE_ORDERS.as_bytes());
    assert_eq!((report.rows, report.accepted, report.rejected), (4, 3, 1));
    assert_rejection(&report, 0, 4, "order_id", "duplicate order id `o-1`");
    let orders: Vec<&str> = out.iter().map(|t| t.order_id.as_str()).collect();
    assert_eq!(orders, ["o-1", "o-2", "o-3"]);
    assert_eq!(
        out[0].customer_id.as_str(),
        "c1",
        "the first occurrence wins"
    );
}

#[test]
fn duplicate_order_id_is_rejected_when_loading_into_a_customer_base() {
    let mut loader = Loader::new(IngestOptions::default());
    let report = loader
        .transactions(Format::Csv, DUPLICATE_ORDERS.as_bytes(), "memory")
        .unwrap();
    check_invariants(&report, 3);
    assert_eq!((report.rows, report.accepted, report.rejected), (4, 3, 1));
    assert_rejection(&report, 0, 4, "order_id", "duplicate order id `o-1`");
    let (base, inputs) = loader.finish().unwrap();
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0].kind, "transactions");
    assert_eq!(inputs[0].source, "memory");
    assert_eq!(inputs[0].report, report);
    assert_eq!(base.n_transactions(), 3);
    let first = base.index_of("c1").unwrap();
    let range = base.transaction_range(first);
    assert_eq!(range.len(), 1);
    assert_eq!(base.order_id(range.start), "o-1");
    // A rejected row leaves no trace in the base: its customer is not "seen".
    assert_eq!(
        base.index_of("c-dup"),
        None,
        "rejected row created a customer"
    );
    assert_eq!(base.n_customers(), 3);
}

#[test]
fn duplicate_order_id_is_rejected_across_loader_inputs() {
    let mut loader = Loader::new(IngestOptions::default());
    let first = loader
        .transactions(
            Format::Csv,
            &b"customer_id,order_id,timestamp,amount,currency,channel\nc1,o-1,2024-01-01,1,EUR,web\n"[..],
            "a",
        )
        .unwrap();
    assert!(first.is_clean());
    let second = loader
        .transactions(Format::JsonLines, &br#"{"customer_id":"c2","order_id":"o-1","timestamp":"2024-01-02","amount":2,"currency":"EUR","channel":"web"}"#[..], "b")
        .unwrap();
    check_invariants(&second, 0);
    assert_rejection(&second, 0, 1, "order_id", "duplicate order id `o-1`");
    let (base, _) = loader.finish().unwrap();
    assert_eq!(base.n_transactions(), 1);
}

// ---------------------------------------------------------------- row shape and bytes

#[test]
fn wrong_column_count_is_rejected() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUR",
        "row",
        "expected 8 fields, found 5",
    );
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUR,web,,,extra",
        "row",
        "expected 8 fields, found 9",
    );
}

#[test]
fn invalid_utf8_is_rejected_without_panicking() {
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUR,\xff,,",
        "channel",
        "invalid UTF-8",
    );
    expect_rejected(
        b"c-\xffx,o-x,2024-01-05T11:00:00Z,5.00,EUR,web,,",
        "customer_id",
        "invalid UTF-8 at byte 2",
    );
    expect_rejected(
        b"c-x,o-x,2024-01-05T11:00:00Z,5.\xc3,EUR,web,,",
        "amount",
        "invalid UTF-8",
    );
}

#[test]
fn control_character_in_customer_id_is_rejected() {
    expect_rejected(
        b"c\x01x,o-x,2024-01-05T11:00:00Z,5.00,EUR,web,,",
        "customer_id",
        "control character",
    );
}

// ---------------------------------------------------------------- labels

#[test]
fn unknown_channel_is_kept_leniently_and_rejected_on_request() {
    let row = b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUR,carrier pigeon,,";
    let t = expect_accepted(row);
    assert_eq!(t.channel, Channel::Other("carrier pigeon".into()));
    let t = expect_accepted(b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUR,Call Centre,,");
    assert_eq!(t.channel, Channel::CallCenter);

    let opts = IngestOptions {
        unknown_labels: LabelPolicy::Reject,
        ..IngestOptions::default()
    };
    let (out, report) = ingest(Format::Csv, &sandwich(row), &opts);
    assert_eq!((report.rows, report.accepted, report.rejected), (3, 2, 1));
    assert_rejection(&report, 0, 3, "channel", "unknown value `carrier pigeon`");
    assert_eq!(out.len(), 2);
}

// ---------------------------------------------------------------- strict mode

#[test]
fn strict_mode_stops_at_the_first_bad_row_with_the_same_location() {
    let bad_rows: &[&[u8]] = &[
        b",o-x,2024-01-05T11:00:00Z,5.00,EUR,web,,",
        b"c-x,o-x,2024-02-30,5.00,EUR,web,,",
        b"c-x,o-x,2024-01-05T11:00:00Z,NaN,EUR,web,,",
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUX,web,,",
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUR",
        b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUR,\xff,,",
        b"c-x,o-first,2024-01-05T11:00:00Z,5.00,EUR,web,,",
    ];
    for row in bad_rows {
        let input = sandwich(row);
        let (_, report) = ingest_csv(&input);
        assert_eq!(report.rejected, 1);
        let expected = &report.rejections[0];
        match strict_error(Format::Csv, &input) {
            Error::Rejected { location, reason } => {
                assert_eq!(location.line, expected.line);
                assert_eq!(location.line, 3);
                assert_eq!(location.field, expected.field);
                assert_eq!(reason, expected.reason);
            }
            other => panic!("expected Error::Rejected, got {other:?}"),
        }
    }
    // Unknown labels are rejected by IngestOptions::strict().
    let mut out = Vec::new();
    let err = transactions(
        Format::Csv,
        &sandwich(b"c-x,o-x,2024-01-05T11:00:00Z,5.00,EUR,kiosk,,")[..],
        &IngestOptions::strict(),
        &mut out,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { location, .. } if location.line == 3 && location.field == "channel"),
        "{err:?}"
    );
    // Strict JSON Lines, too.
    let jsonl = b"{\"customer_id\":\"c1\",\"order_id\":\"o1\",\"timestamp\":\"2024-01-01\",\"amount\":1,\"currency\":\"EUR\",\"channel\":\"web\"}\n\nnot json\n";
    match strict_error(Format::JsonLines, jsonl) {
        Error::Rejected { location, reason } => {
            assert_eq!((location.line, location.field.as_str()), (3, "row"));
            assert!(reason.contains("invalid JSON"), "{reason}");
        }
        other => panic!("expected Error::Rejected, got {other:?}"),
    }
}

#[test]
fn strict_mode_accepts_clean_input() {
    let opts = IngestOptions::strict();
    let mut out = Vec::new();
    let report = transactions(
        Format::Csv,
        &sandwich(b"c-x,o-x,2024-01-05,1,EUR,web,,")[..],
        &opts,
        &mut out,
    )
    .unwrap();
    check_invariants(&report, out.len());
    assert_eq!((report.rows, report.accepted), (3, 3));
}

// ---------------------------------------------------------------- whole-input errors

#[test]
fn missing_required_column_is_an_input_error() {
    let input = b"customer_id,order_id,timestamp,amount,channel\nc1,o1,2024-01-01,1,web\n";
    let mut out = Vec::new();
    let err = transactions(Format::Csv, &input[..], &lenient(), &mut out).unwrap_err();
    assert!(
        matches!(&err, Error::MissingColumns { table, columns }
            if table == "transactions" && columns == &["currency"]),
        "{err:?}"
    );
    assert!(out.is_empty());
    // Strict mode treats it the same way.
    let err = strict_error(Format::Csv, input);
    assert!(
        matches!(&err, Error::MissingColumns { columns, .. } if columns == &["currency"]),
        "{err:?}"
    );
}

#[test]
fn empty_input_is_an_error() {
    let mut out = Vec::new();
    let err = transactions(Format::Csv, &b""[..], &lenient(), &mut out).unwrap_err();
    assert!(matches!(err, Error::EmptyInput { .. }), "{err:?}");
    let mut sink = |_c: Customer| Ok(());
    let err = customers(Format::Csv, &b""[..], &lenient(), &mut sink).unwrap_err();
    assert!(matches!(err, Error::EmptyInput { .. }), "{err:?}");
}

#[test]
fn header_only_input_has_no_rows() {
    let (out, report) = ingest_csv(TX_HEADER.as_bytes());
    assert!(out.is_empty());
    assert_eq!(report, IngestReport::default());
}

#[test]
fn invalid_options_are_rejected() {
    let mut out = Vec::new();
    let opts = IngestOptions {
        delimiter: b'"',
        ..IngestOptions::default()
    };
    let err = transactions(Format::Csv, TX_HEADER.as_bytes(), &opts, &mut out).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidParameter {
                name: "delimiter",
                ..
            }
        ),
        "{err:?}"
    );
    let opts = IngestOptions::default().map_column("kundennummer", "kunde");
    let err = transactions(Format::Csv, TX_HEADER.as_bytes(), &opts, &mut out).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidParameter {
                name: "columns",
                ..
            }
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- header handling

#[test]
fn column_mapping_renames_a_header() {
    let input = b"kunde,bestellung,zeit,betrag,waehrung,kanal\nK-1,B-1,2024-05-01,12.50,EUR,web\n";
    let opts = IngestOptions::default()
        .map_column("customer_id", "kunde")
        .map_column("order_id", "bestellung")
        .map_column("timestamp", "zeit")
        .map_column("amount", "betrag")
        .map_column("currency", "waehrung")
        .map_column("channel", "kanal");
    let (out, report) = ingest(Format::Csv, input, &opts);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(out[0].customer_id.as_str(), "K-1");
    assert_eq!(out[0].order_id, "B-1");
    assert_eq!(out[0].amount, Money::from_units(125_000, Currency::EUR));

    // Without the mapping the header lacks required columns.
    let mut sink = Vec::new();
    let err = transactions(Format::Csv, &input[..], &lenient(), &mut sink).unwrap_err();
    assert!(
        matches!(&err, Error::MissingColumns { table, columns }
            if table == "transactions" && columns.len() == 6),
        "{err:?}"
    );
}

#[test]
fn mapped_column_applies_to_rejections_and_json_keys() {
    let opts = IngestOptions::default().map_column("customer_id", "kunde");
    let input = b"kunde,order_id,timestamp,amount,currency,channel\n,o1,2024-01-01,1,EUR,web\n";
    let (_, report) = ingest(Format::Csv, input, &opts);
    assert_rejection(&report, 0, 2, "customer_id", "missing value");
    let jsonl =
        br#"{"kunde":"K-9","order_id":"o1","timestamp":"2024-01-01","amount":"1","currency":"EUR","channel":"web"}"#;
    let (out, report) = ingest(Format::JsonLines, jsonl, &opts);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(out[0].customer_id.as_str(), "K-9");
}

#[test]
fn semicolon_delimiter_is_supported() {
    let input = b"customer_id;order_id;timestamp;amount;currency;channel\nc1;o1;2024-01-01;1.5;EUR;web\nc2;o2;2024-01-02;x;EUR;web\n";
    let opts = IngestOptions {
        delimiter: b';',
        ..IngestOptions::default()
    };
    let (out, report) = ingest(Format::Csv, input, &opts);
    assert_eq!((report.rows, report.accepted), (2, 1));
    assert_rejection(&report, 0, 3, "amount", "not a decimal number");
    assert_eq!(out[0].amount.units, 15_000);
    // With the default delimiter the whole header is one unknown column.
    let mut sink = Vec::new();
    assert!(matches!(
        transactions(Format::Csv, &input[..], &lenient(), &mut sink),
        Err(Error::MissingColumns { columns, .. }) if columns.len() == 6
    ));
}

#[test]
fn header_names_are_case_insensitive_with_aliases() {
    let input = "\u{feff}Customer ID,Transaction-ID,Order Date,Revenue,CURRENCY,Channel,Refund,Location\n\
                 c1,o1,2024-01-01,-3,EUR,web,true,berlin\n";
    let (out, report) = ingest_csv(input.as_bytes());
    assert!(report.is_clean(), "{report:?}");
    let t = &out[0];
    assert_eq!(t.customer_id.as_str(), "c1");
    assert_eq!(t.order_id, "o1");
    assert!(t.is_refund);
    assert_eq!(t.store.as_deref(), Some("berlin"));
}

#[test]
fn customer_header_aliases() {
    let input = b"client_id,first_name,surname,e_mail,dob,zip\nk1,Ada,Lovelace,ada@example.org,1815-12-10,W1\n";
    let opts = IngestOptions {
        earliest: ts("1800-01-01T00:00:00Z"),
        ..IngestOptions::default()
    };
    let mut got = Vec::new();
    let report = customers(Format::Csv, &input[..], &opts, &mut |c| {
        got.push(c);
        Ok(())
    })
    .unwrap();
    check_invariants(&report, got.len());
    let c = &got[0];
    assert_eq!(c.id.as_str(), "k1");
    assert_eq!(
        c.profile.given_name.as_ref().map(|n| n.expose().as_str()),
        Some("Ada")
    );
    assert_eq!(
        c.profile.family_name.as_ref().map(|n| n.expose().as_str()),
        Some("Lovelace")
    );
    assert_eq!(c.profile.emails.len(), 1);
    assert_eq!(c.profile.emails[0].expose(), "ada@example.org");
    assert_eq!(
        c.profile
            .birth_date
            .as_ref()
            .map(|d| d.expose().to_string())
            .as_deref(),
        Some("1815-12-10")
    );
    assert_eq!(
        c.profile.postcode.as_ref().map(|p| p.expose().as_str()),
        Some("W1")
    );
    assert!(
        c.profile.attributes.is_empty(),
        "aliased columns are not attributes"
    );
}

// ---------------------------------------------------------------- quoting and line numbers

#[test]
fn quoted_fields_with_commas_and_newlines_keep_line_numbers() {
    let input = "customer_id,order_id,timestamp,amount,currency,channel,store\n\
                 c1,o1,2024-01-01,1,EUR,web,\"Main St, 1\"\n\
                 c2,o2,2024-01-02,2,EUR,web,\"Line one\nline two\"\n\
                 c3,o3,yesterday,3,EUR,web,plain\n\
                 c4,o4,2024-01-04,4,EUR,web,\"a \"\"quoted\"\", multi\nline\nstore\"\n\
                 ,o5,2024-01-05,5,EUR,web,\n";
    let (out, report) = ingest_csv(input.as_bytes());
    assert_eq!((report.rows, report.accepted, report.rejected), (5, 3, 2));
    // c2's record spans lines 3-4, so c3's row is on line 5 (2 after c2's).
    assert_rejection(&report, 0, 5, "timestamp", "yesterday");
    // c4's record spans lines 6-8, so the next row is on line 9.
    assert_rejection(&report, 1, 9, "customer_id", "missing value");
    assert_eq!(out[0].store.as_deref(), Some("Main St, 1"));
    assert_eq!(out[1].store.as_deref(), Some("Line one\nline two"));
    assert_eq!(
        out[2].store.as_deref(),
        Some("a \"quoted\", multi\nline\nstore")
    );
}

#[test]
fn crlf_line_endings_keep_line_numbers() {
    let input = "customer_id,order_id,timestamp,amount,currency,channel\r\n\
                 c1,o1,2024-01-01,1,EUR,web\r\n\
                 c2,o2,2024-01-02,NaN,EUR,web\r\n";
    let (out, report) = ingest_csv(input.as_bytes());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].channel, Channel::Web);
    assert_rejection(&report, 0, 3, "amount", "NaN");
}

#[test]
fn crlf_with_quoted_newlines_keeps_line_numbers() {
    let input = "customer_id,order_id,timestamp,amount,currency,channel,store\r\n\
                 c1,o1,2024-01-01,1,EUR,web,\"two\r\nlines\"\r\n\
                 c2,o2,2024-01-02,bad,EUR,web,\r\n\
                 c3,o3,2024-01-03,3,EUR,web,\"x\"\r\n\
                 ,o4,2024-01-04,4,EUR,web,\r\n";
    let (out, report) = ingest_csv(input.as_bytes());
    assert_eq!((report.rows, report.accepted), (4, 2));
    assert_rejection(&report, 0, 4, "amount", "not a decimal number");
    assert_rejection(&report, 1, 6, "customer_id", "missing value");
    assert_eq!(out[0].store.as_deref(), Some("two\r\nlines"));
}

#[test]
fn blank_lines_are_skipped_but_counted_as_lines() {
    let input = "customer_id,order_id,timestamp,amount,currency,channel\n\
                 \n\
                 c1,o1,2024-01-01,x,EUR,web\n\
                 \n\
                 \n\
                 c2,o2,2024-01-02,NaN,EUR,web\n\
                 \n";
    let (_, report) = ingest_csv(input.as_bytes());
    assert_eq!(report.rows, 2, "blank lines are not rows");
    assert_rejection(&report, 0, 3, "amount", "not a decimal number");
    assert_rejection(&report, 1, 6, "amount", "NaN");
    let (_, report) = ingest_csv(input.replace('\n', "\r\n").as_bytes());
    assert_eq!(report.rows, 2, "blank lines are not rows");
    assert_rejection(&report, 0, 3, "amount", "not a decimal number");
    assert_rejection(&report, 1, 6, "amount", "NaN");
}

#[test]
fn lone_carriage_returns_count_as_line_breaks() {
    let input = "customer_id,order_id,timestamp,amount,currency,channel\r\
                 c1,o1,2024-01-01,1,EUR,web\r\
                 c2,o2,2024-01-02,NaN,EUR,web\r";
    let (out, report) = ingest_csv(input.as_bytes());
    assert_eq!(out.len(), 1);
    assert_rejection(&report, 0, 3, "amount", "NaN");
}

// ---------------------------------------------------------------- customers

fn ingest_customers(
    format: Format,
    input: &[u8],
    opts: &IngestOptions,
) -> (Vec<Customer>, IngestReport) {
    let mut got = Vec::new();
    let report = customers(format, input, opts, &mut |c| {
        got.push(c);
        Ok(())
    })
    .expect("readable customers input");
    check_invariants(&report, got.len());
    (got, report)
}

#[test]
fn customers_duplicate_id_is_rejected() {
    let input = b"customer_id,given_name\nk1,Ada\nk2,Bob\n k1 ,Eve\n";
    let (got, report) = ingest_customers(Format::Csv, input, &lenient());
    assert_eq!((report.rows, report.accepted, report.rejected), (3, 2, 1));
    assert_rejection(&report, 0, 4, "customer_id", "duplicate customer id `k1`");
    assert_eq!(got[0].profile.given_name.as_ref().unwrap().expose(), "Ada");

    // Through the loader as well.
    let mut loader = Loader::new(lenient());
    let report = loader
        .customers(Format::Csv, &input[..], "customers")
        .unwrap();
    assert_rejection(&report, 0, 4, "customer_id", "duplicate customer id `k1`");
    let (base, _) = loader.finish().unwrap();
    assert_eq!(base.n_customers(), 2);
    let k1 = base.index_of("k1").unwrap();
    assert_eq!(
        base.customer(k1)
            .unwrap()
            .profile
            .given_name
            .as_ref()
            .unwrap()
            .expose(),
        "Ada"
    );
}

#[test]
fn customers_impossible_birth_date_is_rejected() {
    let input = b"customer_id,birth_date\nk1,1990-02-28\nk2,1990-02-30\nk3,1800-01-01\nk4,not a date\nk5,\n";
    let (got, report) = ingest_customers(Format::Csv, input, &lenient());
    assert_eq!((report.rows, report.accepted, report.rejected), (5, 2, 3));
    assert_rejection(&report, 0, 3, "birth_date", "impossible calendar date");
    assert_rejection(&report, 1, 4, "birth_date", "outside the accepted range");
    assert_rejection(&report, 2, 5, "birth_date", "not a date");
    assert_eq!(
        got[0]
            .profile
            .birth_date
            .as_ref()
            .unwrap()
            .expose()
            .to_string(),
        "1990-02-28"
    );
    assert_eq!(got[1].id.as_str(), "k5");
    assert!(got[1].profile.birth_date.is_none());
}

#[test]
fn customers_extra_columns_become_attributes() {
    let input = b"customer_id,given_name,loyalty_tier,Segment Code,empty\nk1,Ada,gold,A7,\n";
    let (got, report) = ingest_customers(Format::Csv, input, &lenient());
    assert!(report.is_clean(), "{report:?}");
    let attrs = &got[0].profile.attributes;
    assert_eq!(
        attrs.get("loyalty_tier"),
        Some(&AttributeValue::Text("gold".into()))
    );
    assert_eq!(
        attrs.get("Segment Code"),
        Some(&AttributeValue::Text("A7".into()))
    );
    assert!(
        !attrs.contains_key("empty"),
        "blank attribute values are dropped"
    );
    assert!(!attrs.contains_key("given_name"));
    assert_eq!(attrs.len(), 2);
}

#[test]
fn customers_invalid_utf8_attribute_is_rejected() {
    let input = b"customer_id,loyalty_tier\nk1,gold\nk2,\xfe\n";
    let (_, report) = ingest_customers(Format::Csv, input, &lenient());
    assert_rejection(&report, 0, 3, "loyalty_tier", "invalid UTF-8");
}

#[test]
fn customers_emails_are_split_on_semicolons() {
    let input =
        b"customer_id,email,phone\nk1,\"ada@example.org; ada.l@example.com ;\",+44 1|+44 2\n";
    let (got, report) = ingest_customers(Format::Csv, input, &lenient());
    assert!(report.is_clean(), "{report:?}");
    let emails: Vec<&str> = got[0]
        .profile
        .emails
        .iter()
        .map(|e| e.expose().as_str())
        .collect();
    assert_eq!(emails, ["ada@example.org", "ada.l@example.com"]);
    let phones: Vec<&str> = got[0]
        .profile
        .phones
        .iter()
        .map(|e| e.expose().as_str())
        .collect();
    assert_eq!(phones, ["+44 1", "+44 2"]);
}

#[test]
fn customers_gender_label_policy() {
    let input = b"customer_id,gender\nk1,W\nk2,prefer not to say\n";
    let (got, report) = ingest_customers(Format::Csv, input, &lenient());
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(got[0].profile.gender, Some(Gender::Female));
    assert_eq!(
        got[1].profile.gender,
        Some(Gender::Other("prefer not to say".into()))
    );
    let opts = IngestOptions {
        unknown_labels: LabelPolicy::Reject,
        ..IngestOptions::default()
    };
    let (_, report) = ingest_customers(Format::Csv, input, &opts);
    assert_rejection(&report, 0, 3, "gender", "prefer not to say");
}

#[test]
fn customers_json_lines() {
    let input = b"{\"customer_id\":\"k1\",\"given_name\":\"Ada\",\"tier\":\"gold\",\"points\":120,\"vip\":true}\n\
                  {\"customer_id\":\"k2\",\"nested\":{\"a\":1}}\n";
    let (got, report) = ingest_customers(Format::JsonLines, input, &lenient());
    assert_eq!((report.rows, report.accepted), (2, 1));
    assert_rejection(&report, 0, 2, "nested", "scalar");
    let attrs = &got[0].profile.attributes;
    assert_eq!(
        attrs.get("tier"),
        Some(&AttributeValue::Text("gold".into()))
    );
    assert_eq!(
        attrs.get("points"),
        Some(&AttributeValue::Text("120".into()))
    );
    assert_eq!(attrs.get("vip"), Some(&AttributeValue::Text("true".into())));
}

// ---------------------------------------------------------------- touchpoints

fn ingest_touchpoints(
    format: Format,
    input: &[u8],
    opts: &IngestOptions,
) -> (Vec<Touchpoint>, IngestReport) {
    let mut got = Vec::new();
    let report = touchpoints(format, input, opts, &mut |t| {
        got.push(t);
        Ok(())
    })
    .expect("readable touchpoints input");
    check_invariants(&report, got.len());
    (got, report)
}

#[test]
fn touchpoints_csv() {
    let input = b"customer_id,timestamp,channel,kind,campaign,cost,cost_currency,session_id\n\
                  k1,2024-01-01T10:00:00Z,email,open,spring,0.02,EUR,\n\
                  k1,2024-01-01T10:05:00Z,web,doom scrolling,,,,s-1\n\
                  k2,2024-01-02T10:00:00Z,display,impression,spring,-0.10,EUR,\n\
                  k2,2024-01-02T10:00:00Z,display,impression,spring,0.10,EUX,\n\
                  k3,2024-13-02T10:00:00Z,web,visit,,,,\n";
    let (got, report) = ingest_touchpoints(Format::Csv, input, &lenient());
    assert_eq!((report.rows, report.accepted, report.rejected), (5, 2, 3));
    assert_rejection(&report, 0, 4, "cost", "negative cost");
    assert_rejection(
        &report,
        1,
        5,
        "cost_currency",
        "unknown currency code `EUX`",
    );
    assert_rejection(&report, 2, 6, "timestamp", "impossible calendar date");
    assert_eq!(got[0].kind, TouchpointKind::Impression);
    assert_eq!(got[0].channel, Channel::Email);
    assert_eq!(got[0].campaign.as_deref(), Some("spring"));
    assert_eq!(got[0].cost, Some(Money::from_units(200, Currency::EUR)));
    assert_eq!(got[1].kind, TouchpointKind::Other("doom scrolling".into()));
    assert_eq!(got[1].session_id.as_deref(), Some("s-1"));
    assert_eq!(got[1].cost, None);

    let opts = IngestOptions {
        unknown_labels: LabelPolicy::Reject,
        ..IngestOptions::default()
    };
    let (_, report) = ingest_touchpoints(Format::Csv, input, &opts);
    assert_rejection(&report, 0, 3, "kind", "unknown value `doom scrolling`");
}

#[test]
fn touchpoints_json_lines() {
    let input = b"{\"customer_id\":\"k1\",\"timestamp\":\"2024-01-01T10:00:00+02:00\",\"channel\":\"app\",\"kind\":\"tap dance\",\"cost\":0.5,\"currency\":\"usd\"}\n\
                  {\"customer_id\":\"k1\",\"timestamp\":\"2024-01-01T11:00:00Z\",\"channel\":\"app\",\"kind\":\"click\",\"cost\":-0.5,\"cost_currency\":\"USD\"}\n\
                  \n\
                  {\"customer_id\":\"k2\",\"timestamp\":\"2024-01-01T11:00:00Z\",\"channel\":\"app\"}\n";
    let (got, report) = ingest_touchpoints(Format::JsonLines, input, &lenient());
    assert_eq!((report.rows, report.accepted, report.rejected), (3, 1, 2));
    assert_rejection(&report, 0, 2, "cost", "negative cost");
    assert_rejection(&report, 1, 4, "kind", "missing value");
    assert_eq!(got[0].kind, TouchpointKind::Other("tap dance".into()));
    assert_eq!(got[0].timestamp, ts("2024-01-01T08:00:00Z"));
    assert_eq!(got[0].cost, Some(Money::from_units(5_000, Currency::USD)));

    let mut loader = Loader::new(lenient());
    loader
        .touchpoints(Format::JsonLines, &input[..], "tp")
        .unwrap();
    let (base, _) = loader.finish().unwrap();
    assert_eq!(base.n_touchpoints(), 1);
    assert_eq!(base.touchpoint(0).unwrap(), got[0]);
}

#[test]
fn touchpoint_content_stage_is_parsed_and_unknown_stages_are_rejected() {
    let input = b"customer_id,timestamp,channel,kind,content_stage\n\
                  k1,2024-01-01T10:00:00Z,email,open,Onboarding\n\
                  k1,2024-01-02T10:00:00Z,email,open,someday\n\
                  k1,2024-01-03T10:00:00Z,email,open,\n";
    let (got, report) = ingest_touchpoints(Format::Csv, input, &lenient());
    assert_eq!((report.rows, report.accepted, report.rejected), (3, 2, 1));
    assert_rejection(
        &report,
        0,
        3,
        "content_stage",
        "unknown journey stage `someday`",
    );
    assert_eq!(got[0].content_stage, Some(JourneyStage::Adoption));
    assert_eq!(got[1].content_stage, None);

    let mut loader = Loader::new(lenient());
    loader.touchpoints(Format::Csv, &input[..], "tp").unwrap();
    let (base, _) = loader.finish().unwrap();
    assert_eq!(base.tp_content_stage(0), Some(JourneyStage::Adoption));
    assert_eq!(base.touchpoint(0).unwrap(), got[0]);
    let mut csv = Vec::new();
    base.write_touchpoints_csv(&mut csv).unwrap();
    let (back, _) = ingest_touchpoints(Format::Csv, &csv, &lenient());
    assert_eq!(back, got);
}

// ---------------------------------------------------------------- consents

#[test]
fn consents_csv_feed_allows() {
    let input = b"customer_id,channel,purpose,status,timestamp\n\
                  k1,,marketing,granted,2024-01-01T00:00:00Z\n\
                  k1,email,marketing,withdrawn,2024-02-01T00:00:00Z\n\
                  k2,all,analytics,yes,2024-01-01T00:00:00Z\n\
                  k3,web,marketing,maybe,2024-01-01T00:00:00Z\n\
                  k3,web,marketing,granted,2024-02-30T00:00:00Z\n";
    let mut events = Vec::new();
    let report = consents(Format::Csv, &input[..], &lenient(), &mut |id, e| {
        events.push((id, e));
        Ok(())
    })
    .unwrap();
    check_invariants(&report, events.len());
    assert_eq!((report.rows, report.accepted, report.rejected), (5, 3, 2));
    assert_rejection(&report, 0, 5, "status", "maybe");
    assert_rejection(&report, 1, 6, "timestamp", "impossible calendar date");
    assert_eq!(events[0].1.channel, None);
    assert_eq!(events[1].1.channel, Some(Channel::Email));
    assert_eq!(events[2].1.channel, None, "`all` means every channel");
    assert_eq!(events[2].1.status, ConsentStatus::Granted);

    let mut loader = Loader::new(lenient());
    let report = loader
        .consents(Format::Csv, &input[..], "consent.csv")
        .unwrap();
    assert_eq!(report.accepted, 3);
    loader
        .transactions(
            Format::Csv,
            &b"customer_id,order_id,timestamp,amount,currency,channel\nk1,o1,2024-01-01,1,EUR,web\n"[..],
            "tx",
        )
        .unwrap();
    let (base, inputs) = loader.finish().unwrap();
    assert_eq!(
        inputs.iter().map(|i| i.kind.as_str()).collect::<Vec<_>>(),
        ["consents", "transactions"]
    );
    let k1 = base.index_of("k1").unwrap();
    let k2 = base.index_of("k2").unwrap();
    let m = Purpose::Marketing;
    assert!(
        !base.allows(k1, &Channel::Email, &m, ts("2023-12-31T00:00:00Z")),
        "before the grant"
    );
    assert!(base.allows(k1, &Channel::Email, &m, ts("2024-01-15T00:00:00Z")));
    assert!(
        !base.allows(k1, &Channel::Email, &m, ts("2024-03-01T00:00:00Z")),
        "email withdrawn"
    );
    assert!(
        base.allows(k1, &Channel::Sms, &m, ts("2024-03-01T00:00:00Z")),
        "other channels still granted"
    );
    assert!(!base.allows(
        k1,
        &Channel::Sms,
        &Purpose::Analytics,
        ts("2024-03-01T00:00:00Z")
    ));
    assert!(base.allows(
        k2,
        &Channel::Web,
        &Purpose::Analytics,
        ts("2024-03-01T00:00:00Z")
    ));
    assert!(!base.allows(k2, &Channel::Web, &m, ts("2024-03-01T00:00:00Z")));
    assert_eq!(
        base.index_of("k3"),
        None,
        "rejected consent rows create no customer"
    );
    assert_eq!(base.transaction_range(k1).len(), 1);
}

// ---------------------------------------------------------------- JSON Lines transactions

const JSONL: &str = concat!(
    r#"{"customer_id":"c1","order_id":"o1","timestamp":"2024-01-01T10:00:00Z","amount":12.5,"currency":"EUR","channel":"web","line_items":[{"product_id":"p1","category":"shoes","quantity":2,"unit_price":"5.00"},{"product_id":"p2","unit_price":2.5}]}"#,
    "\n",
    "\n",
    "   \n",
    r#"{"customer_id":"c1","order_id":"o2","timestamp":"2024-01-02","amount":"1e999","currency":"EUR","channel":"web"}"#,
    "\n",
    "{not json\n",
    "[1, 2, 3]\n",
    "42\n",
    r#"{"customer_id":"c2","order_id":"o3","timestamp":"2024-01-03","amount":-3,"is_refund":true,"currency":"EUR","channel":"web","store":"s-9"}"#,
    "\n",
    r#"{"customer_id":{"id":1},"order_id":"o4","timestamp":"2024-01-03","amount":1,"currency":"EUR","channel":"web"}"#,
    "\n",
    r#"{"customer_id":"c3","order_id":"o5","timestamp":"2024-01-03","amount":1,"currency":"EUR","channel":"web","line_items":[{"product_id":"p","unit_price":"x"}]}"#,
    "\n",
    r#"{"customer_id":"c3","order_id":"o6","timestamp":"2024-01-04","amount":1,"currency":"EUR","channel":"web","line_items":null}"#,
);

#[test]
fn json_lines_transactions() {
    let (out, report) = ingest(Format::JsonLines, JSONL.as_bytes(), &lenient());
    // 11 physical lines, 2 of them blank (not rows, but still counted as lines).
    assert_eq!(
        (report.rows, report.accepted, report.rejected),
        (9, 3, 6),
        "{report:?}"
    );
    assert_rejection(&report, 0, 4, "amount", "NaN or infinite");
    assert_rejection(&report, 1, 5, "row", "invalid JSON");
    assert_rejection(&report, 2, 6, "row", "expected a JSON object");
    assert_rejection(&report, 3, 7, "row", "expected a JSON object");
    assert_rejection(&report, 4, 9, "customer_id", "nested value");
    assert_rejection(&report, 5, 10, "line_items", "item 0: unit_price");
    let orders: Vec<&str> = out.iter().map(|t| t.order_id.as_str()).collect();
    assert_eq!(orders, ["o1", "o3", "o6"]);
}

#[test]
fn json_lines_invalid_utf8_is_rejected() {
    let mut input = Vec::new();
    input.extend_from_slice(
        br#"{"customer_id":"c1","order_id":"o1","timestamp":"2024-01-01","amount":1,"currency":"EUR","channel":"web"}"#,
    );
    input.extend_from_slice(b"\n{\"customer_id\":\"c\xff\"}\n");
    let (out, report) = ingest(Format::JsonLines, &input, &lenient());
    assert_eq!(out.len(), 1);
    assert_rejection(&report, 0, 2, "row", "invalid UTF-8");
}

#[test]
fn json_lines_numbers_and_line_items_reach_the_customer_base() {
    let (out, report) = ingest(Format::JsonLines, JSONL.as_bytes(), &lenient());
    assert_eq!(report.accepted, 3);
    assert_eq!(out[0].amount, Money::from_units(125_000, Currency::EUR));
    assert_eq!(out[1].amount, Money::from_units(-30_000, Currency::EUR));
    assert!(out[1].is_refund);
    assert_eq!(out[1].store.as_deref(), Some("s-9"));
    assert!(out[2].line_items.is_empty(), "null line items are none");

    let mut loader = Loader::new(lenient());
    let loaded = loader
        .transactions(Format::JsonLines, JSONL.as_bytes(), "jsonl")
        .unwrap();
    assert_eq!(loaded, report);
    let (base, _) = loader.finish().unwrap();
    assert_eq!(base.n_transactions(), 3);
    let c1 = base.index_of("c1").unwrap();
    let range = base.transaction_range(c1);
    assert_eq!(range.len(), 1);
    let t = base.transaction(range.start).unwrap();
    assert_eq!(t, out[0]);
    let expected = vec![
        LineItem {
            product_id: "p1".into(),
            category: Some("shoes".into()),
            quantity: 2.0,
            unit_price: Money::from_units(50_000, Currency::EUR),
        },
        LineItem {
            product_id: "p2".into(),
            category: None,
            quantity: 1.0,
            unit_price: Money::from_units(25_000, Currency::EUR),
        },
    ];
    assert_eq!(t.line_items, expected);
    let c2 = base.index_of("c2").unwrap();
    let t = base.transaction(base.transaction_range(c2).start).unwrap();
    assert!(t.line_items.is_empty());
    assert_eq!(t.store.as_deref(), Some("s-9"));
}

#[test]
fn json_lines_empty_input_has_no_rows() {
    let (out, report) = ingest(Format::JsonLines, b"\n\n  \n", &lenient());
    assert!(out.is_empty());
    assert_eq!(report, IngestReport::default());
}

// ---------------------------------------------------------------- ids are opaque

#[test]
fn ids_are_opaque_strings() {
    let input = b"customer_id,order_id,timestamp,amount,currency,channel\n\
                  00001,o1,2024-01-01,1,EUR,web\n\
                  1,o2,2024-01-02,2,EUR,web\n\
                  \" 00001 \",o3,2024-01-03,3,EUR,web\n\
                  1.0,o4,2024-01-04,4,EUR,web\n";
    let mut loader = Loader::new(lenient());
    let report = loader.transactions(Format::Csv, &input[..], "ids").unwrap();
    assert!(report.is_clean(), "{report:?}");
    let (base, _): (CustomerBase, _) = loader.finish().unwrap();
    assert_eq!(base.n_customers(), 3);
    let a = base.index_of("00001").unwrap();
    let b = base.index_of("1").unwrap();
    let c = base.index_of("1.0").unwrap();
    assert_ne!(a, b);
    assert_ne!(b, c);
    assert_eq!(base.customer_id(a), "00001");
    assert_eq!(base.customer_id(b), "1");
    assert_eq!(
        base.transaction_range(a).len(),
        2,
        "surrounding whitespace is not part of an id"
    );
    assert_eq!(base.transaction_range(b).len(), 1);
    assert_eq!(base.index_of("01"), None);
}

// ---------------------------------------------------------------- files

#[test]
fn files_are_read_by_extension() {
    let dir = std::env::temp_dir().join(format!(
        "custinsight-ingest-validation-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let csv_path = dir.join("tx.csv");
    let jsonl_path = dir.join("tx.jsonl");
    std::fs::write(&csv_path, sandwich(b"c-x,o-x,2024-02-30,5.00,EUR,web,,")).unwrap();
    std::fs::write(&jsonl_path, JSONL).unwrap();

    let (out, report) = read_transactions(&csv_path, &lenient()).unwrap();
    check_invariants(&report, out.len());
    assert_rejection(&report, 0, 3, "timestamp", "impossible calendar date");
    let (out, report) = read_transactions(&jsonl_path, &lenient()).unwrap();
    check_invariants(&report, out.len());
    assert_eq!(report.rows, 9);

    let mut loader = Loader::new(lenient());
    let report = loader.transactions_file(&csv_path).unwrap();
    assert_eq!(report.accepted, 2);
    let report = loader.transactions_file(&jsonl_path).unwrap();
    assert_eq!(report.accepted, 3);
    let err = loader
        .transactions_file(dir.join("missing.csv"))
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let (base, inputs) = loader.finish().unwrap();
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[0].source, csv_path.display().to_string());
    assert_eq!(base.n_transactions(), 5);

    let err = read_transactions(dir.join("missing.csv"), &lenient()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
