//! Positioning algorithms of the near-field ISPAC system (near-field-ispac.md, Sections
//! III-A and IV-A; docs/nearfield-positioning.md): noiseless recovery, the degeneracy of
//! the printed Algorithm 3 and its reduced-dimension repair, efficiency of the ML
//! refinement against the CRB, and determinism of the Monte Carlo.

use faer::Mat;
use isac::experiment::InstanceSolver;
use isac::linalg::{hermitian_eigen, hermitian_solve};
use isac::systems::nearfield::estimator::{
    locate, monte_carlo, printed_gamma, reduced_gamma, reduced_spectrum, simulate_echo, subspaces,
    uplink_two_stage, EstimatorPath, Position, SymmetricSplit,
};
use isac::systems::nearfield::numerical::signal_with_covariance;
use isac::systems::nearfield::{NearfieldModel, NearfieldScenario, NearfieldSystem};
use isac::C64;

/// A small instance: N_a = 16 (Rayleigh distance 1.2 m at 28 GHz), N_b = 8, the target
/// at (30 deg, 0.6 m) inside the MT's near field, T = 32 slots.
fn model(mode: &str, snr_db: f64, extra: &str) -> NearfieldModel {
    let src = format!(
        "system = \"nearfield\"\nmode = \"{mode}\"\nmt_antennas = 16\nat_antennas = 8\n\
         rf_chains = 16\ntarget = [30.0, 0.6]\nslots = 32\nsensing_snr_db = {snr_db}\n{extra}"
    );
    NearfieldModel::new(NearfieldScenario::from_toml_str(&src).unwrap()).unwrap()
}

/// The isotropic transmit covariance `P/N I` of the mode's transmitter.
fn isotropic(model: &NearfieldModel) -> Mat<C64> {
    let s = &model.scenario;
    let n = match s.mode {
        isac::systems::nearfield::Mode::Downlink => s.mt.elements,
        isac::systems::nearfield::Mode::Uplink => s.at.elements,
    };
    Mat::from_fn(n, n, |i, j| {
        C64::new(if i == j { s.power / n as f64 } else { 0.0 }, 0.0)
    })
}

fn truth(model: &NearfieldModel) -> Position {
    Position {
        angle: model.scenario.target_angle,
        distance: model.scenario.target_distance,
    }
}

fn noiseless_echo(
    model: &NearfieldModel,
    combiner: Option<&Mat<C64>>,
) -> isac::systems::nearfield::estimator::Echo {
    let x = signal_with_covariance(&isotropic(model), model.scenario.slots, 7).unwrap();
    simulate_echo(model, x, combiner, 0.0, 0)
}

fn assert_close(p: Position, t: Position, angle_tol: f64, rel_tol: f64, what: &str) {
    assert!(
        (p.angle - t.angle).abs() < angle_tol,
        "{what}: angle {} vs {}",
        p.angle,
        t.angle
    );
    assert!(
        ((p.distance - t.distance) / t.distance).abs() < rel_tol,
        "{what}: distance {} vs {}",
        p.distance,
        t.distance
    );
}

#[test]
fn noiseless_echo_recovers_the_target_in_both_modes() {
    for mode in ["downlink", "uplink"] {
        let m = model(mode, 10.0, "");
        let echo = noiseless_echo(&m, None);
        let p = locate(&m, &echo, None, 512).unwrap();
        let expected = if mode == "downlink" {
            EstimatorPath::MusicMle
        } else {
            EstimatorPath::ReducedMusic
        };
        assert_eq!(p.path, expected);
        // the searches are exact for the model (Fresnel MT, far-field AT); what remains is
        // the resolution of the cost functions in double precision (~sqrt(eps) of a cell)
        assert_close(
            p.two_stage,
            truth(&m),
            1e-6,
            1e-5,
            &format!("{mode} two-stage"),
        );
        assert_close(p.refined, truth(&m), 1e-7, 1e-6, &format!("{mode} ML"));
    }
}

#[test]
fn ml_refinement_uses_the_exact_wavefront_when_the_model_does() {
    // With exact spherical wavefronts the uplink two-stage (built on the Fresnel split) is
    // biased; the ML refinement maximises the likelihood of the exact model.
    let m = model("uplink", 10.0, "mt_wavefront = \"exact\"");
    let echo = noiseless_echo(&m, None);
    let p = locate(&m, &echo, None, 512).unwrap();
    assert_close(p.refined, truth(&m), 1e-7, 1e-6, "exact ML");
    // the two-stage estimate is near but not at the truth (third-order phase ignored)
    assert_close(p.two_stage, truth(&m), 2e-2, 0.2, "exact two-stage");
}

#[test]
fn printed_gamma_is_singular_for_every_angle_and_the_symmetric_split_is_not() {
    let m = model("uplink", 10.0, "");
    let echo = noiseless_echo(&m, None);
    let (u_s, _) = subspaces(&echo.samples).unwrap();
    let n_a = m.scenario.mt.elements;
    let split = SymmetricSplit::new(n_a);
    assert_eq!(split.squares.len(), n_a.div_ceil(2));
    let kd = m.scenario.mt.wavenumber * m.scenario.mt.spacing;
    let phi_true = kd * m.scenario.mt.spacing * m.scenario.target_angle.cos().powi(2)
        / (2.0 * m.scenario.target_distance);
    let vt_true = kd * m.scenario.target_angle.sin() - (n_a as f64 - 1.0) * phi_true;
    for &vt in &[-2.5, -1.0, 0.3, 1.2, vt_true] {
        // (45) as printed: rank <= N_RF - 1 = N_a - 1, singular
        let g = printed_gamma(&u_s, None, n_a, vt);
        let (vals, _) = hermitian_eigen(&g).unwrap();
        assert!(
            vals[0].abs() < 1e-12 * vals[n_a - 1],
            "printed Gamma({vt}): {vals:?}"
        );
        // and (46) has value 0 at every vartheta: d = diag(c)^H u_s / (its first entry)
        let d: Vec<C64> = (0..n_a)
            .map(|n| C64::from_polar(1.0, -(n as f64) * vt) * u_s[n] / u_s[0])
            .collect();
        let q: C64 = (0..n_a)
            .flat_map(|i| (0..n_a).map(move |j| (i, j)))
            .map(|(i, j)| d[i].conj() * g[(i, j)] * d[j])
            .sum();
        assert!(q.norm() < 1e-12, "(46) at {vt}: {q}");
        // the symmetric split: nonsingular away from the target, singular at it
        let gr = reduced_gamma(&split, &u_s, None, vt);
        let (rv, _) = hermitian_eigen(&gr).unwrap();
        let ratio = rv[0] / rv[rv.len() - 1];
        if (vt - vt_true).abs() > 0.1 {
            assert!(ratio > 1e-3, "Gamma_red({vt}) min/max eigenvalue {ratio}");
        } else {
            assert!(ratio.abs() < 1e-12, "Gamma_red at the target: {ratio}");
        }
    }
}

#[test]
fn sherman_morrison_spectrum_matches_the_explicit_inverse() {
    // a noisy signal eigenvector: Gamma_red nonsingular everywhere
    let m = model("uplink", 0.0, "");
    let x = signal_with_covariance(&isotropic(&m), m.scenario.slots, 3).unwrap();
    let echo = simulate_echo(&m, x, None, m.scenario.noise, 11);
    let (u_s, _) = subspaces(&echo.samples).unwrap();
    let split = SymmetricSplit::new(m.scenario.mt.elements);
    for &vt in &[-2.0, -0.4, 0.9, 2.2] {
        let gamma = reduced_gamma(&split, &u_s, None, vt);
        let mut e = vec![C64::new(0.0, 0.0); split.squares.len()];
        e[0] = C64::new(1.0, 0.0);
        let explicit = hermitian_solve(&gamma, &e).unwrap()[0].re;
        let closed = reduced_spectrum(&split, &split.fold(vt, &u_s));
        assert!(
            ((explicit - closed) / explicit).abs() < 1e-9,
            "{vt}: {explicit} vs {closed}"
        );
    }
}

#[test]
fn hybrid_combiner_falls_back_to_the_grid_and_still_recovers() {
    // partially connected F (1): N_RF = 4 subarrays of M = 4, unit-modulus phases,
    // F^H F = I. N_RF - 1 = 3 < ceil(N_a/2) = 8: Gamma_red has rank <= 3, singular.
    let m = model("uplink", 10.0, "");
    let (n_a, n_rf) = (16, 4);
    let f = Mat::from_fn(n_a, n_rf, |r, c| {
        if r / 4 == c {
            C64::from_polar(0.5, 0.7 * r as f64 + 0.3 * (r * r) as f64)
        } else {
            C64::new(0.0, 0.0)
        }
    });
    let echo = noiseless_echo(&m, Some(&f));
    let (u_s, _) = subspaces(&echo.samples).unwrap();
    let split = SymmetricSplit::new(n_a);
    let gr = reduced_gamma(&split, &u_s, Some(&f), 0.4);
    let (rv, _) = hermitian_eigen(&gr).unwrap();
    let rank = rv.iter().filter(|&&v| v > 1e-10 * rv[rv.len() - 1]).count();
    assert!(rank < n_rf, "rank {rank}");
    let (p, path) = uplink_two_stage(&m, &echo, Some(&f), 256).unwrap();
    assert_eq!(path, EstimatorPath::GridMusic);
    assert_close(p, truth(&m), 1e-6, 1e-5, "grid MUSIC");
}

#[test]
fn ml_refinement_attains_the_crb_at_high_snr() {
    // 300 trials: the relative standard deviation of an RMSE estimate from n Gaussian
    // errors is about 1/sqrt(2n) = 4 %, so the band [1/1.5, 1.5] around the RCRB is more
    // than 8 standard deviations wide on either side: an efficient estimator passes, an
    // estimator 50 % off the bound (or below it, which would signal a wrong bound) fails.
    let trials = 300;
    for mode in ["downlink", "uplink"] {
        let m = model(mode, 10.0, "");
        let cov = isotropic(&m);
        let bound = m.bound(&cov, None);
        let (ra, rd) = (bound.rcrb_angle().unwrap(), bound.rcrb_distance().unwrap());
        let mc = monte_carlo(&m, &cov, None, trials, 512, 5).unwrap();
        let (qa, qd) = (mc.rmse_angle_ml / ra, mc.rmse_distance_ml / rd);
        eprintln!(
            "{mode}: RCRB {ra:.3e} rad {rd:.3e} m; ML/RCRB {qa:.3} {qd:.3}; two-stage/RCRB {:.3} {:.3}",
            mc.rmse_angle / ra,
            mc.rmse_distance / rd
        );
        assert!(qa > 1.0 / 1.5 && qa < 1.5, "{mode} angle ML/RCRB {qa}");
        assert!(qd > 1.0 / 1.5 && qd < 1.5, "{mode} distance ML/RCRB {qd}");
        // the ML refinement never does worse than the two-stage estimate it starts from
        assert!(mc.rmse_angle_ml <= mc.rmse_angle * 1.0001);
    }
}

#[test]
fn monte_carlo_is_deterministic_and_thread_count_free() {
    let src = "system = \"nearfield\"\nmode = \"uplink\"\nmt_antennas = 16\nat_antennas = 8\n\
               rf_chains = 16\ntarget = [30.0, 0.6]\nslots = 32\nsensing_snr_db = 5.0\n\
               trials = 12\nestimator_grid = 256\nseed = 3\n";
    let table: toml::Table = src.parse().unwrap();
    let a = NearfieldSystem.solve_instance(&table).unwrap();
    let b = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| NearfieldSystem.solve_instance(&table).unwrap());
    for key in [
        "rmse_angle_deg",
        "rmse_distance_m",
        "rmse_angle_deg_ml",
        "rmse_distance_m_ml",
        "estimator_path",
    ] {
        assert!(!a[key].is_null(), "{key} missing: {a:?}");
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_eq!(a["estimator_path"], "reduced-music");
    // another seed gives another draw
    let mut t2 = table.clone();
    t2.insert("seed".into(), toml::Value::Integer(4));
    let c = NearfieldSystem.solve_instance(&t2).unwrap();
    assert_ne!(a["rmse_angle_deg"], c["rmse_angle_deg"]);
}
