//! Near-field hybrid downlink designs (`src/systems/nearfield/hybrid.rs`): the effective
//! model through the analog stage equals the true model evaluated at the lifted design
//! (two independent computations), a one-antenna-per-chain stage reproduces the fully
//! digital optimum (the known limit), and on random seeded instances no hybrid design
//! beats the fully digital bound, every returned design passes the re-check, and the
//! analog fit never worsens.

use faer::Mat;
use isac::physics::hybrid::PartiallyConnected;
use isac::systems::nearfield::design::design_settings;
use isac::systems::nearfield::hybrid::{
    altmin_design, digital_for_analog, effective_model, steering_start,
};
use isac::systems::nearfield::{fully_digital, NearfieldModel, NearfieldScenario};
use isac::C64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn model(src: &str) -> NearfieldModel {
    let table: toml::Table = toml::from_str(src).unwrap();
    NearfieldModel::new(NearfieldScenario::from_table(&table).unwrap()).unwrap()
}

fn random_phases(arch: PartiallyConnected, rng: &mut ChaCha8Rng) -> Mat<C64> {
    let p: Vec<f64> = (0..arch.antennas)
        .map(|_| rng.gen_range(-std::f64::consts::PI..std::f64::consts::PI))
        .collect();
    arch.analog_from_phases(&p)
}

/// `F` of (1): unit-modulus shifters / sqrt(M) on the block diagonal, zero elsewhere.
fn assert_partially_connected(f: &Mat<C64>, arch: PartiallyConnected, label: &str) {
    let sub = arch.subarray();
    for i in 0..arch.antennas {
        for l in 0..arch.rf_chains {
            let z = f[(i, l)].norm() * (sub as f64).sqrt();
            if i / sub == l {
                assert!((z - 1.0).abs() < 1e-12, "{label}: |F_{i}{l}| sqrt(M) = {z}");
            } else {
                assert_eq!(z, 0.0, "{label}: F_{i}{l} off the block");
            }
        }
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

/// The FIM and the SINRs of the effective model at `R~`, `W~` equal the true model's at
/// `F R~ F^H`, `F W~` (the FIM through `F^T v`, the SINRs through `F^T h_k`).
#[test]
fn the_effective_model_is_the_true_model_through_the_analog_stage() {
    let m = model("mode = \"downlink\"\nmt_antennas = 16\nrf_chains = 4\nseed = 3");
    let arch = PartiallyConnected::new(16, 4).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let f = random_phases(arch, &mut rng);
    let eff = effective_model(&m, &f).unwrap();
    let k = m.user_channels.len();
    let g = Mat::from_fn(4, 4, |_, _| {
        C64::new(rng.gen::<f64>() - 0.5, rng.gen::<f64>() - 0.5)
    });
    let rd = &g * g.adjoint();
    let w = Mat::from_fn(4, k, |_, _| {
        C64::new(rng.gen::<f64>() - 0.5, rng.gen::<f64>() - 0.5)
    });
    let rx = &(&w * w.adjoint()) + &rd;
    let lifted = &f * &rx * f.adjoint();
    let (a, b) = (eff.bound(&rx, None), m.bound(&lifted, None));
    for i in 0..4 {
        for j in 0..4 {
            let scale = (a.fim[(i, i)] * a.fim[(j, j)]).sqrt();
            assert!(
                (a.fim[(i, j)] - b.fim[(i, j)]).abs() <= 1e-12 * scale,
                "FIM {i} {j}"
            );
        }
    }
    let (sa, sb) = (
        eff.downlink_sinr(&w, &rd),
        m.downlink_sinr(&(&f * &w), &(&f * &rd * f.adjoint())),
    );
    for (x, y) in sa.iter().zip(&sb) {
        assert!(rel(*x, *y) < 1e-12, "SINR {x} vs {y}");
    }
}

/// One antenna per RF chain (`N_RF = N_a`): `F` is a unitary diagonal, every covariance is
/// reachable, and the hybrid design is the fully digital optimum.
#[test]
fn one_antenna_per_chain_is_fully_digital() {
    let m = model("mode = \"downlink\"\nmt_antennas = 8\nrf_chains = 8\nseed = 5");
    let arch = PartiallyConnected::new(8, 8).unwrap();
    let settings = design_settings();
    let fd = fully_digital(&m, &settings).unwrap();
    assert_eq!(fd.status.as_str(), "optimal");
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let h = digital_for_analog(&m, arch, &random_phases(arch, &mut rng), &settings).unwrap();
    assert_eq!(h.status.as_str(), "solved", "{:?}", h.status);
    let (a, b) = (
        h.bound.unwrap().trace().unwrap(),
        fd.bound.unwrap().trace().unwrap(),
    );
    assert!(rel(a, b) < 1e-5, "hybrid {a} vs fully digital {b}");
}

/// Random seeded instances (users, scatterers and phases drawn from the seed; N_a = 32,
/// N_RF = 8, K = 2 and 4): the hybrid design never beats the fully digital bound, passes
/// the re-check (structure, power, SINRs), and the analog fit is monotone; the fit beats
/// pure beam steering on at least one instance (else it would be pointless).
#[test]
fn hybrid_designs_never_beat_the_fully_digital_bound() {
    let settings = design_settings();
    let arch = PartiallyConnected::new(32, 8).unwrap();
    let (mut improved, mut checked, mut failed) = (0, 0, 0);
    for seed in 1..=6u64 {
        let users = if seed % 2 == 0 { 4 } else { 2 };
        let m = model(&format!(
            "mode = \"downlink\"\nmt_antennas = 32\nrf_chains = 8\nusers = {users}\nseed = {seed}"
        ));
        let (h, fd) = altmin_design(&m, arch, 200, &settings).unwrap();
        if !fd.status.has_checked_design() {
            assert_eq!(h.status.as_str(), fd.status.as_str(), "seed {seed}");
            continue;
        }
        if !h.status.has_checked_design() {
            // the heuristic found no feasible analog stage: reported, never a design
            assert_eq!(h.status.as_str(), "inaccurate", "seed {seed}");
            assert!(h.bound.is_none() && h.precoders.is_none(), "seed {seed}");
            failed += 1;
            continue;
        }
        assert!(
            h.structure.worst() < 1e-12,
            "seed {seed}: structure {:?}",
            h.structure
        );
        let (hy, lb) = (
            h.bound.as_ref().unwrap().trace().unwrap(),
            isac::systems::nearfield::hybrid::digital_bound(&fd).unwrap(),
        );
        assert!(
            hy >= lb * (1.0 - 1e-6),
            "seed {seed}: hybrid {hy} below the bound {lb}"
        );
        eprintln!(
            "seed {seed}, K = {users}: tr CRB hybrid / fully digital = {:.4}",
            hy / lb
        );
        let s = &m.scenario;
        assert!(h.power.unwrap() <= s.power * (1.0 + 1e-6));
        assert!(h
            .sinr
            .as_ref()
            .unwrap()
            .iter()
            .all(|&x| x >= s.min_sinr * (1.0 - 1e-6)));
        // the fit's history: objective non-increasing
        for w in h.history.windows(2) {
            assert!(
                w[1].objective <= w[0].objective * (1.0 + 1e-9),
                "seed {seed}"
            );
        }
        let steer = digital_for_analog(&m, arch, &steering_start(&m, arch), &settings).unwrap();
        if let Some(t) = steer.bound.as_ref().and_then(|b| b.trace()) {
            if steer.status.has_checked_design() && hy < t {
                improved += 1;
            }
        }
        checked += 1;
    }
    eprintln!("{checked} designs, {failed} instances without a feasible hybrid design");
    assert!(checked >= 4, "only {checked} feasible instances");
    assert!(improved >= 1);
}

/// Scheme 1 (far-field beamsteering): designed on the far-field channels (72), evaluated on
/// the near-field ones. Its SINRs are re-computed on the true channels (a shortfall makes
/// it `inaccurate`, never a silent pass), its CRB is that of its covariance on the true
/// model, and it is never below the fully digital bound.
#[test]
fn the_far_field_baseline_is_judged_on_the_true_channels() {
    use isac::systems::nearfield::hybrid::far_field_design;
    let settings = design_settings();
    let arch = PartiallyConnected::new(32, 8).unwrap();
    let (mut met, mut missed) = (0, 0);
    for seed in 1..=6u64 {
        let m = model(&format!(
            "mode = \"downlink\"\nmt_antennas = 32\nrf_chains = 8\nusers = 4\nseed = {seed}"
        ));
        let altmin = |x: &isac::systems::nearfield::NearfieldModel| {
            isac::systems::nearfield::hybrid::altmin_design(x, arch, 200, &settings)
        };
        let (d, fd) = far_field_design(&m, altmin, &settings).unwrap();
        let (Some(w), Some(rd), Some(rx)) =
            (&d.precoders, &d.sensing_covariance, &d.transmit_covariance)
        else {
            assert!(!d.status.has_checked_design(), "seed {seed}");
            continue;
        };
        let sinr = m.downlink_sinr(w, rd);
        assert_eq!(
            &sinr,
            d.sinr.as_ref().unwrap(),
            "seed {seed}: SINRs not the true channels'"
        );
        let worst = sinr.iter().cloned().fold(f64::INFINITY, f64::min);
        let meets = worst >= m.scenario.min_sinr * (1.0 - 1e-6);
        assert_eq!(
            d.status.has_checked_design(),
            meets,
            "seed {seed}: {:?}",
            d.status
        );
        if meets {
            met += 1
        } else {
            missed += 1
        }
        let tr = m.bound(rx, None).trace().unwrap();
        assert!((tr / d.bound.as_ref().unwrap().trace().unwrap() - 1.0).abs() < 1e-12);
        if let Some(lb) = fd.bound.as_ref().and_then(|b| b.trace()) {
            assert!(
                tr >= lb * (1.0 - 1e-6),
                "seed {seed}: far {tr} below the bound {lb}"
            );
        }
    }
    eprintln!("far-field baseline: {met} meet the targets on the true channels, {missed} miss");
    assert!(met + missed >= 3);
}

/// Regression (Fig. 5(c), N_RF = N_a = 32, gamma = 10 dB, a drop where the fully digital
/// design is `solved` with its SINR targets raised by 1 % to absorb the solver's error):
/// the hybrid design, solved with a smaller margin, lands 0.3 % below that design's CRB,
/// but never below the program's optimum, which is the bound the ratio uses.
#[test]
fn the_bound_is_the_program_optimum_when_the_digital_design_needed_a_margin() {
    use isac::systems::nearfield::hybrid::digital_bound;
    let m = model(
        "mode = \"downlink\"\nmt_antennas = 32\nat_antennas = 8\nrf_chains = 32\nseed = 4161776572173724425\nmin_sinr_db = 10.0",
    );
    let arch = PartiallyConnected::new(32, 32).unwrap();
    let (h, fd) = altmin_design(&m, arch, 200, &design_settings()).unwrap();
    assert!(h.status.has_checked_design(), "{:?}", h.status);
    let hy = h.bound.unwrap().trace().unwrap();
    let design_crb = fd.bound.as_ref().unwrap().trace().unwrap();
    let lb = digital_bound(&fd).unwrap();
    assert!(lb <= design_crb);
    assert!(
        hy >= lb * (1.0 - 1e-6),
        "hybrid {hy} below the program optimum {lb}"
    );
    eprintln!("hybrid {hy:.6e}, fully digital design {design_crb:.6e}, program optimum {lb:.6e}");
}

/// Algorithm 2 (`method = "pdd"`, SDR block (40)) and its phase-descent variant
/// (`"pdd-manifold"`) on random seeded instances: every returned design is re-checked here
/// from its matrices alone (unit modulus and block structure of `F`, power, the SINRs on
/// the true channels, the CRB of `F R~_x F^H`), never below the fully digital bound; the
/// inner loop's augmented Lagrangian never increases; the outer violation ends below
/// epsilon_PDD or the iteration cap is reported.
#[test]
fn pdd_designs_pass_the_recheck_and_respect_the_bound() {
    use isac::systems::nearfield::pdd::{pdd_design, AnalogStep, PddSettings};
    let settings = design_settings();
    let arch = PartiallyConnected::new(16, 4).unwrap();
    let mut checked = 0;
    for seed in 1..=3u64 {
        let m = model(&format!(
            "mode = \"downlink\"\nmt_antennas = 16\nat_antennas = 4\nrf_chains = 4\nusers = 2\nmin_sinr_db = 5\nseed = {seed}"
        ));
        let s = &m.scenario;
        for step in [AnalogStep::Sdr, AnalogStep::Manifold] {
            let pdd = PddSettings {
                analog_step: step,
                max_outer: 15,
                randomizations: 30,
                seed,
                ..PddSettings::default()
            };
            let (d, fd) = pdd_design(&m, arch, 200, &pdd, &settings).unwrap();
            if !d.status.has_checked_design() {
                eprintln!("seed {seed} {step:?}: {:?}", d.status);
                continue;
            }
            let f = &d.analog;
            assert_partially_connected(f, arch, &format!("seed {seed}"));
            let w = f * d.digital.digital.as_ref().unwrap();
            let rd_rf = d.digital.sensing_covariance.as_ref().unwrap();
            let rd = &(f * rd_rf) * f.adjoint();
            let rx = &(&w * w.adjoint()) + &rd;
            let power: f64 = (0..16).map(|n| rx[(n, n)].re).sum();
            assert!(
                power <= s.power * (1.0 + 1e-4),
                "seed {seed}: power {power}"
            );
            for (k, g) in m.downlink_sinr(&w, &rd).iter().enumerate() {
                assert!(
                    *g >= s.min_sinr * (1.0 - 1e-4),
                    "seed {seed}: user {k} SINR {g}"
                );
            }
            let crb = m.bound(&rx, None).trace().unwrap();
            let reported = d.bound.as_ref().unwrap().trace().unwrap();
            assert!(
                rel(crb, reported) < 1e-9,
                "seed {seed}: {crb} vs {reported}"
            );
            let lb = isac::systems::nearfield::hybrid::digital_bound(&fd).unwrap();
            assert!(
                crb >= lb * (1.0 - 1e-6),
                "seed {seed}: {crb} below the bound {lb}"
            );
            let last = d.history.last().unwrap();
            assert_eq!(
                last.metric("inner_non_monotone_steps"),
                Some(0.0),
                "seed {seed}"
            );
            assert!(
                last.metric("violation").unwrap() < 1e-4 || d.iterations == 15,
                "seed {seed}: stopped early at violation {:?}",
                last.metric("violation")
            );
            eprintln!(
                "seed {seed} {step:?}: tr CRB / fully digital = {:.4}, {} outer iterations",
                crb / lb,
                d.iterations
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} designs");
}

/// PDD's feasibility start: on drops where the altmin stage has no feasible digital block
/// but the fully digital problem is feasible (`N_a = 16`, `N_RF = 4`, K = 3, 10-15 dB),
/// the power descent on the phases returns unit-modulus shifters through which the SINR
/// targets need less than the budget (recomputed here by the exact digital block), and the
/// PDD design from it passes the re-check and respects the bound. Also the count: it
/// finds a start on most of these drops.
#[test]
fn the_power_descent_gives_pdd_a_feasible_start() {
    use isac::systems::nearfield::pdd::{
        feasible_analog_start, pdd_design, AnalogStep, PddSettings,
    };
    let settings = design_settings();
    let arch = PartiallyConnected::new(16, 4).unwrap();
    let (mut tried, mut found) = (0, 0);
    for (gamma, seed) in [(10.0, 4u64), (10.0, 7), (15.0, 1), (15.0, 4), (15.0, 5)] {
        let m = model(&format!(
            "mode = \"downlink\"\nmt_antennas = 16\nat_antennas = 4\nrf_chains = 4\nusers = 3\nmin_sinr_db = {gamma}\nseed = {seed}"
        ));
        let (start, fd) = altmin_design(&m, arch, 200, &settings).unwrap();
        if start.status.has_checked_design() || !fd.status.has_checked_design() {
            continue;
        }
        tried += 1;
        let (Some(f), _) = feasible_analog_start(&m, arch, &arch.shifters(&start.analog)).unwrap()
        else {
            continue;
        };
        for z in &f {
            assert!((z.norm() - 1.0).abs() < 1e-12);
        }
        let d = digital_for_analog(&m, arch, &arch.analog(&f), &settings).unwrap();
        assert!(
            d.status.has_checked_design(),
            "{gamma} dB seed {seed}: {:?}",
            d.status
        );
        let pdd = PddSettings {
            analog_step: AnalogStep::Manifold,
            seed,
            ..PddSettings::default()
        };
        let (h, fd) = pdd_design(&m, arch, 200, &pdd, &settings).unwrap();
        assert!(
            h.status.has_checked_design(),
            "{gamma} dB seed {seed}: {:?}",
            h.status
        );
        let (hy, lb) = (
            h.bound.as_ref().unwrap().trace().unwrap(),
            isac::systems::nearfield::hybrid::digital_bound(&fd).unwrap(),
        );
        assert!(hy >= lb * (1.0 - 1e-6));
        assert!(h
            .sinr
            .as_ref()
            .unwrap()
            .iter()
            .all(|&x| x >= m.scenario.min_sinr * (1.0 - 1e-6)));
        eprintln!(
            "{gamma} dB seed {seed}: PDD from the power descent, {:.4} x the bound",
            hy / lb
        );
        found += 1;
    }
    assert!(tried >= 4, "only {tried} drops without an altmin start");
    assert!(found * 2 > tried, "a start on {found} of {tried} drops");
}

/// The uplink AO (Algorithm 6), block 1 exact or by SCA, block 2 by PDD with either
/// analog step, on random seeded drops: every returned design passes the re-check from
/// its matrices alone (structure of `F`, probing power, every SINR (17) with the
/// antenna-domain combiner `F w_k` on the true channels, the CRB of `R_u` through `F`),
/// and no design is below the fully digital bound. The AO's best iterate is never above
/// its first iterate (the random start's exact block).
#[test]
fn uplink_ao_designs_pass_the_recheck_and_respect_the_bound() {
    use isac::systems::nearfield::pdd::{AnalogStep, PddSettings};
    use isac::systems::nearfield::uplink::{
        exact_block, random_start, uplink_ao_design, uplink_sinrs, UplinkBlock, UplinkSettings,
    };
    let settings = design_settings();
    let arch = PartiallyConnected::new(16, 4).unwrap();
    let mut checked = 0;
    for seed in 1..=3u64 {
        let m = model(&format!(
            "mode = \"uplink\"\nmt_antennas = 16\nat_antennas = 4\nrf_chains = 4\nusers = 2\nmin_sinr_db = 3\nseed = {seed}"
        ));
        let s = &m.scenario;
        for (block, step) in [
            (UplinkBlock::Exact, AnalogStep::Manifold),
            (UplinkBlock::Exact, AnalogStep::Sdr),
            (UplinkBlock::Sca, AnalogStep::Manifold),
        ] {
            let pdd = PddSettings {
                analog_step: step,
                max_outer: 10,
                randomizations: 20,
                seed,
                ..PddSettings::default()
            };
            let upl = UplinkSettings {
                block,
                max_ao: 4,
                max_sca: 10,
            };
            let (d, fd) = uplink_ao_design(&m, arch, &pdd, &upl, &settings).unwrap();
            assert!(
                d.status.has_checked_design(),
                "seed {seed} {block:?} {step:?}: {:?}",
                d.status
            );
            let f = &d.analog;
            assert_partially_connected(f, arch, &format!("seed {seed} {block:?}"));
            // the antenna-domain combiners and R_u as returned
            let ru = d.sensing_covariance.as_ref().unwrap();
            let combiners = d.precoders.as_ref().unwrap();
            let rf = d.digital.digital.as_ref().unwrap();
            let lifted = f * rf;
            for n in 0..16 {
                for k in 0..2 {
                    assert!((lifted[(n, k)] - combiners[(n, k)]).norm() < 1e-12);
                }
            }
            let power: f64 = (0..4).map(|n| ru[(n, n)].re).sum();
            assert!(
                power <= s.power * (1.0 + 1e-4),
                "seed {seed}: power {power}"
            );
            for (k, g) in uplink_sinrs(&m, combiners, ru).iter().enumerate() {
                assert!(
                    *g >= s.min_sinr * (1.0 - 1e-4),
                    "seed {seed} {block:?}: user {k} SINR {g}"
                );
            }
            let crb = m.bound(ru, Some(f)).trace().unwrap();
            let reported = d.bound.as_ref().unwrap().trace().unwrap();
            assert!(
                rel(crb, reported) < 1e-9,
                "seed {seed}: {crb} vs {reported}"
            );
            let lb = isac::systems::nearfield::hybrid::digital_bound(&fd).unwrap();
            assert!(
                crb >= lb * (1.0 - 1e-6),
                "seed {seed}: {crb} below the bound {lb}"
            );
            if block == UplinkBlock::Exact {
                let first =
                    exact_block(&m, arch, &arch.analog(&random_start(arch, seed)), &settings)
                        .unwrap();
                if let Some(c0) = first.bound.as_ref().and_then(|b| b.trace()) {
                    assert!(
                        crb <= c0 * (1.0 + 1e-9),
                        "seed {seed}: {crb} above the start {c0}"
                    );
                }
            }
            eprintln!(
                "seed {seed} {block:?} {step:?}: tr CRB / fully digital = {:.4}, {} AO iterations",
                crb / lb,
                d.iterations
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 9);
}

/// The uplink's feasibility start: on drops where neither the random nor the steering
/// `F` lets every user meet its target without probing (`N_a = 16`, `N_RF = 4`, K = 2,
/// 15 dB, seeds 3 and 4; the fully digital problem is feasible there), the descent on
/// the phases of the users' SINR shortfall gives Algorithm 6 a start, and its design
/// passes the re-check (every SINR on the true channels) and respects the bound.
#[test]
fn the_shortfall_descent_gives_the_uplink_ao_a_start() {
    use isac::systems::nearfield::design::uplink_echo_limit;
    use isac::systems::nearfield::pdd::PddSettings;
    use isac::systems::nearfield::uplink::{
        random_start, uplink_ao_design, uplink_sinrs, UplinkSettings,
    };
    let settings = design_settings();
    let arch = PartiallyConnected::new(16, 4).unwrap();
    for seed in [3u64, 4] {
        let m = model(&format!(
            "mode = \"uplink\"\nmt_antennas = 16\nat_antennas = 4\nrf_chains = 4\nusers = 2\nmin_sinr_db = 15\nseed = {seed}"
        ));
        // the premise: both simple starts fail on this drop
        assert!(uplink_echo_limit(&m, Some(&arch.analog(&random_start(arch, seed)))).is_err());
        assert!(uplink_echo_limit(&m, Some(&steering_start(&m, arch))).is_err());
        let pdd = PddSettings {
            max_outer: 10,
            seed,
            ..PddSettings::default()
        };
        let upl = UplinkSettings {
            max_ao: 3,
            ..UplinkSettings::default()
        };
        let (d, fd) = uplink_ao_design(&m, arch, &pdd, &upl, &settings).unwrap();
        assert!(d.status.has_checked_design(), "seed {seed}: {:?}", d.status);
        assert!(
            d.status.detail().unwrap().contains("descent on the phases"),
            "seed {seed}: {:?}",
            d.status
        );
        assert_partially_connected(&d.analog, arch, &format!("seed {seed}"));
        let ru = d.sensing_covariance.as_ref().unwrap();
        for (k, g) in uplink_sinrs(&m, d.precoders.as_ref().unwrap(), ru)
            .iter()
            .enumerate()
        {
            assert!(
                *g >= m.scenario.min_sinr * (1.0 - 1e-4),
                "seed {seed}: user {k} SINR {g}"
            );
        }
        let crb = m.bound(ru, Some(&d.analog)).trace().unwrap();
        let lb = isac::systems::nearfield::hybrid::digital_bound(&fd).unwrap();
        assert!(crb >= lb * (1.0 - 1e-6), "seed {seed}: {crb} below {lb}");
        eprintln!("seed {seed}: {:.3} x the fully digital bound", crb / lb);
    }
}
