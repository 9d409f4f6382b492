//! Touchpoints and consent events appended with their customer ids
//! unresolved (each id put into its hash partition as it arrives), the ids
//! resolved together at the end ([`bulk::resolve_partitioned`]): the same dense indices, in the same order
//! of first appearance, as interning them row by row, without a cache-missing
//! hash probe per row.

use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;

use super::{CustomerBaseBuilder, NONE_U32, TouchpointRef, bulk, check_id, encode_event};
use crate::error::{Error, Result};
use crate::records::ConsentEvent;
#[cfg(feature = "parallel")]
use crate::{records::Money, store::StrArena};

/// Which rows wait for their customer ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    Touchpoints,
    Consents,
}

/// Rows from `first` on (touchpoint rows or consent entries) whose customers are `ids`, in order.
#[derive(Debug)]
pub(super) struct Deferred {
    rows: Rows,
    first: usize,
    /// The rows' ids, partitioned by their hash by `hasher` (readers hash on their own threads).
    ids: bulk::Partitions,
    hasher: DefaultHashBuilder,
}

/// Touchpoints read in bulk, in columns, their customer ids not yet resolved:
/// what a reader hands to [`CustomerBaseBuilder::append_deferred_touchpoints`].
#[cfg(feature = "parallel")]
#[derive(Debug, Default)]
pub(crate) struct TouchpointColumns {
    /// Customer ids, trimmed and checked.
    pub(crate) ids: StrArena,
    /// Each id's hash by the load's [`CustomerBaseBuilder::deferred_hasher`].
    pub(crate) hashes: Vec<u64>,
    pub(crate) time_us: Vec<i64>,
    /// Channel and kind: the reader's label indices, replaced by builder codes before appending.
    pub(crate) channel: Vec<u32>,
    pub(crate) kind: Vec<u32>,
    /// [`JourneyStage::index`](crate::records::JourneyStage::index), or none.
    pub(crate) content_stage: Vec<u8>,
    /// The rows with a cost, campaign, topic or session, in row order.
    pub(crate) extras: Vec<TouchpointExtra>,
    /// The text of the extras' strings.
    pub(crate) extra_text: String,
}

/// The optional fields of one row of [`TouchpointColumns`]; strings as spans of its `extra_text`.
#[cfg(feature = "parallel")]
#[derive(Debug)]
pub(crate) struct TouchpointExtra {
    pub(crate) row: u32,
    pub(crate) cost: Option<Money>,
    pub(crate) campaign: Option<(u32, u32)>,
    pub(crate) topic: Option<(u32, u32)>,
    pub(crate) session: Option<(u32, u32)>,
}

#[cfg(feature = "parallel")]
impl TouchpointColumns {
    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.time_us.len()
    }

    /// Keeps `s` (trimmed) in the extras' text; none when it is blank.
    pub(crate) fn stash(&mut self, s: Option<&str>) -> Option<(u32, u32)> {
        let s = s.map(str::trim).filter(|s| !s.is_empty())?;
        let start = u32::try_from(self.extra_text.len()).ok()?;
        let end = start.checked_add(u32::try_from(s.len()).ok()?)?;
        self.extra_text.push_str(s);
        Some((start, end))
    }

    /// An extra's string.
    fn text(&self, span: Option<(u32, u32)>) -> Option<&str> {
        span.and_then(|(a, b)| self.extra_text.get(a as usize..b as usize))
    }
}

impl Deferred {
    /// Appends one customer id with its hash.
    fn push(&mut self, id: &str) -> Result<()> {
        let hash = self.hasher.hash_one(id);
        self.ids.push(id, hash)?;
        Ok(())
    }
}

impl CustomerBaseBuilder {
    /// Starts a deferred load of `rows` from row `first`, with room for the
    /// ids of `expected` rows (of about 10 bytes).
    fn begin_deferred(&mut self, rows: Rows, first: usize, expected: usize) -> Result<()> {
        if self.bulk.is_some() || self.deferred.is_some() {
            return Err(Error::InvalidInput("a bulk load is in progress".into()));
        }
        self.deferred = Some(Deferred {
            rows,
            first,
            ids: bulk::Partitions::new(expected),
            hasher: DefaultHashBuilder::default(),
        });
        Ok(())
    }

    /// The hasher of the deferred load's customer ids, for readers that hash
    /// ids as they read them ([`TouchpointColumns::hashes`]).
    #[cfg(feature = "parallel")]
    pub(crate) fn deferred_hasher(&self) -> Option<&DefaultHashBuilder> {
        self.deferred.as_ref().map(|d| &d.hasher)
    }

    /// Starts a load of touchpoints whose customer ids are resolved by
    /// [`finish_deferred`](Self::finish_deferred); room is made for as many
    /// ids as the touchpoint columns have room for.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when another bulk load is in progress.
    pub(crate) fn begin_deferred_touchpoints(&mut self) -> Result<()> {
        let (len, room) = (self.tp.customer.len(), self.tp.customer.capacity());
        self.begin_deferred(Rows::Touchpoints, len, room - len)
    }

    /// Starts a load of consent events whose customer ids are resolved by
    /// [`finish_deferred`](Self::finish_deferred).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when another bulk load is in progress.
    pub(crate) fn begin_deferred_consents(&mut self) -> Result<()> {
        self.begin_deferred(Rows::Consents, self.consents.len(), 0)
    }

    /// The deferred load of `rows`.
    fn deferred_of(&mut self, rows: Rows) -> Result<&mut Deferred> {
        match self.deferred.as_mut() {
            Some(d) if d.rows == rows => Ok(d),
            _ => Err(Error::InvalidInput("no such bulk load in progress".into())),
        }
    }

    /// Appends a touchpoint to the deferred load; it fails as
    /// [`add_touchpoint`](Self::add_touchpoint) would, adding nothing.
    pub(crate) fn push_deferred_touchpoint(&mut self, t: &TouchpointRef<'_>) -> Result<()> {
        let id = check_id(t.customer_id)?;
        self.deferred_of(Rows::Touchpoints)?;
        self.push_touchpoint(NONE_U32, t)?;
        let pushed = self.deferred_of(Rows::Touchpoints).and_then(|d| d.push(id));
        if pushed.is_err() {
            self.truncate_touchpoints(self.tp.customer.len().saturating_sub(1));
        }
        pushed
    }

    /// Appends the first `n` rows of `cols`, whose channels and kinds are
    /// builder codes by now, to the deferred load of touchpoints: the same
    /// columns as [`push_deferred_touchpoint`](Self::push_deferred_touchpoint)
    /// row by row. On an error (capacity) nothing is appended.
    #[cfg(feature = "parallel")]
    pub(crate) fn append_deferred_touchpoints(
        &mut self,
        cols: &TouchpointColumns,
        n: usize,
    ) -> Result<()> {
        let n = n.min(cols.len());
        let first = self.tp.customer.len();
        let d = self.deferred_of(Rows::Touchpoints)?;
        let first_id = d.ids.len();
        let pushed = (0..n).try_for_each(|i| {
            let hash = cols.hashes.get(i).copied().unwrap_or_default();
            d.ids.push(cols.ids.get(i as u32), hash)
        });
        if let Err(e) = pushed {
            d.ids.truncate(first_id);
            return Err(e);
        }
        let end = first + n;
        let p = &mut self.tp;
        p.customer.resize(end, NONE_U32);
        p.time_us
            .extend_from_slice(cols.time_us.get(..n).unwrap_or_default());
        // Codes fit u16: the dictionaries hand out no more.
        p.channel
            .extend(cols.channel.iter().take(n).map(|&c| c as u16));
        p.kind.extend(cols.kind.iter().take(n).map(|&c| c as u16));
        p.content_stage
            .extend_from_slice(cols.content_stage.get(..n).unwrap_or_default());
        p.campaign.resize(end, NONE_U32);
        p.topic.resize(end, NONE_U32);
        if !p.session.is_empty() {
            p.session.resize(end, NONE_U32);
        }
        let extras = cols.extras.iter().take_while(|e| (e.row as usize) < n);
        if let Err(e) = self.fill_extras(cols, extras, first) {
            self.truncate_touchpoints(first);
            if let Ok(d) = self.deferred_of(Rows::Touchpoints) {
                d.ids.truncate(first_id);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Codes the optional fields of appended rows (rows from `first`), in
    /// row order, and appends their costs (sparse, so pushed in order).
    #[cfg(feature = "parallel")]
    fn fill_extras<'c>(
        &mut self,
        cols: &'c TouchpointColumns,
        extras: impl Iterator<Item = &'c TouchpointExtra>,
        first: usize,
    ) -> Result<()> {
        let end = self.tp.customer.len();
        let mut costs_to = first;
        for e in extras {
            let at = first + e.row as usize;
            if let Some(m) = &e.cost {
                let currency = self.currencies.code(&m.currency)?;
                self.tp.cost.push_absent(at - costs_to);
                self.tp.cost.push(Some((m.units, currency)));
                costs_to = at + 1;
            }
            if let Some(s) = cols.text(e.campaign) {
                self.tp.campaign[at] = self.campaigns.intern(s)?.0;
            }
            if let Some(s) = cols.text(e.topic) {
                self.tp.topic[at] = self.topics.intern(s)?.0;
            }
            if let Some(s) = cols.text(e.session) {
                let session = self.sessions.intern(s)?.0;
                // Sessions are kept only once some touchpoint has one.
                self.tp.session.resize(end, NONE_U32);
                self.tp.session[at] = session;
            }
        }
        self.tp.cost.push_absent(end - costs_to);
        Ok(())
    }

    /// Appends a consent event to the deferred load; it fails as
    /// [`add_consent_event`](Self::add_consent_event) would.
    pub(crate) fn push_deferred_consent(
        &mut self,
        customer_id: &str,
        event: &ConsentEvent,
    ) -> Result<()> {
        let id = check_id(customer_id)?;
        self.deferred_of(Rows::Consents)?.push(id)?;
        encode_event(&mut self.consent_bytes, event);
        self.consents.push((NONE_U32, self.consent_bytes.len()));
        Ok(())
    }

    /// Resolves the deferred load's customer ids (new customers in order of
    /// first appearance, as row by row). Without a deferred load, nothing.
    ///
    /// # Errors
    /// [`Error::Capacity`] when the ids outgrow `u32`; the load's rows are then removed.
    pub(crate) fn finish_deferred(&mut self) -> Result<()> {
        let Some(d) = self.deferred.take() else {
            return Ok(());
        };
        let resolved = match d.rows {
            // Touchpoint rows take their indices in place.
            Rows::Touchpoints => {
                let rows = self.tp.customer.get_mut(d.first..).unwrap_or_default();
                bulk::resolve_partitioned(&d.ids, &mut self.ids, rows)
            }
            Rows::Consents => {
                let mut indices = vec![NONE_U32; d.ids.len()];
                bulk::resolve_partitioned(&d.ids, &mut self.ids, &mut indices).inspect(|_| {
                    let rows = self.consents.get_mut(d.first..).unwrap_or_default();
                    for ((slot, _), &index) in rows.iter_mut().zip(&indices) {
                        *slot = index;
                    }
                })
            }
        };
        let new = match resolved {
            Ok(new) => new,
            Err(e) => {
                self.deferred = Some(d);
                self.abort_deferred();
                return Err(e);
            }
        };
        self.record_of.resize(self.record_of.len() + new, NONE_U32);
        self.last_customer = None;
        Ok(())
    }

    /// Abandons an unfinished deferred load, removing its rows.
    pub(crate) fn abort_deferred(&mut self) {
        let Some(d) = self.deferred.take() else {
            return;
        };
        match d.rows {
            Rows::Touchpoints => self.truncate_touchpoints(d.first),
            Rows::Consents => {
                self.consents.truncate(d.first);
                let end = d
                    .first
                    .checked_sub(1)
                    .and_then(|i| self.consents.get(i))
                    .map_or(0, |&(_, end)| end);
                self.consent_bytes.truncate(end);
            }
        }
    }

    /// Drops touchpoint rows `len..`.
    fn truncate_touchpoints(&mut self, len: usize) {
        let p = &mut self.tp;
        p.customer.truncate(len);
        p.time_us.truncate(len);
        p.channel.truncate(len);
        p.kind.truncate(len);
        p.campaign.truncate(len);
        p.topic.truncate(len);
        p.cost.truncate(len);
        p.session.truncate(len);
        p.content_stage.truncate(len);
    }
}
