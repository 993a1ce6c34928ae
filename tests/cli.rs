//! The `isac` command: bad input gives one clear line naming the key and exit code 2;
//! an infeasible design is an answer (exit 0); the JSON answer has the documented shape.

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

fn write(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("isac-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

const BASE: &str = r#"
system = "backscatter"
transmitter = [0.0, 0.0]
receiver = [2.0, -1.5]
devices = [[1.5, -0.5]]
device_symbols = [0.5]
tx_antennas = 8
rx_antennas = 8
antenna_spacing = 0.5
symbol_duration = 5e-7
symbols = 128
pulse = "cosine"
reflection = 1.0
ref_path_loss_db = -30.0
path_loss_exponent = 2.7
noise_dbm = -60.0
clutter_dbm = -60.0
power_dbm = 30.0
min_sum_rate = 0.02
"#;

fn with(key: &str, line: &str) -> String {
    let kept: Vec<&str> = BASE
        .lines()
        .filter(|l| !l.starts_with(&format!("{key} =")))
        .collect();
    format!("{}\n{line}\n", kept.join("\n"))
}

#[test]
fn bad_inputs_exit_2_with_one_line_naming_the_key() {
    let cases = [
        ("missing", with("receiver", ""), "receiver"),
        (
            "range",
            with("reflection", "reflection = 2.0"),
            "reflection",
        ),
        (
            "on-tx",
            with("devices", "devices = [[0.0, 0.0]]"),
            "devices",
        ),
        (
            "zero-ant",
            with("tx_antennas", "tx_antennas = 0"),
            "tx_antennas",
        ),
        ("neg-power", with("power_dbm", "power_w = -1.0"), "power_w"),
        ("nan", with("noise_dbm", "noise_dbm = nan"), "noise_dbm"),
        ("pulse", with("pulse", "pulse = \"gaussian\""), "pulse"),
        ("system", with("system", "system = \"radar\""), "system"),
        (
            "symbols",
            with("device_symbols", "device_symbols = [0.5, 0.5]"),
            "device_symbols",
        ),
        ("fim", with("fim", "fim = \"exact\""), "fim"),
    ];
    for (name, body, key) in cases {
        let f = write(&format!("{name}.toml"), &body);
        let (code, stdout, stderr) = isac(&["solve", "backscatter", "--input", &f]);
        assert_eq!(code, 2, "{name}: stderr {stderr}");
        assert!(stdout.is_empty(), "{name}");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(key), "{name}: {stderr}");
    }
}

#[test]
fn unknown_system_file_and_figure_exit_2() {
    let f = write("ok.toml", BASE);
    let (code, _, e) = isac(&["solve", "radar", "--input", &f]);
    assert_eq!(code, 2, "{e}");
    let (code, _, e) = isac(&["solve", "backscatter", "--input", "/nonexistent/x.toml"]);
    assert_eq!(code, 2, "{e}");
    let bad = write("bad.toml", "system = \"backscatter\"\ntx_antennas = [");
    let (code, _, e) = isac(&["solve", "backscatter", "--input", &bad]);
    assert_eq!(code, 2, "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    let (code, _, e) = isac(&["reproduce", "fig99"]);
    assert_eq!(code, 2, "{e}");
}

#[test]
fn infeasible_rate_is_an_answer() {
    let f = write("inf.toml", &with("min_sum_rate", "min_sum_rate = 5.0"));
    let (code, stdout, stderr) = isac(&["solve", "backscatter", "--input", &f, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["status"], "infeasible");
}

#[test]
fn json_answer_has_the_documented_shape() {
    let body = with("devices", "devices = [[1.5, -0.5], [1.2, -0.3]]");
    let body = body.replace("device_symbols = [0.5]", "device_symbols = [0.5, 0.75]");
    let f = write("two.toml", &body);
    let (code, stdout, stderr) = isac(&["solve", "backscatter", "--input", &f, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["status"], "optimal");
    for key in [
        "crb",
        "crb_delay",
        "crb_doa",
        "sum_rate",
        "power",
        "solve_seconds",
    ] {
        assert!(v[key].is_number(), "{key}");
    }
    let crb = v["crb"].as_f64().unwrap();
    let parts = v["crb_delay"].as_f64().unwrap() + v["crb_doa"].as_f64().unwrap();
    assert!((crb - parts).abs() <= 1e-12 * crb);
    assert!(v["power"].as_f64().unwrap() <= 1.0 + 1e-6);
    assert!(v["sum_rate"].as_f64().unwrap() >= 0.02 * (1.0 - 1e-6));
    let fim = v["fim"].as_array().unwrap();
    assert_eq!(fim.len(), 4);
    assert!(fim.iter().all(|r| r.as_array().unwrap().len() == 4));
    let re = v["tx_covariance"]["re"].as_array().unwrap();
    let im = v["tx_covariance"]["im"].as_array().unwrap();
    assert_eq!((re.len(), im.len()), (8, 8));
    // Hermitian with trace = power
    let tr: f64 = (0..8).map(|i| re[i][i].as_f64().unwrap()).sum();
    assert!((tr - v["power"].as_f64().unwrap()).abs() < 1e-9);
    for i in 0..8 {
        for j in 0..8 {
            let a = re[i][j].as_f64().unwrap() - re[j][i].as_f64().unwrap();
            let b = im[i][j].as_f64().unwrap() + im[j][i].as_f64().unwrap();
            assert!(a.abs() < 1e-9 && b.abs() < 1e-9);
        }
    }
}

#[test]
fn list_shows_every_figure() {
    let (code, out, _) = isac(&["list"]);
    assert_eq!(code, 0);
    for f in ["fig5a", "fig5b", "fig6", "fig7", "fig8", "fig9"] {
        assert!(out.contains(&format!("backscatter-{f}")), "{f}");
    }
}

const MULTISTATIC: &str = r#"
system = "multistatic"
receivers = [[30.0, 10.0], [-20.0, 50.0], [45.0, 45.0]]
tx_antennas = 4
samples = 64
min_rate = 1.5
selection = "exhaustive"
"#;

#[test]
fn multistatic_json_answer_has_the_documented_shape_and_rechecks() {
    let p = write("ms.toml", MULTISTATIC);
    let (code, out, err) = isac(&["solve", "multistatic", "--input", &p, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for key in [
        "status",
        "crb",
        "position_crb",
        "selected",
        "rates",
        "cost",
        "power",
        "sca_iterations",
        "solve_seconds",
        "fims",
        "beamformers",
        "comm_channels",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {out}");
    }
    assert_eq!(v["beamformers"].as_array().unwrap().len(), 4);
    assert_eq!(v["comm_channels"].as_array().unwrap().len(), 3);
    assert_eq!(v["fims"].as_array().unwrap().len(), 3);
    // the answer can be re-checked outside isac: rates from the returned W and channels
    let c = |m: &serde_json::Value, r: usize, col: usize| {
        isac::C64::new(
            m["re"][r][col].as_f64().unwrap(),
            m["im"][r][col].as_f64().unwrap(),
        )
    };
    let ws = v["beamformers"].as_array().unwrap();
    let sigma2 = 1e-9;
    let selected: Vec<usize> = v["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let power: f64 = ws
        .iter()
        .map(|w| {
            (0..4)
                .map(|r| (0..2).map(|l| c(w, r, l).norm_sqr()).sum::<f64>())
                .sum::<f64>()
        })
        .sum();
    assert!((power - v["power"].as_f64().unwrap()).abs() < 1e-9 && power <= 1.0 + 1e-6);
    for k in 0..3 {
        let h = &v["comm_channels"][k];
        // 2x2 covariance of stream i at RE k: (H W_i)(H W_i)^H
        let cov = |i: usize| {
            let hw: Vec<Vec<isac::C64>> = (0..2)
                .map(|r| {
                    (0..2)
                        .map(|l| (0..4).map(|t| c(h, r, t) * c(&ws[i], t, l)).sum())
                        .collect()
                })
                .collect();
            let mut m = [[isac::C64::new(0.0, 0.0); 2]; 2];
            for a in 0..2 {
                for b in 0..2 {
                    m[a][b] = (0..2).map(|l| hw[a][l] * hw[b][l].conj()).sum();
                }
            }
            m
        };
        let det = |m: [[isac::C64; 2]; 2]| (m[0][0] * m[1][1] - m[0][1] * m[1][0]).re;
        let mut psi = [[isac::C64::new(0.0, 0.0); 2]; 2];
        psi[0][0].re = sigma2;
        psi[1][1].re = sigma2;
        for i in 0..4 {
            if i == k + 1 || (i == 0 && selected.contains(&k)) {
                continue;
            }
            let m = cov(i);
            for a in 0..2 {
                for b in 0..2 {
                    psi[a][b] += m[a][b];
                }
            }
        }
        let own = cov(k + 1);
        let mut tot = psi;
        for a in 0..2 {
            for b in 0..2 {
                tot[a][b] += own[a][b];
            }
        }
        let rate = (det(tot) / det(psi)).log2();
        assert!(
            (rate - v["rates"][k].as_f64().unwrap()).abs() < 1e-6,
            "RE {k}: {rate}"
        );
        assert!(rate >= 1.5 - 1e-5);
    }
}

#[test]
fn multistatic_bad_input_and_infeasible() {
    let p = write("ms_bad.toml", &format!("{MULTISTATIC}\nstreams = 5\n"));
    let (code, _, err) = isac(&["solve", "multistatic", "--input", &p]);
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("streams"), "{err}");
    let p = write(
        "ms_inf.toml",
        &MULTISTATIC.replace("min_rate = 1.5", "min_rate = 80.0"),
    );
    let (code, out, err) = isac(&["solve", "multistatic", "--input", &p, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], "infeasible");
    assert_eq!(v["certified"], true);
}

const NETWORK: &str = r#"
system = "network"
base_stations = [[0.0, 100.0], [100.0, 0.0], [-80.0, -60.0]]
user_count = 3
antennas = 4
seed = 1
max_crlb = 100.0
min_sinr_db = 5.0
method = "closest"
"#;

#[test]
fn network_json_answer_rechecks_from_its_own_fields() {
    let p = write("net.toml", NETWORK);
    let (code, out, err) = isac(&["solve", "network", "--input", &p, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], "solved", "{v}");
    assert_eq!(v["infeasible"], 0.0, "the Fig. 4 indicator");
    let c = |x: &serde_json::Value, i: usize| {
        let f = |k: &str| x[k][i].as_f64().unwrap();
        (f("re"), f("im"))
    };
    // SINR of every user from the JSON's channels, beamformers and covariances
    let r = v["receiving_bs"].as_u64().unwrap() as usize;
    let assoc: Vec<usize> = v["association"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let h = &v["user_channels"];
    let w = v["beamformers"].as_array().unwrap();
    let noise = v["parameters"]["user_noise_w"].as_f64().unwrap();
    let n = 4;
    let inner = |s: usize, k: usize, j: usize| {
        let (mut re, mut im) = (0.0, 0.0);
        for m in 0..n {
            let (hr, hi) = c(&h[s][k], m);
            let (wr, wi) = c(&w[j], m);
            re += hr * wr + hi * wi;
            im += hr * wi - hi * wr;
        }
        re * re + im * im
    };
    for k in 0..3 {
        assert_eq!(w[k]["bs"].as_u64().unwrap() as usize, assoc[k]);
        assert_ne!(assoc[k], r);
        let signal = inner(assoc[k], k, k);
        let mut interference = noise;
        for j in (0..3).filter(|&j| j != k) {
            interference += inner(assoc[j], k, j);
        }
        for s in (0..3).filter(|&s| s != r) {
            let rs = &v["sensing_covariances"][s];
            let hk = &h[s][k];
            for a in 0..n {
                for b in 0..n {
                    let (har, hai) = c(hk, a);
                    let (hbr, hbi) = c(hk, b);
                    let (rr, ri) = (
                        rs["re"][a][b].as_f64().unwrap(),
                        rs["im"][a][b].as_f64().unwrap(),
                    );
                    // conj(h_a) R_ab h_b, real part
                    let (xr, xi) = (har * rr + hai * ri, har * ri - hai * rr);
                    interference += xr * hbr - xi * hbi;
                }
            }
        }
        let sinr_db = 10.0 * (signal / interference).log10();
        let reported = v["sinr_db"][k].as_f64().unwrap();
        assert!(
            (sinr_db - reported).abs() < 1e-9,
            "user {k}: {sinr_db} vs {reported}"
        );
        assert!(sinr_db >= 5.0 - 1e-9, "user {k}: {sinr_db} dB");
    }
}

#[test]
fn network_bad_input_and_infeasible() {
    let p = write("net_bad.toml", &format!("{NETWORK}\nreceiving_bs = 9\n"));
    let (code, _, err) = isac(&["solve", "network", "--input", &p]);
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("receiving_bs"), "{err}");
    let p = write(
        "net_inf.toml",
        &NETWORK.replace("max_crlb = 100.0", "max_crlb = 1e-4"),
    );
    let (code, out, err) = isac(&["solve", "network", "--input", &p, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], "infeasible");
    assert_eq!(v["certified"], true);
    assert_eq!(v["infeasible"], 1.0, "the Fig. 4 indicator");
}

/// Issue 10, part 6: unknown keys and `scenario` through the command, for every system.
#[test]
fn unknown_keys_and_scenario_exit_2_for_every_system() {
    let cases = [
        // the issue's typo: must not silently use the default 30 dBm
        (
            "backscatter",
            with("power_dbm", "power_dBm = 20.0"),
            "power_dBm",
        ),
        (
            "multistatic",
            format!("{MULTISTATIC}\nmin_rates = 1.0\n"),
            "min_rates",
        ),
        (
            "network",
            format!("{NETWORK}\n[extra]\npower = 1\n"),
            "extra",
        ),
        (
            "multistatic",
            format!("{MULTISTATIC}\nscenario = \"I\"\n"),
            "scenario",
        ),
        (
            "network",
            format!("{NETWORK}\nscenario = \"I\"\n"),
            "scenario",
        ),
    ];
    for (i, (system, body, key)) in cases.iter().enumerate() {
        let p = write(&format!("keys{i}.toml"), body);
        let (code, out, err) = isac(&["solve", system, "--input", &p]);
        assert_eq!(code, 2, "{system} {key}: {out} {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("`{key}`")), "{system}: {err}");
    }
    // backscatter's named scenario: a file of two lines solves
    let p = write(
        "scenario_i.toml",
        "system = \"backscatter\"\nscenario = \"I\"\n",
    );
    let (code, out, err) = isac(&["solve", "backscatter", "--input", &p, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["devices"], 1);
}

/// Issue 10, part 6: an oversized sweep is a clear input error (exit 2), not an abort.
#[test]
fn oversized_sweeps_exit_2() {
    let head = "[experiment]\nname = \"big\"\nsystem = \"backscatter\"\n[base]\nscenario = \"I\"\n";
    let cases = [
        (
            "[[sweep]]\nkey = \"min_sum_rate\"\nlinspace = [0, 1, 1e12]\n",
            "sweep[1].linspace",
        ),
        (
            "[[sweep]]\nkey = \"min_sum_rate\"\nlinspace = [0, 1, 1000000000000]\n",
            "sweep[1].linspace",
        ),
        (
            "[[sweep]]\nkey = \"min_sum_rate\"\nlinspace = [0, 1, 1001]\n[[sweep]]\nkey = \"power_dbm\"\nlinspace = [0, 30, 1001]\n",
            "sweep[2]",
        ),
    ];
    for (i, (sweeps, key)) in cases.iter().enumerate() {
        let p = write(&format!("big{i}.toml"), &format!("{head}{sweeps}"));
        let out_dir = std::env::temp_dir().join(format!("isac-big-{}-{i}", std::process::id()));
        let (code, _, err) = isac(&["run", &p, "--output", out_dir.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("`{key}`")), "{err}");
    }
    let p = write(
        "bigreps.toml",
        &head.replace("[base]", "repetitions = 1000000000000\n[base]"),
    );
    let (code, _, err) = isac(&["run", &p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`experiment.repetitions`"), "{err}");
}

// The system registry: every system is reached through the `System` trait, the command
// line has no per-system code, and `isac bench` / `--cross-check` go through it too.

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

// ---- nearfield (near-field-ispac.md) ----

use faer::Mat;
use isac::systems::nearfield::model::crb_from_fim;
use isac::C64;

#[test]
fn nearfield_bad_input_names_the_key_and_exits_2_and_infeasible_exits_0() {
    let cases = [
        ("mt_antennas = 64\nrf_chains = 24", "rf_chains"),
        ("mt_antennas = 0", "mt_antennas"),
        ("at_antennas = 0", "at_antennas"),
        ("target = [45.0, 0.0]", "target"),
        ("target = [45.0, -3.0]", "target"),
        ("target = [90.0, 20.0]", "target"),
        ("target = [-95.0, 20.0]", "target"),
        (
            "users = 2\nuser_channels_re = [[1.0, 2.0]]\nuser_channels_im = [[0.0, 0.0]]",
            "user_channels_re",
        ),
        (
            "users = 1\nmt_antennas = 4\nrf_chains = 4\nuser_channels_re = [[1.0, 2.0, 3.0, 4.0]]",
            "user_channels_im",
        ),
        ("mt_wavefront = \"planar\"", "mt_wavefront"),
        (
            "architecture = \"far\"\nusers = 1\nmt_antennas = 4\nrf_chains = 2\nuser_channels_re = [[1.0, 2.0, 3.0, 4.0]]\nuser_channels_im = [[0.0, 0.0, 0.0, 0.0]]",
            "user_channels_re",
        ),
        ("architecture = \"planar\"", "architecture"),
        (
            "architecture = \"hybrid\"\nmode = \"uplink\"\nmethod = \"altmin\"",
            "method",
        ),
        ("architecture = \"hybrid\"\nuplink_block = \"sca\"", "uplink_block"),
        (
            "architecture = \"hybrid\"\nmode = \"uplink\"\nuplink_block = \"printed\"",
            "uplink_block",
        ),
        (
            "architecture = \"far\"\nmode = \"uplink\"\nao_iterations = 0",
            "ao_iterations",
        ),
        ("mode = \"uplink\"\nsca_iterations = 5", "sca_iterations"),
        ("architecture = \"hybrid\"\nmethod = \"exact\"", "method"),
        ("method = \"altmin\"", "method"),
        ("architecture = \"hybrid\"\nmethod = \"altmin\"\nrandomizations = 5", "randomizations"),
        ("architecture = \"hybrid\"\nmethod = \"pdd-manifold\"\nrandomizations = 5", "randomizations"),
        ("architecture = \"hybrid\"\nmethod = \"pdd\"\npenalty_sign = \"minus\"", "penalty_sign"),
        ("architecture = \"hybrid\"\nmethod = \"pdd\"\npenalty_decrease = 1.5", "penalty_decrease"),
        ("pdd_tolerance = 1e-3", "pdd_tolerance"),
        (
            "architecture = \"hybrid\"\nanalog_iterations = 0",
            "analog_iterations",
        ),
        ("mode = \"sideways\"", "mode"),
        ("power_dBm = 30.0", "power_dBm"),
        ("bogus = 1", "bogus"),
    ];
    for (i, (body, key)) in cases.iter().enumerate() {
        let path = write(
            &format!("bad{i}.toml"),
            &format!("system = \"nearfield\"\n{body}\n"),
        );
        let (code, _, err) = isac(&["solve", "nearfield", "--input", &path]);
        assert_eq!(code, 2, "{body}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{body}: {err}");
        assert!(err.contains(&format!("`{key}`")), "{body}: {err}");
    }
    for mode in ["downlink", "uplink"] {
        let path = write(
            &format!("nf-inf-{mode}.toml"),
            &format!("system = \"nearfield\"\nmode = \"{mode}\"\nmt_antennas = 16\nat_antennas = 4\nusers = 2\nmin_sinr_db = 60.0\n"),
        );
        let (code, out, err) = isac(&["solve", "nearfield", "--input", &path, "--json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["status"], "infeasible");
        assert_eq!(v["certified"], true);
    }
}

/// The complex matrix of the JSON fields `{key}_re`, `{key}_im`.
fn complex_field(v: &serde_json::Value, key: &str) -> Mat<C64> {
    let (re, im) = (&v[format!("{key}_re")], &v[format!("{key}_im")]);
    let rows = re.as_array().unwrap().len();
    let cols = re[0].as_array().unwrap().len();
    Mat::from_fn(rows, cols, |r, c| {
        C64::new(re[r][c].as_f64().unwrap(), im[r][c].as_f64().unwrap())
    })
}

/// SINR (12) of user `k` of two, written out from the channels `h` (`2 x N_a`), the
/// precoders `w` (`N_a x 2`) and the probing covariance `rd`.
fn two_user_sinr(h: &Mat<C64>, w: &Mat<C64>, rd: &Mat<C64>, noise: f64, k: usize) -> f64 {
    let n = h.ncols();
    let hw = |i: usize| {
        (0..n)
            .map(|a| h[(k, a)] * w[(a, i)])
            .sum::<C64>()
            .norm_sqr()
    };
    let probe: C64 = (0..n)
        .flat_map(|a| (0..n).map(move |b| (a, b)))
        .map(|(a, b)| h[(k, a)] * rd[(a, b)] * h[(k, b)].conj())
        .sum();
    hw(k) / (hw(1 - k) + probe.re + noise)
}

#[test]
fn nearfield_json_answer_recomputes_crb_and_sinr() {
    let path = write(
        "nf-ok.toml",
        "system = \"nearfield\"\nmt_antennas = 16\nat_antennas = 4\nusers = 2\nmin_sinr_db = 5.0\n",
    );
    let (code, out, err) = isac(&["solve", "nearfield", "--input", &path, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "optimal");
    let cm = |key: &str| complex_field(&v, key);
    let (w, rd, h) = (cm("digital"), cm("sensing_covariance"), cm("user_channels"));
    assert_eq!((w.nrows(), w.ncols()), (16, 2));
    assert_eq!((h.nrows(), h.ncols()), (2, 16));
    // SINR (12) from the JSON fields alone
    let noise = v["noise_w"].as_f64().unwrap();
    for k in 0..2 {
        let sinr = two_user_sinr(&h, &w, &rd, noise, k);
        let reported = v["sinr_db"][k].as_f64().unwrap();
        assert!((10.0 * sinr.log10() - reported).abs() < 1e-9);
        assert!(reported >= 5.0 - 1e-9);
    }
    // the CRB from the reported FIM
    let fim = Mat::from_fn(4, 4, |i, j| v["fim"][i][j].as_f64().unwrap());
    let crb = crb_from_fim(&fim).unwrap();
    let rcrb_deg = crb[(0, 0)].sqrt().to_degrees();
    assert!((rcrb_deg / v["rcrb_angle_deg"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert!((crb[(1, 1)].sqrt() / v["rcrb_distance_m"].as_f64().unwrap() - 1.0).abs() < 1e-9);
}

#[test]
fn bpms_bad_input_names_the_key_and_exits_2() {
    let cases = [
        ("targets = [[0.0, 0.0]]", "targets"),
        ("targets = [[-5.0, 20.0]]", "targets"),
        ("bs_antennas = 2", "bs_antennas"),
        ("alpha = -0.1", "alpha"),
        ("ms_gains_re = [1.0]\nms_gains_im = [0.0]", "ms_gains_re"),
        ("scheme = \"analog\"", "scheme"),
        ("starts = 4", "starts"),
        ("scheme = \"analog-cpa\"\ntolerance = 1e-3", "tolerance"),
        (
            "scheme = \"analog-fdb\"\ncodebook_angles = 64",
            "codebook_angles",
        ),
        ("scheme = \"analog-fdb\"\nstarts = 0", "starts"),
        ("allocation = \"wcrb\"", "allocation"),
        (
            "scheme = \"analog-cpa\"\nallocation = \"sqp\"",
            "allocation",
        ),
        ("scheme = \"analog-cpa\"\nslots = 6", "slots"),
        ("beampattern = \"polar\"", "beampattern"),
        (
            "beampattern = \"angle\"\nbeampattern_grid = [10, 10]",
            "beampattern_grid",
        ),
        ("beampattern_points = 90", "beampattern_points"),
        (
            "beampattern = \"plane\"\nbeampattern_x = [5.0, -5.0]",
            "beampattern_x",
        ),
        (
            "beampattern = \"plane\"\nbeampattern_grid = [10.5, 10]",
            "beampattern_grid",
        ),
        ("mismatch_method = \"sdp\"", "mismatch_method"),
        ("subcarriers = 0", "subcarriers"),
        ("Alpha = 0.5", "Alpha"),
    ];
    for (i, (body, key)) in cases.iter().enumerate() {
        let path = write(
            &format!("bpms-bad{i}.toml"),
            &format!("system = \"bpms\"\n{body}\n"),
        );
        let (code, _, err) = isac(&["solve", "bpms", "--input", &path]);
        assert_eq!(code, 2, "{body}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{body}: {err}");
        assert!(
            err.contains(&format!("`{key}`")),
            "{body}: must name {key}: {err}"
        );
    }
}

#[test]
fn bpms_json_answer_recomputes_both_crbs_from_f() {
    use isac::systems::bpms::{BpmsModel, BpmsScenario};
    let src =
        "system = \"bpms\"\nbs_antennas = 8\nue_antennas = 4\nsubcarriers = 64\nalpha = 0.3\n";
    let path = write("bpms-ok.toml", src);
    let (code, out, err) = isac(&["solve", "bpms", "--input", &path, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "optimal");
    let (re, im) = (&v["beamformers_re"], &v["beamformers_im"]);
    let rows = re.as_array().unwrap().len();
    let cols = re[0].as_array().unwrap().len();
    let f = Mat::from_fn(rows, cols, |r, c| {
        C64::new(re[r][c].as_f64().unwrap(), im[r][c].as_f64().unwrap())
    });
    // the model from the input and the gains as reported (an override of the same draw)
    let g = |key: &str, part: usize| -> String {
        let list: Vec<String> = v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| format!("{:e}", x[part].as_f64().unwrap()))
            .collect();
        format!("[{}]", list.join(", "))
    };
    let full = format!(
        "{src}bp_gains_re = {}\nbp_gains_im = {}\nms_gains_re = {}\nms_gains_im = {}\n",
        g("bp_gains", 0),
        g("bp_gains", 1),
        g("ms_gains", 0),
        g("ms_gains", 1)
    );
    let table: toml::Table = full.parse().unwrap();
    let model = BpmsModel::new(BpmsScenario::from_table(&table).unwrap());
    let b = model.bounds(&(&f * f.adjoint()));
    for (key, want) in [("crb_bp", b.crb_bp), ("crb_ms", b.crb_ms)] {
        let got = v[key].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9 * want, "{key}: {got} vs {want}");
    }
    let power: f64 = (0..rows)
        .map(|r| (0..cols).map(|c| f[(r, c)].norm_sqr()).sum::<f64>())
        .sum();
    assert!(power <= v["power_w"].as_f64().unwrap() / 64.0 * (1.0 + 1e-12));
}

/// An analog answer (both schemes) carries `F`: from it alone every column has one
/// amplitude, the power is the budget, both CRBs are recomputed, the weighted CRB is not
/// below the digital optimum it reports, and the mismatch (23a) is recomputed from the
/// reported guides; the beampattern asked for peaks where the design radiates.
#[test]
fn bpms_analog_json_answer_recomputes_everything() {
    use isac::systems::bpms::{BpmsModel, BpmsScenario};
    for scheme in ["analog-fdb", "analog-cpa"] {
        let extra = if scheme == "analog-fdb" {
            "starts = 2\n"
        } else {
            ""
        };
        let src = format!("system = \"bpms\"\nbs_antennas = 8\nue_antennas = 4\nsubcarriers = 64\nslots = 8\nalpha = 0.3\ntarget_count = 2\nscheme = \"{scheme}\"\n{extra}beampattern = \"angle\"\nbeampattern_points = 181\n");
        let path = write(&format!("bpms-{scheme}.toml"), &src);
        let (code, out, err) = isac(&["solve", "bpms", "--input", &path, "--json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        // a local method: its stopping rule or its iteration cap, the design re-checked
        assert!(
            v["status"] == "solved" || v["status"] == "max_iterations",
            "{scheme}: {v}"
        );
        let cm = |key: &str| {
            let (re, im) = (&v[format!("{key}_re")], &v[format!("{key}_im")]);
            let rows = re.as_array().unwrap().len();
            let cols = re[0].as_array().unwrap().len();
            Mat::from_fn(rows, cols, |r, c| {
                C64::new(re[r][c].as_f64().unwrap(), im[r][c].as_f64().unwrap())
            })
        };
        let f = cm("beamformers");
        let p0 = v["power_w"].as_f64().unwrap() / 64.0;
        let mut power = 0.0;
        for c in 0..f.ncols() {
            let mags: Vec<f64> = (0..f.nrows()).map(|r| f[(r, c)].norm()).collect();
            let (lo, hi) = mags
                .iter()
                .fold((f64::MAX, 0.0f64), |(a, b), m| (a.min(*m), b.max(*m)));
            assert!(
                hi - lo <= 1e-12 * hi.max(1e-300) + 1e-300,
                "{scheme}: column {c} not analog"
            );
            power += mags.iter().map(|m| m * m).sum::<f64>();
        }
        assert!(
            (power - p0).abs() < 1e-9 * p0,
            "{scheme}: power {power} vs {p0}"
        );
        let table: toml::Table = src.parse().unwrap();
        let mut sc = BpmsScenario::from_table(&table).unwrap();
        let gains = |key: &str| -> Vec<C64> {
            v[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| C64::new(x[0].as_f64().unwrap(), x[1].as_f64().unwrap()))
                .collect()
        };
        sc.bp_gains = gains("bp_gains");
        sc.ms_gains = gains("ms_gains");
        let model = BpmsModel::new(sc);
        let vv = &f * f.adjoint();
        let b = model.bounds(&vv);
        for (key, want) in [("crb_bp", b.crb_bp), ("crb_ms", b.crb_ms)] {
            let got = v[key].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-9 * want,
                "{scheme} {key}: {got} vs {want}"
            );
        }
        let objective = 0.3 * b.crb_bp + 0.7 * b.crb_ms;
        let digital = v["digital_objective"].as_f64().unwrap();
        assert!(
            objective >= digital * (1.0 - 1e-6),
            "{scheme}: {objective} below {digital}"
        );
        let (gb, gu) = (cm("guide_bar"), cm("guide_under"));
        let dist = |a: &Mat<C64>| -> f64 {
            (0..a.nrows())
                .flat_map(|r| (0..a.ncols()).map(move |c| (r, c)))
                .map(|(r, c)| (vv[(r, c)] - a[(r, c)]).norm_sqr())
                .sum()
        };
        let mismatch = (0.3 * dist(&gb) + 0.7 * dist(&gu)) / (p0 * p0);
        let got = v["mismatch_objective"].as_f64().unwrap();
        assert!(
            (mismatch - got).abs() < 1e-9 * mismatch,
            "{scheme}: mismatch {got} vs {mismatch}"
        );
        // the beampattern: 181 angles, its maximum within 1 degree of the angle where
        // a^H V a is largest over a fine independent scan
        let bp = v["beampattern"].as_array().unwrap();
        assert_eq!(bp.len(), 181);
        let peak = bp
            .iter()
            .max_by(|a, b| {
                a["gain_db"]
                    .as_f64()
                    .unwrap()
                    .total_cmp(&b["gain_db"].as_f64().unwrap())
            })
            .unwrap();
        let scan = (0..=3600)
            .map(|i| -90.0 + i as f64 * 0.05f64)
            .max_by(|a, b| {
                let g = |t: f64| model.bs_array.transmit_beampattern(&vv, t.to_radians());
                g(*a).total_cmp(&g(*b))
            })
            .unwrap();
        assert!(
            (peak["angle_deg"].as_f64().unwrap() - scan).abs() <= 1.0,
            "{scheme}: peak {} vs {scan}",
            peak["angle_deg"]
        );
    }
}

/// A hybrid answer carries `F`, `W~` and `R~_d`: from them alone (with the reported
/// channels) the structure, the power, the SINRs and the CRB are recomputed, and the
/// design is never below the fully digital bound it reports.
#[test]
fn nearfield_hybrid_json_answer_recomputes_everything() {
    for method in ["altmin", "pdd-manifold"] {
        nearfield_hybrid_json_answer_of(method);
    }
}

fn nearfield_hybrid_json_answer_of(method: &str) {
    use isac::systems::nearfield::{NearfieldModel, NearfieldScenario};
    let src = format!("system = \"nearfield\"\narchitecture = \"hybrid\"\nmethod = \"{method}\"\nmt_antennas = 16\nrf_chains = 4\nat_antennas = 4\nusers = 2\nmin_sinr_db = 5.0\n");
    let path = write(&format!("nf-hybrid-{method}.toml"), &src);
    let (code, out, err) = isac(&["solve", "nearfield", "--input", &path, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "solved", "{v}");
    assert_eq!(v["architecture"], "hybrid");
    assert_eq!(v["method"], method);
    let cm = |key: &str| complex_field(&v, key);
    let (f, wt, rt, h) = (
        cm("analog"),
        cm("digital"),
        cm("sensing_covariance"),
        cm("user_channels"),
    );
    assert_eq!(
        (f.nrows(), f.ncols(), wt.nrows(), rt.nrows()),
        (16, 4, 4, 4)
    );
    // structure (1): sub-arrays of 4, modulus 1/2 inside, zeros outside
    for n in 0..16 {
        for c in 0..4 {
            let z = f[(n, c)].norm();
            let want = if n / 4 == c { 0.5 } else { 0.0 };
            assert!((z - want).abs() < 1e-12, "F[{n},{c}] = {z}");
        }
    }
    let w = &f * &wt;
    let rd = &f * &rt * f.adjoint();
    let rx = &(&w * w.adjoint()) + &rd;
    let power: f64 = (0..16).map(|i| rx[(i, i)].re).sum();
    assert!(power <= 1.0 * (1.0 + 1e-6), "power {power}");
    let noise = v["noise_w"].as_f64().unwrap();
    for k in 0..2 {
        let sinr_db = 10.0 * two_user_sinr(&h, &w, &rd, noise, k).log10();
        assert!((sinr_db - v["sinr_db"][k].as_f64().unwrap()).abs() < 1e-9);
        assert!(sinr_db >= 5.0 - 1e-6, "user {k}: {sinr_db} dB");
    }
    // the CRB of R_x on the model rebuilt from the input
    let table: toml::Table = toml::from_str(&src).unwrap();
    let m = NearfieldModel::new(NearfieldScenario::from_table(&table).unwrap()).unwrap();
    let tr = m.bound(&rx, None).trace().unwrap();
    assert!((tr / v["crb_trace"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    let ratio = v["crb_ratio_to_digital"].as_f64().unwrap();
    assert!(
        ratio >= 1.0 - 1e-6,
        "hybrid below the fully digital bound: {ratio}"
    );
    let history = v["history"].as_array().unwrap();
    assert!(history.len() >= 2);
    if method.starts_with("pdd") {
        // per outer iteration: the objective and the violation of (32b), which ends below
        // epsilon_PDD = 1e-4 or at the iteration cap
        let last = history.last().unwrap();
        assert!(last["objective"].as_f64().unwrap() > 0.0);
        let violation = last["constraint_violation"].as_f64().unwrap();
        assert!(
            violation < 1e-4 || v["iterations"].as_u64() == Some(50),
            "{method}: violation {violation}"
        );
    }
}

/// The hybrid uplink answer (Algorithm 6) recomputed from its JSON matrices: the
/// structure of `F`, the probing power, every SINR (17) of the antenna-domain combiner
/// `F w_k` on the model rebuilt from the input, the CRB of `R_u` through `F`, the ratio to
/// the fully digital bound, and the AO history.
#[test]
fn nearfield_uplink_hybrid_json_answer_recomputes_everything() {
    use isac::systems::nearfield::{NearfieldModel, NearfieldScenario};
    for block in ["exact", "sca"] {
        let src = format!("system = \"nearfield\"\nmode = \"uplink\"\narchitecture = \"hybrid\"\nuplink_block = \"{block}\"\nao_iterations = 3\nouter_iterations = 10\nmt_antennas = 16\nrf_chains = 4\nat_antennas = 4\nusers = 2\nmin_sinr_db = 3.0\nseed = 2\n");
        let path = write(&format!("nf-uplink-{block}.toml"), &src);
        let (code, out, err) = isac(&["solve", "nearfield", "--input", &path, "--json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["status"], "solved", "{v}");
        assert_eq!(v["method"], "pdd-manifold");
        let cm = |key: &str| complex_field(&v, key);
        let (f, w, ru) = (cm("analog"), cm("digital"), cm("sensing_covariance"));
        assert_eq!(
            (f.nrows(), f.ncols(), w.nrows(), w.ncols(), ru.nrows()),
            (16, 4, 4, 2, 4)
        );
        for n in 0..16 {
            for c in 0..4 {
                let z = f[(n, c)].norm();
                let want = if n / 4 == c { 0.5 } else { 0.0 };
                assert!((z - want).abs() < 1e-12, "F[{n},{c}] = {z}");
            }
        }
        let power: f64 = (0..4).map(|i| ru[(i, i)].re).sum();
        assert!(power <= 1.0 * (1.0 + 1e-6), "power {power}");
        let table: toml::Table = toml::from_str(&src).unwrap();
        let m = NearfieldModel::new(NearfieldScenario::from_table(&table).unwrap()).unwrap();
        let antenna = &f * &w;
        for k in 0..2 {
            let wk: Vec<C64> = (0..16).map(|n| antenna[(n, k)]).collect();
            let sinr_db = 10.0 * m.uplink_sinr_with(k, &wk, &ru, None).log10();
            assert!(
                (sinr_db - v["sinr_db"][k].as_f64().unwrap()).abs() < 1e-9,
                "{block}"
            );
            assert!(sinr_db >= 3.0 - 1e-6, "{block}: user {k}: {sinr_db} dB");
        }
        let tr = m.bound(&ru, Some(&f)).trace().unwrap();
        assert!((tr / v["crb_trace"].as_f64().unwrap() - 1.0).abs() < 1e-9);
        let ratio = v["crb_ratio_to_digital"].as_f64().unwrap();
        assert!(
            ratio >= 1.0 - 1e-6,
            "{block}: below the fully digital bound: {ratio}"
        );
        let history = v["history"].as_array().unwrap();
        assert!(
            history.len() >= 2 && history.len() <= 4,
            "{}",
            history.len()
        );
    }
}

/// `--repetitions N` replaces the file's `repetitions`: N rows per point, recorded in the
/// manifest; 0 is the file's own error, naming `experiment.repetitions`.
#[test]
fn repetitions_flag_overrides_the_file() {
    let body = "[experiment]\nname = \"reps\"\nsystem = \"nearfield\"\nrepetitions = 5\n[base]\nmt_antennas = 8\nat_antennas = 4\nusers = 2\n[[sweep]]\nkey = \"min_sinr_db\"\nvalues = [0.0, 5.0]\n";
    let p = write("reps.toml", body);
    let out_dir = std::env::temp_dir().join(format!("isac-reps-{}", std::process::id()));
    let out = out_dir.to_str().unwrap();
    let (code, _, err) = isac(&["run", &p, "--output", out, "--repetitions", "2", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(out_dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 2, "{csv}");
    let manifest = std::fs::read_to_string(out_dir.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["repetitions"].as_i64(), Some(2), "{manifest}");
    assert_eq!(
        m.pointer("/experiment/experiment/repetitions")
            .and_then(|v| v.as_i64()),
        Some(2),
        "{manifest}"
    );
    let (code, _, err) = isac(&["run", &p, "--output", out, "--repetitions", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`experiment.repetitions`"), "{err}");
    let _ = std::fs::remove_dir_all(out_dir);
}
