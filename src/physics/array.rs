//! Uniform linear arrays (ULAs) and their far-field steering vectors.
//!
//! Element `m` (0-based) of the steering vector is
//! `a_m(theta) = exp(j * s * 2 pi * (d / lambda) * m * sin(theta))`,
//! with `d / lambda` the spacing in wavelengths and `s = +1` as in (5) and (8) of
//! backscatter-isac.md, or `s = -1` as in the network paper's
//! `a(theta) = [1, e^{-j pi sin theta}, ...]`. The phase reference is element 0.

use crate::C64;
use std::f64::consts::PI;

/// Sign convention of the steering phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseSign {
    /// `exp(+j 2 pi d/lambda m sin theta)` (backscatter, multi-static papers).
    Positive,
    /// `exp(-j 2 pi d/lambda m sin theta)` (network paper).
    Negative,
}

impl PhaseSign {
    fn value(self) -> f64 {
        match self {
            PhaseSign::Positive => 1.0,
            PhaseSign::Negative => -1.0,
        }
    }
}

/// A uniform linear array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ula {
    /// Number of elements.
    pub elements: usize,
    /// Element spacing in wavelengths (`d / lambda`).
    pub spacing: f64,
    /// Sign of the steering phase.
    pub sign: PhaseSign,
}

impl Ula {
    pub fn new(elements: usize, spacing: f64, sign: PhaseSign) -> Self {
        Ula {
            elements,
            spacing,
            sign,
        }
    }

    /// Spatial phase step `s * 2 pi d/lambda * sin(theta)` between adjacent elements.
    pub fn phase_step(&self, theta: f64) -> f64 {
        self.sign.value() * 2.0 * PI * self.spacing * theta.sin()
    }

    /// Derivative of the phase step with respect to theta: `s * 2 pi d/lambda * cos(theta)`.
    /// This is the `kappa` of `dH/dphi = j kappa Lambda H` (Appendix A of backscatter-isac.md).
    pub fn phase_step_derivative(&self, theta: f64) -> f64 {
        self.sign.value() * 2.0 * PI * self.spacing * theta.cos()
    }

    /// Steering vector `a(theta)`, written into `out` (length `elements`), no allocation.
    pub fn steering_into(&self, theta: f64, out: &mut [C64]) {
        let step = self.phase_step(theta);
        for (m, o) in out.iter_mut().enumerate() {
            *o = C64::from_polar(1.0, step * m as f64);
        }
    }

    /// Steering vector `a(theta)`.
    pub fn steering(&self, theta: f64) -> Vec<C64> {
        let mut v = vec![C64::new(0.0, 0.0); self.elements];
        self.steering_into(theta, &mut v);
        v
    }

    /// Transmit beampattern `a(theta)^H R a(theta)` of the transmit covariance `R`
    /// (`elements x elements`): the power radiated towards `theta` (the field's usual
    /// beampattern, e.g. Stoica, Li and Xie 2007; for a beamformer `f`, `R = f f^H` gives
    /// `|a^H f|^2`).
    pub fn transmit_beampattern(&self, r: &faer::Mat<C64>, theta: f64) -> f64 {
        let a = self.steering(theta);
        crate::linalg::bilinear(&a, r, &a).re
    }

    /// Derivative `da/dtheta`, element m: `j * kappa * m * a_m(theta)`.
    pub fn steering_derivative(&self, theta: f64) -> Vec<C64> {
        let kappa = self.phase_step_derivative(theta);
        self.steering(theta)
            .into_iter()
            .enumerate()
            .map(|(m, a)| a * C64::new(0.0, kappa * m as f64))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_element_is_reference_and_moduli_are_one() {
        let ula = Ula::new(8, 0.5, PhaseSign::Positive);
        let a = ula.steering(0.7);
        assert_eq!(a[0], C64::new(1.0, 0.0));
        assert!(a.iter().all(|z| (z.norm() - 1.0).abs() < 1e-14));
    }

    #[test]
    fn broadside_is_all_ones_and_signs_conjugate() {
        let p = Ula::new(5, 0.5, PhaseSign::Positive);
        let n = Ula::new(5, 0.5, PhaseSign::Negative);
        assert!(p
            .steering(0.0)
            .iter()
            .all(|z| (z - C64::new(1.0, 0.0)).norm() < 1e-15));
        for (a, b) in p.steering(0.4).iter().zip(n.steering(0.4)) {
            assert!((a.conj() - b).norm() < 1e-15);
        }
    }

    #[test]
    fn derivative_matches_finite_difference() {
        let ula = Ula::new(8, 0.5, PhaseSign::Positive);
        let theta = 2.03;
        let h = 1e-6;
        let (ap, am) = (ula.steering(theta + h), ula.steering(theta - h));
        for (m, d) in ula.steering_derivative(theta).iter().enumerate() {
            let fd = (ap[m] - am[m]) / (2.0 * h);
            assert!((fd - d).norm() < 1e-6 * (1.0 + d.norm()), "element {m}");
        }
    }

    #[test]
    fn half_wavelength_endfire_wraps_by_pi() {
        let ula = Ula::new(3, 0.5, PhaseSign::Positive);
        let a = ula.steering(std::f64::consts::FRAC_PI_2);
        assert!((a[1] - C64::new(-1.0, 0.0)).norm() < 1e-12);
        assert!(ula.phase_step_derivative(std::f64::consts::FRAC_PI_2).abs() < 1e-12);
    }
}
