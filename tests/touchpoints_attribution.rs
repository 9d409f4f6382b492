//! Attribution against reference implementations.
//!
//! Fixtures `a` (6 paths, 3 channels, hand-made) and `b` (30 paths, 5 channels,
//! seeded) are small path tables in ChannelAttribution's format.
//! - Heuristics are pinned to ChannelAttribution 2.2.5 (Python):
//!   `ca.heuristic_models(df, "path", "total_conversions", var_value="total_conversion_value", sep=">", flg_pro=False)`
//!   with `df = pd.read_csv(fixture)`.
//! - Markov removal effects and credits (orders 1-4) are pinned to an
//!   independent numpy solution of the absorbing chain (`numpy.linalg.solve`
//!   of (I - Q) x = r; states: sliding windows of the last k channels, no start
//!   padding), written for this purpose and run as
//!   `python exact_markov.py fixture_b.csv --name b --orders 1 2 3 4`
//!   (numpy 2.4.6, scipy 1.17.1). Its order-1 removal effects agree with
//!   ChannelAttribution's simulated ones to 0.05-0.2 % when the simulation is
//!   run with 10^7 walks and the same walk-length cap; ChannelAttribution's
//!   default run differs by several percent (simulation noise and the cap).

use custinsight::touchpoints::attribution::{
    HeuristicParams, MarkovParams, ShapleyParams, heuristics, markov, shapley,
};
use custinsight::touchpoints::paths::PathTable;

fn load(csv: &str) -> PathTable {
    let rows = PathTable::read_rows(csv.as_bytes()).expect("readable");
    let (table, report) = PathTable::from_rows(&rows).expect("parsed");
    assert!(report.is_clean(), "{report:?}");
    table
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-300) || (got - want).abs() < 1e-14
}

fn channel(table: &PathTable, name: &str) -> usize {
    table
        .channels()
        .iter()
        .position(|c| c == name)
        .expect("channel present")
}

const FIXTURE_A: &str = "\
path,total_conversions,total_null,total_conversion_value\n\
a > b > c,3,5,30.0\n\
a,1,4,8.5\n\
b > a,2,2,15.0\n\
a > b > a,1,3,12.25\n\
c,0,6,0.0\n\
b > b > c,2,1,22.0\n\
";

const FIXTURE_B: &str = "\
path,total_conversions,total_null,total_conversion_value\n\
search,0,5,0.0\n\
email > email,1,6,10.01\n\
display > display > email > search,2,5,113.59\n\
search > email,1,6,35.41\n\
display > search > display,1,8,59.58\n\
email,1,2,54.03\n\
search > email > social,1,4,9.98\n\
search > email > display > search,2,8,91.69\n\
display,1,8,40.92\n\
social,2,4,35.35\n\
search > social,3,7,50.82\n\
display > search > email,1,4,29.04\n\
social > direct > email,1,5,52.89\n\
search > search > social,2,10,111.76\n\
search > search > search > display > social > search,2,9,112.07\n\
email > search > direct > search,5,5,271.6\n\
search > social > search > email > display,0,6,0.0\n\
social > display > display,1,7,8.79\n\
search > display > search > email > search,2,5,75.94\n\
search > display,0,7,0.0\n\
social > email > search,1,11,51.04\n\
social > display,3,6,130.19\n\
search > social > email > email,0,10,0.0\n\
email > display,0,3,0.0\n\
search > display > email > display > search,4,4,227.11\n\
direct > search > social > social > display > display,2,4,88.31\n\
direct > direct > email,5,7,164.43\n\
display > email > search > search > search > search,1,11,36.33\n\
display > social,5,10,285.87\n\
display > search > search,3,5,172.87\n\
";

/// ChannelAttribution 2.2.5 `heuristic_models` on fixture a:
/// (channel, first conv, first value, last conv, last value, linear conv, linear value).
const CA_HEURISTICS_A: &[(&str, f64, f64, f64, f64, f64, f64)] = &[
    (
        "a",
        5.0,
        50.75,
        4.0,
        35.75,
        3.6666666666666665,
        34.166666666666664,
    ),
    ("b", 4.0, 37.0, 0.0, 0.0, 3.666666666666667, 36.25),
    (
        "c",
        0.0,
        0.0,
        5.0,
        52.0,
        1.6666666666666665,
        17.333333333333332,
    ),
];

/// numpy exact chain on fixture a: (order, P(conversion), E[value], [(channel, RE conv, RE value, credit conv, credit value)]).
#[allow(clippy::type_complexity)]
const EXACT_A: &[(usize, f64, f64, &[(&str, f64, f64, f64, f64)])] = &[
    (
        1,
        0.3,
        2.9249999999999994,
        &[
            (
                "a",
                0.6714826281389749,
                0.6495814700149065,
                3.495813301919832,
                32.46082332721256,
            ),
            (
                "b",
                0.5016993464052287,
                0.5138126361655773,
                2.611902639370881,
                25.676196098200595,
            ),
            (
                "c",
                0.5555555555555556,
                0.5925925925925927,
                2.8922840587092873,
                29.612980574586853,
            ),
        ],
    ),
    (
        2,
        0.3,
        2.9250000000000003,
        &[
            (
                "a",
                0.8484848484848486,
                0.8383838383838385,
                3.3303964757709252,
                31.518725033288955,
            ),
            (
                "b",
                0.888888888888889,
                0.9031339031339031,
                3.4889867841409687,
                33.9529793608522,
            ),
            (
                "c",
                0.5555555555555557,
                0.5925925925925927,
                2.180616740088106,
                22.278295605858858,
            ),
        ],
    ),
    (
        3,
        0.3,
        2.925,
        &[
            (
                "a",
                0.7777777777777778,
                0.7492877492877494,
                3.15,
                29.287119289340104,
            ),
            (
                "b",
                0.888888888888889,
                0.9031339031339032,
                3.5999999999999996,
                35.30044416243655,
            ),
            (
                "c",
                0.5555555555555557,
                0.5925925925925927,
                2.2500000000000004,
                23.16243654822335,
            ),
        ],
    ),
    (
        4,
        0.3,
        2.925,
        &[
            (
                "a",
                0.7777777777777778,
                0.7492877492877494,
                3.15,
                29.287119289340104,
            ),
            (
                "b",
                0.888888888888889,
                0.9031339031339032,
                3.5999999999999996,
                35.30044416243655,
            ),
            (
                "c",
                0.5555555555555557,
                0.5925925925925927,
                2.2500000000000004,
                23.16243654822335,
            ),
        ],
    ),
];

/// ChannelAttribution 2.2.5 `heuristic_models` on fixture b:
/// (channel, first conv, first value, last conv, last value, linear conv, linear value).
const CA_HEURISTICS_B: &[(&str, f64, f64, f64, f64, f64, f64)] = &[
    (
        "search",
        17.0,
        714.78,
        22.0,
        1152.2400000000002,
        15.799999999999997,
        742.8505000000001,
    ),
    (
        "email",
        7.0,
        335.64000000000004,
        10.0,
        345.81,
        9.116666666666665,
        370.09000000000003,
    ),
    (
        "display",
        14.0,
        738.2,
        8.0,
        327.78999999999996,
        12.333333333333332,
        601.7528333333333,
    ),
    (
        "social",
        8.0,
        278.26,
        13.0,
        493.78000000000003,
        10.5,
        395.05833333333334,
    ),
    ("direct", 7.0, 252.74, 0.0, 0.0, 5.25, 209.86833333333334),
];

/// numpy exact chain on fixture b: (order, P(conversion), E[value], [(channel, RE conv, RE value, credit conv, credit value)]).
#[allow(clippy::type_complexity)]
const EXACT_B: &[(usize, f64, f64, &[(&str, f64, f64, f64, f64)])] = &[
    (
        1,
        0.21632653061224494,
        9.467836734693881,
        &[
            (
                "search",
                0.7038257851402655,
                0.7439310773400649,
                17.509679163453562,
                819.951969772331,
            ),
            (
                "email",
                0.40841141842314804,
                0.3832048133034327,
                10.160401983361773,
                422.3637794751743,
            ),
            (
                "display",
                0.4524205356292947,
                0.442307133285949,
                11.255254628456155,
                487.5056523769651,
            ),
            (
                "social",
                0.43429594335214705,
                0.40414166290070125,
                10.80435356395762,
                445.44012564623216,
            ),
            (
                "direct",
                0.1314546627030066,
                0.13097444496717459,
                3.270310660770888,
                144.35847272929735,
            ),
        ],
    ),
    (
        2,
        0.21632653061224488,
        9.467836734693876,
        &[
            (
                "search",
                0.6544738135965277,
                0.6998133469299398,
                14.615802707846028,
                671.1982808770017,
            ),
            (
                "email",
                0.470666440996532,
                0.45499454951489465,
                10.510990202963658,
                436.39001854215377,
            ),
            (
                "display",
                0.5158414056476699,
                0.568928746392749,
                11.519843967557508,
                545.6654952289018,
            ),
            (
                "social",
                0.5025137107080974,
                0.46533020374757167,
                11.222207980081256,
                446.30305232915646,
            ),
            (
                "direct",
                0.2297654628194951,
                0.22944506271918294,
                5.131155141551548,
                220.0631530227861,
            ),
        ],
    ),
    (
        3,
        0.21632653061224486,
        9.467836734693876,
        &[
            (
                "search",
                0.6091644204851754,
                0.642538125086991,
                13.483292344210742,
                601.9358513274453,
            ),
            (
                "email",
                0.538966365873667,
                0.5449970628622456,
                11.929523180266488,
                510.5584527930215,
            ),
            (
                "display",
                0.5570139458572602,
                0.6272254863334064,
                12.328989709894895,
                587.5908251191394,
            ),
            (
                "social",
                0.4575471698113208,
                0.4326082145638798,
                10.12738440455652,
                405.27150647986866,
            ),
            (
                "direct",
                0.23180592991913754,
                0.228716033537513,
                5.130810361071346,
                214.26336428052485,
            ),
        ],
    ),
    (
        4,
        0.21632653061224483,
        9.467836734693877,
        &[
            (
                "search",
                0.6226415094339625,
                0.6626688854208881,
                13.771653543307083,
                620.4430419553042,
            ),
            (
                "email",
                0.5283018867924529,
                0.5272803303989446,
                11.685039370078739,
                493.6815645843012,
            ),
            (
                "display",
                0.5660377358490568,
                0.6347160310740553,
                12.519685039370078,
                594.2713680411636,
            ),
            (
                "social",
                0.4339622641509435,
                0.40397565118424567,
                9.598425196850393,
                378.23396783966115,
            ),
            (
                "direct",
                0.24528301886792464,
                0.24884679387141,
                5.425196850393701,
                232.99005757956996,
            ),
        ],
    ),
];

#[test]
fn heuristics_equal_channelattribution() {
    for (csv, expected) in [(FIXTURE_A, CA_HEURISTICS_A), (FIXTURE_B, CA_HEURISTICS_B)] {
        let table = load(csv);
        let h = heuristics(&table, &HeuristicParams::default()).unwrap();
        for &(name, fc, fv, lc, lv, nc, nv) in expected {
            let c = channel(&table, name);
            for (got, want, what) in [
                (h.first_touch.conversions[c], fc, "first conv"),
                (h.first_touch.value[c], fv, "first value"),
                (h.last_touch.conversions[c], lc, "last conv"),
                (h.last_touch.value[c], lv, "last value"),
                (h.linear.conversions[c], nc, "linear conv"),
                (h.linear.value[c], nv, "linear value"),
            ] {
                assert!(close(got, want, 1e-12), "{name} {what}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn markov_removal_effects_equal_an_independent_linear_algebra_solution() {
    for (csv, expected) in [(FIXTURE_A, EXACT_A), (FIXTURE_B, EXACT_B)] {
        let table = load(csv);
        for &(order, p, v, per_channel) in expected {
            let m = markov(&table, &MarkovParams { order }).unwrap();
            assert!(close(m.conversion_probability, p, 1e-12), "order {order}");
            assert!(close(m.value_per_journey, v, 1e-12), "order {order}");
            for &(name, re, re_value, credit, credit_value) in per_channel {
                let c = channel(&table, name);
                for (got, want, what) in [
                    (m.removal_effects[c], re, "RE"),
                    (m.value_removal_effects[c], re_value, "RE value"),
                    (m.credits.conversions[c], credit, "credit"),
                    (m.credits.value[c], credit_value, "credit value"),
                ] {
                    assert!(
                        close(got, want, 1e-11),
                        "order {order} {name} {what}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn exact_shapley_enumerates_every_coalition_and_adds_up() {
    let table = load(FIXTURE_B);
    let s = shapley(&table, &ShapleyParams::default()).unwrap();
    assert!(s.exact);
    assert_eq!(s.coalitions, 1 << table.channels().len());
    assert!(close(
        s.credits.total_conversions(),
        table.total_conversions(),
        1e-12
    ));
    assert!(close(s.credits.total_value(), table.total_value(), 1e-12));
    assert!(s.credits.conversions.iter().all(|&c| c >= 0.0));
}

#[test]
fn malformed_rows_are_reported_with_line_and_field() {
    let csv = "path,total_conversions,total_null\n\
               a > b,1,2\n\
               a >  > b,1,2\n\
               b,-1,2\n\
               b,1,NaN\n\
               c,x,1\n\
               c,1e400,1\n\
               c,1,0\n";
    let rows = PathTable::read_rows(csv.as_bytes()).unwrap();
    let (table, report) = PathTable::from_rows(&rows).unwrap();
    assert_eq!((report.rows, report.accepted, report.rejected), (7, 2, 5));
    let got: Vec<(u64, &str)> = report
        .rejections
        .iter()
        .map(|r| (r.line, r.field.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (3, "path"),
            (4, "total_conversions"),
            (5, "total_null"),
            (6, "total_conversions"),
            (7, "total_conversions"),
        ]
    );
    assert_eq!(table.len(), 2);
    assert_eq!(table.total_conversions(), 2.0);
    let missing = PathTable::read_rows("path,total_null\na,1\n".as_bytes());
    assert!(matches!(
        missing,
        Err(custinsight::Error::MissingColumns { ref columns, .. }) if columns == &["total_conversions"]
    ));
}
