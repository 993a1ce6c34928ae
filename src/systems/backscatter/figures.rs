//! Embedded experiment configurations reproducing the numerical figures of
//! backscatter-isac.md (Figs. 5(a), 5(b), 6, 7, 8, 9). The rate grids are chosen from our
//! model's range (see docs/backscatter.md): uniform over `[0, 1.05]` plus a fine grid over
//! the part of each curve where the rate constraint is active.

/// `(id, config TOML)` of every reproducible figure of this system.
pub const FIGURES: &[(&str, &str)] = &[
    (
        "backscatter-fig5a",
        include_str!("../../../configs/backscatter/fig5a.toml"),
    ),
    (
        "backscatter-fig5b",
        include_str!("../../../configs/backscatter/fig5b.toml"),
    ),
    (
        "backscatter-fig6",
        include_str!("../../../configs/backscatter/fig6.toml"),
    ),
    (
        "backscatter-fig7",
        include_str!("../../../configs/backscatter/fig7.toml"),
    ),
    (
        "backscatter-fig8",
        include_str!("../../../configs/backscatter/fig8.toml"),
    ),
    (
        "backscatter-fig9",
        include_str!("../../../configs/backscatter/fig9.toml"),
    ),
];
