#!/usr/bin/env bash
# Tests of the OpenMM plugin with the real OpenMM and Concord: the C++ test program, then the
# Python tests (pytest) against the installed package openmmconcord. Run after build.sh, with
# CONCORD_LIB_DIR set (the Python tests compare with libconcord.so there): `make test-openmm`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
: "${CONCORD_LIB_DIR:?set CONCORD_LIB_DIR to the directory of libconcord.so (make test-openmm does)}"
: "${CONCORD_PYTHON:?source scripts/env.sh first}"
plugins=$("$CONCORD_PYTHON" -c "import openmm.version as v; print(v.openmm_library_path)")/plugins

echo "== C++: target/plugins/openmm/TestConcordForce"
target/plugins/openmm/TestConcordForce examples/models/concord-qm9-gfn2.concord "$plugins"

echo "== Python: plugins/openmm/tests"
cd plugins/openmm/tests
"$CONCORD_PYTHON" -m pytest -p no:cacheprovider -q .
