//! Touchpoints and consent events appended with their customer ids
//! unresolved, the ids resolved together at the end by radix-partitioned
//! hashing ([`bulk::resolve_ids`]): the same dense indices, in the same order
//! of first appearance, as interning them row by row, without a cache-missing
//! hash probe per row.

use super::{CustomerBaseBuilder, NONE_U32, TouchpointRef, bulk, check_id, encode_event};
use crate::error::{Error, Result};
use crate::records::ConsentEvent;
use crate::store::StrArena;

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
    ids: StrArena,
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
            ids: StrArena::with_capacity(expected, expected * 10),
        });
        Ok(())
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

    /// The pending ids of the deferred load of `rows`.
    fn deferred_ids(&mut self, rows: Rows) -> Result<&mut StrArena> {
        match self.deferred.as_mut() {
            Some(d) if d.rows == rows => Ok(&mut d.ids),
            _ => Err(Error::InvalidInput("no such bulk load in progress".into())),
        }
    }

    /// Appends a touchpoint to the deferred load; it fails as
    /// [`add_touchpoint`](Self::add_touchpoint) would, adding nothing.
    pub(crate) fn push_deferred_touchpoint(&mut self, t: &TouchpointRef<'_>) -> Result<()> {
        let id = check_id(t.customer_id)?;
        self.deferred_ids(Rows::Touchpoints)?;
        self.push_touchpoint(NONE_U32, t)?;
        let pushed = self
            .deferred_ids(Rows::Touchpoints)
            .and_then(|ids| ids.push(id).map(|_| ()));
        if pushed.is_err() {
            self.truncate_touchpoints(self.tp.customer.len().saturating_sub(1));
        }
        pushed
    }

    /// Appends a consent event to the deferred load; it fails as
    /// [`add_consent_event`](Self::add_consent_event) would.
    pub(crate) fn push_deferred_consent(
        &mut self,
        customer_id: &str,
        event: &ConsentEvent,
    ) -> Result<()> {
        let id = check_id(customer_id)?;
        self.deferred_ids(Rows::Consents)?.push(id)?;
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
        let (indices, new) = match bulk::resolve_ids(&d.ids, None, None, &mut self.ids) {
            Ok(resolved) => resolved,
            Err(e) => {
                self.deferred = Some(d);
                self.abort_deferred();
                return Err(e);
            }
        };
        self.record_of.resize(self.record_of.len() + new, NONE_U32);
        self.last_customer = None;
        match d.rows {
            Rows::Touchpoints => {
                let rows = self.tp.customer.get_mut(d.first..).unwrap_or_default();
                for (slot, &index) in rows.iter_mut().zip(&indices) {
                    *slot = index;
                }
            }
            Rows::Consents => {
                let rows = self.consents.get_mut(d.first..).unwrap_or_default();
                for ((slot, _), &index) in rows.iter_mut().zip(&indices) {
                    *slot = index;
                }
            }
        }
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
