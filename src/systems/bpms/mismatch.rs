//! Weighted-sum mismatch designs (bistatic-monostatic.md, Section IV): beamformer
//! mismatch WBF (17)-(21) and covariance mismatch WCM (22), each for FDB and CPA, from the
//! `alpha = 1` (BP) and `alpha = 0` (MS) weighted-sum CRB designs of the same scheme.
//!
//! # Closed forms (derived here; the printed programs are kept and tested against them)
//! Write the guiding designs in the codebook `U` of Remark 2, as Remark 3 requires:
//! FDB `V_bar = U Lambda_bar U^H` with `Lambda_bar = U^+ V_bar U^{+H}`, guiding beamformers
//! `F_bar = U Omega_bar`, `Omega_bar = Lambda_bar^{1/2}` (the Hermitian square root: the
//! paper leaves the factor open, and WBF depends on it); CPA `F_bar = U diag(sqrt(rho_bar))`.
//! Both guiding designs use the full power (`tr V = P_B / M` at a CRB optimum).
//!
//! - **FDB-WBF** (18): with `A^H A = I`,
//!   `||A U Omega - B||^2 = tr(Omega^H G Omega) - 2 Re tr(Omega^H X) + c`, `G = U^H U`,
//!   `X = U^H A^H B = G (alpha Omega_bar + (1 - alpha) Omega_under)`. On the power sphere (18b) the first term is constant, so the optimum
//!   maximises the linear term: `Omega = s (alpha Omega_bar + (1 - alpha) Omega_under)` with
//!   `s` restoring the power.
//! - **CPA-WBF** (20): likewise `v_l = s (alpha sqrt(rho_bar_l) + (1 - alpha)
//!   sqrt(rho_under_l))`.
//! - **FDB-WCM** (22): `alpha ||V - V_bar||^2 + (1 - alpha) ||V - V_under||^2 =
//!   ||V - W||^2 + c` with `W = U (alpha Lambda_bar + (1 - alpha) Lambda_under) U^H`, which is
//!   itself feasible (PSD, full power): `Lambda = alpha Lambda_bar + (1 - alpha) Lambda_under`.
//! - **CPA-WCM**: `rho = alpha rho_bar + (1 - alpha) rho_under`.
//!
//! `method = "printed"` solves the printed programs instead through the conic layer: the
//! lifted SDPs (19) and (21) (whose rank-one tightness the paper claims; measured), (22)
//! as an SDP with a second-order-cone objective, and the CPA-WCM QCQP.

use super::design::{beamformers, wcrb, weighted_objective, Structure, WcrbDesign};
use super::model::BpmsModel;
use crate::conic::{Affine, Problem, SolverSettings};
use crate::error::{IsacError, Result};
use crate::linalg::{bilinear, hermitian_eigen, hermitian_sqrt, inner, psd_part, symmetric_eigen};
use crate::status::DesignStatus;
use crate::C64;
use faer::Mat;
use std::time::Instant;

/// Which mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// Beamformers (17)-(21).
    Beamformer,
    /// Covariance matrices (22).
    Covariance,
}

/// How the mismatch program is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The closed forms of the module doc (default).
    ClosedForm,
    /// The printed programs (19), (21), (22) and the CPA-WCM QCQP, by the conic layer.
    Printed,
}

/// The two guiding designs in codebook coordinates.
#[derive(Debug, Clone)]
pub struct Guides {
    /// `Lambda` (FDB, `(2K+2)` square) or `diag(rho)` (CPA) of the `alpha = 1` design.
    pub bar: Mat<C64>,
    /// The same for `alpha = 0`.
    pub under: Mat<C64>,
    pub seconds: f64,
}

/// `Lambda = U^+ V U^{+H}` (`U` full column rank).
fn codebook_coordinates(u: &Mat<C64>, v: &Mat<C64>) -> Result<Mat<C64>> {
    let g = u.adjoint() * u;
    let (vals, vecs) = hermitian_eigen(&g)
        .ok_or_else(|| IsacError::Numerical("eigendecomposition of U^H U failed".into()))?;
    let max = vals.iter().cloned().fold(0.0, f64::max);
    if vals.iter().any(|&x| x <= 1e-12 * max) {
        return Err(IsacError::input(
            "bs_antennas",
            "the codebook [a(theta_k), da(theta_k)] is rank deficient (N_B < 2K + 2 or coinciding angles); the mismatch designs need it full rank",
        ));
    }
    let n = vals.len();
    let ginv = Mat::from_fn(n, n, |r, c| {
        (0..n)
            .map(|k| vecs[(r, k)] * vecs[(c, k)].conj() / vals[k])
            .sum::<C64>()
    });
    let pinv = &ginv * u.adjoint();
    Ok(psd_part(&(&pinv * v * pinv.adjoint())))
}

/// Solves the `alpha = 1` and `alpha = 0` weighted-sum CRB designs of the scheme (FDB:
/// reduced; CPA: codebook) and expresses them in the codebook.
pub fn guides(model: &BpmsModel, cpa: bool, settings: &SolverSettings) -> Result<Guides> {
    let started = Instant::now();
    let structure = if cpa {
        Structure::Codebook
    } else {
        Structure::Reduced
    };
    let u = if cpa {
        model.cpa_codebook()
    } else {
        model.codebook()
    };
    let mut out = vec![];
    for alpha in [1.0, 0.0] {
        let d = wcrb(model, alpha, false, structure, settings)?;
        if !d.status.has_checked_design() {
            return Err(IsacError::Numerical(format!(
                "the alpha = {alpha} guiding design failed: {}",
                d.status.detail().unwrap_or(d.status.as_str())
            )));
        }
        let m = if cpa {
            let rho = d.power_allocation.clone().unwrap_or_default();
            Mat::from_fn(rho.len(), rho.len(), |r, c| {
                C64::new(if r == c { rho[r] } else { 0.0 }, 0.0)
            })
        } else {
            codebook_coordinates(&u, d.covariance.as_ref().expect("checked design"))?
        };
        out.push(m);
    }
    let under = out.pop().expect("two guides");
    let bar = out.pop().expect("two guides");
    Ok(Guides {
        bar,
        under,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn scale(m: &Mat<C64>, s: f64) -> Mat<C64> {
    m * faer::Scale(C64::new(s, 0.0))
}

fn power_in(u: &Mat<C64>, omega: &Mat<C64>) -> f64 {
    let f = u * omega;
    (0..f.nrows())
        .flat_map(|r| (0..f.ncols()).map(move |c| (r, c)))
        .map(|(r, c)| f[(r, c)].norm_sqr())
        .sum()
}

/// The mismatch design at weight `alpha` from the guides, re-checked like a WCRB design
/// (`objective` is the weighted CRB sum, `solver_objective` the mismatch value).
pub fn mismatch(
    model: &BpmsModel,
    kind: Mismatch,
    cpa: bool,
    alpha: f64,
    guides: &Guides,
    method: Method,
    settings: &SolverSettings,
) -> Result<(WcrbDesign, Option<f64>)> {
    let started = Instant::now();
    let s = &model.scenario;
    let u = if cpa {
        model.cpa_codebook()
    } else {
        model.codebook()
    };
    let p0 = model.power_budget();
    let n = u.ncols();
    let mix = |a: &Mat<C64>, b: &Mat<C64>| scale(a, alpha) + scale(b, 1.0 - alpha);
    let (mut omega, rank_one, solver_value) = match (kind, method) {
        (Mismatch::Beamformer, Method::ClosedForm) => {
            let root = |m: &Mat<C64>| {
                hermitian_sqrt(m).ok_or_else(|| IsacError::Numerical("square root".into()))
            };
            let raw = mix(&root(&guides.bar)?, &root(&guides.under)?);
            let p = power_in(&u, &raw);
            (scale(&raw, (p0 / p).sqrt()), None, f64::NAN)
        }
        (Mismatch::Covariance, Method::ClosedForm) => {
            let lam = mix(&guides.bar, &guides.under);
            let root =
                hermitian_sqrt(&lam).ok_or_else(|| IsacError::Numerical("square root".into()))?;
            (root, None, f64::NAN)
        }
        (Mismatch::Beamformer, Method::Printed) => {
            printed_wbf(&u, guides, alpha, cpa, p0, settings)?
        }
        (Mismatch::Covariance, Method::Printed) => {
            printed_wcm(&u, guides, alpha, cpa, p0, settings)?
        }
    };
    // power exactly at the budget (the solver's point is within ~1e-8)
    let p = power_in(&u, &omega);
    if p > 0.0 {
        omega = scale(&omega, (p0 / p).sqrt());
    }
    let f_cols = &u * &omega;
    let v = &f_cols * f_cols.adjoint();
    // F: N_B x L; the 2K+2 columns of U Omega when they fit, else the L strongest
    let (f, rank) = if n <= s.slots {
        let mut f = Mat::<C64>::zeros(s.bs_antennas, s.slots);
        for r in 0..s.bs_antennas {
            for c in 0..n {
                f[(r, c)] = f_cols[(r, c)];
            }
        }
        let rank = n;
        (f, rank)
    } else {
        beamformers(&v, s.slots)?
    };
    let transmitted = &f * f.adjoint();
    let bounds = model.bounds(&transmitted);
    let objective = weighted_objective(&bounds, alpha, false);
    let status = if !objective.is_finite() {
        DesignStatus::inaccurate("the design's FIM is singular", None)
    } else if rank > s.slots {
        DesignStatus::solved(format!(
            "2K + 2 = {n} beams > L = {}: F keeps the {} strongest",
            s.slots, s.slots
        ))
    } else {
        DesignStatus::Optimal
    };
    let design = WcrbDesign {
        status,
        structure: if cpa {
            Structure::Codebook
        } else {
            Structure::Reduced
        },
        alpha,
        fused: false,
        covariance: Some(transmitted),
        beamformers: Some(f),
        power_allocation: cpa.then(|| (0..n).map(|i| omega[(i, i)].norm_sqr()).collect()),
        bounds: Some(bounds),
        objective,
        solver_objective: solver_value,
        solver_iterations: 0,
        dimension: n,
        seconds: started.elapsed().as_secs_f64() + guides.seconds,
        analog: None,
    };
    Ok((design, rank_one))
}

/// The lifted SDP (19) (FDB) or (21) (CPA) as printed. Returns `Omega` (FDB: the first
/// columns of the rank-one factors; CPA: `diag(v)`), the largest ratio of the second to
/// the first eigenvalue of the lifted matrices (0 when rank one) and the objective.
fn printed_wbf(
    u: &Mat<C64>,
    guides: &Guides,
    alpha: f64,
    cpa: bool,
    p0: f64,
    settings: &SolverSettings,
) -> Result<(Mat<C64>, Option<f64>, f64)> {
    let n = u.ncols();
    let g = u.adjoint() * u;
    let root = |m: &Mat<C64>| -> Result<Mat<C64>> {
        if cpa {
            Ok(Mat::from_fn(n, n, |r, c| {
                C64::new(
                    if r == c {
                        m[(r, r)].re.max(0.0).sqrt()
                    } else {
                        0.0
                    },
                    0.0,
                )
            }))
        } else {
            hermitian_sqrt(m).ok_or_else(|| IsacError::Numerical("square root".into()))
        }
    };
    // X = U^H A^H B = G (alpha Omega_bar + (1 - alpha) Omega_under)
    // X = U^H A^H B = G (alpha Omega_bar + (1 - alpha) Omega_under), in units of
    // sigma = sqrt(P_B / M) (omega = sigma omega'), so that every entry is O(1)
    let sigma = p0.sqrt();
    let x = &g
        * (scale(&root(&guides.bar)?, alpha / sigma)
            + scale(&root(&guides.under)?, (1.0 - alpha) / sigma));
    // and with the codebook columns normalised (|a| and |da| differ by ~N_B): omega_l =
    // D^{-1} omega~_l, G~ = D^{-1} G D^{-1}, X~ = D^{-1} X; the same program, well scaled
    let dn: Vec<f64> = (0..n).map(|i| g[(i, i)].re.sqrt()).collect();
    let g = Mat::from_fn(n, n, |r, c| g[(r, c)] / (dn[r] * dn[c]));
    let x = Mat::from_fn(n, n, |r, c| x[(r, c)] / dn[r]);
    let mut prob = Problem::new();
    let mut objective = Affine::zero();
    let mut power = Affine::zero();
    let mut lifted = vec![];
    for l in 0..n {
        if cpa {
            // (21): [[1, v], [v, v^2]] with the real scalar v = Upsilon_ll
            let y = prob.psd_symmetric(2);
            let m = y.matrix();
            prob.eq(m[0][0].clone(), 1.0);
            objective.add_scaled(-2.0 * x[(l, l)].re, &m[0][1]);
            objective.add_scaled(g[(l, l)].re, &m[1][1]);
            power.add_scaled(1.0, &m[0][0]);
            power.add_scaled(g[(l, l)].re, &m[1][1]);
            lifted.push(Err(y));
        } else {
            // (19): Omega_l~ = [1; omega_l][1; omega_l]^H, (n+1) square
            let z = prob.psd_hermitian(n + 1);
            let mut c = Mat::<C64>::zeros(n + 1, n + 1);
            let mut d = Mat::<C64>::zeros(n + 1, n + 1);
            d[(0, 0)] = C64::new(1.0, 0.0);
            for i in 0..n {
                c[(i + 1, 0)] = -x[(i, l)];
                c[(0, i + 1)] = -x[(i, l)].conj();
                for j in 0..n {
                    c[(i + 1, j + 1)] = g[(i, j)];
                    d[(i + 1, j + 1)] = g[(i, j)];
                }
            }
            prob.eq(z.entry(0, 0)?.re, 1.0);
            objective.add_scaled(1.0, &z.real_trace_with(&c)?);
            power.add_scaled(1.0, &z.real_trace_with(&d)?);
            lifted.push(Ok(z));
        }
    }
    prob.eq(power, 1.0 + n as f64);
    prob.minimize(objective.clone());
    let sol = prob.solve(settings)?;
    if !sol.status.is_optimal() {
        return Err(IsacError::Numerical(format!(
            "printed WBF program: {:?}",
            sol.status
        )));
    }
    let mut omega = Mat::<C64>::zeros(n, n);
    let mut worst: f64 = 0.0;
    // CPA: |y_l - x_l^2| relative to the largest y (a codeword the design leaves dark has
    // y_l ~ x_l^2 ~ 0, where a ratio would be noise)
    let y_max = lifted
        .iter()
        .filter_map(|v| v.as_ref().err().map(|y| sol.symmetric_value(y)[(1, 1)]))
        .fold(0.0, f64::max);
    for (l, var) in lifted.iter().enumerate() {
        match var {
            Ok(z) => {
                let zv = sol.hermitian_value(z);
                let (vals, _) =
                    hermitian_eigen(&zv).ok_or_else(|| IsacError::Numerical("eigen".into()))?;
                let k = vals.len();
                worst = worst.max(vals[k - 2].max(0.0) / vals[k - 1]);
                for i in 0..n {
                    omega[(i, l)] = zv[(i + 1, 0)] * sigma / dn[i];
                }
            }
            Err(y) => {
                let yv = sol.symmetric_value(y);
                worst = worst.max((yv[(1, 1)] - yv[(0, 1)] * yv[(0, 1)]).abs() / y_max);
                omega[(l, l)] = C64::new(yv[(0, 1)] * sigma / dn[l], 0.0);
            }
        }
    }
    Ok((omega, Some(worst), sol.value(&objective) * p0))
}

/// The covariance mismatch over a codebook (CPA-WCM, and the power block (25) of the
/// analog FDB with the analog beamformers as codebook): `min_rho ||U diag(rho) U^H - W||_F^2`
/// subject to `sum_l rho_l |u_l|^2 = p0`, `rho >= 0`. The objective is the convex quadratic
/// `rho^T G rho - 2 b^T rho + ||W||^2` with `G_ik = |u_i^H u_k|^2` (PSD: the Hadamard
/// product of `U^H U` and its conjugate) and `b_l = u_l^H W u_l`, so the program is a
/// second-order-cone program in the `n` normalised powers `rho / p0` with one
/// `(n + 2)`-dimensional cone (`G = R^T R` by its eigen-decomposition), whatever `N_B`.
/// Returns `rho` (W per codeword, clipped at 0) and `||U diag(rho) U^H - W||_F^2` (W^2)
/// recomputed at the returned `rho`.
pub fn codebook_covariance_fit(
    u: &Mat<C64>,
    w: &Mat<C64>,
    p0: f64,
    settings: &SolverSettings,
) -> Result<(Vec<f64>, f64)> {
    let n = u.ncols();
    let nb = u.nrows();
    let col = |l: usize| -> Vec<C64> { (0..nb).map(|r| u[(r, l)]).collect() };
    let cols: Vec<Vec<C64>> = (0..n).map(col).collect();
    let g = Mat::from_fn(n, n, |i, k| inner(&cols[i], &cols[k]).norm_sqr());
    let b: Vec<f64> = cols.iter().map(|c| bilinear(c, w, c).re / p0).collect();
    let norms: Vec<f64> = cols.iter().map(|c| inner(c, c).re).collect();
    let (vals, vecs) = symmetric_eigen(&g)
        .ok_or_else(|| IsacError::Numerical("eigendecomposition of |U^H U|^2 failed".into()))?;
    let mut prob = Problem::new();
    let rho: Vec<Affine> = (0..n).map(|_| prob.nonneg_scalar()).collect();
    // R rho with R = Lambda^{1/2} Q^T (rows of the eigenvalues above rounding)
    let max = vals.iter().cloned().fold(0.0, f64::max);
    let r_rho: Vec<Affine> = (0..n)
        .filter(|&e| vals[e] > 1e-14 * max)
        .map(|e| {
            let mut a = Affine::zero();
            for (l, x) in rho.iter().enumerate() {
                a.add_scaled(vals[e].sqrt() * vecs[(l, e)], x);
            }
            a
        })
        .collect();
    let t = prob.squared_norm_epigraph(&r_rho, 1.0);
    let mut power = Affine::zero();
    let mut objective = t.clone();
    for (l, x) in rho.iter().enumerate() {
        power.add_scaled(norms[l], x);
        objective.add_scaled(-2.0 * b[l], x);
    }
    prob.eq(power, 1.0);
    prob.minimize(objective);
    let sol = prob.solve(settings)?;
    if !sol.status.is_optimal() {
        return Err(IsacError::Numerical(format!(
            "codebook covariance fit: {:?}",
            sol.status
        )));
    }
    let rho: Vec<f64> = rho.iter().map(|x| sol.value(x).max(0.0) * p0).collect();
    let mut v = Mat::<C64>::zeros(nb, nb);
    for (l, c) in cols.iter().enumerate() {
        for r in 0..nb {
            for q in 0..nb {
                v[(r, q)] += c[r] * c[q].conj() * rho[l];
            }
        }
    }
    let mut value = 0.0;
    for r in 0..nb {
        for q in 0..nb {
            value += (v[(r, q)] - w[(r, q)]).norm_sqr();
        }
    }
    Ok((rho, value))
}

/// (22) as an SDP (FDB) or the CPA QCQP (by [`codebook_covariance_fit`]): `min t` s.t.
/// `||vec(U Lambda U^H - W)|| <= t`, `tr(U Lambda U^H) = P_B/M`, `Lambda >= 0` (FDB) or
/// `Lambda = diag(rho)`, `rho >= 0` (CPA); `alpha ||V - V_bar||^2 + (1-alpha) ||V - V_under||^2
/// = ||V - W||^2 + const`. Returns a square root of the optimal `Lambda` (so that
/// `V = U Omega Omega^H U^H`).
fn printed_wcm(
    u: &Mat<C64>,
    guides: &Guides,
    alpha: f64,
    cpa: bool,
    p0: f64,
    settings: &SolverSettings,
) -> Result<(Mat<C64>, Option<f64>, f64)> {
    let n = u.ncols();
    let nb = u.nrows();
    let w_lam = scale(&guides.bar, alpha) + scale(&guides.under, 1.0 - alpha);
    if cpa {
        let w = u * &w_lam * u.adjoint();
        let (rho, value) = codebook_covariance_fit(u, &w, p0, settings)?;
        let root = Mat::from_fn(n, n, |r, c| {
            C64::new(if r == c { rho[r].sqrt() } else { 0.0 }, 0.0)
        });
        return Ok((root, None, value));
    }
    // Lambda = P_B/M Lambda' (Lambda' O(1)); residual U Lambda' U^H - W / (P_B/M)
    let w = u * &w_lam * u.adjoint() * faer::Scale(C64::new(1.0 / p0, 0.0));
    let mut prob = Problem::new();
    let lam = prob.psd_hermitian(n);
    let entries: Vec<Vec<(Affine, Affine)>> = lam
        .congruence(u)?
        .iter()
        .map(|row| row.iter().map(|x| (x.re.clone(), x.im.clone())).collect())
        .collect();
    let mut trace = Affine::zero();
    let mut residual = vec![];
    for r in 0..nb {
        trace.add_scaled(1.0, &entries[r][r].0);
        for c in 0..nb {
            let (re, im) = &entries[r][c];
            let mut a = re.clone();
            a.add_scaled(1.0, &Affine::constant(-w[(r, c)].re));
            let mut b = im.clone();
            b.add_scaled(1.0, &Affine::constant(-w[(r, c)].im));
            residual.push(a);
            residual.push(b);
        }
    }
    prob.eq(trace, 1.0);
    let t = prob.scalar();
    prob.soc(t.clone(), &residual);
    prob.minimize(t.clone());
    let sol = prob.solve(settings)?;
    if !sol.status.is_optimal() {
        return Err(IsacError::Numerical(format!(
            "printed WCM program: {:?}",
            sol.status
        )));
    }
    let lam = scale(&psd_part(&sol.hermitian_value(&lam)), p0);
    let root = hermitian_sqrt(&lam).ok_or_else(|| IsacError::Numerical("square root".into()))?;
    let value = sol.value(&t) * p0;
    Ok((root, None, value * value))
}
