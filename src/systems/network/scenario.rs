//! Input of the network ISAC system (`network-isac.md`): base stations (BSs), users
//! (CUs), one target (ST), and every parameter the paper states (Table I) or leaves open.
//!
//! Choices where the paper is silent (written down in `docs/network.md`):
//! - the echo gain follows the radar equation
//!   `|alpha_{s,s'}|^2 = rcs lambda^2 / ((4 pi)^3 d_{s,t}^g d_{s',t}^g)`, `g` the BS–target
//!   path-loss exponent, unless `echo_gains` gives every `|alpha|^2` explicitly;
//! - the BS–user channels are Rayleigh, `h_{s,k} ~ CN(0, beta_{s,k} I)`,
//!   `beta = user_ref_gain * d^-user_path_loss_exponent`, drawn from `seed`, unless
//!   `user_channels_re/_im` give them;
//! - users and target, when not given, are dropped uniformly in the service disc of
//!   radius `area_radius` around the origin (Section IV), from `seed`.

use crate::error::{IsacError, Result};
use crate::input::{db_to_linear, dbm_to_watts, Input};
use crate::physics::geometry::Point;
use crate::C64;
use toml::Table;

/// How the design is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Algorithm 1 of the paper (alternating optimisation, penalty + MM, big-M).
    Proposed,
    /// Algorithm 1's penalty + MM with every variable in one program per iteration
    /// (big-M also on each receiver's CRLB constraint): our variant, no AO deadlock.
    Joint,
    /// Scheme 1: the BS closest to the target receives; association optimised.
    Closest,
    /// Scheme 2: random receiving BS and random association (from `seed`).
    Random,
    /// Scheme 3: BS 1 transmits, BS 2 receives (0-based 0 and 1).
    Bistatic,
    /// Every receiving BS and every association, each an SDP: the exact optimum.
    Exhaustive,
}

impl Method {
    pub const NAMES: &'static [&'static str] = &[
        "proposed",
        "joint",
        "closest",
        "random",
        "bistatic",
        "exhaustive",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Proposed => "proposed",
            Method::Joint => "joint",
            Method::Closest => "closest",
            Method::Random => "random",
            Method::Bistatic => "bistatic",
            Method::Exhaustive => "exhaustive",
        }
    }

    fn parse(s: &str) -> Method {
        match s {
            "proposed" => Method::Proposed,
            "joint" => Method::Joint,
            "closest" => Method::Closest,
            "random" => Method::Random,
            "bistatic" => Method::Bistatic,
            _ => Method::Exhaustive,
        }
    }
}

/// A validated network ISAC scenario (SI units: metres, watts, linear ratios).
#[derive(Debug, Clone)]
pub struct NetworkScenario {
    pub base_stations: Vec<Point>,
    pub users: Vec<Point>,
    pub target: Point,
    /// `N`, antennas per BS (ULA along the y axis).
    pub antennas: usize,
    /// Element spacing in wavelengths (0.5: the printed `e^{-j pi sin theta}`).
    pub antenna_spacing: f64,
    /// `L`, radar samples.
    pub samples: usize,
    /// `sigma_{c,k}^2`, W.
    pub user_noise: f64,
    /// `sigma_r^2` at the receiving BS, W.
    pub bs_noise: f64,
    /// `P`, per-BS power budget, W.
    pub max_power: f64,
    /// `Gamma_k`, linear.
    pub min_sinr: Vec<f64>,
    /// `epsilon`, m^2.
    pub max_crlb: f64,
    pub user_path_loss_exponent: f64,
    pub target_path_loss_exponent: f64,
    /// BS–user power gain at 1 m, linear.
    pub user_ref_gain: f64,
    /// m^2.
    pub target_rcs: f64,
    pub carrier_hz: f64,
    pub seed: u64,
    pub method: Method,
    pub receiving_bs: Option<usize>,
    pub association: Option<Vec<usize>>,
    /// `h_{s,k}` given explicitly, `[bs][user][antenna]`.
    pub user_channels: Option<Vec<Vec<Vec<C64>>>>,
    /// `|alpha_{s,s'}|^2` given explicitly (S x S, symmetric use: receiver s, transmitter s').
    pub echo_gains: Option<Vec<Vec<f64>>>,
    /// Radius of the service disc for dropped users / target, m.
    pub area_radius: f64,
    /// Algorithm 1: penalty factor `mu` (Table I: 3e7), stopping tolerance `delta`
    /// (Table I: 1e-3) and iteration cap.
    pub penalty: f64,
    pub tolerance: f64,
    pub max_iterations: usize,
}

/// Keys of `isac solve network`; any other key is an error naming it.
pub const KEYS: &[&str] = &[
    "system",
    "base_stations",
    "users",
    "user_count",
    "target",
    "area_radius",
    "antennas",
    "antenna_spacing",
    "samples",
    "user_noise_dbm",
    "bs_noise_dbm",
    "max_power_dbm",
    "min_sinr_db",
    "max_crlb",
    "user_path_loss_exponent",
    "target_path_loss_exponent",
    "user_ref_gain_db",
    "target_rcs",
    "carrier_hz",
    "seed",
    "method",
    "receiving_bs",
    "association",
    "user_channels_re",
    "user_channels_im",
    "echo_gains",
    "penalty",
    "tolerance",
    "max_iterations",
];

/// Seed stream of the user/target drop (the fading uses `seed` itself).
const DROP_STREAM: u64 = 0x006e_6574_776f_726b; // "network"

/// `count` points uniform (in area) in the disc of `radius` around the origin.
pub fn uniform_disc_drop(
    count: usize,
    radius: f64,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<Point> {
    use rand::Rng;
    (0..count)
        .map(|_| {
            let r = radius * rng.gen::<f64>().sqrt();
            let a: f64 = rng.gen_range(-std::f64::consts::PI..std::f64::consts::PI);
            [r * a.cos(), r * a.sin()]
        })
        .collect()
}

fn index_in(key: &str, v: &toml::Value, n: usize) -> Result<usize> {
    match v {
        toml::Value::Integer(x) if *x >= 0 && (*x as usize) < n => Ok(*x as usize),
        _ => Err(IsacError::input(
            key,
            format!("must be a 0-based BS index in [0, {}]", n.saturating_sub(1)),
        )),
    }
}

impl NetworkScenario {
    /// Parses and validates an input table. Every error names its key.
    pub fn from_table(table: &Table) -> Result<Self> {
        use rand::SeedableRng;
        let i = Input::new(table);
        i.check_system("network")?;
        i.reject_scenario(
            "network",
            "the defaults already are the paper's Section IV setup of Table II / Fig. 2 (4 BSs, 5 users and the target at fixed positions, Table I parameters); `user_count = 5` gives the random drops of Figs. 3-4: omit `scenario`",
        )?;
        i.reject_unknown("network", KEYS)?;
        let base_stations = if i.has("base_stations") {
            i.points("base_stations")?
        } else {
            vec![[0.0, 100.0], [100.0, 0.0], [0.0, -100.0], [-100.0, 0.0]]
        };
        let s = base_stations.len();
        if !(2..=8).contains(&s) {
            return Err(IsacError::input(
                "base_stations",
                format!("must list 2 to 8 base stations, got {s}"),
            ));
        }
        let seed = i.u64_or("seed", 1)?;
        let area_radius = i.positive_or("area_radius", 150.0)?;
        let mut drop_rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ DROP_STREAM);
        let users = if i.has("users") {
            if i.has("user_count") {
                return Err(IsacError::input(
                    "user_count",
                    "give either `users` (positions) or `user_count` (a seeded drop), not both",
                ));
            }
            i.points("users")?
        } else if i.has("user_count") {
            let k = i.usize_in("user_count", 1, 16)?;
            uniform_disc_drop(k, area_radius, &mut drop_rng)
        } else {
            vec![
                [-30.0, 80.0],
                [20.0, 130.0],
                [50.0, -80.0],
                [-40.0, -70.0],
                [-70.0, -20.0],
            ]
        };
        let k = users.len();
        if !(1..=16).contains(&k) {
            return Err(IsacError::input(
                "users",
                format!("must list 1 to 16 users, got {k}"),
            ));
        }
        let target = if i.has("target") {
            i.point("target")?
        } else if i.has("user_count") {
            uniform_disc_drop(1, area_radius, &mut drop_rng)[0]
        } else {
            [30.0, 60.0]
        };
        for (n, b) in base_stations.iter().enumerate() {
            if crate::physics::geometry::distance(*b, target) < 1e-3 {
                return Err(IsacError::input(
                    "target",
                    format!("coincides with base station {n}"),
                ));
            }
            for (m, u) in users.iter().enumerate() {
                if crate::physics::geometry::distance(*b, *u) < 1e-3 {
                    return Err(IsacError::input(
                        "users",
                        format!("user {m} coincides with base station {n}"),
                    ));
                }
            }
        }
        let antennas = i.usize_in_or("antennas", 1, 64, 8)?;
        let min_sinr_db = i.f64_in_or("min_sinr_db", -30.0, 60.0, 8.0)?;
        let method = Method::parse(&i.choice_or("method", Method::NAMES, "proposed")?);
        let receiving_bs = match table.get("receiving_bs") {
            None => None,
            Some(v) => Some(index_in("receiving_bs", v, s)?),
        };
        let association = match table.get("association") {
            None => None,
            Some(v) => {
                let bad = || {
                    IsacError::input(
                        "association",
                        format!(
                            "must list one 0-based serving BS in [0, {}] per user ({k} users)",
                            s - 1
                        ),
                    )
                };
                let arr = v.as_array().ok_or_else(bad)?;
                if arr.len() != k {
                    return Err(bad());
                }
                let a: Vec<usize> = arr
                    .iter()
                    .map(|x| index_in("association", x, s))
                    .collect::<Result<_>>()?;
                if let Some(r) = receiving_bs {
                    if let Some(u) = a.iter().position(|&b| b == r) {
                        return Err(IsacError::input(
                            "association",
                            format!(
                                "user {u} is served by BS {r}, the receiving BS (constraint C6)"
                            ),
                        ));
                    }
                }
                Some(a)
            }
        };
        let user_channels = i.complex_tensor(
            "user_channels_re",
            "user_channels_im",
            [s, k, antennas],
            ["bs", "user", "antenna"],
        )?;
        let echo_gains = match table.get("echo_gains") {
            None => None,
            Some(v) => {
                let bad = || {
                    IsacError::input(
                        "echo_gains",
                        format!("must be an {s} x {s} matrix of |alpha_{{s,s'}}|^2 >= 0 (receiver, transmitter)"),
                    )
                };
                let rows = v.as_array().ok_or_else(bad)?;
                if rows.len() != s {
                    return Err(bad());
                }
                let m: Vec<Vec<f64>> = rows
                    .iter()
                    .map(|r| {
                        let r = r.as_array().ok_or_else(bad)?;
                        if r.len() != s {
                            return Err(bad());
                        }
                        r.iter()
                            .map(|x| match x {
                                toml::Value::Float(f) if f.is_finite() && *f >= 0.0 => Ok(*f),
                                toml::Value::Integer(n) if *n >= 0 => Ok(*n as f64),
                                _ => Err(bad()),
                            })
                            .collect()
                    })
                    .collect::<Result<_>>()?;
                Some(m)
            }
        };
        Ok(NetworkScenario {
            base_stations,
            users,
            target,
            antennas,
            antenna_spacing: i.f64_in_or("antenna_spacing", 0.05, 4.0, 0.5)?,
            samples: i.usize_in_or("samples", 1, 1 << 24, 1024)?,
            user_noise: dbm_to_watts(i.f64_in_or("user_noise_dbm", -200.0, 100.0, -85.0)?),
            bs_noise: dbm_to_watts(i.f64_in_or("bs_noise_dbm", -200.0, 100.0, -65.0)?),
            max_power: dbm_to_watts(i.f64_in_or("max_power_dbm", -100.0, 100.0, 45.0)?),
            min_sinr: vec![db_to_linear(min_sinr_db); k],
            max_crlb: i.positive_or("max_crlb", 1.0)?,
            user_path_loss_exponent: i.f64_in_or("user_path_loss_exponent", 0.0, 10.0, 3.0)?,
            target_path_loss_exponent: i.f64_in_or("target_path_loss_exponent", 0.0, 10.0, 2.0)?,
            user_ref_gain: db_to_linear(i.f64_in_or("user_ref_gain_db", -200.0, 100.0, -30.0)?),
            target_rcs: i.positive_or("target_rcs", 1.0)?,
            carrier_hz: i.positive_or("carrier_hz", 3.5e9)?,
            seed,
            method,
            receiving_bs,
            association,
            user_channels,
            echo_gains,
            area_radius,
            penalty: i.positive_or("penalty", 3e7)?,
            tolerance: i.positive_or("tolerance", 1e-3)?,
            max_iterations: i.usize_in_or("max_iterations", 1, 10_000, 50)?,
        })
    }

    pub fn bs_count(&self) -> usize {
        self.base_stations.len()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn wavelength(&self) -> f64 {
        crate::physics::SPEED_OF_LIGHT / self.carrier_hz
    }
}
