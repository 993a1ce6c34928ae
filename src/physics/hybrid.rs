//! Partially connected hybrid analog–digital arrays (near-field-ispac.md, (1) and
//! (29)-(31)): `N_RF` RF chains, each driving its own sub-array of `M = N_a / N_RF`
//! adjacent antennas through unit-modulus phase shifters.
//!
//! ```text
//!   F = Bdiag(f_1, ..., f_{N_RF}) / sqrt(M)               (1),  N_a x N_RF
//!   F~ = Bdiag(diag(f_1), ..., diag(f_{N_RF})) = diag(f)  (29), N_a x N_a
//!   Phi = Bdiag(1_M, ..., 1_M) / sqrt(M)                  (31), N_a x N_RF
//!   F = F~ Phi                                            (30)
//! ```
//!
//! with `f = [f_1; ...; f_{N_RF}]`, `|f_n| = 1`. Then `F^H F = I` (each column has `M`
//! entries of modulus `1/sqrt(M)` on disjoint rows), so white noise stays white after
//! analog combining, as (15) assumes.

use crate::C64;
use faer::Mat;

/// The architecture: `antennas = N_a`, `rf_chains = N_RF`, `N_a` a multiple of `N_RF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartiallyConnected {
    pub antennas: usize,
    pub rf_chains: usize,
}

/// How far a matrix is from the partially connected structure: the largest modulus of
/// an entry outside the blocks, and the largest deviation of a block entry's modulus
/// from `1/sqrt(M)` (relative to `1/sqrt(M)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StructureViolation {
    pub off_block: f64,
    pub modulus: f64,
}

impl StructureViolation {
    /// The larger of the two.
    pub fn worst(&self) -> f64 {
        self.off_block.max(self.modulus)
    }
}

impl PartiallyConnected {
    /// `None` unless `0 < rf_chains <= antennas` and `rf_chains` divides `antennas`.
    pub fn new(antennas: usize, rf_chains: usize) -> Option<Self> {
        (rf_chains > 0 && antennas >= rf_chains && antennas.is_multiple_of(rf_chains)).then_some(
            PartiallyConnected {
                antennas,
                rf_chains,
            },
        )
    }

    /// Sub-array size `M`.
    pub fn subarray(&self) -> usize {
        self.antennas / self.rf_chains
    }

    /// The RF chain that antenna `n` belongs to.
    pub fn chain_of(&self, n: usize) -> usize {
        n / self.subarray()
    }

    /// `Phi` of (31).
    pub fn transformation(&self) -> Mat<C64> {
        let s = 1.0 / (self.subarray() as f64).sqrt();
        Mat::from_fn(self.antennas, self.rf_chains, |n, c| {
            C64::new(if self.chain_of(n) == c { s } else { 0.0 }, 0.0)
        })
    }

    /// `F` of (1) from the phase-shifter values `f` (length `N_a`, each of modulus 1;
    /// they are used as given, see [`Self::check`]).
    pub fn analog(&self, f: &[C64]) -> Mat<C64> {
        let s = 1.0 / (self.subarray() as f64).sqrt();
        Mat::from_fn(self.antennas, self.rf_chains, |n, c| {
            if self.chain_of(n) == c {
                f[n] * s
            } else {
                C64::new(0.0, 0.0)
            }
        })
    }

    /// `F` from phases (radians).
    pub fn analog_from_phases(&self, phases: &[f64]) -> Mat<C64> {
        let f: Vec<C64> = phases.iter().map(|p| C64::from_polar(1.0, *p)).collect();
        self.analog(&f)
    }

    /// The phase-shifter values `f` read back from `F` (`sqrt(M)` times the block
    /// entries), the diagonal of `F~` (29).
    pub fn shifters(&self, analog: &Mat<C64>) -> Vec<C64> {
        let s = (self.subarray() as f64).sqrt();
        (0..self.antennas)
            .map(|n| analog[(n, self.chain_of(n))] * s)
            .collect()
    }

    /// Measures how far `analog` is from the structure (1): shape, zeros outside the
    /// blocks, modulus `1/sqrt(M)` inside. `None` when the shape is wrong.
    pub fn check(&self, analog: &Mat<C64>) -> Option<StructureViolation> {
        if analog.nrows() != self.antennas || analog.ncols() != self.rf_chains {
            return None;
        }
        let s = 1.0 / (self.subarray() as f64).sqrt();
        let mut v = StructureViolation {
            off_block: 0.0,
            modulus: 0.0,
        };
        for n in 0..self.antennas {
            for c in 0..self.rf_chains {
                let z = analog[(n, c)].norm();
                if self.chain_of(n) == c {
                    v.modulus = v.modulus.max((z - s).abs() / s);
                } else {
                    v.off_block = v.off_block.max(z);
                }
            }
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factorisation_30_and_orthonormal_columns() {
        let pc = PartiallyConnected::new(16, 4).unwrap();
        let phases: Vec<f64> = (0..16).map(|n| 0.37 * n as f64 * n as f64).collect();
        let f = pc.analog_from_phases(&phases);
        // F = diag(f) Phi (30)
        let shifters = pc.shifters(&f);
        let ftilde = Mat::from_fn(16, 16, |i, j| {
            if i == j {
                shifters[i]
            } else {
                C64::new(0.0, 0.0)
            }
        });
        let prod = &ftilde * pc.transformation();
        for i in 0..16 {
            for j in 0..4 {
                assert!((prod[(i, j)] - f[(i, j)]).norm() < 1e-15);
            }
        }
        // F^H F = I
        let g = f.adjoint() * &f;
        for i in 0..4 {
            for j in 0..4 {
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((g[(i, j)] - C64::new(e, 0.0)).norm() < 1e-14);
            }
        }
        assert!(pc.check(&f).unwrap().worst() < 1e-15);
    }

    #[test]
    fn check_finds_each_kind_of_violation() {
        let pc = PartiallyConnected::new(8, 2).unwrap();
        let f = pc.analog_from_phases(&[0.1; 8]);
        let mut leak = f.clone();
        leak[(0, 1)] = C64::new(0.01, 0.0);
        assert!((pc.check(&leak).unwrap().off_block - 0.01).abs() < 1e-15);
        let mut weak = f.clone();
        weak[(5, 1)] *= 0.9;
        assert!((pc.check(&weak).unwrap().modulus - 0.1).abs() < 1e-12);
        assert!(pc.check(&Mat::zeros(8, 3)).is_none());
        assert!(PartiallyConnected::new(64, 24).is_none());
        assert!(PartiallyConnected::new(4, 0).is_none());
    }
}
