//! Near- and far-field responses of a uniform linear array (ULA), with their
//! derivatives in angle and distance.
//!
//! Geometry (near-field-ispac.md, Section II-A-1): the array lies on the y axis, element
//! `n` (0-based here, `n - 1` in the paper) at `(0, n d)`; a source at polar coordinates
//! `(theta, r)` about the reference element 0 sits at `(r cos theta, r sin theta)`, so
//! its distance to element `n` is
//!
//! ```text
//!   r_n = sqrt(r^2 - 2 r n d sin(theta) + n^2 d^2).
//! ```
//!
//! Element `n` of the response is `exp(j psi_n)`, normalised to 1 at the reference
//! element (the common factor `exp(-j k r)` belongs to the path gain, as in (4)-(5)):
//!
//! - [`Wavefront::Exact`], (2)-(3) with equal amplitudes: `psi_n = -k (r_n - r)`;
//! - [`Wavefront::Fresnel`], (5): second-order expansion of `r_n`,
//!   `psi_n = k (n d sin(theta) - n^2 d^2 cos^2(theta) / (2 r))`;
//! - [`Wavefront::Far`], (4): first order, `psi_n = k n d sin(theta)` (no `r`).
//!
//! Derivatives (`d a_n = j (d psi_n) a_n`):
//!
//! ```text
//!   Exact:   d psi_n/d theta = k r n d cos(theta) / r_n,
//!            d psi_n/d r     = -k ((r - n d sin(theta)) / r_n - 1),
//!   Fresnel: d psi_n/d theta = k (n d cos(theta) + n^2 d^2 sin(theta) cos(theta) / r),
//!            d psi_n/d r     = k n^2 d^2 cos^2(theta) / (2 r^2),
//!   Far:     d psi_n/d theta = k n d cos(theta),  d psi_n/d r = 0.
//! ```
//!
//! Putting `exp(-j k r)` into the gain instead of the response changes the FIM of
//! `(theta, r, Re beta, Im beta)` but not the CRB of `(theta, r)`: the difference in
//! `d/dr` is a multiple of the response itself, which the unknown complex gain absorbs
//! (docs/nearfield.md#conventions).

use crate::C64;
use std::f64::consts::PI;

/// Wavefront model of an array response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wavefront {
    /// Spherical wavefront, exact distances (2)-(3) of near-field-ispac.md.
    Exact,
    /// Fresnel (second-order) approximation (5).
    Fresnel,
    /// Far-field (planar) approximation (4).
    Far,
}

impl Wavefront {
    /// Parses `"exact" | "fresnel" | "far"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "exact" => Some(Wavefront::Exact),
            "fresnel" => Some(Wavefront::Fresnel),
            "far" => Some(Wavefront::Far),
            _ => None,
        }
    }

    /// The input word.
    pub fn as_str(self) -> &'static str {
        match self {
            Wavefront::Exact => "exact",
            Wavefront::Fresnel => "fresnel",
            Wavefront::Far => "far",
        }
    }
}

/// A ULA of `elements` antennas spaced `spacing` metres apart at wavenumber
/// `wavenumber = 2 pi / lambda` (rad/m).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearArray {
    pub elements: usize,
    pub spacing: f64,
    pub wavenumber: f64,
}

/// A response and its derivatives in angle (rad) and distance (m).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub value: Vec<C64>,
    pub d_angle: Vec<C64>,
    pub d_distance: Vec<C64>,
}

impl LinearArray {
    /// An array at carrier `carrier_hz` with spacing given in wavelengths.
    pub fn at_carrier(elements: usize, spacing_wavelengths: f64, carrier_hz: f64) -> Self {
        let lambda = super::SPEED_OF_LIGHT / carrier_hz;
        LinearArray {
            elements,
            spacing: spacing_wavelengths * lambda,
            wavenumber: 2.0 * PI / lambda,
        }
    }

    /// Aperture `(N - 1) d`, metres.
    pub fn aperture(&self) -> f64 {
        (self.elements.saturating_sub(1)) as f64 * self.spacing
    }

    /// Rayleigh distance `2 D^2 / lambda` of the aperture `D`.
    pub fn rayleigh_distance(&self) -> f64 {
        let lambda = 2.0 * PI / self.wavenumber;
        2.0 * self.aperture().powi(2) / lambda
    }

    /// Phase `psi_n` of element `n` and its derivatives `(d/d theta, d/d r)` (module doc).
    pub fn phase(&self, n: usize, angle: f64, distance: f64, wavefront: Wavefront) -> [f64; 3] {
        let k = self.wavenumber;
        let nd = n as f64 * self.spacing;
        let (s, c) = angle.sin_cos();
        match wavefront {
            Wavefront::Far => [k * nd * s, k * nd * c, 0.0],
            Wavefront::Fresnel => {
                let q = nd * nd / distance;
                [
                    k * (nd * s - 0.5 * q * c * c),
                    k * (nd * c + q * s * c),
                    k * 0.5 * q * c * c / distance,
                ]
            }
            Wavefront::Exact => {
                let rn = (distance * distance - 2.0 * distance * nd * s + nd * nd).sqrt();
                [
                    -k * (rn - distance),
                    k * distance * nd * c / rn,
                    -k * ((distance - nd * s) / rn - 1.0),
                ]
            }
        }
    }

    /// The response `e(theta, r)` only.
    pub fn steering(&self, angle: f64, distance: f64, wavefront: Wavefront) -> Vec<C64> {
        (0..self.elements)
            .map(|n| C64::from_polar(1.0, self.phase(n, angle, distance, wavefront)[0]))
            .collect()
    }

    /// The response and its derivatives.
    pub fn response(&self, angle: f64, distance: f64, wavefront: Wavefront) -> Response {
        let mut value = Vec::with_capacity(self.elements);
        let mut d_angle = Vec::with_capacity(self.elements);
        let mut d_distance = Vec::with_capacity(self.elements);
        for n in 0..self.elements {
            let [psi, dt, dr] = self.phase(n, angle, distance, wavefront);
            let a = C64::from_polar(1.0, psi);
            let ja = C64::new(0.0, 1.0) * a;
            value.push(a);
            d_angle.push(ja * dt);
            d_distance.push(ja * dr);
        }
        Response {
            value,
            d_angle,
            d_distance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array() -> LinearArray {
        LinearArray::at_carrier(64, 0.5, 28e9)
    }

    #[test]
    fn derivatives_match_central_differences() {
        let arr = array();
        for wf in [Wavefront::Exact, Wavefront::Fresnel, Wavefront::Far] {
            for &(t, r) in &[(0.7, 20.0), (-0.4, 6.0), (1.2, 45.0)] {
                let resp = arr.response(t, r, wf);
                let (ht, hr) = (1e-6, 1e-6 * r);
                let fd = |dt: f64, dr: f64| arr.steering(t + dt, r + dr, wf);
                let (tp, tm) = (fd(ht, 0.0), fd(-ht, 0.0));
                let (rp, rm) = (fd(0.0, hr), fd(0.0, -hr));
                for n in 0..arr.elements {
                    let dt = (tp[n] - tm[n]) / (2.0 * ht);
                    let dr = (rp[n] - rm[n]) / (2.0 * hr);
                    let st = resp.d_angle[n].norm().max(1.0);
                    assert!((dt - resp.d_angle[n]).norm() < 1e-5 * st, "{wf:?} theta n={n}");
                    let sr = resp.d_distance[n].norm().max(1e-3);
                    assert!(
                        (dr - resp.d_distance[n]).norm() < 1e-5 * sr,
                        "{wf:?} r n={n}: {dr} vs {}",
                        resp.d_distance[n]
                    );
                }
            }
        }
    }

    #[test]
    fn fresnel_approaches_exact_and_far_far_away() {
        let arr = array();
        let t = 0.6;
        // the Fresnel phase error is O(k n^3 d^3 / r^2); the far-field one O(k n^2 d^2 / r)
        let err = |r: f64, wf| {
            let (e, x) = (arr.steering(t, r, Wavefront::Exact), arr.steering(t, r, wf));
            e.iter().zip(&x).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max)
        };
        assert!(err(2000.0, Wavefront::Fresnel) < 1e-3);
        assert!(err(2e5, Wavefront::Far) < 1e-2);
        // in the near field (20 m < Rayleigh distance ~ 47 m) the far-field model is wrong
        assert!(arr.rayleigh_distance() > 40.0 && arr.rayleigh_distance() < 50.0);
        assert!(err(20.0, Wavefront::Far) > 0.5);
        // halving r roughly multiplies the Fresnel error by 4 (third-order term ~ 1/r^2)
        let ratio = err(400.0, Wavefront::Fresnel) / err(800.0, Wavefront::Fresnel);
        assert!(ratio > 3.5 && ratio < 4.5, "ratio {ratio}");
    }

    #[test]
    fn reference_element_is_one_and_moduli_are_one() {
        let arr = array();
        for wf in [Wavefront::Exact, Wavefront::Fresnel, Wavefront::Far] {
            let a = arr.steering(0.3, 12.0, wf);
            assert!((a[0] - C64::new(1.0, 0.0)).norm() < 1e-15);
            assert!(a.iter().all(|z| (z.norm() - 1.0).abs() < 1e-12));
        }
    }
}
