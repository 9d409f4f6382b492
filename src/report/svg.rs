//! The SVG canvas every chart draws on: escaping, marks, scales, ticks,
//! colours and text-width estimates.
//!
//! Charts are written by hand rather than through a plotting crate so that
//! every data mark carries a `class="mark …"` attribute (tests count them),
//! every mark has a `<title>` tooltip, the output is byte-for-byte
//! deterministic, and no font file is needed to lay text out.

use std::fmt::Write as _;
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

/// Approximate rendered width of `s` at `size` px in a proportional sans-serif
/// face: per-character widths from DejaVu Sans, the widest common default
/// (Arial and Helvetica are narrower, so labels laid out by this estimate do
/// not collide in any of them); wide (CJK) characters count as one em.
pub fn text_width(s: &str, size: f64) -> f64 {
    let ems: f64 = s
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 0.3,
            ' ' => 0.32,
            'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '-' => 0.41,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.95,
            c if c.is_ascii_uppercase() => 0.72,
            c if c.is_ascii_digit() => 0.64,
            c if c.is_ascii() => 0.62,
            c if (c as u32) >= 0x1100 => 1.0,
            _ => 0.64,
        })
        .sum();
    ems * size
}

/// `s` shortened with an ellipsis so that it fits in `max_width` px.
pub fn fit_text(s: &str, size: f64, max_width: f64) -> String {
    if text_width(s, size) <= max_width {
        return s.to_owned();
    }
    let mut out = String::new();
    for c in s.chars() {
        out.push(c);
        if text_width(&out, size) + text_width("…", size) > max_width {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

/// `s` broken at spaces into at most `max_lines` lines no wider than
/// `max_width` px each; a word too long for a line, or text left over after
/// the last line, is shortened with an ellipsis. Never returns an empty list.
pub fn wrap_text(s: &str, size: f64, max_width: f64, max_lines: usize) -> Vec<String> {
    let max_lines = max_lines.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let words: Vec<&str> = s.split(' ').filter(|w| !w.is_empty()).collect();
    for (i, word) in words.iter().enumerate() {
        let candidate = if current.is_empty() {
            (*word).to_owned()
        } else {
            format!("{current} {word}")
        };
        if current.is_empty() || text_width(&candidate, size) <= max_width {
            current = candidate;
            continue;
        }
        if lines.len() + 1 == max_lines {
            // Last line: the rest goes in, shortened.
            let rest = words[i..].join(" ");
            lines.push(fit_text(&format!("{current} {rest}"), size, max_width));
            return lines;
        }
        lines.push(fit_text(&current, size, max_width));
        current = (*word).to_owned();
    }
    lines.push(fit_text(&current, size, max_width));
    lines
}

/// Formats a number for a label with about `digits` significant digits,
/// thousands separated by thin spaces, no exponent between 1e-4 and 1e15.
pub fn format_number(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "n/a".to_owned()
        } else if v > 0.0 {
            "∞".to_owned()
        } else {
            "−∞".to_owned()
        };
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let a = v.abs();
    if !(1e-4..1e15).contains(&a) {
        return format!("{v:.*e}", digits.saturating_sub(1));
    }
    let magnitude = a.log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    let s = format!("{a:.decimals$}");
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_owned(), Some(f.trim_end_matches('0').to_owned())),
        None => (s, None),
    };
    let mut grouped = String::new();
    let len = int.len();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (len - i) % 3 == 0 && len > 4 {
            grouped.push('\u{2009}');
        }
        grouped.push(ch);
    }
    if let Some(f) = frac.filter(|f| !f.is_empty()) {
        grouped.push('.');
        grouped.push_str(&f);
    }
    if v < 0.0 {
        format!("−{grouped}")
    } else {
        grouped
    }
}

/// Formats a share in [0, 1] as a percentage with one decimal.
pub fn format_percent(share: f64) -> String {
    if share.is_finite() {
        let s = format!("{:.1}%", 100.0 * share);
        s.replace('-', "−")
    } else {
        "n/a".to_owned()
    }
}

/// "Nice" tick values covering `[lo, hi]`, about `target` of them, at steps of
/// 1, 2 or 5 × 10^k (Heckbert 1990, "Nice numbers for graph labels").
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if lo == hi {
        return vec![lo];
    }
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let first = (lo / step).ceil();
    let last = (hi / step).floor();
    let count = (last - first) as i64;
    if !(0..=1000).contains(&count) {
        return vec![lo, hi];
    }
    // Round to the step's decimals so that 3 × 0.2 is 0.6, not 0.6000000000000001.
    let decimals = (-step.log10().floor()).max(0.0) as usize + 1;
    (0..=count)
        .map(|i| {
            let t = (first + i as f64) * step;
            let t: f64 = format!("{t:.decimals$}").parse().unwrap_or(t);
            if t == 0.0 { 0.0 } else { t }
        })
        .collect()
}

/// The nice step (1, 2, 2.5 or 5 × 10^k) nearest above `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let exp = raw.log10().floor();
    let base = 10f64.powf(exp);
    let f = raw / base;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// A domain extended outward to nice tick values.
pub fn nice_domain(lo: f64, hi: f64, target: usize) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad);
    }
    let step = nice_step((hi - lo) / target.max(1) as f64);
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

/// A linear map from a data domain to pixel positions.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Domain start.
    pub d0: f64,
    /// Domain end.
    pub d1: f64,
    /// Pixel position of `d0`.
    pub r0: f64,
    /// Pixel position of `d1`.
    pub r1: f64,
}

impl Scale {
    /// A scale from `[d0, d1]` to `[r0, r1]`.
    pub fn new(d0: f64, d1: f64, r0: f64, r1: f64) -> Scale {
        Scale { d0, d1, r0, r1 }
    }

    /// Pixel position of `v`, clamped to the range.
    pub fn px(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        let t = if span == 0.0 || !span.is_finite() {
            0.5
        } else {
            ((v - self.d0) / span).clamp(0.0, 1.0)
        };
        let t = if t.is_nan() { 0.0 } else { t };
        self.r0 + t * (self.r1 - self.r0)
    }
}

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rgb(pub f64, pub f64, pub f64);

impl Rgb {
    fn hex(self) -> String {
        let c = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        format!("#{:02x}{:02x}{:02x}", c(self.0), c(self.1), c(self.2))
    }

    fn parse(hex: &str) -> Rgb {
        let h = hex.trim_start_matches('#');
        let v = |i: usize| {
            h.get(i..i + 2)
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .map_or(0.0, |b| f64::from(b) / 255.0)
        };
        Rgb(v(0), v(2), v(4))
    }

    /// Relative luminance (WCAG 2).
    fn luminance(self) -> f64 {
        let lin = |c: f64| {
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }
}

/// Viridis (perceptually uniform, colour-blind safe), sampled at 9 stops.
const VIRIDIS: [&str; 9] = [
    "#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30",
    "#fde725",
];

/// ColorBrewer's RdBu (colour-blind safe diverging), blue for negative.
const DIVERGING: [&str; 9] = [
    "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
    "#b2182b",
];

fn interpolate(stops: &[&str], t: f64) -> Rgb {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (stops.len() - 1) as f64;
    let i = (pos.floor() as usize).min(stops.len() - 2);
    let f = pos - i as f64;
    let a = Rgb::parse(stops[i]);
    let b = Rgb::parse(stops[i + 1]);
    Rgb(
        a.0 + f * (b.0 - a.0),
        a.1 + f * (b.1 - a.1),
        a.2 + f * (b.2 - a.2),
    )
}

/// How a heat map maps values to colours.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ColourScale {
    /// Viridis from the minimum (dark) to the maximum (light).
    Sequential,
    /// Blue below zero, white at zero, red above, symmetric in the largest |value|.
    Diverging,
}

/// Fill colour for `t` in [0, 1] (sequential) or [-1, 1] (diverging), and a
/// readable text colour on it.
pub(crate) fn scale_colour(scale: ColourScale, t: f64) -> (String, &'static str) {
    let rgb = match scale {
        ColourScale::Sequential => interpolate(&VIRIDIS, t),
        ColourScale::Diverging => interpolate(&DIVERGING, (t + 1.0) / 2.0),
    };
    let text = if rgb.luminance() > 0.35 {
        INK
    } else {
        "#ffffff"
    };
    (rgb.hex(), text)
}

/// Horizontal text alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// Text style.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Font {
    pub size: f64,
    pub bold: bool,
    pub fill: &'static str,
    pub anchor: Anchor,
    /// A white outline behind the glyphs, for text drawn over marks.
    pub halo: bool,
}

impl Font {
    pub fn new(size: f64) -> Font {
        Font {
            size,
            bold: false,
            fill: INK,
            anchor: Anchor::Start,
            halo: false,
        }
    }
    pub fn halo(mut self) -> Font {
        self.halo = true;
        self
    }
    pub fn bold(mut self) -> Font {
        self.bold = true;
        self
    }
    pub fn fill(mut self, fill: &'static str) -> Font {
        self.fill = fill;
        self
    }
    pub fn anchor(mut self, anchor: Anchor) -> Font {
        self.anchor = anchor;
        self
    }
}

/// Space around the plotting area.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Margins {
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
    pub left: f64,
}

/// The drawing surface: SVG elements appended in order.
pub(crate) struct Canvas {
    pub width: f64,
    pub height: f64,
    title: String,
    body: String,
    marks: usize,
}

/// Coordinates rounded to 0.1 px keep files small and deterministic.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == 0.0 {
        "0".to_owned()
    } else if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Title font size and the height it takes with the subtitle.
pub(crate) const TITLE_SIZE: f64 = 16.0;
pub(crate) const LABEL_SIZE: f64 = 12.0;
pub(crate) const SMALL_SIZE: f64 = 11.0;

impl Canvas {
    /// A white canvas with the chart title (and an optional subtitle) at the top left.
    pub fn new(width: f64, height: f64, title: &str, subtitle: Option<&str>) -> Canvas {
        let mut c = Canvas {
            width,
            height,
            title: title.to_owned(),
            body: String::new(),
            marks: 0,
        };
        c.rect_plain(0.0, 0.0, width, height, "#ffffff", None);
        c.text(
            12.0,
            22.0,
            &fit_text(title, TITLE_SIZE, width - 24.0),
            Font::new(TITLE_SIZE).bold(),
        );
        if let Some(sub) = subtitle {
            c.text(
                12.0,
                40.0,
                &fit_text(sub, LABEL_SIZE, width - 24.0),
                Font::new(LABEL_SIZE).fill(MUTED),
            );
        }
        c
    }

    /// Top of the area below the title block.
    pub fn header_height(subtitle: bool) -> f64 {
        if subtitle { 52.0 } else { 34.0 }
    }

    fn tooltip(&mut self, tooltip: Option<&str>) {
        match tooltip {
            Some(t) => {
                let _ = write!(self.body, "><title>{}</title>", escape(t));
            }
            None => self.body.push('>'),
        }
    }

    fn close(&mut self, tag: &str, tooltip: Option<&str>) {
        if tooltip.is_some() {
            let _ = writeln!(self.body, "</{tag}>");
        } else {
            // Replace the opening `>` with a self-closing `/>`.
            self.body.pop();
            self.body.push_str("/>\n");
        }
    }

    /// A data mark rectangle (counted in [`Chart::marks`]).
    pub fn bar(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, tooltip: &str) {
        self.marks += 1;
        let _ = write!(
            self.body,
            "<rect class=\"mark\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0)),
            escape(fill)
        );
        self.tooltip(Some(tooltip));
        self.close("rect", Some(tooltip));
    }

    /// A non-data rectangle (background, legend swatch, band).
    pub fn rect_plain(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: Option<&str>) {
        let _ = write!(
            self.body,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0)),
            escape(fill)
        );
        if let Some(s) = stroke {
            let _ = write!(self.body, " stroke=\"{}\"", escape(s));
        }
        self.body.push_str("/>\n");
    }

    /// A data point (counted).
    pub fn point(&mut self, cx: f64, cy: f64, r: f64, fill: &str, tooltip: Option<&str>) {
        self.marks += 1;
        let _ = write!(
            self.body,
            "<circle class=\"mark\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"",
            n(cx),
            n(cy),
            n(r),
            escape(fill)
        );
        self.tooltip(tooltip);
        self.close("circle", tooltip);
    }

    /// A path; `mark` says whether it is a data mark.
    #[allow(clippy::too_many_arguments)]
    pub fn path(
        &mut self,
        d: &str,
        fill: &str,
        stroke: Option<(&str, f64)>,
        opacity: f64,
        mark: bool,
        tooltip: Option<&str>,
    ) {
        if mark {
            self.marks += 1;
            self.body.push_str("<path class=\"mark\"");
        } else {
            self.body.push_str("<path");
        }
        let _ = write!(self.body, " d=\"{}\" fill=\"{}\"", escape(d), escape(fill));
        if let Some((s, w)) = stroke {
            let _ = write!(
                self.body,
                " stroke=\"{}\" stroke-width=\"{}\"",
                escape(s),
                n(w)
            );
        }
        if opacity < 1.0 {
            let _ = write!(
                self.body,
                " fill-opacity=\"{:.2}\"",
                opacity.clamp(0.0, 1.0)
            );
        }
        self.tooltip(tooltip);
        self.close("path", tooltip);
    }

    /// A straight line (not a mark unless `mark`).
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &mut self,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: &str,
        width: f64,
        dashed: bool,
        mark: Option<&str>,
    ) {
        if mark.is_some() {
            self.marks += 1;
            self.body.push_str("<line class=\"mark\"");
        } else {
            self.body.push_str("<line");
        }
        let _ = write!(
            self.body,
            " x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"",
            n(x1),
            n(y1),
            n(x2),
            n(y2),
            escape(stroke),
            n(width)
        );
        if dashed {
            self.body.push_str(" stroke-dasharray=\"4 3\"");
        }
        self.tooltip(mark);
        self.close("line", mark);
    }

    /// A polyline through `points` (a data mark: one series).
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: f64, tooltip: &str) {
        self.marks += 1;
        let pts: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{},{}", n(x), n(y)))
            .collect();
        let _ = write!(
            self.body,
            "<polyline class=\"mark\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\"",
            pts.join(" "),
            escape(stroke),
            n(width)
        );
        self.tooltip(Some(tooltip));
        self.close("polyline", Some(tooltip));
    }

    /// Text at (x, y) (baseline).
    pub fn text(&mut self, x: f64, y: f64, s: &str, font: Font) {
        self.text_rotated(x, y, s, font, 0.0);
    }

    /// Lines of text, the first baseline at (x, y), `line_height` apart.
    pub fn text_lines(&mut self, x: f64, y: f64, lines: &[String], line_height: f64, font: Font) {
        for (i, line) in lines.iter().enumerate() {
            self.text(x, y + line_height * i as f64, line, font);
        }
    }

    /// Text rotated by `degrees` about its anchor point.
    pub fn text_rotated(&mut self, x: f64, y: f64, s: &str, font: Font, degrees: f64) {
        let _ = write!(
            self.body,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\"",
            n(x),
            n(y),
            n(font.size)
        );
        if font.bold {
            self.body.push_str(" font-weight=\"600\"");
        }
        if font.fill != INK {
            let _ = write!(self.body, " fill=\"{}\"", font.fill);
        }
        if font.anchor != Anchor::Start {
            let _ = write!(self.body, " text-anchor=\"{}\"", font.anchor.as_str());
        }
        if font.halo {
            self.body.push_str(
                " stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\"",
            );
        }
        if degrees != 0.0 {
            let _ = write!(
                self.body,
                " transform=\"rotate({} {} {})\"",
                n(degrees),
                n(x),
                n(y)
            );
        }
        let _ = writeln!(self.body, ">{}</text>", escape(s));
    }

    /// A legend row of coloured swatches with labels, starting at (x, y),
    /// wrapping at `max_x`; returns the y below the legend.
    pub fn legend(&mut self, x: f64, y: f64, max_x: f64, items: &[(String, String)]) -> f64 {
        let mut cx = x;
        let mut cy = y;
        for (label, colour) in items {
            let w = 16.0 + text_width(label, SMALL_SIZE) + 14.0;
            if cx + w > max_x && cx > x {
                cx = x;
                cy += 18.0;
            }
            self.rect_plain(cx, cy - 9.0, 10.0, 10.0, colour, None);
            self.text(cx + 14.0, cy, label, Font::new(SMALL_SIZE));
            cx += w;
        }
        cy + 10.0
    }

    /// A "no data" message centred in the canvas.
    pub fn no_data(&mut self, reason: &str) {
        let top = Canvas::header_height(false);
        self.rect_plain(
            12.0,
            top,
            self.width - 24.0,
            self.height - top - 12.0,
            NO_DATA,
            None,
        );
        self.text(
            self.width / 2.0,
            (top + self.height) / 2.0,
            &fit_text(&format!("No data: {reason}"), LABEL_SIZE, self.width - 40.0),
            Font::new(LABEL_SIZE).fill(MUTED).anchor(Anchor::Middle),
        );
    }

    /// A horizontal value axis at pixel `y` with grid lines up to `grid_top`.
    #[allow(clippy::too_many_arguments)]
    pub fn x_axis(
        &mut self,
        scale: Scale,
        ticks: &[f64],
        y: f64,
        grid_top: f64,
        label: &str,
        format: &dyn Fn(f64) -> String,
    ) {
        for &t in ticks {
            let x = scale.px(t);
            self.line(x, grid_top, x, y, GRID, 1.0, false, None);
            self.text(
                x,
                y + 15.0,
                &format(t),
                Font::new(SMALL_SIZE).fill(MUTED).anchor(Anchor::Middle),
            );
        }
        self.line(scale.r0, y, scale.r1, y, MUTED, 1.0, false, None);
        if !label.is_empty() {
            self.text(
                (scale.r0 + scale.r1) / 2.0,
                y + 33.0,
                label,
                Font::new(LABEL_SIZE).anchor(Anchor::Middle),
            );
        }
    }

    /// A vertical value axis at pixel `x` with grid lines to `grid_right`.
    #[allow(clippy::too_many_arguments)]
    pub fn y_axis(
        &mut self,
        scale: Scale,
        ticks: &[f64],
        x: f64,
        grid_right: f64,
        label: &str,
        format: &dyn Fn(f64) -> String,
    ) {
        let mut widest: f64 = 0.0;
        for &t in ticks {
            let y = scale.px(t);
            self.line(x, y, grid_right, y, GRID, 1.0, false, None);
            let s = format(t);
            widest = widest.max(text_width(&s, SMALL_SIZE));
            self.text(
                x - 6.0,
                y + 4.0,
                &s,
                Font::new(SMALL_SIZE).fill(MUTED).anchor(Anchor::End),
            );
        }
        self.line(x, scale.r0, x, scale.r1, MUTED, 1.0, false, None);
        if !label.is_empty() {
            let cx = x - widest - 18.0;
            self.text_rotated(
                cx,
                (scale.r0 + scale.r1) / 2.0,
                label,
                Font::new(LABEL_SIZE).anchor(Anchor::Middle),
                -90.0,
            );
        }
    }

    /// The finished SVG document.
    pub fn finish(self) -> Chart {
        let mut svg = String::with_capacity(self.body.len() + 512);
        svg.push_str(XML_DECLARATION);
        let _ = write!(
            svg,
            "\n<svg{SVG_NAMESPACE} width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" font-family=\"{font}\">\n<title>{title}</title>\n",
            w = n(self.width),
            h = n(self.height),
            font = escape(FONT_FAMILY),
            title = escape(&self.title),
        );
        svg.push_str(&self.body);
        svg.push_str("</svg>\n");
        Chart {
            title: self.title,
            width: self.width,
            height: self.height,
            marks: self.marks,
            svg,
        }
    }
}

/// Checks that all values are finite, naming the first bad one.
pub(crate) fn check_finite(
    what: &'static str,
    values: impl IntoIterator<Item = f64>,
) -> Result<()> {
    for (i, v) in values.into_iter().enumerate() {
        if !v.is_finite() {
            return Err(Error::value(
                what,
                v.to_string(),
                format!("value {i} is not a finite number"),
            ));
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

    #[test]
    fn nice_ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 97.0, 5), vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        assert_eq!(
            nice_ticks(-3.0, 3.0, 6),
            vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
        );
        assert_eq!(nice_ticks(5.0, 5.0, 5), vec![5.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
        assert_eq!(nice_domain(0.03, 0.87, 5), (0.0, 1.0));
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(format_number(1234567.0, 3), "1\u{2009}234\u{2009}567");
        assert_eq!(format_number(1234.0, 3), "1234");
        assert_eq!(format_number(0.12345, 3), "0.123");
        assert_eq!(format_number(-2.5, 3), "−2.5");
        assert_eq!(format_number(f64::NAN, 3), "n/a");
        assert_eq!(format_percent(0.1234), "12.3%");
    }

    #[test]
    fn long_labels_are_shortened_to_fit() {
        let s = fit_text("a very long segment name indeed", 12.0, 60.0);
        assert!(s.ends_with('…'));
        assert!(text_width(&s, 12.0) <= 60.0 + 1e-9);
        assert_eq!(fit_text("short", 12.0, 100.0), "short");
    }

    #[test]
    fn wrapped_labels_fit_their_width_and_keep_every_word() {
        let s = "2 high direct_mail, high email, store-first";
        let lines = wrap_text(s, 11.0, 104.0, 3);
        assert!(lines.len() <= 3, "{lines:?}");
        for l in &lines {
            assert!(text_width(l, 11.0) <= 104.0 + 1e-9, "{l}");
        }
        assert_eq!(lines.join(" "), s);
        assert_eq!(wrap_text("short", 11.0, 100.0, 2), vec!["short".to_owned()]);
        let cut = wrap_text("one two three four five six seven", 12.0, 40.0, 2);
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with('…'));
        assert_eq!(wrap_text("", 12.0, 40.0, 2), vec![String::new()]);
    }

    #[test]
    fn scales_clamp_and_survive_empty_domains() {
        let s = Scale::new(0.0, 10.0, 100.0, 200.0);
        assert_eq!(s.px(5.0), 150.0);
        assert_eq!(s.px(20.0), 200.0);
        assert_eq!(Scale::new(1.0, 1.0, 0.0, 10.0).px(1.0), 5.0);
    }

    #[test]
    fn text_on_dark_fills_is_white() {
        assert_eq!(scale_colour(ColourScale::Sequential, 0.0).1, "#ffffff");
        assert_eq!(scale_colour(ColourScale::Sequential, 1.0).1, INK);
        assert_eq!(scale_colour(ColourScale::Diverging, 0.0).0, "#f7f7f7");
    }
}
