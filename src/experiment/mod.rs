//! Experiment runner: base instance + sweeps + Monte Carlo -> CSV, JSON manifest, plots.
//!
//! An experiment file (TOML):
//!
//! ```toml
//! [experiment]
//! name = "backscatter-fig5a"      # required
//! system = "backscatter"          # required; resolved by the caller
//! title = "CRB vs minimum sum rate"   # optional, default plot title
//! output = "out/backscatter-fig5a"    # optional, default out/<name>
//! repetitions = 1                 # Monte Carlo repetitions per point (>= 1)
//! seed = 1                        # base seed (>= 0)
//! common_random_numbers = false   # true: repetition r has the same seed at every point
//!
//! [base]                          # the base instance: any input keys
//! tx_antennas = 8
//!
//! [[sweep]]                       # cartesian product, first sweep outermost
//! key = "pulse"                   # a dotted key `a.b` sets b inside table a
//! values = ["cosine", "sinc"]
//! [[sweep]]
//! key = "min_sum_rate"
//! linspace = [0.0, 0.07, 26]      # or logspace = [a_exp, b_exp, n]
//! [[sweep]]                       # zipped keys move together
//! keys = ["tx_antennas", "rx_antennas"]
//! values = [[4, 8], [8, 4]]
//!
//! [plot]                          # or [[plot]] several times
//! name = "crb"                    # optional file stem, default <ys>_vs_<x>
//! x = "min_sum_rate"              # sweep key or metric
//! y = "crb"                       # or ys = ["crb_delay", "crb_doa"]
//! series = "pulse"                # sweep key(s): one line per value
//! log_x = false
//! log_y = true
//! x_label = "minimum sum rate (bit/s/Hz)"
//! y_label = "CRB"
//! legend = ["CRB"]                # optional: one display name per metric of `ys`
//! along = "alpha"                 # optional: a swept key tracing each line (x, y metrics)
//! x_range = [0.028, 0.048]       # optional fixed frames (lines clipped at them)
//! y_range = [0.01, 0.06]
//! markers_by = "scheme"           # optional: a `series` key picking line style + marker
//!                                 # (the other keys pick the colour)
//! markers = true                  # false: lines only (dense curves)
//! title = "..."                   # optional
//! rows = "feasible"               # y = mean over feasible repetitions; "all": every one
//! [plot.only]                     # optional: only these values of swept keys
//! pulse = ["cosine"]
//! [plot.value_names.pulse]        # optional: display names of a series key's values
//! cosine = "Cosine pulse"
//!
//! [[plot]]                        # a records plot: x and ys are fields of the records
//! records = "history"             # a records metric (see below)
//! x = "iteration"                 # a record field; "iteration": the record's index
//! y = "objective"                 #   when the records have no such field
//! series = "pulse"                # one line per point, y averaged over its repetitions
//!                                 # record by record; series / only / value_names /
//!                                 # legend / markers_by as above
//! [[plot]]                        # history = true: records = "history", x = "iteration"
//! history = true
//! x = "iteration"
//! y = "objective"
//!
//! [[plot]]                        # a heatmap: one panel per point (passing `only`)
//! kind = "heatmap"                # default "lines"
//! name = "maps"                   # optional file stem, default <records>_<z>
//! records = "beampattern"         # required: the records metric drawn
//! x = "x"                         # required: record field of the grid's columns
//! y = "y"                         # required: record field of the grid's rows
//! z = "gain_db"                   # required: record field of the colour (null: grey)
//! marks = "targets"               # optional: records metric of points to mark (fields
//! mark_label = "object"           #   x, y and mark_label, default "object")
//! columns = 4                     # optional: panels per row (1..=64, default 4)
//! z_label = "gain (dB)"           # optional: colour bar label, default z
//! z_range = [-30.0, 0.0]          # optional: colour scale, default the data's range
//! series = "pulse"                # optional: panel titles (as line names); without
//!                                 #   it the point's swept assignments
//! x_label = "x (m)"               # optional, also y_label, title, only, value_names
//! ```
//!
//! A heatmap's panel shows the records of the point's first repetition that has them:
//! the grid is the sorted distinct values of the fields `x` and `y`, each record fills
//! its cell in a viridis colour of `z`. `log_x`, `log_y`, `along`, `history`, `ys`,
//! `legend`, `markers_by`, `x_range`, `y_range` and `rows` are errors with a heatmap;
//! `z`, `marks`, `mark_label`, `columns`, `z_label` and `z_range` are errors without one.
//!
//! Limits (checked when the file is read): at most [`MAX_SWEEP_VALUES`] values per sweep,
//! [`MAX_POINTS`] points in the grid and [`MAX_ROWS`] rows = points x repetitions; counts
//! are integers written without a decimal point (`1e6` is a float in TOML).
//!
//! Errors name the key (`experiment.name`, `sweep[2].linspace`, `plot.colour`;
//! `sweep[i]`/`plot[i]` count from 1). Every (point, repetition) gets the
//! instance key `seed` = [`derive_seed`]`(seed, point, repetition)`, unless
//! the instance sets `seed` itself and `repetitions = 1`. With
//! `common_random_numbers = true` the seed is `derive_seed(seed, 0, repetition)` at every
//! point: every swept value sees the same drops, so differences between points are not
//! Monte Carlo noise.
//!
//! Outputs in the folder: `results.csv` (point, repetition, seed, sweep keys,
//! then metrics: `status` first, `error` last), one `NAME.csv` per records metric,
//! `manifest.json` (listing the files written), one SVG + PNG per plot, and the journal `results.partial.jsonl` that makes an interrupted
//! run resumable (rows with status "error" are retried; a changed experiment
//! (hash of system, repetitions, seed, base and sweeps) starts over, and so does a
//! journal written by another build of isac, [`crate::BUILD`]: the git commit, `+dirty`
//! for uncommitted sources, which two dirty builds share).
//!
//! A *records metric* is a metric whose value is a non-empty list of objects in some
//! row (and always `history`, an iterative design's convergence history): it is not a
//! column of `results.csv` but the lines of `NAME.csv` (point, repetition, seed, sweep
//! keys, then `iteration` (the record's own field, else its index; for other records
//! than `history` only when some record has that field) and the records' fields in order
//! of first appearance), see [`records_csv`]. A name that is not a plain file name, or
//! is `results` or `manifest`, is not written.

use crate::error::Result;

pub use crate::report::{complex_matrix_json, complex_vector_json, Metrics};

/// A system that solves one instance given as a TOML table (the same keys as
/// `isac solve SYSTEM --input FILE.toml`). `Err` only for bad input or a genuine
/// failure; an infeasible design is an `Ok` with `status = "infeasible"`.
pub trait InstanceSolver: Sync {
    fn solve_instance(&self, instance: &toml::Table) -> Result<Metrics>;
}

mod config;
mod plot;
mod run;

pub use config::{
    linspace, logspace, value_text, ExperimentConfig, PlotKind, PlotSpec, Point, Sweep,
    HEATMAP_COLUMNS, MAX_POINTS, MAX_ROWS, MAX_SWEEP_VALUES,
};
pub use plot::{
    ensure_font, log_tick, plot_heatmaps, plot_lines, viridis, HeatmapPanel, HeatmapStyle,
    PlotStyle, Series,
};
pub use run::{
    csv_field, derive_seed, heatmap_panels, history_csv, plot_series, records_csv, records_metrics,
    results_csv, rfc3339, run_experiment, seeds, splitmix64, Row, RunOptions, RunSummary, HISTORY,
    MAX_HEATMAP_CELLS,
};
