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

use crate::error::Result;
use crate::experiment::InstanceSolver;
use crate::report::{optional_number as num, Answer, Metrics};
use crate::systems::{BenchReport, CrossCheck, System};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The backscatter system as an [`InstanceSolver`].
pub struct BackscatterSystem;

/// Solves one instance given as a TOML table.
pub fn solve_table(table: &toml::Table) -> Result<(BackscatterModel, BackscatterDesign)> {
    let scenario = BackscatterScenario::from_table(table)?;
    let model = BackscatterModel::new(scenario);
    let design = minimize_crb(&model, &design::design_settings())?;
    Ok((model, design))
}

/// Flat metrics of a design (the CSV row of an experiment).
pub fn metrics(model: &BackscatterModel, d: &BackscatterDesign) -> Metrics {
    let mut m = Metrics::new();
    d.status.write_metrics(&mut m);
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
    m
}

/// The full JSON answer of `isac solve backscatter --json`.
pub fn design_json(model: &BackscatterModel, d: &BackscatterDesign) -> Value {
    let mut m = metrics(model, d);
    m.insert(
        "tx_covariance".into(),
        d.covariance
            .as_ref()
            .map_or(Value::Null, crate::report::complex_matrix_json),
    );
    m.insert(
        "fim".into(),
        d.fim
            .as_ref()
            .map_or(Value::Null, crate::report::real_matrix_json),
    );
    m.insert("solver_crb".into(), num(d.solver_crb));
    m.insert(
        "fim_variant".into(),
        json!(match model.scenario.fim {
            FimVariant::Model => "model",
            FimVariant::Paper => "paper",
        }),
    );
    if let Some(j) = &d.fim {
        let per_device = model.position_crb(j);
        let total: Option<f64> = per_device.iter().copied().sum();
        m.insert("position_crb".into(), num(total));
        m.insert(
            "device_position_crb".into(),
            json!(per_device.iter().map(|v| num(*v)).collect::<Vec<_>>()),
        );
    }
    m.insert("device_positions".into(), json!(model.scenario.devices));
    m.insert(
        "device_symbols".into(),
        json!(model.scenario.device_symbols),
    );
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

/// The human summary of `isac solve backscatter`.
pub fn summary_lines(model: &BackscatterModel, d: &BackscatterDesign) -> Vec<String> {
    let mut out = vec![format!(
        "backscatter: {} devices, status {}",
        model.devices(),
        d.status.as_str()
    )];
    out.extend(d.status.summary_line());
    if let (Some(c), Some(rate), Some(p)) = (d.crb, d.sum_rate, d.power) {
        out.push(format!(
            "  CRB(rho) = {:.4e}  (delay {:.3e} s^2, DoA {:.4e} rad^2)",
            c.total, c.delay, c.doa
        ));
        out.push(format!(
            "  sum rate = {rate:.5} bit/s/Hz   power = {:.4} W ({:.2} dBm)",
            p,
            crate::input::watts_to_dbm(p)
        ));
        out.push(format!(
            "  rank(R_x) = {}   solved in {:.3} s",
            d.rank.unwrap_or(0),
            d.solve_seconds
        ));
    }
    out
}

impl System for BackscatterSystem {
    fn name(&self) -> &'static str {
        "backscatter"
    }
    fn paper(&self) -> &'static str {
        "backscatter-isac.md (Tian, Wang, Huang, Zhang)"
    }
    fn summary(&self) -> &'static str {
        "multi-user backscatter ISAC: min CRB(delay, DoA) s.t. power and sum rate"
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
        let b = bench::bench_curve(repeat)?;
        Ok(BenchReport {
            lines: vec![
                format!("backscatter Scenario II (L = 9, M_t = M_r = 8), 26-point CRB-rate curve, 1 thread, best of {repeat}:"),
                format!(
                    "  structured curve (relaxed solve + max-rate solve + {} active points): {:.3} s",
                    b.active_points, b.structured_seconds
                ),
                format!(
                    "  26 independent solves:                                            {:.3} s",
                    b.independent_seconds
                ),
            ],
            export: b.export,
            peer: "python/backscatter_reference.py {export}",
        })
    }
    fn cross_check(&self) -> Result<Option<CrossCheck>> {
        let count = 12;
        Ok(Some(CrossCheck {
            export: bench::cross_check_instances(count, 2026)?,
            message: format!("wrote {count} cross-check instances to {{export}}"),
            checker: "python/backscatter_reference.py {export}",
        }))
    }
}

fn curve_cache() -> &'static Mutex<HashMap<String, EndsCell>> {
    static CACHE: OnceLock<Mutex<HashMap<String, EndsCell>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Empties the cache of curve ends (for tests that compare independent runs, and for
/// long-lived processes).
pub fn clear_curve_cache() {
    curve_cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
}

/// The two ends of a CRB–rate curve shared by every rate threshold of one instance:
/// the optimum without the rate constraint and the largest achievable rate.
struct CurveEnds {
    relaxed: BackscatterDesign,
    max_rate: Option<f64>,
}

type EndsCell = Arc<OnceLock<std::result::Result<CurveEnds, String>>>;

/// Process-wide cache of [`CurveEnds`], keyed by the instance without its threshold and
/// seed. Sweeps over `min_sum_rate` (every figure of this paper) then solve the relaxed and
/// max-rate problems once per curve and reuse them exactly as [`design::tradeoff_curve`]
/// does. The cached values are deterministic, so results do not depend on which thread
/// computes them first.
fn curve_ends(key: String, model: &BackscatterModel) -> Result<EndsCell> {
    let cell = {
        let mut map = curve_cache().lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key).or_default().clone()
    };
    cell.get_or_init(|| {
        let settings = design::design_settings();
        let mut relaxed_model = model.clone();
        relaxed_model.scenario.min_sum_rate = 0.0;
        let relaxed = minimize_crb(&relaxed_model, &settings).map_err(|e| e.to_string())?;
        let max_rate = design::max_sum_rate(model, &settings).map_err(|e| e.to_string())?;
        Ok(CurveEnds { relaxed, max_rate })
    });
    Ok(cell)
}

impl InstanceSolver for BackscatterSystem {
    fn solve_instance(&self, instance: &toml::Table) -> Result<Metrics> {
        let full = scenario::with_scenario_defaults(instance)?;
        let scenario = BackscatterScenario::from_table(&full)?;
        let model = BackscatterModel::new(scenario);
        let gamma = model.scenario.min_sum_rate;
        let mut key_table = full.clone();
        key_table.remove("min_sum_rate");
        key_table.remove("seed");
        let key = toml::to_string(&key_table).unwrap_or_default();
        let cell = curve_ends(key, &model)?;
        if let Some(Ok(ends)) = cell.get() {
            let relaxed_rate = ends.relaxed.sum_rate.unwrap_or(f64::NAN);
            if ends.relaxed.status == DesignStatus::Optimal && gamma <= relaxed_rate {
                let mut m = metrics(&model, &ends.relaxed);
                m.insert("from_relaxed_optimum".into(), json!(true));
                return Ok(m);
            }
            if let Some(cmax) = ends.max_rate {
                if gamma > cmax * (1.0 + 1e-6) {
                    let mut d = ends.relaxed.clone();
                    d.status = DesignStatus::infeasible(
                        "the minimum sum rate is above the largest achievable sum rate",
                        true,
                    );
                    d.covariance = None;
                    d.crb = None;
                    d.fim = None;
                    d.sum_rate = None;
                    d.power = None;
                    d.rank = None;
                    let mut m = metrics(&model, &d);
                    m.insert("max_sum_rate".into(), json!(cmax));
                    return Ok(m);
                }
            }
        }
        let design = minimize_crb(&model, &design::design_settings())?;
        Ok(metrics(&model, &design))
    }
}
