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
        "multistatic" => {
            let (model, design) = isac::systems::multistatic::solve_table(&table)?;
            let mf = isac::systems::multistatic::matched_filter_metrics(&model, &design)?;
            if json {
                let mut v = isac::systems::multistatic::design_json(&model, &design);
                if let serde_json::Value::Object(o) = &mut v {
                    o.extend(mf);
                }
                println!("{}", serde_json::to_string(&v)?);
            } else {
                print_multistatic(&model, &design);
                if let (Some(a), Some(b)) = (mf.get("mf_mse"), mf.get("crb_sum")) {
                    println!("  matched filter ({} trials): sum of MSEs {a} vs sum of CRBs {b} (s^2 + Hz^2)", model.scenario.mf_trials);
                }
            }
            Ok(())
        }
        "network" => {
            let (model, answer) = isac::systems::network::solve_table(&table)?;
            if json {
                let v = isac::systems::network::design_json(&model, &answer);
                println!("{}", serde_json::to_string(&v)?);
            } else {
                print_network(&model, &answer);
            }
            Ok(())
        }
        other => Err(IsacError::input(
            "system",
            format!(
                "unknown system \"{other}\"; allowed: {}",
                isac::systems::names().join(" | ")
            ),
        )
        .into()),
    }
}

fn print_network(
    model: &isac::systems::network::NetworkModel,
    a: &isac::systems::network::NetworkAnswer,
) {
    use isac::input::watts_to_dbm;
    println!(
        "network: {} BSs, {} users, method {}, status {}",
        model.bs_count(),
        model.user_count(),
        a.method.as_str(),
        a.status.as_str()
    );
    match &a.status {
        isac::systems::network::NetworkStatus::Optimal => {}
        isac::systems::network::NetworkStatus::Solved { note } => println!("  {note}"),
        isac::systems::network::NetworkStatus::Infeasible { reason, .. }
        | isac::systems::network::NetworkStatus::Inaccurate(reason) => println!("  {reason}"),
    }
    if let (Some(d), Some(v)) = (&a.design, &a.verification) {
        println!(
            "  receiving BS {} (0-based), association {:?}",
            d.receiver, d.association
        );
        println!(
            "  total power {:.2} dBm, CRLB {:.4e} m^2, largest SDR rank {}",
            watts_to_dbm(v.total_power),
            v.crlb,
            d.max_rank
        );
        let sinr: Vec<String> = v
            .sinr
            .iter()
            .map(|x| format!("{:.2}", 10.0 * x.log10()))
            .collect();
        println!("  SINR (dB): {}", sinr.join(", "));
    }
    println!(
        "  {} candidates, {} programs, {} infeasible by the CRLB floor, {} skipped by the power bound, {:.2} s",
        a.search.candidates, a.search.programs, a.search.pruned, a.search.bounded, a.solve_seconds
    );
}

fn print_multistatic(
    model: &isac::systems::multistatic::MultistaticModel,
    d: &isac::systems::multistatic::MultistaticDesign,
) {
    use isac::systems::multistatic::DesignStatus;
    println!(
        "multistatic: {} receivers, selection {}, status {}",
        model.receivers(),
        model.scenario.selection.as_str(),
        d.status.as_str()
    );
    match &d.status {
        DesignStatus::Inaccurate(r) | DesignStatus::Stalled(r) => println!("  reason: {r}"),
        DesignStatus::Infeasible { reason, certified } => {
            println!("  reason: {reason} (certified: {certified})")
        }
        _ => {}
    }
    let Some(crb) = d.crb else { return };
    let fmt = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.4e}"));
    println!("  selected REs: {:?}  (cost {:.3})", d.selected, d.cost);
    println!(
        "  CRB U = {crb:.4e}   position CRB = {} m^2 (velocity unknown), {} m^2 (known)",
        fmt(d.position_crb),
        fmt(d.position_crb_known_velocity)
    );
    let rates: Vec<String> = d.rates.iter().map(|r| format!("{r:.3}")).collect();
    println!("  rates (bit/s/Hz): [{}]", rates.join(", "));
    println!(
        "  power = {:.4} W   ranks = {:?}   SCA: {} + {} iterations, {:.3} s",
        d.power.unwrap_or(f64::NAN),
        d.ranks,
        d.feasibility_iterations,
        d.sca_iterations,
        d.solve_seconds
    );
}

fn print_backscatter(
    model: &isac::systems::backscatter::BackscatterModel,
    d: &isac::systems::backscatter::BackscatterDesign,
) {
    use isac::systems::backscatter::DesignStatus;
    println!(
        "backscatter: {} devices, status {}",
        model.devices(),
        d.status.as_str()
    );
    if let DesignStatus::Inaccurate(r) = &d.status {
        println!("  reason: {r}");
    }
    if let (Some(c), Some(rate), Some(p)) = (d.crb, d.sum_rate, d.power) {
        println!(
            "  CRB(rho) = {:.4e}  (delay {:.3e} s^2, DoA {:.4e} rad^2)",
            c.total, c.delay, c.doa
        );
        println!(
            "  sum rate = {rate:.5} bit/s/Hz   power = {:.4} W ({:.2} dBm)",
            p,
            isac::input::watts_to_dbm(p)
        );
        println!(
            "  rank(R_x) = {}   solved in {:.3} s",
            d.rank.unwrap_or(0),
            d.solve_seconds
        );
    }
}

pub fn run(
    file: &Path,
    output: Option<PathBuf>,
    quiet: bool,
    threads: Option<usize>,
) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| IsacError::input("FILE", format!("cannot read {}: {e}", file.display())))?;
    run_config_text(&text, output, quiet, threads)
}

fn run_config_text(
    text: &str,
    output: Option<PathBuf>,
    quiet: bool,
    threads: Option<usize>,
) -> Result<()> {
    let config = ExperimentConfig::from_toml_str(text)?;
    let system = isac::systems::find(&config.system).ok_or_else(|| {
        IsacError::input(
            "experiment.system",
            format!(
                "unknown system \"{}\"; allowed: {}",
                config.system,
                isac::systems::names().join(" | ")
            ),
        )
    })?;
    let options = RunOptions {
        output_override: output,
        quiet,
        max_threads: threads,
    };
    let summary = run_experiment(&config, system.solver, &options)?;
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

/// Every reproducible figure: `(id, embedded config)`.
pub fn figures() -> Vec<(&'static str, &'static str)> {
    let mut all = isac::systems::backscatter::figures::FIGURES.to_vec();
    all.extend_from_slice(isac::systems::multistatic::figures::FIGURES);
    all.extend_from_slice(isac::systems::network::figures::FIGURES);
    all
}

pub fn reproduce(
    id: &str,
    output: Option<PathBuf>,
    quiet: bool,
    threads: Option<usize>,
) -> Result<()> {
    let all = figures();
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
        run_config_text(text, Some(root.join(fig)), quiet, threads)?;
    }
    Ok(())
}

pub fn list() -> Result<()> {
    println!("systems:");
    for s in isac::systems::all() {
        println!("  {:<12} {}  [{}]", s.name, s.summary, s.paper);
    }
    println!("reproducible figures (isac reproduce ID | all):");
    for (id, text) in figures() {
        let title = ExperimentConfig::from_toml_str(text)
            .ok()
            .and_then(|c| c.title)
            .unwrap_or_default();
        println!("  {id:<20} {title}");
    }
    Ok(())
}

pub fn bench(
    system: &str,
    export: Option<PathBuf>,
    cross_check: Option<PathBuf>,
    repeat: usize,
) -> Result<()> {
    if system == "multistatic" {
        return bench_multistatic(export, cross_check, repeat);
    }
    if system == "network" {
        return bench_network(export, repeat);
    }
    if system != "backscatter" {
        return Err(IsacError::input(
            "SYSTEM",
            format!("no benchmark for \"{system}\"; allowed: backscatter | multistatic | network"),
        )
        .into());
    }
    use isac::systems::backscatter::bench;
    if let Some(path) = cross_check {
        let v = bench::cross_check_instances(12, 2026)?;
        write_json(&path, &v)?;
        println!("wrote {} cross-check instances to {}", 12, path.display());
        return Ok(());
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; time a release build (cargo build --release)");
    }
    let b = bench::bench_curve(repeat)?;
    println!("backscatter Scenario II (L = 9, M_t = M_r = 8), 26-point CRB-rate curve, 1 thread, best of {repeat}:");
    println!(
        "  structured curve (relaxed solve + max-rate solve + {} active points): {:.3} s",
        b.active_points, b.structured_seconds
    );
    println!(
        "  26 independent solves:                                            {:.3} s",
        b.independent_seconds
    );
    if let Some(path) = export {
        write_json(&path, &b.export)?;
        println!(
            "  exported to {} (run python3 python/backscatter_reference.py {} for the CVXPY ratio)",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

fn bench_network(export: Option<PathBuf>, repeat: usize) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; time a release build (cargo build --release)");
    }
    let b = isac::systems::network::bench::bench_table2(repeat, 24)?;
    let dbm = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2} dBm"));
    println!("network Table II layout (S = 4, K = 5, N = 8), best of {repeat}:");
    println!(
        "  Algorithm 1 (+ the program of its structure):       {:.3} s  -> {}",
        b.proposed_seconds,
        dbm(b.proposed_power_dbm)
    );
    println!(
        "  joint variant (+ the programs of its structures):   {:.3} s  -> {}",
        b.joint_seconds,
        dbm(b.joint_power_dbm)
    );
    println!(
        "  exhaustive search, {} threads:                       {:.3} s  -> {}",
        b.threads,
        b.exhaustive_seconds,
        dbm(b.exhaustive_power_dbm)
    );
    println!(
        "    {} candidates: {} programs solved (bounds included), {} infeasible by the CRLB floor, {} skipped by the power bound",
        b.candidates, b.programs, b.pruned, b.bounded
    );
    println!(
        "  one fixed-structure program, 1 thread (mean of {}): {:.4} s",
        b.sample, b.program_seconds
    );
    if let Some(path) = export {
        write_json(&path, &b.export)?;
        println!(
            "  exported to {} (python3 python/network_reference.py {} --exhaustive runs the same search in CVXPY)",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

fn bench_multistatic(
    export: Option<PathBuf>,
    cross_check: Option<PathBuf>,
    repeat: usize,
) -> Result<()> {
    use isac::systems::multistatic::bench;
    if let Some(path) = cross_check {
        let b = bench::bench_design(bench::CROSS_CHECK_INSTANCE, 1)?;
        write_json(&path, &b.export)?;
        println!(
            "wrote the cross-check SCA ({} iterations, s(Q) = {:.9}) to {}",
            b.sca_iterations,
            b.final_gain,
            path.display()
        );
        return Ok(());
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; time a release build (cargo build --release)");
    }
    let b = bench::bench_design(bench::INSTANCE, repeat)?;
    println!("multistatic paper setup (K = 10, N_t = 10, N_r = 2, L = 2), |G| = 2, R_th = 0.5 bit/s/Hz, 1 thread, best of {repeat}:");
    println!(
        "  feasibility phase: {:>3} iterations {:>8.3} s",
        b.feasibility_iterations, b.feasibility_seconds
    );
    println!(
        "  selection ({:?}):          {:>8.3} s",
        b.selected, b.selection_seconds
    );
    println!(
        "  SCA (45)-(46):     {:>3} iterations {:>8.3} s  ({:.3} s per iteration), final s(Q) = {:.9}",
        b.sca_iterations,
        b.sca_seconds,
        b.sca_seconds / b.sca_iterations.max(1) as f64,
        b.final_gain
    );
    println!(
        "  full design:                     {:>8.3} s",
        b.total_seconds
    );
    if let Some(path) = export {
        write_json(&path, &b.export)?;
        println!(
            "  exported to {} (python3 python/multistatic_reference.py --problem {} --out OUT.json runs the same SCA in CVXPY)",
            path.display(),
            path.display()
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
