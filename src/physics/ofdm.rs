//! Sums over OFDM subcarriers in closed form.
//!
//! Every FIM of a path-based OFDM model (bistatic-monostatic.md (6); any model whose
//! subcarrier `m` sees the phase `exp(-j 2 pi m Delta_f tau)`) needs, for each pair of
//! paths, the sums
//!
//! ```text
//!   T_n(x) = sum_{m=0}^{M-1} m^n exp(-j 2 pi m x),   n = 0, 1, 2,   x = Delta_f (tau_i - tau_j),
//! ```
//!
//! `n` counting the delay derivatives (`d/dtau` brings `-j 2 pi m Delta_f`). The explicit
//! sum costs `O(M)` per pair and entry (`M = 1024` in the paper); these are `O(1)`.
//!
//! # Stability
//! The textbook geometric-series forms divide by `(1 - z)^(n+1)`, `z = exp(-j 2 pi x)`, and
//! cancel catastrophically when `x -> 0`: two paths whose delays differ by much less
//! than one resolution cell `1 / (M Delta_f)` (a target beside the UE) lose all their
//! digits. Here
//!
//! - `x` is first reduced to `[-1/2, 1/2)` (the sums have period 1 in `x`);
//! - for `|2 pi M x| <= 2` a Taylor series in `x` about 0 with the normalised power sums
//!   `Q_p = sum_m (m/M)^p` (positive terms; no cancellation: every term is at most
//!   `e^2` times the sum);
//! - otherwise the recursion `(1 - z) T_0 = 1 - z^M`,
//!   `(1 - z) T_1 = (T_0 - 1) - (M-1) z^M`,
//!   `(1 - z) T_2 = 2 T_1 - (T_0 - 1) - (M-1)^2 z^M` (from
//!   `T_n - z T_n = sum_m (m^n - (m-1)^n) z^m - (M-1)^n z^M`), with
//!   `1 - z = 2 j sin(pi x) exp(-j pi x)` formed without cancellation; there
//!   `|1 - z| >= 2 sin(1/M)`, so the divisions lose at most a factor of order one.
//!
//! Tests: agreement with the explicit sum (compensated) over `x` from `1e-15 / M` to
//! `1/2`, at both branch boundaries, and the textbook form's loss of digits.

use crate::C64;
use std::f64::consts::PI;

/// Terms of the Taylor series: `(2 pi M |x|)^k / k!` with `2 pi M |x| <= 2` is below
/// `1e-17` of the leading term from `k = 30` on.
const SERIES_TERMS: usize = 32;
/// Branch point: the series for `|2 pi M x| <= SERIES_RADIUS`.
const SERIES_RADIUS: f64 = 2.0;

/// `T_0, T_1, T_2` of the module doc for `M` subcarriers, precomputed for one `M`.
#[derive(Debug, Clone)]
pub struct SubcarrierSums {
    subcarriers: usize,
    /// `Q_p = sum_{m=0}^{M-1} (m/M)^p`, `p = 0 .. SERIES_TERMS + 2`.
    power_sums: Vec<f64>,
}

impl SubcarrierSums {
    /// Precomputes the normalised power sums (`O(M)` once).
    pub fn new(subcarriers: usize) -> Self {
        let mut power_sums = vec![0.0; SERIES_TERMS + 3];
        let scale = subcarriers.max(1) as f64;
        // ascending m: the small terms first
        for m in 0..subcarriers {
            let t = m as f64 / scale;
            let mut p = 1.0;
            for q in power_sums.iter_mut() {
                *q += p;
                p *= t;
            }
        }
        SubcarrierSums {
            subcarriers,
            power_sums,
        }
    }

    pub fn subcarriers(&self) -> usize {
        self.subcarriers
    }

    /// `[T_0(x), T_1(x), T_2(x)]`.
    pub fn sums(&self, x: f64) -> [C64; 3] {
        let m = self.subcarriers;
        if m == 0 || !x.is_finite() {
            return [C64::new(0.0, 0.0); 3];
        }
        let mf = m as f64;
        // period 1: reduce to [-1/2, 1/2)
        let x = x - (x + 0.5).floor();
        let y = 2.0 * PI * mf * x;
        if y.abs() <= SERIES_RADIUS {
            // T_n = M^n sum_k (-j y)^k / k! Q_{n+k}, y = 2 pi M x
            let mut out = [C64::new(0.0, 0.0); 3];
            let mut term = C64::new(1.0, 0.0); // (-j y)^k / k!
            for k in 0..SERIES_TERMS {
                for (n, o) in out.iter_mut().enumerate() {
                    *o += term * self.power_sums[n + k];
                }
                term *= C64::new(0.0, -y) / (k + 1) as f64;
            }
            out[1] *= mf;
            out[2] *= mf * mf;
            return out;
        }
        // 1 - z = 2 j sin(pi x) exp(-j pi x); 1 - z^M likewise
        let one_minus = |t: f64| C64::from_polar(2.0 * (PI * t).sin(), 0.5 * PI - PI * t);
        let w = one_minus(x);
        let zm = C64::from_polar(1.0, -2.0 * PI * (mf * x));
        let t0 = one_minus(mf * x) / w;
        let t0m1 = t0 - 1.0;
        let t1 = (t0m1 - (mf - 1.0) * zm) / w;
        let t2 = (2.0 * t1 - t0m1 - (mf - 1.0) * (mf - 1.0) * zm) / w;
        [t0, t1, t2]
    }
}

/// The explicit sums `sum_m m^n exp(-j 2 pi m x)` (`n = 0, 1, 2`), compensated: the
/// reference of the tests, `O(M)`.
pub fn explicit_subcarrier_sums(subcarriers: usize, x: f64) -> [C64; 3] {
    let mut sum = [C64::new(0.0, 0.0); 3];
    let mut comp = [C64::new(0.0, 0.0); 3];
    let x = x - (x + 0.5).floor();
    for m in 0..subcarriers {
        let mf = m as f64;
        // phase reduced per term: m x mod 1, then 2 pi
        let t = mf * x;
        let e = C64::from_polar(1.0, -2.0 * PI * (t - t.round()));
        let terms = [e, e * mf, e * mf * mf];
        for n in 0..3 {
            // Kahan summation
            let yv = terms[n] - comp[n];
            let tv = sum[n] + yv;
            comp[n] = (tv - sum[n]) - yv;
            sum[n] = tv;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: C64, b: C64) -> f64 {
        (a - b).norm() / b.norm().max(f64::MIN_POSITIVE)
    }

    /// The textbook form `T_1 = (z - M z^M + (M-1) z^(M+1)) / (1 - z)^2` (the derivative
    /// of the geometric series) with `z` formed directly.
    fn textbook_t1(m: usize, x: f64) -> C64 {
        let z = C64::from_polar(1.0, -2.0 * PI * x);
        let mf = m as f64;
        let zm = z.powu(m as u32);
        (z - mf * zm + (mf - 1.0) * zm * z) / ((C64::new(1.0, 0.0) - z) * (C64::new(1.0, 0.0) - z))
    }

    #[test]
    fn closed_form_equals_the_explicit_sum() {
        for &m in &[1usize, 2, 3, 16, 1024, 3300] {
            let s = SubcarrierSums::new(m);
            let mf = m as f64;
            let mut xs = vec![0.0, 0.5, -0.5, 0.25, 1.0 / mf, 0.37, -0.123456, 3.3];
            // delays far below one resolution cell 1/M, and both sides of the branch point
            for e in [1e-15, 1e-12, 1e-9, 1e-6, 1e-3, 0.1] {
                xs.push(e / mf);
                xs.push(-e / mf);
            }
            let edge = SERIES_RADIUS / (2.0 * PI * mf);
            xs.extend([edge * (1.0 - 1e-12), edge * (1.0 + 1e-12), 2.0 * edge]);
            for &x in &xs {
                let got = s.sums(x);
                let want = explicit_subcarrier_sums(m, x);
                for n in 0..3 {
                    if want[n].norm() == 0.0 {
                        assert!(
                            got[n].norm() < 1e-12 * mf.powi(n as i32 + 1),
                            "M {m} x {x} n {n}"
                        );
                        continue;
                    }
                    // the explicit sum's own error is ~M eps of the largest term
                    let scale = mf.powi(n as i32 + 1) / want[n].norm();
                    let tol = 1e-13 * scale.max(1.0);
                    assert!(
                        rel(got[n], want[n]) < tol,
                        "M {m} x {x:e} n {n}: {} vs {} ({})",
                        got[n],
                        want[n],
                        rel(got[n], want[n])
                    );
                }
            }
        }
    }

    #[test]
    fn known_values_and_symmetry() {
        let m = 1024usize;
        let s = SubcarrierSums::new(m);
        let mf = m as f64;
        // x = 0: the power sums M, M(M-1)/2, (M-1) M (2M-1)/6
        let t = s.sums(0.0);
        assert!(rel(t[0], C64::new(mf, 0.0)) < 1e-15);
        assert!(rel(t[1], C64::new(mf * (mf - 1.0) / 2.0, 0.0)) < 1e-14);
        assert!(
            rel(
                t[2],
                C64::new((mf - 1.0) * mf * (2.0 * mf - 1.0) / 6.0, 0.0)
            ) < 1e-14
        );
        // x = k/M, k != 0 mod M: T_0 = 0 (orthogonal subcarriers)
        assert!(s.sums(3.0 / mf)[0].norm() < 1e-9);
        // conjugate symmetry T_n(-x) = conj(T_n(x)), period 1
        for &x in &[1e-7, 0.01, 0.3] {
            let (a, b, c) = (s.sums(x), s.sums(-x), s.sums(x + 2.0));
            for n in 0..3 {
                // relative to the largest term M^(n+1): T_n(0.3) is small by cancellation
                let scale = mf.powi(n as i32 + 1);
                assert!((b[n] - a[n].conj()).norm() < 1e-14 * scale, "x {x} n {n}");
                // x + 2 is rounded: the phase 2 pi m x moves by ~m * 4e-16
                assert!((c[n] - a[n]).norm() < 1e-11 * scale, "x {x} n {n}");
            }
        }
    }

    #[test]
    fn the_textbook_form_loses_its_digits_where_this_one_does_not() {
        let m = 1024usize;
        let s = SubcarrierSums::new(m);
        // delays 1e-6 of a resolution cell apart
        let x = 1e-6 / m as f64;
        let want = explicit_subcarrier_sums(m, x)[1];
        assert!(rel(s.sums(x)[1], want) < 1e-13);
        let textbook = rel(textbook_t1(m, x), want);
        assert!(textbook > 1e-3, "the trap is real: {textbook:e}");
    }
}
