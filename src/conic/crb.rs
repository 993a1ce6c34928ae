//! Epigraphs of Cramér–Rao bounds for conic programs.
//!
//! For an FIM `J(x)` affine in the decision variables, `tr([J^{-1}]_keep)` is convex, and
//! its epigraph is an LMI by the Schur complement (Boyd & Vandenberghe, A.5.5; the form
//! of (15) of bistatic-monostatic.md and (27)-(28) of near-field-ispac.md, with the
//! nuisance parameters eliminated exactly instead of through an explicit Schur
//! complement `Y - G Z^{-1} G^T`): with `E = [e_k]_{k in keep}` and a new symmetric `T`,
//!
//! ```text
//!   [[ J, E ], [ E^T, T ]] >= 0   <=>   T >= E^T J^{-1} E   (J > 0),
//! ```
//!
//! so minimising `sum_k w_k T_kk` minimises `sum_k w_k [J^{-1}]_kk`.

use super::{Affine, AffineMatrix, Problem};
use crate::error::Result;

/// Adds the epigraph LMI of `sum_k weights[k] [J^{-1}]_{keep[k], keep[k]}` for the affine
/// symmetric `fim` (`n x n`) and returns the affine upper bound `sum_k weights[k] T_kk`
/// (to be minimised). The caller equilibrates `fim` (FIMs mix units; pass `D J D` and
/// fold `D` into `weights`).
pub fn inverse_block_trace(
    prob: &mut Problem,
    fim: &[Vec<Affine>],
    keep: &[usize],
    weights: &[f64],
) -> Result<Affine> {
    let n = fim.len();
    let k = keep.len();
    let t: Vec<Vec<Affine>> = {
        let mut t = vec![vec![Affine::zero(); k]; k];
        for a in 0..k {
            for b in a..k {
                let v = prob.scalar();
                t[a][b] = v.clone();
                t[b][a] = v;
            }
        }
        t
    };
    let block: AffineMatrix = (0..n + k)
        .map(|r| {
            (0..n + k)
                .map(|c| match (r < n, c < n) {
                    (true, true) => fim[r][c].clone(),
                    (true, false) => Affine::constant(if keep[c - n] == r { 1.0 } else { 0.0 }),
                    (false, true) => Affine::constant(if keep[r - n] == c { 1.0 } else { 0.0 }),
                    (false, false) => t[r - n][c - n].clone(),
                })
                .collect()
        })
        .collect();
    prob.lmi_symmetric(block)?;
    let mut bound = Affine::zero();
    for (a, w) in weights.iter().enumerate() {
        bound.add_scaled(*w, &t[a][a]);
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conic::SolverSettings;
    use faer::Mat;

    /// A constant FIM: the program's optimum is the weighted trace of the inverse's block.
    #[test]
    fn optimum_is_the_weighted_trace_of_the_inverse_block() {
        let n = 5;
        let g = Mat::from_fn(n, n, |i, j| {
            ((i * 7 + j * 3) % 5) as f64 - 2.0 + if i == j { 0.5 } else { 0.0 }
        });
        let j = &g * g.transpose() + Mat::<f64>::identity(n, n);
        let inv = crate::linalg::spd_inverse(&j).unwrap();
        let (keep, w) = ([1usize, 3], [0.7, 2.0]);
        let want = w[0] * inv[(1, 1)] + w[1] * inv[(3, 3)];
        let fim: Vec<Vec<Affine>> = (0..n)
            .map(|r| (0..n).map(|c| Affine::constant(j[(r, c)])).collect())
            .collect();
        let mut prob = Problem::new();
        let bound = inverse_block_trace(&mut prob, &fim, &keep, &w).unwrap();
        prob.minimize(bound.clone());
        let sol = prob.solve(&SolverSettings::default()).unwrap();
        assert!(sol.status.is_optimal(), "{:?}", sol.status);
        let got = sol.value(&bound);
        assert!(((got - want) / want).abs() < 1e-7, "{got} vs {want}");
    }
}
