//! Doppler–delay geometry and Proposition 5.1 of multistatic-isac.md:
//! `src/systems/multistatic/geometry.rs`.

use faer::Mat;
use isac::physics::geometry::{distance, Point};
use isac::physics::SPEED_OF_LIGHT;
use isac::systems::multistatic::geometry::*;
use proptest::prelude::*;
use std::f64::consts::PI;

const F0: f64 = 3.0e9;
const TR: Point = [0.0, 0.0];
/// Section VI-A: TR at the origin, target at (20, 40).
const TARGET: Point = [20.0, 40.0];

fn state(p: Point, v: Velocity) -> TargetState {
    TargetState {
        position: p,
        velocity: v,
    }
}

fn diag_fim(sigma_tau: f64, sigma_f: f64) -> Mat<f64> {
    let mut j = Mat::zeros(2, 2);
    j[(0, 0)] = 1.0 / (sigma_tau * sigma_tau);
    j[(1, 1)] = 1.0 / (sigma_f * sigma_f);
    j
}

fn observe(tx: Point, s: TargetState, rx: Point) -> Observation {
    Observation {
        receiver: rx,
        delay: bistatic_delay(tx, s.position, rx),
        doppler: bistatic_doppler(tx, s, rx, F0),
        doa: doa(rx, s.position),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn delay_is_path_length_over_c() {
    let rx = [30.0, -40.0];
    let tau = bistatic_delay(TR, TARGET, rx);
    let expect = (20f64.hypot(40.0) + 10f64.hypot(80.0)) / SPEED_OF_LIGHT;
    assert!(rel(tau, expect) < 1e-14);
}

#[test]
fn doppler_sign_receding_is_negative() {
    // Target on the +x axis moving away from TR and RE (both at x <= 0): range grows.
    let s = state([50.0, 0.0], [10.0, 0.0]);
    let f = bistatic_doppler(TR, s, [-10.0, 0.0], F0);
    assert!(f < 0.0);
    // monostatic-like: f = -2 v f0 / c
    assert!(rel(f, -2.0 * 10.0 * F0 / SPEED_OF_LIGHT) < 1e-14);
    let approaching = bistatic_doppler(TR, state([50.0, 0.0], [-10.0, 0.0]), [-10.0, 0.0], F0);
    assert!(approaching > 0.0);
}

#[test]
fn doppler_is_minus_f0_over_c_times_range_rate() {
    let s = state(TARGET, [7.0, -3.0]);
    let rx = [-35.0, 12.0];
    let h = 1e-4;
    let r = |t: f64| {
        let p = [TARGET[0] + 7.0 * t, TARGET[1] - 3.0 * t];
        bistatic_range(TR, p, rx)
    };
    let rate = (r(h) - r(-h)) / (2.0 * h);
    let f = bistatic_doppler(TR, s, rx, F0);
    assert!(rel(f, -F0 / SPEED_OF_LIGHT * rate) < 1e-8);
}

proptest! {
    #![proptest_config(ProptestConfig { max_global_rejects: 100_000, ..ProptestConfig::default() })]

    /// (50) is the first-principles Doppler when the angles are measured from the
    /// velocity heading (the paper: velocity along +x).
    #[test]
    fn eq50_equals_first_principles(px in -100.0..100.0f64, py in -100.0..100.0f64,
                                    rx in -100.0..100.0f64, ry in -100.0..100.0f64,
                                    speed in -60.0..60.0f64, heading in -3.1..3.1f64) {
        let p = [px, py];
        let r = [rx, ry];
        prop_assume!(distance(p, TR) > 1.0 && distance(p, r) > 1.0);
        let s = state(p, [speed * heading.cos(), speed * heading.sin()]);
        let f = bistatic_doppler(TR, s, r, F0);
        let f50 = doppler_small_speed(speed, dod(TR, p) - heading, doa(r, p) - heading, F0);
        let scale = 2.0 * speed.abs() * F0 / SPEED_OF_LIGHT;
        prop_assert!((f - f50).abs() <= 1e-12 * scale + 1e-300);
    }

    /// (48), (49) against first principles / (50): relative gap ~ zeta = v/c, exactly
    /// `zeta cos phi/(1 + zeta cos phi)`; (49) equals (48).
    #[test]
    fn relativistic_forms_agree(theta in -3.1..3.1f64, phi in -3.1..3.1f64,
                                log_zeta in -8.0..-1.0f64) {
        let zeta = 10f64.powf(log_zeta);
        let v = zeta * SPEED_OF_LIGHT;
        prop_assume!((theta.cos() + phi.cos()).abs() > 1e-3);
        let f48 = doppler_relativistic(v, theta, phi, F0);
        let f49 = doppler_relativistic_rearranged(v, theta, phi, F0);
        let f50 = doppler_small_speed(v, theta, phi, F0);
        // (48) loses ~log10(f0/|f|) digits to the final subtraction of f0.
        let cancel = F0 / f49.abs();
        prop_assert!(rel(f48, f49) < 1e-15 * cancel + 1e-13);
        // f50 / f49 = 1 + zeta cos(phi) exactly
        let gap = rel(f50, f49);
        prop_assert!((gap - zeta * phi.cos().abs()).abs() < 1e-11, "gap {} zeta {}", gap, zeta);
        prop_assert!(gap <= zeta * (1.0 + 1e-9) + 1e-13);
    }

    /// Analytic Jacobian of (tau, f) against central differences.
    #[test]
    fn jacobian_matches_finite_differences(px in -100.0..100.0f64, py in -100.0..100.0f64,
                                           rx in -100.0..100.0f64, ry in -100.0..100.0f64,
                                           bx in -20.0..20.0f64, by in -20.0..20.0f64,
                                           vx in -50.0..50.0f64, vy in -50.0..50.0f64) {
        let p = [px, py];
        let r = [rx, ry];
        let b = [bx, by];
        prop_assume!(distance(p, b) > 2.0 && distance(p, r) > 2.0);
        let s = state(p, [vx, vy]);
        let g = delay_doppler_jacobian(b, s, r, F0);
        let eval = |eta: [f64; 4]| {
            let s = state([eta[0], eta[1]], [eta[2], eta[3]]);
            [bistatic_delay(b, s.position, r), bistatic_doppler(b, s, r, F0)]
        };
        let eta0 = [px, py, vx, vy];
        let h = 1e-4;
        let row_scale = [2.0 / SPEED_OF_LIGHT,
                         2.0 * F0 / SPEED_OF_LIGHT * (1.0 + vx.hypot(vy))];
        for q in 0..4 {
            let (mut ep, mut em) = (eta0, eta0);
            ep[q] += h;
            em[q] -= h;
            let (fp, fm) = (eval(ep), eval(em));
            for i in 0..2 {
                let fd = (fp[i] - fm[i]) / (2.0 * h);
                prop_assert!((g[(i, q)] - fd).abs() < 1e-6 * row_scale[i],
                    "G[{},{}] = {} vs fd {}", i, q, g[(i, q)], fd);
            }
        }
        // d tau / d v = 0
        prop_assert!(g[(0, 2)] == 0.0 && g[(0, 3)] == 0.0);
    }
}

#[test]
fn one_receiver_is_not_enough_two_are() {
    let s = state(TARGET, [10.0, 3.0]);
    let j1 = diag_fim(1e-9, 10.0);
    let rx1 = [30.0, -10.0];
    let rx2 = [-40.0, 25.0];
    let fim1 = target_fim(TR, s, &[rx1], std::slice::from_ref(&j1), F0);
    // rank 2: singular values
    let sv = fim1.singular_values().unwrap();
    assert!(sv[2] < 1e-12 * sv[0], "{sv:?}");
    assert!(sv[1] > 1e-12 * sv[0]);
    assert!(position_velocity_crb(TR, s, &[rx1], std::slice::from_ref(&j1), F0).is_none());
    let two = position_velocity_crb(TR, s, &[rx1, rx2], &[j1.clone(), j1.clone()], F0);
    let (pc, vc) = two.expect("two REs identify position and velocity");
    assert!(pc > 0.0 && vc > 0.0);
    // more REs never hurt
    let three = position_velocity_crb(
        TR,
        s,
        &[rx1, rx2, [60.0, 70.0]],
        &[j1.clone(), j1.clone(), j1.clone()],
        F0,
    )
    .unwrap();
    assert!(three.0 <= pc * (1.0 + 1e-9) && three.1 <= vc * (1.0 + 1e-9));
    // known velocity: one RE already fixes the position, and knowing v helps
    let known1 = position_crb_known_velocity(TR, s, &[rx1], std::slice::from_ref(&j1), F0).unwrap();
    assert!(known1 > 0.0);
    let known2 = position_crb_known_velocity(TR, s, &[rx1, rx2], &[j1.clone(), j1], F0).unwrap();
    assert!(known2 <= pc * (1.0 + 1e-9));
}

/// Hand example, v = 0 and diagonal J_k: the FIM is block diagonal with
/// position block `A / (c sigma_tau)^2` and velocity block `A (f0 / (c sigma_f))^2`,
/// `A = sum_k a_k a_k^T`, `a_k = u_b0 + u_k0`. TR (0,0), target (0,10), RE1 at the TR
/// (`a = (0, 2)`), RE2 at (10, 10) (`a = (-1, 1)`): `A = [[1, -1], [-1, 5]]`,
/// `tr A^{-1} = 6/4`.
#[test]
fn hand_example() {
    let s = state([0.0, 10.0], [0.0, 0.0]);
    let (st, sf) = (1e-9, 10.0);
    let j = diag_fim(st, sf);
    let (pc, vc) =
        position_velocity_crb(TR, s, &[[0.0, 0.0], [10.0, 10.0]], &[j.clone(), j], F0).unwrap();
    let c = SPEED_OF_LIGHT;
    assert!(rel(pc, 1.5 * (c * st).powi(2)) < 1e-9, "{pc}");
    assert!(rel(vc, 1.5 * (c * sf / F0).powi(2)) < 1e-9, "{vc}");
}

proptest! {
    #![proptest_config(ProptestConfig { max_global_rejects: 100_000, ..ProptestConfig::default() })]

    /// Translating the whole scene leaves the CRBs unchanged.
    #[test]
    fn crb_is_translation_invariant(px in -80.0..80.0f64, py in -80.0..80.0f64,
                                    r1x in -100.0..100.0f64, r1y in -100.0..100.0f64,
                                    r2x in -100.0..100.0f64, r2y in -100.0..100.0f64,
                                    vx in -30.0..30.0f64, vy in -30.0..30.0f64,
                                    tx in -500.0..500.0f64, ty in -500.0..500.0f64) {
        let p = [px, py];
        let (r1, r2) = ([r1x, r1y], [r2x, r2y]);
        prop_assume!(distance(p, TR) > 2.0 && distance(p, r1) > 2.0 && distance(p, r2) > 2.0);
        let mut j = diag_fim(1e-9, 5.0);
        j[(0, 1)] = 0.3 / (1e-9 * 5.0);
        j[(1, 0)] = j[(0, 1)];
        let fims = [j.clone(), j];
        let sh = |q: Point| [q[0] + tx, q[1] + ty];
        let a = position_velocity_crb(TR, state(p, [vx, vy]), &[r1, r2], &fims, F0);
        let b = position_velocity_crb(sh(TR), state(sh(p), [vx, vy]), &[sh(r1), sh(r2)], &fims, F0);
        // well-conditioned scenes only (collinear geometries amplify rounding)
        prop_assume!(a.is_some_and(|a| a.0 < 100.0 && a.1 < 1e8));
        match (a, b) {
            (Some(a), Some(b)) => {
                prop_assert!(rel(b.0, a.0) < 1e-6, "{:?} {:?}", a, b);
                prop_assert!(rel(b.1, a.1) < 1e-6, "{:?} {:?}", a, b);
            }
            _ => prop_assert!(false, "singularity changed under translation: {:?} {:?}", a, b),
        }
    }
}

/// Section VI-A geometry, velocity along +x: the derived closed form recovers theta,
/// d_{0,k} and the target; the printed (52)-(53) do not.
#[test]
fn proposition_5_1_section_vi_a() {
    let s = state(TARGET, [10.0, 0.0]);
    let rx_k = [30.0, 10.0];
    let rx_kp = [-40.0, 20.0]; // left of the TR
    let (ok, okp) = (observe(TR, s, rx_k), observe(TR, s, rx_kp));
    let theta = dod(TR, TARGET);
    let fix = localise(TR, &ok, &okp, 0.0, Proposition51::Derived).unwrap();
    assert!((fix.dod - theta).abs() < 1e-9);
    assert!(rel(fix.rx_distance, distance(TARGET, rx_k)) < 1e-9);
    assert!(distance(fix.position, TARGET) < 1e-7);
    // and seen from the left RE
    let fix2 = localise(TR, &okp, &ok, 0.0, Proposition51::default()).unwrap();
    assert!(distance(fix2.position, TARGET) < 1e-7);

    let printed = localise(TR, &ok, &okp, 0.0, Proposition51::Printed).unwrap();
    assert!(
        (printed.dod - theta).abs() > 0.1,
        "printed (52) unexpectedly right"
    );
    assert!(distance(printed.position, TARGET) > 1.0);
}

/// (53) as printed drops d_bk^2: even with the true theta it misses d_{0,k}; (93) hits it.
/// One-argument arctan for vartheta_k breaks (93) for receivers left of the TR.
#[test]
fn eq53_printed_vs_eq93() {
    let theta = dod(TR, TARGET);
    // (-40, 20) is avoided: there theta - vartheta = -pi/2 and the pi error is invisible.
    for rx in [[30.0, 10.0], [-40.0, 10.0], [-60.0, -30.0]] {
        let tau = bistatic_delay(TR, TARGET, rx);
        let d_true = distance(TARGET, rx);
        let d93 = rx_distance_from_delay(TR, rx, tau, theta, Proposition51::Derived);
        let d53 = rx_distance_from_delay(TR, rx, tau, theta, Proposition51::Printed);
        assert!(rel(d93, d_true) < 1e-12, "{d93} vs {d_true}");
        assert!(rel(d53, d_true) > 0.05, "{d53} vs {d_true}");
        // (93) with vartheta = arctan(dy/dx) (one-argument)
        let dbk = distance(TR, rx);
        let vt1 = (rx[1] / rx[0]).atan();
        let ct = SPEED_OF_LIGHT * tau;
        let cs = (theta - vt1).cos();
        let d1 = (ct * ct + dbk * dbk - 2.0 * ct * dbk * cs) / (2.0 * ct - 2.0 * dbk * cs);
        if rx[0] < 0.0 {
            assert!(rel(d1, d_true) > 0.05);
        } else {
            assert!(rel(d1, d_true) < 1e-12);
        }
    }
}

/// Appendix B, steps (82)-(86), with the appendix's theta-dependent Xi and the arctangent
/// arguments in the order of (86): tan(varpi) = (Xi_k' - Xi_k cos(dphi/2)) / (Xi_k sin(dphi/2))
/// holds at the true theta, and 2 arctan of it recovers theta mod 2 pi. So the
/// derivation is right up to (86); (87) swaps the arguments and (52) replaces Xi.
#[test]
fn appendix_b_steps_hold_with_true_theta() {
    let s = state(TARGET, [10.0, 0.0]);
    let (rk, rkp) = ([30.0, 10.0], [-40.0, 20.0]);
    let theta = dod(TR, TARGET);
    let (pk, pkp) = (doa(rk, TARGET), doa(rkp, TARGET));
    let (fk, fkp) = (
        bistatic_doppler(TR, s, rk, F0),
        bistatic_doppler(TR, s, rkp, F0),
    );
    let xi_k = fk * (0.5 * (theta - pkp)).cos();
    let xi_kp = fkp * (0.5 * (theta - pk)).cos();
    let h = 0.5 * (pk - pkp);
    let varpi = ((xi_kp - xi_k * h.cos()) / (xi_k * h.sin())).atan();
    let th = 2.0 * varpi - pk;
    assert!((th - theta).sin().abs() < 1e-12 && (th - theta).cos() > 0.0);
    // the printed order of (87): atan of the reciprocal
    let swapped = 2.0 * ((xi_k * h.sin()) / (xi_kp - xi_k * h.cos())).atan() - pk;
    assert!((swapped - theta).sin().abs() > 0.1 || (swapped - theta).cos() < 0.9);
}

proptest! {
    #![proptest_config(ProptestConfig { max_global_rejects: 100_000, ..ProptestConfig::default() })]

    /// Derived Proposition 5.1 recovers theta, d_{0,k} and the position from exact
    /// (50)-(51) data, for random scenes (REs anywhere around the TR, including x < x_b)
    /// and any velocity heading.
    #[test]
    fn proposition_5_1_recovers_target(px in -100.0..100.0f64, py in -100.0..100.0f64,
                                       r1 in 1.0..100.0f64, a1 in -PI..PI,
                                       r2 in 1.0..100.0f64, a2 in -PI..PI,
                                       speed in 1.0..50.0f64, heading in -PI..PI,
                                       paper_heading in proptest::bool::ANY) {
        let heading = if paper_heading { 0.0 } else { heading };
        let p = [px, py];
        let rk = [r1 * a1.cos(), r1 * a1.sin()];
        let rkp = [r2 * a2.cos(), r2 * a2.sin()];
        prop_assume!(distance(p, TR) > 2.0 && distance(p, rk) > 2.0 && distance(p, rkp) > 2.0);
        let s = state(p, [speed * heading.cos(), speed * heading.sin()]);
        let (ok, okp) = (observe(TR, s, rk), observe(TR, s, rkp));
        // conditioning: distinct Dopplers, theta away from the velocity axis (acos is flat)
        let theta = dod(TR, p);
        let fmax = ok.doppler.abs().max(okp.doppler.abs());
        prop_assume!((ok.doppler - okp.doppler).abs() > 1e-2 * fmax);
        prop_assume!((theta - heading).sin().abs() > 0.05);
        let fix = localise(TR, &ok, &okp, heading, Proposition51::Derived);
        prop_assert!(fix.is_some());
        let fix = fix.unwrap();
        let tol = 1e-6 * (1.0 + distance(p, TR));
        prop_assert!((fix.dod - theta).sin().abs() < 1e-7 && (fix.dod - theta).cos() > 0.0,
            "theta {} vs {}", fix.dod, theta);
        prop_assert!((fix.rx_distance - distance(p, rk)).abs() < tol);
        prop_assert!(distance(fix.position, p) < tol, "{:?} vs {:?}", fix.position, p);
    }
}
