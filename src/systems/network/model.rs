//! The network ISAC model of `network-isac.md`: BS–user channels, the SINR (5), the echo
//! (6) and the Fisher information of the target position with the complex echo gains as
//! nuisance parameters (Proposition 1, Appendix (26)-(39)).
//!
//! **Arrays.** Every BS has an `N`-element ULA along the y axis; angles are measured from
//! the +x axis, and `a(theta) = [1, e^{-j pi sin theta}, ..., e^{-j (N-1) pi sin theta}]^T`
//! as printed (spacing half a wavelength, negative phase sign). The target response of
//! the path transmitter `s'` -> target -> receiver `s` is `G_{s,s'} = a(theta_s) a^H(theta_s')`
//! with `theta_s` the angle of the target seen from BS `s` (below (6)).
//!
//! **Fisher information (derived, `docs/network.md`).** With the receiving BS `r` and the
//! transmitting set `T = S \ {r}`, the stacked echo is
//! `y = sum_{s' in T} alpha_{s'} vec(G_{s'} X_{s'}) + z`, `z ~ CN(0, sigma_r^2 I)` (27).
//! The unknowns are `xi = [p_1, p_2, Re alpha_{s'} (s' in T), Im alpha_{s'} (s' in T)]`.
//! Every derivative has the form `d mu / d xi_m = sum_{s'} vec(D_{m,s'} X_{s'})`:
//! `D_{p_i,s'} = alpha_{s'} dG_{s'}/dp_i`, `D_{Re alpha_{s'}} = G_{s'}`, `D_{Im alpha_{s'}} =
//! j G_{s'}` (zero for the other BSs). With the sample covariances
//! `X_{s'} X_{s'}^H / L = C_{s'}` (2) and uncorrelated signals of different BSs
//! (independent data and sensing streams), (28) gives
//! `F_{mn} = (2 L / sigma_r^2) Re sum_{s'} tr(D_{m,s'}^H D_{n,s'} C_{s'})`,
//! linear in the covariances, which is what (34)-(39) print (with the delay terms folded
//! into a modified `G`, see below). `F_{alpha alpha}` is block diagonal,
//! `E_{s'} I_2` per BS (38)-(39), so the Schur complement of Proposition 1 (7) is
//! `F_pp - sum_{s'} (f_{re,s'} f_{re,s'}^T + f_{im,s'} f_{im,s'}^T) / E_{s'}`.
//!
//! **Delays carry no position information here.** Under the narrowband model (6) the
//! delay `tau_{s,s'}` enters as the carrier phase `e^{-j 2 pi f_c tau}`, which the unknown
//! complex gain `alpha_{s,s'}` absorbs, and as a shift of the sample index of an i.i.d.
//! symbol sequence, which is not a differentiable function of `tau` (its derivative needs
//! a pulse shape and bandwidth the paper does not give). The FIM therefore uses the angles
//! only; the appendix's `X^{(i)} = -tau^{(i)} dX/dt` fold-in is not reproducible from the
//! printed text (garbled) and is not offered.

use crate::error::{IsacError, Result};
use crate::physics::array::{PhaseSign, Ula};
use crate::physics::geometry::{angle, angle_gradient, distance, Point};
use crate::C64;
use faer::Mat;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::f64::consts::PI;

use super::scenario::NetworkScenario;

/// Seed stream of the echo phases.
const ECHO_PHASE_STREAM: u64 = 0x0065_6368_6f00;

/// Per-BS derivative matrices of the echo mean for one transmitting BS `s'`.
#[derive(Debug, Clone)]
pub struct PathDerivatives {
    /// Transmitting BS `s'`.
    pub transmitter: usize,
    /// `G_{s,s'}`.
    pub response: Mat<C64>,
    /// `alpha_{s'} dG/dp_i`, i = 1, 2.
    pub position: [Mat<C64>; 2],
    /// `alpha_{s,s'}`.
    pub gain: C64,
}

/// The linear map from the transmit covariances to the FIM for one receiving BS.
#[derive(Debug, Clone)]
pub struct FimMap {
    pub receiver: usize,
    /// Per-BS power budget `P` (W), for [`FimMap::isotropic_crlb`].
    pub max_power: f64,
    /// `2 L / sigma_r^2`.
    pub scale: f64,
    pub paths: Vec<PathDerivatives>,
}

/// The FIM blocks for given covariances: `F_pp` (2x2), and per transmitting BS the
/// cross terms `f_re, f_im` (2-vectors) and `E_{s'}`.
#[derive(Debug, Clone)]
pub struct FimBlocks {
    pub pp: [[f64; 2]; 2],
    pub cross_re: Vec<[f64; 2]>,
    pub cross_im: Vec<[f64; 2]>,
    pub gain_info: Vec<f64>,
}

/// `Re tr(A^H B C)` without forming products larger than needed.
pub fn re_tr_ahbc(a: &Mat<C64>, b: &Mat<C64>, c: &Mat<C64>) -> f64 {
    let m = &(a.adjoint() * b) * c;
    (0..m.nrows()).map(|i| m[(i, i)].re).sum()
}

/// `tr(A^H B C)` (complex).
pub fn tr_ahbc(a: &Mat<C64>, b: &Mat<C64>, c: &Mat<C64>) -> C64 {
    let m = &(a.adjoint() * b) * c;
    (0..m.nrows()).map(|i| m[(i, i)]).sum()
}

impl FimBlocks {
    /// The full FIM in the order `[p1, p2, Re alpha (T), Im alpha (T)]`.
    pub fn full(&self) -> Mat<f64> {
        let t = self.gain_info.len();
        let n = 2 + 2 * t;
        let mut f = Mat::zeros(n, n);
        for i in 0..2 {
            for j in 0..2 {
                f[(i, j)] = self.pp[i][j];
            }
            for q in 0..t {
                f[(i, 2 + q)] = self.cross_re[q][i];
                f[(2 + q, i)] = self.cross_re[q][i];
                f[(i, 2 + t + q)] = self.cross_im[q][i];
                f[(2 + t + q, i)] = self.cross_im[q][i];
            }
        }
        for q in 0..t {
            f[(2 + q, 2 + q)] = self.gain_info[q];
            f[(2 + t + q, 2 + t + q)] = self.gain_info[q];
        }
        f
    }

    /// The equivalent position FIM `F_pp - F_pa F_aa^{-1} F_pa^T` (Proposition 1); gains
    /// with no information (`E_{s'} = 0`, a silent transmitter) carry no cross term either
    /// and are dropped.
    pub fn position_information(&self) -> [[f64; 2]; 2] {
        let mut j = self.pp;
        for q in 0..self.gain_info.len() {
            let e = self.gain_info[q];
            if e <= 0.0 {
                continue;
            }
            for a in 0..2 {
                for b in 0..2 {
                    j[a][b] -= (self.cross_re[q][a] * self.cross_re[q][b]
                        + self.cross_im[q][a] * self.cross_im[q][b])
                        / e;
                }
            }
        }
        j
    }

    /// `CRLB = tr(J^{-1})` (7), m^2; infinite when the position is not identifiable.
    pub fn crlb(&self) -> f64 {
        let j = self.position_information();
        let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
        let tr = j[0][0] + j[1][1];
        if !(det > 1e-12 * tr * tr) || !(tr > 0.0) {
            return f64::INFINITY;
        }
        tr / det
    }
}

impl FimMap {
    /// The CRLB with every transmitter radiating `P` isotropically (`C = P/N I`): an
    /// upper bound of the smallest CRLB under the power budget, used as the unit of the
    /// CRLB programs.
    pub fn isotropic_crlb(&self, bs_count: usize, antennas: usize) -> f64 {
        let c = self.max_power / antennas as f64;
        let cov: Vec<Mat<C64>> = (0..bs_count)
            .map(|_| {
                Mat::from_fn(antennas, antennas, |a, b| {
                    C64::new(if a == b { c } else { 0.0 }, 0.0)
                })
            })
            .collect();
        self.blocks(&cov).crlb()
    }

    /// The transmitting BSs of this map.
    pub fn transmitters(&self) -> Vec<usize> {
        self.paths.iter().map(|p| p.transmitter).collect()
    }

    /// The FIM blocks for the transmit covariances `cov[s]` (indexed by BS; the
    /// receiving BS's entry is ignored).
    pub fn blocks(&self, cov: &[Mat<C64>]) -> FimBlocks {
        let mut pp = [[0.0; 2]; 2];
        let mut cross_re = Vec::new();
        let mut cross_im = Vec::new();
        let mut gain_info = Vec::new();
        for path in &self.paths {
            let c = &cov[path.transmitter];
            for i in 0..2 {
                for j in 0..2 {
                    pp[i][j] += self.scale * re_tr_ahbc(&path.position[i], &path.position[j], c);
                }
            }
            // D_Re = G, D_Im = j G: Re tr(D_p^H G C) and Re tr(D_p^H j G C)
            let z = [0, 1].map(|i| tr_ahbc(&path.position[i], &path.response, c));
            cross_re.push([self.scale * z[0].re, self.scale * z[1].re]);
            cross_im.push([-self.scale * z[0].im, -self.scale * z[1].im]);
            gain_info.push(self.scale * re_tr_ahbc(&path.response, &path.response, c));
        }
        FimBlocks {
            pp,
            cross_re,
            cross_im,
            gain_info,
        }
    }

    /// The coefficient matrices of every FIM entry for path `q`: entry `(m, n)` of the
    /// FIM restricted to `[p1, p2, Re alpha_q, Im alpha_q]` is
    /// `scale * Re tr(A_{mn} C_q)` with `A_{mn} = D_m^H D_n`.
    pub fn path_coefficients(&self, q: usize) -> [[Mat<C64>; 4]; 4] {
        let p = &self.paths[q];
        let j = C64::new(0.0, 1.0);
        let d = [
            p.position[0].clone(),
            p.position[1].clone(),
            p.response.clone(),
            Mat::from_fn(p.response.nrows(), p.response.ncols(), |r, c| {
                p.response[(r, c)] * j
            }),
        ];
        std::array::from_fn(|m| std::array::from_fn(|n| d[m].adjoint() * &d[n]))
    }
}

/// Everything derived from a scenario: angles, gains, channels.
#[derive(Debug, Clone)]
pub struct NetworkModel {
    pub scenario: NetworkScenario,
    pub array: Ula,
    /// `h_{s,k}` as `[s][k]` vectors of length `N`.
    pub user_channels: Vec<Vec<Vec<C64>>>,
    /// `|alpha_{s,s'}|^2` (receiver, transmitter).
    pub echo_power: Vec<Vec<f64>>,
    /// `alpha_{s,s'}` with a seeded random phase.
    pub echo_gains: Vec<Vec<C64>>,
}

impl NetworkModel {
    pub fn new(scenario: NetworkScenario) -> Result<Self> {
        let s = scenario.bs_count();
        let k = scenario.user_count();
        let n = scenario.antennas;
        let array = Ula::new(n, scenario.antenna_spacing, PhaseSign::Negative);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(scenario.seed);
        let user_channels = match &scenario.user_channels {
            Some(h) => h.clone(),
            None => (0..s)
                .map(|b| {
                    (0..k)
                        .map(|u| {
                            let d = distance(scenario.base_stations[b], scenario.users[u]);
                            let beta =
                                scenario.user_ref_gain * d.powf(-scenario.user_path_loss_exponent);
                            (0..n)
                                .map(|_| {
                                    let re: f64 = StandardNormal.sample(&mut rng);
                                    let im: f64 = StandardNormal.sample(&mut rng);
                                    C64::new(re, im) * (beta / 2.0).sqrt()
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect(),
        };
        let lambda = scenario.wavelength();
        let g = scenario.target_path_loss_exponent;
        let d: Vec<f64> = scenario
            .base_stations
            .iter()
            .map(|b| distance(*b, scenario.target))
            .collect();
        let echo_power: Vec<Vec<f64>> = match &scenario.echo_gains {
            Some(m) => m.clone(),
            None => (0..s)
                .map(|r| {
                    (0..s)
                        .map(|t| {
                            scenario.target_rcs * lambda * lambda
                                / ((4.0 * PI).powi(3) * d[r].powf(g) * d[t].powf(g))
                        })
                        .collect()
                })
                .collect(),
        };
        // the echo phases have their own stream: explicit user channels leave them unchanged
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(scenario.seed ^ ECHO_PHASE_STREAM);
        let echo_gains = echo_power
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&p| {
                        use rand::Rng;
                        C64::from_polar(p.sqrt(), rng.gen_range(-PI..PI))
                    })
                    .collect()
            })
            .collect();
        Ok(NetworkModel {
            scenario,
            array,
            user_channels,
            echo_power,
            echo_gains,
        })
    }

    pub fn bs_count(&self) -> usize {
        self.scenario.bs_count()
    }

    pub fn user_count(&self) -> usize {
        self.scenario.user_count()
    }

    pub fn antennas(&self) -> usize {
        self.scenario.antennas
    }

    /// Angle of the target seen from BS `s`, from the +x axis.
    pub fn target_angle(&self, s: usize) -> f64 {
        angle(self.scenario.base_stations[s], self.scenario.target)
    }

    /// The BS closest to the target (Scheme 1's receiver).
    pub fn closest_bs(&self) -> usize {
        let t = self.scenario.target;
        (0..self.bs_count())
            .min_by(|&a, &b| {
                distance(self.scenario.base_stations[a], t)
                    .total_cmp(&distance(self.scenario.base_stations[b], t))
            })
            .unwrap_or(0)
    }

    /// `H_{s,k} = h_{s,k} h_{s,k}^H` (below (9)).
    pub fn user_gram(&self, s: usize, k: usize) -> Mat<C64> {
        let h = &self.user_channels[s][k];
        Mat::from_fn(h.len(), h.len(), |r, c| h[r] * h[c].conj())
    }

    /// The FIM map of receiving BS `r` at the true target position, every other BS
    /// transmitting.
    pub fn fim_map(&self, r: usize) -> Result<FimMap> {
        let all: Vec<usize> = (0..self.bs_count()).filter(|&t| t != r).collect();
        self.fim_map_at(r, &all, self.scenario.target)
    }

    /// The FIM map of receiving BS `r` with only `transmitters` radiating (Scheme 3), for
    /// a target at `p` (echo gains of the scenario).
    pub fn fim_map_at(&self, r: usize, transmitters: &[usize], p: Point) -> Result<FimMap> {
        if r >= self.bs_count() {
            return Err(IsacError::input(
                "receiving_bs",
                format!("must be in [0, {}]", self.bs_count() - 1),
            ));
        }
        let bs = &self.scenario.base_stations;
        let ar = self.array.steering(angle(bs[r], p));
        let dar = self.array.steering_derivative(angle(bs[r], p));
        let gr = angle_gradient(p, bs[r]);
        if let Some(&t) = transmitters
            .iter()
            .find(|&&t| t == r || t >= self.bs_count())
        {
            return Err(IsacError::input(
                "receiving_bs",
                format!("BS {t} cannot transmit to receiving BS {r}"),
            ));
        }
        let paths = transmitters
            .iter()
            .map(|&t| {
                let th = angle(bs[t], p);
                let at = self.array.steering(th);
                let dat = self.array.steering_derivative(th);
                let gt = angle_gradient(p, bs[t]);
                let alpha = self.echo_gains[r][t];
                let n = at.len();
                let response = Mat::from_fn(n, n, |a, b| ar[a] * at[b].conj());
                let position = [0, 1].map(|i| {
                    Mat::from_fn(n, n, |a, b| {
                        alpha * (dar[a] * at[b].conj() * gr[i] + ar[a] * dat[b].conj() * gt[i])
                    })
                });
                PathDerivatives {
                    transmitter: t,
                    response,
                    position,
                    gain: alpha,
                }
            })
            .collect();
        Ok(FimMap {
            max_power: self.scenario.max_power,
            receiver: r,
            scale: 2.0 * self.scenario.samples as f64 / self.scenario.bs_noise,
            paths,
        })
    }
}
