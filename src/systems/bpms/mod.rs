//! Joint bistatic positioning and monostatic sensing (bistatic-monostatic.md; docs/bpms.md):
//! a MIMO-OFDM BS whose pilots let a UE position itself (BP: unknown clock bias and
//! orientation, the targets as extra anchors) while the BS senses the targets and the UE
//! from their echoes (MS).
//!
//! Data flow: [`scenario`] (input) -> [`model`] (geometry, channel-domain FIMs in closed
//! form over the subcarriers, Jacobians, position-domain CRBs, fusion) -> designs.
//! [`numerical`] holds the sampled OFDM model that checks the closed forms.

pub mod design;
pub mod figures;
pub mod mismatch;
pub mod model;
pub mod numerical;
pub mod scenario;

pub use model::{Bounds, BpmsModel};
pub use scenario::BpmsScenario;
pub mod bench;

pub use design::{wcrb, Structure, WcrbDesign};

use crate::error::Result;
use crate::experiment::InstanceSolver;
use crate::report::{complex_matrix_json, number, real_matrix_json, Answer, Metrics};
use crate::systems::{BenchReport, CrossCheck, System};
use crate::C64;
use serde_json::{json, Value};

/// The joint BP / MS system.
pub struct BpmsSystem;

/// Builds the model of an instance and solves its design (`scheme`).
pub fn solve_table(table: &toml::Table) -> Result<(BpmsModel, WcrbDesign)> {
    let scenario = BpmsScenario::from_table(table)?;
    let model = BpmsModel::new(scenario);
    let s = &model.scenario;
    let settings = design::design_settings();
    let scheme = s.scheme.as_str();
    let mismatch_kind = match scheme {
        "fdb-wbf" | "cpa-wbf" => Some(mismatch::Mismatch::Beamformer),
        "fdb-wcm" | "cpa-wcm" => Some(mismatch::Mismatch::Covariance),
        _ => None,
    };
    let cpa = scheme.starts_with("cpa");
    if let Some(kind) = mismatch_kind {
        let method = if s.closed_form_mismatch {
            mismatch::Method::ClosedForm
        } else {
            mismatch::Method::Printed
        };
        let g = mismatch::guides(&model, cpa, &settings)?;
        let (design, _) = mismatch::mismatch(&model, kind, cpa, s.alpha, &g, method, &settings)?;
        return Ok((model, design));
    }
    let (structure, fused) = match scheme {
        "cpa-wcrb" => (Structure::Codebook, false),
        "fusion" => (Structure::Reduced, true),
        _ if s.reduced => (Structure::Reduced, false),
        _ => (Structure::Full, false),
    };
    let design = wcrb(&model, s.alpha, fused, structure, &settings)?;
    Ok((model, design))
}

/// Flat metrics (the CSV row of an experiment). `crb_bp` / `crb_ms` are the scheme's own
/// bounds (the fused ones for `fusion`); the other pair is reported beside them.
pub fn metrics(model: &BpmsModel, d: &WcrbDesign) -> Metrics {
    let mut m = Metrics::new();
    d.status.write_metrics(&mut m);
    let b = d.bounds.as_ref();
    // the scheme's own pair [bp, ms], then the other pair
    let pairs: Option<[f64; 4]> = b.map(|b| {
        if d.fused {
            [b.fused_crb_bp, b.fused_crb_ms, b.crb_bp, b.crb_ms]
        } else {
            [b.crb_bp, b.crb_ms, b.fused_crb_bp, b.fused_crb_ms]
        }
    });
    let other = if d.fused { "_unfused" } else { "_fused" };
    let val = |i: usize, root: bool| {
        pairs.map_or(Value::Null, |p| {
            number(if root { p[i].sqrt() } else { p[i] })
        })
    };
    m.insert("crb_bp".into(), val(0, false));
    m.insert("crb_ms".into(), val(1, false));
    m.insert(format!("crb_bp{other}"), val(2, false));
    m.insert(format!("crb_ms{other}"), val(3, false));
    m.insert("rcrb_bp_m".into(), val(0, true));
    m.insert("rcrb_ms_m".into(), val(1, true));
    m.insert("objective".into(), number(d.objective));
    m.insert("solver_objective".into(), number(d.solver_objective));
    m.insert("alpha".into(), json!(d.alpha));
    m.insert("scheme".into(), json!(model.scenario.scheme));
    m.insert("structure".into(), json!(d.structure.as_str()));
    m.insert("dimension".into(), json!(d.dimension));
    m.insert("solver_iterations".into(), json!(d.solver_iterations));
    m.insert("solve_seconds".into(), json!(d.seconds));
    m
}

/// The full JSON answer of `isac solve bpms --json`: `F` and the gains (with the
/// geometry of the input) are enough to recompute both CRBs.
pub fn design_json(model: &BpmsModel, d: &WcrbDesign) -> Value {
    let mut m = metrics(model, d);
    let s = &model.scenario;
    let put = |m: &mut Metrics, key: &str, x: Option<&faer::Mat<C64>>| {
        let v = x.map(complex_matrix_json);
        for part in ["re", "im"] {
            m.insert(
                format!("{key}_{part}"),
                v.as_ref().map_or(Value::Null, |v| v[part].clone()),
            );
        }
    };
    put(&mut m, "covariance", d.covariance.as_ref());
    put(&mut m, "beamformers", d.beamformers.as_ref());
    m.insert(
        "power_allocation".into(),
        d.power_allocation
            .as_ref()
            .map_or(Value::Null, |r| json!(r)),
    );
    let b = d.bounds.as_ref();
    m.insert(
        "fim_bp_position".into(),
        b.map_or(Value::Null, |b| real_matrix_json(&b.fim_bp)),
    );
    m.insert(
        "fim_ms_position".into(),
        b.map_or(Value::Null, |b| real_matrix_json(&b.fim_ms)),
    );
    let pairs = |g: &[C64]| json!(g.iter().map(|x| [x.re, x.im]).collect::<Vec<_>>());
    m.insert("bp_gains".into(), pairs(&s.bp_gains));
    m.insert("ms_gains".into(), pairs(&s.ms_gains));
    m.insert("noise_w".into(), json!(s.noise));
    m.insert("power_w".into(), json!(s.power));
    m.insert("aod_rad".into(), json!(model.channel.aod));
    m.insert("aoa_rad".into(), json!(model.channel.aoa));
    m.insert("bp_delays_s".into(), json!(model.channel.bp_delays));
    m.insert("ms_delays_s".into(), json!(model.channel.ms_delays));
    Value::Object(m)
}

/// The human summary of `isac solve bpms`.
pub fn summary_lines(model: &BpmsModel, d: &WcrbDesign) -> Vec<String> {
    let s = &model.scenario;
    let mut out = vec![format!(
        "bpms: {} at alpha = {}, N_B = {}, N_U = {}, K = {}, M = {}, status {}",
        s.scheme,
        s.alpha,
        s.bs_antennas,
        s.ue_antennas,
        model.targets(),
        s.subcarriers,
        d.status.as_str()
    )];
    out.extend(d.status.summary_line());
    if let Some(b) = &d.bounds {
        let (bp, ms) = if d.fused {
            (b.fused_crb_bp, b.fused_crb_ms)
        } else {
            (b.crb_bp, b.crb_ms)
        };
        out.push(format!(
            "  root CRB: BP (UE position) {:.4e} m, MS (all K + 1 positions) {:.4e} m{}",
            bp.sqrt(),
            ms.sqrt(),
            if d.fused { " (fused, Remark 1)" } else { "" }
        ));
        out.push(format!(
            "  objective {:.6e} m^2 (program {:.6e}), {} x {} covariance ({}), {:.3} s",
            d.objective,
            d.solver_objective,
            d.dimension,
            d.dimension,
            d.structure.as_str(),
            d.seconds
        ));
    }
    out
}

impl System for BpmsSystem {
    fn name(&self) -> &'static str {
        "bpms"
    }
    fn paper(&self) -> &'static str {
        "bistatic-monostatic.md (Zhang, Chen, Zheng, Ning, Niu, Wymeersch, Al-Naffouri)"
    }
    fn summary(&self) -> &'static str {
        "joint bistatic positioning and monostatic sensing: weighted-sum CRB beamforming (FDB, CPA, Fusion)"
    }
    fn input_keys(&self) -> &'static [&'static str] {
        scenario::KEYS
    }
    fn solve(&self, instance: &toml::Table) -> Result<Answer> {
        let (model, design) = solve_table(instance)?;
        Ok(Answer {
            json: design_json(&model, &design),
            summary: summary_lines(&model, &design),
        })
    }
    fn figures(&self) -> &'static [(&'static str, &'static str)] {
        figures::FIGURES
    }
    fn bench(&self, repeat: usize) -> Result<BenchReport> {
        bench::bench_front(repeat)
    }
    fn cross_check(&self) -> Result<Option<CrossCheck>> {
        let export = bench::cross_check_instances()?;
        let count = export["instances"].as_array().map_or(0, Vec::len);
        Ok(Some(CrossCheck {
            export,
            message: format!("wrote {count} bpms cross-check instances to {{export}}"),
            checker: "python/bpms_reference.py {export}",
        }))
    }
}

impl InstanceSolver for BpmsSystem {
    fn solve_instance(&self, instance: &toml::Table) -> Result<Metrics> {
        let (model, design) = solve_table(instance)?;
        Ok(metrics(&model, &design))
    }
}
