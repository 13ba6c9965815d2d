#!/usr/bin/env bash
# Runs the LAMMPS examples briefly with MODEL (the potential): an isolated molecule (minimise,
# NVT, NVE), a periodic box of molecules on 2 MPI ranks, and generate + minimise (the shipped
# generator places the atoms; MODEL relaxes and minimises them). Outputs go to
# runs/lammps-examples/. Usage (make demo-lammps): bash examples/lammps/run.sh MODEL
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/scripts/env.sh"
model="$(realpath "${1:?usage: examples/lammps/run.sh MODEL}")"
generator="$root/examples/models/concord-generator.concord"
export LAMMPS_PLUGIN_PATH="$root/target/plugins/lammps"  # loads concordplugin.so at start
[ -f "$LAMMPS_PLUGIN_PATH/concordplugin.so" ] || {
  echo "examples/lammps/run.sh: build the plugin first (make lammps)" >&2; exit 1; }
out="$root/runs/lammps-examples"
mkdir -p "$out"
cp "$here"/*.in "$here"/*.data "$out/"
cd "$out"

echo "== isolated molecule: minimise, 100 NVT + 100 NVE steps (molecule.log)"
lmp -nocite -in molecule.in -var model "$model" -var steps 100 -log molecule.log -screen none
grep -A3 "Minimization stats" molecule.log | tail -n 3
tail -n 30 molecule.log | grep -B1 -A1 "^Loop time"

echo "== periodic box of 8 molecules on 2 MPI ranks: 5 NVT steps (box.log)"
mpiexec -n 2 lmp -nocite -in box.in -var model "$model" -var steps 5 -log box.log -screen none
grep -B7 "^Loop time" box.log

echo "== generate from the bond topology, then minimise (generate.log, generated.xyz)"
lmp -nocite -in generate.in -var generator "$generator" -var potential "$model" -log generate.log \
  -screen none
grep -E "^  molecule|^concord_generate:|WARNING" generate.log || true
grep -A3 "Minimization stats" generate.log | tail -n 3
echo "examples/lammps/run.sh: outputs in $out"
