//! Delay–Doppler FIM of one receiver (RE) of the multi-static system: Section III-A,
//! Proposition 3.1, (17)-(18) and Appendix A of `multistatic-isac.md`, re-derived.
//! Write-up: `docs/multistatic-fim.md`.
//!
//! **Signal model** (3), (1), (9). At RE `k`, with `t` measured from the start of the
//! observation (`t = 0` at the start of the first symbol),
//!
//! ```text
//! y_k(t) = H_k e^{j 2 pi f_k t} x(t - tau_k) + c_k(t) + z_k(t),             (3)
//! x(t)   = sum_{m=1}^{M} s[m] g(t - (m-1) dt),   s[m] = sum_i W_i s_i[m],    (1), (9)
//! H_k    = sqrt(eta_k beta_k) a_k(phi_k) a_b(theta)^T,  eta_k = d_k^{-eps},
//! ```
//!
//! with `s_i[m] ~ CN(0, I_L)` i.i.d., so `E[s[m] s[m']^H] = delta_{mm'} Q`,
//! `Q = sum_i W_i W_i^H`, and noise variance per sample `sigma^2 = sigma_c^2 + sigma_z^2`.
//! Parameters: `tau_k` (seconds) and `f_k` (hertz).
//!
//! **Convention** ([`crate::fim`]): `J = 2/(sigma^2 dt) int Re(dmu^H dmu) dt`, in
//! expectation over the symbols, integrated over the whole echo
//! `[tau, tau + M dt]`. The pulse derivative `g'` is taken on the open support
//! `(0, dt)` (see [`crate::physics::pulse`]).
//!
//! **Model closed form** (M1)-(M5), derived in `docs/multistatic-fim.md`:
//!
//! ```text
//! dmu/dtau = -H e^{j2 pi f t} sum_m s[m] g'(t - tau - (m-1)dt)                (M1)
//! dmu/df   = j 2 pi t H e^{j2 pi f t} sum_m s[m] g(t - tau - (m-1)dt)         (M2)
//! Upsilon  = E[s^H H^H H s] = Tr(H^H H Q) = eta beta |a_k|^2 a_b^T Q a_b^*   (M3)
//! J_tautau = 2 M Upsilon int_0^dt |g'|^2 du / (sigma^2 dt)                    (M4)
//! J_ff     = 8 pi^2 Upsilon / (sigma^2 dt) sum_m int_0^dt (u + c_m)^2 |g(u)|^2 du,
//!            c_m = tau + (m-1) dt
//!          = 8 pi^2 Upsilon / (sigma^2 dt) (M G2 + 2 S1 G1 + S2 G0)           (M5)
//! J_tauf   = 2/(sigma^2 dt) Re(-j 2 pi Upsilon sum_m int t g'(u) g(u) dt) = 0  (M6)
//! ```
//!
//! with `G_n = int_0^dt u^n |g(u)|^2 du`, `S1 = sum_m c_m`, `S2 = sum_m c_m^2`. Symbols at
//! different `m` do not overlap in time and are uncorrelated, so no cross-symbol terms
//! survive. (M6) vanishes because `g` is real and `Upsilon` is real: the integrand of the
//! cross term is purely imaginary. `J_ff ~ 8 pi^2 Upsilon M^3 dt^2 / (3 sigma^2)` for
//! large `M`.
//!
//! **Printed Proposition 3.1** (13)-(16), in `tau~ = tau/dt`, `f~ = f dt`, `B = 1/(2 dt)`:
//! `D_tautau = iota Upsilon`, `D_ff = chi Upsilon`, `D_tauf = varsigma Upsilon` with
//! `iota = 4 B M F_g eta / ((1+alpha) sigma^2)`,
//! `chi = 64 pi^2 B^3 M F_tg eta / ((1+alpha) sigma^2)`,
//! `varsigma = 16 pi B^2 M F_tgdot eta / ((1+alpha) sigma^2)`, `F_g = int_0^dt |g'|^2`,
//! `F_tg = int_0^dt t^2 |g|^2` (pulse-local time), `F_tgdot = Re int_0^dt t g g'^*`.
//! [`FimVariant::Paper`] evaluates these literally (the `Upsilon` with `H` that already
//! holds `eta`, so `eta` counts twice) and maps them to seconds/hertz by the Jacobian
//! `d(tau~, f~)/d(tau, f) = diag(1/dt, dt)`.

use crate::fim::{continuous_time_fim, crb_trace, expected_over_symbols, reparametrize};
use crate::physics::pulse::Pulse;
use crate::physics::quadrature::gauss_legendre;
use crate::C64;
use faer::Mat;
use std::f64::consts::PI;

/// Which closed form [`delay_doppler_fim`] evaluates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FimVariant {
    /// The FIM of the signal model (3), (M4)-(M6) of the module doc (default).
    Model,
    /// The printed Proposition 3.1, (13)-(16), with Rician factor `alpha` in
    /// `G_k = (1 + alpha)(sigma_c^2 + sigma_z^2)`, mapped to seconds/hertz.
    Paper { alpha: f64 },
}

/// The TR–target–RE link of one receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiverLink {
    /// Large-scale loss `eta_k = d_k^{-eps}` of the TR–target–RE path.
    pub path_loss: f64,
    /// Reflection coefficient `beta_k`.
    pub reflection: f64,
    /// Receive steering vector `a_k(phi_k)` (length `N_r`).
    pub rx_steering: Vec<C64>,
    /// Transmit steering vector `a_b(theta)` (length `N_t`).
    pub tx_steering: Vec<C64>,
    /// Delay `tau_k`, seconds.
    pub delay: f64,
    /// Doppler shift `f_k`, hertz.
    pub doppler: f64,
}

impl ReceiverLink {
    /// Amplitude `sqrt(eta_k beta_k)` of `H_k`.
    pub fn gain(&self) -> f64 {
        (self.path_loss * self.reflection).sqrt()
    }

    /// `H_k = sqrt(eta_k beta_k) a_k a_b^T` (`N_r x N_t`).
    pub fn channel(&self) -> Mat<C64> {
        let g = self.gain();
        Mat::from_fn(self.rx_steering.len(), self.tx_steering.len(), |r, c| {
            self.rx_steering[r] * self.tx_steering[c] * g
        })
    }

    /// `Upsilon_k = Tr(H_k^H H_k Q)` (M3), computed from the full channel matrix.
    pub fn upsilon(&self, q: &Mat<C64>) -> f64 {
        let h = self.channel();
        let hh = h.adjoint() * &h;
        let nt = q.nrows();
        let mut tr = C64::new(0.0, 0.0);
        for a in 0..nt {
            for b in 0..nt {
                tr += hh[(a, b)] * q[(b, a)];
            }
        }
        tr.re
    }
}

/// The transmitted waveform: pulse, symbol duration `dt` (seconds) and number of symbols
/// `M` observed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waveform {
    pub pulse: Pulse,
    pub symbol_duration: f64,
    pub symbols: usize,
}

/// Time moments of a pulse on `[0, dt]` (closed forms, see [`time_moments`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeMoments {
    /// `G0 = int |g|^2` (= dt), seconds.
    pub g0: f64,
    /// `G1 = int u |g|^2`, s^2.
    pub g1: f64,
    /// `G2 = int u^2 |g|^2` (the paper's `F_tg`), s^3.
    pub g2: f64,
    /// `int |g'|^2` on the open support (the paper's `F_g`), 1/s.
    pub d2: f64,
    /// `Re int u g g'^*` (the paper's `F_tgdot`) `= dt g(dt-)^2/2 - G0/2`, seconds.
    pub tgdot: f64,
}

/// `Cin(x) = int_0^x (1 - cos t)/t dt` by its power series (accurate for |x| <= 10).
fn cin(x: f64) -> f64 {
    // sum_{k>=1} (-1)^{k+1} x^{2k} / (2k (2k)!)
    let mut sum = 0.0;
    let mut pow_over_fact = 1.0; // x^{2k}/(2k)!
    for k in 1..60 {
        let n = 2 * k;
        pow_over_fact *= x * x / ((n - 1) as f64 * n as f64);
        let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
        sum += sign * pow_over_fact / n as f64;
        if pow_over_fact < 1e-300 {
            break;
        }
    }
    sum
}

/// Closed-form time moments of the pulses (derived by hand; `u = x dt`):
/// - cosine: `|g|^2 = 1 + cos(pi x)`, `G1 = dt^2 (1/2 - 2/pi^2)`, `G2 = dt^3 (1/3 - 2/pi^2)`;
/// - sinc: `|g|^2 = (pi/a) sin^2(pi x)/(pi x)^2`, `G1 = dt^2 Cin(2 pi) / (2 pi a)`,
///   `G2 = dt^3 / (2 pi a)`, `a = Si(2 pi)`;
/// - triangular: `|g|^2 = 3 (1-x)^2`, `G1 = dt^2/4`, `G2 = dt^3/10`.
///
/// `d2` is from [`Pulse::closed_form_moments`]; `tgdot = [u g^2/2]_0^dt - G0/2 = -dt/2`
/// for all three pulses (each vanishes at `dt`).
pub fn time_moments(pulse: Pulse, dt: f64) -> TimeMoments {
    let cm = pulse.closed_form_moments(dt);
    let (g1, g2) = match pulse {
        Pulse::Cosine => (
            dt * dt * (0.5 - 2.0 / (PI * PI)),
            dt.powi(3) * (1.0 / 3.0 - 2.0 / (PI * PI)),
        ),
        Pulse::Sinc => {
            let a = crate::physics::pulse::sine_integral(2.0 * PI);
            (
                dt * dt * cin(2.0 * PI) / (2.0 * PI * a),
                dt.powi(3) / (2.0 * PI * a),
            )
        }
        Pulse::Triangular => (dt * dt / 4.0, dt.powi(3) / 10.0),
    };
    let g_end = pulse.formula(dt, dt);
    TimeMoments {
        g0: cm.energy,
        g1,
        g2,
        d2: cm.mean_square_bandwidth * cm.energy,
        tgdot: dt * g_end * g_end / 2.0 - cm.energy / 2.0,
    }
}

/// The printed Proposition 3.1, (13)-(16), in the paper's normalised parameters
/// `[tau~, f~]` (`tau~ = tau/dt`, `f~ = f dt`, `B = 1/(2 dt)`), taken literally:
/// `iota, chi, varsigma` carry `eta_k / ((1 + alpha)(sigma_c^2 + sigma_z^2))` and
/// `Upsilon_k = Tr(H^H H Q)` carries `eta_k` again through `H_k`.
pub fn printed_normalised_fim(
    link: &ReceiverLink,
    q: &Mat<C64>,
    waveform: &Waveform,
    noise_variance: f64,
    alpha: f64,
) -> Mat<f64> {
    let dt = waveform.symbol_duration;
    let m = waveform.symbols as f64;
    let b = 1.0 / (2.0 * dt);
    let tm = time_moments(waveform.pulse, dt);
    let common = link.path_loss / ((1.0 + alpha) * noise_variance) * link.upsilon(q);
    let iota = 4.0 * b * m * tm.d2; // (13)
    let chi = 64.0 * PI * PI * b.powi(3) * m * tm.g2; // (14)
    let varsigma = 16.0 * PI * b * b * m * tm.tgdot; // (15), (16)
    let mut j = Mat::zeros(2, 2);
    j[(0, 0)] = iota * common;
    j[(1, 1)] = chi * common;
    j[(0, 1)] = varsigma * common;
    j[(1, 0)] = varsigma * common;
    j
}

/// Closed-form delay–Doppler FIM of one receiver, parameters `[tau_k, f_k]` in seconds
/// and hertz. `q = sum_i W_i W_i^H`; `noise_variance = sigma_c^2 + sigma_z^2`.
pub fn delay_doppler_fim(
    link: &ReceiverLink,
    q: &Mat<C64>,
    waveform: &Waveform,
    noise_variance: f64,
    variant: FimVariant,
) -> Mat<f64> {
    let dt = waveform.symbol_duration;
    match variant {
        FimVariant::Model => {
            let m = waveform.symbols;
            let tm = time_moments(waveform.pulse, dt);
            let ups = link.upsilon(q); // (M3)
            let scale = 2.0 * ups / (noise_variance * dt);
            // c_m = tau + (m-1) dt, m = 1..M
            let mf = m as f64;
            let tau = link.delay;
            let s1 = mf * tau + dt * mf * (mf - 1.0) / 2.0;
            let s2 = mf * tau * tau
                + tau * dt * mf * (mf - 1.0)
                + dt * dt * (mf - 1.0) * mf * (2.0 * mf - 1.0) / 6.0;
            let mut j = Mat::zeros(2, 2);
            j[(0, 0)] = scale * mf * tm.d2; // (M4)
            j[(1, 1)] = scale * 4.0 * PI * PI * (mf * tm.g2 + 2.0 * s1 * tm.g1 + s2 * tm.g0); // (M5)
                                                                                              // (M6): the cross term vanishes for real pulses
            j
        }
        FimVariant::Paper { alpha } => {
            let jn = printed_normalised_fim(link, q, waveform, noise_variance, alpha);
            let mut jac = Mat::zeros(2, 2);
            jac[(0, 0)] = 1.0 / dt; // d tau~ / d tau
            jac[(1, 1)] = dt; // d f~ / d f
            reparametrize(&jn, &jac)
        }
    }
}

/// The localisation CRB (17), `U = Tr((sum_k J_k)^{-1})`, taken literally: the
/// per-receiver FIMs are summed entrywise although each receiver has its own
/// `(tau_k, f_k)` (see `docs/multistatic-fim.md`). `+inf` when the sum is singular.
pub fn paper_u(fims: &[Mat<f64>]) -> f64 {
    let Some(first) = fims.first() else {
        return f64::INFINITY;
    };
    let mut sum = Mat::<f64>::zeros(first.nrows(), first.ncols());
    for j in fims {
        sum += j;
    }
    crb_trace(&sum)
}

pub use crate::fim::SymbolExpectation;

/// Numerical FIM `[tau, f]` (seconds, hertz) of the signal model (3), independent of the
/// closed forms: the noise-free echo is synthesised from the symbols, its parameter
/// derivatives are central finite differences (Doppler through `e^{j 2 pi f t}`, delay
/// through the pulse's smooth piece on its open support), and [`continuous_time_fim`]
/// integrates by Gauss–Legendre between the pulse breakpoints `tau + (m-1) dt`.
pub fn numerical_delay_doppler_fim(
    link: &ReceiverLink,
    q: &Mat<C64>,
    waveform: &Waveform,
    noise_variance: f64,
    expectation: SymbolExpectation,
) -> Mat<f64> {
    let h = link.channel();
    expected_over_symbols(q, waveform.symbols, expectation, |x, window| {
        realization_fim(link, &h, waveform, noise_variance, x, window)
    })
    .expect("Q is Hermitian")
}

/// FIM of one known symbol sequence, integrated over the echoes of the symbols in
/// `window` (0-based; the others must be zero).
fn realization_fim(
    link: &ReceiverLink,
    h: &Mat<C64>,
    waveform: &Waveform,
    noise_variance: f64,
    symbols: &[Vec<C64>],
    window: std::ops::Range<usize>,
) -> Mat<f64> {
    let dt = waveform.symbol_duration;
    let pulse = waveform.pulse;
    let nr = h.nrows();
    let tau = link.delay;
    let f = link.doppler;
    // H s[m] per symbol
    let hs: Vec<Vec<C64>> = symbols
        .iter()
        .map(|s| {
            (0..nr)
                .map(|r| (0..s.len()).map(|c| h[(r, c)] * s[c]).sum())
                .collect()
        })
        .collect();
    let mut nodes = Vec::new();
    for m in window.clone() {
        let a = tau + m as f64 * dt;
        nodes.extend(gauss_legendre(a, a + dt, 4));
    }
    let t_max = tau + window.end as f64 * dt;
    let h_tau = 1e-5 * dt;
    let h_f = 1e-4 / (2.0 * PI * t_max.abs().max(dt));
    let phasor = |freq: f64, t: f64| C64::from_polar(1.0, 2.0 * PI * freq * t);
    continuous_time_fim(2, nr, &nodes, noise_variance, dt, |t, out| {
        let pos = ((t - tau) / dt).floor();
        if pos < 0.0 {
            return;
        }
        let m = pos as usize;
        if !window.contains(&m) {
            return;
        }
        let u = t - tau - m as f64 * dt;
        if !(u > 0.0 && u < dt) {
            return;
        }
        // mu(t) = H e^{j2pi f t} s[m] g(t - tau - m dt); tau -> tau + h shifts u -> u - h
        let dg = (pulse.formula(u - h_tau, dt) - pulse.formula(u + h_tau, dt)) / (2.0 * h_tau);
        let g = pulse.formula(u, dt);
        let e = phasor(f, t);
        let de = (phasor(f + h_f, t) - phasor(f - h_f, t)) / (2.0 * h_f);
        for r in 0..nr {
            out[0][r] = hs[m][r] * e * dg;
            out[1][r] = hs[m][r] * de * g;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::quadrature::integrate;

    #[test]
    fn time_moments_match_quadrature() {
        for pulse in Pulse::ALL {
            let dt = 3e-7;
            let tm = time_moments(pulse, dt);
            let q = |f: &dyn Fn(f64) -> f64| integrate(f, 0.0, dt, 64);
            let g0 = q(&|u| pulse.value(u, dt).powi(2));
            let g1 = q(&|u| u * pulse.value(u, dt).powi(2));
            let g2 = q(&|u| u * u * pulse.value(u, dt).powi(2));
            let d2 = q(&|u| pulse.derivative(u, dt).powi(2));
            let tgd = q(&|u| u * pulse.value(u, dt) * pulse.derivative(u, dt));
            for (a, b) in [
                (tm.g0, g0),
                (tm.g1, g1),
                (tm.g2, g2),
                (tm.d2, d2),
                (tm.tgdot, tgd),
            ] {
                assert!((a - b).abs() <= 1e-10 * b.abs(), "{pulse:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn cin_series() {
        // Cin(x) = gamma + ln x - Ci(x); Cin(2 pi) = 2.43765...
        assert!(
            (cin(2.0 * PI) - 2.437_653).abs() < 1e-5,
            "{}",
            cin(2.0 * PI)
        );
    }
}
