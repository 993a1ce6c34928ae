//! The numerical FIM of the backscatter signal model (1)-(9), independent of the closed
//! forms in [`super::model`]: the received mean is synthesised on a time grid from the
//! excitation symbols, its derivatives are taken by central finite differences in the
//! parameters (the DoA through the steering vector, the delay through the pulse's
//! smooth piece on its open support), and the continuous-time FIM of [`crate::fim`] is
//! integrated by Gauss–Legendre between the pulse breakpoints.
//!
//! Expectation over the i.i.d. symbols with covariance `R`: the FIM is a quadratic form
//! in the symbols, so `E[J] = sum_n sum_k J(x[n] = R^{1/2} e_k, other symbols 0)` exactly
//! (cross terms between different symbols have zero mean). A Monte Carlo estimate over
//! random symbol sequences is available as well.

use super::model::BackscatterModel;
use crate::fim::{continuous_time_fim, expected_over_symbols};
use crate::physics::quadrature::gauss_legendre;
use crate::C64;
use faer::Mat;

pub use crate::fim::SymbolExpectation;

/// Numerical FIM (parameters `tau_1..tau_L, phi_1..phi_L`, seconds and radians).
pub fn numerical_fim(
    model: &BackscatterModel,
    covariance: &Mat<C64>,
    expectation: SymbolExpectation,
) -> Mat<f64> {
    expected_over_symbols(
        covariance,
        model.scenario.symbols,
        expectation,
        |x, window| realization_fim(model, x, window),
    )
    .expect("covariance is Hermitian")
}

/// FIM of one known symbol sequence whose nonzero symbols lie in `window` (the time grid
/// covers only their echoes).
fn realization_fim(
    model: &BackscatterModel,
    symbols: &[Vec<C64>],
    window: std::ops::Range<usize>,
) -> Mat<f64> {
    let s = &model.scenario;
    let dt = s.symbol_duration;
    let l = model.devices();
    let mr = s.rx_array.elements;
    let pulse = s.pulse;
    // breakpoints: every symbol boundary of every device's echo
    let (n_lo, n_hi) = (window.start, window.end);
    let mut breaks: Vec<f64> = Vec::new();
    for lk in &model.links {
        for n in n_lo..=n_hi {
            breaks.push(lk.delay + n as f64 * dt);
        }
    }
    breaks.sort_by(|a, b| a.total_cmp(b));
    breaks.dedup_by(|a, b| (*a - *b).abs() < 1e-18);
    let mut nodes = Vec::new();
    for w in breaks.windows(2) {
        if w[1] - w[0] > 1e-18 {
            nodes.extend(gauss_legendre(w[0], w[1], 3));
        }
    }
    // a_t^T x[n] per device and symbol
    let proj: Vec<Vec<C64>> = model
        .links
        .iter()
        .map(|lk| {
            symbols
                .iter()
                .map(|x| lk.tx_steering.iter().zip(x).map(|(a, b)| a * b).sum())
                .collect()
        })
        .collect();
    let h_phi = 1e-6;
    let rx_fd: Vec<Vec<C64>> = model
        .links
        .iter()
        .map(|lk| {
            let ap = s.rx_array.steering(lk.doa + h_phi);
            let am = s.rx_array.steering(lk.doa - h_phi);
            ap.iter()
                .zip(&am)
                .map(|(p, m)| (p - m) / (2.0 * h_phi))
                .collect()
        })
        .collect();
    let h_tau = 1e-6 * dt;
    continuous_time_fim(2 * l, mr, &nodes, s.noise_variance(), dt, |t, out| {
        for (d, lk) in model.links.iter().enumerate() {
            let mut x_d = C64::new(0.0, 0.0); // a_t^T x(t - tau)
            let mut dx_d = C64::new(0.0, 0.0); // d/dtau of it
            for (n, p) in proj[d].iter().enumerate().take(n_hi).skip(n_lo) {
                let u = t - lk.delay - n as f64 * dt;
                if u > 0.0 && u < dt {
                    x_d += p * pulse.formula(u, dt);
                    let fd = (pulse.formula(u - h_tau, dt) - pulse.formula(u + h_tau, dt))
                        / (2.0 * h_tau);
                    dx_d += p * fd;
                }
            }
            for m in 0..mr {
                out[d][m] = lk.rx_steering[m] * dx_d * lk.amplitude;
                out[l + d][m] = rx_fd[d][m] * x_d * lk.amplitude;
            }
        }
    })
}
