//! The CRB minimisation (33)-(35) of backscatter-isac.md as a conic program.
//!
//! # Reduction (exact)
//! CRB and rate depend on `R_x` only through `G = A^T R_x A^*` ([`super::model`]). With
//! `B` an orthonormal basis of `range(conj(A))` (dimension `r <= min(L, M_t)`) and the
//! projector `P = B B^H`, `A^T P = A^T`, so `P R_x P` has the same `G` and no more power:
//! an optimal `R_x = P_0 B Z B^H` exists with `Z >= 0` (`r x r`), `tr Z <= 1`.
//! Then `G = P_0 C Z C^H`, `C = A^T B`. For one device this is a scalar problem.
//!
//! # Scaling
//! Powers are in units of the budget (`tr Z <= 1`); the FIM is equilibrated,
//! `J~ = D J D / P_0` with `D_i = J_ii(Z = I/r)^{-1/2}`, so `J~ ~ 1` at the isotropic point;
//! the rate matrix is scaled by `k`: `ln det(I + P_0 F) = L ln k + ln det(I/k + P_0 F/k)`.
//!
//! # Formulations
//! - [`Formulation::TraceInverse`] (any FIM): `CRB = tr(J^{-1}) = sum_i w_i (J~^{-1})_ii`,
//!   `w_i = D_i^2 / P_0`; minimised through `[[J~, I], [I, V]] >= 0`, `min sum_i w_i V_ii`.
//! - [`Formulation::FpSchur`] (printed, block-diagonal FIM): the paper's FP + Schur form
//!   (38)-(47). For device `l` with FIM block `[[a, b], [b, c]]`,
//!   `1/CRB(tau_l) = a - b^2/c` and `1/CRB(phi_l) = c - b^2/a`, so (39)-(40) become
//!   `[[a - omega_l, b], [b, c]] >= 0` and `[[c - nu_l, b], [b, a]] >= 0` (these are
//!   (42)-(43) multiplied by positive constants `xi_l`, `kappa_l`), and the objective
//!   (44) `max sum -1/omega_l - 1/nu_l` is `min sum t_l + u_l`, `t_l >= 1/omega_l`,
//!   `u_l >= 1/nu_l`.
//!
//! The rate (35) is `ln det(I_L + N/sigma^2 F) >= N Gamma_th ln 2` ((31), natural log).
//! Every answer is re-evaluated from the returned `R_x` with the closed forms.

use super::model::{BackscatterModel, Crb};
use super::scenario::{FimVariant, Formulation};
use crate::conic::{Affine, AffineMatrix, ComplexAffine, Problem, SolverSettings, Status};
use crate::error::Result;
use crate::linalg::hermitian_eigen;
use crate::C64;
use faer::Mat;
use std::time::Instant;

pub use crate::status::DesignStatus;

/// A transmit design and its re-evaluated metrics.
#[derive(Debug, Clone)]
pub struct BackscatterDesign {
    pub status: DesignStatus,
    /// `R_x`, W (None when infeasible).
    pub covariance: Option<Mat<C64>>,
    /// Re-evaluated CRB at `R_x` with the chosen FIM.
    pub crb: Option<Crb>,
    /// FIM at `R_x` (2L x 2L, seconds and radians).
    pub fim: Option<Mat<f64>>,
    /// Re-evaluated sum rate, bit/s/Hz.
    pub sum_rate: Option<f64>,
    /// Re-evaluated power, W.
    pub power: Option<f64>,
    /// The conic solver's own optimal CRB (before re-evaluation), for the record.
    pub solver_crb: Option<f64>,
    /// Rank of `R_x` (eigenvalues above 1e-6 of the largest).
    pub rank: Option<usize>,
    pub solver_iterations: u32,
    pub solve_seconds: f64,
}

/// Solver settings of the backscatter design: the conic layer's defaults (Clarabel's
/// tolerances, 1e-8), no fallbacks. The problem is scaled by construction (module doc);
/// the conic layer's generic row normalisation (now off by default), which scaled the
/// scalar rows separately from the PSD and exponential blocks, made Clarabel stall at a
/// dual residual of ~2e-8 ("almost solved") on rate-constrained Scenario II instances
/// that solve cleanly without it.
pub fn design_settings() -> SolverSettings {
    SolverSettings::default()
}

/// Precomputed reduction and scalings for one model and FIM variant.
struct Reduced {
    /// `C = A^T B`, L x r.
    c: Mat<C64>,
    /// `B`, M_t x r.
    basis: Mat<C64>,
    /// `D_i`.
    d: Vec<f64>,
}

fn reduce(model: &BackscatterModel, variant: FimVariant) -> Result<Reduced> {
    let mt = model.scenario.tx_array.elements;
    let l = model.devices();
    // conj(A) conj(A)^H = sum_l conj(a_l) a_l^T
    let gram_t = Mat::from_fn(mt, mt, |a, b| {
        model
            .links
            .iter()
            .map(|lk| lk.tx_steering[a].conj() * lk.tx_steering[b])
            .sum::<C64>()
    });
    let (vals, vecs) = hermitian_eigen(&gram_t).ok_or_else(|| {
        crate::error::IsacError::Numerical(
            "eigendecomposition of the steering Gram matrix failed".into(),
        )
    })?;
    let max = vals.iter().cloned().fold(0.0, f64::max);
    let keep: Vec<usize> = (0..mt).filter(|&k| vals[k] > 1e-10 * max).collect();
    let basis = Mat::from_fn(mt, keep.len(), |a, k| vecs[(a, keep[k])]);
    let c = Mat::from_fn(l, keep.len(), |q, k| {
        (0..mt)
            .map(|a| model.links[q].tx_steering[a] * basis[(a, k)])
            .sum::<C64>()
    });
    // D from the FIM at R = B (I/r) B^H with unit power
    let r = keep.len() as f64;
    let iso = Mat::from_fn(mt, mt, |a, b| {
        (0..keep.len())
            .map(|k| basis[(a, k)] * basis[(b, k)].conj())
            .sum::<C64>()
            * (1.0 / r)
    });
    let j = model.fim(&iso, variant);
    let d = (0..2 * l)
        .map(|i| 1.0 / j[(i, i)].max(f64::MIN_POSITIVE).sqrt())
        .collect();
    Ok(Reduced { c, basis, d })
}

/// Builds the affine Gram entries `G~[q][p] = (C Z C^H)[q,p]` (unit power).
fn gram_entries(
    problem: &mut Problem,
    red: &Reduced,
) -> Result<(crate::conic::HermitianVar, Vec<Vec<ComplexAffine>>)> {
    let z = problem.psd_hermitian(red.c.ncols());
    let g = z.congruence(&red.c)?;
    Ok((z, g))
}

/// Solves (33)-(35) for the model's scenario with its FIM variant and formulation.
pub fn minimize_crb(
    model: &BackscatterModel,
    settings: &SolverSettings,
) -> Result<BackscatterDesign> {
    let started = Instant::now();
    let s = &model.scenario;
    let variant = s.fim;
    let l = model.devices();
    let p0 = s.power_budget;
    let red = reduce(model, variant)?;
    let mut prob = Problem::new();
    let (z, g) = gram_entries(&mut prob, &red)?;
    prob.le(z.trace(), 1.0);

    // equilibrated FIM J~ = D J(G) D, with G = P0 G~ and J~ divided by P0 (J linear in G)
    let form = model.fim_form(variant);
    let n = 2 * l;
    let jt: AffineMatrix = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    let mut e = Affine::zero();
                    for &(q, p, coef) in &form.entry(i, j).terms {
                        let c = coef * (red.d[i] * red.d[j]);
                        // Re(c * G[q,p]) = c.re * Re G - c.im * Im G
                        e.add_scaled(c.re, &g[q][p].re);
                        e.add_scaled(-c.im, &g[q][p].im);
                    }
                    e
                })
                .collect()
        })
        .collect();
    let weights: Vec<f64> = red.d.iter().map(|d| d * d / p0).collect();
    let wmax = weights.iter().cloned().fold(0.0, f64::max);

    let objective = match s.formulation {
        Formulation::TraceInverse => {
            // tr(W J~^{-1}) = sum over the parameter groups (delays, DoAs) of
            // tr(W_b E_b^T J~^{-1} E_b), each bounded by tr(W_b V_b) through
            // [[J~, E_b], [E_b^T, V_b]] >= 0 (Schur complement: V_b >= E_b^T J~^{-1} E_b).
            // Two LMIs of size 3L instead of one of size 4L: Clarabel's cost grows with the
            // cube of each PSD block, so this is cheaper for the same optimum.
            let mut obj = Affine::zero();
            for group in [0..l, l..n] {
                let idx: Vec<usize> = group.collect();
                let m = idx.len();
                let mut v = vec![vec![Affine::zero(); m]; m];
                for a in 0..m {
                    for b in a..m {
                        let x = prob.scalar();
                        v[a][b] = x.clone();
                        v[b][a] = x;
                    }
                }
                let size = n + m;
                let block: AffineMatrix = (0..size)
                    .map(|i| {
                        (0..size)
                            .map(|j| match (i < n, j < n) {
                                (true, true) => jt[i][j].clone(),
                                (false, false) => v[i - n][j - n].clone(),
                                (true, false) => {
                                    Affine::constant(if idx[j - n] == i { 1.0 } else { 0.0 })
                                }
                                (false, true) => {
                                    Affine::constant(if idx[i - n] == j { 1.0 } else { 0.0 })
                                }
                            })
                            .collect()
                    })
                    .collect();
                prob.lmi_symmetric(block)?;
                for (a, &i) in idx.iter().enumerate() {
                    obj.add_scaled(weights[i] / wmax, &v[a][a]);
                }
            }
            obj
        }
        Formulation::FpSchur => {
            let mut obj = Affine::zero();
            for dev in 0..l {
                let (ti, pi) = (dev, l + dev);
                let a = &jt[ti][ti];
                let b = &jt[ti][pi];
                let c = &jt[pi][pi];
                let omega = prob.scalar();
                let nu = prob.scalar();
                // (42): [[a - omega, b], [b, c]] >= 0
                prob.lmi_symmetric(vec![
                    vec![a - &omega, b.clone()],
                    vec![b.clone(), c.clone()],
                ])?;
                // (43): [[c - nu, b], [b, a]] >= 0
                prob.lmi_symmetric(vec![vec![c - &nu, b.clone()], vec![b.clone(), a.clone()]])?;
                let t = prob.scalar();
                let u = prob.scalar();
                prob.inv_epigraph(omega, t.clone());
                prob.inv_epigraph(nu, u.clone());
                obj.add_scaled(weights[ti] / wmax, &t);
                obj.add_scaled(weights[pi] / wmax, &u);
            }
            obj
        }
    };
    prob.minimize(objective);

    if s.min_sum_rate > 0.0 {
        add_rate_constraint(&mut prob, model, &red, &g, s.min_sum_rate)?;
    }

    let sol = prob.solve(settings)?;
    let solve_seconds = started.elapsed().as_secs_f64();
    let solver_crb = Some(sol.objective * wmax);
    match &sol.status {
        Status::Infeasible { .. } => {
            return Ok(infeasible_design(
                "the solver's infeasibility certificate (checked)",
                sol.iterations,
                solve_seconds,
            ))
        }
        Status::Unbounded => {
            let mut d = infeasible_design("", sol.iterations, solve_seconds);
            d.status = DesignStatus::inaccurate("solver reported an unbounded objective", None);
            return Ok(d);
        }
        _ => {}
    }
    if !sol.status.is_optimal() && s.min_sum_rate > 0.0 {
        // Clarabel may fail to certify infeasibility just past the largest achievable
        // rate; the max-rate problem (well conditioned) settles it.
        if let Some(cmax) = max_sum_rate(model, settings)? {
            if s.min_sum_rate > cmax * (1.0 + 1e-6) {
                return Ok(infeasible_design(
                    "the minimum sum rate is above the largest achievable sum rate",
                    sol.iterations,
                    started.elapsed().as_secs_f64(),
                ));
            }
        }
    }
    let zv = sol.hermitian_value(&z);
    let covariance = lift(&red.basis, &zv, p0);
    let mut design = evaluate(model, covariance, variant);
    design.solver_crb = solver_crb;
    design.solver_iterations = sol.iterations;
    design.solve_seconds = solve_seconds;
    let mut problems = Vec::new();
    if let Status::Inaccurate { cause } = &sol.status {
        problems.push(format!("solver: {cause}"));
    }
    let power = design.power.unwrap_or(f64::NAN);
    if !(power <= p0 * (1.0 + 1e-6)) {
        problems.push(format!("power {power:e} W exceeds the budget {p0:e} W"));
    }
    let rate = design.sum_rate.unwrap_or(f64::NAN);
    if s.min_sum_rate > 0.0 && !(rate >= s.min_sum_rate * (1.0 - 1e-6)) {
        problems.push(format!(
            "sum rate {rate} below the threshold {}",
            s.min_sum_rate
        ));
    }
    design.status = if problems.is_empty() {
        DesignStatus::Optimal
    } else {
        DesignStatus::inaccurate(problems.join("; "), Some(sol.violation.scaled))
    };
    Ok(design)
}

/// `ln det(I + N/sigma^2 F(G)) >= N Gamma ln 2` with `G = P0 G~`.
fn add_rate_constraint(
    prob: &mut Problem,
    model: &BackscatterModel,
    red: &Reduced,
    g: &[Vec<ComplexAffine>],
    min_sum_rate: f64,
) -> Result<()> {
    let (m, offset) = scaled_rate_matrix(model, red, g);
    let n_sym = model.scenario.symbols as f64;
    let rhs = n_sym * min_sum_rate * std::f64::consts::LN_2 - offset;
    prob.log_det_ge(m, Affine::constant(rhs))?;
    Ok(())
}

/// The rate matrix scaled to O(1): `ln det(I + P0 F(G~)) = L ln k + ln det(I/k + P0 F/k)`.
/// `k = sqrt(max_i P0 F_ii(Z = I/r))` (at least 1): with `k` the full diagonal scale the
/// identity term becomes tiny next to a rank-deficient `F` (L > M_t) and Clarabel stops
/// short; the square root balances the two (found with the CVXPY reference script).
/// Returns the matrix and the offset `L ln k`.
fn scaled_rate_matrix(
    model: &BackscatterModel,
    red: &Reduced,
    g: &[Vec<ComplexAffine>],
) -> (Vec<Vec<ComplexAffine>>, f64) {
    let l = model.devices();
    let p0 = model.scenario.power_budget;
    let coef = model.rate_matrix_coefficients();
    let r = red.c.ncols() as f64;
    let diag_max = (0..l)
        .map(|i| {
            let gii: f64 = (0..red.c.ncols())
                .map(|a| red.c[(i, a)].norm_sqr())
                .sum::<f64>()
                / r;
            p0 * coef[i][i].re * gii
        })
        .fold(0.0, f64::max);
    let k = diag_max.sqrt().max(1.0);
    let m = (0..l)
        .map(|i| {
            (0..l)
                .map(|j| {
                    let mut e = g[j][i].scaled_complex(coef[i][j] * (p0 / k));
                    if i == j {
                        e.re.add_scaled(1.0 / k, &Affine::constant(1.0));
                    }
                    e
                })
                .collect()
        })
        .collect();
    (m, l as f64 * k.ln())
}

fn lift(basis: &Mat<C64>, z: &Mat<C64>, p0: f64) -> Mat<C64> {
    let bz = basis * z;
    let r = &bz * basis.adjoint();
    Mat::from_fn(r.nrows(), r.ncols(), |i, j| {
        (r[(i, j)] + r[(j, i)].conj()) * (0.5 * p0)
    })
}

/// Metrics of a given covariance, from the closed forms.
pub fn evaluate(
    model: &BackscatterModel,
    covariance: Mat<C64>,
    variant: FimVariant,
) -> BackscatterDesign {
    let fim = model.fim(&covariance, variant);
    let crb = super::model::crb_of_fim(&fim, model.devices());
    let rank = crate::linalg::hermitian_rank(&covariance, 1e-6);
    BackscatterDesign {
        status: DesignStatus::Optimal,
        crb: Some(crb),
        fim: Some(fim),
        sum_rate: Some(model.sum_rate(&covariance)),
        power: Some(model.power(&covariance)),
        covariance: Some(covariance),
        solver_crb: None,
        rank: Some(rank),
        solver_iterations: 0,
        solve_seconds: 0.0,
    }
}

/// The largest sum rate (31) the power budget allows: `max ln det(I + N/sigma^2 F)`,
/// `tr R <= P_0`. Returns bit/s/Hz, or None if the solver fails.
pub fn max_sum_rate(model: &BackscatterModel, settings: &SolverSettings) -> Result<Option<f64>> {
    let red = reduce(model, model.scenario.fim)?;
    let mut prob = Problem::new();
    let (z, g) = gram_entries(&mut prob, &red)?;
    prob.le(z.trace(), 1.0);
    let (m, _offset) = scaled_rate_matrix(model, &red, &g);
    let t = prob.scalar();
    prob.log_det_ge(m, t.clone())?;
    prob.maximize(t);
    let sol = prob.solve(settings)?;
    if !sol.status.has_point() {
        return Ok(None);
    }
    let cov = lift(
        &red.basis,
        &sol.hermitian_value(&z),
        model.scenario.power_budget,
    );
    Ok(Some(model.sum_rate(&cov)))
}

/// A CRB–rate trade-off curve over rate thresholds, using the problem's structure
/// (exact, no approximation):
/// 1. solve once without the rate constraint: its design `R_0` is optimal for every
///    threshold `Gamma <= C_sum(R_0)` (a minimiser of the relaxed problem that is feasible
///    is optimal);
/// 2. compute the largest achievable rate `C_max`: every `Gamma > C_max (1 + 1e-6)` is
///    infeasible;
/// 3. solve the thresholds in between.
///
/// Returns one design per threshold, in order.
pub fn tradeoff_curve(
    model: &BackscatterModel,
    thresholds: &[f64],
    settings: &SolverSettings,
) -> Result<Vec<BackscatterDesign>> {
    let mut relaxed_model = model.clone();
    relaxed_model.scenario.min_sum_rate = 0.0;
    let relaxed = minimize_crb(&relaxed_model, settings)?;
    let relaxed_rate = relaxed.sum_rate.unwrap_or(f64::NAN);
    let needs_max = thresholds.iter().any(|&g| !(g <= relaxed_rate));
    let max_rate = if needs_max {
        max_sum_rate(model, settings)?
    } else {
        None
    };
    let mut out = Vec::with_capacity(thresholds.len());
    for &gamma in thresholds {
        if relaxed.status == DesignStatus::Optimal && gamma <= relaxed_rate {
            out.push(relaxed.clone());
            continue;
        }
        if let Some(cmax) = max_rate {
            if gamma > cmax * (1.0 + 1e-6) {
                out.push(infeasible_design(
                    "the minimum sum rate is above the largest achievable sum rate",
                    0,
                    0.0,
                ));
                continue;
            }
        }
        let mut m = model.clone();
        m.scenario.min_sum_rate = gamma;
        out.push(minimize_crb(&m, settings)?);
    }
    Ok(out)
}

fn infeasible_design(reason: &str, iterations: u32, seconds: f64) -> BackscatterDesign {
    BackscatterDesign {
        status: DesignStatus::infeasible(reason, true),
        covariance: None,
        crb: None,
        fim: None,
        sum_rate: None,
        power: None,
        solver_crb: None,
        rank: None,
        solver_iterations: iterations,
        solve_seconds: seconds,
    }
}
