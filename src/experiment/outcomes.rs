//! What an experiment's units did: one row per unit with its variant and
//! outcome, as a service collects them (or the synthetic world simulates
//! them) after a round's assignment.
//!
//! A unit is named by a customer id, or by a source record reference
//! `source:key` when the outcome was logged in a source system (a row with a
//! `source` column): the loop maps either to its resolved customer. Columns:
//! `customer_id` (or `unit`, `id`), optional `source`, `variant`,
//! `converted` (0/1, or true/false), optional `revenue`, `pre_revenue` (a
//! pre-period covariate for CUPED) and `segment` (the segment the unit was
//! assigned in, by id or name).
//!
//! ```
//! use custinsight::experiment::outcomes::Outcomes;
//! use custinsight::ingest::{Format, IngestOptions};
//!
//! let csv = "customer_id,variant,converted,revenue\nC1,control,0,0\nC2,offer,1,25.5\nC3,offer,maybe,0\n";
//! let (outcomes, report) = Outcomes::read(Format::Csv, csv.as_bytes(), &IngestOptions::default())?;
//! assert_eq!((report.accepted, report.rejected), (2, 1));
//! assert_eq!(report.rejections[0].field, "converted");
//! assert_eq!(outcomes.variants, ["control", "offer"]);
//! assert_eq!(outcomes.converted, [0.0, 1.0]);
//! # Ok::<(), custinsight::Error>(())
//! ```

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ingest::table::{ColumnSpec, TableColumn, TableSpec, read_table};
use crate::ingest::{Format, IngestOptions, IngestReport};

/// One experiment's units and what they did, columnar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcomes {
    /// Each unit: a customer id, or a source record reference `source:key`.
    pub units: Vec<String>,
    /// Variant names, in order of first appearance (or as given).
    pub variants: Vec<String>,
    /// Each unit's variant, an index into `variants`.
    pub variant: Vec<u16>,
    /// Whether each unit converted (0 or 1).
    pub converted: Vec<f64>,
    /// Each unit's revenue during the experiment (0 when not given).
    pub revenue: Vec<f64>,
    /// Each unit's pre-period value (a CUPED covariate), when given.
    pub pre_revenue: Option<Vec<f64>>,
    /// The segment each unit was assigned in (an id or a name), when given.
    pub segment: Option<Vec<String>>,
}

impl Outcomes {
    /// No units, for these variants.
    pub fn new(variants: Vec<String>) -> Outcomes {
        Outcomes {
            variants,
            ..Outcomes::default()
        }
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether there are no units.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Adds a unit.
    ///
    /// # Errors
    /// With `row` the unit's position: [`Error::InvalidRow`] for an empty
    /// unit (`field` = `unit`), or a covariate or segment given for some
    /// units and not others (`field` = `pre_revenue` or `segment`);
    /// [`Error::NonFinite`] for a non-finite revenue or covariate (`field` =
    /// `revenue` or `pre_revenue`). [`Error::NotFound`] for a variant not
    /// among `variants`.
    pub fn push(
        &mut self,
        unit: &str,
        variant: &str,
        converted: bool,
        revenue: f64,
        pre_revenue: Option<f64>,
        segment: Option<&str>,
    ) -> Result<()> {
        let row = self.len();
        if unit.trim().is_empty() {
            return Err(Error::invalid_row(
                "outcomes",
                row,
                "unit",
                unit,
                "an outcome's unit id must not be empty",
            ));
        }
        let v = self
            .variants
            .iter()
            .position(|x| x == variant)
            .ok_or_else(|| Error::NotFound {
                what: "variant",
                id: variant.to_owned(),
            })?;
        if !revenue.is_finite() {
            return Err(Error::non_finite("outcomes", row, "revenue", revenue));
        }
        if let Some(p) = pre_revenue.filter(|p| !p.is_finite()) {
            return Err(Error::non_finite("outcomes", row, "pre_revenue", p));
        }
        let first = self.units.is_empty();
        let reason =
            "every outcome needs the same optional columns (pre_revenue, segment) as the first";
        if !first && self.pre_revenue.is_some() != pre_revenue.is_some() {
            let value = pre_revenue.map_or_else(|| "none".to_owned(), |p| p.to_string());
            return Err(Error::invalid_row(
                "outcomes",
                row,
                "pre_revenue",
                value,
                reason,
            ));
        }
        if !first && self.segment.is_some() != segment.is_some() {
            let value = segment.unwrap_or("none");
            return Err(Error::invalid_row(
                "outcomes", row, "segment", value, reason,
            ));
        }
        if first {
            self.pre_revenue = pre_revenue.map(|_| Vec::new());
            self.segment = segment.map(|_| Vec::new());
        }
        self.units.push(unit.trim().to_owned());
        self.variant.push(v as u16);
        self.converted.push(f64::from(u8::from(converted)));
        self.revenue.push(revenue);
        if let (Some(column), Some(p)) = (self.pre_revenue.as_mut(), pre_revenue) {
            column.push(p);
        }
        if let (Some(column), Some(s)) = (self.segment.as_mut(), segment) {
            column.push(s.trim().to_owned());
        }
        Ok(())
    }

    fn spec() -> TableSpec {
        TableSpec::new(vec![
            ColumnSpec::text("source").aliases(&["system", "source_system"]),
            ColumnSpec::text("customer_id")
                .filled()
                .aliases(&["unit", "unit_id", "id", "customer"]),
            ColumnSpec::text("variant")
                .filled()
                .aliases(&["arm", "group"]),
            ColumnSpec::text("converted")
                .filled()
                .aliases(&["conversion", "outcome"]),
            ColumnSpec::number("revenue").aliases(&["value", "amount"]),
            ColumnSpec::number("pre_revenue").aliases(&["covariate", "pre_period"]),
            ColumnSpec::text("segment"),
        ])
    }

    /// Reads outcomes (columns in the module docs), every row accounted for:
    /// a row without a unit, variant or conversion, with a conversion other
    /// than 0/1, or a non-numeric revenue is rejected with its line.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unreadable header or a missing required
    /// column; [`Error::Io`]; [`Error::Rejected`] in strict mode.
    pub fn read<R: Read>(
        format: Format,
        input: R,
        opts: &IngestOptions,
    ) -> Result<(Outcomes, IngestReport)> {
        let (table, mut report) = read_table(format, input, opts, &Self::spec())?;
        let (names, columns, lines) = table.into_parts();
        let text = |name: &str| -> Option<&Vec<Option<String>>> {
            let i = names.iter().position(|n| n == name)?;
            match columns.get(i)? {
                TableColumn::Text(v) => Some(v),
                TableColumn::Number(_) => None,
            }
        };
        let number = |name: &str| -> Option<&Vec<f64>> {
            let i = names.iter().position(|n| n == name)?;
            match columns.get(i)? {
                TableColumn::Number(v) => Some(v),
                TableColumn::Text(_) => None,
            }
        };
        let empty = Vec::new();
        let source = text("source").unwrap_or(&empty);
        let units = text("customer_id").unwrap_or(&empty);
        let variants = text("variant").unwrap_or(&empty);
        let converted = text("converted").unwrap_or(&empty);
        let revenue = number("revenue");
        let pre = number("pre_revenue");
        let segment = text("segment");
        let has_pre = pre.is_some_and(|p| !p.is_empty() && p.iter().all(|v| v.is_finite()));
        let has_segment = segment.is_some_and(|s| !s.is_empty() && s.iter().all(Option::is_some));
        let mut out = Outcomes::default();
        for (row, &line) in lines.iter().enumerate() {
            let key = units.get(row).and_then(|u| u.as_deref());
            let unit = match (source.get(row).and_then(|s| s.as_deref()), key) {
                (Some(s), Some(k)) => format!("{}:{}", s.trim(), k.trim()),
                (None, Some(k)) => k.to_owned(),
                _ => continue,
            };
            let variant = variants.get(row).and_then(|v| v.as_deref()).unwrap_or("");
            let flag = converted.get(row).and_then(|v| v.as_deref()).unwrap_or("");
            let conv = match flag.trim().to_ascii_lowercase().as_str() {
                "1" | "1.0" | "true" | "yes" => true,
                "0" | "0.0" | "false" | "no" => false,
                other => {
                    report.reject_accepted(line, "converted", format!("not 0 or 1: `{other}`"));
                    continue;
                }
            };
            if !out.variants.iter().any(|v| v == variant) {
                out.variants.push(variant.to_owned());
            }
            let value = revenue
                .and_then(|r| r.get(row).copied())
                .filter(|v| v.is_finite());
            let result = out.push(
                &unit,
                variant,
                conv,
                value.unwrap_or(0.0),
                if has_pre {
                    pre.and_then(|p| p.get(row).copied())
                } else {
                    None
                },
                if has_segment {
                    segment.and_then(|s| s.get(row)).and_then(|s| s.as_deref())
                } else {
                    None
                },
            );
            if let Err(e) = result {
                report.reject_accepted(line, "row", e.to_string());
            }
        }
        Ok((out, report))
    }

    /// Reads an outcomes file (format from its extension).
    ///
    /// # Errors
    /// As [`read`](Self::read), plus [`Error::Io`] when the file cannot be opened.
    pub fn read_file(
        path: impl AsRef<Path>,
        opts: &IngestOptions,
    ) -> Result<(Outcomes, IngestReport)> {
        let path = path.as_ref();
        let file =
            std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        Self::read(Format::from_path(path), file, opts)
    }

    /// Writes the outcomes as CSV (`customer_id, variant, converted, revenue`,
    /// then `pre_revenue` and `segment` when present); units that are
    /// source record references are written as `source` and `customer_id`.
    ///
    /// # Errors
    /// [`Error::Io`] when writing fails.
    pub fn write_csv<W: std::io::Write>(&self, out: W) -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        let csv_err = |e: csv::Error| match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::io("csv output", io),
            other => Error::value("csv record", format!("{other:?}"), "could not be written"),
        };
        let mut header = vec!["source", "customer_id", "variant", "converted", "revenue"];
        if self.pre_revenue.is_some() {
            header.push("pre_revenue");
        }
        if self.segment.is_some() {
            header.push("segment");
        }
        w.write_record(&header).map_err(csv_err)?;
        for i in 0..self.len() {
            let (source, key) = match crate::records::SourceRecord::parse(&self.units[i]) {
                Some(r) => (r.source, r.key),
                None => (String::new(), self.units[i].clone()),
            };
            let mut row = vec![
                source,
                key,
                self.variants
                    .get(usize::from(self.variant[i]))
                    .cloned()
                    .unwrap_or_default(),
                format!("{}", self.converted[i]),
                format!("{:.2}", self.revenue[i]),
            ];
            if let Some(p) = &self.pre_revenue {
                row.push(format!("{:.2}", p[i]));
            }
            if let Some(s) = &self.segment {
                row.push(s[i].clone());
            }
            w.write_record(&row).map_err(csv_err)?;
        }
        w.flush().map_err(|e| Error::io("csv output", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_units_are_typed_errors() {
        let mut o = Outcomes::new(vec!["a".into(), "b".into()]);
        assert!(matches!(
            o.push(" ", "a", true, 1.0, None, None),
            Err(Error::InvalidRow { row: 0, ref field, .. }) if field == "unit"
        ));
        assert!(matches!(
            o.push("u1", "c", true, 1.0, None, None),
            Err(Error::NotFound {
                what: "variant",
                ..
            })
        ));
        assert!(matches!(
            o.push("u1", "a", true, f64::NAN, None, None),
            Err(Error::NonFinite { row: 0, ref field, .. }) if field == "revenue"
        ));
        o.push("u1", "a", true, 1.0, None, None).unwrap();
        assert!(matches!(
            o.push("u2", "b", false, 0.0, Some(f64::INFINITY), None),
            Err(Error::NonFinite { row: 1, ref field, .. }) if field == "pre_revenue"
        ));
        assert!(matches!(
            o.push("u2", "b", false, 0.0, Some(2.0), None),
            Err(Error::InvalidRow { row: 1, ref field, .. }) if field == "pre_revenue"
        ));
        assert!(matches!(
            o.push("u2", "b", false, 0.0, None, Some("s")),
            Err(Error::InvalidRow { row: 1, ref field, ref value, .. })
                if field == "segment" && value == "s"
        ));
        assert_eq!(o.len(), 1);
    }
}
