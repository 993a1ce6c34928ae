//! Algorithm 1 of `network-isac.md`: alternating optimisation (AO) of the relaxed binaries
//! `b` (problem (22)) and of the beamforming block `{W~, R, J, a}` (the rank-relaxed
//! problem (23)), with the penalty (16) on `a - a^2` and `b - b^2` majorised by its
//! tangent (17), run by the crate's iteration driver.
//!
//! What the paper leaves open, and our choices (`docs/network.md`):
//! - **Big-M (18)-(21).** `W_{s,k}` appears only in (18)-(21), so it can be eliminated:
//!   any `W~ >= 0` with `W~ <= a P I` is reachable (`W = W~ + (1 - a) P I`). We impose the
//!   stronger `tr W~_{s,k} <= a_{s,k} P` (equal at binary `a`: `a = 0` forces `W~ = 0`,
//!   `a = 1` is implied by C1), a scalar row instead of one more PSD cone per pair.
//! - **The FIM inside C2c.** `F^{(s)}` is evaluated with the covariances
//!   `C_{s'} = sum_k W~_{s',k} + R_{s'}` of the other BSs (not `b_{s'} R_{s'}`): at
//!   binary `b`, `1 - b_s = 1` only for the receiver and every `b_{s'} = 1`, so the two
//!   agree, and only this form makes (22) linear in `b`, as the paper states it is.
//! - **Start.** `b_s = 1 - 1/S` (every BS equally likely to receive, C5 holds) and (23)
//!   without penalty from there; `a`, `W~`, `R`, `J` come out of that solve.
//! - **Penalty.** Table I's `mu = 3e7` from the first iteration freezes the binaries at the
//!   rounding of the start (the tangent (17) of a fractional start favours no BS); we
//!   grow `mu` geometrically from `penalty_start` (times the start's power) to `penalty`,
//!   the usual continuation of the penalty method [13, Ch. 17].
//! - **End.** When every `a`, `b` is within 1e-3 of binary (or the iteration cap is hit),
//!   the receiver is `argmin b_s`, user `k`'s BS is `argmax_s a_{s,k}` over the others, and
//!   the fixed-structure program of [`super::program`] gives the design, its rank-one
//!   beamformers and its status; the answer is then re-checked like any other.

use crate::conic::{Affine, HermitianVar, Problem, SolverSettings, Status};
use crate::error::{IsacError, Result};
use crate::iterate::{run, IterationResult, IterativeAlgorithm, Step, StoppingRule};
use crate::C64;
use faer::Mat;

use super::model::{FimMap, NetworkModel};
use super::program::{add_crlb_lmi, fim_matrix, PROGRAM_MARGIN};

/// One AO iterate.
#[derive(Debug, Clone)]
pub struct AoState {
    /// `a_{s,k}`, `[s][k]`.
    pub a: Vec<Vec<f64>>,
    /// `b_s`.
    pub b: Vec<f64>,
    /// `W~_{s,k}`, `[s][k]`.
    pub w: Vec<Vec<Mat<C64>>>,
    /// `R_s`.
    pub r: Vec<Mat<C64>>,
    /// The penalty factor used to produce this iterate.
    pub mu: f64,
}

impl AoState {
    /// Largest distance of any `a`, `b` from {0, 1}.
    pub fn binary_gap(&self) -> f64 {
        self.a
            .iter()
            .flatten()
            .chain(self.b.iter())
            .map(|&x| x.min(1.0 - x).max(0.0))
            .fold(0.0, f64::max)
    }

    fn power(&self) -> f64 {
        let tr = |m: &Mat<C64>| (0..m.nrows()).map(|i| m[(i, i)].re).sum::<f64>();
        self.w.iter().flatten().map(tr).sum::<f64>()
            + self
                .r
                .iter()
                .zip(&self.b)
                .map(|(m, b)| b * tr(m))
                .sum::<f64>()
    }

    /// The objective of (13) with the exact penalty `mu sum (x - x^2)`.
    pub fn objective(&self, mu: f64) -> f64 {
        let pen: f64 = self
            .a
            .iter()
            .flatten()
            .chain(self.b.iter())
            .map(|&x| x - x * x)
            .sum();
        self.power() + mu * pen
    }

    /// The rounded structure: receiving BS and association.
    pub fn rounded(&self) -> (usize, Vec<usize>) {
        let s_count = self.b.len();
        let r = (0..s_count)
            .min_by(|&x, &y| self.b[x].total_cmp(&self.b[y]))
            .unwrap_or(0);
        let k_count = self.a.first().map_or(0, |v| v.len());
        let assoc = (0..k_count)
            .map(|k| {
                (0..s_count)
                    .filter(|&s| s != r)
                    .max_by(|&x, &y| self.a[x][k].total_cmp(&self.a[y][k]))
                    .unwrap_or(0)
            })
            .collect();
        (r, assoc)
    }
}

/// Algorithm 1 on a model.
pub struct Algorithm1<'a> {
    model: &'a NetworkModel,
    maps: Vec<FimMap>,
    settings: SolverSettings,
    mu_start: f64,
    mu_max: f64,
    growth: f64,
}

/// Geometric growth of the penalty factor per iteration.
pub const PENALTY_GROWTH: f64 = 4.0;
/// Initial penalty factor relative to the start's total power.
pub const PENALTY_START: f64 = 1e-2;
/// Largest change of any relaxed binary below which the alternation has stalled.
pub const STALL_TOL: f64 = 1e-6;
/// Distance from {0, 1} below which the binaries count as binary.
pub const BINARY_TOL: f64 = 1e-3;

impl<'a> Algorithm1<'a> {
    pub fn new(model: &'a NetworkModel, settings: &SolverSettings) -> Result<Self> {
        let maps = (0..model.bs_count())
            .map(|r| model.fim_map(r))
            .collect::<Result<Vec<_>>>()?;
        Ok(Algorithm1 {
            model,
            maps,
            settings: settings.clone(),
            mu_start: 0.0,
            mu_max: model.scenario.penalty,
            growth: PENALTY_GROWTH,
        })
    }

    /// The starting iterate: (23) at `b_s = 1 - 1/S` without penalty. `None` when that
    /// relaxation is infeasible.
    pub fn start(&mut self) -> Result<Option<AoState>> {
        let s = self.model.bs_count();
        let k = self.model.user_count();
        let b = vec![1.0 - 1.0 / s as f64; s];
        let a0 = vec![vec![1.0 / (s - 1) as f64; k]; s];
        let st = self.beamforming_step(&b, &a0, 0.0)?;
        if let Some(st) = &st {
            self.mu_start = PENALTY_START * st.power().max(1e-12);
        }
        Ok(st)
    }

    fn mu(&self, iteration: usize) -> f64 {
        (self.mu_start * self.growth.powi(iteration as i32 - 1)).min(self.mu_max)
    }

    /// `Re tr(A C_s)` with `C_s = sum_k W~_{s,k} + R_s` (the FIM's covariances).
    fn cov_trace(
        w: &[Vec<HermitianVar>],
        r: &[HermitianVar],
        s: usize,
        a: &Mat<C64>,
    ) -> Result<Affine> {
        let mut out = r[s].real_trace_with(a)?;
        for v in &w[s] {
            out += v.real_trace_with(a)?;
        }
        Ok(out)
    }

    /// Problem (23) for fixed `b`, with the tangent of the penalty at `a_prev`.
    fn beamforming_step(&self, b: &[f64], a_prev: &[Vec<f64>], mu: f64) -> Result<Option<AoState>> {
        let m = self.model;
        let sc = &m.scenario;
        let (s_count, k_count, n) = (m.bs_count(), m.user_count(), m.antennas());
        let mut p = Problem::new();
        let w: Vec<Vec<HermitianVar>> = (0..s_count)
            .map(|_| (0..k_count).map(|_| p.psd_hermitian(n)).collect())
            .collect();
        let r: Vec<HermitianVar> = (0..s_count).map(|_| p.psd_hermitian(n)).collect();
        let a: Vec<Vec<Affine>> = (0..s_count).map(|_| p.vector(k_count)).collect();
        for s in 0..s_count {
            for k in 0..k_count {
                p.ge(a[s][k].clone(), 0.0);
                // C6 (a <= b) and the big-M on the trace (see the module doc)
                p.le(a[s][k].clone(), b[s]);
                p.le(w[s][k].trace(), a[s][k].scaled(sc.max_power));
            }
            // C1
            let mut tr = r[s].trace().scaled(b[s]);
            for v in &w[s] {
                tr += v.trace();
            }
            p.le(tr, sc.max_power * (1.0 - PROGRAM_MARGIN));
        }
        // C4
        for k in 0..k_count {
            let sum = Affine::sum((0..s_count).map(|s| &a[s][k]));
            p.eq(sum, 1.0);
        }
        // C3 (9), each row divided by the user's strongest channel gain
        for k in 0..k_count {
            let g = sc.min_sinr[k] * (1.0 + PROGRAM_MARGIN);
            let own = (0..s_count)
                .map(|s| {
                    m.user_channels[s][k]
                        .iter()
                        .map(|z| z.norm_sqr())
                        .sum::<f64>()
                })
                .fold(0.0, f64::max);
            let gram = |s: usize| {
                let h = m.user_gram(s, k);
                Mat::from_fn(n, n, |x, y| h[(x, y)] / own)
            };
            let mut lhs = Affine::zero();
            for s in 0..s_count {
                let gs = gram(s);
                lhs += w[s][k].real_trace_with(&gs)?;
                for kk in (0..k_count).filter(|&kk| kk != k) {
                    lhs -= w[s][kk].real_trace_with(&gs)?.scaled(g);
                }
                lhs -= r[s].real_trace_with(&gs)?.scaled(g * b[s]);
            }
            p.ge(lhs, g * sc.user_noise / own);
        }
        // C2c: sum_s (1 - b_s) [F^(s) - J], tr J^{-1} <= epsilon
        let re_tr = |s: usize, x: &Mat<C64>| Self::cov_trace(&w, &r, s, x);
        let mut terms = Vec::new();
        for (s, map) in self.maps.iter().enumerate() {
            let weight = 1.0 - b[s];
            if weight > 0.0 {
                terms.push(scale_matrix(&fim_matrix(map, &re_tr)?, weight));
            }
        }
        let total = sum_matrices(terms)?;
        let jm = add_crlb_lmi(&mut p, total, sc.max_crlb)?;
        p.trace_inv_epigraph(jm, 1.0 - PROGRAM_MARGIN)?;
        // objective: power + linearised penalty on a
        let mut obj = Affine::zero();
        for s in 0..s_count {
            for k in 0..k_count {
                obj += w[s][k].trace();
                obj += a[s][k].scaled(mu * (1.0 - 2.0 * a_prev[s][k]));
            }
            obj += r[s].trace().scaled(b[s]);
        }
        p.minimize(obj);
        let sol = p.solve(&self.settings)?;
        if !accepted(&sol.status, "(23)")? {
            return Ok(None);
        }
        Ok(Some(AoState {
            a: a.iter()
                .map(|row| row.iter().map(|x| sol.value(x).clamp(0.0, 1.0)).collect())
                .collect(),
            b: b.to_vec(),
            w: w.iter()
                .map(|row| {
                    row.iter()
                        .map(|v| crate::linalg::psd_part(&sol.hermitian_value(v)))
                        .collect()
                })
                .collect(),
            r: r.iter()
                .map(|v| crate::linalg::psd_part(&sol.hermitian_value(v)))
                .collect(),
            mu,
        }))
    }

    /// Problem (22): `b` for fixed `{W~, R, a}` (and the `J` of the LMI re-optimised, which
    /// only enlarges the feasible set of the paper's (22) with `J` fixed).
    fn selection_step(&self, st: &AoState, mu: f64) -> Result<Option<Vec<f64>>> {
        let m = self.model;
        let sc = &m.scenario;
        let (s_count, k_count, n) = (m.bs_count(), m.user_count(), m.antennas());
        let tr = |x: &Mat<C64>| (0..n).map(|i| x[(i, i)].re).sum::<f64>();
        let mut p = Problem::new();
        let b = p.vector(s_count);
        for s in 0..s_count {
            p.ge(b[s].clone(), 0.0);
            p.le(b[s].clone(), 1.0);
            for k in 0..k_count {
                p.ge(b[s].clone(), st.a[s][k]); // C6
            }
            // C1
            let wsum: f64 = st.w[s].iter().map(tr).sum();
            p.le(
                b[s].scaled(tr(&st.r[s])),
                sc.max_power * (1.0 - PROGRAM_MARGIN) - wsum,
            );
        }
        // C5
        let ones: Affine = Affine::sum(b.iter());
        p.eq(ones, s_count as f64 - 1.0);
        // C3
        for k in 0..k_count {
            let g = sc.min_sinr[k] * (1.0 + PROGRAM_MARGIN);
            let q = |s: usize, x: &Mat<C64>| -> f64 {
                let h = &m.user_channels[s][k];
                (0..n)
                    .map(|i| (0..n).map(|j| h[i].conj() * x[(i, j)] * h[j]).sum::<C64>())
                    .sum::<C64>()
                    .re
            };
            let mut signal = 0.0;
            let mut inter = sc.user_noise;
            for s in 0..s_count {
                signal += q(s, &st.w[s][k]);
                for kk in (0..k_count).filter(|&kk| kk != k) {
                    inter += q(s, &st.w[s][kk]);
                }
            }
            // signal >= g (inter + sum_s b_s h^H R_s h)
            let mut lhs = Affine::constant(signal - g * inter);
            for s in 0..s_count {
                lhs -= b[s].scaled(g * q(s, &st.r[s]));
            }
            let scale = signal.abs().max(g * inter).max(1e-300);
            p.ge(lhs.scaled(1.0 / scale), 0.0);
        }
        // C2c with the numeric FIMs: sum_s (1 - b_s) F^(s) - J
        let cov: Vec<Mat<C64>> = (0..s_count)
            .map(|s| {
                let mut c = st.r[s].clone();
                for wk in &st.w[s] {
                    c += wk;
                }
                c
            })
            .collect();
        let mut terms = Vec::new();
        for (s, map) in self.maps.iter().enumerate() {
            let f = fim_matrix(map, &|t: usize, x: &Mat<C64>| {
                let v = &(x * &cov[t]);
                Ok(Affine::constant((0..n).map(|i| v[(i, i)].re).sum()))
            })?;
            // (1 - b_s) F^(s)
            let weight = Affine::constant(1.0) - b[s].clone();
            terms.push(
                f.iter()
                    .map(|row| {
                        row.iter()
                            .map(|e| weight.scaled(e.constant_term()))
                            .collect()
                    })
                    .collect(),
            );
        }
        let total = sum_matrices(terms)?;
        let jm = add_crlb_lmi(&mut p, total, sc.max_crlb)?;
        p.trace_inv_epigraph(jm, 1.0 - PROGRAM_MARGIN)?;
        let mut obj = Affine::zero();
        for s in 0..s_count {
            obj += b[s].scaled(tr(&st.r[s]) + mu * (1.0 - 2.0 * st.b[s]));
        }
        p.minimize(obj);
        let sol = p.solve(&self.settings)?;
        if !accepted(&sol.status, "(22)")? {
            return Ok(None);
        }
        Ok(Some(
            b.iter().map(|x| sol.value(x).clamp(0.0, 1.0)).collect(),
        ))
    }
}

/// `true` for a solved subproblem (Clarabel's reduced-accuracy "AlmostSolved" included),
/// `false` for a certified infeasible one, an error otherwise.
fn accepted(status: &Status, which: &str) -> Result<bool> {
    match status {
        Status::Optimal => Ok(true),
        Status::Inaccurate { reason } if reason.contains("AlmostSolved") => Ok(true),
        Status::Infeasible => Ok(false),
        other => Err(IsacError::Numerical(format!(
            "Algorithm 1, problem {which}: {other:?}"
        ))),
    }
}

/// The entrywise sum of equally sized affine matrices.
fn sum_matrices(terms: Vec<crate::conic::AffineMatrix>) -> Result<crate::conic::AffineMatrix> {
    let mut it = terms.into_iter();
    let mut total = it
        .next()
        .ok_or_else(|| IsacError::Numerical("Algorithm 1: no receiving BS has weight".into()))?;
    for t in it {
        for (ti, fi) in total.iter_mut().zip(&t) {
            for (tij, fij) in ti.iter_mut().zip(fi) {
                *tij += fij;
            }
        }
    }
    Ok(total)
}

fn scale_matrix(m: &crate::conic::AffineMatrix, w: f64) -> crate::conic::AffineMatrix {
    m.iter()
        .map(|row| row.iter().map(|e| e.scaled(w)).collect())
        .collect()
}

impl IterativeAlgorithm for Algorithm1<'_> {
    type State = AoState;

    fn step(&mut self, state: &AoState, k: usize) -> Result<Step<AoState>> {
        let mu = self.mu(k);
        // step 3: (22) for b; an infeasible (22) (solver trouble: the current b is
        // feasible) keeps b
        let b = self
            .selection_step(state, mu)?
            .unwrap_or_else(|| state.b.clone());
        // step 4: (23) for the rest at the new b
        let next = self.beamforming_step(&b, &state.a, mu)?.ok_or_else(|| {
            IsacError::Numerical("Algorithm 1: problem (23) infeasible at the new b".into())
        })?;
        let objective = next.objective(mu);
        let gap = next.binary_gap();
        let mut step = Step::new(next, objective);
        step.metrics.push(("mu".into(), mu));
        step.metrics.push(("binary_gap".into(), gap));
        // done once binary at the final penalty and the objective has settled (the
        // driver's tolerance handles the latter only while mu is fixed)
        let previous = state.objective(mu);
        let settled =
            (objective - previous).abs() <= self.model.scenario.tolerance * objective.abs();
        // a fixed point of the alternation: neither block moves any more, whatever mu
        let moved = state
            .a
            .iter()
            .flatten()
            .zip(step.state.a.iter().flatten())
            .chain(state.b.iter().zip(&step.state.b))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        let stalled = k > 1 && moved < STALL_TOL;
        step.metrics.push(("binary_move".into(), moved));
        step.done = (gap <= BINARY_TOL && mu >= self.mu_max && settled) || stalled;
        Ok(step)
    }
}

/// Runs Algorithm 1; `None` when the starting relaxation is infeasible.
pub fn algorithm1(
    model: &NetworkModel,
    settings: &SolverSettings,
) -> Result<Option<IterationResult<AoState>>> {
    let mut alg = Algorithm1::new(model, settings)?;
    let Some(start) = alg.start()? else {
        return Ok(None);
    };
    let rule = StoppingRule {
        max_iterations: model.scenario.max_iterations,
        rel_tol: 0.0, // the penalty changes between iterations; stop on `done`
        monotone: false,
        ..StoppingRule::default()
    };
    let f0 = start.objective(0.0);
    Ok(Some(run(&mut alg, start, f0, &rule)))
}
