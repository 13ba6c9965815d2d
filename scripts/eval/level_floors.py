"""How far the cheap levels' minima lie from the QM9 B3LYP minima (docs/results.md#qm9-gap): the
symmetry-aware heavy-atom RMSD (the generator benchmark's metric, RDKit GetBestRMS) of each QM9
test molecule's GFN2 and PM6 minimum to its B3LYP minimum. A potential trained on GFN2 cannot
relax a structure closer to the B3LYP minima than its level's own minima lie.

Usage: python scripts/eval/level_floors.py [--molecules N]   (default: the benchmark's first 150)
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generator_bench  # noqa: E402
import inputs  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--molecules", type=int, default=150)
    ap.add_argument("--threshold", type=float, default=0.106, help="Å; report the fraction below it (RDKit's median)")
    args = ap.parse_args()
    refs = inputs.load_references("full", args.molecules)
    print("| minima | median (Å) | mean (Å) | 75th percentile (Å) | below threshold |")
    print("|---|---|---|---|---|")
    for key in ("gfn2_min", "pm6_min"):
        xs = np.array([generator_bench.heavy_sym_rmsd(r.mol, r.pos[key], r.pos["b3lyp"]) for r in refs])
        print(f"| {key} | {np.median(xs):.3f} | {xs.mean():.3f} | {np.percentile(xs, 75):.3f} "
              f"| {100 * np.mean(xs < args.threshold):.0f} % |")


if __name__ == "__main__":
    main()
