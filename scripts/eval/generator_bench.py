"""The generator against RDKit, side by side (issue #15): graph -> 3D structure for the QM9 test
molecules, k samples each, on one core, same molecules, same k, same RMSD code.

Methods: Concord raw samples (`concord generate --samples k`), Concord relaxed on its own
potential (`--relax`), and RDKit ETKDGv3 + MMFF94 (k conformers, seeded, one thread). Each gets
the test SDF's graph with its stereo (Concord reads it from the SDF, RDKit from the molecule),
never its coordinates. Per molecule, against the reference structure (QM9: the B3LYP minimum;
`--set organic`: the GFN2 minimum of the organic test set's drug-like and everyday molecules of
10-30 heavy atoms, which no model trained on):

  heavy sym     heavy-atom RMSD minimised over the graph's automorphisms (RDKit GetBestRMS on the
                molecules without hydrogens): best of the k samples, and of the selected sample
                (Concord: the pipeline's rank 0; RDKit: the lowest MMFF94 energy)
  all atoms     Kabsch RMSD over all atoms in the test set's order (no permutation): best of k
  graph kept    fraction of all samples whose perceived bond graph is the test graph
  stereo right  fraction of all samples whose isomeric SMILES perceived from 3D matches the
                GFN2 minimum's (R/S and E/Z)
  time          wall time of the method for all molecules (Concord: the whole CLI call)

With a potential, a reference row bounds what relaxing on it can reach: the reference structures
themselves relaxed on the potential (the generation default, preconditioned L-BFGS to 0.05 eV/Å;
k = 1), i.e. how far the potential's own minima lie from the reference (`--no-floor` skips it).

`--gfn2` adds the GFN2 gap of the selected sample (E_GFN2(structure) - E_GFN2(xtb --opt tight
from it), cached in runs/eval-cache) and its GFN2 conformer energy (E_GFN2 of that relaxation
minus E_GFN2 of the reference structure's: an RMSD-free judge of the conformer chosen, since
each organic reference is the GFN2 relaxation of one ETKDG + MMFF conformer): minutes of xtb,
so off by default.

Usage: python scripts/eval/generator_bench.py [--model FILE] [--molecules N] [--samples K]
         [--set qm9|organic] [--out DIR] [--gfn2] [--no-relax] [--no-rdkit] [--potential FILE] [--steps N]
         [--relax-args "--precondition --fmax 0.05"] [--generate-args "--churn 5"] [--seeds S]
         (writes DIR/table.md, DIR/results.json)
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdMolAlign

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import graph  # noqa: E402
import inputs  # noqa: E402
import rdkit_baseline  # noqa: E402
from stats import rmsd_pair  # noqa: E402

DEFAULT_MODEL = common.ROOT / "examples/models/concord-generator.concord"
DEFAULT_POTENTIAL = common.ROOT / "examples/models/concord-qm9-gfn2.concord"
# Concord's seed i of `--seeds` is `--seed SEED_STRIDE * i` (molecule m then draws from seed + m,
# so the stride keeps every seed's molecules apart).
SEED_STRIDE = 100000


def run_concord(model, sdf, out, k, relax, potential=None, steps=None, relax_args="", generate_args=""):
    """{(mol, sample): positions}, {mol: rank-0 sample}, wall seconds of the CLI call."""
    cmd = [str(common.concord_binary()), "generate", "--model", str(model), "--graphs", str(sdf), "--out", str(out),
           "--samples", str(k)] + shlex.split(generate_args) + (["--relax"] + shlex.split(relax_args) if relax else [])
    if potential:
        cmd += ["--potential", str(potential)]
    if steps:
        cmd += ["--steps", str(steps)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    structures, selected = {}, {}
    for a in inputs.read_xyz(out):
        key = (a.info["mol"], int(a.info["sample"]))
        structures[key] = a.positions.copy()
        if int(a.info.get("rank", 1)) == 0:
            selected[key[0]] = key[1]
    return structures, selected, wall


def run_floor(refs, potential, out):
    """The reference structures relaxed on `potential` (`concord optimize`, the generation default
    relaxation): {(name, 0): positions}, {name: 0}, wall seconds."""
    import ase
    import ase.io
    start, relaxed = os.path.join(out, "reference.extxyz"), os.path.join(out, "reference-relaxed.extxyz")
    ase.io.write(start, [ase.Atoms(r.symbols, r.pos["reference"], info={"mol": r.name}) for r in refs])
    t0 = time.perf_counter()
    subprocess.run([str(common.concord_binary()), "optimize", "--model", potential, "--in", start, "--out", relaxed,
                    "--fmax", "0.05", "--precondition"], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    frames = ase.io.read(relaxed, ":")
    return {(r.name, 0): a.positions for r, a in zip(refs, frames)}, {r.name: 0 for r in refs}, wall


def run_rdkit(refs, k, seed):
    """The same for ETKDGv3 + MMFF94 (rdkit_baseline.conformers, as in the structure
    evaluation); the selected conformer has the lowest MMFF94 energy."""
    structures, selected = {}, {}
    t0 = time.perf_counter()
    for r in refs:
        energies = []
        confs, _reason, _not_converged = rdkit_baseline.conformers(r.mol, k, seed, energies)
        for s, pos in enumerate(confs):
            if pos is not None:
                structures[(r.name, s)] = pos
        if energies:
            selected[r.name] = int(np.argmin(energies))
    return structures, selected, time.perf_counter() - t0


def heavy_sym_rmsd(mol, pos, ref_pos):
    p, q = Chem.Mol(mol), Chem.Mol(mol)
    graph.set_positions(p, pos)
    graph.set_positions(q, ref_pos)
    return float(rdMolAlign.GetBestRMS(Chem.RemoveHs(p), Chem.RemoveHs(q)))


def molecule_metrics(r, samples, chosen):
    """Metrics of one molecule's samples ({sample: positions}) and its selected sample."""
    ref = r.pos["reference"]
    heavy = {s: heavy_sym_rmsd(r.mol, p, ref) for s, p in samples.items()}
    kept = [graph.connectivity(r.symbols, p) == r.bonds for p in samples.values()]
    stereo = [k and graph.stereo_smiles(r.mol, p) == r.stereo_smiles for k, p in zip(kept, samples.values())]
    return {
        "heavy_sym_best": min(heavy.values()) if heavy else None,
        "heavy_sym_selected": heavy.get(chosen),
        "all_best": min(rmsd_pair(p, ref, r.symbols)[1] for p in samples.values()) if samples else None,
        "graph_kept": kept,
        "stereo_right": stereo,
    }


def evaluate(name, refs, structures, selected, k, wall, gfn2):
    per_mol = {}
    for r in refs:
        samples = {s: structures[(r.name, s)] for s in range(k) if (r.name, s) in structures}
        m = molecule_metrics(r, samples, selected.get(r.name))
        if gfn2 and r.name in selected:
            gap, relaxed = gfn2_gap(r, structures[(r.name, selected[r.name])])
            _, ref_relaxed = gfn2_gap(r, r.pos["reference"])
            m["gfn2_gap_selected"] = gap
            m["gfn2_conformer_selected"] = None if None in (relaxed, ref_relaxed) else relaxed - ref_relaxed
        per_mol[r.name] = m
    return {"method": name, "k": k, "wall_s": wall, "molecules": per_mol,
            "missing": k * len(refs) - len(structures)}


_CACHE = []


def gfn2_gap(r, pos):
    """(E_GFN2(pos) - E_GFN2(xtb --opt tight from pos), E_GFN2(xtb --opt tight from pos)), eV;
    (None, None) when xtb fails."""
    import xtb
    import xtbcache
    if not _CACHE:
        _CACHE.append(xtbcache.Cache(common.DEFAULT_CACHE, xtb.version()))
    res = xtbcache.evaluate(_CACHE[0], r.symbols, pos)
    if not (res["sp"]["ok"] and res["sp_relaxed"] and res["sp_relaxed"]["ok"]):
        return None, None
    return res["sp"]["energy"] - res["sp_relaxed"]["energy"], res["sp_relaxed"]["energy"]


def median(xs):
    xs = [x for x in xs if x is not None]
    return float(np.median(xs)) if xs else None


def summary(res):
    """The table's numbers of one run: medians over molecules, fractions over samples, wall time."""
    mols = res["molecules"].values()
    return {
        "best": median([m["heavy_sym_best"] for m in mols]),
        "selected": median([m["heavy_sym_selected"] for m in mols]),
        "all_best": median([m["all_best"] for m in mols]),
        "kept": 100 * np.mean([x for m in mols for x in m["graph_kept"]]),
        "stereo": 100 * np.mean([x for m in mols for x in m["stereo_right"]]),
        "gap": median([m.get("gfn2_gap_selected") for m in mols]),
        "conformer": median([m.get("gfn2_conformer_selected") for m in mols]),
        "wall": res["wall_s"],
    }


def row(runs, n_mols):
    """One table row: each number the mean over `runs` (the seeds of one method); with several
    seeds the best-of-k and selected columns add their range over seeds."""
    sums = [summary(r) for r in runs]
    mean = {key: (None if any(x[key] is None for x in sums) else float(np.mean([x[key] for x in sums])))
            for key in sums[0]}
    f = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731

    def spread(key):
        if len(sums) == 1 or mean[key] is None:
            return f(mean[key])
        return f"{f(mean[key])} ({f(min(x[key] for x in sums))}–{f(max(x[key] for x in sums))})"
    return (f"| {runs[0]['method']} | {spread('best')} | {spread('selected')} | {f(mean['all_best'])} "
            f"| {mean['kept']:.1f} % | {mean['stereo']:.1f} % | {f(mean['gap'])} | {f(mean['conformer'])} "
            f"| {mean['wall']:.1f} s | {mean['wall'] / n_mols * 1000:.0f} ms |")


SIZE_BINS = [(1, 9), (10, 15), (16, 20), (21, 25), (26, 30), (31, 50)]


def size_table(rows, refs):
    """Graph kept by the molecules' heavy atoms (the failure axis of drug-sized molecules): per
    method, the fraction of its samples over every seed in each bin that holds molecules."""
    heavy = {r.name: r.mol.GetNumHeavyAtoms() for r in refs}
    bins = [b for b in SIZE_BINS if any(b[0] <= h <= b[1] for h in heavy.values())]
    lines = ["| method | " + " | ".join(f"{lo}–{hi} heavy atoms ({sum(lo <= h <= hi for h in heavy.values())})"
                                       for lo, hi in bins) + " |", "|---" * (len(bins) + 1) + "|"]
    for runs in rows:
        cells = []
        for lo, hi in bins:
            kept = [x for r in runs for name, m in r["molecules"].items() if lo <= heavy[name] <= hi
                    for x in m["graph_kept"]]
            cells.append(f"{100 * np.mean(kept):.0f} %" if kept else "–")
        lines.append(f"| {runs[0]['method']} | " + " | ".join(cells) + " |")
    return "Graph kept by heavy atoms (molecules per bin in brackets):\n\n" + "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--set", choices=["qm9", "organic"], default="qm9",
                    help="QM9 test molecules against their B3LYP minima (default), or the organic test set's "
                         "larger molecules against their GFN2 minima")
    ap.add_argument("--molecules", type=int, help="first N test molecules (default all)")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--seed", type=int, default=42, help="RDKit embedding seed")
    ap.add_argument("--seeds", type=int, default=1,
                    help="repeat Concord and RDKit with this many seeds and report the mean (and range) "
                         "over them: one seed's median best of 4 moves by about 0.01 Å")
    ap.add_argument("--out", default=str(common.ROOT / "runs/eval/generator"))
    ap.add_argument("--gfn2", action="store_true", help="GFN2 gap of each selected sample (xtb, slow)")
    ap.add_argument("--no-relax", action="store_true", help="skip the Concord --relax row")
    ap.add_argument("--no-floor", action="store_true", help="skip the reference-structures-relaxed-on-the-potential row")
    ap.add_argument("--no-rdkit", action="store_true", help="skip the RDKit row (e.g. comparing models)")
    ap.add_argument("--potential", default=str(DEFAULT_POTENTIAL),
                    help="relax and rank with this potential (concord generate --potential; default the "
                         "shipped potential); 'self' for the generator model's own energy head")
    ap.add_argument("--steps", type=int, help="noise levels of the sampler (concord generate --steps; default the generator's own)")
    ap.add_argument("--relax-args", default="",
                    help="more options of the relaxation (concord generate), e.g. \"--precondition --fmax 0.05\"")
    ap.add_argument("--generate-args", default="",
                    help="more options of both Concord rows (concord generate), e.g. \"--churn 5\"")
    a = ap.parse_args()
    if a.potential == "self":
        a.potential = None
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    if a.set == "organic":
        refs, ref_key, ref_name, set_name = inputs.load_organic_references(a.molecules), "gfn2_min", "GFN2", \
            "organic test molecules"
    else:
        refs, ref_key, ref_name, set_name = inputs.load_references("full", a.molecules), "b3lyp", "B3LYP", \
            "QM9 test molecules"
    for r in refs:
        r.pos["reference"] = r.pos[ref_key]
    # The models know neutral molecules (charge-separated groups such as nitro included).
    charged = [r.name for r in refs if Chem.GetFormalCharge(r.mol) != 0]
    refs = [r for r in refs if r.name not in charged]
    sdf = os.path.join(out, "graphs.sdf")
    w = Chem.SDWriter(sdf)
    for r in refs:
        w.write(r.mol)
    w.close()
    k = a.samples
    rows = []   # per method, its runs over the seeds

    def add(label, k_method, make, seeds):
        runs = []
        for i in range(seeds):
            s, sel, wall = make(i)
            runs.append(evaluate(label, refs, s, sel, k_method, wall, a.gfn2))
        rows.append(runs)
        print(row(runs, len(refs)), flush=True)

    for relax in [False] if a.no_relax else [False, True]:
        on = f"on {os.path.basename(a.potential)}" if a.potential else "on its potential"
        label = f"Concord, relaxed {on} (--relax {a.relax_args})".replace(" )", ")") if relax \
            else "Concord, raw samples"
        label += f" ({a.generate_args})" if a.generate_args else ""
        name = f"concord{'-relaxed' if relax else ''}"
        add(label, k, lambda i: run_concord(
            a.model, sdf, os.path.join(out, f"{name}{f'-seed{i}' if i else ''}.extxyz"), k, relax, a.potential,
            a.steps, a.relax_args, f"{a.generate_args} --seed {i * SEED_STRIDE}" if i else a.generate_args), a.seeds)
    if a.potential and not a.no_floor:
        label = f"reference: {ref_name} minima relaxed on {os.path.basename(a.potential)} (k = 1)"
        add(label, 1, lambda i: run_floor(refs, a.potential, out), 1)
    if not a.no_rdkit:
        add(f"RDKit {rdBase.rdkitVersion} ETKDGv3 + MMFF94", k, lambda i: run_rdkit(refs, k, a.seed + i), a.seeds)
    seeds = (f"; each number the mean over {a.seeds} seeds (Concord --seed {SEED_STRIDE} i, RDKit {a.seed} + i), "
             "best of k and selected with their range over seeds" if a.seeds > 1 else "")
    header = (f"{len(refs)} neutral {set_name} ({len(charged)} charged ones left out), k = {k} samples each, RMSD to the {ref_name} minimum (median over "
              f"molecules){seeds}; model {os.path.relpath(a.model, common.ROOT)}"
              + (f", relaxed and ranked on {os.path.relpath(a.potential, common.ROOT)}" if a.potential else "") + "\n\n"
              "| method | heavy atoms, symmetry-aware, best of k (Å) | heavy atoms, selected sample (Å) "
              "| all atoms, fixed order, best of k (Å) | graph kept | stereo right | GFN2 gap, selected (eV) "
              "| GFN2 conformer, selected (eV) | time | per molecule |\n|---|---|---|---|---|---|---|---|---|---|\n")
    if a.gfn2:
        header = header.replace("model ", "GFN2 gap = E_GFN2(selected) - E_GFN2(xtb --opt tight from it); GFN2 "
                                "conformer = E_GFN2(xtb --opt tight from the selected) - E_GFN2(xtb --opt tight from "
                                "the reference), below 0 when the selected sample lies in a lower GFN2 minimum; model ", 1)
    table = header + "\n".join(row(runs, len(refs)) for runs in rows) + "\n\n" + size_table(rows, refs)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"model": a.model, "samples": k, "seeds": a.seeds, "results": [r for runs in rows for r in runs]},
                  f, indent=1)
    print(table)


if __name__ == "__main__":
    main()
