//! Input of the joint bistatic positioning / monostatic sensing system
//! (bistatic-monostatic.md): geometry, OFDM numerology, powers, gains and the design
//! choice. Every key the paper fixes has the paper's value (Section VII-A) as default;
//! the conventions the paper leaves open are in docs/bpms.md#conventions.

use super::analog::AnalogSettings;
use crate::error::{IsacError, Result};
use crate::input::{db_to_linear, dbm_to_watts, Input};
use crate::physics::geometry::{distance, Point};
use crate::physics::SPEED_OF_LIGHT;
use crate::C64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;
use toml::Table;

/// Every key a `bpms` instance may hold.
pub const KEYS: &[&str] = &[
    "system",
    "bs_antennas",
    "ue_antennas",
    "bs_position",
    "ue_position",
    "targets",
    "target_count",
    "power_dbm",
    "carrier_hz",
    "bandwidth_hz",
    "subcarriers",
    "noise_figure_db",
    "noise_psd_dbm_hz",
    "slots",
    "symbols",
    "clock_bias_s",
    "orientation_rad",
    "rcs_ue",
    "rcs_targets",
    "seed",
    "alpha",
    "scheme",
    "subspace",
    "mismatch_method",
    "bp_gains_re",
    "bp_gains_im",
    "ms_gains_re",
    "ms_gains_im",
    "starts",
    "ao_iterations",
    "tolerance",
    "codebook_angles",
    "allocation",
    "beampattern",
    "beampattern_points",
    "beampattern_x",
    "beampattern_y",
    "beampattern_grid",
];

/// The keys of Algorithm 1 (`scheme = "analog-fdb"`) only, a part of [`KEYS`] (tested).
const FDB_KEYS: &[&str] = &["starts", "ao_iterations", "tolerance"];

/// The beampattern an answer carries (`beampattern`, docs/bpms.md#beampattern).
#[derive(Debug, Clone, PartialEq)]
pub enum Beampattern {
    None,
    /// Over `points` angles evenly from -90 to 90 degrees.
    Angle {
        points: usize,
    },
    /// Over a grid of the plane: `x`, `y` ranges (m) and point counts.
    Plane {
        x: (f64, f64),
        y: (f64, f64),
        nx: usize,
        ny: usize,
    },
}

/// Seed stream of the gain phases ("bpmsgain").
const PHASE_STREAM: u64 = 0x6270_6d73_6761_696e;

/// A validated instance (SI units: metres, seconds, radians, watts).
#[derive(Debug, Clone)]
pub struct BpmsScenario {
    /// `N_B` (transmit and colocated receive), `N_U`.
    pub bs_antennas: usize,
    pub ue_antennas: usize,
    pub bs_position: Point,
    pub ue_position: Point,
    /// `p_1 .. p_K`.
    pub targets: Vec<Point>,
    /// `P_B`, W (total over the `M` subcarriers: `tr V <= P_B / M`, (11b)).
    pub power: f64,
    pub carrier: f64,
    pub bandwidth: f64,
    /// `M`.
    pub subcarriers: usize,
    /// `sigma^2 = F N_0 Delta_f` (Section II-A), W.
    pub noise: f64,
    /// `L` slots (beamformers), `P` symbols per slot.
    pub slots: usize,
    pub symbols: usize,
    /// `Delta t` (s) and `Delta phi` (rad).
    pub clock_bias: f64,
    pub orientation: f64,
    /// `sigma_RCS,0` (UE) and `sigma_RCS,k` (targets), m^2, entering the gains linearly.
    pub rcs_ue: f64,
    pub rcs_targets: f64,
    pub seed: u64,
    /// BP weight of the weighted-sum designs.
    pub alpha: f64,
    pub scheme: String,
    /// Solve the FDB program in the subspace of Remark 2 (`true`, default) or over the
    /// full `N_B x N_B` covariance.
    pub reduced: bool,
    /// The mismatch designs by their closed forms (`true`, default) or the printed
    /// programs (19), (21), (22).
    pub closed_form_mismatch: bool,
    /// `bar beta_0 .. bar beta_K` (BP) and `beta_0 .. beta_K` (MS): from Section VII-A with
    /// seeded phases, or given.
    pub bp_gains: Vec<C64>,
    pub ms_gains: Vec<C64>,
    /// The analog designs' settings (Section V).
    pub analog: AnalogSettings,
    pub beampattern: Beampattern,
}

/// The designs of this system: the digital ones (Sections III, IV) and the analog ones (V).
pub const SCHEMES: &[&str] = &[
    "fdb-wcrb",
    "fdb-wbf",
    "fdb-wcm",
    "cpa-wcrb",
    "cpa-wbf",
    "cpa-wcm",
    "fusion",
    "analog-fdb",
    "analog-cpa",
];

impl BpmsScenario {
    /// Parses and validates an input table; every error names its key.
    pub fn from_table(table: &Table) -> Result<Self> {
        let i = Input::new(table);
        i.check_system("bpms")?;
        i.reject_unknown("bpms", KEYS)?;
        let bs_antennas = i.usize_in_or("bs_antennas", 2, 512, 16)?;
        let ue_antennas = i.usize_in_or("ue_antennas", 2, 512, 16)?;
        let bs_position = if i.has("bs_position") {
            i.point("bs_position")?
        } else {
            [0.0, 0.0]
        };
        let ue_position = if i.has("ue_position") {
            i.point("ue_position")?
        } else {
            [-5.0, 20.0]
        };
        let targets = if i.has("targets") {
            i.points("targets")?
        } else {
            vec![[-10.0, 15.0], [5.0, 15.0], [0.0, 17.0]]
        };
        if targets.is_empty() {
            return Err(IsacError::input("targets", "needs at least one target"));
        }
        // K: the first `target_count` of the targets (Fig. 5 sweeps K = 1, 2, 3)
        let mut targets = targets;
        if i.has("target_count") {
            let k = i.usize_in("target_count", 1, targets.len())?;
            targets.truncate(k);
        }
        // coinciding objects: no angle, no delay, no identifiable path
        let min_gap = 1e-3;
        if distance(ue_position, bs_position) < min_gap {
            return Err(IsacError::input(
                "ue_position",
                "coincides with the BS (bs_position)",
            ));
        }
        for (k, t) in targets.iter().enumerate() {
            let what = if distance(*t, bs_position) < min_gap {
                Some("the BS")
            } else if distance(*t, ue_position) < min_gap {
                Some("the UE")
            } else {
                targets[..k]
                    .iter()
                    .any(|o| distance(*o, *t) < min_gap)
                    .then_some("another target")
            };
            if let Some(w) = what {
                return Err(IsacError::input(
                    "targets",
                    format!(
                        "target {} at {t:?} coincides with {w} (closer than 1 mm)",
                        k + 1
                    ),
                ));
            }
        }
        // the Remark 2 codebook [a(theta_k), da(theta_k)] and the MS FIM need N_B >= 2 (K+1)
        // directions to resolve K+1 paths in angle; fewer antennas leave the FIM singular
        let paths = targets.len() + 1;
        if bs_antennas < paths {
            return Err(IsacError::input(
                "bs_antennas",
                format!(
                    "N_B = {bs_antennas} cannot resolve K + 1 = {paths} paths (UE and targets); needs at least {paths}"
                ),
            ));
        }
        if ue_antennas < 2 {
            return Err(IsacError::input("ue_antennas", "needs at least 2"));
        }
        let power = dbm_to_watts(i.f64_in_or("power_dbm", -200.0, 100.0, -20.0)?);
        let carrier = i.f64_in_or("carrier_hz", 1e6, 1e13, 28e9)?;
        let bandwidth = i.f64_in_or("bandwidth_hz", 1.0, 1e12, 120e6)?;
        let subcarriers = i.usize_in_or("subcarriers", 1, 1 << 20, 1024)?;
        let noise_figure = db_to_linear(i.f64_in_or("noise_figure_db", -50.0, 100.0, 10.0)?);
        let n0 = dbm_to_watts(i.f64_in_or("noise_psd_dbm_hz", -300.0, 0.0, -173.855)?);
        let noise = noise_figure * n0 * bandwidth / subcarriers as f64;
        let slots = i.usize_in_or("slots", 1, 1 << 16, 16)?;
        let symbols = i.usize_in_or("symbols", 1, 1 << 20, 100)?;
        let clock_bias = i.f64_in_or("clock_bias_s", -1.0, 1.0, 1e-6)?;
        let orientation =
            i.f64_in_or("orientation_rad", -2.0 * PI, 2.0 * PI, 110f64.to_radians())?;
        let rcs_ue = i.f64_in_or("rcs_ue", 0.0, 1e9, 10.0)?;
        let rcs_targets = i.f64_in_or("rcs_targets", 0.0, 1e9, 100.0)?;
        if !(rcs_ue > 0.0) {
            return Err(IsacError::input("rcs_ue", "must be positive"));
        }
        if !(rcs_targets > 0.0) {
            return Err(IsacError::input("rcs_targets", "must be positive"));
        }
        let seed = i.u64_or("seed", 1)?;
        let alpha = i.f64_in_or("alpha", 0.0, 1.0, 0.5)?;
        let scheme = i.choice_or("scheme", SCHEMES, "fdb-wcrb")?;
        let reduced = i.choice_or("subspace", &["reduced", "full"], "reduced")? == "reduced";
        let closed_form_mismatch = i.choice_or(
            "mismatch_method",
            &["closed-form", "printed"],
            "closed-form",
        )? == "closed-form";
        let k = targets.len();
        let what = "K + 1 paths: the UE (LoS) first, then the targets";
        let given_bp = i.complex_vector("bp_gains_re", "bp_gains_im", k + 1, what)?;
        let given_ms = i.complex_vector("ms_gains_re", "ms_gains_im", k + 1, what)?;
        for (key, g) in [("bp_gains_re", &given_bp), ("ms_gains_re", &given_ms)] {
            if g.as_ref()
                .is_some_and(|g| g.iter().any(|x| x.norm() == 0.0))
            {
                return Err(IsacError::input(key, "every path needs a non-zero gain"));
            }
        }
        if scheme != "analog-fdb" {
            if let Some(k) = FDB_KEYS.iter().find(|k| i.has(k)) {
                return Err(IsacError::input(
                    *k,
                    "applies to scheme = \"analog-fdb\" only (Algorithm 1)",
                ));
            }
        }
        for k in ["codebook_angles", "allocation"] {
            if scheme != "analog-cpa" && i.has(k) {
                return Err(IsacError::input(
                    k,
                    "applies to scheme = \"analog-cpa\" only (the analog codebook (27) and its power allocation)",
                ));
            }
        }
        let analog = AnalogSettings {
            starts: i.usize_in_or("starts", 1, 1000, 8)?,
            ao_iterations: i.usize_in_or("ao_iterations", 1, 100_000, 100)?,
            tolerance: i.f64_in_or("tolerance", 1e-15, 1.0, 1e-6)?,
            codebook_angles: i.usize_in_or("codebook_angles", 2, 1 << 16, 256)?,
            seed,
            cpa_wcrb: i.choice_or("allocation", &["wcm", "wcrb"], "wcm")? == "wcrb",
        };
        let beampattern = beampattern(&i)?;
        let mut s = BpmsScenario {
            bs_antennas,
            ue_antennas,
            bs_position,
            ue_position,
            targets,
            power,
            carrier,
            bandwidth,
            subcarriers,
            noise,
            slots,
            symbols,
            clock_bias,
            orientation,
            rcs_ue,
            rcs_targets,
            seed,
            alpha,
            scheme,
            reduced,
            closed_form_mismatch,
            bp_gains: vec![],
            ms_gains: vec![],
            analog,
            beampattern,
        };
        let (bp, ms) = s.path_loss_gains();
        s.bp_gains = given_bp.unwrap_or(bp);
        s.ms_gains = given_ms.unwrap_or(ms);
        Ok(s)
    }

    /// `K`.
    pub fn targets(&self) -> usize {
        self.targets.len()
    }

    /// Subcarrier spacing `Delta_f = W / M`.
    pub fn subcarrier_spacing(&self) -> f64 {
        self.bandwidth / self.subcarriers as f64
    }

    pub fn wavelength(&self) -> f64 {
        SPEED_OF_LIGHT / self.carrier
    }

    /// Gains of Section VII-A with seeded phases uniform in `[-pi, pi)` (BP phases
    /// `bar zeta_0..K` first, then MS `zeta_0..K`): BP LoS `lambda / (4 pi |p_B - p_U|)`,
    /// BP NLoS `rcs lambda / ((4 pi)^{3/2} |p_U - p_k| |p_k - p_B|)`, MS
    /// `rcs lambda / ((4 pi)^{3/2} |p_k - p_B|^2)` (rcs of the UE for `k = 0`).
    pub fn path_loss_gains(&self) -> (Vec<C64>, Vec<C64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ PHASE_STREAM);
        let lambda = self.wavelength();
        let c3 = (4.0 * PI).powf(1.5);
        let k = self.targets();
        let mut phase = || C64::from_polar(1.0, rng.gen_range(-PI..PI));
        let mut bp = Vec::with_capacity(k + 1);
        bp.push(phase() * lambda / (4.0 * PI * distance(self.bs_position, self.ue_position)));
        for t in &self.targets {
            let d = distance(self.ue_position, *t) * distance(*t, self.bs_position);
            bp.push(phase() * self.rcs_targets * lambda / (c3 * d));
        }
        let mut ms = Vec::with_capacity(k + 1);
        for (j, p) in std::iter::once(&self.ue_position)
            .chain(&self.targets)
            .enumerate()
        {
            let rcs = if j == 0 {
                self.rcs_ue
            } else {
                self.rcs_targets
            };
            let d = distance(*p, self.bs_position);
            ms.push(phase() * rcs * lambda / (c3 * d * d));
        }
        (bp, ms)
    }
}

/// The `beampattern` keys: the grid keys are bad input unless their kind is asked for.
fn beampattern(i: &Input) -> Result<Beampattern> {
    let kind = i.choice_or("beampattern", &["none", "angle", "plane"], "none")?;
    let only = |key: &str, kind: &str| -> Result<()> {
        if i.has(key) {
            return Err(IsacError::input(
                key,
                format!("applies to beampattern = \"{kind}\" only"),
            ));
        }
        Ok(())
    };
    let range = |key: &str, default: (f64, f64)| -> Result<(f64, f64)> {
        if !i.has(key) {
            return Ok(default);
        }
        let v = i.f64_list(key)?;
        match v.as_slice() {
            [lo, hi]
                if lo.is_finite()
                    && hi.is_finite()
                    && lo < hi
                    && lo.abs() <= 1e6
                    && hi.abs() <= 1e6 =>
            {
                Ok((*lo, *hi))
            }
            _ => Err(IsacError::input(
                key,
                "must be [lo, hi] in metres with lo < hi (|value| <= 1e6)",
            )),
        }
    };
    Ok(match kind.as_str() {
        "angle" => {
            for k in ["beampattern_x", "beampattern_y", "beampattern_grid"] {
                only(k, "plane")?;
            }
            Beampattern::Angle {
                points: i.usize_in_or("beampattern_points", 2, 100_000, 361)?,
            }
        }
        "plane" => {
            only("beampattern_points", "angle")?;
            let (nx, ny) = if i.has("beampattern_grid") {
                let v = i.f64_list("beampattern_grid")?;
                match v.as_slice() {
                    [a, b]
                        if a.fract() == 0.0
                            && b.fract() == 0.0
                            && (2.0..=2000.0).contains(a)
                            && (2.0..=2000.0).contains(b) =>
                    {
                        (*a as usize, *b as usize)
                    }
                    _ => {
                        return Err(IsacError::input(
                            "beampattern_grid",
                            "must be [nx, ny], integers from 2 to 2000",
                        ))
                    }
                }
            } else {
                (101, 61)
            };
            Beampattern::Plane {
                x: range("beampattern_x", (-25.0, 25.0))?,
                y: range("beampattern_y", (0.0, 30.0))?,
                nx,
                ny,
            }
        }
        _ => {
            only("beampattern_points", "angle")?;
            for k in ["beampattern_x", "beampattern_y", "beampattern_grid"] {
                only(k, "plane")?;
            }
            Beampattern::None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheme-specific keys are input keys: a key missing from `KEYS` would be
    /// rejected as unknown before its own check could name what it applies to.
    #[test]
    fn analog_keys_are_input_keys() {
        for k in FDB_KEYS.iter().chain(&["codebook_angles", "allocation"]) {
            assert!(KEYS.contains(k), "{k}");
        }
    }
}
