//! Benchmark and cross-check instances for `isac bench backscatter`, exported in the
//! JSON format read by `python/backscatter_reference.py` (independent numpy model and
//! CVXPY + Clarabel solve).

use super::design::{
    design_settings, max_sum_rate, minimize_crb, tradeoff_curve, BackscatterDesign,
};
use super::scenario::{scenario_two, with_scenario_defaults};
use super::{design_json, BackscatterModel, BackscatterScenario};
use crate::error::Result;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::time::Instant;

/// The rate thresholds of the benchmark curve: 26 points uniform on `[0, 1.04]` bit/s/Hz
/// (Scenario II at 30 dBm: its largest achievable rate is about 1.026).
pub fn curve_thresholds() -> Vec<f64> {
    crate::experiment::linspace(0.0, 1.04, 26)
}

/// One exported instance: its full input table and our answer.
fn export_item(
    name: &str,
    table: &toml::Table,
    model: &BackscatterModel,
    d: &BackscatterDesign,
) -> Value {
    let mut isac = design_json(model, d);
    if let Value::Object(m) = &mut isac {
        m.insert("seconds".into(), json!(d.solve_seconds));
    }
    json!({"name": name, "input": serde_json::to_value(table).unwrap_or(Value::Null), "isac": isac})
}

/// Timings of the Scenario II curve.
pub struct CurveBench {
    /// The whole curve with the structure of [`tradeoff_curve`], best of the repeats, s.
    pub structured_seconds: f64,
    /// 26 independent solves, best of the repeats, s.
    pub independent_seconds: f64,
    /// Points that needed a rate-constrained solve in the structured curve.
    pub active_points: usize,
    pub export: Value,
}

/// Times the 26-point CRB–rate curve of Scenario II (L = 9, M_t = M_r = 8).
pub fn bench_curve(repeat: usize) -> Result<CurveBench> {
    let table = with_scenario_defaults(&scenario_two())?;
    let model = BackscatterModel::new(BackscatterScenario::from_table(&table)?);
    let rates = curve_thresholds();
    let settings = design_settings();
    let mut structured = f64::INFINITY;
    let mut independent = f64::INFINITY;
    let mut designs = Vec::new();
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        let curve = tradeoff_curve(&model, &rates, &settings)?;
        structured = structured.min(t0.elapsed().as_secs_f64());
        let t1 = Instant::now();
        designs.clear();
        for &g in &rates {
            let mut m = model.clone();
            m.scenario.min_sum_rate = g;
            designs.push(minimize_crb(&m, &settings)?);
        }
        independent = independent.min(t1.elapsed().as_secs_f64());
        // the two must agree point by point
        for (a, b) in curve.iter().zip(&designs) {
            if let (Some(x), Some(y)) = (a.crb, b.crb) {
                if (x.total - y.total).abs() > 1e-5 * y.total {
                    return Err(crate::error::IsacError::Numerical(format!(
                        "structured curve and independent solve disagree: {} vs {}",
                        x.total, y.total
                    )));
                }
            }
        }
    }
    let relaxed = designs.first().and_then(|d| d.sum_rate).unwrap_or(0.0);
    let cmax = max_sum_rate(&model, &settings)?.unwrap_or(0.0);
    let active_points = rates
        .iter()
        .filter(|&&g| g > relaxed && g <= cmax * (1.0 + 1e-6))
        .count();
    let items: Vec<Value> = rates
        .iter()
        .zip(&designs)
        .enumerate()
        .map(|(i, (g, d))| {
            let mut t = table.clone();
            t.remove("scenario");
            t.insert("min_sum_rate".into(), (*g).into());
            let mut m = model.clone();
            m.scenario.min_sum_rate = *g;
            export_item(&format!("scenario-II-curve-{i:02}"), &t, &m, d)
        })
        .collect();
    Ok(CurveBench {
        structured_seconds: structured,
        independent_seconds: independent,
        active_points,
        export: json!({"instances": items, "isac_total_seconds": structured,
                       "isac_independent_seconds": independent}),
    })
}

/// Random instances for the CVXPY cross-check: random geometry, 1 to 5 devices, every
/// pulse, both FIM variants, rate thresholds below, inside and above the active range.
pub fn cross_check_instances(count: usize, seed: u64) -> Result<Value> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let settings = design_settings();
    let mut items = Vec::new();
    let pulses = ["cosine", "sinc", "triangular"];
    for i in 0..count {
        let mut t = with_scenario_defaults(&super::scenario::scenario_one())?;
        t.remove("scenario");
        let l = [1usize, 2, 3, 5][i % 4];
        let rx: [f64; 2] = [rng.gen_range(1.0..3.0), rng.gen_range(-2.0..-1.0)];
        let mut devs = Vec::new();
        let mut syms = Vec::new();
        while devs.len() < l {
            let p: [f64; 2] = [rng.gen_range(0.5..2.5), rng.gen_range(-1.0..1.0)];
            let phi = (p[1] - rx[1]).atan2(p[0] - rx[0]);
            if phi.cos().abs() > 0.2 && (p[0].hypot(p[1]) > 0.2) {
                devs.push(toml::Value::Array(vec![p[0].into(), p[1].into()]));
                syms.push(toml::Value::Float(
                    super::scenario::ALPHABET[rng.gen_range(1..9)],
                ));
            }
        }
        t.insert(
            "receiver".into(),
            toml::Value::Array(vec![rx[0].into(), rx[1].into()]),
        );
        t.insert("devices".into(), toml::Value::Array(devs));
        t.insert("device_symbols".into(), toml::Value::Array(syms));
        t.insert("tx_antennas".into(), (rng.gen_range(2..7) as i64).into());
        t.insert("rx_antennas".into(), (rng.gen_range(2..7) as i64).into());
        t.insert("pulse".into(), pulses[i % 3].into());
        t.insert("power_dbm".into(), rng.gen_range(10.0..30.0).into());
        t.insert(
            "fim".into(),
            if i % 5 == 4 { "paper" } else { "model" }.into(),
        );
        let model0 = BackscatterModel::new(BackscatterScenario::from_table(&t)?);
        let relaxed = minimize_crb(&model0, &settings)?.sum_rate.unwrap_or(0.0);
        let cmax = max_sum_rate(&model0, &settings)?.unwrap_or(relaxed);
        // (for one device the matched beam maximises both, so there is no active part)
        let has_active_part = cmax > relaxed * (1.0 + 1e-3);
        let case = if has_active_part {
            i % 3
        } else {
            [0, 0, 2][i % 3]
        };
        let gamma = match case {
            0 => 0.5 * relaxed,
            1 => relaxed + rng.gen_range(0.2..0.8) * (cmax - relaxed),
            _ => cmax * rng.gen_range(1.05..1.5),
        };
        t.insert("min_sum_rate".into(), gamma.into());
        let model = BackscatterModel::new(BackscatterScenario::from_table(&t)?);
        let d = minimize_crb(&model, &settings)?;
        items.push(export_item(&format!("random-{i:02}-L{l}"), &t, &model, &d));
    }
    Ok(json!({"instances": items}))
}
