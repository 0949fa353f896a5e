#!/usr/bin/env bash
# DSSTNE's MovieLens walkthrough with dsstne's tools: text → NetCDF (input and output share the
# sample index), train the autoencoder, recommend the top 10 unseen movies per user.
#
# Usage: examples/movielens_walkthrough.sh RATINGS.txt [CONFIG.json] [WORKDIR]
#   RATINGS.txt  DSSTNE's text format, one user per line: user<TAB>movie,time:movie,time:...
#                (in the development checkout: ../shared/dsstne-reference/data/movielens_input_1024.txt)
#   CONFIG.json  the network (default: DSSTNE's movielens_autoencoder.json, installed with the
#                package: python3 -m dsstne.examples movielens_autoencoder.json prints it)
set -euo pipefail
ratings="$(realpath "${1:?usage: $0 RATINGS.txt [CONFIG.json] [WORKDIR]}")"
config="$(realpath "${2:-$(python3 -m dsstne.examples --path movielens_autoencoder.json)}")"
work="${3:-$(mktemp -d)}"
mkdir -p "$work" && cd "$work"

dsstne generateNetCDF -d gl_input -i "$ratings" -o gl_input.nc -f features_input -s samples_input -c
dsstne generateNetCDF -d gl_output -i "$ratings" -o gl_output.nc -f features_output -s samples_input -c
dsstne train -c "$config" -i gl_input.nc -o gl_output.nc -n gl.nc -b 256 -e 10
# The ratings themselves are the filter: movies a user has seen are never recommended.
dsstne predict -b 256 -d gl -i features_input -o features_output -k 10 -n gl.nc \
  -f "$ratings" -s recs -r "$ratings"
echo "recommendations in $work/recs:"
head -3 recs
