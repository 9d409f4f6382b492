//! Parallel ingestion of CSV inputs: transactions and touchpoints (strings
//! kept in one buffer per chunk, no allocation per row; touchpoint labels
//! parsed once per chunk) and any other record kind (validated into owned
//! records on the pool).
//!
//! Three stages joined by bounded channels, so memory stays bounded (a few
//! blocks of 4 MiB, or batches of 8,192 records, in flight) whatever the input size:
//!
//! 1. a reader thread reads blocks of whole lines and cuts them into pieces
//!    ([`super::plain`]); from the first block with a quote on, it splits the
//!    input into records with the csv crate instead and notes each record's line;
//! 2. a validator thread splits the pieces into fields and checks every field on the rayon pool;
//! 3. the calling thread hands the outcomes, in input order, to the sink.
//!
//! The outcome for every row is exactly what the sequential reader produces:
//! the same records, line numbers and validators, only run in parallel.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::io::{Cursor, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use csv::ByteRecord;
use jiff::Timestamp;
use rayon::prelude::*;

use super::csv::{CsvRow, Header, Record, Records, header_names, open};
use super::labels::TouchpointLabels;
use super::plain::{Next, Opening, PlainBlock, PlainReader, for_each_line};
use super::rows::{self, RowProblem, TouchpointFields};
use super::touchpoint_columns::TouchpointPiece;
use super::{IngestOptions, Schema};
use crate::error::{Error, Result};
use crate::records::{Channel, JourneyStage, Money};
use crate::store::TransactionRef;

const BATCH: usize = 8192;
const CHUNK: usize = 1024;

/// Records read from the input, reused across batches.
struct RawBatch {
    records: Vec<ByteRecord>,
    lines: Vec<u64>,
    len: usize,
}

/// Consecutive rows handed to a parser.
#[derive(Clone, Copy)]
pub(super) enum Rows<'a> {
    /// Records split by the csv crate, with their lines.
    Parsed {
        records: &'a [ByteRecord],
        lines: &'a [u64],
    },
    /// Whole lines without quotes, the first on `first_line`.
    Plain {
        bytes: &'a [u8],
        first_line: u64,
        delimiter: u8,
    },
}

impl Rows<'_> {
    /// About how many rows there are.
    pub(super) fn len_hint(self) -> usize {
        match self {
            Rows::Parsed { records, .. } => records.len(),
            Rows::Plain { bytes, .. } => bytes.len() / 40,
        }
    }

    /// Calls `row` for every row with its line and its view, or the problem of a wrong width.
    pub(super) fn for_each(
        self,
        header: &Header,
        mut row: impl FnMut(u64, std::result::Result<CsvRow<'_>, RowProblem>),
    ) {
        match self {
            Rows::Parsed { records, lines } => {
                for (record, &line) in records.iter().zip(lines) {
                    row(line, header.row(Record::Parsed(record)));
                }
            }
            Rows::Plain {
                bytes,
                first_line,
                delimiter,
            } => for_each_line(bytes, first_line, delimiter, |line, bytes, spans| {
                row(line, header.row(Record::Line { bytes, spans }));
            }),
        }
    }
}

/// A string's (start, end) in its chunk's text buffer.
type Span = (u32, u32);

/// Copies `s` to the end of `text` and returns where it is.
fn stash(text: &mut String, s: &str) -> Span {
    let start = text.len() as u32;
    text.push_str(s);
    (start, text.len() as u32)
}

/// A validated transaction whose strings live in its chunk's text buffer.
struct ParsedTransaction {
    customer_id: Span,
    order_id: Span,
    store: Option<Span>,
    timestamp: Timestamp,
    amount: Money,
    is_refund: bool,
    channel: Channel,
}

/// A validated touchpoint whose strings live in its chunk's text buffer and
/// whose labels are indices into its chunk's [`TouchpointLabels`].
struct ParsedTouchpoint {
    customer_id: Span,
    timestamp: Timestamp,
    channel: u32,
    kind: u32,
    cost: Option<Money>,
    campaign: Option<Span>,
    topic: Option<Span>,
    session_id: Option<Span>,
    content_stage: Option<JourneyStage>,
}

/// The outcomes of consecutive rows, their strings in one buffer (no allocation per row).
struct TextChunk<T> {
    text: String,
    rows: Vec<(u64, std::result::Result<T, RowProblem>)>,
}

impl<T> TextChunk<T> {
    /// Validates `rows` with `validate`, which copies the strings it keeps into the buffer.
    fn validate(
        rows: Rows<'_>,
        header: &Header,
        mut validate: impl FnMut(&CsvRow<'_>, &mut String) -> std::result::Result<T, RowProblem>,
    ) -> Self {
        let n = rows.len_hint();
        let mut chunk = TextChunk {
            text: String::with_capacity(n * 24),
            rows: Vec::with_capacity(n),
        };
        rows.for_each(header, |line, row| {
            let outcome = row.and_then(|row| validate(&row, &mut chunk.text));
            chunk.rows.push((line, outcome));
        });
        chunk
    }

    fn get(&self, (a, b): Span) -> &str {
        self.text.get(a as usize..b as usize).unwrap_or("")
    }

    fn get_cow(&self, span: Option<Span>) -> Option<Cow<'_, str>> {
        span.map(|s| Cow::Borrowed(self.get(s)))
    }

    /// Hands every row to `sink` in order, strings borrowed from the buffer.
    fn drain<'c, V>(
        &'c self,
        view: impl Fn(&'c Self, &'c T) -> V,
        mut sink: impl FnMut(u64, std::result::Result<V, RowProblem>) -> Result<()>,
    ) -> Result<()> {
        for (line, outcome) in &self.rows {
            let row = match outcome {
                Ok(t) => Ok(view(self, t)),
                Err(problem) => Err(problem.clone()),
            };
            sink(*line, row)?;
        }
        Ok(())
    }
}

/// Reads a transactions CSV in parallel and calls `sink` for every row, in input order.
pub(crate) fn transactions_csv<R: Read + Send>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    mut sink: impl FnMut(u64, std::result::Result<TransactionRef<'_>, RowProblem>) -> Result<()>,
) -> Result<()> {
    parallel_csv(
        input,
        opts,
        schema,
        |header, batch| {
            TextChunk::validate(batch, header, |row, text| {
                rows::transaction(row, opts).map(|t| ParsedTransaction {
                    customer_id: stash(text, &t.customer_id),
                    order_id: stash(text, &t.order_id),
                    store: t.store.as_deref().map(|s| stash(text, s)),
                    timestamp: t.timestamp,
                    amount: t.amount,
                    is_refund: t.is_refund,
                    channel: t.channel,
                })
            })
        },
        |chunk: TextChunk<ParsedTransaction>| {
            chunk.drain(
                |c, t| TransactionRef {
                    customer_id: c.get(t.customer_id),
                    order_id: c.get(t.order_id),
                    timestamp: t.timestamp,
                    amount: t.amount,
                    is_refund: t.is_refund,
                    channel: &t.channel,
                    store: t.store.map(|s| c.get(s)),
                    line_items: &[],
                },
                &mut sink,
            )
        },
    )
}

/// A touchpoint as the sink sees it: strings borrowed, labels as indices into the chunk's labels.
pub(crate) type TouchpointView<'a> = TouchpointFields<'a, u32, u32>;

/// Reads a touchpoints CSV in parallel (labels parsed once per chunk) and
/// calls `sink` for every row, in input order, with its chunk's labels.
pub(crate) fn touchpoints_csv<R: Read + Send>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    mut sink: impl FnMut(
        u64,
        std::result::Result<TouchpointView<'_>, RowProblem>,
        &mut TouchpointLabels,
    ) -> Result<()>,
) -> Result<()> {
    parallel_csv(
        input,
        opts,
        schema,
        |header, batch| {
            let mut labels = TouchpointLabels::default();
            let chunk = TextChunk::validate(batch, header, |row, text| {
                rows::touchpoint_fields(row, opts, &mut labels).map(|t| ParsedTouchpoint {
                    customer_id: stash(text, &t.customer_id),
                    timestamp: t.timestamp,
                    channel: t.channel,
                    kind: t.kind,
                    cost: t.cost,
                    campaign: t.campaign.as_deref().map(|s| stash(text, s)),
                    topic: t.topic.as_deref().map(|s| stash(text, s)),
                    session_id: t.session_id.as_deref().map(|s| stash(text, s)),
                    content_stage: t.content_stage,
                })
            });
            (chunk, labels)
        },
        |(chunk, mut labels): (TextChunk<ParsedTouchpoint>, TouchpointLabels)| {
            chunk.drain(
                |c, t| TouchpointFields {
                    customer_id: Cow::Borrowed(c.get(t.customer_id)),
                    timestamp: t.timestamp,
                    channel: t.channel,
                    kind: t.kind,
                    cost: t.cost,
                    campaign: c.get_cow(t.campaign),
                    topic: c.get_cow(t.topic),
                    session_id: c.get_cow(t.session_id),
                    content_stage: t.content_stage,
                },
                |line, row| sink(line, row, &mut labels),
            )
        },
    )
}

/// Reads a touchpoints CSV in parallel into columns (labels parsed once per
/// piece, customer ids hashed with `hasher`) and hands every piece to `drain`, in input order.
pub(crate) fn touchpoint_columns_csv<R: Read + Send>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    hasher: &(impl BuildHasher + Sync),
    drain: impl FnMut(TouchpointPiece) -> Result<()>,
) -> Result<()> {
    parallel_csv(
        input,
        opts,
        schema,
        |header, rows| TouchpointPiece::read(rows, header, opts, hasher),
        drain,
    )
}

/// Reads a CSV in parallel, validating every row into a `T` with `validate`
/// on the rayon pool, and calls `sink` for every row, in input order.
pub(crate) fn rows_csv<R: Read + Send, T: Send>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    validate: impl Fn(&CsvRow<'_>) -> std::result::Result<T, RowProblem> + Sync,
    mut sink: impl FnMut(u64, std::result::Result<T, RowProblem>) -> Result<()>,
) -> Result<()> {
    parallel_csv(
        input,
        opts,
        schema,
        |header, batch| {
            let mut out = Vec::with_capacity(batch.len_hint());
            batch.for_each(header, |line, row| {
                out.push((line, row.and_then(|row| validate(&row))));
            });
            out
        },
        |chunk| {
            for (line, outcome) in chunk {
                sink(line, outcome)?;
            }
            Ok(())
        },
    )
}

/// A batch from the reader thread.
enum Batch {
    Plain(PlainBlock),
    Parsed(RawBatch),
}

/// Where the reader thread starts: plain lines after the header, or the
/// csv crate on the whole input (the bytes read so far put back in front).
enum Start<R> {
    Plain(PlainReader<R>),
    Parsed(Records<std::io::Chain<Cursor<Vec<u8>>, R>>),
}

/// Reads the header of `input`, without a CSV parser when its first line has no quotes.
fn start<R: Read>(input: R, opts: &IngestOptions, schema: &Schema) -> Result<(Header, Start<R>)> {
    match PlainReader::open(input).map_err(|e| Error::io("csv header", e))? {
        Opening::Plain { header, reader } => {
            let header = Header::new(&header_names(&header, opts)?, opts, schema)?;
            Ok((header, Start::Plain(reader)))
        }
        Opening::Parsed { head, rest } => {
            let opened = open(Cursor::new(head).chain(rest), opts, schema)?;
            Ok((opened.header, Start::Parsed(opened.records)))
        }
    }
}

/// The three stages of a parallel CSV read: one thread reads blocks of
/// lines (or splits records with the csv crate once a block has a quote),
/// the rayon pool turns each piece into `C` with `parse` (header, rows), and
/// the calling thread hands the chunks to `drain` in input order; blocks and
/// batches are reused.
fn parallel_csv<R: Read + Send, C: Send>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    parse: impl Fn(&Header, Rows<'_>) -> C + Sync,
    mut drain: impl FnMut(C) -> Result<()>,
) -> Result<()> {
    let (header, start) = start(input, opts, schema)?;
    let delimiter = opts.delimiter;
    std::thread::scope(|scope| -> Result<()> {
        let (raw_tx, raw_rx) = sync_channel::<Result<Batch>>(2);
        let (recycle_tx, recycle_rx) = sync_channel::<Batch>(4);
        let (parsed_tx, parsed_rx) = sync_channel::<Result<(Vec<C>, Batch)>>(2);
        scope.spawn(move || read_input(start, opts, &raw_tx, &recycle_rx));
        let header = &header;
        let parse = &parse;
        scope.spawn(move || {
            for raw in raw_rx {
                let parsed = raw.map(|batch| {
                    let chunks: Vec<C> = match &batch {
                        Batch::Parsed(batch) => batch.records[..batch.len]
                            .par_chunks(CHUNK)
                            .zip(batch.lines[..batch.len].par_chunks(CHUNK))
                            .map(|(records, lines)| parse(header, Rows::Parsed { records, lines }))
                            .collect(),
                        Batch::Plain(block) => block
                            .pieces
                            .par_iter()
                            .map(|piece| {
                                let rows = Rows::Plain {
                                    bytes: block.piece(piece),
                                    first_line: piece.2,
                                    delimiter,
                                };
                                parse(header, rows)
                            })
                            .collect(),
                    };
                    (chunks, batch)
                });
                if parsed_tx.send(parsed).is_err() {
                    return;
                }
            }
        });
        for parsed in parsed_rx {
            let (chunks, batch) = parsed?;
            for chunk in chunks {
                drain(chunk)?;
            }
            let _ = recycle_tx.try_send(batch);
        }
        Ok(())
    })
}

/// The reader stage: blocks of plain lines while the input has no quotes,
/// then records split by the csv crate.
fn read_input<R: Read>(
    start: Start<R>,
    opts: &IngestOptions,
    raw_tx: &SyncSender<Result<Batch>>,
    recycle_rx: &Receiver<Batch>,
) {
    let mut reader = match start {
        Start::Plain(reader) => reader,
        Start::Parsed(mut records) => return read_batches(&mut records, raw_tx, recycle_rx),
    };
    loop {
        let bytes = match recycle_rx.try_recv() {
            Ok(Batch::Plain(block)) => block.bytes,
            _ => Vec::new(),
        };
        match reader.next_block(bytes) {
            Ok(Next::Plain(block)) => {
                if raw_tx.send(Ok(Batch::Plain(block))).is_err() {
                    return;
                }
            }
            Ok(Next::End) => return,
            Ok(Next::Quoted { head, line }) => {
                let rest = Cursor::new(head).chain(reader.into_input());
                let mut records = Records::resume(rest, opts, line);
                return read_batches(&mut records, raw_tx, recycle_rx);
            }
            Err(e) => {
                let _ = raw_tx.send(Err(Error::io("csv row", e)));
                return;
            }
        }
    }
}

/// Splits the input into batches of records with the csv crate, with their
/// lines, reusing the batches the consumer hands back.
fn read_batches<R: Read>(
    reader: &mut Records<R>,
    raw_tx: &SyncSender<Result<Batch>>,
    recycle_rx: &Receiver<Batch>,
) {
    loop {
        let mut batch = match recycle_rx.try_recv() {
            Ok(Batch::Parsed(batch)) => batch,
            _ => RawBatch {
                records: Vec::new(),
                lines: Vec::new(),
                len: 0,
            },
        };
        batch.len = 0;
        while batch.len < BATCH {
            if batch.records.len() == batch.len {
                batch.records.push(ByteRecord::new());
                batch.lines.push(0);
            }
            match reader.next_record(&mut batch.records[batch.len]) {
                Ok(Some(line)) => {
                    batch.lines[batch.len] = line;
                    batch.len += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = raw_tx.send(Err(e));
                    return;
                }
            }
        }
        let finished = batch.len < BATCH;
        if batch.len > 0 && raw_tx.send(Ok(Batch::Parsed(batch))).is_err() {
            return;
        }
        if finished {
            return;
        }
    }
}
