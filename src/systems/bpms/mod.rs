//! Joint bistatic positioning and monostatic sensing (bistatic-monostatic.md; docs/bpms.md):
//! a MIMO-OFDM BS whose pilots let a UE position itself (BP: unknown clock bias and
//! orientation, the targets as extra anchors) while the BS senses the targets and the UE
//! from their echoes (MS).
//!
//! Data flow: [`scenario`] (input) -> [`model`] (geometry, channel-domain FIMs in closed
//! form over the subcarriers, Jacobians, position-domain CRBs, fusion) -> designs.
//! [`numerical`] holds the sampled OFDM model that checks the closed forms.

pub mod analog;
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
    match scheme {
        "analog-fdb" => {
            let d = analog::analog_fdb(&model, s.alpha, &s.analog, &settings)?;
            return Ok((model, d));
        }
        "analog-cpa" => {
            let d = analog::analog_cpa(&model, s.alpha, &s.analog, &settings)?;
            return Ok((model, d));
        }
        _ => {}
    }
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
    if let Some(a) = &d.analog {
        analog_metrics(&mut m, d, a);
    }
    beampattern_metrics(&mut m, model, d);
    m
}

/// The analog designs' fields: the mismatch (23a) / (P_B/M)^2, the AO's iterations and
/// history (Fig. 2), the digital optimum of the same weight and the gap to it, the
/// structure re-check.
fn analog_metrics(m: &mut Metrics, d: &WcrbDesign, a: &analog::AnalogInfo) {
    m.insert("mismatch_objective".into(), number(a.mismatch));
    m.insert("iterations".into(), json!(a.iterations));
    m.insert("starts".into(), json!(a.starts.len()));
    m.insert("digital_objective".into(), number(a.digital_objective));
    m.insert(
        "gap_to_digital".into(),
        number(d.objective / a.digital_objective - 1.0),
    );
    m.insert("modulus_spread".into(), number(a.modulus_spread));
    m.insert("power_error".into(), number(a.power_error));
    if !a.fit_residuals.is_empty() {
        let worst = a.fit_residuals.iter().cloned().fold(0.0, f64::max);
        m.insert("worst_fit_residual".into(), number(worst));
    }
    if !a.history.is_empty() {
        // the AO history (an experiment writes it to history.csv, not results.csv)
        m.insert(
            "history".into(),
            json!(a
                .history
                .iter()
                .map(|(k, f)| json!({"iteration": k, "objective": number(*f)}))
                .collect::<Vec<_>>()),
        );
    }
}

/// `10 log10(x)`, `null` for a non-positive `x`.
fn db(x: f64) -> Value {
    if x > 0.0 {
        number(10.0 * x.log10())
    } else {
        Value::Null
    }
}

/// The beampattern of the design when asked for (`beampattern`): records `{angle_deg,
/// gain_db}` or `{x_m, y_m, gain_db}`, the gain `a^H(theta) V a(theta) / tr V` (dB over an
/// isotropic transmission of the same power; the model is far-field, so a point of the
/// plane sees the gain of its angle from the BS), and for the plane the objects as
/// `{x_m, y_m, object}`. An analog CPA design adds `codeword_beampattern` (Fig. 3):
/// `|a^H(theta) u|^2` in dB of every derivative codeword (`digital_k_db`) and its analog
/// counterpart (`analog_k_db`).
fn beampattern_metrics(m: &mut Metrics, model: &BpmsModel, d: &WcrbDesign) {
    use scenario::Beampattern;
    let s = &model.scenario;
    let Some(v) = d
        .covariance
        .as_ref()
        .filter(|_| d.status.has_checked_design())
    else {
        return;
    };
    let power: f64 = (0..v.nrows()).map(|i| v[(i, i)].re).sum();
    let array = &model.bs_array;
    let gain = |theta: f64| db(array.transmit_beampattern(v, theta) / power);
    let angles = |points: usize| -> Vec<f64> {
        (0..points)
            .map(|i| -90.0 + 180.0 * i as f64 / (points - 1) as f64)
            .collect()
    };
    match &s.beampattern {
        Beampattern::None => {}
        Beampattern::Angle { points } => {
            let recs: Vec<Value> = angles(*points)
                .into_iter()
                .map(|a| json!({"angle_deg": a, "gain_db": gain(a.to_radians())}))
                .collect();
            m.insert("beampattern".into(), json!(recs));
            if let Some(u) = d.analog.as_ref().and_then(|a| a.codebook.as_ref()) {
                let digital = model.codebook();
                let n = model.targets() + 1;
                // |a^H u|^2 of column `col`, the steering vector computed once per angle
                let pattern = |cb: &faer::Mat<C64>, col: usize, a: &[C64]| {
                    let x: C64 = (0..a.len()).map(|r| a[r].conj() * cb[(r, col)]).sum();
                    db(x.norm_sqr())
                };
                let recs: Vec<Value> = angles(*points)
                    .into_iter()
                    .map(|deg| {
                        let a = array.steering(deg.to_radians());
                        let mut r = Metrics::new();
                        r.insert("angle_deg".into(), json!(deg));
                        for k in 0..n {
                            r.insert(format!("digital_{k}_db"), pattern(&digital, n + k, &a));
                            r.insert(format!("analog_{k}_db"), pattern(u, n + k, &a));
                        }
                        Value::Object(r)
                    })
                    .collect();
                m.insert("codeword_beampattern".into(), json!(recs));
            }
        }
        Beampattern::Plane { x, y, nx, ny } => {
            let bs = s.bs_position;
            let mut recs = Vec::with_capacity(nx * ny);
            for iy in 0..*ny {
                let py = y.0 + (y.1 - y.0) * iy as f64 / (*ny - 1) as f64;
                for ix in 0..*nx {
                    let px = x.0 + (x.1 - x.0) * ix as f64 / (*nx - 1) as f64;
                    let (dx, dy) = (px - bs[0], py - bs[1]);
                    let g = if dx == 0.0 && dy == 0.0 {
                        Value::Null
                    } else {
                        // the AOD convention of docs/bpms.md#conventions
                        gain(dy.atan2(dx) - std::f64::consts::FRAC_PI_2)
                    };
                    recs.push(json!({"x_m": px, "y_m": py, "gain_db": g}));
                }
            }
            m.insert("beampattern".into(), json!(recs));
            let mut objects = vec![
                json!({"x_m": bs[0], "y_m": bs[1], "object": "BS"}),
                json!({"x_m": s.ue_position[0], "y_m": s.ue_position[1], "object": "UE"}),
            ];
            for (k, t) in s.targets.iter().enumerate() {
                objects
                    .push(json!({"x_m": t[0], "y_m": t[1], "object": format!("target {}", k + 1)}));
            }
            m.insert("objects".into(), json!(objects));
        }
    }
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
    if let Some(a) = &d.analog {
        put(&mut m, "codebook", a.codebook.as_ref());
        put(&mut m, "guide_bar", Some(&a.guides.0));
        put(&mut m, "guide_under", Some(&a.guides.1));
        if !a.fit_residuals.is_empty() {
            m.insert("fit_residuals".into(), json!(a.fit_residuals));
        }
        if !a.starts.is_empty() {
            m.insert(
                "start_objectives".into(),
                json!(a.starts.iter().map(|x| x.objective).collect::<Vec<_>>()),
            );
        }
    }
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
        if let Some(a) = &d.analog {
            out.push(format!(
                "  analog: mismatch (23a) / (P_B/M)^2 = {:.6e}, weighted CRB {:.6e} m^2 = {:.4} x the digital optimum {:.6e}, {:.3} s",
                a.mismatch,
                d.objective,
                d.objective / a.digital_objective,
                a.digital_objective,
                d.seconds
            ));
            return out;
        }
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
        "joint bistatic positioning and monostatic sensing: weighted-sum CRB and mismatch beamforming (digital and analog FDB, CPA, Fusion)"
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
