//! Assembling drawn customers into the customer base and the truth, in customer order.

use crate::error::Result;
use crate::records::JourneyStage;
use crate::store::{CodedTouchpoint, CodedTransaction, CustomerBaseBuilder, NONE_U32};
use crate::synth::dirty::SourceCustomerRecord;
use crate::synth::{ExperimentUnit, Truth};

use super::draw::{DrawnCustomer, Model};
use super::{CLICK, IMPRESSION};

/// Appends drawn customers to the builder and the truth, in customer order.
pub(super) struct Assembler {
    pub(super) builder: CustomerBaseBuilder,
    pub(super) truth: Truth,
    pub(super) source_records: Vec<SourceCustomerRecord>,
    pub(super) units: Vec<ExperimentUnit>,
    pub(super) eur: u16,
    pub(super) channel_codes: Vec<u16>,
    pub(super) kind_codes: Vec<u16>,
    pub(super) topic_codes: Vec<u32>,
    /// Campaign code by (marketing channel, quarter of observation).
    pub(super) campaign_codes: Vec<Vec<u32>>,
    pub(super) next_order: u64,
    pub(super) order_id: String,
}

impl Assembler {
    pub(super) fn push(&mut self, model: &Model<'_>, d: DrawnCustomer) -> Result<()> {
        let b = &mut self.builder;
        let index = b.add_encoded_customer(d.id.as_str(), &d.record)?;
        for &(week, units, channel) in &d.transactions {
            self.next_order += 1;
            self.order_id.clear();
            push_order_id(&mut self.order_id, self.next_order);
            b.push_coded_transaction(CodedTransaction {
                customer: index,
                order_id: &self.order_id,
                time_us: model.week_to_us(week),
                amount_units: units,
                currency: self.eur,
                channel: self.channel_codes[channel as usize],
                is_refund: false,
            })?;
        }
        for tp in &d.touchpoints {
            let campaign = if matches!(tp.kind, IMPRESSION | CLICK) {
                let quarter = (tp.week / 13.0).floor().max(0.0) as usize;
                self.campaign_codes
                    .get(tp.channel as usize)
                    .and_then(|q| q.get(quarter).or(q.last()))
                    .copied()
                    .unwrap_or(NONE_U32)
            } else {
                NONE_U32
            };
            let topic = self
                .topic_codes
                .get(tp.topic as usize)
                .copied()
                .unwrap_or(NONE_U32);
            let cost = (tp.cost_units > 0).then(|| (i64::from(tp.cost_units), self.eur));
            let content_stage = if campaign == NONE_U32 {
                None
            } else {
                JourneyStage::ALL.get(usize::from(tp.content)).copied()
            };
            b.push_coded_touchpoint(CodedTouchpoint {
                customer: index,
                time_us: model.week_to_us(tp.week),
                channel: self.channel_codes[tp.channel as usize],
                kind: self.kind_codes[tp.kind as usize],
                campaign,
                topic,
                cost,
                content_stage,
            });
        }
        let t = &mut self.truth;
        t.persona.push(d.persona);
        t.purchase_rate.push(d.lambda);
        t.treatment_effect.push(d.treatment_effect);
        t.dropout_probability.push(d.dropout);
        t.alive_at_end.push(d.alive);
        t.mean_spend.push(d.mean_spend);
        t.first_purchase_week.push(d.join_week);
        let observed = d
            .transactions
            .iter()
            .filter(|tx| tx.0 <= model.params.observation_weeks);
        let (count, last) = observed.fold((0u32, None), |(n, _), tx| (n + 1, Some(tx.0)));
        t.purchases_in_observation.push(count);
        t.last_purchase_week.push(last);
        t.next_purchase_week.push(d.next_purchase_week);
        t.journey_stages.push_customer(&d.stage_changes);
        let c = &mut t.journey_counts;
        c.drawn += d.journey_counts.drawn;
        c.converted += d.journey_counts.converted;
        c.placed += d.journey_counts.placed;
        c.drawn_touchpoints += d.journey_counts.drawn_touchpoints;
        c.prospect_drawn += d.journey_counts.prospect_drawn;
        c.prospect_drawn_touchpoints += d.journey_counts.prospect_drawn_touchpoints;
        t.placed_journeys.extend_from_slice(&d.journeys);
        for s in d.sources {
            t.source_record_customer.push(index);
            self.source_records.push(s);
        }
        self.units.push(d.unit);
        Ok(())
    }
}

/// Writes `T` and a zero-padded 9-digit (or longer) number, without `fmt`.
fn push_order_id(out: &mut String, n: u64) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    let mut v = n;
    while v > 0 {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(digits.len() - 9);
    out.push('T');
    out.extend(digits[start..].iter().map(|&d| d as char));
}
