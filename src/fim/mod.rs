//! Fisher information: the numerical Slepian–Bangs FIM, nuisance reduction,
//! CRB and reparametrisation.
//!
//! For a complex Gaussian observation `y ~ CN(mu(theta), sigma^2 I)` with real
//! parameters `theta`, the FIM is (Slepian–Bangs, Kay Vol. I (15.52))
//! `J_ij = 2 / sigma^2 * Re(dmu/dtheta_i^H dmu/dtheta_j)`.
//!
//! **Continuous-time convention** (backscatter and multi-static systems): the observation
//! is sampled with spacing `dt` and per-sample noise variance `sigma^2`, and the sum over
//! samples is replaced by its integral, `J = 2/(sigma^2 dt) int Re(dmu^H dmu) dt`. This is
//! what the sum-to-integral steps (57)-(59) of backscatter-isac.md compute. When the mean is
//! linear in i.i.d. symbols with covariance `R`, the FIM is taken in expectation over the
//! symbols (see [`continuous_time_fim`] and the callers' symbol bases).

pub mod ofdm;

use crate::linalg::{hermitian_sqrt, spd_inverse};
use crate::C64;
use faer::Mat;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::ops::Range;

/// FIM of a sampled observation: `J = 2/sigma^2 Re(D^H D)`, where `dmu[i]` is the
/// derivative of the stacked mean with respect to parameter `i`.
pub fn slepian_bangs(dmu: &[Vec<C64>], noise_variance: f64) -> Mat<f64> {
    let p = dmu.len();
    let mut j = Mat::zeros(p, p);
    for a in 0..p {
        for b in a..p {
            let v: f64 = dmu[a]
                .iter()
                .zip(&dmu[b])
                .map(|(x, y)| (x.conj() * y).re)
                .sum::<f64>()
                * 2.0
                / noise_variance;
            j[(a, b)] = v;
            j[(b, a)] = v;
        }
    }
    j
}

/// Continuous-time FIM `J = 2/(sigma^2 dt) int Re(dmu(t)^H dmu(t)) dt` by quadrature.
///
/// `nodes` are `(t, weight)` pairs of a quadrature rule covering the observation;
/// `mean_derivatives(t, out)` writes `dmu/dtheta_i (t)` into `out[i]` (each of length of the
/// observation vector, e.g. the receive antennas). `out` is allocated once.
pub fn continuous_time_fim(
    parameters: usize,
    observation_len: usize,
    nodes: &[(f64, f64)],
    noise_variance: f64,
    sample_spacing: f64,
    mut mean_derivatives: impl FnMut(f64, &mut [Vec<C64>]),
) -> Mat<f64> {
    let mut out = vec![vec![C64::new(0.0, 0.0); observation_len]; parameters];
    let mut j = Mat::<f64>::zeros(parameters, parameters);
    for &(t, w) in nodes {
        for v in out.iter_mut() {
            v.iter_mut().for_each(|z| *z = C64::new(0.0, 0.0));
        }
        mean_derivatives(t, &mut out);
        for a in 0..parameters {
            for b in a..parameters {
                let re: f64 = out[a]
                    .iter()
                    .zip(&out[b])
                    .map(|(x, y)| (x.conj() * y).re)
                    .sum();
                j[(a, b)] += w * re;
            }
        }
    }
    let scale = 2.0 / (noise_variance * sample_spacing);
    for a in 0..parameters {
        for b in a..parameters {
            let v = j[(a, b)] * scale;
            j[(a, b)] = v;
            j[(b, a)] = v;
        }
    }
    j
}

/// How the expectation over i.i.d. symbols `x[n] ~ CN(0, R)` is taken by
/// [`expected_over_symbols`].
#[derive(Debug, Clone, Copy)]
pub enum SymbolExpectation {
    /// Exact: a FIM of a mean linear in the symbols is quadratic in them, and different
    /// symbols are uncorrelated, so `E[J] = sum_n sum_k J(x[n] = R^{1/2} e_k, others 0)`.
    Exact,
    /// Monte Carlo over `draws` sequences `x[n] = R^{1/2} w[n]`, `w ~ CN(0, I)`, seeded.
    MonteCarlo { draws: usize, seed: u64 },
}

/// Expectation over the symbols of a FIM that is quadratic in a sequence of `symbols`
/// i.i.d. vectors with covariance `covariance`. `realization(x, window)` returns the FIM
/// of one known sequence `x` (one vector per symbol) whose nonzero symbols lie in `window`
/// (so the caller can restrict its time grid). Returns `None` if `covariance` is not
/// Hermitian.
pub fn expected_over_symbols(
    covariance: &Mat<C64>,
    symbols: usize,
    expectation: SymbolExpectation,
    mut realization: impl FnMut(&[Vec<C64>], Range<usize>) -> Mat<f64>,
) -> Option<Mat<f64>> {
    let dim = covariance.nrows();
    let half = hermitian_sqrt(covariance)?;
    let zero = vec![C64::new(0.0, 0.0); dim];
    let mut total: Option<Mat<f64>> = None;
    let mut add = |j: Mat<f64>| match total.as_mut() {
        Some(t) => *t += j,
        None => total = Some(j),
    };
    match expectation {
        SymbolExpectation::Exact => {
            for n in 0..symbols {
                for k in 0..dim {
                    let mut x = vec![zero.clone(); symbols];
                    x[n] = (0..dim).map(|a| half[(a, k)]).collect();
                    add(realization(&x, n..n + 1));
                }
            }
        }
        SymbolExpectation::MonteCarlo { draws, seed } => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            for _ in 0..draws {
                let x: Vec<Vec<C64>> = (0..symbols)
                    .map(|_| {
                        let w: Vec<C64> = (0..dim)
                            .map(|_| {
                                let re: f64 = StandardNormal.sample(&mut rng);
                                let im: f64 = StandardNormal.sample(&mut rng);
                                C64::new(re, im) * std::f64::consts::FRAC_1_SQRT_2
                            })
                            .collect();
                        (0..dim)
                            .map(|a| (0..dim).map(|b| half[(a, b)] * w[b]).sum())
                            .collect()
                    })
                    .collect();
                add(realization(&x, 0..symbols));
            }
            if let Some(t) = total.as_mut() {
                *t *= faer::Scale(1.0 / draws.max(1) as f64);
            }
        }
    }
    total
}

/// Largest entrywise difference of two FIMs relative to the diagonal scale of `reference`:
/// `max_ij |A_ij - B_ij| / sqrt(B_ii B_jj)` (meaningful across mixed units).
pub fn max_scaled_difference(a: &Mat<f64>, reference: &Mat<f64>) -> f64 {
    let n = a.nrows();
    let mut worst: f64 = 0.0;
    for i in 0..n {
        for j in 0..n {
            let s = (reference[(i, i)] * reference[(j, j)]).sqrt();
            worst = worst.max((a[(i, j)] - reference[(i, j)]).abs() / s);
        }
    }
    worst
}

/// Equilibrated inverse of a FIM: `J^{-1} = D (D J D)^{-1} D` with `D = diag(J_ii^{-1/2})`.
/// FIMs mix units (seconds and radians give diagonals 20 orders apart), so the plain
/// Cholesky of `J` would lose precision. `None` when `J` is singular or not positive definite.
pub fn crb_matrix(j: &Mat<f64>) -> Option<Mat<f64>> {
    let n = j.nrows();
    let d: Vec<f64> = (0..n).map(|i| j[(i, i)]).collect();
    if d.iter().any(|&x| !(x > 0.0) || !x.is_finite()) {
        return None;
    }
    let s: Vec<f64> = d.iter().map(|x| 1.0 / x.sqrt()).collect();
    let scaled = Mat::from_fn(n, n, |a, b| j[(a, b)] * s[a] * s[b]);
    let inv = spd_inverse(&scaled)?;
    // reject numerically singular matrices: cond of the equilibrated matrix too large
    let max_inv = (0..n).map(|i| inv[(i, i)]).fold(0.0, f64::max);
    if !(max_inv < 1e13) {
        return None;
    }
    Some(Mat::from_fn(n, n, |a, b| inv[(a, b)] * s[a] * s[b]))
}

/// Trace of the CRB matrix, `+inf` when the FIM is singular.
pub fn crb_trace(j: &Mat<f64>) -> f64 {
    match crb_matrix(j) {
        Some(c) => (0..c.nrows()).map(|i| c[(i, i)]).sum(),
        None => f64::INFINITY,
    }
}

/// Schur-complement reduction of nuisance parameters: the equivalent FIM of the kept
/// parameters, `J_kk - J_kn J_nn^{-1} J_nk` (its inverse is the kept block of `J^{-1}`).
pub fn schur_reduce(j: &Mat<f64>, keep: &[usize]) -> Option<Mat<f64>> {
    let n = j.nrows();
    let nuis: Vec<usize> = (0..n).filter(|i| !keep.contains(i)).collect();
    let k = keep.len();
    let jkk = Mat::from_fn(k, k, |a, b| j[(keep[a], keep[b])]);
    if nuis.is_empty() {
        return Some(jkk);
    }
    let m = nuis.len();
    let jnn = Mat::from_fn(m, m, |a, b| j[(nuis[a], nuis[b])]);
    let jkn = Mat::from_fn(k, m, |a, b| j[(keep[a], nuis[b])]);
    let inv = crb_matrix(&jnn)?;
    let corr = &jkn * &inv * jkn.transpose();
    Some(Mat::from_fn(k, k, |a, b| jkk[(a, b)] - corr[(a, b)]))
}

/// FIM in new parameters `eta` when the old ones are `theta(eta)`:
/// `J_eta = G^T J_theta G` with `G = d theta / d eta` (rows: old, columns: new).
pub fn reparametrize(j: &Mat<f64>, jacobian: &Mat<f64>) -> Mat<f64> {
    jacobian.transpose() * j * jacobian
}

/// CRB of a function `f(theta)`: `F C F^T` with `F = d f / d theta`.
pub fn transform_crb(crb: &Mat<f64>, jacobian: &Mat<f64>) -> Mat<f64> {
    jacobian * crb * jacobian.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::quadrature::gauss_legendre;
    use rand::{Rng, SeedableRng};

    #[test]
    fn single_tone_frequency_fim_matches_textbook() {
        // y[n] = A exp(j w n) + noise, n = 0..N-1, theta = w: J = 2 A^2/s^2 sum n^2
        let (amp, w, nsamp, s2) = (1.3, 0.4, 32usize, 0.5);
        let dmu = vec![(0..nsamp)
            .map(|n| C64::new(0.0, n as f64) * C64::from_polar(amp, w * n as f64))
            .collect::<Vec<_>>()];
        let j = slepian_bangs(&dmu, s2);
        let sum_n2: f64 = (0..nsamp).map(|n| (n * n) as f64).sum();
        assert!((j[(0, 0)] / (2.0 * amp * amp / s2 * sum_n2) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn continuous_time_fim_is_the_limit_of_the_sampled_one() {
        // mu(t) = exp(j 2 pi f t) on [0, T], theta = f
        let (t_end, s2) = (1.0, 2.0);
        let nodes = gauss_legendre(0.0, t_end, 16);
        let jc = continuous_time_fim(1, 1, &nodes, s2, 1e-3, |t, out| {
            out[0][0] = C64::new(0.0, 2.0 * std::f64::consts::PI * t)
                * C64::from_polar(1.0, 2.0 * std::f64::consts::PI * 3.0 * t);
        });
        // 2/(s2 dt) * int (2 pi t)^2 dt = 2/(s2 dt) 4 pi^2 T^3/3
        let exact = 2.0 / (s2 * 1e-3) * 4.0 * std::f64::consts::PI.powi(2) / 3.0;
        assert!((jc[(0, 0)] / exact - 1.0).abs() < 1e-12);
        // sampled at dt = 1e-3 gives the same to O(dt)
        let n = 1000;
        let dmu = vec![(0..n)
            .map(|k| {
                let t = (k as f64 + 0.5) * 1e-3;
                C64::new(0.0, 2.0 * std::f64::consts::PI * t)
            })
            .collect::<Vec<_>>()];
        let js = slepian_bangs(&dmu, s2);
        assert!((js[(0, 0)] / exact - 1.0).abs() < 1e-5);
    }

    fn random_spd(n: usize, seed: u64) -> Mat<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let a = Mat::from_fn(n, n, |_, _| rng.gen_range(-1.0..1.0));
        let mut m = &a * a.transpose();
        for i in 0..n {
            m[(i, i)] += 0.1;
        }
        m
    }

    #[test]
    fn schur_reduction_equals_block_of_inverse() {
        let j = random_spd(5, 3);
        let keep = [0, 3];
        let red = schur_reduce(&j, &keep).unwrap();
        let inv_red = crb_matrix(&red).unwrap();
        let full_inv = crb_matrix(&j).unwrap();
        for a in 0..2 {
            for b in 0..2 {
                assert!((inv_red[(a, b)] - full_inv[(keep[a], keep[b])]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn crb_is_invariant_to_units() {
        // rescaling a parameter by s scales its CRB by s^2
        let j = random_spd(3, 7);
        let s = 1e-9;
        let g = Mat::from_fn(3, 3, |a, b| {
            if a == b {
                if a == 0 {
                    s
                } else {
                    1.0
                }
            } else {
                0.0
            }
        });
        let j2 = reparametrize(&j, &g); // theta_0 = s * eta_0
        let c1 = crb_matrix(&j).unwrap();
        let c2 = crb_matrix(&j2).unwrap();
        assert!((c2[(0, 0)] * s * s / c1[(0, 0)] - 1.0).abs() < 1e-9);
        assert!((c2[(1, 1)] / c1[(1, 1)] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn more_information_never_raises_the_crb() {
        let j = random_spd(4, 11);
        let extra = random_spd(4, 12);
        let sum = Mat::from_fn(4, 4, |a, b| j[(a, b)] + extra[(a, b)]);
        assert!(crb_trace(&sum) <= crb_trace(&j));
    }

    #[test]
    fn singular_fim_gives_infinite_crb() {
        let j = Mat::from_fn(2, 2, |_, _| 1.0);
        assert!(crb_trace(&j).is_infinite());
        let z = Mat::from_fn(2, 2, |a, b| if a == b && a == 0 { 1.0 } else { 0.0 });
        assert!(crb_trace(&z).is_infinite());
    }
}
