#!/usr/bin/env python3
"""Independent CVXPY + Clarabel implementation of the multi-static SCA (45)-(46).

Reads a problem exported by `isac bench multistatic --export FILE` (or
`--cross-check FILE`), runs the same successive convex approximation from the same
feasible start with CVXPY, re-evaluates the true rates and the power of every iterate
with numpy, and compares the final objective with isac's.

Scaled problem (docs/multistatic.md): Hermitian PSD Q_0..Q_K (N_t x N_t), sum tr Q_i <= 1,
maximise s(Q) = Re v^H (sum Q_i) v; RE k's rate ln det A_k - ln det B_k >= R_th ln 2 with
A_k = I + sum_{i in I_k + {k}} G_k Q_i G_k^H, B_k = I + sum_{i in I_k} G_k Q_i G_k^H and
I_k = {1..K} \\ {k} plus stream 0 when RE k is not selected. One SCA step replaces
ln det B_k by its tangent at the current point. Each log-det row is divided by
c = tr A_k(Q^-)/N_r (ln det(A/c) = ln det A - N_r ln c), as isac does; without it
Clarabel fails on the paper's setup (entries of A up to ~1e6).

Usage:
  python3 python/multistatic_reference.py --problem FILE.json --out OUT.json [--check-tol 1e-5]
  python3 python/multistatic_reference.py --self-test
"""
import argparse
import json
import sys
import time
import warnings

import numpy as np
import cvxpy as cp


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def cmat(m, key):
    try:
        return np.array(m["re"], dtype=float) + 1j * np.array(m["im"], dtype=float)
    except (KeyError, TypeError, ValueError):
        fail(f"`{key}` must be an object with `re` and `im` arrays")


def load(path):
    try:
        d = json.load(open(path))
    except (OSError, json.JSONDecodeError) as e:
        fail(f"cannot read {path}: {e}")
    for key in ["nt", "nr", "receivers", "selected", "min_rate_bits", "sensing_direction",
                "channels", "initial", "max_iterations", "rel_tol"]:
        if key not in d:
            fail(f"missing key `{key}` in {path}")
    p = {
        "nt": int(d["nt"]), "nr": int(d["nr"]), "K": int(d["receivers"]),
        "selected": [bool(b) for b in d["selected"]],
        "R": float(d["min_rate_bits"]),
        "v": cmat(d["sensing_direction"], "sensing_direction"),
        "G": cmat(d["channels"], "channels"),
        "Q0": [cmat(q, "initial") for q in d["initial"]],
        "max_iterations": int(d["max_iterations"]), "rel_tol": float(d["rel_tol"]),
        "isac": d.get("isac"),
    }
    if p["G"].shape != (p["K"], p["nr"], p["nt"]) or len(p["Q0"]) != p["K"] + 1:
        fail("`channels` must be [K][nr][nt] and `initial` must hold K + 1 matrices")
    return p


def interferers(p, k):
    out = [i for i in range(1, p["K"] + 1) if i != k + 1]
    if not p["selected"][k]:
        out.append(0)
    return out


def true_rates(p, Q):
    """Rates (bit/s/Hz) of every RE, with numpy (independent of the conic programs)."""
    rates = []
    for k in range(p["K"]):
        G = p["G"][k]
        B = np.eye(p["nr"]) + sum(G @ Q[i] @ G.conj().T for i in interferers(p, k))
        A = B + G @ Q[k + 1] @ G.conj().T
        rates.append((np.linalg.slogdet(A)[1] - np.linalg.slogdet(B)[1]) / np.log(2))
    return np.array(rates)


def gain(p, Q):
    v = p["v"]
    return float(sum(np.real(v.conj() @ q @ v) for q in Q))


def sca_step(p, Qb):
    nt, nr, K = p["nt"], p["nr"], p["K"]
    Q = [cp.Variable((nt, nt), hermitian=True) for _ in range(K + 1)]
    cons = [q >> 0 for q in Q] + [sum(cp.real(cp.trace(q)) for q in Q) <= 1]
    Rn = p["R"] * np.log(2)
    for k in range(K):
        G = p["G"][k]
        I = interferers(p, k)
        Bb = np.eye(nr) + sum(G @ Qb[i] @ G.conj().T for i in I)
        M = G.conj().T @ np.linalg.inv(Bb) @ G
        Ab = Bb + G @ Qb[k + 1] @ G.conj().T
        c = max(1.0, np.trace(Ab).real / nr)
        A = (np.eye(nr) + sum(G @ Q[i] @ G.conj().T for i in I + [k + 1])) / c
        lin = np.linalg.slogdet(Bb)[1] + sum(cp.real(cp.trace(M @ (Q[i] - Qb[i]))) for i in I)
        cons.append(cp.log_det(A) >= Rn + lin - nr * np.log(c))
    v = p["v"]
    prob = cp.Problem(cp.Maximize(sum(cp.real(v.conj() @ q @ v) for q in Q)), cons)
    t = time.perf_counter()
    with warnings.catch_warnings():
        # "Solution may be inaccurate": the iterate is re-checked with numpy below
        warnings.simplefilter("ignore")
        prob.solve(solver=cp.CLARABEL)
    wall = time.perf_counter() - t
    if Q[0].value is None:
        raise RuntimeError(f"CVXPY status {prob.status}")
    out = []
    for q in Q:
        h = 0.5 * (q.value + q.value.conj().T)
        w, U = np.linalg.eigh(h)
        out.append((U * np.maximum(w, 0)) @ U.conj().T)
    return out, wall, prob.solver_stats.solve_time


def run_sca(p):
    Q = p["Q0"]
    f = gain(p, Q)
    history, walls, solver = [f], [], []
    slack = float(np.min(true_rates(p, Q)) - p["R"])
    min_slack, max_power_excess = slack, 0.0
    t0 = time.perf_counter()
    for _ in range(p["max_iterations"]):
        Qn, wall, st = sca_step(p, Q)
        power = sum(np.trace(q).real for q in Qn)
        if power > 1:
            # as isac does: scale an answer that exceeds the budget by the solver's
            # tolerance onto it
            Qn = [q / power for q in Qn]
            power = 1.0
        fn = gain(p, Qn)
        walls.append(wall)
        solver.append(st)
        history.append(fn)
        min_slack = min(min_slack, float(np.min(true_rates(p, Qn)) - p["R"]))
        max_power_excess = max(max_power_excess, power - 1)
        done = abs(fn - f) <= p["rel_tol"] * abs(f)
        Q, f = Qn, fn
        if done:
            break
    return {
        "iterations": len(history) - 1,
        "objective_history": history,
        "final_objective": f,
        "total_seconds": time.perf_counter() - t0,
        "compile_and_solve_seconds_per_iteration": walls,
        "solver_seconds_per_iteration": solver,
        "min_rate_slack_bits": min_slack,
        "power_excess": max_power_excess,
    }, Q


def compare(p, out):
    isac = p["isac"]
    if not isac:
        return
    ours = out["final_objective"]
    theirs = isac["objective_history"][-1]
    out["isac_final_objective"] = theirs
    out["relative_difference_final"] = abs(ours - theirs) / abs(theirs)
    n = min(len(isac["objective_history"]), len(out["objective_history"]))
    out["max_relative_difference_history"] = max(
        abs(a - b) / abs(b) for a, b in zip(out["objective_history"][:n], isac["objective_history"][:n]))
    out["isac_iterations"] = isac["iterations"]
    out["isac_seconds"] = isac["seconds"]
    out["ratio"] = out["total_seconds"] / isac["seconds"]


def self_test():
    rng = np.random.default_rng(5)
    K, nt, nr = 4, 6, 2
    G = (rng.standard_normal((K, nr, nt)) + 1j * rng.standard_normal((K, nr, nt))) * 10
    v = np.exp(1j * np.pi * np.arange(nt) * np.sin(0.4)).conj()
    Q0 = [np.zeros((nt, nt), complex)]
    for k in range(K):
        w, U = np.linalg.eigh(G[k].conj().T @ G[k])
        u = U[:, -1]
        Q0.append(np.outer(u, u.conj()) / K)
    p = {"nt": nt, "nr": nr, "K": K, "selected": [True, False, True, False], "R": 0.0,
         "v": v, "G": G, "Q0": Q0, "max_iterations": 60, "rel_tol": 1e-7, "isac": None}
    p["R"] = 0.8 * float(np.min(true_rates(p, Q0)))
    out, Q = run_sca(p)
    h = out["objective_history"]
    assert all(b >= a * (1 - 1e-7) for a, b in zip(h, h[1:])), f"objective decreased: {h}"
    assert out["min_rate_slack_bits"] >= -1e-6, out["min_rate_slack_bits"]
    assert out["power_excess"] <= 1e-6, out["power_excess"]
    assert h[-1] > h[0] * 1.01, h
    assert h[-1] <= np.vdot(v, v).real * (1 + 1e-6), "s(Q) above ||v||^2 = its maximum at power 1"
    # with R_th = 0 every point meets the true rates, so the only KKT point is the global
    # optimum, all power on v: s = ||v||^2 (the linearised constraint is still a
    # restriction, so the SCA gets there over several steps)
    p0 = dict(p, R=0.0, max_iterations=200, rel_tol=1e-9)
    out0, _ = run_sca(p0)
    assert abs(out0["final_objective"] - nt) < 1e-4 * nt, out0["final_objective"]
    print(f"self-test ok: {out['iterations']} SCA iterations, s: {h[0]:.4f} -> {h[-1]:.6f} "
          f"(max {nt}), min rate slack {out['min_rate_slack_bits']:.2e}, {out['total_seconds']:.2f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problem")
    ap.add_argument("--out")
    ap.add_argument("--check-tol", type=float, default=1e-5)
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    if not a.problem:
        fail("give --problem FILE.json (or --self-test)")
    p = load(a.problem)
    out, _ = run_sca(p)
    compare(p, out)
    if a.out:
        json.dump(out, open(a.out, "w"), indent=1)
    print(f"CVXPY SCA: {out['iterations']} iterations, {out['total_seconds']:.2f} s "
          f"({out['total_seconds'] / max(out['iterations'], 1):.3f} s per iteration), "
          f"final s(Q) = {out['final_objective']:.9f}")
    if "ratio" in out:
        print(f"isac: {out['isac_iterations']} iterations, {out['isac_seconds']:.3f} s; "
              f"final objectives differ by {out['relative_difference_final']:.2e} (relative); "
              f"CVXPY/isac time ratio {out['ratio']:.1f}")
    bad = out["min_rate_slack_bits"] < -1e-6 * max(1.0, p["R"]) or out["power_excess"] > 1e-6
    if bad:
        print(f"error: a CVXPY iterate violates a constraint (rate slack {out['min_rate_slack_bits']:.2e}, "
              f"power excess {out['power_excess']:.2e})", file=sys.stderr)
        sys.exit(1)
    if out.get("relative_difference_final", 0.0) > a.check_tol:
        print(f"error: final objectives differ by {out['relative_difference_final']:.2e} > {a.check_tol}",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
