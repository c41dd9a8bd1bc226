#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: the package (CPU torch where there is
# no CUDA), the test tools, and the real editors the editor tests drive. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q --upgrade pip
python3 -m pip install -q "torch==2.13.0"
python3 -m pip install -q -e ".[test,ray]"

if [ -f .ci/install-editors.sh ]; then
  bash .ci/install-editors.sh
fi
