//! How well an uplift score ranks the persuadable first, on experiment data.
//!
//! Customers are ordered by predicted uplift, highest first. After the top
//! n of them, the **uplift curve** is (treated response rate − control
//! response rate) × n, and the **Qini curve** is treated responders −
//! control responders × (treated / control) among those n (Radcliffe 2007).
//! A model that finds the persuadable rises steeply; a random order is the
//! straight line to the overall effect. The areas between a curve and that
//! line, relative to the area of the perfect order, are the **AUUC** and the
//! **Qini coefficient**. **Uplift at k** is the treated minus the control
//! response rate among the top k.
//!
//! All as scikit-uplift 0.5 defines them (`uplift_curve`, `qini_curve`,
//! `perfect_uplift_curve`, `perfect_qini_curve`, `uplift_auc_score`,
//! `qini_auc_score`, `uplift_at_k`): the curves step at distinct scores,
//! start at (0, 0), and the areas are trapezoids. The curves also take a
//! numeric outcome (revenue); the normalised scores need a 0/1 outcome,
//! whose perfect order is known.

use serde::Serialize;

use crate::error::{Error, Result};

/// A curve's points: customers targeted (0, then each distinct-score cut) and the curve's value there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpliftCurve {
    /// Customers targeted at each point.
    pub targeted: Vec<f64>,
    /// The curve's value there.
    pub value: Vec<f64>,
}

impl UpliftCurve {
    /// The area under the curve (trapezoids).
    pub fn area(&self) -> f64 {
        self.targeted
            .windows(2)
            .zip(self.value.windows(2))
            .map(|(x, y)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
            .sum()
    }

    /// The area under the straight line from (0, 0) to the curve's last point.
    fn baseline_area(&self) -> f64 {
        match (self.targeted.last(), self.value.last()) {
            (Some(x), Some(y)) => x * y / 2.0,
            _ => 0.0,
        }
    }
}

/// Which curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uplift,
    Qini,
}

/// Checks an experiment's rows: lengths, finite scores and outcomes, both arms.
fn check(outcome: &[f64], uplift: &[f64], treated: &[bool]) -> Result<()> {
    if uplift.len() != outcome.len() {
        return Err(Error::lengths(
            "uplift scores per outcome",
            outcome.len(),
            uplift.len(),
        ));
    }
    if treated.len() != outcome.len() {
        return Err(Error::lengths(
            "treatment flags per outcome",
            outcome.len(),
            treated.len(),
        ));
    }
    if let Some(row) = uplift.iter().position(|v| !v.is_finite()) {
        return Err(Error::non_finite(
            "uplift scores",
            row,
            "uplift",
            uplift[row],
        ));
    }
    if let Some(row) = outcome.iter().position(|v| !v.is_finite()) {
        return Err(Error::non_finite("outcomes", row, "outcome", outcome[row]));
    }
    let n_treated = treated.iter().filter(|&&t| t).count();
    if n_treated == 0 {
        return Err(Error::too_few("treated units", 1, 0));
    }
    if n_treated == treated.len() {
        return Err(Error::too_few("control units", 1, 0));
    }
    Ok(())
}

/// Checks that every outcome is 0 or 1.
fn check_binary(outcome: &[f64]) -> Result<()> {
    match outcome.iter().position(|&y| y != 0.0 && y != 1.0) {
        Some(row) => Err(Error::invalid_row(
            "outcomes",
            row,
            "outcome",
            outcome[row].to_string(),
            "the normalised uplift scores need a 0/1 outcome",
        )),
        None => Ok(()),
    }
}

/// Rows by descending score, ties with the later row first (numpy's stable
/// ascending sort, reversed, as scikit-uplift orders them).
fn descending(uplift: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..uplift.len()).collect();
    order.sort_by(|&a, &b| uplift[b].total_cmp(&uplift[a]).then(b.cmp(&a)));
    order
}

fn curve(kind: Kind, outcome: &[f64], uplift: &[f64], treated: &[bool]) -> UpliftCurve {
    let order = descending(uplift);
    let (mut targeted, mut value) = (vec![0.0], vec![0.0]);
    let (mut n_t, mut n_all, mut y_t, mut y_c) = (0.0, 0.0, 0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        n_all += 1.0;
        if treated[i] {
            n_t += 1.0;
            y_t += outcome[i];
        } else {
            y_c += outcome[i];
        }
        // A point at the last row of each run of equal scores.
        let last_of_run = order.get(k + 1).is_none_or(|&j| uplift[j] != uplift[i]);
        if !last_of_run {
            continue;
        }
        let n_c = n_all - n_t;
        let v = match kind {
            Kind::Uplift => {
                let rate_t = if n_t > 0.0 { y_t / n_t } else { 0.0 };
                let rate_c = if n_c > 0.0 { y_c / n_c } else { 0.0 };
                (rate_t - rate_c) * n_all
            }
            Kind::Qini => y_t - y_c * if n_c > 0.0 { n_t / n_c } else { 0.0 },
        };
        targeted.push(n_all);
        value.push(v);
    }
    UpliftCurve { targeted, value }
}

/// The uplift curve: (treated rate − control rate) × n among the top n (scikit-uplift's `uplift_curve`).
///
/// # Errors
/// [`Error::LengthMismatch`]; [`Error::NonFinite`] for a NaN or infinite
/// score or outcome; [`Error::TooFew`] without treated or control units.
pub fn uplift_curve(outcome: &[f64], uplift: &[f64], treated: &[bool]) -> Result<UpliftCurve> {
    check(outcome, uplift, treated)?;
    Ok(curve(Kind::Uplift, outcome, uplift, treated))
}

/// The Qini curve: treated responders − control responders × treated/control
/// among the top n (scikit-uplift's `qini_curve`).
///
/// # Errors
/// As [`uplift_curve`].
pub fn qini_curve(outcome: &[f64], uplift: &[f64], treated: &[bool]) -> Result<UpliftCurve> {
    check(outcome, uplift, treated)?;
    Ok(curve(Kind::Qini, outcome, uplift, treated))
}

/// Whether the curve of the perfect order may dip (negative effects exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NegativeEffects {
    /// The perfect order puts treated responders first and control responders last.
    Allowed,
    /// The perfect curve rises to the overall effect at once and stays there.
    Excluded,
}

/// Area under the uplift curve between the random and the perfect order,
/// as a share of the perfect order's (scikit-uplift's `uplift_auc_score`).
///
/// # Errors
/// As [`uplift_curve`], and [`Error::InvalidRow`] for an outcome other than 0 or 1.
pub fn auuc(outcome: &[f64], uplift: &[f64], treated: &[bool]) -> Result<f64> {
    check(outcome, uplift, treated)?;
    check_binary(outcome)?;
    let actual = curve(Kind::Uplift, outcome, uplift, treated);
    let control_responders = outcome
        .iter()
        .zip(treated)
        .filter(|&(&y, &t)| y == 1.0 && !t)
        .count();
    let treated_non_responders = outcome
        .iter()
        .zip(treated)
        .filter(|&(&y, &t)| y == 0.0 && t)
        .count();
    let perfect_score: Vec<f64> = outcome
        .iter()
        .zip(treated)
        .map(|(&y, &t)| {
            let t = f64::from(u8::from(t));
            let summand = if control_responders > treated_non_responders {
                y
            } else {
                t
            };
            2.0 * f64::from(u8::from(y == t)) + summand
        })
        .collect();
    let perfect = curve(Kind::Uplift, outcome, &perfect_score, treated);
    Ok(normalised(&actual, &perfect))
}

/// The Qini coefficient: area under the Qini curve between the random and
/// the perfect order, as a share of the perfect order's (scikit-uplift's
/// `qini_auc_score`).
///
/// # Errors
/// As [`auuc`].
pub fn qini_coefficient(
    outcome: &[f64],
    uplift: &[f64],
    treated: &[bool],
    negative: NegativeEffects,
) -> Result<f64> {
    check(outcome, uplift, treated)?;
    check_binary(outcome)?;
    let actual = curve(Kind::Qini, outcome, uplift, treated);
    let perfect = match negative {
        NegativeEffects::Allowed => {
            let score: Vec<f64> = outcome
                .iter()
                .zip(treated)
                .map(|(&y, &t)| if t { y } else { -y })
                .collect();
            curve(Kind::Qini, outcome, &score, treated)
        }
        NegativeEffects::Excluded => {
            let (mut y_t, mut n_t, mut y_c, mut n_c) = (0.0, 0.0, 0.0, 0.0);
            for (&y, &t) in outcome.iter().zip(treated) {
                if t {
                    (y_t, n_t) = (y_t + y, n_t + 1.0);
                } else {
                    (y_c, n_c) = (y_c + y, n_c + 1.0);
                }
            }
            let ratio = y_t - n_t * y_c / n_c;
            UpliftCurve {
                targeted: vec![0.0, ratio, outcome.len() as f64],
                value: vec![0.0, ratio, ratio],
            }
        }
    };
    Ok(normalised(&actual, &perfect))
}

/// (area(actual) − baseline) / (area(perfect) − baseline), the baseline
/// being the line to the perfect curve's end.
fn normalised(actual: &UpliftCurve, perfect: &UpliftCurve) -> f64 {
    let baseline = perfect.baseline_area();
    (actual.area() - baseline) / (perfect.area() - baseline)
}

/// How the top k of uplift at k are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TopK {
    /// The top share of all units; the rates of the treated and the control units among them.
    Overall,
    /// The top share of the treated and of the control units, each ranked separately.
    ByGroup,
}

/// Treated minus control response rate among the top `share` (0 < share < 1)
/// of units by uplift (scikit-uplift's `uplift_at_k` with a float k).
///
/// # Errors
/// As [`uplift_curve`]; [`Error::InvalidParameter`] for a share outside
/// (0, 1); [`Error::TooFew`] when the top holds no treated or no control unit.
pub fn uplift_at_k(
    outcome: &[f64],
    uplift: &[f64],
    treated: &[bool],
    share: f64,
    top: TopK,
) -> Result<f64> {
    check(outcome, uplift, treated)?;
    if !(share > 0.0 && share < 1.0) {
        return Err(Error::param(
            "share",
            share,
            "must lie strictly between 0 and 1",
        ));
    }
    let order = descending(uplift);
    let mean = |rows: &mut dyn Iterator<Item = usize>, what: &str| -> Result<f64> {
        let (mut sum, mut count) = (0.0, 0usize);
        for i in rows {
            sum += outcome[i];
            count += 1;
        }
        if count == 0 {
            return Err(Error::too_few(
                format!("{what} units in the top {share}"),
                1,
                0,
            ));
        }
        Ok(sum / count as f64)
    };
    let (rate_t, rate_c) = match top {
        TopK::Overall => {
            let n = (outcome.len() as f64 * share) as usize;
            let top = &order[..n];
            (
                mean(&mut top.iter().copied().filter(|&i| treated[i]), "treated")?,
                mean(&mut top.iter().copied().filter(|&i| !treated[i]), "control")?,
            )
        }
        TopK::ByGroup => {
            let n_t = (treated.iter().filter(|&&t| t).count() as f64 * share) as usize;
            let n_c = (treated.iter().filter(|&&t| !t).count() as f64 * share) as usize;
            (
                mean(
                    &mut order.iter().copied().filter(|&i| treated[i]).take(n_t),
                    "treated",
                )?,
                mean(
                    &mut order.iter().copied().filter(|&i| !treated[i]).take(n_c),
                    "control",
                )?,
            )
        }
    };
    Ok(rate_t - rate_c)
}
