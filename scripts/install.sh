#!/usr/bin/env bash
# Installs what `isac` needs on a fresh Debian machine (idempotent; quick when nothing is
# missing): the system packages, and the Python packages of python/requirements.txt in
# the project's own virtual environment `.venv` (Debian 12 refuses `pip install` into the
# system interpreter: "externally managed"). Every script runs Python as .venv/bin/python.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_install() {
    echo "installing: $*" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
need=()
for pkg in libopenblas-dev libgfortran-12-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
    apt_install "${need[@]}"
fi
cd "$(dirname "$0")/.."
# .venv: (re)created when missing or broken (e.g. its interpreter was removed)
if ! .venv/bin/python -c "import sys" >/dev/null 2>&1; then
    rm -rf .venv
    if ! python3 -m venv .venv >/dev/null 2>&1; then
        # Debian ships venv/ensurepip separately
        rm -rf .venv
        apt_install python3-venv
        python3 -m venv .venv
    fi
fi
# pip runs only when python/requirements.txt changed since the last successful install
stamp=.venv/.requirements.sha256
want="$(sha256sum python/requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "installing the Python packages of python/requirements.txt into .venv" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -r python/requirements.txt
    echo "$want" >"$stamp"
fi
