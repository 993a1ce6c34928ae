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

pub use design::{design, DesignStatus, NetworkAnswer};
pub use model::NetworkModel;
pub use scenario::NetworkScenario;

use crate::error::Result;
use crate::experiment::InstanceSolver;
use crate::input::watts_to_dbm;
use crate::report::{decibels as db, number as num, Answer, Metrics};
use crate::systems::{BenchReport, CrossCheck, System};
use serde_json::{json, Value};

/// The network system as an [`InstanceSolver`].
pub struct NetworkSystem;

/// Solves one instance given as a TOML table.
pub fn solve_table(table: &toml::Table) -> Result<(NetworkModel, NetworkAnswer)> {
    let model = NetworkModel::new(NetworkScenario::from_table(table)?)?;
    let answer = design(&model, &program::program_settings())?;
    Ok((model, answer))
}

/// Flat metrics of an answer (the CSV row of an experiment).
pub fn metrics(model: &NetworkModel, a: &NetworkAnswer) -> Metrics {
    let mut m = Metrics::new();
    a.status.write_metrics(&mut m);
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
    m.insert(
        "stop_reason".into(),
        a.stop_reason
            .as_ref()
            .map_or(Value::Null, |r| json!(r.to_string())),
    );
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
                .map(|(w, s)| {
                    let v = crate::report::complex_vector_json(w);
                    json!({"bs": s, "re": v["re"], "im": v["im"]})
                })
                .collect::<Vec<_>>()),
        );
        m.insert(
            "sensing_covariances".into(),
            json!(d
                .sensing
                .iter()
                .map(crate::report::complex_matrix_json)
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
                .map(|h| crate::report::complex_vector_json(h))
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

/// The human summary of `isac solve network`.
pub fn summary_lines(model: &NetworkModel, a: &NetworkAnswer) -> Vec<String> {
    let mut out = vec![format!(
        "network: {} BSs, {} users, method {}, status {}",
        model.bs_count(),
        model.user_count(),
        a.method.as_str(),
        a.status.as_str()
    )];
    out.extend(a.status.summary_line());
    if let (Some(d), Some(v)) = (&a.design, &a.verification) {
        out.push(format!(
            "  receiving BS {} (0-based), association {:?}",
            d.receiver, d.association
        ));
        out.push(format!(
            "  total power {:.2} dBm, CRLB {:.4e} m^2, largest SDR rank {}",
            watts_to_dbm(v.total_power),
            v.crlb,
            d.max_rank
        ));
        let sinr: Vec<String> = v
            .sinr
            .iter()
            .map(|x| format!("{:.2}", 10.0 * x.log10()))
            .collect();
        out.push(format!("  SINR (dB): {}", sinr.join(", ")));
    }
    out.push(format!(
        "  {} candidates, {} programs, {} infeasible by the CRLB floor, {} skipped by the power bound, {:.2} s",
        a.search.candidates, a.search.programs, a.search.pruned, a.search.bounded, a.solve_seconds
    ));
    out
}

/// The small instance the independent checker (`python/network_reference.py`) re-solves
/// with CVXPY: `isac bench network --cross-check FILE` writes its JSON answer.
pub const CROSS_CHECK_INSTANCE: &str = include_str!("../../../configs/network/crosscheck.toml");

impl System for NetworkSystem {
    fn name(&self) -> &'static str {
        "network"
    }
    fn paper(&self) -> &'static str {
        "network-isac.md (conference letter, title not in the text)"
    }
    fn summary(&self) -> &'static str {
        "network ISAC: receiving-BS selection, user association, min power s.t. SINR and CRLB"
    }
    fn input_keys(&self) -> &'static [&'static str] {
        scenario::KEYS
    }
    fn solve(&self, instance: &toml::Table) -> Result<Answer> {
        let (model, a) = solve_table(instance)?;
        Ok(Answer {
            json: design_json(&model, &a),
            summary: summary_lines(&model, &a),
        })
    }
    fn figures(&self) -> &'static [(&'static str, &'static str)] {
        figures::FIGURES
    }
    fn bench(&self, repeat: usize) -> Result<BenchReport> {
        let b = bench::bench_table2(repeat, 24)?;
        let dbm = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2} dBm"));
        Ok(BenchReport {
            lines: vec![
                format!("network Table II layout (S = 4, K = 5, N = 8), best of {repeat}:"),
                format!(
                    "  Algorithm 1 (+ the program of its structure):       {:.3} s  -> {}",
                    b.proposed_seconds,
                    dbm(b.proposed_power_dbm)
                ),
                format!(
                    "  joint variant (+ the programs of its structures):   {:.3} s  -> {}",
                    b.joint_seconds,
                    dbm(b.joint_power_dbm)
                ),
                format!(
                    "  exhaustive search, {} threads:                       {:.3} s  -> {}",
                    b.threads,
                    b.exhaustive_seconds,
                    dbm(b.exhaustive_power_dbm)
                ),
                format!(
                    "    {} candidates: {} programs solved (bounds included), {} infeasible by the CRLB floor, {} skipped by the power bound",
                    b.candidates, b.programs, b.pruned, b.bounded
                ),
                format!(
                    "  one fixed-structure program, 1 thread (mean of {}): {:.4} s",
                    b.sample, b.program_seconds
                ),
            ],
            export: b.export,
            peer: "python/network_reference.py {export} --exhaustive",
        })
    }
    fn cross_check(&self) -> Result<Option<CrossCheck>> {
        let table: toml::Table = CROSS_CHECK_INSTANCE.parse().map_err(|e| {
            crate::error::IsacError::Numerical(format!("embedded cross-check instance: {e}"))
        })?;
        let answer = self.solve(&table)?;
        Ok(Some(CrossCheck {
            export: answer.json,
            message:
                "wrote the design of configs/network/crosscheck.toml with its channels to {export}"
                    .into(),
            checker: "python/network_reference.py {export} --check-tol 1e-3",
        }))
    }
}

impl InstanceSolver for NetworkSystem {
    fn solve_instance(&self, instance: &toml::Table) -> Result<Metrics> {
        let (model, a) = solve_table(instance)?;
        Ok(metrics(&model, &a))
    }
}
