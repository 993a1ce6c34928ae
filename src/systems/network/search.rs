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

use super::model::NetworkModel;
use super::program::{crlb_floor, solve_fixed, NetworkDesign, ProgramStatus, CERTIFICATE_MARGIN};

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
    /// Candidates decided without solving them (by a bound).
    pub pruned: usize,
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

/// Solves every association in `candidates` with receiving BS `r` and the BSs
/// `active` transmitting.
pub fn search_associations(
    model: &NetworkModel,
    r: usize,
    active: &[usize],
    candidates: &[Vec<usize>],
    settings: &SolverSettings,
) -> Result<SearchResult> {
    let fim = model.fim_map_at(r, active, model.scenario.target)?;
    // a receiver whose CRLB floor (every other BS at full power, no SINR) exceeds epsilon
    // cannot be feasible with any association
    if let Some(floor) = crlb_floor(model, &fim, settings)? {
        if floor > model.scenario.max_crlb * (1.0 + CERTIFICATE_MARGIN) {
            return Ok(SearchResult {
                programs: 1,
                candidates: candidates.len(),
                infeasible: candidates.len(),
                pruned: candidates.len(),
                per_receiver: vec![(r, None)],
                ..SearchResult::default()
            });
        }
    }
    let answers: Vec<Result<(ProgramStatus, Option<NetworkDesign>)>> = candidates
        .par_iter()
        .map(|a| solve_fixed(model, &fim, a, settings))
        .collect();
    let mut out = SearchResult {
        programs: candidates.len() + 1,
        candidates: candidates.len(),
        ..SearchResult::default()
    };
    for ans in answers {
        let (status, design) = ans?;
        match status {
            ProgramStatus::Optimal => {
                let d = design.expect("optimal programs return a design");
                if out.best.as_ref().is_none_or(|b| d.objective < b.objective) {
                    out.best = Some(d);
                }
            }
            ProgramStatus::Infeasible => out.infeasible += 1,
            ProgramStatus::Inaccurate(_) => out.inaccurate += 1,
        }
    }
    out.per_receiver = vec![(r, out.best.as_ref().map(|d| d.objective))];
    Ok(out)
}

/// Searches every receiving BS in `receivers` and, for each, every association in
/// `fixed` (or all of them): the exact optimum over that set.
pub fn search(
    model: &NetworkModel,
    receivers: &[usize],
    fixed: Option<&[usize]>,
    settings: &SolverSettings,
) -> Result<SearchResult> {
    let mut out = SearchResult::default();
    for &r in receivers {
        let active = transmitters(model, r);
        let cands = match fixed {
            Some(a) => vec![a.to_vec()],
            None => associations(model.user_count(), &active),
        };
        let res = search_associations(model, r, &active, &cands, settings)?;
        out.programs += res.programs;
        out.candidates += res.candidates;
        out.infeasible += res.infeasible;
        out.inaccurate += res.inaccurate;
        out.pruned += res.pruned;
        out.per_receiver.extend(res.per_receiver);
        if let Some(d) = res.best {
            if out.best.as_ref().is_none_or(|b| d.objective < b.objective) {
                out.best = Some(d);
            }
        }
    }
    Ok(out)
}

/// The exact optimum: every receiving BS and every association.
pub fn exhaustive(model: &NetworkModel, settings: &SolverSettings) -> Result<SearchResult> {
    let all: Vec<usize> = (0..model.bs_count()).collect();
    search(model, &all, None, settings)
}
