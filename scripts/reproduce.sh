#!/usr/bin/env bash
# One command on a fresh Debian machine: install what is missing (system packages, and the
# Python packages in .venv, which the cross-checks use), build, and reproduce
# a paper figure from its embedded configuration (default: backscatter Fig. 5(b)).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
cargo build --release --quiet
target/release/isac reproduce "${1:-backscatter-fig5b}" --output out
