//! Records which code built the binary (`ISAC_BUILD`: the git commit, `+dirty` when the
//! working tree differed from it), so that an experiment's manifest names the code that
//! produced it and an interrupted run is resumed only by the same build.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    for path in [
        "src",
        "configs",
        "Cargo.toml",
        "Cargo.lock",
        ".git/HEAD",
        ".git/index",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    let build = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "src",
                "configs",
                "Cargo.toml",
                "Cargo.lock",
                "build.rs",
            ])
            .is_some_and(|s| !s.is_empty());
            format!("{commit}{}", if dirty { "+dirty" } else { "" })
        }
        None => "unknown".to_string(),
    };
    println!("cargo:rustc-env=ISAC_BUILD={build}");
}
