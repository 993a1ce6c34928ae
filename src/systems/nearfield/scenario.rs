//! Input of the near-field ISPAC system (near-field-ispac.md): arrays, target, users,
//! powers, and the choices the paper leaves open (docs/nearfield.md#conventions).
//! Every key the paper fixes has the paper's value (Section V-A) as default.

use crate::error::{IsacError, Result};
use crate::input::{db_to_linear, dbm_to_watts, Input};
use crate::physics::wavefront::{LinearArray, Wavefront};
use crate::C64;
use toml::Table;

pub use super::pdd::{AnalogStep, PddSettings, PenaltySign};
pub use super::uplink::{UplinkBlock, UplinkSettings};

/// Every key a `nearfield` instance may hold.
pub const KEYS: &[&str] = &[
    "system",
    "mode",
    "architecture",
    "method",
    "analog_iterations",
    "randomizations",
    "penalty_sign",
    "penalty_start",
    "penalty_decrease",
    "ao_tolerance",
    "pdd_tolerance",
    "outer_iterations",
    "inner_iterations",
    "uplink_block",
    "ao_iterations",
    "sca_iterations",
    "mt_antennas",
    "at_antennas",
    "rf_chains",
    "carrier_hz",
    "antenna_spacing",
    "mt_wavefront",
    "at_wavefront",
    "target",
    "reflection_db",
    "echo_model",
    "sensing_snr_db",
    "sensing_gain",
    "users",
    "scatterers_per_user",
    "user_distance_m",
    "user_sector_deg",
    "seed",
    "power_dbm",
    "user_power_dbm",
    "noise_dbm",
    "min_sinr_db",
    "slots",
    "user_channels_re",
    "user_channels_im",
    "fim",
    "subspace",
    "trials",
    "estimator_grid",
];

/// Working mode (Section II-B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The MT transmits to the users and the target, the AT receives the echo.
    Downlink,
    /// The AT probes the target, the MT receives the users and the echo.
    Uplink,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Downlink => "downlink",
            Mode::Uplink => "uplink",
        }
    }
}

/// The MT architecture of a design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Fully digital MT (`N_RF = N_a`), the paper's Scheme 2 ("FD"): the CRB lower bound.
    Digital,
    /// Partially connected hybrid MT with `N_RF` chains (downlink), designed by `method`.
    Hybrid(HybridMethod),
    /// Scheme 1: the hybrid design computed on far-field user channels (72), evaluated on
    /// the true near-field ones.
    FarField(HybridMethod),
}

impl Architecture {
    /// The input word.
    pub fn as_str(&self) -> &'static str {
        match self {
            Architecture::Digital => "digital",
            Architecture::Hybrid(_) => "hybrid",
            Architecture::FarField(_) => "far",
        }
    }
}

/// How a hybrid design is found (`method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HybridMethod {
    /// The analog stage fitted to the fully digital optimum, then the exact digital block
    /// (`src/systems/nearfield/hybrid.rs`).
    AltMin,
    /// The paper's Algorithm 2, PDD double loop (`src/systems/nearfield/pdd.rs`).
    Pdd,
    /// Algorithm 2 with block (40) by descent on the phases instead of the SDR.
    PddManifold,
}

impl HybridMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            HybridMethod::AltMin => "altmin",
            HybridMethod::Pdd => "pdd",
            HybridMethod::PddManifold => "pdd-manifold",
        }
    }
}

/// The keys of Algorithm 2 only (`method = "pdd"`), a part of [`KEYS`] (tested).
const PDD_KEYS: &[&str] = &[
    "randomizations",
    "penalty_sign",
    "penalty_start",
    "penalty_decrease",
    "ao_tolerance",
    "pdd_tolerance",
    "outer_iterations",
    "inner_iterations",
];

/// The keys of Algorithm 6 only (a hybrid or far uplink), a part of [`KEYS`] (tested).
const UPLINK_KEYS: &[&str] = &["uplink_block", "ao_iterations", "sca_iterations"];

/// The uplink AO keys; each is bad input unless the design is a hybrid or far uplink.
fn uplink_settings(i: &Input, mode: Mode, architecture: Architecture) -> Result<UplinkSettings> {
    let applies = mode == Mode::Uplink && architecture != Architecture::Digital;
    if !applies {
        if let Some(k) = UPLINK_KEYS.iter().find(|k| i.has(k)) {
            return Err(IsacError::input(
                *k,
                "applies to a hybrid or far uplink only (Algorithm 6: mode = \"uplink\", architecture = \"hybrid\" or \"far\")",
            ));
        }
    }
    let d = UplinkSettings::default();
    Ok(UplinkSettings {
        block: match i
            .choice_or("uplink_block", &["exact", "sca"], "exact")?
            .as_str()
        {
            "sca" => UplinkBlock::Sca,
            _ => UplinkBlock::Exact,
        },
        max_ao: i.usize_in_or("ao_iterations", 1, 10_000, d.max_ao)?,
        max_sca: i.usize_in_or("sca_iterations", 1, 10_000, d.max_sca)?,
    })
}

/// How the sensing gain `beta_s` of (8) is obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EchoModel {
    /// Two LoS hops of (71), MT/AT -> target -> MT/AT: `|beta|^2 = Gamma L(r)^2`.
    TwoHop,
    /// One LoS hop of (71): `|beta|^2 = Gamma L(r)`.
    OneHop,
    /// `|beta|^2` from the sensing SNR of Fig. 4, `|beta|^2 P / sigma^2` (dB).
    SensingSnr(f64),
    /// An explicit complex gain.
    Explicit(C64),
}

/// Which FIM the bound and the design use (docs/nearfield.md#printed-appendix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FimVariant {
    /// Derived from the signal models (13), (19); checked against the numerical FIM.
    Model,
    /// As printed: (77) repeats `dG/dtheta` in its second row (downlink only; the uplink
    /// appendix (80) is correct, so both variants agree there).
    Printed,
}

/// Whether the design solves in the subspace that holds its optimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subspace {
    /// The span of the responses, their derivatives and the user channels (exact).
    Reduced,
    /// The full `N_a x N_a` (or `N_b x N_b`) program, as a CVX user would write it.
    Full,
}

/// A validated instance.
#[derive(Debug, Clone)]
pub struct NearfieldScenario {
    pub mode: Mode,
    pub architecture: Architecture,
    /// MT array (`N_a`) and AT array (`N_b`), both with their reference at the origin.
    pub mt: LinearArray,
    pub at: LinearArray,
    pub rf_chains: usize,
    pub mt_wavefront: Wavefront,
    pub at_wavefront: Wavefront,
    /// Target angle (rad) and distance (m) about the reference element.
    pub target_angle: f64,
    pub target_distance: f64,
    /// Reflection coefficient `Gamma` (power, linear).
    pub reflection: f64,
    pub echo_model: EchoModel,
    pub users: usize,
    pub scatterers_per_user: usize,
    /// Users and scatterers fall at distances uniform in this range (m) ...
    pub user_distance: [f64; 2],
    /// ... and angles uniform in `[-sector, sector]` (rad).
    pub user_sector: f64,
    pub seed: u64,
    /// `P_d` (downlink, MT) or `P_s` (uplink, AT), W.
    pub power: f64,
    /// `P_u`, W.
    pub user_power: f64,
    /// Noise power at the BS receivers and at the users, W.
    pub noise: f64,
    /// `gamma` (linear), all users.
    pub min_sinr: f64,
    /// `T`.
    pub slots: usize,
    /// Explicit user channels, `K x N_a`.
    pub user_channels: Option<Vec<Vec<C64>>>,
    pub fim: FimVariant,
    pub subspace: Subspace,
    /// Monte Carlo trials of the positioning algorithms (0: none).
    pub trials: usize,
    /// Points of the coarse 1-D search grids of the estimators.
    pub estimator_grid: usize,
    /// Cap on the analog stage's iterations (hybrid designs).
    pub analog_iterations: usize,
    /// The parameters of Algorithm 2 (`method = "pdd"`; `seed` is the scenario's), and
    /// of Algorithm 5 in the uplink.
    pub pdd: PddSettings,
    /// The parameters of Algorithm 6 (hybrid and far uplink).
    pub uplink: UplinkSettings,
}

fn wavefront(i: &Input, key: &str, allowed: &[&str], default: &str) -> Result<Wavefront> {
    let s = i.choice_or(key, allowed, default)?;
    Wavefront::parse(&s).ok_or_else(|| IsacError::input(key, "unknown wavefront"))
}

/// The PDD keys; each is bad input unless `method = "pdd"`.
fn pdd_settings(i: &Input, architecture: Architecture) -> Result<PddSettings> {
    let method = match architecture {
        Architecture::Hybrid(m) | Architecture::FarField(m) => Some(m),
        Architecture::Digital => None,
    };
    let pdd = matches!(method, Some(HybridMethod::Pdd | HybridMethod::PddManifold));
    if !pdd {
        if let Some(k) = PDD_KEYS.iter().find(|k| i.has(k)) {
            return Err(IsacError::input(
                *k,
                "applies to method = \"pdd\" or \"pdd-manifold\" only (Algorithm 2, a hybrid or far architecture)",
            ));
        }
    }
    let d = PddSettings::default();
    Ok(PddSettings {
        sign: match i
            .choice_or("penalty_sign", &["consistent", "printed"], "consistent")?
            .as_str()
        {
            "printed" => PenaltySign::Printed,
            _ => PenaltySign::Consistent,
        },
        analog_step: if method == Some(HybridMethod::PddManifold) {
            AnalogStep::Manifold
        } else {
            AnalogStep::Sdr
        },
        penalty_start: i.f64_in_or("penalty_start", 1e-6, 1e6, d.penalty_start)?,
        penalty_decrease: i.f64_in_or("penalty_decrease", 0.01, 0.99, d.penalty_decrease)?,
        ao_tolerance: i.f64_in_or("ao_tolerance", 1e-12, 1.0, d.ao_tolerance)?,
        pdd_tolerance: i.f64_in_or("pdd_tolerance", 1e-12, 1.0, d.pdd_tolerance)?,
        max_outer: i.usize_in_or("outer_iterations", 1, 10_000, d.max_outer)?,
        max_inner: i.usize_in_or("inner_iterations", 1, 10_000, d.max_inner)?,
        randomizations: if method == Some(HybridMethod::PddManifold) && i.has("randomizations") {
            return Err(IsacError::input(
                "randomizations",
                "applies to method = \"pdd\" only (the SDR's Gaussian randomization); \"pdd-manifold\" has none",
            ));
        } else {
            i.usize_in_or("randomizations", 0, 1_000_000, d.randomizations)?
        },
        seed: i.u64_or("seed", 1)?,
    })
}

impl NearfieldScenario {
    /// Parses and validates an input table; every error names its key.
    pub fn from_table(table: &Table) -> Result<Self> {
        let i = Input::new(table);
        i.check_system("nearfield")?;
        i.reject_unknown("nearfield", KEYS)?;
        let mode = match i
            .choice_or("mode", &["downlink", "uplink"], "downlink")?
            .as_str()
        {
            "uplink" => Mode::Uplink,
            _ => Mode::Downlink,
        };
        let architecture = match i
            .choice_or("architecture", &["digital", "hybrid", "far"], "digital")?
            .as_str()
        {
            "digital" => {
                // a fully digital design is one exact program: its only method
                if i.has("method") {
                    i.choice("method", &["exact"]).map_err(|_| {
                        IsacError::input(
                            "method",
                            "a fully digital design is one exact program: allowed \"exact\" (the hybrid methods \"altmin\", \"pdd\", \"pdd-manifold\" apply to architecture = \"hybrid\" or \"far\")",
                        )
                    })?;
                }
                Architecture::Digital
            }
            other => {
                // the uplink has no covariance on the MT to fit: no altmin there
                let (allowed, default): (&[&str], &str) = match mode {
                    Mode::Downlink => (&["altmin", "pdd", "pdd-manifold"], "altmin"),
                    Mode::Uplink => (&["pdd", "pdd-manifold"], "pdd-manifold"),
                };
                let method = match i.choice_or("method", allowed, default)?.as_str() {
                    "altmin" => HybridMethod::AltMin,
                    "pdd-manifold" => HybridMethod::PddManifold,
                    _ => HybridMethod::Pdd,
                };
                if other == "far" {
                    Architecture::FarField(method)
                } else {
                    Architecture::Hybrid(method)
                }
            }
        };
        let na = i.usize_in_or("mt_antennas", 1, 1024, 64)?;
        let nb = i.usize_in_or("at_antennas", 1, 256, 16)?;
        // a fully digital MT has one chain per antenna: the default 16 applies to the
        // hybrid architectures (a given value is still checked)
        let default_chains = if architecture == Architecture::Digital && !i.has("rf_chains") {
            na
        } else {
            16
        };
        let rf_chains = i.usize_in_or("rf_chains", 1, 1024, default_chains)?;
        if crate::physics::hybrid::PartiallyConnected::new(na, rf_chains).is_none() {
            return Err(IsacError::input(
                "rf_chains",
                format!("N_a = {na} (mt_antennas) must be a multiple of N_RF = {rf_chains} (at most N_a)"),
            ));
        }
        let carrier = i.f64_in_or("carrier_hz", 1e6, 1e13, 28e9)?;
        let spacing = i.f64_in_or("antenna_spacing", 0.01, 10.0, 0.5)?;
        let mt = LinearArray::at_carrier(na, spacing, carrier);
        let at = LinearArray::at_carrier(nb, spacing, carrier);
        let mt_wavefront = wavefront(&i, "mt_wavefront", &["fresnel", "exact"], "fresnel")?;
        let at_wavefront = wavefront(&i, "at_wavefront", &["far", "fresnel", "exact"], "far")?;
        let target = if i.has("target") {
            let v = i.f64_list("target")?;
            if v.len() != 2 {
                return Err(IsacError::input(
                    "target",
                    "must be [angle in degrees, distance in metres]",
                ));
            }
            [v[0], v[1]]
        } else {
            [45.0, 20.0]
        };
        if !(target[0] > -90.0 && target[0] < 90.0) {
            return Err(IsacError::input(
                "target",
                format!("angle must be in (-90, 90) degrees, got {}", target[0]),
            ));
        }
        if !(target[1] > 0.0 && target[1] <= 1e6) {
            return Err(IsacError::input(
                "target",
                format!("distance must be in (0, 1e6] metres, got {}", target[1]),
            ));
        }
        let reflection = db_to_linear(i.f64_in_or("reflection_db", -200.0, 100.0, 0.0)?);
        let echo_word = i.choice_or("echo_model", &["two-hop", "one-hop"], "one-hop")?;
        let echo_model = if i.has("sensing_gain") {
            if i.has("sensing_snr_db") {
                return Err(IsacError::input(
                    "sensing_gain",
                    "give either sensing_gain or sensing_snr_db, not both",
                ));
            }
            let v = i.f64_list("sensing_gain")?;
            if v.len() != 2 || (v[0] == 0.0 && v[1] == 0.0) {
                return Err(IsacError::input(
                    "sensing_gain",
                    "must be a nonzero complex gain [re, im]",
                ));
            }
            EchoModel::Explicit(C64::new(v[0], v[1]))
        } else if i.has("sensing_snr_db") {
            EchoModel::SensingSnr(i.f64_in("sensing_snr_db", -300.0, 300.0)?)
        } else if echo_word == "two-hop" {
            EchoModel::TwoHop
        } else {
            EchoModel::OneHop
        };
        let users = i.usize_in_or("users", 1, 64, 4)?;
        let user_distance = if i.has("user_distance_m") {
            let v = i.f64_list("user_distance_m")?;
            if v.len() != 2 || !(v[0] > 0.0 && v[1] >= v[0]) {
                return Err(IsacError::input(
                    "user_distance_m",
                    "must be [min, max] metres with 0 < min <= max",
                ));
            }
            [v[0], v[1]]
        } else {
            [20.0, 30.0]
        };
        let user_sector = i
            .f64_in_or("user_sector_deg", 0.0, 89.9, 60.0)?
            .to_radians();
        let user_channels = i.complex_matrix(
            "user_channels_re",
            "user_channels_im",
            users,
            na,
            ["user", "MT antenna"],
        )?;
        let fim = match i.choice_or("fim", &["model", "printed"], "model")?.as_str() {
            "printed" => FimVariant::Printed,
            _ => FimVariant::Model,
        };
        let subspace = match i
            .choice_or("subspace", &["reduced", "full"], "reduced")?
            .as_str()
        {
            "full" => Subspace::Full,
            _ => Subspace::Reduced,
        };
        Ok(NearfieldScenario {
            mode,
            architecture,
            mt,
            at,
            rf_chains,
            mt_wavefront,
            at_wavefront,
            target_angle: target[0].to_radians(),
            target_distance: target[1],
            reflection,
            echo_model,
            users,
            scatterers_per_user: i.usize_in_or("scatterers_per_user", 0, 16, 2)?,
            user_distance,
            user_sector,
            seed: i.u64_or("seed", 1)?,
            power: dbm_to_watts(i.f64_in_or("power_dbm", -100.0, 100.0, 30.0)?),
            user_power: dbm_to_watts(i.f64_in_or("user_power_dbm", -100.0, 100.0, 20.0)?),
            noise: dbm_to_watts(i.f64_in_or("noise_dbm", -250.0, 100.0, -80.0)?),
            min_sinr: db_to_linear(i.f64_in_or("min_sinr_db", -100.0, 100.0, 10.0)?),
            slots: i.usize_in_or("slots", 1, 1 << 20, 256)?,
            user_channels,
            fim,
            subspace,
            trials: i.usize_in_or("trials", 0, 1_000_000, 0)?,
            estimator_grid: i.usize_in_or("estimator_grid", 16, 1_000_000, 2048)?,
            analog_iterations: i.usize_in_or("analog_iterations", 1, 100_000, 200)?,
            pdd: pdd_settings(&i, architecture)?,
            uplink: uplink_settings(&i, mode, architecture)?,
        })
    }

    /// Parses an instance given as TOML text (tests, examples).
    pub fn from_toml_str(src: &str) -> Result<Self> {
        let table: Table = src
            .parse()
            .map_err(|e: toml::de::Error| IsacError::input("input", e.message().to_string()))?;
        Self::from_table(&table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PDD-only keys are input keys: a key missing from `KEYS` would be rejected as
    /// unknown before its own check could name what it applies to.
    #[test]
    fn pdd_keys_are_input_keys() {
        for k in PDD_KEYS.iter().chain(UPLINK_KEYS) {
            assert!(KEYS.contains(k), "{k}");
        }
    }
}
