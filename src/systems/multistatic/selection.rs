//! Receiver (RE) selection of the multi-static system for a fixed beamformer: problem
//! (29)-(31) of `multistatic-isac.md` (Section IV-A), its exact solution by exhaustive
//! search, the minimax-linkage heuristic (Definitions 4.1-4.4, Algorithm I), the K-means
//! baseline of Section VI, and fixed-size selections. Write-up:
//! `docs/multistatic-selection.md`.
//!
//! Everything works on per-receiver FIMs `J_k` that the caller computed for a fixed `W`
//! (e.g. with [`super::fim::delay_doppler_fim`]); the objective is (17),
//! `U(G) = Tr((sum_{k in G} J_k)^{-1})` ([`super::fim::paper_u`]).
//!
//! **Cost (22).** `Omega(G) = sum_{k in G} v_k` with
//! `v_k = rho d_{0,k} + (1 - rho) mean_{k' in G, k' != k} d_{k,k'}`. The price depends
//! on `G`; for `|G| = 1` the mean over an empty set (printed `0/0`) is taken as `0`, so
//! `Omega({k}) = rho d_{0,k}`.
//!
//! **Rate (30).** `R_k(b) >= R_th` for every RE depends on the whole selection through
//! (21); the caller supplies it as a predicate on the selection mask `b`.
//!
//! **Definitions 4.1-4.4** on RE positions `P` and target `p_0`:
//! `d_max(p, P) = max_{q in P} d(p, q)`, `r_min(P) = min_{p in P} d_max(p, P)`,
//! `r(P) = (1 - rho) r_min(P) + rho min_{p in P} d(p, p_0)`,
//! `d(P1, P2) = r(P1 ∪ P2)`. Algorithm I merges, at each step, the pair of current groups
//! with the smallest `d(P1, P2)` (ties: first pair in the current list order, the merged
//! group is appended at the end); its `2K - 1` groups are the candidates.

use super::fim::paper_u;
use crate::error::{IsacError, Result};
use crate::physics::geometry::{distance, Point};
use faer::Mat;
use rand::{Rng, SeedableRng};

/// Largest number of receivers the exhaustive searches accept (`2^20 - 1` subsets).
pub const MAX_EXHAUSTIVE_RECEIVERS: usize = 20;

/// Problem (29)-(31) for a fixed beamformer.
pub struct SelectionProblem<'a> {
    /// Per-receiver delay–Doppler FIMs `J_k` (all the same shape), for the fixed `W`.
    pub fims: &'a [Mat<f64>],
    /// RE positions `p_k` (same length as `fims`).
    pub receivers: &'a [Point],
    /// Target position `p_0`.
    pub target: Point,
    /// Weight `rho` in `[0, 1]` of the target distance in (22) and Definition 4.3.
    pub rho: f64,
    /// Maximum cooperation cost `Omega_th` of (26); `f64::INFINITY` ignores it.
    pub cost_threshold: f64,
    /// Rate feasibility (30) of a selection mask `b` (`b[k]` = RE `k` selected).
    pub rate_ok: &'a dyn Fn(&[bool]) -> bool,
}

/// Outcome of a selection method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionStatus {
    /// Exact optimum of (29)-(31) (exhaustive search over the admissible sets).
    Optimal,
    /// Best feasible set among a heuristic's candidates (not proven optimal).
    Feasible,
    /// No admissible set satisfies the constraints.
    Infeasible,
}

/// A chosen RE set. When `status` is `Infeasible`, `set` is empty and `u`, `cost` are
/// `+inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Selected REs, 0-based, ascending.
    pub set: Vec<usize>,
    /// `U(G)` of (17).
    pub u: f64,
    /// `Omega(G)` of (22).
    pub cost: f64,
    pub status: SelectionStatus,
    /// Number of candidate sets whose constraints were checked.
    pub candidates: usize,
    /// K-means baseline: how its clustering runs ended (non-convergence reported here).
    pub clustering: Option<ClusteringReport>,
}

/// `d_max(p, P)` of Definition 4.1 (`0` for an empty `P`).
pub fn d_max(p: Point, set: &[Point]) -> f64 {
    set.iter().map(|&q| distance(p, q)).fold(0.0, f64::max)
}

/// `r_min(P)` of Definition 4.2 (`0` for a singleton; `+inf` for an empty `P`).
pub fn minimax_radius(set: &[Point]) -> f64 {
    set.iter()
        .map(|&p| d_max(p, set))
        .fold(f64::INFINITY, f64::min)
}

/// `r(P) = (1 - rho) r_min(P) + rho min_{p in P} d(p, p_0)` of Definition 4.3.
pub fn joint_distance(set: &[Point], target: Point, rho: f64) -> f64 {
    let nearest = set
        .iter()
        .map(|&p| distance(p, target))
        .fold(f64::INFINITY, f64::min);
    (1.0 - rho) * minimax_radius(set) + rho * nearest
}

/// Minimax linkage `d(P1, P2) = r(P1 ∪ P2)` of Definition 4.4.
pub fn minimax_linkage(p1: &[Point], p2: &[Point], target: Point, rho: f64) -> f64 {
    let union: Vec<Point> = p1.iter().chain(p2).copied().collect();
    joint_distance(&union, target, rho)
}

/// Price `v_k` of RE `k` within the selected set `set` (22); `k` must be in `set`.
/// The mean distance to the other selected REs is `0` when `set = {k}`.
pub fn price(receivers: &[Point], target: Point, rho: f64, set: &[usize], k: usize) -> f64 {
    let others = set.len().saturating_sub(1);
    let mean = if others == 0 {
        0.0
    } else {
        set.iter()
            .filter(|&&j| j != k)
            .map(|&j| distance(receivers[k], receivers[j]))
            .sum::<f64>()
            / others as f64
    };
    rho * distance(receivers[k], target) + (1.0 - rho) * mean
}

/// Cooperation cost `Omega(G) = sum_{k in G} v_k` of (22).
pub fn cooperation_cost(receivers: &[Point], target: Point, rho: f64, set: &[usize]) -> f64 {
    set.iter()
        .map(|&k| price(receivers, target, rho, set, k))
        .sum()
}

/// `U(G)` of (17) for the REs in `set` (`+inf` for an empty or singular set).
pub fn selection_u(fims: &[Mat<f64>], set: &[usize]) -> f64 {
    let chosen: Vec<Mat<f64>> = set.iter().map(|&k| fims[k].clone()).collect();
    paper_u(&chosen)
}

impl SelectionProblem<'_> {
    /// Number of receivers `K`.
    pub fn len(&self) -> usize {
        self.receivers.len()
    }

    /// `true` when there are no receivers.
    pub fn is_empty(&self) -> bool {
        self.receivers.is_empty()
    }

    fn validate(&self) -> Result<()> {
        if self.receivers.is_empty() {
            return Err(IsacError::input(
                "receivers",
                "at least one receiver is needed",
            ));
        }
        if self.fims.len() != self.receivers.len() {
            return Err(IsacError::input(
                "fims",
                format!(
                    "{} FIMs for {} receivers",
                    self.fims.len(),
                    self.receivers.len()
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.rho) {
            return Err(IsacError::input("rho", "must lie in [0, 1]"));
        }
        if self.cost_threshold.is_nan() {
            return Err(IsacError::input("cost_threshold", "must not be NaN"));
        }
        Ok(())
    }

    /// Selection mask `b` of a set.
    pub fn mask(&self, set: &[usize]) -> Vec<bool> {
        let mut b = vec![false; self.len()];
        for &k in set {
            b[k] = true;
        }
        b
    }

    /// `(U, Omega)` of `set` when it is admissible (non-empty, (26) and (30) hold).
    pub fn evaluate(&self, set: &[usize]) -> Option<(f64, f64)> {
        if set.is_empty() {
            return None;
        }
        let cost = cooperation_cost(self.receivers, self.target, self.rho, set);
        if cost > self.cost_threshold || !(self.rate_ok)(&self.mask(set)) {
            return None;
        }
        Some((selection_u(self.fims, set), cost))
    }

    /// Best admissible set among `candidates` (first one wins ties).
    pub fn best_of<I>(&self, candidates: I, status_if_found: SelectionStatus) -> Selection
    where
        I: IntoIterator<Item = Vec<usize>>,
    {
        let mut best: Option<(Vec<usize>, f64, f64)> = None;
        let mut count = 0;
        for mut set in candidates {
            set.sort_unstable();
            count += 1;
            if let Some((u, cost)) = self.evaluate(&set) {
                if best.as_ref().is_none_or(|b| u < b.1) {
                    best = Some((set, u, cost));
                }
            }
        }
        match best {
            Some((set, u, cost)) => Selection {
                set,
                u,
                cost,
                status: status_if_found,
                candidates: count,
                clustering: None,
            },
            None => Selection {
                set: Vec::new(),
                u: f64::INFINITY,
                cost: f64::INFINITY,
                status: SelectionStatus::Infeasible,
                candidates: count,
                clustering: None,
            },
        }
    }
}

fn check_exhaustive(k: usize) -> Result<()> {
    if k > MAX_EXHAUSTIVE_RECEIVERS {
        return Err(IsacError::input(
            "receivers",
            format!(
                "exhaustive search supports at most {MAX_EXHAUSTIVE_RECEIVERS} receivers, got {k}"
            ),
        ));
    }
    Ok(())
}

fn set_of(mask: u32, k: usize) -> Vec<usize> {
    (0..k).filter(|&i| mask >> i & 1 == 1).collect()
}

/// Exact optimum of (29)-(31): all `2^K - 1` non-empty subsets (plain enumeration,
/// `K <= 20`).
pub fn exhaustive(problem: &SelectionProblem) -> Result<Selection> {
    problem.validate()?;
    let k = problem.len();
    check_exhaustive(k)?;
    let all = (1u32..(1u32 << k)).map(|m| set_of(m, k));
    Ok(problem.best_of(all, SelectionStatus::Optimal))
}

/// Best admissible set of exactly `n` REs (exhaustive over the `C(K, n)` subsets,
/// `K <= 20`). `status` is `Optimal` for the size-constrained problem.
pub fn exhaustive_of_size(problem: &SelectionProblem, n: usize) -> Result<Selection> {
    problem.validate()?;
    let k = problem.len();
    check_exhaustive(k)?;
    if n == 0 || n > k {
        return Err(IsacError::input("size", format!("must lie in 1..={k}")));
    }
    let all = (1u32..(1u32 << k))
        .filter(|m| m.count_ones() as usize == n)
        .map(|m| set_of(m, k));
    Ok(problem.best_of(all, SelectionStatus::Optimal))
}

/// The `n` REs nearest the target (ties by index), evaluated against the constraints
/// (a single candidate: `Infeasible` if it violates them).
pub fn nearest_n(problem: &SelectionProblem, n: usize) -> Result<Selection> {
    problem.validate()?;
    let k = problem.len();
    if n == 0 || n > k {
        return Err(IsacError::input("size", format!("must lie in 1..={k}")));
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        distance(problem.receivers[a], problem.target)
            .total_cmp(&distance(problem.receivers[b], problem.target))
            .then(a.cmp(&b))
    });
    order.truncate(n);
    Ok(problem.best_of([order], SelectionStatus::Feasible))
}

/// The groups `G_1, ..., G_K, G_{K+1}, ..., G_{2K-1}` of Algorithm I (steps 1-12): the
/// `K` singletons followed by every merged group in merge order; the last is all REs.
pub fn linkage_groups(receivers: &[Point], target: Point, rho: f64) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = (0..receivers.len()).map(|k| vec![k]).collect();
    let mut current = groups.clone();
    let pts = |g: &[usize]| -> Vec<Point> { g.iter().map(|&k| receivers[k]).collect() };
    while current.len() > 1 {
        let mut best = (f64::INFINITY, 0, 1);
        for a in 0..current.len() {
            for b in a + 1..current.len() {
                let d = minimax_linkage(&pts(&current[a]), &pts(&current[b]), target, rho);
                if d < best.0 {
                    best = (d, a, b);
                }
            }
        }
        let (_, a, b) = best;
        let gb = current.remove(b);
        let ga = current.remove(a);
        let mut merged: Vec<usize> = ga.into_iter().chain(gb).collect();
        merged.sort_unstable();
        groups.push(merged.clone());
        current.push(merged);
    }
    groups
}

/// Algorithm I: the lowest-`U` admissible group of [`linkage_groups`].
pub fn minimax_linkage_selection(problem: &SelectionProblem) -> Result<Selection> {
    problem.validate()?;
    let groups = linkage_groups(problem.receivers, problem.target, problem.rho);
    Ok(problem.best_of(groups, SelectionStatus::Feasible))
}

/// Iteration cap of [`kmeans`]: Lloyd's iterations on the RE layouts of the paper settle
/// in a handful of steps; a run that reaches the cap is reported as not converged.
pub const KMEANS_MAX_ITERATIONS: usize = 200;

/// Name of the stopping rule of Lloyd's iterations.
pub const RULE_NO_REASSIGNMENT: &str = "no point changed cluster";

/// The outcome of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// The non-empty clusters as RE index lists (ascending within each).
    pub clusters: Vec<Vec<usize>>,
    /// Lloyd iterations (assignment passes) taken.
    pub iterations: usize,
    /// Whether the last pass changed no assignment (a fixed point of Lloyd's iterations:
    /// every point is nearest to its own cluster's centroid); `false` when the iteration
    /// cap stopped it first.
    pub converged: bool,
}

/// Lloyd's k-means on `points` with `k` clusters, k-means++ seeding from `seed`
/// (deterministic), at most [`KMEANS_MAX_ITERATIONS`] iterations.
pub fn kmeans(points: &[Point], k: usize, seed: u64) -> Clustering {
    kmeans_with_limit(points, k, seed, KMEANS_MAX_ITERATIONS)
}

/// One Lloyd iterate: the centroids and each point's cluster (`usize::MAX`: none yet).
#[derive(Debug, Clone)]
struct Lloyd {
    centres: Vec<Point>,
    assign: Vec<usize>,
}

fn d2(a: Point, b: Point) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Lloyd's iterations as steps of the crate's driver.
struct LloydSteps<'a> {
    points: &'a [Point],
}

impl crate::iterate::IterativeAlgorithm for LloydSteps<'_> {
    type State = Lloyd;

    /// Assignment of every point to its nearest centroid (first on ties), then each
    /// non-empty cluster's centroid moved to its mean (skipped when no point changed
    /// cluster: the centroids are already the means). Objective: the within-cluster sum
    /// of squares, which neither half-step increases (Lloyd's descent property).
    fn step(&mut self, state: &Lloyd, _k: usize) -> Result<crate::iterate::Step<Lloyd>> {
        let points = self.points;
        let n = points.len();
        let mut next = state.clone();
        let mut reassigned = 0usize;
        for (i, &p) in points.iter().enumerate() {
            let mut best = (f64::INFINITY, 0);
            for (c, &q) in next.centres.iter().enumerate() {
                let d = d2(p, q);
                if d < best.0 {
                    best = (d, c);
                }
            }
            if next.assign[i] != best.1 {
                next.assign[i] = best.1;
                reassigned += 1;
            }
        }
        if reassigned > 0 {
            for (c, centre) in next.centres.iter_mut().enumerate() {
                let members: Vec<Point> = (0..n)
                    .filter(|&i| next.assign[i] == c)
                    .map(|i| points[i])
                    .collect();
                if !members.is_empty() {
                    let m = members.len() as f64;
                    *centre = [
                        members.iter().map(|p| p[0]).sum::<f64>() / m,
                        members.iter().map(|p| p[1]).sum::<f64>() / m,
                    ];
                }
            }
        }
        let wcss = points
            .iter()
            .zip(&next.assign)
            .map(|(&p, &c)| d2(p, next.centres[c]))
            .sum();
        let mut step = crate::iterate::Step::new(next, wcss);
        step.metrics.push(("reassigned".into(), reassigned as f64));
        Ok(step)
    }
}

/// [`kmeans`] with at most `max_iterations` Lloyd iterations, run by the crate's
/// iteration driver: it stops on the rule "no point changed cluster" (converged) or at
/// the cap (not converged), and checks that the within-cluster sum of squares never rises.
pub fn kmeans_with_limit(
    points: &[Point],
    k: usize,
    seed: u64,
    max_iterations: usize,
) -> Clustering {
    use crate::iterate::{run, Criterion, Rule, StopReason, StoppingRule};
    let n = points.len();
    if n == 0 || k == 0 {
        return Clustering {
            clusters: Vec::new(),
            iterations: 0,
            converged: true,
        };
    }
    let k = k.min(n);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // k-means++ seeding
    let mut centres: Vec<Point> = vec![points[rng.gen_range(0..n)]];
    while centres.len() < k {
        let w: Vec<f64> = points
            .iter()
            .map(|&p| {
                centres
                    .iter()
                    .map(|&c| d2(p, c))
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let total: f64 = w.iter().sum();
        let pick = if total > 0.0 {
            let mut x = rng.gen::<f64>() * total;
            let mut i = 0;
            while i + 1 < n && x >= w[i] {
                x -= w[i];
                i += 1;
            }
            i
        } else {
            rng.gen_range(0..n)
        };
        centres.push(points[pick]);
    }
    let start = Lloyd {
        centres,
        assign: vec![usize::MAX; n],
    };
    let rule = StoppingRule {
        max_iterations,
        objective_test: false,
        rules: vec![Rule::converged(
            RULE_NO_REASSIGNMENT,
            Criterion::AtMost("reassigned", 0.0),
        )],
        ..StoppingRule::default()
    };
    // no assignment yet: no finite sum of squares to start from
    let result = run(&mut LloydSteps { points }, start, f64::INFINITY, &rule);
    let assign = &result.state.assign;
    Clustering {
        clusters: (0..k)
            .map(|c| (0..n).filter(|&i| assign[i] == c).collect::<Vec<usize>>())
            .filter(|g| !g.is_empty())
            .collect(),
        iterations: result.iterations(),
        converged: result.reason == StopReason::CriteriaMet(RULE_NO_REASSIGNMENT),
    }
}

/// The K-means runs behind a selection's candidates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusteringReport {
    /// Number of K-means runs (one per cluster count `k`).
    pub runs: usize,
    /// The cluster counts `k` whose run reached [`KMEANS_MAX_ITERATIONS`] without
    /// converging (their clusters are still candidates, from the last iterate).
    pub not_converged: Vec<usize>,
    /// The most Lloyd iterations any run took.
    pub max_iterations_taken: usize,
}

impl ClusteringReport {
    /// Whether every run converged.
    pub fn converged(&self) -> bool {
        self.not_converged.is_empty()
    }
}

/// The candidates of the K-means baseline and how their runs ended.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansGroups {
    pub groups: Vec<Vec<usize>>,
    pub report: ClusteringReport,
}

/// Candidates of the K-means baseline: every cluster of [`kmeans`] on the RE positions
/// for `k = 1, ..., K` (seed `seed + k`), duplicates removed, in order of appearance.
/// K-means uses only the RE positions (no target distance), as Section VI describes.
pub fn kmeans_groups(receivers: &[Point], seed: u64) -> KMeansGroups {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut report = ClusteringReport::default();
    for k in 1..=receivers.len() {
        let run = kmeans(receivers, k, seed.wrapping_add(k as u64));
        report.runs += 1;
        report.max_iterations_taken = report.max_iterations_taken.max(run.iterations);
        if !run.converged {
            report.not_converged.push(k);
        }
        for mut g in run.clusters {
            g.sort_unstable();
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    KMeansGroups { groups, report }
}

/// K-means baseline: the lowest-`U` admissible cluster of [`kmeans_groups`]; the
/// selection carries the runs' [`ClusteringReport`].
pub fn kmeans_selection(problem: &SelectionProblem, seed: u64) -> Result<Selection> {
    problem.validate()?;
    let km = kmeans_groups(problem.receivers, seed);
    Ok(Selection {
        clustering: Some(km.report),
        ..problem.best_of(km.groups, SelectionStatus::Feasible)
    })
}
