//! The hybrid uplink (near-field-ispac.md, Section IV-B to IV-E, Algorithms 4-6): the MT
//! receives the users and the target's echo through a partially connected analog
//! combiner `F` (`N_a x N_RF`, (1)), digital combiners `w_k` (`N_RF`), and the AT sends
//! the probing signal with covariance `R_u` (`N_b x N_b`).
//!
//! # Algorithm 6 (AO)
//! From `F` with random phases (line 1, seeded), alternate
//! 1. the block `{U, R_u, w_k}` for the current `F` (problem (56)), and
//! 2. the block `{U, F}` for the current `R_u, w_k` (problem (61)) by Algorithm 5 (PDD),
//!
//! until `tr CRB` decreases by less than `epsilon_6,AO` (relative). Every iterate is a
//! design that meets every SINR target (block 2 keeps the SINRs of the current `w_k`,
//! `R_u`), and the best one is returned. The history (Fig. 3) holds per AO iteration the
//! `tr CRB` after each block.
//!
//! # Block 1 exactly (`uplink_block = "exact"`, default)
//! For a fixed `F` (`F^H F = I`) the echo `F^H G R_u G^H F = |beta|^2 (b^T R_u b^*) F^H a
//! a^H F` has rank one, so with MMSE combiners the SINR constraints are the single
//! linear constraint `b^T R_u b^* <= s_max(F)` (`super::design`, module doc): block 1 is
//! the fully digital uplink program on the combined vectors `F^H a`, solved to
//! optimality ([`super::design::uplink_through`]).
//!
//! # Block 1 by Algorithm 4 (`uplink_block = "sca"`)
//! The paper's SCA (57)-(60) on `{U, R_u, W_k = w_k w_k^H}`, with two corrections (the
//! printed forms are kept in the docs, docs/nearfield.md#uplink):
//! - (57) counts the echo once, `w^H X w = tr(W_k X)` with `X = G^ R_u G^^H`; the text
//!   defines `Pi_k = 2 tr(W_k X)` and puts it in (57) and (60b), which counts it twice.
//!   Here `Pi_k = tr(W_k X)`.
//! - (59) is a convex upper bound of `Pi_k` only if it is tight at the expansion point
//!   (otherwise the current point can be infeasible for (60) and SCA stalls or fails):
//!   with `2 tr(W X) = ||alpha W + X/alpha||^2 - alpha^2 ||W||^2 - ||X||^2/alpha^2`, the
//!   concave terms are replaced by their tangents, `-||W||^2 <= ||W^n||^2 - 2 Re tr(W^n
//!   W)` (the printed (59) has `- tr(W^n W)`, a factor 2 short, and the same for `X`).
//!   `alpha^2 = ||X^n||_F / ||W^n||_F` balances the two units (any `alpha > 0` gives a
//!   tight convex bound); `Pi_k^up = Pi_k + alpha^2/2 ||W - W^n||^2 + ||X - X^n||^2 /
//!   (2 alpha^2)`.
//! - (57) is homogeneous in `W_k` (`W_k = 0` meets it): `tr W_k = 1` normalises it.
//!
//! `R_u = P_s B Z B^H` in the span of the AT's target vectors (exact, `super::design`),
//! `X = |beta|^2 (b^T R_u b^*) a^ a^^H` with `a^ = F^H a`. The SDR drops `rank W_k = 1`;
//! the rank-one combiners are the MMSE combiners for the SCA's `R_u`, which meet every
//! SINR target the relaxed `W_k` meet (the SINR of `W_k` is a ratio of traces, at most
//! the largest generalized Rayleigh quotient, which the MMSE combiner attains): no
//! randomization is needed. The loop stops when `tr CRB` decreases by less than
//! `epsilon_4,SCA` (the same `ao_tolerance`, as in the paper's simulations).
//!
//! # Block 2: Algorithm 5 (PDD (61)-(70))
//! `Q = F~ Phi Phi^H F~^H = F F^H` (61b) with dual `Upsilon` and penalty `rho`, on the
//! shared PDD loop ([`super::pdd::run_pdd`]). The `Q` block (66): the FIM of `Q` depends
//! on `Q` only through `a_x^H Q a_x'` for the MT's target vectors `a_x = a, da/dtheta,
//! da/dr`; writing `Q = F F^H - s rho Upsilon + B Z B^H` (`B` an orthonormal basis of
//! their span), only `Z` (3 x 3 Hermitian, free) reaches the FIM and the penalty is
//! `||Z||_F^2 / (2 rho)`, so (66) is exact as a program in `Z` (as block (38) of
//! Algorithm 2). The `F` block (67): every SINR of (53c) with `w_k`, `R_u` fixed is
//! `f^H B_k f >= sigma_u^2 ||w_k||^2` with `B_k = P_u/gamma v_k v_k^H - P_u sum_{i != k}
//! v_i v_i^H - |beta|^2 (b^T R_u b^*) v_a v_a^H`, `v = conj(Phi w_k) o h` (68). The
//! printed (68) and (70b) state `tr(F^ B_k) <= sigma_u^2 ||w_k||^2`: the inequality is
//! reversed (the SINR is at least `gamma` when the signal term exceeds the interference,
//! not the other way); the tests check the form against the SINR (17). (67) is then
//! solved as (40): by the SDR (70) with Gaussian randomization (`method = "pdd"`) or by
//! the projected phase descent (`method = "pdd-manifold"`).

use super::design::{
    coordinates, crb_program, schur_objective, trace_re, uplink_through, DigitalDesign,
};
use super::hybrid::{digital_bound, HybridDesign};
use super::model::{crb_from_fim, fim_from_grams, NearfieldModel};
use super::pdd::{
    current_targets, descend_phases, frobenius_sq, phase_step, run_pdd, scaled, AnalogStep,
    PddBlocks, PddSettings, PhaseProblem,
};
use crate::conic::{Affine, Problem, SolverSettings, Status};
use crate::error::{IsacError, Result};
use crate::iterate::{self, IterativeAlgorithm, Step, StoppingRule};
use crate::linalg::{inner, orthonormal_basis};
use crate::physics::hybrid::PartiallyConnected;
use crate::status::DesignStatus;
use crate::C64;
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// How block 1 (`{U, R_u, w_k}`) of Algorithm 6 is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UplinkBlock {
    /// The exact program (one linear echo constraint, MMSE combiners).
    Exact,
    /// Algorithm 4 (SCA (57)-(60), corrected as in the module doc).
    Sca,
}

impl UplinkBlock {
    pub fn as_str(&self) -> &'static str {
        match self {
            UplinkBlock::Exact => "exact",
            UplinkBlock::Sca => "sca",
        }
    }
}

/// The parameters of Algorithm 6 beyond the PDD's.
#[derive(Debug, Clone, PartialEq)]
pub struct UplinkSettings {
    pub block: UplinkBlock,
    /// Algorithm 6's iterations at most.
    pub max_ao: usize,
    /// Algorithm 4's iterations at most.
    pub max_sca: usize,
}

impl Default for UplinkSettings {
    fn default() -> Self {
        UplinkSettings {
            block: UplinkBlock::Exact,
            max_ao: 20,
            max_sca: 30,
        }
    }
}

/// Seed stream of the random start of line 1.
const START_STREAM: u64 = 0x7570_6c69_6e6b; // "uplink"

/// `F w` for the RF-domain combiners `w` (`N_RF x K`).
fn lift_combiners(analog: &Mat<C64>, w: &Mat<C64>) -> Mat<C64> {
    analog * w
}

/// The uplink SINRs (17) of antenna-domain combiners (columns of `combiners`, `N_a x K`)
/// with the probing covariance `R_u`, on the model's channels.
pub fn uplink_sinrs(model: &NearfieldModel, combiners: &Mat<C64>, ru: &Mat<C64>) -> Vec<f64> {
    (0..combiners.ncols())
        .map(|k| {
            let w: Vec<C64> = (0..combiners.nrows()).map(|n| combiners[(n, k)]).collect();
            model.uplink_sinr_with(k, &w, ru, None)
        })
        .collect()
}

/// The hybrid uplink design for the analog combiner `analog` from block 1's answer
/// `digital` (RF-domain combiners, `R_u`): the combiners lifted to the antennas (`F w_k`)
/// and everything re-checked on the true model from the returned matrices: structure,
/// power `tr R_u`, every SINR (17) with the antenna-domain combiner, CRB from `R_u` and
/// `F`.
pub fn hybrid_from_block(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    analog: &Mat<C64>,
    digital: DigitalDesign,
) -> Result<HybridDesign> {
    let mut design = HybridDesign::for_block(arch, analog, digital.clone())?;
    if let (true, Some(w), Some(ru)) = (
        digital.status.has_checked_design(),
        &digital.digital,
        &digital.sensing_covariance,
    ) {
        let combiners = lift_combiners(analog, w);
        let sinr = uplink_sinrs(model, &combiners, ru);
        design.recheck(
            model,
            trace_re(ru),
            sinr,
            "the probing covariance and combiners are optimal for this analog combiner",
        );
        design.bound = Some(model.bound(ru, Some(analog)));
        design.precoders = Some(combiners);
        design.sensing_covariance = Some(ru.clone());
        design.transmit_covariance = Some(ru.clone());
    }
    Ok(design)
}

/// Block 1 exactly for the analog combiner `analog`, as a checked hybrid design.
pub fn exact_block(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    analog: &Mat<C64>,
    settings: &SolverSettings,
) -> Result<HybridDesign> {
    let started = Instant::now();
    let digital = uplink_through(model, Some(analog), settings)?;
    let mut d = hybrid_from_block(model, arch, analog, digital)?;
    d.seconds = started.elapsed().as_secs_f64();
    Ok(d)
}

// ---------------------------------------------------------------------------------
// Algorithm 4: SCA for block 1
// ---------------------------------------------------------------------------------

/// The SCA iterate: `R_u` and the relaxed `W_k` (`N_RF x N_RF`, `tr W_k = 1`).
#[derive(Clone)]
struct ScaState {
    ru: Mat<C64>,
    w: Vec<Mat<C64>>,
}

/// The fixed data of Algorithm 4 for one `F`.
struct Sca<'a> {
    model: &'a NearfieldModel,
    analog: &'a Mat<C64>,
    settings: &'a SolverSettings,
    /// `R_u = P_s B Z B^H`: the basis and `b`'s coordinates in it.
    basis: Mat<C64>,
    b_coordinates: Vec<C64>,
    /// `a^ = F^H a` normalised, and `|beta|^2 ||a^||^2 / sigma^2` (echo-to-noise per
    /// unit of `b^T R_u b^*`).
    u: Vec<C64>,
    echo_gain: f64,
    /// `A_k / sigma^2` (57).
    a: Vec<Mat<C64>>,
    programs: usize,
}

impl<'a> Sca<'a> {
    fn new(
        model: &'a NearfieldModel,
        analog: &'a Mat<C64>,
        settings: &'a SolverSettings,
    ) -> Result<Self> {
        let s = &model.scenario;
        let basis =
            super::design::design_basis(&model.transmit_vectors(), s.at.elements, s.subspace)?;
        let b_coordinates = coordinates(&basis, &model.at_response.value);
        let ahat = super::model::combine(analog, &model.mt_response.value);
        let norm = ahat.iter().map(|z| z.norm_sqr()).sum::<f64>();
        let u: Vec<C64> = ahat.iter().map(|z| z / norm.sqrt()).collect();
        let echo_gain = model.sensing_gain.norm_sqr() * norm / s.noise;
        let nrf = analog.ncols();
        let hh: Vec<Vec<C64>> = model
            .user_channels
            .iter()
            .map(|h| super::model::combine(analog, h))
            .collect();
        let a = (0..hh.len())
            .map(|k| {
                Mat::from_fn(nrf, nrf, |i, j| {
                    let mut v = if i == j {
                        C64::new(1.0, 0.0)
                    } else {
                        C64::new(0.0, 0.0)
                    };
                    for (m, h) in hh.iter().enumerate() {
                        let w = if m == k { -1.0 / s.min_sinr } else { 1.0 };
                        v += h[i] * h[j].conj() * (w * s.user_power / s.noise);
                    }
                    v
                })
            })
            .collect();
        Ok(Sca {
            model,
            analog,
            settings,
            basis,
            b_coordinates,
            u,
            echo_gain,
            a,
            programs: 0,
        })
    }

    /// `X / sigma^2 = x u u^H`: the scalar `x` of `R_u`.
    fn echo(&self, ru: &Mat<C64>) -> f64 {
        let b = &self.model.at_response.value;
        self.echo_gain * super::model::transposed_form(b, ru, b).re
    }

    /// The SDR of (60) at the expansion point `st`; `None` without a point.
    fn solve(&mut self, st: &ScaState) -> Result<Option<ScaState>> {
        let model = self.model;
        let s = &model.scenario;
        let power = s.power;
        let nrf = self.analog.ncols();
        let mut prob = Problem::new();
        let z = prob.psd_hermitian(self.basis.ncols());
        let rg = model.receive_gram(Some(self.analog));
        let (objective, _wmax) = crb_program(
            &mut prob,
            model,
            &self.basis,
            power,
            &rg,
            &[(&z, 1.0)],
            None,
            None,
        )?;
        // x = echo_gain * P_s * b'^H Z b'
        let x = z
            .quad_form(&self.b_coordinates)?
            .scaled(self.echo_gain * power);
        let xn = self.echo(&st.ru);
        let mut w_vars = Vec::with_capacity(self.a.len());
        for (k, ak) in self.a.iter().enumerate() {
            let wn = &st.w[k];
            let wk = prob.psd_hermitian(nrf);
            prob.eq(wk.trace(), 1.0);
            let wn_norm = frobenius_sq(wn).sqrt();
            // ||X^n||_F = x^n (u unit)
            let alpha2 = if xn > 0.0 && wn_norm > 0.0 {
                xn / wn_norm
            } else {
                1.0
            };
            let alpha = alpha2.sqrt();
            // t >= ||alpha W + X / alpha||_F^2 (off-diagonal entries twice: sqrt(2) each)
            let mut v = Vec::with_capacity(nrf * nrf);
            for i in 0..nrf {
                for j in i..nrf {
                    let e = wk.entry(i, j)?;
                    let uu = self.u[i] * self.u[j].conj() / alpha;
                    let mut re = e.re.scaled(alpha);
                    re.add_scaled(uu.re, &x);
                    let mut im = e.im.scaled(alpha);
                    im.add_scaled(uu.im, &x);
                    if i == j {
                        v.push(re);
                    } else {
                        v.push(re.scaled(2f64.sqrt()));
                        v.push(im.scaled(2f64.sqrt()));
                    }
                }
            }
            let t = prob.squared_norm_epigraph(&v, 1.0);
            // tr(W A_k) + Pi^up <= 0, Pi^up = 1/2 [t - alpha^2 (2 Re tr(W^n W) - ||W^n||^2)
            //                                   - (2 x^n x - (x^n)^2) / alpha^2]
            let mut lhs = wk.real_trace_with(ak)?;
            lhs.add_scaled(0.5, &t);
            lhs.add_scaled(-alpha2, &wk.real_trace_with(wn)?);
            lhs.add_scaled(-xn / alpha2, &x);
            let constant = 0.5 * alpha2 * wn_norm * wn_norm + 0.5 * xn * xn / alpha2;
            prob.le(lhs, -constant);
            w_vars.push(wk);
        }
        prob.minimize(objective);
        let sol = prob.solve(self.settings)?;
        self.programs += 1;
        if !matches!(
            sol.status,
            Status::Optimal { .. } | Status::Inaccurate { .. }
        ) {
            return Ok(None);
        }
        let zv = sol.hermitian_value(&z);
        let ru = super::design::lift(&self.basis, &zv, power);
        let w = w_vars.iter().map(|v| sol.hermitian_value(v)).collect();
        Ok(Some(ScaState { ru, w }))
    }
}

/// Algorithm 4 on the iteration driver: one step = one SDR (60).
struct ScaRun<'s, 'a> {
    sca: &'s mut Sca<'a>,
}

impl IterativeAlgorithm for ScaRun<'_, '_> {
    type State = ScaState;

    fn step(&mut self, st: &ScaState, _k: usize) -> Result<Step<ScaState>> {
        let next = self
            .sca
            .solve(st)?
            .ok_or_else(|| IsacError::Numerical("SCA program (60) has no point".into()))?;
        let crb = self
            .sca
            .model
            .bound(&next.ru, Some(self.sca.analog))
            .trace()
            .unwrap_or(f64::INFINITY);
        Ok(Step::new(next, crb))
    }
}

/// The unit-norm MMSE combiners (RF domain, `N_RF x K`) for `R_u` through `F`; `None` if
/// one does not exist.
fn mmse_combiners(model: &NearfieldModel, analog: &Mat<C64>, ru: &Mat<C64>) -> Option<Mat<C64>> {
    let k = model.users();
    let nrf = analog.ncols();
    let mut w = Mat::<C64>::zeros(nrf, k);
    for u in 0..k {
        let wk = model.mmse_combiner(u, ru, Some(analog))?;
        for r in 0..nrf {
            w[(r, u)] = wk[r];
        }
    }
    Some(w)
}

/// Block 1 by Algorithm 4 from `ru0` (feasible for `F`: the previous iterate's, or zero),
/// then the MMSE combiners for its `R_u`; as a checked hybrid design, with the number of
/// SCA programs solved.
fn sca_block(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    analog: &Mat<C64>,
    ru0: &Mat<C64>,
    upl: &UplinkSettings,
    tolerance: f64,
    settings: &SolverSettings,
) -> Result<(HybridDesign, usize)> {
    let started = Instant::now();
    let s = &model.scenario;
    let empty = |status: DesignStatus| -> Result<HybridDesign> {
        let mut d = exact_block(model, arch, analog, settings)?;
        d.status = status;
        Ok(d)
    };
    let Some(w0) = mmse_combiners(model, analog, ru0) else {
        return Ok((
            empty(DesignStatus::inaccurate(
                "no MMSE combiner at the SCA start",
                None,
            ))?,
            0,
        ));
    };
    let sinr0 = (0..model.users())
        .map(|u| {
            let wk: Vec<C64> = (0..w0.nrows()).map(|r| w0[(r, u)]).collect();
            model.uplink_sinr_with(u, &wk, ru0, Some(analog))
        })
        .fold(f64::INFINITY, f64::min);
    if !(sinr0 >= s.min_sinr) {
        // the start is infeasible: so is block 1 when ru0 = 0
        return Ok((
            empty(DesignStatus::infeasible(
                "a user misses its SINR target at the SCA start (Algorithm 4 needs a feasible point)",
                false,
            ))?,
            0,
        ));
    }
    let w_start: Vec<Mat<C64>> = (0..model.users())
        .map(|u| {
            Mat::from_fn(w0.nrows(), w0.nrows(), |i, j| {
                w0[(i, u)] * w0[(j, u)].conj()
            })
        })
        .collect();
    let mut sca = Sca::new(model, analog, settings)?;
    let crb0 = model
        .bound(ru0, Some(analog))
        .trace()
        .unwrap_or(f64::INFINITY);
    let rule = StoppingRule {
        max_iterations: upl.max_sca,
        rel_tol: tolerance,
        monotone_tol: 1e-4,
        ..StoppingRule::default()
    };
    let run = {
        let mut alg = ScaRun { sca: &mut sca };
        iterate::run(
            &mut alg,
            ScaState {
                ru: ru0.clone(),
                w: w_start,
            },
            crb0,
            &rule,
        )
    };
    let mut ru = run.state.ru.clone();
    // the program meets its constraints to the solver's accuracy: the echo limit of the
    // exact block bounds b^T R_u b^* for every feasible point; scale into it if needed
    let b = &model.at_response.value;
    let echo = super::model::transposed_form(b, &ru, b).re;
    let mut note = String::new();
    match super::design::uplink_echo_limit(model, Some(analog)) {
        Ok(Some(smax)) if echo > smax => {
            let f = smax / echo;
            ru *= faer::Scale(C64::new(f, 0.0));
            note = format!("; R_u scaled by {f:.8} onto the echo limit");
        }
        _ => {}
    }
    let Some(w) = mmse_combiners(model, analog, &ru) else {
        return Ok((
            empty(DesignStatus::inaccurate(
                "no MMSE combiner for the SCA's R_u",
                None,
            ))?,
            sca.programs,
        ));
    };
    let mut digital = uplink_through(model, Some(analog), settings)?;
    digital.digital = Some(w);
    digital.sensing_covariance = Some(ru.clone());
    digital.transmit_covariance = Some(ru.clone());
    digital.bound = Some(model.bound(&ru, Some(analog)));
    digital.status = DesignStatus::solved(format!(
        "Algorithm 4 (SCA): {} programs (60), {}{note}",
        sca.programs, run.reason
    ));
    let mut d = hybrid_from_block(model, arch, analog, digital)?;
    if d.status.has_checked_design() {
        d.status = DesignStatus::solved(format!(
            "Algorithm 4 (SCA): {} programs (60), {}{note}",
            sca.programs, run.reason
        ));
    }
    d.iterations = run.iterations();
    d.history = run.history;
    d.seconds = started.elapsed().as_secs_f64();
    Ok((d, sca.programs))
}

// ---------------------------------------------------------------------------------
// Algorithm 5: PDD for block 2
// ---------------------------------------------------------------------------------

/// The answer of the `Q` block (66).
#[derive(Clone)]
struct QBlock {
    q: Mat<C64>,
    crb: f64,
    program_value: f64,
}

/// The fixed data of Algorithm 5 for one `R_u` and `w_k`.
struct UplinkPdd<'a> {
    model: &'a NearfieldModel,
    arch: PartiallyConnected,
    settings: &'a SolverSettings,
    pdd: &'a PddSettings,
    /// `R_u`'s transmit Gram (fixed in block 2).
    transmit_gram: [[C64; 3]; 3],
    /// `B`: orthonormal basis of the span of the MT's target vectors, and their
    /// coordinates `e_x = B^H a_x`.
    target_basis: Mat<C64>,
    e: [Vec<C64>; 3],
    /// `Phi Phi^H`.
    m: Mat<C64>,
    /// The SINR forms `S_k = B_k^T` (`f^T S_k f^* = f^H B_k f`) and `sigma^2 ||w_k||^2`.
    forms: Vec<Mat<C64>>,
    unit: f64,
    rng: ChaCha8Rng,
    q_solves: usize,
    f_solves: usize,
}

impl<'a> UplinkPdd<'a> {
    fn new(
        model: &'a NearfieldModel,
        arch: PartiallyConnected,
        ru: &Mat<C64>,
        w: &Mat<C64>,
        pdd: &'a PddSettings,
        settings: &'a SolverSettings,
    ) -> Result<Self> {
        let a = [
            model.mt_response.value.clone(),
            model.mt_response.d_angle.clone(),
            model.mt_response.d_distance.clone(),
        ];
        let target_basis = orthonormal_basis(&a, arch.antennas, 1e-12).ok_or_else(|| {
            IsacError::Numerical("eigendecomposition of the target subspace failed".into())
        })?;
        let e = a.clone().map(|v| {
            (0..target_basis.ncols())
                .map(|c| {
                    (0..v.len())
                        .map(|n| target_basis[(n, c)].conj() * v[n])
                        .sum()
                })
                .collect()
        });
        let phi = arch.transformation();
        let m = &phi * phi.adjoint();
        let forms = sinr_forms(model, arch, ru, w);
        let unit = model.scenario.noise;
        Ok(UplinkPdd {
            model,
            arch,
            settings,
            pdd,
            transmit_gram: model.transmit_gram(ru),
            target_basis,
            e,
            m,
            forms,
            unit,
            rng: ChaCha8Rng::seed_from_u64(pdd.seed),
            q_solves: 0,
            f_solves: 0,
        })
    }

    /// The FIM of a receive Gram `G[x][x'] = a_x^H Q a_x'` with the fixed `R_u`.
    fn fim(&self, g: &[[C64; 3]; 3]) -> Mat<f64> {
        fim_from_grams(
            g,
            &self.transmit_gram,
            self.model.sensing_gain,
            self.model.fim_scale(),
            self.model.fim_variant(),
        )
    }

    /// `a_x^H Q a_x'`.
    fn gram_of(&self, q: &Mat<C64>) -> [[C64; 3]; 3] {
        let a = [
            &self.model.mt_response.value,
            &self.model.mt_response.d_angle,
            &self.model.mt_response.d_distance,
        ];
        let mut g = [[C64::new(0.0, 0.0); 3]; 3];
        for x in 0..3 {
            let qa: Vec<C64> = (0..q.nrows())
                .map(|r| (0..q.ncols()).map(|c| q[(r, c)] * a[x][c]).sum())
                .collect();
            for x2 in 0..3 {
                // g[x2][x] = a_x2^H Q a_x
                g[x2][x] = inner(a[x2], &qa);
            }
        }
        g
    }

    /// `tr CRB` of `Q` with the fixed `R_u` (infinite where the FIM is singular).
    fn crb_of(&self, q: &Mat<C64>) -> f64 {
        crb_from_fim(&self.fim(&self.gram_of(q)))
            .map(|c| c[(0, 0)] + c[(1, 1)])
            .filter(|x| x.is_finite() && *x > 0.0)
            .unwrap_or(f64::INFINITY)
    }

    fn coupling(&self, f: &[C64]) -> Mat<C64> {
        let analog = self.arch.analog(f);
        &analog * analog.adjoint()
    }
}

/// The SINR forms of (68) (with the inequality the right way round, module doc) for the
/// fixed `R_u` and RF-domain combiners `w` (columns), as `f^T S_k f^*` forms.
fn sinr_forms(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    ru: &Mat<C64>,
    w: &Mat<C64>,
) -> Vec<Mat<C64>> {
    let s = &model.scenario;
    let na = arch.antennas;
    let phi = arch.transformation();
    let b = &model.at_response.value;
    let echo = model.sensing_gain.norm_sqr() * super::model::transposed_form(b, ru, b).re;
    (0..model.users())
        .map(|k| {
            let pw: Vec<C64> = (0..na)
                .map(|n| {
                    (0..w.nrows())
                        .map(|r| phi[(n, r)] * w[(r, k)])
                        .sum::<C64>()
                        .conj()
                })
                .collect();
            let v = |h: &[C64]| -> Vec<C64> { (0..na).map(|n| pw[n] * h[n]).collect() };
            let mut terms: Vec<(Vec<C64>, f64)> = model
                .user_channels
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let weight = if i == k {
                        s.user_power / s.min_sinr
                    } else {
                        -s.user_power
                    };
                    (v(h), weight)
                })
                .collect();
            terms.push((v(&model.mt_response.value), -echo));
            // B_k = sum weight v v^H; S_k = B_k^T
            Mat::from_fn(na, na, |n, m| {
                terms
                    .iter()
                    .map(|(x, wt)| x[m] * x[n].conj() * *wt)
                    .sum::<C64>()
            })
        })
        .collect()
}

impl PddBlocks for UplinkPdd<'_> {
    type Block = QBlock;

    /// (66): `Q = F F^H - s rho Upsilon + B Z B^H` (module doc).
    fn q_step(&mut self, f: &[C64], upsilon: &Mat<C64>, rho: f64) -> Result<Option<QBlock>> {
        let sign = self.pdd.sign.sign();
        let c = &self.coupling(f) - &scaled(upsilon, sign * rho);
        let g0 = self.gram_of(&c);
        let j0 = self.fim(&g0);
        let d: Vec<f64> = {
            let jc = self.fim(&self.gram_of(&self.coupling(f)));
            (0..4)
                .map(|i| {
                    let v = jc[(i, i)];
                    if v > 0.0 && v.is_finite() {
                        1.0 / v.sqrt()
                    } else {
                        1.0
                    }
                })
                .collect()
        };
        let nb = self.target_basis.ncols();
        let mut prob = Problem::new();
        // Z's real parameters, each with the FIM of its basis matrix H_m:
        // G(H) = E^H H E, g[x2][x] = e_x2^H H e_x
        let mut params: Vec<(Affine, Mat<f64>, f64)> = Vec::new();
        let mut z_entries: Vec<(usize, usize, C64, Affine)> = Vec::new();
        for i in 0..nb {
            for j in i..nb {
                let parts: Vec<(C64, C64)> = if i == j {
                    vec![(C64::new(1.0, 0.0), C64::new(1.0, 0.0))]
                } else {
                    vec![
                        (C64::new(1.0, 0.0), C64::new(2f64.sqrt(), 0.0)),
                        (C64::new(0.0, 1.0), C64::new(2f64.sqrt(), 0.0)),
                    ]
                };
                for (unit, norm) in parts {
                    let var = prob.scalar();
                    // H = unit E_ij + conj(unit) E_ji
                    let mut h = Mat::<C64>::zeros(nb, nb);
                    h[(i, j)] += unit;
                    if i != j {
                        h[(j, i)] += unit.conj();
                    }
                    let mut g = [[C64::new(0.0, 0.0); 3]; 3];
                    for x2 in 0..3 {
                        for x in 0..3 {
                            let mut v = C64::new(0.0, 0.0);
                            for r in 0..nb {
                                for cc in 0..nb {
                                    v += self.e[x2][r].conj() * h[(r, cc)] * self.e[x][cc];
                                }
                            }
                            g[x2][x] = v;
                        }
                    }
                    params.push((var.clone(), self.fim(&g), norm.re));
                    z_entries.push((i, j, unit, var));
                }
            }
        }
        let jt: Vec<Vec<Affine>> = (0..4)
            .map(|i| {
                (0..4)
                    .map(|j| {
                        let mut e = Affine::constant(d[i] * d[j] * j0[(i, j)]);
                        for (var, jm, _) in &params {
                            e.add_scaled(d[i] * d[j] * jm[(i, j)], var);
                        }
                        e
                    })
                    .collect()
            })
            .collect();
        let (mut objective, wmax) = schur_objective(&mut prob, &jt, &d)?;
        // ||Z||_F^2 / (2 rho) in the program's units: ||Z||^2 <= c t, c = 2 rho wmax
        let z_norm: Vec<Affine> = params.iter().map(|(v, _, n)| v.scaled(*n)).collect();
        let t = prob.squared_norm_epigraph(&z_norm, 2.0 * rho * wmax);
        objective.add_scaled(1.0, &t);
        prob.minimize(objective.clone());
        let sol = prob.solve(self.settings)?;
        self.q_solves += 1;
        if !matches!(
            sol.status,
            Status::Optimal { .. } | Status::Inaccurate { .. }
        ) {
            return Ok(None);
        }
        let mut z = Mat::<C64>::zeros(nb, nb);
        for (i, j, unit, var) in &z_entries {
            let v = unit * sol.value(var);
            z[(*i, *j)] += v;
            if i != j {
                z[(*j, *i)] += v.conj();
            }
        }
        let b = &self.target_basis;
        let q = &c + &(b * &z * b.adjoint());
        let crb = self.crb_of(&q);
        Ok(Some(QBlock {
            q,
            crb,
            program_value: sol.value(&objective) * wmax,
        }))
    }

    fn f_step(
        &mut self,
        f: &[C64],
        blk: &QBlock,
        upsilon: &Mat<C64>,
        rho: f64,
    ) -> Result<(Vec<C64>, f64)> {
        let sign = self.pdd.sign.sign();
        let t = &blk.q + &scaled(upsilon, sign * rho);
        let targets = current_targets(&self.forms, f, self.unit);
        let problem = PhaseProblem {
            t: &t,
            m: &self.m,
            forms: &self.forms,
            targets: &targets,
            unit: self.unit,
            scale: 1.0,
        };
        self.f_solves += 1;
        let step = phase_step(
            self.pdd.analog_step,
            &problem,
            f,
            self.pdd.randomizations,
            &mut self.rng,
            self.settings,
        )?;
        Ok((step.shifters, step.misfit))
    }

    fn crb(blk: &QBlock) -> f64 {
        blk.crb
    }

    fn q_value(blk: &QBlock) -> f64 {
        blk.program_value
    }

    fn residual(&self, f: &[C64], blk: &QBlock) -> Mat<C64> {
        &blk.q - &self.coupling(f)
    }

    fn unit(&self) -> f64 {
        1.0
    }

    fn q_name(&self) -> &'static str {
        "(66)"
    }

    fn settings(&self) -> &PddSettings {
        self.pdd
    }
}

// ---------------------------------------------------------------------------------
// Algorithm 6: AO
// ---------------------------------------------------------------------------------

/// The AO iterate: the shifters of `F` and the last block-1 `R_u` (the SCA's start).
#[derive(Clone)]
struct AoState {
    f: Vec<C64>,
    ru: Mat<C64>,
}

/// Algorithm 6 on the iteration driver: one step = block 1 at `F`, then Algorithm 5 for
/// `F`. The objective is `tr CRB(R_u; F')` after both blocks; the best checked block-1
/// design seen is kept.
struct Ao<'a> {
    model: &'a NearfieldModel,
    arch: PartiallyConnected,
    pdd: &'a PddSettings,
    upl: &'a UplinkSettings,
    settings: &'a SolverSettings,
    best: Option<HybridDesign>,
    block1_programs: usize,
    pdd_outer: usize,
    pdd_inner: usize,
}

impl Ao<'_> {
    fn block1(&mut self, f: &[C64], ru0: &Mat<C64>) -> Result<HybridDesign> {
        let analog = self.arch.analog(f);
        let d = match self.upl.block {
            UplinkBlock::Exact => {
                self.block1_programs += 1;
                exact_block(self.model, self.arch, &analog, self.settings)?
            }
            UplinkBlock::Sca => {
                let (d, n) = sca_block(
                    self.model,
                    self.arch,
                    &analog,
                    ru0,
                    self.upl,
                    self.pdd.ao_tolerance,
                    self.settings,
                )?;
                self.block1_programs += n;
                d
            }
        };
        if d.status.has_checked_design() {
            let crb = d
                .bound
                .as_ref()
                .and_then(|b| b.trace())
                .unwrap_or(f64::INFINITY);
            let better = self.best.as_ref().is_none_or(|b| {
                crb < b
                    .bound
                    .as_ref()
                    .and_then(|x| x.trace())
                    .unwrap_or(f64::INFINITY)
            });
            if better {
                self.best = Some(d.clone());
            }
        }
        Ok(d)
    }
}

impl IterativeAlgorithm for Ao<'_> {
    type State = AoState;

    fn step(&mut self, st: &AoState, _k: usize) -> Result<Step<AoState>> {
        let d = self.block1(&st.f, &st.ru)?;
        let (Some(ru), Some(w), Some(crb1)) = (
            d.digital.sensing_covariance.clone(),
            d.digital.digital.clone(),
            d.bound.as_ref().and_then(|b| b.trace()),
        ) else {
            return Err(IsacError::Numerical(format!(
                "block {{U, R_u, w_k}} has no checked design: {}",
                d.status.detail().unwrap_or(d.status.as_str())
            )));
        };
        if !d.status.has_checked_design() {
            return Err(IsacError::Numerical(format!(
                "block {{U, R_u, w_k}}: {}",
                d.status.detail().unwrap_or(d.status.as_str())
            )));
        }
        let blocks = UplinkPdd::new(self.model, self.arch, &ru, &w, self.pdd, self.settings)?;
        let rho0 = self.pdd.penalty_start / crb1;
        let (run, outer) = run_pdd(blocks, st.f.clone(), crb1, rho0);
        self.pdd_outer += run.iterations();
        self.pdd_inner += outer.inner_steps;
        let violation = run
            .history
            .last()
            .and_then(|r| r.metric("violation"))
            .unwrap_or(f64::NAN);
        let outer_iterations = run.iterations();
        let f = run.state.f;
        let crb2 = self
            .model
            .bound(&ru, Some(&self.arch.analog(&f)))
            .trace()
            .unwrap_or(f64::INFINITY);
        let mut step = Step::new(AoState { f, ru }, crb2);
        step.metrics.push(("crb_after_receive_block".into(), crb1));
        step.metrics.push(("crb_after_combiner_block".into(), crb2));
        step.metrics.push(("violation".into(), violation));
        step.metrics
            .push(("pdd_outer_iterations".into(), outer_iterations as f64));
        Ok(step)
    }
}

/// The shortfall the uplink feasibility phase aims below: every user's MMSE SINR
/// without probing at least twice its target (3 dB left for the echo).
pub const START_SHORTFALL: f64 = 0.5;

/// `gamma / SINR_k` of every user through the shifters `f`, MMSE combining, no probing
/// (infinite when a combiner does not exist).
fn uplink_ratios(model: &NearfieldModel, arch: PartiallyConnected, f: &[C64]) -> Vec<f64> {
    let s = &model.scenario;
    let analog = arch.analog(f);
    let zero = Mat::<C64>::zeros(s.at.elements, s.at.elements);
    (0..model.users())
        .map(|u| {
            let h = super::model::combine(&analog, &model.user_channels[u]);
            let r = model.uplink_interference(u, &zero, Some(&analog));
            match crate::linalg::hermitian_solve(&r, &h) {
                Some(x) => s.min_sinr / (s.user_power * inner(&h, &x).re),
                None => f64::INFINITY,
            }
        })
        .collect()
}

/// The users' SINR shortfall through `f`: the 8-norm of [`uplink_ratios`], a smooth upper
/// bound of the largest (at most 1: every user meets its target without probing).
fn uplink_shortfall(model: &NearfieldModel, arch: PartiallyConnected, f: &[C64]) -> f64 {
    let r = uplink_ratios(model, arch, f);
    if r.iter().any(|x| !x.is_finite() || *x <= 0.0) {
        return f64::INFINITY;
    }
    r.iter().map(|x| x.powi(8)).sum::<f64>().powf(1.0 / 8.0)
}

/// The largest of [`uplink_ratios`].
fn uplink_shortfall_max(model: &NearfieldModel, arch: PartiallyConnected, f: &[C64]) -> f64 {
    uplink_ratios(model, arch, f)
        .into_iter()
        .fold(0.0, f64::max)
}

/// `F` with random phases (line 1 of Algorithm 6), seeded.
pub fn random_start(arch: PartiallyConnected, seed: u64) -> Vec<C64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ START_STREAM);
    (0..arch.antennas)
        .map(|_| C64::from_polar(1.0, rng.gen_range(0.0..std::f64::consts::TAU)))
        .collect()
}

/// `method = "pdd" | "pdd-manifold"` in the uplink: Algorithm 6 from random phases
/// (falling back to the steering start of `super::hybrid` when a user misses its SINR
/// target through the random `F` even without probing), block 1 as `upl.block` says,
/// block 2 by Algorithm 5; the best design seen, re-checked. Returned beside: the fully
/// digital design (the bound).
pub fn uplink_ao_design(
    model: &NearfieldModel,
    arch: PartiallyConnected,
    pdd: &PddSettings,
    upl: &UplinkSettings,
    settings: &SolverSettings,
) -> Result<(HybridDesign, DigitalDesign)> {
    let started = Instant::now();
    let fd = super::design::fully_digital(model, settings)?;
    if matches!(fd.status, DesignStatus::Infeasible { .. }) {
        // infeasible fully digital (a user misses its target without probing): so is
        // every hybrid design
        let mut d = exact_block(
            model,
            arch,
            &super::hybrid::steering_start(model, arch),
            settings,
        )?;
        d.status = fd.status.clone();
        d.seconds = started.elapsed().as_secs_f64();
        return Ok((d, fd));
    }
    let mut start_note = "random phases";
    let mut f0 = random_start(arch, pdd.seed);
    if super::design::uplink_echo_limit(model, Some(&arch.analog(&f0))).is_err() {
        // no R_u is feasible through this F: the steering start, then a descent on the
        // phases of the users' SINR shortfall without probing from the better of the two
        let steering = arch.shifters(&super::hybrid::steering_start(model, arch));
        let better =
            if uplink_shortfall(model, arch, &steering) < uplink_shortfall(model, arch, &f0) {
                steering
            } else {
                f0
            };
        f0 = if super::design::uplink_echo_limit(model, Some(&arch.analog(&better))).is_ok() {
            start_note = "the steering start (a user misses its target through the random F)";
            better
        } else {
            start_note = "a descent on the phases of the users' SINR shortfall (neither the random nor the steering start lets every user meet its target)";
            descend_phases(
                &|f: &[C64]| uplink_shortfall(model, arch, f),
                &better,
                START_SHORTFALL,
                "every user meets its target with room for the echo",
            )
        };
        if super::design::uplink_echo_limit(model, Some(&arch.analog(&f0))).is_err() {
            let mut d = exact_block(model, arch, &arch.analog(&f0), settings)?;
            d.status = DesignStatus::inaccurate(
                format!(
                    "Algorithm 6 needs an F through which every user meets its target without probing; the random and steering starts have none, and the descent on the phases ended with the worst user at {:.2} dB below its target",
                    10.0 * uplink_shortfall_max(model, arch, &f0).log10()
                ),
                None,
            );
            d.seconds = started.elapsed().as_secs_f64();
            return Ok((d, fd));
        }
    }
    let mut ao = Ao {
        model,
        arch,
        pdd,
        upl,
        settings,
        best: None,
        block1_programs: 0,
        pdd_outer: 0,
        pdd_inner: 0,
    };
    let rule = StoppingRule {
        max_iterations: upl.max_ao,
        rel_tol: pdd.ao_tolerance,
        monotone_tol: 1e-4,
        ..StoppingRule::default()
    };
    let nb = model.scenario.at.elements;
    let run = iterate::run(
        &mut ao,
        AoState {
            f: f0,
            ru: Mat::zeros(nb, nb),
        },
        f64::INFINITY,
        &rule,
    );
    // block 1 for the last F (Algorithm 6 ends after block 2)
    if !matches!(run.reason, iterate::StopReason::Failed(_)) || run.iterations() > 0 {
        let _ = ao.block1(&run.state.f, &run.state.ru)?;
    }
    let iterations = run.iterations();
    let Some(mut d) = ao.best.take() else {
        let mut d = exact_block(model, arch, &arch.analog(&run.state.f), settings)?;
        d.status = DesignStatus::inaccurate(
            format!("Algorithm 6 found no checked design ({})", run.reason),
            None,
        );
        d.seconds = started.elapsed().as_secs_f64();
        return Ok((d, fd));
    };
    let ratio = d
        .bound
        .as_ref()
        .and_then(|b| b.trace())
        .zip(digital_bound(&fd))
        .map(|(a, b)| a / b);
    let analog = match pdd.analog_step {
        AnalogStep::Sdr => "SDR (70)",
        AnalogStep::Manifold => "phase descent",
    };
    d.status = DesignStatus::solved(format!(
        "AO (Algorithm 6) from {start_note}: {iterations} iterations, {}; block {{U, R_u, w_k}} {} ({} programs), block {{U, F}} by PDD (Algorithm 5, {analog}: {} outer / {} inner iterations); best iterate kept; tr CRB {:.4} x the fully digital bound",
        run.reason,
        match upl.block {
            UplinkBlock::Exact => "exact",
            UplinkBlock::Sca => "by SCA (Algorithm 4)",
        },
        ao.block1_programs,
        ao.pdd_outer,
        ao.pdd_inner,
        ratio.unwrap_or(f64::NAN)
    ));
    d.iterations = iterations;
    d.history = run.history;
    d.seconds = started.elapsed().as_secs_f64();
    Ok((d, fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::systems::nearfield::pdd::tests::{assert_no_perturbation_lowers, random_hermitian};
    use crate::systems::nearfield::NearfieldScenario;
    use rand_distr::StandardNormal;

    fn model(na: usize, nrf: usize, gamma_db: f64, seed: u64) -> NearfieldModel {
        let s = NearfieldScenario::from_toml_str(&format!(
            "system = \"nearfield\"\nmode = \"uplink\"\narchitecture = \"hybrid\"\nmethod = \"pdd-manifold\"\nmt_antennas = {na}\nat_antennas = 4\nrf_chains = {nrf}\nusers = 2\nmin_sinr_db = {gamma_db}\nseed = {seed}\n"
        ))
        .unwrap();
        NearfieldModel::new(s).unwrap()
    }

    fn random_psd(n: usize, rng: &mut ChaCha8Rng, trace: f64) -> Mat<C64> {
        let g = Mat::from_fn(n, n, |_, _| {
            C64::new(rng.sample(StandardNormal), rng.sample(StandardNormal))
        });
        let r = &g * g.adjoint();
        let t = trace_re(&r);
        scaled(&r, trace / t)
    }

    /// (68) with the inequality the right way round: `f^H B_k f - sigma^2 ||w_k||^2` equals
    /// `signal / gamma - interference-plus-noise` of the SINR (17) computed by the model,
    /// for random `F`, `R_u` and combiners; so the form is at least `sigma^2 ||w_k||^2`
    /// exactly when the SINR is at least `gamma`.
    #[test]
    fn uplink_sinr_forms_match_the_sinr() {
        let m = model(16, 4, 5.0, 3);
        let arch = PartiallyConnected::new(16, 4).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let s = &m.scenario;
        for trial in 0..5 {
            let f = random_start(arch, 100 + trial);
            let analog = arch.analog(&f);
            let ru = random_psd(4, &mut rng, s.power);
            let w = Mat::from_fn(4, 2, |_, _| {
                C64::new(rng.sample(StandardNormal), rng.sample(StandardNormal))
            });
            let forms = sinr_forms(&m, arch, &ru, &w);
            for k in 0..2 {
                let wk: Vec<C64> = (0..4).map(|r| w[(r, k)]).collect();
                let hk = crate::systems::nearfield::model::combine(&analog, &m.user_channels[k]);
                let signal = s.user_power * inner(&wk, &hk).norm_sqr();
                let sinr = m.uplink_sinr_with(k, &wk, &ru, Some(&analog));
                let den = signal / sinr;
                let wn: f64 = wk.iter().map(|z| z.norm_sqr()).sum();
                let expected = signal / s.min_sinr - den + s.noise * wn;
                let got = super::super::pdd::transposed_form(&f, &forms[k]);
                assert!(
                    (got - expected).abs() <= 1e-9 * signal.max(den),
                    "trial {trial} user {k}: form {got:e} vs {expected:e}"
                );
            }
        }
    }

    /// The FIM of the `Q` block at `Q = F F^H` is the model's uplink FIM through `F`.
    #[test]
    fn the_q_block_fim_at_f_f_h_is_the_model_fim() {
        let m = model(16, 4, 5.0, 4);
        let arch = PartiallyConnected::new(16, 4).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let ru = random_psd(4, &mut rng, m.scenario.power);
        let w = Mat::from_fn(4, 2, |i, j| C64::new((i + j) as f64, 1.0));
        let pdd = PddSettings::default();
        let settings = SolverSettings::default();
        let p = UplinkPdd::new(&m, arch, &ru, &w, &pdd, &settings).unwrap();
        let f = random_start(arch, 8);
        let analog = arch.analog(&f);
        let j = p.fim(&p.gram_of(&p.coupling(&f)));
        let jm = m.bound(&ru, Some(&analog)).fim;
        for a in 0..4 {
            for b in 0..4 {
                let scale = (jm[(a, a)] * jm[(b, b)]).sqrt();
                assert!(
                    (j[(a, b)] - jm[(a, b)]).abs() <= 1e-9 * scale,
                    "J[{a},{b}]: {} vs {}",
                    j[(a, b)],
                    jm[(a, b)]
                );
            }
        }
    }

    /// Block (66): the program's optimum equals (66a) re-evaluated from the returned `Q`
    /// (the FIM through the model), and no perturbation of `Q` in the full `N_a x N_a`
    /// Hermitian space lowers it (the objective is convex in `Q`): the reduction to `B Z
    /// B^H` loses nothing.
    #[test]
    fn the_reduced_block_66_is_optimal_over_the_full_q() {
        let m = model(16, 4, 5.0, 3);
        let arch = PartiallyConnected::new(16, 4).unwrap();
        let settings = SolverSettings::default();
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let ru = random_psd(4, &mut rng, m.scenario.power);
        let w = Mat::from_fn(4, 2, |i, j| C64::new(1.0 + (i * j) as f64, 0.5));
        for sign in [
            super::super::pdd::PenaltySign::Consistent,
            super::super::pdd::PenaltySign::Printed,
        ] {
            let pdd = PddSettings {
                sign,
                ..PddSettings::default()
            };
            let mut p = UplinkPdd::new(&m, arch, &ru, &w, &pdd, &settings).unwrap();
            let f = random_start(arch, 4);
            let c = p.coupling(&f);
            let crb_c = p.crb_of(&c);
            let upsilon = scaled(&random_hermitian(16, &mut rng), 0.01);
            let rho = 0.05 / crb_c;
            let s = sign.sign();
            let blk = p.q_step(&f, &upsilon, rho).unwrap().unwrap();
            let value = |q: &Mat<C64>| -> f64 {
                let r = &(q - &c) + &scaled(&upsilon, s * rho);
                p.crb_of(q) + frobenius_sq(&r) / (2.0 * rho)
            };
            let v0 = value(&blk.q);
            assert!(v0 < value(&c) + frobenius_sq(&scaled(&upsilon, rho)) / (2.0 * rho) + crb_c);
            assert!(
                (v0 - blk.program_value).abs() <= 1e-6 * v0,
                "{sign:?}: recomputed {v0} vs program {}",
                blk.program_value
            );
            assert_no_perturbation_lowers(&value, &blk.q, 1e-3, &mut rng, &format!("{sign:?}"));
        }
    }

    /// Algorithm 4 never beats the exact block for the same `F` (beyond the solver's
    /// accuracy), never worsens its objective between iterations (the tangent bound is
    /// tight at the expansion point), and started at the exact block's optimum it stays
    /// there.
    #[test]
    fn sca_is_bounded_by_the_exact_block_and_monotone() {
        let settings = SolverSettings::default();
        let arch = PartiallyConnected::new(16, 4).unwrap();
        let upl = UplinkSettings::default();
        for seed in [3, 5] {
            let m = model(16, 4, 3.0, seed);
            let analog = arch.analog(&random_start(arch, seed));
            let exact = exact_block(&m, arch, &analog, &settings).unwrap();
            assert!(exact.status.has_checked_design(), "{:?}", exact.status);
            let e = exact.bound.as_ref().unwrap().trace().unwrap();
            let zero = Mat::<C64>::zeros(4, 4);
            let (sca, programs) =
                sca_block(&m, arch, &analog, &zero, &upl, 1e-3, &settings).unwrap();
            assert!(
                sca.status.has_checked_design(),
                "seed {seed}: {:?}",
                sca.status
            );
            assert!(programs >= 2);
            for pair in sca.history.windows(2).skip(1) {
                assert!(
                    pair[1].objective <= pair[0].objective * (1.0 + 1e-6),
                    "seed {seed}: SCA objective rose from {} to {}",
                    pair[0].objective,
                    pair[1].objective
                );
            }
            let v = sca.bound.as_ref().unwrap().trace().unwrap();
            assert!(
                v >= e * (1.0 - 1e-6),
                "seed {seed}: SCA {v} below the exact optimum {e}"
            );
            // from the exact optimum
            let ru = exact.sensing_covariance.clone().unwrap();
            let (at_opt, _) = sca_block(&m, arch, &analog, &ru, &upl, 1e-3, &settings).unwrap();
            let v2 = at_opt.bound.as_ref().unwrap().trace().unwrap();
            assert!(
                (v2 / e - 1.0).abs() <= 1e-4,
                "seed {seed}: SCA from the optimum moved to {v2} (optimum {e})"
            );
        }
    }
}
