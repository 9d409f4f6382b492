//! The journey Sankey: channels at each step of the journeys and where they
//! end, drawn from a path table as nodes in columns and links between them.

use serde::{Deserialize, Serialize};

use super::no_data;
use crate::error::{Error, Result};
use crate::report::charts::WIDTH;
use crate::report::svg::{
    Anchor, Canvas, Chart, Font, LABEL_SIZE, MUTED, PALETTE, SMALL_SIZE, fit_text, format_number,
    series_colour,
};
use crate::touchpoints::paths::PathTable;

/// A node of a [`Sankey`]: a labelled bar in a column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SankeyNode {
    /// Label written next to the node (with its count).
    pub label: String,
    /// Column index, 0 = left.
    pub column: usize,
    /// Fill colour (CSS); `None`: the palette colour of the node's position.
    pub colour: Option<String>,
}

/// A flow between two nodes of a [`Sankey`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SankeyLink {
    /// Index of the source node.
    pub source: usize,
    /// Index of the target node, in a column to the right of the source's.
    pub target: usize,
    /// Flow size (journeys, customers, ...), ≥ 0; zero flows are not drawn.
    pub value: f64,
}

/// Flows between nodes arranged in columns, drawn by [`sankey`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sankey {
    /// Chart title.
    pub title: String,
    /// A line under the title.
    pub subtitle: Option<String>,
    /// Column headings, left to right; their number fixes the columns.
    pub columns: Vec<String>,
    /// Nodes; within a column they are stacked top to bottom in this order.
    pub nodes: Vec<SankeyNode>,
    /// Links, coloured by their source node.
    pub links: Vec<SankeyLink>,
    /// What a flow counts, for labels and tooltips (e.g. "journeys").
    pub unit: String,
    /// A note under the diagram (how to read it, what was left out); one
    /// line per `\n`.
    pub note: Option<String>,
}

/// Height of the Sankey's drawing area.
const SANKEY_PLOT_H: f64 = 400.0;
const NODE_W: f64 = 12.0;
const NODE_GAP: f64 = 12.0;

/// Draws a Sankey diagram: nodes as bars in columns, links as ribbons (cubic
/// Bézier bands, opacity 0.4, coloured by their source) whose widths are
/// proportional to their values. A node's height is the larger of its in- and
/// out-flow. Each drawn link is one mark; nodes are not marks but have a
/// tooltip.
///
/// # Errors
/// [`Error::OutOfRange`] for a node in a missing column or a link between
/// missing nodes; [`Error::InvalidValue`] for a link not running left to
/// right, or a negative or non-finite link value.
pub fn sankey(spec: &Sankey) -> Result<Chart> {
    let n_cols = spec.columns.len();
    if let Some(node) = spec.nodes.iter().find(|n| n.column >= n_cols) {
        return Err(Error::out_of_range(
            format!("sankey `{}`: column of node `{}`", spec.title, node.label),
            node.column,
            n_cols,
        ));
    }
    for l in &spec.links {
        let (Some(s), Some(t)) = (spec.nodes.get(l.source), spec.nodes.get(l.target)) else {
            let missing = if spec.nodes.get(l.source).is_none() {
                l.source
            } else {
                l.target
            };
            return Err(Error::out_of_range(
                format!("sankey `{}`: link node", spec.title),
                missing,
                spec.nodes.len(),
            ));
        };
        if s.column >= t.column {
            return Err(Error::value(
                "sankey link",
                format!("`{}` to `{}` in `{}`", s.label, t.label, spec.title),
                "must run left to right",
            ));
        }
        if !(l.value.is_finite() && l.value >= 0.0) {
            return Err(Error::value(
                "sankey link value",
                l.value.to_string(),
                "must be finite and >= 0",
            ));
        }
    }
    let links: Vec<&SankeyLink> = spec.links.iter().filter(|l| l.value > 0.0).collect();
    if links.is_empty() {
        return Ok(no_data(&spec.title, "there are no flows to draw"));
    }
    // Node sizes.
    let n_nodes = spec.nodes.len();
    let mut inflow = vec![0.0; n_nodes];
    let mut outflow = vec![0.0; n_nodes];
    for l in &links {
        outflow[l.source] += l.value;
        inflow[l.target] += l.value;
    }
    let size: Vec<f64> = (0..n_nodes).map(|i| inflow[i].max(outflow[i])).collect();
    let mut by_col: Vec<Vec<usize>> = vec![Vec::new(); n_cols];
    for (i, node) in spec.nodes.iter().enumerate() {
        if size[i] > 0.0 {
            by_col[node.column].push(i);
        }
    }
    // One value-to-pixel factor for all columns, fitted to the fullest.
    let k = by_col
        .iter()
        .filter(|col| !col.is_empty())
        .map(|col| {
            let total: f64 = col.iter().map(|&i| size[i]).sum();
            (SANKEY_PLOT_H - NODE_GAP * (col.len() - 1) as f64).max(40.0) / total
        })
        .fold(f64::INFINITY, f64::min);
    let header = Canvas::header_height(spec.subtitle.is_some());
    let top = header + 30.0;
    let (left, right) = (16.0, WIDTH - 16.0);
    let col_x = |c: usize| {
        if n_cols <= 1 {
            left
        } else {
            left + (right - left - NODE_W) * c as f64 / (n_cols - 1) as f64
        }
    };
    let gap_w = if n_cols <= 1 {
        right - left
    } else {
        (right - left - NODE_W) / (n_cols - 1) as f64
    };
    // Node positions: stacked from the top, columns centred vertically.
    let mut node_y = vec![0.0; n_nodes];
    let mut used_h: f64 = 0.0;
    for col in &by_col {
        let h: f64 = col.iter().map(|&i| size[i] * k).sum::<f64>()
            + NODE_GAP * col.len().saturating_sub(1) as f64;
        used_h = used_h.max(h);
    }
    for col in &by_col {
        let h: f64 = col.iter().map(|&i| size[i] * k).sum::<f64>()
            + NODE_GAP * col.len().saturating_sub(1) as f64;
        let mut y = top + (used_h - h) / 2.0;
        for &i in col {
            node_y[i] = y;
            y += size[i] * k + NODE_GAP;
        }
    }
    let note_lines: Vec<&str> = spec
        .note
        .as_deref()
        .map_or(Vec::new(), |n| n.lines().collect());
    let note_h = 16.0 * note_lines.len() as f64 + if note_lines.is_empty() { 0.0 } else { 6.0 };
    let height = top + used_h + 24.0 + note_h;
    let mut c = Canvas::new(WIDTH, height, &spec.title, spec.subtitle.as_deref());
    for (ci, heading) in spec.columns.iter().enumerate() {
        let x = col_x(ci) + NODE_W / 2.0;
        let anchor = if n_cols > 1 && ci == 0 {
            Anchor::Start
        } else if n_cols > 1 && ci == n_cols - 1 {
            Anchor::End
        } else {
            Anchor::Middle
        };
        let ax = match anchor {
            Anchor::Start => col_x(ci),
            Anchor::End => col_x(ci) + NODE_W,
            Anchor::Middle => x,
        };
        c.text(
            ax,
            top - 12.0,
            &fit_text(heading, LABEL_SIZE, gap_w - 8.0),
            Font::new(LABEL_SIZE).bold().anchor(anchor),
        );
    }
    let colour = |i: usize| -> String {
        spec.nodes
            .get(i)
            .and_then(|n| n.colour.clone())
            .unwrap_or_else(|| series_colour(i).to_owned())
    };
    // Link slots: out-links ordered by their target's position, in-links by their source's.
    let mut order: Vec<usize> = (0..links.len()).collect();
    let centre = |i: usize| node_y[i] + size[i] * k / 2.0;
    order.sort_by(|&a, &b| {
        let (la, lb) = (links[a], links[b]);
        la.source
            .cmp(&lb.source)
            .then(centre(la.target).total_cmp(&centre(lb.target)))
    });
    let mut out_y = node_y.clone();
    let mut source_y = vec![0.0; links.len()];
    for &li in &order {
        let l = links[li];
        source_y[li] = out_y[l.source];
        out_y[l.source] += l.value * k;
    }
    order.sort_by(|&a, &b| {
        let (la, lb) = (links[a], links[b]);
        la.target
            .cmp(&lb.target)
            .then(centre(la.source).total_cmp(&centre(lb.source)))
    });
    let mut in_y = node_y.clone();
    let mut target_y = vec![0.0; links.len()];
    for &li in &order {
        let l = links[li];
        target_y[li] = in_y[l.target];
        in_y[l.target] += l.value * k;
    }
    // Ribbons first, nodes on top.
    for (li, l) in links.iter().enumerate() {
        let (s, t) = (&spec.nodes[l.source], &spec.nodes[l.target]);
        let x0 = col_x(s.column) + NODE_W;
        let x1 = col_x(t.column);
        let xm = (x0 + x1) / 2.0;
        let (y0, y1, w) = (source_y[li], target_y[li], (l.value * k).max(0.5));
        let d = format!(
            "M{x0:.1},{y0:.1} C{xm:.1},{y0:.1} {xm:.1},{y1:.1} {x1:.1},{y1:.1} \
             L{x1:.1},{y1w:.1} C{xm:.1},{y1w:.1} {xm:.1},{y0w:.1} {x0:.1},{y0w:.1} Z",
            y1w = y1 + w,
            y0w = y0 + w,
        );
        let tip = format!(
            "{} → {}: {} {}",
            s.label,
            t.label,
            format_number(l.value, 4),
            spec.unit
        );
        c.path(&d, &colour(l.source), None, 0.4, true, Some(&tip));
    }
    for col in &by_col {
        for &i in col {
            let node = &spec.nodes[i];
            let (x, y, h) = (col_x(node.column), node_y[i], (size[i] * k).max(1.0));
            let d = format!("M{x:.1},{y:.1} h{NODE_W:.1} v{h:.1} h-{NODE_W:.1} Z");
            let count = format_number(size[i], 4);
            let tip = format!("{}: {count} {}", node.label, spec.unit);
            c.path(&d, &colour(i), None, 1.0, false, Some(&tip));
            // Labels right of the node, except in the last column; only where they fit.
            if h >= SMALL_SIZE - 1.0 {
                let label = format!("{} {count}", node.label);
                let last = n_cols > 1 && node.column == n_cols - 1;
                let room = gap_w - NODE_W - 10.0;
                // Over the ribbons: a white outline keeps the label legible.
                let font = Font::new(SMALL_SIZE).halo();
                if last {
                    c.text(
                        x - 4.0,
                        y + h / 2.0 + 4.0,
                        &fit_text(&label, SMALL_SIZE, room),
                        font.anchor(Anchor::End),
                    );
                } else {
                    c.text(
                        x + NODE_W + 4.0,
                        y + h / 2.0 + 4.0,
                        &fit_text(&label, SMALL_SIZE, room),
                        font,
                    );
                }
            }
        }
    }
    for (i, line) in note_lines.iter().enumerate() {
        c.text(
            left,
            height - 10.0 - 16.0 * (note_lines.len() - 1 - i) as f64,
            &fit_text(line, SMALL_SIZE, right - left),
            Font::new(SMALL_SIZE).fill(MUTED),
        );
    }
    Ok(c.finish())
}

/// Parameters of [`journey_flows`] and [`journey_sankey`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JourneySankeyParams {
    /// Journey steps shown (1 to 12; default 4); longer journeys are folded.
    pub steps: usize,
    /// Channels kept by name (default 6), the ones in most journeys; the rest are "other".
    pub top_channels: usize,
}

impl Default for JourneySankeyParams {
    fn default() -> Self {
        JourneySankeyParams {
            steps: 4,
            top_channels: 6,
        }
    }
}

impl JourneySankeyParams {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `steps` outside 1 to 12 or no top channel.
    pub fn check(&self) -> Result<()> {
        if !(1..=12).contains(&self.steps) {
            return Err(Error::param(
                "steps",
                self.steps,
                "must be between 1 and 12",
            ));
        }
        if self.top_channels == 0 {
            return Err(Error::param("top_channels", 0, "keep at least one channel"));
        }
        Ok(())
    }
}

/// Label of the terminal node of converting journeys.
pub const CONVERTED: &str = "converted";
/// Label of the terminal node of journeys without conversion.
pub const NOT_CONVERTED: &str = "not converted";
/// Label of the node of the channels beyond the top ones.
pub const OTHER: &str = "other";

/// The channel flows of a path table as a [`Sankey`] (module docs): nodes are
/// the channels at steps 1 to `steps`, then "converted" and "not converted";
/// every path contributes its conversions plus non-conversions as journeys.
///
/// # Errors
/// [`Error::InvalidParameter`] for `steps` outside 1 to 12 or no top channel.
pub fn journey_flows(paths: &PathTable, params: &JourneySankeyParams) -> Result<Sankey> {
    params.check()?;
    let steps = params.steps;
    let channels = paths.channels();
    let (conversions, nulls) = (paths.conversions(), paths.nulls());
    let weight = |p: usize| {
        conversions.get(p).copied().unwrap_or(0.0) + nulls.get(p).copied().unwrap_or(0.0)
    };
    // Rank channels by the journeys in whose first `steps` steps they appear.
    let mut reach = vec![0.0; channels.len()];
    let mut seen = vec![false; channels.len()];
    for p in 0..paths.len() {
        let w = weight(p);
        seen.iter_mut().for_each(|s| *s = false);
        for &ch in paths.path(p).iter().take(steps) {
            if let Some(s) = seen.get_mut(ch as usize) {
                if !*s {
                    *s = true;
                    reach[ch as usize] += w;
                }
            }
        }
    }
    let mut ranked: Vec<usize> = (0..channels.len()).filter(|&c| reach[c] > 0.0).collect();
    ranked.sort_by(|&a, &b| reach[b].total_cmp(&reach[a]).then(a.cmp(&b)));
    ranked.truncate(params.top_channels);
    let slots = ranked.len() + 1; // top channels, then "other"
    let slot_of = |ch: u16| {
        ranked
            .iter()
            .position(|&c| c == ch as usize)
            .unwrap_or(ranked.len())
    };
    // Node ids: step * slots + slot, then the two outcomes.
    let outcome_base = steps * slots;
    let mut flows: std::collections::BTreeMap<(usize, usize), f64> = Default::default();
    for p in 0..paths.len() {
        let path = paths.path(p);
        let (conv, null) = (
            conversions.get(p).copied().unwrap_or(0.0),
            nulls.get(p).copied().unwrap_or(0.0),
        );
        if path.is_empty() || conv + null <= 0.0 {
            continue;
        }
        let nodes: Vec<usize> = path
            .iter()
            .take(steps)
            .enumerate()
            .map(|(s, &ch)| s * slots + slot_of(ch))
            .collect();
        for w in nodes.windows(2) {
            *flows.entry((w[0], w[1])).or_default() += conv + null;
        }
        if let Some(&last) = nodes.last() {
            if conv > 0.0 {
                *flows.entry((last, outcome_base)).or_default() += conv;
            }
            if null > 0.0 {
                *flows.entry((last, outcome_base + 1)).or_default() += null;
            }
        }
    }
    // Keep the nodes that carry flow, renumbered.
    let mut used = vec![false; outcome_base + 2];
    for &(s, t) in flows.keys() {
        used[s] = true;
        used[t] = true;
    }
    let mut index = vec![usize::MAX; outcome_base + 2];
    let mut nodes = Vec::new();
    for (id, _) in used.iter().enumerate().filter(|(_, u)| **u) {
        index[id] = nodes.len();
        let node = if id >= outcome_base {
            let converted = id == outcome_base;
            SankeyNode {
                label: if converted { CONVERTED } else { NOT_CONVERTED }.to_owned(),
                column: steps,
                colour: Some(if converted { "#222222" } else { "#b0b0b0" }.to_owned()),
            }
        } else {
            let (step, slot) = (id / slots, id % slots);
            let (label, colour) = match ranked.get(slot) {
                Some(&ch) => (
                    channels.get(ch).cloned().unwrap_or_default(),
                    series_colour(slot).to_owned(),
                ),
                None => (OTHER.to_owned(), PALETTE[PALETTE.len() - 1].to_owned()),
            };
            SankeyNode {
                label,
                column: step,
                colour: Some(colour),
            }
        };
        nodes.push(node);
    }
    let links = flows
        .into_iter()
        .map(|((s, t), value)| SankeyLink {
            source: index[s],
            target: index[t],
            value,
        })
        .collect();
    let mut columns: Vec<String> = (1..=steps).map(|s| format!("step {s}")).collect();
    columns.push("outcome".to_owned());
    let journeys = paths.total_conversions() + paths.total_nulls();
    let subtitle = format!(
        "{} journeys by channel at each step; ribbon width ∝ journeys",
        format_number(journeys, 4)
    );
    let mut note = format!(
        "Longer journeys are folded into step {steps}; shorter ones flow from their last step \
         to the outcome."
    );
    if paths.direct_conversions() > 0.0 {
        note.push_str(&format!(
            "\n{} direct conversions (no touch before them) are not shown.",
            format_number(paths.direct_conversions(), 4)
        ));
    }
    Ok(Sankey {
        title: "Journeys: channel at each step and the outcome".to_owned(),
        subtitle: Some(subtitle),
        columns,
        nodes,
        links,
        unit: "journeys".to_owned(),
        note: Some(note),
    })
}

/// The journey Sankey of a path table (module docs); one mark per link.
///
/// # Errors
/// As [`journey_flows`].
pub fn journey_sankey(paths: &PathTable, params: &JourneySankeyParams) -> Result<Chart> {
    sankey(&journey_flows(paths, params)?)
}
