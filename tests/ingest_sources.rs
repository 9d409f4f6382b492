//! Source records and record-keyed events through ingestion: every row
//! accounted for, one table per source system, the user's column mapping.

use custinsight::identity::SourceRecords;
use custinsight::ingest::table::{ColumnSpec, TableSpec, read_table};
use custinsight::ingest::{self, Format, IngestOptions, Loader};

#[test]
fn source_records_are_validated_row_by_row_and_split_by_system() {
    let csv = "system,record_id,First Name,Surname,E-Mail\n\
               webshop,W1,Ann,Lee,ann@example.org\n\
               loyalty,L1,Ann,Lee,\n\
               loyalty,,Bob,Stone,bob@example.org\n\
               loyalty,L1,Ann,Lee,again@example.org\n\
               bad:name,X1,Eve,Doe,\n\
               webshop,W2,Cid\n\
               ,W3,Dan,Dee,dan@example.org\n";
    let opts = IngestOptions::default()
        .map_column("given_name", "First Name")
        .map_column("email", "E-Mail");
    let mut records = SourceRecords::new();
    let report = ingest::source_records(Format::Csv, csv.as_bytes(), &opts, &mut records).unwrap();
    assert_eq!((report.rows, report.accepted, report.rejected), (7, 2, 5));
    assert_eq!(report.accepted + report.rejected, report.rows);
    let why: Vec<(u64, &str)> = report
        .rejections
        .iter()
        .map(|r| (r.line, r.field.as_str()))
        .collect();
    assert_eq!(
        why,
        [
            (4, "source_key"),
            (5, "source_key"),
            (6, "source"),
            (7, "row"),
            (8, "source")
        ]
    );
    assert_eq!(
        report.rejections[1].reason,
        "duplicate source record `loyalty:L1`"
    );
    assert_eq!(records.sources(), ["webshop", "loyalty"]);
    assert_eq!(records.columns(), ["given_name", "Surname", "email"]);
    let shop = records.table("webshop").unwrap();
    assert_eq!(shop.ids(), ["webshop:W1"]);
    assert_eq!(shop.value(0, 2), Some("ann@example.org"));
    assert!(records.contains("loyalty:L1"));
    // A default source takes rows without one; a second file adds its columns.
    let opts = IngestOptions {
        default_source: Some("crm".into()),
        ..IngestOptions::default()
    };
    let more = "source_key,given_name,city\nK1,Kim,Berlin\n";
    let report = ingest::source_records(Format::Csv, more.as_bytes(), &opts, &mut records).unwrap();
    assert!(report.is_clean());
    assert_eq!(
        records.columns(),
        ["given_name", "Surname", "email", "city"]
    );
    assert_eq!(records.table("crm").unwrap().ids(), ["crm:K1"]);
    assert_eq!(records.table("webshop").unwrap().value(0, 3), None);
    let all = records.combined().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all.columns()[0], "source");
    // JSON Lines too.
    let jsonl =
        "{\"source\":\"app\",\"source_key\":\"A1\",\"email\":\"x@y.org\"}\n{\"source\":\"app\"}\n";
    let report = ingest::source_records(
        Format::JsonLines,
        jsonl.as_bytes(),
        &IngestOptions::default(),
        &mut records,
    )
    .unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 1));
    assert_eq!(report.rejections[0].field, "source_key");
}

#[test]
fn events_with_a_source_belong_to_the_source_record() {
    let tx = "source,customer_id,order_id,timestamp,amount,currency,channel\n\
              webshop,42,o1,2024-01-05T10:00:00Z,10,EUR,web\n\
              loyalty,42,o2,2024-01-06T10:00:00Z,5,EUR,store\n\
              web:shop,42,o3,2024-01-06T10:00:00Z,5,EUR,store\n";
    let mut loader = Loader::new(IngestOptions::default());
    let report = loader
        .transactions(Format::Csv, tx.as_bytes(), "tx")
        .unwrap();
    assert_eq!((report.accepted, report.rejected), (2, 1));
    assert_eq!(report.rejections[0].field, "source");
    let customers = "source,customer_id,created_at\nwebshop,42,2023-01-01T00:00:00Z\n";
    assert!(
        loader
            .customers(Format::Csv, customers.as_bytes(), "customers")
            .unwrap()
            .is_clean()
    );
    let (base, _) = loader.finish().unwrap();
    // The same key in two systems is two records until identity resolution says otherwise.
    let shop = base.index_of("webshop:42").unwrap();
    let card = base.index_of("loyalty:42").unwrap();
    assert_ne!(shop, card);
    assert_eq!(
        base.customer(shop).unwrap().sources[0].reference(),
        "webshop:42"
    );
    assert!(base.index_of("42").is_none());
}

#[test]
fn tables_account_for_every_row() {
    let csv = "id,score,group\na,1.5,x\nb,,y\nc,NaN,z\nd,two,x\n,3,y\na,4,z\n";
    let spec = TableSpec::new(vec![
        ColumnSpec::text("id").filled().aliases(&["customer_id"]),
        ColumnSpec::number("score"),
    ])
    .keep_others(custinsight::ingest::table::ColumnKind::Text)
    .unique(&["id"])
    .unwrap();
    let (table, report) = read_table(
        Format::Csv,
        csv.as_bytes(),
        &IngestOptions::default(),
        &spec,
    )
    .unwrap();
    assert_eq!((report.rows, report.accepted, report.rejected), (6, 2, 4));
    let fields: Vec<&str> = report.rejections.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["score", "score", "id", "id"]);
    assert_eq!(table.names(), ["id", "score", "group"]);
    assert_eq!(table.lines(), [2, 3]);
    let scores = table.numbers("score").unwrap();
    assert_eq!(scores[0], 1.5);
    assert!(scores[1].is_nan());
    let err = read_table(
        Format::Csv,
        "score\n1\n".as_bytes(),
        &IngestOptions::default(),
        &spec,
    )
    .unwrap_err();
    assert!(
        matches!(&err, custinsight::Error::MissingColumns { columns, .. } if columns == &["id"]),
        "{err:?}"
    );
}

/// Read in chunks, a table is the whole table cut into pieces: the same
/// rows, lines and account, whatever the chunk size (and a file of any
/// length fits in the memory of one chunk).
#[test]
fn tables_read_in_chunks_are_the_whole_table_in_pieces() {
    use custinsight::ingest::table::read_table_chunks;
    let mut csv = String::from("id,score,note\n");
    for i in 0..23 {
        // Every fifth score is not a number: rejected, in every chunking.
        let score = if i % 5 == 3 {
            "x".to_owned()
        } else {
            format!("{i}.5")
        };
        csv.push_str(&format!("c{i},{score},n{i}\n"));
    }
    let spec = TableSpec::new(vec![
        ColumnSpec::text("id").filled(),
        ColumnSpec::number("score").required(),
        ColumnSpec::text("note"),
    ]);
    let opts = IngestOptions::default();
    let (whole, whole_report) = read_table(Format::Csv, csv.as_bytes(), &opts, &spec).unwrap();
    assert_eq!(whole.lines().len(), 19);
    for chunk_rows in [1, 4, 19, 100] {
        let mut pieces = Vec::new();
        let report =
            read_table_chunks(Format::Csv, csv.as_bytes(), &opts, &spec, chunk_rows, |t| {
                pieces.push(t);
                Ok(())
            })
            .unwrap();
        assert_eq!(report, whole_report, "chunks of {chunk_rows}");
        assert!(pieces.iter().all(|t| t.lines().len() <= chunk_rows));
        assert_eq!(pieces.len(), 19usize.div_ceil(chunk_rows));
        let lines: Vec<u64> = pieces.iter().flat_map(|t| t.lines().to_vec()).collect();
        assert_eq!(lines, whole.lines());
        let ids: Vec<Option<String>> = pieces
            .iter()
            .flat_map(|t| t.texts("id").unwrap().to_vec())
            .collect();
        assert_eq!(ids, whole.texts("id").unwrap());
        assert!(pieces.iter().all(|t| t.names() == whole.names()));
    }
    // No accepted row: one empty chunk with the columns.
    let mut pieces = Vec::new();
    read_table_chunks(
        Format::Csv,
        "id,score,note\nc1,x,\n".as_bytes(),
        &opts,
        &spec,
        4,
        |t| {
            pieces.push(t);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(pieces.len(), 1);
    assert_eq!(pieces[0].names(), whole.names());
    assert!(pieces[0].lines().is_empty());
    let err = read_table_chunks(Format::Csv, csv.as_bytes(), &opts, &spec, 0, |_| Ok(()));
    assert!(matches!(
        err,
        Err(custinsight::Error::InvalidParameter { .. })
    ));
}
