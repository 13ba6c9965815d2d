"""Which k of many relaxed samples to keep (docs/results.md#qm9-gap): from `concord generate
--samples M --relax` on the QM9 benchmark molecules, the median over molecules of the best
heavy-atom RMSD to the B3LYP minimum among k structures kept by several rules, and how many
distinct conformers the first k samples hold; with `--set organic`, on the organic test
molecules against their GFN2 minima (GRAPHS.sdf: data/organic-gfn2/test_structures.sdf.gz
unzipped).

    concord generate --model examples/models/concord-generator.concord \
      --potential examples/models/concord-qm9-gfn2.concord --graphs GRAPHS.sdf \
      --out runs/s29/gen16-relaxed.extxyz --samples 16 --relax
    python scripts/eval/conformer_choice.py runs/s29/gen16-relaxed.extxyz [--k 4] [--set organic]

(GRAPHS.sdf: the benchmark's first 150 test graphs, e.g. the graphs.sdf that
generator_bench.py writes into its --out folder.)
"""
import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generator_bench  # noqa: E402
import inputs  # noqa: E402

DISTINCT = 0.1  # Å, heavy-atom RMSD between two conformers counted as different


def distinct_first(r, items, k):
    """The first k of `items` ((sample, (positions, energy, sane)) in order) that differ from
    every one kept before, topped up in order when fewer than k differ."""
    kept = []
    for s, it in items:
        if len(kept) < k and all(generator_bench.heavy_sym_rmsd(r.mol, it[0], q[0]) > DISTINCT for _, q in kept):
            kept.append((s, it))
    for s, it in items:
        if len(kept) < k and s not in [x for x, _ in kept]:
            kept.append((s, it))
    return [s for s, _ in kept]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("structures", help="relaxed samples (extxyz with mol, sample, energy, sane)")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--set", choices=["qm9", "organic"], default="qm9")
    args = ap.parse_args()
    if args.set == "organic":
        refs, key = {r.name: r for r in inputs.load_organic_references()}, "gfn2_min"
    else:
        refs, key = {r.name: r for r in inputs.load_references("full")}, "b3lyp"
    samples = collections.defaultdict(dict)
    for a in inputs.read_xyz(args.structures):
        samples[a.info["mol"]][int(a.info["sample"])] = (a.positions.copy(), a.get_potential_energy(),
                                                         bool(a.info.get("sane", True)))
    k, rows, counts = args.k, collections.defaultdict(list), collections.Counter()
    for name, by_sample in samples.items():
        r = refs[name]
        rmsd = {s: generator_bench.heavy_sym_rmsd(r.mol, it[0], r.pos[key]) for s, it in by_sample.items()}
        order = sorted(by_sample.items())
        by_energy = sorted(order, key=lambda x: (not x[1][2], x[1][1]))
        rows[f"samples 0-{k - 1}"].append(min(rmsd[s] for s, _ in order[:k]))
        rows[f"the first {k} distinct conformers"].append(min(rmsd[s] for s in distinct_first(r, order, k)))
        rows[f"the {k} lowest-energy distinct conformers"].append(
            min(rmsd[s] for s in distinct_first(r, by_energy, k)))
        rows[f"best of {2 * k} (bound)"].append(min(rmsd[s] for s, _ in order[:2 * k]))
        rows[f"best of all {len(order)} (bound)"].append(min(rmsd.values()))
        rows["the lowest-energy sample alone"].append(rmsd[by_energy[0][0]])
        reps = []
        for _, it in order[:k]:
            if all(generator_bench.heavy_sym_rmsd(r.mol, it[0], q) > DISTINCT for q in reps):
                reps.append(it[0])
        counts[len(reps)] += 1
    print(f"{len(samples)} molecules\n")
    print("| structures kept | heavy atoms, best, median (Å) |\n|---|---|")
    for label, xs in rows.items():
        print(f"| {label} | {np.median(xs):.3f} |")
    print(f"\ndistinct conformers among samples 0-{k - 1}: " +
          ", ".join(f"{n}: {counts[n]} molecules" for n in sorted(counts)))


if __name__ == "__main__":
    main()
