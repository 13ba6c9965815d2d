"""Steps per second of OpenMM MD with ConcordForce on the Reference and CPU platforms, beside
the bare model (concord_compute through the C ABI), for one 20-atom QM9 molecule: the first
20-atom frame of data/qm9-gfn2/tiny/train_forces.extxyz.gz (qm9_043664 at its PM6 minimum,
NCCCCCCCOHHHHHHHHHHH), the molecule the LAMMPS benchmark uses too. Writes a Markdown table."""

import argparse
import ctypes
import datetime
import gzip
import os
import pathlib
import time

import numpy as np
import openmm as mm
from openmm import app, unit
from openmmconcord import ConcordForce

ROOT = pathlib.Path(__file__).resolve().parents[3]
DATA = ROOT / "data/qm9-gfn2/tiny/train_forces.extxyz.gz"


def first_frame_with(n_atoms, path=DATA):
    """(name, symbols, positions in Å) of the first frame of `path` with `n_atoms` atoms."""
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    i = 0
    while i < len(lines):
        n = int(lines[i])
        if n == n_atoms:
            name = next(f.split("=")[1] for f in lines[i + 1].split() if f.startswith("mol="))
            rows = [line.split() for line in lines[i + 2 : i + 2 + n]]
            return name, [r[0] for r in rows], np.array([[float(v) for v in r[1:4]] for r in rows])
        i += n + 2
    raise ValueError(f"{path} has no frame of {n_atoms} atoms")


def md_steps_per_second(model, symbols, positions, precision, platform, steps):
    system = mm.System()
    for s in symbols:
        system.addParticle(app.Element.getBySymbol(s).mass)
    system.addForce(ConcordForce(str(model), symbols, precision))
    integrator = mm.VerletIntegrator(0.5 * unit.femtosecond)
    context = mm.Context(system, integrator, mm.Platform.getPlatformByName(platform))
    context.setPositions(positions * unit.angstrom)
    context.setVelocitiesToTemperature(300 * unit.kelvin, 1)
    integrator.step(10)
    start = time.perf_counter()
    integrator.step(steps)
    return steps / (time.perf_counter() - start)


def abi_calls_per_second(model, symbols, positions, precision, calls):
    lib = ctypes.CDLL(os.path.join(os.environ["CONCORD_LIB_DIR"], "libconcord.so"))
    handle = ctypes.c_void_p()
    assert lib.concord_model_load(str(model).encode(), b"cpu", precision, ctypes.byref(handle)) == 0
    z = np.array([app.Element.getBySymbol(s).atomic_number for s in symbols], dtype=np.int32)
    x = np.ascontiguousarray(positions)
    energy, forces = ctypes.c_double(), np.zeros_like(x)
    args = (
        handle,
        ctypes.c_int64(len(z)),
        z.ctypes.data_as(ctypes.c_void_p),
        x.ctypes.data_as(ctypes.c_void_p),
        None,
        None,
        ctypes.byref(energy),
        forces.ctypes.data_as(ctypes.c_void_p),
        None,
        None,
        None,
    )
    for _ in range(5):
        assert lib.concord_compute(*args) == 0
    start = time.perf_counter()
    for _ in range(calls):
        lib.concord_compute(*args)
    rate = calls / (time.perf_counter() - start)
    lib.concord_model_free(handle)
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=ROOT / "examples/models/concord-qm9-gfn2.concord")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--out", default=ROOT / "runs/bench/openmm.md")
    args = parser.parse_args()

    name, symbols, positions = first_frame_with(20)
    rows = []
    for precision in (32, 64):
        reference = md_steps_per_second(args.model, symbols, positions, precision, "Reference", args.steps)
        cpu = md_steps_per_second(args.model, symbols, positions, precision, "CPU", args.steps)
        bare = abi_calls_per_second(args.model, symbols, positions, precision, args.steps)
        rows.append(f"| {name} | 20 | float{precision} | {reference:.1f} | {cpu:.1f} | {bare:.1f} |")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    header = (
        f"OpenMM {mm.__version__} + ConcordForce, {pathlib.Path(args.model).name}, VerletIntegrator 0.5 fs "
        f"from 300 K, {args.steps} timed steps; {datetime.date.today()}, {os.cpu_count()} cores, load average "
        f"{load}, CONCORD_NUM_THREADS={os.environ.get('CONCORD_NUM_THREADS', '1 (default)')}."
    )
    columns = "| molecule | atoms | model precision | Reference steps/s | CPU steps/s | bare model calls/s (C ABI) |"
    table = "\n".join([header, "", columns, "|---|---|---|---|---|---|", *rows])
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(table + "\n")
    print(table)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
