#!/usr/bin/env bash
# The whole test suite: install what is missing, Rust tests (release build: the SDP
# tests solve real instances), clippy, and the independent CVXPY cross-check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
cargo test --release --quiet
cargo build --release --quiet
python3 python/backscatter_reference.py --self-test
target/release/isac bench backscatter --cross-check out/crosscheck.json --repeat 1
python3 python/backscatter_reference.py out/crosscheck.json
