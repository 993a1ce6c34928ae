//! The weighted-sum CRB designs (bistatic-monostatic.md Section III): Remark 2 (the
//! reduced program equals the full one), CPA never below FDB, Fusion never above the
//! unfused bounds, the beamformers reproduce the covariance, the power budget holds, and
//! the weighted-sum front is monotone.

use faer::Mat;
use isac::systems::bpms::design::{
    design_settings, wcrb, weighted_objective, Structure, WcrbDesign,
};
use isac::systems::bpms::{BpmsModel, BpmsScenario};
use isac::C64;

fn model(src: &str) -> BpmsModel {
    let table: toml::Table = src.parse().unwrap();
    BpmsModel::new(BpmsScenario::from_table(&table).unwrap())
}

fn solve(m: &BpmsModel, alpha: f64, fused: bool, s: Structure) -> WcrbDesign {
    let d = wcrb(m, alpha, fused, s, &design_settings()).unwrap();
    assert!(
        d.status.has_checked_design(),
        "alpha {alpha} {s:?} fused {fused}: {:?}",
        d.status
    );
    d
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

/// Re-check from the returned matrices alone: `F F^H = V`, Hermitian PSD, power within
/// the budget, and the bounds recomputed from `F` equal the reported ones.
fn recheck(m: &BpmsModel, d: &WcrbDesign) {
    let f = d.beamformers.as_ref().unwrap();
    let v = d.covariance.as_ref().unwrap();
    let ffh = f * f.adjoint();
    let diff: f64 = (0..v.nrows())
        .flat_map(|i| (0..v.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| (ffh[(i, j)] - v[(i, j)]).norm())
        .fold(0.0, f64::max);
    let scale: f64 = (0..v.nrows()).map(|i| v[(i, i)].re).sum();
    assert!(diff <= 1e-12 * scale, "F F^H != V: {diff:e}");
    assert!(
        scale <= m.power_budget() * (1.0 + 1e-12),
        "power {scale:e} > {:e}",
        m.power_budget()
    );
    let b = m.bounds(&ffh);
    let want = weighted_objective(&b, d.alpha, d.fused);
    assert!(rel(want, d.objective) < 1e-12);
}

const PAPER: &str = "";

#[test]
fn remark_2_the_reduced_program_equals_the_full_one() {
    // the paper's geometry and two others; N_B = 8 keeps the full program quick
    let geometries = [
        PAPER.to_string(),
        "ue_position = [7.0, 12.0]\ntargets = [[-6.0, 9.0], [3.0, 25.0]]".to_string(),
        "ue_position = [-12.0, 6.0]\ntargets = [[10.0, 10.0]]\norientation_rad = -0.4".to_string(),
    ];
    for g in &geometries {
        let m = model(&format!("{g}\nbs_antennas = 8\nue_antennas = 8\n"));
        for alpha in [0.0, 0.3, 1.0] {
            let full = solve(&m, alpha, false, Structure::Full);
            let reduced = solve(&m, alpha, false, Structure::Reduced);
            recheck(&m, &full);
            recheck(&m, &reduced);
            let r = rel(full.objective, reduced.objective);
            eprintln!(
                "{g:?} alpha {alpha}: full {:.8e} reduced {:.8e} ({r:.1e}; dims {} / {})",
                full.objective, reduced.objective, full.dimension, reduced.dimension
            );
            assert!(
                r < 1e-4,
                "{g:?} alpha {alpha}: full {} reduced {}",
                full.objective,
                reduced.objective
            );
        }
    }
}

#[test]
fn cpa_never_beats_fdb_and_fusion_never_loses() {
    let m = model(PAPER);
    for alpha in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let fdb = solve(&m, alpha, false, Structure::Reduced);
        let cpa = solve(&m, alpha, false, Structure::Codebook);
        let fusion = solve(&m, alpha, true, Structure::Reduced);
        for d in [&fdb, &cpa, &fusion] {
            recheck(&m, d);
        }
        // CPA is FDB restricted to diagonal Lambda
        assert!(
            cpa.objective >= fdb.objective * (1.0 - 1e-4),
            "alpha {alpha}: CPA {} < FDB {}",
            cpa.objective,
            fdb.objective
        );
        // fused bounds at the fused optimum are never above the unfused optimum
        let fb = fusion.bounds.as_ref().unwrap();
        let ub = fdb.bounds.as_ref().unwrap();
        assert!(fusion.objective <= fdb.objective * (1.0 + 1e-6));
        assert!(
            fb.fused_crb_bp <= fb.crb_bp * (1.0 + 1e-9)
                && fb.fused_crb_ms <= fb.crb_ms * (1.0 + 1e-9)
        );
        eprintln!(
            "alpha {alpha}: sqrt CRB BP / MS (m): FDB {:.4e} / {:.4e}, CPA {:.4e} / {:.4e}, Fusion {:.4e} / {:.4e}",
            ub.crb_bp.sqrt(), ub.crb_ms.sqrt(),
            cpa.bounds.as_ref().unwrap().crb_bp.sqrt(), cpa.bounds.as_ref().unwrap().crb_ms.sqrt(),
            fb.fused_crb_bp.sqrt(), fb.fused_crb_ms.sqrt()
        );
    }
}

#[test]
fn the_weighted_sum_front_is_monotone() {
    // weighted-sum optima: as alpha grows, CRB_BP cannot rise and CRB_MS cannot fall
    let m = model("targets = [[-10.0, 15.0], [5.0, 15.0]]");
    let alphas: Vec<f64> = (0..=10).map(|i| i as f64 / 10.0).collect();
    let front: Vec<(f64, f64)> = alphas
        .iter()
        .map(|&a| {
            let d = solve(&m, a, false, Structure::Reduced);
            let b = d.bounds.unwrap();
            (b.crb_bp, b.crb_ms)
        })
        .collect();
    for w in front.windows(2) {
        assert!(w[1].0 <= w[0].0 * (1.0 + 1e-4), "BP rose: {front:?}");
        assert!(w[1].1 >= w[0].1 * (1.0 - 1e-4), "MS fell: {front:?}");
    }
    // and every point is optimal for its own weight: no other front point beats it
    for (i, &a) in alphas.iter().enumerate() {
        let own = a * front[i].0 + (1.0 - a) * front[i].1;
        for p in &front {
            assert!(
                own <= (a * p.0 + (1.0 - a) * p.1) * (1.0 + 1e-4),
                "alpha {a}"
            );
        }
    }
}

#[test]
fn beamformers_reproduce_the_covariance() {
    let v = Mat::from_fn(4, 4, |i, j| C64::new((i + j) as f64, i as f64 - j as f64));
    let v = &v * v.adjoint();
    let (f, rank) = isac::systems::bpms::design::beamformers(&v, 6).unwrap();
    assert_eq!(rank, 2);
    let ffh = &f * f.adjoint();
    for i in 0..4 {
        for j in 0..4 {
            assert!((ffh[(i, j)] - v[(i, j)]).norm() < 1e-12 * v[(0, 0)].norm().max(1.0));
        }
    }
}

#[test]
fn mismatch_closed_forms_equal_the_printed_programs_and_never_beat_wcrb() {
    use isac::systems::bpms::mismatch::{guides, mismatch, Method, Mismatch};
    let m = model(PAPER);
    let settings = design_settings();
    for cpa in [false, true] {
        let g = guides(&m, cpa, &settings).unwrap();
        for kind in [Mismatch::Beamformer, Mismatch::Covariance] {
            for alpha in [0.0, 0.3, 0.8, 1.0] {
                let (closed, _) =
                    mismatch(&m, kind, cpa, alpha, &g, Method::ClosedForm, &settings).unwrap();
                let (printed, rank_one) =
                    mismatch(&m, kind, cpa, alpha, &g, Method::Printed, &settings).unwrap();
                recheck(&m, &closed);
                recheck(&m, &printed);
                let (a, b) = (
                    closed.covariance.as_ref().unwrap(),
                    printed.covariance.as_ref().unwrap(),
                );
                let num: f64 = (0..a.nrows())
                    .flat_map(|i| (0..a.ncols()).map(move |j| (i, j)))
                    .map(|(i, j)| (a[(i, j)] - b[(i, j)]).norm_sqr())
                    .sum();
                let den: f64 = (0..a.nrows())
                    .flat_map(|i| (0..a.ncols()).map(move |j| (i, j)))
                    .map(|(i, j)| a[(i, j)].norm_sqr())
                    .sum();
                let dv = (num / den).sqrt();
                eprintln!("cpa {cpa} {kind:?} alpha {alpha}: closed vs printed V {dv:.1e}, objective {:.6e} vs {:.6e}, rank-one residual {rank_one:?}", closed.objective, printed.objective);
                // the printed programs are solved to a duality gap of 1e-8 of a quadratic
                // objective, which pins the minimiser only to ~sqrt(1e-8) = 1e-4 (measured
                // up to 1.0e-4 for CPA-WBF); the closed form is exact
                assert!(
                    dv < 5e-4,
                    "cpa {cpa} {kind:?} alpha {alpha}: V differs by {dv:e}"
                );
                assert!(rel(closed.objective, printed.objective) < 1e-4);
                if let Some(r) = rank_one {
                    assert!(r < 1e-5, "(19)/(21) not rank one: {r:e}");
                }
                // the weighted-sum CRB design is optimal for this weight: no mismatch design beats it
                let structure = if cpa {
                    Structure::Codebook
                } else {
                    Structure::Reduced
                };
                let best = solve(&m, alpha, false, structure);
                assert!(
                    best.objective <= closed.objective * (1.0 + 1e-6),
                    "cpa {cpa} {kind:?} alpha {alpha}: WCRB {} > {}",
                    best.objective,
                    closed.objective
                );
            }
        }
    }
}

/// Every front of Figs. 5 and 6 (digital parts: K = 1, 2, 3, the 21 weights of the
/// figures): no mismatch design beats the weighted-sum CRB optimum of its weight, CPA never
/// beats FDB, and Fusion's fused optimum is never above the unfused one. "Beats" is
/// measured against the better of the WCRB design's re-computed objective and the
/// program's epigraph value (`solver_objective`): they differ by up to ~2e-4 where the
/// optimal power sits on nearly singular directions (CPA, K = 1, alpha = 1: 1.9e-4, epigraph
/// above; three CPA points of Fig. 5: re-checked above, status `solved`), so either alone
/// would make the test depend on which one the solver's last digits favour.
#[test]
fn along_every_front_of_figs_5_and_6_wcrb_is_never_beaten() {
    use isac::systems::bpms::mismatch::{guides, mismatch, Method, Mismatch};
    let settings = design_settings();
    for k in 1..=3 {
        let m = model(&format!("target_count = {k}"));
        let g_fdb = guides(&m, false, &settings).unwrap();
        let g_cpa = guides(&m, true, &settings).unwrap();
        let mut checked = 0;
        for i in 0..=20 {
            let alpha = i as f64 / 20.0;
            let fdb = solve(&m, alpha, false, Structure::Reduced);
            let cpa = solve(&m, alpha, false, Structure::Codebook);
            for (is_cpa, best, g) in [(false, &fdb, &g_fdb), (true, &cpa, &g_cpa)] {
                for kind in [Mismatch::Beamformer, Mismatch::Covariance] {
                    let (d, _) =
                        mismatch(&m, kind, is_cpa, alpha, g, Method::ClosedForm, &settings)
                            .unwrap();
                    recheck(&m, &d);
                    let optimum = best.objective.min(best.solver_objective);
                    assert!(
                        d.objective >= optimum * (1.0 - 1e-6),
                        "K {k} alpha {alpha} cpa {is_cpa} {kind:?}: {} below the WCRB optimum {}",
                        d.objective,
                        optimum
                    );
                    checked += 1;
                }
            }
            let fdb_optimum = fdb.objective.min(fdb.solver_objective);
            assert!(
                cpa.objective >= fdb_optimum * (1.0 - 1e-6),
                "K {k} alpha {alpha}: CPA {} below FDB {}",
                cpa.objective,
                fdb_optimum
            );
            if k == 3 {
                // Fig. 6: Fusion within FDB-WCRB
                let fusion = solve(&m, alpha, true, Structure::Reduced);
                recheck(&m, &fusion);
                let fused = fusion.objective.min(fusion.solver_objective);
                assert!(
                    fused <= fdb.objective * (1.0 + 1e-6),
                    "alpha {alpha}: fused optimum {} above the unfused {}",
                    fused,
                    fdb.objective
                );
            }
        }
        assert_eq!(checked, 84);
    }
}
