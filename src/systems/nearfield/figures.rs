//! Embedded experiment configurations reproducing the numerical figures of
//! near-field-ispac.md (Fig. 4: positioning RMSE against the root CRB).

/// `(id, config TOML)` of every reproducible figure of this system.
pub const FIGURES: &[(&str, &str)] = &[(
    "nearfield-fig4",
    include_str!("../../../configs/nearfield/fig4.toml"),
)];
