//! The [`Report`] builder: sections of text, tables and charts assembled into
//! one self-contained HTML file (inline SVG and CSS; no scripts, fonts,
//! images or styles fetched from anywhere), readable on a laptop and printable.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::svg::{Chart, escape};
use crate::error::{Error, Result};

/// A table of text cells with a header row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportTable {
    /// Column headings.
    pub header: Vec<String>,
    /// Rows of cells; a row shorter than the header is padded with empty cells.
    pub rows: Vec<Vec<String>>,
    /// Indices of columns holding numbers (right-aligned, tabular figures).
    pub numeric: Vec<usize>,
    /// A caption under the table.
    pub caption: Option<String>,
}

impl ReportTable {
    /// A table with this header and no rows; columns whose every later cell
    /// parses as a number are right-aligned once rows are added.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> ReportTable {
        ReportTable {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            numeric: Vec::new(),
            caption: None,
        }
    }

    /// Appends a row.
    pub fn row<S: Into<String>>(mut self, cells: impl IntoIterator<Item = S>) -> ReportTable {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// Marks columns as numeric.
    pub fn numeric(mut self, columns: &[usize]) -> ReportTable {
        self.numeric = columns.to_vec();
        self
    }

    /// Sets the caption.
    pub fn caption(mut self, caption: impl Into<String>) -> ReportTable {
        self.caption = Some(caption.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Text(String),
    ReportTable(ReportTable),
    Chart {
        chart: Chart,
        caption: Option<String>,
    },
}

/// One section of a report: a heading followed by blocks in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    heading: String,
    blocks: Vec<Block>,
}

impl Section {
    /// Adds a paragraph of plain text (escaped; blank lines start new paragraphs).
    pub fn text(&mut self, text: impl Into<String>) -> &mut Section {
        self.blocks.push(Block::Text(text.into()));
        self
    }

    /// Adds a table.
    pub fn table(&mut self, table: ReportTable) -> &mut Section {
        self.blocks.push(Block::ReportTable(table));
        self
    }

    /// Adds a chart.
    pub fn chart(&mut self, chart: Chart) -> &mut Section {
        self.blocks.push(Block::Chart {
            chart,
            caption: None,
        });
        self
    }

    /// Adds a chart with a caption saying how to read it.
    pub fn chart_with_caption(&mut self, chart: Chart, caption: impl Into<String>) -> &mut Section {
        self.blocks.push(Block::Chart {
            chart,
            caption: Some(caption.into()),
        });
        self
    }

    /// The section's heading.
    pub fn heading(&self) -> &str {
        &self.heading
    }

    /// The charts in this section, in order.
    pub fn charts(&self) -> impl Iterator<Item = &Chart> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Chart { chart, .. } => Some(chart),
            _ => None,
        })
    }
}

/// A self-contained HTML report.
///
/// ```
/// use custinsight::report::{Report, ReportTable};
/// use custinsight::report::charts::{BarChart, Series, ValueFormat, bar_chart};
///
/// let chart = bar_chart(&BarChart {
///     title: "Customers by stage".into(),
///     subtitle: None,
///     categories: vec!["new".into(), "mature".into()],
///     series: vec![Series { name: "customers".into(), values: vec![120.0, 340.0] }],
///     value_label: "customers".into(),
///     format: ValueFormat::Number,
/// })?;
/// let mut report = Report::new("Customer report");
/// report
///     .section("Lifecycle")
///     .text("Where our customers are.")
///     .chart(chart)
///     .table(ReportTable::new(["stage", "customers"]).row(["new", "120"]).numeric(&[1]));
/// let html = report.to_html();
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(!html.contains("http"));
/// # Ok::<(), custinsight::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    title: String,
    intro: Vec<String>,
    sections: Vec<Section>,
}

const STYLE: &str = "
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f6f4; color: #222; font: 16px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 1.9rem; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.35rem; margin: 2em 0 0.5em; padding-top: 0.6em; border-top: 2px solid #e3e3e3; }
p { max-width: 46em; margin: 0.5em 0; }
nav ul { columns: 2; list-style: none; padding-left: 0; margin: 0.5em 0 1em; }
nav a { color: #0060a0; }
figure { margin: 1.2em 0; }
figure svg { max-width: 100%; height: auto; display: block; border: 1px solid #ececec; border-radius: 4px; }
figcaption { font-size: 0.9rem; color: #555; max-width: 46em; margin-top: 0.3em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92rem; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: left; vertical-align: top; }
th { background: #f3f3f1; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
caption { caption-side: bottom; text-align: left; font-size: 0.9rem; color: #555; padding-top: 4px; }
.meta { color: #555; font-size: 0.95rem; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-before: auto; break-after: avoid; }
  figure, table { break-inside: avoid; }
}
";

/// A file-name-safe slug of `s`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "chart".to_owned()
    } else {
        trimmed.chars().take(60).collect()
    }
}

fn paragraphs(out: &mut String, text: &str) {
    for para in text.split("\n\n") {
        let p = para.trim();
        if !p.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", escape(p));
        }
    }
}

impl Report {
    /// An empty report with this title.
    pub fn new(title: impl Into<String>) -> Report {
        Report {
            title: title.into(),
            intro: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// Adds introductory text under the title.
    pub fn intro(&mut self, text: impl Into<String>) -> &mut Report {
        self.intro.push(text.into());
        self
    }

    /// Starts a new section and returns it for adding blocks.
    pub fn section(&mut self, heading: impl Into<String>) -> &mut Section {
        self.sections.push(Section {
            heading: heading.into(),
            blocks: Vec::new(),
        });
        let last = self.sections.len() - 1;
        &mut self.sections[last]
    }

    /// The sections, in order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// Every chart with the file name it gets beside the report
    /// (`NN-section-title.svg`, numbered in order so names never collide).
    pub fn chart_files(&self) -> Vec<(String, &Chart)> {
        let mut out = Vec::new();
        for s in &self.sections {
            for chart in s.charts() {
                let name = format!("{:02}-{}.svg", out.len() + 1, slug(&chart.title));
                out.push((name, chart));
            }
        }
        out
    }

    /// The report as one HTML document.
    pub fn to_html(&self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
            escape(&self.title),
            escape(&self.title)
        );
        for text in &self.intro {
            paragraphs(&mut out, text);
        }
        if self.sections.len() > 1 {
            out.push_str("<nav><ul>\n");
            for (i, s) in self.sections.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "<li><a href=\"#s{}\">{}</a></li>",
                    i + 1,
                    escape(&s.heading)
                );
            }
            out.push_str("</ul></nav>\n");
        }
        for (i, s) in self.sections.iter().enumerate() {
            let _ = writeln!(
                out,
                "<section id=\"s{}\">\n<h2>{}</h2>",
                i + 1,
                escape(&s.heading)
            );
            for block in &s.blocks {
                match block {
                    Block::Text(t) => paragraphs(&mut out, t),
                    Block::ReportTable(t) => write_table(&mut out, t),
                    Block::Chart { chart, caption } => {
                        out.push_str("<figure>\n");
                        out.push_str(&chart.inline_svg());
                        if let Some(c) = caption {
                            let _ = writeln!(out, "<figcaption>{}</figcaption>", escape(c));
                        }
                        out.push_str("</figure>\n");
                    }
                }
            }
            out.push_str("</section>\n");
        }
        out.push_str("</main>\n</body>\n</html>\n");
        out
    }

    /// Writes `report.html` and every chart as an SVG file into `dir`
    /// (created if missing); returns the paths written, the report first.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder or a file cannot be written.
    pub fn write_to_dir(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            context: dir.display().to_string(),
            source,
        })?;
        let report = dir.join("report.html");
        std::fs::write(&report, self.to_html()).map_err(|source| Error::Io {
            context: report.display().to_string(),
            source,
        })?;
        let mut written = vec![report];
        for (name, chart) in self.chart_files() {
            let path = dir.join(name);
            chart.write(&path)?;
            written.push(path);
        }
        Ok(written)
    }
}

fn write_table(out: &mut String, t: &ReportTable) {
    out.push_str("<table>\n");
    if let Some(c) = &t.caption {
        let _ = writeln!(out, "<caption>{}</caption>", escape(c));
    }
    let class = |j: usize| {
        if t.numeric.contains(&j) {
            " class=\"num\""
        } else {
            ""
        }
    };
    out.push_str("<thead><tr>");
    for (j, h) in t.header.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(j), escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let width = t
        .header
        .len()
        .max(t.rows.iter().map(Vec::len).max().unwrap_or(0));
    for row in &t.rows {
        out.push_str("<tr>");
        for j in 0..width {
            let cell = row.get(j).map_or("", String::as_str);
            let _ = write!(out, "<td{}>{}</td>", class(j), escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::{BarChart, Series, ValueFormat, bar_chart};

    fn chart(title: &str) -> Chart {
        bar_chart(&BarChart {
            title: title.into(),
            subtitle: None,
            categories: vec!["a".into()],
            series: vec![Series {
                name: "s".into(),
                values: vec![1.0],
            }],
            value_label: "n".into(),
            format: ValueFormat::Number,
        })
        .unwrap()
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let mut r = Report::new("R & D <report>");
        r.intro("first\n\nsecond");
        r.section("One").text("x < y").chart(chart("A chart"));
        r.section("Two")
            .table(
                ReportTable::new(["k", "v"])
                    .row(["a", "1"])
                    .row(["b"])
                    .numeric(&[1]),
            )
            .chart_with_caption(chart("A chart"), "read me");
        let html = r.to_html();
        assert!(html.contains("<title>R &amp; D &lt;report&gt;</title>"));
        assert!(html.contains("<p>x &lt; y</p>"));
        assert_eq!(html.matches("<svg").count(), 2);
        assert_eq!(html.matches("<p>").count(), 3);
        for external in [
            "http:", "https:", "<script", "<link", "src=", "url(", "@import",
        ] {
            assert!(!html.contains(external), "{external}");
        }
        // The short row is padded.
        assert!(html.contains("<tr><td>b</td><td class=\"num\"></td></tr>"));
        let files: Vec<String> = r.chart_files().into_iter().map(|(n, _)| n).collect();
        assert_eq!(files, vec!["01-a-chart.svg", "02-a-chart.svg"]);
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(
            slug("P(alive) by frequency × recency"),
            "p-alive-by-frequency-recency"
        );
        assert_eq!(slug("—"), "chart");
    }

    #[test]
    fn writes_the_report_and_the_charts() {
        let dir = std::env::temp_dir().join(format!("custinsight-report-{}", std::process::id()));
        let mut r = Report::new("R");
        r.section("S").chart(chart("c"));
        let written = r.write_to_dir(&dir).unwrap();
        assert_eq!(written.len(), 2);
        assert!(written.iter().all(|p| p.exists()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
