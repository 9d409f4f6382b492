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
use super::csv::{CsvRow, Header};
use super::labels::{Labels, TouchpointLabels};
use super::parse::fast_timestamp;
use super::pipeline::{Rows, TouchpointView};
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
        cols.hashes.reserve(n);
        cols.time_us.reserve(n);
        cols.channel.reserve(n);
        cols.kind.reserve(n);
        cols.content_stage.reserve(n);
        rows.for_each(header, |line, row| {
            let pushed = row.and_then(|row| {
                if let Some(short) = &short {
                    if short.read(&row, opts, &mut piece.labels, &mut piece.columns, hasher) {
                        return Ok(());
                    }
                }
                let t = rows::touchpoint_fields(&row, opts, &mut piece.labels)?;
                piece.columns.push(&t, hasher)
            });
            if let Err(problem) = pushed {
                piece.rejected.push((piece.columns.len(), line, problem));
            }
        });
        piece
    }
}

impl TouchpointColumns {
    /// Appends a valid row (its customer id checked and trimmed by the validator).
    fn push(
        &mut self,
        t: &TouchpointView<'_>,
        hasher: &impl BuildHasher,
    ) -> std::result::Result<(), RowProblem> {
        let id: &str = &t.customer_id;
        self.ids
            .push(id)
            .map_err(|e| RowProblem::new("customer_id", e.to_string()))?;
        self.hashes.push(hasher.hash_one(id));
        let row = self.time_us.len() as u32;
        self.time_us.push(to_micros(t.timestamp));
        self.channel.push(t.channel);
        self.kind.push(t.kind);
        self.content_stage
            .push(t.content_stage.map_or(NO_STAGE, |s| s.index() as u8));
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

/// The text of a field with nothing to trim: valid UTF-8 whose first and
/// last characters are ASCII other than blanks.
fn clean(field: &[u8]) -> Option<&str> {
    let (&first, &last) = (field.first()?, field.last()?);
    if blank(first) || blank(last) || !first.is_ascii() || !last.is_ascii() {
        return None;
    }
    std::str::from_utf8(field).ok()
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
    fn read(
        &self,
        row: &CsvRow<'_>,
        opts: &IngestOptions,
        labels: &mut TouchpointLabels,
        columns: &mut TouchpointColumns,
        hasher: &impl BuildHasher,
    ) -> bool {
        let field = |column: usize| row.raw(column);
        let Some(id) = field(self.customer_id) else {
            return false;
        };
        // Printable ASCII: nothing to trim, no control character, valid as an id.
        if id.is_empty() || !id.iter().all(u8::is_ascii_graphic) {
            return false;
        }
        let Some(time_us) = field(self.timestamp)
            .and_then(clean)
            .and_then(|t| fast_timestamp(t.as_bytes()))
            .filter(|ts| *ts >= opts.earliest && *ts <= opts.latest)
            .map(to_micros)
        else {
            return false;
        };
        // Labels in the general validator's order: a bad channel is not followed by a kind lookup.
        let Some(Ok(channel)) = field(self.channel)
            .and_then(clean)
            .map(|c| labels.channel(c, opts))
        else {
            return false;
        };
        let Some(Ok(kind)) = field(self.kind)
            .and_then(clean)
            .map(|k| labels.kind(k, opts))
        else {
            return false;
        };
        let Some(id) = std::str::from_utf8(id).ok() else {
            return false;
        };
        if columns.ids.push(id).is_err() {
            return false;
        }
        columns.hashes.push(hasher.hash_one(id));
        columns.time_us.push(time_us);
        columns.channel.push(channel);
        columns.kind.push(kind);
        columns.content_stage.push(NO_STAGE);
        true
    }
}
