"""Consistency checks of the bundled data sets (data/qm9-gfn2/ and data/qm9-gfn2/tiny/).

For each set present: every file parses (ASE for extended XYZ, RDKit for SDF); counts agree with
provenance.json and failures.tsv; all positions, energies and forces are finite and forces are
present with the right shape; no molecule is in both train and test; the SDF and XYZ files list
the same molecules with the same atoms in the same order (the three test minima files included),
and the SDF coordinates are the PM6 minima of the XYZ files; GFN2 minima have small forces.
If both sets exist, the tiny molecules must be in the full set with identical data.
Exits non-zero with a list of problems.

Usage: python scripts/data/check.py [--set {tiny,full,all}]
"""
import argparse
import collections
import csv
import gzip
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import config  # noqa: E402

problems = []


def fail(msg):
    problems.append(msg)


def read_xyz(path):
    import io
    import ase.io
    # Decompress first: ASE seeks per frame, which is quadratic on a gzip stream.
    with gzip.open(path, "rt") as fh:
        frames = ase.io.read(io.StringIO(fh.read()), ":", format="extxyz")
    out = []
    for k, a in enumerate(frames):
        where = f"{path.name} frame {k}"
        if "mol" not in a.info or "config" not in a.info:
            fail(f"{where}: missing mol/config")
        if a.calc is None or "energy" not in a.calc.results or "forces" not in a.calc.results:
            fail(f"{where}: energy or forces missing")
            continue
        e, f = a.get_potential_energy(), a.get_forces()
        if f.shape != (len(a), 3):
            fail(f"{where}: forces shape {f.shape}")
        if not (np.isfinite(e) and np.all(np.isfinite(f)) and np.all(np.isfinite(a.positions))):
            fail(f"{where}: non-finite values")
        if not e < 0:
            fail(f"{where}: energy {e} not negative (total GFN2 energy in eV expected)")
        if np.any(a.pbc):
            fail(f"{where}: periodic")
        out.append(a)
    return out


def read_sdf(path):
    from rdkit import Chem
    with gzip.open(path) as fh:
        mols = list(Chem.ForwardSDMolSupplier(fh, removeHs=False, sanitize=True))
    for k, m in enumerate(mols):
        if m is None:
            fail(f"{path.name} record {k}: does not parse")
            continue
        name = m.GetProp("_Name")
        if not m.HasProp("smiles") or not m.HasProp("qm9_index"):
            fail(f"{path.name} {name}: missing smiles/qm9_index fields")
        elif name != config.mol_name(int(m.GetProp("qm9_index"))):
            fail(f"{path.name} {name}: title does not match qm9_index")
        if any(a.GetSymbol() == "H" and a.GetDegree() != 1 for a in m.GetAtoms()):
            fail(f"{path.name} {name}: hydrogen without exactly one bond")
    return [m for m in mols if m is not None]


def symbols_of(m):
    return [a.GetSymbol() for a in m.GetAtoms()]


def check_set(d):
    print(f"check: {d}")
    files = ["train_structures.sdf.gz", "train_forces.extxyz.gz", "test_structures.sdf.gz",
             "test_pm6_min.extxyz.gz", "test_gfn2_min.extxyz.gz", "test_b3lyp.extxyz.gz",
             "test_forces.extxyz.gz", "provenance.json", "failures.tsv", "README.md"]
    for f in files:
        if not (d / f).exists():
            fail(f"{d}: missing {f}")
    if problems:
        return None
    prov = json.loads((d / "provenance.json").read_text())
    c = prov["counts"]
    try:
        tr_sdf, te_sdf = read_sdf(d / "train_structures.sdf.gz"), read_sdf(d / "test_structures.sdf.gz")
        tr_f = read_xyz(d / "train_forces.extxyz.gz")
        te = {k: read_xyz(d / f"test_{k}.extxyz.gz") for k in ("pm6_min", "gfn2_min", "b3lyp", "forces")}
    except Exception as e:  # noqa: BLE001 - any parse error is a problem to report
        fail(f"{d}: a file does not parse: {type(e).__name__}: {e}")
        return None

    tr_names = [m.GetProp("_Name") for m in tr_sdf]
    te_names = [m.GetProp("_Name") for m in te_sdf]
    if len(set(tr_names)) != len(tr_names) or len(set(te_names)) != len(te_names):
        fail(f"{d}: duplicate molecule in a structure file")
    both = set(tr_names) & set(te_names)
    if both:
        fail(f"{d}: {len(both)} molecules in both train and test, e.g. {sorted(both)[:3]}")
    if len(tr_sdf) != c["train_molecules"] or len(te_sdf) != c["test_molecules"]:
        fail(f"{d}: molecule counts differ from provenance")
    if len(tr_f) != c["train_frames"] or len(te["forces"]) != c["test_frames"]:
        fail(f"{d}: frame counts differ from provenance")

    n_rms = len(prov["frames"]["rms_angstrom"])
    for split, sdf, frames in (("train", tr_sdf, tr_f), ("test", te_sdf, te["forces"])):
        by_mol = {m.GetProp("_Name"): m for m in sdf}
        counts = collections.Counter(a.info["mol"] for a in frames)
        for a in frames:
            m = by_mol.get(a.info["mol"])
            if m is None:
                fail(f"{d} {split}: frame of {a.info['mol']} which has no structure")
            elif symbols_of(m) != a.get_chemical_symbols():
                fail(f"{d} {split}: {a.info['mol']} atom order differs between SDF and XYZ")
        extra = [n for n, k in counts.items() if k > n_rms + (split == "train")]
        if extra:
            fail(f"{d} {split}: too many frames for {extra[:3]}")
        cfgs = collections.Counter(a.info["config"] for a in frames)
        allowed = {"pm6_min", "thermal", "md"} if split == "train" else {"thermal", "md"}
        if set(cfgs) - allowed:
            fail(f"{d} {split}: unexpected config values {set(cfgs) - allowed}")
    pm6_train = {a.info["mol"]: a for a in tr_f if a.info["config"] == "pm6_min"}
    if list(pm6_train) != tr_names:
        fail(f"{d}: train_forces pm6_min frames do not list the train structures in order")
    for m in tr_sdf:
        a = pm6_train.get(m.GetProp("_Name"))
        if a is not None and np.abs(m.GetConformer().GetPositions() - a.positions).max() > 1e-3:
            fail(f"{d}: {m.GetProp('_Name')} SDF coordinates are not the PM6 minimum")

    for k in ("pm6_min", "gfn2_min", "b3lyp"):
        names = [a.info["mol"] for a in te[k]]
        if names != te_names:
            fail(f"{d}: test_{k} molecules differ from test_structures (order included)")
            continue
        for m, a in zip(te_sdf, te[k]):
            if symbols_of(m) != a.get_chemical_symbols():
                fail(f"{d}: test_{k} {a.info['mol']} atom order differs from the SDF")
            if a.info["config"] != k:
                fail(f"{d}: test_{k} {a.info['mol']} has config={a.info['config']}")
    for m, a in zip(te_sdf, te["pm6_min"]):
        if np.abs(m.GetConformer().GetPositions() - a.positions).max() > 1e-3:
            fail(f"{d}: {a.info['mol']} test SDF coordinates are not the PM6 minimum")
    fmax = max((np.abs(a.get_forces()).max() for a in te["gfn2_min"]), default=0.0)
    if fmax > 0.1:
        fail(f"{d}: GFN2 minimum with a force component of {fmax:.3f} eV/Å")

    with open(d / "failures.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    mol_fail = [r for r in rows if r["level"] == "molecule"]
    if len(mol_fail) != c["failed_molecules"]:
        fail(f"{d}: failures.tsv has {len(mol_fail)} molecule failures, provenance {c['failed_molecules']}")
    sel = prov["selection"]
    if len(mol_fail) + c["train_molecules"] + c["test_molecules"] != sel["n_train_selected"] + sel["n_test_selected"]:
        fail(f"{d}: selected molecules != bundled + failed")
    failed_names = {r["name"] for r in mol_fail}
    if failed_names & (set(tr_names) | set(te_names)):
        fail(f"{d}: a failed molecule is bundled")
    print(f"  {len(tr_sdf)} train / {len(te_sdf)} test molecules, {len(tr_f)} train / {len(te['forces'])} "
          f"test frames, {len(mol_fail)} failed molecules")
    return {"train": tr_f, "test": te, "names": (tr_names, te_names)}


def check_tiny_in_full(tiny, full):
    key = lambda a: (a.info["mol"], a.info["config"], round(float(a.positions[0, 0]), 6))
    full_train = {key(a): a for a in full["train"]}
    for a in tiny["train"]:
        b = full_train.get(key(a))
        if b is None or b.get_potential_energy() != a.get_potential_energy() \
                or not np.array_equal(a.get_forces(), b.get_forces()):
            fail(f"tiny frame {a.info['mol']} {a.info['config']} not identical in the full set")
    if not set(tiny["names"][1]) <= set(full["names"][1]):
        fail("tiny test molecules are not all in the full test set")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["tiny", "full", "all"], default="all")
    a = ap.parse_args()
    sets = {"tiny": config.TINY_DIR, "full": config.OUT_DIR}
    got = {}
    for name, d in sets.items():
        if a.set in (name, "all") and (d / "provenance.json").exists():
            got[name] = check_set(d)
        elif a.set == name:
            fail(f"{d}: no provenance.json (set not assembled)")
    if got.get("tiny") and got.get("full"):
        check_tiny_in_full(got["tiny"], got["full"])
    if problems:
        print(f"check: {len(problems)} problem(s):")
        for p in problems[:50]:
            print("  -", p)
        sys.exit(1)
    print("check: OK")


if __name__ == "__main__":
    main()
