//! The whole network design for one scenario: the method's candidates, the programs, the
//! winner and its independent re-check.

use std::time::Instant;

use rand::{Rng, SeedableRng};

use crate::conic::SolverSettings;
use crate::error::{IsacError, Result};

use super::algorithm::algorithm1;
use super::model::NetworkModel;
use super::program::NetworkDesign;
use super::scenario::Method;
use super::search::{search, search_associations, transmitters, SearchResult};
use super::verify::{verify, Verification};

/// Outcome of a design.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkStatus {
    /// Every candidate program solved or certified; the winner passes the re-check: the
    /// exact optimum over the candidates of the method (all of them for `exhaustive`).
    Optimal,
    /// A heuristic's structure (Algorithm 1, Schemes 1-3), its program solved to
    /// optimality, the design re-checked; `note` says how the structure was found.
    Solved { note: String },
    /// No candidate is feasible; `certified` when every candidate was proven infeasible.
    Infeasible { reason: String, certified: bool },
    /// A design exists but the solver did not certify it, or the re-check found a violation.
    Inaccurate(String),
}

impl NetworkStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            NetworkStatus::Optimal => "optimal",
            NetworkStatus::Solved { .. } => "solved",
            NetworkStatus::Infeasible { .. } => "infeasible",
            NetworkStatus::Inaccurate(_) => "inaccurate",
        }
    }
}

/// The answer of [`design`].
#[derive(Debug, Clone)]
pub struct NetworkAnswer {
    pub status: NetworkStatus,
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
        Method::Proposed => match algorithm1(model, settings) {
            Err(e) => {
                let status = NetworkStatus::Inaccurate(format!("Algorithm 1 could not start: {e}"));
                return Ok(no_design(status, sc.method, start));
            }
            Ok(Some(res)) => {
                let (r, assoc) = res.state.rounded();
                iterations = res.iterations();
                history = res.history.iter().map(|h| h.objective).collect();
                binary_gap = Some(res.state.binary_gap());
                let gap = res.state.binary_gap();
                if let crate::iterate::StopReason::Failed(e) = &res.reason {
                    ao_failure = Some(format!(
                        "Algorithm 1 stopped after {iterations} iterations: {e}"
                    ));
                }
                ao_note = Some(if gap <= super::algorithm::BINARY_TOL {
                    format!("Algorithm 1 reached binary b, a after {iterations} iterations")
                } else {
                    format!(
                        "Algorithm 1 stalled after {iterations} iterations at fractional b, a (largest distance from binary {gap:.3}); receiver and association rounded"
                    )
                });
                candidate = Some((r, assoc.clone()));
                search(model, &[r], Some(&assoc), settings)?
            }
            Ok(None) => {
                let status = NetworkStatus::Infeasible {
                    reason: "the starting relaxation of Algorithm 1 (b_s = 1 - 1/S) is infeasible"
                        .into(),
                    certified: false,
                };
                return Ok(no_design(status, sc.method, start));
            }
        },
    };
    let (status, verification) = match &result.best {
        Some(d) => {
            let v = verify(model, d);
            let status = if !v.violations.is_empty() {
                NetworkStatus::Inaccurate(format!("re-check: {}", v.violations.join("; ")))
            } else if let Some(note) = &ao_failure {
                NetworkStatus::Inaccurate(note.clone())
            } else if result.inaccurate > 0 {
                NetworkStatus::Inaccurate(format!(
                    "{} of {} candidate programs were neither solved nor certified infeasible; the optimum may be among them",
                    result.inaccurate, result.candidates
                ))
            } else if sc.method == Method::Exhaustive {
                NetworkStatus::Optimal
            } else {
                NetworkStatus::Solved {
                    note: ao_note.clone().unwrap_or_else(|| {
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
                    "every candidate is infeasible ({} candidates, {} decided by the CRLB floor)",
                    result.candidates, result.pruned
                )
            } else {
                format!(
                    "no candidate solved: {} infeasible, {} not certified",
                    result.infeasible, result.inaccurate
                )
            };
            (NetworkStatus::Infeasible { reason, certified }, None)
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
        solve_seconds: start.elapsed().as_secs_f64(),
    })
}

/// An answer without a design.
fn no_design(status: NetworkStatus, method: Method, start: Instant) -> NetworkAnswer {
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
        solve_seconds: start.elapsed().as_secs_f64(),
    }
}
