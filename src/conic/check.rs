//! Re-evaluation of every user constraint at a point, in the user's own terms.
//!
//! Each constraint gets two measures, both `>= 0` and zero when it holds:
//! the **absolute** violation, in the constraint's own units, and the
//! **scaled** violation, the absolute one divided by the size of the
//! quantities that make up the constraint *at the point*. The solve gate
//! ([`SolverSettings::violation_tol`](super::SolverSettings::violation_tol))
//! compares the scaled one.
//!
//! | constraint            | absolute                        | scaled                                                  |
//! |-----------------------|---------------------------------|---------------------------------------------------------|
//! | `e = 0`               | `|e|`                           | `|e| / S(e)`                                             |
//! | `e >= 0`              | `max(0, -e)`                    | `max(0, -e) / S(e)`                                      |
//! | `||x|| <= t`          | `max(0, ||x|| - t)`             | absolute `/ max(mag(t) + ||(mag(x_i))||, floor)`          |
//! | `y e^{x/y} <= z`      | `max(0, x - y log(z/y))` + sign parts `max(0,-y)`, `max(0,-z)` | each part over `max(mag, floor)` of its terms |
//! | `M >= 0`              | `max(0, -lambda_min(M))`        | `max(0, -lambda_min(D^-1 M D^-1))`, `D_ii^2 = max(mag(M_ii), floor)` |
//! | `log det M >= t`      | `max(0, t - log det M)` (nats); `inf` if `M` is not PD | absolute `/ max(1, |t|)`      |
//! | `t >= 1/x`            | `max(0, 1/x - t)`; `inf` if `x <= 0` | absolute `/ (|t| + 1/x)`                            |
//! | `t >= tr U^{-1}`      | `max(0, tr U^{-1} - t)`; `inf` if `U` is not PD | absolute `/ (|t| + tr U^{-1})`           |
//!
//! Here `mag(e) = |c| + sum_k |a_k x_k|` is the size of the terms of `e` at the
//! point and `S(e) = max(mag(e), floor)`. The floor,
//! `FLOOR_REL * max_k |a_k| * max(1, ||x||_inf)` with `FLOOR_REL = 1e-3`, only
//! matters where every term of a row vanishes at the point (`x_k >= 0` at
//! `x_k = -1e-12`): there a residual is judged against the solver's own
//! accuracy, since Clarabel's residuals are `~1e-8 ||a|| max(1, ||x||)` and
//! `1e-8 / 1e-3` is the default gate `1e-5`.
//!
//! Why not `|e| / (1 + |e|)` or a scale from the data alone: a row
//! `1e6 x >= 1` at `x = 0` is violated by `1` (the whole right-hand side);
//! divided by its data scale `1e6` and then by `1 + ...` that is `1e-6` and
//! passes, while `|e| / mag(e) = 1 / 1 = 1` fails it. The measures are
//! invariant under positive rescaling of a row, of a cone block, and (LMIs)
//! under congruence by a positive diagonal `D`, which keeps a violation in a
//! small direction of `M` (a Schur complement `[[J, e],[e', t]]` with
//! `J ~ 1e6`, `t ~ 1`) from hiding behind its large eigenvalues. `log det` is
//! already dimensionless: an absolute violation `v` means `det M` falls short
//! of `e^t` by the fraction `1 - e^{-v} ~ v`.
//!
//! For an unboundedness certificate (a direction `d`), the recession
//! constraints are checked instead ([`recession`]): every expression loses its
//! constant, log-det/inverse constraints become their PSD/sign parts.
//! Eigenvalues come from faer's self-adjoint eigensolver; a non-finite entry,
//! an eigensolver failure or a `NaN` gives `inf`.

use faer::{Mat, Side};

use super::expr::{Affine, AffineMatrix, ComplexAffine, ComplexAffineMatrix};
use super::problem::{ConstraintId, ConstraintKind, Problem};
use crate::C64;

/// Relative floor of the scale of a residual (module doc).
const FLOOR_REL: f64 = 1e-3;

/// Violation of one constraint at a point (module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measure {
    /// In the constraint's own units.
    pub absolute: f64,
    /// Relative to the size of the constraint's terms at the point.
    pub scaled: f64,
}

impl Measure {
    const ZERO: Measure = Measure {
        absolute: 0.0,
        scaled: 0.0,
    };
    const INF: Measure = Measure {
        absolute: f64::INFINITY,
        scaled: f64::INFINITY,
    };

    fn new(absolute: f64, scale: f64) -> Measure {
        let scaled = if absolute == 0.0 {
            0.0
        } else {
            absolute / scale
        };
        Measure { absolute, scaled }.sanitized()
    }

    fn sanitized(self) -> Measure {
        if self.absolute.is_nan() || self.scaled.is_nan() {
            Measure::INF
        } else {
            self
        }
    }
}

/// The largest violation over all constraints of a problem at a point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Violation {
    /// Absolute violation of the worst constraint, in its own units.
    pub absolute: f64,
    /// Largest scaled violation (the one the gate compares).
    pub scaled: f64,
    /// The constraint with the largest scaled violation (`None` when all hold).
    pub worst: Option<ConstraintId>,
}

impl Violation {
    /// No constraint violated.
    pub const NONE: Violation = Violation {
        absolute: 0.0,
        scaled: 0.0,
        worst: None,
    };

    /// Worst of a list of per-constraint measures.
    pub(crate) fn worst_of(measures: &[Measure]) -> Violation {
        let mut out = Violation::NONE;
        for (i, m) in measures.iter().enumerate() {
            if m.scaled > out.scaled
                || (m.scaled.is_infinite() && out.worst.is_none() && m.scaled > 0.0)
            {
                out = Violation {
                    absolute: m.absolute,
                    scaled: m.scaled,
                    worst: Some(ConstraintId(i)),
                };
            }
        }
        out
    }
}

/// Scale-related facts of the point: `max(1, ||x||_inf)`.
fn point_size(x: &[f64]) -> f64 {
    x.iter().fold(1.0f64, |m, v| m.max(v.abs()))
}

fn floor<'a>(rows: impl IntoIterator<Item = &'a Affine>, size: f64) -> f64 {
    let c = rows
        .into_iter()
        .fold(0.0f64, |m, e| m.max(e.coef_inf_norm()));
    FLOOR_REL * c * size
}

fn sym_values(m: &AffineMatrix, x: &[f64]) -> Option<Mat<f64>> {
    let n = m.len();
    let v = Mat::<f64>::from_fn(n, n, |i, j| m[i][j].eval(x));
    if !v.col_iter().all(|c| c.iter().all(|e| e.is_finite())) {
        return None;
    }
    Some(Mat::<f64>::from_fn(n, n, |i, j| {
        0.5 * (v[(i, j)] + v[(j, i)])
    }))
}

fn herm_values(m: &ComplexAffineMatrix, x: &[f64]) -> Option<Mat<C64>> {
    let n = m.len();
    let v = Mat::<C64>::from_fn(n, n, |i, j| m[i][j].eval(x));
    if !v
        .col_iter()
        .all(|c| c.iter().all(|e| e.re.is_finite() && e.im.is_finite()))
    {
        return None;
    }
    Some(Mat::<C64>::from_fn(n, n, |i, j| {
        (v[(i, j)] + v[(j, i)].conj()) * 0.5
    }))
}

fn sym_eigenvalues(m: &AffineMatrix, x: &[f64]) -> Option<Vec<f64>> {
    sym_values(m, x)?.self_adjoint_eigenvalues(Side::Lower).ok()
}

fn herm_eigenvalues(m: &ComplexAffineMatrix, x: &[f64]) -> Option<Vec<f64>> {
    herm_values(m, x)?
        .self_adjoint_eigenvalues(Side::Lower)
        .ok()
}

fn lambda_min(eig: Option<Vec<f64>>) -> Option<f64> {
    let l = eig?;
    Some(l.iter().cloned().fold(f64::INFINITY, f64::min))
}

/// `M >= 0` for a real symmetric `M` (module table): `d[i]^2` is the floored
/// magnitude of `M_ii`.
fn psd_measure_sym(m: &AffineMatrix, x: &[f64], size: f64) -> Measure {
    let n = m.len();
    if n == 0 {
        return Measure::ZERO;
    }
    let Some(v) = sym_values(m, x) else {
        return Measure::INF;
    };
    let fl = floor(m.iter().flatten(), size);
    let d: Vec<f64> = (0..n)
        .map(|i| m[i][i].magnitude(x).max(fl).sqrt())
        .collect();
    let abs = lambda_min(v.self_adjoint_eigenvalues(Side::Lower).ok());
    let w = Mat::<f64>::from_fn(n, n, |i, j| {
        if d[i] > 0.0 && d[j] > 0.0 {
            v[(i, j)] / (d[i] * d[j])
        } else {
            v[(i, j)]
        }
    });
    let scaled = lambda_min(w.self_adjoint_eigenvalues(Side::Lower).ok());
    match (abs, scaled) {
        (Some(a), Some(s)) => Measure {
            absolute: (-a).max(0.0),
            scaled: (-s).max(0.0),
        }
        .sanitized(),
        _ => Measure::INF,
    }
}

/// `M >= 0` for a complex Hermitian `M`, as [`psd_measure_sym`].
fn psd_measure_herm(m: &ComplexAffineMatrix, x: &[f64], size: f64) -> Measure {
    let n = m.len();
    if n == 0 {
        return Measure::ZERO;
    }
    let Some(v) = herm_values(m, x) else {
        return Measure::INF;
    };
    let fl = floor(m.iter().flatten().flat_map(|e| [&e.re, &e.im]), size);
    let d: Vec<f64> = (0..n)
        .map(|i| m[i][i].re.magnitude(x).max(fl).sqrt())
        .collect();
    let abs = lambda_min(v.self_adjoint_eigenvalues(Side::Lower).ok());
    let w = Mat::<C64>::from_fn(n, n, |i, j| {
        if d[i] > 0.0 && d[j] > 0.0 {
            v[(i, j)] / (d[i] * d[j])
        } else {
            v[(i, j)]
        }
    });
    let scaled = lambda_min(w.self_adjoint_eigenvalues(Side::Lower).ok());
    match (abs, scaled) {
        (Some(a), Some(s)) => Measure {
            absolute: (-a).max(0.0),
            scaled: (-s).max(0.0),
        }
        .sanitized(),
        _ => Measure::INF,
    }
}

fn log_det_measure(eig: Option<Vec<f64>>, t: f64) -> Measure {
    match eig {
        None => Measure::INF,
        Some(l) => {
            if l.iter().any(|&v| v <= 0.0) || !t.is_finite() {
                return Measure::INF;
            }
            let ld: f64 = l.iter().map(|v| v.ln()).sum();
            Measure::new((t - ld).max(0.0), t.abs().max(1.0))
        }
    }
}

fn exp_measure(a: &Affine, y: &Affine, z: &Affine, x: &[f64], size: f64) -> Measure {
    let (xv, yv, zv) = (a.eval(x), y.eval(x), z.eval(x));
    if !(xv.is_finite() && yv.is_finite() && zv.is_finite()) {
        return Measure::INF;
    }
    let fl = floor([a, y, z], size);
    let part = |abs: f64, mag: f64| Measure::new(abs, mag.max(fl));
    let sy = part((-yv).max(0.0), y.magnitude(x));
    let sz = part((-zv).max(0.0), z.magnitude(x));
    let main = if yv > 0.0 && zv > 0.0 {
        let r = yv * (zv / yv).ln();
        part((xv - r).max(0.0), a.magnitude(x) + r.abs())
    } else {
        // closure {y = 0, x <= 0, z >= 0}
        part(xv.max(0.0), a.magnitude(x))
    };
    Measure {
        absolute: sy.absolute + sz.absolute + main.absolute,
        scaled: sy.scaled + sz.scaled + main.scaled,
    }
    .sanitized()
}

/// Violation of one constraint at `x` (see the module table); `size` is
/// `max(1, ||x||_inf)`.
pub(crate) fn measure(kind: &ConstraintKind, x: &[f64], size: f64) -> Measure {
    let m = match kind {
        ConstraintKind::Eq(e) => {
            Measure::new(e.eval(x).abs(), e.magnitude(x).max(floor([e], size)))
        }
        ConstraintKind::Nonneg(e) => {
            Measure::new((-e.eval(x)).max(0.0), e.magnitude(x).max(floor([e], size)))
        }
        ConstraintKind::Soc { t, x: xs } => {
            let tv = t.eval(x);
            let nrm = xs.iter().map(|e| e.eval(x).powi(2)).sum::<f64>().sqrt();
            let mag = t.magnitude(x)
                + xs.iter()
                    .map(|e| e.magnitude(x).powi(2))
                    .sum::<f64>()
                    .sqrt();
            let fl = floor(std::iter::once(t).chain(xs.iter()), size);
            Measure::new((nrm - tv).max(0.0), mag.max(fl))
        }
        ConstraintKind::Exp { x: a, y, z } => exp_measure(a, y, z, x, size),
        ConstraintKind::LmiSym(m) => psd_measure_sym(m, x, size),
        ConstraintKind::LmiHerm(m) => psd_measure_herm(m, x, size),
        ConstraintKind::LogDetSym { m, t } => log_det_measure(sym_eigenvalues(m, x), t.eval(x)),
        ConstraintKind::LogDetHerm { m, t } => log_det_measure(herm_eigenvalues(m, x), t.eval(x)),
        ConstraintKind::Inv { x: a, t } => {
            let (av, tv) = (a.eval(x), t.eval(x));
            if av > 0.0 && tv.is_finite() {
                Measure::new((1.0 / av - tv).max(0.0), tv.abs() + 1.0 / av)
            } else {
                Measure::INF
            }
        }
        ConstraintKind::TraceInv { u, t } => match sym_eigenvalues(u, x) {
            None => Measure::INF,
            Some(l) => {
                let tv = t.eval(x);
                if l.iter().any(|&v| v <= 0.0) || !tv.is_finite() {
                    Measure::INF
                } else {
                    let tr: f64 = l.iter().map(|v| 1.0 / v).sum();
                    Measure::new((tr - tv).max(0.0), tv.abs() + tr)
                }
            }
        },
    };
    m.sanitized()
}

impl Problem {
    /// Absolute and scaled violation of every constraint at the point `x`
    /// (one entry per [`ConstraintId`], in order; module table of `check.rs`).
    /// `x` must have [`Problem::num_vars`] entries; missing entries count as
    /// `NaN` (violation `inf`).
    pub fn measure_violations(&self, x: &[f64]) -> Vec<Measure> {
        let size = point_size(x);
        self.constraints
            .iter()
            .map(|c| measure(&c.kind, x, size))
            .collect()
    }

    /// Scaled violation of every constraint at `x` (see
    /// [`Problem::measure_violations`]).
    pub fn violations(&self, x: &[f64]) -> Vec<f64> {
        self.measure_violations(x)
            .into_iter()
            .map(|m| m.scaled)
            .collect()
    }

    /// Value of the objective at `x` (0 if none was set).
    pub fn objective_value(&self, x: &[f64]) -> f64 {
        self.objective
            .as_ref()
            .map(|(_, f)| f.eval(x))
            .unwrap_or(0.0)
    }
}

fn hom(e: &Affine) -> Affine {
    e - e.constant_term()
}

fn hom_c(e: &ComplexAffine) -> ComplexAffine {
    ComplexAffine {
        re: hom(&e.re),
        im: hom(&e.im),
    }
}

fn hom_m(m: &AffineMatrix) -> AffineMatrix {
    m.iter().map(|r| r.iter().map(hom).collect()).collect()
}

fn hom_cm(m: &ComplexAffineMatrix) -> ComplexAffineMatrix {
    m.iter().map(|r| r.iter().map(hom_c).collect()).collect()
}

/// Recession cone of a constraint, as constraints on a direction `d`:
/// `d` is a recession direction of `{x : C(x)}` iff `x + s d` satisfies `C`
/// for all `s >= 0` (from any feasible `x`). For the conic constraints this is
/// "the linear part is in the cone"; for `log det M >= t` it is
/// `M_lin(d) >= 0, t_lin(d) <= 0`; for `t >= 1/x` it is `x_lin, t_lin >= 0`;
/// for `t >= tr U^{-1}` it is `U_lin(d) >= 0, t_lin(d) >= 0`.
pub(crate) fn recession(kind: &ConstraintKind) -> Vec<ConstraintKind> {
    use ConstraintKind as K;
    match kind {
        K::Eq(e) => vec![K::Eq(hom(e))],
        K::Nonneg(e) => vec![K::Nonneg(hom(e))],
        K::Soc { t, x } => vec![K::Soc {
            t: hom(t),
            x: x.iter().map(hom).collect(),
        }],
        K::Exp { x, y, z } => vec![K::Exp {
            x: hom(x),
            y: hom(y),
            z: hom(z),
        }],
        K::LmiSym(m) => vec![K::LmiSym(hom_m(m))],
        K::LmiHerm(m) => vec![K::LmiHerm(hom_cm(m))],
        K::LogDetSym { m, t } => vec![K::LmiSym(hom_m(m)), K::Nonneg(-hom(t))],
        K::LogDetHerm { m, t } => vec![K::LmiHerm(hom_cm(m)), K::Nonneg(-hom(t))],
        K::Inv { x, t } => vec![K::Nonneg(hom(x)), K::Nonneg(hom(t))],
        K::TraceInv { u, t } => vec![K::LmiSym(hom_m(u)), K::Nonneg(hom(t))],
    }
}

impl Problem {
    /// Check an unboundedness certificate `d` in the user's terms: returns
    /// `(max recession violation, objective slope)` with `d` scaled to unit
    /// inf-norm and the slope `f_lin(d) / max_k |f_k|` signed so that a valid
    /// certificate has slope `< 0` (minimise) — for maximise the sign is flipped.
    pub(crate) fn check_unbounded_direction(&self, d: &[f64]) -> (f64, f64) {
        let nrm = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !(nrm > 0.0 && nrm.is_finite()) {
            return (f64::INFINITY, 0.0);
        }
        let d: Vec<f64> = d.iter().map(|v| v / nrm).collect();
        let viol = self
            .constraints
            .iter()
            .flat_map(|c| recession(&c.kind))
            .map(|k| measure(&k, &d, 1.0).scaled)
            .fold(0.0f64, f64::max);
        let slope = match &self.objective {
            None => 0.0,
            Some((sense, f)) => {
                let s = hom(f).eval(&d) / f.coef_inf_norm().max(f64::MIN_POSITIVE);
                if *sense == super::Sense::Maximize {
                    -s
                } else {
                    s
                }
            }
        };
        (viol, slope)
    }
}
