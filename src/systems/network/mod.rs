//! The network ISAC system of `network-isac.md`: S base stations cooperate; one receives
//! the target's echo, the others transmit and serve single-antenna users; the total
//! transmit power is minimised under per-user SINR and a CRLB bound on the target position.
//! Data flow: [`scenario`] (input) -> [`model`] (channels, echo gains, FIM map) ->
//! [`program`] (the SDP for a fixed receiving BS and association, beamformer extraction)
//! -> [`search`] (exhaustive search, baselines) -> [`design`] (method, status) ->
//! [`verify`] (independent re-check of the returned design).

pub mod algorithm;
pub mod bench;
pub mod design;
pub mod figures;
pub mod model;
pub mod program;
pub mod scenario;
pub mod search;
pub mod verify;

pub use design::{design, NetworkAnswer, NetworkStatus};
pub use model::NetworkModel;
pub use scenario::NetworkScenario;

use crate::error::Result;
use crate::experiment::{InstanceSolver, Metrics};
use crate::input::watts_to_dbm;
use serde_json::{json, Value};

/// The network system as an [`InstanceSolver`].
pub struct NetworkSystem;

/// Solves one instance given as a TOML table.
pub fn solve_table(table: &toml::Table) -> Result<(NetworkModel, NetworkAnswer)> {
    let model = NetworkModel::new(NetworkScenario::from_table(table)?)?;
    let answer = design(&model, &program::program_settings())?;
    Ok((model, answer))
}

fn num(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn db(x: f64) -> Value {
    num(10.0 * x.log10())
}

/// Flat metrics of an answer (the CSV row of an experiment).
pub fn metrics(model: &NetworkModel, a: &NetworkAnswer) -> Metrics {
    let mut m = Metrics::new();
    m.insert("status".into(), json!(a.status.as_str()));
    // 1 when the method returns no feasible design (infeasible, or no design that passes
    // the re-check): its mean over all repetitions is the infeasibility rate of Fig. 4
    let feasible = a
        .verification
        .as_ref()
        .is_some_and(|v| v.violations.is_empty());
    m.insert("infeasible".into(), json!(if feasible { 0.0 } else { 1.0 }));
    m.insert("method".into(), json!(a.method.as_str()));
    let v = a.verification.as_ref();
    m.insert(
        "total_power_dbm".into(),
        v.map_or(Value::Null, |v| num(watts_to_dbm(v.total_power))),
    );
    m.insert("crlb".into(), v.map_or(Value::Null, |v| num(v.crlb)));
    m.insert(
        "min_sinr_db".into(),
        v.map_or(Value::Null, |v| {
            db(v.sinr.iter().copied().fold(f64::INFINITY, f64::min))
        }),
    );
    m.insert(
        "receiving_bs".into(),
        match (&a.design, &a.candidate) {
            (Some(d), _) => json!(d.receiver),
            (None, Some((r, _))) => json!(r),
            _ => Value::Null,
        },
    );
    m.insert(
        "max_rank".into(),
        a.design.as_ref().map_or(Value::Null, |d| json!(d.max_rank)),
    );
    m.insert("iterations".into(), json!(a.iterations));
    m.insert("binary_gap".into(), a.binary_gap.map_or(Value::Null, num));
    m.insert(
        "relaxation_bound_dbm".into(),
        a.relaxation_bound
            .map_or(Value::Null, |p| num(watts_to_dbm(p))),
    );
    m.insert("candidates".into(), json!(a.search.candidates));
    m.insert("programs".into(), json!(a.search.programs));
    m.insert("pruned".into(), json!(a.search.pruned));
    m.insert("bounded".into(), json!(a.search.bounded));
    m.insert("infeasible_programs".into(), json!(a.search.infeasible));
    m.insert("inaccurate_programs".into(), json!(a.search.inaccurate));
    m.insert("solve_seconds".into(), json!(a.solve_seconds));
    m.insert("users".into(), json!(model.user_count()));
    match &a.status {
        NetworkStatus::Inaccurate(r) => {
            m.insert("reason".into(), json!(r));
        }
        NetworkStatus::Infeasible { reason, certified } => {
            m.insert("reason".into(), json!(reason));
            m.insert("certified".into(), json!(certified));
        }
        NetworkStatus::Solved { note } => {
            m.insert("reason".into(), json!(note));
        }
        NetworkStatus::Optimal => {}
    }
    m
}

/// The full JSON answer of `isac solve network --json`: everything needed to re-check the
/// design outside `isac` (channels, echo gains, beamformers, covariances).
pub fn design_json(model: &NetworkModel, a: &NetworkAnswer) -> Value {
    let mut m = metrics(model, a);
    if let (None, Some((_, assoc))) = (&a.design, &a.candidate) {
        m.insert("association".into(), json!(assoc));
    }
    if let Some(d) = &a.design {
        m.insert("association".into(), json!(d.association));
        m.insert(
            "beamformers".into(),
            json!(d
                .beamformers
                .iter()
                .zip(&d.association)
                .map(|(w, s)| json!({"bs": s, "re": crate::experiment::complex_vector_json(w)["re"], "im": crate::experiment::complex_vector_json(w)["im"]}))
                .collect::<Vec<_>>()),
        );
        m.insert(
            "sensing_covariances".into(),
            json!(d
                .sensing
                .iter()
                .map(crate::experiment::complex_matrix_json)
                .collect::<Vec<_>>()),
        );
        m.insert("objective_w".into(), num(d.objective));
    }
    if let Some(v) = &a.verification {
        m.insert(
            "sinr_db".into(),
            json!(v.sinr.iter().map(|&x| db(x)).collect::<Vec<_>>()),
        );
        m.insert(
            "bs_power_dbm".into(),
            json!(v
                .bs_power
                .iter()
                .map(|&x| num(watts_to_dbm(x)))
                .collect::<Vec<_>>()),
        );
        m.insert("violations".into(), json!(v.violations));
    }
    m.insert("objective_history".into(), json!(a.history));
    m.insert(
        "per_receiver_power_dbm".into(),
        json!(a
            .search
            .per_receiver
            .iter()
            .map(|(r, o)| json!({"receiving_bs": r, "total_power_dbm": o.map_or(Value::Null, |w| num(watts_to_dbm(w)))}))
            .collect::<Vec<_>>()),
    );
    m.insert(
        "user_channels".into(),
        json!(model
            .user_channels
            .iter()
            .map(|per_bs| per_bs
                .iter()
                .map(|h| crate::experiment::complex_vector_json(h))
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()),
    );
    m.insert("echo_gains".into(), json!(model.echo_power));
    let sc = &model.scenario;
    m.insert(
        "parameters".into(),
        json!({
            "antennas": sc.antennas,
            "antenna_spacing": sc.antenna_spacing,
            "samples": sc.samples,
            "user_noise_w": sc.user_noise,
            "bs_noise_w": sc.bs_noise,
            "max_power_w": sc.max_power,
            "min_sinr": sc.min_sinr,
            "max_crlb": sc.max_crlb,
        }),
    );
    m.insert("base_stations".into(), json!(model.scenario.base_stations));
    m.insert("users".into(), json!(model.scenario.users));
    m.insert("target".into(), json!(model.scenario.target));
    Value::Object(m)
}

impl InstanceSolver for NetworkSystem {
    fn solve_instance(&self, instance: &toml::Table) -> Result<Metrics> {
        let (model, a) = solve_table(instance)?;
        Ok(metrics(&model, &a))
    }
}
