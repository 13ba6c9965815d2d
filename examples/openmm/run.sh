#!/usr/bin/env bash
# The OpenMM examples, short: MD of a QM9 molecule with MODEL, then positions from the generator
# minimised on MODEL. Usage: examples/openmm/run.sh MODEL (make demo-openmm builds the plugin
# and passes DEMO_MODEL). Writes runs/openmm/.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:?usage: examples/openmm/run.sh MODEL.concord}
: "${CONCORD_PYTHON:?source scripts/env.sh first}"
echo "== OpenMM: molecular dynamics (examples/openmm/md.py)"
"$CONCORD_PYTHON" examples/openmm/md.py "$model" --steps 200
echo "== OpenMM: generated positions + LocalEnergyMinimizer (examples/openmm/generate_minimize.py)"
"$CONCORD_PYTHON" examples/openmm/generate_minimize.py "$model"
