//! Integration tests of the conic layer. Every expected value is derived by
//! hand (or by an independent computation: faer eigenvalues, water-filling by
//! bisection), never copied from the solver's output.

use faer::{Mat, Side};
use isac::conic::{Affine, ComplexAffine, Problem, SolverSettings, Status};
use isac::{IsacError, C64};

const TOL: f64 = 1e-5;

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
    assert_eq!(s.status, Status::Optimal);
    assert_close!(s.objective, 12.0);
    assert_close!(s.value(&x), 4.0);
    assert!(s.value(&y).abs() < 1e-6);
    assert!(s.max_violation < 1e-6);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Infeasible);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal, "{:?}", s.status);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal, "{:?}", s.status);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Infeasible);
}

#[test]
fn badly_scaled_problem_is_consistent() {
    // min x + y s.t. 1e9 x >= 1e9, 1e-9 y >= 2e-9, x <= 1e9: optimum (1, 2), value 3.
    for normalize in [true, false] {
        let mut p = Problem::new();
        let x = p.scalar();
        let y = p.scalar();
        p.ge(&x * 1e9, 1e9);
        p.ge(&y * 1e-9, 2e-9);
        p.le(x.clone(), 1e9);
        p.minimize(&x + &y);
        let st = SolverSettings {
            normalize_rows: normalize,
            ..settings()
        };
        let s = p.solve(&st).unwrap();
        match &s.status {
            Status::Optimal => {
                assert!(s.max_violation <= st.violation_tol);
                assert_close!(s.objective, 3.0, 1e-4);
            }
            Status::Inaccurate { .. } => {}
            other => panic!("unexpected status {other:?}"),
        }
        if normalize {
            assert_eq!(s.status, Status::Optimal);
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
    if s.status == Status::Optimal {
        assert!(s.max_violation <= 1e-5);
        assert_close!(s.objective, 2.0, 1e-4); // X01 <= sqrt(1 * 4)
    } else {
        assert!(matches!(s.status, Status::Inaccurate { .. }));
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
    assert_eq!(s.status, Status::Optimal);
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
    match s.status {
        Status::Inaccurate { reason } => assert!(reason.contains("MaxIterations"), "{reason}"),
        other => panic!("expected Inaccurate, got {other:?}"),
    }
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
    assert_eq!(s.status, Status::Optimal);
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
    assert_eq!(s.status, Status::Optimal);
    assert_close!(s.objective, 7f64.ln(), 1e-7);
}
