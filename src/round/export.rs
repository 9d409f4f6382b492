//! A round's per-customer results as one file.

use std::io::Write;

use super::run::Round;
use crate::error::{Error, Result};

/// Columns of [`Round::write_customers_csv`].
pub const CUSTOMER_COLUMNS: [&str; 10] = [
    "customer_id",
    "source_keys",
    "p_alive",
    "expected_purchases",
    "clv",
    "stage",
    "play",
    "segment",
    "segment_name",
    "next_variant",
];

impl Round {
    /// Writes one row per customer: id, source records (`source:key`,
    /// separated by `;`), P(alive), expected purchases, CLV, stage, play,
    /// segment id and name, and the next round's variant (blank where a
    /// value is missing: no purchase yet, no segment, not assigned).
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write_customers_csv<W: Write>(&self, out: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        let csv_err = |e: csv::Error| match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::io("csv output", io),
            other => Error::value("csv record", format!("{other:?}"), "could not be written"),
        };
        w.write_record(CUSTOMER_COLUMNS).map_err(csv_err)?;
        let number = |x: f64| {
            if x.is_finite() {
                format!("{x:.6}")
            } else {
                String::new()
            }
        };
        let variants = &self.state.params.experiment.design.variants;
        for c in self.base.customer_indices() {
            let i = c as usize;
            let sources = self
                .base
                .customer(c)
                .map(|x| {
                    x.sources
                        .iter()
                        .map(|s| s.reference())
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .unwrap_or_default();
            let stage = self.lifecycle.stage.get(i).copied().flatten();
            let segment = self.segments.segment_of(c);
            let variant = self
                .assignment
                .variant
                .get(i)
                .copied()
                .flatten()
                .and_then(|v| variants.get(usize::from(v)));
            w.write_record([
                self.base.customer_id(c),
                &sources,
                &number(self.lifecycle.p_alive[i]),
                &number(self.lifecycle.expected_purchases[i]),
                &number(self.lifecycle.clv[i]),
                stage.map_or("", |s| s.as_str()),
                stage.map_or("", |s| s.play().as_str()),
                &segment.map(|s| s.to_string()).unwrap_or_default(),
                segment
                    .and_then(|s| self.segments.names().get(s as usize))
                    .map_or("", String::as_str),
                variant.map_or("", String::as_str),
            ])
            .map_err(csv_err)?;
        }
        w.flush().map_err(|e| Error::io("csv output", e))
    }
}
