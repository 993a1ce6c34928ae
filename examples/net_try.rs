use isac::systems::network::*;
fn main() {
    let t: toml::Table = std::env::var("TOML").unwrap_or("system = \"network\"".into()).parse().unwrap();
    let model = NetworkModel::new(NetworkScenario::from_table(&t).unwrap()).unwrap();
    let settings = program::program_settings();
    for r in 0..4 { let fim = model.fim_map(r).unwrap(); println!("r={r} floor {:?}", program::crlb_floor(&model, &fim, &settings).unwrap()); }
    let t0 = std::time::Instant::now();
    let r = search::exhaustive(&model, &settings).unwrap();
    println!("exhaustive {:.2}s programs {} infeasible {} inaccurate {} pruned {} per_receiver {:?}", t0.elapsed().as_secs_f64(), r.programs, r.infeasible, r.inaccurate, r.pruned, r.per_receiver.iter().map(|(r,o)| (r, o.map(isac::input::watts_to_dbm))).collect::<Vec<_>>());
    if let Some(d) = &r.best { let v = verify::verify(&model, d); println!("best r={} a={:?} {} dBm rank {} verify {:?} crlb {}", d.receiver, d.association, isac::input::watts_to_dbm(d.objective), d.max_rank, v.violations, v.crlb); }
}
