//! Runs `isac::conic::bench_hermitian_sdp` and writes its JSON (for
//! `python/conic_reference.py`).
//!
//! Usage: `cargo run --release --example conic_bench -- [ANTENNAS] [OUT.json] [SEED] [KKT] [THREADS]`
//! (defaults 64, `out/conic_bench.json`, 1, `faer`, 1; KKT is Clarabel's direct solve
//! method, e.g. `qdldl`; THREADS those of the KKT backend).

use isac::conic::bench::HermitianSdpShape;
use isac::conic::{bench_hermitian_sdp, SolverSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let antennas = args.first().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let out = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "out/conic_bench.json".into());
    let seed = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(1);
    let shape = HermitianSdpShape {
        antennas,
        ..HermitianSdpShape::default()
    };
    let mut settings = SolverSettings::default();
    if let Some(method) = args.get(3) {
        settings.direct_solve_method = method.clone();
    }
    if let Some(threads) = args.get(4) {
        settings.max_threads = threads.parse()?;
    }
    let b = bench_hermitian_sdp(shape, seed, &settings)?;
    println!(
        "n = {antennas}: {} variables, {} rows; model {:.3} s, lower {:.3} s, build {:.3} s, \
         solve {:.3} s (build/solve {:.2e}); {} iterations, {}, objective {:.10e}, violation {:.2e}",
        b.variables,
        b.rows,
        b.model_seconds,
        b.lower_seconds,
        b.build_seconds,
        b.solve_seconds,
        b.build_seconds / b.solve_seconds,
        b.iterations,
        b.status,
        b.objective,
        b.violation
    );
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&b.to_json())?)?;
    println!("wrote {out}");
    Ok(())
}
