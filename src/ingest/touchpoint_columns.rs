//! Touchpoint rows read straight into columns on the pool, one piece of
//! input at a time, for a bulk load ([`TouchpointColumns`]).
//!
//! Most touchpoint files hold just the four required columns, with clean
//! ASCII values. For those, a row is read by a short path: a customer id of
//! printable ASCII, a timestamp in one of the hand-parsed shapes, labels
//! without surrounding blanks. Every row the short path is not sure of goes
//! through the general validator ([`rows::touchpoint_fields`]), and for the
//! rows it takes the short path gives exactly what the general one would.

use std::hash::BuildHasher;

use super::IngestOptions;
use super::csv::{CsvRow, Header, Record};
use super::labels::TouchpointLabels;
use super::parse::fast_timestamp;
use super::pipeline::{Rows, TouchpointView};
use super::plain::for_each_line;
use super::rows::{self, CHANNEL, CUSTOMER_ID, KIND, RowProblem, TIMESTAMP};
use crate::store::{NO_STAGE, TouchpointColumns, TouchpointExtra, to_micros};

/// One piece of a touchpoints CSV read into columns.
pub(crate) struct TouchpointPiece {
    /// The piece's labels, which the columns' channels and kinds index.
    pub(crate) labels: TouchpointLabels,
    /// The accepted rows, in input order.
    pub(crate) columns: TouchpointColumns,
    /// (accepted rows before it, line, problem) of every rejected row, in input order.
    pub(crate) rejected: Vec<(usize, u64, RowProblem)>,
}

impl TouchpointPiece {
    /// Notes a rejected row after the rows accepted so far.
    fn reject(&mut self, line: u64, problem: RowProblem) {
        self.rejected.push((self.columns.len(), line, problem));
    }

    /// Validates `rows` into columns, each customer id hashed with `hasher`.
    pub(super) fn read(
        rows: Rows<'_>,
        header: &Header,
        opts: &IngestOptions,
        hasher: &impl BuildHasher,
    ) -> Self {
        let short = ShortPath::of(header, opts);
        let mut piece = TouchpointPiece {
            labels: TouchpointLabels::default(),
            columns: TouchpointColumns::default(),
            rejected: Vec::new(),
        };
        let n = rows.len_hint();
        let cols = &mut piece.columns;
        cols.ids = crate::store::StrArena::with_capacity(n, n * 8);
        cols.hashes.reserve(n);
        cols.time_us.reserve(n);
        cols.channel.reserve(n);
        cols.kind.reserve(n);
        cols.content_stage.reserve(n);
        let general = |piece: &mut TouchpointPiece, line: u64, row: &CsvRow<'_>| {
            let pushed = rows::touchpoint_fields(row, opts, &mut piece.labels)
                .and_then(|t| piece.columns.push(&t, hasher));
            if let Err(problem) = pushed {
                piece.reject(line, problem);
            }
        };
        match (rows, &short) {
            // Plain lines go to the short path as split, without a row view.
            (
                Rows::Plain {
                    bytes,
                    first_line,
                    delimiter,
                },
                Some(short),
            ) => for_each_line(bytes, first_line, delimiter, |line, text, spans| {
                let field = |column: usize| {
                    let &(a, b) = spans.get(column)?;
                    text.get(a as usize..b as usize)
                };
                if spans.len() == header.width
                    && short.read(field, opts, &mut piece.labels, &mut piece.columns, hasher)
                {
                    return;
                }
                match header.row(Record::Line { bytes: text, spans }) {
                    Ok(row) => general(&mut piece, line, &row),
                    Err(problem) => piece.reject(line, problem),
                }
            }),
            _ => rows.for_each(header, |line, row| match row {
                Ok(row) => {
                    let taken = short.as_ref().is_some_and(|short| {
                        short.read(
                            |c| row.raw(c),
                            opts,
                            &mut piece.labels,
                            &mut piece.columns,
                            hasher,
                        )
                    });
                    if !taken {
                        general(&mut piece, line, &row);
                    }
                }
                Err(problem) => piece.reject(line, problem),
            }),
        }
        piece
    }
}

impl TouchpointColumns {
    /// Appends a row's id (hashed with `hasher`) and its required fields;
    /// returns the row's index. Nothing is appended when the id does not fit.
    fn push_required(
        &mut self,
        id: &str,
        hasher: &impl BuildHasher,
        time_us: i64,
        channel: u32,
        kind: u32,
        content_stage: u8,
    ) -> crate::Result<u32> {
        self.ids.push(id)?;
        self.hashes.push(hasher.hash_one(id));
        let row = self.time_us.len() as u32;
        self.time_us.push(time_us);
        self.channel.push(channel);
        self.kind.push(kind);
        self.content_stage.push(content_stage);
        Ok(row)
    }

    /// Appends a valid row (its customer id checked and trimmed by the validator).
    fn push(
        &mut self,
        t: &TouchpointView<'_>,
        hasher: &impl BuildHasher,
    ) -> std::result::Result<(), RowProblem> {
        let row = self
            .push_required(
                &t.customer_id,
                hasher,
                to_micros(t.timestamp),
                t.channel,
                t.kind,
                t.content_stage.map_or(NO_STAGE, |s| s.index() as u8),
            )
            .map_err(|e| RowProblem::new("customer_id", e.to_string()))?;
        if t.cost.is_some() || t.campaign.is_some() || t.topic.is_some() || t.session_id.is_some() {
            let extra = TouchpointExtra {
                row,
                cost: t.cost,
                campaign: self.stash(t.campaign.as_deref()),
                topic: self.stash(t.topic.as_deref()),
                session: self.stash(t.session_id.as_deref()),
            };
            self.extras.push(extra);
        }
        Ok(())
    }
}

/// Where the four columns are, for a header that maps no other touchpoint field.
struct ShortPath {
    customer_id: usize,
    timestamp: usize,
    channel: usize,
    kind: usize,
}

/// Whether an edge byte is one `str::trim` would remove (ASCII `White_Space`).
fn blank(b: u8) -> bool {
    b == b' ' || (0x09..=0x0D).contains(&b)
}

/// Whether a field has nothing to trim: its first and last bytes are ASCII
/// other than blanks (so, if it is UTF-8, its first and last characters are).
fn untrimmed(field: &[u8]) -> bool {
    match (field.first(), field.last()) {
        (Some(&first), Some(&last)) => {
            first.is_ascii() && last.is_ascii() && !blank(first) && !blank(last)
        }
        _ => false,
    }
}

impl ShortPath {
    /// The short path for rows under `header`: none when it maps an optional
    /// touchpoint field or a source applies to every row.
    fn of(header: &Header, opts: &IngestOptions) -> Option<Self> {
        let required = [CUSTOMER_ID, TIMESTAMP, CHANNEL, KIND];
        let only_required = header
            .columns
            .iter()
            .enumerate()
            .all(|(field, column)| column.is_none() || required.contains(&field));
        if !only_required || opts.default_source.is_some() {
            return None;
        }
        let column = |field: usize| header.columns.get(field).copied().flatten();
        Some(ShortPath {
            customer_id: column(CUSTOMER_ID)?,
            timestamp: column(TIMESTAMP)?,
            channel: column(CHANNEL)?,
            kind: column(KIND)?,
        })
    }

    /// Appends `row` when it is one the short path reads; whether it did
    /// (a row it did not take is left for the general validator).
    fn read<'r>(
        &self,
        field: impl Fn(usize) -> Option<&'r [u8]>,
        opts: &IngestOptions,
        labels: &mut TouchpointLabels,
        columns: &mut TouchpointColumns,
        hasher: &impl BuildHasher,
    ) -> bool {
        let Some(id) = field(self.customer_id) else {
            return false;
        };
        // Printable ASCII: nothing to trim, no control character, valid as an id.
        if id.is_empty() || !id.iter().all(u8::is_ascii_graphic) {
            return false;
        }
        // The hand-parsed shapes have no blanks, so nothing to trim either.
        let Some(time_us) = field(self.timestamp)
            .and_then(fast_timestamp)
            .filter(|ts| *ts >= opts.earliest && *ts <= opts.latest)
            .map(to_micros)
        else {
            return false;
        };
        // Labels in the general validator's order: a bad channel is not followed by a kind lookup.
        let Some(Ok(channel)) = field(self.channel)
            .filter(|c| untrimmed(c))
            .and_then(|c| labels.channel_bytes(c, opts))
        else {
            return false;
        };
        let Some(Ok(kind)) = field(self.kind)
            .filter(|k| untrimmed(k))
            .and_then(|k| labels.kind_bytes(k, opts))
        else {
            return false;
        };
        let Some(id) = std::str::from_utf8(id).ok() else {
            return false;
        };
        columns
            .push_required(id, hasher, time_us, channel, kind, NO_STAGE)
            .is_ok()
    }
}
