//! Input of the multi-static system: parsing and validation of `isac solve multistatic`
//! tables, with the defaults of Section VI-A of `multistatic-isac.md` and the choices the
//! paper leaves open (written down in `docs/multistatic.md`).

use super::fim::FimVariant;
use crate::error::{IsacError, Result};
use crate::input::{dbm_to_watts, Input};
use crate::physics::geometry::Point;
use crate::physics::pulse::Pulse;
use crate::C64;
use rand::{Rng, SeedableRng};
use toml::Table;

/// How the receivers for localisation are chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionMethod {
    /// Algorithm I (minimax linkage).
    Minimax,
    /// The K-means baseline of Section VI.
    KMeans,
    /// Exhaustive search over all subsets: the exact optimum of (29)-(31).
    Exhaustive,
    /// Every receiver.
    All,
    /// No receiver: the mono-static baseline (the TR receives its own echo with ideal
    /// self-interference cancellation, `|G| = 0`).
    MonoStatic,
    /// The best admissible set of exactly `n` receivers (exhaustive over `C(K, n)`);
    /// `n = 1` is the bi-static baseline.
    BestOfSize(usize),
    /// A fixed set (0-based indices).
    Fixed(Vec<usize>),
}

impl SelectionMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            SelectionMethod::Minimax => "minimax",
            SelectionMethod::KMeans => "kmeans",
            SelectionMethod::Exhaustive => "exhaustive",
            SelectionMethod::All => "all",
            SelectionMethod::MonoStatic => "none",
            SelectionMethod::BestOfSize(_) => "size",
            SelectionMethod::Fixed(_) => "fixed",
        }
    }
}

/// The TR-RE communication channel model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommChannel {
    /// Line of sight plus i.i.d. Rayleigh scattering with K-factor `rician_factor`.
    Rician,
    /// The paper's Section II direct link `sqrt(eta_{b,k}) a_k a_b^T` (rank one).
    LineOfSight,
}

/// How the beamformers are designed for a selected set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beamforming {
    /// The exact convex program when every TR-RE channel has rank one (the rate
    /// constraints are then linear SINR constraints); the SCA otherwise.
    Auto,
    /// Always the paper's SCA (45)-(46).
    Sca,
}

/// A validated multi-static instance. SI units (W, s, Hz, m).
#[derive(Debug, Clone)]
pub struct MultistaticScenario {
    pub transmitter: Point,
    pub target: Point,
    /// `v`, m/s.
    pub target_velocity: [f64; 2],
    /// RE positions `p_k`.
    pub receivers: Vec<Point>,
    /// `N_t`.
    pub tx_antennas: usize,
    /// `N_r` (every RE).
    pub rx_antennas: usize,
    /// Receive antennas of the TR in the mono-static baseline.
    pub mono_rx_antennas: usize,
    /// `L`.
    pub streams: usize,
    /// `d / lambda`.
    pub antenna_spacing: f64,
    /// `f_0`, Hz.
    pub carrier: f64,
    /// `dt`, s.
    pub symbol_duration: f64,
    /// `M`.
    pub symbols: usize,
    pub pulse: Pulse,
    /// `eps` of `eta = d^{-eps}` on the TR–target–RE path.
    pub path_loss_exponent: f64,
    /// Exponent of the TR–RE communication path loss.
    pub comm_path_loss_exponent: f64,
    /// `beta_k` (all REs).
    pub reflection: f64,
    /// Rician factor `alpha_k` of the communication channels (LoS/NLoS power ratio).
    pub rician_factor: f64,
    /// `sigma_z^2` (sensing) and `sigma^2` (communication), W.
    pub noise_power: f64,
    /// `sigma_c^2`, W.
    pub clutter_power: f64,
    /// `P_T`, W.
    pub power_budget: f64,
    /// `R_th`, bit/s/Hz.
    pub min_rate: f64,
    /// `Omega_th`.
    pub max_cost: f64,
    /// `rho`.
    pub cost_weight: f64,
    pub selection: SelectionMethod,
    /// Cap on the group size of the minimax/K-means candidates (`selection_size`).
    pub selection_size: Option<usize>,
    pub fim: FimVariant,
    /// Seed of the random channel part (and of K-means).
    pub seed: u64,
    pub comm_channel: CommChannel,
    pub beamforming: Beamforming,
    /// Explicit communication channels `H_{b,k}` (`[k][rx][tx]`), if given.
    pub comm_channels: Option<Vec<Vec<Vec<C64>>>>,
    /// Matched-filter Monte Carlo after the design (Fig. 7): trials (0: none),
    /// samples per symbol, statistic.
    pub mf_trials: usize,
    pub mf_oversampling: usize,
    pub mf_statistic: super::estimator::Statistic,
    /// SCA: iteration cap and relative tolerance of the stopping rule.
    pub sca_max_iterations: usize,
    pub sca_tolerance: f64,
}

/// Keys this system reads; any other key is an error naming it.
pub const KEYS: &[&str] = &[
    "system",
    "transmitter",
    "target",
    "target_velocity",
    "receivers",
    "receiver_count",
    "drop_seed",
    "drop_min_radius",
    "drop_max_radius",
    "tx_antennas",
    "rx_antennas",
    "mono_rx_antennas",
    "streams",
    "antenna_spacing",
    "carrier_hz",
    "bandwidth_hz",
    "sample_duration",
    "samples",
    "pulse",
    "path_loss_exponent",
    "comm_path_loss_exponent",
    "reflection",
    "rician_factor",
    "noise_dbm",
    "clutter_dbm",
    "power_dbm",
    "min_rate",
    "max_cost",
    "cost_weight",
    "selection",
    "selection_size",
    "selected",
    "fim",
    "seed",
    "comm_channel",
    "beamforming",
    "comm_channels_re",
    "comm_channels_im",
    "mf_trials",
    "mf_oversampling",
    "mf_statistic",
    "sca_max_iterations",
    "sca_tolerance",
];

/// The receiver drop of Section VI-A: `count` REs uniform in the annulus
/// `min_radius <= |p - p_b| <= max_radius` around the TR (uniform in area), seeded.
pub fn receiver_drop(
    transmitter: Point,
    count: usize,
    min_radius: f64,
    max_radius: f64,
    seed: u64,
) -> Vec<Point> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let u: f64 = rng.gen();
            let r = (min_radius * min_radius
                + u * (max_radius * max_radius - min_radius * min_radius))
                .sqrt();
            let a: f64 = rng.gen_range(-std::f64::consts::PI..std::f64::consts::PI);
            [transmitter[0] + r * a.cos(), transmitter[1] + r * a.sin()]
        })
        .collect()
}

fn err<T>(key: &str, msg: impl Into<String>) -> Result<T> {
    Err(IsacError::input(key, msg))
}

impl MultistaticScenario {
    /// Parses and validates an input table. Every error names its key.
    pub fn from_table(table: &Table) -> Result<Self> {
        let i = Input::new(table);
        i.check_system("multistatic")?;
        i.reject_scenario(
            "multistatic",
            "every default already is the paper's Section VI-A setup (K = 10 receivers dropped 1-100 m around the TR, target at (20, 40) m, 30 dBm, N_t = 10, N_r = 2): omit `scenario` and give only the keys you change",
        )?;
        i.reject_unknown("multistatic", KEYS)?;
        let transmitter = if i.has("transmitter") {
            i.point("transmitter")?
        } else {
            [0.0, 0.0]
        };
        let target = if i.has("target") {
            i.point("target")?
        } else {
            [20.0, 40.0]
        };
        let target_velocity = if i.has("target_velocity") {
            i.point("target_velocity")?
        } else {
            [10.0, 0.0]
        };
        let receivers = if i.has("receivers") {
            for key in [
                "receiver_count",
                "drop_seed",
                "drop_min_radius",
                "drop_max_radius",
            ] {
                if i.has(key) {
                    return err(key, "cannot be combined with explicit `receivers`");
                }
            }
            i.points("receivers")?
        } else {
            let count = i.usize_in_or("receiver_count", 1, 64, 10)?;
            let lo = i.f64_in_or("drop_min_radius", 0.0, 1e6, 1.0)?;
            let hi = i.f64_in_or("drop_max_radius", 0.0, 1e6, 100.0)?;
            if hi <= lo {
                return err(
                    "drop_max_radius",
                    format!("must exceed drop_min_radius ({lo})"),
                );
            }
            receiver_drop(transmitter, count, lo, hi, i.u64_or("drop_seed", 2024)?)
        };
        if receivers.is_empty() {
            return err("receivers", "at least one receiver is needed");
        }
        let k = receivers.len();
        let close =
            |a: Point, b: Point| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt() < 1e-6;
        for (n, &p) in receivers.iter().enumerate() {
            if close(p, target) || close(p, transmitter) {
                return err(
                    "receivers",
                    format!("receiver {n} coincides with the target or the transmitter"),
                );
            }
        }
        if close(transmitter, target) {
            return err("target", "coincides with the transmitter");
        }
        let tx_antennas = i.usize_in_or("tx_antennas", 1, 256, 10)?;
        let rx_antennas = i.usize_in_or("rx_antennas", 1, 64, 2)?;
        let mono_rx_antennas = i.usize_in_or("mono_rx_antennas", 1, 256, rx_antennas)?;
        let streams = i.usize_in_or("streams", 1, 64, 2)?;
        if streams > tx_antennas.min(rx_antennas) {
            return err(
                "streams",
                format!(
                    "must be at most min(tx_antennas, rx_antennas) = {}",
                    tx_antennas.min(rx_antennas)
                ),
            );
        }
        let symbol_duration = if i.has("sample_duration") {
            i.positive("sample_duration")?
        } else {
            5e-9
        };
        if i.has("bandwidth_hz") {
            let b = i.positive("bandwidth_hz")?;
            if (b * 2.0 * symbol_duration - 1.0).abs() > 1e-6 {
                return err("bandwidth_hz", format!("must equal 1/(2 sample_duration) = {} Hz (the paper's B = 1/(2 dt), (81)); omit it to derive it", 0.5 / symbol_duration));
            }
        }
        let pulse_name = i.choice_or("pulse", &["cosine", "sinc", "triangular"], "cosine")?;
        let pulse = Pulse::from_name(&pulse_name)
            .ok_or_else(|| IsacError::input("pulse", "unknown pulse"))?;
        let selection_size = if i.has("selection_size") {
            Some(i.usize_in("selection_size", 0, k)?)
        } else {
            None
        };
        let selection_name = i.choice_or(
            "selection",
            &["minimax", "kmeans", "exhaustive", "all", "none", "size"],
            "minimax",
        )?;
        let mut selection = match selection_name.as_str() {
            "minimax" => SelectionMethod::Minimax,
            "kmeans" => SelectionMethod::KMeans,
            "exhaustive" => SelectionMethod::Exhaustive,
            "all" => SelectionMethod::All,
            "none" => SelectionMethod::MonoStatic,
            _ => match selection_size {
                // |G| = 0 is the paper's notation for the mono-static baseline
                Some(0) => SelectionMethod::MonoStatic,
                Some(n) => SelectionMethod::BestOfSize(n),
                None => return err(
                    "selection_size",
                    "required with selection = \"size\" (0 = mono-static, 1 = bi-static, up to the number of receivers)",
                ),
            },
        };
        let capped = matches!(
            selection,
            SelectionMethod::Minimax | SelectionMethod::KMeans
        );
        if selection_size == Some(0) && capped {
            return err(
                "selection_size",
                "must be at least 1 with selection = \"minimax\" or \"kmeans\"",
            );
        }
        if selection_size.is_some() && !(capped || selection_name == "size") {
            return err(
                "selection_size",
                "only applies to selection = \"size\", \"minimax\" or \"kmeans\"",
            );
        }
        if i.has("selected") {
            let raw = i.f64_list("selected")?;
            if !raw.is_empty() {
                let mut set = Vec::new();
                for x in raw {
                    if x.fract() != 0.0 || x < 0.0 || x as usize >= k {
                        return err(
                            "selected",
                            format!("every entry must be a receiver index in 0..={}", k - 1),
                        );
                    }
                    let n = x as usize;
                    if set.contains(&n) {
                        return err("selected", format!("receiver {n} listed twice"));
                    }
                    set.push(n);
                }
                set.sort_unstable();
                selection = SelectionMethod::Fixed(set);
            }
        }
        let fim = match i.choice_or("fim", &["model", "paper"], "model")?.as_str() {
            "paper" => FimVariant::Paper { alpha: 0.0 },
            _ => FimVariant::Model,
        };
        let rician_factor = i.f64_in_or("rician_factor", 0.0, 1e6, 0.5)?;
        let fim = match fim {
            FimVariant::Paper { .. } => FimVariant::Paper {
                alpha: rician_factor,
            },
            m => m,
        };
        let path_loss_exponent = i.f64_in_or("path_loss_exponent", 0.0, 10.0, 2.7)?;
        let seed = i.u64_or("seed", 1)?;
        let comm_channels = i.complex_tensor(
            "comm_channels_re",
            "comm_channels_im",
            [k, rx_antennas, tx_antennas],
            ["receiver", "rx antenna", "tx antenna"],
        )?;
        Ok(MultistaticScenario {
            transmitter,
            target,
            target_velocity,
            receivers,
            tx_antennas,
            rx_antennas,
            mono_rx_antennas,
            streams,
            antenna_spacing: i.f64_in_or("antenna_spacing", 1e-3, 100.0, 0.5)?,
            carrier: if i.has("carrier_hz") {
                i.positive("carrier_hz")?
            } else {
                3.5e9
            },
            symbol_duration,
            symbols: i.usize_in_or("samples", 1, 1 << 24, 1024)?,
            pulse,
            path_loss_exponent,
            comm_path_loss_exponent: i.f64_in_or(
                "comm_path_loss_exponent",
                0.0,
                10.0,
                path_loss_exponent,
            )?,
            reflection: i.f64_in_or("reflection", 0.0, 1e6, 0.6)?,
            rician_factor,
            noise_power: dbm_to_watts(i.f64_in_or("noise_dbm", -300.0, 100.0, -60.0)?),
            clutter_power: dbm_to_watts(i.f64_in_or("clutter_dbm", -300.0, 100.0, -60.0)?),
            power_budget: dbm_to_watts(i.f64_in_or("power_dbm", -100.0, 100.0, 30.0)?),
            min_rate: i.f64_in_or("min_rate", 0.0, 1e3, 1.0)?,
            max_cost: i.f64_in_or("max_cost", 0.0, f64::INFINITY, 1e9)?,
            cost_weight: i.f64_in_or("cost_weight", 0.0, 1.0, 0.5)?,
            selection,
            selection_size,
            fim,
            seed,
            comm_channels,
            comm_channel: match i
                .choice_or("comm_channel", &["rician", "los"], "rician")?
                .as_str()
            {
                "los" => CommChannel::LineOfSight,
                _ => CommChannel::Rician,
            },
            beamforming: match i
                .choice_or("beamforming", &["auto", "sca"], "auto")?
                .as_str()
            {
                "sca" => Beamforming::Sca,
                _ => Beamforming::Auto,
            },
            mf_trials: i.usize_in_or("mf_trials", 0, 1_000_000, 0)?,
            mf_oversampling: i.usize_in_or("mf_oversampling", 1, 64, 16)?,
            mf_statistic: match i
                .choice_or("mf_statistic", &["coherent", "noncoherent"], "coherent")?
                .as_str()
            {
                "noncoherent" => super::estimator::Statistic::NonCoherent,
                _ => super::estimator::Statistic::Coherent,
            },
            sca_max_iterations: i.usize_in_or("sca_max_iterations", 1, 100_000, 200)?,
            sca_tolerance: i.f64_in_or("sca_tolerance", 1e-12, 1.0, 1e-6)?,
        })
    }
}
