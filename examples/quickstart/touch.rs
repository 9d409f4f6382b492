//! Where and how we meet the customers: journeys, what converts in which
//! segment, engagement, journey stages, channel preference and attribution,
//! on the resolved customers and the segments the loop found.

use custinsight::records::JourneyStage;
use custinsight::segment::segments::Segments;
use custinsight::store::CustomerBase;
use custinsight::synth::{
    LeadPrecision, MARKETING_CHANNELS, MismatchScore, Population, StageAccuracy, tuned_stage_rules,
};
use custinsight::touchpoints::attribution::{
    Budget, BudgetParams, CausalAttribution, CausalParams, Covariates, CreditedConversions,
    HeuristicParams, Heuristics, MarkovAttribution, MarkovParams, ShapleyAttribution,
    ShapleyParams, budget, causal, heuristics, markov, shapley,
};
use custinsight::touchpoints::effectiveness::{
    EffectivenessParams, GroupMatrix, KeyLevel, group_matrix,
};
use custinsight::touchpoints::engagement::{
    EngagementParams, LadderFunnel, WarmLeadParams, WarmLeads, score as engagement_score,
    warm_leads,
};
use custinsight::touchpoints::journey::{
    ConversionSource, JourneyParams, JourneyTouches, Journeys,
};
use custinsight::touchpoints::journey_stage::{
    ContentFitParams, JourneyStageParams, assign as assign_journey_stages, message_stages,
};
use custinsight::touchpoints::paths::{
    OpenJourneys, PathStats, PathStatsParams, PathTable, time_to_conversion,
};
use custinsight::touchpoints::preference::{ChannelCount, PreferenceParams, preferences};
use serde_json::json;

/// Warm leads are checked against who buys within this many weeks.
const LEAD_HORIZON_WEEKS: f64 = 13.0;

/// One channel's credit per journey it appears in, beside its true effect.
pub struct AttributionRow {
    pub channel: String,
    pub true_effect: f64,
    pub journeys: f64,
    pub last_touch: f64,
    pub markov: f64,
    pub shapley: f64,
    /// Causal effect on the log-odds of conversion: estimate, low, high.
    pub effect: Option<[f64; 3]>,
}

/// What the touchpoint step found.
pub struct TouchStep {
    pub outcomes: (usize, usize, usize),
    pub median_days: f64,
    pub paths: PathTable,
    pub path_stats: PathStats,
    pub matrix: GroupMatrix,
    pub heuristic: Heuristics,
    pub chain: MarkovAttribution,
    pub fair: ShapleyAttribution,
    pub attribution: Vec<AttributionRow>,
    pub causal: CausalAttribution,
    pub budget: Budget,
    pub recent_days: f64,
    pub funnel: LadderFunnel,
    pub leads: WarmLeads,
    pub journey_stages: ([usize; 6], usize, usize),
    /// Assigned stages against the latent ones.
    pub stage_check: StageAccuracy,
    /// Messages flagged as made for another stage, against the truth.
    pub content_check: MismatchScore,
    /// Warm leads against who buys in the 13 weeks after.
    pub lead_check: LeadPrecision,
    pub preferred: Vec<ChannelCount>,
    pub no_consented_channel: usize,
    pub seconds: f64,
}

impl TouchStep {
    pub fn run(
        base: &CustomerBase,
        segments: &Segments,
        pop: &Population,
        true_customers: &[Option<u32>],
        as_of: jiff::Timestamp,
    ) -> custinsight::Result<TouchStep> {
        let truth = &pop.truth.journeys;
        let started = std::time::Instant::now();
        // Marketing journeys with the usual 30-day lookback: the synthetic
        // population keeps a customer's journeys 31 days apart, and support,
        // reviews and unsubscribes are not steps towards a purchase.
        let journeys = Journeys::build(
            base,
            &JourneyParams {
                conversions: ConversionSource::Transactions,
                as_of: Some(as_of),
                touches: JourneyTouches::Marketing,
                ..JourneyParams::default()
            },
        )?;
        let outcomes = journeys.outcome_counts();
        let median_days = time_to_conversion(&journeys).median_days;
        let paths = PathTable::from_journeys(&journeys, base, OpenJourneys::Excluded)?;
        let path_stats = PathStats::compute(&paths, &PathStatsParams { top_paths: 3 });
        let matrix = group_matrix(
            base,
            &journeys,
            segments,
            &EffectivenessParams {
                level: KeyLevel::Channel,
                ..EffectivenessParams::default()
            },
        )?;
        let heuristic = heuristics(&paths, &HeuristicParams::default())?;
        let chain = markov(&paths, &MarkovParams::default())?;
        let fair = shapley(&paths, &ShapleyParams::default())?;
        // Who made the difference: each channel's effect, adjusted for the
        // segments (the persona proxies a marketer has), with bootstrap intervals.
        let segment_covariate =
            Covariates::for_customers(base.n_customers()).with_segments("segment", segments)?;
        let effects = causal(
            &journeys,
            base,
            Some(&segment_covariate),
            &CausalParams::default(),
        )?;
        let spend = budget(
            &journeys,
            base,
            &effects,
            Some(CreditedConversions {
                channels: paths.channels(),
                credits: &chain.credits,
            }),
            &BudgetParams::default(),
        )?;
        // Per journey a channel appears in, credit should follow the channel's true effect.
        let appearances: Vec<f64> = path_stats.positions.iter().map(|p| p.journeys).collect();
        let attribution = MARKETING_CHANNELS
            .iter()
            .enumerate()
            .filter_map(|(i, ch)| {
                let c = paths.channels().iter().position(|n| n == ch.as_str())?;
                let per = |credit: f64| credit / appearances[c].max(1.0);
                let effect = base
                    .channels()
                    .iter()
                    .position(|b| b == ch)
                    .and_then(|b| effects.effects[b].effect.as_ref())
                    .map(|e| [e.value, e.low, e.high]);
                Some(AttributionRow {
                    channel: ch.to_string(),
                    true_effect: truth.channel_effects[i],
                    journeys: appearances[c],
                    last_touch: per(heuristic.last_touch.conversions[c]),
                    markov: per(chain.credits.conversions[c]),
                    shapley: per(fair.credits.conversions[c]),
                    effect,
                })
            })
            .collect();
        let engagement_params = EngagementParams {
            as_of: Some(as_of),
            ..EngagementParams::default()
        };
        let engagement = engagement_score(base, &engagement_params)?;
        let funnel = engagement.funnel();
        let leads = warm_leads(base, &engagement, &WarmLeadParams::default())?;
        let lead_check = pop.warm_lead_precision(
            base,
            true_customers,
            &leads,
            LEAD_HORIZON_WEEKS,
            engagement_params.recent_days,
        )?;
        // The stage windows tuned on the population's training seeds, not on this one.
        let stage_params = JourneyStageParams {
            as_of: Some(as_of),
            ..tuned_stage_rules()
        };
        let stages = assign_journey_stages(base, &stage_params)?;
        let d = &stages.distribution;
        let stage_check = pop.journey_stage_accuracy(&stages, true_customers)?;
        let messages = message_stages(
            base,
            &ContentFitParams {
                stage: stage_params.clone(),
                ..ContentFitParams::default()
            },
        )?;
        let content_check = pop.content_mismatch(&messages, true_customers, 0);
        let preferred = preferences(
            base,
            &PreferenceParams {
                as_of: Some(as_of),
                ..PreferenceParams::default()
            },
        )?;
        Ok(TouchStep {
            outcomes,
            median_days,
            paths,
            path_stats,
            matrix,
            heuristic,
            chain,
            fair,
            attribution,
            causal: effects,
            budget: spend,
            recent_days: engagement_params.recent_days,
            funnel,
            leads,
            journey_stages: (d.counts, d.inactive, d.customers),
            stage_check,
            content_check,
            lead_check,
            no_consented_channel: preferred.no_consented_channel,
            preferred: preferred.distribution,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        let (converted, not_converted, open) = self.outcomes;
        let (counts, inactive, customers) = self.journey_stages;
        json!({
            "journeys": {"converted": converted, "not_converted": not_converted, "open": open,
                         "median_days_to_conversion": self.median_days},
            "top_paths": self.path_stats.top_paths,
            "conversion_rate_by_segment": {
                "channels": self.matrix.touchpoints,
                "segments": self.matrix.groups,
                "rates": self.matrix.cells.iter().map(|row| row.iter().map(|c| c.rate).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "significant": self.matrix.cells.iter().map(|row| row.iter().map(|c| c.direction).collect::<Vec<_>>()).collect::<Vec<_>>(),
            },
            "attribution": self.attribution.iter().map(|r| json!({
                "channel": r.channel, "true_effect": r.true_effect, "journeys": r.journeys,
                "last_touch_per_journey": r.last_touch, "markov_per_journey": r.markov, "shapley_per_journey": r.shapley,
                "causal_effect": r.effect.map(|e| e[0]), "causal_interval": r.effect.map(|e| [e[1], e[2]]),
            })).collect::<Vec<_>>(),
            "causal": {"adjusted_for": self.causal.covariates, "journeys": self.causal.journeys,
                       "direct_conversions_left_out": self.causal.direct_conversions},
            "budget": self.budget,
            "engagement_funnel": self.funnel.steps,
            "warm_leads": {"candidates": self.leads.candidates, "listed": self.leads.leads.len(),
                           "buy_within_13_weeks": self.lead_check.later_buyers, "precision": self.lead_check.precision,
                           "base_rate": self.lead_check.base_rate},
            "journey_stages": {"counts": JourneyStage::ALL.iter().zip(counts).map(|(s, c)| (s.to_string(), json!(c))).collect::<serde_json::Map<_, _>>(),
                               "inactive": inactive, "customers": customers,
                               "true_counts": JourneyStage::ALL.iter().map(|&s| (s.to_string(), json!(self.stage_check.truly_in(Some(s))))).collect::<serde_json::Map<_, _>>(),
                               "true_inactive": self.stage_check.truly_in(None),
                               "accuracy": self.stage_check.accuracy, "confusion": self.stage_check.confusion},
            "content_fit": {"messages": self.content_check.messages, "flagged": self.content_check.flagged,
                            "truly_mismatched": self.content_check.truly_mismatched,
                            "precision": self.content_check.precision, "recall": self.content_check.recall, "f1": self.content_check.f1},
            "preferred_channels": self.preferred,
            "seconds": self.seconds,
        })
    }

    pub fn print(&self, share: impl Fn(usize, usize) -> f64) {
        let (converted, not_converted, open) = self.outcomes;
        println!(
            "   journeys: {converted} converted, {not_converted} not converted, {open} open; median {:.1} days from first touch to order",
            self.median_days
        );
        for p in &self.path_stats.top_paths {
            println!(
                "   path {:<32} {:>7} journeys, {:>5.1}% convert",
                p.path,
                p.journeys,
                100.0 * p.conversion_rate
            );
        }
        println!(
            "   conversion rate by channel and segment (+/− significantly above/below the other segments, BH 5%):"
        );
        print!("     {:<12}", "");
        for g in 0..self.matrix.groups.len() {
            print!(" {:>9}", format!("seg {g}"));
        }
        println!();
        for (row, cells) in self.matrix.touchpoints.iter().zip(&self.matrix.cells) {
            print!("     {row:<12}");
            for c in cells {
                let mark = match c.direction {
                    1 => "+",
                    -1 => "−",
                    _ => " ",
                };
                if c.rate.is_nan() {
                    print!(" {:>9}", "·");
                } else {
                    print!(" {:>8.1}{mark}", 100.0 * c.rate);
                }
            }
            println!();
        }
        println!(
            "   who was there and who made the difference: credit per journey a channel is in, and its causal"
        );
        println!(
            "   effect on the log-odds of conversion adjusted for segment (95% interval), beside the true effect:"
        );
        println!(
            "     {:<12} {:>9} {:>10} {:>8} {:>8}   {:>7} {:>16} {:>6}",
            "channel", "journeys", "last touch", "markov", "shapley", "causal", "interval", "true"
        );
        let mut inside = 0;
        for r in &self.attribution {
            let (effect, interval) = match r.effect {
                Some([e, lo, hi]) => {
                    let hit = lo <= r.true_effect && r.true_effect <= hi;
                    inside += usize::from(hit);
                    (
                        format!("{e:+.2}"),
                        format!("[{lo:+.2}, {hi:+.2}]{}", if hit { " ✓" } else { "  " }),
                    )
                }
                None => ("–".into(), String::new()),
            };
            println!(
                "     {:<12} {:>9} {:>10.3} {:>8.3} {:>8.3}   {:>7} {:>16} {:>+6.2}",
                r.channel,
                r.journeys,
                r.last_touch,
                r.markov,
                r.shapley,
                effect,
                interval,
                r.true_effect
            );
        }
        println!(
            "     true effect inside the interval for {inside} of {} channels ({} journeys; {} direct conversions without a touch left out)",
            self.attribution.len(),
            self.causal.journeys,
            self.causal.direct_conversions
        );
        println!(
            "   budget (paid channels): cost, Markov credit, incremental conversions and ROI, and the spend the effects suggest:"
        );
        println!(
            "     {:<12} {:>9} {:>8} {:>12} {:>20} {:>10} {:>10}",
            "channel",
            "cost €",
            "credit",
            "incremental",
            "incremental ROI",
            "share now",
            "suggested"
        );
        for c in &self.budget.channels {
            println!(
                "     {:<12} {:>9.0} {:>8.0} {:>12.0} {:>+7.2} [{:+.2}, {:+.2}] {:>9.1}% {:>9.1}%",
                c.channel,
                c.cost,
                c.credited_conversions.unwrap_or(f64::NAN),
                c.incremental_conversions.value,
                c.incremental_roi.value,
                c.incremental_roi.low,
                c.incremental_roi.high,
                100.0 * c.cost_share,
                100.0 * c.suggested_share
            );
        }
        println!(
            "   engagement ladder, last {} days: {}",
            self.recent_days,
            self.funnel
                .steps
                .iter()
                .map(|s| format!("{} {:.1}%", s.rung, 100.0 * s.share))
                .collect::<Vec<_>>()
                .join(" → ")
        );
        let l = &self.lead_check;
        println!(
            "   warm leads (engaged, no recent purchase, contactable): {} of {} candidates; {:.0}% of them buy within {} weeks (truth), against {:.0}% of all customers without a recent purchase",
            self.leads.leads.len(),
            self.leads.candidates,
            100.0 * l.precision,
            LEAD_HORIZON_WEEKS,
            100.0 * l.base_rate
        );
        let (counts, inactive, customers) = self.journey_stages;
        let c = &self.stage_check;
        let truly = |s: Option<JourneyStage>| share(c.truly_in(s) as usize, c.customers);
        println!(
            "   journey stages (rules tuned on training seeds), assigned (true): {}, inactive {:.1}% ({:.1}%); {:.1}% assigned their true stage",
            JourneyStage::ALL
                .iter()
                .zip(counts)
                .map(|(s, n)| format!(
                    "{s} {:.1}% ({:.1}%)",
                    100.0 * share(n, customers),
                    100.0 * truly(Some(*s))
                ))
                .collect::<Vec<_>>()
                .join(", "),
            100.0 * share(inactive, customers),
            100.0 * truly(None),
            100.0 * c.accuracy
        );
        let m = &self.content_check;
        println!(
            "   content fit: {} of {} messages flagged as made for another stage than their recipient's ({:.1}%; truly {:.1}%): precision {:.1}%, recall {:.1}%, F1 {:.3}",
            m.flagged,
            m.messages,
            100.0 * share(m.flagged as usize, m.messages as usize),
            100.0 * share(m.truly_mismatched as usize, m.messages as usize),
            100.0 * m.precision,
            100.0 * m.recall,
            m.f1
        );
        println!(
            "   preferred channel (with consent): {}; no consented channel {}",
            self.preferred
                .iter()
                .take(4)
                .map(|c| format!("{} {:.1}%", c.channel, 100.0 * c.share))
                .collect::<Vec<_>>()
                .join(", "),
            self.no_consented_channel
        );
    }
}
