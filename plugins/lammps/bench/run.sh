#!/usr/bin/env bash
# Benchmarks pair_style concord in the real LAMMPS and writes runs/bench/lammps.md (printed too).
# Usage (make bench-lammps): CONCORD_LIB_DIR=DIR bash plugins/lammps/bench/run.sh [--sizes 500,3000]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$root/scripts/env.sh"
: "${CONCORD_LIB_DIR:?set CONCORD_LIB_DIR to the directory of libconcord.so (the Makefile does)}"
[ -f "$root/target/plugins/lammps/concordplugin.so" ] || {
  echo "bench/run.sh: build the plugin first (make lammps)" >&2; exit 1; }
exec "$CONCORD_PYTHON" "$here/bench.py" "$@"
