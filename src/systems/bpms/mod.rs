//! Joint bistatic positioning and monostatic sensing (bistatic-monostatic.md; docs/bpms.md):
//! a MIMO-OFDM BS whose pilots let a UE position itself (BP: unknown clock bias and
//! orientation, the targets as extra anchors) while the BS senses the targets and the UE
//! from their echoes (MS).
//!
//! Data flow: [`scenario`] (input) -> [`model`] (geometry, channel-domain FIMs in closed
//! form over the subcarriers, Jacobians, position-domain CRBs, fusion) -> designs.
//! [`numerical`] holds the sampled OFDM model that checks the closed forms.

pub mod design;
pub mod model;
pub mod numerical;
pub mod scenario;

pub use model::{Bounds, BpmsModel};
pub use scenario::BpmsScenario;
