use isac::systems::network::*;
fn main() {
    let t: toml::Table = "system = \"network\"\nmax_crlb = 5".parse().unwrap();
    let model = NetworkModel::new(NetworkScenario::from_table(&t).unwrap()).unwrap();
    let mut settings = program::program_settings();
    if let Ok(v) = std::env::var("IR") { let v: Vec<f64> = v.split(',').map(|x| x.parse().unwrap()).collect(); settings.iterative_refinement_reltol = v[0]; settings.iterative_refinement_max_iter = v[1] as u32; }
    if let Ok(m) = std::env::var("DSM") { settings.direct_solve_method = m; }
    let fim = model.fim_map(0).unwrap();
    let t0 = std::time::Instant::now();
    let mut n = 0;
    for a in search::associations(5, &[1, 2, 3]).iter().take(20) {
        let _ = program::solve_fixed(&model, &fim, a, &settings).unwrap();
        n += 1;
    }
    println!("{:.1} ms per program", t0.elapsed().as_secs_f64() * 1e3 / n as f64);
}
