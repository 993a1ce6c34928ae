//! `isac`: Cramér–Rao-bound-driven design of integrated sensing and communication systems.
//!
//! Data flows one way:
//! scenario (TOML) -> [`physics`] primitives -> system model ([`systems`]) with its
//! FIM/CRB ([`fim`]) -> design problem on the [`conic`] layer -> design -> metrics
//! -> [`experiment`] outputs (CSV, JSON manifest, SVG/PNG plots).

// Index loops mirror the equations (J[i][j], G[q][p]); negated comparisons are how NaN
// is rejected along with out-of-range values (`!(x > 0.0)` is true for NaN).
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

pub mod conic;
pub mod error;
pub mod experiment;
pub mod fim;
pub mod input;
pub mod iterate;
pub mod linalg;
pub mod physics;
pub mod report;
pub mod smooth;
pub mod status;
pub mod systems;

pub use error::IsacError;

/// Complex double, the same type faer and num-complex use.
pub type C64 = num_complex::Complex64;

/// Version string written into every manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The code that built this binary: git commit, `+dirty` when the tracked sources
/// differed from it, or `unknown` (build.rs).
pub const BUILD: &str = env!("ISAC_BUILD");
