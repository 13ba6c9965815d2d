"""Stereochemistry of generated structures, judged by RDKit: the fraction of stereocentres
(R/S) and stereogenic double bonds (E/Z) of the test molecules that generated structures get
right, for Concord (with the stereo read from the test SDF, and without it) and RDKit ETKDGv3 +
MMFF94, side by side on the same molecules with the same k.

The reference configuration is RDKit's perception from the test SDF's 3D coordinates; each
candidate structure gets the same graph with its own coordinates and RDKit's perception from
them (Chem.AssignStereochemistryFrom3D), so the referee is independent of Concord's own stereo
code. A molecule's best sample is the pipeline's rank 0 for Concord and the first conformer for
RDKit. Centres include those RDKit marks pseudo-asymmetric (r/s, e.g. cis/trans ring
substituents, which Concord perceives as ring centres relative to one another); they are
counted separately.

Usage: python scripts/eval/stereo.py [--molecules N] [--samples K] [--relax] [--out DIR]
(needs target/release/concord or target/runtime-only/release/concord; writes DIR/stereo.md)
"""
import argparse
import gzip
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Geometry import Point3D

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdkit_baseline  # noqa: E402
from common import concord_binary  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "data/qm9-gfn2/test_structures.sdf.gz"
GENERATOR = ROOT / "examples/models/concord-generator.concord"
POTENTIAL = ROOT / "examples/models/concord-qm9-gfn2.concord"


def perceive(mol, pos):
    """{atom: 'R'/'S'/'r'/'s'} and {bond index: 'E'/'Z'} of `mol`'s graph at `pos`."""
    m = Chem.Mol(mol)
    conf = m.GetConformer()
    for i, p in enumerate(pos):
        conf.SetAtomPosition(i, Point3D(*map(float, p)))
    Chem.AssignStereochemistryFrom3D(m, replaceExistingTags=True)
    # Bond labels first: FindMolChiralCenters re-perceives and clears them.
    bonds = {b.GetIdx(): {Chem.BondStereo.STEREOE: "E", Chem.BondStereo.STEREOZ: "Z"}[b.GetStereo()]
             for b in m.GetBonds() if b.GetStereo() in (Chem.BondStereo.STEREOE, Chem.BondStereo.STEREOZ)}
    centres = dict(Chem.FindMolChiralCenters(m, includeUnassigned=False, useLegacyImplementation=False))
    return centres, bonds


def read_frames(path):
    """{(mol name, sample): positions} of a `concord generate` output, and {mol name: sample}
    of each molecule's best (rank 0) sample."""
    import ase.io
    frames = ase.io.read(str(path), ":")
    best = {a.info["mol"]: int(a.info["sample"]) for a in frames if int(a.info["rank"]) == 0}
    return {(a.info["mol"], int(a.info["sample"])): a.positions for a in frames}, best


def flattened_sdf(src, dst):
    """The SDF with coordinates and parities zeroed: the graphs without stereo."""
    out = []
    with gzip.open(src, "rt") as fh:
        lines = fh.read().splitlines()
    k, left = 0, 0
    for line in lines:
        if k == 3:
            left = int(line[:3])
        elif k > 3 and left > 0:
            line = f"{0.0:10.4f}{0.0:10.4f}{0.0:10.4f}{line[30:39]}  0{line[42:]}"
            left -= 1
        out.append(line)
        k = 0 if line == "$$$$" else k + 1
    Path(dst).write_text("\n".join(out) + "\n")


def generate(graphs, out, k, relax, extra=()):
    cmd = [str(concord_binary()), "generate", "--model", str(GENERATOR), "--graphs", str(graphs),
           "--samples", str(k), "--seed", "1", "--out", str(out), *extra] + (
               ["--relax", "--potential", str(POTENTIAL)] if relax else [])
    t = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True)
    # Molecules that fail are named on stderr and left out of the file (counted as wrong).
    if not Path(out).exists():
        raise SystemExit(f"concord generate failed: {res.stderr[-2000:]}")
    for line in res.stderr.splitlines():
        if line.startswith("error"):
            print(line, file=sys.stderr)
    return time.time() - t


def score(refs, structures, k, best):
    """Counts of right / total for proper centres, pseudo-asymmetric centres and double bonds,
    over every sample; the molecules whose every sample is all right, and those whose best
    sample (`best[name]`, the pipeline's rank 0) is."""
    c = dict(centres=[0, 0], pseudo=[0, 0], bonds=[0, 0], molecules=[0, 0], best=[0, 0])
    for name, (mol, ref_c, ref_b) in refs.items():
        if not ref_c and not ref_b:
            continue
        all_right = True
        for s in range(k):
            right = True
            pos = structures.get((name, s))
            got_c, got_b = perceive(mol, pos) if pos is not None else ({}, {})
            for a, label in ref_c.items():
                key = "centres" if label.isupper() else "pseudo"
                ok = got_c.get(a) == label
                c[key][0] += ok
                c[key][1] += 1
                right &= ok
            for b, label in ref_b.items():
                ok = got_b.get(b) == label
                c["bonds"][0] += ok
                c["bonds"][1] += 1
                right &= ok
            all_right &= right
            if s == best.get(name, 0):
                c["best"][0] += right
                c["best"][1] += 1
        c["molecules"][0] += all_right
        c["molecules"][1] += 1
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--molecules", type=int, default=None, help="first N test molecules (default all)")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--relax", action="store_true", help="also Concord --relax")
    ap.add_argument("--out", default="runs/eval/stereo")
    ap.add_argument("--generate-args", default="",
                    help="more `concord generate` options for the Concord rows, e.g. '--redraws 0'")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with gzip.open(GRAPHS) as fh:
        mols = [m for m in Chem.ForwardSDMolSupplier(fh, removeHs=False)][: a.molecules]
    refs = {}
    for m in mols:
        ref_c, ref_b = perceive(m, m.GetConformer().GetPositions())
        refs[m.GetProp("_Name")] = (m, ref_c, ref_b)
    with tempfile.TemporaryDirectory() as tmp:
        graphs = Path(tmp) / "graphs.sdf"
        w = Chem.SDWriter(str(graphs))
        for m in mols:
            w.write(m)
        w.close()
        flat = Path(tmp) / "flat.sdf"
        with open(graphs, "rb") as fh, gzip.open(Path(tmp) / "graphs.sdf.gz", "wb") as gz:
            gz.write(fh.read())
        flattened_sdf(Path(tmp) / "graphs.sdf.gz", flat)
        rows = []
        runs = [("Concord raw, stereo from the SDF", graphs, False),
                ("Concord raw, no stereo given", flat, False)]
        if a.relax:
            runs.insert(1, ("Concord --relax, stereo from the SDF", graphs, True))
        for label, g, relax in runs:
            f = Path(tmp) / "gen.extxyz"
            t = generate(g, f, a.samples, relax, shlex.split(a.generate_args))
            label += f" ({a.generate_args})" if a.generate_args else ""
            structures, best = read_frames(f)
            rows.append((label, score(refs, structures, a.samples, best), t))
    t = time.time()
    rd = {}
    for m in mols:
        confs, _reason, _nc = rdkit_baseline.conformers(m, a.samples, 42)
        for s, pos in enumerate(confs):
            if pos is not None:
                rd[(m.GetProp("_Name"), s)] = pos
    rows.append(("RDKit ETKDGv3 + MMFF94", score(refs, rd, a.samples, {}), time.time() - t))

    def pct(x):
        return f"{100 * x[0] / x[1]:.1f} % ({x[0]}/{x[1]})" if x[1] else "—"

    n_c = sum(1 for _m, rc, _rb in refs.values() for v in rc.values() if v.isupper())
    n_b = sum(len(rb) for _m, _rc, rb in refs.values())
    table = [f"{len(mols)} QM9 test molecules ({n_c} R/S centres, {n_b} E/Z double bonds), "
             f"k = {a.samples} samples each, every sample counted; referee: RDKit's perception from 3D\n",
             "| method | R/S centres right | pseudo-asymmetric (r/s) right | E/Z bonds right | "
             "molecules with every sample right | molecules whose best sample is right | time (s) |",
             "|---|---|---|---|---|---|---|"]
    for label, c, t in rows:
        table.append(f"| {label} | {pct(c['centres'])} | {pct(c['pseudo'])} | {pct(c['bonds'])} | "
                     f"{pct(c['molecules'])} | {pct(c['best'])} | {t:.1f} |")
    text = "\n".join(table) + "\n"
    (out / "stereo.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
