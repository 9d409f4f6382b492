//! Parameter recovery: simulate customers from known parameters, fit, compare.

mod common;

use custinsight::lifecycle::bgnbd::BgNbdParams;
use custinsight::lifecycle::btyd::BtydModel;
use custinsight::lifecycle::mbgnbd::MbgNbdParams;
use custinsight::lifecycle::paretonbd::ParetoNbdParams;
use custinsight::lifecycle::summary::Triples;
use custinsight::synth::{Population, SynthParams};

/// Continuous-time (x, t_x, T) in weeks from the synthetic transactions: the model's
/// own time scale, so recovery tests the fit rather than period rounding (calendar
/// periods merge same-period purchases, which biases rates by a few percent).
fn continuous_triples(pop: &Population) -> Triples {
    let base = &pop.base;
    let week_us = 7.0 * 86_400.0 * 1e6;
    let end = pop.observation_end.as_microsecond() as f64;
    let times = base.tx_time_micros();
    let mut t = Triples::default();
    for c in base.customer_indices() {
        let r = base.transaction_range(c);
        if r.is_empty() {
            continue;
        }
        let first = times[r.start] as f64;
        let last = times[r.end - 1] as f64;
        t.add(
            (r.len() - 1) as f64,
            (last - first) / week_us,
            (end - first) / week_us,
            1.0,
        );
    }
    t
}

#[test]
fn bgnbd_recovers_known_parameters_within_5_percent() {
    let mut params = SynthParams::with_customers(100_000);
    params.touchpoints = false;
    params.duplicate_share = 0.0;
    let pop = Population::generate(&params.clone().with_seed(11)).unwrap();
    let model = BgNbdParams::default()
        .fit(&continuous_triples(&pop))
        .unwrap();
    assert!(model.report.converged);
    let truth = params.purchases;
    for (name, got, want) in [
        ("r", model.r, truth.r),
        ("alpha", model.alpha, truth.alpha),
        ("a", model.a, truth.a),
        ("b", model.b, truth.b),
    ] {
        let error = (got - want).abs() / want;
        assert!(
            error < 0.05,
            "{name}: fitted {got:.4}, truth {want}, relative error {error:.3}"
        );
    }
    // The reported standard errors are consistent with the distance to the truth.
    let se = model
        .report
        .standard_errors
        .clone()
        .expect("positive-definite information");
    for (k, (got, want)) in model
        .params()
        .iter()
        .zip([truth.r, truth.alpha, truth.a, truth.b])
        .enumerate()
    {
        assert!(
            (got - want).abs() < 5.0 * se[k],
            "parameter {k}: {got} vs {want}, se {}",
            se[k]
        );
    }
}

/// Each fitted parameter within 5 % of the truth and within 5 standard errors of it.
fn assert_recovered(
    model: &str,
    fitted: [f64; 4],
    se: Option<Vec<f64>>,
    truth: [f64; 4],
    names: [&str; 4],
) {
    let se = se.unwrap_or_else(|| panic!("{model}: positive-definite information"));
    for k in 0..4 {
        let (got, want) = (fitted[k], truth[k]);
        let error = (got - want).abs() / want;
        assert!(
            error < 0.05,
            "{model} {}: fitted {got:.4}, truth {want}, relative error {error:.3}",
            names[k]
        );
        assert!(
            (got - want).abs() < 5.0 * se[k],
            "{model} {}: {got} vs {want}, se {}",
            names[k],
            se[k]
        );
    }
}

#[test]
fn mbgnbd_recovers_known_parameters_within_5_percent() {
    use common::Process;
    let (r, alpha, a, b) = (0.6, 5.0, 0.9, 3.0);
    let histories = common::simulate(Process::MbgNbd { r, alpha, a, b }, 100_000, 26.0, 104.0, 21);
    let model = MbgNbdParams::default()
        .fit(&common::triples(&histories))
        .unwrap();
    assert!(model.report.converged);
    assert_recovered(
        "MBG/NBD",
        model.params(),
        model.report.standard_errors.clone(),
        [r, alpha, a, b],
        ["r", "alpha", "a", "b"],
    );
}

#[test]
fn paretonbd_recovers_known_parameters_within_5_percent() {
    use common::Process;
    // Close to the CDNOW estimates (Schmittlein et al.; Fader, Hardie & Lee 2005), longer windows.
    let (r, alpha, s, beta) = (0.55, 10.5, 0.6, 12.0);
    let histories = common::simulate(
        Process::ParetoNbd { r, alpha, s, beta },
        100_000,
        52.0,
        156.0,
        23,
    );
    let model = ParetoNbdParams::default()
        .fit(&common::triples(&histories))
        .unwrap();
    assert!(model.report.converged);
    assert_recovered(
        "Pareto/NBD",
        model.params(),
        model.report.standard_errors.clone(),
        [r, alpha, s, beta],
        ["r", "alpha", "s", "beta"],
    );
}

#[test]
fn nobody_repeating_is_not_identifiable() {
    let mut t = Triples::default();
    t.add(0.0, 0.0, 10.0, 5.0);
    t.add(0.0, 0.0, 20.0, 3.0);
    let err = BgNbdParams::default().fit(&t).unwrap_err();
    assert!(
        matches!(err, custinsight::Error::NotIdentifiable { .. }),
        "{err}"
    );
    assert!(matches!(
        BgNbdParams::default().fit(&Triples::default()),
        Err(custinsight::Error::NotIdentifiable {
            model: "BG/NBD",
            ..
        })
    ));
    let mut bad = Triples::default();
    bad.add(2.0, 12.0, 10.0, 1.0);
    assert!(matches!(
        BgNbdParams::default().fit(&bad).unwrap_err(),
        custinsight::Error::InvalidValue { .. }
    ));
    let params = BgNbdParams {
        penalizer: -1.0,
        ..BgNbdParams::default()
    };
    assert!(matches!(
        params.fit(&t).unwrap_err(),
        custinsight::Error::InvalidParameter { .. }
    ));
}

/// The fitted model describes the data it was fitted on (customers by repeat
/// purchases) and predicts the holdout (mean holdout purchases by calibration frequency).
#[test]
fn fitted_bgnbd_matches_frequencies_and_predicts_the_holdout() {
    use custinsight::lifecycle::diagnostics::{frequency_fit, holdout_fit};
    use custinsight::lifecycle::summary::{CalibrationHoldout, Period, Purchase, Summary};

    let mut params = SynthParams::with_customers(30_000);
    params.touchpoints = false;
    params.duplicate_share = 0.0;
    let pop = Population::generate(&params.clone().with_seed(3)).unwrap();

    // In-sample: continuous-time summaries, customers by repeat purchases.
    let triples = continuous_triples(&pop);
    let model = BgNbdParams::default().fit(&triples).unwrap();
    let summary = Summary {
        period: Period::Week,
        observation_end: jiff::civil::date(2024, 12, 30),
        customer_ids: (0..triples.len()).map(|i| i.to_string()).collect(),
        x: triples.x.clone(),
        t_x: triples.t_x.clone(),
        t_cal: triples.t_cal.clone(),
        monetary_value: vec![0.0; triples.len()],
        excluded_after_end: 0,
    };
    let bins = frequency_fit(&summary, 15, |n, t| model.prob_n_purchases(n, t));
    let total: f64 = bins.iter().map(|b| b.expected).sum();
    assert!(
        (total - summary.len() as f64).abs() < 1e-6 * total,
        "expected counts sum to the customers"
    );
    for b in &bins {
        // Poisson-scale tolerance: 5 standard deviations plus a little slack for the fit itself.
        let tolerance = 5.0 * b.expected.sqrt() + 0.02 * b.expected + 5.0;
        assert!(
            (b.actual - b.expected).abs() < tolerance,
            "x = {}: actual {} expected {:.1}",
            b.x,
            b.actual,
            b.expected
        );
    }

    // Out of sample: calibrate on the first 78 weeks (daily periods), predict the last 26.
    let base = &pop.base;
    let times = base.tx_time_micros();
    let amounts = base.tx_amount_units();
    let customers = base.tx_customer();
    let purchases: Vec<Purchase<'_>> = (0..base.n_transactions())
        .map(|i| Purchase {
            customer_id: base.customer_id(customers[i]),
            timestamp: custinsight::store::from_micros(times[i]),
            amount: amounts[i] as f64 / 1e4,
        })
        .collect();
    let start = pop
        .observation_start
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let cal_end = start.checked_add(jiff::Span::new().days(78 * 7)).unwrap();
    let obs_end = pop.observation_end.to_zoned(jiff::tz::TimeZone::UTC).date();
    let ch = CalibrationHoldout::from_purchases(
        purchases.iter().copied(),
        Period::Day,
        cal_end,
        obs_end,
    )
    .unwrap();
    let cal_model = BgNbdParams::default()
        .fit(&ch.calibration.triples())
        .unwrap();
    let table = holdout_fit(&ch, 6, |t, x, tx, tc| {
        cal_model.expected_purchases(t, x, tx, tc)
    });
    for b in table.iter().filter(|b| b.customers >= 500) {
        // Daily periods merge same-day purchases (a few percent), hence the relative slack.
        let tolerance = 0.12 * b.actual_mean.max(b.predicted_mean) + 0.05;
        assert!(
            (b.actual_mean - b.predicted_mean).abs() < tolerance,
            "calibration x = {}: holdout actual {:.3}, predicted {:.3} ({} customers)",
            b.x,
            b.actual_mean,
            b.predicted_mean,
            b.customers
        );
    }
}

/// Gamma–Gamma recovers the synthetic spend parameters (p, q, γ) from each
/// customer's repeat transactions (the first purchase left out, as the model does).
#[test]
fn gamma_gamma_recovers_known_parameters_within_5_percent() {
    use custinsight::lifecycle::gamma_gamma::GammaGammaParams;
    let mut params = SynthParams::with_customers(100_000);
    params.touchpoints = false;
    params.duplicate_share = 0.0;
    let pop = Population::generate(&params.clone().with_seed(17)).unwrap();
    let base = &pop.base;
    let amounts = base.tx_amount_units();
    let (mut x, mut m) = (Vec::new(), Vec::new());
    for c in base.customer_indices() {
        let r = base.transaction_range(c);
        if r.len() < 2 {
            continue;
        }
        let repeat: f64 = amounts[r.start + 1..r.end]
            .iter()
            .map(|&u| u as f64 / 1e4)
            .sum();
        let n = (r.len() - 1) as f64;
        x.push(n);
        m.push(repeat / n);
    }
    let model = GammaGammaParams::default().fit_values(&x, &m).unwrap();
    let truth = params.spend;
    for (name, got, want) in [
        ("p", model.p, truth.p),
        ("q", model.q, truth.q),
        ("v", model.v, truth.gamma),
    ] {
        let error = (got - want).abs() / want;
        assert!(
            error < 0.05,
            "{name}: fitted {got:.4}, truth {want}, relative error {error:.3}"
        );
    }
    assert!(
        model.spend_frequency_correlation.abs() < 0.1,
        "spend is independent of frequency by construction"
    );
}
