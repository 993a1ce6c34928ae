//! Independent computations of the near-field FIM, for the tests and for anyone who
//! wants to check a closed form: the numerical Slepian–Bangs FIM of the sampled signal
//! models (13) and (19) by central differences, and the literal Appendix A / B formulas
//! with the matrices `dG/dtheta`, `dG/dr`.

use super::model::NearfieldModel;
use super::scenario::{FimVariant, Mode};
use crate::fim::slepian_bangs;
use crate::linalg::hermitian_eigen;
use crate::C64;
use faer::Mat;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A signal `X` (`n x T`) whose sample covariance `X X^H / T` equals `covariance`
/// exactly: `X = sqrt(T) V L^{1/2} U` with `covariance = V L V^H` (rank `rho`) and `U`
/// (`rho x T`) random with orthonormal rows (seeded). `None` when the rank exceeds `T`
/// or the eigendecomposition fails. With such an `X` the FIM of the sampled model is
/// exactly the closed form with `R` (the paper's `R_x ~ X X^H / T`, (10), holds with
/// equality), so a Monte Carlo RMSE is compared with the bound of the signal it used.
pub fn signal_with_covariance(covariance: &Mat<C64>, slots: usize, seed: u64) -> Option<Mat<C64>> {
    let n = covariance.nrows();
    let (vals, vecs) = hermitian_eigen(covariance)?;
    let max = vals.iter().cloned().fold(0.0, f64::max);
    let keep: Vec<usize> = (0..n).filter(|&k| vals[k] > 1e-12 * max).collect();
    let rho = keep.len();
    if rho > slots {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<Vec<C64>> = Vec::with_capacity(rho);
    while rows.len() < rho {
        let mut v: Vec<C64> = (0..slots)
            .map(|_| {
                C64::new(
                    StandardNormal.sample(&mut rng),
                    StandardNormal.sample(&mut rng),
                )
            })
            .collect();
        // Gram–Schmidt twice against the accepted rows
        for _ in 0..2 {
            for u in &rows {
                let c: C64 = u.iter().zip(&v).map(|(a, b)| a.conj() * b).sum();
                for (x, a) in v.iter_mut().zip(u) {
                    *x -= c * a;
                }
            }
        }
        let norm = v.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
        if norm > 1e-8 {
            rows.push(v.into_iter().map(|z| z / norm).collect());
        }
    }
    let scale = (slots as f64).sqrt();
    Some(Mat::from_fn(n, slots, |a, t| {
        keep.iter()
            .enumerate()
            .map(|(i, &k)| vecs[(a, k)] * vals[k].sqrt() * rows[i][t])
            .sum::<C64>()
            * scale
    }))
}

/// The noiseless observation of the mode for parameters `eta = [theta, r, Re beta,
/// Im beta]`, stacked column by column: downlink `vec(G^T X)` (13), uplink
/// `vec(F^H G S)` (19), with `G = beta a(theta, r) b(theta)^T` (8) built from the
/// steering vectors alone (no derivative formula is used).
pub fn observation(
    model: &NearfieldModel,
    eta: [f64; 4],
    signal: &Mat<C64>,
    combiner: Option<&Mat<C64>>,
) -> Vec<C64> {
    let s = &model.scenario;
    let a = s.mt.steering(eta[0], eta[1], s.mt_wavefront);
    let b = s.at.steering(eta[0], eta[1], s.at_wavefront);
    let beta = C64::new(eta[2], eta[3]);
    let slots = signal.ncols();
    let mut out = Vec::new();
    match s.mode {
        Mode::Downlink => {
            // column t of G^T X = beta b (a^T x_t)
            for t in 0..slots {
                let at_x: C64 = (0..a.len()).map(|n| a[n] * signal[(n, t)]).sum();
                out.extend(b.iter().map(|bn| beta * bn * at_x));
            }
        }
        Mode::Uplink => {
            let fa = match combiner {
                Some(f) => super::model::combine(f, &a),
                None => a.clone(),
            };
            for t in 0..slots {
                let bt_s: C64 = (0..b.len()).map(|n| b[n] * signal[(n, t)]).sum();
                out.extend(fa.iter().map(|x| beta * x * bt_s));
            }
        }
    }
    out
}

/// The numerical FIM of the sampled model by central differences (steps `1e-6` rad,
/// `1e-6 r`, and `1e-6 |beta|` for the gain, where the mean is linear).
pub fn sampled_fim(
    model: &NearfieldModel,
    signal: &Mat<C64>,
    combiner: Option<&Mat<C64>>,
) -> Mat<f64> {
    let s = &model.scenario;
    let beta = model.sensing_gain;
    let eta = [s.target_angle, s.target_distance, beta.re, beta.im];
    let steps = [1e-6, 1e-6 * eta[1], 1e-6 * beta.norm(), 1e-6 * beta.norm()];
    let dmu: Vec<Vec<C64>> = (0..4)
        .map(|i| {
            let (mut up, mut down) = (eta, eta);
            up[i] += steps[i];
            down[i] -= steps[i];
            let (u, d) = (
                observation(model, up, signal, combiner),
                observation(model, down, signal, combiner),
            );
            u.iter()
                .zip(&d)
                .map(|(x, y)| (x - y) / (2.0 * steps[i]))
                .collect()
        })
        .collect();
    slepian_bangs(&dmu, s.noise)
}

/// `A^T`-free helper: `tr(X^T R Y^*)` for `N x M` matrices `X, Y` and `N x N` `R`.
fn trace_t(x: &Mat<C64>, r: &Mat<C64>, y: &Mat<C64>) -> C64 {
    let (n, m) = (x.nrows(), x.ncols());
    let mut s = C64::new(0.0, 0.0);
    for c in 0..m {
        for i in 0..n {
            for j in 0..n {
                s += x[(i, c)] * r[(i, j)] * y[(j, c)].conj();
            }
        }
    }
    s
}

/// The FIM by the literal formulas of Appendix A (76)-(78) (downlink, `covariance =
/// R_x = F R~ F^H`) or Appendix B (79)-(81) (uplink, `covariance = R_u`), with
/// `G~ = a b^T`, `dG/dtheta = (da/dtheta) b^T + a (db/dtheta)^T`, `dG/dr = (da/dr) b^T`
/// (plus `a (db/dr)^T` when the AT is not far-field). `printed` uses `dG/dtheta` in
/// the second row of (77), as printed.
pub fn appendix_fim(
    model: &NearfieldModel,
    covariance: &Mat<C64>,
    combiner: Option<&Mat<C64>>,
    variant: FimVariant,
) -> Mat<f64> {
    let s = &model.scenario;
    let (a, b) = (&model.mt_response, &model.at_response);
    let outer = |u: &[C64], v: &[C64]| Mat::from_fn(u.len(), v.len(), |i, j| u[i] * v[j]);
    let g = outer(&a.value, &b.value);
    let gt = &outer(&a.d_angle, &b.value) + &outer(&a.value, &b.d_angle);
    let gr = &outer(&a.d_distance, &b.value) + &outer(&a.value, &b.d_distance);
    let beta = model.sensing_gain;
    let scale = 2.0 * s.slots as f64 / s.noise;
    let mut j = Mat::zeros(4, 4);
    // tr-form of each mode: downlink tr(X^T R Y^*); uplink tr(F^H X R Y^H F)
    let form = |x: &Mat<C64>, y: &Mat<C64>| -> C64 {
        match s.mode {
            Mode::Downlink => trace_t(x, covariance, y),
            Mode::Uplink => {
                let (fx, fy) = match combiner {
                    Some(f) => (f.adjoint() * x, f.adjoint() * y),
                    None => (x.clone(), y.clone()),
                };
                // tr(FX R (FY)^H) = tr((FX)^T ... ) written directly
                let mut t = C64::new(0.0, 0.0);
                for r in 0..fx.nrows() {
                    for i in 0..fx.ncols() {
                        for k in 0..fx.ncols() {
                            t += fx[(r, i)] * covariance[(i, k)] * fy[(r, k)].conj();
                        }
                    }
                }
                t
            }
        }
    };
    let d = [&gt, &gr];
    // (76) / (79): J_lp = 2|beta|^2 T/sigma^2 Re tr(dG_p ... dG_l^*)
    for l in 0..2 {
        for p in 0..2 {
            j[(l, p)] = scale * beta.norm_sqr() * form(d[p], d[l]).re;
        }
    }
    // (77) / (80)
    for l in 0..2 {
        let row = if variant == FimVariant::Printed && s.mode == Mode::Downlink {
            d[0]
        } else {
            d[l]
        };
        let t = beta.conj() * form(&g, row);
        j[(l, 2)] = scale * t.re;
        j[(l, 3)] = scale * (t * C64::new(0.0, 1.0)).re;
        j[(2, l)] = j[(l, 2)];
        j[(3, l)] = j[(l, 3)];
    }
    // (78) / (81)
    let g22 = scale * form(&g, &g).re;
    j[(2, 2)] = g22;
    j[(3, 3)] = g22;
    j
}

/// Largest entry-wise difference of two FIMs relative to the geometric mean of the
/// diagonal, `max |A_ij - B_ij| / sqrt(A_ii A_jj)` (entries with a zero diagonal are
/// compared against the largest diagonal instead).
pub fn fim_relative_difference(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let n = a.nrows();
    let max_diag = (0..n).map(|i| a[(i, i)].abs()).fold(0.0, f64::max);
    let mut worst = 0.0f64;
    for i in 0..n {
        for k in 0..n {
            let norm = (a[(i, i)].abs() * a[(k, k)].abs()).sqrt();
            let norm = if norm > 1e-12 * max_diag { norm } else { max_diag };
            worst = worst.max((a[(i, k)] - b[(i, k)]).abs() / norm);
        }
    }
    worst
}
