//! Embedded experiment configurations reproducing the numerical figures of
//! bistatic-monostatic.md (digital parts of Figs. 5 and 6; the analog parts are issue 14).

/// `(id, config TOML)` of every reproducible figure of this system.
pub const FIGURES: &[(&str, &str)] = &[
    ("bpms-fig5", include_str!("../../../configs/bpms/fig5.toml")),
    ("bpms-fig6", include_str!("../../../configs/bpms/fig6.toml")),
];
