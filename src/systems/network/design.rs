//! The whole network design for one scenario: the method's candidates, the programs, the
//! winner and its independent re-check.

use std::time::Instant;

use rand::{Rng, SeedableRng};

use crate::conic::SolverSettings;
use crate::error::{IsacError, Result};
use crate::iterate::StopReason;

use super::algorithm::{algorithm1, Splitting};
use super::model::NetworkModel;
use super::program::NetworkDesign;
use super::scenario::Method;
use super::search::{search, search_associations, transmitters, SearchResult};
use super::verify::{verify, Verification};

pub use crate::status::DesignStatus;

/// The answer of [`design`].
#[derive(Debug, Clone)]
pub struct NetworkAnswer {
    pub status: DesignStatus,
    pub method: Method,
    pub design: Option<NetworkDesign>,
    pub verification: Option<Verification>,
    pub search: SearchResult,
    /// The single candidate `(receiving BS, association)` of Schemes 2-3 or of a fully
    /// fixed input, reported even when it is infeasible.
    pub candidate: Option<(usize, Vec<usize>)>,
    /// Algorithm 1: AO iterations, objective history (penalised), final distance of the
    /// relaxed binaries from {0, 1}.
    pub iterations: usize,
    pub history: Vec<f64>,
    pub binary_gap: Option<f64>,
    /// Algorithm 1: why the iteration driver stopped.
    pub stop_reason: Option<StopReason>,
    /// `joint`: the optimum of the convex relaxation of (8) that starts it, a lower bound
    /// of every design's total power (W).
    pub relaxation_bound: Option<f64>,
    pub solve_seconds: f64,
}

/// Seed stream of Scheme 2's random choices.
const RANDOM_STREAM: u64 = 0x5c4e_6d65_3200;

/// Solves the scenario with its `method`.
pub fn design(model: &NetworkModel, settings: &SolverSettings) -> Result<NetworkAnswer> {
    let start = Instant::now();
    let sc = &model.scenario;
    let s_count = model.bs_count();
    let fixed = sc.association.as_deref();
    let all: Vec<usize> = (0..s_count).collect();
    let (mut iterations, mut history, mut binary_gap) = (0, Vec::new(), None);
    let mut stop_reason = None;
    let mut relaxation_bound = None;
    let (mut ao_note, mut ao_failure): (Option<String>, Option<String>) = (None, None);
    let mut candidate = match (sc.receiving_bs, fixed) {
        (Some(r), Some(a)) => Some((r, a.to_vec())),
        _ => None,
    };
    let result = match sc.method {
        Method::Exhaustive => {
            let receivers = sc.receiving_bs.map(|r| vec![r]).unwrap_or(all);
            search(model, &receivers, fixed, settings)?
        }
        Method::Closest => {
            let r = model.closest_bs();
            if sc.receiving_bs.is_some_and(|x| x != r) {
                return Err(IsacError::input(
                    "receiving_bs",
                    format!("method \"closest\" receives at the BS closest to the target ({r})"),
                ));
            }
            search(model, &[r], fixed, settings)?
        }
        Method::Random => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(sc.seed ^ RANDOM_STREAM);
            let r = sc.receiving_bs.unwrap_or_else(|| rng.gen_range(0..s_count));
            let on = transmitters(model, r);
            let a: Vec<usize> = match fixed {
                Some(a) => a.to_vec(),
                None => (0..model.user_count())
                    .map(|_| on[rng.gen_range(0..on.len())])
                    .collect(),
            };
            candidate = Some((r, a.clone()));
            search(model, &[r], Some(&a), settings)?
        }
        Method::Bistatic => {
            // BS 1 transmits and serves every user, BS 2 receives (0-based 0 and 1)
            let a = vec![0; model.user_count()];
            candidate = Some((1, a.clone()));
            search_associations(model, 1, &[0], &[a], settings)?
        }
        Method::Proposed | Method::Joint => {
            let (splitting, name) = if sc.method == Method::Proposed {
                (Splitting::Alternating, "Algorithm 1")
            } else {
                (Splitting::Joint, "the joint penalty algorithm")
            };
            match algorithm1(model, splitting, settings) {
                Err(e) => {
                    let status =
                        DesignStatus::inaccurate(format!("{name} could not start: {e}"), None);
                    return Ok(no_design(status, sc.method, start));
                }
                Ok(Some(run)) => {
                    let res = &run.result;
                    let (r, assoc) = match splitting {
                        Splitting::Alternating => res.state.rounded(),
                        Splitting::Joint => res.state.rounded_by_signal(model),
                    };
                    iterations = res.iterations();
                    history = res.history.iter().map(|h| h.objective).collect();
                    let gap = res.state.binary_gap();
                    binary_gap = Some(gap);
                    if splitting == Splitting::Joint {
                        relaxation_bound = Some(run.start_power);
                    }
                    stop_reason = Some(res.reason.clone());
                    // why it stopped is the driver's reason; where, the final binaries
                    let at = if gap <= super::algorithm::BINARY_TOL {
                        "at binary b, a".to_string()
                    } else {
                        format!(
                            "at fractional b, a (largest distance from binary {gap:.3}); receiver and association rounded"
                        )
                    };
                    match &res.reason {
                        StopReason::Failed(e) => {
                            ao_failure =
                                Some(format!("{name} stopped after {iterations} iterations: {e}"));
                        }
                        StopReason::CriteriaMet(_) => {
                            ao_note = Some(format!(
                                "{name} reached binary b, a after {iterations} iterations ({})",
                                res.reason
                            ));
                        }
                        StopReason::MaxIterations => {
                            ao_note = Some(format!(
                                "{name} reached its iteration limit ({iterations}) {at}"
                            ));
                        }
                        StopReason::Stalled(rule) => {
                            ao_note = Some(format!(
                                "{name} stalled after {iterations} iterations ({rule}) {at}"
                            ));
                        }
                        other => {
                            ao_note = Some(format!(
                                "{name} stopped after {iterations} iterations ({other}) {at}"
                            ));
                        }
                    }
                    candidate = Some((r, assoc.clone()));
                    match splitting {
                        Splitting::Alternating => search(model, &[r], Some(&assoc), settings)?,
                        // every structure the penalty path rounded to, the best kept
                        Splitting::Joint => {
                            let found = search_structures(model, &run.structures, settings)?;
                            if let Some(d) = &found.best {
                                candidate = Some((d.receiver, d.association.clone()));
                            }
                            found
                        }
                    }
                }
                Ok(None) => {
                    // the joint start is a convex relaxation of (8): its infeasibility is
                    // a certificate; (23) at b = 1 - 1/S is not a relaxation
                    let (reason, certified) = match splitting {
                        Splitting::Joint => (
                            "the convex relaxation of (8) (big-M on every receiver) is infeasible, or a user or every receiver is out of reach (single-link power, CRLB floor)".to_string(),
                            true,
                        ),
                        Splitting::Alternating => (
                            "the starting program of Algorithm 1 ((23) at b_s = 1 - 1/S) is infeasible".to_string(),
                            false,
                        ),
                    };
                    let status = DesignStatus::Infeasible { reason, certified };
                    return Ok(no_design(status, sc.method, start));
                }
            }
        }
    };
    let (status, verification) = match &result.best {
        Some(d) => {
            let v = verify(model, d);
            let status = if !v.violations.is_empty() {
                DesignStatus::inaccurate(
                    format!("re-check: {}", v.violations.join("; ")),
                    Some(v.max_relative_violation),
                )
            } else if result.inaccurate > 0 {
                DesignStatus::inaccurate(format!(
                    "{} of {} candidate programs were neither solved nor certified infeasible; the optimum may be among them",
                    result.inaccurate, result.candidates
                ), None)
            } else if sc.method == Method::Exhaustive {
                DesignStatus::Optimal
            } else {
                // a heuristic that ended in a solver failure still hands over its last
                // good iterate; its structure's design is solved and re-checked like any
                DesignStatus::Solved {
                    note: ao_failure
                        .clone()
                        .or_else(|| ao_note.clone())
                        .unwrap_or_else(|| {
                            format!(
                                "the best design for the structure chosen by method \"{}\"",
                                sc.method.as_str()
                            )
                        }),
                }
            };
            (status, Some(v))
        }
        None => {
            let certified = result.inaccurate == 0;
            let reason = if certified {
                format!(
                    "every candidate is infeasible ({} candidates, {} decided by the CRLB floor){}",
                    result.candidates,
                    result.pruned,
                    ao_failure
                        .as_ref()
                        .map_or(String::new(), |f| format!("; {f}"))
                )
            } else {
                format!(
                    "no candidate solved: {} infeasible, {} not certified",
                    result.infeasible, result.inaccurate
                )
            };
            (DesignStatus::Infeasible { reason, certified }, None)
        }
    };
    Ok(NetworkAnswer {
        status,
        method: sc.method,
        design: result.best.clone(),
        verification,
        search: result,
        candidate,
        iterations,
        history,
        binary_gap,
        stop_reason,
        relaxation_bound,
        solve_seconds: start.elapsed().as_secs_f64(),
    })
}

/// The best design over the given `(receiver, association)` structures (each receiver's
/// structures searched together, with its bounds).
fn search_structures(
    model: &NetworkModel,
    structures: &[(usize, Vec<usize>)],
    settings: &SolverSettings,
) -> Result<SearchResult> {
    let mut receivers: Vec<usize> = structures.iter().map(|x| x.0).collect();
    receivers.sort_unstable();
    receivers.dedup();
    let mut out = SearchResult::default();
    for r in receivers {
        let assoc: Vec<Vec<usize>> = structures
            .iter()
            .filter(|x| x.0 == r)
            .map(|x| x.1.clone())
            .collect();
        let one = search_associations(model, r, &transmitters(model, r), &assoc, settings)?;
        out.programs += one.programs;
        out.candidates += one.candidates;
        out.infeasible += one.infeasible;
        out.inaccurate += one.inaccurate;
        out.pruned += one.pruned;
        out.bounded += one.bounded;
        out.per_receiver.extend(one.per_receiver);
        if let Some(d) = one.best {
            if out.best.as_ref().is_none_or(|b| d.objective < b.objective) {
                out.best = Some(d);
            }
        }
    }
    Ok(out)
}

/// An answer without a design.
fn no_design(status: DesignStatus, method: Method, start: Instant) -> NetworkAnswer {
    NetworkAnswer {
        status,
        method,
        design: None,
        verification: None,
        search: SearchResult::default(),
        candidate: None,
        iterations: 0,
        history: Vec::new(),
        binary_gap: None,
        stop_reason: None,
        relaxation_bound: None,
        solve_seconds: start.elapsed().as_secs_f64(),
    }
}
