//! The design of causal attribution: journeys grouped into patterns (the
//! channels they touched and the customer's covariates), so the regression
//! and every bootstrap replicate run over thousands of patterns instead of
//! millions of journeys.

use hashbrown::HashMap;

use super::covariates::{Covariate, Covariates};
use super::logit::SparseRows;
use super::{CausalParams, EffectNote};
use crate::error::{Error, Result};
use crate::store::CustomerBase;
use crate::touchpoints::journey::{JourneyOutcome, Journeys};
use crate::touchpoints::paths::OpenJourneys;

/// Journeys as grouped binomial rows.
pub(super) struct Design {
    /// One row per pattern: intercept, estimable channels, covariate columns.
    pub x: SparseRows,
    /// Journeys per pattern.
    pub trials: Vec<f64>,
    /// Converting journeys per pattern.
    pub successes: Vec<f64>,
    /// Pattern of every journey used.
    pub pattern_of: Vec<u32>,
    /// Customer of every journey used.
    pub customer_of: Vec<u32>,
    /// Whether every journey used converted.
    pub converted: Vec<bool>,
    /// Design column of every channel (by code), `None` when not estimable.
    pub channel_column: Vec<Option<usize>>,
    /// The channel (by code) of every design column that is one.
    pub column_channel: Vec<Option<usize>>,
    /// Why a channel has no effect, by code.
    pub notes: Vec<Option<EffectNote>>,
    /// Journeys that touched each channel.
    pub touched: Vec<f64>,
    /// Of those, converting.
    pub converted_with: Vec<f64>,
    /// Their conversion value.
    pub value_with: Vec<f64>,
    /// Names of the covariate columns (after the channels).
    pub covariate_columns: Vec<String>,
    /// Converting journeys without a touch, left out.
    pub direct_conversions: usize,
}

/// How a covariate enters the design.
enum Encoded<'a> {
    /// Dummies for every level but the reference; `column[level]`.
    Categorical {
        codes: &'a [Option<u32>],
        missing: u32,
        column: Vec<Option<usize>>,
        returning: Vec<Option<usize>>,
    },
    /// Quantile bins, each but the reference a dummy; `column[bin]`.
    Binned {
        values: &'a [f64],
        edges: Vec<f64>,
        column: Vec<Option<usize>>,
        returning: Vec<Option<usize>>,
    },
}

/// Columns of a covariate's non-reference levels seen in the journeys (`counts`),
/// and, with a returning column, of the same levels among returning customers:
/// each level has its own returning shift, so a level whose new and returning
/// customers differ by more than the others' is not forced onto one shift.
fn level_columns(
    counts: &[usize],
    returning_counts: &[usize],
    with_returning: bool,
    width: &mut usize,
    names: &mut Vec<String>,
    label: impl Fn(usize) -> String,
) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
    let reference = most_frequent(counts);
    let mut column = vec![None; counts.len()];
    let mut returning = vec![None; counts.len()];
    for (level, &count) in counts.iter().enumerate() {
        if level != reference && count > 0 {
            column[level] = Some(*width);
            *width += 1;
            names.push(label(level));
        }
    }
    if with_returning {
        for (level, &count) in returning_counts.iter().enumerate() {
            // Identifiable only with new customers of the level beside the returning ones.
            if level != reference && count > 0 && count < counts[level] {
                returning[level] = Some(*width);
                *width += 1;
                names.push(format!("{} × returning customer", label(level)));
            }
        }
    }
    (column, returning)
}

impl Design {
    pub(super) fn build(
        journeys: &Journeys,
        base: &CustomerBase,
        covariates: Option<&Covariates>,
        params: &CausalParams,
    ) -> Result<Design> {
        let channels = base.channels();
        let n_channels = channels.len();
        if n_channels > 64 {
            return Err(Error::Capacity(format!(
                "causal attribution supports at most 64 channels, the base has {n_channels}"
            )));
        }
        if let Some(c) = covariates
            && c.n_customers() != base.n_customers()
        {
            return Err(Error::lengths(
                "covariates (one row per base customer)",
                base.n_customers(),
                c.n_customers(),
            ));
        }
        let codes = base.tp_channel_codes();
        let offsets = journeys.offsets();
        let rows = journeys.touch_rows();
        let mut masks = Vec::with_capacity(journeys.len());
        let mut customer_of = Vec::with_capacity(journeys.len());
        let mut converted = Vec::with_capacity(journeys.len());
        let mut touched = vec![0.0; n_channels];
        let mut converted_with = vec![0.0; n_channels];
        let mut value_with = vec![0.0; n_channels];
        let mut direct_conversions = 0;
        // Whether each journey's customer had converted before it (journeys
        // are in customer, then time order).
        let mut returning = Vec::with_capacity(journeys.len());
        let mut last_converted: Option<u32> = None;
        for (j, (&customer, &outcome)) in journeys
            .customers()
            .iter()
            .zip(journeys.outcomes())
            .enumerate()
        {
            let before = last_converted == Some(customer);
            if outcome == JourneyOutcome::Converted {
                last_converted = Some(customer);
            }
            let won = match outcome {
                JourneyOutcome::Converted => true,
                JourneyOutcome::NotConverted => false,
                JourneyOutcome::Open if params.open == OpenJourneys::NotConverting => false,
                JourneyOutcome::Open => continue,
            };
            let mut mask = 0u64;
            for &r in &rows[offsets[j] as usize..offsets[j + 1] as usize] {
                mask |= 1u64 << codes[r as usize];
            }
            if mask == 0 {
                // A direct conversion: journeys without a touch that did not
                // convert are never observed, so keeping the ones that did
                // would raise the baseline and lower every channel's effect.
                direct_conversions += 1;
                continue;
            }
            let value = if won { journeys.values()[j] } else { 0.0 };
            for (c, t) in touched.iter_mut().enumerate() {
                if mask & (1u64 << c) != 0 {
                    *t += 1.0;
                    if won {
                        converted_with[c] += 1.0;
                        value_with[c] += value;
                    }
                }
            }
            masks.push(mask);
            customer_of.push(customer);
            converted.push(won);
            returning.push(before);
        }
        let n = masks.len() as f64;
        if masks.is_empty() {
            return Err(Error::empty("journeys with a known outcome"));
        }
        let wins = converted.iter().filter(|&&c| c).count();
        if wins == 0 || wins == masks.len() {
            return Err(Error::NotIdentifiable {
                model: "causal attribution",
                reason: format!(
                    "{wins} of {} journeys converted: an effect on conversion needs both outcomes",
                    masks.len()
                ),
            });
        }

        // Channels: estimable when some journeys have them and some do not.
        let mut width = 1;
        let mut channel_column = vec![None; n_channels];
        let mut notes = vec![None; n_channels];
        let mut estimable = 0u64;
        for c in 0..n_channels {
            notes[c] = if touched[c] == 0.0 {
                Some(EffectNote::NeverTouched)
            } else if touched[c] == n {
                Some(EffectNote::InEveryJourney)
            } else {
                channel_column[c] = Some(width);
                width += 1;
                estimable |= 1u64 << c;
                (converted_with[c] == 0.0).then_some(EffectNote::NeverInConvertingJourney)
            };
        }

        // Covariates: first whether the customer had bought before the journey.
        let mut covariate_columns = Vec::new();
        let returning_column = if params.adjust_for_returning
            && returning.iter().any(|&r| r)
            && returning.iter().any(|&r| !r)
        {
            covariate_columns.push("returning customer".to_owned());
            width += 1;
            Some(width - 1)
        } else {
            None
        };
        let mut encoded = Vec::new();
        for column in covariates.map(Covariates::columns).unwrap_or_default() {
            encoded.push(match column {
                Covariate::Categorical {
                    name,
                    levels,
                    codes,
                } => {
                    let missing = levels.len() as u32;
                    let mut counts = vec![0usize; levels.len() + 1];
                    let mut returning_counts = vec![0usize; levels.len() + 1];
                    for (j, &c) in customer_of.iter().enumerate() {
                        let level = codes[c as usize].unwrap_or(missing) as usize;
                        counts[level] += 1;
                        returning_counts[level] += usize::from(returning[j]);
                    }
                    let (column, returning) = level_columns(
                        &counts,
                        &returning_counts,
                        returning_column.is_some(),
                        &mut width,
                        &mut covariate_columns,
                        |level| {
                            let label = levels.get(level).map_or("(missing)", String::as_str);
                            format!("{name}={label}")
                        },
                    );
                    Encoded::Categorical {
                        codes,
                        missing,
                        column,
                        returning,
                    }
                }
                Covariate::Numeric { name, values } => {
                    let journey_values: Vec<f64> =
                        customer_of.iter().map(|&c| values[c as usize]).collect();
                    let edges = bin_edges(&journey_values, params.numeric_bins);
                    let mut counts = vec![0usize; edges.len() + 1];
                    let mut returning_counts = vec![0usize; edges.len() + 1];
                    for (j, &v) in journey_values.iter().enumerate() {
                        counts[bin(&edges, v)] += 1;
                        returning_counts[bin(&edges, v)] += usize::from(returning[j]);
                    }
                    let (column, returning) = level_columns(
                        &counts,
                        &returning_counts,
                        returning_column.is_some(),
                        &mut width,
                        &mut covariate_columns,
                        |b| bin_label(name, &edges, b),
                    );
                    Encoded::Binned {
                        values,
                        edges,
                        column,
                        returning,
                    }
                }
            });
        }

        // Patterns: identical rows share one.
        let mut column_channel = vec![None; width];
        for (c, col) in channel_column.iter().enumerate() {
            if let Some(col) = col {
                column_channel[*col] = Some(c);
            }
        }
        let mut index: HashMap<Vec<u64>, u32> = HashMap::new();
        let mut key = Vec::with_capacity(1 + encoded.len());
        let mut x = SparseRows::new(width);
        let mut trials = Vec::new();
        let mut successes = Vec::new();
        let mut pattern_of = Vec::with_capacity(masks.len());
        let mut row = Vec::with_capacity(width);
        for (j, &mask) in masks.iter().enumerate() {
            let customer = customer_of[j] as usize;
            key.clear();
            key.push(mask & estimable);
            row.clear();
            row.push((0, 1.0));
            if let Some(col) = returning_column {
                key.push(u64::from(returning[j]));
                if returning[j] {
                    row.push((col, 1.0));
                }
            }
            for e in &encoded {
                let (level, column, shift) = match e {
                    Encoded::Categorical {
                        codes,
                        missing,
                        column,
                        returning,
                    } => (
                        codes[customer].unwrap_or(*missing) as usize,
                        column,
                        returning,
                    ),
                    Encoded::Binned {
                        values,
                        edges,
                        column,
                        returning,
                    } => (bin(edges, values[customer]), column, returning),
                };
                key.push(level as u64);
                if let Some(col) = column[level] {
                    row.push((col, 1.0));
                }
                if returning_column.is_some() && returning[j] {
                    if let Some(col) = shift[level] {
                        row.push((col, 1.0));
                    }
                }
            }
            let p = match index.get(key.as_slice()) {
                Some(&p) => p,
                None => {
                    let p = trials.len() as u32;
                    index.insert(key.clone(), p);
                    let channels = channel_column
                        .iter()
                        .enumerate()
                        .filter(|(c, _)| mask & (1u64 << c) != 0)
                        .filter_map(|(_, col)| col.map(|col| (col, 1.0)));
                    x.push(row.iter().copied().chain(channels));
                    trials.push(0.0);
                    successes.push(0.0);
                    p
                }
            };
            trials[p as usize] += 1.0;
            if converted[j] {
                successes[p as usize] += 1.0;
            }
            pattern_of.push(p);
        }
        Ok(Design {
            x,
            trials,
            successes,
            pattern_of,
            customer_of,
            converted,
            channel_column,
            column_channel,
            notes,
            touched,
            converted_with,
            value_with,
            covariate_columns,
            direct_conversions,
        })
    }

    /// Patterns.
    pub(super) fn n_patterns(&self) -> usize {
        self.trials.len()
    }
}

/// The level with the most journeys (ties: the lowest): the reference, so
/// every other level's dummy is compared with the best-estimated one.
fn most_frequent(counts: &[usize]) -> usize {
    (0..counts.len())
        .max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// Inner edges of at most `bins` quantile bins of `values` (numpy's linear
/// quantiles at `k / bins`), repeated edges dropped: a value `v` falls in
/// bin `#{edges < v}`.
fn bin_edges(values: &[f64], bins: usize) -> Vec<f64> {
    let mut edges: Vec<f64> = (1..bins)
        .filter_map(|k| crate::stats::quantile(values, k as f64 / bins as f64))
        .collect();
    edges.dedup();
    edges
}

fn bin(edges: &[f64], v: f64) -> usize {
    edges.partition_point(|&e| e < v)
}

fn bin_label(name: &str, edges: &[f64], b: usize) -> String {
    match (b.checked_sub(1).and_then(|i| edges.get(i)), edges.get(b)) {
        (None, Some(hi)) => format!("{name}<={hi}"),
        (Some(lo), None) => format!("{name}>{lo}"),
        (Some(lo), Some(hi)) => format!("{name} in ({lo}, {hi}]"),
        (None, None) => name.to_owned(),
    }
}
