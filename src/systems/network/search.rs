//! Exhaustive search over the receiving BS and the user association (each candidate one
//! program of [`super::program`]), and the baselines of Section IV built on it.
//!
//! The search is the exact optimum of (8) up to the SDR, which Theorem 1 (and the
//! construction in [`super::program`]) makes tight. Candidates are solved in parallel
//! (rayon, over associations); the winner is the smallest objective, ties broken by the
//! candidate's index, so the answer does not depend on the thread count.

use rayon::prelude::*;

use crate::conic::SolverSettings;
use crate::error::Result;

use super::model::FimMap;
use super::model::NetworkModel;
use super::program::{
    crlb_floor, sensing_power_floor, solve_fixed, user_power_floor, NetworkDesign, ProgramStatus,
    CERTIFICATE_MARGIN,
};

/// The result of a search over candidates.
#[derive(Debug, Clone, Default)]
pub struct SearchResult {
    /// The best optimal candidate, if any is feasible.
    pub best: Option<NetworkDesign>,
    /// Programs solved (candidates and bounds).
    pub programs: usize,
    /// Candidates `(receiver, association)` considered.
    pub candidates: usize,
    /// Candidates found infeasible.
    pub infeasible: usize,
    /// Candidates the solver could not certify (neither optimal nor infeasible).
    pub inaccurate: usize,
    /// Candidates proven infeasible without solving them (by the CRLB floor).
    pub pruned: usize,
    /// Candidates skipped because their power lower bound is not below the best design.
    pub bounded: usize,
    /// Best objective per receiving BS searched (`None`: every candidate infeasible).
    pub per_receiver: Vec<(usize, Option<f64>)>,
}

/// Every association of `users` users to the BSs in `transmitters`, in lexicographic
/// order of the transmitters' positions in that list.
pub fn associations(users: usize, transmitters: &[usize]) -> Vec<Vec<usize>> {
    let t = transmitters.len();
    if t == 0 {
        return Vec::new();
    }
    let total = t.pow(users as u32);
    (0..total)
        .map(|mut i| {
            let mut a = vec![0; users];
            for slot in a.iter_mut().rev() {
                *slot = transmitters[i % t];
                i /= t;
            }
            a
        })
        .collect()
}

/// The transmitting BSs when `r` receives.
pub fn transmitters(model: &NetworkModel, r: usize) -> Vec<usize> {
    (0..model.bs_count()).filter(|&s| s != r).collect()
}

/// Candidates solved together between two updates of the incumbent (fixed, so the set
/// of solved programs does not depend on the thread count).
pub const BATCH: usize = 16;

/// A receiving BS prepared for the search: its FIM map and its bounds.
struct Receiver {
    r: usize,
    fim: FimMap,
    /// Smallest total power meeting the CRLB alone (`None`: not certified).
    power_floor: Option<f64>,
}

/// The bounds of receiver `r` with the BSs `active` transmitting; `None` when the CRLB
/// floor proves every association infeasible.
fn prepare(
    model: &NetworkModel,
    r: usize,
    active: &[usize],
    settings: &SolverSettings,
) -> Result<Option<Receiver>> {
    let fim = model.fim_map_at(r, active, model.scenario.target)?;
    // a receiver whose CRLB floor (every other BS at full power, no SINR) exceeds epsilon
    // cannot be feasible with any association
    if let Some(floor) = crlb_floor(model, &fim, settings)? {
        if floor > model.scenario.max_crlb * (1.0 + CERTIFICATE_MARGIN) {
            return Ok(None);
        }
    }
    let power_floor = sensing_power_floor(model, &fim, settings)?;
    Ok(Some(Receiver {
        r,
        fim,
        power_floor,
    }))
}

/// Solves the candidates of one receiver in batches of [`BATCH`], skipping every
/// candidate whose lower bound `max(sensing floor, users' single-link floor)` is not below
/// the incumbent `best` (W).
fn solve_receiver(
    model: &NetworkModel,
    rx: &Receiver,
    candidates: &[Vec<usize>],
    best: &mut Option<NetworkDesign>,
    out: &mut SearchResult,
    settings: &SolverSettings,
) -> Result<()> {
    let floor = rx.power_floor.unwrap_or(0.0);
    // cheapest-looking first: the incumbent tightens early
    let mut order: Vec<(f64, usize)> = candidates
        .iter()
        .enumerate()
        .map(|(i, a)| (floor.max(user_power_floor(model, a)), i))
        .collect();
    order.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let mut receiver_best: Option<f64> = None;
    for batch in order.chunks(BATCH) {
        let todo: Vec<usize> = batch
            .iter()
            .filter(|(lb, _)| best.as_ref().is_none_or(|b| *lb < b.objective))
            .map(|&(_, i)| i)
            .collect();
        out.bounded += batch.len() - todo.len();
        let answers: Vec<Result<(ProgramStatus, Option<NetworkDesign>)>> = todo
            .par_iter()
            .map(|&i| solve_fixed(model, &rx.fim, &candidates[i], settings))
            .collect();
        out.programs += todo.len();
        for ans in answers {
            let (status, design) = ans?;
            match status {
                ProgramStatus::Optimal => {
                    let d = design.expect("optimal programs return a design");
                    if receiver_best.is_none_or(|b| d.objective < b) {
                        receiver_best = Some(d.objective);
                    }
                    if best.as_ref().is_none_or(|b| d.objective < b.objective) {
                        *best = Some(d);
                    }
                }
                ProgramStatus::Infeasible => out.infeasible += 1,
                ProgramStatus::Inaccurate(_) => out.inaccurate += 1,
            }
        }
    }
    out.per_receiver.push((rx.r, receiver_best));
    Ok(())
}

/// Solves every association in `candidates` with receiving BS `r` and the BSs
/// `active` transmitting (with the pruning of [`search`]).
pub fn search_associations(
    model: &NetworkModel,
    r: usize,
    active: &[usize],
    candidates: &[Vec<usize>],
    settings: &SolverSettings,
) -> Result<SearchResult> {
    let mut out = SearchResult {
        candidates: candidates.len(),
        ..SearchResult::default()
    };
    out.programs += 2;
    match prepare(model, r, active, settings)? {
        None => {
            out.infeasible = candidates.len();
            out.pruned = candidates.len();
            out.per_receiver = vec![(r, None)];
        }
        Some(rx) => {
            let mut best = None;
            solve_receiver(model, &rx, candidates, &mut best, &mut out, settings)?;
            out.best = best;
        }
    }
    Ok(out)
}

/// Searches every receiving BS in `receivers` and, for each, every association in
/// `fixed` (or all of them): the exact optimum over that set. Receivers whose CRLB floor
/// exceeds `epsilon` are infeasible as a whole; the others are searched in the order of
/// their sensing power floor, and a receiver (or a candidate) whose lower bound is not
/// below the best design found so far is skipped: it cannot hold a better design.
pub fn search(
    model: &NetworkModel,
    receivers: &[usize],
    fixed: Option<&[usize]>,
    settings: &SolverSettings,
) -> Result<SearchResult> {
    let mut out = SearchResult::default();
    let mut ready = Vec::new();
    for &r in receivers {
        let active = transmitters(model, r);
        let cands = match fixed {
            Some(a) => vec![a.to_vec()],
            None => associations(model.user_count(), &active),
        };
        out.candidates += cands.len();
        out.programs += 2;
        match prepare(model, r, &active, settings)? {
            None => {
                out.infeasible += cands.len();
                out.pruned += cands.len();
                out.per_receiver.push((r, None));
            }
            Some(rx) => ready.push((rx, cands)),
        }
    }
    ready.sort_by(|(a, _), (b, _)| {
        let key = |x: &Receiver| x.power_floor.unwrap_or(0.0);
        key(a).total_cmp(&key(b)).then(a.r.cmp(&b.r))
    });
    let mut best: Option<NetworkDesign> = None;
    for (rx, cands) in &ready {
        solve_receiver(model, rx, cands, &mut best, &mut out, settings)?;
    }
    out.best = best;
    Ok(out)
}

/// The exact optimum: every receiving BS and every association.
pub fn exhaustive(model: &NetworkModel, settings: &SolverSettings) -> Result<SearchResult> {
    let all: Vec<usize> = (0..model.bs_count()).collect();
    search(model, &all, None, settings)
}
