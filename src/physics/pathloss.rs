//! Large-scale path-loss models (power gains, linear scale).

use std::f64::consts::PI;

/// A large-scale power-gain model `eta(d)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PathLoss {
    /// `eta(d) = zeta * d^-gamma`, with `zeta` the power gain at 1 m
    /// (backscatter-isac.md, below (4)).
    Reference { gain_at_1m: f64, exponent: f64 },
    /// Free space (Friis): `eta(d) = (lambda / (4 pi d))^2`.
    FreeSpace { wavelength: f64 },
    /// Log-distance: `eta(d) = g0 * (d / d0)^-gamma` for a gain `g0` at distance `d0`.
    LogDistance {
        gain_at_ref: f64,
        ref_distance: f64,
        exponent: f64,
    },
    /// Close-in/floating-intercept model in dB, `L(d) = a1 + a2 10 log10(d)`, power gain
    /// `10^(-L/10)`: the NYC 28 GHz model (71) of near-field-ispac.md ({61.4, 2} LoS,
    /// {72, 2.92} NLoS).
    InterceptDb { intercept_db: f64, exponent: f64 },
}

impl PathLoss {
    /// NYC 28 GHz line-of-sight model, (71) of near-field-ispac.md.
    pub const NYC_28GHZ_LOS: PathLoss = PathLoss::InterceptDb {
        intercept_db: 61.4,
        exponent: 2.0,
    };
    /// NYC 28 GHz non-line-of-sight model, (71) of near-field-ispac.md.
    pub const NYC_28GHZ_NLOS: PathLoss = PathLoss::InterceptDb {
        intercept_db: 72.0,
        exponent: 2.92,
    };

    /// The power gain at distance `d` metres (linear).
    pub fn gain(&self, d: f64) -> f64 {
        match *self {
            PathLoss::Reference {
                gain_at_1m,
                exponent,
            } => gain_at_1m * d.powf(-exponent),
            PathLoss::FreeSpace { wavelength } => (wavelength / (4.0 * PI * d)).powi(2),
            PathLoss::LogDistance {
                gain_at_ref,
                ref_distance,
                exponent,
            } => gain_at_ref * (d / ref_distance).powf(-exponent),
            PathLoss::InterceptDb {
                intercept_db,
                exponent,
            } => 10f64.powf(-(intercept_db + exponent * 10.0 * d.log10()) / 10.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_model_at_one_metre_is_zeta() {
        let m = PathLoss::Reference {
            gain_at_1m: 1e-3,
            exponent: 2.7,
        };
        assert!((m.gain(1.0) - 1e-3).abs() < 1e-15);
        // doubling the distance costs 2.7 * 3.0103 dB
        let ratio_db = 10.0 * (m.gain(1.0) / m.gain(2.0)).log10();
        assert!((ratio_db - 2.7 * 10.0 * 2f64.log10()).abs() < 1e-9);
    }

    #[test]
    fn free_space_is_log_distance_with_exponent_two() {
        let lambda = 0.0857;
        let fs = PathLoss::FreeSpace { wavelength: lambda };
        let ld = PathLoss::LogDistance {
            gain_at_ref: fs.gain(1.0),
            ref_distance: 1.0,
            exponent: 2.0,
        };
        for d in [0.5, 3.0, 170.0] {
            assert!((fs.gain(d) / ld.gain(d) - 1.0).abs() < 1e-12);
        }
    }
}
