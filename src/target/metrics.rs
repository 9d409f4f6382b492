//! How good a score is at finding the customers who act: ranking (ROC-AUC,
//! PR-AUC), probability quality (log-loss, Brier score, expected calibration
//! error with its reliability bins), and what a campaign sees (lift and
//! cumulative gain by decile, precision among the top k).
//!
//! Definitions follow scikit-learn, so figures can be set beside it:
//! `roc_auc_score` (ties count one half), `average_precision_score` (PR-AUC
//! as a step sum over distinct thresholds), `log_loss` (probabilities clipped
//! to `[ε, 1 − ε]`, ε the `f64` machine epsilon), `brier_score_loss`, and the
//! bins of `calibration_curve(strategy="uniform")` for the reliability table.
//! The expected calibration error is Naeini et al.'s (2015) weighted mean gap
//! between observed rate and mean prediction over those bins.

use serde::Serialize;

use crate::error::{Error, Result};

/// Checks that scores and labels line up, that there are some (`what` names
/// them in the error) and that every score is finite.
pub(crate) fn check_scores_of(what: &str, scores: &[f64], labels: &[bool]) -> Result<()> {
    if scores.len() != labels.len() {
        return Err(Error::lengths(
            "labels per score",
            scores.len(),
            labels.len(),
        ));
    }
    if scores.is_empty() {
        return Err(Error::empty(what));
    }
    match scores.iter().position(|s| !s.is_finite()) {
        Some(row) => Err(Error::non_finite("scores", row, "score", scores[row])),
        None => Ok(()),
    }
}

/// [`check_scores_of`] for scores to evaluate.
fn check_scores(scores: &[f64], labels: &[bool]) -> Result<()> {
    check_scores_of("scores to evaluate", scores, labels)
}

/// Like [`check_scores`], and every score a probability in `[0, 1]`.
fn check_probabilities(probabilities: &[f64], labels: &[bool]) -> Result<()> {
    check_scores(probabilities, labels)?;
    match probabilities.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(row) => Err(Error::invalid_row(
            "probabilities",
            row,
            "score",
            probabilities[row].to_string(),
            "a probability must lie in [0, 1]",
        )),
        None => Ok(()),
    }
}

/// Positives and negatives among `labels`; an error when either is missing
/// (a ranking measure needs both).
fn both_classes(labels: &[bool], measure: &str) -> Result<(usize, usize)> {
    let positives = labels.iter().filter(|&&y| y).count();
    let negatives = labels.len() - positives;
    if positives == 0 {
        return Err(Error::too_few(
            format!("positive labels for {measure}"),
            1,
            0,
        ));
    }
    if negatives == 0 {
        return Err(Error::too_few(
            format!("negative labels for {measure}"),
            1,
            0,
        ));
    }
    Ok((positives, negatives))
}

/// Rows by descending score; equal scores keep their row order.
fn descending(scores: &[f64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]));
    order
}

/// Area under the ROC curve: the chance that a random positive scores above a
/// random negative, ties counting one half (scikit-learn's `roc_auc_score`).
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::EmptyInput`], [`Error::NonFinite`] for
/// a NaN or infinite score, [`Error::TooFew`] when a class is missing.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    check_scores(scores, labels)?;
    let (positives, negatives) = both_classes(labels, "ROC-AUC")?;
    let order = descending(scores);
    // Walk from the top: each positive block beats the negatives below it;
    // within a block of equal scores a pair counts one half.
    let mut negatives_below = negatives as f64;
    let mut wins = 0.0;
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i] as usize];
        let (mut pos, mut neg) = (0.0, 0.0);
        while i < order.len() && scores[order[i] as usize] == s {
            if labels[order[i] as usize] {
                pos += 1.0;
            } else {
                neg += 1.0;
            }
            i += 1;
        }
        negatives_below -= neg;
        wins += pos * (negatives_below + 0.5 * neg);
    }
    Ok(wins / (positives as f64 * negatives as f64))
}

/// Area under the precision–recall curve as scikit-learn's
/// `average_precision_score`: Σ (Rₖ − Rₖ₋₁)·Pₖ over distinct score thresholds,
/// from the highest down.
///
/// # Errors
/// As [`roc_auc`].
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64> {
    check_scores(scores, labels)?;
    let (positives, _) = both_classes(labels, "average precision")?;
    let order = descending(scores);
    let (mut tp, mut seen, mut ap) = (0usize, 0usize, 0.0);
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i] as usize];
        let tp_before = tp;
        while i < order.len() && scores[order[i] as usize] == s {
            tp += usize::from(labels[order[i] as usize]);
            seen += 1;
            i += 1;
        }
        let recall_step = (tp - tp_before) as f64 / positives as f64;
        ap += recall_step * tp as f64 / seen as f64;
    }
    Ok(ap)
}

/// Mean negative log-likelihood of the labels under the probabilities, each
/// clipped to `[ε, 1 − ε]` (scikit-learn's `log_loss`).
///
/// # Errors
/// As [`roc_auc`] (one class is fine), and [`Error::InvalidRow`] for a
/// probability outside `[0, 1]`.
pub fn log_loss(probabilities: &[f64], labels: &[bool]) -> Result<f64> {
    check_probabilities(probabilities, labels)?;
    let eps = f64::EPSILON;
    let total: f64 = probabilities
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = p.clamp(eps, 1.0 - eps);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    Ok(total / probabilities.len() as f64)
}

/// Mean squared difference between probability and outcome (scikit-learn's `brier_score_loss`).
///
/// # Errors
/// As [`log_loss`].
pub fn brier_score(probabilities: &[f64], labels: &[bool]) -> Result<f64> {
    check_probabilities(probabilities, labels)?;
    let total: f64 = probabilities
        .iter()
        .zip(labels)
        .map(|(&p, &y)| (p - f64::from(u8::from(y))).powi(2))
        .sum();
    Ok(total / probabilities.len() as f64)
}

/// One bin of a reliability table: predictions in `(lower, upper]` (the first
/// bin includes 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin.
    pub lower: f64,
    /// Upper edge of the bin.
    pub upper: f64,
    /// Rows whose prediction falls in the bin.
    pub rows: usize,
    /// Mean prediction of those rows (NaN when the bin is empty).
    pub mean_predicted: f64,
    /// Share of those rows that are positive (NaN when the bin is empty).
    pub observed_rate: f64,
}

/// The reliability table over `bins` equal-width bins of `[0, 1]`, with
/// scikit-learn's `calibration_curve` bin edges (`np.linspace(0, 1, bins + 1)`)
/// and assignment (a prediction on an inner edge belongs to the lower bin).
///
/// # Errors
/// As [`log_loss`]; [`Error::InvalidParameter`] for `bins` = 0.
pub fn reliability(
    probabilities: &[f64],
    labels: &[bool],
    bins: usize,
) -> Result<Vec<ReliabilityBin>> {
    check_probabilities(probabilities, labels)?;
    if bins == 0 {
        return Err(Error::param("bins", bins, "must be at least 1"));
    }
    // numpy's linspace: start + i·step, with the last edge exactly 1.
    let step = 1.0 / bins as f64;
    let edge = |i: usize| if i == bins { 1.0 } else { i as f64 * step };
    let inner: Vec<f64> = (1..bins).map(edge).collect();
    let mut sums = vec![(0usize, 0.0f64, 0usize); bins];
    for (&p, &y) in probabilities.iter().zip(labels) {
        // searchsorted(inner, p, side="left"): inner edges strictly below p.
        let bin = inner.partition_point(|&e| e < p);
        let s = &mut sums[bin];
        s.0 += 1;
        s.1 += p;
        s.2 += usize::from(y);
    }
    Ok(sums
        .into_iter()
        .enumerate()
        .map(|(b, (rows, p_sum, positives))| ReliabilityBin {
            lower: edge(b),
            upper: edge(b + 1),
            rows,
            mean_predicted: p_sum / rows as f64,
            observed_rate: positives as f64 / rows as f64,
        })
        .collect())
}

/// Expected calibration error over `bins` equal-width bins: Σ (nᵦ / n)·|observed rateᵦ − mean predictionᵦ|
/// (Naeini, Cooper & Hauskrecht 2015), bins as in [`reliability`].
///
/// # Errors
/// As [`reliability`].
pub fn expected_calibration_error(
    probabilities: &[f64],
    labels: &[bool],
    bins: usize,
) -> Result<f64> {
    let table = reliability(probabilities, labels, bins)?;
    let n = probabilities.len() as f64;
    Ok(table
        .iter()
        .filter(|b| b.rows > 0)
        .map(|b| b.rows as f64 / n * (b.observed_rate - b.mean_predicted).abs())
        .sum())
}

/// One group of a gain table: the customers ranked `first_rank..end_rank` by score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GainRow {
    /// 1-based group (1 = highest scores).
    pub group: usize,
    /// Rows in the group.
    pub rows: usize,
    /// Positives in the group.
    pub positives: usize,
    /// Lowest and highest score in the group.
    pub score_range: (f64, f64),
    /// Share of the group that is positive.
    pub response_rate: f64,
    /// Response rate over the overall rate.
    pub lift: f64,
    /// Share of all positives found in this group and those above it.
    pub cumulative_gain: f64,
    /// Response rate of this group and those above it, over the overall rate.
    pub cumulative_lift: f64,
}

/// The gain table: rows ranked by descending score (ties in row order) and cut
/// into `groups` groups of equal size (±1; group g holds ranks ⌊n·g/G⌋ to
/// ⌊n·(g+1)/G⌋), with response rate, lift, cumulative gain and cumulative lift.
/// Ten groups give the decile table of a campaign brief.
///
/// # Errors
/// As [`roc_auc`] but for the classes: [`Error::TooFew`] when there is no
/// positive (lift is undefined); [`Error::InvalidParameter`] when `groups` is
/// 0 or more than the rows.
pub fn gain_table(scores: &[f64], labels: &[bool], groups: usize) -> Result<Vec<GainRow>> {
    check_scores(scores, labels)?;
    if groups == 0 || groups > scores.len() {
        return Err(Error::param(
            "groups",
            groups,
            format!("must be between 1 and the {} rows", scores.len()),
        ));
    }
    let total_positives = labels.iter().filter(|&&y| y).count();
    if total_positives == 0 {
        return Err(Error::too_few("positive labels for lift", 1, 0));
    }
    let n = scores.len();
    let overall = total_positives as f64 / n as f64;
    let order = descending(scores);
    let mut rows = Vec::with_capacity(groups);
    let (mut cum_rows, mut cum_pos) = (0usize, 0usize);
    for g in 0..groups {
        let ranks = &order[n * g / groups..n * (g + 1) / groups];
        let positives = ranks.iter().filter(|&&r| labels[r as usize]).count();
        let (lo, hi) = ranks
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
                let s = scores[r as usize];
                (lo.min(s), hi.max(s))
            });
        cum_rows += ranks.len();
        cum_pos += positives;
        let rate = positives as f64 / ranks.len() as f64;
        rows.push(GainRow {
            group: g + 1,
            rows: ranks.len(),
            positives,
            score_range: (lo, hi),
            response_rate: rate,
            lift: rate / overall,
            cumulative_gain: cum_pos as f64 / total_positives as f64,
            cumulative_lift: (cum_pos as f64 / cum_rows as f64) / overall,
        });
    }
    Ok(rows)
}

/// Share of positives among the `k` highest scores (ties in row order).
///
/// # Errors
/// As [`roc_auc`] but for the classes; [`Error::InvalidParameter`] when `k`
/// is 0 or more than the rows.
pub fn precision_at_k(scores: &[f64], labels: &[bool], k: usize) -> Result<f64> {
    check_scores(scores, labels)?;
    if k == 0 || k > scores.len() {
        return Err(Error::param(
            "k",
            k,
            format!("must be between 1 and the {} rows", scores.len()),
        ));
    }
    let order = descending(scores);
    let hits = order[..k].iter().filter(|&&r| labels[r as usize]).count();
    Ok(hits as f64 / k as f64)
}

/// Every measure of a probability score at once, for a model report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreEvaluation {
    /// Rows evaluated.
    pub rows: usize,
    /// Positive rows.
    pub positives: usize,
    /// [`roc_auc`].
    pub roc_auc: f64,
    /// [`average_precision`] (PR-AUC).
    pub pr_auc: f64,
    /// [`log_loss`].
    pub log_loss: f64,
    /// [`brier_score`].
    pub brier: f64,
    /// [`expected_calibration_error`] over ten bins.
    pub ece: f64,
    /// [`reliability`] over ten bins.
    pub reliability: Vec<ReliabilityBin>,
    /// [`gain_table`] by decile (fewer groups when there are fewer than ten rows).
    pub deciles: Vec<GainRow>,
}

/// Bins of the calibration measures in [`evaluate_probabilities`].
pub const CALIBRATION_BINS: usize = 10;

/// Evaluates probabilities against outcomes with every measure of this module.
///
/// # Errors
/// As [`roc_auc`] and [`log_loss`]: both classes are needed.
pub fn evaluate_probabilities(probabilities: &[f64], labels: &[bool]) -> Result<ScoreEvaluation> {
    check_probabilities(probabilities, labels)?;
    let (positives, _) = both_classes(labels, "evaluation")?;
    Ok(ScoreEvaluation {
        rows: labels.len(),
        positives,
        roc_auc: roc_auc(probabilities, labels)?,
        pr_auc: average_precision(probabilities, labels)?,
        log_loss: log_loss(probabilities, labels)?,
        brier: brier_score(probabilities, labels)?,
        ece: expected_calibration_error(probabilities, labels, CALIBRATION_BINS)?,
        reliability: reliability(probabilities, labels, CALIBRATION_BINS)?,
        deciles: gain_table(probabilities, labels, 10.min(labels.len()))?,
    })
}
