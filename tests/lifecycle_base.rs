//! Lifecycle and value for a whole base, aligned with it: the same numbers
//! as the summary-and-score path for the buyers, and nobody dropped.

use custinsight::lifecycle::bgnbd::BgNbdParams;
use custinsight::lifecycle::btyd::BtydModel;
use custinsight::lifecycle::customers::LifecycleParams;
use custinsight::lifecycle::gamma_gamma::GammaGammaParams;
use custinsight::lifecycle::stage::Stage;
use custinsight::lifecycle::summary::{Period, Summary};
use custinsight::prelude::*;
use custinsight::synth::{Population, SynthParams};

#[test]
fn the_whole_base_is_scored_as_the_summary_path_scores_the_buyers() {
    let pop = Population::generate(&SynthParams::with_customers(3_000).with_seed(8)).unwrap();
    let mut b = CustomerBase::builder();
    // The population, plus a prospect (a touchpoint, no purchase) and a
    // customer first seen after the as-of time.
    for t in pop.base.iter_transactions() {
        b.add_transaction(&t).unwrap();
    }
    let as_of = pop.observation_end;
    let later = as_of + jiff::SignedDuration::from_hours(48);
    b.add_touchpoint(&Touchpoint::new(
        CustomerId::new("prospect").unwrap(),
        as_of - jiff::SignedDuration::from_hours(24),
        Channel::Web,
        TouchpointKind::Visit,
    ))
    .unwrap();
    b.add_transaction(&Transaction::new(
        "late-1",
        CustomerId::new("late").unwrap(),
        later,
        Money::parse("10", Currency::EUR).unwrap(),
        Channel::Web,
    ))
    .unwrap();
    let base = b.build().unwrap();
    let params = LifecycleParams::default();
    let life = params.fit(&base, as_of).unwrap();
    assert_eq!(life.len(), base.n_customers());
    assert_eq!((life.prospects, life.not_yet_seen), (1, 1));
    let prospect = base.index_of("prospect").unwrap() as usize;
    assert_eq!(life.stage[prospect], Some(Stage::Prospect));
    assert!(life.p_alive[prospect].is_nan() && life.x[prospect].is_nan());
    let late = base.index_of("late").unwrap() as usize;
    assert_eq!(life.stage[late], None);
    assert_eq!(
        life.explain(prospect as u32).unwrap().reason,
        "no purchase yet"
    );

    // The summary path on the same purchases gives the same models and scores.
    let end = as_of.to_zoned(jiff::tz::TimeZone::UTC).date();
    let summary = Summary::from_base(&base, Period::Day, end).unwrap();
    let model = BgNbdParams::default().fit(&summary.triples()).unwrap();
    assert_eq!(model, life.models.btyd);
    let spend = GammaGammaParams::default().fit(&summary).unwrap();
    assert_eq!(Some(&spend), life.models.spend.as_ref());
    let scores = model
        .score_with_clv(&summary, params.horizon, &spend, &params.clv)
        .unwrap();
    let clv = scores.clv.as_ref().unwrap();
    for (row, id) in summary.customer_ids.iter().enumerate() {
        let c = base.index_of(id).unwrap() as usize;
        assert_eq!(life.x[c], summary.x[row]);
        assert_eq!(life.t_cal[c], summary.t_cal[row]);
        assert_eq!(life.p_alive[c], scores.p_alive[row]);
        assert_eq!(life.expected_purchases[c], scores.expected_purchases[row]);
        assert_eq!(life.clv[c], clv[row]);
        let stage = life.explain(c as u32).unwrap();
        assert_eq!(Some(stage.stage), life.stage[c]);
    }
    // The late customer's purchase is after the end: the summary leaves it out too.
    assert_eq!(summary.len() + 2, base.n_customers());
    let counts = life.stage_counts();
    assert_eq!(
        counts.iter().sum::<usize>() + life.not_yet_seen,
        base.n_customers()
    );
    // Stages and RFM cells as segments, nobody lost.
    let stages = life.stage_segments().unwrap();
    assert_eq!(stages.sizes(), counts.to_vec());
    assert_eq!(stages.left_out()[0].customers, [late as u32]);
    let rfm = life.rfm_segments().unwrap();
    assert_eq!(rfm.segmented(), summary.len());
    // Persisted models score the same.
    let json = serde_json::to_string(&life.models).unwrap();
    let models: custinsight::lifecycle::customers::LifecycleModels =
        serde_json::from_str(&json).unwrap();
    // (Compared as JSON: a prospect's missing scores are NaN, which is never equal to itself.)
    let again = models.score(&base, as_of).unwrap();
    assert!(serde_json::to_string(&again).unwrap() == serde_json::to_string(&life).unwrap());
    assert_eq!(
        format!("{} → {}", Stage::Churned, Stage::Churned.play()),
        "churned → win_back"
    );
}
