//! Experiment runner: base instance + sweeps + Monte Carlo -> CSV, JSON manifest, plots.

use crate::error::Result;

/// Flat, named metrics of one solved instance (one CSV row after the sweep keys).
pub type Metrics = serde_json::Map<String, serde_json::Value>;

/// A system that solves one instance given as a TOML table (the same keys as
/// `isac solve SYSTEM --input FILE.toml`). `Err` only for bad input or a genuine
/// failure; an infeasible design is an `Ok` with `status = "infeasible"`.
pub trait InstanceSolver: Sync {
    fn solve_instance(&self, instance: &toml::Table) -> Result<Metrics>;
}

mod config;
mod plot;
mod run;

pub use config::{linspace, logspace, value_text, ExperimentConfig, PlotSpec, Point, Sweep};
pub use plot::{ensure_font, log_tick, plot_lines, PlotStyle, Series};
pub use run::{
    csv_field, derive_seed, plot_series, results_csv, rfc3339, run_experiment, seeds, splitmix64,
    Row, RunOptions, RunSummary,
};
