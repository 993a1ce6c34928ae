//! Every system's input: unknown keys are rejected by name (nested tables included), the
//! keys experiments add (`seed`) and instance files carry (`system`) stay accepted,
//! `scenario` works where the paper has named scenarios (backscatter) and is a clear error
//! where it has not, and every embedded figure config's instances pass these checks.

use isac::experiment::ExperimentConfig;
use isac::systems::backscatter::scenario::{scenario_one, scenario_two};
use isac::systems::backscatter::BackscatterScenario;
use isac::systems::multistatic::MultistaticScenario;
use isac::systems::network::scenario::NetworkScenario;
use toml::Table;

/// Parses `table` as an instance of `system` (scenario only, no solve).
fn parse(system: &str, table: &Table) -> Result<(), String> {
    let r = match system {
        "backscatter" => BackscatterScenario::from_table(table).map(|_| ()),
        "multistatic" => MultistaticScenario::from_table(table).map(|_| ()),
        "network" => NetworkScenario::from_table(table).map(|_| ()),
        other => panic!("no system {other}"),
    };
    r.map_err(|e| e.to_string())
}

fn table(s: &str) -> Table {
    s.parse().unwrap()
}

/// A valid instance of each system: backscatter Scenario I, the others' defaults.
fn valid(system: &str) -> Table {
    match system {
        "backscatter" => scenario_one(),
        _ => Table::new(),
    }
}

const SYSTEMS: [&str; 3] = ["backscatter", "multistatic", "network"];

#[test]
fn unknown_keys_are_rejected_by_every_system() {
    for system in SYSTEMS {
        assert!(parse(system, &valid(system)).is_ok(), "{system}");
        // a top-level typo
        let mut t = valid(system);
        t.insert("powr_dbm".into(), 20.into());
        let e = parse(system, &t).unwrap_err();
        assert!(
            e.contains("`powr_dbm`") && e.contains(&format!("unknown key for system \"{system}\"")),
            "{system}: {e}"
        );
        assert!(e.contains("allowed: "), "{system}: {e}");
        assert_eq!(e.lines().count(), 1, "{system}: one line: {e}");
        // a nested table (or a dotted key `extra.power`) is rejected by its name
        let mut t = valid(system);
        t.insert("extra".into(), toml::Value::Table(table("power = 1")));
        let e = parse(system, &t).unwrap_err();
        assert!(e.contains("`extra`"), "{system}: {e}");
    }
    // the example: a case typo gets a hint instead of the default 30 dBm
    let mut t = scenario_one();
    t.remove("power_dbm");
    t.insert("power_dBm".into(), 20.into());
    let e = parse("backscatter", &t).unwrap_err();
    assert!(e.contains("did you mean `power_dbm`"), "{e}");
}

#[test]
fn seed_and_system_stay_accepted_and_system_must_match() {
    for system in SYSTEMS {
        let mut t = valid(system);
        t.insert("seed".into(), 12345.into());
        t.insert("system".into(), system.into());
        assert!(parse(system, &t).is_ok(), "{system}");
        for other in SYSTEMS.iter().filter(|o| **o != system) {
            t.insert("system".into(), (*other).into());
            let e = parse(system, &t).unwrap_err();
            assert!(e.contains("`system`"), "{system} given {other}: {e}");
        }
    }
}

#[test]
fn scenario_presets_where_the_paper_has_them() {
    // backscatter: Section V's Scenarios I (one device) and II (nine devices)
    let one = BackscatterScenario::from_table(&table("scenario = \"I\"")).unwrap();
    assert_eq!(one.devices, vec![[1.5, -0.5]]);
    let two = BackscatterScenario::from_table(&table("scenario = \"II\"")).unwrap();
    assert_eq!(two.devices.len(), 9);
    assert_eq!(
        BackscatterScenario::from_table(&scenario_two())
            .unwrap()
            .devices,
        two.devices
    );
    // a key given overrides the preset
    let s = BackscatterScenario::from_table(&table("scenario = \"I\"\ntx_antennas = 4")).unwrap();
    assert_eq!(s.tx_array.elements, 4);
    let e = parse("backscatter", &table("scenario = \"III\"")).unwrap_err();
    assert!(e.contains("`scenario`") && e.contains("\"II\""), "{e}");
    // multistatic and network: one setup each, which the defaults already are
    for system in ["multistatic", "network"] {
        let e = parse(system, &table("scenario = \"I\"")).unwrap_err();
        assert!(
            e.contains("`scenario`")
                && e.contains(&format!("{system} has no named scenario presets")),
            "{system}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

/// Every instance of every embedded figure config, with the `seed` the runner adds, and
/// every network instance file, passes the stricter key checks.
#[test]
fn embedded_configs_use_only_known_keys() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut checked = 0;
    for system in SYSTEMS {
        let dir = root.join(system);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let doc = table(&text);
            if doc.contains_key("experiment") {
                let config = ExperimentConfig::from_toml_str(&text).unwrap();
                assert_eq!(config.system, system, "{}", path.display());
                for point in config.points() {
                    let mut instance = config.instance(&point).unwrap();
                    instance.insert("seed".into(), 7.into());
                    if let Err(e) = parse(system, &instance) {
                        panic!("{} point {}: {e}", path.display(), point.index);
                    }
                    checked += 1;
                }
            } else {
                parse(system, &doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} instances");
}
