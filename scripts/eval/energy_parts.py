"""What a potential's per-molecule energy error on the organic test classes is made of.

For each class file and model: the energy MAE per molecule (eV), its mean signed error (model −
label; a bias), and the MAE left after fitting one energy per element to the errors of the class
itself, leave-one-out (each molecule's offsets fitted on the other molecules): the part of the
error that no choice of per-element reference energies (`concord refit-reference`) can remove.
With `--relative FILE` (e.g. a training file), instead the error of each frame's energy relative to
its molecule's `gfn2_min` frame, per `config` (and `sigma`) of the first `--molecules` molecules:
whether the training itself fits what `make eval-potential`'s last column measures on test molecules.
Float64 through the C ABI (needs CONCORD_LIB_DIR, as `make eval-potential` sets it).

Usage: python scripts/eval/energy_parts.py --model NAME=PATH [--model ...] [--classes gfn2_min md_300K ...]
       python scripts/eval/energy_parts.py --model NAME=PATH [--model ...] --relative FILE [--molecules 40]
"""
import argparse
import itertools
import sys

import numpy as np

from potential import GROUPS, ROOT, frames, relative_errors

sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "tests"))
from concord_c import Model  # noqa: E402

ELEMENTS = [1, 6, 7, 8, 9]


def parts(model, path):
    """(n, MAE, mean signed error, leave-one-out per-element-fit MAE) in eV of `model` on `path`."""
    atoms = list(frames(path))
    err = np.array([model.compute(a.numbers, a.positions)["energy"] - a.get_potential_energy() for a in atoms])
    counts = np.array([[np.sum(a.numbers == z) for z in ELEMENTS] for a in atoms], float)
    left = []
    for i in range(len(err)):
        others = np.arange(len(err)) != i
        offsets, *_ = np.linalg.lstsq(counts[others], err[others], rcond=None)
        left.append(err[i] - counts[i] @ offsets)
    return len(err), np.abs(err).mean(), err.mean(), np.abs(left).mean()


def relative(model, path, molecules):
    """{config: (n, MAE, mean signed error) in eV} of E(frame) − E(its molecule's gfn2_min frame),
    model against label, over the frames of the first `molecules` molecules of `path`."""
    seen = []

    def wanted(a):
        if a.info["mol"] not in seen:
            seen.append(a.info["mol"])
        return len(seen) <= molecules

    rows = [(a.info["config"] + (f" {a.info['sigma']}" if "sigma" in a.info else ""), a.info["mol"],
             model.compute(a.numbers, a.positions)["energy"], a.get_potential_energy())
            for a in itertools.takewhile(wanted, frames(path))]
    minima = {mol: (e, ref) for cfg, mol, e, ref in rows if cfg == "gfn2_min"}
    errors = relative_errors(minima, [row for row in rows if row[0] != "gfn2_min"])
    return {cfg: (len(d), np.abs(d).mean(), np.mean(d)) for cfg, d in sorted(errors.items())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH of a model file")
    ap.add_argument("--classes", nargs="+", default=["gfn2_min", "mmff_min", "md_300K", "noise_0.08"])
    ap.add_argument("--relative", help="errors relative to each molecule's gfn2_min frame in this file instead")
    ap.add_argument("--molecules", type=int, default=40, help="with --relative: the first N molecules")
    a = ap.parse_args()
    if a.relative:
        print(f"{a.relative}, first {a.molecules} molecules\n\n| model | config | n | energy relative to the "
              "GFN2 minimum: MAE (eV) | mean signed (eV) |\n|---|---|---|---|---|")
        for spec in a.model:
            name, _, path = spec.partition("=")
            for cfg, (n, mae, mean) in relative(Model(path, precision=64), a.relative, a.molecules).items():
                print(f"| {name} | {cfg} | {n} | {mae:.3f} | {mean:+.3f} |", flush=True)
        return
    print("| model | frames | n | energy MAE per molecule (eV) | mean signed (eV) | "
          "MAE after a per-element fit on the class itself, leave-one-out (eV) |\n|---|---|---|---|---|---|")
    for spec in a.model:
        name, _, path = spec.partition("=")
        model = Model(path, precision=64)
        for cls in a.classes:
            for g in GROUPS:
                f = ROOT / "data" / "organic-gfn2" / "test" / g / f"{cls}.extxyz.gz"
                if f.exists():
                    n, mae, mean, left = parts(model, f)
                    print(f"| {name} | {g}: {cls} | {n} | {mae:.3f} | {mean:+.3f} | {left:.3f} |", flush=True)


if __name__ == "__main__":
    main()
