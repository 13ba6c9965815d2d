"""A committee in pair_style concord: `pair_style concord M0 M1 ... out_freq N out_file F`
writes DeePMD-kit's model-deviation file, equal to the C ABI's concord_model_deviation on the
same structure, the same on 1 and 2 MPI ranks; the per-atom deviation reaches `fix pair`, so
`fix halt` can stop a run that leaves the potential's domain."""

import numpy as np
import pytest

from concord_c import Model, deviation, element_number
from harness import POTENTIAL, ROOT, lammps, molecule_box, qm9_molecules, write_data

OTHER = ROOT / "examples" / "models" / "candidates" / "concord-qm9-gfn2-long.concord"
COLUMNS = ["step", "max_devi_v", "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f"]


def table(path):
    lines = path.read_text().splitlines()
    assert lines[0].lstrip("#").split() == COLUMNS
    return np.array([[float(v) for v in line.split()] for line in lines[1:]])


def molecule(tmp_path):
    mol = qm9_molecules()[0]
    symbols = mol.get_chemical_symbols()
    types = sorted(set(symbols))
    write_data(tmp_path / "mol.data", symbols, mol.positions, [-20.0] * 3, [20.0] * 3, types)
    return symbols, mol.positions, types


def run_committee(tmp_path, types, data, extra="", nprocs=1, steps=10, boundary="f f f"):
    return lammps(f"""
units metal
boundary {boundary}
atom_style atomic
read_data {data}
pair_style concord {POTENTIAL} {OTHER} precision 64 out_freq 5 out_file devi.out
pair_coeff * * {' '.join(types)}
velocity all create 300 4928 mom yes rot yes dist gaussian
timestep 0.0005
fix 1 all nve
{extra}
run {steps}
""", tmp_path, nprocs=nprocs)


def test_deviation_file_equals_the_c_abi(tmp_path):
    symbols, x, types = molecule(tmp_path)
    run_committee(tmp_path, types, "mol.data")
    rows = table(tmp_path / "devi.out")
    assert rows[:, 0].tolist() == [0, 5, 10]
    ref = deviation([Model(POTENTIAL), Model(OTHER)], [element_number(s) for s in symbols], x)
    step0 = rows[0]
    for k, name in enumerate(COLUMNS[1:], 1):
        assert step0[k] == pytest.approx(ref[name], rel=1e-5, abs=1e-12), name  # %.6e in the file
    assert step0[4] > 0 and step0[4] >= step0[6] >= step0[5]


def test_one_and_two_ranks_agree(tmp_path):
    symbols, x, _, length = molecule_box(qm9_molecules()[2:6], 2, 6.5, seed=5)
    types = sorted(set(symbols))
    write_data(tmp_path / "box.data", symbols, x, [0.0] * 3, [length] * 3, types)
    one, two = tmp_path / "np1", tmp_path / "np2"
    for d, n in ((one, 1), (two, 2)):
        d.mkdir()
        run_committee(d, types, tmp_path / "box.data", nprocs=n, steps=0, boundary="p p p")
    np.testing.assert_allclose(table(two / "devi.out"), table(one / "devi.out"), rtol=1e-5)


def test_a_rank_without_atoms_takes_part_in_the_exchange(tmp_path):
    """Two ranks (the box splits along z), the molecule in the upper half and two atoms of a
    type Concord leaves out (hybrid/overlay, NULL) in the lower half, which LAMMPS sends as
    ghosts: the rank without Concord atoms still makes every exchange of the ghost path, for
    the energy and for each committee member (it once skipped them and both ranks hung), and
    the deviation rows equal one rank's."""
    mol = qm9_molecules()[0]
    symbols = mol.get_chemical_symbols() + ["Ar", "Ar"]
    x = np.vstack([mol.positions - mol.positions.mean(axis=0) + [0.0, 0.0, 15.0],
                   [[0.0, 0.0, -2.0], [3.0, 0.0, -2.0]]])
    types = sorted(set(symbols))
    write_data(tmp_path / "mixed.data", symbols, x, [-20.0] * 3, [20.0] * 3, types)
    coeffs = " ".join("NULL" if t == "Ar" else t for t in types)
    one, two = tmp_path / "np1", tmp_path / "np2"
    for d, n in ((one, 1), (two, 2)):
        d.mkdir()
        lammps(f"""
units metal
boundary f f f
atom_style atomic
read_data {tmp_path / "mixed.data"}
pair_style hybrid/overlay concord {POTENTIAL} {OTHER} precision 64 out_freq 5 out_file devi.out zero 5.0
pair_coeff * * concord {coeffs}
pair_coeff * * zero
run 5
""", d, nprocs=n, timeout=120)
    np.testing.assert_allclose(table(two / "devi.out"), table(one / "devi.out"), rtol=1e-5)


def test_fix_halt_stops_on_the_per_atom_deviation(tmp_path):
    _, _, types = molecule(tmp_path)
    watch = """fix dev all pair 5 concord devi_f 0
compute maxdevi all reduce max f_dev
variable maxdevi equal c_maxdevi
thermo_style custom step v_maxdevi
thermo 5
fix stop all halt 5 v_maxdevi > {limit} error soft
"""
    quiet = run_committee(tmp_path / "a", types, tmp_path / "mol.data", watch.format(limit=100.0), steps=20)
    assert "Fix halt condition" not in quiet.output
    stopped = run_committee(tmp_path / "b", types, tmp_path / "mol.data", watch.format(limit=1e-6), steps=20)
    assert "Fix halt condition" in stopped.output
    assert table(tmp_path / "b" / "devi.out")[-1, 0] < 20


def test_bad_committee_settings_are_errors(tmp_path):
    _, _, types = molecule(tmp_path)
    run = lammps(f"""
units metal
boundary f f f
atom_style atomic
read_data mol.data
pair_style concord {POTENTIAL} out_freq 5
pair_coeff * * {' '.join(types)}
run 0
""", tmp_path, check=False)
    assert "out_freq needs a committee" in run.error()
