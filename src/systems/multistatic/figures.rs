//! Embedded experiment configurations reproducing the numerical figures of
//! `multistatic-isac.md` (Figs. 2-7; Fig. 7 runs the matched-filter Monte Carlo after each design). Choices
//! the paper leaves open are stated in each config and in `docs/multistatic.md`.

/// `(id, config TOML)` of every reproducible figure of this system.
pub const FIGURES: &[(&str, &str)] = &[
    (
        "multistatic-fig2",
        include_str!("../../../configs/multistatic/fig2.toml"),
    ),
    (
        "multistatic-fig3",
        include_str!("../../../configs/multistatic/fig3.toml"),
    ),
    (
        "multistatic-fig4",
        include_str!("../../../configs/multistatic/fig4.toml"),
    ),
    (
        "multistatic-fig5",
        include_str!("../../../configs/multistatic/fig5.toml"),
    ),
    (
        "multistatic-fig6",
        include_str!("../../../configs/multistatic/fig6.toml"),
    ),
    (
        "multistatic-fig7",
        include_str!("../../../configs/multistatic/fig7.toml"),
    ),
];
