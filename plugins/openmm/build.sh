#!/usr/bin/env bash
# Builds the Concord OpenMM plugin into target/plugins/openmm/ and installs it into the Python
# environment's OpenMM: libConcordOpenMM.so and headers into the wheel's OpenMM.libs/, the
# package openmmconcord into site-packages (pip). Afterwards `from openmmconcord import
# ConcordForce` works in that environment with no variable set.
# Needs: CONCORD_LIB_DIR (directory of libconcord.so; the Makefile sets it) and the venv of
# scripts/env.sh with plugins/openmm/requirements.txt installed (scripts/setup.sh openmm).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${CONCORD_LIB_DIR:?set CONCORD_LIB_DIR to the directory of libconcord.so (make openmm does)}"
: "${CONCORD_PYTHON:?source scripts/env.sh first}"
build=target/plugins/openmm
mkdir -p "$build"
# One build at a time (two `make openmm` started together share the build directory).
exec 9>"$build.lock"
flock 9
prefix=$("$CONCORD_PYTHON" -c "import openmm.version as v, os; print(os.path.dirname(v.openmm_library_path))")

cmake -S plugins/openmm -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCONCORD_LIB_DIR="$CONCORD_LIB_DIR" -DPython3_EXECUTABLE="$CONCORD_PYTHON" \
  -DCMAKE_INSTALL_PREFIX="$prefix" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j 2
cmake --install "$build" >/dev/null
"$CONCORD_PYTHON" -m pip install -q --no-deps --no-build-isolation --force-reinstall "$build/python"
"$CONCORD_PYTHON" -c "import openmm, openmmconcord; print('openmm: openmmconcord installed in', openmmconcord.__path__[0])"
