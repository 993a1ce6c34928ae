//! One module per paper. Each holds only what is specific to its system (model,
//! problem, algorithm steps, baselines, figure configs) and reuses the shared core.

pub mod backscatter;
pub mod multistatic;
pub mod network;

use crate::experiment::InstanceSolver;

/// A system `isac` can solve: its name, what it is, and its solver.
pub struct SystemEntry {
    pub name: &'static str,
    pub paper: &'static str,
    pub summary: &'static str,
    pub solver: &'static dyn InstanceSolver,
}

/// Every system, in the order `isac list` shows them.
pub fn all() -> Vec<SystemEntry> {
    vec![
        SystemEntry {
            name: "backscatter",
            paper: "backscatter-isac.md (Tian, Wang, Huang, Zhang)",
            summary: "multi-user backscatter ISAC: min CRB(delay, DoA) s.t. power and sum rate",
            solver: &backscatter::BackscatterSystem,
        },
        SystemEntry {
            name: "multistatic",
            paper: "multistatic-isac.md (Wang, Tian, Huang, Chen, Xu, Zhang)",
            summary: "multi-static ISAC: RE selection + SCA beamforming, min delay-Doppler CRB s.t. rates",
            solver: &multistatic::MultistaticSystem,
        },
        SystemEntry {
            name: "network",
            paper: "network-isac.md (conference letter, title not in the text)",
            summary: "network ISAC: receiving-BS selection, user association, min power s.t. SINR and CRLB",
            solver: &network::NetworkSystem,
        },
    ]
}

/// Looks a system up by name.
pub fn find(name: &str) -> Option<SystemEntry> {
    all().into_iter().find(|s| s.name == name)
}

/// Names of all systems, for error messages.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|s| s.name).collect()
}
