//! The numerical FIMs of the sampled OFDM model (the independent check of the closed
//! forms in [`super::model`]): the noise-free observations (2), (4) with `W = I`,
//! stacked over slots `l`, symbols `p`, subcarriers `m` and receive antennas, built from
//! the channel sums (3), (5) one subcarrier at a time, and Slepian–Bangs on
//! finite-difference derivatives (4th-order central stencil) with respect to the
//! channel-domain or the position-domain parameters. `O(L P M N_U N_B)` per evaluation:
//! for small instances.

use super::model::{channel_parameters, BpmsModel, ChannelParameters, Geometry};
use crate::fim::slepian_bangs;
use crate::C64;
use faer::Mat;
use std::f64::consts::PI;

/// Channel-domain values that the observation depends on.
#[derive(Debug, Clone)]
pub struct PathValues {
    pub channel: ChannelParameters,
    pub bp_gains: Vec<C64>,
    pub ms_gains: Vec<C64>,
}

/// Which task's observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// BP: the UE receives (2) over `Hbar_m` (3).
    Bistatic,
    /// MS: the BS receives (4) over `H_m` (5).
    Monostatic,
}

/// Stacked noise-free observation of `task` for beamformers `f` (`N_B x L`) and unit-modulus
/// pilots `pilots[p][m]`.
pub fn observation(
    model: &BpmsModel,
    task: Task,
    values: &PathValues,
    f: &Mat<C64>,
    pilots: &[Vec<C64>],
) -> Vec<C64> {
    let s = &model.scenario;
    let df = s.subcarrier_spacing();
    let n = values.channel.aod.len();
    let (rx, gains, delays) = match task {
        Task::Bistatic => (s.ue_antennas, &values.bp_gains, &values.channel.bp_delays),
        Task::Monostatic => (s.bs_antennas, &values.ms_gains, &values.channel.ms_delays),
    };
    // per path: receive response, transmit response
    let paths: Vec<(Vec<C64>, Vec<C64>)> = (0..n)
        .map(|k| {
            let a_b = model.bs_array.steering(values.channel.aod[k]);
            let u = match task {
                Task::Bistatic => model.ue_array.steering(values.channel.aoa[k]),
                Task::Monostatic => a_b.clone(),
            };
            (u, a_b)
        })
        .collect();
    let mut out = vec![];
    for l in 0..f.ncols() {
        // a_B^H f_l per path
        let proj: Vec<C64> = paths
            .iter()
            .map(|(_, v)| (0..v.len()).map(|t| v[t].conj() * f[(t, l)]).sum())
            .collect();
        for row in pilots {
            for (m, &sym) in row.iter().enumerate() {
                for r in 0..rx {
                    let mut y = C64::new(0.0, 0.0);
                    for k in 0..n {
                        let ph = C64::from_polar(1.0, -2.0 * PI * m as f64 * df * delays[k]);
                        y += gains[k] * ph * paths[k].0[r] * proj[k];
                    }
                    out.push(y * sym);
                }
            }
        }
    }
    out
}

/// 4th-order central difference of `mean` along each parameter with steps `steps`.
fn stencil(x0: &[f64], steps: &[f64], mean: impl Fn(&[f64]) -> Vec<C64>) -> Vec<Vec<C64>> {
    (0..x0.len())
        .map(|i| {
            let at = |d: f64| {
                let mut x = x0.to_vec();
                x[i] += d;
                mean(&x)
            };
            let h = steps[i];
            let (p1, m1, p2, m2) = (at(h), at(-h), at(2.0 * h), at(-2.0 * h));
            (0..p1.len())
                .map(|t| (8.0 * (p1[t] - m1[t]) - (p2[t] - m2[t])) / (12.0 * h))
                .collect()
        })
        .collect()
}

/// Finite-difference steps: angles `1e-5` rad, delays `1e-3` of a resolution cell, gains
/// `1e-4 |beta|`, positions `1e-4` m.
fn delay_step(model: &BpmsModel) -> f64 {
    1e-3 / (model.scenario.subcarriers as f64 * model.scenario.subcarrier_spacing())
}

/// Numerical channel-domain FIM of `task` (orders of [`super::model`]).
pub fn channel_fim(model: &BpmsModel, task: Task, f: &Mat<C64>, pilots: &[Vec<C64>]) -> Mat<f64> {
    let n = model.targets() + 1;
    let s = &model.scenario;
    let base = PathValues {
        channel: model.channel.clone(),
        bp_gains: s.bp_gains.clone(),
        ms_gains: s.ms_gains.clone(),
    };
    let gains = match task {
        Task::Bistatic => &s.bp_gains,
        Task::Monostatic => &s.ms_gains,
    };
    let ts = delay_step(model);
    let mut x0 = vec![];
    let mut steps = vec![];
    x0.extend(&model.channel.aod);
    steps.extend(vec![1e-5; n]);
    if task == Task::Bistatic {
        x0.extend(&model.channel.aoa);
        steps.extend(vec![1e-5; n]);
        x0.extend(&model.channel.bp_delays);
    } else {
        x0.extend(&model.channel.ms_delays);
    }
    steps.extend(vec![ts; n]);
    x0.extend(gains.iter().map(|g| g.re));
    x0.extend(gains.iter().map(|g| g.im));
    for _ in 0..2 {
        steps.extend(gains.iter().map(|g| 1e-4 * g.norm()));
    }
    let mean = |x: &[f64]| {
        let mut v = base.clone();
        v.channel.aod = x[..n].to_vec();
        let mut at = n;
        if task == Task::Bistatic {
            v.channel.aoa = x[at..at + n].to_vec();
            at += n;
            v.channel.bp_delays = x[at..at + n].to_vec();
        } else {
            v.channel.ms_delays = x[at..at + n].to_vec();
        }
        at += n;
        let g: Vec<C64> = (0..n).map(|k| C64::new(x[at + k], x[at + n + k])).collect();
        match task {
            Task::Bistatic => v.bp_gains = g,
            Task::Monostatic => v.ms_gains = g,
        }
        observation(model, task, &v, f, pilots)
    };
    slepian_bangs(&stencil(&x0, &steps, mean), s.noise)
}

/// Numerical position-domain FIM of `task`: finite differences of the observation through
/// the geometry map (so the Jacobian is checked too).
pub fn position_fim(model: &BpmsModel, task: Task, f: &Mat<C64>, pilots: &[Vec<C64>]) -> Mat<f64> {
    let k = model.targets();
    let n = k + 1;
    let s = &model.scenario;
    let bs = s.bs_position;
    let g0 = &model.geometry;
    let gains = match task {
        Task::Bistatic => &s.bp_gains,
        Task::Monostatic => &s.ms_gains,
    };
    let ts = delay_step(model);
    // x = positions (and for BP Delta phi, Delta t) in the order of the model doc, then gains
    let mut x0 = vec![];
    let mut steps = vec![];
    x0.extend(g0.ue);
    steps.extend([1e-4; 2]);
    if task == Task::Bistatic {
        x0.push(g0.orientation);
        steps.push(1e-5);
    }
    for t in &g0.targets {
        x0.extend(t);
        steps.extend([1e-4; 2]);
    }
    if task == Task::Bistatic {
        x0.push(g0.clock_bias);
        steps.push(ts);
    }
    x0.extend(gains.iter().map(|g| g.re));
    x0.extend(gains.iter().map(|g| g.im));
    for _ in 0..2 {
        steps.extend(gains.iter().map(|g| 1e-4 * g.norm()));
    }
    let mean = |x: &[f64]| {
        let mut g = g0.clone();
        g.ue = [x[0], x[1]];
        let mut at = 2;
        if task == Task::Bistatic {
            g.orientation = x[at];
            at += 1;
        }
        for t in 0..k {
            g.targets[t] = [x[at], x[at + 1]];
            at += 2;
        }
        if task == Task::Bistatic {
            g.clock_bias = x[at];
            at += 1;
        }
        let gains: Vec<C64> = (0..n).map(|j| C64::new(x[at + j], x[at + n + j])).collect();
        let values = PathValues {
            channel: channel_parameters(bs, &g as &Geometry),
            bp_gains: if task == Task::Bistatic {
                gains.clone()
            } else {
                s.bp_gains.clone()
            },
            ms_gains: if task == Task::Monostatic {
                gains
            } else {
                s.ms_gains.clone()
            },
        };
        observation(model, task, &values, f, pilots)
    };
    slepian_bangs(&stencil(&x0, &steps, mean), s.noise)
}
