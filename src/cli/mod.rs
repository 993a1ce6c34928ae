//! Subcommand implementations: read files, call the library, print.

use anyhow::Result;
use isac::error::IsacError;
use isac::experiment::{run_experiment, ExperimentConfig, RunOptions};
use std::path::{Path, PathBuf};

/// Reads and parses a TOML file; any failure is an input error naming the file.
pub fn read_toml(path: &Path, key: &str) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| IsacError::input(key, format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let msg = e.to_string().replace('\n', " ");
        IsacError::input(
            key,
            format!("{} is not valid TOML: {}", path.display(), msg.trim()),
        )
    })?;
    Ok(table)
}

pub fn solve(system: &str, input: &Path, json: bool) -> Result<()> {
    let table = read_toml(input, "--input")?;
    if let Some(declared) = table.get("system").and_then(|v| v.as_str()) {
        if declared != system {
            return Err(IsacError::input(
                "system",
                format!("the file declares \"{declared}\" but the command asks for \"{system}\""),
            )
            .into());
        }
    }
    let answer = isac::systems::lookup(system, "SYSTEM")?.solve(&table)?;
    if json {
        println!("{}", serde_json::to_string(&answer.json)?);
    } else {
        for line in &answer.summary {
            println!("{line}");
        }
    }
    Ok(())
}

pub fn run(
    file: &Path,
    output: Option<PathBuf>,
    quiet: bool,
    threads: Option<usize>,
    repetitions: Option<usize>,
) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| IsacError::input("FILE", format!("cannot read {}: {e}", file.display())))?;
    run_config_text(&text, output, quiet, threads, repetitions)
}

/// The experiment text with `experiment.repetitions` replaced (so that the file's own
/// checks apply to it and the manifest records it).
fn with_repetitions(text: &str, repetitions: Option<usize>) -> Result<String> {
    let Some(n) = repetitions else {
        return Ok(text.to_string());
    };
    let mut doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| IsacError::input("FILE", e.message().to_string()))?;
    let n = i64::try_from(n).map_err(|_| IsacError::input("--repetitions", "too large"))?;
    match doc.get_mut("experiment").and_then(|e| e.as_table_mut()) {
        Some(exp) => {
            exp.insert("repetitions".into(), toml::Value::Integer(n));
        }
        None => return Err(IsacError::input("experiment", "missing [experiment] table").into()),
    }
    toml::to_string(&doc).map_err(|e| IsacError::input("--repetitions", e.to_string()).into())
}

fn run_config_text(
    text: &str,
    output: Option<PathBuf>,
    quiet: bool,
    threads: Option<usize>,
    repetitions: Option<usize>,
) -> Result<()> {
    let text = with_repetitions(text, repetitions)?;
    let config = ExperimentConfig::from_toml_str(&text)?;
    let system = isac::systems::lookup(&config.system, "experiment.system")?;
    let options = RunOptions {
        output_override: output,
        quiet,
        max_threads: threads,
    };
    let summary = run_experiment(&config, system, &options)?;
    println!(
        "{}: {} rows ({} solved, {} reused, {} errors) in {:.1} s -> {}",
        config.name,
        summary.rows,
        summary.solved,
        summary.reused,
        summary.errors,
        summary.seconds,
        summary.folder.display()
    );
    for f in &summary.files {
        println!("  {}", f.display());
    }
    Ok(())
}

pub fn reproduce(
    id: &str,
    output: Option<PathBuf>,
    quiet: bool,
    threads: Option<usize>,
    repetitions: Option<usize>,
) -> Result<()> {
    let all = isac::systems::figures();
    let selected: Vec<_> = if id == "all" {
        all.clone()
    } else {
        all.iter().filter(|(f, _)| *f == id).cloned().collect()
    };
    if selected.is_empty() {
        let ids: Vec<&str> = all.iter().map(|(f, _)| *f).collect();
        return Err(IsacError::input(
            "ID",
            format!(
                "unknown figure \"{id}\"; allowed: all | {}",
                ids.join(" | ")
            ),
        )
        .into());
    }
    let root = output.unwrap_or_else(|| PathBuf::from("out"));
    for (fig, text) in selected {
        run_config_text(text, Some(root.join(fig)), quiet, threads, repetitions)?;
    }
    Ok(())
}

pub fn list() -> Result<()> {
    println!("systems:");
    for s in isac::systems::all() {
        println!("  {:<12} {}  [{}]", s.name(), s.summary(), s.paper());
    }
    println!("reproducible figures (isac reproduce ID | all):");
    for (id, text) in isac::systems::figures() {
        let title = ExperimentConfig::from_toml_str(text)
            .ok()
            .and_then(|c| c.title)
            .unwrap_or_default();
        println!("  {id:<20} {title}");
    }
    Ok(())
}

/// Runs a benchmark: a system's (`isac bench SYSTEM`) or the conic layer's (`isac bench
/// conic`); with `cross_check`, writes the system's cross-check export instead of timing.
pub fn bench(
    name: &str,
    export: Option<PathBuf>,
    cross_check: Option<PathBuf>,
    repeat: usize,
) -> Result<()> {
    if repeat == 0 {
        return Err(IsacError::input("--repeat", "must be at least 1").into());
    }
    let python = ".venv/bin/python";
    if let Some(path) = cross_check {
        if export.is_some() {
            return Err(IsacError::input(
                "--cross-check",
                "writes its own file; do not combine it with --export",
            )
            .into());
        }
        let system = isac::systems::lookup(name, "SYSTEM")?;
        let Some(c) = system.cross_check()? else {
            return Err(IsacError::input(
                "--cross-check",
                format!("system \"{name}\" has no cross-check export"),
            )
            .into());
        };
        write_json(&path, &c.export)?;
        let shown = path.display().to_string();
        println!("{}", c.message.replace("{export}", &shown));
        println!(
            "  check it with: {python} {}",
            c.checker.replace("{export}", &shown)
        );
        return Ok(());
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; time a release build (cargo build --release)");
    }
    let report = isac::systems::bench(name, repeat)?;
    for line in &report.lines {
        println!("{line}");
    }
    if let Some(path) = export {
        write_json(&path, &report.export)?;
        let shown = path.display().to_string();
        println!(
            "  exported to {shown}; the peer (CVXPY on the same problem): {python} {}",
            report.peer.replace("{export}", &shown)
        );
    }
    Ok(())
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| IsacError::io(dir.display().to_string(), e))?;
        }
    }
    std::fs::write(path, serde_json::to_string_pretty(v)?)
        .map_err(|e| IsacError::io(path.display().to_string(), e))?;
    Ok(())
}
