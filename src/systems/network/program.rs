//! The convex core of the network design: for a fixed receiving BS `r` and a fixed user
//! association, problem (13) without the binaries is the semidefinite relaxation (SDR)
//!
//! ```text
//! minimise   sum_k tr W_k + sum_{s != r} tr R_s
//! subject to C1   sum_{k: a(k) = s} tr W_k + tr R_s <= P            (every s != r)
//!            C3   tr(H_{a(k),k} W_k) >= Gamma_k ( sum_{k' != k} tr(H_{a(k'),k} W_{k'})
//!                      + sum_{s != r} tr(H_{s,k} R_s) + sigma_k^2 )   (9)
//!            C2   [[F_pp - J, F_pa], [F_pa^T, F_aa]] >= 0,  tr J^{-1} <= epsilon   (10)-(12)
//!                 W_k >= 0, R_s >= 0
//! ```
//!
//! with every FIM block linear in the covariances `C_s = sum_{a(k)=s} W_k + R_s` (see
//! [`super::model`]). The nuisance gains enter the LMI in normalised units
//! `beta = alpha / |alpha|` (rows and columns scaled by `|alpha_{s'}|`), which leaves the
//! Schur complement unchanged and keeps every entry of order one.
//!
//! **Rank one (Theorem 1).** Whatever rank the solver's `W_k` has, `w_k = W_k h / sqrt(h^H
//! W_k h)` (`h = h_{a(k),k}`) with `R_{a(k)} += W_k - w_k w_k^H` (PSD by Cauchy–Schwarz)
//! keeps every covariance `C_s`, every useful signal `|h^H w_k|^2 = h^H W_k h` and every
//! interference term, hence the power, the SINRs and the CRLB: a rank-one design with the
//! same objective always exists. We report the rank found before this step.

use crate::conic::{Affine, AffineMatrix, Fallback, HermitianVar, Problem, SolverSettings, Status};
use crate::error::Result;
use crate::linalg::hermitian_rank;
use crate::C64;
use faer::Mat;

use super::model::{FimMap, NetworkModel};

/// Outcome of one fixed-structure program.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgramStatus {
    Optimal,
    Infeasible,
    /// The solver's answer is not certified; the reason says why.
    Inaccurate(String),
}

/// A design: the receiving BS, the association, the beamformers and sensing covariances.
#[derive(Debug, Clone)]
pub struct NetworkDesign {
    pub receiver: usize,
    /// Serving BS per user.
    pub association: Vec<usize>,
    /// `w_k` (length `N`), transmitted by BS `association[k]`.
    pub beamformers: Vec<Vec<C64>>,
    /// `R_s`, `N x N` (zero for the receiving BS).
    pub sensing: Vec<Mat<C64>>,
    /// Largest numerical rank among the SDR's `W_k` before extraction.
    pub max_rank: usize,
    /// Total transmit power of the returned design (W); with [`Objective::Crlb`], the
    /// smallest CRLB (m^2).
    pub objective: f64,
}

/// Relative margin on the SINR targets and the CRLB bound inside the programs: Clarabel
/// stops these degenerate SDPs (the part of `W_k` orthogonal to `h` is interchangeable
/// with `R_s`) at a relative accuracy of ~1e-5 ("AlmostSolved"); solving for
/// `Gamma (1 + margin)` and `epsilon (1 - margin)` makes the returned design meet the
/// exact targets when re-checked, at a cost of ~1e-4 in power.
pub const PROGRAM_MARGIN: f64 = 1e-4;

/// Relative eigenvalue threshold of the reported rank.
pub const RANK_TOL: f64 = 1e-6;

/// What the fixed-structure program minimises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// The total transmit power under `CRLB <= epsilon` (problem (13) relaxed).
    Power,
    /// The CRLB itself under the power and SINR constraints (no `epsilon`): its optimum
    /// above `epsilon` certifies that the power problem is infeasible.
    Crlb,
}

/// Solver settings of the network programs: Clarabel's defaults but 1e-7 tolerances (its
/// 1e-8 stalls one step short on these SDPs, "AlmostSolved" at ~1.3e-8).
pub fn program_settings() -> SolverSettings {
    SolverSettings {
        tol_gap_abs: 1e-7,
        tol_gap_rel: 1e-7,
        tol_feas: 1e-7,
        tol_infeas_abs: 1e-7,
        tol_infeas_rel: 1e-7,
        // a second linear-system backend takes a different path through the iterations
        // when an answer is inaccurate (the conic layer's row normalisation, off by
        // default, makes Clarabel fail on these SDPs: numerical error on the pure-SINR case)
        fallbacks: vec![Fallback::DirectSolveMethod("qdldl".into())],
        // looser iterative refinement: faster, and it solves instances the default stalls
        // on ("insufficient progress" near the CRLB floor)
        iterative_refinement_reltol: 1e-10,
        iterative_refinement_max_iter: 3,
        ..SolverSettings::default()
    }
}

/// The fixed-structure program of one `(receiver, association)`: minimise the power.
///
/// When the solver neither solves nor certifies infeasibility (typically "insufficient
/// progress" on an infeasible instance), the CRLB-minimising program decides: its
/// optimum above `epsilon` (or its own certified infeasibility: the SINRs cannot be met)
/// proves the power problem infeasible; otherwise the uncertified answer stays
/// `Inaccurate` and its design is returned for the re-check.
pub fn solve_fixed(
    model: &NetworkModel,
    fim: &FimMap,
    association: &[usize],
    settings: &SolverSettings,
) -> Result<(ProgramStatus, Option<NetworkDesign>)> {
    if sinr_power_bound_exceeded(model, association) {
        return Ok((ProgramStatus::Infeasible, None));
    }
    // the settings' fallbacks (program_settings: QDLDL as the KKT backend) are tried by
    // the conic layer when the answer is inaccurate
    let first = solve_fixed_with(model, fim, association, Objective::Power, settings)?;
    if !matches!(first.0, ProgramStatus::Inaccurate(_)) {
        return Ok(first);
    }
    // the CRLB program is solved once, with the settings as given
    let no_fallbacks = SolverSettings {
        fallbacks: Vec::new(),
        ..settings.clone()
    };
    let (status, floor) =
        solve_fixed_with(model, fim, association, Objective::Crlb, &no_fallbacks)?;
    match (status, floor) {
        (ProgramStatus::Infeasible, _) => Ok((ProgramStatus::Infeasible, None)),
        (ProgramStatus::Optimal, Some(d))
            if d.objective > model.scenario.max_crlb * (1.0 + CERTIFICATE_MARGIN) =>
        {
            Ok((ProgramStatus::Infeasible, None))
        }
        _ => Ok(first),
    }
}

/// Relative margin by which the smallest CRLB must exceed `epsilon` to certify
/// infeasibility (well above the solver's 1e-7 accuracy).
pub const CERTIFICATE_MARGIN: f64 = 1e-5;

/// The fixed-structure program with either objective. With [`Objective::Crlb`] the
/// design's `objective` is the smallest CRLB (m^2).
pub fn solve_fixed_with(
    model: &NetworkModel,
    fim: &FimMap,
    association: &[usize],
    goal: Objective,
    settings: &SolverSettings,
) -> Result<(ProgramStatus, Option<NetworkDesign>)> {
    let s_count = model.bs_count();
    let k_count = model.user_count();
    let n = model.antennas();
    let r = fim.receiver;
    let sc = &model.scenario;
    let mut p = Problem::new();
    let w: Vec<HermitianVar> = (0..k_count).map(|_| p.psd_hermitian(n)).collect();
    let on = fim.transmitters();
    if let Some(k) = (0..k_count).find(|&k| !on.contains(&association[k])) {
        return Err(crate::error::IsacError::input(
            "association",
            format!(
                "user {k} is served by BS {}, which is not transmitting (receiver {r})",
                association[k]
            ),
        ));
    }
    let rs: Vec<Option<HermitianVar>> = (0..s_count)
        .map(|s| on.contains(&s).then(|| p.psd_hermitian(n)))
        .collect();
    // the variables making up C_s
    let parts = |s: usize| -> Vec<&HermitianVar> {
        let mut v: Vec<&HermitianVar> = (0..k_count)
            .filter(|&k| association[k] == s)
            .map(|k| &w[k])
            .collect();
        if let Some(x) = &rs[s] {
            v.push(x);
        }
        v
    };
    let re_tr_c = |s: usize, a: &Mat<C64>| -> Result<Affine> {
        let mut out = Affine::zero();
        for v in parts(s) {
            out += v.real_trace_with(a)?;
        }
        Ok(out)
    };
    // C1
    for s in on.iter().copied() {
        let tr = Affine::sum(
            parts(s)
                .iter()
                .map(|v| v.trace())
                .collect::<Vec<_>>()
                .iter(),
        );
        p.le(tr, sc.max_power * (1.0 - PROGRAM_MARGIN));
    }
    // C3 (9), divided by ||h_{a(k),k}||^2 (the useful signal's coefficient scale), so
    // that rows of users near and far are of one order
    for k in 0..k_count {
        let g = sc.min_sinr[k] * (1.0 + PROGRAM_MARGIN);
        let own: f64 = model.user_channels[association[k]][k]
            .iter()
            .map(|z| z.norm_sqr())
            .sum();
        let scale = 1.0 / own;
        let gram = |s: usize| {
            let h = model.user_gram(s, k);
            Mat::from_fn(n, n, |a, b| h[(a, b)] * scale)
        };
        let mut lhs = w[k].real_trace_with(&gram(association[k]))?;
        for kk in (0..k_count).filter(|&kk| kk != k) {
            lhs -= w[kk].real_trace_with(&gram(association[kk]))?.scaled(g);
        }
        for (s, v) in rs.iter().enumerate() {
            if let Some(v) = v {
                lhs -= v.real_trace_with(&gram(s))?.scaled(g);
            }
        }
        p.ge(lhs, g * sc.user_noise / own);
    }
    // C2: the FIM LMI (12) and tr J^{-1} <= epsilon (10)
    let unit = match goal {
        Objective::Power => sc.max_crlb,
        Objective::Crlb => crlb_unit(model, fim),
    };
    let jm = crlb_lmi(&mut p, fim, &re_tr_c, unit)?;
    match goal {
        Objective::Power => {
            p.trace_inv_epigraph(jm, 1.0 - PROGRAM_MARGIN)?;
            let objective = Affine::sum(
                w.iter()
                    .map(|v| v.trace())
                    .chain(rs.iter().flatten().map(|v| v.trace()))
                    .collect::<Vec<_>>()
                    .iter(),
            );
            p.minimize(objective);
        }
        Objective::Crlb => {
            let t = p.scalar();
            p.trace_inv_epigraph(jm, t.clone())?;
            p.minimize(t);
        }
    }
    let sol = p.solve(settings)?;
    let status = match &sol.status {
        // full or reduced accuracy, past the conic layer's violation gate
        Status::Optimal { .. } => ProgramStatus::Optimal,
        Status::Infeasible { .. } => return Ok((ProgramStatus::Infeasible, None)),
        Status::Inaccurate { cause } if sol.has_finite_point() => {
            ProgramStatus::Inaccurate(cause.to_string())
        }
        Status::Inaccurate { cause } => {
            return Ok((ProgramStatus::Inaccurate(cause.to_string()), None))
        }
        Status::Unbounded => {
            return Ok((
                ProgramStatus::Inaccurate("solver reported an unbounded power minimisation".into()),
                None,
            ))
        }
    };
    let wv: Vec<Mat<C64>> = w.iter().map(|v| sol.hermitian_value(v)).collect();
    let mut sensing: Vec<Mat<C64>> = rs
        .iter()
        .map(|v| match v {
            Some(v) => sol.hermitian_value(v),
            None => Mat::zeros(n, n),
        })
        .collect();
    let mut max_rank = 0;
    let mut beamformers = Vec::with_capacity(k_count);
    for k in 0..k_count {
        let wk = &wv[k];
        max_rank = max_rank.max(hermitian_rank(wk, RANK_TOL));
        let h = &model.user_channels[association[k]][k];
        let wh: Vec<C64> = (0..n)
            .map(|a| (0..n).map(|b| wk[(a, b)] * h[b]).sum())
            .collect();
        let hwh: f64 = (0..n).map(|a| (h[a].conj() * wh[a]).re).sum();
        let vec: Vec<C64> = if hwh > 0.0 {
            wh.iter().map(|x| x / hwh.sqrt()).collect()
        } else {
            vec![C64::new(0.0, 0.0); n]
        };
        let rest = &mut sensing[association[k]];
        for a in 0..n {
            for b in 0..n {
                rest[(a, b)] += wk[(a, b)] - vec[a] * vec[b].conj();
            }
        }
        beamformers.push(vec);
    }
    for r in sensing.iter_mut() {
        *r = crate::linalg::psd_part(r);
    }
    restore_sinr(model, association, &mut beamformers, &sensing);
    // the design's power (after restoration), not the program's objective
    let total_power: f64 = beamformers
        .iter()
        .flatten()
        .map(|z| z.norm_sqr())
        .sum::<f64>()
        + sensing
            .iter()
            .map(|r| (0..n).map(|i| r[(i, i)].re).sum::<f64>())
            .sum::<f64>();
    Ok((
        status,
        Some(NetworkDesign {
            receiver: r,
            association: association.to_vec(),
            beamformers,
            sensing,
            max_rank,
            objective: match goal {
                Objective::Power => total_power,
                Objective::Crlb => sol.objective * unit,
            },
        }),
    ))
}

/// Adds the FIM LMI (12) `[[F_pp - J, F_pa], [F_pa^T, F_aa]] >= 0` for the covariances
/// whose `Re tr(A C_s)` is `re_tr_c(s, A)`, and returns the 2x2 `J`.
///
/// `J` is returned in units of `1 / unit` (`J' = unit J`), so that `tr J'^{-1} <= 1` is
/// `tr J^{-1} <= unit`: with `unit = epsilon` every entry of the trace-inverse block is of
/// order one whatever `epsilon` is (a large `epsilon` otherwise makes `J` tiny and the
/// solver fail).
fn crlb_lmi(
    p: &mut Problem,
    fim: &FimMap,
    re_tr_c: &dyn Fn(usize, &Mat<C64>) -> Result<Affine>,
    unit: f64,
) -> Result<AffineMatrix> {
    let lmi = fim_matrix(fim, re_tr_c)?;
    add_crlb_lmi(p, lmi, unit)
}

/// The FIM `[[F_pp, F_pa], [F_pa^T, F_aa]]` of (29) as an affine matrix, the gains in
/// units of `|alpha_{s'}|`, for covariances whose `Re tr(A C_s)` is `re_tr_c(s, A)`.
pub fn fim_matrix(
    fim: &FimMap,
    re_tr_c: &dyn Fn(usize, &Mat<C64>) -> Result<Affine>,
) -> Result<AffineMatrix> {
    let t = fim.paths.len();
    let dim = 2 + 2 * t;
    let mut lmi = vec![vec![Affine::zero(); dim]; dim];
    for (q, path) in fim.paths.iter().enumerate() {
        let coef = fim.path_coefficients(q);
        let mag = path.gain.norm();
        // parameter order in the LMI: p1, p2, Re beta (all), Im beta (all)
        let index = [0, 1, 2 + q, 2 + t + q];
        let unit = [1.0, 1.0, mag, mag];
        for a in 0..4 {
            for b in a..4 {
                if a >= 2 && b >= 2 && a != b {
                    continue; // Re/Im cross information is zero
                }
                let e =
                    re_tr_c(path.transmitter, &coef[a][b])?.scaled(fim.scale * unit[a] * unit[b]);
                let (i, j) = (index[a], index[b]);
                lmi[i][j] += &e;
                if i != j {
                    lmi[j][i] += &e;
                }
            }
        }
    }
    Ok(lmi)
}

/// Adds `[[F_pp - J/unit, F_pa], [F_pa^T, F_aa]] >= 0` (12) for the FIM matrix `lmi` and
/// returns `J' = unit J` (see [`crlb_lmi`]).
pub fn add_crlb_lmi(p: &mut Problem, mut lmi: AffineMatrix, unit: f64) -> Result<AffineMatrix> {
    let j = [p.scalar(), p.scalar(), p.scalar()];
    let inv = 1.0 / unit;
    lmi[0][0] = &lmi[0][0] - &j[0].scaled(inv);
    lmi[0][1] = &lmi[0][1] - &j[1].scaled(inv);
    lmi[1][0] = &lmi[1][0] - &j[1].scaled(inv);
    lmi[1][1] = &lmi[1][1] - &j[2].scaled(inv);
    p.lmi_symmetric(lmi)?;
    Ok(vec![
        vec![j[0].clone(), j[1].clone()],
        vec![j[1].clone(), j[2].clone()],
    ])
}

/// The smallest CRLB receiving BS `fim.receiver` can reach with every other BS
/// transmitting at most `P`, whatever the users need (a relaxation of every association:
/// above `epsilon`, no association with this receiver is feasible). `None` if the solver
/// does not certify the value.
pub fn crlb_floor(
    model: &NetworkModel,
    fim: &FimMap,
    settings: &SolverSettings,
) -> Result<Option<f64>> {
    let unit = crlb_unit(model, fim);
    let (mut p, _, jm) = covariance_program(model, fim, model.scenario.max_power, unit)?;
    let t = p.scalar();
    p.trace_inv_epigraph(jm, t.clone())?;
    p.minimize(t);
    let sol = p.solve(settings)?;
    Ok(sol.status.is_optimal().then_some(sol.objective * unit))
}

/// Feasibility restoration after the SDR (the solver meets the SINR rows to ~1e-7 of
/// their largest term, which in an interference-limited cell is ~1e-4 of the SINR): with
/// the beam directions and sensing covariances fixed, the powers `p_k = ||w_k||^2` solve
/// the classical power-control fixed point
/// `p_k <- max(p_k, Gamma_k (sum_{j != k} g_kj p_j + i_k + sigma^2) / g_kk)`,
/// which only raises powers, so every covariance `C_s` grows in the PSD order and the
/// CRLB can only fall (the FIM is monotone in `C_s`, the Schur complement in the FIM).
/// It converges within a few steps for the ~1e-4 corrections it has to make.
fn restore_sinr(
    model: &NetworkModel,
    association: &[usize],
    beamformers: &mut [Vec<C64>],
    sensing: &[Mat<C64>],
) {
    let sc = &model.scenario;
    let k_count = beamformers.len();
    let n = model.antennas();
    let power: Vec<f64> = beamformers
        .iter()
        .map(|w| w.iter().map(|z| z.norm_sqr()).sum())
        .collect();
    if power.iter().any(|&p| p <= 0.0) {
        return;
    }
    // unit-power gains g[k][j] = |h_{a(j),k}^H w_j|^2 / p_j and sensing interference i_k
    let g: Vec<Vec<f64>> = (0..k_count)
        .map(|k| {
            (0..k_count)
                .map(|j| {
                    let h = &model.user_channels[association[j]][k];
                    let z: C64 = h
                        .iter()
                        .zip(&beamformers[j])
                        .map(|(a, b)| a.conj() * b)
                        .sum();
                    z.norm_sqr() / power[j]
                })
                .collect()
        })
        .collect();
    let i: Vec<f64> = (0..k_count)
        .map(|k| {
            (0..model.bs_count())
                .map(|s| {
                    let h = &model.user_channels[s][k];
                    (0..n)
                        .map(|a| {
                            (0..n)
                                .map(|b| h[a].conj() * sensing[s][(a, b)] * h[b])
                                .sum::<C64>()
                        })
                        .sum::<C64>()
                        .re
                })
                .sum()
        })
        .collect();
    let mut p = power.clone();
    for _ in 0..200 {
        let mut changed = false;
        for k in 0..k_count {
            let need = sc.min_sinr[k]
                * ((0..k_count)
                    .filter(|&j| j != k)
                    .map(|j| g[k][j] * p[j])
                    .sum::<f64>()
                    + i[k]
                    + sc.user_noise)
                / g[k][k];
            if need > p[k] * (1.0 + 1e-15) {
                p[k] = need * (1.0 + 1e-12);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (w, (new, old)) in beamformers.iter_mut().zip(p.iter().zip(&power)) {
        let f = (new / old).sqrt();
        for z in w.iter_mut() {
            *z *= f;
        }
    }
}

/// A certificate of infeasibility without a solver: user `k` alone, without interference
/// and with maximum-ratio transmission, needs `Gamma_k sigma^2 / ||h_{a(k),k}||^2`; if the
/// users of one BS need more than `P` together, no design with this association exists.
pub fn sinr_power_bound_exceeded(model: &NetworkModel, association: &[usize]) -> bool {
    let sc = &model.scenario;
    let mut need = vec![0.0; model.bs_count()];
    for (k, &s) in association.iter().enumerate() {
        need[s] += single_link_power(model, s, k);
    }
    need.iter()
        .any(|&x| x > sc.max_power * (1.0 - PROGRAM_MARGIN))
}

/// The unit of a CRLB-minimising program: the isotropic full-power CRLB when finite.
pub fn crlb_unit(model: &NetworkModel, fim: &FimMap) -> f64 {
    let c = fim.isotropic_crlb(model.bs_count(), model.antennas());
    if c.is_finite() && c > 0.0 {
        c
    } else {
        model.scenario.max_crlb
    }
}

/// A lower bound of the total power of every design with this receiver: the smallest
/// `sum_s tr C_s` meeting `CRLB <= epsilon` (with the programs' margin) and the per-BS
/// budgets, whatever the users need. `None` if the solver does not certify it.
pub fn sensing_power_floor(
    model: &NetworkModel,
    fim: &FimMap,
    settings: &SolverSettings,
) -> Result<Option<f64>> {
    let sc = &model.scenario;
    let budget = sc.max_power * (1.0 - PROGRAM_MARGIN);
    let (mut p, cov, jm) = covariance_program(model, fim, budget, sc.max_crlb)?;
    p.trace_inv_epigraph(jm, 1.0 - PROGRAM_MARGIN)?;
    p.minimize(Affine::sum(
        cov.iter().map(|c| c.trace()).collect::<Vec<_>>().iter(),
    ));
    let sol = p.solve(settings)?;
    // a lower bound must not exceed the true floor: keep only certified optima, minus the
    // solver's tolerance
    Ok(sol
        .status
        .is_optimal()
        .then_some(sol.objective * (1.0 - 1e-6)))
}

/// A lower bound of the power of an association from the users alone: user `k` needs at
/// least `Gamma_k sigma^2 / ||h_{a(k),k}||^2` even without interference.
pub fn user_power_floor(model: &NetworkModel, association: &[usize]) -> f64 {
    association
        .iter()
        .enumerate()
        .map(|(k, &s)| single_link_power(model, s, k))
        .sum()
}

/// The power BS `s` needs to give user `k` its SINR target alone, without interference,
/// with maximum-ratio transmission: `Gamma_k sigma^2 / ||h_{s,k}||^2`.
pub fn single_link_power(model: &NetworkModel, s: usize, k: usize) -> f64 {
    let sc = &model.scenario;
    let gain: f64 = model.user_channels[s][k].iter().map(|z| z.norm_sqr()).sum();
    sc.min_sinr[k] * sc.user_noise / gain
}

/// The program shared by the receiver-level bounds: one free covariance `C_s >= 0` with
/// `tr C_s <= budget` per transmitter of `fim` (no users) and the FIM LMI (12) on them;
/// returns the program, the covariances and `J` (in units of `1 / unit`).
fn covariance_program(
    model: &NetworkModel,
    fim: &FimMap,
    budget: f64,
    unit: f64,
) -> Result<(Problem, Vec<HermitianVar>, AffineMatrix)> {
    let n = model.antennas();
    let mut p = Problem::new();
    let on = fim.transmitters();
    let cov: Vec<Option<HermitianVar>> = (0..model.bs_count())
        .map(|s| on.contains(&s).then(|| p.psd_hermitian(n)))
        .collect();
    for c in cov.iter().flatten() {
        p.le(c.trace(), budget);
    }
    let re_tr_c = |s: usize, a: &Mat<C64>| -> Result<Affine> {
        match &cov[s] {
            Some(c) => c.real_trace_with(a),
            None => Ok(Affine::zero()),
        }
    };
    let jm = crlb_lmi(&mut p, fim, &re_tr_c, unit)?;
    Ok((p, cov.into_iter().flatten().collect(), jm))
}
