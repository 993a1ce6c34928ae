#!/usr/bin/env bash
# The whole test suite: install what is missing, the Rust tests (the dev profile is
# optimised: the SDP tests solve real instances), clippy, and the independent
# numpy + CVXPY cross-checks of the backscatter design on random instances and of the
# multi-static SCA (same iterations from the same start, final objective within 1e-5),
# of network designs (re-check outside isac, CVXPY optimum of the same program), and of
# the near-field fully digital designs (responses and appendix FIM rebuilt from the
# geometry, re-check, CVXPY optimum of the full program; about 20 s), and of the
# bistatic/monostatic weighted-sum CRB designs (FIMs rebuilt from the sampled OFDM
# model, re-check, CVXPY optimum of the full-V program; about 15 s) and analog designs
# (against SLSQP from the same starts; about 50 s).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
PY=.venv/bin/python   # the project's virtual environment (scripts/install.sh)
cargo test --quiet
cargo clippy --quiet --all-targets -- -D warnings
cargo build --quiet
mkdir -p out
"$PY" python/backscatter_reference.py --self-test
target/debug/isac bench backscatter --cross-check out/crosscheck.json
"$PY" python/backscatter_reference.py out/crosscheck.json
"$PY" python/multistatic_reference.py --self-test
target/debug/isac bench multistatic --cross-check out/ms_crosscheck.json
"$PY" python/multistatic_reference.py --problem out/ms_crosscheck.json --out out/ms_crosscheck_cvxpy.json --check-tol 1e-5
"$PY" python/nearfield_reference.py --self-test
target/debug/isac bench nearfield --cross-check out/nf_crosscheck.json
"$PY" python/nearfield_reference.py out/nf_crosscheck.json
# the hybrid PDD blocks (38) and (43): isac's reduced block (38) against the full one in
# CVXPY, the SDR (43) rebuilt from the paper's (43b) (about 15 s)
"$PY" python/nearfield_pdd_reference.py --self-test
"$PY" python/nearfield_pdd_reference.py out/nf_crosscheck.json --no-timing
# the hybrid uplink (Algorithm 6): isac's designs re-checked on the true channels and
# block {U, R_u, w_k} at isac's final F against CVXPY's full program (a few seconds)
"$PY" python/nearfield_uplink_reference.py --self-test
"$PY" python/nearfield_uplink_reference.py out/nf_crosscheck.json
"$PY" python/bpms_reference.py --self-test
target/debug/isac bench bpms --cross-check out/bpms_crosscheck.json
"$PY" python/bpms_reference.py out/bpms_crosscheck.json
# the analog designs: isac's Algorithm 1 (+ joint polish) against the paper's SQP
# Algorithm 1 in scipy (SLSQP) from the same starts, equal or better on every instance;
# the analog CPA re-checked and its allocation against CVXPY (about 50 s)
"$PY" python/bpms_analog_reference.py --self-test
"$PY" python/bpms_analog_reference.py out/bpms_crosscheck.json
for cfg in crosscheck table2-fixed; do
    target/debug/isac solve network --input configs/network/$cfg.toml --json > out/network_$cfg.json
    "$PY" python/network_reference.py out/network_$cfg.json --check-tol 1e-3
done
# the joint variant's design on the same small instance
sed 's/method = "exhaustive"/method = "joint"/' configs/network/crosscheck.toml > out/network_joint.toml
target/debug/isac solve network --input out/network_joint.toml --json > out/network_joint.json
"$PY" python/network_reference.py out/network_joint.json --check-tol 1e-3
echo "all tests passed"
