//! RE selection of the multi-static system (29)-(31): the heuristics (minimax linkage,
//! K-means, nearest-n) are never better than exhaustive search, returned sets satisfy
//! the constraints, infeasible instances are reported, (17) is monotone in the set, and
//! Definitions 4.1-4.4 / cost (22) match hand computations on a square.

use faer::Mat;
use isac::physics::array::{PhaseSign, Ula};
use isac::physics::geometry::{angle, distance, Point};
use isac::physics::pulse::Pulse;
use isac::systems::multistatic::fim::{delay_doppler_fim, FimVariant, ReceiverLink, Waveform};
use isac::systems::multistatic::selection::*;
use isac::C64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const C: f64 = 299_792_458.0;

fn random_pd(rng: &mut impl Rng) -> Mat<f64> {
    let a = Mat::from_fn(2, 2, |_, _| rng.gen_range(-1.0..1.0));
    let mut j = &a * a.transpose();
    j[(0, 0)] += 1e-3;
    j[(1, 1)] += 1e-3;
    j
}

fn random_positions(rng: &mut impl Rng, k: usize) -> Vec<Point> {
    (0..k)
        .map(|_| [rng.gen_range(-100.0..100.0), rng.gen_range(-100.0..100.0)])
        .collect()
}

/// FIMs from `delay_doppler_fim` for a TR at the origin, target `p0`, REs `rx`.
fn geometric_fims(rng: &mut impl Rng, rx: &[Point], p0: Point, pulse: Pulse) -> Vec<Mat<f64>> {
    let tr: Point = [0.0, 0.0];
    let nt = 4;
    let q = Mat::from_fn(nt, nt, |i, j| {
        if i == j {
            C64::new(1.0 / nt as f64, 0.0)
        } else {
            C64::new(0.0, 0.0)
        }
    });
    let wf = Waveform {
        pulse,
        symbol_duration: 1e-6,
        symbols: 16,
    };
    rx.iter()
        .map(|&p| {
            let d = distance(tr, p0) + distance(p0, p);
            let link = ReceiverLink {
                path_loss: d.powf(-2.7),
                reflection: rng.gen_range(0.3..1.0),
                rx_steering: Ula::new(2, 0.5, PhaseSign::Positive).steering(angle(p, p0)),
                tx_steering: Ula::new(nt, 0.5, PhaseSign::Positive).steering(angle(tr, p0)),
                delay: d / C,
                doppler: rng.gen_range(-2e3..2e3),
            };
            delay_doppler_fim(&link, &q, &wf, 2e-9, FimVariant::Model)
        })
        .collect()
}

fn check_admissible(p: &SelectionProblem, s: &Selection) {
    if s.status == SelectionStatus::Infeasible {
        assert!(s.set.is_empty() && s.u.is_infinite());
        return;
    }
    let (u, cost) = p.evaluate(&s.set).expect("returned set must be admissible");
    assert!((u - s.u).abs() <= 1e-12 * u.abs());
    assert!((cost - s.cost).abs() <= 1e-9 * cost.abs().max(1.0));
    assert!(cost <= p.cost_threshold);
    assert!((p.rate_ok)(&p.mask(&s.set)));
}

fn not_better(h: &Selection, ex: &Selection) {
    if ex.status == SelectionStatus::Infeasible {
        assert_eq!(h.status, SelectionStatus::Infeasible);
    } else if h.status != SelectionStatus::Infeasible {
        assert!(
            h.u >= ex.u * (1.0 - 1e-12),
            "heuristic {} < exhaustive {}",
            h.u,
            ex.u
        );
    }
}

/// Mean relative gap (U_ml / U_ex - 1) of minimax linkage and K-means over instances
/// where all three found a feasible set, plus the counts.
fn run_random(seed: u64, instances: usize, geometric: bool) -> (f64, f64, usize, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut gap_ml, mut gap_km, mut n_both, mut ml_infeasible_only) = (0.0, 0.0, 0, 0);
    for case in 0..instances {
        let k = rng.gen_range(1..=10);
        let rx = random_positions(&mut rng, k);
        let p0 = [rng.gen_range(-60.0..60.0), rng.gen_range(20.0..120.0)];
        let fims: Vec<Mat<f64>> = if geometric {
            geometric_fims(&mut rng, &rx, p0, Pulse::ALL[case % 3])
        } else {
            (0..k).map(|_| random_pd(&mut rng)).collect()
        };
        let rho = rng.gen_range(0.0..=1.0);
        // threshold between the cheapest single RE and the full set's cost
        let all: Vec<usize> = (0..k).collect();
        let full = cooperation_cost(&rx, p0, rho, &all);
        let cheapest = (0..k)
            .map(|i| cooperation_cost(&rx, p0, rho, &[i]))
            .fold(f64::INFINITY, f64::min);
        let th = cheapest + rng.gen_range(0.0..1.0) * (full - cheapest).max(0.0);
        // rate mask: a random "forbidden" RE must not be selected in ~1/3 of cases
        let forbidden = if rng.gen_bool(0.33) {
            Some(rng.gen_range(0..k))
        } else {
            None
        };
        let rate_ok = move |b: &[bool]| forbidden.is_none_or(|f| !b[f]);
        let p = SelectionProblem {
            fims: &fims,
            receivers: &rx,
            target: p0,
            rho,
            cost_threshold: th,
            rate_ok: &rate_ok,
        };
        let ex = exhaustive(&p).unwrap();
        assert_eq!(ex.candidates, (1usize << k) - 1);
        let ml = minimax_linkage_selection(&p).unwrap();
        assert_eq!(ml.candidates, 2 * k - 1);
        let km = kmeans_selection(&p, 7).unwrap();
        for s in [&ex, &ml, &km] {
            check_admissible(&p, s);
        }
        not_better(&ml, &ex);
        not_better(&km, &ex);
        for n in 1..=k {
            let fx = exhaustive_of_size(&p, n).unwrap();
            check_admissible(&p, &fx);
            assert!(fx.set.len() == n || fx.status == SelectionStatus::Infeasible);
            not_better(&fx, &ex);
            let nn = nearest_n(&p, n).unwrap();
            check_admissible(&p, &nn);
            not_better(&nn, &fx);
        }
        if ex.status != SelectionStatus::Infeasible {
            if ml.status != SelectionStatus::Infeasible && km.status != SelectionStatus::Infeasible
            {
                gap_ml += ml.u / ex.u - 1.0;
                gap_km += km.u / ex.u - 1.0;
                n_both += 1;
            } else if ml.status == SelectionStatus::Infeasible {
                ml_infeasible_only += 1;
            }
        }
    }
    (
        gap_ml / n_both as f64,
        gap_km / n_both as f64,
        n_both,
        ml_infeasible_only,
    )
}

#[test]
fn heuristics_never_beat_exhaustive_random_pd() {
    let (ml, km, n, inf) = run_random(1, 200, false);
    println!("random PD FIMs: mean gap minimax linkage {ml:.4}, K-means {km:.4} over {n} instances; linkage infeasible while exhaustive feasible: {inf}");
}

#[test]
fn heuristics_never_beat_exhaustive_geometric() {
    let (ml, km, n, inf) = run_random(2, 200, true);
    println!("delay_doppler_fim FIMs: mean gap minimax linkage {ml:.4}, K-means {km:.4} over {n} instances; linkage infeasible while exhaustive feasible: {inf}");
}

#[test]
fn infeasible_when_threshold_below_every_single_cost() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..50 {
        let k = rng.gen_range(1..=8);
        let rx = random_positions(&mut rng, k);
        let p0 = [0.0, 150.0];
        let fims: Vec<Mat<f64>> = (0..k).map(|_| random_pd(&mut rng)).collect();
        let rho = rng.gen_range(0.05..=1.0);
        let cheapest = (0..k)
            .map(|i| cooperation_cost(&rx, p0, rho, &[i]))
            .fold(f64::INFINITY, f64::min);
        let ok = |_: &[bool]| true;
        let p = SelectionProblem {
            fims: &fims,
            receivers: &rx,
            target: p0,
            rho,
            cost_threshold: 0.999 * cheapest,
            rate_ok: &ok,
        };
        for s in [
            exhaustive(&p).unwrap(),
            minimax_linkage_selection(&p).unwrap(),
            kmeans_selection(&p, 1).unwrap(),
            exhaustive_of_size(&p, k).unwrap(),
            nearest_n(&p, 1).unwrap(),
        ] {
            assert_eq!(s.status, SelectionStatus::Infeasible);
            assert!(s.set.is_empty());
        }
        // a rate predicate that rejects everything is also infeasible
        let never = |_: &[bool]| false;
        let p2 = SelectionProblem {
            cost_threshold: f64::INFINITY,
            rate_ok: &never,
            ..p
        };
        assert_eq!(exhaustive(&p2).unwrap().status, SelectionStatus::Infeasible);
    }
}

#[test]
fn unconstrained_optimum_is_all_receivers_and_u_is_monotone() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for case in 0..100 {
        let k = rng.gen_range(2..=8);
        let rx = random_positions(&mut rng, k);
        let p0 = [10.0, 80.0];
        let fims: Vec<Mat<f64>> = if case % 2 == 0 {
            (0..k).map(|_| random_pd(&mut rng)).collect()
        } else {
            geometric_fims(&mut rng, &rx, p0, Pulse::Cosine)
        };
        // monotonicity of (17): adding any RE never increases U
        for mask in 1u32..(1 << k) {
            let set: Vec<usize> = (0..k).filter(|&i| mask >> i & 1 == 1).collect();
            let u = selection_u(&fims, &set);
            for extra in (0..k).filter(|i| !set.contains(i)) {
                let mut bigger = set.clone();
                bigger.push(extra);
                assert!(selection_u(&fims, &bigger) <= u * (1.0 + 1e-12));
            }
        }
        let ok = |_: &[bool]| true;
        let p = SelectionProblem {
            fims: &fims,
            receivers: &rx,
            target: p0,
            rho: 0.5,
            cost_threshold: f64::INFINITY,
            rate_ok: &ok,
        };
        let ex = exhaustive(&p).unwrap();
        let ml = minimax_linkage_selection(&p).unwrap();
        let km = kmeans_selection(&p, 3).unwrap();
        let u_all = selection_u(&fims, &(0..k).collect::<Vec<_>>());
        for s in [&ex, &ml, &km] {
            assert!((s.u - u_all).abs() <= 1e-12 * u_all);
        }
        assert_eq!(ex.status, SelectionStatus::Optimal);
        assert_eq!(ml.status, SelectionStatus::Feasible);
    }
}

#[test]
fn definitions_on_a_square() {
    // unit square of side 10, target at (5, -5) below the bottom edge
    let sq: Vec<Point> = vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
    let p0 = [5.0, -5.0];
    let diag = 200f64.sqrt();
    // Definition 4.1
    assert!((d_max(sq[0], &sq) - diag).abs() < 1e-12);
    assert!((d_max(sq[0], &sq[..2]) - 10.0).abs() < 1e-12);
    // Definition 4.2: every vertex has the diagonal as farthest point
    assert!((minimax_radius(&sq) - diag).abs() < 1e-12);
    assert!((minimax_radius(&sq[..3]) - 10.0).abs() < 1e-12); // corner (10,0) reaches both
    assert_eq!(minimax_radius(&sq[..1]), 0.0);
    // Definition 4.3: nearest to the target is 50^0.5 (bottom vertices)
    let near = 50f64.sqrt();
    let rho = 0.3;
    assert!((joint_distance(&sq, p0, rho) - (0.7 * diag + 0.3 * near)).abs() < 1e-12);
    // Definition 4.4
    let l = minimax_linkage(&sq[..1], &sq[1..2], p0, rho);
    assert!((l - (0.7 * 10.0 + 0.3 * near)).abs() < 1e-12);
    let l_top = minimax_linkage(&sq[2..3], &sq[3..4], p0, rho);
    let near_top = (25.0f64 + 225.0).sqrt();
    assert!((l_top - (0.7 * 10.0 + 0.3 * near_top)).abs() < 1e-12);
    // Algorithm I: bottom pair first, then a top vertex joins (r = 0.7*10 + 0.3*near,
    // tie between 2 and 3 broken by list order), then the last one
    let g = linkage_groups(&sq, p0, rho);
    assert_eq!(g.len(), 7);
    assert_eq!(&g[..4], &[vec![0], vec![1], vec![2], vec![3]]);
    assert_eq!(g[4], vec![0, 1]);
    assert_eq!(g[5], vec![0, 1, 2]);
    assert_eq!(g[6], vec![0, 1, 2, 3]);
    // cost (22): |G| = 1 -> rho d_0k; full square: each vertex mean (10+10+diag)/3
    assert!((cooperation_cost(&sq, p0, rho, &[0]) - 0.3 * near).abs() < 1e-12);
    let v_top = 0.3 * near_top + 0.7 * (20.0 + diag) / 3.0;
    let v_bot = 0.3 * near + 0.7 * (20.0 + diag) / 3.0;
    assert!((price(&sq, p0, rho, &[0, 1, 2, 3], 3) - v_top).abs() < 1e-12);
    let full = cooperation_cost(&sq, p0, rho, &[0, 1, 2, 3]);
    assert!((full - 2.0 * (v_top + v_bot)).abs() < 1e-12);
    // pair cost: rho (d01 + d02) + (1 - rho) 2 d12
    let pair = cooperation_cost(&sq, p0, rho, &[0, 1]);
    assert!((pair - (0.6 * near + 1.4 * 10.0)).abs() < 1e-12);
}

#[test]
fn kmeans_is_deterministic_and_partitions() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let rx = random_positions(&mut rng, 10);
    for k in 1..=10 {
        let a = kmeans(&rx, k, 42);
        assert_eq!(a, kmeans(&rx, k, 42));
        let mut all: Vec<usize> = a.clusters.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert!(a.clusters.len() <= k);
        assert!(a.converged, "k = {k}: {} iterations", a.iterations);
        assert!(is_lloyd_fixed_point(&rx, &a.clusters), "k = {k}");
    }
    let one = kmeans(&rx, 1, 0);
    assert_eq!(one.clusters, vec![(0..10).collect::<Vec<_>>()]);
    // one pass assigns every point, the second confirms it
    assert_eq!((one.iterations, one.converged), (2, true));
}

/// Centroid (mean) of each cluster.
fn centroids(points: &[Point], clusters: &[Vec<usize>]) -> Vec<Point> {
    clusters
        .iter()
        .map(|g| {
            let m = g.len() as f64;
            [
                g.iter().map(|&i| points[i][0]).sum::<f64>() / m,
                g.iter().map(|&i| points[i][1]).sum::<f64>() / m,
            ]
        })
        .collect()
}

fn d2(a: Point, b: Point) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Lloyd's fixed-point condition, checked from the clusters alone: no point is strictly
/// nearer to another cluster's centroid than to its own's (1e-12 relative for rounding).
fn is_lloyd_fixed_point(points: &[Point], clusters: &[Vec<usize>]) -> bool {
    let c = centroids(points, clusters);
    clusters.iter().enumerate().all(|(own, g)| {
        g.iter().all(|&i| {
            let d_own = d2(points[i], c[own]);
            c.iter()
                .all(|&q| d_own <= d2(points[i], q) * (1.0 + 1e-12) + 1e-12)
        })
    })
}

/// Within-cluster sum of squares about the clusters' centroids.
fn wcss(points: &[Point], clusters: &[Vec<usize>]) -> f64 {
    let c = centroids(points, clusters);
    clusters
        .iter()
        .zip(&c)
        .map(|(g, &q)| g.iter().map(|&i| d2(points[i], q)).sum::<f64>())
        .sum()
}

#[test]
fn kmeans_reports_a_run_stopped_by_the_iteration_cap() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let rx = random_positions(&mut rng, 40);
    let (k, seed) = (5, 3);
    let full = kmeans(&rx, k, seed);
    assert!(full.converged);
    assert!(is_lloyd_fixed_point(&rx, &full.clusters));
    // the last pass changed nothing, the one before did: a cap two passes short stops
    // at a clustering that the next pass would still change
    let n = full.iterations;
    assert!(n >= 4, "this instance takes {n} Lloyd iterations");
    let capped = kmeans_with_limit(&rx, k, seed, n - 2);
    assert_eq!((capped.iterations, capped.converged), (n - 2, false));
    assert!(!is_lloyd_fixed_point(&rx, &capped.clusters));
    // a cap one pass short ends at the fixed point but has not seen it confirmed
    let one_short = kmeans_with_limit(&rx, k, seed, n - 1);
    assert_eq!(one_short.clusters, full.clusters);
    assert!(!one_short.converged);
    // the cap does not change the path: Lloyd's sum of squares never rises along it
    let path: Vec<f64> = (1..=n)
        .map(|c| wcss(&rx, &kmeans_with_limit(&rx, k, seed, c).clusters))
        .collect();
    assert!(
        path.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-12)),
        "{path:?}"
    );
}

#[test]
fn the_kmeans_selection_carries_its_convergence_report() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let rx = random_positions(&mut rng, 8);
    let fims: Vec<Mat<f64>> = (0..8).map(|_| random_pd(&mut rng)).collect();
    let ok = |_: &[bool]| true;
    let p = SelectionProblem {
        fims: &fims,
        receivers: &rx,
        target: [0.0, 10.0],
        rho: 0.5,
        cost_threshold: f64::INFINITY,
        rate_ok: &ok,
    };
    let sel = kmeans_selection(&p, 4).unwrap();
    let report = sel.clustering.expect("K-means reports its runs");
    assert_eq!(report.runs, 8);
    assert!(report.converged(), "{report:?}");
    assert!(
        report.max_iterations_taken >= 2 && report.max_iterations_taken < KMEANS_MAX_ITERATIONS
    );
    let groups = kmeans_groups(&rx, 4);
    assert_eq!(groups.report, report);
    // the other methods run no clustering
    assert_eq!(minimax_linkage_selection(&p).unwrap().clustering, None);
}

#[test]
fn exhaustive_refuses_too_many_receivers() {
    let rx: Vec<Point> = (0..21).map(|i| [i as f64, 0.0]).collect();
    let fims: Vec<Mat<f64>> = (0..21).map(|_| Mat::<f64>::identity(2, 2)).collect();
    let ok = |_: &[bool]| true;
    let p = SelectionProblem {
        fims: &fims,
        receivers: &rx,
        target: [0.0, 10.0],
        rho: 0.5,
        cost_threshold: f64::INFINITY,
        rate_ok: &ok,
    };
    let e = exhaustive(&p).unwrap_err().to_string();
    assert!(e.contains("receivers"), "{e}");
    assert!(exhaustive_of_size(&p, 3)
        .unwrap_err()
        .to_string()
        .contains("receivers"));
    // the heuristics still run
    assert_eq!(minimax_linkage_selection(&p).unwrap().set.len(), 21);
}
