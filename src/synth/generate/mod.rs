//! Drawing one customer at a time, and assembling the population.

mod assemble;
mod draw;
mod journeys;

use super::params::{MARKETING_CHANNELS, SynthParams};
use super::stages::StageTimeline;
use super::{Experiment, JourneyCounts, Population, Truth};
use crate::error::Result;
use crate::records::{Channel, Currency, TouchpointKind};
use crate::store::CustomerBaseBuilder;
use assemble::Assembler;
use draw::{DrawnCustomer, Model};

const WEEK_US: f64 = 7.0 * 86_400.0 * 1e6;
const DAY_WEEKS: f64 = 1.0 / 7.0;

/// Channel table: the marketing channels, then store and call centre.
const STORE: u8 = 10;
const CALL_CENTER: u8 = 11;
const EMAIL: usize = 2;
const SMS: usize = 3;
const PUSH: usize = 4;
const DIRECT_MAIL: usize = 9;

fn channel_of(code: u8) -> Channel {
    match code {
        STORE => Channel::Store,
        CALL_CENTER => Channel::CallCenter,
        c => MARKETING_CHANNELS
            .get(c as usize)
            .cloned()
            .unwrap_or(Channel::Web),
    }
}

/// Kind table, indexed by the `kind` code of a drawn touchpoint.
const KINDS: [TouchpointKind; 15] = [
    TouchpointKind::Impression,
    TouchpointKind::Click,
    TouchpointKind::Visit,
    TouchpointKind::ProductView,
    TouchpointKind::Compare,
    TouchpointKind::ReviewRead,
    TouchpointKind::Configurator,
    TouchpointKind::AddToCart,
    TouchpointKind::Inquiry,
    TouchpointKind::Purchase,
    TouchpointKind::Complaint,
    TouchpointKind::Support,
    TouchpointKind::ReviewWritten,
    TouchpointKind::Referral,
    TouchpointKind::Unsubscribe,
];
const IMPRESSION: u8 = 0;
const CLICK: u8 = 1;
const VISIT: u8 = 2;
const PURCHASE: u8 = 9;
const COMPLAINT: u8 = 10;
const SUPPORT: u8 = 11;
const REVIEW_WRITTEN: u8 = 12;
const REFERRAL: u8 = 13;
const UNSUBSCRIBE: u8 = 14;

const TOPICS: [&str; 8] = [
    "electronics",
    "fashion",
    "home",
    "beauty",
    "sports",
    "books",
    "toys",
    "garden",
];
const NO_TOPIC: u8 = u8::MAX;

/// Cost in 1/10,000 EUR of an impression and of a click, per marketing channel.
const COSTS: [(i32, i32); 10] = [
    (0, 0),
    (0, 0),
    (10, 10),
    (700, 700),
    (0, 0),
    (20, 2_000),
    (0, 9_000),
    (40, 3_000),
    (0, 0),
    (8_000, 8_000),
];

fn draw_chunk(
    model: &Model<'_>,
    seed: u64,
    range: std::ops::Range<usize>,
) -> Vec<Result<DrawnCustomer>> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        range.into_par_iter().map(|i| model.draw(seed, i)).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        range.map(|i| model.draw(seed, i)).collect()
    }
}

impl Population {
    /// Generates a population; identical for the same parameters and seed.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) from [`SynthParams::check`].
    ///
    /// ```
    /// use custinsight::synth::{Population, SynthParams};
    ///
    /// let pop = Population::generate(&SynthParams::with_customers(200).with_seed(42))?;
    /// assert_eq!(pop.base.n_customers(), 200);
    /// assert_eq!(pop.truth.persona.len(), 200);
    /// # Ok::<(), custinsight::Error>(())
    /// ```
    pub fn generate(params: &SynthParams) -> Result<Population> {
        let seed = params.seed;
        let model = Model::new(params)?;
        let n = params.n_customers;
        let mut builder = CustomerBaseBuilder::with_capacity(n, 0, 0);
        let eur = builder.currency_code(Currency::EUR)?;
        let mut channel_codes = Vec::with_capacity(12);
        for c in 0..12u8 {
            channel_codes.push(builder.channel_code(&channel_of(c))?);
        }
        let mut kind_codes = Vec::with_capacity(KINDS.len());
        for k in &KINDS {
            kind_codes.push(builder.kind_code(k)?);
        }
        let mut topic_codes = Vec::with_capacity(TOPICS.len());
        for t in TOPICS {
            topic_codes.push(builder.topic_code(t)?);
        }
        // One campaign per outbound channel and quarter, registered up front so codes are fixed;
        // each message within it is made for the stage its recipient was targeted as.
        let quarters = (params.observation_weeks / 13.0).ceil().max(1.0) as usize;
        let mut campaign_codes = vec![Vec::new(); MARKETING_CHANNELS.len()];
        for (c, codes) in campaign_codes.iter_mut().enumerate().skip(2) {
            for q in 0..quarters {
                codes.push(builder.campaign_code(&format!(
                    "{}_q{}",
                    MARKETING_CHANNELS[c].as_str(),
                    q + 1
                ))?);
            }
        }
        let truth = Truth {
            persona_names: params.personas.iter().map(|p| p.name.clone()).collect(),
            persona: Vec::with_capacity(n),
            purchase_rate: Vec::with_capacity(n),
            dropout_probability: Vec::with_capacity(n),
            alive_at_end: Vec::with_capacity(n),
            mean_spend: Vec::with_capacity(n),
            first_purchase_week: Vec::with_capacity(n),
            next_purchase_week: Vec::with_capacity(n),
            purchases_in_observation: Vec::with_capacity(n),
            last_purchase_week: Vec::with_capacity(n),
            journey_stages: StageTimeline::with_capacity(n, 8 * n),
            purchases: params.purchases,
            spend: params.spend,
            journeys: params.journeys.clone(),
            journey_persona_log_odds: params.personas.iter().map(|p| p.journey_log_odds).collect(),
            journey_counts: JourneyCounts::default(),
            placed_journeys: Vec::with_capacity(n * 4),
            experiment_baseline: params
                .personas
                .iter()
                .map(|p| p.experiment_baseline)
                .collect(),
            experiment_lift: params.personas.iter().map(|p| p.experiment_lift).collect(),
            treatment_effect: Vec::with_capacity(n),
            source_record_customer: Vec::with_capacity(n + n / 5),
        };
        let mut asm = Assembler {
            builder,
            truth,
            source_records: Vec::with_capacity(n + n / 5),
            units: Vec::with_capacity(n),
            eur,
            channel_codes,
            kind_codes,
            topic_codes,
            campaign_codes,
            next_order: 0,
            order_id: String::with_capacity(24),
        };

        // Draw chunk k + 1 (in parallel) while chunk k is appended, in order.
        const CHUNK: usize = 1 << 14;
        let ranges: Vec<_> = (0..n)
            .step_by(CHUNK)
            .map(|s| s..(s + CHUNK).min(n))
            .collect();
        let mut pending = match ranges.first() {
            Some(r) => draw_chunk(&model, seed, r.clone()),
            None => Vec::new(),
        };
        for k in 0..ranges.len() {
            let next = ranges.get(k + 1).cloned();
            let append = |asm: &mut Assembler, drawn: Vec<Result<DrawnCustomer>>| -> Result<()> {
                for d in drawn {
                    asm.push(&model, d?)?;
                }
                Ok(())
            };
            let drawn = std::mem::take(&mut pending);
            #[cfg(feature = "parallel")]
            let (appended, upcoming) = rayon::join(
                || append(&mut asm, drawn),
                || next.map(|r| draw_chunk(&model, seed, r)),
            );
            #[cfg(not(feature = "parallel"))]
            let (appended, upcoming) = (
                append(&mut asm, drawn),
                next.map(|r| draw_chunk(&model, seed, r)),
            );
            appended?;
            pending = upcoming.unwrap_or_default();
            if k == 0 {
                // Size the columns once from the first chunk instead of doubling repeatedly.
                let done = asm.units.len().max(1);
                let scale = |x: usize| x / done * n + x % done * n / done + n / 64;
                let (tx, tp) = (asm.builder.n_transactions(), asm.builder.n_touchpoints());
                asm.builder.reserve(
                    0,
                    scale(tx).saturating_sub(tx),
                    scale(tp).saturating_sub(tp),
                );
            }
        }
        let base = asm.builder.build()?;
        Ok(Population {
            params: params.clone(),
            base,
            observation_start: model.timestamp(0.0),
            observation_end: model.timestamp(params.observation_weeks),
            source_records: asm.source_records,
            experiment: Experiment {
                key: "checkout_redesign".into(),
                units: asm.units,
            },
            truth: asm.truth,
            record_index: std::sync::OnceLock::new(),
        })
    }
}
