//! Diagnostics of the Fig. 4 Monte Carlo (docs/nearfield-positioning.md): per sensing SNR, the
//! downlink beam gain at the target, the ML estimate's bias and spread against the RCRB, the
//! two-stage angle RMSE against the AT-only bound, and (with a third argument) the
//! derivative of the ML bias when the target moves and the design stays.
//!
//!   cargo run --release --example nearfield_fig4_diagnostics -- downlink 500
//!   cargo run --release --example nearfield_fig4_diagnostics -- downlink 300 bias
use isac::systems::nearfield::estimator::*;
use isac::systems::nearfield::numerical::signal_with_covariance;
use isac::systems::nearfield::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = &args[1];
    let trials: usize = args[2].parse().unwrap();
    if args.len() > 3 {
        // bias derivative: move the true target by delta (angle), keep R designed at the nominal point
        for snr in [10.0, 20.0, 30.0] {
            let src =
                format!("system = \"nearfield\"\nmode = \"{mode}\"\nsensing_snr_db = {snr}\n");
            let table: toml::Table = src.parse().unwrap();
            let (model, design) = solve_table(&table).unwrap();
            let cov = design.transmit_covariance.clone().unwrap();
            let crb = model.bound(&cov, None).crb.unwrap();
            let delta = 2.0 * crb[(0, 0)].sqrt();
            let mut means = vec![];
            for sign in [-1.0, 1.0] {
                let mut t2 = table.clone();
                t2.insert(
                    "target".into(),
                    toml::Value::Array(vec![
                        (45.0 + sign * delta.to_degrees()).into(),
                        20.0.into(),
                    ]),
                );
                let m2 = NearfieldModel::new(NearfieldScenario::from_table(&t2).unwrap()).unwrap();
                let mut sum = 0.0;
                for t in 0..trials {
                    let (ss, ns) = trial_seeds(7, t);
                    let x = signal_with_covariance(&cov, m2.scenario.slots, ss).unwrap();
                    let echo = simulate_echo(&m2, x, None, m2.scenario.noise, ns);
                    let p = locate(&m2, &echo, None, 2048).unwrap();
                    sum += p.refined.angle - 45f64.to_radians();
                }
                means.push(sum / trials as f64);
            }
            println!("{snr} dB: delta {delta:.2e} rad; mean ML angle error at -delta {:.2e}, at +delta {:.2e}; 1 + b' = {:.3}", means[0], means[1], (means[1] - means[0]) / (2.0 * delta));
        }
        return;
    }
    for snr in [10.0, 15.0, 20.0, 25.0, 30.0] {
        let src = format!("system = \"nearfield\"\nmode = \"{mode}\"\nsensing_snr_db = {snr}\n");
        let table: toml::Table = src.parse().unwrap();
        let (model, design) = solve_table(&table).unwrap();
        let cov = design.transmit_covariance.clone().unwrap();
        let b = model.bound(&cov, None);
        let crb = b.crb.clone().unwrap();
        let s = &model.scenario;
        let q = model.transmit_vectors();
        let mut qrq = 0.0;
        for i in 0..q[0].len() {
            for j in 0..q[0].len() {
                qrq += (q[0][i] * cov[(i, j)] * q[0][j].conj()).re;
            }
        }
        // AT-only angle bound: y_t = beta b(theta) s_t + n, s_t known, beta unknown
        let nb = s.at.elements as f64;
        let c = s.target_angle.cos();
        let perp = std::f64::consts::PI.powi(2) * c * c * nb * (nb * nb - 1.0) / 12.0;
        let j_at = 2.0 * model.sensing_gain.norm_sqr() * s.slots as f64 * qrq * perp / s.noise;
        let mut e = vec![];
        for t in 0..trials {
            let (ss, ns) = trial_seeds(7, t);
            let x = signal_with_covariance(&cov, s.slots, ss).unwrap();
            let echo = simulate_echo(&model, x, None, s.noise, ns);
            let p = locate(&model, &echo, None, 2048).unwrap();
            let lik = Likelihood::new(&model, &echo, None).unwrap();
            let ok = lik.value(p.refined.angle, p.refined.distance)
                >= lik.value(s.target_angle, s.target_distance) * (1.0 - 1e-12);
            e.push((
                p.refined.angle - s.target_angle,
                p.refined.distance - s.target_distance,
                p.two_stage.angle - s.target_angle,
                ok,
            ));
        }
        let n = e.len() as f64;
        let ma = e.iter().map(|x| x.0).sum::<f64>() / n;
        let mr = e.iter().map(|x| x.1).sum::<f64>() / n;
        let va = e.iter().map(|x| (x.0 - ma).powi(2)).sum::<f64>() / n;
        let vr = e.iter().map(|x| (x.1 - mr).powi(2)).sum::<f64>() / n;
        let cr = e.iter().map(|x| (x.0 - ma) * (x.1 - mr)).sum::<f64>() / n / (va * vr).sqrt();
        let m2 = (e.iter().map(|x| x.2 * x.2).sum::<f64>() / n).sqrt();
        let ok = e.iter().filter(|x| x.3).count();
        println!("{mode} {snr} dB: qRq/(P N_a) {:.3e}; ML angle bias {:.2e} std {:.2e} (rcrb {:.2e}) | dist bias {:.2e} std {:.2e} (rcrb {:.2e}) | err corr {cr:.3} (crb corr {:.3}) | two-stage angle rmse {m2:.2e} vs AT-only bound {:.2e} | L(ML)>=L(truth) {ok}/{}",
            qrq / (s.power * s.mt.elements as f64), ma, va.sqrt(), crb[(0,0)].sqrt(), mr, vr.sqrt(), crb[(1,1)].sqrt(), crb[(0,1)] / (crb[(0,0)] * crb[(1,1)]).sqrt(), j_at.recip().sqrt(), e.len());
    }
}
