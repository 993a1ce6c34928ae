//! The system registry: every system is reached through the `System` trait, the command
//! line has no per-system code, and `isac bench` / `--cross-check` go through it too.

use std::process::Command;

fn isac(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_isac"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_shows_every_registered_system_and_figure() {
    let (code, out, _) = isac(&["list"]);
    assert_eq!(code, 0);
    for s in isac::systems::all() {
        assert!(
            out.contains(s.name()),
            "{} missing from isac list",
            s.name()
        );
        for (id, _) in s.figures() {
            assert!(out.contains(id), "{id} missing from isac list");
        }
    }
}

#[test]
fn the_command_line_has_no_per_system_code() {
    let cli = include_str!("../src/cli/mod.rs");
    let main = include_str!("../src/main.rs");
    for s in isac::systems::all() {
        let name = s.name();
        assert!(
            !cli.contains(name) && !main.contains(name),
            "src/cli or src/main.rs names the system \"{name}\": go through isac::systems"
        );
    }
}

#[test]
fn unknown_benchmark_and_cross_check_are_input_errors() {
    let (code, _, err) = isac(&["bench", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`SYSTEM`") && err.contains("network"), "{err}");
    let (code, _, err) = isac(&["bench", "network", "--repeat", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--repeat"), "{err}");
}

/// `isac bench network --cross-check FILE` writes the answer the CVXPY checker reads: the
/// design, its channels and the parameters, the same JSON as `isac solve network --json`
/// on the embedded instance.
#[test]
fn network_cross_check_writes_the_solve_answer() {
    let dir = std::env::temp_dir().join(format!("isac-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("net.json");
    let (code, out, err) = isac(&["bench", "network", "--cross-check", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("network_reference.py"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let instance = dir.join("instance.toml");
    std::fs::write(&instance, isac::systems::network::CROSS_CHECK_INSTANCE).unwrap();
    let (code, solved, err) = isac(&[
        "solve",
        "network",
        "--input",
        instance.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let w: serde_json::Value = serde_json::from_str(&solved).unwrap();
    for key in [
        "status",
        "beamformers",
        "user_channels",
        "parameters",
        "association",
    ] {
        assert!(v.get(key).is_some(), "cross-check export lacks {key}");
        if key != "status" {
            assert_eq!(v[key], w[key], "{key} differs from isac solve");
        }
    }
}
