//! `isac bench multistatic` times the pipeline of `isac solve multistatic`: the bench's
//! design is the one `solve_table` returns (same selection, iterations and objective), its
//! phase timings add up within the design's own `solve_seconds`, and the export for the
//! CVXPY peer describes that same SCA.

use isac::systems::multistatic::bench::{bench_design, CROSS_CHECK_INSTANCE};
use isac::systems::multistatic::solve_table;

#[test]
fn bench_times_the_solve_pipeline() {
    let b = bench_design(CROSS_CHECK_INSTANCE, 1).unwrap();
    let (model, d) = solve_table(&CROSS_CHECK_INSTANCE.parse().unwrap()).unwrap();
    // the same design: deterministic pipeline, same answer
    assert_eq!(b.selected, d.selected);
    assert_eq!(b.feasibility_iterations, d.feasibility_iterations);
    assert_eq!(b.sca_iterations, d.sca_iterations);
    assert!(b.sca_iterations > 0, "the instance must run the SCA");
    // the SCA objective is the beampattern gain s(Q); U = C_G / s(Q) (see model.rs), so
    // the design's CRB history and the SCA's objective history are reciprocal up to C_G
    let hist: Vec<f64> = b.export["isac"]["objective_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(hist.len(), d.crb_history.len());
    assert_eq!(*hist.last().unwrap(), b.final_gain);
    let c_g = d.crb_history[0] * hist[0];
    for (u, s) in d.crb_history.iter().zip(&hist) {
        assert!((u * s - c_g).abs() <= 1e-9 * c_g, "{u} x {s} vs {c_g}");
    }
    // Phase II is a maximisation of s(Q) from a feasible start: non-decreasing
    assert!(hist.windows(2).all(|w| w[1] >= w[0] * (1.0 - 1e-6)));
    // timings: the phases are parts of the design's total
    let parts = b.feasibility_seconds + b.selection_seconds + b.sca_seconds;
    assert!(b.feasibility_seconds > 0.0 && b.selection_seconds >= 0.0 && b.sca_seconds > 0.0);
    assert!(parts <= b.total_seconds, "{parts} > {}", b.total_seconds);
    assert_eq!(b.export["isac"]["seconds"].as_f64().unwrap(), b.sca_seconds);
    // the export's selection mask is the selected set
    let mask: Vec<bool> = b.export["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_bool().unwrap())
        .collect();
    assert_eq!(mask, model.mask(&d.selected));
    assert_eq!(
        b.export["initial"].as_array().unwrap().len(),
        model.receivers() + 1,
        "Q_0 and one Q_k per receiver"
    );
}
