//! Channel paths: journeys reduced to their sequence of channels, counted.
//!
//! A [`PathTable`] holds every distinct channel path with its conversions,
//! non-conversions ("nulls") and conversion value: the input of every
//! attribution model, in the same shape as the R/Python package
//! ChannelAttribution's data frames (`path, total_conversions, total_null,
//! total_conversion_value`, channels joined by `" > "`). It is built from
//! [`Journeys`] or read from such a file.
//!
//! [`PathStats`] answers the descriptive questions: the most frequent paths,
//! how long paths are, which channels open and close journeys, and the
//! channel-to-channel transitions (the flows of a Sankey diagram).
//! [`time_to_conversion`] summarises how long converting journeys take.

use std::hash::BuildHasher;
use std::io::Read;

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ingest::IngestReport;
use crate::store::CustomerBase;

use super::journey::{JourneyOutcome, Journeys};

/// The separator between channels in a path string, as ChannelAttribution writes it.
pub const PATH_SEPARATOR: &str = " > ";

/// Distinct channel paths with their outcomes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathTable {
    channels: Vec<String>,
    /// `offsets[p]..offsets[p + 1]` indexes `codes` for path `p`.
    offsets: Vec<u32>,
    codes: Vec<u16>,
    conversions: Vec<f64>,
    nulls: Vec<f64>,
    value: Vec<f64>,
    direct_conversions: f64,
    direct_value: f64,
    #[serde(skip)]
    index: PathIndex,
}

/// Path id by path, hashed from the codes in place (no key copies); rebuilt
/// when missing, e.g. after deserialising.
#[derive(Debug, Clone, Default)]
struct PathIndex {
    table: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl PartialEq for PathIndex {
    /// The index is derived data: tables are equal when their paths are.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// One path row as read from a file, still text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPathRow {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// Channels joined by `>`.
    pub path: String,
    /// `total_conversions`.
    pub conversions: String,
    /// `total_null`.
    pub nulls: String,
    /// `total_conversion_value`, when the column exists.
    pub value: Option<String>,
}

impl PathTable {
    /// An empty table over the given channel names (codes are their positions).
    ///
    /// # Errors
    /// [`Error::Capacity`] beyond 65,535 channels; [`Error::InvalidValue`] for
    /// an empty or repeated channel name.
    pub fn with_channels(channels: Vec<String>) -> Result<PathTable> {
        if u16::try_from(channels.len()).is_err() {
            return Err(Error::Capacity("more than 65,535 channels".into()));
        }
        let mut seen = hashbrown::HashSet::new();
        for c in &channels {
            if c.trim().is_empty() {
                return Err(Error::value("channel", c.clone(), "empty channel name"));
            }
            if !seen.insert(c.as_str()) {
                return Err(Error::value("channel", c.clone(), "channel listed twice"));
            }
        }
        drop(seen);
        Ok(PathTable {
            channels,
            offsets: vec![0],
            ..PathTable::default()
        })
    }

    /// Adds outcomes for a path of channel codes, merging with an equal path.
    /// A converting path with no channels is a direct conversion: counted in
    /// [`PathTable::direct_conversions`], not a path.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a negative or non-finite count or value, or an
    /// unknown channel code.
    pub fn add(&mut self, path: &[u16], conversions: f64, nulls: f64, value: f64) -> Result<()> {
        for (what, v) in [
            ("total_conversions", conversions),
            ("total_null", nulls),
            ("total_conversion_value", value),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::value(what, v.to_string(), "must be finite and >= 0"));
            }
        }
        if let Some(&c) = path.iter().find(|&&c| c as usize >= self.channels.len()) {
            return Err(Error::value(
                "channel code",
                c.to_string(),
                "no such channel in the table",
            ));
        }
        if path.is_empty() {
            self.direct_conversions += conversions;
            self.direct_value += value;
            return Ok(());
        }
        if self.index.table.len() != self.conversions.len() {
            self.rebuild_index();
        }
        let hash = self.index.hasher.hash_one(path);
        let (offsets, codes) = (&self.offsets, &self.codes);
        let stored =
            |p: u32| &codes[offsets[p as usize] as usize..offsets[p as usize + 1] as usize];
        let p = match self.index.table.find(hash, |&p| stored(p) == path) {
            Some(&p) => p as usize,
            None => {
                let p = self.conversions.len();
                let end = u32::try_from(self.codes.len() + path.len())
                    .map_err(|_| Error::Capacity("more than 4,294,967,295 path steps".into()))?;
                self.codes.extend_from_slice(path);
                self.offsets.push(end);
                self.conversions.push(0.0);
                self.nulls.push(0.0);
                self.value.push(0.0);
                let PathTable {
                    index,
                    offsets,
                    codes,
                    ..
                } = self;
                let hasher = &index.hasher;
                index.table.insert_unique(hash, p as u32, |&q| {
                    hasher.hash_one(
                        &codes[offsets[q as usize] as usize..offsets[q as usize + 1] as usize],
                    )
                });
                p
            }
        };
        self.conversions[p] += conversions;
        self.nulls[p] += nulls;
        self.value[p] += value;
        Ok(())
    }

    /// The paths of `journeys`, channels named as in `base`; `open` says what
    /// becomes of journeys still open at the end of the data.
    ///
    /// # Errors
    /// [`Error::Capacity`] beyond 65,535 channels or 2³² path steps.
    pub fn from_journeys(
        journeys: &Journeys,
        base: &CustomerBase,
        open: OpenJourneys,
    ) -> Result<PathTable> {
        let include_open = open == OpenJourneys::NotConverting;
        let channels: Vec<String> = base.channels().iter().map(|c| c.to_string()).collect();
        let mut table = PathTable::with_channels(channels)?;
        let codes = base.tp_channel_codes();
        let mut path = Vec::new();
        for j in journeys.iter() {
            let (conversions, nulls) = match j.outcome {
                JourneyOutcome::Converted => (1.0, 0.0),
                JourneyOutcome::NotConverted => (0.0, 1.0),
                JourneyOutcome::Open if include_open => (0.0, 1.0),
                JourneyOutcome::Open => continue,
            };
            path.clear();
            path.extend(j.touch_rows.iter().map(|&r| codes[r as usize]));
            if path.is_empty() && conversions == 0.0 {
                continue;
            }
            table.add(&path, conversions, nulls, j.value)?;
        }
        Ok(table)
    }

    fn rebuild_index(&mut self) {
        let PathTable {
            index,
            offsets,
            codes,
            ..
        } = self;
        index.table.clear();
        let hasher = &index.hasher;
        let path = |q: u32| &codes[offsets[q as usize] as usize..offsets[q as usize + 1] as usize];
        for p in 0..offsets.len().saturating_sub(1) as u32 {
            index
                .table
                .insert_unique(hasher.hash_one(path(p)), p, |&q| hasher.hash_one(path(q)));
        }
    }

    /// Parses rows read as text; every row is accepted or rejected with its
    /// line, field and reason. Channels are coded in order of first appearance.
    ///
    /// # Errors
    /// [`Error::Capacity`] beyond 65,535 channels.
    pub fn from_rows(rows: &[RawPathRow]) -> Result<(PathTable, IngestReport)> {
        let mut table = PathTable::with_channels(Vec::new())?;
        let mut names: HashMap<String, u16> = HashMap::new();
        let mut report = IngestReport::default();
        let mut path = Vec::new();
        for row in rows {
            let number = |field: &'static str, raw: &str| -> std::result::Result<f64, String> {
                let raw = raw.trim();
                // Counts are usually plain integers: parse those without the float parser.
                if !raw.is_empty() && raw.len() <= 15 && raw.bytes().all(|b| b.is_ascii_digit()) {
                    return Ok(raw
                        .bytes()
                        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
                        as f64);
                }
                let v: f64 = raw.parse().map_err(|_| format!("not a number: `{raw}`"))?;
                if !v.is_finite() || v < 0.0 {
                    return Err(format!(
                        "{field} must be finite and >= 0, got `{}`",
                        raw.trim()
                    ));
                }
                Ok(v)
            };
            let conversions = match number("total_conversions", &row.conversions) {
                Ok(v) => v,
                Err(e) => {
                    report.reject(row.line, "total_conversions", e);
                    continue;
                }
            };
            let nulls = match number("total_null", &row.nulls) {
                Ok(v) => v,
                Err(e) => {
                    report.reject(row.line, "total_null", e);
                    continue;
                }
            };
            let value = match row.value.as_deref().map(str::trim) {
                None | Some("") => 0.0,
                Some(raw) => match number("total_conversion_value", raw) {
                    Ok(v) => v,
                    Err(e) => {
                        report.reject(row.line, "total_conversion_value", e);
                        continue;
                    }
                },
            };
            path.clear();
            let mut bad = None;
            for step in row.path.split('>') {
                let step = step.trim();
                if step.is_empty() {
                    bad = Some("empty channel name in path");
                    break;
                }
                let code = match names.get(step) {
                    Some(&c) => c,
                    None => {
                        let c = u16::try_from(table.channels.len())
                            .map_err(|_| Error::Capacity("more than 65,535 channels".into()))?;
                        names.insert(step.to_owned(), c);
                        table.channels.push(step.to_owned());
                        c
                    }
                };
                path.push(code);
            }
            if let Some(reason) = bad {
                report.reject(row.line, "path", reason);
                continue;
            }
            table.add(&path, conversions, nulls, value)?;
            report.accept();
        }
        Ok((table, report))
    }

    /// Reads `path,total_conversions,total_null[,total_conversion_value]` CSV
    /// (header required, columns matched by name) into text rows.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an unreadable CSV header;
    /// [`Error::MissingColumns`] for a missing required column.
    pub fn read_rows<R: Read>(input: R) -> Result<Vec<RawPathRow>> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(input);
        let headers = reader
            .headers()
            .map_err(|e| Error::value("path table header", e.to_string(), "unreadable CSV"))?
            .clone();
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        };
        let column = |name: &str| {
            find(name).ok_or_else(|| Error::MissingColumns {
                table: "path table (path,total_conversions,total_null[,total_conversion_value])"
                    .into(),
                columns: vec![name.to_owned()],
            })
        };
        let (p, c, n) = (
            column("path")?,
            column("total_conversions")?,
            column("total_null")?,
        );
        let v = find("total_conversion_value");
        let mut rows = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = record.position().map_or(0, |pos| pos.line());
                    let get = |i: usize| record.get(i).unwrap_or("").to_owned();
                    rows.push(RawPathRow {
                        line,
                        path: get(p),
                        conversions: get(c),
                        nulls: get(n),
                        value: v.map(get),
                    });
                }
                Err(e) => {
                    // A broken record (e.g. invalid UTF-8) still occupies a row: keep it, rejected later.
                    let line = e.position().map_or(0, |pos| pos.line());
                    rows.push(RawPathRow {
                        line,
                        path: String::new(),
                        conversions: format!("unreadable row: {e}"),
                        nulls: String::new(),
                        value: None,
                    });
                }
            }
        }
        Ok(rows)
    }

    /// Channel names, indexed by code.
    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    /// Number of distinct paths.
    pub fn len(&self) -> usize {
        self.conversions.len()
    }

    /// Whether there are no paths.
    pub fn is_empty(&self) -> bool {
        self.conversions.is_empty()
    }

    /// The channel codes of path `p` (empty when out of range).
    pub fn path(&self, p: usize) -> &[u16] {
        match (self.offsets.get(p), self.offsets.get(p + 1)) {
            (Some(&lo), Some(&hi)) => &self.codes[lo as usize..hi as usize],
            _ => &[],
        }
    }

    /// Path `p` as text, channels joined by [`PATH_SEPARATOR`].
    pub fn path_string(&self, p: usize) -> String {
        let names: Vec<&str> = self
            .path(p)
            .iter()
            .map(|&c| self.channels[c as usize].as_str())
            .collect();
        names.join(PATH_SEPARATOR)
    }

    /// Conversions of every path.
    pub fn conversions(&self) -> &[f64] {
        &self.conversions
    }

    /// Non-conversions of every path.
    pub fn nulls(&self) -> &[f64] {
        &self.nulls
    }

    /// Conversion value of every path.
    pub fn values(&self) -> &[f64] {
        &self.value
    }

    /// Conversions over all paths (direct conversions excluded).
    pub fn total_conversions(&self) -> f64 {
        self.conversions.iter().sum()
    }

    /// Non-conversions over all paths.
    pub fn total_nulls(&self) -> f64 {
        self.nulls.iter().sum()
    }

    /// Conversion value over all paths (direct conversions excluded).
    pub fn total_value(&self) -> f64 {
        self.value.iter().sum()
    }

    /// Conversions with no touch before them: no channel can be credited.
    pub fn direct_conversions(&self) -> f64 {
        self.direct_conversions
    }

    /// Value of the direct conversions.
    pub fn direct_value(&self) -> f64 {
        self.direct_value
    }
}

/// One path with its outcomes, for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathSummary {
    /// Channels joined by [`PATH_SEPARATOR`].
    pub path: String,
    /// Journeys following it (conversions + nulls).
    pub journeys: f64,
    /// Conversions.
    pub conversions: f64,
    /// Conversions per journey.
    pub conversion_rate: f64,
    /// Conversion value.
    pub value: f64,
}

/// Journeys and conversions of one path length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthBucket {
    /// Number of touches.
    pub length: usize,
    /// Journeys with this many touches.
    pub journeys: f64,
    /// Conversions among them.
    pub conversions: f64,
}

/// A counted step from one node to the next along paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// `(start)` or a channel.
    pub from: String,
    /// A channel, `(conversion)` or `(null)`.
    pub to: String,
    /// Journeys taking the step (a path repeating it counts it each time).
    pub journeys: f64,
}

/// How often each channel opens and closes journeys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelPosition {
    /// The channel.
    pub channel: String,
    /// Journeys it opens.
    pub first: f64,
    /// Converting journeys it opens.
    pub first_conversions: f64,
    /// Journeys it closes.
    pub last: f64,
    /// Converting journeys it closes.
    pub last_conversions: f64,
    /// Journeys it appears in at all.
    pub journeys: f64,
}

/// Descriptive statistics of a [`PathTable`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathStats {
    /// Paths by journeys, most frequent first (ties by path text).
    pub top_paths: Vec<PathSummary>,
    /// Journeys and conversions by path length, ascending.
    pub lengths: Vec<LengthBucket>,
    /// Mean touches per journey, weighted by journeys.
    pub mean_length: f64,
    /// Channel-to-channel transitions with `(start)`, `(conversion)` and
    /// `(null)` nodes, most frequent first: the flows of a Sankey diagram.
    pub transitions: Vec<Transition>,
    /// First and last channel counts, per channel in code order.
    pub positions: Vec<ChannelPosition>,
}

/// What a path table makes of journeys still open at the end of the data
/// (their lookback window has not closed, so they may yet convert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenJourneys {
    /// Leave them out: only journeys whose outcome is known count (the
    /// choice for attribution on a closed period).
    #[default]
    Excluded,
    /// Count them as not converting (ChannelAttribution's convention when
    /// every path is given, converting or not).
    NotConverting,
}

/// Settings of [`PathStats::compute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathStatsParams {
    /// The most frequent paths listed in [`PathStats::top_paths`] (default 10).
    pub top_paths: usize,
}

impl Default for PathStatsParams {
    fn default() -> Self {
        PathStatsParams { top_paths: 10 }
    }
}

/// The `(start)` node of transitions.
pub const START: &str = "(start)";
/// The `(conversion)` node of transitions.
pub const CONVERSION: &str = "(conversion)";
/// The `(null)` node of transitions.
pub const NULL: &str = "(null)";

impl PathStats {
    /// Statistics of `table`, listing the `params.top_paths` most frequent paths.
    pub fn compute(table: &PathTable, params: &PathStatsParams) -> PathStats {
        let top = params.top_paths;
        let n_channels = table.channels.len();
        let mut order: Vec<usize> = (0..table.len()).collect();
        let journeys = |p: usize| table.conversions[p] + table.nulls[p];
        order.sort_by(|&a, &b| {
            journeys(b)
                .total_cmp(&journeys(a))
                .then_with(|| table.path(a).cmp(table.path(b)))
        });
        let top_paths = order
            .iter()
            .take(top)
            .map(|&p| {
                let n = journeys(p);
                PathSummary {
                    path: table.path_string(p),
                    journeys: n,
                    conversions: table.conversions[p],
                    conversion_rate: if n > 0.0 {
                        table.conversions[p] / n
                    } else {
                        0.0
                    },
                    value: table.value[p],
                }
            })
            .collect();

        let mut lengths: Vec<LengthBucket> = Vec::new();
        let (mut total, mut weighted) = (0.0, 0.0);
        // Transition counts: node 0 = start, 1..=n channels, n+1 conversion, n+2 null.
        let nodes = n_channels + 3;
        let mut counts = vec![0.0f64; nodes * nodes];
        let mut positions: Vec<ChannelPosition> = table
            .channels
            .iter()
            .map(|c| ChannelPosition {
                channel: c.clone(),
                first: 0.0,
                first_conversions: 0.0,
                last: 0.0,
                last_conversions: 0.0,
                journeys: 0.0,
            })
            .collect();
        let mut seen = vec![usize::MAX; n_channels];
        for p in 0..table.len() {
            let path = table.path(p);
            let (conv, null) = (table.conversions[p], table.nulls[p]);
            let n = conv + null;
            let len = path.len();
            if lengths.len() < len {
                lengths.extend((lengths.len() + 1..=len).map(|length| LengthBucket {
                    length,
                    journeys: 0.0,
                    conversions: 0.0,
                }));
            }
            if let Some(b) = lengths.get_mut(len.wrapping_sub(1)) {
                b.journeys += n;
                b.conversions += conv;
            }
            total += n;
            weighted += n * len as f64;
            let mut from = 0usize;
            for &c in path {
                let to = c as usize + 1;
                counts[from * nodes + to] += n;
                from = to;
                if seen[c as usize] != p {
                    seen[c as usize] = p;
                    positions[c as usize].journeys += n;
                }
            }
            counts[from * nodes + n_channels + 1] += conv;
            counts[from * nodes + n_channels + 2] += null;
            if let (Some(&first), Some(&last)) = (path.first(), path.last()) {
                positions[first as usize].first += n;
                positions[first as usize].first_conversions += conv;
                positions[last as usize].last += n;
                positions[last as usize].last_conversions += conv;
            }
        }
        let name = |node: usize| -> String {
            match node {
                0 => START.to_owned(),
                n if n == n_channels + 1 => CONVERSION.to_owned(),
                n if n == n_channels + 2 => NULL.to_owned(),
                n => table.channels[n - 1].clone(),
            }
        };
        let mut transitions: Vec<(usize, usize, f64)> = (0..nodes)
            .flat_map(|a| (0..nodes).map(move |b| (a, b)))
            .filter_map(|(a, b)| {
                let v = counts[a * nodes + b];
                (v > 0.0).then_some((a, b, v))
            })
            .collect();
        transitions.sort_by(|x, y| y.2.total_cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
        PathStats {
            top_paths,
            lengths,
            mean_length: if total > 0.0 { weighted / total } else { 0.0 },
            transitions: transitions
                .into_iter()
                .map(|(a, b, journeys)| Transition {
                    from: name(a),
                    to: name(b),
                    journeys,
                })
                .collect(),
            positions,
        }
    }
}

/// How long converting journeys take, from first touch to conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeToConversion {
    /// Converting journeys with at least one touch.
    pub journeys: usize,
    /// Bucket upper bounds in days (the last bucket is open-ended).
    pub bucket_days: Vec<f64>,
    /// Journeys per bucket: `[0, b0)`, `[b0, b1)`, …, `[b_last, ∞)`.
    pub counts: Vec<usize>,
    /// Median days.
    pub median_days: f64,
    /// 90th percentile in days.
    pub p90_days: f64,
    /// Mean days.
    pub mean_days: f64,
}

/// The distribution of days from first touch to conversion over converting
/// journeys with touches (NaN statistics when there are none).
pub fn time_to_conversion(journeys: &Journeys) -> TimeToConversion {
    let bucket_days = vec![1.0, 2.0, 4.0, 7.0, 14.0, 30.0];
    let days: Vec<f64> = journeys
        .iter()
        .filter_map(|j| j.days_to_conversion())
        .collect();
    let mut counts = vec![0usize; bucket_days.len() + 1];
    for &d in &days {
        let b = bucket_days.partition_point(|&edge| edge <= d);
        counts[b] += 1;
    }
    let q = |p: f64| crate::stats::quantile(&days, p).unwrap_or(f64::NAN);
    TimeToConversion {
        journeys: days.len(),
        mean_days: if days.is_empty() {
            f64::NAN
        } else {
            days.iter().sum::<f64>() / days.len() as f64
        },
        median_days: q(0.5),
        p90_days: q(0.9),
        bucket_days,
        counts,
    }
}
