//! Embedded experiment configurations reproducing the numerical figures of
//! near-field-ispac.md (Fig. 2: convergence of the PDD Algorithm 2; Fig. 3: convergence of
//! the uplink AO Algorithm 6; Fig. 4: positioning RMSE against the root CRB; Figs. 5 and 6:
//! the downlink and uplink RCRB against the users' QoS and the number of RF chains).

/// `(id, config TOML)` of every reproducible figure of this system.
pub const FIGURES: &[(&str, &str)] = &[
    (
        "nearfield-fig2",
        include_str!("../../../configs/nearfield/fig2.toml"),
    ),
    (
        "nearfield-fig3",
        include_str!("../../../configs/nearfield/fig3.toml"),
    ),
    (
        "nearfield-fig4",
        include_str!("../../../configs/nearfield/fig4.toml"),
    ),
    (
        "nearfield-fig5",
        include_str!("../../../configs/nearfield/fig5.toml"),
    ),
    (
        "nearfield-fig5c",
        include_str!("../../../configs/nearfield/fig5c.toml"),
    ),
    (
        "nearfield-fig6",
        include_str!("../../../configs/nearfield/fig6.toml"),
    ),
    (
        "nearfield-fig6c",
        include_str!("../../../configs/nearfield/fig6c.toml"),
    ),
    (
        "nearfield-hybrid-methods",
        include_str!("../../../configs/nearfield/hybrid-methods.toml"),
    ),
    (
        "nearfield-uplink-methods",
        include_str!("../../../configs/nearfield/uplink-methods.toml"),
    ),
];
