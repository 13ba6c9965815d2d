#!/usr/bin/env bash
# OpenMM benchmark: MD steps/s with ConcordForce on the Reference and CPU platforms for a 20-atom
# QM9 molecule, beside the bare model. Writes runs/bench/openmm.md and prints it. Run after
# build.sh with CONCORD_LIB_DIR set: `make bench-openmm`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
: "${CONCORD_LIB_DIR:?set CONCORD_LIB_DIR to the directory of libconcord.so (make bench-openmm does)}"
: "${CONCORD_PYTHON:?source scripts/env.sh first}"
"$CONCORD_PYTHON" plugins/openmm/bench/bench.py "$@"
