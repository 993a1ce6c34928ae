//! Small dense linear-algebra helpers over faer used across the crate.

use crate::C64;
use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};

/// Inverse of a symmetric positive-definite matrix by Cholesky; `None` if not SPD.
pub fn spd_inverse(a: &Mat<f64>) -> Option<Mat<f64>> {
    if a.nrows() == 0 || a.nrows() != a.ncols() || !all_finite(a) {
        return None;
    }
    let llt = a.llt(Side::Lower).ok()?;
    Some(llt.inverse())
}

/// Eigenvalues of a real symmetric matrix, ascending.
pub fn symmetric_eigenvalues(a: &Mat<f64>) -> Option<Vec<f64>> {
    if !all_finite(a) {
        return None;
    }
    let mut v = a.self_adjoint_eigenvalues(Side::Lower).ok()?;
    v.sort_by(|x, y| x.total_cmp(y));
    Some(v)
}

/// Eigen-decomposition of a real symmetric matrix: (ascending eigenvalues, eigenvectors as
/// columns).
pub fn symmetric_eigen(a: &Mat<f64>) -> Option<(Vec<f64>, Mat<f64>)> {
    if !all_finite(a) {
        return None;
    }
    let evd = a.self_adjoint_eigen(Side::Lower).ok()?;
    let n = a.nrows();
    let s = evd.S();
    let u = evd.U();
    let vals: Vec<f64> = (0..n).map(|i| s.column_vector()[i]).collect();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&i, &j| vals[i].total_cmp(&vals[j]));
    let sorted = idx.iter().map(|&i| vals[i]).collect();
    Some((sorted, Mat::from_fn(n, n, |r, c| u[(r, idx[c])])))
}

/// Eigen-decomposition of a Hermitian matrix: (ascending eigenvalues, eigenvectors as columns).
pub fn hermitian_eigen(a: &Mat<C64>) -> Option<(Vec<f64>, Mat<C64>)> {
    let evd = a.self_adjoint_eigen(Side::Lower).ok()?;
    let n = a.nrows();
    let s = evd.S();
    let u = evd.U();
    let mut idx: Vec<usize> = (0..n).collect();
    let vals: Vec<f64> = (0..n).map(|i| s.column_vector()[i].re).collect();
    idx.sort_by(|&i, &j| vals[i].total_cmp(&vals[j]));
    let sorted_vals = idx.iter().map(|&i| vals[i]).collect();
    let vecs = Mat::from_fn(n, n, |r, c| u[(r, idx[c])]);
    Some((sorted_vals, vecs))
}

/// Hermitian positive-semidefinite square root `R^{1/2}` (negative eigenvalues clipped to 0).
pub fn hermitian_sqrt(a: &Mat<C64>) -> Option<Mat<C64>> {
    let (vals, vecs) = hermitian_eigen(a)?;
    let n = a.nrows();
    Some(Mat::from_fn(n, n, |r, c| {
        (0..n)
            .map(|k| vecs[(r, k)] * vals[k].max(0.0).sqrt() * vecs[(c, k)].conj())
            .sum()
    }))
}

/// Numerical rank of a Hermitian PSD matrix: eigenvalues above `rel_tol * max eigenvalue`.
pub fn hermitian_rank(a: &Mat<C64>, rel_tol: f64) -> usize {
    match hermitian_eigen(a) {
        Some((vals, _)) => {
            let max = vals.iter().cloned().fold(0.0, f64::max);
            vals.iter().filter(|&&v| v > rel_tol * max).count()
        }
        None => 0,
    }
}

/// Trace of a complex square matrix.
pub fn trace(a: &Mat<C64>) -> C64 {
    (0..a.nrows()).map(|i| a[(i, i)]).sum()
}

/// `x^H A y`.
pub fn bilinear(x: &[C64], a: &Mat<C64>, y: &[C64]) -> C64 {
    let mut acc = C64::new(0.0, 0.0);
    for (i, xi) in x.iter().enumerate() {
        let mut row = C64::new(0.0, 0.0);
        for (j, yj) in y.iter().enumerate() {
            row += a[(i, j)] * yj;
        }
        acc += xi.conj() * row;
    }
    acc
}

/// `x^H y`.
pub fn inner(x: &[C64], y: &[C64]) -> C64 {
    x.iter().zip(y).map(|(a, b)| a.conj() * b).sum()
}

/// Whether every entry is finite.
pub fn all_finite(a: &Mat<f64>) -> bool {
    (0..a.nrows()).all(|i| (0..a.ncols()).all(|j| a[(i, j)].is_finite()))
}

/// Real matrix product `A B`.
pub fn matmul(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    a * b
}

/// Hermitian part `(A + A^H)/2`, to clean round-off from solver outputs.
pub fn hermitian_part(a: &Mat<C64>) -> Mat<C64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| {
        (a[(i, j)] + a[(j, i)].conj()) * 0.5
    })
}

/// Hermitian part of `a` with negative eigenvalues (solver round-off) clipped to zero: the
/// nearest PSD matrix in the Frobenius norm.
pub fn psd_part(a: &Mat<C64>) -> Mat<C64> {
    let n = a.nrows();
    let h = Mat::from_fn(n, n, |r, c| (a[(r, c)] + a[(c, r)].conj()) * 0.5);
    match hermitian_eigen(&h) {
        Some((vals, vecs)) => Mat::from_fn(n, n, |r, c| {
            (0..n)
                .map(|k| vecs[(r, k)] * vecs[(c, k)].conj() * vals[k].max(0.0))
                .sum()
        }),
        None => h,
    }
}

/// Solves `A x = b` for a Hermitian positive-definite `A` by Cholesky; `None` if `A` is
/// not positive definite or the answer is not finite.
pub fn hermitian_solve(a: &Mat<C64>, b: &[C64]) -> Option<Vec<C64>> {
    let n = a.nrows();
    if n == 0 || a.ncols() != n || b.len() != n {
        return None;
    }
    let llt = a.llt(Side::Lower).ok()?;
    let rhs = Mat::from_fn(n, 1, |i, _| b[i]);
    let x = faer::linalg::solvers::Solve::solve(&llt, &rhs);
    let out: Vec<C64> = (0..n).map(|i| x[(i, 0)]).collect();
    out.iter()
        .all(|z| z.re.is_finite() && z.im.is_finite())
        .then_some(out)
}

/// An orthonormal basis (columns) of the span of `vectors` (each of length `n`): the
/// eigenvectors of `sum_v v v^H / |v|^2` (each vector normalised first, so that vectors
/// of very different scales count alike) with eigenvalues above `rel_tol` times the
/// largest.
pub fn orthonormal_basis(vectors: &[Vec<C64>], n: usize, rel_tol: f64) -> Option<Mat<C64>> {
    let norms: Vec<f64> = vectors
        .iter()
        .map(|v| v.iter().map(|z| z.norm_sqr()).sum::<f64>())
        .collect();
    let gram = Mat::from_fn(n, n, |a, b| {
        vectors
            .iter()
            .zip(&norms)
            .filter(|(_, &w)| w > 0.0)
            .map(|(v, w)| v[a] * v[b].conj() / *w)
            .sum::<C64>()
    });
    let (vals, vecs) = hermitian_eigen(&gram)?;
    let max = vals.iter().cloned().fold(0.0, f64::max);
    let keep: Vec<usize> = (0..n).rev().filter(|&k| vals[k] > rel_tol * max).collect();
    Some(Mat::from_fn(n, keep.len(), |a, k| vecs[(a, keep[k])]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spd_inverse_is_inverse_and_rejects_indefinite() {
        let a = Mat::from_fn(3, 3, |i, j| if i == j { 4.0 } else { 1.0 });
        let inv = spd_inverse(&a).unwrap();
        let prod = &a * &inv;
        for i in 0..3 {
            for j in 0..3 {
                assert!((prod[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        let b = Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 2.0 });
        assert!(spd_inverse(&b).is_none());
    }

    #[test]
    fn hermitian_sqrt_squares_back() {
        let a = Mat::from_fn(3, 3, |i, j| {
            let z = C64::new((i + j) as f64 * 0.3, i as f64 - j as f64);
            if i == j {
                C64::new(5.0, 0.0)
            } else {
                z
            }
        });
        let s = hermitian_sqrt(&a).unwrap();
        let back = &s * &s;
        for i in 0..3 {
            for j in 0..3 {
                assert!((back[(i, j)] - a[(i, j)]).norm() < 1e-10);
            }
        }
        assert_eq!(hermitian_rank(&a, 1e-9), 3);
    }
}
