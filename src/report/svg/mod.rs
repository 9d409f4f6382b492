//! The SVG canvas every chart draws on: escaping, marks, scales, ticks,
//! colours and text-width estimates.
//!
//! Charts are written by hand rather than through a plotting crate so that
//! every data mark carries a `class="mark …"` attribute (tests count them),
//! every mark has a `<title>` tooltip, the output is byte-for-byte
//! deterministic, and no font file is needed to lay text out.

mod canvas;
mod colour;
mod scale;
mod text;

pub(crate) use canvas::{Anchor, Canvas, Font, LABEL_SIZE, Margins, SMALL_SIZE, Stroke};
pub use colour::ColourScale;
pub(crate) use colour::scale_colour;
pub use scale::{Scale, nice_domain, nice_step, nice_ticks};
pub use text::{fit_text, format_number, format_percent, text_width, wrap_text};

use std::path::Path;

use crate::error::{Error, Result};

/// The font stack used for all text: system sans-serif faces, nothing fetched.
pub const FONT_FAMILY: &str =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

/// Okabe & Ito's colour-blind-safe qualitative palette (Okabe & Ito 2008,
/// "Color Universal Design"), ordered so that neighbours differ most; black
/// is left out (it is the text colour) and grey appended.
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#999999",
];

/// Colour of series `i` (cycles through [`PALETTE`]).
pub fn series_colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Text, axis and grid colours.
pub(crate) const INK: &str = "#222222";
pub(crate) const MUTED: &str = "#555555";
pub(crate) const GRID: &str = "#e3e3e3";
pub(crate) const NO_DATA: &str = "#f0f0f0";

/// A finished chart: a self-contained SVG document.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The chart's title (also the SVG's `<title>`).
    pub title: String,
    /// Width in CSS pixels.
    pub width: f64,
    /// Height in CSS pixels.
    pub height: f64,
    /// Number of data marks drawn (bars, cells, points, links, ...): the
    /// elements with class `mark`.
    pub marks: usize,
    svg: String,
}

impl Chart {
    /// The SVG document.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// The SVG element for inlining in HTML: without the XML declaration and
    /// the namespace attribute, which HTML does not need.
    pub fn inline_svg(&self) -> String {
        self.svg
            .strip_prefix(XML_DECLARATION)
            .unwrap_or(&self.svg)
            .trim_start()
            .replacen(SVG_NAMESPACE, "", 1)
    }

    /// Writes the SVG document to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, &self.svg).map_err(|source| Error::Io {
            context: path.display().to_string(),
            source,
        })
    }
}

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
const SVG_NAMESPACE: &str = " xmlns=\"http://www.w3.org/2000/svg\"";

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Checks that all values are finite: [`Error::NonFinite`] names the first
/// bad one (`what`, its index as the row, field `value`).
pub(crate) fn check_finite(
    what: &'static str,
    values: impl IntoIterator<Item = f64>,
) -> Result<()> {
    for (i, v) in values.into_iter().enumerate() {
        if !v.is_finite() {
            return Err(Error::non_finite(what, i, "value", v));
        }
    }
    Ok(())
}

/// Estimated boxes of a chart's labels, `(text, x0, y0, x1, y1)`, from the
/// same width estimate the layout uses: horizontal text and text turned by
/// ±90°; labels at other angles are left out.
#[cfg(test)]
pub(crate) fn label_boxes(svg: &str) -> Vec<(String, f64, f64, f64, f64)> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    let num = |n: roxmltree::Node, a: &str| n.attribute(a).and_then(|v| v.parse::<f64>().ok());
    let mut out = Vec::new();
    for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let (Some(x), Some(y), Some(size)) = (num(t, "x"), num(t, "y"), num(t, "font-size")) else {
            continue;
        };
        let s = t.text().unwrap_or("").to_owned();
        let w = text_width(&s, size);
        let along = match t.attribute("text-anchor") {
            Some("middle") => -w / 2.0,
            Some("end") => -w,
            _ => 0.0,
        };
        let angle = t
            .attribute("transform")
            .and_then(|tr| tr.strip_prefix("rotate("))
            .and_then(|tr| tr.split([' ', ')']).next())
            .and_then(|a| a.parse::<f64>().ok())
            .unwrap_or(0.0);
        let (ascent, descent) = (0.75 * size, 0.2 * size);
        if angle == 0.0 {
            out.push((s, x + along, y - ascent, x + along + w, y + descent));
        } else if angle == -90.0 {
            // Reads upwards: along the text is -y, above the baseline is -x.
            out.push((s, x - ascent, y - along - w, x + descent, y - along));
        } else if angle == 90.0 {
            out.push((s, x - descent, y + along, x + ascent, y + along + w));
        }
    }
    out
}

/// Pairs of labels whose estimated boxes overlap by more than a pixel.
#[cfg(test)]
pub(crate) fn overlapping_labels(svg: &str) -> Vec<(String, String)> {
    let boxes = label_boxes(svg);
    let mut out = Vec::new();
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let dx = a.3.min(b.3) - a.1.max(b.1);
            let dy = a.4.min(b.4) - a.2.max(b.2);
            if dx > 1.0 && dy > 1.0 {
                out.push((a.0.clone(), b.0.clone()));
            }
        }
    }
    out
}

/// Labels whose estimated box leaves the canvas.
#[cfg(test)]
pub(crate) fn clipped_labels(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    let root = doc.root_element();
    let dim = |a: &str| {
        root.attribute(a)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let (w, h) = (dim("width"), dim("height"));
    label_boxes(svg)
        .into_iter()
        .filter(|b| b.1 < -0.5 || b.2 < -0.5 || b.3 > w + 0.5 || b.4 > h + 0.5)
        .map(|b| b.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot; ");
    }
}
