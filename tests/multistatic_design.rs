//! Multi-static design (issue 3, items 1, 3, 4): the objective reduction `U = C_G / s(Q)`,
//! the rates (20)-(21) by two computations, the SCA's monotonicity and feasibility of every
//! returned design, and the SCA and the exact rank-one program against the global optimum
//! of the same problem written independently as a convex program (rank-one channels make
//! the rate constraints linear SINR constraints).

use faer::Mat;
use isac::conic::{Affine, Problem, SolverSettings, Status};
use isac::systems::multistatic::design::{design, design_settings, evaluate, DesignStatus};
use isac::systems::multistatic::model::{outer, total_covariance, MultistaticModel};
use isac::systems::multistatic::sca::ScaProblem;
use isac::systems::multistatic::scenario::MultistaticScenario;
use isac::C64;
use rand::{Rng, SeedableRng};

fn table(text: &str) -> toml::Table {
    text.parse().unwrap()
}

/// A small instance (debug-fast): 3 REs, N_t = 4, N_r = 2.
fn small(extra: &str) -> toml::Table {
    table(&format!(
        r#"
system = "multistatic"
receivers = [[30.0, 10.0], [-20.0, 50.0], [45.0, 45.0]]
tx_antennas = 4
rx_antennas = 2
streams = 2
samples = 64
{extra}
"#
    ))
}

fn model(t: &toml::Table) -> MultistaticModel {
    MultistaticModel::new(MultistaticScenario::from_table(t).unwrap())
}

fn random_psd(n: usize, rng: &mut impl Rng, scale: f64) -> Mat<C64> {
    let a = Mat::from_fn(n, n, |_, _| {
        C64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0))
    });
    let q = &a * a.adjoint();
    Mat::from_fn(n, n, |r, c| q[(r, c)] * scale)
}

#[test]
fn crb_times_beampattern_gain_does_not_depend_on_the_covariance() {
    // Upsilon_k = eta_k beta_k N_r s(Q) for every RE: U(G, Q) s(Q) is a constant of G.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for fim in ["model", "paper"] {
        let m = model(&small(&format!("fim = \"{fim}\"")));
        for set in [vec![], vec![0], vec![1, 2], vec![0, 1, 2]] {
            let q0 = random_psd(4, &mut rng, 0.1);
            let c0 = m.crb(&set, &q0) * m.beampattern_gain(&q0);
            assert!(c0.is_finite() && c0 > 0.0, "{fim} {set:?}: {c0}");
            for _ in 0..3 {
                let scale = rng.gen_range(0.01..1.0);
                let q = random_psd(4, &mut rng, scale);
                let c = m.crb(&set, &q) * m.beampattern_gain(&q);
                assert!((c / c0 - 1.0).abs() < 1e-9, "{fim} {set:?}: {c} vs {c0}");
            }
        }
    }
}

#[test]
fn rates_agree_between_physical_and_scaled_forms() {
    let m = model(&small(""));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let p = m.scenario.power_budget;
    let qs_scaled: Vec<Mat<C64>> = (0..4).map(|_| random_psd(4, &mut rng, 0.05)).collect();
    let qs_watts: Vec<Mat<C64>> = qs_scaled
        .iter()
        .map(|q| Mat::from_fn(4, 4, |r, c| q[(r, c)] * p))
        .collect();
    for set in [vec![], vec![1], vec![0, 2]] {
        let mask = m.mask(&set);
        let a = m.rates(&qs_watts, &mask);
        let sca = ScaProblem {
            channels: m.scaled_channels(),
            sensing_direction: m.sensing_direction.clone(),
            selected: mask.clone(),
            min_rate: 0.0,
        };
        let b = sca.rates(&qs_scaled);
        for k in 0..3 {
            assert!(
                (a[k] - b[k]).abs() < 1e-9 * a[k].max(1.0),
                "{set:?} RE {k}: {} vs {}",
                a[k],
                b[k]
            );
        }
        // cancellation of the sensing stream: a selected RE's rate is at least its
        // unselected rate
        let none = m.rates(&qs_watts, &m.mask(&[]));
        for &k in &set {
            assert!(a[k] >= none[k] - 1e-12);
        }
    }
}

/// Rank-one TR-RE channels `H_k = g_k b_k c_k^T` given explicitly.
fn rank_one_instance(extra: &str, seed: u64) -> (toml::Table, Vec<(f64, Vec<C64>)>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (k, nr, nt) = (3, 2, 4);
    let mut re = Vec::new();
    let mut im = Vec::new();
    let mut data = Vec::new();
    for _ in 0..k {
        let g = rng.gen_range(1.0e-4..4.0e-4);
        let (tx, rx): (f64, f64) = (rng.gen_range(-1.2..1.2), rng.gen_range(-1.2..1.2));
        let c: Vec<C64> = (0..nt)
            .map(|n| C64::from_polar(1.0, std::f64::consts::PI * n as f64 * tx.sin()))
            .collect();
        let b: Vec<C64> = (0..nr)
            .map(|n| C64::from_polar(1.0, std::f64::consts::PI * n as f64 * rx.sin()))
            .collect();
        let h: Vec<Vec<C64>> = (0..nr)
            .map(|r| (0..nt).map(|t| b[r] * c[t] * g).collect())
            .collect();
        re.push(
            h.iter()
                .map(|r| r.iter().map(|z| z.re).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        );
        im.push(
            h.iter()
                .map(|r| r.iter().map(|z| z.im).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        );
        data.push((g, c));
    }
    let mut t = small(extra);
    t.insert(
        "comm_channels_re".into(),
        toml::Value::try_from(re).unwrap(),
    );
    t.insert(
        "comm_channels_im".into(),
        toml::Value::try_from(im).unwrap(),
    );
    (t, data)
}

/// Global optimum of max s(Q) s.t. power and rates for rank-one channels: with
/// `x_ik = |g~_k|^2 c_k^T Q_i c_k^*`, `R_k >= R` is the linear
/// `N_r x_kk >= (2^R - 1)(1 + N_r sum_{i in I_k} x_ik)`, so the problem is one SDP.
fn global_optimum(m: &MultistaticModel, data: &[(f64, Vec<C64>)], set: &[usize]) -> Option<f64> {
    let s = &m.scenario;
    let (nt, k) = (s.tx_antennas, m.receivers());
    let nr = s.rx_antennas as f64;
    let gamma = 2f64.powf(s.min_rate) - 1.0;
    let mut p = Problem::new();
    let q: Vec<_> = (0..=k).map(|_| p.psd_hermitian(nt)).collect();
    p.le(
        Affine::sum(q.iter().map(|v| v.trace()).collect::<Vec<_>>().iter()),
        s.power_budget,
    );
    let mask = m.mask(set);
    for (kk, (g, c)) in data.iter().enumerate() {
        let cc: Vec<C64> = c.iter().map(|z| z.conj()).collect();
        let snr = g * g / s.noise_power;
        let x = |i: usize| q[i].quad_form(&cc).unwrap().scaled(snr * nr);
        let mut interference = Affine::constant(1.0);
        for i in m.interferers(kk, &mask) {
            interference += x(i);
        }
        p.ge(x(kk + 1), interference.scaled(gamma));
    }
    let obj = Affine::sum(
        q.iter()
            .map(|v| v.quad_form(&m.sensing_direction).unwrap())
            .collect::<Vec<_>>()
            .iter(),
    );
    p.maximize(obj);
    let sol = p.solve(&SolverSettings::default()).unwrap();
    match sol.status {
        Status::Optimal { .. } => Some(sol.objective),
        Status::Infeasible { .. } => None,
        other => panic!(
            "global optimum (rate {}, set {set:?}): {other:?} {}",
            s.min_rate, sol.objective
        ),
    }
}

fn check_design(m: &MultistaticModel, d: &isac::systems::multistatic::MultistaticDesign) {
    let s = &m.scenario;
    assert!(
        matches!(
            d.status,
            DesignStatus::Solved { .. }
                | DesignStatus::MaxIterations { .. }
                | DesignStatus::Stalled { .. }
        ),
        "{:?}",
        d.status
    );
    assert!(
        d.non_monotone_steps.is_empty(),
        "{:?}",
        d.non_monotone_steps
    );
    for w in d.crb_history.windows(2) {
        assert!(w[1] <= w[0] * (1.0 + 1e-6), "CRB rose: {:?}", d.crb_history);
    }
    // independent re-check from W alone
    let e = evaluate(m, &d.selected, &d.beamformers);
    let power = e.power.unwrap();
    assert!(power <= s.power_budget * (1.0 + 1e-6), "power {power}");
    for (k, r) in e.rates.iter().enumerate() {
        assert!(*r >= s.min_rate - 1e-5, "RE {k}: rate {r} < {}", s.min_rate);
    }
    assert!((e.crb.unwrap() / d.crb.unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(d.beamformers.len(), m.receivers() + 1);
    for w in &d.beamformers {
        assert_eq!((w.nrows(), w.ncols()), (s.tx_antennas, s.streams));
    }
}

#[test]
fn sca_reaches_the_global_optimum_for_rank_one_channels() {
    let mut compared = 0;
    for (seed, rate, set) in [
        (1, 1.0, vec![0, 2]),
        (2, 2.0, vec![1]),
        (3, 1.5, vec![]),
        (4, 0.5, vec![0, 1, 2]),
        (1, 2.0, vec![0, 2]),
    ] {
        let selection = if set.is_empty() {
            "selection = \"none\"".to_string()
        } else {
            format!("selected = {set:?}")
        };
        for (method, tol) in [("sca", 1e-3), ("auto", 1e-4)] {
            let (t, data) = rank_one_instance(
                &format!("min_rate = {rate}\n{selection}\nsca_tolerance = 1e-8\nbeamforming = \"{method}\""),
                seed,
            );
            let m = model(&t);
            let d = design(&m, &design_settings()).unwrap();
            match global_optimum(&m, &data, &set) {
                None => {
                    // infeasible instance: never a design that claims feasibility
                    assert_eq!(
                        d.status.as_str(),
                        "infeasible",
                        "seed {seed}: {:?}",
                        d.status
                    );
                }
                Some(best) => {
                    assert_eq!(
                        d.method,
                        if method == "sca" {
                            "sca"
                        } else {
                            "exact-rank-one"
                        },
                        "seed {seed} rate {rate}: {:?}",
                        d.status
                    );
                    check_design(&m, &d);
                    let q = total_covariance(&d.beamformers.iter().map(outer).collect::<Vec<_>>());
                    let ours = m.beampattern_gain(&q) / m.scenario.power_budget;
                    assert!(
                        ours <= best * (1.0 + 1e-5),
                        "{method}: {ours} above the global optimum {best}"
                    );
                    assert!(
                        ours >= best * (1.0 - tol),
                        "{method} seed {seed}: {ours} vs global {best}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared >= 6, "only {compared} feasible instances compared");
}

#[test]
fn sca_designs_are_feasible_and_monotone_on_rician_channels() {
    for (seed, rate, selection) in [
        (1, 2.0, "minimax"),
        (5, 3.0, "exhaustive"),
        (9, 1.0, "none"),
    ] {
        let m = model(&small(&format!(
            "seed = {seed}\nmin_rate = {rate}\nselection = \"{selection}\""
        )));
        let d = design(&m, &design_settings()).unwrap();
        check_design(&m, &d);
        if selection == "exhaustive" {
            assert_eq!(
                d.selected,
                vec![0, 1, 2],
                "without a cost limit every RE helps"
            );
        }
        if selection == "none" {
            assert!(d.selected.is_empty());
        }
    }
}

#[test]
fn unreachable_rate_is_a_certified_infeasible_answer() {
    let m = model(&small("min_rate = 60.0"));
    let d = design(&m, &design_settings()).unwrap();
    match d.status {
        DesignStatus::Infeasible { certified, .. } => assert!(certified),
        other => panic!("{other:?}"),
    }
    assert!(d.beamformers.is_empty() && d.crb.is_none());
}

#[test]
fn tight_cost_limit_is_infeasible_not_an_error() {
    let m = model(&small("max_cost = 1.0\nselection = \"exhaustive\""));
    let d = design(&m, &design_settings()).unwrap();
    assert_eq!(d.status.as_str(), "infeasible");
}

#[test]
fn input_errors_name_the_key() {
    let cases = [
        ("streams = 3", "streams"),
        ("colour = 1", "colour"),
        ("selection = \"best\"", "selection"),
        ("selected = [7]", "selected"),
        ("bandwidth_hz = 1e6", "bandwidth_hz"),
        ("selection = \"size\"", "selection_size"),
        (
            "comm_channels_re = [[[1.0]]]\ncomm_channels_im = [[[1.0]]]",
            "comm_channels_re",
        ),
        ("comm_channels_re = [[[1.0]]]", "comm_channels_im"),
        ("receivers = []", "receivers"),
    ];
    for (extra, key) in cases {
        let mut t = small("");
        let patch: toml::Table = extra.parse().unwrap();
        for (k, v) in patch {
            t.insert(k, v);
        }
        let e = MultistaticScenario::from_table(&t).unwrap_err().to_string();
        assert!(e.contains(key), "{extra}: {e}");
    }
}

#[test]
fn paper_defaults_drop_ten_receivers_reproducibly() {
    let t = table("system = \"multistatic\"");
    let a = MultistaticScenario::from_table(&t).unwrap();
    let b = MultistaticScenario::from_table(&t).unwrap();
    assert_eq!(a.receivers.len(), 10);
    assert_eq!(a.receivers, b.receivers);
    for p in &a.receivers {
        let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
        assert!((1.0..=100.0).contains(&r), "{r}");
    }
}
