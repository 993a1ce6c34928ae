//! Benchmark of the conic layer on an SDP of the near-field kind: build
//! (modelling + lowering) and solve times of a program with an `n x n`
//! Hermitian PSD transmit covariance (`n = 64`: a `128 x 128` real PSD block).
//!
//! The program (fixed seeded data, all quantities O(1)):
//!
//! ```text
//!   minimise   sum_{k,j} t_kj
//!   over       R = R^H >= 0 (n x n),  t_kj (k = 1..K targets, j = 1..P parameters)
//!   s.t.       tr R <= 1                                       (power budget)
//!              h_u^H R h_u >= gamma_u,  u = 1..U               (SINR-type, linear in R)
//!              [[F_k(R), e_j], [e_j^T, t_kj]] >= 0             (CRB LMIs, (P+1) x (P+1))
//! ```
//!
//! with the Fisher information `F_k(R)_ab = 2 Re(g_ka^H R g_kb) = tr(H_kab R)`,
//! `H_kab = g_kb g_ka^H + g_ka g_kb^H` (dense Hermitian, `n^2` terms each).
//! `F_k(R) = 2 Re(G_k^H R G_k)` is PSD for `R >= 0`, and by the Schur complement
//! the LMI is `t_kj >= [F_k(R)^{-1}]_jj` (the CRB of parameter `j` of target `k`)
//! when `F_k(R) > 0`. The SINR-type rows use `gamma_u = 0.25 ||h_u||^2`, feasible
//! since `R = (1/U) sum_u h_u h_u^H / ||h_u||^2` has `tr R = 1` and
//! `h_u^H R h_u >= ||h_u||^2 / U >= gamma_u` for `U <= 4`.
//!
//! `python/conic_reference.py` builds the same program from the exported data in
//! CVXPY (Clarabel backend, same tolerances) and compares optimum and times.

use std::time::Instant;

use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::{Affine, Problem, SolverSettings};
use crate::error::{IsacError, Result};
use crate::C64;

/// Sizes of the benchmark program.
#[derive(Clone, Copy, Debug)]
pub struct HermitianSdpShape {
    /// Antennas `n` (the covariance is `n x n`).
    pub antennas: usize,
    /// Targets `K`.
    pub targets: usize,
    /// Parameters per target `P` (LMIs are `(P+1) x (P+1)`).
    pub parameters: usize,
    /// SINR-type rows `U` (at most 4, see the module doc).
    pub users: usize,
}

impl Default for HermitianSdpShape {
    fn default() -> Self {
        HermitianSdpShape {
            antennas: 64,
            targets: 2,
            parameters: 3,
            users: 3,
        }
    }
}

/// Result of [`bench_hermitian_sdp`].
#[derive(Clone, Debug)]
pub struct HermitianSdpBench {
    pub shape: HermitianSdpShape,
    pub seed: u64,
    /// Real unknowns and rows of `A`.
    pub variables: usize,
    pub rows: usize,
    /// Building the [`Problem`] (variables, expressions, constraints), seconds.
    pub model_seconds: f64,
    /// Lowering to Clarabel's data, seconds.
    pub lower_seconds: f64,
    /// Clarabel setup + solve, seconds.
    pub solve_seconds: f64,
    /// `model + lower`.
    pub build_seconds: f64,
    pub iterations: u32,
    pub status: String,
    pub objective: f64,
    /// Worst scaled violation at the returned point.
    pub violation: f64,
    /// The data and settings, for the CVXPY reference.
    pub data: Value,
}

impl HermitianSdpBench {
    /// The JSON export (times, answer, and the data to rebuild the program).
    pub fn to_json(&self) -> Value {
        json!({
            "benchmark": "conic_hermitian_sdp",
            "antennas": self.shape.antennas,
            "targets": self.shape.targets,
            "parameters": self.shape.parameters,
            "users": self.shape.users,
            "seed": self.seed,
            "variables": self.variables,
            "rows": self.rows,
            "model_seconds": self.model_seconds,
            "lower_seconds": self.lower_seconds,
            "build_seconds": self.build_seconds,
            "solve_seconds": self.solve_seconds,
            "build_over_solve": self.build_seconds / self.solve_seconds,
            "iterations": self.iterations,
            "status": self.status,
            "objective": self.objective,
            "violation": self.violation,
            "data": self.data,
        })
    }
}

fn cn(rng: &mut ChaCha8Rng) -> C64 {
    // unit-variance circular complex Gaussian by Box-Muller
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen();
    let r = (-u1.ln()).sqrt();
    C64::from_polar(r, 2.0 * std::f64::consts::PI * u2)
}

fn cvec_json(v: &[C64]) -> Value {
    json!({"re": v.iter().map(|z| z.re).collect::<Vec<_>>(),
           "im": v.iter().map(|z| z.im).collect::<Vec<_>>()})
}

/// Build and solve the module's program with seeded data; times split into
/// modelling, lowering and solve.
pub fn bench_hermitian_sdp(
    shape: HermitianSdpShape,
    seed: u64,
    settings: &SolverSettings,
) -> Result<HermitianSdpBench> {
    let HermitianSdpShape {
        antennas: n,
        targets,
        parameters,
        users,
    } = shape;
    if n == 0 || targets == 0 || parameters == 0 || !(1..=4).contains(&users) {
        return Err(IsacError::input(
            "bench",
            "need antennas, targets, parameters >= 1 and 1 <= users <= 4".to_string(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // g_ka: derivative vectors, scaled so that F_k(I/n) has O(1) entries
    let g: Vec<Vec<Vec<C64>>> = (0..targets)
        .map(|_| {
            (0..parameters)
                .map(|_| (0..n).map(|_| cn(&mut rng)).collect())
                .collect()
        })
        .collect();
    let h: Vec<Vec<C64>> = (0..users)
        .map(|_| (0..n).map(|_| cn(&mut rng) / (n as f64).sqrt()).collect())
        .collect();
    let gamma: Vec<f64> = h
        .iter()
        .map(|hu| 0.25 * hu.iter().map(|z| z.norm_sqr()).sum::<f64>())
        .collect();

    let started = Instant::now();
    let mut p = Problem::new();
    let r = p.psd_hermitian(n);
    p.le(r.trace(), 1.0);
    for (hu, gu) in h.iter().zip(&gamma) {
        p.ge(r.quad_form(hu)?, *gu);
    }
    let mut ts = Vec::new();
    for gk in &g {
        // F_k(R)_ab = tr(H_kab R), H_kab = g_b g_a^H + g_a g_b^H (module doc)
        let mut f = vec![vec![Affine::zero(); parameters]; parameters];
        for a in 0..parameters {
            for b in a..parameters {
                let hab = Mat::from_fn(n, n, |i, j| {
                    gk[b][i] * gk[a][j].conj() + gk[a][i] * gk[b][j].conj()
                });
                let e = r.real_trace_with(&hab)?;
                f[b][a] = e.clone();
                f[a][b] = e;
            }
        }
        for j in 0..parameters {
            let t = p.scalar();
            let mut m = vec![vec![Affine::zero(); parameters + 1]; parameters + 1];
            for a in 0..parameters {
                for b in 0..parameters {
                    m[a][b] = f[a][b].clone();
                }
            }
            m[j][parameters] = Affine::constant(1.0);
            m[parameters][j] = Affine::constant(1.0);
            m[parameters][parameters] = t.clone();
            p.lmi_symmetric(m)?;
            ts.push(t);
        }
    }
    p.minimize(Affine::sum(&ts));
    let model_seconds = started.elapsed().as_secs_f64();

    let sol = p.solve(settings)?;
    let lower_seconds = sol.lower_seconds;
    let rows = p.lower(false)?.b.len();
    let data = json!({
        "g": g.iter().map(|gk| gk.iter().map(|v| cvec_json(v)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "h": h.iter().map(|v| cvec_json(v)).collect::<Vec<_>>(),
        "gamma": gamma,
        "settings": {
            "tol_gap_abs": settings.tol_gap_abs,
            "tol_gap_rel": settings.tol_gap_rel,
            "tol_feas": settings.tol_feas,
            "tol_infeas_abs": settings.tol_infeas_abs,
            "tol_infeas_rel": settings.tol_infeas_rel,
            "tol_ktratio": settings.tol_ktratio,
            "max_iter": settings.max_iter,
            "direct_solve_method": settings.direct_solve_method,
        },
    });
    Ok(HermitianSdpBench {
        shape,
        seed,
        variables: p.num_vars(),
        rows,
        model_seconds,
        lower_seconds,
        solve_seconds: sol.total_seconds - lower_seconds,
        build_seconds: model_seconds + lower_seconds,
        iterations: sol.iterations,
        status: sol.status.to_string(),
        objective: sol.objective,
        violation: sol.violation.scaled,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_instance_solves_and_passes_the_gate() {
        let shape = HermitianSdpShape {
            antennas: 6,
            ..HermitianSdpShape::default()
        };
        let b = bench_hermitian_sdp(shape, 7, &SolverSettings::default()).unwrap();
        assert!(b.status.starts_with("optimal"), "{}", b.status);
        assert!(b.objective.is_finite() && b.objective > 0.0);
        assert!(b.violation <= 1e-5);
    }
}
