#!/usr/bin/env bash
# Measures the recommendation configs (installed with the package: python3 -m dsstne.examples
# lists them), dae_sigmoid.json, mult_dae.json and DSSTNE's own MovieLens config, under
# strong generalization (held-out users; 80% of each one's movies in, 20% to find), each beside
# popularity and EASE. The numbers in examples/README.md come from this script.
#
# Usage: examples/recommend/evaluate_movielens.sh RATINGS.txt [OUTDIR]
#   RATINGS.txt  DSSTNE's text format, one user per line (in the development checkout:
#                ../shared/dsstne-reference/data/movielens_input_1024.txt)
#   OUTDIR       where the --json results go (default: a new temporary directory)
# Environment: DEVICE (cpu or cuda; default: the GPU when there is one), SEEDS (default
#   11,12,13,14,15), USERS (use only the first USERS lines), EPOCHS (train every model this
#   many epochs instead of its own count: for a quick try).
set -euo pipefail
config() { python3 -m dsstne.examples --path "$1"; }
ratings="$(realpath "${1:?usage: $0 RATINGS.txt [OUTDIR]}")"
out="${2:-$(mktemp -d)}"
mkdir -p "$out"
seeds="${SEEDS:-11,12,13,14,15}"
if [[ -n "${USERS:-}" ]]; then
  head -n "$USERS" "$ratings" > "$out/ratings.txt"
  ratings="$out/ratings.txt"
fi
epochs() { echo "${EPOCHS:-$1}"; }
common=(-r "$ratings" --seeds "$seeds" -k 10,20,50 --ease-lambda 200 --force ${DEVICE:+--device "$DEVICE"})

echo "== dae_sigmoid.json: Tanh 1500, sigmoid outputs, cross-entropy, Adam"
dsstne evaluate "${common[@]}" -c "$(config dae_sigmoid.json)" --optimizer adam -alpha 0.001 \
  -mu 0.9 -mu1 0.999 -lambda 0 -b 128 -e "$(epochs 100)" --json "$out/dae_sigmoid.json"

echo "== mult_dae.json: Tanh 600, softmax outputs (multinomial likelihood), Adam"
dsstne evaluate "${common[@]}" -c "$(config mult_dae.json)" --optimizer adam -alpha 0.0003 \
  -mu 0.9 -mu1 0.999 -lambda 0 -b 64 -e "$(epochs 100)" --json "$out/mult_dae.json"

echo "== DSSTNE's movielens_autoencoder.json, trained as DSSTNE's walkthrough does (SGD)"
dsstne evaluate "${common[@]}" -c "$(config movielens_autoencoder.json)" -b 256 \
  -e "$(epochs 45)" --json "$out/dsstne_movielens.json"
echo "results in $out"
