//! Delay–Doppler estimation by matched filtering, (6)-(8) of `multistatic-isac.md`, on
//! simulated received samples, and its Monte Carlo error against the bound (Fig. 7).
//! Write-up: `docs/multistatic.md` (section "Matched filter").
//!
//! **Samples.** At RE `k`, `y(t_n) = H_k e^{j 2 pi f_k t_n} x(t_n - tau_k) + z(t_n)` on
//! `t_n = n dt / os` (absolute time from the start of the observation, as the model's
//! Doppler term requires), `x(t) = sum_m s[m] g(t - (m-1) dt)`, `s[m] = sum_i W_i s_i[m]`,
//! `s_i[m] ~ CN(0, I_L)`. The crate's continuous-time FIM
//! `J = 2/(sigma^2 dt) int Re(dmu^H dmu) dt` is the FIM of white noise of spectral density
//! `sigma^2 dt`; sampled every `dt/os` that is a per-sample variance `sigma^2 os`, so the
//! discrete FIM `2/(sigma^2 os) sum_n Re(dmu_n^H dmu_n)` tends to `J` as `os` grows.
//!
//! **Statistics.** With `H_k = A a_k a_b^T` the echo lies along `a_k`, and
//! `r_n = a_k^H y(t_n)` is a sufficient statistic (`A N_r e^{j2 pi f t_n} v_n(tau) + w_n`,
//! `v_n(tau) = sum_m c[m] g(t_n - tau - (m-1) dt)`, `c[m] = a_b^T s[m]`, `w_n` of variance
//! `N_r sigma^2 os`).
//! - [`Statistic::Coherent`]: the maximum-likelihood statistic of the model the CRB is
//!   about (known channel and all streams known):
//!   `Re sum_n conj(r_n) A N_r e^{j2 pi f t_n} v_n(tau) - (1/2) A^2 N_r^2 sum_n |v_n(tau)|^2`.
//! - [`Statistic::NonCoherent`]: the paper's (8), the output power of the filter matched to
//!   the delayed, Doppler-shifted sensing symbols only,
//!   `|sum_n r_n conj(v0_n(tau)) e^{-j2 pi f t_n}|^2 / sum_n |v0_n(tau)|^2` with
//!   `c0[m] = a_b^T W_0 s_0[m]`; the communication streams are interference and the
//!   absolute phase is discarded. (8) divides by the interference power, a constant; we
//!   divide by the template energy, which on a sampled grid varies with `tau` and
//!   otherwise pulls the peak towards delays whose samples catch more pulse energy
//!   (measured: the noise-free peak moved by 0.9 ns, 0.7 samples).
//!
//! **Search.** A coarse grid (delay step at most `dt/8` over the window, 11 Doppler points)
//! and then alternating golden-section refinement in each coordinate (the model's
//! `J_{tau f} = 0`: the coordinates decouple locally), to a small fraction of the CRB's
//! standard deviation. The window is centred on the true values (a local estimator, as the
//! paper's Fig. 7 searches "around" them); its half-widths are inputs.

use super::fim::{delay_doppler_fim, FimVariant, ReceiverLink, Waveform};
use crate::error::{IsacError, Result};
use crate::experiment::derive_seed;
use crate::fim::crb_matrix;
use crate::C64;
use faer::Mat;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::f64::consts::PI;

/// Which matched-filter statistic is maximised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Coherent,
    NonCoherent,
}

/// One simulated observation at one RE, already projected on `a_k`.
#[derive(Debug, Clone)]
pub struct Echo {
    /// Sample times `t_n` (s).
    pub times: Vec<f64>,
    /// `r_n = a_k^H y(t_n)`.
    pub projected: Vec<C64>,
    /// `c[m] = a_b^T s[m]` (all streams) and `c0[m] = a_b^T W_0 s_0[m]` (sensing stream).
    pub symbols: Vec<C64>,
    pub sensing_symbols: Vec<C64>,
}

/// Search window of the estimator, centred on `(delay, doppler)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchWindow {
    pub delay: f64,
    pub delay_half_width: f64,
    pub doppler: f64,
    pub doppler_half_width: f64,
}

fn cn(rng: &mut rand_chacha::ChaCha8Rng, variance: f64) -> C64 {
    let s = (variance / 2.0).sqrt();
    let re: f64 = StandardNormal.sample(rng);
    let im: f64 = StandardNormal.sample(rng);
    C64::new(re * s, im * s)
}

/// Simulates the received samples of `link` for the beamformers `streams` (`W_0..W_K`,
/// each `N_t x L`) with noise variance `noise_variance` per symbol duration, `oversampling`
/// samples per symbol, over the echo window `[tau - 2 dt, tau + (M + 2) dt]`.
pub fn simulate_echo(
    link: &ReceiverLink,
    waveform: &Waveform,
    streams: &[Mat<C64>],
    noise_variance: f64,
    oversampling: usize,
    seed: u64,
) -> Result<Echo> {
    if oversampling == 0 || streams.is_empty() {
        return Err(IsacError::input(
            "mf_oversampling",
            "must be at least 1 (and W_0 given)",
        ));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (dt, m) = (waveform.symbol_duration, waveform.symbols);
    let nt = link.tx_steering.len();
    let nr = link.rx_steering.len();
    // c[m] = a_b^T s[m], s[m] = sum_i W_i s_i[m]
    let mut symbols = vec![C64::new(0.0, 0.0); m];
    let mut sensing_symbols = vec![C64::new(0.0, 0.0); m];
    for (i, w) in streams.iter().enumerate() {
        let ab_w: Vec<C64> = (0..w.ncols())
            .map(|l| (0..nt).map(|t| link.tx_steering[t] * w[(t, l)]).sum())
            .collect();
        for mm in 0..m {
            let c: C64 = ab_w.iter().map(|&x| x * cn(&mut rng, 1.0)).sum();
            symbols[mm] += c;
            if i == 0 {
                sensing_symbols[mm] += c;
            }
        }
    }
    let step = dt / oversampling as f64;
    let first = ((link.delay - 2.0 * dt) / step).floor().max(0.0) as usize;
    let last = ((link.delay + (m as f64 + 2.0) * dt) / step).ceil() as usize;
    let amplitude = link.gain();
    let sample_var = noise_variance * oversampling as f64;
    let mut times = Vec::with_capacity(last - first);
    let mut projected = Vec::with_capacity(last - first);
    for n in first..last {
        let t = n as f64 * step;
        let v = pulse_train(&symbols, waveform, t - link.delay);
        let common = C64::from_polar(amplitude, 2.0 * PI * link.doppler * t) * v;
        // y = a_k common + z (N_r antennas), projected on a_k
        let mut r = C64::new(0.0, 0.0);
        for a in &link.rx_steering {
            let y = a * common + cn(&mut rng, sample_var);
            r += a.conj() * y;
        }
        let _ = nr;
        times.push(t);
        projected.push(r);
    }
    Ok(Echo {
        times,
        projected,
        symbols,
        sensing_symbols,
    })
}

/// `v(u) = sum_m c[m] g(u - (m-1) dt)` at `u = t - tau` (pulses do not overlap).
fn pulse_train(c: &[C64], waveform: &Waveform, u: f64) -> C64 {
    let dt = waveform.symbol_duration;
    if u < 0.0 {
        return C64::new(0.0, 0.0);
    }
    let m = (u / dt).floor() as usize;
    if m >= c.len() {
        return C64::new(0.0, 0.0);
    }
    c[m] * waveform.pulse.value(u - m as f64 * dt, dt)
}

/// The matched-filter statistic at `(tau, f)`.
pub fn statistic(
    echo: &Echo,
    link: &ReceiverLink,
    waveform: &Waveform,
    kind: Statistic,
    tau: f64,
    f: f64,
) -> f64 {
    let nr = link.rx_steering.len() as f64;
    match kind {
        Statistic::Coherent => {
            let a = link.gain() * nr;
            let mut corr = 0.0;
            let mut energy = 0.0;
            for (t, r) in echo.times.iter().zip(&echo.projected) {
                let v = pulse_train(&echo.symbols, waveform, t - tau);
                let mu = C64::from_polar(a, 2.0 * PI * f * t) * v;
                corr += (r.conj() * mu).re;
                energy += mu.norm_sqr();
            }
            corr - 0.5 * energy
        }
        Statistic::NonCoherent => {
            let mut acc = C64::new(0.0, 0.0);
            let mut energy = 0.0;
            for (t, r) in echo.times.iter().zip(&echo.projected) {
                let v = pulse_train(&echo.sensing_symbols, waveform, t - tau);
                acc += r * v.conj() * C64::from_polar(1.0, -2.0 * PI * f * t);
                energy += v.norm_sqr();
            }
            if energy > 0.0 {
                acc.norm_sqr() / energy
            } else {
                0.0
            }
        }
    }
}

/// Golden-section maximisation of `h` on `[lo, hi]` to the absolute width `tol`.
fn golden(mut lo: f64, mut hi: f64, tol: f64, h: impl Fn(f64) -> f64) -> f64 {
    let g = 0.5 * (5f64.sqrt() - 1.0);
    let mut a = hi - g * (hi - lo);
    let mut b = lo + g * (hi - lo);
    let (mut fa, mut fb) = (h(a), h(b));
    while hi - lo > tol {
        if fa < fb {
            lo = a;
            a = b;
            fa = fb;
            b = lo + g * (hi - lo);
            fb = h(b);
        } else {
            hi = b;
            b = a;
            fb = fa;
            a = hi - g * (hi - lo);
            fa = h(a);
        }
    }
    0.5 * (lo + hi)
}

/// Estimates `(tau, f)` by grid search and alternating golden-section refinement to
/// `resolution = (delay, doppler)` widths.
pub fn estimate_delay_doppler(
    echo: &Echo,
    link: &ReceiverLink,
    waveform: &Waveform,
    kind: Statistic,
    window: &SearchWindow,
    resolution: (f64, f64),
    oversampling: usize,
) -> (f64, f64) {
    let s = |tau: f64, f: f64| statistic(echo, link, waveform, kind, tau, f);
    let _ = oversampling;
    let dstep = waveform.symbol_duration / 8.0;
    let nd = ((2.0 * window.delay_half_width / dstep).ceil() as usize).max(2);
    let nf = 11;
    let mut best = (f64::NEG_INFINITY, window.delay, window.doppler);
    for i in 0..=nd {
        let tau = window.delay - window.delay_half_width
            + 2.0 * window.delay_half_width * i as f64 / nd as f64;
        for j in 0..nf {
            let f = window.doppler - window.doppler_half_width
                + 2.0 * window.doppler_half_width * j as f64 / (nf - 1) as f64;
            let v = s(tau, f);
            if v > best.0 {
                best = (v, tau, f);
            }
        }
    }
    let (_, mut tau, mut f) = best;
    let dhw = 2.0 * window.delay_half_width / nd as f64;
    let fhw = 2.0 * window.doppler_half_width / (nf - 1) as f64;
    let clamp_t = |x: f64| {
        x.clamp(
            window.delay - window.delay_half_width,
            window.delay + window.delay_half_width,
        )
    };
    let clamp_f = |x: f64| {
        x.clamp(
            window.doppler - window.doppler_half_width,
            window.doppler + window.doppler_half_width,
        )
    };
    for _ in 0..4 {
        tau = golden(clamp_t(tau - dhw), clamp_t(tau + dhw), resolution.0, |x| {
            s(x, f)
        });
        f = golden(clamp_f(f - fhw), clamp_f(f + fhw), resolution.1, |y| {
            s(tau, y)
        });
    }
    (tau, f)
}

/// Monte Carlo error of one RE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonteCarloResult {
    pub trials: usize,
    /// Empirical mean squared errors, s^2 and Hz^2.
    pub mse_delay: f64,
    pub mse_doppler: f64,
    /// The model CRB's diagonal, s^2 and Hz^2.
    pub crb_delay: f64,
    pub crb_doppler: f64,
}

/// Monte Carlo of the matched filter at every link (`trials` draws each, seeds derived
/// from `seed`, link index and trial: the result does not depend on the thread count).
/// The search window: `delay_half_width` around the true delay, `doppler_sigmas` CRB
/// standard deviations around the true Doppler.
#[allow(clippy::too_many_arguments)]
pub fn monte_carlo(
    links: &[ReceiverLink],
    waveform: &Waveform,
    streams: &[Mat<C64>],
    noise_variance: f64,
    oversampling: usize,
    trials: usize,
    seed: u64,
    kind: Statistic,
    delay_half_width: f64,
    doppler_sigmas: f64,
) -> Result<Vec<MonteCarloResult>> {
    let q = streams.iter().fold(None::<Mat<C64>>, |acc, w| {
        let ww = w * w.adjoint();
        Some(match acc {
            Some(a) => a + ww,
            None => ww,
        })
    });
    let q = q.ok_or_else(|| IsacError::input("beamformers", "no stream given"))?;
    links
        .iter()
        .enumerate()
        .map(|(li, link)| {
            let j = delay_doppler_fim(link, &q, waveform, noise_variance, FimVariant::Model);
            let crb = crb_matrix(&j)
                .ok_or_else(|| IsacError::Numerical("singular delay-Doppler FIM".into()))?;
            let (cd, cf) = (crb[(0, 0)], crb[(1, 1)]);
            let window = SearchWindow {
                delay: link.delay,
                delay_half_width,
                doppler: link.doppler,
                doppler_half_width: doppler_sigmas * cf.sqrt(),
            };
            let resolution = (cd.sqrt() * 1e-3, cf.sqrt() * 1e-3);
            let errors: Vec<Result<(f64, f64)>> = (0..trials)
                .into_par_iter()
                .map(|t| {
                    let echo = simulate_echo(
                        link,
                        waveform,
                        streams,
                        noise_variance,
                        oversampling,
                        derive_seed(seed, li, t),
                    )?;
                    let (tau, f) = estimate_delay_doppler(
                        &echo,
                        link,
                        waveform,
                        kind,
                        &window,
                        resolution,
                        oversampling,
                    );
                    Ok((tau - link.delay, f - link.doppler))
                })
                .collect();
            let errors: Vec<(f64, f64)> = errors.into_iter().collect::<Result<_>>()?;
            let n = trials.max(1) as f64;
            Ok(MonteCarloResult {
                trials,
                mse_delay: errors.iter().map(|e| e.0 * e.0).sum::<f64>() / n,
                mse_doppler: errors.iter().map(|e| e.1 * e.1).sum::<f64>() / n,
                crb_delay: cd,
                crb_doppler: cf,
            })
        })
        .collect()
}
