use isac::systems::network::*;
fn main() {
    let t: toml::Table = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap().parse().unwrap();
    let model = NetworkModel::new(NetworkScenario::from_table(&t).unwrap()).unwrap();
    let r: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let a: Vec<usize> = std::env::args().nth(3).unwrap().split(',').map(|x| x.parse().unwrap()).collect();
    let fim = model.fim_map(r).unwrap();
    let base = program::program_settings();
    let variants: Vec<(&str, isac::conic::SolverSettings)> = vec![
        ("program", base.clone()),
        ("normalize", isac::conic::SolverSettings { normalize_rows: true, ..base.clone() }),
        ("default", isac::conic::SolverSettings::default()),
        ("tol1e-6", isac::conic::SolverSettings { tol_gap_abs: 1e-6, tol_gap_rel: 1e-6, tol_feas: 1e-6, ..base.clone() }),
        ("qdldl", isac::conic::SolverSettings { direct_solve_method: "qdldl".into(), ..base.clone() }),
        ("ir", isac::conic::SolverSettings { iterative_refinement_reltol: 1e-10, iterative_refinement_max_iter: 3, ..base.clone() }),
    ];
    for (name, s) in variants {
        let (st, d) = program::solve_fixed_with(&model, &fim, &a, program::Objective::Power, &s).unwrap();
        println!("{name}: {:?} {:?}", st, d.map(|d| d.objective));
    }
}
