//! The multi-static model assembled from a scenario: sensing links (3)-(5), communication
//! channels, the CRB `U` (17)-(18), rates (20)-(21), the cooperation cost (22) and the
//! position CRB through the geometry of (48)-(51). Everything here evaluates a given
//! design; nothing optimises.
//!
//! **Structure used by the design.** `H_{b,0,k} = sqrt(eta_k beta_k) a_k(phi_k) a_b(theta)^T`
//! with the same DoD `theta` for every RE, so
//! `Upsilon_k(Q) = Tr(H_k^H H_k Q) = eta_k beta_k N_r a_b^T Q a_b^* = eta_k beta_k N_r s(Q)`
//! with the single beampattern gain `s(Q) = v^H Q v`, `v = conj(a_b(theta))`. Every `J_k`
//! (model or printed) is `Upsilon_k` times a matrix that does not depend on `Q`, hence
//! `U(G, Q) = U(G, Q') s(Q') / s(Q)` for every selection `G`: minimising `U` over the
//! beamformers is maximising `s(Q)`, whatever `G` (the same holds for the mono-static
//! link and for the position CRB).
//!
//! **Communication channel** (not specified by the paper beyond "Rician factor 0.5"):
//! `H_{b,k} = sqrt(eta_{b,k}) (sqrt(alpha/(1+alpha)) a_k(vartheta'_k) a_b(vartheta_k)^T
//! + sqrt(1/(1+alpha)) G_k)`, `eta_{b,k} = d_{b,k}^{-eps_c}`, `vartheta_k` the direction
//! TR -> RE `k`, `vartheta'_k` the direction RE `k` -> TR, `G_k` i.i.d. `CN(0, 1)` drawn
//! from `seed`; or given explicitly.
//!
//! **Rates** (20)-(21), with the sums of (21) read as sums over every other stream
//! (the printed `b_k = 0` line lacks the sum):
//! `R_k = log2 det(I + H_k W_k W_k^H H_k^H Psi_k^{-1})`,
//! `Psi_k = sum_{i in I_k} H_k Q_i H_k^H + sigma^2 I`,
//! `I_k = {1..K} \ {k}` plus the sensing stream `0` when RE `k` is not selected.

use super::fim::{delay_doppler_fim, paper_u, FimVariant, ReceiverLink, Waveform};
use super::geometry::{
    bistatic_delay, bistatic_doppler, doa, dod, position_crb_known_velocity, position_velocity_crb,
    TargetState,
};
use super::scenario::{CommChannel, MultistaticScenario};
use super::selection::cooperation_cost;
use crate::linalg::hermitian_eigen;
use crate::physics::array::{PhaseSign, Ula};
use crate::physics::geometry::{angle, distance, Point};
use crate::C64;
use faer::Mat;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// The model of one instance.
#[derive(Debug, Clone)]
pub struct MultistaticModel {
    pub scenario: MultistaticScenario,
    /// TR–target–RE links, one per RE.
    pub links: Vec<ReceiverLink>,
    /// The mono-static link (the TR receives its own echo).
    pub mono_link: ReceiverLink,
    /// Communication channels `H_{b,k}` (`N_r x N_t`).
    pub comm_channels: Vec<Mat<C64>>,
    pub waveform: Waveform,
    /// `v = conj(a_b(theta))`: `s(Q) = v^H Q v`.
    pub sensing_direction: Vec<C64>,
}

/// Rician channel of the TR–RE link `k`.
fn rician_channel(
    s: &MultistaticScenario,
    tx: &Ula,
    rx: &Ula,
    receiver: Point,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Mat<C64> {
    let eta = distance(s.transmitter, receiver).powf(-s.comm_path_loss_exponent);
    let a = s.rician_factor;
    let (los, nlos) = match s.comm_channel {
        CommChannel::Rician => ((a / (1.0 + a)).sqrt(), (1.0 / (1.0 + a)).sqrt()),
        CommChannel::LineOfSight => (1.0, 0.0),
    };
    let at = tx.steering(angle(s.transmitter, receiver));
    let ar = rx.steering(angle(receiver, s.transmitter));
    let mut draw = || {
        let re: f64 = StandardNormal.sample(rng);
        let im: f64 = StandardNormal.sample(rng);
        C64::new(re, im) * std::f64::consts::FRAC_1_SQRT_2
    };
    let mut h = Mat::zeros(rx.elements, tx.elements);
    for r in 0..rx.elements {
        for c in 0..tx.elements {
            h[(r, c)] = (ar[r] * at[c] * los + draw() * nlos) * eta.sqrt();
        }
    }
    h
}

/// `log det` of a Hermitian positive-definite matrix (natural log); `-inf` if singular.
pub fn log_det(a: &Mat<C64>) -> f64 {
    match hermitian_eigen(a) {
        Some((vals, _)) => vals
            .iter()
            .map(|&v| if v > 0.0 { v.ln() } else { f64::NEG_INFINITY })
            .sum(),
        None => f64::NAN,
    }
}

/// `sum_i a_i` of `N_t x N_t` matrices.
pub fn total_covariance(qs: &[Mat<C64>]) -> Mat<C64> {
    let n = qs.first().map_or(0, |q| q.nrows());
    let mut out = Mat::zeros(n, n);
    for q in qs {
        out += q;
    }
    out
}

/// `W W^H`.
pub fn outer(w: &Mat<C64>) -> Mat<C64> {
    w * w.adjoint()
}

impl MultistaticModel {
    pub fn new(scenario: MultistaticScenario) -> Self {
        let s = &scenario;
        let tx = Ula::new(s.tx_antennas, s.antenna_spacing, PhaseSign::Positive);
        let rx = Ula::new(s.rx_antennas, s.antenna_spacing, PhaseSign::Positive);
        let state = TargetState {
            position: s.target,
            velocity: s.target_velocity,
        };
        let theta = dod(s.transmitter, s.target);
        let a_b = tx.steering(theta);
        let link = |receiver: Point, rx: &Ula| ReceiverLink {
            path_loss: (distance(s.transmitter, s.target) + distance(s.target, receiver))
                .powf(-s.path_loss_exponent),
            reflection: s.reflection,
            rx_steering: rx.steering(doa(receiver, s.target)),
            tx_steering: a_b.clone(),
            delay: bistatic_delay(s.transmitter, s.target, receiver),
            doppler: bistatic_doppler(s.transmitter, state, receiver, s.carrier),
        };
        let links = s.receivers.iter().map(|&p| link(p, &rx)).collect();
        let mono_rx = Ula::new(s.mono_rx_antennas, s.antenna_spacing, PhaseSign::Positive);
        let mono_link = link(s.transmitter, &mono_rx);
        let comm_channels = match &s.comm_channels {
            Some(h) => h
                .iter()
                .map(|m| Mat::from_fn(s.rx_antennas, s.tx_antennas, |r, c| m[r][c]))
                .collect(),
            None => {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(s.seed);
                s.receivers
                    .iter()
                    .map(|&p| rician_channel(s, &tx, &rx, p, &mut rng))
                    .collect()
            }
        };
        let waveform = Waveform {
            pulse: s.pulse,
            symbol_duration: s.symbol_duration,
            symbols: s.symbols,
        };
        let sensing_direction = a_b.iter().map(|z| z.conj()).collect();
        MultistaticModel {
            scenario,
            links,
            mono_link,
            comm_channels,
            waveform,
            sensing_direction,
        }
    }

    /// Number of REs `K`.
    pub fn receivers(&self) -> usize {
        self.links.len()
    }

    /// `sigma_c^2 + sigma_z^2`.
    pub fn sensing_noise(&self) -> f64 {
        self.scenario.noise_power + self.scenario.clutter_power
    }

    pub fn fim_variant(&self) -> FimVariant {
        self.scenario.fim
    }

    /// Beampattern gain `s(Q) = v^H Q v` towards the target.
    pub fn beampattern_gain(&self, q: &Mat<C64>) -> f64 {
        let v = &self.sensing_direction;
        let mut acc = C64::new(0.0, 0.0);
        for i in 0..v.len() {
            for j in 0..v.len() {
                acc += v[i].conj() * q[(i, j)] * v[j];
            }
        }
        acc.re
    }

    /// Per-RE delay–Doppler FIMs `J_k` (seconds, hertz) for the total covariance `q`.
    pub fn fims(&self, q: &Mat<C64>) -> Vec<Mat<f64>> {
        self.links
            .iter()
            .map(|l| {
                delay_doppler_fim(
                    l,
                    q,
                    &self.waveform,
                    self.sensing_noise(),
                    self.fim_variant(),
                )
            })
            .collect()
    }

    /// FIM of the mono-static link.
    pub fn mono_fim(&self, q: &Mat<C64>) -> Mat<f64> {
        delay_doppler_fim(
            &self.mono_link,
            q,
            &self.waveform,
            self.sensing_noise(),
            self.fim_variant(),
        )
    }

    /// The CRB `U` (17) of the selection `set` (empty: the mono-static link).
    pub fn crb(&self, set: &[usize], q: &Mat<C64>) -> f64 {
        if set.is_empty() {
            return paper_u(&[self.mono_fim(q)]);
        }
        let fims = self.fims(q);
        paper_u(&set.iter().map(|&k| fims[k].clone()).collect::<Vec<_>>())
    }

    /// `U` (17) in the paper's normalised parameters `tau~ = tau/dt`, `f~ = f dt`:
    /// `var(tau)/dt^2 + var(f) dt^2` from the inverse of the summed FIM (the units of the
    /// paper's figures). `+inf` when singular.
    pub fn crb_normalised(&self, set: &[usize], q: &Mat<C64>) -> f64 {
        let fims: Vec<Mat<f64>> = if set.is_empty() {
            vec![self.mono_fim(q)]
        } else {
            let all = self.fims(q);
            set.iter().map(|&k| all[k].clone()).collect()
        };
        let mut sum = Mat::<f64>::zeros(2, 2);
        for j in &fims {
            sum += j;
        }
        let dt = self.scenario.symbol_duration;
        match crate::fim::crb_matrix(&sum) {
            Some(c) => c[(0, 0)] / (dt * dt) + c[(1, 1)] * dt * dt,
            None => f64::INFINITY,
        }
    }

    /// Position CRBs `(velocity unknown, velocity known)` in m^2 of the receivers in
    /// `set` (empty: mono-static), by mapping each `J_k` through the Jacobian of
    /// (48)-(51) (`super::geometry::target_fim`). `None` where not identifiable.
    pub fn position_crbs(
        &self,
        set: &[usize],
        q: &Mat<C64>,
    ) -> (Option<f64>, Option<f64>, Option<f64>) {
        let s = &self.scenario;
        let state = TargetState {
            position: s.target,
            velocity: s.target_velocity,
        };
        let (points, fims): (Vec<Point>, Vec<Mat<f64>>) = if set.is_empty() {
            (vec![s.transmitter], vec![self.mono_fim(q)])
        } else {
            let all = self.fims(q);
            set.iter()
                .map(|&k| (s.receivers[k], all[k].clone()))
                .unzip()
        };
        let pv = position_velocity_crb(s.transmitter, state, &points, &fims, s.carrier);
        let known = position_crb_known_velocity(s.transmitter, state, &points, &fims, s.carrier);
        (pv.map(|x| x.0), pv.map(|x| x.1), known)
    }

    /// Interfering streams `I_k` of RE `k` (0 = sensing stream) under the mask `b`.
    pub fn interferers(&self, k: usize, selected: &[bool]) -> Vec<usize> {
        let mut out: Vec<usize> = (1..=self.receivers()).filter(|&i| i != k + 1).collect();
        if !selected[k] {
            out.push(0);
        }
        out
    }

    /// Rates (20)-(21), bit/s/Hz, of every RE for the stream covariances
    /// `qs = [Q_0, Q_1, ..., Q_K]` (W units) and the selection mask `selected`.
    pub fn rates(&self, qs: &[Mat<C64>], selected: &[bool]) -> Vec<f64> {
        let sigma2 = self.scenario.noise_power;
        let nr = self.scenario.rx_antennas;
        (0..self.receivers())
            .map(|k| {
                let h = &self.comm_channels[k];
                let mut psi = Mat::<C64>::from_fn(nr, nr, |r, c| {
                    C64::new(if r == c { sigma2 } else { 0.0 }, 0.0)
                });
                for i in self.interferers(k, selected) {
                    psi += &(h * &qs[i]) * h.adjoint();
                }
                let total = &psi + &(&(h * &qs[k + 1]) * h.adjoint());
                (log_det(&total) - log_det(&psi)) / std::f64::consts::LN_2
            })
            .collect()
    }

    /// Cooperation cost (22) of `set`.
    pub fn cost(&self, set: &[usize]) -> f64 {
        if set.is_empty() {
            return 0.0;
        }
        let s = &self.scenario;
        cooperation_cost(&s.receivers, s.target, s.cost_weight, set)
    }

    /// Selection mask of `set`.
    pub fn mask(&self, set: &[usize]) -> Vec<bool> {
        let mut b = vec![false; self.receivers()];
        for &k in set {
            b[k] = true;
        }
        b
    }

    /// Communication channels scaled for the design, `G_k = H_k sqrt(P_T) / sigma`.
    pub fn scaled_channels(&self) -> Vec<Mat<C64>> {
        let f = (self.scenario.power_budget / self.scenario.noise_power).sqrt();
        self.comm_channels
            .iter()
            .map(|h| Mat::from_fn(h.nrows(), h.ncols(), |r, c| h[(r, c)] * f))
            .collect()
    }
}
