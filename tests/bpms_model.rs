//! The BP / MS bounds (bistatic-monostatic.md (3)-(10), Remark 1): closed-form
//! channel-domain FIMs against the numerical FIM of the sampled OFDM model, the
//! position-domain FIMs (through the analytic Jacobians) against finite differences of
//! the observation through the geometry, the Jacobians against finite differences of
//! the geometry map, and the fused bound against the unfused ones.

use faer::Mat;
use isac::fim::max_scaled_difference;
use isac::systems::bpms::model::{bp_jacobian, channel_parameters, ms_jacobian, Geometry};
use isac::systems::bpms::numerical::{channel_fim, position_fim, Task};
use isac::systems::bpms::{BpmsModel, BpmsScenario};
use isac::C64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

fn model(src: &str) -> BpmsModel {
    let table: toml::Table = src.parse().unwrap();
    BpmsModel::new(BpmsScenario::from_table(&table).unwrap())
}

/// A small random instance: `K` targets in the half plane in front of the BS, at least
/// 3 m from the BS, the UE and each other.
fn random_instance(rng: &mut ChaCha8Rng, k: usize, subcarriers: usize) -> String {
    let mut pts: Vec<[f64; 2]> = vec![];
    while pts.len() < k + 1 {
        let p: [f64; 2] = [rng.gen_range(-15.0..15.0), rng.gen_range(3.0..25.0)];
        if p[0].hypot(p[1]) > 3.0 && pts.iter().all(|q| (p[0] - q[0]).hypot(p[1] - q[1]) > 3.0) {
            pts.push(p);
        }
    }
    let targets: Vec<String> = pts[1..]
        .iter()
        .map(|p| format!("[{}, {}]", p[0], p[1]))
        .collect();
    format!(
        "bs_antennas = {}\nue_antennas = {}\nue_position = [{}, {}]\ntargets = [{}]\n\
         subcarriers = {subcarriers}\nslots = 3\nsymbols = 2\nseed = {}\n\
         orientation_rad = {}\nclock_bias_s = {}\n",
        rng.gen_range(k + 2..7),
        rng.gen_range(2..5),
        pts[0][0],
        pts[0][1],
        targets.join(", "),
        rng.gen_range(0..1000),
        rng.gen_range(-PI..PI),
        rng.gen_range(0.0..2e-6),
    )
}

fn random_beamformers(rng: &mut ChaCha8Rng, n: usize, l: usize) -> Mat<C64> {
    Mat::from_fn(n, l, |_, _| {
        C64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)) * 1e-3
    })
}

fn random_pilots(rng: &mut ChaCha8Rng, symbols: usize, m: usize) -> Vec<Vec<C64>> {
    (0..symbols)
        .map(|_| {
            (0..m)
                .map(|_| C64::from_polar(1.0, rng.gen_range(-PI..PI)))
                .collect()
        })
        .collect()
}

#[test]
fn closed_form_fims_equal_the_sampled_ofdm_model() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut worst = [0.0f64; 4];
    for trial in 0..6 {
        let k = 1 + trial % 3;
        let m = model(&random_instance(&mut rng, k, 8));
        let s = &m.scenario;
        let f = random_beamformers(&mut rng, s.bs_antennas, s.slots);
        let pilots = random_pilots(&mut rng, s.symbols, s.subcarriers);
        let v = &f * f.adjoint();
        let checks = [
            (
                m.bp_fim.fim(&v),
                channel_fim(&m, Task::Bistatic, &f, &pilots),
            ),
            (
                m.ms_fim.fim(&v),
                channel_fim(&m, Task::Monostatic, &f, &pilots),
            ),
            (
                m.bp_position_fim(&v),
                position_fim(&m, Task::Bistatic, &f, &pilots),
            ),
            (
                m.ms_position_fim(&v),
                position_fim(&m, Task::Monostatic, &f, &pilots),
            ),
        ];
        for (c, (closed, sampled)) in checks.iter().enumerate() {
            let e = max_scaled_difference(closed, sampled);
            worst[c] = worst[c].max(e);
            assert!(e < 1e-6, "trial {trial} check {c}: {e:e}");
        }
    }
    eprintln!("worst scaled differences (BP chan, MS chan, BP pos, MS pos): {worst:?}");
}

#[test]
fn paths_far_closer_than_a_resolution_cell_keep_their_digits() {
    // a target 1 um off the BS-UE segment: its BP delay differs from the LoS delay by
    // ~1e-16 s, ~1e-8 of a resolution cell 1/(M Delta_f) at M = 256
    let src = "bs_antennas = 4\nue_antennas = 3\nue_position = [0.0, 20.0]\n\
               targets = [[0.000001, 10.0], [6.0, 12.0]]\nsubcarriers = 256\nslots = 2\nsymbols = 1\n";
    let m = model(src);
    let cell = 1.0 / (m.scenario.subcarriers as f64 * m.scenario.subcarrier_spacing());
    let gap = (m.channel.bp_delays[1] - m.channel.bp_delays[0]).abs();
    assert!(
        gap < 1e-6 * cell,
        "the instance must have the near-coincident delays: {gap:e}"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let f = random_beamformers(&mut rng, 4, 2);
    let pilots = random_pilots(&mut rng, 1, 256);
    let v = &f * f.adjoint();
    let e = max_scaled_difference(
        &m.bp_fim.fim(&v),
        &channel_fim(&m, Task::Bistatic, &f, &pilots),
    );
    assert!(e < 1e-6, "{e:e}");
}

#[test]
fn jacobians_equal_finite_differences_of_the_geometry() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for _ in 0..5 {
        let m = model(&random_instance(&mut rng, 3, 4));
        let bs = m.scenario.bs_position;
        let g0 = m.geometry.clone();
        let k = g0.targets.len();
        let n = k + 1;
        // BP: x = [p_U, dphi, p_1..p_K, dt] (gains: identity block, checked below)
        let flat = |g: &Geometry| {
            let mut x = vec![g.ue[0], g.ue[1], g.orientation];
            for t in &g.targets {
                x.extend(t);
            }
            x.push(g.clock_bias);
            x
        };
        let unflat = |x: &[f64]| {
            let mut g = g0.clone();
            g.ue = [x[0], x[1]];
            g.orientation = x[2];
            for t in 0..k {
                g.targets[t] = [x[3 + 2 * t], x[4 + 2 * t]];
            }
            g.clock_bias = x[3 + 2 * k];
            g
        };
        let x0 = flat(&g0);
        let jb = bp_jacobian(bs, &g0);
        let jm = ms_jacobian(bs, &g0);
        for (col, _) in x0.iter().enumerate() {
            let h = if col == 3 + 2 * k { 1e-12 } else { 1e-6 };
            let eval = |d: f64| {
                let mut x = x0.clone();
                x[col] += d;
                channel_parameters(bs, &unflat(&x))
            };
            let (p, q) = (eval(h), eval(-h));
            let fd = |a: &[f64], b: &[f64], i: usize| (a[i] - b[i]) / (2.0 * h);
            for i in 0..n {
                let rows = [
                    (i, fd(&p.aod, &q.aod, i)),
                    (n + i, fd(&p.aoa, &q.aoa, i)),
                    (2 * n + i, fd(&p.bp_delays, &q.bp_delays, i)),
                ];
                for (row, want) in rows {
                    let got = jb[(row, col)];
                    let scale = want.abs().max(if row >= 2 * n { 1e-9 } else { 1e-3 });
                    assert!(
                        (got - want).abs() < 1e-6 * scale,
                        "BP J[{row},{col}] {got:e} vs {want:e}"
                    );
                }
                // MS columns: p_U and targets only (no dphi, dt); MS column of this BP column
                let ms_col = match col {
                    0 | 1 => Some(col),
                    c if c >= 3 && c < 3 + 2 * k => Some(c - 1),
                    _ => None,
                };
                for (row, want) in [
                    (i, fd(&p.aod, &q.aod, i)),
                    (n + i, fd(&p.ms_delays, &q.ms_delays, i)),
                ] {
                    let got = ms_col.map_or(0.0, |c| jm[(row, c)]);
                    let scale = want.abs().max(if row >= n { 1e-9 } else { 1e-3 });
                    assert!(
                        (got - want).abs() < 1e-6 * scale,
                        "MS J[{row},{ms_col:?}] {got:e} vs {want:e}"
                    );
                }
            }
        }
        // the gain blocks are identities
        for r in 0..2 * n {
            assert_eq!(jb[(3 * n + r, 4 + 2 * k + r)], 1.0);
            assert_eq!(jm[(2 * n + r, 2 * n + r)], 1.0);
        }
    }
}

#[test]
fn fusion_never_loses_information_and_bounds_scale_with_power() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    for _ in 0..10 {
        let k = rng.gen_range(1..4);
        let m = model(&random_instance(&mut rng, k, 64));
        let f = random_beamformers(&mut rng, m.scenario.bs_antennas, 4);
        let v = &f * f.adjoint();
        let b = m.bounds(&v);
        assert!(b.crb_bp.is_finite() && b.crb_ms.is_finite());
        assert!(
            b.fused_crb_bp <= b.crb_bp * (1.0 + 1e-9),
            "{} > {}",
            b.fused_crb_bp,
            b.crb_bp
        );
        assert!(
            b.fused_crb_ms <= b.crb_ms * (1.0 + 1e-9),
            "{} > {}",
            b.fused_crb_ms,
            b.crb_ms
        );
        // the FIM is linear in V: twice the power halves every CRB. Doubling is exact in
        // floating point, so the only error is the inversion's: eps times the condition
        // number of the equilibrated FIM (the BP FIM with its clock-bias and orientation
        // nuisances reaches 1e8 on these random instances).
        let v2 = Mat::from_fn(v.nrows(), v.ncols(), |i, j| v[(i, j)] * 2.0);
        let b2 = m.bounds(&v2);
        for (x, x2, fim) in [
            (b.crb_bp, b2.crb_bp, &b.fim_bp),
            (b.crb_ms, b2.crb_ms, &b.fim_ms),
        ] {
            let tol = 1e-14 * equilibrated_condition(fim);
            assert!(
                (x2 * 2.0 / x - 1.0).abs() < tol.max(1e-14),
                "{x} {x2} tol {tol:e}"
            );
        }
    }
}

fn equilibrated_condition(j: &Mat<f64>) -> f64 {
    let n = j.nrows();
    let d: Vec<f64> = (0..n).map(|i| j[(i, i)].sqrt().recip()).collect();
    let e = Mat::from_fn(n, n, |a, b| j[(a, b)] * d[a] * d[b]);
    let ev = isac::linalg::symmetric_eigenvalues(&e).unwrap();
    let (lo, hi) = ev
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
    hi / lo
}

#[test]
fn bad_input_names_its_key() {
    let cases = [
        ("targets = [[0.0, 0.0]]", "targets"),
        ("targets = [[-5.0, 20.0]]", "targets"),
        ("targets = [[1.0, 9.0], [1.0, 9.0]]", "targets"),
        ("bs_antennas = 3", "bs_antennas"),
        ("alpha = 1.5", "alpha"),
        (
            "bp_gains_re = [1.0, 1.0]\nbp_gains_im = [0.0, 0.0]",
            "bp_gains_re",
        ),
        ("bp_gains_re = [1.0, 1.0, 1.0, 1.0]", "bp_gains_im"),
        ("scheme = \"analog-sqp\"", "scheme"),
        ("scheme = \"fdb-wcrb\"\nallocation = \"wcrb\"", "allocation"),
        ("colour = 3", "colour"),
    ];
    for (src, key) in cases {
        let table: toml::Table = src.parse().unwrap();
        match BpmsScenario::from_table(&table) {
            Err(isac::IsacError::Input { key: k, .. }) => assert_eq!(k, key, "{src}"),
            other => panic!("{src}: expected an input error naming {key}, got {other:?}"),
        }
    }
}
