"""`run 0` with pair_style concord equals the C ABI (concord_compute, float64) on the same
structure: energy, forces, pressure tensor, per-atom energies and per-atom virials."""

import numpy as np
import pytest

from concord_c import Model
from harness import (KCAL_PER_EV, MEASURE, NKTV2P, element_number, POTENTIAL, lammps,
                     molecule_box, qm9_molecules, relative, write_data)

TOL = 1e-10  # relative, float64 on both sides


@pytest.fixture(scope="module")
def reference():
    return Model(POTENTIAL)


def check_against_abi(run, ref, volume, units):
    scale = KCAL_PER_EV if units == "real" else 1.0
    nktv2p = NKTV2P[units]
    dump = run.dump()
    forces = np.column_stack([dump["fx"], dump["fy"], dump["fz"]])
    assert relative(run.result("pe")[0], scale * ref["energy"]) < TOL
    assert relative(forces, scale * ref["forces"]) < TOL
    assert relative(dump["c_cc_pe"], scale * ref["atom_energies"]) < TOL
    w = ref["virial"]
    tensor = np.array([w[0, 0], w[1, 1], w[2, 2], w[0, 1], w[0, 2], w[1, 2]])
    pressure = run.result("press")  # press pxx pyy pzz pxy pxz pyz; no kinetic part (T = 0)
    expected = scale * nktv2p / volume * tensor
    assert relative(pressure[1:], expected) < TOL
    assert relative(pressure[0], expected[:3].mean()) < TOL
    av = ref["atom_virial"]
    atom_tensor = np.stack([av[:, 0, 0], av[:, 1, 1], av[:, 2, 2],
                            av[:, 0, 1], av[:, 0, 2], av[:, 1, 2]], axis=1)
    lammps_atom = np.column_stack([dump[f"c_cc_va[{k}]"] for k in range(1, 7)])
    assert relative(lammps_atom, -scale * nktv2p * atom_tensor) < TOL


@pytest.mark.parametrize("units", ["metal", "real"])
def test_isolated_molecule(tmp_path, reference, units):
    mol = qm9_molecules()[0]
    symbols = mol.get_chemical_symbols()
    types = sorted(set(symbols))
    lo, hi = [-20.0] * 3, [20.0] * 3
    write_data(tmp_path / "mol.data", symbols, mol.positions, lo, hi, types)
    run = lammps(f"""
units {units}
boundary f f f
atom_style atomic
read_data mol.data
pair_style concord {POTENTIAL} precision 64
pair_coeff * * {' '.join(types)}
{MEASURE}""", tmp_path)
    ref = reference.compute([element_number(s) for s in symbols], mol.positions)
    check_against_abi(run, ref, 40.0 ** 3, units)


@pytest.mark.parametrize("options", ["", "cell no", "cell no pairs lammps"])
def test_periodic_box(tmp_path, reference, options):
    """A molecule in a small periodic triclinic box (it sees its own images) on one rank: the
    whole-system path (default) and the ghost-atom path, with Concord's and with LAMMPS's
    neighbour pairs."""
    symbols, x, _, length = molecule_box(qm9_molecules()[:1], 1, 10.5, seed=1)
    types = sorted(set(symbols))
    tilt = (0.7, -0.4, 0.3)
    write_data(tmp_path / "box.data", symbols, x, [0.0] * 3, [length] * 3, types, tilt=tilt)
    run = lammps(f"""
units metal
boundary p p p
atom_style atomic
read_data box.data
pair_style concord {POTENTIAL} precision 64 {options}
pair_coeff * * {' '.join(types)}
{MEASURE}""", tmp_path)
    dump = run.dump()
    positions = np.column_stack([dump["x"], dump["y"], dump["z"]])
    cell = np.array([[length, 0, 0], [tilt[0], length, 0], [tilt[1], tilt[2], length]])
    ref = reference.compute([element_number(s) for s in symbols], positions, cell=cell)
    check_against_abi(run, ref, length ** 3, "metal")


def test_cell_and_ghost_paths_agree(tmp_path):
    """The one-rank whole-system path and the ghost-atom path give the same numbers to 1e-12
    (relative, float64) on a small periodic triclinic box, per-atom virials included."""
    symbols, x, _, length = molecule_box(qm9_molecules()[:1], 1, 10.5, seed=1)
    types = sorted(set(symbols))
    write_data(tmp_path / "box.data", symbols, x, [0.0] * 3, [length] * 3, types,
               tilt=(0.7, -0.4, 0.3))
    results = []
    for options in ("", "cell no"):
        run = lammps(f"""
units metal
boundary p p p
atom_style atomic
read_data {tmp_path / "box.data"}
pair_style concord {POTENTIAL} precision 64 {options}
pair_coeff * * {' '.join(types)}
{MEASURE}""", tmp_path / (options.replace(" ", "") or "cell"))
        dump = run.dump()
        results.append([run.result("pe"), run.result("press")] +
                       [dump[c] for c in ("fx", "fy", "fz", "c_cc_pe")] +
                       [dump[f"c_cc_va[{k}]"] for k in range(1, 7)])
    for cell, ghost in zip(*results):
        assert relative(ghost, cell) < 1e-12
