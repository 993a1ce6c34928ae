//! The fully digital designs (the paper's Scheme 2, "FD": `N_RF = N_a`, `F = I`), exact
//! convex programs whose optima bound every hybrid design from below
//! (docs/nearfield.md#fully-digital-optimum).
//!
//! # Downlink: (26) without (26b)
//! With `R_x = W W^H + R_d` (10) and `W_k = w_k w_k^H`, the SDR of (26) is
//!
//! ```text
//!   min tr CRB(R_x)   s.t.  (1 + 1/gamma) h_k^T W_k h_k^* >= h_k^T R_x h_k^* + sigma_0^2,   (38b)
//!                           R_x >= sum_k W_k,  W_k >= 0,  tr R_x <= P_d,                    (38d)
//! ```
//!
//! and it is tight: from any optimum, `w_k = W_k h_k^* / sqrt(h_k^T W_k h_k^*)` (39) gives
//! `w_k w_k^H <= W_k` with the same `h_k^T (.) h_k^*`, so `R_d = R_x - sum w_k w_k^H >= 0`,
//! `R_x` (hence the CRB and the power) is unchanged, and every SINR constraint still
//! holds (the signal term is equal, the interference-plus-probing term is
//! `h_k^T R_x h_k^* - |h_k^T w_k|^2`, equal too).
//!
//! # Uplink: (53) with `F = I`
//! The echo `G R_u G^H = |beta|^2 (b^T R_u b^*) a a^H` (8) has rank one, so with MMSE
//! combining user `k`'s SINR (17) is a decreasing function of the scalar
//! `s = b^T R_u b^*` alone. By Sherman–Morrison, with `A_k = sum_{i != k} P_u h_i h_i^H +
//! sigma_u^2 I`, `g = h_k^H A_k^{-1} h_k`, `x = |a^H A_k^{-1} h_k|^2`,
//! `y = a^H A_k^{-1} a`, `c = |beta|^2`:
//!
//! ```text
//!   SINR_k(s) = P_u (g - c s x / (1 + c s y)) >= gamma
//!     <=>  c s (x - delta y) <= delta,   delta = g - gamma / P_u,
//! ```
//!
//! so the SINR constraints are exactly `s <= s_max = min_k delta / (c (x - delta y))`
//! (no limit from user `k` when `x <= delta y`; infeasible, certified, when some
//! `delta < 0`: even without probing that user misses its target). The design is then
//! `min tr CRB(R_u)  s.t.  tr R_u <= P_s, b^T R_u b^* <= s_max, R_u >= 0`.
//!
//! # Subspace (exact)
//! Every quantity depends on the covariance only through `v^T R v^*` for the transmit
//! vectors `q, dq/dtheta, dq/dr` and (downlink) the user channels `h_k`. With `B` an
//! orthonormal basis of the span of their conjugates and `P = B B^H`, replacing `R` by
//! `P R P` (and `W_k` by `P W_k P`) keeps every such form, every PSD order and every
//! rank, and does not increase the power; so an optimum `R = B Z B^H` exists with `Z` of
//! size `dim <= 3 + K` (downlink) or `<= 3` (uplink). [`Subspace::Full`] solves the
//! `N_a x N_a` program instead; the tests check that both agree.
//!
//! # Objective and scaling
//! `tr CRB = tr(E^T J^{-1} E)` with `E = [e_theta, e_r]` is minimised through
//! `[[J~, E], [E^T, V]] >= 0`, `min sum_i w_i V_ii` (Schur complement:
//! `V >= E^T J~^{-1} E`), the FIM equilibrated as `J~ = D J D` with
//! `D_i = J_ii(R = P I/dim)^{-1/2}` and `w_i = D_i^2`. This is the paper's (27)-(28)
//! with `U` eliminated. Powers are in units of the budget.

use super::model::{fim_coefficients, Bound, NearfieldModel};
use super::scenario::{Mode, Subspace};
use crate::conic::{Affine, AffineMatrix, HermitianVar, Problem, SolverSettings, Status};
use crate::error::{IsacError, Result};
use crate::linalg::{hermitian_eigen, hermitian_solve, inner, orthonormal_basis, psd_part};
use crate::status::DesignStatus;
use crate::C64;
use faer::Mat;
use std::time::Instant;

/// Relative tolerance of the re-check (power, SINRs, PSD of `R_d`).
pub const RECHECK_TOL: f64 = 1e-6;

/// A fully digital design and its re-evaluated metrics.
#[derive(Debug, Clone)]
pub struct DigitalDesign {
    pub status: DesignStatus,
    /// FIM and CRB re-evaluated from the returned covariance.
    pub bound: Option<Bound>,
    /// Downlink: `R_x` (`N_a x N_a`); uplink: `R_u` (`N_b x N_b`).
    pub transmit_covariance: Option<Mat<C64>>,
    /// Downlink: the precoders `w_k` (columns, `N_a x K`); uplink: the unit-norm MMSE
    /// combiners (`N_a x K`).
    pub digital: Option<Mat<C64>>,
    /// Downlink: `R_d = R_x - W W^H` (`N_a x N_a`); uplink: `R_u`.
    pub sensing_covariance: Option<Mat<C64>>,
    /// Achieved SINRs (linear), recomputed from the returned matrices.
    pub sinr: Option<Vec<f64>>,
    /// Transmit power, W.
    pub power: Option<f64>,
    /// The conic program's optimal `tr CRB` (before re-evaluation).
    pub solver_objective: Option<f64>,
    /// Uplink: the echo limit `s_max` on `b^T R_u b^*` (`None`: no user limits it).
    pub echo_limit: Option<f64>,
    /// Downlink: the relative power change by which [`restore_feasibility`] made the
    /// solver's point exactly feasible (`None`: it was feasible as returned).
    pub restored: Option<f64>,
    /// Downlink: the relative margin by which the SINR targets were raised in a second
    /// solve (see [`fully_digital`]'s downlink); `None`: one solve sufficed.
    pub sinr_margin: Option<f64>,
    /// Dimension of the subspace the program was solved in.
    pub subspace_dimension: usize,
    pub solver_iterations: u32,
    pub solve_seconds: f64,
}

impl DigitalDesign {
    fn empty(status: DesignStatus, dim: usize, seconds: f64) -> Self {
        DigitalDesign {
            status,
            bound: None,
            transmit_covariance: None,
            digital: None,
            sensing_covariance: None,
            sinr: None,
            power: None,
            solver_objective: None,
            echo_limit: None,
            restored: None,
            sinr_margin: None,
            subspace_dimension: dim,
            solver_iterations: 0,
            solve_seconds: seconds,
        }
    }
}

/// The solver settings of the designs: the conic layer's defaults.
pub fn design_settings() -> SolverSettings {
    SolverSettings::default()
}

/// The fully digital optimum of the model's mode.
pub fn fully_digital(model: &NearfieldModel, settings: &SolverSettings) -> Result<DigitalDesign> {
    match model.scenario.mode {
        Mode::Downlink => downlink(model, settings),
        Mode::Uplink => uplink_through(model, None, settings),
    }
}

/// The basis of the design subspace: the span of the conjugates of `vectors` (reduced)
/// or the identity (full).
pub(super) fn design_basis(vectors: &[Vec<C64>], n: usize, subspace: Subspace) -> Result<Mat<C64>> {
    match subspace {
        Subspace::Full => Ok(Mat::from_fn(n, n, |i, j| {
            C64::new(if i == j { 1.0 } else { 0.0 }, 0.0)
        })),
        Subspace::Reduced => {
            let conj: Vec<Vec<C64>> = vectors
                .iter()
                .map(|v| v.iter().map(|z| z.conj()).collect())
                .collect();
            orthonormal_basis(&conj, n, 1e-12).ok_or_else(|| {
                IsacError::Numerical("eigendecomposition of the design subspace failed".into())
            })
        }
    }
}

/// `B^H v^*` (the coordinates of `conj(v)` in the basis).
pub(super) fn coordinates(basis: &Mat<C64>, v: &[C64]) -> Vec<C64> {
    (0..basis.ncols())
        .map(|c| {
            (0..basis.nrows())
                .map(|r| basis[(r, c)].conj() * v[r].conj())
                .sum()
        })
        .collect()
}

/// `B Z B^H`.
pub(super) fn lift(basis: &Mat<C64>, z: &Mat<C64>, scale: f64) -> Mat<C64> {
    let bz = basis * z;
    let mut r = &bz * basis.adjoint();
    for i in 0..r.nrows() {
        for j in 0..r.ncols() {
            r[(i, j)] *= scale;
        }
    }
    r
}

/// The FIM forms of the covariance `R = power B Z B^H`: `J_ij(Z) = Re tr(A_ij Z)` for the
/// 4 real parameters (angle, distance, Re beta, Im beta), from the transmit vectors'
/// coordinates in `basis` and the receive Gram.
pub(super) fn fim_forms(
    model: &NearfieldModel,
    basis: &Mat<C64>,
    power: f64,
    receive_gram: &[[C64; 3]; 3],
) -> Vec<Vec<Mat<C64>>> {
    let dim = basis.ncols();
    let q = model.transmit_vectors();
    let e: Vec<Vec<C64>> = q.iter().map(|v| coordinates(basis, v)).collect();
    let scale = model.fim_scale() * power;
    let variant = model.fim_variant();
    // J_ij(Z) = Re tr(A_ij Z), A_ij = scale sum C[y'][y] e_y e_y'^H
    (0..4)
        .map(|i| {
            (0..4)
                .map(|j| {
                    let c = fim_coefficients(receive_gram, model.sensing_gain, i, j, variant);
                    Mat::from_fn(dim, dim, |r, col| {
                        let mut v = C64::new(0.0, 0.0);
                        for y2 in 0..3 {
                            for y in 0..3 {
                                v += c[y2][y] * e[y][r] * e[y2][col].conj();
                            }
                        }
                        v * scale
                    })
                })
                .collect()
        })
        .collect()
}

/// The CRB part of both programs for the covariance `Z = sum_m s_m Z_m` (units of the
/// budget `power`; `parts` holds `(Z_m, s_m)`): `tr Z <= 1` and the Schur LMI, with
/// `offset[i][j]` (FIM units) added to the FIM (the PDD's auxiliary `Q`,
/// `super::pdd`). The FIM is equilibrated at the reference covariance `reference` (`Z`
/// coordinates; `I / dim` when `None`): a point of the size the program's answer will
/// have, so that the scaled FIM entries are O(1) there. Returns the objective to minimise
/// and the factor that turns its value into `tr CRB`.
#[allow(clippy::too_many_arguments)]
pub(super) fn crb_program(
    prob: &mut Problem,
    model: &NearfieldModel,
    basis: &Mat<C64>,
    power: f64,
    receive_gram: &[[C64; 3]; 3],
    parts: &[(&HermitianVar, f64)],
    offset: Option<&[Vec<Affine>]>,
    reference: Option<&Mat<C64>>,
) -> Result<(Affine, f64)> {
    let dim = basis.ncols();
    let a_mats = fim_forms(model, basis, power, receive_gram);
    let iso_value = |m: &Mat<C64>| -> f64 {
        match reference {
            Some(z) => (0..dim)
                .map(|r| (0..dim).map(|c| (m[(r, c)] * z[(c, r)]).re).sum::<f64>())
                .sum(),
            None => (0..dim).map(|k| m[(k, k)].re).sum::<f64>() / dim as f64,
        }
    };
    let d: Vec<f64> = (0..4)
        .map(|i| {
            let jii = iso_value(&a_mats[i][i]);
            if jii > 0.0 && jii.is_finite() {
                1.0 / jii.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    prob.le(covariance_trace(parts), 1.0);
    let mut jt = vec![vec![Affine::zero(); 4]; 4];
    for i in 0..4 {
        for j in i..4 {
            let mut entry = Affine::zero();
            for (zm, sm) in parts {
                entry.add_scaled(sm * d[i] * d[j], &zm.real_trace_with(&a_mats[i][j])?);
            }
            if let Some(off) = offset {
                entry.add_scaled(d[i] * d[j], &off[i][j]);
            }
            jt[i][j] = entry.clone();
            jt[j][i] = entry;
        }
    }
    schur_objective(prob, &jt, &d)
}

/// `tr CRB = tr(E^T J^{-1} E)` through the Schur LMI `[[J~, E], [E^T, V]] >= 0` (module
/// doc) for an affine, equilibrated FIM `J~ = D J D` (`jt`, symmetric) with `D =
/// diag(d)`. Returns the objective to minimise and the factor that turns its value into
/// `tr CRB`.
pub(super) fn schur_objective(
    prob: &mut Problem,
    jt: &[Vec<Affine>],
    d: &[f64],
) -> Result<(Affine, f64)> {
    let v = [prob.scalar(), prob.scalar(), prob.scalar()];
    let vm = [[&v[0], &v[1]], [&v[1], &v[2]]];
    let block: AffineMatrix = (0..6)
        .map(|r| {
            (0..6)
                .map(|c| match (r < 4, c < 4) {
                    (true, true) => jt[r][c].clone(),
                    (true, false) => Affine::constant(if r == c - 4 { 1.0 } else { 0.0 }),
                    (false, true) => Affine::constant(if c == r - 4 { 1.0 } else { 0.0 }),
                    (false, false) => vm[r - 4][c - 4].clone(),
                })
                .collect()
        })
        .collect();
    prob.lmi_symmetric(block)?;
    let w = [d[0] * d[0], d[1] * d[1]];
    let wmax = w[0].max(w[1]);
    let mut objective = Affine::zero();
    objective.add_scaled(w[0] / wmax, &v[0]);
    objective.add_scaled(w[1] / wmax, &v[2]);
    Ok((objective, wmax))
}

/// `tr Z = sum_m s_m tr Z_m`.
fn covariance_trace(parts: &[(&HermitianVar, f64)]) -> Affine {
    let mut t = Affine::zero();
    for (zm, sm) in parts {
        t.add_scaled(*sm, &zm.trace());
    }
    t
}

/// Maps a non-optimal conic status to a design status; `None` when there is a point.
fn solver_failure(status: &Status) -> Option<DesignStatus> {
    match status {
        Status::Infeasible { .. } => Some(DesignStatus::infeasible(
            "the solver's infeasibility certificate (checked by the conic layer)",
            true,
        )),
        Status::Unbounded => Some(DesignStatus::inaccurate(
            "the solver reported an unbounded objective",
            None,
        )),
        _ => None,
    }
}

/// The downlink optimum. When the solver's point misses a SINR target by a little (below
/// 1e-3 relative) and power control cannot repair it within the budget (users near the
/// edge of feasibility, interference-limited), the program is solved again with the
/// targets raised by 2, 8, then 32 times the shortfall until the answer passes the
/// re-check; the first solve's optimum stays as the reported `solver_objective`, so the
/// price of the margin is visible.
fn downlink(model: &NearfieldModel, settings: &SolverSettings) -> Result<DigitalDesign> {
    let (first, shortfall) = downlink_with_margin(model, settings, 0.0)?;
    let Some(x) = shortfall.filter(|&x| x > 0.0 && x < 1e-3) else {
        return Ok(first);
    };
    if first.status.has_checked_design() {
        return Ok(first);
    }
    let mut seconds = first.solve_seconds;
    let mut iterations = first.solver_iterations;
    for factor in [2.0, 8.0, 32.0] {
        let margin = factor * x;
        let (mut next, _) = downlink_with_margin(model, settings, margin)?;
        seconds += next.solve_seconds;
        iterations += next.solver_iterations;
        if next.status.has_checked_design() {
            // optimal only if the margin's price is within the re-check tolerance of the
            // first solve's optimum (a lower bound up to the solver's accuracy)
            let crb = next.bound.as_ref().and_then(|b| b.trace());
            if let (Some(c), Some(lower)) = (crb, first.solver_objective) {
                let gap = c / lower - 1.0;
                if gap > RESTORE_TOL {
                    next.status = DesignStatus::solved(format!(
                        "SINR targets raised by {margin:.2e} (relative) to absorb the solver's error; tr CRB {gap:.2e} above the program's optimum"
                    ));
                }
            }
            next.solver_objective = first.solver_objective;
            next.solve_seconds = seconds;
            next.solver_iterations = iterations;
            next.sinr_margin = Some(margin);
            return Ok(next);
        }
    }
    Ok(first)
}

/// One solve of the downlink program with the SINR targets raised to
/// `gamma (1 + margin)`; returns the checked design and the largest relative SINR
/// shortfall of the solver's raw point (`None` when there was no point).
fn downlink_with_margin(
    model: &NearfieldModel,
    settings: &SolverSettings,
    margin: f64,
) -> Result<(DigitalDesign, Option<f64>)> {
    let started = Instant::now();
    let s = &model.scenario;
    let na = s.mt.elements;
    let power = s.power;
    let gamma = s.min_sinr;
    let program_gamma = gamma * (1.0 + margin);
    let DownlinkSubspace { basis, c, tau } = downlink_subspace(model, na, program_gamma)?;
    let dim = basis.ncols();
    // feasibility of the SINR targets alone, decided exactly before any SDP
    let channels: Vec<&[C64]> = model.user_channels.iter().map(|h| h.as_slice()).collect();
    match minimum_downlink_power(&channels, s.noise, gamma, power) {
        MinimumPower::Exceeds(p_min) => {
            return Ok((DigitalDesign::empty(
                DesignStatus::infeasible(
                    format!(
                        "the SINR targets need at least {p_min:.6e} W > the budget {power:.6e} W (uplink-downlink duality)"
                    ),
                    true,
                ),
                dim,
                started.elapsed().as_secs_f64(),
            ), None))
        }
        MinimumPower::Unreachable => {
            return Ok((DigitalDesign::empty(
                DesignStatus::infeasible(
                    "the SINR targets are unreachable at any power (interference-limited, uplink-downlink duality)",
                    true,
                ),
                dim,
                started.elapsed().as_secs_f64(),
            ), None))
        }
        MinimumPower::Within(_) => {}
    }
    let mut prob = Problem::new();
    let (rd_var, ys) = sinr_constraints(&mut prob, dim, &c, &tau, program_gamma, power / s.noise)?;
    let parts = covariance_parts(&rd_var, &ys, &tau);
    let rg = model.receive_gram(None);
    let (objective, wmax) = crb_program(&mut prob, model, &basis, power, &rg, &parts, None, None)?;
    prob.minimize(objective);
    let sol = prob.solve(settings)?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(status) = solver_failure(&sol.status) {
        let mut d = DigitalDesign::empty(status, dim, seconds);
        d.solver_iterations = sol.iterations;
        return Ok((d, None));
    }
    let mut zv = sol.hermitian_value(&rd_var);
    for (y, t) in ys.iter().zip(&tau) {
        zv += sol.hermitian_value(y) * faer::Scale(C64::new(*t, 0.0));
    }
    let rx = lift(&basis, &zv, power);
    let mut w = rank_one_precoders(&sol, &ys, &tau, &c, &basis, power);
    let ww = &w * w.adjoint();
    let raw_rd = &rx - &ww;
    let mut d = DigitalDesign::empty(DesignStatus::Optimal, dim, seconds);
    d.solver_iterations = sol.iterations;
    d.solver_objective = Some(sol.objective * wmax);
    let mut problems = Vec::new();
    if let Status::Inaccurate { cause } = &sol.status {
        problems.push(format!("solver: {cause}"));
    }
    // R_d = R_x - W W^H is PSD in exact arithmetic (module doc); round-off of the
    // solver's point shows as eigenvalues of order its accuracy times the power
    let min_eig = min_eigenvalue(&raw_rd) / power;
    if !(min_eig >= -RESTORE_TOL) {
        problems.push(format!(
            "R_d not PSD (eigenvalue {min_eig:e} of the budget)"
        ));
    }
    let mut rd = psd_part(&raw_rd);
    let sinr_raw = model.downlink_sinr(&w, &rd);
    let shortfall = Some(sinr_raw.iter().map(|x| 1.0 - x / gamma).fold(0.0, f64::max));
    let power_raw = trace_re(&ww) + trace_re(&rd);
    let needs_restore = sinr_raw.iter().any(|&x| !(x >= gamma)) || !(power_raw <= power);
    if needs_restore && problems.is_empty() {
        match restore_feasibility(&channels, &mut w, &mut rd, s.noise, gamma, power) {
            Some(change) if change <= RESTORE_TOL => d.restored = Some(change),
            Some(change) => problems.push(format!(
                "the solver's point needs a power change of {change:e} (relative) to be feasible"
            )),
            None => {
                problems.push("the solver's point cannot be made feasible by power control".into())
            }
        }
    }
    let rx = &(&w * w.adjoint()) + &rd;
    let sinr = model.downlink_sinr(&w, &rd);
    let pw = trace_re(&rx);
    if !(pw <= power * (1.0 + RECHECK_TOL)) {
        problems.push(format!("power {pw:e} W exceeds the budget {power:e} W"));
    }
    let worst = sinr.iter().cloned().fold(f64::INFINITY, f64::min);
    if !(worst >= gamma * (1.0 - RECHECK_TOL)) {
        problems.push(format!("SINR {worst:e} below the target {gamma:e}"));
    }
    if !problems.is_empty() {
        d.status = DesignStatus::inaccurate(problems.join("; "), Some(sol.violation.scaled));
    }
    d.bound = Some(model.bound(&rx, None));
    d.transmit_covariance = Some(rx);
    d.digital = Some(w);
    d.sensing_covariance = Some(rd);
    d.sinr = Some(sinr);
    d.power = Some(pw);
    Ok((d, shortfall))
}

/// The rank-one construction (39) in coordinates: `y_k = Y_k c_k / sqrt(c_k^H Y_k c_k)`,
/// lifted (`w_k = sqrt(power) B y_k`; columns, `n x K` with `n` the rows of `basis`).
/// The subspace of a downlink program (the transmit vectors and the user channels, in
/// `n` dimensions), the users' coordinates `c_k` in it and the normalised SINR targets
/// `tau_k = gamma sigma^2 / (P |c_k|^2)` of [`sinr_constraints`].
pub(super) struct DownlinkSubspace {
    pub basis: Mat<C64>,
    pub c: Vec<Vec<C64>>,
    pub tau: Vec<f64>,
}

/// [`DownlinkSubspace`] of `model` in `n` dimensions at the SINR target `gamma`.
pub(super) fn downlink_subspace(
    model: &NearfieldModel,
    n: usize,
    gamma: f64,
) -> Result<DownlinkSubspace> {
    let s = &model.scenario;
    let mut vectors: Vec<Vec<C64>> = model.transmit_vectors().to_vec();
    vectors.extend(model.user_channels.iter().cloned());
    let basis = design_basis(&vectors, n, s.subspace)?;
    let c: Vec<Vec<C64>> = model
        .user_channels
        .iter()
        .map(|h| coordinates(&basis, h))
        .collect();
    let tau = c
        .iter()
        .map(|ck| gamma * s.noise / (s.power * ck.iter().map(|x| x.norm_sqr()).sum::<f64>()))
        .collect();
    Ok(DownlinkSubspace { basis, c, tau })
}

pub(super) fn rank_one_precoders(
    sol: &crate::conic::Solution,
    ys: &[HermitianVar],
    tau: &[f64],
    c: &[Vec<C64>],
    basis: &Mat<C64>,
    power: f64,
) -> Mat<C64> {
    let (n, dim) = (basis.nrows(), basis.ncols());
    let mut w = Mat::<C64>::zeros(n, ys.len());
    for u in 0..ys.len() {
        let yv = sol.hermitian_value(&ys[u]) * faer::Scale(C64::new(tau[u], 0.0));
        let yc: Vec<C64> = (0..dim)
            .map(|r| (0..dim).map(|col| yv[(r, col)] * c[u][col]).sum())
            .collect();
        let energy = inner(&c[u], &yc).re;
        if energy > 0.0 {
            for r in 0..n {
                let v: C64 = (0..dim).map(|col| basis[(r, col)] * yc[col]).sum();
                w[(r, u)] = v * (power / energy).sqrt();
            }
        }
    }
    w
}

/// What [`minimum_downlink_power`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinimumPower {
    /// The least total power meeting every SINR target, within the budget.
    Within(f64),
    /// The least power exceeds the budget: at least this much is needed.
    Exceeds(f64),
    /// No power meets the targets (the fixed point diverges).
    Unreachable,
}

/// The least total transmit power with which linear precoders meet every SINR target
/// `gamma` (with no probing), by uplink–downlink duality (Schubert & Boche 2004; Wiesel,
/// Eldar & Shamai, IEEE TSP 2006, Sec. III): with `g_k = conj(h_k) / sigma_0` the least
/// power is `sum_k lambda_k`, where `lambda` is the fixed point of
///
/// ```text
///   lambda_k = 1 / ((1 + 1/gamma) g_k^H (I + sum_i lambda_i g_i g_i^H)^{-1} g_k),
/// ```
///
/// a standard interference function: from `lambda = 0` the iterates increase
/// monotonically to the fixed point when it exists and diverge otherwise. So once
/// `sum lambda` exceeds the budget the targets are certainly infeasible within it (every
/// later iterate, and the fixed point, is larger); this certifies infeasibility without
/// a conic solve. Relative stopping tolerance 1e-12, at most 10 000 iterations.
pub fn minimum_downlink_power(
    channels: &[&[C64]],
    noise: f64,
    gamma: f64,
    budget: f64,
) -> MinimumPower {
    let k = channels.len();
    let n = channels.first().map_or(0, |h| h.len());
    let sigma = noise.sqrt();
    let g: Vec<Vec<C64>> = channels
        .iter()
        .map(|h| h.iter().map(|z| z.conj() / sigma).collect())
        .collect();
    let mut lambda = vec![0.0; k];
    for _ in 0..10_000 {
        let mut a = Mat::from_fn(n, n, |i, j| C64::new(if i == j { 1.0 } else { 0.0 }, 0.0));
        for (gi, li) in g.iter().zip(&lambda) {
            for r in 0..n {
                for c in 0..n {
                    a[(r, c)] += gi[r] * gi[c].conj() * *li;
                }
            }
        }
        let mut next = Vec::with_capacity(k);
        for gk in &g {
            match hermitian_solve(&a, gk) {
                Some(x) => next.push(1.0 / ((1.0 + 1.0 / gamma) * inner(gk, &x).re)),
                None => return MinimumPower::Unreachable,
            }
        }
        let total: f64 = next.iter().sum();
        if !total.is_finite() {
            return MinimumPower::Unreachable;
        }
        if total > budget {
            return MinimumPower::Exceeds(total);
        }
        let change = next
            .iter()
            .zip(&lambda)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        lambda = next;
        if change <= 1e-12 * total {
            return MinimumPower::Within(total);
        }
    }
    MinimumPower::Within(lambda.iter().sum())
}

/// Largest relative power change [`restore_feasibility`] may make to a solver's point
/// for the design to count as the program's optimum (the CRB moves by about as much).
pub const RESTORE_TOL: f64 = 1e-4;

/// `Re tr M` (the power of a covariance).
pub(crate) fn trace_re(m: &Mat<C64>) -> f64 {
    (0..m.nrows()).map(|i| m[(i, i)].re).sum()
}

/// Smallest eigenvalue of a Hermitian matrix.
pub(super) fn min_eigenvalue(m: &Mat<C64>) -> f64 {
    hermitian_eigen(m).map_or(f64::NAN, |(v, _)| v[0])
}

/// Makes a downlink design exactly feasible by power control, keeping every beam
/// direction: user `k`'s precoder is scaled by `sqrt(s_k)` and the probing covariance
/// by `t <= 1`. With `g_ki = |h_k^T w_i|^2` and `r_k = h_k^T R_d h_k^*`, the SINR
/// targets hold with equality when `(diag(g_kk)/gamma - G_off) s = sigma^2 1 + t r`, so
/// `s(t) = s_0 + t s_1`; the power `sum_i s_i |w_i|^2 + t tr R_d` is affine in `t` and
/// the largest `t <= 1` within the budget is taken. An interior-point answer is feasible
/// only to the solver's tolerance, and (12) divides by the small interference-plus-noise
/// term, so a SINR can miss its target by ~1e-4 relative; this step removes that
/// without a new solve. Returns the largest relative change of any power (`|s_k - 1|`,
/// `1 - t`), or `None` when no nonnegative solution exists.
pub fn restore_feasibility(
    channels: &[&[C64]],
    precoders: &mut Mat<C64>,
    sensing: &mut Mat<C64>,
    noise: f64,
    gamma: f64,
    power: f64,
) -> Option<f64> {
    let k = channels.len();
    let n = precoders.nrows();
    let gain = |u: usize, i: usize| -> f64 {
        (0..n)
            .map(|r| channels[u][r] * precoders[(r, i)])
            .sum::<C64>()
            .norm_sqr()
    };
    let m = Mat::from_fn(k, k, |u, i| {
        if u == i {
            gain(u, u) / gamma
        } else {
            -gain(u, i)
        }
    });
    let probe: Vec<f64> = (0..k)
        .map(|u| super::model::transposed_form(channels[u], sensing, channels[u]).re)
        .collect();
    let lu = m.partial_piv_lu();
    let solve = |rhs: &[f64]| -> Vec<f64> {
        let b = Mat::from_fn(k, 1, |i, _| rhs[i]);
        let x = faer::linalg::solvers::Solve::solve(&lu, &b);
        (0..k).map(|i| x[(i, 0)]).collect()
    };
    let s0 = solve(&vec![noise; k]);
    let s1 = solve(&probe);
    let norms: Vec<f64> = (0..k)
        .map(|i| (0..n).map(|r| precoders[(r, i)].norm_sqr()).sum())
        .collect();
    let fixed: f64 = s0.iter().zip(&norms).map(|(a, b)| a * b).sum();
    let slope: f64 = s1.iter().zip(&norms).map(|(a, b)| a * b).sum::<f64>() + trace_re(sensing);
    let t = if fixed + slope <= power {
        1.0
    } else if slope > 0.0 {
        (power - fixed) / slope
    } else {
        return None;
    };
    if !(0.0..=1.0).contains(&t) {
        return None;
    }
    let scales: Vec<f64> = (0..k).map(|i| s0[i] + t * s1[i]).collect();
    if scales.iter().any(|x| !(*x >= 0.0)) {
        return None;
    }
    let mut change = 1.0 - t;
    for (i, sc) in scales.iter().enumerate() {
        change = change.max((sc - 1.0).abs());
        let f = sc.sqrt();
        for r in 0..n {
            precoders[(r, i)] *= f;
        }
    }
    for r in 0..n {
        for c in 0..n {
            sensing[(r, c)] *= t;
        }
    }
    Some(change)
}

/// The SINR constraints (38b)-(38d) with `R_x = R_d + sum_k W_k` (units of the budget):
/// `R_d >= 0` and `W_k = tau_k Y_k >= 0` are the variables, with
/// `tau_k = gamma sigma^2 / (P |c_k|^2)` the power user `k` needs alone, so that `Y_k`
/// is O(1) like `R_d` (the solver's accuracy is absolute on O(1) unknowns; unscaled, the
/// users' few-per-mille share of the power met the SINR targets only to 1e-3). Each SINR
/// row is written without cancellation, `(1/gamma) h^T W_k h^* - sum_{i != k} h^T W_i h^*
/// - h^T R_d h^* >= sigma_0^2`, in units of the noise (`snr = P / sigma_0^2`); the
/// `(1 + 1/gamma) W_k >= R_x` form of (38b) loses digits at high SINR targets.
/// Returns `R_d` and the `Y_k`.
pub(super) fn sinr_constraints(
    prob: &mut Problem,
    dim: usize,
    c: &[Vec<C64>],
    tau: &[f64],
    gamma: f64,
    snr: f64,
) -> Result<(HermitianVar, Vec<HermitianVar>)> {
    let rd = prob.psd_hermitian(dim);
    let ys: Vec<HermitianVar> = c.iter().map(|_| prob.psd_hermitian(dim)).collect();
    for (u, cu) in c.iter().enumerate() {
        let mut lhs = ys[u].quad_form(cu)?.scaled(tau[u] * snr / gamma);
        for (i, yi) in ys.iter().enumerate() {
            if i != u {
                lhs -= yi.quad_form(cu)?.scaled(tau[i] * snr);
            }
        }
        lhs -= rd.quad_form(cu)?.scaled(snr);
        prob.ge(lhs, 1.0);
    }
    Ok((rd, ys))
}

/// `(R_d, 1), (Y_k, tau_k)`: the parts of `R_x`.
pub(super) fn covariance_parts<'a>(
    rd: &'a HermitianVar,
    ys: &'a [HermitianVar],
    tau: &[f64],
) -> Vec<(&'a HermitianVar, f64)> {
    std::iter::once((rd, 1.0))
        .chain(ys.iter().zip(tau).map(|(y, t)| (y, *t)))
        .collect()
}

/// The uplink echo limit `s_max` of the module doc for the combiner `F` (identity when
/// `None`): `Ok(None)` when no user limits the echo, `Err(k)` when user `k` misses its
/// SINR target even without probing.
pub fn uplink_echo_limit(
    model: &NearfieldModel,
    combiner: Option<&Mat<C64>>,
) -> std::result::Result<Option<f64>, usize> {
    let s = &model.scenario;
    let zero = Mat::<C64>::zeros(s.at.elements, s.at.elements);
    let a = match combiner {
        Some(f) => super::model::combine(f, &model.mt_response.value),
        None => model.mt_response.value.clone(),
    };
    let c = model.sensing_gain.norm_sqr();
    let mut limit: Option<f64> = None;
    for u in 0..model.users() {
        let h = match combiner {
            Some(f) => super::model::combine(f, &model.user_channels[u]),
            None => model.user_channels[u].clone(),
        };
        // A_k: interference-plus-noise without the echo
        let ak = model.uplink_interference(u, &zero, combiner);
        let (ah, aa) = match (hermitian_solve(&ak, &h), hermitian_solve(&ak, &a)) {
            (Some(x), Some(y)) => (x, y),
            _ => return Err(u),
        };
        let g = inner(&h, &ah).re;
        let x = inner(&a, &ah).norm_sqr();
        let y = inner(&a, &aa).re;
        let delta = g - s.min_sinr / s.user_power;
        if delta < 0.0 {
            return Err(u);
        }
        let denom = c * (x - delta * y);
        if denom > 0.0 {
            let su = delta / denom;
            limit = Some(limit.map_or(su, |l: f64| l.min(su)));
        }
    }
    Ok(limit)
}

/// The uplink design for the MT's analog combiner `F` (`None`: fully digital, `F = I`):
/// `min tr CRB(R_u; F)  s.t.  tr R_u <= P_s, b^T R_u b^* <= s_max(F), R_u >= 0` with
/// MMSE combiners `w_k` after `F` (module doc). Exact for every `F` with `F^H F = I`: the
/// block `{U, R_u, w_k}` of Algorithm 6 solved to optimality. The combiners are returned
/// in `F`'s domain (`N_RF x K`; `N_a x K` when `None`).
pub fn uplink_through(
    model: &NearfieldModel,
    combiner: Option<&Mat<C64>>,
    settings: &SolverSettings,
) -> Result<DigitalDesign> {
    let started = Instant::now();
    let s = &model.scenario;
    let nb = s.at.elements;
    let power = s.power;
    let vectors = model.transmit_vectors().to_vec();
    let basis = design_basis(&vectors, nb, s.subspace)?;
    let dim = basis.ncols();
    let limit = match uplink_echo_limit(model, combiner) {
        Ok(l) => l,
        Err(u) => {
            return Ok(DigitalDesign::empty(
                DesignStatus::infeasible(
                    format!("user {u} misses its SINR target even without probing (MMSE combining{}, no echo)", if combiner.is_some() { " through this analog stage" } else { "" }),
                    true,
                ),
                dim,
                started.elapsed().as_secs_f64(),
            ))
        }
    };
    let mut prob = Problem::new();
    let z = prob.psd_hermitian(dim);
    let rg = model.receive_gram(combiner);
    let b = coordinates(&basis, &model.at_response.value);
    // equilibrate at a point that respects the echo limit: isotropic except along b,
    // where the echo is at most s_max (a limit far below P_s |b|^2 / dim otherwise leaves
    // the gain's FIM entries orders of magnitude below their equilibrated size and the
    // solver stalls, measured on Fig. 6 drops at 20 dB)
    let bb: f64 = b.iter().map(|x| x.norm_sqr()).sum();
    let reference = limit.filter(|_| bb > 0.0).map(|smax| {
        let t = (1.0 / dim as f64).min(smax / (power * bb));
        Mat::from_fn(dim, dim, |r, c| {
            let uu = b[r] * b[c].conj() / bb;
            let eye = if r == c { 1.0 } else { 0.0 };
            (C64::new(eye, 0.0) - uu) / dim as f64 + uu * t
        })
    });
    let (objective, wmax) = crb_program(
        &mut prob,
        model,
        &basis,
        power,
        &rg,
        &[(&z, 1.0)],
        None,
        reference.as_ref(),
    )?;
    prob.minimize(objective);
    if let Some(smax) = limit {
        // b^T R_u b^* = P_s b'^H Z b' <= s_max, in units of s_max
        prob.le(z.quad_form(&b)?.scaled(power / smax), 1.0);
    }
    let sol = prob.solve(settings)?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(status) = solver_failure(&sol.status) {
        let mut d = DigitalDesign::empty(status, dim, seconds);
        d.solver_iterations = sol.iterations;
        return Ok(d);
    }
    let zv = sol.hermitian_value(&z);
    let mut ru = lift(&basis, &zv, power);
    let mut d = DigitalDesign::empty(DesignStatus::Optimal, dim, seconds);
    d.solver_iterations = sol.iterations;
    d.solver_objective = Some(sol.objective * wmax);
    d.echo_limit = limit;
    // the solver meets b^T R_u b^* <= s_max to its tolerance; scaling R_u by
    // s_max / s (at most the solver's error) makes it exact and lowers the power
    let b_full = &model.at_response.value;
    let echo = super::model::transposed_form(b_full, &ru, b_full).re;
    if let Some(smax) = limit {
        if echo > smax {
            let f = smax / echo;
            if 1.0 - f <= RESTORE_TOL {
                ru *= faer::Scale(C64::new(f, 0.0));
                d.restored = Some(1.0 - f);
            }
        }
    }
    let k = model.users();
    let na = combiner.map_or(s.mt.elements, |f| f.ncols());
    let mut combiners = Mat::<C64>::zeros(na, k);
    let mut sinr = Vec::with_capacity(k);
    let mut problems = Vec::new();
    for u in 0..k {
        match model.mmse_combiner(u, &ru, combiner) {
            Some(wk) => {
                sinr.push(model.uplink_sinr_with(u, &wk, &ru, combiner));
                for r in 0..na {
                    combiners[(r, u)] = wk[r];
                }
            }
            None => {
                sinr.push(f64::NAN);
                problems.push(format!("no MMSE combiner for user {u}"));
            }
        }
    }
    let pw: f64 = (0..nb).map(|i| ru[(i, i)].re).sum();
    if let Status::Inaccurate { cause } = &sol.status {
        problems.push(format!("solver: {cause}"));
    }
    if !(pw <= power * (1.0 + RECHECK_TOL)) {
        problems.push(format!("power {pw:e} W exceeds the budget {power:e} W"));
    }
    let worst = sinr.iter().cloned().fold(f64::INFINITY, f64::min);
    if !(worst >= s.min_sinr * (1.0 - RECHECK_TOL)) {
        problems.push(format!("SINR {worst:e} below the target {:e}", s.min_sinr));
    }
    if !problems.is_empty() {
        d.status = DesignStatus::inaccurate(problems.join("; "), Some(sol.violation.scaled));
    }
    d.bound = Some(model.bound(&ru, combiner));
    d.transmit_covariance = Some(ru.clone());
    d.sensing_covariance = Some(ru);
    d.digital = Some(combiners);
    d.sinr = Some(sinr);
    d.power = Some(pw);
    Ok(d)
}
