#!/usr/bin/env python3
"""Independent check of isac's PDD (Algorithm 2) for the hybrid near-field downlink
(numpy + CVXPY).

Paper: shared/papers/near-field-ispac.md, Section III-B..E ((26c), (29)-(43), Algorithm 2)
and Appendix A (FIM). The near-field model (responses, FIM as the affine table A_ij with
J_ij(X) = Re sum(A_ij o X), CRB, the Schur-LMI tr CRB objective) is imported from
nearfield_reference.py, not copied.

Notation (downlink, partially connected hybrid MT): N_a antennas, N_RF RF chains,
M = N_a / N_RF. F = diag(f) Phi (30), |f_n| = 1, Phi = Bdiag(1_M, ..., 1_M) / sqrt(M) (31),
so F^H F = I. Digital block in the RF domain: W~ (N_RF x K), R~_d >= 0,
R~_x = W~ W~^H + R~_d, tr R~_x <= P (26d). SINR (26c) with the paper's h_k^T convention:
|h_k^T F w~_k|^2 / (sum_{i != k} |h_k^T F w~_i|^2 + h_k^T F R~_d F^H h_k^* + sigma^2).
The augmented Lagrangian (36a) with sign s (+1 "consistent", -1 "printed"):
    L = tr CRB(Q) + 1/(2 rho) ||Q - F R~_x F^H + s rho Upsilon||_F^2,
Q an unconstrained N_a x N_a Hermitian matrix (no PSD constraint in (32)/(38)).
Units: Q, R~_x, Upsilon-shift in W, rho in W^2 per tr-CRB unit (rad^2 + m^2), eta in W;
the programs work in units of the budget P (as nearfield_reference does) and convert back.

Input: {"hybrid": [item, ...]} with item = {"name", "parameters" (as
nearfield_reference.Instance reads, mode "downlink"), "rf_chains", "start_analog" (F),
"algorithm" {outer_iterations, inner_iterations, rho0, eta0, penalty_decrease,
randomizations, penalty_sign, seed}, "first_step" {block38_value, q, rx, w, rd, sdr_value},
optionally "isac" {"pdd": {seconds, crb_trace}, "pdd-manifold": {...}}}.

For each item:
 1. Block (38) at the start F, Upsilon = 0, rho = rho0:
    a. isac's exported point: W~, R~_d meet every SINR (26c) (relative 1e-4: an inner
       iterate, as the solver returned it) and the power (relative 1e-6),
       R~_x = W~ W~^H + R~_d, and (38a) = tr CRB(Q) + ||Q - F R~_x F^H||^2 / (2 rho0)
       evaluated here equals block38_value (relative 1e-6);
    b. the FULL (38) in CVXPY (Q free Hermitian N_a x N_a, W_k >= 0 and R~_d >= 0
       N_RF x N_RF (SDR of (38c)), SINR rows (37) in SDR form with h~_k = F^T h_k,
       tr R~_x <= P, tr CRB(Q) through the Schur LMI (28b)): its optimum must equal
       block38_value (relative 1e-4). isac solves a reduced form claimed exact; this is
       the independent check of that claim.
 2. The SDR (43) with T = isac's Q, M = Phi R~_x Phi^H and the SINR forms S_k built here
    from (43b) (H_k^i = diag(h_k) Phi w~_i, Psi_k = diag(h_k) Phi R~_d Phi^H diag(h_k^*)):
    min ||T - M o F_dot||_F s.t. sum_nm S_k[n,m] F_dot[n,m] >= sigma^2 (43b),
    diag F_dot = 1 (43c), F_dot >= 0 (43d without the rank); optimum vs sdr_value
    (relative 1e-4), and <= (40a) at the start f (which is feasible for it).
 3. (unless --no-timing) the whole Algorithm 2 in CVXPY from start_analog: outer_iterations
    x [inner_iterations x (block (38) + rank-one extraction (39), block (40) by the SDR
    (43) + Gaussian randomization)], then the dual/penalty update of lines 9-16; exactly
    outer_iterations outer iterations (equal work for the benchmark). Times include
    CVXPY's modelling and compile (perf_counter). Prints per-block times, the last
    tr CRB(Q), the final violation max|Q - F R~_x F^H| / P and, when present, the ratios
    CVXPY seconds / isac seconds (pdd, pdd-manifold).
Exits non-zero (one line on stderr) on any check failure.

Reading of the printed equations (the forms used here):
 - (36a)/(38a)/(40a) print `- rho Upsilon` with the dual update `+ h / rho` of line 10;
   the completed square of the Lagrangian term `+<Upsilon, h>` is `+ rho Upsilon` (s = +1);
   "printed" (s = -1) reproduces the paper literally.
 - (43b) prints H_k^i = diag(h_k) Phi w_i, a vector: the lifted term is H_k^i H_k^i^H. With
   F_dot = f f^H the SINR terms are sum_nm X[n,m] F_dot[n,m] = tr(F_dot^T X) = f^T X f^*
   for X = H H^H, Psi_k; the printed tr(F_dot X) = f^H X f is its conjugate version and
   differs unless X is real (the self-test shows the difference).
 - (42) writes sum_r V_r F_dot V_r^H; the identity used is the entrywise product
   F R~_x F^H = (Phi R~_x Phi^H) o (f f^H) (self-tested).
 - (38b) `(1 + 1/gamma) h~^T W_k h~^* >= h~^T R~_x h~^* + sigma^2` with
   R~_x = sum_k W_k + R~_d is the SDR row of (37) used here.

Usage:
  .venv/bin/python python/nearfield_pdd_reference.py --self-test
  .venv/bin/python python/nearfield_pdd_reference.py FILE [--solver CLARABEL|SCS] [--no-timing]
  .venv/bin/python python/nearfield_pdd_reference.py --write-synthetic OUT [--antennas 8 --rf-chains 2]
      (a synthetic file of the same layout whose first_step is solved here with SCS, tight
      tolerances, so that checks 1-2 compare SCS against Clarabel; placeholder isac times)
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import cvxpy as cp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nearfield_reference import (  # noqa: E402
    Instance, crb, crb_objective, cvec, hermitian, quadratic_coefficients, rel,
    selftest_instance, USABLE,
)

CHECK_SOLVER = "CLARABEL"
POINT_TOL = 1e-6  # isac's exported point: power, split of R~_x, (38a) value
# The SINRs of isac's exported block-(38) point: an inner iterate of the PDD, the conic
# solver's point as returned (isac restores exact feasibility only for the final design,
# whose re-check uses 1e-6); the issue's tolerance on SINRs, 1e-4. Measured at N_a = 64:
# 2.4e-6 below gamma (Clarabel's accuracy on that block); at N_a = 16: above gamma.
ITERATE_SINR_TOL = 1e-4
OPT_TOL = 1e-4  # optima of (38) and (43) vs isac's
# SCS is first order: tight tolerances so that a 1e-4 comparison is meaningful
# (measured: SCS's objective stalls ~6e-6 relative from Clarabel's on (38) whatever eps,
# while its point is accurate; more iterations only cost time)
SCS_OPTIONS = {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 100_000}
DEFAULT_ALGORITHM = {"outer_iterations": 2, "inner_iterations": 1, "penalty_decrease": 0.5,
                     "randomizations": 100, "penalty_sign": "consistent", "seed": 1}


def cjson(m):
    m = np.asarray(m)
    return {"re": m.real.tolist(), "im": m.imag.tolist()}


def run_solver(prob, solver):
    """Solves (SCS with SCS_OPTIONS); returns (status, seconds of the call, i.e. CVXPY's
    compile plus the solver)."""
    opts = SCS_OPTIONS if solver == "SCS" else {}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prob.solve(solver=solver, **opts)
        except cp.error.SolverError as e:
            return f"solver_error: {e}", time.perf_counter() - t0
    return prob.status, time.perf_counter() - t0


def phi_matrix(na, nrf):
    """Phi of (31): column l has 1/sqrt(M) on rows l M .. (l+1) M - 1."""
    m = na // nrf
    phi = np.zeros((na, nrf))
    for col in range(nrf):
        phi[col * m:(col + 1) * m, col] = 1.0 / np.sqrt(m)
    return phi


class Hybrid:
    """One hybrid item: the near-field Instance plus the architecture and Algorithm 2's
    parameters."""

    def __init__(self, item):
        self.item = item
        self.inst = Instance(item)
        inst = self.inst
        if inst.mode != "downlink":
            raise ValueError(f"{inst.name}: PDD is the downlink algorithm (mode {inst.mode})")
        self.name = inst.name
        self.na, self.k = inst.na, inst.k
        self.nrf = int(item["rf_chains"])
        if self.nrf <= 0 or self.na % self.nrf:
            raise ValueError(f"{self.name}: N_a = {self.na} not a multiple of N_RF = {self.nrf}")
        self.m = self.na // self.nrf
        self.phi = phi_matrix(self.na, self.nrf)
        self.power, self.noise, self.gamma = inst.power, inst.noise, inst.gamma
        self.h = inst.h  # K x N_a, rows h_k (used as h_k^T)
        self.forms = inst.fim_affine()
        alg = dict(DEFAULT_ALGORITHM)
        alg.update(item.get("algorithm", {}))
        self.alg = alg
        self.sign = {"consistent": 1.0, "printed": -1.0}[alg["penalty_sign"]]
        self.start_f = self.shifters(cvec(item["start_analog"])) if "start_analog" in item else None

    # ---- the analog stage (29)-(31) ----------------------------------------------------
    def analog(self, f):
        """F = diag(f) Phi (30)."""
        return f[:, None] * self.phi

    def shifters(self, big_f):
        """f from F (N_a x N_RF): f_n = sqrt(M) F[n, n // M]; checks the structure."""
        if big_f.shape != (self.na, self.nrf):
            raise ValueError(f"{self.name}: start_analog is {big_f.shape}, expected "
                             f"({self.na}, {self.nrf})")
        mask = self.phi > 0
        off = np.max(np.abs(big_f[~mask])) if (~mask).any() else 0.0
        f = np.sqrt(self.m) * big_f[mask.nonzero()]  # row-major: one entry per row n
        modulus = np.max(np.abs(np.abs(f) - 1.0))
        if off > 1e-9 or modulus > 1e-9:
            raise ValueError(f"{self.name}: start_analog not partially connected (off-block "
                             f"{off:.1e}, |f_n| - 1 up to {modulus:.1e})")
        return f / np.abs(f)

    # ---- model evaluations ---------------------------------------------------------------
    def fim(self, x):
        """J(X) = [Re sum(A_ij o X)] (Appendix A via fim_affine), X N_a x N_a."""
        return np.array([[np.real(np.sum(self.forms[i][j] * x)) for j in range(4)]
                         for i in range(4)])

    def crb_trace(self, q):
        """tr CRB(Q) = tr (J_11 - J_12 J_22^-1 J_12^T)^-1 (25); inf if not positive."""
        j = self.fim(hermitian(q))
        try:
            c = crb(j)
        except np.linalg.LinAlgError:
            return np.inf
        if np.any(np.linalg.eigvalsh(c) <= 0) or j[2, 2] <= 0:
            return np.inf
        return float(np.trace(c))

    def al_value(self, f, q, rx, ups, rho):
        """(38a): tr CRB(Q) + ||Q - F R~_x F^H + s rho Upsilon||_F^2 / (2 rho)."""
        big_f = self.analog(f)
        e = q - big_f @ rx @ big_f.conj().T + self.sign * rho * ups
        return self.crb_trace(q) + np.linalg.norm(e) ** 2 / (2.0 * rho)

    def sinrs(self, f, w, rd):
        """(26c) through F: |h_k^T F w~_k|^2 / (sum_{i!=k} |h_k^T F w~_i|^2 +
        h_k^T F R~_d F^H h_k^* + sigma^2)."""
        ht = self.h @ self.analog(f)  # row k: h_k^T F = (F^T h_k)^T
        gains = np.abs(ht @ w) ** 2  # [k, i] = |h_k^T F w~_i|^2
        out = []
        for k in range(self.k):
            probe = np.real(ht[k] @ rd @ ht[k].conj())
            out.append(gains[k, k] / (gains[k].sum() - gains[k, k] + probe + self.noise))
        return np.array(out)

    def sinr_form_values(self, f, w, rd):
        """|h_k^T F w~_k|^2 / gamma - sum_{i!=k} |h_k^T F w~_i|^2 - h_k^T F R~_d F^H h_k^*
        (the left side of (37) minus sigma^2 moved: >= sigma^2 <=> SINR_k >= gamma)."""
        ht = self.h @ self.analog(f)
        gains = np.abs(ht @ w) ** 2
        return np.array([gains[k, k] / self.gamma - (gains[k].sum() - gains[k, k])
                         - np.real(ht[k] @ rd @ ht[k].conj()) for k in range(self.k)])


# ---------------------------------------------------------------------------------------
# Block (38): {U, Q, R~_d, W} for fixed F, and the rank-one extraction (39)
# ---------------------------------------------------------------------------------------
def rank_one_extraction(hy, f, w_sdr, rx):
    """(39): w~_k = W_k h~_k^* / sqrt(h~_k^T W_k h~_k^*), h~_k = F^T h_k; then
    R~_d := R~_x - W~ W~^H (keeps R~_x; W_k - w~_k w~_k^H >= 0 makes R~_d >= 0)."""
    ht = hy.h @ hy.analog(f)
    cols = []
    for k in range(hy.k):
        g = ht[k]
        v = w_sdr[k] @ g.conj()
        cols.append(v / np.sqrt(max(np.real(g @ v), 1e-300)))
    w = np.column_stack(cols)
    return w, hermitian(rx - w @ w.conj().T)


class _Tables:
    """The FIM tables of X = F R F^H as maps of R: A_ij -> F^T A_ij F^* (for crb_objective,
    which only calls fim_affine())."""

    def __init__(self, forms, big_f):
        self.tables = [[big_f.T @ a @ big_f.conj() for a in row] for row in forms]

    def fim_affine(self):
        return self.tables


def block38(hy, f, ups, rho, solver=CHECK_SOLVER, free_q=True):
    """The SDR of (38) at shifters f, in units of P (R~ = P R', Q = P Q'):
    min tr CRB(Q) + 1/(2 rho) ||Q - F R~_x F^H + s rho Upsilon||^2 over Q (Hermitian),
    W_k >= 0, R~_d >= 0 (N_RF x N_RF), R~_x = sum_k W_k + R~_d, tr R~_x <= P and the SINR
    rows (37)/(38b) `(1/gamma) h~^T W_k h~^* - sum_{i!=k} h~^T W_i h~^* - h~^T R~_d h~^*
    >= sigma^2`. free_q=False: Q := F R~_x F^H (no penalty): the optimal digital block for
    F. Returns a dict with the optimum (tr CRB units), the argmin, (39)'s W~, R~_d, tr CRB(Q)
    re-evaluated and the time (modelling + compile + solve)."""
    t0 = time.perf_counter()
    p, n, r = hy.power, hy.na, hy.nrf
    big_f = hy.analog(f)
    ht = hy.h @ big_f
    rd = cp.Variable((r, r), hermitian=True)
    ws = [cp.Variable((r, r), hermitian=True) for _ in range(hy.k)]
    rx = rd + sum(ws)
    cons = [rd >> 0] + [w >> 0 for w in ws] + [cp.real(cp.trace(rx)) <= 1.0]
    snr = p / hy.noise  # rows in units of sigma^2
    for k in range(hy.k):
        c = snr * quadratic_coefficients(ht[k])  # h~^T X h~^* = sum(X o h~ h~^H)
        qv = [cp.real(cp.sum(cp.multiply(c, x))) for x in ws]
        lhs = qv[k] / hy.gamma - sum(qv[i] for i in range(hy.k) if i != k)
        cons.append(lhs - cp.real(cp.sum(cp.multiply(c, rd))) >= 1.0)
    x = big_f @ rx @ big_f.conj().T
    if free_q:
        q = cp.Variable((n, n), hermitian=True)
        obj, crb_cons, factor = crb_objective(hy.inst, q, n, p)
    else:
        # J(F R F^H): sum(A o F R F^H) = sum((F^T A F^*) o R), the FIM tables in the RF domain
        q = x
        obj, crb_cons, factor = crb_objective(_Tables(hy.forms, big_f), rx, r, p)
    expr = obj.args[0]
    if free_q:
        shift = hy.sign * rho * ups / p
        expr = expr + p * p / (2.0 * rho * factor) * cp.sum_squares(q - x + shift)
    prob = cp.Problem(cp.Minimize(expr), cons + crb_cons)
    st, _ = run_solver(prob, solver)
    out = {"status": st, "seconds": time.perf_counter() - t0,
           "solver": prob.solver_stats.solver_name if prob.solver_stats else solver}
    if st not in USABLE:
        return out
    w_sdr = [p * hermitian(w.value) for w in ws]
    rx_v = p * hermitian(rd.value + sum(w.value for w in ws))
    q_v = p * hermitian(q.value) if free_q else big_f @ rx_v @ big_f.conj().T
    w, rd_v = rank_one_extraction(hy, f, w_sdr, rx_v)
    out.update(value=prob.value * factor, q=q_v, rx=rx_v, w_sdr=w_sdr, rd_sdr=p * hermitian(rd.value),
               w=w, rd=rd_v, crb=hy.crb_trace(q_v))
    return out


# ---------------------------------------------------------------------------------------
# Block (40): the SDR (43) and Gaussian randomization
# ---------------------------------------------------------------------------------------
def sinr_forms(hy, w, rd):
    """S_k of (43b), built from the paper's definitions: H_k^i = diag(h_k) Phi w~_i (a
    vector), Psi_k = diag(h_k) Phi R~_d Phi^H diag(h_k^*); S_k = H_k^k H_k^k^H / gamma -
    sum_{i!=k} H_k^i H_k^i^H - Psi_k, so that f^T S_k f^* = sum_nm S_k[n,m] F_dot[n,m]
    (F_dot = f f^H) is the SINR form of the design (h_k^T F w~_i = f^T (h_k o Phi w~_i))."""
    pw = hy.phi @ w
    md = hy.phi @ rd @ hy.phi.T
    out = []
    for k in range(hy.k):
        hk = hy.h[k]
        hvec = [np.diag(hk) @ pw[:, i] for i in range(hy.k)]
        psi = np.diag(hk) @ md @ np.diag(hk.conj())
        s = np.outer(hvec[k], hvec[k].conj()) / hy.gamma - psi
        for i in range(hy.k):
            if i != k:
                s = s - np.outer(hvec[i], hvec[i].conj())
        out.append(s)
    return out


def form_value(f, s):
    """f^T S f^*."""
    return float(np.real(f @ s @ f.conj()))


def misfit(t, m, f):
    """(40a) without the square: ||T - M o f f^H||_F."""
    return float(np.linalg.norm(t - m * np.outer(f, f.conj())))


def block43_sdr(hy, t, m, forms, solver=CHECK_SOLVER):
    """The SDR (43) in units of P: min ||T - M o F_dot||_F s.t. F_dot >= 0 (Hermitian
    N_a x N_a), F_dot_nn = 1, sum_nm S_k[n,m] F_dot[n,m] >= sigma^2. Returns a dict with
    the optimum (W), F_dot and the time (modelling + compile + solve)."""
    t0 = time.perf_counter()
    p, n = hy.power, hy.na
    fd = cp.Variable((n, n), hermitian=True)
    cons = [fd >> 0, cp.real(cp.diag(fd)) == 1.0]
    for s in forms:
        # each row scaled by its largest coefficient (Clarabel more often ends at Solved
        # than at AlmostSolved than with rows in units of sigma^2)
        sc = max(np.max(np.abs(s)), 1e-300)
        cons.append(cp.real(cp.sum(cp.multiply(s / sc, fd))) >= hy.noise / sc)
    # ||T - M o F_dot||_F^2 = 2 sum_{n<m} |T_nm - M_nm F_dot_nm|^2 + sum_n |T_nn - M_nn|^2
    # (F_dot_nn = 1): the diagonal is a constant. (The plain complex Frobenius norm is the
    # same program, but Clarabel then stops at AlmostSolved on these instances.)
    resid = t / p - cp.multiply(m / p, fd)
    iu, ju = np.triu_indices(n, 1)
    upper = iu + ju * n  # column-major positions of the entries above the diagonal
    diag = np.linalg.norm(np.diag(t - m)) / p
    flat = cp.hstack([np.sqrt(2.0) * cp.vec(cp.real(resid), order="F")[upper],
                      np.sqrt(2.0) * cp.vec(cp.imag(resid), order="F")[upper], np.array([diag])])
    prob = cp.Problem(cp.Minimize(cp.norm(flat, 2)), cons)
    st, _ = run_solver(prob, solver)
    out = {"status": st, "seconds": time.perf_counter() - t0}
    if st in USABLE:
        out.update(value=prob.value * p, fd=hermitian(fd.value))
    return out


def randomize(hy, fd, f, t, m, forms, rng, count):
    """Gaussian randomization: the phases of F_dot's principal eigenvector and of `count`
    draws xi ~ CN(0, F_dot), f = exp(j angle(xi)); the current f is the initial best. Keeps
    the candidate with the smallest ||T - M o f f^H||_F among those with every SINR form
    >= min(sigma^2, its current value). Returns (f, misfit, candidates kept feasible)."""
    vals, vecs = np.linalg.eigh(fd)
    roots = np.sqrt(np.maximum(vals, 0.0))

    def phases(xi):
        a = np.abs(xi)
        return np.where(a > 0, xi / np.where(a > 0, a, 1.0), 1.0 + 0j)

    cands = [phases(vecs[:, -1])]
    n = len(f)
    for _ in range(count):
        r = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2.0)
        cands.append(phases(vecs @ (roots * r)))
    floor = [min(hy.noise, form_value(f, s)) for s in forms]
    best, best_val, feasible = f, misfit(t, m, f), 0
    for c in cands:
        if not all(form_value(c, s) >= fl for s, fl in zip(forms, floor)):
            continue
        feasible += 1
        g = misfit(t, m, c)
        if g < best_val:
            best, best_val = c, g
    return best, best_val, feasible


def block40(hy, f, blk, ups, rho, rng, solver=CHECK_SOLVER):
    """Block (40): T = Q + s rho Upsilon, M = Phi R~_x Phi^H, the SDR (43) with the SINR
    forms of (39)'s W~, R~_d, then Gaussian randomization."""
    t = blk["q"] + hy.sign * rho * ups
    m = hy.phi @ blk["rx"] @ hy.phi.T
    forms = sinr_forms(hy, blk["w"], blk["rd"])
    sdr = block43_sdr(hy, t, m, forms, solver)
    t0 = time.perf_counter()
    if sdr["status"] in USABLE:
        f_new, val, feas = randomize(hy, sdr["fd"], f, t, m, forms, rng, hy.alg["randomizations"])
    else:  # as isac: keep f when the SDR has no answer
        f_new, val, feas = f, misfit(t, m, f), 0
    sdr["randomization_seconds"] = time.perf_counter() - t0
    sdr.update(f=f_new, misfit=val, feasible_candidates=feas)
    return sdr


# ---------------------------------------------------------------------------------------
# Algorithm 2
# ---------------------------------------------------------------------------------------
def run_pdd(hy, solver=CHECK_SOLVER, f0=None, verbose=False):
    """Algorithm 2 from f0 (default start_analog): exactly outer_iterations outer
    iterations of inner_iterations [block (38), block (40)], then (lines 9-16)
    h = Q - F R~_x F^H; Upsilon += h / rho if max|h| <= eta else rho *= mu;
    eta = 0.9 max|h|. Returns the history and the times."""
    alg = hy.alg
    rng = np.random.default_rng(alg["seed"])
    f = hy.start_f if f0 is None else f0
    ups = np.zeros((hy.na, hy.na), dtype=complex)
    rho, eta = float(alg["rho0"]), float(alg["eta0"])
    times = {"38": [], "43": [], "randomization": []}
    history = []
    t_start = time.perf_counter()
    for outer in range(alg["outer_iterations"]):
        for inner in range(alg["inner_iterations"]):
            blk = block38(hy, f, ups, rho, solver)
            times["38"].append(blk["seconds"])
            if blk["status"] not in USABLE:
                raise RuntimeError(f"block (38) {blk['status']} at outer {outer}, inner {inner}")
            b40 = block40(hy, f, blk, ups, rho, rng, solver)
            times["43"].append(b40["seconds"])
            times["randomization"].append(b40["randomization_seconds"])
            f = b40["f"]
        big_f = hy.analog(f)
        h = blk["q"] - big_f @ blk["rx"] @ big_f.conj().T
        viol = float(np.max(np.abs(h)))
        al = blk["crb"] + np.linalg.norm(h + hy.sign * rho * ups) ** 2 / (2.0 * rho)
        dual = viol <= eta
        row = {"outer": outer, "crb": blk["crb"], "block38_value": blk["value"], "al": al,
               "violation": viol / hy.power, "rho": rho, "dual_update": dual,
               "sdr_status": b40["status"], "feasible_candidates": b40["feasible_candidates"],
               "min_sinr_db": 10 * np.log10(hy.sinrs(f, blk["w"], blk["rd"]).min())}
        if dual:
            ups = ups + h / rho
        else:
            rho *= alg["penalty_decrease"]
        eta = 0.9 * viol
        history.append(row)
        if verbose:
            print(f"    outer {outer}: tr CRB(Q) {row['crb']:.6e}, (38) {row['block38_value']:.6e}, "
                  f"violation/P {row['violation']:.3e}, rho {row['rho']:.3e}, "
                  f"{'dual update' if dual else 'rho *= mu'}, SDR {row['sdr_status']}, "
                  f"{row['feasible_candidates']} feasible candidates, "
                  f"min SINR (final f, last W~) {row['min_sinr_db']:.3f} dB")
    return {"history": history, "times": times, "seconds": time.perf_counter() - t_start,
            "f": f, "last": blk}


# ---------------------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------------------
def exported_point(item):
    fs = item["first_step"]
    return cvec(fs["q"]), cvec(fs["rx"]), cvec(fs["w"]), cvec(fs["rd"])


def check_block38(hy, solver, errors):
    """Check 1 (module doc)."""
    fs = hy.item["first_step"]
    f, rho = hy.start_f, float(hy.alg["rho0"])
    q, rx, w, rd = exported_point(hy.item)
    ups = np.zeros((hy.na, hy.na))
    p = hy.power
    # a. the exported point
    sinr = hy.sinrs(f, w, rd)
    power = float(np.real(np.trace(rx)))
    lifted = w @ w.conj().T + rd
    split = np.linalg.norm(lifted - rx) / np.linalg.norm(rx)
    rd_eig = np.linalg.eigvalsh(hermitian(rd))[0] / max(np.real(np.trace(rd)), 1e-300 * p)
    value = hy.al_value(f, q, rx, ups, rho)
    d_val = rel(value, fs["block38_value"])
    print(f"  (38) at isac's point: (38a) {value:.10e} vs block38_value {fs['block38_value']:.10e}: "
          f"relative {d_val:.1e}; min SINR {10 * np.log10(sinr.min()):.6f} dB "
          f"(target {10 * np.log10(hy.gamma):.6f}), power/P {power / p:.9f}, "
          f"|W~W~^H + R~_d - R~_x|/|R~_x| {split:.1e}, min eig R~_d / tr {rd_eig:.1e}")
    if sinr.min() < hy.gamma * (1 - ITERATE_SINR_TOL):
        errors.append(f"(38) exported SINR {sinr.min():.10e} below gamma {hy.gamma:.10e}")
    if power > p * (1 + POINT_TOL) or np.real(np.trace(lifted)) > p * (1 + POINT_TOL):
        errors.append(f"(38) exported power {power:.10e} above P {p:.10e}")
    if split > POINT_TOL:
        errors.append(f"(38) exported R~_x differs from W~ W~^H + R~_d by {split:.2e}")
    if rd_eig < -POINT_TOL:
        errors.append(f"(38) exported R~_d not PSD (min eig / tr {rd_eig:.2e})")
    if d_val > POINT_TOL:
        errors.append(f"(38a) at isac's point {value:.10e} vs block38_value "
                      f"{fs['block38_value']:.10e}: relative {d_val:.2e} > {POINT_TOL}")
    # b. the full (38) in CVXPY
    blk = block38(hy, f, ups, rho, solver)
    if blk["status"] not in USABLE:
        errors.append(f"CVXPY full (38): {blk['status']}")
        print(f"  FAIL (38) CVXPY full: {blk['status']}")
        return None
    d_opt = rel(blk["value"], fs["block38_value"])
    at_argmin = hy.al_value(f, blk["q"], blk["rx"], ups, rho)
    print(f"  (38) CVXPY full ({blk['solver']}, {blk['seconds']:.2f} s): optimum {blk['value']:.10e} "
          f"(re-evaluated at its argmin {at_argmin:.10e}) vs isac {fs['block38_value']:.10e}: "
          f"relative {d_opt:.1e} (tol {OPT_TOL:.0e})")
    if d_opt > OPT_TOL:
        errors.append(f"(38) CVXPY optimum {blk['value']:.10e} vs isac {fs['block38_value']:.10e}: "
                      f"relative {d_opt:.2e} > {OPT_TOL}")
    return blk


def check_sdr43(hy, solver, errors):
    """Check 2 (module doc): T = isac's Q (Upsilon = 0), M = Phi R~_x Phi^H."""
    fs = hy.item["first_step"]
    q, rx, w, rd = exported_point(hy.item)
    m = hy.phi @ rx @ hy.phi.T
    forms = sinr_forms(hy, w, rd)
    sdr = block43_sdr(hy, q, m, forms, solver)
    if sdr["status"] not in USABLE:
        errors.append(f"CVXPY SDR (43): {sdr['status']}")
        print(f"  FAIL SDR (43): {sdr['status']}")
        return
    at_start = misfit(q, m, hy.start_f)
    ref = fs.get("sdr_value")
    if ref is None:
        errors.append("first_step.sdr_value missing (isac's SDR (43) had no answer)")
        print(f"  FAIL SDR (43) CVXPY {sdr['value']:.10e}, isac none")
        return
    d = rel(sdr["value"], ref)
    rank = np.linalg.eigvalsh(sdr["fd"])
    print(f"  SDR (43) ({sdr['status']}, {sdr['seconds']:.2f} s): optimum {sdr['value']:.10e} vs isac {ref:.10e}: "
          f"relative {d:.1e} (tol {OPT_TOL:.0e}); (40a) at the start f {at_start:.6e}; "
          f"F_dot eigenvalue ratio l2/l1 {rank[-2] / rank[-1]:.1e}")
    if d > OPT_TOL:
        errors.append(f"SDR (43) CVXPY {sdr['value']:.10e} vs isac {ref:.10e}: relative {d:.2e}")
    if sdr["value"] > at_start * (1 + POINT_TOL) + 1e-12 * hy.power:
        errors.append(f"SDR (43) optimum {sdr['value']:.6e} above (40a) at the feasible start f "
                      f"{at_start:.6e}")


def time_algorithm(hy, solver, errors):
    """Check 3 (module doc)."""
    alg = hy.alg
    try:
        run = run_pdd(hy, solver, verbose=True)
    except RuntimeError as e:
        errors.append(f"Algorithm 2: {e}")
        print(f"  FAIL Algorithm 2: {e}")
        return None
    t = run["times"]
    last = run["history"][-1]
    fmt = lambda v: f"{sum(v):.2f} s total, {np.mean(v):.2f} s mean x {len(v)}"
    print(f"  Algorithm 2 in CVXPY ({solver}): {alg['outer_iterations']} outer x "
          f"{alg['inner_iterations']} inner, {run['seconds']:.2f} s; block (38) {fmt(t['38'])}; "
          f"SDR (43) {fmt(t['43'])}; randomization ({alg['randomizations']} draws) {fmt(t['randomization'])}")
    print(f"  Algorithm 2 result: last block-(38) tr CRB(Q) {last['crb']:.8e}, final violation "
          f"max|Q - F R~_x F^H|/P {last['violation']:.3e}")
    # isac's timed run also ends with the exact digital block for the final F (and starts
    # with its altmin start, not reproduced here): that block timed and reported too
    dig = block38(hy, run["f"], None, None, solver, free_q=False)
    dig_txt = f"tr CRB {dig['crb']:.8e}" if dig["status"] in USABLE else dig["status"]
    total = run["seconds"] + dig["seconds"]
    print(f"  final F's optimal digital block ((38) with Q = F R~_x F^H): {dig['seconds']:.2f} s, "
          f"{dig_txt}; Algorithm 2 + this block {total:.2f} s")
    for key, val in sorted(hy.item.get("isac", {}).items()):
        if val.get("seconds"):
            crb_txt = f", tr CRB {val['crb_trace']:.8e}" if val.get("crb_trace") is not None else ""
            print(f"    isac {key:12s} {val['seconds']:8.3f} s{crb_txt}; CVXPY / isac = "
                  f"{run['seconds'] / val['seconds']:.2f} (Algorithm 2), "
                  f"{total / val['seconds']:.2f} (with the final digital block)")
    return run


def check_item(hy, solver, timing):
    errors = []
    print(f"{hy.name}: N_a = {hy.na}, N_RF = {hy.nrf}, K = {hy.k}, gamma = "
          f"{10 * np.log10(hy.gamma):.1f} dB, sign {hy.alg['penalty_sign']}, rho0 {hy.alg['rho0']:.4e}")
    if hy.start_f is None:
        errors.append("start_analog missing")
    elif "first_step" not in hy.item:
        errors.append("first_step missing")
    else:
        check_block38(hy, solver, errors)
        check_sdr43(hy, solver, errors)
    if timing and hy.start_f is not None:
        time_algorithm(hy, solver, errors)
    print(("  ok" if not errors else "  FAIL: " + "; ".join(errors)))
    return [f"{hy.name}: {e}" for e in errors]


# ---------------------------------------------------------------------------------------
# synthetic data (same layout) and self-test
# ---------------------------------------------------------------------------------------
def synthetic_item(na=8, nrf=2, k=2, gamma_db=0.0, seed=3, solver="SCS", algorithm=None,
                   name=None, placeholder_isac=False):
    """An item of the input layout: parameters as nearfield_reference.selftest_instance
    (Fresnel MT, far-field AT), random start phases, rho0 = P^2 / tr CRB(optimal digital
    block at the start F) (isac's initial_penalty), eta0 = P, and first_step solved HERE
    with `solver` (block (38) at the start F, Upsilon = 0, then the SDR (43))."""
    inst = selftest_instance("downlink", "fresnel", na=na, nb=4, k=k, gamma_db=gamma_db, seed=seed)
    p = dict(inst.p)
    p["sensing_gain"] = [3e-5, 1e-5]
    rng = np.random.default_rng(seed + 100)
    f = np.exp(2j * np.pi * rng.random(na))
    item = {"name": name or f"synthetic-na{na}-nrf{nrf}-k{k}", "parameters": p, "rf_chains": nrf,
            "start_analog": cjson(f[:, None] * phi_matrix(na, nrf))}
    alg = dict(DEFAULT_ALGORITHM)
    alg.update(algorithm or {})
    alg.setdefault("eta0", p["power_w"])
    item["algorithm"] = alg
    hy = Hybrid(item)
    dig = block38(hy, f, None, None, CHECK_SOLVER, free_q=False)
    if dig["status"] not in USABLE:
        raise RuntimeError(f"synthetic start F: digital block {dig['status']} (raise the SNR)")
    alg.setdefault("rho0", p["power_w"] ** 2 / dig["crb"])
    hy = Hybrid(item)
    ups = np.zeros((na, na))
    blk = block38(hy, f, ups, alg["rho0"], solver)
    if blk["status"] not in USABLE:
        raise RuntimeError(f"synthetic first step: block (38) {blk['status']}")
    # R~_d as isac exports it: the PSD part of R~_x - W~ W~^H
    vals, vecs = np.linalg.eigh(blk["rd"])
    rd = (vecs * np.maximum(vals, 0.0)) @ vecs.conj().T
    t, m = blk["q"], hy.phi @ blk["rx"] @ hy.phi.T
    sdr = block43_sdr(hy, t, m, sinr_forms(hy, blk["w"], rd), solver)
    # isac exports its interior-point program's optimum; SCS's own objective is only ~1e-5
    # accurate on (38) (its point is far better), so for SCS (38a) re-evaluated at its point
    if solver == "CLARABEL":
        value, source = blk["value"], "program optimum (CLARABEL)"
    else:
        value, source = hy.al_value(f, blk["q"], blk["rx"], ups, alg["rho0"]), f"(38a) at the {solver} point"
    item["first_step"] = {"block38_value": value, "q": cjson(blk["q"]), "rx": cjson(blk["rx"]),
                          "w": cjson(blk["w"]), "rd": cjson(rd),
                          "sdr_value": sdr.get("value"), "solver": solver,
                          "block38_value_source": source, "start_digital_crb": dig["crb"]}
    if placeholder_isac:  # exercises the ratio printing; NOT isac's times
        item["isac"] = {"pdd": {"seconds": 1.0, "crb_trace": None},
                        "pdd-manifold": {"seconds": 1.0, "crb_trace": None}}
    return item


def self_test(solver=CHECK_SOLVER):
    ok = True
    rng = np.random.default_rng(11)

    def report(label, err, tol):
        nonlocal ok
        good = bool(err <= tol)
        ok &= good
        print("  %-78s %.2e (tol %.3g) %s" % (label, err, tol, "ok" if good else "FAIL"))

    t0 = time.perf_counter()
    item = synthetic_item(na=8, nrf=2, k=2, gamma_db=0.0, seed=3, solver="SCS",
                          algorithm={"outer_iterations": 4, "inner_iterations": 1,
                                     "randomizations": 50})
    print(f"synthetic instance N_a = 8, N_RF = 2, K = 2 (first_step by SCS) built in "
          f"{time.perf_counter() - t0:.2f} s")
    hy = Hybrid(item)
    f0 = hy.start_f
    n, r = hy.na, hy.nrf

    print("analog stage (29)-(31) and the SINR forms (43b)")
    f = np.exp(2j * np.pi * rng.random(n))
    big_f = hy.analog(f)
    report("F^H F = I", np.max(np.abs(big_f.conj().T @ big_f - np.eye(r))), 1e-14)
    x = rng.standard_normal((r, r)) + 1j * rng.standard_normal((r, r))
    rxr = x @ x.conj().T
    report("F R F^H = (Phi R Phi^H) o (f f^H)",
           np.max(np.abs(big_f @ rxr @ big_f.conj().T - (hy.phi @ rxr @ hy.phi.T) * np.outer(f, f.conj()))), 1e-12)
    jx = hy.fim(big_f @ rxr @ big_f.conj().T)
    tab = _Tables(hy.forms, big_f).fim_affine()
    jr = np.array([[np.real(np.sum(tab[i][j] * rxr)) for j in range(4)] for i in range(4)])
    report("J(F R F^H) = [Re sum((F^T A_ij F^*) o R)] (RF-domain FIM tables, relative)",
           np.max(np.abs(jx - jr)) / np.max(np.abs(jx)), 1e-12)
    report("start_analog -> f -> F round trip",
           np.max(np.abs(hy.analog(f0) - cvec(item["start_analog"]))), 1e-14)
    w = (rng.standard_normal((r, hy.k)) + 1j * rng.standard_normal((r, hy.k))) * 0.3
    y = rng.standard_normal((r, r)) + 1j * rng.standard_normal((r, r))
    rd = 0.1 * y @ y.conj().T
    ident = max(abs(hy.h[k] @ big_f @ w[:, i] - f @ (hy.h[k] * (hy.phi @ w[:, i])))
                for k in range(hy.k) for i in range(hy.k))
    report("h_k^T F w~_i = f^T (h_k o Phi w~_i) (max abs, |h| ~ 1e-5)", ident / 1e-5, 1e-13)
    forms = sinr_forms(hy, w, rd)
    direct = hy.sinr_form_values(f, w, rd)
    lifted = np.array([form_value(f, s) for s in forms])
    summed = np.array([np.real(np.sum(s * np.outer(f, f.conj()))) for s in forms])
    report("f^T S_k f^* = SINR form of the lifted design (relative)",
           np.max(np.abs(lifted - direct)) / np.max(np.abs(direct)), 1e-12)
    report("sum_nm S_k[n,m] F_dot[n,m] (F_dot = f f^H) = f^T S_k f^* (relative)",
           np.max(np.abs(summed - lifted)) / np.max(np.abs(lifted)), 1e-12)
    literal = np.array([np.real(np.trace(np.outer(f, f.conj()) @ s)) for s in forms])
    print(f"  (info) the printed tr(F_dot S_k) = f^H S_k f differs: relative "
          f"{np.max(np.abs(literal - direct)) / np.max(np.abs(direct)):.2e} (needs F_dot^T, see report)")

    print("block (38): SDR, rank-one extraction (39), optimality against feasible points")
    rho = hy.alg["rho0"]
    ups = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
    ups = hermitian(ups) * 0.02 * hy.power / rho  # s rho Upsilon ~ 2 % of P per entry
    blk = block38(hy, f0, ups, rho, solver)
    print(f"  block (38) with a random Upsilon: {blk['status']} ({blk['seconds']:.2f} s), "
          f"optimum {blk.get('value', np.nan):.8e}")
    ok &= blk["status"] in USABLE
    if blk["status"] in USABLE:
        report("(38a) re-evaluated at the argmin vs the program optimum (relative)",
               rel(hy.al_value(f0, blk["q"], blk["rx"], ups, rho), blk["value"]), 1e-5)
        ht = hy.h @ hy.analog(f0)
        sdr_terms = np.array([[np.real(ht[k] @ blk["w_sdr"][i] @ ht[k].conj()) for i in range(hy.k)]
                              for k in range(hy.k)])
        sdr_sinr = np.array([sdr_terms[k, k] / (sdr_terms[k].sum() - sdr_terms[k, k]
                                                + np.real(ht[k] @ blk["rd_sdr"] @ ht[k].conj()) + hy.noise)
                             for k in range(hy.k)])
        ext_sinr = hy.sinrs(f0, blk["w"], blk["rd"])
        report("(39): SINRs of the extracted W~, R~_d vs the SDR's W_k (relative)",
               np.max(np.abs(ext_sinr - sdr_sinr) / sdr_sinr), 1e-8)
        report("(39): |W~ W~^H + R~_d - R~_x| / |R~_x|",
               np.linalg.norm(blk["w"] @ blk["w"].conj().T + blk["rd"] - blk["rx"]) / np.linalg.norm(blk["rx"]),
               1e-14)
        report("(39): R~_d >= 0 (-min eig / tr R~_x)",
               max(0.0, -np.linalg.eigvalsh(blk["rd"])[0]) / np.real(np.trace(blk["rx"])), 1e-7)
        report("extracted SINRs >= gamma (1 - min SINR / gamma)", max(0.0, 1 - ext_sinr.min() / hy.gamma), 1e-6)
        dig = block38(hy, f0, None, None, solver, free_q=False)
        shift = -hy.sign * rho * ups
        points = {
            "Q = F Rx F^H - s rho Ups, Rx: digital block": (hy.analog(f0) @ dig["rx"] @ hy.analog(f0).conj().T + shift, dig["rx"]),
            "Q = F Rx F^H - s rho Ups, Rx: (38) argmin's": (hy.analog(f0) @ blk["rx"] @ hy.analog(f0).conj().T + shift, blk["rx"]),
            "Q = F Rx F^H (penalty s rho Ups), digital": (hy.analog(f0) @ dig["rx"] @ hy.analog(f0).conj().T, dig["rx"]),
        }
        for label, (q, rx) in points.items():
            v = hy.al_value(f0, q, rx, ups, rho)
            report(f"optimum <= (38a) at {label}", max(0.0, blk["value"] / v - 1 - 1e-7), 0.0)
            print(f"      (38a) there {v:.8e}, optimum {blk['value']:.8e}")

    for exporter, checker, it in (("SCS", solver, item), ("CLARABEL", "SCS", None)):
        print(f"checks 1-2: first step exported by {exporter} (isac's role), checked with {checker}")
        if it is None:
            it = synthetic_item(na=8, nrf=2, k=2, gamma_db=0.0, seed=3, solver=exporter)
        errors = []
        b = check_block38(Hybrid(it), checker, errors)
        check_sdr43(Hybrid(it), checker, errors)
        report(f"checks 1-2 errors ({exporter} export, {checker} check)", len(errors), 0)
        for e in errors:
            print(f"    {e}")
        if b is not None:
            q_s = exported_point(it)[0]
            print(f"  (info) |Q_{exporter} - Q_{checker}| / |Q| = "
                  f"{np.linalg.norm(q_s - b['q']) / np.linalg.norm(b['q']):.1e}")
    # a deliberately wrong export must be caught
    bad = json.loads(json.dumps(item))
    bad["first_step"]["block38_value"] *= 1.001
    bad["first_step"]["sdr_value"] *= 1.001
    errs = []
    check_block38(Hybrid(bad), solver, errs)
    check_sdr43(Hybrid(bad), solver, errs)
    report("a 1e-3 error in block38_value and sdr_value is reported (3 errors expected)", abs(len(errs) - 3), 0)

    print("Algorithm 2 (4 outer x 1 inner, 50 randomizations)")
    run = run_pdd(hy, solver, verbose=True)
    v = [row["violation"] for row in run["history"]]
    report("the run completes and the violation decreases (last / first)", v[-1] / v[0], 0.999)
    report("every SINR at the final f with the last W~, R~_d (1 - min / gamma)",
           max(0.0, 1 - 10 ** (min(row["min_sinr_db"] for row in run["history"]) / 10) / hy.gamma), 1e-6)
    t = run["times"]
    print(f"  times: block (38) {np.mean(t['38']):.2f} s, SDR (43) {np.mean(t['43']):.2f} s, "
          f"randomization {np.mean(t['randomization']):.3f} s (means); total {run['seconds']:.2f} s")
    if not ok:
        print("error: self-test failed", file=sys.stderr)
        sys.exit(1)
    print("self-test ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", help="JSON with a `hybrid` list (isac's PDD export)")
    ap.add_argument("--solver", default=CHECK_SOLVER, choices=["CLARABEL", "SCS"])
    ap.add_argument("--no-timing", action="store_true", help="skip the Algorithm 2 run")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--write-synthetic", metavar="OUT", help="write a synthetic input file")
    ap.add_argument("--antennas", type=int, default=8, help="--write-synthetic: N_a")
    ap.add_argument("--rf-chains", type=int, default=2, help="--write-synthetic: N_RF")
    ap.add_argument("--synthetic-solver", default="SCS", help="--write-synthetic: first_step's solver")
    ap.add_argument("--penalty-sign", default="consistent", choices=["consistent", "printed"])
    a = ap.parse_args()
    if a.self_test:
        return self_test(a.solver)
    if a.write_synthetic:
        item = synthetic_item(na=a.antennas, nrf=a.rf_chains, solver=a.synthetic_solver,
                              algorithm={"penalty_sign": a.penalty_sign}, placeholder_isac=True)
        with open(a.write_synthetic, "w") as fh:
            json.dump({"hybrid": [item]}, fh)
        print(f"wrote {a.write_synthetic}: {item['name']}, block38_value "
              f"{item['first_step']['block38_value']:.10e}, sdr_value {item['first_step']['sdr_value']}")
        return
    if not a.file:
        ap.error("FILE required (or --self-test / --write-synthetic OUT)")
    with open(a.file) as fh:
        d = json.load(fh)
    if "hybrid" not in d:
        print("error: `hybrid` missing: give isac's PDD export", file=sys.stderr)
        sys.exit(2)
    print(f"near-field PDD cross-check: {len(d['hybrid'])} instances (CVXPY {cp.__version__}, {a.solver})")
    errors = []
    for item in d["hybrid"]:
        try:
            hy = Hybrid(item)
        except (ValueError, KeyError) as e:
            errors.append(f"{item.get('name')}: {e}")
            continue
        errors += check_item(hy, a.solver, not a.no_timing)
    if errors:
        print(f"error: {len(errors)} check(s) failed: " + " | ".join(errors), file=sys.stderr)
        sys.exit(1)
    print("near-field PDD cross-check passed")


if __name__ == "__main__":
    main()
