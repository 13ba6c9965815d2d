# Source this file to point the build at the project-local dependencies installed by
# scripts/setup.sh (libtorch from the PyPI torch wheel, the Python venv with the engines).
CONCORD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CONCORD_DEPS="${CONCORD_DEPS:-$CONCORD_ROOT/.deps}"
export LIBTORCH="$CONCORD_DEPS/torch-2.13.0/torch"
export LIBTORCH_CXX11_ABI=1
export CONCORD_PYTHON="$CONCORD_DEPS/venv/bin/python"
export PATH="$CONCORD_DEPS/venv/bin:$PATH"
