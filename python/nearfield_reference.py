#!/usr/bin/env python3
"""Independent check of isac's near-field ISPAC fully digital designs (numpy + CVXPY).

Reads the export of `isac bench nearfield --cross-check FILE` (or `--export FILE`): per
instance the geometry and draws (`parameters`), the array responses isac used
(`responses`) and isac's JSON answer (`isac`, as `isac solve nearfield --json`). Paper:
shared/papers/near-field-ispac.md (Sections II-III, Appendices A-B); F = I throughout
(fully digital, Scheme 2).

For each instance:
 1. Responses: a(theta, r) (MT, Fresnel (5) or exact (2)-(3), normalised to the
    reference element) and b(theta) (AT, far field (4)) and their derivatives are
    recomputed from the geometry (carrier, spacing, N, target) and compared with the
    exported ones.
 2. FIM of eta = [theta, r, Re beta, Im beta] from the literal appendix formulas:
    downlink (76)-(78) with G~ = a b^T (its (77) repeats dG/dtheta in the second row; the
    derivation gives dG/dr there, used here), uplink (79)-(81); CRB = inverse Schur
    complement over the gain.
 3. Re-check of isac's design from its matrices alone: power, SINRs (downlink (12) from
    the precoders and R_d; uplink (17)-(18) with isac's combiners and with MMSE combining
    computed here), PSD of R_d, FIM and tr CRB from the returned covariance.
 4. Optimum: the FULL fully digital program in CVXPY (N_a x N_a or N_b x N_b), written
    here independently: downlink (38) without the analog stage (R_x = sum_k W_k + R_d,
    SINR rows (37), tr R_x <= P, min tr CRB through the Schur LMI); uplink (53) with F = I:
    tr R_u <= P_s and b^T R_u b^* <= s_max, s_max found by bisection on the directly
    computed MMSE SINR. Status (infeasible vs optimal) and optimum (relative 1e-4) must
    agree with isac's.
Exits non-zero on any mismatch.

With --bench FILE (from `isac bench nearfield --export FILE`): times the CVXPY full
downlink program on the benchmark instances (the solver CVXPY picks, and the time with
CVXPY's compile) and prints the ratios to isac's reduced and full programs.

Usage:
  .venv/bin/python python/nearfield_reference.py --self-test
  .venv/bin/python python/nearfield_reference.py out/nf_crosscheck.json
  .venv/bin/python python/nearfield_reference.py --bench out/nf_bench.json [--max-antennas 32]
"""
import argparse
import json
import sys
import time
import warnings

import numpy as np
import cvxpy as cp

SPEED_OF_LIGHT = 299_792_458.0
# optimum agreement with isac (the brief's bound; both solvers reach ~1e-7)
OPT_TOL = 1e-4
# re-check tolerance on constraints (isac's RECHECK_TOL)
RECHECK_TOL = 1e-6
# The checks solve with Clarabel (interior point, CVXPY's default tolerances 1e-8): CVXPY's
# own pick for these complex SDPs with the installed solvers is SCS (first order, ~1e-4
# accurate), too coarse for a 1e-4 comparison. --bench times both.
CHECK_SOLVER = "CLARABEL"


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def cvec(d):
    return np.asarray(d["re"], dtype=float) + 1j * np.asarray(d["im"], dtype=float)


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


# ---------------------------------------------------------------------------------------
# 1. Array responses (Section II-A-1)
# ---------------------------------------------------------------------------------------
def response(n, spacing_wavelengths, carrier_hz, theta, r, wavefront):
    """Response e(theta, r) of an n-element ULA on the y axis (element m at (0, m d)) and
    its derivatives in theta and r, normalised to 1 at the reference element (the common
    factor exp(-j k r) of (4)-(5) belongs to the gain).

    exact (2)-(3): psi_m = -k (r_m - r), r_m = |(r cos t, r sin t) - (0, m d)|;
    fresnel (5):   psi_m = k (m d sin t - m^2 d^2 cos^2 t / (2 r));
    far (4):       psi_m = k m d sin t.
    """
    lam = SPEED_OF_LIGHT / carrier_hz
    k = 2.0 * np.pi / lam
    md = np.arange(n) * spacing_wavelengths * lam
    s, c = np.sin(theta), np.cos(theta)
    if wavefront == "far":
        psi, dt, dr = k * md * s, k * md * c, np.zeros(n)
    elif wavefront == "fresnel":
        delta = md**2 * c**2 / (2.0 * r)
        psi = k * (md * s - delta)
        dt = k * (md * c + md**2 * s * c / r)  # d delta/dt = -m^2 d^2 s c / r
        dr = k * md**2 * c**2 / (2.0 * r**2)  # d delta/dr = -delta / r
    elif wavefront == "exact":
        x, y = r * c, r * s - md
        rm = np.hypot(x, y)
        psi = -k * (rm - r)
        # d r_m/dt = (x dx/dt + y dy/dt)/r_m with dx/dt = -r s, dy/dt = r c
        drm_dt = (x * (-r * s) + y * (r * c)) / rm
        # d r_m/dr = (x c + y s)/r_m
        drm_dr = (x * c + y * s) / rm
        dt, dr = -k * drm_dt, -k * (drm_dr - 1.0)
    else:
        raise ValueError(f"unknown wavefront {wavefront!r}")
    a = np.exp(1j * psi)
    return a, 1j * dt * a, 1j * dr * a


class Instance:
    """One exported instance: parameters, exported responses and isac's answer."""

    def __init__(self, item):
        self.name = item["name"]
        p = item["parameters"]
        self.p = p
        self.mode = p["mode"]
        self.na, self.nb = p["mt_antennas"], p["at_antennas"]
        self.theta, self.r = p["target_angle_rad"], p["target_distance_m"]
        self.power = p["power_w"]
        self.user_power = p["user_power_w"]
        self.noise = p["noise_w"]
        self.gamma = p["min_sinr"]
        self.slots = p["slots"]
        self.fim_variant = p.get("fim", "model")
        self.beta = complex(p["sensing_gain"][0], p["sensing_gain"][1])
        self.h = cvec(p["user_channels"])  # K x N_a
        self.k = self.h.shape[0]
        self.a = response(self.na, p["antenna_spacing"], p["carrier_hz"], self.theta, self.r,
                          p["mt_wavefront"])
        self.b = response(self.nb, p["antenna_spacing"], p["carrier_hz"], self.theta, self.r,
                          p["at_wavefront"])
        self.exported = item.get("responses")
        self.isac = item.get("isac", {})

    # ---- 2. FIM, Appendices A and B ---------------------------------------------------
    def g_matrices(self):
        """G~ = a b^T and dG/dtheta = (da/dt) b^T + a (db/dt)^T, dG/dr = (da/dr) b^T
        (+ a (db/dr)^T, zero for the far-field AT of the paper)."""
        (a, at, ar), (b, bt, br) = self.a, self.b
        g = np.outer(a, b)
        dg = [np.outer(at, b) + np.outer(a, bt), np.outer(ar, b) + np.outer(a, br)]
        return g, dg

    def fim(self, cov):
        """Literal (76)-(78) (downlink, cov = R_x) or (79)-(81) (uplink, cov = R_u)."""
        g, dg = self.g_matrices()
        s = 2.0 * self.slots / self.noise
        beta = self.beta
        j = np.zeros((4, 4))
        if self.mode == "downlink":
            for l in range(2):
                for p in range(2):
                    # (76): J_lp = 2|beta|^2 T/sigma^2 Re tr(dG_p^T R dG_l^*)
                    j[l, p] = s * abs(beta) ** 2 * np.real(np.trace(dg[p].T @ cov @ dg[l].conj()))
                # (77), row l with dG_l (the printed second row repeats dG_theta)
                row = 0 if self.fim_variant == "printed" else l
                t = np.trace(g.T @ cov @ dg[row].conj())
                j[l, 2] = j[2, l] = s * np.real(np.conj(beta) * t)
                j[l, 3] = j[3, l] = s * np.real(1j * np.conj(beta) * t)
            # (78)
            j22 = s * np.real(np.trace(g.T @ cov @ g.conj()))
        else:
            for l in range(2):
                for p in range(2):
                    # (79) with F = I: J_lp = 2|beta|^2 T/sigma^2 Re tr(dG_p R_u dG_l^H)
                    j[l, p] = s * abs(beta) ** 2 * np.real(np.trace(dg[p] @ cov @ dg[l].conj().T))
                # (80)
                t = np.trace(g @ cov @ dg[l].conj().T)
                j[l, 2] = j[2, l] = s * np.real(np.conj(beta) * t)
                j[l, 3] = j[3, l] = s * np.real(1j * np.conj(beta) * t)
            # (81)
            j22 = s * np.real(np.trace(g @ cov @ g.conj().T))
        j[2, 2] = j[3, 3] = j22
        return j

    def fim_affine(self):
        """The same FIM as linear maps R -> J_ij = Re sum(A_ij o R): tr(X^T R Y^*) =
        sum_mn R_mn (Y^* X^T)_nm (downlink), tr(X R Y^H) = sum_mn R_mn (Y^H X)_nm (uplink).
        Returns the 4x4 table of A_ij (matrices of the covariance's size)."""
        g, dg = self.g_matrices()
        s = 2.0 * self.slots / self.noise
        beta = self.beta
        if self.mode == "downlink":
            def tr_coef(x, y):  # tr(x^T R y^*) = sum(R o coef)
                return (y.conj() @ x.T).T
        else:
            def tr_coef(x, y):  # tr(x R y^H)
                return (y.conj().T @ x).T
        a = [[None] * 4 for _ in range(4)]
        for l in range(2):
            for p in range(2):
                a[l][p] = s * abs(beta) ** 2 * tr_coef(dg[p], dg[l])
            row = 0 if (self.mode == "downlink" and self.fim_variant == "printed") else l
            c = tr_coef(g, dg[row])
            a[l][2] = a[2][l] = s * np.conj(beta) * c
            a[l][3] = a[3][l] = s * 1j * np.conj(beta) * c
        a[2][2] = a[3][3] = s * tr_coef(g, g)
        z = np.zeros_like(a[2][2])
        a[2][3] = a[3][2] = z
        return a

    # ---- downlink SINR (12), uplink SINR (17)-(18) -----------------------------------
    def downlink_sinr(self, w, rd):
        out = []
        for k in range(self.k):
            hk = self.h[k]
            gains = np.abs(hk @ w) ** 2  # |h_k^T w_i|^2
            probe = np.real(hk @ rd @ hk.conj())
            out.append(gains[k] / (gains.sum() - gains[k] + probe + self.noise))
        return np.array(out)

    def uplink_interference(self, k, echo):
        """R_k of (18) with F = I and G R_u G^H = |beta|^2 (b^T R_u b^*) a a^H; `echo` is
        b^T R_u b^* (or a covariance R_u)."""
        if not np.isscalar(echo):
            b = self.b[0]
            echo = np.real(b @ echo @ b.conj())
        a = self.a[0]
        r = abs(self.beta) ** 2 * echo * np.outer(a, a.conj()) + self.noise * np.eye(self.na)
        for i in range(self.k):
            if i != k:
                r = r + self.user_power * np.outer(self.h[i], self.h[i].conj())
        return r

    def uplink_mmse_sinr(self, k, echo):
        """P_u h_k^H R_k^{-1} h_k: (17) at its maximiser w = R_k^{-1} h_k."""
        hk = self.h[k]
        return self.user_power * np.real(hk.conj() @ np.linalg.solve(self.uplink_interference(k, echo), hk))

    def uplink_sinr_with(self, k, w, ru):
        hk = self.h[k]
        r = self.uplink_interference(k, ru)
        return self.user_power * abs(np.vdot(w, hk)) ** 2 / np.real(w.conj() @ r @ w)

    def echo_limit(self):
        """s_max on b^T R_u b^*: the largest s with every MMSE SINR >= gamma (each is
        decreasing in s), by bisection on [0, P_s N_b] (b^T R_u b^* <= P_s |b|^2 = P_s N_b).
        Returns ("infeasible", k) if user k misses gamma at s = 0, ("limit", s) or
        ("none", P_s N_b) when no user limits the echo."""
        s_hi = self.power * np.real(np.vdot(self.b[0], self.b[0]))
        limit = None
        for k in range(self.k):
            if self.uplink_mmse_sinr(k, 0.0) < self.gamma:
                return "infeasible", k
            if self.uplink_mmse_sinr(k, s_hi) >= self.gamma:
                continue
            lo, hi = 0.0, s_hi
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if self.uplink_mmse_sinr(k, mid) >= self.gamma:
                    lo = mid
                else:
                    hi = mid
                if hi - lo <= 1e-14 * hi:
                    break
            limit = lo if limit is None else min(limit, lo)
        return ("none", s_hi) if limit is None else ("limit", limit)


def crb(j):
    """(J_11 - J_12 J_22^{-1} J_12^T)^{-1}, (25) / (52)."""
    schur = j[:2, :2] - j[:2, 2:] @ np.linalg.solve(j[2:, 2:], j[2:, :2])
    return np.linalg.inv(0.5 * (schur + schur.T))


def hermitian(m):
    return 0.5 * (m + m.conj().T)


# ---------------------------------------------------------------------------------------
# 4. CVXPY programs (the full ones, N_a x N_a / N_b x N_b)
# ---------------------------------------------------------------------------------------
def quadratic_coefficients(v):
    """C with v^T X v^* = sum_mn X_mn v_m v_n^* = sum(X o C): C = v v^H."""
    return np.outer(v, v.conj())


def solve(prob, solver=None):
    """Solves with CVXPY's choice of solver (or `solver`); returns (status, seconds)."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prob.solve(solver=solver)
        except cp.error.SolverError as e:
            return f"solver_error: {e}", time.perf_counter() - t0
    return prob.status, time.perf_counter() - t0


def crb_objective(inst, cov_expr, n, power):
    """min tr CRB over the covariance `power * cov_expr` (cov_expr in units of the budget):
    the 4x4 FIM equilibrated as J~ = D J D (D_i = J_ii(isotropic)^{-1/2}), then
    tr CRB = sum_i D_i^2 [J~^{-1}]_ii = min sum_i D_i^2 V_ii s.t. [[J~, E], [E^T, V]] >= 0
    (E: the first two columns of I_4; Schur complement). Returns (objective, constraints,
    factor): tr CRB = factor * objective value."""
    a = inst.fim_affine()
    iso = np.eye(n) / n
    d = np.array([1.0 / np.sqrt(power * np.real(np.sum(a[i][i] * iso))) for i in range(4)])
    entries = [[None] * 4 for _ in range(4)]
    for i in range(4):
        for j in range(i, 4):
            e = power * d[i] * d[j] * cp.real(cp.sum(cp.multiply(a[i][j], cov_expr)))
            entries[i][j] = entries[j][i] = cp.reshape(e, (1, 1), order="F")
    jt = cp.bmat(entries)
    v = cp.Variable((2, 2), symmetric=True)
    e = np.eye(4)[:, :2]
    m = cp.bmat([[jt, e], [e.T, v]])
    w = d[:2] ** 2
    factor = w.max()
    return cp.Minimize((w[0] * v[0, 0] + w[1] * v[1, 1]) / factor), [0.5 * (m + m.T) >> 0], factor


def downlink_program(inst, objective="crb"):
    """The full downlink program in units of the budget (R = P R'): R'_d, W'_k Hermitian
    PSD (N_a x N_a), R'_x = R'_d + sum W'_k (10), tr R'_x <= 1 and the SINR rows (37)
    `(1/gamma) g^T W'_k g^* - sum_{i != k} g^T W'_i g^* - g^T R'_d g^* >= t` with
    g = h_k sqrt(P / sigma^2) (in units of the noise). `objective`: "crb" (t = 1, min tr
    CRB) or "margin" (max t: the targets are feasible iff t* >= 1; bounded and O(1), unlike
    the power minimisation, whose optimum at an infeasible target is far outside the
    budget's scale and which Clarabel then fails to solve)."""
    n, snr = inst.na, inst.power / inst.noise
    rd = cp.Variable((n, n), hermitian=True)
    ws = [cp.Variable((n, n), hermitian=True) for _ in range(inst.k)]
    rx = rd + sum(ws)
    cons = [rd >> 0] + [w >> 0 for w in ws]
    margin = cp.Variable() if objective == "margin" else 1.0
    for k in range(inst.k):
        gram = snr * quadratic_coefficients(inst.h[k])
        q = [cp.real(cp.sum(cp.multiply(gram, x))) for x in ws]
        lhs = q[k] / inst.gamma - sum(q[i] for i in range(inst.k) if i != k)
        lhs = lhs - cp.real(cp.sum(cp.multiply(gram, rd)))
        cons.append(lhs >= margin)
    cons.append(cp.real(cp.trace(rx)) <= 1.0)
    if objective == "margin":
        return cp.Problem(cp.Maximize(margin), cons), rd, ws, 1.0
    obj, crb_cons, factor = crb_objective(inst, rx, n, inst.power)
    return cp.Problem(obj, cons + crb_cons), rd, ws, factor


USABLE = ("optimal", "optimal_inaccurate")  # Clarabel's AlmostSolved: within ~1e-8 of tolerance


def cvxpy_downlink(inst, solver=CHECK_SOLVER):
    """A careful user's two steps: the largest common SINR margin within the budget decides
    feasibility (t* < 1: the targets cannot be met), then the CRB program."""
    feas, _, _, _ = downlink_program(inst, "margin")
    st, t_feas = solve(feas, solver)
    out = {"feasibility_status": st, "margin": feas.value, "seconds": t_feas}
    if st not in USABLE:
        out["status"] = f"feasibility test {st}"
        return out
    if feas.value < 1.0 - 1e-6:
        out["status"] = "infeasible"
        return out
    prob, rd, ws, factor = downlink_program(inst, "crb")
    st, t = solve(prob, solver)
    out["seconds"] += t
    out["status"] = "optimal" if st in USABLE else st
    out["solver_status"] = st
    if st in USABLE:
        rx = inst.power * hermitian(rd.value + sum(w.value for w in ws))
        out["objective"] = prob.value * factor
        out["crb_trace"] = float(np.trace(crb(inst.fim(rx))))
        out["solver"] = prob.solver_stats.solver_name
    return out


def uplink_program(inst, s_max):
    """The full uplink program with F = I, in units of the budget: R'_u Hermitian PSD
    (N_b x N_b), tr R'_u <= 1, P_s b^T R'_u b^* <= s_max, min tr CRB."""
    n = inst.nb
    ru = cp.Variable((n, n), hermitian=True)
    b = inst.b[0]
    cons = [ru >> 0, cp.real(cp.trace(ru)) <= 1.0]
    if s_max is not None:
        echo = cp.real(cp.sum(cp.multiply(quadratic_coefficients(b), ru)))  # b^T R_u b^*
        cons.append(echo * (inst.power / s_max) <= 1.0)
    obj, crb_cons, factor = crb_objective(inst, ru, n, inst.power)
    return cp.Problem(obj, cons + crb_cons), ru, factor


def cvxpy_uplink(inst, solver=CHECK_SOLVER):
    kind, value = inst.echo_limit()
    out = {"echo_limit_kind": kind, "echo_limit": value}
    if kind == "infeasible":
        out["status"] = "infeasible"
        out["reason"] = f"user {value} misses gamma without probing"
        return out
    prob, ru, factor = uplink_program(inst, value if kind == "limit" else None)
    st, t = solve(prob, solver)
    out.update(status="optimal" if st in USABLE else st, solver_status=st, seconds=t)
    if st in USABLE:
        r = inst.power * hermitian(ru.value)
        out["objective"] = prob.value * factor
        out["crb_trace"] = float(np.trace(crb(inst.fim(r))))
        out["solver"] = prob.solver_stats.solver_name
    return out


# ---------------------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------------------
def check_responses(inst, errors):
    ex = inst.exported
    if ex is None:
        errors.append("no exported responses")
        return 0.0
    worst = 0.0
    for side, mine in (("mt", inst.a), ("at", inst.b)):
        for key, v in zip(("value", "d_angle", "d_distance"), mine):
            theirs = cvec(ex[side][key])
            scale = max(np.linalg.norm(v), np.linalg.norm(theirs), 1e-300)
            err = np.linalg.norm(theirs - v) / scale if scale > 1e-300 else 0.0
            if np.linalg.norm(v) == 0.0 and np.linalg.norm(theirs) == 0.0:
                err = 0.0
            worst = max(worst, err)
            if err > 1e-9:
                errors.append(f"{side} response {key}: relative difference {err:.2e}")
    return worst


def recheck_design(inst, errors):
    """Re-checks isac's returned design from its matrices; returns its tr CRB."""
    d = inst.isac
    if inst.mode == "downlink":
        w = cvec({"re": d["digital_re"], "im": d["digital_im"]})
        rd = cvec({"re": d["sensing_covariance_re"], "im": d["sensing_covariance_im"]})
        cov = w @ w.conj().T + rd
        sinr = inst.downlink_sinr(w, rd)
        eig = np.linalg.eigvalsh(hermitian(rd))
        tr = np.real(np.trace(rd))
        if tr > 0 and eig[0] < -RECHECK_TOL * tr:
            errors.append(f"R_d not PSD: eigenvalue {eig[0]:.3e} (trace {tr:.3e})")
    else:
        cov = cvec({"re": d["sensing_covariance_re"], "im": d["sensing_covariance_im"]})
        comb = cvec({"re": d["digital_re"], "im": d["digital_im"]})
        sinr = np.array([inst.uplink_mmse_sinr(k, cov) for k in range(inst.k)])
        with_isac = np.array([inst.uplink_sinr_with(k, comb[:, k], cov) for k in range(inst.k)])
        diff = np.max(np.abs(with_isac - sinr) / sinr)
        if diff > 1e-8:
            errors.append(f"isac's combiners reach SINRs {with_isac} vs MMSE {sinr}: {diff:.2e}")
        eig = np.linalg.eigvalsh(hermitian(cov))
        if eig[0] < -RECHECK_TOL * np.real(np.trace(cov)):
            errors.append(f"R_u not PSD: eigenvalue {eig[0]:.3e}")
    power = float(np.real(np.trace(cov)))
    if power > inst.power * (1 + RECHECK_TOL):
        errors.append(f"power {power:.9e} W above the budget {inst.power:.9e} W")
    if sinr.min() < inst.gamma * (1 - RECHECK_TOL):
        errors.append(f"SINR {10 * np.log10(sinr.min()):.6f} dB below the target "
                      f"{10 * np.log10(inst.gamma):.6f} dB")
    isac_sinr = 10 ** (np.asarray(d["sinr_db"], dtype=float) / 10)
    if np.max(np.abs(isac_sinr - sinr) / sinr) > 1e-7:
        errors.append(f"SINRs recomputed {sinr} vs isac's {isac_sinr}")
    if rel(power, d["power"]) > 1e-9:
        errors.append(f"power recomputed {power} vs isac's {d['power']}")
    j = inst.fim(cov)
    jisac = np.asarray(d["fim"], dtype=float)
    dj = np.sqrt(np.outer(np.diag(j), np.diag(j)))
    ferr = np.max(np.abs(j - jisac) / dj)
    if ferr > 1e-8:
        errors.append(f"FIM (appendix) vs isac's: max |dJ_ij|/sqrt(J_ii J_jj) = {ferr:.2e}")
    c = crb(j)
    t = float(np.trace(c))
    if rel(t, d["crb_trace"]) > 1e-7:
        errors.append(f"tr CRB from the returned covariance {t:.10e} vs isac's {d['crb_trace']:.10e}")
    return t, sinr, power


def check_instance(inst, solver=CHECK_SOLVER):
    errors = []
    resp = check_responses(inst, errors)
    status = inst.isac.get("status")
    line = f"{inst.name}: {inst.mode}, N_a={inst.na}, N_b={inst.nb}, K={inst.k}, " \
           f"gamma={10 * np.log10(inst.gamma):.1f} dB; responses {resp:.1e}; isac {status}"
    if inst.mode == "downlink":
        ref = cvxpy_downlink(inst, solver)
    else:
        ref = cvxpy_uplink(inst, solver)
        isac_limit = inst.isac.get("echo_limit")
        if ref["echo_limit_kind"] == "limit":
            # s_max is ill-conditioned when the echo is strong (MMSE nulls it, so SINR_k(s)
            # flattens: a 1e-10 change of the SINR moves s by 1e-5); the well-conditioned
            # test is the SINR at isac's limit: the worst user must sit exactly on gamma.
            if isac_limit is None:
                errors.append(f"echo limit: bisection {ref['echo_limit']:.12e}, isac none")
            else:
                worst = min(inst.uplink_mmse_sinr(k, isac_limit) for k in range(inst.k))
                back = abs(worst / inst.gamma - 1.0)
                line += (f"; s_max {ref['echo_limit']:.6e} (isac's: relative {rel(isac_limit, ref['echo_limit']):.1e},"
                         f" worst SINR there / gamma - 1 = {back:.1e})")
                if back > 1e-9:
                    errors.append(f"echo limit: worst SINR at isac's s_max {isac_limit:.12e} is "
                                  f"{worst:.12e}, gamma {inst.gamma:.12e}")
        elif ref["echo_limit_kind"] == "none" and isac_limit is not None \
                and isac_limit < ref["echo_limit"] * (1 - 1e-8):
            errors.append(f"echo limit: none below P_s N_b = {ref['echo_limit']:.6e}, isac {isac_limit}")
    line += f"; CVXPY {ref['status']} ({ref.get('seconds', 0.0):.2f} s)"
    if ref.get("margin") is not None and ref["status"] == "infeasible":
        line += f" (largest common SINR margin {ref['margin']:.4f} < 1)"
    if status == "infeasible" or ref["status"] == "infeasible":
        if status != ref["status"]:
            errors.append(f"status: isac {status}, CVXPY {ref['status']}")
    elif status != "optimal":
        errors.append(f"isac status {status} ({inst.isac.get('reason', '')})")
    elif ref["status"] != "optimal":
        errors.append(f"CVXPY status {ref['status']}")
    else:
        t, sinr, power = recheck_design(inst, errors)
        diff = rel(t, ref["objective"])
        diff2 = rel(inst.isac["solver_crb_trace"], ref["objective"])
        line += (f"; tr CRB isac {t:.8e} (program {inst.isac['solver_crb_trace']:.8e}), "
                 f"CVXPY {ref['objective']:.8e} (re-evaluated {ref['crb_trace']:.8e}): "
                 f"relative {diff:.1e}; min SINR {10 * np.log10(sinr.min()):.4f} dB, power {power:.6e} W")
        if max(diff, diff2) > OPT_TOL:
            errors.append(f"optimum: isac tr CRB {t:.10e} (program {inst.isac['solver_crb_trace']:.10e}) "
                          f"vs CVXPY {ref['objective']:.10e}: relative {max(diff, diff2):.2e} > {OPT_TOL}")
        if t < ref["objective"] * (1 - OPT_TOL):
            errors.append("isac's design beats the CVXPY optimum: a violated constraint")
        if inst.mode == "uplink" and ref["echo_limit_kind"] == "limit":
            # the same program at isac's s_max separates the optimum from the limit's
            # conditioning (above): reported, and held to the same tolerance
            prob, _, factor = uplink_program(inst, inst.isac["echo_limit"])
            st, _ = solve(prob, solver)
            if st in USABLE:
                d3 = rel(t, prob.value * factor)
                line += f"; CVXPY at isac's s_max {prob.value * factor:.8e}: relative {d3:.1e}"
                if d3 > OPT_TOL:
                    errors.append(f"optimum at isac's s_max: isac {t:.10e} vs CVXPY "
                                  f"{prob.value * factor:.10e}: relative {d3:.2e}")
    print(("  " if not errors else "  FAIL ") + line)
    return errors


# ---------------------------------------------------------------------------------------
# self-test: the reference's own formulas against independent computations
# ---------------------------------------------------------------------------------------
def numerical_fim(inst, x, h=1e-6):
    """FIM (73) of the sampled mean u = vec(G^T X) (downlink) or vec(G S) (uplink) by
    central differences over eta = [theta, r, Re beta, Im beta], G = beta a b^T rebuilt
    from the responses at the perturbed target."""
    p = inst.p

    def mean(eta):
        a = response(inst.na, p["antenna_spacing"], p["carrier_hz"], eta[0], eta[1], p["mt_wavefront"])[0]
        b = response(inst.nb, p["antenna_spacing"], p["carrier_hz"], eta[0], eta[1], p["at_wavefront"])[0]
        g = complex(eta[2], eta[3]) * np.outer(a, b)
        return (g.T @ x if inst.mode == "downlink" else g @ x).ravel()

    eta = np.array([inst.theta, inst.r, inst.beta.real, inst.beta.imag])
    steps = h * np.maximum(np.abs(eta), 1e-3 * abs(inst.beta))
    du = []
    for i in range(4):
        e = np.zeros(4)
        e[i] = steps[i]
        du.append((mean(eta + e) - mean(eta - e)) / (2 * steps[i]))
    return np.array([[2.0 / inst.noise * np.real(np.vdot(du[i], du[j])) for j in range(4)]
                     for i in range(4)])


def selftest_instance(mode, wavefront, na=8, nb=4, k=2, gamma_db=0.0, seed=3):
    rng = np.random.default_rng(seed)
    h = (rng.standard_normal((k, na)) + 1j * rng.standard_normal((k, na))) * 1e-5
    item = {
        "name": f"self-test-{mode}-{wavefront}",
        "parameters": {
            "mode": mode, "mt_antennas": na, "at_antennas": nb, "carrier_hz": 28e9,
            "antenna_spacing": 0.5, "mt_wavefront": wavefront, "at_wavefront": "far",
            "target_angle_rad": np.radians(40.0), "target_distance_m": 1.5,
            "power_w": 1.0, "user_power_w": 0.1, "noise_w": 1e-11,
            "min_sinr": 10 ** (gamma_db / 10), "slots": 16, "fim": "model",
            "sensing_gain": [3e-6, -2e-6],
            "user_channels": {"re": h.real.tolist(), "im": h.imag.tolist()},
        },
    }
    return Instance(item)


def self_test():
    ok = True
    rng = np.random.default_rng(7)

    def report(label, err, tol):
        nonlocal ok
        good = err <= tol
        ok &= good
        print("  %-66s %.2e (tol %.0e) %s" % (label, err, tol, "ok" if good else "FAIL"))

    print("responses: derivatives vs central differences; Fresnel -> exact far away")
    for wf in ("exact", "fresnel", "far"):
        for theta, r in ((0.7, 3.0), (-0.4, 20.0)):
            v, dt, dr = response(64, 0.5, 28e9, theta, r, wf)
            ht, hr = 1e-6, 1e-5 * r
            fdt = (response(64, 0.5, 28e9, theta + ht, r, wf)[0]
                   - response(64, 0.5, 28e9, theta - ht, r, wf)[0]) / (2 * ht)
            fdr = (response(64, 0.5, 28e9, theta, r + hr, wf)[0]
                   - response(64, 0.5, 28e9, theta, r - hr, wf)[0]) / (2 * hr)
            report(f"{wf} ({theta}, {r}): d/dtheta", np.linalg.norm(fdt - dt) / np.linalg.norm(dt), 1e-6)
            if wf != "far":
                # (rounding of psi ~ k r over the step limits the difference quotient to ~1e-7)
                report(f"{wf} ({theta}, {r}): d/dr", np.linalg.norm(fdr - dr) / np.linalg.norm(dr), 1e-6)
    e = response(64, 0.5, 28e9, 0.6, 3000.0, "exact")[0]
    f = response(64, 0.5, 28e9, 0.6, 3000.0, "fresnel")[0]
    report("Fresnel vs exact at 3 km (64 elements)", np.max(np.abs(e - f)), 1e-3)
    # exact phase from the raw distance formula of the paper (law of cosines)
    md = np.arange(64) * 0.5 * SPEED_OF_LIGHT / 28e9
    rn = np.sqrt(9.0 - 2 * 3.0 * md * np.sin(0.7) + md**2)
    raw = np.exp(-1j * 2 * np.pi * 28e9 / SPEED_OF_LIGHT * (rn - 3.0))
    report("exact response vs r_n = sqrt(r^2 - 2 r n d sin t + n^2 d^2)",
           np.max(np.abs(raw - response(64, 0.5, 28e9, 0.7, 3.0, "exact")[0])), 1e-9)

    print("FIM: literal appendix formulas vs numerical FIM of the sampled mean (73)")
    for mode in ("downlink", "uplink"):
        for wf in ("fresnel", "exact"):
            inst = selftest_instance(mode, wf)
            n = inst.na if mode == "downlink" else inst.nb
            x = rng.standard_normal((n, inst.slots)) + 1j * rng.standard_normal((n, inst.slots))
            cov = x @ x.conj().T / inst.slots
            j = inst.fim(cov)
            jn = numerical_fim(inst, x)
            d = np.sqrt(np.outer(np.diag(jn), np.diag(jn)))
            report(f"{mode}, {wf}: max |dJ_ij| / sqrt(J_ii J_jj)", np.max(np.abs(j - jn) / d), 1e-6)
            a = inst.fim_affine()
            ja = np.array([[np.real(np.sum(a[i][k] * cov)) for k in range(4)] for i in range(4)])
            report(f"{mode}, {wf}: affine form (CVXPY's) vs literal", np.max(np.abs(ja - j) / d), 1e-10)

    print("uplink echo limit: SINR(s_max) = gamma, bisection vs Sherman-Morrison")
    inst = selftest_instance("uplink", "fresnel", na=8, k=2)
    inst.beta = 3e-4 + 0j  # a strong echo, and a target just below the no-echo SINRs,
    inst.gamma = 0.99 * min(inst.uplink_mmse_sinr(k, 0.0) for k in range(inst.k))  # so the limit binds
    kind, s = inst.echo_limit()
    report(f"limit kind {kind}: min_k SINR_k(s_max) / gamma - 1",
           abs(min(inst.uplink_mmse_sinr(k, s) for k in range(inst.k)) / inst.gamma - 1) if kind == "limit" else 1.0,
           1e-9)
    # closed form of docs (isac's method) as an outside comparison
    c = abs(inst.beta) ** 2
    lim = np.inf
    for k in range(inst.k):
        ak = inst.uplink_interference(k, 0.0)
        hk, a = inst.h[k], inst.a[0]
        g = np.real(hk.conj() @ np.linalg.solve(ak, hk))
        xx = abs(a.conj() @ np.linalg.solve(ak, hk)) ** 2
        yy = np.real(a.conj() @ np.linalg.solve(ak, a))
        delta = g - inst.gamma / inst.user_power
        if xx - delta * yy > 0:
            lim = min(lim, delta / (c * (xx - delta * yy)))
    report("bisection vs Sherman-Morrison closed form", rel(s, lim), 1e-10)

    print("CVXPY programs on the self-test instances")
    for mode in ("downlink", "uplink"):
        inst = selftest_instance(mode, "fresnel", gamma_db=0.0 if mode == "downlink" else -10.0)
        inst.beta = 3e-5 + 1e-5j
        ref = cvxpy_downlink(inst) if mode == "downlink" else cvxpy_uplink(inst)
        print(f"  {mode}: {ref['status']} ({ref.get('solver_status')}), tr CRB {ref.get('objective', float('nan')):.6e}, "
              f"solver {ref.get('solver')}")
        ok &= ref["status"] == "optimal"
        if ref["status"] == "optimal":
            report(f"{mode}: program optimum vs tr CRB re-evaluated at its solution",
                   rel(ref["objective"], ref["crb_trace"]), 1e-5)
        if mode == "downlink":
            # a random feasible point can only be worse than the optimum
            x = rng.standard_normal((inst.na, inst.na)) + 1j * rng.standard_normal((inst.na, inst.na))
            r = x @ x.conj().T
            r *= inst.power / np.real(np.trace(r))
            report("downlink: optimum <= tr CRB of a random full-power covariance (ratio - 1 > 0)",
                   max(0.0, ref["objective"] / np.trace(crb(inst.fim(r))) - 1.0), 0.0)
    inst = selftest_instance("downlink", "fresnel", gamma_db=60.0)
    ref = cvxpy_downlink(inst)
    print(f"  downlink at gamma = 60 dB: {ref['status']} (largest SINR margin {ref.get('margin')})")
    ok &= ref["status"] == "infeasible"
    if not ok:
        print("self-test FAILED", file=sys.stderr)
        sys.exit(1)
    print("self-test ok")


# ---------------------------------------------------------------------------------------
# benchmark
# ---------------------------------------------------------------------------------------
def time_downlink(inst, solver):
    """Builds and solves the full downlink CRB program once; returns a result row."""
    t0 = time.perf_counter()
    prob, _, _, factor = downlink_program(inst, "crb")
    t_model = time.perf_counter() - t0
    st, t_call = solve(prob, solver)
    stats = prob.solver_stats
    return {
        "solver": stats.solver_name if stats else str(solver),
        "status": st,
        "total_s": t_model + t_call,
        "modelling_s": t_model,
        "compile_s": getattr(prob, "compilation_time", None),
        "solver_s": stats.solve_time if stats else None,
        "iterations": stats.num_iters if stats else None,
        "crb_trace": prob.value * factor if st in ("optimal", "optimal_inaccurate") else None,
    }


def bench(path, max_antennas, solver=None, clarabel_max_antennas=32):
    """Times the full downlink program in CVXPY on each benchmark instance: with CVXPY's
    own solver choice and with Clarabel (or only `solver`), time including modelling and
    CVXPY's compile; compares optima and times with isac's (reduced and full)."""
    with open(path) as fh:
        d = json.load(fh)
    if "bench" not in d:
        fail("`bench` missing: give an `isac bench nearfield --export` file")
    errors = []
    rows = []
    for item in d["bench"]:
        inst = Instance(item)
        isac = item["isac_seconds"]
        if max_antennas and inst.na > max_antennas:
            print(f"{inst.name}: skipped (N_a = {inst.na} > --max-antennas {max_antennas})")
            continue
        solvers = [solver] if solver else [None, CHECK_SOLVER]
        for sv in solvers:
            if sv == CHECK_SOLVER and solver is None and inst.na > clarabel_max_antennas:
                # measured 2026-12-01: CVXPY + Clarabel on the 64 x 64 program grows past
                # 24 GiB and is killed by the kernel after about 5 minutes
                print(f"{inst.name}: CVXPY + {CHECK_SOLVER} skipped (N_a = {inst.na} > "
                      f"--clarabel-max-antennas {clarabel_max_antennas}: out of memory at 24 GiB)")
                continue
            r = time_downlink(inst, sv)
            if sv is None and r["solver"] == CHECK_SOLVER:
                solvers = [None]  # CVXPY's choice is Clarabel itself
            label = f"{r['solver']}" + (" (CVXPY's choice)" if sv is None else "")
            fmt = lambda x: "nan" if x is None else f"{x:.2f}"
            print(f"{inst.name}: N_a = {inst.na}, N_b = {inst.nb}, K = {inst.k}: CVXPY full program, "
                  f"{label}: {r['status']}, total {r['total_s']:.2f} s (modelling {fmt(r['modelling_s'])} s, "
                  f"compile {fmt(r['compile_s'])} s, solver {fmt(r['solver_s'])} s, "
                  f"{r['iterations']} iterations)")
            row = {"name": inst.name, "na": inst.na, "k": inst.k, "cvxpy": r, "isac": isac}
            rows.append(row)
            if r["crb_trace"] is None:
                errors.append(f"{inst.name}: CVXPY ({label}) status {r['status']}")
                continue
            obj = r["crb_trace"]
            for sub, t in sorted(isac.items()):
                diff = rel(t["crb_trace"], obj)
                print(f"    isac {sub:8s} {t['seconds']:8.3f} s, tr CRB {t['crb_trace']:.8e} "
                      f"(relative to CVXPY {diff:.1e}); CVXPY / isac = {r['total_s'] / t['seconds']:.1f}")
                # SCS is first order: its optimum is compared only loosely (reported)
                tol = OPT_TOL if r["solver"] == CHECK_SOLVER else 1e-2
                if diff > tol:
                    errors.append(f"{inst.name} {sub}: isac {t['crb_trace']:.10e} vs CVXPY "
                                  f"({label}) {obj:.10e}: {diff:.2e} > {tol}")
    print("json: " + json.dumps(rows))
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", help="JSON written by `isac bench nearfield --cross-check`")
    ap.add_argument("--self-test", action="store_true", help="verify the reference itself")
    ap.add_argument("--bench", metavar="FILE", help="time CVXPY on an `isac bench nearfield --export` file")
    ap.add_argument("--max-antennas", type=int, default=0, help="--bench: skip larger instances")
    ap.add_argument("--clarabel-max-antennas", type=int, default=32,
                    help="--bench: largest N_a for the extra CVXPY + Clarabel solve (64 needs > 24 GiB)")
    ap.add_argument("--solver", default=None,
                    help=f"CVXPY solver name (checks: default {CHECK_SOLVER}; --bench: default "
                         f"CVXPY's own choice and {CHECK_SOLVER})")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if a.bench:
        return bench(a.bench, a.max_antennas, a.solver, a.clarabel_max_antennas)
    if not a.file:
        ap.error("FILE required (or --self-test / --bench FILE)")
    with open(a.file) as fh:
        d = json.load(fh)
    if "instances" not in d:
        fail("`instances` missing: give an `isac bench nearfield --cross-check` file")
    print(f"near-field cross-check: {len(d['instances'])} instances (CVXPY {cp.__version__})")
    errors = []
    for item in d["instances"]:
        for e in check_instance(Instance(item), a.solver or CHECK_SOLVER):
            errors.append(f"{item['name']}: {e}")
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print("near-field cross-check passed")


if __name__ == "__main__":
    main()
