use super::inc::{inc, inc_direct, inc_euler, ln_hyp2f1_inc_grad};
use super::quadrature::inc_quadrature;
use super::*;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

/// (x, ψ₁(x)) from mpmath 1.3.0 at 40 digits: `mp.psi(1, x)`.
const TRIGAMMA_MPMATH: [(f64, f64); 8] = [
    (0.001, 1000001.6425331959),
    (0.5, 4.934802200544679),
    (1.0, 1.6449340668482264),
    (3.7, 0.31003785767003833),
    (11.99, 0.08697741048698757),
    (12.0, 0.08690187287176838),
    (100.0, 0.010050166663333571),
    (10000.5, 9.999999991666667e-05),
];

#[test]
fn trigamma_matches_mpmath() {
    for &(x, want) in &TRIGAMMA_MPMATH {
        let got = trigamma(x);
        assert!(
            rel(got, want) < 4e-16,
            "trigamma({x}) = {got}, mpmath {want}"
        );
    }
    assert!(trigamma(0.0).is_nan() && trigamma(-1.0).is_nan() && trigamma(f64::NAN).is_nan());
    assert_eq!(trigamma(f64::INFINITY), 0.0);
}

#[test]
fn ln_beta_matches_gamma() {
    assert!(rel(ln_beta(2.0, 3.0), (1.0f64 / 12.0).ln()) < 1e-14);
}

/// (a, b, c, z, ln ₂F₁(a, b; c; z)) from mpmath 1.4.1 at 40 digits (unchanged at 100 digits; below
/// ~80 digits mpmath's own `hyp2f1` can be wrong for large b, so always check at two precisions):
///
/// ```python
/// import mpmath as mp; mp.mp.dps = 40
/// mp.log(mp.hyp2f1(a, b, c, z, maxterms=10**6))
/// ```
///
/// (a, b, c, z) are the f64 values in the table (so 1 - 1e-9 is the f64 nearest to it).
const LN_HYP2F1_MPMATH: [(f64, f64, f64, f64, f64); 14] = [
    (1.0, 1.0, 2.0, 0.5, 0.326634259978281),
    (3.159, 2.553, 4.159, 0.3, 0.6825170467926707),
    (1.5, 2.5, 3.7, 0.99, 3.2356542807314224),
    (0.5, 0.3, 1.5, 0.999, 0.22141960689984386),
    (1000.0, 1000.0, 10000.0, 0.999, 111.22208380368043),
    (10000.0, 1.606, 10001.0, 0.999, 10.955541512574213),
    (10000.0, 10000.0, 10001.0, 0.5, 6930.7787084176425),
    (1000.0, 2.5, 1001.0, 0.9999, 20.191404241838143),
    (0.6, 0.4, 1.6, 1.0 - 1e-9, 0.37101343590211106),
    (2.0, 3.0, 7.5, 0.999, 1.4035304632192365),
    (50.5, 0.3, 2.0, 0.9, 104.83100968943268),
    (10000.0, 0.3, 10001.0, 0.99, 1.3786144149111839),
    (0.7, 10000.0, 2.5, 0.2, 2217.3765141604804),
    (20.0, 30.0, 40.0, 0.99, 54.67303184695024),
];

#[test]
fn ln_hyp2f1_matches_mpmath() {
    for &(a, b, c, z, want) in &LN_HYP2F1_MPMATH {
        let got = ln_hyp2f1(a, b, c, z);
        assert!(
            rel(got, want) < 1e-12,
            "ln 2F1({a}, {b}; {c}; {z}) = {got}, mpmath {want}"
        );
        // Both argument orders of the symmetric function.
        assert!(
            rel(ln_hyp2f1(b, a, c, z), want) < 1e-12,
            "ln 2F1({b}, {a}; {c}; {z})"
        );
        if want < 700.0 {
            assert!(
                rel(hyp2f1(a, b, c, z), want.exp()) < 1e-12 * want.max(1.0),
                "2F1({a}, {b}; {c}; {z})"
            );
        }
    }
}

#[test]
fn hyp2f1_domain_and_fallback() {
    assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
    assert!(hyp2f1(1.0, 1.0, 2.0, -0.1).is_nan());
    assert!(ln_hyp2f1(-1.0, 1.0, 2.0, 0.5).is_nan());
    assert_eq!(hyp2f1(1.0, 1.0, 2.0, 0.0), 1.0);
    // A terminating series (a = −2) still goes through the plain sum: ₂F₁(−2, 1; 3; z) = 1 − 2z/3 + z²/6.
    let z = 0.3;
    assert!(rel(hyp2f1(-2.0, 1.0, 3.0, z), 1.0 - 2.0 / 3.0 * z + z * z / 6.0) < 1e-14);
}

/// (a, b, z, ln ₂F₁(a, b; a + 1; z), ∂/∂a, ∂/∂b, ∂/∂z) from mpmath 1.4.1 at 40 digits (unchanged at
/// 100 digits):
///
/// ```python
/// import mpmath as mp; mp.mp.dps = 40
/// f = lambda A, B, Z: mp.log(mp.hyp2f1(A, B, A + 1, Z, maxterms=10**6))
/// h = mp.mpf(10)**-12
/// v = f(a, b, z)
/// d_a = (f(a + h, b, z) - f(a - h, b, z)) / (2 * h)
/// d_b = (f(a, b + h, z) - f(a, b - h, z)) / (2 * h)
/// d_z = a * b / (a + 1) * mp.exp(mp.log(mp.hyp2f1(a + 1, b + 1, a + 2, z, maxterms=10**6)) - v)
/// ```
///
/// Rows cover the power series, Euler's form and the quadrature (z within 10⁻⁸ of 1).
const INC_MPMATH: [(f64, f64, f64, f64, f64, f64, f64); 13] = [
    (
        1.2,
        0.5,
        0.3,
        0.09307894853500391,
        0.03594315833729518,
        0.18864300674049284,
        0.35599424783409317,
    ),
    (
        1.2,
        0.5,
        0.999,
        0.7303724772409588,
        0.3185454685135096,
        1.9255134349940748,
        17.097447568091148,
    ),
    (
        0.8,
        0.4,
        1.0 - 1e-8,
        0.4467493892472501,
        0.34636377253465817,
        1.478983121651547,
        810.2902781515502,
    ),
    (
        50.5,
        1.6,
        0.01,
        0.01576682725194138,
        6.089427000037918e-6,
        0.009854296601788031,
        1.584484595414311,
    ),
    (
        50.5,
        1.6,
        0.999999,
        12.716408463738025,
        0.01973400475773091,
        12.19209271559812,
        603377.9566830249,
    ),
    (
        10000.0,
        1.6,
        0.9999,
        13.97312093670981,
        4.542095580552296e-5,
        8.831970887880933,
        11457.240665080772,
    ),
    (
        10000.0,
        9999.6,
        0.9999,
        92090.50938323796,
        9.998999759966402e-5,
        9.210240367978134,
        99986000.00015105,
    ),
    (
        10000.0,
        30.0,
        0.999999,
        406.4924946830743,
        9.996429937018957e-5,
        13.78104054809044,
        29000355.97013274,
    ),
    (
        3.0,
        2.5,
        0.95,
        5.094651683701152,
        0.27984217651081106,
        2.4723671007444485,
        31.467403688038733,
    ),
    (
        0.3,
        0.25,
        0.9995,
        0.12092445564301718,
        0.3255924390173331,
        0.5781215932919739,
        1.4784533789623469,
    ),
    (
        600.0,
        1.6,
        0.995,
        8.112335230032925,
        0.0004504739323383561,
        5.0987226140485875,
        265.61274926516046,
    ),
    (
        2.0,
        5.0,
        1.0 - 1e-7,
        63.77923549204542,
        0.4999999666666639,
        15.868095662595788,
        39999999.354387544,
    ),
    (
        10000.0,
        0.5,
        0.9,
        1.1508430964610075,
        4.489013537059082e-8,
        2.3016863944949666,
        4.995011709072204,
    ),
];

#[test]
fn inc_value_and_gradient_match_mpmath() {
    for &(a, b, z, v, d_a, d_b, d_z) in &INC_MPMATH {
        let g = ln_hyp2f1_inc_grad::<GRADIENT>(a, b, z, 1.0 - z);
        let ctx = format!("a={a} b={b} z={z}: {g:?}");
        assert!(rel(g.value, v) < 1e-12, "value {ctx}");
        assert!(rel(ln_hyp2f1_inc(a, b, z), v) < 1e-12, "value-only {ctx}");
        assert!(rel(g.d_a, d_a) < 1e-9, "d_a {ctx} want {d_a}");
        assert!(rel(g.d_b, d_b) < 1e-10, "d_b {ctx} want {d_b}");
        assert!(rel(g.d_z, d_z) < 1e-10, "d_z {ctx} want {d_z}");
    }
}

/// (a, b, z, second partial derivatives of ln ₂F₁(a, b; a + 1; z) in (a, b, z): aa, ab, az, bb, bz,
/// zz) from mpmath 1.3.0 at 40 digits (unchanged at 100), differentiating in 1 − z as the code does:
///
/// ```python
/// import mpmath as mp; mp.mp.dps = 40
/// f = lambda A, B, ZC: mp.log(mp.hyp2f1(A, B, A + 1, 1 - ZC, maxterms=10**7))
/// zc = 1 - mp.mpf(z)   # z as the f64 value
/// (-1)**((i == 2) + (j == 2)) * mp.diff(f, [a, b, zc], order)   # order: (2,0,0), (1,1,0), ...
/// ```
///
/// Rows: the power series (b < 1), Euler's form (b ≥ 1), and the quadrature (the last two), whose
/// second derivatives are differences of its gradient.
const INC_HESSIAN_MPMATH: [(f64, f64, f64, [f64; 6]); 6] = [
    (
        1.2,
        0.5,
        0.3,
        [
            -0.03148227979982389,
            0.07106161048840058,
            0.1400936822288298,
            0.009928510362980647,
            0.731946151887951,
            0.37406807413099286,
        ],
    ),
    (
        3.0,
        2.5,
        0.95,
        [
            -0.10342344169125252,
            0.03571770012196486,
            0.7995156891245658,
            0.2170366219221535,
            18.1216752937197,
            608.5730950599889,
        ],
    ),
    (
        50.5,
        1.6,
        0.01,
        [
            -2.3640596341499734e-07,
            3.8047664793158116e-06,
            0.000614677628993661,
            3.695450949257084e-08,
            0.9903088423271619,
            1.5706869838632838,
        ],
    ),
    (
        10000.0,
        0.5,
        0.9,
        [
            -8.967078974993478e-12,
            8.974004841293862e-08,
            4.976622599689863e-07,
            8.06051220111386e-07,
            9.990027888184667,
            49.90035831480554,
        ],
    ),
    (
        0.8,
        0.4,
        0.99999999,
        [
            -0.288376267516307,
            1.0251431438986898,
            731.9305590799106,
            2.606169933428876,
            13741.246232891428,
            32442952934.503292,
        ],
    ),
    (
        0.3,
        0.25,
        0.9995,
        [
            -0.3961176085009525,
            1.5044114518081066,
            4.349078093242021,
            0.9259349651822559,
            12.490742305396807,
            885.1929517381805,
        ],
    ),
];

#[test]
fn inc_hessian_matches_mpmath() {
    for (row, &(a, b, z, want)) in INC_HESSIAN_MPMATH.iter().enumerate() {
        let g = ln_hyp2f1_inc_grad::<HESSIAN>(a, b, z, 1.0 - z);
        let quadrature = row >= 4;
        let h = g.hessian;
        let got = [h[0][0], h[0][1], h[0][2], h[1][1], h[1][2], h[2][2]];
        for (k, (&got, &want)) in got.iter().zip(&want).enumerate() {
            // ∂²/∂b² of the (10⁴, ½, 0.9) row is 8·10⁻⁷ from terms near (∂/∂b)² ≈ 5: 5·10⁻⁹.
            let tol = if quadrature { 1e-7 } else { 1e-8 };
            assert!(
                rel(got, want) < tol,
                "entry {k} a={a} b={b} z={z}: {got} vs {want}"
            );
        }
        // The value and gradient are those of the gradient-only evaluation.
        let g1 = ln_hyp2f1_inc_grad::<GRADIENT>(a, b, z, 1.0 - z);
        assert_eq!(
            (g.value, g.d_a, g.d_b, g.d_z),
            (g1.value, g1.d_a, g1.d_b, g1.d_z)
        );
        assert_eq!(h[1][0], h[0][1]);
        assert_eq!(h[2][0], h[0][2]);
        assert_eq!(h[2][1], h[1][2]);
    }
}

#[test]
fn tabulated_series_give_the_bits_of_the_direct_evaluation() {
    // Many z per (a, b), as the Pareto/NBD customers of one frequency, in every derivative order
    // and in an order that makes the table grow and switch to second derivatives midway.
    let zs = [
        0.0,
        1e-9,
        0.01,
        0.3,
        0.62,
        0.9,
        0.97,
        0.995,
        0.9995,
        1.0 - 1e-8,
    ];
    for &(a, b) in &[
        (1.2, 0.5),
        (0.3, 0.25),
        (3.0, 2.5),
        (50.5, 1.6),
        (10000.0, 0.5),
        (2.0, 5.0),
        (1.6, 1.0),
    ] {
        let mut table = IncSeries::new(a, b);
        for order in [VALUE, GRADIENT, HESSIAN, GRADIENT, VALUE] {
            for &z in &zs {
                let (zc, mut h) = (1.0 - z, [[0.0; 3]; 3]);
                let (got, want) = match order {
                    VALUE => (
                        table.eval::<VALUE>(z, zc, zc.ln(), &mut h),
                        inc::<VALUE>(a, b, z, zc, zc.ln()),
                    ),
                    GRADIENT => (
                        table.eval::<GRADIENT>(z, zc, zc.ln(), &mut h),
                        inc::<GRADIENT>(a, b, z, zc, zc.ln()),
                    ),
                    _ => (
                        table.eval::<HESSIAN>(z, zc, zc.ln(), &mut h),
                        inc::<HESSIAN>(a, b, z, zc, zc.ln()),
                    ),
                };
                let ctx = format!("a={a} b={b} z={z} order {order}: {got:?} {h:?} vs {want:?}");
                assert_eq!(got.value().to_bits(), want.value.to_bits(), "{ctx}");
                if order >= GRADIENT {
                    let bits = |v: [f64; 3]| v.map(f64::to_bits);
                    assert_eq!(
                        bits([got.d_a, got.d_b, got.d_z]),
                        bits([want.d_a, want.d_b, want.d_z]),
                        "{ctx}"
                    );
                }
                if order == HESSIAN {
                    let bits = |m: [[f64; 3]; 3]| m.map(|r| r.map(f64::to_bits));
                    assert_eq!(bits(h), bits(want.hessian), "{ctx}");
                }
            }
        }
    }
}

#[test]
fn inc_methods_agree_where_they_meet() {
    // Force each method on the same arguments and compare (the dispatcher picks one of them).
    for &(a, b, z) in &[
        (1.2, 0.5, 0.95),
        (5.0, 1.6, 0.97),
        (300.0, 2.5, 0.98),
        (0.7, 0.3, 0.985),
        (40.0, 12.0, 0.99),
    ] {
        let zc = 1.0 - z;
        let quad = inc_quadrature::<GRADIENT>(a, b, z, zc);
        let series = if b >= 1.0 {
            inc_euler::<GRADIENT>(a, b, z, zc, zc.ln(), 1_000_000)
        } else {
            inc_direct::<GRADIENT>(a, b, z, 1_000_000)
        };
        let series = series.expect("converges");
        let ctx = format!("a={a} b={b} z={z}: {quad:?} vs {series:?}");
        assert!(rel(quad.value, series.value) < 1e-13, "{ctx}");
        assert!(rel(quad.d_a, series.d_a) < 1e-10, "{ctx}");
        assert!(rel(quad.d_b, series.d_b) < 1e-11, "{ctx}");
        assert!(rel(quad.d_z, series.d_z) < 1e-11, "{ctx}");
        let direct = inc_direct::<GRADIENT>(a, b, z, 1_000_000).expect("converges");
        assert!(rel(direct.value, series.value) < 1e-13, "{ctx}");
    }
}

#[test]
fn inc_at_zero_and_outside() {
    let g = ln_hyp2f1_inc_grad::<GRADIENT>(2.0, 3.0, 0.0, 1.0);
    assert_eq!((g.value, g.d_a, g.d_b), (0.0, 0.0, 0.0));
    assert!(rel(g.d_z, 2.0 * 3.0 / 3.0) < 1e-15);
    assert!(ln_hyp2f1_inc(2.0, 3.0, 1.0).is_nan());
    assert!(ln_hyp2f1_inc(0.0, 3.0, 0.5).is_nan());
    assert!(ln_hyp2f1_inc(2.0, f64::NAN, 0.5).is_nan());
}
