"""What a potential's per-molecule energy error on the organic test classes is made of.

For each class file and model: the energy MAE per molecule (eV), its mean signed error (model −
label; a bias), and the MAE left after fitting one energy per element to the errors of the class
itself, leave-one-out (each molecule's offsets fitted on the other molecules): the part of the
error that no choice of per-element reference energies (`concord refit-reference`) can remove.
Float64 through the C ABI (needs CONCORD_LIB_DIR, as `make eval-potential` sets it).

Usage: python scripts/eval/energy_parts.py --model NAME=PATH [--model ...] [--classes gfn2_min md_300K ...]
"""
import argparse
import sys

import ase.io
import numpy as np

from potential import GROUPS, ROOT

sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "tests"))
from concord_c import Model  # noqa: E402

ELEMENTS = [1, 6, 7, 8, 9]


def parts(model, path):
    """(n, MAE, mean signed error, leave-one-out per-element-fit MAE) in eV of `model` on `path`."""
    frames = list(ase.io.iread(path, ":"))
    err = np.array([model.compute(a.numbers, a.positions)["energy"] - a.get_potential_energy() for a in frames])
    counts = np.array([[np.sum(a.numbers == z) for z in ELEMENTS] for a in frames], float)
    left = []
    for i in range(len(err)):
        others = np.arange(len(err)) != i
        offsets, *_ = np.linalg.lstsq(counts[others], err[others], rcond=None)
        left.append(err[i] - counts[i] @ offsets)
    return len(err), np.abs(err).mean(), err.mean(), np.abs(left).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH of a model file")
    ap.add_argument("--classes", nargs="+", default=["gfn2_min", "mmff_min", "md_300K", "noise_0.08"])
    a = ap.parse_args()
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
