#!/usr/bin/env python3
"""Independent check of isac's hybrid uplink designs (Algorithm 6) for the near-field
ISPAC system (numpy + CVXPY).

Paper: shared/papers/near-field-ispac.md, Section IV-B..E ((53)-(70), Algorithms 4-6) and
Appendix B (uplink FIM). The near-field model (responses, the literal FIM (79)-(81), the
MMSE SINR (17)-(18), the echo limit by bisection, the full uplink program in CVXPY) is
imported from nearfield_reference.py, not copied.

Why an effective instance is exact: with the partially connected combiner F
(F = diag(f) Phi, |f_n| = 1, Phi = Bdiag(1_M)/sqrt(M), so F^H F = I) the MT's received
signal after analog combining is F^H (sum_k sqrt(P_u) h_k c_k + G s + n) with white noise
F^H n ~ CN(0, sigma^2 I). So the uplink through F is the fully digital uplink of an
N_RF-antenna MT with responses F^H a, F^H da/dtheta, F^H da/dr and channels F^H h_k:
block {U, R_u, w_k} of Algorithm 6 at isac's final F is nearfield_reference's uplink
program on that instance (echo limit by bisection on the MMSE SINRs computed with dense
solves, the full N_b x N_b R_u, no subspace reduction).

Input: {"hybrid_uplink": [item, ...]}, item = {"name", "parameters", "responses",
"rf_chains", "uplink_block" ("exact" | "sca"), "isac": {status, analog, combiners
(antenna domain, N_a x K), sensing_covariance (R_u), sinr, power, crb_trace,
fully_digital_crb_trace}}.

Checks per item (exit non-zero with one line per failure):
 1. F is partially connected: |F_nl| sqrt(M) = 1 on the blocks, 0 elsewhere (1e-12).
 2. From isac's matrices on the TRUE channels (N_a antennas): every SINR (17) of the
    antenna-domain combiner F w_k is >= gamma (relative 1e-6) and equals isac's; the power
    tr R_u <= P_s; isac's combiners reach the MMSE SINR of the effective instance (1e-8).
 3. tr CRB from R_u through F (the literal (79)-(81) on the effective instance) equals
    isac's (1e-7).
 4. CVXPY's optimum of block {U, R_u, w_k} at isac's F: equal to isac's tr CRB (OPT_TOL)
    for uplink_block = "exact"; for "sca" isac's is not below it (the SCA's gap printed).
 5. CVXPY's fully digital optimum (F = I) is not above isac's design (the bound).

Usage:
  .venv/bin/python python/nearfield_uplink_reference.py FILE
  .venv/bin/python python/nearfield_uplink_reference.py --self-test
"""
import argparse
import copy
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nearfield_reference import (  # noqa: E402
    OPT_TOL, RECHECK_TOL, Instance, crb, cvec, cvxpy_uplink, rel,
)


def effective(inst, big_f):
    """The uplink instance seen through the combiner F (module doc)."""
    eff = copy.copy(inst)
    fh = big_f.conj().T
    eff.a = tuple(fh @ v for v in inst.a)
    eff.h = inst.h @ big_f.conj()  # rows (F^H h_k)^T
    eff.na = big_f.shape[1]
    return eff


def structure_error(big_f, nrf):
    na = big_f.shape[0]
    m = na // nrf
    worst = 0.0
    for n in range(na):
        for l in range(nrf):
            z = abs(big_f[n, l]) * np.sqrt(m)
            worst = max(worst, abs(z - 1.0) if n // m == l else z)
    return worst


def check_item(item):
    errors = []
    inst = Instance(item)
    d = item["isac"]
    nrf = item["rf_chains"]
    line = f"{item['name']}: N_a={inst.na}, N_RF={nrf}, N_b={inst.nb}, K={inst.k}, " \
           f"gamma={10 * np.log10(inst.gamma):.1f} dB; isac {d['status']}"
    if d["status"] not in ("optimal", "solved"):
        errors.append(f"isac status {d['status']}: {d.get('reason')}")
        print("  FAIL " + line)
        return errors
    big_f = cvec(d["analog"])
    comb = cvec(d["combiners"])
    ru = cvec(d["sensing_covariance"])
    se = structure_error(big_f, nrf)
    if se > 1e-12:
        errors.append(f"F off the partially connected structure by {se:.2e}")
    # 2. SINRs on the true channels with the antenna-domain combiners
    sinr = np.array([inst.uplink_sinr_with(k, comb[:, k], ru) for k in range(inst.k)])
    if sinr.min() < inst.gamma * (1 - RECHECK_TOL):
        errors.append(f"SINR {10 * np.log10(sinr.min()):.6f} dB below the target")
    if np.max(np.abs(sinr - np.asarray(d["sinr"])) / sinr) > 1e-8:
        errors.append(f"SINRs recomputed {sinr} vs isac's {d['sinr']}")
    power = float(np.real(np.trace(ru)))
    if power > inst.power * (1 + RECHECK_TOL) or rel(power, d["power"]) > 1e-9:
        errors.append(f"power {power:.9e} W (isac {d['power']}, budget {inst.power:.9e})")
    eig = np.linalg.eigvalsh((ru + ru.conj().T) / 2)
    if eig[0] < -RECHECK_TOL * power:
        errors.append(f"R_u not PSD: eigenvalue {eig[0]:.3e}")
    eff = effective(inst, big_f)
    mmse = np.array([eff.uplink_mmse_sinr(k, ru) for k in range(inst.k)])
    if np.max(np.abs(sinr - mmse) / mmse) > 1e-8:
        errors.append(f"isac's combiners reach {sinr}, MMSE through F {mmse}")
    # 3. the CRB through F
    t = float(np.trace(crb(eff.fim(ru))))
    if rel(t, d["crb_trace"]) > 1e-7:
        errors.append(f"tr CRB through F {t:.10e} vs isac's {d['crb_trace']:.10e}")
    # 4. block {U, R_u, w_k} at isac's F in CVXPY
    ref = cvxpy_uplink(eff)
    if ref.get("status") != "optimal":
        errors.append(f"CVXPY block at isac's F: {ref.get('status')}")
    else:
        gap = t / ref["objective"] - 1.0
        line += f"; tr CRB {t:.8e}, CVXPY at isac's F {ref['objective']:.8e} (gap {gap:+.1e})"
        if item["uplink_block"] == "exact" and abs(gap) > OPT_TOL:
            errors.append(f"exact block: isac {t:.10e} vs CVXPY {ref['objective']:.10e}: {gap:.2e}")
        if gap < -OPT_TOL:
            errors.append(f"isac's design beats CVXPY's optimum at its F by {-gap:.2e}: a violated constraint")
    # 5. the fully digital bound
    fd = cvxpy_uplink(inst)
    if fd.get("status") == "optimal":
        ratio = t / fd["objective"]
        line += f"; / fully digital (CVXPY) {ratio:.4f} (isac's bound {t / d['fully_digital_crb_trace']:.4f})"
        if ratio < 1 - OPT_TOL:
            errors.append(f"hybrid tr CRB {t:.10e} below the fully digital optimum {fd['objective']:.10e}")
        if rel(fd["objective"], d["fully_digital_crb_trace"]) > OPT_TOL:
            errors.append(f"fully digital bound: CVXPY {fd['objective']:.10e} vs isac {d['fully_digital_crb_trace']:.10e}")
    else:
        errors.append(f"CVXPY fully digital: {fd.get('status')}")
    print(("  " if not errors else "  FAIL ") + line)
    return errors


def self_test():
    """The effective-instance identity itself: for a random partially connected F, the
    FIM of the effective instance equals the FIM of the numerically differentiated mean
    vec(F^H G S) of the true model, and the MMSE SINR through F equals the SINR of the
    antenna-domain combiner F w on the true model."""
    from nearfield_reference import numerical_fim, selftest_instance
    rng = np.random.default_rng(5)
    inst = selftest_instance("uplink", "fresnel", na=8, nb=4, k=2)
    nrf, m = 2, 4
    f = np.exp(1j * rng.uniform(0, 2 * np.pi, 8))
    phi = np.kron(np.eye(nrf), np.ones((m, 1))) / np.sqrt(m)
    big_f = np.diag(f) @ phi
    eff = effective(inst, big_f)
    g = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    ru = g @ g.conj().T
    ru *= inst.power / np.real(np.trace(ru))
    # FIM of vec(F^H G S): the numerical FIM of the effective instance's own sampled model
    # is not independent; instead compare with the true model's numerical FIM of the
    # combined mean, built here
    s_mat = np.linalg.cholesky(ru * inst.slots + 1e-30 * np.eye(4))
    def mean(eta):
        from nearfield_reference import response
        p = inst.p
        a = response(inst.na, p["antenna_spacing"], p["carrier_hz"], eta[0], eta[1], p["mt_wavefront"])[0]
        b = response(inst.nb, p["antenna_spacing"], p["carrier_hz"], eta[0], eta[1], p["at_wavefront"])[0]
        beta = eta[2] + 1j * eta[3]
        return (big_f.conj().T @ (beta * np.outer(a, b)) @ s_mat).ravel()
    eta0 = np.array([inst.theta, inst.r, inst.beta.real, inst.beta.imag])
    steps = np.array([1e-6, 1e-6 * inst.r, 1e-6 * abs(inst.beta), 1e-6 * abs(inst.beta)])
    d = []
    for i in range(4):
        e = np.zeros(4)
        e[i] = steps[i]
        d.append((mean(eta0 + e) - mean(eta0 - e)) / (2 * steps[i]))
    jn = np.array([[2 / inst.noise * np.real(np.vdot(d[i], d[j])) for j in range(4)] for i in range(4)])
    je = eff.fim(ru)
    scale = np.sqrt(np.outer(np.diag(je), np.diag(je)))
    err = np.max(np.abs(jn - je) / scale)
    print(f"  effective-instance FIM vs numerical FIM of vec(F^H G S): {err:.1e} (tol 1e-5)")
    ok = err < 1e-5
    w_rf = rng.standard_normal((nrf, inst.k)) + 1j * rng.standard_normal((nrf, inst.k))
    for k in range(inst.k):
        s_eff = eff.uplink_sinr_with(k, w_rf[:, k], ru)
        s_true = inst.uplink_sinr_with(k, big_f @ w_rf[:, k], ru)
        e2 = abs(s_eff / s_true - 1)
        print(f"  user {k}: SINR through F {s_eff:.10e} vs antenna-domain F w {s_true:.10e}: {e2:.1e}")
        ok = ok and e2 < 1e-10
    # a mutation: a wrong (conjugated) effective channel changes the SINR
    bad = copy.copy(eff)
    bad.h = inst.h @ big_f
    e3 = abs(bad.uplink_sinr_with(0, w_rf[:, 0], ru) / inst.uplink_sinr_with(0, big_f @ w_rf[:, 0], ru) - 1)
    print(f"  mutation (F^T h instead of F^H h) is detected: {e3:.1e} > 1e-6")
    ok = ok and e3 > 1e-6
    if not ok:
        print("self-test FAILED", file=sys.stderr)
        sys.exit(1)
    print("self-test passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    if not a.file:
        ap.error("FILE or --self-test")
    with open(a.file) as fh:
        data = json.load(fh)
    items = data.get("hybrid_uplink", [])
    if not items:
        print(f"{a.file}: no hybrid_uplink items", file=sys.stderr)
        sys.exit(1)
    errors = []
    for item in items:
        errors += [f"{item['name']}: {e}" for e in check_item(item)]
    if errors:
        for e in errors:
            print(e, file=sys.stderr)
        sys.exit(1)
    print(f"{len(items)} hybrid uplink designs agree with the independent check")


if __name__ == "__main__":
    main()
