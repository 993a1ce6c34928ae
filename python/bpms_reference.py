#!/usr/bin/env python3
"""Independent check of isac's joint bistatic positioning / monostatic sensing designs (numpy + CVXPY).

Paper: shared/papers/bistatic-monostatic.md (Sections II-III, Remarks 1-2, Section VII-A).
Written from the signal model (1)-(5) alone, without the printed FIM (6) and without the
Rust code.

Conventions (fixed):
  * Steering vector at both ends a(t) = exp(-j pi n sin t), n = 0..N-1 (N_B at the BS, N_U
    at the UE); da/dt = -j pi n cos(t) a(t). BS array along the x axis.
  * AOD theta_k = atan2(dy, dx) - pi/2, (dx, dy) = p_k - p_B (p_0 = p_U).
  * UE's AOA psi_k = atan2(dy, dx) - dphi, (dx, dy) from the UE towards the BS (k = 0) or
    towards target k (k >= 1); dphi is the UE orientation.
  * BP delays tbar_0 = |p_U - p_B|/c + dt, tbar_k = (|p_k - p_B| + |p_U - p_k|)/c + dt
    (dt: clock bias); MS delays tau_0 = 2|p_U - p_B|/c, tau_k = 2|p_k - p_B|/c;
    c = 299792458 m/s.
  * Subcarriers m = 0..M-1, Df = bandwidth/M. BP (3): Hbar_m = sum_k bbar_k
    exp(-2j pi m Df tbar_k) a_U(psi_k) a_B(theta_k)^H (N_U x N_B); MS (5): H_m = sum_k b_k
    exp(-2j pi m Df tau_k) a_B(theta_k) a_B(theta_k)^H.
  * x_{l,p,m} = f_l s_{p,m}, |s| = 1, l = 1..L slots, p = 1..P symbols per slot; W = I at the
    UE; noise CN(0, sigma^2 I), sigma^2 = F N0 Df (F = 10^(NF_dB/10),
    N0 = 10^((N0_dBm_Hz - 30)/10) W/Hz); V = F F^H = sum_l f_l f_l^H; tr V <= P_B/M (P_B in W).
  * Gains (Section VII-A): bbar_0 = e^{j zeta} lambda/(4 pi |p_B - p_U|), bbar_k = rcs_k
    e^{j zeta} lambda/((4 pi)^{3/2} |p_U - p_k| |p_k - p_B|), b_k = rcs_k e^{j zeta}
    lambda/((4 pi)^{3/2} |p_k - p_B|^2), rcs_0 = 10 (UE), rcs_k = 100, linear as printed.
    Used by the self-test only: the check mode takes the gains from the input.
  * Orders. BP channel xibar = [theta (K+1), psi (K+1), tbar (K+1), Re bbar, Im bbar]
    (5K+5); BP position etabar = [p_U, dphi, p_1..p_K, dt, Re bbar, Im bbar] (4K+6); MS
    channel xi = [theta, tau, Re b, Im b] (4K+4); MS position eta = [p_U, p_1..p_K, Re b,
    Im b] (4K+4). I_pos = J^T I_chan J, J = d xi/d eta (analytic here, checked against
    central differences of the geometry map). CRB_BP = tr [I_pos_bar^-1]_{p_U},
    CRB_MS = tr [I_pos^-1]_{p_U, p_1..p_K}.
  * Fusion (Remark 1): fused vector [p_1..p_K, p_U, dphi, dt, Re bbar, Im bbar, Re b, Im b],
    of length 6K+8 (the paper prints 6K+6; its own list has 2K+2 + 2 + 4K+4 entries); fused
    FIM = both position FIMs embedded and summed (shared: the K+1 positions). Fused CRB_BP =
    trace of the p_U block of the inverse, fused CRB_MS = trace over all K+1 positions.

Derivation of the channel FIM (Slepian-Bangs, real parameters, mean only):
  mu_{l,p,m} = H_m f_l s_{p,m};  I_ij = (2/sigma^2) sum_{l,p,m} Re(dmu^H/dxi_i dmu/dxi_j)
     = (2/sigma^2) sum_m sum_p |s_{p,m}|^2 sum_l Re(f_l^H dH_m^H/dxi_i dH_m/dxi_j f_l)
     = (2 P/sigma^2) sum_m Re tr(dH_m/dxi_j V dH_m^H/dxi_i),  V = sum_l f_l f_l^H = F F^H,
  because |s| = 1 makes sum_p |s_{p,m}|^2 = P. The paper's (6) prints 2N/sigma^2 with N
  undefined: N = P here. Every dH_m/dxi_i is a sum of terms c(m) u v^H, so I_ij = Re tr(A_ij V)
  with A_ij = (2P/sigma^2) sum_m dH_i^H dH_j, which is what CVXPY gets (linear in V).
  (6) sums m = 1..M while (3) leaves m open; m = 0..M-1 is used here. Shifting m by one
  multiplies each path by exp(-2j pi Df tau_k): m = 1..M at gains g_k is m = 0..M-1 at
  gains g_k exp(-2j pi Df tau_k). The position CRBs are invariant under that re-phasing of
  the nuisance gains (the self-test verifies it to 1e-10), but at the SAME gains the two
  ranges give different FIMs and different CRBs (the paths' cross terms depend on the
  relative gain phases; up to ~20 % on random instances): the range matters for matching isac.
  Other printed slips: (16b) bounds tr(U diag(rho) U^H) by P/M (P: symbols) for P_B/M, and
  the text under (11) calls the total power P; Remark 2 holds for the full program (the FIM
  depends on V only through Q_1^H V Q_1, Q_1 a basis of range U; verified numerically).

The program (15), any alpha: per bound, with the FIM equilibrated as I~ = D I D,
  sum_{i in S} w_i [I^-1]_ii = min sum w_i D_i^2 T_ii  s.t.  [[I~(V), E_S], [E_S^T, T]] >= 0
(Schur complement; the nuisance parameters are eliminated exactly), S = p_U for BP, all
K+1 positions for MS, both for the fused FIM (weights alpha + (1 - alpha) on p_U,
1 - alpha on the targets); a zero weight drops its bound. V = (P_B/M) V', tr V' <= 1.
"full": V' = Q W Q^H with Q unitary (first columns spanning range U) and W the full Hermitian
PSD variable: the same program as over V' itself, but Clarabel 0.11.1 fails
(NumericalError at iteration 1) on the literal V' in every case tried with N_B > 2K+2 (none
with N_B <= 2K+2), where N_B^2 - (2K+2)^2 directions of V' do not enter the FIM; in Q
coordinates their coefficients are exact zeros and it converges (~1e-7). CVXPY 1.9.3's own
pick for these complex SDPs is SCS: 13-75x slower than Clarabel on the paper's scenario and
off by up to 82 % (CPA front) at its default accuracy (reported by --bench only).

What is checked:
  --self-test: (a) channel FIM from the analytic derivatives (explicit sum over m and the
     rank-one form CVXPY uses) vs the FIM of the sampled model mu = vec_{l,p,m}(H_m f_l s_pm)
     by 4th-order central differences; (b) J^T I J vs differences of mu through the geometry
     directly; (c) analytic vs numerical Jacobian; (d) MS likewise; (e) fused CRBs <= unfused;
     CRB invariance under m = 1..M with re-phased gains; Remark 2 (V = U Lam U^H reaches the
     full-V optimum, CPA does not beat it); then an end-to-end run of the check mode on the
     paper's scenario (Section VII-A, alpha = 0.5, three schemes) with this script's own
     CVXPY answers as "isac", and one corrupted answer that must be rejected.
  FILE: per instance (i) both position FIMs at isac's V (relative Frobenius 1e-8, and
     entrywise |dI_ij|/sqrt(I_ii I_jj) 1e-7); (ii) V Hermitian, PSD (min eigenvalue >=
     -1e-9 max), tr V <= P_B/M (1 + 1e-6), for cpa-wcrb V = U diag(rho) U^H with rho >= 0;
     noise_w vs F N0 Df when noise_figure_db and noise_psd_dbm_hz are given; (iii) CRBs and
     objective from V vs isac's (1e-6); (iv) the program (15) with CVXPY + Clarabel over the
     full Hermitian V (cpa-wcrb: V = U diag(rho) U^H, rho >= 0, U = [a_B(theta_0..K),
     da_B(theta_0..K)]; fusion: the fused CRBs in the objective), optimum vs isac's objective
     and vs isac's objective re-evaluated from V (relative 1e-4).
  --bench FILE: times whole tradeoff fronts in CVXPY (Clarabel and CVXPY's own pick; with
     --plain also the literal V' program), FIM tables, modelling and compile included,
     against isac's time; Clarabel's optima vs isac_objectives (1e-4).

Input. FILE: {"instances": [{"name", "parameters", "isac"}]}; parameters: bs_antennas,
ue_antennas, subcarriers, bandwidth_hz, symbols, slots, noise_w, power_w, carrier_hz (only
used for the self-test's gains), bs_position, ue_position, targets [[x, y], ...],
clock_bias_s, orientation_rad, bp_gains, ms_gains ([[re, im]], K+1 each, index 0 = UE),
alpha, scheme ("fdb-wcrb" | "cpa-wcrb" | "fusion"; other schemes are skipped), optional
noise_figure_db, noise_psd_dbm_hz. isac: status ("optimal"), crb_bp, crb_ms (for "fusion"
the fused ones, unless crb_bp_fused / crb_ms_fused are also given: then crb_bp / crb_ms are
the unfused ones), objective, covariance_re, covariance_im (N_B x N_B), fim_bp_position,
fim_ms_position (unfused position FIMs, orders above); null for an infinite CRB.
--bench FILE: {"bench": [{"name", "parameters" (alpha ignored), "alphas", "isac_seconds",
"isac_objectives"}]}.

Usage:
  .venv/bin/python python/bpms_reference.py --self-test
  .venv/bin/python python/bpms_reference.py out/bpms_crosscheck.json
  .venv/bin/python python/bpms_reference.py --bench out/bpms_bench.json
"""
import argparse
import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np
import cvxpy as cp

SPEED_OF_LIGHT = 299_792_458.0
FIM_TOL = 1e-8       # position FIMs at isac's V, relative Frobenius
# ... and entrywise, |dI_ij| / sqrt(I_ii I_jj): the Frobenius norm is dominated by the clock
# bias entry (~1e23 s^-2 against ~1e5 m^-2 for positions) and would hide a wrong position entry
FIM_ENTRY_TOL = 1e-7
CRB_TOL = 1e-6       # CRBs / objective re-evaluated from isac's V
OPT_TOL = 1e-4       # optimum vs CVXPY + Clarabel
RECHECK_TOL = 1e-6   # power budget
PSD_TOL = 1e-9       # min eigenvalue >= -PSD_TOL * max eigenvalue
CHECK_SOLVER = "CLARABEL"
USABLE = ("optimal", "optimal_inaccurate")
SCHEMES = ("fdb-wcrb", "cpa-wcrb", "fusion")


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def steer(n, t):
    """a(t) = exp(-j pi n sin t), n = 0..N-1, and da/dt = -j pi n cos(t) a(t)."""
    idx = np.arange(n)
    a = np.exp(-1j * np.pi * idx * np.sin(t))
    return a, -1j * np.pi * idx * np.cos(t) * a


def fim_error(i_ref, i_test):
    """max_ij |dI_ij| / sqrt(I_ii I_jj), unit-free (a parameter without information, I_ii = 0
    in both, is compared absolutely)."""
    d = np.maximum(np.abs(np.diag(i_ref)), np.abs(np.diag(i_test)))
    d[d == 0] = 1.0
    return float(np.max(np.abs(i_ref - i_test) / np.sqrt(np.outer(d, d))))


# ---------------------------------------------------------------------------------------
# geometry: position domain -> channel domain, analytic Jacobians
# ---------------------------------------------------------------------------------------
def bearing(d):
    """atan2(dy, dx) and its gradient with respect to (dx, dy)."""
    r2 = d[0] ** 2 + d[1] ** 2
    return np.arctan2(d[1], d[0]), np.array([-d[1], d[0]]) / r2


def bp_split(eta, k):
    """etabar = [p_U, dphi, p_1..p_K, dt, Re bbar, Im bbar]."""
    pu, dphi = eta[0:2], eta[2]
    pts = eta[3:3 + 2 * k].reshape(k, 2)
    dt = eta[3 + 2 * k]
    g = eta[4 + 2 * k:5 + 3 * k] + 1j * eta[5 + 3 * k:6 + 4 * k]
    return pu, dphi, pts, dt, g


def ms_split(eta, k):
    """eta = [p_U, p_1..p_K, Re b, Im b]."""
    pu = eta[0:2]
    pts = eta[2:2 + 2 * k].reshape(k, 2)
    g = eta[2 + 2 * k:3 + 3 * k] + 1j * eta[3 + 3 * k:4 + 4 * k]
    return pu, pts, g


def bp_map(eta, pb, k):
    """etabar -> xibar = [theta, psi, tbar, Re bbar, Im bbar]."""
    pu, dphi, pts, dt, g = bp_split(eta, k)
    c = SPEED_OF_LIGHT
    theta = [bearing(pu - pb)[0] - np.pi / 2] + [bearing(p - pb)[0] - np.pi / 2 for p in pts]
    psi = [bearing(pb - pu)[0] - dphi] + [bearing(p - pu)[0] - dphi for p in pts]
    tau = [np.linalg.norm(pu - pb) / c + dt] + \
          [(np.linalg.norm(p - pb) + np.linalg.norm(pu - p)) / c + dt for p in pts]
    return np.concatenate([theta, psi, tau, g.real, g.imag])


def ms_map(eta, pb, k):
    """eta -> xi = [theta, tau, Re b, Im b]."""
    pu, pts, g = ms_split(eta, k)
    allp = [pu] + list(pts)
    theta = [bearing(p - pb)[0] - np.pi / 2 for p in allp]
    tau = [2.0 * np.linalg.norm(p - pb) / SPEED_OF_LIGHT for p in allp]
    return np.concatenate([theta, tau, g.real, g.imag])


def bp_jacobian(eta, pb, k):
    """d xibar / d etabar, (5K+5) x (4K+6), analytic."""
    pu, dphi, pts, dt, g = bp_split(eta, k)
    c = SPEED_OF_LIGHT
    n = k + 1
    j = np.zeros((5 * n, 4 * k + 6))
    col_p = lambda i: slice(3 + 2 * (i - 1), 5 + 2 * (i - 1))  # target i >= 1
    col_dt = 3 + 2 * k
    # theta_0(p_U), theta_i(p_i)
    j[0, 0:2] = bearing(pu - pb)[1]
    for i, p in enumerate(pts, 1):
        j[i, col_p(i)] = bearing(p - pb)[1]
    # psi_0 = bearing(p_B - p_U) - dphi; psi_i = bearing(p_i - p_U) - dphi
    j[n, 0:2] = -bearing(pb - pu)[1]
    j[n, 2] = -1.0
    for i, p in enumerate(pts, 1):
        gr = bearing(p - pu)[1]
        j[n + i, col_p(i)] = gr
        j[n + i, 0:2] = -gr
        j[n + i, 2] = -1.0
    # delays
    u = pu - pb
    j[2 * n, 0:2] = u / np.linalg.norm(u) / c
    j[2 * n, col_dt] = 1.0
    for i, p in enumerate(pts, 1):
        d1, d2 = p - pb, pu - p
        j[2 * n + i, col_p(i)] = (d1 / np.linalg.norm(d1) - d2 / np.linalg.norm(d2)) / c
        j[2 * n + i, 0:2] = d2 / np.linalg.norm(d2) / c
        j[2 * n + i, col_dt] = 1.0
    # gains
    j[3 * n:5 * n, 4 + 2 * k:6 + 4 * k] = np.eye(2 * n)
    return j


def ms_jacobian(eta, pb, k):
    """d xi / d eta, (4K+4) x (4K+4), analytic."""
    pu, pts, g = ms_split(eta, k)
    n = k + 1
    j = np.zeros((4 * n, 4 * n))
    for i, p in enumerate([pu] + list(pts)):
        d = p - pb
        j[i, 2 * i:2 * i + 2] = bearing(d)[1]
        j[n + i, 2 * i:2 * i + 2] = 2.0 * d / np.linalg.norm(d) / SPEED_OF_LIGHT
    j[2 * n:, 2 * n:] = np.eye(2 * n)
    return j


def fd_jacobian(fun, x, steps):
    """4th-order central differences: (-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h."""
    cols = []
    for i, h in enumerate(steps):
        e = np.zeros(len(x))
        e[i] = h
        # differences first: components that do not move cancel exactly
        d1 = fun(x + e) - fun(x - e)
        d2 = fun(x + 2 * e) - fun(x - 2 * e)
        cols.append((8 * d1 - d2) / (12 * h))
    return np.array(cols).T


def delay_step(sy):
    """2e-4 / (largest delay rate 2 pi m Df); 1 s when the mean does not depend on the
    delays (M = 1 with m = 0: exactly constant, so any step is exact)."""
    rate = 2 * np.pi * sy.df * np.max(np.abs(sy.m_idx))
    return 2e-4 / rate if rate > 0 else 1.0


# ---------------------------------------------------------------------------------------
# channels, derivative terms, FIMs
# ---------------------------------------------------------------------------------------
def paths(kind, xi, k):
    n = k + 1
    if kind == "bp":
        return xi[0:n], xi[n:2 * n], xi[2 * n:3 * n], xi[3 * n:4 * n] + 1j * xi[4 * n:5 * n]
    return xi[0:n], None, xi[n:2 * n], xi[2 * n:3 * n] + 1j * xi[3 * n:4 * n]


def channel(kind, xi, k, nb, nu, m_idx, df):
    """H_m for all m: (M, N_rx, N_B); BP (3) or MS (5)."""
    theta, psi, tau, g = paths(kind, xi, k)
    nr = nu if kind == "bp" else nb
    h = np.zeros((len(m_idx), nr, nb), complex)
    for i in range(k + 1):
        ab = steer(nb, theta[i])[0]
        ar = steer(nu, psi[i])[0] if kind == "bp" else ab
        e = g[i] * np.exp(-2j * np.pi * m_idx * df * tau[i])
        h += e[:, None, None] * np.outer(ar, ab.conj())[None]
    return h


def derivative_terms(kind, xi, k, nb, nu, m_idx, df):
    """dH_m/dxi_i = sum_t c_t(m) u_t v_t^H: per parameter a list of (c (M,), u, v)."""
    theta, psi, tau, g = paths(kind, xi, k)
    n = k + 1
    e = np.exp(-2j * np.pi * np.outer(tau, m_idx) * df)  # (K+1, M)
    ab = [steer(nb, t) for t in theta]
    ar = [steer(nu, t) for t in psi] if kind == "bp" else ab
    terms = []
    for i in range(n):  # theta
        if kind == "bp":
            terms.append([(g[i] * e[i], ar[i][0], ab[i][1])])
        else:
            terms.append([(g[i] * e[i], ab[i][1], ab[i][0]), (g[i] * e[i], ab[i][0], ab[i][1])])
    if kind == "bp":
        for i in range(n):  # psi
            terms.append([(g[i] * e[i], ar[i][1], ab[i][0])])
    for i in range(n):  # delay
        terms.append([(g[i] * (-2j * np.pi * df * m_idx) * e[i], ar[i][0], ab[i][0])])
    for i in range(n):  # Re gain
        terms.append([(e[i], ar[i][0], ab[i][0])])
    for i in range(n):  # Im gain
        terms.append([(1j * e[i], ar[i][0], ab[i][0])])
    return terms


def dense_derivatives(terms):
    """dH_m/dxi_i as dense arrays (n_par, M, N_rx, N_B)."""
    out = []
    for ts in terms:
        out.append(sum(c[:, None, None] * np.outer(u, v.conj())[None] for c, u, v in ts))
    return np.array(out)


def fim_explicit(terms, v, p, sigma2):
    """I_ij = (2P/sigma^2) sum_m Re tr(dH_m/dxi_j V dH_m^H/dxi_i), explicit sum over m."""
    dh = dense_derivatives(terms)
    n = len(terms)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            s = 0.0
            for m in range(dh.shape[1]):
                s += np.real(np.trace(dh[j, m] @ v @ dh[i, m].conj().T))
            out[i, j] = s
    return 2.0 * p / sigma2 * out


def fim_tensor(terms, p, sigma2):
    """A_ij (n, n, N_B, N_B) with I_ij = Re tr(A_ij V): A_ij = (2P/sigma^2) sum_m dH_i^H dH_j
    = (2P/sigma^2) sum_{t,t'} (sum_m c_t^* c_t') (u_t^H u_t') v_t v_t'^H."""
    n = len(terms)
    nb = terms[0][0][2].shape[0]
    a = np.zeros((n, n, nb, nb), complex)
    for i in range(n):
        for j in range(i, n):
            acc = np.zeros((nb, nb), complex)
            for ci, ui, vi in terms[i]:
                for cj, uj, vj in terms[j]:
                    acc += np.vdot(ci, cj) * np.vdot(ui, uj) * np.outer(vi, vj.conj())
            a[i, j] = acc
            a[j, i] = acc.conj().T
    return 2.0 * p / sigma2 * a


def fim_eval(a, v):
    """Re tr(A_ij V) for all i, j."""
    return np.real(np.einsum("ijab,ba->ij", a, v))


def crb_trace(fim, idx):
    """sum_{i in idx} [I^-1]_ii, through the equilibrated FIM D I D (D = diag^-1/2); inf when
    singular."""
    d = np.diag(fim).copy()
    if np.any(d <= 0):
        return np.inf
    s = 1.0 / np.sqrt(d)
    it = fim * np.outer(s, s)
    it = 0.5 * (it + it.T)
    w = np.linalg.eigvalsh(it)
    if w[0] <= 1e-14 * w[-1]:
        return np.inf
    inv = np.linalg.inv(it)
    return float(sum(inv[i, i] * s[i] ** 2 for i in idx))


# ---------------------------------------------------------------------------------------
# one instance
# ---------------------------------------------------------------------------------------
def cgains(lst, n, key):
    g = np.asarray(lst, dtype=float)
    if g.shape != (n, 2):
        fail(f"`{key}` must be K+1 = {n} pairs [re, im], got shape {g.shape}")
    return g[:, 0] + 1j * g[:, 1]


class System:
    """Geometry, gains and the FIM maps of one instance (`parameters` of the JSON)."""

    def __init__(self, p, m_offset=0):
        self.p = p
        self.nb, self.nu = int(p["bs_antennas"]), int(p["ue_antennas"])
        self.m = int(p["subcarriers"])
        self.df = float(p["bandwidth_hz"]) / self.m
        self.sym, self.slots = int(p["symbols"]), int(p["slots"])
        self.sigma2 = float(p["noise_w"])
        self.power = float(p["power_w"])
        self.budget = self.power / self.m
        self.carrier = float(p.get("carrier_hz", 28e9))
        self.pb = np.asarray(p["bs_position"], float)
        self.pu = np.asarray(p["ue_position"], float)
        self.pts = np.asarray(p["targets"], float).reshape(-1, 2)
        self.k = self.pts.shape[0]
        self.dt = float(p["clock_bias_s"])
        self.dphi = float(p["orientation_rad"])
        self.gbar = cgains(p["bp_gains"], self.k + 1, "bp_gains")
        self.gms = cgains(p["ms_gains"], self.k + 1, "ms_gains")
        self.alpha = float(p.get("alpha", 0.5))
        self.scheme = p.get("scheme", "fdb-wcrb")
        self.m_idx = np.arange(self.m, dtype=float) + m_offset
        k = self.k
        self.eta_bp = np.concatenate([self.pu, [self.dphi], self.pts.ravel(), [self.dt],
                                      self.gbar.real, self.gbar.imag])
        self.eta_ms = np.concatenate([self.pu, self.pts.ravel(), self.gms.real, self.gms.imag])
        self.xi_bp = bp_map(self.eta_bp, self.pb, k)
        self.xi_ms = ms_map(self.eta_ms, self.pb, k)
        self.j_bp = bp_jacobian(self.eta_bp, self.pb, k)
        self.j_ms = ms_jacobian(self.eta_ms, self.pb, k)
        self.terms_bp = derivative_terms("bp", self.xi_bp, k, self.nb, self.nu, self.m_idx, self.df)
        self.terms_ms = derivative_terms("ms", self.xi_ms, k, self.nb, self.nu, self.m_idx, self.df)
        self.a_bp = fim_tensor(self.terms_bp, self.sym, self.sigma2)
        self.a_ms = fim_tensor(self.terms_ms, self.sym, self.sigma2)
        # position domain: A_pos[k, l] = sum_ij J_ik J_jl A_ij
        self.apos_bp = np.einsum("ik,jl,ijab->klab", self.j_bp, self.j_bp, self.a_bp, optimize=True)
        self.apos_ms = np.einsum("ik,jl,ijab->klab", self.j_ms, self.j_ms, self.a_ms, optimize=True)
        self.emb_bp, self.emb_ms = self.embeddings()
        self.apos_fu = (np.einsum("ik,jl,ijab->klab", self.emb_bp, self.emb_bp, self.apos_bp, optimize=True)
                        + np.einsum("ik,jl,ijab->klab", self.emb_ms, self.emb_ms, self.apos_ms, optimize=True))
        # position indices
        self.idx_bp = [0, 1]
        self.idx_ms = list(range(2 * k + 2))
        self.idx_fu_u = [2 * k, 2 * k + 1]
        self.idx_fu_all = list(range(2 * k + 2))

    def embeddings(self):
        """Selection matrices E (len(own) x 6K+8), own index -> fused index. Fused order:
        [p_1..p_K, p_U, dphi, dt, Re bbar, Im bbar, Re b, Im b]."""
        k = self.k
        nf = 6 * k + 8
        ebp = np.zeros((4 * k + 6, nf))
        ebp[0, 2 * k] = ebp[1, 2 * k + 1] = 1.0          # p_U
        ebp[2, 2 * k + 2] = 1.0                            # dphi
        for i in range(2 * k):                             # p_1..p_K
            ebp[3 + i, i] = 1.0
        ebp[3 + 2 * k, 2 * k + 3] = 1.0                    # dt
        for i in range(2 * k + 2):                         # Re bbar, Im bbar
            ebp[4 + 2 * k + i, 2 * k + 4 + i] = 1.0
        ems = np.zeros((4 * k + 4, nf))
        ems[0, 2 * k] = ems[1, 2 * k + 1] = 1.0            # p_U
        for i in range(2 * k):
            ems[2 + i, i] = 1.0
        for i in range(2 * k + 2):                         # Re b, Im b
            ems[2 * k + 2 + i, 4 * k + 6 + i] = 1.0
        return ebp, ems

    def codebook(self):
        """U = [a_B(theta_0..K), da_B(theta_0..K)] (Remark 2), theta from the MS map (the
        same AODs as BP)."""
        th = self.xi_ms[:self.k + 1]
        return np.array([steer(self.nb, t)[0] for t in th] + [steer(self.nb, t)[1] for t in th]).T

    def fims(self, v):
        return fim_eval(self.apos_bp, v), fim_eval(self.apos_ms, v), fim_eval(self.apos_fu, v)

    def evaluate(self, v, alpha=None, scheme=None):
        alpha = self.alpha if alpha is None else alpha
        scheme = self.scheme if scheme is None else scheme
        fb, fm, ff = self.fims(v)
        out = {"crb_bp": crb_trace(fb, self.idx_bp), "crb_ms": crb_trace(fm, self.idx_ms),
               "crb_bp_fused": crb_trace(ff, self.idx_fu_u), "crb_ms_fused": crb_trace(ff, self.idx_fu_all)}
        if scheme == "fusion":
            out["objective"] = weighted(alpha, out["crb_bp_fused"], out["crb_ms_fused"])
        else:
            out["objective"] = weighted(alpha, out["crb_bp"], out["crb_ms"])
        return out


def weighted(alpha, a, b):
    """alpha a + (1 - alpha) b with a zero weight ignoring its (possibly infinite) bound."""
    return (alpha * a if alpha > 0 else 0.0) + ((1 - alpha) * b if alpha < 1 else 0.0)


# ---------------------------------------------------------------------------------------
# the program (15) in CVXPY
# ---------------------------------------------------------------------------------------
def build_program(sy, alpha, scheme, structure):
    """min alpha CRB_BP + (1 - alpha) CRB_MS (fused ones for "fusion") over V, in units of
    the budget (V = (P_B/M) V', tr V' <= 1). structure: "full" (V' = Q W Q^H, W the full
    Hermitian PSD N_B x N_B variable, Q unitary), "plain" (V' itself: what a CVX user writes;
    Clarabel fails on it for N_B > 2K+2), "remark2" (V' = U Lam U^H, Lam PSD) or "cpa"
    (V' = U diag(rho) U^H, rho >= 0).

    Per bound: the FIM is equilibrated, I~ = D I D with D_i = (I_ii / [I^-1]_ii)^(-1/4) at
    the isotropic full-power V_iso, and sum_{i in S} w_i [I^-1]_ii = min sum w_i D_i^2 T_ii
    s.t. [[I~, E], [E^T, T]] >= 0 (E = columns S of the identity; Schur complement: T >=
    [I~^-1]_SS, the nuisance parameters eliminated exactly). The objective is divided by its
    value at V_iso. Returns (problem, V' expression, factor): objective = factor * value."""
    n = sy.nb
    iso = np.eye(n) / n
    if scheme == "fusion":
        bounds = [(sy.apos_fu, {i: (1 - alpha) + (alpha if i in sy.idx_fu_u else 0.0)
                                for i in sy.idx_fu_all})]
    else:
        bounds = [(sy.apos_bp, {i: alpha for i in sy.idx_bp}),
                  (sy.apos_ms, {i: 1 - alpha for i in sy.idx_ms})]
    cons = []
    rot = None
    if structure in ("full", "plain", "remark2"):
        nw = n
        if structure != "plain":
            # V' = Q W Q^H, Q = [Q_1, Q_2] unitary with Q_1 an orthonormal basis of U's
            # range: "full" is the same program over the full Hermitian W (tr W = tr V',
            # W >= 0 iff V' >= 0) with the FIM's coefficients Q^H A Q exactly zero outside
            # the leading block (Clarabel fails on the plain V' for N_B > 2K+2, where the
            # FIM ignores N_B^2 - (2K+2)^2 directions of V'); "remark2" keeps W = Lam on
            # Q_1 only: V' = Q_1 Lam Q_1^H = U Lam' U^H
            q, sv, _ = np.linalg.svd(sy.codebook(), full_matrices=True)
            rank = int(np.sum(sv > 1e-10 * sv[0]))
            rot = q if structure == "full" else q[:, :rank]
            nw = rot.shape[1]
        vv = cp.Variable((nw, nw), hermitian=True)
        cons += [vv >> 0, cp.real(cp.trace(vv)) <= 1.0]
        vexpr = vv
    elif structure == "cpa":
        u = sy.codebook()
        u = u / np.linalg.norm(u, axis=0)  # rho_q |u_q|^2 -> rho_q: the same set
        rho = cp.Variable(u.shape[1], nonneg=True)
        cons += [cp.sum(rho) <= 1.0]
        vexpr = rho
    else:
        raise ValueError(structure)
    obj = 0
    scale = 0.0
    for apos, w in bounds:
        w = {i: x for i, x in w.items() if x > 0}
        if not w:
            continue
        nn = apos.shape[0]
        f_iso = sy.budget * fim_eval(apos, iso)
        # units: D_i = (I_ii / [I^-1]_ii)^(-1/4) at V_iso, so that I~_ii = [I~^-1]_ii =
        # sqrt(I_ii [I^-1]_ii) (the geometric mean of the two natural equilibrations)
        d = (np.diag(f_iso) / np.array(crb_diag(f_iso, range(nn)))) ** -0.25
        scaled = sy.budget * apos * np.outer(d, d)[:, :, None, None]
        if rot is not None:
            scaled = np.einsum("ai,klab,bj->klij", rot.conj(), scaled, rot, optimize=True)
        if structure == "cpa":
            # I~(rho) = sum_q rho_q Re tr(A~ u_q u_q^H)
            basis = chop(np.array([fim_eval(scaled, np.outer(uq, uq.conj())) for uq in u.T]))
            fexpr = cp.reshape(basis.reshape(len(basis), -1).T @ vexpr, (nn, nn), order="C")
        else:
            # Re tr(A V) = sum_ab Re A_ab Re V_ba - Im A_ab Im V_ba; rows over (k, l), columns
            # over vec(V) in C order (b, a)
            coef = scaled.transpose(0, 1, 3, 2).reshape(nn * nn, nw * nw)
            coef = chop(coef.real) + 1j * chop(coef.imag)
            vre = cp.reshape(cp.real(vexpr), (nw * nw,), order="C")
            vim = cp.reshape(cp.imag(vexpr), (nw * nw,), order="C")
            fexpr = cp.reshape(coef.real @ vre - coef.imag @ vim, (nn, nn), order="C")
        sel = sorted(w)
        e = np.eye(nn)[:, sel]
        t = cp.Variable((len(sel), len(sel)), symmetric=True)
        mat = cp.bmat([[fexpr, e], [e.T, t]])
        cons.append(0.5 * (mat + mat.T) >> 0)
        wd = np.array([w[i] * d[i] ** 2 for i in sel])
        obj = obj + wd @ cp.diag(t)
        scale += float(sum(w[i] * x for i, x in zip(sel, crb_diag(f_iso, sel))))
    prob = cp.Problem(cp.Minimize(obj / scale), cons)
    return prob, (vexpr, structure, u if structure == "cpa" else rot), scale


def chop(x, rtol=1e-12):
    """Zeroes entries below rtol * max |x|: rounding residue (~1e-17) of coefficients that are
    exactly zero (those of Q^H A Q outside the leading block)."""
    x = np.array(x, dtype=float)
    x[np.abs(x) < rtol * np.max(np.abs(x))] = 0.0
    return x


def crb_diag(f, sel):
    """[I^-1]_ii for i in sel, through the equilibrated FIM."""
    s = 1.0 / np.sqrt(np.diag(f))
    inv = np.linalg.inv(f * np.outer(s, s))
    return [inv[i, i] * s[i] ** 2 for i in sel]


def recover_v(sy, handle):
    """V (watts) from the solved expression."""
    vexpr, structure, u = handle
    if structure == "cpa":
        v = u @ np.diag(np.maximum(vexpr.value, 0.0)) @ u.conj().T
    elif u is not None:
        v = u @ vexpr.value @ u.conj().T
    else:
        v = vexpr.value
    v = 0.5 * (v + v.conj().T)
    return sy.budget * v


def solve_program(sy, alpha, scheme, structure=None, solver=CHECK_SOLVER):
    """Builds and solves; returns a dict (status, objective, V, evaluation, seconds)."""
    if structure is None:
        structure = "cpa" if scheme == "cpa-wcrb" else "full"
    t0 = time.perf_counter()
    prob, handle, scale = build_program(sy, alpha, scheme, structure)
    t_model = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prob.solve(solver=solver)
            st = prob.status
        except cp.error.SolverError as e:
            st = f"solver_error: {e}"
    out = {"status": st, "seconds": time.perf_counter() - t0, "modelling_s": t_model,
           "solver": prob.solver_stats.solver_name if prob.solver_stats else str(solver)}
    if st in USABLE:
        v = recover_v(sy, handle)
        out["objective"] = prob.value * scale
        out["v"] = v
        out["eval"] = sy.evaluate(v, alpha, scheme)
    return out


# ---------------------------------------------------------------------------------------
# check mode
# ---------------------------------------------------------------------------------------
def noise_from_spec(p):
    if "noise_figure_db" not in p or "noise_psd_dbm_hz" not in p:
        return None
    df = float(p["bandwidth_hz"]) / int(p["subcarriers"])
    return 10 ** (p["noise_figure_db"] / 10) * 10 ** ((p["noise_psd_dbm_hz"] - 30) / 10) * df


def check_instance(item, solver=CHECK_SOLVER):
    """Returns (line, errors); line None when skipped."""
    name = item.get("name", "?")
    p = item["parameters"]
    scheme = p.get("scheme")
    if scheme not in SCHEMES:
        print(f"{name}: scheme {scheme!r} skipped (checked: {', '.join(SCHEMES)})")
        return None, []
    errors = []
    sy = System(p)
    isac = item.get("isac", {})
    line = f"{name}: {scheme}, alpha={sy.alpha:g}, N_B={sy.nb}, N_U={sy.nu}, M={sy.m}, K={sy.k}"
    sig = noise_from_spec(p)
    if sig is not None:
        line += f"; noise {rel(sig, sy.sigma2):.0e}"
        if rel(sig, sy.sigma2) > 1e-9:
            errors.append(f"noise_w {sy.sigma2:.10e} vs F N0 Df = {sig:.10e}")
    status = isac.get("status")
    if str(status).lower() not in ("optimal", "solved"):
        errors.append(f"isac status {status!r}")
    try:
        v = np.asarray(isac["covariance_re"], float) + 1j * np.asarray(isac["covariance_im"], float)
    except KeyError as e:
        errors.append(f"isac answer lacks {e}")
        return line, errors
    if v.shape != (sy.nb, sy.nb):
        errors.append(f"covariance shape {v.shape}, expected {(sy.nb, sy.nb)}")
        return line, errors
    # (ii) V itself
    herm = np.linalg.norm(v - v.conj().T) / max(np.linalg.norm(v), 1e-300)
    if herm > 1e-9:
        errors.append(f"V not Hermitian: |V - V^H|/|V| = {herm:.2e}")
    vh = 0.5 * (v + v.conj().T)
    w = np.linalg.eigvalsh(vh)
    if w[0] < -PSD_TOL * max(w[-1], 0.0):
        errors.append(f"V not PSD: eigenvalues {w[0]:.3e} .. {w[-1]:.3e}")
    tr = float(np.real(np.trace(vh)))
    if tr > sy.budget * (1 + RECHECK_TOL):
        errors.append(f"tr V = {tr:.10e} above P_B/M = {sy.budget:.10e}")
    line += f"; tr V/(P_B/M) = {tr / sy.budget:.8f}, numerical rank {int(np.sum(w > 1e-6 * w[-1]))}"
    if scheme == "cpa-wcrb":
        u = sy.codebook()
        basis = np.array([np.outer(x, x.conj()).ravel() for x in u.T]).T
        rho, *_ = np.linalg.lstsq(np.vstack([basis.real, basis.imag]),
                                  np.concatenate([vh.ravel().real, vh.ravel().imag]), rcond=None)
        resid = np.linalg.norm(basis @ rho - vh.ravel()) / max(np.linalg.norm(vh), 1e-300)
        line += f"; V - U diag(rho) U^H {resid:.0e}"
        if resid > 1e-6 or rho.min() < -1e-6 * max(rho.max(), 1e-300):
            errors.append(f"V is not U diag(rho) U^H with rho >= 0 (residual {resid:.2e}, "
                          f"min rho {rho.min():.3e})")
    # (i) position FIMs
    fb, fm, _ = sy.fims(vh)
    worst, worst_n = 0.0, 0.0
    for key, mine in (("fim_bp_position", fb), ("fim_ms_position", fm)):
        if key not in isac:
            errors.append(f"isac answer lacks `{key}`")
            continue
        theirs = np.asarray(isac[key], float)
        if theirs.shape != mine.shape:
            errors.append(f"`{key}` shape {theirs.shape}, expected {mine.shape}")
            continue
        e = np.linalg.norm(theirs - mine) / max(np.linalg.norm(mine), 1e-300)
        en = fim_error(mine, theirs)
        worst, worst_n = max(worst, e), max(worst_n, en)
        if e > FIM_TOL or en > FIM_ENTRY_TOL:
            errors.append(f"{key}: relative Frobenius {e:.2e} (tol {FIM_TOL}), max |dI_ij|/sqrt(I_ii I_jj) "
                          f"{en:.2e} (tol {FIM_ENTRY_TOL})")
    line += f"; FIMs {worst:.0e} (entrywise {worst_n:.0e})"
    # (iii) CRBs and objective from V
    ev = sy.evaluate(vh)
    if scheme == "fusion" and "crb_bp_fused" in isac:
        pairs = [("crb_bp", "crb_bp"), ("crb_ms", "crb_ms"),
                 ("crb_bp_fused", "crb_bp_fused"), ("crb_ms_fused", "crb_ms_fused")]
    elif scheme == "fusion":
        pairs = [("crb_bp", "crb_bp_fused"), ("crb_ms", "crb_ms_fused")]
    else:
        pairs = [("crb_bp", "crb_bp"), ("crb_ms", "crb_ms")]
    pairs.append(("objective", "objective"))
    worst = 0.0
    for theirs_key, mine_key in pairs:
        if theirs_key not in isac:
            errors.append(f"isac answer lacks `{theirs_key}`")
            continue
        t, m = isac[theirs_key], ev[mine_key]
        if t is None or not np.isfinite(float(t)) or not np.isfinite(m):
            # an unidentifiable bound (singular FIM): both must say so (null/inf in JSON)
            e = 0.0 if (t is None or not np.isfinite(float(t))) and not np.isfinite(m) else np.inf
            t = np.inf if t is None else float(t)
        else:
            t = float(t)
            e = rel(t, m)
        worst = max(worst, e)
        if e > CRB_TOL:
            errors.append(f"{theirs_key}: isac {t:.10e} vs from V {m:.10e} ({mine_key}): {e:.2e}")
    line += (f"; CRB_BP {ev['crb_bp']:.6e}, CRB_MS {ev['crb_ms']:.6e}"
             + (f" (fused {ev['crb_bp_fused']:.6e}, {ev['crb_ms_fused']:.6e})" if scheme == "fusion" else "")
             + f", vs isac {worst:.0e}")
    # (iv) the optimum
    ref = solve_program(sy, sy.alpha, scheme, solver=solver)
    if ref["status"] not in USABLE:
        errors.append(f"CVXPY ({ref['solver']}) status {ref['status']}")
        return line, errors
    opt = ref["objective"]
    line += (f"; objective isac {float(isac.get('objective') or np.nan):.8e} (re-evaluated "
             f"{ev['objective']:.8e}), CVXPY {opt:.8e} (at its V {ref['eval']['objective']:.8e}, "
             f"{ref['seconds']:.2f} s)")
    if "objective" in isac:
        d = max(rel(float(isac["objective"]), opt), rel(ev["objective"], opt))
        line += f": relative {d:.1e}"
        if d > OPT_TOL:
            errors.append(f"optimum: isac {float(isac['objective']):.10e} (re-evaluated "
                          f"{ev['objective']:.10e}) vs CVXPY {opt:.10e}: {d:.2e} > {OPT_TOL}")
        if ev["objective"] < opt * (1 - OPT_TOL):
            errors.append("isac's V beats the CVXPY optimum: infeasible or wrong FIM")
    if rel(ref["eval"]["objective"], opt) > OPT_TOL:
        errors.append(f"CVXPY's own optimum {opt:.10e} vs re-evaluated {ref['eval']['objective']:.10e}")
    return line, errors


def run_check(path, solver=CHECK_SOLVER):
    try:
        with open(path) as fh:
            d = json.load(fh)
    except (OSError, json.JSONDecodeError) as e:
        fail(f"cannot read {path}: {e}")
    if "instances" not in d:
        fail("`instances` missing: expected {\"instances\": [{name, parameters, isac}]}")
    print(f"bistatic/monostatic cross-check: {len(d['instances'])} instances "
          f"(CVXPY {cp.__version__}, {solver})")
    errors = []
    for item in d["instances"]:
        line, errs = check_instance(item, solver)
        if line is None:
            continue
        print(("  " if not errs else "  FAIL ") + line)
        errors += [f"{item.get('name', '?')}: {e}" for e in errs]
    return errors


# ---------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------
def bench(path, plain=False, clarabel_only=False):
    """Times whole fronts: per front the FIM tables (numpy, once) plus, per alpha, CVXPY's
    modelling, compile and solve of the program, with Clarabel and with CVXPY's own solver
    choice (and, with --plain, the literal plain-V formulation with Clarabel: reported only).
    Optima are held to OPT_TOL for Clarabel on the checked formulation."""
    with open(path) as fh:
        d = json.load(fh)
    if "bench" not in d:
        fail("`bench` missing: expected {\"bench\": [{name, parameters, alphas, isac_seconds, "
             "isac_objectives}]}")
    errors, rows = [], []
    for item in d["bench"]:
        scheme = item["parameters"].get("scheme", "fdb-wcrb")
        if scheme not in SCHEMES:
            print(f"{item['name']}: scheme {scheme!r} skipped")
            continue
        t0 = time.perf_counter()
        sy = System(item["parameters"])
        t_setup = time.perf_counter() - t0
        alphas = [float(a) for a in item["alphas"]]
        isac_t = float(item["isac_seconds"])
        isac_obj = item.get("isac_objectives")
        if isac_obj is not None and len(isac_obj) != len(alphas):
            errors.append(f"{item['name']}: {len(isac_obj)} isac objectives for {len(alphas)} alphas")
            isac_obj = None
        structure = "cpa" if scheme == "cpa-wcrb" else "full"
        runs = [(CHECK_SOLVER, structure, True)] + ([] if clarabel_only else [(None, structure, False)])
        if plain and structure == "full":
            runs.append((CHECK_SOLVER, "plain", False))
        print(f"{item['name']}: {scheme}, N_B={sy.nb}, N_U={sy.nu}, K={sy.k}, M={sy.m}, "
              f"{len(alphas)} alphas; FIM tables {t_setup:.2f} s; isac {isac_t:.3f} s")
        for solver, struct, checked in runs:
            total, t_model, objs, names, stats = t_setup, 0.0, [], set(), []
            for a in alphas:
                r = solve_program(sy, a, scheme, structure=struct, solver=solver)
                total += r["seconds"]
                t_model += r["modelling_s"]
                names.add(r["solver"])
                stats.append(r["status"])
                objs.append(r.get("objective", np.nan))
            label = "/".join(sorted(names)) + (" (CVXPY's choice)" if solver is None else "") + \
                (f", {struct} V" if struct != "cpa" else ", rho")
            # isac reports null where its design was not optimal (listed by `isac bench`):
            # compared only where both returned an optimum
            pairs = [(x, y) for x, y in zip(objs, isac_obj or []) if y is not None and np.isfinite(x)]
            worst = max((rel(x, y) for x, y in pairs), default=np.nan)
            n_ok = sum(s_ in USABLE for s_ in stats)
            print(f"    CVXPY {label}: {total:.2f} s (model building {t_model:.2f} s; compile + solve the rest), {n_ok}/{len(stats)} "
                  f"solved, CVXPY/isac = {total / isac_t:.1f}; optima vs isac worst relative {worst:.1e}")
            rows.append({"name": item["name"], "solver": label, "cvxpy_seconds": total,
                         "isac_seconds": isac_t, "ratio": total / isac_t, "worst_rel": worst,
                         "solved": n_ok, "alphas": len(stats)})
            if checked:
                if n_ok < len(stats):
                    errors.append(f"{item['name']}: CVXPY {label} statuses {stats}")
                if isac_obj is not None and not worst <= OPT_TOL:
                    errors.append(f"{item['name']}: optima differ by {worst:.2e} > {OPT_TOL} ({label})")
    print("json: " + json.dumps(rows))
    return errors


# ---------------------------------------------------------------------------------------
# self-test
# ---------------------------------------------------------------------------------------
def paper_parameters(rng, scheme="fdb-wcrb", alpha=0.5, **over):
    """Section VII-A, gains from the free-space model with random phases."""
    p = {"bs_antennas": 16, "ue_antennas": 16, "subcarriers": 1024, "bandwidth_hz": 120e6,
         "symbols": 100, "slots": 16, "noise_figure_db": 10.0, "noise_psd_dbm_hz": -173.855,
         "power_w": 10 ** ((-20 - 30) / 10), "carrier_hz": 28e9, "bs_position": [0.0, 0.0],
         "ue_position": [-5.0, 20.0], "targets": [[-10.0, 15.0], [5.0, 15.0], [0.0, 17.0]],
         "clock_bias_s": 1e-6, "orientation_rad": 110 / 180 * np.pi, "alpha": alpha,
         "scheme": scheme}
    p.update(over)
    p["noise_w"] = noise_from_spec(p)
    pb, pu = np.array(p["bs_position"]), np.array(p["ue_position"])
    pts = np.array(p["targets"]).reshape(-1, 2)
    lam = SPEED_OF_LIGHT / p["carrier_hz"]
    ph = lambda: np.exp(1j * rng.uniform(-np.pi, np.pi))
    gbar = [ph() * lam / (4 * np.pi * np.linalg.norm(pb - pu))]
    gbar += [100.0 * ph() * lam / ((4 * np.pi) ** 1.5 * np.linalg.norm(pu - q) * np.linalg.norm(q - pb))
             for q in pts]
    gms = [10.0 * ph() * lam / ((4 * np.pi) ** 1.5 * np.linalg.norm(pu - pb) ** 2)]
    gms += [100.0 * ph() * lam / ((4 * np.pi) ** 1.5 * np.linalg.norm(q - pb) ** 2) for q in pts]
    p["bp_gains"] = [[g.real, g.imag] for g in gbar]
    p["ms_gains"] = [[g.real, g.imag] for g in gms]
    return p


def random_parameters(rng, nb=None, nu=None, m=None, k=None):
    """Small random instance in moderate units: Df ~ c/(30 m) so that Df tau ~ 1, O(1) gains,
    sigma^2 = 0.5; UE and targets in front of the BS (|theta| < 1.2), >= 2 m apart."""
    nb = nb or int(rng.integers(2, 7))
    nu = nu or int(rng.integers(2, 7))
    m = m or int(rng.integers(1, 9))
    k = k or int(rng.integers(1, 4))
    pb = rng.uniform(-2, 2, 2)
    while True:
        r = rng.uniform(5, 25, k + 1)
        phi = rng.uniform(0.4, np.pi - 0.4, k + 1)
        pts = pb + np.c_[r * np.cos(phi), r * np.sin(phi)]
        dd = [np.linalg.norm(pts[i] - pts[j]) for i in range(k + 1) for j in range(i)]
        if min(dd, default=10.0) > 2.0:
            break
    df = SPEED_OF_LIGHT / 30.0
    g = lambda: [[float(x), float(y)] for x, y in rng.standard_normal((k + 1, 2))]
    return {"bs_antennas": nb, "ue_antennas": nu, "subcarriers": m, "bandwidth_hz": df * m,
            "symbols": int(rng.integers(1, 4)), "slots": int(rng.integers(1, 4)), "noise_w": 0.5,
            "power_w": float(m), "carrier_hz": 28e9, "bs_position": pb.tolist(),
            "ue_position": pts[0].tolist(), "targets": pts[1:].tolist(),
            "clock_bias_s": float(rng.uniform(-1, 1) * 3e-8), "orientation_rad": float(rng.uniform(-np.pi, np.pi)),
            "bp_gains": g(), "ms_gains": g(), "alpha": 0.5, "scheme": "fdb-wcrb"}


def sampled_mean(kind, xi, sy, fmat, s):
    """mu = vec over (p, m, l) of H_m f_l s_{p,m}."""
    h = channel(kind, xi, sy.k, sy.nb, sy.nu, sy.m_idx, sy.df)
    hf = np.einsum("mab,bl->mla", h, fmat)
    return np.einsum("pm,mla->pmla", s, hf).ravel()


def sampled_fim(dmu, sigma2):
    return 2.0 / sigma2 * np.real(dmu.conj().T @ dmu)


def channel_steps(kind, sy):
    n = sy.k + 1
    ang = np.full(n, 2e-4)
    tau = np.full(n, delay_step(sy))
    gsc = 1e-3 * max(np.max(np.abs(sy.gbar)), np.max(np.abs(sy.gms)))
    gains = np.full(2 * n, gsc)
    return np.concatenate([ang, ang, tau, gains] if kind == "bp" else [ang, tau, gains])


def position_steps(kind, sy):
    k = sy.k
    rmin = min(np.linalg.norm(q - sy.pb) for q in [sy.pu] + list(sy.pts))
    rate = max(4 * np.pi * np.max(np.abs(sy.m_idx)) * sy.df / SPEED_OF_LIGHT, np.pi * max(sy.nb, sy.nu) / rmin)
    hp = 2e-4 / rate
    gsc = 1e-3 * max(np.max(np.abs(sy.gbar)), np.max(np.abs(sy.gms)))
    if kind == "bp":
        return np.concatenate([[hp, hp, 2e-4], np.full(2 * k, hp),
                               [delay_step(sy)], np.full(2 * k + 2, gsc)])
    return np.concatenate([np.full(2 * k + 2, hp), np.full(2 * k + 2, gsc)])


def write_json(path, obj):
    with open(path, "w") as fh:
        json.dump(obj, fh)


def isac_answer(sy, ref, scheme):
    v = ref["v"]
    fb, fm, _ = sy.fims(v)
    ev = ref["eval"]
    fused = scheme == "fusion"
    return {"status": "optimal",
            "crb_bp": ev["crb_bp_fused" if fused else "crb_bp"],
            "crb_ms": ev["crb_ms_fused" if fused else "crb_ms"],
            "objective": ref["objective"],
            "covariance_re": v.real.tolist(), "covariance_im": v.imag.tolist(),
            "fim_bp_position": fb.tolist(), "fim_ms_position": fm.tolist()}


def self_test(quick=False):
    t_start = time.perf_counter()
    ok = True
    rng = np.random.default_rng(20260318)

    def report(label, err, tol):
        nonlocal ok
        good = err <= tol
        ok &= bool(good)
        print("  %-72s %.2e (tol %.0e) %s" % (label, err, tol, "ok" if good else "FAIL"))

    n_inst = 12 if quick else 30
    print(f"(a)-(d) {n_inst} random instances (N_B, N_U in 2..6, M in 1..8, K in 1..3, L, P in 1..3)")
    worst = {key: 0.0 for key in ("a_bp", "a_ms", "rank1", "b_bp", "b_ms", "c_bp", "c_ms")}
    for _ in range(n_inst):
        sy = System(random_parameters(rng))
        fmat = rng.standard_normal((sy.nb, sy.slots)) + 1j * rng.standard_normal((sy.nb, sy.slots))
        s = np.exp(2j * np.pi * rng.uniform(size=(sy.sym, sy.m)))
        v = fmat @ fmat.conj().T
        for kind, xi, terms, a, jac, eta, apos in (
                ("bp", sy.xi_bp, sy.terms_bp, sy.a_bp, sy.j_bp, sy.eta_bp, sy.apos_bp),
                ("ms", sy.xi_ms, sy.terms_ms, sy.a_ms, sy.j_ms, sy.eta_ms, sy.apos_ms)):
            # (a) channel domain: explicit analytic sum over m vs the sampled model
            f_an = fim_explicit(terms, v, sy.sym, sy.sigma2)
            d_num = fd_jacobian(lambda x: sampled_mean(kind, x, sy, fmat, s), xi, channel_steps(kind, sy))
            f_num = sampled_fim(d_num, sy.sigma2)
            worst["a_" + kind] = max(worst["a_" + kind], fim_error(f_num, f_an))
            worst["rank1"] = max(worst["rank1"], fim_error(f_an, fim_eval(a, v)))
            # (c) Jacobian
            gmap = (lambda e: bp_map(e, sy.pb, sy.k)) if kind == "bp" else (lambda e: ms_map(e, sy.pb, sy.k))
            j_num = fd_jacobian(gmap, eta, position_steps(kind, sy))
            # per row: |dJ_ij| / max_j |J_ij| (each channel parameter's gradient)
            rowscale = np.maximum(np.max(np.abs(jac), axis=1), 1e-300)[:, None]
            worst["c_" + kind] = max(worst["c_" + kind], float(np.max(np.abs(j_num - jac) / rowscale)))
            # (b) position domain: J^T I J vs differences of mu through the geometry
            d_pos = fd_jacobian(lambda e: sampled_mean(kind, gmap(e), sy, fmat, s), eta,
                                position_steps(kind, sy))
            f_pos_num = sampled_fim(d_pos, sy.sigma2)
            worst["b_" + kind] = max(worst["b_" + kind], fim_error(f_pos_num, jac.T @ f_an @ jac))
            worst["b_" + kind] = max(worst["b_" + kind], fim_error(f_pos_num, fim_eval(apos, v)))
    report("(a) BP channel FIM: analytic (explicit sum over m) vs sampled model", worst["a_bp"], 1e-6)
    report("(d) MS channel FIM: analytic (explicit sum over m) vs sampled model", worst["a_ms"], 1e-6)
    report("    rank-one form A_ij (CVXPY's) vs explicit sum over m", worst["rank1"], 1e-12)
    report("(b) BP position FIM J^T I J vs sampled model through the geometry", worst["b_bp"], 1e-6)
    report("(d) MS position FIM J^T I J vs sampled model through the geometry", worst["b_ms"], 1e-6)
    report("(c) BP Jacobian analytic vs central differences (per row)", worst["c_bp"], 1e-8)
    report("(d) MS Jacobian analytic vs central differences (per row)", worst["c_ms"], 1e-8)

    print("(e) fusion and m-range on identifiable random instances (random V of random rank)")
    w_fu, w_off, n_fin = 0.0, 0.0, 0
    for _ in range(10 if quick else 25):
        par = random_parameters(rng, nb=int(rng.integers(4, 7)), nu=int(rng.integers(3, 7)),
                                m=int(rng.integers(4, 9)))
        sy = System(par)
        # m = 1..M is m = 0..M-1 with every gain rotated by exp(-2j pi Df tau_k): the same
        # model at gains g_k exp(+2j pi Df tau_k)
        n = sy.k + 1
        rot_bp = sy.gbar * np.exp(2j * np.pi * sy.df * sy.xi_bp[2 * n:3 * n])
        rot_ms = sy.gms * np.exp(2j * np.pi * sy.df * sy.xi_ms[n:2 * n])
        sy1 = System(dict(par, bp_gains=[[g.real, g.imag] for g in rot_bp],
                          ms_gains=[[g.real, g.imag] for g in rot_ms]), m_offset=1)
        r = int(rng.integers(2, sy.nb + 1))
        x = rng.standard_normal((sy.nb, r)) + 1j * rng.standard_normal((sy.nb, r))
        v = x @ x.conj().T
        e0, e1 = sy.evaluate(v), sy1.evaluate(v)
        vals = [e0[key] for key in ("crb_bp", "crb_ms", "crb_bp_fused", "crb_ms_fused")]
        if not all(np.isfinite(vals)):
            continue
        n_fin += 1
        w_fu = max(w_fu, e0["crb_bp_fused"] / e0["crb_bp"] - 1, e0["crb_ms_fused"] / e0["crb_ms"] - 1)
        w_off = max(w_off, *(rel(e0[key], e1[key]) for key in ("crb_bp", "crb_ms", "crb_bp_fused", "crb_ms_fused")))
    report(f"fused CRB / unfused CRB - 1 (max over {n_fin} instances, BP and MS) <= 0", max(w_fu, 0.0), 1e-9)
    report("CRBs with m = 1..M (gains re-phased) vs m = 0..M-1", w_off, 1e-7)

    print("paper scenario (Section VII-A): CVXPY + Clarabel, alpha = 0.5")
    par = paper_parameters(np.random.default_rng(1))
    sy = System(par)
    nb, budget = sy.nb, sy.budget
    # CVXPY's affine FIM map vs numpy at a random V
    x = rng.standard_normal((nb, nb)) + 1j * rng.standard_normal((nb, nb))
    vr = x @ x.conj().T
    vr *= budget / np.real(np.trace(vr))
    vv = cp.Variable((nb, nb), hermitian=True)
    coef = sy.apos_bp.transpose(0, 1, 3, 2).reshape(sy.apos_bp.shape[0] ** 2, nb * nb)
    vre = cp.reshape(cp.real(vv), (nb * nb,), order="C")
    vim = cp.reshape(cp.imag(vv), (nb * nb,), order="C")
    fexpr = coef.real @ vre - coef.imag @ vim
    vv.value = vr
    report("CVXPY affine FIM map vs numpy Re tr(A V) (paper BP, random V)",
           fim_error(fim_eval(sy.apos_bp, vr), np.asarray(fexpr.value).reshape(sy.apos_bp.shape[:2])), 1e-12)
    refs = {}
    for scheme in SCHEMES:
        r = solve_program(sy, 0.5, scheme)
        refs[scheme] = r
        print(f"  {scheme}: {r['status']} ({r['solver']}, {r['seconds']:.2f} s), objective "
              f"{r.get('objective', np.nan):.8e}")
        ok &= r["status"] in USABLE
        if r["status"] in USABLE:
            report(f"{scheme}: optimum vs objective re-evaluated at its V", rel(r["objective"], r["eval"]["objective"]), 1e-5)
    r2 = solve_program(sy, 0.5, "fdb-wcrb", structure="remark2")
    report("Remark 2: V = U Lam U^H (Lam PSD) optimum vs full V", rel(r2["objective"], refs["fdb-wcrb"]["objective"]), 1e-5)
    report("CPA optimum >= full-V optimum (1 - ratio, <= 0)",
           max(0.0, 1 - refs["cpa-wcrb"]["objective"] / refs["fdb-wcrb"]["objective"]), 1e-7)
    e = refs["fdb-wcrb"]["eval"]
    report("fusion: fused CRBs at the FDB optimum <= unfused (ratio - 1)",
           max(0.0, e["crb_bp_fused"] / e["crb_bp"] - 1, e["crb_ms_fused"] / e["crb_ms"] - 1), 1e-9)
    ef = refs["fusion"]["eval"]
    print(f"  sqrt CRB [m]: FDB BP {np.sqrt(e['crb_bp']):.4e}, MS {np.sqrt(e['crb_ms']):.4e}; "
          f"fusion BP {np.sqrt(ef['crb_bp_fused']):.4e}, MS {np.sqrt(ef['crb_ms_fused']):.4e}")

    print("check mode end to end (own answers as `isac`, then one corrupted answer)")
    if all(refs[s]["status"] in USABLE for s in SCHEMES):
        inst = []
        for scheme in SCHEMES:
            p2 = dict(par, scheme=scheme)
            inst.append({"name": f"self-test-paper-{scheme}", "parameters": p2,
                         "isac": isac_answer(sy, refs[scheme], scheme)})
        bad = json.loads(json.dumps(inst[0]))
        bad["name"] = "self-test-corrupted"
        bad["isac"]["objective"] *= 1.001
        bad_v = (np.asarray(bad["isac"]["covariance_re"]) * 1.0005).tolist()
        bad["isac"]["covariance_re"] = bad_v
        skip = {"name": "self-test-skip", "parameters": dict(par, scheme="fdb-wbf"), "isac": {}}
        with tempfile.TemporaryDirectory() as tmp:
            good_path = os.path.join(tmp, "bpms_selftest.json")
            write_json(good_path, {"instances": inst + [skip]})
            errs = run_check(good_path)
            for err in errs:
                print(f"  unexpected: {err}")
            report("check mode on own answers: number of errors", float(len(errs)), 0.0)
            bad_path = os.path.join(tmp, "bpms_bad.json")
            write_json(bad_path, {"instances": [bad]})
            errs = run_check(bad_path)
            for err in errs:
                print(f"  expected: {err}")
            report("check mode on a corrupted answer rejects it (0 = rejected)", 0.0 if errs else 1.0, 0.0)
    else:
        ok = False
    print(f"self-test time {time.perf_counter() - t_start:.1f} s")
    if not ok:
        print("self-test FAILED", file=sys.stderr)
        sys.exit(1)
    print("self-test ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", help='JSON {"instances": [{name, parameters, isac}]}')
    ap.add_argument("--self-test", action="store_true", help="verify the reference itself")
    ap.add_argument("--quick", action="store_true", help="--self-test with fewer random instances")
    ap.add_argument("--bench", metavar="FILE", help='time CVXPY on {"bench": [...]} fronts')
    ap.add_argument("--clarabel-only", action="store_true",
                    help="--bench: skip CVXPY's own solver choice (SCS here: about 16 min per front)")
    ap.add_argument("--plain", action="store_true",
                    help="--bench: also time the literal plain-V program with Clarabel (reported only)")
    ap.add_argument("--solver", default=None, help=f"CVXPY solver for the checks (default {CHECK_SOLVER})")
    a = ap.parse_args()
    if a.self_test:
        return self_test(a.quick)
    if a.bench:
        errors = bench(a.bench, a.plain, a.clarabel_only)
    elif a.file:
        errors = run_check(a.file, a.solver or CHECK_SOLVER)
    else:
        ap.error("FILE required (or --self-test / --bench FILE)")
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print("bistatic/monostatic check passed")


if __name__ == "__main__":
    main()
