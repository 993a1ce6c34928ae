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
//! - **End.** The driver stops on the rules of [`Algorithm1::stopping_rules`]: converged
//!   when every `a`, `b` is within 1e-3 of binary at the final penalty and the objective
//!   has settled; stalled at a fixed point of the alternation; or at the iteration cap.
//!   Then the receiver is `argmin b_s`, user `k`'s BS is `argmax_s a_{s,k}` over the
//!   others, and the fixed-structure program of [`super::program`] gives the design, its
//!   rank-one beamformers and its status; the answer is then re-checked like any other.
//!
//! [`Splitting::Joint`] is our variant (`method = "joint"`): the same penalty and
//! majorisation with every variable in one program per iteration (`R~_s = b_s R_s`, and
//! each receiver's CRLB constraint relaxed by big-M in `b_s`), which cannot stall the way
//! the alternation does; without penalty that program is a convex relaxation of (8) and
//! its optimum a lower bound. Its iterates are rounded along the whole path (by each
//! user's useful signal, not by `argmax a`) and the best structure is kept.

use crate::conic::{Affine, HermitianVar, Problem, Solution, SolverSettings, Status};
use crate::error::{IsacError, Result};
use crate::iterate::{
    run, Criterion, IterationResult, IterativeAlgorithm, Rule, Step, StoppingRule,
};
use crate::C64;
use faer::Mat;

use super::model::{FimMap, NetworkModel};
use super::program::{
    add_crlb_lmi, crlb_floor, fim_matrix, single_link_power, CERTIFICATE_MARGIN, PROGRAM_MARGIN,
};

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

    /// Total transmit power `sum tr W~ + sum_s b_s tr R_s`.
    pub fn power(&self) -> f64 {
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

    /// The rounded structure of the joint variant: the receiver is `argmin b`, and user
    /// `k` goes to the transmitting BS that delivers the largest share of its useful
    /// signal `h_{s,k}^H W~_{s,k} h_{s,k}`. (The big-M row `tr W~ <= a P` lets a BS with
    /// `a_{s,k}` of 1e-3 still carry a beam of 1e-3 P, often all a user needs, so
    /// `argmax a` can name a BS that does not serve the user.)
    pub fn rounded_by_signal(&self, model: &NetworkModel) -> (usize, Vec<usize>) {
        let (r, by_a) = self.rounded();
        let assoc = by_a
            .iter()
            .enumerate()
            .map(|(k, &fallback)| {
                let signal = |s: usize| {
                    let h = &model.user_channels[s][k];
                    crate::linalg::bilinear(h, &self.w[s][k], h).re
                };
                (0..self.b.len())
                    .filter(|&s| s != r)
                    .map(|s| (s, signal(s)))
                    .filter(|&(_, g)| g > 0.0)
                    .max_by(|x, y| x.1.total_cmp(&y.1))
                    .map_or(fallback, |(s, _)| s)
            })
            .collect();
        (r, assoc)
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

/// The variables of one beamforming program (see `add_beamforming_block`).
struct BeamformingBlock {
    w: Vec<Vec<HermitianVar>>,
    r: Vec<HermitianVar>,
    a: Vec<Vec<Affine>>,
}

impl BeamformingBlock {
    /// `sum tr W~ + sum_s r_scale_s tr R_s`.
    fn power(&self, r_scale: &[f64]) -> Affine {
        let mut obj = Affine::zero();
        for (ws, (rs, &c)) in self.w.iter().zip(self.r.iter().zip(r_scale)) {
            for v in ws {
                obj += v.trace();
            }
            obj += rs.trace().scaled(c);
        }
        obj
    }

    /// The tangent (17) of `mu sum (a - a^2)` at `a_prev`, constant dropped.
    fn penalty_tangent(&self, a_prev: &[Vec<f64>], mu: f64) -> Affine {
        let mut obj = Affine::zero();
        for (row, row0) in self.a.iter().zip(a_prev) {
            for (x, &x0) in row.iter().zip(row0) {
                obj += x.scaled(mu * (1.0 - 2.0 * x0));
            }
        }
        obj
    }

    /// The iterate at a solution; with `r_is_scaled` the variable was `R~_s = b_s R_s`
    /// and `R_s = R~_s / b_s` is stored (`tr R~_s <= b_s P` keeps it bounded).
    fn state(&self, sol: &Solution, b: Vec<f64>, mu: f64, r_is_scaled: bool) -> AoState {
        let r = self
            .r
            .iter()
            .zip(&b)
            .map(|(v, &bs)| {
                let m = crate::linalg::psd_part(&sol.hermitian_value(v));
                match (r_is_scaled, bs > 0.0) {
                    (false, _) => m,
                    (true, true) => Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)] / bs),
                    (true, false) => Mat::zeros(m.nrows(), m.ncols()),
                }
            })
            .collect();
        AoState {
            a: self
                .a
                .iter()
                .map(|row| row.iter().map(|x| sol.value(x).clamp(0.0, 1.0)).collect())
                .collect(),
            b,
            w: self
                .w
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|v| crate::linalg::psd_part(&sol.hermitian_value(v)))
                        .collect()
                })
                .collect(),
            r,
            mu,
        }
    }
}

/// How the relaxed problem is split into convex programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Splitting {
    /// The paper's Algorithm 1: (22) for `b`, then (23) for the rest, alternately.
    Alternating,
    /// Every variable in one program per iteration (big-M on each receiver's CRLB
    /// constraint, see `joint_step`): no block can hold another at a fixed point.
    Joint,
}

/// Algorithm 1 on a model.
pub struct Algorithm1<'a> {
    model: &'a NetworkModel,
    splitting: Splitting,
    maps: Vec<FimMap>,
    settings: SolverSettings,
    mu_start: f64,
    mu_max: f64,
    /// Joint variant: receivers whose CRLB floor exceeds `epsilon` (no association can
    /// make them receive), fixed to `b_s = 1`.
    cannot_receive: Vec<bool>,
    /// Joint variant: the rounded structure of every iterate, in order (distinct).
    structures: Vec<(usize, Vec<usize>)>,
    growth: f64,
}

/// Geometric growth of the penalty factor per iteration.
pub const PENALTY_GROWTH: f64 = 4.0;
/// Initial penalty factor relative to the start's total power.
pub const PENALTY_START: f64 = 1e-2;
/// Largest change of any relaxed binary below which the alternation has stalled.
pub const STALL_TOL: f64 = 1e-6;
/// Name of the converged rule of Algorithm 1 (see [`Algorithm1::stopping_rules`]).
pub const RULE_BINARY: &str = "binary at the final penalty, objective settled";
/// Name of the converged rule of the joint variant.
pub const RULE_BINARY_JOINT: &str = "binary, objective settled";
/// Name of the stall rule of Algorithm 1.
pub const RULE_FIXED_POINT: &str = "fixed point of the alternation";
/// Name of the stall rule of the joint variant.
pub const RULE_FIXED_POINT_JOINT: &str = "fixed point at the final penalty";
/// Distance from {0, 1} below which the binaries count as binary.
pub const BINARY_TOL: f64 = 1e-3;
/// Big-M of the joint variant's CRLB rows, in units of `1 / ((1 - margin) epsilon)`: 2 is
/// the smallest value that voids the row at `b_s = 1`; 10% room for the solver's slack.
pub const JOINT_BIG_M: f64 = 2.2;

impl<'a> Algorithm1<'a> {
    pub fn new(
        model: &'a NetworkModel,
        splitting: Splitting,
        settings: &SolverSettings,
    ) -> Result<Self> {
        let maps = (0..model.bs_count())
            .map(|r| model.fim_map(r))
            .collect::<Result<Vec<_>>>()?;
        Ok(Algorithm1 {
            model,
            splitting,
            maps,
            settings: settings.clone(),
            mu_start: 0.0,
            cannot_receive: vec![false; model.bs_count()],
            structures: Vec::new(),
            mu_max: model.scenario.penalty,
            growth: PENALTY_GROWTH,
        })
    }

    /// The starting iterate without penalty: (23) at `b_s = 1 - 1/S` (alternating), or
    /// the convex relaxation of (8) (joint). `None` when that program is infeasible.
    pub fn start(&mut self) -> Result<Option<AoState>> {
        let s = self.model.bs_count();
        let k = self.model.user_count();
        let st = match self.splitting {
            Splitting::Alternating => {
                let b = vec![1.0 - 1.0 / s as f64; s];
                let a0 = vec![vec![1.0 / (s - 1) as f64; k]; s];
                self.beamforming_step(&b, &a0, 0.0)?
            }
            Splitting::Joint => {
                // a receiver whose CRLB floor is above epsilon cannot receive in any
                // feasible design: b_s = 1 is a valid cut of the relaxation
                for (s, map) in self.maps.iter().enumerate() {
                    if let Some(floor) = crlb_floor(self.model, map, &self.settings)? {
                        self.cannot_receive[s] =
                            floor > self.model.scenario.max_crlb * (1.0 + CERTIFICATE_MARGIN);
                    }
                }
                if self.cannot_receive.iter().all(|&x| x) || self.some_user_unreachable() {
                    return Ok(None);
                }
                let st = match self.joint_step(None, 0.0) {
                    Ok(st) => st,
                    // the solver neither solved nor certified the relaxation: the
                    // CRLB-excess version decides infeasibility, as for the fixed programs
                    Err(e) => match self.joint_program(None, 0.0, true) {
                        Ok(None) => None,
                        Ok(Some((_, t))) if t > CERTIFICATE_MARGIN => None,
                        _ => return Err(e),
                    },
                };
                if let Some(st) = &st {
                    self.remember(st.rounded_by_signal(self.model));
                }
                st
            }
        };
        if let Some(st) = &st {
            self.mu_start = PENALTY_START * st.power().max(1e-12);
        }
        Ok(st)
    }

    /// A user that no BS can serve at its SINR target within `P` even alone with
    /// maximum-ratio transmission (`Gamma sigma^2 / ||h_{s,k}||^2 > P` for every `s`):
    /// (8) is infeasible whatever the structure.
    fn some_user_unreachable(&self) -> bool {
        let m = self.model;
        let sc = &m.scenario;
        (0..m.user_count()).any(|k| {
            (0..m.bs_count())
                .all(|s| single_link_power(m, s, k) > sc.max_power * (1.0 + CERTIFICATE_MARGIN))
        })
    }

    /// Solves a subproblem. When Clarabel neither solves nor certifies it, the
    /// settings' fallbacks are tried by the conic layer ([`program_settings`]: QDLDL as
    /// the KKT backend, a different path through the iterations), as for the
    /// fixed-structure program.
    ///
    /// [`program_settings`]: super::program::program_settings
    fn solve(&self, p: &Problem) -> Result<Solution> {
        p.solve(&self.settings)
    }

    fn remember(&mut self, structure: (usize, Vec<usize>)) {
        if !self.structures.contains(&structure) {
            self.structures.push(structure);
        }
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

    /// The variables and rows shared by (23) and the joint step: `W~_{s,k} >= 0`,
    /// `R_s >= 0`, `a_{s,k} >= 0`, C6 `a_{s,k} <= b_s`, the big-M row
    /// `tr W~_{s,k} <= a_{s,k} P`, C1 `sum_k tr W~_{s,k} + r_scale_s tr R_s <= c1_s`, C4,
    /// and the SINR rows (9) with the sensing interference `r_scale_s h^H R_s h`.
    fn add_beamforming_block(
        &self,
        p: &mut Problem,
        b: &[Affine],
        r_scale: &[f64],
        c1: &[Affine],
    ) -> Result<BeamformingBlock> {
        let m = self.model;
        let sc = &m.scenario;
        let (s_count, k_count, n) = (m.bs_count(), m.user_count(), m.antennas());
        let w: Vec<Vec<HermitianVar>> = (0..s_count)
            .map(|_| (0..k_count).map(|_| p.psd_hermitian(n)).collect())
            .collect();
        let r: Vec<HermitianVar> = (0..s_count).map(|_| p.psd_hermitian(n)).collect();
        let a: Vec<Vec<Affine>> = (0..s_count).map(|_| p.vector(k_count)).collect();
        for s in 0..s_count {
            for k in 0..k_count {
                p.ge(a[s][k].clone(), 0.0);
                // C6 (a <= b) and the big-M on the trace (see the module doc)
                p.le(a[s][k].clone(), b[s].clone());
                p.le(w[s][k].trace(), a[s][k].scaled(sc.max_power));
            }
            // C1
            let mut tr = r[s].trace().scaled(r_scale[s]);
            for v in &w[s] {
                tr += v.trace();
            }
            p.le(tr, c1[s].clone());
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
                lhs -= r[s].real_trace_with(&gs)?.scaled(g * r_scale[s]);
            }
            p.ge(lhs, g * sc.user_noise / own);
        }
        Ok(BeamformingBlock { w, r, a })
    }

    /// Problem (23) for fixed `b`, with the tangent of the penalty at `a_prev`.
    fn beamforming_step(&self, b: &[f64], a_prev: &[Vec<f64>], mu: f64) -> Result<Option<AoState>> {
        let sc = &self.model.scenario;
        let s_count = self.model.bs_count();
        let mut p = Problem::new();
        let b_const: Vec<Affine> = b.iter().map(|&x| Affine::constant(x)).collect();
        let c1 = vec![Affine::constant(sc.max_power * (1.0 - PROGRAM_MARGIN)); s_count];
        let block = self.add_beamforming_block(&mut p, &b_const, b, &c1)?;
        let (w, r) = (&block.w, &block.r);
        // C2c: sum_s (1 - b_s) [F^(s) - J], tr J^{-1} <= epsilon
        let re_tr = |s: usize, x: &Mat<C64>| Self::cov_trace(w, r, s, x);
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
        let mut obj = block.power(b);
        obj += block.penalty_tangent(a_prev, mu);
        p.minimize(obj);
        let sol = self.solve(&p)?;
        if !accepted(&sol.status, "(23)")? {
            return Ok(None);
        }
        Ok(Some(block.state(&sol, b.to_vec(), mu, false)))
    }

    /// One step of the jointly convex variant: every block at once, `b` included, with
    /// `R~_s = b_s R_s` as the variable (C1 becomes `sum_k tr W~_{s,k} + tr R~_s <= b_s P`,
    /// exact at binary `b`: a receiving BS does not transmit) and the CRLB constraint of
    /// every candidate receiver `s` relaxed by big-M in `b_s`:
    /// `[[F^(s)_pp - J_s, F^(s)_pa], [F^(s)_pa^T, F^(s)_aa]] + b_s M I >= 0`,
    /// `tr J_s^{-1} <= epsilon`. At `b_s = 0` this is (12) of receiver `s`; at `b_s = 1`,
    /// `J_s = M I` meets it whatever the covariances (the FIM is PSD), so with
    /// `M = 2 / epsilon` (with the margin) it is void. The penalty tangent (17) is taken in
    /// `a` and `b` together. Without penalty (`mu = 0`) the program is a convex relaxation
    /// of (8): its optimum bounds the exhaustive optimum from below.
    fn joint_step(&self, prev: Option<&AoState>, mu: f64) -> Result<Option<AoState>> {
        self.joint_program(prev, mu, false)
            .map(|x| x.map(|(st, _)| st))
    }

    /// The joint program; with `crlb_excess` the objective is instead the smallest
    /// relative excess `t` of the CRLB rows (`tr J_s'^{-1} <= (1 - margin)(1 + t)`,
    /// `t >= -0.05` so that the big-M still voids the rows at `b_s = 1`), returned as the
    /// second value: `t > 0` proves the relaxation, hence (8), infeasible.
    fn joint_program(
        &self,
        prev: Option<&AoState>,
        mu: f64,
        crlb_excess: bool,
    ) -> Result<Option<(AoState, f64)>> {
        let sc = &self.model.scenario;
        let s_count = self.model.bs_count();
        let mut p = Problem::new();
        let b = p.vector(s_count);
        for bs in &b {
            p.ge(bs.clone(), 0.0);
            p.le(bs.clone(), 1.0);
        }
        // C5
        p.eq(Affine::sum(b.iter()), s_count as f64 - 1.0);
        let c1: Vec<Affine> = b
            .iter()
            .map(|x| x.scaled(sc.max_power * (1.0 - PROGRAM_MARGIN)))
            .collect();
        let block = self.add_beamforming_block(&mut p, &b, &vec![1.0; s_count], &c1)?;
        let (w, r) = (&block.w, &block.r);
        let re_tr = |s: usize, x: &Mat<C64>| Self::cov_trace(w, r, s, x);
        // J in units of 1/epsilon: J' = epsilon J, tr J'^{-1} <= 1 - margin; void at
        // J' = 2 / (1 - margin) I, so M = 2 / ((1 - margin) epsilon), with room.
        let big_m = JOINT_BIG_M / ((1.0 - PROGRAM_MARGIN) * sc.max_crlb);
        let excess = p.scalar();
        let bound = if crlb_excess {
            p.ge(excess.clone(), -0.05);
            Affine::constant(1.0) + excess.clone()
        } else {
            p.eq(excess.clone(), 0.0);
            Affine::constant(1.0)
        };
        for (s, map) in self.maps.iter().enumerate() {
            if self.cannot_receive[s] {
                p.eq(b[s].clone(), 1.0);
                continue;
            }
            let mut lmi = fim_matrix(map, &re_tr)?;
            for (i, row) in lmi.iter_mut().enumerate() {
                row[i] += &b[s].scaled(big_m);
            }
            let jm = add_crlb_lmi(&mut p, lmi, sc.max_crlb)?;
            p.trace_inv_epigraph(jm, &bound * (1.0 - PROGRAM_MARGIN))?;
        }
        let ones = vec![1.0; s_count];
        let mut obj = block.power(&ones);
        if let Some(prev) = prev {
            obj += block.penalty_tangent(&prev.a, mu);
            for (x, &x0) in b.iter().zip(&prev.b) {
                obj += x.scaled(mu * (1.0 - 2.0 * x0));
            }
        }
        // the objective in units of its largest coefficient (mu grows by orders of
        // magnitude; Clarabel fails on the unscaled objective at large mu)
        if crlb_excess {
            p.minimize(excess.clone());
        } else {
            p.minimize(obj.scaled(1.0 / (1.0 + mu)));
        }
        let sol = self.solve(&p)?;
        if !accepted(&sol.status, "joint step")? {
            return Ok(None);
        }
        let b_value: Vec<f64> = b.iter().map(|x| sol.value(x).clamp(0.0, 1.0)).collect();
        Ok(Some((
            block.state(&sol, b_value, mu, true),
            sol.value(&excess),
        )))
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
        let sol = self.solve(&p)?;
        if !accepted(&sol.status, "(22)")? {
            return Ok(None);
        }
        Ok(Some(
            b.iter().map(|x| sol.value(x).clamp(0.0, 1.0)).collect(),
        ))
    }
}

/// `true` for a solved subproblem (full or reduced accuracy, past the conic layer's
/// violation gate), `false` for a certified infeasible one, an error otherwise.
fn accepted(status: &Status, which: &str) -> Result<bool> {
    match status {
        Status::Optimal { .. } => Ok(true),
        Status::Infeasible { .. } => Ok(false),
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
        let next = match self.splitting {
            Splitting::Alternating => {
                // step 3: (22) for b; an infeasible (22) (solver trouble: the current b
                // is feasible) keeps b
                let b = self
                    .selection_step(state, mu)?
                    .unwrap_or_else(|| state.b.clone());
                // step 4: (23) for the rest at the new b
                self.beamforming_step(&b, &state.a, mu)?.ok_or_else(|| {
                    IsacError::Numerical("Algorithm 1: problem (23) infeasible at the new b".into())
                })?
            }
            // the previous iterate is feasible for the next program (same constraints)
            Splitting::Joint => self.joint_step(Some(state), mu)?.ok_or_else(|| {
                IsacError::Numerical("joint penalty step infeasible at a feasible point".into())
            })?,
        };
        if self.splitting == Splitting::Joint {
            self.remember(next.rounded_by_signal(self.model));
        }
        let objective = next.objective(mu);
        let gap = next.binary_gap();
        // the objective's change at a fixed penalty: the previous iterate under this mu
        // (the driver's objective test would compare across two penalties)
        let previous = state.objective(mu);
        let change = (objective - previous).abs();
        let relative_change = if change == 0.0 {
            0.0
        } else {
            change / objective.abs()
        };
        // the largest move of any relaxed binary between consecutive iterates
        let moved = state
            .a
            .iter()
            .flatten()
            .zip(next.a.iter().flatten())
            .chain(state.b.iter().zip(&next.b))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        let mut step = Step::new(next, objective);
        step.metrics.push((METRIC_MU.into(), mu));
        step.metrics.push((METRIC_BINARY_GAP.into(), gap));
        step.metrics.push((METRIC_BINARY_MOVE.into(), moved));
        step.metrics
            .push((METRIC_RELATIVE_CHANGE.into(), relative_change));
        Ok(step)
    }
}

/// Metric: the penalty factor `mu` of the step.
pub const METRIC_MU: &str = "mu";
/// Metric: the largest distance of any `a`, `b` from {0, 1} ([`AoState::binary_gap`]).
pub const METRIC_BINARY_GAP: &str = "binary_gap";
/// Metric: the largest change of any `a`, `b` from the previous iterate.
pub const METRIC_BINARY_MOVE: &str = "binary_move";
/// Metric: `|f_mu(x_k) - f_mu(x_{k-1})| / |f_mu(x_k)|`, the objective's relative change at
/// the step's penalty `mu` (0 when it did not change): the quantity of step 6 of
/// Algorithm 1 of `network-isac.md`, `|f^(t) - f^(t-1)| / f^(t) <= delta`, with both
/// values under the same penalty (ours grows between iterations).
pub const METRIC_RELATIVE_CHANGE: &str = "relative_change";

impl Algorithm1<'_> {
    /// The stopping rules of Algorithm 1, for the driver, tried in this order:
    /// - **converged** when binary (`binary_gap <= BINARY_TOL`), the objective settled at
    ///   a fixed penalty (`relative_change <= tolerance`, Table I's `delta`), and, for the
    ///   alternation, the penalty at its maximum (`mu >= mu_max`; the joint program needs
    ///   no larger penalty: a larger `mu` only makes the binary point more attractive, and
    ///   the program worse scaled);
    /// - **stalled** at a fixed point: from the second step on, no relaxed binary moved
    ///   by `STALL_TOL` or more; for the joint program only at the final penalty (below
    ///   it, the next, larger `mu` may still move a vertex solution).
    ///
    /// The objective test of the driver is off: the penalised objective changes with `mu`.
    pub fn stopping_rules(&self) -> Vec<Rule> {
        let binary = Criterion::AtMost(METRIC_BINARY_GAP, BINARY_TOL);
        let settled = Criterion::AtMost(METRIC_RELATIVE_CHANGE, self.model.scenario.tolerance);
        let final_penalty = Criterion::AtLeast(METRIC_MU, self.mu_max);
        let not_moving = Criterion::AllOf(vec![
            Criterion::FromIteration(2),
            Criterion::Below(METRIC_BINARY_MOVE, STALL_TOL),
        ]);
        match self.splitting {
            Splitting::Alternating => vec![
                Rule::converged(
                    RULE_BINARY,
                    Criterion::AllOf(vec![binary, final_penalty, settled]),
                ),
                Rule::stalled(RULE_FIXED_POINT, not_moving),
            ],
            Splitting::Joint => vec![
                Rule::converged(RULE_BINARY_JOINT, Criterion::AllOf(vec![binary, settled])),
                Rule::stalled(
                    RULE_FIXED_POINT_JOINT,
                    Criterion::AllOf(vec![not_moving, final_penalty]),
                ),
            ],
        }
    }
}

/// The outcome of [`algorithm1`].
pub struct Algorithm1Run {
    pub result: IterationResult<AoState>,
    /// The starting program's power: for [`Splitting::Joint`] the optimum of a convex
    /// relaxation of (8), a lower bound of every design's total power (up to the programs'
    /// 1e-4 margin).
    pub start_power: f64,
    /// [`Splitting::Joint`]: the rounded structure of every iterate (the start's
    /// included), distinct, in order; the design step solves each and keeps the best.
    pub structures: Vec<(usize, Vec<usize>)>,
}

/// Runs Algorithm 1 with the given splitting; `None` when the starting program is
/// infeasible.
pub fn algorithm1(
    model: &NetworkModel,
    splitting: Splitting,
    settings: &SolverSettings,
) -> Result<Option<Algorithm1Run>> {
    let mut alg = Algorithm1::new(model, splitting, settings)?;
    let Some(start) = alg.start()? else {
        return Ok(None);
    };
    // the penalised objective changes with mu between iterations: neither the driver's
    // objective test nor its monotonicity check applies; Algorithm 1's own rules do
    let rule = StoppingRule {
        max_iterations: model.scenario.max_iterations,
        objective_test: false,
        rules: alg.stopping_rules(),
        monotone: false,
        ..StoppingRule::default()
    };
    let f0 = start.objective(0.0);
    let start_power = start.power();
    let result = run(&mut alg, start, f0, &rule);
    Ok(Some(Algorithm1Run {
        result,
        start_power,
        structures: alg.structures,
    }))
}
