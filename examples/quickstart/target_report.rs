//! Section 7 of the report: who to target, with what, beside the truth.

use custinsight::report::target::{calibration, cumulative_gain, qini};
use custinsight::report::{Report, ReportTable};

use super::target::{HORIZON_DAYS, TargetStep};

pub fn section(report: &mut Report, t: &TargetStep) -> custinsight::Result<()> {
    let section =
        report.section("7. Who to target, with what: propensity, uplift and the next best action");
    let (auc, oracle, latent) = t.auc_buyers;
    section.text(format!(
        "Who buys in the {HORIZON_DAYS} days after round 2? Boosted trees on each customer's \
         purchases, channels and touchpoints plus the lifecycle scores, trained on four earlier \
         {HORIZON_DAYS}-day windows (the last one calibrates the probabilities), scored the {} \
         buyers at the end. The truth says who bought. The oracle is the true purchase model's \
         probability given each buyer's history, the best any model can do from the data; it \
         ranks with an AUC of {oracle:.3}, the model {auc:.3}. Knowing who has silently stopped \
         buying would give {latent:.3}, but nothing in the data shows that. Across everyone, \
         prospects included, the model reaches {:.3} against the oracle's {:.3}: the synthetic \
         prospects only start buying after the data end, so no earlier window teaches a model \
         how fast they convert.",
        t.buyers, t.auc_all.0, t.auc_all.1
    ));
    section.chart_with_caption(
        cumulative_gain(&[
            ("model", &t.gain_model),
            ("oracle (true model, same history)", &t.gain_oracle),
        ])?,
        format!(
            "Contacting the top tenth of the model's scores reaches {:.0} % of next month's \
             buyers, the oracle's top tenth {:.0} % (where the lines lie on each other, the model \
             does what the oracle does): the oracle's curve is the most any model could reach.",
            100.0 * t.gain_model.first().map_or(f64::NAN, |g| g.cumulative_gain),
            100.0
                * t.gain_oracle
                    .first()
                    .map_or(f64::NAN, |g| g.cumulative_gain),
        ),
    );
    section.chart_with_caption(
        calibration(&[
            ("model, calibrated", &t.reliability_model),
            ("oracle", &t.reliability_oracle),
        ])?,
        format!(
            "Expected calibration error {:.3} (the oracle's {:.3}, which is sampling noise): a \
             predicted 30 % means about three in ten buy.",
            t.ece.0, t.ece.1
        ),
    );
    let (q, q_oracle) = t.qini;
    section.text(format!(
        "Whom does the offer change? An X-learner learned each customer's uplift from round 1's \
         experiment ({} units; another {} measured it). Its Qini coefficient is {q:.3}, against \
         {q_oracle:.3} for the true individual effects ({:.0} %): the synthetic offer works best \
         on lapsed buyers and least on regulars who buy anyway, and the model finds them from \
         their purchase history.",
        t.uplift_train_units,
        t.uplift_test_units,
        100.0 * q / q_oracle
    ));
    section.chart(qini(&[
        ("uplift model", &t.qini_model),
        ("true effects (oracle)", &t.qini_oracle),
    ])?);
    section.text(format!(
        "Round 2's assignment is the next best action: the round learned the same kind of uplift \
         model from all of round 1's units and offers the spring offer by e-mail where the \
         expected incremental profit is positive (uplift × {:.2} € per conversion − {:.2} € per \
         contact), only with e-mail consent and below the contact cap, and holds {:.0} % of the \
         customers it would offer it to out at random: they are round 3's control, so the next \
         round measures what the decisions earned. {} customers are offered it, {} held out. \
         Each decision says why:",
        t.value_per_conversion,
        t.cost_per_contact,
        100.0 * t.holdout_share,
        t.decided,
        t.held_out
    ));
    let mut examples = ReportTable::new(["customer", "decision and reason"]);
    for (id, reason) in &t.examples {
        examples = examples.row([id.clone(), reason.clone()]);
    }
    section.table(examples);
    let mut table = ReportTable::new([
        "policy",
        "offered",
        "incremental conversions (truth)",
        "95% interval",
        "next best action earns more",
    ])
    .numeric(&[1, 2, 3, 4])
    .caption(
        "Incremental conversions are the true effects of those offered; the interval is that of \
         the conversions the policy would realise. Every policy keeps the same consent and \
         holdout. The segment rule offers it to every customer of a segment whose round-2 \
         measured effect pays for the contact.",
    );
    for p in &t.policies {
        table = table.row([
            p.name.to_owned(),
            p.treated.to_string(),
            format!("{:.0}", p.conversions),
            format!(
                "{:.0} to {:.0}",
                p.conversions - p.half_width,
                p.conversions + p.half_width
            ),
            p.behind_nba.map_or("—".to_owned(), |(d, w)| {
                format!("{d:+.0} ({:+.0} to {:+.0})", d - w, d + w).replace('-', "−")
            }),
        ]);
    }
    section.table(table);
    Ok(())
}
