"""Dynamics with pair_style concord: NVE energy conservation over 10 ps, minimisation,
thermostat and barostat, and pair_style hybrid/overlay with other styles."""

import numpy as np
import pytest

from concord_c import Model
from harness import (element_number, POTENTIAL, lammps, molecule_box, qm9_molecules, relative,
                     write_data)


def molecule_data(tmp_path, index=0, jitter=0.0, extra=()):
    mol = qm9_molecules()[index]
    symbols = mol.get_chemical_symbols()
    x = mol.positions + np.random.default_rng(0).normal(scale=jitter, size=mol.positions.shape)
    types = sorted(set(symbols))
    write_data(tmp_path / "mol.data", symbols + [s for s, _ in extra],
               np.vstack([x] + [p for _, p in extra]) if extra else x,
               [-20.0] * 3, [20.0] * 3, types + sorted({s for s, _ in extra}))
    return symbols, x, types


def preamble(types, options=""):
    """LAMMPS input lines that read mol.data and load the shipped potential (`options` after
    the model file) for atom types `types`."""
    return f"""units metal
boundary f f f
atom_style atomic
read_data mol.data
pair_style concord {POTENTIAL} {options}
pair_coeff * * {' '.join(types)}
"""


@pytest.mark.parametrize("precision", [64, 32])
def test_nve_energy_drift(tmp_path, precision):
    """A QM9 molecule (16 atoms) at 300 K, 0.25 fs steps for 5 ps, in float64 and in float32
    (the network in float32, energies and forces accumulated in float64). (At 0.5 fs the
    shipped organic potential, stiffer than the QM9-only one, fluctuates by 11 meV over 10 ps:
    a Verlet error of order dt^2, not a drift.)"""
    _, _, types = molecule_data(tmp_path)
    run = lammps(f"""
{preamble(types, f'precision {precision}')}velocity all create 300 4928 mom yes rot yes dist gaussian
timestep 0.00025
fix 1 all nve
thermo_style custom step time temp etotal
thermo_modify format float %.15g
thermo 100
run 20000
""", tmp_path)
    rows = [line.split() for line in run.output.splitlines()
            if len(line.split()) == 4 and line.split()[0].isdigit()]
    table = np.array([[float(v) for v in row] for row in rows])
    time_ps, etotal = table[:, 1], table[:, 3]
    assert time_ps[-1] >= 5.0
    slope = np.polyfit(time_ps, etotal, 1)[0]
    spread = etotal.max() - etotal.min()
    print(f"float{precision}: NVE drift {slope * 1e3:+.4f} meV/ps ({slope * 1e3 / 16:+.5f} meV/ps/atom) over "
          f"{time_ps[-1]:.1f} ps; total-energy spread {spread * 1e3:.3f} meV")
    assert abs(slope) < 1e-3  # eV/ps: under 5 meV over the 5 ps
    assert spread < 0.01  # eV


def test_minimize_converges_in_float64_after_float32_dynamics(tmp_path):
    """CG minimisation converges on the force tolerance. Under `precision auto` (the default)
    `run` evaluates the float32 model (float64 accumulation: the energy of `precision 32`) and
    `minimize` the float64 one (equal to the C ABI in float64 at the same positions)."""
    symbols, x, types = molecule_data(tmp_path, index=1, jitter=0.05)
    run = lammps(f"""
{preamble(types)}thermo_style custom step pe fmax
run 0
print "RESULT start $(pe:%.17g) $(fmax:%.17g)"
min_style cg
minimize 0 1e-4 2000 20000
print "RESULT end $(pe:%.17g) $(fmax:%.17g)"
write_dump all custom dump.min id x y z modify format float %.17g sort id
""", tmp_path)
    start, end = run.result("start"), run.result("end")
    assert end[0] < start[0]
    assert end[1] < 2e-3, end  # eV/Å
    assert "Stopping criterion = force tolerance" in run.output
    # `run` in the default precision is the float32 model: the same energy, bit for bit, as
    # `precision 32` on the same input (same atom order), and not the float64 one. (Against the
    # C ABI the sums run in another order, ~1e-6 eV apart, as far as float32 is from float64.)
    def start_energy(precision):
        return lammps(f"""
{preamble(types, f'precision {precision}')}run 0
print "RESULT start $(pe:%.17g)"
""", tmp_path).result("start")[0]
    assert start[0] == start_energy(32) and start[0] != start_energy(64), start
    assert "minimisation evaluates the model in float64" in run.output
    z = [element_number(s) for s in symbols]
    x_min = np.loadtxt(tmp_path / "dump.min", skiprows=9)[:, 1:]
    e_min = Model(POTENTIAL, precision=64).compute(z, x_min)["energy"]
    assert relative(end[0], e_min) < 1e-10


def test_thermostat_and_barostat(tmp_path):
    symbols, x, _, length = molecule_box(qm9_molecules()[:2], 2, 6.5, seed=2)
    types = sorted(set(symbols))
    write_data(tmp_path / "box.data", symbols, x, [0.0] * 3, [length] * 3, types)
    run = lammps(f"""
units metal
boundary p p p
atom_style atomic
read_data box.data
pair_style concord {POTENTIAL} precision 32
pair_coeff * * {' '.join(types)}
velocity all create 300 11 mom yes rot no
timestep 0.0005
thermo_style custom step temp pe press vol
print "RESULT vol0 $(vol:%.17g)"
fix 1 all nvt temp 300 300 0.05
run 20
unfix 1
fix 2 all npt temp 300 300 0.05 iso 1000 1000 0.5
run 40
print "RESULT end $(pe:%.17g) $(press:%.17g) $(vol:%.17g) $(temp:%.17g)"
""", tmp_path)
    end = run.result("end")
    assert np.all(np.isfinite(end))
    assert end[2] != run.result("vol0")[0]  # the barostat moved the box


def test_hybrid_overlay(tmp_path):
    """Argon atoms (type NULL for Concord) handled by lj/cut next to a molecule: Concord's part
    equals the C ABI on the molecule alone, and its forces on the molecule too."""
    argon = [("Ar", np.array([[8.0, 8.0, 8.0]])), ("Ar", np.array([[11.5, 8.0, 8.0]]))]
    symbols, x, types = molecule_data(tmp_path, extra=argon)
    run = lammps(f"""
units metal
boundary f f f
atom_style atomic
read_data mol.data
pair_style hybrid/overlay concord {POTENTIAL} precision 64 lj/cut 8.0
pair_coeff * * concord {' '.join(types)} NULL
pair_coeff * * lj/cut 0.0 1.0
pair_coeff {len(types) + 1} {len(types) + 1} lj/cut 0.0104 3.4
compute pc all pair concord
compute pl all pair lj/cut
thermo_style custom step pe c_pc c_pl
run 0
print "RESULT parts $(pe:%.17g) $(c_pc:%.17g) $(c_pl:%.17g)"
write_dump all custom dump.final id fx fy fz modify format float %.17g sort id
""", tmp_path)
    pe, concord, lj = run.result("parts")
    ref = Model(POTENTIAL).compute([element_number(s) for s in symbols], x)
    assert relative(concord, ref["energy"]) < 1e-10
    assert abs(pe - concord - lj) < 1e-9
    assert lj < 0.0  # the argon pair sits near the Lennard-Jones minimum
    dump = run.dump()
    n = len(symbols)
    forces = np.column_stack([dump["fx"], dump["fy"], dump["fz"]])
    assert relative(forces[:n], ref["forces"]) < 1e-10


def test_hybrid_overlay_pressure(tmp_path):
    """hybrid/overlay with pair zero leaves energy and pressure unchanged on both paths (the
    virial is neither lost nor counted twice)."""
    symbols, x, _, length = molecule_box(qm9_molecules()[:1], 1, 10.5, seed=1)
    types = sorted(set(symbols))
    write_data(tmp_path / "box.data", symbols, x, [0.0] * 3, [length] * 3, types)
    results = {}
    for path in ("", "cell no"):
        for style in ("plain", "hybrid"):
            if style == "plain":
                pair = f"pair_style concord {POTENTIAL} precision 64 {path}\npair_coeff * * {' '.join(types)}"
            else:
                pair = (f"pair_style hybrid/overlay concord {POTENTIAL} precision 64 {path} zero 5.0\n"
                        f"pair_coeff * * concord {' '.join(types)}\npair_coeff * * zero")
            run = lammps(f"""
units metal
boundary p p p
atom_style atomic
read_data {tmp_path / "box.data"}
{pair}
thermo_style custom step pe press pxx pyy pzz pxy pxz pyz
run 0
print "RESULT all $(pe:%.17g) $(pxx:%.17g) $(pyy:%.17g) $(pzz:%.17g) $(pxy:%.17g) $(pxz:%.17g) $(pyz:%.17g)"
""", tmp_path / f"{style}{path.replace(' ', '')}")
            results[(path, style)] = run.result("all")
    reference = results[("", "plain")]
    for key, value in results.items():
        assert relative(value, reference) < 1e-9, key
