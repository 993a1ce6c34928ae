//! The whole design of Section IV of `multistatic-isac.md`: RE selection for a fixed
//! beamformer (Section IV-A), SCA beamforming for the selected set (Section IV-B),
//! recovery of `W_k` from the lifted `Q_k`, and an independent re-check of the returned
//! beamformers.
//!
//! **The fixed beamformer of the selection.** Algorithm I needs a `W-bar`. Since
//! `U(G, W) = C_G / s(W)` for every `G` ([`super::model`]), the selection's objective does
//! not depend on `W-bar` beyond a common factor; only the rate check (30) does. We take
//! `W-bar` = the Phase I point of [`super::sca`] (communication streams only, every rate
//! at least `R_th`), at which (30) holds for every selection: the selection is then
//! decided by `U` and the cost (26), and the SCA starts from a feasible point. The
//! selection's `U` values are reported for the full power beamformed at the target.

use super::model::{outer, total_covariance, MultistaticModel};
use super::sca::{
    crb_phase, feasibility_phase, rank_one_factors, single_user_capacity, ScaProblem,
};
use super::scenario::Beamforming;
use super::scenario::SelectionMethod;
use super::selection::{
    exhaustive, exhaustive_of_size, kmeans_groups, linkage_groups, Selection, SelectionProblem,
    SelectionStatus,
};
use crate::conic::{Fallback, SolverSettings};
use crate::error::Result;
use crate::iterate::{IterationResult, StopReason, StoppingRule};
use crate::linalg::hermitian_eigen;
use crate::C64;
use faer::Mat;
use std::time::Instant;

pub use crate::status::DesignStatus;

/// A design and its independent evaluation.
#[derive(Debug, Clone)]
pub struct MultistaticDesign {
    pub status: DesignStatus,
    /// `"sca"` (the paper's SCA) or `"exact-rank-one"` (one convex program).
    pub method: &'static str,
    /// Selected REs (0-based); empty for the mono-static baseline.
    pub selected: Vec<usize>,
    pub selection_status: Option<SelectionStatus>,
    /// Candidate sets the selection method evaluated.
    pub selection_candidates: usize,
    /// K-means selection: whether every clustering run converged (its report).
    pub clustering: Option<super::selection::ClusteringReport>,
    /// `U` (17) of the returned `W` (paper units: s^2 + Hz^2 for the model FIM).
    pub crb: Option<f64>,
    /// The same `U` in the paper's normalised units (`tau/dt`, `f dt`).
    pub crb_normalised: Option<f64>,
    /// Position CRB (m^2) with the velocity unknown, the velocity CRB (m^2/s^2), and the
    /// position CRB with the velocity known.
    pub position_crb: Option<f64>,
    pub velocity_crb: Option<f64>,
    pub position_crb_known_velocity: Option<f64>,
    /// Rates of every RE (bit/s/Hz), re-evaluated from `W`.
    pub rates: Vec<f64>,
    pub cost: f64,
    /// `sum_i ||W_i||_F^2`, W.
    pub power: Option<f64>,
    /// `W_0, W_1, ..., W_K` (`N_t x L`), W^(1/2) units.
    pub beamformers: Vec<Mat<C64>>,
    /// Numerical rank of each lifted `Q_i` before the truncation to `L` columns.
    pub ranks: Vec<usize>,
    /// Per-RE FIMs at the returned `W` (delay, Doppler; s, Hz).
    pub fims: Vec<Mat<f64>>,
    /// Phase I and Phase II iterations.
    pub feasibility_iterations: usize,
    pub sca_iterations: usize,
    /// `U` after each Phase II iterate (index 0: the start).
    pub crb_history: Vec<f64>,
    /// Phase II iterations whose objective got worse (must be empty).
    pub non_monotone_steps: Vec<usize>,
    /// `min_k R_k - R_th` (bit/s/Hz) and `power - P_T` (W) of the returned `W`.
    pub min_rate_slack: Option<f64>,
    pub power_excess: Option<f64>,
    pub solve_seconds: f64,
    /// Wall-clock seconds of the phases inside `solve_seconds`.
    pub phase_seconds: PhaseSeconds,
}

/// Seconds of the SCA path of [`design`]: the capacity certificate and Phase I, the
/// selection, and Phase II; recovery and re-check make up the rest of `solve_seconds`.
/// Zero for a phase that did not run (all zero on the exact rank-one path).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseSeconds {
    pub feasibility: f64,
    pub selection: f64,
    pub sca: f64,
}

/// What Phase II of an SCA design solved, for `isac bench multistatic`'s export to the
/// CVXPY peer: the problem (selected set, scaled channels), its start (the Phase I
/// point), the stopping rule and the SCA's own run.
#[derive(Debug, Clone)]
pub struct ScaTrace {
    pub problem: ScaProblem,
    pub start: Vec<Mat<C64>>,
    pub rule: StoppingRule,
    pub phase2: IterationResult<Vec<Mat<C64>>>,
}

/// Solver settings of the SCA subproblems: Clarabel's defaults except gap tolerances of
/// 1e-7 and a feasibility tolerance of 1e-6 (the primal residual of the exp cones stalls
/// at a few 1e-7: at Clarabel's 1e-8 every step ends AlmostSolved after two idle
/// iterations), and one fallback to Clarabel's default tolerances when a subproblem's
/// answer is inaccurate. (The conic layer's row normalisation, now off by default, let
/// AlmostSolved answers violate the log-det rows by up to 1e-2 on the paper's setup.)
/// Every iterate's rates and power are re-checked exactly by the SCA driver.
pub fn design_settings() -> SolverSettings {
    SolverSettings {
        fallbacks: vec![Fallback::ClarabelTolerances],
        tol_gap_abs: 1e-7,
        tol_gap_rel: 1e-7,
        tol_feas: 1e-6,
        iterative_refinement_reltol: 1e-10,
        iterative_refinement_max_iter: 3,
        ..SolverSettings::default()
    }
}

/// Relative tolerance of the independent re-check (rates in bit/s/Hz, power relative).
pub const RECHECK_TOL: f64 = 1e-6;

fn rule(model: &MultistaticModel) -> StoppingRule {
    StoppingRule {
        max_iterations: model.scenario.sca_max_iterations,
        rel_tol: model.scenario.sca_tolerance,
        ..StoppingRule::default()
    }
}

fn empty(status: DesignStatus, k: usize, start: Instant) -> MultistaticDesign {
    MultistaticDesign {
        status,
        method: "sca",
        selected: Vec::new(),
        selection_status: None,
        selection_candidates: 0,
        clustering: None,
        crb: None,
        crb_normalised: None,
        position_crb: None,
        velocity_crb: None,
        position_crb_known_velocity: None,
        rates: vec![f64::NAN; k],
        cost: f64::NAN,
        power: None,
        beamformers: Vec::new(),
        ranks: Vec::new(),
        fims: Vec::new(),
        feasibility_iterations: 0,
        sca_iterations: 0,
        crb_history: Vec::new(),
        non_monotone_steps: Vec::new(),
        min_rate_slack: None,
        power_excess: None,
        solve_seconds: start.elapsed().as_secs_f64(),
        phase_seconds: PhaseSeconds::default(),
    }
}

/// The selection for a fixed (rate-feasible) point `w_bar_qs` (W units).
pub fn select(model: &MultistaticModel, w_bar_qs: &[Mat<C64>]) -> Result<Selection> {
    let s = &model.scenario;
    let k = model.receivers();
    // full power at the target: U values in natural units
    let v = &model.sensing_direction;
    let nt = v.len();
    let beam = Mat::from_fn(nt, nt, |a, b| {
        v[a] * v[b].conj() * (s.power_budget / nt as f64)
    });
    let fims = model.fims(&beam);
    let rate_ok = |mask: &[bool]| {
        model
            .rates(w_bar_qs, mask)
            .iter()
            .all(|&r| r >= s.min_rate - RECHECK_TOL * s.min_rate.max(1.0))
    };
    let problem = SelectionProblem {
        fims: &fims,
        receivers: &s.receivers,
        target: s.target,
        rho: s.cost_weight,
        cost_threshold: s.max_cost,
        rate_ok: &rate_ok,
    };
    Ok(match &s.selection {
        SelectionMethod::Minimax => {
            let groups = cap(linkage_groups(&s.receivers, s.target, s.cost_weight), model);
            problem.best_of(groups, SelectionStatus::Feasible)
        }
        SelectionMethod::KMeans => {
            let km = kmeans_groups(&s.receivers, s.seed);
            Selection {
                clustering: Some(km.report),
                ..problem.best_of(cap(km.groups, model), SelectionStatus::Feasible)
            }
        }
        SelectionMethod::Exhaustive => exhaustive(&problem)?,
        SelectionMethod::BestOfSize(n) => exhaustive_of_size(&problem, *n)?,
        SelectionMethod::All => problem.best_of([(0..k).collect()], SelectionStatus::Feasible),
        SelectionMethod::Fixed(set) => problem.best_of([set.clone()], SelectionStatus::Feasible),
        SelectionMethod::MonoStatic => Selection {
            set: Vec::new(),
            u: model.crb(&[], &beam),
            cost: 0.0,
            status: SelectionStatus::Feasible,
            candidates: 1,
            clustering: None,
        },
    })
}

/// `a q`.
fn scaled(q: &Mat<C64>, a: f64) -> Mat<C64> {
    Mat::from_fn(q.nrows(), q.ncols(), |r, c| q[(r, c)] * a)
}

/// Keeps the groups of at most `selection_size` REs (Fig. 6's fixed number of
/// cooperative REs for the linkage and K-means candidates); all groups without a cap.
fn cap(groups: Vec<Vec<usize>>, model: &MultistaticModel) -> Vec<Vec<usize>> {
    match model.scenario.selection_size {
        Some(n) => groups.into_iter().filter(|g| g.len() <= n).collect(),
        None => groups,
    }
}

/// `W` with `L` columns from a lifted `Q` (W units): the `L` strongest eigenvectors
/// scaled by the square roots of their eigenvalues, and the numerical rank of `Q`
/// (eigenvalues above `1e-6 P_T`).
pub fn recover_beamformer(q: &Mat<C64>, streams: usize, power_budget: f64) -> (Mat<C64>, usize) {
    let n = q.nrows();
    let Some((vals, vecs)) = hermitian_eigen(q) else {
        return (Mat::zeros(n, streams), 0);
    };
    let rank = vals.iter().filter(|&&x| x > 1e-6 * power_budget).count();
    let w = Mat::from_fn(n, streams, |r, c| {
        let idx = n - 1 - c;
        vecs[(r, idx)] * vals[idx].max(0.0).sqrt()
    });
    (w, rank)
}

/// Solves the design problem (23)-(27) of a model: selection, SCA, recovery, re-check.
pub fn design(model: &MultistaticModel, settings: &SolverSettings) -> Result<MultistaticDesign> {
    design_traced(model, settings).map(|(d, _)| d)
}

/// [`design`] (it is the same pipeline) and, when Phase II of the SCA ran, its trace.
pub fn design_traced(
    model: &MultistaticModel,
    settings: &SolverSettings,
) -> Result<(MultistaticDesign, Option<ScaTrace>)> {
    let start = Instant::now();
    let s = &model.scenario;
    let k = model.receivers();
    let p_t = s.power_budget;
    let channels = model.scaled_channels();
    // certificate: a RE that cannot reach R_th alone at full power
    for (n, g) in channels.iter().enumerate() {
        let c = single_user_capacity(g);
        if c < s.min_rate {
            let reason = format!(
                "receiver {n} reaches at most {c:.4} bit/s/Hz alone at full power, below min_rate = {}",
                s.min_rate
            );
            let d = empty(
                DesignStatus::Infeasible {
                    reason,
                    certified: true,
                },
                k,
                start,
            );
            return Ok((d, None));
        }
    }
    // Phase I on the communication streams (selection-independent, Q_0 = 0)
    let comm_only = ScaProblem {
        channels: channels.clone(),
        sensing_direction: model.sensing_direction.clone(),
        selected: vec![true; k],
        min_rate: s.min_rate,
    };
    if s.beamforming == Beamforming::Auto {
        if let Some(factors) = rank_one_factors(&channels) {
            if let Some(d) = design_rank_one(model, &comm_only, &factors, start)? {
                return Ok((d, None));
            }
            // the exact program's point failed the true-rate re-check (interference nulls
            // deeper than the solver's accuracy at high SNR): the SCA instead
        }
    }
    let phase1 = feasibility_phase(&comm_only, settings, &rule(model))?;
    let t_phase1 = start.elapsed().as_secs_f64();
    let slack = comm_only.min_rate_slack(&phase1.state);
    if slack < 0.0 {
        let mut d = empty(
            DesignStatus::Infeasible {
                reason: format!(
                    "Phase I found no rate-feasible point (best minimum slack {slack:.4e} bit/s/Hz after {} iterations, {:?}); not a proof",
                    phase1.iterations(),
                    phase1.reason
                ),
                certified: false,
            },
            k,
            start,
        );
        d.feasibility_iterations = phase1.iterations();
        d.phase_seconds.feasibility = t_phase1;
        return Ok((d, None));
    }
    let w_bar: Vec<Mat<C64>> = phase1.state.iter().map(|q| scaled(q, p_t)).collect();
    let selection = select(model, &w_bar)?;
    let t_selection = start.elapsed().as_secs_f64();
    if selection.status == SelectionStatus::Infeasible {
        let mut d = no_admissible_set(model, &selection, start);
        d.feasibility_iterations = phase1.iterations();
        d.phase_seconds.feasibility = t_phase1;
        d.phase_seconds.selection = t_selection - t_phase1;
        return Ok((d, None));
    }
    let set = selection.set.clone();
    let problem = ScaProblem {
        selected: model.mask(&set),
        ..comm_only
    };
    let phase2 = crb_phase(&problem, phase1.state.clone(), settings, &rule(model));
    let t_phase2 = start.elapsed().as_secs_f64();
    let mut d = recover(model, &set, &selection, &phase2.state);
    d.feasibility_iterations = phase1.iterations();
    d.sca_iterations = phase2.iterations();
    let c_ratio = d.crb.unwrap_or(f64::NAN) * problem.beampattern_gain(&phase2.state);
    d.crb_history = phase2
        .history
        .iter()
        .map(|h| c_ratio / h.objective)
        .collect();
    d.non_monotone_steps = phase2.non_monotone_steps.clone();
    d.status = match (&phase2.reason, recheck(model, &d)) {
        (_, Some(violation)) => {
            DesignStatus::inaccurate(violation, Some(relative_violation(model, &d)))
        }
        (StopReason::Failed(e), _) if phase2.iterations() > 0 => DesignStatus::Stalled {
            reason: format!("SCA stopped after {} iterations: {e}", phase2.iterations()),
        },
        (StopReason::Failed(e), _) => DesignStatus::inaccurate(
            format!("SCA stopped after {} iterations: {e}", phase2.iterations()),
            None,
        ),
        (StopReason::MaxIterations, _) => DesignStatus::MaxIterations {
            note: format!("SCA at its cap of {} iterations", phase2.iterations()),
        },
        _ => DesignStatus::solved(format!(
            "SCA converged after {} iterations",
            phase2.iterations()
        )),
    };
    d.solve_seconds = start.elapsed().as_secs_f64();
    d.phase_seconds = PhaseSeconds {
        feasibility: t_phase1,
        selection: t_selection - t_phase1,
        sca: t_phase2 - t_selection,
    };
    let trace = ScaTrace {
        problem,
        start: phase1.state,
        rule: rule(model),
        phase2,
    };
    Ok((d, Some(trace)))
}

/// The answer when no receiver set meets the cost limit (a certified infeasibility).
fn no_admissible_set(
    model: &MultistaticModel,
    selection: &Selection,
    start: Instant,
) -> MultistaticDesign {
    let reason = format!(
        "no receiver set meets the cost limit max_cost = {}",
        model.scenario.max_cost
    );
    let mut d = empty(
        DesignStatus::Infeasible {
            reason,
            certified: true,
        },
        model.receivers(),
        start,
    );
    d.selection_status = Some(selection.status);
    d.selection_candidates = selection.candidates;
    d.clustering = selection.clustering.clone();
    d
}

/// `W` from the scaled covariances and the independent evaluation of the result.
fn recover(
    model: &MultistaticModel,
    set: &[usize],
    selection: &Selection,
    qs: &[Mat<C64>],
) -> MultistaticDesign {
    let s = &model.scenario;
    let p_t = s.power_budget;
    let mut beamformers = Vec::with_capacity(qs.len());
    let mut ranks = Vec::with_capacity(qs.len());
    for q in qs {
        let (w, r) = recover_beamformer(&scaled(q, p_t), s.streams, p_t);
        beamformers.push(w);
        ranks.push(r);
    }
    let mut d = evaluate(model, set, &beamformers);
    d.selection_status = Some(selection.status);
    d.selection_candidates = selection.candidates;
    d.ranks = ranks;
    d
}

/// A violated constraint of the recovered `W`, if any (beyond [`RECHECK_TOL`]).
fn recheck(model: &MultistaticModel, d: &MultistaticDesign) -> Option<String> {
    let s = &model.scenario;
    match (d.min_rate_slack, d.power_excess) {
        (Some(sl), Some(pe)) if sl < -RECHECK_TOL * s.min_rate.max(1.0) || pe > RECHECK_TOL * s.power_budget => Some(format!(
            "recovered W violates a constraint: min rate slack {sl:.3e} bit/s/Hz, power excess {pe:.3e} W"
        )),
        _ => None,
    }
}

/// The largest relative violation of the re-checked constraints: rate shortfall
/// `-slack / max(R_th, 1)` and power excess `excess / P_T` (the scales of [`recheck`]);
/// 0 when both hold.
fn relative_violation(model: &MultistaticModel, d: &MultistaticDesign) -> f64 {
    let s = &model.scenario;
    let rate = d
        .min_rate_slack
        .map_or(f64::INFINITY, |sl| -sl / s.min_rate.max(1.0));
    let power = d
        .power_excess
        .map_or(f64::INFINITY, |pe| pe / s.power_budget);
    rate.max(power).max(0.0)
}

/// Rank-one TR-RE channels: the exact program of [`ScaProblem::solve_rank_one`] replaces
/// both SCA phases. `W-bar` for the selection is its solution with every RE selected and
/// `Q_0` removed (the selected REs cancel `Q_0`, so their rates do not change). `None` when
/// a solution fails the true-rate re-check (the caller then runs the SCA).
fn design_rank_one(
    model: &MultistaticModel,
    comm_only: &ScaProblem,
    factors: &[(f64, Vec<C64>)],
    start: Instant,
) -> Result<Option<MultistaticDesign>> {
    let s = &model.scenario;
    let k = model.receivers();
    let settings = SolverSettings::default();
    let infeasible = || {
        let reason = "the rate constraints admit no beamformer (exact convex program for rank-one channels; solver certificate)".to_string();
        let mut d = empty(
            DesignStatus::Infeasible {
                reason,
                certified: true,
            },
            k,
            start,
        );
        d.method = "exact-rank-one";
        Ok(Some(d))
    };
    let Some(mut all) = comm_only.solve_rank_one(factors, &settings)? else {
        return infeasible();
    };
    if comm_only.min_rate_slack(&all) < -RECHECK_TOL * s.min_rate.max(1.0) {
        return Ok(None);
    }
    let nt = s.tx_antennas;
    all[0] = Mat::zeros(nt, nt);
    let w_bar: Vec<Mat<C64>> = all.iter().map(|q| scaled(q, s.power_budget)).collect();
    let selection = select(model, &w_bar)?;
    if selection.status == SelectionStatus::Infeasible {
        return Ok(Some(no_admissible_set(model, &selection, start)));
    }
    let set = selection.set.clone();
    let problem = ScaProblem {
        selected: model.mask(&set),
        ..comm_only.clone()
    };
    let Some(qs) = problem.solve_rank_one(factors, &settings)? else {
        return infeasible();
    };
    let mut d = recover(model, &set, &selection, &qs);
    if recheck(model, &d).is_some() {
        return Ok(None);
    }
    d.method = "exact-rank-one";
    d.status = DesignStatus::solved(
        "exact convex program of the beamformers for the selected receivers (rank-one channels)",
    );
    d.solve_seconds = start.elapsed().as_secs_f64();
    Ok(Some(d))
}

/// Independent evaluation of beamformers `W_0..W_K` for the selection `set`: power,
/// rates (20)-(21), `U` (17), position CRBs, cost, FIMs, all from `W` alone.
pub fn evaluate(
    model: &MultistaticModel,
    set: &[usize],
    beamformers: &[Mat<C64>],
) -> MultistaticDesign {
    let s = &model.scenario;
    let qs: Vec<Mat<C64>> = beamformers.iter().map(outer).collect();
    let q = total_covariance(&qs);
    let power: f64 = beamformers
        .iter()
        .map(|w| {
            w.col_iter()
                .map(|c| c.iter().map(|z| z.norm_sqr()).sum::<f64>())
                .sum::<f64>()
        })
        .sum();
    let rates = model.rates(&qs, &model.mask(set));
    let min_slack = rates
        .iter()
        .map(|r| r - s.min_rate)
        .fold(f64::INFINITY, f64::min);
    let (pos, vel, pos_known) = model.position_crbs(set, &q);
    MultistaticDesign {
        status: DesignStatus::solved(""),
        method: "sca",
        selected: set.to_vec(),
        selection_status: None,
        selection_candidates: 0,
        clustering: None,
        crb: Some(model.crb(set, &q)),
        crb_normalised: Some(model.crb_normalised(set, &q)),
        position_crb: pos,
        velocity_crb: vel,
        position_crb_known_velocity: pos_known,
        rates,
        cost: model.cost(set),
        power: Some(power),
        beamformers: beamformers.to_vec(),
        ranks: Vec::new(),
        fims: model.fims(&q),
        feasibility_iterations: 0,
        sca_iterations: 0,
        crb_history: Vec::new(),
        non_monotone_steps: Vec::new(),
        min_rate_slack: Some(min_slack),
        power_excess: Some(power - s.power_budget),
        solve_seconds: 0.0,
        phase_seconds: PhaseSeconds::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Beamformers with twice the budget: the rates only grow with power, so the largest
    /// relative violation is exactly the power excess over the budget, 1.
    #[test]
    fn relative_violation_of_a_design_over_budget_is_its_power_excess() {
        let model = MultistaticModel::new(
            super::super::MultistaticScenario::from_table(&toml::Table::new()).unwrap(),
        );
        let s = &model.scenario;
        let nt = s.tx_antennas;
        let users = model.receivers() + 1;
        let per = 2.0 * s.power_budget / (users * nt) as f64;
        let w: Vec<Mat<C64>> = (0..users)
            .map(|_| Mat::from_fn(nt, 1, |_, _| C64::new(per.sqrt(), 0.0)))
            .collect();
        let d = evaluate(&model, &[0], &w);
        let pe = d.power_excess.unwrap();
        assert!((pe / s.power_budget - 1.0).abs() < 1e-12, "{pe}");
        assert!(recheck(&model, &d).is_some());
        let rv = relative_violation(&model, &d);
        let rate_part = -d.min_rate_slack.unwrap() / s.min_rate.max(1.0);
        assert!((rv - 1.0_f64.max(rate_part)).abs() < 1e-12, "{rv}");
    }
}
