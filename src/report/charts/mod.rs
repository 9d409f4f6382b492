//! General charts built from plain data: bars, histograms, heat maps, lines
//! and scatter plots. The module-specific charts are built on these.
//!
//! Every function returns a [`Chart`]. Empty input gives an explicit "no
//! data" chart; inconsistent input gives a typed error: lengths that differ
//! [`Error::LengthMismatch`](crate::Error::LengthMismatch), non-finite values
//! where a number is required [`Error::NonFinite`](crate::Error::NonFinite),
//! an index past its names [`Error::OutOfRange`](crate::Error::OutOfRange), a
//! bad single value [`Error::InvalidValue`](crate::Error::InvalidValue).
//! Nothing panics.

mod bar;
mod heat_map;
mod histogram;
mod line;
mod scatter;

pub use bar::{BarChart, Series, bar_chart};
pub use heat_map::{HeatMap, heat_map};
pub use histogram::{Histogram, histogram};
pub use line::{LineChart, LineSeries, line_chart};
pub use scatter::{Scatter, scatter};

use serde::{Deserialize, Serialize};

use super::svg::{Canvas, Chart, format_number, format_percent, text_width};

/// How values are written on axes and labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum ValueFormat {
    /// Plain numbers with three significant digits.
    #[default]
    Number,
    /// Shares in [0, 1] written as percentages.
    Percent,
    /// Amounts with a currency prefix such as `"€"`.
    Money(String),
}

impl ValueFormat {
    /// The label for `v`.
    pub fn format(&self, v: f64) -> String {
        match self {
            ValueFormat::Number => format_number(v, 3),
            ValueFormat::Percent => format_percent(v),
            ValueFormat::Money(symbol) => {
                if v < 0.0 {
                    format!("−{symbol}{}", format_number(-v, 3))
                } else {
                    format!("{symbol}{}", format_number(v, 3))
                }
            }
        }
    }

    /// The label for an axis tick `v` (percentages without decimals when whole).
    fn tick(&self, v: f64) -> String {
        match self {
            ValueFormat::Percent => {
                let p = 100.0 * v;
                if (p - p.round()).abs() < 1e-9 {
                    format_number(p.round(), 3) + "%"
                } else {
                    format_number(p, 3) + "%"
                }
            }
            other => other.format(v),
        }
    }
}

/// Chart widths used throughout (fits a laptop screen next to the text).
pub(crate) const WIDTH: f64 = 760.0;

fn no_data(title: &str, reason: &str) -> Chart {
    let mut c = Canvas::new(WIDTH, 220.0, title, None);
    c.no_data(reason);
    c.finish()
}

/// The widest label among `labels` at `size`, capped at `cap`.
fn label_room(labels: &[String], size: f64, cap: f64) -> f64 {
    labels
        .iter()
        .map(|l| text_width(l, size))
        .fold(0.0, f64::max)
        .min(cap)
}
