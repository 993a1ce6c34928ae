//! The experiment file: `[experiment]`, `[base]`, `[[sweep]]`, `[plot]` / `[[plot]]`.
//!
//! Sizes are bounded before anything is allocated: one sweep holds at most
//! [`MAX_SWEEP_VALUES`] values, the cartesian product at most [`MAX_POINTS`] points, and
//! points x repetitions at most [`MAX_ROWS`] rows (each row is one solve and one line of
//! `results.csv`; the runner builds every row's instance up front). A larger experiment is
//! an input error naming the key, not an allocation failure.

use std::path::PathBuf;

use toml::{Table, Value};

use crate::error::{IsacError, Result};

/// Most values of one `[[sweep]]` (`values`, or `n` of `linspace` / `logspace`).
pub const MAX_SWEEP_VALUES: usize = 1_000_000;
/// Most points of the cartesian product of all sweeps.
pub const MAX_POINTS: usize = 1_000_000;
/// Most result rows, points x `repetitions` (also the largest `repetitions`). A row is
/// one solve (0.01 s to minutes): 1e6 rows is far beyond what two cores finish in a day,
/// so the limit only catches typos such as `1e12`, yet it keeps the up-front instances
/// within a few GB of memory.
pub const MAX_ROWS: usize = 1_000_000;

/// One `[[sweep]]`: one key (or several zipped keys) and the list of values.
/// `values[i]` holds one value per key (a tuple for zipped keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub keys: Vec<String>,
    pub values: Vec<Vec<Value>>,
}

/// One figure: `x` against one or several `ys`, one line per value of `series`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSpec {
    /// File stem of the figure (default `<ys>_vs_<x>`).
    pub name: Option<String>,
    pub title: Option<String>,
    pub x: String,
    pub ys: Vec<String>,
    pub series: Vec<String>,
    pub log_x: bool,
    pub log_y: bool,
    pub x_label: Option<String>,
    pub y_label: Option<String>,
    /// Legend names of `ys`, in the field's words (default: the metric names).
    pub legend: Option<Vec<String>>,
    /// Display names of series values, per series key (`[plot.value_names.scheme]`,
    /// `"fdb-wcrb" = "Digital-FDB-WCRB"`): a named key's values appear as their names,
    /// without the `key=` prefix.
    pub value_names: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// A swept key that traces each line (a parametric curve such as a Pareto front over
    /// a weight, `x` and `y` both metrics): not a line of its own, and the points are
    /// joined in its order instead of the order of `x`.
    pub along: Option<String>,
    /// Only the points whose swept `KEY` takes one of the listed values
    /// (`[plot.only] scheme = ["fdb-wcrb", "fdb-wcm"]`): several plots of one run.
    pub only: std::collections::BTreeMap<String, Vec<String>>,
    /// Average over every repetition (`rows = "all"`), infeasible ones included, instead
    /// of over the feasible ones only (the default): for rates of an outcome such as an
    /// infeasibility indicator.
    pub all_rows: bool,
    /// Fixed axis ranges `[lo, hi]` (`x_range`, `y_range`; default: the data's): the
    /// paper's ranges where they help comparison; lines are clipped at the frame.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Markers at the data points (`markers = false`: lines only, for dense curves such as
    /// beampatterns).
    pub markers: bool,
    /// A key of `series` whose value picks the line style and marker (solid + circles,
    /// dashed + triangles, dotted + squares, long-dashed + crosses), the other keys picking
    /// the colour: "scheme by style, K by colour" instead of one colour per line.
    pub markers_by: Option<String>,
    /// A convergence plot (`history = true`): `x` is `"iteration"`, each `y` a field of
    /// the designs' history records (the `history` metric, also written to
    /// `history.csv`), one line per point, averaged over its repetitions per iteration.
    /// Sets `records = "history"`.
    pub history: bool,
    /// Line plot (the default) or heatmap (`kind = "heatmap"`).
    pub kind: PlotKind,
    /// A records metric (a metric whose value is a list of objects, such as `history`):
    /// `x`, `ys` (and `z` of a heatmap) are then fields of its records, not sweep keys or
    /// metrics. A line plot draws one line per point through its records, `y` averaged
    /// over the point's repetitions record by record.
    pub records: Option<String>,
    /// Heatmap: the record field holding the colour value.
    pub z: Option<String>,
    /// Heatmap: another records metric of the same design holding points to mark (with
    /// the fields `x`, `y` and `mark_label`).
    pub marks: Option<String>,
    /// Heatmap: the field of a mark's record holding its label (default `"object"`).
    pub mark_label: String,
    /// Heatmap: panels per row (default 4).
    pub columns: usize,
    /// Heatmap: label of the colour bar (default: `z`).
    pub z_label: Option<String>,
    /// Heatmap: fixed colour scale `[lo, hi]` (default: the data's range over all panels).
    pub z_range: Option<(f64, f64)>,
}

/// What a `[[plot]]` draws (`kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlotKind {
    /// Lines (`kind = "lines"`, the default).
    #[default]
    Lines,
    /// One colour-map panel per point (`kind = "heatmap"`).
    Heatmap,
}

/// Default panels per row of a heatmap.
pub const HEATMAP_COLUMNS: usize = 4;

impl PlotSpec {
    /// File stem of the figure's SVG / PNG (default `<ys>_vs_<x>`, for a heatmap
    /// `<records>_<z>`).
    pub fn file_stem(&self) -> String {
        match (&self.name, self.kind) {
            (Some(n), _) => n.clone(),
            (None, PlotKind::Heatmap) => format!(
                "{}_{}",
                self.records.as_deref().unwrap_or("heatmap"),
                self.z.as_deref().unwrap_or("z")
            ),
            (None, PlotKind::Lines) => format!("{}_vs_{}", self.ys.join("_"), self.x),
        }
    }
}

/// A parsed experiment file.
#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    pub name: String,
    pub system: String,
    pub title: Option<String>,
    /// Output folder (default `out/<name>`).
    pub output: PathBuf,
    /// Monte Carlo repetitions per point (>= 1).
    pub repetitions: usize,
    /// Base seed.
    pub seed: u64,
    /// Common random numbers: repetition `r` gets the same seed at every point (the same
    /// drops under every swept value), instead of one seed per (point, repetition).
    pub common_random_numbers: bool,
    /// Base instance.
    pub base: Table,
    pub sweeps: Vec<Sweep>,
    pub plots: Vec<PlotSpec>,
    /// The whole file as parsed (recorded in the manifest).
    pub document: Table,
}

/// One point of the sweep grid: its index and the swept key = value assignments.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub index: usize,
    pub assignments: Vec<(String, Value)>,
}

impl Point {
    /// Value assigned to `key` at this point, if `key` is swept.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.assignments
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

fn err<T>(key: impl Into<String>, msg: impl Into<String>) -> Result<T> {
    Err(IsacError::input(key, msg))
}

fn check_keys(t: &Table, label: &str, allowed: &[&str]) -> Result<()> {
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            return err(
                format!("{label}.{k}"),
                format!("unknown key; allowed: {}", allowed.join(", ")),
            );
        }
    }
    Ok(())
}

fn opt_str(t: &Table, label: &str, key: &str) -> Result<Option<String>> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => err(format!("{label}.{key}"), "must be a string"),
    }
}

fn req_str(t: &Table, label: &str, key: &str) -> Result<String> {
    match opt_str(t, label, key)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => err(format!("{label}.{key}"), "must not be empty"),
        None => err(format!("{label}.{key}"), "missing (required string)"),
    }
}

fn opt_bool(t: &Table, label: &str, key: &str) -> Result<bool> {
    match t.get(key) {
        None => Ok(false),
        Some(Value::Boolean(b)) => Ok(*b),
        Some(_) => err(format!("{label}.{key}"), "must be true or false"),
    }
}

fn opt_nonneg_int(t: &Table, label: &str, key: &str) -> Result<Option<u64>> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::Integer(i)) if *i >= 0 => Ok(Some(*i as u64)),
        Some(_) => err(format!("{label}.{key}"), "must be a non-negative integer"),
    }
}

fn str_list(v: &Value, key: &str) -> Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                _ => err(key, "must be a string or a list of strings"),
            })
            .collect(),
        _ => err(key, "must be a string or a non-empty list of strings"),
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// `n` evenly spaced values from `a` to `b`, both endpoints exact.
pub fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![a],
        _ => (0..n)
            .map(|i| {
                if i == n - 1 {
                    b
                } else {
                    a + (b - a) * i as f64 / (n - 1) as f64
                }
            })
            .collect(),
    }
}

/// `n` values `10^e` with exponents evenly spaced from `a_exp` to `b_exp`.
pub fn logspace(a_exp: f64, b_exp: f64, n: usize) -> Vec<f64> {
    linspace(a_exp, b_exp, n)
        .into_iter()
        .map(|e| 10f64.powf(e))
        .collect()
}

fn parse_range(v: &Value, key: &str) -> Result<(f64, f64, usize)> {
    let a = match v {
        Value::Array(a) if a.len() == 3 => a,
        _ => return err(key, "must be [start, end, n]"),
    };
    let (Some(lo), Some(hi)) = (as_f64(&a[0]), as_f64(&a[1])) else {
        return err(key, "start and end must be numbers");
    };
    if !lo.is_finite() || !hi.is_finite() {
        return err(key, "start and end must be finite");
    }
    match a[2] {
        Value::Integer(n) if n >= 1 && n as u64 <= MAX_SWEEP_VALUES as u64 => {
            Ok((lo, hi, n as usize))
        }
        Value::Integer(n) if n >= 1 => err(
            key,
            format!("n = {n} values is more than the limit of {MAX_SWEEP_VALUES} per sweep"),
        ),
        Value::Integer(n) => err(
            key,
            format!("n (the number of values) must be at least 1, got {n}"),
        ),
        ref v => err(
            key,
            format!(
                "n (the number of values) must be a positive integer written without a decimal point or exponent (at most {MAX_SWEEP_VALUES}), got {}",
                value_text(v)
            ),
        ),
    }
}

fn parse_sweep(t: &Table, label: &str) -> Result<Sweep> {
    check_keys(t, label, &["key", "keys", "values", "linspace", "logspace"])?;
    let keys = match (t.get("key"), t.get("keys")) {
        (Some(_), Some(_)) => {
            return err(
                format!("{label}.keys"),
                "give either `key` or `keys`, not both",
            )
        }
        (None, None) => return err(format!("{label}.key"), "missing (the input key to sweep)"),
        (Some(Value::String(s)), None) => vec![s.clone()],
        (Some(_), None) => return err(format!("{label}.key"), "must be a string"),
        (None, Some(v)) => str_list(v, &format!("{label}.keys"))?,
    };
    for (i, k) in keys.iter().enumerate() {
        if k.is_empty() {
            return err(format!("{label}.keys"), "keys must not be empty strings");
        }
        if keys[..i].contains(k) {
            return err(format!("{label}.keys"), format!("`{k}` listed twice"));
        }
    }
    let gens: Vec<&str> = ["values", "linspace", "logspace"]
        .into_iter()
        .filter(|g| t.contains_key(*g))
        .collect();
    if gens.is_empty() {
        return err(
            format!("{label}.values"),
            "missing: give one of values, linspace, logspace",
        );
    }
    if gens.len() > 1 {
        return err(
            format!("{label}.{}", gens[1]),
            format!(
                "give only one of values, linspace, logspace (found {})",
                gens.join(" and ")
            ),
        );
    }
    let gen = gens[0];
    let gkey = format!("{label}.{gen}");
    let values: Vec<Vec<Value>> = if gen == "values" {
        let arr = match &t["values"] {
            Value::Array(a) if a.len() > MAX_SWEEP_VALUES => {
                return err(
                    gkey,
                    format!(
                        "{} values is more than the limit of {MAX_SWEEP_VALUES} per sweep",
                        a.len()
                    ),
                )
            }
            Value::Array(a) if !a.is_empty() => a,
            _ => return err(gkey, "must be a non-empty array"),
        };
        if keys.len() == 1 {
            arr.iter().map(|v| vec![v.clone()]).collect()
        } else {
            arr.iter()
                .map(|v| match v {
                    Value::Array(tuple) if tuple.len() == keys.len() => Ok(tuple.clone()),
                    _ => err(
                        gkey.clone(),
                        format!(
                            "with {} zipped keys each value must be an array of {} values",
                            keys.len(),
                            keys.len()
                        ),
                    ),
                })
                .collect::<Result<_>>()?
        }
    } else {
        if keys.len() != 1 {
            return err(
                gkey,
                "linspace/logspace need a single `key`; use `values` for zipped keys",
            );
        }
        let (a, b, n) = parse_range(&t[gen], &gkey)?;
        let xs = if gen == "linspace" {
            linspace(a, b, n)
        } else {
            logspace(a, b, n)
        };
        xs.into_iter().map(|x| vec![Value::Float(x)]).collect()
    };
    Ok(Sweep { keys, values })
}

fn parse_plot(t: &Table, label: &str) -> Result<PlotSpec> {
    check_keys(
        t,
        label,
        &[
            "name",
            "title",
            "x",
            "y",
            "ys",
            "series",
            "log_x",
            "log_y",
            "x_label",
            "y_label",
            "rows",
            "legend",
            "value_names",
            "only",
            "along",
            "history",
            "x_range",
            "y_range",
            "markers_by",
            "markers",
            "kind",
            "records",
            "z",
            "marks",
            "mark_label",
            "columns",
            "z_label",
            "z_range",
        ],
    )?;
    let kind = match opt_str(t, label, "kind")?.as_deref() {
        None | Some("lines") => PlotKind::Lines,
        Some("heatmap") => PlotKind::Heatmap,
        Some(other) => {
            return err(
                format!("{label}.kind"),
                format!("unknown value \"{other}\"; allowed: \"lines\" | \"heatmap\""),
            )
        }
    };
    let heatmap = kind == PlotKind::Heatmap;
    // keys of the other kind: named, not silently ignored
    let (only_heatmap, not_heatmap): (&[&str], &[&str]) = (
        &["z", "marks", "mark_label", "columns", "z_label", "z_range"],
        &[
            "log_x",
            "log_y",
            "along",
            "history",
            "legend",
            "markers_by",
            "markers",
            "x_range",
            "y_range",
            "rows",
        ],
    );
    if heatmap && t.contains_key("ys") {
        return err(
            format!("{label}.ys"),
            "a heatmap has one `y` (the record field of the rows of its grid)",
        );
    }
    for k in if heatmap { not_heatmap } else { only_heatmap } {
        if t.contains_key(*k) {
            return err(
                format!("{label}.{k}"),
                if heatmap {
                    "not valid with kind = \"heatmap\""
                } else {
                    "only valid with kind = \"heatmap\""
                },
            );
        }
    }
    let nonempty = |key: &str| -> Result<Option<String>> {
        match opt_str(t, label, key)? {
            Some(s) if s.trim().is_empty() => err(format!("{label}.{key}"), "must not be empty"),
            other => Ok(other),
        }
    };
    let mut records = nonempty("records")?;
    let history = opt_bool(t, label, "history")?;
    if history {
        match records.as_deref() {
            None => records = Some("history".into()),
            Some("history") => {}
            Some(other) => {
                return err(
                    format!("{label}.records"),
                    format!("history = true plots the records \"history\", not \"{other}\""),
                )
            }
        }
    }
    if heatmap && records.is_none() {
        return err(
            format!("{label}.records"),
            "missing (a heatmap draws the records of a records metric)",
        );
    }
    let z = nonempty("z")?;
    if heatmap && z.is_none() {
        return err(
            format!("{label}.z"),
            "missing (the record field of the colour value)",
        );
    }
    let marks = nonempty("marks")?;
    if marks.is_none() && t.contains_key("mark_label") {
        return err(
            format!("{label}.mark_label"),
            "names a field of the `marks` records: give `marks` too",
        );
    }
    let mark_label = nonempty("mark_label")?.unwrap_or_else(|| "object".into());
    let columns = match opt_nonneg_int(t, label, "columns")? {
        None => HEATMAP_COLUMNS,
        Some(c) if (1..=64).contains(&c) => c as usize,
        Some(_) => return err(format!("{label}.columns"), "must be an integer in [1, 64]"),
    };
    let z_label = opt_str(t, label, "z_label")?;
    let x = req_str(t, label, "x")?;
    let ys = match (t.get("y"), t.get("ys")) {
        (Some(_), Some(_)) => {
            return err(format!("{label}.ys"), "give either `y` or `ys`, not both")
        }
        (None, None) => return err(format!("{label}.y"), "missing (the metric to plot)"),
        (Some(Value::String(s)), None) => vec![s.clone()],
        (Some(_), None) => return err(format!("{label}.y"), "must be a string"),
        (None, Some(v)) => str_list(v, &format!("{label}.ys"))?,
    };
    let series = match t.get("series") {
        None => vec![],
        Some(v) => str_list(v, &format!("{label}.series"))?,
    };
    let legend = match t.get("legend") {
        None => None,
        Some(v) => {
            let names = str_list(v, &format!("{label}.legend"))?;
            if names.len() != ys.len() {
                return err(
                    format!("{label}.legend"),
                    format!(
                        "needs one name per metric of `ys` ({}), got {}",
                        ys.len(),
                        names.len()
                    ),
                );
            }
            Some(names)
        }
    };
    let mut value_names = std::collections::BTreeMap::new();
    if let Some(v) = t.get("value_names") {
        let key = format!("{label}.value_names");
        let table = v.as_table().ok_or_else(|| {
            IsacError::input(
                &key,
                "must be a table of tables: [plot.value_names.KEY] VALUE = \"NAME\"",
            )
        })?;
        for (series_key, names) in table {
            let sub = format!("{key}.{series_key}");
            if !series.contains(series_key) {
                return err(sub, "names the values of a key that is not in `series`");
            }
            let names = names
                .as_table()
                .ok_or_else(|| IsacError::input(&sub, "must be a table VALUE = \"NAME\""))?;
            let mut m = std::collections::BTreeMap::new();
            for (value, name) in names {
                let name = name
                    .as_str()
                    .ok_or_else(|| IsacError::input(&sub, "every name must be a string"))?;
                m.insert(value.clone(), name.to_string());
            }
            value_names.insert(series_key.clone(), m);
        }
    }
    let mut only = std::collections::BTreeMap::new();
    if let Some(v) = t.get("only") {
        let key = format!("{label}.only");
        let table = v
            .as_table()
            .ok_or_else(|| IsacError::input(&key, "must be a table KEY = [values]"))?;
        for (k, vals) in table {
            let sub = format!("{key}.{k}");
            let list = match vals {
                Value::Array(a) if !a.is_empty() => a.iter().map(value_text).collect(),
                _ => return err(sub, "must be a non-empty list of values"),
            };
            only.insert(k.clone(), list);
        }
    }
    let range = |key: &str, log: bool| -> Result<Option<(f64, f64)>> {
        let Some(v) = t.get(key) else {
            return Ok(None);
        };
        let full = format!("{label}.{key}");
        let nums: Option<Vec<f64>> = v.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_float().or_else(|| x.as_integer().map(|i| i as f64)))
                .collect()
        });
        match nums.as_deref() {
            Some(&[lo, hi])
                if lo.is_finite() && hi.is_finite() && lo < hi && (!log || lo > 0.0) =>
            {
                Ok(Some((lo, hi)))
            }
            _ => err(
                full,
                if log {
                    "must be [lo, hi] with 0 < lo < hi (a log axis)"
                } else {
                    "must be [lo, hi] with lo < hi"
                },
            ),
        }
    };
    let log_x = opt_bool(t, label, "log_x")?;
    let log_y = opt_bool(t, label, "log_y")?;
    let x_range = range("x_range", log_x)?;
    let y_range = range("y_range", log_y)?;
    let markers_by = opt_str(t, label, "markers_by")?;
    if let Some(m) = &markers_by {
        if !series.contains(m) {
            return err(
                format!("{label}.markers_by"),
                format!("\"{m}\" is not a key of `series` ({})", series.join(", ")),
            );
        }
    }
    let z_range = range("z_range", false)?;
    if history && x != "iteration" {
        return err(
            format!("{label}.x"),
            "a history plot (history = true) has x = \"iteration\"",
        );
    }
    let name = opt_str(t, label, "name")?;
    if let Some(n) = &name {
        if n.is_empty() || n.contains(['/', '\\']) || n.starts_with('.') {
            return err(
                format!("{label}.name"),
                "must be a plain file name (no slashes)",
            );
        }
    }
    Ok(PlotSpec {
        name,
        title: opt_str(t, label, "title")?,
        x,
        ys,
        series,
        log_x,
        log_y,
        x_range,
        y_range,
        markers_by,
        markers: match t.get("markers") {
            None => true,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => return err(format!("{label}.markers"), "must be true or false"),
        },
        x_label: opt_str(t, label, "x_label")?,
        y_label: opt_str(t, label, "y_label")?,
        legend,
        value_names,
        only,
        along: opt_str(t, label, "along")?,
        history,
        kind,
        records,
        z,
        marks,
        mark_label,
        columns,
        z_label,
        z_range,
        all_rows: match opt_str(t, label, "rows")?.as_deref() {
            None | Some("feasible") => false,
            Some("all") => true,
            Some(other) => {
                return err(
                    format!("{label}.rows"),
                    format!("unknown value \"{other}\"; allowed: \"feasible\" | \"all\""),
                )
            }
        },
    })
}

/// Turn a TOML syntax error into a one-line input error with its line number.
fn toml_error(src: &str, e: &toml::de::Error) -> IsacError {
    let line = e
        .span()
        .map(|s| src[..s.start.min(src.len())].matches('\n').count() + 1);
    let msg = e.message().replace('\n', " ");
    match line {
        Some(l) => IsacError::input(
            "experiment file",
            format!("TOML syntax error at line {l}: {msg}"),
        ),
        None => IsacError::input("experiment file", format!("TOML syntax error: {msg}")),
    }
}

impl ExperimentConfig {
    /// Parse and validate an experiment file.
    pub fn from_toml_str(src: &str) -> Result<Self> {
        let doc: Table = src.parse::<Table>().map_err(|e| toml_error(src, &e))?;
        Self::from_table(doc)
    }

    /// Read and parse an experiment file.
    pub fn from_path(path: &std::path::Path) -> Result<Self> {
        let src = std::fs::read_to_string(path)
            .map_err(|e| IsacError::io(path.display().to_string(), e))?;
        Self::from_toml_str(&src)
    }

    /// Validate an already parsed document.
    pub fn from_table(doc: Table) -> Result<Self> {
        for k in doc.keys() {
            if !["experiment", "base", "sweep", "plot"].contains(&k.as_str()) {
                return err(k.clone(), "unknown top-level key; allowed: [experiment], [base], [[sweep]], [plot]/[[plot]]");
            }
        }
        let exp = match doc.get("experiment") {
            Some(Value::Table(t)) => t,
            Some(_) => return err("experiment", "must be a table `[experiment]`"),
            None => return err("experiment", "missing `[experiment]` table"),
        };
        let l = "experiment";
        check_keys(
            exp,
            l,
            &[
                "name",
                "system",
                "title",
                "output",
                "repetitions",
                "seed",
                "common_random_numbers",
            ],
        )?;
        let name = req_str(exp, l, "name")?;
        let system = req_str(exp, l, "system")?;
        let title = opt_str(exp, l, "title")?;
        let output = match opt_str(exp, l, "output")? {
            Some(o) if o.is_empty() => return err("experiment.output", "must not be empty"),
            Some(o) => PathBuf::from(o),
            None => PathBuf::from("out").join(&name),
        };
        let repetitions = match exp.get("repetitions") {
            None => 1,
            Some(Value::Integer(r)) if *r >= 1 && *r as u64 <= MAX_ROWS as u64 => *r as usize,
            Some(Value::Integer(r)) if *r >= 1 => {
                return err(
                    "experiment.repetitions",
                    format!("{r} is more than the limit of {MAX_ROWS} rows (points x repetitions)"),
                )
            }
            Some(v) => {
                return err(
                    "experiment.repetitions",
                    format!(
                        "must be an integer in [1, {MAX_ROWS}] written without a decimal point or exponent, got {}",
                        value_text(v)
                    ),
                )
            }
        };
        let seed = opt_nonneg_int(exp, l, "seed")?.unwrap_or(1);
        let common_random_numbers = match exp.get("common_random_numbers") {
            None => false,
            Some(Value::Boolean(b)) => *b,
            Some(_) => return err("experiment.common_random_numbers", "must be true or false"),
        };
        let base = match doc.get("base") {
            None => Table::new(),
            Some(Value::Table(t)) => t.clone(),
            Some(_) => return err("base", "must be a table `[base]`"),
        };
        if let Some(s) = base.get("seed") {
            if !matches!(s, Value::Integer(i) if *i >= 0) {
                return err("base.seed", "must be a non-negative integer");
            }
        }
        let sweeps = match doc.get("sweep") {
            None => vec![],
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, s)| match s {
                    Value::Table(t) => parse_sweep(t, &format!("sweep[{}]", i + 1)),
                    _ => err(format!("sweep[{}]", i + 1), "must be a table `[[sweep]]`"),
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => return err("sweep", "must be an array of tables `[[sweep]]`"),
        };
        // the grid size, without overflow: stop at the first sweep that exceeds a limit
        let mut points: usize = 1;
        for (i, s) in sweeps.iter().enumerate() {
            points = points.saturating_mul(s.values.len());
            if points > MAX_POINTS {
                return err(
                    format!("sweep[{}]", i + 1),
                    format!("the sweeps up to this one make {points} points, more than the limit of {MAX_POINTS}"),
                );
            }
        }
        let rows = points.saturating_mul(repetitions);
        if rows > MAX_ROWS {
            return err(
                "experiment.repetitions",
                format!("{points} points x {repetitions} repetitions = {rows} rows, more than the limit of {MAX_ROWS}"),
            );
        }
        let mut seen: Vec<&str> = vec![];
        for (i, s) in sweeps.iter().enumerate() {
            for k in &s.keys {
                if seen.contains(&k.as_str()) {
                    return err(
                        format!("sweep[{}].key", i + 1),
                        format!("`{k}` is swept more than once"),
                    );
                }
                if ["point", "repetition"].contains(&k.as_str()) {
                    return err(
                        format!("sweep[{}].key", i + 1),
                        format!("`{k}` is reserved for the results table"),
                    );
                }
                seen.push(k);
            }
        }
        let plots = match doc.get("plot") {
            None => vec![],
            Some(Value::Table(t)) => vec![parse_plot(t, "plot")?],
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Value::Table(t) => parse_plot(t, &format!("plot[{}]", i + 1)),
                    _ => err(format!("plot[{}]", i + 1), "must be a table `[[plot]]`"),
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => return err("plot", "must be a table `[plot]` or tables `[[plot]]`"),
        };
        let mut stems: Vec<String> = vec![];
        for (i, p) in plots.iter().enumerate() {
            let label = if plots.len() == 1 && matches!(doc.get("plot"), Some(Value::Table(_))) {
                "plot".to_string()
            } else {
                format!("plot[{}]", i + 1)
            };
            for s in &p.series {
                if !seen.contains(&s.as_str()) {
                    return err(
                        format!("{label}.series"),
                        format!("`{s}` is not a sweep key"),
                    );
                }
                if *s == p.x {
                    return err(
                        format!("{label}.series"),
                        format!("`{s}` is also the x axis"),
                    );
                }
            }
            if let Some(a) = &p.along {
                if !seen.contains(&a.as_str()) || p.series.contains(a) || *a == p.x {
                    return err(
                        format!("{label}.along"),
                        format!("`{a}` must be a sweep key that is neither `x` nor in `series`"),
                    );
                }
            }
            for k in p.only.keys() {
                if !seen.contains(&k.as_str()) {
                    return err(
                        format!("{label}.only.{k}"),
                        format!("`{k}` is not a sweep key"),
                    );
                }
            }
            let stem = p.file_stem();
            if stems.contains(&stem) {
                return err(
                    format!("{label}.name"),
                    format!("two plots would write `{stem}`; give them distinct `name`s"),
                );
            }
            stems.push(stem);
        }
        Ok(ExperimentConfig {
            name,
            system,
            title,
            output,
            repetitions,
            seed,
            common_random_numbers,
            base,
            sweeps,
            plots,
            document: doc,
        })
    }

    /// All swept keys, in sweep order.
    pub fn sweep_keys(&self) -> Vec<String> {
        self.sweeps
            .iter()
            .flat_map(|s| s.keys.iter().cloned())
            .collect()
    }

    /// Number of points of the grid (1 when there is no sweep).
    pub fn num_points(&self) -> usize {
        self.sweeps.iter().map(|s| s.values.len()).product()
    }

    /// The cartesian product of the sweeps, first sweep outermost.
    pub fn points(&self) -> Vec<Point> {
        let n = self.num_points();
        (0..n)
            .map(|index| {
                let mut rem = index;
                let mut picks = vec![0usize; self.sweeps.len()];
                for (j, s) in self.sweeps.iter().enumerate().rev() {
                    picks[j] = rem % s.values.len();
                    rem /= s.values.len();
                }
                let assignments = self
                    .sweeps
                    .iter()
                    .zip(&picks)
                    .flat_map(|(s, &p)| s.keys.iter().cloned().zip(s.values[p].iter().cloned()))
                    .collect();
                Point { index, assignments }
            })
            .collect()
    }

    /// The instance of a point: the base with the point's assignments applied
    /// (a dotted key `a.b` sets `b` inside table `a`). No seed is inserted here.
    pub fn instance(&self, point: &Point) -> Result<Table> {
        let mut t = self.base.clone();
        for (k, v) in &point.assignments {
            set_dotted(&mut t, k, v.clone())?;
        }
        Ok(t)
    }

    /// Hash of everything that determines the results (system, repetitions,
    /// seed, base, sweeps); title, output and plots do not count.
    pub fn content_hash(&self) -> String {
        let mut exp = serde_json::Map::new();
        exp.insert("system".into(), self.system.clone().into());
        exp.insert("repetitions".into(), (self.repetitions as u64).into());
        exp.insert("seed".into(), self.seed.into());
        if self.common_random_numbers {
            exp.insert("common_random_numbers".into(), true.into());
        }
        let mut all = serde_json::Map::new();
        all.insert("experiment".into(), exp.into());
        all.insert(
            "base".into(),
            toml_to_json(&Value::Table(self.base.clone())),
        );
        all.insert(
            "sweep".into(),
            toml_to_json(self.document.get("sweep").unwrap_or(&Value::Array(vec![]))),
        );
        let text = canonical_json(&serde_json::Value::Object(all));
        // FNV-1a, 64 bit: stable across Rust versions and platforms.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in text.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}")
    }
}

fn set_dotted(t: &mut Table, key: &str, v: Value) -> Result<()> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut cur = t;
    for p in parts {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        cur = match entry {
            Value::Table(sub) => sub,
            _ => return err(key, format!("`{p}` in the base is not a table")),
        };
    }
    cur.insert(last.to_string(), v);
    Ok(())
}

/// TOML value to JSON (datetimes become strings).
pub fn toml_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::String(s) => s.clone().into(),
        Value::Integer(i) => (*i).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| f.to_string().into()),
        Value::Boolean(b) => (*b).into(),
        Value::Datetime(d) => d.to_string().into(),
        Value::Array(a) => a.iter().map(toml_to_json).collect::<Vec<_>>().into(),
        Value::Table(t) => t
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// JSON text with object keys sorted (independent of map ordering features).
fn canonical_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::from(k.clone()),
                        canonical_json(&m[k])
                    )
                })
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        serde_json::Value::Array(a) => {
            format!(
                "[{}]",
                a.iter().map(canonical_json).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

/// Display form of a TOML value in tables and legends.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        other => toml_to_json(other).to_string(),
    }
}
