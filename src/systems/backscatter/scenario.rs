//! Input of the backscatter system: parsing, validation and the named scenarios of
//! Section V of backscatter-isac.md.

use crate::error::{IsacError, Result};
use crate::input::{db_to_linear, dbm_to_watts, Input};
use crate::physics::array::{PhaseSign, Ula};
use crate::physics::geometry::{angle, distance, Point};
use crate::physics::pathloss::PathLoss;
use crate::physics::pulse::Pulse;
use rand::{Rng, SeedableRng};
use toml::Table;

/// Which FIM the design uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FimVariant {
    /// Derived from the signal model (1)-(9) (default): cross-device terms kept, the
    /// delay–DoA cross term computed with its `j` (zero for real pulses).
    Model,
    /// Proposition 3.2 as printed: block-diagonal per device, cross term `|eps_gdot| g_l`.
    Paper,
}

/// How the CRB minimisation is posed for the conic solver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formulation {
    /// `min tr(W J^{-1})` by one Schur-complement LMI `[[J, I], [I, V]] >= 0` (any FIM).
    TraceInverse,
    /// The paper's fractional programming + per-device Schur LMIs (42)-(43)
    /// (only for the block-diagonal printed FIM).
    FpSchur,
}

/// The modulation alphabet `S_D` of Section V.
pub const ALPHABET: [f64; 9] = [0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0];

/// A validated backscatter instance. SI units.
#[derive(Debug, Clone)]
pub struct BackscatterScenario {
    pub transmitter: Point,
    pub receiver: Point,
    pub devices: Vec<Point>,
    /// `s_l` in (0, 1].
    pub device_symbols: Vec<f64>,
    pub tx_array: Ula,
    pub rx_array: Ula,
    /// `dt`, seconds (also the sampling interval of (9)).
    pub symbol_duration: f64,
    /// `N`.
    pub symbols: usize,
    pub pulse: Pulse,
    /// `varrho`.
    pub reflection: f64,
    pub path_loss: PathLoss,
    /// `sigma_z^2`, W.
    pub noise_power: f64,
    /// `sigma_c^2`, W.
    pub clutter_power: f64,
    /// `P_0`, W.
    pub power_budget: f64,
    /// `Gamma_th`, bit/s/Hz (0: no rate constraint).
    pub min_sum_rate: f64,
    /// `tau_0`, the devices' response delay, seconds.
    pub response_delay: f64,
    pub fim: FimVariant,
    pub formulation: Formulation,
}

/// Keys this system reads; any other key is an error naming it (`seed` is accepted
/// because experiments add it to every instance; the backscatter model draws nothing).
pub const KEYS: &[&str] = &[
    "system",
    "scenario",
    "transmitter",
    "receiver",
    "devices",
    "device_symbols",
    "tx_antennas",
    "rx_antennas",
    "antenna_spacing",
    "symbol_duration",
    "symbols",
    "pulse",
    "reflection",
    "ref_path_loss_db",
    "path_loss_exponent",
    "noise_dbm",
    "clutter_dbm",
    "power_dbm",
    "min_sum_rate",
    "fim",
    "formulation",
    "response_delay",
    "power_w",
    "seed",
];

/// Scenario I of Section V: one device at (1.5, -0.5) m.
pub fn scenario_one() -> Table {
    let mut t = common_defaults();
    t.insert("devices".into(), points_value(&[[1.5, -0.5]]));
    t.insert(
        "device_symbols".into(),
        toml::Value::Array(vec![0.5.into()]),
    );
    t
}

/// Scenario II of Section V: nine devices drawn uniformly in the disc of radius 0.5 m
/// around (1.5, -0.5) m (seed 2024), rejecting draws within 15 degrees of the receive
/// array's endfire (there a device's DoA carries no information and its CRB is
/// infinite) or closer than 0.1 m to another device; symbols drawn from `S_D \ {0}`
/// (a device sending 0 reflects nothing and has an infinite CRB).
pub fn scenario_two() -> Table {
    let (devices, symbols) = scenario_two_draw(2024);
    let mut t = common_defaults();
    t.insert("devices".into(), points_value(&devices));
    t.insert(
        "device_symbols".into(),
        toml::Value::Array(symbols.into_iter().map(Into::into).collect()),
    );
    t
}

/// The seeded draw behind [`scenario_two`].
pub fn scenario_two_draw(seed: u64) -> (Vec<Point>, Vec<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let centre = [1.5, -0.5];
    let receiver = [2.0, -1.5];
    let mut devices: Vec<Point> = Vec::new();
    while devices.len() < 9 {
        let r = 0.5 * rng.gen::<f64>().sqrt();
        let a = rng.gen_range(0.0..std::f64::consts::TAU);
        let p = [centre[0] + r * a.cos(), centre[1] + r * a.sin()];
        let phi = angle(receiver, p);
        let far_from_endfire = phi.cos().abs() > 15f64.to_radians().sin();
        let separated = devices.iter().all(|q| distance(*q, p) > 0.1);
        if far_from_endfire && separated {
            devices.push([round4(p[0]), round4(p[1])]);
        }
    }
    let symbols = (0..9).map(|_| ALPHABET[rng.gen_range(1..9)]).collect();
    (devices, symbols)
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn points_value(p: &[Point]) -> toml::Value {
    toml::Value::Array(
        p.iter()
            .map(|q| toml::Value::Array(vec![q[0].into(), q[1].into()]))
            .collect(),
    )
}

fn common_defaults() -> Table {
    let s = r#"
        system = "backscatter"
        transmitter = [0.0, 0.0]
        receiver = [2.0, -1.5]
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
        min_sum_rate = 0.0
        fim = "model"
    "#;
    s.parse().expect("embedded defaults parse")
}

/// Fills a table from its named `scenario` ("I" or "II") where keys are missing.
pub fn with_scenario_defaults(table: &Table) -> Result<Table> {
    let Some(name) = table.get("scenario") else {
        return Ok(table.clone());
    };
    let base = match name.as_str() {
        Some("I") | Some("1") => scenario_one(),
        Some("II") | Some("2") => scenario_two(),
        _ => return Err(IsacError::input("scenario", "allowed: \"I\" | \"II\"")),
    };
    let mut out = base;
    for (k, v) in table {
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

impl BackscatterScenario {
    /// Parses and validates an instance (after filling a named scenario's defaults).
    pub fn from_table(table: &Table) -> Result<Self> {
        let table = with_scenario_defaults(table)?;
        let i = Input::new(&table);
        i.check_system("backscatter")?;
        i.reject_unknown("backscatter", KEYS)?;
        let transmitter = i.point("transmitter")?;
        let receiver = i.point("receiver")?;
        let devices = i.points("devices")?;
        if devices.is_empty() || devices.len() > 64 {
            return Err(IsacError::input(
                "devices",
                "must list between 1 and 64 device positions",
            ));
        }
        let device_symbols = i.f64_list("device_symbols")?;
        if device_symbols.len() != devices.len() {
            return Err(IsacError::input(
                "device_symbols",
                format!("must have one entry per device ({} devices)", devices.len()),
            ));
        }
        if let Some(s) = device_symbols.iter().find(|s| !(**s > 0.0 && **s <= 1.0)) {
            return Err(IsacError::input(
                "device_symbols",
                format!(
                    "every s_l must be in (0, 1] (s_l = 0 reflects nothing: infinite CRB), got {s}"
                ),
            ));
        }
        let tx_antennas = i.usize_in("tx_antennas", 1, 1024)?;
        let rx_antennas = i.usize_in("rx_antennas", 2, 1024)?;
        let spacing = i.f64_in_or("antenna_spacing", 1e-3, 100.0, 0.5)?;
        let symbol_duration = i.f64_in("symbol_duration", 1e-15, 1.0)?;
        let symbols = i.usize_in("symbols", 1, 10_000_000)?;
        let pulse_name = i.choice_or("pulse", &["cosine", "sinc", "triangular"], "cosine")?;
        let pulse = Pulse::from_name(&pulse_name).expect("validated");
        let reflection = i.f64_in_or("reflection", 1e-12, 1.0, 1.0)?;
        let zeta_db = i.f64_in("ref_path_loss_db", -300.0, 300.0)?;
        let gamma = i.f64_in("path_loss_exponent", 0.0, 10.0)?;
        let noise_power = dbm_to_watts(i.f64_in("noise_dbm", -300.0, 100.0)?);
        let clutter_power = dbm_to_watts(i.f64_in_or("clutter_dbm", -400.0, 100.0, -400.0)?);
        // the budget in dBm (`power_dbm`) or, alternatively, in watts (`power_w`)
        let power_budget = match (i.has("power_dbm"), i.has("power_w")) {
            (true, true) => {
                return Err(IsacError::input(
                    "power_w",
                    "give either power_dbm or power_w, not both",
                ))
            }
            (false, true) => i.positive("power_w")?,
            _ => dbm_to_watts(i.f64_in("power_dbm", -100.0, 100.0)?),
        };
        let min_sum_rate = i.f64_in_or("min_sum_rate", 0.0, 1e6, 0.0)?;
        let response_delay = i.f64_in_or("response_delay", 0.0, 1.0, 0.0)?;
        let fim = match i.choice_or("fim", &["model", "paper"], "model")?.as_str() {
            "paper" => FimVariant::Paper,
            _ => FimVariant::Model,
        };
        let default_form = "trace-inverse";
        let formulation = match i
            .choice_or("formulation", &["trace-inverse", "fp-schur"], default_form)?
            .as_str()
        {
            "fp-schur" => Formulation::FpSchur,
            _ => Formulation::TraceInverse,
        };
        if formulation == Formulation::FpSchur && fim == FimVariant::Model {
            return Err(IsacError::input(
                "formulation",
                "\"fp-schur\" needs the block-diagonal printed FIM (fim = \"paper\"); use \"trace-inverse\"",
            ));
        }
        for (l, d) in devices.iter().enumerate() {
            if distance(*d, transmitter) < 1e-3 {
                return Err(IsacError::input(
                    "devices",
                    format!("device {l} is on top of the transmitter (distance must be >= 1 mm)"),
                ));
            }
            if distance(*d, receiver) < 1e-3 {
                return Err(IsacError::input(
                    "devices",
                    format!("device {l} is on top of the receiver (distance must be >= 1 mm)"),
                ));
            }
            let phi = angle(receiver, *d);
            if phi.cos().abs() < 1e-3 {
                return Err(IsacError::input(
                    "devices",
                    format!(
                        "device {l} lies on the receive array's endfire (DoA {:.2} deg from +x): its DoA carries no information and its CRB is infinite",
                        phi.to_degrees()
                    ),
                ));
            }
        }
        Ok(BackscatterScenario {
            transmitter,
            receiver,
            devices,
            device_symbols,
            tx_array: Ula::new(tx_antennas, spacing, PhaseSign::Positive),
            rx_array: Ula::new(rx_antennas, spacing, PhaseSign::Positive),
            symbol_duration,
            symbols,
            pulse,
            reflection,
            path_loss: PathLoss::Reference {
                gain_at_1m: db_to_linear(zeta_db),
                exponent: gamma,
            },
            noise_power,
            clutter_power,
            power_budget,
            min_sum_rate,
            response_delay,
            fim,
            formulation,
        })
    }

    /// `sigma^2 = sigma_c^2 + sigma_z^2`, W.
    pub fn noise_variance(&self) -> f64 {
        self.noise_power + self.clutter_power
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_scenarios_parse() {
        let one = BackscatterScenario::from_table(&scenario_one()).unwrap();
        assert_eq!(one.devices.len(), 1);
        let two = BackscatterScenario::from_table(&scenario_two()).unwrap();
        assert_eq!(two.devices.len(), 9);
        for d in &two.devices {
            assert!(distance(*d, [1.5, -0.5]) <= 0.5 + 1e-4);
            assert!(angle(two.receiver, *d).cos().abs() > 0.25);
        }
    }

    #[test]
    fn bad_inputs_name_their_key() {
        let cases: &[(&str, toml::Value, &str)] = &[
            ("tx_antennas", 0.into(), "tx_antennas"),
            ("power_dbm", f64::NAN.into(), "power_dbm"),
            ("pulse", "gauss".into(), "pulse"),
            ("devices", points_value(&[[0.0, 0.0]]), "devices"),
            ("devices", points_value(&[[2.0, 0.5]]), "devices"),
            (
                "device_symbols",
                toml::Value::Array(vec![0.0.into()]),
                "device_symbols",
            ),
            ("fim", "exact".into(), "fim"),
            ("symbol_duration", (-1.0).into(), "symbol_duration"),
        ];
        for (key, value, named) in cases {
            let mut t = scenario_one();
            t.insert((*key).into(), value.clone());
            let e = BackscatterScenario::from_table(&t).unwrap_err().to_string();
            assert!(e.contains(&format!("`{named}`")), "{key}: {e}");
        }
        let mut t = scenario_one();
        t.remove("receiver");
        let e = BackscatterScenario::from_table(&t).unwrap_err().to_string();
        assert!(e.contains("`receiver`") && e.contains("missing"), "{e}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        // a typo must not silently fall back to the scenario's default
        let mut t = scenario_one();
        t.insert("power_dBm".into(), 20.0.into());
        let e = BackscatterScenario::from_table(&t).unwrap_err().to_string();
        assert!(e.contains("`power_dBm`") && e.contains("power_dbm"), "{e}");
        // the keys experiments and instance files add stay accepted
        let mut t = scenario_two();
        t.insert("seed".into(), 7.into());
        t.insert("scenario".into(), "II".into());
        assert!(BackscatterScenario::from_table(&t).is_ok());
    }
}
