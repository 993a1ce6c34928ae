//! Weighted-sum CRB designs (bistatic-monostatic.md, Section III): FDB (13)-(15) over the
//! full covariance `V` or in the subspace of Remark 2, CPA (16) with a diagonal power
//! allocation over the codebook `U = [a_B(theta_k), da_B(theta_k)]`, and the fused bound
//! of Remark 1 in the FDB program ("Fusion", Section VII).
//!
//! # Program
//! `V = (P_B / M) Q Z Q^H` with `tr Z <= 1`, `Z >= 0` (FDB: `Q = I` (full) or an
//! orthonormal basis of `span U` (reduced, Remark 2)); CPA: `V = (P_B / M) U diag(rho) U^H`,
//! `sum_i rho_i |u_i|^2 <= 1`, `rho >= 0`. Both position-domain FIMs are linear in `V`
//! ([`crate::fim::ofdm`], then `J^T I J`), and each CRB term is the epigraph LMI of
//! [`crate::conic::crb`]: the nuisance parameters (orientation, clock bias, gains) are
//! eliminated exactly, which is (14)-(15) written without the explicit Schur complement.
//! FIMs are equilibrated by their values at the isotropic design of the same structure,
//! and the objective is divided by its value there, so the program is O(1).
//!
//! # Beamformers and re-check
//! `F` (`N_B x L`) is `sqrt(lambda_i) q_i` of the `L` largest eigenpairs of `V` (zero
//! columns beyond the rank); `F F^H = V` exactly when `rank V <= L` (always for the
//! reduced program with `2K + 2 <= L`), otherwise `F F^H` is the best rank-`L` part and
//! the status says so. The power is restored to the budget if the solver overshoots, and
//! both CRBs, their weighted sum and the fused bounds are recomputed from `F F^H`; the
//! design is `optimal` when that objective is within [`OPTIMALITY_TOL`] of the program's
//! optimum, `solved` with the gap otherwise.

use super::model::{bp_to_fused, index, ms_to_fused, Bounds, BpmsModel};
use crate::conic::crb::inverse_block_trace;
use crate::conic::{Affine, Fallback, Problem, SolverSettings, Status};
use crate::error::{IsacError, Result};
use crate::linalg::{hermitian_eigen, orthonormal_basis, psd_part};
use crate::status::DesignStatus;
use crate::C64;
use faer::Mat;
use std::time::Instant;

/// Largest relative gap between the re-checked objective and the program's optimum for
/// an `optimal` design.
pub const OPTIMALITY_TOL: f64 = 1e-4;

/// How the covariance is parametrised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// FDB over the full `N_B x N_B` covariance (as a CVX user writes (15)).
    Full,
    /// FDB in the span of the codebook of Remark 2 (exact if Remark 2 holds; tested).
    Reduced,
    /// CPA (16): diagonal power allocation over the codebook.
    Codebook,
}

impl Structure {
    pub fn as_str(self) -> &'static str {
        match self {
            Structure::Full => "full",
            Structure::Reduced => "reduced",
            Structure::Codebook => "codebook",
        }
    }
}

/// A weighted-sum CRB design and its re-check.
#[derive(Debug, Clone)]
pub struct WcrbDesign {
    pub status: DesignStatus,
    pub structure: Structure,
    pub alpha: f64,
    pub fused: bool,
    /// `V = F F^H` as transmitted (`N_B x N_B`).
    pub covariance: Option<Mat<C64>>,
    /// `F` (`N_B x L`).
    pub beamformers: Option<Mat<C64>>,
    /// CPA: `rho` (W per codeword; `V = U diag(rho) U^H`).
    pub power_allocation: Option<Vec<f64>>,
    /// Bounds recomputed from `F F^H`.
    pub bounds: Option<Bounds>,
    /// `alpha CRB_BP + (1 - alpha) CRB_MS` (fused bounds for `fused`), recomputed (m^2).
    pub objective: f64,
    /// The program's optimum in the same units.
    pub solver_objective: f64,
    pub solver_iterations: u32,
    /// Dimension of the covariance variable (`N_B`, `2K + 2` or the codebook size).
    pub dimension: usize,
    pub seconds: f64,
    /// The analog designs' record (Section V; `None` for the digital ones).
    pub analog: Option<Box<super::analog::AnalogInfo>>,
}

/// The weighted objective of a design's bounds.
pub fn weighted_objective(b: &Bounds, alpha: f64, fused: bool) -> f64 {
    let (bp, ms) = if fused {
        (b.fused_crb_bp, b.fused_crb_ms)
    } else {
        (b.crb_bp, b.crb_ms)
    };
    alpha * bp + (1.0 - alpha) * ms
}

/// Position-domain basis: `I_pos[a][b] = Re tr(X B_ab)` for the covariance variable `X`
/// in the coordinates of `basis` (module doc), from the channel-domain basis and the
/// Jacobian `J`: `B_ab = sum_{i<=j} B_ij (J_ia J_jb + [i != j] J_ja J_ib)`.
fn position_basis(
    channel: &[((usize, usize), Mat<C64>)],
    jacobian: &Mat<f64>,
) -> Vec<Vec<Mat<C64>>> {
    let np = jacobian.ncols();
    let dim = channel.first().map_or(0, |(_, b)| b.nrows());
    let mut out = vec![vec![Mat::<C64>::zeros(dim, dim); np]; np];
    for ((i, j), b) in channel {
        for a in 0..np {
            for c in a..np {
                let mut w = jacobian[(*i, a)] * jacobian[(*j, c)];
                if i != j {
                    w += jacobian[(*j, a)] * jacobian[(*i, c)];
                }
                if w != 0.0 {
                    out[a][c] += b * faer::Scale(C64::new(w, 0.0));
                }
            }
        }
    }
    for a in 0..np {
        for c in 0..a {
            out[a][c] = out[c][a].clone();
        }
    }
    out
}

/// Solves the weighted-sum CRB program with weight `alpha` on BP (fused bounds when
/// `fused`) in the given structure, and re-checks the answer.
pub fn wcrb(
    model: &BpmsModel,
    alpha: f64,
    fused: bool,
    structure: Structure,
    settings: &SolverSettings,
) -> Result<WcrbDesign> {
    let started = Instant::now();
    let s = &model.scenario;
    let k = model.targets();
    let nb = s.bs_antennas;
    let p0 = model.power_budget();
    let codebook = match structure {
        Structure::Codebook => model.cpa_codebook(),
        _ => model.codebook(),
    };
    // coordinates of the covariance variable
    let cols: Vec<Vec<C64>> = (0..codebook.ncols())
        .map(|c| (0..nb).map(|r| codebook[(r, c)]).collect())
        .collect();
    let span = orthonormal_basis(&cols, nb, 1e-10)
        .ok_or_else(|| IsacError::Numerical("the codebook of Remark 2 has no basis".into()))?;
    let basis: Option<Mat<C64>> = match structure {
        // all of C^{N_B}, in the unitary coordinates [span U, its complement]: the same
        // program as over V itself, but the directions the FIM does not see (the
        // complement) are coordinate axes; over V directly Clarabel stops with a
        // numerical error whenever N_B > 2K + 2 (measured, docs/bpms.md#numerics)
        Structure::Full => Some(unitary_completion(&span)),
        Structure::Reduced => Some(span),
        Structure::Codebook => Some(codebook.clone()),
    };
    let dim = basis.as_ref().map_or(nb, |b| b.ncols());
    // the isotropic design of the structure (equilibration and objective scale)
    let iso_coords: Mat<C64> = match structure {
        Structure::Codebook => {
            let norms: Vec<f64> = (0..dim)
                .map(|c| (0..nb).map(|r| codebook[(r, c)].norm_sqr()).sum())
                .collect();
            let total: f64 = norms.iter().sum();
            Mat::from_fn(dim, dim, |r, c| {
                if r == c {
                    C64::new(1.0 / total, 0.0)
                } else {
                    C64::new(0.0, 0.0)
                }
            })
        }
        _ => Mat::from_fn(dim, dim, |r, c| {
            C64::new(if r == c { 1.0 / dim as f64 } else { 0.0 }, 0.0)
        }),
    };
    let lift = |x: &Mat<C64>| -> Mat<C64> {
        let v = match &basis {
            Some(q) => q * x * q.adjoint(),
            None => x.clone(),
        };
        v * faer::Scale(C64::new(p0, 0.0))
    };
    let iso_bounds = model.bounds(&lift(&iso_coords));
    let iso_objective = weighted_objective(&iso_bounds, alpha, fused);
    if !iso_objective.is_finite() {
        return Err(IsacError::input(
            "targets",
            "the bound is singular even for an isotropic transmit covariance (paths not resolvable)",
        ));
    }
    // FIM bases in the variable's coordinates, scaled by the power budget
    let bp_basis = position_basis(&model.bp_fim.basis(basis.as_ref()), &model.bp_jacobian);
    let ms_basis = position_basis(&model.ms_fim.basis(basis.as_ref()), &model.ms_jacobian);
    let mut prob = Problem::new();
    enum Var {
        Herm(crate::conic::HermitianVar),
        Diag(Vec<Affine>),
    }
    let var = match structure {
        Structure::Codebook => {
            let rho: Vec<Affine> = (0..dim).map(|_| prob.nonneg_scalar()).collect();
            let mut t = Affine::zero();
            for (c, r) in rho.iter().enumerate() {
                let norm: f64 = (0..nb).map(|i| codebook[(i, c)].norm_sqr()).sum();
                t.add_scaled(norm, r);
            }
            prob.le(t, 1.0);
            Var::Diag(rho)
        }
        _ => {
            let z = prob.psd_hermitian(dim);
            prob.le(z.trace(), 1.0);
            Var::Herm(z)
        }
    };
    let entry = |b: &Mat<C64>| -> Result<Affine> {
        Ok(match &var {
            Var::Herm(z) => z.real_trace_with(b)?.scaled(p0),
            Var::Diag(rho) => {
                let mut e = Affine::zero();
                for (c, r) in rho.iter().enumerate() {
                    e.add_scaled(p0 * b[(c, c)].re, r);
                }
                e
            }
        })
    };
    // equilibrated affine FIM D J D with D from the isotropic FIM
    let affine_fim =
        |basis: &[Vec<Mat<C64>>], reference: &Mat<f64>| -> Result<(Vec<Vec<Affine>>, Vec<f64>)> {
            let n = basis.len();
            let d: Vec<f64> = (0..n)
                .map(|i| {
                    let x = reference[(i, i)];
                    if x > 0.0 && x.is_finite() {
                        1.0 / x.sqrt()
                    } else {
                        1.0
                    }
                })
                .collect();
            let mut j = vec![vec![Affine::zero(); n]; n];
            for a in 0..n {
                for c in a..n {
                    let e = entry(&basis[a][c])?.scaled(d[a] * d[c]);
                    j[a][c] = e.clone();
                    j[c][a] = e;
                }
            }
            Ok((j, d))
        };
    let mut objective = Affine::zero();
    let scale = 1.0 / iso_objective;
    let positions: Vec<usize> = (0..2 * k + 2).collect();
    if fused {
        // one fused FIM: embed both bases
        let n = index::fused_len(k);
        let mut fb = vec![vec![Mat::<C64>::zeros(dim, dim); n]; n];
        for (basis, map) in [(&bp_basis, bp_to_fused(k)), (&ms_basis, ms_to_fused(k))] {
            for (a, &fa) in map.iter().enumerate() {
                for (c, &fc) in map.iter().enumerate() {
                    fb[fa][fc] += &basis[a][c];
                }
            }
        }
        let reference = model.fused_fim(&iso_bounds.fim_bp, &iso_bounds.fim_ms);
        let (j, d) = affine_fim(&fb, &reference)?;
        let ue: Vec<usize> = (0..2).map(|c| index::fused_object(k, 0, c)).collect();
        let w: Vec<f64> = positions
            .iter()
            .map(|&i| {
                let a = if ue.contains(&i) {
                    alpha + (1.0 - alpha)
                } else {
                    1.0 - alpha
                };
                a * d[i] * d[i] * scale
            })
            .collect();
        objective.add_scaled(1.0, &inverse_block_trace(&mut prob, &j, &positions, &w)?);
    } else {
        if alpha > 0.0 {
            let (j, d) = affine_fim(&bp_basis, &iso_bounds.fim_bp)?;
            let keep = index::BP_UE.to_vec();
            let w: Vec<f64> = keep.iter().map(|&i| alpha * d[i] * d[i] * scale).collect();
            objective.add_scaled(1.0, &inverse_block_trace(&mut prob, &j, &keep, &w)?);
        }
        if alpha < 1.0 {
            let (j, d) = affine_fim(&ms_basis, &iso_bounds.fim_ms)?;
            let w: Vec<f64> = positions
                .iter()
                .map(|&i| (1.0 - alpha) * d[i] * d[i] * scale)
                .collect();
            objective.add_scaled(1.0, &inverse_block_trace(&mut prob, &j, &positions, &w)?);
        }
    }
    prob.minimize(objective.clone());
    let sol = prob.solve(settings)?;
    let mut design = WcrbDesign {
        status: DesignStatus::Optimal,
        structure,
        alpha,
        fused,
        covariance: None,
        beamformers: None,
        power_allocation: None,
        bounds: None,
        objective: f64::NAN,
        solver_objective: f64::NAN,
        solver_iterations: sol.iterations,
        dimension: dim,
        seconds: 0.0,
        analog: None,
    };
    if !sol.status.is_optimal() {
        design.status = match &sol.status {
            Status::Infeasible { .. } => DesignStatus::inaccurate(
                "the solver reported infeasibility of an always-feasible program",
                None,
            ),
            other => DesignStatus::inaccurate(format!("conic solver: {other:?}"), None),
        };
        design.seconds = started.elapsed().as_secs_f64();
        return Ok(design);
    }
    design.solver_objective = sol.value(&objective) * iso_objective;
    let coords = match &var {
        Var::Herm(z) => psd_part(&sol.hermitian_value(z)),
        Var::Diag(rho) => {
            let r: Vec<f64> = rho.iter().map(|x| sol.value(x).max(0.0)).collect();
            design.power_allocation = Some(r.iter().map(|x| x * p0).collect());
            Mat::from_fn(dim, dim, |a, c| {
                C64::new(if a == c { r[a] } else { 0.0 }, 0.0)
            })
        }
    };
    let mut v = lift(&coords);
    // restore the power budget if the solver overshoots (by ~1e-8)
    let tr: f64 = (0..nb).map(|i| v[(i, i)].re).sum();
    if tr > p0 {
        v *= faer::Scale(C64::new(p0 / tr, 0.0));
        if let Some(r) = design.power_allocation.as_mut() {
            r.iter_mut().for_each(|x| *x *= p0 / tr);
        }
    }
    let (f, rank) = beamformers(&v, s.slots)?;
    let transmitted = &f * f.adjoint();
    let bounds = model.bounds(&transmitted);
    design.objective = weighted_objective(&bounds, alpha, fused);
    let gap = design.objective / design.solver_objective - 1.0;
    let mut notes = vec![];
    if rank > s.slots {
        notes.push(format!(
            "rank V = {rank} > L = {}: F F^H keeps the {} strongest eigen-directions",
            s.slots, s.slots
        ));
    }
    if gap > OPTIMALITY_TOL {
        notes.push(format!(
            "re-checked objective {gap:.2e} above the program's optimum"
        ));
    }
    if !design.objective.is_finite() {
        design.status = DesignStatus::inaccurate("the design's FIM is singular", None);
    } else if !notes.is_empty() {
        design.status = DesignStatus::solved(notes.join("; "));
    }
    design.covariance = Some(transmitted);
    design.beamformers = Some(f);
    design.bounds = Some(bounds);
    design.seconds = started.elapsed().as_secs_f64();
    Ok(design)
}

/// The unitary `[Q, Q_perp]` (`n x n`) completing the orthonormal columns `q`.
fn unitary_completion(q: &Mat<C64>) -> Mat<C64> {
    let n = q.nrows();
    let mut cols: Vec<Vec<C64>> = (0..q.ncols())
        .map(|c| (0..n).map(|r| q[(r, c)]).collect())
        .collect();
    for e in 0..n {
        cols.push(
            (0..n)
                .map(|r| C64::new(if r == e { 1.0 } else { 0.0 }, 0.0))
                .collect(),
        );
    }
    orthonormal_basis(&cols, n, 1e-10).unwrap_or_else(|| Mat::identity(n, n))
}

/// Solver settings of the designs: Clarabel's tolerances without iterative refinement of
/// the KKT solves (half the time of these programs, measured: 0.075 s instead of 0.145 s
/// at the paper's size, same optimum to 1e-7; every answer still passes the conic layer's
/// gate), then as fallbacks Clarabel's defaults with refinement, another KKT backend and
/// row normalisation.
pub fn design_settings() -> SolverSettings {
    SolverSettings {
        iterative_refinement_max_iter: 0,
        fallbacks: vec![
            Fallback::ClarabelTolerances,
            Fallback::DirectSolveMethod("qdldl".into()),
            Fallback::NormalizeRows,
        ],
        ..SolverSettings::default()
    }
}

/// `F` (`N_B x L`) from `V` by its eigen-decomposition, and the numerical rank of `V`
/// (eigenvalues above `1e-12` of the largest).
pub fn beamformers(v: &Mat<C64>, slots: usize) -> Result<(Mat<C64>, usize)> {
    let n = v.nrows();
    let (vals, vecs) = hermitian_eigen(v)
        .ok_or_else(|| IsacError::Numerical("eigendecomposition of V failed".into()))?;
    let max = vals.iter().cloned().fold(0.0, f64::max);
    // eigenvalues ascending: take the largest min(L, n)
    let order: Vec<usize> = (0..n).rev().collect();
    let rank = vals.iter().filter(|&&x| x > 1e-12 * max).count();
    let mut f = Mat::<C64>::zeros(n, slots);
    for (col, &e) in order.iter().take(slots).enumerate() {
        if vals[e] > 1e-12 * max {
            let w = vals[e].sqrt();
            for r in 0..n {
                f[(r, col)] = vecs[(r, e)] * w;
            }
        }
    }
    Ok((f, rank))
}
