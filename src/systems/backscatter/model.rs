//! Signal model (1)-(9), FIM (Proposition 3.2, re-derived) and sum rate (30)-(31) of
//! backscatter-isac.md.
//!
//! # Structure used everywhere below
//! With `H_l = a_r(phi_l) a_t(theta_l)^T` and the transmit steering matrix
//! `A = [a_t(theta_1), ..., a_t(theta_L)]`, every FIM entry and every entry of the rate
//! matrix `F` of (31) depends on the sample covariance `R_x` only through the `L x L`
//! Gram matrix `G = A^T R_x A^*`, `G[q,p] = a_t(theta_q)^T R_x a_t(theta_p)^*`:
//! `tr(H_p^H H_q R_x) = (a_r,p^H a_r,q) G[q,p]`. [`GramLinearForm`] stores the
//! coefficients; the design problem and the closed forms evaluate the same form.
//!
//! # The FIM of the model (derived in docs/backscatter.md#fim)
//! The received mean is `mu(t) = sum_l b_l a_r,l a_t,l^T x(t - tau_l)`, `b_l = s_l alpha_l`,
//! `x(t) = sum_n x[n] g(t - n dt)`. Under the continuous-time convention of [`crate::fim`]
//! and in expectation over i.i.d. symbols with covariance `R_x`,
//! `J[i,j] = 2 N b_p b_q / (sigma^2 dt) * Re[(u_i^H u_j) G[q,p] r_ij(tau_p - tau_q)]`,
//! where parameter `i` belongs to device `p`, `j` to device `q`, `u = a_r` for a delay and
//! `u = da_r/dphi = j kappa Lambda a_r` for a DoA, and `r_ij` is the lagged pulse
//! correlation: `r_dd` (delay, delay), `-r_dg` (delay, DoA), `-r_gd` (DoA, delay), `r_gg`
//! (DoA, DoA), see [`Pulse::correlations`](crate::physics::pulse::Pulse::correlations).
//! Two differences from the printed Proposition 3.2:
//! 1. the delay–DoA term of one device carries the `j` of `da_r/dphi`, so it is
//!    `Re(-j kappa eps_gdot (sum m) G[l,l]) = 0` for any real pulse (printed: `|eps_gdot| g_l`);
//! 2. terms of different devices do not vanish: the symbols are independent across `n`,
//!    not across devices, and two devices' delays differ by nanoseconds while a symbol
//!    lasts `dt`, so their pulses overlap almost fully (Lemma A.1 claims zero).

use super::scenario::{BackscatterScenario, FimVariant};
use crate::fim::crb_matrix;
use crate::linalg::inner;
use crate::physics::geometry::{angle, distance, Point};
use crate::physics::SPEED_OF_LIGHT;
use crate::C64;
use faer::Mat;

/// Geometry and channel of one device's backscatter path.
#[derive(Debug, Clone)]
pub struct DeviceLink {
    /// DoD `theta_l` at the transmitter, rad from +x.
    pub dod: f64,
    /// DoA `phi_l` at the receiver, rad from +x.
    pub doa: f64,
    /// Total delay `tau_{0,l} = (d_T + d_R)/c + tau_0`, s.
    pub delay: f64,
    pub tx_distance: f64,
    pub rx_distance: f64,
    /// `alpha_l = sqrt(varrho eta(d_T) eta(d_R))`.
    pub path_gain: f64,
    /// `b_l = s_l alpha_l`.
    pub amplitude: f64,
    /// `a_t(theta_l)`.
    pub tx_steering: Vec<C64>,
    /// `a_r(phi_l)`.
    pub rx_steering: Vec<C64>,
    /// `d a_r / d phi` at `phi_l`.
    pub rx_steering_derivative: Vec<C64>,
    /// `kappa_l = 2 pi d_R/lambda cos(phi_l)`.
    pub kappa: f64,
}

/// A real-valued function of the Gram matrix: `value = Re(sum_k coef_k G[q_k, p_k])`.
#[derive(Debug, Clone, Default)]
pub struct GramLinearForm {
    pub terms: Vec<(usize, usize, C64)>,
}

impl GramLinearForm {
    /// Evaluates at a Gram matrix `G`.
    pub fn eval(&self, gram: &Mat<C64>) -> f64 {
        self.terms
            .iter()
            .map(|&(q, p, c)| (c * gram[(q, p)]).re)
            .sum()
    }
}

/// A symmetric matrix whose entries are [`GramLinearForm`]s (upper triangle stored).
#[derive(Debug, Clone)]
pub struct GramMatrixForm {
    pub size: usize,
    /// `entries[i][j - i]` for `j >= i`.
    pub upper: Vec<Vec<GramLinearForm>>,
}

impl GramMatrixForm {
    pub fn entry(&self, i: usize, j: usize) -> &GramLinearForm {
        let (a, b) = if i <= j { (i, j) } else { (j, i) };
        &self.upper[a][b - a]
    }

    pub fn eval(&self, gram: &Mat<C64>) -> Mat<f64> {
        Mat::from_fn(self.size, self.size, |i, j| self.entry(i, j).eval(gram))
    }
}

/// The backscatter system built from a validated scenario.
#[derive(Debug, Clone)]
pub struct BackscatterModel {
    pub scenario: BackscatterScenario,
    pub links: Vec<DeviceLink>,
}

impl BackscatterModel {
    pub fn new(scenario: BackscatterScenario) -> Self {
        let s = &scenario;
        let links = s
            .devices
            .iter()
            .zip(&s.device_symbols)
            .map(|(&dev, &sym)| link(s, dev, sym))
            .collect();
        BackscatterModel { scenario, links }
    }

    pub fn devices(&self) -> usize {
        self.links.len()
    }

    /// `G = A^T R A^*` for a transmit covariance `R` (W).
    pub fn gram(&self, covariance: &Mat<C64>) -> Mat<C64> {
        let l = self.devices();
        let mt = self.scenario.tx_array.elements;
        Mat::from_fn(l, l, |q, p| {
            let (aq, ap) = (&self.links[q].tx_steering, &self.links[p].tx_steering);
            let mut acc = C64::new(0.0, 0.0);
            for a in 0..mt {
                let mut row = C64::new(0.0, 0.0);
                for b in 0..mt {
                    row += covariance[(a, b)] * ap[b].conj();
                }
                acc += aq[a] * row;
            }
            acc
        })
    }

    /// `xi_l / (s_l^2 ...)`: the common factor `2 N / (sigma^2 dt)` of every FIM entry.
    fn fim_scale(&self) -> f64 {
        let s = &self.scenario;
        2.0 * s.symbols as f64 / (s.noise_variance() * s.symbol_duration)
    }

    /// The 2L x 2L FIM as a linear form in `G`, parameters `tau_1..tau_L, phi_1..phi_L`,
    /// in seconds and radians, for the chosen variant.
    pub fn fim_form(&self, variant: FimVariant) -> GramMatrixForm {
        match variant {
            FimVariant::Model => self.model_fim_form(),
            FimVariant::Paper => self.paper_fim_form(),
        }
    }

    fn model_fim_form(&self) -> GramMatrixForm {
        let l = self.devices();
        let dt = self.scenario.symbol_duration;
        let pulse = self.scenario.pulse;
        let scale = self.fim_scale();
        let mut upper = Vec::with_capacity(2 * l);
        for i in 0..2 * l {
            let mut row = Vec::with_capacity(2 * l - i);
            for j in i..2 * l {
                let (p, q) = (i % l, j % l);
                let (lp, lq) = (&self.links[p], &self.links[q]);
                let lag = lp.delay - lq.delay;
                let r = pulse.correlations(lag, dt);
                let (ui, corr_i) = if i < l {
                    (&lp.rx_steering, true)
                } else {
                    (&lp.rx_steering_derivative, false)
                };
                let (uj, corr_j) = if j < l {
                    (&lq.rx_steering, true)
                } else {
                    (&lq.rx_steering_derivative, false)
                };
                // delay derivatives carry -g'(t), DoA derivatives g(t)
                let pulse_corr = match (corr_i, corr_j) {
                    (true, true) => r[3],
                    (true, false) => -r[1],
                    (false, true) => -r[2],
                    (false, false) => r[0],
                };
                let coef = inner(ui, uj) * (scale * lp.amplitude * lq.amplitude * pulse_corr);
                row.push(GramLinearForm {
                    terms: vec![(q, p, coef)],
                });
            }
            upper.push(row);
        }
        GramMatrixForm { size: 2 * l, upper }
    }

    /// Proposition 3.2 as printed, mapped to (tau, phi) in seconds and radians: the
    /// printed `G_tau,Phi = xi B_tau,Phi` and `G_Phi,Phi = eps_g xi B_Phi,Phi` are in the
    /// electrical angle `u = 2 pi d/lambda sin(phi)` (the CRB (27) multiplies by
    /// `c_l = 1/kappa^2`), so the DoA row and column are multiplied by `kappa_l`.
    /// Cross-device terms are zero (Lemma A.1).
    fn paper_fim_form(&self) -> GramMatrixForm {
        let l = self.devices();
        let s = &self.scenario;
        let m = s.pulse.moments(s.symbol_duration);
        let mr = s.rx_array.elements;
        let sum_m: f64 = (0..mr).map(|k| k as f64).sum();
        let sum_m2: f64 = (0..mr).map(|k| (k * k) as f64).sum();
        let scale = self.fim_scale();
        let mut upper: Vec<Vec<GramLinearForm>> = (0..2 * l)
            .map(|i| vec![GramLinearForm::default(); 2 * l - i])
            .collect();
        for (d, lk) in self.links.iter().enumerate() {
            let xi = scale * lk.amplitude * lk.amplitude;
            let c = |v: f64| vec![(d, d, C64::new(v, 0.0))];
            // (21): eps_g F^2 xi f_l, f_l = M_r G[l,l]
            upper[d][0].terms = c(m.energy * m.mean_square_bandwidth * xi * mr as f64);
            // (22): xi Re(eps_gdot) g_l, g_l = (sum m) G[l,l]; times kappa for radians
            upper[d][l].terms = c(xi * m.derivative_cross * sum_m * lk.kappa);
            // (23): eps_g xi h_l, h_l = (sum m^2) G[l,l]; times kappa^2
            upper[l + d][0].terms = c(m.energy * xi * sum_m2 * lk.kappa * lk.kappa);
        }
        GramMatrixForm { size: 2 * l, upper }
    }

    /// The FIM at a transmit covariance `R` (W).
    pub fn fim(&self, covariance: &Mat<C64>, variant: FimVariant) -> Mat<f64> {
        self.fim_form(variant).eval(&self.gram(covariance))
    }

    /// `(CRB(rho), CRB(tau), CRB(Phi))` of (24)-(25) at `R`; infinite when the FIM is singular.
    pub fn crb(&self, covariance: &Mat<C64>, variant: FimVariant) -> Crb {
        crb_of_fim(&self.fim(covariance, variant), self.devices())
    }

    /// The rate matrix `(N / sigma^2) F` of (31) as a form in `G`:
    /// `F[i,j] = s_i s_j alpha_i alpha_j tr(H_j R H_i^H) = b_i b_j (a_r,i^H a_r,j) G[j,i]`.
    /// Returned as `(i, j) -> (G index, coefficient)`, Hermitian.
    pub fn rate_matrix_coefficients(&self) -> Vec<Vec<C64>> {
        let s = &self.scenario;
        let c = s.symbols as f64 / s.noise_variance();
        let l = self.devices();
        (0..l)
            .map(|i| {
                (0..l)
                    .map(|j| {
                        let (li, lj) = (&self.links[i], &self.links[j]);
                        inner(&li.rx_steering, &lj.rx_steering) * (c * li.amplitude * lj.amplitude)
                    })
                    .collect()
            })
            .collect()
    }

    /// `(N/sigma^2) F` at `R`: entry `(i, j)` is `coef[i][j] * G[j, i]`.
    pub fn rate_matrix(&self, covariance: &Mat<C64>) -> Mat<C64> {
        let g = self.gram(covariance);
        let coef = self.rate_matrix_coefficients();
        let l = self.devices();
        Mat::from_fn(l, l, |i, j| coef[i][j] * g[(j, i)])
    }

    /// Sum rate (31), bit/s/Hz: `(1/N) log2 det(I + N/sigma^2 F)`.
    pub fn sum_rate(&self, covariance: &Mat<C64>) -> f64 {
        let m = self.rate_matrix(covariance);
        let l = self.devices();
        let a = Mat::from_fn(l, l, |i, j| {
            m[(i, j)]
                + if i == j {
                    C64::new(1.0, 0.0)
                } else {
                    C64::new(0.0, 0.0)
                }
        });
        log2_det_hermitian_pd(&a) / self.scenario.symbols as f64
    }

    /// Transmit power `p_g tr(R)` of (2) (`p_g = 1`), W.
    pub fn power(&self, covariance: &Mat<C64>) -> f64 {
        (0..covariance.nrows()).map(|i| covariance[(i, i)].re).sum()
    }
}

impl BackscatterModel {
    /// Per-device position CRB `tr(F C_l F^T)` (m^2), where `C_l` is the device's
    /// (delay, DoA) block of `J^{-1}` and `F = d(x, y)/d(tau, phi)` the Jacobian of the
    /// localisation (10)-(13). `None` where the FIM is singular or the map degenerates.
    pub fn position_crb(&self, fim: &Mat<f64>) -> Vec<Option<f64>> {
        let l = self.devices();
        let s = &self.scenario;
        let Some(c) = crb_matrix(fim) else {
            return vec![None; l];
        };
        self.links
            .iter()
            .enumerate()
            .map(|(d, lk)| {
                let block = Mat::from_fn(2, 2, |a, b| c[([d, l + d][a], [d, l + d][b])]);
                let f = super::localization::position_jacobian(
                    s.transmitter,
                    s.receiver,
                    s.response_delay,
                    lk.delay,
                    lk.doa,
                )?;
                let p = crate::fim::transform_crb(&block, &f);
                Some(p[(0, 0)] + p[(1, 1)])
            })
            .collect()
    }
}

/// CRB split of (25).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crb {
    /// `CRB(rho) = CRB(tau) + CRB(Phi)`, s^2 + rad^2 as in (24).
    pub total: f64,
    /// `CRB(tau)`, s^2.
    pub delay: f64,
    /// `CRB(Phi)`, rad^2.
    pub doa: f64,
}

/// Splits `tr(J^{-1})` into the delay and DoA parts.
pub fn crb_of_fim(j: &Mat<f64>, devices: usize) -> Crb {
    match crb_matrix(j) {
        Some(c) => {
            let delay: f64 = (0..devices).map(|i| c[(i, i)]).sum();
            let doa: f64 = (devices..2 * devices).map(|i| c[(i, i)]).sum();
            Crb {
                total: delay + doa,
                delay,
                doa,
            }
        }
        None => Crb {
            total: f64::INFINITY,
            delay: f64::INFINITY,
            doa: f64::INFINITY,
        },
    }
}

/// `log2 det(A)` of a Hermitian positive-definite matrix by its eigenvalues.
pub fn log2_det_hermitian_pd(a: &Mat<C64>) -> f64 {
    match crate::linalg::hermitian_eigen(a) {
        Some((vals, _)) if vals.iter().all(|&v| v > 0.0) => vals.iter().map(|v| v.log2()).sum(),
        _ => f64::NAN,
    }
}

fn link(s: &BackscatterScenario, device: Point, symbol: f64) -> DeviceLink {
    let tx_distance = distance(s.transmitter, device);
    let rx_distance = distance(device, s.receiver);
    let dod = angle(s.transmitter, device);
    let doa = angle(s.receiver, device);
    let path_gain =
        (s.reflection * s.path_loss.gain(tx_distance) * s.path_loss.gain(rx_distance)).sqrt();
    DeviceLink {
        dod,
        doa,
        delay: (tx_distance + rx_distance) / SPEED_OF_LIGHT + s.response_delay,
        tx_distance,
        rx_distance,
        path_gain,
        amplitude: symbol * path_gain,
        tx_steering: s.tx_array.steering(dod),
        rx_steering: s.rx_array.steering(doa),
        rx_steering_derivative: s.rx_array.steering_derivative(doa),
        kappa: s.rx_array.phase_step_derivative(doa),
    }
}
