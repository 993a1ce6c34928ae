//! Physics primitives shared by every system: geometry, arrays, path loss, pulses.
//! SI units throughout (metres, seconds, radians, watts); dB only at the input edge.

pub mod array;
pub mod geometry;
pub mod hybrid;
pub mod ofdm;
pub mod pathloss;
pub mod pulse;
pub mod quadrature;
pub mod wavefront;

/// Speed of light in vacuum, m/s.
pub const SPEED_OF_LIGHT: f64 = 299_792_458.0;
