//! The near-field ISPAC system of `near-field-ispac.md` (Li, Wang, Mu, Pan, Liu): a base
//! station with a large main transceiver (MT, `N_a` antennas, near field) and a small
//! fully digital assisting transceiver (AT, `N_b` antennas) serves `K` users and locates
//! a target in angle and distance, in a downlink and an uplink working mode. This module
//! holds the channels, the joint angle–distance CRB of both modes, the positioning
//! algorithms, the fully digital optimum (Scheme 2, `design`), the hybrid downlink
//! (`hybrid`, and the PDD Algorithm 2 in `pdd`), the hybrid uplink (the AO Algorithm 6
//! with Algorithms 4 and 5, `uplink`) and the far-field baseline (Scheme 1). See
//! `docs/nearfield.md`.

pub mod bench;
pub mod design;
pub mod estimator;
pub mod figures;
pub mod hybrid;
pub mod model;
pub mod numerical;
pub mod pdd;
pub mod scenario;
pub mod uplink;

pub use design::{fully_digital, DigitalDesign};
pub use model::{Bound, NearfieldModel};
pub use scenario::{Architecture, HybridMethod, Mode, NearfieldScenario};

use crate::error::Result;
use crate::experiment::InstanceSolver;
use crate::report::{complex_matrix_json, number, optional_number as num, Answer, Metrics};
use crate::systems::{BenchReport, CrossCheck, System};
use crate::C64;
use faer::Mat;
use serde_json::{json, Value};

/// The near-field ISPAC system.
pub struct NearfieldSystem;

/// Builds the model of an instance and solves its design; the design in the antenna
/// domain (for a hybrid one, its [`hybrid::HybridDesign::antenna_view`]).
pub fn solve_table(table: &toml::Table) -> Result<(NearfieldModel, DigitalDesign)> {
    let (model, design, _) = solve_design(table)?;
    Ok((model, design))
}

/// A hybrid design with the fully digital optimum it is measured against.
pub struct HybridSolution {
    pub design: hybrid::HybridDesign,
    pub fully_digital: DigitalDesign,
}

/// [`solve_table`] with the hybrid design's factors and bound.
pub fn solve_design(
    table: &toml::Table,
) -> Result<(NearfieldModel, DigitalDesign, Option<HybridSolution>)> {
    let scenario = NearfieldScenario::from_table(table)?;
    let model = NearfieldModel::new(scenario)?;
    let settings = design::design_settings();
    match model.scenario.architecture {
        Architecture::Digital => {
            let design = fully_digital(&model, &settings)?;
            Ok((model, design, None))
        }
        Architecture::Hybrid(method) | Architecture::FarField(method) => {
            let s = &model.scenario;
            let arch = crate::physics::hybrid::PartiallyConnected::new(s.mt.elements, s.rf_chains)
                .ok_or_else(|| {
                    crate::error::IsacError::input(
                        "rf_chains",
                        "N_a must be a multiple of N_RF (at most N_a)",
                    )
                })?;
            let design = |m: &NearfieldModel| match (s.mode, method) {
                (Mode::Uplink, _) => {
                    uplink::uplink_ao_design(m, arch, &s.pdd, &s.uplink, &settings)
                }
                (_, HybridMethod::AltMin) => {
                    hybrid::altmin_design(m, arch, s.analog_iterations, &settings)
                }
                (_, HybridMethod::Pdd | HybridMethod::PddManifold) => {
                    pdd::pdd_design(m, arch, s.analog_iterations, &s.pdd, &settings)
                }
            };
            let (h, fd) = match s.architecture {
                Architecture::FarField(_) => hybrid::far_field_design(&model, design, &settings)?,
                _ => design(&model)?,
            };
            let view = h.antenna_view();
            Ok((
                model,
                view,
                Some(HybridSolution {
                    design: h,
                    fully_digital: fd,
                }),
            ))
        }
    }
}

/// The hybrid design's own fields: the factors in the RF domain (`analog` = `F`,
/// `digital` = `W~`, `sensing_covariance` = `R~_d`, so that `W = F W~` and
/// `R_d = F R~_d F^H`), the fully digital bound and the analog stage's history.
pub fn insert_hybrid(m: &mut Metrics, h: &HybridSolution, architecture: Architecture, full: bool) {
    let d = &h.design;
    let hy = d.bound.as_ref().and_then(|b| b.trace());
    let lb = hybrid::digital_bound(&h.fully_digital);
    m.insert("fully_digital_crb_trace".into(), num(lb));
    m.insert(
        "crb_ratio_to_digital".into(),
        num(hy.zip(lb).map(|(a, b)| a / b)),
    );
    m.insert("iterations".into(), json!(d.iterations));
    m.insert("structure_violation".into(), number(d.structure.worst()));
    if full {
        let method = match architecture {
            Architecture::Hybrid(x) | Architecture::FarField(x) => x.as_str(),
            Architecture::Digital => "digital",
        };
        m.insert("architecture".into(), json!(architecture.as_str()));
        m.insert("method".into(), json!(method));
        let ok = d.status.has_checked_design();
        insert_complex(m, "analog", ok.then_some(&d.analog));
        insert_complex(m, "digital", d.digital.digital.as_ref().filter(|_| ok));
        insert_complex(
            m,
            "sensing_covariance",
            d.digital.sensing_covariance.as_ref().filter(|_| ok),
        );
    }
    // the iteration history (an experiment writes it to history.csv, not results.csv)
    m.insert(
        "history".into(),
        json!(d
            .history
            .iter()
            .map(|r| {
                let mut row = Metrics::new();
                row.insert("iteration".into(), json!(r.iteration));
                row.insert("objective".into(), number(r.objective));
                // PDD: the constraint violation ||Q - F R~_x F^H||_inf / P (Fig. 2)
                if let Some(v) = r.metric("violation") {
                    row.insert("constraint_violation".into(), number(v));
                }
                json!(row)
            })
            .collect::<Vec<_>>()),
    );
}

/// The sensing SNR of Fig. 4, `|beta_s|^2 P / sigma^2` (linear).
pub fn sensing_snr(model: &NearfieldModel) -> f64 {
    model.sensing_gain.norm_sqr() * model.scenario.power / model.scenario.noise
}

/// Flat metrics (the CSV row of an experiment).
pub fn metrics(model: &NearfieldModel, d: &DigitalDesign) -> Metrics {
    let mut m = Metrics::new();
    d.status.write_metrics(&mut m);
    let b = d.bound.as_ref();
    m.insert("crb_trace".into(), num(b.and_then(|b| b.trace())));
    m.insert(
        "rcrb_angle_deg".into(),
        num(b.and_then(|b| b.rcrb_angle()).map(f64::to_degrees)),
    );
    m.insert("rcrb_angle_rad".into(), num(b.and_then(|b| b.rcrb_angle())));
    m.insert(
        "rcrb_distance_m".into(),
        num(b.and_then(|b| b.rcrb_distance())),
    );
    let sinr_db = d.sinr.as_ref().map(|v| {
        v.iter()
            .map(|x| number(10.0 * x.log10()))
            .collect::<Vec<_>>()
    });
    m.insert(
        "min_sinr_db_achieved".into(),
        num(d
            .sinr
            .as_ref()
            .map(|v| 10.0 * v.iter().cloned().fold(f64::INFINITY, f64::min).log10())),
    );
    m.insert("sinr_db".into(), sinr_db.map_or(Value::Null, |v| json!(v)));
    // 1 when a design exists and meets every SINR target (re-computed on the true
    // channels), 0 when none was found or it misses one; null when the problem is
    // infeasible (no design can): the success rate of a method over drops
    let targets_met = match (&d.status, &d.sinr) {
        (crate::status::DesignStatus::Infeasible { .. }, _) => Value::Null,
        (_, Some(v)) if d.status.has_checked_design() => json!(f64::from(u8::from(
            v.iter()
                .all(|&x| x >= model.scenario.min_sinr * (1.0 - hybrid::HYBRID_TOL))
        ))),
        _ => json!(0.0),
    };
    m.insert("sinr_targets_met".into(), targets_met);
    m.insert("power".into(), num(d.power));
    m.insert("solver_crb_trace".into(), num(d.solver_objective));
    m.insert("echo_limit".into(), num(d.echo_limit));
    m.insert("restored_power_change".into(), num(d.restored));
    m.insert("sinr_margin".into(), num(d.sinr_margin));
    m.insert(
        "sensing_snr_db".into(),
        number(10.0 * sensing_snr(model).log10()),
    );
    m.insert("subspace_dimension".into(), json!(d.subspace_dimension));
    m.insert("solver_iterations".into(), json!(d.solver_iterations));
    m.insert("solve_seconds".into(), json!(d.solve_seconds));
    m.insert("mode".into(), json!(model.scenario.mode.as_str()));
    m
}

/// The Monte Carlo of the positioning algorithms on the design's transmit covariance
/// (`trials` seeded trials, fully digital: `F = I`), or `None` when `trials = 0` or the
/// design returned no checked covariance (docs/nearfield-positioning.md).
pub fn positioning(
    model: &NearfieldModel,
    d: &DigitalDesign,
) -> Result<Option<estimator::MonteCarlo>> {
    let s = &model.scenario;
    match &d.transmit_covariance {
        Some(cov) if s.trials > 0 && d.status.has_checked_design() => {
            let grid = s.estimator_grid;
            estimator::monte_carlo(model, cov, None, s.trials, grid, s.seed).map(Some)
        }
        _ => Ok(None),
    }
}

/// The Monte Carlo metrics: RMSEs of the two-stage algorithm (the paper's) and of the
/// ML refinement, and the search path (`null` without a Monte Carlo).
pub fn insert_positioning(m: &mut Metrics, mc: Option<&estimator::MonteCarlo>) {
    m.insert(
        "monte_carlo_trials".into(),
        json!(mc.map_or(0, |mc| mc.trials)),
    );
    m.insert(
        "rmse_angle_deg".into(),
        num(mc.map(|mc| mc.rmse_angle.to_degrees())),
    );
    m.insert("rmse_distance_m".into(), num(mc.map(|mc| mc.rmse_distance)));
    m.insert(
        "rmse_angle_deg_ml".into(),
        num(mc.map(|mc| mc.rmse_angle_ml.to_degrees())),
    );
    m.insert(
        "rmse_distance_m_ml".into(),
        num(mc.map(|mc| mc.rmse_distance_ml)),
    );
    m.insert(
        "estimator_path".into(),
        mc.map_or(Value::Null, |mc| json!(mc.path.as_str())),
    );
}

/// The summary line of a Monte Carlo.
fn positioning_line(mc: &estimator::MonteCarlo) -> String {
    format!(
        "  RMSE ({} trials, {}): angle {:.4e} deg (ML {:.4e}), distance {:.4e} m (ML {:.4e})",
        mc.trials,
        mc.path.as_str(),
        mc.rmse_angle.to_degrees(),
        mc.rmse_angle_ml.to_degrees(),
        mc.rmse_distance,
        mc.rmse_distance_ml
    )
}

/// Inserts a complex matrix as `{key}_re` / `{key}_im` rows.
fn insert_complex(m: &mut Metrics, key: &str, mat: Option<&Mat<C64>>) {
    let v = mat.map(complex_matrix_json);
    for part in ["re", "im"] {
        m.insert(
            format!("{key}_{part}"),
            v.as_ref().map_or(Value::Null, |v| v[part].clone()),
        );
    }
}

/// The full JSON answer of `isac solve nearfield --json`: from these fields alone the
/// CRB and the SINRs can be recomputed.
pub fn design_json(model: &NearfieldModel, d: &DigitalDesign) -> Value {
    let s = &model.scenario;
    let mut m = metrics(model, d);
    let b = d.bound.as_ref();
    m.insert(
        "crb".into(),
        b.and_then(|b| b.crb.as_ref())
            .map_or(Value::Null, crate::report::real_matrix_json),
    );
    m.insert(
        "fim".into(),
        b.map_or(Value::Null, |b| crate::report::real_matrix_json(&b.fim)),
    );
    m.insert("architecture".into(), json!("digital"));
    let na = s.mt.elements;
    let identity = Mat::from_fn(na, na, |i, j| C64::new(if i == j { 1.0 } else { 0.0 }, 0.0));
    insert_complex(
        &mut m,
        "analog",
        d.status.has_checked_design().then_some(&identity),
    );
    insert_complex(&mut m, "digital", d.digital.as_ref());
    insert_complex(&mut m, "sensing_covariance", d.sensing_covariance.as_ref());
    let k = model.users();
    let h = Mat::from_fn(k, na, |u, n| model.user_channels[u][n]);
    insert_complex(&mut m, "user_channels", Some(&h));
    m.insert(
        "sensing_gain".into(),
        json!([model.sensing_gain.re, model.sensing_gain.im]),
    );
    m.insert(
        "target".into(),
        json!([s.target_angle.to_degrees(), s.target_distance]),
    );
    m.insert("mt_wavefront".into(), json!(s.mt_wavefront.as_str()));
    m.insert("at_wavefront".into(), json!(s.at_wavefront.as_str()));
    m.insert("slots".into(), json!(s.slots));
    m.insert("noise_w".into(), json!(s.noise));
    m.insert(
        "carrier_hz".into(),
        json!(s.mt.wavenumber * crate::physics::SPEED_OF_LIGHT / (2.0 * std::f64::consts::PI)),
    );
    Value::Object(m)
}

/// The human summary of `isac solve nearfield`.
pub fn summary_lines(model: &NearfieldModel, d: &DigitalDesign) -> Vec<String> {
    let s = &model.scenario;
    let mut out = vec![format!(
        "nearfield: {} {}, N_a = {}, N_b = {}, K = {}, status {}",
        s.mode.as_str(),
        match s.architecture {
            Architecture::Digital => "fully digital".to_string(),
            Architecture::Hybrid(_) => format!("hybrid (N_RF = {})", s.rf_chains),
            Architecture::FarField(_) => format!(
                "far-field beamsteering, hybrid (N_RF = {}), evaluated on the near-field channels",
                s.rf_chains
            ),
        },
        s.mt.elements,
        s.at.elements,
        model.users(),
        d.status.as_str()
    )];
    out.extend(d.status.summary_line());
    if let Some(b) = &d.bound {
        if let (Some(ra), Some(rd)) = (b.rcrb_angle(), b.rcrb_distance()) {
            out.push(format!(
                "  RCRB: angle {:.4e} deg, distance {:.4e} m   (sensing SNR {:.1} dB)",
                ra.to_degrees(),
                rd,
                10.0 * sensing_snr(model).log10()
            ));
        }
    }
    if let (Some(sinr), Some(p)) = (&d.sinr, d.power) {
        let worst = sinr.iter().cloned().fold(f64::INFINITY, f64::min);
        out.push(format!(
            "  min SINR {:.2} dB (target {:.2} dB)   power {:.4} W   subspace {}   {:.3} s",
            10.0 * worst.log10(),
            10.0 * s.min_sinr.log10(),
            p,
            d.subspace_dimension,
            d.solve_seconds
        ));
    }
    out
}

impl System for NearfieldSystem {
    fn name(&self) -> &'static str {
        "nearfield"
    }
    fn paper(&self) -> &'static str {
        "near-field-ispac.md (Li, Wang, Mu, Pan, Liu)"
    }
    fn summary(&self) -> &'static str {
        "near-field ISPAC: min tr CRB(angle, distance) s.t. user SINRs and power, downlink and uplink"
    }
    fn input_keys(&self) -> &'static [&'static str] {
        scenario::KEYS
    }
    fn solve(&self, instance: &toml::Table) -> Result<Answer> {
        let (model, design, hybrid) = solve_design(instance)?;
        let mut json = design_json(&model, &design);
        let mut summary = summary_lines(&model, &design);
        if let (Some(h), Value::Object(m)) = (&hybrid, &mut json) {
            insert_hybrid(m, h, model.scenario.architecture, true);
            if let Some(r) = m.get("crb_ratio_to_digital").and_then(Value::as_f64) {
                // the iterations of the method's outer loop: the analog fit (altmin),
                // Algorithm 2's outer loop (downlink PDD), Algorithm 6 (uplink AO)
                let what = match (model.scenario.mode, model.scenario.architecture) {
                    (Mode::Uplink, _) => "AO",
                    (_, Architecture::Hybrid(HybridMethod::AltMin))
                    | (_, Architecture::FarField(HybridMethod::AltMin)) => "analog fit",
                    _ => "PDD outer",
                };
                summary.push(format!(
                    "  hybrid (N_RF = {}): tr CRB {:.4} x the fully digital bound; {what} {} iterations",
                    model.scenario.rf_chains, r, h.design.iterations
                ));
            }
        }
        if model.scenario.trials > 0 {
            let mc = positioning(&model, &design)?;
            if let Value::Object(m) = &mut json {
                insert_positioning(m, mc.as_ref());
            }
            summary.extend(mc.as_ref().map(positioning_line));
        }
        Ok(Answer { json, summary })
    }
    fn figures(&self) -> &'static [(&'static str, &'static str)] {
        figures::FIGURES
    }
    fn bench(&self, repeat: usize) -> Result<BenchReport> {
        bench::bench_downlink(repeat)
    }
    fn extra_benches(&self) -> &'static [(&'static str, crate::systems::BenchRun)] {
        &[("nearfield-hybrid", bench::bench_hybrid)]
    }
    fn cross_check(&self) -> Result<Option<CrossCheck>> {
        let export = bench::cross_check_instances()?;
        let count = export["instances"].as_array().map_or(0, Vec::len);
        Ok(Some(CrossCheck {
            export,
            message: format!("wrote {count} nearfield cross-check instances to {{export}}"),
            checker: "python/nearfield_reference.py {export}",
        }))
    }
}

impl InstanceSolver for NearfieldSystem {
    fn solve_instance(&self, instance: &toml::Table) -> Result<Metrics> {
        let (model, design, hybrid) = solve_design(instance)?;
        let mut m = metrics(&model, &design);
        if let Some(h) = &hybrid {
            insert_hybrid(&mut m, h, model.scenario.architecture, false);
        }
        if model.scenario.trials > 0 {
            insert_positioning(&mut m, positioning(&model, &design)?.as_ref());
        }
        Ok(m)
    }
}
