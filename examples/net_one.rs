use isac::systems::network::*;
fn main() {
    let t: toml::Table = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap().parse().unwrap();
    let model = NetworkModel::new(NetworkScenario::from_table(&t).unwrap()).unwrap();
    let mut settings = program::program_settings();
    settings.verbose = std::env::var("V").is_ok();
    if std::env::var("NN").is_ok() { settings.normalize_rows = false; }
    if std::env::var("DEF").is_ok() { settings = isac::conic::SolverSettings::default(); }
    let r: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let a: Vec<usize> = std::env::args().nth(3).unwrap().split(',').map(|x| x.parse().unwrap()).collect();
    let fim = model.fim_map(r).unwrap();
    for goal in [program::Objective::Power, program::Objective::Crlb] {
        let t0 = std::time::Instant::now();
        let (st, d) = program::solve_fixed_with(&model, &fim, &a, goal, &settings).unwrap();
        println!("{goal:?} {:?} {:?} {:.1} ms", st, d.as_ref().map(|d| d.objective), t0.elapsed().as_secs_f64() * 1e3);
        if let Some(d) = &d { let v = verify::verify(&model, d); println!("  {:?} crlb {} sinr {:?}", v.violations, v.crlb, v.sinr.iter().map(|x| 10.0*x.log10()).collect::<Vec<_>>()); }
    }
}
