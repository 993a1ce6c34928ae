//! The near-field ISPAC model (near-field-ispac.md, Section II): channels, the FIM and
//! CRB of `eta = [theta_s, r_s, Re beta_s, Im beta_s]` in both working modes, and the
//! users' SINRs.
//!
//! # One bistatic rank-one FIM for both modes
//! In both modes the echo's mean in slot `t` is `beta p (q^T z_t)`:
//!
//! | mode | receive side `p` | transmit side `q` | signal `z_t`, covariance |
//! |------|------------------|-------------------|---------------------------|
//! | downlink, (13): `G^T x_t` | `b(theta)` (AT) | `a(theta, r)` (MT) | `x_t`, `R_x = F R~ F^H` (10) |
//! | uplink, (19): `F^H G s_t` | `F^H a(theta, r)` | `b(theta)` | `s_t`, `R_u` |
//!
//! With `D_i = d(mean)/d eta_i` written as `sum c p_x q_y^T` over the vectors
//! `p_0 = p, p_1 = dp/dtheta, p_2 = dp/dr` (and the same for `q`), the Slepian–Bangs
//! FIM (73) over `T` slots with `sum_t z_t z_t^H = T R` is
//!
//! ```text
//!   J_ij = 2T/sigma^2 Re tr(D_j R D_i^H)
//!        = 2T/sigma^2 Re sum c_i^* c_j (p_x^H p_x') (q_y'^T R q_y^*),
//! ```
//!
//! with the terms `theta: beta (p_1 q^T + p q_1^T)`, `r: beta (p_2 q^T + p q_2^T)`,
//! `Re beta: p q^T`, `Im beta: j p q^T`. It depends on the design only through the
//! 3x3 transmit Gram `M_{y'y} = q_y'^T R q_y^*`. This equals Appendix A (76)-(78)
//! (downlink, with `G~ = a b^T`) and Appendix B (79)-(81) (uplink) term by term; the
//! tests check it against the literal appendix formulas and against the numerical FIM of
//! the sampled models `vec(G^T X)` and `vec(F^H G S)` (module `numerical`).
//!
//! The CRB (25)/(52) is the inverse of the Schur complement over the gain,
//! `(J_11 - J_12 J_22^{-1} J_12^T)^{-1}`.

use super::scenario::{EchoModel, FimVariant, Mode, NearfieldScenario};
use crate::error::{IsacError, Result};
use crate::linalg::{inner, spd_inverse};
use crate::physics::pathloss::PathLoss;
use crate::physics::wavefront::{LinearArray, Response, Wavefront};
use crate::C64;
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seed stream of the user/scatterer drop and of the gain phase.
const DROP_STREAM: u64 = 0x6e65_6172_6669_656c; // "nearfiel"

/// One user's channel draw (6): the LoS path and `L_k` scatterers.
#[derive(Debug, Clone)]
pub struct UserDraw {
    /// `(theta_k, r_k)`.
    pub position: [f64; 2],
    /// `(theta_l^k, r_l^k)` of each scatterer.
    pub scatterers: Vec<[f64; 2]>,
    /// `alpha_k` and `alpha_l^k / sqrt(L_k)`: the complex path coefficients, shared by
    /// the near-field channel (6) and the far-field one (72).
    pub coefficients: Vec<C64>,
}

/// The model of one instance.
#[derive(Debug, Clone)]
pub struct NearfieldModel {
    pub scenario: NearfieldScenario,
    /// MT response at the target `a(theta_s, r_s)` and derivatives.
    pub mt_response: Response,
    /// AT response at the target `b(theta_s)` and derivatives.
    pub at_response: Response,
    /// `beta_s` of (8).
    pub sensing_gain: C64,
    /// The draw (absent when the channels were given explicitly).
    pub draws: Vec<UserDraw>,
    /// `h_k` (6), `K x N_a`, near-field with the MT wavefront (or as given).
    pub user_channels: Vec<Vec<C64>>,
    /// `h_{k,far}` (72): the same paths with far-field responses (the baseline's CSI).
    pub far_user_channels: Option<Vec<Vec<C64>>>,
}

/// The FIM and the CRB of `(theta_s, r_s)`.
#[derive(Debug, Clone)]
pub struct Bound {
    /// 4x4 FIM in the order of `eta`.
    pub fim: Mat<f64>,
    /// 2x2 CRB (rad^2, m^2, rad m); `None` when the Schur complement is singular.
    pub crb: Option<Mat<f64>>,
}

impl Bound {
    /// `tr CRB` (the objective (26a), (53a)).
    pub fn trace(&self) -> Option<f64> {
        self.crb.as_ref().map(|c| c[(0, 0)] + c[(1, 1)])
    }
    /// Root CRB of the angle, radians.
    pub fn rcrb_angle(&self) -> Option<f64> {
        self.crb.as_ref().map(|c| c[(0, 0)].max(0.0).sqrt())
    }
    /// Root CRB of the distance, metres.
    pub fn rcrb_distance(&self) -> Option<f64> {
        self.crb.as_ref().map(|c| c[(1, 1)].max(0.0).sqrt())
    }
}

/// Terms `(x, y, c)` of `D_i = sum c p_x q_y^T` (module doc).
fn terms(i: usize, beta: C64) -> Vec<(usize, usize, C64)> {
    match i {
        0 => vec![(1, 0, beta), (0, 1, beta)],
        1 => vec![(2, 0, beta), (0, 2, beta)],
        2 => vec![(0, 0, C64::new(1.0, 0.0))],
        _ => vec![(0, 0, C64::new(0.0, 1.0))],
    }
}

/// Coefficients `C[y'][y]` with `J_ij = scale Re sum C[y'][y] M[y'][y]`, given the receive
/// Gram `p[x][x'] = p_x^H p_x'`. Linear in the transmit Gram, so the design programs
/// use the same coefficients on an affine `M`.
pub fn fim_coefficients(
    p: &[[C64; 3]; 3],
    beta: C64,
    i: usize,
    j: usize,
    variant: FimVariant,
) -> [[C64; 3]; 3] {
    // The printed (77) uses d/dtheta in the row of r_s against the gain.
    let printed_swap = |k: usize, other: usize| {
        if variant == FimVariant::Printed && k == 1 && other >= 2 {
            0
        } else {
            k
        }
    };
    let (ii, jj) = (printed_swap(i, j), printed_swap(j, i));
    let mut c = [[C64::new(0.0, 0.0); 3]; 3];
    for (x, y, ci) in terms(ii, beta) {
        for (x2, y2, cj) in terms(jj, beta) {
            c[y2][y] += ci.conj() * cj * p[x][x2];
        }
    }
    c
}

/// The FIM from both Grams.
pub fn fim_from_grams(
    p: &[[C64; 3]; 3],
    gram: &[[C64; 3]; 3],
    beta: C64,
    scale: f64,
    variant: FimVariant,
) -> Mat<f64> {
    let mut j = Mat::zeros(4, 4);
    for a in 0..4 {
        for b in a..4 {
            let c = fim_coefficients(p, beta, a, b, variant);
            let mut v = C64::new(0.0, 0.0);
            for y2 in 0..3 {
                for y in 0..3 {
                    v += c[y2][y] * gram[y2][y];
                }
            }
            j[(a, b)] = scale * v.re;
            j[(b, a)] = scale * v.re;
        }
    }
    j
}

/// `CRB = (J_11 - J_12 J_22^{-1} J_12^T)^{-1}` (25), (52); `None` if singular.
pub fn crb_from_fim(j: &Mat<f64>) -> Option<Mat<f64>> {
    let j22 = Mat::from_fn(2, 2, |a, b| j[(a + 2, b + 2)]);
    let inv22 = spd_inverse(&j22)?;
    let schur = Mat::from_fn(2, 2, |a, b| {
        let mut v = j[(a, b)];
        for c in 0..2 {
            for d in 0..2 {
                v -= j[(a, c + 2)] * inv22[(c, d)] * j[(d + 2, b)];
            }
        }
        v
    });
    let schur = Mat::from_fn(2, 2, |a, b| 0.5 * (schur[(a, b)] + schur[(b, a)]));
    spd_inverse(&schur)
}

/// `v^T R w^*` for vectors `v, w` and Hermitian `R`.
pub fn transposed_form(v: &[C64], r: &Mat<C64>, w: &[C64]) -> C64 {
    let n = v.len();
    let mut s = C64::new(0.0, 0.0);
    for a in 0..n {
        if v[a] == C64::new(0.0, 0.0) {
            continue;
        }
        let mut row = C64::new(0.0, 0.0);
        for b in 0..n {
            row += r[(a, b)] * w[b].conj();
        }
        s += v[a] * row;
    }
    s
}

/// `F^H v` for an `N x N_RF` matrix `F`.
pub fn combine(f: &Mat<C64>, v: &[C64]) -> Vec<C64> {
    (0..f.ncols())
        .map(|c| (0..f.nrows()).map(|r| f[(r, c)].conj() * v[r]).sum())
        .collect()
}

impl NearfieldModel {
    /// Builds the channels and responses of a scenario (seeded draw).
    pub fn new(scenario: NearfieldScenario) -> Result<Self> {
        let s = &scenario;
        let (theta, r) = (s.target_angle, s.target_distance);
        let mt_response = s.mt.response(theta, r, s.mt_wavefront);
        let at_response = s.at.response(theta, r, s.at_wavefront);
        let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ DROP_STREAM);
        let phase: f64 = rng.gen_range(0.0..2.0 * std::f64::consts::PI);
        let los = PathLoss::NYC_28GHZ_LOS;
        let power_gain = match s.echo_model {
            EchoModel::TwoHop => s.reflection * los.gain(r).powi(2),
            EchoModel::OneHop => s.reflection * los.gain(r),
            EchoModel::SensingSnr(db) => crate::input::db_to_linear(db) * s.noise / s.power,
            EchoModel::Explicit(g) => g.norm_sqr(),
        };
        let sensing_gain = match s.echo_model {
            EchoModel::Explicit(g) => g,
            _ => C64::from_polar(power_gain.sqrt(), phase),
        };
        let (draws, user_channels, far_user_channels) = match &s.user_channels {
            Some(h) => (Vec::new(), h.clone(), None),
            None => {
                let draws: Vec<UserDraw> = (0..s.users).map(|_| draw_user(s, &mut rng)).collect();
                let near = draws
                    .iter()
                    .map(|d| user_channel(&s.mt, d, s.mt_wavefront))
                    .collect();
                let far = draws
                    .iter()
                    .map(|d| user_channel(&s.mt, d, Wavefront::Far))
                    .collect();
                (draws, near, Some(far))
            }
        };
        if user_channels
            .iter()
            .any(|h| h.iter().all(|z| z.norm() == 0.0))
        {
            return Err(IsacError::input(
                "user_channels_re",
                "every user channel must be nonzero",
            ));
        }
        Ok(NearfieldModel {
            scenario,
            mt_response,
            at_response,
            sensing_gain,
            draws,
            user_channels,
            far_user_channels,
        })
    }

    pub fn users(&self) -> usize {
        self.user_channels.len()
    }

    /// The FIM variant in force: the printed one differs from the model only in the
    /// downlink (77); the uplink appendix (80) is correct.
    pub fn fim_variant(&self) -> FimVariant {
        match self.scenario.mode {
            Mode::Downlink => self.scenario.fim,
            Mode::Uplink => FimVariant::Model,
        }
    }

    /// `2 T / sigma^2` of the echo's FIM.
    pub fn fim_scale(&self) -> f64 {
        2.0 * self.scenario.slots as f64 / self.scenario.noise
    }

    /// The transmit-side vectors `q, dq/dtheta, dq/dr` of the mode.
    pub fn transmit_vectors(&self) -> [Vec<C64>; 3] {
        let r = match self.scenario.mode {
            Mode::Downlink => &self.mt_response,
            Mode::Uplink => &self.at_response,
        };
        [r.value.clone(), r.d_angle.clone(), r.d_distance.clone()]
    }

    /// The receive-side vectors `p, dp/dtheta, dp/dr` of the mode; `combiner` is the
    /// MT's analog combiner `F` in the uplink (identity when `None`: fully digital).
    pub fn receive_vectors(&self, combiner: Option<&Mat<C64>>) -> [Vec<C64>; 3] {
        match self.scenario.mode {
            Mode::Downlink => {
                let r = &self.at_response;
                [r.value.clone(), r.d_angle.clone(), r.d_distance.clone()]
            }
            Mode::Uplink => {
                let r = &self.mt_response;
                let apply = |v: &Vec<C64>| match combiner {
                    Some(f) => combine(f, v),
                    None => v.clone(),
                };
                [apply(&r.value), apply(&r.d_angle), apply(&r.d_distance)]
            }
        }
    }

    /// The receive Gram `p_x^H p_x'`.
    pub fn receive_gram(&self, combiner: Option<&Mat<C64>>) -> [[C64; 3]; 3] {
        let p = self.receive_vectors(combiner);
        let mut g = [[C64::new(0.0, 0.0); 3]; 3];
        for x in 0..3 {
            for x2 in 0..3 {
                g[x][x2] = inner(&p[x], &p[x2]);
            }
        }
        g
    }

    /// The transmit Gram `M_{y'y} = q_y'^T R q_y^*` of a covariance `R` (downlink `R_x`,
    /// `N_a x N_a`; uplink `R_u`, `N_b x N_b`).
    pub fn transmit_gram(&self, covariance: &Mat<C64>) -> [[C64; 3]; 3] {
        let q = self.transmit_vectors();
        let mut m = [[C64::new(0.0, 0.0); 3]; 3];
        for y2 in 0..3 {
            for y in 0..3 {
                m[y2][y] = transposed_form(&q[y2], covariance, &q[y]);
            }
        }
        m
    }

    /// FIM and CRB for a transmit covariance (downlink `R_x = F R~ F^H`; uplink `R_u`)
    /// and, in the uplink, the MT combiner.
    pub fn bound(&self, covariance: &Mat<C64>, combiner: Option<&Mat<C64>>) -> Bound {
        let fim = fim_from_grams(
            &self.receive_gram(combiner),
            &self.transmit_gram(covariance),
            self.sensing_gain,
            self.fim_scale(),
            self.fim_variant(),
        );
        let crb = crb_from_fim(&fim);
        Bound { fim, crb }
    }

    /// Downlink SINRs (12) of precoders `w_k` (columns of `precoders`, `N_a x K` after the
    /// analog stage) and the sensing covariance `R_d` (`N_a x N_a` after the analog
    /// stage), with the users' channels `h_k`.
    pub fn downlink_sinr(&self, precoders: &Mat<C64>, sensing: &Mat<C64>) -> Vec<f64> {
        let k = self.users();
        (0..k)
            .map(|u| {
                let h = &self.user_channels[u];
                let gain = |i: usize| -> f64 {
                    h.iter()
                        .enumerate()
                        .map(|(n, hn)| hn * precoders[(n, i)])
                        .sum::<C64>()
                        .norm_sqr()
                };
                let interference: f64 = (0..k).filter(|&i| i != u).map(gain).sum();
                let probe = transposed_form(h, sensing, h).re;
                gain(u) / (interference + probe + self.scenario.noise)
            })
            .collect()
    }

    /// Uplink interference-plus-noise covariance (18) of user `k` after the combiner
    /// `F` (identity when `None`): `F^H (sum_{i != k} P_u h_i h_i^H + G R_u G^H +
    /// sigma^2 I) F`, with `G R_u G^H = |beta|^2 (b^T R_u b^*) a a^H`.
    pub fn uplink_interference(
        &self,
        user: usize,
        probing: &Mat<C64>,
        combiner: Option<&Mat<C64>>,
    ) -> Mat<C64> {
        let s = &self.scenario;
        let apply = |v: &Vec<C64>| match combiner {
            Some(f) => combine(f, v),
            None => v.clone(),
        };
        let a = apply(&self.mt_response.value);
        let b = &self.at_response.value;
        let echo = self.sensing_gain.norm_sqr() * transposed_form(b, probing, b).re;
        let n = a.len();
        let mut r = Mat::from_fn(n, n, |i, j| a[i] * a[j].conj() * echo);
        let noise_gram = match combiner {
            Some(f) => Mat::from_fn(n, n, |i, j| {
                (0..f.nrows()).map(|m| f[(m, i)].conj() * f[(m, j)]).sum()
            }),
            None => Mat::from_fn(n, n, |i, j| {
                C64::new(if i == j { 1.0 } else { 0.0 }, 0.0)
            }),
        };
        for i in 0..n {
            for j in 0..n {
                r[(i, j)] += noise_gram[(i, j)] * s.noise;
            }
        }
        for (k, h) in self.user_channels.iter().enumerate() {
            if k == user {
                continue;
            }
            let hk = apply(h);
            for i in 0..n {
                for j in 0..n {
                    r[(i, j)] += hk[i] * hk[j].conj() * s.user_power;
                }
            }
        }
        r
    }

    /// Uplink SINR (17) of user `k` with combiner `w_k`.
    pub fn uplink_sinr_with(
        &self,
        user: usize,
        combiner_vector: &[C64],
        probing: &Mat<C64>,
        combiner: Option<&Mat<C64>>,
    ) -> f64 {
        let h = match combiner {
            Some(f) => combine(f, &self.user_channels[user]),
            None => self.user_channels[user].clone(),
        };
        let r = self.uplink_interference(user, probing, combiner);
        let num = self.scenario.user_power * inner(combiner_vector, &h).norm_sqr();
        let n = combiner_vector.len();
        let mut den = C64::new(0.0, 0.0);
        for i in 0..n {
            for j in 0..n {
                den += combiner_vector[i].conj() * r[(i, j)] * combiner_vector[j];
            }
        }
        num / den.re
    }

    /// The MMSE combiner `w_k = R_k^{-1} F^H h_k` (normalised) maximising (17).
    pub fn mmse_combiner(
        &self,
        user: usize,
        probing: &Mat<C64>,
        combiner: Option<&Mat<C64>>,
    ) -> Option<Vec<C64>> {
        let h = match combiner {
            Some(f) => combine(f, &self.user_channels[user]),
            None => self.user_channels[user].clone(),
        };
        let r = self.uplink_interference(user, probing, combiner);
        let w = crate::linalg::hermitian_solve(&r, &h)?;
        let norm = w.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
        (norm > 0.0 && norm.is_finite()).then(|| w.iter().map(|z| z / norm).collect())
    }
}

/// Draws one user and its scatterers: distances uniform in the range, angles uniform in
/// the sector; path gains from (71), LoS over `r_k`, NLoS over `r_l^k + r~_l^k`, phases
/// from the path lengths as below (6).
fn draw_user(s: &NearfieldScenario, rng: &mut ChaCha8Rng) -> UserDraw {
    let k = s.mt.wavenumber;
    let [dmin, dmax] = s.user_distance;
    let place = |rng: &mut ChaCha8Rng| -> [f64; 2] {
        let r = if dmax > dmin {
            rng.gen_range(dmin..dmax)
        } else {
            dmin
        };
        let t = if s.user_sector > 0.0 {
            rng.gen_range(-s.user_sector..s.user_sector)
        } else {
            0.0
        };
        [t, r]
    };
    let position = place(rng);
    let scatterers: Vec<[f64; 2]> = (0..s.scatterers_per_user).map(|_| place(rng)).collect();
    let xy = |p: [f64; 2]| [p[1] * p[0].cos(), p[1] * p[0].sin()];
    let user_xy = xy(position);
    let mut coefficients = vec![C64::from_polar(
        PathLoss::NYC_28GHZ_LOS.gain(position[1]).sqrt(),
        -k * position[1],
    )];
    let l = scatterers.len().max(1) as f64;
    for sc in &scatterers {
        let sxy = xy(*sc);
        let hop = ((sxy[0] - user_xy[0]).powi(2) + (sxy[1] - user_xy[1]).powi(2)).sqrt();
        let length = sc[1] + hop;
        coefficients.push(C64::from_polar(
            (PathLoss::NYC_28GHZ_NLOS.gain(length) / l).sqrt(),
            -k * length,
        ));
    }
    UserDraw {
        position,
        scatterers,
        coefficients,
    }
}

/// `h_k` of (6) (or (72) with [`Wavefront::Far`]) from a draw.
pub fn user_channel(array: &LinearArray, d: &UserDraw, wavefront: Wavefront) -> Vec<C64> {
    let mut h = vec![C64::new(0.0, 0.0); array.elements];
    let paths = std::iter::once(&d.position).chain(d.scatterers.iter());
    for (p, c) in paths.zip(&d.coefficients) {
        let e = array.steering(p[0], p[1], wavefront);
        for (hn, en) in h.iter_mut().zip(&e) {
            *hn += c * en;
        }
    }
    h
}
