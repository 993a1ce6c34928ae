//! The `isac` command. Parses and prints; the mathematics lives in the library.

use clap::{Parser, Subcommand};
use isac::IsacError;
use std::path::PathBuf;
use std::process::ExitCode;

mod cli;

#[derive(Parser)]
#[command(
    name = "isac",
    version,
    about = "Cramér–Rao-bound-driven design of ISAC systems"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Solve one instance of a system given as a TOML file.
    Solve {
        /// System name (see `isac list`).
        system: String,
        /// Instance file (TOML).
        #[arg(long)]
        input: PathBuf,
        /// Print one JSON object on stdout instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Run an experiment file: sweeps and Monte Carlo to CSV, manifest and plots.
    Run {
        /// Experiment file (TOML).
        file: PathBuf,
        /// Output folder (overrides the file's `output`).
        #[arg(long)]
        output: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Monte Carlo repetitions per point instead of the file's `repetitions`.
        #[arg(long)]
        repetitions: Option<usize>,
    },
    /// Reproduce a paper figure from its embedded configuration (`all` for every one).
    Reproduce {
        /// Figure id (see `isac list`) or `all`.
        id: String,
        /// Output folder root (default `out/`).
        #[arg(long)]
        output: Option<PathBuf>,
        #[arg(long)]
        quiet: bool,
        #[arg(long)]
        threads: Option<usize>,
        /// Channel realizations (repetitions) per point instead of the figure's own
        /// (a quick look at a Monte Carlo figure).
        #[arg(long)]
        repetitions: Option<usize>,
    },
    /// List systems and reproducible figures.
    List,
    /// Time a system's solver on its benchmark instances (release build recommended).
    Bench {
        /// System name.
        system: String,
        /// Write the curve instances and our results as JSON here (for the CVXPY peer script).
        #[arg(long)]
        export: Option<PathBuf>,
        /// Instead of timing, write random cross-check instances and our answers here.
        #[arg(long)]
        cross_check: Option<PathBuf>,
        /// Repetitions of the whole benchmark.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
}

fn main() -> ExitCode {
    // A closed pipe (`isac ... | head`) ends the program quietly, as for any Unix tool,
    // instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = Args::parse();
    let result = match args.command {
        Command::Solve {
            system,
            input,
            json,
        } => cli::solve(&system, &input, json),
        Command::Run {
            file,
            output,
            quiet,
            threads,
            repetitions,
        } => cli::run(&file, output, quiet, threads, repetitions),
        Command::Reproduce {
            id,
            output,
            quiet,
            threads,
            repetitions,
        } => cli::reproduce(&id, output, quiet, threads, repetitions),
        Command::List => cli::list(),
        Command::Bench {
            system,
            export,
            cross_check,
            repeat,
        } => cli::bench(&system, export, cross_check, repeat),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e.downcast_ref::<IsacError>() {
                Some(IsacError::Input { .. }) => 2,
                _ => 1,
            };
            eprintln!("error: {}", first_line(&format!("{e:#}")));
            ExitCode::from(code)
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}
