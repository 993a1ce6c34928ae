//! Analog designs (bistatic-monostatic.md, Section V): beamformers whose entries in each
//! column share one amplitude (`[F]_{i,l} = sqrt(rho_l / N_B) e^{j phi_{i,l}}`, phase
//! shifters behind one DAC per beam), designed by the covariance mismatch (WCM paradigm)
//! to the two guiding digital designs `V_bar` (`alpha = 1`) and `V_under` (`alpha = 0`).
//!
//! # Analog FDB (23)-(26), Algorithm 1
//! `min alpha ||F F^H - V_bar||^2 + (1 - alpha) ||F F^H - V_under||^2` over `rho` (simplex
//! `sum rho_l = P_B / M`) and the phases `Phi`. With `W = alpha V_bar + (1 - alpha) V_under`
//! the objective is `||F F^H - W||^2 + c` with the constant
//! `c = alpha ||V_bar||^2 + (1 - alpha) ||V_under||^2 - ||W||^2` (the printed `Psi = A^H Q`
//! under (24) is garbled; expanding (23a) gives `Psi = W`). Alternating optimization as
//! Algorithm 1, with both blocks solved at least as well as by the paper's SQP:
//! - **power block (25)**: with `a_l = e^{j phi_l} / sqrt(N_B)`, `F F^H = sum_l rho_l a_l
//!   a_l^H`, and (25) is the convex QP `min ||A diag(rho) A^H - W||` over the simplex: solved
//!   exactly by the conic layer ([`codebook_covariance_fit`], the CPA-WCM program with the
//!   analog beams as codebook);
//! - **phase block (26)**: L-BFGS on the angles ([`crate::smooth`]) with the closed-form
//!   gradient `d/d phi_{n,l} ||F F^H - W||^2 = 4 Im(G_{n,l} conj(F_{n,l}))`, `G = (F F^H - W)
//!   F` (derived: `d||E||^2 = 4 Re tr(F^H E dF)`, `dF_{n,l} = j F_{n,l} d phi_{n,l}`; tested
//!   against finite differences).
//!
//! Each block keeps its input when it cannot improve it, so the objective never rises. The
//! AO stops when the objective falls by less than `tolerance` (relative) in one iteration
//! (the paper: "the reduction ratio ... below a specified threshold"). Several seeded
//! starts (random phases), the best kept; the history is the best start's, the
//! normalised objective `(23a) / (P_B / M)^2` per AO iteration (Fig. 2).
//!
//! # Analog CPA (27)
//! The codebook `U~ = [a_B(theta_0..K), f~_0..K]`: the steering columns are already analog;
//! each derivative codeword `da_B(theta_k)` is replaced by the equal-amplitude `f~_k =
//! A_k e^{j phi_k}` closest in beampattern over `N~` angles, `min ||T f~ - T da||^2`, by
//! gradient projection [44] (step `1 / lambda_max(T^H T)`, exact projection onto
//! `{A e^{j phi}: A >= 0}`: `A = mean |z_i|`, `phi = arg z`; the objective never rises). The
//! grid is `theta_i = -pi/2 + i pi / N~`: the half-plane in front of the array in our
//! convention (the paper's `0 .. (N~-1) pi / N~` is the same period in an end-fire angle).
//! Then the CPA-WCM design of Section IV over `U~` (guides: the CPA-WCRB designs over `U~`
//! at `alpha = 1` and 0), `F = U~ diag(sqrt rho)` (analog: one amplitude per column).
//!
//! # Re-check
//! From the returned `F`: the amplitude spread of every column and the power (both within
//! [`ANALOG_TOL`]), both CRBs recomputed from `F F^H`, and the weighted objective against
//! the digital optimum (FDB-WCRB at the same `alpha`), which no analog design may beat.

use super::design::{beamformers, wcrb, weighted_objective, Structure, WcrbDesign};
use super::mismatch::{self, codebook_covariance_fit, Method, Mismatch};
use super::model::BpmsModel;
use crate::conic::SolverSettings;
use crate::error::{IsacError, Result};
use crate::experiment::splitmix64;
use crate::iterate::{self, IterativeAlgorithm, Step, StopReason, StoppingRule};
use crate::linalg::{bilinear, hermitian_eigen};
use crate::smooth::{self, LbfgsOptions, Smooth};
use crate::status::DesignStatus;
use crate::C64;
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::f64::consts::PI;
use std::time::Instant;

/// Largest relative amplitude spread within a column and relative power error of an
/// analog design that passes the re-check.
pub const ANALOG_TOL: f64 = 1e-9;

/// Largest relative amount by which a design may appear to beat the digital optimum
/// (the accuracy of the conic solves behind both) before the re-check flags it.
pub const BOUND_TOL: f64 = 1e-6;

/// The phase block's L-BFGS: to a relative objective change of 1e-10 (the AO's own
/// tolerance is far coarser), at most 300 iterations.
const PHASE_BLOCK: LbfgsOptions = LbfgsOptions {
    memory: 10,
    max_iterations: 300,
    rel_tol: 1e-10,
    abs_tol: 0.0,
    gradient_tol: 1e-10,
};

/// Seed stream of the starting phases ("bpmsphas").
const START_STREAM: u64 = 0x6270_6d73_7068_6173;

/// Settings of the analog designs (input keys `starts`, `ao_iterations`, `tolerance`,
/// `codebook_angles`).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalogSettings {
    /// Seeded random starts of Algorithm 1 (the best kept).
    pub starts: usize,
    pub ao_iterations: usize,
    /// AO stop: relative decrease of the objective in one iteration at most this.
    pub tolerance: f64,
    /// `N~`, the angles of the beampattern fit (27).
    pub codebook_angles: usize,
    /// Seed of the starting phases.
    pub seed: u64,
    /// The analog CPA's power allocation over `U~`: the paper's WCM paradigm (`false`) or
    /// the weighted-sum CRB program (16) over `U~` (`true`, key `allocation = "wcrb"`).
    pub cpa_wcrb: bool,
}

/// One start of Algorithm 1.
#[derive(Debug, Clone)]
pub struct AnalogStart {
    /// The starting phases (`N_B x L`, rad).
    pub phases: Mat<f64>,
    /// The normalised objective `(23a) / (P_B/M)^2` where this start ended.
    pub objective: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// What an analog design adds to the digital design record.
#[derive(Debug, Clone)]
pub struct AnalogInfo {
    /// The normalised mismatch `(alpha ||V - V_bar||^2 + (1 - alpha) ||V - V_under||^2) /
    /// (P_B/M)^2` of the returned design (FDB: (23a); CPA: the same over the CPA guides).
    pub mismatch: f64,
    /// The best start's AO history: `(iteration, normalised objective)` (FDB).
    pub history: Vec<(usize, f64)>,
    pub iterations: usize,
    /// Every start (FDB).
    pub starts: Vec<AnalogStart>,
    /// `U~` (CPA).
    pub codebook: Option<Mat<C64>>,
    /// `||T f~_k - T da_k||^2 / ||T da_k||^2` of each analog derivative codeword (CPA).
    pub fit_residuals: Vec<f64>,
    /// The guiding covariances `V_bar`, `V_under` (W).
    pub guides: (Mat<C64>, Mat<C64>),
    /// The digital optimum (FDB-WCRB) at the same `alpha` and its objective (m^2).
    pub digital_objective: f64,
    /// Re-check: the largest relative amplitude spread within a column, the relative
    /// power error.
    pub modulus_spread: f64,
    pub power_error: f64,
}

/// `(23a) / p0^2`: `alpha ||V - V_bar||^2 + (1 - alpha) ||V - V_under||^2`, each norm
/// computed directly from its matrices.
pub fn mismatch_objective(
    v: &Mat<C64>,
    v_bar: &Mat<C64>,
    v_under: &Mat<C64>,
    alpha: f64,
    p0: f64,
) -> f64 {
    let dist = |a: &Mat<C64>, b: &Mat<C64>| {
        let mut s = 0.0;
        for r in 0..a.nrows() {
            for c in 0..a.ncols() {
                s += (a[(r, c)] - b[(r, c)]).norm_sqr();
            }
        }
        s
    };
    (alpha * dist(v, v_bar) + (1.0 - alpha) * dist(v, v_under)) / (p0 * p0)
}

/// `F` with `[F]_{i,l} = sqrt(rho_l / N_B) e^{j phi_{i,l}}`, the phases column by column
/// (`phases[l N_B + i] = phi_{i,l}`).
pub fn analog_beamformers(rho: &[f64], phases: &[f64], nb: usize) -> Mat<C64> {
    Mat::from_fn(nb, rho.len(), |i, l| {
        C64::from_polar((rho[l].max(0.0) / nb as f64).sqrt(), phases[l * nb + i])
    })
}

/// The re-check of the analog structure: the largest relative amplitude spread within a
/// column (`max_i ||F_il| - mean| / mean`, 0 for an all-zero column) and the relative
/// power error `|sum |F_il|^2 - p0| / p0`.
pub fn analog_structure(f: &Mat<C64>, p0: f64) -> (f64, f64) {
    let mut spread = 0.0f64;
    let mut power = 0.0;
    for c in 0..f.ncols() {
        let mags: Vec<f64> = (0..f.nrows()).map(|r| f[(r, c)].norm()).collect();
        power += mags.iter().map(|m| m * m).sum::<f64>();
        let mean = mags.iter().sum::<f64>() / mags.len() as f64;
        if mean > 0.0 {
            let worst = mags.iter().fold(0.0f64, |w, m| w.max((m - mean).abs()));
            spread = spread.max(worst / mean);
        }
    }
    (spread, (power - p0).abs() / p0)
}

/// The phase block (26) at fixed amplitudes: `||F F^H - W||^2 / p0^2` over the phases,
/// with the closed-form gradient of the module doc.
struct PhaseBlock<'a> {
    /// `sqrt(rho_l / (N_B p0))`.
    amplitude: Vec<f64>,
    /// `W / p0`.
    w: &'a Mat<C64>,
    nb: usize,
}

impl PhaseBlock<'_> {
    /// The value, the phase gradient, the unit-modulus phases `U = [e^{j phi_{i,l}}]` and
    /// `E U` with `E = F F^H - W` (`F = U diag(amplitude)`, so `G = E F = (E U)
    /// diag(amplitude)`): what the joint polish needs besides, without recomputing `E`.
    fn evaluate(&self, x: &[f64]) -> (f64, Vec<f64>, Mat<C64>, Mat<C64>) {
        let nb = self.nb;
        let u = Mat::from_fn(nb, self.amplitude.len(), |i, l| {
            C64::from_polar(1.0, x[l * nb + i])
        });
        let f = Mat::from_fn(nb, self.amplitude.len(), |i, l| {
            u[(i, l)] * self.amplitude[l]
        });
        let e = &f * f.adjoint() - self.w;
        let mut value = 0.0;
        for r in 0..nb {
            for c in 0..nb {
                value += e[(r, c)].norm_sqr();
            }
        }
        let eu = &e * &u;
        let mut grad = vec![0.0; x.len()];
        for l in 0..self.amplitude.len() {
            for i in 0..nb {
                // G_il conj(F_il) = (E U)_il conj(U_il) amplitude_l^2
                let a2 = self.amplitude[l] * self.amplitude[l];
                grad[l * nb + i] = 4.0 * a2 * (eu[(i, l)] * u[(i, l)].conj()).im;
            }
        }
        (value, grad, u, eu)
    }
}

impl Smooth for PhaseBlock<'_> {
    fn value_and_gradient(&self, x: &[f64]) -> (f64, Vec<f64>) {
        let (value, grad, _, _) = self.evaluate(x);
        (value, grad)
    }
}

/// The joint polish after Algorithm 1: (23a) / p0^2 over the phases and the powers
/// together, `rho_l = p0 s_l^2 / sum_m s_m^2` (the simplex without constraints), with
/// `d/d rho_l ||F F^H - W||^2 = 2 a_l^H (F F^H - W) a_l` (`a_l` the unit-norm beam) and the
/// chain rule `d/d s_m = (2 p0 s_m / S) (g_m - sum_l g_l rho_l / p0)`, `S = sum s^2`.
/// `x = [phases (N_B L), s (L)]`.
struct JointBlock<'a> {
    w: &'a Mat<C64>,
    nb: usize,
    l: usize,
}

impl Smooth for JointBlock<'_> {
    fn value_and_gradient(&self, x: &[f64]) -> (f64, Vec<f64>) {
        let (nb, l) = (self.nb, self.l);
        let (phases, sv) = x.split_at(nb * l);
        let total: f64 = sv.iter().map(|v| v * v).sum();
        // powers normalised by p0 (the objective is (23a) / p0^2 up to its constant)
        let rho: Vec<f64> = sv.iter().map(|v| v * v / total).collect();
        let block = PhaseBlock {
            amplitude: rho.iter().map(|r| (r / nb as f64).sqrt()).collect(),
            w: self.w,
            nb,
        };
        let (value, mut grad, u, eu) = block.evaluate(phases);
        // g_l = 2 a_l^H E a_l with a_l = u_l / sqrt(N_B)
        let g: Vec<f64> = (0..l)
            .map(|c| {
                2.0 / nb as f64
                    * (0..nb)
                        .map(|i| (u[(i, c)].conj() * eu[(i, c)]).re)
                        .sum::<f64>()
            })
            .collect();
        let mean: f64 = g.iter().zip(&rho).map(|(gi, ri)| gi * ri).sum();
        grad.extend(
            sv.iter()
                .zip(&g)
                .map(|(v, gi)| 2.0 * v / total * (gi - mean)),
        );
        (value, grad)
    }
}

/// Algorithm 1: one AO iteration = the power block (25) exactly, then the phase block (26)
/// by L-BFGS.
struct AnalogFdb<'a> {
    /// `W` (W) and `W / p0`.
    w: &'a Mat<C64>,
    w_normalized: Mat<C64>,
    /// `c / p0^2` of the module doc: `(23a) / p0^2 = ||F F^H - W||^2 / p0^2 + c / p0^2`.
    constant: f64,
    p0: f64,
    nb: usize,
    settings: &'a SolverSettings,
}

/// `(rho, phases)`.
type AoState = (Vec<f64>, Vec<f64>);

impl AnalogFdb<'_> {
    fn objective(&self, rho: &[f64], phases: &[f64]) -> f64 {
        self.block(rho).value_and_gradient(phases).0 + self.constant
    }
    fn block(&self, rho: &[f64]) -> PhaseBlock<'_> {
        PhaseBlock {
            amplitude: rho
                .iter()
                .map(|r| (r.max(0.0) / (self.nb as f64 * self.p0)).sqrt())
                .collect(),
            w: &self.w_normalized,
            nb: self.nb,
        }
    }
}

impl IterativeAlgorithm for AnalogFdb<'_> {
    type State = AoState;

    fn step(&mut self, (rho, phases): &AoState, _k: usize) -> Result<Step<AoState>> {
        let nb = self.nb;
        let l = rho.len();
        // (25): the exact simplex QP over the current unit-norm analog beams
        let a = Mat::from_fn(nb, l, |i, c| {
            C64::from_polar(1.0 / (nb as f64).sqrt(), phases[c * nb + i])
        });
        let before = self.objective(rho, phases);
        let (mut fit, _) = codebook_covariance_fit(&a, self.w, self.p0, self.settings)?;
        let total: f64 = fit.iter().sum();
        if total > 0.0 {
            fit.iter_mut().for_each(|r| *r *= self.p0 / total);
        }
        let after = self.objective(&fit, phases);
        let rho = if after <= before { fit } else { rho.clone() };
        let power_objective = after.min(before);
        // (26): L-BFGS on the angles
        let block = self.block(&rho);
        let m = smooth::minimize(&block, phases.clone(), &PHASE_BLOCK);
        let (phases, objective) = if m.value + self.constant <= power_objective {
            (m.x, m.value + self.constant)
        } else {
            (phases.clone(), power_objective)
        };
        let mut step = Step::new((rho, phases), objective);
        step.metrics
            .push(("power_block_objective".into(), power_objective));
        step.metrics
            .push(("phase_iterations".into(), m.iterations as f64));
        Ok(step)
    }
}

/// The guiding covariances of the FDB schemes, `V_bar` and `V_under` (W): the FDB-WCRB
/// designs at `alpha = 1` and 0 (reduced program), as for FDB-WCM.
fn fdb_guides(model: &BpmsModel, settings: &SolverSettings) -> Result<(Mat<C64>, Mat<C64>)> {
    let g = mismatch::guides(model, false, settings)?;
    let u = model.codebook();
    Ok((&u * &g.bar * u.adjoint(), &u * &g.under * u.adjoint()))
}

/// The starting phases of start `s` (`N_B x L`, uniform in `[0, 2 pi)`).
pub fn start_phases(seed: u64, s: usize, nb: usize, l: usize) -> Mat<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(seed ^ START_STREAM) ^ s as u64);
    let mut m = Mat::zeros(nb, l);
    for c in 0..l {
        for r in 0..nb {
            m[(r, c)] = rng.gen_range(0.0..2.0 * PI);
        }
    }
    m
}

/// Runs Algorithm 1 from the given starting phases (`N_B x L`) towards `W`; returns
/// `(rho, phases, history)`.
pub fn algorithm1(
    w: &Mat<C64>,
    constant: f64,
    p0: f64,
    start: &Mat<f64>,
    settings: &AnalogSettings,
    solver: &SolverSettings,
) -> iterate::IterationResult<AoState> {
    let (nb, l) = (start.nrows(), start.ncols());
    let mut alg = AnalogFdb {
        w,
        w_normalized: w * faer::Scale(C64::new(1.0 / p0, 0.0)),
        constant,
        p0,
        nb,
        settings: solver,
    };
    let phases: Vec<f64> = (0..l)
        .flat_map(|c| (0..nb).map(move |r| (r, c)))
        .map(|(r, c)| start[(r, c)])
        .collect();
    let rho = vec![p0 / l as f64; l];
    let initial = alg.objective(&rho, &phases);
    let rule = StoppingRule {
        max_iterations: settings.ao_iterations,
        rel_tol: settings.tolerance,
        ..StoppingRule::default()
    };
    let mut run = iterate::run(&mut alg, (rho, phases), initial, &rule);
    // the joint polish: block coordinate descent creeps along valleys that couple the
    // powers and the phases; L-BFGS over both from the AO's point moves along them
    let (rho, phases) = &run.state;
    let mut x = phases.clone();
    x.extend(rho.iter().map(|r| (r.max(0.0) / p0).sqrt()));
    let joint = JointBlock {
        w: &alg.w_normalized,
        nb,
        l,
    };
    let options = LbfgsOptions {
        max_iterations: 2000,
        ..PHASE_BLOCK
    };
    let m = smooth::minimize(&joint, x, &options);
    let value = m.value + constant;
    if value < run.objective {
        let (phases, sv) = m.x.split_at(nb * l);
        let total: f64 = sv.iter().map(|v| v * v).sum();
        let rho: Vec<f64> = sv.iter().map(|v| p0 * v * v / total).collect();
        let objective = alg.objective(&rho, phases);
        if objective < run.objective {
            run.state = (rho, phases.to_vec());
            run.objective = objective;
            let k = run.history.last().map_or(0, |r| r.iteration) + 1;
            let seconds = run.history.last().map_or(0.0, |r| r.seconds);
            run.history.push(iterate::IterationRecord {
                iteration: k,
                objective,
                metrics: vec![("joint_polish_iterations".into(), m.iterations as f64)],
                seconds,
                fired: vec![],
                stop: None,
            });
        }
    }
    run
}

/// The analog FDB design at weight `alpha` (module doc).
pub fn analog_fdb(
    model: &BpmsModel,
    alpha: f64,
    settings: &AnalogSettings,
    solver: &SolverSettings,
) -> Result<WcrbDesign> {
    let started = Instant::now();
    let s = &model.scenario;
    let (nb, l) = (s.bs_antennas, s.slots);
    let p0 = model.power_budget();
    let (v_bar, v_under) = fdb_guides(model, solver)?;
    let w = &v_bar * faer::Scale(C64::new(alpha, 0.0))
        + &v_under * faer::Scale(C64::new(1.0 - alpha, 0.0));
    let sq = |m: &Mat<C64>| {
        let mut t = 0.0;
        for r in 0..nb {
            for c in 0..nb {
                t += m[(r, c)].norm_sqr();
            }
        }
        t / (p0 * p0)
    };
    let constant = alpha * sq(&v_bar) + (1.0 - alpha) * sq(&v_under) - sq(&w);
    let starts: Vec<Mat<f64>> = (0..settings.starts.max(1))
        .map(|i| start_phases(settings.seed, i, nb, l))
        .collect();
    // the starts are independent: one per core, results in start order
    let runs: Vec<_> = starts
        .par_iter()
        .map(|st| algorithm1(&w, constant, p0, st, settings, solver))
        .collect();
    let mut best = 0;
    for (i, r) in runs.iter().enumerate() {
        if r.objective < runs[best].objective {
            best = i;
        }
    }
    if let StopReason::Failed(e) = &runs[best].reason {
        if runs[best].iterations() == 0 {
            return Err(IsacError::Numerical(format!("analog FDB: {e}")));
        }
    }
    let run = &runs[best];
    let (rho, phases) = &run.state;
    let f = analog_beamformers(rho, phases, nb);
    let info_starts: Vec<AnalogStart> = starts
        .into_iter()
        .zip(&runs)
        .map(|(phases, r)| AnalogStart {
            phases,
            objective: r.objective,
            iterations: r.iterations(),
            converged: r.reason.converged(),
        })
        .collect();
    let note = format!(
        "Algorithm 1 (exact power QP + L-BFGS phases), best of {} starts, {} AO iterations, {}",
        info_starts.len(),
        run.iterations(),
        run.reason
    );
    let status = match &run.reason {
        r if r.converged() => DesignStatus::solved(note),
        StopReason::MaxIterations => DesignStatus::MaxIterations { note },
        other => DesignStatus::Stalled {
            reason: other.to_string(),
        },
    };
    let info = AnalogInfo {
        mismatch: f64::NAN,
        history: run
            .history
            .iter()
            .map(|r| (r.iteration, r.objective))
            .collect(),
        iterations: run.iterations(),
        starts: info_starts,
        codebook: None,
        fit_residuals: vec![],
        guides: (v_bar, v_under),
        digital_objective: f64::NAN,
        modulus_spread: f64::NAN,
        power_error: f64::NAN,
    };
    finish(
        model,
        alpha,
        f,
        status,
        info,
        Structure::Full,
        solver,
        started,
    )
}

/// Gradient projection for (27): `min_x (x - d)^H M (x - d)` over equal-amplitude `x`.
struct CodewordFit<'a> {
    m: &'a Mat<C64>,
    d: &'a [C64],
    step: f64,
}

/// `{A e^{j phi}: A >= 0}`'s nearest point: `A = mean |z_i|`, `phi_i = arg z_i`.
fn project_equal_modulus(z: &[C64]) -> Vec<C64> {
    let a = z.iter().map(|x| x.norm()).sum::<f64>() / z.len() as f64;
    z.iter()
        .map(|x| C64::from_polar(a, if x.norm() > 0.0 { x.arg() } else { 0.0 }))
        .collect()
}

impl CodewordFit<'_> {
    fn residual(&self, x: &[C64]) -> (f64, Vec<C64>) {
        let e: Vec<C64> = x.iter().zip(self.d).map(|(a, b)| a - b).collect();
        let n = e.len();
        let me: Vec<C64> = (0..n)
            .map(|r| (0..n).map(|c| self.m[(r, c)] * e[c]).sum())
            .collect();
        let value: f64 = e.iter().zip(&me).map(|(a, b)| (a.conj() * b).re).sum();
        (value, me)
    }
}

impl IterativeAlgorithm for CodewordFit<'_> {
    type State = Vec<C64>;
    fn step(&mut self, x: &Vec<C64>, _k: usize) -> Result<Step<Vec<C64>>> {
        let (value, grad) = self.residual(x);
        let z: Vec<C64> = x
            .iter()
            .zip(&grad)
            .map(|(a, g)| a - g * self.step)
            .collect();
        let next = project_equal_modulus(&z);
        let (nv, _) = self.residual(&next);
        // projected gradient with step 1/L on a closed set never increases the objective;
        // guard against rounding
        Ok(if nv <= value {
            Step::new(next, nv)
        } else {
            let mut s = Step::new(x.clone(), value);
            s.done = true;
            s
        })
    }
}

/// The analog codebook `U~` of (27) and the relative fit residual of each analog
/// derivative codeword.
pub fn analog_codebook(model: &BpmsModel, angles: usize) -> Result<(Mat<C64>, Vec<f64>)> {
    let nb = model.scenario.bs_antennas;
    let n = model.targets() + 1;
    // M = T^H T = sum_i a(theta_i) a(theta_i)^H over the grid
    let mut m = Mat::<C64>::zeros(nb, nb);
    for i in 0..angles {
        let a = model
            .bs_array
            .steering(-PI / 2.0 + i as f64 * PI / angles as f64);
        for r in 0..nb {
            for c in 0..nb {
                m[(r, c)] += a[r] * a[c].conj();
            }
        }
    }
    let (vals, _) = hermitian_eigen(&m)
        .ok_or_else(|| IsacError::Numerical("eigendecomposition of T^H T failed".into()))?;
    let lmax = vals.iter().cloned().fold(0.0, f64::max);
    let digital = model.codebook();
    let mut u = Mat::<C64>::zeros(nb, 2 * n);
    let mut residuals = vec![];
    for k in 0..n {
        for r in 0..nb {
            u[(r, k)] = digital[(r, k)];
        }
        let d: Vec<C64> = (0..nb).map(|r| digital[(r, n + k)]).collect();
        let mut fit = CodewordFit {
            m: &m,
            d: &d,
            step: 1.0 / lmax,
        };
        let x0 = project_equal_modulus(&d);
        let v0 = fit.residual(&x0).0;
        let rule = StoppingRule {
            max_iterations: 20_000,
            rel_tol: 1e-12,
            ..StoppingRule::default()
        };
        let r = iterate::run(&mut fit, x0, v0, &rule);
        // ||T da||^2 = da^H T^H T da
        let reference = bilinear(&d, &m, &d).re;
        residuals.push(r.objective / reference);
        for (row, x) in r.state.iter().enumerate() {
            u[(row, n + k)] = *x;
        }
    }
    Ok((u, residuals))
}

/// The analog CPA design at weight `alpha` (module doc).
pub fn analog_cpa(
    model: &BpmsModel,
    alpha: f64,
    settings: &AnalogSettings,
    solver: &SolverSettings,
) -> Result<WcrbDesign> {
    let started = Instant::now();
    let s = &model.scenario;
    let n = 2 * (model.targets() + 1);
    if s.slots < n {
        return Err(IsacError::input(
            "slots",
            format!(
                "analog CPA transmits one beam per codeword: needs L >= 2K + 2 = {n}, got {}",
                s.slots
            ),
        ));
    }
    let (u, fit_residuals) = analog_codebook(model, settings.codebook_angles)?;
    let mut analog = model.clone();
    analog.analog_codebook = Some(u.clone());
    let g = mismatch::guides(&analog, true, solver)?;
    let guides = (&u * &g.bar * u.adjoint(), &u * &g.under * u.adjoint());
    let design = if settings.cpa_wcrb {
        wcrb(&analog, alpha, false, Structure::Codebook, solver)?
    } else {
        mismatch::mismatch(
            &analog,
            Mismatch::Covariance,
            true,
            alpha,
            &g,
            Method::ClosedForm,
            solver,
        )?
        .0
    };
    // F = U~ diag(sqrt rho): one analog beam per codeword (zero columns up to L)
    let mut rho = design
        .power_allocation
        .clone()
        .ok_or_else(|| IsacError::Numerical("analog CPA: no power allocation".into()))?;
    // the full budget exactly (the solver's point is within ~1e-8; more power never
    // raises a CRB)
    let power: f64 = (0..n)
        .map(|c| {
            rho[c].max(0.0)
                * (0..s.bs_antennas)
                    .map(|r| u[(r, c)].norm_sqr())
                    .sum::<f64>()
        })
        .sum();
    if power > 0.0 {
        rho.iter_mut()
            .for_each(|x| *x = x.max(0.0) * model.power_budget() / power);
    }
    let f = Mat::from_fn(s.bs_antennas, s.slots, |r, c| {
        if c < n {
            u[(r, c)] * rho[c].max(0.0).sqrt()
        } else {
            C64::new(0.0, 0.0)
        }
    });
    let worst_fit = fit_residuals.iter().cloned().fold(0.0, f64::max);
    let status = if design.status.has_checked_design() {
        DesignStatus::solved(format!(
            "analog codebook (27) by gradient projection over {} angles (worst relative fit residual {worst_fit:.3e}), {} power allocation",
            settings.codebook_angles,
            if settings.cpa_wcrb { "CPA-WCRB (16)" } else { "CPA-WCM" }
        ))
    } else {
        design.status.clone()
    };
    let info = AnalogInfo {
        mismatch: f64::NAN,
        history: vec![],
        iterations: 0,
        starts: vec![],
        codebook: Some(u),
        fit_residuals,
        guides,
        digital_objective: f64::NAN,
        modulus_spread: f64::NAN,
        power_error: f64::NAN,
    };
    let mut out = finish(
        model,
        alpha,
        f,
        status,
        info,
        Structure::Codebook,
        solver,
        started,
    )?;
    out.power_allocation = Some(rho);
    Ok(out)
}

/// The shared end of both analog designs: the re-check of the module doc.
#[allow(clippy::too_many_arguments)]
fn finish(
    model: &BpmsModel,
    alpha: f64,
    f: Mat<C64>,
    mut status: DesignStatus,
    mut info: AnalogInfo,
    structure: Structure,
    solver: &SolverSettings,
    started: Instant,
) -> Result<WcrbDesign> {
    let p0 = model.power_budget();
    let v = &f * f.adjoint();
    let bounds = model.bounds(&v);
    let objective = weighted_objective(&bounds, alpha, false);
    let digital = wcrb(model, alpha, false, Structure::Reduced, solver)?;
    let (spread, power_error) = analog_structure(&f, p0);
    info.mismatch = mismatch_objective(&v, &info.guides.0, &info.guides.1, alpha, p0);
    info.digital_objective = digital.solver_objective;
    info.modulus_spread = spread;
    info.power_error = power_error;
    if status.has_checked_design() {
        if spread > ANALOG_TOL || power_error > ANALOG_TOL {
            status = DesignStatus::inaccurate(
                format!("analog structure violated: amplitude spread {spread:.2e}, power error {power_error:.2e}"),
                Some(spread.max(power_error)),
            );
        } else if !objective.is_finite() {
            status = DesignStatus::inaccurate("the design's FIM is singular", None);
        } else if objective < info.digital_objective * (1.0 - BOUND_TOL) {
            status = DesignStatus::inaccurate(
                format!(
                    "weighted CRB {objective:.6e} below the digital optimum {:.6e}",
                    info.digital_objective
                ),
                None,
            );
        }
    }
    let (_, rank) = beamformers(&v, f.ncols())?;
    Ok(WcrbDesign {
        status,
        structure,
        alpha,
        fused: false,
        covariance: Some(v),
        beamformers: Some(f),
        power_allocation: None,
        bounds: Some(bounds),
        objective,
        solver_objective: f64::NAN,
        solver_iterations: 0,
        dimension: rank,
        seconds: started.elapsed().as_secs_f64(),
        analog: Some(Box::new(info)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_hermitian_psd(n: usize, rank: usize, seed: u64) -> Mat<C64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let g = Mat::from_fn(n, rank, |_, _| {
            C64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0))
        });
        &g * g.adjoint()
    }

    #[test]
    fn joint_gradient_matches_central_differences() {
        let (nb, l) = (5, 3);
        let w = random_hermitian_psd(nb, 2, 9);
        let block = JointBlock { w: &w, nb, l };
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let x: Vec<f64> = (0..nb * l + l).map(|_| rng.gen_range(0.2..3.0)).collect();
        let err = smooth::gradient_error(&block, &x, 1e-6);
        assert!(err < 1e-7, "{err:e}");
    }

    #[test]
    fn phase_gradient_matches_central_differences() {
        let (nb, l) = (5, 3);
        let w = random_hermitian_psd(nb, 2, 7);
        let block = PhaseBlock {
            amplitude: vec![0.3, 0.5, 0.2],
            w: &w,
            nb,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let x: Vec<f64> = (0..nb * l).map(|_| rng.gen_range(0.0..6.0)).collect();
        let err = smooth::gradient_error(&block, &x, 1e-6);
        assert!(err < 1e-7, "{err:e}");
    }

    #[test]
    fn block_objective_plus_constant_is_the_printed_mismatch() {
        // (23a) computed from ||F F^H - V_bar||, ||F F^H - V_under|| directly equals the
        // phase block's ||F F^H - W||^2 plus the constant c of the module doc
        let (nb, l, p0, alpha) = (6, 4, 2.5, 0.3);
        let v_bar = random_hermitian_psd(nb, 2, 1);
        let v_under = random_hermitian_psd(nb, 3, 2);
        let w = &v_bar * faer::Scale(C64::new(alpha, 0.0))
            + &v_under * faer::Scale(C64::new(1.0 - alpha, 0.0));
        let sq = |m: &Mat<C64>| {
            (0..nb)
                .flat_map(|r| (0..nb).map(move |c| (r, c)))
                .map(|(r, c)| m[(r, c)].norm_sqr())
                .sum::<f64>()
                / (p0 * p0)
        };
        let constant = alpha * sq(&v_bar) + (1.0 - alpha) * sq(&v_under) - sq(&w);
        let solver = SolverSettings::default();
        let alg = AnalogFdb {
            w: &w,
            w_normalized: &w * faer::Scale(C64::new(1.0 / p0, 0.0)),
            constant,
            p0,
            nb,
            settings: &solver,
        };
        let rho = vec![1.0, 0.5, 0.25, 0.75];
        let phases: Vec<f64> = (0..nb * l).map(|i| (i as f64 * 0.7).sin() * 3.0).collect();
        let f = analog_beamformers(&rho, &phases, nb);
        let direct = mismatch_objective(&(&f * f.adjoint()), &v_bar, &v_under, alpha, p0);
        let via_block = alg.objective(&rho, &phases);
        assert!(
            (direct - via_block).abs() < 1e-12 * direct.abs().max(1.0),
            "{direct} vs {via_block}"
        );
    }

    #[test]
    fn algorithm1_is_monotone_and_reaches_an_analog_target_exactly() {
        // W = F0 F0^H of an analog F0: the optimum is 0; every AO step non-increasing
        let (nb, l, p0) = (6, 3, 1.0);
        let rho0 = [0.5, 0.3, 0.2];
        let phi0: Vec<f64> = (0..nb * l).map(|i| (i as f64 * 1.3).cos() * 3.0).collect();
        let f0 = analog_beamformers(&rho0, &phi0, nb);
        let w = &f0 * f0.adjoint();
        let settings = AnalogSettings {
            starts: 1,
            ao_iterations: 200,
            tolerance: 1e-12,
            codebook_angles: 64,
            cpa_wcrb: false,
            seed: 1,
        };
        // start near F0's phases
        let start = Mat::from_fn(nb, l, |r, c| {
            phi0[c * nb + r] + 0.2 * ((r + c) as f64).sin()
        });
        let run = algorithm1(&w, 0.0, p0, &start, &settings, &SolverSettings::default());
        for pair in run.history.windows(2) {
            assert!(pair[1].objective <= pair[0].objective * (1.0 + 1e-9) + 1e-15);
        }
        assert!(run.objective < 1e-10, "objective {:.3e}", run.objective);
    }

    #[test]
    fn projection_onto_equal_modulus_is_the_nearest_point() {
        let z = vec![C64::new(1.0, 2.0), C64::new(-0.5, 0.1), C64::new(0.0, -3.0)];
        let p = project_equal_modulus(&z);
        let d = |x: &[C64]| -> f64 { x.iter().zip(&z).map(|(a, b)| (a - b).norm_sqr()).sum() };
        let best = d(&p);
        // no other amplitude or phase perturbation is closer
        for k in 0..200 {
            let a = 0.5 + k as f64 * 0.01;
            let q: Vec<C64> = z.iter().map(|x| C64::from_polar(a, x.arg())).collect();
            assert!(d(&q) >= best - 1e-12);
        }
        let q: Vec<C64> = p.iter().map(|x| x * C64::from_polar(1.0, 0.01)).collect();
        assert!(d(&q) >= best);
    }
}
