//! Drawing one customer at a time, and assembling the population.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma, Poisson, WeightedIndex};

use super::dirty::{CleanIdentity, SourceCustomerRecord};
use super::names::{CULTURES, EMAIL_DOMAINS, email_local};
use super::params::{MARKETING_CHANNELS, PURCHASE_CHANNELS, SynthParams};
use super::{Experiment, ExperimentUnit, Population, Truth};
use crate::error::{Error, Result};
use crate::records::{
    Channel, Consent, Currency, Customer, CustomerId, Gender, JourneyStage, Pii, Profile, Purpose,
    SourceRecord, TouchpointKind,
};
use crate::store::{CodedTouchpoint, CodedTransaction, CustomerBaseBuilder, NONE_U32};

const WEEK_US: f64 = 7.0 * 86_400.0 * 1e6;
const DAY_WEEKS: f64 = 1.0 / 7.0;

/// Channel table: the marketing channels, then store and call centre.
const STORE: u8 = 10;
const CALL_CENTER: u8 = 11;
const EMAIL: usize = 2;
const SMS: usize = 3;
const PUSH: usize = 4;
const SOCIAL: usize = 5;
const SEARCH_ADS: usize = 6;
const DISPLAY_ADS: usize = 7;
const AFFILIATE: usize = 8;
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

#[derive(Clone, Copy)]
struct DrawnTouchpoint {
    week: f64,
    cost_units: i32,
    channel: u8,
    kind: u8,
    topic: u8,
}

struct DrawnCustomer {
    customer: Customer,
    persona: u8,
    lambda: f64,
    dropout: f64,
    alive: bool,
    mean_spend: f64,
    join_week: f64,
    /// (week, amount units, channel code)
    transactions: Vec<(f64, i64, u8)>,
    touchpoints: Vec<DrawnTouchpoint>,
    journeys: (u64, u64),
    sources: Vec<SourceCustomerRecord>,
    unit: ExperimentUnit,
}

/// Distributions built once from the parameters.
struct Model<'a> {
    params: &'a SynthParams,
    start_us: i64,
    persona: WeightedIndex<f64>,
    culture: Vec<WeightedIndex<f64>>,
    purchase_channel: Vec<WeightedIndex<f64>>,
    rate: Gamma<f64>,
    dropout: Beta<f64>,
    nu: Gamma<f64>,
    extra_touchpoints: Option<Poisson<f64>>,
}

fn dist_err(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::param(
        what,
        e,
        "distribution cannot be built from these parameters",
    )
}

impl<'a> Model<'a> {
    fn new(params: &'a SynthParams) -> Result<Self> {
        params.check()?;
        let start = params
            .start_date
            .to_zoned(TimeZone::UTC)
            .map_err(|e| Error::param("start_date", e, "not representable"))?
            .timestamp();
        let shares: Vec<f64> = params.personas.iter().map(|p| p.share).collect();
        let persona = WeightedIndex::new(&shares).map_err(|e| dist_err("personas.share", e))?;
        let culture = params
            .personas
            .iter()
            .map(|p| {
                WeightedIndex::new(p.culture_weights)
                    .map_err(|e| dist_err("personas.culture_weights", e))
            })
            .collect::<Result<_>>()?;
        let purchase_channel = params
            .personas
            .iter()
            .map(|p| {
                WeightedIndex::new(p.purchase_channel_weights)
                    .map_err(|e| dist_err("personas.purchase_channel_weights", e))
            })
            .collect::<Result<_>>()?;
        let b = &params.purchases;
        let s = &params.spend;
        let extra = params.journeys.mean_extra_touchpoints;
        Ok(Model {
            params,
            start_us: start.as_microsecond(),
            persona,
            culture,
            purchase_channel,
            rate: Gamma::new(b.r, 1.0 / b.alpha).map_err(|e| dist_err("purchases", e))?,
            dropout: Beta::new(b.a, b.b).map_err(|e| dist_err("purchases", e))?,
            nu: Gamma::new(s.q, 1.0 / s.gamma).map_err(|e| dist_err("spend", e))?,
            extra_touchpoints: if extra > 0.0 {
                Some(Poisson::new(extra).map_err(|e| dist_err("journeys", e))?)
            } else {
                None
            },
        })
    }

    fn week_to_us(&self, week: f64) -> i64 {
        // Whole seconds: source systems rarely record more.
        let us = self.start_us as f64 + week * WEEK_US;
        (us / 1e6).floor() as i64 * 1_000_000
    }

    fn timestamp(&self, week: f64) -> Timestamp {
        crate::store::from_micros(self.week_to_us(week))
    }

    fn draw(&self, seed: u64, index: usize) -> Result<DrawnCustomer> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index as u64);
        let params = self.params;
        let obs_end = params.observation_weeks;
        let persona_code = self.persona.sample(&mut rng);
        let persona = &params.personas[persona_code];

        // Who they are.
        let culture = &CULTURES[self.culture[persona_code].sample(&mut rng)];
        let u: f64 = rng.r#gen();
        let gender = if u < 0.02 {
            Gender::NonBinary
        } else if u < 0.02 + 0.98 * persona.female_share {
            Gender::Female
        } else {
            Gender::Male
        };
        let given_list = if gender == Gender::Female {
            culture.given_female
        } else {
            culture.given_male
        };
        let given = given_list[rng.gen_range(0..given_list.len())];
        let family = culture.family[rng.gen_range(0..culture.family.len())];
        let age = rng.gen_range(persona.age_range.0..=persona.age_range.1);
        let birth = params
            .start_date
            .checked_sub(
                jiff::Span::new()
                    .years(i64::from(age))
                    .days(rng.gen_range(0..365)),
            )
            .map_err(|e| Error::param("start_date", e, "birth dates out of range"))?;
        let mut local = format!("{}.{}", email_local(given), email_local(family));
        if local.len() < 3 {
            local = format!("kunde{index}");
        }
        // Two random digits plus three from the customer's index: people
        // of the same name rarely share an address, as in real mail systems.
        let email = format!(
            "{local}{}{:03}@{}",
            rng.gen_range(1..100),
            index % 1000,
            EMAIL_DOMAINS[rng.gen_range(0..EMAIL_DOMAINS.len())]
        );
        let phone_national = format!(
            "{} {}",
            rng.gen_range(20..990),
            rng.gen_range(1_000_000..9_999_999)
        );
        let street = format!(
            "{} {}",
            culture.streets[rng.gen_range(0..culture.streets.len())],
            rng.gen_range(1..180)
        );
        let (city, prefix) = culture.cities[rng.gen_range(0..culture.cities.len())];
        let postcode = match culture.country {
            "GB" => format!(
                "{prefix} {}{}{}",
                rng.gen_range(1..10),
                rng.gen_range(b'A'..=b'Z') as char,
                rng.gen_range(b'A'..=b'Z') as char
            ),
            "JP" => format!("{prefix}-{:04}", rng.gen_range(0..10_000)),
            "CN" => format!("{prefix}{:03}", rng.gen_range(0..1000)),
            _ => format!("{prefix}{:03}", rng.gen_range(0..1000)),
        };
        let id = CustomerId::new(format!("C{:07}", index + 1))?;

        // When they join, and consent at sign-up.
        let join_week = rng.r#gen::<f64>() * params.acquisition_weeks;
        let joined = self.timestamp(join_week);
        let mut consent = Consent::new();
        let email_ok = rng.gen_bool(persona.email_opt_in);
        let mobile_ok = rng.gen_bool(persona.mobile_opt_in);
        let mail_ok = rng.gen_bool(0.6);
        for (channel, ok) in [
            (Channel::Email, email_ok),
            (Channel::Sms, mobile_ok),
            (Channel::Push, mobile_ok),
            (Channel::DirectMail, mail_ok),
        ] {
            if ok {
                consent.grant(Some(channel), Purpose::Marketing, joined);
            } else {
                consent.withdraw(Some(channel), Purpose::Marketing, joined);
            }
        }
        if rng.gen_bool(0.85) {
            consent.grant(None, Purpose::Analytics, joined);
        }
        if rng.gen_bool(0.6) {
            consent.grant(None, Purpose::Personalisation, joined);
        }
        let unsubscribe_week = (email_ok && rng.gen_bool(params.unsubscribe_rate))
            .then(|| join_week + rng.r#gen::<f64>() * (obs_end - join_week));
        let mut touchpoints = Vec::with_capacity(if params.touchpoints { 48 } else { 0 });
        if let Some(w) = unsubscribe_week {
            consent.withdraw(Some(Channel::Email), Purpose::Marketing, self.timestamp(w));
            if params.touchpoints {
                touchpoints.push(DrawnTouchpoint {
                    week: w,
                    cost_units: 0,
                    channel: EMAIL as u8,
                    kind: UNSUBSCRIBE,
                    topic: NO_TOPIC,
                });
            }
        }

        // BG/NBD purchases: first at join; dropout only after repeat purchases.
        let lambda = self.rate.sample(&mut rng).max(1e-12);
        let dropout = self.dropout.sample(&mut rng);
        let nu = self.nu.sample(&mut rng).max(1e-12);
        let spend = Gamma::new(params.spend.p, 1.0 / nu).map_err(|e| dist_err("spend", e))?;
        let gap = Exp::new(lambda).map_err(|e| dist_err("purchases", e))?;
        let mut purchase_weeks = vec![join_week];
        let mut t = join_week;
        let mut alive = true;
        loop {
            t += gap.sample(&mut rng);
            if t > obs_end {
                break;
            }
            purchase_weeks.push(t);
            if rng.gen_bool(dropout) {
                alive = false;
                break;
            }
        }
        let transactions: Vec<(f64, i64, u8)> = purchase_weeks
            .iter()
            .map(|&w| {
                let amount = spend.sample(&mut rng).max(0.01);
                let units = ((amount * 100.0).round() as i64).max(1) * 100;
                let channel =
                    match PURCHASE_CHANNELS[self.purchase_channel[persona_code].sample(&mut rng)] {
                        Channel::App => 1,
                        Channel::Store => STORE,
                        Channel::CallCenter => CALL_CENTER,
                        _ => 0,
                    };
                (w, units, channel)
            })
            .collect();

        // Journeys and other touchpoints.
        let mut journeys = (0u64, 0u64);
        if params.touchpoints {
            let topic_bias = (persona_code % TOPICS.len()) as u8;
            let mut previous = (join_week - 4.0).max(0.0);
            // Channel choice depends on consent: none before sign-up (the first purchase's journeys
            // precede it), then as granted at sign-up, changing at most once (unsubscribe).
            let weights_for = |email_allowed: bool, mobile_allowed: bool, mail_allowed: bool| {
                let allowed = |c: usize| match c {
                    EMAIL => email_allowed,
                    SMS | PUSH => mobile_allowed,
                    DIRECT_MAIL => mail_allowed,
                    _ => true,
                };
                let weights = persona
                    .channel_weights
                    .iter()
                    .enumerate()
                    .map(|(c, &w)| if allowed(c) { w } else { 0.0 });
                WeightedIndex::new(weights).ok()
            };
            let pick_prospect = weights_for(false, false, false);
            let pick_subscribed = weights_for(email_ok, mobile_ok, mail_ok);
            let pick_unsubscribed = if unsubscribe_week.is_some() {
                weights_for(false, mobile_ok, mail_ok)
            } else {
                None
            };
            for (k, &(week, _, channel)) in transactions.iter().enumerate() {
                if channel <= 1 {
                    let pick = match unsubscribe_week {
                        _ if k == 0 => pick_prospect.as_ref(),
                        Some(u) if week >= u => pick_unsubscribed.as_ref(),
                        _ => pick_subscribed.as_ref(),
                    };
                    journeys_until_conversion(
                        self,
                        &mut rng,
                        pick,
                        Purchase {
                            after: previous,
                            week,
                            channel,
                            topic_bias,
                        },
                        &mut touchpoints,
                        &mut journeys,
                    );
                } else {
                    touchpoints.push(DrawnTouchpoint {
                        week,
                        cost_units: 0,
                        channel,
                        kind: PURCHASE,
                        topic: topic_bias,
                    });
                }
                for (kind, p, ch) in [
                    (COMPLAINT, 0.02, CALL_CENTER),
                    (SUPPORT, 0.04, CALL_CENTER),
                    (REVIEW_WRITTEN, 0.03, 0),
                    (REFERRAL, 0.01, 0),
                ] {
                    if rng.gen_bool(p) {
                        let w = week + rng.r#gen::<f64>() * 3.0 * DAY_WEEKS;
                        if w <= obs_end {
                            touchpoints.push(DrawnTouchpoint {
                                week: w,
                                cost_units: 0,
                                channel: ch,
                                kind,
                                topic: topic_bias,
                            });
                        }
                    }
                }
                previous = week;
            }
            touchpoints.sort_unstable_by(|a, b| a.week.total_cmp(&b.week));
        }

        // Identity: a clean primary record and dirty copies elsewhere.
        let identity = CleanIdentity {
            given,
            family,
            email: &email,
            phone_prefix: culture.phone_prefix,
            phone_national: &phone_national,
            birth,
            street: &street,
            city,
            postcode: &postcode,
            country: culture.country,
        };
        let mut sources = vec![identity.clean_record(SourceRecord::new("webshop", id.as_str()))];
        if rng.gen_bool(params.duplicate_share) {
            let copies = 1 + usize::from(rng.gen_bool(0.3));
            for _ in 0..copies {
                let source =
                    ["loyalty", "store_pos", "call_center", "webshop"][rng.gen_range(0..4)];
                let key = format!("{}-{:08x}", &source[..2].to_uppercase(), rng.r#gen::<u32>());
                sources.push(identity.dirty_record(SourceRecord::new(source, key), &mut rng));
            }
        }

        // Experiment: conversion lift by persona; pre-period revenue shares the customer's spend level.
        let treatment = rng.gen_bool(params.treatment_share);
        let p_convert = (persona.experiment_baseline
            + if treatment {
                persona.experiment_lift
            } else {
                0.0
            })
        .clamp(0.0, 1.0);
        let converted = rng.gen_bool(p_convert);
        let revenue = if converted {
            (spend.sample(&mut rng) * 100.0).round() / 100.0
        } else {
            0.0
        };
        let pre_count = Poisson::new(lambda * 8.0)
            .map(|d| d.sample(&mut rng) as u64)
            .unwrap_or(0);
        let pre_revenue =
            ((0..pre_count).map(|_| spend.sample(&mut rng)).sum::<f64>() * 100.0).round() / 100.0;

        let profile = Profile {
            given_name: Some(Pii::new(given.to_owned())),
            family_name: Some(Pii::new(family.to_owned())),
            emails: vec![Pii::new(email.clone())],
            phones: vec![Pii::new(format!(
                "{} {}",
                culture.phone_prefix, phone_national
            ))],
            birth_date: Some(Pii::new(birth)),
            gender: Some(gender),
            address_lines: vec![Pii::new(street.clone())],
            city: Some(city.to_owned()),
            postcode: Some(Pii::new(postcode.clone())),
            country: Some(culture.country.to_owned()),
            language: Some(culture.language.to_owned()),
            attributes: Default::default(),
        };
        let mut customer = Customer::new(id.clone());
        customer.profile = profile;
        customer.consent = consent;
        customer.created_at = Some(joined);
        customer.sources = sources.iter().map(|s| s.source.clone()).collect();
        Ok(DrawnCustomer {
            customer,
            persona: persona_code as u8,
            lambda,
            dropout,
            alive,
            mean_spend: params.spend.p / nu,
            join_week,
            transactions,
            touchpoints,
            journeys,
            sources,
            unit: ExperimentUnit {
                customer: index as u32,
                treatment,
                converted,
                revenue,
                pre_revenue,
            },
        })
    }
}

/// The purchase a run of journeys leads up to.
#[derive(Debug, Clone, Copy)]
struct Purchase {
    /// Week of the previous purchase (or sign-up): journeys start after it.
    after: f64,
    /// Week of this purchase: the converting journey ends here.
    week: f64,
    /// Channel the purchase is made in.
    channel: u8,
    /// The topic the customer's journeys lean towards.
    topic_bias: u8,
}

/// Draws journeys in `(purchase.after, purchase.week]` until one converts at
/// `purchase.week`: every journey is an independent trial with
/// `P(convert) = logistic(β₀ + Σ β_c)` over its distinct channels.
fn journeys_until_conversion(
    model: &Model<'_>,
    rng: &mut ChaCha8Rng,
    pick: Option<&WeightedIndex<f64>>,
    purchase: Purchase,
    out: &mut Vec<DrawnTouchpoint>,
    counts: &mut (u64, u64),
) {
    let Purchase {
        after: from,
        week: to,
        channel: purchase_channel,
        topic_bias,
    } = purchase;
    let truth = &model.params.journeys;
    let Some(pick) = pick else {
        out.push(DrawnTouchpoint {
            week: to,
            cost_units: 0,
            channel: purchase_channel,
            kind: PURCHASE,
            topic: topic_bias,
        });
        return;
    };
    // A cap keeps the loop finite; with the default effects P(convert) >= 0.17, so it is never reached.
    for attempt in 0..500 {
        let n = 1 + model
            .extra_touchpoints
            .as_ref()
            .map_or(0, |d| d.sample(rng) as usize);
        let mut channels = [false; 10];
        let start = out.len();
        let topic = if rng.gen_bool(0.6) {
            topic_bias
        } else {
            rng.gen_range(0..TOPICS.len() as u8)
        };
        for i in 0..n {
            let c = pick.sample(rng);
            channels[c] = true;
            let outbound = c >= 2;
            let kind = if outbound {
                if rng.gen_bool(0.4) { CLICK } else { IMPRESSION }
            } else if i == 0 {
                VISIT
            } else {
                // Deeper on-site engagement: product view, compare, review, configurator, cart, inquiry.
                3 + [0u8, 0, 0, 1, 2, 2, 3, 4, 4, 5][rng.gen_range(0..10)]
            };
            let (impression_cost, click_cost) = COSTS[c];
            let cost_units = if kind == CLICK {
                click_cost
            } else if kind == IMPRESSION {
                impression_cost
            } else {
                0
            };
            out.push(DrawnTouchpoint {
                week: 0.0,
                cost_units,
                channel: c as u8,
                kind,
                topic,
            });
        }
        let logit = truth.intercept
            + channels
                .iter()
                .zip(truth.channel_effects)
                .filter(|(on, _)| **on)
                .map(|(_, e)| e)
                .sum::<f64>();
        let p = 1.0 / (1.0 + (-logit).exp());
        counts.0 += 1;
        let converted = rng.gen_bool(p.clamp(0.0, 1.0)) || attempt == 499;
        // Time the journey: converting journeys end at the purchase; others fall uniformly before it.
        // Touchpoints stay in [from, to]: spilling before the previous purchase could precede sign-up consent.
        let end = if converted {
            to
        } else {
            from + rng.r#gen::<f64>() * (to - from)
        };
        let mut w = end;
        for tp in out[start..].iter_mut().rev() {
            w -= rng.r#gen::<f64>() * 1.5 * DAY_WEEKS;
            tp.week = w.max(from).max(0.0);
        }
        if converted {
            counts.1 += 1;
            out.push(DrawnTouchpoint {
                week: to,
                cost_units: 0,
                channel: purchase_channel,
                kind: PURCHASE,
                topic,
            });
            return;
        }
    }
}

/// The journey stage a campaign's content is made for: paid display and social
/// build awareness (need), paid search and affiliates serve research; owned
/// channels (e-mail, SMS, push, mail) alternate by quarter between product-launch
/// content (research, a mismatch for existing customers) and customer content (usage).
fn campaign_content_stage(channel: usize, quarter: f64) -> Option<JourneyStage> {
    match channel {
        SOCIAL | DISPLAY_ADS => Some(JourneyStage::Need),
        SEARCH_ADS | AFFILIATE => Some(JourneyStage::Research),
        EMAIL | SMS | PUSH | DIRECT_MAIL if quarter % 2.0 == 0.0 => Some(JourneyStage::Research),
        EMAIL | SMS | PUSH | DIRECT_MAIL => Some(JourneyStage::Usage),
        _ => None,
    }
}

/// Appends drawn customers to the builder and the truth, in customer order.
struct Assembler {
    builder: CustomerBaseBuilder,
    truth: Truth,
    source_records: Vec<SourceCustomerRecord>,
    units: Vec<ExperimentUnit>,
    eur: u16,
    channel_codes: Vec<u16>,
    kind_codes: Vec<u16>,
    topic_codes: Vec<u32>,
    /// Campaign code by (marketing channel, quarter of observation).
    campaign_codes: Vec<Vec<u32>>,
    next_order: u64,
    order_id: String,
}

impl Assembler {
    fn push(&mut self, model: &Model<'_>, d: DrawnCustomer) -> Result<()> {
        let b = &mut self.builder;
        let index = b.add_customer(d.customer)?;
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
                campaign_content_stage(tp.channel as usize, (tp.week / 13.0).floor().max(0.0))
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
        t.dropout_probability.push(d.dropout);
        t.alive_at_end.push(d.alive);
        t.mean_spend.push(d.mean_spend);
        t.first_purchase_week.push(d.join_week);
        t.journey_counts.0 += d.journeys.0;
        t.journey_counts.1 += d.journeys.1;
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
    /// [`Error::InvalidParameter`] from [`SynthParams::check`].
    ///
    /// ```
    /// use custinsight::synth::{Population, SynthParams};
    ///
    /// let pop = Population::generate(&SynthParams::with_customers(200), 42)?;
    /// assert_eq!(pop.base.n_customers(), 200);
    /// assert_eq!(pop.truth.persona.len(), 200);
    /// # Ok::<(), custinsight::Error>(())
    /// ```
    pub fn generate(params: &SynthParams, seed: u64) -> Result<Population> {
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
        // One campaign per outbound channel and quarter, registered up front so codes are fixed.
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
            purchases: params.purchases,
            spend: params.spend,
            journeys: params.journeys.clone(),
            journey_counts: (0, 0),
            experiment_baseline: params
                .personas
                .iter()
                .map(|p| p.experiment_baseline)
                .collect(),
            experiment_lift: params.personas.iter().map(|p| p.experiment_lift).collect(),
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
            seed,
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
