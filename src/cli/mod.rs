//! Subcommand implementations: read files, call the library, print.

use anyhow::Result;
use isac::error::IsacError;
use std::path::{Path, PathBuf};

/// Reads and parses a TOML file; any failure is an input error naming the file.
pub fn read_toml(path: &Path, key: &str) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        IsacError::input(key, format!("cannot read {}: {e}", path.display()))
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let msg = e.to_string().replace('\n', " ");
        IsacError::input(key, format!("{} is not valid TOML: {}", path.display(), msg.trim()))
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
    match system {
        "backscatter" => {
            let (model, design) = isac::systems::backscatter::solve_table(&table)?;
            if json {
                let v = isac::systems::backscatter::design_json(&model, &design);
                println!("{}", serde_json::to_string(&v)?);
            } else {
                print_backscatter(&model, &design);
            }
            Ok(())
        }
        other => Err(IsacError::input(
            "system",
            format!("unknown system \"{other}\"; allowed: {}", isac::systems::names().join(" | ")),
        )
        .into()),
    }
}

fn print_backscatter(
    model: &isac::systems::backscatter::BackscatterModel,
    d: &isac::systems::backscatter::BackscatterDesign,
) {
    use isac::systems::backscatter::DesignStatus;
    println!("backscatter: {} devices, status {}", model.devices(), d.status.as_str());
    if let DesignStatus::Inaccurate(r) = &d.status {
        println!("  reason: {r}");
    }
    if let (Some(c), Some(rate), Some(p)) = (d.crb, d.sum_rate, d.power) {
        println!("  CRB(rho) = {:.4e}  (delay {:.3e} s^2, DoA {:.4e} rad^2)", c.total, c.delay, c.doa);
        println!("  sum rate = {rate:.5} bit/s/Hz   power = {:.4} W ({:.2} dBm)", p, isac::input::watts_to_dbm(p));
        println!("  rank(R_x) = {}   solved in {:.3} s", d.rank.unwrap_or(0), d.solve_seconds);
    }
}

pub fn run(file: &Path, output: Option<PathBuf>, quiet: bool, threads: Option<usize>) -> Result<()> {
    let _ = (file, output, quiet, threads);
    anyhow::bail!("not yet wired")
}

pub fn reproduce(id: &str, output: Option<PathBuf>, quiet: bool, threads: Option<usize>) -> Result<()> {
    let _ = (id, output, quiet, threads);
    anyhow::bail!("not yet wired")
}

pub fn list() -> Result<()> {
    println!("systems:");
    for s in isac::systems::all() {
        println!("  {:<12} {}  [{}]", s.name, s.summary, s.paper);
    }
    Ok(())
}

pub fn bench(system: &str, export: Option<PathBuf>, repeat: usize) -> Result<()> {
    let _ = (system, export, repeat);
    anyhow::bail!("not yet wired")
}
