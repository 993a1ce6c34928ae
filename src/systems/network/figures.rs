//! Embedded experiment configurations reproducing the numerical results of
//! `network-isac.md` (Table II, Figs. 3-4). Choices the paper leaves open are stated in each
//! config and in `docs/network.md`.

/// `(id, config TOML)` of every reproducible result of this system.
pub const FIGURES: &[(&str, &str)] = &[
    (
        "network-table2",
        include_str!("../../../configs/network/table2.toml"),
    ),
    (
        "network-fig3-4",
        include_str!("../../../configs/network/fig3-4.toml"),
    ),
    (
        "network-gap",
        include_str!("../../../configs/network/gap.toml"),
    ),
];
