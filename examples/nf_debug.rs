use isac::systems::nearfield::{design, NearfieldModel, NearfieldScenario};
fn main() {
    let src = std::env::args().nth(1).unwrap();
    let tol: f64 = std::env::args().nth(2).unwrap().parse().unwrap();
    let kkt = std::env::args().nth(3).unwrap_or("faer".into());
    let s = NearfieldScenario::from_toml_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    let m = NearfieldModel::new(s).unwrap();
    let mut st = design::design_settings();
    st.tol_gap_abs = tol; st.tol_gap_rel = tol; st.tol_feas = tol; st.direct_solve_method = kkt; if std::env::var("NORM").is_ok() { st.normalize_rows = true; } if let Ok(v) = std::env::var("REFINE") { st.iterative_refinement_max_iter = v.parse().unwrap(); } if let Ok(v) = std::env::var("KT") { st.tol_ktratio = v.parse().unwrap(); }
    let d = design::fully_digital(&m, &st).unwrap();
    println!("{:?} iters {} obj {:?} crb {:?} sinr {:?} restored {:?}", d.status, d.solver_iterations, d.solver_objective, d.bound.as_ref().and_then(|b| b.trace()), d.sinr, d.restored);
}
