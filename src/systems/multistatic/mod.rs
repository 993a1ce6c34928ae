//! The multi-static ISAC system of `multistatic-isac.md` (Wang, Tian, Huang, Chen, Xu,
//! Zhang): one transmitter (TR), one moving target, K receivers (REs) that may cooperate
//! to localise it. Data flow: [`scenario`] (input) -> [`model`] (links, channels, rates,
//! CRB) -> [`selection`] (RE selection for a fixed beamformer) -> [`sca`] (beamforming by
//! successive convex approximation) -> [`design`] (the whole pipeline, recovery of `W`,
//! independent re-check). [`fim`] and [`geometry`] hold the bound and the localisation.

pub mod bench;
pub mod design;
pub mod estimator;
pub mod figures;
pub mod fim;
pub mod geometry;
pub mod model;
pub mod sca;
pub mod scenario;
pub mod selection;

pub use design::{design, design_settings, DesignStatus, MultistaticDesign};
pub use model::MultistaticModel;
pub use scenario::MultistaticScenario;

use crate::error::Result;
use crate::experiment::InstanceSolver;
use crate::report::{optional_number as num, Answer, Metrics};
use crate::systems::{BenchReport, CrossCheck, System};
use serde_json::{json, Value};

/// The multi-static system as an [`InstanceSolver`].
pub struct MultistaticSystem;

/// Solves one instance given as a TOML table.
pub fn solve_table(table: &toml::Table) -> Result<(MultistaticModel, MultistaticDesign)> {
    let model = MultistaticModel::new(MultistaticScenario::from_table(table)?);
    let d = design(&model, &design_settings())?;
    Ok((model, d))
}

/// Flat metrics of a design (the CSV row of an experiment).
pub fn metrics(model: &MultistaticModel, d: &MultistaticDesign) -> Metrics {
    let mut m = Metrics::new();
    d.status.write_metrics(&mut m);
    m.insert("method".into(), json!(d.method));
    m.insert("crb".into(), num(d.crb));
    m.insert("crb_normalised".into(), num(d.crb_normalised));
    m.insert("position_crb".into(), num(d.position_crb));
    m.insert("velocity_crb".into(), num(d.velocity_crb));
    m.insert(
        "position_crb_known_velocity".into(),
        num(d.position_crb_known_velocity),
    );
    m.insert("selected_count".into(), json!(d.selected.len()));
    if let Some(c) = &d.clustering {
        // K-means selection: a run that hit its iteration cap is reported, not hidden
        m.insert("kmeans_converged".into(), json!(c.converged()));
        m.insert("kmeans_not_converged".into(), json!(c.not_converged));
    }
    let finite: Vec<f64> = d.rates.iter().copied().filter(|r| r.is_finite()).collect();
    let min_rate = finite.iter().copied().fold(f64::INFINITY, f64::min);
    m.insert("min_rate".into(), num(Some(min_rate)));
    m.insert(
        "mean_rate".into(),
        num((!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)),
    );
    m.insert("cost".into(), num(Some(d.cost)));
    m.insert("power".into(), num(d.power));
    m.insert("sca_iterations".into(), json!(d.sca_iterations));
    m.insert(
        "feasibility_iterations".into(),
        json!(d.feasibility_iterations),
    );
    m.insert(
        "max_rank".into(),
        json!(d.ranks.iter().copied().max().unwrap_or(0)),
    );
    m.insert("solve_seconds".into(), json!(d.solve_seconds));
    m.insert("receivers".into(), json!(model.receivers()));
    m
}

/// The full JSON answer of `isac solve multistatic --json`.
pub fn design_json(model: &MultistaticModel, d: &MultistaticDesign) -> Value {
    let mut m = metrics(model, d);
    m.insert("selected".into(), json!(d.selected));
    m.insert("selection".into(), json!(model.scenario.selection.as_str()));
    m.insert(
        "rates".into(),
        json!(d.rates.iter().map(|r| num(Some(*r))).collect::<Vec<_>>()),
    );
    m.insert("min_rate_slack".into(), num(d.min_rate_slack));
    m.insert("power_excess".into(), num(d.power_excess));
    m.insert("ranks".into(), json!(d.ranks));
    m.insert("crb_history".into(), json!(d.crb_history));
    m.insert("non_monotone_steps".into(), json!(d.non_monotone_steps));
    m.insert(
        "fims".into(),
        json!(d
            .fims
            .iter()
            .map(|j| vec![vec![j[(0, 0)], j[(0, 1)]], vec![j[(1, 0)], j[(1, 1)]]])
            .collect::<Vec<_>>()),
    );
    m.insert(
        "beamformers".into(),
        json!(d
            .beamformers
            .iter()
            .map(crate::report::complex_matrix_json)
            .collect::<Vec<_>>()),
    );
    m.insert(
        "comm_channels".into(),
        json!(model
            .comm_channels
            .iter()
            .map(crate::report::complex_matrix_json)
            .collect::<Vec<_>>()),
    );
    m.insert(
        "delays".into(),
        json!(model.links.iter().map(|l| l.delay).collect::<Vec<_>>()),
    );
    m.insert(
        "dopplers".into(),
        json!(model.links.iter().map(|l| l.doppler).collect::<Vec<_>>()),
    );
    m.insert("receiver_positions".into(), json!(model.scenario.receivers));
    Value::Object(m)
}

/// The matched-filter Monte Carlo of Fig. 7 on the design's selected REs (the TR's own
/// link for the mono-static baseline): sums over the REs of the empirical MSEs and of the
/// model CRBs of delay (s^2) and Doppler (Hz^2), as the paper's `sum_k Tr(M_k^mse)`.
pub fn matched_filter_metrics(model: &MultistaticModel, d: &MultistaticDesign) -> Result<Metrics> {
    let s = &model.scenario;
    let mut m = Metrics::new();
    if s.mf_trials == 0 || d.beamformers.is_empty() {
        return Ok(m);
    }
    let links: Vec<_> = if d.selected.is_empty() {
        vec![model.mono_link.clone()]
    } else {
        d.selected.iter().map(|&k| model.links[k].clone()).collect()
    };
    let dt = s.symbol_duration;
    let r = estimator::monte_carlo(
        &links,
        &model.waveform,
        &d.beamformers,
        model.sensing_noise(),
        s.mf_oversampling,
        s.mf_trials,
        s.seed,
        s.mf_statistic,
        dt / 2.0,
        8.0,
    )?;
    let sum = |f: &dyn Fn(&estimator::MonteCarloResult) -> f64| r.iter().map(f).sum::<f64>();
    m.insert("mf_mse_delay".into(), json!(sum(&|x| x.mse_delay)));
    m.insert("mf_mse_doppler".into(), json!(sum(&|x| x.mse_doppler)));
    m.insert(
        "mf_mse".into(),
        json!(sum(&|x| x.mse_delay + x.mse_doppler)),
    );
    m.insert("crb_sum_delay".into(), json!(sum(&|x| x.crb_delay)));
    m.insert("crb_sum_doppler".into(), json!(sum(&|x| x.crb_doppler)));
    m.insert(
        "crb_sum".into(),
        json!(sum(&|x| x.crb_delay + x.crb_doppler)),
    );
    Ok(m)
}

/// The human summary of `isac solve multistatic`.
pub fn summary_lines(model: &MultistaticModel, d: &MultistaticDesign, mf: &Metrics) -> Vec<String> {
    let mut out = vec![format!(
        "multistatic: {} receivers, selection {}, status {}",
        model.receivers(),
        model.scenario.selection.as_str(),
        d.status.as_str()
    )];
    out.extend(d.status.summary_line());
    let Some(crb) = d.crb else { return out };
    let fmt = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.4e}"));
    out.push(format!(
        "  selected REs: {:?}  (cost {:.3})",
        d.selected, d.cost
    ));
    out.push(format!(
        "  CRB U = {crb:.4e}   position CRB = {} m^2 (velocity unknown), {} m^2 (known)",
        fmt(d.position_crb),
        fmt(d.position_crb_known_velocity)
    ));
    let rates: Vec<String> = d.rates.iter().map(|r| format!("{r:.3}")).collect();
    out.push(format!("  rates (bit/s/Hz): [{}]", rates.join(", ")));
    out.push(format!(
        "  power = {:.4} W   ranks = {:?}   SCA: {} + {} iterations, {:.3} s",
        d.power.unwrap_or(f64::NAN),
        d.ranks,
        d.feasibility_iterations,
        d.sca_iterations,
        d.solve_seconds
    ));
    if let (Some(a), Some(b)) = (mf.get("mf_mse"), mf.get("crb_sum")) {
        out.push(format!(
            "  matched filter ({} trials): sum of MSEs {a} vs sum of CRBs {b} (s^2 + Hz^2)",
            model.scenario.mf_trials
        ));
    }
    out
}

impl System for MultistaticSystem {
    fn name(&self) -> &'static str {
        "multistatic"
    }
    fn paper(&self) -> &'static str {
        "multistatic-isac.md (Wang, Tian, Huang, Chen, Xu, Zhang)"
    }
    fn summary(&self) -> &'static str {
        "multi-static ISAC: RE selection + SCA beamforming, min delay-Doppler CRB s.t. rates"
    }
    fn input_keys(&self) -> &'static [&'static str] {
        scenario::KEYS
    }
    fn solve(&self, instance: &toml::Table) -> Result<Answer> {
        let (model, d) = solve_table(instance)?;
        let mf = matched_filter_metrics(&model, &d)?;
        let mut json = design_json(&model, &d);
        if let Value::Object(o) = &mut json {
            o.extend(mf.clone());
        }
        Ok(Answer {
            json,
            summary: summary_lines(&model, &d, &mf),
        })
    }
    fn figures(&self) -> &'static [(&'static str, &'static str)] {
        figures::FIGURES
    }
    fn bench(&self, repeat: usize) -> Result<BenchReport> {
        let b = bench::bench_design(bench::INSTANCE, repeat)?;
        Ok(BenchReport {
            lines: vec![
                format!("multistatic paper setup (K = 10, N_t = 10, N_r = 2, L = 2), |G| = 2, R_th = 0.5 bit/s/Hz, 1 thread, best of {repeat}:"),
                format!(
                    "  feasibility phase: {:>3} iterations {:>8.3} s",
                    b.feasibility_iterations, b.feasibility_seconds
                ),
                format!(
                    "  selection ({:?}):          {:>8.3} s",
                    b.selected, b.selection_seconds
                ),
                format!(
                    "  SCA (45)-(46):     {:>3} iterations {:>8.3} s  ({:.3} s per iteration), final s(Q) = {:.9}",
                    b.sca_iterations,
                    b.sca_seconds,
                    b.sca_seconds / b.sca_iterations.max(1) as f64,
                    b.final_gain
                ),
                format!("  full design:                     {:>8.3} s", b.total_seconds),
            ],
            export: b.export,
            peer: "python/multistatic_reference.py --problem {export} --out OUT.json",
        })
    }
    fn cross_check(&self) -> Result<Option<CrossCheck>> {
        let b = bench::bench_design(bench::CROSS_CHECK_INSTANCE, 1)?;
        Ok(Some(CrossCheck {
            export: b.export,
            message: format!(
                "wrote the cross-check SCA ({} iterations, s(Q) = {:.9}) to {{export}}",
                b.sca_iterations, b.final_gain
            ),
            checker:
                "python/multistatic_reference.py --problem {export} --out OUT.json --check-tol 1e-5",
        }))
    }
}

impl InstanceSolver for MultistaticSystem {
    fn solve_instance(&self, instance: &toml::Table) -> Result<Metrics> {
        let (model, d) = solve_table(instance)?;
        let mut m = metrics(&model, &d);
        m.extend(matched_filter_metrics(&model, &d)?);
        Ok(m)
    }
}
