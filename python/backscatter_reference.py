#!/usr/bin/env python3
"""Independent reference implementation of the multi-user backscatter ISAC
CRB-minimisation problem (paper: "Performance Trade-off of Integrated Sensing
and Communications for Multi-User Backscatter Systems", Sections II-IV, with
the corrected formulas used by the `isac` Rust tool).

Used to cross-check and benchmark `isac bench backscatter --export FILE.json`.

Usage
-----
    python3 backscatter_reference.py FILE.json [--check-only]
    python3 backscatter_reference.py --self-test
    python3 backscatter_reference.py --make-example OUT.json   # test input

FILE.json mode, for every instance:
  (1) recompute with numpy, from isac's tx_covariance, the FIM, CRB, sum rate
      and power, compare to isac's numbers (rel 1e-6) and check the
      constraints (power <= P0(1+1e-6), rate >= Gamma(1-1e-6)) and that the
      covariance is Hermitian PSD;
  (2) unless --check-only, solve the problem with CVXPY + Clarabel and compare
      the optimal CRB (rel diff < 1e-4) and status (infeasible must agree).
Exit code 1 if any check fails.

Model summary (SI units; angles from the +x axis)
-----------------------------------------------
theta_l / phi_l : atan2 angles transmitter->device / receiver->device.
a(x)_m = exp(j 2 pi spacing m sin x); da_r/dphi_m = j kappa_l m a_r,m with
kappa_l = 2 pi spacing cos(phi_l).
b_l = s_l sqrt(varrho eta(dT) eta(dR)), eta(d) = 10^(zeta_db/10) d^-gamma.
tau_l = (dT + dR)/c + tau0.  sigma2 = noise_W + clutter_W.
G = A^T R conj(A)  (G[q,p] = a_t,q^T R conj(a_t,p)).
FIM "model":  J[i,j] = 2N b_p b_q/(sigma2 dt) Re[(u_i^H u_j) G[q,p] rho_ij(tau_p - tau_q)]
FIM "paper":  Proposition 3.2 as printed (block diagonal per device).
CRB = tr(J^-1);  rate = (1/N) log2 det(I + N/sigma2 F),
F[i,j] = b_i b_j (a_r,i^H a_r,j) G[j,i].
"""

import argparse
import json
import math
import sys
import time
import warnings

import numpy as np
from scipy import integrate, special

C_LIGHT = 299792458.0
# Rate-constraint scaling exponent: k = (max diag of P0 Fs(I/Mt))^RATE_K_POWER.
# 1.0 (k = max diag, as first specified) leaves Clarabel at "AlmostSolved"
# (optimal_inaccurate) on several instances, notably when L > Mt so that Fs is
# rank deficient and I/k is a tiny eigenvalue next to O(1) ones; 0.0 (no
# scaling) gives wrong answers; 0.5 (geometric middle) solved every test case
# to "optimal" with the same CRB (to < 1e-6).
RATE_K_POWER = 0.5

# --------------------------------------------------------------------------
# Pulses, in normalised time v = t/dt on [0, 1).  gh(v) is the pulse value
# (g(t) = gh(t/dt), so int g^2 dt = dt), dgh(v) = d gh / dv (so g'(t) =
# dgh(t/dt)/dt).  The derivative is the one on the open support (0, 1): the
# jump at v = 0 is ignored.
# --------------------------------------------------------------------------
SINC_A = special.sici(2.0 * math.pi)[0]  # a = Si(2 pi) = int_0^pi sin^2 x / x^2 dx


def _sinc(v):
    return np.sinc(v)  # numpy sinc is sin(pi v)/(pi v)


def _dsinc(v):
    v = np.asarray(v, dtype=float)
    out = np.empty_like(v)
    small = np.abs(v) < 1e-3
    vs = v[small]
    pi = math.pi
    # series of d/dv sinc(v) = -pi^2 v/3 + pi^4 v^3/30 - pi^6 v^5/840
    out[small] = -pi**2 * vs / 3 + pi**4 * vs**3 / 30 - pi**6 * vs**5 / 840
    vl = v[~small]
    out[~small] = np.cos(pi * vl) / vl - np.sin(pi * vl) / (pi * vl**2)
    return out


PULSES = {
    "cosine": (
        lambda v: math.sqrt(2.0) * np.cos(math.pi * np.asarray(v) / 2.0),
        lambda v: -math.sqrt(2.0) * (math.pi / 2.0) * np.sin(math.pi * np.asarray(v) / 2.0),
    ),
    "sinc": (
        lambda v: math.sqrt(math.pi / SINC_A) * _sinc(np.asarray(v, dtype=float)),
        lambda v: math.sqrt(math.pi / SINC_A) * _dsinc(v),
    ),
    "triangular": (
        lambda v: math.sqrt(3.0) * (1.0 - np.asarray(v, dtype=float)),
        lambda v: -math.sqrt(3.0) * np.ones_like(np.asarray(v, dtype=float)),
    ),
}


def _quad(f, a, b):
    val, _err = integrate.quad(lambda v: float(f(v)), a, b, epsabs=1e-15, epsrel=1e-13, limit=500)
    return val


def correlations(pulse, lag, dt):
    """(r_gg, r_dg, r_gd, r_dd) at lag (seconds), integrated over the
    overlap of the supports of g(u) and g(u+lag)."""
    g, dg = PULSES[pulse]
    lam = lag / dt
    lo, hi = max(0.0, -lam), min(1.0, 1.0 - lam)
    if hi <= lo:
        return 0.0, 0.0, 0.0, 0.0
    i_gg = _quad(lambda v: g(v) * g(v + lam), lo, hi)
    i_dg = _quad(lambda v: dg(v) * g(v + lam), lo, hi)
    i_gd = _quad(lambda v: g(v) * dg(v + lam), lo, hi)
    i_dd = _quad(lambda v: dg(v) * dg(v + lam), lo, hi)
    return dt * i_gg, i_dg, i_gd, i_dd / dt


# --------------------------------------------------------------------------
# Instance geometry
# --------------------------------------------------------------------------
REQUIRED = ["transmitter", "receiver", "devices", "device_symbols", "tx_antennas",
            "rx_antennas", "symbol_duration", "symbols", "pulse", "reflection",
            "ref_path_loss_db", "path_loss_exponent", "noise_dbm", "clutter_dbm",
            "power_dbm"]


def dbm_to_w(dbm):
    return 10.0 ** ((dbm - 30.0) / 10.0)


def steer(M, spacing, ang):
    m = np.arange(M)
    return np.exp(1j * 2.0 * math.pi * spacing * m * math.sin(ang))


class Instance:
    def __init__(self, inp):
        missing = [k for k in REQUIRED if k not in inp]
        if missing:
            raise ValueError("instance input lacks keys: %s" % ", ".join(missing))
        self.inp = inp
        tx = np.asarray(inp["transmitter"], float)
        rx = np.asarray(inp["receiver"], float)
        dev = np.asarray(inp["devices"], float).reshape(-1, 2)
        L = dev.shape[0]
        s = inp["device_symbols"]
        s = np.full(L, float(s)) if np.isscalar(s) else np.asarray(s, float)
        if s.shape != (L,):
            raise ValueError("device_symbols must have one entry per device")
        self.L = L
        self.Mt = int(inp["tx_antennas"])
        self.Mr = int(inp["rx_antennas"])
        self.spacing = float(inp.get("antenna_spacing", 0.5))
        self.dt = float(inp["symbol_duration"])
        self.N = int(inp["symbols"])
        self.pulse = str(inp["pulse"]).lower()
        if self.pulse not in PULSES:
            raise ValueError("unknown pulse %r" % self.pulse)
        self.fim_mode = str(inp.get("fim", "model")).lower()
        if self.fim_mode not in ("model", "paper"):
            raise ValueError("unknown fim mode %r" % self.fim_mode)
        varrho = float(inp["reflection"])
        zeta = 10.0 ** (float(inp["ref_path_loss_db"]) / 10.0)
        gamma = float(inp["path_loss_exponent"])
        self.sigma2 = dbm_to_w(float(inp["noise_dbm"])) + dbm_to_w(float(inp["clutter_dbm"]))
        self.P0 = dbm_to_w(float(inp["power_dbm"]))
        self.Gamma = float(inp.get("min_sum_rate", 0.0) or 0.0)
        tau0 = float(inp.get("response_delay", 0.0) or 0.0)

        dT = np.hypot(*(dev - tx).T)
        dR = np.hypot(*(dev - rx).T)
        self.theta = np.arctan2(dev[:, 1] - tx[1], dev[:, 0] - tx[0])
        self.phi = np.arctan2(dev[:, 1] - rx[1], dev[:, 0] - rx[0])
        eta = lambda d: zeta * d ** (-gamma)
        self.alpha = np.sqrt(varrho * eta(dT) * eta(dR))
        self.s = s
        self.b = s * self.alpha
        self.tau = (dT + dR) / C_LIGHT + tau0
        self.kappa = 2.0 * math.pi * self.spacing * np.cos(self.phi)
        self.At = np.stack([steer(self.Mt, self.spacing, t) for t in self.theta], axis=1)  # Mt x L
        self.Ar = np.stack([steer(self.Mr, self.spacing, p) for p in self.phi], axis=1)   # Mr x L
        m = np.arange(self.Mr)
        self.dAr = 1j * self.kappa[None, :] * m[:, None] * self.Ar
        self._build_fim_coefficients()
        self._build_rate_coefficients()

    # J[i,j] = Re(c[i,j] * G[q(j), p(i)]) with G = A^T R conj(A).  Stored for
    # all (i,j) as c (2L x 2L complex); the device index of parameter i is i % L.
    def _build_fim_coefficients(self):
        L, N, dt, s2 = self.L, self.N, self.dt, self.sigma2
        n = 2 * L
        c = np.zeros((n, n), complex)
        if self.fim_mode == "model":
            corr = {}
            for p in range(L):
                for q in range(L):
                    lag = self.tau[p] - self.tau[q]
                    key = round(lag / dt, 15)
                    if key not in corr:
                        corr[key] = correlations(self.pulse, lag, dt)
                    r_gg, r_dg, r_gd, r_dd = corr[key]
                    pref = 2.0 * N * self.b[p] * self.b[q] / (s2 * dt)
                    ap, aq = self.Ar[:, p], self.Ar[:, q]
                    dp, dq = self.dAr[:, p], self.dAr[:, q]
                    c[p, q] = pref * np.vdot(ap, aq) * r_dd                 # tau_p, tau_q
                    c[p, L + q] = pref * np.vdot(ap, dq) * (-r_dg)          # tau_p, phi_q
                    c[L + p, q] = pref * np.vdot(dp, aq) * (-r_gd)          # phi_p, tau_q
                    c[L + p, L + q] = pref * np.vdot(dp, dq) * r_gg         # phi_p, phi_q
        else:  # "paper": Proposition 3.2 as printed
            r_gg, r_dg, _r_gd, r_dd = correlations(self.pulse, 0.0, dt)
            eps_g = r_gg
            F2 = r_dd / r_gg
            eps_gd = r_dg
            m = np.arange(self.Mr)
            S1, S2 = float(m.sum()), float((m**2).sum())
            for l in range(L):
                xi = 2.0 * N * self.b[l] ** 2 / (s2 * dt)
                k = self.kappa[l]
                c[l, l] = eps_g * F2 * xi * self.Mr
                c[l, L + l] = xi * eps_gd * S1 * k
                c[L + l, l] = xi * eps_gd * S1 * k
                c[L + l, L + l] = eps_g * xi * S2 * k**2
        self.fim_c = c

    # Fs[i,j] = (N/sigma2) F[i,j] = f[i,j] * G[j,i]
    def _build_rate_coefficients(self):
        bb = np.outer(self.b, self.b)
        self.rate_c = (self.N / self.sigma2) * bb * (self.Ar.conj().T @ self.Ar)

    def dev_index(self, i):
        return i % self.L

    # ---------------- numpy evaluation -------------------------------------
    def gram(self, R):
        return self.At.T @ R @ self.At.conj()

    def fim(self, R):
        G = self.gram(R)
        n = 2 * self.L
        idx = np.arange(n) % self.L
        Gqp = G[idx[None, :], idx[:, None]]  # [i,j] -> G[q(j), p(i)]
        J = np.real(self.fim_c * Gqp)
        return 0.5 * (J + J.T)

    def rate_matrix(self, R):
        G = self.gram(R)
        return self.rate_c * G.T  # G.T[i,j] = G[j,i]

    def sum_rate(self, R):
        Fs = self.rate_matrix(R)
        Fs = 0.5 * (Fs + Fs.conj().T)
        sign, logdet = np.linalg.slogdet(np.eye(self.L) + Fs)
        if sign.real <= 0:
            return float("nan")
        return float(logdet) / (self.N * math.log(2.0))


def crb_from_fim(J):
    """trace(J^-1) computed through the equilibrated matrix D J D."""
    d = np.diag(J)
    if np.any(d <= 0) or not np.all(np.isfinite(J)):
        return float("inf")
    D = 1.0 / np.sqrt(d)
    Jt = D[:, None] * J * D[None, :]
    try:
        Lc = np.linalg.cholesky(0.5 * (Jt + Jt.T))
    except np.linalg.LinAlgError:
        return float("inf")
    Linv = np.linalg.solve(Lc, np.eye(len(d)))
    diag_inv = np.sum(np.abs(Linv) ** 2, axis=0)  # diag of Jt^-1 = Linv^T Linv
    return float(np.sum(D**2 * diag_inv))


# --------------------------------------------------------------------------
# CVXPY formulation
# --------------------------------------------------------------------------
def solve_cvxpy(inst, verbose=False):
    """Minimise tr(J(R)^-1) s.t. tr(R) <= P0, rate >= Gamma, R >= 0.

    Scaling: R = P0 Rt, tr(Rt) <= 1.  J1(Rt) = FIM evaluated at Rt, so
    J(R) = P0 J1(Rt).  D_i = 1/sqrt(J1_ii(I/Mt)), Jt = D J1 D (unit diagonal
    at the uniform covariance).  tr(J^-1) = sum_i w_i (Jt^-1)_ii with
    w_i = D_i^2/P0; the objective uses w/max(w), i.e. matrix_frac(diag(sqrt(w/wmax)), Jt).
    Jt is an affine expression assembled from its upper triangle so that it is
    exactly symmetric.  (cp.matrix_frac rather than cp.tr_inv because of the
    weights; both give a single (2L+2L)x(2L+2L) PSD block.)
    Rate: log det(I + P0 Fs(Rt)) = L ln k + log det(I/k + (P0/k) Fs(Rt)),
    k = max(1, max diag of P0 Fs(I/Mt))^RATE_K_POWER (see RATE_K_POWER: the
    square root works better than the full max diag).
    Returns dict(status, crb, R, seconds, compile_seconds, solve_seconds, ...).
    """
    import cvxpy as cp

    t0 = time.perf_counter()
    L, Mt, n = inst.L, inst.Mt, 2 * inst.L
    P0 = inst.P0
    R0 = np.eye(Mt) / Mt
    J0 = inst.fim(R0)
    d0 = np.diag(J0)
    if np.any(d0 <= 0):
        return dict(status="error", crb=None, R=None, seconds=time.perf_counter() - t0,
                    compile_seconds=0.0, solve_seconds=0.0,
                    message="FIM has a zero diagonal at R = I/Mt (zero device symbol?)")
    D = 1.0 / np.sqrt(d0)
    w = D**2 / P0
    wmax = w.max()
    X = np.diag(np.sqrt(w / wmax))

    Rt = cp.Variable((Mt, Mt), hermitian=True, name="Rt")
    vr = cp.vec(cp.real(Rt), order="F")
    vi = cp.vec(cp.imag(Rt), order="F")

    # ---- FIM: upper-triangle entries, J[i,j] = Re(c_ij * sum(Rt o K_qp)),
    # K_qp[m,k] = a_t,q[m] conj(a_t,p[k]), scaled by D_i D_j.
    iu, ju = np.triu_indices(n)
    rows = []
    for i, j in zip(iu, ju):
        p, q = inst.dev_index(i), inst.dev_index(j)
        K = np.outer(inst.At[:, q], inst.At[:, p].conj())
        rows.append(inst.fim_c[i, j] * D[i] * D[j] * K.flatten(order="F"))
    Cj = np.array(rows)
    ju_vals = np.real(Cj) @ vr - np.imag(Cj) @ vi  # (n_upper,)
    # scatter matrix to both (i,j) and (j,i) positions (column-major vec)
    S = np.zeros((n * n, len(iu)))
    for k, (i, j) in enumerate(zip(iu, ju)):
        S[i + j * n, k] = 1.0
        S[j + i * n, k] = 1.0
    Jt = cp.reshape(S @ ju_vals, (n, n), order="F")

    objective = cp.Minimize(cp.matrix_frac(X, Jt))
    constraints = [Rt >> 0, cp.real(cp.trace(Rt)) <= 1.0]

    if inst.Gamma > 0:
        Fs0 = inst.rate_matrix(R0) * P0
        k = max(1.0, float(np.max(np.real(np.diag(Fs0))))) ** RATE_K_POWER
        ir, jr = np.triu_indices(L)
        rows = []
        for i, j in zip(ir, jr):
            # Fs[i,j] = f_ij G[j,i] = f_ij sum(Rt o K), K[m,l] = a_t,j[m] conj(a_t,i[l])
            K = np.outer(inst.At[:, j], inst.At[:, i].conj())
            rows.append(inst.rate_c[i, j] * (P0 / k) * K.flatten(order="F"))
        Cf = np.array(rows)
        re_vals = np.real(Cf) @ vr - np.imag(Cf) @ vi
        im_vals = np.imag(Cf) @ vr + np.real(Cf) @ vi
        Ssym = np.zeros((L * L, len(ir)))
        Santi = np.zeros((L * L, len(ir)))
        for kk, (i, j) in enumerate(zip(ir, jr)):
            Ssym[i + j * L, kk] = 1.0
            Ssym[j + i * L, kk] = 1.0
            if i != j:
                Santi[i + j * L, kk] = 1.0
                Santi[j + i * L, kk] = -1.0
        Fre = cp.reshape(Ssym @ re_vals, (L, L), order="F")
        Fim = cp.reshape(Santi @ im_vals, (L, L), order="F")
        Mlog = np.eye(L) / k + Fre + 1j * Fim
        rhs = inst.N * inst.Gamma * math.log(2.0) - L * math.log(k)
        constraints.append(cp.log_det(Mlog) >= rhs)

    prob = cp.Problem(objective, constraints)
    t_build = time.perf_counter() - t0
    try:
        with warnings.catch_warnings():  # status is reported instead
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(solver=cp.CLARABEL, verbose=verbose)
    except cp.error.SolverError as e:
        total = time.perf_counter() - t0
        return dict(status="error", crb=None, R=None, seconds=total, compile_seconds=float("nan"),
                    solve_seconds=float("nan"), message=str(e))
    total = time.perf_counter() - t0
    st = prob.status
    comp = getattr(prob, "compilation_time", None)
    stime = prob.solver_stats.solve_time if prob.solver_stats is not None else None
    res = dict(seconds=total, build_seconds=t_build,
               compile_seconds=comp if comp is not None else float("nan"),
               solve_seconds=stime if stime is not None else float("nan"),
               raw_status=st, iterations=getattr(prob.solver_stats, "num_iters", None))
    if st in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        res.update(status="infeasible", crb=None, R=None)
        return res
    if st not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or Rt.value is None:
        res.update(status="error", crb=None, R=None, message="cvxpy status %s" % st)
        return res
    R = P0 * np.asarray(Rt.value)
    R = 0.5 * (R + R.conj().T)
    res.update(status="optimal" if st == cp.OPTIMAL else "inaccurate",
               crb_solver=float(prob.value) * wmax, R=R, crb=crb_from_fim(inst.fim(R)),
               sum_rate=inst.sum_rate(R), power=float(np.real(np.trace(R))))
    return res


def max_sum_rate(inst):
    """Largest attainable sum rate (bit/s/Hz) under tr(R) <= P0 (CVXPY)."""
    import cvxpy as cp

    Rt = cp.Variable((inst.Mt, inst.Mt), hermitian=True)
    G = inst.At.T @ Rt @ inst.At.conj()
    Fs0 = inst.rate_matrix(np.eye(inst.Mt) / inst.Mt) * inst.P0
    k = max(1.0, float(np.max(np.real(np.diag(Fs0))))) ** RATE_K_POWER
    M = np.eye(inst.L) / k + cp.multiply(inst.rate_c * inst.P0 / k, G.T)
    M = 0.5 * (M + M.H)
    prob = cp.Problem(cp.Maximize(cp.log_det(M)), [Rt >> 0, cp.real(cp.trace(Rt)) <= 1.0])
    prob.solve(solver=cp.CLARABEL)
    R = inst.P0 * np.asarray(Rt.value)
    return (prob.value + inst.L * math.log(k)) / (inst.N * math.log(2.0)), 0.5 * (R + R.conj().T)


# --------------------------------------------------------------------------
# Checking an exported file
# --------------------------------------------------------------------------
def rel(a, b, floor=0.0):
    return abs(a - b) / max(abs(a), abs(b), floor, 1e-300)


def check_isac_solution(inst, isac, tol=1e-6):
    """Returns list of failure messages (empty = pass) and info dict."""
    fails, info = [], {}
    status = isac.get("status")
    if status == "infeasible":
        return fails, info
    Rd = isac.get("tx_covariance")
    if Rd is None:
        fails.append("status %s but no tx_covariance" % status)
        return fails, info
    R = np.asarray(Rd["re"], float) + 1j * np.asarray(Rd["im"], float)
    if R.shape != (inst.Mt, inst.Mt):
        fails.append("tx_covariance shape %s != (%d,%d)" % (R.shape, inst.Mt, inst.Mt))
        return fails, info
    nrm = max(np.linalg.norm(R), 1e-300)
    herm = np.linalg.norm(R - R.conj().T) / nrm
    if herm > 1e-9:
        fails.append("tx_covariance not Hermitian (rel %.2e)" % herm)
    Rh = 0.5 * (R + R.conj().T)
    lmin = float(np.min(np.linalg.eigvalsh(Rh)))
    if lmin < -1e-7 * max(np.real(np.trace(Rh)), 1e-300):
        fails.append("tx_covariance not PSD (min eig %.3e)" % lmin)
    J = inst.fim(Rh)
    crb = crb_from_fim(J)
    rate = inst.sum_rate(Rh)
    power = float(np.real(np.trace(Rh)))
    info.update(crb=crb, sum_rate=rate, power=power)
    if isac.get("fim") is not None:
        Ji = np.asarray(isac["fim"], float)
        if Ji.shape != J.shape:
            fails.append("fim shape %s != %s" % (Ji.shape, J.shape))
        else:
            d = np.sqrt(np.abs(np.diag(J)))
            d[d == 0] = 1.0
            err = np.max(np.abs(Ji - J) / np.outer(d, d))  # |dJ_ij|/sqrt(J_ii J_jj)
            info["fim_err"] = err
            if err > tol:
                fails.append("fim mismatch (max |dJ_ij|/sqrt(J_ii J_jj) = %.2e)" % err)
    if isac.get("crb") is not None:
        e = rel(isac["crb"], crb)
        if e > tol:
            fails.append("crb mismatch: isac %.9e numpy %.9e (rel %.2e)" % (isac["crb"], crb, e))
    if isac.get("sum_rate") is not None:
        e = rel(isac["sum_rate"], rate, floor=1e-3)
        if e > tol:
            fails.append("sum_rate mismatch: isac %.9e numpy %.9e (rel %.2e)" % (isac["sum_rate"], rate, e))
    if isac.get("power") is not None:
        e = rel(isac["power"], power, floor=1e-6 * inst.P0)
        if e > tol:
            fails.append("power mismatch: isac %.9e numpy %.9e (rel %.2e)" % (isac["power"], power, e))
    if power > inst.P0 * (1 + 1e-6):
        fails.append("power %.9e exceeds P0 %.9e" % (power, inst.P0))
    if inst.Gamma > 0 and not rate >= inst.Gamma * (1 - 1e-6):
        fails.append("sum rate %.9e below Gamma %.9e" % (rate, inst.Gamma))
    if not math.isfinite(crb):
        fails.append("FIM at isac's covariance is singular")
    return fails, info


def run_file(path, check_only):
    with open(path) as fh:
        data = json.load(fh)
    instances = data["instances"]
    any_fail = False
    rows = []
    isac_sum = cvx_sum = 0.0
    for k, item in enumerate(instances):
        name = item.get("name", "inst%d" % k)
        isac = item.get("isac") or {}
        fails = []
        try:
            inst = Instance(item["input"])
        except Exception as e:  # noqa: BLE001
            print("[%s] FAIL: cannot build instance: %s" % (name, e))
            any_fail = True
            continue
        if np.any(inst.b <= 0):
            fails.append("device with zero symbol/gain: FIM singular, CRB undefined")
        f1, _info = check_isac_solution(inst, isac)
        fails += ["check: " + f for f in f1]
        isac_sec = float(isac.get("seconds") or 0.0)
        isac_sum += isac_sec
        row = dict(name=name, istat=isac.get("status"), icrb=isac.get("crb"), isec=isac_sec,
                   cstat="-", ccrb=None, csec=None, diff=None)
        if not check_only:
            res = solve_cvxpy(inst)
            cvx_sum += res["seconds"]
            row.update(cstat=res["status"], ccrb=res["crb"], csec=res["seconds"],
                       ccomp=res.get("compile_seconds"), csolve=res.get("solve_seconds"))
            ist = isac.get("status")
            if ist == "infeasible" and res["status"] != "infeasible":
                # Clarabel (through CVXPY) may fail to certify infeasibility just past the
                # largest achievable rate; settle it with the max-rate problem instead.
                try:
                    cmax, _ = max_sum_rate(inst)
                except Exception as e:  # noqa: BLE001
                    cmax = None
                    fails.append("cvxpy max-rate solve failed: %s" % e)
                if cmax is not None:
                    if inst.Gamma > cmax * (1 + 1e-6):
                        row["cstat"] = "infeasible*"
                        res = dict(res, status="infeasible")
                        print("[%s] note: cvxpy status %s; max rate %.6g < threshold %.6g confirms infeasible"
                              % (name, row.get("cstat"), cmax, inst.Gamma))
                    else:
                        fails.append("isac says infeasible but the max rate %.6g >= threshold %.6g"
                                     % (cmax, inst.Gamma))
            if (ist == "infeasible") != (res["status"] == "infeasible"):
                fails.append("status disagreement: isac %s, cvxpy %s" % (ist, res["status"]))
            elif res["status"] == "error":
                fails.append("cvxpy failed: %s" % res.get("message", res.get("raw_status")))
            elif ist != "infeasible":
                if isac.get("crb") is None:
                    fails.append("isac status %s but crb is null" % ist)
                else:
                    d = rel(isac["crb"], res["crb"])
                    row["diff"] = d
                    if d >= 1e-4:
                        fails.append("optimal CRB differs: isac %.9e cvxpy %.9e (rel %.2e)"
                                     % (isac["crb"], res["crb"], d))
                if ist == "inaccurate" or res["status"] == "inaccurate":
                    print("[%s] note: inaccurate status (isac %s, cvxpy %s)" % (name, ist, res["status"]))
        row["fails"] = fails
        rows.append(row)
        any_fail |= bool(fails)
        for f in fails:
            print("[%s] FAIL: %s" % (name, f))

    fmt = lambda x, f="%.6e": "-" if x is None else (f % x)
    hdr = "%-28s %-11s %-14s %-9s | %-11s %-14s %-9s %-9s %-9s | %-9s %s" % (
        "name", "isac", "isac_crb", "isac_s", "cvxpy", "cvxpy_crb", "cvxpy_s", "compile_s", "solve_s",
        "rel_diff", "checks")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print("%-28s %-11s %-14s %-9s | %-11s %-14s %-9s %-9s %-9s | %-9s %s" % (
            r["name"][:28], r["istat"], fmt(r["icrb"]), fmt(r["isec"], "%.4f"), r["cstat"], fmt(r["ccrb"]),
            fmt(r["csec"], "%.4f"), fmt(r.get("ccomp"), "%.4f"), fmt(r.get("csolve"), "%.4f"),
            fmt(r["diff"], "%.2e"), "ok" if not r["fails"] else "FAIL(%d)" % len(r["fails"])))
    isac_total = data.get("isac_total_seconds")
    if isac_total is None:
        isac_total = isac_sum
    print("-" * len(hdr))
    print("instances: %d   failed: %d" % (len(rows), sum(1 for r in rows if r["fails"]) +
                                          (len(instances) - len(rows))))
    print("isac total seconds : %.4f%s" % (isac_total, "" if data.get("isac_total_seconds") is not None
                                              else " (sum of per-instance seconds)"))
    if not check_only:
        print("cvxpy total seconds: %.4f (construction + compilation + Clarabel)" % cvx_sum)
        if isac_total > 0:
            print("ratio cvxpy_total / isac_total: %.2f" % (cvx_sum / isac_total))
        indep = data.get("isac_independent_seconds")
        if indep:
            print("isac independent solves seconds: %.4f (each point solved on its own)" % indep)
            print("ratio cvxpy_total / isac_independent: %.2f" % (cvx_sum / indep))
    print("RESULT: %s" % ("FAIL" if any_fail else "PASS"))
    return 1 if any_fail else 0


# --------------------------------------------------------------------------
# Self test: brute-force FIM from the continuous-time mean
# --------------------------------------------------------------------------
def brute_force_fim(inst, R, nodes=48, rel_step=1e-3):
    """J = N * 2/(sigma2 dt) * sum_k int Re(dmu_k^H dmu_k) dt, where mu_k(t) is
    the noise-free received signal of one symbol x = R^{1/2} e_k (summing over k
    gives the expectation over x; all N symbols contribute equally, cross-symbol
    terms vanish in expectation).  Derivatives: 4th-order central finite
    differences of the mean in (tau, phi); the support indicators are frozen
    at the nominal delays (derivative on the open support, jump ignored).
    Time integral: Gauss-Legendre on each smooth piece between breakpoints."""
    L, Mt, Mr, dt = inst.L, inst.Mt, inst.Mr, inst.dt
    g, _ = PULSES[inst.pulse]
    w_, V = np.linalg.eigh(0.5 * (R + R.conj().T))
    Rhalf = (V * np.sqrt(np.clip(w_, 0, None))) @ V.conj().T
    bps = np.unique(np.concatenate([inst.tau, inst.tau + dt]))
    xg, wg = np.polynomial.legendre.leggauss(nodes)
    ts, ws = [], []
    for a, b in zip(bps[:-1], bps[1:]):
        ts.append(0.5 * (b - a) * xg + 0.5 * (a + b))
        ws.append(0.5 * (b - a) * wg)
    t = np.concatenate(ts)
    wt = np.concatenate(ws)
    ind = [((t - inst.tau[l]) >= 0) & ((t - inst.tau[l]) < dt) for l in range(L)]
    # nodes never sit on a breakpoint, so the strict/non-strict choice is moot
    m = np.arange(Mr)

    def mean(tau, phi, x):
        mu = np.zeros((Mr, t.size), complex)
        for l in range(L):
            ar = np.exp(1j * 2 * math.pi * inst.spacing * m * math.sin(phi[l]))
            amp = inst.b[l] * (inst.At[:, l] @ x)
            mu += np.outer(ar * amp, g((t - tau[l]) / dt) * ind[l])
        return mu

    n = 2 * L
    J = np.zeros((n, n))
    for k in range(Mt):
        x = Rhalf[:, k]
        dmu = []
        for i in range(n):
            h = rel_step * dt if i < L else rel_step
            vals = []
            for sgn in (2, 1, -1, -2):
                tau = inst.tau.copy()
                phi = inst.phi.copy()
                if i < L:
                    tau[i] += sgn * h
                else:
                    phi[i - L] += sgn * h
                vals.append(mean(tau, phi, x))
            dmu.append((-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * h))
        for i in range(n):
            for j in range(i, n):
                v = np.sum(wt * np.real(np.sum(dmu[i].conj() * dmu[j], axis=0)))
                J[i, j] += v
                J[j, i] = J[i, j]
    return J * inst.N * 2.0 / (inst.sigma2 * dt)


def brute_force_rate(inst, R):
    """Rate from (30)/(31): W~ = [s_l w_l], w_l = vec(alpha_l H_l X), X X^H = N R."""
    w_, V = np.linalg.eigh(0.5 * (R + R.conj().T))
    Rhalf = (V * np.sqrt(np.clip(w_, 0, None))) @ V.conj().T
    X = np.zeros((inst.Mt, inst.N), complex)
    X[:, :inst.Mt] = math.sqrt(inst.N) * Rhalf
    cols = []
    for l in range(inst.L):
        H = np.outer(inst.Ar[:, l], inst.At[:, l])
        cols.append(inst.b[l] * (H @ X).flatten(order="F"))
    W = np.stack(cols, axis=1)
    Mbig = np.eye(inst.L) + (W.conj().T @ W) / inst.sigma2
    return np.linalg.slogdet(Mbig)[1] / (inst.N * math.log(2.0))


def selftest_input(pulse="cosine", L=2, dt=5e-9, gamma_rate=0.0, fim="model"):
    devs = [[1.5, -0.5], [1.0, 0.3]][:L]
    return {
        "transmitter": [0.0, 0.0], "receiver": [2.0, -1.5], "devices": devs,
        "device_symbols": [0.75, 0.5][:L], "tx_antennas": 4, "rx_antennas": 4,
        "antenna_spacing": 0.5, "symbol_duration": dt, "symbols": 16, "pulse": pulse,
        "reflection": 1.0, "ref_path_loss_db": -30.0, "path_loss_exponent": 2.7,
        "noise_dbm": -60.0, "clutter_dbm": -60.0, "power_dbm": 30.0,
        "min_sum_rate": gamma_rate, "response_delay": 0.0, "fim": fim,
    }


def scenario2_input(gamma_rate=0.5, pulse="cosine", seed=0):
    rng = np.random.default_rng(seed)
    r = 0.5 * np.sqrt(rng.uniform(size=9))
    a = rng.uniform(0, 2 * math.pi, size=9)
    devs = np.stack([1.5 + r * np.cos(a), -0.5 + r * np.sin(a)], axis=1)
    return {
        "transmitter": [0.0, 0.0], "receiver": [2.0, -1.5], "devices": devs.tolist(),
        "device_symbols": [0.5] * 9, "tx_antennas": 8, "rx_antennas": 8,
        "antenna_spacing": 0.5, "symbol_duration": 5e-7, "symbols": 128, "pulse": pulse,
        "reflection": 1.0, "ref_path_loss_db": -30.0, "path_loss_exponent": 2.7,
        "noise_dbm": -60.0, "clutter_dbm": -60.0, "power_dbm": 30.0,
        "min_sum_rate": gamma_rate, "response_delay": 0.0, "fim": "model",
    }


def random_cov(rng, Mt, P0):
    Z = rng.standard_normal((Mt, Mt)) + 1j * rng.standard_normal((Mt, Mt))
    R = Z @ Z.conj().T
    return R * (P0 / np.real(np.trace(R)))


def self_test():
    ok = True
    rng = np.random.default_rng(1)

    def report(label, err, tol):
        nonlocal ok
        good = err <= tol
        ok &= good
        print("  %-62s %.2e (tol %.0e) %s" % (label, err, tol, "ok" if good else "FAIL"))

    print("pulse normalisation / constants")
    for pulse in PULSES:
        r_gg, r_dg, _, r_dd = correlations(pulse, 0.0, 1.0)
        report("%s: int g^2 = dt" % pulse, abs(r_gg - 1.0), 1e-10)
        # independent check of the derivative integrals on a fine grid (Simpson)
        g, dg = PULSES[pulse]
        v = np.linspace(0.0, 1.0, 200001)
        report("%s: int g'g vs Simpson" % pulse, abs(r_dg - integrate.simpson(dg(v) * g(v), x=v)), 1e-8)
        report("%s: int g'^2 vs Simpson" % pulse,
               abs(r_dd - integrate.simpson(dg(v) ** 2, x=v)) / r_dd, 1e-8)
        # derivative vs finite difference of g
        vv = np.linspace(0.05, 0.95, 7)
        fd = (g(vv + 1e-6) - g(vv - 1e-6)) / 2e-6
        report("%s: g' vs finite difference" % pulse, np.max(np.abs(fd - dg(vv))), 1e-7)
    report("cosine: eps_gd = -1 (analytic)", abs(correlations("cosine", 0.0, 1.0)[1] + 1.0), 1e-12)
    report("cosine: F2 dt^2 = pi^2/4 (analytic)", abs(correlations("cosine", 0.0, 1.0)[3] - math.pi**2 / 4), 1e-12)

    print("FIM: numpy (model) vs brute-force continuous-time finite differences")
    for pulse in PULSES:
        inst = Instance(selftest_input(pulse=pulse, L=2))
        for label, R in (("random R", random_cov(rng, inst.Mt, inst.P0)),
                         ("rank-1 R", None)):
            if R is None:
                x = rng.standard_normal(inst.Mt) + 1j * rng.standard_normal(inst.Mt)
                R = np.outer(x, x.conj())
                R *= inst.P0 / np.real(np.trace(R))
            J = inst.fim(R)
            Jb = brute_force_fim(inst, R)
            d = np.sqrt(np.diag(Jb))
            err = np.max(np.abs(J - Jb) / np.outer(d, d))
            report("%s, L=2 (lag/dt=%.3f), %s: max|dJ|/sqrt(JiiJjj)" % (
                pulse, (inst.tau[1] - inst.tau[0]) / inst.dt, label), err, 1e-7)
            report("%s, %s: CRB rel diff" % (pulse, label), rel(crb_from_fim(J), crb_from_fim(Jb)), 1e-6)
    # larger lag (no overlap between some pulses) and a single device
    inst = Instance(selftest_input(pulse="sinc", L=2, dt=1e-9))
    R = random_cov(rng, inst.Mt, inst.P0)
    Jb = brute_force_fim(inst, R)
    d = np.sqrt(np.diag(Jb))
    report("sinc, L=2, lag/dt=%.2f (no overlap)" % ((inst.tau[1] - inst.tau[0]) / inst.dt),
           np.max(np.abs(inst.fim(R) - Jb) / np.outer(d, d)), 1e-7)

    print("FIM 'paper' vs 'model' (L=1: tau-tau and phi-phi entries must coincide)")
    im = Instance(selftest_input(L=1, fim="model"))
    ip = Instance(selftest_input(L=1, fim="paper"))
    R = random_cov(rng, im.Mt, im.P0)
    Jm, Jp = im.fim(R), ip.fim(R)
    report("J[tau,tau]", rel(Jm[0, 0], Jp[0, 0]), 1e-10)
    report("J[phi,phi]", rel(Jm[1, 1], Jp[1, 1]), 1e-10)
    print("    (model J[tau,phi] = %.3e, paper J[tau,phi] = %.3e: differ by design)" % (Jm[0, 1], Jp[0, 1]))

    print("sum rate: Gram form (31b) vs W~ construction (30)")
    for L in (1, 2):
        inst = Instance(selftest_input(L=L))
        R = random_cov(rng, inst.Mt, inst.P0)
        report("L=%d rate rel diff" % L, rel(inst.sum_rate(R), brute_force_rate(inst, R)), 1e-9)

    print("CVXPY + Clarabel solve of the self-test instance (L=2, Mt=Mr=4)")
    base = Instance(selftest_input(L=2, gamma_rate=0.0))
    # maximal rate ~ at which Gamma the constraint binds: use a fraction of the
    # rate attained by the unconstrained optimum's best alternative
    r_unc = solve_cvxpy(base)
    print("  Gamma=0:    status %s CRB %.6e rate %.4f (%.3fs)" % (
        r_unc["status"], r_unc["crb"], r_unc["sum_rate"], r_unc["seconds"]))
    ok &= r_unc["status"] == "optimal"
    report("cvxpy objective value vs numpy CRB at solution", rel(r_unc["crb_solver"], r_unc["crb"]), 1e-6)
    rmax, Rmax = max_sum_rate(base)
    print("  max attainable sum rate %.6f" % rmax)
    gam = r_unc["sum_rate"] + 0.5 * (rmax - r_unc["sum_rate"])
    inst = Instance(selftest_input(L=2, gamma_rate=gam))
    res = solve_cvxpy(inst)
    print("  Gamma=%.4f: status %s CRB %.6e rate %.6f power %.6f (%.3fs)" % (
        gam, res["status"], res["crb"] or float("nan"), res.get("sum_rate", float("nan")),
        res.get("power", float("nan")), res["seconds"]))
    if res["status"] not in ("optimal", "inaccurate"):
        ok = False
        print("  FAIL: expected optimal")
    else:
        report("cvxpy objective value vs numpy CRB at solution", rel(res["crb_solver"], res["crb"]), 1e-6)
        report("rate constraint (Gamma - rate)/Gamma, <= 1e-6", max(0.0, (gam - res["sum_rate"]) / gam), 1e-6)
        report("power constraint (power - P0)/P0, <= 1e-6", max(0.0, (res["power"] - inst.P0) / inst.P0), 1e-6)
        ok &= res["crb"] >= r_unc["crb"] * (1 - 1e-6)
        # convexity-based optimality probe: no feasible point may beat it
        best, nfeas = math.inf, 0
        # concavity of log det: (1-t) R* + t Q is rate-feasible whenever Q is
        for _ in range(200):
            Rr = random_cov(rng, inst.Mt, inst.P0)
            u = rng.choice([0.0, 0.01, 0.1, 0.3, 1.0])
            Q = (1 - u) * Rmax + u * Rr
            if inst.sum_rate(Q) < gam:
                continue
            for t in (1.0, 0.3, 0.1, 0.01, 0.001):
                Rc = (1 - t) * res["R"] + t * Q
                Rc *= inst.P0 / np.real(np.trace(Rc))
                if inst.sum_rate(Rc) >= gam:
                    nfeas += 1
                    best = min(best, crb_from_fim(inst.fim(Rc)))
        print("  probe: %d random feasible points (convex combos with the optimum)" % nfeas)
        ok &= nfeas > 0
        report("probe: (CVXPY CRB - best random feasible CRB)/CRB, <= 1e-6",
               max(0.0, (res["crb"] - best) / res["crb"]), 1e-6)
        Jb = brute_force_fim(inst, res["R"])
        d = np.sqrt(np.diag(Jb))
        report("brute-force FIM at CVXPY optimum", np.max(np.abs(inst.fim(res["R"]) - Jb) / np.outer(d, d)), 1e-7)
    inst = Instance(selftest_input(L=2, gamma_rate=50.0))
    res = solve_cvxpy(inst)
    print("  Gamma=50 (unattainable): status %s" % res["status"])
    ok &= res["status"] == "infeasible"
    print("SELF-TEST: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


def make_example(path):
    """Writes a test input file in the export format, with the 'isac' part
    filled from this script's own CVXPY solutions."""
    items = []
    cases = [("selftest-L2-G0", selftest_input(L=2)),
             ("selftest-L2-sinc-G0.3", selftest_input(L=2, pulse="sinc", gamma_rate=0.3)),
             ("selftest-L1-paper", selftest_input(L=1, fim="paper", gamma_rate=0.1)),
             ("selftest-L2-tri-G1.4867", selftest_input(L=2, pulse="triangular", gamma_rate=1.4867)),
             ("selftest-infeasible", selftest_input(L=2, gamma_rate=50.0)),
             ("scenario2-G0.5", scenario2_input(0.5))]
    total = 0.0
    for name, inp in cases:
        inst = Instance(inp)
        res = solve_cvxpy(inst)
        total += res["seconds"]
        isac = dict(status=res["status"], crb=res["crb"], sum_rate=res.get("sum_rate"),
                    power=res.get("power"), seconds=res["seconds"], fim=None, tx_covariance=None)
        if res["R"] is not None:
            isac["fim"] = inst.fim(res["R"]).tolist()
            isac["tx_covariance"] = {"re": res["R"].real.tolist(), "im": res["R"].imag.tolist()}
        items.append({"name": name, "input": inp, "isac": isac})
        print("%s: %s crb=%s (%.3fs)" % (name, res["status"], res["crb"], res["seconds"]))
    with open(path, "w") as fh:
        json.dump({"instances": items, "isac_total_seconds": total}, fh, indent=1)
    print("wrote %s" % path)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", help="JSON written by `isac bench backscatter --export`")
    ap.add_argument("--check-only", action="store_true", help="only verify isac's solutions, no CVXPY solve")
    ap.add_argument("--self-test", action="store_true", help="verify the reference itself")
    ap.add_argument("--make-example", metavar="OUT.json", help="write a test file in the export format")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    if a.make_example:
        return make_example(a.make_example)
    if not a.file:
        ap.error("FILE.json required (or --self-test / --make-example)")
    return run_file(a.file, a.check_only)


if __name__ == "__main__":
    sys.exit(main())
