//! Doppler–delay geometry and closed-form localisation, (47)-(55) and Appendix B of
//! multistatic-isac.md.
//!
//! Scene: transmitter (TR) at `p_b`, target at `p_0` moving with velocity `v` (a 2-D
//! vector), receivers (REs) at `p_k`. Angles are measured from the +x axis,
//! counter-clockwise, in radians:
//! - `theta` (DoD) is the direction TR -> target, `angle(p_b, p_0)`;
//! - `phi_k` (DoA at RE `k`) is the direction RE -> target, `angle(p_k, p_0)`. This is the
//!   paper's convention: (54)-(55) put the target at `p_k + d_{0,k} (cos phi_k, sin phi_k)`.
//!
//! Model used here (first principles, first order in `v/c`): the bistatic range
//! `R_k = |p_0 - p_b| + |p_0 - p_k|`, the delay `tau_k = R_k / c` (51) and the Doppler shift
//! `f_k = -(f_0/c) dR_k/dt = -(f_0/c) v . (u_b0 + u_k0)`, with `u_b0`, `u_k0` the unit
//! vectors from the TR and from RE `k` towards the target (receding target: `f_k < 0`).
//!
//! Deviations from the paper (details and numbers in `docs/multistatic-geometry.md`):
//! - (47)-(50) use a scalar speed `v` and angles without saying along which direction the
//!   target moves. They hold when the velocity points along +x (equivalently: when the
//!   angles are measured from the velocity direction). [`doppler_relativistic`],
//!   [`doppler_relativistic_rearranged`] and [`doppler_small_speed`] take angles measured
//!   from the velocity heading; (50) then equals [`bistatic_doppler`] exactly.
//! - (52) is not a closed form: Appendix B defines `Xi_k = f_k cos((theta - phi_k')/2)`,
//!   which contains the unknown `theta`; Proposition 5.1 prints `Xi_k = f_k cos(phi_k/2)`
//!   instead, and (87) also swaps the arguments of the arctangent relative to (86). The
//!   printed formula does not recover `theta`. From (50) the ratio `f_k / f_k'` is linear
//!   in `cos theta`: `cos theta = (f_k' cos phi_k - f_k cos phi_k') / (f_k - f_k')`, which
//!   fixes `theta` up to its sign; the sign is the one whose fix (54)-(55) lies in the
//!   direction `theta` seen from the TR. This is [`Proposition51::Derived`], the default.
//! - (53)/(94) drop the `d_{b,k}^2` term of (93); we use (93).
//! - `varphi(x, y) = arctan(y/x)` must be the four-quadrant `atan2(y, x)` in (53) (the
//!   direction TR -> RE is off by pi for receivers left of the TR otherwise). In (52) the
//!   choice is immaterial: `2 arctan` and `2 atan2` differ by a multiple of `2 pi`.

use crate::fim::{crb_matrix, reparametrize};
use crate::physics::geometry::{angle, distance, distance_gradient, polar, Point};
use crate::physics::SPEED_OF_LIGHT;
use faer::Mat;

/// A velocity in the plane, `[v_x, v_y]`, m/s.
pub type Velocity = [f64; 2];

/// Position and velocity of the target, the parameters `eta = (x, y, v_x, v_y)` of the
/// position/velocity CRB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetState {
    /// `p_0 = (x_0, y_0)`, m.
    pub position: Point,
    /// `v = (v_x, v_y)`, m/s.
    pub velocity: Velocity,
}

/// DoD `theta`: direction TR -> target from the +x axis, rad, in (-pi, pi].
pub fn dod(transmitter: Point, target: Point) -> f64 {
    angle(transmitter, target)
}

/// DoA `phi_k`: direction RE -> target from the +x axis (the convention of (54)-(55)),
/// rad, in (-pi, pi].
pub fn doa(receiver: Point, target: Point) -> f64 {
    angle(receiver, target)
}

/// Bistatic range `d_{b,0} + d_{0,k}`, m.
pub fn bistatic_range(transmitter: Point, target: Point, receiver: Point) -> f64 {
    distance(transmitter, target) + distance(target, receiver)
}

/// Delay `tau_k = (d_{b,0} + d_{0,k}) / c` of the TR-target-RE path, s, (51).
pub fn bistatic_delay(transmitter: Point, target: Point, receiver: Point) -> f64 {
    bistatic_range(transmitter, target, receiver) / SPEED_OF_LIGHT
}

/// Unit vectors from the TR and from the RE towards the target, `(u_b0, u_k0)`.
fn unit_vectors(transmitter: Point, target: Point, receiver: Point) -> ([f64; 2], [f64; 2]) {
    (
        distance_gradient(target, transmitter),
        distance_gradient(target, receiver),
    )
}

/// Bistatic Doppler shift of a moving target from first principles, Hz:
/// `f_k = -(f_0/c) d/dt (d_{b,0} + d_{0,k}) = -(f_0/c) v . (u_b0 + u_k0)`.
/// `carrier` is `f_0` in Hz. A receding target (growing range) gives `f_k < 0`.
/// First order in `|v|/c`; equals (50) when `v` points along +x.
pub fn bistatic_doppler(
    transmitter: Point,
    state: TargetState,
    receiver: Point,
    carrier: f64,
) -> f64 {
    let (ub, uk) = unit_vectors(transmitter, state.position, receiver);
    let v = state.velocity;
    -carrier / SPEED_OF_LIGHT * (v[0] * (ub[0] + uk[0]) + v[1] * (ub[1] + uk[1]))
}

/// Two-step relativistic Doppler shift as printed in (48), Hz:
/// `f_k = f_0 (1 - zeta cos theta)/sqrt(1 - zeta^2) * sqrt(1 - zeta^2)/(1 + zeta cos phi_k) - f_0`,
/// `zeta = speed / c`.
///
/// Assumption (not stated in the paper): `theta` and `phi_k` are measured from the
/// direction of motion, i.e. the target moves along +x with signed speed `speed` when the
/// angles are the usual ones from +x. Step one is a receiver receding at `speed cos theta`
/// (47), step two a source receding from RE `k` at `speed cos phi_k`. Evaluated literally,
/// so the final `- f_0` cancels about `log10(f_0/|f_k|)` digits; prefer
/// [`doppler_relativistic_rearranged`].
pub fn doppler_relativistic(speed: f64, dod: f64, doa: f64, carrier: f64) -> f64 {
    let z = speed / SPEED_OF_LIGHT;
    let g = (1.0 - z * z).sqrt();
    carrier * (1.0 - z * dod.cos()) / g * g / (1.0 + z * doa.cos()) - carrier
}

/// (49), the rearranged (48): `f_k = -zeta f_0 (cos theta + cos phi_k)/(1 + zeta cos phi_k)`,
/// Hz. Same angle assumption as [`doppler_relativistic`].
pub fn doppler_relativistic_rearranged(speed: f64, dod: f64, doa: f64, carrier: f64) -> f64 {
    let z = speed / SPEED_OF_LIGHT;
    -z * carrier * (dod.cos() + doa.cos()) / (1.0 + z * doa.cos())
}

/// (50), the `v << c` approximation:
/// `f_k = -(2 f_0/c) v cos((theta + phi_k)/2) cos((theta - phi_k)/2)`, Hz.
/// Same angle assumption as [`doppler_relativistic`]; with it this equals
/// [`bistatic_doppler`] (sum-to-product identity), and differs from (49) by a relative
/// `zeta cos phi_k / (1 + zeta cos phi_k)`.
pub fn doppler_small_speed(speed: f64, dod: f64, doa: f64, carrier: f64) -> f64 {
    -2.0 * carrier / SPEED_OF_LIGHT * speed * (0.5 * (dod + doa)).cos() * (0.5 * (dod - doa)).cos()
}

/// Jacobian `G_k = d(tau_k, f_k) / d(x, y, v_x, v_y)` (2x4, rows `tau_k` in s, `f_k` in Hz)
/// of [`bistatic_delay`] and [`bistatic_doppler`]:
/// - `d tau/d p_0 = (u_b0 + u_k0)/c`, `d tau/d v = 0`;
/// - `d f/d p_0 = -(f_0/c) [(v - (v.u_b0) u_b0)/d_{b,0} + (v - (v.u_k0) u_k0)/d_{0,k}]`;
/// - `d f/d v = -(f_0/c) (u_b0 + u_k0)`.
pub fn delay_doppler_jacobian(
    transmitter: Point,
    state: TargetState,
    receiver: Point,
    carrier: f64,
) -> Mat<f64> {
    let p = state.position;
    let v = state.velocity;
    let (ub, uk) = unit_vectors(transmitter, p, receiver);
    let db = distance(transmitter, p);
    let dk = distance(p, receiver);
    let vub = v[0] * ub[0] + v[1] * ub[1];
    let vuk = v[0] * uk[0] + v[1] * uk[1];
    let s = carrier / SPEED_OF_LIGHT;
    let c = SPEED_OF_LIGHT;
    let mut g = Mat::zeros(2, 4);
    for i in 0..2 {
        g[(0, i)] = (ub[i] + uk[i]) / c;
        g[(1, i)] = -s * ((v[i] - vub * ub[i]) / db + (v[i] - vuk * uk[i]) / dk);
        g[(1, 2 + i)] = -s * (ub[i] + uk[i]);
    }
    g
}

/// FIM on `eta = (x, y, v_x, v_y)` from per-RE FIMs `J_k` (2x2, on `(tau_k [s], f_k [Hz])`)
/// of the selected REs: `J_eta = sum_k G_k^T J_k G_k` with `G_k` from
/// [`delay_doppler_jacobian`]. Units: `1/m^2`, `s/m^2`, `s^2/m^2`. Panics if the slices
/// differ in length or a `J_k` is not 2x2.
pub fn target_fim(
    transmitter: Point,
    state: TargetState,
    receivers: &[Point],
    link_fims: &[Mat<f64>],
    carrier: f64,
) -> Mat<f64> {
    assert_eq!(receivers.len(), link_fims.len(), "one FIM per receiver");
    let mut j = Mat::zeros(4, 4);
    for (&rx, jk) in receivers.iter().zip(link_fims) {
        assert!(jk.nrows() == 2 && jk.ncols() == 2, "J_k must be 2x2");
        let g = delay_doppler_jacobian(transmitter, state, rx, carrier);
        j += reparametrize(jk, &g);
    }
    j
}

/// Position and velocity CRBs `(tr CRB(x, y) [m^2], tr CRB(v_x, v_y) [m^2/s^2])`: traces of
/// the 2x2 diagonal blocks of `J_eta^{-1}` ([`target_fim`]). `None` when `J_eta` is
/// singular (e.g. a single RE: each `G_k` has rank 2, so one RE cannot fix four unknowns).
pub fn position_velocity_crb(
    transmitter: Point,
    state: TargetState,
    receivers: &[Point],
    link_fims: &[Mat<f64>],
    carrier: f64,
) -> Option<(f64, f64)> {
    let j = target_fim(transmitter, state, receivers, link_fims, carrier);
    let c = crb_matrix(&j)?;
    Some((c[(0, 0)] + c[(1, 1)], c[(2, 2)] + c[(3, 3)]))
}

/// Position CRB `tr (J_pp^{-1})` (m^2) when the velocity is known: the inverse of the 2x2
/// position block of [`target_fim`] (no Schur correction, velocity is not a nuisance).
/// `None` when that block is singular.
pub fn position_crb_known_velocity(
    transmitter: Point,
    state: TargetState,
    receivers: &[Point],
    link_fims: &[Mat<f64>],
    carrier: f64,
) -> Option<f64> {
    let j = target_fim(transmitter, state, receivers, link_fims, carrier);
    let jpp = Mat::from_fn(2, 2, |a, b| j[(a, b)]);
    let c = crb_matrix(&jpp)?;
    Some(c[(0, 0)] + c[(1, 1)])
}

/// What one RE measures for Proposition 5.1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// `(x_k, y_k)`, m.
    pub receiver: Point,
    /// `tau_k`, s.
    pub delay: f64,
    /// `f_k`, Hz.
    pub doppler: f64,
    /// `phi_k`, direction RE -> target, rad.
    pub doa: f64,
}

/// Which closed form of Proposition 5.1 to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proposition51 {
    /// Re-derived from (50)-(51): `cos theta` from the Doppler ratio, the sign of `theta`
    /// from consistency with (54)-(55), `d_{0,k}` from (93).
    #[default]
    Derived,
    /// (52)-(53) as printed (`Xi_k = f_k cos(phi_k/2)`, `varphi = atan2`). Does not recover
    /// the target; kept for comparison.
    Printed,
}

/// A target fix from Proposition 5.1 and (54)-(55), seen from RE `k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetFix {
    /// `theta`, DoD at the TR, rad, in (-pi, pi].
    pub dod: f64,
    /// `d_{0,k}`, m.
    pub rx_distance: f64,
    /// `(x_0, y_0)` of (54)-(55), m.
    pub position: Point,
}

/// Wraps an angle to (-pi, pi].
fn wrap(a: f64) -> f64 {
    a.sin().atan2(a.cos())
}

/// `theta` by (52) as printed: `2 varphi(Xi_k' - Xi_k cos(dphi/2), Xi_k sin(dphi/2)) - phi_k`
/// with `Xi_k = f_k cos(phi_k/2)`, `dphi = phi_k - phi_k'`, `varphi(x, y) = atan2(y, x)`.
/// Angles measured from the velocity heading (as (50) assumes); the result is wrapped.
pub fn dod_printed(doppler_k: f64, doa_k: f64, doppler_kp: f64, doa_kp: f64) -> f64 {
    let xi_k = doppler_k * (0.5 * doa_k).cos();
    let xi_kp = doppler_kp * (0.5 * doa_kp).cos();
    let h = 0.5 * (doa_k - doa_kp);
    wrap(2.0 * (xi_k * h.sin()).atan2(xi_kp - xi_k * h.cos()) - doa_k)
}

/// `cos theta` from the Doppler ratio of two REs under (50):
/// `f_k (cos theta + cos phi_k') = f_k' (cos theta + cos phi_k)`, so
/// `cos theta = (f_k' cos phi_k - f_k cos phi_k') / (f_k - f_k')`. Angles from the velocity
/// heading. Clamped to [-1, 1] (noisy inputs); `None` when `f_k = f_k'` or not finite.
pub fn dod_cosine(doppler_k: f64, doa_k: f64, doppler_kp: f64, doa_kp: f64) -> Option<f64> {
    let den = doppler_k - doppler_kp;
    let c = (doppler_kp * doa_k.cos() - doppler_k * doa_kp.cos()) / den;
    if den == 0.0 || !c.is_finite() {
        return None;
    }
    Some(c.clamp(-1.0, 1.0))
}

/// `d_{0,k}` from the delay and the DoD by the law of cosines at the TR, (93):
/// `(c^2 tau^2 + d_bk^2 - 2 c tau d_bk cos(theta - vartheta_k)) / (2 c tau - 2 d_bk cos(theta - vartheta_k))`
/// with `vartheta_k = atan2(y_k - y_b, x_k - x_b)`; with [`Proposition51::Printed`], (53)
/// without the `d_bk^2` term.
pub fn rx_distance_from_delay(
    transmitter: Point,
    receiver: Point,
    delay: f64,
    dod: f64,
    formula: Proposition51,
) -> f64 {
    let dbk = distance(transmitter, receiver);
    let vartheta = angle(transmitter, receiver);
    let ct = SPEED_OF_LIGHT * delay;
    let cs = (dod - vartheta).cos();
    let dbk2 = match formula {
        Proposition51::Derived => dbk * dbk,
        Proposition51::Printed => 0.0,
    };
    (ct * ct + dbk2 - 2.0 * ct * dbk * cs) / (2.0 * ct - 2.0 * dbk * cs)
}

/// Fix (54)-(55) from RE `k` given `theta`.
fn fix_from(transmitter: Point, obs: &Observation, dod: f64, formula: Proposition51) -> TargetFix {
    let d = rx_distance_from_delay(transmitter, obs.receiver, obs.delay, dod, formula);
    TargetFix {
        dod: wrap(dod),
        rx_distance: d,
        position: polar(obs.receiver, d, obs.doa),
    }
}

/// Proposition 5.1 and (54)-(55): the target seen from RE `k` (`obs_k`), using the
/// Doppler shift of a second RE `k'` (`obs_kp`). `heading` is the direction of the
/// target's velocity from +x (the paper: 0); only the Dopplers' ratio is used, so the speed
/// need not be known. `None` when the REs' Dopplers coincide, or the fix is not finite or
/// lies behind the RE.
pub fn localise(
    transmitter: Point,
    obs_k: &Observation,
    obs_kp: &Observation,
    heading: f64,
    formula: Proposition51,
) -> Option<TargetFix> {
    let (ak, akp) = (obs_k.doa - heading, obs_kp.doa - heading);
    let fix = match formula {
        Proposition51::Printed => {
            let th = dod_printed(obs_k.doppler, ak, obs_kp.doppler, akp) + heading;
            fix_from(transmitter, obs_k, th, formula)
        }
        Proposition51::Derived => {
            let a = dod_cosine(obs_k.doppler, ak, obs_kp.doppler, akp)?.acos();
            // theta - heading = +-a: keep the sign whose fixes from both REs lie in
            // direction theta from the TR.
            let residual = |th: f64| {
                [obs_k, obs_kp]
                    .iter()
                    .map(|o| {
                        let f = fix_from(transmitter, o, th, formula);
                        wrap(angle(transmitter, f.position) - th).abs()
                    })
                    .sum::<f64>()
            };
            let (tp, tm) = (heading + a, heading - a);
            let th = if residual(tp) <= residual(tm) { tp } else { tm };
            fix_from(transmitter, obs_k, th, formula)
        }
    };
    let ok = fix.rx_distance.is_finite()
        && fix.position.iter().all(|x| x.is_finite())
        && (formula == Proposition51::Printed || fix.rx_distance > 0.0);
    ok.then_some(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_is_identity_inside_range() {
        for a in [-3.0, -1.0, 0.0, 1.0, 3.0] {
            assert!((wrap(a) - a).abs() < 1e-15);
        }
        assert!((wrap(2.0 * std::f64::consts::PI + 0.5) - 0.5).abs() < 1e-12);
    }
}
