//! Embedded experiment configurations reproducing the numerical figures of
//! bistatic-monostatic.md: Fig. 2 (Algorithm 1's convergence), Fig. 3 (codeword
//! beampatterns), Fig. 4 (2-D beampatterns), Figs. 5 and 6 (the BP-MS fronts).

/// `(id, config TOML)` of every reproducible figure of this system.
pub const FIGURES: &[(&str, &str)] = &[
    ("bpms-fig2", include_str!("../../../configs/bpms/fig2.toml")),
    ("bpms-fig3", include_str!("../../../configs/bpms/fig3.toml")),
    ("bpms-fig4", include_str!("../../../configs/bpms/fig4.toml")),
    ("bpms-fig5", include_str!("../../../configs/bpms/fig5.toml")),
    ("bpms-fig6", include_str!("../../../configs/bpms/fig6.toml")),
];
