//! Parameter recovery: simulate customers from known BG/NBD parameters, fit, compare.

use custinsight::lifecycle::btyd::BgNbdParams;
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
        t.add((r.len() - 1) as f64, (last - first) / week_us, (end - first) / week_us, 1.0);
    }
    t
}

#[test]
fn bgnbd_recovers_known_parameters_within_5_percent() {
    let mut params = SynthParams::with_customers(100_000);
    params.touchpoints = false;
    params.duplicate_share = 0.0;
    let pop = Population::generate(&params, 11).unwrap();
    let model = BgNbdParams::default().fit(&continuous_triples(&pop)).unwrap();
    assert!(model.report.converged);
    let truth = params.purchases;
    for (name, got, want) in
        [("r", model.r, truth.r), ("alpha", model.alpha, truth.alpha), ("a", model.a, truth.a), ("b", model.b, truth.b)]
    {
        let error = (got - want).abs() / want;
        assert!(error < 0.05, "{name}: fitted {got:.4}, truth {want}, relative error {error:.3}");
    }
    // The reported standard errors are consistent with the distance to the truth.
    let se = model.report.standard_errors.clone().expect("positive-definite information");
    for (k, (got, want)) in model.params().iter().zip([truth.r, truth.alpha, truth.a, truth.b]).enumerate() {
        assert!((got - want).abs() < 5.0 * se[k], "parameter {k}: {got} vs {want}, se {}", se[k]);
    }
}

#[test]
fn nobody_repeating_is_not_identifiable() {
    let mut t = Triples::default();
    t.add(0.0, 0.0, 10.0, 5.0);
    t.add(0.0, 0.0, 20.0, 3.0);
    let err = BgNbdParams::default().fit(&t).unwrap_err();
    assert!(matches!(err, custinsight::Error::NotIdentifiable { .. }), "{err}");
    assert!(BgNbdParams::default().fit(&Triples::default()).is_err());
    let mut bad = Triples::default();
    bad.add(2.0, 12.0, 10.0, 1.0);
    assert!(matches!(BgNbdParams::default().fit(&bad).unwrap_err(), custinsight::Error::InvalidInput(_)));
    let params = BgNbdParams { penalizer: -1.0, ..BgNbdParams::default() };
    assert!(matches!(params.fit(&t).unwrap_err(), custinsight::Error::InvalidParameter { .. }));
}
