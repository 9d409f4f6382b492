//! Parallel ingestion of CSV inputs: transactions and touchpoints (strings
//! kept in one buffer per chunk, no allocation per row; touchpoint labels
//! parsed once per chunk) and any other record kind (validated into owned
//! records on the pool).
//!
//! Three stages joined by bounded channels, so memory stays bounded (a few
//! batches of 8,192 records in flight) whatever the input size:
//!
//! 1. a reader thread splits the input into records (the csv crate) and notes each record's line;
//! 2. a validator thread checks every field of a batch on the rayon pool;
//! 3. the calling thread hands the outcomes, in input order, to the sink.
//!
//! The outcome for every row is exactly what the sequential reader produces:
//! the same record splitting, line numbers and validators, only run in parallel.

use std::borrow::Cow;
use std::io::Read;
use std::sync::mpsc::sync_channel;

use csv::ByteRecord;
use jiff::Timestamp;
use rayon::prelude::*;

use super::csv::{CsvRow, Header, Opened, open};
use super::labels::TouchpointLabels;
use super::rows::{self, RowProblem, TouchpointFields};
use super::{IngestOptions, Schema};
use crate::error::Result;
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
    /// Validates `records` with `validate`, which copies the strings it keeps into the buffer.
    fn validate(
        records: &[ByteRecord],
        lines: &[u64],
        header: &Header,
        mut validate: impl FnMut(&CsvRow<'_>, &mut String) -> std::result::Result<T, RowProblem>,
    ) -> Self {
        let mut chunk = TextChunk {
            text: String::with_capacity(records.len() * 24),
            rows: Vec::with_capacity(records.len()),
        };
        for (record, &line) in records.iter().zip(lines) {
            let outcome = header
                .row(record)
                .and_then(|row| validate(&row, &mut chunk.text));
            chunk.rows.push((line, outcome));
        }
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
        |header, records, lines| {
            TextChunk::validate(records, lines, header, |row, text| {
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
        |header, records, lines| {
            let mut labels = TouchpointLabels::default();
            let chunk = TextChunk::validate(records, lines, header, |row, text| {
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
        |header, records, lines| {
            records
                .iter()
                .zip(lines)
                .map(|(record, &line)| (line, header.row(record).and_then(|row| validate(&row))))
                .collect::<Vec<_>>()
        },
        |chunk| {
            for (line, outcome) in chunk {
                sink(line, outcome)?;
            }
            Ok(())
        },
    )
}

/// The three stages of a parallel CSV read: one thread splits the input into
/// batches of records, the rayon pool turns chunks of each batch into `C`
/// with `parse` (header, records, their lines), and the calling thread hands
/// the chunks to `drain` in input order; batches are reused.
fn parallel_csv<R: Read + Send, C: Send>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    parse: impl Fn(&super::csv::Header, &[ByteRecord], &[u64]) -> C + Sync,
    mut drain: impl FnMut(C) -> Result<()>,
) -> Result<()> {
    let Opened {
        records: mut reader,
        header,
    } = open(input, opts, schema)?;
    std::thread::scope(|scope| -> Result<()> {
        let (raw_tx, raw_rx) = sync_channel::<Result<RawBatch>>(2);
        let (recycle_tx, recycle_rx) = sync_channel::<RawBatch>(4);
        let (parsed_tx, parsed_rx) = sync_channel::<Result<(Vec<C>, RawBatch)>>(2);
        scope.spawn(move || read_batches(&mut reader, &raw_tx, &recycle_rx));
        let header = &header;
        let parse = &parse;
        scope.spawn(move || {
            for raw in raw_rx {
                let parsed = raw.map(|batch| {
                    let chunks: Vec<C> = batch.records[..batch.len]
                        .par_chunks(CHUNK)
                        .zip(batch.lines[..batch.len].par_chunks(CHUNK))
                        .map(|(records, lines)| parse(header, records, lines))
                        .collect();
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

/// The reader stage: splits the input into batches of records with their
/// lines, reusing the batches the consumer hands back.
fn read_batches<R: Read>(
    reader: &mut super::csv::Records<R>,
    raw_tx: &std::sync::mpsc::SyncSender<Result<RawBatch>>,
    recycle_rx: &std::sync::mpsc::Receiver<RawBatch>,
) {
    loop {
        let mut batch = recycle_rx.try_recv().unwrap_or_else(|_| RawBatch {
            records: Vec::new(),
            lines: Vec::new(),
            len: 0,
        });
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
        if batch.len > 0 && raw_tx.send(Ok(batch)).is_err() {
            return;
        }
        if finished {
            return;
        }
    }
}
