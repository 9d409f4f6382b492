//! Drawing one customer: identity, purchases, journeys and experiment outcome from the model's distributions.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma, Poisson, WeightedIndex};

use super::journeys::{Placed, Purchase, journeys_until_conversion};
use crate::error::{Error, Result};
use crate::records::{
    Channel, Consent, Customer, CustomerId, Gender, Pii, Profile, Purpose, SourceRecord,
};
use crate::store::encode_customer;
use crate::synth::dirty::{CleanIdentity, SourceCustomerRecord};
use crate::synth::names::{CULTURES, EMAIL_DOMAINS, email_local};
use crate::synth::params::{PURCHASE_CHANNELS, SynthParams, individual_effect};
use crate::synth::stages::{INACTIVE, LAST_ACTION, NOT_ACTION, StageInputs, timeline};
use crate::synth::{ExperimentUnit, JourneyCounts, TrueJourney};

use super::{
    CALL_CENTER, CLICK, COMPLAINT, DAY_WEEKS, DIRECT_MAIL, EMAIL, IMPRESSION, NO_TOPIC, PURCHASE,
    PUSH, REFERRAL, REVIEW_WRITTEN, SMS, STORE, SUPPORT, TOPICS, UNSUBSCRIBE, WEEK_US,
};

#[derive(Clone, Copy)]
pub(super) struct DrawnTouchpoint {
    pub(super) week: f64,
    pub(super) cost_units: i32,
    pub(super) channel: u8,
    pub(super) kind: u8,
    pub(super) topic: u8,
    /// The latent stage an action moves the person to ([`NOT_ACTION`] otherwise), flagged [`LAST_ACTION`].
    pub(super) stage: u8,
    /// The stage a message's content is made for ([`INACTIVE`]: not a message).
    pub(super) content: u8,
}

impl DrawnTouchpoint {
    /// A touchpoint that is neither an action in an episode nor a message.
    pub(super) fn plain(week: f64, channel: u8, kind: u8, topic: u8) -> Self {
        DrawnTouchpoint {
            week,
            cost_units: 0,
            channel,
            kind,
            topic,
            stage: NOT_ACTION,
            content: INACTIVE,
        }
    }
}

pub(super) struct DrawnCustomer {
    /// The customer's id and record, encoded here (on the drawing threads)
    /// rather than by the single thread that appends customers in order.
    pub(super) id: CustomerId,
    pub(super) record: Vec<u8>,
    pub(super) persona: u8,
    pub(super) lambda: f64,
    /// The true absolute effect of the experiment's treatment on conversion.
    pub(super) treatment_effect: f64,
    pub(super) dropout: f64,
    pub(super) alive: bool,
    pub(super) mean_spend: f64,
    pub(super) join_week: f64,
    /// The first purchase after the observation end, if the customer is alive to make one.
    pub(super) next_purchase_week: Option<f64>,
    /// Latent journey stage changes (µs, stage code).
    pub(super) stage_changes: Vec<(i64, u8)>,
    /// (week, amount units, channel code)
    pub(super) transactions: Vec<(f64, i64, u8)>,
    pub(super) touchpoints: Vec<DrawnTouchpoint>,
    pub(super) journey_counts: JourneyCounts,
    pub(super) journeys: Vec<TrueJourney>,
    pub(super) sources: Vec<SourceCustomerRecord>,
    pub(super) unit: ExperimentUnit,
}

/// Distributions built once from the parameters.
pub(super) struct Model<'a> {
    pub(super) params: &'a SynthParams,
    start_us: i64,
    persona: WeightedIndex<f64>,
    culture: Vec<WeightedIndex<f64>>,
    purchase_channel: Vec<WeightedIndex<f64>>,
    /// Per persona, the marketing-channel choice for each consent state (see [`ChannelPicks`]).
    channel_picks: Vec<ChannelPicks>,
    /// Per persona, how deep a consideration episode goes (need, research, decision).
    pub(super) depth: Vec<WeightedIndex<f64>>,
    rate: Gamma<f64>,
    dropout: Beta<f64>,
    nu: Gamma<f64>,
    pub(super) extra_touchpoints: Option<Poisson<f64>>,
    /// Latent stage process, in weeks: an episode's lapse, adoption's length, advocacy's
    /// length and the gap between an advocate's referrals.
    lapse: Exp<f64>,
    adoption_length: Gamma<f64>,
    advocacy_length: Exp<f64>,
    referral_gap: Exp<f64>,
}

/// A persona's marketing-channel choice under each of the eight consent
/// states (e-mail, mobile, mail allowed or not), built once: building a
/// [`WeightedIndex`] allocates, and three were built per customer before.
/// `None` where no channel is allowed.
struct ChannelPicks([Option<WeightedIndex<f64>>; 8]);

impl ChannelPicks {
    fn new(channel_weights: &[f64]) -> Self {
        ChannelPicks(std::array::from_fn(|state| {
            let allowed = |c: usize| match c {
                EMAIL => state & 1 != 0,
                SMS | PUSH => state & 2 != 0,
                DIRECT_MAIL => state & 4 != 0,
                _ => true,
            };
            let weights = channel_weights
                .iter()
                .enumerate()
                .map(|(c, &w)| if allowed(c) { w } else { 0.0 });
            WeightedIndex::new(weights).ok()
        }))
    }

    /// The choice among the channels allowed.
    fn get(&self, email: bool, mobile: bool, mail: bool) -> Option<&WeightedIndex<f64>> {
        self.0[usize::from(email) | usize::from(mobile) << 1 | usize::from(mail) << 2].as_ref()
    }
}

fn dist_err(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::param(
        what,
        e,
        "distribution cannot be built from these parameters",
    )
}

impl<'a> Model<'a> {
    pub(super) fn new(params: &'a SynthParams) -> Result<Self> {
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
        let channel_picks = params
            .personas
            .iter()
            .map(|p| ChannelPicks::new(&p.channel_weights))
            .collect();
        let depth = params
            .personas
            .iter()
            .map(|p| {
                WeightedIndex::new(p.episode_depth_weights)
                    .map_err(|e| dist_err("personas.episode_depth_weights", e))
            })
            .collect::<Result<_>>()?;
        let b = &params.purchases;
        let s = &params.spend;
        let extra = params.journeys.mean_extra_touchpoints;
        let st = &params.stages;
        let per_week = |days: f64| 7.0 / days;
        Ok(Model {
            params,
            start_us: start.as_microsecond(),
            persona,
            culture,
            purchase_channel,
            channel_picks,
            depth,
            rate: Gamma::new(b.r, 1.0 / b.alpha).map_err(|e| dist_err("purchases", e))?,
            dropout: Beta::new(b.a, b.b).map_err(|e| dist_err("purchases", e))?,
            nu: Gamma::new(s.q, 1.0 / s.gamma).map_err(|e| dist_err("spend", e))?,
            extra_touchpoints: if extra > 0.0 {
                Some(Poisson::new(extra).map_err(|e| dist_err("journeys", e))?)
            } else {
                None
            },
            lapse: Exp::new(per_week(st.lapse_days)).map_err(|e| dist_err("stages", e))?,
            adoption_length: Gamma::new(4.0, st.adoption_days * DAY_WEEKS / 4.0)
                .map_err(|e| dist_err("stages", e))?,
            advocacy_length: Exp::new(per_week(st.advocacy_days))
                .map_err(|e| dist_err("stages", e))?,
            referral_gap: Exp::new(per_week(st.referral_days))
                .map_err(|e| dist_err("stages", e))?,
        })
    }

    pub(super) fn week_to_us(&self, week: f64) -> i64 {
        // Whole seconds: source systems rarely record more.
        let us = self.start_us as f64 + week * WEEK_US;
        (us / 1e6).floor() as i64 * 1_000_000
    }

    pub(super) fn timestamp(&self, week: f64) -> Timestamp {
        crate::store::from_micros(self.week_to_us(week))
    }

    pub(super) fn draw(&self, seed: u64, index: usize) -> Result<DrawnCustomer> {
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

        // When they first buy: in the acquisition window, recently, or (prospects) after the
        // observation end; they sign up (and give consent) at the first purchase, prospects when
        // their journeys towards it may start.
        let category: f64 = rng.r#gen();
        let v: f64 = rng.r#gen();
        let prospect = category < params.prospect_share;
        let recent = !prospect
            && category
                < params.prospect_share + (1.0 - params.prospect_share) * params.recent_share;
        let join_week = if prospect {
            obs_end - params.prospect_mean_weeks * (1.0 - v).ln()
        } else if recent {
            obs_end - v * params.recent_weeks
        } else {
            v * params.acquisition_weeks
        };
        let signup_week = if prospect {
            (join_week - params.journeys.prospect_weeks).clamp(0.0, obs_end)
        } else {
            join_week
        };
        let joined = self.timestamp(signup_week);
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
            .then(|| signup_week + rng.r#gen::<f64>() * (obs_end - signup_week));
        // Sized once the purchases are known (see below).
        let mut touchpoints = Vec::new();
        if let Some(w) = unsubscribe_week {
            consent.withdraw(Some(Channel::Email), Purpose::Marketing, self.timestamp(w));
            if params.touchpoints {
                touchpoints.push(DrawnTouchpoint::plain(
                    w,
                    EMAIL as u8,
                    UNSUBSCRIBE,
                    NO_TOPIC,
                ));
            }
        }

        // BG/NBD purchases: first at join; dropout only after repeat purchases.
        let lambda = self.rate.sample(&mut rng).max(1e-12);
        let dropout = self.dropout.sample(&mut rng);
        let nu = self.nu.sample(&mut rng).max(1e-12);
        let spend = Gamma::new(params.spend.p, 1.0 / nu).map_err(|e| dist_err("spend", e))?;
        let gap = Exp::new(lambda).map_err(|e| dist_err("purchases", e))?;
        // The weeks first, then each purchase's amount and channel (the draws'
        // order), in one vector: (week, amount units, channel code).
        let mut transactions: Vec<(f64, i64, u8)> = Vec::with_capacity(32);
        transactions.push((join_week, 0, 0));
        let mut t = join_week;
        let mut alive = true;
        // A prospect's first purchase is already after the observation.
        let mut next_purchase_week = prospect.then_some(join_week);
        if !prospect {
            loop {
                t += gap.sample(&mut rng);
                if t > obs_end {
                    next_purchase_week = Some(t);
                    break;
                }
                transactions.push((t, 0, 0));
                if rng.gen_bool(dropout) {
                    alive = false;
                    break;
                }
            }
        }
        for (_, units, channel) in &mut transactions {
            let amount = spend.sample(&mut rng).max(0.01);
            *units = ((amount * 100.0).round() as i64).max(1) * 100;
            *channel = match PURCHASE_CHANNELS[self.purchase_channel[persona_code].sample(&mut rng)]
            {
                Channel::App => 1,
                Channel::Store => STORE,
                Channel::CallCenter => CALL_CENTER,
                _ => 0,
            };
        }

        // Journeys, after-sales contacts and advocacy.
        let mut placed = Placed {
            customer: index as u32,
            counts: JourneyCounts::default(),
            journeys: Vec::new(),
            scratch: Vec::new(),
            spans: Vec::new(),
        };
        let mut advocacy: Vec<(f64, f64)> = Vec::new();
        let topic_bias = (persona_code % TOPICS.len()) as u8;
        if params.touchpoints {
            // Room for the usual few journeys per purchase up front: growing
            // these vectors a step at a time was a good part of the drawing's
            // time (allocator calls and copies).
            touchpoints.reserve(8 * transactions.len() + 8);
            placed.journeys.reserve(4 * transactions.len());
            placed.scratch.reserve(64);
            placed.spans.reserve(16);
            let mut previous = (join_week - params.journeys.prospect_weeks).max(0.0);
            // Channel choice depends on consent: none before sign-up (the first purchase's journeys
            // precede it), then as granted at sign-up, changing at most once (unsubscribe).
            let picks = &self.channel_picks[persona_code];
            let pick_prospect = picks.get(false, false, false);
            let pick_subscribed = picks.get(email_ok, mobile_ok, mail_ok);
            let pick_unsubscribed = unsubscribe_week.and(picks.get(false, mobile_ok, mail_ok));
            for (k, &(week, _, channel)) in transactions.iter().enumerate() {
                let observed = week <= obs_end;
                if channel <= 1 {
                    let pick = match unsubscribe_week {
                        _ if k == 0 => pick_prospect,
                        Some(u) if week >= u => pick_unsubscribed,
                        _ => pick_subscribed,
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
                            log_odds: persona.journey_log_odds,
                            persona: persona_code,
                            observed_until: obs_end,
                        },
                        &mut touchpoints,
                        &mut placed,
                    );
                } else if observed {
                    touchpoints.push(DrawnTouchpoint::plain(week, channel, PURCHASE, topic_bias));
                }
                if !observed {
                    // A prospect's first purchase, after the observation: nothing follows it here.
                    continue;
                }
                for (kind, p, ch) in [(COMPLAINT, 0.02, CALL_CENTER), (SUPPORT, 0.04, CALL_CENTER)]
                {
                    if rng.gen_bool(p) {
                        let w = week + rng.r#gen::<f64>() * 3.0 * DAY_WEEKS;
                        if w <= obs_end {
                            touchpoints.push(DrawnTouchpoint::plain(w, ch, kind, topic_bias));
                        }
                    }
                }
                // Advocacy: a review at once, referrals while it lasts.
                if rng.gen_bool(persona.advocacy_probability) {
                    let from = week + rng.r#gen::<f64>() * 3.0 * DAY_WEEKS;
                    let until = from + self.advocacy_length.sample(&mut rng);
                    advocacy.push((from, until));
                    if from <= obs_end {
                        touchpoints.push(DrawnTouchpoint::plain(
                            from,
                            0,
                            REVIEW_WRITTEN,
                            topic_bias,
                        ));
                    }
                    let mut r = from;
                    loop {
                        r += self.referral_gap.sample(&mut rng);
                        if r >= until || r > obs_end {
                            break;
                        }
                        touchpoints.push(DrawnTouchpoint::plain(r, 0, REFERRAL, topic_bias));
                    }
                }
                previous = week;
            }
            touchpoints.sort_unstable_by(|a, b| a.week.total_cmp(&b.week));
        }
        transactions.retain(|&(week, _, _)| week <= obs_end);

        // The latent journey stage over time, and what each message was made for.
        let actions: Vec<(f64, u8)> = touchpoints
            .iter()
            .filter(|tp| tp.stage != NOT_ACTION)
            .map(|tp| (tp.week, tp.stage))
            .collect();
        let lapses: Vec<f64> = actions
            .iter()
            .filter(|a| a.1 & LAST_ACTION != 0)
            .map(|_| self.lapse.sample(&mut rng))
            .collect();
        let first_purchase = transactions.first().map(|t| t.0);
        let adoption_end = join_week + self.adoption_length.sample(&mut rng);
        let adoption_end = transactions
            .get(1)
            .map_or(adoption_end, |t| t.0.min(adoption_end));
        let mut stage_changes = Vec::new();
        timeline(
            &StageInputs {
                touches: &actions,
                lapses: &lapses,
                first_purchase,
                adoption_end,
                dropout: (!alive).then(|| transactions.last().map_or(join_week, |t| t.0)),
                advocacy: &advocacy,
                end: obs_end,
            },
            |w| self.week_to_us(w),
            &mut stage_changes,
            &mut Vec::new(),
        );
        let accuracy = params.stages.targeting_accuracy;
        for tp in &mut touchpoints {
            if !(matches!(tp.kind, IMPRESSION | CLICK) && tp.channel >= EMAIL as u8) {
                continue;
            }
            let t = self.week_to_us(tp.week);
            let k = stage_changes.partition_point(|&(x, _)| x < t);
            // An inactive person is reached by awareness (need) content when targeted well.
            let fits = match k.checked_sub(1).map(|i| stage_changes[i].1) {
                Some(s) if s != INACTIVE => s,
                _ => 0,
            };
            tp.content = if rng.gen_bool(accuracy) {
                fits
            } else {
                let other = rng.gen_range(0..5u8);
                if other >= fits { other + 1 } else { other }
            };
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

        // Experiment: conversion lift by persona and purchase history; pre-period
        // revenue shares the customer's spend level.
        let treatment = rng.gen_bool(params.treatment_share);
        let observed = transactions.iter().filter(|t| t.0 <= obs_end);
        let (purchases, last_week) = observed.fold((0, f64::NAN), |(n, _), t| (n + 1, t.0));
        let effect = individual_effect(params, persona.experiment_lift, purchases, last_week);
        let p_convert =
            (persona.experiment_baseline + if treatment { effect } else { 0.0 }).clamp(0.0, 1.0);
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
        let mut record = Vec::with_capacity(256);
        encode_customer(&mut record, &customer);
        Ok(DrawnCustomer {
            id,
            record,
            persona: persona_code as u8,
            lambda,
            treatment_effect: effect,
            dropout,
            alive,
            mean_spend: params.spend.p / nu,
            join_week,
            next_purchase_week,
            stage_changes,
            transactions,
            touchpoints,
            journey_counts: placed.counts,
            journeys: placed.journeys,
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
