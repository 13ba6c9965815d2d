"""Benchmark of pair_style concord in the real LAMMPS: steps/s of an isolated 20-atom molecule,
µs/atom/step for periodic boxes of molecules and for liquid ethanol (0.79 g/cm3) from ~1,000 to
~10,000 atoms with the peak memory of the run, 1 vs 2 MPI ranks, and the share of the time
spent in the pair style. Writes a Markdown table to runs/bench/lammps.md and prints it."""

import argparse
import gzip
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from ase.build import molecule as ase_molecule
from ase.io import read

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from harness import (POTENTIAL, PLUGIN, ROOT, lammps, molecule_box, qm9_molecules,  # noqa: E402
                     write_data)

SPACING = 7.0  # Å between molecule centres
# Liquid ethanol: 46.07 g/mol at 0.79 g/cm3 is one molecule per 96.8 Å3, a cubic lattice
# 4.59 Å apart; random rotations keep atoms of different molecules >= 1.5 Å apart.
ETHANOL_SPACING = (46.07 / (0.79 * 0.602214)) ** (1 / 3)
ETHANOL_SIDES = (5, 7, 10)  # 1,125, 3,087 and 9,000 atoms
MOLECULE_20 = ROOT / "data" / "qm9-gfn2" / "tiny" / "train_forces.extxyz.gz"


def timing(output: str) -> dict:
    """Loop time, steps, atoms and the Pair share of the last run in a LAMMPS output."""
    loop = re.findall(r"Loop time of ([\d.e+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms",
                      output)[-1]
    pair = re.findall(r"^Pair\s+\|.*\|\s*([\d.]+)\s*$", output, re.M)[-1]
    return {"seconds": float(loop[0]), "procs": int(loop[1]), "steps": int(loop[2]),
            "atoms": int(loop[3]), "pair_share": float(pair) / 100}


def script(data: str, types: list, boundary: str, steps: int, options: str) -> str:
    """NVE for `steps` steps after a one-step warm-up run (model load, first call excluded)."""
    return f"""
units metal
boundary {boundary}
atom_style atomic
read_data {data}
pair_style concord {POTENTIAL} {options}
pair_coeff * * {' '.join(types)}
velocity all create 300 7 mom yes rot no
timestep 0.0005
fix 1 all nve
thermo {steps}
run 1
run {steps}
"""


def md(workdir: Path, data: str, types: list, boundary: str, steps: int, nprocs: int = 1,
       options: str = "") -> dict:
    """Times `steps` NVE steps after a one-step warm-up run (model load, first call excluded)."""
    run = lammps(script(data, types, boundary, steps, options), workdir, nprocs=nprocs)
    return timing(run.output)


def md_with_memory(workdir: Path, data: str, types: list, steps: int) -> dict:
    """`md` on one rank in a periodic box, plus the peak resident memory of the whole `lmp`
    process (MiB, from wait4), which includes the plugin's allocations."""
    (workdir / "in.lammps").write_text(f"plugin load {PLUGIN}\n"
                                       + script(data, types, "p p p", steps, "precision 32"))
    env = dict(os.environ, OMP_NUM_THREADS="1", CONCORD_NUM_THREADS="1")
    proc = subprocess.Popen(["lmp", "-nocite", "-in", "in.lammps", "-log", "log.lammps"],
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, f"lmp failed ({proc.returncode}):\n{output[-4000:]}"
    return dict(timing(output), peak_mib=usage.ru_maxrss / 1024)


def ethanol_rows(work: Path) -> list:
    """Liquid ethanol boxes on one rank: (label, ranks, atoms, speed, µs/atom/step, share)."""
    ethanol = ase_molecule("CH3CH2OH")
    rows = []
    for side in ETHANOL_SIDES:
        symbols, x, _, length = molecule_box([ethanol], side, ETHANOL_SPACING, seed=2,
                                             min_gap=1.5)
        types = sorted(set(symbols))
        data = f"ethanol{side}.data"
        write_data(work / data, symbols, x, [0.0] * 3, [length] * 3, types)
        t = md_with_memory(work, data, types, max(3, min(20, int(20000 / len(symbols)))))
        us = 1e6 * t["seconds"] / t["steps"] / t["atoms"]
        print(f"ethanol {t['atoms']} atoms: {us:.1f} µs/atom/step, peak {t['peak_mib']:.0f} MiB",
              flush=True)
        rows.append((f"liquid ethanol, {t['atoms']} atoms ({length:.1f} Å, 0.79 g/cm3), "
                     f"float32, peak RSS {t['peak_mib']:.0f} MiB", 1, t["atoms"],
                     f"{t['steps'] / t['seconds']:.2f} steps/s", f"{us:.1f}", t["pair_share"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench" / "lammps.md"))
    parser.add_argument("--sizes", default="500,1000,3000,10000",
                        help="approximate atom counts of the periodic boxes")
    args = parser.parse_args()
    work = ROOT / "runs" / "bench" / "lammps-work"
    rows = []

    with gzip.open(MOLECULE_20, "rt") as handle:
        mol = read(handle, index=76, format="extxyz")
    symbols = mol.get_chemical_symbols()
    types = sorted(set(symbols))
    write_data(work / "molecule.data", symbols, mol.positions, [-20.0] * 3, [20.0] * 3, types)
    for precision, label in (("auto", "default: float32 in dynamics"), ("64", "float64")):
        t = md(work, "molecule.data", types, "f f f", 1000, options=f"precision {precision}")
        rows.append((f"isolated {len(symbols)}-atom molecule, {label}", 1, t["atoms"],
                     f"{t['steps'] / t['seconds']:.0f} steps/s",
                     f"{1e6 * t['seconds'] / t['steps'] / t['atoms']:.1f}", t["pair_share"]))

    rows += ethanol_rows(work)
    molecules = qm9_molecules()
    per_molecule = sum(len(m) for m in molecules) / len(molecules)
    for size in [int(s) for s in args.sizes.split(",")]:
        per_side = max(2, round((size / per_molecule) ** (1 / 3)))
        symbols, x, _, length = molecule_box(molecules, per_side, SPACING, seed=1)
        types = sorted(set(symbols))
        data = f"box{size}.data"
        write_data(work / data, symbols, x, [0.0] * 3, [length] * 3, types)
        steps = max(2, min(50, int(20000 / len(symbols))))
        cases = [("1 rank, whole-system path", 1, "precision 32", steps)]
        if size == min(int(s) for s in args.sizes.split(",")):
            # The ghost-atom path (any rank count): with the exchange between layers (the
            # default) ghosts within one cutoff, without it (`exchange no`) within the
            # receptive field.
            cases += [("1 rank, ghost path (cell no)", 1, "precision 32 cell no", 10),
                      ("2 ranks, ghost path", 2, "precision 32", 10),
                      ("2 ranks, ghost path, LAMMPS pairs", 2, "precision 32 pairs lammps", 10),
                      ("2 ranks, ghost path, exchange no", 2, "precision 32 exchange no", 3)]
        if size == max(int(s) for s in args.sizes.split(",")):
            cases += [("2 ranks, ghost path", 2, "precision 32", steps)]
        for label, nprocs, options, n_steps in cases:
            t = md(work, data, types, "p p p", n_steps, nprocs=nprocs, options=options)
            us = 1e6 * t["seconds"] / t["steps"] / t["atoms"]
            print(f"box {t['atoms']} atoms, {label}: {us:.1f} µs/atom/step", flush=True)
            rows.append((f"box of {t['atoms']} atoms ({length:.1f} Å), {label}", nprocs,
                         t["atoms"], f"{t['steps'] / t['seconds']:.2f} steps/s", f"{us:.1f}",
                         t["pair_share"]))

    lines = [
        "# pair_style concord benchmark",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
        f"({os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the end) with "
        "`make bench-lammps` (plugins/lammps/bench/run.sh); shipped potential, NVE at 0.5 fs, "
        f"timed after a one-step warm-up; boxes: the 6 tiny-set QM9 molecules (PM6 minima) on a cubic lattice {SPACING} Å apart, randomly rotated; "
        f"liquid ethanol: ASE's ethanol on a cubic lattice {ETHANOL_SPACING:.2f} Å apart (0.79 g/cm3), randomly rotated, no two molecules closer than 1.5 Å.",
        "",
        "| system | MPI ranks | atoms | speed | µs/atom/step | share in pair style |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {100 * r[5]:.1f} % |" for r in rows]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
