//! Transmit pulse shapes `g(t)` on `[0, dt]` and the moments the FIMs use.
//!
//! The three pulses of Section V of backscatter-isac.md, each normalised to unit
//! average power `p_g = (1/dt) * int_0^dt |g|^2 dt = 1` ((2) of the paper):
//! - cosine     `g1(t) = sqrt(2) cos(pi t / (2 dt))`
//! - sinc       `g2(t) = sqrt(pi / a) sinc(t / dt)`, `sinc(x) = sin(pi x)/(pi x)`,
//!   `a = int_0^pi sin^2(x)/x^2 dx = Si(2 pi)`
//! - triangular `g3(t) = sqrt(3) (1 - t / dt)`
//!
//! All three jump from 0 to `g(0) > 0` at `t = 0`. A jump carries unbounded delay
//! information (its derivative is a Dirac impulse), so, like the paper, we use the
//! derivative `g'(t)` on the open support `(0, dt)` only: the pulse is treated as the
//! band-limited shape it stands for. `docs/backscatter.md` discusses this choice.
//!
//! All pulses here are real, so `eps_gdot = int g' g dt = (g(dt)^2 - g(0)^2) / 2` is
//! real: this is what makes the delay–DoA cross term of the model FIM vanish.

use super::quadrature::integrate;
use std::f64::consts::PI;

/// A pulse shape; the symbol duration is passed to each method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulse {
    Cosine,
    Sinc,
    Triangular,
}

/// Panels used by the numerical moments (8 Gauss nodes each).
const PANELS: usize = 64;

/// `Si(x) = int_0^x sin(t)/t dt` by its power series (accurate for |x| <= 10).
pub fn sine_integral(x: f64) -> f64 {
    let mut sum = 0.0;
    let mut term = x; // x^(2k+1)/(2k+1)! with sign
    for k in 0..60 {
        let n = 2 * k + 1;
        sum += term / n as f64;
        term *= -x * x / ((n + 1) as f64 * (n + 2) as f64);
        if term.abs() < 1e-300 {
            break;
        }
    }
    sum
}

/// Moments of a pulse that enter the FIMs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PulseMoments {
    /// `eps_g = int_0^dt |g|^2 dt` (= dt for unit average power), seconds.
    pub energy: f64,
    /// Mean-square bandwidth `F_g^2 = int |g'|^2 / int |g|^2`, 1/s^2.
    pub mean_square_bandwidth: f64,
    /// `eps_gdot = int_0^dt g'(t)^* g(t) dt` (dimensionless; real for real pulses).
    pub derivative_cross: f64,
}

impl Pulse {
    /// All pulses, in the paper's order g1, g2, g3.
    pub const ALL: [Pulse; 3] = [Pulse::Cosine, Pulse::Sinc, Pulse::Triangular];

    /// Input-file name of the pulse.
    pub fn name(self) -> &'static str {
        match self {
            Pulse::Cosine => "cosine",
            Pulse::Sinc => "sinc",
            Pulse::Triangular => "triangular",
        }
    }

    /// Parses an input-file name.
    pub fn from_name(s: &str) -> Option<Pulse> {
        Pulse::ALL.into_iter().find(|p| p.name() == s)
    }

    fn sinc_amplitude() -> f64 {
        (PI / sine_integral(2.0 * PI)).sqrt()
    }

    /// `g(t)`, zero outside `[0, dt)`.
    pub fn value(self, t: f64, dt: f64) -> f64 {
        if !(0.0..dt).contains(&t) {
            return 0.0;
        }
        self.formula(t, dt)
    }

    /// The pulse's formula without the support window (its smooth extension), used to
    /// take finite differences on the open support.
    pub fn formula(self, t: f64, dt: f64) -> f64 {
        let u = t / dt;
        match self {
            Pulse::Cosine => 2f64.sqrt() * (0.5 * PI * u).cos(),
            Pulse::Sinc => {
                let x = PI * u;
                let s = if x.abs() < 1e-8 {
                    1.0 - x * x / 6.0
                } else {
                    x.sin() / x
                };
                Self::sinc_amplitude() * s
            }
            Pulse::Triangular => 3f64.sqrt() * (1.0 - u),
        }
    }

    /// `g'(t)` on the open support `(0, dt)`, zero elsewhere (see the module doc).
    pub fn derivative(self, t: f64, dt: f64) -> f64 {
        if !(t > 0.0 && t < dt) {
            return 0.0;
        }
        let u = t / dt;
        match self {
            Pulse::Cosine => -2f64.sqrt() * (0.5 * PI / dt) * (0.5 * PI * u).sin(),
            Pulse::Sinc => {
                let x = PI * u;
                // d/dx (sin x / x) = (x cos x - sin x) / x^2, series near 0: -x/3 + x^3/30
                let ds = if x.abs() < 1e-4 {
                    -x / 3.0 + x.powi(3) / 30.0
                } else {
                    (x * x.cos() - x.sin()) / (x * x)
                };
                Self::sinc_amplitude() * ds * PI / dt
            }
            Pulse::Triangular => -3f64.sqrt() / dt,
        }
    }

    /// Moments by numerical integration of `g` and `g'`.
    pub fn moments(self, dt: f64) -> PulseMoments {
        let energy = integrate(|t| self.value(t, dt).powi(2), 0.0, dt, PANELS);
        let d2 = integrate(|t| self.derivative(t, dt).powi(2), 0.0, dt, PANELS);
        let cross = integrate(
            |t| self.derivative(t, dt) * self.value(t, dt),
            0.0,
            dt,
            PANELS,
        );
        PulseMoments {
            energy,
            mean_square_bandwidth: d2 / energy,
            derivative_cross: cross,
        }
    }

    /// Closed forms of the moments, derived by hand (independent of the quadrature).
    pub fn closed_form_moments(self, dt: f64) -> PulseMoments {
        match self {
            // int 2 cos^2 = dt; int |g'|^2 = 2 (pi/2dt)^2 dt/2; eps_gdot = (0 - 2)/2
            Pulse::Cosine => PulseMoments {
                energy: dt,
                mean_square_bandwidth: PI * PI / (4.0 * dt * dt),
                derivative_cross: -1.0,
            },
            // int |g'|^2 = 3/dt; eps_gdot = (0 - 3)/2
            Pulse::Triangular => PulseMoments {
                energy: dt,
                mean_square_bandwidth: 3.0 / (dt * dt),
                derivative_cross: -1.5,
            },
            // g = sqrt(pi/a) s(pi t/dt), s(x) = sin x / x. int |g'|^2 dt
            // = (pi/a) (pi/dt) int_0^pi s'(x)^2 dx, with s'(x) = sum_k c_k x^(2k-1),
            // c_k = (-1)^k 2k/(2k+1)!, integrated term by term. eps_gdot = -g(0)^2/2 = -pi/(2a).
            Pulse::Sinc => {
                let a = sine_integral(2.0 * PI);
                let terms = 30;
                let mut c = vec![0.0; terms + 1];
                let mut fact = 1.0; // (2k+1)!
                for (k, ck) in c.iter_mut().enumerate().skip(1) {
                    fact *= (2 * k) as f64 * (2 * k + 1) as f64;
                    *ck = if k % 2 == 0 { 1.0 } else { -1.0 } * 2.0 * k as f64 / fact;
                }
                let mut s_int = 0.0;
                for i in 1..=terms {
                    for j in 1..=terms {
                        let p = (2 * i + 2 * j - 1) as i32;
                        s_int += c[i] * c[j] * PI.powi(p) / p as f64;
                    }
                }
                let d2 = (PI / a) * (PI / dt) * s_int;
                PulseMoments {
                    energy: dt,
                    mean_square_bandwidth: d2 / dt,
                    derivative_cross: -PI / (2.0 * a),
                }
            }
        }
    }

    /// Lagged correlations used by the multi-device FIM, for a lag `lag` (seconds):
    /// `[r_gg, r_dg, r_gd, r_dd]` with `r_xy(lag) = int x(u) y(u + lag) du`, where
    /// `d = g'`. Integrated over the overlap of the two supports, where both factors
    /// are smooth, so Gauss–Legendre converges fast.
    pub fn correlations(self, lag: f64, dt: f64) -> [f64; 4] {
        let lo = (-lag).max(0.0);
        let hi = (dt - lag).min(dt);
        if hi <= lo {
            return [0.0; 4];
        }
        let nodes = super::quadrature::gauss_legendre(lo, hi, PANELS);
        let mut r = [0.0; 4];
        for (u, w) in nodes {
            let (g0, d0) = (self.value(u, dt), self.derivative(u, dt));
            let (g1, d1) = (self.value(u + lag, dt), self.derivative(u + lag, dt));
            r[0] += w * g0 * g1;
            r[1] += w * d0 * g1;
            r[2] += w * g0 * d1;
            r[3] += w * d0 * d1;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DT: f64 = 5e-7;

    #[test]
    fn sine_integral_known_value() {
        // Si(pi) = 1.851937051982466, Si(2 pi) = 1.418151576132628 (Abramowitz & Stegun)
        assert!((sine_integral(PI) - 1.851_937_051_982_466).abs() < 1e-13);
        assert!((sine_integral(2.0 * PI) - 1.418_151_576_132_628).abs() < 1e-13);
    }

    #[test]
    fn numerical_moments_match_closed_forms() {
        for p in Pulse::ALL {
            let n = p.moments(DT);
            let c = p.closed_form_moments(DT);
            assert!((n.energy / c.energy - 1.0).abs() < 1e-10, "{p:?} energy");
            assert!(
                (n.mean_square_bandwidth / c.mean_square_bandwidth - 1.0).abs() < 1e-10,
                "{p:?} msb {} vs {}",
                n.mean_square_bandwidth,
                c.mean_square_bandwidth
            );
            assert!(
                (n.derivative_cross - c.derivative_cross).abs() < 1e-10,
                "{p:?} cross"
            );
        }
    }

    #[test]
    fn unit_average_power() {
        for p in Pulse::ALL {
            assert!((p.moments(DT).energy / DT - 1.0).abs() < 1e-10);
        }
    }

    #[test]
    fn zero_lag_correlations_are_the_moments() {
        for p in Pulse::ALL {
            let m = p.moments(DT);
            let r = p.correlations(0.0, DT);
            assert!((r[0] / m.energy - 1.0).abs() < 1e-12);
            assert!((r[1] - m.derivative_cross).abs() < 1e-10);
            assert!((r[2] - m.derivative_cross).abs() < 1e-10);
            assert!((r[3] / (m.mean_square_bandwidth * m.energy) - 1.0).abs() < 1e-10);
        }
    }

    #[test]
    fn triangular_correlation_closed_form() {
        // r_gg(l) = 3 int_0^{dt-l} (1 - u/dt)(1 - (u+l)/dt) du; with v = l/dt:
        // = 3 dt (1-v)^3 / 3 + 3 dt * (1-v)^2 * 0 ... computed directly below.
        for v in [0.0, 0.1, 0.37, 0.9] {
            let l = v * DT;
            let w = 1.0 - v;
            // int_0^{w} (1-x)(1-x-v) dx = w - w^2/2 - v w - (w^2/2 - w^3/3) + ... expand:
            // (1-x)(w-x) = w - (1+w) x + x^2 -> w^2 - (1+w) w^2/2 + w^3/3
            let exact = 3.0 * DT * (w * w - (1.0 + w) * w * w / 2.0 + w.powi(3) / 3.0);
            let r = Pulse::Triangular.correlations(l, DT);
            assert!((r[0] / exact - 1.0).abs() < 1e-12, "lag {v}");
            // r_dd(l) = 3/dt^2 * (dt - l) for the constant slope
            assert!((r[3] / (3.0 / DT * w) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn correlations_are_symmetric_in_lag() {
        for p in Pulse::ALL {
            let a = p.correlations(3e-8, DT);
            let b = p.correlations(-3e-8, DT);
            assert!((a[0] - b[0]).abs() < 1e-12 * DT);
            assert!((a[1] - b[2]).abs() < 1e-9);
            assert!((a[3] - b[3]).abs() < 1e-9 * a[3].abs());
        }
    }
}
