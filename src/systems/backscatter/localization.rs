//! Geometric localization of a device from its delay and DoA, Proposition 3.1,
//! (10)-(14) of backscatter-isac.md.
//!
//! With `D = c (tau_0l - tau_0) = d_T + d_R` and the law of cosines in the triangle
//! transmitter–receiver–device, `d_T^2 = d_R^2 + d_0^2 + 2 d_R d_0 cos(phi - beta)`, so
//! `d_R = (D^2 - d_0^2) / (2 [d_0 cos(phi - beta) + D])` (10). Here `beta` is the direction
//! from the transmitter to the receiver. Deviation: (11) and (14) print `arctan(dy/dx)`,
//! which is off by pi whenever `dx < 0` (the receiver or the device left of the
//! transmitter); we use the four-quadrant `atan2`.

use crate::physics::geometry::{angle, distance, polar, Point};
use crate::physics::SPEED_OF_LIGHT;
use faer::Mat;

/// A device position estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceFix {
    /// `(x_l, y_l)` of (12)-(13), m.
    pub position: Point,
    /// `d_R,l` of (10), m.
    pub rx_distance: f64,
    /// `theta_l` of (14), rad.
    pub dod: f64,
}

/// Position from an estimated total delay `tau` (s) and DoA `phi` (rad), (10)-(14).
/// `None` when the delay is shorter than the direct path (no triangle exists).
pub fn locate(
    transmitter: Point,
    receiver: Point,
    response_delay: f64,
    tau: f64,
    phi: f64,
) -> Option<DeviceFix> {
    let d0 = distance(transmitter, receiver);
    let beta = if d0 > 0.0 {
        angle(transmitter, receiver)
    } else {
        0.0
    };
    let big_d = SPEED_OF_LIGHT * (tau - response_delay);
    let denom = 2.0 * (d0 * (phi - beta).cos() + big_d);
    let rx_distance = (big_d * big_d - d0 * d0) / denom;
    if !(rx_distance > 0.0) || !rx_distance.is_finite() {
        return None;
    }
    let position = polar(receiver, rx_distance, phi);
    Some(DeviceFix {
        position,
        rx_distance,
        dod: angle(transmitter, position),
    })
}

/// Jacobian `d(x, y) / d(tau, phi)` of [`locate`] by central differences, for mapping a
/// delay–DoA CRB to a position CRB: `CRB(x, y) = F CRB(tau, phi) F^T`.
pub fn position_jacobian(
    transmitter: Point,
    receiver: Point,
    response_delay: f64,
    tau: f64,
    phi: f64,
) -> Option<Mat<f64>> {
    let ht = 1e-6 * tau.abs().max(1e-12);
    let hp = 1e-7;
    let f =
        |t: f64, p: f64| locate(transmitter, receiver, response_delay, t, p).map(|d| d.position);
    let (tp, tm) = (f(tau + ht, phi)?, f(tau - ht, phi)?);
    let (pp, pm) = (f(tau, phi + hp)?, f(tau, phi - hp)?);
    Some(Mat::from_fn(2, 2, |r, c| {
        if c == 0 {
            (tp[r] - tm[r]) / (2.0 * ht)
        } else {
            (pp[r] - pm[r]) / (2.0 * hp)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn exact_delay_and_doa_recover_the_device(
            tx in prop::array::uniform2(-5.0..5.0f64),
            rx in prop::array::uniform2(-5.0..5.0f64),
            dev in prop::array::uniform2(-5.0..5.0f64),
            tau0 in 0.0..1e-7f64,
        ) {
            prop_assume!(distance(tx, dev) > 0.05 && distance(rx, dev) > 0.05);
            // the triangle must not be degenerate with the device behind the transmitter
            let tau = (distance(tx, dev) + distance(dev, rx)) / SPEED_OF_LIGHT + tau0;
            prop_assume!(tau - tau0 > distance(tx, rx) / SPEED_OF_LIGHT * (1.0 + 1e-9));
            let phi = angle(rx, dev);
            let fix = locate(tx, rx, tau0, tau, phi).unwrap();
            prop_assert!(distance(fix.position, dev) < 1e-6 * (1.0 + distance(rx, dev)));
            prop_assert!((fix.dod - angle(tx, dev)).abs() < 1e-6);
        }
    }

    #[test]
    fn printed_arctan_fails_left_of_the_transmitter() {
        // receiver left of the transmitter: arctan(dy/dx) points the other way
        let (tx, rx, dev) = ([0.0, 0.0], [-2.0, -1.5], [-1.5, -0.5]);
        let tau = (distance(tx, dev) + distance(dev, rx)) / SPEED_OF_LIGHT;
        let phi = angle(rx, dev);
        let fix = locate(tx, rx, 0.0, tau, phi).unwrap();
        assert!(distance(fix.position, dev) < 1e-9);
        let beta_printed = ((rx[1] - tx[1]) / (rx[0] - tx[0])).atan();
        let d0 = distance(tx, rx);
        let big_d = SPEED_OF_LIGHT * tau;
        let d_printed =
            (big_d * big_d - d0 * d0) / (2.0 * (d0 * (phi - beta_printed).cos() + big_d));
        assert!((d_printed - distance(rx, dev)).abs() > 0.1);
    }
}
