//! The multi-user backscatter ISAC system of `backscatter-isac.md` (Tian, Wang, Huang,
//! Zhang): one multi-antenna transmitter excites L single-antenna backscatter devices;
//! a multi-antenna receiver estimates each device's delay and DoA and decodes their
//! symbols. Design: the sample covariance `R_x` minimising the CRB under power and
//! sum-rate constraints, (33)-(35). See `docs/backscatter.md`.

pub mod bench;
pub mod design;
pub mod figures;
pub mod localization;
pub mod model;
pub mod numerical;
pub mod scenario;

pub use design::{minimize_crb, BackscatterDesign, DesignStatus};
pub use model::{BackscatterModel, Crb};
pub use scenario::{BackscatterScenario, FimVariant, Formulation};

use crate::conic::SolverSettings;
use crate::error::Result;
use crate::experiment::{InstanceSolver, Metrics};
use serde_json::{json, Value};

/// The backscatter system as an [`InstanceSolver`].
pub struct BackscatterSystem;

/// Solves one instance given as a TOML table.
pub fn solve_table(table: &toml::Table) -> Result<(BackscatterModel, BackscatterDesign)> {
    let scenario = BackscatterScenario::from_table(table)?;
    let model = BackscatterModel::new(scenario);
    let settings = SolverSettings {
        verbose: std::env::var("ISAC_VERBOSE").is_ok(),
        ..design::design_settings()
    };
    let design = minimize_crb(&model, &settings)?;
    Ok((model, design))
}

fn num(x: Option<f64>) -> Value {
    match x {
        Some(v) if v.is_finite() => json!(v),
        _ => Value::Null,
    }
}

/// Flat metrics of a design (the CSV row of an experiment).
pub fn metrics(model: &BackscatterModel, d: &BackscatterDesign) -> Metrics {
    let mut m = Metrics::new();
    m.insert("status".into(), json!(d.status.as_str()));
    m.insert("crb".into(), num(d.crb.map(|c| c.total)));
    m.insert("crb_delay".into(), num(d.crb.map(|c| c.delay)));
    m.insert("crb_doa".into(), num(d.crb.map(|c| c.doa)));
    m.insert("sum_rate".into(), num(d.sum_rate));
    m.insert("power".into(), num(d.power));
    m.insert(
        "rank".into(),
        d.rank.map(|r| json!(r)).unwrap_or(Value::Null),
    );
    m.insert("solver_iterations".into(), json!(d.solver_iterations));
    m.insert("solve_seconds".into(), json!(d.solve_seconds));
    m.insert("devices".into(), json!(model.devices()));
    if let DesignStatus::Inaccurate(reason) = &d.status {
        m.insert("reason".into(), json!(reason));
    }
    m
}

/// The full JSON answer of `isac solve backscatter --json`.
pub fn design_json(model: &BackscatterModel, d: &BackscatterDesign) -> Value {
    let mut m = metrics(model, d);
    let cov = d.covariance.as_ref().map(|r| {
        let n = r.nrows();
        json!({
            "re": (0..n).map(|i| (0..n).map(|j| r[(i, j)].re).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "im": (0..n).map(|i| (0..n).map(|j| r[(i, j)].im).collect::<Vec<_>>()).collect::<Vec<_>>(),
        })
    });
    m.insert("tx_covariance".into(), cov.unwrap_or(Value::Null));
    let fim = d.fim.as_ref().map(|j| {
        let n = j.nrows();
        json!((0..n)
            .map(|a| (0..n).map(|b| j[(a, b)]).collect::<Vec<_>>())
            .collect::<Vec<_>>())
    });
    m.insert("fim".into(), fim.unwrap_or(Value::Null));
    m.insert("solver_crb".into(), num(d.solver_crb));
    m.insert(
        "fim_variant".into(),
        json!(match model.scenario.fim {
            FimVariant::Model => "model",
            FimVariant::Paper => "paper",
        }),
    );
    m.insert("device_positions".into(), json!(model.scenario.devices));
    m.insert("device_symbols".into(), json!(model.scenario.device_symbols));
    m.insert(
        "devices_doa_deg".into(),
        json!(model
            .links
            .iter()
            .map(|l| l.doa.to_degrees())
            .collect::<Vec<_>>()),
    );
    m.insert(
        "devices_delay_s".into(),
        json!(model.links.iter().map(|l| l.delay).collect::<Vec<_>>()),
    );
    Value::Object(m)
}

impl InstanceSolver for BackscatterSystem {
    fn solve_instance(&self, instance: &toml::Table) -> Result<Metrics> {
        let (model, design) = solve_table(instance)?;
        Ok(metrics(&model, &design))
    }
}
