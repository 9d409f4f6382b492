//! Which touchpoints matter for which group: conversion rates of every type
//! within every group, tested against the other groups with FDR control.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::segment::segments::Segments;
use crate::stats::{benjamini_hochberg, two_proportion_z, wilson_interval};
use crate::store::CustomerBase;
use crate::touchpoints::journey::Journeys;

use super::count::{Keys, tally};
use super::{EffectivenessParams, group_of};

/// One cell of the touchpoint × group matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupCell {
    /// Closed journeys of the group containing the type.
    pub journeys: usize,
    /// Converting journeys among them.
    pub conversions: usize,
    /// `conversions / journeys` (NaN without journeys).
    pub rate: f64,
    /// Wilson interval.
    pub interval: (f64, f64),
    /// The type's rate in all other groups.
    pub rate_elsewhere: f64,
    /// Two-sided p-value of the pooled two-proportion z-test against the
    /// other groups (NaN when not tested).
    pub p_value: f64,
    /// Benjamini–Hochberg adjusted p-value over the matrix.
    pub adjusted_p_value: f64,
    /// Adjusted p-value below alpha.
    pub significant: bool,
    /// +1 when significantly above the rest, −1 below, 0 otherwise.
    pub direction: i8,
}

/// Conversion rates of touchpoint types (rows) within groups (columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMatrix {
    /// Row labels: channel, or `channel/kind`.
    pub touchpoints: Vec<String>,
    /// Column labels: group names.
    pub groups: Vec<String>,
    /// Overall rate of each row's type.
    pub overall_rate: Vec<f64>,
    /// `cells[row][group]`.
    pub cells: Vec<Vec<GroupCell>>,
    /// Tests in the family (cells with at least `min_journeys` journeys on both sides).
    pub tests: usize,
    /// The false discovery rate used.
    pub alpha: f64,
}

/// The touchpoint × group conversion-rate matrix with multiple-testing
/// controlled significance flags (module docs).
///
/// # Errors
/// As [`inventory`](fn@super::inventory).
pub fn group_matrix(
    base: &CustomerBase,
    journeys: &Journeys,
    groups: &Segments,
    params: &EffectivenessParams,
) -> Result<GroupMatrix> {
    params.check()?;
    groups.check_base(base)?;
    let keys = Keys::new(base, params.level);
    let n_groups = groups.k();
    let tallies = tally(base, journeys, &keys, |c| group_of(groups, c), n_groups);
    let overall = &tallies[n_groups];
    let used: Vec<usize> = (0..keys.n).filter(|&k| overall[k].journeys > 0.0).collect();
    let mut cells: Vec<Vec<GroupCell>> = Vec::with_capacity(used.len());
    let mut p_values = Vec::new();
    for &k in &used {
        // "Elsewhere" is the grouped total minus this group, so ungrouped customers do not dilute it.
        let grouped_j: f64 = (0..n_groups).map(|g| tallies[g][k].journeys).sum();
        let grouped_c: f64 = (0..n_groups).map(|g| tallies[g][k].converting).sum();
        let mut row_cells = Vec::with_capacity(n_groups);
        for per_group in tallies.iter().take(n_groups) {
            let x = &per_group[k];
            let (oj, oc) = (grouped_j - x.journeys, grouped_c - x.converting);
            let tested =
                x.journeys >= params.min_journeys as f64 && oj >= params.min_journeys as f64;
            let (_, p) = if tested {
                two_proportion_z(x.converting, x.journeys, oc, oj)
            } else {
                (f64::NAN, f64::NAN)
            };
            p_values.push(p);
            row_cells.push(GroupCell {
                journeys: x.journeys as usize,
                conversions: x.converting as usize,
                rate: if x.journeys > 0.0 {
                    x.converting / x.journeys
                } else {
                    f64::NAN
                },
                interval: wilson_interval(x.converting, x.journeys, params.confidence),
                rate_elsewhere: if oj > 0.0 { oc / oj } else { f64::NAN },
                p_value: p,
                adjusted_p_value: f64::NAN,
                significant: false,
                direction: 0,
            });
        }
        cells.push(row_cells);
    }
    let adjusted = benjamini_hochberg(&p_values);
    let tests = p_values.iter().filter(|p| !p.is_nan()).count();
    for (cell, &q) in cells.iter_mut().flatten().zip(&adjusted) {
        cell.adjusted_p_value = q;
        cell.significant = q < params.alpha;
        if cell.significant {
            cell.direction = if cell.rate > cell.rate_elsewhere {
                1
            } else {
                -1
            };
        }
    }
    Ok(GroupMatrix {
        touchpoints: used
            .iter()
            .map(|&k| match keys.names(base, k) {
                (c, Some(kind)) => format!("{c}/{kind}"),
                (c, None) => c,
            })
            .collect(),
        groups: groups.names().to_vec(),
        overall_rate: used
            .iter()
            .map(|&k| overall[k].converting / overall[k].journeys)
            .collect(),
        cells,
        tests,
        alpha: params.alpha,
    })
}
