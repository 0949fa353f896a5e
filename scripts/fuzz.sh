#!/usr/bin/env bash
# The long fuzzing campaign (CI runs a bounded pass of the same targets in scripts/test.sh):
# every fuzz target of tests/fuzz with many cases (JSON configs, the Python API, NetCDF data
# sets and models, DSSTNE text files), then the file readers byte by byte and at random in
# forked children with a time limit (tests/fuzz/campaign.py), keeping each finding.
# Usage: scripts/fuzz.sh [CASES per pytest target, default 20000] [SECONDS of campaign, default 3600]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cases="${1:-20000}"
seconds="${2:-3600}"
[[ -x .venv/bin/python ]] || scripts/install.sh --test
echo "==> every fuzz target, $cases cases each"
DSSTNE_FUZZ_CASES="$cases" .venv/bin/python -m pytest -q tests/fuzz
echo "==> the file readers for $seconds s (findings kept in fuzz-findings/)"
.venv/bin/python tests/fuzz/campaign.py --seconds "$seconds" --out fuzz-findings
