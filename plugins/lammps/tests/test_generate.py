"""concord_generate places every molecule from its bond topology: the relaxed structures of
the smallest molecules have bond lengths in physical ranges and no clashes, for several seeds;
MPI gives the same structures; each molecule stays where it was."""

import numpy as np
import pytest

from harness import GENERATOR, POTENTIAL, ROOT, lammps, write_data
from small_molecules import MOLECULES, write_molecules

#: Accepted bond lengths in Å by (element pair, order): wide enough for a learned potential,
#: narrow enough to reject a broken or squashed bond.
BOND_RANGES = {
    ("H", "O", 1): (0.93, 1.02), ("H", "N", 1): (0.97, 1.06), ("C", "H", 1): (1.04, 1.14),
    ("C", "O", 1): (1.36, 1.47), ("C", "C", 1): (1.48, 1.58), ("C", "O", 2): (1.17, 1.25),
}
NAMES = list(MOLECULES)
SHIPPED_GENERATOR = ROOT / "examples" / "models" / "concord-generator.concord"


def generate(tmp_path, seed, nprocs=1, extra="", after=""):
    starts = write_molecules(tmp_path / "mols.data", NAMES)
    run = lammps(f"""
units metal
boundary f f f
atom_style full
read_data mols.data
concord_generate {GENERATOR} elements C H N O bondorder 1 2 3 seed {seed} {extra}
{after}
write_dump all custom dump.final id mol x y z modify format float %.17g sort id
""", tmp_path, nprocs=nprocs)
    dump = run.dump()
    return run, starts, np.column_stack([dump["x"], dump["y"], dump["z"]])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_relaxed_structures_are_sane(tmp_path, seed):
    run, starts, x = generate(tmp_path, seed, extra="samples 8")
    assert "6 relaxations converged; 0 do not match their bonds" in run.output
    for name, start in starts:
        symbols, bonds = MOLECULES[name]
        xs = x[start - 1:start - 1 + len(symbols)]
        bonded = set()
        for i, j, order in bonds:
            lo, hi = BOND_RANGES[(*sorted((symbols[i], symbols[j])), order)]
            d = np.linalg.norm(xs[i] - xs[j])
            assert lo <= d <= hi, (name, symbols[i], symbols[j], d)
            bonded |= {(i, j), (j, i)}
        for i in range(len(symbols)):
            for j in range(i + 1, len(symbols)):
                if (i, j) not in bonded:
                    assert np.linalg.norm(xs[i] - xs[j]) > 1.5, (name, i, j)


def test_mpi_gives_the_same_structures(tmp_path):
    _, _, one = generate(tmp_path / "np1", 4, extra="samples 2")
    _, _, two = generate(tmp_path / "np2", 4, nprocs=2, extra="samples 2")
    assert np.max(np.abs(one - two)) < 1e-9


def test_molecules_keep_their_centres(tmp_path):
    starts = write_molecules(tmp_path / "before.data", NAMES)
    before = [line.split() for line in (tmp_path / "before.data").read_text()
              .split("Atoms # full")[1].split("Bonds")[0].strip().splitlines()]
    before = np.array([[float(v) for v in row[4:7]] for row in before])
    _, _, after = generate(tmp_path, 9, extra="relax no")
    for name, start in starts:
        k = slice(start - 1, start - 1 + len(MOLECULES[name][0]))
        assert np.allclose(after[k].mean(axis=0), before[k].mean(axis=0), atol=1e-6), name


def test_another_potential_relaxes(tmp_path):
    """With `potential FILE` the samples are relaxed on that model: its forces fall below the
    relaxation threshold (0.05 eV/Å, the default for generated structures) at the placed atoms (molecules 12 Å apart, beyond the 5 Å cutoff), which the generator model's own
    relaxation does not achieve."""
    forces = "pair_style concord {} precision 64\npair_coeff * * C H N O\nrun 0\n" \
             "variable fmax equal fmax\nprint 'FMAX ${{fmax}}'".format(POTENTIAL)
    fmax = {}
    for name, extra in (("own", ""), ("other", f"potential {POTENTIAL}")):
        run, _, _ = generate(tmp_path / name, 5, extra=f"samples 2 {extra}", after=forces)
        assert "6 relaxations converged" in run.output, run.output[-2000:]
        fmax[name] = float(run.output.split("FMAX ")[-1].split()[0])
    assert fmax["other"] <= 0.0501, fmax
    assert fmax["own"] > 0.2, fmax


NITROMETHANE = (["C", "N", "O", "O", "H", "H", "H"],
                [(0, 1, 1), (1, 2, 2), (1, 3, 1), (0, 4, 1), (0, 5, 1), (0, 6, 1)])


def generate_nitromethane(tmp_path, charges, extra):
    """concord_generate on nitromethane (N+ and O- as the atoms' charges q) with the shipped
    generator relaxed on the shipped potential."""
    symbols, bonds = NITROMETHANE
    x = np.random.default_rng(0).uniform(-0.5, 0.5, size=(len(symbols), 3))
    write_data(tmp_path / "nitro.data", symbols, x, [-10.0] * 3, [10.0] * 3, ["C", "H", "N", "O"],
               molecule_ids=[1] * len(symbols), bonds=[(o, i + 1, j + 1) for i, j, o in bonds],
               charges=charges)
    return lammps(f"""
units metal
boundary f f f
atom_style full
read_data nitro.data
concord_generate {SHIPPED_GENERATOR} elements C H N O bondorder 1 2 potential {POTENTIAL} {extra}
write_dump all custom dump.final id x y z modify format float %.17g sort id
""", tmp_path, check=False)


def test_formal_charges_from_atom_charges(tmp_path):
    """`charges yes`: the atoms' charges are their formal charges, so nitromethane is placed
    with two N-O bonds of about 1.2 Å; without it the same graph is a radical oxygen, and a
    charge that is not a whole number is refused by atom ID."""
    q = [0, 1, 0, -1, 0, 0, 0]
    run = generate_nitromethane(tmp_path / "yes", q, "charges yes samples 2")
    assert run.returncode == 0 and "0 do not match their bonds" in run.output, run.output[-2000:]
    dump = run.dump()
    x = np.column_stack([dump["x"], dump["y"], dump["z"]])
    no = np.linalg.norm(x[[2, 3]] - x[1], axis=1)
    assert np.all((no > 1.10) & (no < 1.35)), no
    run = generate_nitromethane(tmp_path / "no", q, "samples 1")
    assert run.returncode == 1 and "a radical" in run.error(), run.output[-2000:]
    run = generate_nitromethane(tmp_path / "frac", [0, 0.4, 0, -0.4, 0, 0, 0], "charges yes samples 1")
    assert run.returncode == 1 and "atom 2 has a charge that is not a whole number" in run.error(), \
        run.output[-2000:]
