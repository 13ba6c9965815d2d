"""LAMMPS forces are the negative gradient of the LAMMPS energy: central differences of `run 0`
energies after displacing single atoms (isolated molecule and periodic box, float64)."""

import pytest

from harness import POTENTIAL, lammps, molecule_box, qm9_molecules, write_data

STEP = 1e-4  # Å


def finite_difference(data, boundary, types, atoms):
    """A script printing the energy after displacing each of `atoms` by ±STEP along x, y, z."""
    lines = [f"""
units metal
boundary {boundary}
atom_style atomic
read_data {data}
pair_style concord {POTENTIAL} precision 64
pair_coeff * * {' '.join(types)}
thermo_style custom step pe
run 0
write_dump all custom dump.final id fx fy fz modify format float %.17g sort id
"""]
    for i in atoms:
        lines.append(f"group g{i} id {i}")
        for d, axis in enumerate("xyz"):
            for sign in (1, -1):
                move = ["0", "0", "0"]
                move[d] = f"{sign * STEP}"
                lines.append(f"displace_atoms g{i} move {' '.join(move)} units box")
                lines.append("run 0 post no")
                lines.append(f'print "RESULT e{i}{axis}{sign:+d} $(pe:%.17g)"')
                move[d] = f"{-sign * STEP}"
                lines.append(f"displace_atoms g{i} move {' '.join(move)} units box")
    return "\n".join(lines)


@pytest.mark.parametrize("case", ["isolated", "periodic"])
def test_forces_are_energy_gradient(tmp_path, case):
    if case == "isolated":
        mol = qm9_molecules()[1]
        symbols, x = mol.get_chemical_symbols(), mol.positions
        lo, hi, boundary = [-15.0] * 3, [15.0] * 3, "f f f"
    else:
        symbols, x, _, length = molecule_box(qm9_molecules()[:2], 2, 6.5, seed=3)
        lo, hi, boundary = [0.0] * 3, [length] * 3, "p p p"
    types = sorted(set(symbols))
    write_data(tmp_path / "sys.data", symbols, x, lo, hi, types)
    atoms = [1, 2, len(symbols)]
    run = lammps(finite_difference("sys.data", boundary, types, atoms), tmp_path)
    dump = run.dump()
    for i in atoms:
        for d, axis in enumerate("xyz"):
            plus, minus = run.result(f"e{i}{axis}+1")[0], run.result(f"e{i}{axis}-1")[0]
            numeric = -(plus - minus) / (2 * STEP)
            analytic = dump[f"f{axis}"][i - 1]
            assert abs(numeric - analytic) < 1e-5 + 1e-4 * abs(analytic), (i, axis, numeric,
                                                                            analytic)
