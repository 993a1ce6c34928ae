//! Model of the joint bistatic positioning (BP) / monostatic sensing (MS) system
//! (bistatic-monostatic.md, Section II): geometry to channel parameters, the
//! channel-domain FIMs (6) of both tasks in closed form over the subcarriers, the
//! Jacobians to the position domain (7), (9), the CRBs (8), (10) and the fused bound of
//! Remark 1.
//!
//! # Conventions (docs/bpms.md#conventions)
//! `a(t) = [exp(-j pi n sin t)]`, `n = 0..N-1`, at both ends (half-wavelength ULAs); the BS
//! array along the x axis, AOD `theta_k = atan2(dy, dx) - pi/2` from the BS towards the
//! UE (`k = 0`) or target `k`; the UE's AOA `psi_k = atan2(dy, dx) - Delta phi` from the UE
//! towards the BS (`k = 0`) or target `k`; BP delays `bar tau_0 = |p_U - p_B| / c + Delta t`,
//! `bar tau_k = (|p_k - p_B| + |p_U - p_k|) / c + Delta t`; MS delays
//! `tau_k = 2 |p_k - p_B| / c` (`p_0 = p_U`); subcarriers `m = 0..M-1`.
//!
//! # Parameter orders
//! - BP channel (5K+5): `[theta_0..K, psi_0..K, bar tau_0..K, Re bar beta_0..K, Im bar beta_0..K]`.
//! - BP position (4K+6), as printed under (6): `[p_U (x, y), Delta phi, p_1 .. p_K, Delta t,
//!   Re bar beta, Im bar beta]`.
//! - MS channel (4K+4): `[theta_0..K, tau_0..K, Re beta, Im beta]`.
//! - MS position (4K+4): `[p_U, p_1 .. p_K, Re beta, Im beta]`.
//! - Fused (Remark 1): `[p_1 .. p_K, p_U, Delta phi, Delta t, Re bar beta, Im bar beta,
//!   Re beta, Im beta]`, `6K+8` entries (the paper writes `6K+6`; its own list has
//!   `2K + 2 + 1 + 1 + 4(K+1) = 6K+8`).

use super::scenario::BpmsScenario;
use crate::fim::ofdm::{OfdmFim, PathDerivative};
use crate::fim::{crb_matrix, reparametrize};
use crate::physics::array::{PhaseSign, Ula};
use crate::physics::geometry::{angle, angle_gradient, distance, distance_gradient, Point};
use crate::physics::SPEED_OF_LIGHT;
use crate::C64;
use faer::Mat;
use std::f64::consts::FRAC_PI_2;

/// The position-domain unknowns that move the channel parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    pub ue: Point,
    pub targets: Vec<Point>,
    /// `Delta phi` (rad).
    pub orientation: f64,
    /// `Delta t` (s).
    pub clock_bias: f64,
}

/// Channel-domain angles and delays of the `K + 1` paths (UE first).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelParameters {
    /// AODs `theta_k` at the BS (shared by BP and MS).
    pub aod: Vec<f64>,
    /// AOAs `psi_k` at the UE (BP).
    pub aoa: Vec<f64>,
    /// `bar tau_k` (BP, with the clock bias) and `tau_k` (MS round trip).
    pub bp_delays: Vec<f64>,
    pub ms_delays: Vec<f64>,
}

/// The geometry map of the module doc.
pub fn channel_parameters(bs: Point, g: &Geometry) -> ChannelParameters {
    let c = SPEED_OF_LIGHT;
    let objects: Vec<Point> = std::iter::once(g.ue)
        .chain(g.targets.iter().copied())
        .collect();
    let aod = objects.iter().map(|p| angle(bs, *p) - FRAC_PI_2).collect();
    let aoa = objects
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let towards = if k == 0 { bs } else { *p };
            angle(g.ue, towards) - g.orientation
        })
        .collect();
    let bp_delays = objects
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let path = if k == 0 {
                distance(g.ue, bs)
            } else {
                distance(*p, bs) + distance(g.ue, *p)
            };
            path / c + g.clock_bias
        })
        .collect();
    let ms_delays = objects.iter().map(|p| 2.0 * distance(*p, bs) / c).collect();
    ChannelParameters {
        aod,
        aoa,
        bp_delays,
        ms_delays,
    }
}

/// Index helpers of the parameter orders (module doc), for `K` targets.
pub mod index {
    /// BP position: `p_U` x, y.
    pub const BP_UE: [usize; 2] = [0, 1];
    /// BP position: `Delta phi`.
    pub const BP_ORIENTATION: usize = 2;
    /// BP position: target `k` (1-based) coordinate `c`.
    pub fn bp_target(k: usize, c: usize) -> usize {
        3 + 2 * (k - 1) + c
    }
    pub fn bp_clock(k: usize) -> usize {
        3 + 2 * k
    }
    pub fn bp_positions(k: usize) -> usize {
        4 * k + 6
    }
    /// MS position: object `j` (0 = UE) coordinate `c`.
    pub fn ms_object(j: usize, c: usize) -> usize {
        2 * j + c
    }
    pub fn ms_positions(k: usize) -> usize {
        4 * k + 4
    }
    /// Fused: object `j` (0 = UE) coordinate `c` (targets first, then the UE).
    pub fn fused_object(k: usize, j: usize, c: usize) -> usize {
        if j == 0 {
            2 * k + c
        } else {
            2 * (j - 1) + c
        }
    }
    pub fn fused_len(k: usize) -> usize {
        6 * k + 8
    }
}

/// `d xi_bar / d eta_bar` (BP, `(5K+5) x (4K+6)`) at the geometry.
pub fn bp_jacobian(bs: Point, g: &Geometry) -> Mat<f64> {
    let k = g.targets.len();
    let n = k + 1;
    let c = SPEED_OF_LIGHT;
    let mut j = Mat::zeros(5 * n, index::bp_positions(k));
    let set2 = |j: &mut Mat<f64>, row: usize, cols: [usize; 2], v: [f64; 2], s: f64| {
        j[(row, cols[0])] += s * v[0];
        j[(row, cols[1])] += s * v[1];
    };
    let ue = index::BP_UE;
    // LoS path k = 0
    set2(&mut j, 0, ue, angle_gradient(g.ue, bs), 1.0);
    set2(&mut j, n, ue, angle_gradient(bs, g.ue), -1.0);
    j[(n, index::BP_ORIENTATION)] = -1.0;
    set2(&mut j, 2 * n, ue, distance_gradient(g.ue, bs), 1.0 / c);
    j[(2 * n, index::bp_clock(k))] = 1.0;
    for (t, p) in g.targets.iter().enumerate() {
        let row = t + 1;
        let pk = [index::bp_target(t + 1, 0), index::bp_target(t + 1, 1)];
        set2(&mut j, row, pk, angle_gradient(*p, bs), 1.0);
        // psi_k = angle(p_U -> p_k) - Delta phi
        set2(&mut j, n + row, pk, angle_gradient(*p, g.ue), 1.0);
        set2(&mut j, n + row, ue, angle_gradient(*p, g.ue), -1.0);
        j[(n + row, index::BP_ORIENTATION)] = -1.0;
        // bar tau_k = (|p_k - p_B| + |p_U - p_k|) / c + Delta t
        set2(&mut j, 2 * n + row, pk, distance_gradient(*p, bs), 1.0 / c);
        set2(
            &mut j,
            2 * n + row,
            pk,
            distance_gradient(*p, g.ue),
            1.0 / c,
        );
        set2(
            &mut j,
            2 * n + row,
            ue,
            distance_gradient(g.ue, *p),
            1.0 / c,
        );
        j[(2 * n + row, index::bp_clock(k))] = 1.0;
    }
    for r in 0..2 * n {
        j[(3 * n + r, 4 + 2 * k + r)] = 1.0;
    }
    j
}

/// `d xi / d eta` (MS, `(4K+4) x (4K+4)`) at the geometry.
pub fn ms_jacobian(bs: Point, g: &Geometry) -> Mat<f64> {
    let k = g.targets.len();
    let n = k + 1;
    let c = SPEED_OF_LIGHT;
    let mut j = Mat::zeros(4 * n, index::ms_positions(k));
    for (o, p) in std::iter::once(&g.ue).chain(&g.targets).enumerate() {
        let ga = angle_gradient(*p, bs);
        let gd = distance_gradient(*p, bs);
        for cc in 0..2 {
            j[(o, index::ms_object(o, cc))] = ga[cc];
            j[(n + o, index::ms_object(o, cc))] = 2.0 * gd[cc] / c;
        }
    }
    for r in 0..2 * n {
        j[(2 * n + r, 2 * n + r)] = 1.0;
    }
    j
}

/// Both bounds at one transmit covariance.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// Position-domain FIMs (orders of the module doc).
    pub fim_bp: Mat<f64>,
    pub fim_ms: Mat<f64>,
    /// (8): `tr` of the `p_U` block of the BP CRB (m^2); `inf` when singular.
    pub crb_bp: f64,
    /// (10): `tr` of the `K + 1` position blocks of the MS CRB (m^2).
    pub crb_ms: f64,
    /// Remark 1: the same two traces from the fused FIM.
    pub fused_crb_bp: f64,
    pub fused_crb_ms: f64,
}

/// The model of one instance: channel parameters, FIM builders and Jacobians.
#[derive(Debug, Clone)]
pub struct BpmsModel {
    pub scenario: BpmsScenario,
    pub geometry: Geometry,
    pub channel: ChannelParameters,
    pub bs_array: Ula,
    pub ue_array: Ula,
    pub bp_fim: OfdmFim,
    pub ms_fim: OfdmFim,
    pub bp_jacobian: Mat<f64>,
    pub ms_jacobian: Mat<f64>,
    /// The codebook of the CPA designs when it is not [`BpmsModel::codebook`]: the analog
    /// codebook of Section V-B (`None`: the digital codebook of Remark 2).
    pub analog_codebook: Option<Mat<C64>>,
}

impl BpmsModel {
    pub fn new(scenario: BpmsScenario) -> Self {
        let geometry = Geometry {
            ue: scenario.ue_position,
            targets: scenario.targets.clone(),
            orientation: scenario.orientation,
            clock_bias: scenario.clock_bias,
        };
        let bs = scenario.bs_position;
        let channel = channel_parameters(bs, &geometry);
        let bs_array = Ula::new(scenario.bs_antennas, 0.5, PhaseSign::Negative);
        let ue_array = Ula::new(scenario.ue_antennas, 0.5, PhaseSign::Negative);
        let one = C64::new(1.0, 0.0);
        let j = C64::new(0.0, 1.0);
        let n = scenario.targets() + 1;
        // BP (3): u = a_U(psi_k), v = a_B(theta_k)
        let mut bp = vec![];
        let a_b: Vec<Vec<C64>> = channel.aod.iter().map(|&t| bs_array.steering(t)).collect();
        let da_b: Vec<Vec<C64>> = channel
            .aod
            .iter()
            .map(|&t| bs_array.steering_derivative(t))
            .collect();
        let a_u: Vec<Vec<C64>> = channel.aoa.iter().map(|&t| ue_array.steering(t)).collect();
        let da_u: Vec<Vec<C64>> = channel
            .aoa
            .iter()
            .map(|&t| ue_array.steering_derivative(t))
            .collect();
        let g = &scenario.bp_gains;
        let tau = &channel.bp_delays;
        let param = |k: usize, d: u8, scale: C64, terms: Vec<(Vec<C64>, Vec<C64>)>, tau: &[f64]| {
            PathDerivative {
                delay: tau[k],
                delay_order: d,
                scale,
                terms,
            }
        };
        for k in 0..n {
            bp.push(param(
                k,
                0,
                g[k],
                vec![(a_u[k].clone(), da_b[k].clone())],
                tau,
            ));
        }
        for k in 0..n {
            bp.push(param(
                k,
                0,
                g[k],
                vec![(da_u[k].clone(), a_b[k].clone())],
                tau,
            ));
        }
        for k in 0..n {
            bp.push(param(
                k,
                1,
                g[k],
                vec![(a_u[k].clone(), a_b[k].clone())],
                tau,
            ));
        }
        for scale in [one, j] {
            for k in 0..n {
                bp.push(param(
                    k,
                    0,
                    scale,
                    vec![(a_u[k].clone(), a_b[k].clone())],
                    tau,
                ));
            }
        }
        // MS (5): u = v = a_B(theta_k)
        let g = &scenario.ms_gains;
        let tau = &channel.ms_delays;
        let mut ms = vec![];
        for k in 0..n {
            let terms = vec![
                (da_b[k].clone(), a_b[k].clone()),
                (a_b[k].clone(), da_b[k].clone()),
            ];
            ms.push(param(k, 0, g[k], terms, tau));
        }
        for k in 0..n {
            ms.push(param(
                k,
                1,
                g[k],
                vec![(a_b[k].clone(), a_b[k].clone())],
                tau,
            ));
        }
        for scale in [one, j] {
            for k in 0..n {
                ms.push(param(
                    k,
                    0,
                    scale,
                    vec![(a_b[k].clone(), a_b[k].clone())],
                    tau,
                ));
            }
        }
        let (m, df) = (scenario.subcarriers, scenario.subcarrier_spacing());
        let bp_fim = OfdmFim::new(m, df, scenario.symbols, scenario.noise, bp);
        let ms_fim = OfdmFim::new(m, df, scenario.symbols, scenario.noise, ms);
        let bp_jacobian = bp_jacobian(bs, &geometry);
        let ms_jacobian = ms_jacobian(bs, &geometry);
        BpmsModel {
            scenario,
            geometry,
            channel,
            bs_array,
            ue_array,
            bp_fim,
            ms_fim,
            bp_jacobian,
            ms_jacobian,
            analog_codebook: None,
        }
    }

    /// `K`.
    pub fn targets(&self) -> usize {
        self.scenario.targets()
    }

    /// `tr V <= P_B / M` (11b).
    pub fn power_budget(&self) -> f64 {
        self.scenario.power / self.scenario.subcarriers as f64
    }

    /// The codebook of Remark 2, `U = [a_B(theta_0..K), da_B(theta_0..K)]` (`N_B x (2K+2)`).
    pub fn codebook(&self) -> Mat<C64> {
        let n = self.targets() + 1;
        let cols: Vec<Vec<C64>> = self
            .channel
            .aod
            .iter()
            .map(|&t| self.bs_array.steering(t))
            .chain(
                self.channel
                    .aod
                    .iter()
                    .map(|&t| self.bs_array.steering_derivative(t)),
            )
            .collect();
        Mat::from_fn(self.scenario.bs_antennas, 2 * n, |r, c| cols[c][r])
    }

    /// The codebook the CPA designs allocate power over: the analog codebook when set,
    /// else [`BpmsModel::codebook`].
    pub fn cpa_codebook(&self) -> Mat<C64> {
        self.analog_codebook
            .clone()
            .unwrap_or_else(|| self.codebook())
    }

    /// Position-domain FIM of BP (7).
    pub fn bp_position_fim(&self, v: &Mat<C64>) -> Mat<f64> {
        reparametrize(&self.bp_fim.fim(v), &self.bp_jacobian)
    }

    /// Position-domain FIM of MS (9).
    pub fn ms_position_fim(&self, v: &Mat<C64>) -> Mat<f64> {
        reparametrize(&self.ms_fim.fim(v), &self.ms_jacobian)
    }

    /// Remark 1: both position FIMs embedded in the fused order and summed.
    pub fn fused_fim(&self, fim_bp: &Mat<f64>, fim_ms: &Mat<f64>) -> Mat<f64> {
        let k = self.targets();
        let bp_map = bp_to_fused(k);
        let ms_map = ms_to_fused(k);
        let mut f = Mat::zeros(index::fused_len(k), index::fused_len(k));
        for (a, &fa) in bp_map.iter().enumerate() {
            for (b, &fb) in bp_map.iter().enumerate() {
                f[(fa, fb)] += fim_bp[(a, b)];
            }
        }
        for (a, &fa) in ms_map.iter().enumerate() {
            for (b, &fb) in ms_map.iter().enumerate() {
                f[(fa, fb)] += fim_ms[(a, b)];
            }
        }
        f
    }

    /// Both CRBs (and the fused ones) at the transmit covariance `v`.
    pub fn bounds(&self, v: &Mat<C64>) -> Bounds {
        let k = self.targets();
        let fim_bp = self.bp_position_fim(v);
        let fim_ms = self.ms_position_fim(v);
        let fused = self.fused_fim(&fim_bp, &fim_ms);
        let ue_fused: Vec<usize> = (0..2).map(|c| index::fused_object(k, 0, c)).collect();
        let pos_fused: Vec<usize> = (0..2 * k + 2).collect();
        Bounds {
            crb_bp: block_trace(&fim_bp, &index::BP_UE),
            crb_ms: block_trace(&fim_ms, &(0..2 * k + 2).collect::<Vec<_>>()),
            fused_crb_bp: block_trace(&fused, &ue_fused),
            fused_crb_ms: block_trace(&fused, &pos_fused),
            fim_bp,
            fim_ms,
        }
    }
}

/// `tr` of the rows/columns `keep` of `J^{-1}` (equilibrated inverse); `inf` if singular.
pub fn block_trace(j: &Mat<f64>, keep: &[usize]) -> f64 {
    match crb_matrix(j) {
        Some(c) => keep.iter().map(|&i| c[(i, i)]).sum(),
        None => f64::INFINITY,
    }
}

/// Fused index of every BP position-domain index.
pub fn bp_to_fused(k: usize) -> Vec<usize> {
    let mut map = vec![0; index::bp_positions(k)];
    map[0] = index::fused_object(k, 0, 0);
    map[1] = index::fused_object(k, 0, 1);
    map[index::BP_ORIENTATION] = 2 * k + 2;
    for t in 1..=k {
        for c in 0..2 {
            map[index::bp_target(t, c)] = index::fused_object(k, t, c);
        }
    }
    map[index::bp_clock(k)] = 2 * k + 3;
    for r in 0..2 * (k + 1) {
        map[4 + 2 * k + r] = 2 * k + 4 + r;
    }
    map
}

/// Fused index of every MS position-domain index.
pub fn ms_to_fused(k: usize) -> Vec<usize> {
    let mut map = vec![0; index::ms_positions(k)];
    for o in 0..=k {
        for c in 0..2 {
            map[index::ms_object(o, c)] = index::fused_object(k, o, c);
        }
    }
    for r in 0..2 * (k + 1) {
        map[2 * k + 2 + r] = 4 * k + 6 + r;
    }
    map
}
