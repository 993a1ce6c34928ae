use isac::systems::network::*;
use faer::Mat;
fn main() {
    let t: toml::Table = "system = \"network\"".parse().unwrap();
    let model = NetworkModel::new(NetworkScenario::from_table(&t).unwrap()).unwrap();
    let n = model.antennas();
    let p = model.scenario.max_power;
    for r in 0..4 {
        let fim = model.fim_map(r).unwrap();
        let iso: Vec<Mat<isac::C64>> = (0..4).map(|_| Mat::from_fn(n, n, |a, b| if a == b { isac::C64::new(p / n as f64, 0.0) } else { isac::C64::new(0.0, 0.0) })).collect();
        // beam at the target: C = P a a^H / N
        let beam: Vec<Mat<isac::C64>> = (0..4).map(|s| { let a = model.array.steering(model.target_angle(s)); Mat::from_fn(n, n, |x, y| a[x] * a[y].conj() * (p / n as f64)) }).collect();
        let b = fim.blocks(&iso);
        println!("r={r} iso CRLB {:.3e} (pp only {:.3e}) beam CRLB {:.3e}", b.crlb(), { let j = b.pp; (j[0][0]+j[1][1])/(j[0][0]*j[1][1]-j[0][1]*j[1][0]) }, fim.blocks(&beam).crlb());
    }
}
