//! What the other analyses know about a customer at a cutoff, as feature
//! columns: lifecycle scores and stage, engagement, journey stage, channel
//! preference and segment.
//!
//! Each analysis is run as of the cutoff (its `as_of` set to it), so it sees
//! the history up to the cutoff and nothing after: the columns are as free
//! of leakage as the base features. Each analysis adds a fixed set of
//! columns, the same at every cutoff, so cutoffs stack:
//!
//! | analysis | columns |
//! |---|---|
//! | lifecycle ([`crate::lifecycle::customers`]) | P(alive), expected purchases, CLV, x, t_x, T, monetary value; `stage:<stage>` 0/1 per lifecycle stage |
//! | engagement ([`crate::touchpoints::engagement`]) | `engagement_score` (decayed points), `engagement_events`, `engagement_rung` and `engagement_recent_rung` (highest rung reached, ever and in the recent window: 0 none, 1 visit … 6 purchase), `days_since_engagement` (missing without a ladder event) |
//! | journey stage ([`crate::touchpoints::journey_stage`]) | `journey:<stage>` 0/1 per stage (all 0: inactive) |
//! | channel preference ([`crate::touchpoints::preference`]) | `preferred:<channel>` 0/1 per channel of the base (the best consented channel), `preferred_share` |
//! | segment ([`crate::segment::model`]) | `segment:<name>` 0/1 per segment of a fitted model, predicted from the columns above |
//!
//! Indicators rather than codes: a tree or a linear model reads a stage's
//! column directly, and a stage nobody is in at one cutoff is a column of
//! zeros there, not a missing level.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::lifecycle::customers::LifecycleParams;
use crate::lifecycle::stage::Stage;
use crate::records::JourneyStage;
use crate::segment::features::FeatureMatrix;
use crate::segment::model::SegmentationModel;
use crate::store::{CustomerBase, to_micros};
use crate::touchpoints::engagement::{self, EngagementParams};
use crate::touchpoints::journey_stage::{self, JourneyStageParams};
use crate::touchpoints::preference::{self, PreferenceParams};

const MICROS_PER_DAY: f64 = 86_400_000_000.0;

/// Which analyses join the features at each cutoff (all off by default);
/// each analysis's `as_of` is replaced by the cutoff.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureContext {
    /// Lifecycle models fitted at the cutoff
    /// ([`FeatureMatrix::with_lifecycle`]: P(alive), expected purchases, CLV
    /// and the BTYD summary, the strongest signal of who buys next in most
    /// bases), with the lifecycle stage as `stage:<stage>` indicators.
    pub lifecycle: Option<LifecycleParams>,
    /// The engagement score and ladder rungs at the cutoff.
    pub engagement: Option<EngagementParams>,
    /// The journey stage at the cutoff.
    pub journey_stage: Option<JourneyStageParams>,
    /// The preferred consented channel at the cutoff.
    pub channel_preference: Option<PreferenceParams>,
    /// A fitted segmentation; each row's segment is predicted from its
    /// features at the cutoff (the model's feature columns must be among
    /// them: base features, or columns another analysis here adds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<SegmentationModel>,
}

impl FeatureContext {
    /// Lifecycle scores and stages only.
    pub fn lifecycle(params: LifecycleParams) -> Self {
        FeatureContext {
            lifecycle: Some(params),
            ..FeatureContext::default()
        }
    }

    /// Every analysis with its default settings, without segments.
    pub fn all() -> Self {
        FeatureContext {
            lifecycle: Some(LifecycleParams::default()),
            engagement: Some(EngagementParams::default()),
            journey_stage: Some(JourneyStageParams::default()),
            channel_preference: Some(PreferenceParams::default()),
            segments: None,
        }
    }

    /// Appends the columns of every analysis that is on to `m`, whose rows
    /// are the base's customers `rows`, as of `as_of`.
    ///
    /// # Errors
    /// The analyses' errors (invalid parameters, a lifecycle fit that fails);
    /// [`crate::Error::NotFound`] when the segmentation needs a column `m`
    /// does not have.
    pub fn join(
        &self,
        base: &CustomerBase,
        m: &mut FeatureMatrix,
        rows: &[u32],
        as_of: Timestamp,
    ) -> Result<()> {
        if let Some(params) = &self.lifecycle {
            let fitted = params.fit(base, as_of)?;
            m.with_lifecycle(base, &fitted)?;
            for stage in Stage::ALL {
                let column = indicator(rows, |c| fitted.stage[c] == Some(stage));
                m.push_column(format!("stage:{}", stage.as_str()), column)?;
            }
        }
        if let Some(params) = &self.engagement {
            join_engagement(base, m, rows, as_of, params)?;
        }
        if let Some(params) = &self.journey_stage {
            let stages = journey_stage::assign(
                base,
                &JourneyStageParams {
                    as_of: Some(as_of),
                    ..params.clone()
                },
            )?;
            for stage in JourneyStage::ALL {
                let column = indicator(rows, |c| stages.assignments[c].stage == Some(stage));
                m.push_column(format!("journey:{}", stage.as_str()), column)?;
            }
        }
        if let Some(params) = &self.channel_preference {
            let prefs = preference::preferences(
                base,
                &PreferenceParams {
                    as_of: Some(as_of),
                    ..params.clone()
                },
            )?;
            for channel in base.channels() {
                let column = indicator(rows, |c| {
                    prefs.customers[c].preferred.as_ref() == Some(channel)
                });
                m.push_column(format!("preferred:{channel}"), column)?;
            }
            let share = rows
                .iter()
                .map(|&c| prefs.customers[c as usize].preferred_share)
                .collect();
            m.push_column("preferred_share", share)?;
        }
        if let Some(model) = &self.segments {
            let labels = model.predict(m)?;
            for (k, name) in model.names.iter().enumerate() {
                let column = labels
                    .iter()
                    .map(|&l| f64::from(u8::from(l == k)))
                    .collect();
                m.push_column(format!("segment:{name}"), column)?;
            }
        }
        Ok(())
    }
}

/// 1.0 where `of(customer index)` holds, per row.
fn indicator(rows: &[u32], of: impl Fn(usize) -> bool) -> Vec<f64> {
    rows.iter()
        .map(|&c| f64::from(u8::from(of(c as usize))))
        .collect()
}

fn join_engagement(
    base: &CustomerBase,
    m: &mut FeatureMatrix,
    rows: &[u32],
    as_of: Timestamp,
    params: &EngagementParams,
) -> Result<()> {
    let scored = engagement::score(
        base,
        &EngagementParams {
            as_of: Some(as_of),
            ..params.clone()
        },
    )?;
    let of = |c: u32| &scored.customers[c as usize];
    // Rungs as 1..=6 so that 0 is "none", below the lowest rung.
    let rung = |r: Option<engagement::Rung>| r.map_or(0.0, |r| (r.index() + 1) as f64);
    let at = to_micros(as_of);
    let columns: [(&str, Vec<f64>); 5] = [
        (
            "engagement_score",
            rows.iter().map(|&c| of(c).score).collect(),
        ),
        (
            "engagement_events",
            rows.iter().map(|&c| f64::from(of(c).events)).collect(),
        ),
        (
            "engagement_rung",
            rows.iter().map(|&c| rung(of(c).highest_rung)).collect(),
        ),
        (
            "engagement_recent_rung",
            rows.iter()
                .map(|&c| rung(of(c).highest_recent_rung))
                .collect(),
        ),
        (
            "days_since_engagement",
            rows.iter()
                .map(|&c| {
                    of(c)
                        .last_engagement
                        .map_or(f64::NAN, |t| (at - to_micros(t)) as f64 / MICROS_PER_DAY)
                })
                .collect(),
        ),
    ];
    for (name, column) in columns {
        m.push_column(name, column)?;
    }
    Ok(())
}
