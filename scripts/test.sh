#!/usr/bin/env bash
# The whole test suite: install what is missing, the Rust tests (the dev profile is
# optimised: the SDP tests solve real instances), clippy, and the independent
# numpy + CVXPY cross-check of the backscatter design on random instances.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
cargo test --quiet
cargo clippy --quiet --all-targets -- -D warnings
cargo build --quiet
mkdir -p out
python3 python/backscatter_reference.py --self-test
target/debug/isac bench backscatter --cross-check out/crosscheck.json
python3 python/backscatter_reference.py out/crosscheck.json
echo "all tests passed"
