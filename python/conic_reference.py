#!/usr/bin/env python3
"""CVXPY + Clarabel reference of the conic-layer benchmark (src/conic/bench.rs).

Reads the JSON written by `isac::conic::bench_hermitian_sdp` (its `to_json()`:
the seeded data, the settings, isac's optimum and times), builds the SAME program
in CVXPY with Clarabel as the backend and the same tolerances, checks that the
optima agree, and prints the times and the ratios.

Program (module doc of src/conic/bench.rs):
    minimise   sum_{k,j} t_kj
    over       R = R^H >= 0 (n x n), t_kj
    s.t.       tr R <= 1
               h_u^H R h_u >= gamma_u
               [[F_k(R), e_j], [e_j^T, t_kj]] >= 0,  F_k(R)_ab = 2 Re(g_ka^H R g_kb)

Usage:
    python3 python/conic_reference.py out/conic_bench.json [--check-tol 1e-5] [--out OUT.json]
"""
import argparse
import json
import sys
import time
import warnings

import numpy as np
import cvxpy as cp


def cvec(d):
    return np.asarray(d["re"]) + 1j * np.asarray(d["im"])


def build(data, n):
    g = [[cvec(v) for v in gk] for gk in data["g"]]
    h = [cvec(v) for v in data["h"]]
    gamma = data["gamma"]
    r = cp.Variable((n, n), hermitian=True)
    cons = [r >> 0, cp.real(cp.trace(r)) <= 1]
    for hu, gu in zip(h, gamma):
        cons.append(cp.real(hu.conj() @ r @ hu) >= gu)
    ts = []
    for gk in g:
        p = len(gk)
        f = [[None] * p for _ in range(p)]
        for a in range(p):
            for b in range(a, p):
                # tr(H R), H = g_b g_a^H + g_a g_b^H  (= 2 Re g_a^H R g_b)
                hab = np.outer(gk[b], gk[a].conj()) + np.outer(gk[a], gk[b].conj())
                e = cp.real(cp.trace(hab @ r))
                f[a][b] = e
                f[b][a] = e
        for j in range(p):
            t = cp.Variable()
            ej = np.zeros(p)
            ej[j] = 1.0
            rows = [[f[a][b] for b in range(p)] + [ej[a]] for a in range(p)]
            rows.append([ej[b] for b in range(p)] + [t])
            m = cp.bmat([[cp.reshape(e, (1, 1), order="F") if isinstance(e, cp.Expression)
                          else np.array([[e]]) for e in row] for row in rows])
            cons.append((m + m.T) / 2 >> 0)
            ts.append(t)
    return cp.Problem(cp.Minimize(cp.sum(cp.hstack(ts))), cons)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", help="JSON from isac's bench_hermitian_sdp")
    ap.add_argument("--check-tol", type=float, default=1e-5)
    ap.add_argument("--out")
    args = ap.parse_args()
    with open(args.bench) as f:
        b = json.load(f)
    n = b["antennas"]
    st = b["data"]["settings"]
    t0 = time.perf_counter()
    prob = build(b["data"], n)
    model_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    prob.solve(
        solver=cp.CLARABEL,
        tol_gap_abs=st["tol_gap_abs"],
        tol_gap_rel=st["tol_gap_rel"],
        tol_feas=st["tol_feas"],
        tol_infeas_abs=st["tol_infeas_abs"],
        tol_infeas_rel=st["tol_infeas_rel"],
        tol_ktratio=st["tol_ktratio"],
        max_iter=st["max_iter"],
        direct_solve_method=st["direct_solve_method"],
    )
    total_s = time.perf_counter() - t1
    solver_s = prob.solver_stats.solve_time or float("nan")
    compile_s = getattr(prob, "compilation_time", None) or getattr(prob, "_compilation_time", float("nan"))
    build_s = model_s + compile_s
    isac_total = b["build_seconds"] + b["solve_seconds"]
    cvx_total = model_s + total_s
    rel = abs(prob.value - b["objective"]) / max(1.0, abs(prob.value))
    out = {
        "antennas": n,
        "isac_status": b["status"],
        "cvxpy_status": prob.status,
        "cvxpy_objective": prob.value,
        "isac_objective": b["objective"],
        "relative_difference": rel,
        "cvxpy_model_seconds": model_s,
        "cvxpy_compile_seconds": compile_s,
        "cvxpy_build_seconds": build_s,
        "cvxpy_solver_seconds": solver_s,
        "cvxpy_total_seconds": cvx_total,
        "cvxpy_iterations": prob.solver_stats.num_iters,
        "isac_build_seconds": b["build_seconds"],
        "isac_solve_seconds": b["solve_seconds"],
        "isac_total_seconds": isac_total,
        "isac_iterations": b["iterations"],
        "isac_build_over_solve": b["build_seconds"] / b["solve_seconds"],
        "build_ratio_cvxpy_over_isac": build_s / b["build_seconds"],
        "total_ratio_cvxpy_over_isac": cvx_total / isac_total,
    }
    for k, v in out.items():
        print(f"{k:32s} {v}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=2)
    # Clarabel ends this program at reduced accuracy in both front ends ("AlmostSolved":
    # isac's status "optimal (Reduced accuracy)" after its violation gate, CVXPY's
    # "optimal_inaccurate"); the comparison is of the optima
    if prob.status not in ("optimal", "optimal_inaccurate") or not (rel <= args.check_tol):
        print(f"FAIL: optima differ by {rel:.3e} (tolerance {args.check_tol:g})", file=sys.stderr)
        sys.exit(1)
    print(f"OK: optima agree to {rel:.3e}")


if __name__ == "__main__":
    main()
