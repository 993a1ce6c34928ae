//! Target positioning of the near-field ISPAC system (near-field-ispac.md, Sections
//! III-A and IV-A) and its Monte Carlo against the root CRB (Fig. 4). The mathematics,
//! the degeneracy of the printed Algorithm 3 and its repair are written up in
//! docs/nearfield-positioning.md.
//!
//! # One echo model for both modes
//! As in [`super::model`], slot `t` of the echo is `y_t = beta p (q^T z_t) + n_t`:
//! downlink (13) `p = b(theta)` (AT), `q = a(theta, r)` (MT), `z_t = x_t`; uplink (19)
//! `p = F^H a(theta, r)`, `q = b(theta)`, `z_t = s_u(t)`. `Y = [y_1 .. y_T]`,
//! `Z = [z_1 .. z_T]` (known to the receiver, (21)).
//!
//! # Concentrated likelihood (22)-(23)
//! With `delta(theta, r) = vec(p q^T Z)` the gain's MLE is `delta^H y / |delta|^2` (22) and
//! the concentrated log-likelihood is, up to constants,
//!
//! ```text
//!   L(theta, r) = |delta^H y|^2 / |delta|^2
//!               = |p^H (Y Z^H) q^*|^2 / (|p|^2  q^T (Z Z^H) q^*),
//! ```
//!
//! because `delta^H y = sum_t (q^T z_t)^* p^H y_t = p^H Y Z^H q^*` and
//! `|delta|^2 = |p|^2 sum_t |q^T z_t|^2`. [`Likelihood`] precomputes `Y Z^H` and a
//! factor of `Z Z^H`, so one evaluation costs `O(N_a N_b)`.
//!
//! # Algorithms
//! - Downlink, Algorithm 1: MUSIC (20) on the AT's `R_y = Y Y^H / T` for the angle, then
//!   the MLE (23) of the distance at that angle ([`downlink_two_stage`]).
//! - Uplink, Algorithm 3 (44)-(51) in its reduced-dimension form with a symmetric split
//!   ([`uplink_two_stage`]); the printed split is degenerate ([`printed_gamma`]).
//! - Joint ML refinement of both ([`ml_refine`]): Nelder–Mead on `L(theta, 1/r)`.
//!
//! Every 1-D search is a coarse grid followed by golden-section refinement on the
//! bracket around the best grid point, so the grid spacing does not floor the RMSE.

use super::model::{combine, NearfieldModel};
use super::numerical::{observation, signal_with_covariance};
use super::scenario::Mode;
use crate::error::{IsacError, Result};
use crate::experiment::splitmix64;
use crate::linalg::{hermitian_eigen, hermitian_solve};
use crate::physics::wavefront::{LinearArray, Wavefront};
use crate::C64;
use faer::Mat;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::f64::consts::PI;

/// Seed stream of the Monte Carlo trials ("nfposit").
const TRIAL_STREAM: u64 = 0x6e66_706f_7369_7400;

/// An estimated target position: angle (rad) and distance (m) about the MT's
/// reference element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub angle: f64,
    pub distance: f64,
}

/// Which search produced a two-stage estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimatorPath {
    /// Downlink Algorithm 1: AT MUSIC (20), then the distance MLE (23).
    MusicMle,
    /// Uplink Algorithm 3 with the symmetric (reduced-dimension) split: `Gamma_red`
    /// nonsingular (`N_RF - 1 >= ceil(N_a / 2)`).
    ReducedMusic,
    /// Uplink fallback: `Gamma_red` is singular for every angle (`N_RF - 1 <
    /// ceil(N_a / 2)`), so a 2-D grid of the plain MUSIC spectrum replaces (49)-(50).
    GridMusic,
}

impl EstimatorPath {
    pub fn as_str(self) -> &'static str {
        match self {
            EstimatorPath::MusicMle => "music-mle",
            EstimatorPath::ReducedMusic => "reduced-music",
            EstimatorPath::GridMusic => "grid-music",
        }
    }
}

/// The distance search range `[r_min, r_max]` of the estimators (m): from the inner
/// boundary of the radiating near field (Fresnel region), `0.62 sqrt(D^3 / lambda)`, to
/// four Rayleigh distances `4 * 2 D^2 / lambda` of the MT aperture `D`. The grids are
/// uniform in `1/r`, the variable the Fresnel phase (5) is linear in.
pub fn distance_range(mt: &LinearArray) -> [f64; 2] {
    let lambda = 2.0 * PI / mt.wavenumber;
    let d = mt.aperture().max(mt.spacing);
    let near = 0.62 * (d.powi(3) / lambda).sqrt();
    let far = 4.0 * mt.rayleigh_distance();
    [near.min(0.5 * far), far.max(2.0 * near)]
}

/// An echo `Y` (receive dimension x `T`) and the known transmitted signal `Z`
/// (transmit dimension x `T`): downlink `Y = G^T X + N` (13), uplink
/// `Y = F^H G S_u + N` (19).
#[derive(Debug, Clone)]
pub struct Echo {
    pub samples: Mat<C64>,
    pub signal: Mat<C64>,
}

/// Simulates the echo of the model's target with gain `model.sensing_gain` for the
/// signal `signal` (downlink `X`, `N_a x T`; uplink `S_u`, `N_b x T`), adding noise
/// `CN(0, noise_variance)` per entry (seeded; `0` for the noiseless echo). The mean is
/// [`observation`] (built from the steering vectors alone).
pub fn simulate_echo(
    model: &NearfieldModel,
    signal: Mat<C64>,
    combiner: Option<&Mat<C64>>,
    noise_variance: f64,
    noise_seed: u64,
) -> Echo {
    let s = &model.scenario;
    let beta = model.sensing_gain;
    let eta = [s.target_angle, s.target_distance, beta.re, beta.im];
    let mean = observation(model, eta, &signal, combiner);
    let slots = signal.ncols();
    let rows = mean.len() / slots.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(noise_seed);
    let sd = (0.5 * noise_variance).sqrt();
    let mut samples = Mat::zeros(rows, slots);
    // observation is vec(Y), column by column
    for t in 0..slots {
        for i in 0..rows {
            let (re, im): (f64, f64) = (
                StandardNormal.sample(&mut rng),
                StandardNormal.sample(&mut rng),
            );
            samples[(i, t)] = mean[t * rows + i] + C64::new(sd * re, sd * im);
        }
    }
    Echo { samples, signal }
}

/// The receive and transmit vectors `(p, q)` of the mode at `(theta, r)` (module doc),
/// with the scenario's wavefronts.
fn echo_vectors(
    model: &NearfieldModel,
    angle: f64,
    distance: f64,
    combiner: Option<&Mat<C64>>,
) -> (Vec<C64>, Vec<C64>) {
    let s = &model.scenario;
    let a = s.mt.steering(angle, distance, s.mt_wavefront);
    let b = s.at.steering(angle, distance, s.at_wavefront);
    match s.mode {
        Mode::Downlink => (b, a),
        Mode::Uplink => (
            match combiner {
                Some(f) => combine(f, &a),
                None => a,
            },
            b,
        ),
    }
}

/// The concentrated likelihood `L(theta, r)` of (22)-(23) (module doc).
pub struct Likelihood<'a> {
    model: &'a NearfieldModel,
    combiner: Option<&'a Mat<C64>>,
    /// `Y Z^H` (receive x transmit).
    cross: Mat<C64>,
    /// Columns `k_j` with `Z Z^H = sum_j k_j k_j^H`.
    factor: Vec<Vec<C64>>,
}

impl<'a> Likelihood<'a> {
    pub fn new(
        model: &'a NearfieldModel,
        echo: &Echo,
        combiner: Option<&'a Mat<C64>>,
    ) -> Result<Self> {
        let cross = &echo.samples * echo.signal.adjoint();
        let gram = &echo.signal * echo.signal.adjoint();
        let (vals, vecs) = hermitian_eigen(&gram).ok_or_else(|| {
            IsacError::Numerical("eigendecomposition of the signal Gram failed".into())
        })?;
        let max = vals.iter().cloned().fold(0.0, f64::max);
        let n = gram.nrows();
        let factor = (0..n)
            .filter(|&k| vals[k] > 1e-12 * max)
            .map(|k| (0..n).map(|i| vecs[(i, k)] * vals[k].sqrt()).collect())
            .collect();
        Ok(Likelihood {
            model,
            combiner,
            cross,
            factor,
        })
    }

    /// `|p^H (Y Z^H) q^*|^2 / (|p|^2 q^T (Z Z^H) q^*)`; 0 outside `|theta| < pi/2, r > 0`.
    pub fn value(&self, angle: f64, distance: f64) -> f64 {
        if !(angle.abs() < 0.5 * PI && distance > 0.0 && distance.is_finite()) {
            return 0.0;
        }
        let (p, q) = echo_vectors(self.model, angle, distance, self.combiner);
        let mut num = C64::new(0.0, 0.0);
        for (i, pi) in p.iter().enumerate() {
            let row: C64 = q
                .iter()
                .enumerate()
                .map(|(j, qj)| self.cross[(i, j)] * qj.conj())
                .sum();
            num += pi.conj() * row;
        }
        let p2: f64 = p.iter().map(|z| z.norm_sqr()).sum();
        let q2: f64 = self
            .factor
            .iter()
            .map(|k| q.iter().zip(k).map(|(a, b)| a * b).sum::<C64>().norm_sqr())
            .sum();
        let den = p2 * q2;
        if den > 0.0 {
            num.norm_sqr() / den
        } else {
            0.0
        }
    }
}

/// Golden-section minimisation of `f` on `[lo, hi]` down to the width `tol`.
fn golden_min(mut lo: f64, mut hi: f64, tol: f64, f: impl Fn(f64) -> f64) -> f64 {
    let g = 0.5 * (5f64.sqrt() - 1.0);
    let mut a = hi - g * (hi - lo);
    let mut b = lo + g * (hi - lo);
    let (mut fa, mut fb) = (f(a), f(b));
    while hi - lo > tol {
        if fa > fb {
            lo = a;
            a = b;
            fa = fb;
            b = lo + g * (hi - lo);
            fb = f(b);
        } else {
            hi = b;
            b = a;
            fb = fa;
            a = hi - g * (hi - lo);
            fa = f(a);
        }
    }
    0.5 * (lo + hi)
}

/// Minimises `f` on `[lo, hi]`: `points` grid points `lo + (i + 1/2) h`, then golden
/// section on `[x_best - h, x_best + h]` (within `[lo, hi]`) to `1e-13 (hi - lo)`.
pub fn grid_then_refine(lo: f64, hi: f64, points: usize, f: impl Fn(f64) -> f64) -> f64 {
    let n = points.max(2);
    let h = (hi - lo) / n as f64;
    let mut best = (f64::INFINITY, lo + 0.5 * h);
    for i in 0..n {
        let x = lo + (i as f64 + 0.5) * h;
        let v = f(x);
        if v < best.0 {
            best = (v, x);
        }
    }
    let (a, b) = ((best.1 - h).max(lo), (best.1 + h).min(hi));
    let x = golden_min(a, b, 1e-13 * (hi - lo), &f);
    if f(x) <= best.0 {
        x
    } else {
        best.1
    }
}

/// Nelder–Mead minimisation in 2-D from `start` with initial steps `step` (standard
/// coefficients: reflection 1, expansion 2, contraction 1/2, shrink 1/2). Stops when
/// every vertex is within `tol` steps of the best one (or after 2000 iterations), then
/// restarts once from the best point with steps `step / 100` (a collapsed simplex is
/// the method's known failure).
pub fn nelder_mead(
    f: impl Fn([f64; 2]) -> f64,
    start: [f64; 2],
    step: [f64; 2],
    tol: f64,
) -> [f64; 2] {
    let mut x = start;
    for round in 0..2 {
        let s = if round == 0 {
            step
        } else {
            [step[0] * 1e-2, step[1] * 1e-2]
        };
        let mut v = [x, [x[0] + s[0], x[1]], [x[0], x[1] + s[1]]];
        let mut fv = [f(v[0]), f(v[1]), f(v[2])];
        for _ in 0..2000 {
            // order: v[0] best, v[2] worst
            let mut idx = [0, 1, 2];
            idx.sort_by(|&i, &j| fv[i].total_cmp(&fv[j]));
            v = [v[idx[0]], v[idx[1]], v[idx[2]]];
            fv = [fv[idx[0]], fv[idx[1]], fv[idx[2]]];
            let size = (1..3)
                .map(|k| {
                    ((v[k][0] - v[0][0]) / step[0])
                        .abs()
                        .max(((v[k][1] - v[0][1]) / step[1]).abs())
                })
                .fold(0.0, f64::max);
            if size < tol {
                break;
            }
            let c = [0.5 * (v[0][0] + v[1][0]), 0.5 * (v[0][1] + v[1][1])];
            let along = |t: f64| [c[0] + t * (v[2][0] - c[0]), c[1] + t * (v[2][1] - c[1])];
            let r = along(-1.0);
            let fr = f(r);
            if fr < fv[0] {
                let e = along(-2.0);
                let fe = f(e);
                if fe < fr {
                    v[2] = e;
                    fv[2] = fe;
                } else {
                    v[2] = r;
                    fv[2] = fr;
                }
            } else if fr < fv[1] {
                v[2] = r;
                fv[2] = fr;
            } else {
                let (k, fk) = if fr < fv[2] {
                    let k = along(-0.5);
                    (k, f(k))
                } else {
                    let k = along(0.5);
                    (k, f(k))
                };
                if fk < fv[2].min(fr) {
                    v[2] = k;
                    fv[2] = fk;
                } else {
                    for i in 1..3 {
                        v[i] = [
                            v[0][0] + 0.5 * (v[i][0] - v[0][0]),
                            v[0][1] + 0.5 * (v[i][1] - v[0][1]),
                        ];
                        fv[i] = f(v[i]);
                    }
                }
            }
        }
        let best = (0..3).min_by(|&i, &j| fv[i].total_cmp(&fv[j])).unwrap_or(0);
        x = v[best];
    }
    x
}

/// The signal eigenvector `u_s` (largest eigenvalue) and the noise subspace `U_n` (the
/// other eigenvectors, as columns) of `R_y = Y Y^H / T`: the echo (13)/(19) has rank
/// one, so the noise subspace has dimension `N - 1` (Sections III-A, IV-A).
pub fn subspaces(samples: &Mat<C64>) -> Result<(Vec<C64>, Mat<C64>)> {
    let t = samples.ncols().max(1) as f64;
    let ry = Mat::from_fn(samples.nrows(), samples.nrows(), |i, j| {
        (0..samples.ncols())
            .map(|c| samples[(i, c)] * samples[(j, c)].conj())
            .sum::<C64>()
            / t
    });
    let (_, vecs) = hermitian_eigen(&ry)
        .ok_or_else(|| IsacError::Numerical("eigendecomposition of R_y failed".into()))?;
    let n = ry.nrows();
    let signal = (0..n).map(|i| vecs[(i, n - 1)]).collect();
    let noise = Mat::from_fn(n, n - 1, |i, k| vecs[(i, k)]);
    Ok((signal, noise))
}

/// The MUSIC cost (20) `b(theta)^H U_n U_n^H b(theta) = sum_k |u_k^H b(theta)|^2` over the
/// noise eigenvectors (no cancellation against `|b|^2`).
fn music_cost(noise: &Mat<C64>, b: &[C64]) -> f64 {
    (0..noise.ncols())
        .map(|k| {
            b.iter()
                .enumerate()
                .map(|(i, bi)| noise[(i, k)].conj() * bi)
                .sum::<C64>()
                .norm_sqr()
        })
        .sum()
}

/// Downlink Algorithm 1 (Section III-A). Stage 1: `theta = argmin b(theta)^H U_n U_n^H
/// b(theta)` (20) with the AT's far-field response (8), `grid` points over
/// `(-90, 90)` degrees then golden section. Stage 2: `r = argmax L(theta, r)` (23), grid
/// uniform in `1/r` over [`distance_range`], then golden section.
pub fn downlink_two_stage(model: &NearfieldModel, echo: &Echo, grid: usize) -> Result<Position> {
    let s = &model.scenario;
    let (_, noise) = subspaces(&echo.samples)?;
    let half = 0.5 * PI * (1.0 - 1e-9);
    let angle = grid_then_refine(-half, half, grid, |t| {
        music_cost(&noise, &s.at.steering(t, 1.0, Wavefront::Far))
    });
    let likelihood = Likelihood::new(model, echo, None)?;
    let [r_min, r_max] = distance_range(&s.mt);
    let inverse = grid_then_refine(1.0 / r_max, 1.0 / r_min, grid, |u| {
        -likelihood.value(angle, 1.0 / u)
    });
    Ok(Position {
        angle,
        distance: 1.0 / inverse,
    })
}

/// The symmetric split of an `N`-element Fresnel response (docs/nearfield-positioning.md):
/// with `c = (N - 1)/2` and `m_n = n - c`, the phase `n vartheta - n^2 phi`
/// (`vartheta = k d sin theta`, `phi = k d^2 cos^2 theta / (2r)`) is
/// `const + m_n vartheta' - m_n^2 phi` with `vartheta' = vartheta - (N - 1) phi`.
#[derive(Debug, Clone)]
pub struct SymmetricSplit {
    /// `m_n = n - (N - 1)/2`.
    pub offsets: Vec<f64>,
    /// Group of element `n`: the index of `m_n^2` among the distinct squares (`T`).
    pub groups: Vec<usize>,
    /// The distinct `m^2`, ascending (`ceil(N/2)` of them).
    pub squares: Vec<f64>,
    /// Elements per group (the diagonal of `T^T T`).
    pub counts: Vec<f64>,
}

impl SymmetricSplit {
    pub fn new(elements: usize) -> Self {
        let n = elements;
        let c = 0.5 * (n as f64 - 1.0);
        let offsets: Vec<f64> = (0..n).map(|i| i as f64 - c).collect();
        // |2 m_n| = |2n - (N - 1)| is an integer of the parity of N - 1
        let groups: Vec<usize> = (0..n)
            .map(|i| ((2 * i) as i64 - (n as i64 - 1)).unsigned_abs() as usize / 2)
            .collect();
        let g = n.div_ceil(2);
        let mut squares = vec![0.0; g];
        let mut counts = vec![0.0; g];
        for (i, &j) in groups.iter().enumerate() {
            squares[j] = offsets[i] * offsets[i];
            counts[j] += 1.0;
        }
        SymmetricSplit {
            offsets,
            groups,
            squares,
            counts,
        }
    }

    /// `c(vartheta')_n = exp(j m_n vartheta')`.
    pub fn linear(&self, vartheta: f64) -> Vec<C64> {
        self.offsets
            .iter()
            .map(|m| C64::from_polar(1.0, m * vartheta))
            .collect()
    }

    /// `d_red(phi)_j = exp(-j m_j^2 phi)`.
    pub fn quadratic(&self, phi: f64) -> Vec<C64> {
        self.squares
            .iter()
            .map(|q| C64::from_polar(1.0, -q * phi))
            .collect()
    }

    /// `g = T^T diag(c(vartheta'))^H w` for `w = F u_s`.
    pub fn fold(&self, vartheta: f64, w: &[C64]) -> Vec<C64> {
        let mut g = vec![C64::new(0.0, 0.0); self.squares.len()];
        for (i, wi) in w.iter().enumerate() {
            g[self.groups[i]] += C64::from_polar(1.0, -self.offsets[i] * vartheta) * wi;
        }
        g
    }
}

/// `F v` (`N_a x N_RF` times `N_RF`); `v` itself for `F = I` (`None`).
fn expand(combiner: Option<&Mat<C64>>, v: &[C64]) -> Vec<C64> {
    match combiner {
        Some(f) => (0..f.nrows())
            .map(|r| (0..f.ncols()).map(|c| f[(r, c)] * v[c]).sum())
            .collect(),
        None => v.to_vec(),
    }
}

/// The noise projector lifted to the MT, `F U_n U_n^H F^H = F F^H - (F u_s)(F u_s)^H`
/// (`N_a x N_a`; `U_n U_n^H = I - u_s u_s^H` in the `N_RF`-dimensional combined space).
fn lifted_noise_projector(signal: &[C64], combiner: Option<&Mat<C64>>, n_a: usize) -> Mat<C64> {
    let w = expand(combiner, signal);
    Mat::from_fn(n_a, n_a, |i, j| {
        let ffh = match combiner {
            Some(f) => (0..f.ncols()).map(|c| f[(i, c)] * f[(j, c)].conj()).sum(),
            None => C64::new(if i == j { 1.0 } else { 0.0 }, 0.0),
        };
        ffh - w[i] * w[j].conj()
    })
}

/// `Gamma(vartheta)` of (45) as printed: `diag(c)^H F U_n U_n^H F^H diag(c)` with
/// `c_n = exp(j n vartheta)`, `n = 0..N_a-1` (the first element as phase reference),
/// `N_a x N_a`. Its rank is at most `N_RF - 1 < N_a`, so it is singular for every
/// `vartheta` and (48)-(49) are undefined (docs/nearfield-positioning.md#degeneracy).
pub fn printed_gamma(
    signal: &[C64],
    combiner: Option<&Mat<C64>>,
    n_a: usize,
    vartheta: f64,
) -> Mat<C64> {
    let p = lifted_noise_projector(signal, combiner, n_a);
    let c: Vec<C64> = (0..n_a)
        .map(|n| C64::from_polar(1.0, n as f64 * vartheta))
        .collect();
    Mat::from_fn(n_a, n_a, |i, j| c[i].conj() * p[(i, j)] * c[j])
}

/// `Gamma_red(vartheta') = T^T diag(c)^H F U_n U_n^H F^H diag(c) T` of the symmetric
/// split (`ceil(N_a/2)` square), formed explicitly.
pub fn reduced_gamma(
    split: &SymmetricSplit,
    signal: &[C64],
    combiner: Option<&Mat<C64>>,
    vartheta: f64,
) -> Mat<C64> {
    let n_a = split.offsets.len();
    let p = lifted_noise_projector(signal, combiner, n_a);
    let c = split.linear(vartheta);
    let g = split.squares.len();
    let mut out = Mat::zeros(g, g);
    for i in 0..n_a {
        for j in 0..n_a {
            out[(split.groups[i], split.groups[j])] += c[i].conj() * p[(i, j)] * c[j];
        }
    }
    out
}

/// The stage-1 spectrum (49) of the symmetric split, `e^H Gamma_red^{-1} e` with `e` the
/// group of the smallest `m^2` (the phase reference). For `F F^H = I` (fully digital),
/// `Gamma_red = M - g g^H` with `M = T^T T` diagonal and `g = T^T diag(c)^H F u_s`, and
/// Sherman–Morrison gives
/// `e^H Gamma_red^{-1} e = 1/M_ee + |g_e / M_ee|^2 / (1 - g^H M^{-1} g)`.
/// `+inf` where `Gamma_red` is (numerically) singular.
pub fn reduced_spectrum(split: &SymmetricSplit, folded_signal: &[C64]) -> f64 {
    let m = &split.counts;
    let quad: f64 = folded_signal
        .iter()
        .zip(m)
        .map(|(g, c)| g.norm_sqr() / c)
        .sum();
    let denom = 1.0 - quad;
    if denom <= 0.0 {
        return f64::INFINITY;
    }
    1.0 / m[0] + (folded_signal[0] / m[0]).norm_sqr() / denom
}

/// Maps the searched `(vartheta', phi)` of the symmetric split back to `(theta, r)` (51):
/// `sin theta = (vartheta' + (N_a - 1) phi) / (k d)` with the argument wrapped into
/// `[-pi, pi)` (the spectrum has period `2 pi` in `vartheta'`; for `d <= lambda/2` one
/// branch is visible), `r = k d^2 cos^2 theta / (2 phi)` clamped to `range`.
fn split_to_position(mt: &LinearArray, vartheta: f64, phi: f64, range: [f64; 2]) -> Position {
    let kd = mt.wavenumber * mt.spacing;
    let x = vartheta + (mt.elements as f64 - 1.0) * phi;
    let x = x - 2.0 * PI * (x / (2.0 * PI)).round();
    let sin = (x / kd).clamp(-1.0 + 1e-12, 1.0 - 1e-12);
    let angle = sin.asin();
    let cos2 = 1.0 - sin * sin;
    let distance = if phi > 0.0 {
        (mt.wavenumber * mt.spacing * mt.spacing * cos2 / (2.0 * phi)).clamp(range[0], range[1])
    } else {
        range[1]
    };
    Position { angle, distance }
}

/// Uplink Algorithm 3 (Section IV-A) with the symmetric split
/// (docs/nearfield-positioning.md#uplink). `combiner` is the MT's `F` (`None`: fully
/// digital, `F = I`; otherwise `F^H F = I` is assumed, as (15) states for (1)).
///
/// - `N_RF - 1 >= ceil(N_a/2)`: stage 1 `vartheta' = argmax e^H Gamma_red^{-1} e` (49)
///   over one period `[-pi, pi)`; stage 2 `phi = argmin d_red(phi)^H
///   Gamma_red(vartheta') d_red(phi)` (50) over `phi` in `[k d^2 cos^2 theta_0 / (2 r_max),
///   k d^2 / (2 r_min)]`; then (51). Grids of `grid` points and golden section.
/// - otherwise `Gamma_red` is singular for every angle; fallback: a 2-D grid of the
///   MUSIC spectrum `|a~^H u_s|^2 / |a~|^2` over angle x `1/r`, then Nelder–Mead.
pub fn uplink_two_stage(
    model: &NearfieldModel,
    echo: &Echo,
    combiner: Option<&Mat<C64>>,
    grid: usize,
) -> Result<(Position, EstimatorPath)> {
    let s = &model.scenario;
    let mt = &s.mt;
    let n_a = mt.elements;
    let n_rf = echo.samples.nrows();
    let (signal, _) = subspaces(&echo.samples)?;
    let range = distance_range(mt);
    let split = SymmetricSplit::new(n_a);
    if n_rf < 2 || n_rf - 1 < split.squares.len() {
        return Ok((
            grid_music(model, &signal, combiner, grid, range),
            EstimatorPath::GridMusic,
        ));
    }
    let w = expand(combiner, &signal);
    let identity_like = combiner.is_none();
    // stage 1 (49): maximise e^H Gamma_red^{-1} e, i.e. minimise its reciprocal
    let stage1 = |vt: f64| -> f64 {
        let inv_e = if identity_like {
            reduced_spectrum(&split, &split.fold(vt, &w))
        } else {
            let gamma = reduced_gamma(&split, &signal, combiner, vt);
            let mut e = vec![C64::new(0.0, 0.0); split.squares.len()];
            e[0] = C64::new(1.0, 0.0);
            match hermitian_solve(&gamma, &e) {
                Some(x) => x[0].re,
                None => f64::INFINITY,
            }
        };
        1.0 / inv_e
    };
    let vartheta = grid_then_refine(-PI, PI, grid, stage1);
    // stage 2 (50): minimise d_red^H Gamma_red d_red; with Gamma_red = T^T diag(c)^H F F^H
    // diag(c) T - g g^H and F F^H = I this is sum(M) - |g^H d_red|^2
    let g = split.fold(vartheta, &w);
    let gamma = (!identity_like).then(|| reduced_gamma(&split, &signal, combiner, vartheta));
    let stage2 = |phi: f64| -> f64 {
        let d = split.quadratic(phi);
        match &gamma {
            None => -g
                .iter()
                .zip(&d)
                .map(|(gj, dj)| gj.conj() * dj)
                .sum::<C64>()
                .norm_sqr(),
            Some(gm) => {
                let mut v = C64::new(0.0, 0.0);
                for i in 0..d.len() {
                    for j in 0..d.len() {
                        v += d[i].conj() * gm[(i, j)] * d[j];
                    }
                }
                v.re
            }
        }
    };
    let kd2 = mt.wavenumber * mt.spacing * mt.spacing;
    let theta0 = split_to_position(mt, vartheta, 0.0, range).angle;
    let phi_lo = kd2 * theta0.cos().powi(2) / (2.0 * range[1]);
    let phi_hi = kd2 / (2.0 * range[0]);
    let phi = grid_then_refine(phi_lo, phi_hi, grid, stage2);
    Ok((
        split_to_position(mt, vartheta, phi, range),
        EstimatorPath::ReducedMusic,
    ))
}

/// Angular and `1/r` resolution cells of the MT at `theta`: `2 / (N_a cos theta)` rad and
/// `4 pi / (k D^2 cos^2 theta)` (the `1/r` change that turns the Fresnel phase (5) at the
/// aperture edge by `2 pi`).
fn resolution(mt: &LinearArray, angle: f64) -> [f64; 2] {
    let c = angle.cos().abs().max(0.05);
    let d = mt.aperture().max(mt.spacing);
    [
        2.0 / (mt.elements as f64 * c),
        4.0 * PI / (mt.wavenumber * d * d * c * c),
    ]
}

/// The uplink fallback: the 2-D MUSIC spectrum `|a~^H u_s|^2 / |a~|^2`, `a~ = F^H a(theta,
/// r)` (the noise-projection cost normalised by `|a~|^2`), maximised over a grid of
/// `grid` angles x `1/r` points (8 per resolution cell, at least 16), then Nelder–Mead.
fn grid_music(
    model: &NearfieldModel,
    signal: &[C64],
    combiner: Option<&Mat<C64>>,
    grid: usize,
    range: [f64; 2],
) -> Position {
    let s = &model.scenario;
    let spectrum = |t: f64, r: f64| -> f64 {
        if !(t.abs() < 0.5 * PI && r > 0.0) {
            return 0.0;
        }
        let a = s.mt.steering(t, r, s.mt_wavefront);
        let at = match combiner {
            Some(f) => combine(f, &a),
            None => a,
        };
        let n: f64 = at.iter().map(|z| z.norm_sqr()).sum();
        if n <= 0.0 {
            return 0.0;
        }
        at.iter()
            .zip(signal)
            .map(|(x, u)| x.conj() * u)
            .sum::<C64>()
            .norm_sqr()
            / n
    };
    let (u_lo, u_hi) = (1.0 / range[1], 1.0 / range[0]);
    let cell = resolution(&s.mt, 0.0)[1];
    let nu = ((8.0 * (u_hi - u_lo) / cell).ceil() as usize).clamp(16, grid.max(16));
    let half = 0.5 * PI * (1.0 - 1e-9);
    let nt = grid.max(2);
    let mut best = (f64::NEG_INFINITY, 0.0, 1.0 / range[0]);
    for i in 0..nt {
        let t = -half + (i as f64 + 0.5) * 2.0 * half / nt as f64;
        for j in 0..nu {
            let u = u_lo + (j as f64 + 0.5) * (u_hi - u_lo) / nu as f64;
            let v = spectrum(t, 1.0 / u);
            if v > best.0 {
                best = (v, t, u);
            }
        }
    }
    let res = resolution(&s.mt, best.1);
    let x = nelder_mead(
        |x| -spectrum(x[0], 1.0 / x[1]),
        [best.1, best.2],
        [0.1 * res[0], 0.1 * res[1]],
        1e-9,
    );
    Position {
        angle: x[0],
        distance: (1.0 / x[1]).clamp(range[0], range[1]),
    }
}

/// Joint ML refinement: maximises the concentrated likelihood `L(theta, 1/u)` (22)-(23)
/// over `(theta, u = 1/r)` jointly within the search box `|theta| < pi/2`, `r` in
/// [`distance_range`] (without the box, at low SNR the simplex walks off to
/// `r -> infinity`). Two steps:
///
/// 1. a local grid: angles within one resolution cell `2 / (N cos theta)` of the
///    coarser array (`N = min(N_a, N_b)`: the angular uncertainty of the downlink's AT
///    MUSIC) around `start`, spaced an eighth of the MT's cell, times `1/r` over the whole
///    box, eight points per `1/r` cell ([`resolution`]); `start` itself is a candidate.
///    The likelihood is multimodal within a cell when the design's beam has a null at
///    the target (the CRB-optimal downlink covariance does, docs/nearfield-positioning.md),
///    and a simplex started from the two-stage estimate then stops on a side peak;
/// 2. Nelder–Mead from the best candidate, initial steps a tenth of the MT's cell,
///    stopping at `1e-9` steps.
///
/// This is the estimator that attains the CRB at high SNR: the CRB counts the
/// information of both arrays and of the known signal, which the two-stage estimators
/// partly ignore.
pub fn ml_refine(likelihood: &Likelihood, start: Position) -> Position {
    let s = &likelihood.model.scenario;
    let mt = &s.mt;
    let [r_min, r_max] = distance_range(mt);
    let (u_lo, u_hi) = (1.0 / r_max, 1.0 / r_min);
    let cost = |x: [f64; 2]| -> f64 {
        // outside the box: the worst value (L >= 0)
        if !(x[1] >= u_lo && x[1] <= u_hi) {
            return 0.0;
        }
        -likelihood.value(x[0], 1.0 / x[1])
    };
    let res = resolution(mt, start.angle);
    let coarse = s.mt.elements.min(s.at.elements).max(1) as f64;
    let half_width = 2.0 / (coarse * start.angle.cos().abs().max(0.05));
    let nt = ((2.0 * half_width / (res[0] / 8.0)).ceil() as usize).clamp(8, 512);
    let nu = ((8.0 * (u_hi - u_lo) / resolution(mt, 0.0)[1]).ceil() as usize).clamp(8, 512);
    let mut best_x = [start.angle, (1.0 / start.distance).clamp(u_lo, u_hi)];
    let mut best = cost(best_x);
    for i in 0..=nt {
        let t = start.angle - half_width + 2.0 * half_width * i as f64 / nt as f64;
        if t.abs() >= 0.5 * PI {
            continue;
        }
        for j in 0..nu {
            let u = u_lo + (j as f64 + 0.5) * (u_hi - u_lo) / nu as f64;
            let v = cost([t, u]);
            if v < best {
                best = v;
                best_x = [t, u];
            }
        }
    }
    let x = nelder_mead(cost, best_x, [0.1 * res[0], 0.1 * res[1]], 1e-9);
    Position {
        angle: x[0],
        distance: 1.0 / x[1],
    }
}

/// One positioning run on an echo: the two-stage estimate of the mode's algorithm and
/// its ML refinement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Positioning {
    pub two_stage: Position,
    pub refined: Position,
    pub path: EstimatorPath,
}

/// Runs the mode's two-stage algorithm and the joint ML refinement on an echo.
pub fn locate(
    model: &NearfieldModel,
    echo: &Echo,
    combiner: Option<&Mat<C64>>,
    grid: usize,
) -> Result<Positioning> {
    let (two_stage, path) = match model.scenario.mode {
        Mode::Downlink => (
            downlink_two_stage(model, echo, grid)?,
            EstimatorPath::MusicMle,
        ),
        Mode::Uplink => uplink_two_stage(model, echo, combiner, grid)?,
    };
    let likelihood = Likelihood::new(model, echo, combiner)?;
    let refined = ml_refine(&likelihood, two_stage);
    Ok(Positioning {
        two_stage,
        refined,
        path,
    })
}

/// RMSEs of a Monte Carlo run (radians and metres).
#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarlo {
    pub trials: usize,
    /// Two-stage (the paper's algorithm).
    pub rmse_angle: f64,
    pub rmse_distance: f64,
    /// After the joint ML refinement.
    pub rmse_angle_ml: f64,
    pub rmse_distance_ml: f64,
    pub path: EstimatorPath,
}

/// Seeds `(signal, noise)` of trial `t` of an instance seeded `seed`.
pub fn trial_seeds(seed: u64, trial: usize) -> (u64, u64) {
    let base = splitmix64(splitmix64(seed ^ TRIAL_STREAM) ^ trial as u64);
    (splitmix64(base ^ 1), splitmix64(base ^ 2))
}

/// `trials` seeded trials on the transmit covariance `covariance` (downlink `R_x`,
/// uplink `R_u`): per trial a signal with `Z Z^H / T = covariance` exactly
/// ([`signal_with_covariance`], so the CRB of every realised signal is the bound of
/// `covariance`), the echo with the model's gain and noise, and [`locate`]. Trials run in
/// parallel and are reduced in index order: the result does not depend on the thread
/// count.
pub fn monte_carlo(
    model: &NearfieldModel,
    covariance: &Mat<C64>,
    combiner: Option<&Mat<C64>>,
    trials: usize,
    grid: usize,
    seed: u64,
) -> Result<MonteCarlo> {
    let s = &model.scenario;
    let runs: Vec<Result<Positioning>> = (0..trials)
        .into_par_iter()
        .map(|t| {
            let (signal_seed, noise_seed) = trial_seeds(seed, t);
            let signal =
                signal_with_covariance(covariance, s.slots, signal_seed).ok_or_else(|| {
                    IsacError::input(
                    "slots",
                    "the Monte Carlo needs T (slots) at least the rank of the transmit covariance",
                )
                })?;
            let echo = simulate_echo(model, signal, combiner, s.noise, noise_seed);
            locate(model, &echo, combiner, grid)
        })
        .collect();
    let mut sums = [0.0; 4];
    let mut path = EstimatorPath::MusicMle;
    for run in runs {
        let p = run?;
        path = p.path;
        sums[0] += (p.two_stage.angle - s.target_angle).powi(2);
        sums[1] += (p.two_stage.distance - s.target_distance).powi(2);
        sums[2] += (p.refined.angle - s.target_angle).powi(2);
        sums[3] += (p.refined.distance - s.target_distance).powi(2);
    }
    let n = trials.max(1) as f64;
    Ok(MonteCarlo {
        trials,
        rmse_angle: (sums[0] / n).sqrt(),
        rmse_distance: (sums[1] / n).sqrt(),
        rmse_angle_ml: (sums[2] / n).sqrt(),
        rmse_distance_ml: (sums[3] / n).sqrt(),
        path,
    })
}
