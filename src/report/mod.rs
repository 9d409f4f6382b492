//! # Pictures: SVG charts and a self-contained HTML report
//!
//! Marketers would rather look than read when the question is "where are my
//! customers in their lifecycle" or "which segment does this variant win in".
//! This module draws the answers of every step of the loop as SVG charts and
//! assembles them, with text and tables, into one HTML file that opens in any
//! browser, offline, and prints.
//!
//! - [`charts`]: general charts from plain data — horizontal bars with their
//!   values written on them, histograms, heat maps (sequential viridis or a
//!   diverging blue–white–red scale, both colour-blind safe), line charts with
//!   interval bands, and scatter plots.
//! - [`lifecycle`]: customers per lifecycle stage, P(alive) over frequency ×
//!   recency, holdout purchases against the model, and the CLV distribution.
//! - [`segment`]: segment profiles as a z-score heat map, segments in the
//!   plane of the first two principal components, and size against value share.
//! - [`touchpoints`]: conversion rate by touchpoint and segment with
//!   significance marks, the journey Sankey of channel steps into conversion,
//!   the engagement-ladder funnel, and the attribution models side by side.
//! - [`experiment`]: the forest plot of relative effects per segment, the
//!   Bayesian chance to win against a threshold, and the effect with its
//!   always-valid interval (and p-value) over the looks.
//! - [`target`]: the cumulative gain and the calibration of a propensity
//!   model, and the Qini curve of an uplift model, beside a reference.
//! - [`Report`]: sections of text, [`ReportTable`]s and [`Chart`]s in one HTML file
//!   with inline SVG and CSS; no script, font, image or style sheet is fetched.
//!
//! Every chart has a title, axis labels with units and a legend where there is
//! more than one series, uses Okabe & Ito's colour-blind-safe palette
//! ([`svg::PALETTE`]), and gives each data mark a tooltip. Empty input gives an
//! explicit "no data" chart; inconsistent input gives a typed error.
//!
//! The charts are hand-built SVG rather than drawn through plotters: without
//! a font file plotters can only guess text widths (as this module does), and
//! writing the elements directly lets every data mark carry `class="mark"`, so
//! tests can count what was drawn, and keeps the output byte-for-byte
//! deterministic.

pub mod charts;
pub mod experiment;
mod html;
pub mod lifecycle;
pub mod segment;
pub mod svg;
pub mod target;
#[cfg(test)]
mod testing;
pub mod touchpoints;

pub use html::{Report, ReportTable, Section};
pub use svg::{Chart, ColourScale};
