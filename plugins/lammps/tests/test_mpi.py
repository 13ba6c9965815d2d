"""Domain decomposition: 1, 2 and 4 MPI ranks give the same energy, forces, pressure and
per-atom energies (1e-9 relative, float64) on a periodic box of molecules. One rank takes the
whole-system path, several ranks the ghost-atom path, so this also checks the two agree; the
ghost path with the exchange of features between layers (the default: ghosts within one cutoff)
and without it (`exchange no`: ghosts cover the receptive field)."""

import numpy as np
import pytest

from harness import MEASURE, POTENTIAL, lammps, molecule_box, qm9_molecules, relative, write_data

TOL = 1e-9


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    # A sparse box (2^3 molecules, 6.5 Å apart) keeps the ghost shells (receptive field 15 Å
    # + skin) small enough for 4 ranks on 2 cores.
    symbols, x, _, length = molecule_box(qm9_molecules()[2:6], 2, 6.5, seed=5)
    types = sorted(set(symbols))
    path = tmp_path_factory.mktemp("box") / "box.data"
    write_data(path, symbols, x, [0.0] * 3, [length] * 3, types)
    return path, types


def measure(tmp_path, box, nprocs, options=""):
    path, types = box
    run = lammps(f"""
units metal
boundary p p p
atom_style atomic
read_data {path}
neighbor 1.0 bin
pair_style concord {POTENTIAL} precision 64 {options}
pair_coeff * * {' '.join(types)}
{MEASURE}""", tmp_path, nprocs=nprocs)
    dump = run.dump()
    return {"pe": run.result("pe"), "press": run.result("press"),
            "forces": np.column_stack([dump["fx"], dump["fy"], dump["fz"]]),
            "atom_pe": dump["c_cc_pe"],
            "atom_virial": np.column_stack([dump[f"c_cc_va[{k}]"] for k in range(1, 7)])}


@pytest.fixture(scope="module")
def one_rank(tmp_path_factory, box):
    return measure(tmp_path_factory.mktemp("np1"), box, 1)


@pytest.mark.parametrize("nprocs, options", [(1, "cell no"), (2, ""), (4, ""),
                                             (2, "pairs lammps"), (1, "cell no exchange no"),
                                             (2, "exchange no"),
                                             (2, "pairs lammps exchange no")])
def test_ranks_agree(tmp_path, box, one_rank, nprocs, options):
    other = measure(tmp_path, box, nprocs, options)
    for key in ("pe", "press", "forces", "atom_pe", "atom_virial"):
        assert relative(other[key], one_rank[key]) < TOL, (key, nprocs, options)
