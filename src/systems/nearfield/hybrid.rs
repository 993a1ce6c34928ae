//! Hybrid analog–digital downlink designs (near-field-ispac.md, Section III-B to III-E):
//! the MT transmits through a partially connected analog stage `F` (`N_a x N_RF`, (1))
//! and digital precoders `W` and a probing covariance `R_d` in the RF domain.
//!
//! # The digital block for a fixed analog stage (exact)
//! With `F` fixed (`F^H F = I`, `src/physics/hybrid.rs`), every quantity of (32) depends on
//! the RF-domain covariance `R~_x = W W^H + R_d` (`N_RF x N_RF`) through
//! `v^T F R~_x F^H v^* = (F^T v)^T R~_x (F^T v)^*` for the transmit vectors
//! `v = q, dq/dtheta, dq/dr` and the users' `h_k`, and the power is
//! `tr(F R~_x F^H) = tr R~_x`. So the digital block is the fully digital program of
//! [`super::design`] on the effective vectors `F^T v` (`h~_k = F^T h_k` as in (37)): the
//! paper's subproblem (38) without its augmented-Lagrangian term, solved exactly (its SDR
//! is tight by (39)). [`digital_for_analog`] solves it and lifts the answer back:
//! `W = F W~`, `R_d = F R~_d F^H`.
//!
//! # An analog stage from the fully digital optimum (`method = "altmin"`)
//! The fully digital optimum `R_FD` (the bound of every hybrid design) is approximated by
//! `F D` in the factor sense: with `A` the `N_RF` strongest eigen-directions of `R_FD`
//! scaled by their root eigenvalues, alternate
//!
//! ```text
//!   D = F^H A                                  (least squares: F^H F = I)
//!   f_n = exp(j arg(A_n d_{m(n)}^H))           (phase of antenna n, block m(n))
//! ```
//!
//! each step minimising `||A - F D||_F` over its block exactly (the second separates over
//! the antennas), so the fit never worsens (checked by the iteration driver). This is the
//! alternating minimisation of Yu, Shen, Zhang and Letaief (IEEE JSTSP 2016, Sec. V) for
//! partially connected arrays, here applied to the covariance factor; the digital block
//! is then solved exactly for the final `F`.
//!
//! # Re-check (every hybrid design)
//! From the returned matrices alone: the structure of `F` (zeros outside the blocks,
//! modulus `1/sqrt(M)`), the power `tr(F R~_x F^H)`, every user's SINR (12) on the true
//! channels and the CRB from `R_x = F R~_x F^H`; a violation beyond [`HYBRID_TOL`] makes
//! the status `inaccurate` with the numbers.

use super::design::{fully_digital, trace_re, DigitalDesign};
use super::model::{Bound, NearfieldModel};
use super::scenario::Mode;
use crate::conic::SolverSettings;
use crate::error::{IsacError, Result};
use crate::iterate::{self, IterationRecord, IterativeAlgorithm, Step, StopReason, StoppingRule};
use crate::linalg::hermitian_eigen;
use crate::physics::hybrid::{PartiallyConnected, StructureViolation};
use crate::status::DesignStatus;
use crate::C64;
use faer::Mat;
use std::time::Instant;

/// Relative tolerance of the hybrid re-check (structure, power, SINRs).
pub const HYBRID_TOL: f64 = 1e-6;

/// A hybrid downlink design with its re-checked metrics.
#[derive(Debug, Clone)]
pub struct HybridDesign {
    pub status: DesignStatus,
    /// `F` (`N_a x N_RF`).
    pub analog: Mat<C64>,
    /// The digital block in the RF domain (`W~`, `R~_d`, solved on `F^T v`).
    pub digital: DigitalDesign,
    /// `W = F W~` (`N_a x K`).
    pub precoders: Option<Mat<C64>>,
    /// `R_d = F R~_d F^H` (`N_a x N_a`).
    pub sensing_covariance: Option<Mat<C64>>,
    /// `R_x = W W^H + R_d` (`N_a x N_a`).
    pub transmit_covariance: Option<Mat<C64>>,
    /// Re-computed on the true model from `R_x`.
    pub bound: Option<Bound>,
    /// Re-computed SINRs (linear) on the true channels.
    pub sinr: Option<Vec<f64>>,
    /// Re-computed transmit power, W.
    pub power: Option<f64>,
    /// How far `F` is from the structure (1).
    pub structure: StructureViolation,
    /// The analog stage's iterations (empty for a given `F`).
    pub history: Vec<IterationRecord>,
    pub iterations: usize,
    pub seconds: f64,
}

impl HybridDesign {
    /// The design in the antenna domain (`W = F W~`, `R_d = F R~_d F^H`), in the shape of a
    /// fully digital design, for the metrics shared by every architecture.
    pub fn antenna_view(&self) -> DigitalDesign {
        let mut d = self.digital.clone();
        d.status = self.status.clone();
        d.bound = self.bound.clone();
        d.transmit_covariance = self.transmit_covariance.clone();
        d.digital = self.precoders.clone();
        d.sensing_covariance = self.sensing_covariance.clone();
        d.sinr = self.sinr.clone();
        d.power = self.power;
        d.solve_seconds = self.seconds;
        d
    }
}

/// The fully digital bound of `tr CRB`: the smaller of the design's re-computed value and
/// the program's optimum. They differ when the fully digital design is `solved` with its
/// SINR targets raised to absorb the solver's error (design.rs): its CRB is then above the
/// program's optimum, and a hybrid design solved with a smaller margin may land between
/// the two (measured: 0.3 % below the design's CRB, never below the program's optimum).
pub fn digital_bound(fd: &DigitalDesign) -> Option<f64> {
    let design = fd.bound.as_ref().and_then(|b| b.trace());
    match (design, fd.solver_objective.filter(|x| x.is_finite())) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The structure of `analog` under `arch` (bad input when the shape is wrong).
fn checked_structure(arch: PartiallyConnected, analog: &Mat<C64>) -> Result<StructureViolation> {
    arch.check(analog).ok_or_else(|| {
        IsacError::input(
            "analog",
            format!(
                "F must be {} x {} (N_a x N_RF), got {} x {}",
                arch.antennas,
                arch.rf_chains,
                analog.nrows(),
                analog.ncols()
            ),
        )
    })
}

impl HybridDesign {
    /// A hybrid design for the analog stage `analog` and its digital block `digital`,
    /// before the re-check: the digital block's status (an infeasible block is
    /// infeasible "through this analog stage"), no lifted matrices yet.
    pub fn for_block(
        arch: PartiallyConnected,
        analog: &Mat<C64>,
        digital: DigitalDesign,
    ) -> Result<Self> {
        let structure = checked_structure(arch, analog)?;
        let status = match &digital.status {
            DesignStatus::Infeasible { reason, certified } => {
                DesignStatus::infeasible(format!("through this analog stage: {reason}"), *certified)
            }
            other => other.clone(),
        };
        Ok(HybridDesign {
            status,
            analog: analog.clone(),
            digital,
            precoders: None,
            sensing_covariance: None,
            transmit_covariance: None,
            bound: None,
            sinr: None,
            power: None,
            structure,
            history: vec![],
            iterations: 0,
            seconds: 0.0,
        })
    }

    /// The re-check of a lifted design (module doc): the structure of `F`, the power
    /// and every SINR on the true channels against [`HYBRID_TOL`]; `solved` with `note`
    /// when all hold, else `inaccurate` with the numbers.
    pub fn recheck(&mut self, model: &NearfieldModel, power: f64, sinr: Vec<f64>, note: &str) {
        let s = &model.scenario;
        let mut problems = vec![];
        if self.structure.worst() > HYBRID_TOL {
            problems.push(format!(
                "F off the partially connected structure by {:.2e}",
                self.structure.worst()
            ));
        }
        if !(power <= s.power * (1.0 + HYBRID_TOL)) {
            problems.push(format!(
                "power {power:e} W above the budget {:e} W",
                s.power
            ));
        }
        let worst = sinr.iter().cloned().fold(f64::INFINITY, f64::min);
        if !(worst >= s.min_sinr * (1.0 - HYBRID_TOL)) {
            problems.push(format!(
                "SINR {worst:e} below the target {:e} on the true channels",
                s.min_sinr
            ));
        }
        // a design for one analog stage: its digital block is that stage's optimum, the
        // whole a heuristic's design
        self.status = if problems.is_empty() {
            DesignStatus::solved(note)
        } else {
            DesignStatus::inaccurate(problems.join("; "), None)
        };
        self.sinr = Some(sinr);
        self.power = Some(power);
    }
}

/// The model seen through the analog stage: transmit vectors `F^T v` and user channels
/// `F^T h_k`, an `N_RF`-antenna fully digital MT (downlink only).
pub fn effective_model(model: &NearfieldModel, analog: &Mat<C64>) -> Result<NearfieldModel> {
    if model.scenario.mode != Mode::Downlink {
        return Err(IsacError::input(
            "mode",
            "the effective model is the downlink's (the uplink through F is `uplink::exact_block`)",
        ));
    }
    let na = model.scenario.mt.elements;
    if analog.nrows() != na {
        return Err(IsacError::input(
            "analog",
            format!("F has {} rows for N_a = {na} antennas", analog.nrows()),
        ));
    }
    let through = |v: &[C64]| -> Vec<C64> {
        (0..analog.ncols())
            .map(|c| (0..na).map(|n| analog[(n, c)] * v[n]).sum())
            .collect()
    };
    let mut eff = model.clone();
    eff.mt_response.value = through(&model.mt_response.value);
    eff.mt_response.d_angle = through(&model.mt_response.d_angle);
    eff.mt_response.d_distance = through(&model.mt_response.d_distance);
    eff.user_channels = model.user_channels.iter().map(|h| through(h)).collect();
    eff.far_user_channels = model
        .far_user_channels
        .as_ref()
        .map(|hs| hs.iter().map(|h| through(h)).collect());
    eff.scenario.mt.elements = analog.ncols();
    Ok(eff)
}

/// The exact digital block for the analog stage `analog`, lifted to the antennas and
/// re-checked on the true model (module doc).
pub fn digital_for_analog(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    analog: &Mat<C64>,
    settings: &SolverSettings,
) -> Result<HybridDesign> {
    if model.scenario.mode == Mode::Uplink {
        // the uplink's digital block for a fixed combiner (super::uplink)
        return super::uplink::exact_block(model, arch, analog, settings);
    }
    let started = Instant::now();
    checked_structure(arch, analog)?;
    let eff = effective_model(model, analog)?;
    let digital = fully_digital(&eff, settings)?;
    let mut design = HybridDesign::for_block(arch, analog, digital.clone())?;
    if let (Some(w), Some(rd)) = (&digital.digital, &digital.sensing_covariance) {
        if digital.status.has_checked_design() {
            let w_full = analog * w;
            let rd_full = analog * rd * analog.adjoint();
            let rx = &(&w_full * w_full.adjoint()) + &rd_full;
            let sinr = model.downlink_sinr(&w_full, &rd_full);
            design.recheck(
                model,
                trace_re(&rx),
                sinr,
                "the digital block is optimal for this analog stage",
            );
            design.bound = Some(model.bound(&rx, None));
            design.precoders = Some(w_full);
            design.sensing_covariance = Some(rd_full);
            design.transmit_covariance = Some(rx);
        }
    }
    design.seconds = started.elapsed().as_secs_f64();
    Ok(design)
}

/// `A`: the `n` strongest eigen-directions of `r` scaled by their root eigenvalues.
fn covariance_factor(r: &Mat<C64>, n: usize) -> Result<Mat<C64>> {
    let (vals, vecs) = hermitian_eigen(r)
        .ok_or_else(|| IsacError::Numerical("eigendecomposition of R_FD failed".into()))?;
    let na = r.nrows();
    let n = n.min(na);
    Ok(Mat::from_fn(na, n, |row, c| {
        let k = na - 1 - c;
        vecs[(row, k)] * vals[k].max(0.0).sqrt()
    }))
}

/// The alternating fit of module doc, one step = the `D` update then the phase update.
struct AltMin<'a> {
    arch: PartiallyConnected,
    target: &'a Mat<C64>,
}

impl AltMin<'_> {
    fn misfit(&self, f: &Mat<C64>) -> f64 {
        let d = f.adjoint() * self.target;
        let r = self.target - f * &d;
        let mut s = 0.0;
        for i in 0..r.nrows() {
            for j in 0..r.ncols() {
                s += r[(i, j)].norm_sqr();
            }
        }
        s
    }
}

impl IterativeAlgorithm for AltMin<'_> {
    type State = Mat<C64>;

    fn step(&mut self, f: &Mat<C64>, _k: usize) -> Result<Step<Mat<C64>>> {
        let a = self.target;
        let d = f.adjoint() * a;
        let shifters: Vec<C64> = (0..self.arch.antennas)
            .map(|n| {
                let m = self.arch.chain_of(n);
                let z: C64 = (0..a.ncols()).map(|j| a[(n, j)] * d[(m, j)].conj()).sum();
                if z.norm() > 0.0 {
                    z / z.norm()
                } else {
                    // no information on this antenna: keep its phase
                    let old = f[(n, m)];
                    if old.norm() > 0.0 {
                        old / old.norm()
                    } else {
                        C64::new(1.0, 0.0)
                    }
                }
            })
            .collect();
        let next = self.arch.analog(&shifters);
        let objective = self.misfit(&next);
        Ok(Step::new(next, objective))
    }
}

/// The analog stage fitted to the fully digital optimum `r_fd` (module doc), from the
/// analog start `start`; returns `F` and the driver's history.
pub fn fit_analog(
    arch: PartiallyConnected,
    r_fd: &Mat<C64>,
    start: &Mat<C64>,
    max_iterations: usize,
) -> Result<(Mat<C64>, Vec<IterationRecord>, StopReason)> {
    let target = covariance_factor(r_fd, arch.rf_chains)?;
    let mut alg = AltMin {
        arch,
        target: &target,
    };
    let rule = StoppingRule {
        max_iterations,
        rel_tol: 1e-9,
        abs_tol: 1e-30,
        monotone_tol: 1e-9,
        ..StoppingRule::default()
    };
    let start_misfit = alg.misfit(start);
    let run = iterate::run(&mut alg, start.clone(), start_misfit, &rule);
    if !run.non_monotone_steps.is_empty() {
        return Err(IsacError::Numerical(format!(
            "the analog fit worsened at steps {:?} (a bug: every step is an exact block minimum)",
            run.non_monotone_steps
        )));
    }
    Ok((run.state, run.history, run.reason))
}

/// The analog start: on each sub-array, the phases of the target's conjugate MT response
/// (beam steering towards the target), so that the target's echo is never lost.
pub fn steering_start(model: &NearfieldModel, arch: PartiallyConnected) -> Mat<C64> {
    let q = &model.mt_response.value;
    let f: Vec<C64> = q
        .iter()
        .map(|z| {
            if z.norm() > 0.0 {
                z.conj() / z.norm()
            } else {
                C64::new(1.0, 0.0)
            }
        })
        .collect();
    arch.analog(&f)
}

/// `method = "altmin"`: the fully digital optimum, the analog fit to it from the
/// steering start, the exact digital block; re-checked. The fully digital design is
/// returned beside (the bound the hybrid design is measured against).
pub fn altmin_design(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    max_iterations: usize,
    settings: &SolverSettings,
) -> Result<(HybridDesign, DigitalDesign)> {
    let started = Instant::now();
    let fd = fully_digital(model, settings)?;
    let Some(r_fd) = fd
        .transmit_covariance
        .as_ref()
        .filter(|_| fd.status.has_checked_design())
    else {
        // infeasible (or failed) fully digital: so is every hybrid design
        let mut d = digital_for_analog(model, arch, &steering_start(model, arch), settings)?;
        if matches!(fd.status, DesignStatus::Infeasible { .. }) {
            d.status = fd.status.clone();
        }
        d.seconds = started.elapsed().as_secs_f64();
        return Ok((d, fd));
    };
    let (f, history, _reason) =
        fit_analog(arch, r_fd, &steering_start(model, arch), max_iterations)?;
    let mut d = digital_for_analog(model, arch, &f, settings)?;
    if !d.status.has_checked_design() {
        // the fitted stage may lose too much gain towards a user: the fully digital
        // problem is feasible, so this is the heuristic's failure, not an answer
        d.status = DesignStatus::inaccurate(
            format!(
                "no feasible hybrid design found (the fully digital problem is feasible): {}",
                d.status.detail().unwrap_or(d.status.as_str())
            ),
            None,
        );
    }
    if let (DesignStatus::Solved { .. }, Some(hybrid), Some(bound)) = (
        &d.status,
        d.bound.as_ref().and_then(|b| b.trace()),
        digital_bound(&fd),
    ) {
        d.status = DesignStatus::solved(format!(
            "analog fit to the fully digital optimum ({} steps), digital block optimal for it; tr CRB {:.4} x the fully digital bound",
            history.len().saturating_sub(1),
            hybrid / bound
        ));
    }
    d.iterations = history.len().saturating_sub(1);
    d.history = history;
    d.seconds = started.elapsed().as_secs_f64();
    Ok((d, fd))
}

/// Scheme 1, far-field beamsteering (Section V-B 1)): the hybrid design computed on the
/// far-field user channels (72) — the CSI the baseline has; the target's (near-field)
/// sensing model is the same — and then evaluated, unchanged, on the true near-field
/// channels. The SINRs it actually delivers are re-computed there: a design meeting its
/// targets on the far-field channels may miss them on the true ones, and is then
/// `inaccurate` with the shortfall (its CRB is still reported). Returned beside: the
/// fully digital bound of the true model.
pub fn far_field_design(
    model: &NearfieldModel,
    design: impl Fn(&NearfieldModel) -> Result<(HybridDesign, DigitalDesign)>,
    settings: &SolverSettings,
) -> Result<(HybridDesign, DigitalDesign)> {
    let started = Instant::now();
    let far_channels = model.far_user_channels.clone().ok_or_else(|| {
        IsacError::input(
            "user_channels_re",
            "explicit user channels have no far-field counterpart (72): the far-field baseline needs drawn channels",
        )
    })?;
    let mut far = model.clone();
    far.user_channels = far_channels;
    far.far_user_channels = None;
    let (mut d, _) = design(&far)?;
    let bound = fully_digital(model, settings)?;
    if let (true, Some(w), Some(rd)) = (
        d.status.has_checked_design(),
        d.precoders.clone(),
        d.sensing_covariance.clone(),
    ) {
        let s = &model.scenario;
        // the design's beamformers unchanged on the true channels: precoders and R_d in
        // the downlink, the combiners F w_k and R_u in the uplink
        let sinr = match s.mode {
            Mode::Downlink => model.downlink_sinr(&w, &rd),
            Mode::Uplink => super::uplink::uplink_sinrs(model, &w, &rd),
        };
        let (worst_user, worst) =
            sinr.iter()
                .cloned()
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |a, (k, x)| if x < a.1 { (k, x) } else { a },
                );
        let ratio = d
            .bound
            .as_ref()
            .and_then(|b| b.trace())
            .zip(digital_bound(&bound))
            .map(|(a, b)| a / b);
        d.status = if worst >= s.min_sinr * (1.0 - HYBRID_TOL) {
            DesignStatus::solved(format!(
                "far-field design (CSI of (72)) meets every SINR target on the true near-field channels; tr CRB {:.4} x the fully digital bound",
                ratio.unwrap_or(f64::NAN)
            ))
        } else {
            DesignStatus::inaccurate(
                format!(
                    "designed on far-field CSI: user {} gets {:.2} dB on the true near-field channels, below the target {:.2} dB",
                    worst_user + 1,
                    10.0 * worst.log10(),
                    10.0 * s.min_sinr.log10()
                ),
                Some(1.0 - worst / s.min_sinr),
            )
        };
        d.sinr = Some(sinr);
    } else if matches!(bound.status, DesignStatus::Infeasible { .. }) {
        // the true problem is infeasible even fully digital: so is every design
        d.status = bound.status.clone();
    } else if !d.status.has_checked_design() {
        d.status = DesignStatus::inaccurate(
            format!(
                "no far-field design: {}",
                d.status.detail().unwrap_or(d.status.as_str())
            ),
            None,
        );
    }
    d.seconds = started.elapsed().as_secs_f64();
    Ok((d, bound))
}
