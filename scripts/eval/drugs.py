"""The shipped generator on well-known drugs it has never seen (scripts/eval/drugs.smi: H, C, N,
O, F, 10-41 heavy atoms), against RDKit ETKDGv3 + MMFF94, same molecules, k = 4 each: how many
samples keep the bond graph (raw and relaxed on the shipped potential), and whether each
molecule gets at least one such structure. One core; RDKit's molecule (explicit H, 3D from
seed 0 for its stereo) is the input of both, so atom orders agree.

"Graph kept" is the data pipeline's bond perception (scripts/data/graph.py, `connectivity`);
"sane" is Concord's own check (bond lengths per order and clashes; the `sane` key it writes).

Usage: python scripts/eval/drugs.py [--model M] [--potential P] [--samples 4] [--smiles FILE]
       [--out DIR] (writes DIR/table.md); --smiles scripts/eval/charge_separated.smi judges
       molecules with formal charges (nitro, N-oxides) the same way.
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rdkit import Chem

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import graph  # noqa: E402
import inputs  # noqa: E402
import rdkit_baseline  # noqa: E402

SMILES = common.EVAL_DIR / "drugs.smi"


def read_molecules(path):
    """[(name, RDKit molecule with explicit H and one embedded conformer)] of SMILES file `path`."""
    return [(name, common.embed(smiles, name)) for smiles, name in common.read_smiles_file(path)]


def concord(mols, sdf, out, k, model, potential, relax):
    """{name: [(positions, sane, chosen)] per sample}, wall seconds of the CLI call; `chosen`:
    the sample Concord ranks first (rank 0)."""
    cmd = [str(common.concord_binary()), "generate", "--model", model, "--potential", potential,
           "--graphs", str(sdf), "--out", str(out), "--samples", str(k)] + (["--relax"] if relax else [])
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    samples = {name: [] for name, _ in mols}
    for a in inputs.read_xyz(out):
        samples[a.info["mol"]].append((a.positions.copy(), bool(a.info["sane"]), int(a.info["rank"]) == 0))
    return samples, wall


def rdkit(mols, k):
    """As `concord`; `chosen`: the conformer of lowest MMFF94 energy."""
    t0 = time.perf_counter()
    samples = {}
    for name, mol in mols:
        energies = []
        confs, _, _ = rdkit_baseline.conformers(mol, k, 42, energies)
        confs = [p for p in confs if p is not None]
        best = min(range(len(confs)), key=energies.__getitem__) if confs else None
        samples[name] = [(p, None, i == best) for i, p in enumerate(confs)]
    return samples, time.perf_counter() - t0


def gfn2_gaps(mols, samples):
    """{name: (E_GFN2(chosen) - E_GFN2(its xtb --opt tight relaxation), E_GFN2 of that relaxation)}
    (eV), None where xtb fails."""
    import xtb
    import xtbcache
    cache = xtbcache.Cache(common.DEFAULT_CACHE, xtb.version())
    out = {}
    for name, mol in mols:
        symbols = [at.GetSymbol() for at in mol.GetAtoms()]
        chosen = [p for p, _, c in samples[name] if c]
        res = xtbcache.evaluate(cache, symbols, chosen[0]) if chosen else None
        ok = res and res["sp"]["ok"] and res["sp_relaxed"] and res["sp_relaxed"]["ok"]
        out[name] = (res["sp"]["energy"] - res["sp_relaxed"]["energy"], res["sp_relaxed"]["energy"]) if ok else None
    return out


def gfn2_table(mols, runs, gaps):
    """Per molecule and method: the chosen structure's GFN2 gap, and how far the GFN2 minimum it
    relaxes to lies above the lowest such minimum of the methods (eV)."""
    lines = ["", "Per molecule, GFN2 gap of the chosen structure / its GFN2 minimum above the lowest of the "
             "methods' (eV):", "", "| molecule | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    for name, _ in mols:
        got = [gaps[l][name] for l in runs]
        low = min((g[1] for g in got if g), default=None)
        lines.append(f"| {name} | " + " | ".join(
            f"{g[0]:.3f} / {g[1] - low:.3f}" if g else "–" for g in got) + " |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(common.ROOT / "examples/models/concord-generator.concord"))
    ap.add_argument("--potential", default=str(common.ROOT / "examples/models/concord-qm9-gfn2.concord"))
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--smiles", default=str(SMILES), help="'SMILES name' per line, # comments")
    ap.add_argument("--gfn2", action="store_true",
                    help="also the GFN2 gap (xtb) of each method's chosen structure: Concord's rank 0, "
                         "RDKit's lowest MMFF energy")
    ap.add_argument("--out", default=str(common.ROOT / "runs/eval/drugs"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    smiles = Path(a.smiles).resolve()
    mols = read_molecules(smiles)
    sdf = os.path.join(a.out, "drugs.sdf")
    with Chem.SDWriter(sdf) as w:
        for _, mol in mols:
            w.write(mol)
    runs = {
        "Concord, raw": concord(mols, sdf, os.path.join(a.out, "raw.extxyz"), a.samples, a.model, a.potential, False),
        "Concord, relaxed": concord(mols, sdf, os.path.join(a.out, "relaxed.extxyz"), a.samples, a.model,
                                    a.potential, True),
        "RDKit ETKDGv3 + MMFF94": rdkit(mols, a.samples),
    }
    heavy = {name: mol.GetNumHeavyAtoms() for name, mol in mols}
    symbols = {name: [at.GetSymbol() for at in mol.GetAtoms()] for name, mol in mols}
    bonds = {name: graph.bond_set(mol) for name, mol in mols}
    kept = {label: {name: [graph.connectivity(symbols[name], p) == bonds[name] for p, _, _ in s]
                    for name, s in samples.items()} for label, (samples, _) in runs.items()}
    lines = [f"{len(mols)} drugs ({os.path.relpath(smiles, common.ROOT)}), k = {a.samples}; graph kept per molecule "
             f"(samples of k); model {os.path.relpath(a.model, common.ROOT)}, potential "
             f"{os.path.relpath(a.potential, common.ROOT)}", "",
             "| molecule | heavy atoms | " + " | ".join(runs) + " |", "|---|---|" + "---|" * len(runs)]
    for name, _ in mols:
        lines.append(f"| {name} | {heavy[name]} | " + " | ".join(f"{sum(kept[l][name])}/{a.samples}" for l in runs) + " |")
    lines.append("| **molecules with a structure that keeps the graph** | | " + " | ".join(
        f"{sum(any(v) for v in kept[l].values())} of {len(mols)}" for l in runs) + " |")
    lines.append("| samples that keep the graph | | " + " | ".join(
        f"{sum(sum(v) for v in kept[l].values())} of {a.samples * len(mols)}" for l in runs) + " |")
    sane = {l: sum(s for v in runs[l][0].values() for _, s, _ in v if s) for l in runs if l.startswith("Concord")}
    lines.append("| samples Concord's check calls sane | | " + " | ".join(
        f"{sane[l]}" if l in sane else "–" for l in runs) + " |")
    lines.append("| time per molecule | | " + " | ".join(f"{1000 * w / len(mols):.0f} ms" for _, w in runs.values()) + " |")
    if a.gfn2:
        gaps = {l: gfn2_gaps(mols, runs[l][0]) for l in runs}
        lines.append("| median GFN2 gap of the chosen structure (eV) | | " + " | ".join(
            f"{np.median([g[0] for g in gaps[l].values() if g is not None]):.3f}" for l in runs) + " |")
        lines += gfn2_table(mols, runs, gaps)
    table = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
