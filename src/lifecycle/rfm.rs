//! RFM: recency, frequency and monetary scores, and the conventional named segments.
//!
//! Each dimension is scored 1–5 by quintile of the customer base: 5 is the
//! best fifth (most recent, most frequent, highest spend). Equal values always
//! get equal scores: a value's score is that of the first position its tie
//! group takes in the sorted order, so scores never depend on input order.
//!
//! The named segments use the recency score `R` and `FM`, the mean of the
//! frequency and monetary scores rounded half up, on this grid (the common
//! overlapping rule tables, e.g. Putler's RFM guide, resolved so that every
//! cell has exactly one segment and every segment is reachable):
//!
//! | R \ FM | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|
//! | 5 | new | potential loyalist | potential loyalist | champions | champions |
//! | 4 | promising | potential loyalist | loyal | champions | champions |
//! | 3 | about to sleep | need attention | loyal | loyal | loyal |
//! | 2 | hibernating | about to sleep | need attention | at risk | can't lose |
//! | 1 | lost | hibernating | at risk | can't lose | can't lose |
//!
//! Plays: champions (reward, early access, advocacy), loyal (up-sell, loyalty
//! programme), new (onboard), potential loyalist (membership, recommendations),
//! promising (awareness, trials), need attention (time-limited offers from
//! their history), about to sleep (reconnect), at risk and can't lose
//! (personal reactivation and win-back), hibernating (recreate interest or let
//! go), lost (revive only if cheap). Thresholds are conventions, not estimates.

use serde::{Deserialize, Serialize};

use super::summary::{Period, Summary};
use crate::error::{Error, Result};

/// A named RFM segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RfmSegment {
    /// Bought recently, buy often and spend the most.
    Champions,
    /// Buy regularly and spend well.
    Loyal,
    /// Bought very recently for the first time.
    New,
    /// Recent customers with average frequency and spend.
    PotentialLoyalist,
    /// Recent, but have not bought much.
    Promising,
    /// Above-average recency, frequency and spend, but slipping.
    NeedAttention,
    /// Below-average recency and frequency.
    AboutToSleep,
    /// Used to buy often and spend much, long ago.
    CantLose,
    /// Spent well and bought often, but long ago.
    AtRisk,
    /// Last purchase long ago, low frequency and spend.
    Hibernating,
    /// Lowest recency, frequency and spend.
    Lost,
}

impl RfmSegment {
    /// Every segment, in declaration order (best first).
    pub const ALL: [RfmSegment; 11] = [
        RfmSegment::Champions,
        RfmSegment::Loyal,
        RfmSegment::New,
        RfmSegment::PotentialLoyalist,
        RfmSegment::Promising,
        RfmSegment::NeedAttention,
        RfmSegment::AboutToSleep,
        RfmSegment::CantLose,
        RfmSegment::AtRisk,
        RfmSegment::Hibernating,
        RfmSegment::Lost,
    ];

    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            RfmSegment::Champions => "champions",
            RfmSegment::Loyal => "loyal",
            RfmSegment::New => "new",
            RfmSegment::PotentialLoyalist => "potential_loyalist",
            RfmSegment::Promising => "promising",
            RfmSegment::NeedAttention => "need_attention",
            RfmSegment::AboutToSleep => "about_to_sleep",
            RfmSegment::CantLose => "cant_lose",
            RfmSegment::AtRisk => "at_risk",
            RfmSegment::Hibernating => "hibernating",
            RfmSegment::Lost => "lost",
        }
    }

    /// The segment of a recency score and a frequency-monetary score (both 1–5; values
    /// outside are clamped), by the grid in the module docs.
    pub fn of(r: u8, fm: u8) -> RfmSegment {
        use RfmSegment::*;
        const GRID: [[RfmSegment; 5]; 5] = [
            [Lost, Hibernating, AtRisk, CantLose, CantLose],
            [Hibernating, AboutToSleep, NeedAttention, AtRisk, CantLose],
            [AboutToSleep, NeedAttention, Loyal, Loyal, Loyal],
            [Promising, PotentialLoyalist, Loyal, Champions, Champions],
            [
                New,
                PotentialLoyalist,
                PotentialLoyalist,
                Champions,
                Champions,
            ],
        ];
        GRID[usize::from(r.clamp(1, 5) - 1)][usize::from(fm.clamp(1, 5) - 1)]
    }
}

/// RFM scores of a set of customers (parallel vectors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmScores {
    /// Recency score 1–5 (5 = most recent).
    pub recency: Vec<u8>,
    /// Frequency score 1–5 (5 = most frequent).
    pub frequency: Vec<u8>,
    /// Monetary score 1–5 (5 = highest spend).
    pub monetary: Vec<u8>,
    /// Named segment of each customer.
    pub segment: Vec<RfmSegment>,
}

/// Quintile scores 1–5 where larger values score higher; ties share the score of their first position.
fn quintiles(values: &[f64], larger_is_better: bool) -> Vec<u8> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]).then(i.cmp(&j)));
    let mut scores = vec![0u8; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Position of the tie group's first member, as a fraction of the base.
        let q = (5 * start / n.max(1)) as u8 + 1;
        let score = if larger_is_better { q } else { 6 - q };
        for &i in &order[start..end] {
            scores[i] = score;
        }
        start = end;
    }
    scores
}

impl RfmScores {
    /// Scores from parallel slices: days since the last purchase, number of purchases, spend.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for slices of different lengths;
    /// [`Error::NonFinite`] for a non-finite value.
    pub fn from_values(
        days_since_last: &[f64],
        purchases: &[f64],
        spend: &[f64],
    ) -> Result<RfmScores> {
        let n = days_since_last.len();
        for (column, values) in [("purchases", purchases), ("spend", spend)] {
            if values.len() != n {
                return Err(Error::lengths(
                    format!("RFM: `{column}` beside `days_since_last`"),
                    n,
                    values.len(),
                ));
            }
        }
        for (column, values) in [
            ("days_since_last", days_since_last),
            ("purchases", purchases),
            ("spend", spend),
        ] {
            if let Some((row, &v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(Error::non_finite("RFM input", row, column, v));
            }
        }
        let recency = quintiles(days_since_last, false);
        let frequency = quintiles(purchases, true);
        let monetary = quintiles(spend, true);
        let segment = (0..n)
            .map(|i| {
                let fm = (u16::from(frequency[i]) + u16::from(monetary[i])).div_ceil(2) as u8;
                RfmSegment::of(recency[i], fm)
            })
            .collect();
        Ok(RfmScores {
            recency,
            frequency,
            monetary,
            segment,
        })
    }

    /// Scores from a BTYD summary: days since the last purchase `(T − t_x)`, purchases `x + 1`,
    /// and spend as the average repeat spend (lifetimes' `monetary_value`).
    ///
    /// # Errors
    /// As [`RfmScores::from_values`].
    pub fn from_summary(summary: &Summary) -> Result<RfmScores> {
        let days = match summary.period {
            Period::Day => 1.0,
            Period::Week => 7.0,
        };
        let since: Vec<f64> = summary
            .t_cal
            .iter()
            .zip(&summary.t_x)
            .map(|(t, r)| (t - r) * days)
            .collect();
        let purchases: Vec<f64> = summary.x.iter().map(|x| x + 1.0).collect();
        Self::from_values(&since, &purchases, &summary.monetary_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_are_balanced_and_ties_share_a_score() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let s = quintiles(&values, true);
        for q in 1..=5u8 {
            assert_eq!(s.iter().filter(|&&v| v == q).count(), 20);
        }
        assert_eq!((s[0], s[99]), (1, 5));
        let reversed = quintiles(&values, false);
        assert_eq!((reversed[0], reversed[99]), (5, 1));
        // Ties: equal values, equal scores, whatever their order.
        let tied = [3.0, 1.0, 3.0, 3.0, 2.0, 3.0, 3.0, 9.0, 3.0, 3.0];
        let s = quintiles(&tied, true);
        assert!(
            tied.iter()
                .zip(&s)
                .filter(|(v, _)| **v == 3.0)
                .all(|(_, q)| *q == s[0])
        );
        let mut shuffled = tied;
        shuffled.reverse();
        let s2 = quintiles(&shuffled, true);
        assert_eq!(s2.iter().rev().copied().collect::<Vec<_>>(), s);
        assert!(quintiles(&[], true).is_empty());
    }

    #[test]
    fn segments_follow_the_table() {
        assert_eq!(RfmSegment::of(5, 5), RfmSegment::Champions);
        assert_eq!(RfmSegment::of(3, 4), RfmSegment::Loyal);
        assert_eq!(RfmSegment::of(5, 1), RfmSegment::New);
        assert_eq!(RfmSegment::of(4, 2), RfmSegment::PotentialLoyalist);
        assert_eq!(RfmSegment::of(4, 1), RfmSegment::Promising);
        assert_eq!(RfmSegment::of(3, 2), RfmSegment::NeedAttention);
        assert_eq!(RfmSegment::of(3, 1), RfmSegment::AboutToSleep);
        assert_eq!(RfmSegment::of(1, 5), RfmSegment::CantLose);
        assert_eq!(RfmSegment::of(1, 3), RfmSegment::AtRisk);
        assert_eq!(RfmSegment::of(2, 1), RfmSegment::Hibernating);
        assert_eq!(RfmSegment::of(1, 1), RfmSegment::Lost);
        assert_eq!(
            RfmSegment::of(0, 9),
            RfmSegment::CantLose,
            "out-of-range scores are clamped"
        );
        // Every one of the eleven segments is reachable.
        let mut seen = std::collections::HashSet::new();
        for r in 1..=5 {
            for fm in 1..=5 {
                seen.insert(RfmSegment::of(r, fm));
            }
        }
        assert_eq!(seen.len(), 11);
    }

    #[test]
    fn scores_from_values_and_errors() {
        // Five customers: one per quintile in each dimension.
        let days = [1.0, 300.0, 30.0, 90.0, 10.0];
        let purchases = [20.0, 1.0, 5.0, 2.0, 9.0];
        let spend = [500.0, 10.0, 80.0, 20.0, 200.0];
        let s = RfmScores::from_values(&days, &purchases, &spend).unwrap();
        assert_eq!(s.recency, [5, 1, 3, 2, 4]);
        assert_eq!(s.frequency, [5, 1, 3, 2, 4]);
        assert_eq!(s.segment[0], RfmSegment::Champions);
        assert_eq!(s.segment[1], RfmSegment::Lost);
        assert_eq!(s.segment[3], RfmSegment::AboutToSleep);
        assert!(
            s.recency
                .iter()
                .chain(&s.frequency)
                .chain(&s.monetary)
                .all(|v| (1..=5).contains(v))
        );
        assert!(matches!(
            RfmScores::from_values(&[1.0], &[], &[]),
            Err(Error::LengthMismatch {
                expected: 1,
                found: 0,
                ..
            })
        ));
        assert!(
            matches!(RfmScores::from_values(&[f64::NAN], &[1.0], &[1.0]), Err(Error::NonFinite { row: 0, field, .. }) if field == "days_since_last")
        );
    }
}
