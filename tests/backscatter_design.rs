//! The backscatter design against known optima, invariants and an equivalent formulation.

use faer::Mat;
use isac::systems::backscatter::design::{
    design_settings, max_sum_rate, minimize_crb, tradeoff_curve,
};
use isac::systems::backscatter::scenario::{scenario_one, scenario_two};
use isac::systems::backscatter::{BackscatterModel, BackscatterScenario, DesignStatus};
use isac::C64;
use rand::{Rng, SeedableRng};

fn model(mut t: toml::Table, overrides: &[(&str, toml::Value)]) -> BackscatterModel {
    for (k, v) in overrides {
        t.insert((*k).into(), v.clone());
    }
    BackscatterModel::new(BackscatterScenario::from_table(&t).unwrap())
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn single_device_optimum_is_the_matched_beam() {
    // L = 1: CRB and rate both depend on R only through q = a^T R a^*, maximised by
    // R = P0 conj(a) a^T / M_t (q = P0 M_t). The CRB is then the closed form below.
    for pulse in ["cosine", "sinc", "triangular"] {
        let m = model(
            scenario_one(),
            &[("pulse", pulse.into()), ("min_sum_rate", 0.05.into())],
        );
        let d = minimize_crb(&m, &design_settings()).unwrap();
        assert_eq!(d.status, DesignStatus::Optimal, "{pulse}");
        let s = &m.scenario;
        let lk = &m.links[0];
        let (mt, mr) = (s.tx_array.elements as f64, s.rx_array.elements);
        let q = s.power_budget * mt;
        let xi = 2.0 * s.symbols as f64 * lk.amplitude.powi(2)
            / (s.noise_variance() * s.symbol_duration);
        let mom = s.pulse.closed_form_moments(s.symbol_duration);
        let s2: f64 = (0..mr).map(|k| (k * k) as f64).sum();
        let crb_tau = 1.0 / (xi * mom.energy * mom.mean_square_bandwidth * mr as f64 * q);
        let crb_phi = 1.0 / (xi * mom.energy * lk.kappa.powi(2) * s2 * q);
        let crb = d.crb.unwrap();
        assert!(
            rel(crb.doa, crb_phi) < 1e-6,
            "{pulse}: {} vs {crb_phi}",
            crb.doa
        );
        assert!(rel(crb.delay, crb_tau) < 1e-6, "{pulse}");
        assert_eq!(d.rank, Some(1));
        // the same beam maximises the rate
        let rate_max = max_sum_rate(&m, &design_settings()).unwrap().unwrap();
        let rate_beam = (1.0
            + s.symbols as f64 / s.noise_variance() * lk.amplitude.powi(2) * mr as f64 * q)
            .log2()
            / s.symbols as f64;
        assert!(rel(rate_max, rate_beam) < 1e-6);
        assert!(rel(d.sum_rate.unwrap(), rate_beam) < 1e-6);
    }
}

#[test]
fn rate_above_the_maximum_is_infeasible_not_an_error() {
    let m = model(scenario_one(), &[("min_sum_rate", 0.5.into())]);
    let d = minimize_crb(&m, &design_settings()).unwrap();
    assert_certified_infeasible(&d.status);
}

#[test]
fn fp_schur_and_trace_inverse_agree_on_the_printed_fim() {
    let settings = design_settings();
    for base in [scenario_one(), scenario_two()] {
        let relaxed = model(base.clone(), &[("fim", "paper".into())]);
        let r0 = minimize_crb(&relaxed, &settings).unwrap().sum_rate.unwrap();
        let cmax = max_sum_rate(&relaxed, &settings).unwrap().unwrap();
        // below and inside the active part of the curve (for one device there is no
        // active part: the matched beam maximises both the rate and the information)
        let mut rates = vec![0.0, 0.5 * r0];
        if cmax > r0 * (1.0 + 1e-3) {
            rates.push(0.5 * (r0 + cmax));
        }
        for rate in rates {
            let a = model(
                base.clone(),
                &[("fim", "paper".into()), ("min_sum_rate", rate.into())],
            );
            let b = model(
                base.clone(),
                &[
                    ("fim", "paper".into()),
                    ("min_sum_rate", rate.into()),
                    ("formulation", "fp-schur".into()),
                ],
            );
            let da = minimize_crb(&a, &settings).unwrap();
            let db = minimize_crb(&b, &settings).unwrap();
            assert_eq!(da.status, DesignStatus::Optimal, "trace-inverse at {rate}");
            assert_eq!(db.status, DesignStatus::Optimal, "fp-schur at {rate}");
            let (ca, cb) = (da.crb.unwrap().total, db.crb.unwrap().total);
            assert!(rel(ca, cb) < 1e-5, "rate {rate}: {ca} vs {cb}");
        }
    }
}

fn random_feasible_covariance(m: &BackscatterModel, rng: &mut impl Rng) -> Mat<C64> {
    let mt = m.scenario.tx_array.elements;
    let rank = rng.gen_range(1..=mt);
    let b = Mat::from_fn(mt, rank, |_, _| {
        C64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0))
    });
    let r = &b * b.adjoint();
    let tr: f64 = (0..mt).map(|i| r[(i, i)].re).sum();
    Mat::from_fn(mt, mt, |i, j| r[(i, j)] * (m.scenario.power_budget / tr))
}

#[test]
fn optimum_beats_random_feasible_designs_and_meets_its_constraints() {
    let m = model(scenario_two(), &[("min_sum_rate", 0.6.into())]);
    let d = minimize_crb(&m, &design_settings()).unwrap();
    assert_eq!(d.status, DesignStatus::Optimal);
    let cov = d.covariance.clone().unwrap();
    // constraints re-evaluated from R
    assert!(m.power(&cov) <= m.scenario.power_budget * (1.0 + 1e-6));
    assert!(m.sum_rate(&cov) >= 0.6 * (1.0 - 1e-6));
    let best = d.crb.unwrap().total;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut tried = 0;
    for _ in 0..300 {
        let r = random_feasible_covariance(&m, &mut rng);
        if m.sum_rate(&r) < 0.6 {
            continue;
        }
        tried += 1;
        let c = m.crb(&r, m.scenario.fim).total;
        assert!(
            c >= best * (1.0 - 1e-6),
            "random design {c} beats the optimum {best}"
        );
    }
    assert!(tried > 10, "only {tried} random designs met the rate");
}

#[test]
fn crb_is_monotone_in_power_and_rate() {
    let s = design_settings();
    let mut last = f64::INFINITY;
    for p in [10.0, 20.0, 30.0] {
        let m = model(
            scenario_two(),
            &[("power_dbm", p.into()), ("min_sum_rate", 0.3.into())],
        );
        let d = minimize_crb(&m, &s).unwrap();
        let c = d.crb.unwrap().total;
        assert!(c < last, "more power must not hurt: {c} at {p} dBm");
        last = c;
    }
    let m = model(scenario_two(), &[]);
    let rates = [0.0, 0.8, 0.9, 0.95, 5.0];
    let curve = tradeoff_curve(&m, &rates, &s).unwrap();
    let mut prev = 0.0;
    for (g, d) in rates.iter().zip(&curve) {
        if *g > 4.0 {
            assert_certified_infeasible(&d.status);
            continue;
        }
        let c = d.crb.unwrap().total;
        assert!(
            c >= prev * (1.0 - 1e-6),
            "a higher rate threshold cannot lower the CRB"
        );
        prev = c;
    }
}

#[test]
fn tradeoff_curve_equals_independent_solves() {
    let m = model(scenario_two(), &[]);
    let s = design_settings();
    let cmax = max_sum_rate(&m, &s).unwrap().unwrap();
    let rates = [0.0, 0.5 * cmax, 0.97 * cmax, 0.995 * cmax, 1.01 * cmax];
    let curve = tradeoff_curve(&m, &rates, &s).unwrap();
    for (g, d) in rates.iter().zip(&curve) {
        let mut single = m.clone();
        single.scenario.min_sum_rate = *g;
        let e = minimize_crb(&single, &s).unwrap();
        if matches!(d.status, DesignStatus::Infeasible { .. }) {
            // just past the maximum, Clarabel may fail to certify infeasibility; it must
            // not claim an optimum, and whatever it returns misses the threshold
            assert_ne!(e.status, DesignStatus::Optimal, "rate {g}");
            if let Some(r) = e.sum_rate {
                assert!(r < *g, "rate {g}: direct solve reached {r}");
            }
            continue;
        }
        assert_eq!(d.status, e.status, "rate {g}");
        if let (Some(a), Some(b)) = (d.crb, e.crb) {
            assert!(
                rel(a.total, b.total) < 1e-5,
                "rate {g}: {} vs {}",
                a.total,
                b.total
            );
        }
    }
}

#[test]
fn experiment_solver_reuses_curve_ends_exactly() {
    use isac::experiment::InstanceSolver;
    use isac::systems::backscatter::BackscatterSystem;
    let m = model(scenario_two(), &[]);
    let s = design_settings();
    let cmax = max_sum_rate(&m, &s).unwrap().unwrap();
    for g in [0.0, 0.5, 0.99, 1.01 * cmax] {
        let mut t = scenario_two();
        t.insert("min_sum_rate".into(), g.into());
        let row = BackscatterSystem.solve_instance(&t).unwrap();
        let mut single = m.clone();
        single.scenario.min_sum_rate = g;
        let e = minimize_crb(&single, &s).unwrap();
        if row["status"] == "infeasible" {
            assert_ne!(e.status, DesignStatus::Optimal, "rate {g}");
            continue;
        }
        assert_eq!(row["status"], e.status.as_str(), "rate {g}");
        let crb = row["crb"].as_f64().unwrap();
        assert!(rel(crb, e.crb.unwrap().total) < 1e-5, "rate {g}");
    }
}

#[test]
fn experiment_results_do_not_depend_on_the_thread_count() {
    use isac::experiment::{run_experiment, ExperimentConfig, RunOptions};
    use isac::systems::backscatter::BackscatterSystem;
    let text = r#"
        [experiment]
        name = "threads"
        system = "backscatter"
        [base]
        scenario = "II"
        tx_antennas = 4
        rx_antennas = 4
        [[sweep]]
        key = "pulse"
        values = ["cosine", "triangular"]
        [[sweep]]
        key = "min_sum_rate"
        values = [0.0, 0.6, 0.65, 0.66, 0.7]
    "#;
    let config = ExperimentConfig::from_toml_str(text).unwrap();
    let mut outputs = Vec::new();
    for threads in [1usize, 2] {
        isac::systems::backscatter::clear_curve_cache();
        let dir =
            std::env::temp_dir().join(format!("isac-threads-{}-{threads}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let opts = RunOptions {
            output_override: Some(dir.clone()),
            quiet: true,
            max_threads: Some(threads),
        };
        run_experiment(&config, &BackscatterSystem, &opts).unwrap();
        let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
        // drop the timing column, which no run reproduces
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let keep: Vec<usize> = (0..header.len())
            .filter(|&i| !header[i].ends_with("seconds"))
            .collect();
        let cleaned: Vec<String> = csv
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                keep.iter()
                    .map(|&i| f.get(i).copied().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        outputs.push(cleaned);
    }
    assert_eq!(outputs[0].len(), 11);
    assert_eq!(outputs[0], outputs[1]);
}

fn assert_certified_infeasible(status: &DesignStatus) {
    assert!(
        matches!(
            status,
            DesignStatus::Infeasible {
                certified: true,
                ..
            }
        ),
        "{status:?}"
    );
}
