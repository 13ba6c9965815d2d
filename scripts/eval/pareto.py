"""Pareto table of potential sizes (issue #16): accuracy against cost per call.

Trains one potential per size (features F x message-passing layers L) from scratch with the same
recipe and the same number of optimiser steps on the shipped potential's data (the datasets of
its last training config, SHIPPED_CONFIG), then reports for each: force MAE against GFN2-xTB on the organic test classes
(GFN2 minima, GFN2-MD at 300 K, 0.08 Å noise) and the QM9 test split, the energy MAE at minima
after the reference refit, and the native runtime's median time of one energy + forces call
(float32, one thread, through the C ABI) on QM9 test molecules and per atom of liquid ethanol. A fixed step budget is what the
comparison holds equal; the shipped model (trained for far longer) is a row of its own.

Training is resumable: rerun the same command and each size continues from its checkpoint
(`concord train` semantics); finished sizes are not retrained.

Writes table.md, table.json and pareto.png under --out.

Usage: python scripts/eval/pareto.py [--sizes 32x2,64x2,64x3,96x3] [--steps 2400]
         [--out runs/eval/pareto] [--shipped examples/models/concord-qm9-gfn2.concord]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CONCORD = ROOT / "target" / "release" / "concord"
sys.path.insert(0, str(ROOT / "scripts" / "eval"))
sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "tests"))
from potential import evaluate  # noqa: E402

# The shipped potential's last training config: its datasets are the data every size trains on.
SHIPPED_CONFIG = ROOT / "configs" / "experiments" / "potential-organic-8.toml"
TEST_ROWS = {  # column -> files pooled per column
    "minima": [f"data/organic-gfn2/test/{g}/gfn2_min.extxyz.gz" for g in ("druglike", "everyday")],
    "md_300K": [f"data/organic-gfn2/test/{g}/md_300K.extxyz.gz" for g in ("druglike", "everyday")],
    "noise_0.08": [f"data/organic-gfn2/test/{g}/noise_0.08.extxyz.gz" for g in ("druglike", "everyday")],
    "qm9": ["data/qm9-gfn2/test_forces.extxyz.gz"],
}
TIMING_FILE = "data/qm9-gfn2/test_gfn2_min.extxyz.gz"


def config_text(features, layers, steps, out_dir):
    """The training config of one size: the recipe every size shares (from scratch)."""
    epochs = 6
    shipped = tomllib.loads(SHIPPED_CONFIG.read_text())
    sets = "\n".join(
        f'[[dataset]]\nname = "{d["name"]}"\npath = "{(SHIPPED_CONFIG.parent / d["path"]).resolve()}"\n'
        f'level = "{d["level"]}"\ntasks = {json.dumps(d["tasks"])}\n' for d in shipped["dataset"])
    return f"""# Written by scripts/eval/pareto.py: size {features}x{layers}, {steps} steps from scratch.
output = "{out_dir}"

[model]
features = {features}
layers = {layers}
cutoff = 5.0
radial_basis = 16

[training]
seed = 11
epochs = {epochs}
steps_per_epoch = {max(1, steps // epochs)}
max_minutes = 240.0
batch_size = 16
learning_rate = 2e-3
final_learning_rate = 5e-5
energy_weight = 100.0
force_weight = 10.0
validation_fraction = 0.05
precision = "float32"
threads = 1
checkpoint_minutes = 2.0
refit_reference = true

{sets}"""


def train(features, layers, steps, out):
    """Trains (or resumes) one size; returns (model path, training seconds recorded)."""
    run = out / f"F{features}xL{layers}"
    model = run / "model.concord"
    run.mkdir(parents=True, exist_ok=True)
    if not model.exists():
        cfg = run / "config.toml"
        cfg.write_text(config_text(features, layers, steps, run))
        t0 = time.time()
        subprocess.run([str(CONCORD), "train", "--config", str(cfg)], check=True)
        (run / "wall_seconds.txt").write_text(f"{time.time() - t0:.0f}\n")
    wall = run / "wall_seconds.txt"
    return model, float(wall.read_text()) if wall.exists() else None


def median_call_seconds(m, numbers, positions, cell=None, reps=30):
    """Median seconds of one energy + forces call of the loaded C-ABI model `m` (only energy
    and forces requested) on one system; `cell` (rows = lattice vectors, Å) makes it periodic."""
    z = np.ascontiguousarray(numbers, dtype=np.int32)
    x = np.ascontiguousarray(positions, dtype=np.float64)
    c = None if cell is None else np.ascontiguousarray(cell, dtype=np.float64)
    e, f = np.zeros(1), np.zeros((len(z), 3))
    args = (m._handle, len(z), z, x, None if c is None else c.ctypes.data, None, e.ctypes.data,
            f.ctypes.data, None, None, None)
    m._check(m._lib.concord_compute(*args))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        m._lib.concord_compute(*args)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def ethanol_box():
    """Liquid ethanol at 0.79 g/cm3, 1,125 atoms (the LAMMPS benchmark's smallest box):
    (atomic numbers, positions, cell)."""
    from ase.build import molecule
    from ase.data import atomic_numbers
    from harness import molecule_box
    sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "bench"))
    from bench import ETHANOL_SPACING
    symbols, x, _, length = molecule_box([molecule("CH3CH2OH")], 5, ETHANOL_SPACING, seed=2, min_gap=1.5)
    return [atomic_numbers[s] for s in symbols], x, np.eye(3) * length


def measure(name, model, frames, box):
    """One table row's numbers."""
    files = [ROOT / p for ps in TEST_ROWS.values() for p in ps]
    metrics = evaluate(model, [p for p in files if p.exists()])
    row = {"name": name, "model": str(model)}
    for col, paths in TEST_ROWS.items():
        got = [metrics[str(ROOT / p)] for p in paths if str(ROOT / p) in metrics]
        n = sum(g["n_force_components"] for g in got)
        row[f"{col}_force_mae"] = sum(g["force_mae"] * g["n_force_components"] for g in got) / max(n, 1)
    minima = [metrics[str(ROOT / p)] for p in TEST_ROWS["minima"]]
    row["minima_energy_mae"] = sum(g["energy_mae"] * g["n_energies"] for g in minima) / sum(
        g["n_energies"] for g in minima)
    from concord_c import Model
    m = Model(model, precision=32)  # float32, native CPU
    row["call_us"] = 1e6 * float(np.median([median_call_seconds(m, a.numbers, a.positions) for a in frames]))
    row["liquid_us_per_atom"] = 1e6 * median_call_seconds(m, *box, reps=5) / len(box[0])
    return row


def table(rows, steps):
    lines = [f"Force MAE against GFN2-xTB (meV/Å), energy MAE at minima (eV per molecule, after the "
             f"reference refit), native float32 energy + forces per call (µs, median over QM9 test "
             f"molecules, one thread; and per atom of a 1,125-atom periodic box of liquid ethanol at 0.79 g/cm3). Sizes trained from scratch for {steps} steps (batch 16).", "",
             "| model | train (min) | minima | md_300K | noise 0.08 Å | QM9 test | "
             "energy at minima | µs per call | liquid ethanol, µs per atom |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        train_min = "" if r["train_s"] is None else f"{r['train_s'] / 60:.0f}"
        lines.append(
            f"| {r['name']} | {train_min} | {1000 * r['minima_force_mae']:.0f} | "
            f"{1000 * r['md_300K_force_mae']:.0f} | {1000 * r['noise_0.08_force_mae']:.0f} | "
            f"{1000 * r['qm9_force_mae']:.0f} | {r['minima_energy_mae']:.3f} | {r['call_us']:.0f} | {r['liquid_us_per_atom']:.1f} |")
    return "\n".join(lines) + "\n"


def plot(rows, steps, path):
    """Force MAE (minima and 0.08 Å noise) against µs per call, one point per size."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for col, marker in (("minima_force_mae", "o"), ("noise_0.08_force_mae", "s")):
        xs = [r["call_us"] for r in rows]
        ys = [1000 * r[col] for r in rows]
        ax.scatter(xs, ys, marker=marker, label=col.replace("_force_mae", "").replace("_", " "))
        for r, x, y in zip(rows, xs, ys):
            ax.annotate(r["name"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("native float32 energy + forces, µs per QM9 molecule")
    ax.set_ylabel("force MAE against GFN2-xTB (meV/Å)")
    ax.set_title(f"sizes trained {steps} steps from scratch; shipped: long training", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="32x2,64x2,64x3,96x3", help="FxL,... (features x layers)")
    ap.add_argument("--steps", type=int, default=2400, help="optimiser steps per size")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "eval" / "pareto")
    ap.add_argument("--shipped", type=Path, default=ROOT / "examples" / "models" / "concord-qm9-gfn2.concord")
    ap.add_argument("--timing-molecules", type=int, default=40)
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import ase.io
    frames = ase.io.read(ROOT / TIMING_FILE, f":{a.timing_molecules}")
    box = ethanol_box()
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in a.sizes.split(","):
        f, l = (int(v) for v in size.lower().split("x"))
        model, wall = train(f, l, a.steps, a.out.resolve())
        rows.append(measure(f"{f}x{l}", model, frames, box) | {"train_s": wall})
    if a.shipped:
        rows.append(measure("shipped (64x3)", a.shipped, frames, box) | {"train_s": None})
    text = table(rows, a.steps)
    (a.out / "table.md").write_text(text)
    (a.out / "table.json").write_text(json.dumps(rows, indent=1) + "\n")
    plot(rows, a.steps, a.out / "pareto.png")
    print(text)


if __name__ == "__main__":
    main()
