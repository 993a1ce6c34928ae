//! Item 4 of the issue: whatever produced a design, recompute the SINRs (5), per-BS
//! powers (C1), the CRLB (7) and the structural constraints (C4-C6) from the returned
//! beamformers and sensing covariances alone, and list every violation.

use crate::C64;
use faer::Mat;

use super::model::NetworkModel;
use super::program::NetworkDesign;

/// Relative tolerance of the re-check: round-off only (the programs keep a margin of
/// [`super::program::PROGRAM_MARGIN`] to the targets).
pub const VERIFY_TOL: f64 = 1e-7;

/// The re-evaluated metrics of a design.
#[derive(Debug, Clone)]
pub struct Verification {
    /// Per user, linear.
    pub sinr: Vec<f64>,
    /// Per BS, W.
    pub bs_power: Vec<f64>,
    pub total_power: f64,
    /// m^2.
    pub crlb: f64,
    /// Every violated constraint, one line each (empty: the design is feasible).
    pub violations: Vec<String>,
    /// The largest relative violation over C1-C3 (SINR shortfall `1 - gamma_k / Gamma_k`,
    /// power excess `p_s / P - 1`, CRLB excess `crlb / epsilon - 1`; 0 when all hold,
    /// infinite for a structural violation: C6, the receiving BS transmitting, a
    /// non-PSD `R_s`, an unbounded CRLB).
    pub max_relative_violation: f64,
}

/// Re-evaluates `d` from its beamformers and covariances.
pub fn verify(model: &NetworkModel, d: &NetworkDesign) -> Verification {
    let sc = &model.scenario;
    let s_count = model.bs_count();
    let k_count = model.user_count();
    let n = model.antennas();
    let mut violations = Vec::new();
    let mut worst = 0.0f64;
    let r = d.receiver;
    for (k, &s) in d.association.iter().enumerate() {
        if s == r {
            violations.push(format!("C6: user {k} is served by the receiving BS {r}"));
            worst = f64::INFINITY;
        }
    }
    if sc.receiving_bs.is_some_and(|x| x != r) {
        violations.push("receiving_bs: differs from the requested one".into());
    }
    let inner = |h: &[C64], w: &[C64]| -> C64 { h.iter().zip(w).map(|(a, b)| a.conj() * b).sum() };
    let quad = |h: &[C64], m: &Mat<C64>| -> f64 {
        (0..n)
            .map(|a| (0..n).map(|b| h[a].conj() * m[(a, b)] * h[b]).sum::<C64>())
            .sum::<C64>()
            .re
    };
    let sinr: Vec<f64> = (0..k_count)
        .map(|k| {
            let signal =
                inner(&model.user_channels[d.association[k]][k], &d.beamformers[k]).norm_sqr();
            let mut interference = sc.user_noise;
            for kk in (0..k_count).filter(|&kk| kk != k) {
                interference += inner(
                    &model.user_channels[d.association[kk]][k],
                    &d.beamformers[kk],
                )
                .norm_sqr();
            }
            for s in (0..s_count).filter(|&s| s != r) {
                interference += quad(&model.user_channels[s][k], &d.sensing[s]);
            }
            signal / interference
        })
        .collect();
    for (k, (&g, &target)) in sinr.iter().zip(&sc.min_sinr).enumerate() {
        worst = worst.max(1.0 - g / target);
        if g < target * (1.0 - VERIFY_TOL) {
            violations.push(format!(
                "C3: user {k} SINR {:.4} dB < {:.4} dB",
                10.0 * g.log10(),
                10.0 * target.log10()
            ));
        }
    }
    // covariances C_s = sum_{a(k)=s} w w^H + R_s, and the sensing PSD check
    let mut cov: Vec<Mat<C64>> = d.sensing.clone();
    for s in 0..s_count {
        if let Some((vals, _)) = crate::linalg::hermitian_eigen(&d.sensing[s]) {
            let top = vals.iter().copied().fold(0.0, f64::max);
            let low = vals.iter().copied().fold(f64::INFINITY, f64::min);
            if low < -1e-12 * top.max(sc.max_power) {
                violations.push(format!("R_{s} is not PSD (eigenvalue {low:.3e})"));
                worst = f64::INFINITY;
            }
        }
    }
    if (0..n).any(|a| (0..n).any(|b| d.sensing[r][(a, b)].norm() > 0.0)) {
        violations.push(format!("the receiving BS {r} transmits a sensing signal"));
        worst = f64::INFINITY;
    }
    for (k, w) in d.beamformers.iter().enumerate() {
        let c = &mut cov[d.association[k]];
        for a in 0..n {
            for b in 0..n {
                c[(a, b)] += w[a] * w[b].conj();
            }
        }
    }
    let bs_power: Vec<f64> = cov.iter().map(bs_power_of).collect();
    for (s, &pw) in bs_power.iter().enumerate() {
        worst = worst.max(pw / sc.max_power - 1.0);
        if pw > sc.max_power * (1.0 + VERIFY_TOL) {
            violations.push(format!(
                "C1: BS {s} transmits {:.4} dBm > {:.4} dBm",
                crate::input::watts_to_dbm(pw),
                crate::input::watts_to_dbm(sc.max_power)
            ));
        }
    }
    let on: Vec<usize> = (0..s_count)
        .filter(|&s| s != r && bs_power_of(&cov[s]) > 0.0)
        .collect();
    let crlb = match model.fim_map_at(r, &on, sc.target) {
        Ok(f) => f.blocks(&cov).crlb(),
        Err(_) => f64::INFINITY,
    };
    worst = worst.max(if crlb.is_nan() {
        f64::INFINITY
    } else {
        crlb / sc.max_crlb - 1.0
    });
    if !(crlb <= sc.max_crlb * (1.0 + VERIFY_TOL)) {
        violations.push(format!("C2: CRLB {crlb:.4e} m^2 > {:.4e} m^2", sc.max_crlb));
    }
    Verification {
        sinr,
        total_power: bs_power.iter().sum(),
        bs_power,
        crlb,
        violations,
        max_relative_violation: worst,
    }
}

fn bs_power_of(c: &Mat<C64>) -> f64 {
    (0..c.nrows()).map(|i| c[(i, i)].re).sum()
}
