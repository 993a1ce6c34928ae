#!/usr/bin/env python3
"""Independent check of an `isac solve network --json` answer, outside isac.

1. Re-check: from the returned beamformers w_k and sensing covariances R_s alone, numpy
   recomputes every SINR (5), every per-BS power (C1) and the CRLB (7). The CRLB uses its
   own FIM: the echo mean mu = sum_s' alpha_s' vec(a(theta_r) a(theta_s')^H X_s') (27) is
   differentiated numerically with respect to the target position (central differences
   of the steering vectors built from atan2 of the perturbed position), the gains
   analytically, and F_mn = 2L/sigma_r^2 Re sum_s' tr(D_m^H D_n C_s'), then the Schur
   complement of the gains.
2. Optimum: the same fixed-structure program (receiving BS and association of the
   answer; minimise total power s.t. C1, SINR (9), the FIM LMI (12) and tr J^-1 <= eps)
   in CVXPY + Clarabel; its optimum must agree with isac's power within --check-tol
   (isac solves with a 1e-4 margin on the targets and restores the SINRs exactly).

3. With --exhaustive (on an `isac bench network --export` file): the same exhaustive
   search in CVXPY, every receiving BS x every association, each program as in 2, without
   isac's bounds; reports the time, the optimum and the ratio to isac's search.

Usage:
  python3 python/network_reference.py ANSWER.json [--check-tol 1e-3]
  python3 python/network_reference.py BENCH.json --exhaustive [--limit N]
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


def cvec(v):
    return np.array(v["re"], dtype=float) + 1j * np.array(v["im"], dtype=float)


def steering(n, spacing, theta):
    # printed convention: a(theta) = [1, e^{-j 2 pi d sin theta}, ...]
    return np.exp(-2j * np.pi * spacing * np.arange(n) * np.sin(theta))


def angle(frm, to):
    return np.arctan2(to[1] - frm[1], to[0] - frm[0])


def fim_derivatives(d, r, transmitters, h=1e-6):
    """Per transmitter s': D_p1, D_p2 (alpha dG/dp, numerical) and G."""
    par = d["parameters"]
    n, spacing = par["antennas"], par["antenna_spacing"]
    bs = np.array(d["base_stations"], dtype=float)
    p0 = np.array(d["target"], dtype=float)
    gains = np.array(d["echo_gains"], dtype=float)

    def g_at(p, s):
        return np.outer(steering(n, spacing, angle(bs[r], p)),
                        steering(n, spacing, angle(bs[s], p)).conj())

    out = []
    for s in transmitters:
        alpha = np.sqrt(gains[r][s])  # the phase does not change the CRLB
        dp = []
        for i in range(2):
            e = np.zeros(2)
            e[i] = h * max(1.0, np.linalg.norm(p0))
            dp.append(alpha * (g_at(p0 + e, s) - g_at(p0 - e, s)) / (2 * e[i]))
        out.append((s, dp, g_at(p0, s), alpha))
    return out


def crlb(d, r, cov):
    par = d["parameters"]
    scale = 2.0 * par["samples"] / par["bs_noise_w"]
    s_count = len(d["base_stations"])
    transmitters = [s for s in range(s_count) if s != r and np.trace(cov[s]).real > 0]
    jpp = np.zeros((2, 2))
    for s, dp, g, _ in fim_derivatives(d, r, transmitters):
        c = cov[s]
        ds = [dp[0], dp[1], g, 1j * g]
        f = np.array([[scale * np.real(np.trace(a.conj().T @ b @ c)) for b in ds] for a in ds])
        jpp += f[:2, :2]
        e = f[2, 2]
        if e > 0:
            jpp -= (np.outer(f[:2, 2], f[:2, 2]) + np.outer(f[:2, 3], f[:2, 3])) / e
    return float(np.trace(np.linalg.inv(jpp)))


def recheck(d):
    par = d["parameters"]
    n = par["antennas"]
    r = d["receiving_bs"]
    assoc = d["association"]
    hs = [[cvec(h) for h in per_bs] for per_bs in d["user_channels"]]
    w = [cvec(b) for b in d["beamformers"]]
    rs = [cvec(m) for m in d["sensing_covariances"]]
    s_count, k_count = len(hs), len(w)
    sinr = []
    for k in range(k_count):
        sig = abs(np.vdot(hs[assoc[k]][k], w[k])) ** 2
        inter = par["user_noise_w"]
        inter += sum(abs(np.vdot(hs[assoc[j]][k], w[j])) ** 2 for j in range(k_count) if j != k)
        inter += sum(np.real(hs[s][k].conj() @ rs[s] @ hs[s][k]) for s in range(s_count) if s != r)
        sinr.append(sig / inter)
    cov = [rs[s].copy() for s in range(s_count)]
    for k in range(k_count):
        cov[assoc[k]] += np.outer(w[k], w[k].conj())
    power = [float(np.trace(c).real) for c in cov]
    return np.array(sinr), np.array(power), crlb(d, r, cov), hs


def cvxpy_optimum(d, hs, r=None, assoc=None):
    par = d["parameters"]
    n = par["antennas"]
    r = d["receiving_bs"] if r is None else r
    assoc = d["association"] if assoc is None else assoc
    s_count, k_count = len(hs), len(assoc)
    on = [s for s in range(s_count) if s != r]
    w = [cp.Variable((n, n), hermitian=True) for _ in range(k_count)]
    rs = {s: cp.Variable((n, n), hermitian=True) for s in on}
    cons = [x >> 0 for x in w] + [x >> 0 for x in rs.values()]
    cov = {s: rs[s] + sum(w[k] for k in range(k_count) if assoc[k] == s) for s in on}
    for s in on:
        cons.append(cp.real(cp.trace(cov[s])) <= par["max_power_w"])
    for k in range(k_count):
        gram = lambda s: np.outer(hs[s][k], hs[s][k].conj()) / np.linalg.norm(hs[assoc[k]][k]) ** 2
        g = par["min_sinr"][k]
        sig = cp.real(cp.trace(gram(assoc[k]) @ w[k]))
        inter = sum(cp.real(cp.trace(gram(assoc[j]) @ w[j])) for j in range(k_count) if j != k)
        inter = inter + sum(cp.real(cp.trace(gram(s) @ rs[s])) for s in on)
        cons.append(sig >= g * (inter + par["user_noise_w"] / np.linalg.norm(hs[assoc[k]][k]) ** 2))
    scale = 2.0 * par["samples"] / par["bs_noise_w"]
    t = len(on)
    entries = {}
    derivs = fim_derivatives(d, r, on)
    dim = 2 + 2 * t
    f = [[0 for _ in range(dim)] for _ in range(dim)]
    for q, (s, dp, g, alpha) in enumerate(derivs):
        ds = [dp[0], dp[1], alpha * g, 1j * alpha * g]  # gains in units of |alpha|
        idx = [0, 1, 2 + q, 2 + t + q]
        for a in range(4):
            for b in range(4):
                if a >= 2 and b >= 2 and a != b:
                    continue
                e = scale * cp.real(cp.trace(ds[a].conj().T @ ds[b] @ cov[s]))
                f[idx[a]][idx[b]] = f[idx[a]][idx[b]] + e
    jm = cp.Variable((2, 2), symmetric=True)
    v = cp.Variable((2, 2), symmetric=True)
    fm = cp.bmat([[f[i][j] - (jm[i, j] if i < 2 and j < 2 else 0) for j in range(dim)] for i in range(dim)])
    cons.append((fm + fm.T) / 2 >> 0)
    cons.append(cp.bmat([[jm, np.eye(2)], [np.eye(2), v]]) >> 0)
    cons.append(cp.trace(v) <= par["max_crlb"])
    obj = sum(cp.real(cp.trace(x)) for x in w) + sum(cp.real(cp.trace(x)) for x in rs.values())
    prob = cp.Problem(cp.Minimize(obj), cons)
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-7, tol_gap_rel=1e-7, tol_feas=1e-7,
                       iterative_refinement_reltol=1e-10, iterative_refinement_max_iter=3)
        except cp.error.SolverError:
            return "solver_error", None, time.time() - t0
    return prob.status, prob.value, time.time() - t0


def exhaustive(d, limit):
    """Every receiver x association in CVXPY; returns (best W, seconds, programs)."""
    import itertools
    hs = [[cvec(h) for h in per_bs] for per_bs in d["user_channels"]]
    s_count, k_count = len(hs), len(d["association"])
    t0 = time.time()
    best, count, statuses = None, 0, {}
    for r in range(s_count):
        others = [s for s in range(s_count) if s != r]
        for assoc in itertools.product(others, repeat=k_count):
            if limit and count >= limit:
                break
            status, value, _ = cvxpy_optimum(d, hs, r, list(assoc))
            statuses[status] = statuses.get(status, 0) + 1
            count += 1
            if status == "optimal" and (best is None or value < best[0]):
                best = (value, r, list(assoc))
    return best, time.time() - t0, count, statuses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("answer")
    ap.add_argument("--check-tol", type=float, default=1e-3)
    ap.add_argument("--exhaustive", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="stop after N programs (timing only)")
    a = ap.parse_args()
    with open(a.answer) as fh:
        d = json.load(fh)
    if a.exhaustive:
        if "bench" not in d:
            fail("`bench` missing: give an `isac bench network --export` file")
        best, secs, count, statuses = exhaustive(d, a.limit)
        isac_s = d["bench"]["exhaustive_seconds"]
        per = secs / count
        print(f"CVXPY exhaustive search: {count} programs in {secs:.1f} s ({per:.3f} s each), statuses {statuses}")
        if best:
            dbm = 10 * np.log10(best[0] * 1e3)
            print(f"  optimum {best[0]:.6e} W ({dbm:.2f} dBm), receiving BS {best[1]}, association {best[2]}")
        print(f"isac: {isac_s:.2f} s for the whole search ({d['bench']['threads']} threads), "
              f"{d['bench']['program_seconds']:.4f} s per program on one thread")
        full = per * 972 if a.limit else secs
        print(f"ratio CVXPY / isac, whole search: {full / isac_s:.1f}"
              + (" (CVXPY extrapolated from the limit)" if a.limit else "")
              + f"; per program: {per / d['bench']['program_seconds']:.1f}")
        if best and not a.limit and d.get("total_power_dbm") is not None:
            isac_w = 10 ** (d["total_power_dbm"] / 10) / 1e3
            rel = abs(isac_w - best[0]) / best[0]
            print(f"  optimum: isac {isac_w:.6e} W vs CVXPY {best[0]:.6e} W, relative difference {rel:.2e}")
            if rel > a.check_tol:
                fail(f"optima differ by {rel:.2e} > {a.check_tol}")
        return
    for key in ["status", "parameters", "user_channels", "echo_gains", "base_stations", "target"]:
        if key not in d:
            fail(f"`{key}` missing: not an `isac solve network --json` answer")
    if d["status"] not in ("optimal", "solved"):
        fail(f"status is {d['status']!r}; only optimal or solved answers are checked")
    par = d["parameters"]
    sinr, power, c, hs = recheck(d)
    errors = []
    for k, g in enumerate(sinr):
        if g < par["min_sinr"][k] * (1 - 1e-7):
            errors.append(f"user {k}: SINR {10 * np.log10(g):.6f} dB below target")
    for s, pw in enumerate(power):
        if pw > par["max_power_w"] * (1 + 1e-7):
            errors.append(f"BS {s}: power {pw} W above budget")
    if c > par["max_crlb"] * (1 + 1e-6):
        errors.append(f"CRLB {c} m^2 above {par['max_crlb']}")
    if abs(c - d["crlb"]) > 1e-4 * c:
        errors.append(f"CRLB recomputed {c} vs isac {d['crlb']}")
    total = float(np.sum(power))
    status, opt, secs = cvxpy_optimum(d, hs)
    rel = abs(total - opt) / opt if opt else float("inf")
    print(f"re-check: min SINR {10 * np.log10(sinr.min()):.6f} dB, CRLB {c:.6e} m^2 (isac {d['crlb']:.6e}), "
          f"total {total:.6e} W; CVXPY ({status}, {secs:.2f} s) {opt:.6e} W; relative difference {rel:.2e}")
    if status not in ("optimal", "optimal_inaccurate"):
        errors.append(f"CVXPY status {status}")
    elif status == "optimal_inaccurate":
        print(f"warning: CVXPY's own answer is inaccurate; the difference {rel:.2e} is not checked")
    elif rel > a.check_tol:
        errors.append(f"isac power {total} W vs CVXPY optimum {opt} W: relative difference {rel:.2e} > {a.check_tol}")
    if status == "optimal" and total < opt * (1 - 1e-6):
        errors.append("isac's design uses less power than the CVXPY optimum: a violated constraint")
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print("network cross-check passed")


if __name__ == "__main__":
    main()
