use isac::systems::network::*;
fn main() {
    let t: toml::Table = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap().parse().unwrap();
    let model = NetworkModel::new(NetworkScenario::from_table(&t).unwrap()).unwrap();
    let settings = program::program_settings();
    for r in 0..model.bs_count() {
        let fim = model.fim_map(r).unwrap();
        println!("r={r} floor {:?}", program::crlb_floor(&model, &fim, &settings).unwrap());
        for a in search::associations(model.user_count(), &search::transmitters(&model, r)) {
            let p = program::solve_fixed_with(&model, &fim, &a, program::Objective::Power, &settings).unwrap();
            if p.0 == program::ProgramStatus::Optimal || p.0 == program::ProgramStatus::Infeasible { continue; }
            let c = program::solve_fixed_with(&model, &fim, &a, program::Objective::Crlb, &settings).unwrap();
            println!("  {a:?} power {:?} crlb {:?} {:?}", p.0, c.0, c.1.map(|d| d.objective));
        }
    }
}
