//! Closed-form FIM of a path-based MIMO-OFDM channel observed through a known
//! transmit covariance.
//!
//! The channel of subcarrier `m = 0..M-1` is a sum of paths,
//! `H_m = sum_k beta_k exp(-j 2 pi m Delta_f tau_k) (rank-one terms u v^H)`
//! (bistatic-monostatic.md (3) and (5); any path model of this form), and the observation
//! is `y_{l,p,m} = H_m f_l s_{p,m} + n`, `n ~ CN(0, sigma^2 I)`, with unit-modulus pilots
//! `s` over `P` symbols and `L` beamformers `F = [f_1 .. f_L]`. By Slepian–Bangs
//! (Kay (15.52)) and `sum_{l,p} f_l s s^* f_l^H = P F F^H = P V`,
//!
//! ```text
//!   I_ij = (2 P / sigma^2) sum_m Re tr( dH_m/dxi_j  V  dH_m^H/dxi_i ).
//! ```
//!
//! (The paper's (6) prints the factor as `2N/sigma^2`; `N` is the number of symbols `P`
//! in this derivation, docs/bpms.md.) Every real parameter `xi_i` belongs to one path
//! and has a derivative of the form `dH_m/dxi_i = c_i(m) sum_s u_is v_is^H` with
//! `c_i(m) = gamma_i (-j 2 pi m Delta_f)^(d_i) exp(-j 2 pi m Delta_f tau_i)` (`d_i = 1` for
//! the path's delay, 0 otherwise; `gamma_i` is `beta`, 1 or `j`). So
//!
//! ```text
//!   I_ij = (2 P / sigma^2) Re[ S_ij sum_{r,s} (u_is^H u_jr) (v_jr^H V v_is) ],
//!   S_ij = sum_m c_j(m) c_i(m)^*
//!        = gamma_j gamma_i^* (j 2 pi Delta_f)^(d_i) (-j 2 pi Delta_f)^(d_j)
//!          T_(d_i + d_j)(Delta_f (tau_j - tau_i)),
//! ```
//!
//! with the subcarrier sums `T_n` of [`crate::physics::ofdm`] in closed form. The FIM is
//! linear in `V`: `I_ij = Re tr(V B_ij)` with `B_ij = (2P/sigma^2) S_ij sum_{r,s}
//! (u_is^H u_jr) v_is v_jr^H` ([`OfdmFim::basis`]), which is what a conic program needs.

use crate::physics::ofdm::SubcarrierSums;
use crate::C64;
use faer::Mat;
use std::f64::consts::PI;

/// One real parameter of the path model: `dH_m/dxi = c(m) sum_s u_s v_s^H`.
#[derive(Debug, Clone)]
pub struct PathDerivative {
    /// Delay `tau` of the path the parameter belongs to (s).
    pub delay: f64,
    /// 1 when the parameter is the path's delay (`d/dtau` brings `-j 2 pi m Delta_f`), 0
    /// otherwise.
    pub delay_order: u8,
    /// `gamma`: the complex factor (`beta` for angles and delays, 1 for `Re beta`, `j` for
    /// `Im beta`).
    pub scale: C64,
    /// Rank-one terms `(u, v)` of `u v^H` (`u`: receive side, `v`: transmit side).
    pub terms: Vec<(Vec<C64>, Vec<C64>)>,
}

/// The channel-domain FIM of a list of path parameters (module doc).
#[derive(Debug, Clone)]
pub struct OfdmFim {
    sums: SubcarrierSums,
    subcarrier_spacing: f64,
    /// `2 P / sigma^2`.
    factor: f64,
    params: Vec<PathDerivative>,
}

impl OfdmFim {
    /// `subcarriers` `M`, spacing `Delta_f` (Hz), `symbols` `P` per slot, noise variance
    /// `sigma^2` per subcarrier and receive antenna.
    pub fn new(
        subcarriers: usize,
        subcarrier_spacing: f64,
        symbols: usize,
        noise_variance: f64,
        params: Vec<PathDerivative>,
    ) -> Self {
        OfdmFim {
            sums: SubcarrierSums::new(subcarriers),
            subcarrier_spacing,
            factor: 2.0 * symbols as f64 / noise_variance,
            params,
        }
    }

    pub fn parameters(&self) -> usize {
        self.params.len()
    }

    /// `S_ij` of the module doc, times `2 P / sigma^2`.
    fn pair_coefficient(&self, i: usize, j: usize) -> C64 {
        let (a, b) = (&self.params[i], &self.params[j]);
        let w = 2.0 * PI * self.subcarrier_spacing;
        let n = (a.delay_order + b.delay_order) as usize;
        let t = self
            .sums
            .sums(self.subcarrier_spacing * (b.delay - a.delay))[n];
        let mut c = b.scale * a.scale.conj() * t * self.factor;
        if a.delay_order == 1 {
            c *= C64::new(0.0, w);
        }
        if b.delay_order == 1 {
            c *= C64::new(0.0, -w);
        }
        c
    }

    /// The FIM at the transmit covariance `v` (`N_t x N_t` Hermitian PSD).
    pub fn fim(&self, v: &Mat<C64>) -> Mat<f64> {
        let p = self.params.len();
        // V v_is for every parameter and term
        let vv: Vec<Vec<Vec<C64>>> = self
            .params
            .iter()
            .map(|q| q.terms.iter().map(|(_, t)| mat_vec(v, t)).collect())
            .collect();
        let mut out = Mat::zeros(p, p);
        for i in 0..p {
            for j in i..p {
                let mut acc = C64::new(0.0, 0.0);
                for (s, (u_is, _)) in self.params[i].terms.iter().enumerate() {
                    for (u_jr, v_jr) in &self.params[j].terms {
                        acc += dot(u_is, u_jr) * dot(v_jr, &vv[i][s]);
                    }
                }
                let x = (self.pair_coefficient(i, j) * acc).re;
                out[(i, j)] = x;
                out[(j, i)] = x;
            }
        }
        out
    }

    /// `B_ij` (upper triangle, `j >= i`, row-major pairs) with `I_ij = Re tr(V B_ij)`; a
    /// transmit basis `basis` (`N_t x r`, for `V = basis Lambda basis^H`) returns
    /// `basis^H B_ij basis` instead, so that `I_ij = Re tr(Lambda B_ij)`.
    pub fn basis(&self, basis: Option<&Mat<C64>>) -> Vec<((usize, usize), Mat<C64>)> {
        // transmit vectors in the basis' coordinates: basis^H v
        let project = |t: &[C64]| -> Vec<C64> {
            match basis {
                Some(b) => (0..b.ncols())
                    .map(|c| (0..b.nrows()).map(|r| b[(r, c)].conj() * t[r]).sum())
                    .collect(),
                None => t.to_vec(),
            }
        };
        let proj: Vec<Vec<Vec<C64>>> = self
            .params
            .iter()
            .map(|q| q.terms.iter().map(|(_, t)| project(t)).collect())
            .collect();
        let dim = proj.first().and_then(|q| q.first()).map_or(0, |t| t.len());
        let p = self.params.len();
        let mut out = vec![];
        for i in 0..p {
            for j in i..p {
                let coef = self.pair_coefficient(i, j);
                let mut b = Mat::<C64>::zeros(dim, dim);
                for (s, (u_is, _)) in self.params[i].terms.iter().enumerate() {
                    for (r, (u_jr, _)) in self.params[j].terms.iter().enumerate() {
                        let w = coef * dot(u_is, u_jr);
                        let (vi, vj) = (&proj[i][s], &proj[j][r]);
                        // tr(V v_is v_jr^H) = v_jr^H V v_is: B += w v_is v_jr^H
                        for a in 0..dim {
                            for c in 0..dim {
                                b[(a, c)] += w * vi[a] * vj[c].conj();
                            }
                        }
                    }
                }
                out.push(((i, j), b));
            }
        }
        out
    }
}

/// `x^H y`.
fn dot(x: &[C64], y: &[C64]) -> C64 {
    x.iter().zip(y).map(|(a, b)| a.conj() * b).sum()
}

fn mat_vec(m: &Mat<C64>, x: &[C64]) -> Vec<C64> {
    (0..m.nrows())
        .map(|r| (0..m.ncols()).map(|c| m[(r, c)] * x[c]).sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fim::{max_scaled_difference, slepian_bangs};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_vec(rng: &mut ChaCha8Rng, n: usize) -> Vec<C64> {
        (0..n)
            .map(|_| C64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)))
            .collect()
    }

    /// Two paths with generic rank-one/two derivative terms: the closed form equals the
    /// Slepian–Bangs FIM of the stacked observation built from the same derivatives.
    #[test]
    fn closed_form_equals_the_stacked_observation() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (nr, nt, m, l, p) = (3, 4, 7, 3, 2);
        let df = 1.0e5;
        let sigma2 = 0.3;
        // delays: one pair far apart, one pair 1e-9 of a resolution cell apart
        let delays = [1.3e-6, 1.3e-6 + 1e-9 / (m as f64 * df), 2.9e-6];
        let mut params = vec![];
        for (k, &tau) in delays.iter().enumerate() {
            for d in 0..2u8 {
                let terms = (0..1 + k % 2)
                    .map(|_| (random_vec(&mut rng, nr), random_vec(&mut rng, nt)))
                    .collect();
                params.push(PathDerivative {
                    delay: tau,
                    delay_order: d,
                    scale: C64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)),
                    terms,
                });
            }
        }
        let f = Mat::from_fn(nt, l, |_, _| {
            C64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0))
        });
        let s: Vec<Vec<C64>> = (0..p)
            .map(|_| {
                (0..m)
                    .map(|_| C64::from_polar(1.0, rng.gen_range(-PI..PI)))
                    .collect()
            })
            .collect();
        // derivative of the stacked mean vec over (l, p, m) of dH_m f_l s_pm
        let dmu: Vec<Vec<C64>> = params
            .iter()
            .map(|q| {
                let mut out = vec![];
                for li in 0..l {
                    for pi in 0..p {
                        for mi in 0..m {
                            let c = q.scale
                                * C64::from_polar(1.0, -2.0 * PI * mi as f64 * df * q.delay)
                                * if q.delay_order == 1 {
                                    C64::new(0.0, -2.0 * PI * mi as f64 * df)
                                } else {
                                    C64::new(1.0, 0.0)
                                };
                            for r in 0..nr {
                                let mut y = C64::new(0.0, 0.0);
                                for (u, v) in &q.terms {
                                    let vf: C64 = (0..nt).map(|t| v[t].conj() * f[(t, li)]).sum();
                                    y += u[r] * vf;
                                }
                                out.push(c * y * s[pi][mi]);
                            }
                        }
                    }
                }
                out
            })
            .collect();
        let want = slepian_bangs(&dmu, sigma2);
        let model = OfdmFim::new(m, df, p, sigma2, params);
        let v = &f * f.adjoint();
        let got = model.fim(&v);
        let err = max_scaled_difference(&got, &want);
        assert!(err < 1e-12, "closed form vs stacked: {err:e}");
        // the linear basis gives the same FIM, directly and in a transmit basis
        let via_basis = |basis: Option<&Mat<C64>>, lam: &Mat<C64>| {
            let mut out = Mat::<f64>::zeros(model.parameters(), model.parameters());
            for ((i, j), b) in model.basis(basis) {
                let x: f64 = (0..lam.nrows())
                    .flat_map(|a| (0..lam.nrows()).map(move |c| (a, c)))
                    .map(|(a, c)| (lam[(a, c)] * b[(c, a)]).re)
                    .sum();
                out[(i, j)] = x;
                out[(j, i)] = x;
            }
            out
        };
        assert!(max_scaled_difference(&via_basis(None, &v), &want) < 1e-12);
        // V = Q Lambda Q^H with Q = F (N_t x L), Lambda = I
        let lam = Mat::<C64>::identity(l, l);
        assert!(max_scaled_difference(&via_basis(Some(&f), &lam), &want) < 1e-12);
    }
}
