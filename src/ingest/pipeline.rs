//! Parallel ingestion of CSV inputs: transactions (strings kept in one
//! buffer per chunk, no allocation per row) and any other record kind
//! (validated into owned records on the pool).
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

use std::io::Read;
use std::sync::mpsc::sync_channel;

use csv::ByteRecord;
use jiff::Timestamp;
use rayon::prelude::*;

use super::csv::{Header, Opened, open};
use super::rows::{self, RowProblem};
use super::{IngestOptions, Schema};
use crate::error::Result;
use crate::records::{Channel, Money};
use crate::store::TransactionRef;

const BATCH: usize = 8192;
const CHUNK: usize = 1024;

/// Records read from the input, reused across batches.
struct RawBatch {
    records: Vec<ByteRecord>,
    lines: Vec<u64>,
    len: usize,
}

/// A validated transaction whose strings live in its chunk's text buffer.
struct ParsedTransaction {
    customer_id: (u32, u32),
    order_id: (u32, u32),
    store: Option<(u32, u32)>,
    timestamp: Timestamp,
    amount: Money,
    is_refund: bool,
    channel: Channel,
}

/// The outcomes of consecutive rows.
struct ParsedChunk {
    text: String,
    rows: Vec<(u64, std::result::Result<ParsedTransaction, RowProblem>)>,
}

impl ParsedChunk {
    fn push_str(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        (start, self.text.len() as u32)
    }

    fn get(&self, (a, b): (u32, u32)) -> &str {
        self.text.get(a as usize..b as usize).unwrap_or("")
    }

    fn transaction_ref<'a>(&'a self, t: &'a ParsedTransaction) -> TransactionRef<'a> {
        TransactionRef {
            customer_id: self.get(t.customer_id),
            order_id: self.get(t.order_id),
            timestamp: t.timestamp,
            amount: t.amount,
            is_refund: t.is_refund,
            channel: &t.channel,
            store: t.store.map(|s| self.get(s)),
            line_items: &[],
        }
    }
}

fn validate_chunk(
    records: &[ByteRecord],
    lines: &[u64],
    header: &Header,
    opts: &IngestOptions,
) -> ParsedChunk {
    let mut chunk = ParsedChunk {
        text: String::with_capacity(records.len() * 24),
        rows: Vec::with_capacity(records.len()),
    };
    for (record, &line) in records.iter().zip(lines) {
        let outcome = header.row(record).and_then(|row| {
            rows::transaction(&row, opts).map(|t| {
                let customer_id = chunk.push_str(&t.customer_id);
                let order_id = chunk.push_str(&t.order_id);
                let store = t.store.as_deref().map(|s| chunk.push_str(s));
                ParsedTransaction {
                    customer_id,
                    order_id,
                    store,
                    timestamp: t.timestamp,
                    amount: t.amount,
                    is_refund: t.is_refund,
                    channel: t.channel,
                }
            })
        });
        chunk.rows.push((line, outcome));
    }
    chunk
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
        |header, records, lines| validate_chunk(records, lines, header, opts),
        |chunk: ParsedChunk| {
            for (line, outcome) in &chunk.rows {
                let row = match outcome {
                    Ok(t) => Ok(chunk.transaction_ref(t)),
                    Err(problem) => Err(problem.clone()),
                };
                sink(*line, row)?;
            }
            Ok(())
        },
    )
}

/// Reads a CSV in parallel, validating every row into a `T` with `validate`
/// on the rayon pool, and calls `sink` for every row, in input order.
pub(crate) fn rows_csv<R: Read + Send, T: Send>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    validate: impl Fn(&super::csv::CsvRow<'_>) -> std::result::Result<T, RowProblem> + Sync,
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
