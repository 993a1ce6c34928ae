//! Prints, for a backscatter instance file, the sum rate of the unconstrained CRB optimum
//! and the largest achievable sum rate: the ends of the active part of the CRB-rate curve.
//! Usage: cargo run --release --example rate_range -- FILE.toml

use isac::systems::backscatter::design::{design_settings, max_sum_rate, minimize_crb};
use isac::systems::backscatter::{BackscatterModel, BackscatterScenario};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: rate_range FILE.toml");
    let table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let mut model = BackscatterModel::new(BackscatterScenario::from_table(&table).unwrap());
    model.scenario.min_sum_rate = 0.0;
    let s = design_settings();
    let d = minimize_crb(&model, &s).unwrap();
    let cmax = max_sum_rate(&model, &s).unwrap();
    println!(
        "unconstrained optimum: CRB {:.4e}, rate {:.5}; max rate {:.5}",
        d.crb.map(|c| c.total).unwrap_or(f64::NAN),
        d.sum_rate.unwrap_or(f64::NAN),
        cmax.unwrap_or(f64::NAN)
    );
}
