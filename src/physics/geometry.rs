//! 2-D geometry helpers. Points are `[x, y]` in metres; angles are measured from the
//! +x axis, counter-clockwise, in radians (the convention of (11)-(14) of
//! backscatter-isac.md and of the network paper).

/// A point in the plane, metres.
pub type Point = [f64; 2];

/// Euclidean distance between two points.
pub fn distance(a: Point, b: Point) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Angle of the direction from `from` to `to`, measured from the +x axis, in (-pi, pi].
pub fn angle(from: Point, to: Point) -> f64 {
    (to[1] - from[1]).atan2(to[0] - from[0])
}

/// Point at distance `r` from `origin` in direction `angle` (from the +x axis).
pub fn polar(origin: Point, r: f64, angle: f64) -> Point {
    [origin[0] + r * angle.cos(), origin[1] + r * angle.sin()]
}

/// Gradient of `distance(p, anchor)` with respect to `p`: the unit vector from anchor to p.
pub fn distance_gradient(p: Point, anchor: Point) -> [f64; 2] {
    let d = distance(p, anchor);
    [(p[0] - anchor[0]) / d, (p[1] - anchor[1]) / d]
}

/// Gradient of `angle(anchor, p)` with respect to `p`: `[-dy, dx] / d^2`.
pub fn angle_gradient(p: Point, anchor: Point) -> [f64; 2] {
    let dx = p[0] - anchor[0];
    let dy = p[1] - anchor[1];
    let d2 = dx * dx + dy * dy;
    [-dy / d2, dx / d2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn polar_inverts_distance_and_angle(x in -50.0..50.0f64, y in -50.0..50.0f64,
                                             r in 0.01..100.0f64, a in -3.1..3.1f64) {
            let o = [x, y];
            let p = polar(o, r, a);
            prop_assert!((distance(o, p) - r).abs() < 1e-9 * (1.0 + r));
            prop_assert!((angle(o, p) - a).abs() < 1e-9);
        }

        #[test]
        fn gradients_match_finite_differences(px in -10.0..10.0f64, py in -10.0..10.0f64) {
            let anchor = [0.3, -0.7];
            prop_assume!(distance([px, py], anchor) > 0.1);
            let h = 1e-6;
            let gd = distance_gradient([px, py], anchor);
            let ga = angle_gradient([px, py], anchor);
            let fd_d = (distance([px + h, py], anchor) - distance([px - h, py], anchor)) / (2.0 * h);
            let fd_a = (angle(anchor, [px, py + h]) - angle(anchor, [px, py - h])) / (2.0 * h);
            prop_assert!((gd[0] - fd_d).abs() < 1e-6);
            prop_assert!((ga[1] - fd_a).abs() < 1e-5 * (1.0 + ga[1].abs()));
        }
    }
}
