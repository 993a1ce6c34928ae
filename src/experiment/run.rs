//! Running an experiment: seeds, parallel solves, resume journal, CSV, manifest, plots.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::{json, Value as Json};
use toml::Value;

use super::config::{toml_to_json, value_text, ExperimentConfig, PlotKind, PlotSpec, Point};
use super::plot::{plot_heatmaps, plot_lines, HeatmapPanel, HeatmapStyle, PlotStyle, Series};
use super::{InstanceSolver, Metrics};
use crate::error::{IsacError, Result};

/// Options of [`run_experiment`] (the CLI fills them).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Output folder instead of `experiment.output`.
    pub output_override: Option<PathBuf>,
    /// No progress bar.
    pub quiet: bool,
    /// Size of a dedicated rayon pool; `None` uses the current pool.
    pub max_threads: Option<usize>,
}

/// What [`run_experiment`] did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Number of sweep points.
    pub points: usize,
    /// Number of result rows (points x repetitions).
    pub rows: usize,
    /// Rows solved in this run.
    pub solved: usize,
    /// Rows taken over from an interrupted run.
    pub reused: usize,
    /// Rows with status "error".
    pub errors: usize,
    pub folder: PathBuf,
    /// Files written (CSV, manifest, plots).
    pub files: Vec<PathBuf>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// SplitMix64 finaliser (bijective 64-bit mixing).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of (point, repetition) derived from the base seed; fits in a
/// non-negative TOML integer (63 bits).
pub fn derive_seed(base: u64, point: usize, repetition: usize) -> u64 {
    let h = splitmix64(base);
    let h = splitmix64(h ^ point as u64);
    let h = splitmix64(h ^ (repetition as u64).rotate_left(32) ^ 0x5EED);
    h >> 1
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub point: usize,
    pub repetition: usize,
    pub seed: u64,
    pub metrics: Metrics,
    pub seconds: f64,
}

struct Job {
    point: usize,
    repetition: usize,
    seed: u64,
    instance: toml::Table,
}

/// Build the instances (with seeds) of all points and repetitions, in row order.
fn build_jobs(config: &ExperimentConfig, points: &[Point]) -> Result<Vec<Job>> {
    let mut jobs = Vec::with_capacity(points.len() * config.repetitions);
    for p in points {
        let inst = config.instance(p)?;
        for r in 0..config.repetitions {
            let mut instance = inst.clone();
            let seed = match instance.get("seed") {
                Some(Value::Integer(s)) if config.repetitions == 1 && *s >= 0 => *s as u64,
                _ => {
                    let point = if config.common_random_numbers {
                        0
                    } else {
                        p.index
                    };
                    let s = derive_seed(config.seed, point, r);
                    instance.insert("seed".into(), Value::Integer(s as i64));
                    s
                }
            };
            jobs.push(Job {
                point: p.index,
                repetition: r,
                seed,
                instance,
            });
        }
    }
    Ok(jobs)
}

/// Seeds of every (point, repetition), in row order (for tests and tools).
pub fn seeds(config: &ExperimentConfig) -> Result<Vec<(usize, usize, u64)>> {
    Ok(build_jobs(config, &config.points())?
        .into_iter()
        .map(|j| (j.point, j.repetition, j.seed))
        .collect())
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> IsacError + '_ {
    move |e| IsacError::io(path.display().to_string(), e)
}

const JOURNAL: &str = "results.partial.jsonl";

fn row_json(r: &Row) -> Json {
    json!({"point": r.point, "repetition": r.repetition, "seed": r.seed,
           "seconds": r.seconds, "metrics": Json::Object(r.metrics.clone())})
}

fn row_from_json(v: &Json) -> Option<Row> {
    Some(Row {
        point: v.get("point")?.as_u64()? as usize,
        repetition: v.get("repetition")?.as_u64()? as usize,
        seed: v.get("seed")?.as_u64()?,
        seconds: v.get("seconds")?.as_f64()?,
        metrics: v.get("metrics")?.as_object()?.clone(),
    })
}

fn is_error(m: &Metrics) -> bool {
    m.get("status").and_then(Json::as_str) == Some("error")
}

/// Load the reusable rows of a previous run's journal (same hash, same seeds,
/// status other than "error"). Moves a journal of a different experiment aside.
fn load_journal(
    path: &Path,
    hash: &str,
    jobs: &[Job],
    reps: usize,
) -> Result<HashMap<(usize, usize), Row>> {
    let mut done = HashMap::new();
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
        Err(e) => return Err(IsacError::io(path.display().to_string(), e)),
    };
    let mut lines = text.lines();
    let header: Option<Json> = lines.next().and_then(|l| serde_json::from_str(l).ok());
    let old_hash = header
        .as_ref()
        .and_then(|h| h.get("experiment_hash"))
        .and_then(Json::as_str)
        .map(str::to_string);
    let old_build = header
        .as_ref()
        .and_then(|h| h.get("build"))
        .and_then(Json::as_str);
    if old_hash.as_deref() == Some(hash) && old_build != Some(crate::BUILD) {
        let aside = path.with_extension("jsonl.old");
        fs::rename(path, &aside).map_err(io_err(path))?;
        eprintln!(
            "isac: the results in {} were computed by another build of isac ({}, this is {}); starting over (old journal moved to {})",
            path.parent().unwrap_or(Path::new(".")).display(),
            old_build.unwrap_or("unrecorded"),
            crate::BUILD,
            aside.display()
        );
        return Ok(done);
    }
    if old_hash.as_deref() != Some(hash) {
        let aside = path.with_extension("jsonl.old");
        fs::rename(path, &aside).map_err(io_err(path))?;
        eprintln!(
            "isac: the experiment changed since the results in {} were computed; starting over (old journal moved to {}; results.csv will be overwritten)",
            path.parent().unwrap_or(Path::new(".")).display(),
            aside.display()
        );
        return Ok(done);
    }
    for line in lines {
        // A line cut by an interruption does not parse and is simply ignored.
        let Some(row) = serde_json::from_str::<Json>(line)
            .ok()
            .as_ref()
            .and_then(row_from_json)
        else {
            continue;
        };
        let idx = row.point * reps + row.repetition;
        let matches = row.repetition < reps
            && jobs
                .get(idx)
                .is_some_and(|j| j.point == row.point && j.seed == row.seed);
        if matches && !is_error(&row.metrics) {
            done.insert((row.point, row.repetition), row);
        }
    }
    Ok(done)
}

/// Rewrite the journal with only the header and reusable rows (drops cut lines).
fn start_journal(
    path: &Path,
    config: &ExperimentConfig,
    hash: &str,
    done: &[&Row],
) -> Result<File> {
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        let mut text =
            json!({"experiment_hash": hash, "name": config.name, "version": crate::VERSION, "build": crate::BUILD})
                .to_string();
        text.push('\n');
        for r in done {
            text.push_str(&row_json(r).to_string());
            text.push('\n');
        }
        f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err(path))?;
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(path))
}

fn solve(solver: &dyn InstanceSolver, job: &Job) -> (Row, Option<IsacError>) {
    let t = Instant::now();
    // A panicking solver is recorded as an error row instead of killing the run.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        solver.solve_instance(&job.instance)
    }))
    .unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(IsacError::Numerical(format!("solver panicked: {msg}")))
    });
    let (metrics, err) = match result {
        Ok(m) => (m, None),
        Err(e) => {
            let mut m = Metrics::new();
            m.insert("status".into(), "error".into());
            m.insert("error".into(), e.to_string().into());
            (m, Some(e))
        }
    };
    let row = Row {
        point: job.point,
        repetition: job.repetition,
        seed: job.seed,
        metrics,
        seconds: t.elapsed().as_secs_f64(),
    };
    (row, err)
}

/// Run the experiment: solve every point and repetition (in parallel, resuming
/// an interrupted run), write `results.csv`, `manifest.json` and the plots.
pub fn run_experiment(
    config: &ExperimentConfig,
    solver: &dyn InstanceSolver,
    options: &RunOptions,
) -> Result<RunSummary> {
    match options.max_threads {
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| IsacError::input("max_threads", e.to_string()))?;
            pool.install(|| run_in_pool(config, solver, options))
        }
        None => run_in_pool(config, solver, options),
    }
}

fn run_in_pool(
    config: &ExperimentConfig,
    solver: &dyn InstanceSolver,
    options: &RunOptions,
) -> Result<RunSummary> {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let folder = options
        .output_override
        .clone()
        .unwrap_or_else(|| config.output.clone());
    fs::create_dir_all(&folder).map_err(io_err(&folder))?;
    let points = config.points();
    let reps = config.repetitions;
    let hash = config.content_hash();
    let jobs = build_jobs(config, &points)?;

    let journal_path = folder.join(JOURNAL);
    let done = load_journal(&journal_path, &hash, &jobs, reps)?;
    let reused = done.len();
    if reused > 0 && !options.quiet {
        eprintln!(
            "isac: resuming `{}`: {} of {} rows already done in {}",
            config.name,
            reused,
            jobs.len(),
            journal_path.display()
        );
    }
    let mut done_sorted: Vec<&Row> = done.values().collect();
    done_sorted.sort_by_key(|r| (r.point, r.repetition));
    let journal = Mutex::new(start_journal(&journal_path, config, &hash, &done_sorted)?);
    let append = |row: &Row| -> Result<()> {
        let mut line = row_json(row).to_string();
        line.push('\n');
        let mut f = journal.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes()).map_err(io_err(&journal_path))
    };

    let pending: Vec<&Job> = jobs
        .iter()
        .filter(|j| !done.contains_key(&(j.point, j.repetition)))
        .collect();
    let target = if options.quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(pending.len() as u64), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {wide_bar} {pos}/{len} [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(config.name.clone());

    let mut new_rows: Vec<Row> = Vec::with_capacity(pending.len());
    let mut rest: &[&Job] = &pending;
    // The very first point runs alone: an input error there means the
    // experiment file (base or sweep values) is wrong, so abort.
    if let Some(first) = pending
        .first()
        .filter(|j| j.point == 0 && j.repetition == 0)
    {
        let (row, err) = solve(solver, first);
        if let Some(e @ IsacError::Input { .. }) = err {
            bar.finish_and_clear();
            return Err(e);
        }
        append(&row)?;
        bar.inc(1);
        new_rows.push(row);
        rest = &pending[1..];
    }
    let solved: Vec<Row> = rest
        .par_iter()
        .map(|job| {
            let (row, _) = solve(solver, job);
            append(&row)?;
            bar.inc(1);
            Ok(row)
        })
        .collect::<Result<Vec<Row>>>()?;
    bar.finish_and_clear();
    new_rows.extend(solved);
    let solved_count = new_rows.len();
    let threads = rayon::current_num_threads();
    drop(journal);

    let mut rows: Vec<Row> = done.into_values().chain(new_rows).collect();
    rows.sort_by_key(|r| (r.point, r.repetition));
    let errors = rows.iter().filter(|r| is_error(&r.metrics)).count();

    let mut files = vec![];
    let csv_path = folder.join("results.csv");
    write_atomic(&csv_path, &results_csv(config, &points, &rows))?;
    files.push(csv_path);
    for name in records_metrics(&rows) {
        let Some(file) = records_file_name(&name) else {
            if !options.quiet {
                eprintln!("isac: the records metric `{name}` is not written: its name is not a plain file name other than results / manifest");
            }
            continue;
        };
        if let Some(text) = records_csv(config, &points, &rows, &name) {
            let path = folder.join(file);
            write_atomic(&path, &text)?;
            files.push(path);
        }
    }
    for spec in &config.plots {
        let stem = folder.join(spec.file_stem());
        if spec.kind == PlotKind::Heatmap {
            let (style, panels) = heatmap_panels(config, spec, &points, &rows)?;
            let has_data = panels.iter().any(|p| p.z.iter().any(Option::is_some));
            if !options.quiet && !has_data {
                eprintln!(
                    "isac: plot `{}` has no data: are `{}`, `{}` and `{}` numeric fields of the `{}` records?",
                    spec.file_stem(),
                    spec.x,
                    spec.ys.join("`, `"),
                    spec.z.as_deref().unwrap_or_default(),
                    spec.records.as_deref().unwrap_or_default()
                );
            }
            files.extend(plot_heatmaps(&stem, &style, &panels)?);
            continue;
        }
        let (style, series) = plot_series(config, spec, &points, &rows);
        if !options.quiet
            && !series
                .iter()
                .any(|s| s.points.iter().any(|p| p.1.is_some()))
        {
            match &spec.records {
                Some(name) => eprintln!(
                    "isac: plot `{}` has no data: are `{}` / `{}` numeric fields of the `{name}` records?",
                    spec.file_stem(),
                    spec.x,
                    spec.ys.join("`, `")
                ),
                None => eprintln!(
                    "isac: plot `{}` has no data: is `{}` / `{}` a numeric sweep key or metric?",
                    spec.file_stem(),
                    spec.x,
                    spec.ys.join("`, `")
                ),
            }
        }
        files.extend(plot_lines(&stem, &style, &series)?);
    }
    let manifest_path = folder.join("manifest.json");
    files.push(manifest_path.clone());
    let seconds = t0.elapsed().as_secs_f64();
    let manifest = json!({
        "name": config.name,
        "system": config.system,
        "title": config.title,
        "experiment": toml_to_json(&Value::Table(config.document.clone())),
        "experiment_hash": hash,
        "base_seed": config.seed,
        "repetitions": reps,
        "points": points.iter().map(|p| json!({
            "index": p.index,
            "assignments": p.assignments.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
        "rows": rows.len(),
        "rows_solved": solved_count,
        "rows_reused": reused,
        "rows_error": errors,
        "solve_seconds": rows.iter().map(|r| json!({
            "point": r.point, "repetition": r.repetition, "seed": r.seed, "seconds": r.seconds,
        })).collect::<Vec<_>>(),
        "isac_version": crate::VERSION,
        "isac_build": crate::BUILD,
        "started_at": rfc3339(started),
        "finished_at": rfc3339(SystemTime::now()),
        "wall_seconds": seconds,
        "threads": threads,
        "target": {
            "arch": std::env::consts::ARCH,
            "os": std::env::consts::OS,
            "family": std::env::consts::FAMILY,
            "env": if cfg!(target_env = "gnu") { "gnu" } else if cfg!(target_env = "musl") { "musl" }
                   else if cfg!(target_env = "msvc") { "msvc" } else { "" },
            "pointer_width": usize::BITS,
            "debug_assertions": cfg!(debug_assertions),
        },
        "args": std::env::args().collect::<Vec<_>>(),
        "output": folder.display().to_string(),
        "files": files.iter().map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    write_atomic(&manifest_path, &text)?;

    Ok(RunSummary {
        points: points.len(),
        rows: rows.len(),
        solved: solved_count,
        reused,
        errors,
        folder,
        files,
        seconds,
    })
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// One CSV field, quoted when needed (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn json_cell(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The metric holding an iterative design's convergence history (a list of records, one
/// per iteration): not a column of `results.csv` but the rows of `history.csv`.
pub const HISTORY: &str = "history";

/// The records of metric `name` in a row (empty when the row has none, or the metric is
/// not a list).
fn records_of<'a>(r: &'a Row, name: &str) -> &'a [Json] {
    r.metrics
        .get(name)
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A list of objects: the value of a records metric.
fn is_records(v: &Json) -> bool {
    v.as_array()
        .is_some_and(|a| !a.is_empty() && a.iter().all(Json::is_object))
}

/// The records metrics of the rows, in order of first appearance: [`HISTORY`], and every
/// metric whose value is a non-empty list of objects in some row. They are not columns of
/// `results.csv`; each is written to `NAME.csv` ([`records_csv`]).
pub fn records_metrics(rows: &[Row]) -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for r in rows {
        for (k, v) in &r.metrics {
            if (k == HISTORY || is_records(v)) && !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    names
}

/// The file of a records metric, `NAME.csv`; `None` for a name that is not a plain file
/// name, and for `results` (the results table's file) and `manifest`.
fn records_file_name(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && !["results", "manifest"].contains(&name);
    plain.then(|| format!("{name}.csv"))
}

/// Metric columns: "status" first, then by first appearance, "error" last.
fn metric_columns(rows: &[Row]) -> Vec<String> {
    let records = records_metrics(rows);
    let mut cols: Vec<String> = vec![];
    for r in rows {
        for k in r.metrics.keys() {
            if !records.contains(k) && !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    let rank = |c: &String| match c.as_str() {
        "status" => 0,
        "error" => 2,
        _ => 1,
    };
    cols.sort_by_key(rank); // stable
    cols
}

/// The tidy results table.
pub fn results_csv(config: &ExperimentConfig, points: &[Point], rows: &[Row]) -> String {
    let sweep_keys = config.sweep_keys();
    let metric_cols = metric_columns(rows);
    let mut header: Vec<String> = vec!["point".into(), "repetition".into(), "seed".into()];
    header.extend(sweep_keys.iter().cloned());
    // A metric named like a fixed or sweep column gets a suffix.
    let metric_names: Vec<String> = metric_cols
        .iter()
        .map(|c| {
            if header.contains(c) {
                format!("{c}_out")
            } else {
                c.clone()
            }
        })
        .collect();
    header.extend(metric_names);
    let mut out = csv_line(&header);
    for r in rows {
        let mut cells = row_key_cells(r, &points[r.point], &sweep_keys);
        for c in &metric_cols {
            cells.push(r.metrics.get(c).map(json_cell).unwrap_or_default());
        }
        out.push_str(&csv_line(&cells));
    }
    out
}

/// The cells that identify a row: point, repetition, seed and the swept values.
fn row_key_cells(r: &Row, p: &Point, sweep_keys: &[String]) -> Vec<String> {
    let mut cells = vec![
        r.point.to_string(),
        r.repetition.to_string(),
        r.seed.to_string(),
    ];
    for k in sweep_keys {
        cells.push(p.get(k).map(value_text).unwrap_or_default());
    }
    cells
}

/// One CSV line (quoted cells, newline).
fn csv_line(cells: &[String]) -> String {
    let mut line = cells
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// The convergence histories, one line per (point, repetition, iteration): `None` when
/// no row has a history. The same as [`records_csv`] of [`HISTORY`].
pub fn history_csv(config: &ExperimentConfig, points: &[Point], rows: &[Row]) -> Option<String> {
    records_csv(config, points, rows, HISTORY)
}

/// The records of metric `name`, one line per (point, repetition, record): the row's
/// point, repetition, seed and swept values, then `iteration` (the record's own
/// `iteration` field, else its index) and the records' other fields in order of first
/// appearance. The `iteration` column is always there for [`HISTORY`], for other records
/// only when some record has that field. `None` when no row has a record of `name`, or
/// `name` is not a records metric ([`records_metrics`]).
pub fn records_csv(
    config: &ExperimentConfig,
    points: &[Point],
    rows: &[Row],
    name: &str,
) -> Option<String> {
    let listed = name == HISTORY
        || rows
            .iter()
            .any(|r| r.metrics.get(name).is_some_and(is_records));
    if !listed || rows.iter().all(|r| records_of(r, name).is_empty()) {
        return None;
    }
    let mut fields: Vec<String> = vec![];
    let mut iteration = name == HISTORY;
    for r in rows {
        for rec in records_of(r, name) {
            for k in rec.as_object().into_iter().flat_map(|o| o.keys()) {
                if k == "iteration" {
                    iteration = true;
                } else if !fields.contains(k) {
                    fields.push(k.clone());
                }
            }
        }
    }
    let sweep_keys = config.sweep_keys();
    let mut header: Vec<String> = vec!["point".into(), "repetition".into(), "seed".into()];
    header.extend(sweep_keys.iter().cloned());
    if iteration {
        header.push("iteration".into());
    }
    header.extend(fields.iter().cloned());
    let mut out = csv_line(&header);
    for r in rows {
        let key = row_key_cells(r, &points[r.point], &sweep_keys);
        for (i, rec) in records_of(r, name).iter().enumerate() {
            let mut cells = key.clone();
            if iteration {
                cells.push(
                    rec.get("iteration")
                        .map(json_cell)
                        .unwrap_or_else(|| i.to_string()),
                );
            }
            for f in &fields {
                cells.push(rec.get(f).map(json_cell).unwrap_or_default());
            }
            out.push_str(&csv_line(&cells));
        }
    }
    Some(out)
}

/// A finite number in field `key` of a record.
fn record_number(rec: &Json, key: &str) -> Option<f64> {
    rec.get(key)
        .and_then(Json::as_f64)
        .filter(|v| v.is_finite())
}

/// A records plot's line for the rows of one point, record by record (index-aligned):
/// at index `i`, x is field `x` of the first repetition's record `i` that has it (the
/// index `i` itself for `x = "iteration"` when none has it; no point when neither), y the
/// mean of field `y` over the repetitions whose records reach `i` (finite values only).
fn records_line(rows: &[&Row], name: &str, x: &str, y: &str) -> Vec<(f64, Option<f64>)> {
    let len = rows
        .iter()
        .map(|r| records_of(r, name).len())
        .max()
        .unwrap_or(0);
    (0..len)
        .filter_map(|i| {
            let at: Vec<&Json> = rows
                .iter()
                .filter_map(|r| records_of(r, name).get(i))
                .collect();
            let xv = at
                .iter()
                .find_map(|rec| record_number(rec, x))
                .or_else(|| (x == "iteration").then_some(i as f64))?;
            let vals: Vec<f64> = at.iter().filter_map(|rec| record_number(rec, y)).collect();
            let mean = (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64);
            Some((xv, mean))
        })
        .collect()
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Mean over the repetitions of a point of a numeric metric, skipping
/// infeasible / error rows and missing or non-numeric values.
fn metric_mean(rows: &[&Row], key: &str, all_rows: bool) -> Option<f64> {
    let vals: Vec<f64> = rows
        .iter()
        .filter(|r| {
            all_rows
                || !matches!(
                    r.metrics.get("status").and_then(Json::as_str),
                    Some("infeasible" | "error")
                )
        })
        .filter_map(|r| r.metrics.get(key).and_then(Json::as_f64))
        .filter(|v| v.is_finite())
        .collect();
    (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
}

/// Whether a point passes the plot's `only` filter.
fn kept(config: &ExperimentConfig, spec: &PlotSpec, p: &Point) -> bool {
    spec.only.iter().all(|(k, vals)| {
        p.get(k)
            .or_else(|| config.base.get(k))
            .is_some_and(|v| vals.contains(&value_text(v)))
    })
}

/// The keys that tell a plot's lines (or panels) apart: the `series` keys, plus any other
/// swept key (not moving with x, not tracing the lines) that takes several values, so
/// that lines never zig-zag.
fn line_keys(config: &ExperimentConfig, spec: &PlotSpec) -> Vec<String> {
    let mut keys: Vec<String> = spec.series.clone();
    for s in &config.sweeps {
        let with_series = s.keys.iter().any(|k| spec.series.contains(k));
        let traces = spec.along.as_ref().is_some_and(|a| s.keys.contains(a));
        if s.keys.contains(&spec.x) || s.values.len() < 2 || with_series || traces {
            continue;
        }
        for k in &s.keys {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// The display name of a line (or panel) from the values `label` of its `keys`: the
/// value alone for a single non-numeric key, else `key=value` joined by commas; a key
/// named in `value_names` shows its values' names.
fn group_name(spec: &PlotSpec, keys: &[String], label: &[String]) -> String {
    // a bare number says little in a legend: name its key ("power_dbm=10"), unless the
    // plot names the key's values
    if keys.len() == 1
        && label[0].parse::<f64>().is_err()
        && !spec.value_names.contains_key(&keys[0])
    {
        return label[0].clone();
    }
    keys.iter()
        .zip(label)
        .map(|(k, v)| match spec.value_names.get(k) {
            Some(names) => names.get(v).cloned().unwrap_or_else(|| v.clone()),
            None => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The figure of one plot spec from result rows: one series per line (values
/// of `series` and of any other multi-valued sweep not moving with x), y is the
/// mean over the repetitions of a point, infeasible / error rows and missing
/// values are gaps. With `records`, one line per point through the records (see
/// [`records_csv`]), y averaged over the point's repetitions record by record. A
/// heatmap has no lines (see [`heatmap_panels`]). Used by [`run_experiment`]; public for
/// reuse and tests.
pub fn plot_series(
    config: &ExperimentConfig,
    spec: &PlotSpec,
    points: &[Point],
    rows: &[Row],
) -> (PlotStyle, Vec<Series>) {
    let style = PlotStyle {
        title: spec.title.clone().or_else(|| config.title.clone()),
        x_label: spec.x_label.clone().unwrap_or_else(|| spec.x.clone()),
        y_label: spec.y_label.clone().unwrap_or_else(|| spec.ys.join(", ")),
        log_x: spec.log_x,
        log_y: spec.log_y,
        x_range: spec.x_range,
        y_range: spec.y_range,
        markers: spec.markers,
        ..PlotStyle::default()
    };
    if spec.kind == PlotKind::Heatmap {
        return (style, vec![]);
    }
    let mut by_point: Vec<Vec<&Row>> = vec![vec![]; points.len()];
    for r in rows {
        by_point[r.point].push(r);
    }
    // Value of a key at a point: a swept or base input, else a metric mean.
    let value = |p: &Point, key: &str| -> Option<f64> {
        if let Some(v) = p.get(key) {
            return num(v);
        }
        if let Some(v) = config.base.get(key) {
            return num(v);
        }
        metric_mean(&by_point[p.index], key, spec.all_rows)
    };
    let line_keys = line_keys(config, spec);
    let mut groups: Vec<(Vec<String>, Vec<&Point>)> = vec![];
    for p in points.iter().filter(|p| kept(config, spec, p)) {
        let label: Vec<String> = line_keys
            .iter()
            .map(|k| p.get(k).map(value_text).unwrap_or_default())
            .collect();
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, ps)) => ps.push(p),
            None => groups.push((label, vec![p])),
        }
    }
    // `markers_by`: that key's value picks the line style, the other keys' the colour
    // (indices in order of first appearance)
    let styled = spec
        .markers_by
        .as_ref()
        .and_then(|m| line_keys.iter().position(|k| k == m));
    let (mut shapes, mut colours): (Vec<&str>, Vec<Vec<&str>>) = (vec![], vec![]);
    let mut looks = vec![];
    for (label, _) in &groups {
        looks.push(styled.map(|at| {
            let shape = &label[at];
            let rest: Vec<&str> = label
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != at)
                .map(|(_, v)| v.as_str())
                .collect();
            let s_i = shapes.iter().position(|v| v == shape).unwrap_or_else(|| {
                shapes.push(shape);
                shapes.len() - 1
            });
            let c_i = colours.iter().position(|v| *v == rest).unwrap_or_else(|| {
                colours.push(rest);
                colours.len() - 1
            });
            (c_i, s_i)
        }));
    }
    let mut series = vec![];
    for (i, y) in spec.ys.iter().enumerate() {
        let y_name = spec.legend.as_ref().map_or(y, |names| &names[i]);
        for (g, (label, ps)) in groups.iter().enumerate() {
            let group_name = group_name(spec, &line_keys, label);
            let name = match (spec.ys.len() > 1, group_name.is_empty()) {
                (_, true) => y_name.clone(),
                (false, false) if spec.legend.is_none() => group_name,
                (_, false) => format!("{y_name} ({group_name})"),
            };
            if let Some(records) = &spec.records {
                // one line per point: its designs' records, averaged record by record
                let rows: Vec<&Row> = ps.iter().flat_map(|p| by_point[p.index].clone()).collect();
                series.push(Series {
                    name,
                    points: records_line(&rows, records, &spec.x, y),
                    look: looks[g].map(|(c, m)| (c + i * colours.len(), m)),
                });
                continue;
            }
            let mut pts: Vec<(f64, Option<f64>)> = ps
                .iter()
                .filter_map(|p| value(p, &spec.x).map(|x| (x, value(p, y))))
                .filter(|(x, _)| x.is_finite())
                .collect();
            match &spec.along {
                // the points in the order of the tracing key (ps is in sweep order)
                Some(a) => {
                    let mut keyed: Vec<(f64, (f64, Option<f64>))> = ps
                        .iter()
                        .filter_map(|p| {
                            let x = value(p, &spec.x)?;
                            x.is_finite()
                                .then(|| (value(p, a).unwrap_or(f64::NAN), (x, value(p, y))))
                        })
                        .collect();
                    keyed.sort_by(|u, v| u.0.total_cmp(&v.0));
                    pts = keyed.into_iter().map(|(_, q)| q).collect();
                }
                None => pts.sort_by(|a, b| a.0.total_cmp(&b.0)),
            }
            series.push(Series {
                name,
                points: pts,
                // several metrics: the metric's colour block first
                look: looks[g].map(|(c, m)| (c + i * colours.len(), m)),
            });
        }
    }
    (style, series)
}

/// Most cells of one heatmap panel (distinct x values x distinct y values): records
/// scattered over many distinct coordinates would otherwise make a grid of their square.
pub const MAX_HEATMAP_CELLS: usize = 1 << 22;

/// The panels of a heatmap plot spec (`kind = "heatmap"`) from result rows: one per
/// point that passes `only`, in point order, from the first repetition that has records
/// of `spec.records`. The grid is the sorted distinct values of the records' fields `x`
/// and `ys[0]`; each record fills its cell with its field `z` (a later record at the same
/// cell replaces an earlier one; a missing, null or non-numeric `z` is a cell without a
/// value). Marks are the same repetition's `marks` records (fields `x`, `y` and
/// `mark_label`). A panel is titled by its line name (`series` keys, named by
/// `value_names`, and any other key swept over several values), or, without `series`, by
/// the point's swept assignments. Used by [`run_experiment`]; public for reuse and tests.
pub fn heatmap_panels(
    config: &ExperimentConfig,
    spec: &PlotSpec,
    points: &[Point],
    rows: &[Row],
) -> Result<(HeatmapStyle, Vec<HeatmapPanel>)> {
    let records = spec.records.as_deref().unwrap_or(HISTORY);
    let x = spec.x.as_str();
    let y = spec.ys.first().map_or("y", String::as_str);
    let z = spec.z.as_deref().unwrap_or("z");
    let style = HeatmapStyle {
        title: spec.title.clone().or_else(|| config.title.clone()),
        x_label: spec.x_label.clone().unwrap_or_else(|| x.to_string()),
        y_label: spec.y_label.clone().unwrap_or_else(|| y.to_string()),
        z_label: spec.z_label.clone().unwrap_or_else(|| z.to_string()),
        z_range: spec.z_range,
        columns: spec.columns,
        ..HeatmapStyle::default()
    };
    let keys = line_keys(config, spec);
    let mut panels = vec![];
    for p in points.iter().filter(|p| kept(config, spec, p)) {
        let title = if spec.series.is_empty() {
            p.assignments
                .iter()
                .map(|(k, v)| format!("{k}={}", value_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            let label: Vec<String> = keys
                .iter()
                .map(|k| p.get(k).map(value_text).unwrap_or_default())
                .collect();
            group_name(spec, &keys, &label)
        };
        // rows are in (point, repetition) order: the first with records
        let row = rows
            .iter()
            .find(|r| r.point == p.index && !records_of(r, records).is_empty());
        let cells: Vec<(f64, f64, Option<f64>)> = row
            .map(|r| records_of(r, records))
            .unwrap_or(&[])
            .iter()
            .filter_map(|rec| Some((record_number(rec, x)?, record_number(rec, y)?, rec)))
            .map(|(cx, cy, rec)| (cx, cy, rec.get(z).and_then(Json::as_f64)))
            .collect();
        let distinct = |v: Vec<f64>| {
            let mut v = v;
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        };
        let xs = distinct(cells.iter().map(|c| c.0).collect());
        let ys = distinct(cells.iter().map(|c| c.1).collect());
        if xs.len().saturating_mul(ys.len()) > MAX_HEATMAP_CELLS {
            return Err(IsacError::input(
                format!("plot `{}`", spec.file_stem()),
                format!(
                    "the `{records}` records of point {} make a grid of {} x {} cells, more than the limit of {MAX_HEATMAP_CELLS}: are `{x}` and `{y}` grid coordinates?",
                    p.index,
                    xs.len(),
                    ys.len()
                ),
            ));
        }
        let mut grid = vec![None; xs.len() * ys.len()];
        for (cx, cy, cz) in cells {
            let at = |v: &[f64], c: f64| v.binary_search_by(|u| u.total_cmp(&c)).ok();
            if let (Some(i), Some(j)) = (at(&xs, cx), at(&ys, cy)) {
                grid[j * xs.len() + i] = cz;
            }
        }
        let marks = match (&spec.marks, row) {
            (Some(m), Some(r)) => records_of(r, m)
                .iter()
                .filter_map(|rec| {
                    let text = rec.get(&spec.mark_label).map(json_cell).unwrap_or_default();
                    Some((record_number(rec, x)?, record_number(rec, y)?, text))
                })
                .collect(),
            _ => vec![],
        };
        panels.push(HeatmapPanel {
            title,
            xs,
            ys,
            z: grid,
            marks,
        });
    }
    Ok((style, panels))
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        d.subsec_millis()
    )
}
