# Reference-data targets (the other targets of this Makefile are maintained separately).
## Reference data (docs/data.md): QM9 molecules -> MOPAC PM6 minima -> GFN2-xTB energies and
## forces, written to data/qm9-gfn2/ (full) and data/qm9-gfn2/tiny/. Resumable: per-molecule
## results are kept in data/work/. DATA_WORKERS parallel processes (one thread each).
SHELL := /bin/bash
DATA_WORKERS ?= 2
DATA_PY := source scripts/env.sh && nice -n 5 "$$CONCORD_PYTHON"

.PHONY: data data-tiny

data:
	scripts/setup.sh data
	$(DATA_PY) scripts/data/run.py --set full --workers $(DATA_WORKERS)
	$(DATA_PY) scripts/data/assemble.py --set full
	$(DATA_PY) scripts/data/assemble.py --set tiny
	$(DATA_PY) scripts/data/stats.py --set full
	$(DATA_PY) scripts/data/stats.py --set tiny
	$(DATA_PY) scripts/data/check.py --set all

data-tiny:
	scripts/setup.sh data
	$(DATA_PY) scripts/data/run.py --set tiny --workers $(DATA_WORKERS)
	$(DATA_PY) scripts/data/assemble.py --set tiny
	$(DATA_PY) scripts/data/stats.py --set tiny
	$(DATA_PY) scripts/data/check.py --set tiny
