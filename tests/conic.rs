//! Integration tests of the conic layer. Every expected value is derived by
//! hand (or by an independent computation: faer eigenvalues, water-filling by
//! bisection), never copied from the solver's output.

use faer::{Mat, Side};
use isac::conic::{
    Accuracy, Affine, ComplexAffine, Fallback, Inaccuracy, Problem, SolverSettings, Status,
    StopCause,
};
use isac::{IsacError, C64};

const TOL: f64 = 1e-5;

/// Clarabel's full accuracy, past the violation gate.
const OPTIMAL: Status = Status::Optimal {
    accuracy: Accuracy::Full,
};
/// A full-accuracy certificate that passed its check.
const INFEASIBLE: Status = Status::Infeasible {
    accuracy: Accuracy::Full,
};

fn settings() -> SolverSettings {
    SolverSettings::default()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

macro_rules! assert_close {
    ($a:expr, $b:expr) => {
        assert_close!($a, $b, TOL)
    };
    ($a:expr, $b:expr, $tol:expr) => {{
        let (a, b) = ($a, $b);
        assert!(close(a, b, $tol), "{} = {a}, expected {b}", stringify!($a));
    }};
}

#[test]
fn lp_known_optimum() {
    // max 3x + 2y s.t. x + y <= 4, x + 3y <= 6, x, y >= 0.
    // Vertices (0,0),(4,0),(3,1),(0,2) give 0, 12, 11, 4: optimum 12 at (4,0).
    let mut p = Problem::new();
    let x = p.nonneg_scalar();
    let y = p.nonneg_scalar();
    p.le(&x + &y, 4.0);
    p.le(&x + &y * 3.0, 6.0);
    p.maximize(&x * 3.0 + &y * 2.0);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, 12.0);
    assert_close!(s.value(&x), 4.0);
    assert!(s.value(&y).abs() < 1e-6);
    assert!(s.violation.scaled < 1e-6);
}

#[test]
fn lp_equality_and_ge() {
    // min x + 2y s.t. x + y = 3, x <= 1, y >= 0 -> x = 1, y = 2, value 5.
    let mut p = Problem::new();
    let v = p.vector(2);
    p.eq(&v[0] + &v[1], 3.0);
    p.le(v[0].clone(), 1.0);
    p.ge(v[1].clone(), 0.0);
    p.minimize(&v[0] + &v[1] * 2.0);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, 5.0);
}

#[test]
fn lp_infeasible() {
    let mut p = Problem::new();
    let x = p.scalar();
    p.ge(x.clone(), 1.0);
    p.le(x.clone(), 0.0);
    p.minimize(x);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, INFEASIBLE);
    assert_eq!(s.objective, f64::INFINITY);
}

#[test]
fn lp_unbounded() {
    let mut p = Problem::new();
    let x = p.scalar();
    p.le(x.clone(), 0.0);
    p.minimize(x);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, Status::Unbounded);
    assert_eq!(s.objective, f64::NEG_INFINITY);
}

#[test]
fn soc_projection_onto_hyperplane() {
    // min ||x - c|| s.t. sum x = 0, c = (1,2,3):
    // distance |sum c| / sqrt(3) = 6/sqrt(3), x* = c - 2 * 1 = (-1, 0, 1).
    let c = [1.0, 2.0, 3.0];
    let mut p = Problem::new();
    let x = p.vector(3);
    let t = p.scalar();
    let d: Vec<Affine> = x.iter().zip(c).map(|(xi, ci)| xi - ci).collect();
    p.soc(t.clone(), &d);
    p.eq(Affine::sum(&x), 0.0);
    p.minimize(t.clone());
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, 6.0 / 3f64.sqrt());
    for (xi, want) in x.iter().zip([-1.0, 0.0, 1.0]) {
        assert!((s.value(xi) - want).abs() < 1e-5);
    }
}

#[test]
fn soc_projection_onto_orthant() {
    // min ||x - c|| s.t. x >= 0, c = (1,-2,3): x* = (1,0,3), distance 2.
    let c = [1.0, -2.0, 3.0];
    let mut p = Problem::new();
    let x: Vec<Affine> = (0..3).map(|_| p.nonneg_scalar()).collect();
    let t = p.scalar();
    let d: Vec<Affine> = x.iter().zip(c).map(|(xi, ci)| xi - ci).collect();
    p.soc(t.clone(), &d);
    p.minimize(t);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, 2.0);
    assert!((s.value(&x[1])).abs() < 1e-5);
    assert_close!(s.value(&x[2]), 3.0);
}

#[test]
fn exp_cone_log() {
    // max t s.t. t <= log(x), x <= 2 -> t = ln 2.
    let mut p = Problem::new();
    let t = p.scalar();
    let x = p.scalar();
    p.exp_cone(t.clone(), 1.0, x.clone());
    p.le(x.clone(), 2.0);
    p.maximize(t.clone());
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, 2f64.ln());
    assert_close!(s.value(&x), 2.0);
}

fn sym_test_matrix() -> Mat<f64> {
    let base = [
        [2.0, -1.0, 0.5, 0.3],
        [-1.0, 1.5, 0.7, -0.2],
        [0.5, 0.7, -0.4, 0.9],
        [0.3, -0.2, 0.9, 1.1],
    ];
    Mat::from_fn(4, 4, |i, j| base[i][j])
}

#[test]
fn psd_triangle_offdiagonal_scaling() {
    // min X00 + X11 s.t. X01 = 1, X >= 0: X00 X11 >= 1 so the optimum is 2 at
    // X = [[1,1],[1,1]]. A wrong sqrt(2) convention would give a different value.
    let mut p = Problem::new();
    let x = p.psd_symmetric(2);
    p.eq(x.entry(0, 1).unwrap(), 1.0);
    p.minimize(x.trace());
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, 2.0);
    let xv = s.symmetric_value(&x);
    assert_close!(xv[(0, 0)], 1.0, 1e-4);
    assert_close!(xv[(1, 0)], 1.0, 1e-4);
}

#[test]
fn real_sdp_min_eigenvalue() {
    // min tr(C X) s.t. tr X = 1, X >= 0 equals lambda_min(C).
    let c = sym_test_matrix();
    let lmin = c.self_adjoint_eigenvalues(Side::Lower).unwrap()[0];
    let mut p = Problem::new();
    let x = p.psd_symmetric(4);
    p.eq(x.trace(), 1.0);
    p.minimize(x.trace_with(&c).unwrap());
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, lmin);
}

fn herm_test_matrix() -> Mat<C64> {
    let re = [[1.0, 0.5, -0.3], [0.5, -0.7, 0.2], [-0.3, 0.2, 0.4]];
    let im = [[0.0, 0.8, 0.1], [-0.8, 0.0, -0.6], [-0.1, 0.6, 0.0]];
    Mat::from_fn(3, 3, |i, j| C64::new(re[i][j], im[i][j]))
}

#[test]
fn hermitian_sdp_min_eigenvalue() {
    let c = herm_test_matrix();
    let lmin = c.self_adjoint_eigenvalues(Side::Lower).unwrap()[0];
    let mut p = Problem::new();
    let x = p.psd_hermitian(3);
    p.eq(x.trace(), 1.0);
    let obj = x.trace_with(&c).unwrap();
    p.minimize(obj.re.clone());
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, lmin);
    // tr(CX) is real for Hermitian C, X
    assert!(s.complex_value(&obj).im.abs() < 1e-6);
    assert_close!(s.value(&x.real_trace_with(&c).unwrap()), lmin);
}

#[test]
fn hermitian_beamforming_rank_one() {
    // max a^H X a s.t. tr X <= P: value P ||a||^2 at X = P a a^H / ||a||^2.
    let a = [C64::new(1.0, 0.5), C64::new(-0.3, 0.8), C64::new(0.2, -1.1)];
    let pw = 2.0;
    let na2: f64 = a.iter().map(|z| z.norm_sqr()).sum();
    let mut p = Problem::new();
    let x = p.psd_hermitian(3);
    p.le(x.trace(), pw);
    p.maximize(x.quad_form(&a).unwrap());
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, pw * na2);
    let xv = s.hermitian_value(&x);
    for i in 0..3 {
        for j in 0..3 {
            let want = a[i] * a[j].conj() * (pw / na2);
            assert!((xv[(i, j)] - want).norm() < 1e-4, "X[{i}{j}]");
        }
    }
    let ev = xv.self_adjoint_eigenvalues(Side::Lower).unwrap();
    assert_close!(ev[2], pw, 1e-4);
    assert!(ev[0].abs() < 1e-4 && ev[1].abs() < 1e-4, "rank one: {ev:?}");
}

#[test]
fn log_det_hermitian_unit_diagonal() {
    // max log det X s.t. diag(X) <= 1: Hadamard gives det X <= prod X_ii <= 1,
    // so the optimum is 0 at X = I.
    let mut p = Problem::new();
    let x = p.psd_hermitian(3);
    for i in 0..3 {
        p.le(x.entry(i, i).unwrap().re, 1.0);
    }
    let t = p.scalar();
    p.log_det_ge(x.matrix(), t.clone()).unwrap();
    p.maximize(t);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL, "{:?}", s.status);
    assert!(s.objective.abs() < 1e-5, "{}", s.objective);
    let xv = s.hermitian_value(&x);
    for i in 0..3 {
        for j in 0..3 {
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((xv[(i, j)] - C64::new(want, 0.0)).norm() < 1e-3);
        }
    }
}

#[test]
fn log_det_symmetric_trace_budget() {
    // max log det X s.t. tr X <= n: AM-GM gives det X <= (tr X / n)^n <= 1: 0 at I.
    let mut p = Problem::new();
    let x = p.psd_symmetric(3);
    p.le(x.trace(), 3.0);
    let t = p.scalar();
    p.log_det_ge_symmetric(x.matrix(), t.clone()).unwrap();
    p.maximize(t);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert!(s.objective.abs() < 1e-5);
}

/// Water-filling by bisection on the water level mu: p_i = max(0, mu - 1/g_i), sum p_i = P.
fn water_filling(g: &[f64], pw: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, pw + g.iter().map(|v| 1.0 / v).fold(0.0, f64::max));
    for _ in 0..200 {
        let mu = 0.5 * (lo + hi);
        let used: f64 = g.iter().map(|v| (mu - 1.0 / v).max(0.0)).sum();
        if used > pw {
            hi = mu;
        } else {
            lo = mu;
        }
    }
    let mu = 0.5 * (lo + hi);
    g.iter()
        .map(|v| (1.0 + v * (mu - 1.0 / v).max(0.0)).ln())
        .sum()
}

/// `max log det(I + H X H^H) s.t. tr X <= P, X >= 0` through `log_det_ge`:
/// (optimal value, X).
fn max_log_det_program(h: &Mat<C64>, pw: f64) -> (f64, Mat<C64>) {
    let mut p = Problem::new();
    let x = p.psd_hermitian(h.ncols());
    p.le(x.trace(), pw);
    let mut m = x.congruence(h).unwrap();
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = row[i].clone() + 1.0;
    }
    let t = p.scalar();
    p.log_det_ge(m, t.clone()).unwrap();
    p.maximize(t);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL, "{:?}", s.status);
    (s.objective, s.hermitian_value(&x))
}

#[test]
fn log_det_water_filling() {
    // max log det(I + H X H^H) s.t. tr X <= P, H diagonal (complex).
    let h = [
        C64::new(0.0, 2.0),
        C64::new(1.0, 0.0),
        C64::from_polar(0.5, 0.3),
    ];
    let pw = 2.0;
    let g: Vec<f64> = h.iter().map(|z| z.norm_sqr()).collect();
    let want = water_filling(&g, pw);
    // by hand: mu = 1.625, p = (1.375, 0.625, 0), value ln 6.5 + ln 1.625
    assert_close!(want, 6.5f64.ln() + 1.625f64.ln(), 1e-9);
    let hm = Mat::from_fn(3, 3, |i, j| if i == j { h[i] } else { C64::new(0.0, 0.0) });
    let (objective, xv) = max_log_det_program(&hm, pw);
    assert_close!(objective, want, 1e-5);
    assert_close!(xv[(0, 0)].re, 1.375, 1e-3);
    assert_close!(xv[(1, 1)].re, 0.625, 1e-3);
}

#[test]
fn inv_epigraph_scalar() {
    // min t s.t. t >= 1/x, x <= 4 -> 0.25.
    let mut p = Problem::new();
    let x = p.scalar();
    let t = p.scalar();
    p.inv_epigraph(x.clone(), t.clone());
    p.le(x.clone(), 4.0);
    p.minimize(t);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, 0.25);
    assert_close!(s.value(&x), 4.0, 1e-4);
}

#[test]
fn trace_inv_diagonal() {
    // min sum 1/u_i s.t. sum u <= s: by symmetry/convexity u_i = s/n, value n^2/s.
    let (n, budget) = (3, 6.0);
    let mut p = Problem::new();
    let u = p.vector(n);
    p.le(Affine::sum(&u), budget);
    let um: Vec<Vec<Affine>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| if i == j { u[i].clone() } else { Affine::zero() })
                .collect()
        })
        .collect();
    let t = p.scalar();
    p.trace_inv_epigraph(um, t.clone()).unwrap();
    p.minimize(t);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, (n * n) as f64 / budget);
}

#[test]
fn trace_inv_non_diagonal() {
    // U(x) = [[1+x, 1],[1, 3-x]]: tr U^{-1} = tr U / det U = 4 / (2 + 2x - x^2),
    // minimised at x = 1 (det = 3): value 4/3.
    let mut p = Problem::new();
    let x = p.scalar();
    let u = vec![
        vec![&x + 1.0, Affine::constant(1.0)],
        vec![Affine::constant(1.0), Affine::constant(3.0) - &x],
    ];
    let t = p.scalar();
    p.trace_inv_epigraph(u, t.clone()).unwrap();
    p.minimize(t);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, 4.0 / 3.0);
    assert_close!(s.value(&x), 1.0, 1e-3);
}

#[test]
fn lmi_hermitian_affine() {
    // min t s.t. t I - C >= 0 (Hermitian LMI) -> lambda_max(C).
    let c = herm_test_matrix();
    let lmax = c.self_adjoint_eigenvalues(Side::Lower).unwrap()[2];
    let mut p = Problem::new();
    let t = p.scalar();
    let m: Vec<Vec<_>> = (0..3)
        .map(|i| {
            (0..3)
                .map(|j| {
                    let mut e = isac::conic::ComplexAffine::constant(-c[(i, j)]);
                    if i == j {
                        e.re += &t;
                    }
                    e
                })
                .collect()
        })
        .collect();
    p.lmi_hermitian(m).unwrap();
    p.minimize(t);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, lmax);
}

#[test]
fn lmi_symmetric_rejects_asymmetric_and_hermitian_rejects_non_hermitian() {
    let mut p = Problem::new();
    let x = p.scalar();
    let bad = vec![
        vec![x.clone(), Affine::constant(1.0)],
        vec![Affine::constant(2.0), x.clone()],
    ];
    assert!(matches!(p.lmi_symmetric(bad), Err(IsacError::Input { .. })));
    let h = p.psd_hermitian(2);
    let mut m = h.matrix();
    m[1][0] = m[0][1].clone(); // should be the conjugate
    assert!(matches!(p.lmi_hermitian(m), Err(IsacError::Input { .. })));
    assert!(h.entry(2, 0).is_err());
    assert!(h.quad_form(&[C64::new(1.0, 0.0)]).is_err());
}

#[test]
fn infeasible_sdp() {
    let mut p = Problem::new();
    let x = p.psd_symmetric(3);
    p.eq(x.trace(), -1.0);
    p.minimize(x.trace());
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, INFEASIBLE);
}

#[test]
fn badly_scaled_problem_is_consistent() {
    // min x + y s.t. 1e9 x >= 1e9, 1e-9 y >= 2e-9, x <= 1e9: optimum (1, 2), value 3.
    let mut p = Problem::new();
    let x = p.scalar();
    let y = p.scalar();
    p.ge(&x * 1e9, 1e9);
    p.ge(&y * 1e-9, 2e-9);
    p.le(x.clone(), 1e9);
    p.minimize(&x + &y);
    // Without normalisation Clarabel claims unboundedness here; the layer's check of the
    // direction rejects the claim. Row normalisation, now a fallback, recovers the optimum.
    for fallbacks in [vec![], vec![Fallback::NormalizeRows]] {
        let st = SolverSettings {
            fallbacks: fallbacks.clone(),
            ..settings()
        };
        let s = p.solve(&st).unwrap();
        match &s.status {
            Status::Optimal { .. } => {
                assert!(s.violation.scaled <= st.violation_tol);
                assert_close!(s.objective, 3.0, 1e-4);
            }
            Status::Inaccurate { .. } => {}
            other => panic!("unexpected status {other:?}"),
        }
        if !fallbacks.is_empty() {
            assert_eq!(s.status, OPTIMAL);
        }
    }
}

#[test]
fn badly_scaled_sdp_status_consistent_with_violation() {
    // A PSD variable with entries of very different sizes. Whatever the status,
    // an Optimal answer must come with a small re-evaluated violation.
    let mut p = Problem::new();
    let x = p.psd_symmetric(2);
    p.eq(x.entry(0, 0).unwrap() * 1e-9, 1e-9);
    p.eq(x.entry(1, 1).unwrap() * 1e9, 4e9);
    p.maximize(x.entry(0, 1).unwrap());
    let s = p.solve(&settings()).unwrap();
    if s.status.is_optimal() {
        assert!(s.violation.scaled <= 1e-5);
        assert_close!(s.objective, 2.0, 1e-4); // X01 <= sqrt(1 * 4)
    } else {
        assert!(
            matches!(s.status, Status::Inaccurate { .. }),
            "{:?}",
            s.status
        );
    }
}

#[test]
fn nan_and_empty_are_errors_not_panics() {
    let p = Problem::new();
    assert!(matches!(p.solve(&settings()), Err(IsacError::Numerical(_))));

    let mut p = Problem::new();
    let x = p.scalar();
    p.le(&x * f64::NAN, 1.0);
    p.minimize(x.clone());
    assert!(matches!(p.solve(&settings()), Err(IsacError::Numerical(_))));

    let mut p = Problem::new();
    let x = p.scalar();
    p.minimize(&x * f64::INFINITY);
    assert!(matches!(p.solve(&settings()), Err(IsacError::Numerical(_))));

    // NaN inside an LMI
    let mut p = Problem::new();
    let x = p.scalar();
    let m = vec![vec![&x * f64::NAN]];
    assert!(p.lmi_symmetric(m).is_err());
}

#[test]
fn no_constraints() {
    // min x with no constraints is unbounded; a pure feasibility problem is optimal.
    let mut p = Problem::new();
    let x = p.scalar();
    p.minimize(x.clone());
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, Status::Unbounded);

    let mut p = Problem::new();
    let x = p.scalar();
    p.eq(x.clone(), 2.0);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.value(&x), 2.0);
}

#[test]
fn max_iter_gives_inaccurate() {
    let c = sym_test_matrix();
    let mut p = Problem::new();
    let x = p.psd_symmetric(4);
    p.eq(x.trace(), 1.0);
    p.minimize(x.trace_with(&c).unwrap());
    let st = SolverSettings {
        max_iter: 2,
        ..settings()
    };
    let s = p.solve(&st).unwrap();
    assert_eq!(
        s.status,
        Status::Inaccurate {
            cause: Inaccuracy::SolverStopped(StopCause::MaxIterations)
        }
    );
    assert!(s.status.to_string().contains("MaxIterations"));
    assert!(s.status.has_point() && !s.status.is_optimal());
}

#[test]
fn checker_detects_mis_mapped_point() {
    // Solve a problem, then hand the checker the solution with two variables
    // swapped: it must report a violation.
    let mut p = Problem::new();
    let x = p.scalar();
    let y = p.scalar();
    p.ge(x.clone(), 1.0);
    p.le(y.clone(), -1.0);
    p.minimize(&x - &y);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    let good = p.violations(&s.values);
    assert!(good.iter().all(|&v| v < 1e-7));
    let mut bad = s.values.clone();
    bad.swap(0, 1);
    let v = p.violations(&bad);
    assert!(v[0] > 0.5 && v[1] > 0.5, "{v:?}");

    // log-det: the identity satisfies log det X >= t only for t <= 0.
    let mut p = Problem::new();
    let xh = p.psd_hermitian(2);
    let t = p.scalar();
    p.log_det_ge(xh.matrix(), t.clone()).unwrap();
    // values layout: [X00, X11, Re X01, Im X01, t, ...aux]
    let mut pt = vec![0.0; p.num_vars()];
    pt[0] = 1.0;
    pt[1] = 1.0;
    pt[4] = -0.1;
    assert!(p.violations(&pt)[1] == 0.0);
    pt[4] = 0.5; // log det I = 0 < 0.5
    let v = p.violations(&pt);
    assert!(v[1] > 0.3, "{v:?}");
    pt[2] = 2.0; // X no longer PSD: both the PSD and the log-det checks fail
    let v = p.violations(&pt);
    assert!(v[0] > 0.1 && v[1].is_infinite(), "{v:?}");
    // a point of the wrong length is a violation, not a panic
    assert!(p.violations(&[]).iter().all(|v| v.is_infinite()));
}

#[test]
fn checker_is_scale_invariant_for_rows() {
    // 1e-9 y >= 2e-9 at y = 1 is violated by half the row, whatever its scale.
    let mut p = Problem::new();
    let y = p.scalar();
    p.ge(&y * 1e-9, 2e-9);
    p.eq(&y * 1e9, 2e9);
    let v = p.violations(&[1.0]);
    assert!(v[0] > 0.1 && v[1] > 0.1, "{v:?}");
    let v = p.violations(&[2.0]);
    assert!(v[0] < 1e-12 && v[1] < 1e-12, "{v:?}");
}

/// Eigenvalues of a 2x2 Hermitian matrix, closed form.
fn eig2(a: &Mat<C64>) -> [f64; 2] {
    let (p, q, r) = (a[(0, 0)].re, a[(1, 1)].re, a[(0, 1)].norm_sqr());
    let m = 0.5 * (p + q);
    let d = (0.25 * (p - q) * (p - q) + r).sqrt();
    [m - d, m + d]
}

#[test]
fn log_det_two_by_two_is_water_filling_over_singular_values() {
    // max log det(I + H X H^H) s.t. tr X <= P for a full complex 2x3 H: the optimum is
    // water-filling over the eigenvalues of H H^H (a 2x2 log-det: the SOC special case).
    let h = Mat::from_fn(2, 3, |i, j| {
        C64::from_polar(
            0.4 + 0.3 * (i + 2 * j) as f64,
            0.7 * (i * 3 + j) as f64 - 1.0,
        )
    });
    let hh = &h * h.adjoint();
    let g = eig2(&hh);
    for pw in [0.05, 1.0, 20.0] {
        let want = water_filling(&g, pw);
        let (objective, xv) = max_log_det_program(&h, pw);
        assert_close!(objective, want, 1e-6);
        // the log det of the returned X itself reaches the bound
        let mut a = &(&h * &xv) * h.adjoint();
        a[(0, 0)] += C64::new(1.0, 0.0);
        a[(1, 1)] += C64::new(1.0, 0.0);
        let e = eig2(&a);
        assert_close!(e[0].ln() + e[1].ln(), want, 1e-6);
    }
}

#[test]
fn log_det_one_by_one_is_a_log() {
    // max t s.t. log(1 + 3 x) >= t, x <= 2  ->  ln 7.
    let mut p = Problem::new();
    let x = p.psd_hermitian(1);
    p.le(x.trace(), 2.0);
    let m = vec![vec![ComplexAffine::real(x.trace().scaled(3.0) + 1.0)]];
    let t = p.scalar();
    p.log_det_ge(m, t.clone()).unwrap();
    p.maximize(t);
    let s = p.solve(&settings()).unwrap();
    assert_eq!(s.status, OPTIMAL);
    assert_close!(s.objective, 7f64.ln(), 1e-7);
}

// ---- the typed result, the gate, the retry policy, problem identity, re-use ----

#[test]
fn scaled_measure_catches_a_violation_of_one_on_a_row_of_size_1e6() {
    // 1e6 x >= 1 at x = 0 is violated by 1 (its whole right-hand side). The former
    // measure divided by the data scale 1e6 and then by 1 + |..|, reporting 1e-6 (a pass
    // at the default gate 1e-5); the scaled measure divides by the size of the terms
    // at the point, |0| + |-1| = 1.
    let mut p = Problem::new();
    let x = p.scalar();
    let y = p.scalar();
    p.ge(&x * 1e6, 1.0);
    p.ge(y.clone(), 0.0);
    let m = p.measure_violations(&[0.0, -1e-12]);
    assert_eq!(m[0].absolute, 1.0);
    // the terms at the point have size 1, but the floor 1e-3 * 1e6 * max(1, ||x||) = 1e3
    // (the solver's accuracy on x: a shortfall of 1e-6 in x is at the floor's level)
    // applies: 1 / 1e3, a hundred times the gate
    assert_eq!(m[0].scaled, 1e-3);
    assert!(m[0].scaled >= 100.0 * SolverSettings::default().violation_tol);
    // round-off where every term vanishes (y >= 0 at y = -1e-12) is judged against the
    // floor 1e-3 * |coef| * max(1, ||x||_inf) = 1e-3: scaled 1e-9, a pass
    assert_eq!(m[1].absolute, 1e-12);
    assert!(m[1].scaled <= 1e-9 * (1.0 + 1e-12), "{:?}", m[1]);
    // rescaling a row does not change its scaled violation
    let mut q = Problem::new();
    let x = q.scalar();
    q.ge(&x * 1.0, 1e-6);
    assert_eq!(q.violations(&[0.0])[0], 1e-3);
    // a row of size 1e6 at the point: 1e6 x >= 1e6 at x = 1 - 1e-6 is short by 1 on terms
    // of size 2e6: scaled 5e-7, which is Clarabel-level accuracy on x
    let mut q = Problem::new();
    let x = q.scalar();
    q.ge(&x * 1e6, 1e6);
    let m = q.measure_violations(&[1.0 - 1e-6]);
    assert!((m[0].absolute - 1.0).abs() < 1e-9);
    assert!((m[0].scaled - 1.0 / (2e6 - 1.0)).abs() < 1e-12);
}

#[test]
fn scaled_measure_sees_a_violation_in_a_small_direction_of_an_lmi() {
    // M = [[J, e], [e, t]] with data J = 1e6, e = 1e3 and t = 0.5: the Schur complement
    // t - e^2/J = -0.5 < 0, i.e. t is half the CRB it must exceed. lambda_min(M) is
    // ~ -0.5 (absolute); relative to the data scale 1e6 (the former measure) it was
    // ~2.5e-7, a pass. The diagonal congruence D^-1 M D^-1, D = diag(1e3, sqrt 0.5),
    // gives [[1, r],[r, 1]] with r = 1 / sqrt(0.5): lambda_min = 1 - r = -0.414.
    let mut p = Problem::new();
    let t = p.scalar();
    let m = vec![
        vec![Affine::constant(1e6), Affine::constant(1e3)],
        vec![Affine::constant(1e3), t.clone()],
    ];
    p.lmi_symmetric(m).unwrap();
    let meas = p.measure_violations(&[0.5]);
    let r = 1.0 / 0.5f64.sqrt();
    assert_close!(meas[0].scaled, r - 1.0, 1e-9);
    // absolute: the smaller root of l^2 - (J + t) l + (J t - e^2) = 0
    let (a, b): (f64, f64) = (1e6 + 0.5, 1e6 * 0.5 - 1e6);
    let lmin = b / (0.5 * (a + (a * a - 4.0 * b).sqrt())); // product of roots / larger root
    assert_close!(meas[0].absolute, -lmin, 1e-6);
}

#[test]
fn gate_rejects_a_solved_claim_at_a_violated_point_and_the_fallback_recovers() {
    // max 3x + 2y s.t. x + y <= 4, x + 3y <= 6, x, y >= 0 (optimum 12 at (4, 0)).
    // With tolerances of 0.5 Clarabel stops early and claims Solved; the gate measures the
    // returned point and must agree with an independent evaluation of the rows.
    let mut p = Problem::new();
    let x = p.nonneg_scalar();
    let y = p.nonneg_scalar();
    p.le(&x + &y, 4.0);
    p.le(&x + &y * 3.0, 6.0);
    p.maximize(&x * 3.0 + &y * 2.0);
    let loose = SolverSettings {
        tol_gap_abs: 0.5,
        tol_gap_rel: 0.5,
        tol_feas: 0.5,
        tol_ktratio: 0.5,
        ..settings()
    };
    let s = p.solve(&loose).unwrap();
    // independent evaluation: largest shortfall of each row relative to its terms
    let (xv, yv) = (s.values[0], s.values[1]);
    let rows = [
        ((xv).min(0.0).abs(), xv.abs()),
        ((yv).min(0.0).abs(), yv.abs()),
        ((4.0 - xv - yv).min(0.0).abs(), 4.0 + xv.abs() + yv.abs()),
        (
            (6.0 - xv - 3.0 * yv).min(0.0).abs(),
            6.0 + xv.abs() + 3.0 * yv.abs(),
        ),
    ];
    let worst = rows
        .iter()
        .map(|(v, m)| {
            if *v == 0.0 {
                0.0
            } else {
                v / m.max(1e-3 * xv.abs().max(yv.abs()).max(1.0))
            }
        })
        .fold(0.0f64, f64::max);
    assert_close!(s.violation.scaled, worst, 1e-9);
    if worst > loose.violation_tol {
        assert!(
            matches!(
                s.status,
                Status::Inaccurate {
                    cause: Inaccuracy::ViolationGate { .. }
                }
            ),
            "{:?} at a point violated by {worst}",
            s.status
        );
    } else {
        assert!(s.status.is_optimal());
    }
    // the retry policy: the same loose settings with a fallback to Clarabel's tolerances
    let with_fallback = SolverSettings {
        fallbacks: vec![Fallback::ClarabelTolerances],
        ..loose.clone()
    };
    let s2 = p.solve(&with_fallback).unwrap();
    assert!(s2.status.is_optimal());
    if worst > loose.violation_tol {
        assert_eq!(s2.attempts.len(), 2);
        assert_eq!(s2.fallback, Some(Fallback::ClarabelTolerances));
        assert!(matches!(s2.attempts[0].status, Status::Inaccurate { .. }));
        assert_close!(s2.objective, 12.0);
    } else {
        // a feasible point passes the gate (it checks feasibility, not the gap)
        assert_eq!(s2.attempts.len(), 1);
    }
    // deterministic: settings that fail (two iterations), then a fallback that succeeds
    let failing = SolverSettings {
        max_iter: 2,
        fallbacks: vec![
            Fallback::DirectSolveMethod("qdldl".into()),
            Fallback::Replace(Box::new(settings())),
        ],
        ..settings()
    };
    let s4 = p.solve(&failing).unwrap();
    assert_eq!(s4.status, OPTIMAL);
    assert_close!(s4.objective, 12.0);
    assert_eq!(s4.attempts.len(), 3);
    assert_eq!(s4.fallback, Some(Fallback::Replace(Box::new(settings()))));
    for a in &s4.attempts[..2] {
        assert_eq!(
            a.status,
            Status::Inaccurate {
                cause: Inaccuracy::SolverStopped(StopCause::MaxIterations)
            }
        );
    }
    // a fallback is not tried when the first answer is accepted
    let s3 = p.solve(&SolverSettings {
        fallbacks: vec![Fallback::DirectSolveMethod("qdldl".into())],
        ..settings()
    });
    let s3 = s3.unwrap();
    assert_eq!(s3.attempts.len(), 1);
    assert_eq!(s3.fallback, None);
}

#[test]
fn fallbacks_are_tried_in_order_until_one_is_accepted() {
    // max_iter 2 fails whatever the backend (MaxIterations) — every fallback is tried and
    // the last inaccurate answer with a finite point is returned, with its cause typed.
    let c = sym_test_matrix();
    let mut p = Problem::new();
    let x = p.psd_symmetric(4);
    p.eq(x.trace(), 1.0);
    p.minimize(x.trace_with(&c).unwrap());
    let st = SolverSettings {
        max_iter: 2,
        fallbacks: vec![
            Fallback::DirectSolveMethod("qdldl".into()),
            Fallback::ClarabelTolerances,
        ],
        ..settings()
    };
    let s = p.solve(&st).unwrap();
    assert_eq!(s.attempts.len(), 3);
    assert_eq!(s.attempts[1].fallback, st.fallbacks.first().cloned());
    assert!(s.attempts.iter().all(|a| a.status
        == Status::Inaccurate {
            cause: Inaccuracy::SolverStopped(StopCause::MaxIterations)
        }));
    assert!(s.has_finite_point());
}

#[test]
fn reduced_accuracy_answer_is_measured_before_it_is_accepted() {
    // Unreachable full tolerances (1e-15) and a small iteration cap: Clarabel falls back to
    // its reduced tolerances and answers AlmostSolved (or stops). Whatever it claims, a
    // returned Optimal { Reduced } must pass the gate by the layer's own measure, which is
    // recomputed here from the values, and must be near the known optimum 2.
    let mut p = Problem::new();
    let x = p.psd_symmetric(2);
    p.eq(x.entry(0, 1).unwrap(), 1.0);
    p.minimize(x.trace());
    for max_iter in [4, 6, 8, 12, 30] {
        let st = SolverSettings {
            tol_gap_abs: 1e-15,
            tol_gap_rel: 1e-15,
            tol_feas: 1e-15,
            max_iter,
            ..settings()
        };
        let s = p.solve(&st).unwrap();
        let own = p.violations(&s.values).into_iter().fold(0.0f64, f64::max);
        assert_close!(s.violation.scaled, own, 1e-12);
        match &s.status {
            Status::Optimal { accuracy } => {
                assert!(own <= st.violation_tol);
                if *accuracy == Accuracy::Reduced {
                    assert_close!(s.objective, 2.0, 1e-3);
                }
            }
            Status::Inaccurate {
                cause:
                    Inaccuracy::ViolationGate {
                        accuracy,
                        violation,
                    },
            } => {
                assert!(own > st.violation_tol);
                assert_eq!(violation.scaled, own);
                assert_eq!(*accuracy, Accuracy::Reduced);
            }
            Status::Inaccurate {
                cause: Inaccuracy::SolverStopped(_),
            } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn foreign_variables_are_rejected() {
    let mut a = Problem::new();
    let mut b = Problem::new();
    assert_ne!(a.id(), b.id());
    let xa = a.scalar();
    let xb = b.scalar();
    let ra = a.psd_hermitian(2);
    assert_eq!(ra.problem(), a.id());
    assert_eq!(xa.problem(), Some(a.id()));
    // builders that return Result refuse at once, naming themselves
    let e = b.lmi_symmetric(vec![vec![xa.clone()]]).unwrap_err();
    assert!(e.to_string().contains("lmi_symmetric"), "{e}");
    assert!(b.log_det_ge(ra.matrix(), xb.clone()).is_err());
    assert!(b
        .trace_inv_epigraph(vec![vec![xb.clone()]], xa.clone())
        .is_err());
    // the others record it and the solve fails, naming the constraint
    b.le(&xb + &xa, 1.0);
    b.minimize(xb.clone());
    let e = b.solve(&settings()).unwrap_err();
    assert!(e.to_string().contains("constraint #0"), "{e}");
    // a foreign objective
    let mut c = Problem::new();
    let xc = c.scalar();
    c.ge(xc.clone(), 0.0);
    c.minimize(xa.clone());
    assert!(c.solve(&settings()).is_err());
    // a clone keeps the id: its variables are the same unknowns
    let mut d = a.clone();
    d.ge(xa.clone(), 1.0);
    d.minimize(xa.clone());
    assert_eq!(d.solve(&settings()).unwrap().status, OPTIMAL);
}

#[test]
fn replaced_rows_give_the_program_a_fresh_build_gives() {
    // An SDP whose linear rows change between "iterations": max <C, X> s.t. tr X <= p_k,
    // X_00 >= l_k, and an LMI [[X_11, 1],[1, s]] >= 0 with s <= u_k. Updating the rows in
    // place must give exactly the answer of a fresh build with the new data.
    let c = sym_test_matrix();
    let build = |pw: f64, low: f64, up: f64| {
        let mut p = Problem::new();
        let x = p.psd_symmetric(4);
        let s = p.scalar();
        let r0 = p.le(x.trace(), pw);
        let r1 = p.ge(x.entry(0, 0).unwrap(), low);
        let m = vec![
            vec![x.entry(1, 1).unwrap(), Affine::constant(1.0)],
            vec![Affine::constant(1.0), s.clone()],
        ];
        let r2 = p.lmi_symmetric(m).unwrap();
        let r3 = p.le(s.clone(), up);
        p.maximize(x.trace_with(&c).unwrap() - &s);
        (p, x, s, [r0, r1, r2, r3])
    };
    let (mut p, x, s, ids) = build(1.0, 0.1, 5.0);
    let first = p.solve(&settings()).unwrap();
    assert_eq!(first.status, OPTIMAL);
    for (pw, low, up) in [(2.0, 0.3, 4.0), (0.5, 0.05, 9.0)] {
        p.replace_le(ids[0], x.trace(), pw).unwrap();
        p.replace_ge(ids[1], x.entry(0, 0).unwrap(), low).unwrap();
        p.replace_lmi_symmetric(
            ids[2],
            vec![
                vec![x.entry(1, 1).unwrap(), Affine::constant(1.0)],
                vec![Affine::constant(1.0), s.clone()],
            ],
        )
        .unwrap();
        p.replace_le(ids[3], s.clone(), up).unwrap();
        let updated = p.solve(&settings()).unwrap();
        let (fresh_p, _, _, _) = build(pw, low, up);
        let fresh = fresh_p.solve(&settings()).unwrap();
        assert_eq!(updated.status, OPTIMAL);
        assert_eq!(fresh.status, OPTIMAL);
        // same lowered data, same deterministic solver: the same answer
        assert_eq!(updated.values, fresh.values);
        assert_eq!(updated.objective, fresh.objective);
    }
    // wrong kinds and sizes are input errors
    assert!(p.replace_eq(ids[0], x.trace(), 1.0).is_err());
    assert!(p.replace_le(ids[2], x.trace(), 1.0).is_err());
    assert!(p
        .replace_lmi_symmetric(ids[2], vec![vec![s.clone()]])
        .is_err());
    assert!(p
        .replace_le(isac::conic::ConstraintId(99), x.trace(), 1.0)
        .is_err());
}

#[test]
fn fast_hermitian_builders_agree_with_the_entrywise_sums() {
    // tr(A X), a^H X a and B X B^H built directly in storage order must equal the sums
    // over the entry expressions X_ij, evaluated at a random Hermitian point.
    let n = 5;
    let mut p = Problem::new();
    let x = p.psd_hermitian(n);
    let pt: Vec<f64> = (0..p.num_vars())
        .map(|k| ((k * 37 % 11) as f64 - 5.0) / 3.0)
        .collect();
    let a = Mat::from_fn(n, n, |i, j| {
        C64::new(
            (i * 3 + j) as f64 * 0.1 - 1.0,
            (j as f64 - 2.0 * i as f64) * 0.2,
        )
    });
    let xm = x.matrix();
    let xv = Mat::from_fn(n, n, |i, j| xm[i][j].eval(&pt));
    let mut want = C64::new(0.0, 0.0);
    for i in 0..n {
        for j in 0..n {
            want += a[(j, i)] * xv[(i, j)];
        }
    }
    let got = x.trace_with(&a).unwrap().eval(&pt);
    assert!((got - want).norm() < 1e-12, "{got} vs {want}");
    assert!((x.real_trace_with(&a).unwrap().eval(&pt) - want.re).abs() < 1e-12);
    let v: Vec<C64> = (0..n)
        .map(|i| C64::new(i as f64 - 1.5, 0.5 * i as f64))
        .collect();
    let mut q = C64::new(0.0, 0.0);
    for i in 0..n {
        for j in 0..n {
            q += v[i].conj() * xv[(i, j)] * v[j];
        }
    }
    assert!((x.quad_form(&v).unwrap().eval(&pt) - q.re).abs() < 1e-12);
    let b = Mat::from_fn(2, n, |k, i| {
        C64::new((k + i) as f64 * 0.3, k as f64 - 0.2 * i as f64)
    });
    let bxb = &(&b * &xv) * b.adjoint();
    let cong = x.congruence(&b).unwrap();
    for k in 0..2 {
        for l in 0..2 {
            assert!((cong[k][l].eval(&pt) - bxb[(k, l)]).norm() < 1e-11);
        }
    }
}
