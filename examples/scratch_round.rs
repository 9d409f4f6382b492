use custinsight::ingest::IngestOptions;
use custinsight::round::{Inputs, Round, RoundParams};
use custinsight::segment::select_k::adjusted_rand_index;
use custinsight::synth::{Population, SynthParams};

fn main() -> custinsight::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let t = std::time::Instant::now();
    let pop = Population::generate(&SynthParams::with_customers(n), 42)?;
    let dir = std::env::temp_dir().join("scratch_round");
    pop.write_sources(&dir, &pop.full_view())?;
    println!("generated+written {:.2}s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let inputs = Inputs::read_dir(&dir, &IngestOptions::default())?;
    println!(
        "read {:.2}s rows {:?}",
        t.elapsed().as_secs_f64(),
        inputs.rows()
    );
    let params = RoundParams::default();
    let as1 = pop.observation_end - jiff::SignedDuration::from_hours(24 * 28);
    let r1 = Round::run(inputs, as1, &params, None)?;
    for s in &r1.steps {
        println!("  {:<12} {:.3}s", s.step, s.seconds);
    }
    println!("identity {:?}", r1.identity.applied);
    let truth = pop.true_customers(&r1.base);
    let personas: Vec<usize> = (0..r1.base.n_customers())
        .filter(|&c| r1.segments.segment_of(c as u32).is_some())
        .map(|c| pop.truth.persona[truth[c].unwrap() as usize] as usize)
        .collect();
    let labels: Vec<usize> = (0..r1.base.n_customers())
        .filter_map(|c| r1.segments.segment_of(c as u32))
        .map(|s| s as usize)
        .collect();
    println!(
        "k={} ARI {:.3} stages {:?}",
        r1.segments.k(),
        adjusted_rand_index(&labels, &personas)?,
        r1.lifecycle.stage_counts()
    );
    for p in &r1.segmentation.profiles {
        println!("  seg {} {} size {}", p.id, p.name, p.size);
    }
    println!("assignment {:?}", r1.assignment.counts);
    let variants = params.experiment.design.variants.clone();
    let outcomes = pop.simulate_outcomes(&r1.base, &truth, &r1.assignment.variant, &variants, 1)?;
    println!("outcomes {}", outcomes.len());
    let effects = pop.true_effects(&r1.segments, &truth);
    let mut inputs = Inputs::read_dir(&dir, &IngestOptions::default())?;
    inputs.outcomes = Some(outcomes);
    let state = r1.state.clone();
    let json = serde_json::to_string(&state)?;
    println!("state json {} bytes", json.len());
    let state: custinsight::round::RoundState = serde_json::from_str(&json)?;
    let r2 = Round::run(inputs, pop.observation_end, &params, Some(state))?;
    for s in &r2.steps {
        println!("  {:<12} {:.3}s", s.step, s.seconds);
    }
    let e = r2.evaluation.as_ref().unwrap();
    println!(
        "evaluated {} of {} source {:?}",
        e.evaluated, e.units, e.segment_source
    );
    for (d, t) in r2.decisions.iter().zip(&effects) {
        let c = e.conversion.segments[d.segment as usize].variants[1]
            .comparison
            .as_ref()
            .unwrap();
        println!(
            "  {} truth {:+.4} est {:+.4} [{:+.4},{:+.4}] {} {:?}\n     {}",
            d.name, t, c.abs_effect, c.abs_ci[0], c.abs_ci[1], d.kind, d.weights, d.reason
        );
    }
    println!(
        "migration stayed {:?}",
        r2.migration.as_ref().map(|m| m.stayed_share)
    );
    println!("next {:?}", r2.assignment.counts);
    Ok(())
}
