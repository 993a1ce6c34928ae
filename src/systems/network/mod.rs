//! The network ISAC system of `network-isac.md`: S base stations cooperate; one receives
//! the target's echo, the others transmit and serve single-antenna users; the total
//! transmit power is minimised under per-user SINR and a CRLB bound on the target position.
//! Data flow: [`scenario`] (input) -> [`model`] (channels, echo gains, FIM map) ->
//! [`program`] (the SDP for a fixed receiving BS and association, beamformer extraction,
//! independent re-check) -> [`search`] (exhaustive search and the baselines).

pub mod model;
pub mod scenario;

pub use model::NetworkModel;
pub use scenario::NetworkScenario;
