//! The drawing surface: fonts, strokes, marks, text, legends and axes appended as SVG elements.

use std::fmt::Write as _;

use super::{
    Chart, FONT_FAMILY, GRID, INK, MUTED, NO_DATA, SVG_NAMESPACE, Scale, XML_DECLARATION, escape,
    fit_text, text_width,
};

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

/// How a line is stroked: colour, width and whether it is dashed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stroke<'a> {
    pub colour: &'a str,
    pub width: f64,
    pub dashed: bool,
}

impl<'a> Stroke<'a> {
    /// A solid line.
    pub fn solid(colour: &'a str, width: f64) -> Stroke<'a> {
        Stroke {
            colour,
            width,
            dashed: false,
        }
    }
    /// A dashed line (4 px on, 3 px off).
    pub fn dashed(colour: &'a str, width: f64) -> Stroke<'a> {
        Stroke {
            colour,
            width,
            dashed: true,
        }
    }
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

    /// A straight line from (x1, y1) to (x2, y2) (not a mark unless `mark`).
    pub fn line(
        &mut self,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        stroke: Stroke<'_>,
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
            escape(stroke.colour),
            n(stroke.width)
        );
        if stroke.dashed {
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
            self.line(x, grid_top, x, y, Stroke::solid(GRID, 1.0), None);
            self.text(
                x,
                y + 15.0,
                &format(t),
                Font::new(SMALL_SIZE).fill(MUTED).anchor(Anchor::Middle),
            );
        }
        self.line(scale.r0, y, scale.r1, y, Stroke::solid(MUTED, 1.0), None);
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
            self.line(x, y, grid_right, y, Stroke::solid(GRID, 1.0), None);
            let s = format(t);
            widest = widest.max(text_width(&s, SMALL_SIZE));
            self.text(
                x - 6.0,
                y + 4.0,
                &s,
                Font::new(SMALL_SIZE).fill(MUTED).anchor(Anchor::End),
            );
        }
        self.line(x, scale.r0, x, scale.r1, Stroke::solid(MUTED, 1.0), None);
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
