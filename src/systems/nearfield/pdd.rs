//! The paper's PDD double loop for the hybrid downlink (near-field-ispac.md, Section
//! III-B to III-E, Algorithm 2; `method = "pdd"`).
//!
//! # The augmented Lagrangian (36)
//! With the auxiliary `Q = F~ Phi R~_x Phi^H F~^H = F R~_x F^H` (32b), its dual `Upsilon`
//! and penalty `rho`, the inner loop minimises
//!
//! ```text
//!   L = tr U^{-1} + 1/(2 rho) ||Q - F R~_x F^H + s rho Upsilon||_F^2
//! ```
//!
//! by alternating the two blocks below, and the outer loop updates (lines 9-16)
//! `Upsilon <- Upsilon + (Q - F R~_x F^H) / rho` when the violation
//! `||Q - F R~_x F^H||_inf <= eta`, else `rho <- mu rho`; `eta <- 0.9 ||.||_inf`.
//! The dual update is the standard PDD one (Shi & Hong 2020) for the Lagrangian term
//! `+<Upsilon, h>`, whose completed square is `+rho Upsilon`: `s = +1`
//! ([`PenaltySign::Consistent`], the default). The paper prints `- rho Upsilon` in (36a),
//! (38a) and (40a) with the same `+` dual update; `penalty_sign = "printed"` (`s = -1`)
//! reproduces it (docs/nearfield.md#pdd).
//!
//! # Block {U, Q, R_d, W} (38), exactly and small
//! For a fixed `F` the FIM of `Q` depends on `Q` only through `v^T Q v^*` for the three
//! target vectors `v = q, dq/dtheta, dq/dr`. Write `Q = F R~_x F^H - s rho Upsilon + E`:
//! the penalty is `||E||_F^2 / (2 rho)`, and only the part of `E` in `B (.) B^H`, `B` an
//! orthonormal basis of the conjugate target vectors (dimension 3), reaches the FIM; any
//! other part of `E` adds to the penalty and nothing else. So the optimal `E = P B Z_E
//! B^H` with `Z_E` a free 3 x 3 Hermitian matrix, and (38) is the fully digital program of
//! `super::design` on the effective vectors `F^T v` (`R~_x` in its own reduced basis)
//! with the FIM shifted by `J(-s rho Upsilon + E)` and the penalty `P^2 ||Z_E||^2 / (2 rho)`
//! added: a program of a few 7 x 7 blocks instead of a 64 x 64 `Q`. Its SDR is tight by
//! (39) as in the fully digital case.
//!
//! # Block {F} (40)-(43): SDR and Gaussian randomization
//! With `F = diag(f) Phi` (30), `F R~_x F^H = M o (f f^H)` with `M = Phi R~_x Phi^H`
//! (`o` the entrywise product), and every SINR term of (26c) with `W~`, `R~_d` fixed is
//! `f^T S f^*` for a Hermitian `S` (`h~_k^T w~ = f^T (h_k o Phi w~)`). With
//! `F_dot = f f^H` relaxed to `F_dot >= 0`, `diag F_dot = 1`, (43) is the convex program
//!
//! ```text
//!   min ||T - M o F_dot||_F   s.t.   sum_nm S_k,nm F_dot_nm >= sigma_0^2 (43b),
//!   F_dot_nn = 1 (43c),  F_dot >= 0 (43d without the rank),  T = Q + s rho Upsilon,
//! ```
//!
//! an `N_a x N_a` Hermitian SDP. Gaussian randomization (seeded, `randomizations` draws
//! `xi ~ CN(0, F_dot)`, `f = exp(j arg xi)`, plus the principal eigenvector's phases)
//! gives unit-modulus candidates; the best one meeting every SINR of (26c) exactly with
//! the current `W~`, `R~_d` is kept, and the current `f` is always a candidate, so the
//! step never increases (40a) and keeps the next (38) feasible.
//!
//! # Answer
//! The final `F` goes through [`super::hybrid::digital_for_analog`]: the exact digital
//! block for it, lifted and re-checked on the true model like every hybrid design. The
//! outer iterations (objective `tr U^{-1}` = `tr CRB(Q)`, violation, penalty) are the
//! history (Fig. 2).

use super::design::{
    covariance_parts, crb_program, downlink_subspace, fim_forms, lift, minimum_downlink_power,
    rank_one_precoders, sinr_constraints, DigitalDesign, DownlinkSubspace, MinimumPower,
};
use super::hybrid::{
    altmin_design, digital_bound, digital_for_analog, effective_model, HybridDesign,
};
use super::model::NearfieldModel;
use crate::conic::{Affine, Problem, SolverSettings, Status};
use crate::error::{IsacError, Result};
use crate::iterate::{self, Criterion, IterativeAlgorithm, Rule, Step, StopReason, StoppingRule};
use crate::linalg::{hermitian_eigen, orthonormal_basis, psd_part};
use crate::physics::hybrid::PartiallyConnected;
use crate::status::DesignStatus;
use crate::C64;
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::time::Instant;

/// The sign of the dual term inside the penalty of (36a) (module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PenaltySign {
    /// `+ rho Upsilon`: consistent with the dual update of line 10 (default).
    Consistent,
    /// `- rho Upsilon`, as printed in (36a), (38a), (40a).
    Printed,
}

impl PenaltySign {
    pub fn as_str(&self) -> &'static str {
        match self {
            PenaltySign::Consistent => "consistent",
            PenaltySign::Printed => "printed",
        }
    }

    /// `s` of the module doc: +1 consistent, -1 printed.
    pub(super) fn sign(&self) -> f64 {
        match self {
            PenaltySign::Consistent => 1.0,
            PenaltySign::Printed => -1.0,
        }
    }
}

/// How block (40) is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalogStep {
    /// The paper's SDR (43) with Gaussian randomization (`method = "pdd"`).
    Sdr,
    /// Projected gradient descent on the phases of `F` (`method = "pdd-manifold"`):
    /// every step keeps unit modulus and the SINRs of (26c) exactly (module doc).
    Manifold,
}

/// The parameters of Algorithm 2 (the paper fixes only the two tolerances).
#[derive(Debug, Clone, PartialEq)]
pub struct PddSettings {
    pub sign: PenaltySign,
    pub analog_step: AnalogStep,
    /// `rho_0 = penalty_start P^2 / tr CRB(start)`: the penalty of a violation of the
    /// order of the budget `P` is then `tr CRB / (2 penalty_start)`.
    pub penalty_start: f64,
    /// `mu` of line 13.
    pub penalty_decrease: f64,
    /// `epsilon_2,AO`: the inner loop stops when (36) decreases by less than this fraction.
    pub ao_tolerance: f64,
    /// `epsilon_2,PDD`: the outer loop stops when `||Q - F R~_x F^H||_inf / P` is below.
    pub pdd_tolerance: f64,
    pub max_outer: usize,
    pub max_inner: usize,
    /// Gaussian randomization draws per `F` step.
    pub randomizations: usize,
    pub seed: u64,
}

impl Default for PddSettings {
    fn default() -> Self {
        PddSettings {
            sign: PenaltySign::Consistent,
            analog_step: AnalogStep::Sdr,
            penalty_start: 1.0,
            penalty_decrease: 0.5,
            ao_tolerance: 1e-3,
            pdd_tolerance: 1e-4,
            max_outer: 50,
            max_inner: 20,
            randomizations: 100,
            seed: 1,
        }
    }
}

/// The answer of block (38) for one `F`.
#[derive(Debug, Clone)]
struct DigitalBlock {
    /// `R~_x`, `W~` (`N_RF x K`), `R~_d` in the RF domain.
    rx: Mat<C64>,
    w: Mat<C64>,
    rd: Mat<C64>,
    /// `Q` (`N_a x N_a`).
    q: Mat<C64>,
    /// `tr U^{-1}` = `tr CRB(Q)`, re-evaluated from `Q`.
    crb: f64,
    /// (38a) at the program's optimum, as the program computed it (`tr CRB` units).
    program_value: f64,
}

/// One PDD run's fixed data.
struct Pdd<'a> {
    model: &'a NearfieldModel,
    arch: PartiallyConnected,
    settings: &'a SolverSettings,
    pdd: &'a PddSettings,
    /// `B`: orthonormal basis of the conjugate target vectors (`N_a x <= 3`).
    target_basis: Mat<C64>,
    /// `J_ij(Z) = Re tr(A_ij Z)` for `P B Z B^H`.
    target_forms: Vec<Vec<Mat<C64>>>,
    /// `Phi` of (31).
    phi: Mat<C64>,
    rng: ChaCha8Rng,
    /// Conic programs solved, by block.
    digital_solves: usize,
    analog_solves: usize,
    /// The optimum `||T - M o F_dot||_F` of the last SDR (43) (`None` before one solved).
    last_sdr_value: Option<f64>,
}

pub(super) fn frobenius_sq(m: &Mat<C64>) -> f64 {
    let mut s = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            s += m[(i, j)].norm_sqr();
        }
    }
    s
}

pub(super) fn max_abs(m: &Mat<C64>) -> f64 {
    let mut s: f64 = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            s = s.max(m[(i, j)].norm());
        }
    }
    s
}

pub(super) fn scaled(m: &Mat<C64>, a: f64) -> Mat<C64> {
    m * faer::Scale(C64::new(a, 0.0))
}

/// `Re tr(A Z)` for a constant `A` and a Hermitian `Z` given by its entries' real and
/// imaginary parts as affine expressions.
pub(super) fn real_trace_affine(a: &Mat<C64>, z: &[Vec<(Affine, Affine)>]) -> Affine {
    let mut t = Affine::zero();
    for r in 0..a.nrows() {
        for c in 0..a.ncols() {
            // Re(a_rc z_cr) = a.re z.re - a.im z.im
            let (re, im) = &z[c][r];
            t.add_scaled(a[(r, c)].re, re);
            t.add_scaled(-a[(r, c)].im, im);
        }
    }
    t
}

/// `Re tr(A Z)` for constants.
pub(super) fn real_trace(a: &Mat<C64>, z: &Mat<C64>) -> f64 {
    let mut t = 0.0;
    for r in 0..a.nrows() {
        for c in 0..a.ncols() {
            t += (a[(r, c)] * z[(c, r)]).re;
        }
    }
    t
}

/// `f^T S f^*`.
pub(super) fn transposed_form(f: &[C64], s: &Mat<C64>) -> f64 {
    let mut t = C64::new(0.0, 0.0);
    for n in 0..f.len() {
        for m in 0..f.len() {
            t += f[n] * s[(n, m)] * f[m].conj();
        }
    }
    t.re
}

impl<'a> Pdd<'a> {
    fn new(
        model: &'a NearfieldModel,
        arch: PartiallyConnected,
        settings: &'a SolverSettings,
        pdd: &'a PddSettings,
    ) -> Result<Self> {
        let conj: Vec<Vec<C64>> = model
            .transmit_vectors()
            .iter()
            .map(|v| v.iter().map(|z| z.conj()).collect())
            .collect();
        let target_basis = orthonormal_basis(&conj, arch.antennas, 1e-12).ok_or_else(|| {
            IsacError::Numerical("eigendecomposition of the target subspace failed".into())
        })?;
        let rg = model.receive_gram(None);
        let target_forms = fim_forms(model, &target_basis, model.scenario.power, &rg);
        Ok(Pdd {
            model,
            arch,
            settings,
            pdd,
            target_basis,
            target_forms,
            phi: arch.transformation(),
            rng: ChaCha8Rng::seed_from_u64(pdd.seed),
            digital_solves: 0,
            analog_solves: 0,
            last_sdr_value: None,
        })
    }

    fn analog(&self, f: &[C64]) -> Mat<C64> {
        self.arch.analog(f)
    }

    /// Block (38) for the shifters `f` (module doc). `None` when the program has no
    /// point (the SINR targets cannot be met through this `F`).
    fn digital_step(
        &mut self,
        f: &[C64],
        upsilon: &Mat<C64>,
        rho: f64,
    ) -> Result<Option<DigitalBlock>> {
        let model = self.model;
        let s = &model.scenario;
        let power = s.power;
        let gamma = s.min_sinr;
        let analog = self.analog(f);
        let eff = effective_model(model, &analog)?;
        let DownlinkSubspace { basis, c, tau } =
            downlink_subspace(&eff, self.arch.rf_chains, gamma)?;
        let dim = basis.ncols();
        let mut prob = Problem::new();
        let (rd_var, ys) = sinr_constraints(&mut prob, dim, &c, &tau, gamma, power / s.noise)?;
        let parts = covariance_parts(&rd_var, &ys, &tau);
        // the shift -s rho Upsilon and the free E = P B Z_E B^H, in the target basis
        let sign = self.pdd.sign.sign();
        let b = &self.target_basis;
        let nb = b.ncols();
        let shift = scaled(upsilon, -sign * rho);
        let z_shift = scaled(&(b.adjoint() * &shift * b), 1.0 / power);
        let mut z_vars: Vec<Affine> = Vec::new();
        let mut z: Vec<Vec<(Affine, Affine)>> =
            vec![vec![(Affine::zero(), Affine::zero()); nb]; nb];
        for i in 0..nb {
            let d = prob.scalar();
            z[i][i] = (d.clone(), Affine::zero());
            z_vars.push(d);
            for j in i + 1..nb {
                let (re, im) = (prob.scalar(), prob.scalar());
                z[i][j] = (re.clone(), im.clone());
                z[j][i] = (re.clone(), im.scaled(-1.0));
                // ||Z_E||_F^2 counts each off-diagonal entry twice
                z_vars.push(re.scaled(2f64.sqrt()));
                z_vars.push(im.scaled(2f64.sqrt()));
            }
        }
        let offset: Vec<Vec<Affine>> = (0..4)
            .map(|i| {
                (0..4)
                    .map(|j| {
                        let a = &self.target_forms[i][j];
                        let mut e = real_trace_affine(a, &z);
                        e.add_scaled(1.0, &Affine::constant(real_trace(a, &z_shift)));
                        e
                    })
                    .collect()
            })
            .collect();
        let rg = model.receive_gram(None);
        let (mut objective, wmax) = crb_program(
            &mut prob,
            &eff,
            &basis,
            power,
            &rg,
            &parts,
            Some(&offset),
            None,
        )?;
        // penalty P^2 ||Z_E||^2 / (2 rho), in the program's units (tr CRB / wmax):
        // ||Z_E||^2 <= c t  <=>  ||(2 Z_E, t - c)|| <= t + c,  c = 2 rho wmax / P^2
        let cpen = 2.0 * rho * wmax / (power * power);
        let t = prob.squared_norm_epigraph(&z_vars, cpen);
        objective.add_scaled(1.0, &t);
        prob.minimize(objective.clone());
        let sol = prob.solve(self.settings)?;
        self.digital_solves += 1;
        match sol.status {
            Status::Infeasible { .. } => return Ok(None),
            Status::Unbounded => {
                return Err(IsacError::Numerical(
                    "PDD block (38) reported an unbounded objective".into(),
                ))
            }
            _ => {}
        }
        let mut zv = sol.hermitian_value(&rd_var);
        for (y, tk) in ys.iter().zip(&tau) {
            zv += sol.hermitian_value(y) * faer::Scale(C64::new(*tk, 0.0));
        }
        let rx = lift(&basis, &zv, power);
        let w = rank_one_precoders(&sol, &ys, &tau, &c, &basis, power);
        let rd = psd_part(&(&rx - &(&w * w.adjoint())));
        let ze = Mat::from_fn(nb, nb, |i, j| {
            let (re, im) = &z[i][j];
            C64::new(sol.value(re), sol.value(im))
        });
        let e = scaled(&(b * &ze * b.adjoint()), power);
        let x = &(&analog * &rx) * analog.adjoint();
        let q = &(&x + &shift) + &e;
        let crb = model.bound(&q, None).trace().unwrap_or(f64::INFINITY);
        Ok(Some(DigitalBlock {
            rx,
            w,
            rd,
            q,
            crb,
            program_value: sol.value(&objective) * wmax,
        }))
    }

    /// `T = Q + s rho Upsilon` and `M = Phi R~_x Phi^H` of (43a).
    fn analog_objective_data(
        &self,
        blk: &DigitalBlock,
        upsilon: &Mat<C64>,
        rho: f64,
    ) -> (Mat<C64>, Mat<C64>) {
        let t = &blk.q + &scaled(upsilon, self.pdd.sign.sign() * rho);
        let m = &(&self.phi * &blk.rx) * self.phi.adjoint();
        (t, m)
    }

    /// The Hermitian `S_k` with `f^T S_k f^* = |h~_k^T w~_k|^2 / gamma - sum_{i != k}
    /// |h~_k^T w~_i|^2 - h~_k^T R~_d h~_k^*` for `F = diag(f) Phi` (43b).
    fn sinr_forms(&self, blk: &DigitalBlock) -> Vec<Mat<C64>> {
        let model = self.model;
        let gamma = model.scenario.min_sinr;
        let na = self.arch.antennas;
        let pw = &self.phi * &blk.w;
        let md = &(&self.phi * &blk.rd) * self.phi.adjoint();
        model
            .user_channels
            .iter()
            .enumerate()
            .map(|(k, h)| {
                let mut s = Mat::from_fn(na, na, |n, m| -(h[n] * md[(n, m)] * h[m].conj()));
                for i in 0..pw.ncols() {
                    let a: Vec<C64> = (0..na).map(|n| h[n] * pw[(n, i)]).collect();
                    let weight = if i == k { 1.0 / gamma } else { -1.0 };
                    for n in 0..na {
                        for m in 0..na {
                            s[(n, m)] += a[n] * a[m].conj() * weight;
                        }
                    }
                }
                s
            })
            .collect()
    }

    /// Block (40) by `kind` (the SDR (43) with Gaussian randomization, or the phase
    /// descent; module doc). Returns the new shifters and (40a) there.
    fn analog_block(
        &mut self,
        f: &[C64],
        blk: &DigitalBlock,
        upsilon: &Mat<C64>,
        rho: f64,
        kind: AnalogStep,
    ) -> Result<(Vec<C64>, f64)> {
        let noise = self.model.scenario.noise;
        let power = self.model.scenario.power;
        let (t, m) = self.analog_objective_data(blk, upsilon, rho);
        let forms = self.sinr_forms(blk);
        let targets = current_targets(&forms, f, noise);
        let problem = PhaseProblem {
            t: &t,
            m: &m,
            forms: &forms,
            targets: &targets,
            unit: noise,
            scale: power,
        };
        let step = phase_step(
            kind,
            &problem,
            f,
            self.pdd.randomizations,
            &mut self.rng,
            self.settings,
        )?;
        self.analog_solves += 1;
        if step.sdr_value.is_some() {
            self.last_sdr_value = step.sdr_value;
        }
        Ok((step.shifters, step.misfit))
    }
}

/// One analog block of a PDD by `kind`: the SDR with Gaussian randomization
/// ([`sdr_phase_step`]) or the phase descent ([`phase_descent`]).
pub(super) fn phase_step(
    kind: AnalogStep,
    problem: &PhaseProblem,
    f: &[C64],
    randomizations: usize,
    rng: &mut ChaCha8Rng,
    settings: &SolverSettings,
) -> Result<SdrPhaseStep> {
    match kind {
        AnalogStep::Sdr => sdr_phase_step(problem, f, randomizations, rng, settings),
        AnalogStep::Manifold => {
            let (shifters, misfit) = phase_descent(problem, f);
            Ok(SdrPhaseStep {
                shifters,
                misfit,
                sdr_value: None,
            })
        }
    }
}

/// `||T - M o f f^H||_F^2`, (40a) and (67a) (`M = Phi Phi^H` there).
pub(super) fn analog_misfit(t: &Mat<C64>, m: &Mat<C64>, f: &[C64]) -> f64 {
    let mut s = 0.0;
    for j in 0..f.len() {
        for i in 0..f.len() {
            s += (t[(i, j)] - m[(i, j)] * f[i] * f[j].conj()).norm_sqr();
        }
    }
    s
}

/// The SINR thresholds a phase step must keep: `unit` (the constraint's right-hand
/// side), or the current value of a form already below it (never made worse).
pub(super) fn current_targets(forms: &[Mat<C64>], f: &[C64], unit: f64) -> Vec<f64> {
    forms
        .iter()
        .map(|s| unit + (transposed_form(f, s) - unit).min(0.0))
        .collect()
}

/// The analog block of a PDD: `min ||T - M o f f^H||_F^2` over unit-modulus `f` with
/// `f^T S_k f^* >= targets_k` for every form `S_k` ((40) of Algorithm 2, (67) of
/// Algorithm 5). `unit` scales the SINR rows and `scale` the residual in the SDR (the
/// size of `T`'s entries times `N_a`: the budget `P` in the downlink, 1 in the uplink).
pub(super) struct PhaseProblem<'d> {
    pub t: &'d Mat<C64>,
    pub m: &'d Mat<C64>,
    pub forms: &'d [Mat<C64>],
    pub targets: &'d [f64],
    pub unit: f64,
    pub scale: f64,
}

/// What one phase step returned.
pub(super) struct SdrPhaseStep {
    pub shifters: Vec<C64>,
    pub misfit: f64,
    /// The SDR's optimum `min ||T - M o F_dot||_F` (`None`: no SDR, or no optimal point).
    pub sdr_value: Option<f64>,
}

/// The SDR (43) / (70) of a [`PhaseProblem`] with Gaussian randomization (module doc):
/// the best unit-modulus candidate meeting every target, the current `f` included.
pub(super) fn sdr_phase_step(
    p: &PhaseProblem,
    f: &[C64],
    randomizations: usize,
    rng: &mut ChaCha8Rng,
    settings: &SolverSettings,
) -> Result<SdrPhaseStep> {
    let na = f.len();
    let (t, m) = (p.t, p.m);
    let current = analog_misfit(t, m, f);
    // the SDR: F_dot >= 0, diag F_dot = 1, sum_nm S_nm Fd_nm >= target
    let mut prob = Problem::new();
    let fd = prob.psd_hermitian(na);
    for n in 0..na {
        prob.eq(fd.entry(n, n)?.re, 1.0);
    }
    for (s, target) in p.forms.iter().zip(p.targets) {
        // sum_nm S_nm Fd_nm = Re tr(S^T Fd)
        let st = s.transpose().to_owned();
        prob.ge(
            fd.real_trace_with(&st)?.scaled(1.0 / p.unit),
            target / p.unit,
        );
    }
    let mut residual = Vec::with_capacity(na * (na - 1));
    let r2 = 2f64.sqrt() / p.scale;
    for j in 0..na {
        for i in 0..j {
            let e = fd.entry(i, j)?;
            let (mr, mi) = (m[(i, j)].re, m[(i, j)].im);
            let mut re = Affine::constant(t[(i, j)].re);
            re.add_scaled(-mr, &e.re);
            re.add_scaled(mi, &e.im);
            let mut im = Affine::constant(t[(i, j)].im);
            im.add_scaled(-mr, &e.im);
            im.add_scaled(-mi, &e.re);
            residual.push(re.scaled(r2));
            residual.push(im.scaled(r2));
        }
    }
    let diagonal: f64 = (0..na).map(|n| (t[(n, n)] - m[(n, n)]).norm_sqr()).sum();
    residual.push(Affine::constant(diagonal.sqrt() / p.scale));
    let bound = prob.scalar();
    prob.soc(bound.clone(), &residual);
    prob.minimize(bound.clone());
    let sol = prob.solve(settings)?;
    let mut best = (f.to_vec(), current);
    let unchanged = |best: (Vec<C64>, f64), sdr_value| SdrPhaseStep {
        shifters: best.0,
        misfit: best.1,
        sdr_value,
    };
    if !matches!(
        sol.status,
        Status::Optimal { .. } | Status::Inaccurate { .. }
    ) {
        return Ok(unchanged(best, None));
    }
    let sdr_value = Some(sol.value(&bound) * p.scale);
    let relaxed = sol.hermitian_value(&fd);
    let Some((vals, vecs)) = hermitian_eigen(&relaxed) else {
        return Ok(unchanged(best, sdr_value));
    };
    let phases = |xi: &[C64]| -> Vec<C64> {
        xi.iter()
            .map(|z| {
                if z.norm() > 0.0 {
                    z / z.norm()
                } else {
                    C64::new(1.0, 0.0)
                }
            })
            .collect()
    };
    let roots: Vec<f64> = vals.iter().map(|v| v.max(0.0).sqrt()).collect();
    let mut candidates: Vec<Vec<C64>> = vec![phases(
        &(0..na).map(|n| vecs[(n, na - 1)]).collect::<Vec<_>>(),
    )];
    for _ in 0..randomizations {
        let r: Vec<C64> = (0..na)
            .map(|_| {
                let a: f64 = rng.sample(StandardNormal);
                let b: f64 = rng.sample(StandardNormal);
                C64::new(a, b) * std::f64::consts::FRAC_1_SQRT_2
            })
            .collect();
        let xi: Vec<C64> = (0..na)
            .map(|n| (0..na).map(|c| vecs[(n, c)] * roots[c] * r[c]).sum())
            .collect();
        candidates.push(phases(&xi));
    }
    for cand in candidates {
        let feasible = p
            .forms
            .iter()
            .zip(p.targets)
            .all(|(s, target)| transposed_form(&cand, s) >= *target);
        if !feasible {
            continue;
        }
        let g = analog_misfit(t, m, &cand);
        if g < best.1 {
            best = (cand, g);
        }
    }
    Ok(unchanged(best, sdr_value))
}

/// `d/dphi_n` of a real function of `f` with Wirtinger gradient `g = d/df^*` at
/// `f_n = exp(j phi_n)`: `2 Re(conj(g_n) j f_n)`.
fn phase_gradient(f: &[C64], g: &[C64]) -> Vec<f64> {
    f.iter()
        .zip(g)
        .map(|(fi, gi)| 2.0 * (gi.conj() * C64::new(0.0, 1.0) * fi).re)
        .collect()
}

/// The phase gradient of (40a), `||T - M o f f^H||_F^2`: `d/df^* = -2 (R o conj M) f`,
/// `R = T - M o f f^H` (`T`, `M` Hermitian).
fn misfit_phase_gradient(t: &Mat<C64>, m: &Mat<C64>, f: &[C64]) -> Vec<f64> {
    let n = f.len();
    let g: Vec<C64> = (0..n)
        .map(|i| {
            let mut acc = C64::new(0.0, 0.0);
            for b in 0..n {
                let r = t[(i, b)] - m[(i, b)] * f[i] * f[b].conj();
                acc += r * m[(i, b)].conj() * f[b];
            }
            acc * -2.0
        })
        .collect();
    phase_gradient(f, &g)
}

/// The phase gradient of `f^T S f^*`: `d/df^* = S^T f`.
fn form_phase_gradient(s: &Mat<C64>, f: &[C64]) -> Vec<f64> {
    let n = f.len();
    let g: Vec<C64> = (0..n)
        .map(|i| (0..n).map(|a| f[a] * s[(a, i)]).sum())
        .collect();
    phase_gradient(f, &g)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The projection of `d0` onto the cone `{d : a_k . d >= 0}` (few rows): the KKT point
/// among the subsets of rows taken as active (`d = d0 + sum lambda_k a_k`,
/// `lambda >= 0`), the nearest one that satisfies every row.
fn project_on_cone(d0: &[f64], rows: &[Vec<f64>]) -> Vec<f64> {
    if rows.iter().all(|a| dot(a, d0) >= 0.0) {
        return d0.to_vec();
    }
    let r = rows.len();
    let mut best: Option<(f64, Vec<f64>)> = None;
    for mask in 1u32..(1 << r) {
        let act: Vec<usize> = (0..r).filter(|k| mask & (1 << k) != 0).collect();
        let p = act.len();
        let gram = Mat::from_fn(p, p, |i, j| dot(&rows[act[i]], &rows[act[j]]));
        let rhs = Mat::from_fn(p, 1, |i, _| -dot(&rows[act[i]], d0));
        let Some(inv) = crate::linalg::spd_inverse(&gram) else {
            continue;
        };
        let lambda = &inv * &rhs;
        if (0..p).any(|i| lambda[(i, 0)] < 0.0) {
            continue;
        }
        let mut d = d0.to_vec();
        for (i, &k) in act.iter().enumerate() {
            for (dn, an) in d.iter_mut().zip(&rows[k]) {
                *dn += lambda[(i, 0)] * an;
            }
        }
        let scale = dot(d0, d0).max(1e-300).sqrt();
        if rows
            .iter()
            .any(|a| dot(a, &d) < -1e-10 * scale * dot(a, a).sqrt())
        {
            continue;
        }
        let dist: f64 = d.iter().zip(d0).map(|(x, y)| (x - y).powi(2)).sum();
        if best.as_ref().is_none_or(|(b, _)| dist < *b) {
            best = Some((dist, d));
        }
    }
    best.map(|(_, d)| d).unwrap_or_else(|| vec![0.0; d0.len()])
}

/// Block (40) as a descent on the phases: minimise (40a) over unit-modulus `f` with every
/// SINR form at least its target (the current `f` is feasible). A step projects the
/// negative phase gradient on the cone of directions that do not decrease the SINR forms
/// within 1 % of their targets, and backtracks (Armijo) until (40a) decreases and every
/// SINR form still meets its target exactly; it stops when no step is found or (40a)
/// changes by less than 1e-9 relative.
struct PhaseDescent<'d> {
    t: &'d Mat<C64>,
    m: &'d Mat<C64>,
    forms: &'d [Mat<C64>],
    targets: Vec<f64>,
    /// The last accepted step length (rad per unit gradient).
    step: f64,
}

impl PhaseDescent<'_> {
    fn feasible(&self, f: &[C64]) -> bool {
        self.forms
            .iter()
            .zip(&self.targets)
            .all(|(s, t)| transposed_form(f, s) >= *t)
    }
}

impl PhaseDescent<'_> {
    /// Moves `f` back onto the SINR targets it misses after a step (a step along the
    /// projected gradient keeps them to first order only): up to five minimum-norm
    /// Gauss-Newton corrections of the phases, `delta = A^T (A A^T)^{-1} v`, `A` the phase
    /// gradients of the missed forms and `v` their shortfalls (aimed 1e-9 above target).
    fn restore(&self, mut f: Vec<C64>) -> Vec<C64> {
        for _ in 0..5 {
            let missed: Vec<(Vec<f64>, f64)> = self
                .forms
                .iter()
                .zip(&self.targets)
                .filter_map(|(s, t)| {
                    let v = t + 1e-9 * t.abs() - transposed_form(&f, s);
                    (v > 0.0).then(|| (form_phase_gradient(s, &f), v))
                })
                .collect();
            if missed.is_empty() {
                break;
            }
            let p = missed.len();
            let gram = Mat::from_fn(p, p, |i, j| dot(&missed[i].0, &missed[j].0));
            let Some(inv) = crate::linalg::spd_inverse(&gram) else {
                break;
            };
            let lambda = &inv * &Mat::from_fn(p, 1, |i, _| missed[i].1);
            for (n, fnn) in f.iter_mut().enumerate() {
                let delta: f64 = (0..p).map(|i| lambda[(i, 0)] * missed[i].0[n]).sum();
                *fnn *= C64::from_polar(1.0, delta);
            }
        }
        f
    }
}

impl IterativeAlgorithm for PhaseDescent<'_> {
    type State = Vec<C64>;

    fn step(&mut self, f: &Vec<C64>, _k: usize) -> Result<Step<Vec<C64>>> {
        let g0 = analog_misfit(self.t, self.m, f);
        let grad = misfit_phase_gradient(self.t, self.m, f);
        let d0: Vec<f64> = grad.iter().map(|x| -x).collect();
        let rows: Vec<Vec<f64>> = self
            .forms
            .iter()
            .zip(&self.targets)
            .filter(|(s, t)| transposed_form(f, s) - **t <= 0.01 * t.abs())
            .map(|(s, _)| form_phase_gradient(s, f))
            .collect();
        let d = project_on_cone(&d0, &rows);
        let dd = dot(&d, &d);
        let mut step = Step::new(f.clone(), g0);
        if !(dd > 0.0) {
            step.metrics.push(("step".into(), 0.0));
            return Ok(step);
        }
        let dmax = d.iter().fold(0.0f64, |a, x| a.max(x.abs()));
        // at most pi/4 per phase and step
        let mut t = (2.0 * self.step).min(std::f64::consts::FRAC_PI_4 / dmax);
        for _ in 0..60 {
            let cand: Vec<C64> = f
                .iter()
                .zip(&d)
                .map(|(fi, di)| fi * C64::from_polar(1.0, t * di))
                .collect();
            let cand = self.restore(cand);
            let g = analog_misfit(self.t, self.m, &cand);
            if g <= g0 - 1e-4 * t * dd && self.feasible(&cand) {
                self.step = t;
                let mut step = Step::new(cand, g);
                step.metrics.push(("step".into(), t));
                return Ok(step);
            }
            t *= 0.5;
        }
        step.metrics.push(("step".into(), 0.0));
        Ok(step)
    }
}

/// The analog block by [`PhaseDescent`] from the feasible `f`: the shifters and the
/// misfit there (`method = "pdd-manifold"`).
pub(super) fn phase_descent(p: &PhaseProblem, f: &[C64]) -> (Vec<C64>, f64) {
    let current = analog_misfit(p.t, p.m, f);
    let mut descent = PhaseDescent {
        t: p.t,
        m: p.m,
        forms: p.forms,
        targets: p.targets.to_vec(),
        step: 1e-3,
    };
    let rule = StoppingRule {
        max_iterations: 200,
        rel_tol: 1e-9,
        rules: vec![Rule::stalled(
            "no descent step keeps the SINRs",
            Criterion::AtMost("step", 0.0),
        )],
        ..StoppingRule::default()
    };
    let run = iterate::run(&mut descent, f.to_vec(), current, &rule);
    (run.state, run.objective)
}

/// The two blocks of a PDD double loop over the shifters `f` of `F` and an auxiliary
/// `Q` coupled by `Q = C(f)`: Algorithm 2 (downlink, `C = F R~_x F^H`, blocks (38) and
/// (40)) and Algorithm 5 (uplink, `C = F F^H`, blocks (66) and (67)). [`run_pdd`] runs
/// the loops (lines 2-17 of both algorithms) on the iteration driver.
pub(super) trait PddBlocks {
    /// The answer of the `Q` block.
    type Block: Clone;
    /// The `Q` block (with the other non-analog variables) at the shifters `f`; `None`
    /// when it has no point.
    fn q_step(&mut self, f: &[C64], upsilon: &Mat<C64>, rho: f64) -> Result<Option<Self::Block>>;
    /// The analog block from `f`: the new shifters and the misfit
    /// `||Q - C(f') + s rho Upsilon||_F^2` there.
    fn f_step(
        &mut self,
        f: &[C64],
        blk: &Self::Block,
        upsilon: &Mat<C64>,
        rho: f64,
    ) -> Result<(Vec<C64>, f64)>;
    /// `tr CRB(Q)` of a block.
    fn crb(blk: &Self::Block) -> f64;
    /// The `Q` block's objective at its optimum, as its program computed it.
    fn q_value(blk: &Self::Block) -> f64;
    /// `Q - C(f)`.
    fn residual(&self, f: &[C64], blk: &Self::Block) -> Mat<C64>;
    /// The unit of the violation `||Q - C(f)||_inf` (the budget `P` in the downlink).
    fn unit(&self) -> f64;
    /// The equation number of the `Q` block, for messages.
    fn q_name(&self) -> &'static str;
    fn settings(&self) -> &PddSettings;
}

/// The iterate of the outer loop.
#[derive(Clone)]
pub(super) struct OuterState {
    pub f: Vec<C64>,
    pub upsilon: Mat<C64>,
    pub rho: f64,
    pub eta: f64,
}

/// The inner loop (lines 4-7): one step = the `Q` block then the analog block.
struct InnerAo<'p, B: PddBlocks> {
    pdd: &'p mut B,
    upsilon: &'p Mat<C64>,
    rho: f64,
    last: Option<B::Block>,
}

impl<B: PddBlocks> IterativeAlgorithm for InnerAo<'_, B> {
    type State = Vec<C64>;

    fn step(&mut self, f: &Vec<C64>, _k: usize) -> Result<Step<Vec<C64>>> {
        let blk = self.pdd.q_step(f, self.upsilon, self.rho)?.ok_or_else(|| {
            IsacError::Numerical(format!(
                "PDD block {} infeasible: the SINR targets cannot be met through this analog stage",
                self.pdd.q_name()
            ))
        })?;
        let (next, misfit) = self.pdd.f_step(f, &blk, self.upsilon, self.rho)?;
        let penalty = misfit / (2.0 * self.rho);
        let crb = B::crb(&blk);
        let mut step = Step::new(next, crb + penalty);
        step.metrics.push(("crb".into(), crb));
        step.metrics
            .push(("q_block_value".into(), B::q_value(&blk)));
        step.metrics.push(("penalty_term".into(), penalty));
        self.last = Some(blk);
        Ok(step)
    }
}

/// The outer loop (lines 2-17).
pub(super) struct Outer<B: PddBlocks> {
    pub pdd: B,
    pub last: Option<B::Block>,
    pub inner_steps: usize,
    /// Inner steps that increased the augmented Lagrangian beyond the solver's accuracy
    /// (none expected: both blocks are exact or descending).
    pub inner_non_monotone: usize,
}

impl<B: PddBlocks> Outer<B> {
    pub fn new(pdd: B) -> Self {
        Outer {
            pdd,
            last: None,
            inner_steps: 0,
            inner_non_monotone: 0,
        }
    }
}

impl<B: PddBlocks> IterativeAlgorithm for Outer<B> {
    type State = OuterState;

    fn step(&mut self, st: &OuterState, _k: usize) -> Result<Step<OuterState>> {
        let settings = self.pdd.settings().clone();
        let (f, last, reason) = {
            let mut inner = InnerAo {
                pdd: &mut self.pdd,
                upsilon: &st.upsilon,
                rho: st.rho,
                last: None,
            };
            let rule = StoppingRule {
                max_iterations: settings.max_inner,
                rel_tol: settings.ao_tolerance,
                // the blocks are solved to the conic layer's accuracy
                monotone_tol: 1e-4,
                ..StoppingRule::default()
            };
            let run = iterate::run(&mut inner, st.f.clone(), f64::INFINITY, &rule);
            self.inner_steps += run.iterations();
            self.inner_non_monotone += run.non_monotone_steps.len();
            (run.state, inner.last, run.reason)
        };
        if let StopReason::Failed(e) = &reason {
            if last.is_none() {
                return Err(IsacError::Numerical(e.clone()));
            }
        }
        let blk = last.ok_or_else(|| IsacError::Numerical("PDD inner loop took no step".into()))?;
        let unit = self.pdd.unit();
        let h = self.pdd.residual(&f, &blk);
        let violation = max_abs(&h) / unit;
        let mut next = st.clone();
        next.f = f;
        let dual_update = violation * unit <= st.eta;
        if dual_update {
            next.upsilon = &st.upsilon + &scaled(&h, 1.0 / st.rho);
        } else {
            next.rho = st.rho * settings.penalty_decrease;
        }
        next.eta = 0.9 * violation * unit;
        let crb = B::crb(&blk);
        let al = crb
            + frobenius_sq(&(&h + &scaled(&st.upsilon, settings.sign.sign() * st.rho)))
                / (2.0 * st.rho);
        let mut step = Step::new(next, crb);
        step.metrics.push(("violation".into(), violation));
        step.metrics.push(("augmented_lagrangian".into(), al));
        step.metrics.push(("penalty".into(), st.rho));
        step.metrics
            .push(("dual_update".into(), if dual_update { 1.0 } else { 0.0 }));
        step.metrics.push((
            "inner_non_monotone_steps".into(),
            self.inner_non_monotone as f64,
        ));
        self.last = Some(blk);
        Ok(step)
    }
}

/// Runs the PDD double loop from the feasible shifters `f` (`tr CRB = crb0` there) with
/// `Upsilon = 0` and the penalty `rho0`, until the violation is below `epsilon_PDD` or
/// `max_outer` outer iterations. Returns the run and the blocks (their counters).
pub(super) fn run_pdd<B: PddBlocks>(
    blocks: B,
    f: Vec<C64>,
    crb0: f64,
    rho0: f64,
) -> (iterate::IterationResult<OuterState>, Outer<B>) {
    let n = f.len();
    let unit = blocks.unit();
    let pdd = blocks.settings().clone();
    let mut outer = Outer::new(blocks);
    let state = OuterState {
        f,
        upsilon: Mat::zeros(n, n),
        rho: rho0,
        // the first outer iteration updates the dual unless its violation exceeds the unit
        eta: unit,
    };
    let rule = StoppingRule {
        max_iterations: pdd.max_outer,
        objective_test: false,
        monotone: false,
        rules: vec![Rule::converged(
            "constraint violation below epsilon_PDD",
            Criterion::Below("violation", pdd.pdd_tolerance),
        )],
        ..StoppingRule::default()
    };
    let run = iterate::run(&mut outer, state, crb0, &rule);
    (run, outer)
}

impl<'a> PddBlocks for Pdd<'a> {
    type Block = DigitalBlock;

    fn q_step(&mut self, f: &[C64], upsilon: &Mat<C64>, rho: f64) -> Result<Option<DigitalBlock>> {
        self.digital_step(f, upsilon, rho)
    }

    fn f_step(
        &mut self,
        f: &[C64],
        blk: &DigitalBlock,
        upsilon: &Mat<C64>,
        rho: f64,
    ) -> Result<(Vec<C64>, f64)> {
        self.analog_block(f, blk, upsilon, rho, self.pdd.analog_step)
    }

    fn crb(blk: &DigitalBlock) -> f64 {
        blk.crb
    }

    fn q_value(blk: &DigitalBlock) -> f64 {
        blk.program_value
    }

    fn residual(&self, f: &[C64], blk: &DigitalBlock) -> Mat<C64> {
        let analog = self.analog(f);
        let x = &(&analog * &blk.rx) * analog.adjoint();
        &blk.q - &x
    }

    fn unit(&self) -> f64 {
        self.model.scenario.power
    }

    fn q_name(&self) -> &'static str {
        "(38)"
    }

    fn settings(&self) -> &PddSettings {
        self.pdd
    }
}

/// The least power with which the SINR targets can be met through the shifters `f`
/// (uplink-downlink duality on the effective channels `F^T h_k`, no probing); infinite
/// when no power meets them.
fn required_power(model: &NearfieldModel, arch: PartiallyConnected, f: &[C64]) -> f64 {
    let s = &model.scenario;
    let analog = arch.analog(f);
    let eff: Vec<Vec<C64>> = model
        .user_channels
        .iter()
        .map(|h| {
            (0..arch.rf_chains)
                .map(|l| (0..arch.antennas).map(|n| analog[(n, l)] * h[n]).sum())
                .collect()
        })
        .collect();
    let refs: Vec<&[C64]> = eff.iter().map(|v| v.as_slice()).collect();
    match minimum_downlink_power(&refs, s.noise, s.min_sinr, f64::INFINITY) {
        MinimumPower::Within(p) | MinimumPower::Exceeds(p) => p,
        MinimumPower::Unreachable => f64::INFINITY,
    }
}

/// The fraction of the budget the SINR targets may need at a feasibility start (the
/// rest is left to the probing signal). Half: at 0.8 the digital block of a start can
/// still defeat the solver (measured on a Fig. 5 drop, N_a = 32, 15 dB: the solver's
/// point needed a 77 % power change; at 0.5 it solves and PDD reaches 1.21 x the bound).
/// A start needing less than the budget is used even when the descent stops short of it.
pub const START_POWER_FRACTION: f64 = 0.5;

/// Gradient descent on the phases of `f` of a scalar function of the shifters (central
/// differences, Armijo steps, at most pi/4 per phase and step), reporting the value as
/// the metric `value`: the feasibility phases of both PDD designs (the power the SINR
/// targets need in the downlink, their shortfall in the uplink).
struct FdPhaseDescent<'a> {
    objective: &'a dyn Fn(&[C64]) -> f64,
    step: f64,
}

impl IterativeAlgorithm for FdPhaseDescent<'_> {
    type State = Vec<C64>;

    fn step(&mut self, f: &Vec<C64>, _k: usize) -> Result<Step<Vec<C64>>> {
        let p0 = (self.objective)(f);
        let at = |f: &[C64], n: usize, d: f64| {
            let mut x = f.to_vec();
            x[n] *= C64::from_polar(1.0, d);
            x
        };
        let h = 1e-6;
        let grad: Vec<f64> = (0..f.len())
            .map(|n| ((self.objective)(&at(f, n, h)) - (self.objective)(&at(f, n, -h))) / (2.0 * h))
            .collect();
        let gg = dot(&grad, &grad);
        let mut t = 2.0 * self.step;
        let gmax = grad.iter().fold(0.0f64, |a, x| a.max(x.abs()));
        if gmax > 0.0 {
            t = t.min(std::f64::consts::FRAC_PI_4 / gmax);
        }
        let mut best = (f.clone(), p0, 0.0);
        if gg.is_finite() && gg > 0.0 {
            for _ in 0..50 {
                let cand: Vec<C64> = f
                    .iter()
                    .zip(&grad)
                    .map(|(fi, gi)| fi * C64::from_polar(1.0, -t * gi))
                    .collect();
                let p = (self.objective)(&cand);
                if p <= p0 - 1e-4 * t * gg {
                    self.step = t;
                    best = (cand, p, t);
                    break;
                }
                t *= 0.5;
            }
        }
        let mut step = Step::new(best.0, best.1);
        step.metrics.push(("value".into(), best.1));
        step.metrics.push(("step".into(), best.2));
        Ok(step)
    }
}

/// [`FdPhaseDescent`] of `objective` from `f0` until it is at most `target` (at most 200
/// steps, or until no descent step is found); the shifters where it ended.
pub(super) fn descend_phases(
    objective: &dyn Fn(&[C64]) -> f64,
    f0: &[C64],
    target: f64,
    reason: &'static str,
) -> Vec<C64> {
    let mut alg = FdPhaseDescent {
        objective,
        step: 1e-3,
    };
    let rule = StoppingRule {
        max_iterations: 200,
        rel_tol: 1e-9,
        rules: vec![
            Rule::converged(reason, Criterion::AtMost("value", target)),
            Rule::stalled("no descent step", Criterion::AtMost("step", 0.0)),
        ],
        ..StoppingRule::default()
    };
    iterate::run(&mut alg, f0.to_vec(), objective(f0), &rule).state
}

/// A feasible start for PDD from the shifters `f0` (descent on the phases of the power the
/// SINR targets need, [`required_power`], until at most [`START_POWER_FRACTION`] of the
/// budget) and the power the SINR targets need where the descent ended; `None` when that
/// is still more than the budget.
pub fn feasible_analog_start(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    f0: &[C64],
) -> Result<(Option<Vec<C64>>, f64)> {
    let budget = model.scenario.power;
    let p0 = required_power(model, arch, f0);
    if !p0.is_finite() {
        return Ok((None, p0));
    }
    let fraction = |f: &[C64]| required_power(model, arch, f) / budget;
    let f = descend_phases(
        &fraction,
        f0,
        START_POWER_FRACTION,
        "the SINR targets leave room for sensing",
    );
    let p = required_power(model, arch, &f);
    Ok(((p < budget * (1.0 - 1e-3)).then_some(f), p))
}

/// The first inner step of Algorithm 2 at a given start (`Upsilon = 0`, `rho_0`): block
/// (38)'s optimum and argmin, and the optimum of the SDR (43) built from them. For the
/// independent check of both blocks (`python/nearfield_pdd_reference.py`).
#[derive(Debug, Clone)]
pub struct FirstStep {
    pub rho: f64,
    /// (38a) at the optimum, in `tr CRB` units.
    pub block38_value: f64,
    pub q: Mat<C64>,
    pub rx: Mat<C64>,
    pub w: Mat<C64>,
    pub rd: Mat<C64>,
    /// `min ||T - M o F_dot||_F` of (43) with `T = Q`, `M = Phi R~_x Phi^H`.
    pub sdr_value: Option<f64>,
}

/// `rho_0` of a run started at a design with `tr CRB = start_crb` ([`PddSettings`]).
pub fn initial_penalty(model: &NearfieldModel, pdd: &PddSettings, start_crb: f64) -> f64 {
    let power = model.scenario.power;
    pdd.penalty_start * power * power / start_crb
}

/// Block (38) then the SDR (43) once, from the shifters `f` (see [`FirstStep`]).
pub fn first_step(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    f: &[C64],
    rho: f64,
    pdd: &PddSettings,
    settings: &SolverSettings,
) -> Result<Option<FirstStep>> {
    let mut p = Pdd::new(model, arch, settings, pdd)?;
    let upsilon = Mat::zeros(arch.antennas, arch.antennas);
    let Some(blk) = p.digital_step(f, &upsilon, rho)? else {
        return Ok(None);
    };
    p.analog_block(f, &blk, &upsilon, rho, AnalogStep::Sdr)?;
    Ok(Some(FirstStep {
        rho,
        block38_value: blk.program_value,
        q: blk.q,
        rx: blk.rx,
        w: blk.w,
        rd: blk.rd,
        sdr_value: p.last_sdr_value,
    }))
}

/// `method = "pdd"`: Algorithm 2 from the altmin design's analog stage (a feasible `F`,
/// as line 1 asks), then the exact digital block for its final `F`; re-checked. Returned
/// beside: the fully digital design (the bound).
pub fn pdd_design(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    max_fit_iterations: usize,
    pdd: &PddSettings,
    settings: &SolverSettings,
) -> Result<(HybridDesign, DigitalDesign)> {
    let started = Instant::now();
    let (mut start, fd) = altmin_design(model, arch, max_fit_iterations, settings)?;
    let mut start_note = "the altmin design's F";
    let mut descent_note = String::new();
    if !start.status.has_checked_design() && fd.status.has_checked_design() {
        // line 1 asks for a feasible F: lower the power the SINR targets need through
        // altmin's stage until they fit in the budget with room for sensing
        let f0 = arch.shifters(&start.analog);
        match feasible_analog_start(model, arch, &f0)? {
            (Some(f), _) => {
                let d = digital_for_analog(model, arch, &arch.analog(&f), settings)?;
                if d.status.has_checked_design() {
                    start = d;
                    start_note =
                        "altmin's F after the power descent (it had no feasible digital block)";
                } else {
                    descent_note = format!(
                        "; the power descent's stage has no feasible digital block either: {}",
                        d.status.detail().unwrap_or(d.status.as_str())
                    );
                }
            }
            (None, p) => {
                descent_note = format!(
                    "; the power descent on its phases ended with the SINR targets needing {p:.6e} W > the budget {:.6e} W",
                    model.scenario.power
                );
            }
        }
    }
    let start_crb = start.bound.as_ref().and_then(|b| b.trace());
    let (true, Some(crb0)) = (start.status.has_checked_design(), start_crb) else {
        // no feasible analog stage to start from (or an infeasible problem): the start's
        // status stands
        let mut d = start;
        if !matches!(d.status, DesignStatus::Infeasible { .. }) {
            d.status = DesignStatus::inaccurate(
                format!(
                    "PDD needs a feasible analog start (line 1); the altmin start has none: {}{descent_note}",
                    d.status.detail().unwrap_or(d.status.as_str())
                ),
                None,
            );
        }
        return Ok((d, fd));
    };
    let (run, outer) = run_pdd(
        Pdd::new(model, arch, settings, pdd)?,
        arch.shifters(&start.analog),
        crb0,
        initial_penalty(model, pdd, crb0),
    );
    let analog = arch.analog(&run.state.f);
    let mut d = digital_for_analog(model, arch, &analog, settings)?;
    let outer_iterations = run.iterations();
    if d.status.has_checked_design() {
        let ratio = d
            .bound
            .as_ref()
            .and_then(|b| b.trace())
            .zip(digital_bound(&fd))
            .map(|(a, b)| a / b);
        let analog = match pdd.analog_step {
            AnalogStep::Sdr => format!("{} SDR programs (43)", outer.pdd.analog_solves),
            AnalogStep::Manifold => {
                format!("{} phase descents for block (40)", outer.pdd.analog_solves)
            }
        };
        d.status = DesignStatus::solved(format!(
            "PDD (Algorithm 2) from {start_note}: {outer_iterations} outer / {} inner iterations, {} ({} programs (38), {analog}); digital block optimal for the final F; tr CRB {:.4} x the fully digital bound",
            outer.inner_steps,
            run.reason,
            outer.pdd.digital_solves,
            ratio.unwrap_or(f64::NAN)
        ));
    } else if !matches!(d.status, DesignStatus::Infeasible { .. }) {
        d.status = DesignStatus::inaccurate(
            format!(
                "PDD ended at an analog stage without a feasible digital block ({}): {}",
                run.reason,
                d.status.detail().unwrap_or(d.status.as_str())
            ),
            None,
        );
    }
    d.iterations = outer_iterations;
    d.history = run.history;
    d.seconds = started.elapsed().as_secs_f64();
    Ok((d, fd))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::systems::nearfield::NearfieldScenario;

    fn model(na: usize, nrf: usize, gamma_db: f64, seed: u64) -> NearfieldModel {
        let s = NearfieldScenario::from_toml_str(&format!(
            "system = \"nearfield\"\narchitecture = \"hybrid\"\nmt_antennas = {na}\nat_antennas = 4\nrf_chains = {nrf}\nusers = 2\nmin_sinr_db = {gamma_db}\nseed = {seed}\n"
        ))
        .unwrap();
        NearfieldModel::new(s).unwrap()
    }

    fn random_shifters(n: usize, seed: u64) -> Vec<C64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| C64::from_polar(1.0, rng.gen::<f64>() * std::f64::consts::TAU))
            .collect()
    }

    /// A random Hermitian matrix (entries of the Gaussian ensemble).
    pub(in crate::systems::nearfield) fn random_hermitian(
        n: usize,
        rng: &mut ChaCha8Rng,
    ) -> Mat<C64> {
        let g = Mat::from_fn(n, n, |_, _| {
            C64::new(rng.sample(StandardNormal), rng.sample(StandardNormal))
        });
        scaled(&(&g + g.adjoint()), 0.5)
    }

    /// The closed-form phase gradients of (40a) and of the SINR forms equal central
    /// differences of the functions themselves.
    #[test]
    fn phase_gradients_match_finite_differences() {
        let n = 8;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (t, m, s) = (
            random_hermitian(n, &mut rng),
            random_hermitian(n, &mut rng),
            random_hermitian(n, &mut rng),
        );
        let f = random_shifters(n, 6);
        let g = misfit_phase_gradient(&t, &m, &f);
        let gs = form_phase_gradient(&s, &f);
        let h = 1e-6;
        for i in 0..n {
            let at = |d: f64| {
                let mut x = f.clone();
                x[i] *= C64::from_polar(1.0, d);
                x
            };
            let fd = (analog_misfit(&t, &m, &at(h)) - analog_misfit(&t, &m, &at(-h))) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() <= 1e-6 * g[i].abs().max(1.0),
                "misfit {i}: {fd} vs {}",
                g[i]
            );
            let fd = (transposed_form(&at(h), &s) - transposed_form(&at(-h), &s)) / (2.0 * h);
            assert!(
                (fd - gs[i]).abs() <= 1e-6 * gs[i].abs().max(1.0),
                "form {i}: {fd} vs {}",
                gs[i]
            );
        }
    }

    /// The cone projection is feasible and no sampled feasible direction is nearer.
    #[test]
    fn cone_projection_is_the_nearest_feasible_direction() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let n = 6;
        for trial in 0..50 {
            let rows: Vec<Vec<f64>> = (0..3)
                .map(|_| (0..n).map(|_| rng.sample(StandardNormal)).collect())
                .collect();
            let d0: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
            let d = project_on_cone(&d0, &rows);
            for a in &rows {
                assert!(dot(a, &d) >= -1e-9, "trial {trial}: infeasible");
            }
            let dist = |e: &[f64]| -> f64 { e.iter().zip(&d0).map(|(x, y)| (x - y).powi(2)).sum() };
            let best = dist(&d);
            for _ in 0..2000 {
                let e: Vec<f64> = d
                    .iter()
                    .map(|x| x + 0.3 * rng.sample::<f64, _>(StandardNormal))
                    .collect();
                if rows.iter().all(|a| dot(a, &e) >= 0.0) {
                    assert!(
                        dist(&e) >= best * (1.0 - 1e-12),
                        "trial {trial}: a nearer point"
                    );
                }
            }
        }
    }

    /// Block (38): the program's optimum equals (38a) re-evaluated from the returned `Q`
    /// (the FIM through the true model), and no perturbation of `Q` in the full
    /// `N_a x N_a` space lowers it: the reduction to `P B Z_E B^H` loses nothing.
    #[test]
    fn the_reduced_block_38_is_optimal_over_the_full_q() {
        let m = model(16, 4, 5.0, 3);
        let arch = PartiallyConnected::new(16, 4).unwrap();
        let settings = SolverSettings::default();
        for sign in [PenaltySign::Consistent, PenaltySign::Printed] {
            let pdd_settings = PddSettings {
                sign,
                ..PddSettings::default()
            };
            let mut p = Pdd::new(&m, arch, &settings, &pdd_settings).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(21);
            let f = random_shifters(16, 4);
            let power = m.scenario.power;
            let upsilon = scaled(&random_hermitian(16, &mut rng), 0.01 / power);
            let rho = 0.05 * power * power;
            let blk = p.digital_step(&f, &upsilon, rho).unwrap().unwrap();
            let analog = arch.analog(&f);
            let x = &(&analog * &blk.rx) * analog.adjoint();
            let value = |q: &Mat<C64>| -> f64 {
                let r = &(q - &x) + &scaled(&upsilon, sign.sign() * rho);
                m.bound(q, None).trace().unwrap() + frobenius_sq(&r) / (2.0 * rho)
            };
            let v0 = value(&blk.q);
            assert!(
                (v0 - blk.program_value).abs() <= 1e-6 * v0,
                "{sign:?}: recomputed {v0} vs program {}",
                blk.program_value
            );
            assert_no_perturbation_lowers(
                &value,
                &blk.q,
                1e-3 * power,
                &mut rng,
                &format!("{sign:?}"),
            );
        }
    }

    /// A `Q` block's optimality over the full Hermitian space: no step of Frobenius size
    /// `size` along 20 random Hermitian directions (either way) lowers `value` below its
    /// value at `q` (relative 1e-6). The blocks are convex in `Q`, so this checks a global
    /// optimum, and in particular that a reduction to a small subspace lost nothing.
    pub(in crate::systems::nearfield) fn assert_no_perturbation_lowers(
        value: &dyn Fn(&Mat<C64>) -> f64,
        q: &Mat<C64>,
        size: f64,
        rng: &mut ChaCha8Rng,
        label: &str,
    ) {
        let v0 = value(q);
        for _ in 0..20 {
            let h = random_hermitian(q.nrows(), rng);
            let h = scaled(&h, size / frobenius_sq(&h).sqrt());
            for e in [q + &h, q - &h] {
                assert!(
                    value(&e) >= v0 * (1.0 - 1e-6),
                    "{label}: {} < {v0}",
                    value(&e)
                );
            }
        }
    }

    /// The phase descent keeps unit modulus and every SINR form at its target, and never
    /// increases (40a).
    #[test]
    fn the_phase_descent_is_feasible_and_monotone() {
        let m = model(16, 4, 5.0, 3);
        let arch = PartiallyConnected::new(16, 4).unwrap();
        let settings = SolverSettings::default();
        let pdd_settings = PddSettings::default();
        let mut p = Pdd::new(&m, arch, &settings, &pdd_settings).unwrap();
        let f = random_shifters(16, 4);
        let power = m.scenario.power;
        let upsilon = Mat::zeros(16, 16);
        let rho = 0.05 * power * power;
        let blk = p.digital_step(&f, &upsilon, rho).unwrap().unwrap();
        let forms = p.sinr_forms(&blk);
        let (t, mm) = p.analog_objective_data(&blk, &upsilon, rho);
        let before = analog_misfit(&t, &mm, &f);
        let (g, after) = p
            .analog_block(&f, &blk, &upsilon, rho, AnalogStep::Manifold)
            .unwrap();
        assert!(after < before, "no descent: {after} vs {before}");
        assert!((analog_misfit(&t, &mm, &g) - after).abs() <= 1e-12 * before);
        for z in &g {
            assert!((z.norm() - 1.0).abs() < 1e-12);
        }
        let noise = m.scenario.noise;
        for (k, s) in forms.iter().enumerate() {
            let target = noise + (transposed_form(&f, s) - noise).min(0.0);
            assert!(transposed_form(&g, s) >= target, "user {k}");
        }
    }

    /// The SINR forms `S_k` of (43b) equal the SINR terms of the lifted design.
    #[test]
    fn sinr_forms_match_the_lifted_sinrs() {
        let m = model(16, 4, 5.0, 3);
        let arch = PartiallyConnected::new(16, 4).unwrap();
        let settings = SolverSettings::default();
        let pdd_settings = PddSettings::default();
        let mut p = Pdd::new(&m, arch, &settings, &pdd_settings).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let f: Vec<C64> = (0..16)
            .map(|_| C64::from_polar(1.0, rng.gen::<f64>() * std::f64::consts::TAU))
            .collect();
        let blk = p
            .digital_step(&f, &Mat::zeros(16, 16), 1.0)
            .unwrap()
            .unwrap();
        let forms = p.sinr_forms(&blk);
        let analog = arch.analog(&f);
        let w = &analog * &blk.w;
        let rd = &(&analog * &blk.rd) * analog.adjoint();
        let sinr = m.downlink_sinr(&w, &rd);
        let gamma = m.scenario.min_sinr;
        for (k, s) in forms.iter().enumerate() {
            // f^T S f^* = signal/gamma - interference - probing; SINR = signal/(interference+probing+noise)
            let h = &m.user_channels[k];
            let signal: f64 = (0..16).map(|n| h[n] * w[(n, k)]).sum::<C64>().norm_sqr();
            let lhs = transposed_form(&f, s);
            let rest = signal / sinr[k] - m.scenario.noise; // interference + probing
            let want = signal / gamma - rest;
            assert!(
                (lhs - want).abs() <= 1e-9 * signal.abs().max(rest.abs()),
                "user {k}: {lhs} vs {want}"
            );
        }
    }
}
