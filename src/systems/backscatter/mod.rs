//! The multi-user backscatter ISAC system of `backscatter-isac.md` (Tian, Wang, Huang,
//! Zhang): one multi-antenna transmitter excites L single-antenna backscatter devices;
//! a multi-antenna receiver estimates each device's delay and DoA and decodes their
//! symbols. Design: the sample covariance `R_x` minimising the CRB under power and
//! sum-rate constraints, (33)-(35).

pub mod localization;
pub mod model;
pub mod numerical;
pub mod scenario;

pub use model::{BackscatterModel, Crb};
pub use scenario::{BackscatterScenario, FimVariant, Formulation};
