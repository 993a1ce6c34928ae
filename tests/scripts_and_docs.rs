//! The scripts and docs say what exists: Python runs in the project's `.venv` (Debian 12
//! refuses `pip install` into the system interpreter), and every reproducible figure
//! (`<system>-fig<N>`) either has its plot in `docs/figures` or is called partial in the
//! README, and its system's page no longer says "(running)".

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// Lines that run a Python interpreter (not comments).
fn python_calls(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| l.contains("python3") || l.contains("python/") || l.contains("pip"))
        .collect()
}

#[test]
fn python_runs_in_the_project_venv() {
    let install = read("scripts/install.sh");
    assert!(
        install.contains("python3 -m venv .venv"),
        "install.sh creates .venv"
    );
    assert!(
        install.contains(".venv/bin/python -m pip install")
            && install.contains("-r python/requirements.txt"),
        "install.sh installs the requirements into .venv"
    );
    for line in python_calls(&install) {
        assert!(
            !line.contains("pip install") || line.contains(".venv/bin/python -m pip install"),
            "no pip against the system interpreter: {line}"
        );
    }
    let test = read("scripts/test.sh");
    assert!(test.contains("PY=.venv/bin/python"));
    for line in python_calls(&test) {
        assert!(
            !line.contains("python3"),
            "test.sh must run Python as $PY: {line}"
        );
    }
    let readme = read("README.md");
    for line in readme.lines().filter(|l| l.contains(" python/")) {
        assert!(!line.contains("python3 python/"), "README: {line}");
    }
    assert!(read(".gitignore").lines().any(|l| l.trim() == ".venv/"));
}

#[test]
fn every_figure_has_its_plot_or_is_called_partial() {
    // whitespace-normalised: a phrase may be wrapped across lines
    let readme = read("README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let figures: Vec<&str> = isac::systems::backscatter::figures::FIGURES
        .iter()
        .chain(isac::systems::multistatic::figures::FIGURES)
        .chain(isac::systems::network::figures::FIGURES)
        .chain(isac::systems::nearfield::figures::FIGURES)
        .chain(isac::systems::bpms::figures::FIGURES)
        .map(|(id, _)| *id)
        .collect();
    let stored: Vec<String> = std::fs::read_dir(root.join("docs/figures"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    for id in &figures {
        // one plot per figure id `<system>-fig<N>` (tables and combined ids such as
        // `network-fig3-4` have their own file names): `<id>.png`, or the panels
        // `<id><suffix>.png` with a suffix not starting with a digit (`bpms-fig5a_...`,
        // `nearfield-fig4-angle`; `bpms-fig2` is not a plot of `bpms-fig21`, and
        // `nearfield-fig5c-angle` is a plot of `nearfield-fig5c`, not of `nearfield-fig5`)
        let single = id
            .split_once("-fig")
            .is_some_and(|(_, n)| n.chars().all(|c| c.is_ascii_alphanumeric()));
        let has_plot = stored.iter().any(|f| {
            let longer = figures
                .iter()
                .any(|o| o.len() > id.len() && o.starts_with(*id) && f.starts_with(*o));
            !longer
                && f.strip_prefix(*id)
                    .and_then(|rest| rest.strip_suffix(".png"))
                    .is_some_and(|mid| !mid.starts_with(|c: char| c.is_ascii_digit()))
        });
        if !single || has_plot {
            continue;
        }
        // no plot: the README must say that this figure is partial
        assert!(
            readme.contains(&format!("`{id}` is partial")),
            "{id} has no plot in docs/figures and the README does not call it partial"
        );
        let system = id.split('-').next().unwrap();
        let doc = read(&format!("docs/{system}.md"));
        assert!(
            !doc.contains("(running)"),
            "docs/{system}.md: say what is done"
        );
    }
}
