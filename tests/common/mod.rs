//! Simulators of the BTYD processes, for recovery and scoring tests.
//!
//! Each customer makes a first purchase at time 0 and is observed until `T`;
//! the returned triples are `(x, t_x, T)`, continuous unless rounded.

#![allow(dead_code)]

use custinsight::lifecycle::summary::{Period, Summary, Triples};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

/// Which purchase process to simulate (named as the models).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy)]
pub enum Process {
    /// BG/NBD: λ ~ Gamma(r, α); after each repeat purchase, drop out with p ~ Beta(a, b).
    BgNbd { r: f64, alpha: f64, a: f64, b: f64 },
    /// MBG/NBD: as BG/NBD, and also a drop-out chance p at time 0.
    MbgNbd { r: f64, alpha: f64, a: f64, b: f64 },
    /// Pareto/NBD: λ ~ Gamma(r, α); exponential lifetime with rate μ ~ Gamma(s, β).
    ParetoNbd {
        r: f64,
        alpha: f64,
        s: f64,
        beta: f64,
    },
}

/// `n` histories `(x, t_x, T)` with T uniform in `[t_min, t_max]`.
pub fn simulate(process: Process, n: usize, t_min: f64, t_max: f64, seed: u64) -> Vec<[f64; 3]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let gamma = |shape: f64, rate: f64| Gamma::new(shape, 1.0 / rate).unwrap();
    (0..n)
        .map(|_| {
            let t_cal = t_min + (t_max - t_min) * rng.r#gen::<f64>();
            let (lambda, p_drop, lifetime, drop_at_start) = match process {
                Process::BgNbd { r, alpha, a, b } | Process::MbgNbd { r, alpha, a, b } => {
                    let p: f64 = Beta::new(a, b).unwrap().sample(&mut rng);
                    let at_start = matches!(process, Process::MbgNbd { .. }) && rng.gen_bool(p);
                    (gamma(r, alpha).sample(&mut rng), p, f64::INFINITY, at_start)
                }
                Process::ParetoNbd { r, alpha, s, beta } => {
                    let mu: f64 = gamma(s, beta).sample(&mut rng).max(1e-300);
                    let lifetime = Exp::new(mu).unwrap().sample(&mut rng);
                    (gamma(r, alpha).sample(&mut rng), 0.0, lifetime, false)
                }
            };
            let (mut t, mut x, mut last) = (0.0, 0.0, 0.0);
            if !drop_at_start && lambda > 0.0 {
                let gap = Exp::new(lambda).unwrap();
                let end = t_cal.min(lifetime);
                loop {
                    t += gap.sample(&mut rng);
                    if t > end {
                        break;
                    }
                    x += 1.0;
                    last = t;
                    if p_drop > 0.0 && rng.gen_bool(p_drop) {
                        break;
                    }
                }
            }
            [x, last, t_cal]
        })
        .collect()
}

/// Weighted triples of simulated histories.
pub fn triples(histories: &[[f64; 3]]) -> Triples {
    let mut t = Triples::default();
    for &[x, t_x, t_cal] in histories {
        t.add(x, t_x, t_cal, 1.0);
    }
    t
}

/// A weekly summary of simulated histories, times rounded to whole days (as
/// calendar data is), so that many customers share a history.
pub fn day_rounded_summary(histories: &[[f64; 3]]) -> Summary {
    let day = |w: f64| (w * 7.0).round() / 7.0;
    let n = histories.len();
    let mut s = Summary {
        period: Period::Week,
        observation_end: jiff::civil::date(2025, 1, 1),
        customer_ids: (0..n).map(|i| format!("C{i}")).collect(),
        x: Vec::with_capacity(n),
        t_x: Vec::with_capacity(n),
        t_cal: Vec::with_capacity(n),
        monetary_value: vec![0.0; n],
        excluded_after_end: 0,
    };
    for &[x, t_x, t_cal] in histories {
        let t_cal = day(t_cal);
        s.x.push(x);
        s.t_x.push(day(t_x).min(t_cal));
        s.t_cal.push(t_cal);
    }
    s
}
