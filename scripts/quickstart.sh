#!/usr/bin/env bash
# Installs everything, then trains the bundled example and prints top-10 recommendations.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install.sh"
cd "$root"
.venv/bin/python examples/quickstart.py
