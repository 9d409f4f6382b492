//! BTYD fitting and scoring (with customer value) on a million customers.
//!
//! `cargo bench --bench lifecycle`. The population is drawn from BG/NBD with
//! the CDNOW parameters (r = 0.243, α = 4.414, a = 0.793, b = 2.426), first
//! purchases in weeks 0–12 of a 39-week window, times rounded to days (as the
//! CDNOW summaries), like the lifetimes comparison in BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use custinsight::lifecycle::bgnbd::BgNbdParams;
use custinsight::lifecycle::btyd::BtydModel;
use custinsight::lifecycle::gamma_gamma::{ClvParams, GammaGammaParams};
use custinsight::lifecycle::summary::{Period, Summary};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

fn cdnow_like(n: usize) -> Summary {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let rate = Gamma::new(0.243, 1.0 / 4.414).expect("valid");
    let dropout = Beta::new(0.793, 2.426).expect("valid");
    let day = |w: f64| (w * 7.0).round() / 7.0;
    let mut s = Summary {
        period: Period::Week,
        observation_end: jiff::civil::date(1997, 9, 30),
        customer_ids: Vec::with_capacity(n),
        x: Vec::with_capacity(n),
        t_x: Vec::with_capacity(n),
        t_cal: Vec::with_capacity(n),
        monetary_value: vec![0.0; n],
        excluded_after_end: 0,
    };
    for i in 0..n {
        let lambda: f64 = Distribution::<f64>::sample(&rate, &mut rng).max(1e-12);
        let p: f64 = dropout.sample(&mut rng);
        let t_cal = 39.0 - 12.0 * rng.r#gen::<f64>();
        let gap = Exp::new(lambda).expect("positive");
        let (mut t, mut x, mut last) = (0.0, 0u32, 0.0);
        loop {
            t += gap.sample(&mut rng);
            if t > t_cal {
                break;
            }
            x += 1;
            last = t;
            if rng.gen_bool(p) {
                break;
            }
        }
        let t_cal = day(t_cal);
        s.customer_ids.push(format!("C{i:07}"));
        s.x.push(f64::from(x));
        s.t_x.push(day(last).min(t_cal));
        s.t_cal.push(t_cal);
        // Gamma–Gamma spend (p = 6.25, q = 3.74, γ = 15.44): the mean of x repeat purchases.
        if x > 0 {
            let nu: f64 = Gamma::new(3.74, 1.0 / 15.44)
                .expect("valid")
                .sample(&mut rng);
            let xf = f64::from(x);
            s.monetary_value[i] = Gamma::new(6.25 * xf, 1.0 / (nu * xf))
                .expect("valid")
                .sample(&mut rng);
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let summary = cdnow_like(1_000_000);
    let mut g = c.benchmark_group("bgnbd_1m");
    g.sample_size(10);
    g.bench_function("fit_from_summary", |b| {
        b.iter(|| {
            BgNbdParams::default()
                .fit(&summary.triples())
                .expect("fits")
        })
    });
    let model = BgNbdParams::default()
        .fit(&summary.triples())
        .expect("fits");
    g.bench_function("score_p_alive_expected_purchases", |b| {
        b.iter(|| model.score(&summary, 10.0))
    });
    // Twelve months of 4.345 weeks at 1 % a month, as lifetimes' freq = "W".
    let spend = GammaGammaParams::default().fit(&summary).expect("fits");
    let clv = ClvParams {
        horizon: 12.0 * 4.345,
        step: 4.345,
        discount_rate: 0.01,
        margin: 1.0,
    };
    g.bench_function("score_p_alive_expected_purchases_clv", |b| {
        b.iter(|| model.score_with_clv(&summary, 10.0, &spend, &clv))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
