//! One module per paper. Each holds only what is specific to its system (model,
//! problem, algorithm steps, baselines, figure configs) and reuses the shared core.
//!
//! # Adding a system
//! Implement [`System`] once (name, input keys, solve, figures, benchmark) in the paper's
//! module and add it to [`all`]. The command line (`isac solve | run | reproduce | list |
//! bench`) and the experiment runner reach every system only through this trait, so
//! nothing else changes.

pub mod backscatter;
pub mod bpms;
pub mod multistatic;
pub mod nearfield;
pub mod network;

use crate::error::{IsacError, Result};
use crate::experiment::InstanceSolver;
use crate::report::Answer;

/// A system `isac` can solve. The experiment runner's [`InstanceSolver`] (one flat CSV row
/// per instance) is the supertrait, so every system is also an experiment target.
pub trait System: InstanceSolver {
    /// The name used on the command line and in experiment files (`system = "..."`).
    fn name(&self) -> &'static str;
    /// The paper it implements (file in `shared/papers/` and authors).
    fn paper(&self) -> &'static str;
    /// One line: the design problem.
    fn summary(&self) -> &'static str;
    /// Every key an instance file may hold (anything else is rejected as unknown).
    fn input_keys(&self) -> &'static [&'static str];
    /// Solves one instance given as a TOML table: the JSON answer and the summary lines.
    fn solve(&self, instance: &toml::Table) -> Result<Answer>;
    /// The reproducible figures: `(id, embedded experiment config)`.
    fn figures(&self) -> &'static [(&'static str, &'static str)];
    /// Times the solver on the system's benchmark instance (best of `repeat`).
    fn bench(&self, repeat: usize) -> Result<BenchReport>;
    /// Instances and our answers for the independent (numpy + CVXPY) checker, if the system
    /// has one that reads them; `None`: the system has no such export.
    fn cross_check(&self) -> Result<Option<CrossCheck>> {
        Ok(None)
    }
    /// Further benchmarks of the system, `(name, run)`: `isac bench NAME` (the name
    /// starts with the system's).
    fn extra_benches(&self) -> &'static [(&'static str, BenchRun)] {
        &[]
    }
}

/// A benchmark: runs it with `repeat` repetitions.
pub type BenchRun = fn(usize) -> Result<BenchReport>;

/// What a benchmark measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Human lines: the instance, then one timing per line.
    pub lines: Vec<String>,
    /// The instances and our results, for the peer script that times CVXPY on the same
    /// problem.
    pub export: serde_json::Value,
    /// The peer command, with `{export}` standing for the exported file.
    pub peer: &'static str,
}

/// Cross-check instances with our answers, for the system's reference script.
#[derive(Debug, Clone)]
pub struct CrossCheck {
    pub export: serde_json::Value,
    /// One line saying what was written (`{export}` stands for the file).
    pub message: String,
    /// The checker command, with `{export}` standing for the exported file.
    pub checker: &'static str,
}

static SYSTEMS: [&dyn System; 5] = [
    &backscatter::BackscatterSystem,
    &multistatic::MultistaticSystem,
    &network::NetworkSystem,
    &nearfield::NearfieldSystem,
    &bpms::BpmsSystem,
];

/// Every system, in the order `isac list` shows them.
pub fn all() -> &'static [&'static dyn System] {
    &SYSTEMS
}

/// Looks a system up by name.
pub fn find(name: &str) -> Option<&'static dyn System> {
    all().iter().copied().find(|s| s.name() == name)
}

/// Names of all systems, for error messages.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|s| s.name()).collect()
}

/// Looks a system up by name; an unknown name is an input error on `key` listing the
/// systems.
pub fn lookup(name: &str, key: &str) -> Result<&'static dyn System> {
    find(name).ok_or_else(|| {
        IsacError::input(
            key,
            format!(
                "unknown system \"{name}\"; allowed: {}",
                names().join(" | ")
            ),
        )
    })
}

/// Every reproducible figure of every system: `(id, embedded config)`.
pub fn figures() -> Vec<(&'static str, &'static str)> {
    all()
        .iter()
        .flat_map(|s| s.figures().iter().copied())
        .collect()
}

/// Names `isac bench` accepts: every system, then the shared core's benchmarks.
pub fn bench_names() -> Vec<&'static str> {
    let mut all = names();
    for s in SYSTEMS.iter() {
        all.extend(s.extra_benches().iter().map(|(n, _)| *n));
    }
    all.push("conic");
    all
}

/// `isac bench conic`: the conic layer on an SDP of the near-field kind (a 64 x 64
/// Hermitian PSD covariance, CRB LMIs, SINR-type rows; `crate::conic::bench`), build and
/// solve times, best of `repeat` (the same seeded program every time).
fn bench_conic(repeat: usize) -> Result<BenchReport> {
    use crate::conic::bench::{bench_hermitian_sdp, HermitianSdpShape};
    let shape = HermitianSdpShape::default();
    let settings = crate::conic::SolverSettings::default();
    let mut best: Option<crate::conic::bench::HermitianSdpBench> = None;
    for _ in 0..repeat {
        let b = bench_hermitian_sdp(shape, 1, &settings)?;
        if best
            .as_ref()
            .is_none_or(|x| b.build_seconds + b.solve_seconds < x.build_seconds + x.solve_seconds)
        {
            best = Some(b);
        }
    }
    let b = best.ok_or_else(|| IsacError::input("--repeat", "must be at least 1"))?;
    Ok(BenchReport {
        lines: vec![
            format!(
                "conic layer: {}x{} Hermitian PSD covariance, {} targets x {} parameters CRB LMIs, {} SINR rows; {} variables, {} rows; 1 thread, best of {repeat}:",
                shape.antennas, shape.antennas, shape.targets, shape.parameters, shape.users, b.variables, b.rows
            ),
            format!(
                "  build {:.4} s (modelling {:.4} s + lowering {:.4} s), solve {:.3} s: build/solve {:.2e}",
                b.build_seconds,
                b.model_seconds,
                b.lower_seconds,
                b.solve_seconds,
                b.build_seconds / b.solve_seconds
            ),
            format!(
                "  {} ({} interior-point iterations), objective {:.10e}, largest scaled violation {:.2e}",
                b.status, b.iterations, b.objective, b.violation
            ),
        ],
        export: b.to_json(),
        peer: "python/conic_reference.py {export}",
    })
}

/// Runs the benchmark called `name` (a system's, or a core one) with `repeat` repetitions.
pub fn bench(name: &str, repeat: usize) -> Result<BenchReport> {
    if name == "conic" {
        return bench_conic(repeat);
    }
    for s in SYSTEMS.iter() {
        if let Some((_, run)) = s.extra_benches().iter().find(|(n, _)| *n == name) {
            return run(repeat);
        }
    }
    match find(name) {
        Some(system) => system.bench(repeat),
        None => Err(IsacError::input(
            "SYSTEM",
            format!(
                "no benchmark \"{name}\"; allowed: {}",
                bench_names().join(" | ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_figure_ids_are_unique_and_prefixed() {
        let names = names();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        let ids: Vec<&str> = figures().iter().map(|(id, _)| *id).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "duplicate figure id");
        for s in all() {
            for (id, _) in s.figures() {
                assert!(
                    id.starts_with(s.name()),
                    "{id} is not prefixed by {}",
                    s.name()
                );
            }
            for (bench, _) in s.extra_benches() {
                assert!(bench.starts_with(s.name()), "bench {bench} of {}", s.name());
            }
            assert!(
                s.input_keys().contains(&"seed"),
                "{}: experiments set `seed`",
                s.name()
            );
            for (id, text) in s.figures() {
                let c = crate::experiment::ExperimentConfig::from_toml_str(text).unwrap();
                assert_eq!(c.system, s.name(), "{id}");
            }
        }
    }

    #[test]
    fn unknown_system_names_the_key() {
        let e = lookup("nope", "experiment.system")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("experiment.system") && e.contains("backscatter"),
            "{e}"
        );
    }
}
