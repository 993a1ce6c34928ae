//! Transmit beamforming by successive convex approximation (SCA), Section IV-B of
//! `multistatic-isac.md`, (32)-(46), on the lifted covariances `Q_i = W_i W_i^H`, run by
//! the crate's iteration driver ([`crate::iterate::run`]).
//!
//! **Scaled variables.** `Q~_i = Q_i / P_T` and `G_k = H_k sqrt(P_T) / sigma`, so the
//! power constraint (25) is `sum_i tr Q~_i <= 1` and every rate matrix is
//! `I + sum_i G_k Q~_i G_k^H` (dividing (42)'s `sigma^2 I + ...` by `sigma^2` leaves the
//! rate unchanged).
//!
//! **Objective.** `U(G, Q) = C_G / s(Q)` with `s(Q) = v^H (sum_i Q_i) v` (see
//! [`super::model`]), so the CRB minimisation (32) is exactly `max s(Q)`: a linear
//! objective. The paper's (36)-(37) reach the same objective for the printed FIM
//! (`sum_k chi_k Upsilon_k(W)` is proportional to `s(Q)`).
//!
//! **Rate constraints** (38) through (42)-(44): with `A_k(Q) = I + sum_{i in I_k + {k}}
//! G_k Q_i G_k^H` and `B_k(Q) = I + sum_{i in I_k} G_k Q_i G_k^H`, `R_k ln 2 = log det A_k
//! - log det B_k`. The concave `log det B_k` is replaced by its tangent at the current
//! point `Q^-` (43): `log det B_k(Q^-) + sum_{i in I_k} tr(M_k (Q_i - Q^-_i))`,
//! `M_k = G_k^H B_k(Q^-)^{-1} G_k`, which over-estimates it, so each step's feasible set
//! lies inside the true one (Proposition 4.1) and contains the current point: every
//! iterate is feasible and `s(Q)` never decreases. (The printed (44) writes `H_{b,i}` and
//! `Psi^I` where `H_{b,k}` and `Psi^{(.)}` are meant.)
//!
//! **Feasibility phase** (the paper does not say where the SCA starts). Adding the sensing
//! stream never helps a rate (it is interference or cancelled), so the rate constraints
//! are feasible iff they are with `Q_0 = 0`. Phase I runs the same SCA on the
//! communication streams only, maximising the smallest linearised rate slack `t`
//! (`log det A_k >= R_th ln 2 + t + tangent`), from equal power on each RE's strongest
//! right singular vector; it stops as soon as every true rate meets `R_th`. Its true
//! minimum slack never decreases either (the current point is feasible for the step with
//! `t` equal to its own slack, and the tangent bound makes the true slack at least `t`).

use crate::conic::{ComplexAffine, HermitianVar, Problem, SolverSettings, Status};
use crate::error::{IsacError, Result};
use crate::iterate::{run, Direction, IterationResult, IterativeAlgorithm, Step, StoppingRule};
use crate::linalg::hermitian_eigen;
use crate::C64;
use faer::Mat;

use super::model::log_det;

/// The data of the scaled beamforming problem.
#[derive(Debug, Clone)]
pub struct ScaProblem {
    /// `G_k = H_k sqrt(P_T) / sigma`, `N_r x N_t`, one per RE.
    pub channels: Vec<Mat<C64>>,
    /// `v`: `s(Q) = v^H Q v`.
    pub sensing_direction: Vec<C64>,
    /// `b_k`: RE `k` cancels the sensing stream.
    pub selected: Vec<bool>,
    /// `R_th`, bit/s/Hz.
    pub min_rate: f64,
}

/// Which problem a step solves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Maximise the smallest linearised rate slack with `Q_0 = 0`.
    Feasibility,
    /// Maximise `s(Q)` under the linearised rate constraints (45)-(46).
    CrbMinimisation,
}

impl ScaProblem {
    pub fn receivers(&self) -> usize {
        self.channels.len()
    }

    pub fn tx_antennas(&self) -> usize {
        self.sensing_direction.len()
    }

    /// Interfering streams of RE `k` (0-based RE, stream indices with 0 = sensing).
    pub fn interferers(&self, k: usize) -> Vec<usize> {
        let mut out: Vec<usize> = (1..=self.receivers()).filter(|&i| i != k + 1).collect();
        if !self.selected[k] {
            out.push(0);
        }
        out
    }

    fn gram(&self, k: usize, q: &Mat<C64>) -> Mat<C64> {
        let g = &self.channels[k];
        &(g * q) * g.adjoint()
    }

    fn b_matrix(&self, k: usize, qs: &[Mat<C64>]) -> Mat<C64> {
        let nr = self.channels[k].nrows();
        let mut b = Mat::<C64>::identity(nr, nr);
        for i in self.interferers(k) {
            b += &self.gram(k, &qs[i]);
        }
        b
    }

    /// True rates `R_k` (bit/s/Hz) of the scaled covariances `qs` (length `K + 1`).
    pub fn rates(&self, qs: &[Mat<C64>]) -> Vec<f64> {
        (0..self.receivers())
            .map(|k| {
                let b = self.b_matrix(k, qs);
                let a = &b + &self.gram(k, &qs[k + 1]);
                (log_det(&a) - log_det(&b)) / std::f64::consts::LN_2
            })
            .collect()
    }

    /// `min_k R_k - R_th`, bit/s/Hz.
    pub fn min_rate_slack(&self, qs: &[Mat<C64>]) -> f64 {
        self.rates(qs)
            .into_iter()
            .map(|r| r - self.min_rate)
            .fold(f64::INFINITY, f64::min)
    }

    /// `s(Q) = v^H (sum_i Q_i) v`.
    pub fn beampattern_gain(&self, qs: &[Mat<C64>]) -> f64 {
        let v = &self.sensing_direction;
        let mut acc = 0.0;
        for q in qs {
            for i in 0..v.len() {
                for j in 0..v.len() {
                    acc += (v[i].conj() * q[(i, j)] * v[j]).re;
                }
            }
        }
        acc
    }

    /// `sum_i tr Q_i` (scaled power; the budget is 1).
    pub fn power(&self, qs: &[Mat<C64>]) -> f64 {
        qs.iter()
            .map(|q| (0..q.nrows()).map(|i| q[(i, i)].re).sum::<f64>())
            .sum()
    }

    /// Phase I start: equal power `1/K` on each RE's strongest right singular vector of
    /// `G_k`, `Q_0 = 0`.
    pub fn initial_point(&self) -> Result<Vec<Mat<C64>>> {
        let nt = self.tx_antennas();
        let k = self.receivers();
        let mut qs = vec![Mat::zeros(nt, nt)];
        for g in &self.channels {
            let gg = g.adjoint() * g;
            let (_, vecs) = hermitian_eigen(&gg).ok_or_else(|| {
                IsacError::Numerical("eigen-decomposition of G^H G failed".into())
            })?;
            let u: Vec<C64> = (0..nt).map(|r| vecs[(r, nt - 1)]).collect();
            qs.push(Mat::from_fn(nt, nt, |a, b| u[a] * u[b].conj() / k as f64));
        }
        Ok(qs)
    }

    /// One convex step (45)-(46) (or its Phase I variant) at `current`. Returns the new
    /// covariances and the conic solution's status.
    pub fn step(
        &self,
        current: &[Mat<C64>],
        phase: Phase,
        settings: &SolverSettings,
    ) -> Result<(Vec<Mat<C64>>, bool)> {
        let nt = self.tx_antennas();
        let kk = self.receivers();
        let mut p = Problem::new();
        let with_sensing = phase == Phase::CrbMinimisation;
        let vars: Vec<Option<HermitianVar>> = (0..=kk)
            .map(|i| (i > 0 || with_sensing).then(|| p.psd_hermitian(nt)))
            .collect();
        let live = || {
            vars.iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_ref().map(|v| (i, v)))
        };
        let power =
            crate::conic::Affine::sum(live().map(|(_, v)| v.trace()).collect::<Vec<_>>().iter());
        p.le(power, 1.0);
        let slack = (phase == Phase::Feasibility).then(|| p.scalar());
        let r_nats = self.min_rate * std::f64::consts::LN_2;
        for k in 0..kk {
            let g = &self.channels[k];
            let nr = g.nrows();
            let interferers = self.interferers(k);
            let b_bar = self.b_matrix(k, current);
            let b_inv = inverse_hpd(&b_bar)?;
            let m = &(g.adjoint() * &b_inv) * g;
            // A_k(Q) = I + sum_{i in I_k + {k}} G Q_i G^H
            let mut a: Vec<Vec<ComplexAffine>> = (0..nr)
                .map(|r| {
                    (0..nr)
                        .map(|c| {
                            ComplexAffine::constant(C64::new(if r == c { 1.0 } else { 0.0 }, 0.0))
                        })
                        .collect()
                })
                .collect();
            // rhs = R ln2 + log det B(Q^-) + sum_{i in I_k} tr(M (Q_i - Q^-_i)) [+ t]
            let mut rhs = crate::conic::Affine::constant(r_nats + log_det(&b_bar));
            for i in interferers.iter().copied().chain(std::iter::once(k + 1)) {
                let Some(v) = &vars[i] else { continue };
                let cong = v.congruence(g)?;
                for r in 0..nr {
                    for c in 0..nr {
                        a[r][c] += &cong[r][c];
                    }
                }
                if i != k + 1 {
                    rhs += v.real_trace_with(&m)?;
                    rhs = rhs - real_trace(&m, &current[i]);
                }
            }
            if let Some(t) = &slack {
                rhs += t;
            }
            // equilibrate: log det(A / c) = log det A - nr ln c, with c the mean
            // eigenvalue of A(Q^-) (entries of A are up to ~1e6 at high SNR)
            let own = if current.len() > k + 1 {
                self.gram(k, &current[k + 1])
            } else {
                Mat::zeros(nr, nr)
            };
            let c = (0..nr)
                .map(|r| b_bar[(r, r)].re + own[(r, r)].re)
                .sum::<f64>()
                / nr as f64;
            if c > 1.0 {
                for row in a.iter_mut() {
                    for e in row.iter_mut() {
                        *e = e.scaled(1.0 / c);
                    }
                }
                rhs = rhs - nr as f64 * c.ln();
            }
            p.log_det_ge(a, rhs)?;
        }
        match &slack {
            Some(t) => p.maximize(t.clone()),
            None => {
                let obj = crate::conic::Affine::sum(
                    live()
                        .map(|(_, v)| v.quad_form(&self.sensing_direction))
                        .collect::<Result<Vec<_>>>()?
                        .iter(),
                );
                p.maximize(obj)
            }
        }
        let sol = p.solve(settings)?;
        // An optimal answer (full or reduced accuracy, here typically AlmostSolved at a gap
        // of ~1e-7 where the exp cones stall, in both cases past the conic layer's
        // violation gate) counts as solved; any other answer with a finite point (after
        // the settings' fallbacks) is returned as a search direction only
        // (`solved = false`): the driver's step re-checks the true rates and the progress
        // of every iterate.
        let solved = match &sol.status {
            Status::Optimal { .. } => true,
            Status::Inaccurate { .. } if sol.has_finite_point() => false,
            other => {
                return Err(IsacError::Numerical(format!(
                    "SCA subproblem ({phase:?}) not solved: {other:?}"
                )))
            }
        };
        let point = vars
            .iter()
            .map(|v| match v {
                Some(v) => crate::linalg::psd_part(&sol.hermitian_value(v)),
                None => Mat::zeros(nt, nt),
            })
            .collect();
        Ok((point, solved))
    }
}

/// `Re tr(M Q)`.
fn real_trace(m: &Mat<C64>, q: &Mat<C64>) -> f64 {
    let n = m.nrows();
    let mut acc = 0.0;
    for a in 0..n {
        for b in 0..n {
            acc += (m[(a, b)] * q[(b, a)]).re;
        }
    }
    acc
}

/// Inverse of a Hermitian positive-definite matrix by its eigen-decomposition.
fn inverse_hpd(a: &Mat<C64>) -> Result<Mat<C64>> {
    let (vals, vecs) = hermitian_eigen(a)
        .ok_or_else(|| IsacError::Numerical("eigen-decomposition failed".into()))?;
    if vals.iter().any(|&v| !(v > 0.0)) {
        return Err(IsacError::Numerical(
            "rate matrix not positive definite".into(),
        ));
    }
    let n = a.nrows();
    Ok(Mat::from_fn(n, n, |r, c| {
        (0..n)
            .map(|k| vecs[(r, k)] * vecs[(c, k)].conj() / vals[k])
            .sum()
    }))
}

/// Accepted rate shortfall of an iterate (bit/s/Hz, relative to `max(R_th, 1)`).
pub const RATE_TOL: f64 = 1e-6;

/// One phase of the SCA as an [`IterativeAlgorithm`].
struct ScaPhase<'a> {
    problem: &'a ScaProblem,
    phase: Phase,
    settings: &'a SolverSettings,
}

impl IterativeAlgorithm for ScaPhase<'_> {
    type State = Vec<Mat<C64>>;

    fn step(&mut self, state: &Self::State, _k: usize) -> Result<Step<Self::State>> {
        // the settings' fallbacks (design_settings: Clarabel's default tolerances) are
        // tried by the conic layer when a subproblem's answer is inaccurate; an unsolved
        // subproblem's point is still used as a search direction and checked below
        let (mut next, _solved) = self.problem.step(state, self.phase, self.settings)?;
        // the returned covariances may exceed the budget by the solver's tolerance: scale
        // them onto it (the objective and the rates change by as little)
        let power = self.problem.power(&next);
        if power > 1.0 {
            for q in next.iter_mut() {
                *q = Mat::from_fn(q.nrows(), q.ncols(), |r, c| q[(r, c)] / power);
            }
        }
        let mut slack = self.problem.min_rate_slack(&next);
        let tol = RATE_TOL * self.problem.min_rate.max(1.0);
        if self.phase == Phase::CrbMinimisation && slack < -tol {
            // an inaccurate subproblem answer: back-track towards the (feasible) current
            // point along the segment, which keeps PSD and power and, since s is linear,
            // still improves s; stop the SCA if no point of the segment is feasible
            let violation = -slack;
            let mut accepted = false;
            let mut theta = 0.5;
            while theta > 1e-3 {
                let cand: Vec<Mat<C64>> = state
                    .iter()
                    .zip(&next)
                    .map(|(a, b)| {
                        Mat::from_fn(a.nrows(), a.ncols(), |r, c| {
                            a[(r, c)] + (b[(r, c)] - a[(r, c)]) * theta
                        })
                    })
                    .collect();
                let sl = self.problem.min_rate_slack(&cand);
                if sl >= -tol {
                    next = cand;
                    slack = sl;
                    accepted = true;
                    break;
                }
                theta *= 0.5;
            }
            if !accepted {
                return Err(IsacError::Numerical(format!(
                    "SCA iterate violates a rate constraint by {violation:.3e} bit/s/Hz and back-tracking found no feasible point"
                )));
            }
        }
        let (objective, done) = match self.phase {
            Phase::Feasibility => (slack, slack >= 0.0),
            Phase::CrbMinimisation => (self.problem.beampattern_gain(&next), false),
        };
        // an inexact subproblem answer must still improve the current point
        let before = match self.phase {
            Phase::Feasibility => self.problem.min_rate_slack(state),
            Phase::CrbMinimisation => self.problem.beampattern_gain(state),
        };
        if objective < before - 1e-9 * before.abs().max(1.0) {
            return Err(IsacError::Numerical(format!(
                "SCA step ({:?}) made no progress ({before:.9e} -> {objective:.9e})",
                self.phase
            )));
        }
        let mut step = Step::new(next, objective);
        step.metrics.push(("min_rate_slack".into(), slack));
        step.done = done;
        Ok(step)
    }
}

/// Phase I: a rate-feasible point with `Q_0 = 0`, or the best minimum slack found.
pub fn feasibility_phase(
    problem: &ScaProblem,
    settings: &SolverSettings,
    rule: &StoppingRule,
) -> Result<IterationResult<Vec<Mat<C64>>>> {
    let start = problem.initial_point()?;
    let slack = problem.min_rate_slack(&start);
    // a start that already meets every rate needs no step
    let rule = StoppingRule {
        direction: Direction::Maximize,
        max_iterations: if slack >= 0.0 { 0 } else { rule.max_iterations },
        ..rule.clone()
    };
    let mut phase = ScaPhase {
        problem,
        phase: Phase::Feasibility,
        settings,
    };
    Ok(run(&mut phase, start, slack, &rule))
}

/// Phase II: the SCA (45)-(46) from a rate-feasible `start`.
pub fn crb_phase(
    problem: &ScaProblem,
    start: Vec<Mat<C64>>,
    settings: &SolverSettings,
    rule: &StoppingRule,
) -> IterationResult<Vec<Mat<C64>>> {
    let gain = problem.beampattern_gain(&start);
    let rule = StoppingRule {
        direction: Direction::Maximize,
        ..rule.clone()
    };
    run(
        &mut ScaPhase {
            problem,
            phase: Phase::CrbMinimisation,
            settings,
        },
        start,
        gain,
        &rule,
    )
}

/// Rate margin (bit/s/Hz) of [`ScaProblem::solve_rank_one`].
pub const RANK_ONE_MARGIN: f64 = 1e-5;

/// `(sigma_k^2, w_k)` with `G_k = sigma_k u_k w_k^H` (`|u_k| = |w_k| = 1`) for every RE
/// when every `G_k` has rank one (second singular value below `1e-6` of the first);
/// `None` otherwise.
pub fn rank_one_factors(channels: &[Mat<C64>]) -> Option<Vec<(f64, Vec<C64>)>> {
    channels
        .iter()
        .map(|g| {
            let gg = g.adjoint() * g;
            let n = gg.nrows();
            let (vals, vecs) = hermitian_eigen(&gg)?;
            let top = vals[n - 1];
            let second = if n > 1 { vals[n - 2] } else { 0.0 };
            (top > 0.0 && second <= 1e-12 * top)
                .then(|| (top, (0..n).map(|r| vecs[(r, n - 1)]).collect()))
        })
        .collect()
}

impl ScaProblem {
    /// The exact optimum of (32)-(33) for rank-one channels `G_k = sigma_k u_k w_k^H`:
    /// `G_k Q G_k^H = x u_k u_k^H` with `x = sigma_k^2 w_k^H Q w_k`, so
    /// `R_k ln 2 = ln(1 + sum_{I_k + k} x_ik) - ln(1 + sum_{I_k} x_ik)` and `R_k >= R_th` is
    /// the linear `x_kk >= (2^R_th - 1)(1 + sum_{i in I_k} x_ik)`. One SDP, no SCA.
    /// `Ok(None)` when it is infeasible (a certificate from the conic solver).
    pub fn solve_rank_one(
        &self,
        factors: &[(f64, Vec<C64>)],
        settings: &SolverSettings,
    ) -> Result<Option<Vec<Mat<C64>>>> {
        let nt = self.tx_antennas();
        let kk = self.receivers();
        let mut p = Problem::new();
        let vars: Vec<HermitianVar> = (0..=kk).map(|_| p.psd_hermitian(nt)).collect();
        p.le(
            crate::conic::Affine::sum(vars.iter().map(|v| v.trace()).collect::<Vec<_>>().iter()),
            1.0,
        );
        // a margin of RANK_ONE_MARGIN bit/s/Hz keeps the returned point on the feasible
        // side of R_th despite the interior-point solver's ~1e-6 relative residuals
        let gamma = 2f64.powf(self.min_rate + RANK_ONE_MARGIN) - 1.0;
        for (k, (s2, w)) in factors.iter().enumerate() {
            // scale row k by 1/sigma_k^2 (x and the constant then have comparable size)
            let x = |i: usize| vars[i].quad_form(w);
            let mut rhs = crate::conic::Affine::constant(gamma / s2);
            for i in self.interferers(k) {
                rhs += x(i)?.scaled(gamma);
            }
            p.ge(x(k + 1)?, rhs);
        }
        let obj = crate::conic::Affine::sum(
            vars.iter()
                .map(|v| v.quad_form(&self.sensing_direction))
                .collect::<Result<Vec<_>>>()?
                .iter(),
        );
        p.maximize(obj);
        let sol = p.solve(settings)?;
        match &sol.status {
            Status::Optimal { .. } => {}
            Status::Infeasible { .. } => return Ok(None),
            other => {
                return Err(IsacError::Numerical(format!(
                    "rank-one beamforming program not solved: {other:?}"
                )))
            }
        }
        Ok(Some(
            vars.iter()
                .map(|v| crate::linalg::psd_part(&sol.hermitian_value(v)))
                .collect(),
        ))
    }
}

/// Largest rate RE `k` can reach alone (full power, no interference):
/// water-filling over the eigenvalues of `G_k^H G_k`, bit/s/Hz. If it is below `R_th`
/// for some RE the rate constraints are infeasible (a certificate).
pub fn single_user_capacity(g: &Mat<C64>) -> f64 {
    let gg = g.adjoint() * g;
    let gains: Vec<f64> = hermitian_eigen(&gg)
        .map(|(v, _)| v.into_iter().filter(|&x| x > 0.0).collect())
        .unwrap_or_default();
    if gains.is_empty() {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0, 1.0 + gains.iter().map(|v| 1.0 / v).fold(0.0, f64::max));
    for _ in 0..200 {
        let mu = 0.5 * (lo + hi);
        let used: f64 = gains.iter().map(|v| (mu - 1.0 / v).max(0.0)).sum();
        if used > 1.0 {
            hi = mu;
        } else {
            lo = mu;
        }
    }
    let mu = 0.5 * (lo + hi);
    gains
        .iter()
        .map(|v| (1.0 + v * (mu - 1.0 / v).max(0.0)).log2())
        .sum()
}
