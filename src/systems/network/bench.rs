//! `isac bench network`: the Table II layout (defaults of `isac solve network`) timed for
//! one Algorithm 1 solve, one solve of its joint variant, one exhaustive search (every receiving BS x every association,
//! with the bounds of [`super::search`], parallel over the machine's cores) and single
//! fixed-structure programs on one thread; the export feeds
//! `python/network_reference.py --exhaustive`, which runs the same search in CVXPY.

use std::time::Instant;

use serde_json::{json, Value};

use crate::error::Result;

use super::model::NetworkModel;
use super::program::{program_settings, solve_fixed};
use super::scenario::{Method, NetworkScenario};
use super::search::{associations, transmitters};
use super::{design, design_json};

/// Timings of the benchmark (best of the repetitions).
#[derive(Debug, Clone)]
pub struct NetworkBench {
    pub proposed_seconds: f64,
    pub proposed_power_dbm: Option<f64>,
    /// The joint penalty variant (+ the programs of the structures it rounded to).
    pub joint_seconds: f64,
    pub joint_power_dbm: Option<f64>,
    pub exhaustive_seconds: f64,
    pub exhaustive_power_dbm: Option<f64>,
    pub candidates: usize,
    pub programs: usize,
    pub pruned: usize,
    pub bounded: usize,
    /// Mean seconds of one fixed-structure program on one thread (first receiver's first
    /// `sample` associations).
    pub program_seconds: f64,
    pub sample: usize,
    pub threads: usize,
    pub export: Value,
}

fn model(method: Method) -> Result<NetworkModel> {
    let table: toml::Table = "system = \"network\"".parse().expect("valid TOML");
    let mut sc = NetworkScenario::from_table(&table)?;
    sc.method = method;
    NetworkModel::new(sc)
}

/// Runs the benchmark `repeat` times and keeps the fastest of each part.
pub fn bench_table2(repeat: usize, sample: usize) -> Result<NetworkBench> {
    let settings = program_settings();
    let proposed = model(Method::Proposed)?;
    let joint = model(Method::Joint)?;
    let exhaustive = model(Method::Exhaustive)?;
    let mut best: Option<NetworkBench> = None;
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        let p = design(&proposed, &settings)?;
        let proposed_seconds = t0.elapsed().as_secs_f64();
        let tj = Instant::now();
        let j = design(&joint, &settings)?;
        let joint_seconds = tj.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let e = design(&exhaustive, &settings)?;
        let exhaustive_seconds = t1.elapsed().as_secs_f64();
        let fim = exhaustive.fim_map(0)?;
        let cands = associations(exhaustive.user_count(), &transmitters(&exhaustive, 0));
        let n = sample.min(cands.len()).max(1);
        let t2 = Instant::now();
        for a in cands.iter().take(n) {
            solve_fixed(&exhaustive, &fim, a, &settings)?;
        }
        let program_seconds = t2.elapsed().as_secs_f64() / n as f64;
        let power = |a: &super::NetworkAnswer| {
            a.verification
                .as_ref()
                .map(|v| crate::input::watts_to_dbm(v.total_power))
        };
        let mut export = design_json(&exhaustive, &e);
        export["bench"] = json!({
            "exhaustive_seconds": exhaustive_seconds,
            "program_seconds": program_seconds,
            "threads": rayon::current_num_threads(),
            "programs": e.search.programs,
        });
        let r = NetworkBench {
            proposed_seconds,
            proposed_power_dbm: power(&p),
            joint_seconds,
            joint_power_dbm: power(&j),
            exhaustive_seconds,
            exhaustive_power_dbm: power(&e),
            candidates: e.search.candidates,
            programs: e.search.programs,
            pruned: e.search.pruned,
            bounded: e.search.bounded,
            program_seconds,
            sample: n,
            threads: rayon::current_num_threads(),
            export,
        };
        best = Some(match best {
            None => r,
            Some(b) => NetworkBench {
                proposed_seconds: b.proposed_seconds.min(r.proposed_seconds),
                joint_seconds: b.joint_seconds.min(r.joint_seconds),
                exhaustive_seconds: b.exhaustive_seconds.min(r.exhaustive_seconds),
                program_seconds: b.program_seconds.min(r.program_seconds),
                ..r
            },
        });
    }
    Ok(best.expect("at least one repetition"))
}
